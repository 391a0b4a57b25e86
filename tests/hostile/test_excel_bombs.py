"""Workbooks made to exhaust the reader are refused, naming the file, before their rows are read.

An .xlsx is a ZIP container of XML parts: a part that unpacks hundreds of times larger than packed (a
decompression bomb) is refused as any ZIP member is; a sheet with formatting dragged over millions of empty
rows, or more rows than Excel allows, is refused while it is streamed in read-only mode.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from explorer.cohort.loaders import load, readers
from explorer.errors import DataError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohort" / "wide"
SHEET = "xl/worksheets/sheet1.xml"


def workbook(folder: Path) -> Path:
    """The wide fixture as an .xlsx next to its mapping."""
    shutil.copy(FIXTURES / "mapping.yaml", folder / "mapping.yaml")
    path = folder / "export.xlsx"
    pd.read_csv(FIXTURES / "export.csv", dtype=str).to_excel(path, index=False)
    return path


def rewritten(path: Path, after_rows: bytes, *, first: int, count: int, padding: int = 0) -> Path:
    """The workbook with `count` rows numbered from `first` (formatted, no value) appended to its sheet, or
    `padding` bytes of blanks (a part that compresses about 1,000 times), streamed into the new ZIP."""
    out = path.with_name("bomb.xlsx")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != SHEET:
                target.writestr(info.filename, data)
                continue
            head, tail = data.split(b"</sheetData>")
            with target.open(SHEET, "w", force_zip64=True) as part:
                part.write(head)
                for start in range(first, first + count, 10_000):
                    part.write(b"".join(after_rows % n for n in range(start, min(start + 10_000, first + count))))
                for _ in range(padding // 2**20):
                    part.write(b" " * 2**20)
                part.write(b"</sheetData>" + tail)
    return out


FORMATTED_EMPTY_ROW = b'<row r="%d" s="1" customFormat="1" ht="15" customHeight="1"/>'


def test_a_decompression_bomb_is_refused_before_it_is_unpacked(tmp_path):
    bomb = rewritten(workbook(tmp_path), FORMATTED_EMPTY_ROW, first=10, count=0, padding=80 * 2**20)
    assert bomb.stat().st_size < 2**20  # 80 MB of sheet in less than 1 MB
    with pytest.raises(DataError) as err:
        load(bomb, kind="wide", mapping=tmp_path / "mapping.yaml")
    message = str(err.value)
    assert message.startswith(f"file {bomb}: member {SHEET} unpacks to") and "times its packed size" in message
    assert "export the sheet as CSV" in message


def test_formatted_empty_rows_after_the_table_are_refused_while_streamed(tmp_path):
    rows = readers.MAX_TRAILING_EMPTY_ROWS + 5
    bomb = rewritten(workbook(tmp_path), FORMATTED_EMPTY_ROW, first=10, count=rows)
    with pytest.raises(DataError) as err:
        load(bomb, kind="wide", mapping=tmp_path / "mapping.yaml")
    assert str(err.value).startswith(f"file {bomb}: sheet 'Sheet1' has more than "
                                     f"{readers.MAX_TRAILING_EMPTY_ROWS:,} rows without a value after row")


def test_a_few_formatted_empty_rows_are_not_read_as_subjects(tmp_path):
    """Formatting dragged down a few thousand rows is common: the table ends at its last value."""
    path = workbook(tmp_path)
    plain = load(path, kind="wide", mapping=tmp_path / "mapping.yaml")
    dragged = load(rewritten(path, FORMATTED_EMPTY_ROW, first=10, count=5_000), kind="wide",
                   mapping=tmp_path / "mapping.yaml")
    assert dragged.cohort.subjects.equals(plain.cohort.subjects)


def test_more_rows_than_excel_allows_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "EXCEL_MAX_ROWS", 12)  # Excel's 1,048,576, made small to keep the test quick
    bomb = rewritten(workbook(tmp_path), b'<row r="%d"><c t="inlineStr"><is><t>x</t></is></c></row>', first=10,
                     count=20)
    with pytest.raises(DataError, match="has more than 12 rows, more than Excel allows"):
        load(bomb, kind="wide", mapping=tmp_path / "mapping.yaml")
