"""Fuzz the paths from a hostile canonical folder to a histogram without a bound, outcomes counted by class.

    .venv/bin/python scripts/fuzz_canonical.py --cases 500 [--seed 0] [--seconds 120] [--spark] [--show 5]

The folders are tests/random_cohort.py's write_hostile_canonical and the classes tests/engine_fuzz.py's
run_canonical_case (memory, DuckDB in place, DuckDB range by range, and with --spark Spark in place; the bounded
run is tests/hostile/test_canonical_engines.py). Prints the count of each class and a few examples of each class
that is a defect; exits 1 if any was found.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def load(name: str):
    """A helper module of tests/ by its path, registered under its name (engine_fuzz imports random_cohort)."""
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="first seed; cases use seed, seed + 1, ...")
    parser.add_argument("--seconds", type=float, default=120.0, help="time limit of one case (a hang)")
    parser.add_argument("--spark", action="store_true", help="also derive each folder in a local Spark session")
    parser.add_argument("--show", type=int, default=5, help="examples printed per class other than agree")
    args = parser.parse_args(argv)
    load("random_cohort")  # the generator and the classes live with the tests, their other user
    engine_fuzz = load("engine_fuzz")

    spark = None
    if args.spark:
        from explorer.engine.spark import spark_session

        spark = spark_session("local[2]", shuffle_partitions=2)
        spark.sparkContext.setLogLevel("ERROR")
    examples: dict[str, list[str]] = defaultdict(list)

    def on_case(seed, outcome, detail):
        if outcome != "agree" and len(examples[outcome]) < args.show:
            examples[outcome].append(f"seed {seed}: {detail}")

    started = time.perf_counter()
    try:
        counts = engine_fuzz.run_canonical(range(args.seed, args.seed + args.cases), seconds=args.seconds,
                                           spark=spark, on_case=on_case)
    finally:
        if spark is not None:
            spark.stop()
    print(f"{args.cases} hostile canonical folders (seeds {args.seed}-{args.seed + args.cases - 1}), "
          f"{time.perf_counter() - started:.0f} s")
    for outcome, n in counts.most_common():
        print(f"  {outcome:20s} {n}")
    for outcome, lines in examples.items():
        print(f"{outcome}:")
        for line in lines:
            print(f"  {line[:400]}")
    return 1 if any(counts[c] for c in engine_fuzz.CANONICAL_BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
