"""Consensus CGM metrics per subject (or subject and visit) and the Ambulatory Glucose Profile.

Definitions follow the International Consensus on Time in Range (Battelino et al., Diabetes Care
2019;42:1593-1603, doi:10.2337/dci19-0028) and, where the consensus leaves a choice open, the iglu
package (Broll et al., PLoS ONE 2021;16:e0248560; R package `iglu`, Python port `iglu-python`),
against which this module is tested to 1e-3 on iglu's example data (docs/outcomes.md):

- ranges on the readings (mg/dL): very low < 54, low < 70, in range 70 <= g <= 180 (both ends
  inclusive), high > 180, very high > 250. The three bands < 70, 70-180 and > 180 partition every real
  value, so TBR70 + TIR + TAR180 = 100 %; percentages are of the readings, not of clock time.
- mean, SD (n - 1 denominator), CV = 100 x SD / mean, GMI (%) = 3.31 + 0.02392 x mean glucose (mg/dL)
  (Bergenstal et al., Diabetes Care 2018;41:2275).
- sensor interval: the median gap between consecutive readings rounded to whole minutes (5 for Dexcom,
  15 for Libre), per subject unless given.
- active percent (iglu `active_percent`, range_type "automatic"): of the readings possible between the
  first and the last reading, the share not lost in gaps (steps longer than the interval).
- sufficiency (consensus): at least 14 days covered and at least 70 % of possible readings.

Input is the canonical `cgm` table (explorer.cohort.tables): subject_id, time, glucose (mg/dL), plus any
grouping column such as `visit` (see `label_windows`). Everything is computed with NumPy over integer
group codes, so the cost is a few passes over the readings whatever the number of subjects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from explorer.errors import DataError, UnitError

# Consensus thresholds in mg/dL (Battelino 2019, Table 1 and Fig. 1).
VERY_LOW = 54
LOW = 70
HIGH = 180
VERY_HIGH = 250

# Consensus data sufficiency (Battelino 2019: "14 days ... with at least 70% of possible readings").
MIN_DAYS = 14
MIN_ACTIVE_PERCENT = 70.0

AGP_PERCENTILES = (5, 25, 50, 75, 95)

# Output columns of cgm_metrics with their units; names match explorer/catalogue/variables.yaml where
# the catalogue has the variable.
METRIC_UNITS: dict[str, str] = {
    "n_readings": "1",
    "cgm_days": "days",
    "cgm_interval": "min",
    "cgm_active": "%",
    "cgm_sufficient": "",
    "cgm_mean": "mg/dL",
    "cgm_sd": "mg/dL",
    "cgm_cv": "%",
    "gmi": "%",
    "tbr_54": "%",
    "tbr_70": "%",
    "tir": "%",
    "tar_180": "%",
    "tar_250": "%",
}

_NS_PER_MINUTE = 60 * 10**9
_MINUTES_PER_DAY = 24 * 60
# A CGM median below this is not a plausible mg/dL value: the table is almost surely in mmol/L.
_IMPLAUSIBLE_MEDIAN_MG_DL = 25.0


def cgm_metrics(cgm: pd.DataFrame, *, by: Sequence[str] = ("subject_id",),
                interval_minutes: float | None = None, period_days: float | None = None,
                min_days: float = MIN_DAYS,
                min_active_percent: float = MIN_ACTIVE_PERCENT) -> pd.DataFrame:
    """Consensus CGM metrics, one row per group of `by` (default: per subject).

    Pass `by=("subject_id", "visit")` for one row per subject and visit (label the readings first with
    `label_windows`). Readings with a missing glucose, time or grouping value are ignored.
    `interval_minutes` fixes the sensor interval instead of inferring it per group.

    The active percent is, by default, iglu's "automatic" one: possible readings are counted from each
    group's first to its last reading. For fixed windows (e.g. the 14 days before each visit) pass
    `period_days`, the window length: possible readings are then `period_days` x 1440 / interval and a
    sensor that started late or stopped early counts as missing data (iglu's range_type "manual").

    Returns the `by` columns and, in this order, the columns of METRIC_UNITS: n_readings, cgm_days
    (last minus first reading, days), cgm_interval (min), cgm_active (%), cgm_sufficient (bool: at least
    `min_days` covered, i.e. cgm_days plus one interval or `period_days`, and cgm_active >=
    `min_active_percent`), cgm_mean, cgm_sd (mg/dL), cgm_cv (%), gmi (%), tbr_54, tbr_70, tir, tar_180,
    tar_250 (% of readings). Groups with one reading have NaN SD and CV and, unless `interval_minutes`
    is given, NaN interval and active percent; they are not sufficient.
    """
    by = list(by)
    codes, keys, minutes, glucose = _sorted_readings(cgm, by)
    n_groups = len(keys)
    n = np.bincount(codes, minlength=n_groups)

    mean = np.bincount(codes, weights=glucose, minlength=n_groups) / n
    squared_deviation = (glucose - mean[codes]) ** 2  # two-pass variance: stable for large glucose sums
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(np.bincount(codes, weights=squared_deviation, minlength=n_groups) / (n - 1))
    sd[n < 2] = np.nan

    def percent(selected: np.ndarray) -> np.ndarray:
        return 100.0 * np.bincount(codes, weights=selected, minlength=n_groups) / n

    interval, active, span = _wear(codes, minutes, n, interval_minutes)
    covered = span + interval
    if period_days is not None:
        if period_days <= 0:
            raise DataError(f"period_days must be positive, got {period_days}")
        active = 100.0 * n / (period_days * _MINUTES_PER_DAY / interval)
        covered = np.full(n_groups, period_days * _MINUTES_PER_DAY)
    with np.errstate(invalid="ignore"):
        sufficient = (covered >= min_days * _MINUTES_PER_DAY) & (active >= min_active_percent)

    metrics = pd.DataFrame({
        "n_readings": n,
        "cgm_days": span / _MINUTES_PER_DAY,
        "cgm_interval": interval,
        "cgm_active": active,
        "cgm_sufficient": sufficient,
        "cgm_mean": mean,
        "cgm_sd": sd,
        "cgm_cv": 100.0 * sd / mean,
        "gmi": glucose_management_indicator(mean),
        "tbr_54": percent(glucose < VERY_LOW),
        "tbr_70": percent(glucose < LOW),
        "tir": percent((glucose >= LOW) & (glucose <= HIGH)),
        "tar_180": percent(glucose > HIGH),
        "tar_250": percent(glucose > VERY_HIGH),
    })
    return pd.concat([keys, metrics], axis=1)


def glucose_management_indicator(mean_glucose_mg_dl):
    """GMI (%) = 3.31 + 0.02392 x mean glucose (mg/dL) (Bergenstal et al., Diabetes Care 2018;41:2275)."""
    return 3.31 + 0.02392 * mean_glucose_mg_dl


def ambulatory_glucose_profile(cgm: pd.DataFrame, *, by: Sequence[str] = (), bin_minutes: int = 15,
                               percentiles: Sequence[float] = AGP_PERCENTILES) -> pd.DataFrame:
    """Percentiles of glucose by time of day (the AGP), pooled over all days and the readings of `by`.

    `by=()` pools every reading (a group AGP; filter the table to one subject for a subject's AGP);
    `by=("subject_id",)` gives one profile per subject, `by=("arm",)` one per arm. Readings are binned by
    clock time into `bin_minutes` bins (must divide 24 h). Percentiles interpolate linearly between order
    statistics (NumPy's default, R's type 7, as iglu uses).

    Returns the `by` columns, `minute` (start of the bin, minutes after midnight), `n` (readings in the
    bin) and one column per percentile named p5, p25, p50, p75, p95.

    iglu's AGP (R `plot_agp`) first interpolates the readings onto a regular grid and smooths the
    percentile curves; this function works on the raw readings and does not smooth, which is what the
    AGP report's definition (Battelino 2019, Fig. 1) states: percentiles of the glucose readings by time
    of day.
    """
    if bin_minutes <= 0 or _MINUTES_PER_DAY % bin_minutes:
        raise DataError(f"bin_minutes must divide 1440 (24 h) evenly, got {bin_minutes}")
    if not percentiles or any(not 0 <= p <= 100 for p in percentiles):
        raise DataError(f"percentiles must lie between 0 and 100, got {list(percentiles)}")
    by = list(by)
    frame = _valid_readings(cgm, by)
    time = frame["time"]
    minute_of_day = ((time - time.dt.normalize()) // pd.Timedelta(minutes=1)).to_numpy()
    frame = frame.assign(minute=(minute_of_day // bin_minutes) * bin_minutes)

    grouped = frame.groupby([*by, "minute"], sort=True, observed=True)["glucose"]
    quantiles = grouped.quantile([p / 100 for p in percentiles]).unstack()
    quantiles.columns = [_percentile_name(p) for p in percentiles]
    profile = pd.concat([grouped.size().rename("n"), quantiles], axis=1)
    return profile.reset_index()


def label_windows(cgm: pd.DataFrame, windows: pd.DataFrame, *, label: str = "visit") -> pd.DataFrame:
    """The readings with a `label` column naming the window each falls in (NA outside every window).

    `windows` has columns subject_id, `label`, start, end (a reading at `start` is in, at `end` is out).
    A subject's windows must not overlap, so every reading belongs to at most one. Use `visit_windows`
    for the usual "14 days before each visit".
    """
    missing = [c for c in ("subject_id", label, "start", "end") if c not in windows.columns]
    if missing:
        raise DataError(f"the windows table lacks {missing}; it needs subject_id, {label}, start, end",
                        column=missing[0])
    _require_columns(cgm, ["subject_id", "time"])
    if label in cgm.columns:
        raise DataError(f"the CGM table already has a column {label!r}; pass another label", column=label)

    windows = windows[["subject_id", label, "start", "end"]].copy()
    windows["subject_id"] = windows["subject_id"].astype(cgm["subject_id"].dtype)
    windows = windows.sort_values(["subject_id", "start"], kind="stable").reset_index(drop=True)
    bad_order = windows["end"] <= windows["start"]
    if bad_order.any():
        raise DataError("a window ends before it starts", column="end",
                        rows=windows.index[bad_order].tolist())
    same_subject = windows["subject_id"].eq(windows["subject_id"].shift())
    overlapping = same_subject & (windows["start"] < windows["end"].shift())
    if overlapping.any():
        raise DataError("windows of the same subject overlap, so a reading would belong to two",
                        column="start", rows=windows.index[overlapping].tolist())

    readings = cgm.reset_index(drop=True)
    readings["_row"] = np.arange(len(readings))
    matched = pd.merge_asof(
        readings[["_row", "subject_id", "time"]].dropna().sort_values("time", kind="stable"),
        windows.sort_values("start", kind="stable"),
        left_on="time", right_on="start", by="subject_id", direction="backward",
    )
    inside = matched["time"] < matched["end"]
    labels = pd.Series(pd.NA, index=readings.index, dtype=windows[label].dtype)
    labels.iloc[matched.loc[inside, "_row"].to_numpy()] = matched.loc[inside, label].to_numpy()
    return readings.drop(columns="_row").assign(**{label: labels})


def visit_windows(visit_dates: pd.DataFrame, *, days: float = MIN_DAYS, label: str = "visit",
                  time: str = "time") -> pd.DataFrame:
    """Windows of `days` days ending at each visit (subject_id, `label`, `time` -> start, end).

    The consensus assesses the 14 days of CGM before a visit; the end is exclusive, so a reading taken
    at the visit time itself belongs to the next window, not this one.
    """
    _require_columns(visit_dates, ["subject_id", label, time])
    end = pd.to_datetime(visit_dates[time])
    return pd.DataFrame({
        "subject_id": visit_dates["subject_id"].to_numpy(),
        label: visit_dates[label].to_numpy(),
        "start": end - pd.Timedelta(days=days),
        "end": end,
    })


# --- internals ---------------------------------------------------------------------------------------

def _percentile_name(p: float) -> str:
    return f"p{p:g}".replace(".", "_")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"the CGM table lacks column(s) {missing}; it has {list(frame.columns)}",
                        column=missing[0])


def _valid_readings(cgm: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The readings with known glucose, time and grouping values, checked against the mg/dL contract."""
    _require_columns(cgm, ["time", "glucose", *by])
    frame = cgm[[*dict.fromkeys([*by, "time", "glucose"])]]
    frame = frame.dropna()
    if not pd.api.types.is_datetime64_any_dtype(frame["time"]):
        raise DataError("CGM times must be datetimes (pandas datetime64)", column="time")
    glucose = frame["glucose"].to_numpy(dtype="float64")
    if len(glucose) == 0:
        raise DataError("the CGM table has no reading with a known glucose and time", column="glucose")
    negative = np.flatnonzero(glucose < 0)
    if negative.size:
        raise DataError("glucose readings cannot be negative", column="glucose",
                        rows=frame.index[negative].tolist())
    if np.median(glucose) < _IMPLAUSIBLE_MEDIAN_MG_DL:
        raise UnitError(f"median CGM glucose is {np.median(glucose):.1f}, implausible in mg/dL; the "
                        "readings look like mmol/L (multiply by 18.016)", column="glucose")
    return frame


def _sorted_readings(cgm: pd.DataFrame, by: list[str]):
    """Group codes, group keys, minutes and glucose, sorted by group then time."""
    frame = _valid_readings(cgm, by)
    grouped = frame.groupby(by, sort=True, observed=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    keys = grouped.size().index.to_frame(index=False)
    nanoseconds = frame["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    glucose = frame["glucose"].to_numpy(dtype="float64")

    # Loaders usually deliver readings sorted; checking is one cheap pass, sorting a costly one.
    step = np.diff(codes)
    in_order = (step >= 0).all() and (np.diff(nanoseconds)[step == 0] >= 0).all()
    if not in_order:
        order = np.lexsort((nanoseconds, codes))
        codes, nanoseconds, glucose = codes[order], nanoseconds[order], glucose[order]
    minutes = (nanoseconds - nanoseconds.min()) / _NS_PER_MINUTE
    return codes, keys, minutes, glucose


def _wear(codes: np.ndarray, minutes: np.ndarray, n: np.ndarray, interval_minutes: float | None):
    """Sensor interval, active percent and span (minutes) per group, as iglu's active_percent computes them.

    iglu-python `active_percent` (range_type "automatic"): dt0 = round(median step); possible readings = round(span / dt0) + 1;
    readings lost = round((sum of gap steps - number of gaps x dt0) / dt0), a gap step being one longer
    than dt0; active = (possible - lost) / possible.
    """
    n_groups = len(n)
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    last = first + n - 1
    span = minutes[last] - minutes[first]

    step = np.diff(minutes)
    same_group = codes[1:] == codes[:-1]
    step, step_group = step[same_group], codes[1:][same_group]

    if interval_minutes is not None:
        if interval_minutes <= 0:
            raise DataError(f"interval_minutes must be positive, got {interval_minutes}")
        interval = np.full(n_groups, float(interval_minutes))
    else:
        median_step = pd.Series(step).groupby(step_group).median()
        interval = np.round(median_step.reindex(range(n_groups)).to_numpy())
        interval[interval <= 0] = np.nan  # duplicated timestamps only: no interval can be inferred

    # iglu-python counts a step as a gap when it exceeds dt0 unrounded, so a Dexcom clock's +1 s jitter
    # (5.02 min) adds 0.02 min of gap; R's iglu rounds the step first. We follow iglu-python, the
    # reference the tests hold us to; on iglu's example data the R rule reads at most 0.03 points higher
    # (docs/outcomes.md).
    is_gap = step > interval[step_group]
    gap_minutes = np.bincount(step_group, weights=np.where(is_gap, step, 0.0), minlength=n_groups)
    n_gaps = np.bincount(step_group, weights=is_gap, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        possible = np.round(span / interval) + 1
        lost = np.round((gap_minutes - n_gaps * interval) / interval)
        active = 100.0 * (possible - lost) / possible
    return interval, active, span
