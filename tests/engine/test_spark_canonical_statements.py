"""A canonical folder read in place asks few statements, and Spark numbers a Parquet table's rows as the file does.

In Spark every statement is a job with a fixed cost (0.5-1 s on two cores, whatever the table): a load that asked
123 small check queries and 42 uploads spent most of its time waiting for jobs at 2*10^4 subjects
(benchmarks/results/spark_canonical_profile.md). The checks now count their conditions together and upload the
mapped columns' lookups once per type; the statement count is the engine's code path, the same for DuckDB and
Spark, so it is counted here on DuckDB (fast) and on Spark once.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from screening_compare import assert_same_screening

from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort
from explorer.engine import omop_sql
from explorer.engine.canonical_sql import canonical_screening_sql

# What one load of the synthetic t1d tables (subjects with 60+ columns, measurements, events, CGM, history)
# may ask: 123 queries and 42 uploads before the checks were batched, 35-40 and 7 after
MAX_QUERIES = 45
MAX_UPLOADS = 10


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canonical")
    write_cohort(generate_cohort("t1d", 120, seed=11), folder, "parquet")
    return folder


def counted(monkeypatch, tables: type, names=("rows", "register")) -> Counter:
    calls: Counter = Counter()
    for name in names:
        plain = getattr(tables, name)

        def wrapped(self, *args, _plain=plain, _name=name, **kwargs):
            calls[_name] += 1
            return _plain(self, *args, **kwargs)

        monkeypatch.setattr(tables, name, wrapped)
    return calls


def test_a_canonical_load_asks_few_queries_and_uploads(canonical, monkeypatch):
    calls = counted(monkeypatch, omop_sql.DuckTables)
    canonical_screening_sql(canonical, engine="duckdb")
    assert 0 < calls["rows"] <= MAX_QUERIES
    assert 0 < calls["register"] <= MAX_UPLOADS


def test_spark_loads_with_few_statements_and_gives_duckdbs_screening(spark, canonical, monkeypatch):
    expected, expected_report = canonical_screening_sql(canonical, engine="duckdb")
    calls = counted(monkeypatch, omop_sql.SparkTables, ("rows", "register", "_keep"))
    got, report = canonical_screening_sql(canonical, engine="spark", spark=spark)
    assert_same_screening(expected, got)
    assert report.summary() == expected_report.summary()
    assert calls["rows"] <= MAX_QUERIES
    assert calls["register"] <= MAX_UPLOADS


def test_spark_numbers_a_parquet_tables_rows_from_the_file_across_its_splits(spark, tmp_path):
    """The source row number (te_src, header = row 1) is read from Parquet's row index, not by sorting the table
    in one partition; a file of many row groups read as many splits keeps the file's numbering."""
    n = 5000
    path = tmp_path / "subjects.parquet"
    pq.write_table(pa.table({"Subject_ID": [f"S{i:05d}" for i in range(n)][::-1], "x": list(range(n))}), path,
                   row_group_size=500)
    before = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    tables = omop_sql.SparkTables(spark)
    try:
        tables.scan(path, "te_test_scan")
        frame = spark.table("te_test_scan")
        assert frame.rdd.getNumPartitions() > 1
        assert frame.columns == ["subject_id", "x", omop_sql.ORDER]
        rows = frame.select("x", omop_sql.ORDER).toArrow()
        assert sorted(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True)) == \
            [(i, i + 2) for i in range(n)]
    finally:
        tables.close()
        spark.conf.set("spark.sql.files.maxPartitionBytes", before)
