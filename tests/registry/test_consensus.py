"""One limit per group is sharp under three-valued logic: a value that every group's limit decides is decided when
the group is unknown (creatinine 3.0 with limits 1.5 for men and 1.4 for women excludes whatever the sex).

For each kind of per-group rule the extractor builds (per sex, "C ... for group" after a general limit, a group named
first in brackets), every three-valued assignment of the group and the value is evaluated by the memory engine and
by DuckDB, and compared with the completion semantics: true when true for every completion of the unknowns, false
when false for every one, unknown otherwise. The completions are evaluated by the same engine on known data only.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from cohort_helpers import screening

from explorer import expr
from explorer.engine import FAIL, PASS, UNKNOWN, evaluate
from explorer.registry import lexicon, trees
from explorer.registry.extract import extract
from explorer.registry.faithful import check_rule
from explorer.registry.readings import sexes_exhaustive
from explorer.trial import trial_from_dict

# (text, kind, the group's variable and its levels); the values tried are read from the rule's own limits
CASES = [
    ("Serum creatinine > 1.5 mg/dL (men) or > 1.4 mg/dL (women)", "exclusion", ("sex", ["male", "female"])),
    ("Uric acid above 7 mg/dL in men and above 6 mg/dL in women", "exclusion", ("sex", ["male", "female"])),
    ("Uric acid of at most 7 mg/dL for men, at most 6 mg/dL for women", "inclusion", ("sex", ["male", "female"])),
    ("Uric acid below 7 mg/dL in males", "inclusion", ("sex", ["male", "female"])),
    ("HbA1c ≤ 8.5% (HbA1c ≤ 9.5% for subjects treated with insulin)", "inclusion",
     ("on_insulin", [True, False])),
    ("ALT no more than 2.5 x ULN (in case of liver metastases < 5 x ULN)", "inclusion",
     ("liver_metastases", [True, False])),
]
ULN = {"alt": 40.0, "ast": 40.0}


def _bound(node, values: dict):
    """The tree with each parameter replaced by its number, so the engine needs no parameter table."""
    match node:
        case expr.Name(name=n) if n in values:
            return expr.Num(float(values[n]))
        case expr.BoolOp(op=op, operands=ops):
            return expr.BoolOp(op, tuple(_bound(o, values) for o in ops))
        case expr.Not(operand=o):
            return expr.Not(_bound(o, values))
        case expr.Compare(ops=ops, operands=operands):
            return expr.Compare(ops, tuple(_bound(o, values) for o in operands))
        case expr.Arith(op=op, left=left, right=right):
            return expr.Arith(op, _bound(left, values), _bound(right, values))
    return node


def _rule(text: str, kind: str):
    e = extract(text, kind)
    assert e.status == "computable", (text, e.status, e.notes)
    [rule] = e.rules
    return rule, expr.to_text(_bound(expr.parse(e.expression), {k: v["value"] for k, v in e.parameters.items()}))


def _values(rule) -> tuple[str, list[float]]:
    """The rule's variable and the values that separate its limits: below all, each limit, between, above all."""
    [variable] = {t.variable for t in rule.thresholds}
    limits = sorted({t.value * (ULN[variable] if t.unit == lexicon.ULN_UNIT else 1) for t in rule.thresholds})
    between = [(a + b) / 2 for a, b in itertools.pairwise(limits)]
    return variable, sorted({limits[0] / 2, *limits, *between, limits[-1] * 2})


def _statuses(expression: str, group: str, value: str, rows: list[tuple], engine: str) -> list:
    columns = {group: [g for g, _ in rows], value: [v for _, v in rows]}
    if value in ULN:
        columns[f"{value}_uln"] = [ULN[value]] * len(rows)
    trial = trial_from_dict({"id": "CONSENSUS", "title": "one rule", "variables": {},
                             "criteria": [{"id": "I1", "kind": "inclusion", "text": "rule", "expression": expression}]})
    return evaluate(trial, screening(**columns), engine=engine).column("I1").tolist()


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
@pytest.mark.parametrize(("text", "kind", "group"), CASES, ids=[c[0][:40] for c in CASES])
def test_a_per_group_rule_equals_its_completion_semantics(text, kind, group, engine):
    group_name, group_levels = group
    rule, expression = _rule(text, kind)
    value_name, value_levels = _values(rule)
    rows = list(itertools.product([*group_levels, None], [*value_levels, None]))
    got = _statuses(expression, group_name, value_name, rows, engine)
    # every completion of one row: an unknown group takes each level, an unknown value each value of the grid
    completions = [list(itertools.product(group_levels if g is None else [g], value_levels if v is None else [v]))
                   for g, v in rows]
    known = _statuses(expression, group_name, value_name, [c for cs in completions for c in cs], engine)
    expected, i = [], 0
    for cs in completions:
        outcomes = set(known[i:i + len(cs)])
        i += len(cs)
        assert UNKNOWN not in outcomes  # the completions are two-valued
        expected.append(outcomes.pop() if len(outcomes) == 1 else UNKNOWN)
    assert got == expected, (text, expression)


def test_a_value_beyond_both_sex_limits_is_decided_when_the_sex_is_unknown():
    _, expression = _rule("Serum creatinine > 1.5 mg/dL (men) or > 1.4 mg/dL (women)", "exclusion")
    # creatinine in umol/L: 3.0, 1.0 and 1.45 mg/dL
    got = _statuses(expression, "sex", "creatinine", [(None, 265.2), (None, 88.4), (None, 128.2)], "memory")
    assert got == [PASS, FAIL, UNKNOWN]


def test_the_consensus_term_needs_the_catalogues_two_sexes():
    assert sexes_exhaustive(frozenset({"male", "female"}))
    assert not sexes_exhaustive(frozenset({"male"}))
    a, b = trees.compare("x", ">", "a"), trees.compare("x", ">", "b")
    male, female = trees.equals("sex", "male"), trees.equals("sex", "female")
    # groups that may not be all: no consensus term, the rule stays as the text states it
    assert expr.to_text(trees.per_group([(male, a), (female, b)], exhaustive=False)) == \
        'sex == "male" and x > a or sex == "female" and x > b'
    assert expr.to_text(trees.per_group([(male, a), (female, b)], exhaustive=True)) == \
        'sex == "male" and x > a or sex == "female" and x > b or x > a and x > b'
    assert expr.to_text(trees.per_group([(female, None), (male, a)], exhaustive=True)) == 'sex == "female" or x > a'


def test_the_source_check_covers_the_consensus_term():
    rule, _ = _rule("Serum creatinine > 1.5 mg/dL (men) or > 1.4 mg/dL (women)", "exclusion")
    assert check_rule(rule) is None
    # the consensus term repeats the rule's own limits: a number it compares with must still be in the text
    assert "1.4" in check_rule(dataclasses.replace(rule, source="Serum creatinine > 1.5 mg/dL (men)"))


def test_a_catalogue_with_another_sex_level_gets_no_consensus_term(monkeypatch):
    from explorer.catalogue import Catalogue, default_catalogue, variable_from_dict
    from explorer.registry import readings

    base = default_catalogue()
    three = Catalogue({**base.variables, "sex": variable_from_dict(
        "sex", {"kind": "category", "categories": ["female", "male", "intersex"], "role": "screening"})})
    monkeypatch.setattr(readings, "default_catalogue", lambda: three)
    readings.sexes_exhaustive.cache_clear()
    try:
        e = extract("Serum creatinine > 1.5 mg/dL (men) or > 1.4 mg/dL (women)", "exclusion")
        # a third level takes neither limit: "beyond both" no longer decides an unknown sex
        assert e.expression == ('sex == "male" and creatinine > creatinine_max or '
                                'sex == "female" and creatinine > creatinine_max_2')
        e = extract("Uric acid below 7 mg/dL in males", "inclusion")
        assert e.expression == 'sex == "female" or sex == "male" and uric_acid < uric_acid_max'
    finally:
        readings.sexes_exhaustive.cache_clear()
