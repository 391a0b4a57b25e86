"""Screening features derived in SQL (explorer.engine.features_sql) equal the pandas derivation.

Every test compares against explorer.cohort.features.screening_features on the same Cohort: the feature
values (floats to 1e-12 relative: SQL engines add in their own order), the columns that exist, the missing
reasons (subject, variable, reason), the events, the event look-back and the reported counts, and the
statuses a trial gives on both screenings.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from cli_json import funnel_json
from screening_compare import assert_same_screening, assert_same_statuses

from explorer.catalogue import default_catalogue
from explorer.cohort.features import UNUSABLE_REASON, screening_features
from explorer.cohort.loaders import load
from explorer.cohort.synthetic.canonical_tables import generate_cohort
from explorer.cohort.tables import Cohort
from explorer.engine import final_counts
from explorer.engine.features_sql import (
    VIEWS,
    DuckRunner,
    FeatureQuery,
    Plan,
    _used,
    cohort_tables,
    plan_of,
    screening_features_sql,
    subject_ranges,
)
from explorer.engine.folder_writer import write_screening_folder
from explorer.engine.sql import DUCKDB
from explorer.errors import DataError
from explorer.trial import load_trial

INDEX = pd.Timestamp("2024-03-01")
TRIALS = ("NCT06196996", "NCT01142050")


def _frame(rows, columns, dtypes) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns).astype(dtypes)


def handmade_cohort() -> Cohort:
    """Seven subjects with every branch of the pandas derivation: unknowns, edges, ties, old dates."""
    ids = ["A", "B", "C", "D", "E", "F", "G"]
    subjects = pd.DataFrame({
        "subject_id": pd.array(ids, dtype="string"),
        "sex": pd.array(["female", "male", None, "male", "female", "male", None], dtype="string"),
        # 29 February, a birthday on the index day (G's at 23:00 before 1970: floor, not truncated, days),
        # before 1970, unknown with and without a given age
        "birth_date": pd.to_datetime(["1996-02-29", "1960-03-01", None, "1955-12-31", None, "2000-03-02",
                                      "1969-03-01 23:00"], format="ISO8601"),
        "age": [np.nan, np.nan, 41.9, np.nan, np.nan, np.nan, np.nan],
        "diagnosis_date": pd.to_datetime(["2014-03-01", "2025-01-01", None, "1965-06-01", None, None,
                                          "2020-01-01"], format="ISO8601"),
        "diabetes_duration": [np.nan, 3.0, 7.5, np.nan, np.nan, np.nan, np.nan],
        "index_date": [INDEX, INDEX, INDEX, pd.Timestamp("1969-06-30"), INDEX, pd.Timestamp("2025-02-28"), INDEX],
        "on_insulin": pd.array([True, False, None, False, True, None, False], dtype="boolean"),
        "alt_uln": [np.nan, np.nan, np.nan, np.nan, 45.0, np.nan, np.nan],
        "tir": [np.nan, np.nan, np.nan, np.nan, np.nan, 55.0, np.nan],
        # a given BMI that the derived one fills around: its reasons are recomputed for the whole cohort
        "bmi": [np.nan, np.nan, np.nan, np.nan, 30.0, np.nan, np.nan],
    })
    m = [
        ("A", "2024-02-01", "hba1c", 7.1, np.nan), ("A", "2024-03-01 18:00", "hba1c", 7.3, np.nan),  # index day counts
        ("A", "2024-03-02", "hba1c", 9.9, np.nan),  # after the index day
        ("B", "2022-01-01", "hba1c", 8.0, np.nan),  # before the window
        ("C", "2024-05-01", "hba1c", 6.0, np.nan),  # only after
        ("A", "2024-01-10", "weight", 70.0, np.nan), ("A", "2024-01-10", "height", 170.0, np.nan),
        ("B", "2024-01-10", "weight", 5.0, np.nan), ("B", "2024-01-10", "height", 200.0, np.nan),  # implausible BMI
        ("C", "2024-01-10", "weight", 80.0, np.nan), ("C", "2024-01-10", "weight", 81.0, np.nan),  # same time: mean
        ("C", "2024-01-10", "height", 180.0, np.nan),
        ("A", "2024-02-02 08:00", "fasting_glucose", 6.0, np.nan), ("A", "2024-02-02 08:00", "fasting_insulin", 10.0, np.nan),
        ("B", "2024-02-02 08:00", "fasting_glucose", 6.0, np.nan), ("B", "2024-02-02 08:00", "fasting_insulin", 10.0, np.nan),
        ("C", "2024-02-02 08:00", "fasting_glucose", 6.0, np.nan), ("C", "2024-02-03 08:00", "fasting_insulin", 10.0, np.nan),
        ("A", "2024-02-01", "insulin_dose", 35.0, np.nan),
        ("A", "2024-02-01", "alt", 30.0, 40.0), ("B", "2024-02-01", "alt", 31.0, 40.0), ("B", "2024-02-01", "alt", 33.0, 50.0),
        ("C", "2024-02-01", "alt", 25.0, np.nan), ("E", "2023-01-01", "alt", 22.0, 35.0),
        ("E", "2023-01-01", "hba1c", 7.0, np.nan),  # before the window; a row without a usable value lies in it
        ("D", "1969-06-01", "hba1c", 8.5, np.nan), ("D", "1969-06-29 23:59", "alt", 12.0, 41.0),
        ("F", "2025-02-01", "hba1c", 6.5, np.nan), ("G", "2024-02-20", "creatinine", 80.0, np.nan),
        ("G", "2024-02-20", "hba1c", np.nan, np.nan), ("Z", "2024-02-20", "hba1c", 7.0, np.nan),  # unknown subject
    ]
    measurements = pd.DataFrame(m, columns=["subject_id", "time", "variable", "value", "ref_high"])
    measurements = measurements.assign(time=pd.to_datetime(measurements["time"], format="ISO8601"), unit="", ref_low=np.nan).astype(
        {"subject_id": "string", "variable": "string", "unit": "string"})
    # CGM: A 14 full days every 15 min (sufficient), B 5 days (insufficient), C one reading, D none in the
    # window (worn a month earlier), G every 5 min with duplicated times
    parts = []
    rng = np.random.default_rng(3)
    for sid, start, days, step in (("A", "2024-02-16", 14, 15), ("B", "2024-02-24", 5, 15), ("C", "2024-02-28", 0.005, 15),
                                   ("D", "1969-05-01", 3, 15), ("G", "2024-02-16", 14, 5)):
        times = pd.date_range(start, periods=max(1, int(days * 1440 / step)), freq=f"{step}min")
        if sid == "G":
            times = times.append(times[:50])
        parts.append(pd.DataFrame({"subject_id": sid, "time": times,
                                   "glucose": rng.integers(45, 300, len(times)).astype(float)}))
    cgm = pd.concat(parts, ignore_index=True).astype({"subject_id": "string"})
    events = pd.DataFrame({
        "subject_id": pd.array(["A", "A", "B", "D", "D", "Z", "C"], dtype="string"),
        # D's second event is on the day before its 1969 index date: floor, not truncated, days
        "time": pd.to_datetime(["2023-06-01", "2024-03-05", "2024-03-01 23:00", "1969-01-01", "1969-06-29 12:00",
                                "2024-01-01", None], format="ISO8601"),
        "event": pd.array(["severe_hypoglycemia"] * 5 + ["trial_participation"] * 2, dtype="string"),
        "severity": pd.array([3, 3, None, 2, 2, 1, 1], dtype="Int64"),
    })
    history = pd.DataFrame({
        "subject_id": pd.array(["A", "B", "C", "A"], dtype="string"),
        "event": pd.array(["severe_hypoglycemia", "severe_hypoglycemia", "severe_hypoglycemia", "trial_participation"],
                          dtype="string"),
        "recorded_from": pd.to_datetime(["2020-01-01", "2024-06-01", "2023-09-01", "2023-01-01"], format="ISO8601"),
    })
    counts = pd.DataFrame({
        "subject_id": pd.array(["E", "F", "F"], dtype="string"),
        "event": pd.array(["severe_hypoglycemia"] * 3, dtype="string"),
        "within_days": [365.0, 365.0, 730.0], "count": [2.0, np.nan, 1.0],
    })
    # measured without a usable value (blank or rejected at load): E's HbA1c in the window (its older value lies
    # before the window), D's creatinine before its window, F's ALT after its index day; an
    # unknown subject, an undated row and a variable without measurements decide nothing
    u = [("E", "2024-02-01", "hba1c"), ("D", "1960-01-01", "creatinine"),
         ("F", "2025-03-05", "alt"), ("Z", "2024-02-01", "hba1c"), ("C", None, "hba1c"), ("A", "2024-02-01", "tir")]
    unusable = pd.DataFrame(u, columns=["subject_id", "time", "variable"])
    unusable = unusable.assign(time=pd.to_datetime(unusable["time"], format="ISO8601")).astype(
        {"subject_id": "string", "variable": "string"})
    return Cohort(subjects, measurements, events, cgm, source="handmade", event_history=history, event_counts=counts,
                  unusable=unusable)


@pytest.fixture(scope="module")
def handmade():
    cohort = handmade_cohort()
    return cohort, screening_features(cohort, lookback_days={"hba1c": 90, "default": 365})


def test_the_handmade_cohort_exercises_every_branch(handmade):
    # the fixture must keep covering what it names, or the comparison below proves little
    _, expected = handmade
    reasons = set(expected.missing_reasons["reason"].astype(str))
    for text in ("last measured more than 90 days before the index date", "measured only after the index date",
                 "never measured", "weight and height give an implausible BMI", "not valid under insulin treatment",
                 "no fasting glucose and insulin from the same sample in the look-back window",
                 "diagnosis date after the index date", "too few readings to infer the sensor interval",
                 "the latest alt has no reference range", "no CGM data", UNUSABLE_REASON):
        assert text in reasons, text
    why = expected.missing_reasons.astype(str).set_index(["subject_id", "variable"])["reason"]
    assert why["E", "hba1c"] == UNUSABLE_REASON  # not "last measured more than 90 days before"
    assert why["D", "creatinine"] == "last measured more than 365 days before the index date"
    assert why["F", "alt"] == "measured only after the index date"
    assert why["C", "hba1c"] == "measured only after the index date"  # its undated row counts for nothing
    assert any(r.startswith("CGM insufficient") for r in reasons)
    f = expected.features
    assert f.loc["A", "tir"] == f.loc["A", "tir"]  # A's CGM is sufficient: a number, not NaN
    assert f.loc["C", "weight"] == 80.5 and f.loc["B", "alt_uln"] == 45.0


def test_duckdb_derives_the_pandas_features_of_the_handmade_cohort(handmade):
    cohort, expected = handmade
    got = screening_features_sql(cohort, engine="duckdb", lookback_days={"hba1c": 90, "default": 365})
    assert_same_screening(expected, got)


@pytest.mark.parametrize("population", ["t1d", "t2d"])
def test_duckdb_derives_the_pandas_features_of_synthetic_canonical_tables(population):
    cohort = generate_cohort(population, 400, seed=7)
    expected = screening_features(cohort)
    got = screening_features_sql(cohort, engine="duckdb")
    assert_same_screening(expected, got)
    assert_same_statuses(expected, got)


def test_spark_derives_the_pandas_features(spark, handmade):
    """One Spark test for the derivation (a Spark query costs seconds here): hand-made and synthetic."""
    cohort, expected = handmade
    got = screening_features_sql(cohort, engine="spark", spark=spark, lookback_days={"hba1c": 90, "default": 365})
    assert_same_screening(expected, got)
    synthetic = generate_cohort("t1d", 60, seed=2)
    expected = screening_features(synthetic)
    got = screening_features_sql(synthetic, engine="spark", spark=spark)
    assert_same_screening(expected, got)
    assert_same_statuses(expected, got)


def test_a_subject_without_index_date_or_twice_is_refused():
    cohort = handmade_cohort()
    no_index = Cohort(cohort.subjects.assign(index_date=[INDEX] * 6 + [pd.NaT]))
    with pytest.raises(DataError, match="index_date"):
        screening_features_sql(no_index)
    twice = Cohort(cohort.subjects.assign(subject_id=pd.array(["A", "A", "C", "D", "E", "F", "G"], dtype="string")))
    with pytest.raises(DataError, match="duplicate subject ids"):
        screening_features_sql(twice)


def test_values_from_the_tables_are_bound_never_pasted_into_sql():
    plan = Plan(("subject_id", "__row", "__index", "sex"), ("hba1c",), frozenset({"subjects", "measurements", "cgm"}))
    query = FeatureQuery(plan, load_trial("NCT06196996").catalogue, DUCKDB)
    sql, params = query.sql()
    assert "'hba1c'" not in sql and "hba1c" in params.values()
    # reasons come back as booleans; their texts never enter the SQL
    assert "never measured" not in sql and ("hba1c", "never measured") in query.reason_columns.values()


# --- every real dataset the loaders read, as canonical tables -------------------------------------------

SHARED_DATASETS = {
    "shanghai": "subjects/shanghai_summary",
    "t1d_exchange": "subjects/weinstock2016_t1d_exchange",
    "sdtm": "subjects/cdisc_pilot_pharmaversesdtm",
    "omop": "subjects/omop_synthea27nj/Synthea27Nj_5.4.zip",
    "shanghai_cgm": "cgm/shanghai_t1dm_t2dm/shanghai_cgm_long.csv",
    "iglu_cgm": "cgm/iglu_r_package/example_data_5_subject.csv",
}


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SHARED_DATASETS))
def test_duckdb_derives_the_pandas_features_of_each_shared_dataset(shared_data, name):
    path = shared_data / SHARED_DATASETS[name]
    if not path.exists():
        pytest.skip(f"{path} is not in this copy of ../shared/data")
    cohort = load(path, on_invalid="reject").cohort
    expected = screening_features(cohort)
    got = screening_features_sql(cohort, engine="duckdb")
    assert_same_screening(expected, got)
    assert_same_statuses(expected, got)


# --- trial-explorer funnel --engine duckdb / spark on canonical tables --------------------------------

@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory):
    from explorer.cohort.synthetic.canonical_tables import write_cohort

    path = tmp_path_factory.mktemp("canonical")
    write_cohort(generate_cohort("t1d", 300, seed=4), path)
    return path


def test_funnel_with_duckdb_features_equals_memory_on_synthetic_tables(capsys, synthetic_folder):
    assert funnel_json(capsys, synthetic_folder, "duckdb") == funnel_json(capsys, synthetic_folder, "memory")


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SHARED_DATASETS))
def test_funnel_with_duckdb_equals_memory_on_each_shared_dataset(capsys, shared_data, name):
    path = shared_data / SHARED_DATASETS[name]
    if not path.exists():
        pytest.skip(f"{path} is not in this copy of ../shared/data")
    assert funnel_json(capsys, path, "duckdb") == funnel_json(capsys, path, "memory")


@pytest.mark.shared
def test_funnel_with_spark_equals_memory_on_the_shared_datasets(spark, capsys, shared_data):
    """One test for all datasets: each Spark run costs seconds, and the session is the shared one."""
    for name, relative in sorted(SHARED_DATASETS.items()):
        path = shared_data / relative
        if path.exists():
            assert funnel_json(capsys, path, "spark") == funnel_json(capsys, path, "memory"), name


# --- derivation over subject ranges (cohorts larger than one query) -------------------------------------

@pytest.mark.parametrize("size", [1, 2, 3, 6])
def test_features_over_tiny_subject_ranges_equal_the_pandas_derivation(handmade, size):
    # the hand-made cohort's flags (a ULN among the latest labs, a derived BMI filling a given one's gaps) hold
    # for some ranges only: each range must be derived again with the cohort's flags
    cohort, expected = handmade
    got = screening_features_sql(cohort, engine="duckdb", lookback_days={"hba1c": 90, "default": 365},
                                 range_subjects=size)
    assert_same_screening(expected, got)


def odd_ids(cohort: Cohort) -> Cohort:
    """The cohort's subjects renamed to ids whose text order is not their number order: digits of several
    lengths, upper and lower case, quotes, spaces and non-ASCII letters."""
    kinds = ["9", "10", "b", "B", "a'b", "é", " x", "Z-1", "z", "100"]
    ids = cohort.subjects["subject_id"].astype(str)
    new = {old: f"{kinds[i % len(kinds)]}{i}" for i, old in enumerate(ids)}

    def renamed(frame):
        if frame is None:
            return None
        return frame.assign(subject_id=pd.array(frame["subject_id"].astype(str).map(new), dtype="string"))

    return Cohort(renamed(cohort.subjects), renamed(cohort.measurements), renamed(cohort.events),
                  renamed(cohort.cgm), source="odd ids", event_history=renamed(cohort.event_history),
                  event_counts=renamed(cohort.event_counts))


def test_features_over_ranges_of_text_ids_equal_one_query_and_the_pandas_derivation():
    cohort = odd_ids(generate_cohort("t1d", 120, seed=11))
    expected = screening_features(cohort)
    whole = screening_features_sql(cohort, engine="duckdb", range_subjects=10**6)
    ranged = screening_features_sql(cohort, engine="duckdb", range_subjects=7)
    assert_same_screening(expected, whole)
    assert_same_screening(expected, ranged)
    assert_same_statuses(expected, ranged)


def test_subject_ranges_put_every_subject_in_exactly_one_range():
    import duckdb

    ids = ["9", "10", "b", "B", "a'b", "é", " x", "", "Z-1", "z", "100", "ä", "1"]
    con = duckdb.connect()
    con.register(VIEWS["subjects"], pa.table({"subject_id": ids}))
    run = DuckRunner(con)
    for size in (1, 2, 5, 12, 13, 50):
        ranges = subject_ranges(run, size)
        assert len(ranges) == -(-len(ids) // size)
        members = []
        for low, high in ranges:
            where = " AND ".join([*(["subject_id >= $low"] if low is not None else []),
                                  *(["subject_id < $high"] if high is not None else [])]) or "TRUE"
            params = {k: v for k, v in (("low", low), ("high", high)) if v is not None}
            found = [r[0] for r in con.execute(f"SELECT subject_id FROM {VIEWS['subjects']} WHERE {where}",
                                               params).fetchall()]
            assert 0 < len(found) <= size
            members += found
        assert sorted(members) == sorted(ids)  # each once: none lost, none twice


def test_the_range_filter_reaches_every_parquet_scan(tmp_path):
    """DuckDB reads only a range's rows: the bounds are pushed down to the scan of each table, where Parquet's
    row-group statistics can skip the groups outside them."""
    import duckdb
    import pyarrow.parquet as pq

    catalogue = default_catalogue()
    tables = cohort_tables(generate_cohort("t1d", 60, seed=1), catalogue)
    con = duckdb.connect()
    for name, table in tables.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
        con.execute(f"CREATE VIEW {DUCKDB.quote(VIEWS[name])} AS SELECT * FROM read_parquet('{tmp_path / name}.parquet')")
    plan = plan_of(DuckRunner(con), catalogue, set(tables), tables["subjects"].column_names)
    ids = sorted(tables["subjects"]["subject_id"].to_pylist())
    sql, params = FeatureQuery(plan, catalogue, DUCKDB, subjects=(ids[10], ids[20])).sql()
    explained = json.loads(con.execute("EXPLAIN (FORMAT json) " + sql, _used(sql, params, DUCKDB)).fetchall()[0][1])

    def scans(node):
        if node.get("name") == "READ_PARQUET":
            yield node["extra_info"]
        for child in node.get("children", []):
            yield from scans(child)

    found = [info for root in explained for info in scans(root)]
    assert len(found) >= len(tables)  # subjects is read more than once (it is joined to each table)
    bounds = f"(subject_id >= '{ids[10]}') AND (subject_id < '{ids[20]}')"
    for info in found:
        assert bounds in json.dumps(info.get("Filters")), info


def test_a_screening_folder_written_range_by_range_gives_the_memory_engines_histogram(tmp_path):
    import duckdb

    from explorer.engine.histogram import evaluate_histogram

    catalogue = default_catalogue()
    cohort = generate_cohort("t1d", 300, seed=5)
    tables = cohort_tables(cohort, catalogue)
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(VIEWS[name], table)
    folder = write_screening_folder(con, set(tables), tables["subjects"].column_names, tmp_path / "screening",
                                    range_subjects=40)
    assert not (folder / ".feature_ranges").exists()
    trial = load_trial("NCT06196996")
    expected = evaluate_histogram(trial, screening_features(cohort), "memory")
    got = evaluate_histogram(trial, folder, "duckdb")
    assert final_counts(got) == final_counts(expected)
    assert sorted(zip(map(tuple, got.histogram.patterns.tolist()), got.histogram.counts.tolist(), strict=True)) == \
        sorted(zip(map(tuple, expected.histogram.patterns.tolist()), expected.histogram.counts.tolist(), strict=True))


def reason_rows(reasons: pd.DataFrame) -> list[tuple[str, str, str]]:
    return sorted(zip(reasons["subject_id"].astype(str), reasons["variable"].astype(str),
                      reasons["reason"].astype(str), strict=True))


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_a_screening_folder_written_range_by_range_keeps_the_pandas_derivations_missing_reasons(tmp_path, handmade,
                                                                                                size):
    import duckdb

    from explorer.engine.layout import read_screening

    cohort, expected = handmade
    tables = cohort_tables(cohort, default_catalogue())
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(VIEWS[name], table)
    folder = write_screening_folder(con, set(tables), tables["subjects"].column_names, tmp_path / "screening",
                                    lookback_days={"hba1c": 90, "default": 365}, range_subjects=size)
    got = read_screening(folder).missing_reasons
    assert len(got) and reason_rows(got) == reason_rows(expected.missing_reasons)
    assert list(got["subject_id"].cat.categories) == list(read_screening(folder).features.index)


def test_a_full_temporary_folder_is_one_line_saying_what_to_do(tmp_path, monkeypatch):
    import duckdb

    from explorer.engine.duck import TEMP_LIMIT_ENV, limit_spill

    monkeypatch.setenv(TEMP_LIMIT_ENV, "1MB")
    con = duckdb.connect()
    con.execute("SET memory_limit = '20MB'")
    con.execute("SET threads = 1")
    assert limit_spill(con, tmp_path / "spill") == "1MB"
    with pytest.raises(DataError, match=f"ran out of room for its temporary files.*{TEMP_LIMIT_ENV}") as raised:
        DuckRunner(con).arrow("SELECT i, md5(i::VARCHAR) AS h FROM range(3000000) t(i) ORDER BY h", {})
    assert "\n" not in str(raised.value)


def test_spark_derives_the_pandas_features_over_tiny_subject_ranges(spark, handmade):
    cohort, expected = handmade
    got = screening_features_sql(cohort, engine="spark", spark=spark, lookback_days={"hba1c": 90, "default": 365},
                                 range_subjects=3)
    assert_same_screening(expected, got)
