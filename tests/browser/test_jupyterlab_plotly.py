"""A notebook's first chart in JupyterLab gets plotly.js as the server's static file, not over the widget channel.

JupyterLab started with the package installed loads explorer.app.plotly_static (a server extension), which serves
plotly.min.js at `<base URL>voila/trial-explorer/plotly.min.js` and tells the kernels so; PlotlyLibrary then
has the page fetch it by HTTP (cached by the browser) instead of sending 4.85 MB over the kernel's websocket
before the first chart. Plotly's own lab extension, which would bring plotly.js with it, is switched off for
this server (a page config of its own), so the test sees what a lab without it gets. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect
from project_paths import ROOT

from explorer.app.plotly_loader import PLOTLY_JS_PATH
from explorer.app.plotly_static import PLOTLY_JS

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "chart", "metadata": {}, "outputs": [],
               "source": "import plotly.graph_objects as go\nfrom explorer.app.widgets import FigureOutput\n"
                         "out = FigureOutput()\nout.show(go.Figure(go.Bar(x=[3, 1, 2], y=['a', 'b', 'c'])))\nout"}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a folder with one notebook, plotly's lab extension disabled in a config folder of its own
    (JUPYTER_CONFIG_DIR: the environment's configuration, with the package's server extension, still applies)."""
    root, config = tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-config")
    (root / "chart.ipynb").write_text(json.dumps(NOTEBOOK))
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {"jupyterlab-plotly": True}}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab_plotly.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", "--expose-app-in-browser", "--LabApp.news_url=",
         f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('lab-workspaces')}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=ROOT, env={**os.environ, "JUPYTER_CONFIG_DIR": str(config)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/lab", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, f"see {log.name}"
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


def test_the_first_chart_fetches_plotly_js_by_http_and_draws(page: Page, lab):
    fetched, frames = [], []
    page.on("response", lambda r: fetched.append((r.status, len(r.body()))) if f"/voila/{PLOTLY_JS_PATH}?v=" in r.url
            else None)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))))
    page.goto(f"{lab}/lab/tree/chart.ipynb?reset", timeout=120_000)
    kernel = "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
    page.wait_for_function(f"() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           f" && window.jupyterapp.shell.currentWidget.sessionContext.session && {kernel}"
                           f" && {kernel}.status === 'idle'", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    expect(page.locator(".jp-Notebook .js-plotly-plot .main-svg").first).to_be_attached(timeout=120_000)
    assert page.locator(".jp-Notebook .js-plotly-plot .bars path").count() == 3  # the figure itself drew
    assert fetched == [(200, PLOTLY_JS.stat().st_size)], fetched
    assert max(frames) < 2_000_000, f"a {max(frames):,}-byte message reached the page"
