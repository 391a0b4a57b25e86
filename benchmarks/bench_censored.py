"""The cost of deciding censored values on their intervals (docs/engine.md, "Censored values").

The synthetic cohort writes C-peptide below its 0.017 nmol/L assay limit as half the limit (0.0085), but its fast
path keeps no interval. This benchmark builds the interval table a loader would give it (every fasting, post-meal
and random C-peptide equal to 0.0085 is "<0.017": [0, 0.017)) and, in one run, each child a fresh interpreter:

- `plain`: the screening without intervals (every engine as before this change: no comparison is decided on one);
- `intervals`: the same screening with the interval table (C-peptide comparisons evaluated at both bounds).

For each it reports the evaluation time of NCT06196996's criteria (memory engine, and DuckDB on the Screening),
the peak resident memory of the child and the counts (eligible, unknown per criterion), with the load average.

    flock /tmp/te-bench.lock nice -n 10 .venv/bin/python benchmarks/bench_censored.py [--n 1000000] [--out censored]
        [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import RESULTS, machine, peak_rss_mb

LIMIT = 0.017
VARIABLES = ("fasting_cpeptide", "postmeal_cpeptide", "random_cpeptide")


def run_child(n: int, variant: str, engine: str) -> dict:
    import numpy as np
    import pandas as pd

    from explorer.cohort.compact import widened
    from explorer.cohort.synthetic.screening_table import generate_screening
    from explorer.engine.matrix import evaluate
    from explorer.trial import load_trial

    started = time.perf_counter()
    screening = generate_screening("t1d", n, seed=0)
    if variant == "intervals":
        frames = []
        for name in VARIABLES:
            if name not in screening.features.columns:
                continue
            values = widened(screening.features[[name]])[name].to_numpy(dtype="float64", na_value=np.nan)
            rows = np.flatnonzero(values == LIMIT / 2)
            frames.append(pd.DataFrame({"subject_id": pd.Categorical.from_codes(rows, categories=screening.features.index),
                                        "variable": name, "low": 0.0, "high": np.nextafter(LIMIT, 0)}))
        censored = pd.concat(frames, ignore_index=True)
        censored["variable"] = censored["variable"].astype("category")
        screening = screening.__class__(**{**screening.__dict__, "censored": censored})
    built = time.perf_counter() - started
    trial = load_trial("NCT06196996")
    started = time.perf_counter()
    matrix = evaluate(trial, screening, engine=engine)
    evaluated = time.perf_counter() - started
    # the trial reads no C-peptide: a criterion that does (a residual-function rule) is what pays for intervals
    from types import SimpleNamespace

    from explorer.engine.duck import DuckDBBackend
    from explorer.engine.memory import MemoryBackend
    from explorer.expr import parse
    text = "fasting_cpeptide < 0.3 and postmeal_cpeptide < 0.6"
    rule = SimpleNamespace(id="cpeptide", tree=parse(text), expression=text, parameter_values=dict)
    backend = MemoryBackend(screening) if engine == "memory" else DuckDBBackend(screening)
    started = time.perf_counter()
    (codes,) = backend.truth_codes([rule])
    rule_s = time.perf_counter() - started
    unknown = {"cpeptide_rule": {"pass": int((codes == 1).sum()), "fail": int((codes == 0).sum()),
                                 "unknown": int((codes == 2).sum())},
               "trial_columns_unknown": [int((np.asarray(c) == 2).sum()) for c in matrix.columns]}
    return {"variant": variant, "engine": engine, "n": n, "build_s": round(built, 3), "evaluate_s": round(evaluated, 3),
            "cpeptide_rule_s": round(rule_s, 3),
            "censored_rows": 0 if variant == "plain" else int(len(censored)),
            "peak_rss_mb": round(peak_rss_mb(), 1), "unknown": unknown}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=float, default=1e6)
    parser.add_argument("--out", default="censored")
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--quick", action="store_true", help="2,000 subjects: checks that the benchmark runs")
    args = parser.parse_args()
    n = 2000 if args.quick else int(args.n)
    if args.child:
        print(json.dumps(run_child(n, *args.child)))
        return
    runs = []
    for engine in ("memory", "duckdb"):
        for variant in ("plain", "intervals"):
            out = subprocess.run([sys.executable, __file__, "--n", str(n), "--child", variant, engine],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "unknown"}), runs[-1]["unknown"]["cpeptide_rule"],
                  flush=True)
    result = {"machine": machine(), "load_average": os.getloadavg(), "runs": runs}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
