"""Hand-made screening cohorts for engine and semantics tests: one keyword per catalogue variable."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.catalogue import default_catalogue
from explorer.cohort.screening import Screening, empty_events


def screening(**columns) -> Screening:
    """A Screening whose features are the given columns (None = unknown), typed by the catalogue."""
    n = len(next(iter(columns.values())))
    index = pd.Index([f"s{i}" for i in range(n)], name="subject_id", dtype="string")
    frame = pd.DataFrame(index=index)
    for name, values in columns.items():
        kind = default_catalogue()[name].kind
        if kind == "category":
            frame[name] = pd.array(values, dtype="string")
        elif kind == "boolean":
            frame[name] = pd.array(values, dtype="boolean")
        else:
            frame[name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
    return Screening(frame, empty_events()).validate()
