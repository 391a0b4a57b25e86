"""Screenshots of the dashboard for the docs: the criteria panel of both bundled trials at 1440x900 and
1024x768, and the first tab after opening. Starts its own Voila server (as the browser tests do).

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
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    process, url = serve(args.n)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for trial, population in (("NCT06196996", "t1d"), ("NCT01142050", "t2d")):
                for name, (width, height) in SIZES.items():
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(f"{url}/?trial={trial}&data=synthetic:{population}:{args.n}:0", timeout=120_000)
                    page.locator(".te-funnel").first.wait_for(timeout=120_000)
                    page.wait_for_timeout(1500)
                    path = out / f"criteria_{trial}_{name}.png"
                    page.screenshot(path=str(path))
                    print(path)
                    page.close()
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
