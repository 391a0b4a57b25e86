""""At least n of the following" read as one at_least rule (explorer/registry/counted.py), and split as one criterion.

Sentences written for these tests. Before, each alternative under "at least two of the following:" became a criterion
of its own, so an inclusion required all of them: people meeting two of three failed a text that admits them.
"""

from __future__ import annotations

from cohort_helpers import screening

from explorer import expr
from explorer.engine.memory import evaluate_expression
from explorer.registry import split_criteria
from explorer.registry.extract import extract

TRUE, FALSE, UNKNOWN = 1, 0, 2  # truth codes of the expression (an exclusion's is true for whom it excludes)
LIST = """Inclusion Criteria:
- At least two of the following:
  - BMI of 32 kg/m2 or more
  - glycated haemoglobin 6.0% or higher
  - systolic blood pressure of 150 mmHg or above
Exclusion Criteria:
- Any two of the following:
  - BMI above 50 kg/m2
  - older than 80 years
"""


def _codes(e, **columns):
    params = {k: v["value"] for k, v in e.parameters.items()}
    tree = expr.compile_expression(e.expression, parameters={k: v.get("unit") for k, v in e.parameters.items()})
    return evaluate_expression(tree, screening(**columns), params).codes().tolist()


def test_a_counted_list_is_one_criterion_in_both_kinds():
    pieces = split_criteria(LIST)
    assert [p.kind for p in pieces] == ["inclusion", "exclusion"]
    assert "glycated haemoglobin" in pieces[0].text and "older than 80" in pieces[1].text


def test_at_least_two_of_three_admits_whoever_meets_two():
    inclusion = split_criteria(LIST)[0]
    e = extract(inclusion.text, "inclusion")
    assert e.status == "computable", e.notes
    assert e.expression.startswith("at_least(2, ")
    # meets BMI and HbA1c, not the blood pressure; meets one only; one unknown that could make two
    assert _codes(e, bmi=[35.0, 35.0, 35.0], hba1c=[6.5, 5.0, None], systolic_bp=[120.0, 120.0, 120.0]) == \
        [TRUE, FALSE, UNKNOWN]


def test_an_exclusion_needs_the_count_too():
    e = extract(split_criteria(LIST)[1].text, "exclusion")
    assert e.status == "computable", e.notes
    assert _codes(e, bmi=[55.0, 55.0], age=[60.0, 85.0]) == [FALSE, TRUE]  # one alone does not exclude


def test_an_inline_count_reads_one_alternative_per_rule():
    e = extract("Two or more of: BMI over 30 kg/m2, HbA1c above 6.5% or fasting glucose above 7 mmol/L", "inclusion")
    assert e.expression == "at_least(2, bmi > bmi_min, hba1c > hba1c_min, fasting_glucose > fasting_glucose_min)"


def test_an_unread_alternative_blocks_an_inclusion_and_is_named_in_an_exclusion():
    text = "At least 2 of the following: BMI of 30 kg/m2 or more; a sibling with coeliac disease; age over 60 years"
    inclusion = extract(text, "inclusion")
    assert inclusion.expression is None
    assert any("not every alternative" in n and "sibling" in n for n in inclusion.notes), inclusion.notes
    exclusion = extract(text, "exclusion")
    assert exclusion.status == "partial" and exclusion.expression.startswith("at_least(2, ")
    assert any("sibling with coeliac disease" in n for n in exclusion.notes), exclusion.notes


def test_an_upper_bound_on_the_count_is_not_read_as_at_least():
    e = extract("No more than two of the following: BMI over 30 kg/m2; HbA1c above 6.5%; age over 60 years",
                "inclusion")
    assert e.expression is None and "at_least" not in (e.candidate or "")
