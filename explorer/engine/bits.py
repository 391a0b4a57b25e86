"""Bit-packed status columns: a toggle, a reorder or a policy change is a few AND/OR/popcounts per criterion.

For each criterion the matrix keeps three bitsets over the subjects (64 subjects per uint64 word):
which subjects' raw status is FAIL, UNKNOWN, ASSUMED. Resolving a policy is an OR of two of them; the
funnel of 20 criteria over a million subjects touches about 5 MB, a millisecond of work, however
varied the subjects' status patterns are (the pattern histogram, explorer.engine.patterns, is faster
only while the patterns are few, and is used for the statistics that need the patterns themselves:
overlap, Monte-Carlo and enumerated Shapley).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explorer.engine.patterns import Selection
from explorer.engine.status import ASSUMED, FAIL, UNKNOWN

_BYTE_COUNTS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(words: np.ndarray) -> int:
    """Number of set bits."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return int(np.bitwise_count(words).sum(dtype=np.int64))
    return int(_BYTE_COUNTS[words.view(np.uint8)].sum(dtype=np.int64))


def to_bits(mask: np.ndarray) -> np.ndarray:
    """Bool array of n -> uint64 words (bit i of the result is subject i); padding bits are 0."""
    packed = np.packbits(mask, bitorder="little")
    padded = np.zeros(-(-len(packed) // 8) * 8, dtype=np.uint8)
    padded[: len(packed)] = packed
    return padded.view(np.uint64)


def from_bits(words: np.ndarray, n: int) -> np.ndarray:
    """uint64 words -> bool array of the first n subjects."""
    return np.unpackbits(words.view(np.uint8), count=n, bitorder="little").astype(bool)


@dataclass(frozen=True)
class BitColumns:
    """Per criterion: bitsets of the subjects whose raw status is FAIL, UNKNOWN and ASSUMED."""

    n: int
    fail: tuple[np.ndarray, ...]
    unknown: tuple[np.ndarray, ...]
    assumed: tuple[np.ndarray | None, ...]  # None: no subject assumed (every computable criterion)
    zeros: np.ndarray
    ones: np.ndarray                        # the n valid bits

    @classmethod
    def of(cls, columns: Sequence[np.ndarray], n: int, *, reuse: BitColumns | None = None,
           keep: Sequence[int | None] = ()) -> BitColumns:
        """Pack the columns; with `reuse`, column j takes reuse's column keep[j] unchanged (not None)."""
        zeros = to_bits(np.zeros(n, dtype=bool))
        ones = to_bits(np.ones(n, dtype=bool))
        fail, unknown, assumed = [], [], []
        for j, col in enumerate(columns):
            old = keep[j] if j < len(keep) else None
            if reuse is not None and old is not None:
                fail.append(reuse.fail[old])
                unknown.append(reuse.unknown[old])
                assumed.append(reuse.assumed[old])
                continue
            fail.append(to_bits(col == FAIL))
            unknown.append(to_bits(col == UNKNOWN))
            is_assumed = col == ASSUMED
            assumed.append(to_bits(is_assumed) if is_assumed.any() else None)
        return cls(n, tuple(fail), tuple(unknown), tuple(assumed), zeros, ones)

    def resolve(self, selection: Selection) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per selected criterion, in order: (FAIL bits, UNKNOWN bits) after its policy and assumption."""
        fails, unknowns = [], []
        for s, j in enumerate(selection.columns):
            table = selection.tables[s]
            fail, unknown = self.fail[j], self.zeros
            raw_unknown, raw_assumed = self.unknown[j], self.assumed[j]
            if table[UNKNOWN] == FAIL:
                fail = fail | raw_unknown
            elif table[UNKNOWN] == UNKNOWN:
                unknown = raw_unknown
            if raw_assumed is not None and table[ASSUMED] == FAIL:
                fail = fail | raw_assumed
            fails.append(fail)
            unknowns.append(unknown)
        return fails, unknowns


def vertical_counts(bitsets: Sequence[np.ndarray], zeros: np.ndarray) -> list[np.ndarray]:
    """Bit-sliced counter: per subject, how many of the bitsets have its bit set, as binary planes.

    Plane p holds bit p of each subject's count, so k bitsets need only log2(k+1) planes and adding
    one bitset is a ripple of ANDs and XORs, all 64 subjects at a time.
    """
    planes: list[np.ndarray] = []
    for bits in bitsets:
        carry = bits
        for p in range(len(planes)):  # never in place: the input bitsets are shared
            planes[p], carry = planes[p] ^ carry, planes[p] & carry
        if carry.any():
            planes.append(carry)
    return planes or [zeros]


def count_equals(planes: Sequence[np.ndarray], value: int, ones: np.ndarray) -> np.ndarray:
    """Bits of the subjects whose counter equals `value`."""
    out = ones.copy()
    for p, plane in enumerate(planes):
        out &= plane if (value >> p) & 1 else ~plane
    if value >> len(planes):
        return np.zeros_like(ones)
    return out & ones
