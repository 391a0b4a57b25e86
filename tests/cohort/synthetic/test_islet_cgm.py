"""The islet recipients' glucose mixture: hypoglycaemic dips plus floor + Gamma, its fast-path metrics and
the readings drawn from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.synthetic import cgm, islet_cgm

MEAN = np.array([165.0, 140.0, 120.0, 115.0])
CV = np.array([38.0, 30.0, 22.0, 17.0])
DIP = np.array([0.12, 0.05, 0.01, 0.0])
FLOOR = np.array([0.0, 20.0, 40.0, 50.0])


def test_without_dips_or_floor_it_is_the_gamma_model():
    plain = cgm.summary_metrics(MEAN, CV)
    mixed = islet_cgm.summary_metrics(MEAN, CV, np.zeros(4), np.zeros(4))
    for name, values in plain.items():
        np.testing.assert_allclose(mixed[name], values, rtol=1e-12, err_msg=name)


def test_the_mixture_has_the_mean_and_cv_asked_for():
    """The non-dip part is solved so that the whole mixture keeps the visit's mean and CV (the sensor's
    40 mg/dL clip moves them a little: dips reach below it)."""
    m = islet_cgm.summary_metrics(MEAN, CV, DIP, FLOOR)
    np.testing.assert_allclose(m["cgm_mean"], MEAN, rtol=0.01)
    np.testing.assert_allclose(m["cgm_cv"], CV, rtol=0.04)


def test_dips_put_brittle_time_below_54_that_a_gamma_cannot():
    """At a mean of 165 mg/dL and CV 38 % Gamma gives < 1 % below 54 mg/dL; candidates spend a median 6.7 %."""
    gamma = cgm.summary_metrics(MEAN[:1], CV[:1])["tbr_54"][0]
    brittle = islet_cgm.summary_metrics(MEAN[:1], CV[:1], DIP[:1], FLOOR[:1])["tbr_54"][0]
    assert gamma < 1.0
    assert 5.0 < brittle < 12.0


@pytest.mark.parametrize("floor", [0.0, 25.0, 50.0])
def test_a_higher_floor_leaves_fewer_readings_low(floor):
    """Same mean and CV, no dips: only the floor moves the low tail."""
    at = islet_cgm.summary_metrics(np.array([115.0]), np.array([18.0]), np.zeros(1), np.array([floor]))
    above = islet_cgm.summary_metrics(np.array([115.0]), np.array([18.0]), np.zeros(1), np.array([floor + 10]))
    assert above["tbr_70"][0] < at["tbr_70"][0]
    assert above["cgm_mean"][0] == pytest.approx(at["cgm_mean"][0], rel=1e-3)


def test_readings_reproduce_the_fast_path_metrics():
    rng = np.random.default_rng(11)
    ends = np.full(4, np.datetime64("2025-03-01T00:00:00", "ns"))
    cdf = islet_cgm.cdf_on_grid(MEAN, CV, DIP, FLOOR)
    subject, _, glucose = cgm.readings(rng, MEAN, CV, np.full(4, 100.0), ends, cdf=cdf)
    got = cgm.metrics_from_readings(pd.Series(glucose), pd.Series(subject)).sort_index()
    want = islet_cgm.summary_metrics(MEAN, CV, DIP, FLOOR)
    for name in ("tir", "tbr_70", "tbr_54", "tar_180"):
        np.testing.assert_allclose(got[name].to_numpy(), want[name], atol=0.1, err_msg=name)
    np.testing.assert_allclose(got["cgm_mean"].to_numpy(), want["cgm_mean"], rtol=0.005)
    np.testing.assert_allclose(got["cgm_cv"].to_numpy(), want["cgm_cv"], rtol=0.02)
