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


# --- time zones and censored readings ----------------------------------------------------------------

def test_offsets_that_change_at_daylight_saving_keep_wall_clock_time(tmp_path):
    # Berlin: 02:00 +01:00 became 03:00 +02:00 on 2021-03-28, and 03:00 +02:00 became 02:00 +01:00 on
    # 2021-10-31, so 02:30 came twice; the repeat is dropped and counted, not an error.
    (tmp_path / "dst.csv").write_text(
        "id,time,gl\n"
        "A,2021-03-28T01:45:00+01:00,100\n"
        "A,2021-03-28T03:00:00+02:00,110\n"
        "A,2021-10-31T02:30:00+02:00,120\n"
        "A,2021-10-31T02:30:00+01:00,121\n"
        "A,2021-10-31T03:00:00+01:00,122\n")
    cohort, report = load_cgm(tmp_path / "dst.csv")
    assert cohort.cgm["time"].tolist() == [pd.Timestamp("2021-03-28 01:45"), pd.Timestamp("2021-03-28 03:00"),
                                           pd.Timestamp("2021-10-31 02:30"), pd.Timestamp("2021-10-31 03:00")]
    assert cohort.cgm["glucose"].tolist() == [100, 110, 120, 122]
    assert report.tables["dst.csv"].rejected == {
        "second reading in the hour repeated when daylight-saving time ends": 1}
    assert report.balanced()


def test_same_instant_twice_is_still_a_clash(tmp_path):
    (tmp_path / "c.csv").write_text("id,time,gl\nA,2021-10-31T02:30:00+02:00,120\nA,2021-10-31T02:30:00+02:00,130\n")
    with pytest.raises(DataError, match="two different glucose readings at the same time"):
        load_cgm(tmp_path / "c.csv")


def test_offsets_mixed_with_plain_dates_load(tmp_path):
    (tmp_path / "mixed.csv").write_text(
        "id,time,gl\nA,2024-05-01 08:00+05:00,100\nA,2024-05-01 08:15,110\nA,2024-05-02,120\nA,2024-05-02 00:15Z,130\n")
    cohort, _ = load_cgm(tmp_path / "mixed.csv")
    assert cohort.cgm["time"].tolist() == [pd.Timestamp("2024-05-01 08:00"), pd.Timestamp("2024-05-01 08:15"),
                                           pd.Timestamp("2024-05-02 00:00"), pd.Timestamp("2024-05-02 00:15")]


def test_unreadable_zone_names_the_file_and_column(tmp_path):
    (tmp_path / "zone.csv").write_text("id,time,gl\nA,2024-05-01 08:00+05:00,100\nA,2024-05-01 08:15 CEST,110\n")
    with pytest.raises(DataError, match="not an ISO 8601 date") as err:
        load_cgm(tmp_path / "zone.csv")
    message = str(err.value)
    assert "zone.csv" in message and "'time'" in message and "rows 3" in message and "\n" not in message


def test_censored_readings_become_the_sensor_limit(tmp_path):
    (tmp_path / "censored.csv").write_text(
        "id,time,gl\nA,2024-01-01 00:00,<40\nA,2024-01-01 00:05,LO\nA,2024-01-01 00:10,100\n"
        "A,2024-01-01 00:15,>400\nA,2024-01-01 00:20,High\nA,2024-01-01 00:25,  low \n")
    cohort, report = load_cgm(tmp_path / "censored.csv")
    assert cohort.cgm["glucose"].tolist() == [40, 40, 100, 400, 400, 40]
    assert report.conversions["cgm glucose: below the sensor range (<L, LO) -> the limit L"] == 3
    assert report.conversions["cgm glucose: above the sensor range (>U, HI) -> the limit U"] == 2
    assert report.balanced()


def test_censored_limits_in_a_mmol_file_and_a_wider_sensor(tmp_path):
    (tmp_path / "mmol.csv").write_text("id,time,gl\nA,2024-01-01 00:00,<2.2\nA,2024-01-01 00:05,HI\n"
                                       "A,2024-01-01 00:10,5.5\n")
    cohort, _ = load_cgm(tmp_path / "mmol.csv", unit="mmol/L", sensor_range=(40, 500))
    # "<2.2" carries its own limit (2.2 mmol/L); HI is the sensor's limit, stated in mg/dL. Converted
    # readings are rounded to whole mg/dL, as sensors report them (docs/data.md): 39.6 -> 40, 99.09 -> 99
    assert cohort.cgm["glucose"].tolist() == [40, 500, 99]


def test_canonical_folder_reads_censored_cgm_the_same_way(tmp_path):
    from explorer.cohort.loaders import load_canonical

    (tmp_path / "subjects.csv").write_text("subject_id,index_date\nA,2024-02-01\n")
    (tmp_path / "cgm.csv").write_text("subject_id,time,glucose\nA,2024-01-01 00:00,<40\nA,2024-01-01 00:05,HI\n"
                                      "A,2024-01-01 00:10,120\n")
    cohort, report = load_canonical(tmp_path)
    assert cohort.cgm["glucose"].tolist() == [40, 400, 120]
    assert report.conversions["cgm glucose: below the sensor range (<L, LO) -> the limit L"] == 1


def test_a_column_pandas_refuses_as_a_whole_is_a_one_line_error(monkeypatch):
    from explorer.cohort.loaders import common

    def refuse(*args, **kwargs):
        raise ValueError("Mixed timezones detected. Pass utc=True in to_datetime\nsecond line")

    monkeypatch.setattr(common.pd, "to_datetime", refuse)
    with pytest.raises(DataError, match="dates cannot be read together") as err:
        common.parse_dates(pd.Series(["2024-01-01"]), file="cgm.csv", column="time")
    assert "cgm.csv" in str(err.value) and "'time'" in str(err.value) and "\n" not in str(err.value)
