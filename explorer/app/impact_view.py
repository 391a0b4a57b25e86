"""Per-criterion impact: failing, unknown, excluded alone, eligible if removed, and Shapley shares."""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from explorer.app.state import ExplorerState
from explorer.app.widgets import FigureOutput, html_table
from explorer.plots.eligibility import shapley_figure


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
