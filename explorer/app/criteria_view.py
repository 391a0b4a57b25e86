"""The criteria panel: one row per criterion, generated from the trial (on/off, its text, threshold controls
with units and ranges, its unknown policy, reordering, the sensitivity beside a threshold)."""

from __future__ import annotations

import html
import unicodedata

import ipywidgets as w
from ipywidgets.widgets.widget_bool import CheckboxStyle, ToggleButtonStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from explorer.app.glance import sensitivity_caption, sensitivity_svg
from explorer.app.state import ExplorerState
from explorer.app.widgets import guarded

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
    """The criteria of the current trial in funnel order, generated from the trial.

    `rows_later`: put the rows in the panel only when `show_rows()` is called. The rows are most of the first
    screen's widgets (about 250 of 340 for a trial of 20 criteria), and the page draws every view of the
    dashboard's tree before the count and the funnel show; the served dashboard shows them once the page has
    laid out the funnel (Dashboard's `criteria_after_render`). The rows are built at once all the same: their
    models reach the page with the rest of the state, in one message, and showing them later is one update
    of the list (building them later sent one message per widget: 253, which took the page 0.8-10 s)."""

    def __init__(self, state: ExplorerState, *, rows_later: bool = False):
        self._state = state
        self._waiting = rows_later
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
        self._list = w.VBox([w.HTML("<span class='te-muted te-criteria-loading'>Loading the criteria&hellip;</span>")]
                            if rows_later else [])
        # a protected scenario being computed: the open sensitivity panels hide their counts too (all or nothing)
        state.observe(lambda ch: self._conceal() if ch["new"] else None, "concealed")
        super().__init__([w.HTML("<b>Criteria</b> <span class='te-muted'>(toggle, edit thresholds, reorder)</span>"),
                          w.HBox([self._all_on, self._computable_only]), self._list])

    def _conceal(self) -> None:
        for row in self._rows.values():
            row.draw_sensitivity()  # blanks every open panel while the state is concealed

    @property
    def waiting(self) -> bool:
        """The rows are not in the panel yet (`rows_later`, until `show_rows()`)."""
        return self._waiting

    def show_rows(self) -> None:
        """Put the rows of a panel made with `rows_later` in it (nothing if they are shown already)."""
        if self._waiting:
            self._waiting = False
            self._list.children = [self._rows[cid] for cid in self._state.order]

    def show_sensitivity(self, criterion: str, parameter: str, shown: bool = True) -> None:
        """Open (or close) the sensitivity beside one threshold, as its button does (notebooks, tests)."""
        self.show_rows()
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
            if not self._waiting:
                self._list.children = [self._rows[cid] for cid in s.order]
            self._key = key
        for row in self._rows.values():
            row.sync()
            row.draw_sensitivity()  # only the open ones draw: a closed disclosure costs nothing per click
