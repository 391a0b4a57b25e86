"""With on_invalid="raise" a load lists every invalid value of its files in one error (file, column, rows,
values, what to do), bounded; with "reject" text in a number cell is unknown, counted and listed, alike in the
pandas loader and DuckDB in place. Before, the load stopped at the first offending column, and "reject"
stopped at text in a number cell too."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.loaders import load
from explorer.cohort.loaders.problems import MAX_ROWS_LISTED
from explorer.engine.canonical_sql import canonical_screening_sql
from explorer.errors import DataError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cohort"


def canonical(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "canonical", tmp_path / "canonical"))


def set_cells(path: Path, column: str, values: dict[int, str]) -> None:
    """Write `values` (data row number as a spreadsheet shows it -> text) into `column` of a CSV table."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for row, value in values.items():
        frame.loc[row - 2, column] = value
    frame.to_csv(path, index=False)


def many_measurements(folder: Path, n: int) -> None:
    """The measurements table with n more HbA1c rows whose value is text."""
    path = folder / "measurements.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    extra = pd.DataFrame({"subject_id": "A1", "time": [f"2023-{1 + i % 12:02d}-{1 + i // 12:02d}" for i in range(n)],
                          "variable": "hba1c", "value": [f"x{i}" for i in range(n)], "unit": "%"})
    pd.concat([frame, extra], ignore_index=True).fillna("").to_csv(path, index=False)


def test_every_bad_column_of_every_file_in_one_error(tmp_path):
    folder = canonical(tmp_path)
    set_cells(folder / "subjects.csv", "diagnosis_date", {3: "03/04/2015"})
    set_cells(folder / "subjects.csv", "sex", {2: "yes"})
    set_cells(folder / "measurements.csv", "value", {2: "7,5"})
    set_cells(folder / "measurements.csv", "time", {4: "last spring"})
    with pytest.raises(DataError) as err:
        load(folder)
    message = str(err.value)
    for place in ("subjects.csv, column 'diagnosis_date', rows 3 '03/04/2015'", "subjects.csv, column 'sex', rows 2 'yes'",
                  "measurements.csv, column 'value', rows 2 '7,5'",
                  "measurements.csv, column 'time', rows 4 'last spring'"):
        assert place in message, message
    assert "4 invalid value(s) in 4 column(s)" in message and "\n" not in message
    assert "a decimal comma, as in '7,5', is not read: write '7.5'" in message
    assert "on_invalid='reject'" not in message  # dates and sexes are refused whatever the choice: "fix them"


def test_the_rows_listed_are_bounded_and_the_count_is_exact(tmp_path):
    folder = canonical(tmp_path)
    many_measurements(folder, 57)
    with pytest.raises(DataError) as err:
        load(folder)
    message = str(err.value)
    assert err.value.column == "value" and len(err.value.rows) == MAX_ROWS_LISTED and err.value.count == 57
    assert "... (57 in all)" in message and "text in a numeric column ('x0', 'x1', 'x2', 'x3', 'x4' ...)" in message
    assert "on_invalid='reject'" in message and len(message) < 2_000


def test_a_huge_cell_does_not_make_a_huge_error(tmp_path):
    folder = canonical(tmp_path)
    set_cells(folder / "measurements.csv", "value", {2: "9" * 10**6 + "x", 3: "é" * 10**6})
    with pytest.raises(DataError) as err:
        load(folder)
    assert len(str(err.value)) < 1_000 and "rows 2, 3" in str(err.value)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_reject_makes_text_in_number_cells_unknown_and_lists_them(tmp_path, engine):
    folder = canonical(tmp_path)
    set_cells(folder / "measurements.csv", "value", {2: "abc", 3: "7,5"})
    set_cells(folder / "subjects.csv", "hiv_positive", {2: "false"})
    if engine == "pandas":
        loaded = load(folder, on_invalid="reject")
        report, hba1c = loaded.report, loaded.cohort.measurements
        assert not ((hba1c["variable"] == "hba1c") & hba1c["value"].isna()).any()  # the rows are left out
    else:
        _, report = canonical_screening_sql(folder, on_invalid="reject")
    [invalid] = report.invalid
    assert (Path(invalid.file).name, invalid.column, invalid.count, invalid.rows) == ("measurements.csv", "value", 2,
                                                                                      (2, 3))
    assert report.conversions["value: text in a numeric column -> unknown"] == 2
    assert report.balanced()


def test_reject_agrees_between_pandas_and_duckdb(tmp_path):
    folder = canonical(tmp_path)
    set_cells(folder / "measurements.csv", "value", {2: "abc", 5: "1.234,5", 6: "inf"})
    pandas_report = load(folder, on_invalid="reject").report
    _, duck_report = canonical_screening_sql(folder, on_invalid="reject")
    assert pandas_report.invalid == duck_report.invalid
    assert pandas_report.conversions == duck_report.conversions and pandas_report.tables == duck_report.tables


def test_wide_table_names_each_bad_column(tmp_path):
    folder = Path(shutil.copytree(FIXTURES / "wide", tmp_path / "wide"))
    set_cells(folder / "export.csv", "ALT", {2: "high", 3: "1e400"})
    set_cells(folder / "export.csv", "Age", {3: "thirty"})
    with pytest.raises(DataError) as err:
        load(folder / "mapping.yaml")
    message = str(err.value)
    assert "column 'ALT', rows 2 'high', 3 '1e400'" in message and "column 'Age', rows 3 'thirty'" in message
    loaded = load(folder / "mapping.yaml", on_invalid="reject")
    assert {(v.column, v.count) for v in loaded.report.invalid} == {("ALT", 2), ("Age", 1)}
    assert np.isnan(loaded.cohort.subjects["age"].iloc[1])
