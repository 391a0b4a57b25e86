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

import numpy as np
import pandas as pd

from explorer.engine.status import resolution_table
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


__all__ = ["PatternHistogram", "Selection", "histogram", "pack", "resolve", "select", "set_packed_column"]
