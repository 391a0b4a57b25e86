"""Screenshots of the dashboard for the docs: the criteria panel of both bundled trials at 1440x900 and
1024x768, and the analysis views (Thresholds, Compare, Representativeness, Relaxed criteria, the
sensitivity beside a threshold) on the islet trial with E7 switched off, and the Data tab's reasons for
unknown values. Starts its own Voila server
(as the browser tests do).

    .venv/bin/python scripts/screenshots.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SIZES = {"1440x900": (1440, 900), "1024x768": (1024, 768)}


def serve(n: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ready = Path(tempfile.mkdtemp()) / "ready"
    env = {**os.environ, "TRIAL_EXPLORER_N": str(n), "TRIAL_EXPLORER_READY_FILE": str(ready),
           "TRIAL_EXPLORER_BASE_DIR": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "voila", str(ROOT / "notebooks" / "dashboard.ipynb"),
                                f"--port={port}", "--no-browser"], cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not ready.exists():
        time.sleep(0.3)
    urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=10)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--only", choices=("criteria", "analysis"), help="one set of screenshots (default: both)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    process, url = serve(args.n)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for trial, population in (() if args.only == "analysis" else
                                      (("NCT06196996", "t1d"), ("NCT01142050", "t2d"))):
                for name, (width, height) in SIZES.items():
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(f"{url}/?trial={trial}&data=synthetic:{population}:{args.n}:0", timeout=120_000)
                    page.locator(".te-funnel").first.wait_for(timeout=120_000)
                    page.locator(".te-criterion-text").first.wait_for(timeout=120_000)  # the rows come after the funnel
                    page.wait_for_timeout(1500)
                    path = out / f"criteria_{trial}_{name}.png"
                    page.screenshot(path=str(path))
                    print(path)
                    page.close()
            if args.only != "criteria":
                analysis_views(browser, url, args.n, out)
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)


# tab -> (file, what to wait for): each analysis view once it has drawn
ANALYSIS_TABS = {
    "Thresholds": ("view_thresholds.png", ".js-plotly-plot"),
    "Compare": ("view_compare.png", "text=Funnels, step by step"),
    "Representativeness": ("view_representativeness.png", ".js-plotly-plot"),
    "Relaxed criteria": ("view_relaxed_outcomes.png", ".js-plotly-plot"),
}


def analysis_views(browser, url: str, n: int, out: Path) -> None:
    """The analysis views of issue 17 on NCT06196996 with E7 (smoking, alcohol or drug misuse) switched off."""
    # tall enough that each view fits: Chromium does not paint an element's part below a short viewport
    page = browser.new_page(viewport={"width": 1440, "height": 2400})
    page.goto(f"{url}/?trial=NCT06196996&data=synthetic:t1d:{n}:0&off=E7", timeout=120_000)
    page.locator(".te-funnel").first.wait_for(timeout=120_000)
    page.locator(".te-sens-I2-hba1c_min").click()
    caption = page.locator("[data-testid='param-sensitivity'][data-criterion='I2']")
    caption.wait_for(timeout=60_000)
    caption.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    row = page.locator(".te-sens").first.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    row.scroll_into_view_if_needed()
    path = out / "view_sensitivity_beside_threshold.png"
    row.screenshot(path=str(path))
    print(path)
    for tab, (name, ready) in ANALYSIS_TABS.items():
        page.get_by_role("tab", name=tab, exact=True).click()
        panel = page.locator(".widget-tab-contents > :not(.lm-mod-hidden)").first
        panel.locator(ready).first.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        path = out / name
        panel.screenshot(path=str(path))
        print(path)
    unknown_reasons_view(page, out)
    page.close()


def unknown_reasons_view(page, out: Path) -> None:
    """The Data tab's "Why values are unknown" table, opened (per criterion, variable and reason)."""
    page.get_by_role("tab", name="Data", exact=True).click()
    reasons = page.locator("details[data-testid='unknown-reasons']").first
    reasons.wait_for(timeout=120_000)
    reasons.locator("summary").click()
    page.wait_for_timeout(800)
    path = out / "view_unknown_reasons.png"
    reasons.screenshot(path=str(path))
    print(path)


if __name__ == "__main__":
    main()
