"""`trial-explorer outcomes`: each outcome of a trial summarised per visit, on simulated or real subjects.

    trial-explorer outcomes NCT06196996 --synthetic 20000 [--seed 0] [--model islet] [--format json]
    trial-explorer outcomes NCT01142050 --data path/to/trial_data [--eligible-only]

--synthetic N screens N synthetic subjects of the trial's population, keeps those eligible under the
trial's criteria, enrols them in screening order up to --max-enrolled (default 2,000) and simulates their
outcomes on the trial's visits with the response model that suits the trial
(explorer.cohort.synthetic.enrolment). --data reads any source explorer.cohort.loaders reads and computes the
outcomes of every subject in it (--eligible-only: of those the criteria find eligible).
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from explorer.cli.options import (
    add_command,
    add_format_option,
    add_source_options,
    source_from,
    write_load_report,
)
from explorer.cli.output import format_table, records
from explorer.cohort.synthetic.enrolment import DEFAULT_MAX_ENROLLED, MODEL_CHOICES
from explorer.errors import DataError
from explorer.trial import load_trial

OUTCOME_COLUMNS = ["measure", "statistic", "visit", "n", "mean", "sd", "median", "q1", "q3", "ci_low", "ci_high",
                   "unit"]
ENDPOINT_COLUMNS = ["endpoint", "visit", "n", "responders", "unknown", "proportion", "ci_low", "ci_high"]
COUNT_COLUMNS = {"n", "responders", "unknown", "subjects", "with_event", "events"}
EVENT_COLUMNS = ["event", "visit", "subjects", "with_event", "events", "person_years", "rate", "rate_ci_low",
                 "rate_ci_high"]
ALLOCATIONS = {"trial": False, "treated": None, "random": "random"}  # --allocation -> simulate_outcomes(arm=)


def register(commands: argparse._SubParsersAction) -> None:
    p = add_command(commands, "outcomes", run_outcomes,
                    "summarise every outcome of a trial per visit (simulated enrolled subjects or a real dataset)")
    p.add_argument("trial", help="bundled trial id or a definition file")
    add_source_options(p, synthetic_help="screen N synthetic subjects, enrol the eligible and simulate their outcomes",
                       data_help="a dataset with visits (file or folder the loaders read)",
                       seed_help="seed of the screening and of the outcome simulation")
    p.add_argument("--model", choices=MODEL_CHOICES,
                   help="response model (default: from the trial's interventions, else its population)")
    p.add_argument("--allocation", choices=list(ALLOCATIONS), default="trial",
                   help="trial: 1:1 randomised when the trial has two or more arms, else all treated (default)")
    p.add_argument("--max-enrolled", type=int, default=DEFAULT_MAX_ENROLLED, metavar="K",
                   help=f"enrol at most K eligible subjects (default {DEFAULT_MAX_ENROLLED:,})")
    p.add_argument("--eligible-only", action="store_true", help="with --data: only the subjects found eligible")
    p.add_argument("--outcome", action="append", metavar="ID", help="only this outcome (repeatable)")
    p.add_argument("--by", metavar="SUBGROUP",
                   help="split every summary: sex, age_band, baseline_hba1c_tertile, arm, response_class, ...")
    p.add_argument("--skip-missing", action="store_true",
                   help="skip outcomes the data cannot give (default: stop with an error naming them)")
    add_format_option(p)


def run_outcomes(args: argparse.Namespace) -> None:
    from explorer.outcomes.measures import outcome_measures

    trial = load_trial(args.trial)
    cohort, screening, header, report = _cohort(trial, args)
    results = outcome_measures(trial, cohort, outcomes=args.outcome, screening=screening,
                               on_missing="skip" if args.skip_missing else "raise")
    by = [args.by] if args.by else []
    tables = _tables(results, by)
    write_load_report(report)
    for note in (*results.notes, *(f"skipped {o}: {why}" for o, why in results.skipped.items())):
        print(f"note: {note}", file=sys.stderr)
    if args.format == "json":
        payload = {**header, "subjects": len(results.subjects), "by": args.by,
                   **{name: records(frame) for name, frame in tables.items()},
                   "skipped": results.skipped, "notes": list(results.notes)}
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        stacked = pd.concat([frame.assign(table=name) for name, frame in tables.items() if len(frame)],
                            ignore_index=True)
        for column in COUNT_COLUMNS & set(stacked.columns):  # counts stay whole numbers beside other tables' blanks
            stacked[column] = stacked[column].round().astype("Int64")
        stacked[["table", *[c for c in stacked.columns if c != "table"]]].to_csv(sys.stdout, index=False)
    else:
        _print_tables(trial, results, tables, header, by)


def _eligible(trial, screening) -> pd.Index:
    from explorer import engine

    matrix = engine.evaluate(trial, screening)
    return matrix.subject_ids[engine.eligible_mask(matrix)]


def _cohort(trial, args: argparse.Namespace):
    """(cohort, screening or None, header, load report or None) for --synthetic or --data."""
    from explorer.cohort.synthetic import enrolment
    from explorer.sources import open_source

    source = source_from(args, trial)
    if source.kind == "synthetic":
        screening = open_source(source, catalogue=trial.catalogue).screening
        eligible = _eligible(trial, screening)
        enrolled = enrolment.enrol(eligible, args.max_enrolled)
        model = args.model or enrolment.outcome_model_for(trial)
        cohort = enrolment.simulate_outcomes(trial, screening, enrolled, model=model,
                                             arm=ALLOCATIONS[args.allocation], seed=args.seed)
        return cohort, screening, {
            "trial": trial.id, "source": f"synthetic, seed {args.seed}", "screened": len(screening),
            "eligible": len(eligible), "enrolled": len(enrolled), "model": model}, None
    opened = open_source(source, catalogue=trial.catalogue, screen=args.eligible_only)
    cohort = opened.cohort
    if cohort is None:
        raise DataError("a screening folder or a DuckDB database has no visits to compute outcomes from; give "
                        "the subject data (canonical tables or another source the loaders read)", file=args.data)
    header = {"trial": trial.id, "source": str(args.data), "subjects_in_data": len(cohort.subjects)}
    if args.eligible_only:
        eligible = _eligible(trial, opened.screening)
        if not len(eligible):
            raise DataError(f"no subject in {args.data} is eligible for {trial.id} (of {len(cohort.subjects):,}); "
                            "run without --eligible-only to see everyone's outcomes")
        cohort = enrolment.cohort_subset(cohort, eligible)
        header["eligible"] = len(eligible)
    return cohort, None, header, opened.report


def _tables(results, by: list[str]) -> dict[str, pd.DataFrame]:
    from explorer.outcomes.measures import summarise_endpoints, summarise_events, summarise_outcomes

    outcomes = summarise_outcomes(results, by=by)
    endpoints = summarise_endpoints(results, by=by)
    events = summarise_events(results, by=by)
    return {
        "outcomes": outcomes[["outcome", *OUTCOME_COLUMNS[:3], *by, *OUTCOME_COLUMNS[3:]]],
        "endpoints": endpoints[["outcome", *ENDPOINT_COLUMNS[:2], *by, *ENDPOINT_COLUMNS[2:]]],
        "events": events[[*EVENT_COLUMNS[:2], *by, *EVENT_COLUMNS[2:]]],
    }


def _print_tables(trial, results, tables, header, by) -> None:
    out = sys.stdout
    out.write(f"{trial.id}: {trial.title}\n")
    if "enrolled" in header:
        out.write(f"{header['source']}: {header['screened']:,} screened, {header['eligible']:,} eligible, "
                  f"{header['enrolled']:,} enrolled; outcomes simulated with the {header['model']!r} model\n")
    else:
        out.write(f"{header['source']}: {len(results.subjects):,} subjects\n")
    outcomes = tables["outcomes"]
    for outcome_id, info in results.outcomes.items():
        rows = outcomes[outcomes["outcome"].astype(str) == outcome_id].drop(columns="outcome")
        out.write(f"\n{outcome_id}: {info['name']} (reported as {info['summary'].replace('_', ' ')})\n")
        out.write(format_table(_rounded(rows)) + "\n")
    if len(tables["endpoints"]):
        out.write("\nResponder and composite endpoints (proportion of subjects with a known status; Wilson 95 % CI)\n")
        out.write(format_table(_rounded(tables["endpoints"].drop(columns="outcome"))) + "\n")
    if len(tables["events"]):
        out.write("\nEvents per visit interval (baseline: the year before; rate per person-year, exact 95 % CI)\n")
        out.write(format_table(_rounded(tables["events"])) + "\n")
    for why in results.skipped.values():
        out.write(f"\nnot computed: {why}\n")


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
        elif pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(3)
    return frame
