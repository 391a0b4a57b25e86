"""Long-form CGM loader (id, time, gl) as the iglu package uses, and CGM screening features from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load, load_cgm
from explorer.errors import DataError


def test_iglu_style_fixture(fixtures_dir):
    cohort, report = load_cgm(fixtures_dir / "cohort" / "cgm" / "iglu_style.csv")
    assert cohort.subjects["subject_id"].tolist() == ["Subject A", "Subject B"]
    assert cohort.subjects["index_date"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
    assert len(cohort.cgm) == 5 and cohort.cgm["glucose"].dtype == "float64"
    assert report.tables["iglu_style.csv"].rejected == {"glucose missing": 1,
                                                         "duplicate reading (same subject, time and glucose)": 1}
    assert report.balanced()


def test_mmol_file_is_converted(tmp_path):
    (tmp_path / "mmol.csv").write_text("subject_id,timestamp,glucose\nA,2024-01-01 00:00,5.5\nA,2024-01-01 00:05,10.0\n")
    cohort, report = load_cgm(tmp_path / "mmol.csv", unit="mmol/L")
    assert cohort.cgm["glucose"].tolist() == [99.0, 180.0]  # rounded to whole mg/dL (units.convert_between)
    assert report.conversions["cgm glucose: mmol/L -> mg/dL"] == 2


def test_mmol_file_read_as_mg_dl_is_refused(tmp_path):
    (tmp_path / "mmol.csv").write_text("id,time,gl\nA,2024-01-01 00:00,5.5\nA,2024-01-01 00:05,10.0\n")
    with pytest.raises(DataError, match="is the file in mmol/L") as err:
        load_cgm(tmp_path / "mmol.csv")
    assert "mmol.csv" in str(err.value) and "'glucose'" in str(err.value) and "rows 2, 3" in str(err.value)


def test_clashing_readings(tmp_path):
    (tmp_path / "c.csv").write_text("id,time,gl\nA,2024-01-01 00:00,100\nA,2024-01-01 00:00,140\n")
    with pytest.raises(DataError, match="two different glucose readings at the same time") as err:
        load_cgm(tmp_path / "c.csv")
    assert "'time'" in str(err.value) and "rows 2, 3" in str(err.value)


def test_missing_column_and_bad_time(tmp_path):
    (tmp_path / "a.csv").write_text("id,when,gl\nA,2024-01-01 00:00,100\n")
    with pytest.raises(DataError, match="cannot find the time column"):
        load_cgm(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("id,time,gl\nA,2024-01-01 00:00,100\nA,tomorrow,120\n")
    with pytest.raises(DataError, match="not an ISO 8601 date") as err:
        load_cgm(tmp_path / "b.csv")
    assert "'time'" in str(err.value) and "rows 3" in str(err.value)


def test_given_index_date(fixtures_dir):
    cohort, _ = load_cgm(fixtures_dir / "cohort" / "cgm" / "iglu_style.csv", index_date="2024-02-01")
    assert (cohort.subjects["index_date"] == pd.Timestamp("2024-02-01")).all()


@pytest.mark.shared
def test_iglu_example_data(shared_data):
    path = shared_data / "cgm" / "iglu_r_package" / "example_data_5_subject.csv"
    cohort, report = load(path)
    assert len(cohort.cgm) == 13866 and len(cohort.subjects) == 5 and report.balanced()
    f = screening_features(cohort).features
    # Subject 1 wore the sensor 12.7 days, all inside the 14-day window: the metrics cover every reading.
    raw = pd.read_csv(path)
    gl = raw.loc[raw["id"] == "Subject 1", "gl"].to_numpy(dtype=float)
    assert f.loc["Subject 1", "tir"] == pytest.approx(100 * np.mean((gl >= 70) & (gl <= 180)))
    assert f.loc["Subject 1", "cgm_mean"] == pytest.approx(gl.mean())
    assert f.loc["Subject 1", "cgm_active"] == pytest.approx(100 * 2915 * 5 / (14 * 24 * 60), abs=0.1)
    assert np.isnan(f.loc["Subject 3", "tir"])  # 1,533 readings: under 70 % of 14 days


@pytest.mark.shared
def test_shanghai_cgm_long_file(shared_data):
    cohort, report = load(shared_data / "cgm" / "shanghai_t1dm_t2dm" / "shanghai_cgm_long.csv")
    assert len(cohort.cgm) == 127982 and len(cohort.subjects) == 125 and report.balanced()
    s = screening_features(cohort)
    assert s.features["cgm_active"].between(0, 100).all()
    assert s.features["tir"].notna().sum() > 50
