"""Benchmark the histogram interface and the Spark engine (NCT06196996 on the synthetic t1d population).

    .venv/bin/python benchmarks/bench_spark.py [--sizes 1e6 1e7] [--partitions 1 2 4 8] [--spark-sizes 1e6]

Measures, in one run so that the ratios compare like with like:
- toggle -> funnel on the pattern histogram (a HistogramMatrix), at each size, beside the same toggle on
  the in-memory bit columns (at the sizes the memory engine is run) and the pandas re-filter chain
  (benchmarks/pandas_chain.py) at 10^6;
- DuckDB over Parquet -> histogram: time, distinct patterns, and the peak resident memory of a process
  that holds the cohort only as its histogram;
- Spark local over the same Parquet -> histogram, by partition count (input splits and shuffle
  partitions), with the counts checked identical to DuckDB's.
Each measurement runs in its own interpreter (its peak RSS is its own). The Parquet folders are written
by bench_engine.py's writer (generated once per size, in a temporary folder).

Writes benchmarks/results/spark.json and spark.md (--out names another stem).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (  # sibling modules (run as a file)
    RESULTS,
    ROOT,
    child,
    cohort,
    machine,
    peak_rss_mb,
    shown,
)
from pandas_chain import PandasChain

from explorer.engine import evaluate, final_counts, funnel
from explorer.engine.histogram import HistogramMatrix, evaluate_histogram
from explorer.engine.patterns import funnel_counts, select
from explorer.trial import load_trial

TRIAL = "NCT06196996"
POPULATION = "t1d"
ROUNDS = 3


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


def histogram_checksum(matrix) -> list:
    """The histogram as sorted (pattern, count) rows, to compare engines."""
    h = matrix.histogram
    rows = sorted((tuple(int(x) for x in p), int(c)) for p, c in zip(h.patterns, h.counts, strict=True))
    return [int(np.int64(hash(tuple(rows)) & 0x7FFFFFFF)), len(rows)]


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
            "final_counts": final_counts(h), "checksum": histogram_checksum(h), "peak_rss_mb": peak_rss_mb()}


def bench_spark(folder: str, n: int, partitions: list[int]) -> dict:
    from explorer.engine.spark import SparkBackend, spark_session
    trial = load_trial(TRIAL)
    start = time.perf_counter()
    spark = spark_session("local[*]")
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - start
    computable = [c for c in trial.criteria if c.computable]
    warm = SparkBackend(folder, trial.catalogue, spark=spark)
    start = time.perf_counter()
    warm.status_histogram(computable)  # JIT and codegen warm-up: the first query of a session is slower
    first = time.perf_counter() - start
    runs = []
    for p in partitions:
        backend = SparkBackend(folder, trial.catalogue, spark=spark, partitions=p)
        start = time.perf_counter()
        h = evaluate_histogram(trial, None, backend=backend)
        seconds = time.perf_counter() - start
        runs.append({"partitions": p, "spark_histogram_s": seconds, "final_counts": final_counts(h),
                     "checksum": histogram_checksum(h)})
        backend.close()
    spark.stop()
    return {"n": n, "spark_startup_s": startup, "spark_first_query_s": first, "runs": runs,
            "driver_peak_rss_mb": peak_rss_mb()}


def run_child(kind: str, rest: list[str]) -> None:
    if kind == "memory":
        result = bench_memory(int(rest[0]))
    elif kind == "duckdb":
        result = bench_duckdb_histogram(rest[0], int(rest[1]))
    else:
        result = bench_spark(rest[0], int(rest[1]), [int(p) for p in rest[2:]])
    print(json.dumps(result, default=float))


def write_folder(n: int, folder: str) -> dict:
    written = child(ROOT / "benchmarks" / "bench_engine.py", ["write", POPULATION, str(n), folder])
    if "error" in written:
        raise SystemExit(f"writing the {n:,} cohort failed: {written['error']}")
    return written


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
              "| subjects | engine | partitions | time | identical to DuckDB |", "|---:|---|---:|---:|---|"]
    for size in report["sizes"]:
        d = size.get("duckdb", {})
        if "duckdb_histogram_s" in d:
            lines.append(f"| {size['n']:,} | DuckDB | threads: {m['cores']} | {d['duckdb_histogram_s']:.2f} s "
                         f"(CPU {d['duckdb_cpu_s']:.2f} s in Python) | - |")
        s = size.get("spark")
        if s and "runs" in s:
            lines.append(f"| {size['n']:,} | Spark local[*] (start-up {s['spark_startup_s']:.1f} s) | first query | "
                         f"{s['spark_first_query_s']:.2f} s | - |")
            for run in s["runs"]:
                same = run["checksum"] == d.get("checksum") and run["final_counts"] == d.get("final_counts")
                lines.append(f"| {size['n']:,} | Spark local[*] | {run['partitions']} | "
                             f"{run['spark_histogram_s']:.2f} s | {'yes' if same else 'NO'} |")
        elif s:
            lines.append(f"| {size['n']:,} | Spark | - | error: {s.get('error')} | - |")
    lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        run_child(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--memory-sizes", nargs="*", type=float, default=[1e6],
                        help="sizes at which the memory engine runs too (13.5 GB at 10^7: see engine.md)")
    parser.add_argument("--spark-sizes", nargs="*", type=float, default=[1e6])
    parser.add_argument("--partitions", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--out", default="spark", help="results file stem in benchmarks/results/")
    args = parser.parse_args(argv)
    report = {"run": time.strftime("%Y-%m-%d %H:%M"), "sizes": [], "machine": machine()}
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        for size in args.sizes:
            n = int(size)
            folder = str(work / f"n{n}")
            print(f"n={n:,}: writing Parquet", file=sys.stderr, flush=True)
            entry = {"n": n, "write": write_folder(n, folder)}
            print(f"n={n:,}: DuckDB histogram", file=sys.stderr, flush=True)
            entry["duckdb"] = child(__file__, ["duckdb", folder, str(n)])
            if size in args.memory_sizes:
                print(f"n={n:,}: memory engine", file=sys.stderr, flush=True)
                entry["memory"] = child(__file__, ["memory", str(n)])
            if size in args.spark_sizes:
                print(f"n={n:,}: Spark by partitions {args.partitions}", file=sys.stderr, flush=True)
                entry["spark"] = child(__file__, ["spark", folder, str(n), *map(str, args.partitions)], timeout=7200)
            report["sizes"].append(entry)
            if n == 10 ** 6 and "pandas_chain_s" in entry.get("memory", {}):
                report["pandas_chain_1e6_s"] = entry["memory"]["pandas_chain_s"]
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
        "input splits (row groups of 131,072 rows bound how many are real) and as many shuffle partitions",
        "wall-clock times on a 2-core machine shared with other work (load average above)",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
