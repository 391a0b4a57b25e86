"""--on-invalid on every command that loads subject data (funnel, outcomes): the API's choices and default.

"raise" (the default) stops with one line naming every invalid value (file, column, rows); "reject" makes
them unknown and lists on stderr how many and where. Before, funnel always rejected and outcomes always
raised, with no option."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from explorer.cli.entry import EXIT_INPUT, EXIT_OK, main
from explorer.cohort.synthetic import generate_outcomes, write_cohort
from explorer.sources import ON_INVALID
from explorer.trial import load_trial

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohort"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([*map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def broken_canonical(tmp_path) -> Path:
    """The canonical fixture with text in two HbA1c cells (rows 2 and 3 of measurements.csv)."""
    folder = Path(shutil.copytree(FIXTURES / "canonical", tmp_path / "canonical"))
    path = folder / "measurements.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[[0, 1], "value"] = ["seven", "7,5"]
    frame.to_csv(path, index=False)
    return folder


def test_the_option_offers_the_apis_choices_with_its_default(capsys):
    for command in ("funnel", "outcomes"):
        code, out, _ = run(capsys, command, "--help")
        assert code == EXIT_OK and "--on-invalid {raise,reject}" in out
    assert ON_INVALID[0] == "raise"
    code, _, err = run(capsys, "funnel", "NCT06196996", "--synthetic", 10, "--on-invalid", "guess")
    assert code == EXIT_INPUT and "invalid choice: 'guess'" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("choice", [None, "raise"])
def test_funnel_raises_naming_every_invalid_value(capsys, broken_canonical, choice):
    argv = ["funnel", "NCT06196996", "--data", broken_canonical] + (["--on-invalid", choice] if choice else [])
    code, out, err = run(capsys, *argv)
    assert code == EXIT_INPUT and out == "" and len(err.splitlines()) == 1
    assert "measurements.csv, column 'value', rows 2, 3" in err and "'seven', '7,5'" in err
    assert "--on-invalid reject" in err


def test_funnel_reject_counts_and_places_the_unknown_values_on_stderr(capsys, broken_canonical):
    code, out, err = run(capsys, "funnel", "NCT06196996", "--data", broken_canonical, "--on-invalid", "reject",
                         "--format", "json")
    assert code == EXIT_OK and json.loads(out)["subjects"] == 3
    assert "invalid: 2 in" in err and "measurements.csv column value (rows 2, 3): text in a numeric column" in err


def test_funnel_reject_through_duckdb_reports_the_same(capsys, broken_canonical):
    code, _, err = run(capsys, "funnel", "NCT06196996", "--data", broken_canonical, "--on-invalid", "reject",
                       "--engine", "duckdb")
    assert code == EXIT_OK
    assert "measurements.csv column value (rows 2, 3): text in a numeric column -> unknown" in err


def test_outcomes_takes_the_option_too(capsys, tmp_path):
    trial = load_trial("NCT01142050")
    cohort = generate_outcomes(20, "msc", visits_days=trial.visits, seed=3, cgm_readings=0)
    folder = tmp_path / "trial_data"
    write_cohort(cohort, folder, format="csv")
    path = folder / "measurements.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["variable"] == "hba1c", "value"] = frame.loc[frame["variable"] == "hba1c", "value"].str.replace(
        ".", ",", regex=False)
    frame.to_csv(path, index=False)
    code, out, err = run(capsys, "outcomes", "NCT01142050", "--data", folder)
    assert code == EXIT_INPUT and out == "" and "measurements.csv, column 'value', rows" in err
    assert "a decimal comma, as in '7,5', is not read" in err
    code, out, err = run(capsys, "outcomes", "NCT01142050", "--data", folder, "--on-invalid", "reject",
                         "--skip-missing", "--format", "json")
    assert code == EXIT_OK and json.loads(out)["subjects_in_data"] == 20
    assert "measurements.csv column value" in err and "text in a numeric column -> unknown" in err
