"""Views of what researchers ask next: where a cut-off should be, how a variant compares with A, how
representative the eligible are, and how the subjects a relaxed criterion adds fare.

Thin like the others: the state computes (ExplorerState.sensitivity, .comparison, .representativeness,
.relaxed_outcomes), these display, with every count through the scenario's small-cell rule.
"""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.app.glance import unknown_share
from explorer.app.state import ExplorerState
from explorer.app.widgets import FigureOutput, guarded, html_table
from explorer.plots import PALETTE, TEMPLATE


def sensitivity_figure(result, protection) -> go.Figure:
    """Left: the variable among the subjects still in the pool with this criterion set aside, the cut-off
    drawn on it; right: the eligible (and possibly eligible) count across the allowed range."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"{result.variable or result.parameter} among the pool ({unknown_share(result, protection) or 'share hidden'}"
        " unknown)"
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
                            f"criterion; {html.escape(s.shown_count(result.unknown))} of them "
                            f"({unknown_share(result, s.protection) or 'share hidden'}) have no value "
                            f"({html.escape(result.method)})"
                            f"</p>")
        self._figure.show(sensitivity_figure(result, s.protection))

    def blank(self) -> None:
        self._note.value = ""
        self._figure.clear_output()


MOVEMENT_COLUMNS = {"in_both": "in both", "only_a (moved out)": "only in A (moved out)",
                    "only_b (moved in)": "only in B (moved in)", "a": "A", "b": "B"}


class CompareView(w.VBox):
    """Scenario A (pinned, or the registered trial) beside the current scenario B."""

    def __init__(self, state: ExplorerState):
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
        pinned = s.pinned is not None and s.scenario_a() is s.pinned
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
        self._movement.value = "<b>Subjects</b>" + html_table(movement.rename(columns=MOVEMENT_COLUMNS))
        # one column per scenario and count, the difference beside them: fits the page, unlike every count
        f = c.funnels
        steps = pd.DataFrame({"criterion": f["criterion"], "label": f["label"]})
        for count, name in (("eligible", "eligible"), ("remaining", "eligible or possibly")):
            steps[f"A {name}"] = [shown(v) for v in f[f"a_{count}"]]
            steps[f"B {name}"] = [shown(v) for v in f[f"b_{count}"]]
            steps[f"B - A {name}"] = ["–" if pd.isna(v) else f"{int(v):+,}" for v in f[f"diff_{count}"]]
        self._funnels.value = ("<b>Funnels, step by step</b> <span class='te-muted'>after each criterion; – where "
                               "a scenario does not apply it</span>" + html_table(steps))
        if c.baseline is not None:
            from explorer.app.tables import format_baseline
            self._baseline.value = "<b>Table 1: A-eligible and B-eligible</b>" + html_table(
                format_baseline(c.baseline, catalogue=s.trial.catalogue, protection=s.protection))

    def blank(self) -> None:
        for part in (self._counts, self._movement, self._funnels, self._baseline):
            part.value = ""


# --- representativeness -------------------------------------------------------------------------------------

def smd_figure(smd: pd.DataFrame) -> go.Figure:
    """Standardised mean differences, eligible vs screened, one dot per variable (or level); |SMD| 0.1 marked."""
    rows = smd[smd["smd"].notna()].copy()
    rows["name"] = [f"{v}: {lv}" if isinstance(lv, str) and lv else str(v)
                    for v, lv in zip(rows["variable"], rows["level"], strict=True)]
    rows = rows.iloc[::-1]  # first variable on top
    colours = [PALETTE[3] if d else PALETTE[0] for d in rows["differs"]]
    fig = go.Figure(go.Scatter(x=rows["smd"], y=rows["name"], mode="markers", marker=dict(size=10, color=colours),
                               hovertemplate="%{y}: SMD %{x:.2f}<extra></extra>", name="SMD"))
    for x in (-0.1, 0.1):
        fig.add_vline(x=x, line_dash="dot", line_color="#999")
    fig.add_vline(x=0, line_color="#666")
    fig.update_layout(template=TEMPLATE, height=max(240, 26 * len(rows) + 90), margin=dict(l=10, r=20, t=40, b=40),
                      title="eligible vs screened: standardised mean difference",
                      xaxis_title="SMD (|SMD| ≥ 0.1 in vermillion: the eligible differ)", showlegend=False)
    return fig


def _value(value) -> str:
    """A mean or % with three significant digits: C-peptide 0.0241 nmol/L and eGFR 113 mL/min alike."""
    return "–" if pd.isna(value) else f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _share(value) -> str:
    return "– (hidden: small cell)" if pd.isna(value) else f"{value:.3f}"


class RepresentativenessView(w.VBox):
    """How the eligible compare with the screened: an SMD plot per key variable and the GIST scores."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self.stale = False
        self._scores = w.HTML()
        self._figure = FigureOutput()
        self._sgist = w.HTML()
        self._table = w.HTML()
        self._about = w.HTML()
        super().__init__([w.HTML("<b>Representativeness</b> <span class='te-muted'>the eligible against the screened "
                                 "population; follows the current scenario</span>"),
                          self._scores, self._figure, self._sgist, self._table, self._about])

    def refresh(self) -> None:
        from explorer.analysis.representativeness import REFERENCES

        s = self._state
        r = s.representativeness()
        shown = s.shown_count
        self._scores.value = (
            f"<div class='te-scores' data-testid='gist'><p><b>mGIST {_share(r.mgist)}</b> "
            f"<span class='te-muted'>over the <span data-testid='gist-complete'>{html.escape(shown(r.complete))}</span> "
            f"of <span data-testid='gist-screened'>{html.escape(shown(r.screened))}</span> screened known on every "
            f"trait; bounds {_share(r.mgist_low)} (unknown counted as not meeting) to {_share(r.mgist_high)} "
            f"(unknown counted as meeting)</span></p>"
            f"<p class='te-muted'>{html.escape(r.definition)} <b>This is the unweighted score: it is not the "
            f"weighted GIST 2.0</b> (whose patient weights are not implemented).</p></div>")
        traits = pd.DataFrame({"criterion": r.traits["criterion"], "trait": r.traits["label"],
                               "known": [shown(v) for v in r.traits["known"]],
                               "meeting": [shown(v) for v in r.traits["meeting"]],
                               "sGIST": [_share(v) for v in r.traits["sgist"]]})
        self._sgist.value = ("<b>sGIST per quantitative criterion</b> <span class='te-muted'>share of the screened "
                              "known on the trait who meet it</span>" + html_table(traits))
        smd = r.smd[r.smd["screened_n"].fillna(1) != 0]  # levels nobody screened has (T2D in a T1D clinic)
        table = pd.DataFrame({"variable": smd["variable"], "level": smd["level"].fillna(""),
                              "screened n": [shown(v) for v in smd["screened_n"]],
                              "screened": [_value(v) for v in smd["screened_value"]],
                              "eligible n": [shown(v) for v in smd["eligible_n"]],
                              "eligible": [_value(v) for v in smd["eligible_value"]],
                              "SMD": ["–" if pd.isna(v) else f"{v:+.2f}" for v in smd["smd"]]})
        self._table.value = ("<b>Key variables</b> <span class='te-muted'>mean, or % of the known for a level</span>"
                             + html_table(table).replace("<table class='te-table'>",
                                                         "<table class='te-table' data-testid='smd-table'>", 1))
        self._about.value = ("<p class='te-muted'>SMD: (mean<sub>eligible</sub> &minus; mean<sub>screened</sub>) / "
                             "&radic;((sd&sup2;<sub>eligible</sub> + sd&sup2;<sub>screened</sub>) / 2), for a level "
                             "with p(1&minus;p) (Austin 2009). References: "
                             + " ".join(f"[{i + 1}] {html.escape(ref)}" for i, ref in enumerate(REFERENCES)) + "</p>")
        self._figure.show(smd_figure(r.smd))  # last: the numbers are on the page while plotly draws

    def blank(self) -> None:
        for part in (self._scores, self._sgist, self._table):
            part.value = ""
        self._figure.clear_output()


# --- outcomes under relaxed criteria --------------------------------------------------------------------------

GROUP_COLOURS = {"kept (A and B)": PALETTE[0], "added by B": PALETTE[3], "dropped by B": PALETTE[7]}


def relaxed_figure(outcomes: pd.DataFrame, measure: str, statistic: str, *, simulated: bool) -> go.Figure:
    """Mean by visit with its confidence interval, one line per group (kept, added, dropped)."""
    rows = outcomes[(outcomes["measure"].astype(str) == measure) & (outcomes["statistic"].astype(str) == statistic)]
    fig = go.Figure()
    for group, colour in GROUP_COLOURS.items():
        g = rows[rows["group"].astype(str) == group]
        if g.empty or g["n"].fillna(0).sum() == 0:
            continue
        mean, low, high = (g[c].astype(float) for c in ("mean", "ci_low", "ci_high"))
        fig.add_scatter(x=g["visit"].astype(str), y=mean, mode="lines+markers", name=group,
                        line=dict(color=colour), error_y=dict(type="data", symmetric=False, array=high - mean,
                                                              arrayminus=mean - low))
    if not fig.data:
        fig.add_annotation(text="no group has enough subjects to show (small-cell protection or nobody enrolled)",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    unit = rows["unit"].dropna().astype(str)
    what = "change from baseline" if statistic == "change" else "value"
    title = f"{measure} ({what}), mean with 95% CI" + (" · SIMULATED" if simulated else "")
    fig.update_layout(template=TEMPLATE, height=340, margin=dict(l=40, r=20, t=50, b=40), title=title,
                      yaxis_title=unit.iloc[0] if len(unit) else "", xaxis_title="visit")
    return fig


class RelaxedOutcomesView(w.VBox):
    """A (pinned, or the registered trial) vs the current B: outcomes of the subjects A already had and of
    those B adds, with confidence intervals; says plainly when the outcomes are simulated."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self.stale = False
        self._which = w.HTML()
        self._source = w.HTML()
        self._groups = w.HTML()
        self._measure = w.Dropdown(description="Kept vs added", layout=w.Layout(width="460px"),
                                   style={"description_width": "initial"})
        self._measure.observe(lambda _: guarded(state, self._draw_measure), "value")
        self._figure = FigureOutput()
        self._differences = w.HTML()
        self._endpoints = w.HTML()
        self._result = None
        super().__init__([w.HTML("<b>Outcomes under relaxed criteria</b> <span class='te-muted'>who B adds to A, "
                                 "and how they fare next to those A already had</span>"),
                          self._which, self._source, self._groups, self._measure, self._figure, self._differences,
                          self._endpoints])

    def refresh(self) -> None:
        s = self._state
        pinned = s.pinned is not None and s.scenario_a() is s.pinned
        self._which.value = ("<p class='te-muted'>A: " + ("the scenario you pinned (Compare tab)" if pinned else
                             "the trial as registered (no edits); pin a scenario in the Compare tab to change A")
                             + " &middot; B: the current scenario</p>")
        self._source.value = "<p class='te-muted'>computing the outcomes of each group&hellip;</p>"
        r = self._result = s.relaxed_outcomes()
        badge = "<span class='te-badge te-simulated' style='background: #D55E00'>simulated</span> " if r.simulated else ""
        self._source.value = (f"<p data-testid='relaxed-source'>{badge}{html.escape(r.source)}</p>")
        groups = pd.DataFrame({"group": r.groups["group"], "eligible": [s.shown_count(v) for v in r.groups["eligible"]],
                               "enrolled": [s.shown_count(v) for v in r.groups["enrolled"]]})
        self._groups.value = html_table(groups).replace("<table class='te-table'>",
                                                        "<table class='te-table' data-testid='relaxed-groups'>", 1)
        options = []
        if not r.outcomes.empty:
            pairs = r.outcomes[["measure", "statistic"]].astype(str).drop_duplicates()
            options = [(f"{m} ({'change from baseline' if st == 'change' else 'value'})", f"{m}|{st}")
                       for m, st in pairs.itertuples(index=False)]
        if [o[1] for o in self._measure.options] != [o[1] for o in options]:
            current = self._measure.value
            self._measure.options = options
            values = [o[1] for o in options]
            self._measure.value = current if current in values else (values[0] if values else None)
        self._draw_measure()
        self._endpoints.value = self._endpoint_table(r)

    def _draw_measure(self) -> None:
        r, s = self._result, self._state
        if r is None or not self._measure.value:
            self._figure.clear_output()
            self._differences.value = "<p class='te-muted'>No outcome to show: no group has enrolled subjects.</p>"
            return
        measure, statistic = self._measure.value.split("|", 1)
        self._figure.show(relaxed_figure(r.outcomes, measure, statistic, simulated=r.simulated))
        d = r.differences
        d = d[(d["measure"].astype(str) == measure) & (d["statistic"].astype(str) == statistic)]
        table = pd.DataFrame({"visit": d["visit"].astype(str), "kept n": [s.shown_count(v) for v in d["n_kept"]],
                              "added n": [s.shown_count(v) for v in d["n_added"]],
                              "added − kept": d["difference"].astype(float),
                              "95% CI": [_interval(lo, hi) for lo, hi in zip(d["ci_low"], d["ci_high"], strict=True)]})
        self._differences.value = ("<b>Difference in means, added − kept</b> <span class='te-muted'>Welch's "
                                   "interval</span>" + html_table(table, numeric_digits=2))

    @staticmethod
    def _endpoint_table(r) -> str:
        e = r.endpoints
        if e is None or e.empty:
            return ""
        last = e.groupby("endpoint", observed=True)["visit"].transform(lambda v: v.astype(str).iloc[-1])
        e = e[e["visit"].astype(str) == last.astype(str)]
        table = pd.DataFrame({"endpoint": e["label"], "visit": e["visit"].astype(str), "group": e["group"].astype(str),
                              "n": [_text(r, v) for v in e["n"]], "responders": [_text(r, v) for v in e["responders"]],
                              "rate": [("–" if pd.isna(p) else f"{p:.0%}") for p in e["proportion"].astype(float)],
                              "95% CI": [_interval(lo, hi, percent=True) for lo, hi in
                                         zip(e["ci_low"], e["ci_high"], strict=True)]})
        return ("<b>Endpoint rates at the last visit</b> <span class='te-muted'>Wilson intervals</span>"
                + html_table(table))

    def blank(self) -> None:
        for part in (self._source, self._groups, self._differences, self._endpoints):
            part.value = ""
        self._figure.clear_output()


def _text(result, value) -> str:
    """A count of a protected result: NA is a blanked cell."""
    protection = result.protection
    if pd.isna(value):
        return f"<{protection['min_cell']}" if protection else "–"
    return f"{int(value):,}"


def _interval(low, high, *, percent: bool = False) -> str:
    if pd.isna(low) or pd.isna(high):
        return "–"
    return f"{low:.0%} to {high:.0%}" if percent else f"{low:.2f} to {high:.2f}"
