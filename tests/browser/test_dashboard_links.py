"""Links and protection in a real browser: an address read from the page reopens exactly the same view,
and small-cell protection never shows an error or an unprotected count."""

from __future__ import annotations

import random
import re

import pytest
from dashboard_page import BASE, TIMEOUT, assert_clean, open_dashboard
from playwright.sync_api import Page, expect

from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.trial import load_trial

pytestmark = pytest.mark.browser
EDITS = 20
METHOD_LABELS = {"suppress": "suppress small counts only", "round": "suppress small counts, round the rest to 5"}
TRIALS = {t: load_trial(t) for t in ("NCT06196996", "NCT01142050")}


def view_of(page: Page) -> dict:
    """What the page shows: the header counts, the funnel's rows and every control's value."""
    page.wait_for_function("() => !document.querySelector('.te-concealed')", timeout=TIMEOUT)
    trial = re.match(r"(\S+):", page.locator(".te-title").first.inner_text()).group(1)
    checkboxes = {}
    for c in TRIALS[trial].criteria:
        checkboxes[c.id] = page.get_by_role("checkbox", name=re.compile(rf"^{c.id} ")).is_checked()
    thresholds = {}
    for c in TRIALS[trial].criteria:
        for name, p in c.parameters.items():
            thresholds[f"{c.id}.{name}"] = float(page.get_by_role("spinbutton", name=f"{c.id} {p.label or name}")
                                                 .input_value())
    return {"trial": trial, "counts": page.locator(".te-count b").all_inner_texts(),
            "funnel": page.locator(".te-funnel .te-frow").all_inner_texts(),
            "checkboxes": checkboxes, "thresholds": thresholds}


def steady_view(page: Page, tries: int = 20) -> dict:
    """The view once it stops changing: widget updates of one edit arrive as several messages."""
    last = view_of(page)
    for _ in range(tries):
        page.wait_for_timeout(400)
        now = view_of(page)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the page kept changing: {last}")


def settled(page: Page, before: str) -> None:
    """Wait until an edit has reached the page: the address changed and no count is pending."""
    page.wait_for_function("(before) => location.href !== before", arg=before, timeout=TIMEOUT)
    page.wait_for_timeout(300)


def test_every_address_reopens_the_same_view(page: Page, voila_url, context):
    rng = random.Random(20261206)
    open_dashboard(page, voila_url)
    fresh = context.new_page()
    edits = 0
    while edits < EDITS:
        view = view_of(page)
        trial = TRIALS[view["trial"]]
        before = page.evaluate("location.href")
        action = rng.choice(["toggle", "toggle", "threshold", "threshold", "trial"])
        if action == "toggle":
            criterion = rng.choice(trial.criteria)
            page.get_by_role("checkbox", name=re.compile(rf"^{criterion.id} ")).click()
        elif action == "threshold":
            c = rng.choice([c for c in trial.criteria if c.parameters])
            name, p = rng.choice(sorted(c.parameters.items()))
            value = round(rng.uniform(p.min, p.max) / (p.step or 1)) * (p.step or 1)
            value = min(max(value, p.min), p.max)
            if value == view["thresholds"][f"{c.id}.{name}"]:
                continue
            box = page.get_by_role("spinbutton", name=f"{c.id} {p.label or name}")
            box.fill(f"{value:g}")
            box.press("Enter")
        else:
            other = next(t for t in TRIALS if t != view["trial"])
            page.get_by_label("Trial", exact=True).select_option(other)
        settled(page, before)
        edits += 1
        address = page.evaluate("location.href")
        shown = steady_view(page)
        fresh.goto(address, wait_until="commit", timeout=TIMEOUT)
        expect(fresh.locator(".te-funnel").first).to_be_visible(timeout=TIMEOUT)
        expect(fresh.locator(".te-criterion-text").first).to_be_visible(timeout=TIMEOUT)  # sent after the funnel
        expect(fresh.locator(".te-count b").first).to_have_text(shown["counts"][0], timeout=TIMEOUT)
        reopened = steady_view(fresh)
        assert reopened == shown, f"edit {edits} ({action}): {address} reopens another view"
        query = address.split("?", 1)[1]
        want = ExplorerState(Scenario.from_query(query)).shown_counts()
        assert reopened["counts"] == [want["eligible"], want["possibly_eligible"], want["screened"]]
    assert_clean(page)


@pytest.mark.parametrize("method", ["suppress", "round"])
def test_protection_on_the_synthetic_view(page: Page, voila_url, method):
    open_dashboard(page, voila_url)
    page.get_by_role("tab", name="Export & scenario").click()
    page.get_by_label("Method").select_option(label=METHOD_LABELS[method])
    box = page.get_by_role("spinbutton", name="Suppress counts below (0 = off)")
    box.fill("11")
    box.press("Enter")
    expect(page.get_by_test_id("protection-on")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="Eligibility").click()
    want = ExplorerState(Scenario(trial=BASE.trial, data=BASE.data, min_cell=11, cell_method=method))
    expect(page.locator(".te-count b").first).to_have_text(want.shown_counts()["eligible"], timeout=TIMEOUT)
    numbers = [int(n.replace(",", "")) for n in re.findall(r"(?<![<\d.])(\d[\d,]*)(?![\d.%])",
               " ".join(page.locator(".te-funnel .te-ftext, .te-funnel .te-fexcl").all_inner_texts()))]
    assert numbers and [n for n in numbers if 0 < n < 11] == []
    assert_clean(page)


def test_a_protected_link_to_real_data_opens_its_own_funnel(page: Page, voila_url):
    folder = "tests/fixtures/cohort/shanghai"  # relative: read from the folder the dashboard started in
    scenario = Scenario(trial="NCT01142050", data=DataSource("path", path=folder), min_cell=5,
                        cell_method="suppress")
    open_dashboard(page, voila_url, scenario.to_query())
    expect(page.get_by_text("NCT01142050: Stem Cell Therapy")).to_be_visible(timeout=TIMEOUT)
    want = ExplorerState(scenario)
    expect(page.locator(".te-count b").nth(2)).to_have_text(want.shown_counts()["screened"], timeout=TIMEOUT)
    # the funnel is this trial's on this data, not the default scenario's
    rows = page.locator(".te-funnel .te-frow")
    expect(rows).to_have_count(len(want.funnel))
    expect(rows.nth(1)).to_contain_text(want.funnel["label"].iloc[1])
    assert_clean(page)


def test_edited_thresholds_show_in_labels_and_clamping_is_said(page: Page, voila_url):
    open_dashboard(page, voila_url)
    box = page.get_by_role("spinbutton", name="I2 Minimum HbA1c")
    box.fill("8")
    box.press("Enter")
    expect(page.locator(".te-funnel")).to_contain_text("HbA1c >= 8% or TIR < 70%", timeout=TIMEOUT)
    age = page.get_by_role("spinbutton", name="I1 Maximum age")
    age.fill("500")
    age.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("500 is outside the allowed range", timeout=TIMEOUT)
    expect(age).to_have_value("120", timeout=TIMEOUT)


def test_threshold_and_compare_tabs_show_the_engine_counts(page: Page, voila_url):
    open_dashboard(page, voila_url)
    page.get_by_role("checkbox", name=re.compile(r"^E7 ")).click()
    scenario = BASE.with_enabled("E7", False)
    want = ExplorerState(scenario)
    expect(page.locator(".te-count b").first).to_have_text(want.shown_counts()["eligible"], timeout=TIMEOUT)
    page.get_by_role("tab", name="Thresholds").click()
    expect(page.get_by_test_id("sensitivity-note")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".te-app .js-plotly-plot").first).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="Compare").click()
    table = page.locator(".te-app table").filter(has_text="B - A").first
    expect(table).to_be_visible(timeout=TIMEOUT)
    registered = ExplorerState(BASE).counts
    row = table.locator("tr").filter(has_text="possibly eligible")
    eligible_row = table.locator("tbody tr").nth(1)
    expect(eligible_row).to_contain_text(f"{registered['eligible']:,}")
    expect(eligible_row).to_contain_text(f"{want.counts['eligible']:,}")
    assert row.count() == 1
