"""In-memory engine: evaluate an expression tree over a Screening into three-valued NumPy masks.

Kleene's strong three-valued logic, so missing data is reported as unknown instead of silently
passing or failing a subject. A censored value ("<0.017") is an interval (Screening.censored): a comparison that
reads one is evaluated at the interval's bounds (every corner, when it reads several) and is unknown where the
answers differ (decide_on_intervals); variables without censored values take no part in it. A truth value is two boolean arrays: `value` (true and known) and
`known`. Columns are converted once per Screening and cached, so re-evaluating one criterion after a
parameter change costs only the arithmetic of that criterion.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from explorer.catalogue import Catalogue, default_catalogue

# re-exported: the truth codes (1 true, 0 false, 2 unknown) have the status codes' values
from explorer.cohort.compact import NumberLevels, as_floats, float_values, is_number_levels, number_levels
from explorer.cohort.lookup import arrow_text, positions
from explorer.cohort.screening import Screening
from explorer.engine.layout import check_columns, check_screening_tables
from explorer.engine.status import FAIL, PASS, UNKNOWN  # noqa: F401
from explorer.errors import DataError, ExpressionError
from explorer.expr import (
    MAX_CORNER_VARIABLES,
    Arith,
    Bool,
    BoolOp,
    Call,
    Compare,
    In,
    Name,
    Neg,
    Node,
    Not,
    Num,
    Str,
    at_least_count,
    chain_steps,
    count_column,
    count_window,
    is_monotone_test,
    names,
)


@dataclass(frozen=True)
class Truth:
    """Three-valued truth per subject: true, false or unknown."""

    value: np.ndarray  # True where known and true
    known: np.ndarray

    @classmethod
    def constant(cls, value: bool, n: int) -> Truth:
        return cls(np.full(n, value, dtype=bool), np.ones(n, dtype=bool))

    def __and__(self, other: Truth) -> Truth:
        false_self, false_other = self.known & ~self.value, other.known & ~other.value
        return Truth(self.value & other.value, (self.known & other.known) | false_self | false_other)

    def __or__(self, other: Truth) -> Truth:
        return Truth(self.value | other.value, (self.known & other.known) | self.value | other.value)

    def __invert__(self) -> Truth:
        return Truth(self.known & ~self.value, self.known)

    def codes(self) -> np.ndarray:
        """int8 array: 1 true, 0 false, 2 unknown."""
        # value is false wherever known is false, so value + 2 * unknown is 0, 1 or 2
        return self.value.view(np.int8) | ((~self.known).view(np.int8) << 1)


@dataclass(frozen=True)
class Levels:
    """A number column held as level codes (explorer.cohort.compact): a comparison with a constant is made
    once per distinct value and spread by the codes, which gives exactly the float64 answer; anything else
    reads the float64 values back (`floats`), kept only while the criterion is evaluated."""

    levels: np.ndarray  # float64, distinct
    codes: np.ndarray   # -1 = unknown

    def floats(self) -> np.ndarray:
        return as_floats(self.levels, self.codes)


@dataclass(frozen=True)
class Categorical:
    codes: np.ndarray  # -1 = unknown
    categories: tuple[str, ...]


_BLOCK = 1 << 20  # subjects per block where a whole float64 column is not needed at once

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}


class MemoryContext:
    """A Screening prepared for repeated evaluation: converted columns and event counts are cached."""

    def __init__(self, screening: Screening, catalogue: Catalogue | None = None):
        self.screening = screening
        self.catalogue = catalogue or default_catalogue()
        self.n = len(screening.features)
        self._columns: dict[str, object] = {}
        self._counts: dict[tuple[str, float], Levels | np.ndarray] = {}
        self._aligned: dict[tuple[str, str], np.ndarray] = {}
        self._event_index: tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray] | None = None
        self._intervals: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.censored_variables = censored_variables(screening)  # only their comparisons are decided on intervals

    def bound(self, name: str, side: int | None) -> np.ndarray:
        """The variable's values with its censored ones replaced by their low (side 0) or high (1) bound, or
        kept as they are (None: the point values); made for one comparison and not kept (a float64 column)."""
        values = self.column(name)
        values = np.array(values.floats() if isinstance(values, Levels) else values, dtype="float64")
        if side is None:
            return values
        rows, low, high = self.intervals(name)
        values[rows] = high if side else low
        return values

    def intervals(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if name not in self._intervals:  # the subjects' rows looked up once, when a criterion first reads it
            self._intervals[name] = censored_intervals(self.screening, name)
        return self._intervals[name]

    def column(self, name: str):
        if name in self._columns:
            return self._columns[name]
        value = self._convert(name)
        # numbers are the features' own array or level codes (no copy) and category codes take 2 bytes a
        # subject, so they are kept for the next threshold change; a boolean's two masks would be a second copy of its
        # column for every subject (0.5 GB for a trial's booleans at 10^7), and rebuilding them is cheap
        if not isinstance(value, Truth):
            self._columns[name] = value
        return value

    def _convert(self, name: str):
        var = self.catalogue[name]
        features = self.screening.features
        present = name in features.columns
        if var.kind == "number":
            if not present:
                return np.full(self.n, np.nan)
            column = features[name]
            if is_number_levels(column.dtype):  # compact: compared level by level, never widened and kept
                return Levels(*number_levels(column))
            return float_values(column)  # float64, the contract's dtype, as it is; anything else parsed
        if var.kind == "boolean":
            if not present:
                return Truth(np.zeros(self.n, bool), np.zeros(self.n, bool))
            s = features[name].astype("boolean")
            known = ~s.isna().to_numpy()
            return Truth(s.to_numpy(dtype=bool, na_value=False) & known, known)
        if var.kind == "category":
            if not present:
                return Categorical(np.full(self.n, -1, dtype=np.int16), var.categories)
            # a value outside the categories is unknown (-1), as pd.Categorical would code it; Arrow's hash
            # lookup is several times faster than building a Categorical from strings
            # kept for the session: int8 while the categories allow it (10 MB at 10^7 subjects instead of 20)
            small = len(var.categories) <= np.iinfo(np.int8).max
            column = features[name]
            if isinstance(column.dtype, pd.CategoricalDtype):  # read_screening's compact text: its levels looked up
                at = np.append(positions(column.cat.categories, list(var.categories)), -1)
                return Categorical(at[column.array.codes].astype(np.int8 if small else np.int16), var.categories)
            codes = positions(column, list(var.categories)).astype(np.int8 if small else np.int16)
            return Categorical(codes, var.categories)
        raise ExpressionError(f"{name} is an event; use count({name}, within_days=N)")

    def count(self, event: str, within_days: float) -> np.ndarray:
        """Events of a type in the `within_days` days up to the index date; NaN where not knowable."""
        counts = self.count_levels(event, within_days)
        return counts.floats() if isinstance(counts, Levels) else counts

    def count_levels(self, event: str, within_days: float) -> Levels | np.ndarray:
        """count(), kept as level codes (a count has few distinct values: 1 byte a subject instead of 8, the
        same numbers); what the evaluator compares."""
        key = (event, float(within_days))
        if key not in self._counts:
            levels = NumberLevels(self.n)
            for start, values in self._count_blocks(event, float(within_days)):
                levels.add(start, values)
            counts = levels.finish()
            self._counts[key] = counts if isinstance(counts, np.ndarray) else Levels(
                counts.categories.to_numpy(dtype=np.float64), counts.codes)
        return self._counts[key]

    def _events(self) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray]:
        """The events table reduced once to integer codes: (event code, event names, subject row, days)."""
        if self._event_index is None:
            events = self.screening.events
            if isinstance(events["event"].dtype, pd.CategoricalDtype):  # read_screening's compact events: coded
                codes = events["event"].array.codes  # the column's own codes (-1 missing), not a copy
                names = [str(name) for name in events["event"].cat.categories]
            else:
                encoded = pc.dictionary_encode(arrow_text(events["event"]))
                # the smallest exact dtypes: kept for the session, so at 10^7 subjects int64 would cost 0.1 GB more
                codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
                names = encoded.dictionary.to_pylist()
            # row of each event's subject in the features table; -1 for subjects not screened
            rows = positions(events["subject_id"], self.screening.features.index)
            rows = rows.astype(np.int32) if self.n < np.iinfo(np.int32).max else rows
            days = (events["days_before_index"].to_numpy() if events["days_before_index"].dtype == np.float64
                    else pd.to_numeric(events["days_before_index"], errors="coerce").to_numpy(dtype="float64",
                                                                                               na_value=np.nan))
            self._event_index = (codes, pd.Index(names, dtype=object), rows, days)
        return self._event_index

    def _aligned_column(self, table: str, column: str) -> np.ndarray:
        """A float column of event_lookback / event_counts in features row order (NaN where absent)."""
        key = (table, column)
        if key not in self._aligned:
            frame = getattr(self.screening, table)
            values = (frame[column].to_numpy() if frame[column].dtype == np.float64  # the contract's: no copy
                      else pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
            rows = self._rows_of(table)
            if rows is not None:  # the table lists other subjects, or in another order
                values = np.where(rows >= 0, values[np.maximum(rows, 0)] if len(values) else np.nan, np.nan)
            self._aligned[key] = values
        return self._aligned[key]

    def _rows_of(self, table: str) -> np.ndarray | None:
        """For each screened subject, its row in event_lookback / event_counts (-1: absent); None if aligned."""
        key = ("rows", table)
        if key not in self._aligned:
            index = getattr(self.screening, table).index
            features_index = self.screening.features.index
            same = index is features_index or (len(index) == len(features_index) and index.equals(features_index))
            self._aligned[key] = None if same else positions(features_index, index)
        return self._aligned[key]

    def _count(self, event: str, within_days: float) -> np.ndarray:
        """count() as one float64 column, without the level codes (what count_levels holds)."""
        out = np.empty(self.n)
        for start, values in self._count_blocks(event, within_days):
            out[start:start + len(values)] = values
        return out

    def _count_blocks(self, event: str, within_days: float) -> Iterator[tuple[int, np.ndarray]]:
        """count() a block of subjects at a time: (first subject, float64 counts, NaN where not knowable).

        Only the per-subject tally is held whole (int64); each float64 intermediate is one block long, where
        whole columns took five float64 copies (0.4 GB at 10^7 subjects) at the peak of building a state."""
        s = self.screening
        tally, window, given = None, None, None  # tally None: no event of this kind, every count is 0
        lookback = s.event_lookback
        if lookback is not None and event in lookback.columns:
            codes, names, rows, days = self._events()
            if event in names:
                selected = (codes == names.get_loc(event)) & (days <= within_days) & (rows >= 0)
                tally = np.bincount(rows[selected], minlength=self.n)
            window = self._aligned_column("event_lookback", event)
        precomputed = s.event_counts
        column = count_column(event, within_days)
        if precomputed is not None and column in precomputed.columns:
            given = self._aligned_column("event_counts", column)
        for start in range(0, self.n, _BLOCK):
            stop = min(start + _BLOCK, self.n)
            result = np.full(stop - start, np.nan)
            if window is not None:
                with np.errstate(invalid="ignore"):
                    window_ok = window[start:stop] >= within_days
                counts = 0.0 if tally is None else tally[start:stop].astype("float64")
                result = np.where(window_ok, counts, np.nan)
            if given is not None:
                result = np.where(np.isnan(result), given[start:stop], result)
            yield start, result


def censored_variables(screening: Screening) -> frozenset[str]:
    """The variables with censored values in the Screening (explorer.cohort.screening: its `censored` table)."""
    table = getattr(screening, "censored", None)
    if table is None or not len(table):
        return frozenset()
    variables = table["variable"]
    if isinstance(variables.dtype, pd.CategoricalDtype):  # the derivation's form: no string per row
        present = np.bincount(variables.cat.codes.to_numpy()[variables.cat.codes.to_numpy() >= 0],
                              minlength=len(variables.cat.categories)) > 0
        return frozenset(str(v) for v in variables.cat.categories[present])
    return frozenset(str(v) for v in pd.unique(variables.astype(str)))


def censored_intervals(screening: Screening, variable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature rows, low, high) of one variable's censored values in the Screening."""
    table = screening.censored
    mine = (table["variable"] == variable).to_numpy(dtype=bool)
    ids = table["subject_id"][mine]
    if isinstance(ids.dtype, pd.CategoricalDtype) and ids.cat.categories.equals(screening.features.index):
        rows = ids.cat.codes.to_numpy().astype(np.int64)  # the derivation's own categories: the codes are the rows
    else:
        rows = positions(ids.astype("string"), screening.features.index)
    if (rows < 0).any():
        raise DataError("the censored table names subjects the features do not have; rebuild the screening",
                        file=screening.source or None, column="subject_id",
                        rows=np.flatnonzero(rows < 0)[:10].tolist())
    return rows, table["low"].to_numpy(dtype="float64")[mine], table["high"].to_numpy(dtype="float64")[mine]


def agreed(truths: list[Truth]) -> Truth:
    """The truth where every one of `truths` gives the same answer, unknown where any two differ."""
    first = truths[0]
    same = np.ones(len(first.value), dtype=bool)
    for other in truths[1:]:
        same &= (other.value == first.value) & (other.known == first.known)
    return Truth(first.value & same, first.known & same)


class Evaluator:
    """Evaluates one tree; `params` gives the criterion's parameter values by name. `bounds`: censored variables
    fixed at one corner of their intervals ({name: values}), while a comparison is decided on intervals."""

    def __init__(self, context: MemoryContext, params: Mapping[str, float],
                 bounds: Mapping[str, np.ndarray] | None = None):
        self.ctx, self.params, self.bounds = context, params, bounds or {}

    def decide_on_intervals(self, node: Node) -> Truth | None:
        """A comparison reading censored variables: its truth at every corner of their intervals, unknown where
        they differ (exact for comparisons monotone in each variable, which are the catalogue's formulas and a
        chain's steps; docs/engine.md says what it does with others). None when it reads no censored value."""
        if self.bounds or not self.ctx.censored_variables:
            return None
        censored = sorted((names(node) - set(self.params)) & self.ctx.censored_variables)
        if not censored:
            return None
        if isinstance(node, Compare) and len(node.ops) > 1:  # a chain: each step on its own (0.1 <= x <= 0.2)
            steps = [self.eval(step) for step in chain_steps(node)]
            result = steps[0]
            for step in steps[1:]:
                result = result & step
            return result
        if len(censored) > MAX_CORNER_VARIABLES:
            # 2^k corners would exhaust time and memory (a rule reading dozens of censored variables): decided
            # on the point values, unknown wherever a value it reads is censored (sound, if less sharp)
            plain = Evaluator(self.ctx, self.params, {name: self.ctx.bound(name, None) for name in censored})
            return self._unknown_where_censored(plain.truth(node), censored)
        truths = []
        for corner in np.ndindex(*(2,) * len(censored)):
            fixed = {name: self.ctx.bound(name, side) for name, side in zip(censored, corner, strict=True)}
            truths.append(Evaluator(self.ctx, self.params, fixed).eval(node))
        result = agreed(truths)
        if not is_monotone_test(node, censored):  # x == 0.1 holds inside [0, 0.33), at neither end
            result = self._unknown_where_censored(result, censored)
        return result

    def _unknown_where_censored(self, result: Truth, censored: list[str]) -> Truth:
        """`result` made unknown for every subject with a censored value among `censored` (as SQL's `low IS NULL`)."""
        inside = np.zeros(self.ctx.n, dtype=bool)
        for name in censored:
            inside[self.ctx.intervals(name)[0]] = True
        return Truth(result.value & ~inside, result.known & ~inside)

    def truth(self, node: Node) -> Truth:
        result = self.eval(node)
        if not isinstance(result, Truth):
            raise ExpressionError("the expression is not a true/false condition")
        return result

    def eval(self, node: Node):
        match node:
            case Num(value=v):
                return float(v)
            case Str(value=v):
                return v
            case Bool(value=v):
                return Truth.constant(v, self.ctx.n)
            case Name(name=n):
                if n in self.params:
                    return float(self.params[n])
                if n in self.bounds:
                    return self.bounds[n]
                return self.ctx.column(n)
            case Neg(operand=o):
                return -self.number(o)
            case Arith(op=op, left=left, right=right):
                a, b = self.number(left), self.number(right)
                # overflow gives +-inf and inf - inf gives NaN (unknown) in both engines; NumPy's warnings
                # about them are expected here, not news for the user's terminal
                with np.errstate(all="ignore"):
                    if op == "+":
                        return a + b
                    if op == "-":
                        return a - b
                    if op == "*":
                        return a * b
                    # x / 0 has no value: unknown, not infinity
                    return np.where(b == 0, np.nan, a / b) if np.ndim(a) or np.ndim(b) else (
                        np.nan if b == 0 else a / b)
            case Compare(ops=ops, operands=operands):
                if (decided := self.decide_on_intervals(node)) is not None:
                    return decided
                values = [self.eval(o) for o in operands]
                result = None
                for op, a, b in zip(ops, values, values[1:], strict=False):
                    step = self.compare(op, a, b)
                    result = step if result is None else result & step
                return result
            case In(operand=o, values=values, negated=negated):
                if (decided := self.decide_on_intervals(node)) is not None:
                    return decided
                a = self.eval(o)
                result = Truth.constant(False, self.ctx.n)
                for v in values:
                    result = result | self.compare("==", a, self.eval(v))
                return ~result if negated else result
            case Not(operand=o):
                return ~self.truth(o)
            case BoolOp(op=op, operands=operands):
                result = self.truth(operands[0])
                for o in operands[1:]:
                    result = (result & self.truth(o)) if op == "and" else (result | self.truth(o))
                return result
            case Call():
                return self.call(node)
        raise ExpressionError(f"cannot evaluate {node!r}")

    def number(self, node: Node):
        value = self.eval(node)
        if isinstance(value, Levels):
            return value.floats()
        if isinstance(value, (Truth, Categorical, str)):
            raise ExpressionError(f"expected a number at {node!r}")
        return value

    def compare(self, op: str, a, b) -> Truth:
        n = self.ctx.n
        if isinstance(a, Categorical) or isinstance(b, Categorical):
            cat, other = (a, b) if isinstance(a, Categorical) else (b, a)
            if isinstance(other, str):
                code = cat.categories.index(other) if other in cat.categories else -2
                known = cat.codes >= 0
                equal = known & (cat.codes == code)
            else:
                known = (cat.codes >= 0) & (other.codes >= 0)
                equal = known & (cat.codes == other.codes)
            return Truth(equal if op == "==" else known & ~equal, known)
        if isinstance(a, Truth) or isinstance(b, Truth):
            known = a.known & b.known
            equal = known & (a.value == b.value)
            return Truth(equal if op == "==" else known & ~equal, known)
        if isinstance(a, Levels) or isinstance(b, Levels):
            other = b if isinstance(a, Levels) else a
            if not isinstance(other, Levels) and np.ndim(other) == 0:  # against a constant: once per level
                by_level = (_COMPARE[op](a.levels, b) if isinstance(a, Levels) else _COMPARE[op](a, b.levels))
                codes = (a if isinstance(a, Levels) else b).codes
                known = codes >= 0
                if np.isnan(other):
                    known = np.zeros(n, dtype=bool)
                return Truth(np.append(by_level, False)[codes] & known, known)
            a, b = (v.floats() if isinstance(v, Levels) else v for v in (a, b))
        a_arr, b_arr = np.broadcast_to(a, (n,)), np.broadcast_to(b, (n,))
        known = ~(np.isnan(a_arr) | np.isnan(b_arr))
        return Truth(_COMPARE[op](a_arr, b_arr) & known, known)

    def call(self, node: Call):
        """A function of explorer.expr.FUNCTIONS, by its implementation in _IMPLEMENTATIONS."""
        return _IMPLEMENTATIONS[node.func](self, node)

    def count(self, node: Call):
        return self.ctx.count_levels(node.args[0].name, count_window(node, self.params))

    def known(self, node: Call) -> Truth:
        value = self.eval(node.args[0])
        n = self.ctx.n
        if isinstance(value, Truth):
            known = value.known
        elif isinstance(value, (Categorical, Levels)):
            known = value.codes >= 0
        elif isinstance(value, str):
            known = np.ones(n, dtype=bool)
        else:
            known = ~np.isnan(np.broadcast_to(value, (n,)))
        return Truth(known.copy(), np.ones(n, dtype=bool))

    def absolute(self, node: Call):
        return np.abs(self.number(node.args[0]))

    def extreme(self, node: Call):
        # NumPy's minimum / maximum propagate NaN: the smallest of an unknown and 3 is unknown
        reduce = np.minimum if node.func == "min" else np.maximum
        result = self.number(node.args[0])
        for a in node.args[1:]:
            result = reduce(result, self.number(a))
        return result

    def at_least(self, node: Call) -> Truth:
        """True where n conditions are true; false where more than k - n are false; unknown otherwise."""
        n, conditions = at_least_count(node), [self.truth(a) for a in node.args[1:]]
        passes = np.sum([t.value for t in conditions], axis=0, dtype=np.int32)
        fails = np.sum([t.known & ~t.value for t in conditions], axis=0, dtype=np.int32)
        value = passes >= n
        return Truth(value, value | (fails > len(conditions) - n))


# one implementation per function of explorer.expr.FUNCTIONS (tests check that the names agree)
_IMPLEMENTATIONS = {"count": Evaluator.count, "known": Evaluator.known, "abs": Evaluator.absolute,
                    "min": Evaluator.extreme, "max": Evaluator.extreme, "at_least": Evaluator.at_least}


def evaluate_expression(tree: Node, screening: Screening | MemoryContext,
                        params: Mapping[str, float] | None = None,
                        catalogue: Catalogue | None = None) -> Truth:
    """Evaluate a (type-checked) expression over every subject."""
    context = screening if isinstance(screening, MemoryContext) else MemoryContext(screening, catalogue)
    return Evaluator(context, params or {}).truth(tree)


class MemoryBackend:
    """The in-memory engine behind explorer.engine.matrix.evaluate: one MemoryContext, reused."""

    name = "memory"

    def __init__(self, screening: Screening | MemoryContext, catalogue: Catalogue | None = None):
        self.context = screening if isinstance(screening, MemoryContext) else MemoryContext(screening, catalogue)
        data = self.context.screening
        # the column names the DuckDB engine refuses, refused here too: both engines, one answer
        check_columns(data.features.columns, data.source or "the screening", keyed=False)
        check_screening_tables(data)

    def subject_ids(self) -> pd.Index:
        return self.context.screening.features.index

    def truth_codes(self, criteria, catalogue: Catalogue | None = None, progress=None) -> list[np.ndarray]:
        if catalogue is not None and catalogue is not self.context.catalogue:
            # a trial's own variables extend the catalogue; converted columns stay valid
            self.context.catalogue = catalogue
        out = []
        for criterion in criteria:
            try:
                truth = evaluate_expression(criterion.tree, self.context, criterion.parameter_values())
            except ExpressionError as err:
                raise err.located(criterion=criterion.id) from None
            out.append(truth.codes())
            if progress is not None:
                progress.update(1)
        return out
