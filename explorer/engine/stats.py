"""Attrition funnel, per-criterion impact and exclusion overlap, computed from the matrix alone.

Every function takes an EligibilityMatrix and the same three optional choices:

    order     criterion ids in funnel order (criteria left out follow in the trial's order)
    enabled   the ids to apply, or {id: bool}; default: every criterion
    policies  unknown-policy overrides {id: "unknown" | "pass" | "fail"}; default: each criterion's own

and never reads subject data. Funnel, impact and final counts are AND / popcount over the matrix's
bit-packed columns (explorer.engine.bits: a toggle at a million subjects is about a millisecond of
work); overlap groups the matrix's distinct status patterns (explorer.engine.patterns).

How unknowns flow through the funnel: a subject passes a step when its status is PASS, leaves the
funnel at the first criterion it FAILs, and moves from the "eligible" stream to the "possibly
eligible" stream at the first criterion that is UNKNOWN for it (after the criterion's policy). The
possibly-eligible stream can still lose subjects at later steps by a FAIL. So after every step

    remaining = eligible (passed every step so far) + possibly_eligible (no FAIL, at least one UNKNOWN)

and `excluded` at a step counts the subjects whose first FAIL it is (from either stream).

Returned DataFrames carry `attrs["counts"]` and `attrs["percents"]` so that
explorer.engine.privacy.suppress_small_cells knows which cells are counts and how percentages derive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from explorer.engine import patterns
from explorer.engine.bits import popcount
from explorer.engine.patterns import Selection, resolve, select
from explorer.engine.status import FAIL, UNKNOWN
from explorer.errors import DefinitionError

try:  # pandas >= 3: a DataFrame straight from its blocks (public API for libraries)
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # pragma: no cover - older pandas
    _from_blocks = None

Enabled = Iterable[str] | Mapping[str, bool] | None


def _percent(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 * np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


def _meta(frame: pd.DataFrame, counts: Sequence[str], percents: Mapping[str, tuple]) -> pd.DataFrame:
    frame.attrs["counts"] = list(counts)
    frame.attrs["percents"] = dict(percents)
    return frame


def _policy_labels(matrix, sel: Selection) -> tuple[list, list[str]]:
    info = [matrix.criterion(cid) for cid in sel.ids]
    return info, [p if c.computable else f"assumed {c.assumption}" for p, c in zip(sel.policies, info, strict=True)]


def _resolved_bits(matrix, order=None, enabled: Enabled = None, policies=None):
    sel = select(matrix.criteria, order=order, enabled=enabled, policies=policies)
    bits = matrix.bits
    fails, unknowns = bits.resolve(sel)
    return sel, bits, fails, unknowns


def _funnel_counts(matrix, sel: Selection) -> tuple[int, list[int], list[int], list[int]]:
    """(total, eligible, remaining, became_unknown) per step: popcounts over the bit columns, or sums over
    the pattern histogram for a matrix that holds only the histogram (explorer.engine.histogram)."""
    if getattr(matrix, "histogram_only", False):
        return patterns.funnel_counts(matrix.histogram, sel)
    bits = matrix.bits
    fails, unknowns = bits.resolve(sel)
    total = bits.n
    eligible_bits, remaining_bits = bits.ones.copy(), bits.ones.copy()  # updated in place below
    eligible, remaining, became_unknown = [total], [total], [0]
    scratch = np.empty_like(bits.ones)
    for fail, unknown in zip(fails, unknowns, strict=True):
        # excluded at this step = remaining before - remaining after, so no popcount of its own
        if fail is not bits.zeros:
            np.bitwise_and(remaining_bits, np.invert(fail, out=scratch), out=remaining_bits)
            np.bitwise_and(eligible_bits, scratch, out=eligible_bits)
        if unknown is not bits.zeros:
            became_unknown.append(popcount(np.bitwise_and(eligible_bits, unknown, out=scratch)))
            np.bitwise_and(eligible_bits, np.invert(unknown, out=scratch), out=eligible_bits)
        else:
            became_unknown.append(0)
        remaining.append(popcount(remaining_bits) if fail is not bits.zeros else remaining[-1])
        eligible.append(popcount(eligible_bits))
    return total, eligible, remaining, became_unknown


def funnel(matrix, order: Sequence[str] | None = None, enabled: Enabled = None,
           policies: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The attrition funnel: one row for the screened population, then one per enabled criterion in order.

    Columns: step, criterion, kind, label, policy, eligible, possibly_eligible, remaining, excluded
    (first FAIL at this step), became_unknown (eligible before, UNKNOWN here), and percentages
    remaining_pct_start, remaining_pct_previous, eligible_pct_start, excluded_pct_previous.
    """
    sel = select(matrix.criteria, order=order, enabled=enabled, policies=policies)
    total, eligible, remaining, became_unknown = _funnel_counts(matrix, sel)
    k = len(sel.ids)
    remaining_arr, eligible_arr = np.array(remaining, dtype=np.int64), np.array(eligible, dtype=np.int64)
    excluded = np.zeros(k + 1, dtype=np.int64)
    excluded[1:] = remaining_arr[:-1] - remaining_arr[1:]
    previous = np.concatenate([[total], remaining_arr[:-1]])
    counts = np.stack([np.arange(k + 1), eligible_arr, remaining_arr - eligible_arr, remaining_arr, excluded,
                       np.array(became_unknown, dtype=np.int64)])
    percents = np.stack([_percent(remaining_arr, total), _percent(remaining_arr, previous),
                         _percent(eligible_arr, total), _percent(excluded, previous)])
    frame = _funnel_frame(_funnel_texts(matrix, sel), counts, percents)
    return _meta(frame, ["eligible", "possibly_eligible", "remaining", "excluded", "became_unknown"], {
        "remaining_pct_start": ("remaining", ("first", "remaining")),
        "remaining_pct_previous": ("remaining", ("previous", "remaining")),
        "eligible_pct_start": ("eligible", ("first", "remaining")),
        "excluded_pct_previous": ("excluded", ("previous", "remaining")),
    })


_FUNNEL_COLUMNS = pd.Index(["step", "criterion", "kind", "label", "policy", "eligible", "possibly_eligible",
                            "remaining", "excluded", "became_unknown", "remaining_pct_start",
                            "remaining_pct_previous", "eligible_pct_start", "excluded_pct_previous"])
_FUNNEL_PLACES = (np.array([0, 5, 6, 7, 8, 9]), np.arange(10, 14))  # where the count and percent rows go


def _funnel_texts(matrix, sel: Selection) -> list:
    """The criterion, kind, label and policy columns, kept per selection on the matrix (a dashboard goes
    back and forth between a few): building string arrays from Python objects cost more than the whole
    funnel's counts. Arrays are immutable here: every frame gets its own take of them."""
    cache = matrix.__dict__.setdefault("_funnel_texts", {})
    key = (sel.ids, sel.policies)
    if key not in cache:
        if len(cache) >= 256:  # a bound, not a policy: one entry per distinct selection seen
            cache.clear()
        info, policy = _policy_labels(matrix, sel)
        cache[key] = (pd.array([None, *sel.ids], dtype="str"), pd.array(["screened", *(c.kind for c in info)], dtype="str"),
                      pd.array(["Screened", *(c.label for c in info)], dtype="str"), pd.array([None, *policy], dtype="str"))
    return [text.copy() for text in cache[key]]


def _funnel_frame(texts: list, counts: np.ndarray, percents: np.ndarray) -> pd.DataFrame:
    """The funnel table from its blocks: (6, steps) int64 counts, (4, steps) float64 percents and the four
    text columns. pandas' block constructor takes them as they are; a DataFrame built from a dict of
    fourteen columns sorted them into blocks again and cost two to three times the funnel's counts."""
    index = pd.RangeIndex(counts.shape[1])
    if _from_blocks is None:  # pandas < 3: the dict constructor
        columns = dict(zip(_FUNNEL_COLUMNS[[0, *range(5, 14)]], [*counts, *percents], strict=True))
        columns.update(zip(_FUNNEL_COLUMNS[1:5], texts, strict=True))
        return pd.DataFrame(columns, index=index, columns=_FUNNEL_COLUMNS, copy=False)
    blocks = [(counts, _FUNNEL_PLACES[0]), (percents, _FUNNEL_PLACES[1])]
    blocks += [(text, np.array([1 + i])) for i, text in enumerate(texts)]
    return _from_blocks(blocks, index=index, columns=_FUNNEL_COLUMNS)


def final_bits(matrix, enabled: Enabled = None, policies: Mapping[str, str] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Bitsets of (eligible: PASS everything, remaining: FAIL nothing) after the enabled criteria."""
    if getattr(matrix, "histogram_only", False):
        raise DefinitionError("this matrix holds only the pattern histogram, no subjects; ask its engine "
                              "for subject-level answers (matrix.eligible_ids())")
    _, bits, fails, unknowns = _resolved_bits(matrix, None, enabled, policies)
    eligible, remaining = bits.ones, bits.ones
    for fail, unknown in zip(fails, unknowns, strict=True):
        remaining = remaining & ~fail
        eligible = eligible & ~(fail | unknown)
    return eligible, remaining


def final_counts(matrix, enabled: Enabled = None, policies: Mapping[str, str] | None = None) -> dict[str, int]:
    """{screened, eligible, possibly_eligible, remaining, excluded} after every enabled criterion."""
    if getattr(matrix, "histogram_only", False):
        total, eligible, remaining = patterns.final_counts(
            matrix.histogram, select(matrix.criteria, enabled=enabled, policies=policies))
    else:
        eligible_bits, remaining_bits = final_bits(matrix, enabled, policies)
        total, eligible, remaining = matrix.n_subjects, popcount(eligible_bits), popcount(remaining_bits)
    return {"screened": total, "eligible": eligible, "possibly_eligible": remaining - eligible,
            "remaining": remaining, "excluded": total - remaining}


def _all_but_one(bitsets: Sequence[np.ndarray], ones: np.ndarray) -> list[np.ndarray]:
    """For each i, the AND of every bitset except the i-th (prefix and suffix products: O(k), no division)."""
    k = len(bitsets)
    prefix = [ones]
    for b in bitsets[:-1]:
        prefix.append(prefix[-1] & b)
    out, suffix = [None] * k, ones
    for i in range(k - 1, -1, -1):
        out[i] = prefix[i] & suffix
        suffix = suffix & bitsets[i]
    return out


def _impact_counts(matrix, sel: Selection) -> tuple[np.ndarray, int, int, int]:
    """impact's eight counts per criterion, then eligible, remaining, total (bit columns or histogram)."""
    if getattr(matrix, "histogram_only", False):
        return patterns.impact_counts(matrix.histogram, sel)
    bits = matrix.bits
    fails, unknowns = bits.resolve(sel)
    ones, total = bits.ones, bits.n
    passes = [ones & ~(f | u) for f, u in zip(fails, unknowns, strict=True)]
    no_fails = [ones & ~f for f in fails]
    others_pass = _all_but_one(passes, ones)
    others_no_fail = _all_but_one(no_fails, ones)
    eligible = popcount(others_pass[0] & passes[0]) if passes else total
    remaining = popcount(others_no_fail[0] & no_fails[0]) if no_fails else total
    rows = []
    for s, j in enumerate(sel.columns):
        fail, op, onf, raw_unknown = fails[s], others_pass[s], others_no_fail[s], bits.unknown[j]
        rows.append((popcount(fail), popcount(unknowns[s]), popcount(raw_unknown), popcount(fail & op),
                     popcount(fail & onf & ~op), popcount(op), popcount(onf),
                     popcount(op & (passes[s] | raw_unknown))))
    values = np.array(rows, dtype=np.int64).reshape(len(rows), 8)
    return values, eligible, remaining, total


def impact(matrix, enabled: Enabled = None, policies: Mapping[str, str] | None = None) -> pd.DataFrame:
    """What each enabled criterion does, given all the others (order plays no part).

    failing / unknown        subjects FAIL / UNKNOWN on it (after its policy); unknown_raw: before the policy
    excluded_alone (gain)    FAIL on it and PASS on every other criterion: eligible if only it were dropped
    excluded_alone_possibly  FAIL on it, no other FAIL but some UNKNOWN: possibly eligible if it were dropped
    eligible_if_removed      eligible count with the criterion dropped
    remaining_if_removed     eligible + possibly eligible with it dropped
    eligible_if_unknown_pass eligible count if its unknowns (missing data) counted as PASS
    eligible, remaining      the current counts, for reference
    """
    sel = select(matrix.criteria, enabled=enabled, policies=policies)
    values, eligible, remaining, total = _impact_counts(matrix, sel)
    info, policy = _policy_labels(matrix, sel)
    frame = pd.DataFrame({
        "criterion": list(sel.ids),
        "kind": [c.kind for c in info],
        "label": [c.label for c in info],
        "policy": policy,
        "failing": values[:, 0],
        "unknown": values[:, 1],
        "unknown_raw": values[:, 2],
        "excluded_alone": values[:, 3],
        "excluded_alone_possibly": values[:, 4],
        "eligible_if_removed": values[:, 5],
        "remaining_if_removed": values[:, 6],
        "eligible_if_unknown_pass": values[:, 7],
        "eligible": np.full(len(values), eligible, dtype=np.int64),
        "remaining": np.full(len(values), remaining, dtype=np.int64),
    })
    for col in ("failing", "unknown", "excluded_alone"):
        frame[f"{col}_pct"] = _percent(frame[col], total)
    frame.attrs["screened"] = total
    return _meta(frame, ["failing", "unknown", "unknown_raw", "excluded_alone", "excluded_alone_possibly",
                         "eligible_if_removed", "remaining_if_removed", "eligible_if_unknown_pass",
                         "eligible", "remaining"],
                 {f"{col}_pct": (col, ("constant", total)) for col in ("failing", "unknown", "excluded_alone")})


def overlap(matrix, enabled: Enabled = None, policies: Mapping[str, str] | None = None, *,
            unknown_as_fail: bool = False, include_none: bool = False) -> pd.DataFrame:
    """Subjects per exact combination of failed criteria (UpSet / treemap data), largest first.

    Each excluded subject is counted once, under the set of every enabled criterion it fails.
    unknown_as_fail=True counts UNKNOWN like FAIL; include_none=True adds the row of subjects who
    fail nothing (combination ()).
    """
    sel = select(matrix.criteria, enabled=enabled, policies=policies)
    h = matrix.histogram
    resolved, counts = resolve(h.patterns, sel), h.counts
    total = int(counts.sum())
    failed = (resolved == FAIL) | ((resolved == UNKNOWN) if unknown_as_fail else False)
    if len(failed):
        packed = np.packbits(failed, axis=1) if failed.shape[1] else np.zeros((len(failed), 1), np.uint8)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        combo_counts = np.bincount(inverse.ravel(), weights=counts, minlength=len(unique_keys))
        combos = failed[first]
    else:
        combo_counts, combos = np.zeros(0), np.zeros((0, len(sel.ids)), bool)
    ids = np.array(sel.ids, dtype=object)
    rows = [(tuple(ids[c]), int(round(n))) for c, n in zip(combos, combo_counts, strict=True) if include_none or c.any()]
    rows.sort(key=lambda r: (-r[1], len(r[0]), [sel.ids.index(i) for i in r[0]]))
    excluded = sum(n for combo, n in rows if combo)
    frame = pd.DataFrame({
        "combination": [r[0] for r in rows],
        "label": [" + ".join(r[0]) if r[0] else "(none)" for r in rows],
        "size": np.array([len(r[0]) for r in rows], dtype=np.int64),
        "count": np.array([r[1] for r in rows], dtype=np.int64),
    })
    frame["pct_screened"] = _percent(frame["count"], total)
    frame["pct_excluded"] = _percent(frame["count"], excluded)
    frame.attrs["screened"] = total
    return _meta(frame, ["count"], {"pct_screened": ("count", ("constant", total)),
                                    "pct_excluded": ("count", ("constant", excluded))})


def membership(overlap_frame: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    """The overlap table as a boolean membership matrix (one column per criterion), for UpSet plots."""
    return pd.DataFrame({cid: [cid in combo for combo in overlap_frame["combination"]] for cid in ids},
                        index=overlap_frame.index)
