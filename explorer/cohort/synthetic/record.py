"""The record of one drawn chunk of a screening population: what a clinic's records would show.

A `Draw` holds, at each subject's index (screening) date, values as a lab reports them (rounded, censored at
detection limits), NaN/unknown where nothing was recorded, with the reason; dated events; the lab that
measured each liver test; and when each measurement was taken. Both the fast path (`generate_screening`) and
the canonical tables (`generate_cohort`) are built from it, which is what keeps them consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.catalogue import default_catalogue
from explorer.clinical.cgm import MIN_ACTIVE_PERCENT
from explorer.cohort.synthetic.distributions import round_to

# why a value is unknown (Screening.missing_reasons)
NOT_MEASURED = "not measured in the look-back window"
NO_CGM = "no CGM data in the 14 days before the index date"
CGM_INSUFFICIENT = (f"CGM insufficient: fewer than {MIN_ACTIVE_PERCENT:g}% of possible readings in the 14 days "
                    "before the index date")
NOT_TESTED = "not tested"
NOT_RECORDED = "not recorded"
NOT_APPLICABLE = "not applicable"
NO_ITT = "insulin tolerance test not done"
INPUT_MISSING = "derived from a value that is unknown"


@dataclass
class Events:
    subject: np.ndarray        # position of the subject in the draw (int64)
    days_before: np.ndarray    # float, >= 0
    severity: np.ndarray | None = None  # Int64 values or None (all NA)


@dataclass
class Draw:
    n: int
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    booleans: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # values, known
    categories: dict[str, np.ndarray] = field(default_factory=dict)  # int8 codes into category_labels, -1 unknown
    reasons: dict[str, str] = field(default_factory=dict)
    reason_overrides: dict[str, list[tuple[np.ndarray, str]]] = field(default_factory=dict)  # other reasons, by mask
    index_day: np.ndarray | None = None        # days since 1970-01-01
    birth_days_before: np.ndarray | None = None
    diagnosis_days_before: np.ndarray | None = None
    measured_days_before: dict[str, np.ndarray] = field(default_factory=dict)  # variable -> days before index
    lab: np.ndarray | None = None               # index into params.labs
    ref_ranges: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # variable -> (low, high)
    events: dict[str, Events] = field(default_factory=dict)
    lookback: dict[str, np.ndarray] = field(default_factory=dict)
    latent: dict[str, np.ndarray] = field(default_factory=dict)  # model truths used by outcomes and tests
    # variable -> (positions reported as "<limit", the limit): what a lab gives below its assay's limit; the
    # number keeps the point L / 2 for displays and outcomes, the screening the interval (Screening.censored)
    below_limit: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)

    def set_number(self, name: str, values: np.ndarray, known: np.ndarray | None = None, reason: str = NOT_MEASURED,
                   *, decimals: int | None = None, detection_limit: float | None = None) -> None:
        """`detection_limit`: a value below it is reported as "<limit" (kept as its point, L / 2, and as censored)."""
        values = np.asarray(values, dtype=float)
        if decimals is not None:
            values = round_to(values, decimals)
        if known is not None:
            values = np.where(known, values, np.nan)
            self.reasons[name] = reason
        if detection_limit is not None:
            below = values < detection_limit  # NaN (unknown) compares False
            self.below_limit[name] = (np.flatnonzero(below), float(detection_limit))
            values = np.where(below, detection_limit / 2, values)
        self.numbers[name] = values

    def set_boolean(self, name: str, values: np.ndarray, known: np.ndarray | None = None,
                    reason: str = NOT_RECORDED) -> None:
        values = np.asarray(values, dtype=bool)
        known = np.ones(self.n, bool) if known is None else np.asarray(known, dtype=bool)
        self.booleans[name] = (values & known, known)
        self.reasons[name] = reason


def category_labels(variable: str) -> tuple[str, ...]:
    """The catalogue's categories of a category variable; Draw.categories hold codes into them."""
    return default_catalogue()[variable].categories
