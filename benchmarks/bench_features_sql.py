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

    nice -n 10 .venv/bin/python benchmarks/bench_features_sql.py --blank-share 0.3 --sizes 1e5 --out features_sql_blank

also measures both paths on a copy of each folder where that share of the measurement rows (drawn at random,
seeded) has no value: the rows a loader sets aside as without a usable value (Cohort.unusable), which both
derivations then read to say "measured in the look-back window, but without a usable value". What that layer costs
is the blank copy's time over the clean folder's, per path, in the same run (the histograms of the blank copy are
checked identical between the paths too).

    nice -n 10 .venv/bin/python benchmarks/bench_features_sql.py --funnel --base /tmp/main-checkout [--sizes 1e6]

`--funnel` measures what a user runs instead: `trial-explorer funnel NCT06196996 --data <folder> --engine duckdb`
on the written Parquet folder, each run in its own interpreter (wall time, and its peak RSS from wait4):
"before" with the code of the checkout `--base` (e.g. `git archive <commit> | tar -x -C DIR`; there the
pandas loader reads the folder into a Cohort first), "in place" with this checkout (explorer.engine.canonical_sql
reads the files where they lie). The two funnels are checked identical. Writes features_sql.funnel.json and .md.
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


def blanked(folder: Path, share: float, out: Path) -> int:
    """A copy of the canonical folder `folder` in `out` with `share` of its measurement rows' values blank
    (null), drawn with a fixed seed; returns how many rows were blanked."""
    import shutil

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.copytree(folder, out)
    table = pq.read_table(folder / "measurements.parquet")
    blank = np.random.default_rng(20261207).random(table.num_rows) < share
    value = table.column("value")
    kept = pc.if_else(pa.array(~blank), value, pa.nulls(table.num_rows, value.type))
    pq.write_table(table.set_column(table.column_names.index("value"), "value", kept), out / "measurements.parquet")
    return int(blank.sum())


def child(path: str, folder: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", path, str(folder)], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise RuntimeError(f"{path} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def funnel_child(code: Path, folder: Path) -> dict:
    """`trial-explorer funnel --engine duckdb` with the package at `code`: wall time, peak RSS, the funnel."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    # the child prints its own peak RSS last (resource.getrusage of itself, at exit)
    script = ("import atexit, resource, sys; from explorer.cli.entry import main; "
              "atexit.register(lambda: print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
              "file=sys.stderr)); "
              f"sys.exit(main(['funnel', '{TRIAL}', '--data', sys.argv[1], '--engine', 'duckdb', '--format', 'json']))")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, str(folder)], env=env, cwd=str(code), capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode < 0:  # killed, on this shared machine by the kernel's out-of-memory killer
        return {"wall_s": wall, "peak_rss_mb": None, "funnel": None, "killed_by_signal": -proc.returncode}
    if proc.returncode:
        raise RuntimeError(f"funnel with {code} failed:\n{proc.stderr[-2000:]}")
    peak_kb = int(proc.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    out = proc.stdout
    # the JSON document is the output's one line that is "{" onwards (anything else printed stays out of it)
    funnel = json.loads(out[out.index("{\n"):]) if not out.startswith("{") else json.loads(out)
    funnel.pop("source", None)
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "funnel": funnel}


def funnel_markdown(results: dict) -> str:
    lines = [
        "# `trial-explorer funnel --engine duckdb` on a canonical Parquet folder: pandas loader first vs read in place",
        "",
        f"`benchmarks/bench_features_sql.py --funnel`, {results['machine']}, {results['date']}. Synthetic t1d "
        f"canonical tables written as Parquet, trial {TRIAL}. \"before\" is the code at {results['base']} (the "
        "pandas loader reads the folder into a Cohort, then DuckDB derives the features); \"in place\" is "
        "explorer.engine.canonical_sql (DuckDB reads the files, the loader's checks run as SQL). Each run in its own "
        "interpreter, one at a time, under `nice -n 10`, on a machine shared with other work (load average at "
        f"start: {results['load']}); read the ratios, not the seconds. Funnels identical in every row.",
        "",
        "| subjects | measurements | CGM readings | path | wall s | peak RSS MB | ratio (wall) | ratio (RSS) |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        before, now = size["before"], size["in_place"]
        for name, r in (("before (pandas loader)", before), ("in place", now)):
            if r["peak_rss_mb"] is None:
                lines.append(f"| {size['n']:,} | {size['measurements']:,} | {size['cgm']:,} | {name} | killed "
                             f"(signal {r['killed_by_signal']}) after {r['wall_s']:.0f} s | - | - | - |")
                continue
            ok = before["peak_rss_mb"] is not None and r is not before
            ratio = f"{r['wall_s'] / before['wall_s']:.2f}x" if ok else ("1" if r is before else "-")
            rss = f"{r['peak_rss_mb'] / before['peak_rss_mb']:.2f}x" if ok else ("1" if r is before else "-")
            lines.append(f"| {size['n']:,} | {size['measurements']:,} | {size['cgm']:,} | {name} | {r['wall_s']:.1f} | "
                         f"{r['peak_rss_mb']:,.0f} | {ratio} | {rss} |")
    return "\n".join(lines) + "\n"


def funnel_main(args) -> None:
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes]
    base = Path(args.base).resolve()
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
               "load": f"{os.getloadavg()[0]:.1f}", "base": args.base_label or str(base), "sizes": []}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.folder.format(n=n)) if args.folder else Path(tmp)
            row = {"n": n, **(generate(n, folder) if not args.folder else _rows(folder))}
            for name, code in (("before", base), ("in_place", Path(args.code).resolve() if args.code else ROOT)):
                row[name] = funnel_child(code, folder)
                print(n, name, {k: v for k, v in row[name].items() if k != "funnel"}, flush=True)
            if None not in (row["before"]["funnel"], row["in_place"]["funnel"]) and \
                    row["before"]["funnel"] != row["in_place"]["funnel"]:
                raise SystemExit(f"funnels differ at {n:,} subjects")
            results["sizes"].append(row)
    if not args.quick:
        (RESULTS / f"{args.out}.funnel.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / f"{args.out}.funnel.md").write_text(funnel_markdown(results))
    print(funnel_markdown(results))


def _rows(folder: Path) -> dict:
    """Row counts of a folder written before (--folder): the Parquet footers, not the data."""
    import pyarrow.parquet as pq

    return {t: pq.ParquetFile(folder / f"{t}.parquet").metadata.num_rows if (folder / f"{t}.parquet").exists() else 0
            for t in ("measurements", "cgm", "events")}


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
    blank = [s for s in results["sizes"] if "blank" in s]
    if blank:
        lines += ["", f"## Rows without a usable value: {results['blank_share']:.0%} of the measurement rows blank",
                  "", "The same folder with that share of measurement values set to null (a seeded draw): the rows "
                  "the loader sets aside (Cohort.unusable) and both derivations read. Ratio: blank copy / clean "
                  "folder, per path, same run.", "",
                  "| subjects | rows blanked | path | features s (clean -> blank) | total s (clean -> blank) | "
                  "ratio (total) | peak RSS MB (clean -> blank) | patterns (clean -> blank) |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|"]
        for size in blank:
            for name in ("pandas", "duckdb"):
                c, b = size[name], size["blank"][name]
                lines.append(f"| {size['n']:,} | {size['blank']['rows']:,} | {name} | {c['features_s']:.1f} -> "
                             f"{b['features_s']:.1f} | {c['total_s']:.1f} -> {b['total_s']:.1f} | "
                             f"{b['total_s'] / c['total_s']:.2f}x | {c['peak_rss_mb']:,.0f} -> "
                             f"{b['peak_rss_mb']:,.0f} | {c['patterns']:,} -> {b['patterns']:,} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6])
    parser.add_argument("--quick", action="store_true", help="10^4 subjects only (a smoke run)")
    parser.add_argument("--out", default="features_sql")
    parser.add_argument("--blank-share", type=float, default=0.0,
                        help="also measure a copy with this share of measurement values blank (e.g. 0.3)")
    parser.add_argument("--funnel", action="store_true", help="time `funnel --engine duckdb`: --base code vs this")
    parser.add_argument("--base", help="with --funnel: a checkout of the code to compare against (e.g. main)")
    parser.add_argument("--base-label", help="with --funnel: how the results name --base (e.g. a commit)")
    parser.add_argument("--code", help="with --funnel: the checkout measured as \"in place\" (default: this one)")
    parser.add_argument("--folder", help="with --funnel: canonical Parquet folders written before, {n} the size")
    args = parser.parse_args()
    if args.funnel:
        if not args.base:
            parser.error("--funnel needs --base")
        funnel_main(args)
        return
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes]
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
               "load": f"{os.getloadavg()[0]:.1f}", "sizes": [], "blank_share": args.blank_share}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "clean"
            row = {"n": n, **generate(n, folder)}
            blank = {"rows": blanked(folder, args.blank_share, Path(tmp) / "blank")} if args.blank_share else None
            for path in ("pandas", "duckdb"):  # clean and blank one after the other: the same load for both
                row[path] = child(path, folder)
                print(n, path, {k: v for k, v in row[path].items() if k != "digest"}, flush=True)
                if blank is not None:
                    blank[path] = child(path, Path(tmp) / "blank")
                    print(n, path, "blank", {k: v for k, v in blank[path].items() if k != "digest"}, flush=True)
            if row["pandas"]["digest"] != row["duckdb"]["digest"]:
                raise SystemExit(f"histograms differ at {n:,} subjects")
            if blank is not None:
                if blank["pandas"]["digest"] != blank["duckdb"]["digest"]:
                    raise SystemExit(f"histograms of the blank copy differ at {n:,} subjects")
                row["blank"] = blank
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
