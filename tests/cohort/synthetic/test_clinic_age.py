"""The type 1 clinic's age structure (issue 13): current age first, onset drawn from age-specific incidence up
to that age, so duration grows with age; the inverse of the cumulative incidence is exact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from explorer.cohort.compact import widened
from explorer.cohort.synthetic import default_params, generate_screening
from explorer.cohort.synthetic.t1d import onset_given_age

BANDS = ((5.0, 1.2), (10.0, 1.9), (15.0, 2.7), (30.0, 1.28), (200.0, 0.69))


def wide_screening(*args, **kwargs):
    """generate_screening with its compact number columns read back as float64 (explorer.cohort.compact),
    so these checks can do pandas arithmetic on them; the values are the generator's, bit for bit."""
    screening = generate_screening(*args, **kwargs)
    return replace(screening, features=widened(screening.features))


def test_onset_follows_incidence_up_to_the_current_age():
    u = (np.arange(200_000) + 0.5) / 200_000
    age = np.full(u.size, 45.0)
    onset = onset_given_age(BANDS, age, u)
    assert onset.min() >= 0.5 and onset.max() <= 45
    # mass below 15 y: 4.5 x 1.2 + 5 x 1.9 + 5 x 2.7 = 28.4; up to 45 y: + 15 x 1.28 + 15 x 0.69 = 57.95
    assert (onset < 15).mean() == pytest.approx(28.4 / 57.95, abs=1e-4)
    assert (onset < 30).mean() == pytest.approx((28.4 + 19.2) / 57.95, abs=1e-4)


def test_a_child_cannot_have_diabetes_longer_than_their_life():
    age = np.array([0.6, 3.0, 10.0])
    onset = onset_given_age(BANDS, age, np.array([0.999, 0.999, 0.0]))
    assert np.all(onset <= age) and onset[2] == 0.5


def test_the_clinic_is_an_adult_one_whose_duration_grows_with_age():
    assert default_params("t1d").incidence_by_age == BANDS
    f = wide_screening("t1d", 20_000, seed=4, missing_reasons=False).features
    adults = f[f["age"] >= 18]
    assert len(adults) / len(f) == pytest.approx(0.97, abs=0.01)
    by_decade = adults.groupby((adults["age"] // 10).clip(upper=7))["diabetes_duration"].median()
    assert by_decade.is_monotonic_increasing and by_decade.iloc[-1] > by_decade.iloc[0] + 20
    assert 24 < adults["diabetes_duration"].median() < 32  # ~27 y: an adult clinic with childhood-onset disease
