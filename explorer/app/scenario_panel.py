"""Save and restore the whole scenario as JSON; the page address reflects it."""

from __future__ import annotations

import html

import ipywidgets as w

from explorer.app.state import ExplorerState
from explorer.app.widgets import download_link, guarded


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
