"""Outcome figures, checked through fig.to_dict(): traces, values, colours and axis titles."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.clinical.cgm import ambulatory_glucose_profile
from explorer.errors import DataError, ExplorerError
from explorer.outcomes.summary import change_from_baseline, responder_proportions, summarise
from explorer.plots import CGM_RANGE_COLOURS, PALETTE, save_figure
from explorer.plots.outcomes import (
    agp_figure,
    responder_figure,
    time_in_range_bands,
    time_in_range_figure,
    trajectory_figure,
)

VISITS = ["baseline", "week 4", "week 12", "week 48"]


@pytest.fixture(scope="module")
def hba1c_long() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    subjects = [f"s{i:03d}" for i in range(60)]
    rows = [(s, v, "hba1c", 8.5 - 0.3 * k + rng.normal(0, 0.4))
            for s in subjects for k, v in enumerate(VISITS)]
    long = pd.DataFrame(rows, columns=["subject_id", "visit", "measure", "value"])
    return long.assign(arm=long["subject_id"].map(lambda s: "MSC" if int(s[1:]) % 2 else "placebo"))


def array(value) -> np.ndarray:
    """A to_dict() array as NumPy: plotly 6 writes NumPy data as typed binary ({"dtype", "bdata"})."""
    if isinstance(value, dict) and "bdata" in value:
        decoded = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return decoded.reshape([int(n) for n in str(shape).split(",")]) if shape else decoded
    return np.asarray(value)


def titles(fig) -> tuple[str, str]:
    layout = fig.to_dict()["layout"]
    return layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]


def test_trajectory_has_subjects_band_and_mean(hba1c_long):
    fig = trajectory_figure(hba1c_long, measure="hba1c")
    data = fig.to_dict()["data"]
    assert [trace["name"] for trace in data] == ["All: subjects", "All: 95% CI of the mean", "All: mean"]
    subjects, band, mean = data
    # 60 subjects x 4 visits, each subject's line ended by a gap.
    assert len(array(subjects["y"])) == 60 * 5 and np.isnan(array(subjects["y"])).sum() == 60
    expected = summarise(hba1c_long)
    assert list(mean["x"]) == VISITS
    assert np.allclose(array(mean["y"]), expected["mean"])
    band_y = array(band["y"])
    assert np.allclose(band_y[:4], expected["ci_high"]) and np.allclose(band_y[4:], expected["ci_low"][::-1])
    assert titles(fig) == ("Visit", "hba1c (%)")  # the unit comes from the catalogue


def test_trajectory_samples_subjects_reproducibly(hba1c_long):
    def shown(seed):
        fig = trajectory_figure(hba1c_long, measure="hba1c", max_subjects=10, seed=seed)
        return {t for t in array(fig.to_dict()["data"][0]["text"]) if t is not None}
    assert len(shown(1)) == 10
    assert shown(1) == shown(1)
    assert shown(1) != shown(2)
    fig = trajectory_figure(hba1c_long, measure="hba1c", max_subjects=10)
    assert fig.to_dict()["data"][0]["name"] == "All: subjects (10 of 60 shown)"
    assert array(fig.to_dict()["data"][2]["customdata"])[0][0] == 60  # the mean still uses everyone


def test_trajectory_by_subgroup_with_median(hba1c_long):
    fig = trajectory_figure(hba1c_long, measure="hba1c", by="arm", centre="median")
    data = fig.to_dict()["data"]
    assert len(data) == 6
    assert [t["name"] for t in data[2::3]] == ["placebo: median", "MSC: median"]
    assert data[2]["line"]["color"] == PALETTE[0] and data[5]["line"]["color"] == PALETTE[1]
    placebo = hba1c_long[hba1c_long["arm"] == "placebo"]
    expected = placebo.groupby("visit", sort=False)["value"].median()
    assert np.allclose(array(data[2]["y"]), expected.loc[VISITS])


def test_change_from_baseline_variant(hba1c_long):
    change = change_from_baseline(hba1c_long)
    fig = trajectory_figure(change, measure="hba1c", value="change", show_subjects=False)
    assert len(fig.data) == 2
    assert fig.data[1].y[0] == pytest.approx(0)
    assert titles(fig)[1] == "Change from baseline in hba1c (%)"
    relative = trajectory_figure(change, measure="hba1c", value="relative_change", label="HbA1c")
    assert titles(relative)[1] == "Change from baseline in HbA1c (%)"


def test_trajectory_needs_a_unit_for_unknown_measures(hba1c_long):
    other = hba1c_long.assign(measure="mystery_score")
    with pytest.raises(DataError, match="unit"):
        trajectory_figure(other, measure="mystery_score")
    fig = trajectory_figure(other, measure="mystery_score", unit="points")
    assert titles(fig)[1] == "mystery_score (points)"
    with pytest.raises(DataError, match="no values"):
        trajectory_figure(hba1c_long, measure="weight")


@pytest.fixture(scope="module")
def cgm_metrics_table() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": ["a", "b", "a", "b"],
        "visit": ["baseline", "baseline", "week 12", "week 12"],
        "arm": ["islet", "control", "islet", "control"],
        "tbr_54": [2.0, 0.0, 0.0, 1.0],
        "tbr_70": [6.0, 2.0, 1.0, 3.0],
        "tir": [50.0, 60.0, 90.0, 65.0],
        "tar_180": [44.0, 38.0, 9.0, 32.0],
        "tar_250": [20.0, 10.0, 1.0, 12.0],
    })


def test_time_in_range_bars(cgm_metrics_table):
    fig = time_in_range_figure(cgm_metrics_table)
    data = fig.to_dict()["data"]
    assert [t["name"] for t in data] == ["Very low (<54 mg/dL)", "Low (54-69 mg/dL)",
                                         "In range (70-180 mg/dL)", "High (181-250 mg/dL)",
                                         "Very high (>250 mg/dL)"]
    assert [t["marker"]["color"] for t in data] == list(CGM_RANGE_COLOURS.values())
    assert fig.layout.barmode == "stack"
    assert list(data[0]["x"]) == ["baseline", "week 12"]
    # Baseline means: very low 1, low (6-2 + 2-0)/2 = 3, in range 55, high (24 + 28)/2 = 26, very high 15.
    assert [array(t["y"])[0] for t in data] == pytest.approx([1, 3, 55, 26, 15])
    assert np.allclose(np.sum([array(t["y"]) for t in data], axis=0), 100)
    assert titles(fig) == ("Visit", "Time in range (% of readings)")


def test_time_in_range_bars_by_subgroup(cgm_metrics_table):
    fig = time_in_range_figure(cgm_metrics_table, by="arm")
    x = fig.to_dict()["data"][2]["x"]
    assert [list(level) for level in x] == [["baseline", "baseline", "week 12", "week 12"],
                                            ["islet", "control", "islet", "control"]]
    assert list(fig.data[2].y) == [50, 60, 90, 65]


def test_time_in_range_bands_sum_to_100(cgm_metrics_table):
    assert np.allclose(time_in_range_bands(cgm_metrics_table).sum(axis=1), 100)


def test_agp_figure():
    times = pd.date_range("2024-01-01", periods=7 * 96, freq="15min")
    glucose = 140 + 40 * np.sin(2 * np.pi * times.hour / 24) + np.tile(np.linspace(-20, 20, 7), 96)
    cgm = pd.DataFrame({"subject_id": "a", "time": times, "glucose": glucose})
    profile = ambulatory_glucose_profile(cgm, bin_minutes=60)
    fig = agp_figure(profile)
    data = fig.to_dict()["data"]
    assert [t["name"] for t in data] == ["5-95th percentile", "25-75th percentile", "Median"]
    assert len(array(data[2]["x"])) == 24 and array(data[2]["x"])[0] == pytest.approx(0.5)  # bin centres in hours
    assert np.allclose(array(data[2]["y"]), profile["p50"])
    assert [shape["y0"] for shape in fig.to_dict()["layout"]["shapes"]] == [70, 180]
    assert titles(fig) == ("Time of day (h)", "Glucose (mg/dL)")


def test_agp_figure_wants_one_profile():
    cgm = pd.DataFrame({"subject_id": ["a", "b"], "time": pd.to_datetime(["2024-01-01 00:05"] * 2),
                        "glucose": [100.0, 120.0]})
    with pytest.raises(DataError, match="one subject"):
        agp_figure(ambulatory_glucose_profile(cgm, by=["subject_id"]))


def test_responder_figure():
    flags = pd.DataFrame({
        "visit": ["week 4"] * 4 + ["week 48"] * 4,
        "arm": ["MSC", "MSC", "placebo", "placebo"] * 2,
        "responder": pd.array([True, False, False, False, True, True, False, True], dtype="boolean"),
    })
    proportions = responder_proportions(flags, by=["visit", "arm"])
    fig = responder_figure(proportions, by="arm")
    data = fig.to_dict()["data"]
    assert [t["name"] for t in data] == ["MSC", "placebo"]
    assert list(array(data[0]["y"])) == pytest.approx([50, 100])
    msc = proportions[proportions["arm"] == "MSC"]
    assert list(array(data[0]["error_y"]["arrayminus"])) == pytest.approx(list(100 * (msc["proportion"] - msc["ci_low"])))
    assert titles(fig) == ("Visit", "Responders (% of subjects)")


def test_save_figure_html_and_bad_suffix(tmp_path: Path, hba1c_long):
    fig = trajectory_figure(hba1c_long, measure="hba1c", max_subjects=5)
    path = save_figure(fig, tmp_path / "trajectory.html")
    assert path.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html>")
    with pytest.raises(ExplorerError, match="cannot export"):
        save_figure(fig, tmp_path / "trajectory.docx")


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="static export needs /usr/bin/chromium")
def test_save_figure_png_and_svg(tmp_path: Path, cgm_metrics_table):
    fig = time_in_range_figure(cgm_metrics_table)
    png = save_figure(fig, tmp_path / "tir.png", width=600, height=400)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_figure(fig, tmp_path / "tir.svg")
    assert "<svg" in svg.read_text(encoding="utf-8")[:500]


def test_outcome_figures_carry_the_house_template_as_a_copy(hba1c_long):
    """The template is set without plotly's validating deep copy (issue 17): the same template, and a
    change to one figure's template reaches neither the registered one nor the next figure."""
    import plotly.io as pio

    from explorer.plots import TEMPLATE

    fig = trajectory_figure(hba1c_long, measure="hba1c")
    assert fig.to_dict()["layout"]["template"] == pio.templates[TEMPLATE].to_plotly_json()
    fig.layout.template.layout.font.size = 99
    assert pio.templates[TEMPLATE].layout.font.size is None
    assert trajectory_figure(hba1c_long, measure="hba1c").layout.template.layout.font.size is None
