"""plotly.js sent once to the page, and figures drawn by PlotlyFigure (explorer.app.plotly_loader), with
FigureOutput, which every view uses, on top of them. What the browser draws: tests/browser."""

from __future__ import annotations

import contextlib
import io

import plotly
import plotly.graph_objects as go
import pytest

from explorer.app import plotly_loader, widgets
from explorer.app.plotly_loader import PlotlyFigure, PlotlyLibrary, plotly_library
from explorer.app.widgets import PLOTLY_MIME, FigureOutput, plotly_bundle


@pytest.fixture(autouse=True)
def fresh_library(monkeypatch):
    """Each test starts as a new kernel does: no library made, nothing sent."""
    monkeypatch.setattr(plotly_loader, "_library", None)
    monkeypatch.delenv(plotly_loader.PLOTLY_JS_VARIABLE, raising=False)  # as in JupyterLab or a plain voila
    # outside a notebook, display() prints a repr
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def bar(values) -> go.Figure:
    return go.Figure(go.Bar(x=list(values), y=[f"c{i}" for i in range(len(values))], orientation="h"))


def test_the_library_sends_nothing_until_the_page_asks():
    library = PlotlyLibrary()
    assert library.source == b""  # the page's first render never waits for plotly.js
    library.requested = True  # what the browser sets once the page is idle
    assert library.source.startswith(b"/**\n* plotly.js v")
    assert b"window.Plotly = Plotly" in library.source[-200:]  # the script defines window.Plotly


def test_one_library_per_kernel_and_a_new_one_after_close():
    first = plotly_library()
    assert plotly_library() is first
    first.close()
    assert plotly_library() is not first


def test_a_figure_sends_the_library_before_it_draws():
    assert plotly_library().source == b""
    PlotlyFigure()
    assert plotly_library().source.startswith(b"/**\n* plotly.js v")


def test_figure_output_draws_each_new_figure_in_the_same_chart():
    out = FigureOutput()
    assert out.plot is None  # a view whose tab is never opened sends no figure
    out.show(bar([1, 2]))
    chart = out.plot
    assert chart.figure == plotly_bundle(bar([1, 2]))[PLOTLY_MIME]
    assert chart.figure["data"][0]["type"] == "bar"
    out.show(bar([3, 4, 5]))
    assert out.plot is chart  # redrawn in place (Plotly.react), not a new widget per figure
    assert chart.figure == plotly_bundle(bar([3, 4, 5]))[PLOTLY_MIME]
    assert plotly_library().source  # plotly.js went to the page with the first figure


def test_figure_output_shows_its_chart_again_after_a_message(monkeypatch):
    displayed = []
    monkeypatch.setattr(widgets, "display", lambda obj, **_: displayed.append(obj))
    out = FigureOutput()
    out.show(bar([1]))
    out.show(bar([2]))
    assert displayed == [out.plot]  # displayed once, then redrawn
    out.clear_output()  # a panel that says why it has nothing to draw clears the chart first
    out.show(bar([3]))
    assert displayed == [out.plot, out.plot]  # shown again after the message


def test_under_the_dashboard_server_a_figure_leaves_plotly_js_to_the_static_file(monkeypatch):
    """explorer.app.voila_server tells its kernels that the page can load plotly.js as a file: the kernel
    then sends nothing, and the page is told where the file is and for which plotly version."""
    monkeypatch.setenv(plotly_loader.PLOTLY_JS_VARIABLE, plotly_loader.PLOTLY_JS_PATH)
    PlotlyFigure()
    library = plotly_library()
    assert library.source == b""
    assert library.static_path == plotly_loader.PLOTLY_JS_PATH
    assert library.version == plotly.__version__
    library.requested = True  # the page could not load the file: the widget channel is the fallback
    assert library.source.startswith(b"/**\n* plotly.js v")


def test_elsewhere_the_page_has_no_static_file_to_load(monkeypatch):
    monkeypatch.delenv(plotly_loader.PLOTLY_JS_VARIABLE, raising=False)
    assert plotly_library().static_path == ""
