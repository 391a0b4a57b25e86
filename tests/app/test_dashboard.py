"""The dashboard's wiring without a browser: explore() for notebooks, and the health check the notebook
tests rely on."""

from __future__ import annotations

from explorer.app import explore
from explorer.app.scenario import DataSource
from explorer.cohort.synthetic import generate_screening


def test_explore_builds_its_own_explorer_each_time():
    first = explore("NCT06196996", n=2000, seed=1)
    second = explore("NCT01142050", n=2000, seed=1)
    assert first.state is not second.state and first.url is None  # a notebook's address is left alone
    assert first.state.trial.id == "NCT06196996" and first.state.scenario.data.population == "t1d"
    assert second.state.scenario.data == DataSource("synthetic", "t2d", 2000, 1)
    assert first.health() == [] and second.health() == []


def test_explore_takes_a_screening_in_memory():
    screening = generate_screening("t1d", 1500, seed=2)
    ex = explore("NCT06196996", screening)
    assert ex.state.counts["screened"] == 1500 and ex.state.protection.on  # not synthetic as far as it knows


def test_health_reports_errors_and_stale_views():
    ex = explore("NCT06196996", n=2000)
    ex.state.error = "something broke"
    assert ex.health() == ["error: something broke"]
    ex.state.error = ""
    ex.funnel.shown_revision = ex.state.revision - 1  # a funnel left behind by a failed redraw
    assert any("funnel shows revision" in p for p in ex.health())
    ex.refresh()
    assert ex.health() == []
