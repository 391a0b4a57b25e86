"""Small widget helpers every view uses: the page-address sync widget, download links, HTML tables,
guarded callbacks and the figure output."""

from __future__ import annotations

import base64
import html
import json
from collections import namedtuple
from functools import lru_cache

import anywidget
import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import traitlets
from IPython.display import display

from explorer.app.plotly_loader import PlotlyFigure
from explorer.engine.idle import IDLE
from explorer.errors import ExplorerError


class UrlSync(anywidget.AnyWidget):
    """Keeps the browser's address in step with the scenario, and reports the address it was opened with.

    `initial_query` arrives from the browser when the widget is first shown (so a shared link reopens its
    view, also with preheated Voilà kernels, where the kernel cannot see the request); setting `query`
    rewrites the address bar without reloading the page.
    """

    _esm = """
    function render({ model, el }) {
      el.style.display = "none";
      if (!model.get("initial_query_sent")) {
        model.set("initial_query", window.location.search.replace(/^\\?/, ""));
        model.set("initial_query_sent", true);
        model.save_changes();
      }
      const write = () => {
        const q = model.get("query");
        if (!q) return;
        const url = window.location.pathname + "?" + q + window.location.hash;
        try { window.history.replaceState(null, "", url); } catch (e) { /* sandboxed frame */ }
      };
      model.on("change:query", write);
    }
    export default { render };
    """
    query = traitlets.Unicode("").tag(sync=True)
    initial_query = traitlets.Unicode("").tag(sync=True)
    initial_query_sent = traitlets.Bool(False).tag(sync=True)


def download_link(content: str | bytes, filename: str, mime: str, label: str | None = None) -> str:
    """An <a download> link carrying the file as a data URI (works in JupyterLab and Voilà alike)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    encoded = base64.b64encode(data).decode("ascii")
    text = html.escape(label or f"Download {filename}")
    return (f'<a class="te-download" download="{html.escape(filename)}" href="data:{mime};base64,{encoded}">'
            f"{text}</a> <span class='te-muted'>({len(data):,} bytes)</span>")


def figure_download(fig, stem: str, fmt: str) -> str:
    """A download link for a plotly figure as self-contained HTML or as PNG (kaleido + Chromium)."""
    from explorer.errors import ExplorerError

    if fmt == "html":
        return download_link(fig.to_html(include_plotlyjs=True, full_html=True), f"{stem}.html", "text/html")
    try:
        png = fig.to_image(format="png", width=1100, scale=1)
    except Exception as err:  # kaleido needs a Chromium; say what to do instead
        raise ExplorerError(f"PNG export failed ({err}); install chromium or export HTML") from None
    return download_link(png, f"{stem}.png", "image/png")


def frame_rows(frame: pd.DataFrame) -> list[tuple]:
    """A frame's rows as namedtuples of Python values, as itertuples(index=False) gives them.

    One conversion of the whole frame, and one row type per set of columns: pandas 3's itertuples takes
    every column apart (about 0.1 ms each) and builds a new namedtuple class per call, which made the
    funnel's redraw most of a click's kernel time (issue 17).
    """
    return list(map(_row_type(tuple(map(str, frame.columns)))._make, frame.to_numpy(dtype=object).tolist()))


@lru_cache(maxsize=64)
def _row_type(columns: tuple[str, ...]) -> type:
    return namedtuple("Row", columns, rename=True)


def html_table(frame: pd.DataFrame, *, classes: str = "te-table", numeric_digits: int = 1,
               max_rows: int = 200) -> str:
    """A compact HTML table: integers with thousands separators, NA shown as given by the caller."""
    more = f"<p class='te-muted'>{len(frame) - max_rows} more rows not shown</p>" if len(frame) > max_rows else ""
    return rows_table(list(frame.columns), frame_rows(frame.head(max_rows)), classes=classes,
                      numeric_digits=numeric_digits) + more


def rows_table(columns: list, rows: list[tuple], *, classes: str = "te-table", numeric_digits: int = 1) -> str:
    """html_table of rows already taken out of a frame (or built as tuples): the same cells."""
    def fmt(value) -> str:
        if value is None or (not isinstance(value, (str, tuple)) and pd.isna(value)):
            return "&ndash;"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int) or (hasattr(value, "is_integer") and float(value).is_integer() and abs(value) > 100):
            return f"{int(value):,}"
        if isinstance(value, float):
            return f"{value:,.{numeric_digits}f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table class='{classes}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
<style>
.te-app { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.te-title { font-size: 1.35em; font-weight: 600; margin: 0; }
.te-subtitle { color: #555; margin: 2px 0 0 0; }
.te-muted { color: #666; font-size: 0.9em; }
.te-count { display: inline-block; margin-right: 18px; }
.te-count b { font-size: 1.6em; color: #0072B2; }
.te-count.possibly b { color: #3b8fc4; }
.te-count.screened b { color: #333; }
.te-error { background: #fde8e4; border-left: 4px solid #D55E00; padding: 6px 10px; color: #7a2400; white-space: pre-wrap; }
.te-badge { display: inline-block; font-size: 0.75em; padding: 1px 6px; border-radius: 8px; color: white; margin-right: 4px; white-space: nowrap; }
.te-badge.inclusion { background: #0072B2; } .te-badge.exclusion { background: #D55E00; }
.te-badge.assumed { background: #7F7F7F; }
.te-criterion-text { font-size: 0.85em; color: #444; line-height: 1.3; margin: 0 0 2px 26px; }
.te-table { border-collapse: collapse; font-size: 0.9em; }
.te-table th, .te-table td { padding: 3px 8px; border-bottom: 1px solid #e3e3e3; text-align: right; }
.te-table th { background: #f4f6f8; position: sticky; top: 0; }
.te-table td:first-child, .te-table th:first-child, .te-table td:nth-child(2) { text-align: left; }
.te-notice { background: #fff6dd; border-left: 4px solid #E69F00; padding: 6px 10px; color: #5c4200; }
.te-download { font-weight: 600; }
.te-funnel { margin: 6px 0 12px 0; font-size: 0.9em; }
.te-frow { display: flex; align-items: center; margin: 3px 0; }
.te-flabel { width: 34%; padding-right: 8px; text-align: right; line-height: 1.15;
             overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.te-fcell { flex: 1 1 auto; min-width: 0; }
.te-fbar { position: relative; height: 12px; background: #f4f6f8; display: flex; }
.te-fel { background: #0072B2; height: 100%; display: inline-block; }
.te-fpo { background: #56B4E9; height: 100%; display: inline-block; }
.te-ftext { color: #1a1a1a; font-size: 0.88em; line-height: 1.25; white-space: normal; }
.te-fexcl { width: 64px; flex: 0 0 64px; text-align: right; padding-left: 6px; }
.te-key { display: inline-block; width: 12px; height: 12px; vertical-align: middle; }
.te-flegend { margin-bottom: 4px; }
.te-frow.te-off { color: #767676; }
.te-frow.te-off .te-fbar { background: repeating-linear-gradient(45deg, #f4f6f8, #f4f6f8 6px, #e9ecef 6px, #e9ecef 12px); }
.te-frow.te-off .te-ftext { color: #595959; font-style: italic; }
.te-param .widget-label { white-space: normal !important; line-height: 1.15; height: auto; overflow: visible; }
.te-badge.te-protection { background: #6b3fa0; font-size: 0.8em; }
/* the loading indicator appears 80 ms after the kernel starts work, so that anything slower than 100 ms
   shows it and a quick update never flickers (explorer.app.views.SummaryBar.show_busy) */
.te-busy { visibility: hidden; animation: te-busy-show 0s linear 80ms forwards; color: #0072B2; font-weight: 600; }
.te-busy::before { content: ""; display: inline-block; width: 0.8em; height: 0.8em; margin-right: 4px;
                   vertical-align: -1px; border: 2px solid #0072B2; border-right-color: transparent;
                   border-radius: 50%; animation: te-spin 0.8s linear infinite; }
@keyframes te-busy-show { to { visibility: visible; } }
@keyframes te-spin { to { transform: rotate(360deg); } }
/* the counts stay in view while the criteria scroll */
.te-summary { position: sticky; top: 0; z-index: 20; background: white; border-bottom: 1px solid #e3e3e3; }
</style>
"""


def guarded(state, action):
    """Run a view callback; anything unexpected becomes the state's `error`, a readable message, never a dead widget.

    A callback is what the visitor waits for: the kernel's background work waits meanwhile (explorer.engine.idle);
    a query in flight is let finish, the engine interrupts it if it needs to."""
    try:
        with IDLE.foreground(interrupt=False):
            action()
    except ExplorerError as err:
        state.error = str(err)
    except Exception as err:  # a bug: say so in the page instead of a traceback in the log
        state.error = f"Something went wrong ({type(err).__name__}: {err}). The previous results are kept."


PLOTLY_MIME = "application/vnd.plotly.v1+json"


def plotly_bundle(fig: go.Figure) -> dict:
    """The figure as the plotly mimetype bundle, built without `plotly.io.show`.

    `display(fig)` goes through plotly.io's renderers, whose first use imports nbformat and with it
    jsonschema, which compiles dozens of grammars on import: 20-45 s before the first chart of a session
    (issue 17). The bundle is the same one the "plotly_mimetype" renderer sends.
    """
    return {PLOTLY_MIME: json.loads(pio.to_json(fig, validate=False, remove_uids=False))}


class FigureOutput(w.Output):
    """Shows a plotly figure through one PlotlyFigure (explorer.app.plotly_loader), which a new figure
    redraws in place; as an Output it can show a message instead (clear_output, then display)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plot: PlotlyFigure | None = None  # the chart, made at the first figure
        self._showing = False

    def show(self, fig: go.Figure) -> None:
        if self.plot is None:
            self.plot = PlotlyFigure()
        self.plot.figure = plotly_bundle(fig)[PLOTLY_MIME]
        if not self._showing:
            with self:
                self.clear_output(wait=True)
                display(self.plot)
            self._showing = True

    def clear_output(self, *args, **kwargs) -> None:
        self._showing = False
        super().clear_output(*args, **kwargs)
