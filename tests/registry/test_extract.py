"""Computable rules from criterion text: ranges, units, negation, and refusing what it cannot read."""

from __future__ import annotations

import pytest

from explorer.registry.extract import MIN_CONFIDENCE, extract


def thresholds(text, kind="inclusion"):
    e = extract(text, kind)
    assert e.expression is not None, (text, e.notes, e.candidate)
    return {(t.variable, t.comparator, t.value, t.unit) for r in e.rules for t in r.thresholds}


@pytest.mark.parametrize("text", [
    "HbA1c 7.0-10.0%", "HbA1c 7.0%-10.0%", "HbA1c between 7% and 10%", "HbA1c between 7.0 - 10.0 %",
    "HbA1c ≥ 7 and ≤ 10%", "HbA1c >= 7.0% and <= 10.0%", "7.0% ≤ HbA1c ≤ 10%",
    "HbA1c greater than or equal to 7.0% and less than or equal to 10.0%", "HbA1c from 7 to 10%",
    "HbA1c 53-86 mmol/mol", "glycated hemoglobin (HbA1c) 7 to 10 %",
])
def test_every_usual_range_form(text):
    assert thresholds(text) == {("hba1c", ">=", 7.0, "%"), ("hba1c", "<=", 10.0, "%")}
    assert extract(text, "inclusion").expression == "hba1c >= hba1c_min and hba1c <= hba1c_max"


@pytest.mark.parametrize("text, expected", [
    ("> 18 years of age", {("age", ">", 18, "years")}),
    ("18 years or older", {("age", ">=", 18, "years")}),
    ("Age: >17", {("age", ">", 17, "years")}),
    ("Aged 15-40 years", {("age", ">=", 15, "years"), ("age", "<=", 40, "years")}),
    ("Fasting plasma glucose ≥ 126 mg/dL", {("fasting_glucose", ">=", 7.0, "mmol/L")}),
    ("FPG >= 7.0 mmol/L", {("fasting_glucose", ">=", 7.0, "mmol/L")}),
    ("HbA1c \u2265 53 mmol/mol", {("hba1c", ">=", 7.0, "%")}),
    ("BMI of 25 to 40 kg/m²", {("bmi", ">=", 25, "kg/m2"), ("bmi", "<=", 40, "kg/m2")}),
    ("19≤Body mass index (BMI)≤30㎏/㎡", {("bmi", ">=", 19, "kg/m2"), ("bmi", "<=", 30, "kg/m2")}),
    ("Fasting C-peptide ≥ 0.7 ng/mL", {("fasting_cpeptide", ">=", 0.232, "nmol/L")}),
    ("Stimulated C-peptide < 200 pmol/L", {("postmeal_cpeptide", "<", 0.2, "nmol/L")}),
    ("eGFR ≥ 60 mL/min/1.73m2", {("egfr", ">=", 60, "mL/min/1.73m2")}),
    ("Insulin requirement of at least 0.5 U/kg/day", {("insulin_dose_per_kg", ">=", 0.5, "U/kg/day")}),
    ("Type 2 diabetes for at least 6 months", {("diabetes_duration", ">=", 0.5, "years")}),
])
def test_units_and_comparators(text, expected):
    assert thresholds(text) == expected


@pytest.mark.parametrize("text, kind, expected", [
    ("Serum creatinine > 1.5 mg/dL", "exclusion", "creatinine > creatinine_max"),
    ("ALT or AST > 3 x ULN", "exclusion", "alt > uln_multiple * alt_uln or ast > uln_multiple * ast_uln"),
    ("Total bilirubin, ALT, and AST ≥2×ULN", "exclusion",
     "bilirubin >= uln_multiple * bilirubin_uln or alt >= uln_multiple * alt_uln or ast >= uln_multiple * ast_uln"),
    ("Blood pressure > 160/100 mmHg", "exclusion", "systolic_bp > systolic_bp_max or diastolic_bp > diastolic_bp_max"),
    ("BMI < 18 or > 40 kg/m2", "exclusion", "bmi < bmi_min or bmi > bmi_max"),
    ("Age less than 18 or older than age 65", "exclusion", "age < age_min or age > age_max"),
    ("Two or more severe hypoglycemic events in the past year", "inclusion",
     "count(severe_hypoglycemia, within_days=365) >= severe_hypoglycemia_min"),
    ("Participation in other clinical trials in the 3 months prior to enrollment", "exclusion",
     "count(trial_participation, within_days=91) >= trial_participation_max"),
    ("Untreated cancer or less than 1 year since cure", "exclusion",
     # printed by expr.to_text: "and" binds tighter than "or", so no brackets are needed
     'cancer_status == "active" or cancer_status == "remission" and cancer_remission_years < remission_min'),
    ("Type 1 diabetes mellitus", "inclusion", 'diabetes_type == "T1D"'),
    ("Type 1 or type 2 diabetes", "inclusion", 'diabetes_type == "T1D" or diabetes_type == "T2D"'),
    ("Known HIV, hepatitis B or C infection", "exclusion", "hiv_positive or hepatitis_b or hepatitis_c"),
])
def test_rules(text, kind, expected):
    assert extract(text, kind).expression == expected


def test_parameters_carry_catalogue_units_and_slider_ranges():
    e = extract("Fasting glucose \u2265 126 mg/dL", "inclusion")
    p = e.parameters["fasting_glucose_min"]
    assert p["unit"] == "mmol/L" and p["value"] == 7.0 and p["min"] <= 7.0 <= p["max"] and p["step"] > 0
    rule = e.rules[0]
    assert rule.source == "Fasting glucose \u2265 126 mg/dL" and rule.span == (0, len(rule.source))
    assert (rule.thresholds[0].source_value, rule.thresholds[0].source_unit) == (126, "mg/dL")
    assert 0 < e.confidence <= 1


@pytest.mark.parametrize("text, kind, expected", [
    ("Not pregnant or nursing", "inclusion", 'sex == "male" or not (pregnant or lactating)'),
    ("Negative pregnancy test", "inclusion", 'sex == "male" or not childbearing_potential or not pregnant'),
    ("Pregnant or lactating women", "exclusion", 'sex == "female" and (pregnant or lactating)'),
    # a requirement written inside an exclusion list: who is breastfeeding is excluded
    ("Female subjects must not be breastfeeding", "exclusion", 'sex == "female" and lactating'),
    ("No history of hypoglycemia unawareness", "inclusion", "not hypoglycemia_unawareness"),
])
def test_negation(text, kind, expected):
    assert extract(text, kind).expression == expected


def test_ambiguous_negation_in_exclusion_is_not_read():
    e = extract("No known HIV infection", "exclusion")
    assert e.expression is None and any("ambiguous" in n for n in e.notes)


@pytest.mark.parametrize("text", [
    "Planning to become pregnant during the study",            # intent, not pregnancy
    "HbA1c change > 0.9 % within the last 3 months",          # a change, not a level
    "Weight change of > 1.9 kg",                              # a change, not a weight
    "Severe hypoglycemia (defined as blood glucose below 2.9 mmol/L)",  # a definition, no window
    "Serum ferritin < 200 ng/mL",                             # not a catalogue variable
    "Hemoglobin < 11 g/dL",                                   # not a catalogue variable
])
def test_no_rule_invented(text):
    for kind in ("inclusion", "exclusion"):
        assert extract(text, kind).expression is None


@pytest.mark.parametrize("text, reason", [
    ("HbA1c ≥ 7 furlongs", "unknown unit"),
    ("HbA1c > 700%", "plausible range"),
    ("BMI > 2000 kg/m2", "plausible range"),
    ("Creatinine < 176 mmol/L", "plausible range"),
    ("ALT > 3000 x ULN", "plausible"),
])
def test_unknown_units_and_absurd_numbers_are_refused(text, reason):
    e = extract(text, "exclusion")
    assert e.expression is None and any(reason in n for n in e.notes), e.notes


@pytest.mark.parametrize("text, kind", [
    ("HbA1c 7.5%-9% (if on more drugs) or 7.5%-11% (if on fewer drugs)", "inclusion"),
    ("For participants aged 40 years or older, history of CVD", "inclusion"),
    # (sex-specific thresholds are now read as such: tests/registry/test_recall.py)
    ("Hba1c>8.0% and/or a history of repeated symptomatic hypoglycaemias", "inclusion"),
    ("History of malignancy except basal cell carcinoma, unless disease free for 5 years", "exclusion"),
    ("History of drug abuse within the past 2 years", "exclusion"),
])
def test_uncertain_readings_stay_candidates(text, kind):
    e = extract(text, kind)
    assert e.expression is None and e.candidate and e.confidence < MIN_CONFIDENCE


def test_partial_reading_is_kept_only_in_the_safe_direction():
    # exclusion: the unread half is another way to be excluded -> the read half alone never contradicts
    e = extract("Fasting glucose > 126 mg/dl or 2 hour OGTT > 200 mg/dl", "exclusion")
    assert e.expression == "fasting_glucose > fasting_glucose_max"
    # inclusion joined by "or": reading one half would exclude people the other half admits
    e = extract("HbA1c > 8% or frequent hypoglycaemia episodes needing assistance", "inclusion")
    assert e.expression is None


def test_empty_long_and_non_latin_text():
    assert extract("", "inclusion").status == "none"
    assert extract("HbA1c > 7% " * 400, "inclusion").status == "rejected"
    e = extract("糖化血红蛋白 ≥ 7.5%", "inclusion")
    assert e.expression is None and e.status == "rejected"
