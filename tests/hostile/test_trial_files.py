"""Hostile trial files: lookalike characters, at_least at its edges, variables the data lacks, extreme thresholds.

Each is either refused with one error naming the file, the criterion, the field and the character, or evaluated
to the same three-valued statuses by every engine (memory, DuckDB on a Screening and on a Parquet screening folder).
"""

from __future__ import annotations

import pytest
from random_cohort import random_screening

from explorer.engine import write_screening
from explorer.engine.histogram import evaluate_histogram
from explorer.errors import ExpressionError
from explorer.trial import load_trial, trial_from_dict

LOOKALIKES = {  # a rule as pasted from a document, the character that is not what it looks like, its ASCII twin
    "hba1c > ７": ("７", "FULLWIDTH DIGIT SEVEN", "write '7'"),
    "hba1c > ٧": ("٧", "ARABIC-INDIC DIGIT SEVEN", "retype it"),
    "hbа1c > 7": ("а", "CYRILLIC SMALL LETTER A", "retype it"),
    "hba1c ＞ 7": ("＞", "FULLWIDTH GREATER-THAN SIGN", "write '>'"),
    "hba1c\u00a0> 7": ("\u00a0", "NO-BREAK SPACE", "write ' '"),
    "hba1c > 7\u200b": ("\u200b", "ZERO WIDTH SPACE", "retype it"),
}


@pytest.mark.parametrize("rule", list(LOOKALIKES))
def test_a_lookalike_character_is_refused_naming_the_file_the_character_and_its_ascii_twin(tmp_path, rule):
    """Python's \\d took "７" and "٧" as the digit 7: the rule was read, though a reviewer may not see a number."""
    char, name, advice = LOOKALIKES[rule]
    path = tmp_path / "trial.yaml"
    path.write_text(f'id: X1\ntitle: t\ncriteria:\n  - id: I1\n    kind: inclusion\n    text: t\n'
                    f'    expression: "at_least(1, pregnant, {rule})"\n', encoding="utf-8")
    with pytest.raises(ExpressionError) as caught:
        load_trial(path)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"file {path}, criterion I1, field 'expression': unexpected character {char!r}")
    assert name in first and advice in first


def _trial(expression: str, variables: dict | None = None):
    return trial_from_dict({"id": "H", "title": "h", "variables": variables or {},
                            "criteria": [{"id": "C1", "kind": "inclusion", "text": "r", "expression": expression}]})


EVALUATED = [
    "at_least(2.0, pregnant, lactating)",
    "at_least(2, at_least(1, pregnant, lactating), hba1c > 8)",
    "at_least(1, hba1c > 8, hba1c > 9, hba1c > 10)",
    "at_least(2, known(hba1c), pregnant, not lactating)",
    "at_least(3, pregnant, lactating, smoking_history)",  # over unknowns: unknown unless they cannot decide
    "max(" * 30 + "hba1c" + ", hba1c)" * 30 + " > 7",
    "count(severe_hypoglycemia, within_days=1e300) >= 1",
    "count(severe_hypoglycemia, within_days=0.5) >= 1",
    "count(severe_hypoglycemia, within_days=365) >= 1e300",
    "count(severe_hypoglycemia, within_days=365) >= -1",
    "my_number > 3", "my_flag", 'my_category == "a"', "at_least(1, my_flag, pregnant)",
    "known(my_number) or hba1c > 7",
]
DECLARED = {"my_number": {"kind": "number", "unit": "1"}, "my_flag": {"kind": "boolean"},
            "my_category": {"kind": "category", "categories": ["a", "b"]}}


def _histogram(matrix) -> list:
    h = matrix.histogram
    return sorted(zip(map(tuple, h.patterns.tolist()), h.counts.tolist(), strict=True))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    screening = random_screening(400, 3)
    return screening, write_screening(screening, tmp_path_factory.mktemp("folder") / "screening")


@pytest.mark.parametrize("expression", EVALUATED)
def test_edge_rules_give_the_same_three_valued_statuses_in_every_engine(cohort, expression):
    screening, folder = cohort
    trial = _trial(expression, DECLARED)
    memory = _histogram(evaluate_histogram(trial, screening, "memory"))
    assert _histogram(evaluate_histogram(trial, screening, "duckdb")) == memory
    assert _histogram(evaluate_histogram(trial, folder, "duckdb")) == memory


@pytest.mark.parametrize("expression", ["my_number > 3", "my_flag", 'my_category == "a"'])
def test_a_variable_the_data_lacks_makes_the_criterion_unknown_for_everyone(cohort, expression):
    screening, folder = cohort
    trial = _trial(expression, DECLARED)
    for source, engine in ((screening, "memory"), (screening, "duckdb"), (folder, "duckdb")):
        assert _histogram(evaluate_histogram(trial, source, engine)) == [((2,), 400)], engine


@pytest.mark.parametrize("rule", ["at_least(0, pregnant, lactating)", "at_least(3, pregnant, lactating)",
                                  "at_least(-1, pregnant, lactating)", "at_least(1e300, pregnant, lactating)",
                                  "hba1c > 1e308", "hba1c >= 100", "not " * 70 + "pregnant",
                                  " or ".join(["hba1c > 7"] * 400)])
def test_rules_out_of_bounds_are_refused_before_any_engine(rule):
    with pytest.raises(ExpressionError) as caught:
        _trial(rule)
    assert str(caught.value).startswith("criterion C1, field 'expression': ")
