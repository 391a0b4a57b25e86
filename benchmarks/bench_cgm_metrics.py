"""Benchmark the full CGM metric set: consensus metrics, variability indices (with MAGE) and episodes.

    .venv/bin/python benchmarks/bench_cgm_metrics.py [--sizes 100 1000]

`all` is compute_cgm_metrics: the three together, as the outcome measures run them.
Each subject gets 14 days of 5-minute readings in whole mg/dL (a seeded sine with noise, so there are
excursions, hypo- and hyperglycaemia). Times one run of each function (seconds) and writes
benchmarks/results/cgm_metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from explorer.clinical.cgm import cgm_metrics  # noqa: E402
from explorer.clinical.cgm_episodes import glycaemic_episodes  # noqa: E402
from explorer.clinical.cgm_table import compute_cgm_metrics  # noqa: E402
from explorer.clinical.glycaemic_variability import variability_metrics  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cgm_metrics.json"
READINGS_PER_SUBJECT = 14 * 288


def traces(n_subjects: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = np.tile(np.arange(READINGS_PER_SUBJECT) * 5, n_subjects)
    phase = np.repeat(rng.uniform(0, 6, n_subjects), READINGS_PER_SUBJECT)
    glucose = 140 + 60 * np.sin(minutes / 200 + phase) + rng.normal(0, 15, len(minutes))
    return pd.DataFrame({
        "subject_id": np.repeat([f"S{i:06d}" for i in range(n_subjects)], READINGS_PER_SUBJECT),
        "time": pd.Timestamp("2024-01-01") + pd.to_timedelta(minutes, unit="min"),
        "glucose": np.clip(glucose, 40, 400).round(),
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[100, 1000])
    args = parser.parse_args(argv)
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "load": os.getloadavg()[0]}, "sizes": {}}
    print(f"{'subjects':>9} {'readings':>11} {'cgm_metrics':>12} {'episodes':>9} {'variability':>12} {'all':>6}")
    for n in args.sizes:
        cgm = traces(n)
        timings = {}
        for name, function in (("cgm_metrics", cgm_metrics), ("glycaemic_episodes", glycaemic_episodes),
                               ("variability_metrics", variability_metrics),
                               ("compute_cgm_metrics", compute_cgm_metrics)):  # all three, as the outcomes use them
            start = time.perf_counter()
            function(cgm)
            timings[name] = time.perf_counter() - start
        results["sizes"][str(n)] = {"readings": len(cgm), **timings}
        print(f"{n:>9,} {len(cgm):>11,} {timings['cgm_metrics']:>12.2f} {timings['glycaemic_episodes']:>9.2f} "
              f"{timings['variability_metrics']:>12.2f} {timings['compute_cgm_metrics']:>6.2f}")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
