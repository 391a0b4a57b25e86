"""CGM metrics from a subject's glucose distribution, and 5-minute readings that reproduce them.

A subject's 14-day glucose values are modelled as Gamma(mean, CV): right-skewed like real CGM data and with
a heavier low tail than a lognormal, so time below range comes out near the 2-4 % seen in type 1 diabetes.
The fast path computes the consensus metrics (Battelino et al., Diabetes Care 2019;42:1593) from the
distribution; `readings` draws a trace whose readings are exactly that distribution's quantiles, placed
in time by a smooth daily pattern plus autocorrelated noise, so metrics computed from the readings agree
with the fast path (to rounding).

Readings are integers in mg/dL inside the sensor's reporting range (40-400 mg/dL), so the range limits
are applied at half-units: in range = 70..180 inclusive = [69.5, 180.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

SENSOR_LOW, SENSOR_HIGH = 40.0, 400.0
READINGS_PER_DAY = 288
WINDOW_DAYS = 14


def _shape_scale(mean: np.ndarray, cv_percent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cv = np.asarray(cv_percent, dtype=float) / 100.0
    shape = 1.0 / (cv * cv)
    return shape, np.asarray(mean, dtype=float) / shape


# The cut-offs the consensus metrics and the sensor's clipping read a distribution at (half-units: see above)
CUTS = {"tbr_54": 53.5, "tbr_70": 69.5, "tar_180": 180.5, "tar_250": 250.5, "low": SENSOR_LOW, "high": SENSOR_HIGH}


@dataclass(frozen=True)
class Parts:
    """What the consensus metrics need from a glucose distribution: its CDF at each of CUTS, and its first and
    second partial moments E[X; low < X < high], E[X^2; low < X < high] inside the sensor's range.

    All are linear in the distribution, so a mixture's parts are the weighted parts of its components
    (`mix`): another model of glucose (explorer.cohort.synthetic.islet_cgm) reuses `metrics_from_parts`."""

    cdf: dict[str, np.ndarray]
    m1_mid: np.ndarray
    m2_mid: np.ndarray

    def mix(self, weight: np.ndarray, other: Parts) -> Parts:
        """(1 - weight) x self + weight x other."""
        w = np.asarray(weight, dtype=float)
        return Parts({k: (1 - w) * v + w * other.cdf[k] for k, v in self.cdf.items()},
                     (1 - w) * self.m1_mid + w * other.m1_mid, (1 - w) * self.m2_mid + w * other.m2_mid)


def gamma_parts(mean: np.ndarray, cv_percent: np.ndarray, shift: np.ndarray | float = 0.0) -> Parts:
    """Parts of shift + Gamma(mean, CV) (a shift of 0: plain Gamma)."""
    k, theta = _shape_scale(mean, cv_percent)

    def cdf(x, shape=k):
        return special.gammainc(shape, np.maximum(x - shift, 0.0) / theta)

    # moments of the clipped distribution: E[Y; a<Y<b] = k*theta*(P(k+1,b) - P(k+1,a)), likewise for Y^2;
    # X = shift + Y adds shift^2 P(a<X<b) + 2 shift E[Y; ...] to the second and shift P(a<X<b) to the first
    inside = cdf(SENSOR_HIGH) - cdf(SENSOR_LOW)
    y1 = k * theta * (cdf(SENSOR_HIGH, k + 1) - cdf(SENSOR_LOW, k + 1))
    y2 = k * (k + 1) * theta * theta * (cdf(SENSOR_HIGH, k + 2) - cdf(SENSOR_LOW, k + 2))
    m1_mid = shift * inside + y1
    m2_mid = shift * shift * inside + 2 * shift * y1 + y2
    return Parts({name: cdf(x) for name, x in CUTS.items()}, m1_mid, m2_mid)


def metrics_from_parts(parts: Parts) -> dict[str, np.ndarray]:
    """Consensus CGM metrics (percent, mg/dL) of a distribution read by a 40-400 mg/dL sensor."""
    c = parts.cdf
    tbr_54, tbr_70 = c["tbr_54"], c["tbr_70"]
    tar_180, tar_250 = 1 - c["tar_180"], 1 - c["tar_250"]
    low, high = c["low"], 1 - c["high"]
    m1 = SENSOR_LOW * low + parts.m1_mid + SENSOR_HIGH * high
    m2 = SENSOR_LOW ** 2 * low + parts.m2_mid + SENSOR_HIGH ** 2 * high
    sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    return {
        "tir": 100 * (1 - tbr_70 - tar_180), "tbr_70": 100 * tbr_70, "tbr_54": 100 * tbr_54,
        "tar_180": 100 * tar_180, "tar_250": 100 * tar_250, "cgm_mean": m1,
        "cgm_cv": 100 * sd / m1, "gmi": 3.31 + 0.02392 * m1,
    }


def summary_metrics(mean: np.ndarray, cv_percent: np.ndarray) -> dict[str, np.ndarray]:
    """Consensus CGM metrics (percent, mg/dL) of Gamma(mean, CV) glucose read by a 40-400 mg/dL sensor."""
    return metrics_from_parts(gamma_parts(mean, cv_percent))


def mean_from_gmi(gmi: np.ndarray) -> np.ndarray:
    """Mean glucose (mg/dL) whose GMI is `gmi` (Bergenstal et al., Diabetes Care 2018)."""
    return (np.asarray(gmi, dtype=float) - 3.31) / 0.02392


def _daily_pattern(n_slots: int) -> np.ndarray:
    """A standardised daily profile: meal peaks at 07:30, 12:30 and 18:30 and a small dawn rise."""
    minutes = (np.arange(n_slots) * 5) % 1440
    profile = np.zeros(n_slots)
    for centre, height in ((450, 1.0), (750, 0.9), (1110, 1.1), (300, 0.3)):
        profile += height * np.exp(-0.5 * ((minutes - centre - 45) / 60.0) ** 2)
    return (profile - profile.mean()) / profile.std()


def readings(rng: np.random.Generator, mean: np.ndarray, cv_percent: np.ndarray, active_percent: np.ndarray,
             end_times: np.ndarray, *, cdf: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """5-minute readings for the 14 days before each end time.

    Returns (row -> subject position, time as datetime64[ns], glucose mg/dL). The kept readings of each
    subject are the quantiles of its Gamma(mean, CV) distribution, or of `cdf` when given (subjects x
    QUANTILE_GRID: another glucose model's CDF on that grid); a single sensor gap removes the share of
    readings not captured (100 - active_percent).
    """
    k_subjects = len(mean)
    n_slots = WINDOW_DAYS * READINGS_PER_DAY
    if k_subjects == 0:
        return np.zeros(0, np.int64), np.zeros(0, "datetime64[ns]"), np.zeros(0)
    kept = np.clip(np.rint(np.asarray(active_percent) / 100 * n_slots), 1, n_slots).astype(np.int64)
    gap_start = (rng.random(k_subjects) * (kept + 1)).astype(np.int64)  # the gap (n_slots - kept long) must fit
    slot = np.arange(n_slots)
    in_gap = (slot >= gap_start[:, None]) & (slot < (gap_start + n_slots - kept)[:, None])

    phase = rng.integers(-6, 7, size=k_subjects)  # subjects eat at slightly different times
    pattern = shifted_patterns(phase, n_slots)
    phi = 0.985  # 5-minute autocorrelation: excursions last a few hours
    # imported here: scipy.signal takes about a second to import, and only readings need it
    from scipy import signal

    noise = signal.lfilter([np.sqrt(1 - phi * phi)], [1, -phi], rng.standard_normal((k_subjects, n_slots)), axis=1)
    latent = 0.6 * pattern + 0.8 * noise
    latent[in_gap] = np.inf  # gaps sort last
    rank = row_ranks(latent)

    q = (rank + 0.5) / kept[:, None]
    values = _quantiles(q, gamma_cdf_on_grid(mean, cv_percent) if cdf is None else cdf)

    start = np.asarray(end_times, dtype="datetime64[ns]") - np.timedelta64(WINDOW_DAYS, "D")
    offset = (rng.random(k_subjects) * 300).astype(np.int64)  # seconds: sensors do not start on the minute
    times = (start.astype(np.int64)[:, None] + (offset[:, None] + slot[None, :] * 300) * 1_000_000_000)
    keep = ~in_gap
    subject = np.broadcast_to(np.arange(k_subjects)[:, None], keep.shape)[keep]
    return subject, times[keep].astype("datetime64[ns]"), values[keep].astype(float)


def shifted_patterns(phase: np.ndarray, n_slots: int) -> np.ndarray:
    """The daily pattern rolled by each subject's phase (subjects x slots), the pattern computed once."""
    slot = np.arange(n_slots)
    return _daily_pattern(n_slots)[(slot[None, :] - np.asarray(phase)[:, None]) % n_slots]


def row_ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank in its row (0 = smallest; ties in row order), as argsort(argsort(.)) with stable
    sorts gives it: the inverse of one sort's permutation, scattered instead of sorted a second time."""
    order = np.argsort(values, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(values.shape[1]), order.shape), axis=1)
    return rank


# where the readings' quantiles are read off each subject's CDF: 0.25 mg/dL steps around the sensor's range
QUANTILE_GRID = np.arange(SENSOR_LOW - 2, SENSOR_HIGH + 2.25, 0.25)


def gamma_cdf_on_grid(mean: np.ndarray, cv_percent: np.ndarray, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """Each subject's shift + Gamma(mean, CV) CDF on QUANTILE_GRID (subjects x grid)."""
    shape, theta = _shape_scale(mean, cv_percent)
    above = np.maximum(QUANTILE_GRID[None, :] - np.asarray(shift, dtype=float).reshape(-1, 1), 0.0)
    return special.gammainc(shape[:, None], above / theta[:, None])


def _quantiles(q: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Quantiles read by the sensor (integers clipped to 40-400), by interpolating each subject's CDF on
    QUANTILE_GRID: exact after rounding, and ten times faster than gammaincinv."""
    values = np.empty_like(q)
    for i in range(len(q)):
        values[i] = np.interp(q[i], cdf[i], QUANTILE_GRID)
    return np.clip(np.rint(values), SENSOR_LOW, SENSOR_HIGH)


def metrics_from_readings(glucose: pd.Series, subject: pd.Series) -> pd.DataFrame:
    """Consensus metrics per subject from integer readings (used by tests to check the fast path)."""
    g = np.asarray(glucose, dtype=float)
    frame = pd.DataFrame({
        "subject": np.asarray(subject), "tir": (g >= 70) & (g <= 180), "tbr_70": g < 70, "tbr_54": g < 54,
        "tar_180": g > 180, "tar_250": g > 250, "g": g,
    })
    grouped = frame.groupby("subject", sort=False)
    out = grouped[["tir", "tbr_70", "tbr_54", "tar_180", "tar_250"]].mean() * 100
    out["cgm_mean"] = grouped["g"].mean()
    out["cgm_cv"] = grouped["g"].std(ddof=0) / out["cgm_mean"] * 100
    out["gmi"] = 3.31 + 0.02392 * out["cgm_mean"]
    out["n"] = grouped.size()
    return out
