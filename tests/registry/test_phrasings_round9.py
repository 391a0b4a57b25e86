"""Round 9: the classes found by sorting Chia's missed thresholds by cause (import_quality.md, "Ninth round"), each
in several variants written for this test (word order, punctuation, units, comparator words).

Classes: a value restated in another unit in brackets (HbA1c % and mmol/mol, glucose and creatinine in mass and molar
units); units written with negative exponents ("mmol L-1", "kg·m⁻²"); comparator words with a slash ("greater
than/equal to") or spelled out ("up to and including"); multiples of the ULN "above" it; an organ's impaired function
defined by its value; a group excepted from a limit ("bilirubin > 1.5 x ULN (except Gilbert's syndrome)"); an
alternative in brackets opening with "or", which is no definition (the draw of this round, #32). Rows that must stay as they
were guard the limits of each class: a restatement that does not agree, or in the same unit, is another limit.
"""

from __future__ import annotations

import pytest

from explorer.registry import faithful
from explorer.registry.extract import extract
from tests.registry.test_phrasings_round8 import NotWhole, Partial, T, verdict

AGE, ULN, EGFR_UNIT = "age", "x ULN", "mL/min/1.73m2"

ROWS = [
    # --- a value restated in another unit, in brackets ---------------------------------------------------------------
    ("HbA1c of at least 7.5% (58 mmol/mol)", "inclusion", T(("hba1c", ">=", 7.5, "%"))),
    ("Glycated haemoglobin ≤ 10.0 % (86 mmol/mol) at screening", "inclusion", T(("hba1c", "<=", 10, "%"))),
    ("HbA1c > 9% [75 mmol/mol]", "exclusion", T(("hba1c", ">", 9, "%"))),
    ("HbA1c 53-86 mmol/mol (7.0-10.0%)", "inclusion", T(("hba1c", ">=", 7, "%"), ("hba1c", "<=", 10, "%"))),
    ("HbA1c between 6.5% (48 mmol/mol) and 9.5% (80 mmol/mol), inclusive", "inclusion",
     T(("hba1c", ">=", 6.5, "%"), ("hba1c", "<=", 9.5, "%"))),
    ("HbA1c ≥ 7.0% and ≤ 11.0% (≥ 53 and ≤ 97 mmol/mol)", "inclusion",
     T(("hba1c", ">=", 7, "%"), ("hba1c", "<=", 11, "%"))),
    ("HbA1c < 64 mmol/mol (8.0%)", "inclusion", T(("hba1c", "<", 8, "%"))),
    ("HbA1c ≥ 7.5 % (58 mmol/mol IFCC)", "inclusion", T(("hba1c", ">=", 7.5, "%"))),
    ("Fasting plasma glucose above 13.3 mmol/L (240 mg/dL)", "exclusion", T(("fasting_glucose", ">", 13.3, "mmol/L"))),
    ("fasting glucose ≥ 126 mg/dl (7.0 mmol/l)", "inclusion", T(("fasting_glucose", ">=", 7.0, "mmol/L"))),
    ("serum creatinine ≥ 1.7 mg/dL (150 µmol/L)", "exclusion", T(("creatinine", ">=", 150.3, "umol/L"))),
    ("fasting C-peptide ≥ 0.6 ng/mL (0.2 nmol/L)", "inclusion", T(("fasting_cpeptide", ">=", 0.2, "nmol/L"))),
    ("HbA1c ≥ 7.5% (≥ 58 mmol/mol) and ≤ 10.5% (≤ 91 mmol/mol)", "inclusion",
     T(("hba1c", ">=", 7.5, "%"), ("hba1c", "<=", 10.5, "%"))),
    ("body weight of at least 45 kg (99 lb)", "inclusion", T(("weight", ">=", 45, "kg"))),
    # not the same limit: a typo, or the same unit twice, is another limit and stays named, never silently dropped
    ("HbA1c ≥ 7.0% (64 mmol/mol)", "inclusion", Partial(T(("hba1c", ">=", 7, "%")), "64 mmol/mol")),
    ("HbA1c ≤ 9.0% (≤ 10.0% for participants on insulin)", "inclusion",
     T(("hba1c", "<=", 9, "%"), ("hba1c", "<=", 10, "%"))),
    ("HbA1c ≥ 7.5% (< 58 mmol/mol)", "inclusion", NotWhole()),
    # --- units with negative exponents -------------------------------------------------------------------------------
    ("fasting plasma glucose > 11.1 mmol L-1", "exclusion", T(("fasting_glucose", ">", 11.1, "mmol/L"))),
    ("Fasting glucose of 7.0 mmol·L⁻¹ or higher", "inclusion", T(("fasting_glucose", ">=", 7.0, "mmol/L"))),
    ("serum creatinine above 140 µmol l-1", "exclusion", T(("creatinine", ">", 140, "umol/L"))),
    ("body mass index 27–40 kg m−2", "inclusion", T(("bmi", ">=", 27, "kg/m2"), ("bmi", "<=", 40, "kg/m2"))),
    ("BMI below 45 kg·m-2", "inclusion", T(("bmi", "<", 45, "kg/m2"))),
    ("eGFR < 60 ml min-1 1.73 m-2", "exclusion", T(("egfr", "<", 60, EGFR_UNIT))),
    ("eGFR of at least 45 mL·min⁻¹·(1.73 m²)⁻¹", "inclusion", NotWhole()),  # an exponent outside the bracket: unread
    ("estimated GFR ≥ 30 mL min−1 (1.73 m−2)", "inclusion", T(("egfr", ">=", 30, EGFR_UNIT))),
    ("fasting C-peptide > 0.1 nmol.l-1", "inclusion", T(("fasting_cpeptide", ">", 0.1, "nmol/L"))),
    # --- comparator words ----------------------------------------------------------------------------------------
    ("Age greater than/equal to 40 years", "inclusion", T((AGE, ">=", 40, "years"))),
    ("HbA1c less than/equal to 10.5%", "inclusion", T(("hba1c", "<=", 10.5, "%"))),
    ("BMI greater than / equals to 25 kg/m2", "inclusion", T(("bmi", ">=", 25, "kg/m2"))),
    ("HbA1c up to and including 9.0 %", "inclusion", T(("hba1c", "<=", 9, "%"))),
    ("Aged up to and including 75 years", "inclusion", T((AGE, "<=", 75, "years"))),
    # --- multiples of the ULN "above" it ------------------------------------------------------------------------------
    ("ALT ≥ 2.5 times above the upper limit of normal", "exclusion", T(("alt", ">=", 2.5, ULN))),
    ("AST or ALT more than 3 times above ULN", "exclusion", T(("ast", ">", 3, ULN), ("alt", ">", 3, ULN))),
    ("total bilirubin two times or more above the upper limit of normal", "exclusion", T(("bilirubin", ">=", 2, ULN))),
    ("ALT 3 fold or higher above the ULN", "exclusion", T(("alt", ">=", 3, ULN))),
    # --- an organ's impaired function defined by its value ------------------------------------------------------
    ("Impaired renal function, defined as eGFR below 45 mL/min/1.73 m2", "exclusion", T(("egfr", "<", 45, EGFR_UNIT))),
    ("Reduced kidney function with an eGFR < 30 mL/min/1.73m²", "exclusion", T(("egfr", "<", 30, EGFR_UNIT))),
    ("Impaired liver function defined as ALT > 3 x ULN", "exclusion", T(("alt", ">", 3, ULN))),
    # a severity the value does not state stays a part not read
    ("Acute impaired renal function defined as eGFR < 45 mL/min/1.73 m2", "exclusion", NotWhole()),
    # --- a group excepted from a limit by "except", without "patients with" --------------------------------------------
    ("Total bilirubin > 2 x ULN (except Gilbert's syndrome)", "exclusion",
     T(("bilirubin", ">", 2, ULN))),
    ("serum bilirubin above 1.5 times the ULN, except Gilbert syndrome", "exclusion", T(("bilirubin", ">", 1.5, ULN))),
    ("AST > 5 x ULN [except liver metastases]", "exclusion", T(("ast", ">", 5, ULN))),
    ("Total bilirubin ≤ 1.5 × ULN (except Gilbert's disease)", "inclusion", T(("bilirubin", "<=", 1.5, ULN))),
    # "except" after no limit sets something else apart: never read as the concept
    ("Any malignancy except Gilbert's syndrome", "exclusion", NotWhole(never="gilbert_syndrome")),
    # --- an alternative in brackets opening with "or" is no definition: left out, and named --------------------------
    ("Pregnant (or anticipate pregnancy during the study period) or lactating women", "exclusion",
     Partial(T(), "anticipate")),
    ("Pregnant (or planning a pregnancy) or breastfeeding", "exclusion", Partial(T(), "planning")),
    ("Women who are pregnant [or who expect to conceive during the trial]", "exclusion", Partial(T(), "conceive")),
    # no comparator: read as nothing (a multiple of the ULN alone is no limit)
    ("ALT three times above the ULN", "exclusion", NotWhole()),
]


@pytest.mark.parametrize(("text", "kind", "expected"), ROWS, ids=[r[0][:50] for r in ROWS])
def test_phrasing(text, kind, expected):
    assert verdict(text, kind, expected) == ""


def test_a_restatement_is_part_of_the_rule_source():
    """The bracket read with the value is in the rule's source, so the check 'every number occurs in its source'
    and the report show it as read."""
    e = extract("HbA1c ≥ 7.5% (58 mmol/mol) at screening", "inclusion")
    assert e.status == "computable"
    assert e.rules[0].source == "HbA1c ≥ 7.5% (58 mmol/mol)"


def test_a_restatement_joins_only_its_own_variable():
    """'(7.0 mmol/L)' after an HbA1c in % agrees with no conversion of HbA1c: never read as a restatement."""
    e = extract("HbA1c ≥ 7.0% (7.0 mmol/L)", "inclusion")
    assert e.status != "computable"


@pytest.mark.parametrize(("text", "kind"), [(r[0], r[1]) for r in ROWS], ids=[r[0][:50] for r in ROWS])
def test_every_rule_read_passes_the_source_check(text, kind):
    """Never more than the text: every variable and number of each rule occurs in its source span, the restated
    bracket included."""
    for rule in extract(text, kind).rules:
        assert faithful.check_rule(rule) is None, rule


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("Total bilirubin > 2 x ULN (except Gilbert's syndrome)", "exclusion", "not gilbert_syndrome and bilirubin"),
    ("AST > 5 x ULN [except liver metastases]", "exclusion", "not liver_metastases and ast"),
    ("Total bilirubin ≤ 1.5 × ULN (except Gilbert's disease)", "inclusion", "gilbert_syndrome or bilirubin"),
])
def test_the_excepted_group_is_in_the_rule(text, kind, expected):
    assert extract(text, kind).expression.startswith(expected)
