"""GroupedReadings' time order: the fast path (a stable sort by group when each group is already in time
order) gives exactly np.lexsort's order, and other inputs still get it."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.clinical.cgm_readings import group_time_order


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("in_time_order", [True, False])
def test_group_time_order_is_lexsort(seed, in_time_order):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    codes = rng.integers(0, 6, n)
    nanoseconds = rng.integers(0, 50, n) * 300 * 10**9  # few distinct times: many ties
    if in_time_order:  # each group's readings in time order, the groups interleaved
        nanoseconds = np.sort(nanoseconds)
    expected = np.lexsort((nanoseconds, codes))
    assert np.array_equal(group_time_order(codes, nanoseconds), expected)


def test_a_reading_out_of_time_order_is_sorted():
    codes = np.array([0, 0, 1, 1])
    nanoseconds = np.array([5, 3, 1, 2])
    assert group_time_order(codes, nanoseconds).tolist() == [1, 0, 2, 3]
