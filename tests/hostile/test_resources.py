"""Inputs that make memory or time explode are refused within bounds, with one short line naming the file.

Measured by hand before the fixes (docs/robustness.md): a cell of 10^8 characters gave a 100 MB error message
(the pandas loader quoted it whole) and DuckDB's message quoted the file's line; a ZIP member of zeros was
unpacked whole into memory before any check.
"""

from __future__ import annotations

import shutil
import zipfile

import pytest
from project_paths import FIXTURES

from explorer.cohort.loaders import load
from explorer.cohort.loaders.readers import RATIO_CHECKED_ABOVE
from explorer.engine.canonical_sql import canonical_screening_sql
from explorer.errors import DataError

LONG = 3_000_000  # longer than DuckDB's longest line (2,000,000 bytes), so both readers meet it


def _with_row(tmp_path, table: str, row: str):
    folder = tmp_path / "canonical"
    shutil.copytree(FIXTURES / "cohort" / "canonical", folder)
    with open(folder / table, "a") as handle:
        handle.write(row + "\n")
    return folder


LONG_CELLS = {  # (table, row) with one cell of LONG characters, in each column a loader quotes in its errors
    "unit": ("measurements.csv", "A1,2024-01-01,hba1c,7,{},,", "u"),
    "time": ("events.csv", "A1,{},severe_hypoglycemia,", "2"),
    "subject id": ("measurements.csv", "{},2024-01-01,hba1c,7,%,,", "A"),
    "value": ("measurements.csv", "A1,2024-01-01,hba1c,{},%,,", "x"),
}


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
@pytest.mark.parametrize("column", list(LONG_CELLS))
def test_a_cell_of_millions_of_characters_is_one_short_line_naming_the_file(tmp_path, engine, column):
    table, row, letter = LONG_CELLS[column]
    folder = _with_row(tmp_path, table, row.format(letter * LONG))
    with pytest.raises(DataError) as caught:
        if engine == "memory":
            load(folder)
        else:
            canonical_screening_sql(folder)
    message = str(caught.value)
    assert len(message) < 400 and "\n" not in message, message[:600]
    assert table in message
    assert letter * 100 not in message  # at most a short quote of the cell, never the file's line


def _bomb(path, member: str, size: int) -> None:
    info = zipfile.ZipInfo(member)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("concept.csv", "concept_id,concept_name,domain_id,vocabulary_id,concept_code\n")
        with archive.open(info, "w", force_zip64=True) as handle:
            handle.write(b"person_id,gender_concept_id,year_of_birth\n")
            chunk = b"0" * 2**20
            for _ in range(size // len(chunk)):
                handle.write(chunk)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    bomb = tmp_path / "cdm.zip"
    _bomb(bomb, "person.csv", RATIO_CHECKED_ABOVE + 2**20)
    assert bomb.stat().st_size < 2**20  # a few hundred kB that unpack to more than 64 MB
    with pytest.raises(DataError, match=r"cdm\.zip: member person\.csv unpacks to [\d,]+ bytes") as caught:
        load(bomb)
    assert "unzip the archive" in str(caught.value)
