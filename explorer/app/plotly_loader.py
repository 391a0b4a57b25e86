"""plotly.js for the page, sent once the page has rendered, and the widget that draws figures with it.

Voilà loads every installed JupyterLab extension with the page. jupyterlab-plotly's is plotly.js itself,
4.85 of the 10.3 MB the dashboard downloaded before its first render, for charts that sit in closed tabs.
voila.json denies that extension (`extension_denylist`), so the dashboard draws its figures with
`PlotlyFigure` instead:

- `PlotlyLibrary` (one per kernel) carries plotly.js from the installed plotly package
  (`plotly.offline.get_plotlyjs`, the same bundle the lab extension ships). Its source is empty until the
  page asks for it, once it has rendered and stopped changing (the dashboard notebook makes the library
  with the dashboard, so the page's copy of it asks), or until the first figure is shown. The browser then
  runs it once per page, as a script, which defines `window.Plotly`.
- `PlotlyFigure` holds one figure's JSON and draws it with `Plotly.react` once plotly.js is there; a new
  figure redraws the same chart in place.

It works the same in Voilà and in JupyterLab (any widget front end with anywidget), with or without the
plotly lab extension. A page that reloads gets plotly.js again over the kernel's websocket (about 5 MB,
after its first paint); HTTP caching does not apply to it.
"""

from __future__ import annotations

import anywidget
import plotly.offline
import traitlets

# One promise per page that resolves to window.Plotly; the library and every figure share it, whichever
# module the page evaluates first creates it.
_PAGE_PLOTLY_JS = """
const KEY = "__trialExplorerPlotly";
function pagePlotly() {
  if (!globalThis[KEY]) {
    const slot = { started: false };
    slot.promise = new Promise((resolve, reject) => { slot.resolve = resolve; slot.reject = reject; });
    globalThis[KEY] = slot;
  }
  return globalThis[KEY];
}
"""

_LIBRARY_ESM = _PAGE_PLOTLY_JS + """
function load(model) {
  const slot = pagePlotly();
  if (slot.started) return;
  if (globalThis.Plotly && globalThis.Plotly.react) {  // the page already has plotly.js
    slot.started = true;
    slot.resolve(globalThis.Plotly);
    return;
  }
  const source = model.get("source");
  if (!source || !source.byteLength) return;
  slot.started = true;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const script = document.createElement("script");
  script.src = url;
  script.onload = () => { URL.revokeObjectURL(url); slot.resolve(globalThis.Plotly); };
  script.onerror = () => { slot.started = false; slot.reject(new Error("plotly.js did not load")); };
  document.head.appendChild(script);
}

function ask(model) {
  if (model.get("requested")) return;
  model.set("requested", true);
  model.save_changes();
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
    // ask once the page has rendered, so that the 5 MB never delay the first render
    if (!pagePlotly().started) whenSettled(() => ask(model));
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
  const Plotly = await pagePlotly().promise;
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
    """plotly.js for the page: empty until the page asks (`requested`) or a figure is shown."""

    _esm = _LIBRARY_ESM
    requested = traitlets.Bool(False).tag(sync=True)
    source = traitlets.Bytes(b"").tag(sync=True)

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
        plotly_library().send_source()  # the figure cannot draw before plotly.js is on the page
