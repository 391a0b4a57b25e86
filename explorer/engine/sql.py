"""Expression tree -> SQL, dialect-neutral, three-valued through SQL NULL.

SQL's AND / OR / NOT on NULL are Kleene's strong logic, the language's own semantics, so a criterion
compiles to a boolean SQL expression whose NULL is our UNKNOWN. The pieces where SQL engines differ
from each other, or from the in-memory engine, go through a small `Dialect`:

- every value from a definition (numbers, texts, parameter values, category lists) is a *bound
  parameter*; no definition text is ever pasted into SQL. Identifiers are checked against the catalogue
  and the grammar's name pattern, then quoted.
- x / 0 has no value (unknown), not infinity: division results that are not finite become NULL.
- min() / max() of an unknown is unknown, while SQL's LEAST / GREATEST skip NULLs.
- a number column's NaN is NULL (DuckDB orders NaN above every number; the in-memory engine treats
  NaN as missing), and a category value outside the catalogue's categories is NULL.

`matrix_query` builds one SELECT that evaluates many criteria at once over the tables of a Screening
(explorer.engine.layout): one truth code per criterion and subject (1 true, 0 false, 2 unknown) next
to the subject's row number, so the result can be put back in the source's row order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from explorer.catalogue import Catalogue
from explorer.errors import ExpressionError
from explorer.expr import Arith, Bool, BoolOp, Call, Compare, In, Name, Neg, Node, Not, Num, Str

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

    def finite_or_null(self, sql: str) -> str:
        return f"(CASE WHEN isfinite({sql}) THEN {sql} END)"

    def count_if(self, condition: str) -> str:
        return f"COUNT(*) FILTER (WHERE {condition})"

    def strict_extreme(self, function: str, args: Sequence[str]) -> str:
        """LEAST / GREATEST that return NULL when any argument is NULL."""
        any_null = " OR ".join(f"({a}) IS NULL" for a in args)
        return f"(CASE WHEN {any_null} THEN NULL ELSE {function}({', '.join(args)}) END)"


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


def days_label(days: float) -> str:
    """The event_counts column suffix for a window: 365 -> "365", 90.5 -> "90.5" (as the memory engine)."""
    return str(int(days)) if days == int(days) else str(days)


@dataclass(frozen=True)
class SourceSchema:
    """Which tables and columns the Screening's sources have (a missing column is unknown for everyone)."""

    features: frozenset[str]
    events: bool = False
    event_lookback: frozenset[str] = frozenset()
    event_counts: frozenset[str] = frozenset()
    row_column: str = "__row"
    aligned: frozenset[str] = frozenset()  # per-subject tables believed to be in features row order
    tables: Mapping[str, str] = field(default_factory=lambda: {
        "features": "features_src", "events": "events_src", "event_lookback": "event_lookback_src",
        "event_counts": "event_counts_src"})


class Compiler:
    """Compiles type-checked trees over the features CTE `f`; count() becomes a join it records."""

    def __init__(self, dialect: Dialect, catalogue: Catalogue, schema: SourceSchema, binder: Binder):
        self.dialect, self.catalogue, self.schema, self.binder = dialect, catalogue, schema, binder
        self.columns: set[str] = set()              # features columns used
        self.counts: dict[tuple[str, float], str] = {}  # (event, days) -> its count column in `ev`
        self.lookback: set[str] = set()              # event_lookback columns used
        self.given_counts: set[str] = set()          # event_counts columns used
        self.params: Mapping[str, float] = {}
        self.text = ""

    def condition(self, tree: Node, params: Mapping[str, float], *, text: str = "") -> str:
        self.params, self.text = params, text
        return self.sql(tree)

    def fail(self, node: Node, message: str):
        raise ExpressionError(message, expression=self.text, position=node.span[0] if self.text else None)

    def identifier(self, node: Node, name: str) -> str:
        if not IDENTIFIER.match(name) or name not in self.catalogue:
            self.fail(node, f"{name!r} is not a catalogue variable")
        return self.dialect.quote(name)

    def sql(self, node: Node) -> str:
        d = self.dialect
        match node:
            case Num(value=v):
                return self.binder.bind(float(v))
            case Str(value=v):
                return self.binder.bind(str(v))
            case Bool(value=v):
                return "TRUE" if v else "FALSE"
            case Name(name=n):
                if n in self.params:
                    return self.binder.bind(float(self.params[n]))
                var = self.catalogue.get(n)
                if var is None:
                    self.fail(node, f"unknown name {n!r}")
                if var.kind == "event":
                    self.fail(node, f"{n} is an event; use count({n}, within_days=N)")
                quoted = self.identifier(node, n)
                if n not in self.schema.features:
                    return d.null({"number": d.double, "boolean": d.boolean}.get(var.kind, d.text))
                self.columns.add(n)
                return f"f.{quoted}"
            case Neg(operand=o):
                return f"(-({self.sql(o)}))"
            case Arith(op=op, left=left, right=right):
                a, b = self.sql(left), self.sql(right)
                if op == "/":
                    return d.finite_or_null(f"({a} / {b})")
                return f"({a} {op} {b})"
            case Compare(ops=ops, operands=operands):
                values = [self.sql(o) for o in operands]
                steps = [f"({a} {_SQL_OPS[op]} {b})" for op, a, b in zip(ops, values, values[1:], strict=False)]
                return steps[0] if len(steps) == 1 else "(" + " AND ".join(steps) + ")"
            case In(operand=o, values=values, negated=negated):
                inside = f"({self.sql(o)} IN ({', '.join(self.sql(v) for v in values)}))"
                return f"(NOT {inside})" if negated else inside
            case Not(operand=o):
                return f"(NOT {self.sql(o)})"
            case BoolOp(op=op, operands=operands):
                joiner = " AND " if op == "and" else " OR "
                return "(" + joiner.join(self.sql(o) for o in operands) + ")"
            case Call():
                return self.call(node)
        self.fail(node, f"cannot compile {node!r} to SQL")

    def call(self, node: Call) -> str:
        d = self.dialect
        if node.func == "count":
            event = node.args[0]
            if not isinstance(event, Name):
                self.fail(node, "count() takes an event name")
            var = self.catalogue.get(event.name)
            if var is None or var.kind != "event":
                self.fail(event, f"{event.name!r} is not a catalogue event")
            self.identifier(event, event.name)
            window = node.kwarg("within_days")
            days = float(self.params[window.name] if isinstance(window, Name) else window.value)
            return self.count(event.name, days)
        if node.func == "known":
            return f"({self.sql(node.args[0])} IS NOT NULL)"
        args = [self.sql(a) for a in node.args]
        if node.func == "abs":
            return f"ABS({args[0]})"
        if node.func in ("min", "max"):
            return d.strict_extreme("LEAST" if node.func == "min" else "GREATEST", args)
        self.fail(node, f"unknown function {node.func!r}")

    def count(self, event: str, days: float) -> str:
        """The same rule as the memory engine: counted events where the history covers the window,
        else a count the source reports for exactly this window, else unknown."""
        d = self.dialect
        parts = []
        if self.schema.events and event in self.schema.event_lookback:
            key = (event, days)
            if key not in self.counts:
                self.counts[key] = f"n{len(self.counts)}"
            self.lookback.add(event)
            parts.append(f"CASE WHEN lb.{d.quote(event)} >= {self.binder.bind(days)} "
                         f"THEN CAST(COALESCE(ev.{self.counts[key]}, 0) AS {d.double}) END")
        elif event in self.schema.event_lookback:
            # a lookback without any events table: a full history with no events is a count of zero
            self.lookback.add(event)
            parts.append(f"CASE WHEN lb.{d.quote(event)} >= {self.binder.bind(days)} THEN CAST(0 AS {d.double}) END")
        column = f"{event}@{days_label(days)}"
        if column in self.schema.event_counts:
            self.given_counts.add(column)
            parts.append(f"ec.{d.quote(column)}")
        if not parts:
            return d.null(d.double)
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


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
    subject id of the cohort.
    """

    def __init__(self, criteria: Sequence[CriterionSQL], catalogue: Catalogue, schema: SourceSchema,
                 dialect: Dialect = DUCKDB):
        self.dialect, self.schema, self.catalogue = dialect, schema, catalogue
        self.binder = Binder(dialect)
        self.compiler = Compiler(dialect, catalogue, schema, self.binder)
        self.codes = []
        for i, c in enumerate(criteria):
            try:
                condition = self.compiler.condition(c.tree, c.params, text=c.text)
            except ExpressionError as err:
                raise err.located(criterion=c.id) from None
            self.codes.append(f"{truth_code(condition, dialect)} AS t{i}")
        self.features_cte = _features_cte(self.compiler, schema, catalogue, self.binder)

    @property
    def counts(self) -> dict[tuple[str, float], str]:
        """(event, window in days) -> the column of `ev` that counts it."""
        return dict(self.compiler.counts)

    def _events_cte(self, binder: Binder) -> str:
        d, q, t = self.dialect, self.dialect.quote, self.schema.tables
        event_sql, days_sql = f"CAST(event AS {d.text})", d.number_column(q("days_before_index"))
        counts = ", ".join(
            f"{d.count_if(f'{event_sql} = {binder.bind(event)} AND {days_sql} <= {binder.bind(days)}')} AS {col}"
            for (event, days), col in self.compiler.counts.items())
        wanted = ", ".join(binder.bind(event) for event in sorted({e for e, _ in self.compiler.counts}))
        longest = binder.bind(max(days for _, days in self.compiler.counts))
        # only the events some window can count: fewer rows to group by subject id
        return (f"ev AS (SELECT CAST(subject_id AS {d.text}) AS subject_id, {counts} FROM {q(t['events'])} "
                f"WHERE {event_sql} IN ({wanted}) AND {days_sql} <= {longest} GROUP BY 1)")

    def event_counts_sql(self) -> tuple[str, dict[str, Any]]:
        """The counts of the subjects who have events, with their feature row (`subject_row`, n0, n1, ...)."""
        d, q = self.dialect, self.dialect.quote
        binder = Binder(d, prefix="e")
        columns = ", ".join(f"ev.{col}" for col in self.compiler.counts.values())
        sql = (f"WITH {self._events_cte(binder)},\nr AS (SELECT {q(self.schema.row_column)} AS __row, "
               f"CAST(subject_id AS {d.text}) AS subject_id FROM {q(self.schema.tables['features'])})\n"
               f"SELECT r.__row AS subject_row, {columns} FROM ev JOIN r ON r.subject_id = ev.subject_id")
        return sql, binder.values

    def sql(self, dense_events: str | None = None) -> tuple[str, dict[str, Any]]:
        """The query; `dense_events` names a relation of the counts in features row order (see above).

        Each table joined by position (schema.aligned) adds a column `misaligned_<table>`, true where
        its subject id is not the features' one: any true (or a row without `subject_row`) means the
        table is not in features order after all, and the query must be run again with it joined by id.
        """
        d, q, t = self.dialect, self.dialect.quote, self.schema.tables
        binder = self.binder.copy()  # values bound below belong to this query text only
        ctes, joins, positional, checks = [self.features_cte], [], [], []
        if self.compiler.counts:
            if dense_events is not None and d.positional_join:
                positional.append(f"POSITIONAL JOIN {q(dense_events)} AS ev")
            else:
                ctes.append(self._events_cte(binder))
                joins.append("LEFT JOIN ev ON ev.subject_id = f.subject_id")
        for alias, table, used in (("lb", "event_lookback", self.compiler.lookback),
                                   ("ec", "event_counts", self.compiler.given_counts)):
            if not used:
                continue
            cols = ", ".join(f"{d.number_column(q(c))} AS {q(c)}" for c in sorted(used))
            ctes.append(f"{alias} AS (SELECT CAST(subject_id AS {d.text}) AS subject_id, {cols} FROM {q(t[table])})")
            if d.positional_join and table in self.schema.aligned:
                positional.append(f"POSITIONAL JOIN {alias}")
                # the pairing by position is checked in the same scan; the caller rejects a mismatch
                checks.append(f"(f.subject_id IS DISTINCT FROM {alias}.subject_id) AS misaligned_{table}")
            else:
                joins.append(f"LEFT JOIN {alias} ON {alias}.subject_id = f.subject_id")
        select = ", ".join(["f.__row AS subject_row", *self.codes, *checks])
        # positional joins first: a hash join may reorder the rows they pair by position
        sql = "WITH " + ",\n".join(ctes) + f"\nSELECT {select}\nFROM f\n" + "\n".join(positional + joins)
        return sql, binder.values


def matrix_query(criteria: Sequence[CriterionSQL], catalogue: Catalogue, schema: SourceSchema,
                 dialect: Dialect = DUCKDB) -> tuple[str, dict[str, Any]]:
    """One SELECT: the row number (`subject_row`) and one truth code per criterion (`t0`, `t1`, ...)."""
    return MatrixQuery(criteria, catalogue, schema, dialect).sql()


def _features_cte(compiler: Compiler, schema: SourceSchema, catalogue: Catalogue, binder: Binder) -> str:
    d, q = compiler.dialect, compiler.dialect.quote
    columns = [f"{q(schema.row_column)} AS __row", f"CAST(subject_id AS {d.text}) AS subject_id"]
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
    """The SQL condition of one expression over the features CTE `f` (for inspection and tests)."""
    schema = SourceSchema(features=frozenset(features if features is not None else catalogue.names()))
    binder = Binder(dialect)
    return Compiler(dialect, catalogue, schema, binder).condition(tree, params or {}), binder.values


__all__ = ["DUCKDB", "SPARK", "Binder", "Compiler", "CriterionSQL", "Dialect", "MatrixQuery", "SourceSchema", "SparkDialect",
           "condition_sql", "days_label", "matrix_query", "truth_code"]
