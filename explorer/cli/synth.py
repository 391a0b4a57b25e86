"""`trial-explorer synth`: a synthetic screening cohort written as canonical tables (Parquet or CSV)."""

from __future__ import annotations

import argparse
import sys

from explorer.cli.options import add_command
from explorer.clinical.populations import POPULATION_NAMES
from explorer.errors import DataError


def register(commands: argparse._SubParsersAction) -> None:
    p = add_command(commands, "synth", run_synth,
                    "write a synthetic screening cohort as canonical tables (Parquet or CSV)")
    p.add_argument("--population", choices=POPULATION_NAMES, required=True)
    p.add_argument("--n", type=int, required=True, help="number of subjects")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--csv", action="store_true", help="write CSV instead of Parquet")


def run_synth(args: argparse.Namespace) -> None:
    from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort

    if args.n < 1:
        raise DataError("--n must be at least 1")
    cohort = generate_cohort(args.population, args.n, seed=args.seed, progress=sys.stderr.isatty())
    paths = write_cohort(cohort, args.out, format="csv" if args.csv else "parquet")
    for name, path in paths.items():
        print(f"{name}: {path}")
