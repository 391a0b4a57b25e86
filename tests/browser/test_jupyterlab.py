"""The tour notebooks as a new user runs them: JupyterLab in Chromium, Run All, then look at the page.

No explorer shows its error banner, no cell shows a traceback, every plotly figure is drawn, and in 02 a
click on a criterion changes the explorer's funnel to the engine's count, and its chart draws without plotly.js
sent over the widget channel. Screenshots of 02 and 03 after
Run All go to test-artifacts/ (and, by scripts/screenshots.py's notes, into docs/figures).
"""

from __future__ import annotations

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

from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"
RUN_ALL_TIMEOUT = 240_000


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    # render every cell (JupyterLab 4 detaches cells scrolled out of view, which would hide figures)
    settings = tmp_path_factory.mktemp("lab-settings") / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    # never save: Run All must not write outputs into the committed notebooks
    docmanager = settings.parent / "docmanager-extension"
    docmanager.mkdir()
    (docmanager / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={ROOT}", "--expose-app-in-browser", "--LabApp.news_url=",
         f"--LabApp.user_settings_dir={settings.parents[1]}",
         # a workspace of its own: never reopen notebooks a previous session left open
         f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('lab-workspaces')}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=ROOT, env=os.environ, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/lab", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        raise RuntimeError(f"JupyterLab did not start; see {ARTIFACTS / 'jupyterlab.log'}")
    committed = {nb: nb.read_bytes() for nb in (ROOT / "notebooks").glob("*.ipynb")}
    try:
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
        changed = [nb.name for nb, text in committed.items() if nb.read_bytes() != text]
        for nb in changed:  # put them back, then fail: the test must never leave outputs in the repository
            nb.write_bytes(committed[nb])
        assert not changed, f"JupyterLab saved {changed}"


def run_all(page: Page, url: str, notebook: str) -> None:
    page.goto(f"{url}/lab/tree/notebooks/{notebook}?reset", timeout=RUN_ALL_TIMEOUT)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # done when every code cell has run (a number in its prompt) and the kernel is idle again
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
        " && [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".every(p => /\\[\\d+\\]/.test(p.textContent))",
        timeout=RUN_ALL_TIMEOUT, polling=500)
    page.wait_for_timeout(1500)  # the last widget messages


def assert_no_errors(page: Page, notebook: str) -> None:
    assert page.locator(".te-error").count() == 0, page.locator(".te-error").all_inner_texts()
    tracebacks = [t for t in page.locator(".jp-OutputArea-output").all_inner_texts() if "Traceback" in t]
    assert not tracebacks, f"{notebook}: {tracebacks[:1]}"


def assert_figures_drawn(page: Page, at_least: int) -> None:
    plots = page.locator(".jp-Notebook .js-plotly-plot")
    assert plots.count() >= at_least
    for i in range(plots.count()):
        plots.nth(i).scroll_into_view_if_needed()
        expect(plots.nth(i).locator(".main-svg").first).to_be_attached(timeout=30_000)


@pytest.mark.parametrize("notebook, figures", [("01_trial_definitions.ipynb", 0), ("03_outcomes.ipynb", 5)])
def test_run_all_shows_no_error_and_draws_every_figure(page: Page, lab_url, notebook, figures):
    run_all(page, lab_url, notebook)
    assert_no_errors(page, notebook)
    assert_figures_drawn(page, figures)
    page.screenshot(path=str(ARTIFACTS / f"notebook_{notebook.split('_')[0]}.png"))


def test_explorer_notebook_runs_and_its_controls_recount(page: Page, lab_url):
    frames = []  # the websocket messages' sizes
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload))))
    run_all(page, lab_url, "02_eligibility_explorer.ipynb")
    assert_no_errors(page, "02")
    assert_figures_drawn(page, 1)  # the CONSORT diagram
    explorer = page.locator(".te-app").filter(has=page.locator(".te-count")).first
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "notebook_02.png"))
    # the notebook left: E7 off, I2 >= 8.0 %, protection k = 11 (round); now switch E8 off in the page
    scenario = Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", 50_000, 0),
                        disabled=("E7", "E8"), settings=(("I2", "hba1c_min", 8.0),), min_cell=11, cell_method="round")
    explorer.get_by_role("checkbox", name=__import__("re").compile(r"^E8 ")).click()
    want = ExplorerState(scenario).shown_counts()
    expect(explorer.locator(".te-count b").first).to_have_text(want["eligible"], timeout=60_000)
    expect(explorer.locator(".te-funnel").first).to_have_attribute("data-final-eligible", want["eligible"])
    # an explorer's charts are drawn by explorer.app.plotly_loader (not plotly's lab extension) in JupyterLab too
    explorer.get_by_role("tab", name="Impact", exact=True).click()
    chart = explorer.locator(".js-plotly-plot >> visible=true").first
    expect(chart.locator(".main-svg").first).to_be_attached(timeout=60_000)
    # plotly.js never came over the widget channel (a 4.85 MB message ahead of the first chart): this page has
    # it from plotly's lab extension, and a page without it fetches the server's static file
    # (test_jupyterlab_plotly.py)
    assert max(frames) < 2_000_000, f"a {max(frames):,}-byte message reached the page"
