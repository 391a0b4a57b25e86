"""Hostile threshold definitions: infinite or overflowing ranges, and a control step too fine for its range.

Before: a parameter with max: .inf (YAML) or a range of +-1e308 was accepted, and its sensitivity curve stopped
with a raw "cannot convert float NaN to integer"; a step of 5e-324 with "cannot convert float infinity"; and a
step finer than 2,001 points covered only the start of the range.
"""

from __future__ import annotations

import numpy as np
import pytest
from random_cohort import random_screening

from explorer.analysis.sensitivity import MAX_GRID_POINTS, threshold_sensitivity
from explorer.engine import evaluate
from explorer.errors import DefinitionError
from explorer.trial import load_trial, trial_from_dict


def _trial(parameter: dict):
    return trial_from_dict({"id": "H", "title": "h", "criteria": [
        {"id": "C1", "kind": "inclusion", "text": "r", "expression": "hba1c > t", "parameters": {"t": parameter}}]})


@pytest.mark.parametrize("low, high", [(0, ".inf"), ("-.inf", 20), ("-1.0e308", "1.0e308"), (0, ".nan")])
def test_a_range_that_is_not_finite_is_refused_naming_the_file_and_parameter(tmp_path, low, high):
    path = tmp_path / "trial.yaml"
    path.write_text("id: X1\ntitle: t\ncriteria:\n  - id: I1\n    kind: inclusion\n    text: t\n"
                    "    expression: hba1c > t\n"
                    f"    parameters:\n      t: {{value: 7, min: {low}, max: {high}, unit: '%'}}\n")
    with pytest.raises(DefinitionError, match=rf"file {path}, criterion I1, field 'criteria\.0\.parameters\.t': "):
        load_trial(path)


def test_a_step_too_fine_for_its_range_gives_a_bounded_curve_over_the_whole_range():
    screening = random_screening(300, 2)
    for step in (5e-324, 1e-6):
        trial = _trial({"value": 7, "min": 3, "max": 20, "step": step, "unit": "%"})
        curve = threshold_sensitivity(evaluate(trial, screening), screening, "C1", "t").curve
        values = curve["value"].to_numpy()
        assert len(values) <= MAX_GRID_POINTS + 2
        assert np.diff(values).max() < 0.01 * (20 - 3), step  # no gap: the whole range is covered
