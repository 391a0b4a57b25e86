"""Random screenings for testing the engines (not realistic patients); only tests use them, so they live here.

Every catalogue variable gets values spread over its plausible range with a share of unknowns, and
every event type a history of dated events, a look-back that is sometimes too short, and for some
subjects only a reported count: all the cases where the two engines could disagree. For realistic
cohorts use explorer.cohort.synthetic.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.screening import Screening

# typical ranges where the catalogue's plausible range is far wider than screening values
_TYPICAL = {"age": (4, 80), "alt": (5, 150), "ast": (5, 150), "bilirubin": (2, 60), "creatinine": (40, 300),
            "uric_acid": (150, 700), "egfr": (15, 130), "fasting_insulin": (1, 60), "postmeal_insulin": (5, 200),
            "insulin_dose": (5, 120), "homa_ir": (0.5, 12), "ogld_dose": (0, 300), "bmi": (15, 45),
            "weight": (20, 150), "height": (110, 200), "kitt": (0.5, 6), "diabetes_duration": (0, 40),
            "cancer_remission_years": (0, 15), "alt_uln": (30, 60), "ast_uln": (30, 60),
            "bilirubin_uln": (17, 26), "hba1c": (5, 12), "tir": (10, 100), "fasting_cpeptide": (0, 2),
            "postmeal_cpeptide": (0, 4), "fasting_glucose": (3, 20), "insulin_dose_per_kg": (0.1, 1.5)}


def random_screening(n: int, seed: int = 0, *, catalogue: Catalogue | None = None,
                     variables: Iterable[str] | None = None, missing: float = 0.1, true_rate: float = 0.08,
                     events_per_subject: float = 0.6, id_prefix: str = "S") -> Screening:
    """A Screening of n random subjects (seeded); `variables` limits the feature columns."""
    catalogue = catalogue or default_catalogue()
    rng = np.random.default_rng(seed)
    index = pd.Index([f"{id_prefix}{i:08d}" for i in range(n)], name="subject_id", dtype="string")
    names = list(variables) if variables is not None else [v.name for v in catalogue if v.kind != "event"]
    columns: dict[str, object] = {}
    for name in names:
        var = catalogue[name]
        unknown = rng.random(n) < missing
        if var.kind == "number":
            lo, hi = _TYPICAL.get(name, var.range or (0.0, 100.0))
            values = np.round(rng.uniform(lo, hi, n), 1)
            if var.range is not None:
                values = np.clip(values, *var.range)
            values[unknown] = np.nan
            columns[name] = values
        elif var.kind == "boolean":
            flags = pd.array(rng.random(n) < true_rate, dtype="boolean")
            flags[unknown] = pd.NA
            columns[name] = flags
        elif var.kind == "category":
            values = np.asarray(var.categories, dtype=object)[rng.integers(0, len(var.categories), n)]
            values[unknown] = None
            columns[name] = pd.array(values, dtype="string")
    features = pd.DataFrame(columns, index=index)

    events_names = catalogue.names("event")
    per_subject = rng.poisson(events_per_subject * max(1, len(events_names)), n)
    subject_rows = np.repeat(np.arange(n), per_subject)
    m = len(subject_rows)
    events = pd.DataFrame({
        "subject_id": pd.array(index.to_numpy()[subject_rows], dtype="string"),
        "event": pd.array(np.asarray(events_names, dtype=object)[rng.integers(0, len(events_names), m)]
                          if events_names else np.array([], dtype=object), dtype="string"),
        "days_before_index": np.floor(rng.uniform(0, 800, m)),
        "severity": pd.array(rng.integers(1, 6, m), dtype="Int64"),
    })
    lookback = pd.DataFrame(
        {e: np.where(rng.random(n) < 0.15, np.nan, rng.choice([30.0, 100.0, 400.0, 1000.0], n))
         for e in events_names}, index=index)
    counts = pd.DataFrame({f"{e}@{d}": np.where(rng.random(n) < 0.5, rng.integers(0, 4, n).astype(float), np.nan)
                           for e in events_names for d in (91, 365)}, index=index)
    return Screening(features, events, lookback, counts, source=f"random_screening(n={n}, seed={seed})")
