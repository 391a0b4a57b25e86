"""explorer/registry/unstated.py: a value whose comparator the text does not state is read and reported, never
made computable (sentences written afresh for this test)."""

from __future__ import annotations

import pytest

from explorer.registry import import_trial, render_report
from explorer.registry.extract import extract


def unstated(text, kind="inclusion"):
    e = extract(text, kind)
    return e, {(t.variable, t.comparator, t.value, t.unit) for t in e.unstated}


@pytest.mark.parametrize("text, kind, expected", [
    ("Age 21 years", "inclusion", {("age", "", 21, "years")}),
    ("Age = 21 years", "inclusion", {("age", "", 21, "years")}),                # a flattened >= or <=
    ("Participant is 70 years old and able to consent", "inclusion", {("age", "", 70, "years")}),
    ("HbA1c 9.5%", "inclusion", {("hba1c", "", 9.5, "%")}),
    ("Marked hepatic dysfunction (LFTs 4X upper limit of normal)", "exclusion",
     {("alt", "", 4, "x ULN"), ("ast", "", 4, "x ULN")}),
    ("Untreated hypertension (systolic 170 mm Hg, diastolic 100 mm Hg)", "exclusion",
     {("systolic_bp", "", 170, "mmHg"), ("diastolic_bp", "", 100, "mmHg")}),
    ("Resting blood pressure 135/85 mmHg", "inclusion", {("systolic_bp", "", 135, "mmHg"),
                                                         ("diastolic_bp", "", 85, "mmHg")}),
    ("Serum creatinine 2.1 mg/dL", "exclusion", {("creatinine", "", 186, "umol/L")}),  # converted, rounded as any
])
def test_a_value_without_comparator_is_read_and_never_computable(text, kind, expected):
    e, found = unstated(text, kind)
    assert found == expected
    assert e.expression is None and e.rules == ()
    assert any("comparator not stated" in n for n in e.notes)


@pytest.mark.parametrize("text", ["Age >= 21 years", "HbA1c above 9.5%", "LFTs > 4X upper limit of normal",
                                  "systolic blood pressure of at least 170 mm Hg"])
def test_a_stated_comparator_gives_a_rule_and_no_unstated_reading(text):
    e, found = unstated(text, "exclusion")
    assert e.expression is not None and found == set()


@pytest.mark.parametrize("text", [
    "Febrile seizures before 3 years old",                              # the age at an event
    "Needs a caregiver (relative or friend) = 75 years old who lives with the patient",  # someone else's age
    "Blood pressure 150 mmHg",                                          # systolic or diastolic? not said
    "BMI 300 kg/m2",                                                    # implausible: no reading at all
])
def test_values_that_are_no_reading_of_the_participant_stay_unread(text):
    _, found = unstated(text)
    assert found == set()


def test_a_rule_beside_a_value_without_comparator_is_not_whole():
    """'HbA1c > 8% and BMI 32 kg/m2': the BMI is read but in no rule, so the HbA1c rule alone is not the
    criterion: it is named as partial, never silently computable."""
    e, found = unstated("HbA1c > 8% and BMI 32 kg/m2")
    assert found == {("bmi", "", 32, "kg/m2")}
    assert e.expression == "hba1c > hba1c_min" and e.status == "partial"


def test_the_import_report_names_the_value_read_without_comparator(tmp_path):
    record = tmp_path / "NCT09999991.txt"
    record.write_text("Registration Number: NCT09999991\nInclusion Criteria:\n1. Age 30 years\n"
                      "2. HbA1c > 7.0%\n", encoding="utf-8")
    trial, report = import_trial(record)
    text = render_report(report)
    assert "value read (age 30 years), comparator not stated" in text
    assert all("age" not in (c.expression or "") for c in report.text_criteria)


@pytest.mark.parametrize("text, expected", [
    ("Serum glucose above 180 mg/dL", {("glucose", ">", 10.0, "mmol/L")}),
    ("Blood glucose level 4-10 mmol/l", {("glucose", ">=", 4, "mmol/L"), ("glucose", "<=", 10, "mmol/L")}),
    ("blood glucose 270 mg/dL", {("glucose", "", 15.0, "mmol/L")}),
])
def test_a_glucose_whose_timing_is_not_stated_is_read_and_never_computable(text, expected):
    e, found = unstated(text, "exclusion")
    assert found == expected
    assert e.expression is None and any("not said whether fasting" in n for n in e.notes)


@pytest.mark.parametrize("text", ["urine glucose > 100 mg/dL", "glucose 200 mg/dL 2 hours after the OGTT load",
                                  "plasma glucose after 2 hours above 11.1 mmol/L"])
def test_a_glucose_with_a_timing_or_another_fluid_is_no_untimed_glucose(text):
    assert unstated(text, "exclusion")[1] == set()


def test_a_timed_glucose_is_still_a_rule():
    e, found = unstated("Fasting plasma glucose above 7.0 mmol/L", "exclusion")
    assert e.expression == "fasting_glucose > fasting_glucose_max" and found == set()


def test_a_number_after_glucose_without_unit_is_no_glucose_value():
    # found in the legacy XML records: a frequency of self-monitoring, not a glucose level
    assert unstated("Checks blood glucose >3/day", "inclusion")[1] == set()
