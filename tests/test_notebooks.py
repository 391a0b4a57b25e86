"""Every notebook in notebooks/ runs top to bottom, and is committed clean.

Each notebook is executed by nbclient (what nbmake runs) in a fresh python3 kernel, with the notebook's
folder as the working directory, as JupyterLab, Voilà and `pytest --nbmake notebooks/` do. A cell error
fails the test, and so does an error shown inside an Output widget: ipywidgets catches an exception
raised under `with output:` and only displays it there, so a broken figure would otherwise pass.
Nothing is written back; the notebooks stay exactly as committed.

Widget state is not stored (../shared/TESTING.md). nbclient 0.11 cannot be told so directly when a
notebook displays into an Output widget: with store_widget_state=False its Output-widget hook writes
into `widget_state[comm_id]`, which only exists when state is stored, and raises KeyError
(nbclient/output_widget.py, `output`). `_Client` therefore keeps only what Output widgets show, to look
for errors in it, and stores no widget state.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from project_paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 60  # seconds for any one cell: a cell that waits longer is stuck, not slow
# the whole notebook, as a guard against a kernel or widget message left waiting after the last cell
# (seen once: cells done in 8 s, then idle until a 600 s timeout); the test fails, it never hangs
NOTEBOOK_TIMEOUT = 240
# run after the last cell, in the same kernel: every explorer must show its state's current results and no
# state may hold an error (the explorer's own banner, which is not a cell error)
HEALTH_CHECK = """
import gc as _gc
from explorer.app.dashboard import Dashboard as _Dashboard
from explorer.app.state import ExplorerState as _State
_problems = []
for _o in _gc.get_objects():
    try:
        _is_explorer, _is_state = isinstance(_o, _Dashboard), isinstance(_o, _State)
    except ReferenceError:  # a dead weak proxy
        continue
    if _is_explorer:
        _problems += [f"explorer of {_o.state.trial.id}: {_p}" for _p in _o.health()]
    elif _is_state and _o.error:
        _problems.append(f"state of {_o.trial.id}: {_o.error}")
print("HEALTH", repr(_problems))
"""
# A notebook runs wherever the project is checked out: paths are relative to it or come from the package
ABSOLUTE_PATH = re.compile(r"""["'](/(work|home|root|tmp|Users|mnt)/|[A-Za-z]:\\)""")


def _ids(path: Path) -> str:
    return path.name


class _OutputsOnly(dict):
    """Stands in for nbclient's widget_state: an entry per Output widget, holding only its outputs."""

    def __missing__(self, comm_id: str) -> dict:
        return self.setdefault(comm_id, {})


class _Client(NotebookClient):
    def reset_execution_trackers(self) -> None:
        super().reset_execution_trackers()
        self.widget_state = _OutputsOnly()

    def set_widgets_metadata(self) -> None:
        """Store no widget state in the notebook (it is not written anyway)."""

    def widget_errors(self) -> list[dict]:
        return [out for entry in self.widget_state.values() for out in entry.get("outputs", [])
                if out.get("output_type") == "error"
                or (out.get("output_type") == "stream" and out.get("name") == "stderr")]

    def text_only_outputs(self) -> list[str]:
        """Output widgets (interactive outputs) that show only text where a figure or table belongs."""
        found = []
        for entry in self.widget_state.values():
            outputs = entry.get("outputs", [])
            if outputs and not any(o.get("output_type") in ("display_data", "execute_result") for o in outputs):
                found.append("".join(o.get("text", "") for o in outputs).strip()[:200])
        return found


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path: Path, record_property):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HEALTH_CHECK))
    client = _Client(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False, iopub_timeout=10,
                     shutdown_kernel="immediate", store_widget_state=False, record_timing=False)

    def stuck(*_):
        raise TimeoutError(f"{path.name} did not finish within {NOTEBOOK_TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(NOTEBOOK_TIMEOUT)
    started = time.perf_counter()
    try:
        client.execute(cwd=str(path.parent))
    except CellTimeoutError as err:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT} s\n{_strip_ansi(str(err))}", pytrace=False)
    except CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell failed\n{_strip_ansi(str(err))}", pytrace=False)
    except TimeoutError as err:
        pytest.fail(str(err), pytrace=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    record_property("seconds", round(time.perf_counter() - started, 1))
    errors = client.widget_errors()
    if errors:
        shown = "\n\n".join(_strip_ansi("\n".join(e.get("traceback", [])) or e.get("text", "")
                                        or f"{e['ename']}: {e['evalue']}") for e in errors)
        pytest.fail(f"{path.name}: an Output widget shows an error\n{shown}", pytrace=False)
    text_only = client.text_only_outputs()
    assert not text_only, f"{path.name}: interactive outputs show text where a figure belongs: {text_only}"
    health = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    assert health.strip() == "HEALTH []", f"{path.name}: after Run All, {health.strip()}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_committed_clean(path: Path):
    """No outputs, execution counts or widget state in the repository, a python3 kernel, no absolute paths."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    with_outputs = [i for i, cell in code if cell.get("outputs")]
    counted = [i for i, cell in code if cell.get("execution_count") is not None]
    assert not with_outputs, (f"{path.name}: cells {with_outputs} have outputs; clear them "
                              f"(jupyter nbconvert --clear-output --inplace notebooks/{path.name})")
    assert not counted, f"{path.name}: cells {counted} have execution counts; clear the outputs"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state in the notebook metadata; clear it"
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    assert kernel == "python3", f"{path.name}: kernelspec {kernel!r}; use python3"
    absolute = [i for i, cell in code if ABSOLUTE_PATH.search(cell.source)]
    assert not absolute, (f"{path.name}: cells {absolute} use an absolute path; use a path relative to the "
                          "notebook or a package resource")
