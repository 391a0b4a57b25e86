"""Outcomes under relaxed criteria: groups from the eligible id sets, summaries per group, Welch intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from explorer.analysis.relaxed_outcomes import ADDED, DROPPED, KEPT, relaxed_outcomes, welch_interval
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic import enrolment

A = Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", 1500, 4))
B = A.with_setting("I5", "hba1c_min", 6.0).with_enabled("I6", False).with_setting("I3", "age_max", 70)


@pytest.fixture(scope="module")
def setting():
    a, b = ExplorerState(A, with_baseline=False), ExplorerState(B, with_baseline=False)
    return a, b, relaxed_outcomes(A, B, a.matrix, a.screening, max_per_group=150)


def test_groups_are_the_set_differences_of_the_eligible(setting):
    a, b, result = setting
    ids_a, ids_b = set(a.eligible_ids()), set(b.eligible_ids())
    groups = result.groups.set_index("group")
    assert groups.loc[KEPT, "eligible"] == len(ids_a & ids_b)
    assert groups.loc[ADDED, "eligible"] == len(ids_b - ids_a)
    assert groups.loc[DROPPED, "eligible"] == len(ids_a - ids_b) > 0  # age_max 70 drops some
    assert (groups["enrolled"] <= 150).all()


def test_simulated_outcomes_say_so(setting):
    _, _, result = setting
    assert result.simulated and "simulated" in result.source and "not trial results" in result.source


def test_group_summaries_are_the_summaries_of_each_groups_subjects(setting):
    a, b, result = setting
    values = result.results.values
    added = enrolment.enrol(sorted(set(b.eligible_ids()) - set(a.eligible_ids()),
                                   key=list(a.matrix.subject_ids).index), 150)
    rows = values[(values["measure"] == "kitt") & (values["visit"] == "w12")
                  & values["subject_id"].astype(str).isin(set(added))]
    table = result.outcomes
    row = table[(table["measure"] == "kitt") & (table["visit"] == "w12") & (table["statistic"] == "value")
                & (table["group"].astype(str) == ADDED)].iloc[0]
    assert row["n"] == len(rows) and row["mean"] == pytest.approx(rows["value"].mean())
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert {ADDED, KEPT} <= set(result.endpoints["group"].astype(str))


def test_welch_interval_equals_scipy():
    rng = np.random.default_rng(1)
    x, y = rng.normal(5, 1, 40), rng.normal(4.2, 2.5, 25)
    difference, low, high = welch_interval(x.mean(), x.std(ddof=1), len(x), y.mean(), y.std(ddof=1), len(y))
    reference = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
    assert difference == pytest.approx(x.mean() - y.mean())
    assert (low, high) == pytest.approx((reference.low, reference.high))
    assert np.isnan(welch_interval(1, 1, 1, 2, 1, 10)[1])


def test_differences_follow_the_group_summaries(setting):
    _, _, result = setting
    d = result.differences
    table = result.outcomes
    first = d.iloc[0]
    pick = table[(table["outcome"] == first["outcome"]) & (table["measure"] == first["measure"])
                 & (table["statistic"] == first["statistic"]) & (table["visit"] == first["visit"])].set_index("group")
    assert first["difference"] == pytest.approx(pick.loc[ADDED, "mean"] - pick.loc[KEPT, "mean"])


def test_loaded_visits_are_used_and_not_called_simulated(setting):
    a, _, _ = setting
    everyone = a.matrix.subject_ids[:400]
    cohort = enrolment.simulate_outcomes(a.trial, a.screening, everyone, seed=9)  # stands in for real follow-up
    result = relaxed_outcomes(A, B, a.matrix, a.screening, cohort=cohort, max_per_group=100)
    assert not result.simulated and "loaded dataset" in result.source
    measured = result.results.values
    assert set(measured["subject_id"].astype(str)) <= set(everyone.astype(str))


def test_small_cells_are_blanked_with_the_statistics_resting_on_them(setting):
    a, _, _ = setting
    small_change = A.with_setting("I3", "age_max", 73).with_setting("I5", "hba1c_min", 6.8)
    raw = relaxed_outcomes(A, small_change, a.matrix, a.screening, max_per_group=150)
    shown = relaxed_outcomes(A, small_change, a.matrix, a.screening, max_per_group=150, min_cell=11)
    assert shown.protection == {"min_cell": 11, "method": "round"}
    assert ((raw.groups["eligible"] > 0) & (raw.groups["eligible"] < 11)).any()  # the case this test is about
    for frame, counts in ((shown.groups, ["eligible", "enrolled"]), (shown.outcomes, ["n"]),
                          (shown.endpoints, ["n", "responders", "unknown"]), (shown.differences, ["n_kept", "n_added"])):
        values = frame[counts].to_numpy(dtype=float, na_value=np.nan)
        assert np.all(np.isnan(values) | (values == 0) | (values >= 11))
    hidden = shown.outcomes["n"].isna().to_numpy()
    assert hidden.any() and shown.outcomes.loc[hidden, ["mean", "ci_low", "median"]].isna().all().all()
    responders = raw.endpoints["responders"].to_numpy(dtype=float)
    few = (responders > 0) & (responders < 11)
    assert few.any()
    assert shown.endpoints.loc[few, "proportion"].isna().all()
