"""ShanghaiT1DM/T2DM clinical summaries with their CGM: HbA1c in mmol/mol, "/" for missing."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load, load_shanghai
from explorer.errors import DataError


def test_shanghai_fixture_with_cgm(fixtures_dir):
    folder = fixtures_dir / "cohort" / "shanghai"
    cohort, report = load_shanghai(folder, cgm=folder / "shanghai_cgm_long.csv")
    s = cohort.subjects.set_index("subject_id")
    assert s.index.tolist() == ["9001", "9002"]  # patients, not recordings
    assert s.loc["9001", "index_date"] == pd.Timestamp("2021-03-16")  # the day after the last CGM reading
    assert s.loc["9002", "index_date"] == pd.Timestamp("2021-02-05")  # 3 days from 2021-02-01 12:00
    assert s["on_insulin"].tolist() == [True, False] and s["smoking_history"].tolist() == [False, True]
    assert s.loc["9001", "diagnosis_date"] == pd.Timestamp("2010-12-18")  # 2021-03-01 minus 10.2 years, to the day
    m = cohort.measurements.set_index(["subject_id", "variable", "time"])
    assert m.loc[("9001", "hba1c", pd.Timestamp("2021-01-01")), "value"] == pytest.approx(8.0, abs=0.01)  # 64 mmol/mol
    assert m.loc[("9001", "fasting_cpeptide", pd.Timestamp("2021-03-01")), "value"] == pytest.approx(0.0085)
    assert m.loc[("9001", "fasting_insulin", pd.Timestamp("2021-03-01")), "value"] == pytest.approx(10.0)
    assert m.loc[("9001", "uric_acid", pd.Timestamp("2021-01-01")), "value"] == 300  # umol/L despite the header
    assert report.conversions["hba1c: missing"] == 1  # "/" -> unknown, counted
    assert report.balanced()
    f = screening_features(cohort).features
    assert f.loc["9001", "hba1c"] == pytest.approx(7.0, abs=0.01)  # the latest stay: 53 mmol/mol
    assert f.loc["9001", "tir"] == pytest.approx(90.0, abs=0.1) and np.isnan(f.loc["9002", "tir"])


def test_shanghai_bad_patient_number(fixtures_dir, tmp_path):
    shutil.copy(fixtures_dir / "cohort" / "shanghai" / "Shanghai_T1DM_Summary.csv", tmp_path)
    path = tmp_path / "Shanghai_T1DM_Summary.csv"
    path.write_text(path.read_text().replace("9002_0_20210201", "9002-0-2021"))
    with pytest.raises(DataError, match="Patient Number must look like") as err:
        load_shanghai(path)
    assert "'Patient Number'" in str(err.value) and "rows 4" in str(err.value)


def test_shanghai_header_unit_would_be_impossible(fixtures_dir):
    """Read with the header's mmol/L, uric acid would be 300,000 umol/L: the plausibility check catches it."""
    from explorer.cohort.loaders import load_wide
    mapping = {"subject_id": "Patient Number", "index_date": {"value": "2021-06-01"},
               "columns": {"Uric Acid (mmol/L)": {"variable": "uric_acid", "unit": "mmol/L"}},
               "ignore": []}
    with pytest.raises(DataError, match="uric_acid = 300000 umol/L is outside the plausible range") as err:
        load_wide(fixtures_dir / "cohort" / "shanghai" / "Shanghai_T1DM_Summary.csv", mapping)
    assert "'Uric Acid (mmol/L)'" in str(err.value) and "rows 2" in str(err.value)


@pytest.mark.shared
def test_shanghai_real_summaries_and_cgm(shared_data):
    folder = shared_data / "subjects" / "shanghai_summary"
    cgm = shared_data / "cgm" / "shanghai_t1dm_t2dm" / "shanghai_cgm_long.csv"
    # the real files load whole (an eGFR of 286, once rejected, is inside the widened range [0, 350])
    cohort, report = load(folder, cgm=cgm)
    assert report.balanced() and sum(t.rows_rejected for t in report.tables.values()) == 0
    cohort, report = load(folder, cgm=cgm, on_invalid="reject")
    assert len(cohort.subjects) == 112  # 12 T1DM + 100 T2DM patients (125 recordings)
    assert report.tables["Shanghai_T2DM_Summary.csv"].rows_read == 109 and report.balanced()
    assert report.conversions["unit hba1c: mmol/mol -> %"] == 116
    s = screening_features(cohort)
    f = s.features
    assert f["diabetes_type"].value_counts().to_dict() == {"T2D": 100, "T1D": 12}
    assert f["hba1c"].dropna().between(4, 18).all() and f["hba1c"].notna().sum() == 103
    assert f["tir"].notna().sum() > 50


@pytest.mark.shared
def test_shanghai_original_excel_reads_like_the_csv(shared_data):
    csv = shared_data / "subjects" / "shanghai_summary" / "Shanghai_T1DM_Summary.csv"
    xlsx = shared_data / "cgm" / "shanghai_t1dm_t2dm" / "original" / "Shanghai_T1DM_Summary.xlsx"
    a = load_shanghai(csv, on_invalid="reject").cohort
    b = load_shanghai(xlsx, on_invalid="reject").cohort
    pd.testing.assert_frame_equal(a.subjects, b.subjects)
    pd.testing.assert_frame_equal(a.measurements, b.measurements, check_exact=False)
