"""A number read into a subject column (a canonical subjects table's column, a wide mapping's `static`) keeps the
interval of a censored cell ("<5", ">90") as a measurement does, in pandas, and in DuckDB and Spark reading the
canonical tables in place (docs/data.md, "Censored values are intervals"). Before, the subject column kept the
point alone: fasting insulin "<5" (the point 2.5) failed "fasting_insulin >= 3" on a guess."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders.canonical import load_canonical
from explorer.cohort.loaders.wide import load_wide
from explorer.cohort.synthetic import write_cohort
from explorer.engine.canonical_sql import canonical_screening_sql
from explorer.engine.duck import DuckDBBackend
from explorer.engine.features_sql import screening_features_sql
from explorer.engine.memory import MemoryBackend
from explorer.errors import DataError
from explorer.expr import parse

P, F, U = 1, 0, 2
SUBJECTS = """subject_id,sex,index_date,fasting_insulin,egfr
below_5,F,2024-01-10,<5,>90
exact_4,M,2024-01-10,4,60
below_5_measured,F,2024-01-10,<5,>=90
blank,M,2024-01-10,,
"""
# below_5_measured also has a measured insulin: the measurement wins over the subject column (it fills gaps)
MEASUREMENTS = """subject_id,time,variable,value,unit
below_5_measured,2024-01-01,fasting_insulin,4,microU/mL
"""
RULES = {
    "fasting_insulin >= 3": [U, P, P, U],    # inside [0, 5): unknown; the guess 2.5 failed it before
    "fasting_insulin < 5": [P, P, P, U],     # decided over the whole interval
    "fasting_insulin >= 6": [F, F, F, U],
    "egfr >= 60": [P, P, P, U],              # (90, inf) passes for certain
    "egfr > 100": [U, F, U, U],              # inside it: unknown (the point 90 failed it before)
    "egfr >= 90": [P, F, P, U],
}


def codes(screening) -> dict[str, list[int]]:
    rules = [SimpleNamespace(id=f"c{i}", tree=parse(t), expression=t, parameter_values=dict)
             for i, t in enumerate(RULES)]
    return {t: list(map(int, c)) for t, c in zip(RULES, MemoryBackend(screening).truth_codes(rules), strict=True)}


def intervals(screening) -> list[tuple]:
    t = screening.censored
    return sorted(zip(t["subject_id"].astype(str), t["variable"].astype(str), t["low"], t["high"], strict=True))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("subject_censoring")
    (out / "subjects.csv").write_text(SUBJECTS)
    (out / "measurements.csv").write_text(MEASUREMENTS)
    return out


@pytest.fixture(scope="module")
def screening(folder):
    return screening_features(load_canonical(folder).cohort)


def test_a_canonical_subjects_cell_given_as_a_limit_is_an_interval(screening):
    assert codes(screening) == RULES
    # the point stays for displays: half the limit below, the limit above; the measured 4 where there is one
    assert screening.features["fasting_insulin"].to_numpy(dtype="float64", na_value=np.nan)[:3].tolist() == [2.5, 4, 4]
    assert intervals(screening) == [("below_5", "egfr", np.nextafter(90, np.inf), np.inf),
                                    ("below_5", "fasting_insulin", 0.0, np.nextafter(5, 0)),
                                    ("below_5_measured", "egfr", 90.0, np.inf)]
    reasons = screening.missing_reasons
    mine = reasons[(reasons["subject_id"].astype(str) == "below_5") & (reasons["variable"].astype(str) == "egfr")]
    assert mine["reason"].astype(str).tolist() == [
        "censored above the measuring range (>90 mL/min/1.73m2): unknown where a threshold lies inside the interval"]


def test_duckdb_in_place_and_on_the_cohort_give_the_same_intervals(screening, folder):
    in_place, _ = canonical_screening_sql(folder)
    assert intervals(in_place) == intervals(screening)
    assert intervals(screening_features_sql(load_canonical(folder).cohort)) == intervals(screening)
    rules = [SimpleNamespace(id=f"c{i}", tree=parse(t), expression=t, parameter_values=dict)
             for i, t in enumerate(RULES)]
    assert [list(map(int, c)) for c in DuckDBBackend(in_place).truth_codes(rules)] == list(RULES.values())


def test_spark_in_place_gives_the_same_intervals(spark, screening, folder):
    in_place, _ = canonical_screening_sql(folder, engine="spark", spark=spark)
    assert intervals(in_place) == intervals(screening)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_written_cohort_reads_back_with_its_intervals(screening, folder, tmp_path, fmt):
    write_cohort(load_canonical(folder).cohort, tmp_path, format=fmt)
    assert intervals(screening_features(load_canonical(tmp_path).cohort)) == intervals(screening)


def test_a_wide_static_column_keeps_the_interval(tmp_path):
    (tmp_path / "export.csv").write_text("Patient ID,Visit date,Sex,eGFR,Insulin\n"
                                         "P01,2024-01-10,F,>90,<5\nP02,2024-01-12,M,60,4\n"
                                         "P01,2024-01-09,F,>90,\n")
    # one row per visit: a subject's rows agree on the static columns where given (a blank takes the other's)
    mapping = {"file": "export.csv", "subject_id": "Patient ID", "index_date": "Visit date", "sex": "Sex",
               "measured_at": "Visit date",
               "columns": {"eGFR": {"variable": "egfr", "static": True},
                           "Insulin": {"variable": "fasting_insulin", "static": True}}}
    screening = screening_features(load_wide(tmp_path / "export.csv", mapping).cohort)
    rules = [SimpleNamespace(id=f"c{i}", tree=parse(t), expression=t, parameter_values=dict)
             for i, t in enumerate(["egfr > 100", "egfr >= 60", "fasting_insulin >= 3"])]
    assert [c.tolist() for c in MemoryBackend(screening).truth_codes(rules)] == [[U, F], [P, P], [U, P]]


def test_an_age_given_as_a_limit_stays_refused(tmp_path):
    (tmp_path / "subjects.csv").write_text("subject_id,sex,index_date,age\na,F,2024-01-10,<18\n")
    with pytest.raises(DataError):
        load_canonical(tmp_path)
