"""The `trial-explorer` command: thin argument parsing over the library; errors become one line on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

import pandas as pd

from explorer.errors import ExplorerError

FORMATS = ("table", "csv", "json")


def emit(frame: pd.DataFrame, fmt: str, *, title: str | None = None, max_colwidth: int = 70,
         stream=None) -> None:
    """Print a DataFrame as an aligned table, CSV or JSON records."""
    stream = stream or sys.stdout
    if fmt == "csv":
        frame.to_csv(stream, index=False)
    elif fmt == "json":
        stream.write(frame.to_json(orient="records", force_ascii=False, indent=2) + "\n")
    else:
        if title:
            stream.write(f"{title}\n")
        stream.write(format_table(frame, max_colwidth) + "\n")


def format_table(frame: pd.DataFrame, max_colwidth: int = 70) -> str:
    """Aligned plain-text table: text left, numbers right, long cells cut with an ellipsis."""
    if frame.empty:
        return "(none)"

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            text = ""
        elif isinstance(value, float):
            text = f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
        else:
            text = " ".join(str(value).split())
        return text if len(text) <= max_colwidth else text[: max_colwidth - 3] + "..."

    columns = [str(c) for c in frame.columns]
    cells = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    widths = [max([len(columns[j])] + [len(r[j]) for r in cells]) for j in range(len(columns))]

    def line(values) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule] + [line(r) for r in cells])


def emit_json(data, stream=None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# --- subcommands ---------------------------------------------------------------------------------

def cmd_trials(args) -> int:
    from explorer.trial import bundled_trials, load_trial

    rows = []
    for trial_id in bundled_trials():
        t = load_trial(trial_id)
        rows.append({"id": t.id, "title": t.title, "phase": t.phase, "enrollment": t.enrollment,
                     "inclusion": len(t.inclusion), "exclusion": len(t.exclusion),
                     "computable": sum(c.computable for c in t.criteria), "outcomes": len(t.outcomes)})
    emit(pd.DataFrame(rows), args.format, title="Bundled trials", max_colwidth=60)
    return 0


def cmd_show(args) -> int:
    from explorer.describe import criteria_table, outcomes_table
    from explorer.trial import load_trial

    trial = load_trial(args.trial)
    if args.format == "json":
        data = trial.to_dict()
        data["criteria_table"] = criteria_table(trial).to_dict(orient="records")
        emit_json(data)
        return 0
    table = criteria_table(trial)
    if args.format == "csv":
        emit(table, "csv")
        return 0
    print(f"{trial.id}: {trial.title}")
    print(f"sponsor: {trial.sponsor or '-'} | phase: {trial.phase or '-'} | target enrollment: "
          f"{trial.enrollment or '-'} | conditions: {', '.join(trial.conditions) or '-'}")
    print(f"criteria: {len(trial.inclusion)} inclusion, {len(trial.exclusion)} exclusion, "
          f"{sum(c.computable for c in trial.criteria)} computable\n")
    emit(table.drop(columns=["unknown_policy"]), "table", max_colwidth=args.width)
    if trial.outcomes:
        print()
        emit(outcomes_table(trial), "table", title="Outcomes", max_colwidth=args.width)
    return 0


def cmd_check(args) -> int:
    from explorer.trial import load_trial

    for path in args.files:
        trial = load_trial(path)
        print(f"{path}: ok ({len(trial.criteria)} criteria, {sum(c.computable for c in trial.criteria)} "
              f"computable, {len(trial.outcomes)} outcomes)")
    return 0


def cmd_schema(args) -> int:
    from explorer.trial import trial_json_schema

    emit_json(trial_json_schema())
    return 0


def cmd_variables(args) -> int:
    from explorer.describe import catalogue_table
    from explorer.trial import load_trial

    trial = load_trial(args.trial) if args.trial else None
    emit(catalogue_table(trial), args.format, max_colwidth=60)
    return 0


# --- wiring --------------------------------------------------------------------------------------

def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trial-explorer",
        description="Explore clinical-trial eligibility funnels and outcomes.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    p = add("trials", cmd_trials, "list the bundled trial definitions")
    _add_format(p)

    p = add("show", cmd_show, "show a trial's criteria (bundled id or a definition file)")
    p.add_argument("trial", help="bundled trial id (e.g. NCT06196996) or path to a .yaml file")
    p.add_argument("--width", type=int, default=70, help="maximum column width in table output")
    _add_format(p)

    p = add("check", cmd_check, "validate trial definition files")
    p.add_argument("files", nargs="+")

    add("schema", cmd_schema, "print the JSON Schema of the trial definition format")

    p = add("variables", cmd_variables, "list the variable catalogue (what expressions may use)")
    p.add_argument("--trial", help="include a trial's own variables")
    _add_format(p)

    for register in _extensions():
        register(sub, add, _add_format)
    return parser


def _extensions() -> list[Callable]:
    """Subcommands contributed by other parts of the package (funnel, synth, outcomes, import, dashboard)."""
    from explorer import commands

    return commands.REGISTRARS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except ExplorerError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug, not bad input: still one line, with a way to get the details
        if args.debug:
            raise
        print(f"error: internal error ({type(err).__name__}: {err}); rerun with --debug for the traceback",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
