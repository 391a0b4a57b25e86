"""CGM readings interpolated onto a regular day-by-day grid, for every subject at once, as iglu does it.

Metrics that compare a reading with the one an hour or a day earlier (MODD, CONGA, MAG, MAGE) and the
consensus episodes need readings at fixed steps. iglu (R `CGMS2DayByDay`, and iglu-python's port, the
reference the tests hold us to) builds that grid per subject:

- step dt0: the most frequent gap between consecutive readings in whole minutes (truncated), unless given;
- grid: from the midnight before the first reading to the midnight after the last, every dt0 minutes,
  the first point (midnight itself) left out, so a day has 1440 / dt0 points ending at 24:00;
- values: linear interpolation between the neighbouring readings; NaN before the first and after the last;
- gaps: where two readings are more than `inter_gap` (45) minutes apart, the grid indices
  floor(t_i / dt0) .. floor((t_i+1 - 1 s) / dt0) - 1 are NaN (t from the first midnight). These are
  iglu's bounds, kept exactly so the metrics agree with it; the grid point just before a gap's last
  reading stays interpolated.

Here every subject's grid is built in the same few NumPy passes: readings and grid points are merged
by one sort, so the cost does not grow with a Python loop over subjects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.errors import DataError

MINUTES_PER_DAY = 24 * 60
INTER_GAP_MINUTES = 45
_NS_PER_MINUTE = 60 * 10**9
_NS_PER_DAY = MINUTES_PER_DAY * _NS_PER_MINUTE


@dataclass(frozen=True)
class Grid:
    """Interpolated glucose of every group, concatenated group after group.

    `glucose` (NaN = no value) and `group` (the group code) per point; `dt0` (minutes; 0 where the
    group has no grid), `first` and `size` (where the group's points lie) per group; `inter_gap`
    (minutes) the gap length it was built with.
    """

    glucose: np.ndarray
    group: np.ndarray
    dt0: np.ndarray
    first: np.ndarray
    size: np.ndarray
    inter_gap: float = INTER_GAP_MINUTES

    def lagged_differences(self, lag_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(difference glucose[j + lag] - glucose[j] within each group, its group), NaN pairs dropped.

        `lag_points` is the lag in grid points per group.
        """
        lag = lag_points[self.group]
        later = np.arange(len(self.glucose)) + lag
        inside = (lag > 0) & (later < (self.first + self.size)[self.group])
        earlier = np.flatnonzero(inside)
        difference = self.glucose[later[inside]] - self.glucose[earlier]
        known = ~np.isnan(difference)
        return difference[known], self.group[earlier[known]]


def interpolated_grid(codes: np.ndarray, nanoseconds: np.ndarray, glucose: np.ndarray, n_groups: int, *,
                      dt0: int | None = None, inter_gap: float = INTER_GAP_MINUTES) -> Grid:
    """The day-by-day grid (module docstring) of readings with group codes 0 .. n_groups - 1.

    `nanoseconds` are naive wall-clock times (datetime64[ns] as int64). Readings need not be sorted.
    A group whose step cannot be inferred (one reading) or does not divide a day gets no grid points.
    """
    code_step, time_step = np.diff(codes), np.diff(nanoseconds)
    if (code_step < 0).any() or ((code_step == 0) & (time_step < 0)).any():  # callers usually sorted already
        order = np.lexsort((nanoseconds, codes))
        codes, nanoseconds, glucose = codes[order], nanoseconds[order], glucose[order]
    n = np.bincount(codes, minlength=n_groups)
    start_of = np.cumsum(n) - n
    present = n > 0

    same_group = codes[1:] == codes[:-1]
    step_minutes = (np.diff(nanoseconds) / _NS_PER_MINUTE)
    if dt0 is None:
        steps = pd.DataFrame({"group": codes[1:][same_group], "step": step_minutes[same_group]})
        # pandas' mode: the most frequent value, the smallest among ties; iglu then truncates to minutes.
        counts = steps.value_counts().reset_index(name="count")
        counts = counts.sort_values(["group", "count", "step"], ascending=[True, False, True], kind="stable")
        modal = counts.drop_duplicates("group").set_index("group")["step"]
        step_of_group = np.trunc(modal.reindex(range(n_groups)).to_numpy())
    else:
        if dt0 <= 0:
            raise DataError(f"the grid step must be a positive number of minutes, got {dt0}")
        step_of_group = np.full(n_groups, float(dt0))
    positive = present & (np.nan_to_num(step_of_group) > 0)
    usable = positive.copy()
    usable[positive] = MINUTES_PER_DAY % step_of_group[positive] == 0
    step_of_group = np.where(usable, step_of_group, 0).astype(np.int64)

    first_ns = np.where(present, nanoseconds[np.minimum(start_of, len(nanoseconds) - 1)], 0)
    last_ns = np.where(present, nanoseconds[np.minimum(start_of + n - 1, len(nanoseconds) - 1)], 0)
    midnight = first_ns // _NS_PER_DAY * _NS_PER_DAY
    end = -(-last_ns // _NS_PER_DAY) * _NS_PER_DAY  # ceiling to the next midnight (itself if at midnight)
    n_days = (end - midnight) // _NS_PER_DAY
    size = np.where(usable, n_days * MINUTES_PER_DAY // np.maximum(step_of_group, 1), 0)
    first_point = np.cumsum(size) - size

    total = int(size.sum())
    point_group = np.repeat(np.arange(n_groups), size)
    index_in_group = np.arange(total) - first_point[point_group]
    point_ns = midnight[point_group] + (index_in_group + 1) * step_of_group[point_group] * _NS_PER_MINUTE

    # Each grid point's left neighbour is the last reading at or before it. A reading at time t is at or
    # before grid point j (time (j + 1) x dt0 after midnight) exactly when j >= ceil(t / dt0) - 1, so
    # counting readings per such first point and summing up gives every left neighbour without a sort.
    reading_step = step_of_group[codes] * _NS_PER_MINUTE
    on_grid = usable[codes]
    since_midnight = nanoseconds - midnight[codes]
    first_point_at_or_after = -(-since_midnight[on_grid] // reading_step[on_grid]) - 1
    position = first_point[codes[on_grid]] + np.clip(first_point_at_or_after, 0, size[codes[on_grid]] - 1)
    running = np.cumsum(np.bincount(position, minlength=total))
    before_group = np.concatenate(([0], running))[first_point]
    left = start_of[point_group] + (running - before_group[point_group]) - 1

    group_first, group_last = start_of[point_group], start_of[point_group] + n[point_group] - 1
    right = left + 1
    has_left = left >= group_first
    exact = has_left & (nanoseconds[np.clip(left, 0, None)] == point_ns)
    has_right = right <= group_last
    inner = has_left & has_right & ~exact
    values = np.full(total, np.nan)
    values[exact] = glucose[left[exact]]
    # iglu interpolates in minutes since the first midnight; so do we, to agree to rounding.
    base = midnight[point_group[inner]]
    x = (point_ns[inner] - base) / _NS_PER_MINUTE
    x0 = (nanoseconds[left[inner]] - base) / _NS_PER_MINUTE
    x1 = (nanoseconds[right[inner]] - base) / _NS_PER_MINUTE
    y0, y1 = glucose[left[inner]], glucose[right[inner]]
    values[inner] = (y1 - y0) / (x1 - x0) * (x - x0) + y0

    # iglu's gap bounds (module docstring), as +1/-1 marks whose running sum flags the points in a gap.
    gap = np.flatnonzero(same_group & (step_minutes > inter_gap))
    gap_group = codes[gap]
    keep = usable[gap_group]
    gap, gap_group = gap[keep], gap_group[keep]
    step_ns = step_of_group[gap_group] * _NS_PER_MINUTE
    since_midnight_start = nanoseconds[gap] - midnight[gap_group]
    since_midnight_end = nanoseconds[gap + 1] - midnight[gap_group]
    low = np.clip(since_midnight_start // step_ns, 0, size[gap_group])
    high = np.clip((since_midnight_end - 10**9) // step_ns, 0, size[gap_group])
    nonempty = high > low
    marks = np.zeros(total + 1, dtype=np.int64)
    np.add.at(marks, first_point[gap_group[nonempty]] + low[nonempty], 1)
    np.add.at(marks, first_point[gap_group[nonempty]] + high[nonempty], -1)
    values[np.cumsum(marks[:-1]) > 0] = np.nan

    return Grid(glucose=values, group=point_group, dt0=step_of_group, first=first_point, size=size,
                inter_gap=inter_gap)
