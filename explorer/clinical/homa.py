"""HOMA-IR and the one rule for when it may be derived.

HOMA-IR = fasting glucose (mmol/L) x fasting insulin (microU/mL) / 22.5 (Matthews et al., Diabetologia
1985;28:412-419: a normal-weight adult under 35, 4.5 mmol/L x 5 microU/mL, has HOMA-IR = 1).

HOMA models *endogenous* insulin secretion against hepatic glucose output. Under insulin treatment the
measured insulin is partly injected, so HOMA-IR is not valid (Wallace, Levy & Matthews, Diabetes Care
2004;27:1487-1495). Every place that derives HOMA-IR (screening features, the synthetic generator,
outcome measures) uses `homa_ir` below with the subject's insulin treatment, so the rule lives here once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOMA_IR_NORMALISER = 22.5
NOT_VALID_ON_INSULIN = "not valid under insulin treatment"


def homa_ir(fasting_glucose, fasting_insulin, on_insulin=None) -> np.ndarray:
    """HOMA-IR per subject as a float array; NaN where an input is unknown or the subject takes insulin.

    `on_insulin` is a boolean array (or a pandas "boolean" array with NA), or None when nobody takes
    insulin. An unknown treatment counts as not on insulin: HOMA needs a measured fasting insulin, and
    records that measure it without noting insulin treatment are of people not treated with it.
    """
    glucose = np.asarray(fasting_glucose, dtype="float64")
    insulin = np.asarray(fasting_insulin, dtype="float64")
    value = glucose * insulin / HOMA_IR_NORMALISER
    if on_insulin is None:
        return value
    return np.where(treated_with_insulin(on_insulin), np.nan, value)


def treated_with_insulin(on_insulin) -> np.ndarray:
    """A plain bool array of who takes insulin; unknown counts as not (see `homa_ir`)."""
    return pd.array(np.asarray(on_insulin, dtype=object), dtype="boolean").fillna(False).to_numpy(dtype=bool)
