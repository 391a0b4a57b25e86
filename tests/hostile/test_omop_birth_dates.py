"""A placeholder birth date in OMOP's PERSON table is reported naming the PERSON fields it was read from.

OMOP users know year_of_birth, month_of_birth, day_of_birth and birth_datetime, not the canonical birth_date:
the pandas loader and DuckDB in place give the same message naming the field(s) the date came from.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from explorer.cohort.loaders import load
from explorer.engine.omop_sql import omop_screening_sql
from explorer.errors import DataError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohort" / "omop"
HEADER = "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,race_concept_id\n"
PLAUSIBLE = "1,8532,1985,4,9,1985-04-09 00:00:00,8527\n"


def cdm(tmp_path: Path, person_row: str) -> Path:
    folder = Path(shutil.copytree(FIXTURES, tmp_path / "omop"))
    (folder / "PERSON.csv").write_text(HEADER + PLAUSIBLE + person_row, encoding="utf-8")
    return folder


def both_errors(folder: Path) -> tuple[str, str]:
    with pytest.raises(DataError) as pandas_err:
        load(folder)
    with pytest.raises(DataError) as sql_err:
        omop_screening_sql(folder, engine="duckdb")
    return str(pandas_err.value), str(sql_err.value)


@pytest.mark.parametrize("row,fields", [
    ("2,8507,1900,,,,8527\n", "year_of_birth"),
    ("2,8507,1900,1,1,,8527\n", "year_of_birth/month_of_birth/day_of_birth"),
    ("2,8507,1900,1,,,8527\n", "year_of_birth/month_of_birth"),
    ("2,8507,1985,1,1,1900-01-01 00:00:00,8527\n", "birth_datetime"),
])
def test_the_error_names_the_person_fields_read_alike_in_both_paths(tmp_path, row, fields):
    pandas_message, sql_message = both_errors(cdm(tmp_path, row))
    assert pandas_message == sql_message
    assert f"column '{fields}', rows 3:" in pandas_message
    assert f"subject '2': {fields} 1900-" in pandas_message and f"correct or blank the {fields.replace('_', ' ')}" \
        in pandas_message
    assert re.search(r"\bbirth_date\b", pandas_message) is None  # the canonical name, not in the user's file


def test_made_unknown_the_report_names_the_person_fields_alike(tmp_path):
    folder = cdm(tmp_path, "2,8507,1900,,,,8527\n3,8507,1985,1,1,1900-01-01,8527\n")
    loaded = load(folder, on_invalid="reject")
    _, report = omop_screening_sql(folder, engine="duckdb", on_invalid="reject")
    assert report.conversions == loaded.report.conversions
    [invalid] = loaded.report.invalid
    assert (invalid.column, invalid.rows) == ("year_of_birth or birth_datetime", (3, 4))
    assert report.invalid == loaded.report.invalid
