"""End to end: registry record -> validated Trial + report; the seeds against the hand-written definitions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from project_paths import ROOT
from registry_helpers import names_of, random_subjects, truth_table

from explorer.errors import ImportFailure
from explorer.registry import import_trial, import_trials, render_report
from explorer.trial import load_trial, trial_from_yaml


def test_import_json_fixture(fixtures_dir):
    trial, report = import_trial(fixtures_dir / "registry" / "ctgov_v2_study.json")
    assert trial.id == "NCT09999901" and trial.acronym == "CLOSE-1" and trial.enrollment == 40
    ids = [c.id for c in trial.criteria]
    assert ids[0] == "AGE" and trial.criterion("AGE").parameter_values() == {"age_min": 18, "age_max": 70}
    expressions = {c.id: c.expression for c in trial.criteria if c.computable}
    assert expressions.items() >= {"I2": "hba1c >= hba1c_min and hba1c <= hba1c_max", "E1": "egfr < egfr_min",
                                   "E2": 'sex == "female" and (pregnant or lactating)'}.items()
    # nothing dropped: every text criterion is there, computable or not
    assert report.summary()["criteria_found"] == len([c for c in trial.criteria if c.id[0] in "IE"]) == 10
    assert trial.criterion("I5").text == "Willing to wear a sensor: for 12 weeks" and not trial.criterion("I5").computable
    assert [o.variables for o in trial.outcomes] == [["tir"], ["hba1c"]]
    assert report.unmapped_outcomes == ("Quality of life questionnaire score",)
    # the YAML round-trips through the lead's loader
    assert trial_from_yaml(trial.to_yaml()) == trial


def test_import_xml_fixture_structured_fields_take_precedence(fixtures_dir):
    trial, report = import_trial(fixtures_dir / "registry" / "ctgov_legacy_small.xml")
    assert trial.sex == "female" and trial.criterion("SEX").expression == 'sex == "female"'
    age_text = trial.criterion("I2")  # "Between 30 and 75 years of age": covered by AGE, not computed twice
    assert not age_text.computable and "structured fields" in age_text.note
    assert report.age.matches is True and (report.age.text_min, report.age.text_max) == (30, 75)
    i3 = trial.criterion("I3")
    assert i3.parameter_values() == {"hba1c_min": 7.0, "hba1c_max": 10.0} and "mmol/mol" in i3.note
    assert trial.criterion("E2").expression == "alt > uln_multiple * alt_uln or ast > uln_multiple * ast_uln"


def test_import_page_fixture(fixtures_dir):
    trial, report = import_trial(fixtures_dir / "registry" / "registry_page.txt")
    assert sum(c.computable for c in trial.criteria) == 7
    assert trial.criterion("I3").expression == "count(severe_hypoglycemia, within_days=365) >= severe_hypoglycemia_min"
    assert [o.variables for o in trial.outcomes] == [["hba1c"], ["severe_hypoglycemia"]]
    table = render_report(report)
    assert "I1" in table and "age >= 18 years" in table
    assert json.loads(render_report(report, "json"))["criteria_found"] == 7
    assert render_report(report, "markdown").count("\n| I") == 3


def test_several_studies_in_one_json(tmp_path, fixtures_dir):
    study = json.loads((fixtures_dir / "registry" / "ctgov_v2_study.json").read_text())
    other = json.loads(json.dumps(study))
    other["protocolSection"]["identificationModule"]["nctId"] = "NCT09999909"
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"studies": [study, other]}))
    assert [t.id for t, _ in import_trials(path)] == ["NCT09999901", "NCT09999909"]
    with pytest.raises(ImportFailure, match="2 studies"):
        import_trial(path)


def _page(eligibility: str) -> str:
    return f"Registration Number\nNCT09999904\nSex\nAll\n{eligibility}\nStudy Type\nINTERVENTIONAL\n"


def test_empty_eligibility_gives_a_definition_with_a_warning(tmp_path, fixtures_dir):
    study = json.loads((fixtures_dir / "registry" / "ctgov_v2_study.json").read_text())
    study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = ""
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(study))
    trial, report = import_trial(path)
    assert [c.id for c in trial.criteria] == ["AGE"]
    assert any("no eligibility text" in w for w in report.warnings)


def test_non_english_record_is_kept_as_text(tmp_path):
    text = ("Critères d'inclusion :\n- Diabète de type 1 depuis au moins 5 ans\n- HbA1c entre 7 et 10 %\n"
            "- Âge de 18 à 65 ans, avec une pompe à insuline depuis plus de six mois et un suivi régulier\n"
            "Critères d'exclusion :\n- Grossesse ou allaitement en cours pendant la durée de l'étude\n"
            "- Insuffisance rénale sévère avec un débit de filtration glomérulaire inférieur à 30\n")
    path = tmp_path / "fr.txt"
    path.write_text(_page(text))
    trial, report = import_trial(path)
    assert len(trial.criteria) == 5 and not any(c.computable for c in trial.criteria)
    assert any("English" in w for w in report.warnings)


def test_100_kb_of_text_imports_without_inventing_rules(tmp_path):
    filler = "Subjects should be able to attend every visit and follow the instructions of the study staff. "
    text = "Inclusion Criteria:\n- " + filler * 1200 + "\n- HbA1c >= 7%\nExclusion Criteria:\n- Pregnancy\n"
    assert len(text) > 100_000
    path = tmp_path / "big.txt"
    path.write_text(_page(text))
    trial, report = import_trial(path)
    assert not trial.criterion("I1").computable and "too long" in trial.criterion("I1").note
    assert trial.criterion("I2").expression == "hba1c >= hba1c_min"


def test_no_headings_means_nothing_computable(tmp_path):
    path = tmp_path / "noheadings.txt"
    path.write_text("Registration Number\nNCT09999905\nEligibility Criteria:\n- HbA1c > 7%\n- Pregnancy\n")
    trial, report = import_trial(path)
    assert len(trial.criteria) == 2 and not any(c.computable for c in trial.criteria)
    assert "heading" in trial.criteria[0].note


def test_evaluate_script_on_fixtures(tmp_path, fixtures_dir):
    gold = tmp_path / "gold.yaml"
    gold.write_text(yaml.safe_dump({"records": {"NCT09999902": [
        {"variable": "hba1c", "comparator": ">=", "value": 7.0, "unit": "%"},
        {"variable": "hba1c", "comparator": "<=", "value": 10.0, "unit": "%"},
        {"variable": "fasting_glucose", "comparator": ">=", "value": 7.0, "unit": "mmol/L"},
        {"variable": "creatinine", "comparator": ">", "value": 133, "unit": "umol/L"},
        {"variable": "alt", "comparator": ">", "value": 3, "unit": "x ULN"},
        {"variable": "ast", "comparator": ">", "value": 3, "unit": "x ULN"},
        {"variable": "age", "comparator": ">=", "value": 30, "unit": "years"},
        {"variable": "age", "comparator": "<=", "value": 75, "unit": "years"}]}}))
    out = tmp_path / "q.json"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate_import.py"),
                             str(fixtures_dir / "registry"), "--gold", str(gold), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["records"] == 3 and summary["threshold_precision_read"] == 1.0
    assert summary["threshold_recall_read"] == 1.0
    assert (tmp_path / "q.md").read_text().startswith("# Registry import quality")


# --- real material ----------------------------------------------------------------------------------------

def _check_meaning(mine, theirs, kind: str, exact: bool):
    params_a, params_b = mine.parameter_values(), theirs.parameter_values()
    names = (names_of(mine.expression) | names_of(theirs.expression)) - set(params_a) - set(params_b)
    subjects = random_subjects(names)
    a = truth_table(mine.expression, params_a, subjects)
    b = truth_table(theirs.expression, params_b, subjects)
    if exact:
        assert a == b, (mine.id, mine.expression, theirs.expression)
    elif kind == "inclusion":  # a partial inclusion never fails someone the full reading admits
        assert all(x is not False for x, y in zip(a, b, strict=True) if y is True), (mine.id, mine.expression)
    else:  # a partial exclusion only excludes people the full reading excludes
        assert all(y is True for x, y in zip(a, b, strict=True) if x is True), (mine.id, mine.expression)


@pytest.mark.shared
@pytest.mark.parametrize("nct, page", [("NCT06196996", "NCT06196996_medpath.txt"),
                                       ("NCT01142050", "NCT01142050_medpath.txt")])
def test_seed_pages_match_hand_written_definitions(shared_seeds, nct, page):
    trial, report = import_trial(shared_seeds / page)
    listed = [c for c in load_trial(nct).criteria if c.source == "criteria"]  # not those read from the description
    reference = load_trial(nct)
    assert [c.id for c in trial.criteria] == [c.id for c in listed]
    assert [" ".join(c.text.split()) for c in trial.criteria] == [" ".join(c.text.split()) for c in listed]
    statuses = {c.id: c.status for c in report.criteria}
    compared = 0
    for mine in trial.criteria:
        theirs = reference.criterion(mine.id)
        if not mine.computable:
            continue
        assert theirs.computable, f"{mine.id}: imported as computable, hand-written as not"
        _check_meaning(mine, theirs, mine.kind, exact=statuses[mine.id] == "computable"
                       and mine.id not in {"E9"})  # E9: the hand-written file adds its own uric-acid cut-off
        compared += 1
    assert compared >= (12 if nct == "NCT06196996" else 8)


@pytest.mark.shared
def test_legacy_xml_quality(shared_data):
    files = sorted((shared_data / "ctgov" / "legacy_xml").glob("*.xml"))
    found = computable = 0
    for path in files:
        trial, report = import_trial(path)
        found += report.summary()["criteria_found"]
        computable += report.summary()["computable"]
        assert report.age.matches in (True, None), (path.name, report.age)
    assert found >= 200 and computable >= 50
