"""Outcomes under relaxed criteria: how the subjects scenario B adds fare next to those A already had.

For two scenarios over one cohort the subjects fall into three disjoint groups: eligible under both
("kept"), eligible under B only ("added by B") and under A only ("dropped by B"). Their outcomes come
from the loaded dataset's trial visits when it has them, and otherwise are simulated with the trial's
response model (explorer.cohort.synthetic.enrolment), which `simulated` and `source` say plainly: simulated
outcomes show what the model assumes, not what the trial would find. Each group is enrolled as the
dashboard enrols (the first `max_per_group` in screening order).

Per group and visit: explorer.outcomes' summaries (mean with its t interval, median with its
distribution-free interval; responder proportions with Wilson intervals). `differences` gives, per
outcome measure and visit, the mean of the added minus the mean of the kept with Welch's interval.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from explorer.analysis.choices import choices_of, matrix_for
from explorer.cohort.synthetic import enrolment
from explorer.engine import eligible_mask, suppress_small_cells
from explorer.errors import DataError
from explorer.outcomes.measures import (
    OutcomeResults,
    outcome_measures,
    summarise_endpoints,
    summarise_outcomes,
)

KEPT, ADDED, DROPPED = "kept (A and B)", "added by B", "dropped by B"
GROUPS = (KEPT, ADDED, DROPPED)
DEFAULT_MAX_PER_GROUP = 1_000
# statistics that describe a group: shown only where the group's count may be
_STATISTICS = ("mean", "sd", "se", "ci_low", "ci_high", "median", "median_ci_low", "median_ci_high", "q1", "q3",
               "iqr", "proportion")


@dataclass(frozen=True)
class RelaxedOutcomes:
    simulated: bool
    source: str                 # where the outcomes come from, in words (says "simulated" when they are)
    groups: pd.DataFrame        # group, eligible, enrolled
    outcomes: pd.DataFrame      # summarise_outcomes by group
    endpoints: pd.DataFrame     # summarise_endpoints by group
    differences: pd.DataFrame   # outcome, measure, statistic, visit, n_kept, n_added, difference, ci_low, ci_high
    results: OutcomeResults | None  # per-subject values: never for display under protection
    protection: dict | None = None

    def protected(self, min_cell: int, method: str = "round") -> RelaxedOutcomes:
        """Every table under small-cell protection: counts below min_cell blanked (or all rounded), and a
        statistic blanked wherever a count it rests on is (a mean of 4 people, a proportion of 3 responders
        or of all but 3)."""
        if not min_cell:
            return self
        def protect(frame, counts, dependent):
            if frame is None or frame.empty:
                return frame
            frame = frame.copy()
            frame.attrs.update(counts=[c for c in counts if c in frame.columns], percents={},
                               dependent={c: dependent for c in frame.columns if c in _STATISTICS})
            return suppress_small_cells(frame, min_cell, method=method)
        outcomes = protect(self.outcomes, ["n"], "n")
        endpoints = protect(self.endpoints, ["n", "responders", "unknown"], "n")
        if endpoints is not None and not endpoints.empty:
            responders = self.endpoints["responders"].to_numpy(dtype=float)
            others = self.endpoints["n"].to_numpy(dtype=float) - responders
            small = ((responders > 0) & (responders < min_cell)) | ((others > 0) & (others < min_cell))
            for column in ("proportion", "ci_low", "ci_high"):
                endpoints[column] = endpoints[column].where(~small)
        differences = self.differences.copy()
        if not differences.empty:
            small = (differences["n_kept"] < min_cell) | (differences["n_added"] < min_cell)
            for column in ("difference", "ci_low", "ci_high"):
                differences[column] = differences[column].where(~small)
            differences.attrs.update(counts=["n_kept", "n_added"], percents={})
            differences = suppress_small_cells(differences, min_cell, method=method)
        return replace(self, groups=suppress_small_cells(self.groups, min_cell, method=method), outcomes=outcomes,
                       endpoints=endpoints, differences=differences,
                       protection={"min_cell": min_cell, "method": method})


def relaxed_outcomes(a: Any, b: Any, matrix, screening, *, cohort=None, base_trial=None, model: str | None = None,
                     seed: int | None = None, max_per_group: int = DEFAULT_MAX_PER_GROUP,
                     confidence: float = 0.95, min_cell: int | None = None) -> RelaxedOutcomes:
    """Outcomes of the kept, added and dropped subjects of B vs A (see the module docstring).

    `cohort` is the loaded canonical tables of a real data source (None for synthetic data); with trial
    visits in it, its outcomes are used, otherwise they are simulated with `model` (default: the
    trial's) and `seed` (default: the synthetic data's seed, as the dashboard's outcome tab uses).
    min_cell: small-cell protection of every table (default: the larger of the scenarios').
    """
    ca, cb = choices_of(a, base_trial), choices_of(b, base_trial)
    in_a = eligible_mask(matrix_for(matrix, ca), **ca.selection())
    in_b = eligible_mask(matrix_for(matrix, cb), **cb.selection())
    masks = {KEPT: in_a & in_b, ADDED: in_b & ~in_a, DROPPED: in_a & ~in_b}
    ids = matrix.subject_ids
    enrolled = {g: enrolment.enrol(ids[m], max_per_group) for g, m in masks.items()}
    groups = pd.DataFrame({"group": list(GROUPS), "eligible": [int(masks[g].sum()) for g in GROUPS],
                           "enrolled": [len(enrolled[g]) for g in GROUPS]})
    groups.attrs.update(counts=["eligible", "enrolled"], percents={})
    everyone = pd.Index([i for g in GROUPS for i in enrolled[g]], dtype="string", name="subject_id")
    trial = cb.trial
    real = enrolment.has_visit_data(cohort)
    if real:
        source = "outcomes from the loaded dataset's trial visits"
    else:
        chosen = model or enrolment.outcome_model_for(trial)
        source = (f"outcomes simulated with the {chosen} response model (synthetic; they show what the model "
                  "assumes, not trial results)")
    k = max(ca.min_cell, cb.min_cell) if min_cell is None else min_cell
    method = cb.cell_method if cb.min_cell >= ca.min_cell else ca.cell_method
    if not len(everyone):
        empty = pd.DataFrame()
        return RelaxedOutcomes(not real, source, groups, empty, empty, _empty_differences(), None).protected(
            k, method)
    if real:
        outcome_cohort = enrolment.cohort_subset(cohort, everyone)
    else:
        if seed is None:
            data = cb.data
            seed = data.seed if data is not None and data.kind == "synthetic" else 0
        outcome_cohort = enrolment.simulate_outcomes(trial, screening, everyone, model=chosen, seed=seed)
    results = outcome_measures(trial, outcome_cohort, screening=screening, on_missing="skip")
    group_of = pd.Series({i: g for g in GROUPS for i in enrolled[g]}, name="group")
    subjects = results.subjects.copy()
    subjects["group"] = pd.Categorical(subjects["subject_id"].astype(str).map(group_of), categories=list(GROUPS))
    results = replace(results, subjects=subjects)
    summary = summarise_outcomes(results, by=["group"], confidence=confidence)
    endpoints = summarise_endpoints(results, by=["group"], confidence=confidence)
    return RelaxedOutcomes(not real, source, groups, summary, endpoints,
                           welch_differences(summary, ADDED, KEPT, confidence=confidence), results).protected(
        k, method)


def _empty_differences() -> pd.DataFrame:
    return pd.DataFrame(columns=["outcome", "measure", "statistic", "visit", "n_kept", "n_added", "difference",
                                 "ci_low", "ci_high"])


def welch_interval(mean_1, sd_1, n_1, mean_2, sd_2, n_2, confidence: float = 0.95):
    """Difference of means mean_1 - mean_2 with Welch's t interval (unequal variances; Welch 1947).

    df = (v1 + v2)^2 / (v1^2 / (n1 - 1) + v2^2 / (n2 - 1)) with v = sd^2 / n. NaN where a group has n < 2.
    """
    m1, s1, k1, m2, s2, k2 = (np.asarray(v, dtype=float) for v in (mean_1, sd_1, n_1, mean_2, sd_2, n_2))
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v2 = s1 ** 2 / k1, s2 ** 2 / k2
        df = (v1 + v2) ** 2 / (v1 ** 2 / (k1 - 1) + v2 ** 2 / (k2 - 1))
        half = stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(v1 + v2)
    difference = m1 - m2
    bad = (k1 < 2) | (k2 < 2)
    low, high = np.where(bad, np.nan, difference - half), np.where(bad, np.nan, difference + half)
    return difference, low, high


def welch_differences(summary: pd.DataFrame, group_1: str, group_2: str, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per outcome, measure, statistic and visit of a by-group summary: mean(group_1) - mean(group_2)."""
    if summary.empty or "group" not in summary.columns:
        return _empty_differences()
    keys = ["outcome", "measure", "statistic", "visit"]
    for group in (group_1, group_2):
        if group not in set(summary["group"].astype(str)):
            return _empty_differences()
    pick = {g: summary[summary["group"].astype(str) == g].set_index(keys) for g in (group_1, group_2)}
    one, two = pick[group_1].align(pick[group_2], join="inner", axis=0)
    if one.empty:
        return _empty_differences()
    difference, low, high = welch_interval(one["mean"], one["sd"], one["n"], two["mean"], two["sd"], two["n"],
                                           confidence)
    frame = pd.DataFrame({"n_kept": two["n"].to_numpy(), "n_added": one["n"].to_numpy(), "difference": difference,
                          "ci_low": low, "ci_high": high}, index=one.index).reset_index()
    if frame[["n_kept", "n_added"]].isna().any().any():
        raise DataError("a group summary has no subject count; summarise the outcomes again")
    return frame
