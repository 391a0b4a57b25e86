"""Benchmark the histogram interface and the Spark engine (NCT06196996 on the synthetic t1d population).

    flock /tmp/te-bench.lock nice -n 10 .venv/bin/python benchmarks/bench_spark.py [--sizes 1e6 1e7]
        [--spark-sizes 1e6 1e7] [--partitions 2 8 32 128] [--memory-sizes 1e6] [--folder 1e7=/tmp/s1e7] [--warm F]

Measures, in one run so that the ratios compare like with like:
- toggle -> funnel on the pattern histogram (a HistogramMatrix), at each size, beside the same toggle on
  the in-memory bit columns (at the sizes the memory engine is run) and the pandas re-filter chain
  (benchmarks/pandas_chain.py) at 10^6;
- DuckDB over Parquet -> histogram: time, distinct patterns, and the peak resident memory of a process
  that holds the cohort only as its histogram;
- Spark local over the same Parquet -> histogram, by partition count (input splits and shuffle
  partitions): wall, CPU and peak resident size of the Python driver and of the JVM apart, and what the
  JVM read and wrote, with the counts checked identical to DuckDB's (the run fails otherwise).
Each measurement runs in its own interpreter (its peak RSS is its own). The Parquet folders are written
by bench_scale.py's chunked writer (once per size, in a temporary folder), or given with --folder.

Writes benchmarks/results/spark.json and spark.md (--out names another stem).

    flock /tmp/te-bench.lock nice -n 10 .venv/bin/python benchmarks/bench_spark.py --canonical [--size 1e6]
        [--partitions 2 8 32] [--paths memory folder]

writes the synthetic canonical tables (the canonical loader's layout) and takes them to the status histogram in
DuckDB and then in Spark (canonical_sql reading them in place, features_sql deriving the features, the histogram
over the screening derived), Spark once per shuffle partition count: benchmarks/results/spark_canonical.{json,md}.

    .venv/bin/python benchmarks/bench_spark.py --runs-report RUNS.jsonl OUT

writes benchmarks/results/OUT.{json,md} from runs made one by one (`--child canonical-duckdb FOLDER N`,
`--child canonical-profile FOLDER N`, each by main's code or this branch's, one JSON line a run with its label,
code, start and load): how main-vs-branch comparisons on one folder are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import (  # sibling modules (run as a file)
    RESULTS,
    ROOT,
    SEED,
    child,
    cohort,
    machine,
    peak_rss_mb,
    shown,
)
from bench_scale import checksum  # one comparison of histograms for both scripts
from pandas_chain import PandasChain

from explorer.engine import evaluate, final_counts, funnel
from explorer.engine.histogram import HistogramMatrix, evaluate_histogram
from explorer.engine.patterns import funnel_counts, select
from explorer.trial import load_trial

TRIAL = "NCT06196996"
POPULATION = "t1d"
ROUNDS = 3
WARM = 100_000  # subjects in the warm-up folder


def load() -> str:
    """The 1-minute load average now: the figures beside it were measured on a shared machine."""
    return f"{os.getloadavg()[0]:.1f}"


def toggles(matrix, rounds: int = ROUNDS) -> float:
    """Median seconds of a funnel with one criterion switched off, every criterion in turn."""
    ids = list(matrix.ids)
    times = []
    for _ in range(rounds):
        for cid in ids:
            enabled = {c: c != cid for c in ids}
            start = time.perf_counter()
            funnel(matrix, enabled=enabled)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def histogram_counts(matrix, rounds: int = ROUNDS) -> float:
    """Median seconds of the funnel's counts alone on the histogram (selection + arithmetic, no DataFrame)."""
    ids = list(matrix.ids)
    times = []
    for _ in range(rounds):
        for cid in ids:
            start = time.perf_counter()
            funnel_counts(matrix.histogram, select(matrix.criteria, enabled={c: c != cid for c in ids}))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- children -----------------------------------------------------------------------------------------

def bench_memory(n: int) -> dict:
    """The in-memory engine: bit-column toggle vs histogram toggle vs the pandas chain (same cohort)."""
    trial = load_trial(TRIAL)
    screening = cohort(POPULATION, n)
    matrix = evaluate(trial, screening)
    bits_toggle = toggles(matrix)
    start = time.perf_counter()
    h = HistogramMatrix.of(matrix)
    reduce_s = time.perf_counter() - start
    hist_toggle = toggles(h)
    hist_counts = histogram_counts(h)
    chain = PandasChain(trial, screening)
    ids = [c.id for c in trial.criteria]
    pandas_times = []
    for cid in ids[:5]:
        start = time.perf_counter()
        chain.funnel(set(ids) - {cid})
        pandas_times.append(time.perf_counter() - start)
    return {"n": n, "bits_toggle_ms": bits_toggle * 1e3, "histogram_toggle_ms": hist_toggle * 1e3, "histogram_counts_ms": hist_counts * 1e3,
            "histogram_reduce_s": reduce_s, "pandas_chain_s": statistics.median(pandas_times),
            "patterns": len(h.histogram.counts), "final_counts": final_counts(h),
            "same_as_bits": bool(final_counts(h) == final_counts(matrix)), "peak_rss_mb": peak_rss_mb()}


def bench_duckdb_histogram(folder: str, n: int) -> dict:
    trial = load_trial(TRIAL)
    cpu = time.process_time()
    start = time.perf_counter()
    h = evaluate_histogram(trial, folder, "duckdb")
    seconds = time.perf_counter() - start
    return {"n": n, "duckdb_histogram_s": seconds, "duckdb_cpu_s": time.process_time() - cpu,
            "patterns": len(h.histogram.counts), "histogram_toggle_ms": toggles(h) * 1e3,
            "histogram_counts_ms": histogram_counts(h) * 1e3,
            "final_counts": final_counts(h), "checksum": checksum(h), "peak_rss_mb": peak_rss_mb()}


def bench_spark(folder: str, warm: str, n: int, partitions: list[int]) -> dict:
    """One local[*] session: warmed by a histogram of the small `warm` folder (the first query of a session
    compiles code for seconds), then one histogram of `folder` per partition count. Each run: wall time, the
    CPU of the Python driver and of the JVM apart, each one's peak resident size during that run (VmHWM,
    reset before it), and what the JVM read and wrote (Parquet in; shuffle and spill files out)."""
    from _common import jvm_heap, jvm_pid, process_figures, reset_peak

    from explorer.engine.spark import SparkBackend, spark_session
    trial = load_trial(TRIAL)
    start = time.perf_counter()
    spark = spark_session("local[*]")
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - start
    jvm = jvm_pid()
    if jvm is None:
        raise SystemExit("no JVM among this process's children: is the session local?")
    start = time.perf_counter()
    evaluate_histogram(trial, warm, "spark", spark=spark)
    first = time.perf_counter() - start
    runs = []
    for p in partitions:
        backend = SparkBackend(folder, trial.catalogue, spark=spark, partitions=p)
        reset_peak(), reset_peak(jvm)
        py0, jvm0 = process_figures(), process_figures(jvm)
        start = time.perf_counter()
        h = evaluate_histogram(trial, None, backend=backend)
        seconds = time.perf_counter() - start
        py1, jvm1 = process_figures(), process_figures(jvm)
        runs.append({"partitions": p, "load": load(), "spark_histogram_s": seconds,
                     "python_cpu_s": py1["cpu_s"] - py0["cpu_s"],
                     "jvm_cpu_s": jvm1["cpu_s"] - jvm0["cpu_s"], "python_peak_mb": py1["peak_mb"],
                     "jvm_peak_mb": jvm1["peak_mb"], "jvm_rss_after_mb": jvm1["rss_mb"],
                     "jvm_read_mb": jvm1["read_mb"] - jvm0["read_mb"],
                     "jvm_written_mb": jvm1["written_mb"] - jvm0["written_mb"],
                     "final_counts": final_counts(h), "checksum": checksum(h)})
        backend.close()
    heap = jvm_heap(jvm)
    spark.stop()
    return {"n": n, "spark_startup_s": startup, "spark_first_query_s": first, "warm_folder": warm, "runs": runs,
            "jvm_heap": heap, "driver_peak_rss_mb": peak_rss_mb()}


def write_canonical(n: int, folder: str) -> dict:
    """The synthetic cohort's canonical tables (the canonical loader's layout, in one piece: 10^6 at most)."""
    from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort

    start = time.perf_counter()
    files = write_cohort(generate_cohort(POPULATION, n, seed=SEED), folder, "parquet")  # nanoseconds, as pandas
    return {"n": n, "write_s": time.perf_counter() - start,
            "parquet_mb": round(sum(p.stat().st_size for p in files.values()) / 1e6, 1)}


def bench_canonical(folder: str, n: int, engine: str, partitions: int | None = None) -> dict:
    """Canonical tables read in place -> screening features derived by SQL -> status histogram, all in one
    engine (the canonical SQL loader, features_sql, then the histogram over the screening it derived); Spark
    with `partitions` shuffle partitions (None: the local session's default, one per core)."""
    from _common import jvm_pid, process_figures

    from explorer.engine.canonical_sql import canonical_screening_folder, canonical_screening_sql
    trial = load_trial(TRIAL)
    options, jvm = {}, None
    written = engine == "spark-folder"  # Spark writes the screening folder range by range (folder_writer)
    engine = "spark" if written else engine
    if engine == "spark":
        from explorer.engine.spark import spark_session
        options["spark"] = spark_session("local[*]", shuffle_partitions=partitions)
        options["spark"].sparkContext.setLogLevel("ERROR")
        jvm = jvm_pid()
    py0, jvm0 = process_figures(), process_figures(jvm) if jvm else None
    start = time.perf_counter()
    if written:
        out = Path(tempfile.mkdtemp(prefix="bench-spark-folder-"))
        screening, _ = canonical_screening_folder(folder, out / "screening", engine="spark",
                                                  catalogue=trial.catalogue, **options)
    else:
        screening, _ = canonical_screening_sql(folder, engine=engine, catalogue=trial.catalogue, **options)
    features_s = time.perf_counter() - start
    h = evaluate_histogram(trial, screening, engine, **options)
    if written:
        shutil.rmtree(out, ignore_errors=True)
    seconds = time.perf_counter() - start
    py1, jvm1 = process_figures(), process_figures(jvm) if jvm else None
    return {"n": n, "engine": "spark, folder written by Spark" if written else engine, "partitions": partitions,
            "load": load(), "features_s": features_s,
            "seconds": seconds,
            "python_cpu_s": py1["cpu_s"] - py0["cpu_s"], "python_peak_mb": py1["peak_mb"],
            **({"jvm_cpu_s": jvm1["cpu_s"] - jvm0["cpu_s"], "jvm_peak_mb": jvm1["peak_mb"],
                "jvm_written_mb": jvm1["written_mb"] - jvm0["written_mb"]} if jvm else {}),
            "final_counts": final_counts(h), "checksum": checksum(h)}


# --- where Spark's time goes (a timing log of every statement the canonical path runs) -------------------

# the load's generic helpers: a call is labelled by the first caller above them (the step that asked)
HELPERS = {"rows", "one", "column", "table", "then", "invalid", "_keep", "view", "register", "scan", "arrow",
           "_distinct", "_lookup", "step", "bad_dates", "_names", "execute", "timed"}


def _caller() -> str:
    """The explorer step that issued a statement: the first frame above the engines' generic helpers, with the
    helper it went through ("canonical_sql._cgm via invalid")."""
    frame, via = sys._getframe(2), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        name = frame.f_code.co_name
        if module.startswith("explorer."):
            if name not in HELPERS:
                return f"{module.rsplit('.', 1)[-1]}.{name}" + (f" via {via}" if via else "")
            via = via or name
        frame = frame.f_back
    return "?"


def _phase() -> str:
    """load (the canonical SQL loader's steps), derive (features_sql), histogram (the status histogram)."""
    frame = sys._getframe(2)
    names = set()
    while frame is not None:
        names.add(frame.f_code.co_name)
        frame = frame.f_back
    for phase, marker in (("histogram", "evaluate_histogram"), ("derive", "derive"), ("load", "load_canonical_sql")):
        if marker in names:
            return phase
    return "other"


class StatementLog:
    """Wraps the Spark engine's entry points (SparkTables' queries, checkpoints and uploads, SparkRunner's queries
    and uploads, SparkBackend's queries) so that each statement is timed: wall seconds, the JVM's CPU seconds
    (from /proc), the rows it moved, and for a query run by SparkRunner the split between Spark's analysis,
    its optimiser and planner, and the execution with the transfer to Arrow."""

    def __init__(self, jvm: int):
        self.jvm, self.entries, self.depth = jvm, [], 0

    def _record(self, kind: str, sql: str, start: float, cpu0: float, rows: int | None, **extra) -> None:
        from _common import process_figures
        self.depth -= 1
        if self.depth:  # a statement inside another (an upload's checkpoint): its time is the outer one's
            return
        self.entries.append({"phase": _phase(), "caller": _caller(), "kind": kind,
                             "wall_s": time.perf_counter() - start,
                             "jvm_cpu_s": process_figures(self.jvm)["cpu_s"] - cpu0, "rows": rows,
                             "sql_chars": len(sql), "sql": " ".join(sql.split())[:160], **extra})

    def _start(self) -> tuple[float, float]:
        from _common import process_figures
        self.depth += 1
        return time.perf_counter(), process_figures(self.jvm)["cpu_s"]

    def install(self) -> None:
        from explorer.engine import features_sql, omop_sql
        from explorer.engine import spark as spark_module
        log = self

        tables, runner, backend = omop_sql.SparkTables, features_sql.SparkRunner, spark_module.SparkBackend
        plain = {"rows": tables.rows, "keep": tables._keep, "upload": tables.register, "arrow": runner.arrow,
                 "runner_register": runner.register, "backend_sql": backend._sql}
        staged = getattr(runner, "features", None)  # a runner that runs the feature query its own way

        def rows(self, sql):
            start, cpu = log._start()
            out = plain["rows"](self, sql)
            log._record("query (collect)", sql, start, cpu, len(out))
            return out

        def keep(self, name, frame):
            start, cpu = log._start()
            plain["keep"](self, name, frame)
            log._record("checkpoint", name, start, cpu, None, partitions=self.frames[-1].rdd.getNumPartitions())

        def upload(self, name, table):
            start, cpu = log._start()
            plain["upload"](self, name, table)
            log._record("upload (Python -> JVM)", name, start, cpu, table.num_rows)

        def arrow(self, sql, params):
            # SparkRunner.arrow is one spark.sql(...).toArrow(): timed here in its three parts
            start, cpu = log._start()
            frame = self.spark.sql(sql, args=dict(params))
            analysed = time.perf_counter()
            frame._jdf.queryExecution().executedPlan()  # the optimiser and the physical planner
            planned = time.perf_counter()
            out = frame.toArrow()
            log._record("query (toArrow)", sql, start, cpu, out.num_rows, columns=out.num_columns,
                        analyse_s=analysed - start, plan_s=planned - analysed, execute_s=time.perf_counter() - planned)
            return out

        def runner_register(self, name, table):
            start, cpu = log._start()
            plain["runner_register"](self, name, table)
            log._record("upload (Python -> JVM)", name, start, cpu, table.num_rows)

        def backend_sql(self, sql, params, what):
            start, cpu = log._start()
            out = plain["backend_sql"](self, sql, params, what)
            log._record("query (toArrow)", sql, start, cpu, out.num_rows, columns=out.num_columns)
            return out

        def features(self, query, sql, params):
            start, cpu = log._start()
            out = staged(self, query, sql, params)
            log._record("feature query (CTEs read twice checkpointed)", sql, start, cpu, out.num_rows,
                        columns=out.num_columns)
            return out

        if staged is not None:
            runner.features = features
        tables.rows, tables._keep, tables.register = rows, keep, upload
        runner.arrow, runner.register, backend._sql = arrow, runner_register, backend_sql


def bench_profile(folder: str, n: int, partitions: int | None = None) -> dict:
    """bench_canonical in Spark with every statement timed (StatementLog): where the time goes."""
    from _common import jvm_pid, process_figures

    from explorer.engine.canonical_sql import canonical_screening_sql
    from explorer.engine.spark import spark_session
    trial = load_trial(TRIAL)
    spark = spark_session("local[*]", shuffle_partitions=partitions)
    spark.sparkContext.setLogLevel("ERROR")
    jvm = jvm_pid()
    log = StatementLog(jvm)
    log.install()
    py0, jvm0 = process_figures(), process_figures(jvm)
    start = time.perf_counter()
    screening, _ = canonical_screening_sql(folder, engine="spark", catalogue=trial.catalogue, spark=spark)
    features_s = time.perf_counter() - start
    h = evaluate_histogram(trial, screening, "spark", spark=spark)
    seconds = time.perf_counter() - start
    py1, jvm1 = process_figures(), process_figures(jvm)
    return {"n": n, "engine": "spark", "partitions": partitions, "load": load(), "features_s": features_s,
            "seconds": seconds, "python_cpu_s": py1["cpu_s"] - py0["cpu_s"], "jvm_cpu_s": jvm1["cpu_s"] - jvm0["cpu_s"],
            "jvm_written_mb": jvm1["written_mb"] - jvm0["written_mb"], "final_counts": final_counts(h),
            "checksum": checksum(h), "statements": log.entries}


def profile_markdown(n: int, report: dict) -> str:
    """The timing log as tables: by phase and kind, by step, and the slowest statements."""
    rows = report["rows"]
    lines = [f"# Where Spark's time goes: canonical tables -> features -> histogram ({TRIAL}, synthetic {POPULATION}, "
             f"{n:,} subjects)", "",
             f"run {report['run']} | load average at start {report['machine']['load']} | "
             f"`bench_spark.py --canonical --profile --size {n:g}` | canonical Parquet "
             f"{report['write'].get('parquet_mb', '-')} MB", ""]
    for row in rows:
        label = row.get("label", row.get("engine"))
        if "error" in row:
            lines += [f"## {label}: error: {row['error']}", ""]
            continue
        lines += [f"## {label}", "",
                  f"features {row['features_s']:.1f} s, features + histogram {row['seconds']:.1f} s wall; CPU: Python "
                  f"{row['python_cpu_s']:.1f} s / JVM {shown(row.get('jvm_cpu_s'), 's', 1)}; JVM written "
                  f"{shown(row.get('jvm_written_mb'), 'MB', 0)}; load after {row['load']}", ""]
        statements = row.get("statements")
        if not statements:
            continue
        groups: dict = {}
        for e in statements:
            g = groups.setdefault((e["phase"], e["kind"]), [0, 0.0, 0.0, 0])
            g[0] += 1
            g[1] += e["wall_s"]
            g[2] += e["jvm_cpu_s"]
            g[3] += e["rows"] or 0
        total = sum(e["wall_s"] for e in statements)
        lines += [f"{len(statements)} statements, {total:.1f} s of wall time in them "
                  f"({total / row['seconds']:.0%} of the run).", "",
                  "| phase | kind | statements | wall | share | JVM CPU | rows moved |", "|---|---|---:|---:|---:|---:|---:|"]
        for (phase, kind), (k, wall, cpu, moved) in sorted(groups.items(), key=lambda x: -x[1][1]):
            lines.append(f"| {phase} | {kind} | {k} | {wall:.1f} s | {wall / row['seconds']:.0%} | {cpu:.1f} s | "
                         f"{moved:,} |")
        steps: dict = {}
        for e in statements:
            g = steps.setdefault(e["caller"], [0, 0.0, 0.0])
            g[0] += 1
            g[1] += e["wall_s"]
            g[2] += e["jvm_cpu_s"]
        lines += ["", "By the step that issued them (the 15 costliest):", "",
                  "| step | statements | wall | JVM CPU |", "|---|---:|---:|---:|"]
        for caller, (k, wall, cpu) in sorted(steps.items(), key=lambda x: -x[1][1])[:15]:
            lines.append(f"| `{caller}` | {k} | {wall:.1f} s | {cpu:.1f} s |")
        lines += ["", "The 12 slowest statements:", "",
                  "| phase | step | kind | wall (analyse / plan / execute) | JVM CPU | rows x columns | SQL characters |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for e in sorted(statements, key=lambda x: -x["wall_s"])[:12]:
            split = (f" ({e['analyse_s']:.1f} / {e['plan_s']:.1f} / {e['execute_s']:.1f})" if "plan_s" in e else "")
            shape = f"{e['rows'] or 0:,}" + (f" x {e['columns']}" if "columns" in e else "")
            lines.append(f"| {e['phase']} | `{e['caller']}` | {e['kind']} | {e['wall_s']:.1f} s{split} | "
                         f"{e['jvm_cpu_s']:.1f} s | {shape} | {e['sql_chars']:,} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def run_child(kind: str, rest: list[str]) -> None:
    if kind == "memory":
        result = bench_memory(int(rest[0]))
    elif kind == "canonical":
        result = write_canonical(int(rest[0]), rest[1])
    elif kind in ("canonical-duckdb", "canonical-spark", "canonical-spark-folder"):
        result = bench_canonical(rest[0], int(rest[1]), kind.split("-", 1)[1], *map(int, rest[2:3]))
    elif kind == "canonical-profile":
        result = bench_profile(rest[0], int(rest[1]), *map(int, rest[2:3]))
    elif kind == "duckdb":
        result = bench_duckdb_histogram(rest[0], int(rest[1]))
    else:
        result = bench_spark(rest[0], rest[1], int(rest[2]), [int(p) for p in rest[3:]])
    print(json.dumps(result, default=float))


def write_folder(n: int, folder: str) -> dict:
    """The synthetic cohort as a screening folder, by bench_scale's chunked writer (pieces of 10^6, one worker)."""
    written = child(ROOT / "benchmarks" / "bench_scale.py", ["write", str(n), folder, "1"], timeout=7200)
    if "error" in written:
        raise SystemExit(f"writing the {n:,} cohort failed: {written['error']}")
    return written


def same_as_duckdb(run: dict, duck: dict) -> bool:
    """A Spark histogram equals DuckDB's on the same folder: the same sorted (pattern, count) rows and final counts."""
    return run["checksum"] == duck.get("checksum") and run["final_counts"] == duck.get("final_counts")


# --- report -----------------------------------------------------------------------------------------

def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Histogram interface and Spark engine benchmark ({TRIAL}, synthetic {POPULATION})", "",
             f"{m['machine']}, {m['cores']} cores, Python {m['python']} | run {report['run']} | "
             f"load average at start {m['load']}", "",
             "## Toggle -> funnel", "",
             "| subjects | patterns | histogram (DuckDB-built): funnel frame / counts only | bit columns (memory "
             "engine) | histogram of the memory matrix | pandas chain per change | histogram vs pandas (frame / counts) "
             "| peak RSS: histogram-only process / memory engine |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in report["sizes"]:
        d, mem = size.get("duckdb", {}), size.get("memory", {})
        pandas_ms = report["pandas_chain_1e6_s"] * 1e3 if report.get("pandas_chain_1e6_s") else None
        ratio = (f"{pandas_ms / d['histogram_toggle_ms']:,.0f}x / {pandas_ms / d['histogram_counts_ms']:,.0f}x"
                 if pandas_ms and d.get("histogram_toggle_ms") else None)
        lines.append(f"| {size['n']:,} | {d.get('patterns', '-')} | "
                     f"{shown(d.get('histogram_toggle_ms'), 'ms')} / "
                     f"{shown(d.get('histogram_counts_ms'), 'ms')} | "
                     f"{shown(mem.get('bits_toggle_ms'), 'ms')} | {shown(mem.get('histogram_toggle_ms'), 'ms')} | "
                     f"{shown(mem.get('pandas_chain_s'), 's')} | {'-' if ratio is None else ratio} | "
                     f"{d.get('peak_rss_mb', 0):.0f} MB / {shown(mem.get('peak_rss_mb'), 'MB', 0)} |")
    lines += ["", "## Cohort -> status histogram", "",
              "| subjects | engine | partitions | wall | CPU: Python / JVM | CPU per subject | peak resident: Python / "
              "JVM | JVM read / written | written per subject | load (1 min) | identical to DuckDB |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for size in report["sizes"]:
        n, d = size["n"], size.get("duckdb", {})
        if "duckdb_histogram_s" in d:
            lines.append(f"| {n:,} | DuckDB | threads: {m['cores']} | {d['duckdb_histogram_s']:.1f} s | "
                         f"{d['duckdb_cpu_s']:.1f} s (all in Python's process) | {d['duckdb_cpu_s'] / n * 1e6:.1f} us | "
                         f"{d['peak_rss_mb']:,.0f} MB / - | - | - | {d.get('load', '-')} | (reference) |")
        elif d:
            lines.append(f"| {n:,} | DuckDB | - | error: {d.get('error')} | | | | | | | |")
        s = size.get("spark")
        if s and "runs" in s:
            lines.append(f"| {n:,} | Spark local[*], heap {s['jvm_heap']} | start-up {s['spark_startup_s']:.1f} s, "
                         f"warm-up query (10^5) {s['spark_first_query_s']:.1f} s | | | | | | | {s.get('load', '-')} | |")
            for run in s["runs"]:
                cpu = run["python_cpu_s"] + run["jvm_cpu_s"]
                lines.append(f"| {n:,} | Spark local[*] | {run['partitions']} | {run['spark_histogram_s']:.1f} s | "
                             f"{run['python_cpu_s']:.1f} / {run['jvm_cpu_s']:.1f} s | {cpu / n * 1e6:.1f} us | "
                             f"{run['python_peak_mb']:,.0f} / {run['jvm_peak_mb']:,.0f} MB | "
                             f"{run['jvm_read_mb']:,.0f} / {run['jvm_written_mb']:,.0f} MB | "
                             f"{run['jvm_written_mb'] * 1e6 / n:,.0f} B | {run.get('load', '-')} | "
                             f"{'yes' if same_as_duckdb(run, d) else 'NO'} |")
        elif s:
            lines.append(f"| {n:,} | Spark | - | error: {s.get('error')} | | | | | | | |")
    lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def canonical_runs(n: int, out: str, work: str, partitions: list[int] | None = None,
                   timeout: float = 7200, paths: tuple[str, ...] = ("memory",)) -> int:
    """Canonical tables -> features -> histogram at one size, in DuckDB and then in Spark (once per shuffle
    partition count in `partitions`; none: the session's default), each a fresh process; the histograms must be
    equal. `paths`: Spark's ways to the features, a run each: "memory" (derived into a Screening in the driver) and
    "folder" (the screening folder written by Spark range by range, folder_writer: the path of a large folder). A
    run still going after `timeout` seconds is stopped and its row says so."""
    import subprocess

    folder = str(Path(work) / f"canonical{n}")
    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "write": child(__file__, ["canonical", str(n), folder], timeout=7200), "rows": []}
    try:
        sparks = [{"memory": "spark", "folder": "spark-folder"}[path] for path in paths]
        runs = [("duckdb", [])] + [(engine, extra) for extra in ([[str(p)] for p in partitions or []] or [[]])
                                   for engine in sparks]
        for engine, extra in runs:
            print(f"n={n:,}: canonical -> histogram in {engine} {' '.join(extra)}", file=sys.stderr, flush=True)
            try:
                report["rows"].append(child(__file__, [f"canonical-{engine}", folder, str(n), *extra], timeout=timeout))
            except subprocess.TimeoutExpired:
                report["rows"].append({"engine": engine, "partitions": extra, "load": load(),
                                       "error": f"stopped after {timeout:.0f} s"})
            RESULTS.mkdir(parents=True, exist_ok=True)  # after every run: a run stopped later keeps what it measured
            (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    duck, sparks = report["rows"][0], report["rows"][1:]
    same_each = ["checksum" in spark and same_as_duckdb(spark, duck) for spark in sparks]
    same = all(same_each)
    lines = [f"# Canonical tables -> screening features -> status histogram, DuckDB and Spark ({TRIAL}, synthetic "
             f"{POPULATION}, {n:,} subjects)", "",
             f"run {report['run']} | load average at start {report['machine']['load']} | each engine in a fresh "
             f"process under `nice -n 10` | canonical Parquet {report['write'].get('parquet_mb', '-')} MB, written in "
             f"{report['write'].get('write_s', 0):.0f} s", "",
             "| engine | shuffle partitions | features (wall) | features + histogram (wall) | CPU: Python / JVM | "
             "peak resident: Python / JVM | JVM written | load (1 min, after) | histogram equal to DuckDB's |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row, equal in zip(report["rows"], [None, *same_each], strict=True):
        if "error" in row:
            lines.append(f"| {row.get('engine', '?')} | {' '.join(row.get('partitions') or [])} | error: {row['error']} "
                         f"| | | | | {row.get('load', '')} | |")
            continue
        shuffle = "-" if row["engine"] == "duckdb" else (row.get("partitions") or "default (one per core)")
        lines.append(f"| {row['engine']} | {shuffle} | {row['features_s']:.1f} s | {row['seconds']:.1f} s | "
                     f"{row['python_cpu_s']:.1f} / {shown(row.get('jvm_cpu_s'), 's', 1)} | "
                     f"{row['python_peak_mb']:,.0f} / {shown(row.get('jvm_peak_mb'), 'MB', 0)} | "
                     f"{shown(row.get('jvm_written_mb'), 'MB', 0)} | {row['load']} | "
                     f"{'(reference)' if equal is None else ('yes' if equal else 'NO')} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (RESULTS / f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not same:
        raise SystemExit(f"Spark's histogram from the canonical tables differs from DuckDB's (or failed): {sparks}")
    return 0


def profile_runs(n: int, out: str, work: str, baselines: list[str], timeout: float) -> int:
    """The canonical path at one size with every Spark statement timed: DuckDB (the reference histogram), then Spark
    with each baseline revision's code (its package first on PYTHONPATH, as bench_memory does) and with this
    tree's, each a fresh process, in one run. Writes benchmarks/results/{out}.{json,md}."""
    import subprocess

    from _common import checkout

    folder = str(Path(work) / f"canonical{n}")
    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "write": child(__file__, ["canonical", str(n), folder], timeout=7200), "rows": []}

    def measured(label: str, args: list[str], code: Path | None = None) -> None:
        print(f"n={n:,}: {label}", file=sys.stderr, flush=True)
        env = dict(os.environ)
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])
        try:
            done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                                  timeout=timeout, cwd=ROOT, env=env)
            row = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                   {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]})
        except subprocess.TimeoutExpired:
            row = {"error": f"stopped after {timeout:.0f} s", "load": load()}
        report["rows"].append({"label": label, **row})
        RESULTS.mkdir(parents=True, exist_ok=True)  # after every run: a run stopped later keeps what it measured
        (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")

    try:
        measured("duckdb (reference)", ["canonical-duckdb", folder, str(n)])
        for ref in baselines:
            with checkout(ref) as code:
                measured(f"spark, {ref}'s code", ["canonical-profile", folder, str(n)], code)
        measured("spark, this tree", ["canonical-profile", folder, str(n)])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    duck = report["rows"][0]
    for row in report["rows"][1:]:
        row["same_as_duckdb"] = "checksum" in row and same_as_duckdb(row, duck)
    text = profile_markdown(n, report)
    text += "\n" + "\n".join(f"- {row['label']}: histogram {'identical to' if row.get('same_as_duckdb') else 'NOT'} "
                              f"DuckDB's" for row in report["rows"][1:]) + "\n"
    (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (RESULTS / f"{out}.md").write_text(text)
    print(text)
    return 0 if all(row.get("same_as_duckdb") for row in report["rows"][1:]) else 1


def runs_report(path: str, out: str) -> int:
    """benchmarks/results/{out}.md from a file of runs, one JSON object a line ({label, code, start, load_before,
    load_after, row}: `row` is a child's result, e.g. `--child canonical-duckdb FOLDER N` or `canonical-profile`),
    made by a shell loop that runs main's code and this branch's one after another under the lock on the same
    folders: per size, each run's wall, CPU and counts against DuckDB's, then each Spark run's statement profile."""
    runs = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    sizes = sorted({r["row"]["n"] for r in runs if "n" in r["row"]}, reverse=True)
    lines = [f"# Canonical tables -> features -> histogram, main's code against this branch's ({TRIAL}, synthetic "
             f"{POPULATION})", "", "Each run a fresh process under `nice -n 10`, one after another under the benchmark "
             "lock on the same canonical Parquet folder per size; load average (1 min) before and after each.", ""]
    for n in sizes:
        at = [r for r in runs if r["row"].get("n") == n or (r["label"].endswith(f"_{n}") and "n" not in r["row"])]
        duck = next((r["row"] for r in at if r["row"].get("engine") == "duckdb" and "checksum" in r["row"]), {})
        lines += [f"## {n:,} subjects", "",
                  "| run | code | start (UTC) | features (wall) | features + histogram (wall) | CPU: Python / JVM | "
                  "load before / after | statements | histogram equal to DuckDB's |",
                  "|---|---|---|---:|---:|---:|---:|---:|---|"]
        for r in at:
            row = r["row"]
            if "error" in row:
                lines.append(f"| {r['label']} | {r['code']} | {r['start']} | error: {row['error']} | | | "
                             f"{r['load_before']} / {r['load_after']} | | |")
                continue
            same = "(reference)" if row["engine"] == "duckdb" else ("yes" if same_as_duckdb(row, duck) else "NO")
            lines.append(f"| {r['label']} | {r['code']} | {r['start']} | {row['features_s']:.1f} s | "
                         f"{row['seconds']:.1f} s | {row['python_cpu_s']:.1f} / {shown(row.get('jvm_cpu_s'), 's', 1)} | "
                         f"{r['load_before']} / {r['load_after']} | {len(row.get('statements') or []) or '-'} | {same} |")
        lines.append("")
        for r in at:
            if r["row"].get("statements"):
                report = {"rows": [{"label": f"{r['label']} ({r['code']}'s code)", **r["row"]}], "run": r["start"],
                          "machine": {"load": r["load_before"]}, "write": {}}
                lines += profile_markdown(n, report).splitlines()[4:]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(runs, indent=2, default=float) + "\n")
    (RESULTS / f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        run_child(argv[1], argv[2:])
        return 0
    if argv and argv[0] == "--runs-report":  # --runs-report RUNS.jsonl OUT
        return runs_report(argv[1], argv[2])
    if argv and argv[0] == "--canonical":
        parser = argparse.ArgumentParser(description="canonical tables -> features -> histogram, DuckDB and Spark")
        parser.add_argument("--size", type=float, default=1e6)
        parser.add_argument("--work", default=tempfile.gettempdir())
        parser.add_argument("--out", default="spark_canonical")
        parser.add_argument("--timeout", type=float, default=7200, help="seconds one engine's run may take")
        parser.add_argument("--partitions", nargs="*", type=int, default=[],
                            help="Spark shuffle partition counts, a run each (none: the session's default)")
        parser.add_argument("--paths", nargs="+", choices=["memory", "folder"], default=["memory"],
                            help="Spark's ways to the features, a run each: derived in memory, or the screening "
                                 "folder written by Spark")
        parser.add_argument("--profile", action="store_true",
                            help="time every Spark statement (results: --out, e.g. spark_canonical_profile)")
        parser.add_argument("--baseline", action="append", default=[], metavar="REF",
                            help="with --profile: also run that revision's code first, in the same run")
        args = parser.parse_args(argv[1:])
        if args.profile:
            return profile_runs(int(args.size), args.out, args.work, args.baseline, args.timeout)
        return canonical_runs(int(args.size), args.out, args.work, args.partitions, args.timeout, tuple(args.paths))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--memory-sizes", nargs="*", type=float, default=[1e6],
                        help="sizes at which the memory engine runs too (13.5 GB at 10^7: see engine.md)")
    parser.add_argument("--spark-sizes", nargs="*", type=float, default=[1e6])
    parser.add_argument("--partitions", nargs="+", type=int, default=[2, 8, 32, 128])
    parser.add_argument("--folder", action="append", default=[], metavar="SIZE=PATH",
                        help="a screening folder already written for that size (kept after the run), e.g. 1e7=/tmp/s1e7")
    parser.add_argument("--warm", default=None, help="the 10^5 folder of Spark's warm-up query (written if not given)")
    parser.add_argument("--out", default="spark", help="results file stem in benchmarks/results/")
    args = parser.parse_args(argv)
    given = {int(float(size)): path for size, _, path in (f.partition("=") for f in args.folder)}
    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sizes": [], "machine": machine()}
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    mismatches = []
    try:
        warm = args.warm
        if args.spark_sizes and warm is None:
            warm = str(work / "warm")
            write_folder(WARM, warm)
        for size in args.sizes:
            n = int(size)
            folder = given.get(n) or str(work / f"n{n}")
            entry = {"n": n}
            if n not in given:
                print(f"n={n:,}: writing Parquet", file=sys.stderr, flush=True)
                entry["write"] = write_folder(n, folder)
            print(f"n={n:,}: DuckDB histogram", file=sys.stderr, flush=True)
            entry["duckdb"] = {**child(__file__, ["duckdb", folder, str(n)]), "load": load()}
            if size in args.memory_sizes:
                print(f"n={n:,}: memory engine", file=sys.stderr, flush=True)
                entry["memory"] = child(__file__, ["memory", str(n)])
            if size in args.spark_sizes:
                print(f"n={n:,}: Spark by partitions {args.partitions}", file=sys.stderr, flush=True)
                entry["spark"] = {"load": load(), **child(__file__, ["spark", folder, warm, str(n),
                                                                    *map(str, args.partitions)], timeout=7200)}
                mismatches += [f"{n:,} with {run['partitions']} partitions"
                               for run in entry["spark"].get("runs", []) if not same_as_duckdb(run, entry["duckdb"])]
            report["sizes"].append(entry)
            if n == 10 ** 6 and "pandas_chain_s" in entry.get("memory", {}):
                report["pandas_chain_1e6_s"] = entry["memory"]["pandas_chain_s"]
            if n not in given:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["notes"] = [
        "toggle -> funnel: median over every criterion switched off in turn (3 rounds); the histogram column "
        "is a HistogramMatrix holding only (pattern, count) rows, so its cost follows the number of patterns",
        "pandas chain: pandas_chain.py's criterion-by-criterion DataFrame filter, re-run in full per change "
        "(median of 5 changes), on the 10^6 cohort in the same run; the ratio at every size is against that "
        "10^6 chain (the chain grows with the cohort, the histogram does not)",
        "peak RSS of the histogram-only process includes DuckDB's working memory while it groups; "
        "the memory engine's column is a process holding the whole matrix and the cohort",
        "Spark partitions: spark.sql.files.maxPartitionBytes set to split features.parquet into that many "
        "input splits (row groups of 131,072 rows bound how many are real: 8 at 10^6, 77 at 10^7) and as many "
        "shuffle partitions (spark.sql.shuffle.partitions)",
        "Spark CPU and memory: the Python driver and the JVM apart, from /proc (user + system CPU; VmHWM, the "
        "peak resident size, reset before each run); JVM read / written are its rchar / wchar over the run: "
        "the Parquet it read, the shuffle and spill files it wrote and read back (page cache or disk)",
        "Spark's session is warmed by one histogram of a 10^5 folder first (the first query compiles code); "
        "the script stops with an error if any Spark histogram differs from DuckDB's on the same folder",
        "wall-clock times on a 2-core machine shared with other work (load average above)",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(report))
    print(markdown(report))
    if mismatches:  # the engines must agree: a run that differs is a bug, not a figure
        raise SystemExit(f"Spark's histogram differs from DuckDB's at {', '.join(mismatches)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
