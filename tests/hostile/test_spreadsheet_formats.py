"""Spreadsheets other than .xlsx, and .xlsx read once.

An old .xls (an OLE2 compound file) and an .ods (a ZIP of XML) have no guarded reader: pandas would hand them
to xlrd or odfpy, which load a whole sheet unchecked (and are not installed: the error was "needs an extra
package"). Each is refused naming the file and the format to save it as. An .xlsx sheet is streamed once, the
bomb guard and the reading in one pass (before: the guard's pass, then pandas' own), with the frame pandas
would give."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from explorer.cohort.loaders import load, readers
from explorer.errors import DataError

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def ods(path: Path) -> Path:
    """A minimal OpenDocument spreadsheet: the mimetype stored first, as every writer does."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE)
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("META-INF/manifest.xml", "<manifest/>")
    return path


def test_an_old_xls_is_refused_saying_what_to_save_it_as(tmp_path):
    path = tmp_path / "export.xls"
    path.write_bytes(OLE2 + b"\x00" * 4000)
    with pytest.raises(DataError) as err:
        readers.read_table(path)
    assert str(err.value).startswith(f"file {path}: an old Excel 97-2003 workbook (.xls) is not read")
    assert "save it as .xlsx" in str(err.value) and "CSV UTF-8" in str(err.value)
    with pytest.raises(DataError, match="Excel 97-2003"):  # through detection too
        load(path)


def test_an_ods_is_refused_saying_what_to_save_it_as(tmp_path):
    path = ods(tmp_path / "export.ods")
    assert readers.sniff(path) == "ods"
    with pytest.raises(DataError) as err:
        readers.read_table(path)
    assert str(err.value).startswith(f"file {path}: an OpenDocument spreadsheet (.ods) is not read")
    renamed = ods(tmp_path / "export.xlsx")
    with pytest.raises(DataError, match="promises an Excel .*content is an OpenDocument"):
        readers.read_table(renamed)


def typed_workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    rows = [["subject_id", "index_date", "age", "hba1c", "smoker", "note", None, "last"],
            ["A1", dt.datetime(2024, 3, 1), 34, 7.0, True, "NA", None, "x"],
            ["A2", dt.datetime(2024, 3, 2, 8, 30), 58.5, None, False, "", None, None],
            [None, None, None, None, None, None, None, None],  # an empty row inside the table
            ["A3", "2024-03-03", 1e308, float("inf"), None, "#N/A", None, 3]]
    for row in rows:
        sheet.append(row)
    sheet["D5"] = "=1/0"  # a formula: data_only reads its cached value (none here)
    for _ in range(30):
        sheet.append([None] * 8)  # formatted empty rows below the table
    book.save(path)
    return path


def test_an_xlsx_gives_the_frame_pandas_gives(tmp_path):
    path = typed_workbook(tmp_path / "typed.xlsx")
    ours = readers.read_table(path)
    theirs = pd.read_excel(path, dtype=object)
    theirs.index = ours.index
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours.loc[2, "age"] == 34 and isinstance(ours.loc[2, "age"], int) and ours.loc[3, "age"] == 58.5
    assert np.isnan(ours.loc[2, "note"])  # "NA" is a missing marker for pandas' parser as for the loaders


def test_an_xlsx_sheet_is_read_once(tmp_path, monkeypatch):
    path = typed_workbook(tmp_path / "typed.xlsx")
    opened = []
    real = openpyxl.load_workbook
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a) or real(*a, **k))
    readers.read_table(path)
    assert len(opened) == 1


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_table_cut_off_inside_its_last_row_is_refused(tmp_path, engine):
    """Found by the format sweep: a subjects table cut inside its last row loaded that subject with blanks
    (pandas pads short rows), so criteria on the lost fields became unknown without a word."""
    import shutil

    from explorer.engine.canonical_sql import canonical_screening_sql

    folder = Path(shutil.copytree(Path(__file__).parents[1] / "fixtures" / "cohort" / "canonical", tmp_path / "c"))
    path = folder / "measurements.csv"
    text = path.read_bytes().rstrip(b"\n")
    path.write_bytes(text[: text.rindex(b",") - 3])  # the last row loses its last fields, and its line end
    with pytest.raises(DataError) as err:
        load(folder) if engine == "pandas" else canonical_screening_sql(folder)
    assert str(err.value).startswith(f"file {path}: the file ends inside a row: its last line (")
    path.write_bytes(text)  # no line end after a whole row: a common export, read as it is
    assert len(load(folder).cohort.measurements) > 0
