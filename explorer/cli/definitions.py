"""`trial-explorer trials | show | check | schema | variables`: the trial definitions and the variable catalogue."""

from __future__ import annotations

import argparse

import pandas as pd

from explorer.cli.options import add_command, add_format_option
from explorer.cli.output import emit, emit_json
from explorer.describe import catalogue_table, criteria_table, outcomes_table
from explorer.trial import bundled_trials, load_trial, trial_json_schema


def register(commands: argparse._SubParsersAction) -> None:
    p = add_command(commands, "trials", run_trials, "list the bundled trial definitions")
    add_format_option(p)

    p = add_command(commands, "show", run_show, "show a trial's criteria (bundled id or a definition file)")
    p.add_argument("trial", help="bundled trial id (e.g. NCT06196996) or path to a .yaml file")
    p.add_argument("--width", type=int, default=70, help="maximum column width in table output")
    add_format_option(p)

    p = add_command(commands, "check", run_check, "validate trial definition files")
    p.add_argument("files", nargs="+")

    add_command(commands, "schema", run_schema, "print the JSON Schema of the trial definition format")

    p = add_command(commands, "variables", run_variables, "list the variable catalogue (what expressions may use)")
    p.add_argument("--trial", help="include a trial's own variables")
    add_format_option(p)


def run_trials(args: argparse.Namespace) -> None:
    rows = []
    for trial_id in bundled_trials():
        t = load_trial(trial_id)
        rows.append({"id": t.id, "title": t.title, "phase": t.phase, "enrollment": t.enrollment,
                     "inclusion": len(t.inclusion), "exclusion": len(t.exclusion),
                     "computable": sum(c.computable for c in t.criteria), "outcomes": len(t.outcomes)})
    emit(pd.DataFrame(rows), args.format, title="Bundled trials", max_colwidth=60)


def run_show(args: argparse.Namespace) -> None:
    trial = load_trial(args.trial)
    table = criteria_table(trial)
    if args.format == "json":
        data = trial.to_dict()
        data["criteria_table"] = table.to_dict(orient="records")
        emit_json(data)
        return
    if args.format == "csv":
        emit(table, "csv")
        return
    print(f"{trial.id}: {trial.title}")
    print(f"sponsor: {trial.sponsor or '-'} | phase: {trial.phase or '-'} | target enrollment: "
          f"{trial.enrollment or '-'} | conditions: {', '.join(trial.conditions) or '-'}")
    print(f"criteria: {len(trial.inclusion)} inclusion, {len(trial.exclusion)} exclusion, "
          f"{sum(c.computable for c in trial.criteria)} computable\n")
    emit(table.drop(columns=["unknown_policy"]), "table", max_colwidth=args.width)
    if trial.outcomes:
        print()
        emit(outcomes_table(trial), "table", title="Outcomes", max_colwidth=args.width)


def run_check(args: argparse.Namespace) -> None:
    for path in args.files:
        trial = load_trial(path)
        print(f"{path}: ok ({len(trial.criteria)} criteria, {sum(c.computable for c in trial.criteria)} "
              f"computable, {len(trial.outcomes)} outcomes)")


def run_schema(args: argparse.Namespace) -> None:
    emit_json(trial_json_schema())


def run_variables(args: argparse.Namespace) -> None:
    trial = load_trial(args.trial) if args.trial else None
    emit(catalogue_table(trial), args.format, max_colwidth=60)
