"""A scenario as Python code: a short script (and a notebook) that reproduces its numbers with the installed package.

The code is built from the scenario's values with `repr`, which round-trips every string and float
exactly, so the script shows the same counts as the dashboard: the same trial (bundled id or file),
data source, threshold settings (applied in the scenario's order), enabled criteria, funnel order,
unknown policies and small-cell protection. Nothing here runs the code; it is text for the researcher.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from explorer.app.folders import base_dir
from explorer.app.scenario import Scenario
from explorer.errors import DefinitionError
from explorer.trial import Trial, bundled_trials, load_trial


def _trial_source(scenario: Scenario, trial_file: str | Path | None) -> str:
    if trial_file is not None:
        return repr(str(Path(trial_file).expanduser().resolve()))
    if scenario.trial in bundled_trials():
        return repr(scenario.trial)
    raise DefinitionError(f"trial {scenario.trial!r} is not bundled; pass the definition file it was loaded from "
                          "(trial_file=...)", field="trial")


def _data_lines(scenario: Scenario) -> tuple[list[str], list[str]]:
    """(imports, lines) that make `screening` the way explorer.app.state.load_screening does."""
    data = scenario.data
    if data.kind == "synthetic":
        return (["from explorer.cohort.synthetic import generate_screening"],
                [f"screening = generate_screening({data.population!r}, {data.n!r}, seed={data.seed!r})"])
    path = Path(data.path).expanduser()
    # the dashboard reads a relative path from the folder it was started in; the script may run elsewhere
    path = path if path.is_absolute() else base_dir() / path
    # open_source, as the state opens it: a screening folder or a DuckDB file is no folder the loaders read
    return (["from explorer.sources import DataSource, open_source"],
            [f"screening = open_source(DataSource('path', path={str(path)!r}"
             f"{f', on_invalid={data.on_invalid!r}' if data.on_invalid != 'raise' else ''})).screening"])


def _cells(scenario: Scenario, trial: Trial, trial_file: str | Path | None) -> list[tuple[str, str]]:
    """The code as (title, source) parts: the notebook's cells, joined for the script."""
    ids = [c.id for c in trial.criteria]
    for cid in [*scenario.disabled, *scenario.order, *(c for c, _, _ in scenario.settings),
                *(c for c, _ in scenario.policies)]:
        if cid not in ids:
            raise DefinitionError(f"the scenario names criterion {cid!r}, which trial {trial.id} does not have; "
                                  f"its criteria are {ids}", field="scenario")
    chosen = [c for c in scenario.order if c in ids]
    order = chosen + [c for c in ids if c not in chosen]
    enabled = [c for c in ids if c not in scenario.disabled]
    data_imports, data_lines = _data_lines(scenario)
    imports = sorted(["from explorer import engine", "from explorer.trial import load_trial", *data_imports])
    load = [f"trial = load_trial({_trial_source(scenario, trial_file)})"]
    load += [f"trial = trial.with_parameter({c!r}, {p!r}, {v!r})" for c, p, v in scenario.settings]
    choices = [f"enabled = {enabled!r}", f"order = {order!r}", f"policies = {dict(scenario.policies)!r}"]
    results = ["matrix = engine.evaluate(trial, screening)",
               "funnel = engine.funnel(matrix, order=order, enabled=enabled, policies=policies)",
               "counts = engine.final_counts(matrix, enabled=enabled, policies=policies)"]
    if scenario.min_cell:
        results += ["# small-cell protection, as the dashboard shows and exports the tables",
                    f"funnel = engine.suppress_small_cells(funnel, {scenario.min_cell!r}, "
                    f"method={scenario.cell_method!r})"]
    results += ["print(engine.display_frame(funnel)[['label', 'eligible', 'possibly_eligible', 'excluded']]"
                ".to_string(index=False))",
                "print(counts)" if not scenario.min_cell else
                "print({k: v for k, v in counts.items() if k == 'screened'})  # other counts: see the protected funnel"]
    return [("Imports", "\n".join(imports)),
            ("The trial, with the scenario's thresholds", "\n".join(load)),
            (f"The data: {_one_line(scenario.data.describe())}", "\n".join(data_lines)),
            ("The scenario's choices: criteria switched on, funnel order, unknown-data policies", "\n".join(choices)),
            ("Evaluate every criterion once, then count", "\n".join(results))]


def _one_line(text: str) -> str:
    # a path may hold a newline or quotes: in the header and comments it is only shown, never code
    return " ".join(str(text).split()).replace('"', "'").replace("\\", "/")


def _header(scenario: Scenario, trial: Trial) -> str:
    return (f"Trial Explorer scenario: {trial.id} on {_one_line(scenario.data.describe())}.\n"
            f"Dashboard address: ?{_one_line(scenario.to_query())}")


def scenario_code(scenario: Scenario, *, trial: Trial | None = None, trial_file: str | Path | None = None) -> str:
    """A Python script that reproduces the scenario's funnel and counts (run it with the package installed).

    `trial` is the trial as loaded (default: load_trial(scenario.trial)); `trial_file` is its definition
    file when it is not a bundled trial.
    """
    trial = trial if trial is not None else load_trial(trial_file or scenario.trial)
    parts = [f'"""{_header(scenario, trial)}\n"""']
    for title, source in _cells(scenario, trial, trial_file):
        parts.append(f"# {title}\n{source}")
    return "\n\n".join(parts) + "\n"


def scenario_notebook(scenario: Scenario, *, trial: Trial | None = None,
                      trial_file: str | Path | None = None) -> str:
    """The same code as a Jupyter notebook (nbformat 4 JSON text), one cell per step, without outputs."""
    trial = trial if trial is not None else load_trial(trial_file or scenario.trial)
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# " + _header(scenario, trial).replace("\n", "\n\n")))
    for title, source in _cells(scenario, trial, trial_file):
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"**{title}**"))
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(notebook)
    return nbformat.writes(notebook)
