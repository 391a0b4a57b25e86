"""The histogram interface (statistics from (pattern, count) rows alone) and the Spark engine.

The histogram tests run on the memory and DuckDB engines. The Spark tests share one local session
(started once, stopped at the end) and are few: each Spark query costs seconds on two cores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_cases import (
    assert_same_matrix,
    assert_same_statistics,
    construct_screening,
    construct_trial,
    valid_for_files,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_cohort import random_screening

from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import evaluate, final_counts, funnel, impact, overlap, shapley, write_screening
from explorer.engine.bits import from_bits
from explorer.engine.histogram import HistogramMatrix, evaluate_histogram
from explorer.engine.matrix import ENGINES, make_backend
from explorer.engine.spark import LOCAL_DRIVER_MEMORY, MASTER_ENV, SPILL_MERGE_FACTOR, spark_master
from explorer.engine.stats import final_bits
from explorer.errors import DataError, DefinitionError
from explorer.trial import load_trial, trial_from_dict

T1D = load_trial("NCT06196996")


def histogram_frame(matrix) -> pd.DataFrame:
    """A matrix's histogram as a sorted frame, to compare engines whatever order their rows came in."""
    h = matrix.histogram
    frame = pd.DataFrame(h.patterns, columns=list(matrix.ids))
    frame["count"] = h.counts
    return frame.sort_values(list(matrix.ids)).reset_index(drop=True)


def ids_of(matrix, which="eligible", enabled=None, policies=None) -> list[str]:
    eligible, remaining = final_bits(matrix, enabled, policies)
    mask = from_bits(eligible if which == "eligible" else remaining, matrix.n_subjects)
    return [str(x) for x in matrix.subject_ids[mask]]


# --- the histogram interface, engine by engine -------------------------------------------------------

@pytest.fixture(scope="module")
def random_matrix():
    return evaluate(T1D, random_screening(4000, seed=5, missing=0.2))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_statistics_from_the_histogram_alone_are_identical(random_matrix, data):
    m = random_matrix
    h = HistogramMatrix.of(m)
    ids = list(m.ids)
    order = data.draw(st.permutations(ids))
    enabled = data.draw(st.sets(st.sampled_from(ids)))
    policies = data.draw(st.dictionaries(st.sampled_from(ids), st.sampled_from(["unknown", "pass", "fail"])))
    pd.testing.assert_frame_equal(funnel(m, order, enabled, policies), funnel(h, order, enabled, policies))
    pd.testing.assert_frame_equal(impact(m, enabled, policies), impact(h, enabled, policies))
    for value in ("eligible", "remaining"):
        pd.testing.assert_frame_equal(shapley(m, enabled, policies, value=value),
                                      shapley(h, enabled, policies, value=value))
    pd.testing.assert_frame_equal(overlap(m, enabled, policies), overlap(h, enabled, policies))
    assert final_counts(m, enabled, policies) == final_counts(h, enabled, policies)
    # stored policies and assumptions (the trial file's) as well as per-call ones
    stored = {cid: p for cid, p in policies.items() if m.criterion(cid).computable}
    assumed = {c.id: "fail" for c in m.criteria if not c.computable}
    pd.testing.assert_frame_equal(funnel(m.with_policies(stored, assumed), order),
                                  funnel(h.with_policies(stored, assumed), order))


def test_a_histogram_matrix_has_no_subjects_and_says_where_to_ask(random_matrix):
    h = HistogramMatrix.of(random_matrix)
    assert h.n_subjects == random_matrix.n_subjects == int(h.to_frame()["count"].sum())
    assert len(h.histogram.counts) < h.n_subjects
    with pytest.raises(DefinitionError, match="eligible_ids"):
        final_bits(h)
    with pytest.raises(DefinitionError, match="eligible_ids"):
        h.subject_ids  # noqa: B018


@pytest.fixture(scope="module")
def constructs():
    return construct_trial(), construct_screening()


def test_duckdb_and_memory_histograms_and_subject_queries_agree(constructs, tmp_path):
    trial, data = constructs
    data = valid_for_files(data, trial)  # a screening folder refuses the constructs' invalid categories
    memory = evaluate(trial, data)
    write_screening(data, tmp_path)
    for engine, source in (("duckdb", tmp_path), ("duckdb", data), ("memory", tmp_path)):
        h = evaluate_histogram(trial, source, engine)
        pd.testing.assert_frame_equal(histogram_frame(h), histogram_frame(memory))
        assert_same_statistics(memory, h)
        for policies in ({}, {"C0": "pass", "C1": "fail"}, {c: "pass" for c in memory.ids}):
            for which in ("eligible", "remaining"):
                assert list(h.eligible_ids(None, policies, which=which)) == ids_of(memory, which, None, policies)
    # a threshold edit counts the histogram again through the engine
    duck = evaluate_histogram(trial, tmp_path, "duckdb")
    edited = duck.with_parameter(trial, "C3", "tir_min", 75)
    assert_same_statistics(memory.with_parameter(trial, "C3", "tir_min", 75), edited)


def test_more_than_one_packed_word_of_criteria(tmp_path):
    """40 criteria need two BIGINT words (31 a word): the packing must not mix criteria up."""
    expressions = ["hba1c >= 7", "tir < 70", "bmi > 30", "pregnant", 'diabetes_type == "T1D"']
    criteria = [{"id": f"K{i}", "kind": "inclusion" if i % 3 else "exclusion", "text": f"k{i}",
                 "expression": expressions[i % len(expressions)].replace("7", str(5 + i % 5))} for i in range(40)]
    criteria.append({"id": "N1", "kind": "inclusion", "text": "a visit decides"})
    trial = trial_from_dict({"id": "WIDE", "title": "40 criteria", "criteria": criteria})
    data = random_screening(1500, seed=9, variables=["hba1c", "tir", "bmi", "pregnant", "diabetes_type"])
    memory = evaluate(trial, data)
    duck = evaluate_histogram(trial, data, "duckdb")
    pd.testing.assert_frame_equal(histogram_frame(duck), histogram_frame(memory))
    assert_same_statistics(memory, duck)


def test_engines_are_chosen_by_name():
    assert "spark" in ENGINES
    with pytest.raises(DefinitionError, match="engine 'oracle'"):
        make_backend("oracle", None, T1D.catalogue)
    with pytest.raises(DefinitionError, match="no options"):
        make_backend("memory", None, T1D.catalogue, master="local[1]")


def test_the_spark_master_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(MASTER_ENV, raising=False)
    assert spark_master() == "local[*]"
    monkeypatch.setenv(MASTER_ENV, "sc://warehouse:15002")
    assert spark_master() == "sc://warehouse:15002"
    assert spark_master("spark://head:7077") == "spark://head:7077"


# --- Spark --------------------------------------------------------------------------------------

def test_spark_gives_the_statuses_of_memory_and_duckdb_on_every_construct(spark, constructs, tmp_path):
    trial, data = constructs
    memory = evaluate(trial, data)
    write_screening(data, tmp_path / "parquet")
    # subject level from a Screening; the Parquet folder's row order is checked by the ids query below
    assert_same_matrix(memory, evaluate(trial, data, engine="spark", spark=spark))
    # as a URI, the way a cluster's storage is named (hdfs://, s3a://); a plain folder in the next tests
    h = evaluate_histogram(trial, f"file://{tmp_path / 'parquet'}", "spark", spark=spark)
    pd.testing.assert_frame_equal(histogram_frame(h), histogram_frame(memory))
    assert_same_statistics(memory, h)
    policies = {"C0": "pass", "C2": "fail"}
    assert list(h.eligible_ids(None, policies, which="remaining")) == ids_of(memory, "remaining", None, policies)


def extreme_screening(values: list[float | None], flags: list[bool | None], seed: int) -> Screening:
    """A random cohort whose first subjects carry hand-picked extreme or missing values."""
    base = random_screening(400, seed=seed, missing=0.3)
    features = base.features.copy()
    n = min(len(values), len(features))
    for column in ("hba1c", "tir", "bmi", "alt", "alt_uln", "fasting_cpeptide", "age"):
        if column in features:
            features.iloc[:n, features.columns.get_loc(column)] = np.array(
                [np.nan if v is None else v for v in values[:n]], dtype=float)
    for column in ("pregnant", "hypoglycemia_unawareness"):
        if column in features:
            features.iloc[:len(flags[:n]), features.columns.get_loc(column)] = pd.array(flags[:n], dtype="boolean")
    # extremes the checks refuse (bmi 0, 1e300): what the engines do with them, so marked checked
    return Screening(features, base.events, base.event_lookback, base.event_counts, source="extremes", checked=True)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1e-300, -1e300, 1e300, 7.0, 70.0]),
                                 st.floats(-1e6, 1e6, allow_nan=False)), min_size=5, max_size=60),
       flags=st.lists(st.one_of(st.none(), st.booleans()), min_size=5, max_size=60),
       seed=st.integers(0, 1000))
def test_spark_histograms_match_on_cohorts_with_unknowns_and_extremes(spark, values, flags, seed):
    data = extreme_screening(values, flags, seed)
    memory = evaluate(T1D, data)
    spark_h = evaluate_histogram(T1D, data, "spark", spark=spark)
    pd.testing.assert_frame_equal(histogram_frame(spark_h), histogram_frame(memory))
    pd.testing.assert_frame_equal(histogram_frame(evaluate_histogram(T1D, data, "duckdb")), histogram_frame(memory))


def test_spark_matches_on_a_synthetic_cohort_by_partitions(spark, tmp_path):
    data = generate_screening("t1d", 3000, seed=4)
    memory = evaluate(T1D, data)
    write_screening(data, tmp_path)
    h = evaluate_histogram(T1D, tmp_path, "spark", spark=spark, partitions=3)
    pd.testing.assert_frame_equal(histogram_frame(h), histogram_frame(memory))
    assert_same_statistics(memory, h)


def test_a_features_table_in_several_files_keeps_each_subject_its_own_statuses(spark, tmp_path):
    """A features table Spark wrote (a folder of part files, as on a cluster's storage) numbers its subjects
    across the files: each file's row index starts at 0, and as the subject's position it gave several subjects
    the same one, so the ids and the statuses came back in different orders."""
    import shutil

    import pyarrow.parquet as pq

    data = random_screening(600, seed=8, missing=0.2)
    write_screening(data, tmp_path / "one")
    folder = tmp_path / "parts"
    shutil.copytree(tmp_path / "one", folder, ignore=shutil.ignore_patterns("features.parquet"))
    spark.read.parquet(str(tmp_path / "one" / "features.parquet")).repartition(3).write.parquet(
        str(folder / "features.parquet"))
    assert len(list((folder / "features.parquet").glob("*.parquet"))) == 3
    memory = evaluate(T1D, data)
    parts = evaluate(T1D, f"file://{folder}", engine="spark", spark=spark)
    # the files' subjects in their order (by file name), each file's rows in order
    expected = [str(x) for f in sorted((folder / "features.parquet").glob("*.parquet"))
                for x in pq.read_table(f, columns=["subject_id"]).column(0).to_pylist()]
    assert [str(x) for x in parts.subject_ids] == expected
    by_subject = {str(x): i for i, x in enumerate(memory.subject_ids)}
    order = np.array([by_subject[x] for x in expected])
    for cid, x, y in zip(memory.ids, memory.columns, parts.columns, strict=True):
        assert np.array_equal(x[order], y), cid


def test_a_local_session_bounds_its_jvm_heap(spark):
    # the dashboard's 2 GB at 10^7 subjects counts on the local JVM's heap staying at 1 GB (docs/engine.md)
    assert spark.sparkContext.getConf().get("spark.driver.memory") == LOCAL_DRIVER_MEMORY == "1g"
    # and on a task merging few spill files at once (each reader's buffer is outside Spark's accounting)
    assert spark.sparkContext.getConf().get("spark.unsafe.sorter.spill.merge.factor") == str(SPILL_MERGE_FACTOR)
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()  # the JVM's own -Xmx, as launched
    assert 0.5 * 1024 ** 3 < heap <= 1024 ** 3


def test_spark_errors_name_what_to_fix(spark, tmp_path):
    with pytest.raises(DataError, match="no features"):
        evaluate_histogram(T1D, tmp_path, "spark", spark=spark)
    with pytest.raises(DataError, match="no features.parquet"):
        evaluate_histogram(T1D, f"file://{tmp_path}", "spark", spark=spark)
    with pytest.raises(DataError, match="no table 'warehouse.nothing'"):
        make_backend("spark", {"features": "warehouse.nothing"}, T1D.catalogue, spark=spark)
    with pytest.raises(DataError, match="'features' table"):
        make_backend("spark", {"subjects": "x"}, T1D.catalogue, spark=spark)


# --- Spark Connect addresses (a server to talk to: scripts/check_spark_connect.py) -----------------------

def test_a_connect_address_where_no_server_listens_is_refused_at_once():
    """The Connect client alone retries an absent server for minutes in silence."""
    import socket
    import time

    from explorer.engine.spark import CONNECT_TIMEOUT, spark_session

    with socket.socket() as s:  # a port that was free a moment ago, and now has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(DataError, match=rf"no Spark Connect server answers at sc://127.0.0.1:{port} "):
        spark_session(f"sc://127.0.0.1:{port}")
    assert time.monotonic() - start < CONNECT_TIMEOUT


@pytest.mark.parametrize("master", ["sc://", "sc://warehouse:port", "sc:/warehouse:15002"])
def test_a_malformed_connect_address_says_how_to_write_one(master):
    from explorer.engine.spark import check_connect_server

    with pytest.raises(DataError, match="is not a Spark Connect address .*write sc://host:port"):
        check_connect_server(master)


def test_connect_without_its_client_packages_says_what_to_install(monkeypatch):
    import sys

    from explorer.engine.spark import check_connect_server

    monkeypatch.setitem(sys.modules, "pyspark.sql.connect.client", None)  # what an absent grpcio leads to
    with pytest.raises(DataError, match=r"pip install 'trial-explorer\[spark-connect\]'"):
        check_connect_server("sc://localhost:15002")


def test_spark_errors_lose_the_jvm_stack_trace_connect_puts_on_their_first_line():
    from explorer.engine.spark import spark_error

    connect = RuntimeError("[PATH_NOT_FOUND] Path does not exist: file:/x/features.parquet. SQLSTATE: 42K03 "
                           "JVM stacktrace: org.apache.spark.sql.AnalysisException at org.apache.spark.sql...")
    assert spark_error(connect) == "[PATH_NOT_FOUND] Path does not exist: file:/x/features.parquet."
    assert spark_error(ValueError("first line\nsecond")) == "first line"


def test_a_relative_folder_is_read_from_the_callers_folder(spark, tmp_path, monkeypatch):
    """A Connect server (and the JVM of a local session) resolves relative paths against its own working
    folder: the engine hands Spark absolute paths."""
    data = generate_screening("t1d", 300, seed=2)
    write_screening(data, tmp_path / "relative")
    monkeypatch.chdir(tmp_path)
    h = evaluate_histogram(T1D, "relative", "spark", spark=spark)
    pd.testing.assert_frame_equal(histogram_frame(h), histogram_frame(evaluate(T1D, data)))


def test_spark_reads_a_folder_named_like_a_glob_as_itself(spark, tmp_path):
    """Spark (Hadoop) globs the paths it reads: `site[1]` read `site1`'s file, and `site*` every site's."""
    from explorer.engine.spark import local_path

    named, decoy = tmp_path / "site[1]*", tmp_path / "site1"
    named.mkdir()
    decoy.mkdir()
    (named / "t.csv").write_text("a\n1\n")
    (decoy / "t.csv").write_text("a\n8\n9\n")
    rows = spark.read.option("header", True).csv(local_path(named / "t.csv")).collect()
    assert [r["a"] for r in rows] == ["1"]
