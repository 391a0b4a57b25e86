"""Glycaemic risk and variability indices, the interpolation grid and MAGE: published values, hand-made
traces, and agreement with iglu-python on small fixtures (and on iglu's example data, `shared`)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from project_paths import ROOT

from explorer.clinical import mage as mage_module
from explorer.clinical.cgm_grid import interpolated_grid
from explorer.clinical.cgm_table import cgm_metric_table, compute_cgm_metrics, metric_names
from explorer.clinical.glycaemic_variability import VARIABILITY_COLUMNS, risk_function, variability_metrics
from explorer.errors import DefinitionError

START = pd.Timestamp("2024-03-01 00:00")


def trace(subject: str, glucose, *, step_minutes: float = 5, start: pd.Timestamp = START) -> pd.DataFrame:
    glucose = np.asarray(glucose, dtype=float)
    return pd.DataFrame({"subject_id": subject,
                         "time": start + pd.to_timedelta(np.arange(len(glucose)) * step_minutes, unit="min"),
                         "glucose": glucose})


def one(frame: pd.DataFrame) -> pd.Series:
    return variability_metrics(frame).iloc[0]


# --- published values and hand computation -----------------------------------------------------------

def test_risk_function_published_shape():
    # Kovatchev 1997/1998: the risk 10 f(g)^2 is 0 at 112.5 mg/dL and reaches 100 at the ends of the
    # meter range, 20 and 600 mg/dL.
    assert risk_function(np.array([112.5]))[0] == pytest.approx(0, abs=0.01)
    risk = 10 * risk_function(np.array([20.0, 600.0])) ** 2
    assert risk == pytest.approx([100, 100], abs=0.5)


def test_lbgi_hbgi_split_at_112_5():
    low = one(trace("A", [60.0] * 12))
    assert low["hbgi"] == 0 and low["lbgi"] == pytest.approx(10 * risk_function(np.array([60.0]))[0] ** 2)
    high = one(trace("A", [250.0] * 12))
    assert high["lbgi"] == 0 and high["hbgi"] == pytest.approx(10 * risk_function(np.array([250.0]))[0] ** 2)


def test_adrr_takes_each_days_extremes():
    # Day 1 ranges 60-250, day 2 is flat at 112.5 (no risk): ADRR is day 1's risk range over two days.
    day1 = trace("A", [60, 112.5, 250] * 96)
    day2 = trace("A", [112.5] * 288, start=START + pd.Timedelta(days=1))
    f = risk_function(np.array([60.0, 250.0])) / 1.509
    expected = 22.77 * (f[0] ** 2 + f[1] ** 2) / 2
    assert one(pd.concat([day1, day2]))["adrr"] == pytest.approx(expected)


def test_grade_is_zero_near_4_9_mmol_and_capped():
    # Hill 2007: GRADE is 0 where log10(log10(g / 18)) = -0.16, i.e. g = 18 x 10^(10^-0.16) = 88.6 mg/dL.
    zero = 18 * 10 ** (10 ** -0.16)
    assert one(trace("A", [zero] * 12))["grade"] == pytest.approx(0, abs=1e-9)
    assert one(trace("A", [25.0] * 12))["grade"] == 50  # very low glucose hits the cap of 50


def test_j_index_and_gri_by_hand():
    glucose = [50, 60, 100, 100, 100, 100, 200, 300, 100, 100]
    row = one(trace("A", glucose))
    mean, sd = np.mean(glucose), np.std(glucose, ddof=1)
    assert row["j_index"] == pytest.approx(0.001 * (mean + sd) ** 2)
    # 10 % very low, 10 % low, 10 % high (181-250), 10 % very high.
    assert row["gri_hypo"] == pytest.approx(10 + 0.8 * 10)
    assert row["gri_hyper"] == pytest.approx(10 + 0.5 * 10)
    assert row["gri"] == pytest.approx(3.0 * 18 + 1.6 * 15)


def test_gri_is_capped_at_100():
    assert one(trace("A", [45.0] * 12))["gri"] == 100


def test_modd_and_conga_and_mag_on_simple_traces():
    # Day 2 repeats day 1 plus 10 mg/dL: every 24-h difference is 10. A ramp of 1 mg/dL per 5 min
    # changes by 12 per hour, a constant difference (CONGA1 = its SD = 0) and MAG 12 mg/dL/h.
    ramp = 100 + np.arange(288) % 60
    row = one(pd.concat([trace("A", ramp), trace("A", ramp + 10, start=START + pd.Timedelta(days=1))]))
    assert row["modd"] == pytest.approx(10)
    steady = one(trace("B", 100 + np.arange(200)))
    assert steady["conga"] == pytest.approx(0, abs=1e-9)
    assert steady["mag"] == pytest.approx(12)


def test_mage_of_a_sine_wave_is_its_peak_to_nadir_height():
    minutes = np.arange(0, 3 * 24 * 60, 5)
    # Starts at a nadir and has a 6-h period, so every rise and fall is a full 100 mg/dL and every peak
    # and nadir lies on the 5-minute grid.
    # (iglu's grid starts at 00:05, so the very first nadir is read 0.02 mg/dL high: 99.98.)
    glucose = 150 - 50 * np.cos(2 * np.pi * minutes / 360)
    assert one(trace("A", glucose))["mage"] == pytest.approx(100, abs=0.05)


def test_flat_trace_has_no_excursions():
    assert np.isnan(one(trace("A", [120.0] * 300))["mage"])


def test_groups_are_independent_and_by_visit_works():
    a, b = trace("A", 100 + 40 * np.sin(np.arange(600) / 20)), trace("B", 150 + 30 * np.cos(np.arange(500) / 9))
    together = variability_metrics(pd.concat([a, b])).set_index("subject_id")
    alone = pd.concat([variability_metrics(a), variability_metrics(b)]).set_index("subject_id")
    pd.testing.assert_frame_equal(together, alone)
    visits = pd.concat([a.assign(visit="v1"), b.assign(visit="v2")])
    per_visit = variability_metrics(visits, by=("subject_id", "visit"))
    assert per_visit[["subject_id", "visit"]].values.tolist() == [["A", "v1"], ["B", "v2"]]
    assert per_visit["mage"].tolist() == pytest.approx(together["mage"].tolist())


def test_tz_aware_times_give_the_local_time_results():
    glucose = 100 + 60 * np.sin(np.arange(2 * 288) / 30)
    naive = trace("A", glucose, start=pd.Timestamp("2024-07-01 00:00"))
    aware = naive.assign(time=naive["time"].dt.tz_localize("Europe/Berlin"))
    pd.testing.assert_frame_equal(variability_metrics(aware), variability_metrics(naive))


def test_crossing_shortcut_equals_iglus_walk():
    rng = np.random.default_rng(4)
    for _ in range(20):
        gl = rng.normal(150, 40, 300)
        gl[rng.random(300) < 0.1] = np.nan
        delta = rng.normal(0, 5, 300)
        delta[rng.random(300) < 0.1] = np.nan
        delta[0] = 1.0
        ids, peaks = mage_module._crossings(gl, delta)
        walk_ids, walk_peaks = mage_module._crossings_walk(gl, delta)
        np.testing.assert_array_equal(ids, walk_ids)
        np.testing.assert_array_equal(peaks, walk_peaks)


def test_metric_table_lists_every_computed_metric_once():
    table = cgm_metric_table()
    assert table["name"].is_unique
    assert set(VARIABILITY_COLUMNS) == set(metric_names("variability"))
    assert table[["unit", "definition", "reference"]].notna().all().all()
    everything = compute_cgm_metrics(trace("A", 100 + 80 * np.sin(np.arange(600) / 25)))
    assert list(everything.columns) == ["subject_id", *metric_names()]
    with pytest.raises(DefinitionError, match="not a CGM metric"):
        compute_cgm_metrics(trace("A", [100] * 10), names=["tir", "magic"])


# --- the grid against iglu -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def iglu():
    return pytest.importorskip("iglu_python")


def gappy_fixture() -> pd.DataFrame:
    """Two subjects, 5- and 15-minute sensors, with gaps shorter and longer than 45 min and jitter."""
    rng = np.random.default_rng(11)
    minutes_a = np.arange(0, 3 * 1440, 5.0)
    minutes_a = minutes_a[(minutes_a < 700) | (minutes_a > 760)]         # a 65-min gap
    minutes_a = minutes_a[(minutes_a < 2000) | (minutes_a > 2030)]       # a 35-min gap, interpolated
    minutes_a = minutes_a + rng.choice([0, 1 / 60], len(minutes_a))      # Dexcom's 1-s jitter
    minutes_b = np.arange(37, 2 * 1440, 15.0)
    minutes_b = minutes_b[(minutes_b < 1500) | (minutes_b > 1800)]       # a 5-h gap: new MAGE segment
    rows = []
    for subject, minutes in (("A", minutes_a), ("B", minutes_b)):
        glucose = np.round(140 + 70 * np.sin(minutes / 170) + rng.normal(0, 12, len(minutes)))
        rows.append(pd.DataFrame({"id": subject, "time": START + pd.to_timedelta(minutes, unit="min"),
                                  "gl": np.clip(glucose, 40, 400)}))
    return pd.concat(rows, ignore_index=True)


def test_grid_equals_iglus_day_by_day_grid(iglu):
    from iglu_python.utils import CGMS2DayByDay

    data = gappy_fixture()
    codes, ids = pd.factorize(data["id"], sort=True)
    grid = interpolated_grid(codes.astype(np.int64), data["time"].to_numpy("datetime64[ns]").view(np.int64),
                             data["gl"].to_numpy(float), len(ids))
    for k, subject in enumerate(ids):
        reference, _, dt0 = CGMS2DayByDay(data[data["id"] == subject].copy())
        ours = grid.glucose[grid.first[k]:grid.first[k] + grid.size[k]]
        assert grid.dt0[k] == dt0
        np.testing.assert_allclose(ours, reference.ravel(), rtol=0, atol=1e-9, equal_nan=True)


def load_comparison():
    spec = importlib.util.spec_from_file_location("compare_cgm_iglu", ROOT / "scripts" / "compare_cgm_iglu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_agrees_with_iglu(data: pd.DataFrame) -> None:
    script = load_comparison()
    table = script.compare(script.ours(data), script.iglu_values(data))
    assert (table["nan_mismatch"] == 0).all(), table
    assert (table["max_abs_difference"].fillna(0) <= 1e-6).all(), table


# iglu-python 0.4.3 calls set_index(inplace=True), which pandas 3.1 deprecates: its warning, not ours.
IGLU_WARNINGS = pytest.mark.filterwarnings("ignore:The inplace keyword")


@IGLU_WARNINGS
def test_every_metric_agrees_with_iglu_on_a_gappy_fixture(iglu):
    assert_agrees_with_iglu(gappy_fixture())


@IGLU_WARNINGS
@pytest.mark.shared
def test_every_metric_agrees_with_iglu_on_its_example_data(iglu, shared_data):
    # One subject keeps the test to seconds (iglu-python itself is the slow side); every shared trace is
    # compared by scripts/compare_cgm_iglu.py, whose output is in docs/outcomes.md.
    path = shared_data / "cgm" / "iglu_r_package" / "example_data_1_subject.csv"
    assert_agrees_with_iglu(load_comparison().read_trace(path))
