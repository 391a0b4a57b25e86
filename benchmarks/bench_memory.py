"""Peak resident memory of a process holding a dashboard state (ExplorerState) on a synthetic cohort.

Each measurement runs in a fresh interpreter: it builds the state on the synthetic t1d population
(NCT06196996; the funnel is computed), toggles criteria off and on, changes a threshold twice, then reports
its resident memory after each step (VmRSS), its peak (ru_maxrss) and what the state holds (features frame,
events, the status matrix), with the counts it showed, so the before and after runs can be compared.

`--baseline REF` runs the same child with the code of a git revision (checked out into a temporary
worktree, put first on PYTHONPATH) in the same run, before this working tree's. Sizes run one at a time;
a code's run is skipped (and said so) when less memory is available than that code's peak at the previous
size times ten plus 1 GB, so that a run never takes the memory other work on the machine is using.

    nice -n 10 .venv/bin/python benchmarks/bench_memory.py [--sizes 1e6 1e7] [--engines memory duckdb]
        [--baseline main] [--out memory] [--quick]

Writes benchmarks/results/<out>.json and <out>.md.

    nice -n 10 .venv/bin/python benchmarks/bench_memory.py --edits FOLDER [--baseline REF] [--out edits_sql]

times threshold edits over a screening folder instead (edits_runs): each parameter set three times in a row, so
the first and the later edits of one criterion are apart, for the memory engine, DuckDB with the baseline code
and DuckDB with this tree's, in one run.

    nice -n 10 .venv/bin/python benchmarks/bench_memory.py --table-sizes FOLDER [--baseline REF] [--out NAME]

counts the rows of each edit table of the bundled trials over a folder (table_sizes_runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    RESULTS,
    checkout,
    descendants,
    jvm_heap,
    jvm_pid,
    machine,
    mem_available_gb,
    process_figures,
)

TRIAL = "NCT06196996"
POPULATION = "t1d"
SEED = 0
STEP_MARK = "bench-memory step: "  # a folder child's step on its stderr
EDIT_MARK = "bench-memory edit: "  # an edits child's edit on its stderr


def _resident_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def child(n: int, engine: str) -> dict:
    """One state, step by step: (step, resident MB, peak MB so far, seconds) and the counts shown."""
    from explorer.app.scenario import DataSource, Scenario
    from explorer.app.state import ExplorerState

    steps, start = [], time.perf_counter()

    def step(name: str) -> None:
        steps.append({"step": name, "resident_mb": round(_resident_mb()),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "seconds": round(time.perf_counter() - start, 1)})

    step("imports")
    source = DataSource("synthetic", POPULATION, n, SEED)
    if engine != "memory":
        source = DataSource("synthetic", POPULATION, n, SEED, engine=engine)
    state = ExplorerState(Scenario(trial=TRIAL, data=source), with_baseline=False)
    step("state built (funnel)")
    shown = [dict(state.counts)]
    for criterion, on in (("I2", False), ("E3", False), ("I2", True)):
        state.toggle(criterion, on)
        shown.append(dict(state.counts))
    step("three toggles")
    for factor in (1.05, 1.10):
        state.set_parameter("I1", "age_min", 6.0 * factor)
        shown.append(dict(state.counts))
    step("two threshold changes")
    held = {"matrix": type(state.matrix).__name__}
    screening = state.screening
    if hasattr(screening, "features"):
        held["features_mb"] = round(screening.features.memory_usage(deep=True).sum() / 1e6)
        held["features_columns"] = len(screening.features.columns)
        held["events_mb"] = round(screening.events.memory_usage(deep=True).sum() / 1e6)
        held["missing_reasons_mb"] = (None if screening.missing_reasons is None else
                                      round(screening.missing_reasons.memory_usage(deep=True).sum() / 1e6))
    return {"n": n, "engine": engine, "steps": steps, "held": held, "counts": shown}


def run_child(code: Path, n: int, engine: str, log) -> dict:
    """The child in a fresh interpreter with `code`'s package first on the path (this tree or a baseline)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, __file__, "--child", str(n), engine], capture_output=True, text=True,
                          cwd=code, env=env)
    log.write(done.stderr)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        return {"n": n, "engine": engine, "error": last}
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Memory of a process holding a dashboard state ({TRIAL}, synthetic {POPULATION}, seed {SEED})", "",
             f"{m['machine']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']} | run {report['run']} | "
             f"load average at start {m['load']} | one child at a time, under `nice -n 10`", "",
             "| subjects | engine | code | peak resident | resident after the edits | features frame | events | "
             "missing reasons | time | counts equal to the baseline's |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"| {row['n']:,} | {row['engine']} | {row['code']} | {row['error']} | | | | | | |")
            continue
        last, held = row["steps"][-1], row["held"]

        def mb(key, held=held):
            return "-" if held.get(key) is None else f"{held[key]:,} MB"

        lines.append(f"| {row['n']:,} | {row['engine']} | {row['code']} | **{last['peak_mb']:,} MB** | "
                     f"{last['resident_mb']:,} MB | {mb('features_mb')} ({held.get('features_columns', '-')} "
                     f"columns) | {mb('events_mb')} | {mb('missing_reasons_mb')} | {last['seconds']:.0f} s | "
                     f"{row.get('same_counts', '-')} |")
    lines += ["", "Per step (resident / peak so far, MB; the JVM's apart):", ""]
    for row in report["rows"]:
        if "steps" in row:
            parts = "; ".join(f"{s['step']}: {s['resident_mb']:,} / {s['peak_mb']:,}" for s in row["steps"])
            lines.append(f"- {row['n']:,} {row['engine']} {row['code']}: {parts}")
    lines += ["", "## Notes", "",
              "- peak resident: the child's ru_maxrss (its whole life: generating the cohort, evaluating, the edits); "
              "resident: VmRSS after the step. Freed memory that the allocators keep for reuse stays in VmRSS.",
              "- counts: the eligible / possibly eligible counts after each of the six edits, compared with the "
              "baseline's at the same size and engine.",
              *[f"- {note}" for note in report.get("notes", [])]]
    return "\n".join(lines) + "\n"


# --- a state over a screening folder read in place (DuckDB, Spark) against the memory engine ----------------

WARM_TIMEOUT = 1800.0  # seconds the folder child waits for the edit tables' warm-up after the last edit
FOLDER_EDITS = (("toggle", "I2", False), ("toggle", "E3", False), ("toggle", "I2", True),
                ("threshold", "I1", "age_min", 6.3), ("threshold", "I1", "age_min", 6.6))


def _children_mb() -> tuple[float, float]:
    """Resident and peak resident MB (VmRSS, VmHWM) of this process's descendants (Spark's JVM), which
    ru_maxrss of this process leaves out."""
    figures = []
    for pid in descendants():
        try:
            figures.append(process_figures(pid))
        except OSError:  # a descendant that ended meanwhile
            continue
    return round(sum(f["rss_mb"] for f in figures)), round(sum(f["peak_mb"] for f in figures))


def folder_child(folder: str, engine: str) -> dict:
    """A state over a screening folder with `engine`: open (funnel), three toggles, two threshold changes;
    resident and peak MB of this process after each step, the JVM's apart, and the counts shown."""
    from explorer.app.scenario import Scenario
    from explorer.app.state import ExplorerState
    from explorer.sources import DataSource

    steps, start = [], time.perf_counter()

    def step(name: str) -> None:
        children, children_peak = _children_mb()
        steps.append({"step": name, "resident_mb": round(_resident_mb()),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "children_mb": children, "children_peak_mb": children_peak,
                      "seconds": round(time.perf_counter() - start, 1)})
        # each step as it ends, so a run stopped at its time limit keeps what it measured (folder_runs)
        print(STEP_MARK + json.dumps(steps[-1]), file=sys.stderr, flush=True)

    step("imports")
    state = ExplorerState(Scenario(trial=TRIAL, data=DataSource("path", path=folder, engine=engine)),
                          with_baseline=False)
    step("state built (funnel)")
    shown = [dict(state.counts)]
    for edit in FOLDER_EDITS:
        if edit[0] == "toggle":
            state.toggle(edit[1], edit[2])
        else:
            state.set_parameter(edit[1], edit[2], edit[3])
        shown.append(dict(state.counts))
        step(" ".join(map(str, edit)))
    # as a user holds it: the state has stood, so the background warm-up has taken its edit tables (up to 256 MB
    # a source); the memory engine has none to take and returns at once
    from explorer.engine.edit_warmup import WARMER
    warmed = WARMER.wait_idle(timeout=WARM_TIMEOUT)
    step("warm caches (edit tables taken)" if warmed else f"warm-up still running after {WARM_TIMEOUT:.0f} s")
    jvm = jvm_pid()
    return {"folder": folder, "engine": engine, "matrix": type(state.matrix).__name__, "steps": steps,
            "counts": shown, **({"jvm_heap": jvm_heap(jvm)} if jvm else {})}


def folder_runs(folders: list[str], engines: list[str], out: str, timeout: float | None = None,
                baseline: str | None = None) -> None:
    """Each folder with each engine in a fresh interpreter; counts compared with the first engine's. A child
    still running after `timeout` seconds is stopped; its row keeps the steps it had finished. With `baseline`
    (a git revision), each engine runs first with that revision's code (its package first on PYTHONPATH), then
    with this tree's: before and after in one run."""
    report = {"machine": machine(), "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [],
              "baseline": baseline}
    log = open(RESULTS / f"{out}.log", "w")  # noqa: SIM115 - the children's stderr, for the whole run
    with checkout(baseline) as before:
        codes = ([(f" (before: {baseline})", before)] if baseline else []) + [("", None)]
        for folder in folders:
            for engine in engines:
                for label, code in codes:
                    _folder_run(report, log, folder, engine, label, code, timeout, out)
    log.close()


def _folder_run(report: dict, log, folder: str, engine: str, label: str, code: Path | None,
                timeout: float | None, out: str) -> None:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])
    first = next((r["counts"] for r in report["rows"] if r["folder"] == folder and "counts" in r), None)
    try:
        done = subprocess.run([sys.executable, __file__, "--folder-child", folder, engine],
                              capture_output=True, text=True, cwd=Path(__file__).parent, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired as stopped:
        err = stopped.stderr.decode() if isinstance(stopped.stderr, bytes) else (stopped.stderr or "")
        log.write(err)
        steps = [json.loads(line[len(STEP_MARK):]) for line in err.splitlines() if line.startswith(STEP_MARK)]
        row = {"folder": folder, "engine": engine, "steps": steps,
               "error": f"stopped after {timeout:.0f} s, {len(steps)} steps done"}
    else:
        log.write(done.stderr)
        if done.returncode != 0:
            row = {"folder": folder, "engine": engine, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        else:
            row = json.loads(done.stdout.strip().splitlines()[-1])
            if first is not None:
                row["same_counts"] = "yes" if row["counts"] == first else "NO"
    row["engine"] = engine + label
    report["rows"].append(row)  # saved below whatever happened, a stopped child's steps too
    print(json.dumps({k: v for k, v in row.items() if k != "counts"}), flush=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (RESULTS / f"{out}.md").write_text(folder_markdown(report), encoding="utf-8")


def folder_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Memory of a process holding a dashboard state over a screening folder ({TRIAL})", "",
             f"{m['machine']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']} | run {report['run']} | "
             f"load average at start {m['load']} | one child at a time, under `nice -n 10`", "",
             "| folder | engine | held | peak resident (Python process) | resident after the edits | "
             "JVM resident (after) | JVM peak resident | Python + JVM resident (after) | JVM heap limit | open | "
             "each edit | counts equal to the first engine's |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for row in report["rows"]:
        if "error" in row:
            last = row.get("steps") or [{}]
            lines.append(f"| {row['folder']} | {row['engine']} | {row['error']} | {last[-1].get('peak_mb', '-')} MB "
                         f"(so far) | {last[-1].get('resident_mb', '-')} MB (last step) | "
                         f"{last[-1].get('children_mb', '-')} MB | {last[-1].get('children_peak_mb', '-')} MB | | | | | |")
            continue
        s = row["steps"]
        edited = s[1:2 + len(FOLDER_EDITS)]  # the state built, then one step per edit (the warm-up's wait apart)
        edits = [b["seconds"] - a["seconds"] for a, b in zip(edited, edited[1:], strict=False)]
        lines.append(f"| {row['folder']} ({row['counts'][0].get('screened', 0):,}) | {row['engine']} | {row['matrix']} | "
                     f"**{s[-1]['peak_mb']:,} MB** | {s[-1]['resident_mb']:,} MB | {s[-1]['children_mb']:,} MB | "
                     f"{s[-1].get('children_peak_mb', '-'):,} MB | "
                     f"**{s[-1]['resident_mb'] + s[-1]['children_mb']:,} MB** | {row.get('jvm_heap', '-')} | "
                     f"{s[1]['seconds'] - s[0]['seconds']:.1f} s | {min(edits):.1f}-{max(edits):.1f} s | "
                     f"{row.get('same_counts', '(first)')} |")
    lines += ["", "Per step (resident / peak so far, MB; the JVM's apart):", ""]
    for row in report["rows"]:
        if "steps" in row:
            lines.append(f"- {row['folder']} {row['engine']}: " + "; ".join(
                f"{s['step']}: {s['resident_mb']:,} / {s['peak_mb']:,}"
                + (f" (JVM {s['children_mb']:,} / {s['children_peak_mb']:,})" if s.get("children_mb") else "")
                for s in row["steps"]))
    return "\n".join(lines) + "\n"


# --- threshold edits over a folder: first and later edits of one criterion (results/edits_sql.md) ---------------
# three values per parameter, set one after another, the last away from the trial's value (so the next criterion's
# table is one of a new state, which the warm-up must take again); I5's she_year_min is a count's threshold
# (arithmetic on a table since the count became a value column), E10's window_days a count's window (a table of the
# latest events since edit_rule.window_counts)
EDIT_RUNS = (("I1", "age_min", (18.0, 12.0, 10.0)), ("I2", "hba1c_min", (8.0, 7.0, 7.2)),
             ("E9", "uric_acid_max", (500.0, 600.0, 560.0)), ("E5", "remission_min", (2.0, 0.5, 1.5)),
             ("E4", "uln_multiple", (3.0, 2.5, 3.5)), ("I5", "duration_min", (2.0, 0.5, 1.5)),
             ("I5", "she_year_min", (1.0, 3.0, 4.0)), ("E10", "window_days", (180.0, 365.0, 91.0)))
EDIT_MODES = {"memory": "memory", "duckdb before": "duckdb", "duckdb after": "duckdb"}


def edits_child(folder: str, engine: str, criteria: list[str] | None = None) -> dict:
    """A state over a screening folder with `engine`; each parameter of EDIT_RUNS set three times in a row: the
    seconds of each edit, how the histogram answered it (explorer.engine.edit_histogram; absent before it), counts.

    Where the state warms its edit tables (EditTables.wait_warm exists), the child waits for the warm-up after the
    source opens and before the first edit of each parameter (untimed, but its wall and CPU seconds are recorded):
    a user who looks at the funnel for as long as the warm-up takes before moving to the next criterion. Timed edits
    of one parameter follow each other within milliseconds, under the warm-up's delay (WARM_DELAY), so its queries
    do not run during them; CPU seconds are the whole process's, the warm-up thread's included."""
    from explorer.app.scenario import Scenario
    from explorer.app.state import ExplorerState
    from explorer.sources import DataSource

    start = time.perf_counter()
    state = ExplorerState(Scenario(trial=TRIAL, data=DataSource("path", path=folder, engine=engine)),
                          with_baseline=False)
    rows, shown, warms = [], [dict(state.counts)], []
    opened = time.perf_counter() - start

    def warm() -> None:
        edits = getattr(state.matrix, "edits", None)
        if edits is None or not hasattr(edits, "wait_warm"):
            return
        started, cpu = time.perf_counter(), time.process_time()
        edits.wait_warm()
        warms.append({"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
                      "tables_mb": edits.nbytes / 2**20, "resident_mb": _resident_mb()})

    for criterion, parameter, values in EDIT_RUNS:
        if criteria and criterion not in criteria:
            continue
        warm()
        for i, value in enumerate(values):
            started, cpu = time.perf_counter(), time.process_time()  # CPU of every thread (DuckDB's too)
            assert state.set_parameter(criterion, parameter, value), state.error
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            edits = getattr(state.matrix, "edits", None)
            rows.append({"criterion": criterion, "parameter": parameter, "value": value, "edit": i + 1,
                         "seconds": seconds, "cpu_s": cpu,
                         "answer": getattr(edits, "last", "") if edits is not None else ""})
            # each edit as it ends, so a run stopped at its time limit keeps what it measured (edits_by_size_runs)
            print(EDIT_MARK + json.dumps(rows[-1]), file=sys.stderr, flush=True)
            shown.append(dict(state.counts))
    return {"folder": folder, "engine": engine, "open_s": opened, "edits": rows, "counts": shown, "warms": warms,
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def edits_runs(folder: str, baseline: str, out: str) -> None:
    """In one run, each in a fresh interpreter: the memory engine, DuckDB with the `baseline` code, DuckDB with
    this tree's (edit tables warmed ahead)."""
    report = {"machine": machine(), "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "baseline": baseline,
              "rows": []}
    log = open(RESULTS / f"{out}.log", "w")  # noqa: SIM115 - the children's stderr, for the whole run
    for label, engine in EDIT_MODES.items():
        ref = baseline if label == "duckdb before" else None
        with checkout(ref) as code:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
            load = os.getloadavg()
            done = subprocess.run([sys.executable, __file__, "--edits-child", folder, engine], capture_output=True,
                                  text=True, cwd=code, env=env)
        log.write(done.stderr)
        if done.returncode != 0:
            row = {"label": label, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        else:
            row = {"label": label, **json.loads(done.stdout.strip().splitlines()[-1])}
            first = next((r for r in report["rows"] if "counts" in r), None)
            if first is not None:
                row["same_counts"] = "yes" if row["counts"] == first["counts"] else "NO"
        _save_edit_row(report, row, load, out, edits_markdown)
    log.close()


def _save_edit_row(report: dict, row: dict, load: tuple, out: str, markdown) -> None:
    """An edits child's row with the load at its start and end, saved at once (a later stop keeps it)."""
    row["load"] = [round(x, 1) for x in (*load, *os.getloadavg())]
    report["rows"].append(row)
    print(json.dumps({k: v for k, v in row.items() if k not in ("counts", "edits")}), flush=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (RESULTS / f"{out}.md").write_text(markdown(report), encoding="utf-8")


def edits_markdown(report: dict) -> str:
    m = report["machine"]
    runs = {r["label"]: r for r in report["rows"] if "edits" in r}
    n = next((r["counts"][0].get("screened", 0) for r in runs.values()), 0)
    lines = [f"# Threshold edits over a screening folder: first and later edits of one criterion ({TRIAL}, {n:,} "
             "subjects)", "",
             f"{m['machine']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']} | run {report['run']} | "
             f"load average at start {m['load']} | one child at a time, under `nice -n 10` | before = "
             f"`{report['baseline']}`, after = this tree (edit tables warmed ahead, keeping of a rule only what can "
             "change its status, a count's window as its latest events: explorer.engine.edit_rule)", "",
             "Each parameter is set to three values in a row (`ExplorerState.set_parameter`, the funnel included): "
             "the first edit of a criterion, then the later two (their mean). In the after run the child waits for "
             "the warm-up after the source opens and before each parameter's first edit (below). Wall time moves "
             "with the machine's load; CPU seconds (every thread of the process) much less, so the ratios are of "
             "CPU, within this run.", "",
             "| criterion.parameter | memory engine: wall / CPU | DuckDB before, first / later: wall (CPU) | "
             "DuckDB after, first / later: wall (CPU) | first edit, CPU: before / after | later edits, CPU: "
             "before / after | later edits, CPU: after / memory | how the after run answered |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]

    def times(label: str, criterion: str, parameter: str, key: str) -> list[float]:
        return [e[key] for e in runs[label]["edits"] if (e["criterion"], e["parameter"]) == (criterion, parameter)] \
            if label in runs else []

    def ms(value: float) -> str:
        return f"{1000 * value:,.0f} ms"

    labels = (("mem", "memory"), ("before", "duckdb before"), ("after", "duckdb after"))
    for criterion, parameter, _ in EDIT_RUNS:
        wall = {k: times(label, criterion, parameter, "seconds") for k, label in labels}
        cpu = {k: times(label, criterion, parameter, "cpu_s") for k, label in labels}
        if not all(wall.values()) or not all(cpu.values()):
            continue
        later = {k: sum(v[1:]) / len(v[1:]) for k, v in wall.items()}
        later_cpu = {k: sum(v[1:]) / len(v[1:]) for k, v in cpu.items()}
        mem_wall, mem_cpu = sum(wall["mem"]) / len(wall["mem"]), sum(cpu["mem"]) / len(cpu["mem"])
        answers = [e["answer"] for e in runs["duckdb after"]["edits"]
                   if (e["criterion"], e["parameter"]) == (criterion, parameter)]
        lines.append(f"| {criterion}.{parameter} | {ms(mem_wall)} / {ms(mem_cpu)} | "
                     f"{ms(wall['before'][0])} ({ms(cpu['before'][0])}) / {ms(later['before'])} ({ms(later_cpu['before'])}) | "
                     f"{ms(wall['after'][0])} ({ms(cpu['after'][0])}) / {ms(later['after'])} ({ms(later_cpu['after'])}) | "
                     f"{cpu['before'][0] / cpu['after'][0]:,.1f}x | {later_cpu['before'] / later_cpu['after']:,.1f}x | "
                     f"{later_cpu['after'] / mem_cpu:.2f}x | {' ; '.join(answers)} |")
    lines += ["", "Open (funnel), warm-ups and peak resident memory of each process (load average: 1/5/15 min at "
              "the child's start, then at its end):", ""]
    for label, row in runs.items():
        lines.append(f"- {label}: open {row['open_s']:.1f} s, peak {row['peak_mb']:,} MB, load {row.get('load')}"
                     + (f", counts after every edit equal to the memory engine's: {row['same_counts']}"
                        if "same_counts" in row else ""))
        for i, w in enumerate(row.get("warms", [])):
            when = "after the source opened" if i == 0 else f"before {EDIT_RUNS[i][0]}.{EDIT_RUNS[i][1]}"
            lines.append(f"  - warm-up {when}: {w['seconds']:.1f} s wall, {w['cpu_s']:.1f} s CPU; tables held "
                         f"{w['tables_mb']:.0f} MB, resident {w['resident_mb']:,.0f} MB")
    for row in report["rows"]:
        if "error" in row:
            lines.append(f"- {row['label']}: {row['error']}")
    return "\n".join(lines) + "\n"


def edits_by_size_runs(runs: list[str], criteria: list[str], out: str, timeout: float | None = None) -> None:
    """Threshold edits of `criteria` (first and later) for each LABEL=ENGINE:FOLDER in `runs`, this tree's code,
    one fresh interpreter each, in one run: e.g. DuckDB at 10^7 beside the memory engine and DuckDB at 10^6."""
    report = {"machine": machine(), "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [],
              "criteria": criteria, "runs": runs}
    log = open(RESULTS / f"{out}.log", "w")  # noqa: SIM115 - the children's stderr, for the whole run
    for spec in runs:
        label, rest = spec.split("=", 1)
        engine, folder = rest.split(":", 1)
        load = os.getloadavg()
        try:
            done = subprocess.run([sys.executable, __file__, "--edits-child", folder, engine, *criteria],
                                  capture_output=True, text=True, cwd=Path(__file__).parent, timeout=timeout)
        except subprocess.TimeoutExpired as stopped:
            err = stopped.stderr.decode() if isinstance(stopped.stderr, bytes) else (stopped.stderr or "")
            log.write(err)
            edits = [json.loads(line[len(EDIT_MARK):]) for line in err.splitlines() if line.startswith(EDIT_MARK)]
            row = {"label": label, "folder": folder, "engine": engine, "edits": edits, "stopped": True,
                   "error": f"stopped after {timeout:.0f} s, {len(edits)} edits done"}
        else:
            log.write(done.stderr)
            if done.returncode != 0:
                row = {"label": label, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
            else:
                row = {"label": label, **json.loads(done.stdout.strip().splitlines()[-1])}
        _save_edit_row(report, row, load, out, edits_by_size_markdown)
    log.close()


def edits_by_size_markdown(report: dict) -> str:
    m = report["machine"]
    runs = [r for r in report["rows"] if "edits" in r]
    lines = [f"# Threshold edits by cohort size and engine: first and later edits of one criterion ({TRIAL})", "",
             f"{m['machine']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']} | run {report['run']} | "
             f"load average at start {m['load']} | one child at a time, under `nice -n 10` and the benchmark lock | "
             f"this tree's code for every run", "",
             "Each parameter is set to three values in a row (`ExplorerState.set_parameter`, the funnel included): "
             "the first edit, then the later two (their mean); the child waits for the warm-up after the source opens "
             "and before each parameter's first edit (edits_child). Wall (CPU of every thread of the process). The "
             "ratio columns are of CPU against the first run of the table, measured in the same run.", "",
             "| criterion.parameter | " + " | ".join(f"{r['label']}: first / later" for r in runs)
             + "".join(f" | later, CPU: {r['label']} / {runs[0]['label']}" for r in runs[1:]) + " |",
             "|---|" + "---:|" * (len(runs) + max(0, len(runs) - 1))]

    def of(row: dict, criterion: str, parameter: str) -> list[dict]:
        return [e for e in row["edits"] if (e["criterion"], e["parameter"]) == (criterion, parameter)]

    def ms(value: float) -> str:
        return f"{1000 * value:,.0f} ms"

    def later(edits: list[dict], key: str) -> float:
        return sum(e[key] for e in edits[1:]) / max(1, len(edits[1:]))

    for criterion, parameter, _ in EDIT_RUNS:
        cells = [of(r, criterion, parameter) for r in runs]
        if not any(cells):
            continue
        text = [f"{ms(e[0]['seconds'])} ({ms(e[0]['cpu_s'])}) / {ms(later(e, 'seconds'))} ({ms(later(e, 'cpu_s'))})"
                if len(e) > 1 else "-" for e in cells]  # "-": not reached before a stopped run's limit
        ratios = [f"{later(e, 'cpu_s') / max(later(cells[0], 'cpu_s'), 1e-9):,.1f}x" if len(e) > 1 and len(cells[0]) > 1
                  else "-" for e in cells[1:]]
        lines.append(f"| {criterion}.{parameter} | " + " | ".join(text + ratios) + " |")
    lines += ["", "How each edit was answered (explorer.engine.edit_histogram: table = from the warmed edit table):", ""]
    for r in runs:
        lines.append(f"- {r['label']}: " + "; ".join(f"{e['criterion']}.{e['parameter']} {e['answer'] or '-'}"
                                                      for e in r["edits"] if e["edit"] == 1))
    lines += ["", "Open (funnel), warm-ups and peak resident memory of each process (load average: 1/5/15 min at "
              "the child's start, then at its end):", ""]
    for r in runs:
        if r.get("stopped"):
            lines.append(f"- {r['label']} ({r['engine']}): {r['error']}, load {r.get('load')}")
            continue
        lines.append(f"- {r['label']} ({r['counts'][0].get('screened', 0):,} subjects, {r['engine']}): open "
                     f"{r['open_s']:.1f} s, peak {r['peak_mb']:,} MB, load {r.get('load')}")
        for w in r.get("warms", []):
            lines.append(f"  - warm-up: {w['seconds']:.1f} s wall, {w['cpu_s']:.1f} s CPU; tables held "
                         f"{w['tables_mb']:.0f} MB, resident {w['resident_mb']:,.0f} MB")
    for row in report["rows"]:
        if "error" in row and not row.get("stopped"):
            lines.append(f"- {row['label']}: {row['error']}")
    return "\n".join(lines) + "\n"


# --- edit-table sizes over a folder (results/edits_sql_<size>.md) ------------------------------------------------
TABLE_TRIALS = ("NCT06196996", "NCT01142050")


def table_sizes_child(folder: str) -> dict:
    """Rows of each editable criterion's edit table (every parameter free), and where it passes MAX_EDIT_ROWS (or
    with --all-parameters) each parameter's own; code without per-parameter tables measures the first only."""
    from explorer.engine import edit_histogram as eh
    from explorer.engine.duck import DuckDBBackend
    from explorer.trial import load_trial

    rows = []
    for ref in TABLE_TRIALS:
        trial = load_trial(ref)
        backend = DuckDBBackend(folder, trial.catalogue)
        computable = [c for c in trial.criteria if c.computable]
        for j, c in enumerate(computable):
            if not eh.editable(c):
                continue
            for free in (None, *getattr(eh, "edit_parameters", lambda c: [])(c)):
                cpu = time.process_time()
                options = {} if free is None else {"free": free}
                table = eh.edit_table(backend, computable, j, eh.rule_variables(c, trial.catalogue), trial.catalogue,
                                      limit=10**9, **options)
                rows.append({"trial": ref, "criterion": c.id, "free": free or "every parameter",
                             "rows": len(table.counts), "mb": table.nbytes / 2**20,
                             "cpu_s": time.process_time() - cpu})
                if free is None and (len(table.counts) <= eh.MAX_EDIT_ROWS and not os.environ.get("ALL_PARAMETERS")):
                    break
    return {"folder": folder, "rows": rows, "limit": 1_000_000}


def table_sizes_runs(folder: str, baseline: str | None, out: str) -> None:
    """The edit-table sizes of `baseline` (if given) and this tree, one fresh interpreter each, in one run."""
    report = {"machine": machine(), "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": []}
    for label, ref in ([("before", baseline)] if baseline else []) + [("after", None)]:
        with checkout(ref) as code:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
            load = os.getloadavg()
            done = subprocess.run([sys.executable, __file__, "--table-sizes-child", folder], capture_output=True,
                                  text=True, cwd=code, env=env)
        row = {"label": label, "code": ref or "this tree", "load": [round(x, 1) for x in (*load, *os.getloadavg())]}
        row.update(json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                   {"error": (done.stderr.strip().splitlines() or ["?"])[-1]})
        report["runs"].append(row)
        (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (RESULTS / f"{out}.md").write_text(table_sizes_markdown(report), encoding="utf-8")


def table_sizes_markdown(report: dict) -> str:
    lines = [f"# Edit-table sizes ({', '.join(TABLE_TRIALS)}; MAX_EDIT_ROWS = 1,000,000 rows)", "",
             f"run {report['run']} | one child at a time | rows are counts (deterministic), CPU is the child's "
             "(DuckDB's threads included) at the load average shown", "",
             "| code | trial | criterion | table for edits of | rows | fits | MB held | CPU |", "|---|---|---|---|---:|---|---:|---:|"]
    for run in report["runs"]:
        for r in run.get("rows", []):
            lines.append(f"| {run['code']} | {r['trial']} | {r['criterion']} | {r['free']} | {r['rows']:,} | "
                         f"{'yes' if r['rows'] <= 1_000_000 else '**no**'} | {r['mb']:,.1f} | {r['cpu_s']:.1f} s |")
    lines.append("")
    for run in report["runs"]:
        lines.append(f"- {run['code']}: folder {run.get('folder', '?')}, load average (1/5/15 min at start, then end) "
                     f"{run['load']}" + (f"; error: {run['error']}" if "error" in run else ""))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--engines", nargs="+", default=["memory"], choices=["memory", "duckdb"])
    parser.add_argument("--baseline", default=None, help="a git revision measured in the same run, first")
    parser.add_argument("--out", default="memory")
    parser.add_argument("--note", action="append", default=[], help="a line for the notes")
    parser.add_argument("--quick", action="store_true", help="one small size, no baseline (make bench QUICK=1)")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.baseline = [2e4], None
    report = {"machine": machine(), "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [],
              "notes": args.note}
    log = open(RESULTS / f"{args.out}.log", "w")  # noqa: SIM115 - the children's stderr, for the whole run
    codes = [("baseline " + args.baseline, args.baseline)] if args.baseline else []
    codes.append(("this branch", None))
    last_peak_gb: dict[str, float] = {}  # per code: its peak at the previous size
    for n in (int(s) for s in args.sizes):
        for engine in args.engines:
            baseline_counts = None
            for label, ref in codes:
                needed = last_peak_gb.get(label, 0.0) * 10 + 1
                if label in last_peak_gb and mem_available_gb() < needed:
                    report["rows"].append({"n": n, "engine": engine, "code": label,
                                           "error": f"not run: {mem_available_gb():.1f} GB available, "
                                                    f"{needed:.0f} GB wanted"})
                    continue
                with checkout(ref) as code:
                    row = {**run_child(code, n, engine, log), "code": label}
                if "counts" in row:
                    if baseline_counts is None:
                        baseline_counts = row["counts"]
                    else:
                        row["same_counts"] = "yes" if row["counts"] == baseline_counts else "NO"
                    last_peak_gb[label] = max(last_peak_gb.get(label, 0.0), row["steps"][-1]["peak_mb"] / 1024)
                report["rows"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "counts"}), flush=True)
                (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
                (RESULTS / f"{args.out}.md").write_text(markdown(report), encoding="utf-8")
    log.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--edits-child":  # threshold edits over a folder (edits_child)
        print(json.dumps(edits_child(sys.argv[2], sys.argv[3], sys.argv[4:] or None)))
    elif len(sys.argv) > 1 and sys.argv[1] == "--edits-by-size":
        # --edits-by-size LABEL=ENGINE:FOLDER ... [--criteria I2 E4] [--out edits_sql_1e7]
        by_size = argparse.ArgumentParser(description="threshold edits by cohort size and engine")
        by_size.add_argument("runs", nargs="+", help="LABEL=ENGINE:FOLDER, e.g. 'DuckDB 10^7=duckdb:/tmp/s1e7'")
        by_size.add_argument("--criteria", nargs="*", default=[])
        by_size.add_argument("--out", default="edits_sql_sizes")
        by_size.add_argument("--timeout", type=float, default=None, help="seconds a child may run")
        parsed = by_size.parse_args(sys.argv[2:])
        edits_by_size_runs(parsed.runs, parsed.criteria, parsed.out, parsed.timeout)
    elif len(sys.argv) > 1 and sys.argv[1] == "--edits":
        # --edits FOLDER [--baseline REF] [--out edits_sql]: first and later threshold edits, before and after
        edits_args = argparse.ArgumentParser(description="threshold edits over a screening folder")
        edits_args.add_argument("folder")
        edits_args.add_argument("--baseline", default="main")
        edits_args.add_argument("--out", default="edits_sql")
        parsed = edits_args.parse_args(sys.argv[2:])
        edits_runs(parsed.folder, parsed.baseline, parsed.out)
    elif len(sys.argv) > 1 and sys.argv[1] == "--table-sizes-child":
        print(json.dumps(table_sizes_child(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--table-sizes":
        # --table-sizes FOLDER [--baseline REF] [--out edits_sql_tables]: rows of each edit table, before and after
        sizes_args = argparse.ArgumentParser(description="edit-table sizes over a screening folder")
        sizes_args.add_argument("folder")
        sizes_args.add_argument("--baseline", default=None)
        sizes_args.add_argument("--out", default="edits_sql_tables")
        parsed = sizes_args.parse_args(sys.argv[2:])
        table_sizes_runs(parsed.folder, parsed.baseline, parsed.out)
    elif len(sys.argv) > 1 and sys.argv[1] == "--folder-child":  # a state over a folder (folder_child)
        print(json.dumps(folder_child(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "--folders":
        # --folders F1 [F2 ...] [--engines memory duckdb spark] [--out memory_engines]: a run per folder and engine
        folders_args = argparse.ArgumentParser(description="states over screening folders")
        folders_args.add_argument("folders", nargs="+")
        folders_args.add_argument("--engines", nargs="+", default=["memory", "duckdb"])
        folders_args.add_argument("--out", default="memory_engines")
        folders_args.add_argument("--timeout", type=float, default=None, help="seconds a child may run")
        folders_args.add_argument("--baseline", default=None, help="a git revision run first, engine by engine")
        parsed = folders_args.parse_args(sys.argv[2:])
        folder_runs(parsed.folders, parsed.engines, parsed.out, parsed.timeout, parsed.baseline)
    elif len(sys.argv) > 1 and sys.argv[1] == "--child":
        # the measured code (this tree or the baseline's worktree) comes first on PYTHONPATH (run_child)
        print(json.dumps(child(int(sys.argv[2]), sys.argv[3])))
    else:
        main()
