"""What a researcher sees in the browser changes, exactly as the engine says, when they click."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from dashboard_page import ARTIFACTS, BASE, assert_clean, download, eligible_count, expected, open_dashboard
from playwright.sync_api import Page, expect
from project_paths import TESTS

from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState

pytestmark = pytest.mark.browser


def test_page_renders_without_error_output(page: Page, voila_url):
    open_dashboard(page, voila_url)
    assert_clean(page)
    expect(eligible_count(page)).to_have_text(f"{expected(BASE)['eligible']:,}")
    expect(page.get_by_text("NCT06196996: Allogeneic Regenerative Islet")).to_be_visible()
    # every criterion of the trial has its toggle
    assert page.get_by_role("checkbox").count() >= 20
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=False)


def test_toggling_a_criterion_updates_funnel_and_count(page: Page, voila_url):
    open_dashboard(page, voila_url)
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    want = expected(BASE.with_enabled("E7", False))
    expect(eligible_count(page)).to_have_text(f"{want['eligible']:,}", timeout=20_000)
    # the funnel's bars end at the new pool
    expect(page.locator(".te-funnel .te-frow").last).to_contain_text(f"eligible {want['eligible']:,} ")
    # 19 steps and the screened row, and E7 still shown, greyed, as "off"
    expect(page.locator(".te-funnel .te-frow")).to_have_count(21)
    expect(page.locator(".te-funnel .te-frow.te-off")).to_contain_text("E7")
    # the funnel table (laid out when opened) has the same rows, E7 marked off, and ends at the new pool
    page.get_by_text("The same numbers as a table").click()
    funnel_rows = page.get_by_test_id("funnel-table").locator("tbody tr")
    expect(funnel_rows).to_have_count(21, timeout=10_000)  # screened + 19 enabled criteria + E7 marked off
    expect(funnel_rows.filter(has_text="switched off")).to_contain_text("E7")
    expect(funnel_rows.last).to_contain_text(f"{want['eligible']:,}")
    assert "off=E7" in page.url
    # and follows the next click while open
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    expect(funnel_rows).to_have_count(21, timeout=10_000)
    expect(funnel_rows.filter(has_text="switched off")).to_have_count(0, timeout=10_000)
    assert_clean(page)


def test_moving_a_threshold_updates_funnel_and_count(page: Page, voila_url):
    open_dashboard(page, voila_url)
    box = page.get_by_role("spinbutton", name="I1 Maximum age")
    box.fill("40")
    box.press("Enter")
    want = expected(BASE.with_setting("I1", "age_max", 40.0))
    assert want["eligible"] != expected(BASE)["eligible"]
    expect(eligible_count(page)).to_have_text(f"{want['eligible']:,}", timeout=20_000)
    expect(page).to_have_url(re.compile(r"set=I1\.age_max:40"), timeout=10_000)
    assert_clean(page)


def test_switching_trial(page: Page, voila_url):
    open_dashboard(page, voila_url)
    page.get_by_label("Trial", exact=True).select_option("NCT01142050")
    expect(page.get_by_text("NCT01142050: Stem Cell Therapy")).to_be_visible(timeout=30_000)
    want = expected(Scenario(trial="NCT01142050", data=replace(BASE.data, population="t2d")))
    expect(eligible_count(page)).to_have_text(f"{want['eligible']:,}", timeout=30_000)
    assert_clean(page)


def test_a_link_reopens_the_same_view(page: Page, voila_url):
    scenario = Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", 3000, 2)).with_enabled("I6", False)
    open_dashboard(page, voila_url, scenario.to_query())
    want = expected(scenario)
    expect(eligible_count(page)).to_have_text(f"{want['eligible']:,}", timeout=30_000)
    expect(page.get_by_role("checkbox", name=re.compile(r"^I6 "))).not_to_be_checked()


def test_export_produces_a_file(page: Page, voila_url, tmp_path):
    open_dashboard(page, voila_url)
    page.get_by_role("tab", name="Export & scenario").click()
    page.get_by_role("button", name="Funnel (CSV)").click()
    link = page.locator("a.te-download")
    expect(link).to_be_visible(timeout=10_000)
    text = download(page, link, tmp_path / "funnel.csv")
    assert text.splitlines()[0].startswith("step,criterion")
    assert f",{expected(BASE)['eligible']}," in text.splitlines()[-1]


def test_library_errors_are_readable_messages(page: Page, voila_url):
    open_dashboard(page, voila_url)
    page.get_by_placeholder("path/to/trial.yaml").fill("/nonexistent/trial.yaml")
    page.get_by_role("button", name="Open trial file").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("may not read trial files outside", timeout=10_000)
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    # the page still works after the error
    page.get_by_role("checkbox", name=re.compile(r"^E8 ")).click()
    want = expected(BASE.with_enabled("E8", False))
    expect(eligible_count(page)).to_have_text(f"{want['eligible']:,}", timeout=20_000)


def test_switching_to_a_small_real_dataset(page: Page, voila_url):
    folder = TESTS / "fixtures" / "cohort" / "shanghai"
    open_dashboard(page, voila_url)
    page.get_by_role("tab", name="Data").click()
    page.get_by_placeholder(re.compile("file or folder")).fill(str(folder))
    page.get_by_role("button", name="Load real data").click()
    expect(page.get_by_text(str(folder)).first).to_be_visible(timeout=30_000)
    # real data: small-cell protection switches on (k = 11, suppress), and the page says so
    want = ExplorerState(BASE.with_data(DataSource("path", path=str(folder)))).shown_counts()
    expect(page.locator(".te-count b").nth(2)).to_have_text(want["screened"], timeout=30_000)
    expect(eligible_count(page)).to_have_text(want["eligible"])
    expect(page.get_by_test_id("protection-on")).to_contain_text("counts below 11")
    expect(page.get_by_test_id("load-report")).to_contain_text("rows read")
    assert_clean(page)


def test_outcome_panel_responds_to_its_pickers(page: Page, voila_url, tmp_path):
    open_dashboard(page, voila_url)
    page.get_by_role("tab", name="Outcomes").click()
    panel = page.locator(".te-outcomes")
    y_title = panel.locator(".js-plotly-plot .ytitle").first
    expect(y_title).to_be_visible(timeout=60_000)
    before = y_title.text_content()
    outcome = page.get_by_label("Outcome", exact=True)
    options = [o for o in outcome.locator("option").all_text_contents()]
    current = outcome.locator("option:checked").text_content()
    target = next(o for o in options if o != current and "HbA1c" in o) if any(
        "HbA1c" in o for o in options if o != current) else next(o for o in options if o != current)
    outcome.select_option(label=target)
    expect(y_title).not_to_have_text(before, timeout=30_000)
    assert_clean(page)
    page.get_by_role("button", name="Outcome figure (HTML)").click()
    link = panel.locator("a.te-download")
    expect(link).to_be_visible(timeout=10_000)
    assert "plotly" in download(page, link, tmp_path / "figure.html")[:200_000].lower()
    page.screenshot(path=str(ARTIFACTS / "dashboard_outcomes.png"), full_page=False)
