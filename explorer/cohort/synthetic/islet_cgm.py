"""CGM glucose of islet recipients: brittle type 1 diabetes's hypoglycaemic dips, and a graft that removes them.

A single Gamma(mean, CV) cannot be brittle diabetes: at a mean of ~160 mg/dL and a CV of ~40 % it puts
under 1 % of readings below 54 mg/dL, where C-peptide-negative candidates for islet transplantation spend a
median 97 min/day, 6.7 % (Clinical Islet Transplantation Consortium, Diabetes Technol Ther 2015,
doi:10.1089/dia.2014.0289), and Edmonton's non-transplanted brittle T1D 11.8 % below 3.0 mmol/L (Paty et
al., Diabetes Technol Ther 2006;8:165). So glucose here is a mixture:

- *dips*: a share `dip` of the time in hypoglycaemic dips, lognormal with a median nadir of DIP_MEDIAN;
  people with impaired awareness mostly do not feel glucose until it is below 54 mg/dL, so they do not
  treat it sooner (T1D Exchange survey: > 70 % with impaired awareness had no regular symptoms below
  54 mg/dL; registry survey of 1,480 adults, 2024, PMID 39657003);
- *the rest*: `floor` + Gamma, with the mean and spread that make the whole mixture's mean and CV the ones
  asked for. The floor is where a working graft holds glucose up: its insulin secretion stops as glucose
  falls. Recipients off insulin had a mean daily low of 4.5 mmol/L (81 mg/dL) against 3.0 without a
  transplant, and no CGM time below 3.0 mmol/L (Paty 2006).

The response model (explorer.cohort.synthetic.response_models.IsletModel) shrinks `dip` and raises `floor`
as the graft works. The consensus metrics come from the mixture's parts (explorer.cohort.synthetic.cgm.Parts), and readings are its quantiles
(`cdf_on_grid` for explorer.cohort.synthetic.cgm.readings), so both agree as the Gamma model's do.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from explorer.cohort.synthetic import cgm

# Dip nadirs: median 52 mg/dL with a log-SD of 0.18 (95 % between 37 and 74 mg/dL). Assumption, set so that
# most of a dip lies below 54 mg/dL (see the module docstring) and about 95 % below 70 mg/dL.
DIP_MEDIAN = 52.0
DIP_SD_LOG = 0.18
# The non-dip part never becomes narrower than this CV (it would have to for a tiny CV and many dips).
MIN_MAIN_CV = 8.0
MAX_DIP = 0.5
# The floor stays below this share of the non-dip mean, so that part keeps some spread below its mean.
MAX_FLOOR_SHARE = 0.8


def _dip_moments() -> tuple[float, float]:
    mu, s = np.log(DIP_MEDIAN), DIP_SD_LOG
    return float(np.exp(mu + s * s / 2)), float(np.exp(2 * mu + 2 * s * s))


def main_component(mean: np.ndarray, cv_percent: np.ndarray, dip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and CV (%) of the non-dip Gamma that give the mixture `mean` and `cv_percent` (before the sensor
    clips it): the mixture's first two moments are the weighted moments of its parts."""
    mean, dip = np.asarray(mean, dtype=float), np.clip(np.asarray(dip, dtype=float), 0, MAX_DIP)
    sd = np.asarray(cv_percent, dtype=float) / 100 * mean
    dip_mean, dip_square = _dip_moments()
    main_mean = (mean - dip * dip_mean) / (1 - dip)
    main_var = (sd * sd + mean * mean - dip * dip_square) / (1 - dip) - main_mean * main_mean
    main_cv = 100 * np.sqrt(np.maximum(main_var, 0.0)) / main_mean
    return main_mean, np.maximum(main_cv, MIN_MAIN_CV)


def _dip_parts(shape: tuple[int, ...]) -> cgm.Parts:
    mu, s = np.log(DIP_MEDIAN), DIP_SD_LOG

    def z(x: float, shift: float = 0.0) -> float:
        return float(special.ndtr((np.log(x) - mu - shift) / s))

    dip_mean, dip_square = _dip_moments()
    # lognormal partial moments: E[X; a<X<b] = E[X] (Phi(z_b - s) - Phi(z_a - s)), E[X^2; ...] with 2 s
    m1 = dip_mean * (z(cgm.SENSOR_HIGH, s * s) - z(cgm.SENSOR_LOW, s * s))
    m2 = dip_square * (z(cgm.SENSOR_HIGH, 2 * s * s) - z(cgm.SENSOR_LOW, 2 * s * s))
    return cgm.Parts({name: np.full(shape, z(x)) for name, x in cgm.CUTS.items()},
                     np.full(shape, m1), np.full(shape, m2))


def _shifted_gamma(mean: np.ndarray, cv_percent: np.ndarray, dip: np.ndarray, floor: np.ndarray):
    """(Gamma mean, Gamma CV %, shift) of the non-dip part: shift + Gamma has its mean and SD."""
    main_mean, main_cv = main_component(mean, cv_percent, dip)
    shift = np.clip(np.asarray(floor, dtype=float), 0, MAX_FLOOR_SHARE * main_mean)
    return main_mean - shift, main_cv * main_mean / (main_mean - shift), shift


def summary_metrics(mean: np.ndarray, cv_percent: np.ndarray, dip: np.ndarray,
                    floor: np.ndarray) -> dict[str, np.ndarray]:
    """Consensus CGM metrics (percent, mg/dL) of the mixture, read by a 40-400 mg/dL sensor."""
    gamma_mean, gamma_cv, shift = _shifted_gamma(mean, cv_percent, dip, floor)
    w = np.clip(np.asarray(dip, dtype=float), 0, MAX_DIP)
    return cgm.metrics_from_parts(cgm.gamma_parts(gamma_mean, gamma_cv, shift).mix(w, _dip_parts(w.shape)))


def cdf_on_grid(mean: np.ndarray, cv_percent: np.ndarray, dip: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Each subject's mixture CDF on cgm.QUANTILE_GRID (subjects x grid), for cgm.readings."""
    gamma_mean, gamma_cv, shift = _shifted_gamma(mean, cv_percent, dip, floor)
    w = np.clip(np.asarray(dip, dtype=float), 0, MAX_DIP)[:, None]
    dips = special.ndtr((np.log(cgm.QUANTILE_GRID) - np.log(DIP_MEDIAN)) / DIP_SD_LOG)[None, :]
    return (1 - w) * cgm.gamma_cdf_on_grid(gamma_mean, gamma_cv, shift) + w * dips
