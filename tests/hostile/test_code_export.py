"""Exported scenario code (explorer/app/code_export.py) under hostile data paths and edited thresholds of every kind.

The script must run as written and give the dashboard state's numbers for any data source the dashboard opens
(a canonical folder, a screening folder), wherever it lies (spaces, quotes, a newline, `$`, backticks and
non-ASCII letters in its path), and the path must reach the code only as one quoted string constant.
"""

from __future__ import annotations

import ast
import io
import shutil
import tokenize

import numpy as np
import pytest
from exported_code import run_exported
from project_paths import FIXTURES

from explorer.app.code_export import scenario_code
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.engine import write_screening
from explorer.sources import open_source
from explorer.trial import load_trial

HOSTILE_FOLDER = "we'ird \"dir\" ü 名 $HOME `id`\nline two \\ end"

# runs each exported script as written and prints the counts it computed
def _every_kind_of_setting(scenario: Scenario, rng: np.random.Generator) -> Scenario:
    """Every parameter of the trial set to a random allowed value: values, counts, windows and ULN multiples."""
    for criterion in load_trial(scenario.trial).criteria:
        for name, p in criterion.parameters.items():
            step = p.step or (p.max - p.min) / 10 or 1
            scenario = scenario.with_setting(criterion.id, name,
                                             min(p.max, p.min + step * int(rng.integers(0, int((p.max - p.min) / step) + 1))))
    return scenario


@pytest.fixture
def sources(tmp_path):
    """The canonical fixture and its screening folder, both under a folder named as hostilely as Linux allows."""
    base = tmp_path / HOSTILE_FOLDER
    base.mkdir()
    shutil.copytree(FIXTURES / "cohort" / "canonical", base / "canonical")
    write_screening(open_source(DataSource("path", path=str(base / "canonical"))).screening, base / "screening")
    return {"canonical": base / "canonical", "screening": base / "screening"}


def test_exported_code_reproduces_the_numbers_of_a_screening_folder_and_a_canonical_folder_anywhere(sources, tmp_path):
    """A screening folder's script called the canonical loader on it (`load(path)`), which cannot tell what the
    folder holds: the script stopped with a DataError where the dashboard showed numbers."""
    rng = np.random.default_rng(7)
    scenarios = []
    for trial in ("NCT06196996", "NCT01142050"):
        for folder in sources.values():
            scenarios.append(_every_kind_of_setting(Scenario(trial=trial, data=DataSource("path", path=str(folder))),
                                                    rng))
    assert all(scenario.settings for scenario in scenarios), "every parameter was set"
    for scenario, got in zip(scenarios, run_exported(scenarios, tmp_path), strict=True):
        assert got["counts"] == ExplorerState(scenario, with_baseline=False).counts, scenario.to_query()


@pytest.mark.parametrize("kind", ["canonical", "screening"])
def test_the_data_path_reaches_the_code_only_as_one_string_constant(sources, kind):
    path = str(sources[kind])
    code = scenario_code(Scenario(trial="NCT06196996", data=DataSource("path", path=path)))
    tree = ast.parse(code)
    constants = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert [c.value for c in constants if c.value == path] == [path]
    # nothing of the path is code: outside strings and comments no part of it is left
    code_tokens = " ".join(t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                           if t.type not in (tokenize.STRING, tokenize.COMMENT))
    for part in ("HOME", "`", "line two", "名", "ü"):
        assert part not in code_tokens, part
