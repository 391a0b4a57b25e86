"""Compact screening columns: a number column as small integer codes into its distinct values.

A lab reports a value to its precision, so a column of 10^7 HbA1c values holds a few hundred distinct
numbers. Held as a pandas Categorical whose levels are those float64 numbers (codes int8 or int16, -1 for
unknown), the column takes 1-2 bytes a subject instead of 8, and every value read back is the same float64,
bit for bit (only -0.0 reads back as 0.0, equal to it in every comparison): no rounding and no float32, so
no comparison with a clinical boundary can move. A column with
more distinct values than int16 codes can address (a continuous, unrounded value) stays float64.

`NumberLevels` builds the codes chunk by chunk, so a generator never holds the column as float64 too;
`compact_number` does it for a whole array; `number_levels` reads a column back as (levels, codes).
`compact_text` holds a text column of few distinct values (an events table's event names) the same way: a
Categorical of its texts, 1 byte a row where each row's own text took 20-30.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from explorer.cohort.lookup import arrow_text

MAX_LEVELS = np.iinfo(np.int16).max  # codes 0..32766 and -1 (unknown) fit int16: 2 bytes a subject at most


class NumberLevels:
    """Codes of a float column of n values, filled chunk by chunk; finish() gives the compact column.

    Levels are appended in order of first appearance, so codes given to earlier chunks stay valid; past
    MAX_LEVELS distinct values the column turns into float64 (decoded once) and stays so."""

    def __init__(self, n: int):
        self.n = n
        self.codes: np.ndarray | None = np.empty(n, np.int16)
        self.floats: np.ndarray | None = None
        self.finished: pd.Categorical | None = None
        self.levels = np.empty(0)       # in order of first appearance: a level's code is its position here
        self._sorted = np.empty(0)      # the levels sorted, for binary search
        self._sorted_codes = np.empty(0, np.int16)

    def add(self, start: int, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        stop = start + len(values)
        if self.floats is not None:
            self.floats[start:stop] = values
            return
        known = ~np.isnan(values)
        # + 0.0 turns -0.0 into 0.0: one level for both (they are equal under every comparison the rules make);
        # hashed (pd.factorize, no sort of the chunk); only the chunk's few distinct values are searched for
        local, distinct = pd.factorize(values[known] + 0.0)
        distinct = np.asarray(distinct, dtype=np.float64)
        at, found = self._find(distinct)
        if not found.all():  # a chunk rarely brings new values once the first chunks are in
            new = np.unique(distinct[~found])
            if len(self.levels) + len(new) > MAX_LEVELS:
                self._to_floats(start, values)
                return
            self.levels = np.concatenate([self.levels, new])
            self._sorted_codes = np.argsort(self.levels, kind="stable").astype(np.int16)
            self._sorted = self.levels[self._sorted_codes]
            at, _ = self._find(distinct)
        chunk = np.full(len(values), -1, np.int16)
        chunk[known] = self._sorted_codes[at][local]
        self.codes[start:stop] = chunk

    def _find(self, given: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position of each value among the sorted levels, and whether it is one (binary search, no sort)."""
        if len(self._sorted) == 0:
            return np.zeros(len(given), np.intp), np.zeros(len(given), bool)
        at = np.minimum(np.searchsorted(self._sorted, given), len(self._sorted) - 1)
        return at, self._sorted[at] == given

    def _to_floats(self, start: int, values: np.ndarray) -> None:
        floats = np.empty(self.n)
        floats[:start] = np.append(self.levels, np.nan)[self.codes[:start]]  # code -1 picks the appended NaN
        floats[start:start + len(values)] = values
        self.floats, self.codes = floats, None

    def unknown(self) -> np.ndarray:
        if self.floats is not None:
            return np.isnan(self.floats)
        return (self.codes if self.codes is not None else self.finished.codes) < 0

    def finish(self) -> pd.Categorical | np.ndarray:
        if self.floats is not None:
            return self.floats
        # levels sorted, as pd.Categorical would order them: tables and exports list them in numeric order
        order = np.argsort(self.levels, kind="stable")
        rank = np.empty(len(order) + 1, np.int16)
        rank[order] = np.arange(len(order), dtype=np.int16)
        rank[-1] = -1  # code -1 (unknown) indexes the last entry
        codes = rank[self.codes]
        dtype = pd.CategoricalDtype(pd.Index(self.levels[order], dtype=np.float64))
        # from_codes narrows int16 codes to int8 when the levels allow it; the chunk codes are let go, so the
        # column is held once
        self.finished, self.codes = pd.Categorical.from_codes(codes, dtype=dtype), None
        return self.finished


def ids_dtype(ids: pd.Index) -> pd.CategoricalDtype:
    """A CategoricalDtype over a screening's subject ids (unique: the Screening's checks) without pandas' own
    check that they are, which builds their hash table and keeps it on the index: 69 bytes a subject (0.69 GB
    at 10^7) for a table of a few censored values. pandas' checked constructor where its fast path is absent."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    return fast(ids, False) if fast is not None else pd.CategoricalDtype(ids)


def compact_number(values) -> pd.Categorical | np.ndarray:
    """A float column as level codes (or float64 when it has more than MAX_LEVELS distinct values)."""
    values = np.asarray(values, dtype=np.float64)
    levels = NumberLevels(len(values))
    levels.add(0, values)
    return levels.finish()


def compact_text(values) -> pd.Categorical:
    """A text column as a Categorical of its distinct texts (missing: code -1), in the smallest integer codes;
    every value reads back as the same text. Encoded by Arrow's hash of the texts (no Python string a row)."""
    encoded = pc.dictionary_encode(arrow_text(values))
    names = encoded.dictionary.to_pylist()
    width = next(t for t in (np.int8, np.int16, np.int32, np.int64) if len(names) <= np.iinfo(t).max)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(width)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(names, dtype="string")))


def compacted(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every float64 column as level codes (compact_number) and every text column (a features
    frame's categories) as a Categorical (compact_text), other columns as they are. A new frame: once the caller
    drops the old one, its float64 block (8 bytes a subject per column) is freed."""
    def compact(column: pd.Series):
        if column.dtype == np.float64:
            return compact_number(column.to_numpy())
        return compact_text(column) if isinstance(column.dtype, pd.StringDtype) else column

    columns = {name: compact(frame[name]) for name in frame.columns}
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns, copy=False)


def is_number_levels(dtype) -> bool:
    """Whether a column's dtype is the compact number form: a Categorical of float64 levels."""
    return isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype == np.float64


def number_levels(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(levels as float64, codes with -1 unknown) of a compact number column."""
    values = column.array  # the Categorical itself: its codes are a view (Series.cat.codes makes a copy)
    return values.categories.to_numpy(dtype=np.float64), values.codes


def as_floats(levels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The float64 column the codes stand for (NaN where unknown): the same values, bit for bit."""
    return np.append(levels, np.nan)[codes]


def float_values(column: pd.Series) -> np.ndarray:
    """A number column as float64 (NaN unknown), whatever form it is held in: float64 as it is (no copy),
    compact level codes read back (pandas' to_numeric on a Categorical goes value by value through Python
    objects: about 0.1 s a column at 10^6 subjects), anything else parsed, text that is no number unknown."""
    if column.dtype == np.float64:
        return column.to_numpy()
    if is_number_levels(column.dtype):
        return as_floats(*number_levels(column))
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def is_text_levels(dtype) -> bool:
    """Whether a column's dtype is the compact text form (compact_text): a Categorical of texts."""
    return isinstance(dtype, pd.CategoricalDtype) and isinstance(dtype.categories.dtype, pd.StringDtype)


def widened(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every compact number column read back as float64 (for arithmetic and statistics in
    pandas: a Categorical neither adds nor averages) and every compact text column as pandas strings (the
    contract's dtype); other columns as they are, not copied."""
    def read_back(column: pd.Series):
        if is_number_levels(column.dtype):
            return as_floats(*number_levels(column))
        return column.astype("string") if is_text_levels(column.dtype) else column

    wide = {name: read_back(frame[name]) for name in frame.columns}
    return pd.DataFrame(wide, index=frame.index, columns=frame.columns, copy=False)
