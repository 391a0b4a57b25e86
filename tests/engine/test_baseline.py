"""Table 1: the eligible pool against the screened population, computed once per eligible mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cohort_helpers import screening
from engine_cases import small_trial

from explorer.app.tables import format_baseline
from explorer.engine import baseline_table, evaluate, write_screening
from explorer.engine.baseline import _PREPARED, level_codes
from explorer.errors import DefinitionError

DATA = screening(age=[30.0, 10.0, None, 50.0, 40.0, 20.0],
                 pregnant=[False, None, True, False, False, False],
                 sex=["female", "male", "female", None, "male", "female"],
                 hba1c=[7.0, 8.0, 9.0, None, 6.0, 7.5])


def test_table_one_by_hand():
    m = evaluate(small_trial(), DATA)  # eligible: age >= 18 and not pregnant -> s0, s3, s4, s5
    t = baseline_table(m, DATA, variables=["age", "sex", "pregnant", "hba1c"])
    rows = {(r.variable, r.level): r for r in t.itertuples()}
    assert rows[("subjects", "")].screened_n == 6 and rows[("subjects", "")].eligible_n == 4
    age = rows[("age", "")]
    assert age.screened_n == 5 and age.screened_missing == 1
    assert age.screened_value == pytest.approx(30.0) and age.screened_sd == pytest.approx(np.std([30, 10, 50, 40, 20], ddof=1))
    assert age.eligible_value == pytest.approx(35.0) and age.eligible_median == pytest.approx(35.0)
    assert (age.eligible_q1, age.eligible_q3) == pytest.approx((27.5, 42.5))
    female = rows[("sex", "female")]
    assert (female.screened_n, female.screened_value, female.screened_missing) == (3, 60.0, 1)
    assert (female.eligible_n, female.eligible_missing) == (2, 1)
    assert female.eligible_value == pytest.approx(200 / 3)
    pregnant = rows[("pregnant", "yes")]
    assert (pregnant.screened_n, pregnant.screened_value) == (1, 20.0)
    assert pregnant.eligible_n == 0
    hba1c = rows[("hba1c", "")]
    pooled = np.sqrt((np.std([7.0, 6.0, 7.5], ddof=1) ** 2 + np.std([7.0, 8.0, 9.0, 6.0, 7.5], ddof=1) ** 2) / 2)
    assert hba1c.smd == pytest.approx((np.mean([7.0, 6.0, 7.5]) - 7.5) / pooled)
    text = format_baseline(t)
    assert text.loc[1, "screened"] == "30.0 (15.8)"
    assert text[(text["characteristic"] == "Sex") & (text["level"] == "female")]["screened"].item() == "3 (60.0%)"


def test_table_one_is_cached_per_mask_and_follows_toggles():
    m = evaluate(small_trial(), DATA)
    first = baseline_table(m, DATA, variables=["age"])
    again = baseline_table(m, DATA, variables=["age"])
    pd.testing.assert_frame_equal(first, again)
    assert len(m.__dict__["_baseline_cache"]) == 1
    # dropping E1 leaves the same eligible subjects (s2's age is unknown anyway): the same table, not recomputed
    same_mask = baseline_table(m, DATA, variables=["age"], enabled=["I1"])
    pd.testing.assert_frame_equal(first, same_mask)
    assert len(m.__dict__["_baseline_cache"]) == 1
    everyone = baseline_table(m, DATA, variables=["age"], enabled=[])
    assert everyone.loc[0, "eligible_n"] == 6
    assert len(m.__dict__["_baseline_cache"]) == 2
    groups = baseline_table(m, DATA, variables=["age"], groups=["eligible", "remaining", "excluded"])
    assert groups.loc[0, ["screened_n", "eligible_n", "remaining_n", "excluded_n"]].tolist() == [6, 4, 4, 2]


def test_default_variables_and_a_folder_source(tmp_path):
    m = evaluate(small_trial(), DATA)
    t = baseline_table(m, DATA)
    assert set(t["variable"]) == {"subjects", "age", "sex", "hba1c"}  # key variables the screening has
    write_screening(DATA, tmp_path)
    pd.testing.assert_frame_equal(t, baseline_table(m, tmp_path), check_dtype=False)


def test_bad_requests():
    m = evaluate(small_trial(), DATA)
    with pytest.raises(DefinitionError):
        baseline_table(m, DATA, variables=["severe_hypoglycemia"])
    with pytest.raises(DefinitionError):
        baseline_table(m, DATA, groups=["everyone"])
    with pytest.raises(DefinitionError, match="different number"):
        baseline_table(m, screening(age=[1.0]))


@pytest.mark.parametrize("dtype", ["string", "object", "category"])
def test_level_codes_are_the_positions_of_the_levels(dtype):
    # one factorisation replaced pd.Categorical(column, categories=levels) (issue 17): the level's position,
    # -1 for unknown and for a value that is not a level
    column = pd.Series(["male", None, "female", "other", "female", None, "male"], dtype=dtype)
    levels = ["female", "male"]
    assert list(level_codes(column, levels)) == [1, -1, 0, -1, 0, -1, 1]


def test_what_is_kept_per_cohort_never_crosses_cohorts():
    # the screened column's statistics are kept per screening: a second cohort of the same size with other
    # values gets its own, and a table after a toggle equals one computed with nothing kept
    m = evaluate(small_trial(), DATA)
    other = screening(age=[60.0, 70.0, 80.0, None, 65.0, 75.0], pregnant=[True, True, None, False, False, False],
                      sex=["male", "male", "male", "female", None, "male"], hba1c=[9.0, 9.5, 8.0, 7.0, None, 6.5])
    first = baseline_table(m, DATA, variables=["age", "sex", "pregnant"])
    second = baseline_table(evaluate(small_trial(), other), other, variables=["age", "sex", "pregnant"])
    assert first.loc[1, "screened_value"] == pytest.approx(30.0)
    assert second.loc[1, "screened_value"] == pytest.approx(70.0)
    assert second.set_index(["variable", "level"]).loc[("sex", "male"), "screened_n"] == 4
    toggled = baseline_table(m, DATA, variables=["age", "sex", "pregnant"], enabled=[m.ids[0]])
    _PREPARED.clear()
    m.__dict__.pop("_baseline_cache", None)
    pd.testing.assert_frame_equal(toggled, baseline_table(m, DATA, variables=["age", "sex", "pregnant"],
                                                          enabled=[m.ids[0]]))
