"""The analysis views in a real browser: Thresholds, Compare, Representativeness, Relaxed criteria and the
sensitivity beside a threshold each show the counts the engine gives for the same scenario."""

from __future__ import annotations

import re

import pytest
from dashboard_page import BASE, TIMEOUT, assert_clean, eligible_count, open_dashboard, open_tab
from playwright.sync_api import Page, expect

from explorer.app.state import ExplorerState

pytestmark = pytest.mark.browser
EDITED = BASE.with_enabled("E7", False)  # E7 off: a B that adds subjects to the registered A


def test_thresholds_tab_shows_the_pool_and_count_of_the_chosen_cut_off(page: Page, voila_url):
    open_dashboard(page, voila_url, EDITED.to_query())
    want = ExplorerState(EDITED)
    expect(eligible_count(page)).to_have_text(want.shown_counts()["eligible"], timeout=TIMEOUT)
    open_tab(page, "Thresholds")
    page.get_by_role("combobox", name="Threshold").select_option(label="I2 Minimum HbA1c")
    result = want.sensitivity("I2", "hba1c_min")
    note = page.get_by_test_id("sensitivity-note")
    expect(note).to_contain_text(f"I2 Minimum HbA1c = {result.current:g}: {result.pool:,} subjects", timeout=TIMEOUT)
    assert result.at(result.current)["eligible"] == want.counts["eligible"]
    assert_clean(page)


def test_compare_tab_sets_the_registered_trial_beside_the_edits(page: Page, voila_url):
    open_dashboard(page, voila_url, EDITED.to_query())
    a, b = ExplorerState(BASE).counts, ExplorerState(EDITED).counts
    assert a["eligible"] != b["eligible"]
    open_tab(page, "Compare")
    table = page.locator(".te-app table").filter(has_text="B - A").first
    row = table.locator("tbody tr").filter(has=page.locator("td", has_text=re.compile(r"^eligible$")))
    expect(row).to_have_text(re.compile(rf"eligible\s*{a['eligible']:,}\s*{b['eligible']:,}\s*"
                                        rf"\+{b['eligible'] - a['eligible']:,}"), timeout=TIMEOUT)
    assert_clean(page)


def test_representativeness_tab_shows_the_engine_scores(page: Page, voila_url):
    open_dashboard(page, voila_url, EDITED.to_query())
    want = ExplorerState(EDITED).representativeness()
    open_tab(page, "Representativeness")
    gist = page.get_by_test_id("gist")
    expect(gist).to_contain_text(f"mGIST {want.mgist:.3f}", timeout=TIMEOUT)
    expect(page.get_by_test_id("gist-complete")).to_have_text(f"{want.complete:,}")
    expect(page.get_by_test_id("gist-screened")).to_have_text(f"{want.screened:,}")
    expect(gist).to_contain_text("not the weighted GIST 2.0")
    age = page.get_by_test_id("smd-table").locator("tbody tr").first
    row = want.smd.iloc[0]
    expect(age).to_contain_text(f"{row['eligible_n']:,}", timeout=TIMEOUT)
    expect(page.locator(".te-app .js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
    assert_clean(page)


def test_relaxed_outcomes_tab_counts_kept_and_added_and_says_simulated(page: Page, voila_url):
    open_dashboard(page, voila_url, EDITED.to_query())
    movement = ExplorerState(EDITED).comparison().movement.set_index("group").loc["eligible"]
    assert movement["only_b (moved in)"] > 0
    open_tab(page, "Relaxed criteria")
    groups = page.get_by_test_id("relaxed-groups")
    expect(groups.locator("tr").filter(has_text="kept (A and B)")).to_contain_text(
        f"{movement['in_both']:,}", timeout=TIMEOUT)
    expect(groups.locator("tr").filter(has_text="added by B")).to_contain_text(f"{movement['only_b (moved in)']:,}")
    expect(page.get_by_test_id("relaxed-source")).to_contain_text("simulated")
    expect(page.locator(".te-app .js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
    assert_clean(page)


def test_sensitivity_beside_a_threshold_opens_and_follows_other_criteria(page: Page, voila_url):
    open_dashboard(page, voila_url, EDITED.to_query())
    want = ExplorerState(EDITED)
    expect(eligible_count(page)).to_have_text(want.shown_counts()["eligible"], timeout=TIMEOUT)
    expect(page.get_by_test_id("param-sensitivity")).to_have_count(0)  # closed: nothing drawn
    page.locator(".te-sens-I2-hba1c_min").click()
    caption = page.locator("[data-testid='param-sensitivity'][data-criterion='I2']")
    expect(caption.get_by_test_id("sensitivity-eligible")).to_have_text(f"{want.counts['eligible']:,}",
                                                                         timeout=TIMEOUT)
    expect(caption.get_by_test_id("sensitivity-pool")).to_have_text(f"{want.sensitivity('I2', 'hba1c_min').pool:,}")
    # another criterion switched off: the open panel follows
    page.get_by_role("checkbox", name=re.compile(r"^E1 ")).click()
    after = ExplorerState(EDITED.with_enabled("E1", False))
    assert after.counts["eligible"] != want.counts["eligible"]
    expect(eligible_count(page)).to_have_text(after.shown_counts()["eligible"], timeout=TIMEOUT)
    expect(caption.get_by_test_id("sensitivity-eligible")).to_have_text(f"{after.counts['eligible']:,}")
    expect(caption.get_by_test_id("sensitivity-pool")).to_have_text(
        f"{after.sensitivity('I2', 'hba1c_min').pool:,}")
    assert_clean(page)
