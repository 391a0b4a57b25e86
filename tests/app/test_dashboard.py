"""The dashboard's wiring without a browser: explore() for notebooks, and the health check the notebook
tests rely on."""

from __future__ import annotations

import json
import re

from project_paths import ROOT

from explorer import engine
from explorer.app import explore
from explorer.app.pending import PendingIndicator
from explorer.app.scenario import DataSource, Scenario
from explorer.app.widgets import STYLE
from explorer.cohort.synthetic import generate_screening
from explorer.errors import DataError


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


def test_a_click_switches_the_loading_indicator_on_once_and_off_once_after_every_redraw():
    """Each switch is a websocket message to the page: a click used to send on, off, on, off (issue 17)."""
    ex = explore("NCT06196996", n=2000)
    shown = []
    ex.summary._busy.observe(lambda change: shown.append(("busy", bool(change["new"]))), "value")
    ex.funnel.chart.observe(lambda _: shown.append(("funnel", ex.state.busy)), "steps")
    ex.summary._counts.observe(lambda _: shown.append(("counts", ex.state.busy)), "value")
    ex.state.toggle("E7", False)
    assert [event for event in shown if event[0] == "busy"] == [("busy", True), ("busy", False)]
    assert shown[0] == ("busy", True) and shown[-1] == ("busy", False)  # the redraws come between
    assert {event[0] for event in shown[1:-1]} == {"funnel", "counts"}
    shown.clear()
    def refuse(*_):
        raise DataError("refused")

    ex.state._statistics = refuse  # an edit that fails: no new revision, and the indicator still clears
    assert not ex.state.toggle("E7", True)
    assert shown == [("busy", True), ("busy", False)] and ex.state.error == "refused"


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


def test_voila_leaves_out_plotly_lab_extension_by_its_installed_name():
    """voila.json denies jupyterlab-plotly (4.85 MB; figures come through explorer.app.plotly_loader). A
    name that matches no installed extension would deny nothing, silently."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_federated_extensions

    denied = json.loads((ROOT / "voila.json").read_text())["VoilaConfiguration"]["extension_denylist"]
    installed = get_federated_extensions(jupyter_path("labextensions"))
    assert "jupyterlab-plotly" in denied
    assert set(denied) <= set(installed), f"not installed: {set(denied) - set(installed)}"


def _widgets_built_by(build) -> int:
    """How many widget models `build()` creates: each one is a comm the first render sends to the page."""
    from ipywidgets.widgets.widget import _instances  # Widget.widgets, without its deprecation warning

    before = len(_instances)
    build()
    return len(_instances) - before


# The first screen of NCT06196996 (20 criteria): 1,012 models before issue 17, 343 with lazy tabs and the
# criterion rows sharing their Layouts and styles (719 with lazy tabs alone)
FIRST_SCREEN_MODELS = 360


def test_the_first_render_sends_only_the_first_screen():
    """Issue 17: closed tabs are placeholders (no models of their own) until opened; the count fails if it
    grows back."""
    box = {}
    built = _widgets_built_by(lambda: box.setdefault("ex", explore("NCT06196996", n=2000)))
    ex = box["ex"]
    assert built <= FIRST_SCREEN_MODELS, f"{built} widget models for the first render"
    placeholders = {tab.children[0].model_id for tab in ex.tabs.children[1:]}
    assert len(placeholders) == 1 and "Opening" in ex.tabs.children[1].children[0].value
    opened = _widgets_built_by(lambda: setattr(ex.tabs, "selected_index", ex.tabs.titles.index("Outcomes")))
    assert opened > 20 and ex.tabs.children[ex.tabs.selected_index].children == (ex.outcomes,)


def test_a_tab_opened_later_shows_the_scenario_current_then():
    """A tab built after edits draws the scenario in force when it opens, not the one at page load."""
    ex = explore("NCT06196996", n=2000)
    ex.state.toggle("E7", False)
    ex.state.set_min_cell(5)
    ex.tabs.selected_index = ex.tabs.titles.index("Export & scenario")
    assert ex.export._min_cell.value == 5
    ex.tabs.selected_index = ex.tabs.titles.index("Overlap")
    assert ex.overlap.stale is False and ex.health() == []
    ex.tabs.selected_index = ex.tabs.titles.index("Impact")
    assert "<td>E8</td>" in ex.impact._table.value and "<td>E7</td>" not in ex.impact._table.value


def _served(trial: str = "NCT06196996"):
    from explorer.app.dashboard import Dashboard
    from explorer.app.state import ExplorerState

    state = ExplorerState(Scenario(trial=trial, data=DataSource("synthetic", "t1d", 2000, 0)))
    return Dashboard(state, criteria_after_render=True)


def _painted(dashboard) -> None:
    """What the page's funnel sends in its first frame laid out (FunnelChart's script)."""
    dashboard.funnel.chart._handle_custom_msg({"event": "painted"}, [])


def _views(widget) -> int:
    """How many views the page draws for `widget`: itself and every widget in its children, recursively."""
    return 1 + sum(_views(child) for child in getattr(widget, "children", ()))


def test_the_served_dashboard_shows_the_criteria_rows_after_the_page_has_laid_out_the_funnel():
    """Issue 17, first render: the page draws every view of the tree before the counts show; the criteria's
    rows (about 250 of the first screen's views) join the tree once the funnel is laid out, in one message,
    and show the scenario current then."""
    dashboard = _served()
    assert dashboard.criteria.waiting and "Loading the criteria" in dashboard.criteria._list.children[0].value
    before = _views(dashboard)
    assert before < 120, f"{before} views before the first render"
    assert dashboard.health() == []  # the header and the funnel are drawn and current meanwhile
    dashboard.state.toggle("E7", False)  # an edit before the rows are shown: they show it
    dashboard.state.move("E8", -1)
    sent = []
    dashboard.criteria._list.comm.send = lambda data, *args, **kwargs: sent.append(data)
    built = _widgets_built_by(lambda: _painted(dashboard))
    assert built == 0 and len(sent) == 1 and "children" in sent[0]["state"]  # one update of the list
    assert not dashboard.criteria.waiting and _views(dashboard) > before + 200
    assert [row.criterion_id for row in dashboard.criteria._list.children] == list(dashboard.state.order)
    assert dashboard.criteria._rows["E7"]._toggle.value is False
    assert dashboard.criteria._rows["E8"]._toggle.value is True
    _painted(dashboard)  # a second view of the funnel (a reload in JupyterLab): nothing more
    assert len(sent) == 1 and dashboard.health() == []


def test_the_served_dashboard_waits_for_the_funnel_not_for_other_messages():
    dashboard = _served("NCT01142050")
    dashboard.pending.following = True  # the page's first message: its indicator, drawn before the funnel
    dashboard.url.initial_query_sent = True
    dashboard.funnel.chart._handle_custom_msg({"event": "something else"}, [])
    assert dashboard.criteria.waiting
    dashboard.state.set_disabled([dashboard.state.order[0]])
    _painted(dashboard)
    assert not dashboard.criteria.waiting
    assert [row.criterion_id for row in dashboard.criteria._list.children] == list(dashboard.state.order)
    assert dashboard.criteria._rows[dashboard.state.order[0]]._toggle.value is False


def test_the_notebook_voila_serves_waits_for_the_page_before_the_rows():
    source = "".join(json.loads((ROOT / "notebooks" / "dashboard.ipynb").read_text())["cells"][0]["source"])
    assert "Dashboard(criteria_after_render=True).show()" in source


def test_a_notebook_explorer_builds_its_rows_at_once():
    ex = explore("NCT06196996", n=2000)
    assert not ex.criteria.waiting and list(ex.criteria._rows) == list(ex.state.order)
