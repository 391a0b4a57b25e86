"""`trial-explorer funnel` (explorer.engine.command.run_funnel): table, CSV and JSON output, errors."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from explorer.cohort.synthetic.trial_match import population_for
from explorer.engine import evaluate, final_counts, write_screening
from explorer.engine.command import run_funnel
from explorer.engine.random_cohort import random_screening
from explorer.trial import load_trial


def run(**kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_funnel(stream=out, errors=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("screening")
    write_screening(random_screening(600, seed=8), path)
    return path


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_table_output_on_a_screening_folder(folder, engine):
    code, out, err = run(trial="NCT06196996", data=folder, engine=engine)
    assert code == 0, err
    expected = final_counts(evaluate(load_trial("NCT06196996"), folder, engine="duckdb"))
    assert "Funnel" in out and "Per-criterion impact" in out
    assert f"Final: {expected['eligible']} eligible, {expected['possibly_eligible']} possibly eligible" in out
    assert "E14" in out


def test_json_and_csv_agree(folder):
    _, as_json, _ = run(trial="NCT01142050", data=folder, fmt="json")
    data = json.loads(as_json)
    assert data["trial"] == "NCT01142050" and data["subjects"] == 600
    assert [row["criterion"] for row in data["funnel"]][0] is None
    assert data["final"]["remaining"] == data["funnel"][-1]["remaining"]
    _, as_csv, _ = run(trial="NCT01142050", data=folder, fmt="csv")
    frame = pd.read_csv(io.StringIO(as_csv))
    assert frame["remaining"].tolist() == [row["remaining"] for row in data["funnel"]]
    assert frame["excluded_alone"].dropna().astype(int).tolist() == [row["excluded_alone"] for row in data["impact"]]


def test_small_cells_are_hidden(folder):
    _, out, _ = run(trial="NCT06196996", data=folder, fmt="json", min_cell=11)
    data = json.loads(out)
    counts = [v for row in data["funnel"] + data["impact"] for k, v in row.items()
              if k in ("eligible", "excluded", "failing", "excluded_alone") and v is not None]
    assert all(v == 0 or v >= 11 for v in counts)
    assert data["min_cell"] == 11
    _, table, _ = run(trial="NCT06196996", data=folder, min_cell=11)
    assert "<11" in table and "counts below 11 are hidden" in table


def test_synthetic_cohort():
    pytest.importorskip("explorer.cohort.synthetic.screening_table")
    code, out, err = run(trial="NCT01142050", synthetic=300, seed=2, fmt="json")
    assert code == 0, err
    assert json.loads(out)["source"] == "synthetic t2d n=300 seed=2"
    assert population_for(load_trial("NCT06196996")) == "t1d"


def test_errors_become_one_line_and_exit_code_1(folder, tmp_path):
    code, out, err = run(trial="NCT00000000", data=folder)
    assert code == 1 and out == "" and err.startswith("error: ")
    code, _, err = run(trial="NCT06196996", data=folder, synthetic=10)
    assert code == 1 and "either" in err
    code, _, err = run(trial="NCT06196996", data=folder, fmt="xml")
    assert code == 1 and "format" in err
    code, _, err = run(trial="NCT06196996", data=tmp_path / "missing")
    assert code == 1
