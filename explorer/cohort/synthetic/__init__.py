"""Synthetic cohorts: the explorer's built-in default data.

Screening populations (a type 1 and a type 2 diabetes clinic of a Chinese tertiary centre, the setting of
both seed trials) and longitudinal outcomes of enrolled subjects under calibrated treatment-response
models. Every parameter cites its source (`parameter_table`); docs/synthetic.md has the model, the
calibration against published trials and the comparison with real cohorts.

    generate_screening("t1d", 1_000_000, seed=0)            -> Screening  (fast path, wide features)
    generate_cohort("t2d", 10_000, seed=0)                   -> Cohort     (canonical long tables)
    write_cohort(cohort, "out/", format="parquet")
    generate_outcomes(screening, "islet", seed=0)            -> Cohort     (visit-tagged outcomes)

What lives here:
    params.py            every population parameter with its source
    streams.py           named, seeded random streams (one per variable and chunk)
    distributions.py     probability helpers: logits, truncated/correlated normals, lognormal and Gamma draws
    record.py            `Draw`: what a clinic's records show for one chunk of subjects, with why a value is unknown
    shared_variables.py  variables both clinics draw the same way (dates, body size, glucose, labs, history, events)
    t1d.py, t2d.py       the two clinic populations' structural models
    chunks.py            draws a population chunk by chunk; subject ids
    screening_table.py   the fast path: chunks -> Screening
    canonical_tables.py  chunks -> Cohort (canonical long tables); write_cohort
    cgm.py               CGM summaries from a mean and CV, and 5-minute readings
    islet_cgm.py         islet recipients' glucose: brittle hypoglycaemic dips that a working graft removes
    response_models.py   treatment-response models (islet, MSC) for enrolled subjects
    outcomes.py          generate_outcomes: visit-tagged outcome tables from a response model
    trial_match.py       which population and response model suit a trial (read from its text)
    enrolment.py         enrol the eligible, simulate their outcomes under the trial's model
    calibration.py       response models against published figures, on raw trajectories

Whatever also needs the engine or the outcome measures (screening with a trial's criteria, published
figures through the measures pipeline, the islet-eligible pool) stands a floor above, in explorer.simulation.
"""

from explorer.cohort.synthetic.calibration import calibration_table
from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort
from explorer.cohort.synthetic.outcomes import generate_outcomes
from explorer.cohort.synthetic.params import (
                                              Condition,
                                              Conditions,
                                              LabRanges,
                                              PopulationParams,
                                              T1DClinicParams,
                                              T2DClinicParams,
                                              default_params,
                                              fully_recorded,
                                              parameter_table,
                                              with_overrides,
)
from explorer.cohort.synthetic.response_models import GraftClass, IsletModel, MscModel
from explorer.cohort.synthetic.screening_table import generate_screening

__all__ = [
    "generate_screening", "generate_cohort", "write_cohort", "generate_outcomes", "calibration_table",
    "T1DClinicParams", "T2DClinicParams", "PopulationParams", "Condition", "Conditions", "LabRanges",
    "default_params", "with_overrides", "fully_recorded", "parameter_table", "IsletModel", "MscModel", "GraftClass",
]
