"""Threshold edits over a status histogram as arithmetic: one criterion's value table, re-evaluated in memory.

A DuckDB or Spark source leaves the subjects where they lie; the state holds only the (pattern, count)
histogram (explorer.engine.histogram). A new value of criterion c's parameter would need the engine to
group every subject again. Instead, the engine returns c's *edit table* once: one row per distinct

    (raw statuses of every other computable criterion, the values of the variables c's rule reads,
     the counts of events it reads at their windows) -> count

(NULL kept as a value of its own; explorer.engine.histogram_sql.edit_table_sql). Any later value of c's
parameters is evaluated on those value rows by the memory engine itself (MemoryBackend over a small
Screening, so three-valued logic, units and boundaries are the memory engine's by construction), c's new
status is put back among the others and rows whose patterns became equal are merged: the exact histogram
of the edited trial, in milliseconds.

The table is exact, never an approximation, and is used only when it answers the edit exactly:
- one computable criterion changed since the matrix (several: the engine counts again), every other
  criterion as it was when the table was taken (criterion, kind, rule and parameter values; the trial's
  own variables), and the criteria in the same order;
- a count(event, within_days=N) the rule reads is a value column like a number (the count in that window,
  NULL where the history is shorter than the window and the source reports no count), so an edit of the
  count's threshold is arithmetic; a count whose window is a parameter (within_days=w) keeps instead its
  look-back and the days before the index date of its latest events, as many as its comparisons read
  (explorer.engine.edit_rule.window_counts), so a new window is arithmetic too: the count at W is the latest
  events within W where the history covers W, the count the source reports at W, else unknown (where its
  comparisons are of another form, the window is part of the table's key and a new window takes a new table);
- of the rule, the table keeps each parameter-free part as its truth and each comparison decided over its
  parameter's whole allowed range as its truth, not the values they read (explorer.engine.edit_rule);
- the table has at most MAX_EDIT_ROWS rows (many distinct continuous values times many patterns of the
  others would make it as large as the cohort); a table found too large is remembered as such.
Otherwise the engine groups the whole cohort again, as before. Edits that change no rule (labels, the
order of the funnel, switches, unknown policies) keep the histogram as it is.

Warm-up (EditTables.warm, asked for by the dashboard's state; scheduled by explorer.engine.edit_warmup): once
a trial state has lasted WARM_DELAY seconds (after the source opens, after each edit), one background thread
takes the tables of the criteria with thresholds ahead of the user, in the trial's order, on a connection of its own (a DuckDB cursor: a
connection is not safe across threads). A newer request (another trial state or source) supersedes the one
running; an edit that needs the engine interrupts the warm-up's query and the warm-up takes it again after;
an edit whose table is being warmed waits for it. The tables' keys hold every other criterion's rule and
values, so a table is never used for a state it was not taken for. The tables of a source share
CACHE_BYTES: the warm-up drops older states' tables, then stops; an edit's own table evicts the least
recently used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Variable
from explorer.cohort.screening import Screening
from explorer.engine.edit_rule import (
    OPEN,
    EditRule,
    WindowCount,
    decided_name,
    edit_rule,
    free_parameters,
    open_name,
    part_name,
    window_counts,
)
from explorer.engine.edit_warmup import WARMER
from explorer.engine.histogram_sql import (
    count_windows,
    duckdb_edit_table,
    n_words,
    unpack,
    window_column,
    with_assumed,
)
from explorer.engine.matrix import EligibilityMatrix
from explorer.engine.memory import MemoryBackend, MemoryContext
from explorer.engine.status import status_from_truth
from explorer.errors import DefinitionError
from explorer.expr import Call, Name, count_column, walk

# subjects a threshold analysis stands in for the cohort (EditTables.stand_in): 10^6 cost about as much memory as
# the memory engine's state at 10^6; a larger cohort on DuckDB or Spark keeps to its memory budget instead
MAX_STAND_IN = 5_000_000
MAX_EDIT_ROWS = 1_000_000  # rows of one edit table (about 30 MB of numbers); above it the engine counts (docs/engine.md)
# bytes of edit tables kept per source: a DuckDB state at 10^7 held about 1.45 GB resident without them
# (docs/engine.md, "Memory"), and it must stay under 2 GB; 256 MB hold several tables of MAX_EDIT_ROWS
CACHE_BYTES = 256 << 20
_TOO_LARGE = "too large"


def rule_key(criterion: Any) -> tuple:
    """What a criterion's raw statuses depend on, beside the data and the catalogue."""
    return (criterion.id, criterion.kind, criterion.expression, tuple(sorted(criterion.parameter_values().items())))


def trial_key(trial: Any) -> tuple:
    """What the whole histogram depends on: every criterion's rule in order, and the trial's own variables
    (they extend the catalogue: categories, ranges)."""
    return (tuple(rule_key(c) for c in trial.criteria), repr(sorted(trial.variables.items())))


def censored_variables(backend: Any) -> frozenset[str]:
    """The variables with censored values in the backend's source (memory, DuckDB or Spark)."""
    context = getattr(backend, "context", None)
    if context is not None:
        return context.censored_variables
    schema = getattr(backend, "schema", None)
    return getattr(schema, "censored", frozenset())


def rule_variables(criterion: Any, catalogue: Any) -> list[str]:
    """The feature variables (number, boolean, category) the criterion's rule reads; its counts of events are
    count_windows'."""
    names = {node.name for node in walk(criterion.tree) if isinstance(node, Name)} - set(criterion.parameters)
    return sorted(n for n in names if n in catalogue and catalogue[n].kind in ("number", "boolean", "category"))


def window_parameters(criterion: Any) -> set[str]:
    """The parameters that set a count's window (within_days=w): a table holds the counts of one window."""
    return {window.name for node in walk(criterion.tree) if isinstance(node, Call) and node.func == "count"
            for window in [node.kwarg("within_days")] if isinstance(window, Name)}


def table_key(computable: Sequence[Any], j: int, trial: Any, free: str | None = None) -> tuple:
    """What computable[j]'s edit table for edits of its `free` parameter (None: of any) depends on: every other
    criterion's rule and values, its own rule, the values of its parameters the table does not answer (the fixed
    ones, and a window whose table holds the counts of one window), the trial's variables."""
    c = computable[j]
    answered = free_parameters(c, free) - window_parameters(c) | {w.parameter for w in window_counts(c, free) or ()}
    fixed = tuple(sorted((name, value) for name, value in c.parameter_values().items() if name not in answered))
    own = (c.id, c.kind, c.expression, tuple(sorted(answered)), fixed, free)
    return (tuple(rule_key(x) if i != j else own for i, x in enumerate(computable)), trial_key(trial)[1])


def edit_parameters(criterion: Any) -> list[str]:
    """The parameters whose edits a table of their own answers: a threshold, or a window the table's latest events
    answer (window_counts)."""
    if not criterion.computable:
        return []
    return [p for p in sorted(criterion.parameters)
            if p not in window_parameters(criterion) or window_counts(criterion, p)]


def editable(criterion: Any) -> bool:
    """A criterion whose thresholds an edit table answers (edit_parameters)."""
    return bool(edit_parameters(criterion))


@dataclass(frozen=True)
class EditTable:
    """One criterion's edit table: the others' raw statuses, the values its rule reads, and the counts."""

    position: int          # the criterion's place among the computable criteria
    others: np.ndarray     # (g, k - 1) int8: the distinct raw-status patterns of the other computable criteria
    groups: np.ndarray     # (m,) each row's pattern of the others (a row of `others`)
    values: pd.DataFrame   # (m rows) the variables, typed as the Screening contract; absent ones left out
    counts: np.ndarray     # (m,) int64
    # (m rows) the rule's counts of events as the event_counts columns "event@days" (NaN: not knowable), or None
    event_counts: pd.DataFrame | None = None
    # each pattern of the others' rank among them by its columns before `position` and by those from it on:
    # with the edited status between the two, the rank of a whole pattern in _merge's order, without sorting rows
    prefix: np.ndarray | None = None
    suffix: np.ndarray | None = None
    # (m rows) the truth codes of the rule's parameter-free parts and decided comparisons (explorer.engine.edit_rule:
    # __te_part<k>, __te_atom<m>), and the rule over them; None: the table holds the values themselves
    codes: pd.DataFrame | None = None
    rule: EditRule | None = None
    # (m rows) each count with a window parameter: its look-back and latest events' days (histogram_sql.window_column)
    windows: pd.DataFrame | None = None
    moving: tuple[WindowCount, ...] = ()
    # the memory engine over the value rows, kept: it prepares each column once (a new one per edit cost 17 ms of
    # a 30 ms edit at 10^6, building the Screening's empty events); its caches are keyed by column, not by values
    _memory: dict = field(default_factory=dict, compare=False, repr=False)

    def screening(self, criterion: Any) -> Screening:
        """The value rows as a Screening (checked where the source was read) for the memory engine: a count is
        read from event_counts, as the memory engine reads a count a source reports."""
        values = self.values
        if self.rule is not None:  # the parts and atoms as boolean columns (NA: unknown) the rule's tree reads
            extra = {}
            for k in range(len(self.rule.parts)):
                extra[part_name(k)] = _truth(self.codes[f"__te_part{k}"].to_numpy())
            for m in range(len(self.rule.atoms)):
                code = self.codes[f"__te_atom{m}"].to_numpy()
                extra[open_name(m)] = pd.array(code == OPEN, dtype="boolean")
                extra[decided_name(m)] = _truth(code)
            values = pd.concat([values, pd.DataFrame(extra, index=values.index)], axis=1)
        return Screening(values, event_counts=self._counts_at(criterion),
                         source=f"the edit table of criterion {criterion.id}", checked=True)

    def _counts_at(self, criterion: Any) -> pd.DataFrame | None:
        """The counts the rule reads, those with a window parameter at the criterion's windows: the latest events
        within the window where the look-back covers it (Compiler.count's rule), else unknown."""
        if not self.moving:
            return self.event_counts
        current = criterion.parameter_values()
        counts = {} if self.event_counts is None else dict(self.event_counts.items())
        for c, count in enumerate(self.moving):
            window = float(current[count.parameter])
            within = sum((self.windows[window_column(c, f"d{i + 1}")].to_numpy() <= window).astype(np.int64)
                         for i in range(count.latest)) if count.latest else np.zeros(len(self.counts), np.int64)
            covered = self.windows[window_column(c, "lookback")].to_numpy() >= window  # NaN: not covered
            prefix = window_column(c, "at")
            reported = {count_column(count.event, float(name[len(prefix):])): self.windows[name].to_numpy()
                        for name in self.windows.columns if name.startswith(prefix)}
            column = count_column(count.event, window)
            counts[column] = reported[column] if column in reported else np.where(covered, within, np.nan)
        return pd.DataFrame(counts, index=self.values.index)

    def catalogue(self, catalogue: Any) -> Any:
        """The trial's catalogue with the parts' and atoms' boolean columns (kept: the table's key holds it)."""
        if self.rule is None:
            return catalogue
        kept = self._memory.get("catalogue")
        if kept is None:
            kept = self._memory["catalogue"] = catalogue.extended(
                Variable(name, "boolean", role="edit table") for name in self.rule.columns())
        return kept

    def memory(self, criterion: Any, catalogue: Any) -> MemoryBackend:
        """The memory engine over the value rows, one per table (each edit's trial brings its own catalogue
        object, with the same variables: the table's key holds them)."""
        # a window's counts are columns of their own: a new window, a new engine (the last one kept)
        windows = tuple(criterion.parameter_values()[c.parameter] for c in self.moving)
        if self._memory.get("windows") != windows:
            self._memory.pop("backend", None)
        backend = self._memory.get("backend")
        if backend is None:
            backend = self._memory["backend"] = MemoryBackend(
                _KeptColumns(self.screening(criterion), self.catalogue(catalogue)))
            self._memory["windows"] = windows
        return backend

    @property
    def nbytes(self) -> int:
        """Memory held (what CACHE_BYTES bounds)."""
        base = self._memory.get("nbytes")
        if base is None:  # measured once: a deep measure of text columns walks every value
            frames = [f for f in (self.values, self.event_counts, self.codes, self.windows) if f is not None]
            base = self._memory["nbytes"] = int(
                self.others.nbytes + self.groups.nbytes + self.counts.nbytes + self.prefix.nbytes
                + self.suffix.nbytes + sum(f.memory_usage(deep=True).sum() for f in frames))
        backend = self._memory.get("backend")
        # the memory engine's prepared columns (a number column is the frame's own array: counted twice, safely)
        prepared = [] if backend is None else list(backend.context._kept.values())
        arrays = [a for p in prepared for a in ([p] if isinstance(p, np.ndarray) else vars(p).values())
                  if isinstance(a, np.ndarray)]
        return base + sum(a.nbytes for a in arrays)

    def histogram(self, criterion: Any, catalogue: Any) -> tuple[np.ndarray, np.ndarray]:
        """(raw status patterns of the computable criteria, counts) with `criterion` at its new values: distinct
        patterns, in the order explorer.engine.histogram._merge puts them (rows sorted column by column)."""
        status = self.statuses(criterion, catalogue)
        # (pattern of the others, new status) -> subjects: one weighted bincount over the rows, no hashing
        g = len(self.others)
        sums = np.bincount(self.groups * 4 + status, weights=self.counts, minlength=4 * g)
        found = np.flatnonzero(sums)
        rows, codes = found // 4, found % 4
        # rows are distinct (others, status) pairs: ordering them needs one argsort of an int64 rank (< 4 g^2),
        # not _merge's hashing and lexsort of whole patterns
        order = np.argsort((self.prefix[rows] * 4 + codes) * g + self.suffix[rows], kind="stable")
        rows, codes, found = rows[order], codes[order], found[order]
        patterns = np.insert(self.others[rows], self.position, codes.astype(np.int8), axis=1)
        return patterns, sums[found].astype(np.int64)

    def statuses(self, criterion: Any, catalogue: Any) -> np.ndarray:
        """The criterion's raw status on each row, evaluated by the memory engine."""
        evaluated = criterion if self.rule is None else _Rewritten(criterion.id, self.rule.tree,
                                                                  criterion.parameter_values())
        truth = self.memory(criterion, catalogue).truth_codes([evaluated], self.catalogue(catalogue))[0]
        return status_from_truth(truth, criterion.kind)


@dataclass(frozen=True)
class _Rewritten:
    """A criterion's rule over its table's part and atom columns, as the memory engine evaluates a criterion."""

    id: str
    tree: Any
    values: dict

    def parameter_values(self) -> dict:
        return self.values


def _truth(code: np.ndarray):
    """Truth codes (1 true, 0 false, else unknown) as a nullable boolean column."""
    out = pd.array(code == 1, dtype="boolean")
    out[(code != 0) & (code != 1)] = pd.NA
    return out


def _reason(table: EditTable | str, limit: int) -> EditTable | str:
    return f"the edit table has more than {limit:,} rows" if table is _TOO_LARGE else table


class _KeptColumns(MemoryContext):
    """The memory engine's context over an edit table's rows, keeping every prepared column: the cohort's keeps
    booleans' truth arrays only while evaluating (two more bytes a subject each: 0.5 GB at 10^7), a table's rows
    are at most MAX_EDIT_ROWS, and rebuilding them was most of an edit of a rule with five booleans (I5)."""

    def __init__(self, screening: Screening, catalogue: Any):
        super().__init__(screening, catalogue)
        self._kept: dict[str, Any] = {}

    def column(self, name: str):
        kept = self._kept.get(name)
        if kept is None:
            kept = self._kept[name] = super().column(name)
        return kept


def edit_table(backend: Any, computable: Sequence[Any], j: int, variables: Sequence[str], catalogue: Any,
               limit: int = MAX_EDIT_ROWS, con: Any = None, reduce: bool = True,
               free: str | None = None) -> EditTable | None:
    """Criterion computable[j]'s edit table from the engine (on `con`, a DuckDB worker cursor, when given), or
    None when it has more than `limit` rows. `reduce`: parts and decided comparisons as truth codes
    (explorer.engine.edit_rule); off, the table keeps every value the rule reads (a threshold analysis). `free`:
    the one parameter the table answers (the others fixed at their values), or None: every one."""
    option = (free or True) if reduce else False
    options = {} if option is True else {"reduce": option}
    if con is not None:
        found, kept = backend.edit_table(computable, j, variables, catalogue, limit, con=con, **options)
    elif hasattr(backend, "edit_table"):
        found, kept = backend.edit_table(computable, j, variables, catalogue, limit, **options)
    else:
        found, kept = duckdb_edit_table(backend, computable, j, variables, catalogue, limit, **options)
    if found.num_rows > limit:
        return None
    k = len(computable) - 1
    words = np.column_stack([_int64(found.column(f"w{w}")) for w in range(n_words(k))]) if found.num_rows else \
        np.zeros((0, n_words(k)), np.int64)
    index = pd.RangeIndex(found.num_rows, name="subject_id")
    windows = pd.DataFrame({name: _typed(found.column(f"v{n}"), "number")
                            for n, name in enumerate(kept) if name.startswith("window#")}, index=index)
    kept = [name if not name.startswith("window#") else "" for name in kept]
    values = pd.DataFrame({name: _typed(found.column(f"v{n}"), catalogue[name].kind)
                           for n, name in enumerate(kept) if name and "@" not in name and not name.startswith("__te_")},
                          index=index)
    coded = {name: np.asarray(found.column(f"v{n}").to_numpy(), dtype=np.int8)
             for n, name in enumerate(kept) if name.startswith("__te_")}
    codes = pd.DataFrame(coded, index=index) if reduce else None
    # "event@days": a count (explorer.expr.count_column); a variable's name never holds "@"
    counted = {name: _typed(found.column(f"v{n}"), "number") for n, name in enumerate(kept) if name and "@" in name}
    event_counts = pd.DataFrame(counted, index=index) if counted else None
    if words.shape[1] == 1:  # up to 31 other criteria: one word, hashed by pandas
        groups, distinct = pd.factorize(words[:, 0])
        distinct = np.asarray(distinct).reshape(-1, 1)
    else:
        distinct, groups = np.unique(words, axis=0, return_inverse=True)
    others = unpack(distinct, k)
    return EditTable(j, others, np.asarray(groups, dtype=np.int64).ravel(), values, _int64(found.column("n")),
                     event_counts, _dense_ranks(others[:, :j]), _dense_ranks(others[:, j:]), codes,
                     edit_rule(computable[j], catalogue, free) if reduce else None,
                     windows if len(windows.columns) else None, (window_counts(computable[j], free) or ()) if reduce else ())


def _dense_ranks(rows: np.ndarray) -> np.ndarray:
    """Each row's rank among the distinct rows, sorted column by column (equal rows share a rank)."""
    if rows.shape[1] == 0 or len(rows) == 0:
        return np.zeros(len(rows), dtype=np.int64)
    order = np.lexsort(rows.T[::-1])  # the last key sorts first: column 0 first
    ordered = rows[order]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    ranks = np.empty(len(rows), dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return ranks


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

    Widget callbacks and the warm-up thread may call at once: the tables are immutable, the dictionary is
    changed under a lock, and a table being taken is taken once (a second caller waits for it).
    `warm=True` (the dashboard's state asks for it) warms the tables ahead of the edits (see the module).
    """

    def __init__(self, limit: int = MAX_EDIT_ROWS, budget: int = CACHE_BYTES, warm: bool = False):
        self.limit, self.budget, self.warming = limit, budget, warm
        self._tables: OrderedDict[tuple, EditTable | str] = OrderedDict()
        self._pending: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()
        self.last = ""  # how the last edit was answered: "table", "new table", or why the engine counted

    @property
    def nbytes(self) -> int:
        """Memory the kept tables hold (bounded by `budget`)."""
        with self._lock:
            return self._nbytes()

    def _nbytes(self) -> int:
        return sum(t.nbytes for t in self._tables.values() if isinstance(t, EditTable))

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
        before = old_trial.criterion(criterion.id).parameter_values()
        moved = [p for p, value in criterion.parameter_values().items() if before.get(p) != value]
        # one parameter moved (a control's edit): where the table of all parameters is too large, its own table,
        # with the criterion's other parameters fixed in it, is smaller (they are read as parts)
        free = moved[0] if len(moved) == 1 and moved[0] in edit_parameters(criterion) else None
        table, self.last = self._table(new_trial, j, backend)
        if table is _TOO_LARGE and free is not None:
            table, self.last = self._table(new_trial, j, backend, free=free)
        if isinstance(table, str):
            self.last = _reason(table, self.limit)
            return None
        return table.histogram(criterion, catalogue)

    def _table(self, trial: Any, j: int, backend: Any, *, con: Any = None, background: bool = False,
               reduce: bool = True, free: str | None = None) -> tuple[EditTable | str, str]:
        """(the edit table of the trial's j-th computable criterion, or why there is none; how it was had:
        "table" kept, "warmed table" waited for while the warm-up took it, "new table" taken now).
        `background`: the warm-up's call, on its own connection `con`; it takes nothing past the budget."""
        computable = [c for c in trial.criteria if c.computable]
        variables = rule_variables(computable[j], trial.catalogue)
        if set(variables) & censored_variables(backend):
            # an edit table keeps the point values; a censored value is decided on its interval: the engine counts
            return "the rule reads censored values", "censored"
        key = table_key(computable, j, trial, free) if reduce else (table_key(computable, j, trial), "values")
        how = "table"
        while True:
            with self._lock:
                table = self._tables.get(key)
                if table is not None:
                    self._tables.move_to_end(key)
                    break
                taking = self._pending.get(key)
                if taking is None:
                    if background and not self._room(trial):
                        return "the edit tables' memory budget is spent", "budget"
                    done = self._pending[key] = threading.Event()
                    break
            taking.wait()  # another thread (the warm-up) is taking this very table: never twice at once
            how = "warmed table"
        if table is None:
            try:
                if background:
                    table = edit_table(backend, computable, j, variables, trial.catalogue, self.limit, con, reduce,
                                       free)
                else:
                    with WARMER.foreground():
                        table = edit_table(backend, computable, j, variables, trial.catalogue, self.limit,
                                           reduce=reduce, free=free)
                table = table or _TOO_LARGE
                with self._lock:
                    self._tables[key] = table
                    self._evict(keep=key)
            finally:
                with self._lock:
                    del self._pending[key]
                done.set()
            how = "new table"
        return table, how

    def _room(self, trial: Any) -> bool:
        """Whether the warm-up may take another table for `trial`: tables of other states (older edits) are
        dropped, least recently used first, while the budget is spent; the current state's are kept."""
        if self._nbytes() < self.budget:
            return True
        computable = [c for c in trial.criteria if c.computable]
        current = {table_key(computable, j, trial, p) for j, c in enumerate(computable) if editable(c)
                   for p in (None, *edit_parameters(c))}
        for key in [k for k in self._tables if k not in current]:
            del self._tables[key]
            if self._nbytes() < self.budget:
                return True
        return False

    def _evict(self, keep: tuple) -> None:
        """Drop the least recently used tables (never `keep`, the one just taken) while over the budget."""
        for key in list(self._tables):
            if self._nbytes() <= self.budget:
                break
            if key != keep:
                del self._tables[key]

    # --- warm-up ------------------------------------------------------------------------------------
    def warm(self, trial: Any, backend: Any) -> None:
        """Take, in the background, the tables of the trial's editable criteria not yet kept (superseding any
        warm-up running, of this source or another)."""
        WARMER.submit(self, trial, backend)

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait until no warm-up of these tables runs; False if `timeout` seconds passed first."""
        return WARMER.wait_idle(self, timeout)

    def warm_positions(self, trial: Any) -> list[tuple[int, str]]:
        """(position among the computable criteria, id) of the trial's criteria a warm-up takes tables for, in
        the trial's order: those with a threshold or a window to edit (edit_parameters)."""
        computable = [c for c in trial.criteria if c.computable]
        return [(j, c.id) for j, c in enumerate(computable) if editable(c)]

    def take_in_background(self, trial: Any, j: int, backend: Any, con: Any) -> str:
        """The warm-up's call: the j-th computable criterion's table on the warm-up's connection `con` (where it is
        too large, one per parameter), within the budget; how it went ("table" already kept, "new table", "warmed
        table", "budget" spent: the criterion's later tables are not taken)."""
        table, how = self._table(trial, j, backend, con=con, background=True)
        if table is _TOO_LARGE:  # then each parameter's own table (EditTables.edited)
            computable = [c for c in trial.criteria if c.computable]
            for parameter in edit_parameters(computable[j]):
                how = self._table(trial, j, backend, con=con, background=True, free=parameter)[1]
                if how == "budget":
                    break
        return how

    def warmed(self, trial: Any) -> list[str]:
        """The editable criteria of the trial whose table is kept now."""
        computable = [c for c in trial.criteria if c.computable]
        with self._lock:
            return [c.id for j, c in enumerate(computable) if editable(c) and self._kept(computable, j, trial)]

    def _kept(self, computable: Sequence[Any], j: int, trial: Any) -> bool:
        table = self._tables.get(table_key(computable, j, trial))
        return table is not None and (table is not _TOO_LARGE or all(
            table_key(computable, j, trial, p) in self._tables for p in edit_parameters(computable[j])))

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
        if count_windows(computable[j]):
            raise DefinitionError("its threshold analysis over this source needs the events: the rule counts events",
                                  criterion=criterion_id)
        table, _ = self._table(trial, j, backend, reduce=False)  # the values themselves, not their truths
        table = _reason(table, self.limit)
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


__all__ = ["CACHE_BYTES", "MAX_EDIT_ROWS", "MAX_STAND_IN", "EditTable", "EditTables", "edit_parameters", "edit_table",
           "editable",
           "rule_key", "rule_variables", "table_key", "trial_key", "window_parameters"]
