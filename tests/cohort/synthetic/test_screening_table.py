"""How the fast path assembles its tables (typed, chunked, preallocated) never moves a value: its output at a
size that spans two chunks is fingerprinted against what main's generator gave before the memory work."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.compact import as_floats, is_number_levels, number_levels
from explorer.cohort.synthetic import generate_screening
from explorer.cohort.synthetic.streams import CHUNK

N = CHUNK + 4_464  # two chunks, the second partial

# computed with main at abfed27 (before the generator's memory work), same fingerprint function; t1d's
# missing_reasons since censor12: the same rows, then one per C-peptide below 0.017 nmol/L (its censored reason:
# without those rows the table is abfed27's, checked by hand); t2d's (N subjects) has no C-peptide below it
EXPECTED = {
    ("t1d", False): {"features": "293ff1c79c9f065a71a3", "events": "779d1aecbb89770c4a3c",
                     "event_lookback": "049d3fa7f9cea22ee71a", "missing_reasons": "daaa1fb5a177e7bd69d6"},
    ("t1d", True): {"features": "2834e9c0bb878b2be74f", "events": "779d1aecbb89770c4a3c",
                    "event_lookback": "049d3fa7f9cea22ee71a", "missing_reasons": "daaa1fb5a177e7bd69d6"},
    ("t2d", False): {"features": "ec042ee26abe30ea450a", "events": "1c27f15b5b8cff88f6db",
                     "event_lookback": "9c1440adf2664b143ab3", "missing_reasons": "c9f23223c50884c36abe"},
    ("t2d", True): {"features": "553526f8f5aafbc0790b", "events": "1c27f15b5b8cff88f6db",
                    "event_lookback": "9c1440adf2664b143ab3", "missing_reasons": "c9f23223c50884c36abe"},
}


def _column_bytes(values) -> bytes:
    """A column's values as bytes, by value (a compact number column reads as its float64 values)."""
    dtype = values.dtype
    if is_number_levels(dtype):
        return as_floats(*number_levels(values)).tobytes()
    if dtype == np.float64 or dtype.kind in "iu":
        return np.asarray(values, dtype=np.float64).tobytes()
    return "\x1f".join("\x00" if pd.isna(v) else str(v) for v in values.astype(object)).encode()


def fingerprint(frame: pd.DataFrame) -> str:
    """Dtypes, index and every value of a frame, hashed (NaN and NA distinct from any value)."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(_column_bytes(pd.Series(frame.index)))
    for column in frame.columns:
        digest.update(str(column).encode())
        digest.update(_column_bytes(frame[column]))
    return digest.hexdigest()[:20]


@pytest.mark.parametrize("population, compact", list(EXPECTED))
def test_the_generated_tables_are_those_main_generated(population, compact):
    screening = generate_screening(population, N, seed=5, compact=compact)
    got = {table: fingerprint(getattr(screening, table)) for table in EXPECTED[population, compact]}
    assert got == EXPECTED[population, compact]
