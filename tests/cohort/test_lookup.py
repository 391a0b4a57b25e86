"""positions(): the binary search over sorted fixed-width ids gives exactly what Arrow's hash lookup gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from explorer.cohort import lookup
from explorer.cohort.lookup import positions


def _hashed(values, universe) -> np.ndarray:
    found = pc.index_in(lookup.arrow_text(values), value_set=lookup.arrow_text(universe))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _ids(numbers) -> list[str]:
    return [f"S-{i:05d}" for i in numbers]


@pytest.mark.parametrize("seed", range(20))
def test_sorted_fixed_width_ids_are_found_as_the_hash_lookup_finds_them(seed):
    rng = np.random.default_rng(seed)
    universe = _ids(np.unique(rng.integers(0, 5_000, rng.integers(1, 3_000))))
    values = _ids(rng.integers(0, 5_000, rng.integers(0, 4_000)))  # some absent, some twice, any order
    assert lookup._sorted_positions(lookup.arrow_text(values), lookup.arrow_text(universe)) is not None
    np.testing.assert_array_equal(positions(values, universe), _hashed(values, universe))


def test_slices_of_arrays_are_read_at_their_offset():
    universe = pa.array(_ids(range(100)), pa.large_string()).slice(10, 50)  # S-00010 .. S-00059
    values = pa.array(_ids([5, 10, 59, 60, 30]), pa.large_string()).slice(1, 4)
    np.testing.assert_array_equal(positions(values, universe), [0, 49, -1, 20])


@pytest.mark.parametrize("values, universe", [
    (["b", "a", None], ["a", "b", "c"]),          # a missing value: the hash lookup
    (["b", "aa"], ["a", "b", "c"]),              # lengths differ
    (["b", "c"], ["c", "a", "b"]),               # universe not sorted
    (["b"], ["a", "b", "b"]),                    # not strictly increasing
    (["é", "e"], ["e", "é"]),                    # lengths differ in bytes
], ids=["null", "lengths", "unsorted", "repeat", "bytes"])
def test_other_ids_take_the_hash_lookup_with_the_same_answer(values, universe):
    assert lookup._sorted_positions(lookup.arrow_text(values), lookup.arrow_text(universe)) is None
    np.testing.assert_array_equal(positions(values, universe), _hashed(values, universe))


def test_non_ascii_ids_of_one_byte_length_are_ordered_by_bytes_as_arrow_orders_them():
    universe = sorted(["ab", "é", "zz", "\u00e0"], key=lambda s: s.encode())
    universe = [u for u in universe if len(u.encode()) == 2]
    values = ["zz", "é", "xx", "\u00e0"]
    np.testing.assert_array_equal(positions(values, universe), _hashed(values, universe))


@pytest.mark.parametrize("seed", range(20))
def test_rows_of_sorted_values_are_those_the_lookup_finds(seed):
    rng = np.random.default_rng(seed)
    values = _ids(np.sort(rng.integers(0, 3_000, rng.integers(1, 5_000))))  # a subject's rows together, some many
    keys = _ids(rng.permutation(np.unique(rng.integers(0, 3_500, rng.integers(1, 500)))))  # some with no row
    np.testing.assert_array_equal(lookup.rows_of_sorted(values, keys), positions(values, keys) >= 0)


@pytest.mark.parametrize("values, keys", [
    (["b", "a"], ["a"]),          # values not in order
    (["a", "bb"], ["a"]),         # lengths differ
    (["a", "b"], ["aa"]),         # keys of another length
    (["a", None], ["a"]),         # a missing value
], ids=["unsorted", "lengths", "key-length", "null"])
def test_rows_of_values_it_cannot_search_are_left_to_the_lookup(values, keys):
    assert lookup.rows_of_sorted(values, keys) is None
