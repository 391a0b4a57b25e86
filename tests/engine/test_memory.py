"""The in-memory engine's context: what it keeps between evaluations, and that keeping less changes nothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from explorer.analysis.sensitivity import threshold_sensitivity
from explorer.cohort.compact import is_number_levels, number_levels, widened
from explorer.cohort.synthetic import generate_outcomes, generate_screening
from explorer.cohort.synthetic.enrolment import screening_subset
from explorer.engine import funnel
from explorer.engine.baseline import baseline_table, eligible_mask
from explorer.engine.matrix import evaluate
from explorer.engine.memory import MemoryContext, Truth, evaluate_expression
from explorer.expr import parse
from explorer.trial import load_trial


def test_booleans_are_not_kept_and_evaluate_the_same_every_time():
    """A boolean's two masks are rebuilt from the features when asked (keeping them cost a second copy of
    each boolean column for every subject); numbers stay the features' own level codes, with no copy."""
    screening = generate_screening("t1d", 3_000, seed=5, missing_reasons=False, compact=True)
    context = MemoryContext(screening)
    tree = parse("hiv_positive or (pregnant and hba1c > 7)")
    first = evaluate_expression(tree, context)
    assert not any(isinstance(v, Truth) for v in context._columns.values())
    assert np.shares_memory(context.column("hba1c").codes, screening.features["hba1c"].array.codes)
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


# --- compact number columns (explorer.cohort.compact): every answer is the float64 frame's ------------------

COMPARATORS = ("<", "<=", ">", ">=", "==", "!=")


@pytest.fixture(scope="module")
def compact_and_wide():
    """The generator's screening (numbers as level codes) and the same screening with float64 numbers."""
    compact = generate_screening("t1d", 4_000, seed=21, missing_reasons=False, compact=True)
    wide = replace(compact, features=widened(compact.features))
    assert any(is_number_levels(compact.features[c].dtype) for c in compact.features.columns)
    assert not any(is_number_levels(wide.features[c].dtype) for c in wide.features.columns)
    return compact, wide


def _boundaries(levels: np.ndarray) -> list[float]:
    """Thresholds on and beside the column's own values: a level, the doubles next to it, and midpoints."""
    if len(levels) == 0:
        return [7.0]
    picked = np.unique(levels[np.linspace(0, len(levels) - 1, 5).astype(int)])
    beside = [np.nextafter(picked, -np.inf), np.nextafter(picked, np.inf), picked - 0.05, picked + 0.005]
    return np.concatenate([picked, *beside]).tolist()


def test_every_comparator_on_every_compact_column_gives_the_float64_statuses(compact_and_wide):
    """A threshold on a value (HbA1c 7.0 against 6.95, eGFR 45 against 44.99, a whole age), or one double
    beside it, decides every subject as the float64 column does; float32 values would move these."""
    compact, wide = compact_and_wide
    a, b = MemoryContext(compact), MemoryContext(wide)
    columns = [c for c in compact.features.columns if is_number_levels(compact.features[c].dtype)]
    assert {"hba1c", "egfr", "age", "creatinine"} <= set(columns)
    for column in columns:
        levels, _ = number_levels(compact.features[column])
        for op in COMPARATORS:
            for t in _boundaries(levels):
                for text in (f"{column} {op} t", f"t {op} {column}"):
                    tree = parse(text)
                    got, expected = evaluate_expression(tree, a, {"t": t}), evaluate_expression(tree, b, {"t": t})
                    assert np.array_equal(got.codes(), expected.codes()), (text, t)


@pytest.mark.parametrize("text", ["hba1c >= 7 or tir < 70", "abs(hba1c - 7.0) <= 0.05", "min(egfr, 60) >= 45",
                                  "hba1c * 10 >= fasting_glucose", "known(fasting_cpeptide) and not known(kitt)",
                                  "creatinine >= 2 * creatinine_uln", "-age < -18", "age in (18, 65)"])
def test_expressions_mixing_compact_columns_give_the_float64_statuses(compact_and_wide, text):
    compact, wide = compact_and_wide
    got, expected = evaluate_expression(parse(text), compact), evaluate_expression(parse(text), wide)
    assert np.array_equal(got.codes(), expected.codes())


def test_statuses_funnel_table_one_sensitivity_and_enrolment_equal_the_float64_frame(compact_and_wide):
    compact, wide = compact_and_wide
    for trial_id in ("NCT06196996", "NCT01142050"):
        trial = load_trial(trial_id)
        m, w = evaluate(trial, compact), evaluate(trial, wide)
        assert all(np.array_equal(x, y) for x, y in zip(m.columns, w.columns, strict=True)), trial_id
        pd.testing.assert_frame_equal(funnel(m), funnel(w))
        pd.testing.assert_frame_equal(baseline_table(m, compact), baseline_table(w, wide))
    trial = load_trial("NCT06196996")
    m, w = evaluate(trial, compact), evaluate(trial, wide)
    for criterion, parameter in (("I2", "hba1c_min"), ("I1", "age_min")):
        got, expected = (threshold_sensitivity(m, compact, criterion, parameter),
                         threshold_sensitivity(w, wide, criterion, parameter))
        pd.testing.assert_frame_equal(got.curve, expected.curve)
        pd.testing.assert_frame_equal(got.histogram, expected.histogram)
        assert (got.pool, got.unknown, got.below, got.above) == (expected.pool, expected.unknown, expected.below,
                                                                 expected.above)
    ids = compact.features.index[eligible_mask(m, possibly=True)][:200]
    enrolled = (generate_outcomes(screening_subset(compact, ids), "islet", seed=3),
                generate_outcomes(screening_subset(wide, ids), "islet", seed=3))
    for table in ("subjects", "measurements", "events"):
        pd.testing.assert_frame_equal(getattr(enrolled[0], table), getattr(enrolled[1], table))


def test_event_counts_are_kept_as_level_codes_with_the_float_counts(compact_and_wide):
    compact, _ = compact_and_wide
    context = MemoryContext(compact)
    floats = MemoryContext(compact)._count("severe_hypoglycemia", 365.0)
    kept = context.count_levels("severe_hypoglycemia", 365)
    assert kept.codes.dtype == np.int8 and np.isnan(floats).any() and (floats > 1).any()
    assert np.array_equal(context.count("severe_hypoglycemia", 365), floats, equal_nan=True)
    for t in (0.0, 1.0, 2.0, 1.5):
        got = evaluate_expression(parse("count(severe_hypoglycemia, within_days=365) >= t"), context, {"t": t})
        assert np.array_equal(got.known, ~np.isnan(floats)) and np.array_equal(got.value, floats >= t)


@pytest.mark.parametrize("block", [7, 1000, 1 << 20])
def test_event_counts_made_in_blocks_equal_a_tally_of_the_events_table(compact_and_wide, monkeypatch, block):
    """Counts are made a block of subjects at a time (memory at 10^7); blocks that split the subjects anywhere
    give the counts a plain tally of the events table gives, unknown where the records are too short."""
    from explorer.engine import memory

    monkeypatch.setattr(memory, "_BLOCK", block)
    compact, _ = compact_and_wide
    events, ids = compact.events, compact.features.index
    for event, days in (("severe_hypoglycemia", 365.0), ("severe_hypoglycemia", 91.0), ("trial_participation", 91.0)):
        chosen = events[(events["event"] == event) & (events["days_before_index"] <= days)]
        tally = chosen.groupby("subject_id").size().reindex(ids, fill_value=0).to_numpy(dtype=float)
        expected = np.where(compact.event_lookback[event].to_numpy() >= days, tally, np.nan)
        assert np.isnan(expected).any() and (expected > 0).any()
        assert np.array_equal(MemoryContext(compact).count(event, days), expected, equal_nan=True), (event, days)
