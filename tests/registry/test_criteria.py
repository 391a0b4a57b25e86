"""Splitting eligibility text into inclusion/exclusion criteria, whatever the list style."""

from __future__ import annotations

from explorer.registry.criteria import split_criteria


def kinds_texts(text):
    return [(c.kind, c.text) for c in split_criteria(text)]


def test_markdown_bullets_with_nesting():
    text = ("Inclusion Criteria:\n\n* Age 18 years or older\n* Willing to:\n  * wear a sensor\n  * log meals\n\n"
            "Exclusion Criteria:\n\n* Pregnancy\n")
    out = split_criteria(text)
    assert [(c.kind, c.text, c.context) for c in out] == [
        ("inclusion", "Age 18 years or older", ""), ("inclusion", "wear a sensor", "Willing to"),
        ("inclusion", "log meals", "Willing to"), ("exclusion", "Pregnancy", "")]
    assert out[1].full_text == "Willing to: wear a sensor"


def test_numbered_and_wrapped_legacy_style():
    text = ("Inclusion Criteria:\n\n  1. Have type 2 diabetes mellitus for at least\n     1 year.\n\n"
            "  2. Are at least 18 years old.\n\nExclusion Criteria\n\n  1. Creatinine > 1.5 mg/dL.\n")
    assert kinds_texts(text) == [("inclusion", "Have type 2 diabetes mellitus for at least 1 year."),
                                 ("inclusion", "Are at least 18 years old."),
                                 ("exclusion", "Creatinine > 1.5 mg/dL.")]


def test_run_on_single_line():
    text = ("Eligibility Criteria: Inclusion Criteria: 1. Aged 15-40 years; 2. HbA1c 8%-12%; 3. Gold score<4; "
            "Exclusion Criteria: * eGFR<60 * Pregnancy")
    assert kinds_texts(text) == [("inclusion", "Aged 15-40 years;"), ("inclusion", "HbA1c 8%-12%;"),
                                 ("inclusion", "Gold score<4;"), ("exclusion", "eGFR<60"), ("exclusion", "Pregnancy")]


def test_decimals_are_not_list_numbers():
    assert kinds_texts("Inclusion Criteria:\n- HbA1c 7.5 - 10.0 % and glucose 7.0 mmol/L") == [
        ("inclusion", "HbA1c 7.5 - 10.0 % and glucose 7.0 mmol/L")]


def test_heading_spellings_and_paragraphs():
    text = ("-  INCLUSION CRITERIA:\n\nPatients with diabetes.\n\nKey exclusion criteria\n"
            "- Prior transplant\n(a) Active infection\nb) Cancer\n")
    assert kinds_texts(text) == [("inclusion", "Patients with diabetes."), ("exclusion", "Prior transplant"),
                                 ("exclusion", "Active infection"), ("exclusion", "Cancer")]


def test_unmarked_one_per_line():
    text = "Inclusion Criteria:\n\nType 2 diabetes;\nAge 18-75 years;\n19≤BMI≤30;\n\nExclusion Criteria:\n\nFever."
    assert kinds_texts(text) == [("inclusion", "Type 2 diabetes;"), ("inclusion", "Age 18-75 years;"),
                                 ("inclusion", "19≤BMI≤30;"), ("exclusion", "Fever.")]


def test_one_of_the_following_stays_one_inclusion_criterion():
    text = ("Inclusion Criteria:\n\nEligible if they show one of the following:\n\n  -  A\n\n  -  B\n\n"
            "Exclusion Criteria:\n\nAny of the following:\n  - C\n  - D\n")
    out = kinds_texts(text)
    assert out[0] == ("inclusion", "Eligible if they show one of the following: A; B")
    assert out[1:] == [("exclusion", "C"), ("exclusion", "D")]


def test_reference_to_a_criterion_is_not_a_heading():
    out = kinds_texts("Exclusion Criteria:\n1. Drugs not included in Inclusion Criterion [3] in the past 3 months.")
    assert out == [("exclusion", "Drugs not included in Inclusion Criterion [3] in the past 3 months.")]


def test_no_heading_gives_unknown_kind_and_nothing_is_dropped():
    out = split_criteria("- Adults\n- No fever")
    assert [(c.kind, c.text) for c in out] == [("unknown", "Adults"), ("unknown", "No fever")]
    assert split_criteria("") == [] and split_criteria("   \n ") == []


def test_other_languages_headings_split():
    out = split_criteria("Critères d'inclusion :\n- Diabète de type 1\nCritères d'exclusion :\n- Grossesse")
    assert [(c.kind, c.text) for c in out] == [("inclusion", "Diabète de type 1"), ("exclusion", "Grossesse")]


def test_huge_text_is_bounded_and_fast():
    text = "Inclusion Criteria:\n" + "".join(f"- HbA1c above {i % 9 + 5}% item {i}\n" for i in range(5000))
    assert len(text) > 100_000
    out = split_criteria(text)
    assert 0 < len(out) <= 500
