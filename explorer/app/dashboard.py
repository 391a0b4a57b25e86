"""The dashboard: builds the state and the views and wires them, all in one place.

The notebook Voilà serves only does `Dashboard().show()` (notebooks/dashboard.ipynb).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import ipywidgets as w
from IPython.display import display

from explorer.app.analysis_views import (
    CompareView,
    RelaxedOutcomesView,
    RepresentativenessView,
    ThresholdView,
)
from explorer.app.folders import BASE_DIR_VARIABLE, ROOTS_VARIABLE, served_roots
from explorer.app.outcome_view import OutcomePanel
from explorer.app.pending import PendingIndicator
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.app.views import (
    BaselineView,
    CriteriaPanel,
    DataPanel,
    ExportPanel,
    FunnelView,
    ImpactView,
    OverlapView,
    ScenarioPanel,
    SummaryBar,
    TrialPicker,
    guarded,
    warm_up_figures,
)
from explorer.app.widgets import STYLE, UrlSync
from explorer.errors import ExplorerError

# Size of the built-in synthetic cohort the dashboard opens with (TRIAL_EXPLORER_N overrides it)
DEFAULT_N = 10_000


def initial_scenario() -> Scenario:
    """The scenario to open: the page address (QUERY_STRING, when Voilà passes it) or the defaults."""
    n = int(os.environ.get("TRIAL_EXPLORER_N", DEFAULT_N))
    query = os.environ.get("QUERY_STRING", "")
    default = Scenario(data=DataSource("synthetic", "t1d", n, 0))
    if query.strip():
        try:
            return Scenario.from_query(query)
        except Exception:
            return default
    return default


class Dashboard(w.VBox):
    """Header with the eligible count, then tabs: eligibility, impact, overlap, baseline, outcomes, data, export."""

    def __init__(self, state: ExplorerState | None = None, *, scenario: Scenario | None = None,
                 address: bool = True):
        """`address`: keep the browser's address in step with the scenario (the served dashboard); a
        notebook's explorer leaves JupyterLab's address alone."""
        if state is None:
            # a served dashboard reads data and trial files only under its allowed folders
            roots = served_roots()
            try:
                state = ExplorerState(scenario or initial_scenario(), roots=roots)
            except ExplorerError as err:  # a bad link: open the default view and say what was wrong
                state = ExplorerState(Scenario(data=DataSource("synthetic", "t1d", DEFAULT_N, 0)), roots=roots)
                state.error = f"Could not open the requested view: {err}"
        self.state = state
        s = self.state
        self.summary = SummaryBar(s)
        self.trial_picker = TrialPicker(s)
        self.criteria = CriteriaPanel(s)
        self.funnel = FunnelView(s)
        self.impact = ImpactView(s)
        self.overlap = OverlapView(s)
        self.baseline = BaselineView(s)
        self.data = DataPanel(s)
        self.export = ExportPanel(s)
        self.scenario_panel = ScenarioPanel(s)
        self.url = UrlSync() if address else None
        self.outcomes = OutcomePanel(s)
        self.thresholds = ThresholdView(s)
        self.compare = CompareView(s)
        self.representativeness = RepresentativenessView(s)
        self.relaxed = RelaxedOutcomesView(s)

        # the header goes last: a new title never stands over the previous trial's criteria and funnel
        self._views = [self.trial_picker, self.criteria, self.funnel, self.impact, self.overlap,
                       self.baseline, self.outcomes, self.thresholds, self.compare,
                       self.representativeness, self.relaxed, self.data, self.export, self.scenario_panel, self.summary]
        eligibility = w.HBox([self.criteria, self.funnel], layout=w.Layout(align_items="flex-start"))
        self.criteria.layout = w.Layout(width="46%", min_width="420px", margin="0 12px 0 0")
        self.funnel.layout = w.Layout(flex="1 1 auto", min_width="420px")
        tabs = [("Eligibility", eligibility), ("Impact", self.impact), ("Overlap", self.overlap),
                ("Baseline", self.baseline), ("Thresholds", self.thresholds), ("Compare", self.compare),
                ("Representativeness", self.representativeness), ("Relaxed criteria", self.relaxed),
                ("Outcomes", self.outcomes), ("Data", self.data),
                ("Export & scenario", w.VBox([self.export, self.scenario_panel]))]
        self.tabs = w.Tab(children=[t[1] for t in tabs], titles=[t[0] for t in tabs])

        # --- wiring: the state drives the views; the page address follows the scenario -----------
        # Views in other tabs (impact, overlap, baseline, outcomes) redraw when their tab is opened.
        self._lazy_views = {self.impact, self.overlap, self.baseline, self.outcomes, self.thresholds, self.compare,
                            self.representativeness, self.relaxed}
        s.observe(lambda _: self.refresh(), "revision")
        self.tabs.observe(lambda _: self.refresh_visible(), "selected_index")
        s.observe(lambda _: self.summary.show_error(), ["error", "notice"])
        self._working = 0  # > 0 while the dashboard redraws views (after the state's own busy time)
        s.observe(lambda _: self.summary.show_busy(s.busy or self._working > 0), "busy")
        s.observe(lambda _: self._conceal(), "concealed")
        if self.url is not None:
            s.observe(lambda _: setattr(self.url, "query", s.scenario.to_query()), "revision")
            self.url.observe(self._opened_with, "initial_query")

        # the page's own indicator: within 100 ms of any input the kernel has not answered (issue 17)
        self.pending = PendingIndicator()
        super().__init__([w.HTML(STYLE), self.pending, self.summary, self.trial_picker, self.tabs,
                          *([self.url] if self.url is not None else [])])
        self.add_class("te-app")
        self.refresh()
        if self.url is not None:
            self.url.query = s.scenario.to_query()

    def _opened_with(self, change) -> None:
        query = change["new"]
        if query and query != self.state.scenario.to_query():
            guarded(self.state, lambda: self.state.restore(query))

    def health(self) -> list[str]:
        """What is wrong with what this explorer shows: an error, or a view not showing the state's
        current results. Empty when every visible count is the current scenario's (tests check it)."""
        problems = [f"error: {self.state.error}"] if self.state.error else []
        for name, view in (("header", self.summary), ("funnel", self.funnel)):
            if getattr(view, "shown_revision", None) != self.state.revision:
                problems.append(f"the {name} shows revision {getattr(view, 'shown_revision', None)}, "
                                f"the state is at {self.state.revision}")
        if "data-final-eligible" not in self.funnel._bars.value:
            problems.append("the funnel is not drawn")
        return problems

    @contextmanager
    def working(self):
        """Show the loading indicator while the dashboard does something that may take a while (an open
        tab computing its statistics and drawing its figure); SummaryBar decides when it becomes visible."""
        self._working += 1
        self.summary.show_busy(True)
        try:
            yield
        finally:
            self._working -= 1
            if not self._working:
                self.summary.show_busy(self.state.busy)

    def refresh(self) -> None:
        visible = self.tabs.children[self.tabs.selected_index or 0]
        with self.working():
            for view in self._views:
                if view in self._lazy_views and view is not visible:
                    view.stale = True
                    if self.state.protection.on and hasattr(view, "blank"):
                        view.blank()  # no unprotected number waits in a closed tab
                    continue
                guarded(self.state, view.refresh)

    def _conceal(self) -> None:
        """A protected scenario is being computed: hide every count now (all or nothing)."""
        if self.state.concealed:
            guarded(self.state, self.summary.refresh)
            for view in (self.funnel, *self._lazy_views):
                if hasattr(view, "blank"):
                    view.blank()

    def refresh_visible(self) -> None:
        visible = self.tabs.children[self.tabs.selected_index or 0]
        if getattr(visible, "stale", False):
            visible.stale = False
            with self.working():
                guarded(self.state, visible.refresh)

    def show(self) -> Dashboard:
        display(self)
        # after the first paint, in the background: the first chart of a tab then costs its own work only
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
        signal_ready()
        return self


def warm_up() -> None:
    """What a tab's first chart would otherwise wait for, loaded after the first paint: plotly's validators
    and template, and scipy.signal, which the outcomes tab's simulated CGM readings import (0.2-0.5 s)."""
    warm_up_figures()
    import scipy.signal  # noqa: F401


# what `trial-explorer dashboard` tells the served notebook (explorer.cli.dashboard sets them)
__all__ = ["BASE_DIR_VARIABLE", "READY_FILE_VARIABLE", "ROOTS_VARIABLE", "Dashboard", "explore"]
READY_FILE_VARIABLE = "TRIAL_EXPLORER_READY_FILE"


def signal_ready() -> None:
    """Touch the file named by TRIAL_EXPLORER_READY_FILE, if set, once the dashboard is displayed.

    Voila logs "kernel pool is filled" as soon as its pre-heated kernel starts, not when the notebook has
    run; a page requested in between never connects its widgets. `trial-explorer dashboard` and the
    browser tests set this variable and wait for the file before anyone opens the page.
    """
    path = os.environ.get(READY_FILE_VARIABLE)
    if path:
        Path(path).touch()


def explore(trial: str = "NCT06196996", data=None, *, n: int = DEFAULT_N, seed: int = 0,
            min_cell: int | None = None, cell_method: str | None = None) -> Dashboard:
    """The explorer in one call, for notebooks: `explore("NCT01142050")`, `explore(trial, "path/to/data")`.

    `trial` is a bundled id or a trial file's path. `data` is None (the trial's synthetic population of
    `n` subjects drawn with `seed`), a path the loaders read, a DataSource, or a Screening already in
    memory. Real data is protected by default (k = 11, suppress); `min_cell` / `cell_method` override.
    Each call builds its own state: explorers in one notebook never take each other over.
    """
    from explorer.clinical.populations import POPULATION_NAMES
    from explorer.cohort.screening import Screening
    from explorer.cohort.synthetic.trial_match import population_for
    from explorer.trial import bundled_trials, load_trial

    loaded = load_trial(trial)
    trial_ref = trial if trial in bundled_trials() else loaded.id
    preloaded = {}
    if data is None:
        source = DataSource("synthetic", population_for(loaded), int(n), int(seed))
    elif isinstance(data, DataSource):
        source = data
    elif isinstance(data, Screening):
        source = DataSource("path", path=f"in memory: {data.source or 'a screening'}")
        preloaded = {source: data}
    elif isinstance(data, str) and data in POPULATION_NAMES:
        source = DataSource("synthetic", data, int(n), int(seed))
    else:  # a path means what it means where explore() is called (the notebook's folder)
        source = DataSource("path", path=str(Path(data).expanduser().resolve()))
    scenario = Scenario(trial=trial_ref).with_data(source)
    if min_cell is not None:
        scenario = replace(scenario, min_cell=int(min_cell))
    if cell_method is not None:
        scenario = replace(scenario, cell_method=cell_method)
    state = ExplorerState(scenario, preloaded=preloaded)
    if trial_ref != trial:  # a trial file: make it the state's trial under its id
        state.add_trial_file(trial)
    return Dashboard(state, address=False)
