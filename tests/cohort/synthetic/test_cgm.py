"""The simulated CGM readings' building blocks equal the expressions they replaced (issue 17's speed-up):
the pattern rolled per subject, and ranks within a row with ties (the gap's readings are all +inf)."""

from __future__ import annotations

import numpy as np

from explorer.cohort.synthetic import cgm


def test_shifted_patterns_are_the_daily_pattern_rolled_by_each_phase():
    phase = np.array([-6, -1, 0, 3, 6])
    n_slots = cgm.WINDOW_DAYS * cgm.READINGS_PER_DAY
    expected = np.stack([np.roll(cgm._daily_pattern(n_slots), int(p)) for p in phase])
    np.testing.assert_array_equal(cgm.shifted_patterns(phase, n_slots), expected)


def test_row_ranks_equal_a_double_stable_argsort_with_ties():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(30, 500))
    values[rng.random(values.shape) < 0.2] = np.inf  # ties, as a sensor gap's readings are
    values[:, ::7] = np.round(values[:, ::7], 1)       # and ties among finite values
    expected = np.argsort(np.argsort(values, axis=1, kind="stable"), axis=1, kind="stable")
    np.testing.assert_array_equal(cgm.row_ranks(values), expected)


def test_readings_of_a_seed_are_the_quantiles_of_the_distribution():
    # The readings are still each subject's quantiles, only placed in time by the ranks.
    rng = np.random.default_rng(0)
    subject, _, glucose = cgm.readings(rng, np.array([150.0, 180.0]), np.array([35.0, 30.0]),
                                       np.array([100.0, 80.0]), np.full(2, np.datetime64("2024-05-01", "ns")))
    for k, mean in enumerate((150.0, 180.0)):
        assert abs(glucose[subject == k].mean() - mean) < 3
