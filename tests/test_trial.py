"""Trial definitions: the bundled seed trials, round trips, the JSON Schema, and every kind of bad file."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from project_paths import ROOT

from explorer import expr
from explorer.errors import DefinitionError, ExpressionError
from explorer.trial import (
    bundled_trials,
    load_trial,
    save_trial,
    trial_from_dict,
    trial_from_yaml,
    trial_json_schema,
)

SCHEMA_FILE = ROOT / "explorer" / "schema" / "trial.schema.json"


def minimal(**overrides) -> dict:
    data = {
        "id": "TEST1", "title": "A test trial",
        "criteria": [
            {"id": "I1", "kind": "inclusion", "text": "Adults", "expression": "age >= age_min",
             "parameters": {"age_min": {"value": 18, "unit": "years", "min": 0, "max": 100, "step": 1}}},
            {"id": "E1", "kind": "exclusion", "text": "Consent", },
        ],
    }
    data.update(overrides)
    return data


def test_bundled_trials_are_the_two_seeds():
    assert bundled_trials() == ["NCT01142050", "NCT06196996"]
    assert (ROOT / "data" / "trials" / "NCT06196996.yaml").is_file()
    assert (ROOT / "data" / "trials" / "NCT01142050.yaml").is_file()


@pytest.mark.parametrize("trial_id, n_inclusion, n_exclusion", [("NCT06196996", 6, 14), ("NCT01142050", 10, 4)])
def test_every_seed_criterion_is_represented(trial_id, n_inclusion, n_exclusion):
    trial = load_trial(trial_id)
    assert len(trial.inclusion) == n_inclusion
    assert len(trial.exclusion) == n_exclusion
    listed = [c.id for c in trial.inclusion if c.source == "criteria"]
    assert listed == [f"I{i}" for i in range(1, len(listed) + 1)]
    assert [c.id for c in trial.exclusion] == [f"E{i}" for i in range(1, n_exclusion + 1)]


def test_seed_texts_are_the_registry_text(shared_seeds):
    for trial_id in bundled_trials():
        page = " ".join((shared_seeds / f"{trial_id}_medpath.txt").read_text(encoding="utf-8").split())
        for criterion in load_trial(trial_id).criteria:
            assert " ".join(criterion.text.split()) in page, criterion.id


def test_islet_trial_computable_criteria():
    trial = load_trial("NCT06196996")
    not_computable = {c.id for c in trial.criteria if not c.computable}
    assert not_computable == {"I3", "I6", "E14"}  # meter use, consent, investigator judgment
    i5 = trial.criterion("I5")
    used = expr.names(i5.tree)
    assert {"diabetes_duration", "gada_positive", "znt8a_positive", "severe_hypoglycemia"} <= used
    counts = [n for n in expr.walk(i5.tree) if isinstance(n, expr.Call) and n.func == "count"]
    assert sorted(c.kwarg("within_days").value for c in counts) == [91, 365]
    assert trial.criterion("I2").parameters["hba1c_min"].value == 7.5
    assert trial.criterion("I2").parameters["tir_max"].value == 70
    assert trial.criterion("E4").parameters["uln_multiple"].value == 2
    # the primary endpoint is "safety and improvement in blood glucose": safety is the adverse-event outcome
    assert {o.id for o in trial.outcomes if o.kind == "primary"} == {"tir", "hba1c", "c_peptide", "insulin",
                                                                      "adverse_events"}
    assert trial.outcome("adverse_events").variables == ["serious_adverse_event"]
    assert {o.id for o in trial.outcomes if o.kind == "secondary"} == {"insulin_dose"}


def test_msc_trial_computable_criteria():
    trial = load_trial("NCT01142050")
    assert {c.id for c in trial.criteria if not c.computable} == {"I1", "I9"}  # consent, contraception
    i4 = trial.criterion("I4").tree
    assert isinstance(i4, expr.Compare) and i4.ops == ("<=", "<=")
    assert trial.criterion("I5").parameters["fpg_min"].unit == "mmol/L"
    assert trial.criterion("I6").expression == "kitt < kitt_max"
    outcome_variables = {v for o in trial.outcomes for v in o.variables}
    assert {"kitt", "insulin_dose", "ogld_dose", "hba1c", "fasting_glucose", "postmeal_glucose",
            "fasting_cpeptide", "fasting_insulin", "serious_adverse_event"} <= outcome_variables


@pytest.mark.parametrize("trial_id", ["NCT06196996", "NCT01142050"])
def test_load_save_load_round_trip(trial_id, tmp_path):
    trial = load_trial(trial_id)
    path = save_trial(trial, tmp_path / "copy.yaml")
    assert load_trial(path) == trial
    json_path = save_trial(trial, tmp_path / "copy.json")
    assert load_trial(json_path) == trial
    assert trial_from_yaml(trial.to_yaml()) == trial


def test_editing_a_threshold_returns_a_new_trial():
    trial = load_trial("NCT06196996")
    edited = trial.with_parameter("I2", "hba1c_min", 8.0)
    assert edited.criterion("I2").parameters["hba1c_min"].value == 8.0
    assert trial.criterion("I2").parameters["hba1c_min"].value == 7.5  # the original is untouched
    assert edited != trial
    with pytest.raises(DefinitionError, match="outside its allowed range"):
        trial.with_parameter("I2", "hba1c_min", 50)
    with pytest.raises(DefinitionError, match="no parameter"):
        trial.with_parameter("I2", "nope", 1)
    with pytest.raises(DefinitionError, match="no criterion"):
        trial.with_parameter("X9", "hba1c_min", 8)
    relaxed = trial.with_criterion("E7", unknown="pass")
    assert relaxed.criterion("E7").unknown == "pass"


def test_published_schema_is_current_and_validates_the_seeds():
    published = json.loads(SCHEMA_FILE.read_text())
    assert published == trial_json_schema(), "run: trial-explorer schema > explorer/schema/trial.schema.json"
    for trial_id in bundled_trials():
        data = yaml.safe_load((ROOT / "explorer" / "trials" / f"{trial_id}.yaml").read_text())
        jsonschema.validate(data, published)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(minimal(criteria=[{"id": "I1", "kind": "maybe", "text": "x"}]), published)


# --- bad input -----------------------------------------------------------------------------------

def write(tmp_path, text, name="trial.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "id: T1\ntitle: x\ncriteria:\n  - id: I1\n   kind: inclusion\n")
    with pytest.raises(DefinitionError) as info:
        load_trial(path)
    message = str(info.value)
    assert str(path) in message and "line 5" in message and "not valid YAML" in message


def test_empty_and_non_mapping_files(tmp_path):
    with pytest.raises(DefinitionError, match="empty"):
        load_trial(write(tmp_path, ""))
    with pytest.raises(DefinitionError, match="mapping"):
        load_trial(write(tmp_path, "- just\n- a list\n"))


def test_unknown_field_names_the_criterion_and_field(tmp_path):
    data = minimal()
    data["criteria"][0]["treshold"] = 3
    path = write(tmp_path, yaml.safe_dump(data))
    with pytest.raises(DefinitionError) as info:
        load_trial(path)
    err = info.value
    assert err.criterion == "I1" and "treshold" in str(err) and "unknown field" in str(err)
    assert str(path) in str(err)


def test_unknown_top_level_field():
    with pytest.raises(DefinitionError, match="unknown field"):
        trial_from_dict(minimal(sponser="typo"))


def test_unknown_variable_names_criterion_and_suggests(tmp_path):
    data = minimal()
    data["criteria"][0]["expression"] = "agee >= age_min"
    path = write(tmp_path, yaml.safe_dump(data))
    with pytest.raises(ExpressionError) as info:
        load_trial(path)
    err = info.value
    assert err.criterion == "I1" and err.file == str(path)
    assert "unknown name 'agee'" in str(err) and "did you mean 'age'" in str(err)


@pytest.mark.parametrize("expression, fragment", [
    ("sex >= 3", "orders numbers"),
    ("__import__('os').system('echo hi') and age >= age_min", "attribute access"),
    ("__import__('os') and age >= age_min", "unknown function '__import__'"),
    ("age.real >= age_min", "attribute access"),
    ("[a for a in age] and age >= age_min", "comprehensions"),
    ("(lambda: age)() and age >= age_min", "unexpected"),
    ("frobnicate(age) and age >= age_min", "unknown function 'frobnicate'"),
])
def test_bad_expressions_in_a_file(expression, fragment):
    data = minimal()
    data["criteria"][0]["expression"] = expression
    with pytest.raises(ExpressionError) as info:
        trial_from_dict(data, source="t.yaml")
    assert fragment in str(info.value) and info.value.criterion == "I1" and "t.yaml" in str(info.value)


def test_parameter_outside_its_range():
    data = minimal()
    data["criteria"][0]["parameters"]["age_min"]["value"] = 150
    with pytest.raises(DefinitionError) as info:
        trial_from_dict(data, source="t.yaml")
    assert "outside its allowed range [0, 100]" in str(info.value) and info.value.criterion == "I1"


def test_parameter_unit_must_match_variable():
    data = minimal()
    data["criteria"][0]["parameters"]["age_min"]["unit"] = "months"
    with pytest.raises(ExpressionError, match="units differ"):
        trial_from_dict(data)


def test_unused_or_shadowing_parameters():
    data = minimal()
    data["criteria"][0]["parameters"]["unused"] = {"value": 1, "min": 0, "max": 2}
    with pytest.raises(DefinitionError, match="not used"):
        trial_from_dict(data)
    data = minimal()
    data["criteria"][0]["parameters"]["hba1c"] = {"value": 1, "min": 0, "max": 2}
    with pytest.raises(DefinitionError, match="name of a catalogue variable"):
        trial_from_dict(data)


def test_duplicate_criterion_ids():
    data = minimal()
    data["criteria"][1]["id"] = "I1"
    with pytest.raises(DefinitionError) as info:
        trial_from_dict(data, source="t.yaml")
    assert "duplicate criterion id 'I1'" in str(info.value) and "t.yaml" in str(info.value)


def test_wrong_kind_and_missing_text():
    data = minimal()
    data["criteria"][0]["kind"] = "include"
    with pytest.raises(DefinitionError) as info:
        trial_from_dict(data)
    assert info.value.criterion == "I1" and "kind" in str(info.value)
    data = minimal()
    del data["criteria"][1]["text"]
    with pytest.raises(DefinitionError, match="required field is missing") as info:
        trial_from_dict(data)
    assert info.value.criterion == "E1"


def test_outcome_must_use_known_variables_and_visits():
    with pytest.raises(DefinitionError, match="unknown variable"):
        trial_from_dict(minimal(outcomes=[{"id": "o", "name": "x", "variables": ["hba1x"]}]))
    with pytest.raises(DefinitionError, match="not among the trial's visits"):
        trial_from_dict(minimal(outcomes=[{"id": "o", "name": "x", "variables": ["hba1c"], "visits": ["m3"]}]))


def test_trial_specific_variables_extend_the_catalogue():
    data = minimal(variables={"clarke_score": {"kind": "number", "unit": "points", "range": [0, 8]}})
    data["criteria"][0]["expression"] = "age >= age_min and clarke_score >= 4"
    trial = trial_from_dict(data)
    assert "clarke_score" in trial.catalogue
    with pytest.raises(DefinitionError, match="already in the catalogue"):
        trial_from_dict(minimal(variables={"hba1c": {"kind": "number", "unit": "mmol/mol"}}))


def test_missing_file_and_unknown_id():
    with pytest.raises(DefinitionError, match="no such trial file"):
        load_trial("does/not/exist.yaml")
    with pytest.raises(DefinitionError, match="neither a bundled trial"):
        load_trial("NCT00000000")


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DefinitionError, match="UTF-8"):
        load_trial(path)


# --- hostile and malformed definition files (issue 12) -----------------------------------------------

DUPLICATE_KEY = """\
id: DUP1
title: Duplicate key
criteria:
  - id: E1
    kind: exclusion
    text: HIV positive
    expression: hiv_positive
    expression: 'false'
"""


def test_a_duplicate_key_is_an_error_not_a_silently_disabled_rule(tmp_path):
    with pytest.raises(DefinitionError, match=r"line 8.*duplicate key 'expression' \(first given at line 7\)"):
        load_trial(write(tmp_path, DUPLICATE_KEY))


def test_a_duplicate_key_in_json_is_an_error(tmp_path):
    text = json.dumps(minimal())[:-1] + ', "title": "again"}'
    with pytest.raises(DefinitionError, match="duplicate key 'title'"):
        load_trial(write(tmp_path, text, name="trial.json"))


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    bomb = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    text = f"{bomb}id: BOMB\ntitle: x\nvariables:\n  v: {{kind: boolean, description: *i}}\n"
    with pytest.raises(DefinitionError, match=r"aliases \(\*\w\) are not accepted"):
        trial_from_yaml(text, source="bomb.yaml")


@pytest.mark.parametrize("text, name", [
    ("id: DEEP\ntitle: x\nnote: " + "[" * 900 + "]" * 900 + "\n", "deep.yaml"),
    ("id: DEEP\ntitle: x\nnote:\n" + "".join("  " * i + "- \n" for i in range(1, 900)), "deep_block.yaml"),
    ('{"id": "DEEP", "title": "x", "note": ' + "[" * 1000 + "]" * 1000 + "}", "deep.json"),
])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path, text, name):
    with pytest.raises(DefinitionError, match="nested more than 64 levels deep") as err:
        load_trial(write(tmp_path, text, name=name))
    assert name in str(err.value) and "\n" not in str(err.value)


def test_a_deep_mapping_given_directly_is_refused():
    data = minimal()
    for _ in range(200):
        data = {"x": data}
    with pytest.raises(DefinitionError, match="nested more than"):
        trial_from_dict({**minimal(), "summary": data})


@pytest.mark.parametrize("spec, fragment", [
    ({"kind": "number", "range": 5}, "range must be [low, high]"),
    ({"kind": "number", "range": [None, 1]}, "range must be [low, high]"),
    ({"kind": "number", "range": [1, 2, 3]}, "range must be [low, high]"),
    ({"kind": "number", "range": ["a", 2]}, "range must be [low, high]"),
    ({"kind": "number", "range": [2, 1]}, "range must be [low, high]"),
    ({"kind": "number", "range": [0, int("9" * 400)]}, "a bound is too large"),
    ({"kind": "number", "range": [0, float("inf")]}, "two finite numbers"),
    ({"kind": "category", "categories": 5}, "categories must be a list"),
    ({"kind": "category", "categories": "abc"}, "categories must be a list"),
    ({"kind": "number", "unit": {"a": 1}}, "unit must be text"),
])
def test_bad_trial_variables_are_definition_errors(spec, fragment):
    with pytest.raises(DefinitionError, match="variable 'v'") as err:
        trial_from_dict(minimal(variables={"v": spec}), source="t.yaml")
    assert fragment in str(err.value) and "t.yaml" in str(err.value)


def test_a_400_digit_range_in_a_yaml_file(tmp_path):
    text = f"id: BIG\ntitle: x\nvariables:\n  v: {{kind: number, range: [0, {'9' * 400}]}}\n"
    with pytest.raises(DefinitionError, match="too large"):
        load_trial(write(tmp_path, text))


def test_the_insulin_criterion_read_from_the_description_can_be_switched_off():
    trial = load_trial("NCT01142050")
    d1 = trial.criterion("D1")
    assert d1.source == "description" and d1.kind == "inclusion" and d1.expression == "on_insulin"
    assert "undergoing insulin injection treatments" in d1.text
    assert {c.id for c in trial.criteria if c.source == "description"} == {"D1"}
    with pytest.raises(DefinitionError, match="source"):
        trial_from_dict(minimal(criteria=[{"id": "I1", "kind": "inclusion", "text": "x", "source": "guess"}]))


def test_the_islet_trial_uses_its_own_severe_hypoglycaemia_definition():
    trial = load_trial("NCT06196996")
    assert "2.9 mmol/L (52 mg/dL)" in " ".join(trial.criterion("I5").note.split())
    described = trial.catalogue["severe_hypoglycemia"].description
    assert "54 mg/dL" not in described  # 2.9 mmol/L is 52 mg/dL; the old text paired it with 54
