"""Glycaemic risk and variability indices per subject (or subject and visit), as iglu computes them.

Each index follows its publication and, where an implementation choice is open, iglu (Broll et al., PLoS
ONE 2021;16:e0248560) through its Python port iglu-python, against which the tests and
scripts/compare_cgm_iglu.py check every one (docs/outcomes.md). Glucose is in mg/dL.

On the readings:
- LBGI, HBGI (Kovatchev 1998, 2006): f(g) = 1.509 (ln(g)^1.084 - 5.381); LBGI = 10 x sum of f^2 over
  readings below 112.5 mg/dL / n, HBGI the same over readings at or above it.
- ADRR (Kovatchev 2006): per calendar day, 22.77 x (the day's largest f/1.509 above 0)^2 plus 22.77 x
  (its smallest below 0)^2; the mean over days.
- GRADE (Hill 2007): mean of min(425 (log10(log10(g / 18)) + 0.16)^2, 50).
- J-index (Wojcicki 1995): 0.001 x (mean + SD)^2.
- GRI (Klonoff et al., J Diabetes Sci Technol 2023;17:1226-1242): hypoglycaemia component
  VLow + 0.8 Low, hyperglycaemia component VHigh + 0.5 High, GRI = 3.0 x hypo + 1.6 x hyper, at most 100,
  with the consensus bands in % of readings (VLow < 54, Low 54-69, High 181-250, VHigh > 250).

On the interpolated grid (explorer.clinical.cgm_grid):
- MODD (Service 1980): mean |g(t) - g(t - 24 h)|.
- CONGA-n (McDonnell 2005): SD (n - 1) of g(t) - g(t - n h); CONGA1 (n = 1) is reported.
- MAG (Hermanides 2010): sum of |g(t) - g(t - dt0)| / hours they span.
- MAGE (Service 1970, as iglu's moving-average algorithm, Fernandes et al. 2022): see `mage`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from explorer.clinical.cgm import HIGH, LOW, VERY_HIGH, VERY_LOW
from explorer.clinical.cgm_grid import MINUTES_PER_DAY
from explorer.clinical.cgm_readings import GroupedReadings
from explorer.clinical.mage import mage_per_group

# Kovatchev's symmetrising transform: f(g) = 1.509 (ln(g)^1.084 - 5.381) is 0 at 112.5 mg/dL.
RISK_SCALE, RISK_EXPONENT, RISK_SHIFT = 1.509, 1.084, 5.381
RISK_ZERO_MG_DL = 112.5
ADRR_FACTOR = 22.77  # 10 x 1.509^2, rounded as Kovatchev 2006 and iglu state it
GRADE_CAP = 50.0
GRI_CAP = 100.0
CONGA_HOURS = 1

VARIABILITY_COLUMNS = ("lbgi", "hbgi", "adrr", "grade", "j_index", "gri", "gri_hypo", "gri_hyper",
                       "modd", "conga", "mag", "mage")

_NS_PER_DAY = MINUTES_PER_DAY * 60 * 10**9


def variability_metrics(cgm: pd.DataFrame, *, by: Sequence[str] = ("subject_id",),
                        conga_hours: int = CONGA_HOURS) -> pd.DataFrame:
    """The indices of the module docstring, one row per group of `by` (like cgm_metrics).

    Returns the `by` columns and VARIABILITY_COLUMNS. A group without enough readings for an index
    (one reading for SD-based ones, no two grid points a lag apart for MODD/CONGA/MAG) has NaN there.
    Tz-aware times are read on their local clock (calendar days for ADRR, the 24-h lag of MODD).
    """
    return variability_of(GroupedReadings(cgm, by), conga_hours=conga_hours)


def variability_of(readings: GroupedReadings, *, conga_hours: int = CONGA_HOURS) -> pd.DataFrame:
    """variability_metrics of readings already grouped (shared with the other metric functions)."""
    codes, nanoseconds, glucose = readings.in_time_order
    n_groups, keys = readings.n_groups, readings.keys

    n = np.bincount(codes, minlength=n_groups)
    risk = risk_function(glucose)
    low = glucose < RISK_ZERO_MG_DL
    lbgi = 10 * np.bincount(codes[low], weights=risk[low] ** 2, minlength=n_groups) / n
    hbgi = 10 * np.bincount(codes[~low], weights=risk[~low] ** 2, minlength=n_groups) / n
    grade_score = np.minimum(425 * (np.log10(np.log10(glucose / 18)) + 0.16) ** 2, GRADE_CAP)
    grade = np.bincount(codes, weights=grade_score, minlength=n_groups) / n

    mean = np.bincount(codes, weights=glucose, minlength=n_groups) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(np.bincount(codes, weights=(glucose - mean[codes]) ** 2, minlength=n_groups) / (n - 1))
    sd[n < 2] = np.nan

    grid = readings.grid
    table = pd.DataFrame({
        "lbgi": lbgi,
        "hbgi": hbgi,
        "adrr": _adrr(codes, nanoseconds, risk / RISK_SCALE, n_groups),
        "grade": grade,
        "j_index": 0.001 * (mean + sd) ** 2,
        **glycaemia_risk_index(codes, glucose, n_groups),
        "modd": _modd(grid, n_groups),
        "conga": _conga(grid, n_groups, conga_hours),
        "mag": _mag(grid, n_groups),
        "mage": mage_per_group(codes, nanoseconds, glucose, n_groups, grid=grid),
    })
    return pd.concat([keys, table[list(VARIABILITY_COLUMNS)]], axis=1)


def risk_function(glucose: np.ndarray) -> np.ndarray:
    """Kovatchev's f(g) = 1.509 (ln(g)^1.084 - 5.381): negative below 112.5 mg/dL, positive above."""
    return RISK_SCALE * (np.log(glucose) ** RISK_EXPONENT - RISK_SHIFT)


def glycaemia_risk_index(codes: np.ndarray, glucose: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """GRI and its hypo- and hyperglycaemia components (Klonoff 2023) from the consensus bands."""
    n = np.bincount(codes, minlength=n_groups)

    def percent(mask: np.ndarray) -> np.ndarray:
        return 100.0 * np.bincount(codes[mask], minlength=n_groups) / n

    very_low, low = percent(glucose < VERY_LOW), percent((glucose >= VERY_LOW) & (glucose < LOW))
    high, very_high = percent((glucose > HIGH) & (glucose <= VERY_HIGH)), percent(glucose > VERY_HIGH)
    hypo = very_low + 0.8 * low
    hyper = very_high + 0.5 * high
    return {"gri": np.minimum(3.0 * hypo + 1.6 * hyper, GRI_CAP), "gri_hypo": hypo, "gri_hyper": hyper}


def _adrr(codes: np.ndarray, nanoseconds: np.ndarray, bgi: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean over calendar days of 22.77 (max(0, day's max bgi)^2 + min(0, day's min bgi)^2)."""
    day = nanoseconds // _NS_PER_DAY
    starts = np.flatnonzero(np.concatenate(([True], (codes[1:] != codes[:-1]) | (day[1:] != day[:-1]))))
    day_max = np.maximum(np.maximum.reduceat(bgi, starts), 0)
    day_min = np.minimum(np.minimum.reduceat(bgi, starts), 0)
    daily_risk = ADRR_FACTOR * (day_max ** 2 + day_min ** 2)
    day_group = codes[starts]
    days = np.bincount(day_group, minlength=n_groups)
    with np.errstate(invalid="ignore"):
        return np.bincount(day_group, weights=daily_risk, minlength=n_groups) / days


def _modd(grid, n_groups: int) -> np.ndarray:
    """Mean absolute difference between grid values 24 h apart (iglu `modd`, lag 1 day)."""
    lag = np.where(grid.dt0 > 0, MINUTES_PER_DAY // np.maximum(grid.dt0, 1), 0)
    difference, group = grid.lagged_differences(lag)
    count = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore"):
        return np.bincount(group, weights=np.abs(difference), minlength=n_groups) / count


def _conga(grid, n_groups: int, hours: int) -> np.ndarray:
    """SD (n - 1) of differences `hours` apart on the grid (iglu `conga`); NaN with fewer than two."""
    lag = np.where(grid.dt0 > 0, np.round(60 / np.maximum(grid.dt0, 1)).astype(np.int64) * hours, 0)
    difference, group = grid.lagged_differences(lag)
    count = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=difference, minlength=n_groups) / count
        squares = np.bincount(group, weights=(difference - mean[group]) ** 2, minlength=n_groups)
        sd = np.sqrt(squares / (count - 1))
    sd[count < 2] = np.nan
    return sd


def _mag(grid, n_groups: int) -> np.ndarray:
    """Sum of |differences one grid step apart| per hour they cover (iglu `mag`, n = dt0).

    iglu returns 0 where no two consecutive grid values are known; here that is NaN (unknown, not
    "no change"), the one documented difference.
    """
    difference, group = grid.lagged_differences((grid.dt0 > 0).astype(np.int64))
    count = np.bincount(group, minlength=n_groups)
    hours = count * grid.dt0 / 60
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = np.bincount(group, weights=np.abs(difference), minlength=n_groups) / hours
    mag[count == 0] = np.nan
    return mag
