"""Round 13: a rule about one named sex never silently admits or excludes the other (groups.py).

"Non-pregnant and non-lactating women" (an inclusion) was read `sex == "male" or not (pregnant or lactating)` from its
text alone: men, whom it does not name, were admitted without a word, while "Male participants between 18 and 40" was
read `sex == "male" and ...`, excluding women without a word. Now the registry's sex field decides, and the rule says
which reading it took: a trial of that sex only, the group is everyone (`sex == "female" and X`); a trial of all
sexes, the item applies to the named sex and the other passes (`sex == "male" or X`, noted); no field, the narrowest
reading, partial, with the group named as left out. Rows written afresh for this test, diabetes wording among them.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from project_paths import ROOT

from explorer.registry import faithful, import_trial, render_report
from explorer.registry.extract import extract
from explorer.registry.groups import named_group

FEMALE_ONLY = [
    # (text, inclusion expression for a women-only trial, for an all-sexes trial)
    ("Non-pregnant and non-lactating women",
     'sex == "female" and not (pregnant or lactating)', 'sex == "male" or not (pregnant or lactating)'),
    ("Women who are neither pregnant nor breast-feeding",
     'sex == "female" and not (pregnant or lactating)', 'sex == "male" or not (pregnant or lactating)'),
    ("Females must not be nursing an infant",
     'sex == "female" and not lactating', 'sex == "male" or not lactating'),
    ("Women aged 30 to 65 years with type 2 diabetes",
     None, None),  # the diabetes is read too; checked below through the sex term only
    ("Female patients older than 40 years",
     'sex == "female" and age > age_min', 'sex == "male" or age > age_min'),
]


@pytest.mark.parametrize(("text", "only", "every"), FEMALE_ONLY, ids=[r[0][:40] for r in FEMALE_ONLY])
def test_a_women_item_is_read_by_the_sexes_the_trial_enrols(text, only, every):
    women = extract(text, "inclusion", enrolled_sex="female")
    everyone = extract(text, "inclusion", enrolled_sex="all")
    unknown = extract(text, "inclusion")
    if only is not None:
        assert women.expression == only and everyone.expression == every
    assert women.expression.startswith('sex == "female" and')
    assert everyone.expression.startswith('sex == "male" or')
    # the reading is said, where the report shows it (first note)
    assert "enrols all sexes" in everyone.notes[0] and "men pass" in everyone.notes[0]
    assert "enrols women only" in women.notes[0]
    # no sex field: the narrowest reading (an inclusion never broader than its text), partial, the group named
    assert unknown.expression.startswith('sex == "female" and') and unknown.status == "partial"
    assert any("men are not named in the text" in n for n in unknown.notes)


def test_a_men_item_in_a_trial_of_all_sexes_lets_women_pass():
    text = "Male participants aged 35 to 70 years"
    assert extract(text, "inclusion", enrolled_sex="all").expression == \
        'sex == "female" or age >= age_min and age <= age_max'
    assert extract(text, "inclusion", enrolled_sex="male").expression == \
        'sex == "male" and age >= age_min and age <= age_max'
    e = extract(text, "inclusion")
    assert e.expression == 'sex == "male" and age >= age_min and age <= age_max' and e.status == "partial"
    assert any("women are not named in the text" in n for n in e.notes)


def test_an_exclusion_about_one_sex_excludes_that_sex_only_whatever_the_trial_enrols():
    for sex in (None, "all", "female", "male"):
        e = extract("Pregnant or breastfeeding women", "exclusion", enrolled_sex=sex)
        assert e.expression == 'sex == "female" and (pregnant or lactating)'
        e = extract("Postmenopausal women with a BMI above 40 kg/m2", "exclusion", enrolled_sex=sex)
        assert e.expression is None or e.expression.startswith('sex == "female" and')


def test_women_who_could_become_pregnant_are_a_condition_so_everyone_else_passes():
    # the text makes the group a condition (women who cannot become pregnant pass): men pass too, with or without field
    for sex in (None, "all", "female"):
        e = extract("Women of childbearing potential must have a negative urine pregnancy test", "inclusion",
                    enrolled_sex=sex)
        assert e.expression == 'sex == "male" or not childbearing_potential or not pregnant'
        assert "who could become pregnant" in e.notes[0]


@pytest.mark.parametrize(("text", "kind"), [
    # negative cases: no group of one sex as the subject, nothing changes with the field
    ("Not pregnant or nursing", "inclusion"),                       # pregnancy alone names no group
    ("Male or female, 18 to 65 years of age", "inclusion"),         # both sexes
    ("Men and women aged 40-75 years", "inclusion"),
    ("Pregnant partners of male participants", "exclusion"),        # someone else than the participant
    ("Female hormone replacement therapy within 3 months", "exclusion"),  # an adjective of a thing
    ("History of breast cancer in women", "exclusion"),             # a group inside another phrase
    ("Haemoglobin below 12 g/dL in women or 13 g/dL in men", "exclusion"),  # per-sex limits (merge_sex_specific)
    ("For women of childbearing potential, a negative pregnancy test", "inclusion"),  # a condition, stated
])
def test_no_named_group_means_no_change(text, kind):
    readings = {extract(text, kind, enrolled_sex=sex).expression for sex in (None, "all", "female", "male")}
    assert len(readings) == 1


def test_the_group_reaches_only_its_own_phrase():
    # the age is the children's, not the women's
    e = extract("Pregnant women and young children aged under 18 years", "exclusion")
    assert e.expression == 'sex == "female" and pregnant or age < age_min'
    # a clause after a semicolon is another item
    e = extract("Age 18 years or older; women must not be pregnant", "inclusion", enrolled_sex="all")
    assert e.expression == 'age >= age_min and (sex == "male" or not pregnant)'
    assert named_group("Partners of women aged 18-40") is None
    assert named_group("Patients with diabetes in men") is None


def _study(sex: str | None, criteria: str) -> dict:
    eligibility = {"eligibilityCriteria": criteria, "minimumAge": "18 Years"}
    if sex is not None:
        eligibility["sex"] = sex
    return {"protocolSection": {
        "identificationModule": {"nctId": "NCT09999913", "briefTitle": "A trial written for this test"},
        "eligibilityModule": eligibility}}


@pytest.mark.parametrize(("sex", "expected", "note"), [
    ("ALL", 'sex == "male" or not (pregnant or lactating)', "enrols all sexes"),
    ("FEMALE", 'sex == "female" and not (pregnant or lactating)', "enrols women only"),
    (None, 'sex == "female" and not (pregnant or lactating)', "men are not named in the text"),
])
def test_the_record_sex_field_decides_and_the_report_says_so(tmp_path, sex, expected, note):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(_study(sex, "Inclusion Criteria:\n\n* Non-pregnant, non-lactating women\n* HbA1c "
                                           "7.0% to 10.5%\n\nExclusion Criteria:\n\n* eGFR below 30")))
    trial, report = import_trial(path)
    criterion = trial.criterion("I1")
    assert criterion.expression == expected and note in criterion.note
    assert note in render_report(report)
    assert note in render_report(report, "markdown")


def test_every_group_reading_passes_the_source_check():
    for text, *_ in FEMALE_ONLY:
        for sex in (None, "all", "female", "male"):
            for rule in extract(text, "inclusion", enrolled_sex=sex).rules:
                assert not faithful.check_rule(rule)


# --- a group's own limit in brackets, the group named by a condition ("if", "in case of") -----------------------------
@pytest.mark.parametrize(("text", "kind", "group"), [
    ("Serum bilirubin < 1.5 x ULN (< 3 x ULN if Gilbert's syndrome)", "inclusion", "gilbert_syndrome"),
    ("Total bilirubin ≤ 1.5 × ULN (≤ 3 × ULN in case of Gilbert syndrome)", "inclusion", "gilbert_syndrome"),
    ("AST or ALT above 3 x ULN (above 5 x ULN if liver metastases)", "exclusion", "liver_metastases"),
    ("HbA1c of 8.0% or less (9.0% or less if treated with insulin)", "inclusion", "on_insulin"),
])
def test_a_groups_own_limit_under_if_is_stated_per_group(text, kind, group):
    # was: non-computable ("a threshold applies only under a condition"), although each group's limit is stated
    e = extract(text, kind)
    assert e.status == "computable" and e.expression.startswith(f"{group} and ")
    assert f"not {group} and " in e.expression
    assert all(not faithful.check_rule(r) for r in e.rules)


@pytest.mark.parametrize("text", [
    "Bilirubin < 1.5 x ULN (< 3 x ULN if Gilbert's syndrome is suspected)",  # more than the group: a suspicion
    "Bilirubin < 1.5 x ULN (> 3 x ULN if Gilbert's syndrome)",               # another direction: not a group's limit
    "ALT ≤ 2.5 × ULN (≤ 5 × ULN when liver metastases are present)",          # words after the group
])
def test_a_bracket_that_says_more_than_a_group_stays_unread(text):
    assert extract(text, "inclusion").expression is None


# --- a threshold under a condition the catalogue reads: "X if C" is the pair "X for patients with C" -----------------
@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("HbA1c above 10.5% if on insulin", "exclusion", "on_insulin and hba1c > hba1c_max"),
    ("HbA1c of 9.5% or less when treated with insulin", "inclusion", "not on_insulin or hba1c <= hba1c_max"),
    ("Systolic blood pressure over 150 mmHg if on antihypertensive treatment", "exclusion",
     "antihypertensive_treatment and systolic_bp > systolic_bp_max"),
    ("eGFR below 45 mL/min/1.73 m2 in case of liver metastases", "exclusion", "liver_metastases and egfr < egfr_min"),
])
def test_a_threshold_under_if_a_read_condition_holds_for_that_group_only(text, kind, expected):
    # was: non-computable ("a threshold applies only under a condition")
    e = extract(text, kind)
    assert e.expression == expected and e.status == "computable"


@pytest.mark.parametrize("text", [
    "HbA1c above 10.5% if possible",                                       # no group: a hedge
    "HbA1c above 10.5% or BMI over 40 kg/m2 if on insulin",                 # binds the last or both: not guessed
    "Systolic blood pressure over 150 mmHg if on antihypertensive treatment and taking aspirin",  # more than C
])
def test_a_condition_that_is_not_one_read_group_stays_unread(text):
    assert extract(text, "exclusion").expression is None


# --- "from X up to Y": a range; a first limit after "from" without a comparator is never silently dropped -------------
@pytest.mark.parametrize(("text", "expected"), [
    ("HbA1c from 7.5% up to 10%", "hba1c >= hba1c_min and hba1c <= hba1c_max"),
    ("Body mass index from 25 up to and including 40 kg/m2", "bmi >= bmi_min and bmi <= bmi_max"),
    ("Age from 30 until 70 years", "age >= age_min and age <= age_max"),
])
def test_from_up_to_is_a_range(text, expected):
    # was: "HbA1c from 7% up to 10%" read as hba1c <= hba1c_max alone, computable (broader than the inclusion)
    e = extract(text, "inclusion")
    assert e.expression == expected and e.status == "computable"


@pytest.mark.parametrize("text", ["HbA1c from 7% and not more than 10%", "Age from 21 and under 60 years"])
def test_a_first_limit_after_from_is_named_when_unread(text):
    # was: computable with the upper limit only, the lower one dropped unsaid
    e = extract(text, "inclusion")
    assert e.status != "computable"


def test_from_before_a_time_is_no_range():
    assert extract("Insulin therapy from 2 years up to 10 years before screening", "inclusion").expression is None


# --- the evaluation script: the square of a unit is no gold threshold ------------------------------------------------
@pytest.mark.parametrize(("value", "numbers"), [
    ("> 30 kg.m-2", [30.0]), ("19 - 24.9 kg/m^2", [19.0, 24.9]), ("30 kg m⁻²", [30.0]),
    ("< 30 mL/min/1.73m^2", [30.0]),
    # negative cases: the numbers of a range and a power of ten's mantissa stay
    ("18-64", [18.0, 64.0]), ("1.5 x 10^9/L", [1.5]), ("2-3 m", [2.0, 3.0]),
])
def test_the_square_of_a_unit_is_no_gold_number(value, numbers):
    # was: "kg.m-2" and "kg/m^2" gave a gold threshold of 2 besides the real one, a miss no reading could match
    spec = importlib.util.spec_from_file_location("evaluate_import_r13", ROOT / "scripts" / "evaluate_import.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    assert module.numbers_of(value) == numbers


# --- "greater or equal than", "less or equal to": >= and <= in non-native wording ----------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("HbA1c greater or equal than 7.5%", "hba1c >= hba1c_min"),
    ("Creatinine clearance more or equal to 45 mL/min", "creatinine_clearance >= creatinine_clearance_min"),
    ("Age superior or equal to 40 years", "age >= age_min"),
    ("BMI less or equal to 32 kg/m2", "bmi <= bmi_max"),
    ("HbA1c lower or equal than 9%", "hba1c <= hba1c_max"),
])
def test_or_equal_without_than_is_read(text, expected):
    # was: not read ("values not read")
    e = extract(text, "inclusion")
    assert e.expression == expected and e.status == "computable"


# --- a random glucose written as the diagnostic criterion words it ---------------------------------------------------
@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("Plasma glucose at any time of 11.1 mmol/L or more", "inclusion", "random_glucose >= random_glucose_min"),
    ("Blood glucose measured at any time of the day above 250 mg/dL", "exclusion",
     "random_glucose > random_glucose_max"),
])
def test_glucose_at_any_time_is_a_random_glucose(text, kind, expected):
    assert extract(text, kind).expression == expected


def test_a_glucose_of_unstated_timing_stays_unread():
    # negative case: no fasting, random or meal word: the timing is not stated (unstated.py)
    assert extract("Plasma glucose above 250 mg/dL", "exclusion").expression is None


# --- a lab list joined by "and/or" shares its value; a method named in brackets between a lab and its value ----------
@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("AST and/or ALT above 3 x ULN", "exclusion", "ast > uln_multiple * ast_uln or alt > uln_multiple * alt_uln"),
    ("Serum ALT and/or AST ≤ 2 × ULN", "inclusion", "alt <= uln_multiple * alt_uln and ast <= uln_multiple * ast_uln"),
    ("Estimated GFR (CKD-EPI) of 60 mL/min/1.73 m² or more", "inclusion", "egfr >= egfr_min"),
    ("eGFR (MDRD) below 45 mL/min/1.73m2", "exclusion", "egfr < egfr_min"),
    ("Creatinine clearance (Cockcroft-Gault formula) < 40 mL/min", "exclusion",
     "creatinine_clearance < creatinine_clearance_min"),
])
def test_and_or_lists_and_bracketed_methods(text, kind, expected):
    # was: "AST and/or ALT" read the last lab only (the first dropped), a bracketed method name blocked the value
    e = extract(text, kind)
    assert e.expression == expected and e.status == "computable"


def test_a_bracket_that_is_no_method_still_blocks_the_value():
    # negative case: a condition in brackets between a lab and its value is not skipped
    assert extract("eGFR (if on metformin) below 45 mL/min/1.73m2", "exclusion").expression != "egfr < egfr_min"


# --- "<diabetes> with (a) duration of ...": the diabetes' duration -------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("Type 1 diabetes mellitus with duration > 2 years",
     'diabetes_type == "T1D" and diabetes_duration > diabetes_duration_min'),
    ("Type 2 diabetes with a duration of at least 6 months",
     'diabetes_type == "T2D" and diabetes_duration >= diabetes_duration_min'),
])
def test_a_duration_after_the_diabetes_is_its_duration(text, expected):
    # was: partial, diabetes_type only, the duration named as unread
    assert extract(text, "inclusion").expression == expected


def test_a_treatments_duration_is_not_the_diabetes():
    e = extract("Type 2 diabetes treated with metformin for a duration of at least 3 months", "inclusion")
    assert "diabetes_duration" not in (e.expression or "")


# --- "older/younger than N" said of people, without a unit: an age in years ------------------------------------------
@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("Patients older than 75", "exclusion", "age > age_max"),
    ("Participants who are younger than 21", "exclusion", "age < age_min"),
    ("Older than 65", "exclusion", "age > age_max"),
])
def test_older_than_a_bare_number_is_an_age(text, kind, expected):
    # was: not read (no unit)
    e = extract(text, kind)
    assert e.expression == expected
    assert [t.unit for r in e.rules for t in r.thresholds] == ["years"]


@pytest.mark.parametrize("text", ["Lesions older than 3", "Diabetes onset older than 30"])
def test_older_than_said_of_a_thing_is_no_age(text):
    assert extract(text, "exclusion").expression is None


# --- one comparator for both sexes' limits: "above 1.5 mg/dL for men and 1.4 mg/dL for women" --------------------------
@pytest.mark.parametrize(("text", "op"), [
    ("Serum creatinine above 1.6 mg/dl for men and 1.3 mg/dl for women", ">"),
    ("Creatinine ≥ 1.5 mg/dL in males or 1.4 mg/dL in females", ">="),
])
def test_the_second_sex_shares_the_first_comparator(text, op):
    # was: non-computable, the second value without comparator
    e = extract(text, "exclusion")
    assert e.expression == (f'sex == "male" and creatinine {op} creatinine_max or sex == "female" and creatinine {op} '
                            f'creatinine_max_2 or creatinine {op} creatinine_max and creatinine {op} creatinine_max_2')


@pytest.mark.parametrize("text", [
    "Serum creatinine above 1.5 mg/dl for men and 1.4 mg/dl for men",  # the same sex twice
    "Creatinine above 1.5 mg/dl for men and 1.4 mg/dl",                 # the second value names no sex
])
def test_no_shared_comparator_without_the_other_sex(text):
    assert extract(text, "exclusion").expression is None


# --- adults named as the subject: the registry's minimum age decides whether the word adds anything ----------------
@pytest.mark.parametrize("text", ["Adults with BMI of 32 kg/m2 or more", "Adults with type 1 diabetes"])
def test_adults_as_the_subject(text):
    # was: computable with "adults" dropped unsaid (the word is not counted as left over)
    unknown = extract(text, "inclusion")
    assert unknown.status == "partial" and any("adults; younger people are not named" in n for n in unknown.notes)
    younger = extract(text, "inclusion", minimum_age=12)
    assert younger.status == "partial"
    adults_only = extract(text, "inclusion", minimum_age=18)
    assert adults_only.status == "computable" and "enrols adults only" in adults_only.notes[0]
    assert adults_only.expression == unknown.expression


def test_adults_with_their_age_stated_need_no_group():
    e = extract("Adults (18 years or older) with BMI of 32 kg/m2 or more", "inclusion")
    assert e.status == "computable" and e.expression == "age >= age_min and bmi >= bmi_min"


@pytest.mark.parametrize(("text", "expected"), [
    ("Women of childbearing potential who are neither pregnant nor lactating",
     'sex == "male" or not childbearing_potential or not (pregnant or lactating)'),
    ("Women of child-bearing potential must not be nursing", 'sex == "male" or not childbearing_potential or not lactating'),
])
def test_women_of_childbearing_potential_state_the_condition(text, expected):
    # was: sex == "male" or not (...), partial, "childbearing potential" named as left out although it is the group
    e = extract(text, "inclusion", enrolled_sex="all")
    assert e.expression == expected and e.status == "computable"


def test_multiple_endocrine_neoplasia_is_no_group_of_men():
    assert named_group("MEN 2 or medullary thyroid carcinoma with calcitonin above 50 ng/L") is None
    assert named_group("MEN2A in a first-degree relative") is None
    assert named_group("Men aged 40 to 70 years") == ("male", 0, len("Men aged 40 to 70 years"))
