"""What a person sees while the dashboard works (issue 17): a loading indicator that appears for slow work
and clears, and a first chart on every results tab. Functional checks only: times are measured by
benchmarks/bench_dashboard.py, not asserted here."""

from __future__ import annotations

import re

import pytest
from dashboard_page import BASE, TIMEOUT, assert_clean, expected, open_dashboard
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# what each results tab shows first: a plotly chart, or a table where the tab has no chart
FIRST_SHOWN = {"Impact": ".js-plotly-plot", "Overlap": ".js-plotly-plot", "Baseline": ".te-table",
               "Thresholds": ".js-plotly-plot", "Compare": ".te-table", "Outcomes": ".js-plotly-plot"}


def test_a_slow_action_shows_the_loading_indicator_and_clears_it(page: Page, voila_url):
    open_dashboard(page, voila_url)
    busy = page.get_by_test_id("busy")
    expect(busy).to_have_count(0)  # nothing is running once the page has opened
    page.get_by_role("tab", name="Data", exact=True).click()
    page.get_by_role("spinbutton", name="Subjects").fill("100000")
    page.get_by_role("button", name="Use synthetic data").click()  # builds a 100,000-subject cohort: seconds
    expect(busy).to_be_visible(timeout=TIMEOUT)
    expect(busy).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator(".te-count b").nth(2)).to_have_text("100,000")
    assert_clean(page)


def test_every_results_tab_shows_its_first_chart(page: Page, voila_url):
    open_dashboard(page, voila_url)
    for tab, selector in FIRST_SHOWN.items():
        page.get_by_role("tab", name=tab, exact=True).click()
        shown = page.locator(f".te-app {selector} >> visible=true").first
        expect(shown, f"the {tab} tab shows nothing").to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("busy")).to_have_count(0, timeout=TIMEOUT)
    assert_clean(page)


def test_the_page_shows_its_own_indicator_until_the_kernel_answers(page: Page, voila_url):
    # the page-side indicator (explorer.app.pending): it follows the requests the page sends, so it shows
    # while the kernel builds a cohort, and clears once the kernel is idle again
    open_dashboard(page, voila_url)
    pending = page.get_by_test_id("pending")
    expect(pending).to_have_count(1)
    expect(pending).to_be_hidden()
    page.get_by_role("tab", name="Data", exact=True).click()
    page.get_by_role("spinbutton", name="Subjects").fill("60000")
    page.get_by_role("button", name="Use synthetic data").click()  # seconds of work in the kernel
    expect(pending).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".te-count b").nth(2)).to_have_text("60,000", timeout=TIMEOUT)
    expect(pending).to_be_hidden(timeout=TIMEOUT)
    assert_clean(page)


def test_input_the_kernel_has_nothing_to_answer_for_shows_no_indicator(page: Page, voila_url):
    # a click that sends nothing to the kernel (the header's text), and a quick toggle the kernel answers
    # at once: the indicator ends hidden either way, and the toggle's count is on screen
    open_dashboard(page, voila_url)
    pending = page.get_by_test_id("pending")
    expect(pending).to_have_count(1)
    page.locator(".te-count").first.click()
    page.wait_for_timeout(500)
    expect(pending).to_be_hidden()
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    want = expected(BASE.with_enabled("E7", False))
    expect(page.locator(".te-count b").first).to_have_text(f"{want['eligible']:,}", timeout=TIMEOUT)
    expect(pending).to_be_hidden(timeout=TIMEOUT)
    assert_clean(page)
