"""explorer.engine.histogram: merging an engine's (pattern, count) rows into one row per pattern, in the order
np.unique(axis=0) gives (column by column), whatever the number of criteria and words."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.engine.histogram import _merge


@pytest.mark.parametrize("k", [1, 3, 21, 32, 40])
def test_merge_sums_split_groups_in_numpys_row_order(k):
    rng = np.random.default_rng(k)
    patterns = rng.integers(0, 4, (3000, k)).astype(np.int8)
    patterns[1000:2000] = patterns[:1000]  # groups split in two, as over partitions
    counts = rng.integers(1, 10**12, 3000)
    unique, inverse = np.unique(patterns, axis=0, return_inverse=True)
    expected = np.zeros(len(unique), dtype=np.int64)
    np.add.at(expected, inverse.ravel(), counts)  # exact integer sums
    merged = _merge(patterns, counts)
    assert np.array_equal(merged.patterns, unique) and merged.patterns.dtype == np.int8
    assert np.array_equal(merged.counts, expected)


def test_merge_of_nothing_and_of_no_criteria():
    assert _merge(np.zeros((0, 3), np.int8), np.zeros(0, np.int64)).counts.tolist() == []
    none = _merge(np.zeros((4, 0), np.int8), np.array([1, 2, 3, 4]))
    assert none.counts.tolist() == [10] and none.patterns.shape == (1, 0)
