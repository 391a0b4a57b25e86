"""The pattern histogram: every statistic is arithmetic over distinct status patterns, not subjects.

Each subject's raw statuses on k criteria form a pattern of k two-bit codes. A cohort of a million
subjects has only a few thousand distinct patterns, so the matrix is reduced once to
(patterns, counts); toggling, reordering, changing a policy, the funnel, the gain, the overlap and the
Shapley values then cost O(patterns x criteria) instead of O(subjects x criteria). This is circe-be's
per-person inclusion-rule bitmask with a third state for unknown.

Packing: four criteria per byte (2 bits each), the bytes of a subject side by side; up to 32 criteria
make one uint64 key per subject, which pandas hashes (factorize) far faster than numpy sorts. More
criteria are folded eight bytes at a time into a running key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from explorer.engine.status import FAIL, UNKNOWN, resolution_table
from explorer.errors import DefinitionError

CRITERIA_PER_BYTE = 4


def packed_width(n_criteria: int) -> int:
    """Bytes per subject, padded to whole uint64 words."""
    n_bytes = max(1, -(-n_criteria // CRITERIA_PER_BYTE))
    return -(-n_bytes // 8) * 8


def pack(codes: np.ndarray) -> np.ndarray:
    """(n, k) int8 codes in 0..3 -> (n, width) uint8, C-contiguous, 2 bits per criterion."""
    n, k = codes.shape
    packed = np.zeros((n, packed_width(k)), dtype=np.uint8)
    for j in range(k):
        set_packed_column(packed, j, codes[:, j], clear=False)
    return packed


def set_packed_column(packed: np.ndarray, j: int, column: np.ndarray, *, clear: bool = True) -> None:
    """Write criterion j's codes into its two bits, in place (used to update one criterion cheaply)."""
    byte, shift = divmod(j, CRITERIA_PER_BYTE)
    target = packed[:, byte]
    if clear:
        target &= np.uint8(~(3 << (2 * shift)) & 0xFF)
    target |= column.astype(np.uint8) << np.uint8(2 * shift)


def _keys(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One integer per subject naming its pattern: (inverse index per subject, one packed row per pattern)."""
    words = packed.view(np.uint64)  # (n, width / 8)
    inverse, uniques = pd.factorize(words[:, 0], sort=False)
    if words.shape[1] == 1:
        return inverse, uniques.reshape(-1, 1)
    # more than 32 criteria: fold the next word into the running pattern index; both factors are < n,
    # so the combined key stays below n**2 and fits an int64 for any cohort that fits in memory
    for w in range(1, words.shape[1]):
        word_index, _ = pd.factorize(words[:, w], sort=False)
        combined = inverse.astype(np.int64) * (int(word_index.max(initial=0)) + 1) + word_index
        inverse, _ = pd.factorize(combined, sort=False)
    first = np.full(inverse.max(initial=-1) + 1, -1, dtype=np.int64)
    # one representative subject per pattern (the last one written wins; any is fine)
    first[inverse] = np.arange(len(inverse))
    return inverse, words[first]


@dataclass(frozen=True)
class PatternHistogram:
    """Distinct raw-status patterns, how many subjects have each, and which one each subject has."""

    patterns: np.ndarray  # (m, k) int8 raw codes
    counts: np.ndarray    # (m,) int64
    inverse: np.ndarray   # (n,) pattern index of each subject

    @property
    def n_subjects(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def order(self) -> np.ndarray:
        """The patterns by ascending count: the bitsets below list them in this order, so that most words of
        a bitset hold patterns of one count and the large counts sit in a short tail (most patterns are
        rare); a weighted count then reads few words (PatternHistogram.count_planes)."""
        return np.argsort(self.counts, kind="stable")

    @cached_property
    def code_bits(self) -> np.ndarray:
        """(4, k, words) uint64: bit p of [c, j] says pattern order[p] has raw code c on criterion j."""
        words = -(-len(self.counts) // 64)
        patterns = self.patterns[self.order]
        out = np.zeros((4, patterns.shape[1], words), dtype=np.uint64)
        for code in range(4):
            for j in range(patterns.shape[1]):
                out[code, j] = _to_bits(patterns[:, j] == code, words)
        return out

    @cached_property
    def count_planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a weighted count reads, as (word index into a pattern bitset, mask word, weight) per entry:
        the subjects in a set of patterns are sum(weight * popcount(set[index] & mask)).

        In `order` (ascending counts) most 64-pattern words hold patterns of one count (44 % of the patterns
        of a 10^7 cohort have count 1): such a word is one entry, weighted by that count, masked to its
        patterns. Each other word (where the counts change, and the rare large counts) gets one entry per
        binary digit of its counts that is set in any of its patterns, weighted by that digit's value. At
        10^7 subjects this reads 2,278 words instead of 3,808 for the binary planes alone."""
        words, m = -(-len(self.counts) // 64), len(self.counts)
        counts = self.counts[self.order]
        padded = np.zeros(words * 64, dtype=np.int64)
        padded[:m] = counts
        by_word = padded.reshape(words, 64)
        valid = _to_bits(np.arange(words * 64) < m, words)
        last = counts[np.minimum(np.arange(words) * 64 + 63, m - 1)] if m else np.zeros(0, np.int64)
        uniform = by_word[:, 0] == last  # ascending: the first and the last pattern of a word bound it
        index, masks, weights = [np.flatnonzero(uniform)], [valid[uniform]], [by_word[uniform, 0]]
        for b in range(max(1, int(counts.max(initial=0)).bit_length())):
            plane = _to_bits(((counts >> b) & 1).astype(bool), words)
            keep = ~uniform & (plane != 0)
            index.append(np.flatnonzero(keep))
            masks.append(plane[keep])
            weights.append(np.full(int(keep.sum()), 1 << b, dtype=np.int64))
        return np.concatenate(index), np.concatenate(masks), np.concatenate(weights)

    def scratch(self, rows: int, words: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Work buffers of the weighted counts for `rows` sets (reused from call to call; one thread at a
        time, as a dashboard's state runs): gathered words, their popcounts, the same as float64, and the
        entries' weights as float64."""
        cache = self.__dict__.setdefault("_scratch", {})
        if (rows, words) not in cache:
            cache[(rows, words)] = (np.empty((rows, words), np.uint64), np.empty((rows, words), np.uint8),
                                    np.empty((rows, words), np.float64), self.count_planes[2].astype(np.float64))
        return cache[(rows, words)]

    def resolved_bits(self, j: int, table_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bitsets (in `order`) of the patterns that FAIL / are UNKNOWN on criterion j once its raw codes are
        resolved by `table_row` (raw code -> resolved code); kept per (criterion, policy), of which a trial
        has only a few."""
        cache = self.__dict__.setdefault("_resolved", {})
        key = (j, table_row.tobytes())
        if key not in cache:
            raw = self.code_bits[:, j]  # (4, words)
            cache[key] = (np.bitwise_or.reduce(raw[table_row == FAIL], axis=0, initial=np.uint64(0)),
                          np.bitwise_or.reduce(raw[table_row == UNKNOWN], axis=0, initial=np.uint64(0)))
        return cache[key]

    @cached_property
    def columns(self) -> tuple[np.ndarray, ...]:
        """Each criterion's raw codes as a contiguous uint8 array (what the statistics scan, step by step)."""
        return tuple(np.ascontiguousarray(self.patterns[:, j]).view(np.uint8) for j in range(self.patterns.shape[1]))


def _to_bits(mask: np.ndarray, words: int) -> np.ndarray:
    """Bool array -> uint64 words, bit i of the result is element i (little-endian bit order)."""
    packed = np.zeros(words * 8, dtype=np.uint8)
    bits = np.packbits(mask, bitorder="little")
    packed[: len(bits)] = bits
    return packed.view(np.uint64)


def histogram(packed: np.ndarray, n_criteria: int) -> PatternHistogram:
    if packed.shape[0] == 0:
        return PatternHistogram(np.zeros((0, n_criteria), np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64))
    inverse, unique_words = _keys(packed)
    counts = np.bincount(inverse, minlength=len(unique_words)).astype(np.int64)
    unique_bytes = np.ascontiguousarray(unique_words).view(np.uint8).reshape(len(unique_words), -1)
    patterns = np.empty((len(unique_words), n_criteria), dtype=np.int8)
    for j in range(n_criteria):
        byte, shift = divmod(j, CRITERIA_PER_BYTE)
        patterns[:, j] = (unique_bytes[:, byte] >> (2 * shift)) & 3
    return PatternHistogram(patterns, counts, inverse)


# --- which criteria, in which order, under which policies ----------------------------------------

@dataclass(frozen=True)
class Selection:
    """The enabled criteria in funnel order, with the lookup that resolves their raw codes."""

    ids: tuple[str, ...]
    columns: tuple[int, ...]   # column of each in the matrix
    tables: np.ndarray         # (len(ids), 4) int8: raw code -> resolved code
    policies: tuple[str, ...]  # the unknown policy in force for each


def select(criteria: Sequence, *, order: Sequence[str] | None = None,
           enabled: Iterable[str] | Mapping[str, bool] | None = None,
           policies: Mapping[str, str] | None = None) -> Selection:
    """Resolve order / enabled / policy overrides against the matrix's criteria.

    `order` lists criterion ids in funnel order (criteria it leaves out follow in the trial's order);
    `enabled` is the ids to keep (or {id: bool}); `policies` overrides unknown policies by id.
    """
    ids = [c.id for c in criteria]
    position = {cid: i for i, cid in enumerate(ids)}

    def known(cid: str, what: str) -> str:
        if cid not in position:
            raise DefinitionError(f"{what} names no criterion of this trial; criteria are {ids}", criterion=cid)
        return cid

    ordered = [known(cid, "order") for cid in (order or ())]
    if len(set(ordered)) != len(ordered):
        raise DefinitionError("order lists a criterion twice", field="order")
    ordered += [cid for cid in ids if cid not in set(ordered)]
    if enabled is None:  # what the trial file has switched on (every criterion, unless it says otherwise)
        keep = {c.id for c in criteria if getattr(c, "enabled", True)}
    elif isinstance(enabled, Mapping):
        keep = {known(cid, "enabled") for cid, on in enabled.items() if on}
        keep |= {cid for cid in ids if cid not in enabled}  # not mentioned = left as it is (enabled)
    else:
        keep = {known(cid, "enabled") for cid in enabled}
    overrides = {known(cid, "policies"): p for cid, p in (policies or {}).items()}
    chosen = [cid for cid in ordered if cid in keep]
    tables, used = [], []
    for cid in chosen:
        c = criteria[position[cid]]
        policy = overrides.get(cid, c.unknown)
        try:
            tables.append(resolution_table(policy, c.assumption))
        except DefinitionError as err:
            raise DefinitionError(str(err), criterion=cid) from None
        used.append(policy)
    table = np.array(tables, dtype=np.int8).reshape(len(chosen), 4)
    return Selection(tuple(chosen), tuple(position[c] for c in chosen), table, tuple(used))


def resolve(patterns: np.ndarray, selection: Selection) -> np.ndarray:
    """(m, k) raw patterns -> (m, len(selection)) resolved codes (PASS, FAIL, UNKNOWN) in selection order."""
    k = len(selection.ids)
    if k == 0:
        return np.zeros((len(patterns), 0), dtype=np.int8)
    raw = patterns[:, list(selection.columns)].astype(np.intp)
    # one flat lookup: row s of the table starts at 4 * s
    return selection.tables.ravel()[raw + 4 * np.arange(k)]


# --- the statistics' counts from the histogram alone ----------------------------------------------
# Each function is the histogram twin of a bit-column computation in explorer.engine.stats / shapley:
# the same counts, as sums of pattern counts instead of popcounts over subjects, so a matrix that holds
# only (pattern, count) rows (explorer.engine.histogram) gives identical statistics.

def _code_set(table_row: np.ndarray, wanted: int) -> np.uint8:
    """The raw codes (bits 0..3) that a criterion's policy resolves to `wanted`."""
    return np.uint8(sum(1 << code for code in range(4) if table_row[code] == wanted))


def _is(column: np.ndarray, codes: np.uint8) -> np.ndarray:
    """Which patterns have a raw code in `codes`: a shift and a mask on uint8, no index arrays."""
    return ((codes >> column) & np.uint8(1)).view(bool)


def resolved_masks(h: PatternHistogram, selection: Selection) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per selected criterion, in order: which patterns FAIL and which are UNKNOWN after its policy."""
    fails, unknowns = [], []
    for s, j in enumerate(selection.columns):
        column, row = h.columns[j], selection.tables[s]
        fails.append(_is(column, _code_set(row, FAIL)))
        unknowns.append(_is(column, _code_set(row, UNKNOWN)))
    return fails, unknowns


def funnel_counts(h: PatternHistogram, selection: Selection) -> tuple[int, list[int], list[int], list[int]]:
    """(total, eligible, remaining, became_unknown) per funnel step, step 0 the screened population.

    Every step at once over bitsets of patterns: the FAIL / UNKNOWN sets of each step (an OR of the
    raw-code sets its policy maps there), running ANDs down the steps, then the weighted counts of all
    3k sets as popcounts against the binary planes of the counts (explorer.engine.stats does the same
    per subject over the bit columns).
    """
    k, counts = len(selection.ids), h.counts
    total = int(counts.sum())
    if k == 0 or len(counts) == 0:
        return total, [total] * (k + 1), [total] * (k + 1), [0] * (k + 1)
    fail, unknown = _step_bits(h, selection)
    sets = np.empty((3 * k, fail.shape[1]), np.uint64)  # filled in place: no temporaries
    remaining, eligible, became = sets[:k], sets[k:2 * k], sets[2 * k:]
    np.bitwise_and.accumulate(np.invert(fail, out=remaining), axis=0, out=remaining)
    np.bitwise_or(fail, unknown, out=eligible)
    np.bitwise_and.accumulate(np.invert(eligible, out=eligible), axis=0, out=eligible)
    # eligible before the step and UNKNOWN at it (a pattern is never FAIL and UNKNOWN at the same step)
    became[0] = unknown[0]
    np.bitwise_and(eligible[:-1], unknown[1:], out=became[1:])
    weighted = _weighted(h, sets)
    return (total, [total, *weighted[k:2 * k]], [total, *weighted[:k]], [0, *weighted[2 * k:]])


def _step_bits(h: PatternHistogram, selection: Selection) -> tuple[np.ndarray, np.ndarray]:
    """(k, words) bitsets of the patterns that FAIL / are UNKNOWN at each selected criterion, after its
    policy: the OR of the raw-code sets the policy maps there (explorer.engine.patterns.PatternHistogram
    keeps each criterion's pair per policy, so a toggle only copies them into place)."""
    k, words = len(selection.ids), h.code_bits.shape[2]
    fail, unknown = np.empty((k, words), np.uint64), np.empty((k, words), np.uint64)
    for s, j in enumerate(selection.columns):
        fail[s], unknown[s] = h.resolved_bits(j, selection.tables[s])
    return fail, unknown


def _weighted(h: PatternHistogram, sets: np.ndarray) -> list[int]:
    """Subjects in each of the (s, words) pattern bitsets (in h.order): weighted popcounts of the words
    PatternHistogram.count_planes lists, masked as it says."""
    if not hasattr(np, "bitwise_count"):  # numpy < 2.0
        return [int(h.counts[h.order] @ _from_bits(x, len(h.counts))) for x in sets]
    index, planes, weights = h.count_planes
    # into buffers kept on the histogram: fresh megabyte temporaries on every toggle cost more in page
    # faults than the arithmetic; the dot product in float64 is exact (every sum is far below 2^53)
    words, bits, floats, weight = h.scratch(len(sets), len(index))
    np.take(sets, index, axis=1, out=words)
    np.bitwise_and(words, planes, out=words)
    np.bitwise_count(words, out=bits)
    np.copyto(floats, bits)
    return [int(x) for x in floats @ weight]


def _from_bits(words: np.ndarray, n: int) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8), count=n, bitorder="little").astype(bool)


def final_counts(h: PatternHistogram, selection: Selection) -> tuple[int, int, int]:
    """(total, eligible: PASS every selected criterion, remaining: FAIL none)."""
    counts = h.counts
    eligible_mask, remaining_mask = np.ones(len(counts), bool), np.ones(len(counts), bool)
    for fail, unknown in zip(*resolved_masks(h, selection), strict=True):
        remaining_mask &= ~fail
        eligible_mask &= ~(fail | unknown)
    return int(counts.sum()), int(counts @ eligible_mask), int(counts @ remaining_mask)


def impact_counts(h: PatternHistogram, selection: Selection) -> tuple[np.ndarray, int, int, int]:
    """Per selected criterion: failing, unknown, unknown_raw, excluded_alone, excluded_alone_possibly,
    eligible_if_removed, remaining_if_removed, eligible_if_unknown_pass; then eligible, remaining, total.
    The bit-column computation of explorer.engine.stats over bitsets of patterns (prefix and suffix ANDs
    for "every criterion but this one"), all sets weighted at once."""
    k, counts = len(selection.ids), h.counts
    total = int(counts.sum())
    if k == 0 or len(counts) == 0:
        return np.zeros((k, 8), dtype=np.int64), total, total, total
    fail, unknown = _step_bits(h, selection)
    passes, no_fails = ~(fail | unknown), ~fail
    others_pass, others_no_fail = _all_but_one(passes), _all_but_one(no_fails)
    raw_unknown = h.code_bits[UNKNOWN][list(selection.columns)]
    sets = np.concatenate([fail, unknown, raw_unknown, fail & others_pass, fail & others_no_fail & ~others_pass,
                           others_pass, others_no_fail, others_pass & (passes | raw_unknown),
                           np.bitwise_and.reduce(passes, axis=0)[None], np.bitwise_and.reduce(no_fails, axis=0)[None]])
    weighted = np.array(_weighted(h, sets), dtype=np.int64)
    values = weighted[:8 * k].reshape(8, k).T.copy()
    return values, int(weighted[8 * k]), int(weighted[8 * k + 1]), total


def _all_but_one(sets: np.ndarray) -> np.ndarray:
    """Row i: the AND of every row but the i-th (prefix and suffix ANDs, no division)."""
    ones = np.full((1, sets.shape[1]), ~np.uint64(0))
    prefix = np.concatenate([ones, np.bitwise_and.accumulate(sets, axis=0)[:-1]])
    suffix = np.concatenate([np.bitwise_and.accumulate(sets[::-1], axis=0)[::-1][1:], ones])
    return prefix & suffix


def exact_shapley(blocked: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """phi_i = -sum over c of |blocked by i and by c criteria in all| / c (explorer.engine.shapley),
    summed in the same order as the bit-column version so that the floats are identical."""
    m, k = blocked.shape
    size = blocked.sum(axis=1)
    phi = np.zeros(k)
    for c in range(1, k + 1):
        exactly_c = size == c
        if not exactly_c.any():
            continue
        per_criterion = counts[exactly_c] @ blocked[exactly_c].astype(np.int64)
        for i in range(k):
            phi[i] -= int(per_criterion[i]) / c
    return phi


__all__ = ["PatternHistogram", "Selection", "exact_shapley", "final_counts", "funnel_counts", "histogram",
           "impact_counts", "pack", "resolve", "resolved_masks", "select", "set_packed_column"]
