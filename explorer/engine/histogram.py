"""A matrix that holds only the pattern histogram: the (raw-status pattern, count) rows an engine returned.

`evaluate_histogram(trial, source, engine)` asks the engine for the histogram alone: DuckDB and Spark
group the packed statuses where the data lies (explorer.engine.histogram_sql), so a cohort of 10^7 or
10^9 subjects comes back as a few thousand rows; the memory engine evaluates and reduces in NumPy.
The funnel, impact, Shapley, overlap, final counts and policies (explorer.engine.stats / shapley) work
on a HistogramMatrix exactly as on an EligibilityMatrix, with identical results. What needs subjects
(the eligible ids) is a query pushed to the engine: `matrix.eligible_ids(enabled, policies)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from explorer.engine.edit_histogram import EditTables, trial_key
from explorer.engine.edit_warmup import WARMER
from explorer.engine.histogram_sql import duckdb_histogram, duckdb_subjects, with_assumed
from explorer.engine.matrix import CriteriaHeld, CriterionInfo, EligibilityMatrix, make_backend
from explorer.engine.patterns import PatternHistogram, histogram, pack, select
from explorer.engine.status import status_from_truth
from explorer.errors import DefinitionError

_NO_SUBJECTS = np.zeros(0, dtype=np.int64)


def _merge(patterns: np.ndarray, counts: np.ndarray) -> PatternHistogram:
    """One row per distinct pattern (an engine may split a group, e.g. over partitions), in a fixed order:
    the rows sorted column by column, as np.unique(axis=0) sorts them (which took 0.3 s for 3 x 10^4 patterns
    of 21 criteria, as long as the rest of a threshold edit; pandas' hashing and lexsort take milliseconds)."""
    patterns = np.asarray(patterns, dtype=np.int8)
    if len(patterns) == 0 or patterns.shape[1] == 0:
        total = np.asarray([counts.sum()] if len(patterns) else [], dtype=np.int64)
        return PatternHistogram(patterns[:len(total)], total, _NO_SUBJECTS)
    distinct = histogram(pack(patterns), patterns.shape[1])
    merged = np.bincount(distinct.inverse, weights=counts, minlength=len(distinct.counts)).astype(np.int64)
    order = np.lexsort(distinct.patterns.T[::-1])  # the last key sorts first: column 0 first
    return PatternHistogram(distinct.patterns[order], merged[order], _NO_SUBJECTS)


def engine_histogram(backend: Any, criteria: Sequence[Any], catalogue: Any) -> tuple[np.ndarray, np.ndarray]:
    """(raw status patterns, counts) of the computable `criteria`, computed by the backend."""
    if hasattr(backend, "status_histogram"):
        return backend.status_histogram(criteria, catalogue)
    if getattr(backend, "name", "") == "duckdb":
        return duckdb_histogram(backend, criteria, catalogue)
    # the memory engine: statuses in NumPy, reduced to the histogram here
    truths = backend.truth_codes(criteria, catalogue)
    n = len(backend.subject_ids())
    codes = np.column_stack([status_from_truth(t, c.kind) for t, c in zip(truths, criteria, strict=True)]) \
        if criteria else np.zeros((n, 0), np.int8)
    reduced = histogram(pack(codes), codes.shape[1])  # pandas' hashing, as the in-memory matrix does
    return reduced.patterns, reduced.counts


def evaluate_histogram(trial: Any, source: Any, engine: str = "memory", *, backend: Any = None,
                       edits: EditTables | None = None, warm: bool = False, **options: Any) -> HistogramMatrix:
    """The trial's status histogram over a cohort (a Screening or a layout folder), from the named engine
    (`options` go to it, e.g. spark's master= or partitions=), or from an existing `backend`. `edits`: the
    source's edit tables, kept for the matrices of later edits (a new set for an SQL engine by default);
    `warm`: a new set warms its tables in the background, after this and after every edit (EditTables.warm)."""
    backend = backend if backend is not None else _backend(engine, source, trial, **options)
    computable = [c for c in trial.criteria if c.computable]
    patterns, counts = engine_histogram(backend, computable, trial.catalogue)
    if edits is None and getattr(backend, "name", "") in ("duckdb", "spark"):
        edits = EditTables(warm=warm)
    return _matrix(trial, patterns, counts, backend, edits)


def _matrix(trial: Any, patterns: np.ndarray, counts: np.ndarray, backend: Any,
            edits: EditTables | None, merged: bool = False) -> HistogramMatrix:
    """The matrix of the computable criteria's (patterns, counts), with the non-computable ones ASSUMED; the
    tables of this trial state are warmed next when the source's tables warm. `merged`: the patterns are
    distinct and in _merge's order already (an edit table's, EditTable.histogram); a constant ASSUMED column
    changes neither."""
    infos = [CriterionInfo.of(c) for c in trial.criteria]
    full = with_assumed(patterns, [info.computable for info in infos])
    if edits is not None and edits.warming:
        edits.warm(trial, backend)
    histogram = PatternHistogram(full, counts, _NO_SUBJECTS) if merged else _merge(full, counts)
    return HistogramMatrix(histogram, infos, trial=trial, backend=backend, edits=edits)


def _backend(engine: str, source: Any, trial: Any, **options: Any) -> Any:
    from pathlib import Path
    if engine == "memory" and isinstance(source, (str, Path)):
        from explorer.engine.layout import read_screening
        source = read_screening(source, catalogue=trial.catalogue)
    return make_backend(engine, source, trial.catalogue, **options)


class HistogramMatrix(CriteriaHeld):
    """Distinct raw-status patterns and their counts, with the criteria, trial and engine behind them.

    Immutable, like EligibilityMatrix; it has no subject-level columns (`histogram_only`), so the
    statistics use the histogram arithmetic of explorer.engine.patterns.
    """

    histogram_only = True

    def __init__(self, histogram: PatternHistogram, criteria: Sequence[CriterionInfo], *, trial: Any = None,
                 backend: Any = None, edits: EditTables | None = None):
        if histogram.patterns.shape[1] != len(criteria):
            raise ValueError("one pattern column per criterion")
        self.histogram = histogram
        self.criteria: tuple[CriterionInfo, ...] = tuple(criteria)
        self.trial, self.backend = trial, backend
        self.edits = edits  # the source's edit tables (explorer.engine.edit_histogram), shared along edits
        self._position = {c.id: i for i, c in enumerate(self.criteria)}

    @classmethod
    def of(cls, matrix: EligibilityMatrix) -> HistogramMatrix:
        """The histogram of an in-memory matrix, without its subjects."""
        h = matrix.histogram
        return cls(_merge(h.patterns, h.counts), matrix.criteria, trial=matrix.trial, backend=matrix.backend)

    @property
    def n_subjects(self) -> int:
        return self.histogram.n_subjects

    def __repr__(self) -> str:
        return (f"<HistogramMatrix trial={getattr(self.trial, 'id', '?')} subjects={self.n_subjects} "
                f"patterns={len(self.histogram.counts)} criteria={len(self.criteria)} engine={self.engine}>")

    @property
    def subject_ids(self):
        raise DefinitionError("a histogram matrix holds no subjects; use matrix.eligible_ids(), which asks the "
                              "engine")

    def to_frame(self) -> pd.DataFrame:
        """The histogram: one row per pattern, a column of raw codes per criterion, and `count`."""
        frame = pd.DataFrame(self.histogram.patterns, columns=list(self.ids))
        frame["count"] = self.histogram.counts
        return frame

    # --- new matrices ---------------------------------------------------------------------------
    def with_policies(self, unknown: Mapping[str, str] | None = None,
                      assumption: Mapping[str, str] | None = None) -> HistogramMatrix:
        return HistogramMatrix(self.histogram, self._criteria_with(unknown, assumption), trial=self.trial,
                               backend=self.backend, edits=self.edits)

    def with_trial(self, trial: Any) -> HistogramMatrix:
        """The histogram of an edited trial. Unchanged rules keep it as it is; a change of one criterion's
        parameters is arithmetic on that criterion's edit table when one answers it exactly
        (explorer.engine.edit_histogram); anything else is counted again by the engine."""
        if self.backend is None:
            raise DefinitionError("this histogram was built without an engine; evaluate the trial again")
        if self.trial is not None and trial_key(trial) == trial_key(self.trial):
            # no rule changed (labels, switches, policies): the raw statuses are the same
            return HistogramMatrix(self.histogram, [CriterionInfo.of(c) for c in trial.criteria], trial=trial,
                                   backend=self.backend, edits=self.edits)
        if self.edits is not None and self.trial is not None:
            edited = self.edits.edited(self.trial, trial, self.backend)
            if edited is not None:
                return _matrix(trial, *edited, self.backend, self.edits, merged=True)
        with WARMER.foreground():  # the warm-up's query steps aside for this count
            return evaluate_histogram(trial, None, backend=self.backend, edits=self.edits)

    def stand_in(self, criterion_id: str) -> tuple[EligibilityMatrix, Any]:
        """(EligibilityMatrix, Screening) of subjects that stand in for the cohort in an analysis of one
        criterion's threshold (explorer.analysis.sensitivity): its edit table's rows repeated by their counts
        (explorer.engine.edit_histogram.EditTables.stand_in). DefinitionError when no table answers."""
        if self.edits is None or self.trial is None:
            raise DefinitionError("a threshold analysis of a histogram needs the SQL engine it came from",
                                  criterion=criterion_id)
        return self.edits.stand_in(self.trial, criterion_id, self.criteria, self.backend)

    # --- subject-level answers, pushed to the engine ------------------------------------------------
    def baseline_table(self, variables: Sequence[str] | None = None, enabled: Any = None,
                       policies: Mapping[str, str] | None = None, *,
                       groups: Sequence[str] = ("screened", "eligible")) -> pd.DataFrame:
        """Table 1 (explorer.engine.baseline.baseline_table's frame) as one aggregate query the engine runs:
        per group and key variable a few numbers come back, never the subjects. Counts equal the in-memory
        table's; means, SDs, quartiles and percentages may differ in the last bits (the engine adds and
        interpolates in its own order)."""
        from explorer.engine.baseline import GROUPS, KEY_VARIABLES, table_frame
        from explorer.engine.histogram_sql import baseline_rows, baseline_sql, duckdb_aggregate
        if self.backend is None or self.trial is None or getattr(self.backend, "schema", None) is None:
            raise DefinitionError("table 1 of a histogram needs the SQL engine it came from")
        groups = tuple(groups)
        for g in groups:
            if g not in GROUPS:
                raise DefinitionError(f"group {g!r}; use one of {list(GROUPS)}", field="groups")
        groups = groups if "screened" in groups else ("screened", *groups)
        catalogue = self.trial.catalogue
        wanted = list(variables) if variables is not None else list(KEY_VARIABLES)
        for v in wanted:
            if v not in catalogue or catalogue[v].kind == "event":
                raise DefinitionError(f"{v!r} is not a number, boolean or category variable of the catalogue",
                                      field="variables")
        if variables is None:
            wanted = [v for v in wanted if v in self.backend.schema.features]
        selection = select(self.criteria, enabled=enabled, policies=policies)
        computable = [c for c in self.trial.criteria if c.computable]
        from explorer.engine.histogram_sql import backend_dialect
        sql, params, layout = baseline_sql(self.criteria, computable, selection, catalogue, self.backend.schema,
                                           backend_dialect(self.backend), wanted, groups)
        if getattr(self.backend, "name", "") == "duckdb":
            values = duckdb_aggregate(self.backend, sql, params)
        else:
            values = list(self.backend._sql(sql, params, "compute table 1").to_pylist()[0].values())
        return table_frame(baseline_rows(values, layout, wanted, catalogue, groups), groups)

    def eligible_ids(self, enabled: Any = None, policies: Mapping[str, str] | None = None, *,
                     which: str = "eligible") -> pd.Index:
        """Subject ids that are eligible (or `which="remaining"`: eligible or possibly eligible), in
        source order, after the enabled criteria and policies; the engine runs the query."""
        if self.backend is None or self.trial is None:
            raise DefinitionError("this histogram was built without an engine; subject ids need one")
        selection = select(self.criteria, enabled=enabled, policies=policies)
        computable = [c for c in self.trial.criteria if c.computable]
        if hasattr(self.backend, "subjects"):
            return self.backend.subjects(self.criteria, computable, selection, self.trial.catalogue, which)
        if getattr(self.backend, "name", "") == "duckdb":
            return duckdb_subjects(self.backend, self.criteria, computable, selection, self.trial.catalogue, which)
        # the memory engine has the subjects at hand: evaluate them (with this matrix's policies)
        from explorer.engine.bits import from_bits
        from explorer.engine.stats import final_bits
        empty = EligibilityMatrix(self.backend.subject_ids(), [], [], trial=self.trial, backend=self.backend)
        evaluated = empty.with_trial(self.trial)
        matrix = EligibilityMatrix(evaluated.subject_ids, evaluated.columns, self.criteria, trial=self.trial)
        eligible, remaining = final_bits(matrix, enabled, policies)
        return matrix.subject_ids[from_bits(eligible if which == "eligible" else remaining, matrix.n_subjects)]


__all__ = ["HistogramMatrix", "engine_histogram", "evaluate_histogram"]
