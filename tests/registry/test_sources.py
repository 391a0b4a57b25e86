"""Readers: ClinicalTrials.gov API v2 JSON, legacy XML and registry text pages -> one neutral record."""

from __future__ import annotations

import json

import pytest

from explorer.errors import ImportFailure
from explorer.registry.sources import (
    parse_age,
    read_record,
    read_records,
    records_from_text,
    unescape_markdown,
)


def test_api_v2_json_study(fixtures_dir):
    r = read_record(fixtures_dir / "registry" / "ctgov_v2_study.json")
    assert (r.source_format, r.nct_id, r.acronym, r.status, r.phase) == (
        "ctgov-json", "NCT09999901", "CLOSE-1", "RECRUITING", "PHASE2")
    assert (r.sex, r.minimum_age, r.maximum_age, r.enrollment, r.healthy_volunteers) == ("all", 18, 70, 40, False)
    assert r.sponsor == "Example University Hospital" and r.conditions == ("Type 1 Diabetes",)
    assert [a.label for a in r.arms] == ["Closed loop", "Usual care"]
    assert r.interventions[0].arms == ("Closed loop",)
    assert [(o.measure, o.primary) for o in r.outcomes][0] == ("Time in range 70-180 mg/dL", True)
    assert "BMI < 35" in r.eligibility_text and "\\<" not in r.eligibility_text  # markdown escapes removed


@pytest.mark.parametrize("wrap", [lambda s: s, lambda s: [s, s], lambda s: {"studies": [s]}])
def test_json_one_list_or_studies(fixtures_dir, wrap):
    study = json.loads((fixtures_dir / "registry" / "ctgov_v2_study.json").read_text())
    records = records_from_text(json.dumps(wrap(study)))
    assert {r.nct_id for r in records} == {"NCT09999901"}


def test_legacy_xml(fixtures_dir):
    r = read_record(fixtures_dir / "registry" / "ctgov_legacy_small.xml")
    assert (r.source_format, r.nct_id, r.sex, r.minimum_age, r.maximum_age) == ("ctgov-xml", "NCT09999902",
                                                                                 "female", 30, 75)
    assert r.interventions[0].arms == ("Drug X",) and r.outcomes[1].time_frame == "24 weeks"
    assert r.eligibility_text.startswith("Inclusion Criteria:") and "Creatinine > 1.5" in r.eligibility_text


def test_registry_page(fixtures_dir):
    r = read_record(fixtures_dir / "registry" / "registry_page.txt")
    assert (r.nct_id, r.title, r.phase, r.status, r.sex, r.enrollment) == (
        "NCT09999903", "Islet Cell Therapy for Unstable Type 1 Diabetes", "Phase 2", "RECRUITING", "all", 12)
    assert r.interventions[0].type == "Biological"
    assert r.eligibility_text.splitlines()[0] == "Inclusion Criteria"
    assert "Study Type" not in r.eligibility_text
    assert [(o.measure, o.time_frame, o.primary) for o in r.outcomes] == [
        ("HbA1c", "up to 12 months", True), ("Severe hypoglycaemic events", "up to 12 months", False)]
    assert r.outcomes[0].description == "Change in HbA1c from baseline"


def test_ages_and_escapes():
    assert parse_age("18 Years") == 18 and parse_age("6 Months") == 0.5 and parse_age("N/A") is None
    assert unescape_markdown(r"HbA1c \>= 7.0% and BMI \< 30, 1\. item") == "HbA1c >= 7.0% and BMI < 30, 1. item"


@pytest.mark.parametrize("content, message", [
    ('{"protocolSection": {"identificationModule": {"nctId": "NCT0', "truncated"),
    ('{"name": "a package.json", "version": "1.0"}', "not a ClinicalTrials.gov study"),
    ('{"studies": []}', "no studies"),
    ("<clinical_study><id_info><nct_id>NCT1</nct_id>", "truncated"),
    ("<rss><channel/></rss>", "expected <clinical_study>"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><clinical_study/>', "DOCTYPE"),
    ('<?xml version="1.0"?><!--' + "x" * 9000 + '--><!DOCTYPE x [<!ENTITY a "aaaa">]><clinical_study>&a;'
     "</clinical_study>", "DOCTYPE"),
    ("Just a shopping list\nmilk\neggs\n", "not a registry page"),
    ("   \n", "empty"),
])
def test_bad_input_is_a_clear_import_failure(tmp_path, content, message):
    path = tmp_path / "record.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFailure, match=message):
        read_records(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ImportFailure, match="no such file"):
        read_records(tmp_path / "nope.json")
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\xff\xfe\x00\xd8\x00\xdc" * 3)
    with pytest.raises(ImportFailure):
        read_records(path)


@pytest.mark.shared
def test_all_legacy_xml_records_read(shared_data):
    files = sorted((shared_data / "ctgov" / "legacy_xml").glob("*.xml"))
    assert len(files) == 15
    for path in files:
        r = read_record(path)
        assert r.nct_id == path.stem and r.eligibility_text and r.title


@pytest.mark.shared
def test_seed_pages_read(shared_seeds):
    r = read_record(shared_seeds / "NCT06196996_medpath.txt")
    assert r.nct_id == "NCT06196996" and r.enrollment == 18 and r.sponsor == "Shanghai Changzheng Hospital"
    assert [o.measure for o in r.outcomes] == ["Time in Range", "HbA1c", "C-peptide", "insulin",
                                               "Dose of exogenous insulin"]
