"""`trial-explorer funnel`: a trial's funnel, per-criterion impact and final count over a data source."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from explorer.cli.options import (
    add_command,
    add_engine_options,
    add_format_option,
    add_source_options,
    engine_options,
    source_from,
    write_load_report,
)
from explorer.cli.output import records
from explorer.engine.matrix import evaluate
from explorer.engine.privacy import METHODS, Protection, display_frame
from explorer.engine.stats import final_counts, funnel, impact
from explorer.errors import DefinitionError
from explorer.trial import load_trial

FUNNEL_COLUMNS = ["step", "criterion", "kind", "policy", "eligible", "possibly_eligible", "remaining", "excluded",
                  "became_unknown", "remaining_pct_start", "remaining_pct_previous", "label"]
IMPACT_COLUMNS = ["criterion", "kind", "failing", "unknown", "excluded_alone", "excluded_alone_possibly",
                  "eligible_if_removed", "remaining_if_removed", "eligible_if_unknown_pass", "label"]


def register(commands: argparse._SubParsersAction) -> None:
    p = add_command(commands, "funnel", run_funnel,
                    "print a trial's eligibility funnel, per-criterion impact and final count")
    p.add_argument("trial", help="bundled trial id or a definition file")
    add_source_options(p, synthetic_help="screen N synthetic subjects",
                       data_help="screen a real dataset (file or folder the loaders read, or a screening folder)")
    add_engine_options(p)
    p.add_argument("--min-cell", type=int, default=None, metavar="K", help="hide counts below K (small-cell protection)")
    p.add_argument("--cell-method", choices=METHODS, default="suppress",
                   help="suppress: hide small counts; round: also round the others to multiples of 5")
    add_format_option(p)


def _final_frame(counts: dict[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame([counts])
    frame.attrs.update({"counts": list(counts), "percents": {}})
    return frame


def run_funnel(args: argparse.Namespace) -> None:
    """Real data's invalid values stop the run (--on-invalid raise) or are made unknown and listed in the load
    report on stderr (reject)."""
    from explorer.sources import open_source

    if args.min_cell is not None and args.min_cell < 0:
        raise DefinitionError("--min-cell must be 0 (off) or a positive count", field="min_cell")
    trial = load_trial(args.trial)
    options = engine_options(args)
    # with --engine duckdb/spark the features of real data are derived in that engine too
    opened = open_source(source_from(args, trial), catalogue=trial.catalogue,
                         read_folder=args.engine == "memory", engine=args.engine, **options)
    matrix = evaluate(trial, opened.screening, engine=args.engine, **options)
    min_cell, method = args.min_cell, args.cell_method
    protection = Protection(min_cell or 0, method)
    steps = protection.table(funnel(matrix))[FUNNEL_COLUMNS]
    effects = protection.table(impact(matrix))[IMPACT_COLUMNS]
    final = protection.table(_final_frame(final_counts(matrix)))
    write_load_report(opened.report)
    out = sys.stdout
    if args.format == "json":
        header = {"trial": trial.id, "source": opened.label, "engine": args.engine, "subjects": matrix.n_subjects,
                  "min_cell": min_cell or None, "cell_method": method if min_cell else None}
        out.write(json.dumps({**header, "funnel": records(steps), "impact": records(effects),
                              "final": records(final)[0]}, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        # one rectangular table: the funnel rows, each with its criterion's impact
        merged = steps.merge(effects.drop(columns=["kind", "label"]), on="criterion", how="left")
        counts = [c for c in IMPACT_COLUMNS if c not in ("criterion", "kind", "label")]
        merged[counts] = merged[counts].astype("Int64")  # the screened row has none: empty, not 345.0
        merged.to_csv(out, index=False)
    else:
        out.write(f"{trial.id}: {trial.title}\n{opened.label} | engine {args.engine} | "
                  f"{matrix.n_subjects} subjects screened\n")
        if min_cell:
            note = " (other counts rounded to multiples of 5)" if method == "round" else ""
            out.write(f"counts below {min_cell} are hidden{note}\n")
        out.write("\nFunnel (unknowns flow into 'possibly eligible'; excluded = first failure at the step)\n")
        out.write(display_frame(steps).fillna("").to_string(index=False, max_colwidth=48) + "\n")
        out.write("\nPer-criterion impact (excluded_alone: eligible if only this criterion were dropped)\n")
        out.write(display_frame(effects).to_string(index=False, max_colwidth=48) + "\n")
        shown = display_frame(final).iloc[0]
        out.write(f"\nFinal: {shown['eligible']} eligible, {shown['possibly_eligible']} possibly eligible "
                  f"(unknown on some criterion), {shown['excluded']} excluded of {shown['screened']} screened\n")
