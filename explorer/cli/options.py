"""Options several commands share (output format, data source, engine), and the helper that adds a command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from explorer.cli.output import FORMATS
from explorer.clinical.populations import POPULATION_NAMES
from explorer.engine.matrix import ENGINES
from explorer.errors import DefinitionError

if TYPE_CHECKING:
    from explorer.sources import DataSource

Handler = Callable[[argparse.Namespace], "int | None"]
SPARK_MASTER_VARIABLE = "TRIAL_EXPLORER_SPARK_MASTER"  # the Spark engine's default master when none is given


def add_command(commands: argparse._SubParsersAction, name: str, handler: Handler, help: str
                ) -> argparse.ArgumentParser:
    """A subcommand whose --help repeats its one-line summary; `handler(args)` runs it."""
    parser = commands.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler)
    # --debug after the command too (`trial-explorer show x.yaml --debug`); SUPPRESS keeps the top-level value
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def add_source_options(parser: argparse.ArgumentParser, *, synthetic_help: str, data_help: str,
                       seed_help: str = "seed of the synthetic cohort (default 0)") -> None:
    """--synthetic N | --data PATH (one is required), --seed and --population."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", type=int, metavar="N", help=synthetic_help)
    source.add_argument("--data", metavar="PATH", help=data_help)
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument("--population", choices=POPULATION_NAMES, help="synthetic population (default: the trial's)")
    add_invalid_option(parser)


def add_invalid_option(parser: argparse.ArgumentParser) -> None:
    """--on-invalid raise|reject: what the loaders do with an invalid value of real data (the API's choice and
    default, explorer.sources.ON_INVALID); what "reject" made unknown is listed on stderr after the run."""
    from explorer.sources import ON_INVALID

    parser.add_argument("--on-invalid", choices=ON_INVALID, default=ON_INVALID[0], dest="on_invalid",
                        help="with --data: what an invalid value does (text in a number cell, a date that is no date, "
                             "a value outside its plausible range): raise stops with one error listing every such "
                             "value (file, column, rows; the default); reject treats them as unknown, keeps "
                             "everything else and lists on stderr how many were made unknown and where")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """--engine NAME (any of explorer.engine.matrix.ENGINES) and --spark-master URL."""
    parser.add_argument("--engine", choices=ENGINES, default="memory",
                        help="evaluation engine (default: memory; duckdb reads screening folders in place)")
    parser.add_argument("--spark-master", metavar="URL",
                        help=f"with --engine spark: the Spark master or Spark Connect URL (local[*], spark://..., "
                             f"sc://...; default: ${SPARK_MASTER_VARIABLE} or local)")


def source_from(args: argparse.Namespace, trial) -> DataSource:
    """The data source --synthetic/--data name; a synthetic cohort is of the trial's population by default."""
    from explorer.cohort.synthetic.trial_match import population_for
    from explorer.sources import DataSource

    if args.synthetic is not None:
        return DataSource("synthetic", args.population or population_for(trial), args.synthetic, args.seed)
    return DataSource("path", path=args.data, on_invalid=args.on_invalid)


def write_load_report(report) -> None:
    """The load report of real data on stderr (what was read, kept, rejected; every value made unknown, with its
    file, column and first rows), after the work, so that a failed run prints only its error line."""
    if report is not None:
        sys.stderr.write(report.summary() + "\n")


def engine_options(args: argparse.Namespace) -> dict[str, str]:
    """What --engine's engine is given besides its name: the Spark master (explorer.engine.evaluate(master=))."""
    if args.spark_master is None:
        return {}
    if args.engine != "spark":
        raise DefinitionError(f"--spark-master applies to --engine spark only (the engine is {args.engine})",
                              field="spark_master")
    return {"master": args.spark_master}
