"""Representativeness: GIST shares computed by hand on a small cohort, SMDs against the data themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.analysis.representativeness import quantitative_criteria, representativeness
from explorer.cohort.screening import Screening
from explorer.engine import evaluate, final_counts
from explorer.trial import trial_from_yaml

TRIAL = """
format: trial-explorer/1
id: GIST1
title: Two quantitative traits and one that is not
criteria:
- id: AGE
  kind: inclusion
  text: Aged 18 to 75
  expression: age_min <= age <= age_max
  parameters:
    age_min: {value: 18, unit: years, min: 0, max: 100}
    age_max: {value: 75, unit: years, min: 0, max: 120}
- id: A1C
  kind: inclusion
  text: HbA1c at least 7 %
  expression: hba1c >= hba1c_min
  parameters:
    hba1c_min: {value: 7, unit: "%", min: 5, max: 12}
- id: INF
  kind: exclusion
  text: Active infection
  expression: active_infection
"""

#             age   hba1c  infection   AGE      A1C
ROWS = [(10, 8.0, False),   # fail     pass
        (20, 6.5, False),   # pass     fail
        (30, 7.5, True),    # pass     pass
        (40, 9.0, False),   # pass     pass
        (50, None, False),  # pass     unknown
        (60, 7.0, False),   # pass     pass
        (80, 8.0, False),   # fail     pass
        (None, 7.2, False),  # unknown  pass
        (35, 5.9, None),    # pass     fail
        (45, 7.1, False)]   # pass     pass


def _cohort():
    features = pd.DataFrame({
        "age": [np.nan if r[0] is None else float(r[0]) for r in ROWS],
        "hba1c": [np.nan if r[1] is None else float(r[1]) for r in ROWS],
        "active_infection": pd.array([r[2] for r in ROWS], dtype="boolean"),
    }, index=pd.Index([f"S{i}" for i in range(len(ROWS))], name="subject_id"))
    screening = Screening(features)
    trial = trial_from_yaml(TRIAL)
    return trial, screening, evaluate(trial, screening)


def test_gist_shares_equal_the_hand_count():
    _, screening, matrix = _cohort()
    assert quantitative_criteria(matrix) == ["AGE", "A1C"]  # INF has no threshold: not a GIST trait
    result = representativeness(matrix, screening, variables=["age", "hba1c"])
    traits = result.traits.set_index("criterion")
    assert traits.loc["AGE", "known"] == 9 and traits.loc["AGE", "meeting"] == 7
    assert traits.loc["AGE", "sgist"] == pytest.approx(7 / 9)
    assert traits.loc["A1C", "sgist"] == pytest.approx(7 / 9)
    # known on both traits: rows 0,1,2,3,5,6,8,9 (8 subjects); meeting both: 2,3,5,9
    assert result.complete == 8 and result.mgist == pytest.approx(4 / 8)
    # bounds over all 10: unknown as failing -> 4; unknown as meeting -> also rows 4 and 7 -> 6
    assert result.mgist_low == pytest.approx(0.4) and result.mgist_high == pytest.approx(0.6)
    assert result.mgist_low <= result.mgist <= result.mgist_high


def test_smd_compares_the_eligible_with_the_screened():
    trial, screening, matrix = _cohort()
    result = representativeness(matrix, screening, variables=["age", "hba1c"])
    eligible = final_counts(matrix)["eligible"]
    assert eligible == 3  # rows 3, 5, 9 (row 2 has an infection)
    age = result.smd.set_index("variable").loc["age"]
    everyone, chosen = screening.features["age"], screening.features["age"].iloc[[3, 5, 9]]
    expected = (chosen.mean() - everyone.mean()) / np.sqrt((chosen.std() ** 2 + everyone.std() ** 2) / 2)
    assert age["smd"] == pytest.approx(expected)
    assert bool(age["differs"]) == (abs(expected) >= 0.1)


def test_switching_off_a_trait_removes_it_from_the_score():
    _, screening, matrix = _cohort()
    result = representativeness(matrix, screening, enabled=["A1C", "INF"], variables=["age"])
    assert list(result.traits["criterion"]) == ["A1C"]
    assert result.mgist == pytest.approx(7 / 9)
