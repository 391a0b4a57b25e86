"""What the browser tests share: the scenario the served dashboard opens with, and how to read its page."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from project_paths import ROOT

from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState

ARTIFACTS = ROOT / "test-artifacts"
BROWSER_N = 4000  # as in conftest.py: the size the served dashboard opens with
TIMEOUT = 90_000  # the first page starts a kernel and builds the cohort
BASE = Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", BROWSER_N, 0))


def expected(scenario: Scenario) -> dict:
    """The engine's answer for a scenario, computed here without a browser."""
    return ExplorerState(scenario).counts


def open_dashboard(page: Page, url: str, query: str = "") -> None:
    """Open the served dashboard and wait for all of its first screen: the counts and the funnel, then the
    criteria's rows, which the kernel sends once the page has drawn those (Dashboard's criteria_after_render)."""
    page.goto(f"{url}/{'?' + query if query else ''}", wait_until="commit", timeout=TIMEOUT)
    expect(page.locator(".te-count b").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".te-funnel").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".te-criterion-text").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".te-criteria-loading")).to_have_count(0, timeout=TIMEOUT)


def eligible_count(page: Page):
    return page.locator(".te-count b").first


def download(page: Page, link, path: Path) -> str:
    """Click a download link and return the text of the file it delivers."""
    with page.expect_download() as download_info:
        link.click()
    download_info.value.save_as(path)
    return path.read_text()


def assert_clean(page: Page) -> None:
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    assert page.locator(".te-error").count() == 0, page.locator(".te-error").all_inner_texts()




def open_tab(page: Page, name: str) -> None:
    """Open a results tab by its title (closed tabs draw when opened)."""
    page.get_by_role("tab", name=name, exact=True).click()
