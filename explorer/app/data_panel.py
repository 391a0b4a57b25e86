"""The Data tab: a synthetic population or a real dataset, and what its load read, kept and rejected."""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w
import pandas as pd

from explorer.app.folders import base_dir
from explorer.app.scenario import DataSource
from explorer.app.state import ExplorerState
from explorer.app.upload import FilePicker
from explorer.app.widgets import guarded, html_table
from explorer.cohort.loaders.report import table_name
from explorer.sources import SYNTHETIC_REASONS_UP_TO


def absent_html(state: ExplorerState) -> str:
    """Criteria the dataset cannot decide for anyone, e.g. "I1: kitt absent from this dataset -> unknown for all 112"."""
    rows = state.absent_variables()
    if not rows:
        return ""
    items = "".join(f"<li><b>{html.escape(r['criterion'])}</b> {html.escape(r['label'])}: "
                    f"<code>{html.escape(r['variable'])}</code> absent from this dataset &rarr; unknown for "
                    f"{html.escape(state.shown_count(r['unknown']))} of {html.escape(state.shown_count(r['subjects']))}</li>"
                    for r in rows)
    return f"<ul class='te-absent' data-testid='absent-variables'>{items}</ul>"


# The loaders' on_invalid choices as a researcher reads them (explorer.sources.ON_INVALID; default first)
ON_INVALID_CHOICES = (("stop with an error naming the file, column and rows", "raise"),
                      ("treat invalid values as unknown, and list them", "reject"))


def invalid_html(report) -> str:
    """Where on_invalid="reject" made values unknown or left rows out: file, column, how many, first rows, why."""
    if not report.invalid:
        return ""
    rows = [{"file": table_name(v.file), "column": v.column, "values": f"{v.count:,}",
             "first rows": ", ".join(map(str, v.rows)) + (" ..." if v.count > len(v.rows) else ""),
             "made": "unknown" if v.made_unknown else "row left out", "why": v.problem} for v in report.invalid]
    total = sum(v.count for v in report.invalid)
    return (f"<div data-testid='invalid-values'><b>{total:,} invalid value(s) treated as unknown</b> "
            "<span class='te-muted'>(criteria on them are unknown for those subjects; rows count from the "
            f"header, row 1)</span>{html_table(pd.DataFrame(rows))}</div>")


def data_report_html(state: ExplorerState) -> str:
    """The load report of real data as a compact table, then the criteria it cannot decide."""
    report = state.load_report
    if report is None:
        return ""
    rows = []
    for name, t in report.tables.items():
        reasons = "; ".join(f"{n:,} {why}" for why, n in sorted(t.rejected.items(), key=lambda kv: -kv[1]))
        rows.append({"table": name, "rows read": f"{t.rows_read:,}", "kept": f"{t.rows_kept:,}",
                     "rejected": f"{t.rows_rejected:,}", "why rejected": reasons})
    conversions = "".join(f"<li>{n:,} {html.escape(what)}</li>" for what, n in sorted(report.conversions.items()))
    notes = "".join(f"<li>{html.escape(text)}</li>" for text in report.notes)
    absent = absent_html(state)
    return (f"<div class='te-report' data-testid='load-report'><b>Loaded</b> <span class='te-muted'>"
            f"{html.escape(report.kind)} from {html.escape(str(report.source))}</span>"
            f"{html_table(pd.DataFrame(rows))}"
            + (f"<b>Values converted or read specially</b><ul>{conversions}</ul>" if conversions else "")
            + invalid_html(report)
            + (f"<b>Notes</b><ul>{notes}</ul>" if notes else "")
            + (f"<b>Criteria this dataset cannot decide</b>{absent}" if absent else "") + "</div>")


def reasons_html(state: ExplorerState) -> str:
    """Why the criteria's values are unknown: subjects per criterion, variable and reason, as the source's
    derivation recorded them (collapsed; nothing for a source that records none)."""
    frame = state.unknown_reasons()
    data = state.scenario.data
    synthetic = data.kind == "synthetic"
    if frame.empty:
        return (f"<p class='te-muted' data-testid='unknown-reasons'>Why values are unknown is not kept for synthetic "
                f"populations above {SYNTHETIC_REASONS_UP_TO:,} subjects.</p>"
                if synthetic and data.n > SYNTHETIC_REASONS_UP_TO else "")
    report = state.load_report
    # a row left out as invalid is, to the derivation, a row that never was (a measurement value outside its
    # plausible range excepted: Cohort.unusable keeps it as measured without a usable value): say so rather than
    # let "never measured" pass for the whole truth
    caveat = ("<p class='te-muted' data-testid='reasons-caveat'>Rows left out as invalid (listed above) count here "
              "as not recorded, except measurement values outside their plausible range, which count as measured "
              "without a usable value.</p>" if report is not None and any(not v.made_unknown for v in report.invalid)
              else "")
    return (f"<details class='te-reasons' data-testid='unknown-reasons'><summary><b>Why values are unknown</b> "
            f"<span class='te-muted'>({'simulated with the synthetic population; ' if synthetic else ''}"
            f"{frame['variable'].nunique()} variables of the criteria; subjects of the whole "
            "screened cohort per reason, whichever step they reached)</span></summary>"
            f"{caveat}{html_table(frame)}</details>")


class DataPanel(w.VBox):
    """Synthetic population (size, seed) or a real dataset (path or upload)."""

    def __init__(self, state: ExplorerState):
        self._state = state
        data = state.scenario.data
        self._population = w.Dropdown(options=[("type 1 diabetes clinic", "t1d"), ("type 2 diabetes clinic", "t2d")],
                                      value=data.population, description="Population")
        self._n = w.BoundedIntText(value=data.n, min=10, max=10_000_000, step=1000, description="Subjects")
        self._seed = w.IntText(value=data.seed, description="Seed")
        # which engine evaluates the data: memory holds every status; DuckDB and Spark only the histogram
        self._engine = w.Dropdown(options=[("in memory (NumPy)", "memory"), ("DuckDB (one machine, larger than memory)",
                                                                              "duckdb"),
                                           ("Spark (local or a cluster)", "spark")],
                                  value=data.engine, description="Engine")
        self._master = w.Text(value=data.master, description="Spark master",
                              placeholder="local[*], spark://host:7077 or sc://host:15002",
                              layout=w.Layout(width="420px", display="" if data.engine == "spark" else "none"))
        self._engine.observe(lambda ch: setattr(self._master.layout, "display", "" if ch["new"] == "spark" else "none"),
                             "value")
        generate = w.Button(description="Use synthetic data", button_style="primary")
        generate.on_click(lambda _: guarded(state, lambda: state.select_data(DataSource(
            "synthetic", self._population.value, int(self._n.value), int(self._seed.value), **self._engine_choice()))))
        self._path = w.Text(placeholder="file or folder: CSV/Parquet, SDTM (dm.xpt ...), OMOP, CGM",
                            description="Path", layout=w.Layout(width="520px"),
                            tooltip=f"relative paths are read from {base_dir()}")
        load = w.Button(description="Load real data")
        load.on_click(lambda _: guarded(state, lambda: state.select_data(self._real_data(self._path.value.strip()))))
        self._upload = FilePicker(accept=".csv,.parquet,.xpt,.zip,.yaml,.xlsx,.txt", multiple=True,
                                  description="Upload data", testid="upload-data")
        # what the loaders do with an invalid value (a placeholder birth date, HbA1c 90 %): the API's choice
        self._on_invalid = w.Dropdown(options=ON_INVALID_CHOICES, value=data.on_invalid, description="Invalid values",
                                      layout=w.Layout(width="460px"), style={"description_width": "initial"})
        self._report = w.HTML()
        self._upload.on_upload(lambda saved: guarded(state, lambda: self._uploaded(saved())))
        super().__init__([
            w.HTML("<b>Synthetic cohort</b> <span class='te-muted'>(seeded, realistic clinic population)</span>"),
            w.HBox([self._population, self._n, self._seed, generate], layout=w.Layout(flex_flow="row wrap")),
            w.HTML("<b>Real data</b> <span class='te-muted'>(a file or folder the loaders read; see docs/data.md; "
                   f"relative paths are read from {html.escape(str(base_dir()))})</span>"),
            w.HBox([self._path, load, self._upload], layout=w.Layout(flex_flow="row wrap")),
            self._on_invalid,
            w.HTML("<b>Engine</b> <span class='te-muted'>DuckDB and Spark keep the subjects where the data lie and "
                   "send back only the count of each status pattern: funnel, impact, Shapley and overlap as in "
                   "memory; eligible ids are a query; table 1, threshold curves and comparisons need the memory "
                   "engine. A screening folder is read in place.</span>"),
            w.HBox([self._engine, self._master], layout=w.Layout(flex_flow="row wrap")),
            self._report,
        ])

    def _engine_choice(self) -> dict:
        master = self._master.value.strip() if self._engine.value == "spark" else ""
        return {"engine": self._engine.value, "master": master}

    def _uploaded(self, paths: list[Path]) -> None:
        self._state.allow(paths[0].parent)
        target = paths[0] if len(paths) == 1 else paths[0].parent
        self._state.select_data(self._real_data(str(target)))

    def _real_data(self, path: str) -> DataSource:
        return DataSource("path", path=path, on_invalid=self._on_invalid.value, **self._engine_choice())

    def refresh(self) -> None:
        self._report.value = data_report_html(self._state) + reasons_html(self._state)
        data = self._state.scenario.data
        for widget, value in ((self._engine, data.engine), (self._master, data.master),
                              (self._on_invalid, data.on_invalid)):
            if widget.value != value:
                widget.value = value
        if data.kind == "synthetic":
            for widget, value in ((self._population, data.population), (self._n, data.n), (self._seed, data.seed)):
                if widget.value != value:
                    widget.value = value
        elif self._path.value != data.path:
            self._path.value = data.path
