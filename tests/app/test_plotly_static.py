"""plotly.js as a static file from JupyterLab's server too (explorer.app.plotly_static, a server extension the
package enables), at the address PlotlyLibrary asks for: a real Jupyter server started as JupyterLab starts it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request

import plotly
import plotly.offline
import pytest
import tornado.web
from project_paths import ROOT

from explorer.app import plotly_static
from explorer.app.plotly_loader import PLOTLY_JS_PATH, PLOTLY_JS_VARIABLE

CONFIG = ROOT / "jupyter-config" / "jupyter_server_config.d" / "trial_explorer.json"


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    """`jupyter server` with the environment's own configuration (where installing the package put ours)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.port_retries=0", "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
         "--ServerApp.base_url=/lab-base/", f"--ServerApp.root_dir={tmp_path_factory.mktemp('root')}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/lab-base"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except (OSError, http.client.HTTPException):
                assert process.poll() is None and time.monotonic() < deadline, "the Jupyter server did not start"
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_jupyter_servers_serve_plotly_js_where_the_page_asks_under_their_base_url(jupyter_server):
    status, headers, body = _get(f"{jupyter_server}/voila/{PLOTLY_JS_PATH}?v={plotly.__version__}")
    assert status == 200
    assert body.decode() == plotly.offline.get_plotlyjs()  # the bundle the widget channel would send
    assert int(headers["Cache-Control"].removeprefix("max-age=")) >= 365 * 24 * 3600
    assert _get(f"{jupyter_server}/voila/trial-explorer/plotly.min.jsx")[0] == 404  # that one file only


def test_the_package_enables_the_extension_when_installed():
    """A wheel installs the config file (pyproject's data-files); an editable install has `make setup` copy it."""
    assert json.loads(CONFIG.read_text()) == {"ServerApp": {"jpserver_extensions": {"explorer.app.plotly_static": True}}}
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data_files["etc/jupyter/jupyter_server_config.d"] == [str(CONFIG.relative_to(ROOT))]
    assert str(CONFIG.relative_to(ROOT)) in (ROOT / "Makefile").read_text()
    assert plotly_static._jupyter_server_extension_points() == [{"module": "explorer.app.plotly_static"}]


class _Log:
    def info(self, *args) -> None:
        pass


class _Server:
    def __init__(self, base_url: str) -> None:
        self.web_app, self.log = tornado.web.Application(base_url=base_url), _Log()


def test_loading_the_extension_tells_the_kernels_to_come(monkeypatch):
    monkeypatch.delenv(PLOTLY_JS_VARIABLE, raising=False)
    server = _Server("/base/")
    plotly_static._load_jupyter_server_extension(server)
    assert os.environ[PLOTLY_JS_VARIABLE] == PLOTLY_JS_PATH  # kernels inherit the server's environment
    assert plotly_static.plotly_js_handler("/base/")[0] == "/base/voila/trial-explorer/(plotly\\.min\\.js)"
