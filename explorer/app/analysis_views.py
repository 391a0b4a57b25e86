"""Views of what researchers ask next: where a cut-off should be, and how a variant compares with A.

Thin like the others: the state computes (ExplorerState.sensitivity, .comparison), these display, with
every count through the scenario's small-cell rule.
"""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.app.state import ExplorerState
from explorer.app.widgets import html_table
from explorer.plots import PALETTE, TEMPLATE


def sensitivity_figure(result, protection) -> go.Figure:
    """Left: the variable among the subjects still in the pool with this criterion set aside, the cut-off
    drawn on it; right: the eligible (and possibly eligible) count across the allowed range."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"{result.variable or result.parameter} among the pool ({result.unknown_share:.0%} unknown)"
        if result.pool else "no subject in the pool", "eligible count by cut-off"))
    if result.histogram is not None:
        h = result.histogram
        centres = (h["left"] + h["right"]) / 2
        pool = [protection.count(v) for v in h["pool"]]
        fig.add_bar(x=centres, y=pool, width=(h["right"] - h["left"]), marker_color=PALETTE[5],
                    name="pool (known values)", row=1, col=1)
        fig.add_vline(x=result.current, line_color=PALETTE[3], line_dash="dash", row=1, col=1)
    curve = result.curve
    for column, colour, name in (("eligible", PALETTE[0], "eligible"),
                                 ("possibly_eligible", PALETTE[5], "possibly eligible")):
        fig.add_scatter(x=curve["value"], y=[protection.count(v) for v in curve[column]], mode="lines",
                        line=dict(color=colour, width=2), name=name, row=1, col=2)
    current = curve.iloc[int(np.argmin(np.abs(curve["value"] - result.current)))]
    fig.add_scatter(x=[current["value"]], y=[protection.count(current["eligible"])], mode="markers+text",
                    marker=dict(size=10, color=PALETTE[3]), text=[f"now {protection.text(current['eligible'])}"],
                    textposition="top center", name="current cut-off", row=1, col=2)
    unit = f" ({result.unit})" if result.unit else ""
    fig.update_xaxes(title_text=f"{result.label}{unit}")
    fig.update_layout(template=TEMPLATE, height=340, margin=dict(l=40, r=20, t=50, b=40), showlegend=True)
    return fig


class ThresholdView(w.VBox):
    """Pick a numeric threshold: its variable's distribution and the eligible count across its range."""

    def __init__(self, state: ExplorerState):
        from explorer.app.views import FigureOutput, guarded

        self._state = state
        self.stale = False
        self._choice = w.Dropdown(description="Threshold", layout=w.Layout(width="460px"),
                                  style={"description_width": "initial"})
        self._choice.observe(lambda _: guarded(state, self.refresh), "value")
        self._note = w.HTML()
        self._figure = FigureOutput()
        self._key = None
        super().__init__([w.HTML("<b>Threshold sensitivity</b> <span class='te-muted'>where should this cut-off "
                                 "be? Computed from the subjects every other enabled criterion keeps; they "
                                 "update with the other criteria</span>"), self._choice, self._note, self._figure])

    def refresh(self) -> None:
        s = self._state
        options = [(f"{c.id} {p.label or name}", f"{c.id}.{name}") for c in s.trial.criteria
                   for name, p in c.parameters.items() if c.computable and s.enabled(c.id)]
        if [o[1] for o in self._choice.options] != [o[1] for o in options]:
            current = self._choice.value
            self._choice.options = options
            self._choice.value = current if current in dict(map(reversed, options)) else (
                options[0][1] if options else None)
        if not self._choice.value:
            self._note.value = "<p class='te-muted'>No enabled criterion has a numeric threshold.</p>"
            return
        criterion, parameter = self._choice.value.split(".", 1)
        result = s.sensitivity(criterion, parameter)
        self._note.value = (f"<p class='te-muted' data-testid='sensitivity-note'>{html.escape(criterion)} "
                            f"{html.escape(result.label)} = {result.current:g}: "
                            f"{html.escape(s.shown_count(result.pool))} subjects pass or are unknown on every other "
                            f"criterion; {result.unknown_share:.0%} of them have no value ({html.escape(result.method)})"
                            f"</p>")
        self._figure.show(sensitivity_figure(result, s.protection))

    def blank(self) -> None:
        self._note.value = ""
        self._figure.clear_output()


class CompareView(w.VBox):
    """Scenario A (pinned, or the registered trial) beside the current scenario B."""

    def __init__(self, state: ExplorerState):
        from explorer.app.views import guarded

        self._state = state
        self.stale = False
        pin = w.Button(description="Pin current scenario as A", layout=w.Layout(width="auto"))
        pin.on_click(lambda _: guarded(state, lambda: (state.pin(), self.refresh())))
        self._which = w.HTML()
        self._counts = w.HTML()
        self._movement = w.HTML()
        self._funnels = w.HTML()
        self._baseline = w.HTML()
        super().__init__([w.HTML("<b>Compare scenarios</b> <span class='te-muted'>A against the current scenario "
                                 "B: final counts, who moves in or out, funnels step by step, and table 1</span>"),
                          pin, self._which, self._counts, self._movement, self._funnels, self._baseline])

    def refresh(self) -> None:
        s = self._state
        c = s.comparison()
        shown = s.shown_count
        pinned = s.pinned is not None and s.pinned.trial == s.scenario.trial and s.pinned.data == s.scenario.data
        self._which.value = ("<p class='te-muted'>A: the scenario you pinned" if pinned else
                             "<p class='te-muted'>A: the trial as registered (no edits)") + \
            " &middot; B: the current scenario</p>"
        counts = pd.DataFrame({"count": c.counts["count"].str.replace("_", " "),
                               "A": [shown(v) for v in c.counts["a"]], "B": [shown(v) for v in c.counts["b"]],
                               "B - A": ["" if pd.isna(v) else f"{int(v):+,}" for v in c.counts["difference"]]})
        self._counts.value = html_table(counts)
        movement = c.movement.copy()
        for col in movement.attrs.get("counts", []):
            movement[col] = [shown(v) for v in movement[col]]
        self._movement.value = "<b>Subjects</b>" + html_table(movement)
        funnels = c.funnels.copy()
        for col in funnels.attrs.get("counts", []):
            if col in funnels:
                funnels[col] = [shown(v) for v in funnels[col]]
        self._funnels.value = "<b>Funnels, step by step</b>" + html_table(funnels)
        if c.baseline is not None:
            from explorer.app.tables import format_baseline
            self._baseline.value = "<b>Table 1: A-eligible and B-eligible</b>" + html_table(
                format_baseline(c.baseline, catalogue=s.trial.catalogue, protection=s.protection))

    def blank(self) -> None:
        for part in (self._counts, self._movement, self._funnels, self._baseline):
            part.value = ""
