"""Hostile cells and files fed to every loader: a column named twice, dates as Excel serials, a byte-order
mark, an empty file and a binary file with a table's name. Each is refused naming the file (and column), or
read exactly as the clean file, alike in the pandas loaders and DuckDB in place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from explorer.cohort.loaders import load
from explorer.errors import DataError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohort"
# (kind, the table a researcher is likely to break, its column to repeat, options of load)
SOURCES = [("canonical", "measurements.csv", "value", {}),
           ("sdtm", "lb.csv", "LBSTRESN", {}),
           ("omop", "MEASUREMENT.csv", "value_as_number", {}),
           ("t1dexchange", "BSampleResults.txt", "Value", {}),
           ("wide", "export.csv", "ALT", {"kind": "wide", "mapping": "mapping.yaml"})]


def copy(kind: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / kind, tmp_path / kind))


def opened(folder: Path, table: str, options: dict):
    """What load() is given: the folder, or for a wide table the table itself with its mapping."""
    if "mapping" in options:
        return folder / table, {**options, "mapping": folder / options["mapping"]}
    return folder, options


def repeat_column(path: Path, column: str) -> None:
    """The table with `column` given a second time at the end (same values), as a careless export does."""
    sep = "|" if path.suffix == ".txt" else ","
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines[0].split(sep).index(column)
    path.write_text("\n".join(line + sep + (line.split(sep)[at] if line.count(sep) >= at else "")
                              for line in lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("kind,table,column,options", SOURCES)
def test_a_column_named_twice_is_refused_naming_it(tmp_path, kind, table, column, options):
    folder = copy(kind, tmp_path)
    repeat_column(folder / table, column)
    path, options = opened(folder, table, options)
    with pytest.raises(DataError) as err:
        load(path, **options)
    assert str(err.value).startswith(f"file {folder / table}, column {column!r}: the header names column "
                                     f"{column!r} 2 times")


def test_a_column_named_twice_is_refused_alike_by_duckdb_in_place(tmp_path):
    from explorer.engine.canonical_sql import canonical_screening_sql
    from explorer.engine.omop_sql import omop_screening_sql

    for kind, table, column, read in (("canonical", "measurements.csv", "value", canonical_screening_sql),
                                      ("omop", "MEASUREMENT.csv", "value_as_number", omop_screening_sql)):
        folder = copy(kind, tmp_path)
        repeat_column(folder / table, column)
        with pytest.raises(DataError) as in_place:
            read(folder, engine="duckdb")
        with pytest.raises(DataError) as loader:
            load(folder)
        assert str(in_place.value) == str(loader.value)


def test_names_that_differ_only_by_blanks_are_one_column_in_parquet_too(tmp_path):
    folder = copy("canonical", tmp_path)
    frame = pd.read_csv(folder / "measurements.csv", dtype=str)
    frame["value "] = frame["value"]
    frame.to_parquet(folder / "measurements.parquet")
    (folder / "measurements.csv").unlink()
    with pytest.raises(DataError, match="names column 'value' 2 times"):
        load(folder)


def test_dates_as_excel_serial_numbers_are_refused_with_the_date_they_stand_for(tmp_path):
    folder = copy("canonical", tmp_path)
    path = folder / "measurements.csv"
    text = path.read_text(encoding="utf-8")
    first_time = text.splitlines()[1].split(",")[1]
    serial = (pd.Timestamp(first_time) - pd.Timestamp("1899-12-30")).days
    path.write_text(text.replace(first_time, str(serial), 1), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load(folder)
    message = str(err.value)
    assert message.startswith(f"file {path}, column 'time', rows 2:")
    assert f"{str(serial)!r} looks like an Excel date serial number ({first_time}" in message


@pytest.mark.parametrize("kind,table,column,options", SOURCES)
def test_a_byte_order_mark_reads_as_the_clean_file(tmp_path, kind, table, column, options):
    clean, marked = copy(kind, tmp_path / "clean"), copy(kind, tmp_path / "marked")
    for path in marked.iterdir():
        if path.suffix in (".csv", ".txt"):
            path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (path_a, options_a), (path_b, options_b) = opened(clean, table, options), opened(marked, table, options)
    a, b = load(path_a, **options_a).cohort, load(path_b, **options_b).cohort
    for name in ("subjects", "measurements", "events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("content,said", [(b"", "the file is empty"), (b"\n \n", "the file is empty"),
                                          (os.urandom(2048) + b"\x00", "the content is a binary file")])
@pytest.mark.parametrize("kind,table,column,options", SOURCES)
def test_an_empty_or_binary_table_is_refused_naming_it(tmp_path, kind, table, column, options, content, said):
    folder = copy(kind, tmp_path)
    (folder / table).write_bytes(content)
    path, options = opened(folder, table, options)
    with pytest.raises(DataError) as err:
        load(path, **options)
    assert str(err.value).startswith(f"file {folder / table}") and said in str(err.value)


def test_a_subject_in_two_summaries_is_refused_naming_both_files(tmp_path):
    """The Shanghai release splits its subjects over a T1DM and a T2DM summary: one id in both is one subject
    twice; the error names both files and their rows, not the rows of the tables once joined."""
    folder = copy("shanghai", tmp_path)
    shutil.copy(folder / "Shanghai_T1DM_Summary.csv", folder / "Shanghai_T2DM_Summary.csv")
    with pytest.raises(DataError) as err:
        load(folder)
    assert str(err.value).startswith("column 'subject_id': subject id '9001' is in Shanghai_T1DM_Summary.csv row 3 "
                                     "and Shanghai_T2DM_Summary.csv row 3")
