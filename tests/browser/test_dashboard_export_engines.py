"""In the browser: the "Python code" export reproduces what the page shows, and a DuckDB source gives the
counts of the memory engine, edits included (each checked against ExplorerState computed here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from dashboard_page import BASE, TIMEOUT, assert_clean, download, eligible_count, open_dashboard, open_tab
from playwright.sync_api import Page, expect

from explorer.app.scenario import DataSource
from explorer.app.state import ExplorerState

# runs the downloaded file unmodified and prints the counts it leaves behind
RUNNER = "import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])['counts']))"


def test_the_python_export_reproduces_the_page(page: Page, voila_url, tmp_path):
    open_dashboard(page, voila_url)
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    scenario = BASE.with_enabled("E7", False)
    want = ExplorerState(scenario)
    expect(eligible_count(page)).to_have_text(want.shown_counts()["eligible"], timeout=TIMEOUT)
    open_tab(page, "Export & scenario")
    page.get_by_role("button", name="Python code (.py)").click()
    link = page.locator("a.te-download")
    expect(link).to_be_visible(timeout=TIMEOUT)
    script = tmp_path / "scenario.py"
    download(page, link, script)
    done = subprocess.run([sys.executable, "-c", RUNNER, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts == {k: int(v) for k, v in want.counts.items()}
    assert_clean(page)


def test_a_duckdb_source_gives_the_memory_counts(page: Page, voila_url):
    open_dashboard(page, voila_url)
    open_tab(page, "Data")
    page.get_by_label("Engine").select_option(label="DuckDB (one machine, larger than memory)")
    page.get_by_role("button", name="Use synthetic data").click()
    expect(page).to_have_url(re.compile(r"engine(=|%3D)duckdb"), timeout=TIMEOUT)  # the page's scenario is on DuckDB
    duck = BASE.with_data(DataSource("synthetic", "t1d", BASE.data.n, BASE.data.seed, engine="duckdb"))
    memory = ExplorerState(BASE)
    expect(eligible_count(page)).to_have_text(memory.shown_counts()["eligible"], timeout=TIMEOUT)
    assert ExplorerState(duck).counts == memory.counts  # the engine behind the page agrees with memory here too
    open_tab(page, "Eligibility")
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    edited = ExplorerState(BASE.with_enabled("E7", False))
    expect(eligible_count(page)).to_have_text(edited.shown_counts()["eligible"], timeout=TIMEOUT)
    expect(page.locator(".te-count b").nth(2)).to_have_text(edited.shown_counts()["screened"], timeout=TIMEOUT)
    assert_clean(page)
