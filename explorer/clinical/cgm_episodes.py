"""Hypo- and hyperglycaemic episodes per the 2023 consensus, counted per subject (or subject and visit).

Battelino et al., "Continuous glucose monitoring and metrics for clinical trials: an international
consensus statement", Lancet Diabetes Endocrinol 2023;11:42-57: an episode of level 1 hypoglycaemia
begins with at least 15 consecutive minutes below 70 mg/dL, level 2 below 54 mg/dL, level 2
hyperglycaemia above 250 mg/dL, and ends with at least 15 consecutive minutes back on the other side of
the threshold. Level 1 hypoglycaemia here counts every episode below 70, including those that go below
54 (iglu's "lv1"; the consensus also reports them separately).

As in iglu's `episode_calculation` (the reference of the tests): readings are interpolated onto the
grid of explorer.clinical.cgm_grid; runs of points are taken within stretches without missing points;
a run of ceil(15 / dt0) points on the wrong side starts an episode, which ends at the first later run of
ceil(15 / dt0) points on the right side (or where the stretch ends); starts before the same end are
one episode. Episodes per week = episodes / (known grid points x dt0 / 1 week).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from explorer.clinical.cgm import VERY_HIGH
from explorer.clinical.cgm_grid import MINUTES_PER_DAY
from explorer.clinical.cgm_readings import GroupedReadings

EPISODE_MINUTES = 15
# (column prefix, side, threshold in mg/dL)
EPISODE_KINDS: tuple[tuple[str, str, float], ...] = (
    ("hypo_54", "below", 54.0),
    ("hypo_70", "below", 70.0),
    ("hyper_250", "above", float(VERY_HIGH)),
)
EPISODE_COLUMNS = tuple(f"{name}_{what}" for name, _, _ in EPISODE_KINDS for what in ("episodes", "per_week"))
_MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def glycaemic_episodes(cgm: pd.DataFrame, *, by: Sequence[str] = ("subject_id",),
                       minutes: float = EPISODE_MINUTES) -> pd.DataFrame:
    """Episodes of each kind of EPISODE_KINDS and their rate per week, one row per group of `by`.

    Returns the `by` columns and `<kind>_episodes`, `<kind>_per_week` for hypo_54, hypo_70, hyper_250.
    A group without a grid (one reading) has NaN counts: unknown, not zero.
    """
    return episodes_of(GroupedReadings(cgm, by), minutes=minutes)


def episodes_of(readings: GroupedReadings, *, minutes: float = EPISODE_MINUTES) -> pd.DataFrame:
    """glycaemic_episodes of readings already grouped (shared with the other metric functions)."""
    keys, grid = readings.keys, readings.grid
    known = ~np.isnan(grid.glucose)
    known_points = np.bincount(grid.group[known], minlength=len(keys))
    weeks = known_points * grid.dt0 / _MINUTES_PER_WEEK
    table = {}
    for name, side, threshold in EPISODE_KINDS:
        count = episode_counts(grid, side, threshold, minutes, len(keys)).astype(float)
        count[known_points == 0] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            table[f"{name}_episodes"] = count
            table[f"{name}_per_week"] = count / weeks
    return pd.concat([keys, pd.DataFrame(table)[list(EPISODE_COLUMNS)]], axis=1)


def episode_counts(grid, side: str, threshold: float, minutes: float, n_groups: int) -> np.ndarray:
    """Episodes per group on the grid: runs of ceil(minutes / dt0) points start and end them."""
    known = np.flatnonzero(~np.isnan(grid.glucose))
    if not len(known):
        return np.zeros(n_groups, dtype=np.int64)
    value, group = grid.glucose[known], grid.group[known]
    outside = value < threshold if side == "below" else value > threshold
    # A stretch is a run of consecutive known points of one group; runs never cross a stretch.
    new_stretch = np.concatenate(([True], (np.diff(known) != 1) | (group[1:] != group[:-1])))
    stretch = np.cumsum(new_stretch) - 1
    new_run = new_stretch | np.concatenate(([False], outside[1:] != outside[:-1]))
    run_start = np.flatnonzero(new_run)
    run_length = np.diff(np.append(run_start, len(value)))
    run_outside, run_stretch = outside[run_start], stretch[run_start]
    needed = np.ceil(minutes / grid.dt0[group[run_start]]).astype(np.int64)
    long_enough = run_length >= needed
    starts = run_start[run_outside & long_enough]
    ends = run_start[~run_outside & long_enough]
    # Each start's end: the first qualifying return run after it in its stretch, else the stretch's end.
    stretch_end = np.flatnonzero(np.append(new_stretch[1:], True))
    following = np.searchsorted(ends, starts, side="right")
    next_end = np.append(ends, np.iinfo(np.int64).max)[following]
    own_end = stretch_end[run_stretch[np.searchsorted(run_start, starts)]]
    end = np.minimum(next_end, own_end + 1)
    distinct = np.unique(end)  # starts that share an end are one episode
    first_of_end = np.searchsorted(end, distinct)  # `end` is sorted because `starts` is
    return np.bincount(group[starts[first_of_end]], minlength=n_groups)
