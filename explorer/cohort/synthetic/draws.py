"""Vectorised building blocks for the structural models: correlated normals, logits, truncation."""

from __future__ import annotations

import numpy as np
from scipy import special


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
