"""Attrition funnel, per-criterion impact and exclusion overlap, computed from the matrix alone.

Every function takes an EligibilityMatrix and the same three optional choices:

    order     criterion ids in funnel order (criteria left out follow in the trial's order)
    enabled   the ids to apply, or {id: bool}; default: every criterion
    policies  unknown-policy overrides {id: "unknown" | "pass" | "fail"}; default: each criterion's own

and works on the matrix's pattern histogram (explorer.engine.patterns), so the cost depends on the
number of distinct status patterns, not on the number of subjects.

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

from explorer.engine.patterns import Selection, resolve, select
from explorer.engine.status import FAIL, PASS, UNKNOWN, UNKNOWN_POLICIES

Enabled = Iterable[str] | Mapping[str, bool] | None


def _weighted_bins(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Sum of weights per integer bin; integer-exact (bincount's float64 is exact below 2**53)."""
    return np.rint(np.bincount(index, weights=weights, minlength=size)[:size]).astype(np.int64)


def _first(mask: np.ndarray) -> np.ndarray:
    """Per row, the first column where mask is true; the number of columns where it never is."""
    k = mask.shape[1]
    if k == 0:
        return np.zeros(mask.shape[0], dtype=np.intp)
    return np.where(mask.any(axis=1), mask.argmax(axis=1), k)


def _percent(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 * np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


def _meta(frame: pd.DataFrame, counts: Sequence[str], percents: Mapping[str, tuple]) -> pd.DataFrame:
    frame.attrs["counts"] = list(counts)
    frame.attrs["percents"] = dict(percents)
    return frame


def _selection(matrix, order=None, enabled: Enabled = None, policies=None) -> tuple[Selection, np.ndarray, np.ndarray]:
    sel = select(matrix.criteria, order=order, enabled=enabled, policies=policies)
    h = matrix.histogram
    return sel, resolve(h.patterns, sel), h.counts


def funnel(matrix, order: Sequence[str] | None = None, enabled: Enabled = None,
           policies: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The attrition funnel: one row for the screened population, then one per enabled criterion in order.

    Columns: step, criterion, kind, label, policy, eligible, possibly_eligible, remaining, excluded
    (first FAIL at this step), became_unknown (eligible before, UNKNOWN here), and percentages
    remaining_pct_start, remaining_pct_previous, eligible_pct_start, excluded_pct_previous.
    """
    sel, resolved, counts = _selection(matrix, order, enabled, policies)
    k, total = len(sel.ids), int(counts.sum())
    first_fail = _first(resolved == FAIL)
    first_unknown = _first(resolved == UNKNOWN)
    excluded = _weighted_bins(first_fail, counts, k + 1)[:k]
    left_eligible = _weighted_bins(np.minimum(first_fail, first_unknown), counts, k + 1)[:k]
    turned = first_unknown < first_fail  # became unknown before (or without) failing
    became_unknown = _weighted_bins(first_unknown[turned], counts[turned], k + 1)[:k]

    remaining = total - np.concatenate([[0], np.cumsum(excluded)])
    eligible = total - np.concatenate([[0], np.cumsum(left_eligible)])
    info = [matrix.criterion(cid) for cid in sel.ids]
    frame = pd.DataFrame({
        "step": np.arange(k + 1),
        "criterion": [None] + list(sel.ids),
        "kind": ["screened"] + [c.kind for c in info],
        "label": ["Screened"] + [c.label for c in info],
        "policy": [None] + [p if c.computable else f"assumed {c.assumption}" for p, c in zip(sel.policies, info)],
        "eligible": eligible,
        "possibly_eligible": remaining - eligible,
        "remaining": remaining,
        "excluded": np.concatenate([[0], excluded]),
        "became_unknown": np.concatenate([[0], became_unknown]),
    })
    previous = np.concatenate([[total], remaining[:-1]])
    frame["remaining_pct_start"] = _percent(remaining, total)
    frame["remaining_pct_previous"] = _percent(remaining, previous)
    frame["eligible_pct_start"] = _percent(eligible, total)
    frame["excluded_pct_previous"] = _percent(frame["excluded"], previous)
    return _meta(frame, ["eligible", "possibly_eligible", "remaining", "excluded", "became_unknown"], {
        "remaining_pct_start": ("remaining", ("first", "remaining")),
        "remaining_pct_previous": ("remaining", ("previous", "remaining")),
        "eligible_pct_start": ("eligible", ("first", "remaining")),
        "excluded_pct_previous": ("excluded", ("previous", "remaining")),
    })


def final_counts(matrix, enabled: Enabled = None, policies: Mapping[str, str] | None = None) -> dict[str, int]:
    """{screened, eligible, possibly_eligible, remaining, excluded} after every enabled criterion."""
    _, resolved, counts = _selection(matrix, None, enabled, policies)
    no_fail = ~(resolved == FAIL).any(axis=1)
    all_pass = (resolved == PASS).all(axis=1)
    total = int(counts.sum())
    eligible, remaining = int(counts[all_pass].sum()), int(counts[no_fail].sum())
    return {"screened": total, "eligible": eligible, "possibly_eligible": remaining - eligible,
            "remaining": remaining, "excluded": total - remaining}


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
    sel, resolved, counts = _selection(matrix, None, enabled, policies)
    total = int(counts.sum())
    raw = matrix.histogram.patterns[:, list(sel.columns)]
    not_pass = resolved != PASS
    fail = resolved == FAIL
    n_not_pass = not_pass.sum(axis=1)
    n_fail = fail.sum(axis=1)
    eligible = int(counts[n_not_pass == 0].sum())
    remaining = int(counts[n_fail == 0].sum())

    others_pass = (n_not_pass[:, None] - not_pass) == 0   # (m, k): every other criterion passes
    others_no_fail = (n_fail[:, None] - fail) == 0
    def weighted(mask: np.ndarray) -> np.ndarray:
        return np.rint(counts @ mask.astype(np.float64)).astype(np.int64) if mask.size else np.zeros(
            mask.shape[1], np.int64)

    info = [matrix.criterion(cid) for cid in sel.ids]
    frame = pd.DataFrame({
        "criterion": list(sel.ids),
        "kind": [c.kind for c in info],
        "label": [c.label for c in info],
        "policy": [p if c.computable else f"assumed {c.assumption}" for p, c in zip(sel.policies, info)],
        "failing": weighted(fail),
        "unknown": weighted(resolved == UNKNOWN),
        "unknown_raw": weighted(raw == UNKNOWN),
        "excluded_alone": weighted(fail & others_pass),
        "excluded_alone_possibly": weighted(fail & others_no_fail & ~others_pass),
        "eligible_if_removed": weighted(others_pass),
        "remaining_if_removed": weighted(others_no_fail),
        "eligible_if_unknown_pass": weighted(others_pass & ((resolved == PASS) | (raw == UNKNOWN))),
        "eligible": np.full(len(sel.ids), eligible, dtype=np.int64),
        "remaining": np.full(len(sel.ids), remaining, dtype=np.int64),
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
    sel, resolved, counts = _selection(matrix, None, enabled, policies)
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
    rows = [(tuple(ids[c]), int(round(n))) for c, n in zip(combos, combo_counts) if include_none or c.any()]
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


def policies_all(matrix, policy: str) -> dict[str, str]:
    """The same unknown policy for every criterion (a what-if: "all unknowns pass")."""
    if policy not in UNKNOWN_POLICIES:
        from explorer.engine.status import check_policy
        check_policy(policy)
    return {c.id: policy for c in matrix.criteria}
