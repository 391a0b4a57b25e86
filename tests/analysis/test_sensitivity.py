"""Threshold sensitivity checked against brute force: re-evaluating the criterion with the engine at each cut-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.analysis import threshold_sensitivity
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic import generate_screening
from explorer.engine import evaluate, final_counts
from explorer.errors import DefinitionError
from explorer.trial import load_trial, trial_from_yaml

RNG_SEED = 17


def _brute(matrix, criterion, parameter, value, enabled, policies):
    edited = matrix.with_parameter(None, criterion, parameter, value)
    return final_counts(edited, enabled=enabled, policies=policies)


def _cutoffs(rng, param, values: np.ndarray, k: int) -> list[float]:
    """Random cut-offs in the allowed range, half of them equal to data values (ties are where bugs hide)."""
    known = values[~np.isnan(values)]
    known = known[(known >= param.min) & (known <= param.max)]
    drawn = list(rng.uniform(param.min, param.max, k))
    if len(known):
        drawn += list(rng.choice(known, k))
    return sorted({round(float(v), 6) for v in drawn} | {param.min, param.max})


def _check(matrix, screening, trial, rng, rounds: int = 2):
    ids = [c.id for c in trial.criteria]
    checked = 0
    for criterion in trial.criteria:
        for name, param in criterion.parameters.items():
            for _ in range(rounds):
                enabled = [c for c in ids if rng.random() > 0.2]
                policies = {c: str(rng.choice(["unknown", "pass", "fail"])) for c in ids if rng.random() < 0.3}
                values = pd.to_numeric(screening.features.get(name, pd.Series(dtype=float)), errors="coerce")
                variable_values = np.asarray(values, dtype=float)
                result = threshold_sensitivity(matrix, screening, criterion.id, name, enabled=enabled + [criterion.id],
                                               policies=policies, grid=_cutoffs(rng, param, variable_values, 4))
                for value in result.curve["value"]:
                    expected = _brute(matrix, criterion.id, name, value, enabled + [criterion.id], policies)
                    got = result.at(value)
                    assert got == {k: expected[k] for k in got}, (criterion.id, name, value, result.method)
                    checked += 1
    return checked


@pytest.mark.parametrize("trial_id, population", [("NCT06196996", "t1d"), ("NCT01142050", "t2d")])
def test_curve_equals_engine_re_evaluation_at_random_cutoffs(trial_id, population):
    trial = load_trial(trial_id)
    screening = generate_screening(population, 1500, seed=3)
    matrix = evaluate(trial, screening)
    assert _check(matrix, screening, trial, np.random.default_rng(RNG_SEED)) > 50


TOY = """
format: trial-explorer/1
id: TOY1
title: Rules that use a parameter in several ways
criteria:
- id: A
  kind: inclusion
  text: HbA1c high or TIR low
  expression: hba1c >= hba1c_min or tir < tir_max
  parameters:
    hba1c_min: {value: 7.5, unit: "%", min: 5, max: 12, step: 0.1}
    tir_max: {value: 70, unit: "%", min: 10, max: 100, step: 1}
- id: B
  kind: inclusion
  text: BMI in a band
  expression: bmi_min <= bmi <= bmi_max
  parameters:
    bmi_min: {value: 19, unit: kg/m2, min: 12, max: 40, step: 0.5}
    bmi_max: {value: 30, unit: kg/m2, min: 18, max: 60, step: 0.5}
- id: C
  kind: exclusion
  text: Kidney disease, or an age outside the band, written with the parameter on the left
  expression: not (age_min <= age) or egfr < egfr_min
  parameters:
    age_min: {value: 18, unit: years, min: 0, max: 100, step: 1}
    egfr_min: {value: 60, unit: mL/min/1.73m2, min: 15, max: 90, step: 5}
- id: D
  kind: exclusion
  text: Uric acid at or above a multiple of a limit (the parameter used in arithmetic)
  expression: uric_acid >= 10 * uric_tenth
  parameters:
    uric_tenth: {value: 54, unit: umol/L, min: 36, max: 90, step: 1}
- id: E
  kind: inclusion
  text: Age exactly a value or not (equality)
  expression: age != age_skip
  unknown: pass
  parameters:
    age_skip: {value: 40, unit: years, min: 0, max: 100, step: 1}
"""


def _toy_screening(n: int = 400, seed: int = 5) -> Screening:
    rng = np.random.default_rng(seed)

    def maybe_missing(values, share):
        values = values.astype(float)
        values[rng.random(n) < share] = np.nan
        return values

    features = pd.DataFrame({
        "hba1c": maybe_missing(np.round(rng.normal(7.5, 1.2, n), 1), 0.2),
        "tir": maybe_missing(np.round(rng.uniform(20, 95, n)), 0.3),
        "bmi": maybe_missing(np.round(rng.normal(27, 5, n) * 2) / 2, 0.1),
        "age": maybe_missing(rng.integers(10, 80, n), 0.05),
        "egfr": maybe_missing(np.round(rng.normal(75, 20, n), -1), 0.2),
        "uric_acid": maybe_missing(np.round(rng.normal(400, 90, n), -1), 0.2),
    }, index=pd.Index([f"S{i}" for i in range(n)], name="subject_id"))
    return Screening(features)


def test_curve_equals_brute_force_for_or_chains_left_side_arithmetic_and_equality():
    trial = trial_from_yaml(TOY)
    screening = _toy_screening()
    matrix = evaluate(trial, screening)
    rng = np.random.default_rng(RNG_SEED)
    assert _check(matrix, screening, trial, rng, rounds=4) > 100
    methods = {(c.id, p): threshold_sensitivity(matrix, screening, c.id, p).method
               for c in trial.criteria for p in c.parameters}
    assert methods[("A", "hba1c_min")] == methods[("B", "bmi_max")] == methods[("C", "age_min")] == "single comparison"
    assert methods[("D", "uric_tenth")] == "exact re-evaluation"


def test_histogram_describes_the_pool_with_the_criterion_set_aside():
    trial = trial_from_yaml(TOY)
    screening = _toy_screening()
    matrix = evaluate(trial, screening)
    result = threshold_sensitivity(matrix, screening, "A", "hba1c_min", bins=10)
    others = final_counts(matrix, enabled=["B", "C", "D", "E"])
    assert result.pool == others["remaining"] and result.eligible_so_far == others["eligible"]
    hba1c = screening.features["hba1c"].to_numpy()
    pool_values = hba1c[(matrix.column("B") != 0) & (matrix.column("C") != 0) & (matrix.column("D") != 0)
                        & (matrix.column("E") != 0)]
    # E has unknown policy "pass": unknown (2) never fails, and only FAIL (0) leaves the pool
    assert result.unknown == int(np.isnan(pool_values).sum())
    assert result.histogram["pool"].sum() + result.below + result.above + result.unknown == result.pool
    assert result.histogram["left"].iloc[0] == 5 and result.histogram["right"].iloc[-1] == 12
    assert 0 < result.unknown_share < 1


def test_curve_is_monotone_for_a_minimum_and_marks_the_current_value():
    trial = load_trial("NCT01142050")
    screening = generate_screening("t2d", 2000, seed=1)
    matrix = evaluate(trial, screening)
    result = threshold_sensitivity(matrix, screening, "I5", "hba1c_min")
    assert result.method == "single comparison" and result.variable == "hba1c"
    assert (np.diff(result.curve["eligible"]) <= 0).all()  # a higher minimum never admits more people
    assert result.at(result.current) == {k: v for k, v in final_counts(matrix).items()
                                         if k in ("eligible", "possibly_eligible", "remaining")}


def test_bad_requests_name_the_criterion_and_parameter():
    trial = load_trial("NCT01142050")
    screening = generate_screening("t2d", 200, seed=1)
    matrix = evaluate(trial, screening)
    with pytest.raises(DefinitionError, match="no parameter 'nope'"):
        threshold_sensitivity(matrix, screening, "I5", "nope")
    with pytest.raises(DefinitionError, match="no criterion 'I99'"):
        threshold_sensitivity(matrix, screening, "I99", "hba1c_min")
    with pytest.raises(DefinitionError, match="outside the allowed range"):
        threshold_sensitivity(matrix, screening, "I5", "hba1c_min", grid=[20.0])
    with pytest.raises(DefinitionError, match="read_screening"):
        threshold_sensitivity(matrix, "cohort_folder/", "I5", "hba1c_min")
    with pytest.raises(DefinitionError, match="different number of subjects"):
        threshold_sensitivity(matrix, generate_screening("t2d", 100, seed=1), "I5", "hba1c_min")


def test_the_duckdb_engine_gives_the_same_curves(tmp_path):
    from explorer.engine import read_screening, write_screening

    trial = load_trial("NCT06196996")
    screening = generate_screening("t1d", 1500, seed=2)
    write_screening(screening, tmp_path)
    on_disk = evaluate(trial, tmp_path, engine="duckdb")
    in_memory = evaluate(trial, screening)
    read_back = read_screening(tmp_path, catalogue=trial.catalogue)
    for criterion, parameter in [("I2", "hba1c_min"), ("I5", "she_year_min"), ("E4", "uln_multiple")]:
        duck = threshold_sensitivity(on_disk, read_back, criterion, parameter)
        memory = threshold_sensitivity(in_memory, screening, criterion, parameter)
        pd.testing.assert_frame_equal(duck.curve, memory.curve)


@pytest.mark.shared
def test_curves_on_a_real_cohort_equal_brute_force(shared_data):
    from explorer.cohort.features import screening_features
    from explorer.cohort.loaders import load

    folder = shared_data / "subjects" / "shanghai_summary"
    if not folder.is_dir():
        pytest.skip("shanghai_summary is not in ../shared/data")
    screening = screening_features(load(folder, on_invalid="reject").cohort)
    trial = load_trial("NCT01142050")
    matrix = evaluate(trial, screening)
    # real missingness (HbA1c in mmol/mol converted, '/' as missing): every curve point against the engine
    for criterion, parameter in [("I5", "hba1c_min"), ("I5", "fpg_min"), ("I4", "bmi_max"), ("E1", "egfr_min")]:
        result = threshold_sensitivity(matrix, screening, criterion, parameter)
        for value in result.curve["value"].iloc[::5]:
            expected = _brute(matrix, criterion, parameter, value, None, None)
            assert result.at(value) == {k: expected[k] for k in ("eligible", "possibly_eligible", "remaining")}


@pytest.mark.parametrize("ids_as", ["categorical", "text"])
def test_curves_over_censored_values_equal_the_engine_which_decides_them_on_intervals(ids_as):
    # "<L" values lie in [0, L): a cut-off inside that interval leaves the subject unknown in the engine; the
    # curve's one-place-per-subject shortcut read the half limit and disagreed (failed before)
    trial = trial_from_yaml(TOY)
    screening = _toy_screening()
    rng = np.random.default_rng(3)
    features = screening.features.copy()
    rows = []
    for variable, limit in (("hba1c", 7.0), ("bmi", 30.0)):
        known = np.flatnonzero(features[variable].notna().to_numpy())
        below = rng.choice(known, len(known) // 4, replace=False)
        features.iloc[below, features.columns.get_loc(variable)] = limit / 2
        rows += [(features.index[i], variable, 0.0, np.nextafter(limit, 0)) for i in below]
    frame = pd.DataFrame(rows, columns=["subject_id", "variable", "low", "high"])
    if ids_as == "categorical":
        frame["subject_id"] = pd.Categorical(frame["subject_id"], categories=features.index)
    screening = Screening(features, censored=frame.assign(reason="censored below the limit"))
    matrix = evaluate(trial, screening)
    assert _check(matrix, screening, trial, np.random.default_rng(RNG_SEED), rounds=3) > 50
    assert threshold_sensitivity(matrix, screening, "A", "hba1c_min").method == "exact re-evaluation"
    assert threshold_sensitivity(matrix, screening, "C", "age_min").method == "single comparison"
