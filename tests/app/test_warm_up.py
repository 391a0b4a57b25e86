"""OutcomePreparer: a settled scenario's outcomes are computed in the background, after the page's first
render and after the last of a run of edits, never for a scenario the state has left."""

from __future__ import annotations

import time

import pytest
import traitlets

from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.app.warm_up import OutcomePreparer

SETTLE_S = 0.2


class Page(traitlets.HasTraits):
    initial_query_sent = traitlets.Bool(False)


@pytest.fixture()
def fresh():
    return ExplorerState(Scenario(data=DataSource("synthetic", "t1d", 5_000, 0)), with_baseline=False)


def settled(preparer: OutcomePreparer, prepared: int, timeout: float = 60) -> None:
    """Wait until `prepared` scenarios were handed to prepare and its job has finished."""
    deadline = time.monotonic() + timeout
    while preparer.prepared < prepared:
        assert time.monotonic() < deadline, "the preparer did not settle"
        time.sleep(0.02)
    assert preparer.wait(timeout), "the preparer did not settle"


def test_nothing_is_prepared_before_the_page_has_rendered(fresh):
    page = Page()
    preparer = OutcomePreparer(fresh, page=page, settle_s=SETTLE_S)
    fresh.toggle("E7", False)
    time.sleep(3 * SETTLE_S)
    assert preparer.prepared == 0 and fresh.outcomes.computations == 0
    page.initial_query_sent = True
    settled(preparer, 1)
    assert fresh.outcomes.computations == 1
    fresh.outcomes.results()  # the tab then only takes them
    assert fresh.outcomes.computations == 1


def test_a_run_of_edits_prepares_the_last_scenario_once(fresh):
    preparer = OutcomePreparer(fresh, settle_s=SETTLE_S)
    settled(preparer, 1)
    for value in (False, True, False):
        fresh.toggle("E7", value)  # faster than the settling time
    settled(preparer, 2)
    assert preparer.prepared == 2 and fresh.outcomes.computations == 2
    preparer.stop()
    fresh.outcomes.results()
    assert fresh.outcomes.computations == 2  # the edited scenario's were there


def test_it_waits_while_the_dashboard_draws(fresh):
    drawing = [True]
    preparer = OutcomePreparer(fresh, settle_s=SETTLE_S, working=lambda: drawing[0])
    time.sleep(4 * SETTLE_S)
    assert preparer.prepared == 0
    drawing[0] = False
    settled(preparer, 1)
    assert fresh.outcomes.computations == 1
    preparer.stop()


def test_the_served_dashboard_prepares_once_its_page_has_rendered(fresh, monkeypatch):
    from explorer.app import warm_up
    from explorer.app.dashboard import Dashboard

    monkeypatch.setattr(warm_up, "SETTLE_S", SETTLE_S)
    dashboard = Dashboard(fresh).show()
    preparer = dashboard.outcome_preparer
    time.sleep(3 * SETTLE_S)
    assert preparer.prepared == 0  # the page has not said it rendered
    dashboard.url.initial_query_sent = True
    settled(preparer, 1)
    assert fresh.outcomes.computations == 1
    preparer.stop()
