"""What the features frame of a synthetic screening holds, column by column, and what reads each column.

For each column: its dtype and bytes a subject in this tree (and, with --baseline REF, in a git revision's
tree, generated in a child process with that code first on the path), and which parts of the explorer read
it: the criteria of the bundled trials (and so the sensitivity curves of their thresholds), table 1's key
variables (also Compare's table), and the baseline values the outcome enrolment takes from the screening.
Bytes scale with the number of subjects, so a 10^6 run gives the 10^7 frame within a few per cent.

    nice -n 10 .venv/bin/python benchmarks/memory_columns.py [--n 1e6] [--baseline main] [--out memory_columns]

Writes benchmarks/results/<out>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, checkout, machine

POPULATION, SEED = "t1d", 0


def child(n: int) -> dict:
    """{column: [dtype, bytes a subject]} of the generated features frame, plus the index."""
    from explorer.cohort.synthetic import generate_screening

    features = generate_screening(POPULATION, n, SEED, missing_reasons=False, compact=True).features
    out = {name: [str(features[name].dtype), features[name].memory_usage(deep=True, index=False) / n]
           for name in features.columns}
    out["(index: subject ids)"] = [str(features.index.dtype), features.index.memory_usage(deep=True) / n]
    return out


def run_child(code: Path, n: int | str, kind: str = "--child") -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, __file__, kind, str(n)], capture_output=True, text=True, cwd=code,
                          env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def readers() -> dict[str, list[str]]:
    """Which parts of the explorer read each variable."""
    from explorer import expr
    from explorer.cohort.synthetic.outcomes import BASELINE_FROM_SCREENING
    from explorer.engine.baseline import KEY_VARIABLES
    from explorer.trial import bundled_trials, load_trial

    read: dict[str, list[str]] = {}
    for trial_id in bundled_trials():
        trial = load_trial(trial_id)
        for criterion in trial.criteria:
            if criterion.computable:
                for name in sorted(expr.names(criterion.tree) - set(criterion.parameters)):
                    read.setdefault(name, []).append(f"{trial_id} {criterion.id}")
    for name in KEY_VARIABLES:
        read.setdefault(name, []).append("table 1 / compare")
    for name in BASELINE_FROM_SCREENING:
        read.setdefault(name, []).append("outcome enrolment")
    read["(index: subject ids)"] = ["everything (row order, ids)"]
    return read


def markdown(n: int, columns: dict[str, dict], read: dict[str, list[str]]) -> str:
    codes = list(columns)
    m = machine()
    lines = [f"# The features frame column by column (synthetic {POPULATION}, seed {SEED}, {n:,} subjects)", "",
             f"{m['machine']}, Python {m['python']} | run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | "
             "bytes a subject (x 10^7 = MB at 10^7 subjects)", "",
             "| column | " + " | ".join(f"{c}: dtype | {c}: bytes | {c}: MB at 10^7" for c in codes) + " | read by |",
             "|---|" + "---|---:|---:|" * len(codes) + "---|"]
    names = list(next(iter(columns.values())))
    totals = {c: 0.0 for c in codes}
    for name in names:
        cells = []
        for c in codes:
            dtype, size = columns[c].get(name, ["-", 0.0])
            totals[c] += size
            cells.append(f"{dtype} | {size:.1f} | {size * 10:,.0f}")
        who = read.get(name, [])
        shown = ", ".join(who[:4]) + (f" (+{len(who) - 4})" if len(who) > 4 else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {shown or 'no bundled criterion, table 1 or enrolment'} |")
    lines.append("| **total** | " + " | ".join(f"| **{totals[c]:.0f}** | **{totals[c] * 10:,.0f}**" for c in codes)
                 + " | |")
    return "\n".join(lines) + "\n"


# --- what an opened state holds, by object (--folder) ---------------------------------------------------

def _buffer_bytes(array, seen: set[int]) -> int:
    """Bytes of a NumPy array's memory, counted once however many arrays view it."""
    import numpy as np

    base = array
    while isinstance(getattr(base, "base", None), np.ndarray):
        base = base.base
    key = base.__array_interface__["data"][0] if isinstance(base, np.ndarray) else id(base)
    if key in seen or not isinstance(base, np.ndarray):
        return 0
    seen.add(key)
    return int(base.nbytes)


def _form(dtype) -> str:
    """How a column is held, in words: what its bytes a subject depend on."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return "number level codes" if dtype.categories.dtype == "float64" else "text level codes"
    if isinstance(dtype, pd.StringDtype):
        return "text"
    return str(dtype)


def held_objects(root, name: str = "state") -> dict[str, int]:
    """{path: bytes} of every NumPy array, pandas column / index and Arrow buffer reachable from `root`
    (attributes, dicts, sequences, dataclass fields), each buffer counted once, at the first path that reaches
    it. Python objects (strings of an object column) are counted by pandas' deep memory usage."""
    import dataclasses

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    held: dict[str, int] = {}
    buffers: set[int] = set()
    visited: set[int] = set()

    def add(path: str, size: int) -> None:
        if size:
            held[path] = held.get(path, 0) + size

    def pandas_array(path: str, values) -> None:
        if isinstance(values, np.ndarray):
            add(path, _buffer_bytes(values, buffers))
            if values.dtype == object:  # the Python objects themselves, beyond the pointers
                add(path, int(pd.Series(values, copy=False).memory_usage(deep=True, index=False)) - values.nbytes)
        elif isinstance(values, pd.Categorical):
            add(path, _buffer_bytes(values.codes, buffers))
            visit(path + ".categories", values.categories, 0)
        elif hasattr(values, "_pa_array"):  # Arrow-backed strings
            if id(values._pa_array) not in visited:
                visited.add(id(values._pa_array))
                add(path, int(values._pa_array.nbytes))
        elif hasattr(values, "_data") and hasattr(values, "_mask"):  # masked (boolean, Int64)
            add(path, _buffer_bytes(values._data, buffers) + _buffer_bytes(values._mask, buffers))
        elif hasattr(values, "_ndarray"):  # NumPy-backed extension (StringArray: Python strings)
            add(path, _buffer_bytes(values._ndarray, buffers))
            add(path, int(pd.Series(values._ndarray, copy=False).memory_usage(deep=True, index=False))
                - values._ndarray.nbytes)
        else:
            add(path, int(getattr(values, "nbytes", 0)))

    def visit(path: str, obj, depth: int) -> None:
        if obj is None or isinstance(obj, (str, bytes, int, float, bool, type)) or depth > 14:
            return
        if id(obj) in visited:
            return
        visited.add(id(obj))
        if isinstance(obj, np.ndarray):
            add(path, _buffer_bytes(obj, buffers))
        elif isinstance(obj, pd.DataFrame):
            for col in obj.columns:  # a table's columns summed by the form they are held in
                pandas_array(f"{path}[{_form(obj[col].dtype)}]", obj[col].array
                             if not isinstance(obj[col].dtype, np.dtype) else obj[col].to_numpy())
            visit(path + ".index", obj.index, depth + 1)
        elif isinstance(obj, pd.RangeIndex):
            return  # no array: start, stop and step
        elif isinstance(obj, (pd.Series, pd.Index)):
            pandas_array(path, obj.array if not isinstance(obj.dtype, np.dtype) else obj.to_numpy())
        elif isinstance(obj, pd.Categorical):
            pandas_array(path, obj)
        elif isinstance(obj, (pa.Array, pa.ChunkedArray, pa.Table, pa.RecordBatch)):
            add(path, int(obj.nbytes))
        elif isinstance(obj, dict):
            for key, value in list(obj.items()):
                visit(f"{path}[{key!r}]" if not isinstance(key, str) else f"{path}.{key}", value, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for i, value in enumerate(list(obj)):
                visit(f"{path}[{i}]", value, depth + 1)
        elif dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
            if type(obj).__module__.split(".")[0] not in ("explorer", "traitlets", "functools"):
                return  # library objects (a DuckDB connection, a logger) are not walked into
            fields = dict(getattr(obj, "__dict__", {}))
            for slot in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, slot):
                    fields[slot] = getattr(obj, slot)
            for key, value in fields.items():
                visit(f"{path}.{key}", value, depth + 1)

    visit(name, root, 0)
    return held


def folder_child(folder: str) -> dict:
    """A memory-engine state over a screening folder (as the dashboard opens it), what it holds by object."""
    from explorer.app.scenario import Scenario
    from explorer.app.state import ExplorerState
    from explorer.sources import DataSource

    state = ExplorerState(Scenario(trial="NCT06196996", data=DataSource("path", path=folder)), with_baseline=False)
    for criterion, on in (("I2", False), ("E3", False), ("I2", True)):  # the edits bench_memory makes
        state.toggle(criterion, on)
    state.set_parameter("I1", "age_min", 6.3)
    with open("/proc/self/status") as f:
        resident = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) * 1024
    return {"n": len(state.matrix.subject_ids), "resident": resident, "held": held_objects(state)}


def _group(path: str) -> str:
    """A path's class: the table or cache it belongs to (columns of one table together)."""
    import re

    path = re.sub(r"\[\d+\]", "[i]", path).replace("state._trait_values.matrix.backend.context.", "")
    return path.replace("state._trait_values.", "")


def folder_markdown(folder: str, runs: dict[str, dict]) -> str:
    labels = list(runs)
    n = next(iter(runs.values()))["n"]
    lines = [f"# What a memory-engine state over a screening folder holds, by object ({folder}, {n:,} subjects)", "",
             f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | load average {os.getloadavg()[0]:.1f} | "
             "NCT06196996 opened, three toggles, a threshold change; bytes a subject (x 10^7 = MB at 10^7 subjects); "
             "each buffer counted once, at the first path that reaches it", "",
             "| object | " + " | ".join(f"{c}: bytes a subject | {c}: MB at 10^7" for c in labels) + " |",
             "|---|" + "---:|---:|" * len(labels)]
    groups: dict[str, dict[str, int]] = {}
    for label, run in runs.items():
        for path, size in run["held"].items():
            groups.setdefault(_group(path), {}).setdefault(label, 0)
            groups[_group(path)][label] += size
    # what holds under 0.05 bytes a subject in every run (level tables, the funnel) is left out of the rows
    order = sorted((g for g in groups if max(groups[g].values()) >= 0.05 * n), key=lambda g: -max(groups[g].values()))
    for group in order:
        cells = [f"{groups[group].get(c, 0) / n:.2f} | {groups[group].get(c, 0) / n * 10:,.0f}" for c in labels]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    totals = [sum(runs[c]["held"].values()) / n for c in labels]
    lines.append("| **total held** | " + " | ".join(f"**{t:.1f}** | **{t * 10:,.0f}**" for t in totals) + " |")
    lines.append("| resident (VmRSS, whole process) | " + " | ".join(
        f"{runs[c]['resident'] / n:.1f} | {runs[c]['resident'] / n * 10:,.0f}" for c in labels) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6)
    parser.add_argument("--baseline", default=None, help="a git revision measured in the same run")
    parser.add_argument("--out", default="memory_columns")
    parser.add_argument("--folder", default=None, help="a screening folder: what a memory-engine state over it holds")
    args = parser.parse_args()
    codes = ([("baseline " + args.baseline, args.baseline)] if args.baseline else []) + [("this branch", None)]
    if args.folder:
        runs = {}
        for label, ref in codes:
            with checkout(ref) as code:
                runs[label] = run_child(code, args.folder, "--folder-child")
        (RESULTS / f"{args.out}.md").write_text(folder_markdown(args.folder, runs), encoding="utf-8")
        return
    n = int(args.n)
    columns = {}
    for label, ref in codes:
        with checkout(ref) as code:
            columns[label] = run_child(code, n)
    (RESULTS / f"{args.out}.md").write_text(markdown(n, columns, readers()), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--folder-child":
        print(json.dumps(folder_child(sys.argv[2])))
    else:
        main()
