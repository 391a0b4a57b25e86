"""T1D Exchange (Weinstock 2016) tables: censored C-peptide "<0.017", severe hypoglycaemia counts "10 - 19"."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load, load_t1d_exchange
from explorer.errors import DataError


def test_t1d_exchange_fixture(fixtures_dir):
    cohort, report = load_t1d_exchange(fixtures_dir / "cohort" / "t1dexchange")
    s = cohort.subjects.set_index("subject_id")
    assert s.index.tolist() == ["11", "12", "13", "14"]
    assert s.loc["11", "index_date"] == pd.Timestamp("2014-01-08")  # enrolment + chart visit day 7
    assert (s["diabetes_type"] == "T1D").all()
    m = cohort.measurements.set_index(["subject_id", "variable"])
    assert m.loc[("11", "weight"), "value"] == 69.9  # 154 lb = 69.85 kg, reported to 0.1 kg
    assert m.loc[("11", "height"), "value"] == 162.6  # 64 in = 162.56 cm
    assert m.loc[("11", "random_cpeptide"), "value"] == pytest.approx(0.0085)  # "<0.017" -> half the limit
    assert m.loc[("11", "hba1c"), "value"] == 7.9
    assert report.conversions["lab value: below_limit"] == 1
    assert report.conversions["NumSHLastYr blank with NumSHSinceT1DDiag = 0 (question skipped) -> 0"] == 1
    assert report.balanced()
    s = screening_features(cohort)
    counts = s.event_counts["severe_hypoglycemia@365"]
    assert counts.loc["11"] == 10 and counts.loc["12"] == 0 and counts.loc["13"] == 20 and np.isnan(counts.loc["14"])
    assert "age" not in s.features.columns  # not in the public files
    # "<0.017" is the interval [0, 0.017), not the point 0.0085 (it was, before): a threshold inside it is unknown
    interval = s.censored.set_index(["subject_id", "variable"]).loc[("11", "random_cpeptide")]
    assert interval["low"] == 0.0 and interval["high"] == np.nextafter(0.017, 0)
    assert s.censored[["subject_id", "variable"]].values.tolist() == [["11", "random_cpeptide"]]
    # a blank glucose result is a measurement without a usable value, not "never measured"
    assert cohort.unusable[["subject_id", "variable"]].astype(str).values.tolist() == [["12", "random_glucose"]]


def test_t1d_exchange_missing_table(fixtures_dir, tmp_path):
    shutil.copytree(fixtures_dir / "cohort" / "t1dexchange", tmp_path / "t")
    (tmp_path / "t" / "BMedChart.txt").unlink()
    with pytest.raises(DataError, match="missing \\['BMedChart.txt'\\]"):
        load_t1d_exchange(tmp_path / "t")


def test_t1d_exchange_unknown_weight_unit(fixtures_dir, tmp_path):
    shutil.copytree(fixtures_dir / "cohort" / "t1dexchange", tmp_path / "t")
    path = tmp_path / "t" / "BMedChart.txt"
    path.write_text(path.read_text().replace("|154.0|lbs|", "|154.0|stone|"))
    with pytest.raises(DataError, match="unknown unit 'stone' for 'weight'") as err:
        load_t1d_exchange(tmp_path / "t")
    assert "BMedChart.txt" in str(err.value) and "'Weight'" in str(err.value) and "rows 2" in str(err.value)


def test_t1d_exchange_bad_count_category(fixtures_dir, tmp_path):
    shutil.copytree(fixtures_dir / "cohort" / "t1dexchange", tmp_path / "t")
    path = tmp_path / "t" / "BDemoLifeDiabHxMgmt.txt"
    path.write_text(path.read_text().replace("|10 - 19|", "|many|"))
    with pytest.raises(DataError, match="text in a numeric column \\('many'\\)") as err:
        load_t1d_exchange(tmp_path / "t")
    assert "'NumSHLastYr'" in str(err.value) and "rows 2" in str(err.value)


@pytest.mark.shared
def test_weinstock_real_tables(shared_data):
    cohort, report = load(shared_data / "subjects" / "weinstock2016_t1d_exchange")
    assert len(cohort.subjects) == 203 and report.balanced()
    assert report.tables["BSampleResults.txt"].rows_read == 811
    assert report.conversions["lab value: below_limit"] == 155  # C-peptide "<0.017"
    s = screening_features(cohort)
    counts = s.event_counts["severe_hypoglycemia@365"]
    assert counts.notna().sum() == 201  # 168 answered + 33 skipped because never had one
    assert (counts >= 1).sum() == 101 and (counts == 20).sum() == 10  # ">19" -> 20
    assert s.features["hba1c"].between(5, 12).sum() > 190
    assert len(s.censored) == (s.censored["variable"] == "random_cpeptide").sum() > 0  # each an interval below 0.017
    assert (s.censored["high"] < 0.017).all() and (s.censored["low"] == 0).all()
