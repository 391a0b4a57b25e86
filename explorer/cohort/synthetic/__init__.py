"""Synthetic cohorts: the explorer's built-in default data.

Screening populations (a type 1 and a type 2 diabetes clinic of a Chinese tertiary centre, the setting of
both seed trials) and longitudinal outcomes of enrolled subjects under calibrated treatment-response
models. Every parameter cites its source (`parameter_table`); docs/synthetic.md has the model, the
calibration against published trials and the comparison with real cohorts.

    generate_screening("t1d", 1_000_000, seed=0)            -> Screening  (fast path, wide features)
    generate_cohort("t2d", 10_000, seed=0)                   -> Cohort     (canonical long tables)
    write_cohort(cohort, "out/", format="parquet")
    generate_outcomes(screening, "islet", seed=0)            -> Cohort     (visit-tagged outcomes)
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
