"""`trial-explorer funnel`: the funnel, per-criterion impact and final count of a trial over a cohort.

The application edge of the engine: it loads the trial and the cohort, prints, and turns the library's
errors into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from explorer.engine.matrix import ENGINES, evaluate
from explorer.engine.privacy import METHODS, display_frame, suppress_small_cells
from explorer.engine.stats import final_counts, funnel, impact
from explorer.errors import DefinitionError, ExplorerError

FORMATS = ("table", "csv", "json")
FUNNEL_COLUMNS = ["step", "criterion", "kind", "policy", "eligible", "possibly_eligible", "remaining", "excluded",
                  "became_unknown", "remaining_pct_start", "remaining_pct_previous", "label"]
IMPACT_COLUMNS = ["criterion", "kind", "failing", "unknown", "excluded_alone", "excluded_alone_possibly",
                  "eligible_if_removed", "remaining_if_removed", "eligible_if_unknown_pass", "label"]


def _is_layout(path: Path) -> bool:
    return path.is_dir() and any((path / f"features{s}").is_file() for s in (".parquet", ".csv"))


def load_cohort(trial: Any, *, synthetic: int | None, seed: int, data: str | Path | None, engine: str,
                population: str | None = None, on_invalid: str = "reject", log: TextIO | None = None
                ) -> tuple[Any, str]:
    """(screening or layout folder, description of the source).

    Real data goes through explorer.cohort.loaders; implausible values are rejected (made unknown) by
    default, and the load report, which counts them, is written to `log`.
    """
    if (synthetic is None) == (data is None):
        raise DefinitionError("give either a synthetic cohort size (--synthetic N) or a data path (--data PATH)")
    if synthetic is not None:
        from explorer.cohort.synthetic.screening_table import generate_screening
        from explorer.cohort.synthetic.trial_match import population_for

        population = population or population_for(trial)
        return generate_screening(population, int(synthetic), seed=seed), f"synthetic {population} n={synthetic} seed={seed}"
    path = Path(data)
    if _is_layout(path):
        # a screening folder (explorer.engine.layout): DuckDB reads it in place
        if engine == "duckdb":
            return path, f"screening folder {path}"
        from explorer.engine.layout import read_screening
        return read_screening(path, catalogue=trial.catalogue), f"screening folder {path}"
    from explorer.cohort.features import screening_features
    from explorer.cohort.loaders import load
    loaded = load(path, on_invalid=on_invalid)
    if log is not None:
        log.write(loaded.report.summary() + "\n")
    return screening_features(loaded.cohort, catalogue=trial.catalogue), f"{path} ({loaded.report.kind})"


def _protect(frame: pd.DataFrame, min_cell: int | None, method: str) -> pd.DataFrame:
    return suppress_small_cells(frame, min_cell, method=method) if min_cell else frame


def _final_frame(counts: dict[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame([counts])
    frame.attrs.update({"counts": list(counts), "percents": {}})
    return frame


def _records(frame: pd.DataFrame) -> list[dict]:
    out = frame.astype(object).where(frame.notna(), None)
    return json.loads(json.dumps(out.to_dict(orient="records"), default=str))


def run_funnel(trial: Any, synthetic: int | None = None, seed: int = 0, data: str | Path | None = None,
               engine: str = "memory", fmt: str = "table", min_cell: int | None = None, *,
               population: str | None = None, cell_method: str = "suppress", order: list[str] | None = None,
               on_invalid: str = "reject", stream: TextIO | None = None, errors: TextIO | None = None) -> int:
    """Print the funnel, the per-criterion impact and the final count; 0 on success, 1 on a library error.

    `trial`: a Trial, a bundled trial id or a definition file. The cohort: `synthetic` subjects of the
    trial's population (or `population`) drawn with `seed`, or `data`: a screening folder
    (explorer.engine.layout) or any source explorer.cohort.loaders reads. `min_cell` hides counts
    below it (cell_method "suppress"; "round" also rounds the other counts to multiples of 5).
    """
    out, err = stream or sys.stdout, errors or sys.stderr
    try:
        if fmt not in FORMATS:
            raise DefinitionError(f"format {fmt!r}; use one of {list(FORMATS)}", field="format")
        if engine not in ENGINES:
            raise DefinitionError(f"engine {engine!r}; use one of {list(ENGINES)}", field="engine")
        if cell_method not in METHODS:
            raise DefinitionError(f"small-cell method {cell_method!r}; use one of {list(METHODS)}")
        if min_cell is not None and int(min_cell) < 0:
            raise DefinitionError("--min-cell must be 0 (off) or a positive count", field="min_cell")
        if isinstance(trial, (str, Path)):
            from explorer.trial import load_trial
            trial = load_trial(trial)
        cohort, source = load_cohort(trial, synthetic=synthetic, seed=seed, data=data, engine=engine,
                                     population=population, on_invalid=on_invalid, log=err)
        matrix = evaluate(trial, cohort, engine=engine)
        steps = _protect(funnel(matrix, order=order), min_cell, cell_method)
        effects = _protect(impact(matrix), min_cell, cell_method)
        final = _protect(_final_frame(final_counts(matrix)), min_cell, cell_method)
    except ExplorerError as error:
        err.write(f"error: {error}\n")
        return 1
    header = {"trial": trial.id, "source": source, "engine": engine, "subjects": matrix.n_subjects,
              "min_cell": min_cell or None, "cell_method": cell_method if min_cell else None}
    if fmt == "json":
        out.write(json.dumps({**header, "funnel": _records(steps[FUNNEL_COLUMNS]),
                              "impact": _records(effects[IMPACT_COLUMNS]),
                              "final": _records(final)[0]}, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        # one rectangular table: the funnel rows, each with its criterion's impact
        merged = steps[FUNNEL_COLUMNS].merge(effects[IMPACT_COLUMNS].drop(columns=["kind", "label"]),
                                             on="criterion", how="left")
        counts = [c for c in IMPACT_COLUMNS if c not in ("criterion", "kind", "label")]
        merged[counts] = merged[counts].astype("Int64")  # the screened row has none: empty, not 345.0
        merged.to_csv(out, index=False)
    else:
        out.write(f"{trial.id}: {trial.title}\n{source} | engine {engine} | {matrix.n_subjects} subjects screened\n")
        if min_cell:
            note = " (other counts rounded to multiples of 5)" if cell_method == "round" else ""
            out.write(f"counts below {min_cell} are hidden{note}\n")
        out.write("\nFunnel (unknowns flow into 'possibly eligible'; excluded = first failure at the step)\n")
        out.write(display_frame(steps[FUNNEL_COLUMNS]).fillna("").to_string(index=False, max_colwidth=48) + "\n")
        out.write("\nPer-criterion impact (excluded_alone: eligible if only this criterion were dropped)\n")
        out.write(display_frame(effects[IMPACT_COLUMNS]).to_string(index=False, max_colwidth=48) + "\n")
        shown = display_frame(final).iloc[0]
        out.write(f"\nFinal: {shown['eligible']} eligible, {shown['possibly_eligible']} possibly eligible "
                  f"(unknown on some criterion), {shown['excluded']} excluded of {shown['screened']} screened\n")
    return 0
