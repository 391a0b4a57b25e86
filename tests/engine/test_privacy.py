"""Small-cell protection: no count between 1 and min_cell - 1 survives, in any table the engine makes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_cases import HAND, make_matrix
from random_cohort import random_screening

from explorer.engine import (
    baseline_table,
    display_frame,
    evaluate,
    funnel,
    impact,
    overlap,
    shapley,
    suppress_small_cells,
)
from explorer.engine.privacy import Protection, protect_counts, shown_count
from explorer.errors import DefinitionError
from explorer.trial import load_trial, trial_from_dict


def small_counts_left(frame: pd.DataFrame, k: int) -> list:
    found = []
    for col in frame.attrs["counts"]:
        values = frame[col].to_numpy(dtype=float, na_value=np.nan)
        found += [(col, v) for v in values if 0 < abs(v) < k]
    return found


def test_protect_counts():
    out = protect_counts([0, 1, 10, 11, 252], 11)
    assert out[0] == 0 and np.isnan(out[1]) and np.isnan(out[2]) and out[3] == 11 and out[4] == 252
    rounded = protect_counts([0, 3, 12, 13, 252], 11, "round", base=5)
    assert rounded[0] == 0 and np.isnan(rounded[1]) and np.isnan(rounded[2])  # 12 would show as 10
    assert rounded[3:].tolist() == [15, 250]


def test_funnel_counts_and_percentages_are_protected():
    m = make_matrix(HAND)
    f = suppress_small_cells(funnel(m), 3)
    assert f["excluded"].isna().tolist() == [False, False, True, True]
    assert f["excluded"].tolist()[:2] == [0, 3]
    assert f["remaining"].tolist() == [10, 7, 6, 4]
    assert pd.isna(f.loc[2, "excluded_pct_previous"])       # its count is hidden, so is its percentage
    assert f.loc[1, "remaining_pct_start"] == 70.0
    assert f.attrs["protected"]["min_cell"] == 3
    shown = display_frame(f)
    assert shown.loc[2, "excluded"] == "<3" and shown.loc[1, "excluded"] == "3"
    original = funnel(m)
    assert original["excluded"].tolist() == [0, 3, 1, 2]    # the input is not modified


@pytest.mark.parametrize("method", ["suppress", "round"])
def test_every_statistic_is_protected(method):
    data = random_screening(800, seed=4)
    m = evaluate(load_trial("NCT06196996"), data)
    for table in (funnel(m), impact(m), overlap(m), shapley(m), baseline_table(m, data)):
        protected = suppress_small_cells(table, 11, method=method)
        assert small_counts_left(protected, 11) == []
        if method == "round":
            for col in protected.attrs["counts"]:
                values = protected[col].dropna().to_numpy(dtype=float)
                assert np.all(np.isclose(values % 5, 0) | np.isclose(values % 5, 5))
    sh = suppress_small_cells(shapley(m), 11)
    assert sh["shapley"].isna().equals(sh["excluded_share"].isna())


def test_baseline_statistics_of_small_groups_are_hidden():
    data = random_screening(300, seed=1)
    # a one-criterion trial that leaves 7 of 300 eligible: a group small enough to be blanked
    trial = trial_from_dict({"id": "SMALL-1", "title": "a small eligible group", "criteria": [
        {"id": "I1", "kind": "inclusion", "text": "aged 78 or more", "expression": "age >= 78"}]})
    m = evaluate(trial, data)
    raw = baseline_table(m, data, variables=["age", "sex"])
    assert raw.loc[raw["variable"] == "age", "eligible_n"].iloc[0] == 7
    table = suppress_small_cells(raw, 11)
    age = table[table["variable"] == "age"].iloc[0]
    assert pd.isna(age["eligible_n"])
    assert pd.isna(age["eligible_value"]) and pd.isna(age["eligible_median"]) and pd.isna(age["smd"])
    assert not pd.isna(age["screened_value"])


def test_bad_settings_are_refused():
    f = funnel(make_matrix(HAND))
    with pytest.raises(DefinitionError):
        suppress_small_cells(f, 0)
    with pytest.raises(DefinitionError):
        suppress_small_cells(f, 11, method="blur")


def test_a_plain_table_takes_integer_columns_as_counts():
    frame = pd.DataFrame({"group": ["a", "b"], "n": [3, 40], "mean": [1.5, 2.5]})
    out = suppress_small_cells(frame, 11)
    assert out["n"].isna().tolist() == [True, False] and out["mean"].tolist() == [1.5, 2.5]


def test_one_rule_decides_how_a_count_is_shown():
    """Protection.text is the only formatter: the header, tables and figures all call it."""
    suppress, rounded = Protection(11, "suppress"), Protection(11, "round")
    assert [suppress.text(v) for v in (0, 1, 10, 11, 12, 1234, None)] == ["0", "<11", "<11", "11", "12", "1,234", "<11"]
    # 12 rounds to 10, which is below 11: it must read "<11" wherever it is shown, never "10"
    assert [rounded.text(v) for v in (0, 3, 12, 13, 1234)] == ["0", "<11", "<11", "15", "1,235"]
    assert shown_count(12, 11, "round") == "<11" and shown_count(12, 0) == "12"
    # idempotent: an already protected (blanked) value is shown the same way again
    assert rounded.text(rounded.count(12)) == "<11" and rounded.text(rounded.count(13)) == "15"
