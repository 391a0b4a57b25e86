"""Raw cells to numbers: missing markers, censored values, categorical counts (explorer.cohort.values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.values import merge_counts, parse_numbers
from explorer.errors import DataError


def test_plain_numbers_and_missing_markers():
    parsed = parse_numbers(pd.Series(["7.9", " 12 ", "/", "", None, "NA", "n/a", ".", "1e-3", "+3"]), column="x")
    assert parsed.values[[0, 1, 8, 9]] == pytest.approx([7.9, 12.0, 0.001, 3.0])
    assert np.isnan(parsed.values[2:8]).all()
    assert parsed.counts == {"numeric": 4, "missing": 6}


def test_censored_measurements_below_half_limit_above_limit():
    parsed = parse_numbers(pd.Series(["<0.017", "<=0.2", ">600", "≥ 40", "0.5"]), column="cpep")
    assert parsed.values == pytest.approx([0.0085, 0.1, 600.0, 40.0, 0.5])
    # the codes keep whether the limit itself is inside: "<" -1, "<=" -2, ">" 1, ">=" 2 (values.CENSORING)
    assert parsed.censored.tolist() == [-1, -2, 1, 2, 0]
    assert parsed.counts == {"below_limit": 2, "above_limit": 2, "numeric": 1}


def test_categorical_counts_take_the_lower_bound():
    parsed = parse_numbers(pd.Series(["10 - 19", "5-9", ">19", "<3", ">=20", "0", "2 to 4"]), column="n", kind="count")
    assert parsed.values.tolist() == [10, 5, 20, 0, 20, 0, 2]
    assert parsed.counts == {"range": 3, "open_range": 3, "numeric": 1}


def test_a_range_is_not_a_measurement():
    with pytest.raises(DataError, match="text in a numeric column"):
        parse_numbers(pd.Series(["10 - 19"]), column="hba1c")


def test_text_in_numeric_column_names_file_column_rows():
    raw = pd.Series(["7.1", "high", "6.9", "hemolysed", "high"], index=[2, 3, 4, 5, 6])
    with pytest.raises(DataError) as err:
        parse_numbers(raw, column="HbA1c", file="labs.csv")
    message = str(err.value)
    assert "labs.csv" in message and "'HbA1c'" in message and "rows 3, 5, 6" in message and "'high'" in message


@pytest.mark.parametrize("cell", ["inf", "1_000", "1,5", "nan%", "--5"])
def test_strings_python_would_accept_are_text(cell):
    with pytest.raises(DataError):
        parse_numbers(pd.Series([cell]), column="x")


def test_text_as_unknown_is_a_counted_conversion():
    parsed = parse_numbers(pd.Series(["1", "positive", "2"]), column="x", on_text="unknown")
    assert np.isnan(parsed.values[1])
    assert parsed.counts == {"numeric": 2, "text_as_unknown": 1}


def test_numeric_dtype_passes_through():
    parsed = parse_numbers(pd.Series([1.5, np.nan]), column="x")
    assert parsed.values[0] == 1.5 and parsed.counts == {"numeric": 1, "missing": 1}


def test_many_cells_cost_distinct_texts():
    raw = pd.Series(np.tile(["<0.017", "0.4", "/"], 200_000))
    parsed = parse_numbers(raw, column="x")
    assert parsed.counts == {"below_limit": 200_000, "numeric": 200_000, "missing": 200_000}


def test_merge_counts():
    assert merge_counts({"a": 1}, {"a": 2, "b": 1}) == {"a": 3, "b": 1}


# --- digits (issue 12) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["\uff17.\uff15", "\uff11\uff12", "\u0661\u0662", "7.\uff15", "<\uff10.\uff11"])
def test_non_ascii_digits_are_text_not_numbers(cell):
    with pytest.raises(DataError, match="non-ASCII digits"):
        parse_numbers(pd.Series([cell, "7.0"]), column="value", file="f.csv")
    parsed = parse_numbers(pd.Series([cell, "7.0"]), column="value", on_text="unknown")
    assert np.isnan(parsed.values[0]) and parsed.counts["text_as_unknown"] == 1


def test_non_ascii_digits_normalised_when_asked_and_counted():
    parsed = parse_numbers(pd.Series(["\uff17.\uff15", "<\uff10.\uff11", "7.0", "abc"]), column="value",
                           on_text="unknown", normalise_digits=True)
    assert parsed.values[:3].tolist() == [7.5, 0.05, 7.0] and parsed.censored[1] == -1
    assert parsed.counts["normalised_digits"] == 2 and parsed.counts["text_as_unknown"] == 1


@pytest.mark.parametrize("cell", ["1e999", "-1e400", "<1e999"])
def test_numbers_too_large_for_a_float_are_text(cell):
    with pytest.raises(DataError, match="text in a numeric column"):
        parse_numbers(pd.Series([cell]), column="value")


def test_infinity_in_a_typed_column_is_an_error():
    with pytest.raises(DataError, match="infinite value"):
        parse_numbers(pd.Series([1.0, np.inf]), column="value", file="f.parquet")
    parsed = parse_numbers(pd.Series([1.0, -np.inf]), column="value", on_text="unknown")
    assert np.isnan(parsed.values[1]) and parsed.counts == {"numeric": 1, "missing": 0, "text_as_unknown": 1}
