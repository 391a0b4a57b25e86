"""Voilà as the dashboard is served: plotly.js as one cacheable static file, and compressed responses.

`python -m explorer.app.voila_server NOTEBOOK [Voilà's options]` runs Voilà 0.5 (`voila.app.Voila`) with two
additions, both for the page's weight (issue 17):

- plotly.js (the installed plotly package's `plotly.min.js`, 4.85 MB, what `plotly.offline.get_plotlyjs`
  reads) at `voila/trial-explorer/plotly.min.js` (explorer.app.plotly_static, which JupyterLab's server loads as
  an extension for the same address). `PlotlyLibrary` (explorer.app.plotly_loader) asks for it
  with the plotly version in the address (`?v=`), which tornado's StaticFileHandler answers with a ten-year
  max-age and an ETag: a browser downloads it once per plotly version, not once per page load as over the
  widget channel. The route names one file; nothing else of the package folder is served.
- lab extension files asked for with their content hash (`?v=`) keep a long max-age, which Voilà takes away.
- gzip for every compressible response (HTML, JavaScript, CSS, JSON). Voilà applies its
  `Voila.tornado_settings` after it has built its tornado Application, and tornado reads
  `compress_response` only while building one, so the setting alone does nothing here. Voilà's and the lab
  extensions' files are compressed once per server, not once per page load (CachedGZip).

- the JavaScript files the page will need are named in its head (`<link rel="preload">`,
  explorer.app.voila_preload), so the browser fetches them in its first wave instead of in dependent ones.
- nothing leaves the machine: the page is Voilà's lab template without its Font Awesome links to a CDN
  (explorer/app/voila_template/index.html.j2 says why that loses no icon).
- on request (`preheat_nice`, off by default: measured no faster), the kernels Voilà pre-heats to refill its
  pool build the dashboard's state at low CPU priority (explorer.app.preheat).
- the kernels' background work (explorer.engine.idle) runs at the nice value `idle_nice` (default 19).
- a closed or reloaded page's kernel is shut down (Voilà 0.5 refuses the page's own request: see
  BeaconShutdownHandler), instead of living, with its cohort, until the server stops.

Everything else is Voilà's, with voila.json read as usual. Under a plain `voila` the route is absent and
PlotlyLibrary sends plotly.js over the widget channel instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import tornado.web
import traitlets
from jupyter_core.utils import ensure_async
from voila.app import Voila
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler

from explorer.app.plotly_loader import PLOTLY_JS_PATH
from explorer.app.plotly_static import announce, plotly_js_handler
from explorer.app.preheat import PREHEAT_NICE_VARIABLE
from explorer.app.voila_preload import preload_addresses
from explorer.engine.idle import IDLE_NICE_VARIABLE, NICE

TEMPLATE = Path(__file__).parent / "voila_template"
SHUTDOWN_DELAY = "trial_explorer_shutdown_delay"  # the tornado setting BeaconShutdownHandler reads


class BeaconShutdownHandler(VoilaShutdownKernelHandler):
    """Voilà's kernel shutdown, as the page sends it when it is closed or reloaded.

    The page sends it with `navigator.sendBeacon`, which cannot carry the `X-XSRFToken` header, so Voilà 0.5
    answers 403 ("'_xsrf' argument missing", voila-dashboards/voila#1458) and the kernel of every closed
    page lives, holding its cohort, until the server stops. The kernel's id, a random UUID that only the
    page that owns the kernel is given, is what authorises the request here.

    `--DashboardVoila.shutdown_delay=N` shuts the kernel down N seconds later: the page sends the request as
    it is reloaded, and a kernel stopping (its process freeing a cohort) takes CPU the new page's first render
    could use. Measured on a busy machine it made no difference, so it is 0 (at once) by default."""

    def check_xsrf_cookie(self) -> None:
        return None

    @tornado.web.authenticated
    async def post(self, kernel_id: str) -> None:
        asyncio.ensure_future(self._shut_down_later(kernel_id, self.settings.get(SHUTDOWN_DELAY, 0.0)))
        self.set_status(204)
        self.finish()

    async def _shut_down_later(self, kernel_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if kernel_id in self.kernel_manager:  # not already stopped (the server's own shutdown, a second beacon)
            await ensure_async(self.kernel_manager.shutdown_kernel(kernel_id))


class CachedGZip(tornado.web.GZipContentEncoding):
    """tornado's gzip, with each of Voilà's static files compressed once per server instead of once per request.

    A first visit fetches about 5.4 MB of Voilà's and the lab extensions' JavaScript and CSS, then plotly.js;
    compressing them again for every page costs the server's one thread about half a second while the page
    waits for it (docs/architecture.md). A static file's ETag is the hash of its content, so the file's address
    and ETag name its compressed bytes for as long as the server runs; what is kept is bounded by the
    installed files. Anything else (the page, the API, a range or a HEAD request) is compressed as tornado
    does it."""

    # Voilà's, the lab extensions' and plotly.js (4.85 MB, once per browser, right after its first render)
    STATIC = ("/voila/static/", "/voila/templates/", "/voila/labextensions/", f"/voila/{PLOTLY_JS_PATH}")
    _compressed: dict[tuple[str, str], bytes] = {}

    def __init__(self, request) -> None:
        super().__init__(request)
        path = request.path
        self._static = request.method == "GET" and any(prefix in path for prefix in self.STATIC)
        self._path, self._key, self._parts, self._replaying = path, None, [], False

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self._static and self._gzipping and status_code == 200 and "Etag" in headers:
            self._key = (self._path, headers["Etag"])
            cached = self._compressed.get(self._key)
            if cached is not None:  # the whole compressed file now; what the handler writes after is dropped
                self._replaying = True
                headers["Vary"] = f"{headers['Vary']}, Accept-Encoding" if "Vary" in headers else "Accept-Encoding"
                headers["Content-Encoding"] = "gzip"
                if finishing:
                    headers["Content-Length"] = str(len(cached))
                else:
                    headers.pop("Content-Length", None)
                return status_code, headers, cached
        return super().transform_first_chunk(status_code, headers, chunk, finishing)

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if self._replaying:
            return b""
        chunk = super().transform_chunk(chunk, finishing)
        if self._key is not None and self._gzipping:
            self._parts.append(chunk)
            if finishing:
                self._compressed[self._key] = b"".join(self._parts)
        return chunk


class DashboardVoila(Voila):
    """Voilà plus the plotly.js route and gzip (see the module docstring)."""

    compress = traitlets.Bool(True, config=True, help="gzip compressible responses (HTML, JavaScript, CSS, JSON)")
    preload = traitlets.Bool(False, config=True, help="name the JavaScript the page will need in its head")
    # measured no faster at 10 s (dashboard.first_render.interleaved_final.md: reload 2.23 s, 2.37 s at once)
    shutdown_delay = traitlets.Float(0.0, config=True,
                                     help="seconds between a closed page's request and its kernel's shutdown")
    # a refill at 10^6 is about 5 s of CPU for the state, started 8 s after a visitor took a kernel, while they
    # click; building it at nice 19 measured no faster clicks (77 against 78 ms during the refill, 16 clicks
    # each, same run: benchmarks/results/dashboard.click.md), so it is off (0) unless asked for
    preheat_nice = traitlets.Int(0, config=True,
                                 help="nice value added to a pre-heated kernel's dashboard build (0: none)")

    # the kernels' idle-time work (explorer.engine.idle: edit-table warm-ups, the Outcomes tab's preparation) runs on
    # one thread at this nice value; a thread that holds the GIL at nice 19 on a busy machine can keep a click
    # waiting for it (benchmarks/results/dashboard.click*.md compares the two)
    idle_nice = traitlets.Int(NICE, config=True, help="nice value of each kernel's background work thread")

    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        if self.preload and self.voila_configuration.template == "lab":
            # read once here; the template (voila_template/index.html.j2) writes them into every page's head
            config = self.voila_configuration.config.VoilaConfiguration
            resources = config.resources if isinstance(config.get("resources"), dict) else {}
            config.resources = {**resources, "trial_explorer_preload": preload_addresses(
                self.base_url, self.voila_configuration, self.static_paths)}
        announce()  # the kernels, started after this, inherit it: their PlotlyLibrary points the page at the file

    def setup_template_dirs(self) -> None:
        super().setup_template_dirs()
        # first, so that the page's index.html.j2 is ours; it extends Voilà's lab template, found further on
        if self.voila_configuration.template == "lab":
            self.template_paths.insert(0, str(TEMPLATE))

    def init_settings(self) -> dict:
        # before the kernel manager exists: every pool kernel inherits it (the pool's first kernels are started
        # on the event loop, so setting it after them would not keep them out: a race, not a rule)
        os.environ[PREHEAT_NICE_VARIABLE] = str(self.preheat_nice)
        os.environ[IDLE_NICE_VARIABLE] = str(self.idle_nice)
        settings = super().init_settings()
        settings[SHUTDOWN_DELAY] = self.shutdown_delay
        return settings

    def init_handlers(self) -> list:
        handlers = super().init_handlers()
        # first: Voilà's last handler, the notebook itself, takes every address it is asked for
        handlers.insert(0, plotly_js_handler(self.server_url))
        # Voilà has the browser revalidate every lab extension file on every page load ("no_cache_paths"),
        # about 20 requests before a reload can render. A file asked for with its content hash (`?v=`) cannot
        # change under that address: it keeps jupyter_server's long max-age; the rest still revalidates.
        for handler in handlers:
            if handler[0].endswith("/voila/labextensions/(.*)"):
                handler[2]["no_cache_paths"] = []
        return [(handler[0], BeaconShutdownHandler, *handler[2:]) if handler[1] is VoilaShutdownKernelHandler
                else handler for handler in handlers]

    def listen(self) -> None:
        # Voilà has built its Application by now (start), and listen is where it starts serving it
        if self.compress:
            self.app.transforms.append(CachedGZip)
        super().listen()


main = DashboardVoila.launch_instance

if __name__ == "__main__":
    sys.exit(main())
