"""Run every benchmark in benchmarks/ (each bench_*.py, in its own process) and say how each went.

    .venv/bin/python benchmarks/run_all.py                 # every benchmark at its full sizes (make bench)
    .venv/bin/python benchmarks/run_all.py --quick         # small sizes: checks each still runs (make bench QUICK=1)
    .venv/bin/python benchmarks/run_all.py --only engine outcomes
    .venv/bin/python benchmarks/run_all.py --list

A full run writes each benchmark's results into benchmarks/results/ as the benchmark itself does. A quick run
measures nothing worth keeping, so benchmarks/results/ is put back as it was afterwards. A benchmark without
quick settings below is given `--quick` when its --help offers it, and is skipped in a quick run otherwise.
One benchmark failing does not stop the others; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

# Arguments of a quick run: the smallest size each benchmark measures, one repeat.
QUICK_ARGS = {
    "engine": ["--sizes", "1e4"],
    "outcomes": ["--sizes", "1000", "--cgm-sizes", "1000", "--trial-sizes", "1000", "--repeats", "1"],
    "synthetic": ["--sizes", "10000"],
    "dashboard": ["--sizes", "10000", "--repeats", "1"],
    "cgm_metrics": ["--sizes", "100"],
    "sensitivity": ["--sizes", "1e4", "--repeat", "1"],
    "spark": ["--sizes", "1e4", "--memory-sizes", "--spark-sizes", "1e4", "--partitions", "1"],
    "click_messages": ["--sizes", "1000", "--trials", "NCT06196996", "--clicks", "2"],
}


def benchmarks() -> dict[str, Path]:
    """{name: script} for every benchmarks/bench_<name>.py."""
    return {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}


def quick_args(name: str, script: Path) -> list[str] | None:
    """The arguments of a quick run, or None when the benchmark has no quick form."""
    if name in QUICK_ARGS:
        return QUICK_ARGS[name]
    shown = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT)
    return ["--quick"] if "--quick" in shown.stdout else None


def run(name: str, script: Path, arguments: list[str]) -> tuple[int, float]:
    print(f"\n=== {name}: {script.relative_to(ROOT)} {' '.join(arguments)}", flush=True)
    started = time.perf_counter()
    code = subprocess.run([sys.executable, str(script), *arguments], cwd=ROOT).returncode
    return code, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    found = benchmarks()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes only, to check every benchmark runs; recorded results are kept")
    parser.add_argument("--only", nargs="+", choices=sorted(found), metavar="NAME", help="run only these")
    parser.add_argument("--skip", nargs="+", choices=sorted(found), default=[], metavar="NAME", help="leave these out")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their quick arguments")
    args = parser.parse_args(argv)

    chosen = {name: script for name, script in found.items()
              if (not args.only or name in args.only) and name not in args.skip}
    if args.list:
        for name, script in chosen.items():
            quick = quick_args(name, script)
            print(f"{name:12} {script.relative_to(ROOT)}  quick: {' '.join(quick) if quick is not None else '(none)'}")
        return 0

    kept = Path(tempfile.mkdtemp(prefix="bench-results-")) / "results"
    if args.quick:
        shutil.copytree(RESULTS, kept) if RESULTS.is_dir() else kept.mkdir()
    outcomes: list[tuple[str, str, float]] = []
    try:
        for name, script in chosen.items():
            arguments = quick_args(name, script) if args.quick else []
            if arguments is None:
                print(f"\n=== {name}: skipped (no quick settings: add them to QUICK_ARGS in "
                      f"{Path(__file__).name} or give the benchmark a --quick option)", flush=True)
                outcomes.append((name, "skipped", 0.0))
                continue
            code, seconds = run(name, script, arguments)
            outcomes.append((name, "ok" if code == 0 else f"failed (exit {code})", seconds))
    finally:
        if args.quick and kept.is_dir():
            shutil.rmtree(RESULTS)
            shutil.copytree(kept, RESULTS)
            print(f"\nquick run: {RESULTS.relative_to(ROOT)} is as it was before", flush=True)
        shutil.rmtree(kept.parent, ignore_errors=True)

    print("\nbenchmark     result              seconds")
    for name, result, seconds in outcomes:
        print(f"{name:12}  {result:18}  {seconds:7.1f}")
    return 1 if any(result.startswith("failed") for _, result, _ in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
