"""Scenario comparison: every number checked against the dashboard state of each scenario on its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from explorer.analysis import compare
from explorer.analysis.smd import smd_means, smd_proportions
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.compact import widened
from explorer.errors import DefinitionError

N = 3000
A = Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", N, 2))
B = replace(A.with_setting("I5", "hba1c_min", 6.5).with_enabled("I6", False).with_policy("E1", "pass"),
            order=("I5", "I3"))


@pytest.fixture(scope="module")
def states():
    return ExplorerState(A), ExplorerState(B)


@pytest.fixture(scope="module")
def result(states):
    a, _ = states
    return compare(A, B, a.matrix, a.screening)


def test_final_counts_equal_each_scenarios_own(states, result):
    a, b = states
    counts = result.counts.set_index("count")
    for key in ("screened", "eligible", "possibly_eligible", "remaining", "excluded"):
        assert counts.loc[key, "a"] == a.counts[key] and counts.loc[key, "b"] == b.counts[key]
        assert counts.loc[key, "difference"] == b.counts[key] - a.counts[key]
    assert b.counts["eligible"] > a.counts["eligible"]  # B relaxes: the comparison has something to show


def test_funnels_side_by_side_match_each_funnel_step_by_criterion(states, result):
    a, b = states
    f = result.funnels.set_index("criterion")
    for prefix, state in (("a", a), ("b", b)):
        own = state.funnel.assign(criterion=state.funnel["criterion"].fillna("(screened)")).set_index("criterion")
        for cid, row in own.iterrows():
            assert f.loc[cid, f"{prefix}_eligible"] == row["eligible"]
            assert f.loc[cid, f"{prefix}_excluded"] == row["excluded"]
    assert pd.isna(f.loc["I6", "b_eligible"]) and not pd.isna(f.loc["I6", "a_eligible"])  # I6 is off in B
    assert list(f.index[:3]) == ["(screened)", *a.funnel["criterion"].iloc[1:3]]  # A's order leads
    both = f.dropna(subset=["a_remaining", "b_remaining"])
    assert (both["diff_remaining"] == both["b_remaining"] - both["a_remaining"]).all()


def test_subjects_moving_in_and_out_equal_the_eligible_id_sets(states, result):
    a, b = states
    ids_a, ids_b = set(a.eligible_ids()), set(b.eligible_ids())
    row = result.movement.set_index("group").loc["eligible"]
    assert row["in_both"] == len(ids_a & ids_b)
    assert row["only_a (moved out)"] == len(ids_a - ids_b)
    assert row["only_b (moved in)"] == len(ids_b - ids_a)
    possible = result.movement.set_index("group").loc["eligible or possibly eligible"]
    assert possible["only_b (moved in)"] == len(set(b.eligible_ids(True)) - set(a.eligible_ids(True)))


def test_baseline_compares_a_eligible_with_b_eligible(states, result):
    a, b = states
    features = widened(a.screening.features)
    in_a, in_b = features.loc[a.eligible_ids()], features.loc[b.eligible_ids()]
    table = result.baseline.set_index(["variable", "level"])
    hba1c = table.loc[("hba1c", "")]
    assert hba1c["a_value"] == pytest.approx(in_a["hba1c"].mean())
    assert hba1c["b_value"] == pytest.approx(in_b["hba1c"].mean())
    expected = (in_b["hba1c"].mean() - in_a["hba1c"].mean()) / np.sqrt(
        (in_a["hba1c"].std() ** 2 + in_b["hba1c"].std() ** 2) / 2)
    assert hba1c["smd"] == pytest.approx(expected)
    assert hba1c["smd"] < 0  # B admits lower HbA1c
    female = table.loc[("sex", "female")]
    p, q = (in_b["sex"] == "female").mean(), (in_a["sex"] == "female").mean()
    assert female["smd"] == pytest.approx((p - q) / np.sqrt((p * (1 - p) + q * (1 - q)) / 2))


def test_smd_formulas_against_austin_2009_worked_values():
    # Austin (2009) eqs. 1-2: means 10 vs 8 with SDs 2 and 4 -> 2 / sqrt(10); 40% vs 20% -> 0.2 / sqrt(0.2)
    assert smd_means(10, 2, 8, 4) == pytest.approx(2 / np.sqrt(10))
    assert smd_proportions(0.4, 0.2) == pytest.approx(0.2 / np.sqrt(0.2))
    assert np.isnan(smd_means(1, 0, 1, 0))


def test_protection_blanks_small_cells_and_recomputes_differences(states):
    a, _ = states
    protected = compare(A, replace(B, min_cell=11), a.matrix, a.screening)
    assert protected.protection == {"min_cell": 11, "method": "round"}
    f = protected.funnels
    shown = f[[c for c in f.columns if c[:2] in ("a_", "b_") and not c.endswith("step")]].to_numpy(dtype=float,
                                                                                              na_value=np.nan)
    shown = shown[~np.isnan(shown)]
    assert ((shown == 0) | (shown >= 11)).all() and (shown % 5 == 0).all()
    both = f.dropna(subset=["a_eligible", "b_eligible"])
    assert (both["diff_eligible"] == both["b_eligible"] - both["a_eligible"]).all()
    moved = protected.movement.drop(columns="group").to_numpy(dtype=float, na_value=np.nan)
    assert np.all(np.isnan(moved) | (moved == 0) | (moved >= 11))


def test_scenarios_of_other_trials_or_data_are_refused(states):
    a, _ = states
    with pytest.raises(DefinitionError, match="compare scenarios of one trial"):
        compare(A, Scenario(trial="NCT06196996", data=A.data), a.matrix, a.screening)
    with pytest.raises(DefinitionError, match="over one cohort"):
        compare(A, replace(A, data=DataSource("synthetic", "t2d", N, 3)), a.matrix, a.screening)


def test_the_registered_trial_is_the_default_a(states):
    a, b = states
    from explorer.analysis import registered
    assert registered(B) == A  # A has no edits: undoing B's edits gives it back
    result = compare(registered(B), B, b.matrix, b.screening)
    assert result.counts.set_index("count").loc["eligible", "a"] == a.counts["eligible"]
