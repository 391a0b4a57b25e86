"""Round 11: limits whose ">=" / "<=" were flattened to "=" (as in the Chia corpus), read only where the text's own
shape gives the direction; every row written for this test, several variants per form.

A range whose words give the direction ("=21 to =70 years", "between =10 and 17 years", "45 to =75") is the range,
inclusive. Two limits joined by "and" or a comma, each written "=" or the second with an upper sign ("Age = 30 years
and = 75 years", "=25 years old, < 60 years old") are the range from the lower to the higher in an inclusion: the
only reading in which both numbers matter. Rows that must not become rules guard the edges: an exclusion so written
(it may mean "under 30 or over 75"), the higher value first, one "=" alone, two values in different units, and
pregnancies that are not a current one ("planning a pregnancy", "twin pregnancy"), which the catalogue cannot hold.
"""

from __future__ import annotations

import pytest

from explorer.registry import faithful
from explorer.registry.extract import extract
from tests.registry.test_phrasings_round8 import NotWhole, T, verdict

AGE = "age"

ROWS = [
    # --- a range whose words give the direction: "to", "between ... and" --------------------------------------------
    ("Participants aged =21 to =70 years", "inclusion", T((AGE, ">=", 21, "years"), (AGE, "<=", 70, "years"))),
    ("Body mass index =19 to =32 kg/m2", "inclusion", T(("bmi", ">=", 19, "kg/m2"), ("bmi", "<=", 32, "kg/m2"))),
    ("Adults aged 45 to =75 years", "inclusion", T((AGE, ">=", 45, "years"), (AGE, "<=", 75, "years"))),
    ("Age between =10 and 17 years", "inclusion", T((AGE, ">=", 10, "years"), (AGE, "<=", 17, "years"))),
    ("HbA1c between >7.0 and =10.5 %", "inclusion", T(("hba1c", ">", 7, "%"), ("hba1c", "<=", 10.5, "%"))),
    # --- two limits joined by "and" or a comma, in an inclusion -----------------------------------------------------
    ("Age = 30 years and = 75 years", "inclusion", T((AGE, ">=", 30, "years"), (AGE, "<=", 75, "years"))),
    ("Men and women =40 and =80 years of age", "inclusion", T((AGE, ">=", 40, "years"), (AGE, "<=", 80, "years"))),
    ("Aged = 16 years of age and = 45 years of age", "inclusion",
     T((AGE, ">=", 16, "years"), (AGE, "<=", 45, "years"))),
    ("Ages =25 years old, < 60 years old", "inclusion", T((AGE, ">=", 25, "years"), (AGE, "<", 60, "years"))),
    ("age =20 and <85 years", "inclusion", T((AGE, ">=", 20, "years"), (AGE, "<", 85, "years"))),
    ("eGFR =30 mL/min/1.73 m2 and <90 mL/min/1.73 m2", "inclusion",
     T(("egfr", ">=", 30, "mL/min/1.73m2"), ("egfr", "<", 90, "mL/min/1.73m2"))),
    # --- must not become rules -----------------------------------------------------------------------------------------
    # an exclusion so written may mean either end ("under 30 or over 75")
    ("Age = 30 years and = 75 years", "exclusion", NotWhole(never="age")),
    ("aged =20 and <85 years", "exclusion", NotWhole(never="age")),
    # the higher value first: which is the minimum is a guess
    ("Age = 75 years and = 30 years", "inclusion", NotWhole(never="age")),
    # one limit written "=": a minimum, a maximum or the value itself
    ("Age = 30 years", "inclusion", NotWhole(never="age")),
    ("BMI =27 kg/m2", "inclusion", NotWhole(never="bmi")),
    # two values in different units are no range
    ("Weight = 50 kg and = 70 years", "inclusion", NotWhole(never="age")),
    # pregnancies that are not a current one: never read as `pregnant`
    ("Planning a pregnancy during the trial", "exclusion", NotWhole(never="pregnant")),
    ("Women who intend to become pregnant within 12 months", "exclusion", NotWhole(never="pregnant")),
    ("History of a twin pregnancy", "exclusion", NotWhole(never="pregnant")),
]


@pytest.mark.parametrize(("text", "kind", "expected"), ROWS, ids=[f"{r[1][:3]}: {r[0][:50]}" for r in ROWS])
def test_phrasing(text, kind, expected):
    assert verdict(text, kind, expected) == ""


@pytest.mark.parametrize(("text", "kind"), [(r[0], r[1]) for r in ROWS], ids=[f"{r[1][:3]}: {r[0][:50]}" for r in ROWS])
def test_every_rule_read_passes_the_source_check(text, kind):
    """Never more than the text: every variable and number of each rule occurs in its source span."""
    for rule in extract(text, kind).rules:
        assert faithful.check_rule(rule) is None, rule


def test_the_rule_says_how_the_flattened_pair_was_read():
    e = extract("Age = 30 years and = 75 years", "inclusion")
    assert "flattened" in e.rules[0].note


def test_an_exclusion_pair_is_still_reported_as_read():
    """Not computable, but not silent: both values are read and named as values without a comparator."""
    e = extract("Age = 30 years and = 75 years", "exclusion")
    assert sorted(t.value for t in e.unstated) == [30, 75]


# --- an inclusion whose subject is one sex holds for that sex only (draw 20261311, #3) ------------------------------

@pytest.mark.parametrize(("text", "sex"), [
    ("Male participants between 18 and 40 years-old", "male"),  # was `age >= age_min and age <= age_max`: admits women
    ("Women aged 30 to 60 years", "female"),
    ("Healthy men 20-45 years of age", "male"),
    ("Postmenopausal women at least 50 years old", "female"),
    ("Female, age =18 and =45 years", "female"),                # a comma before what is not another sex or group
])
def test_an_inclusion_of_one_sex_states_the_sex(text, sex):
    expression = extract(text, "inclusion").expression
    assert expression is not None and expression.startswith(f'sex == "{sex}" and age'), expression


@pytest.mark.parametrize("text", [
    "Men and women aged 18 to 65 years",
    "Male & female patients aged 18-70 years",
    "Healthy male and/or female subjects aged 18 to 55 years",  # was `sex == "male"` in an exclusion's reading too
    "Males or females, 18 to 75 years old",
    "Male, female or transgender, aged 18-65 years",
])
def test_both_sexes_named_add_no_sex(text):
    for kind in ("inclusion", "exclusion"):
        expression = extract(text, kind).expression or ""
        assert "sex" not in expression.split(), (kind, expression)
