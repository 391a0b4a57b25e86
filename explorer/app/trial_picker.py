"""Pick a bundled trial, open a definition file by path, or upload one."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from explorer.app.state import ExplorerState
from explorer.app.upload import FilePicker
from explorer.app.widgets import guarded


class TrialPicker(w.HBox):
    def __init__(self, state: ExplorerState):
        self._state = state
        self._dropdown = w.Dropdown(options=state.trial_choices, value=state.trial.id, description="Trial",
                                    layout=w.Layout(width="260px"))
        self._syncing = False  # True while refresh() updates the dropdown: not a user's choice
        self._shown = None  # the trial (as loaded) whose choices the dropdown shows
        self._dropdown.observe(lambda ch: guarded(state, lambda: self._switch(ch["new"])), "value")
        self._path = w.Text(placeholder="path/to/trial.yaml", description="or file",
                            layout=w.Layout(width="320px"))
        open_button = w.Button(description="Open trial file")
        open_button.on_click(lambda _: guarded(state, lambda: state.add_trial_file(self._path.value.strip())))
        self._upload = FilePicker(accept=".yaml,.yml,.json", description="Upload trial", testid="upload-trial")
        self._upload.on_upload(lambda saved: guarded(state, lambda: self._uploaded(saved())))
        super().__init__([self._dropdown, self._path, open_button, self._upload],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))

    def _switch(self, trial_id: str) -> None:
        if not self._syncing and trial_id and trial_id != self._state.trial.id:
            self._state.select_trial(trial_id)

    def _uploaded(self, paths: list[Path]) -> None:
        self._state.allow(paths[0].parent)
        self._state.add_trial_file(paths[0])

    def refresh(self) -> None:
        s = self._state
        if self._shown is s.base_trial and self._dropdown.value == s.trial.id:
            return  # an edit of the same trial: the choices (a folder listing, per click before) stand
        self._syncing = True  # new options reset the value in between: that is not a trial switch
        try:
            if tuple(self._dropdown.options) != tuple(s.trial_choices):
                self._dropdown.options = s.trial_choices
            if self._dropdown.value != s.trial.id:
                self._dropdown.value = s.trial.id
        finally:
            self._syncing = False
        self._shown = s.base_trial
