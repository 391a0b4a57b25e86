"""The dashboard's Voilà (explorer.app.voila_server): plotly.js as one cacheable file, gzip, nothing else of
plotly's package folder served. A real server, without a pre-heated kernel, so that no notebook runs."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import plotly
import plotly.offline
import pytest
from project_paths import ROOT

from explorer.app.plotly_loader import PLOTLY_JS_PATH

PLOTLY_URL = f"/voila/{PLOTLY_JS_PATH}?v={plotly.__version__}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*options: str):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "explorer.app.voila_server", str(ROOT / "notebooks" / "dashboard.ipynb"),
         f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1", "--VoilaConfiguration.preheat_kernel=False",
         *options], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2)
            return process, url
        except OSError:
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def server():
    process, url = _serve()
    yield url
    _stop(process)


def _get(url: str, **headers) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def test_plotly_js_is_served_with_a_long_max_age_and_an_etag(server):
    status, headers, body = _get(server + PLOTLY_URL)
    assert status == 200
    assert body.decode() == plotly.offline.get_plotlyjs()  # the bundle the widget channel would send
    assert int(headers["Cache-Control"].removeprefix("max-age=")) >= 365 * 24 * 3600
    assert _get(server + PLOTLY_URL, **{"If-None-Match": headers["Etag"]})[0] == 304  # revalidation sends nothing


def test_only_plotly_js_is_served_from_the_package_folder(server):
    for other in ("widgetbundle.js", "../__init__.py", "datasets/iris.csv.gz", "plotly.min.jsx"):
        assert _get(f"{server}/voila/trial-explorer/{other}")[0] != 200, other


def test_compressible_responses_are_gzipped(server):
    status, headers, body = _get(f"{server}/voila/static/voila.js", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert len(gzip.decompress(body)) > 2 * len(body)


def test_compression_can_be_turned_off():
    process, url = _serve("--DashboardVoila.compress=False")
    try:
        _, headers, _ = _get(f"{url}/voila/static/voila.js", **{"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in headers
    finally:
        _stop(process)


def test_lab_extension_files_asked_for_by_content_hash_stay_cached(server):
    """Voilà sends every lab extension file with "no-cache"; one whose address carries its hash cannot
    change, so the dashboard's server lets the browser keep it (a reload then asks for none of them)."""
    chunk = next((Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"
                  / "static").glob("*.*.js"))
    base = f"{server}/voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/{chunk.name}"
    status, headers, _ = _get(f"{base}?v={chunk.name.split('.')[1]}")
    assert status == 200 and int(headers["Cache-Control"].removeprefix("max-age=")) >= 365 * 24 * 3600, headers
    assert _get(base)[1]["Cache-Control"] == "no-cache"  # without its hash it may change: revalidated
