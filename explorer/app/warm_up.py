"""Work done ahead of a tab's first chart: plotly's first use, and the current scenario's outcomes once the
dashboard has been quiet for a moment (a client of the kernel's idle-time scheduler, explorer.engine.idle)."""

from __future__ import annotations

import contextlib

import plotly.graph_objects as go

from explorer.app.widgets import plotly_bundle
from explorer.engine.idle import IDLE, IdleScheduler, Task

# How long the scenario must stay as it is before its outcomes are computed ahead: a researcher clicking
# through criteria should not pay for every scenario passed on the way (benchmarks/results/outcomes.prepare.md).
SETTLE_S = 1.0
# its rank among the kernel's background jobs (explorer.engine.idle; lower runs first): after the edit tables'
# warm-up, since the next input on the page is more likely an edit than the Outcomes tab
PRIORITY = 1


def warm_up_figures() -> None:
    """Build and serialise one small figure of each kind the views draw, so that plotly loads its
    validators and the template (1-2 s the first time) before anyone opens a tab with a chart."""
    from explorer.plots import TEMPLATE

    fig = go.Figure([go.Bar(x=[1], y=["a"], orientation="h"), go.Scatter(x=[1], y=[1])])
    fig.update_layout(template=TEMPLATE, title="warm-up")
    plotly_bundle(fig)


class OutcomePreparer:
    """Computes the current scenario's outcomes (OutcomeState.prepare) in the kernel's idle time
    (explorer.engine.idle) once the scenario has settled: SETTLE_S after the page's first render (`page`'s
    initial_query_sent), and after each edit with no other edit within SETTLE_S. The Outcomes tab then only draws.

    Not at start-up: run from the pre-heated kernel's warm-up, it made the first render about 2x slower
    (benchmarks/results/dashboard.kernel.md). An edit meanwhile makes prepare stop and keep nothing
    (outcomes of one scenario are never shown for another: the cache key and the revision decide).
    """

    def __init__(self, state, page=None, settle_s: float | None = None, working=lambda: False,
                 scheduler: IdleScheduler = IDLE):
        """`page`: the widget whose initial_query_sent says the page has rendered (None: start now);
        `settle_s`: the quiet wait (default SETTLE_S); `working()`: whether the dashboard is drawing something
        (then the wait starts again)."""
        self._state, self._working, self._scheduler = state, working, scheduler
        self._settle_s = SETTLE_S if settle_s is None else settle_s
        self.name = f"outcomes {id(self):x}"  # the scheduler's name for this dashboard's job (one per state)
        self.prepared = 0  # how many settled scenarios were handed to prepare (tests, benchmarks)
        self._started = page is None or page.initial_query_sent
        if not self._started:
            page.observe(self._page_rendered, "initial_query_sent")
        state.observe(lambda _: self.schedule(), "revision")
        if self._started:
            self.schedule()

    def _page_rendered(self, change) -> None:
        if change["new"] and not self._started:
            self._started = True
            self.schedule()

    def schedule(self) -> None:
        """(Re)start the wait: the scenario current now is prepared if nothing changes for SETTLE_S."""
        if not self._started:
            return
        revision = self._state.revision
        self._scheduler.submit(self.name, lambda task: self._run(task, revision), delay=self._settle_s,
                               priority=PRIORITY, ready=lambda: not (self._state.busy or self._working()))

    def _run(self, task: Task, revision: int) -> None:
        if task.cancelled or self._state.revision != revision:  # moved on: the edit's own job follows
            return
        self.prepared += 1
        # a guess ahead of time: the tab computes the same outcomes when opened and reports any problem with
        # them there (widgets.guarded), so nothing from this thread reaches the page
        with contextlib.suppress(Exception):
            self._state.outcomes.prepare(task)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no preparation waits or runs; False on timeout (tests, benchmarks)."""
        return self._scheduler.wait_done(self.name, timeout)

    def stop(self) -> None:
        self._started = False
        self._scheduler.cancel(self.name)
