"""`trial-explorer import SOURCE [--out FILE.yaml] [--report]`: a registry record as a draft trial definition.

With --format json, standard output is one JSON document: a list with one entry per study,
{"trial": <the definition>, "file": <where it was written, or null>, "report": <what was extracted>}
("report" only with --report).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explorer.cli.options import add_command, add_format_option
from explorer.cli.output import emit_json
from explorer.trial import save_trial


def register(commands: argparse._SubParsersAction) -> None:
    p = add_command(commands, "import", run_import,
                    "import a ClinicalTrials.gov JSON/XML record or a saved registry page as a trial definition")
    p.add_argument("source", help="path to a study JSON (API v2), legacy XML, or registry page saved as text")
    p.add_argument("--out", help="write the trial YAML here (default: print it)")
    p.add_argument("--report", action="store_true", help="also print what was extracted from each criterion")
    add_format_option(p)


def _target(out: str, trial_id: str, several: bool) -> Path:
    """Where a study is written: `out`, or beside it as <out-stem>_<NCT id>.yaml when a file holds several."""
    return Path(out).with_name(f"{Path(out).stem}_{trial_id}.yaml") if several else Path(out)


def run_import(args: argparse.Namespace) -> None:
    from explorer.registry.build import import_trials
    from explorer.registry.report import render_report

    results = import_trials(args.source)
    written = [save_trial(trial, _target(args.out, trial.id, len(results) > 1)) if args.out else None
               for trial, _ in results]
    if args.format == "json":
        emit_json([{"trial": trial.to_dict(), "file": str(path) if path else None,
                    **({"report": report.to_dict()} if args.report else {})}
                   for (trial, report), path in zip(results, written, strict=True)])
        return
    stdout = sys.stdout
    for (trial, report), path in zip(results, written, strict=True):
        summary = report.summary()
        if path:
            stdout.write(f"wrote {path}: {len(trial.criteria)} criteria, "
                         f"{sum(c.computable for c in trial.criteria)} computable "
                         f"({summary['computable']} of {summary['criteria_found']} from the text); "
                         f"review every expression before use\n")
        else:
            stdout.write(trial.to_yaml())
        if args.report:
            if not path:
                stdout.write("\n")
            stdout.write(render_report(report, args.format))
