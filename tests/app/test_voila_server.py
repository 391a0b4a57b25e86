"""The dashboard's Voilà (explorer.app.voila_server): plotly.js as one cacheable file, gzip, nothing else of
plotly's package folder served. A real server, without a pre-heated kernel unless a test asks for one (a tiny notebook then)."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
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
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from explorer.app.plotly_loader import PLOTLY_JS_PATH

PLOTLY_URL = f"/voila/{PLOTLY_JS_PATH}?v={plotly.__version__}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*options: str, notebook: Path = ROOT / "notebooks" / "dashboard.ipynb", attempts: int = 3,
           preheat: bool = False):
    """The dashboard's server on a free port. Between choosing the port and the server binding it, another
    process (a kernel's ZMQ socket, on a shared machine) can take it: the server then exits, and what answers
    there is not HTTP; another port is tried (the server is told not to move to a port of its own choosing)."""
    for _ in range(attempts):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "explorer.app.voila_server", str(notebook),
             f"--port={port}", "--Voila.port_retries=0", "--no-browser", "--Voila.ip=127.0.0.1",
             f"--VoilaConfiguration.preheat_kernel={preheat}", *options],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while process.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2)
                return process, url
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    _stop(process)
                    raise AssertionError("the server did not start") from None
                time.sleep(0.3)
    raise AssertionError(f"the server exited {attempts} times")


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


def _tiny_notebook(folder: Path) -> Path:
    """A one-cell notebook: a page Voilà renders in a moment."""
    notebook = folder / "tiny.ipynb"
    notebook.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["x = 1"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return notebook


def test_a_closed_pages_kernel_is_shut_down_by_the_pages_own_request(tmp_path):
    """The page asks for its kernel's shutdown with navigator.sendBeacon, which carries no XSRF token; plain
    Voila 0.5 answers 403 and the kernel lives until the server stops (voila-dashboards/voila#1458)."""
    process, url = _serve("--DashboardVoila.shutdown_delay=4", notebook=_tiny_notebook(tmp_path))
    try:
        status, _, page = _get(url + "/")
        kernel = re.search(rb'"kernelId": "([0-9a-f-]{36})"', page).group(1).decode()
        assert _get(f"{url}/api/kernels/{kernel}")[0] == 200
        beacon = urllib.request.Request(f"{url}/voila/api/shutdown/{kernel}", data=b"", method="POST")
        with urllib.request.urlopen(beacon, timeout=30) as response:  # no cookie, no X-XSRFToken: a beacon
            assert response.status == 204
        # not at once: a reloaded page's first render does not share the CPU with the old kernel stopping
        assert _get(f"{url}/api/kernels/{kernel}")[0] == 200
        deadline = time.monotonic() + 30
        while _get(f"{url}/api/kernels/{kernel}")[0] != 404:
            assert time.monotonic() < deadline, "the kernel is still running"
            time.sleep(0.3)
    finally:
        _stop(process)


def test_the_page_links_nothing_outside_the_machine(tmp_path):
    """Voilà's lab template links Font Awesome on cdn.jsdelivr.net and nbconvert's imports mermaid.js from
    cdnjs; the dashboard's template (explorer/app/voila_template) keeps the page to its own server, and still
    includes voila-style.js, which brings Font Awesome with it."""
    process, url = _serve(notebook=_tiny_notebook(tmp_path))
    try:
        status, _, page = _get(url + "/")
        assert status == 200
        outside = re.findall(rb"""(?:src|href)=["'](?:https?:)?//[^"']+|import\(["']https?://[^"']+""", page)
        assert not outside, outside
        assert b"/voila/templates/lab/static/voila-style.js" in page
    finally:
        _stop(process)


def _through(transform_class, path: str, body: bytes, etag: str, chunk: int = 65536) -> bytes:
    """What a transform sends for a static file written in pieces, as tornado's StaticFileHandler writes it."""
    request = HTTPServerRequest(start_line=RequestStartLine("GET", path, "HTTP/1.1"),
                                headers=HTTPHeaders({"Host": "127.0.0.1", "Accept-Encoding": "gzip"}))
    transform = transform_class(request)
    headers = HTTPHeaders({"Content-Type": "application/javascript", "Etag": etag, "Content-Length": str(len(body))})
    pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)]
    _, headers, sent = transform.transform_first_chunk(200, headers, pieces[0], False)
    sent += b"".join(transform.transform_chunk(piece, False) for piece in pieces[1:])
    sent += transform.transform_chunk(b"", True)
    assert headers["Content-Encoding"] == "gzip" and "Content-Length" not in headers
    return sent


def _no_compression(*args, **kwargs):
    raise AssertionError("compressed again")


def test_a_static_file_is_compressed_once_and_sent_whole_again(monkeypatch):
    from explorer.app.voila_server import CachedGZip

    monkeypatch.setattr(CachedGZip, "_compressed", {})
    body = (ROOT / "explorer" / "app" / "voila_server.py").read_bytes() * 40  # several pieces
    first = _through(CachedGZip, "/voila/static/1.voila.js", body, '"abc"')
    assert gzip.decompress(first) == body

    monkeypatch.setattr(gzip, "GzipFile", _no_compression)
    assert _through(CachedGZip, "/voila/static/1.voila.js", body, '"abc"') == first
    # another content (another ETag) under the same address, or a file the cache does not cover, is compressed
    for path, etag in (("/voila/static/1.voila.js", '"def"'), ("/api/kernels", '"abc"')):
        with pytest.raises(AssertionError, match="compressed again"):
            _through(CachedGZip, path, body, etag)


def test_the_page_names_the_javascript_it_will_need_and_the_server_has_it(tmp_path):
    """With --DashboardVoila.preload=True, explorer.app.voila_preload's addresses are in the page's head, and
    each is a file the server serves: a wrong address would cost the page a useless download and still leave
    the real one to a later wave."""
    process, url = _serve("--DashboardVoila.preload=True", notebook=_tiny_notebook(tmp_path))
    try:
        _, _, page = _get(url + "/")
        head = page.split(b"</head>")[0]
        preloaded = re.findall(rb'<link rel="preload" as="script" href="([^"]+)">', head)
        assert preloaded[0] == b"/voila/static/voila.js"
        assert any(b"/voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/remoteEntry." in a
                   for a in preloaded)
        assert head.index(b"voila-style.js") < head.index(b'rel="preload"')  # the page's own first
        for address in preloaded:
            assert _get(url + address.decode())[0] == 200, address
    finally:
        _stop(process)
    process, url = _serve(notebook=_tiny_notebook(tmp_path))
    try:
        assert b'rel="preload"' not in _get(url + "/")[2]  # off unless asked for: it measured no faster
    finally:
        _stop(process)


def test_plotly_js_is_compressed_once_too(server, monkeypatch):
    """4.85 MB, asked for by every new browser right after its first render, while the same server thread
    carries the page's widget messages."""
    from explorer.app.voila_server import CachedGZip

    monkeypatch.setattr(CachedGZip, "_compressed", {})
    body = plotly.offline.get_plotlyjs().encode()
    first = _through(CachedGZip, f"/voila/{PLOTLY_JS_PATH}", body, '"p"')
    monkeypatch.setattr(gzip, "GzipFile", _no_compression)
    assert _through(CachedGZip, f"/voila/{PLOTLY_JS_PATH}", body, '"p"') == first
    status, headers, wire = _get(server + PLOTLY_URL, **{"Accept-Encoding": "gzip"})  # the real server agrees
    assert status == 200 and headers.get("Content-Encoding") == "gzip" and gzip.decompress(wire) == body


def test_the_kernels_are_told_of_plotly_js_and_of_the_pre_heated_builds_and_the_idle_works_priority(tmp_path):
    """The server's environment is its kernels': PlotlyLibrary finds the static file by it, and a pool kernel's
    dashboard build its nice value (explorer.app.preheat), 0 unless the server is told otherwise."""
    notebook = tmp_path / "environment.ipynb"
    notebook.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": ["import os\n", "print('told', os.environ.get('TRIAL_EXPLORER_PLOTLY_JS'),"
                              " os.environ.get('TRIAL_EXPLORER_PREHEAT_NICE'),"
                              " os.environ.get('TRIAL_EXPLORER_IDLE_NICE'))"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}))
    # and the thread of its background work (explorer.engine.idle) its own, 19 unless told otherwise
    for options, nice, idle in (((), "0", "19"), (("--DashboardVoila.preheat_nice=19", "--DashboardVoila.idle_nice=0"),
                                                  "19", "0")):
        process, url = _serve(*options, notebook=notebook)
        try:
            assert f"told {PLOTLY_JS_PATH} {nice} {idle}".encode() in _get(url + "/")[2]
        finally:
            _stop(process)
    # pre-heated: every pool kernel, the first two and the refill, builds at 19 when asked
    process, url = _serve("--VoilaKernelManager.fill_delay=0", "--DashboardVoila.preheat_nice=19", notebook=notebook,
                          preheat=True)
    try:
        told = []
        for _ in range(3):
            deadline = time.monotonic() + 60
            while not (page := _get(url + "/")[2]).count(b"told"):  # a kernel still running: the page waits
                assert time.monotonic() < deadline
                time.sleep(0.5)
            told.append(re.search(rb"told (\S+) (\S+)", page).group(2).decode())
        assert told == ["19", "19", "19"]
    finally:
        _stop(process)
