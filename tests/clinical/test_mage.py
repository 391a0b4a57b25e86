"""MAGE's excursion walk and shared grid: the faster path gives the very floats of the one it replaced.

The walk used to take, at every candidate end, a fresh NumPy array of rises over the whole window (iglu's
algorithm as written); it now keeps a running extreme on Python floats. `_numpy_walk_up/_down` below are
that previous implementation, kept here as the oracle: equality is exact (==), not approximate, on random
peaks and nadirs with unknown values and ties.
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer.clinical import mage
from explorer.clinical.cgm_readings import GroupedReadings


def _numpy_walk_up(extrema: np.ndarray, sd: float) -> float:
    heights = []
    n = len(extrema)
    j = previous = 0
    while j < n:
        rise = extrema[j] - extrema[previous:j + 1]
        i = int(np.argmax(rise)) + previous
        if rise.max() > sd:
            k = j
            while k < n:
                if extrema[k] >= extrema[j]:
                    j = k
                if extrema[k] - extrema[j] < -sd or k == n - 1:
                    heights.append(extrema[j] - extrema[i])
                    previous = j = k
                    break
                k += 1
        else:
            j += 1
    return float(np.mean(heights)) if heights else np.nan


def _numpy_walk_down(extrema: np.ndarray, sd: float) -> float:
    heights = []
    n = len(extrema)
    j = previous = 0
    while j < n:
        fall = extrema[j] - extrema[previous:j + 1]
        i = int(np.argmin(fall)) + previous
        if fall.min() < -sd:
            k = j
            while k < n:
                if extrema[k] <= extrema[j]:
                    j = k
                if extrema[k] - extrema[j] > sd or k == n - 1:
                    heights.append(extrema[j] - extrema[i])
                    previous, j = j, k
                    break
                k += 1
        else:
            j += 1
    return float(abs(np.mean(heights))) if heights else np.nan


def same(a: float, b: float) -> bool:
    return a == b or (np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("kind", ["whole mg/dL (ties)", "interpolated", "with unknowns"])
def test_walk_equals_the_numpy_walk_it_replaced(kind):
    rng = np.random.default_rng(17)
    for _ in range(3000):
        n = int(rng.integers(1, 80))
        extrema = rng.integers(40, 300, n).astype(float) if kind.startswith("whole") else rng.normal(150, 50, n)
        if kind == "with unknowns":
            extrema[rng.random(n) < 0.08] = np.nan
        sd = float(rng.choice([rng.uniform(1, 80), 20.0]))
        assert same(mage._excursions_up(extrema, sd), _numpy_walk_up(extrema, sd)), (extrema.tolist(), sd)
        assert same(mage._excursions_down(extrema, sd), _numpy_walk_down(extrema, sd)), (extrema.tolist(), sd)


def test_walk_counts_the_excursions_a_hand_made_sequence_has():
    # nadir 100, peak 200, nadir 90, peak 150: with SD 30 the rises are 100 (100->200) and 60 (90->150)
    # once the walk reaches the end; the falls 110 (200->90); the last rise ends with the sequence.
    extrema = np.array([100.0, 200.0, 90.0, 150.0])
    assert mage._excursions_up(extrema, 30.0) == pytest.approx((100 + 60) / 2)
    assert mage._excursions_down(extrema, 30.0) == pytest.approx(110)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("by", [["subject_id"], ["subject_id", "visit"]])
def test_mage_on_the_shared_grid_equals_mage_on_its_own(random_cgm, seed, by):
    readings = GroupedReadings(random_cgm(seed), by)
    codes, nanoseconds, glucose = readings.in_time_order
    own = mage.mage_per_group(codes, nanoseconds, glucose, readings.n_groups)
    shared = mage.mage_per_group(codes, nanoseconds, glucose, readings.n_groups, grid=readings.grid)
    np.testing.assert_array_equal(shared, own)
    assert np.isfinite(own).sum() >= 6  # the traces have excursions: the comparison is not of NaNs only


def test_a_grid_at_another_step_is_not_taken_for_the_5_minute_one(random_cgm):
    readings = GroupedReadings(random_cgm(0), ["subject_id"])
    codes, nanoseconds, glucose = readings.in_time_order
    assert (readings.grid.dt0 == 15).any()  # some groups are on a 15-minute grid
    own = mage.mage_per_group(codes, nanoseconds, glucose, readings.n_groups)
    np.testing.assert_array_equal(mage.mage_per_group(codes, nanoseconds, glucose, readings.n_groups,
                                                      grid=readings.grid), own)
