"""A synthetic clinic screened with a trial's criteria: the screening and the ids of the eligible.

It stands here, above explorer.engine and explorer.cohort.synthetic, because it needs both: the generator
draws the trial's population and the engine evaluates its criteria.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import engine
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic import generate_screening
from explorer.cohort.synthetic.trial_match import population_for
from explorer.errors import DataError


def screen_synthetic(trial, n: int, *, seed: int = 0, population: str | None = None) -> tuple[Screening, pd.Index]:
    """A synthetic screening of n subjects of the trial's population and the ids of the eligible."""
    if n < 1:
        raise DataError(f"the synthetic screening needs at least one subject, got {n}")
    screening = generate_screening(population or population_for(trial), int(n), seed=seed)
    matrix = engine.evaluate(trial, screening)
    mask = engine.eligible_mask(matrix)
    return screening, matrix.subject_ids[np.asarray(mask, dtype=bool)]
