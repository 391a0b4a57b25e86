"""In the browser: the dashboard switched to a Spark source (local[*]) by the Data tab's engine choice gives the
memory engine's counts, before and after an edit (each checked against ExplorerState computed here)."""

from __future__ import annotations

import re

from dashboard_page import BASE, TIMEOUT, assert_clean, eligible_count, open_dashboard, open_tab
from playwright.sync_api import Page, expect

from explorer.app.scenario import DataSource
from explorer.app.state import ExplorerState

# the page's kernel starts a Spark session of its own (a JVM) and runs its first query: slower than a count
SPARK_TIMEOUT = 4 * TIMEOUT


def test_a_spark_source_gives_the_memory_counts_through_an_edit(spark, page: Page, voila_url):
    open_dashboard(page, voila_url)
    open_tab(page, "Data")
    page.get_by_label("Engine").select_option(label="Spark (local or a cluster)")
    expect(page.get_by_label("Spark master")).to_be_visible(timeout=TIMEOUT)  # empty: local[*]
    page.get_by_role("button", name="Use synthetic data").click()
    expect(page).to_have_url(re.compile(r"engine(=|%3D)spark"), timeout=SPARK_TIMEOUT)
    memory = ExplorerState(BASE)
    expect(eligible_count(page)).to_have_text(memory.shown_counts()["eligible"], timeout=SPARK_TIMEOUT)
    # the engine behind the page, here on the suite's shared Spark session, agrees with memory in full
    on_spark = ExplorerState(BASE.with_data(DataSource("synthetic", "t1d", BASE.data.n, BASE.data.seed,
                                                       engine="spark")))
    assert on_spark.counts == memory.counts
    open_tab(page, "Eligibility")
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    edited = ExplorerState(BASE.with_enabled("E7", False))
    assert edited.shown_counts()["eligible"] != memory.shown_counts()["eligible"]  # the edit changes the page
    expect(eligible_count(page)).to_have_text(edited.shown_counts()["eligible"], timeout=TIMEOUT)
    expect(page.locator(".te-count b").nth(2)).to_have_text(edited.shown_counts()["screened"], timeout=TIMEOUT)
    on_spark.toggle("E7", False)
    assert on_spark.counts == edited.counts
    assert_clean(page)
