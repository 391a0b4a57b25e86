"""Probability helpers of the structural models: logits, truncated and correlated normals, lognormal and Gamma
draws from named streams, rounding as a lab reports. Pure functions of their inputs and generators."""

from __future__ import annotations

import numpy as np
from scipy import special

from explorer.cohort.synthetic.streams import Streams


def logit(p: float | np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def expit(x: np.ndarray) -> np.ndarray:
    return special.expit(x)


def lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the log of a lognormal variable with the given mean and SD."""
    sigma2 = np.log1p((sd / mean) ** 2)
    return float(np.log(mean) - sigma2 / 2), float(np.sqrt(sigma2))


def truncated_normal(rng: np.random.Generator, mean, sd, low, high, size: int) -> np.ndarray:
    """Inverse-CDF truncated normal: one uniform per subject, so streams stay aligned with subjects."""
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    a = special.ndtr((low - mean) / sd)
    b = special.ndtr((high - mean) / sd)
    u = rng.random(size)
    return mean + sd * special.ndtri(a + u * (b - a))


def correlated(z_common: np.ndarray, z_own: np.ndarray, rho: float) -> np.ndarray:
    """A standard normal with correlation rho to z_common."""
    return rho * z_common + np.sqrt(1 - rho * rho) * z_own


def bernoulli(rng: np.random.Generator, p: np.ndarray | float, size: int) -> np.ndarray:
    return rng.random(size) < p


def round_to(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round as a lab report would (NaN stays NaN)."""
    return np.round(values, decimals)


def shifted_lognormal(z: np.ndarray, mean: np.ndarray, sd: float, floor: float) -> np.ndarray:
    """floor + lognormal with the given mean and SD, driven by standard normals z (right skew, as HbA1c)."""
    mean = np.asarray(mean, dtype=float)
    sigma = np.sqrt(np.log1p((sd / (mean - floor)) ** 2))
    mu = np.log(mean - floor) - sigma ** 2 / 2
    return floor + np.exp(mu + sigma * z)


def unit_gamma(s: Streams, name: str, shape: float, m: int) -> np.ndarray:
    """Gamma frailty with mean 1."""
    return s(name).gamma(shape, 1.0 / shape, m)


def standardised_log(frailty: np.ndarray, shape: float) -> np.ndarray:
    """log of a mean-1 Gamma frailty as a z-score (clipped to +-3), to link other traits to it."""
    mean = special.digamma(shape) - np.log(shape)
    sd = np.sqrt(special.polygamma(1, shape))
    return np.clip((np.log(np.maximum(frailty, 1e-300)) - mean) / sd, -3, 3)


def lognormal(s: Streams, name: str, mean: float, sd: float, m: int) -> np.ndarray:
    mu, sigma = lognormal_params(mean, sd)
    return np.exp(mu + sigma * s(name).standard_normal(m))
