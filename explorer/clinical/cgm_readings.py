"""CGM readings checked, grouped and interpolated once, for every metric function that reads them.

The consensus metrics, the variability indices and the episodes each start from the valid readings and
their group codes, and the last two from the readings in wall-clock time order and their day-by-day grid
(explorer.clinical.cgm_grid). Built separately, a table of every metric (explorer.clinical.cgm_table)
grouped the readings three times and built the same grid three times (issue 17: most of the Outcomes
tab's first opening). A GroupedReadings does each once, on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd

from explorer.clinical.cgm import group_codes, valid_readings, wall_clock
from explorer.clinical.cgm_grid import Grid, interpolated_grid


class GroupedReadings:
    """The valid readings of a CGM table (`frame`), their group `codes` and the groups' `keys`."""

    def __init__(self, cgm: pd.DataFrame, by: Sequence[str]):
        self.by = list(by)
        self.frame = valid_readings(cgm, self.by)
        self.codes, self.keys = group_codes(self.frame, self.by)

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    @cached_property
    def in_time_order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes, wall-clock nanoseconds, glucose), sorted by group and time (stable among equal times)."""
        nanoseconds = wall_clock(self.frame["time"]).to_numpy(dtype="datetime64[ns]").view(np.int64)
        glucose = self.frame["glucose"].to_numpy(dtype="float64")
        order = group_time_order(self.codes, nanoseconds)
        return self.codes[order], nanoseconds[order], glucose[order]

    @cached_property
    def grid(self) -> Grid:
        """The day-by-day grid at each group's own step (cgm_grid's defaults)."""
        return interpolated_grid(*self.in_time_order, self.n_groups)


def group_time_order(codes: np.ndarray, nanoseconds: np.ndarray) -> np.ndarray:
    """np.lexsort((nanoseconds, codes)): rows by group, then time, equal times in their order.

    Readings usually arrive in time order within each group (a sensor's export, the simulation), and then a
    stable sort by group alone is that same order, found several times faster than the two-key lexsort.
    """
    order = np.argsort(codes, kind="stable")
    times, groups = nanoseconds[order], codes[order]
    if ((np.diff(times) >= 0) | (groups[1:] != groups[:-1])).all():
        return order
    return np.lexsort((nanoseconds, codes))
