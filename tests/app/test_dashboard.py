"""The dashboard's wiring without a browser: explore() for notebooks, and the health check the notebook
tests rely on."""

from __future__ import annotations

import re

from explorer import engine
from explorer.app import explore
from explorer.app.pending import PendingIndicator
from explorer.app.scenario import DataSource
from explorer.app.widgets import STYLE
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



def test_a_closed_tab_computes_nothing_until_it_is_opened(monkeypatch):
    """Issue 17: a click recomputes only what the open tab shows; a tab computes its statistics when opened."""
    ex = explore("NCT06196996", n=2000)
    calls = []
    original = engine.shapley
    monkeypatch.setattr(engine, "shapley", lambda *a, **k: calls.append(k.get("value", "eligible")) or original(*a, **k))
    ex.state.toggle("E7", False)
    assert calls == [] and ex.health() == []
    ex.tabs.selected_index = ex.tabs.titles.index("Impact")
    assert calls == ["eligible", "remaining"]  # the two Shapley columns, for the scenario now in force
    assert "<td>E8</td>" in ex.impact._table.value and "<td>E7</td>" not in ex.impact._table.value


def test_the_loading_indicator_covers_the_work_and_clears():
    ex = explore("NCT06196996", n=2000)
    seen = []
    refresh = ex.impact.refresh
    ex.impact.refresh = lambda: (seen.append(ex.summary._busy.value), refresh())
    ex.tabs.selected_index = ex.tabs.titles.index("Impact")
    assert "te-busy" in seen[0]  # shown while the tab computes and draws
    assert ex.summary._busy.value == ""  # and gone when it is done
    states = []
    ex.state.observe(lambda change: states.append(ex.summary._busy.value), "busy")
    ex.state.toggle("E7", False)
    assert "te-busy" in states[0] and ex.summary._busy.value == ""


def test_the_loading_indicator_appears_within_100_ms_and_never_for_quick_updates():
    """The indicator is put on the page when work starts, and CSS shows it only after a delay: long enough
    that a quick update never flickers, short enough that anything slower than 100 ms shows it."""
    rule = re.search(r"\.te-busy \{[^}]*animation: te-busy-show 0s linear (\d+)ms forwards", STYLE)
    assert rule is not None and 30 <= int(rule.group(1)) < 100
    assert re.search(r"\.te-busy \{[^}]*visibility: hidden", STYLE)


def test_the_page_side_indicator_is_on_every_explorer_and_shows_before_100_ms():
    """The page's own indicator (explorer.app.pending) is part of the served dashboard and of a notebook's
    explorer; it shows after its delay plus at most a frame, so within 100 ms of the input. The browser
    test (tests/browser/test_dashboard_speed.py) checks that it appears and clears."""
    ex = explore("NCT06196996", n=2000)
    assert isinstance(ex.pending, PendingIndicator) and ex.pending in ex.children
    assert 30 <= ex.pending.show_after_ms <= 100 - 17
    assert 'data-testid="pending"' in ex.pending._esm
