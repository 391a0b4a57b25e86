"""What one criterion click sends the page (issue 17), counted in process: each widget message the kernel would
send, with the size of its JSON, and the funnel the page is given, checked against the engine's."""

from __future__ import annotations

import json

import ipywidgets
import pandas as pd
import pytest

from explorer import engine
from explorer.app.dashboard import Dashboard
from explorer.app.funnel_view import STEP_FIELDS, FunnelChart, funnel_data
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState, enabled_ids, funnel_order

BASE = Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", 3000, 1))
FIELDS = {name: i for i, name in enumerate(STEP_FIELDS)}


@pytest.fixture
def sent(monkeypatch):
    """The messages widgets send to the page: (widget class, traits, bytes of the message's JSON)."""
    messages = []
    send = ipywidgets.Widget._send

    def counted(self, msg, buffers=None):
        messages.append((type(self).__name__, tuple(sorted(msg.get("state", {}))), len(json.dumps(msg))))
        return send(self, msg, buffers)

    monkeypatch.setattr(ipywidgets.Widget, "_send", counted)
    return messages


def click(dashboard: Dashboard, criterion: str) -> None:
    """What the page sends when the criterion's checkbox is clicked: its new value, as a comm message."""
    box = dashboard.criteria._rows[criterion]._toggle
    box._handle_msg({"content": {"data": {"method": "update", "state": {"value": not box.value},
                                          "buffer_paths": []}}, "buffers": []})


def engine_rows(state: ExplorerState) -> list[list[str] | None]:
    """The funnel as the engine counts it for the state's scenario, as the page should show it: each step's
    counts as text under the scenario's protection, None where a switched-off criterion stands."""
    scenario, trial = state.scenario, state.trial
    funnel = engine.funnel(state.matrix, order=funnel_order(trial, scenario), enabled=enabled_ids(trial, scenario),
                           policies=dict(scenario.policies))
    shown = state.protection.table(funnel)
    steps = iter([state.protection.text(getattr(r, name)) for name in ("remaining", "eligible", "possibly_eligible")]
                 for r in shown.itertuples())
    rows = [next(steps)]  # the screened
    for criterion in funnel_order(trial, scenario):
        rows.append(next(steps) if state.enabled(criterion) else None)
    assert next(steps, None) is None
    return rows


def page_rows(dashboard: Dashboard) -> list[list[str] | None]:
    return [None if step is None else [step[FIELDS[name]] for name in ("remaining", "eligible", "possibly")]
            for step in dashboard.funnel.chart.steps]


@pytest.mark.parametrize("criterion", ["I1", "E13"])  # every step changes; only the last few do
def test_a_click_sends_the_changed_counts_only(sent, criterion):
    d = Dashboard(ExplorerState(BASE), address=True)
    click(d, criterion)  # off
    sent.clear()
    click(d, criterion)  # on again
    assert d.health() == []
    # the checkbox's echo, the indicator on, the funnel's counts, the header's counts, the indicator off, the
    # page address: the funnel's bars and its table were two HTML messages of 13.4 kB together (9.7 + 3.7)
    assert len(sent) <= 6, sent
    funnel = [m for m in sent if m[0] == "FunnelChart"]
    assert len(funnel) == 1 and funnel[0][1] == ("steps",), "a toggle leaves the labels as they are"
    assert funnel[0][2] < 2_500
    assert sum(size for *_, size in sent) < 3_500, sent


def test_the_funnel_the_page_is_given_is_the_engines_after_every_click(sent):
    d = Dashboard(ExplorerState(BASE), address=False)
    for criterion in ["E7", "I2", "E13", "E7", "I1", "I2", "E1"]:
        click(d, criterion)
        assert d.health() == []
        assert page_rows(d) == engine_rows(d.state)
        labels = d.funnel.chart.labels
        assert [c for c, _ in labels[1:]] == d.state.order  # every criterion in the funnel's order, off ones too
        assert [labels[i][0] for i, step in enumerate(d.funnel.chart.steps) if step is None] == [
            c for c, _ in d.state.switched_off]


def test_protected_counts_reach_the_page_as_the_protection_shows_them():
    d = Dashboard(ExplorerState(BASE), address=False)
    assert d.state.set_min_cell(11, "round")
    assert page_rows(d) == engine_rows(d.state)
    assert any("<11" in row for row in filter(None, page_rows(d)))  # a small count, blanked, not a number


def test_concealed_funnel_keeps_no_count_in_the_page():
    d = Dashboard(ExplorerState(BASE), address=False)
    d.funnel.blank()
    assert d.funnel.chart.steps == [] and d.funnel.chart.labels == [] and d.funnel.chart.message
    assert not d.funnel.drawn and "the funnel is not drawn" in d.health()


def test_the_page_puts_labels_in_as_text_never_as_html():
    """Labels come from trial files: the page's script writes them with textContent only."""
    assert "innerHTML" not in FunnelChart._esm and "insertAdjacentHTML" not in FunnelChart._esm
    assert "textContent" in FunnelChart._esm


def test_a_click_leaves_a_closed_data_tab_alone_until_it_opens(monkeypatch):
    """The Data tab's report was redrawn on every click once the tab had been opened (4 ms at 10^5)."""
    d = Dashboard(ExplorerState(BASE), address=False)
    d.tabs.selected_index = d.tabs.titles.index("Data")
    d.tabs.selected_index = 0
    drawn = []
    original = d.data.refresh
    monkeypatch.setattr(d.data, "refresh", lambda: drawn.append(d.state.revision) or original())
    click(d, "E7")
    click(d, "E7")
    assert drawn == []
    d.tabs.selected_index = d.tabs.titles.index("Data")
    assert drawn == [d.state.revision]  # drawn once, for the scenario in force when it opens


def test_the_trial_picker_follows_the_state_without_listing_trials_on_every_click(monkeypatch):
    d = Dashboard(ExplorerState(BASE), address=False)
    listed = []
    monkeypatch.setattr(type(d.state), "trial_choices", property(lambda s: listed.append(1) or ["NCT01142050",
                                                                                                  "NCT06196996"]))
    click(d, "E7")
    assert listed == []
    d.trial_picker._dropdown.value = "NCT01142050"  # a switch, as the page sends it
    assert d.state.trial.id == "NCT01142050" and listed and d.health() == []
    d.state.error = ""
    d.trial_picker._syncing = True  # the dropdown left on another trial (a failed switch): the next edit resets it
    d.trial_picker._dropdown.value = "NCT06196996"
    d.trial_picker._syncing = False
    d.state.toggle("I1", False)
    assert d.trial_picker._dropdown.value == "NCT01142050"


def test_once_the_page_follows_the_kernel_a_click_sends_no_loading_indicator(sent):
    """The page's own indicator (explorer.app.pending) says it follows the kernel's requests: the header's
    indicator, two of a click's messages, is then left out; without it (another front end) it stays."""
    d = Dashboard(ExplorerState(BASE), address=True)
    click(d, "E7")
    assert [m for m in sent if m[0] == "HTML" and m[2] < 150]  # the indicator's on and off
    d.pending._handle_msg({"content": {"data": {"method": "update", "state": {"following": True},
                                                "buffer_paths": []}}, "buffers": []})
    sent.clear()
    click(d, "E7")
    assert [m[0] for m in sent] == ["Checkbox", "FunnelChart", "HTML", "UrlSync"], sent  # echo, funnel, header, address
    assert d.summary._busy.value == "" and d.health() == []
    shown = []
    d.summary._busy.observe(lambda change: shown.append(change["new"]), "value")
    d.tabs.selected_index = d.tabs.titles.index("Impact")  # a tab drawing: covered by the page's indicator too
    assert shown == [] and "<td>E8</td>" in d.impact._table.value


def test_an_empty_cohort_draws_empty_bars_and_dashes():
    """No one screened (an empty dataset): no bar width divides by zero, unknown percentages read as a dash."""
    nan = float("nan")
    frame = pd.DataFrame({"step": [0, 1], "criterion": [None, "I1"], "label": ["Screened", "Age <b>6</b>"],
                          "policy": [None, "unknown"], "eligible": [0, 0], "possibly_eligible": [0, 0],
                          "remaining": [0, 0], "excluded": [0, 0], "remaining_pct_start": [nan, nan],
                          "remaining_pct_previous": [nan, nan]})
    labels, steps = funnel_data(frame, off=[(1, "E1", "Off one"), (1, "E2", "Off two")])
    assert labels == [["", "Screened"], ["I1", "Age <b>6</b>"], ["E1", "Off one"], ["E2", "Off two"]]
    assert steps[2:] == [None, None]
    assert [steps[1][FIELDS[f]] for f in ("remaining", "pct_start", "excluded", "eligible_width")] == ["0", "\u2013",
                                                                                                     "0", 0.0]
    assert steps[0][FIELDS["excluded"]] == "" and steps[0][FIELDS["policy"]] == "\u2013"
