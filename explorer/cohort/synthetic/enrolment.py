"""From screening to enrolled subjects with outcomes: who is enrolled, and their simulated outcomes.

The explorer's default data are synthetic, so "what happens to the eligible" needs a treatment-response
model (explorer.cohort.synthetic.response_models), chosen from the trial file by
explorer.cohort.synthetic.trial_match.outcome_model_for.

Allocation: a trial with two or more arms is simulated 1:1 randomised (`arm="random"`), a single-arm trial
treats everyone. Enrolment takes the eligible subjects in screening order (a synthetic screening is a
random sample, so the first k are one too), up to `max_enrolled`. Screening a synthetic clinic with a
trial's criteria needs the engine, a floor above: explorer.simulation.screening.screen_synthetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.response_models import MODELS
from explorer.cohort.synthetic.trial_match import outcome_model_for
from explorer.cohort.tables import Cohort
from explorer.errors import DataError

MODEL_CHOICES = tuple(MODELS)
DEFAULT_MAX_ENROLLED = 2_000


def allocation_for(trial) -> str | None:
    """"random" (1:1) for a trial with two or more arms, None (everyone treated) for a single-arm trial."""
    return "random" if len(trial.arms) >= 2 else None


def enrol(eligible_ids: Sequence[str] | pd.Index, max_enrolled: int | None = DEFAULT_MAX_ENROLLED) -> pd.Index:
    """The enrolled: the eligible in screening order, at most `max_enrolled` (None = all)."""
    ids = pd.Index(eligible_ids, dtype="string", name="subject_id")
    if max_enrolled is not None:
        if max_enrolled < 1:
            raise DataError(f"the enrolment cap must be at least 1, got {max_enrolled}")
        ids = ids[:max_enrolled]
    return ids


def screening_subset(screening: Screening, ids: Sequence[str] | pd.Index) -> Screening:
    """The screening rows of these subjects (features, events, look-back, counts), in the order of `ids`."""
    ids = pd.Index(ids, dtype=screening.features.index.dtype, name="subject_id")
    missing = ids.difference(screening.features.index)
    if len(missing):
        raise DataError(f"{len(missing)} subject ids are not in the screening (e.g. {list(missing[:3])})",
                        column="subject_id")

    def rows(frame):
        return None if frame is None else frame.reindex(ids)

    events = screening.events[screening.events["subject_id"].isin(ids).to_numpy(dtype=bool, na_value=False)]
    reasons = screening.missing_reasons
    if reasons is not None:
        reasons = reasons[reasons["subject_id"].isin(ids).to_numpy(dtype=bool, na_value=False)]
    censored = screening.censored  # the intervals of censored values go with their subjects (the engines read them)
    if censored is not None:
        censored = censored[censored["subject_id"].isin(ids).to_numpy(dtype=bool, na_value=False)]
    return Screening(features=screening.features.loc[ids], events=events, event_lookback=rows(screening.event_lookback),
                     event_counts=rows(screening.event_counts), missing_reasons=reasons, censored=censored,
                     source=screening.source)


def cohort_subset(cohort: Cohort, ids: Sequence[str] | pd.Index) -> Cohort:
    """The canonical tables of these subjects only."""
    wanted = pd.Index(ids, dtype="string")

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        if frame is None or "subject_id" not in frame.columns:
            return frame
        return frame[frame["subject_id"].astype("string").isin(wanted).to_numpy(dtype=bool, na_value=False)]

    return Cohort(subjects=rows(cohort.subjects), measurements=rows(cohort.measurements), events=rows(cohort.events),
                  cgm=rows(cohort.cgm), source=cohort.source, event_history=rows(cohort.event_history),
                  event_counts=rows(cohort.event_counts))


def has_visit_data(cohort: Cohort | None) -> bool:
    """Whether a loaded cohort carries trial visits (measurements tagged with a `visit`)."""
    if cohort is None or "visit" not in cohort.measurements.columns:
        return False
    return bool(cohort.measurements["visit"].notna().any())


def simulate_outcomes(trial, screening: Screening, ids: Sequence[str] | pd.Index, *, model: str | None = None,
                      arm: str | None | bool = False, seed: int = 0, cgm_readings: int = 20) -> Cohort:
    """Visit-tagged outcomes of these screened subjects under the trial's response model, on its visits.

    `model` defaults to outcome_model_for(trial); `arm=False` means allocation_for(trial), otherwise it is
    passed to generate_outcomes (None = everyone treated, "random" = 1:1).
    """
    from explorer.cohort.synthetic import generate_outcomes

    subset = screening_subset(screening, ids)
    return generate_outcomes(subset, model or outcome_model_for(trial), visits_days=trial.visits, seed=seed,
                             arm=allocation_for(trial) if arm is False else arm, cgm_readings=cgm_readings)
