"""Text lookups on Arrow arrays that the screening checks, the folder format and the NumPy engine share.

One floor below the engines (explorer.cohort), so that explorer.cohort.checks, explorer.engine.layout
and explorer.engine.memory use one lookup without importing each other or upwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow_text(values) -> pa.Array:
    if isinstance(values, (pd.Series, pd.Index)):
        # the backing array, not the Series: pa.array(series) probes attributes through Series.__getattr__,
        # which builds the hash table of the whole index
        values = values.array
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        array = values
    elif hasattr(values, "__arrow_array__"):  # Arrow-backed pandas strings hand over their buffers
        array = pa.array(values)
    else:
        array = pa.array(np.asarray(values, dtype=object), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.large_string() else pc.cast(array, pa.large_string())


def positions(values, universe) -> np.ndarray:
    """Position of each value in `universe` (whose values are unique), -1 where absent or missing."""
    values, universe = arrow_text(values), arrow_text(universe)
    found = _sorted_positions(values, universe)
    if found is not None:
        return found
    found = pc.index_in(values, value_set=universe)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def rows_of_sorted(values, keys) -> np.ndarray | None:
    """Which of `values` (in increasing order, e.g. a generator's events by subject) equal one of `keys`,
    as a boolean mask, found by binary search of the keys in the values' text buffer: a few ms where
    positions() searched every value (0.15 s for 10^6 events). None when either is not fixed-width text
    or the values are not in order (use positions())."""
    values, keys = arrow_text(values), arrow_text(keys)
    width = _fixed_width(values)
    if not width or _fixed_width(keys) != width:
        return None
    if len(values) > 1 and not pc.all(pc.less_equal(values[:-1], values[1:]), skip_nulls=False).as_py():
        return None
    text, wanted = _as_bytes(values, width), _as_bytes(keys, width)
    begin, end = np.searchsorted(text, wanted, side="left"), np.searchsorted(text, wanted, side="right")
    # +1 where a key's run of rows begins, -1 where it ends: the running sum is inside a run
    edges = np.bincount(begin, minlength=len(text) + 1) - np.bincount(end, minlength=len(text) + 1)
    return np.cumsum(edges[:-1]) > 0


_BLOCK = 1 << 20


def _sorted_positions(values: pa.Array, universe: pa.Array) -> np.ndarray | None:
    """positions() by binary search, when every text of both has one byte length and the universe is strictly
    increasing (a generator's ids); None otherwise. Arrow's hash of the universe took about 90 bytes an id
    (0.9 GB at 10^7 subjects) while it ran; this reads the text buffers in place as fixed-width bytes."""
    width = _fixed_width(universe)
    if not width or _fixed_width(values) != width:
        return None
    if len(universe) > 1 and not pc.all(pc.less(universe[:-1], universe[1:]), skip_nulls=False).as_py():
        return None
    known, given = _as_bytes(universe, width), _as_bytes(values, width)
    found = np.full(len(given), -1, np.int64)
    for start in range(0, len(given), _BLOCK):
        block = given[start:start + _BLOCK]
        at = np.minimum(np.searchsorted(known, block), len(known) - 1)
        found[start:start + _BLOCK] = np.where(known[at] == block, at, -1)
    return found


def _fixed_width(text: pa.Array) -> int | None:
    """The byte length every text of a large_string array has, or None (lengths differ, nulls, or empty)."""
    if len(text) == 0 or text.null_count:
        return None
    offsets = np.frombuffer(text.buffers()[1], np.int64, count=len(text) + 1, offset=8 * text.offset)
    width = int(offsets[1] - offsets[0])
    for start in range(0, len(text), _BLOCK):  # a block at a time: no n-long temporary
        if (np.diff(offsets[start:start + _BLOCK + 1]) != width).any():
            return None
    return width


def _as_bytes(text: pa.Array, width: int) -> np.ndarray:
    """A fixed-width large_string array's texts as a NumPy bytes array over its own buffer (no copy)."""
    start = int(np.frombuffer(text.buffers()[1], np.int64, count=1, offset=8 * text.offset)[0])
    return np.frombuffer(text.buffers()[2], f"S{width}", count=len(text), offset=start)
