"""Throughput and peak memory of the synthetic generator at 10^4, 10^5 and 10^6 subjects.

Each measurement runs in a fresh Python process, so peak memory is that run's alone:
- seconds and subjects/second from a plain run, with its peak resident memory (ru_maxrss) minus the
  memory after imports;
- the peak of Python/NumPy allocations from a second run under tracemalloc (Arrow string buffers are
  allocated outside Python and only show in the resident figure).

    .venv/bin/python benchmarks/bench_synthetic.py                       # all sizes, both paths
    .venv/bin/python benchmarks/bench_synthetic.py --sizes 10000 100000   # quicker
    .venv/bin/python benchmarks/bench_synthetic.py --kinds outcomes --populations islet --sizes 1000 10000

Writes benchmarks/results/synthetic.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "synthetic.json"


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def child(kind: str, population: str, n: int, trace: bool) -> dict:
    import tracemalloc

    from explorer.cohort.synthetic import generate_cohort, generate_outcomes, generate_screening

    before = _maxrss_mb()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    if kind == "screening":
        result = generate_screening(population, n, seed=0)
        rows = {"features": len(result.features), "events": len(result.events),
                "missing_reasons": len(result.missing_reasons)}
    elif kind == "outcomes":  # population is a response model here ("islet", "msc"); 20 subjects get readings
        result = generate_outcomes(n, population, seed=0)
        rows = {t: len(getattr(result, t)) for t in ("subjects", "measurements", "events", "cgm")}
    else:
        result = generate_cohort(population, n, seed=0)
        rows = {t: len(getattr(result, t)) for t in ("subjects", "measurements", "events", "cgm", "event_history")}
    seconds = time.perf_counter() - start
    out = {"kind": kind, "population": population, "n": n, "rows": rows}
    if trace:
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    else:
        out.update(seconds=seconds, subjects_per_second=n / seconds, peak_rss_mb=_maxrss_mb(),
                   rss_increase_mb=_maxrss_mb() - before)
    return out


def run_child(kind: str, population: str, n: int, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, population, str(n)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--populations", nargs="+", default=["t1d", "t2d"])
    parser.add_argument("--kinds", nargs="+", default=["screening", "canonical"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "POPULATION", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, population, n = args.child
        print(json.dumps(child(kind, population, int(n), args.trace)))
        return 0

    results = []
    load_before = os.getloadavg()
    for kind in args.kinds:
        for population in args.populations:
            for n in args.sizes:
                plain = run_child(kind, population, n, trace=False)
                plain["traced_peak_mb"] = run_child(kind, population, n, trace=True)["traced_peak_mb"]
                results.append(plain)
                print(f"{kind:9s} {population} n={n:>9,}  {plain['seconds']:7.2f} s  "
                      f"{plain['subjects_per_second']:>11,.0f} subjects/s  peak RSS {plain['peak_rss_mb']:7.0f} MB "
                      f"(+{plain['rss_increase_mb']:.0f})  traced peak {plain['traced_peak_mb']:7.0f} MB", flush=True)
    import numpy
    import pandas

    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": numpy.__version__, "pandas": pandas.__version__,
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
