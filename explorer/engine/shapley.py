"""Shapley attribution of the eligible-pool size to the enabled criteria.

The game: the players are the enabled criteria; the value of a coalition S is the number of subjects
eligible when only the criteria in S are applied, v(S) = #{subjects that PASS every criterion in S}
(value="eligible"), or that FAIL none of them (value="remaining": unknowns not excluded).
v(empty) is the screened population and v(all) the pool, so by efficiency the Shapley values sum to
v(all) - v(empty) = -(subjects excluded): each value is the (negative) share of the attrition that
criterion is responsible for, fairly split over every order in which criteria could be applied.

Exact, for any number of criteria: the game is a sum over subjects of w_F(S) = [S and F disjoint],
F being the set of criteria the subject does not pass. In w_F only members of F matter and they are
symmetric, so each member of F gets -1/|F|: a subject excluded by three criteria charges a third of
itself to each. Hence phi_i = -sum over subjects not passing i of 1/|F|, which over the pattern
histogram costs O(patterns x criteria).

Also here: "enumerate", the textbook formula over all 2**k coalitions, computed from the histogram
of failure sets with a subset-sum (zeta) transform (k <= 22; used to cross-check), and "montecarlo",
permutation sampling with its standard error (the general method for games without a closed form).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from math import factorial

import numpy as np
import pandas as pd

from explorer.engine.bits import count_equals, popcount, vertical_counts
from explorer.engine.patterns import exact_shapley, resolve, select
from explorer.engine.status import FAIL, PASS
from explorer.errors import DefinitionError

METHODS = ("exact", "enumerate", "montecarlo")
VALUES = ("eligible", "remaining")
MAX_ENUMERATED = 22  # 2**22 coalitions x 8 bytes = 32 MB


def _not_counted(resolved: np.ndarray, value: str) -> np.ndarray:
    """(m, k) bool: which criteria keep each pattern out of the value's count."""
    if value == "eligible":
        return resolved != PASS
    if value == "remaining":
        return resolved == FAIL
    raise DefinitionError(f"Shapley value {value!r}; use one of {list(VALUES)}", field="value")


def exact_shapley_bits(blocked: list[np.ndarray], zeros: np.ndarray, ones: np.ndarray) -> np.ndarray:
    """The same closed form over bit-packed columns: group subjects by how many criteria block them
    (a bit-sliced counter), then phi_i = -sum over c of |blocked by i and by c criteria in all| / c."""
    k = len(blocked)
    planes = vertical_counts(blocked, zeros)
    phi = np.zeros(k)
    for c in range(1, k + 1):
        exactly_c = count_equals(planes, c, ones)
        if not exactly_c.any():
            continue
        for i in range(k):
            phi[i] -= popcount(blocked[i] & exactly_c) / c
    return phi


def enumerated_shapley(blocked: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The Shapley formula over all coalitions: phi_i = sum_S |S|!(k-|S|-1)!/k! (v(S+i) - v(S))."""
    m, k = blocked.shape
    if k > MAX_ENUMERATED:
        raise DefinitionError(f"enumerating 2**{k} coalitions is too much; use method='exact'", field="method")
    if k == 0:
        return np.zeros(0)
    bits = (blocked.astype(np.int64) << np.arange(k)).sum(axis=1)
    # g[T] = subjects whose blocking set lies within T (subset-sum transform of the histogram)
    g = np.bincount(bits, weights=counts, minlength=1 << k).astype(np.float64)
    for i in range(k):
        view = g.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    full = (1 << k) - 1
    coalitions = np.arange(1 << k)
    value = g[full ^ coalitions]  # v(S): nobody in S blocks the subject, i.e. its set lies in the complement
    size = np.zeros(1 << k, dtype=np.int64)
    for i in range(k):
        size += (coalitions >> i) & 1
    weight = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    phi = np.empty(k)
    for i in range(k):
        without = coalitions[(coalitions >> i) & 1 == 0]
        phi[i] = np.dot(weight[size[without]], value[without | (1 << i)] - value[without])
    return phi


def montecarlo_shapley(blocked: np.ndarray, counts: np.ndarray, samples: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Permutation sampling: in each random order, a subject is charged to the first criterion blocking it.

    Returns (estimate, standard error of the estimate). Antithetic pairs (an order and its reverse)
    reduce the variance; the standard error is computed over the pairs, which are independent.
    """
    m, k = blocked.shape
    rng = np.random.default_rng(seed)
    pairs = max(1, samples // 2)
    any_blocked = blocked.any(axis=1)
    b, w = blocked[any_blocked], counts[any_blocked].astype(np.float64)
    draws = np.empty((pairs, k))
    for t in range(pairs):
        order = rng.permutation(k)
        pair = np.zeros(k)
        for perm in (order, order[::-1]):
            rank = np.empty(k, dtype=np.intp)
            rank[perm] = np.arange(k)
            first = np.where(b, rank, k).argmin(axis=1)  # column of the first blocking criterion
            pair -= np.bincount(first, weights=w, minlength=k)
        draws[t] = pair / 2
    estimate = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(pairs) if pairs > 1 else np.full(k, np.nan)
    return estimate, se


def shapley(matrix, enabled: Iterable[str] | Mapping[str, bool] | None = None,
            policies: Mapping[str, str] | None = None, *, value: str = "eligible", method: str = "exact",
            samples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Shapley values of the enabled criteria for the pool size (see the module docstring).

    Columns: criterion, kind, label, shapley (<= 0: pool size change attributed), excluded_share
    (= -shapley), share_pct (of all excluded), se (0 for exact methods), method. The values sum to
    attrs["total_effect"] = pool - screened.
    """
    if method not in METHODS:
        raise DefinitionError(f"Shapley method {method!r}; use one of {list(METHODS)}", field="method")
    if value not in VALUES:
        raise DefinitionError(f"Shapley value {value!r}; use one of {list(VALUES)}", field="value")
    sel = select(matrix.criteria, enabled=enabled, policies=policies)
    total = matrix.n_subjects
    if method == "exact" and getattr(matrix, "histogram_only", False):
        # a matrix holding only (pattern, count) rows: the same closed form over the histogram
        h = matrix.histogram
        blocked = _not_counted(resolve(h.patterns, sel), value)
        phi, se = exact_shapley(blocked, h.counts), np.zeros(len(sel.ids))
        pool = int(h.counts[~blocked.any(axis=1)].sum()) if len(h.counts) else 0
    elif method == "exact":
        bits = matrix.bits
        fails, unknowns = bits.resolve(sel)
        blocked_bits = [f | u for f, u in zip(fails, unknowns, strict=True)] if value == "eligible" else fails
        phi, se = exact_shapley_bits(blocked_bits, bits.zeros, bits.ones), np.zeros(len(sel.ids))
        pool_bits = bits.ones
        for b in blocked_bits:
            pool_bits = pool_bits & ~b
        pool = popcount(pool_bits)
    else:
        h = matrix.histogram
        blocked = _not_counted(resolve(h.patterns, sel), value)
        if method == "enumerate":
            phi, se = enumerated_shapley(blocked, h.counts), np.zeros(len(sel.ids))
        else:
            phi, se = montecarlo_shapley(blocked, h.counts, samples, seed)
        pool = int(h.counts[~blocked.any(axis=1)].sum()) if len(h.counts) else 0
    phi = phi + 0.0  # no negative zeros in the output
    excluded = total - pool
    info = [matrix.criterion(cid) for cid in sel.ids]
    frame = pd.DataFrame({
        "criterion": list(sel.ids),
        "kind": [c.kind for c in info],
        "label": [c.label for c in info],
        "shapley": phi,
        "excluded_share": -phi,
        "share_pct": 100.0 * -phi / excluded if excluded else np.zeros(len(phi)),
        "se": se,
        "method": method,
    })
    frame.attrs.update({"total_effect": pool - total, "screened": total, "pool": pool, "value": value,
                        "counts": ["excluded_share"], "percents": {}, "magnitudes": ["shapley", "se"]})
    return frame
