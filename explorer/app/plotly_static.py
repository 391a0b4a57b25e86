"""plotly.js as one cacheable static file from the Jupyter server that runs the kernels: Voilà or JupyterLab.

The installed plotly package's `plotly.min.js` (4.85 MB, what `plotly.offline.get_plotlyjs` reads) is served at
`<base URL>voila/` + PLOTLY_JS_PATH, the one address rule for both servers: the dashboard's Voilà
(explorer.app.voila_server) adds the route to its own handlers, and JupyterLab (or Notebook 7, any Jupyter
Server) gets it from this module as a server extension, which the package enables when it is installed
(jupyter-config/jupyter_server_config.d/trial_explorer.json). Either server then tells the kernels it starts
that the file is there (PLOTLY_JS_VARIABLE in their environment), and explorer.app.plotly_loader's
PlotlyLibrary has the page load the file with the plotly version in its address, which tornado answers with a
ten-year max-age and an ETag: the browser downloads it once per plotly version. Before, JupyterLab received
plotly.js over the widget channel on every page load, ahead of a notebook's first chart.

The route names one file; nothing else of the package folder is served. Nothing comes from a CDN.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import plotly
import tornado.web
from jupyter_server.utils import url_path_join

from explorer.app.plotly_loader import PLOTLY_JS_PATH, PLOTLY_JS_VARIABLE

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def plotly_js_handler(base_url: str) -> tuple[str, type, dict]:
    """The tornado handler that serves plotly.js under a server's base URL (the page's address rule is in
    plotly_loader: `<base URL>voila/` + PLOTLY_JS_PATH, with `?v=` and the plotly version)."""
    folder, name = PLOTLY_JS_PATH.rsplit("/", 1)
    route = url_path_join(base_url, "voila", folder, f"({re.escape(name)})")
    return route, tornado.web.StaticFileHandler, {"path": str(PLOTLY_JS.parent)}


def announce() -> None:
    """Tell the kernels this server starts from now on that the file is served (they inherit its environment)."""
    os.environ[PLOTLY_JS_VARIABLE] = PLOTLY_JS_PATH


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "explorer.app.plotly_static"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """JupyterLab's server: the plotly.js route first (before any handler that takes every address)."""
    handler = plotly_js_handler(serverapp.web_app.settings.get("base_url", "/"))
    serverapp.web_app.add_handlers(".*$", [handler])
    announce()
    serverapp.log.info("Trial Explorer: plotly.js served at %s", handler[0])
