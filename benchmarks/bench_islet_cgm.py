"""The islet recipients' CGM glucose model against the Gamma model it replaced, in one process.

Times the per-visit fast path (consensus metrics of 10,000 subjects x 6 visits) and the CDF the readings are
drawn from (20 subjects, one visit), each as the best of several repeats so that other load on the machine
counts as little as possible, and reports islet / Gamma ratios.

    .venv/bin/python benchmarks/bench_islet_cgm.py      # prints, writes benchmarks/results/islet_cgm.json
    .venv/bin/python benchmarks/bench_islet_cgm.py --quick   # one repeat, writes nothing (checks it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import timeit
from pathlib import Path

import numpy as np

from explorer.cohort.synthetic import cgm, islet_cgm

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "islet_cgm.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat; the recorded results are kept")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    repeat, number = (1, 1) if args.quick else (7, 3)

    def best(fn) -> float:
        return min(timeit.repeat(fn, repeat=repeat, number=number)) / number

    rng = np.random.default_rng(0)
    shape = (10_000, 6)
    mean, cv = rng.uniform(100, 220, shape), rng.uniform(17, 45, shape)
    dip, floor = rng.uniform(0, 0.3, shape), rng.uniform(0, 50, shape)
    few = slice(0, 20)
    rows = {
        "fast path, 10,000 x 6": (best(lambda: cgm.summary_metrics(mean, cv)),
                                  best(lambda: islet_cgm.summary_metrics(mean, cv, dip, floor))),
        "readings CDF, 20 subjects": (best(lambda: cgm.gamma_cdf_on_grid(mean[few, 0], cv[few, 0])),
                                      best(lambda: islet_cgm.cdf_on_grid(mean[few, 0], cv[few, 0], dip[few, 0],
                                                                         floor[few, 0]))),
    }
    report = {"load_average": os.getloadavg(), "results": []}
    for name, (gamma, islet) in rows.items():
        report["results"].append({"what": name, "gamma_ms": round(1000 * gamma, 2), "islet_ms": round(1000 * islet, 2),
                                  "ratio": round(islet / gamma, 2)})
        print(f"{name:28s} Gamma {1000 * gamma:8.2f} ms  islet {1000 * islet:8.2f} ms  ratio {islet / gamma:5.2f}")
    if not args.quick:
        args.out.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
