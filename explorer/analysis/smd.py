"""Standardised mean differences between two groups, the balance measure of table 1 and of representativeness.

For a number: (mean_1 - mean_2) / sqrt((sd_1^2 + sd_2^2) / 2); for a proportion p vs q:
(p - q) / sqrt((p(1-p) + q(1-q)) / 2) (Austin 2009, Stat Med 28:3083, eqs. 1 and 2). |SMD| < 0.1 is the
usual mark of negligible imbalance. Undefined (NaN) when the pooled SD is 0 or not known.
"""

from __future__ import annotations

import numpy as np

NEGLIGIBLE = 0.1


def smd_means(mean_1, sd_1, mean_2, sd_2) -> np.ndarray:
    m1, s1, m2, s2 = (np.asarray(v, dtype=float) for v in (mean_1, sd_1, mean_2, sd_2))
    pooled = np.sqrt((s1 ** 2 + s2 ** 2) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (m1 - m2) / pooled
    return np.where(np.isfinite(out), out, np.nan)


def smd_proportions(p, q) -> np.ndarray:
    """p and q as fractions (0..1)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    pooled = np.sqrt((p * (1 - p) + q * (1 - q)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (p - q) / pooled
    return np.where(np.isfinite(out), out, np.nan)
