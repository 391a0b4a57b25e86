"""Voilà as the dashboard is served: plotly.js as one cacheable static file, and compressed responses.

`python -m explorer.app.voila_server NOTEBOOK [Voilà's options]` runs Voilà 0.5 (`voila.app.Voila`) with two
additions, both for the page's weight (issue 17):

- plotly.js (the installed plotly package's `plotly.min.js`, 4.85 MB, what `plotly.offline.get_plotlyjs`
  reads) at `voila/trial-explorer/plotly.min.js`. `PlotlyLibrary` (explorer.app.plotly_loader) asks for it
  with the plotly version in the address (`?v=`), which tornado's StaticFileHandler answers with a ten-year
  max-age and an ETag: a browser downloads it once per plotly version, not once per page load as over the
  widget channel. The route names one file; nothing else of the package folder is served.
- lab extension files asked for with their content hash (`?v=`) keep a long max-age, which Voilà takes away.
- gzip for every compressible response (HTML, JavaScript, CSS, JSON). Voilà applies its
  `Voila.tornado_settings` after it has built its tornado Application, and tornado reads
  `compress_response` only while building one, so the setting alone does nothing here.

Everything else is Voilà's, with voila.json read as usual. Under another front end (JupyterLab, a plain
`voila`) the route is absent and PlotlyLibrary sends plotly.js over the widget channel instead.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import plotly
import tornado.web
import traitlets
from jupyter_server.utils import url_path_join
from voila.app import Voila

from explorer.app.plotly_loader import PLOTLY_JS_PATH, PLOTLY_JS_VARIABLE

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class DashboardVoila(Voila):
    """Voilà plus the plotly.js route and gzip (see the module docstring)."""

    compress = traitlets.Bool(True, config=True, help="gzip compressible responses (HTML, JavaScript, CSS, JSON)")

    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        # the kernels, started after this, inherit it: their PlotlyLibrary points the page at the file
        os.environ[PLOTLY_JS_VARIABLE] = PLOTLY_JS_PATH

    def init_handlers(self) -> list:
        handlers = super().init_handlers()
        # first: Voilà's last handler, the notebook itself, takes every address it is asked for
        folder, name = PLOTLY_JS_PATH.rsplit("/", 1)
        route = url_path_join(self.server_url, "voila", folder, f"({re.escape(name)})")
        handlers.insert(0, (route, tornado.web.StaticFileHandler, {"path": str(PLOTLY_JS.parent)}))
        # Voilà has the browser revalidate every lab extension file on every page load ("no_cache_paths"),
        # about 20 requests before a reload can render. A file asked for with its content hash (`?v=`) cannot
        # change under that address: it keeps jupyter_server's long max-age; the rest still revalidates.
        for handler in handlers:
            if handler[0].endswith("/voila/labextensions/(.*)"):
                handler[2]["no_cache_paths"] = []
        return handlers

    def listen(self) -> None:
        # Voilà has built its Application by now (start), and listen is where it starts serving it
        if self.compress:
            self.app.transforms.append(tornado.web.GZipContentEncoding)
        super().listen()


main = DashboardVoila.launch_instance

if __name__ == "__main__":
    sys.exit(main())
