"""The in-memory engine's context: what it keeps between evaluations, and that keeping less changes nothing."""

from __future__ import annotations

import numpy as np

from explorer.cohort.synthetic import generate_screening
from explorer.engine.matrix import evaluate
from explorer.engine.memory import MemoryContext, Truth, evaluate_expression
from explorer.expr import parse
from explorer.trial import load_trial


def test_booleans_are_not_kept_and_evaluate_the_same_every_time():
    """A boolean's two masks are rebuilt from the features when asked (keeping them cost a second copy of
    each boolean column for every subject); numbers stay the features' own arrays, with no copy."""
    screening = generate_screening("t1d", 3_000, seed=5, missing_reasons=False)
    context = MemoryContext(screening)
    tree = parse("hiv_positive or (pregnant and hba1c > 7)")
    first = evaluate_expression(tree, context)
    assert not any(isinstance(v, Truth) for v in context._columns.values())
    assert np.shares_memory(context.column("hba1c"), screening.features["hba1c"].to_numpy())
    again = evaluate_expression(tree, context)
    fresh = evaluate_expression(tree, MemoryContext(screening))
    assert np.array_equal(first.codes(), again.codes()) and np.array_equal(first.codes(), fresh.codes())
    known = screening.features["pregnant"].notna().to_numpy()
    assert not known.all() and np.array_equal(context.column("pregnant").known, known)


def test_a_threshold_change_after_many_evaluations_gives_the_statuses_of_a_fresh_evaluation():
    trial = load_trial("NCT06196996")
    screening = generate_screening("t1d", 5_000, seed=9, missing_reasons=False)
    matrix = evaluate(trial, screening)
    edited = matrix.with_parameter(None, "I1", "age_min", 30.0)
    fresh = evaluate(trial.with_parameter("I1", "age_min", 30.0), screening)
    assert all(np.array_equal(a, b) for a, b in zip(edited.columns, fresh.columns, strict=True))
    assert not np.array_equal(edited.column("I1"), matrix.column("I1"))
