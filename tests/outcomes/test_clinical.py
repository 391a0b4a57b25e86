"""HOMA-IR, KITT, Igls classes and responder endpoints against published and worked values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from explorer.errors import DataError
from explorer.outcomes.clinical import (
    IGLS_CLASSES,
    cit07_endpoint,
    homa_ir,
    igls_cgm_class,
    igls_class,
    igls_success,
    insulin_independent,
    insulin_reduction_responder,
    kitt_from_glucose,
    kitt_from_half_life,
)

NA = pd.NA


# --- HOMA-IR ----------------------------------------------------------------------------------------

def test_homa_ir_reference_subject_is_one():
    # Matthews 1985: 22.5 is the product for a normal young adult, 4.5 mmol/L x 5 microU/mL.
    assert homa_ir(4.5, 5.0).iloc[0] == pytest.approx(1.0)


def test_homa_ir_vectorised_with_unknowns():
    glucose = pd.Series([5.0, 7.2, np.nan], index=["a", "b", "c"])
    insulin = pd.Series([10, 20, 8], index=["a", "b", "c"], dtype="Int64")
    result = homa_ir(glucose, insulin)
    assert result["a"] == pytest.approx(50 / 22.5)   # 2.22
    assert result["b"] == pytest.approx(144 / 22.5)  # 6.40
    assert math.isnan(result["c"])
    assert result.name == "homa_ir"


def test_inputs_align_on_subjects_not_positions():
    glucose = pd.Series([4.5, 9.0], index=["a", "b"])
    insulin = pd.Series([10.0, 5.0, 7.0], index=["b", "a", "z"])
    result = homa_ir(glucose, insulin)
    assert result["a"] == pytest.approx(1.0) and result["b"] == pytest.approx(4.0)
    assert math.isnan(result["z"])  # glucose unknown for z


# --- KITT -------------------------------------------------------------------------------------------

def test_kitt_from_half_life_worked_example():
    # t1/2 = 12 min: KITT = 0.693 / 12 x 100 = 5.775 %/min.
    assert kitt_from_half_life(12.0).iloc[0] == pytest.approx(5.775)
    with pytest.raises(DataError, match="positive"):
        kitt_from_half_life(pd.Series([10.0, 0.0]))


def test_kitt_from_glucose_worked_example():
    # Glucose halves every 12 min from 3 to 15 min; the 0-min sample lies outside the fit window.
    minutes = [0, 3, 6, 9, 12, 15]
    glucose = [9.0] + [10 * 2 ** (-(m - 3) / 12) for m in minutes[1:]]
    itt = pd.DataFrame({"subject_id": "a", "minute": minutes, "glucose": glucose})
    assert kitt_from_glucose(itt)["a"] == pytest.approx(5.775)


def test_kitt_least_squares_matches_numpy_polyfit():
    rng = np.random.default_rng(7)
    minutes = np.array([3, 6, 9, 12, 15], dtype=float)
    frames, expected = [], {}
    for subject in ["a", "b", "c"]:
        glucose = 12 * np.exp(-rng.uniform(0.02, 0.06) * minutes) * rng.uniform(0.97, 1.03, 5)
        frames.append(pd.DataFrame({"subject_id": subject, "minute": minutes, "glucose": glucose}))
        slope = np.polyfit(minutes, np.log(glucose), 1)[0]
        expected[subject] = 0.693 / (math.log(2) / -slope) * 100
    result = kitt_from_glucose(pd.concat(frames))
    for subject, value in expected.items():
        assert result[subject] == pytest.approx(value)


def test_kitt_needs_enough_samples_and_keeps_non_responders():
    itt = pd.DataFrame({
        "subject_id": ["few", "few", "flat", "flat", "flat"],
        "minute": [3, 15, 3, 9, 15],
        "glucose": [10.0, 5.0, 8.0, 8.0, 8.0],
    })
    result = kitt_from_glucose(itt)
    assert math.isnan(result["few"])            # two samples < min_points = 3
    assert result["flat"] == pytest.approx(0.0)  # measured: glucose did not fall
    assert kitt_from_glucose(itt, min_points=2)["few"] == pytest.approx(5.775)


def test_kitt_rejects_non_positive_glucose():
    itt = pd.DataFrame({"subject_id": "a", "minute": [3, 6, 9], "glucose": [5.0, 0.0, 4.0]})
    with pytest.raises(DataError, match="positive"):
        kitt_from_glucose(itt)


# --- Igls -------------------------------------------------------------------------------------------

# Baseline for every example: HbA1c 8.0 %, 4 severe events/year, 0.6 U/kg/day, C-peptide 0.
BASELINE = dict(hba1c_baseline=8.0, severe_hypo_baseline=4.0, insulin_baseline=0.6, c_peptide_baseline=0.0)

# One subject per row of Rickels 2018 Table 3, plus the edges of each row.
IGLS_EXAMPLES = [
    # name, hba1c, severe_hypo, insulin U/kg/d, c_peptide nmol/L, expected
    ("optimal", 6.5, 0, 0.0, 0.5, "optimal"),
    ("good: on a little insulin", 6.2, 0, 0.2, 0.5, "good"),
    ("good: HbA1c 6.9", 6.9, 0, 0.0, 0.5, "good"),
    ("marginal: HbA1c 7.0", 7.0, 0, 0.0, 0.5, "marginal"),
    ("marginal: insulin at 50 % of baseline", 6.2, 0, 0.3, 0.5, "marginal"),
    ("marginal: fewer severe events", 8.0, 1, 0.6, 0.3, "marginal"),
    ("failure: C-peptide not above 0.17 nmol/L", 6.0, 0, 0.0, 0.17, "failure"),
    ("failure: no hypoglycaemia benefit", 8.0, 4, 0.6, 0.3, "failure"),
]


@pytest.mark.parametrize(("name", "hba1c", "severe", "insulin", "c_peptide", "expected"), IGLS_EXAMPLES,
                         ids=[example[0] for example in IGLS_EXAMPLES])
def test_igls_classes_from_the_definition_table(name, hba1c, severe, insulin, c_peptide, expected):
    result = igls_class(hba1c=hba1c, severe_hypo=severe, insulin=insulin, c_peptide=c_peptide, **BASELINE)
    assert result.iloc[0] == expected


def test_igls_vectorised_with_categorical_output():
    columns = list(zip(*[example[1:] for example in IGLS_EXAMPLES], strict=True))
    index = [example[0] for example in IGLS_EXAMPLES]
    hba1c, severe, insulin, c_peptide, expected = (pd.Series(c, index=index) for c in columns)
    result = igls_class(hba1c=hba1c, severe_hypo=severe, insulin=insulin, c_peptide=c_peptide, **BASELINE)
    assert result.tolist() == expected.tolist()
    assert list(result.cat.categories) == list(IGLS_CLASSES)
    success = igls_success(result)
    assert success.tolist() == [c in ("optimal", "good") for c in expected]


def test_igls_unknown_inputs_never_become_a_class():
    common = dict(severe_hypo=0, insulin=0.0, **BASELINE)
    # HbA1c unknown: could be optimal, so the class is unknown ...
    assert pd.isna(igls_class(hba1c=np.nan, c_peptide=0.5, **common).iloc[0])
    # ... C-peptide unknown: could be failure or optimal.
    assert pd.isna(igls_class(hba1c=6.0, c_peptide=np.nan, **common).iloc[0])
    # Known absence of C-peptide decides failure whatever else is missing.
    assert igls_class(hba1c=np.nan, c_peptide=0.05, **common).iloc[0] == "failure"
    # HbA1c 7.5 rules out optimal and good; severe events unknown leaves marginal vs failure open.
    result = igls_class(hba1c=7.5, severe_hypo=np.nan, insulin=0.5, c_peptide=0.4,
                        hba1c_baseline=8, severe_hypo_baseline=4, insulin_baseline=0.6, c_peptide_baseline=0)
    assert pd.isna(result.iloc[0])
    assert pd.isna(igls_success(result).iloc[0])


def test_igls_without_baseline_hypoglycaemia_uses_glycaemic_control():
    # Footnote f: no severe events before treatment, so benefit means HbA1c below baseline.
    common = dict(severe_hypo=0, insulin=0.5, c_peptide=0.4, severe_hypo_baseline=0, insulin_baseline=0.6,
                  c_peptide_baseline=0)
    assert igls_class(hba1c=7.5, hba1c_baseline=8.5, **common).iloc[0] == "marginal"
    assert igls_class(hba1c=8.5, hba1c_baseline=8.5, **common).iloc[0] == "failure"


def test_igls_cgm_extension_adds_glycaemic_targets():
    # Landstra 2021: optimal needs TIR >= 80 % and no time < 54; good TIR >= 70 % and < 1 % < 54.
    common = dict(hba1c=6.0, severe_hypo=0, insulin=0.0, c_peptide=0.5, **BASELINE)
    tir = pd.Series([85.0, 75.0, 85.0, 65.0, np.nan])
    tbr_54 = pd.Series([0.0, 0.0, 0.5, 0.0, 0.0])
    result = igls_cgm_class(tir=tir, tbr_54=tbr_54, **common)
    assert result.iloc[:4].tolist() == ["optimal", "good", "good", "marginal"]
    assert pd.isna(result.iloc[4])
    assert igls_class(**common).iloc[0] == "optimal"  # the same subject without CGM


def test_igls_success_rejects_unknown_labels():
    with pytest.raises(DataError, match="unknown Igls"):
        igls_success(pd.Series(["excellent"]))


# --- responder endpoints ----------------------------------------------------------------------------

def test_cit07_endpoint():
    hba1c = pd.Series([6.5, 6.99, 7.0, 6.0, np.nan, 8.0])
    severe = pd.Series([0, 0, 0, 1, 0, np.nan])
    result = cit07_endpoint(hba1c=hba1c, severe_hypo=severe)
    assert result.tolist()[:4] == [True, True, False, False]
    assert pd.isna(result.iloc[4])   # HbA1c unknown, no events: undecided
    assert not pd.isna(result.iloc[5]) and not result.iloc[5]  # HbA1c 8 decides it, events unknown
    assert str(result.dtype) == "boolean"


def test_insulin_independence_and_reduction():
    dose = pd.Series([0.0, 10.0, 25.0, 20.0, 5.0, np.nan])
    baseline = pd.Series([40.0, 40.0, 40.0, 40.0, 0.0, 40.0])
    assert insulin_independent(dose).tolist()[:5] == [True, False, False, False, False]
    reduction = insulin_reduction_responder(dose, baseline)
    assert reduction.tolist()[:4] == [True, True, False, True]  # 100 %, 75 %, 37.5 %, exactly 50 %
    assert pd.isna(reduction.iloc[4]) and pd.isna(reduction.iloc[5])  # zero or unknown: undefined


def test_composites_combine_with_kleene_logic():
    # Zang 2022's composite: HbA1c < 7.0 % and >= 50 % insulin reduction.
    hba1c = pd.Series([6.8, 6.8, 7.4, np.nan])
    reduction = insulin_reduction_responder(pd.Series([10.0, 30.0, 10.0, 30.0]), pd.Series([40.0] * 4))
    below_seven = cit07_endpoint(hba1c=hba1c, severe_hypo=0)
    composite = below_seven & reduction
    assert composite.iloc[:3].tolist() == [True, False, False]
    assert not pd.isna(composite.iloc[3]) and not composite.iloc[3]  # the reduction already failed


def test_non_numeric_input_is_a_data_error():
    with pytest.raises(DataError, match="numeric"):
        homa_ir(pd.Series(["high"]), pd.Series([5.0]))
