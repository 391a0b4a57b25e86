"""The overlap of exclusions: subjects per exact combination of failed criteria."""

from __future__ import annotations

import ipywidgets as w
import pandas as pd

from explorer.app.state import ExplorerState
from explorer.app.tables import percent_text
from explorer.app.widgets import FigureOutput, html_table
from explorer.plots.eligibility import overlap_figure


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
            "% of screened": [percent_text(v) for v in shown["pct_screened"]],
            "% of excluded": [percent_text(v) for v in shown["pct_excluded"]]}))

    def blank(self) -> None:
        self._table.value = ""
        self._figure.clear_output()
