"""Threshold curves over a censored variable equal the funnel at every cut-off with the DuckDB and Spark engines
too (docs/data.md, "Censored values are intervals"): the synthetic T1D clinic's C-peptide below 0.017 nmol/L is an
interval, and cut-offs inside it leave those subjects unknown in the engine that evaluates the matrix."""

from __future__ import annotations

import pytest

from explorer.analysis import threshold_sensitivity
from explorer.cohort.synthetic import generate_screening
from explorer.engine import evaluate, final_counts
from explorer.trial import trial_from_yaml

TRIAL = """
format: trial-explorer/1
id: CPEP1
title: Residual C-peptide, with cut-offs inside the assay's limit
criteria:
- id: A
  kind: inclusion
  text: Fasting C-peptide at or above a cut-off
  expression: fasting_cpeptide >= cpeptide_min
  parameters:
    cpeptide_min: {value: 0.01, unit: nmol/L, min: 0, max: 0.1, step: 0.004}
- id: B
  kind: exclusion
  text: Stimulated C-peptide below a cut-off
  expression: postmeal_cpeptide < stimulated_min
  unknown: pass
  parameters:
    stimulated_min: {value: 0.005, unit: nmol/L, min: 0, max: 0.05, step: 0.003}
- id: C
  kind: inclusion
  text: HbA1c
  expression: hba1c >= 7
"""
CUTOFFS = {"cpeptide_min": [0.0, 0.004, 0.01, 0.016, 0.017, 0.02, 0.1],
           "stimulated_min": [0.0, 0.005, 0.0085, 0.017, 0.05]}


def check(matrix, screening) -> int:
    checked = 0
    for criterion, parameter in (("A", "cpeptide_min"), ("B", "stimulated_min")):
        for enabled in (["A", "B", "C"], [criterion, "C"]):
            result = threshold_sensitivity(matrix, screening, criterion, parameter, enabled=enabled,
                                           grid=CUTOFFS[parameter], bins=0)
            assert result.method == "exact re-evaluation"
            for value in CUTOFFS[parameter]:
                expected = final_counts(matrix.with_parameter(None, criterion, parameter, value), enabled=enabled)
                got = result.at(value)
                assert got == {k: expected[k] for k in got}, (matrix.backend, criterion, value)
                checked += 1
    return checked


@pytest.fixture(scope="module")
def screening():
    screening = generate_screening("t1d", 600, seed=4)
    assert screening.censored is not None and len(screening.censored) > 100
    return screening


def test_duckdb_curves_equal_the_funnel(screening):
    matrix = evaluate(trial_from_yaml(TRIAL), screening, engine="duckdb")
    assert final_counts(matrix) == final_counts(evaluate(trial_from_yaml(TRIAL), screening))
    assert check(matrix, screening) == 24


def test_spark_curves_equal_the_funnel(spark, screening):
    assert check(evaluate(trial_from_yaml(TRIAL), screening, engine="spark", spark=spark), screening) == 24
