"""MAGE, the mean amplitude of glycaemic excursions, by iglu's moving-average algorithm.

Service et al. (Diabetes 1970;19:644) defined MAGE as the mean height of the excursions larger than one
SD. Counting excursions by eye is ambiguous; iglu's default (Fernandes et al., Diabetes Technol Ther
2022;24:564, "ma" version) makes it reproducible, and this module follows it step by step so that the
values agree with iglu-python (scripts/compare_cgm_iglu.py):

1. interpolate onto a 5-minute grid (explorer.clinical.cgm_grid, gaps over 45 min left empty), drop the
   leading and trailing empty points, and split where known points are more than 180 min apart;
2. per segment: short (5-point) and long (32-point) trailing moving averages, their first 5 / 32 values
   replaced by the 5th / 32nd; a peak or nadir lies between two crossings of the two averages;
3. from the sequence of peaks and nadirs, an ascending excursion (MAGE+) is counted when a rise exceeds
   one SD of the segment and runs until a fall of more than one SD (and a descending one, MAGE-, vice
   versa); MAGE of the segment is the mean height of each kind;
4. the result is the mean of every segment's MAGE+ and MAGE-, weighted by the segment's duration.

The crossings are found with array operations; the excursion walk is sequential by nature (each excursion
starts where the previous one ended), so it runs per segment on Python floats, with a running extreme in
place of iglu's re-scan of the window at every step (`_excursions`: linear instead of quadratic, the same
floats).
"""

from __future__ import annotations

import math

import numpy as np

from explorer.clinical.cgm_grid import Grid, interpolated_grid

GRID_MINUTES = 5
SHORT_WINDOW, LONG_WINDOW = 5, 32
INTER_GAP_MINUTES = 45
MAX_GAP_MINUTES = 180
MIN_POINTS = 7


def mage_per_group(codes: np.ndarray, nanoseconds: np.ndarray, glucose: np.ndarray, n_groups: int, *,
                   grid: Grid | None = None) -> np.ndarray:
    """MAGE (mg/dL) per group code; NaN where no segment has an excursion larger than its SD.

    `grid`: the caller's grid of the same readings at each group's own step, if it has one. Where every
    group of more than one reading has a 5-minute step (a Dexcom-like sensor) it is the very grid MAGE
    needs, and is not built again (a group of one reading has no MAGE on either grid).
    """
    n = np.bincount(codes, minlength=n_groups)
    if grid is None or grid.inter_gap != INTER_GAP_MINUTES or (grid.dt0[n > 1] != GRID_MINUTES).any():
        grid = interpolated_grid(codes, nanoseconds, glucose, n_groups, dt0=GRID_MINUTES,
                                 inter_gap=INTER_GAP_MINUTES)
    result = np.full(n_groups, np.nan)
    for group in np.flatnonzero(grid.size > 0):
        values = grid.glucose[grid.first[group]:grid.first[group] + grid.size[group]]
        result[group] = mage_of_trace(values)
    return result


def mage_of_trace(values: np.ndarray) -> float:
    """MAGE of one subject's 5-minute grid values (NaN = no value)."""
    known = np.flatnonzero(~np.isnan(values))
    if not len(known):
        return np.nan
    values = values[known[0]:known[-1] + 1]
    known = known - known[0]
    # A new segment starts at a known point more than MAX_GAP after the previous known point.
    breaks = known[1:][np.diff(known) * GRID_MINUTES > MAX_GAP_MINUTES]
    starts = np.concatenate(([0], breaks))
    heights, durations = [], []
    for start, stop in zip(starts, np.concatenate((breaks, [len(values)])), strict=True):
        segment = values[start:stop]
        segment = segment[:np.flatnonzero(~np.isnan(segment))[-1] + 1]  # trailing empty points dropped
        plus, minus = _segment_mage(segment)
        duration = (len(segment) - 1) * GRID_MINUTES
        for height in (plus, minus):
            if not np.isnan(height):
                heights.append(height)
                durations.append(duration)
    if not heights:
        return np.nan
    durations = np.asarray(durations, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(np.asarray(heights) * durations / durations.sum()))


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the known values among the last `window` points (pandas rolling, min_periods=1)."""
    known = ~np.isnan(values)
    sums = np.concatenate(([0.0], np.cumsum(np.where(known, values, 0.0))))
    counts = np.concatenate(([0], np.cumsum(known)))
    end = np.arange(1, len(values) + 1)
    begin = np.maximum(end - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (sums[end] - sums[begin]) / (counts[end] - counts[begin])
    # iglu replaces the first `window` values (which average fewer points) by the window-th one.
    mean[:window] = mean[min(window, len(values)) - 1]
    return mean


def _segment_mage(gl: np.ndarray) -> tuple[float, float]:
    """(MAGE+, MAGE-) of one segment; NaN for a kind without an excursion."""
    n = len(gl)
    sd = np.nanstd(gl, ddof=1) if np.count_nonzero(~np.isnan(gl)) > 1 else np.nan
    if n < MIN_POINTS or n < SHORT_WINDOW or np.isnan(gl).all() or sd < 1:
        return np.nan, np.nan
    delta = _trailing_mean(gl, SHORT_WINDOW) - _trailing_mean(gl, LONG_WINDOW)
    first_is_peak = delta[0] > 0
    delta[delta == 0] = np.nan
    crossings, peak = _crossings(gl, delta)
    ids = np.concatenate(([0], crossings, [n - 1]))
    is_peak = np.concatenate(([first_is_peak], peak, [delta[-1] > 0]))
    extrema = _extrema(gl, ids, is_peak)
    return _excursions_up(extrema, sd), _excursions_down(extrema, sd)


def _crossings(gl: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points where the short average crosses the long one, and whether each starts a peak (delta > 0).

    iglu walks the points: a crossing is where delta changes sign against the previous point, or, where
    that point (or its glucose) is unknown, against delta at the previous crossing. Both amount to a sign
    change against the last known delta, except before the first crossing when delta at the first point
    is unknown; that case walks the points as iglu does.
    """
    known = ~np.isnan(delta)
    if not known[0]:
        return _crossings_walk(gl, delta)
    position = np.flatnonzero(known)
    sign = delta[position] > 0
    change = np.flatnonzero(sign[1:] != sign[:-1]) + 1
    return position[change], sign[change]


def _crossings_walk(gl: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids, peak = [], []
    last = 0
    for i in range(1, len(delta)):
        if np.isnan(delta[i]):
            continue
        neighbours_known = not (np.isnan(gl[i]) or np.isnan(gl[i - 1]) or np.isnan(delta[i - 1]))
        reference = delta[i - 1] if neighbours_known else delta[last]
        if delta[i] * reference < 0:
            ids.append(i)
            peak.append(bool(delta[i] > reference))
            last = i
    return np.asarray(ids, dtype=np.int64), np.asarray(peak, dtype=bool)


def _extrema(gl: np.ndarray, ids: np.ndarray, is_peak: np.ndarray) -> np.ndarray:
    """The peak or nadir glucose between consecutive crossings, each search starting at the last one."""
    # Unknown points can never be a peak (-inf) or a nadir (+inf): plain argmax/argmin then skip them,
    # several times faster per call than nanargmax on the few dozen points between two crossings.
    for_peaks, for_nadirs = np.where(np.isnan(gl), -np.inf, gl), np.where(np.isnan(gl), np.inf, gl)
    values = np.empty(len(ids) - 1)
    start = int(ids[0])
    for i in range(len(ids) - 1):
        window = (for_peaks if is_peak[i] else for_nadirs)[start:int(ids[i + 1]) + 1]
        where = int(window.argmax() if is_peak[i] else window.argmin())
        value = window[where]
        if np.isinf(value):  # only where a crossing falls in unknown glucose; nothing to find
            values[i] = np.nan
            continue
        values[i] = value
        start += where
    return values


def _excursions_up(extrema: np.ndarray, sd: float) -> float:
    """Mean height of rises larger than `sd` that end with a fall larger than `sd` (iglu mage+)."""
    return _excursions(extrema.tolist(), sd, rising=True)


def _excursions_down(extrema: np.ndarray, sd: float) -> float:
    """Mean depth (positive) of falls larger than `sd` that end with a rise larger than `sd` (iglu mage-)."""
    return _excursions(extrema.tolist(), sd, rising=False)


def _excursions(e: list[float], sd: float, *, rising: bool) -> float:
    """iglu's excursion walk over the peaks and nadirs `e`, on Python floats.

    iglu takes, at each candidate end j, the largest rise (fall) e[j] - e[t] over t in previous..j, a new
    array each step: quadratic, and NumPy's per-call cost on a few hundred values made it most of MAGE's
    time. The largest rise is e[j] - min(e[previous..j]) (rounding is monotone, so the same float), kept
    as a running minimum (maximum for falls); NaN anywhere in the window makes iglu's max NaN (no
    excursion), so that is tracked too. The start i is searched only when an excursion is counted, as the
    first t whose e[j] - e[t] equals that extreme (np.argmax's choice), so the height is the same float.
    """
    heights = []
    n = len(e)
    j = previous = 0
    fresh = True  # the window e[previous:scanned] must start again at `previous`
    while j < n:
        if fresh:
            scanned, extreme, has_nan, fresh = previous, math.inf if rising else -math.inf, False, False
        while scanned <= j:
            value = e[scanned]
            if value != value:
                has_nan = True
            elif (value < extreme) if rising else (value > extreme):
                extreme = value
            scanned += 1
        ej = e[j]
        best = ej - extreme
        if not has_nan and (best > sd if rising else best < -sd):
            i = next(t for t in range(previous, j + 1) if ej - e[t] == best)
            for k in range(j, n):
                if (e[k] >= e[j]) if rising else (e[k] <= e[j]):
                    j = k
                ended = (e[k] - e[j] < -sd) if rising else (e[k] - e[j] > sd)
                if ended or k == n - 1:
                    heights.append(e[j] - e[i])
                    # a rise's walk restarts at its end; a fall's at its nadir (as iglu does)
                    previous, j = (k, k) if rising else (j, k)
                    fresh = True
                    break
        else:
            j += 1
    if not heights:
        return np.nan
    mean = np.mean(heights)
    return float(mean) if rising else float(abs(mean))
