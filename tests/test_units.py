"""Unit conversion to the catalogue's units, checked against published values (../shared/REFERENCES.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.catalogue import default_catalogue
from explorer.cohort.units import canonical_unit, conversion, convert, convert_between, to_catalogue_units
from explorer.errors import UnitError


@pytest.mark.parametrize(("percent", "ifcc"), [(7.0, 53), (6.5, 48), (5.0, 31), (8.0, 64), (10.0, 86)])
def test_hba1c_ngsp_ifcc_published_pairs(percent, ifcc):
    # NGSP/IFCC conversion table (ngsp.org): 5 % = 31, 6.5 % = 48, 7 % = 53, 8 % = 64, 10 % = 86 mmol/mol
    assert round(float(convert_between([percent], quantity="hba1c", source="%", target="mmol/mol")[0])) == ifcc
    back = convert([ifcc], variable="hba1c", unit="mmol/mol")[0]
    assert back == pytest.approx(percent, abs=0.06)


def test_hba1c_master_equation_is_affine_and_round_trips():
    scale, offset = conversion("hba1c", "mmol/mol")
    assert (scale, offset) == pytest.approx((0.09148, 2.152))
    values = np.array([20.0, 53.0, 120.0])
    there = convert(values, variable="hba1c", unit="mmol/mol")
    assert convert_between(there, quantity="hba1c", source="%", target="mmol/mol") == pytest.approx(values)


def test_hba1c_fraction_as_in_sdtm_standard_units():
    assert convert([0.082], variable="hba1c", unit="1")[0] == pytest.approx(8.2)


def test_glucose_7_mmol_is_126_mg_dl():
    assert convert_between([7.0], quantity="glucose", source="mmol/L", target="mg/dL")[0] == pytest.approx(126.1, abs=0.1)
    assert convert([126.0], variable="fasting_glucose", unit="mg/dl")[0] == pytest.approx(6.994, abs=1e-3)
    assert convert([7.0], variable="cgm_mean", unit="mmol/L")[0] == pytest.approx(126.112)


def test_cpeptide_insulin_factors():
    assert convert([0.5], variable="fasting_cpeptide", unit="ng/mL")[0] == pytest.approx(0.1656, abs=1e-4)
    assert convert([170.0], variable="fasting_cpeptide", unit="pmol/L")[0] == pytest.approx(0.17)
    # harmonised 6.0 pmol/L per microU/mL, not 6.945
    assert convert([60.0], variable="fasting_insulin", unit="pmol/L")[0] == pytest.approx(10.0)
    assert convert([12.0], variable="fasting_insulin", unit="mIU/L")[0] == pytest.approx(12.0)


@pytest.mark.parametrize(("variable", "unit", "value", "expected"), [
    ("creatinine", "mg/dL", 1.0, 88.42),
    ("bilirubin", "mg/dL", 1.0, 17.1),
    ("bilirubin_uln", "mg/dL", 1.2, 20.52),
    ("uric_acid", "mg/dL", 6.0, 356.88),
    ("uric_acid", "mmol/L", 0.3, 300.0),
    ("height", "m", 1.75, 175.0),
    ("height", "in", 70.0, 177.8),
    ("weight", "lb", 154.0, 69.853),
    ("alt", "ukat/L", 0.5, 30.0),
    ("systolic_bp", "kPa", 16.0, 120.01),
])
def test_other_factors(variable, unit, value, expected):
    assert convert([value], variable=variable, unit=unit)[0] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(("text", "canonical"), [
    ("mg/dl", "mg/dL"), ("MG/DL", "mg/dL"), ("mmol/l", "mmol/L"), ("µmol/L", "umol/L"), ("μmol/l", "umol/L"),
    ("umol/L", "umol/L"), ("uU/mL", "microU/mL"), ("µIU/mL", "microU/mL"), ("mIU/L", "microU/mL"),
    ("%", "%"), ("mmol/mol", "mmol/mol"), ("IU/L", "U/L"), ("mm[Hg]", "mmHg"), ("[in_i]", "in"), ("lbs", "lb"),
    ("kg/m²", "kg/m2"), ("mL/min/{1.73_m2}", "mL/min/1.73m2"), (" kg ", "kg"),
])
def test_spelling_variants(text, canonical):
    assert canonical_unit(text) == canonical


def test_every_catalogue_unit_is_known():
    for var in default_catalogue():
        if var.unit:
            assert convert([1.0], variable=var.name, unit=var.unit)[0] == 1.0


@pytest.mark.parametrize(("variable", "unit", "fragment"), [
    ("hba1c", "mg/dL", "cannot convert from 'mg/dL'"),
    ("fasting_glucose", "furlongs", "unknown unit 'furlongs'"),
    ("weight", "", "unit for 'weight' is missing"),
    ("fasting_glucose", "mM", "ambiguous"),
])
def test_unknown_or_inconsistent_unit_names_variable_and_unit(variable, unit, fragment):
    with pytest.raises(UnitError, match=fragment) as err:
        convert([1.0], variable=variable, unit=unit)
    assert variable in str(err.value)


def test_table_conversion_counts_and_names_rows():
    table = pd.DataFrame({"variable": ["hba1c", "hba1c", "alt"], "value": [53.0, 7.0, 50.0],
                          "unit": ["mmol/mol", "%", "U/L"], "ref_low": [np.nan, np.nan, 7], "ref_high": [42, np.nan, 40]},
                         index=[2, 3, 4])
    out, counts = to_catalogue_units(table)
    assert out["value"].tolist() == pytest.approx([7.0, 7.0, 50.0], abs=0.01)
    assert out.loc[2, "ref_high"] == pytest.approx(6.0, abs=0.01)
    assert counts == {"hba1c: mmol/mol -> %": 1}
    assert (out["unit"] == ["%", "%", "U/L"]).all()
    bad = table.assign(unit=["mmol/mol", "g", "U/L"])
    with pytest.raises(UnitError) as err:
        to_catalogue_units(bad, file="labs.csv")
    assert "labs.csv" in str(err.value) and "'unit'" in str(err.value) and "rows 3" in str(err.value)
