"""Real-browser tests: Playwright drives Debian's Chromium against a Voilà server these fixtures start.

Facts from ../shared/TESTING.md: never `playwright install`; launch /usr/bin/chromium with the flags
below; poll /voila/static/voila.js for readiness; an error in a cell still answers 200, so pages are
also checked for stderr outputs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from project_paths import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
# Small enough for a quick page, large enough that every funnel step has subjects
BROWSER_N = 4000

def pytest_collection_modifyitems(items):
    # A `pytestmark` in a conftest marks nothing, so the marker is put on each test under this folder here:
    # `-m "not browser"` then really leaves the browser tests out.
    here = Path(__file__).resolve().parent
    skip = None if Path(CHROMIUM).exists() else pytest.mark.skip(
        reason=f"{CHROMIUM} is missing (make test installs it with apt-get when it can)")
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if skip is not None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 1000}, "accept_downloads": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, ready: Path, timeout: float = 180) -> None:
    """Up, and its pre-heated kernel has run the notebook (explorer.app.dashboard.signal_ready):
    a page requested before that never connects its widgets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voila exited with {process.returncode}; see {log}")
        try:
            urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2)
            if ready.exists():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"voila did not get ready at {url} within {timeout} s; see {log}")


@pytest.fixture(scope="session")
def voila_url():
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "voila.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    ready = ARTIFACTS / "voila.ready"
    ready.unlink(missing_ok=True)
    env = {**os.environ, "TRIAL_EXPLORER_N": str(BROWSER_N), "TRIAL_EXPLORER_READY_FILE": str(ready),
           "TRIAL_EXPLORER_BASE_DIR": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "explorer.app.voila_server", str(ROOT / "notebooks" / "dashboard.ipynb"), f"--port={port}",
         "--no-browser", "--Voila.ip=127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path, ready)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
