"""Screening features at the index date (explorer.cohort.features) on small hand-built cohorts."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.tables import Cohort

INDEX = pd.Timestamp("2024-03-01")


def subjects(**extra) -> pd.DataFrame:
    frame = pd.DataFrame({
        "subject_id": pd.array(["A", "B", "C"], dtype="string"),
        "sex": pd.array(["female", "male", None], dtype="string"),
        "birth_date": pd.to_datetime(["1980-03-01", None, "2000-03-01"]),
        "age": [np.nan, 50.0, np.nan],
        "diagnosis_date": pd.to_datetime(["2014-03-01", "2025-01-01", None]),
        "index_date": [INDEX] * 3,
    })
    return frame.assign(**extra)


def measurements(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["subject_id", "time", "variable", "value", "unit", "ref_high"])
    return frame.assign(time=pd.to_datetime(frame["time"], format="ISO8601"), ref_low=np.nan).astype(
        {"subject_id": "string", "variable": "string", "unit": "string", "value": "float64", "ref_high": "float64"})


def reasons_of(screening, variable: str) -> dict[str, str]:
    r = screening.missing_reasons
    r = r[r["variable"] == variable]
    return dict(zip(r["subject_id"].astype(str), r["reason"].astype(str), strict=True))


def test_age_sex_duration():
    s = screening_features(Cohort(subjects=subjects()))
    f = s.features
    assert f.index.name == "subject_id" and list(f.index) == ["A", "B", "C"]
    assert f.loc["A", "age"] == pytest.approx(44.0, abs=0.01)
    assert f.loc["B", "age"] == 50.0  # the given age where there is no birth date
    assert f.loc["C", "age"] == pytest.approx(24.0, abs=0.01)
    assert f.loc["A", "diabetes_duration"] == pytest.approx(10.0, abs=0.01)
    assert np.isnan(f.loc["B", "diabetes_duration"])
    assert reasons_of(s, "diabetes_duration") == {"B": "diagnosis date after the index date",
                                                  "C": "no diagnosis date or diabetes duration in the source"}
    assert str(f["sex"].dtype) == "string" and pd.isna(f.loc["C", "sex"])
    assert reasons_of(s, "sex") == {"C": "not recorded in the source"}


def test_latest_value_within_look_back_window_and_reasons():
    m = measurements([
        ("A", "2023-06-01", "hba1c", 8.0, "%", np.nan),
        ("A", "2024-03-01 10:30", "hba1c", 7.5, "%", np.nan),   # on the index day: counts
        ("A", "2024-03-02", "hba1c", 6.0, "%", np.nan),         # after the index date: ignored
        ("B", "2022-01-01", "hba1c", 9.0, "%", np.nan),         # older than 365 days
        ("C", "2024-04-01", "hba1c", 9.5, "%", np.nan),         # only after the index date
        ("A", "2023-01-01", "creatinine", 80.0, "umol/L", np.nan),
    ])
    s = screening_features(Cohort(subjects=subjects(), measurements=m))
    assert s.features.loc["A", "hba1c"] == 7.5
    assert np.isnan(s.features.loc["B", "hba1c"]) and np.isnan(s.features.loc["C", "hba1c"])
    assert reasons_of(s, "hba1c") == {"B": "last measured more than 365 days before the index date",
                                      "C": "measured only after the index date"}
    assert reasons_of(s, "creatinine")["B"] == "never measured"
    assert "alt" not in s.features.columns  # not provided by the source: absent, i.e. unknown for all


def test_look_back_per_variable():
    m = measurements([("A", "2023-06-01", "hba1c", 8.0, "%", np.nan), ("A", "2023-06-01", "weight", 70, "kg", np.nan)])
    s = screening_features(Cohort(subjects=subjects(), measurements=m), lookback_days={"hba1c": 90, "default": 730})
    assert np.isnan(s.features.loc["A", "hba1c"]) and s.features.loc["A", "weight"] == 70


def test_uln_from_the_reference_range_of_the_latest_lab():
    m = measurements([
        ("A", "2023-12-01", "alt", 30.0, "U/L", 35.0),
        ("A", "2024-02-01", "alt", 90.0, "U/L", 45.0),
        ("B", "2024-02-01", "alt", 20.0, "U/L", np.nan),
    ])
    s = screening_features(Cohort(subjects=subjects(), measurements=m))
    assert s.features.loc["A", ["alt", "alt_uln"]].tolist() == [90.0, 45.0]
    assert np.isnan(s.features.loc["B", "alt_uln"])
    assert reasons_of(s, "alt_uln") == {"B": "the latest alt has no reference range", "C": "no alt in the look-back window"}


def test_derived_bmi_and_homa_ir():
    m = measurements([
        ("A", "2024-01-01", "weight", 81.0, "kg", np.nan), ("A", "2023-05-01", "height", 180.0, "cm", np.nan),
        ("A", "2024-01-01", "fasting_glucose", 5.0, "mmol/L", np.nan),
        ("A", "2024-01-01", "fasting_insulin", 9.0, "microU/mL", np.nan),
        ("B", "2024-01-01", "fasting_glucose", 5.0, "mmol/L", np.nan),
        ("B", "2024-01-02", "fasting_insulin", 9.0, "microU/mL", np.nan),  # another sample: no HOMA-IR
        ("C", "2024-01-01", "fasting_glucose", 5.0, "mmol/L", np.nan),
        ("C", "2024-01-01", "fasting_insulin", 9.0, "microU/mL", np.nan),
    ])
    cohort = Cohort(subjects=subjects(on_insulin=pd.array([False, False, True], dtype="boolean")), measurements=m)
    s = screening_features(cohort)
    assert s.features.loc["A", "bmi"] == pytest.approx(25.0)
    assert s.features.loc["A", "homa_ir"] == pytest.approx(2.0)  # 5 x 9 / 22.5
    assert np.isnan(s.features.loc["B", "homa_ir"]) and np.isnan(s.features.loc["C", "homa_ir"])
    assert reasons_of(s, "homa_ir")["C"] == "not valid under insulin treatment"


def cgm_cohort(days_worn: float, *, interval=15, pattern=None) -> Cohort:
    n = int(days_worn * 24 * 60 / interval)
    times = INDEX - pd.to_timedelta((np.arange(n) + 1) * interval, unit="min")
    pattern = pattern if pattern is not None else [50] * 4 + [65] * 4 + [120] * 72 + [200] * 12 + [300] * 4
    glucose = np.resize(np.asarray(pattern, dtype=float), n)
    cgm = pd.DataFrame({"subject_id": pd.array(["A"] * n, dtype="string"), "time": times, "glucose": glucose})
    extra = pd.DataFrame({"subject_id": pd.array(["B"], dtype="string"), "time": [INDEX + pd.Timedelta(hours=2)],
                          "glucose": [100.0]})  # after the index date only
    return Cohort(subjects=subjects(), cgm=pd.concat([cgm, extra], ignore_index=True))


def test_cgm_consensus_metrics_over_14_days():
    s = screening_features(cgm_cohort(14))
    a = s.features.loc["A"]
    assert a["cgm_active"] == pytest.approx(100.0)
    assert a["tir"] == pytest.approx(75.0)
    assert a["tbr_70"] == pytest.approx(100 * 8 / 96)
    assert a["tbr_54"] == pytest.approx(100 * 4 / 96)
    assert a["tar_180"] == pytest.approx(100 * 16 / 96)
    assert a["tar_250"] == pytest.approx(100 * 4 / 96)
    mean = (50 * 4 + 65 * 4 + 120 * 72 + 200 * 12 + 300 * 4) / 96
    assert a["cgm_mean"] == pytest.approx(mean)
    assert a["gmi"] == pytest.approx(3.31 + 0.02392 * mean)
    values = np.resize([50] * 4 + [65] * 4 + [120] * 72 + [200] * 12 + [300] * 4, 14 * 96)
    assert a["cgm_cv"] == pytest.approx(100 * np.std(values, ddof=1) / np.mean(values))
    assert s.features.loc["B", "cgm_active"] == 0.0
    assert reasons_of(s, "tir") == {"B": "CGM insufficient: fewer than 70% of possible readings in the 14 days "
                                         "before the index date", "C": "no CGM data"}


def test_cgm_70_percent_rule():
    enough = screening_features(cgm_cohort(10)).features.loc["A"]  # 10 of 14 days = 71 %
    assert enough["cgm_active"] == pytest.approx(100 * 10 / 14) and not np.isnan(enough["tir"])
    short = screening_features(cgm_cohort(9)).features.loc["A"]  # 64 %
    assert short["cgm_active"] == pytest.approx(100 * 9 / 14) and np.isnan(short["tir"])
    long = screening_features(cgm_cohort(30, interval=5)).features.loc["A"]  # only the last 14 days count
    assert long["cgm_active"] == pytest.approx(100.0)


def test_events_lookback_and_counts():
    events = pd.DataFrame({
        "subject_id": pd.array(["A", "A", "A", "B"], dtype="string"),
        "time": pd.to_datetime(["2024-03-01 08:00", "2023-04-01", "2024-06-01", "2023-12-01"], format="ISO8601"),
        "event": pd.array(["severe_hypoglycemia"] * 4, dtype="string"),
        "severity": pd.array([3, None, None, 2], dtype="Int64"),
    })
    history = pd.DataFrame({"subject_id": pd.array(["A", "B"], dtype="string"),
                            "event": pd.array(["severe_hypoglycemia"] * 2, dtype="string"),
                            "recorded_from": pd.to_datetime(["2020-01-01", "2023-11-01"])})
    counts = pd.DataFrame({"subject_id": pd.array(["C"], dtype="string"),
                           "event": pd.array(["severe_hypoglycemia"], dtype="string"),
                           "within_days": [365.0], "count": [10.0]})
    s = screening_features(Cohort(subjects=subjects(), events=events, event_history=history, event_counts=counts))
    ev = s.events.sort_values("days_before_index")
    assert ev["days_before_index"].tolist() == [0.0, 91.0, 335.0]  # the June event is after the index date
    assert ev["severity"].tolist()[0] == 3
    assert s.event_lookback.loc["A", "severe_hypoglycemia"] == (INDEX - pd.Timestamp("2020-01-01")).days
    assert s.event_lookback.loc["B", "severe_hypoglycemia"] == 121
    assert np.isnan(s.event_lookback.loc["C", "severe_hypoglycemia"])
    assert list(s.event_counts.columns) == ["severe_hypoglycemia@365"]
    assert s.event_counts.loc["C", "severe_hypoglycemia@365"] == 10.0

    memory = pytest.importorskip("explorer.engine.memory")
    within_year = memory.MemoryContext(s).count("severe_hypoglycemia", 365)
    # A: two events in the year; B: history too short for a year -> unknown; C: the reported count
    assert within_year[0] == 2 and np.isnan(within_year[1]) and within_year[2] == 10
    assert memory.MemoryContext(s).count("severe_hypoglycemia", 120)[1] == 1  # 91 days before, 121 recorded


def test_features_follow_the_screening_contract():
    m = measurements([("A", "2024-01-01", "hba1c", 8.0, "%", np.nan)])
    s = screening_features(Cohort(subjects=subjects(hiv_positive=pd.array([True, None, False], dtype="boolean"),
                                                    diabetes_type=pd.array(["T1D", "T2D", None], dtype="string")),
                                  measurements=m))
    s.validate()
    assert str(s.features["hiv_positive"].dtype) == "boolean"
    assert str(s.features["diabetes_type"].dtype) == "string"
    assert s.features["hba1c"].dtype == "float64"


def test_vectorised_for_large_cohorts():
    n = 100_000
    rng = np.random.default_rng(1)
    ids = pd.array([f"S{i}" for i in range(n)], dtype="string")
    subj = pd.DataFrame({"subject_id": ids, "birth_date": INDEX - pd.to_timedelta(rng.uniform(20, 70, n) * 365.25, "D"),
                         "index_date": [INDEX] * n})
    k = 4 * n
    who = np.sort(rng.integers(0, n, k))
    m = pd.DataFrame({"subject_id": ids[who], "time": INDEX - pd.to_timedelta(rng.integers(0, 600, k), "D"),
                      "variable": pd.array(np.resize(["hba1c", "alt", "weight", "height"], k), dtype="string"),
                      "value": np.resize([7.5, 30.0, 80.0, 170.0], k), "unit": "x", "ref_low": np.nan,
                      "ref_high": 40.0})
    start = time.process_time()
    s = screening_features(Cohort(subjects=subj, measurements=m))
    assert time.process_time() - start < 5.0  # about 0.4 s of CPU on a laptop-class core
    assert len(s.features) == n and s.features["alt_uln"].max() == 40.0


# --- age in completed years (issue 13) -----------------------------------------------------------------

@pytest.mark.parametrize("birth, index, age", [
    ("1959-03-15", "2024-09-15", 65),   # 65 years and 6 months is 65: "Age 6-65" admits them
    ("1959-03-15", "2024-03-14", 64),   # the day before the 65th birthday
    ("1959-03-15", "2024-03-15", 65),   # the birthday itself
    ("1959-03-15", "2024-03-16", 65),   # the day after
    ("2000-02-29", "2023-02-28", 22),   # born on a leap day: not yet 23 on 28 February ...
    ("2000-02-29", "2023-03-01", 23),   # ... but on 1 March of a common year
    ("2000-02-29", "2024-02-28", 23),
    ("2000-02-29", "2024-02-29", 24),   # and on 29 February of a leap year
    ("2004-01-01", "2022-12-31", 18),   # 18 the day before a 19th birthday
    ("2006-12-31", "2024-12-31", 18),   # 18th birthday on the last day of a leap year
])
def test_age_is_completed_years_by_the_calendar(birth, index, age):
    frame = pd.DataFrame({"subject_id": pd.array(["A"], dtype="string"), "birth_date": pd.to_datetime([birth]),
                          "index_date": pd.to_datetime([index])})
    assert screening_features(Cohort(subjects=frame)).features.loc["A", "age"] == age


def test_a_given_fractional_age_counts_completed_years():
    frame = subjects(age=[np.nan, 65.5, np.nan])
    assert screening_features(Cohort(subjects=frame)).features.loc["B", "age"] == 65.0


def test_same_time_measurements_give_their_mean_whatever_the_row_order():
    rows = [("A", "2024-02-01", "systolic_bp", 120.0, "mmHg", np.nan),
            ("A", "2024-02-01", "systolic_bp", 130.0, "mmHg", np.nan),
            ("A", "2024-02-01", "systolic_bp", 110.0, "mmHg", np.nan)]
    for order in (rows, rows[::-1]):
        f = screening_features(Cohort(subjects=subjects(), measurements=measurements(order))).features
        assert f.loc["A", "systolic_bp"] == 120.0


def test_an_age_outside_the_plausible_range_is_unknown_with_its_reason_never_pass_or_fail():
    """A placeholder birth date (1900-01-01) gave an age of 124, which the screening contract refused for the whole
    cohort. Now that age is unknown (the loaders refuse or count such dates: tests/engine/test_canonical_sql.py),
    and a criterion on age is unknown for the subject; 120 years is still an age, a given `age` still fills in."""
    from explorer.engine.matrix import evaluate
    from explorer.trial import trial_from_dict

    frame = subjects(birth_date=pd.to_datetime(["1904-03-01", "1900-01-01", "1903-03-01"]),
                     age=[np.nan, np.nan, 70.0], diagnosis_date=pd.to_datetime(["1910-01-01", None, None]))
    s = screening_features(Cohort(subjects=frame))
    assert s.features.loc["A", "age"] == 120.0
    assert np.isnan(s.features.loc["B", "age"])
    assert s.features.loc["C", "age"] == 70.0  # 121 by the birth date: the given age fills in
    assert reasons_of(s, "age") == {"B": "the birth date gives an age outside the plausible 0-120 years (a "
                                         "placeholder for an unknown date?)"}
    assert np.isnan(s.features.loc["A", "diabetes_duration"])  # 114 years since diagnosis: outside 0-100
    assert reasons_of(s, "diabetes_duration")["A"].startswith("the diagnosis date gives a diabetes duration outside")
    trial = trial_from_dict({"id": "AGE", "title": "age", "criteria": [
        {"id": "adult", "kind": "inclusion", "text": "adult", "expression": "age >= 18"}]})
    assert evaluate(trial, s).to_frame(names=True).loc["B", "adult"] == "unknown"
