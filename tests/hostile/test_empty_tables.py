"""A table with a header and no rows, in every loader and engine.

A table of subjects with no rows stops the load with one message naming the file (0 subjects give no
funnel); a table of measurements, events, CGM, lab results or conditions with no rows is read as none of
them, noted in the load report, and the criteria that need them are unknown.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load
from explorer.cohort.loaders.readers import NO_SUBJECTS
from explorer.errors import DataError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohort"


def header_only(path: Path) -> None:
    """Keep the header line (or a Parquet file's schema) and no row."""
    if path.suffix == ".parquet":
        pd.read_parquet(path).iloc[:0].to_parquet(path)
    else:
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def copy(kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / kind, tmp_path / kind))


def as_parquet(folder: Path) -> Path:
    for csv in folder.glob("*.csv"):
        pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(csv.with_suffix(".parquet"))
        csv.unlink()
    return folder


def all_unknown(screening, variable: str) -> bool:
    """No subject has a value (a column the data lack is unknown for all, as the engines read it)."""
    return bool(screening.features.reindex(columns=[variable])[variable].isna().all())


def refused_without_subjects(path: Path, file: Path, **options) -> None:
    with pytest.raises(DataError) as err:
        load(path, **options)
    assert str(err.value) == f"file {file}: {NO_SUBJECTS}"


@pytest.mark.parametrize("parquet", [False, True])
def test_canonical_subjects_without_rows_is_refused_naming_the_file(tmp_path, parquet):
    folder = copy("canonical", tmp_path)
    folder = as_parquet(folder) if parquet else folder
    subjects = next(folder.glob("subjects.*"))
    header_only(subjects)
    refused_without_subjects(folder, subjects)


@pytest.mark.parametrize("table,variable", [("measurements", "hba1c"), ("events", None), ("cgm", None),
                                             ("event_history", None), ("event_counts", None)])
@pytest.mark.parametrize("parquet", [False, True])
def test_a_canonical_table_without_rows_is_no_rows_of_it(tmp_path, table, variable, parquet):
    folder = copy("canonical", tmp_path)
    folder = as_parquet(folder) if parquet else folder
    header_only(next(folder.glob(f"{table}.*")))
    loaded = load(folder)
    assert any(f"{table}." in note and "header but no rows" in note for note in loaded.report.notes)
    assert len(getattr(loaded.cohort, table)) == 0 and len(loaded.cohort.subjects) > 0
    assert loaded.report.balanced()
    if variable:
        assert all_unknown(screening_features(loaded.cohort), variable)  # unknown, never a value


def test_the_duckdb_path_reads_a_header_only_canonical_table_as_the_loader_does(tmp_path):
    from explorer.engine.canonical_sql import canonical_screening_sql

    folder = copy("canonical", tmp_path)
    header_only(folder / "measurements.csv")
    screening, report = canonical_screening_sql(folder, engine="duckdb")
    assert all_unknown(screening, "hba1c")
    assert report.notes == load(folder).report.notes
    header_only(folder / "subjects.csv")
    with pytest.raises(DataError) as err:
        canonical_screening_sql(folder, engine="duckdb")
    assert str(err.value) == f"file {folder / 'subjects.csv'}: {NO_SUBJECTS}"


def test_wide_tables_without_rows_are_refused_as_csv_parquet_and_excel(tmp_path):
    folder = copy("wide", tmp_path)
    header = pd.read_csv(folder / "export.csv", dtype=str).iloc[:0]
    for name, write in (("export.csv", lambda p: header_only(p)), ("export.parquet", header.to_parquet),
                        ("export.xlsx", lambda p: header.to_excel(p, index=False))):
        data = folder / name
        if not data.exists():
            write(data)
        else:
            write(data)
        refused_without_subjects(data, data, kind="wide", mapping=folder / "mapping.yaml")


def test_sdtm_dm_without_rows_is_refused_and_lb_without_rows_is_no_labs(tmp_path):
    folder = copy("sdtm", tmp_path)
    header_only(folder / "lb.csv")
    loaded = load(folder)
    assert any("lb.csv has a header but no rows" in note for note in loaded.report.notes)
    assert all_unknown(screening_features(loaded.cohort), "hba1c")
    header_only(folder / "dm.csv")
    refused_without_subjects(folder, folder / "dm.csv")


def test_omop_person_without_rows_is_refused_in_both_paths_and_measurement_is_no_measurements(tmp_path):
    from explorer.engine.omop_sql import omop_screening_sql

    folder = copy("omop", tmp_path)
    header_only(folder / "MEASUREMENT.csv")
    loaded = load(folder)
    assert any("MEASUREMENT.csv has a header but no rows" in note for note in loaded.report.notes)
    in_place, report = omop_screening_sql(folder, engine="duckdb")
    assert report.notes == loaded.report.notes
    assert all_unknown(in_place, "hba1c") and all_unknown(screening_features(loaded.cohort), "hba1c")

    header_only(folder / "PERSON.csv")
    refused_without_subjects(folder, folder / "PERSON.csv")
    with pytest.raises(DataError) as err:
        omop_screening_sql(folder, engine="duckdb")
    assert str(err.value) == f"file {folder / 'PERSON.csv'}: {NO_SUBJECTS}"


def test_a_cgm_file_without_rows_is_refused(tmp_path):
    data = copy("cgm", tmp_path) / "iglu_style.csv"
    header_only(data)
    refused_without_subjects(data, data)
