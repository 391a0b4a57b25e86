"""A threshold stated for a group the catalogue names holds for that group only (explorer/registry/conditions.py).

Sentences written for these tests; each checks the expression and what it means for people in and out of the group.
"""

from __future__ import annotations

from registry_helpers import evaluate

from explorer import expr
from explorer.registry.extract import extract


def _values(e):
    return {k: v["value"] for k, v in e.parameters.items()}


def _decide(e, **subject):
    return evaluate(expr.parse(e.expression), subject, _values(e))


def test_an_inclusion_threshold_for_a_group_binds_only_that_group():
    # was: non-computable ("an exception the rule cannot state"); read alone it would fail everyone over 9 %
    e = extract("HbA1c under 9% for participants treated with insulin", "inclusion")
    assert e.status == "computable"
    assert e.expression == "not on_insulin or hba1c < hba1c_max"
    assert _decide(e, on_insulin=False, hba1c=10.5) is True      # not in the group: not bound by it
    assert _decide(e, on_insulin=True, hba1c=10.5) is False
    assert _decide(e, on_insulin=True, hba1c=7.5) is True
    assert _decide(e, on_insulin=None, hba1c=10.5) is None       # group unknown: unknown, never eligible


def test_an_exclusion_threshold_for_a_group_excludes_only_that_group():
    e = extract("Fasting plasma glucose over 13 mmol/L in patients with type 1 diabetes", "exclusion")
    assert e.expression == 'diabetes_type == "T1D" and fasting_glucose > fasting_glucose_max'
    assert _decide(e, diabetes_type="T2D", fasting_glucose=15.0) is False
    assert _decide(e, diabetes_type="T1D", fasting_glucose=15.0) is True


def test_a_group_defined_by_age_is_a_condition_too():
    e = extract("BMI from 20 to 35 kg/m2 for patients aged 12 to 17 years", "inclusion")
    assert e.status == "computable"
    assert _decide(e, age=40, bmi=38) is True
    assert _decide(e, age=15, bmi=38) is False


def test_the_general_limit_and_the_group_limit_each_hold_for_their_own_people():
    e = extract("HbA1c ≤ 8.0% (HbA1c ≤ 10.0% for subjects on insulin)", "inclusion")
    assert e.status == "computable"
    assert _decide(e, on_insulin=True, hba1c=9.0) is True
    assert _decide(e, on_insulin=False, hba1c=9.0) is False
    assert _decide(e, on_insulin=False, hba1c=7.5) is True
    assert _decide(e, on_insulin=True, hba1c=10.5) is False
    x = extract("AST > 2.5 x ULN (AST > 5 x ULN in patients with HIV infection)", "exclusion")
    assert _decide(x, hiv_positive=True, ast=100, ast_uln=30) is False    # 3.3 x ULN: under the group's limit
    assert _decide(x, hiv_positive=False, ast=100, ast_uln=30) is True


def test_a_group_not_read_whole_keeps_the_criterion_non_computable():
    # "who use a pump" narrows the group; merged without it, the rule would bind people the text does not
    e = extract("HbA1c < 8% for patients with type 2 diabetes who use a pump", "inclusion")
    assert e.expression is None
    # a group the catalogue cannot name at all
    e = extract("ALT or AST above 3 x ULN for patients with bone metastases", "exclusion")
    assert e.expression is None


def test_an_age_limit_for_a_group_is_not_left_to_the_registry_age_fields():
    # the structured age fields replace general age limits only; this one binds people with type 1 diabetes alone
    e = extract("Age 16 years or older for patients with type 1 diabetes", "inclusion", skip_variables=("age",))
    assert not e.skipped
    assert e.expression == 'not diabetes_type == "T1D" or age >= age_min'


# --- a group the pregnancy rule already states (conditions.pregnancy_groups) ------------------------------------

def test_a_negative_test_required_of_women_who_could_be_pregnant_is_the_test_rule_itself():
    # was: non-computable ("a threshold applies only under a condition"), though the rule holds for that group only
    e = extract("If a woman and of reproductive potential, has a negative serum pregnancy test", "inclusion")
    assert e.status == "computable", e.notes
    assert _decide(e, sex="male", childbearing_potential=None, pregnant=None) is True
    assert _decide(e, sex="female", childbearing_potential=False, pregnant=None) is True
    assert _decide(e, sex="female", childbearing_potential=True, pregnant=True) is False
    assert _decide(e, sex=None, childbearing_potential=True, pregnant=True) is None  # sex unknown: unknown


def test_a_group_after_the_rule_in_brackets_or_with_for():
    e = extract("Must not be breast-feeding (for female participants)", "inclusion")
    assert e.status == "computable", e.notes
    assert _decide(e, sex="male", lactating=None) is True
    assert _decide(e, sex="female", lactating=True) is False


def test_an_exclusion_for_women_of_childbearing_potential_states_that_condition():
    e = extract("For females of child-bearing potential, lactation", "exclusion")
    assert e.status == "computable", e.notes
    # lactating women who cannot become pregnant are not excluded by this text
    assert _decide(e, sex="female", childbearing_potential=False, lactating=True) is False
    assert _decide(e, sex="female", childbearing_potential=True, lactating=True) is True
    assert _decide(e, sex="female", childbearing_potential=None, lactating=True) is None


def test_an_inclusion_for_women_of_childbearing_potential_binds_only_them():
    e = extract("Not currently nursing (in women of childbearing potential)", "inclusion")
    assert e.status == "computable", e.notes
    assert _decide(e, sex="female", childbearing_potential=False, lactating=True) is True
    assert _decide(e, sex="female", childbearing_potential=True, lactating=True) is False


def test_a_group_with_more_to_it_than_sex_and_potential_stays_a_condition():
    # "women over 40" and "women with diabetes" are not the group the pregnancy rule states
    for text in ("For women older than 40 years, pregnancy", "For women with lupus, pregnancy or lactation",
                 "For women of childbearing age, a negative pregnancy test"):
        e = extract(text, "exclusion" if "lupus" in text or "older" in text else "inclusion")
        assert e.expression is None, (text, e.expression)


# --- a group excepted from a threshold ("unless C"), round 7 -------------------------------------------------------

def test_an_exclusion_threshold_unless_a_group_excludes_everyone_else_over_it():
    # was: non-computable ("an exception the rule cannot state"): Gilbert's syndrome was no catalogue variable
    e = extract("Serum bilirubin above 2 x ULN, unless the participant has Gilbert's syndrome", "exclusion")
    assert e.status == "computable", e.notes
    subject = {"bilirubin": 50.0, "bilirubin_uln": 20.0}                      # 2.5 x ULN
    assert _decide(e, **subject, gilbert_syndrome=False) is True            # excluded
    assert _decide(e, **subject, gilbert_syndrome=True) is False            # excepted
    assert _decide(e, **subject, gilbert_syndrome=None) is None
    assert _decide(e, bilirubin=30.0, bilirubin_uln=20.0, gilbert_syndrome=None) is False  # under the limit anyway


def test_an_inclusion_threshold_except_for_a_group_is_either():
    e = extract("ALT at most 3 x ULN, except for subjects with liver metastases", "inclusion")
    assert e.status == "computable", e.notes
    assert _decide(e, alt=200.0, alt_uln=40.0, liver_metastases=True) is True
    assert _decide(e, alt=200.0, alt_uln=40.0, liver_metastases=False) is False


def test_unless_due_to_a_group_names_the_cause_it_cannot_tell():
    # the rule excepts everyone with Gilbert's syndrome, also one whose high bilirubin has another cause: named
    e = extract("Total bilirubin over 1.5 x ULN unless caused by Gilbert syndrome", "exclusion")
    assert e.status == "partial"
    assert any("caused by Gilbert syndrome" in n for n in e.notes)


def test_unless_with_more_words_after_the_group_is_not_merged():
    # "unless Gilbert's syndrome is documented and ..." : the clause goes on, the group is not all of it
    e = extract("Total bilirubin over 1.5 x ULN unless Gilbert's syndrome and direct bilirubin is normal", "exclusion")
    assert e.expression is None or "gilbert_syndrome" not in e.expression
