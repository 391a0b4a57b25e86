"""Fuzz the engines without a bound: random rules over hostile data, both engines, outcomes counted by class.

    .venv/bin/python scripts/fuzz_engine.py --cases 3000 [--seed 0] [--seconds 20] [--show 5]

The cases and classes are those of tests/engine_fuzz.py (the bounded run is tests/engine/test_fuzz.py).
It prints the count of each outcome class and a few examples of each class that is a defect, and exits
1 if any defect was found. The case generator lives with the tests, the only other code that uses it;
this script loads it from there by path. Run it under another checkout's Python to measure that version:

    /work/main/.venv/bin/python scripts/fuzz_engine.py --cases 1000
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

HELPER = Path(__file__).resolve().parent.parent / "tests" / "engine_fuzz.py"


def load_cases():
    spec = importlib.util.spec_from_file_location("engine_fuzz", HELPER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="first seed; cases use seed, seed + 1, ...")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit of one case (a hang)")
    parser.add_argument("--show", type=int, default=5, help="examples printed per defect class")
    parser.add_argument("--memory-gb", type=float, default=3.0,
                        help="address-space limit of this process: SQL that grows exponentially becomes a "
                             "MemoryError (an 'exhaustion' outcome) instead of taking the machine's memory")
    args = parser.parse_args(argv)
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    fuzz = load_cases()
    import explorer
    examples: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def seen(case, outcome, detail):
        kinds[outcome][detail.split(":")[0][:70]] += 1
        if outcome in fuzz.BAD and len(examples[outcome]) < args.show:
            examples[outcome].append(f"seed {case.seed} ({case.source}): {detail}\n      rule: {case.expression[:150]}")

    start = time.perf_counter()
    counts = fuzz.run(range(args.seed, args.seed + args.cases), seconds=args.seconds, on_case=seen)
    elapsed = time.perf_counter() - start
    print(f"explorer from {Path(explorer.__file__).parent}")
    print(f"{args.cases} cases (seeds {args.seed}-{args.seed + args.cases - 1}) in {elapsed:.0f} s")
    for outcome in ("agree", "refused_definition", "refused_alike", *fuzz.BAD):
        print(f"  {outcome:<19} {counts.get(outcome, 0):>6}")
    for outcome in fuzz.BAD:
        if kinds.get(outcome):
            print(f"\n{outcome}, by kind:")
            for kind, n in sorted(kinds[outcome].items(), key=lambda item: -item[1]):
                print(f"  {n:>5}  {kind}")
            for example in examples[outcome]:
                print(f"    {example}")
    return 1 if any(counts.get(outcome) for outcome in fuzz.BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
