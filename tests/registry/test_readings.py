"""Rules built from attached values (explorer/registry/readings.py): thresholds stated per sex."""

from __future__ import annotations

from registry_helpers import evaluate

from explorer import expr
from explorer.registry.extract import extract


def test_a_sex_named_before_each_threshold_gives_each_sex_its_limit():
    # was: `bmi > bmi_max or bmi > bmi_max_2`, non-computable ("different thresholds for the same variable")
    e = extract("Severe obesity (men with a BMI over 45 kg/m2, or women with a BMI over 40 kg/m2)", "exclusion")
    assert e.status == "computable"
    values = {k: v["value"] for k, v in e.parameters.items()}
    tree = expr.parse(e.expression)
    assert evaluate(tree, {"sex": "female", "bmi": 42}, values) is True
    assert evaluate(tree, {"sex": "male", "bmi": 42}, values) is False
    assert evaluate(tree, {"sex": "male", "bmi": 46}, values) is True


def test_the_criterion_subject_is_not_taken_for_a_per_sex_threshold():
    # "Women with ..." at the start is who the criterion is about (subject_sex), not one of two limits
    e = extract("Women with a BMI over 40 kg/m2", "exclusion")
    assert e.expression == 'sex == "female" and bmi > bmi_max'


def test_tests_joined_by_and_under_one_multiple_are_read_as_either_and_the_note_says_the_text_said_and():
    # "AST and ALT > 3 x ULN" may mean both raised; either excluding is never more eligible than the text,
    # but it says more than the words, so the note must say so (it said only "any one excludes")
    joined = extract("Aspartate aminotransferase and alanine aminotransferase above 4 x ULN", "exclusion")
    assert joined.status == "computable"
    assert "joins them with 'and'" in " ".join(r.note for r in joined.rules)
    either = extract("ALT or AST above 4 x ULN", "exclusion")
    assert "joins them with 'and'" not in " ".join(r.note for r in either.rules)
    assert "any one excludes" in " ".join(r.note for r in either.rules)
    assert joined.expression.count(" or ") == 1 == either.expression.count(" or ")


def _per_subject(e, **subject):
    return evaluate(expr.parse(e.expression), subject, {k: v["value"] for k, v in e.parameters.items()})


def test_limits_per_sex_separated_by_a_slash_each_bind_their_sex():
    # was: the second limit unread ("values not read"), the criterion non-computable
    e = extract("Serum creatinine above 1.6 mg/dL (men) / above 1.3 mg/dL (women)", "exclusion")
    assert e.status == "computable", e.notes
    # 1.5 mg/dL (133 umol/L) is over the women's limit only; an unknown sex stays unknown
    assert _per_subject(e, sex="female", creatinine=133.0) is True
    assert _per_subject(e, sex="male", creatinine=133.0) is False
    assert _per_subject(e, sex=None, creatinine=133.0) is None


def test_respectively_after_a_pair_of_sexes_is_read_with_the_pair():
    # was: partial, "leaves out 'respectively'"
    e = extract("eGFR at least 55 and at least 50 mL/min/1.73 m2 for men and women, respectively", "inclusion")
    assert e.status == "computable", e.notes
    assert _per_subject(e, sex="female", egfr=52.0) is True
    assert _per_subject(e, sex="male", egfr=52.0) is False


def test_a_study_of_a_particular_kind_is_not_read_as_any_interventional_trial():
    # was: count(trial_participation, within_days=60) (draw 20261236, #40): it excluded people in a device or
    # behavioural trial, whom the text keeps
    e = extract("Participation in another vaccine study within 60 days", "exclusion")
    assert e.expression is None
    assert any("a kind of study" in n and "vaccine" in n for n in e.notes), e.notes
    e = extract("Participation in another interventional study within 60 days", "exclusion")
    assert e.expression == "count(trial_participation, within_days=60) >= trial_participation_max"


def test_pregnancy_named_as_a_time_is_not_a_current_pregnancy():
    # was: `sex == "female" and pregnant` (draw 20261237, #14): in an exclusion it excluded every pregnant woman
    for text in ("Alcohol use during the second trimester of pregnancy", "Any opioid use throughout pregnancy"):
        e = extract(text, "exclusion")
        assert e.expression is None, (text, e.expression)
        assert any("names a time" in n for n in e.notes), e.notes
    assert extract("Currently pregnant", "exclusion").expression == 'sex == "female" and pregnant'
    # a trimester that says who is pregnant now is still read (an inclusion that admits every pregnancy, named)
    assert extract("Singleton gestation in the second trimester of pregnancy", "inclusion").expression is not None


# --- dated histories of catalogue events (round 7): count(event, within_days=N) -------------------------------------

def test_a_myocardial_infarction_within_a_window_is_a_dated_count():
    e = extract("Heart attack during the last 3 months", "exclusion")
    assert e.expression == "count(myocardial_infarction, within_days=91) >= myocardial_infarction_max"
    assert e.parameters["myocardial_infarction_max"]["value"] == 1


def test_a_stroke_within_a_window_is_a_dated_count():
    e = extract("Cerebrovascular accident within the past 12 months", "exclusion")
    assert e.expression == "count(stroke, within_days=365) >= stroke_max"


def test_a_window_after_another_item_is_not_taken_for_an_earlier_event():
    # "stroke, or heart attack within 6 months": the window may be the heart attack's only; read for the stroke too,
    # the exclusion would keep everyone whose stroke was longer ago, which the text excludes
    e = extract("Prior stroke, or heart attack within 6 months of screening", "exclusion")
    assert "stroke" not in (e.expression or "")
    assert "count(myocardial_infarction, within_days=182)" in e.expression
    assert e.status == "partial" and "stroke" in " ".join(e.notes)


def test_a_comma_before_the_window_of_one_event_is_no_other_item():
    e = extract("More than two episodes of severe hypoglycaemia, within 1 year before screening", "exclusion")
    assert e.expression is not None and "count(severe_hypoglycemia, within_days=365)" in e.expression
