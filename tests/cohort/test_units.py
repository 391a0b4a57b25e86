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
    # the factor is 18.016; converted values are rounded as reported (7.0 mmol/L, 126 mg/dL)
    assert conversion("fasting_glucose", "mg/dL")[0] == pytest.approx(1 / 18.016)
    assert convert_between([7.0], quantity="glucose", source="mmol/L", target="mg/dL")[0] == 126.0
    assert convert([126.0], variable="fasting_glucose", unit="mg/dl")[0] == 7.0
    assert convert([7.0], variable="cgm_mean", unit="mmol/L")[0] == 126.0


def test_cpeptide_insulin_factors():
    assert conversion("fasting_cpeptide", "ng/mL")[0] == pytest.approx(1 / 3.02)
    assert convert([0.5], variable="fasting_cpeptide", unit="ng/mL")[0] == 0.17  # 0.1656, reported to 0.01
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
    scale, offset = conversion(variable, unit)
    assert value * scale + offset == pytest.approx(expected, rel=1e-4)


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


# --- thresholds at their boundaries (issue 13): clinically equivalent statements agree ----------------
# (variable, unit a, value a, unit b, value b): the same cut-off as stated in either unit. A value in one
# unit converted to the other is rounded to the precision it is reported in there, so each pair maps
# onto itself in both directions. The same table is in docs/data.md ("Units").
EQUIVALENT_CUTOFFS = [
    ("fasting_glucose", "mg/dL", 126, "mmol/L", 7.0),
    ("fasting_glucose", "mg/dL", 200, "mmol/L", 11.1),
    ("fasting_glucose", "mg/dL", 180, "mmol/L", 10.0),
    ("fasting_glucose", "mg/dL", 70, "mmol/L", 3.9),
    ("fasting_glucose", "mg/dL", 54, "mmol/L", 3.0),
    ("fasting_glucose", "mg/dL", 250, "mmol/L", 13.9),
    ("hba1c", "%", 6.5, "mmol/mol", 48),
    ("hba1c", "%", 7.0, "mmol/mol", 53),
    ("hba1c", "%", 8.0, "mmol/mol", 64),
    ("creatinine", "mg/dL", 1.5, "umol/L", 133),
    ("creatinine", "mg/dL", 1.0, "umol/L", 88),
    ("fasting_cpeptide", "ng/mL", 0.9, "nmol/L", 0.3),
    ("fasting_cpeptide", "ng/mL", 0.6, "nmol/L", 0.2),
    ("fasting_cpeptide", "pmol/L", 300, "nmol/L", 0.3),
    ("fasting_insulin", "microU/mL", 25, "pmol/L", 150),
    ("fasting_insulin", "microU/mL", 10, "pmol/L", 60),
    ("bilirubin", "mg/dL", 2.0, "umol/L", 34),
    ("bilirubin", "mg/dL", 1.2, "umol/L", 21),
    ("bilirubin", "mg/dL", 1.5, "umol/L", 26),
]


def _catalogue_in(variable: str, unit: str):
    """The catalogue with `variable` stated in `unit`: thresholds (and converted data) in that unit."""
    from dataclasses import replace

    from explorer.catalogue import Catalogue
    base = default_catalogue()
    return Catalogue({**base.variables, variable: replace(base[variable], unit=unit)})


@pytest.mark.parametrize("variable, unit_a, a, unit_b, b", EQUIVALENT_CUTOFFS)
def test_equivalent_cutoffs_agree_in_both_directions(variable, unit_a, a, unit_b, b):
    for (source, value), (target, expected) in (((unit_a, a), (unit_b, b)), ((unit_b, b), (unit_a, a))):
        catalogue = _catalogue_in(variable, target)
        # data in either unit, loaded against a threshold stated in the other: exactly equal, so ">=",
        # "<=" and "==" at the cut-off all hold for the subject whose value is the cut-off
        assert convert([value], variable=variable, unit=source, catalogue=catalogue)[0] == expected
        table = pd.DataFrame({"variable": [variable, variable], "unit": [source, target],
                              "value": [value, expected]})
        converted, _ = to_catalogue_units(table, catalogue=catalogue)
        assert converted["value"].tolist() == [expected, expected]


@pytest.mark.parametrize("mmol, mg", [(10.0, 180), (3.9, 70), (3.0, 54), (13.9, 250), (11.1, 200), (7.0, 126)])
def test_cgm_readings_in_mmol_load_as_the_equivalent_mg_dl(tmp_path, mmol, mg):
    from explorer.cohort.loaders import load_cgm
    path = tmp_path / "mmol.csv"
    path.write_text(f"id,time,gl\nA,2024-01-01 00:00,{mmol}\nA,2024-01-01 00:15,{mmol}5\n")
    cohort, _ = load_cgm(path, unit="mmol/L")
    assert cohort.cgm["glucose"].iloc[0] == mg  # 10.0 mmol/L is 180 mg/dL, in range, not 180.16


@pytest.mark.parametrize("value, decimals, expected", [
    (6.95, 1, 7.0), (2.675, 2, 2.68), (-1.25, 1, -1.3), (126.5, 0, 127.0), (np.nan, 1, np.nan)])
def test_rounding_is_half_away_from_zero_as_labs_report(value, decimals, expected):
    from explorer.cohort.units import round_reported
    np.testing.assert_equal(round_reported([value], decimals)[0], expected)


def test_exact_decimal_conversions_are_not_rounded():
    assert convert([17.0], variable="fasting_cpeptide", unit="pmol/L")[0] == 0.017  # not 0.02
    assert convert([0.0825], variable="hba1c", unit="1")[0] == pytest.approx(8.25)
