"""Three-valued semantics of the in-memory evaluator: unknowns are reported, never silently decided."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from cohort_helpers import screening

from explorer.cohort.screening import Screening, empty_events
from explorer.engine.memory import FAIL, PASS, UNKNOWN, Truth, evaluate_expression
from explorer.expr import compile_expression

T, F, U = PASS, FAIL, UNKNOWN
VALUES = {T: True, F: False, U: None}


def codes(text, data, params=None, units=None):
    tree = compile_expression(text, parameters=units or {k: None for k in (params or {})})
    return evaluate_expression(tree, data, params).codes().tolist()


def test_kleene_truth_tables():
    combos = list(itertools.product([T, F, U], repeat=2))
    data = screening(pregnant=[VALUES[a] for a, _ in combos], lactating=[VALUES[b] for _, b in combos])
    expected_and = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F, (U, T): U, (U, F): F, (U, U): U}
    expected_or = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U, (U, T): T, (U, F): U, (U, U): U}
    assert codes("pregnant and lactating", data) == [expected_and[c] for c in combos]
    assert codes("pregnant or lactating", data) == [expected_or[c] for c in combos]
    assert codes("not pregnant", data) == [{T: F, F: T, U: U}[a] for a, _ in combos]


def test_missing_number_makes_a_comparison_unknown():
    data = screening(hba1c=[8.0, 7.0, None], tir=[80.0, 80.0, 60.0])
    assert codes("hba1c >= 7.5", data) == [T, F, U]
    # the seed trial's I2: a subject without HbA1c still qualifies on TIR
    assert codes("hba1c >= 7.5 or tir < 70", data) == [T, F, T]
    assert codes("hba1c >= 7.5 and tir < 70", data) == [F, F, U]
    assert codes("known(hba1c)", data) == [T, T, F]


def test_chained_comparison_is_a_conjunction():
    data = screening(bmi=[18.0, 19.0, 25.0, 30.0, 31.0, None])
    assert codes("19 <= bmi <= 30", data) == [F, T, T, T, F, U]


def test_parameters_are_bound_by_name():
    data = screening(age=[5.0, 6.0, 65.0, 66.0, None])
    units = {"age_min": "years", "age_max": "years"}
    assert codes("age >= age_min and age <= age_max", data, {"age_min": 6, "age_max": 65}, units) == [F, T, T, F, U]
    assert codes("age >= age_min and age <= age_max", data, {"age_min": 0, "age_max": 65.5}, units) == [T, T, T, F, U]


def test_categories_and_booleans():
    data = screening(sex=["female", "male", None], pregnant=[True, None, None])
    assert codes('sex == "female"', data) == [T, F, U]
    assert codes('sex != "female"', data) == [F, T, U]
    assert codes('sex in ("female", "male")', data) == [T, T, U]
    assert codes('sex not in ("female")', data) == [F, T, U]
    # the seed trials' pregnancy rule: men pass even though pregnancy is not recorded for them
    assert codes('sex == "male" or not pregnant', data) == [F, T, U]
    assert codes("pregnant == true", data) == [T, U, U]


def test_arithmetic_with_unknowns_and_division_by_zero():
    data = screening(alt=[100.0, 50.0, None, 80.0], alt_uln=[40.0, 40.0, 40.0, None])
    assert codes("alt >= 2 * alt_uln", data) == [T, F, U, U]
    data = screening(alt=[10.0], alt_uln=[0.0 + 1.0])
    assert codes("alt / (alt_uln - 1) > 1", data) == [U]  # x / 0 has no value


def test_min_max_abs_propagate_unknown():
    data = screening(alt=[100.0, 100.0], ast=[100.0, None], alt_uln=[40.0, 40.0], ast_uln=[40.0, 40.0])
    assert codes("max(alt / alt_uln, ast / ast_uln) >= 2", data) == [T, U]
    assert codes("abs(alt - ast) < 1", data) == [T, U]


def test_absent_variable_is_unknown_for_everyone():
    data = screening(age=[30.0, 40.0])
    assert codes("hba1c >= 7", data) == [U, U]
    assert codes("age > 35 and hba1c >= 7", data) == [F, U]


def test_event_counts_respect_the_lookback():
    index = pd.Index(["a", "b", "c", "d"], name="subject_id")
    features = pd.DataFrame({"age": [30.0, 30.0, 30.0, 30.0]}, index=index)
    events = empty_events()
    events = pd.DataFrame({
        "subject_id": pd.array(["a", "a", "a", "b", "c"], dtype="string"),
        "event": pd.array(["severe_hypoglycemia"] * 5, dtype="string"),
        "days_before_index": [10.0, 200.0, 400.0, 30.0, 20.0],
        "severity": pd.array([None] * 5, dtype="Int64"),
    })
    lookback = pd.DataFrame({"severe_hypoglycemia": [730.0, 730.0, 60.0, np.nan]}, index=index)
    data = Screening(features, events, event_lookback=lookback).validate()
    # a: 2 in a year, 1 in 90 days; b: 1 in a year; c: history of 60 days only -> a year's count is unknown;
    # d: no record of hypoglycaemia at all -> unknown, never a silent zero
    assert codes("count(severe_hypoglycemia, within_days=365) >= 2", data) == [T, F, U, U]
    assert codes("count(severe_hypoglycemia, within_days=30) >= 1", data) == [T, T, T, U]
    rule = ("count(severe_hypoglycemia, within_days=365) >= 2 and "
            "count(severe_hypoglycemia, within_days=91) >= 1")
    assert codes(rule, data) == [T, F, U, U]


def test_precomputed_counts_fill_in_where_dates_are_missing():
    index = pd.Index(["a", "b", "c"], name="subject_id")
    features = pd.DataFrame({"age": [70.0, 70.0, 70.0]}, index=index)
    counts = pd.DataFrame({"severe_hypoglycemia@365": [10.0, 0.0, np.nan]}, index=index)
    data = Screening(features, event_counts=counts).validate()
    assert codes("count(severe_hypoglycemia, within_days=365) >= 2", data) == [T, F, U]
    assert codes("count(severe_hypoglycemia, within_days=90) >= 1", data) == [U, U, U]


def test_truth_operators_match_codes():
    a = Truth(np.array([True, False, False]), np.array([True, True, False]))
    assert (~a).codes().tolist() == [F, T, U]
    assert (a & a).codes().tolist() == [T, F, U]
    assert (a | ~a).codes().tolist() == [T, T, U]


@pytest.mark.parametrize("policy_free_rule", ["not (hba1c < 7)", "hba1c >= 7"])
def test_negation_of_unknown_stays_unknown(policy_free_rule):
    data = screening(hba1c=[None])
    assert codes(policy_free_rule, data) == [U]


def test_non_numbers_from_arithmetic_are_unknown_and_infinities_are_ordered(recwarn):
    inf = float("inf")
    # built without validate(): the contract would refuse these values, the semantics must still hold
    data = Screening(pd.DataFrame({"alt": [inf, inf, 100.0, 1e300], "alt_uln": [inf, 40.0, 0.0, 1e300]},
                                  index=pd.Index(list("abcd"), name="subject_id")))
    assert codes("alt - alt_uln > 0", data) == [U, T, T, F]     # inf - inf is NaN: unknown
    assert codes("alt / alt_uln > 1", data) == [U, T, U, F]     # inf / inf NaN; x / 0 unknown; inf / 40 is inf
    assert codes("alt * alt_uln > 1e300", data) == [T, T, F, T]  # overflow is +inf, larger than any number
    assert codes("known(alt - alt_uln)", data) == [F, T, T, T]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # nothing reaches stderr


@pytest.mark.parametrize("n", [1, 2, 3])
def test_at_least_is_unknown_exactly_when_the_unknowns_could_decide(n):
    """at_least(n, a, b, c) on every three-valued input: true (false) when every way of filling in the unknowns
    gives true (false), unknown when filling them in could give either, as "and" and "or" do."""
    combos = list(itertools.product([T, F, U], repeat=3))
    data = screening(pregnant=[VALUES[a] for a, _, _ in combos], lactating=[VALUES[b] for _, b, _ in combos],
                     smoking_history=[VALUES[c] for _, _, c in combos])

    def by_completion(combo):
        outcomes = {sum(filled) >= n for filled in itertools.product(*[[True, False] if x == U else [x == T]
                                                                        for x in combo])}
        return U if len(outcomes) == 2 else (T if outcomes == {True} else F)

    assert codes(f"at_least({n}, pregnant, lactating, smoking_history)", data) == [by_completion(c) for c in combos]


def test_at_least_of_one_is_or_and_of_all_is_and():
    combos = list(itertools.product([T, F, U], repeat=2))
    data = screening(pregnant=[VALUES[a] for a, _ in combos], lactating=[VALUES[b] for _, b in combos])
    assert codes("at_least(1, pregnant, lactating)", data) == codes("pregnant or lactating", data)
    assert codes("at_least(2, pregnant, lactating)", data) == codes("pregnant and lactating", data)
