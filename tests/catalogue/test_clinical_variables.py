"""The catalogue variables added for registry criteria (creatinine clearance, blood-pressure treatment, liver
metastases, Gilbert's syndrome, dated myocardial infarction and stroke): data that lacks them leaves every rule
on them unknown, in every engine, and data that has them decides the rules the same way in every engine."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from cohort_helpers import screening

from explorer.catalogue import default_catalogue
from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load, load_omop
from explorer.cohort.screening import Screening
from explorer.engine import FAIL, PASS, UNKNOWN, evaluate, write_screening
from explorer.errors import DataError
from explorer.trial import trial_from_dict

NEW = {"creatinine_clearance": "number", "antihypertensive_treatment": "boolean", "liver_metastases": "boolean",
       "gilbert_syndrome": "boolean", "myocardial_infarction": "event", "stroke": "event"}

# one inclusion per variable, as the importer writes them
RULES = {
    "crcl": "creatinine_clearance >= 60",
    "bp_treated": "systolic_bp < 140 or antihypertensive_treatment",
    "liver": "liver_metastases and alt <= 5 * alt_uln or not liver_metastases and alt <= 2.5 * alt_uln",
    "gilbert": "not gilbert_syndrome",
    "mi": "count(myocardial_infarction, within_days=182) >= 1",
    "stroke": "count(stroke, within_days=91) >= 1",
}


def _trial():
    return trial_from_dict({"id": "T7", "title": "new variables", "criteria": [
        {"id": name, "kind": "inclusion", "text": name, "expression": rule} for name, rule in RULES.items()]})


def _codes(matrix):
    return {name: matrix.column(name).tolist() for name in RULES}


def test_the_catalogue_defines_them_as_a_clinician_would():
    catalogue = default_catalogue()
    for name, kind in NEW.items():
        assert catalogue[name].kind == kind, name
        assert catalogue[name].description, name
    # a clearance in mL/min (Cockcroft-Gault), not an eGFR per 1.73 m2
    assert catalogue["creatinine_clearance"].unit == "mL/min"
    assert catalogue["creatinine_clearance"].range == (0, 300)
    assert "Cockcroft-Gault" in catalogue["creatinine_clearance"].description


@pytest.mark.parametrize("engine", ["memory", "duckdb", "duckdb-files"])
def test_data_that_lacks_them_leaves_every_rule_unknown(engine, tmp_path):
    # the other variables each rule names are known, so only the new variable can make it unknown
    data = screening(systolic_bp=[150.0, 150.0], alt=[100.0, 100.0], alt_uln=[40.0, 40.0])
    source = data
    if engine == "duckdb-files":
        write_screening(data, tmp_path)
        source = tmp_path
    matrix = evaluate(_trial(), source, engine="memory" if engine == "memory" else "duckdb")
    # never a silent pass or fail: no record of the variable, or of the events, is no evidence either way
    assert _codes(matrix) == {name: [UNKNOWN, UNKNOWN] for name in RULES}


def test_spark_leaves_them_unknown_and_decides_them_like_memory(spark):
    lacking = screening(systolic_bp=[150.0, 150.0], alt=[100.0, 100.0], alt_uln=[40.0, 40.0])
    assert _codes(evaluate(_trial(), lacking, engine="spark", spark=spark)) == {n: [UNKNOWN, UNKNOWN] for n in RULES}
    having = _with_the_variables()
    assert _codes(evaluate(_trial(), having, engine="spark", spark=spark)) == _codes(evaluate(_trial(), having))


def _with_the_variables() -> Screening:
    base = screening(creatinine_clearance=[75.0, 40.0, None], systolic_bp=[150.0, 150.0, 150.0],
                     antihypertensive_treatment=[True, False, None], liver_metastases=[True, False, None],
                     alt=[150.0, 150.0, 90.0], alt_uln=[40.0, 40.0, 40.0], gilbert_syndrome=[False, True, None])
    index = base.features.index
    events = pd.DataFrame({
        "subject_id": pd.array(["s0", "s1"], dtype="string"),
        "event": pd.array(["myocardial_infarction", "stroke"], dtype="string"),
        "days_before_index": [30.0, 200.0],
        "severity": pd.array([None, None], dtype="Int64"),
    })
    # s0 and s1 have a full record of both events for two years; s2 has none (unknown)
    lookback = pd.DataFrame({"myocardial_infarction": [730.0, 730.0, np.nan], "stroke": [730.0, 730.0, np.nan]},
                            index=index)
    return Screening(base.features, events, event_lookback=lookback).validate()


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_data_that_has_them_decides_each_rule(engine):
    matrix = evaluate(_trial(), _with_the_variables(), engine=engine)
    assert _codes(matrix) == {
        "crcl": [PASS, FAIL, UNKNOWN],
        "bp_treated": [PASS, FAIL, UNKNOWN],
        # 150 U/L is 3.75 x ULN: within the limit for liver metastases (5), over it without them (2.5); an unknown
        # group leaves it unknown (Kleene logic decides no case split)
        "liver": [PASS, FAIL, UNKNOWN],
        "gilbert": [PASS, FAIL, UNKNOWN],
        "mi": [PASS, FAIL, UNKNOWN],          # s1's only event is a stroke
        "stroke": [FAIL, FAIL, UNKNOWN],      # s1's stroke was 200 days ago, outside 91
    }


# --- loaders: where a standard code or column exists, the variable is read; elsewhere it stays absent (unknown) ---

def test_a_canonical_folder_reads_them(tmp_path):
    (tmp_path / "subjects.csv").write_text(
        "subject_id,sex,birth_date,index_date,antihypertensive_treatment,gilbert_syndrome\n"
        "A1,female,1960-01-01,2024-03-01,true,false\nA2,male,1970-01-01,2024-03-01,,true\n")
    (tmp_path / "measurements.csv").write_text(
        "subject_id,time,variable,value,unit\nA1,2024-02-01,creatinine_clearance,55,ml/min\n")
    (tmp_path / "events.csv").write_text("subject_id,time,event,severity\nA1,2023-12-01,myocardial_infarction,\n")
    (tmp_path / "event_history.csv").write_text(
        "subject_id,event,recorded_from\nA1,myocardial_infarction,2020-01-01\nA2,myocardial_infarction,2020-01-01\n")
    data = screening_features(load(tmp_path).cohort)
    f = data.features
    assert f.loc["A1", "creatinine_clearance"] == 55.0 and np.isnan(f.loc["A2", "creatinine_clearance"])
    assert f["antihypertensive_treatment"].tolist() == [True, pd.NA]
    assert "liver_metastases" not in f.columns  # not in the file: absent, unknown for everyone
    trial = trial_from_dict({"id": "T", "title": "t", "criteria": [
        {"id": "mi", "kind": "exclusion", "text": "MI in 6 months",
         "expression": "count(myocardial_infarction, within_days=182) >= 1"},
        {"id": "stroke", "kind": "exclusion", "text": "stroke", "expression": "count(stroke, within_days=182) >= 1"}]})
    matrix = evaluate(trial, data)
    assert matrix.column("mi").tolist() == [FAIL, PASS]        # A1's infarction 91 days before; A2 recorded, none
    assert matrix.column("stroke").tolist() == [UNKNOWN, UNKNOWN]  # no stroke history recorded for anyone


def test_a_clearance_per_body_surface_is_refused_with_its_row(tmp_path):
    (tmp_path / "subjects.csv").write_text("subject_id,sex,birth_date,index_date\nA1,female,1960-01-01,2024-03-01\n")
    (tmp_path / "measurements.csv").write_text(
        "subject_id,time,variable,value,unit\nA1,2024-02-01,creatinine_clearance,55,mL/min/1.73m2\n")
    with pytest.raises(DataError, match="creatinine_clearance") as err:
        load(tmp_path)
    assert "measurements.csv" in str(err.value)


def test_omop_standard_concepts_map_to_them(fixtures_dir, tmp_path):
    omop = tmp_path / "omop"
    shutil.copytree(fixtures_dir / "cohort" / "omop", omop)
    # concept ids are local to this copy: the loader resolves vocabulary + code through the CONCEPT table
    with open(omop / "CONCEPT.csv", "a") as f:
        f.write("9000001,Creatinine renal clearance predicted by Cockcroft-Gault formula,Measurement,LOINC,Lab Test,S,"
                "35591-7,1970-01-01,2099-12-31,\n"
                "9000002,Myocardial infarction,Condition,SNOMED,Clinical Finding,S,22298006,1970-01-01,2099-12-31,\n"
                "9000003,Gilbert's syndrome,Condition,SNOMED,Clinical Finding,S,27503000,1970-01-01,2099-12-31,\n")
    with open(omop / "MEASUREMENT.csv", "a") as f:
        f.write("90,2,9000001,2022-05-01,2022-05-01 00:00:00,0,48,0,mL/min,,,35591-7\n")
    with open(omop / "CONDITION_OCCURRENCE.csv", "a") as f:
        f.write("90,1,9000002,2022-03-01,\n91,3,9000003,2021-06-01,\n")
    data = screening_features(load_omop(omop).cohort)
    f = data.features
    assert f.loc["2", "creatinine_clearance"] == 48.0
    # a mapped condition absent during the observation period is false (the OHDSI assumption the loader documents)
    assert f["gilbert_syndrome"].tolist() == [False, False, True]
    # no standard drug code list for "any antihypertensive" is mapped: absent, unknown for everyone
    assert "antihypertensive_treatment" not in f.columns
    trial = trial_from_dict({"id": "T", "title": "t", "criteria": [
        {"id": "mi", "kind": "exclusion", "text": "MI in 6 months",
         "expression": "count(myocardial_infarction, within_days=182) >= 1"}]})
    # person 1's infarction is 121 days before the index date (2022-06-30); 2 and 3 were observed all 182 days
    assert evaluate(trial, data).column("mi").tolist() == [FAIL, PASS, PASS]


def test_the_synthetic_cohorts_leave_them_unknown():
    # not generated (screening_table.NOT_GENERATED): a rule on them is unknown for every synthetic subject, never
    # a pass or fail invented by the generator
    from explorer.cohort.synthetic.screening_table import generate_screening
    data = generate_screening("t2d", 50, seed=4)
    assert not set(NEW) & set(data.features.columns)
    assert not set(NEW) & set(data.event_lookback.columns)
    assert set(_codes(evaluate(_trial(), data))["crcl"]) == {UNKNOWN}
    assert set(_codes(evaluate(_trial(), data))["mi"]) == {UNKNOWN}
