"""Funnel, impact, overlap, Shapley and policies on a hand-checked matrix, and against a naive reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from engine_cases import HAND, make_matrix
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.engine import (
    ASSUMED,
    FAIL,
    PASS,
    UNKNOWN,
    CriterionInfo,
    EligibilityMatrix,
    final_counts,
    funnel,
    impact,
    membership,
    overlap,
    shapley,
)
from explorer.engine.baseline import eligible_mask, group_mask
from explorer.errors import DefinitionError

P, F, U, A = PASS, FAIL, UNKNOWN, ASSUMED

@pytest.fixture
def hand() -> EligibilityMatrix:
    return make_matrix(HAND)


def test_funnel_by_hand(hand):
    f = funnel(hand)
    assert f["criterion"].tolist()[1:] == ["A", "B", "C"]
    assert f["eligible"].tolist() == [10, 5, 3, 2]
    assert f["possibly_eligible"].tolist() == [0, 2, 3, 2]
    assert f["remaining"].tolist() == [10, 7, 6, 4]
    assert f["excluded"].tolist() == [0, 3, 1, 2]
    assert f["became_unknown"].tolist() == [0, 2, 1, 0]
    assert f["remaining_pct_start"].tolist() == [100.0, 70.0, 60.0, 40.0]
    assert f["remaining_pct_previous"].round(4).tolist() == [100.0, 70.0, round(600 / 7, 4), round(400 / 6, 4)]
    assert f["excluded_pct_previous"].tolist()[1] == 30.0


def test_funnel_in_another_order_ends_at_the_same_pool(hand):
    f = funnel(hand, order=["C", "B", "A"])
    assert f["criterion"].tolist()[1:] == ["C", "B", "A"]
    assert f["excluded"].tolist() == [0, 3, 2, 1]
    assert f["became_unknown"].tolist() == [0, 0, 2, 0]
    assert f["eligible"].tolist() == [10, 7, 3, 2]
    assert f["remaining"].tolist() == [10, 7, 5, 4]
    # a partial order puts the rest in trial order
    assert funnel(hand, order=["C"])["criterion"].tolist()[1:] == ["C", "A", "B"]


def test_toggling_a_criterion_off(hand):
    f = funnel(hand, enabled=["A", "C"])
    assert f["criterion"].tolist()[1:] == ["A", "C"]
    assert f["remaining"].tolist() == [10, 7, 5]
    assert final_counts(hand, enabled={"B": False}) == {
        "screened": 10, "eligible": 4, "possibly_eligible": 1, "remaining": 5, "excluded": 5}
    assert final_counts(hand, enabled=[])["eligible"] == 10


def test_impact_by_hand(hand):
    im = impact(hand).set_index("criterion")
    assert im["failing"].to_dict() == {"A": 3, "B": 2, "C": 3}
    assert im["unknown"].to_dict() == {"A": 2, "B": 3, "C": 0}
    assert im["excluded_alone"].to_dict() == {"A": 1, "B": 1, "C": 1}
    assert im["excluded_alone_possibly"].to_dict() == {"A": 0, "B": 0, "C": 1}
    assert im["eligible_if_removed"].to_dict() == {"A": 3, "B": 4, "C": 3}
    assert im["remaining_if_removed"].to_dict() == {"A": 5, "B": 5, "C": 6}
    assert im["eligible_if_unknown_pass"].to_dict() == {"A": 2, "B": 3, "C": 2}
    assert set(im["eligible"]) == {2} and set(im["remaining"]) == {4}


def test_overlap_by_hand(hand):
    ov = overlap(hand)
    assert list(zip(ov["combination"], ov["count"], strict=True)) == [
        (("C",), 2), (("A",), 1), (("B",), 1), (("A", "B"), 1), (("A", "C"), 1)]
    assert ov["count"].sum() == 6  # every excluded subject exactly once
    assert ov["pct_excluded"].sum() == pytest.approx(100)
    with_unknown = overlap(hand, unknown_as_fail=True, include_none=True)
    assert dict(zip(with_unknown["combination"], with_unknown["count"], strict=True))[()] == 2
    # rows (combinations) that contain each criterion
    assert membership(ov, ["A", "B", "C"]).sum().to_dict() == {"A": 3, "B": 2, "C": 2}


def test_shapley_by_hand(hand):
    sh = shapley(hand).set_index("criterion")
    assert sh["shapley"].to_dict() == pytest.approx({"A": -(1 + 1.5 + 1 / 3), "B": -(3 + 1 / 3),
                                                     "C": -(1.5 + 1 / 3)})
    assert sh["shapley"].sum() == pytest.approx(2 - 10)  # efficiency: pool minus screened
    assert sh.attrs["total_effect"] == -8
    remaining = shapley(hand, value="remaining")
    assert remaining["shapley"].sum() == pytest.approx(4 - 10)


def test_policies_by_hand(hand):
    as_pass = final_counts(hand, policies={"A": "pass"})
    assert (as_pass["eligible"], as_pass["remaining"]) == (2, 4)
    assert funnel(hand, policies={"A": "pass"})["became_unknown"].tolist()[1] == 0
    as_fail = final_counts(hand, policies={"A": "fail"})
    assert (as_fail["eligible"], as_fail["remaining"]) == (2, 3)
    assert impact(hand, policies={"A": "fail"}).set_index("criterion").loc["A", "failing"] == 5
    everything_passes = final_counts(hand, policies={c: "pass" for c in "ABC"})
    assert everything_passes["possibly_eligible"] == 0 and everything_passes["eligible"] == 4
    # the same through the matrix's own policies
    assert final_counts(hand.with_policies(unknown={"A": "fail"})) == as_fail
    with pytest.raises(DefinitionError, match="unknown policy"):
        funnel(hand, policies={"A": "maybe"})


def test_non_computable_criteria_follow_their_assumption():
    rows = {k: (*v, A) for k, v in HAND.items()}
    m = make_matrix(rows, kinds=("inclusion", "exclusion", "inclusion", "inclusion"), ids=("A", "B", "C", "D"))
    assert not m.criterion("D").computable
    assert final_counts(m)["eligible"] == 2
    f = funnel(m)
    assert f["policy"].tolist()[-1] == "assumed pass" and f["excluded"].tolist()[-1] == 0
    failing = m.with_policies(assumption={"D": "fail"})
    assert final_counts(failing) == {"screened": 10, "eligible": 0, "possibly_eligible": 0, "remaining": 0,
                                     "excluded": 10}
    assert funnel(failing)["excluded"].tolist()[-1] == 4


def test_masks(hand):
    assert hand.subject_ids[eligible_mask(hand)].tolist() == ["s0", "s1"]
    assert hand.subject_ids[eligible_mask(hand, possibly=True)].tolist() == ["s0", "s1", "s5", "s7"]
    assert group_mask(hand, "excluded").sum() == 6


def test_unknown_criterion_ids_are_reported(hand):
    with pytest.raises(DefinitionError, match="Z"):
        funnel(hand, order=["Z"])
    with pytest.raises(DefinitionError, match="twice"):
        funnel(hand, order=["A", "A"])
    with pytest.raises(DefinitionError):
        impact(hand, enabled=["A", "nope"])


# --- against a naive per-subject reference ------------------------------------------------------

def resolve_reference(raw: int, criterion: CriterionInfo, policy: str) -> int:
    if raw == ASSUMED:
        return PASS if criterion.assumption == "pass" else FAIL
    if raw == UNKNOWN:
        return {"unknown": UNKNOWN, "pass": PASS, "fail": FAIL}[policy]
    return raw


def reference(m: EligibilityMatrix, order, policies):
    statuses = [[resolve_reference(int(m.column(c)[i]), m.criterion(c), policies.get(c, m.criterion(c).unknown))
                 for c in order] for i in range(m.n_subjects)]
    funnel_rows = []
    for step in range(len(order) + 1):
        prefix = [s[:step] for s in statuses]
        remaining = sum(FAIL not in p for p in prefix)
        eligible = sum(all(x == PASS for x in p) for p in prefix)
        funnel_rows.append((eligible, remaining))
    return statuses, funnel_rows


def brute_force_shapley(statuses, k):
    """Average marginal contribution over all k! orders (the definition)."""
    def value(coalition):
        return sum(all(s[j] == PASS for j in coalition) for s in statuses)
    phi = np.zeros(k)
    for perm in itertools.permutations(range(k)):
        before = []
        for j in perm:
            phi[j] += value(before + [j]) - value(before)
            before.append(j)
    return phi / math.factorial(k)


matrices = st.integers(1, 5).flatmap(lambda k: st.tuples(
    st.just(k),
    st.lists(st.lists(st.sampled_from([P, F, U]), min_size=k, max_size=k), min_size=1, max_size=40),
    st.lists(st.sampled_from(["unknown", "pass", "fail"]), min_size=k, max_size=k),
    st.permutations(list(range(k))),
))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrices)
def test_statistics_match_a_naive_reference(case):
    k, rows, policy_list, perm = case
    ids = tuple(f"C{j}" for j in range(k))
    m = make_matrix({f"s{i}": tuple(r) for i, r in enumerate(rows)},
                    kinds=tuple("inclusion" if j % 2 == 0 else "exclusion" for j in range(k)), ids=ids)
    policies = dict(zip(ids, policy_list, strict=True))
    order = [ids[j] for j in perm]
    statuses, expected = reference(m, order, policies)
    f = funnel(m, order=order, policies=policies)
    assert list(zip(f["eligible"], f["remaining"], strict=True)) == expected
    assert f["excluded"].sum() == len(rows) - expected[-1][1]
    # impact: the gain of criterion j is "fails j, passes all the others"
    im = impact(m, policies=policies).set_index("criterion")
    base_statuses, _ = reference(m, list(ids), policies)
    for j, cid in enumerate(ids):
        gain = sum(s[j] == FAIL and all(x == PASS for t, x in enumerate(s) if t != j) for s in base_statuses)
        assert im.loc[cid, "excluded_alone"] == gain
        assert im.loc[cid, "eligible_if_removed"] == sum(
            all(x == PASS for t, x in enumerate(s) if t != j) for s in base_statuses)
    # Shapley: the closed form, the enumeration over coalitions and all k! orders agree
    exact = shapley(m, policies=policies)["shapley"].to_numpy()
    assert exact == pytest.approx(brute_force_shapley(base_statuses, k), abs=1e-9)
    assert shapley(m, policies=policies, method="enumerate")["shapley"].to_numpy() == pytest.approx(exact, abs=1e-9)
    assert exact.sum() == pytest.approx(expected[-1][0] - len(rows))
    # overlap: exact combinations of failed criteria
    ov = overlap(m, policies=policies)
    combos = {}
    for s in base_statuses:
        failed = tuple(ids[j] for j in range(k) if s[j] == FAIL)
        if failed:
            combos[failed] = combos.get(failed, 0) + 1
    assert dict(zip(ov["combination"], ov["count"], strict=True)) == combos
    assert list(ov["count"]) == sorted(ov["count"], reverse=True)


def test_montecarlo_shapley_is_within_its_standard_error():
    rng = np.random.default_rng(3)
    rows = {f"s{i}": tuple(rng.choice([P, P, P, F, U], size=6)) for i in range(400)}
    m = make_matrix(rows, kinds=("inclusion",) * 6, ids=tuple("ABCDEF"))
    exact = shapley(m)["shapley"].to_numpy()
    mc = shapley(m, method="montecarlo", samples=400, seed=1)
    assert (mc["se"] > 0).all()
    assert np.all(np.abs(mc["shapley"].to_numpy() - exact) < 4 * mc["se"].to_numpy())
    assert mc["shapley"].sum() == pytest.approx(exact.sum())  # each order splits the whole effect
    assert shapley(m, method="montecarlo", samples=50, seed=7)["shapley"].tolist() == \
        shapley(m, method="montecarlo", samples=50, seed=7)["shapley"].tolist()  # seeded


def test_many_criteria_and_an_empty_cohort():
    rng = np.random.default_rng(0)
    k = 40  # more than 32 criteria: the pattern keys span several words
    ids = tuple(f"C{j}" for j in range(k))
    rows = {f"s{i}": tuple(rng.choice([P, P, P, P, F, U], size=k)) for i in range(300)}
    m = make_matrix(rows, kinds=("exclusion",) * k, ids=ids)
    assert m.histogram.counts.sum() == 300
    assert overlap(m)["count"].sum() == final_counts(m)["excluded"]
    assert shapley(m)["shapley"].sum() == pytest.approx(final_counts(m)["eligible"] - 300)
    empty = make_matrix({}, kinds=("inclusion",), ids=("A",))
    assert funnel(empty)["remaining"].tolist() == [0, 0]
    assert overlap(empty).empty and impact(empty)["failing"].tolist() == [0]


def test_a_funnel_edited_by_its_caller_leaves_the_next_funnel_alone(hand):
    # the text columns are kept per selection on the matrix (explorer.engine.stats._funnel_texts)
    first = funnel(hand, policies={"A": "pass"})
    first.loc[1, "label"] = "edited"
    first.loc[1, "policy"] = "edited"
    again = funnel(hand, policies={"A": "pass"})
    assert again.loc[1, "label"] != "edited" and again.loc[1, "policy"] == "pass"


def test_the_funnel_table_has_the_columns_and_dtypes_it_always_had(hand):
    f = funnel(hand, enabled=["A", "C"], policies={"C": "fail"})
    assert list(f.columns) == ["step", "criterion", "kind", "label", "policy", "eligible", "possibly_eligible",
                               "remaining", "excluded", "became_unknown", "remaining_pct_start",
                               "remaining_pct_previous", "eligible_pct_start", "excluded_pct_previous"]
    assert [str(t) for t in f.dtypes] == ["int64", "str", "str", "str", "str", *["int64"] * 5, *["float64"] * 4]
    assert f["criterion"].tolist()[1:] == ["A", "C"] and f["policy"].tolist()[1:] == ["unknown", "fail"]
    assert f["step"].tolist() == [0, 1, 2] and f.index.equals(pd.RangeIndex(3))
