"""A group's own limit named before its value, in brackets after the general limit (explorer/registry/group_limits.py).

Sentences written for these tests; each checks what the rule means for people in and out of the group.
"""

from __future__ import annotations

from registry_helpers import evaluate

from explorer import expr
from explorer.registry.extract import extract


def _decide(e, **subject):
    return evaluate(expr.parse(e.expression), subject, {k: v["value"] for k, v in e.parameters.items()})


def test_a_bare_multiple_for_a_named_group_is_that_groups_limit_of_the_same_tests():
    # was: non-computable ("another value in the same unit is not read"); liver metastases were no catalogue variable
    e = extract("AST and ALT no more than 3 x ULN (in case of hepatic metastases: no more than 5 x ULN)", "inclusion")
    assert e.status == "computable", e.notes
    four_times = {"ast": 160.0, "ast_uln": 40.0, "alt": 160.0, "alt_uln": 40.0}
    assert _decide(e, **four_times, liver_metastases=True) is True
    assert _decide(e, **four_times, liver_metastases=False) is False
    assert _decide(e, **four_times, liver_metastases=None) is None
    two_times = {k: v / 2 if k in ("ast", "alt") else v for k, v in four_times.items()}
    assert _decide(e, **two_times, liver_metastases=False) is True


def test_the_variable_named_again_in_the_bracket_is_the_same_limit():
    e = extract("Total bilirubin below 1.5 x ULN (subjects with Gilbert's syndrome: total bilirubin below 3 x ULN)",
                "inclusion")
    assert e.status == "computable", e.notes
    assert _decide(e, bilirubin=40.0, bilirubin_uln=20.0, gilbert_syndrome=True) is True
    assert _decide(e, bilirubin=40.0, bilirubin_uln=20.0, gilbert_syndrome=False) is False


def test_an_exclusion_limit_for_a_group_excludes_each_group_over_its_own_limit():
    e = extract("ALT above 2.5 x ULN (if liver metastases, above 5 x ULN)", "exclusion")
    assert e.status == "computable", e.notes
    assert _decide(e, alt=160.0, alt_uln=40.0, liver_metastases=True) is False   # 4 x ULN: under the group's 5
    assert _decide(e, alt=160.0, alt_uln=40.0, liver_metastases=False) is True


def test_a_limit_of_another_form_is_not_taken_for_the_groups():
    # the range 7-10 % has two limits; which one "< 8 %" replaces for the group is a guess: not read
    e = extract("HbA1c 7-10% (for patients with type 1 diabetes: HbA1c < 8 %)", "inclusion")
    assert e.expression is None
    # a multiple of the ULN is no limit in mg/dL, nor the reverse
    e = extract("Bilirubin below 2 mg/dL (for patients with Gilbert's syndrome: below 3 x ULN)", "inclusion")
    assert e.expression is None


def test_more_after_the_groups_value_leaves_it_unread():
    e = extract("ALT at most 2.5 x ULN (if liver metastases, at most 5 x ULN and albumin above 30 g/L)", "inclusion")
    assert e.expression is None
