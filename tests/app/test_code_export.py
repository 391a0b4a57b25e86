"""Exported scenario code, run in a fresh Python process, gives the dashboard state's numbers exactly."""

from __future__ import annotations

from dataclasses import replace

import nbformat
import numpy as np
import pandas as pd
import pytest
from exported_code import run_exported
from project_paths import FIXTURES

from explorer.app.code_export import scenario_code, scenario_notebook
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.errors import DefinitionError
from explorer.trial import load_trial

FIXTURE_COHORT = FIXTURES / "cohort" / "canonical"

# runs each exported file unmodified (runpy) and reports the numbers it left behind
def _random_scenario(rng: np.random.Generator, trial_id: str, population: str) -> Scenario:
    trial = load_trial(trial_id)
    ids = [c.id for c in trial.criteria]
    scenario = Scenario(trial=trial_id, data=DataSource("synthetic", population, int(rng.integers(300, 1500)),
                                                        int(rng.integers(0, 100))))
    for criterion in trial.criteria:
        for name, p in criterion.parameters.items():
            if rng.random() < 0.4:
                steps = int((p.max - p.min) / (p.step or 1))
                scenario = scenario.with_setting(criterion.id, name, p.min + (p.step or 1) * int(rng.integers(0, steps + 1)))
        if rng.random() < 0.2:
            scenario = scenario.with_enabled(criterion.id, False)
        if rng.random() < 0.25:
            scenario = scenario.with_policy(criterion.id, str(rng.choice(["unknown", "pass", "fail"])))
    order = tuple(str(c) for c in rng.permutation(ids)[: int(rng.integers(0, len(ids)))])
    return replace(scenario, order=order, min_cell=int(rng.choice([0, 5, 11])),
                   cell_method=str(rng.choice(["round", "suppress"])))


def _scenarios() -> list[Scenario]:
    rng = np.random.default_rng(2024)
    made = [_random_scenario(rng, t, p) for t, p in [("NCT06196996", "t1d"), ("NCT01142050", "t2d")] * 3]
    # a real-data scenario: a canonical folder, read by the loaders as the dashboard reads it
    made.append(Scenario(trial="NCT06196996", data=DataSource("path", path=str(FIXTURE_COHORT)),
                         disabled=("I6",), policies=(("I2", "pass"),)))
    return made


def _frame(payload: dict) -> pd.DataFrame:
    return pd.DataFrame(payload["data"], columns=payload["columns"])


def test_exported_code_reproduces_the_state_numbers_for_random_scenarios(tmp_path):
    scenarios = _scenarios()
    results = run_exported(scenarios, tmp_path)
    for scenario, got in zip(scenarios, results, strict=True):
        state = ExplorerState(scenario, with_baseline=False)
        assert got["counts"] == state.counts, scenario.to_query()
        expected = state.protected(state.funnel)
        funnel = _frame(got["funnel"])
        assert list(funnel["criterion"].fillna("")) == list(expected["criterion"].fillna(""))
        for column in ("eligible", "possibly_eligible", "remaining", "excluded"):
            shown = pd.to_numeric(funnel[column]).to_numpy(dtype=float, na_value=np.nan)
            want = expected[column].to_numpy(dtype=float, na_value=np.nan)
            assert np.array_equal(shown, want, equal_nan=True), (scenario.to_query(), column)


def test_the_notebook_holds_the_same_code_and_is_valid():
    scenario = _scenarios()[1]
    notebook = nbformat.reads(scenario_notebook(scenario), as_version=4)
    nbformat.validate(notebook)
    code = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    script = scenario_code(scenario)
    for cell in (c.source for c in notebook.cells if c.cell_type == "code"):
        assert cell in script
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    assert "with_parameter" in code or not scenario.settings


def test_values_from_the_scenario_are_quoted_not_spliced_into_code():
    odd = '/tmp/a"\nimport os; os.remove("x")  #'
    code = scenario_code(Scenario(trial="NCT06196996", data=DataSource("path", path=odd)))
    compile(code, "<export>", "exec")  # still valid Python
    assert "\nimport os" not in code and repr(odd) in code


def test_a_trial_from_a_file_needs_its_file(tmp_path):
    trial = load_trial("NCT01142050").model_copy(update={"id": "MY1"})
    path = tmp_path / "my.yaml"
    path.write_text(trial.to_yaml())
    with pytest.raises(DefinitionError, match="pass the definition file"):
        scenario_code(Scenario(trial="MY1"), trial=trial)
    code = scenario_code(Scenario(trial="MY1"), trial_file=path)
    assert f"load_trial({str(path.resolve())!r})" in code


def test_a_relative_data_path_is_written_as_the_dashboard_reads_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TRIAL_EXPLORER_BASE_DIR", str(tmp_path))
    code = scenario_code(Scenario(trial="NCT06196996", data=DataSource("path", path="cohort/canonical")))
    assert f"path={str(tmp_path.resolve() / 'cohort' / 'canonical')!r}" in code


def test_the_downloaded_notebook_runs_and_prints_the_state_counts(tmp_path):
    import ast

    from nbclient import NotebookClient

    scenario = Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", 800, 5),
                        disabled=("I6",), order=("I5",), policies=(("E1", "fail"),)).with_setting("I4", "bmi_max", 35)
    notebook = nbformat.reads(scenario_notebook(scenario), as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.get("name") == "stdout")
    counts = ast.literal_eval(printed.strip().splitlines()[-1])  # the dict the last cell prints (our own code)
    assert counts == ExplorerState(scenario, with_baseline=False).counts
