"""HOMA-IR in the synthetic data follows the one validity rule of explorer.clinical.homa: never derived for
anyone on insulin, in the screening populations and at trial visits alike (issue 13)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from explorer.clinical.homa import NOT_VALID_ON_INSULIN, homa_ir
from explorer.cohort.compact import widened
from explorer.cohort.synthetic import generate_outcomes, generate_screening
from explorer.cohort.synthetic.response_models import visit_homa_ir


def wide_screening(*args, **kwargs):
    """generate_screening with its compact number columns read back as float64 (explorer.cohort.compact),
    so these checks can do pandas arithmetic on them; the values are the generator's, bit for bit."""
    screening = generate_screening(*args, **kwargs)
    return replace(screening, features=widened(screening.features))


@pytest.fixture(scope="module")
def t2d():
    return wide_screening("t2d", 6000, seed=3)


def reasons_for(screening, variable: str):
    r = screening.missing_reasons
    return r[r["variable"] == variable].set_index("subject_id")["reason"].astype(str)


def test_no_homa_ir_in_the_type_1_clinic_and_the_reason_says_why():
    s = wide_screening("t1d", 3000, seed=3)
    assert s.features["on_insulin"].all()
    assert s.features["homa_ir"].isna().all()
    assert (reasons_for(s, "homa_ir") == NOT_VALID_ON_INSULIN).all()


def test_type_2_homa_ir_only_for_people_not_recorded_on_insulin(t2d):
    f = t2d.features
    on_insulin = f["on_insulin"].fillna(False).to_numpy(dtype=bool)
    known = f["homa_ir"].notna().to_numpy()
    assert on_insulin.sum() > 1000 and known.sum() > 1000  # both groups are present
    assert not (known & on_insulin).any()
    reasons = reasons_for(t2d, "homa_ir").reindex(f.index[on_insulin])
    assert (reasons == NOT_VALID_ON_INSULIN).all()


def test_type_2_homa_ir_is_matthews_from_the_recorded_values(t2d):
    f = t2d.features[t2d.features["homa_ir"].notna()]
    expected = f["fasting_glucose"] * f["fasting_insulin"] / 22.5  # Matthews et al. 1985
    np.testing.assert_allclose(f["homa_ir"], expected.clip(0, 100).round(2), atol=0.006)


def test_an_unknown_insulin_treatment_does_not_block_homa_ir(t2d):
    f = t2d.features
    unknown = f["on_insulin"].isna() & f["fasting_glucose"].notna() & f["fasting_insulin"].notna()
    assert unknown.sum() > 5
    assert f.loc[unknown, "homa_ir"].notna().all()  # explorer.clinical.homa: unknown counts as not treated


def test_visit_homa_ir_is_not_derived_while_insulin_is_injected():
    values = {"fasting_glucose": np.array([[9.0, 5.0], [8.0, 4.5]]), "fasting_insulin": np.array([[20.0, 5.0], [10.0, 5.0]]),
              "insulin_dose": np.array([[30.0, 0.0], [12.5, 0.0]])}
    homa = visit_homa_ir(values)
    assert np.isnan(homa[:, 0]).all()
    np.testing.assert_allclose(homa[:, 1], [round(5.0 * 5.0 / 22.5, 2), 1.0])


@pytest.mark.parametrize("model", ["islet", "msc"])
def test_outcome_models_report_homa_ir_only_off_insulin(model):
    c = generate_outcomes(300, model, seed=2, cgm_readings=0, missing_rate=0.0)
    wide = c.measurements.pivot_table(index=["subject_id", "visit"], columns="variable", values="value")
    homa = wide.reindex(columns=["homa_ir"])["homa_ir"].dropna()  # no column at all when never derived
    doses = wide["insulin_dose"].reindex(homa.index)
    assert (doses.dropna() == 0).all()
    if model == "msc":  # insulin-treated type 2 diabetes throughout (Zang 2022): never valid
        assert homa.empty
    else:  # islet recipients who stop insulin have a valid HOMA-IR
        assert len(homa) > 100
        rows = wide.loc[homa.index]
        expected = homa_ir(rows["fasting_glucose"], rows["fasting_insulin"])
        np.testing.assert_allclose(homa, np.round(expected, 2), atol=0.006)
