"""Expression tree -> SQL, dialect-neutral, three-valued through SQL NULL.

SQL's AND / OR / NOT on NULL are Kleene's strong logic, the language's own semantics, so a criterion
compiles to a boolean SQL expression whose NULL is our UNKNOWN. The pieces where SQL engines differ
from each other, or from the in-memory engine, go through a small `Dialect`:

- every value from a definition (numbers, texts, parameter values, category lists) is a *bound
  parameter*; no definition text is ever pasted into SQL. Identifiers are checked against the catalogue
  and the grammar's name pattern, then quoted.
- x / 0 has no value (unknown), not infinity: the divisor 0 becomes NULL.
- NaN is unknown: a number column's NaN is NULL, and so is NaN from arithmetic on infinities
  (overflow gives +-infinity in every engine) before it is compared, tested or taken min / max of;
  DuckDB and Spark would order it above every number.
- min() / max() of an unknown is unknown, while SQL's LEAST / GREATEST skip NULLs.
- a category value outside the catalogue's categories is NULL.
- the SQL is linear in the expression: an operand that would be written twice is bound once, as a
  column of a layer below (Compiler.bind).

`matrix_query` builds one SELECT that evaluates many criteria at once over the tables of a Screening
(explorer.engine.layout): one truth code per criterion and subject (1 true, 0 false, 2 unknown) next
to the subject's row number, so the result can be put back in the source's row order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from explorer.catalogue import Catalogue
from explorer.errors import ExpressionError
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
    is_reserved,
    names,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}


class Dialect:
    """What differs between SQL engines. The base class is the DuckDB / PostgreSQL family."""

    name = "duckdb"
    double, boolean, text, tinyint = "DOUBLE", "BOOLEAN", "VARCHAR", "TINYINT"
    positional_join = True  # tables in the same row order can be joined by position (DuckDB's POSITIONAL JOIN)

    def quote(self, identifier: str) -> str:
        if not identifier or "\x00" in identifier:
            raise ExpressionError(f"{identifier!r} cannot be a column name")
        return '"' + identifier.replace('"', '""') + '"'

    def placeholder(self, name: str) -> str:
        return f"${name}"

    def try_cast(self, sql: str, type_name: str) -> str:
        return f"TRY_CAST({sql} AS {type_name})"

    def null(self, type_name: str) -> str:
        return f"CAST(NULL AS {type_name})"

    def number_column(self, sql: str) -> str:
        return f"NULLIF({self.try_cast(sql, self.double)}, CAST('NaN' AS {self.double}))"

    def not_nan(self, column: str) -> str:
        """NULL where the column is NaN (NaN equals NaN in DuckDB and Spark, unlike IEEE)."""
        return f"NULLIF({column}, CAST('NaN' AS {self.double}))"

    def isnan(self, column: str) -> str:
        return f"isnan({column})"

    def count_if(self, condition: str) -> str:
        return f"COUNT(*) FILTER (WHERE {condition})"

    # --- hooks of the feature derivation (explorer.engine.features_sql) ---
    materialized = "MATERIALIZED "  # a CTE read twice is computed once (Spark has no such hint: it inlines a CTE at
    # every read, so features_sql.SparkRunner checkpoints the CTEs read more than once)

    def int_div(self, a: str, b: str) -> str:
        """Integer division of BIGINTs (exact when b divides a; DuckDB's `/` would give a DOUBLE)."""
        return f"({a} // {b})"

    def round_even(self, sql: str) -> str:
        """Round half to even, as NumPy's np.round (SQL's ROUND rounds halves away from zero)."""
        return f"round_even({sql}, 0)"

    def median(self, sql: str) -> str:
        """The exact median (the mean of the two middle values), as pandas' median."""
        return f"median({sql})"

    def date_of_day(self, sql: str) -> str:
        """The DATE `sql` days after 1970-01-01."""
        return f"(DATE '1970-01-01' + CAST({sql} AS INTEGER))"

    def epoch_ns(self, sql: str) -> str:
        """A TIMESTAMP as BIGINT nanoseconds since 1970 (the pandas derivation's clock)."""
        return f"epoch_ns({sql})"


class SparkDialect(Dialect):
    """Spark SQL (3.4+ named parameters). Compiles; not run in this project's tests."""

    name = "spark"
    double, boolean, text, tinyint = "DOUBLE", "BOOLEAN", "STRING", "TINYINT"
    positional_join = False

    def quote(self, identifier: str) -> str:
        if not identifier or "\x00" in identifier:
            raise ExpressionError(f"{identifier!r} cannot be a column name")
        return "`" + identifier.replace("`", "``") + "`"

    def placeholder(self, name: str) -> str:
        return f":{name}"

    def try_cast(self, sql: str, type_name: str) -> str:
        return f"try_cast({sql} AS {type_name})"

    def number_column(self, sql: str) -> str:
        cast = self.try_cast(sql, self.double)
        return f"(CASE WHEN isnan({cast}) THEN NULL ELSE {cast} END)"

    def finite_or_null(self, sql: str) -> str:
        return f"(CASE WHEN NOT isnan({sql}) AND abs({sql}) < double('infinity') THEN {sql} END)"

    def count_if(self, condition: str) -> str:
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    materialized = ""  # no hint in Spark SQL; see DuckDB's dialect

    def int_div(self, a: str, b: str) -> str:
        return f"({a} div {b})"

    def round_even(self, sql: str) -> str:
        return f"bround({sql}, 0)"

    def median(self, sql: str) -> str:
        return f"percentile({sql}, 0.5)"

    def date_of_day(self, sql: str) -> str:
        return f"date_from_unix_date(CAST({sql} AS INT))"

    def epoch_ns(self, sql: str) -> str:
        return f"(unix_micros(CAST({sql} AS TIMESTAMP)) * 1000)"


DUCKDB = Dialect()
SPARK = SparkDialect()


class Binder:
    """Collects bound parameter values and hands out their placeholders."""

    def __init__(self, dialect: Dialect, prefix: str = "p"):
        self.dialect, self.prefix = dialect, prefix
        self.values: dict[str, Any] = {}

    def copy(self) -> Binder:
        out = Binder(self.dialect, self.prefix)
        out.values = dict(self.values)
        return out

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return self.dialect.placeholder(name)


ROW, ID = "__te_row", "__te_id"  # the engine's own columns; names starting "__" are reserved (explorer.expr)


@dataclass(frozen=True)
class SourceSchema:
    """Which tables and columns the Screening's sources have (a missing column is unknown for everyone)."""

    features: frozenset[str]
    events: bool = False
    event_lookback: frozenset[str] = frozenset()
    event_counts: frozenset[str] = frozenset()
    row_column: str = ROW
    aligned: frozenset[str] = frozenset()  # per-subject tables believed to be in features row order
    tables: Mapping[str, str] = field(default_factory=lambda: {
        "features": "features_src", "events": "events_src", "event_lookback": "event_lookback_src",
        "event_counts": "event_counts_src", "censored": "censored_src"})
    censored: frozenset[str] = frozenset()  # variables with censored values (the censored table's intervals)


@dataclass(frozen=True)
class Sql:
    """Compiled SQL of a node: its text, the binding layer whose columns it reads (0: the joined sources),
    whether it is a single column or bound value (so it may be written twice), and whether it may be NaN."""

    text: str
    level: int = 0
    simple: bool = False
    nan: bool = False


class Compiler:
    """Compiles type-checked trees into conditions over the joined sources, binding subexpressions once.

    A node whose SQL would name an operand twice (min / max, a chained comparison, NULLIF, which engines
    expand into a CASE with a copy of its operand) gets that operand as a column computed in a layer
    below it (`layers`), so the SQL grows linearly with the expression, never doubling per level.
    """

    def __init__(self, dialect: Dialect, catalogue: Catalogue, schema: SourceSchema, binder: Binder):
        self.dialect, self.catalogue, self.schema, self.binder = dialect, catalogue, schema, binder
        self.columns: set[str] = set()                  # features columns used
        self.counts: dict[tuple[str, float], str] = {}  # (event, days) -> its count column from `ev`
        self.lookback: dict[str, str] = {}              # event_lookback column -> its alias
        self.given_counts: dict[str, str] = {}          # event_counts column -> its alias
        self.layers: list[list[tuple[str, str]]] = []   # layers[k]: (column, sql) computed over level k
        self.params: Mapping[str, float] = {}
        self.text = ""
        self.bounded: dict[str, tuple[str, str]] = {}   # censored variable -> its (low, high) columns from `cz`
        self.corner: dict[str, int] = {}                # while a comparison is compiled at a corner: side by name

    def condition(self, tree: Node, params: Mapping[str, float], *, text: str = "") -> Sql:
        self.params, self.text = params, text
        return self.sql(tree)

    def fail(self, node: Node, message: str):
        raise ExpressionError(message, expression=self.text, position=node.span[0] if self.text else None)

    def identifier(self, node: Node, name: str) -> str:
        if not IDENTIFIER.match(name) or name not in self.catalogue or is_reserved(name):
            self.fail(node, f"{name!r} is not a catalogue variable")
        return self.dialect.quote(name)

    # --- binding ---------------------------------------------------------------------------------
    def bind(self, sql: Sql) -> Sql:
        """The value as a column of the next layer (or itself, when it is already a column or value)."""
        if sql.simple:
            return sql
        while len(self.layers) <= sql.level:
            self.layers.append([])
        name = self.dialect.quote(f"__te_b{sum(map(len, self.layers))}")
        self.layers[sql.level].append((name, sql.text))
        return Sql(name, sql.level + 1, simple=True, nan=sql.nan)

    def clean(self, sql: Sql) -> Sql:
        """NaN (inf - inf, 0 * inf) as NULL: unknown in every engine, as in the memory engine."""
        if not sql.nan:
            return sql
        bound = self.bind(sql)
        return Sql(self.dialect.not_nan(bound.text), bound.level)

    # --- nodes -----------------------------------------------------------------------------------
    def sql(self, node: Node) -> Sql:
        d = self.dialect
        match node:
            case Num(value=v):
                return Sql(self.binder.bind(float(v)), simple=True)
            case Str(value=v):
                return Sql(self.binder.bind(str(v)), simple=True)
            case Bool(value=v):
                return Sql("TRUE" if v else "FALSE", simple=True)
            case Name(name=n):
                if n in self.params:
                    return Sql(self.binder.bind(float(self.params[n])), simple=True)
                var = self.catalogue.get(n)
                if var is None:
                    self.fail(node, f"unknown name {n!r}")
                if var.kind == "event":
                    self.fail(node, f"{n} is an event; use count({n}, within_days=N)")
                quoted = self.identifier(node, n)
                if n not in self.schema.features:
                    return Sql(d.null({"number": d.double, "boolean": d.boolean}.get(var.kind, d.text)), simple=True)
                self.columns.add(n)
                if n in self.corner:  # the censored value's bound at this corner, the value itself where exact
                    k = len(self.bounded)
                    low, high = self.bounded.setdefault(n, (d.quote(f"__te_lo{k}"), d.quote(f"__te_hi{k}")))
                    if self.corner[n] < 0:
                        return Sql(quoted, simple=True)
                    return Sql(f"COALESCE({high if self.corner[n] else low}, {quoted})", simple=True)
                return Sql(quoted, simple=True)
            case Neg(operand=o):
                x = self.sql(o)
                return Sql(f"(-{x.text})", x.level, nan=x.nan)
            case Arith(op=op, left=left, right=right):
                a, b = self.sql(left), self.sql(right)
                if op == "/":
                    # x / 0 has no value (unknown), not infinity
                    b = self.bind(b)
                    b = Sql(f"NULLIF({b.text}, CAST(0 AS {d.double}))", b.level)
                # with infinities from overflow, + - * / can give NaN
                return Sql(f"({a.text} {op} {b.text})", max(a.level, b.level), nan=True)
            case Compare(ops=ops, operands=operands):
                if (decided := self.on_intervals(node)) is not None:
                    return decided
                values = [self.operand(o) for o in operands]
                # a chain names its inner operands twice: bind them
                values = [v if i in (0, len(values) - 1) else self.bind(v) for i, v in enumerate(values)]
                steps = [f"({a.text} {_SQL_OPS[op]} {b.text})" for op, a, b in zip(ops, values, values[1:], strict=False)]
                text = steps[0] if len(steps) == 1 else "(" + " AND ".join(steps) + ")"
                return Sql(text, max(v.level for v in values))
            case In(operand=o, values=values, negated=negated):
                if (decided := self.on_intervals(node)) is not None:
                    return decided
                x = self.operand(o)
                inside = f"({x.text} IN ({', '.join(self.sql(v).text for v in values)}))"
                return Sql(f"(NOT {inside})" if negated else inside, x.level)
            case Not(operand=o):
                x = self.sql(o)
                return Sql(f"(NOT {x.text})", x.level)
            case BoolOp(op=op, operands=operands):
                parts = [self.sql(o) for o in operands]
                joiner = " AND " if op == "and" else " OR "
                return Sql("(" + joiner.join(p.text for p in parts) + ")", max(p.level for p in parts))
            case Call():
                return _SQL_FUNCTIONS[node.func](self, node)
        self.fail(node, f"cannot compile {node!r} to SQL")

    def on_intervals(self, node: Compare | In) -> Sql | None:
        """The memory engine's rule (memory.Evaluator.decide_on_intervals): a comparison reading censored
        variables compiled at every corner of their intervals, each bound as a column; NULL (unknown) where
        the corners' truth codes differ. None when it reads none (no cost for the others)."""
        if self.corner or not self.schema.censored:
            return None
        censored = sorted((names(node) - set(self.params)) & self.schema.censored & self.schema.features)
        if not censored:
            return None
        if isinstance(node, Compare) and len(node.ops) > 1:  # a chain: each step on its own
            steps = [self.sql(step) for step in chain_steps(node)]
            return Sql("(" + " AND ".join(p.text for p in steps) + ")", max(p.level for p in steps))
        if len(censored) > MAX_CORNER_VARIABLES:  # the memory engine's rule: point values, unknown where censored
            self.corner = {name: -1 for name in censored}  # -1: the point value, the bound columns only joined
            try:
                plain = self.bind(self.sql(node))
            finally:
                self.corner = {}
            exact = " AND ".join(f"{self.bounded[name][0]} IS NULL" for name in censored)
            return Sql(f"(CASE WHEN {exact} THEN {plain.text} END)", plain.level)
        corners = []
        for corner in itertools.product((0, 1), repeat=len(censored)):
            self.corner = dict(zip(censored, corner, strict=True))
            try:
                corners.append(self.bind(self.sql(node)))
            finally:
                self.corner = {}
        codes = [truth_code(c.text, self.dialect) for c in corners]
        agree = " AND ".join(f"{codes[0]} = {code}" for code in codes[1:])
        if not is_monotone_test(node, censored):  # ==, abs(): unknown wherever a value it reads is censored
            exact = " AND ".join(f"{self.bounded[name][0]} IS NULL" for name in censored)
            agree = f"{agree} AND {exact}"
        return Sql(f"(CASE WHEN {agree} THEN {corners[0].text} END)", max(c.level for c in corners))

    def operand(self, node: Node) -> Sql:
        """A value about to be compared or tested: NaN made NULL first."""
        return self.clean(self.sql(node))

    # --- the functions of explorer.expr.FUNCTIONS ---------------------------------------------------
    def known(self, node: Call) -> Sql:
        x = self.operand(node.args[0])
        return Sql(f"({x.text} IS NOT NULL)", x.level)

    def absolute(self, node: Call) -> Sql:
        x = self.sql(node.args[0])
        return Sql(f"ABS({x.text})", x.level, nan=x.nan)

    def extreme(self, node: Call) -> Sql:
        """min / max of an unknown (NULL or NaN) is unknown, while SQL's LEAST / GREATEST skip NULLs."""
        args = [self.bind(self.sql(a)) for a in node.args]
        unknown = " OR ".join(f"{a.text} IS NULL OR {self.dialect.isnan(a.text)}" if a.nan else f"{a.text} IS NULL"
                              for a in args)
        function = "LEAST" if node.func == "min" else "GREATEST"
        text = f"(CASE WHEN {unknown} THEN NULL ELSE {function}({', '.join(a.text for a in args)}) END)"
        return Sql(text, max(a.level for a in args))

    def count_call(self, node: Call) -> Sql:
        event = node.args[0]
        var = self.catalogue.get(event.name)
        if var is None or var.kind != "event":
            self.fail(event, f"{event.name!r} is not a catalogue event")
        self.identifier(event, event.name)
        return Sql(self.count(event.name, count_window(node, self.params)))

    def count(self, event: str, days: float) -> str:
        """The same rule as the memory engine: counted events where the history covers the window,
        else a count the source reports for exactly this window, else unknown."""
        d = self.dialect
        parts = []
        if event in self.schema.event_lookback:
            lookback = self.lookback.setdefault(event, d.quote(f"__te_lb{len(self.lookback)}"))
            if self.schema.events:
                key = (event, days)
                if key not in self.counts:
                    self.counts[key] = d.quote(f"__te_n{len(self.counts)}")
                counted = f"COALESCE({self.counts[key]}, 0)"
            else:
                counted = "0"  # a lookback without any events table: a full history with no events
            parts.append(f"CASE WHEN {lookback} >= {self.binder.bind(days)} THEN CAST({counted} AS {d.double}) END")
        column = count_column(event, days)
        if column in self.schema.event_counts:
            parts.append(self.given_counts.setdefault(column, d.quote(f"__te_ec{len(self.given_counts)}")))
        if not parts:
            return d.null(d.double)
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"

    def at_least(self, node: Call) -> Sql:
        """The memory engine's rule: TRUE once n conditions are true, FALSE once more than k - n are false, else
        NULL. Each condition is read twice (counted true, counted false), so each is bound as a column first."""
        n, conditions = at_least_count(node), [self.bind(self.sql(a)) for a in node.args[1:]]
        passes = " + ".join(f"(CASE WHEN {c.text} THEN 1 ELSE 0 END)" for c in conditions)
        fails = " + ".join(f"(CASE WHEN NOT {c.text} THEN 1 ELSE 0 END)" for c in conditions)
        text = (f"(CASE WHEN ({passes}) >= {self.binder.bind(float(n))} THEN TRUE "
                f"WHEN ({fails}) > {self.binder.bind(float(len(conditions) - n))} THEN FALSE END)")
        return Sql(text, max(c.level for c in conditions))


# one compilation per function of the language (tests check that the names are FUNCTIONS')
_SQL_FUNCTIONS = {"count": Compiler.count_call, "known": Compiler.known, "abs": Compiler.absolute,
                  "min": Compiler.extreme, "max": Compiler.extreme, "at_least": Compiler.at_least}


@dataclass(frozen=True)
class CriterionSQL:
    """What matrix_query needs of a criterion (its parsed tree and parameter values)."""

    id: str
    tree: Node
    params: Mapping[str, float]
    text: str = ""


def truth_code(condition: str, dialect: Dialect) -> str:
    """1 true, 0 false, 2 unknown: a boolean cast to an integer is 1 / 0, and NULL becomes 2."""
    return f"COALESCE(CAST({condition} AS {dialect.tinyint}), CAST(2 AS {dialect.tinyint}))"


class MatrixQuery:
    """The compiled SELECT for many criteria: `subject_row` and one truth code per criterion (`t0`, `t1`, ...).

    Event counts come from an aggregate of the events table (`ev`: one conditional count per event and
    window the criteria use). A generic engine joins it by subject id; an engine that can join by
    position (DuckDB) may instead run `event_counts_sql`, spread the counts over the features' rows
    and join that aligned table by position (`sql(dense_events=...)`), which avoids hashing every
    subject id of the cohort. Every column the engine adds is named `__te_...`, a prefix no variable
    may have (explorer.expr.is_reserved), so no user's name can collide with one.
    """

    def __init__(self, criteria: Sequence[CriterionSQL], catalogue: Catalogue, schema: SourceSchema,
                 dialect: Dialect = DUCKDB):
        self.dialect, self.schema, self.catalogue = dialect, schema, catalogue
        self.binder = Binder(dialect)
        self.compiler = Compiler(dialect, catalogue, schema, self.binder)
        self.conditions: list[Sql] = []
        for c in criteria:
            try:
                self.conditions.append(self.compiler.condition(c.tree, c.params, text=c.text))
            except ExpressionError as err:
                raise err.located(criterion=c.id) from None
        self.features_cte = _features_cte(self.compiler, schema, catalogue, self.binder)

    @property
    def counts(self) -> dict[tuple[str, float], str]:
        """(event, window in days) -> the (unquoted) name of the column of `ev` that counts it."""
        return {key: column.strip('"') for key, column in self.compiler.counts.items()}

    def _events_cte(self, binder: Binder) -> str:
        d, q, t = self.dialect, self.dialect.quote, self.schema.tables
        event_sql, days_sql = f"CAST({q('event')} AS {d.text})", d.number_column(q("days_before_index"))
        counts = ", ".join(
            f"{d.count_if(f'{event_sql} = {binder.bind(event)} AND {days_sql} <= {binder.bind(days)}')} AS {col}"
            for (event, days), col in self.compiler.counts.items())
        wanted = ", ".join(binder.bind(event) for event in sorted({e for e, _ in self.compiler.counts}))
        longest = binder.bind(max(days for _, days in self.compiler.counts))
        # only the events some window can count: fewer rows to group by subject id
        return (f"ev AS (SELECT CAST({q('subject_id')} AS {d.text}) AS {q(ID)}, {counts} FROM {q(t['events'])} "
                f"WHERE {event_sql} IN ({wanted}) AND {days_sql} <= {longest} GROUP BY 1)")

    def event_counts_sql(self) -> tuple[str, dict[str, Any]]:
        """The counts of the subjects who have events, with their feature row (`subject_row`, __te_n0, ...)."""
        d, q = self.dialect, self.dialect.quote
        binder = Binder(d, prefix="e")
        columns = ", ".join(f"ev.{col}" for col in self.compiler.counts.values())
        sql = (f"WITH {self._events_cte(binder)},\nr AS (SELECT {q(self.schema.row_column)} AS {q(ROW)}, "
               f"CAST({q('subject_id')} AS {d.text}) AS {q(ID)} FROM {q(self.schema.tables['features'])})\n"
               f"SELECT r.{q(ROW)} AS subject_row, {columns} FROM ev JOIN r ON r.{q(ID)} = ev.{q(ID)}")
        return sql, binder.values

    def sql(self, dense_events: str | None = None, keep: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
        """The query; `dense_events` names a relation of the counts in features row order (see above);
        `keep` names features columns the criteria read, passed through as typed for them (the edit table
        of explorer.engine.edit_histogram groups by them).

        Each table joined by position (schema.aligned) adds a column `misaligned_<table>`, true where
        its subject id is not the features' one: any true (or a row without `subject_row`) means the
        table is not in features order after all, and the query must be run again with it joined by id.
        """
        d, q, t = self.dialect, self.dialect.quote, self.schema.tables
        binder = self.binder.copy()  # values bound below belong to this query text only
        ctes, joins, positional, checks = [self.features_cte], [], [], []
        select = ["f.*"]
        if self.compiler.counts:
            if dense_events is not None and d.positional_join:
                positional.append(f"POSITIONAL JOIN {q(dense_events)} AS ev")
            else:
                ctes.append(self._events_cte(binder))
                joins.append(f"LEFT JOIN ev ON ev.{q(ID)} = f.{q(ID)}")
            select += [f"ev.{col}" for col in self.compiler.counts.values()]
        for alias, table, used in (("lb", "event_lookback", self.compiler.lookback),
                                   ("ec", "event_counts", self.compiler.given_counts)):
            if not used:
                continue
            cols = ", ".join(f"{d.number_column(q(c))} AS {name}" for c, name in sorted(used.items()))
            ctes.append(f"{alias} AS (SELECT CAST({q('subject_id')} AS {d.text}) AS {q(ID)}, {cols} "
                        f"FROM {q(t[table])})")
            select += [f"{alias}.{name}" for name in used.values()]
            if d.positional_join and table in self.schema.aligned:
                positional.append(f"POSITIONAL JOIN {alias}")
                # the pairing by position is checked in the same scan; the caller rejects a mismatch
                select.append(f"(f.{q(ID)} IS DISTINCT FROM {alias}.{q(ID)}) AS {q('__te_misaligned_' + table)}")
                checks.append(f"{q('__te_misaligned_' + table)} AS misaligned_{table}")
            else:
                joins.append(f"LEFT JOIN {alias} ON {alias}.{q(ID)} = f.{q(ID)}")
        if self.compiler.bounded:
            # the censored variables' bounds, one row per subject with any (few: no cost for the others)
            wanted = ", ".join(binder.bind(v) for v in sorted(self.compiler.bounded))
            pivot = ", ".join(
                f"MAX(CASE WHEN {q('variable')} = {binder.bind(v)} THEN {d.number_column(q(side))} END) AS {alias}"
                for v, aliases in sorted(self.compiler.bounded.items()) for side, alias in zip(("low", "high"), aliases,
                                                                                               strict=True))
            ctes.append(f"cz AS (SELECT CAST({q('subject_id')} AS {d.text}) AS {q(ID)}, {pivot} "
                        f"FROM {q(t['censored'])} WHERE CAST({q('variable')} AS {d.text}) IN ({wanted}) GROUP BY 1)")
            select += [f"cz.{alias}" for aliases in self.compiler.bounded.values() for alias in aliases]
            joins.append(f"LEFT JOIN cz ON cz.{q(ID)} = f.{q(ID)}")
        # positional joins first: a hash join may reorder the rows they pair by position
        ctes.append(f"__te_j AS (SELECT {', '.join(select)} FROM f " + " ".join(positional + joins) + ")")
        relation = "__te_j"
        for k, layer in enumerate(self.compiler.layers):
            columns = ", ".join(f"{text} AS {name}" for name, text in layer)
            ctes.append(f"__te_l{k + 1} AS (SELECT *, {columns} FROM {relation})")
            relation = f"__te_l{k + 1}"
        codes = [f"{truth_code(c.text, d)} AS t{i}" for i, c in enumerate(self.conditions)]
        select = ", ".join([f"{q(ROW)} AS subject_row", *codes, *checks, *(q(c) for c in keep)])
        return "WITH " + ",\n".join(ctes) + f"\nSELECT {select}\nFROM {relation}", binder.values


def matrix_query(criteria: Sequence[CriterionSQL], catalogue: Catalogue, schema: SourceSchema,
                 dialect: Dialect = DUCKDB) -> tuple[str, dict[str, Any]]:
    """One SELECT: the row number (`subject_row`) and one truth code per criterion (`t0`, `t1`, ...)."""
    return MatrixQuery(criteria, catalogue, schema, dialect).sql()


def _features_cte(compiler: Compiler, schema: SourceSchema, catalogue: Catalogue, binder: Binder) -> str:
    d, q = compiler.dialect, compiler.dialect.quote
    columns = [f"{q(schema.row_column)} AS {q(ROW)}", f"CAST({q('subject_id')} AS {d.text}) AS {q(ID)}"]
    for name in sorted(compiler.columns):
        var, ref = catalogue[name], q(name)
        if var.kind == "number":
            columns.append(f"{d.number_column(ref)} AS {ref}")
        elif var.kind == "boolean":
            columns.append(f"{d.try_cast(ref, d.boolean)} AS {ref}")
        else:
            text = f"CAST({ref} AS {d.text})"
            allowed = ", ".join(binder.bind(c) for c in var.categories)
            columns.append(f"(CASE WHEN {text} IN ({allowed}) THEN {text} END) AS {ref}")
    return f"f AS (SELECT {', '.join(columns)} FROM {q(schema.tables['features'])})"


def condition_sql(tree: Node, catalogue: Catalogue, params: Mapping[str, float] | None = None, *,
                  features: Sequence[str] | None = None, dialect: Dialect = DUCKDB) -> tuple[str, dict[str, Any]]:
    """The SQL of one expression over the features (for inspection and tests): its condition, preceded
    by the layers of bound subexpressions it reads, one `name := sql` line each."""
    schema = SourceSchema(features=frozenset(features if features is not None else catalogue.names()))
    binder = Binder(dialect)
    compiler = Compiler(dialect, catalogue, schema, binder)
    condition = compiler.condition(tree, params or {})
    bound = [f"{name} := {text}" for layer in compiler.layers for name, text in layer]
    return "\n".join([*bound, condition.text]), binder.values


__all__ = ["DUCKDB", "SPARK", "Binder", "Compiler", "CriterionSQL", "Dialect", "MatrixQuery", "SourceSchema", "SparkDialect",
           "condition_sql", "matrix_query", "truth_code"]
