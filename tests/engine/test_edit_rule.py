"""An edit table keeps of a rule only what can change its status (explorer.engine.edit_rule): parameter-free parts
as one truth, comparisons decided over their parameter's allowed range as their truth, a rule decided whole as no
values; the edited histograms still equal a fresh count and the memory engine's for any edit in the range."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from random_cohort import random_screening

from explorer.cohort.screening import Screening
from explorer.engine import evaluate
from explorer.engine.duck import DuckDBBackend
from explorer.engine.edit_histogram import EditTables, edit_table, rule_variables
from explorer.engine.edit_rule import edit_rule, window_counts
from explorer.engine.edit_warmup import WARMER
from explorer.engine.histogram import HistogramMatrix, evaluate_histogram
from explorer.trial import trial_from_dict

# rules with parts (booleans, a category, a literal count) and atoms in every linear form and on either side
CRITERIA = [
    {"id": "AB", "kind": "inclusion",
     "expression": 'diabetes_type == "T1D" and age >= a and (gada_positive or ia2a_positive or pregnant)'
                   " and count(severe_hypoglycemia, within_days=365) >= k",
     "parameters": {"a": {"value": 18, "unit": "years", "min": 10, "max": 60},
                    "k": {"value": 1, "unit": "events", "min": 0, "max": 3}}},
    {"id": "UL", "kind": "exclusion", "expression": "alt >= m * alt_uln or ast >= alt_uln * m or not known(bmi)",
     "parameters": {"m": {"value": 2, "min": 1, "max": 4}}},
    {"id": "RV", "kind": "inclusion",
     "expression": "b <= hba1c or not (tir > 100 - t) or at_least(1, pregnant, smoking_history)",
     "parameters": {"b": {"value": 8, "unit": "%", "min": 6, "max": 10},
                    "t": {"value": 40, "unit": "%", "min": 20, "max": 60}}},
    {"id": "NG", "kind": "exclusion", "expression": "-u > -uric_acid and bmi / 2 >= w / 2",
     "parameters": {"u": {"value": 500, "unit": "umol/L", "min": 300, "max": 700},
                    "w": {"value": 30, "unit": "kg/m2", "min": 20, "max": 40}}},
    {"id": "PL", "kind": "inclusion", "text": "Consent"},
]


def make_trial():
    return trial_from_dict({"id": "RULES", "title": "edit rules", "criteria": [{"text": c["id"], **c} for c in CRITERIA]})


def assert_same(a: HistogramMatrix, b: HistogramMatrix, what: str) -> None:
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), obj=what)


def test_a_rule_splits_into_parameter_free_parts_and_comparisons_monotone_in_one_parameter():
    trial = make_trial()
    ab = edit_rule(trial.criterion("AB"), trial.catalogue)
    assert len(ab.parts) == 2 and [a.parameter for a in ab.atoms] == ["a", "k"]
    assert ab.root == "and" and ab.top_parts == (0, 1) and ab.top_atoms == (0, 1)
    ul = edit_rule(trial.criterion("UL"), trial.catalogue)
    assert [a.parameter for a in ul.atoms] == ["m", "m"] and len(ul.parts) == 1
    rv = edit_rule(trial.criterion("RV"), trial.catalogue)
    assert [a.parameter for a in rv.atoms] == ["b", "t"] and rv.top_atoms == (0,)  # `not (...)` is not top
    # a parameter twice in one comparison, or under a square, is not monotone: kept as values
    twice = trial_from_dict({"id": "X", "title": "x", "criteria": [{
        "id": "Q", "kind": "inclusion", "text": "q", "expression": "alt >= a * a * alt_uln or alt >= (a + a) * alt_uln",
        "parameters": {"a": {"value": 5, "min": 1, "max": 9}}}]})
    q = edit_rule(twice.criterion("Q"), twice.catalogue)
    assert q.atoms == () and q.parts == () and q.tree == twice.criterion("Q").tree


def decided_screening(n: int = 600) -> Screening:
    """Subjects alike but for liver values that no allowed multiple (1-4) can move: all far below or far above."""
    rng = np.random.default_rng(3)
    ids = pd.Index([f"s{i:04d}" for i in range(n)], name="subject_id", dtype="string")
    low = rng.random(n) < 0.5
    uln = np.round(rng.uniform(30, 50, n), 1)
    f = pd.DataFrame({"alt": np.where(low, np.round(rng.uniform(1, 29, n), 1), np.round(rng.uniform(210, 400, n), 1)),
                      "alt_uln": uln, "ast": np.round(rng.uniform(1, 29, n), 1), "bmi": 25.0}, index=ids)
    return Screening(f, source="decided", checked=True)


def test_comparisons_decided_over_the_whole_range_keep_no_values_and_the_edits_stay_exact():
    screening = decided_screening()
    trial = trial_from_dict({"id": "UL", "title": "ul", "criteria": [{"text": "UL", **CRITERIA[1]}]})
    backend = DuckDBBackend(screening, trial.catalogue)
    computable = [c for c in trial.criteria if c.computable]
    variables = rule_variables(computable[0], trial.catalogue)
    reduced = edit_table(backend, computable, 0, variables, trial.catalogue)
    values = edit_table(backend, computable, 0, variables, trial.catalogue, reduce=False)
    # below 1x ULN (false at every multiple) and above 4x (true at every one): two rows, each one truth
    assert len(values.counts) > 500
    assert len(reduced.counts) == 2 and reduced.values.isna().all().all()
    assert sorted(reduced.counts) == sorted(np.bincount((screening.features["alt"] > 200).to_numpy()))
    matrix = evaluate_histogram(trial, screening, "duckdb")
    for m in (1.0, 4.0, 2.5, 1.0):
        trial = trial.with_parameter("UL", "m", m)
        matrix = matrix.with_trial(trial)
        assert matrix.edits.last in ("new table", "table")
        assert_same(matrix, HistogramMatrix.of(evaluate(trial, screening)), f"m = {m}")


def test_random_edits_at_and_between_the_range_ends_equal_a_fresh_count_and_the_memory_engine():
    trial = make_trial()
    parameters = [(c["id"], p) for c in CRITERIA for p in c.get("parameters", {})]
    for seed in range(3):
        screening = random_screening(500, 40 + seed, missing=0.2)
        rng = random.Random(seed)
        matrix = evaluate_histogram(trial, screening, "duckdb")
        edited = trial
        answers = []
        for _ in range(16):
            criterion, parameter = rng.choice(parameters)
            spec = trial.criterion(criterion).parameters[parameter]
            # the range's ends (where an atom is decided or not), a value a subject has, anywhere between
            observed = [float(v) for v in screening.features[rule_variables(trial.criterion(criterion),
                                                                              trial.catalogue)[0]].dropna()]
            value = rng.choice([spec.min, spec.max, rng.choice(observed), round(rng.uniform(spec.min, spec.max), 1)])
            value = min(max(value, spec.min), spec.max)
            edited = edited.with_parameter(criterion, parameter, value)
            matrix = matrix.with_trial(edited)
            answers.append(matrix.edits.last)
            what = f"seed {seed}: {criterion}.{parameter} = {value} ({matrix.edits.last})"
            assert_same(matrix, HistogramMatrix.of(evaluate(edited, screening)), what)
            assert_same(matrix, evaluate_histogram(edited, None, backend=matrix.backend), what)
        assert "table" in answers  # arithmetic on a kept table, not only new counts


def test_the_threshold_analysis_still_reads_the_values_themselves():
    screening = decided_screening()
    trial = trial_from_dict({"id": "UL", "title": "ul", "criteria": [{"text": "UL", **CRITERIA[1]}]})
    matrix = evaluate_histogram(trial, screening, "duckdb")
    _, stand_in = matrix.stand_in("UL")
    assert sorted(stand_in.features["alt"]) == sorted(screening.features["alt"])


WINDOWS = [
    {"id": "TP", "kind": "exclusion", "expression": "count(severe_hypoglycemia, within_days=w) >= 1",
     "parameters": {"w": {"value": 91, "unit": "days", "min": 0, "max": 730}}},
    {"id": "GT", "kind": "inclusion", "expression": "count(severe_hypoglycemia, within_days=w) > k or hba1c >= a",
     "parameters": {"w": {"value": 365, "unit": "days", "min": 30, "max": 500},
                    "k": {"value": 1, "unit": "events", "min": 0, "max": 3},
                    "a": {"value": 9, "unit": "%", "min": 5, "max": 12}}},
    {"id": "LE", "kind": "inclusion", "expression": "2 <= count(severe_hypoglycemia, within_days=w)",
     "parameters": {"w": {"value": 200, "unit": "days", "min": 0, "max": 800}}},
]


def test_a_count_with_a_window_parameter_keeps_as_many_latest_events_as_its_comparisons_read():
    trial = trial_from_dict({"id": "W", "title": "w", "criteria": [{"text": c["id"], **c} for c in WINDOWS]})
    assert [(w.event, w.parameter, w.latest) for c in trial.criteria for w in window_counts(c)] == [
        ("severe_hypoglycemia", "w", 1), ("severe_hypoglycemia", "w", 4), ("severe_hypoglycemia", "w", 2)]
    # read otherwise than compared with a number or a parameter: no table of latest events
    other = trial_from_dict({"id": "X", "title": "x", "criteria": [{
        "id": "S", "kind": "inclusion", "text": "s",
        "expression": "count(severe_hypoglycemia, within_days=w) >= count(severe_hypoglycemia, within_days=30)",
        "parameters": {"w": {"value": 91, "unit": "days", "min": 0, "max": 730}}}]})
    assert window_counts(other.criterion("S")) is None


def test_random_window_edits_equal_a_fresh_count_and_the_memory_engine_without_counting_again():
    trial = trial_from_dict({"id": "W", "title": "w", "criteria": [{"text": c["id"], **c} for c in WINDOWS]})
    for seed in range(3):
        # events on whole days 0-800, histories of 30-1000 days or none, counts reported at 91 and 365 days
        screening = random_screening(400, 60 + seed, missing=0.2, events_per_subject=1.5)
        rng = random.Random(seed)
        matrix = evaluate_histogram(trial, screening, "duckdb")
        edited, answers = trial, []
        days = sorted(set(screening.events["days_before_index"]))
        for _ in range(14):
            criterion = rng.choice(WINDOWS)
            spec = criterion["parameters"]["w"]
            w = rng.choice([spec["min"], spec["max"], 91, 365, 30, 100, 400, rng.choice(days),
                            rng.choice(days) - 1, round(rng.uniform(spec["min"], spec["max"]), 1)])
            w = min(max(w, spec["min"]), spec["max"])
            edited = edited.with_parameter(criterion["id"], "w", w)
            if criterion["id"] == "GT" and rng.random() < 0.5:  # then its count's threshold, at that window
                matrix = matrix.with_trial(edited)
                edited = edited.with_parameter("GT", "k", rng.choice([0, 1, 2, 3]))
            matrix = matrix.with_trial(edited)
            answers.append(matrix.edits.last)
            what = f"seed {seed}: {criterion['id']}.w = {w} ({matrix.edits.last})"
            assert_same(matrix, HistogramMatrix.of(evaluate(edited, screening)), what)
            assert_same(matrix, evaluate_histogram(edited, None, backend=matrix.backend), what)
        assert answers.count("table") >= 3, answers  # a new window is arithmetic on the kept table


def or_trial():
    return trial_from_dict({"id": "OR", "title": "or", "criteria": [
        {"id": "HT", "kind": "inclusion", "text": "HT", "expression": "hba1c >= a or tir < b",
         "parameters": {"a": {"value": 7.5, "unit": "%", "min": 5, "max": 12},
                        "b": {"value": 70, "unit": "%", "min": 10, "max": 100}}},
        {"id": "AG", "kind": "inclusion", "text": "AG", "expression": "age >= 18"}]})


def test_where_a_criterions_table_is_too_large_each_parameter_has_its_own_with_the_others_fixed():
    screening = random_screening(600, 70, missing=0.1)
    trial = or_trial()
    backend = DuckDBBackend(screening, trial.catalogue)
    computable = [c for c in trial.criteria if c.computable]
    variables = rule_variables(computable[0], trial.catalogue)
    rows = {free: len(edit_table(backend, computable, 0, variables, trial.catalogue, free=free).counts)
            for free in (None, "a", "b")}
    assert max(rows["a"], rows["b"]) < rows[None]
    matrix = evaluate_histogram(trial, screening, "duckdb", edits=EditTables(limit=max(rows["a"], rows["b"])))
    edited, answers = trial, []
    for parameter, value in [("a", 8.0), ("a", 6.5), ("b", 40.0), ("b", 90.0), ("a", 12.0)]:
        edited = edited.with_parameter("HT", parameter, value)
        matrix = matrix.with_trial(edited)
        answers.append(matrix.edits.last)
        assert_same(matrix, HistogramMatrix.of(evaluate(edited, screening)), f"{parameter} = {value}")
    # a's table holds b's value: after b moved, a's edit takes a's table again
    assert answers == ["new table", "table", "new table", "table", "new table"]


def test_the_warm_up_takes_each_parameters_table_where_the_criterions_is_too_large(monkeypatch):
    monkeypatch.setattr(WARMER, "delay", 0.05)
    screening = random_screening(600, 70, missing=0.1)
    trial = or_trial()
    backend = DuckDBBackend(screening, trial.catalogue)
    variables = rule_variables(trial.criterion("HT"), trial.catalogue)
    computable = [c for c in trial.criteria if c.computable]
    rows = {free: len(edit_table(backend, computable, 0, variables, trial.catalogue, free=free).counts)
            for free in (None, "a", "b")}
    try:
        matrix = evaluate_histogram(trial, screening, "duckdb", edits=EditTables(limit=max(rows["a"], rows["b"]),
                                                                                 warm=True))
        assert matrix.edits.wait_warm(timeout=60)
        assert matrix.edits.warmed(trial) == ["HT"]
        for parameter, value in [("b", 45.0), ("b", 80.0)]:  # each parameter's table was taken ahead
            edited = matrix.trial.with_parameter("HT", parameter, value)
            matrix = matrix.with_trial(edited)
            assert matrix.edits.last == "table"
            assert_same(matrix, HistogramMatrix.of(evaluate(edited, screening)), f"{parameter} = {value}")
    finally:
        WARMER.stop()
        assert WARMER.wait_idle(timeout=60)
