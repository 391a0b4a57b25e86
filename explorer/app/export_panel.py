"""Export: the edited trial, tables, eligible ids, figures and the scenario as code; small-cell protection."""

from __future__ import annotations

import ipywidgets as w

from explorer.app.state import ExplorerState
from explorer.app.widgets import download_link, figure_download, guarded
from explorer.plots.eligibility import consort_figure, funnel_figure


class ExportPanel(w.VBox):
    """Downloads of the edited trial, tables, eligible ids, figures and the CONSORT diagram."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._min_cell = w.BoundedIntText(value=state.scenario.min_cell, min=0, max=1000,
                                          description="Suppress counts below (0 = off)",
                                          style={"description_width": "initial"})
        self._min_cell.observe(lambda ch: guarded(state, lambda: state.set_min_cell(ch["new"])), "value")
        self._method = w.Dropdown(options=[("suppress small counts, round the rest to 5", "round"),
                                           ("suppress small counts only", "suppress")],
                                  value=state.scenario.cell_method, description="Method")
        self._method.observe(lambda ch: guarded(state, lambda: state.set_min_cell(self._min_cell.value, ch["new"])),
                             "value")
        self._links = w.HTML()
        buttons = []
        for label, action in (
            ("Trial definition (YAML)", self._trial_yaml), ("Funnel (CSV)", lambda: self._table("funnel")),
            ("Impact (CSV)", lambda: self._table("impact")), ("Shapley (CSV)", lambda: self._table("shapley")),
            ("Overlap (CSV)", lambda: self._table("overlap")), ("Eligible subject ids (CSV)", self._ids),
            ("Funnel figure (HTML)", lambda: self._figure("funnel", "html")),
            ("Funnel figure (PNG)", lambda: self._figure("funnel", "png")),
            ("CONSORT diagram (PNG)", lambda: self._figure("consort", "png")),
            ("CONSORT diagram (HTML)", lambda: self._figure("consort", "html")),
            ("Python code (.py)", lambda: self._offer(self._state.export_code(), f"{self._stem()}_scenario.py",
                                                      "text/x-python")),
            ("Notebook (.ipynb)", lambda: self._offer(self._state.export_code(notebook=True),
                                                      f"{self._stem()}_scenario.ipynb", "application/x-ipynb+json")),
        ):
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.on_click(lambda _, a=action: guarded(state, a))
            buttons.append(button)
        super().__init__([
            w.HTML("<b>Small-cell protection</b> <span class='te-muted'>for results from real patient data: "
                   "counts between 1 and the threshold are shown as &lt;k everywhere, exports included</span>"),
            w.HBox([self._min_cell, self._method]),
            w.HTML("<b>Export</b>"), w.HBox(buttons, layout=w.Layout(flex_flow="row wrap")), self._links])

    def _offer(self, content, filename: str, mime: str) -> None:
        self._links.value = download_link(content, filename, mime)

    def _stem(self) -> str:
        return f"{self._state.trial.id}"

    def _trial_yaml(self) -> None:
        self._offer(self._state.export_trial_yaml(), f"{self._stem()}_edited.yaml", "application/x-yaml")

    def _table(self, name: str) -> None:
        self._offer(self._state.export_table_csv(name), f"{self._stem()}_{name}.csv", "text/csv")

    def _ids(self) -> None:
        self._offer(self._state.export_eligible_ids_csv(), f"{self._stem()}_eligible_ids.csv", "text/csv")

    def _figure(self, which: str, fmt: str) -> None:
        s = self._state
        funnel = s.protected(s.funnel)
        fig = (funnel_figure(funnel, min_cell=s.scenario.min_cell, title=f"{s.trial.id} attrition funnel")
               if which == "funnel" else consort_figure(funnel, trial_id=s.trial.id, min_cell=s.scenario.min_cell,
                                                        off=s.switched_off))
        self._links.value = figure_download(fig, f"{self._stem()}_{which}", fmt)

    def refresh(self) -> None:
        if self._min_cell.value != self._state.scenario.min_cell:
            self._min_cell.value = self._state.scenario.min_cell
        if self._method.value != self._state.scenario.cell_method:
            self._method.value = self._state.scenario.cell_method
