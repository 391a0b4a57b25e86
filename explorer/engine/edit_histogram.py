"""Threshold edits over a status histogram as arithmetic: one criterion's value table, re-evaluated in memory.

A DuckDB or Spark source leaves the subjects where they lie; the state holds only the (pattern, count)
histogram (explorer.engine.histogram). A new value of criterion c's parameter would need the engine to
group every subject again. Instead, the engine returns c's *edit table* once: one row per distinct

    (raw statuses of every other computable criterion, the values of the variables c's rule reads) -> count

(NULL kept as a value of its own; explorer.engine.histogram_sql.edit_table_sql). Any later value of c's
parameters is evaluated on those value rows by the memory engine itself (MemoryBackend over a small
Screening, so three-valued logic, units and boundaries are the memory engine's by construction), c's new
status is put back among the others and rows whose patterns became equal are merged: the exact histogram
of the edited trial, in milliseconds.

The table is exact, never an approximation, and is used only when it answers the edit exactly:
- one computable criterion changed since the matrix (several: the engine counts again), every other
  criterion as it was when the table was taken (criterion, kind, rule and parameter values; the trial's
  own variables), and the criteria in the same order;
- the rule reads only number, boolean and category variables: count(event, within_days=...) needs the
  events, which the table does not carry (a window parameter changes which events count);
- the table has at most MAX_EDIT_ROWS rows (many distinct continuous values times many patterns of the
  others would make it as large as the cohort); a table found too large is remembered as such.
Otherwise the engine groups the whole cohort again, as before. Edits that change no rule (labels, the
order of the funnel, switches, unknown policies) keep the histogram as it is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.cohort.screening import Screening
from explorer.engine.histogram_sql import duckdb_edit_table, n_words, unpack, with_assumed
from explorer.engine.matrix import EligibilityMatrix
from explorer.engine.memory import MemoryBackend
from explorer.engine.status import status_from_truth
from explorer.errors import DefinitionError
from explorer.expr import Call, Name, walk

# subjects a threshold analysis stands in for the cohort (EditTables.stand_in): 10^6 cost about as much memory as
# the memory engine's state at 10^6; a larger cohort on DuckDB or Spark keeps to its memory budget instead
MAX_STAND_IN = 5_000_000
MAX_EDIT_ROWS = 1_000_000  # rows of one edit table (about 30 MB of numbers); above it the engine counts (docs/engine.md)
KEEP_TABLES = 4            # edit tables kept per source (the criteria edited last)
_TOO_LARGE = "too large"


def rule_key(criterion: Any) -> tuple:
    """What a criterion's raw statuses depend on, beside the data and the catalogue."""
    return (criterion.id, criterion.kind, criterion.expression, tuple(sorted(criterion.parameter_values().items())))


def trial_key(trial: Any) -> tuple:
    """What the whole histogram depends on: every criterion's rule in order, and the trial's own variables
    (they extend the catalogue: categories, ranges)."""
    return (tuple(rule_key(c) for c in trial.criteria), repr(sorted(trial.variables.items())))


def rule_variables(criterion: Any, catalogue: Any) -> list[str] | None:
    """The feature variables the criterion's rule reads, or None when an edit table cannot represent the rule
    (it counts events: their windows are not in the table)."""
    tree = criterion.tree
    if any(isinstance(node, Call) and node.func == "count" for node in walk(tree)):
        return None
    names = {node.name for node in walk(tree) if isinstance(node, Name)} - set(criterion.parameters)
    return sorted(n for n in names if n in catalogue and catalogue[n].kind in ("number", "boolean", "category"))


@dataclass(frozen=True)
class EditTable:
    """One criterion's edit table: the others' raw statuses, the values its rule reads, and the counts."""

    position: int          # the criterion's place among the computable criteria
    others: np.ndarray     # (g, k - 1) int8: the distinct raw-status patterns of the other computable criteria
    groups: np.ndarray     # (m,) each row's pattern of the others (a row of `others`)
    values: pd.DataFrame   # (m rows) the variables, typed as the Screening contract; absent ones left out
    counts: np.ndarray     # (m,) int64

    def screening(self, criterion: Any) -> Screening:
        """The value rows as a Screening (checked where the source was read) for the memory engine."""
        return Screening(self.values, source=f"the edit table of criterion {criterion.id}", checked=True)

    def histogram(self, criterion: Any, catalogue: Any) -> tuple[np.ndarray, np.ndarray]:
        """(raw status patterns of the computable criteria, counts) with `criterion` at its new values."""
        status = self.statuses(criterion, catalogue)
        # (pattern of the others, new status) -> subjects: one weighted bincount over the rows, no hashing
        sums = np.bincount(self.groups * 4 + status, weights=self.counts, minlength=4 * len(self.others))
        found = np.flatnonzero(sums)
        patterns = np.insert(self.others[found // 4], self.position, (found % 4).astype(np.int8), axis=1)
        return patterns, sums[found].astype(np.int64)

    def statuses(self, criterion: Any, catalogue: Any) -> np.ndarray:
        """The criterion's raw status on each row, evaluated by the memory engine."""
        truth = MemoryBackend(self.screening(criterion), catalogue).truth_codes([criterion], catalogue)[0]
        return status_from_truth(truth, criterion.kind)


def edit_table(backend: Any, computable: Sequence[Any], j: int, variables: Sequence[str], catalogue: Any,
               limit: int = MAX_EDIT_ROWS) -> EditTable | None:
    """Criterion computable[j]'s edit table from the engine, or None when it has more than `limit` rows."""
    if hasattr(backend, "edit_table"):
        found, kept = backend.edit_table(computable, j, variables, catalogue, limit)
    else:
        found, kept = duckdb_edit_table(backend, computable, j, variables, catalogue, limit)
    if found.num_rows > limit:
        return None
    k = len(computable) - 1
    words = np.column_stack([_int64(found.column(f"w{w}")) for w in range(n_words(k))]) if found.num_rows else \
        np.zeros((0, n_words(k)), np.int64)
    values = pd.DataFrame({name: _typed(found.column(f"v{n}"), catalogue[name].kind)
                           for n, name in enumerate(kept)}, index=pd.RangeIndex(found.num_rows, name="subject_id"))
    if words.shape[1] == 1:  # up to 31 other criteria: one word, hashed by pandas
        groups, distinct = pd.factorize(words[:, 0])
        distinct = np.asarray(distinct).reshape(-1, 1)
    else:
        distinct, groups = np.unique(words, axis=0, return_inverse=True)
    return EditTable(j, unpack(distinct, k), np.asarray(groups, dtype=np.int64).ravel(), values,
                     _int64(found.column("n")))


def _int64(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _typed(column: pa.ChunkedArray, kind: str):
    """An engine's column as the Screening contract types it (NULL: NaN / NA, i.e. unknown)."""
    if kind == "number":
        return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)  # a null becomes NaN
    if kind == "boolean":
        return pd.array(column.to_pylist(), dtype="boolean")
    return pd.array(column.cast(pa.string()).to_pylist(), dtype="string")


class EditTables:
    """The edit tables of one source (shared by the matrices of its edits), and when they answer an edit.

    Widget callbacks may call from more than one thread: the tables are immutable and the dictionary is
    changed under a lock; two threads taking the same table at once both get a correct one.
    """

    def __init__(self, limit: int = MAX_EDIT_ROWS, keep: int = KEEP_TABLES):
        self.limit, self.keep = limit, keep
        self._tables: OrderedDict[tuple, EditTable | str] = OrderedDict()
        self._lock = threading.Lock()
        self.last = ""  # how the last edit was answered: "table", "new table", or why the engine counted

    def edited(self, old_trial: Any, new_trial: Any, backend: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(raw status patterns of new_trial's computable criteria, counts), or None: the engine must count."""
        old, new = trial_key(old_trial), trial_key(new_trial)
        old_rules, new_rules = old[0], new[0]
        same_shape = [r[:2] + (r[2] is None,) for r in old_rules] == [r[:2] + (r[2] is None,) for r in new_rules]
        if old[1] != new[1] or not same_shape:
            self.last = "criteria or variables changed"
            return None
        computable = [c for c in new_trial.criteria if c.computable]
        changed = [j for j, c in enumerate(computable) if rule_key(c) != rule_key(old_trial.criterion(c.id))]
        if len(changed) != 1:
            self.last = f"{len(changed)} criteria changed"
            return None
        j = changed[0]
        criterion, catalogue = computable[j], new_trial.catalogue
        table = self._table(new_trial, j, backend)
        if isinstance(table, str):
            self.last = table
            return None
        return table.histogram(criterion, catalogue)

    def _table(self, trial: Any, j: int, backend: Any) -> EditTable | str:
        """The edit table of the trial's j-th computable criterion, kept or taken now; or why there is none.
        Sets `last` to "table" (kept) or "new table" (taken)."""
        computable = [c for c in trial.criteria if c.computable]
        variables = rule_variables(computable[j], trial.catalogue)
        if variables is None:
            return "the rule counts events"
        # the table holds for every value of this criterion's parameters, while the others stay as they are
        key = (tuple(rule_key(c) if i != j else (c.id, c.kind, c.expression, tuple(sorted(c.parameters)))
                     for i, c in enumerate(computable)), trial_key(trial)[1])
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
        self.last = "table"
        if table is None:
            table = edit_table(backend, computable, j, variables, trial.catalogue, self.limit) or _TOO_LARGE
            self.last = "new table"
            with self._lock:
                self._tables[key] = table
                while len(self._tables) > self.keep:
                    self._tables.popitem(last=False)
        return f"the edit table has more than {self.limit:,} rows" if table is _TOO_LARGE else table

    def stand_in(self, trial: Any, criterion_id: str, criteria: Sequence[Any], backend: Any,
                 limit: int = MAX_STAND_IN) -> tuple[EligibilityMatrix, Screening]:
        """Subjects that stand in for the cohort in an analysis of one criterion's threshold: the edit table's
        rows, each repeated as many times as subjects it counts, with every criterion's raw status (`criteria`:
        the matrix's CriterionInfo, policies included) and the values the criterion's rule reads. Every count
        over them is the cohort's (explorer.analysis.sensitivity runs on them unchanged); they are not the
        cohort's subjects, and have no ids. Raises DefinitionError when the table cannot be had."""
        computable = [c for c in trial.criteria if c.computable]
        positions = [i for i, c in enumerate(computable) if c.id == criterion_id]
        if not positions:
            raise DefinitionError(f"criterion {criterion_id} has no rule the data can decide", criterion=criterion_id)
        j = positions[0]
        table = self._table(trial, j, backend)
        if isinstance(table, str):
            raise DefinitionError(f"its threshold analysis over this source needs the criterion's edit table, and "
                                  f"{table}", criterion=criterion_id)
        n = int(table.counts.sum())
        if n > limit:
            raise DefinitionError(f"its threshold analysis over this source stands {n:,} subjects in for the cohort; "
                                  f"the limit is {limit:,}", criterion=criterion_id)
        criterion = computable[j]
        codes = np.insert(table.others[table.groups], j, table.statuses(criterion, trial.catalogue), axis=1)
        full = with_assumed(codes, [c.computable for c in criteria])
        rows = np.repeat(np.arange(len(table.counts)), table.counts)
        ids = pd.RangeIndex(n, name="subject_id")
        values = table.values.iloc[rows].set_axis(ids)
        matrix = EligibilityMatrix(ids, [full[rows, i] for i in range(full.shape[1])], criteria, trial=trial)
        return matrix, Screening(values, source=table.screening(criterion).source, checked=True)


__all__ = ["KEEP_TABLES", "MAX_EDIT_ROWS", "MAX_STAND_IN", "EditTable", "EditTables", "edit_table", "rule_key", "rule_variables",
           "trial_key"]
