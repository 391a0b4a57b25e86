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
from explorer.app.preheat import low_priority
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
from explorer.app.warm_up import OutcomePreparer
from explorer.app.widgets import STYLE, UrlSync
from explorer.engine.idle import IDLE
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


# The tabs in order and the views each holds; the Eligibility tab (criteria and funnel) is the first screen.
_TABS: list[tuple[str, tuple[str, ...]]] = [
    ("Eligibility", ("criteria", "funnel")), ("Impact", ("impact",)), ("Overlap", ("overlap",)),
    ("Baseline", ("baseline",)), ("Thresholds", ("thresholds",)), ("Compare", ("compare",)),
    ("Representativeness", ("representativeness",)), ("Relaxed criteria", ("relaxed",)),
    ("Outcomes", ("outcomes",)), ("Data", ("data",)), ("Export & scenario", ("export", "scenario_panel"))]
_TAB_VIEWS = {"impact": ImpactView, "overlap": OverlapView, "baseline": BaselineView, "thresholds": ThresholdView,
              "compare": CompareView, "representativeness": RepresentativenessView, "relaxed": RelaxedOutcomesView,
              "outcomes": OutcomePanel, "data": DataPanel, "export": ExportPanel, "scenario_panel": ScenarioPanel}
# views that compute statistics, figures or reports: they redraw only while their tab is open (stale until then).
# The Data tab's report (the load report and why values are unknown) cost 4 ms of every click at 10^5 subjects
# once the tab had been opened (benchmarks/results/dashboard.click.messages.md).
_REDRAWN_WHEN_OPEN = frozenset({"impact", "overlap", "baseline", "outcomes", "thresholds", "compare",
                                "representativeness", "relaxed", "data"})
# the order views redraw in; the header goes last: a new title never stands over the previous trial's criteria
_REDRAW_ORDER = ("trial_picker", "criteria", "funnel", "impact", "overlap", "baseline", "outcomes", "thresholds",
                 "compare", "representativeness", "relaxed", "data", "export", "scenario_panel", "summary")


class _TabView:
    """A view of a closed tab as an attribute (`dashboard.impact`): built the first time it is asked for."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, dashboard, owner=None):
        return self if dashboard is None else dashboard.view(self.name)


class Dashboard(w.VBox):
    """Header with the eligible count, then tabs: eligibility, impact, overlap, baseline, outcomes, data, export."""

    impact = _TabView()
    overlap = _TabView()
    baseline = _TabView()
    thresholds = _TabView()
    compare = _TabView()
    representativeness = _TabView()
    relaxed = _TabView()
    outcomes = _TabView()
    data = _TabView()
    export = _TabView()
    scenario_panel = _TabView()

    def __init__(self, state: ExplorerState | None = None, *, scenario: Scenario | None = None,
                 address: bool = True, criteria_after_render: bool = False):
        """`address`: keep the browser's address in step with the scenario (the served dashboard); a
        notebook's explorer leaves JupyterLab's address alone. `criteria_after_render`: build the criteria's
        rows only once the page has drawn the dashboard (the served dashboard; see `_page_rendered`)."""
        if state is None:
            # a served dashboard reads data and trial files only under its allowed folders
            roots = served_roots()
            try:
                # a pool kernel builds at low priority: a visitor's clicks in another kernel go first
                state = low_priority(lambda: ExplorerState(scenario or initial_scenario(), roots=roots))
            except ExplorerError as err:  # a bad link: open the default view and say what was wrong
                state = ExplorerState(Scenario(data=DataSource("synthetic", "t1d", DEFAULT_N, 0)), roots=roots)
                state.error = f"Could not open the requested view: {err}"
        self.state = state
        s = self.state
        # The first screen (header, trial picker, the Eligibility tab) is built now; every other tab's views
        # are built the first time the tab opens or code asks for them (`_TabView`): the first render then
        # sends only what it shows (issue 17; benchmarks/results/dashboard.first_render.lazytabs.md).
        self.summary = SummaryBar(s)
        self.trial_picker = TrialPicker(s)
        self.criteria = CriteriaPanel(s, rows_later=criteria_after_render)
        self.funnel = FunnelView(s)
        self._built: dict[str, w.Widget] = {"summary": self.summary, "trial_picker": self.trial_picker,
                                            "criteria": self.criteria, "funnel": self.funnel}
        self.url = UrlSync() if address else None

        eligibility = w.HBox([self.criteria, self.funnel], layout=w.Layout(align_items="flex-start"))
        self.criteria.layout = w.Layout(width="46%", min_width="420px", margin="0 12px 0 0")
        self.funnel.layout = w.Layout(flex="1 1 auto", min_width="420px")
        placeholder = w.HTML("<span class='te-muted'>Opening&hellip;</span>")  # one model, shown by every closed tab
        tab_layout = w.Layout()  # the closed tabs' boxes are alike: one Layout model for all
        self._closed = {title: w.VBox([placeholder], layout=tab_layout) for title, _ in _TABS[1:]}
        self.tabs = w.Tab(children=[eligibility, *self._closed.values()], titles=[title for title, _ in _TABS])

        # --- wiring: the state drives the views; the page address follows the scenario -----------
        # Views in other tabs (impact, overlap, baseline, outcomes, ...) redraw when their tab is opened.
        s.observe(lambda _: self.refresh(), "revision")
        self.tabs.observe(lambda _: self.refresh_visible(), "selected_index")
        s.observe(lambda _: self.summary.show_error(), ["error", "notice"])
        self._working = 0  # > 0 while the dashboard redraws views (after the state's own busy time)
        # a finished computation leaves the indicator on while a newer revision waits for the redraw that
        # follows: one "on" and one "off" per click, not two of each (issue 17)
        s.observe(lambda _: self.summary.show_busy(s.busy or self._working > 0
                                                   or self.summary.shown_revision != s.revision), "busy")
        s.observe(lambda _: self._conceal(), "concealed")
        if self.url is not None:
            s.observe(lambda _: setattr(self.url, "query", s.scenario.to_query()), "revision")
            self.url.observe(self._opened_with, "initial_query")

        # the page's own indicator: within 100 ms of any input the kernel has not answered (issue 17)
        self.pending = PendingIndicator()
        self.pending.observe(self._page_follows, "following")
        if criteria_after_render:
            self.funnel.chart.on_painted(self._page_rendered)
        super().__init__([w.HTML(STYLE), self.pending, self.summary, self.trial_picker, self.tabs,
                          *([self.url] if self.url is not None else [])])
        self.add_class("te-app")
        self.refresh()
        if self.url is not None:
            self.url.query = s.scenario.to_query()

    def _page_follows(self, change) -> None:
        """The page's own loading indicator follows the kernel: the header's is left out from now on."""
        self.summary.page_shows_busy = bool(change["new"])
        self.summary.show_busy()

    def _page_rendered(self) -> None:
        """The page has laid out the funnel: now the criteria's rows (issue 17, first render).

        Voilà's page draws the views of the whole widget tree before the count and the funnel show; the rows
        are about 250 of the 340 views of the first screen. Their models are already on the page (they came
        with the rest of the state): showing them is one message, and the page draws them after the counts
        (benchmarks/results/dashboard.first_render.phases11b.md). The page's signal is a message, not a trait:
        nothing of it is in the state a page receives."""
        if self.criteria.waiting:
            guarded(self.state, self.criteria.show_rows)

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
        if not self.funnel.drawn:
            problems.append("the funnel is not drawn")
        return problems

    @contextmanager
    def working(self):
        """Show the loading indicator while the dashboard does something that may take a while (an open
        tab computing its statistics and drawing its figure); SummaryBar decides when it becomes visible."""
        self._working += 1
        self.summary.show_busy(True)
        try:
            with IDLE.foreground(interrupt=False):  # a tab drawing: the kernel's background work waits
                yield
        finally:
            self._working -= 1
            if not self._working:
                self.summary.show_busy(self.state.busy)

    def view(self, name: str) -> w.Widget:
        """The view called `name` (`"impact"`, `"export"`, ...), building its tab if it is still closed."""
        if name not in self._built:
            self._build_tab(next(title for title, names in _TABS if name in names))
        return self._built[name]

    def _build_tab(self, title: str) -> None:
        """Put a closed tab's views in place of its placeholder; they draw the scenario current now."""
        names = dict(_TABS)[title]
        if names[0] in self._built:
            return
        views = {name: _TAB_VIEWS[name](self.state) for name in names}
        self._built.update(views)
        self._closed[title].children = list(views.values())
        for name, view in views.items():
            if name in _REDRAWN_WHEN_OPEN:
                view.stale = True  # drawn when its tab shows (refresh_visible), not when code reads it
            else:
                guarded(self.state, view.refresh)

    def _visible(self) -> tuple[str, tuple[str, ...]]:
        return _TABS[self.tabs.selected_index or 0]

    def refresh(self) -> None:
        title, visible = self._visible()
        with self.working():
            self._build_tab(title)
            for name in _REDRAW_ORDER:
                view = self._built.get(name)
                if view is None:  # a tab never opened: nothing to redraw
                    continue
                if name in _REDRAWN_WHEN_OPEN and name not in visible:
                    view.stale = True
                    if self.state.protection.on and hasattr(view, "blank"):
                        view.blank()  # no unprotected number waits in a closed tab
                    continue
                guarded(self.state, view.refresh)

    def _conceal(self) -> None:
        """A protected scenario is being computed: hide every count now (all or nothing)."""
        if self.state.concealed:
            guarded(self.state, self.summary.refresh)
            for name, view in self._built.items():
                if (name == "funnel" or name in _REDRAWN_WHEN_OPEN) and hasattr(view, "blank"):
                    view.blank()

    def refresh_visible(self) -> None:
        title, visible = self._visible()
        self._build_tab(title)
        for view in (self._built[name] for name in visible):
            if getattr(view, "stale", False):
                view.stale = False
                with self.working():
                    guarded(self.state, view.refresh)

    def show(self) -> Dashboard:
        display(self)
        # after the first paint, in the background: the first chart of a tab then costs its own work only
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
        # a settled scenario's outcomes, computed in the background once the page has rendered
        self.outcome_preparer = OutcomePreparer(self.state, page=self.url, working=lambda: self._working > 0)
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
