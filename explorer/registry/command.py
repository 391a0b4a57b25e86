"""`trial-explorer import SOURCE [--out FILE.yaml] [--report]`: the CLI handler (explorer.cli wires it)."""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.registry.build import import_trials
from explorer.registry.report import render_report
from explorer.trial import save_trial

REPORT_FORMATS = ("table", "markdown", "json", "csv")


def run_import(source: str, out: str | None = None, report: bool = False, fmt: str = "table") -> int:
    """Import a registry record; write the YAML to `out` (or print it), and the report when asked.

    Errors (ImportFailure) propagate to the CLI, which prints them as one line. With several studies in
    one JSON file and `out` given, each is written beside `out` as <out-stem>_<NCT id>.yaml.
    """
    results = import_trials(source)
    stdout = sys.stdout
    for trial, rep in results:
        summary = rep.summary()
        if out:
            target = Path(out) if len(results) == 1 else Path(out).with_name(f"{Path(out).stem}_{trial.id}.yaml")
            save_trial(trial, target)
            stdout.write(f"wrote {target}: {len(trial.criteria)} criteria, "
                         f"{sum(c.computable for c in trial.criteria)} computable "
                         f"({summary['computable']} of {summary['criteria_found']} from the text); "
                         f"review every expression before use\n")
        else:
            stdout.write(trial.to_yaml())
        if report:
            if not out:
                stdout.write("\n")
            stdout.write(render_report(rep, fmt if fmt in REPORT_FORMATS else "table"))
    return 0


def register(sub, add, add_format) -> None:
    """Registrar for explorer.commands.REGISTRARS (the lead owns the wiring)."""
    p = add("import", lambda args: run_import(args.source, args.out, args.report, args.format),
            "import a ClinicalTrials.gov JSON/XML record or a saved registry page as a trial definition")
    p.add_argument("source", help="path to a study JSON (API v2), legacy XML, or registry page saved as text")
    p.add_argument("--out", help="write the trial YAML here (default: print it)")
    p.add_argument("--report", action="store_true", help="also print what was extracted from each criterion")
    add_format(p)
