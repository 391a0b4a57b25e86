"""Why values are unknown, whichever engine reads the folder: the DuckDB and Spark engines read a folder's
missing_reasons.parquet (folder_writer.write_screening_folder writes it) and give the memory engine's reasons."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import read_screening, write_screening
from explorer.engine.duck import DuckDBBackend
from explorer.engine.layout import REASONS, ordered_reasons, reason_counts
from explorer.errors import DataError


@pytest.fixture(scope="module")
def screening():
    return generate_screening("t1d", 400, seed=21)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, screening):
    """A folder with its reasons, plus reasons of subjects not screened (left out by every engine)."""
    out = write_screening(screening, tmp_path_factory.mktemp("reasons") / "s")
    reasons = screening.missing_reasons.astype(str)
    stray = pd.DataFrame({"subject_id": ["not-screened", "not-screened"], "variable": ["hba1c", "c_peptide"],
                          "reason": ["no measurement in the window", "never measured"]})
    pq.write_table(pa.Table.from_pandas(pd.concat([stray, reasons.iloc[::-1]], ignore_index=True),
                                        preserve_index=False), out / REASONS)
    return out


def memory_reasons(folder) -> pd.DataFrame:
    return ordered_reasons(read_screening(folder).missing_reasons)


def test_the_folder_has_reasons_to_compare(folder, screening):
    reasons = memory_reasons(folder)
    assert len(reasons) == len(screening.missing_reasons) > 100
    assert reasons["reason"].nunique() > 1 and reasons["variable"].nunique() > 3


def test_duckdb_gives_the_memory_engines_reasons_for_a_folder(folder):
    backend = DuckDBBackend(folder)
    pd.testing.assert_frame_equal(backend.missing_reasons(), memory_reasons(folder))
    assert backend.reason_counts() == reason_counts(read_screening(folder).missing_reasons)


def test_duckdb_gives_the_reasons_of_an_in_memory_screening_and_of_a_csv_folder(folder, screening, tmp_path):
    expected = memory_reasons(folder)
    pd.testing.assert_frame_equal(DuckDBBackend(read_screening(folder)).missing_reasons(), expected)
    csv = write_screening(screening, tmp_path / "csv", format="csv")
    pq.write_table(pq.read_table(folder / REASONS), csv / REASONS)
    pd.testing.assert_frame_equal(DuckDBBackend(csv).missing_reasons(), expected)


def test_a_folder_without_reasons_has_none_in_any_engine(tmp_path, screening):
    plain = write_screening(dataclasses.replace(screening, missing_reasons=None), tmp_path / "plain")
    assert read_screening(plain).missing_reasons is None
    assert DuckDBBackend(plain).missing_reasons() is None and DuckDBBackend(plain).reason_counts() == {}


def test_a_reasons_file_without_its_columns_is_refused_by_name(tmp_path, screening):
    broken = write_screening(screening, tmp_path / "broken")
    pq.write_table(pa.table({"subject_id": ["T1D-0000001"], "why": ["never measured"]}), broken / REASONS)
    for open_folder in (read_screening, DuckDBBackend):
        with pytest.raises(DataError, match="missing_reasons.parquet.*variable|variable.*missing_reasons"):
            open_folder(broken)


def test_spark_gives_the_memory_engines_reasons_for_a_folder(spark, folder):
    from explorer.engine.spark import SparkBackend

    backend = SparkBackend(folder, spark=spark)
    try:
        pd.testing.assert_frame_equal(backend.missing_reasons(), memory_reasons(folder))
        assert backend.reason_counts() == reason_counts(read_screening(folder).missing_reasons)
    finally:
        backend.close()


def test_spark_gives_the_reasons_of_an_in_memory_screening_without_uploading_them(spark, folder, screening):
    """A Screening held in this process keeps its reasons here: uploaded as text (about 14 rows a subject) they
    filled the local session's 1 GB heap at 3*10^5 subjects (benchmarks/results/spark_canonical_11_3e5.md)."""
    from explorer.engine.spark import SparkBackend

    held = read_screening(folder)
    backend = SparkBackend(held, spark=spark)
    try:
        assert backend.tables["missing_reasons"] not in {t.name for t in spark.catalog.listTables()}
        pd.testing.assert_frame_equal(backend.missing_reasons(), DuckDBBackend(held).missing_reasons())
        pd.testing.assert_frame_equal(backend.missing_reasons(), memory_reasons(folder))
        assert backend.reason_counts() == reason_counts(held.missing_reasons)
    finally:
        backend.close()
    plain = SparkBackend(dataclasses.replace(screening, missing_reasons=None), spark=spark)
    try:
        assert plain.missing_reasons() is None and plain.reason_counts() == {}
    finally:
        plain.close()


def test_a_local_session_scans_an_in_memory_screening_from_disk_and_removes_the_files(spark, folder):
    """Uploaded from Python, a Screening's features were held whole in the JVM's 1 GB heap; a local session now
    scans them from a temporary Parquet folder (as any folder), which goes when the backend goes."""
    import gc
    from pathlib import Path

    from explorer.engine.spark import SparkBackend

    held = read_screening(folder)
    backend = SparkBackend(held, spark=spark)
    files = spark.table(backend.tables["features"]).inputFiles()
    assert len(files) == 1 and files[0].endswith("features.parquet")
    spilled = Path(files[0].removeprefix("file:")).parent
    assert spilled.is_dir() and not (spilled / REASONS).exists()  # the reasons stay in Python
    assert backend.subject_ids().equals(held.features.index.astype("string"))
    backend.close()
    del backend
    gc.collect()
    assert not spilled.exists()
