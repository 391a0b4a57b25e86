"""An age, a window in days or a severity grade takes no censored form: "<18" in an age column was read as 9
(half the limit, the rule for a lab result below its limit of quantification), so a subject "under 18" passed
"age >= 6" on a guess. It is text now: refused naming the column, or unknown with "reject", in the pandas
loader and in DuckDB's in-place load alike; a lab column still reads "<0.017" as censored."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.cohort.loaders import load
from explorer.cohort.values import parse_cell
from explorer.errors import DataError
from explorer.sources import DataSource, open_source

SUBJECTS = ("subject_id,sex,age,diabetes_type,index_date\n"
            "A,female,<18,T1D,2024-03-01\n"
            "B,male,40,T1D,2024-03-01\n"
            "C,male,>=70,T1D,2024-03-01\n")
MEASUREMENTS = ("subject_id,time,variable,value,unit\n"
                "A,2024-01-01,fasting_cpeptide,<0.017,nmol/L\n"
                "B,2024-01-01,fasting_cpeptide,0.4,nmol/L\n")


@pytest.mark.parametrize("cell", ["<18", "<=18", ">70", ">= 70", "≤18"])
def test_a_limit_is_no_exact_quantity_but_stays_a_censored_lab_value(cell):
    assert parse_cell(cell, "exact", frozenset())[2] == "text"
    value, censored, rule = parse_cell(cell, "measurement", frozenset())
    assert rule in ("below_limit", "above_limit") and np.isfinite(value) and censored != 0


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "subjects.csv").write_text(SUBJECTS)
    (tmp_path / "measurements.csv").write_text(MEASUREMENTS)
    return tmp_path


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_an_age_given_as_a_limit_is_refused_naming_the_column(folder, engine):
    with pytest.raises(DataError, match=r"column 'age'.*'<18'.*give the value"):
        if engine == "memory":
            load(folder)
        else:
            open_source(DataSource("path", path=str(folder), engine="duckdb"), engine="duckdb")


def test_with_reject_the_age_is_unknown_on_both_engines_and_a_lab_limit_is_kept(folder):
    loaded = load(folder, on_invalid="reject")
    ages = dict(zip(loaded.cohort.subjects["subject_id"], loaded.cohort.subjects["age"], strict=True))
    assert np.isnan(ages["A"]) and ages["B"] == 40 and np.isnan(ages["C"])
    assert any(v.column == "age" and v.count == 2 for v in loaded.report.invalid)
    cpeptide = loaded.cohort.measurements.set_index("subject_id")["value"]
    assert cpeptide["A"] == pytest.approx(0.0085)  # below the lab's limit: half of it, as before
    duck = open_source(DataSource("path", path=str(folder), engine="duckdb", on_invalid="reject"), engine="duckdb")
    memory = open_source(DataSource("path", path=str(folder), on_invalid="reject"))
    assert duck.screening.features["age"].equals(memory.screening.features["age"])


def test_a_window_in_days_given_as_a_limit_is_refused(tmp_path):
    (tmp_path / "subjects.csv").write_text(SUBJECTS.replace("<18", "30").replace(">=70", "50"))
    (tmp_path / "event_counts.csv").write_text("subject_id,event,within_days,count\n"
                                               "A,severe_hypoglycemia,<365,2\n")
    with pytest.raises(DataError, match=r"within_days"):
        load(tmp_path)
