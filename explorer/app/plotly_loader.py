"""plotly.js for the page, fetched once the page has rendered, and the widget that draws figures with it.

Voilà loads every installed JupyterLab extension with the page. jupyterlab-plotly's is plotly.js itself,
4.85 of the 10.3 MB the dashboard downloaded before its first render, for charts that sit in closed tabs.
voila.json denies that extension (`extension_denylist`), so the dashboard draws its figures with
`PlotlyFigure` instead:

- `PlotlyLibrary` (one per kernel) gets plotly.js onto the page once it has rendered and stopped changing
  (the dashboard notebook makes the library with the dashboard, so the page's copy of it acts), or as soon
  as a figure is drawn. Where the dashboard's server (explorer.app.voila_server) serves plotly.js as a
  static file, it says so to its kernels (PLOTLY_JS_VARIABLE) and the page loads that file, with the plotly
  version in its address: the browser keeps it (a ten-year max-age and an ETag), so a reload or a second
  page downloads nothing. JupyterLab's server does the same once the package is installed (the server
  extension explorer.app.plotly_static). Elsewhere (a plain `voila`), or if that file cannot be loaded, the
  library carries plotly.js from the installed plotly package (`plotly.offline.get_plotlyjs`, the same
  file) over the widget channel when the page asks for it (`requested`), or, without the static file, when
  the first figure is made. Either way the browser runs it once per page, as a script, which defines
  `window.Plotly`. Nothing comes from a CDN.
- `PlotlyFigure` holds one figure's JSON and draws it with `Plotly.react` once plotly.js is there; a new
  figure redraws the same chart in place.

It works the same in Voilà and in JupyterLab (any widget front end with anywidget), with or without the
plotly lab extension.
"""

from __future__ import annotations

import os

import anywidget
import plotly
import plotly.offline
import traitlets

# Where the page finds plotly.js beside Voilà's own files (relative to the server's base URL + "voila/": Voilà's
# page's `data-base-url`), when the server serves it (explorer.app.plotly_static: Voilà's and JupyterLab's).
PLOTLY_JS_PATH = "trial-explorer/plotly.min.js"
# Set by that server for its kernels (they inherit its environment): the path above, or absent.
PLOTLY_JS_VARIABLE = "TRIAL_EXPLORER_PLOTLY_JS"

# One promise per page that resolves to window.Plotly; the library and every figure share it, whichever
# module the page evaluates first creates it.
_PAGE_PLOTLY_JS = """
const KEY = "__trialExplorerPlotly";
function pagePlotly() {
  if (!globalThis[KEY]) {
    const slot = { started: false, wanted: false, kick: null };
    slot.promise = new Promise((resolve, reject) => { slot.resolve = resolve; slot.reject = reject; });
    globalThis[KEY] = slot;
  }
  return globalThis[KEY];
}
"""

_LIBRARY_ESM = _PAGE_PLOTLY_JS + """
function run(slot, src, onerror) {  // plotly.js as a classic script: it defines window.Plotly
  const script = document.createElement("script");
  script.src = src;
  script.onload = () => {
    if (src.startsWith("blob:")) URL.revokeObjectURL(src);
    slot.resolve(globalThis.Plotly);
  };
  script.onerror = onerror;
  document.head.appendChild(script);
}

// plotly.js that came over the widget channel
function load(model) {
  const slot = pagePlotly();
  const source = model.get("source");
  if (slot.started || !source || !source.byteLength) return;
  slot.started = true;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  run(slot, url, () => { slot.started = false; slot.reject(new Error("plotly.js did not load")); });
}

function ask(model) {
  if (model.get("requested")) return;
  model.set("requested", true);
  model.save_changes();
}

// The server's static copy at "<the server's base URL>voila/" + static_path (explorer.app.plotly_static serves
// it there for Voila and for JupyterLab); null where the kernel was told of none or the page has no base URL.
function voilaBase() {
  const body = document.body;
  if (body && body.dataset.voila !== undefined && body.dataset.baseUrl) return body.dataset.baseUrl;  // "<base>voila/"
  const config = document.getElementById("jupyter-config-data");  // JupyterLab's page (and Notebook 7's)
  try {
    const base = config && JSON.parse(config.textContent).baseUrl;
    return base ? `${base.replace(/\\/?$/, "/")}voila/` : null;
  } catch (error) {
    return null;
  }
}

function staticUrl(model) {
  const path = model.get("static_path");
  const base = path && voilaBase();
  return base ? `${base}${path}?v=${encodeURIComponent(model.get("version"))}` : null;
}

// Once per page: plotly.js by the cheapest way the page has.
function start(model) {
  const slot = pagePlotly();
  if (slot.started) return;
  if (globalThis.Plotly && globalThis.Plotly.react) {  // the page already has plotly.js
    slot.started = true;
    slot.resolve(globalThis.Plotly);
    return;
  }
  const url = staticUrl(model);
  if (!url) { ask(model); return; }
  slot.started = true;
  // the static file failed (a proxy that does not pass it on): the kernel sends it instead
  run(slot, url, () => { slot.started = false; ask(model); });
}

// Calls `then` once the page, after it next changes (the widget views being drawn), has stopped changing
// for `quiet` ms, or after `longest` ms. Models are made before any view, so the page is still quiet
// then; and the browser has idle moments while the page waits for its kernel, so an idle callback
// alone fired before the first render.
function whenSettled(then, quiet = 500, longest = 15000) {
  let timer = null, called = false;
  const done = () => {
    if (called) return;
    called = true;
    observer.disconnect();
    clearTimeout(timer);
    clearTimeout(cap);
    if (globalThis.requestIdleCallback) requestIdleCallback(then, { timeout: 2000 });
    else then();
  };
  const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, quiet); });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  const cap = setTimeout(done, longest);
}

export default {
  // The model exists on the page as soon as the kernel made the widget: nothing needs displaying it
  // (a display message can be lost while Voilà pre-heats under load; the widget's state is not).
  initialize({ model }) {
    model.on("change:source", () => load(model));
    load(model);
    const slot = pagePlotly();
    slot.kick = () => start(model);
    // a figure is waiting: now; else once the page has rendered, so that the 5 MB never delay it
    if (slot.wanted) start(model);
    else if (!slot.started) whenSettled(() => start(model));
  },
  render({ el }) {
    el.style.display = "none";
  },
};
"""

_FIGURE_ESM = _PAGE_PLOTLY_JS + """
async function render({ model, el }) {
  const graph = document.createElement("div");
  graph.className = "te-plotly-figure";
  graph.textContent = "Loading the chart\u2026";
  el.appendChild(graph);
  const slot = pagePlotly();
  if (slot.kick) slot.kick();  // plotly.js is needed now, not once the page has settled
  else slot.wanted = true;
  const Plotly = await slot.promise;
  graph.textContent = "";
  const draw = () => {
    const { data = [], layout = {}, config = {} } = model.get("figure");
    return Plotly.react(graph, data, layout, { responsive: true, displaylogo: false, ...config });
  };
  await draw();
  model.on("change:figure", draw);
  // a chart drawn while its tab is hidden has no width: redraw it at its size once it is shown
  const resize = new ResizeObserver(() => { if (graph.offsetWidth) Plotly.Plots.resize(graph); });
  resize.observe(el);
  return () => {
    resize.disconnect();
    model.off("change:figure", draw);
    Plotly.purge(graph);
  };
}
export default { render };
"""


class PlotlyLibrary(anywidget.AnyWidget):
    """plotly.js for the page: the server's static file (`static_path`, for this plotly `version`) where
    there is one; else `source`, empty until the page asks (`requested`) or a figure is made."""

    _esm = _LIBRARY_ESM
    requested = traitlets.Bool(False).tag(sync=True)
    source = traitlets.Bytes(b"").tag(sync=True)
    static_path = traitlets.Unicode().tag(sync=True)
    version = traitlets.Unicode(plotly.__version__).tag(sync=True)

    @traitlets.default("static_path")
    def _static_path(self) -> str:
        return os.environ.get(PLOTLY_JS_VARIABLE, "")

    @traitlets.observe("requested")
    def _on_request(self, change) -> None:
        if change["new"]:
            self.send_source()

    def send_source(self) -> None:
        """Send plotly.js to the page, once."""
        if not self.source:
            self.source = plotly.offline.get_plotlyjs().encode("utf-8")


_library: PlotlyLibrary | None = None


def plotly_library() -> PlotlyLibrary:
    """The kernel's one PlotlyLibrary (a new one if it was closed, e.g. by `Widget.close_all`)."""
    global _library
    if _library is None or _library.comm is None:
        _library = PlotlyLibrary()
    return _library


class PlotlyFigure(anywidget.AnyWidget):
    """One plotly figure, drawn in the browser with the page's plotly.js (`figure`: its JSON)."""

    _esm = _FIGURE_ESM
    figure = traitlets.Dict().tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        library = plotly_library()  # the page needs one to get plotly.js with
        if not library.static_path:
            # no static file: send it now, since a page that asks (JupyterLab running all cells) is
            # answered only once the kernel is idle
            library.send_source()
