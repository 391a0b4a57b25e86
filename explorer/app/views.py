"""Thin views over ExplorerState: each is a VBox generated from the trial, calling the state's methods.

Views hold no results of their own; `refresh()` redraws from the state, and dashboard.py decides
when. Every control is built by one loop over the trial's criteria (no hand-written blocks).
"""

from __future__ import annotations

import html
import unicodedata
from pathlib import Path

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
from ipywidgets.widgets.widget_bool import CheckboxStyle, ToggleButtonStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from explorer.app.folders import base_dir
from explorer.app.glance import sensitivity_caption, sensitivity_svg
from explorer.app.scenario import DataSource
from explorer.app.state import ExplorerState
from explorer.app.tables import format_baseline
from explorer.app.upload import FilePicker
from explorer.app.widgets import (  # FigureOutput, guarded, plotly_bundle: helpers every view uses
    FigureOutput,
    download_link,
    figure_download,
    guarded,
    html_table,
    plotly_bundle,
)
from explorer.engine.privacy import NO_PROTECTION, Protection
from explorer.plots.eligibility import consort_figure, funnel_figure, overlap_figure, shapley_figure

POLICY_OPTIONS = [("unknown: keep as unknown", "unknown"), ("unknown: count as pass", "pass"),
                  ("unknown: count as fail", "fail")]


# units as people write them; the catalogue keeps plain ASCII names
UNIT_DISPLAY = {"kg/m2": "kg/m\u00b2", "mL/min/1.73m2": "mL/min/1.73 m\u00b2", "m2": "m\u00b2",
                "x ULN": "\u00d7 ULN", "uln": "\u00d7 ULN"}


def display_unit(unit: str) -> str:
    return UNIT_DISPLAY.get(unit, unit)


def readable_text(text: str) -> str:
    """Registry text for the page: compatibility characters that many fonts lack (the squared units
    \u338f, \u33a1) folded to plain ones (NFKC), runs of whitespace joined."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def warm_up_figures() -> None:
    """Build and serialise one small figure of each kind the views draw, so that plotly loads its
    validators and the template (1-2 s the first time) before anyone opens a tab with a chart."""
    from explorer.plots import TEMPLATE

    fig = go.Figure([go.Bar(x=[1], y=["a"], orientation="h"), go.Scatter(x=[1], y=[1])])
    fig.update_layout(template=TEMPLATE, title="warm-up")
    plotly_bundle(fig)


# --- header ---------------------------------------------------------------------------------------

class SummaryBar(w.VBox):
    """Trial title, the current eligible count (always visible), status and errors."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._title = w.HTML()
        self._counts = w.HTML(layout=w.Layout(margin="4px 0"))
        self._error = w.HTML()
        self._busy = w.HTML()
        self._why = w.HTML()
        self._uln = w.HTML()  # "x ULN" criteria no ULN in the data can decide
        super().__init__([self._title, w.HBox([self._counts, self._busy]), self._why, self._uln, self._error])
        self.add_class("te-summary")

    def refresh(self) -> None:
        s = self._state
        trial = s.trial
        protection = s.protection
        badge = ""
        if protection.on:
            how = "hidden" if protection.method == "suppress" else f"hidden, the rest rounded to {protection.base}"
            badge = (f" <span class='te-badge te-protection' data-testid='protection-on'>small-cell protection on: "
                     f"counts below {protection.min_cell} {how}</span>")
        self._title.value = (f"<p class='te-title'>{html.escape(trial.id)}: {html.escape(trial.title)}</p>"
                             f"<p class='te-subtitle'>{html.escape(s.scenario.data.describe())}{badge}</p>")
        counts = {key: html.escape(value) for key, value in s.shown_counts().items()}

        def shown(key: str) -> str:
            return "&hellip;" if s.concealed else counts[key]

        self._counts.value = (
            f"<span class='te-count' data-testid='eligible-count'>eligible <b>{shown('eligible')}</b></span>"
            f"<span class='te-count possibly'>possibly eligible (missing data) <b>{shown('possibly_eligible')}</b></span>"
            f"<span class='te-count screened'>screened <b>{shown('screened')}</b></span>"
            f"<span class='te-muted'>updated in {s.last_update_ms:.0f} ms</span>")
        self._why.value = ""
        if not s.concealed and s.counts.get("eligible") == 0 and s.counts.get("possibly_eligible", 0) > 0:
            absent = s.absent_variables()
            if absent:
                named = ", ".join(sorted({f"{r['criterion']} ({r['variable']})" for r in absent}))
                self._why.value = (f"<span class='te-muted' data-testid='why-none'>No one is eligible from the records "
                                   f"alone: this dataset lacks what {html.escape(named)} need, so those criteria are "
                                   f"unknown for everyone (see the Data tab).</span>")
        self._uln.value = "".join(
            f"<div class='te-notice' role='status' data-testid='uln-unknown'>{html.escape(r['criterion'])} "
            f"({html.escape(r['label'])}): no upper limit of normal is known for {html.escape(', '.join(r['labs']))} "
            f"in this dataset, so its &times; ULN test is unknown for every subject ({html.escape(s.shown_count(r['unknown']))} "
            f"of {html.escape(s.shown_count(r['subjects']))} unknown). Give the ULN in the mapping: "
            f"<code>ref_high: {{value: 40, unit: U/L}}</code> (a constant) or <code>ref_high: &lt;column&gt;</code>.</div>"
            for r in ([] if s.concealed else s.unknown_uln()))
        self.show_error()
        self.shown_revision = s.revision

    def show_error(self) -> None:
        error, notice = self._state.error, self._state.notice
        self._error.value = (f"<div class='te-error' role='alert'>{html.escape(error)}</div>" if error else
                             f"<div class='te-notice' role='status'>{html.escape(notice)}</div>" if notice else "")

    def show_busy(self, on: bool | None = None) -> None:
        """The loading indicator: on while the state computes (or `on`, for work the dashboard does around
        it). The page shows it only once it has lasted 80 ms (CSS .te-busy), so quick updates never flicker."""
        on = self._state.busy if on is None else on
        self._busy.value = ("<span class='te-busy' data-testid='busy'>working&hellip;</span>"
                            if on else "")


# --- criteria panel -------------------------------------------------------------------------------

class RowLook:
    """The Layout and style models the criterion rows share. Every widget has a Layout and most a style, each
    a model the page receives; alike widgets in every row need only one of each (issue 17: 1,010 models
    before the first render, a third of them Layouts). Nothing changes these after they are built."""

    def __init__(self):
        self.toggle = w.Layout(width="auto", flex="1 1 auto")
        self.arrow = w.Layout(width="32px")
        self.badge = w.Layout(width="auto", height="auto")
        self.plain = w.Layout()
        self.header = w.Layout(align_items="center", flex="0 0 auto")
        self.box = w.Layout(width="280px", min_width="280px")
        self.slider = w.Layout(width="130px", min_width="110px")
        self.controls = w.Layout(margin="0 0 0 22px", align_items="center", flex_flow="row wrap")
        self.indent = w.Layout(margin="0 0 0 22px")
        self.sens_toggle = w.Layout(width="36px", height="26px", padding="0px")
        self.policy = w.Layout(width="330px", margin="0 0 0 22px")
        # rows keep their natural height inside the scrolling list (flex items shrink by default)
        self.row = w.Layout(border_bottom="1px solid #eee", padding="4px 0", flex="0 0 auto", overflow="visible")
        self.html_style = HTMLStyle()
        self.button_style = w.ButtonStyle()
        self.checkbox_style = CheckboxStyle()
        self.toggle_style = ToggleButtonStyle()
        self.slider_style = w.SliderStyle()
        self.param_style = DescriptionStyle(description_width="180px")
        self.policy_style = DescriptionStyle(description_width="initial")


class CriterionRow(w.VBox):
    """One criterion: on/off, its text, its threshold controls with units and ranges, its unknown policy."""

    def __init__(self, state: ExplorerState, criterion_id: str, look: RowLook | None = None):
        self._state, self.criterion_id = state, criterion_id
        look = look or RowLook()
        criterion = state.trial.criterion(criterion_id)
        self._toggle = w.Checkbox(value=state.enabled(criterion_id), indent=False,
                                  description=f"{criterion.id} {criterion.display_label}",
                                  layout=look.toggle, style=look.checkbox_style)
        self._toggle.observe(lambda ch: guarded(state, lambda: state.toggle(criterion_id, ch["new"])), "value")
        up = w.Button(icon="arrow-up", tooltip=f"move {criterion.id} up the funnel", layout=look.arrow,
                      style=look.button_style)
        down = w.Button(icon="arrow-down", tooltip=f"move {criterion.id} down the funnel", layout=look.arrow,
                        style=look.button_style)
        up.on_click(lambda _: guarded(state, lambda: state.move(criterion_id, -1)))
        down.on_click(lambda _: guarded(state, lambda: state.move(criterion_id, +1)))
        badge = f"<span class='te-badge {criterion.kind}'>{'IN' if criterion.kind == 'inclusion' else 'EX'}</span>"
        assumed = ("" if criterion.computable else
                   f"<span class='te-badge assumed'>not computable: assumed {criterion.assumption}</span> ")
        header = w.HBox([w.HTML(badge, layout=look.badge, style=look.html_style), self._toggle, up, down],
                        layout=look.header)
        shown_text = readable_text(criterion.text)
        text = w.HTML(f"<div class='te-criterion-text' title='{html.escape(shown_text)}'>{assumed}"
                      f"{html.escape(shown_text)}"
                      + (f"<br><code>{html.escape(criterion.expression)}</code>" if criterion.computable else "")
                      + "</div>", layout=look.plain, style=look.html_style)
        self._inputs: dict[str, w.FloatText] = {}
        self._sliders: dict[str, w.FloatSlider] = {}
        self._open: dict[str, w.ToggleButton] = {}  # per parameter: is its sensitivity shown
        self._sensitivity: dict[str, w.HTML] = {}
        controls = []
        for name, parameter in criterion.parameters.items():
            label = parameter.label or name
            unit = display_unit(parameter.unit or ("x ULN" if "uln" in name else ""))
            step = parameter.step or (parameter.max - parameter.min) / 100
            # A plain FloatText, not a bounded one: a bounded box clamps in the browser without a word, and
            # the kernel never learns what was typed. The state clamps and says so (set_parameter).
            box = w.FloatText(value=parameter.value, step=step,
                              description=f"{criterion.id} {label}", style=look.param_style, layout=look.box)
            box.add_class("te-param")  # its label wraps instead of squeezing the number box
            slider = w.FloatSlider(value=parameter.value, min=parameter.min, max=parameter.max, step=step,
                                   readout=False, continuous_update=False,
                                   layout=look.slider, style=look.slider_style, description_allow_html=False)
            w.jsdlink((slider, "value"), (box, "value"))  # dragging fills the box in the browser; the kernel hears once
            box.observe(lambda ch, n=name: guarded(state, lambda: state.set_parameter(criterion_id, n, ch["new"])),
                        "value")
            self._inputs[name] = box
            self._sliders[name] = slider
            row = [box, slider, w.HTML(f"<span class='te-muted' style='white-space: nowrap'>"
                                       f"{html.escape(unit)} ({parameter.min:g}&ndash;{parameter.max:g})</span>",
                          layout=look.plain, style=look.html_style)]
            if criterion.computable:
                row.append(self._sensitivity_toggle(name, f"{criterion.id} {label}", look))
            controls.append(w.HBox(row, layout=look.controls))
            if criterion.computable:
                controls.append(self._sensitivity[name])
        children = [header, text, *controls]
        self._policy = None
        if criterion.computable:
            self._policy = w.Dropdown(options=POLICY_OPTIONS, value=state.policy(criterion_id),
                                      description=f"{criterion.id} missing data", style=look.policy_style,
                                      layout=look.policy)
            self._policy.observe(lambda ch: guarded(state, lambda: state.set_policy(criterion_id, ch["new"])),
                                 "value")
            children.append(self._policy)
        super().__init__(children, layout=look.row)

    def _sensitivity_toggle(self, name: str, title: str, look: RowLook) -> w.ToggleButton:
        """A disclosure beside the threshold: opening it draws the sensitivity; closed ones cost nothing."""
        toggle = w.ToggleButton(value=False, icon="bar-chart", tooltip=f"{title}: distribution and eligible count "
                                "by cut-off", layout=look.sens_toggle, style=look.toggle_style)
        toggle.add_class("te-sens-toggle")
        toggle.add_class(f"te-sens-{self.criterion_id}-{name}")
        self._open[name] = toggle
        self._sensitivity[name] = w.HTML(layout=look.indent, style=look.html_style)
        toggle.observe(lambda _: guarded(self._state, lambda: self.draw_sensitivity(name)), "value")
        return toggle

    def draw_sensitivity(self, name: str | None = None) -> None:
        """Redraw the open sensitivity panels (or one), from the state's cached result for this scenario."""
        s = self._state
        for parameter in [name] if name else list(self._open):
            out = self._sensitivity[parameter]
            if not self._open[parameter].value or s.concealed:
                out.value = ""
                continue
            result = s.sensitivity(self.criterion_id, parameter)
            out.value = (f"<div class='te-sens'>{sensitivity_svg(result, s.protection)}"
                         f"{sensitivity_caption(result, s.protection, enabled=s.enabled(self.criterion_id))}</div>")

    def sync(self) -> None:
        """Show the state's values (after a restore) without triggering callbacks that change nothing."""
        s = self._state
        if self._toggle.value != s.enabled(self.criterion_id):
            self._toggle.value = s.enabled(self.criterion_id)
        current = s.trial.criterion(self.criterion_id)
        for name, box in self._inputs.items():
            value = current.parameters[name].value
            if box.value != value:
                box.value = value
            if self._sliders[name].value != value:
                self._sliders[name].value = value
        if self._policy is not None and self._policy.value != s.policy(self.criterion_id):
            self._policy.value = s.policy(self.criterion_id)


class CriteriaPanel(w.VBox):
    """The criteria of the current trial in funnel order, generated from the trial."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._rows: dict[str, CriterionRow] = {}
        self._look = RowLook()  # one Layout and style per kind of widget, for every row of every trial
        self._key = None
        self._all_on = w.Button(description="enable all", layout=w.Layout(width="auto"))
        self._computable_only = w.Button(description="computable only", layout=w.Layout(width="auto"),
                                         tooltip="switch off the criteria the data cannot decide")
        self._all_on.on_click(lambda _: guarded(state, lambda: state.set_disabled([])))
        # adds the non-computable ones to what is off; never switches back on what the user turned off
        self._computable_only.on_click(lambda _: guarded(state, lambda: state.set_disabled(
            list(dict.fromkeys([*state.scenario.disabled,
                                *(c.id for c in state.trial.criteria if not c.computable)])))))
        # no inner scroll area: the page scrolls (the counts stay in view, the header is sticky), so no
        # criterion is hidden in a box at a notebook's width
        self._list = w.VBox()
        # a protected scenario being computed: the open sensitivity panels hide their counts too (all or nothing)
        state.observe(lambda ch: self._conceal() if ch["new"] else None, "concealed")
        super().__init__([w.HTML("<b>Criteria</b> <span class='te-muted'>(toggle, edit thresholds, reorder)</span>"),
                          w.HBox([self._all_on, self._computable_only]), self._list])

    def _conceal(self) -> None:
        for row in self._rows.values():
            row.draw_sensitivity()  # blanks every open panel while the state is concealed

    def show_sensitivity(self, criterion: str, parameter: str, shown: bool = True) -> None:
        """Open (or close) the sensitivity beside one threshold, as its button does (notebooks, tests)."""
        self._rows[criterion]._open[parameter].value = shown

    def refresh(self) -> None:
        s = self._state
        key = (s.base_trial.id, id(s.base_trial), tuple(s.order))
        if key != self._key:  # a new trial or a new order: rebuild the rows (kept for reuse)
            if self._key is None or self._key[:2] != key[:2]:
                self._rows = {}
            for cid in s.order:
                if cid not in self._rows:
                    self._rows[cid] = CriterionRow(s, cid, self._look)
            self._list.children = [self._rows[cid] for cid in s.order]
            self._key = key
        for row in self._rows.values():
            row.sync()
            row.draw_sensitivity()  # only the open ones draw: a closed disclosure costs nothing per click


# --- results ---------------------------------------------------------------------------------------

def _pct(value) -> str:
    return "&ndash;" if pd.isna(value) else f"{value:.1f}%"


def funnel_html(funnel: pd.DataFrame, protection: Protection = NO_PROTECTION, *,
                off: list[tuple[int, str, str]] = ()) -> str:
    """The funnel as an HTML bar chart: one row per step, eligible (dark) and possibly eligible (light).

    `funnel` is the protected funnel (explorer.engine.stats.funnel after the scenario's protection); every
    number goes through `protection.text`, so a blanked cell reads "<k" and nothing else decides how a
    count is shown. `off` lists switched-off criteria as (position among the steps, id, label): they stay
    visible as greyed "off" rows, so the funnel explains itself.

    Drawn as HTML rather than a plotly figure so that an update is one small widget message that the
    browser paints at once (a new plotly figure per click costs 300-400 ms to serialise and render);
    the plotly version (explorer.plots.eligibility.funnel_figure) is what exports and notebooks use.
    """
    start = funnel["remaining"].iloc[0]
    start = 0.0 if pd.isna(start) else float(start)

    def count(value) -> str:
        return html.escape(protection.text(value))

    def width(value) -> float:
        return 0.0 if pd.isna(value) or not start else 100.0 * float(value) / start

    rows = []
    for r in funnel.itertuples(index=False):
        label = html.escape(("" if pd.isna(r.criterion) else f"{r.criterion} ") + str(r.label))
        eligible, possibly = width(r.eligible), width(r.possibly_eligible)
        share = "" if pd.isna(r.remaining) or not start else f" ({100 * float(r.remaining) / start:.1f}%)"
        if r.step == 0:
            excluded = ""
        elif not pd.isna(r.excluded) and float(r.excluded) == 0:
            excluded = "<span class='te-muted'>0</span>"
        else:
            excluded = f"<span class='te-muted'>&minus;{count(r.excluded)}</span>"
        rows.append(
            f"<div class='te-frow' data-criterion='{html.escape('' if pd.isna(r.criterion) else str(r.criterion))}'>"
            f"<div class='te-flabel' title='{label}'>{label}</div>"
            f"<div class='te-fcell'><div class='te-fbar'><span class='te-fel' style='width:{eligible:.2f}%'></span>"
            f"<span class='te-fpo' style='width:{possibly:.2f}%'></span></div>"
            f"<div class='te-ftext'><b>{count(r.remaining)}</b>{share} &middot; eligible {count(r.eligible)}"
            f" &middot; possibly {count(r.possibly_eligible)}</div></div>"
            f"<div class='te-fexcl'>{excluded}</div></div>")
    for position, criterion, text in sorted(off, key=lambda item: item[0], reverse=True):
        label = html.escape(f"{criterion} {text}")
        rows.insert(position + 1,
                    f"<div class='te-frow te-off' data-criterion='{html.escape(criterion)}'>"
                    f"<div class='te-flabel' title='{label}'>{label}</div>"
                    f"<div class='te-fcell'><div class='te-fbar'></div><div class='te-ftext'>off: not applied</div></div>"
                    f"<div class='te-fexcl'></div></div>")
    final = funnel.iloc[-1]
    return (f"<div class='te-funnel' data-final-eligible='{count(final['eligible'])}'>"
            f"<div class='te-flegend'><span class='te-fel te-key'></span> eligible "
            f"<span class='te-fpo te-key'></span> possibly eligible (unknown on a step so far) "
            f"<span class='te-muted'>&middot; right: excluded at the step</span></div>{''.join(rows)}</div>")


class FunnelView(w.VBox):
    """The attrition funnel as bars with exact counts, and the same numbers as a table."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._bars = w.HTML()
        self._table = w.HTML()
        super().__init__([w.HTML("<b>Attrition funnel</b> <span class='te-muted'>subjects remaining after each "
                                 "enabled criterion, in order; lighter: status unknown (missing data)</span>"),
                          self._bars, self._table])

    def refresh(self) -> None:
        s = self._state
        if s.concealed:
            self.blank()
            return
        funnel = s.protected(s.funnel).copy(deep=False)
        funnel.attrs = {}  # pandas deep-copies attrs on every row and column access: 3/4 of a redraw (issue 17)
        shown = s.shown_count
        order = s.order  # computed once: each step's position counts the enabled criteria before it
        off = [(sum(1 for c in order[:order.index(cid)] if s.enabled(c)), cid, label) for cid, label in s.switched_off]
        self._bars.value = funnel_html(funnel, s.protection, off=off)
        rows = []
        for r in funnel.itertuples(index=False):
            rows.append({
                "step": r.step, "criterion": "" if pd.isna(r.criterion) else r.criterion, "label": r.label,
                "remaining": shown(r.remaining), "% of screened": _pct(r.remaining_pct_start),
                "% of previous": _pct(r.remaining_pct_previous),
                "excluded here": "" if r.step == 0 else shown(r.excluded),
                "eligible": shown(r.eligible), "possibly eligible": shown(r.possibly_eligible),
                "counting unknowns as": r.policy or "",
            })
        for _, cid, label in off:
            rows.append({"step": "off", "criterion": cid, "label": label, "remaining": "", "% of screened": "",
                         "% of previous": "", "excluded here": "", "eligible": "", "possibly eligible": "",
                         "counting unknowns as": "switched off"})
        self._table.value = html_table(pd.DataFrame(rows))
        self.shown_revision = s.revision

    def blank(self) -> None:
        self.shown_revision = None
        self._bars.value = "<p class='te-muted te-concealed'>computing protected counts&hellip;</p>"
        self._table.value = ""


class ImpactView(w.VBox):
    """Per criterion: failing, unknown, excluded by it alone, eligible if removed, Shapley share."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._table = w.HTML()
        self._note = w.HTML()
        self._figure = FigureOutput()
        super().__init__([
            w.HTML("<b>Per-criterion impact</b> <span class='te-muted'>excluded alone = eligible if only this "
                   "criterion were dropped; Shapley = its fair share (see below)</span>"),
            self._table, self._note, self._figure])

    def refresh(self) -> None:
        s = self._state
        impact = s.protected(s.impact)
        shapley = s.protected(s.shapley).set_index("criterion")
        excluded = s.protected(s.shapley_excluded).set_index("criterion")
        shown = s.shown_count

        def share(value) -> str:
            # a share rounds to zero for criteria that exclude no one: never print "-0.0"
            return "" if pd.isna(value) else f"{abs(value) if round(value, 1) == 0 else value:,.1f}"

        table = pd.DataFrame({
            "criterion": impact["criterion"], "label": impact["label"],
            "failing": [shown(v) for v in impact["failing"]], "unknown": [shown(v) for v in impact["unknown"]],
            "excluded alone": [shown(v) for v in impact["excluded_alone"]],
            "eligible if removed": [shown(v) for v in impact["eligible_if_removed"]],
            "eligible if unknowns pass": [shown(v) for v in impact["eligible_if_unknown_pass"]],
            "Shapley: not eligible": [share(shapley["excluded_share"].get(c)) for c in impact["criterion"]],
            "Shapley: excluded (funnel)": [share(excluded["excluded_share"].get(c)) for c in impact["criterion"]],
        })
        not_eligible = s.counts["screened"] - s.counts["eligible"]
        excluded_total = s.counts["screened"] - s.counts["remaining"]
        self._note.value = (
            "<p class='te-muted'>Shapley shares split each subject among the criteria that stop them, whatever "
            f"the order. <b>Not eligible</b> shares the {html.escape(s.shown_count(not_eligible))} screened but not "
            "eligible, counting the possibly eligible (unknown on some criterion) as stopped. <b>Excluded</b> "
            f"shares only the {html.escape(s.shown_count(excluded_total))} the funnel excludes (failing a "
            "criterion), so it reconciles with the funnel's exclusions.</p>")
        self._table.value = html_table(table)
        self._figure.show(shapley_figure(s.protected(s.shapley)))

    def blank(self) -> None:
        self._table.value = ""
        self._figure.clear_output()


class OverlapView(w.VBox):
    def __init__(self, state: ExplorerState):
        self._state = state
        self._figure = FigureOutput()
        self._table = w.HTML()
        super().__init__([w.HTML("<b>Overlap of exclusions</b> <span class='te-muted'>subjects per exact "
                                 "combination of failed criteria, largest first</span>"),
                          self._figure, self._table])

    def refresh(self) -> None:
        s = self._state
        overlap = s.protected(s.overlap)
        self._figure.show(overlap_figure(overlap, min_cell=s.scenario.min_cell))
        shown = overlap[overlap["size"] > 0].head(30)
        self._table.value = html_table(pd.DataFrame({
            "failed criteria": shown["label"], "criteria": shown["size"],
            "subjects": [s.shown_count(v) for v in shown["count"]],
            "% of screened": [_pct(v) for v in shown["pct_screened"]],
            "% of excluded": [_pct(v) for v in shown["pct_excluded"]]}))

    def blank(self) -> None:
        self._table.value = ""
        self._figure.clear_output()


class BaselineView(w.VBox):
    def __init__(self, state: ExplorerState):
        self._state = state
        self._table = w.HTML()
        super().__init__([w.HTML("<b>Baseline characteristics</b> <span class='te-muted'>eligible pool "
                                 "against the screened population (table 1)</span>"), self._table])

    def refresh(self) -> None:
        s = self._state
        if s.baseline is None:
            self._table.value = "<p class='te-muted'>not computed</p>"
            return
        self._table.value = html_table(format_baseline(s.protected(s.baseline), catalogue=s.trial.catalogue,
                                                       protection=s.protection))

    def blank(self) -> None:
        self._table.value = ""


# --- trial and data -----------------------------------------------------------------------------

class TrialPicker(w.HBox):
    def __init__(self, state: ExplorerState):
        self._state = state
        self._dropdown = w.Dropdown(options=state.trial_choices, value=state.trial.id, description="Trial",
                                    layout=w.Layout(width="260px"))
        self._syncing = False  # True while refresh() updates the dropdown: not a user's choice
        self._dropdown.observe(lambda ch: guarded(state, lambda: self._switch(ch["new"])), "value")
        self._path = w.Text(placeholder="path/to/trial.yaml", description="or file",
                            layout=w.Layout(width="320px"))
        open_button = w.Button(description="Open trial file")
        open_button.on_click(lambda _: guarded(state, lambda: state.add_trial_file(self._path.value.strip())))
        self._upload = FilePicker(accept=".yaml,.yml,.json", description="Upload trial", testid="upload-trial")
        self._upload.on_upload(lambda saved: guarded(state, lambda: self._uploaded(saved())))
        super().__init__([self._dropdown, self._path, open_button, self._upload],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))

    def _switch(self, trial_id: str) -> None:
        if not self._syncing and trial_id and trial_id != self._state.trial.id:
            self._state.select_trial(trial_id)

    def _uploaded(self, paths: list[Path]) -> None:
        self._state.allow(paths[0].parent)
        self._state.add_trial_file(paths[0])

    def refresh(self) -> None:
        s = self._state
        self._syncing = True  # new options reset the value in between: that is not a trial switch
        try:
            if tuple(self._dropdown.options) != tuple(s.trial_choices):
                self._dropdown.options = s.trial_choices
            if self._dropdown.value != s.trial.id:
                self._dropdown.value = s.trial.id
        finally:
            self._syncing = False


def absent_html(state: ExplorerState) -> str:
    """Criteria the dataset cannot decide for anyone, e.g. "I1: kitt absent from this dataset -> unknown for all 112"."""
    rows = state.absent_variables()
    if not rows:
        return ""
    items = "".join(f"<li><b>{html.escape(r['criterion'])}</b> {html.escape(r['label'])}: "
                    f"<code>{html.escape(r['variable'])}</code> absent from this dataset &rarr; unknown for "
                    f"{html.escape(state.shown_count(r['unknown']))} of {html.escape(state.shown_count(r['subjects']))}</li>"
                    for r in rows)
    return f"<ul class='te-absent' data-testid='absent-variables'>{items}</ul>"


def data_report_html(state: ExplorerState) -> str:
    """The load report of real data as a compact table, then the criteria it cannot decide."""
    report = state.load_report
    if report is None:
        return ""
    rows = []
    for name, t in report.tables.items():
        reasons = "; ".join(f"{n:,} {why}" for why, n in sorted(t.rejected.items(), key=lambda kv: -kv[1]))
        rows.append({"table": name, "rows read": f"{t.rows_read:,}", "kept": f"{t.rows_kept:,}",
                     "rejected": f"{t.rows_rejected:,}", "why rejected": reasons})
    conversions = "".join(f"<li>{n:,} {html.escape(what)}</li>" for what, n in sorted(report.conversions.items()))
    notes = "".join(f"<li>{html.escape(text)}</li>" for text in report.notes)
    absent = absent_html(state)
    return (f"<div class='te-report' data-testid='load-report'><b>Loaded</b> <span class='te-muted'>"
            f"{html.escape(report.kind)} from {html.escape(str(report.source))}</span>"
            f"{html_table(pd.DataFrame(rows))}"
            + (f"<b>Values converted or read specially</b><ul>{conversions}</ul>" if conversions else "")
            + (f"<b>Notes</b><ul>{notes}</ul>" if notes else "")
            + (f"<b>Criteria this dataset cannot decide</b>{absent}" if absent else "") + "</div>")


class DataPanel(w.VBox):
    """Synthetic population (size, seed) or a real dataset (path or upload)."""

    def __init__(self, state: ExplorerState):
        self._state = state
        data = state.scenario.data
        self._population = w.Dropdown(options=[("type 1 diabetes clinic", "t1d"), ("type 2 diabetes clinic", "t2d")],
                                      value=data.population, description="Population")
        self._n = w.BoundedIntText(value=data.n, min=10, max=10_000_000, step=1000, description="Subjects")
        self._seed = w.IntText(value=data.seed, description="Seed")
        # which engine evaluates the data: memory holds every status; DuckDB and Spark only the histogram
        self._engine = w.Dropdown(options=[("in memory (NumPy)", "memory"), ("DuckDB (one machine, larger than memory)",
                                                                              "duckdb"),
                                           ("Spark (local or a cluster)", "spark")],
                                  value=data.engine, description="Engine")
        self._master = w.Text(value=data.master, description="Spark master",
                              placeholder="local[*], spark://host:7077 or sc://host:15002",
                              layout=w.Layout(width="420px", display="" if data.engine == "spark" else "none"))
        self._engine.observe(lambda ch: setattr(self._master.layout, "display", "" if ch["new"] == "spark" else "none"),
                             "value")
        generate = w.Button(description="Use synthetic data", button_style="primary")
        generate.on_click(lambda _: guarded(state, lambda: state.select_data(DataSource(
            "synthetic", self._population.value, int(self._n.value), int(self._seed.value), **self._engine_choice()))))
        self._path = w.Text(placeholder="file or folder: CSV/Parquet, SDTM (dm.xpt ...), OMOP, CGM",
                            description="Path", layout=w.Layout(width="520px"),
                            tooltip=f"relative paths are read from {base_dir()}")
        load = w.Button(description="Load real data")
        load.on_click(lambda _: guarded(state, lambda: state.select_data(DataSource("path", path=self._path.value.strip(),
                                                                                    **self._engine_choice()))))
        self._upload = FilePicker(accept=".csv,.parquet,.xpt,.zip,.yaml,.xlsx,.txt", multiple=True,
                                  description="Upload data", testid="upload-data")
        self._report = w.HTML()
        self._upload.on_upload(lambda saved: guarded(state, lambda: self._uploaded(saved())))
        super().__init__([
            w.HTML("<b>Synthetic cohort</b> <span class='te-muted'>(seeded, realistic clinic population)</span>"),
            w.HBox([self._population, self._n, self._seed, generate], layout=w.Layout(flex_flow="row wrap")),
            w.HTML("<b>Real data</b> <span class='te-muted'>(a file or folder the loaders read; see docs/data.md; "
                   f"relative paths are read from {html.escape(str(base_dir()))})</span>"),
            w.HBox([self._path, load, self._upload], layout=w.Layout(flex_flow="row wrap")),
            w.HTML("<b>Engine</b> <span class='te-muted'>DuckDB and Spark keep the subjects where the data lie and "
                   "send back only the count of each status pattern: funnel, impact, Shapley and overlap as in "
                   "memory; eligible ids are a query; table 1, threshold curves and comparisons need the memory "
                   "engine. A screening folder is read in place.</span>"),
            w.HBox([self._engine, self._master], layout=w.Layout(flex_flow="row wrap")),
            self._report,
        ])

    def _engine_choice(self) -> dict:
        master = self._master.value.strip() if self._engine.value == "spark" else ""
        return {"engine": self._engine.value, "master": master}

    def _uploaded(self, paths: list[Path]) -> None:
        self._state.allow(paths[0].parent)
        target = paths[0] if len(paths) == 1 else paths[0].parent
        self._state.select_data(DataSource("path", path=str(target), **self._engine_choice()))

    def refresh(self) -> None:
        self._report.value = data_report_html(self._state)
        data = self._state.scenario.data
        for widget, value in ((self._engine, data.engine), (self._master, data.master)):
            if widget.value != value:
                widget.value = value
        if data.kind == "synthetic":
            for widget, value in ((self._population, data.population), (self._n, data.n), (self._seed, data.seed)):
                if widget.value != value:
                    widget.value = value
        elif self._path.value != data.path:
            self._path.value = data.path


# --- export and scenario --------------------------------------------------------------------------

class ExportPanel(w.VBox):
    """Downloads of the edited trial, tables, eligible ids, figures and the CONSORT diagram."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._min_cell = w.BoundedIntText(value=state.scenario.min_cell, min=0, max=1000,
                                          description="Suppress counts below (0 = off)",
                                          style={"description_width": "initial"})
        self._min_cell.observe(lambda ch: guarded(state, lambda: state.set_min_cell(ch["new"])), "value")
        self._method = w.Dropdown(options=[("suppress small counts, round the rest to 5", "round"),
                                           ("suppress small counts only", "suppress")],
                                  value=state.scenario.cell_method, description="Method")
        self._method.observe(lambda ch: guarded(state, lambda: state.set_min_cell(self._min_cell.value, ch["new"])),
                             "value")
        self._links = w.HTML()
        buttons = []
        for label, action in (
            ("Trial definition (YAML)", self._trial_yaml), ("Funnel (CSV)", lambda: self._table("funnel")),
            ("Impact (CSV)", lambda: self._table("impact")), ("Shapley (CSV)", lambda: self._table("shapley")),
            ("Overlap (CSV)", lambda: self._table("overlap")), ("Eligible subject ids (CSV)", self._ids),
            ("Funnel figure (HTML)", lambda: self._figure("funnel", "html")),
            ("Funnel figure (PNG)", lambda: self._figure("funnel", "png")),
            ("CONSORT diagram (PNG)", lambda: self._figure("consort", "png")),
            ("CONSORT diagram (HTML)", lambda: self._figure("consort", "html")),
            ("Python code (.py)", lambda: self._offer(self._state.export_code(), f"{self._stem()}_scenario.py",
                                                      "text/x-python")),
            ("Notebook (.ipynb)", lambda: self._offer(self._state.export_code(notebook=True),
                                                      f"{self._stem()}_scenario.ipynb", "application/x-ipynb+json")),
        ):
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.on_click(lambda _, a=action: guarded(state, a))
            buttons.append(button)
        super().__init__([
            w.HTML("<b>Small-cell protection</b> <span class='te-muted'>for results from real patient data: "
                   "counts between 1 and the threshold are shown as &lt;k everywhere, exports included</span>"),
            w.HBox([self._min_cell, self._method]),
            w.HTML("<b>Export</b>"), w.HBox(buttons, layout=w.Layout(flex_flow="row wrap")), self._links])

    def _offer(self, content, filename: str, mime: str) -> None:
        self._links.value = download_link(content, filename, mime)

    def _stem(self) -> str:
        return f"{self._state.trial.id}"

    def _trial_yaml(self) -> None:
        self._offer(self._state.export_trial_yaml(), f"{self._stem()}_edited.yaml", "application/x-yaml")

    def _table(self, name: str) -> None:
        self._offer(self._state.export_table_csv(name), f"{self._stem()}_{name}.csv", "text/csv")

    def _ids(self) -> None:
        self._offer(self._state.export_eligible_ids_csv(), f"{self._stem()}_eligible_ids.csv", "text/csv")

    def _figure(self, which: str, fmt: str) -> None:
        s = self._state
        funnel = s.protected(s.funnel)
        fig = (funnel_figure(funnel, min_cell=s.scenario.min_cell, title=f"{s.trial.id} attrition funnel")
               if which == "funnel" else consort_figure(funnel, trial_id=s.trial.id, min_cell=s.scenario.min_cell,
                                                        off=s.switched_off))
        self._links.value = figure_download(fig, f"{self._stem()}_{which}", fmt)

    def refresh(self) -> None:
        if self._min_cell.value != self._state.scenario.min_cell:
            self._min_cell.value = self._state.scenario.min_cell
        if self._method.value != self._state.scenario.cell_method:
            self._method.value = self._state.scenario.cell_method


class ScenarioPanel(w.VBox):
    """Save and restore the whole scenario; the page address always reflects it."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._link = w.HTML()
        self._paste = w.Textarea(placeholder="paste a saved scenario (JSON) or a dashboard link / query",
                                 layout=w.Layout(width="640px", height="80px"))
        restore = w.Button(description="Restore scenario")
        restore.on_click(lambda _: guarded(state, self._restore))
        save = w.Button(description="Save scenario (JSON)")
        save.on_click(lambda _: guarded(state, self._save))
        self._download = w.HTML()
        super().__init__([w.HTML("<b>Scenario</b> <span class='te-muted'>trial, data, enabled criteria, order, "
                                 "thresholds, policies</span>"), self._link, w.HBox([save, self._download]),
                          self._paste, restore])

    def _save(self) -> None:
        self._download.value = download_link(self._state.scenario.to_json(), f"{self._state.trial.id}_scenario.json",
                                             "application/json")

    def _restore(self) -> None:
        text = self._paste.value.strip()
        if "?" in text and not text.startswith("{"):
            text = text.split("?", 1)[1]
        self._state.restore(text)

    def refresh(self) -> None:
        query = self._state.scenario.to_query()
        self._link.value = f"<span class='te-muted'>link to this view:</span> <code>?{html.escape(query)}</code>"
