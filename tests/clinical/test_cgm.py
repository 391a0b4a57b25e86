"""Consensus CGM metrics: hand-computed fixtures, and agreement with iglu on its example data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from explorer.clinical import cgm as cgm_module
from explorer.clinical.cgm import (
    ambulatory_glucose_profile,
    cgm_metrics,
    label_windows,
    visit_windows,
)
from explorer.errors import DataError, UnitError

START = pd.Timestamp("2024-03-01 00:00")


def readings(subject: str, minutes, glucose, start: pd.Timestamp = START) -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": subject,
        "time": start + pd.to_timedelta(np.asarray(minutes, dtype=float), unit="min"),
        "glucose": np.asarray(glucose, dtype=float),
    })


# Ten 5-minute readings with the one at 25 min missing; every consensus range is hit.
HAND_GLUCOSE = [50, 60, 70, 100, 180, 181, 250, 251, 120, 140]
HAND_MINUTES = [0, 5, 10, 15, 20, 30, 35, 40, 45, 50]


def test_hand_computed_subject():
    metrics = cgm_metrics(readings("A", HAND_MINUTES, HAND_GLUCOSE)).iloc[0]
    # By hand: 1 reading < 54, 2 < 70, 5 in 70-180, 3 > 180, 1 > 250, of 10.
    assert metrics["n_readings"] == 10
    assert metrics["tbr_54"] == pytest.approx(10.0)
    assert metrics["tbr_70"] == pytest.approx(20.0)
    assert metrics["tir"] == pytest.approx(50.0)
    assert metrics["tar_180"] == pytest.approx(30.0)
    assert metrics["tar_250"] == pytest.approx(10.0)
    # Sum 1402 -> mean 140.2; squared deviations sum to 49101.6 (n - 1 = 9).
    assert metrics["cgm_mean"] == pytest.approx(140.2)
    assert metrics["cgm_sd"] == pytest.approx(math.sqrt(49101.6 / 9))
    assert metrics["cgm_cv"] == pytest.approx(100 * math.sqrt(49101.6 / 9) / 140.2)
    assert metrics["gmi"] == pytest.approx(3.31 + 0.02392 * 140.2)  # 6.663584
    # Interval 5 min; 11 readings possible in 0-50 min; the 10-min step loses one: 10 / 11.
    assert metrics["cgm_interval"] == 5
    assert metrics["cgm_active"] == pytest.approx(100 * 10 / 11)
    assert metrics["cgm_days"] == pytest.approx(50 / 1440)
    assert not metrics["cgm_sufficient"]


def test_range_boundaries_follow_the_consensus():
    # 54 is low (not very low), 70 and 180 are in range, 250 is high (not very high).
    metrics = cgm_metrics(readings("A", [0, 5, 10, 15], [54, 70, 180, 250])).iloc[0]
    assert metrics[["tbr_54", "tbr_70", "tir", "tar_180", "tar_250"]].tolist() == [0, 25, 50, 25, 0]


def test_ranges_partition_real_valued_readings():
    glucose = np.random.default_rng(3).uniform(40, 400, 500)
    metrics = cgm_metrics(readings("A", np.arange(500) * 5, glucose)).iloc[0]
    assert metrics["tbr_70"] + metrics["tir"] + metrics["tar_180"] == pytest.approx(100)


def fourteen_day_libre(subject: str, days: float, keep=None) -> pd.DataFrame:
    n = int(days * 96)
    minutes = np.arange(n) * 15.0
    if keep is not None:
        minutes = minutes[keep(np.arange(n))]
    return readings(subject, minutes, np.full(len(minutes), 120.0))


def test_sufficiency_needs_fourteen_days_and_seventy_percent():
    cgm = pd.concat([
        fourteen_day_libre("complete", 14),
        fourteen_day_libre("short", 13),
        fourteen_day_libre("sparse", 14, keep=lambda i: (i % 20 < 12) | (i == 14 * 96 - 1)),
    ])
    metrics = cgm_metrics(cgm).set_index("subject_id")
    assert metrics.loc["complete", "cgm_interval"] == 15  # Libre: inferred, not assumed
    assert metrics.loc["complete", "cgm_active"] == pytest.approx(100)
    assert metrics["cgm_sufficient"].to_dict() == {"complete": True, "short": False, "sparse": False}
    assert metrics.loc["sparse", "cgm_active"] == pytest.approx(60, abs=0.5)


def test_fixed_period_counts_late_start_as_missing():
    # Seven complete days inside a 14-day window: 50 % of the window's possible readings.
    cgm = fourteen_day_libre("A", 7)
    metrics = cgm_metrics(cgm, period_days=14).iloc[0]
    assert metrics["cgm_active"] == pytest.approx(50)
    assert not metrics["cgm_sufficient"]
    assert cgm_metrics(fourteen_day_libre("A", 14), period_days=14).iloc[0]["cgm_sufficient"]


def test_given_interval_overrides_inference():
    metrics = cgm_metrics(readings("A", [0, 5, 10, 15], [100] * 4), interval_minutes=1).iloc[0]
    assert metrics["cgm_interval"] == 1
    assert metrics["cgm_active"] == pytest.approx(100 * 4 / 16)  # 16 possible, 12 lost in 3 gaps


def test_row_order_and_missing_values_do_not_matter():
    cgm = pd.concat([readings("A", HAND_MINUTES, HAND_GLUCOSE),
                     readings("B", [0, 5, 10], [100, 150, 200])], ignore_index=True)
    shuffled = cgm.sample(frac=1, random_state=1)
    with_gap = pd.concat([shuffled, pd.DataFrame({"subject_id": ["A"], "time": [START],
                                                  "glucose": [np.nan]})])
    pd.testing.assert_frame_equal(cgm_metrics(cgm), cgm_metrics(with_gap))


@pytest.mark.parametrize("shuffled", [False, True], ids=["sorted", "shuffled"])
def test_chunked_computation_equals_one_pass(monkeypatch, shuffled):
    rng = np.random.default_rng(4)
    cgm = pd.concat([readings(f"S{i}", np.cumsum(rng.choice([5, 5, 5, 10, 40], 60)),
                              rng.integers(40, 400, 60)) for i in range(9)])
    if shuffled:
        cgm = cgm.sample(frac=1, random_state=2)
    whole = cgm_metrics(cgm)
    monkeypatch.setattr(cgm_module, "_CHUNK_READINGS", 100)  # about two subjects per chunk
    pd.testing.assert_frame_equal(cgm_metrics(cgm), whole)


def test_one_reading_has_unknown_spread_and_is_not_sufficient():
    metrics = cgm_metrics(readings("A", [0], [100])).iloc[0]
    assert math.isnan(metrics["cgm_sd"]) and math.isnan(metrics["cgm_active"])
    assert metrics["cgm_mean"] == 100 and not metrics["cgm_sufficient"]


def test_metrics_per_visit_window():
    cgm = readings("A", np.arange(0, 4 * 1440, 60), np.r_[np.full(48, 100.0), np.full(48, 200.0)])
    visits = pd.DataFrame({"subject_id": ["A", "A"], "visit": ["baseline", "day 4"],
                           "time": [START + pd.Timedelta(days=2), START + pd.Timedelta(days=4)]})
    labelled = label_windows(cgm, visit_windows(visits, days=2))
    metrics = cgm_metrics(labelled, by=["subject_id", "visit"])
    assert metrics["visit"].tolist() == ["baseline", "day 4"]
    assert metrics["n_readings"].tolist() == [48, 48]
    assert metrics["cgm_mean"].tolist() == [100, 200]


def test_readings_outside_windows_are_unlabelled():
    cgm = readings("A", [0, 60, 120], [100, 110, 120])
    windows = pd.DataFrame({"subject_id": ["A"], "visit": ["v1"], "start": [START + pd.Timedelta(minutes=30)],
                            "end": [START + pd.Timedelta(minutes=120)]})
    labelled = label_windows(cgm, windows)
    assert labelled["visit"].isna().tolist() == [True, False, True]  # end is exclusive


def test_overlapping_windows_are_rejected():
    windows = pd.DataFrame({"subject_id": ["A", "A"], "visit": ["v1", "v2"],
                            "start": [START, START + pd.Timedelta(days=1)],
                            "end": [START + pd.Timedelta(days=2), START + pd.Timedelta(days=3)]})
    with pytest.raises(DataError, match="overlap"):
        label_windows(readings("A", [0], [100]), windows)


def test_mmol_per_litre_readings_are_refused():
    with pytest.raises(UnitError, match="mmol/L"):
        cgm_metrics(readings("A", [0, 5, 10], [5.5, 6.1, 7.2]))


def test_missing_columns_are_named():
    with pytest.raises(DataError, match="glucose"):
        cgm_metrics(pd.DataFrame({"subject_id": ["A"], "time": [START], "gl": [100]}))


def test_agp_percentiles_by_time_of_day():
    # Hour 0 holds 100, 200, 150 from three days; hour 13 holds one reading.
    cgm = pd.concat([
        readings("A", [10, 1440 + 20, 2880 + 5], [100, 200, 150]),
        readings("A", [13 * 60 + 30], [90]),
    ])
    profile = ambulatory_glucose_profile(cgm, bin_minutes=60)
    assert profile["minute"].tolist() == [0, 780]
    first = profile.iloc[0]
    # Linear interpolation on [100, 150, 200]: position 0.05 x 2 = 0.1 -> 105, and so on.
    assert first[["n", "p5", "p25", "p50", "p75", "p95"]].tolist() == [3, 105, 125, 150, 175, 195]
    assert profile.iloc[1][["p5", "p95"]].tolist() == [90, 90]


@pytest.mark.parametrize("offset", [0.0, 0.25], ids=["whole mg/dL (histogram path)", "fractional"])
def test_agp_equals_pandas_quantiles(offset, monkeypatch):
    monkeypatch.setattr(cgm_module, "_CHUNK_READINGS", 1000)  # several blocks
    rng = np.random.default_rng(2)
    minutes = np.sort(rng.uniform(0, 5 * 1440, 3000))
    cgm = pd.concat([readings(s, minutes, rng.integers(40, 400, 3000) + offset) for s in ("A", "B")])
    profile = ambulatory_glucose_profile(cgm, by=["subject_id"], bin_minutes=30)
    bins = (cgm["time"].dt.hour * 60 + cgm["time"].dt.minute) // 30 * 30
    expected = cgm.groupby(["subject_id", bins])["glucose"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    assert np.allclose(profile[["p5", "p25", "p50", "p75", "p95"]].to_numpy(), expected.to_numpy())
    assert profile["n"].sum() == len(cgm)


def test_agp_per_subject_and_bin_checks():
    cgm = pd.concat([readings("A", [0, 20], [100, 110]), readings("B", [0], [300])])
    profile = ambulatory_glucose_profile(cgm, by=["subject_id"], bin_minutes=15)
    assert profile[["subject_id", "minute", "n"]].values.tolist() == [["A", 0, 1], ["A", 15, 1],
                                                                       ["B", 0, 1]]
    with pytest.raises(DataError, match="1440"):
        ambulatory_glucose_profile(cgm, bin_minutes=7)


# --- agreement with iglu (the iglu R package's example data, iglu-python as the reference) ---------

IGLU_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def iglu_example(shared_data):
    path = shared_data / "cgm" / "iglu_r_package" / "example_data_5_subject.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return pd.read_csv(path, parse_dates=["time"])


@pytest.fixture(scope="module")
def iglu():
    return pytest.importorskip("iglu_python")


def iglu_reference(iglu, data: pd.DataFrame) -> pd.DataFrame:
    columns = [
        iglu.below_percent(data, targets_below=[54, 70]).rename(
            columns={"below_54": "tbr_54", "below_70": "tbr_70"}),
        iglu.in_range_percent(data, target_ranges=[[70, 180]]).rename(columns={"in_range_70_180": "tir"}),
        iglu.above_percent(data, targets_above=[180, 250]).rename(
            columns={"above_180": "tar_180", "above_250": "tar_250"}),
        iglu.mean_glu(data).rename(columns={"mean": "cgm_mean"}),
        iglu.sd_glu(data).rename(columns={"SD": "cgm_sd"}),
        iglu.cv_glu(data).rename(columns={"CV": "cgm_cv"}),
        iglu.gmi(data).rename(columns={"GMI": "gmi"}),
        iglu.active_percent(data, tz="UTC")[["id", "active_percent", "ndays"]].rename(
            columns={"active_percent": "cgm_active", "ndays": "iglu_ndays"}),
    ]
    reference = columns[0]
    for frame in columns[1:]:
        reference = reference.merge(frame, on="id")
    return reference.set_index("id").sort_index()


@pytest.mark.shared
def test_agrees_with_iglu_on_its_example_data(iglu_example, iglu):
    ours = cgm_metrics(iglu_example.rename(columns={"id": "subject_id", "gl": "glucose"}))
    ours = ours.set_index("subject_id").sort_index()
    reference = iglu_reference(iglu, iglu_example)
    assert list(ours.index) == list(reference.index) == [f"Subject {i}" for i in range(1, 6)]
    for metric in ["tbr_54", "tbr_70", "tir", "tar_180", "tar_250", "cgm_mean", "cgm_sd", "cgm_cv", "gmi",
                   "cgm_active"]:
        difference = (ours[metric] - reference[metric]).abs().max()
        assert difference <= IGLU_TOLERANCE, f"{metric} differs from iglu by {difference}"
    # iglu reports the recording length rounded to 0.1 day.
    assert (ours["cgm_days"].round(1) == reference["iglu_ndays"]).all()


@pytest.mark.shared
def test_fixed_period_agrees_with_iglu_manual_range(iglu_example, iglu):
    cgm = iglu_example.rename(columns={"id": "subject_id", "gl": "glucose"})
    last = cgm.groupby("subject_id")["time"].transform("max")
    window = cgm[cgm["time"] >= last - pd.Timedelta(days=14)]
    ours = cgm_metrics(window, period_days=14).set_index("subject_id").sort_index()
    reference = iglu.active_percent(iglu_example, tz="UTC", range_type="manual", ndays=14)
    reference = reference.set_index("id").sort_index()
    assert (ours["cgm_active"] - reference["active_percent"]).abs().max() <= IGLU_TOLERANCE


@pytest.mark.shared
def test_whole_day_agp_bin_matches_iglu_quantiles(iglu_example, iglu):
    cgm = iglu_example.rename(columns={"id": "subject_id", "gl": "glucose"})
    profile = ambulatory_glucose_profile(cgm, by=["subject_id"], bin_minutes=1440).set_index("subject_id")
    reference = iglu.quantile_glu(iglu_example, quantiles=[5, 25, 50, 75, 95]).set_index("id")
    for p in (5, 25, 50, 75, 95):
        assert (profile[f"p{p}"] - reference[str(p)]).abs().max() <= IGLU_TOLERANCE


def test_agp_of_tz_aware_times_bins_on_local_clock_time():
    # Berlin in summer is UTC+2: readings at 08:00 local are 06:00 UTC and must fall in the 08:00 bin.
    local = pd.date_range("2024-07-01 08:00", periods=5, freq="D", tz="Europe/Berlin")
    winter = pd.date_range("2024-01-08 08:00", periods=5, freq="D", tz="Europe/Berlin")
    cgm = pd.DataFrame({"subject_id": "A", "time": local.append(winter), "glucose": 150.0})
    profile = ambulatory_glucose_profile(cgm, bin_minutes=60)
    assert profile["minute"].tolist() == [8 * 60] and profile["n"].tolist() == [10]
