"""The header: the trial's title, the current eligible counts (always in view), status, errors and the
loading indicator."""

from __future__ import annotations

import html

import ipywidgets as w

from explorer.app.state import ExplorerState


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
        self.shown_revision: int | None = None  # the state revision the header shows
        self.page_shows_busy = False  # the page's own indicator follows the kernel (explorer.app.pending)
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
        it). The page shows it only once it has lasted 80 ms (CSS .te-busy), so quick updates never flicker.
        Left out while the page's own indicator follows the kernel (`page_shows_busy`): it covers the same work."""
        on = (self._state.busy if on is None else on) and not self.page_shows_busy
        self._busy.value = ("<span class='te-busy' data-testid='busy'>working&hellip;</span>"
                            if on else "")
