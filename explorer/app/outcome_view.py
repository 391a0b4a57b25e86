"""The dashboard's outcome panel: what happens to the eligible, enrolled subjects, visit by visit.

Pickers (generated from the trial's outcomes and the subgroups the subjects have) choose the outcome,
its measure, a subgroup split and, for synthetic data, the response model and allocation. The panel only
displays: the state computes and caches the outcomes and their protected tables
(explorer.app.outcome_state, `state.outcomes`); figures are pure functions of explorer.plots.outcomes
shown through FigureOutput.

refresh() is called after every state change: it asks the state for the results (recomputed there only
when the trial, data, enrolled set, protection or simulation choices changed) and redraws a figure only
when its results or a picker changed.
"""

from __future__ import annotations

import html
from contextlib import contextmanager

import ipywidgets as w
import pandas as pd
from IPython.display import HTML, display

from explorer.app.outcome_state import ALLOCATIONS as ALLOCATION_ARMS
from explorer.app.state import ExplorerState
from explorer.app.views import FigureOutput, guarded
from explorer.app.widgets import figure_download, html_table
from explorer.clinical.cgm import ambulatory_glucose_profile
from explorer.cohort.synthetic import enrolment
from explorer.errors import DataError, ExplorerError
from explorer.outcomes.endpoints import ENDPOINT_LABELS
from explorer.outcomes.measures import SUBGROUP_LABELS, OutcomeResults, with_subgroups
from explorer.plots.outcomes import agp_figure, responder_figure, time_in_range_figure, trajectory_figure

FIGURES = ("trajectory", "change", "responders", "tir", "agp")
ALLOCATION_LABELS = {"trial": "as the trial (1:1 when it has 2+ arms)", "treated": "all treated",
                     "random": "1:1 randomised vs control"}
ALLOCATIONS = [(ALLOCATION_LABELS[a], a) for a in ALLOCATION_ARMS]
MODEL_LABELS = {"islet": "islet transplantation (CIT-07)", "islet_edmonton": "islet, Edmonton 5-year course",
                "msc": "UC-MSC (Zang 2022)"}


class OutcomePanel(w.VBox):
    """Outcome, measure, subgroup and model pickers; trajectory, change, responder, TIR and AGP figures."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self.stale = False
        self.results: OutcomeResults | None = None  # what is drawn: the state's results at the last refresh
        self.figures: dict[str, object] = {}
        self._key: int | None = None  # bumps when the drawn results change (figure keys hold it, not the results)
        self._generation = 0
        self._drawn: dict[str, tuple] = {}
        self._trial_for_pickers = None
        self._syncing = False

        def picker(widget: w.Widget) -> w.Widget:
            widget.observe(lambda _: None if self._syncing else guarded(state, self._picked), "value")
            return widget

        wide = {"style": {"description_width": "initial"}}
        self._outcome = picker(w.Dropdown(description="Outcome", layout=w.Layout(width="380px"), **wide))
        self._measure = picker(w.Dropdown(description="Measure", layout=w.Layout(width="300px"), **wide))
        self._subgroup = picker(w.Dropdown(description="Subgroup", options=[("none", "")],
                                           layout=w.Layout(width="300px"), **wide))
        self._centre = picker(w.ToggleButtons(options=[("mean", "mean"), ("median", "median")], value="mean",
                                              description="Centre", style={"button_width": "70px"}))
        self._endpoint = picker(w.Dropdown(description="Responders", layout=w.Layout(width="380px"), **wide))
        self._agp_visit = picker(w.Dropdown(description="AGP visit", layout=w.Layout(width="220px"), **wide))
        self._model = picker(w.Dropdown(description="Response model", options=[(MODEL_LABELS[m], m)
                                        for m in enrolment.MODEL_CHOICES], layout=w.Layout(width="380px"), **wide))
        self._allocation = picker(w.Dropdown(description="Allocation", options=ALLOCATIONS, value="trial",
                                             layout=w.Layout(width="380px"), **wide))
        self._simulation = w.HBox([self._model, self._allocation], layout=w.Layout(flex_flow="row wrap"))
        self._info = w.HTML()
        self._outputs = {name: FigureOutput() for name in FIGURES}
        self._table = w.HTML()
        self._export_which = w.Dropdown(options=[(name, name) for name in FIGURES], description="Export figure",
                                        layout=w.Layout(width="260px"), **wide)
        self._export_links = w.HTML()
        export_buttons = []
        for fmt in ("html", "png"):
            button = w.Button(description=f"Outcome figure ({fmt.upper()})", layout=w.Layout(width="auto"))
            button.on_click(lambda _, f=fmt: guarded(state, lambda: self._export(f)))
            export_buttons.append(button)
        super().__init__([
            w.HTML("<b>Outcomes of the eligible, enrolled subjects</b> <span class='te-muted'>per trial visit; "
                   "lines: subjects (a sample when many), band: 95% CI of the centre</span>"),
            self._info,
            w.HBox([self._outcome, self._measure, self._subgroup, self._centre],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self._simulation,
            w.HBox([self._outputs["trajectory"], self._outputs["change"]], layout=w.Layout(flex_flow="row wrap")),
            self._table,
            self._endpoint, self._outputs["responders"],
            w.HBox([self._outputs["tir"], w.VBox([self._agp_visit, self._outputs["agp"]])],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self._export_which, *export_buttons], layout=w.Layout(flex_flow="row wrap")),
            self._export_links,
        ])
        self.add_class("te-outcomes")

    def _export(self, fmt: str) -> None:
        name = self._export_which.value
        fig = self.figures.get(name)
        if fig is None:
            raise ExplorerError(f"the {name} figure is not drawn yet; open a trial with eligible subjects")
        self._export_links.value = figure_download(fig, f"{self._state.trial.id}_{name}", fmt)

    # --- refresh: called after every state change -----------------------------------------------------
    def refresh(self) -> None:
        s, outcomes = self._state, self._state.outcomes
        if s.base_trial is not self._trial_for_pickers:
            self._new_trial()
        self._simulation.layout.display = "none" if outcomes.uses_real_data else None
        results = outcomes.results()
        if results is None:
            self._show_empty()
            return
        if results is not self.results or self._key is None:
            self._generation += 1
            self._key, self.results = self._generation, results
            self._sync_pickers()
        self._info.value = self._describe(len(s.eligible_ids()), len(results.subjects))
        self._draw()

    def _new_trial(self) -> None:
        trial = self._state.base_trial
        self._trial_for_pickers = trial
        with self._hold():
            self._outcome.options = [(f"{o.name} ({o.id}, {o.kind})", o.id) for o in trial.outcomes]
            self._outcome.value = trial.outcomes[0].id if trial.outcomes else None
            self._model.value = self._state.outcomes.model
            self._allocation.value = self._state.outcomes.allocation
        self._key = None

    def _count(self, value: int) -> str:
        """A subject count as the page may show it (the scenario's small-cell protection)."""
        return html.escape(self._state.shown_count(value))

    def _describe(self, eligible: int, enrolled: int) -> str:
        s = self._state
        capped = (f" (the first {self._count(enrolled)} of {self._count(eligible)} eligible)"
                  if enrolled < eligible else "")
        if s.outcomes.uses_real_data:
            source = "outcomes from the loaded dataset's trial visits"
        else:
            model = html.escape(MODEL_LABELS.get(s.outcomes.model, s.outcomes.model))
            source = f"outcomes simulated with the <b>{model}</b> response model (synthetic; not trial results)"
        skipped = "".join(f"<br><span class='te-muted'>not available: {html.escape(why)}</span>"
                          for why in self.results.skipped.values())
        return (f"<span class='te-muted'>{self._count(enrolled)} enrolled subjects{capped}; {source}; "
                f"{html.escape(s.trial.id)} visits {', '.join(map(html.escape, self.results.visit_labels))}</span>"
                f"{skipped}")

    def blank(self) -> None:
        """Hide every number (a protected scenario is being computed); the next refresh draws again."""
        self._key, self._drawn = None, {}
        self._info.value = ""
        self._table.value = ""
        for name in FIGURES:
            self._clear(name)

    def _show_empty(self) -> None:
        self._key, self.results, self._drawn = None, None, {}
        self._info.value = ("<span class='te-muted'>No subject is eligible under the current criteria, so there "
                            "are no outcomes to show; relax a criterion.</span>")
        self._table.value = ""
        for name in FIGURES:
            self._clear(name)

    def _sync_pickers(self) -> None:
        """Options that depend on the results: subgroups, endpoints, AGP visits (keeping valid choices)."""
        r = self.results
        with self._hold():
            subgroup = self._subgroup.value
            self._subgroup.options = [("none", "")] + [(SUBGROUP_LABELS.get(c, c.replace("_", " ")), c)
                                                       for c in r.subgroups]
            self._subgroup.value = subgroup if subgroup in r.subgroups else ""
            endpoints = list(pd.unique(r.endpoints["endpoint"].astype(str))) if len(r.endpoints) else []
            chosen = self._endpoint.value
            self._endpoint.options = ([("all endpoints (no subgroup split)", "all")]
                                      + [(ENDPOINT_LABELS.get(e, e), e) for e in endpoints]) if endpoints else []
            self._endpoint.value = chosen if chosen in ["all", *endpoints] else ("all" if endpoints else None)
            self._endpoint.layout.display = None if endpoints else "none"
            visits = list(pd.unique(r.cgm_readings["visit"].astype(str))) if len(r.cgm_readings) else []
            ordered = [v for v in r.visits if v in visits]
            agp_visit = self._agp_visit.value
            self._agp_visit.options = ordered
            self._agp_visit.value = agp_visit if agp_visit in ordered else (ordered[-1] if ordered else None)
            self._agp_visit.layout.display = None if ordered else "none"
            self._measure_options()

    def _measure_options(self) -> None:
        r, outcome = self.results, self._outcome.value
        measures = r.measures(outcome) if outcome in r.outcomes else []
        # event outcomes list the count, the rate and grades: the rate reads best first
        measures = sorted(measures, key=lambda m: 0 if m.endswith("_per_year") else 1) if measures else measures
        current = self._measure.value
        self._measure.options = measures
        self._measure.value = current if current in measures else (measures[0] if measures else None)
        self._measure.layout.display = None if len(measures) > 1 else "none"

    def _picked(self) -> None:
        # the state recomputes only if the model or allocation changed its key; otherwise refresh() redraws
        self._state.outcomes.choose(model=self._model.value, allocation=self._allocation.value)
        with self._hold():
            if self.results is not None:
                self._measure_options()
        self.refresh()

    # --- figures and table ------------------------------------------------------------------------------
    def _draw(self) -> None:
        """Redraw only the parts whose inputs changed (each part keeps the key it was drawn for)."""
        if self.results is None:
            return
        r, outcome, by = self.results, self._outcome.value, self._subgroup.value or None
        if outcome in r.skipped:
            self._drawn = {}
            for name in ("trajectory", "change"):
                self._clear(name)
            self._table.value = ""
            raise DataError(r.skipped[outcome])
        parts = {
            "trajectories": ((self._key, outcome, self._measure.value, by, self._centre.value, self._state.protection),
                             lambda: self._trajectories(r, outcome, by)),
            "table": ((self._key, outcome, self._measure.value, by, self._state.protection),
                      lambda: self._summary_table(outcome, by)),
            "responders": ((self._key, self._endpoint.value, by), lambda: self._responders(r, by)),
            "tir": ((self._key, by), lambda: self._time_in_range(r, by)),
            "agp": ((self._key, self._agp_visit.value), lambda: self._agp(r)),
        }
        for name, (key, draw) in parts.items():
            if self._drawn.get(name) != key:
                draw()
                self._drawn[name] = key

    def _show(self, name: str, fig) -> None:
        self.figures[name] = fig
        self._outputs[name].show(fig)

    def _clear(self, name: str) -> None:
        self.figures.pop(name, None)
        self._outputs[name].clear_output()

    def _trajectories(self, r: OutcomeResults, outcome: str, by: str | None) -> None:
        measure = self._measure.value
        info = r.outcomes[outcome]
        rows = r.values[(r.values["outcome"] == outcome) & (r.values["measure"] == measure)]
        if not len(rows):
            for name in ("trajectory", "change"):
                self._clear(name)
            return
        # trajectory_figure re-categorises the visits it finds; unused categories would make pandas warn
        rows = with_subgroups(rows, r, [by] if by else []).assign(visit=rows["visit"].cat.remove_unused_categories())
        unit = r.unit(outcome, measure)
        label = info["name"] if len(info["measures"]) == 1 else f"{info['name']}: {measure.replace('_', ' ')}"
        # under small-cell protection no single subject's line is drawn, only centres and bands
        common = dict(measure=measure, by=by, centre=self._centre.value, unit=unit, label=label,
                      show_subjects=not self._state.scenario.min_cell)
        self._show("trajectory", trajectory_figure(rows, value="value", title=f"{label} by visit", **common))
        change = "relative_change" if info["summary"] == "percent_change" else "change"
        if rows[change].notna().any():
            self._show("change", trajectory_figure(rows, value=change, title=f"{label}: change from baseline",
                                                   **common))
        else:  # e.g. events with no record of the year before baseline: there is nothing to change from
            self._clear("change")

    def _summary_table(self, outcome: str, by: str | None) -> None:
        table = self._state.outcomes.summary_table(outcome, self._measure.value, by)
        r, measure = self.results, self._measure.value
        self._table.value = html_table(table, numeric_digits=2) + (
            f"<p class='te-muted' data-testid='measure-definition'>{html.escape(measure)} "
            f"({html.escape(r.unit(outcome, measure))}): {html.escape(r.definition(outcome, measure))}</p>")

    def _responders(self, r: OutcomeResults, by: str | None) -> None:
        endpoint = self._endpoint.value
        if not len(r.endpoints) or endpoint is None:
            self._clear("responders")
            return
        table = self._state.outcomes.endpoint_table(endpoint, by)
        if endpoint == "all":
            fig = responder_figure(table, by="endpoint", title="Responders by visit, every endpoint")
        else:
            fig = responder_figure(table, by=by, title=ENDPOINT_LABELS.get(endpoint, endpoint))
        self._show("responders", fig)

    def _say(self, name: str, message: str) -> None:
        """A panel with nothing to draw says why instead of staying empty."""
        self.figures.pop(name, None)
        with self._outputs[name]:
            self._outputs[name].clear_output(wait=True)
            display(HTML(f"<p class='te-muted te-panel-note'>{message}</p>"))

    def _with_cgm(self, r: OutcomeResults) -> str:
        with_cgm = r.cgm_readings["subject_id"].nunique() if len(r.cgm_readings) else 0
        return f"{self._count(with_cgm)} of {self._count(len(r.subjects))} enrolled have CGM readings"

    def _time_in_range(self, r: OutcomeResults, by: str | None) -> None:
        if not len(r.tir_bands):
            self._say("tir", f"Time in range: too few subjects with CGM data to show ({self._with_cgm(r)}).")
            return
        bands = with_subgroups(r.tir_bands, r, [by] if by else [])
        self._show("tir", time_in_range_figure(bands, by=by, title="Time in glucose ranges by visit"))

    def _agp(self, r: OutcomeResults) -> None:
        visit = self._agp_visit.value
        readings = r.cgm_readings
        readings = readings[readings["visit"].astype(str) == visit] if visit else readings.iloc[:0]
        if not len(readings):
            self._say("agp", f"Ambulatory Glucose Profile: no CGM readings at this visit ({self._with_cgm(r)}).")
            return
        subjects = readings["subject_id"].nunique()
        self._show("agp", agp_figure(ambulatory_glucose_profile(readings),
                                     title=f"Ambulatory Glucose Profile, {visit} ({subjects} subjects with CGM readings)"))

    # --- helpers ----------------------------------------------------------------------------------------
    @contextmanager
    def _hold(self):
        """Change picker options without each change redrawing (their observers check _syncing)."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False
