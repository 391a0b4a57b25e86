"""Dashboard performance in a real browser (Playwright + Debian's Chromium against Voila).

Measures, for each bundled trial on its synthetic population at each size (default 10^5 and 10^6):
  - server start to the pre-heated kernel being ready, and page request to first complete render
    (eligible count and funnel visible) with a pre-heated kernel; the same without pre-heating;
  - click-to-updated-funnel (toggle a criterion) and threshold-to-updated-funnel (type a value);
  - for each results tab, tab click to its first chart (or table) on screen, and to the loading
    indicators being visible when that takes longer than 100 ms (the header's, drawn by the kernel, and
    the page's own, explorer.app.pending);
  - the websocket frames between the page and its kernel that one criterion click costs;
  - bytes the page loads over HTTP before the first render and in all (every tab opened), and how much
    of them is the plotly.js bundle.
Each update is timed from the input event to the moment the page shows the count the engine computes
for the new scenario (computed in this process, as the browser tests do).

`--first-render-only` measures only the pre-heated first render, `--repeats` pages in a row, and what each
page downloads before it: HTTP by resource, the same files gzipped, and the websocket's messages
(dashboard.first_render.md, or `--output NAME`). `--floor` adds a page of two widgets served with the same
voila.json: what the first render costs before any of our code. Each repeat is a first visit in a fresh
browser and a reload of it; the server is the tree's own (explorer.app.voila_server where it has one).
`--phases` says where the floor page's time goes (dashboard.first_render.phases.md). The first render is timed
by the page's own clock (RENDER_WATCH), with Playwright's polled time beside it. `--variant "NAME: OPTIONS"`
adds this tree served with other server options, `--also REF` another revision, and `--interleave` keeps every
variant's server up and takes their rounds in turn, so that a shared machine's changing load weighs on all
alike (dashboard.first_render.interleaved*.md).

`--tabs-only` measures each tab's first chart on the registered scenario and the Outcomes tab on edited
scenarios, opened at once and after the scenario settled (explorer.app.warm_up.OutcomePreparer), with an
edit's update while a prepare runs (dashboard.tabs.md).

`--baseline REF` measures the code of a git revision (checked out into a temporary worktree: its
notebook, voila.json and package) in the same run, before the working tree, so that the table compares
the two under the same machine load.

    .venv/bin/python benchmarks/bench_dashboard.py [--sizes 100000 1000000] [--repeats 5] [--baseline main]

Writes benchmarks/results/dashboard.json and dashboard.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import checkout  # noqa: E402 - a sibling module: this file runs as a script from benchmarks/
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

from explorer.app.scenario import DataSource, Scenario  # noqa: E402
from explorer.app.state import ExplorerState  # noqa: E402
from explorer.cohort.synthetic.trial_match import population_for  # noqa: E402
from explorer.trial import load_trial  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TRIALS = ["NCT06196996", "NCT01142050"]
# the results tabs and what shows first on each: a plotly chart, or a table where the tab has no chart
TAB_FIRST = {"Impact": ".js-plotly-plot", "Overlap": ".js-plotly-plot", "Baseline": ".te-table",
             "Thresholds": ".js-plotly-plot", "Compare": ".te-table", "Outcomes": ".js-plotly-plot"}
TIMEOUT_MS = 600_000
# voila.json's kernel pool: its size, and how long after a page takes a kernel Voila starts refilling it
POOL_SIZE, FILL_DELAY_S = 2, 8.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario_for(trial: str, n: int) -> Scenario:
    return Scenario(trial=trial, data=DataSource("synthetic", population_for(load_trial(trial)), n, 0))


def start_voila(code: Path, query: str, preheat: bool, server: str = "voila",
                options: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str, Path, float]:
    """Voila (or the module `server` that runs it) serving `code`'s dashboard notebook with `code`'s package
    and voila.json. A pre-heated kernel cannot see the page's address, so the scenario comes in QUERY_STRING
    (explorer.app.dashboard). `options`: more command-line options for the server."""
    port = free_port()
    ready = Path(tempfile.mkdtemp()) / "ready"
    env = {**os.environ, "TRIAL_EXPLORER_READY_FILE": str(ready), "QUERY_STRING": query,
           "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
    command = [sys.executable, "-m", server, str(code / "notebooks" / "dashboard.ipynb"), f"--port={port}",
               "--no-browser", "--Voila.ip=127.0.0.1", *options]
    if not preheat:
        command.append("--VoilaConfiguration.preheat_kernel=False")
    started = time.perf_counter()
    log = open(ready.parent / "voila.log", "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    if preheat:
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"voila exited; see {log.name}")
            time.sleep(0.2)
    return process, url, ready, time.perf_counter() - started


def stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    process.wait(timeout=60)


def open_page(browser, url: str, sizes: dict[str, int], frames: dict[str, int] | None = None,
              ws_sizes: list[int] | None = None, bodies: dict[str, bytes] | None = None):
    """Open the dashboard; (seconds to its first complete render, page). `sizes` collects each HTTP
    response's body size by address (`bodies`, if given, the bodies); `frames`, if given, counts the kernel
    channel's frames (watch_kernel_messages); `ws_sizes`, if given, each websocket message's size (the
    widget state and, on the tree with explorer.app.plotly_loader, plotly.js itself)."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    if frames is not None:
        watch_kernel_messages(page, frames)

    def record(response):
        if not response.url.startswith("http"):  # a blob: or data: address is no download
            return
        with contextlib.suppress(Exception):  # a redirect or an aborted request has no body
            body = response.body()
            sizes[response.url] = len(body)
            if bodies is not None:
                bodies[response.url] = body

    page.on("response", record)
    if ws_sizes is not None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: ws_sizes.append(len(payload))))
    started = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    expect(page.locator(".te-count b").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator(".te-funnel").first).to_be_visible(timeout=TIMEOUT_MS)
    elapsed = time.perf_counter() - started
    # the criteria's rows, which the served dashboard sends once the page has drawn the funnel: what the clicks need
    expect(page.locator(".te-criterion-text").first).to_be_visible(timeout=TIMEOUT_MS)
    return elapsed, page


def weight(sizes: dict[str, int]) -> dict[str, int]:
    return {"total": sum(sizes.values()), "plotly": sum(v for k, v in sizes.items() if "plotly" in k.lower())}


def watch_kernel_messages(page, frames: dict[str, int]) -> None:
    """Count the websocket frames between the page and its kernel (widget messages, status messages):
    frames["received"], frames["received_bytes"], frames["sent"]."""
    frames.update(received=0, received_bytes=0, sent=0)

    def on_frame(key: str, payload) -> None:
        frames[key] += 1
        if key == "received":
            frames["received_bytes"] += len(payload)

    def on_websocket(ws) -> None:
        if "/channels" in ws.url:
            ws.on("framereceived", lambda payload: on_frame("received", payload))
            ws.on("framesent", lambda payload: on_frame("sent", payload))

    page.on("websocket", on_websocket)


def messages_per_update(page, frames: dict[str, int], action, expected_text: str) -> tuple[float, dict]:
    """timed_update, and the kernel-channel frames from the input until the page has been quiet for 300 ms."""
    before = dict(frames)
    elapsed = timed_update(page, action, expected_text)
    last = None
    while last != frames["received"]:
        last = frames["received"]
        page.wait_for_timeout(300)
    return elapsed, {k: frames[k] - before[k] for k in frames}


# Notes the page's time of the next input event (a pointer press, or Enter in a field): updates are timed
# from it, in the page, so Playwright's own work before it dispatches the event is not counted.
MARK_INPUT = """() => {
  window.__te_input = null;
  const mark = (event) => {
    if (event.type === "keydown" && event.key !== "Enter") return;
    window.__te_input = event.timeStamp;
    document.removeEventListener("pointerdown", mark, true);
    document.removeEventListener("keydown", mark, true);
  };
  document.addEventListener("pointerdown", mark, true);
  document.addEventListener("keydown", mark, true);
}"""

# what the page downloads, by the part of Voilà's page it belongs to (first match wins)
RESOURCE_GROUPS = {"plotly.js (jupyterlab-plotly lab extension)": "/voila/labextensions/jupyterlab-plotly/",
                   "widget lab extensions (ipywidgets, Voilà's manager, anywidget)": "/voila/labextensions/",
                   "Voilà's application (voila/static)": "/voila/static/",
                   "Voilà's lab template (theme CSS and style)": "/voila/templates/",
                   "page HTML and the rest": ""}


def by_resource(sizes: dict[str, int]) -> dict[str, dict[str, int]]:
    groups = {name: {"files": 0, "bytes": 0} for name in RESOURCE_GROUPS}
    for address, size in sizes.items():
        name = next(name for name, part in RESOURCE_GROUPS.items() if part in address)
        groups[name]["files"] += 1
        groups[name]["bytes"] += size
    return groups


FUNNEL_SHOWS = """([want]) => {
  const count = document.querySelector(".te-count b")?.textContent === want;
  if (!(count && document.querySelector(".te-funnel")?.dataset.finalEligible === want)) return false;
  return window.__te_input === null || window.__te_input === undefined ? -1 : performance.now() - window.__te_input;
}"""


def timed_update(page, action, expected_text: str) -> float:
    """Input event to the page showing the expected count in the header and as the funnel's final
    eligible count, checked on every animation frame, timed in the page from the input event (from
    before the action, in this process, if the page saw no input event).

    (Playwright's expect() polls at 100, 250, 500 ms ... intervals, which would round a 150 ms update
    up to about 350 ms.)
    """
    page.evaluate(MARK_INPUT)
    started = time.perf_counter()
    action()
    shown = page.wait_for_function(FUNNEL_SHOWS, arg=[expected_text], polling="raf", timeout=TIMEOUT_MS).json_value()
    return 1000 * (time.perf_counter() - started) if shown < 0 else shown


# Watches, on every animation frame from the tab's pointer press, for the loading indicator being visible and
# for the target (`selector`: the tab's first chart or table) being on screen once `tab` is selected. `fresh`: a
# target counts only if it was not on the page when the watch began or its traces changed since (the Outcomes tab
# reopened on another scenario shows the scenario before's figures until the kernel replaces them).
WATCH = """([selector, tab, fresh]) => {
  let t0 = performance.now();  // then the tab's pointer press, when the page sees it
  document.addEventListener("pointerdown", (event) => { t0 = event.timeStamp; }, {capture: true, once: true});
  const targets = () => [...document.querySelectorAll(".te-app " + selector)];
  const traces = (el) => JSON.stringify((el.data || []).map((t) => [t.x, t.y]));
  const before = new Map(fresh ? targets().map((el) => [el, traces(el)]) : []);
  const isNew = (el) => !fresh || !before.has(el) || before.get(el) !== traces(el);
  window.__te = {busy: null, idle: null, shown: null, pending: null, pendingGone: null};
  const visible = (el) => el && el.offsetParent !== null && getComputedStyle(el).visibility === "visible";
  const tick = () => {
    const now = performance.now() - t0;
    const busy = document.querySelector(".te-busy");
    if (window.__te.busy === null && visible(busy)) window.__te.busy = now;
    if (window.__te.busy !== null && window.__te.idle === null && !busy) window.__te.idle = now;
    // the page's own indicator (explorer.app.pending; position: fixed, so no offsetParent)
    const pending = document.querySelector(".te-pending");
    if (window.__te.pending === null && pending && !pending.hidden) window.__te.pending = now;
    if (window.__te.pending !== null && window.__te.pendingGone === null && pending && pending.hidden)
      window.__te.pendingGone = now;
    const current = document.querySelector('.te-app [role="tab"][aria-selected="true"]');
    if (!current || current.textContent.trim() !== tab) { requestAnimationFrame(tick); return; }
    if (window.__te.shown === null
        && targets().some(el => visible(el) && el.getBoundingClientRect().height > 0 && isNew(el)))
      window.__te.shown = now;
    if (window.__te.shown !== null && (window.__te.idle !== null || window.__te.busy === null)) return;
    // no chart changed (e.g. a figure the same for both scenarios) once all is drawn: stop after 10 s more. "All
    // drawn": the header's indicator gone, or the page's (explorer.app.pending), where the header's is not sent
    // because the page's follows the kernel; neither shown (answered within 70 ms): 60 s after the press
    const done = window.__te.idle !== null ? window.__te.idle : window.__te.pendingGone;
    if ((done !== null && now > done + 10000) || (window.__te.shown === null && now > 60000)) {
      window.__te.shown = -1; return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def watched_tab(page, tab: str, selector: str, fresh: bool = False) -> dict:
    """Click `tab` under WATCH: ms from the press to its target and to the indicator's coming and going."""
    page.evaluate(WATCH, [selector, tab, fresh])
    page.get_by_role("tab", name=tab, exact=True).click()
    page.wait_for_function("() => window.__te.shown !== null && (window.__te.busy === null || window.__te.idle !== null)",
                           polling="raf", timeout=TIMEOUT_MS)
    return page.evaluate("() => window.__te")


def first_charts(page) -> dict:
    """Each results tab, in order: click to its first chart or table, and to the loading indicator."""
    out = {}
    for tab, selector in TAB_FIRST.items():
        seen = watched_tab(page, tab, selector)
        out[tab] = {"first_chart_ms": round(seen["shown"]),
                    "indicator_ms": None if seen["busy"] is None else round(seen["busy"]),
                    "page_indicator_ms": None if seen.get("pending") is None else round(seen["pending"]),
                    "indicator_gone_ms": None if seen["idle"] is None else round(seen["idle"])}
    page.get_by_role("tab", name="Eligibility", exact=True).click()
    return out


# How long the page waits after an edit before opening Outcomes "settled": the dashboard's OutcomePreparer waits
# 1 s of quiet (explorer.app.warm_up.SETTLE_S), then computes about 1 s at 10^6 subjects on a quiet machine.
SETTLED_S = 6


def outcomes_after_edits(page, state: ExplorerState) -> dict:
    """The Outcomes tab's first chart on edited scenarios, each new (a threshold value not typed before): opened
    right after the edit, and opened after SETTLED_S of quiet; and an edit's update while the scenario before
    it was being prepared (1.3 s after an edit). The page is left on the Eligibility tab."""
    criterion, parameter, label, values = threshold_values(state, 7)
    now = state.trial.criterion(criterion).parameters[parameter].value  # typed last: its outcomes may be cached
    values = [v for v in values if v != now][:6]
    field = page.get_by_role("spinbutton", name=label, exact=True)

    def edit(value):
        state.set_parameter(criterion, parameter, value)

        def type_value():
            field.fill(f"{value:g}")
            field.press("Enter")

        return timed_update(page, type_value, f"{state.counts['eligible']:,}")

    def open_outcomes():
        seen = watched_tab(page, "Outcomes", ".te-outcomes .js-plotly-plot", fresh=True)
        page.get_by_role("tab", name="Eligibility", exact=True).click()
        first = None if seen["shown"] < 0 else round(seen["shown"])
        return first, None if seen["idle"] is None else round(seen["idle"])

    out = {"edited_now_ms": [], "edited_settled_ms": [], "edit_during_prepare_ms": [], "edited_now_all_ms": [],
           "edited_settled_all_ms": []}
    for k in range(2):
        edit(values[3 * k])
        first, everything = open_outcomes()
        out["edited_now_ms"].append(first)
        out["edited_now_all_ms"].append(everything)
        edit(values[3 * k + 1])
        time.sleep(SETTLED_S)
        first, everything = open_outcomes()
        out["edited_settled_ms"].append(first)
        out["edited_settled_all_ms"].append(everything)
        time.sleep(1.3)  # the scenario left by the tab settles: its prepare (if any) is under way...
        out["edit_during_prepare_ms"].append(round(edit(values[3 * k + 2])))  # ...when the next edit comes
        time.sleep(SETTLED_S)
    return out


def toggle_criterion(state: ExplorerState) -> str:
    """An enabled criterion whose switching off changes the eligible count (from the end of the funnel)."""
    before = state.counts["eligible"]
    for criterion in reversed(state.order):
        if state.enabled(criterion) and state.toggle(criterion, False):
            changed = state.counts["eligible"] != before
            state.toggle(criterion, True)
            if changed:
                return criterion
    raise RuntimeError(f"no criterion of {state.trial.id} changes the eligible count")


def threshold_values(state: ExplorerState, repeats: int) -> tuple[str, str, str, list[float]]:
    """(criterion, parameter, field label, values): a threshold and `repeats` values in its allowed range,
    each changing the eligible count from the one before. The state is left as it was."""
    start = state.scenario
    for criterion in state.trial.criteria:
        if not state.enabled(criterion.id):
            continue
        for name, parameter in criterion.parameters.items():
            values, last = [], state.counts["eligible"]
            for k in range(1, 40):
                value = float(f"{parameter.min + (parameter.max - parameter.min) * k / 40:.4g}")
                state.set_parameter(criterion.id, name, value)
                if state.counts["eligible"] != last:
                    values.append(value)
                    last = state.counts["eligible"]
                if len(values) == repeats:
                    state.restore(start)
                    return criterion.id, name, f"{criterion.id} {parameter.label or name}", values
            state.restore(start)
    raise RuntimeError(f"no threshold of {state.trial.id} moves the eligible count {repeats} times")


def measure(code: Path, trial: str, n: int, repeats: int, browser, cold: bool) -> dict:
    base = scenario_for(trial, n)
    state = ExplorerState(base, with_baseline=False)
    result: dict = {"trial": trial, "subjects": n}
    toggled = toggle_criterion(state)
    criterion, parameter, label, values = threshold_values(state, repeats)

    process, url, ready, ready_s = start_voila(code, base.to_query(), preheat=True, server=dashboard_server(code))
    cpu = KernelCpu(process.pid)
    try:
        result["server_start_to_ready_s"] = round(ready_s, 2)
        # the ready file says one kernel has run the notebook; the pool's second may still run it
        cpu.settled(POOL_SIZE)
        pool = set(cpu.kernels())
        sizes: dict[str, int] = {}
        frames: dict[str, int] = {}
        elapsed, page = open_page(browser, url + "/", sizes, frames)
        opened = time.monotonic()
        result["first_render_preheated_s"] = round(elapsed, 2)
        result["bytes_first_render"] = weight(sizes)
        # After a page takes the pre-heated kernel, Voila starts a new one to refill its pool (fill_delay, 8 s)
        # and runs the notebook in it, while the visitor clicks. Time one click once the refill kernel is there,
        # then wait until every kernel is quiet and the pool full, and time the rest (ClickRounds times many
        # clicks in both phases: `--clicks`).
        box = page.get_by_role("checkbox", name=re.compile(rf"^{toggled} "))
        while time.monotonic() < opened + FILL_DELAY_S + 4 and not set(cpu.kernels()) - pool:
            time.sleep(0.1)
        state.toggle(toggled, False)
        result["click_during_pool_refill_ms"] = round(timed_update(page, box.click, f"{state.counts['eligible']:,}"))
        cpu.settled(POOL_SIZE + 1)

        toggles, thresholds, messages = [], [], []
        for i in range(repeats):
            state.toggle(toggled, i % 2 == 0)  # the refill click left it off: on, off, on, ...
            toggles.append(timed_update(page, box.click, f"{state.counts['eligible']:,}"))
        # then the same click again, counting the messages it costs (waiting for quiet after each)
        for i in range(2):
            state.toggle(toggled, (repeats + i) % 2 == 0)
            messages.append(messages_per_update(page, frames, box.click, f"{state.counts['eligible']:,}")[1])
        result["click_messages"] = messages
        state.toggle(toggled, True)
        if not page.get_by_role("checkbox", name=re.compile(rf"^{toggled} ")).is_checked():
            box.click()
        page.wait_for_function(FUNNEL_SHOWS, arg=[f"{state.counts['eligible']:,}"], timeout=TIMEOUT_MS)
        field = page.get_by_role("spinbutton", name=label, exact=True)
        for value in values:
            state.set_parameter(criterion, parameter, value)

            def type_value(value=value):
                field.fill(f"{value:g}")
                field.press("Enter")

            thresholds.append(timed_update(page, type_value, f"{state.counts['eligible']:,}"))
        result["click_to_update_ms"] = {"median": round(statistics.median(toggles)), "all": [round(t) for t in toggles]}
        result["threshold_to_update_ms"] = {"median": round(statistics.median(thresholds)),
                                            "all": [round(t) for t in thresholds]}
        result["tabs"] = first_charts(page)
        result["bytes_all_tabs"] = weight(sizes)
        page.close()
    finally:
        cpu.stop()
        stop(process)

    if cold:
        process, url, _, _ = start_voila(code, base.to_query(), preheat=False)
        try:
            elapsed, page = open_page(browser, f"{url}/?{base.to_query()}", {})
            result["first_render_cold_s"] = round(elapsed, 2)
            page.close()
        finally:
            stop(process)
    del state
    gc.collect()
    return result


def measure_tabs(code: Path, trial: str, n: int, browser) -> dict:
    """`--tabs-only`: each tab's first chart on the registered scenario, once the pool's refill has settled,
    then the Outcomes tab on edited scenarios (outcomes_after_edits)."""
    base = scenario_for(trial, n)
    state = ExplorerState(base, with_baseline=False)
    result: dict = {"trial": trial, "subjects": n}
    process, url, _, _ = start_voila(code, base.to_query(), preheat=True)
    cpu = KernelCpu(process.pid)
    try:
        cpu.settled(POOL_SIZE)  # the ready file says one kernel ran the notebook; the pool's second may still run it
        _, page = open_page(browser, url + "/", {})
        cpu.settled(POOL_SIZE + 1)  # the pool's refill (fill_delay after the page took its kernel) has finished
        result["tabs"] = first_charts(page)
        result["outcomes_edited"] = outcomes_after_edits(page, state)
        page.close()
    finally:
        cpu.stop()
        stop(process)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    del state
    gc.collect()
    return result


def tabs_table(rows: list[dict]) -> list[str]:
    lines = ["First chart per tab on the registered scenario (ms from the tab click, tabs opened in this order, the "
             "refilled pool settled first; the loading indicator's first visible frame in brackets):", "",
             "| code | trial | subjects | load | " + " | ".join(TAB_FIRST) + " |",
             "|---|---|---|---|" + "---|" * len(TAB_FIRST)]
    for r in rows:
        cells = [f"{r['tabs'][t]['first_chart_ms']}" + ("" if r["tabs"][t]["indicator_ms"] is None
                                                        else f" ({r['tabs'][t]['indicator_ms']})") for t in TAB_FIRST]
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {r['load_average_1m']} | "
                     + " | ".join(cells) + " |")
    lines += ["", f"The Outcomes tab's first chart on an edited scenario (a threshold typed; each a new scenario): "
              f"opened right after the edit, and after {SETTLED_S} s of quiet; and an edit's click-to-update while the "
              "scenario before it was being prepared (1.3 s after that one's edit). ms, each try:", "",
              "| code | trial | subjects | Outcomes, edited, opened at once: first new chart (all drawn) | Outcomes, "
              f"edited, opened after {SETTLED_S} s: first new chart (all drawn) | edit to update during a prepare |",
              "|---|---|---|---|---|---|"]

    def both(first, everything):
        return ", ".join(f"{'–' if a is None else a} ({'–' if b is None else b})"
                         for a, b in zip(first, everything, strict=True))

    for r in rows:
        o = r["outcomes_edited"]
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {both(o['edited_now_ms'], o['edited_now_all_ms'])} | "
                     f"{both(o['edited_settled_ms'], o['edited_settled_all_ms'])} | "
                     f"{', '.join(map(str, o['edit_during_prepare_ms']))} |")
    return lines


def tabs_main(args) -> int:
    rows = []
    codes = ([(args.baseline, args.baseline)] if args.baseline else []) + [(None, "this tree")]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n in args.sizes:
            for trial in args.trials:
                for ref, name in codes:
                    print(f"measuring tabs, {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
                    with checkout(ref) as code:
                        rows.append({"code": name, **measure_tabs(code, trial, n, browser)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        browser.close()
    load = os.getloadavg()
    output = "dashboard.tabs" if args.output == "dashboard.first_render" else args.output
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{output}.json").write_text(json.dumps({"machine": {"cpus": os.cpu_count(),
                                                                         "load_average_1m_at_end": round(load[0], 2)},
                                                             "results": rows}, indent=2) + "\n")
    lines = tabs_table(rows)
    (RESULTS / f"{output}.md").write_text("\n".join(lines) + f"\n\nLoad average at the end: {load[0]:.2f} "
                                               f"on {os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


def table(rows: list[dict]) -> list[str]:
    lines = ["| code | trial | subjects | first render, pre-heated (s) | first render, cold (s) | click to update "
             "(ms, median) | threshold to update (ms, median) | click during pool refill (ms) | slowest tab's "
             "first chart (ms) | loading indicator after (ms) | bytes before first render | of which plotly.js | "
             "bytes, every tab opened |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        slowest = max(r["tabs"], key=lambda t: r["tabs"][t]["first_chart_ms"])
        indicator = r["tabs"][slowest]["indicator_ms"]
        lines.append(
            f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {r['first_render_preheated_s']} | "
            f"{r.get('first_render_cold_s', '–')} | {r['click_to_update_ms']['median']} | "
            f"{r['threshold_to_update_ms']['median']} | {r['click_during_pool_refill_ms']} | "
            f"{r['tabs'][slowest]['first_chart_ms']} ({slowest}) | {'–' if indicator is None else indicator} | "
            f"{r['bytes_first_render']['total']:,} | {r['bytes_first_render']['plotly']:,} | "
            f"{r['bytes_all_tabs']['total']:,} |")
    lines += ["", "First chart per tab (ms from the tab click; tabs opened in this order; the loading indicator's "
              "first visible frame in brackets):", "",
              "| code | trial | subjects | " + " | ".join(TAB_FIRST) + " |", "|---|---|---|" + "---|" * len(TAB_FIRST)]
    for r in rows:
        cells = [f"{r['tabs'][t]['first_chart_ms']}" + ("" if r["tabs"][t]["indicator_ms"] is None
                                                        else f" ({r['tabs'][t]['indicator_ms']})") for t in TAB_FIRST]
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | " + " | ".join(cells) + " |")
    lines += ["", "The page's own loading indicator (explorer.app.pending), first visible frame after each tab click "
              "(ms), and the kernel-channel websocket frames one criterion click costs (received / bytes / sent, "
              "until the page is quiet):", "",
              "| code | trial | subjects | " + " | ".join(TAB_FIRST) + " | frames per click |",
              "|---|---|---|" + "---|" * len(TAB_FIRST) + "---|"]
    for r in rows:
        cells = ["–" if r["tabs"][t].get("page_indicator_ms") is None else str(r["tabs"][t]["page_indicator_ms"])
                 for t in TAB_FIRST]
        clicks = "; ".join(f"{m['received']} / {m['received_bytes']:,} / {m['sent']}" for m in r.get("click_messages", []))
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | " + " | ".join(cells) + f" | {clicks} |")
    return lines


# Runs in a Jupyter kernel of the code measured: the kernel's own time to handle a click (the checkbox
# value the browser would send, through the state and every view's redraw) and a tab's first opening.
KERNEL_CODE = """
import json, statistics, threading, time
import ipywidgets
from explorer.app.dashboard import Dashboard
from explorer.app.scenario import Scenario
d = Dashboard(scenario=Scenario.from_query({query!r}))
d.show()
d.url.initial_query_sent = True  # what the page sends once it has rendered
time.sleep(3)  # what a page has before its first click
for thread in threading.enumerate():  # the warm-ups a kernel starts before and after a page comes
    if thread.name.startswith("warm-up"):
        thread.join(300)
if hasattr(getattr(d, "outcome_preparer", None), "wait"):  # the preparation as a job of the idle-time scheduler
    d.outcome_preparer.wait(300)
opening = d.state.scenario
box = d.criteria._rows[{toggled!r}]._toggle
sent = []  # the widget messages the kernel sends to the page (count, bytes of their JSON)
_send = ipywidgets.Widget._send
def counted(self, msg, buffers=None):
    sent.append(len(json.dumps(msg, default=str)))
    return _send(self, msg, buffers)
ipywidgets.Widget._send = counted
clicks, cpu, messages = [], [], []
for i in range({repeats}):
    sent.clear()
    started, started_cpu = time.perf_counter(), time.process_time()
    box.value = not box.value
    clicks.append(1000 * (time.perf_counter() - started))
    cpu.append(1000 * (time.process_time() - started_cpu))  # the kernel's own work: what others' load hides less
    messages.append((len(sent), sum(sent)))
ipywidgets.Widget._send = _send
# clicks {pace} s apart: each lands on the kernel's background work for the scenario before it (the Outcomes
# tab's preparation starts 1 s after an edit); the main thread sleeps in between, as a kernel waiting for input
background, background_cpu = [], []
for i in range({repeats} if {pace} else 0):
    time.sleep({pace})
    started, started_cpu = time.perf_counter(), time.process_time()
    box.value = not box.value
    background.append(1000 * (time.perf_counter() - started))
    background_cpu.append(1000 * (time.process_time() - started_cpu))  # the whole process's: both threads
tabs = {{}}
for title in {tabs!r}:
    started = time.perf_counter()
    d.tabs.selected_index = list(d.tabs.titles).index(title)
    tabs[title] = round(1000 * (time.perf_counter() - started))
opening_ms = None
if {tabs!r}:  # the Outcomes tab on the opening scenario (a warm-up may have computed its outcomes)
    d.tabs.selected_index = 0
    d.state.restore(opening)
    started = time.perf_counter()
    d.tabs.selected_index = list(d.tabs.titles).index("Outcomes")
    opening_ms = round(1000 * (time.perf_counter() - started))
print("RESULT" + json.dumps({{"click_ms": round(statistics.median(clicks), 1), "tabs_ms": tabs,
                             "click_cpu_ms": round(statistics.median(cpu), 1),
                             "outcomes_opening_ms": opening_ms,
                             "click_messages": list(messages[len(messages) // 2]),
                             "background_click_ms": [round(x, 1) for x in background],
                             "background_click_cpu_ms": [round(x, 1) for x in background_cpu]}}))
"""


def kernel_side(code: Path, trial: str, n: int, repeats: int, pace: float = 0.0) -> dict:
    """The kernel's share of a click and of a tab's first opening, in a kernel running `code`'s package; with
    `pace`, instead of the tabs, as many clicks `pace` seconds apart (landing on the kernel's background work)."""
    from jupyter_client.manager import start_new_kernel

    base = scenario_for(trial, n)
    state = ExplorerState(base, with_baseline=False)
    toggled = toggle_criterion(state)
    del state
    gc.collect()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(code))
    printed: list[str] = []
    try:
        client.execute_interactive(
            KERNEL_CODE.format(query=base.to_query(), toggled=toggled, repeats=repeats, pace=pace,
                               tabs=[] if pace else list(TAB_FIRST)),
            timeout=1800, output_hook=lambda m: printed.append(m["content"].get("text", ""))
            if m["msg_type"] == "stream" else None)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    result = next((line for line in "".join(printed).splitlines() if line.startswith("RESULT")), None)
    if result is None:
        raise RuntimeError(f"the kernel measurement printed no result: {''.join(printed)[-2000:]}")
    return json.loads(result.removeprefix("RESULT"))


def kernel_table(rows: list[dict]) -> list[str]:
    lines = ["", "Kernel side (a Jupyter kernel of the code measured, no browser): a click handled through the state "
             "and every view's redraw (median; wall and the kernel's CPU time) with the widget messages it sends the "
             "page (count / bytes), each "
             "tab's first opening, and the Outcomes tab opened again back on the opening scenario (ms):", "",
             "| code | trial | subjects | click | click, CPU | messages per click | " + " | ".join(TAB_FIRST)
             + " | Outcomes, opening scenario |",
             "|---|---|---|---|---|---|" + "---|" * len(TAB_FIRST) + "---|"]
    for r in rows:
        k = r["kernel"]
        count, size = k.get("click_messages", ("–", 0))
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {k['click_ms']} | "
                     f"{k.get('click_cpu_ms', '–')} | {count} / {size:,} | "
                     + " | ".join(str(k["tabs_ms"][t]) for t in TAB_FIRST)
                     + f" | {k.get('outcomes_opening_ms', '–')} |")
    return lines


def background_table(rows: list[dict]) -> list[str]:
    lines = ["Kernel side (a Jupyter kernel of the code measured, no browser): a click with nothing running beside it "
             "(clicks back to back), and a click landing on the background work for the scenario before it (clicks "
             "--background-pace s apart): wall ms (median, and every click), and the process's CPU ms for the latter "
             "(both threads):", "",
             "| code | trial | subjects | click, nothing beside it | click on background work | every such click | "
             "its CPU (process) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        k = r["kernel"]
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {k['click_ms']} | "
                     f"{round(statistics.median(k['background_click_ms']), 1)} | "
                     f"{', '.join(str(round(x)) for x in k['background_click_ms'])} | "
                     f"{round(statistics.median(k['background_click_cpu_ms']), 1)} |")
    return lines


# --- where the page's script time goes in a pre-heated first render (`--profile`) ---------------------------

def _profile_self_ms(profile: dict, start_us: float = 0.0) -> tuple[dict[str, float], dict[str, float]]:
    """Self time (ms) of a V8 CPU profile's samples taken after `start_us` (profile clock), by script file and by
    function ("name (file:line)")."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    by_file: dict[str, float] = {}
    by_function: dict[str, float] = {}
    now = profile["startTime"]
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        now += delta
        if now < start_us:
            continue
        frame = nodes[sample]["callFrame"]
        url = frame["url"].split("?")[0].rsplit("/", 1)[-1] or f"({frame['functionName'] or 'program'})"
        name = f"{frame['functionName'] or '(anonymous)'} ({url}:{frame['lineNumber'] + 1})"
        by_file[url] = by_file.get(url, 0.0) + delta / 1000
        by_function[name] = by_function.get(name, 0.0) + delta / 1000
    return by_file, by_function


def profile_main(args) -> int:
    """`--profile`: a V8 CPU profile (Chrome DevTools Protocol) of `--repeats` pre-heated first visits of this tree
    (and each `--variant`): the page's script time by file and by function, from the navigation to the render."""
    codes = [("this tree", ())] + [(f"this tree, {name}", tuple(options.split()))
                                   for name, options in (variant.split(":", 1) for variant in args.variant)]
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, options in codes:
            renders = FirstRenders(ROOT, args.trials[0], args.sizes[0], options=options)
            try:
                # one visit first, unprofiled: the server compresses its static files once (CachedGZip), for the
                # first browser that asks, and every later visitor is served from that
                page = browser.new_page()
                page.goto(renders.url + "/", wait_until="commit", timeout=TIMEOUT_MS)
                expect(page.locator(".te-funnel").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
                page.close()
                renders.refilled()
                for _ in range(args.repeats):
                    page = browser.new_page(viewport={"width": 1500, "height": 1000})
                    page.add_init_script(RENDER_WATCH)
                    page.add_init_script(PHASES_INIT)
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Profiler.enable")
                    cdp.send("Profiler.setSamplingInterval", {"interval": 500})
                    cdp.send("Profiler.start")
                    page.goto(renders.url + "/", wait_until="commit", timeout=TIMEOUT_MS)
                    page.wait_for_function("() => window.__teRenderedAt !== undefined", timeout=RENDER_TIMEOUT_MS)
                    profile = cdp.send("Profiler.stop")["profile"]
                    moments = page.evaluate(PHASES)
                    by_file, by_function = _profile_self_ms(profile)
                    rows.append({"code": name, "render_ms": round(page.evaluate("() => window.__teRenderedAt")),
                                 "moments": {k: round(v) for k, v in moments.items()},
                                 "by_file": dict(sorted(by_file.items(), key=lambda kv: -kv[1])[:15]),
                                 "by_function": dict(sorted(by_function.items(), key=lambda kv: -kv[1])[:25])})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
                    page.close()
                    renders.refilled()
            finally:
                renders.stop()
        browser.close()
    load = os.getloadavg()
    lines = ["A V8 CPU profile of each pre-heated first visit (fresh browser; the server's second visitor), from before the navigation to the first "
             "frame with the count and the funnel (RENDER_WATCH): the page's self time by script file and by function "
             "(ms, sampled every 0.5 ms), and the moments of PHASES (ms from the navigation).", ""]
    for r in rows:
        lines += [f"## {r['code']}: render at {r['render_ms']} ms", "", "Moments: " + ", ".join(
            f"{k} {v}" for k, v in r["moments"].items()), "", "| file | self ms |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in r["by_file"].items()]
        lines += ["", "| function | self ms |", "|---|---|"] + [f"| {k} | {v:.0f} |" for k, v in r["by_function"].items()]
        lines.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps({"machine": {"cpus": os.cpu_count(),
                                                 "load_average_1m_at_end": round(load[0], 2)}, "results": rows},
                                                 indent=2) + "\n")
    (RESULTS / f"{args.output}.md").write_text("\n".join(lines) + f"\nLoad average at the end: {load[0]:.2f} on "
                                                f"{os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


# --- clicks while Voilà refills its pool, and after (`--clicks`: dashboard.click.md) --------------------------

class KernelCpu:
    """The CPU time of every kernel a server started, sampled every 50 ms from /proc (psutil) in a thread:
    which kernel worked while a click was timed, and when each kernel process appeared."""

    def __init__(self, server_pid: int):
        import psutil
        self._psutil, self.server = psutil, psutil.Process(server_pid)
        self.samples: list[tuple[float, dict[int, float]]] = []
        self.appeared: dict[int, float] = {}  # kernel pid -> perf_counter when first seen
        self.ids: dict[int, str] = {}  # kernel pid -> kernel id (from its connection file's name)
        self._stop = False
        self._thread = __import__("threading").Thread(target=self._run, name="kernel-cpu", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            now, cpu = time.perf_counter(), {}
            with contextlib.suppress(self._psutil.Error):
                for child in self.server.children(recursive=True):
                    with contextlib.suppress(self._psutil.Error):
                        times = child.cpu_times()
                        cpu[child.pid] = times.user + times.system
                        if child.pid not in self.ids:
                            found = re.search(r"kernel-([0-9a-f-]+)\.json", " ".join(child.cmdline()))
                            self.ids[child.pid] = found.group(1) if found else ""
                            self.appeared.setdefault(child.pid, now)
            self.samples.append((now, cpu))
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop = True
        self._thread.join()

    def kernels(self) -> dict[int, str]:
        """The kernels alive at the last sample: pid -> kernel id."""
        return {pid: self.ids.get(pid, "") for pid in (self.samples[-1][1] if self.samples else {})}

    def used(self, start: float, end: float, exclude: str = "") -> float:
        """CPU seconds the kernels other than `exclude` (a kernel id) used between two perf_counter times."""
        before = next((cpu for t, cpu in reversed(self.samples) if t <= start), {})
        after = next((cpu for t, cpu in self.samples if t >= end), self.samples[-1][1] if self.samples else {})
        return sum(max(0.0, after[pid] - before.get(pid, 0.0)) for pid in after if self.ids.get(pid) != exclude)

    def settled(self, kernels: int, quiet_s: float = 2.0, timeout_s: float = 600) -> None:
        """Wait until `kernels` kernel processes run and together used under 5% of a CPU for `quiet_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = time.perf_counter()
            if len(self.kernels()) == kernels and self.used(now - quiet_s, now) < 0.05 * quiet_s:
                return
        raise RuntimeError(f"the server's kernels did not settle within {timeout_s} s")


class ClickRounds:
    """One server (`code`'s dashboard for `trial` at `n` subjects, pre-heated, the tree's own server with
    `options`) and its click rounds. Each `round()` opens a page on a pre-heated kernel, which makes Voilà refill
    its pool after `fill_delay` s, then clicks a criterion `clicks` times from the moment the refill kernel
    appears (or `fill_delay` + 1 s, if it does not), one click every PACE_S, as a visitor exploring does; then waits
    until every kernel is quiet and the pool full, and clicks as many times again. Every click records the CPU the
    other kernels used while it was timed (KernelCpu), so that a click is known to have shared the machine with the
    refill or not. The page is then closed and its kernel shut down."""

    PACE_S = 0.3

    def __init__(self, code: Path, state: ExplorerState, toggled: str, options: tuple[str, ...],
                 pool: int = POOL_SIZE, fill_delay: float = FILL_DELAY_S, background_pace: float = 0.0):
        self.pool, self.fill_delay, self.state, self.toggled = pool, fill_delay, state, toggled
        self.background_pace = background_pace
        base = state.scenario
        self.process, self.url, self.ready, _ = start_voila(code, base.to_query(), preheat=True,
                                                             server=dashboard_server(code), options=options)
        self.cpu = KernelCpu(self.process.pid)
        self.cpu.settled(pool)
        self.rows: list[dict] = []  # one per click: phase, ms, the other kernels' CPU ms while it was timed
        self.renders: list[float] = []

    def _clicks(self, page, box, kernel: str, phase: str, count: int, round_no: int, pace: float = PACE_S) -> None:
        for _ in range(count):
            self.state.toggle(self.toggled, not self.state.enabled(self.toggled))
            started = time.perf_counter()
            ms = timed_update(page, box.click, f"{self.state.counts['eligible']:,}")
            ended = time.perf_counter()
            self.rows.append({"round": round_no, "phase": phase, "ms": round(ms, 1),
                              "others_cpu_ms": round(1000 * self.cpu.used(started, ended, exclude=kernel)),
                              "load": round(os.getloadavg()[0], 1)})
            time.sleep(pace)

    def round(self, browser, clicks: int, round_no: int) -> None:
        kernels_before = set(self.cpu.kernels())
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        opened = time.perf_counter()
        page.goto(self.url + "/", wait_until="commit", timeout=TIMEOUT_MS)
        expect(page.locator(".te-funnel").first).to_be_visible(timeout=TIMEOUT_MS)
        self.renders.append(round(time.perf_counter() - opened, 2))
        kernel = next(re.search(r"/api/kernels/([0-9a-f-]+)/", url).group(1) for url in sockets if "/api/kernels/" in url)
        box = page.get_by_role("checkbox", name=re.compile(rf"^{self.toggled} "))
        if self.state.enabled(self.toggled) != box.is_checked():  # the page opened on the server's scenario
            self.state.toggle(self.toggled, box.is_checked())
        # what a visitor meets a few seconds in: the refill kernel starting and running the notebook
        deadline = opened + self.fill_delay + 4
        while time.perf_counter() < deadline and not set(self.cpu.kernels()) - kernels_before:
            time.sleep(0.1)
        self._clicks(page, box, kernel, "during refill", clicks, round_no)
        self.cpu.settled(self.pool + 1)
        self._clicks(page, box, kernel, "after refill", clicks, round_no)
        if self.background_pace:  # each click lands while the kernel prepares the scenario before it
            time.sleep(self.background_pace)
            self._clicks(page, box, kernel, "background work", clicks, round_no, self.background_pace)
        page.close()
        with contextlib.suppress(OSError):  # what the page's beforeunload beacon asks for
            urllib.request.urlopen(urllib.request.Request(f"{self.url}/voila/api/shutdown/{kernel}", data=b"",
                                                          method="POST"), timeout=30)
        self.cpu.settled(self.pool)

    def stop(self) -> None:
        self.cpu.stop()
        stop(self.process)

    def result(self) -> dict:
        def summary(rows: list[dict]) -> dict:
            ms = [r["ms"] for r in rows]
            return {"clicks": len(ms), "median_ms": round(statistics.median(ms)) if ms else None,
                    "all_ms": [round(x) for x in ms]}

        out = {phase: summary([r for r in self.rows if r["phase"] == phase])
               for phase in ("during refill", "after refill", "background work")}
        # whatever the phase: the clicks another kernel worked during (>= 20 ms of its CPU), and those it did not
        out["other kernel busy"] = summary([r for r in self.rows if r["others_cpu_ms"] >= 20])
        out["other kernels idle"] = summary([r for r in self.rows if r["others_cpu_ms"] < 20])
        return {"first_renders_s": self.renders, "clicks": out, "rows": self.rows}


def clicks_main(args) -> int:
    """`--clicks`: every variant's server up at once, their rounds in turn (ClickRounds)."""
    codes = [(args.baseline, args.baseline, ())] if args.baseline else []
    codes += [(ref, ref, ()) for ref in args.also]
    codes.append((None, "this tree", ()))
    codes += [(None, f"this tree, {name}", tuple(options.split()))
              for name, options in (variant.split(":", 1) for variant in args.variant)]
    rows = []
    with sync_playwright() as pw, contextlib.ExitStack() as stack:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n in args.sizes:
            for trial in args.trials:
                servers = []
                state = ExplorerState(scenario_for(trial, n), with_baseline=False)  # the counts to wait for
                toggled = toggle_criterion(state)
                for ref, name, options in codes:
                    print(f"starting {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
                    servers.append((name, ClickRounds(stack.enter_context(checkout(ref)), state, toggled, options,
                                                      background_pace=args.background_pace)))
                    stack.callback(servers[-1][1].stop)
                for repeat in range(args.repeats):
                    for name, server in servers:
                        print(f"round {repeat + 1} of {args.repeats}, {name}: load {os.getloadavg()[0]:.1f}",
                              file=sys.stderr, flush=True)
                        server.round(browser, args.clicks, repeat + 1)
                rows += [{"code": name, "trial": trial, "subjects": n, **server.result()} for name, server in servers]
                for row in rows[-len(servers):]:
                    print(json.dumps({k: v for k, v in row.items() if k != "rows"}), file=sys.stderr, flush=True)
        browser.close()
    load = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps(
        {"machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(load[0], 2)}, "results": rows,
         "targets": {"click_to_update_ms_at_1e6": 50}}, indent=2) + "\n")
    lines = click_table(rows)
    (RESULTS / f"{args.output}.md").write_text("\n".join(lines) + f"\n\nLoad average at the end: {load[0]:.2f} "
                                                f"on {os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


# --- where one click's milliseconds go (`--trace N`: dashboard.click.trace.md) --------------------------------

# Records every websocket message the page sends and receives, in the page's clock, with its Jupyter message type,
# its comm method and its header's date (the kernel's clock for what the kernel sends; the same machine's clock).
# Installed before the page's own script, so that it sees the kernel's socket and runs before the page's handler.
WS_TRACE = """(() => {
  const log = window.__teWs = [];
  const Native = window.WebSocket;
  const text = (data) => typeof data === "string" ? data
    : new TextDecoder().decode(data instanceof ArrayBuffer ? data : (data.buffer || new ArrayBuffer(0)));
  const info = (dir, data) => {
    const t = text(data), get = (re) => { const m = re.exec(t); return m ? m[1] : null; };
    return {dir, t: performance.now(), type: get(/"msg_type":\\s*"(\\w+)"/), date: get(/"date":\\s*"([^"]+)"/),
            state: get(/"execution_state":\\s*"(\\w+)"/), method: get(/"method":\\s*"(\\w+)"/), bytes: t.length};
  };
  class Traced extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => log.push(info("in", event.data)));
    }
    send(data) { log.push(info("out", data)); return super.send(data); }
  }
  window.WebSocket = Traced;
  window.__teOrigin = performance.timeOrigin;
})();"""


def click_phases(log: list[dict], origin: float, input_at: float, shown_at: float) -> dict:
    """One click's timeline from the page's websocket log (WS_TRACE), in ms from the input event: the page sends
    its update, the kernel starts on it (status busy), sends its first and last widget update, ends (status idle),
    the page receives the last update, and the page shows the new count."""
    def kernel_ms(entry: dict) -> float:  # the kernel's clock (ISO date of the message header) in page ms
        from datetime import datetime
        return datetime.fromisoformat(entry["date"].replace("Z", "+00:00")).timestamp() * 1000 - origin - input_at

    sent = next(e for e in log if e["dir"] == "out" and e["t"] >= input_at and e["method"] == "update")
    after = [e for e in log if e["t"] >= sent["t"] and e["dir"] == "in"]
    busy = next(e for e in after if e["state"] == "busy")
    idle = next(e for e in after if e["state"] == "idle" and e["t"] >= busy["t"])
    updates = [e for e in after if e["type"] == "comm_msg" and e["t"] <= idle["t"] + 1]
    return {"page sends": round(sent["t"] - input_at, 1), "kernel busy": round(kernel_ms(busy), 1),
            "kernel first update": round(kernel_ms(updates[0]), 1) if updates else None,
            "kernel last update": round(kernel_ms(updates[-1]), 1) if updates else None,
            "kernel idle": round(kernel_ms(idle), 1),
            "page has last update": round(updates[-1]["t"] - input_at, 1) if updates else None,
            "page shows": round(shown_at, 1), "messages in": len(after), "bytes in": sum(e["bytes"] for e in after)}


def trace_main(args) -> int:
    """`--trace N`: N paced clicks on one pre-heated page of each code, each split into its phases (click_phases)."""
    codes = [(args.baseline, args.baseline)] if args.baseline else []
    codes += [(ref, ref) for ref in args.also]
    codes.append((None, "this tree"))
    rows = []
    with sync_playwright() as pw, contextlib.ExitStack() as stack:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n in args.sizes:
            for trial in args.trials:
                state = ExplorerState(scenario_for(trial, n), with_baseline=False)
                toggled = toggle_criterion(state)
                for ref, name in codes:
                    print(f"tracing {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
                    server = ClickRounds(stack.enter_context(checkout(ref)), state, toggled, ())
                    page = browser.new_page(viewport={"width": 1500, "height": 1000})
                    page.add_init_script(WS_TRACE)
                    page.goto(server.url + "/", wait_until="commit", timeout=TIMEOUT_MS)
                    expect(page.locator(".te-funnel").first).to_be_visible(timeout=TIMEOUT_MS)
                    server.cpu.settled(POOL_SIZE + 1)  # the refill done: clicks on a quiet kernel set
                    box = page.get_by_role("checkbox", name=re.compile(rf"^{toggled} "))
                    if state.enabled(toggled) != box.is_checked():
                        state.toggle(toggled, box.is_checked())
                    clicks = []
                    for _ in range(args.trace):
                        state.toggle(toggled, not state.enabled(toggled))
                        page.evaluate("() => { window.__teWs.length = 0; }")
                        shown = timed_update(page, box.click, f"{state.counts['eligible']:,}")
                        time.sleep(1.5)  # every message of the click in, and its background work started
                        log, origin, input_at = page.evaluate("() => [window.__teWs, window.__teOrigin, window.__te_input]")
                        clicks.append(click_phases(log, origin, input_at, shown))
                    page.close()
                    server.stop()
                    phases = {key: round(statistics.median(c[key] for c in clicks), 1) for key in clicks[0]
                              if all(c[key] is not None for c in clicks)}
                    rows.append({"code": name, "trial": trial, "subjects": n, "median": phases, "clicks": clicks,
                                 "load": round(os.getloadavg()[0], 1)})
                    print(json.dumps({k: v for k, v in rows[-1].items() if k != "clicks"}), file=sys.stderr, flush=True)
        browser.close()
    output = "dashboard.click.trace" if args.output == "dashboard.first_render" else args.output
    (RESULTS / f"{output}.json").write_text(json.dumps({"machine": {"cpus": os.cpu_count()}, "results": rows},
                                                       indent=2) + "\n")
    keys = list(rows[0]["median"])
    lines = ["One click's phases, ms from the input event (median of the clicks; the kernel's times are its messages' "
             "header dates, the page's from its own clock):", "",
             "| code | trial | subjects | " + " | ".join(keys) + " | load |", "|---|---|---|" + "---|" * (len(keys) + 1)]
    lines += [f"| {r['code']} | {r['trial']} | {r['subjects']:,} | " + " | ".join(str(r["median"].get(k, "–"))
                                                                           for k in keys) + f" | {r['load']} |"
              for r in rows]
    (RESULTS / f"{output}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def click_table(rows: list[dict]) -> list[str]:
    phases = ("during refill", "after refill", "background work", "other kernel busy", "other kernels idle")
    lines = ["Click to updated funnel (ms, median, clicks in brackets), every variant's server up at once and their "
             "rounds taken in turn. \"during refill\": clicks from the moment Voilà's refill kernel appeared after the "
             "page took its kernel; \"after refill\": once every kernel was quiet and the pool full again; \"background work\" "
             "(with --background-pace S): then clicks S seconds apart, each landing on the kernel's idle-time work for the "
             "scenario before it (the Outcomes tab's preparation, 1 s after an edit). \"other "
             "kernel busy\": the clicks, of either phase, during which another kernel used >= 20 ms of CPU.", "",
             "| code | trial | subjects | " + " | ".join(phases) + " | load (1 min) during the clicks |",
             "|---|---|---|" + "---|" * len(phases) + "---|"]
    for r in rows:
        loads = [x["load"] for x in r["rows"]]
        cells = [f"{r['clicks'][p]['median_ms']} ({r['clicks'][p]['clicks']})" if p in r["clicks"] else "–"
                 for p in phases]
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | " + " | ".join(cells)
                     + f" | {min(loads)}-{max(loads)} |")
    lines += ["", "Every click (round, phase, ms, the other kernels' CPU ms while it was timed):", ""]
    for r in rows:
        lines.append(f"- {r['code']}: " + "; ".join(f"{x['round']} {x['phase'].split()[0]} {round(x['ms'])} "
                                                    f"({x['others_cpu_ms']})" for x in r["rows"]))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--trials", nargs="+", default=TRIALS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", metavar="REF", help="also measure this git revision, first, in the same run")
    parser.add_argument("--no-cold", action="store_true", help="skip the first render without pre-heating")
    parser.add_argument("--kernel-only", action="store_true",
                        help="measure only the kernel's side (no browser): dashboard.kernel.md")
    parser.add_argument("--first-render-only", action="store_true",
                        help="measure only pre-heated first renders and what the page downloads before them "
                             "(`--repeats` pages each): dashboard.first_render.md")
    parser.add_argument("--output", default="dashboard.first_render",
                        help="with --first-render-only: the results' file name in benchmarks/results, without suffix")
    parser.add_argument("--floor", action="store_true",
                        help="with --first-render-only: also a page of two widgets under the same voila.json")
    parser.add_argument("--phases", action="store_true",
                        help="where the floor page's first render goes, under plain Voila and the tree's server: "
                             "dashboard.first_render.phases.md")
    parser.add_argument("--gzip-off", action="store_true",
                        help="with --first-render-only: also this tree with its server's gzip turned off")
    parser.add_argument("--also", action="append", default=[], metavar="REF",
                        help="with --first-render-only, --clicks or --trace: also measure this git revision (after "
                             "--baseline); "
                             "may be repeated")
    parser.add_argument("--interleave", action="store_true",
                        help="with --first-render-only: every variant's server up at once, their rounds in turn")
    parser.add_argument("--profile", action="store_true",
                        help="a V8 CPU profile of pre-heated first visits (this tree and each --variant, the first "
                             "trial and size): dashboard.first_render.profile.md")
    parser.add_argument("--clicks", type=int, default=0, metavar="N",
                        help="measure only clicks, N per phase, during and after Voila's pool refill, every variant's "
                             "server up at once and their rounds (`--repeats`) in turn: dashboard.click.md")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:OPTIONS",
                        help="with --first-render-only or --clicks: also this tree served with these server options "
                             "(split on spaces), named NAME in the table; may be repeated")
    parser.add_argument("--tabs-only", action="store_true",
                        help="measure only each tab's first chart and the Outcomes tab on edited scenarios: "
                             "dashboard.tabs.md")
    parser.add_argument("--background-pace", type=float, default=0.0, metavar="S",
                        help="with --clicks or --kernel-only: (then) as many clicks S seconds apart, each landing on the kernel's "
                             "background work for the scenario before it (2: the Outcomes tab's preparation)")
    parser.add_argument("--trace", type=int, default=0, metavar="N",
                        help="N clicks on a settled page, each split into its phases (page, socket, kernel): "
                             "dashboard.click.trace.md")
    args = parser.parse_args()
    if args.trace:
        return trace_main(args)
    if args.tabs_only:
        return tabs_main(args)
    if args.kernel_only:
        return kernel_main(args)
    if args.phases:
        return phases_main(args)
    if args.first_render_only:
        return first_render_main(args)
    if args.profile:
        if args.output == "dashboard.first_render":
            args.output = "dashboard.first_render.profile"
        return profile_main(args)
    if args.clicks:
        if args.output == "dashboard.first_render":
            args.output = "dashboard.click"
        return clicks_main(args)
    rows = []
    codes = [(args.baseline, args.baseline)] if args.baseline else []
    codes.append((None, "this tree"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n in args.sizes:
            for trial in args.trials:
                for ref, name in codes:
                    print(f"measuring {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
                    with checkout(ref) as code:
                        rows.append({"code": name, **measure(code, trial, n, args.repeats, browser,
                                                             cold=not args.no_cold)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        browser.close()
    load = os.getloadavg()
    report = {"machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(load[0], 2)}, "results": rows,
              "targets": {"first_render_preheated_s": 1.5, "click_to_update_ms_at_1e6": 50,
                          "tab_first_chart_ms": 1000, "loading_indicator_ms": 100}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = table(rows)
    (RESULTS / "dashboard.md").write_text("\n".join(lines) + f"\n\nLoad average at the end: {load[0]:.2f} "
                                           f"on {os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


# Bytes the page's own Resource Timing saw: on the wire (transferSize: headers and the body as sent, gzipped
# or not; 0 for a file from the browser's cache), by file, and the page itself.
WIRE_BYTES = """() => {
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
  return Object.fromEntries(entries.map((entry) => [entry.name, entry.transferSize]));
}"""
PLOTLY_ON_PAGE = "() => window.Plotly && window.Plotly.react"
# A page that gets a pre-heated kernel still running its notebook can stay blank (docs/architecture.md): it
# is counted as "not within" this many ms, and the run goes on.
RENDER_TIMEOUT_MS = 180_000


def dashboard_server(code: Path) -> str:
    """How `code` serves its dashboard: trial-explorer dashboard's server where the tree has one."""
    return "explorer.app.voila_server" if (code / "explorer" / "app" / "voila_server.py").exists() else "voila"


# The first render as the page itself sees it: the first animation frame in which the count and the funnel
# are laid out (ms from the navigation's start). Playwright's own checks poll at growing intervals (up to
# 500 ms apart) and run on the page's main thread, so a render followed by busy script is seen late.
# `__teCriteriaAt`: the first frame with a criterion's row too (the served dashboard sends the rows once the
# page has drawn the counts: Dashboard's `criteria_after_render`).
RENDER_WATCH = """(() => {
  const shown = (selector) => { const el = document.querySelector(selector); return el && el.getClientRects().length > 0; };
  const tick = () => {
    if (window.__teRenderedAt === undefined && shown(".te-count b") && shown(".te-funnel"))
      window.__teRenderedAt = performance.now();
    if (window.__teCriteriaAt === undefined && shown(".te-criterion-text")) window.__teCriteriaAt = performance.now();
    if (window.__teRenderedAt === undefined || window.__teCriteriaAt === undefined) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""


def visit(page, go, plotly_expected: bool, bodies_too: bool = True) -> dict:
    """One page load (`go`: a first visit or a reload; the page has RENDER_WATCH) up to the first complete
    render, then until plotly.js is on the page: seconds (the page's own clock, and as Playwright's checks saw
    it), HTTP bytes before the render (decoded, by file; on the wire in all), the websocket's bytes before it,
    and what the whole load sent by the time plotly.js ran. `bodies_too`: also read every response's body
    (the decoded bytes by file), which keeps the browser busy during the load: one round does it."""
    sizes: dict[str, int] = {}
    bodies: dict[str, bytes] = {}
    frames: list[int] = []

    def record(response):
        if not response.url.startswith("http"):  # a blob: or data: address is no download
            return
        with contextlib.suppress(Exception):  # a redirect or an aborted request has no body
            bodies[response.url] = response.body()
            sizes[response.url] = len(bodies[response.url])

    def on_websocket(ws):
        ws.on("framereceived", lambda payload: frames.append(len(payload)))

    if bodies_too:
        page.on("response", record)
    page.on("websocket", on_websocket)
    started = time.perf_counter()
    go(page)
    try:
        expect(page.locator(".te-count b").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        expect(page.locator(".te-funnel").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        polled = time.perf_counter() - started
        page.wait_for_function("() => window.__teRenderedAt !== undefined", timeout=RENDER_TIMEOUT_MS)
        elapsed = page.evaluate("() => window.__teRenderedAt") / 1000
        criteria = float("nan")
        if plotly_expected:  # the dashboard (the floor page has no criteria)
            page.wait_for_function("() => window.__teCriteriaAt !== undefined", timeout=RENDER_TIMEOUT_MS)
            criteria = page.evaluate("() => window.__teCriteriaAt") / 1000
    except (AssertionError, PlaywrightTimeout):
        elapsed = polled = criteria = float("inf")
        plotly_expected = False
    wire, websocket, before = sum(page.evaluate(WIRE_BYTES).values()), sum(frames), dict(bodies)
    http = by_resource(dict(sizes))
    plotly_after = None
    if plotly_expected and http[next(iter(RESOURCE_GROUPS))]["files"] == 0:  # else the lab extension keeps it
        started = time.perf_counter()
        try:
            page.wait_for_function(PLOTLY_ON_PAGE, timeout=60_000)
            plotly_after = round(1000 * (time.perf_counter() - started))
        except PlaywrightTimeout:  # say so in the table rather than lose the run
            plotly_after = float("inf")
    if bodies_too:
        page.remove_listener("response", record)
    page.remove_listener("websocket", on_websocket)
    return {"seconds": round(elapsed, 2), "seconds_polled": round(polled, 2), "criteria_seconds": round(criteria, 2),
            "http": http, "wire": wire, "websocket": websocket, "bodies": before,
            "plotly_after_ms": plotly_after,
            "with_plotly": {"wire": sum(page.evaluate(WIRE_BYTES).values()), "websocket": sum(frames)}}


class FirstRenders:
    """One server (`code`'s dashboard for `trial` at `n` subjects, pre-heated) and its first renders.

    Each `round()` is a first visit in a fresh browser (empty cache), then a reload of the same page, each taking a
    pre-heated kernel (the next load waits until the pool has refilled): seconds to the first complete render,
    what the page downloaded before it (HTTP by resource, decoded and on the wire, and the websocket's messages),
    when plotly.js was on the page after the render, and all the load had sent by then. `server`: the module that
    serves (default: the tree's own, dashboard_server), with `options`. Several of them can be open at once and
    their rounds taken in turn (first_render_main --interleave), so that a machine whose load changes during the
    run weighs on every variant alike."""

    def __init__(self, code: Path, trial: str, n: int, server: str | None = None, options: tuple[str, ...] = ()):
        self.trial, self.n, self.options = trial, n, options
        self.server = server or dashboard_server(code)
        query = scenario_for(trial, n).to_query() if n else ""
        self.process, self.url, self.ready, self.ready_s = start_voila(code, query, preheat=True, server=self.server,
                                                                       options=options)
        self.loads: dict[str, list[dict]] = {"first": [], "reload": []}
        self.load_average: list[float] = []  # the machine's, as each round began
        self.refilled()

    def refilled(self) -> None:
        deadline = time.monotonic() + 600
        while not self.ready.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # the pool's other kernel may still be running its notebook
        self.ready.unlink(missing_ok=True)

    def round(self, browser) -> None:
        self.load_average.append(os.getloadavg()[0])
        bodies_too = not self.loads["first"]  # the bytes by file: the first round
        page = browser.new_page(viewport={"width": 1500, "height": 1000})  # its own context: no cache
        page.add_init_script(RENDER_WATCH)  # for the reload too
        self.loads["first"].append(visit(page, lambda p: p.goto(self.url + "/", wait_until="commit",
                                                                timeout=TIMEOUT_MS), bool(self.n), bodies_too))
        self.refilled()
        self.loads["reload"].append(visit(page, lambda p: p.reload(wait_until="commit", timeout=TIMEOUT_MS),
                                          bool(self.n), bodies_too))
        page.close()
        self.refilled()

    def stop(self) -> None:
        stop(self.process)

    def result(self) -> dict:
        loads = self.loads
        # what a server that compresses (gzip level 6, as tornado's compress_response does) or a compressing
        # proxy in front of it would send of the same files
        gzipped = sum(len(gzip.compress(body, 6)) for body in loads["first"][0]["bodies"].values())
        gc.collect()

        def summary(kind: str) -> dict:
            rows = loads[kind]
            plotly = [r["plotly_after_ms"] for r in rows if r["plotly_after_ms"] is not None]
            return {"first_render_s": {"median": round(statistics.median(r["seconds"] for r in rows), 2),
                                       "all": [r["seconds"] for r in rows]},
                    "first_render_polled_s": {"median": round(statistics.median(r["seconds_polled"] for r in rows), 2),
                                              "all": [r["seconds_polled"] for r in rows]},
                    "criteria_shown_s": {"median": round(statistics.median(r["criteria_seconds"] for r in rows), 2),
                                         "all": [r["criteria_seconds"] for r in rows]},
                    "http_wire_bytes_first_render": int(statistics.median(r["wire"] for r in rows)),
                    "websocket_bytes_first_render": int(statistics.median(r["websocket"] for r in rows)),
                    "plotly_js_ready_after_render_ms": statistics.median(plotly) if plotly else None,
                    "with_plotly_js": {k: int(statistics.median(r["with_plotly"][k] for r in rows))
                                       for k in ("wire", "websocket")}}

        first = summary("first")
        return {"trial": self.trial, "subjects": self.n, "server": " ".join([self.server, *self.options]),
                "server_start_to_ready_s": round(self.ready_s, 2),
                "first_render_preheated_s": first["first_render_s"],
                "first_render_polled_s": first["first_render_polled_s"], "criteria_shown_s": first["criteria_shown_s"],
                "http_bytes_first_render": loads["first"][0]["http"], "http_bytes_first_render_gzipped": gzipped,
                "http_wire_bytes_first_render": first["http_wire_bytes_first_render"],
                "websocket_bytes_first_render": first["websocket_bytes_first_render"],
                "plotly_js_ready_after_render_ms": first["plotly_js_ready_after_render_ms"],
                "with_plotly_js": first["with_plotly_js"], "reload": summary("reload"),
                "load_average_at_rounds": [round(x, 1) for x in self.load_average]}


def first_render(code: Path, trial: str, n: int, repeats: int, browser, server: str | None = None,
                 options: tuple[str, ...] = ()) -> dict:
    """`repeats` rounds of FirstRenders on one server, then its result."""
    renders = FirstRenders(code, trial, n, server, options)
    try:
        for _ in range(repeats):
            renders.round(browser)
    finally:
        renders.stop()
    return renders.result()


# Where a first render's time goes, in the page's own clock (ms from the navigation's start), for the floor page
# and the dashboard in the same run (`--phases`, dashboard.first_render.phases.md):
#   html               the page's HTML received (Navigation Timing responseEnd)
#   css_fetched        the last stylesheet fetched before the page's scripts run (the lab theme, voila-style)
#   load_event         the window's load event: Voilà's application starts only then (its main() listens for it),
#                      after every script, stylesheet and image the HTML names has arrived
#   app_fetched        the last of Voilà's own chunks (voila/static) fetched before the kernel is asked for
#   extensions_fetched the last lab extension file (ipywidgets, anywidget, Voilà's widget manager) before it
#   kernel_requested   the page asks the server for its (pre-heated) kernel
#   websocket_open     the kernel's websocket open
#   kernel_ready       the kernel's first kernel_info_reply on it
#   states_requested   the widget manager asks for every widget's state (comm_open on jupyter.widget.control)
#   states_received    the answer (the largest message before the render): `states_kb` its size
#   first_view         the first widget view in the page (a .jupyter-widgets element)
#   render             the count and the funnel laid out (RENDER_WATCH)
#   criteria_shown     the first criterion's row in the page (the served dashboard sends the rows after the
#                      page has drawn the counts: Dashboard's `criteria_after_render`)
# plus `scripts` (files / kB decoded), `script_ms_before_kernel` and `script_ms_after_kernel`: the main thread's
# long tasks (over 50 ms: script evaluation, style and layout) before and after the kernel request, summed.
PHASES_INIT = r"""(() => {
  const p = window.__tePhases = { longTasks: [], sent: [], received: [] };
  new PerformanceObserver((list) => list.getEntries().forEach((e) => p.longTasks.push([e.startTime, e.duration])))
    .observe({ type: "longtask", buffered: true });
  const kind = (data) => {  // the message's type and, for a comm_open, its target: from the first 4 kB of its text
    let text = "";
    try { text = typeof data === "string" ? data.slice(0, 4096)
                : new TextDecoder().decode(new Uint8Array(data instanceof ArrayBuffer ? data : data.buffer).slice(0, 4096)); }
    catch (e) { return "?"; }
    const type = (text.match(/"msg_type"\s*:\s*"(\w+)"/) || [])[1] || "?";
    const target = (text.match(/"target_name"\s*:\s*"([\w.]+)"/) || [])[1];
    return target ? `${type}:${target}` : type;
  };
  const size = (data) => typeof data === "string" ? data.length : (data.byteLength ?? data.size ?? 0);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      if (String(args[0]).includes("/api/kernels/")) {
        p.created ??= performance.now();
        this.addEventListener("open", () => { p.open ??= performance.now(); });
        this.addEventListener("message", (e) => p.received.push([performance.now(), size(e.data), kind(e.data)]));
      }
    }
    send(data) {
      if (String(this.url).includes("/api/kernels/")) p.sent.push([performance.now(), size(data), kind(data)]);
      return super.send(data);
    }
  };
  new MutationObserver((records, observer) => {
    if (p.firstView === undefined && document.querySelector(".jupyter-widgets")) p.firstView = performance.now();
    if (p.criteria === undefined && document.querySelector(".te-criterion-text")) p.criteria = performance.now();
    if (p.firstView !== undefined && p.criteria !== undefined) observer.disconnect();
  }).observe(document, { childList: true, subtree: true });
})();"""
PHASES = """() => {
  const p = window.__tePhases, nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const end = (keep) => Math.max(0, ...res.filter(keep).map((r) => r.responseEnd));
  const kernel = Math.min(1e9, ...res.filter((r) => r.name.includes("/api/kernels")).map((r) => r.startTime));
  const render = window.__teRenderedAt ?? NaN;
  const before = p.received.filter(([t]) => t <= render);
  const states = before.reduce((a, b) => (b[1] > a[1] ? b : a), [NaN, 0, ""]);
  const first = (list, type) => (list.find(([, , k]) => k.startsWith(type)) || [NaN])[0];
  const scripts = res.filter((r) => r.initiatorType === "script" || /\\.js(\\?|$)/.test(r.name));
  const busy = (from, to) => p.longTasks.filter(([t]) => t >= from && t < to).reduce((a, [, d]) => a + d, 0);
  return {
    html: nav.responseEnd,
    css_fetched: end((r) => /\\.css(\\?|$)/.test(r.name) || r.name.includes("voila-style")),
    load_event: nav.loadEventStart,
    app_fetched: end((r) => r.name.includes("/voila/static/") && r.startTime < kernel),
    extensions_fetched: end((r) => r.name.includes("/voila/labextensions/") && r.startTime < kernel),
    kernel_requested: kernel,
    websocket_open: p.open ?? NaN,
    kernel_ready: first(p.received, "kernel_info_reply"),
    states_requested: first(p.sent, "comm_open:jupyter.widget.control"),
    states_received: states[0],
    states_kb: states[1] / 1000,
    messages_before_render: before.length,
    kb_received_before_render: before.reduce((a, [, s]) => a + s, 0) / 1000,
    first_view: p.firstView ?? NaN,
    render,
    criteria_shown: p.criteria ?? NaN,
    scripts: scripts.length,
    scripts_kb: scripts.reduce((a, r) => a + r.decodedBodySize, 0) / 1000,
    script_ms_before_kernel: busy(0, kernel),
    script_ms_after_kernel: busy(kernel, render),
  };
}"""


def phases(code: Path, trial: str, n: int, repeats: int, browser, server: str,
           options: tuple[str, ...] = ()) -> dict:
    """`repeats` times, a first visit (fresh browser) and a reload: the moments of PHASES; medians and all."""
    query = scenario_for(trial, n).to_query() if n else ""
    process, url, ready, _ = start_voila(code, query, preheat=True, server=server, options=options)
    loads: dict[str, list[dict]] = {"first": [], "reload": []}
    try:
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.add_init_script(PHASES_INIT)
            page.add_init_script(RENDER_WATCH)
            for kind in loads:
                while not ready.exists():
                    time.sleep(0.2)
                time.sleep(3)  # the pool's other kernel may still be running its notebook
                ready.unlink(missing_ok=True)
                if kind == "first":
                    page.goto(url + "/", wait_until="commit", timeout=TIMEOUT_MS)
                else:
                    page.reload(wait_until="commit", timeout=TIMEOUT_MS)
                page.wait_for_function("() => window.__teRenderedAt !== undefined", timeout=RENDER_TIMEOUT_MS)
                page.wait_for_function("() => document.readyState === 'complete'", timeout=RENDER_TIMEOUT_MS)
                if n:
                    page.wait_for_function("() => window.__tePhases.criteria !== undefined", timeout=RENDER_TIMEOUT_MS)
                loads[kind].append({"load_average": os.getloadavg()[0], **page.evaluate(PHASES)})
            page.close()
    finally:
        stop(process)

    def median(rows: list[dict], key: str) -> float:
        values = [r[key] for r in rows if r[key] == r[key]]  # NaN: the moment did not happen
        return round(statistics.median(values), 1) if values else float("nan")

    return {"trial": trial, "subjects": n, "server": " ".join([server, *options]),
            **{kind: {k: median(rows, k) for k in rows[0]} for kind, rows in loads.items()}, "all": loads}


def phases_main(args) -> int:
    """The floor page and the dashboard (each trial and size asked for), each code (`--baseline`, this tree,
    `--variant`s), one after another: the moments of PHASES, first visit and reload."""
    codes = [(args.baseline, args.baseline, ())] if args.baseline else []
    codes.append((None, "this tree", ()))
    codes += [(None, f"this tree, {name}", tuple(options.split()))
              for name, options in (variant.split(":", 1) for variant in args.variant)]
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for ref, name, options in codes:
            with checkout(ref) as code:
                print(f"phases, {name}: the floor (two widgets)...", file=sys.stderr, flush=True)
                with floor_code(code) as floor:
                    rows.append({"code": f"{name}: floor (two widgets)",
                                 **phases(floor, "–", 0, args.repeats, browser, dashboard_server(code), options)})
                for n in args.sizes:
                    for trial in args.trials:
                        print(f"phases, {name}: {trial} at {n:,}...", file=sys.stderr, flush=True)
                        rows.append({"code": name, **phases(code, trial, n, args.repeats, browser,
                                                            dashboard_server(code), options)})
        browser.close()
    load = os.getloadavg()
    keys = [k for k in rows[0]["first"] if k != "load_average"]
    lines = ["Moments of a first render, ms from the navigation's start in the page's own clock (medians; "
             "PHASES in bench_dashboard.py says what each is):", "",
             "| code | trial | subjects | visit | load | " + " | ".join(keys) + " |",
             "|---|---|---|---|---|" + "---|" * len(keys)]
    for r in rows:
        for kind in ("first", "reload"):
            lines.append(f"| {r['code']} | {r['trial']} | {subjects(r)} | {kind} | {r[kind]['load_average']:.1f} | "
                         + " | ".join(f"{r[kind][k]:.0f}" if k not in ("states_kb", "scripts_kb",
                                                                       "kb_received_before_render")
                                      else f"{r[kind][k]:.1f}" for k in keys) + " |")
    output = "dashboard.first_render.phases" if args.output == "dashboard.first_render" else args.output
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{output}.json").write_text(json.dumps(
        {"machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(load[0], 2)}, "results": rows},
        indent=2) + "\n")
    (RESULTS / f"{output}.md").write_text("\n".join(lines) + f"\n\nLoad average at the end: "
                                          f"{load[0]:.2f} on {os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


# The floor: Voilà with this tree's voila.json serving a page of two small widgets that carry what
# open_page waits for. Whatever the dashboard's first render costs above it is ours.
FLOOR_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "floor", "metadata": {}, "outputs": [],
               "source": "import os, pathlib\nimport ipywidgets as w\n"
                         "display(w.VBox([w.HTML(\"<span class='te-count'><b>1</b></span>\"),\n"
                         "                w.HTML(\"<div class='te-funnel'>funnel</div>\")]))\n"
                         "pathlib.Path(os.environ['TRIAL_EXPLORER_READY_FILE']).touch()\n"}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}


@contextlib.contextmanager
def floor_code(code: Path = ROOT):
    """The floor page in a folder of its own, with `code`'s voila.json."""
    folder = Path(tempfile.mkdtemp(prefix="bench-dashboard-floor-"))
    (folder / "notebooks").mkdir()
    (folder / "notebooks" / "dashboard.ipynb").write_text(json.dumps(FLOOR_NOTEBOOK))
    shutil.copy(code / "voila.json", folder / "voila.json")
    (folder / "explorer").symlink_to(code / "explorer")  # the server module of `code`, first on PYTHONPATH
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def subjects(row: dict) -> str:
    return f"{row['subjects']:,}" if row["subjects"] else "–"


def _ms(value) -> str:
    return "–" if value is None else "not within 60 s" if value == float("inf") else str(round(value))


def first_render_table(rows: list[dict]) -> list[str]:
    lines = ["First visit (a fresh browser, nothing cached). The first render is the page's own clock (RENDER_WATCH): "
             "the first frame with the count and funnel laid out, from the navigation's start; \"polled\" is when "
             "Playwright's checks saw it (they poll at growing intervals and wait for the page's main thread).", "",
             "| code | server | trial | subjects | first render, pre-heated (s, median) | all (s) | criteria's rows shown (s, median) | polled (s, median) | HTTP bytes before "
             "first render (decoded) | of which plotly.js | the same gzipped (level 6) | HTTP bytes on the wire "
             "before first render | websocket bytes before first render | plotly.js on the page after the render "
             "(ms) | the load by then: HTTP on the wire + websocket |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        http = r["http_bytes_first_render"]
        plotly = http["plotly.js (jupyterlab-plotly lab extension)"]["bytes"]
        whole = r.get("with_plotly_js")
        by_then = f"{whole['wire']:,} + {whole['websocket']:,}" if whole else "–"
        lines.append(f"| {r['code']} | {r.get('server', 'voila')} | {r['trial']} | {subjects(r)} | "
                     f"{r['first_render_preheated_s']['median']} | {', '.join(map(str, r['first_render_preheated_s']['all']))} | "
                     f"{r.get('criteria_shown_s', {}).get('median', '–')} | "
                     f"{r.get('first_render_polled_s', {}).get('median', '–')} | "
                     f"{sum(g['bytes'] for g in http.values()):,} | {plotly:,} | {r['http_bytes_first_render_gzipped']:,} | "
                     f"{r.get('http_wire_bytes_first_render', 0):,} | {r['websocket_bytes_first_render']:,} | "
                     f"{_ms(r['plotly_js_ready_after_render_ms'])} | "
                     f"{by_then} |")
    lines += ["", "Reload of the same page (the browser's cache as it left it):", "",
              "| code | server | trial | subjects | first render, pre-heated (s, median) | all (s) | criteria's rows shown (s, median) | polled (s, median) | "
              "HTTP bytes on the wire before first render | websocket bytes before first render | plotly.js on the page "
              "after the render (ms) | the load by then: HTTP on the wire + websocket |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "reload" not in r:
            continue
        x = r["reload"]
        lines.append(f"| {r['code']} | {r.get('server', 'voila')} | {r['trial']} | {subjects(r)} | "
                     f"{x['first_render_s']['median']} | {', '.join(map(str, x['first_render_s']['all']))} | "
                     f"{x.get('criteria_shown_s', {}).get('median', '–')} | "
                     f"{x.get('first_render_polled_s', {}).get('median', '–')} | "
                     f"{x['http_wire_bytes_first_render']:,} | {x['websocket_bytes_first_render']:,} | "
                     f"{_ms(x['plotly_js_ready_after_render_ms'])} | "
                     f"{x['with_plotly_js']['wire']:,} + {x['with_plotly_js']['websocket']:,} |")
    lines += ["", "HTTP bytes before the first render (first visit, decoded), by resource (files, bytes):", "",
              "| code | server | trial | subjects | " + " | ".join(RESOURCE_GROUPS) + " |",
              "|---|---|---|---|" + "---|" * len(RESOURCE_GROUPS)]
    for r in rows:
        http = r["http_bytes_first_render"]
        lines.append(f"| {r['code']} | {r.get('server', 'voila')} | {r['trial']} | {subjects(r)} | "
                     + " | ".join(f"{http[g]['files']}: {http[g]['bytes']:,}" for g in RESOURCE_GROUPS) + " |")
    return lines


def first_render_main(args) -> int:
    rows = []
    codes = [(args.baseline, args.baseline, ())] if args.baseline else []
    codes += [(ref, ref, ()) for ref in args.also]
    codes.append((None, "this tree", ()))
    if args.gzip_off:
        codes.append((None, "this tree, gzip off", ("--DashboardVoila.compress=False",)))
    codes += [(None, f"this tree, {name}", tuple(options.split()))
              for name, options in (variant.split(":", 1) for variant in args.variant)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        if args.floor:
            # the two-widget page under plain Voilà and under this tree's server
            for server in dict.fromkeys(["voila", dashboard_server(ROOT)]):
                print(f"first render, the floor (two widgets, {server})...", file=sys.stderr, flush=True)
                with floor_code() as code:
                    rows.append({"code": "floor: two widgets",
                                 **first_render(code, "–", 0, args.repeats, browser, server=server)})
        for n in args.sizes:
            for trial in args.trials:
                if args.interleave:
                    rows += interleaved(codes, trial, n, args.repeats, browser)
                    continue
                for ref, name, options in codes:
                    print(f"first render, {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
                    with checkout(ref) as code:
                        rows.append({"code": name, **first_render(code, trial, n, args.repeats, browser,
                                                                   options=options)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        browser.close()
    load = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps(
        {"machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(load[0], 2)}, "results": rows,
         "targets": {"first_render_preheated_s": 1.5}}, indent=2) + "\n")
    lines = first_render_table(rows)
    loads = [x for r in rows for x in r.get("load_average_at_rounds", [])]
    if loads:
        lines += ["", f"Load average (1 min) as the rounds began: {min(loads)}-{max(loads)}, median "
                      f"{statistics.median(loads)}."]
    if args.interleave:
        lines = ["Every variant's server was up at once and the rounds (a first visit, then a reload) were taken in "
                 "turn, variant after variant, so that the machine's load weighs on all alike.", "", *lines]
    (RESULTS / f"{args.output}.md").write_text("\n".join(lines) + f"\n\nLoad average at the end: "
                                                f"{load[0]:.2f} on {os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


def interleaved(codes: list, trial: str, n: int, repeats: int, browser) -> list[dict]:
    """Every code's server up at once, a round of each in turn, `repeats` times: rows as first_render's."""
    with contextlib.ExitStack() as stack:
        renders = []
        for ref, name, options in codes:
            print(f"starting {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
            code = stack.enter_context(checkout(ref))
            renders.append((name, FirstRenders(code, trial, n, options=options)))
            stack.callback(renders[-1][1].stop)
        for repeat in range(repeats):
            for name, render in renders:
                print(f"round {repeat + 1} of {repeats}, {name}: load {os.getloadavg()[0]:.1f}", file=sys.stderr,
                      flush=True)
                render.round(browser)
        rows = [{"code": name, **render.result()} for name, render in renders]
    for row in rows:
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def kernel_main(args) -> int:
    rows = []
    codes = [(args.baseline, args.baseline)] if args.baseline else []
    codes.append((None, "this tree"))
    for n in args.sizes:
        for trial in args.trials:
            for ref, name in codes:
                print(f"kernel side, {name}: {trial} at {n:,} subjects...", file=sys.stderr, flush=True)
                with checkout(ref) as code:
                    rows.append({"code": name, "trial": trial, "subjects": n,
                                 "kernel": kernel_side(code, trial, n, args.repeats, args.background_pace)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    load = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = ("dashboard.kernel.background" if args.background_pace else "dashboard.kernel") \
        if args.output == "dashboard.first_render" else args.output
    (RESULTS / f"{output}.json").write_text(json.dumps(
        {"machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(load[0], 2)}, "results": rows},
        indent=2) + "\n")
    lines = background_table(rows) if args.background_pace else kernel_table(rows)
    (RESULTS / f"{output}.md").write_text("\n".join(lines).lstrip() + f"\n\nLoad average at the end: "
                                                  f"{load[0]:.2f} on {os.cpu_count()} CPUs.\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
