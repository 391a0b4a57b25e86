"""Benchmark canonical tables -> screening features -> status histogram: SQL in DuckDB against pandas.

    nice -n 10 .venv/bin/python benchmarks/bench_features_sql.py [--sizes 1e5 1e6] [--quick]

For each size, the synthetic t1d canonical tables (explorer.cohort.synthetic.canonical_tables: subjects,
measurements, events, CGM, event history) are generated once and written to Parquet; then, each in its
own interpreter so that its peak resident memory is its own:
- pandas (the baseline): load the tables, explorer.cohort.features.screening_features, then the memory
  engine's matrix and its status histogram (NCT06196996);
- duckdb: load the tables, explorer.engine.features_sql.screening_features_sql(engine="duckdb"), then
  explorer.engine.histogram.evaluate_histogram(engine="duckdb").
Times: features, histogram, total (loading the Parquet tables is timed apart and is the same code in
both). The histograms are checked identical. Ratios are DuckDB over pandas in the same run.

Writes benchmarks/results/features_sql.json and features_sql.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TRIAL = "NCT06196996"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n: int, folder: Path) -> dict:
    from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort

    start = time.perf_counter()
    cohort = generate_cohort("t1d", n, seed=1)
    write_cohort(cohort, folder)
    rows = {"measurements": len(cohort.measurements), "cgm": len(cohort.cgm), "events": len(cohort.events)}
    return {"generate_s": time.perf_counter() - start, **rows}


def measure(path: str, folder: Path) -> dict:
    """One path in this interpreter: load, features, histogram; times, peak RSS, the histogram itself."""
    import numpy as np

    from explorer.cohort.loaders import load_canonical
    from explorer.engine.histogram import HistogramMatrix, evaluate_histogram
    from explorer.engine.matrix import evaluate
    from explorer.trial import load_trial

    trial = load_trial(TRIAL)
    start = time.perf_counter()
    cohort = load_canonical(folder).cohort
    loaded = time.perf_counter()
    rss_loaded = peak_rss_mb()
    if path == "pandas":
        from explorer.cohort.features import screening_features

        screening = screening_features(cohort, catalogue=trial.catalogue)
        derived = time.perf_counter()
        histogram = HistogramMatrix.of(evaluate(trial, screening)).histogram
    else:
        from explorer.engine.features_sql import screening_features_sql

        screening = screening_features_sql(cohort, engine="duckdb", catalogue=trial.catalogue)
        derived = time.perf_counter()
        histogram = evaluate_histogram(trial, screening, "duckdb").histogram
    done = time.perf_counter()
    order = np.lexsort(histogram.patterns.T[::-1])
    digest = hashlib.sha256(histogram.patterns[order].tobytes() + histogram.counts[order].tobytes()).hexdigest()
    return {"load_s": loaded - start, "features_s": derived - loaded, "histogram_s": done - derived,
            "total_s": done - loaded, "peak_rss_mb": peak_rss_mb(), "rss_after_load_mb": rss_loaded,
            "patterns": int(len(histogram.counts)), "subjects": int(histogram.counts.sum()), "digest": digest}


def child(path: str, folder: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", path, str(folder)], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise RuntimeError(f"{path} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(results: dict) -> str:
    lines = [
        "# Canonical tables -> features -> status histogram: DuckDB SQL vs pandas",
        "",
        f"`benchmarks/bench_features_sql.py`, {results['machine']}, {results['date']}. Synthetic t1d canonical "
        f"tables, trial {TRIAL}; each path in its own interpreter (peak RSS its own), run with `nice`, one at a "
        "time, on a machine shared with other work (load average at start: "
        f"{results['load']}). Ratios are DuckDB / pandas in the same run; histograms identical in every row.",
        "",
        "| subjects | measurements | CGM readings | path | features s | histogram s | total s | ratio (total) | "
        "peak RSS MB | RSS after load MB | patterns |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        p, d = size["pandas"], size["duckdb"]
        for name, r in (("pandas", p), ("duckdb", d)):
            ratio = f"{r['total_s'] / p['total_s']:.2f}x" if name == "duckdb" else "1"
            lines.append(f"| {size['n']:,} | {size['measurements']:,} | {size['cgm']:,} | {name} | "
                         f"{r['features_s']:.1f} | {r['histogram_s']:.1f} | {r['total_s']:.1f} | {ratio} | "
                         f"{r['peak_rss_mb']:,.0f} | {r['rss_after_load_mb']:,.0f} | {r['patterns']:,} |")
    lines += ["", "Loading the Parquet tables (the same code for both paths) is not in the totals: "
              + ", ".join(f"{s['n']:,}: {s['pandas']['load_s']:.1f} s" for s in results["sizes"]) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6])
    parser.add_argument("--quick", action="store_true", help="10^4 subjects only (a smoke run)")
    parser.add_argument("--out", default="features_sql")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes]
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
               "load": f"{os.getloadavg()[0]:.1f}", "sizes": []}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            row = {"n": n, **generate(n, folder)}
            for path in ("pandas", "duckdb"):
                row[path] = child(path, folder)
                print(n, path, {k: v for k, v in row[path].items() if k != "digest"}, flush=True)
            if row["pandas"]["digest"] != row["duckdb"]["digest"]:
                raise SystemExit(f"histograms differ at {n:,} subjects")
            results["sizes"].append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.quick:
        (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / f"{args.out}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], Path(sys.argv[3]))))
    else:
        main()
