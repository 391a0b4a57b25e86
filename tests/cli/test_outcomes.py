"""`trial-explorer outcomes`: per-visit summaries of every outcome, on simulated enrolled subjects or a real
dataset with visits, as a table, CSV or JSON; clear one-line errors."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from explorer.cli.entry import main
from explorer.cohort.synthetic import generate_outcomes, write_cohort
from explorer.trial import load_trial


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["outcomes", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def islet_json():
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["outcomes", "NCT06196996", "--synthetic", "8000", "--seed", "1", "--format", "json"]) == 0
    return json.loads(out.getvalue())


def test_synthetic_json_has_every_outcome_per_visit(islet_json):
    trial = load_trial("NCT06196996")
    assert islet_json["model"] == "islet" and islet_json["screened"] == 8000
    assert 0 < islet_json["enrolled"] == islet_json["eligible"] == islet_json["subjects"]
    rows = pd.DataFrame(islet_json["outcomes"])
    assert list(pd.unique(rows["outcome"])) == [o.id for o in trial.outcomes]
    hba1c = rows[(rows["measure"] == "hba1c") & (rows["statistic"] == "value")]
    assert list(hba1c["visit"]) == [v.id for v in trial.visits]
    assert {"n", "mean", "sd", "median", "q1", "q3", "ci_low", "ci_high"} <= set(rows.columns)
    endpoints = pd.DataFrame(islet_json["endpoints"])
    assert {"cit07", "igls_success"} <= set(endpoints["endpoint"])
    assert set(pd.DataFrame(islet_json["events"])["event"]) == {"severe_hypoglycemia", "serious_adverse_event"}


def test_table_output_names_each_outcome_and_the_model(capsys):
    code, out, _ = run(capsys, "NCT01142050", "--synthetic", "3000", "--max-enrolled", "40")
    assert code == 0
    assert "40 enrolled; outcomes simulated with the 'msc' model" in out
    for outcome in load_trial("NCT01142050").outcomes:
        assert f"\n{outcome.id}: {outcome.name}" in out
    assert "Responder and composite endpoints" in out and "Events per visit interval" in out


def test_csv_by_subgroup_is_one_rectangular_table(capsys):
    code, out, _ = run(capsys, "NCT01142050", "--synthetic", "1500", "--by", "sex", "--format", "csv",
                       "--outcome", "hba1c", "--outcome", "insulin_dosage", "--allocation", "random")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert set(table["table"]) == {"outcomes", "endpoints"}
    outcomes = table[table["table"] == "outcomes"]
    assert set(outcomes["outcome"]) == {"hba1c", "insulin_dosage"} and set(outcomes["sex"]) == {"female", "male"}


def test_real_data_with_visits(tmp_path, capsys):
    trial = load_trial("NCT01142050")
    cohort = generate_outcomes(40, "msc", visits_days=trial.visits, seed=2, cgm_readings=0)
    write_cohort(cohort, tmp_path / "trial_data", format="csv")
    code, out, _ = run(capsys, "NCT01142050", "--data", str(tmp_path / "trial_data"), "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["subjects"] == 40 and payload["subjects_in_data"] == 40
    kitt = pd.DataFrame(payload["outcomes"]).query("measure == 'kitt' and statistic == 'value' and visit == 'w48'")
    m = cohort.measurements
    measured = m[(m["variable"] == "kitt") & (m["visit"] == "w48")]["value"]
    assert kitt["n"].iloc[0] == len(measured) and kitt["mean"].iloc[0] == pytest.approx(measured.mean())


def test_eligible_only_screens_the_data_first(tmp_path, capsys):
    trial = load_trial("NCT06196996")
    cohort = generate_outcomes(10, "islet", visits_days=trial.visits, seed=2, cgm_readings=0)
    write_cohort(cohort, tmp_path / "islet", format="csv")
    # outcome tables hold no screening history (antibodies, past severe hypoglycaemia): nobody is eligible
    code, out, err = run(capsys, "NCT06196996", "--data", str(tmp_path / "islet"), "--eligible-only")
    assert code == 2 and "no subject in" in err and "is eligible for NCT06196996 (of 10)" in err


def test_missing_outcome_data_is_one_clear_error_or_skipped(tmp_path, capsys):
    trial = load_trial("NCT01142050")
    cohort = generate_outcomes(20, "msc", visits_days=trial.visits, seed=2, cgm_readings=0)
    m = cohort.measurements
    folder = tmp_path / "no_kitt"
    write_cohort(type(cohort)(subjects=cohort.subjects, measurements=m[m["variable"] != "kitt"], events=cohort.events),
                 folder, format="csv")
    code, out, err = run(capsys, "NCT01142050", "--data", str(folder))
    assert code == 2 and out == ""
    assert err.startswith("error:") and "outcome itt (ITT) needs 'kitt'" in err and len(err.splitlines()) == 1
    code, out, err = run(capsys, "NCT01142050", "--data", str(folder), "--skip-missing")
    assert code == 0 and "not computed: outcome itt" in out and "note: skipped itt" in err


def test_bad_arguments(capsys):
    code, _, err = run(capsys, "NCT06196996", "--synthetic", "3000", "--by", "shoe_size")  # 3000: someone eligible
    assert code == 2 and "no subgroup 'shoe_size'" in err
    code, out, err = run(capsys, "NCT06196996")  # a source is required
    assert code == 2 and out == "" and "one of the arguments --synthetic --data is required" in err
