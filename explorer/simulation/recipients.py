"""Who the synthetic islet trial finds eligible, against the published profile of islet-alone recipients.

Islet-alone recipients are people with long type 1 diabetes, no residual C-peptide and recurrent severe
hypoglycaemia: Edmonton (Ryan et al., Diabetes 2005;54:2060) and CIT-07 (Hering et al., Diabetes Care
2016;39:1230; entry: T1D > 5 years, absent stimulated C-peptide < 0.3 ng/mL, >= 1 severe hypoglycaemic
event in the past year and impaired awareness) enrolled adults about 43-48 years old with 25-30 years of
diabetes (issue 13; ../shared/REFERENCES.md). A synthetic clinic screened with NCT06196996 should find a pool
that looks like them; `eligible_profile` measures it and `PUBLISHED_RANGES` says what "looks like" means.
scripts/islet_recipient_profile.py writes the comparison into docs/synthetic.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer import engine
from explorer.cohort.compact import widened
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.trial import load_trial

ISLET_TRIAL = "NCT06196996"
DETECTABLE_CPEPTIDE = 0.017  # nmol/L, the assay limit the synthetic clinic reports below (params.py)
ABSENT_CPEPTIDE = 0.1        # nmol/L (0.3 ng/mL): CIT-07's "absent stimulated C-peptide"


@dataclass(frozen=True)
class Range:
    """A published range for one profile measure; `low`/`high` None = open on that side."""

    measure: str
    unit: str
    low: float | None
    high: float | None
    source: str

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def text(self) -> str:
        if self.low is None:
            return f"<= {self.high:g}"
        if self.high is None:
            return f">= {self.low:g}"
        return f"{self.low:g}-{self.high:g}"


PUBLISHED_RANGES = (
    Range("mean age", "years", 43, 48, "Edmonton (Ryan 2005) and CIT-07 (Hering 2016) recipients"),
    Range("median diabetes duration", "years", 25, 30, "Edmonton and CIT-07 recipients"),
    Range("fasting C-peptide detectable (>= 0.017 nmol/L)", "%", None, 10,
          "recipients have undetectable C-peptide; CIT-07 required stimulated C-peptide < 0.3 ng/mL"),
    Range("fasting C-peptide >= 0.1 nmol/L (0.3 ng/mL)", "%", None, 2, "CIT-07 entry criterion"),
    Range("severe hypoglycaemic events in the past year, median", "events", 1, None,
          "CIT-07 entry: at least one in the past 12 months"),
)


def eligible_profile(screening: Screening, eligible: np.ndarray) -> dict[str, float]:
    """Age, duration, C-peptide and severe hypoglycaemia of the eligible subjects (boolean mask).

    Percentages of C-peptide are among the eligible whose fasting C-peptide is known. Severe hypoglycaemic
    events are those in the 365 days before the index date.
    """
    f = widened(screening.features[np.asarray(eligible, dtype=bool)])  # numbers as float64, for the means
    cpeptide = f["fasting_cpeptide"].dropna()
    events = screening.events
    recent = events[(events["event"] == "severe_hypoglycemia") & (events["days_before_index"] < 365)]
    counts = recent.groupby("subject_id", observed=True).size().reindex(f.index, fill_value=0)
    unaware = f["hypoglycemia_unawareness"].dropna().astype(bool)
    return {
        "eligible": float(len(f)),
        "mean age": float(f["age"].mean()),
        "median diabetes duration": float(f["diabetes_duration"].median()),
        "fasting C-peptide detectable (>= 0.017 nmol/L)": 100.0 * float((cpeptide >= DETECTABLE_CPEPTIDE).mean()),
        "fasting C-peptide >= 0.1 nmol/L (0.3 ng/mL)": 100.0 * float((cpeptide >= ABSENT_CPEPTIDE).mean()),
        "severe hypoglycaemic events in the past year, median": float(counts.median()),
        "severe hypoglycaemic events in the past year, mean": float(counts.mean()),
        "impaired awareness of hypoglycaemia": 100.0 * float(unaware.mean()),
    }


# CIT-07's adult and duration limits (18-65 years, T1D > 5 years), set through NCT06196996's own parameters
# so that the pool can be compared like for like with the recipients CIT-07 enrolled.
CIT07_LIMITS = (("I1", "age_min", 18.0), ("I5", "duration_min", 5.0))


def islet_trial(cit07_limits: bool = False):
    """NCT06196996 as bundled, or with CIT-07's age and duration limits (`CIT07_LIMITS`)."""
    trial = load_trial(ISLET_TRIAL)
    if cit07_limits:
        for criterion, name, value in CIT07_LIMITS:
            trial = trial.with_parameter(criterion, name, value)
    return trial


def islet_eligible(n: int = 100_000, seed: int = 0, params=None, *,
                   cit07_limits: bool = False) -> tuple[Screening, np.ndarray]:
    """A synthetic type 1 clinic of n screened with NCT06196996 and the mask of who is eligible."""
    screening = generate_screening("t1d", n, seed=seed, params=params, missing_reasons=False)
    matrix = engine.evaluate(islet_trial(cit07_limits), screening)
    return screening, np.asarray(engine.eligible_mask(matrix), dtype=bool)


def comparison(profile: dict[str, float]) -> pd.DataFrame:
    """One row per published range: measure, unit, published range, synthetic value, within, source."""
    return pd.DataFrame([{"measure": r.measure, "unit": r.unit, "published": r.text(),
                          "synthetic": round(profile[r.measure], 1), "within": r.holds(profile[r.measure]),
                          "source": r.source} for r in PUBLISHED_RANGES])
