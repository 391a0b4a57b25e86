"""Two scenarios over one cohort, side by side: funnels, final counts, table 1 of A vs B, who moves in or out.

`compare(a, b, matrix, screening)` takes two explorer.app.scenario.Scenario (or analysis Choices) of the
same trial. Each scenario's matrix is the given one with only the criteria whose rule or threshold
differ re-evaluated (EligibilityMatrix.with_trial); everything else is the engine's public statistics.
Differences are B - A. `Comparison.protected(k)` applies small-cell protection to every table, and the
differences are recomputed from the protected counts, so a blanked count cannot be recovered from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from explorer.analysis.choices import Choices, choices_of, matrix_for
from explorer.analysis.smd import smd_means, smd_proportions
from explorer.engine import baseline_table, eligible_mask, final_counts, funnel, suppress_small_cells
from explorer.errors import DefinitionError

FUNNEL_COUNTS = ("eligible", "possibly_eligible", "remaining", "excluded")
FINAL_ROWS = ("screened", "eligible", "possibly_eligible", "remaining", "excluded")


@dataclass(frozen=True)
class Comparison:
    """A vs B; every frame carries DataFrame.attrs["counts"] for explorer.engine.suppress_small_cells."""

    funnels: pd.DataFrame    # one row per step (A's order, then B-only criteria): a_*, b_*, diff_* per count
    counts: pd.DataFrame     # rows screened .. excluded; columns a, b, difference
    baseline: pd.DataFrame | None  # key variables: A-eligible vs B-eligible, smd (B vs A)
    movement: pd.DataFrame   # subjects eligible in both, only in A (moved out), only in B (moved in); also
                             # for "eligible or possibly eligible"
    a_eligible: np.ndarray   # boolean masks over subjects (not for display)
    b_eligible: np.ndarray
    protection: dict | None = None

    def protected(self, min_cell: int, method: str = "round") -> Comparison:
        """Every table under small-cell protection; differences recomputed from the protected counts."""
        if not min_cell:
            return self
        def protect(frame):
            return None if frame is None else suppress_small_cells(frame, min_cell, method=method)
        funnels = _differences(protect(self.funnels.drop(columns=_diff_columns(self.funnels))), FUNNEL_COUNTS)
        counts = protect(self.counts.drop(columns=["difference"]))
        counts["difference"] = counts["b"] - counts["a"]
        return replace(self, funnels=funnels, counts=counts, baseline=protect(self.baseline),
                       movement=protect(self.movement), protection={"min_cell": min_cell, "method": method})


def registered(scenario: Any) -> Any:
    """The scenario with every edit undone: the trial as registered, over the same data and protection.

    The natural A to compare a variant with.
    """
    return replace(scenario, disabled=(), order=(), settings=(), policies=())


def compare(a: Any, b: Any, matrix, screening=None, *, base_trial=None, min_cell: int | None = None) -> Comparison:
    """Compare scenario A with scenario B over the cohort of `matrix` (see the module docstring).

    `screening` (the one the matrix was evaluated on) is needed for the baseline table; without it the
    comparison has no baseline. min_cell: small-cell protection (default: the larger of the scenarios').
    """
    ca, cb = choices_of(a, base_trial), choices_of(b, base_trial)
    if ca.trial.id != cb.trial.id:
        raise DefinitionError(f"scenario A is for trial {ca.trial.id!r} and B for {cb.trial.id!r}; compare "
                              "scenarios of one trial", field="trial")
    if ca.data is not None and cb.data is not None and ca.data != cb.data:
        raise DefinitionError(f"scenario A uses data {ca.data.to_text()!r} and B {cb.data.to_text()!r}; compare "
                              "scenarios over one cohort", field="data")
    ma, mb = matrix_for(matrix, ca), matrix_for(matrix, cb)
    funnels = _side_by_side(funnel(ma, order=list(ca.order), **ca.selection()),
                            funnel(mb, order=list(cb.order), **cb.selection()))
    fa, fb = final_counts(ma, **ca.selection()), final_counts(mb, **cb.selection())
    counts = pd.DataFrame({"count": list(FINAL_ROWS), "a": [fa[k] for k in FINAL_ROWS],
                           "b": [fb[k] for k in FINAL_ROWS]})
    counts["difference"] = counts["b"] - counts["a"]
    counts.attrs.update(counts=["a", "b", "difference"], percents={})
    a_eligible, b_eligible = eligible_mask(ma, **ca.selection()), eligible_mask(mb, **cb.selection())
    a_possible = eligible_mask(ma, **ca.selection(), possibly=True)
    b_possible = eligible_mask(mb, **cb.selection(), possibly=True)
    movement = _movement(a_eligible, b_eligible, a_possible, b_possible)
    baseline = None if screening is None else _baseline(ma, mb, ca, cb, screening)
    result = Comparison(funnels, counts, baseline, movement, a_eligible, b_eligible)
    k = max(ca.min_cell, cb.min_cell) if min_cell is None else min_cell
    method = cb.cell_method if cb.min_cell >= ca.min_cell else ca.cell_method
    return result.protected(k, method) if k else result


def _diff_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("diff_")]


def _differences(frame: pd.DataFrame, names) -> pd.DataFrame:
    for name in names:
        frame[f"diff_{name}"] = frame[f"b_{name}"] - frame[f"a_{name}"]
    frame.attrs["counts"] = [c for c in frame.columns if c[:2] in ("a_", "b_") or c.startswith("diff_")]
    frame.attrs["percents"] = {}
    return frame


def _side_by_side(fa: pd.DataFrame, fb: pd.DataFrame) -> pd.DataFrame:
    """Steps matched by criterion (screened first, then A's order, then criteria only B applies)."""
    def keyed(frame, prefix):
        frame = frame.assign(criterion=frame["criterion"].fillna("(screened)"))
        return frame.set_index("criterion")[["label", "step", *FUNNEL_COUNTS]].rename(
            columns={"step": f"{prefix}step", **{c: f"{prefix}{c}" for c in FUNNEL_COUNTS}})
    a, b = keyed(fa, "a_"), keyed(fb, "b_")
    keys = list(a.index) + [k for k in b.index if k not in a.index]
    merged = a.drop(columns="label").join(b.drop(columns="label"), how="outer").reindex(keys)
    labels = a["label"].combine_first(b["label"]).reindex(keys)
    merged.insert(0, "label", labels)
    for col in merged.columns:
        if col != "label":
            merged[col] = merged[col].astype("Int64")  # a step only one scenario applies is NA on the other
    merged = merged.reset_index().rename(columns={"index": "criterion"})
    return _differences(merged, FUNNEL_COUNTS)


def _movement(a_eligible, b_eligible, a_possible, b_possible) -> pd.DataFrame:
    rows = []
    for name, a, b in (("eligible", a_eligible, b_eligible), ("eligible or possibly eligible", a_possible, b_possible)):
        rows.append({"group": name, "in_both": int((a & b).sum()), "only_a (moved out)": int((a & ~b).sum()),
                     "only_b (moved in)": int((~a & b).sum()), "a": int(a.sum()), "b": int(b.sum())})
    frame = pd.DataFrame(rows)
    frame.attrs.update(counts=[c for c in frame.columns if c != "group"], percents={})
    return frame


def _baseline(ma, mb, ca: Choices, cb: Choices, screening) -> pd.DataFrame:
    ta = baseline_table(ma, screening, groups=("eligible",), **ca.selection())
    tb = baseline_table(mb, screening, groups=("eligible",), **cb.selection())
    stats = ("n", "value", "sd", "missing")
    frame = ta[["variable", "level", "statistic"]].copy()
    for prefix, table in (("a", ta), ("b", tb)):
        for s in stats:
            frame[f"{prefix}_{s}"] = table[f"eligible_{s}"].to_numpy()
    level = frame["level"].fillna("").to_numpy() != ""
    numbers = (~level) & (frame["variable"] != "subjects").to_numpy()
    a_value, b_value = frame["a_value"].to_numpy(dtype=float), frame["b_value"].to_numpy(dtype=float)
    a_sd, b_sd = frame["a_sd"].to_numpy(dtype=float), frame["b_sd"].to_numpy(dtype=float)
    smd = np.full(len(frame), np.nan)
    smd[numbers] = smd_means(b_value[numbers], b_sd[numbers], a_value[numbers], a_sd[numbers])
    smd[level] = smd_proportions(b_value[level] / 100, a_value[level] / 100)  # levels are % of the known
    frame["smd"] = smd
    frame.attrs.update(counts=[f"{p}_{s}" for p in "ab" for s in ("n", "missing")], percents={},
                       dependent={**{f"{p}_{s}": f"{p}_n" for p in "ab" for s in ("value", "sd")}, "smd": "a_n"})
    return frame
