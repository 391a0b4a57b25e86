"""Table 1: the eligible pool against the screened population."""

from __future__ import annotations

import ipywidgets as w

from explorer.app.state import ExplorerState
from explorer.app.tables import format_baseline
from explorer.app.widgets import html_table


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
