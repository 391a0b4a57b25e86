"""Age in completed years, as registry age limits mean it ("aged 18-65": 65 years and 6 months is 65).

The one rule for the screening feature `age`, whether derived from dates (explorer.cohort.features) or
drawn by the synthetic generator.
"""

from __future__ import annotations

import numpy as np


def completed_years(birth, at) -> np.ndarray:
    """Whole years from birth to `at` by the calendar (float array): one more on each birthday.

    Both are datetime64 arrays (any resolution). Someone born on 2000-05-10 is 24 from 2024-05-10 and
    still 23 on 2024-05-09; someone born on 29 February has their birthday on 1 March in common years.
    """
    birth = np.asarray(birth).astype("datetime64[D]")
    at = np.asarray(at).astype("datetime64[D]")
    years = at.astype("datetime64[Y]").astype(np.int64) - birth.astype("datetime64[Y]").astype(np.int64)
    # compare (month, day): days into the year would shift by a leap day
    b_month = birth.astype("datetime64[M]").astype(np.int64) % 12
    a_month = at.astype("datetime64[M]").astype(np.int64) % 12
    b_day = (birth - birth.astype("datetime64[M]")).astype(np.int64)
    a_day = (at - at.astype("datetime64[M]")).astype(np.int64)
    before_birthday = (a_month < b_month) | ((a_month == b_month) & (a_day < b_day))
    return (years - before_birthday).astype("float64")
