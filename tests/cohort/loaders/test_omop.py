"""OMOP CDM loader: standard concepts (LOINC, SNOMED, RxNorm names) to catalogue variables, folder or ZIP."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load, load_omop
from explorer.errors import DataError


@pytest.fixture
def omop(fixtures_dir, tmp_path) -> Path:
    target = tmp_path / "omop"
    shutil.copytree(fixtures_dir / "cohort" / "omop", target)
    return target


def test_omop_fixture(omop):
    cohort, report = load_omop(omop)
    s = cohort.subjects.set_index("subject_id")
    assert s["sex"].tolist() == ["female", "male", "male"]
    assert s.loc["2", "birth_date"] == pd.Timestamp("1960-07-15")  # year only -> middle of the year
    assert (s["index_date"] == pd.Timestamp("2022-06-30")).all()  # end of the observation period
    assert s["diabetes_type"].tolist() == ["T1D", "T2D", "none"]  # observed without a diabetes record -> none
    assert s.loc["1", "diagnosis_date"] == pd.Timestamp("2005-01-01")
    assert s["pregnant"].tolist() == [True, False, False]  # person 3's pregnancy ended in 2019
    assert s["on_insulin"].tolist() == [True, False, False]
    assert s["smoking_history"].tolist() == [False, True, False]
    m = cohort.measurements.set_index(["subject_id", "variable"])
    assert m.loc[("1", "hba1c"), "value"] == 7.4
    assert m.loc[("1", "alt"), ["value", "ref_high"]].tolist() == [55.0, 40.0]  # unit from unit_source_value
    assert m.loc[("1", "random_glucose"), "value"] == 1.1  # "<40 mg/dL" -> 20 mg/dL -> 1.11 mmol/L, to 0.1
    assert m.loc[("2", "weight"), "value"] == 90.5
    assert report.tables["MEASUREMENT.csv"].rejected == {"concept not mapped to a catalogue variable": 1,
                                                        "value_as_number blank": 1}
    assert report.unmapped["MEASUREMENT.csv concepts"] == {"Heart rate [3027018]": 1}
    assert report.balanced()
    f = screening_features(cohort).features
    assert f.loc["1", "diabetes_duration"] == pytest.approx(17.5, abs=0.01)


def test_omop_zip_reads_like_folder(omop, tmp_path):
    archive = tmp_path / "cdm.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in omop.glob("*.csv"):
            z.write(path, f"cdm/{path.name}")
        z.writestr("__MACOSX/._PERSON.csv", "junk")
    a, b = load(omop).cohort, load(archive).cohort
    pd.testing.assert_frame_equal(a.subjects, b.subjects)
    pd.testing.assert_frame_equal(a.measurements, b.measurements)


def test_omop_given_index_date(omop):
    cohort, report = load_omop(omop, index_date="2022-01-01")
    s = cohort.subjects.set_index("subject_id")
    assert s["pregnant"].tolist() == [False, False, False]  # the pregnancy starts after 2022-01-01
    assert "given by the caller" in " ".join(report.notes)


def test_omop_custom_mapping_declares_fasting_glucose(omop):
    mapping = {"measurement": {"LOINC 2345-7": {"variable": "fasting_glucose"}}}
    m = load_omop(omop, mapping=mapping).cohort.measurements
    assert m["variable"].tolist() == ["fasting_glucose"]


def test_omop_needs_person_and_concept(omop):
    (omop / "CONCEPT.csv").unlink()
    with pytest.raises(DataError, match="no concept table"):
        load_omop(omop)


def test_omop_value_not_a_number(omop):
    text = (omop / "MEASUREMENT.csv").read_text().replace(",0,7.4,8554", ",0,seven,8554")
    (omop / "MEASUREMENT.csv").write_text(text)
    with pytest.raises(DataError, match="value_as_number is not a number") as err:
        load_omop(omop)
    assert "MEASUREMENT.csv" in str(err.value) and "rows 2" in str(err.value)


def test_omop_zip_without_person(tmp_path):
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("CONCEPT.csv", "concept_id\n1\n")
    with pytest.raises(DataError, match="ZIP archive without an OMOP PERSON"):
        load(archive)


@pytest.mark.shared
def test_synthea_omop(shared_data):
    archive = shared_data / "subjects" / "omop_synthea27nj" / "Synthea27Nj_5.4.zip"
    # a preterm newborn's 1.8 kg is plausible (the catalogue's weight range starts at 0.3 kg)
    cohort, report = load(archive)
    assert len(cohort.subjects) == 28
    assert report.tables["MEASUREMENT.csv"].rows_read == 10040 and report.balanced()
    assert "value_as_number: value outside the plausible range of its variable" not in \
        report.tables["MEASUREMENT.csv"].rejected
    m = cohort.measurements
    assert set(m["variable"]) >= {"hba1c", "weight", "height", "bmi", "systolic_bp", "creatinine", "alt"}
    assert m.loc[m["variable"] == "hba1c", "value"].between(3.9, 7.4).all()
    s = screening_features(cohort)
    assert (s.features["diabetes_type"] == "T2D").sum() == 1
    assert s.features["age"].notna().all()


def test_omop_mapping_errors_name_the_rule(omop, tmp_path):
    mapping = tmp_path / "concepts.yaml"
    mapping.write_text("condition:\n  SNOMED 44054006: {variable: diabetes}\n")
    with pytest.raises(DataError, match="'diabetes' is not a catalogue") as err:
        load_omop(omop, mapping=mapping)
    assert "concepts.yaml" in str(err.value) and "condition.SNOMED 44054006" in str(err.value)
    with pytest.raises(DataError, match="not a catalogue number"):
        load_omop(omop, mapping={"measurement": {"LOINC 4548-4": {"variable": "pregnant"}}})


def test_a_blank_value_as_number_is_kept_as_measured_without_a_usable_value(omop):
    """Person 3's HbA1c of 2022-05-01 is blank: it decides nothing, and it is kept as measured (pandas and DuckDB)."""
    from explorer.cohort.features import UNUSABLE_REASON, screening_features
    from explorer.engine.omop_sql import omop_screening_sql

    cohort, _ = load_omop(omop)
    assert cohort.unusable[["subject_id", "variable"]].astype(str).values.tolist() == [["3", "hba1c"]]
    expected = screening_features(cohort).missing_reasons.astype(str)
    assert expected.set_index(["subject_id", "variable"])["reason"]["3", "hba1c"] == UNUSABLE_REASON
    got = omop_screening_sql(omop)[0].missing_reasons.astype(str)
    key = ["subject_id", "variable", "reason"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True))
