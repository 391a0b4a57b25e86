"""Screening features derived by SQL where the canonical tables lie (DuckDB or Spark), as explorer.cohort.features.

The pandas derivation (explorer.cohort.features, its docstring states every rule) is the reference; this
module compiles the same steps, in the same order, into one SELECT per cohort and runs it in DuckDB or in
Spark (the dialects of explorer.engine.sql). Each pandas step that replaces a feature replaces its SQL
expression here, and each `reasons.add` / `reasons.reset` has its SQL twin, so the values, the missing
reasons and the columns that exist are those of the pandas derivation:

- times travel as BIGINT nanoseconds since 1970, as the pandas code compares them (`_ns`); days are floor
  divisions, so times before 1970 land on the same day in both;
- the data-dependent choices of the pandas code ("is there any ULN among the latest labs", "does the
  derived BMI fill any gap") are one-row aggregates cross-joined onto every subject;
- floating point sums (means of same-time values, CGM mean and SD) may differ from NumPy's in the last
  bits, because SQL engines add in their own order; everything else is exact.

CGM: only the consensus metrics that are plain aggregates of the window's readings run in SQL (readings,
mean, SD, CV, GMI, TIR/TBR/TAR, and the active percent from the median step, which is what the pandas
derivation uses). Nothing else is derived from CGM at the index date, so nothing falls back to pandas.

Tables go in as a Cohort, whatever loader read it (`cohort_tables` hands them over as Arrow, times as
nanoseconds); the query reads only the prepared views named in `VIEWS`, so any source that fills those
views (a Parquet folder read in place, Spark tables) can be derived the same way.

Large cohorts are derived over ranges of subject ids (`derive_ranges`, RANGE_SUBJECTS a query), each range's
bounds filtering every table, so no query outgrows its memory; explorer.engine.folder_writer writes the ranges
to a screening folder without passing through Python.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.clinical.cgm import (
    HIGH,
    LOW,
    MIN_ACTIVE_PERCENT,
    VERY_HIGH,
    VERY_LOW,
    glucose_management_indicator,
)
from explorer.clinical.homa import HOMA_IR_NORMALISER, NOT_VALID_ON_INSULIN
from explorer.cohort.features import (
    CGM_METRICS,
    DAY_NS,
    DAYS_PER_YEAR,
    SUBJECT_FIELDS,
    UNUSABLE_REASON,
    Intervals,
    _ns,
    _typed,
    add_static_intervals,
    cell_intervals,
    derived_intervals,
    outside_reason,
)
from explorer.cohort.lookup import positions
from explorer.cohort.screening import Screening, empty_events
from explorer.cohort.tables import Cohort
from explorer.cohort.values import subject_censoring
from explorer.engine.sql import DUCKDB, SPARK, Binder, Dialect
from explorer.errors import DataError

# The prepared views the query reads (names the engine registers) and their columns.
VIEWS = {name: f"te_feat_{name}" for name in ("subjects", "measurements", "events", "cgm", "event_history",
                                               "event_counts", "unusable")}
ROW, INDEX, BIRTH, DIAGNOSIS, TIME = "__row", "__index", "__birth", "__diagnosis", "__time"
NS_PER_MINUTE = 60 * 10**9
MINUTES_PER_DAY = 24 * 60
# Subjects whose features one query derives (derive_ranges): the query's time grew linearly up to 3*10^5
# subjects and faster beyond, where DuckDB spilled (benchmarks/results/scale_big.md)
RANGE_SUBJECTS = 250_000
HOMA_INPUTS = ("fasting_glucose", "fasting_insulin")  # HOMA-IR needs both from the same sample: their times are read


# --- the tables, prepared ----------------------------------------------------------------------------

def _ns_array(values) -> pa.Array:
    """Datetimes as BIGINT nanoseconds (the pandas derivation's clock), NULL where unknown."""
    ns = _ns(values)
    return pa.array(ns, type=pa.int64(), mask=ns == np.iinfo(np.int64).min)


def _floats(values) -> pa.Array:
    return pa.array(pd.Series(values).to_numpy(dtype="float64", na_value=np.nan), type=pa.float64(), from_pandas=True)


def _strings(values) -> pa.Array:
    return pa.array(pd.Series(values).astype("string").array, type=pa.string())


def cohort_tables(cohort: Cohort, catalogue: Catalogue) -> dict[str, pa.Table]:
    """A Cohort's tables as the Arrow views the query reads (times as nanoseconds, a row number each)."""
    s = cohort.subjects
    if "index_date" not in s.columns or s["index_date"].isna().any():
        raise DataError("every subject needs an index_date to derive screening features", column="index_date")
    columns = {"subject_id": _strings(s["subject_id"]), ROW: pa.array(np.arange(len(s), dtype=np.int64)),
               INDEX: _ns_array(s["index_date"])}
    if "birth_date" in s.columns:
        columns[BIRTH] = _ns_array(s["birth_date"])
    if "diagnosis_date" in s.columns:
        columns[DIAGNOSIS] = _ns_array(s["diagnosis_date"])
    if "age" in s.columns:
        columns["age"] = _floats(s["age"])
    for column in s.columns:
        var = catalogue.get(column)
        if column in SUBJECT_FIELDS or var is None or var.kind == "event":
            continue
        if var.kind == "number":
            columns[column] = _floats(s[column])
            for companion in subject_censoring(column):  # a censored cell's code and limit ("<5")
                if companion in s.columns:
                    columns[companion] = _floats(s[companion])
        elif var.kind == "boolean":
            columns[column] = pa.array(pd.array(s[column].to_numpy(dtype=object), dtype="boolean"), type=pa.bool_())
        else:
            columns[column] = _strings(s[column])
    tables = {"subjects": pa.table(columns)}
    m = cohort.measurements
    if m is not None and len(m):
        tables["measurements"] = pa.table({
            "subject_id": _strings(m["subject_id"]), "variable": _strings(m["variable"]),
            "value": _floats(m["value"]),
            "ref_high": _floats(m["ref_high"] if "ref_high" in m.columns else np.full(len(m), np.nan)),
            TIME: _ns_array(m["time"]),
            # a censored value's code and limit, only when the source has any (values.CENSORING_COLUMNS)
            **({"censored": pa.array(m["censored"].to_numpy(dtype="int8"), pa.int8()), "limit": _floats(m["limit"])}
               if "censored" in m.columns else {})})
    c = cohort.cgm
    if c is not None and len(c):
        tables["cgm"] = pa.table({"subject_id": _strings(c["subject_id"]), "glucose": _floats(c["glucose"]),
                                  TIME: _ns_array(c["time"])})
    e = cohort.events
    if e is not None and len(e):
        severity = e["severity"] if "severity" in e.columns else pd.Series(pd.NA, index=e.index)
        tables["events"] = pa.table({
            ROW: pa.array(np.arange(len(e), dtype=np.int64)), "subject_id": _strings(e["subject_id"]),
            "event": _strings(e["event"]), "severity": pa.array(pd.array(severity, dtype="Int64"), type=pa.int64()),
            TIME: _ns_array(e["time"])})
    h = cohort.event_history
    if h is not None and len(h):
        tables["event_history"] = pa.table({
            ROW: pa.array(np.arange(len(h), dtype=np.int64)), "subject_id": _strings(h["subject_id"]),
            "event": _strings(h["event"]), TIME: _ns_array(h["recorded_from"])})
    v = cohort.unusable
    if v is not None and len(v):  # measured without a usable value: for the missing reasons only
        tables["unusable"] = pa.table({"subject_id": _strings(v["subject_id"]), "variable": _strings(v["variable"]),
                                       TIME: _ns_array(v["time"])})
    k = cohort.event_counts
    if k is not None and len(k):
        tables["event_counts"] = pa.table({
            ROW: pa.array(np.arange(len(k), dtype=np.int64)), "subject_id": _strings(k["subject_id"]),
            "event": _strings(k["event"]), "within_days": _floats(k["within_days"]), "count": _floats(k["count"])})
    return tables


# --- where the query runs ----------------------------------------------------------------------------

class DuckRunner:
    """Runs the feature SQL in DuckDB (a connection of its own unless one is given)."""

    dialect = DUCKDB

    def __init__(self, con: Any = None):
        import duckdb

        if con is None:
            con = duckdb.connect(":memory:")
            # no progress bar: DuckDB draws it on stdout (into the CLI's JSON) for a query over 2 s
            con.execute("SET enable_progress_bar = false")
        self.con = con
        self._error = duckdb.Error

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def arrow(self, sql: str, params: Mapping[str, Any]) -> pa.Table:
        try:
            relation = self.con.sql(sql, params=dict(params))
            # DuckDB 2.x names it to_arrow_table(), 1.x arrow()
            return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
        except self._error as err:
            raise self._failed(err) from None

    def features(self, query: FeatureQuery, sql: str, params: Mapping[str, Any]) -> pa.Table:
        """The feature query's rows (its SQL as is: DuckDB computes a MATERIALIZED CTE once)."""
        return self.arrow(sql, params)

    def write(self, sql: str, params: Mapping[str, Any], path: Path, query: FeatureQuery | None = None) -> None:
        """The statement's rows written to the Parquet file `path` (DuckDB's COPY: nothing passes through Python)."""
        self.execute(f"COPY ({sql}) TO {sql_path(path)} (FORMAT parquet)", params)

    def execute(self, sql: str, params: Mapping[str, Any]) -> None:
        """A statement without a result (a COPY to a file)."""
        try:
            self.con.execute(sql, dict(params))
        except self._error as err:
            raise self._failed(err) from None

    @staticmethod
    def _failed(err: Exception) -> DataError:
        from explorer.engine.duck import spill_error

        return DataError(spill_error(err) or
                         f"DuckDB could not derive the screening features: {' '.join(str(err).split())}")


class SparkRunner:
    """Runs the feature SQL in Spark (the given session, else explorer.engine.spark's)."""

    dialect = SPARK

    def __init__(self, spark: Any = None, master: str | None = None):
        from explorer.engine.spark import spark_session

        self.spark = spark if spark is not None else spark_session(master)
        self.spark.conf.set("spark.sql.ansi.enabled", "false")  # x / 0 is NULL, as in DuckDB
        self.views: list[str] = []

    def register(self, name: str, table: pa.Table) -> None:
        from explorer.engine.spark import arrow_frame  # Spark Connect needs the schema of an empty table

        arrow_frame(self.spark, table).createOrReplaceTempView(name)
        self.views.append(name)

    def arrow(self, sql: str, params: Mapping[str, Any]) -> pa.Table:
        return self._spark_call(lambda: self.spark.sql(sql, args=dict(params)).toArrow())

    def features(self, query: FeatureQuery, sql: str, params: Mapping[str, Any]) -> pa.Table:
        """The feature query's rows (see _checkpointed), brought to Python as Arrow."""
        with self._checkpointed(query, sql, params) as frame:
            return self._spark_call(frame.toArrow)

    def write(self, sql: str, params: Mapping[str, Any], path: Path, query: FeatureQuery | None = None) -> None:
        """The statement's rows (a feature query's when `query` is given) written to the Parquet file `path` on
        this machine without passing through Python: Spark writes its part files to a folder of its own, and
        DuckDB copies them into the one file the screening folder's layout names. For a local session only:
        a cluster's executors write where they run (explorer.engine.spark.is_local)."""
        parts = Path(tempfile.mkdtemp(prefix="trial-explorer-spark-rows-"))
        try:
            with self._checkpointed(query, sql, params) as frame:
                self._spark_call(lambda: frame.write.mode("overwrite").parquet(str(parts / "rows")))
                files = sorted((parts / "rows").glob("*.parquet"))
                if not files:  # no rows and no file: the schema alone, from Spark's empty result
                    import pyarrow.parquet as pq

                    pq.write_table(self._spark_call(frame.limit(0).toArrow), path)
                    return
            copy_parquet(files, path)
        finally:
            shutil.rmtree(parts, ignore_errors=True)

    @contextmanager
    def _checkpointed(self, query: FeatureQuery | None, sql: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """The statement as a DataFrame, each CTE of a feature query that later steps read more than once
        computed once (any other statement as it is).

        Spark inlines every deterministic CTE at each place it is read, and a flags layer reads the layer
        before it twice (its one-row aggregate, then the join): each flags layer doubled everything below it,
        the measurement and CGM steps included, and the plan Catalyst optimised with it
        (benchmarks/results/spark_canonical_profile.md). So such a CTE is computed on its own, checkpointed
        (kept in the JVM, its lineage cut) and read from there, as DuckDB's MATERIALIZED does; the rest of
        the statement is unchanged. The views are dropped when the block ends."""
        if query is None:
            yield self._spark_call(lambda: self._sql(sql, params))
            return
        readers = query.readers()  # as the query kept them while building its steps: no SQL is parsed
        token = uuid.uuid4().hex[:10]
        bodies: dict[str, str] = {}
        kept: list[tuple[str, Any]] = []
        try:
            for name, body, _, _ in query.steps():
                bodies[name] = body
                if readers[name] > 1:
                    view = f"te_feat_{token}_{name}"
                    statement = f"WITH {_with(bodies)} SELECT * FROM {name}"
                    frame = self._spark_call(lambda s=statement: self._sql(s, params).localCheckpoint())
                    frame.createOrReplaceTempView(view)
                    kept.append((view, frame))
                    bodies[name] = f"SELECT * FROM {view}"
            yield self._spark_call(lambda: self._sql(f"WITH {_with(bodies)} {query.select}" if bodies
                                                     else query.select, params))
        finally:
            for view, frame in kept:
                self.spark.catalog.dropTempView(view)
                frame.unpersist()

    @staticmethod
    def _spark_call(call):
        try:
            return call()
        except DataError:
            raise
        except Exception as err:  # PySpark raises its own analysis and runtime errors
            from explorer.engine.spark import spark_error  # without the JVM stack trace Spark Connect appends
            raise DataError(f"Spark could not derive the screening features: {spark_error(err)}") from None

    def _sql(self, sql: str, params: Mapping[str, Any]):
        return self.spark.sql(sql, args=_used(sql, params, self.dialect))

    def close(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)


def _with(bodies: Mapping[str, str]) -> str:
    return ", ".join(f"{name} AS ({body})" for name, body in bodies.items())


def sql_path(path: Path | str) -> str:
    """A file path as a DuckDB string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def copy_parquet(files: list[Path], path: Path) -> None:
    """Parquet files (one table's parts, same columns) copied into the one file `path` by DuckDB, which streams
    them within its memory limit."""
    import duckdb

    from explorer.engine.duck import MEMORY_LIMIT

    with duckdb.connect(":memory:", config={"memory_limit": MEMORY_LIMIT}) as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"COPY (SELECT * FROM read_parquet([{', '.join(sql_path(f) for f in files)}])) "
                    f"TO {sql_path(path)} (FORMAT parquet)")


def runner(engine: str, **options: Any) -> DuckRunner | SparkRunner:
    if engine == "duckdb":
        return DuckRunner(options.get("con"))
    if engine == "spark":
        return SparkRunner(options.get("spark"), options.get("master"))
    raise DataError(f"features in SQL run on duckdb or spark, not {engine!r}")


def floor_day(ns: str, dialect: Dialect) -> str:
    """Days since 1970 of BIGINT nanoseconds, floored as NumPy's `//` (SQL's division truncates toward 0)."""
    day = str(DAY_NS)
    return dialect.int_div(f"({ns} - ((({ns}) % {day}) + {day}) % {day})", day)


# --- the query ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What the source holds, read before the query is built (the pandas code branches on the same)."""

    subject_columns: tuple[str, ...]
    variables: tuple[str, ...]  # number variables with measurements, in catalogue order
    tables: frozenset[str]
    censored: bool = False      # the measurements view has censored values (its `censored` and `limit` columns)
    # number variables of subject columns with a censored cell ("<5"): their companion columns are subject columns
    static_censored: tuple[str, ...] = ()


class Step(NamedTuple):
    """One common table expression of the feature query, kept as it is built: its name, its SELECT, the earlier
    steps that SELECT reads (a step named once per FROM or JOIN of it: the flags layer reads the layer below
    twice), and whether DuckDB is asked to compute it once (MATERIALIZED, for a step read twice)."""

    name: str
    body: str
    reads: tuple[str, ...] = ()
    materialized: bool = False

    def sql(self, dialect: Dialect) -> str:
        return f"{self.name} AS {dialect.materialized if self.materialized else ''}({self.body})"


class _Sym:
    """A number in SQL that arithmetic written for NumPy can be applied to (one formula, two engines)."""

    def __init__(self, sql: str, binder: Binder):
        self.sql, self.binder = sql, binder

    def _other(self, other) -> str:
        return other.sql if isinstance(other, _Sym) else self.binder.bind(float(other))

    def __add__(self, other):
        return _Sym(f"({self.sql} + {self._other(other)})", self.binder)

    def __radd__(self, other):
        return _Sym(f"({self._other(other)} + {self.sql})", self.binder)

    def __mul__(self, other):
        return _Sym(f"({self.sql} * {self._other(other)})", self.binder)

    def __rmul__(self, other):
        return _Sym(f"({self._other(other)} * {self.sql})", self.binder)


class FeatureQuery:
    """The SELECT of the screening features, built by replaying explorer.cohort.features step by step.

    `features` maps a variable to its SQL expression now; `reasons` maps it to its reason expressions
    (text or NULL per subject); `exists` maps it to None (a column for everyone) or to a flag column (the
    column exists when the flag is 1). Every few steps the expressions become columns of a new layer
    (`_settle`), which keeps the SQL linear in the number of steps.
    """

    def __init__(self, plan: Plan, catalogue: Catalogue, dialect: Dialect, *,
                 lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                 subjects: tuple[str | None, str | None] = (None, None),
                 fixed_flags: Mapping[str, int] | None = None):
        self.plan, self.catalogue, self.d = plan, catalogue, dialect
        # a range [low, high) of subject ids read from every table (None: open on that side), and the
        # cohort-wide flags to use instead of this range's own (see derive_ranges)
        self.subjects, self.fixed_flags = subjects, fixed_flags
        self.flag_columns: list[str] = []
        self.lookback_days, self.cgm_days = lookback_days, float(cgm_days)
        self.b = Binder(dialect, "f")
        self.q = dialect.quote
        self._steps: list[Step] = []
        self.last = "s_base"
        self.select_reads: tuple[str, ...] = ()  # the steps the final SELECT reads (after sql())
        self.features: dict[str, str] = {}
        self.exists: dict[str, str | None] = {}
        self.reasons: dict[str, list[tuple[str, str]]] = {}  # variable -> (condition, reason text)
        self.reason_columns: dict[str, tuple[str, str]] = {}  # output column -> (variable, reason text)
        self.n_columns = 0
        self.settled: set[str] = set()  # feature expressions that are columns already

    # --- helpers --------------------------------------------------------------------------------
    def view(self, name: str) -> str:
        """A prepared view, only the rows of this query's subject range (a filter the engine pushes down to the
        scan of each table, so a range reads only its own rows)."""
        return _in_range(name, self.subjects, self.b)

    def num(self, value: float) -> str:
        return self.b.bind(float(value))

    def text(self, value: str) -> str:
        return self.b.bind(str(value))

    def floor_day(self, ns: str) -> str:
        return floor_day(ns, self.d)

    def add_reason(self, variable: str, condition: str, reason: str) -> None:
        # a condition per reason, the text stays in Python: booleans cost far less than strings per subject
        self.reasons.setdefault(variable, []).append((f"COALESCE({condition}, FALSE)", reason))

    def reset(self, variable: str, unless_flag: str | None = None) -> None:
        """Forget a variable's reasons (only where `unless_flag` is 1, when given)."""
        if unless_flag is None:
            self.reasons.pop(variable, None)
        elif variable in self.reasons:
            self.reasons[variable] = [(f"({unless_flag} = 0 AND {c})", r) for c, r in self.reasons[variable]]

    def null(self) -> str:
        return self.d.null(self.d.double)

    def missing(self, sql: str) -> str:
        return f"({sql} IS NULL)"

    def _column(self) -> str:
        self.n_columns += 1
        return f"c{self.n_columns}"

    def step(self, name: str, body: str, reads: tuple[str, ...] = ()) -> None:
        """Add a common table expression; `reads`: the earlier steps its body reads, once per FROM or JOIN."""
        self._steps.append(Step(name, body, reads))

    @property
    def ctes(self) -> list[str]:
        """The steps as the WITH clause lists them (`name AS (SELECT ...)`)."""
        return [step.sql(self.d) for step in self._steps]

    def layer(self, columns: Mapping[str, str], join: str = "", join_reads: tuple[str, ...] = ()) -> None:
        """A new step: the last one's columns and `columns`; `join_reads`: the steps `join` reads."""
        name = f"s{len(self._steps)}"
        selected = ", ".join([f"{self.last}.*"] + [f"{sql} AS {self.q(col)}" for col, sql in columns.items()])
        self.step(name, f"SELECT {selected} FROM {self.last} {join}", (self.last, *join_reads))
        self.last = name

    def _settle(self) -> None:
        """Every feature and reason expression becomes a column of a new layer."""
        columns = {}
        for var, sql in self.features.items():
            if sql not in self.settled:
                col = self._column()
                columns[col] = sql
                self.features[var] = self.q(col)
                self.settled.add(self.q(col))
        for items in self.reasons.values():
            for i, (sql, reason) in enumerate(items):
                if sql not in self.settled:
                    col = self._column()
                    columns[col] = sql
                    items[i] = (self.q(col), reason)
                    self.settled.add(self.q(col))
        if columns:
            self.layer(columns)

    def flags(self, conditions: Mapping[str, str]) -> dict[str, str]:
        """One-row aggregates (1 when the condition holds for any subject) joined onto every subject."""
        if not conditions:
            return {}
        # a range is derived with the cohort's flags only if no flag reads another (derive_ranges)
        assert not any(self.q(c) in cond for c in self.flag_columns for cond in conditions.values()), \
            "a flag condition reads an earlier flag"
        names = {key: self._column() for key in conditions}
        self.flag_columns += names.values()
        if self.fixed_flags is not None:
            self.layer({names[k]: str(int(self.fixed_flags[names[k]])) for k in conditions})
            return {key: self.q(name) for key, name in names.items()}
        # the layer is read twice (the aggregate and the join): computed once, not twice
        if self._steps and self._steps[-1].name == self.last:
            self._steps[-1] = self._steps[-1]._replace(materialized=True)
        aggregates = ", ".join(f"MAX(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {self.q(names[key])}"
                               for key, cond in conditions.items())
        self.layer({names[k]: f"g.{self.q(names[k])}" for k in conditions},
                   join=f"CROSS JOIN (SELECT {aggregates} FROM {self.last}) g", join_reads=(self.last,))
        return {key: self.q(name) for key, name in names.items()}

    # --- the steps of explorer.cohort.features -----------------------------------------------------
    def sql(self) -> tuple[str, dict[str, Any]]:
        q = self.q
        self.step("s_base", f"SELECT * FROM {self.view('subjects')}")
        self._static()
        self._age()
        self._duration()
        self._settle()
        if self.plan.variables:
            self._measurements()
            self._settle()
            self._derived()
            self._settle()
        if "cgm" in self.plan.tables:
            self._cgm()
            self._settle()
        outputs = [q(ROW), q("subject_id")]
        for var, sql in self.features.items():
            outputs.append(f"{sql} AS {q('v_' + var)}")
            if self.exists.get(var):
                outputs.append(f"{self.exists[var]} AS {q('x_' + var)}")
        for var, items in self.reasons.items():
            for sql, reason in items:
                name = f"r{len(self.reason_columns)}"
                self.reason_columns[name] = (var, reason)
                outputs.append(f"{sql} AS {q(name)}")
        for name in self.flag_columns:  # the same on every row: read from the first (derive_ranges)
            outputs.append(f"{q(name)} AS {q('g_' + name)}")
        with_ = f"WITH {', '.join(self.ctes)} " if self.ctes else ""
        # no ORDER BY: sorting hundreds of columns costs more than placing the rows by __row afterwards
        self.select = f"SELECT {', '.join(outputs)} FROM {self.last}"
        self.select_reads = (self.last,)
        return f"{with_}{self.select}", dict(self.b.values)

    def steps(self) -> list[Step]:
        """The query's common table expressions in order, as built (after `sql()`); `select` reads them."""
        return list(self._steps)

    def readers(self) -> dict[str, int]:
        """How many times the later steps and the final SELECT read each step (a step reads only earlier ones)."""
        counts = {step.name: 0 for step in self._steps}
        for name in [n for step in self._steps for n in step.reads] + list(self.select_reads):
            counts[name] += 1
        return counts

    def _static(self) -> None:
        for column in self.plan.subject_columns:
            var = self.catalogue.get(column)
            if column in SUBJECT_FIELDS or column.startswith("__") or var is None or var.kind == "event":
                continue
            self.features[column] = f"s_base.{self.q(column)}"
            self.exists[column] = None
            self.add_reason(column, self.missing(self.features[column]), "not recorded in the source")

    def _age(self) -> None:
        cols = self.plan.subject_columns
        if BIRTH not in cols and "age" not in cols:
            return
        parts, outside = [], "FALSE"
        if BIRTH in cols:
            birth = self.d.date_of_day(self.floor_day(f"s_base.{self.q(BIRTH)}"))
            at = self.d.date_of_day(self.floor_day(f"s_base.{self.q(INDEX)}"))
            before = (f"(month({at}) < month({birth}) OR (month({at}) = month({birth}) AND "
                      f"dayofmonth({at}) < dayofmonth({birth})))")
            derived = f"CAST(year({at}) - year({birth}) - CASE WHEN {before} THEN 1 ELSE 0 END AS {self.d.double})"
            outside = self.outside(derived, "age")
            parts.append(f"(CASE WHEN {outside} THEN NULL ELSE {derived} END)")
        if "age" in cols:
            parts.append(f"floor(CAST(s_base.{self.q('age')} AS {self.d.double}))")
        age = parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
        self.features["age"] = age
        self.exists["age"] = None
        if outside != "FALSE":
            self.add_reason("age", f"{self.missing(age)} AND {outside}", outside_reason("age", self.catalogue))
        self.add_reason("age", f"{self.missing(age)} AND NOT {outside}", "no birth date or age in the source")

    def outside(self, derived: str, feature: str) -> str:
        """features._outside in SQL: where a value derived from a date lies outside the plausible range."""
        var = self.catalogue.get(feature)
        if var is None or not var.range:
            return "FALSE"
        return f"COALESCE({derived} < {self.num(var.range[0])} OR {derived} > {self.num(var.range[1])}, FALSE)"

    def _duration(self) -> None:
        cols = self.plan.subject_columns
        given = self.features.get("diabetes_duration")
        if DIAGNOSIS not in cols and given is None:
            return
        after = outside = "FALSE"
        duration = self.null()
        if DIAGNOSIS in cols:
            ix, dg = f"s_base.{self.q(INDEX)}", f"s_base.{self.q(DIAGNOSIS)}"
            raw = f"(CAST({ix} - {dg} AS {self.d.double}) / {self.num(DAY_NS)} / {self.num(DAYS_PER_YEAR)})"
            after = f"COALESCE({raw} < 0, FALSE)"
            outside = f"(NOT {after} AND {self.outside(raw, 'diabetes_duration')})"
            duration = f"(CASE WHEN {raw} < 0 OR {outside} THEN NULL ELSE {raw} END)"
        if given is not None:
            duration = f"COALESCE({duration}, {given})"
        self.features["diabetes_duration"] = duration
        self.exists["diabetes_duration"] = None
        self.reset("diabetes_duration")
        self.add_reason("diabetes_duration", after, "diagnosis date after the index date")
        if outside != "FALSE":
            self.add_reason("diabetes_duration", f"{self.missing(duration)} AND {outside}",
                            outside_reason("diabetes_duration", self.catalogue))
        self.add_reason("diabetes_duration", f"{self.missing(duration)} AND NOT {after} AND NOT {outside}",
                        "no diagnosis date or diabetes duration in the source")

    def _windows(self) -> list[float]:
        days = self.lookback_days
        if isinstance(days, Mapping):
            default = float(days.get("default", 365))
            return [float(days.get(var, default)) for var in self.plan.variables]
        return [float(days)] * len(self.plan.variables)

    def _measurements(self) -> None:
        q, d = self.q, self.d
        variables, windows = self.plan.variables, self._windows()
        names = [self.text(var) for var in variables]
        window_ns = " ".join(f"WHEN {n} THEN {self.b.bind(int(np.int64(w * DAY_NS)))}"
                             for n, w in zip(names, windows, strict=True))
        value = f"CAST(m.{q('value')} AS {d.double})"
        # the variable as its position (an integer key hashes and compares faster than its name)
        position = " ".join(f"WHEN {n} THEN {j}" for j, n in enumerate(names))
        rows = (f"SELECT s.{q(ROW)} AS r, CASE m.{q('variable')} {position} END AS v, {value} AS x, "
                f"CAST(m.{q('ref_high')} AS {d.double}) AS u, m.{q(TIME)} AS t, s.{q(INDEX)} AS ix, "
                f"CASE m.{q('variable')} {window_ns} END AS w "
                f"FROM {self.view('measurements')} m JOIN {self.view('subjects')} s ON m.{q('subject_id')} = s.{q('subject_id')} "
                f"WHERE m.{q('variable')} IN ({', '.join(names)}) AND {value} IS NOT NULL AND NOT {d.isnan(value)} "
                f"AND m.{q(TIME)} IS NOT NULL")
        day = str(DAY_NS)

        def same_time_mean(x: str) -> str:
            # several values at the latest time: their mean; all equal: that value exactly (as _mean_per_cell)
            return f"CASE WHEN MIN({x}) = MAX({x}) THEN MIN({x}) ELSE SUM({x}) / COUNT({x}) END"

        # One GROUP BY of (subject, variable) finds the latest time in the window, whether any value lies
        # before or after it, and how many lie in it; only where several do are the values at the latest
        # time averaged in a second pass (a window over every row cost more than the rest of the step).
        inside = "NOT after AND NOT before"
        self.step("m_rows", rows)
        self.step("m_flag", f"SELECT r, v, x, u, t, t >= ix + {day} AS after, t < ix - w AS before FROM m_rows",
                  ("m_rows",))
        self.step("m_seen", "SELECT r, v, MAX(CASE WHEN before THEN 1 ELSE 0 END) AS b, "
                  f"MAX(CASE WHEN after THEN 1 ELSE 0 END) AS a, MAX(CASE WHEN {inside} THEN t END) AS lt, "
                  f"SUM(CASE WHEN {inside} THEN 1 ELSE 0 END) AS n, MAX(CASE WHEN {inside} THEN x END) AS x1, "
                  f"MAX(CASE WHEN {inside} THEN u END) AS u1 FROM m_flag GROUP BY r, v", ("m_flag",))
        self.step("m_many", f"SELECT f.r, f.v, {same_time_mean('f.x')} AS x, {same_time_mean('f.u')} AS u "
                  "FROM m_flag f JOIN m_seen sn ON f.r = sn.r AND f.v = sn.v AND f.t = sn.lt WHERE sn.n > 1 "
                  "GROUP BY f.r, f.v", ("m_flag", "m_seen"))
        # the time is read only for HOMA-IR's same-sample rule, the reference limit only for an _uln variable
        parts = {j: "xba" + ("t" if var in HOMA_INPUTS else "") + ("u" if f"{var}_uln" in self.catalogue else "")
                 for j, var in enumerate(variables)}
        sources = {"x": "(CASE WHEN sn.n > 1 THEN l.x ELSE sn.x1 END)", "t": "sn.lt",
                   "u": "(CASE WHEN sn.n > 1 THEN l.u ELSE sn.u1 END)", "b": "sn.b", "a": "sn.a"}
        pivot = [f"MAX(CASE WHEN sn.v = {j} THEN {sources[part]} END) AS {part}{j}"
                 for j in range(len(variables)) for part in parts[j]]
        self.step("m_wide", f"SELECT sn.r, {', '.join(pivot)} FROM m_seen sn LEFT JOIN m_many l "
                  "ON sn.r = l.r AND sn.v = l.v GROUP BY sn.r", ("m_seen", "m_many"))
        cols = {f"m{part}{j}": f"mw.{part}{j}" for j in range(len(variables)) for part in parts[j]}
        self.layer(cols, join=f"LEFT JOIN m_wide mw ON mw.r = {self.last}.{q(ROW)}", join_reads=("m_wide",))
        void = "unusable" in self.plan.tables
        if void:
            self._unusable(names, window_ns, position)
        uln_flags = self.flags({var: f"{q(f'mu{j}')} IS NOT NULL" for j, var in enumerate(variables)
                                if f"{var}_uln" in self.catalogue})
        self.times = {}
        for j, var in enumerate(variables):
            x, t, u = q(f"mx{j}"), q(f"mt{j}"), q(f"mu{j}")
            before, after = f"COALESCE({q(f'mb{j}')}, 0) = 1", f"COALESCE({q(f'ma{j}')}, 0) = 1"
            column = x
            if var in self.features:  # a static column of the same variable fills the gaps
                column = f"COALESCE({x}, {self.features[var]})"
                self.reset(var)
            self.features[var] = column
            self.exists.setdefault(var, None)
            if var in HOMA_INPUTS:
                self.times[var] = t
            missing = self.missing(column)
            seen = f"({x} IS NOT NULL OR {before} OR {after})"
            unmeasured = missing
            if void:  # rows without a usable value count as measured (cohort.features._latest_measurements)
                before = f"({before} OR COALESCE({q(f'vb{j}')}, 0) = 1)"
                after = f"({after} OR COALESCE({q(f'va{j}')}, 0) = 1)"
                no_value = f"COALESCE({q(f'vz{j}')}, 0) = 1"
                seen = f"({x} IS NOT NULL OR {before} OR {after} OR {no_value})"
                self.add_reason(var, f"{missing} AND {no_value}", UNUSABLE_REASON)
                unmeasured = f"{missing} AND NOT {no_value}"
            self.add_reason(var, f"{unmeasured} AND {before}",
                            f"last measured more than {windows[j]:g} days before the index date")
            self.add_reason(var, f"{unmeasured} AND {seen} AND NOT {before}", "measured only after the index date")
            self.add_reason(var, f"{unmeasured} AND NOT {seen}", "never measured")
            uln_name = f"{var}_uln"
            if var not in uln_flags:
                continue
            flag = uln_flags[var]
            prior = self.features.get(uln_name)
            uln = u if prior is None else f"COALESCE({u}, {prior})"
            if prior is not None:
                self.reset(uln_name, unless_flag=flag)
                self.features[uln_name] = f"(CASE WHEN {flag} = 1 THEN {uln} ELSE {prior} END)"
            else:
                self.features[uln_name] = f"(CASE WHEN {flag} = 1 THEN {uln} END)"
                self.exists[uln_name] = flag
            self.add_reason(uln_name, f"{flag} = 1 AND {uln} IS NULL AND NOT {missing}",
                            f"the latest {var} has no reference range")
            self.add_reason(uln_name, f"{flag} = 1 AND {uln} IS NULL AND {missing}",
                            f"no {var} in the look-back window")

    def _unusable(self, names: list[str], window_ns: str, position: str) -> None:
        """Per (subject, variable): rows measured without a usable value before the window (vb), after the index
        day (va) and inside it (vz), as columns of a new layer (cohort.features._unusable_cells)."""
        q, day = self.q, str(DAY_NS)
        self.step("v_rows", f"SELECT s.{q(ROW)} AS r, CASE u.{q('variable')} {position} END AS v, u.{q(TIME)} AS t, "
                  f"s.{q(INDEX)} AS ix, CASE u.{q('variable')} {window_ns} END AS w "
                  f"FROM {self.view('unusable')} u JOIN {self.view('subjects')} s ON u.{q('subject_id')} = "
                  f"s.{q('subject_id')} WHERE u.{q('variable')} IN ({', '.join(names)}) AND u.{q(TIME)} IS NOT NULL")
        flags = {"b": "t < ix - w", "a": f"t >= ix + {day}", "z": f"t >= ix - w AND t < ix + {day}"}
        pivot = [f"MAX(CASE WHEN v = {j} AND {condition} THEN 1 ELSE 0 END) AS {flag}{j}"
                 for j in range(len(names)) for flag, condition in flags.items()]
        self.step("v_wide", f"SELECT r, {', '.join(pivot)} FROM v_rows GROUP BY r", ("v_rows",))
        cols = {f"v{flag}{j}": f"vw.{flag}{j}" for j in range(len(names)) for flag in flags}
        self.layer(cols, join=f"LEFT JOIN v_wide vw ON vw.r = {self.last}.{q(ROW)}", join_reads=("v_wide",))

    def _range(self, var: str, sql: str) -> tuple[str, str]:
        """(the value made NULL outside the variable's plausible range, the implausible condition)."""
        low, high = self.catalogue[var].range
        implausible = f"COALESCE({sql} < {self.num(low)} OR {sql} > {self.num(high)}, FALSE)"
        return f"(CASE WHEN {implausible} THEN NULL ELSE {sql} END)", implausible

    def _derived(self) -> None:
        f = self.features
        conditions, steps = {}, []
        if "weight" in f and "height" in f:
            metres = f"({f['height']} / {self.num(100.0)})"
            bmi, implausible = self._range("bmi", f"({f['weight']} / ({metres} * {metres}))")
            given = f.get("bmi", self.null())
            conditions["bmi"] = f"{given} IS NULL AND {bmi} IS NOT NULL"
            steps.append(("bmi", bmi, given, [(implausible, "weight and height give an implausible BMI"),
                                              (f"NOT {implausible}",
                                               "no BMI, or weight and height, in the look-back window")]))
        if all(var in f for var in HOMA_INPUTS):
            tg, ti = (self.times.get(var) for var in HOMA_INPUTS)
            same = f"({tg} = {ti} OR ({tg} IS NULL AND {ti} IS NULL))" if tg and ti else "TRUE"
            on_insulin = f"COALESCE({f['on_insulin']}, FALSE)" if "on_insulin" in f else "FALSE"
            raw = f"({f['fasting_glucose']} * {f['fasting_insulin']} / {self.num(HOMA_IR_NORMALISER)})"
            homa, implausible = self._range("homa_ir", f"(CASE WHEN {same} AND NOT {on_insulin} THEN {raw} END)")
            given = f.get("homa_ir", self.null())
            conditions["homa_ir"] = f"{given} IS NULL AND {homa} IS NOT NULL"
            steps.append(("homa_ir", homa, given, [
                (on_insulin, NOT_VALID_ON_INSULIN), (implausible, "glucose and insulin give an implausible HOMA-IR"),
                (f"NOT {on_insulin} AND NOT {implausible}",
                 "no fasting glucose and insulin from the same sample in the look-back window")]))
        if "insulin_dose" in f and "weight" in f:
            per_kg, _ = self._range("insulin_dose_per_kg", f"({f['insulin_dose']} / {f['weight']})")
            given = f.get("insulin_dose_per_kg", self.null())
            conditions["insulin_dose_per_kg"] = f"{given} IS NULL AND {per_kg} IS NOT NULL"
            steps.append(("insulin_dose_per_kg", per_kg, given,
                          [("TRUE", "no insulin dose and weight in the look-back window")]))
        # a given value is replaced (and its reasons recomputed) only where the derived one fills a gap
        # somewhere, as the pandas code decides on the whole cohort
        flags = self.flags({var: cond for var, cond in conditions.items() if var in f})
        for var, derived, given, reasons in steps:
            flag = flags.get(var)
            value = f"COALESCE({given}, {derived})"
            if flag is None:
                self.reset(var)
            else:
                self.reset(var, unless_flag=flag)
            self.features[var] = value
            self.exists.setdefault(var, None)
            guard = "" if flag is None else f"{flag} = 1 AND "
            for condition, reason in reasons:
                self.add_reason(var, f"{guard}{self.missing(value)} AND {condition}", reason)

    def _cgm(self) -> None:
        q, d = self.q, self.d
        glucose = f"CAST(c.{q('glucose')} AS {d.double})"
        window_ns = self.b.bind(int(self.cgm_days * DAY_NS))
        minute = self.num(NS_PER_MINUTE)
        hundred = self.num(100.0)
        self.step("c_rows", f"SELECT s.{q(ROW)} AS r, c.{q(TIME)} AS t, {glucose} AS g, s.{q(INDEX)} AS ix "
                  f"FROM {self.view('cgm')} c JOIN {self.view('subjects')} s ON c.{q('subject_id')} = s.{q('subject_id')} "
                  f"WHERE c.{q(TIME)} IS NOT NULL AND {glucose} IS NOT NULL AND NOT {d.isnan(glucose)}")
        self.step("c_has", "SELECT r, COUNT(*) AS readings FROM c_rows GROUP BY r", ("c_rows",))
        self.step("c_win", f"SELECT r, t, g, CAST(t - LAG(t) OVER (PARTITION BY r ORDER BY t) AS {d.double}) / {minute} "
                  f"AS step, SUM(g) OVER (PARTITION BY r) / COUNT(*) OVER (PARTITION BY r) AS mean "
                  f"FROM c_rows WHERE t < ix AND t >= ix - {window_ns}", ("c_rows",))
        self.step("c_agg", "SELECT r, COUNT(*) AS n, SUM(g) / COUNT(*) AS mean, "
                  f"sqrt(SUM((g - mean) * (g - mean)) / (COUNT(*) - 1)) AS sd, {d.median('step')} AS median_step, "
                  f"SUM(CASE WHEN g < {VERY_LOW} THEN 1 ELSE 0 END) AS n54, SUM(CASE WHEN g < {LOW} THEN 1 ELSE 0 END) AS n70, "
                  f"SUM(CASE WHEN g >= {LOW} AND g <= {HIGH} THEN 1 ELSE 0 END) AS nin, "
                  f"SUM(CASE WHEN g > {HIGH} THEN 1 ELSE 0 END) AS n180, SUM(CASE WHEN g > {VERY_HIGH} THEN 1 ELSE 0 END) "
                  "AS n250 FROM c_win GROUP BY r", ("c_win",))
        interval = f"(CASE WHEN {d.round_even('ca.median_step')} > 0 THEN {d.round_even('ca.median_step')} END)"
        active = (f"({hundred} * ca.n / ({self.num(self.cgm_days)} * {MINUTES_PER_DAY} / {interval}))")
        self.layer({"cg_has": "(ch.r IS NOT NULL)",
                    "cg_active": f"(CASE WHEN ch.r IS NULL THEN NULL WHEN ca.r IS NULL THEN {self.num(0.0)} "
                                 f"WHEN {active} > {hundred} THEN {hundred} ELSE {active} END)",
                    "cg_n": "ca.n", "cg_mean": "ca.mean", "cg_sd": "(CASE WHEN ca.n > 1 THEN ca.sd END)",
                    "cg_n54": "ca.n54", "cg_n70": "ca.n70", "cg_nin": "ca.nin", "cg_n180": "ca.n180",
                    "cg_n250": "ca.n250"},
                   join=f"LEFT JOIN c_has ch ON ch.r = {self.last}.{q(ROW)} "
                        f"LEFT JOIN c_agg ca ON ca.r = {self.last}.{q(ROW)}", join_reads=("c_has", "c_agg"))
        has, active_now = q("cg_has"), q("cg_active")
        sufficient = f"COALESCE({active_now} >= {self.num(MIN_ACTIVE_PERCENT)}, FALSE)"

        def percent(count: str) -> str:
            return f"({hundred} * {q(count)} / {q('cg_n')})"

        mean, sd = q("cg_mean"), q("cg_sd")
        metrics = {"tir": percent("cg_nin"), "tbr_70": percent("cg_n70"), "tbr_54": percent("cg_n54"),
                   "tar_180": percent("cg_n180"), "tar_250": percent("cg_n250"), "cgm_mean": mean,
                   "cgm_cv": f"({hundred} * {sd} / {mean})",
                   "gmi": glucose_management_indicator(_Sym(mean, self.b)).sql}
        assert set(metrics) == set(CGM_METRICS), "the CGM metrics of explorer.cohort.features changed"
        previous = self.features.get("cgm_active")
        value = active_now if previous is None else f"(CASE WHEN {has} THEN {active_now} ELSE {previous} END)"
        self.features["cgm_active"] = value
        self.exists.setdefault("cgm_active", None)
        self.add_reason("cgm_active", f"NOT {has} AND {value} IS NULL", "no CGM data")
        self.add_reason("cgm_active", f"{has} AND {value} IS NULL", "too few readings to infer the sensor interval")
        for name in CGM_METRICS:
            values = f"(CASE WHEN {sufficient} THEN {metrics[name]} END)"
            previous = self.features.get(name)
            if previous is not None:
                values = f"(CASE WHEN {has} THEN {values} ELSE {previous} END)"
            self.features[name] = values
            self.exists.setdefault(name, None)
            self.add_reason(name, f"NOT {has} AND {values} IS NULL", "no CGM data")
            self.add_reason(name, f"{has} AND NOT {sufficient}",
                            f"CGM insufficient: fewer than {MIN_ACTIVE_PERCENT:g}% of possible readings in the "
                            f"{self.cgm_days:g} days before the index date")


# --- events, event history, reported counts ----------------------------------------------------------

def events_sql(dialect: Dialect, *, ordered: bool = True) -> str:
    """The SELECT of the screening events (subject_id, event, days_before_index, severity) from the prepared
    views: events with a time on or before the index date's day (`ordered`: in the source's row order)."""
    q, d = dialect.quote, dialect
    days = f"({floor_day('s.' + q(INDEX), d)} - {floor_day('e.' + q(TIME), d)})"
    return (f"SELECT s.{q('subject_id')} AS subject_id, e.{q('event')} AS event, CAST({days} AS {d.double}) AS "
            f"days_before_index, e.{q('severity')} AS severity FROM {q(VIEWS['events'])} e JOIN "
            f"{q(VIEWS['subjects'])} s ON e.{q('subject_id')} = s.{q('subject_id')} WHERE e.{q(TIME)} IS NOT NULL "
            f"AND {days} >= 0" + (f" ORDER BY e.{q(ROW)}" if ordered else ""))


def lookback_days_sql(dialect: Dialect, history: str = "t", subject: str = "s") -> str:
    """Days from an event_history row's recorded_from to its subject's index date; NULL when it starts after."""
    q = dialect.quote
    days = f"({floor_day(f'{subject}.' + q(INDEX), dialect)} - {floor_day(f'{history}.' + q(TIME), dialect)})"
    return f"(CASE WHEN {days} >= 0 THEN CAST({days} AS {dialect.double}) END)"


def _events(run, plan: Plan) -> pd.DataFrame:
    if "events" not in plan.tables:
        return empty_events()
    table = run.arrow(events_sql(run.dialect), {})
    return pd.DataFrame({
        "subject_id": pd.array(table.column("subject_id").to_pylist(), dtype="string"),
        "event": pd.array(table.column("event").to_pylist(), dtype="string"),
        "days_before_index": table.column("days_before_index").to_numpy(zero_copy_only=False).astype("float64"),
        "severity": pd.array(table.column("severity").to_pylist(), dtype="Int64"),
    })


def _wide(run, plan: Plan, view: str, key_sql: list[str], value: str, ids: pd.Index, label) -> pd.DataFrame | None:
    """One float column per key (named by `label(key)`, in order of first appearance), max per subject.

    `value` is the SQL of a row's value over the table `t` and the subject `s` (NULL: unknown)."""
    if view not in plan.tables:
        return None
    q = run.dialect.quote
    keys = ", ".join(f"t.{k}" for k in key_sql)
    order = run.arrow(f"SELECT {keys}, MIN(t.{q(ROW)}) AS first FROM {q(VIEWS[view])} t GROUP BY {keys} "
                      "ORDER BY first", {})
    found = run.arrow(
        f"SELECT s.{q(ROW)} AS r, {keys}, MAX({value}) AS value FROM {q(VIEWS[view])} t "
        f"JOIN {q(VIEWS['subjects'])} s ON t.{q('subject_id')} = s.{q('subject_id')} "
        f"WHERE {value} IS NOT NULL GROUP BY s.{q(ROW)}, {keys}", {}).to_pandas()
    out = {}
    key_names = [k.strip('`"') for k in key_sql]
    for row in order.to_pylist():
        key = tuple(row[k] for k in key_names)
        name = label(*key)
        rows = found
        for k, v in zip(key_names, key, strict=True):
            rows = rows[rows[k].isna()] if v is None else rows[rows[k] == v]
        full = np.full(len(ids), np.nan)
        full[rows["r"].to_numpy(dtype=np.int64)] = rows["value"].to_numpy(dtype="float64")
        if name in out:  # two keys with one label (365 and 365.0 days): the max, as one column
            full = np.fmax(out[name], full)
        out[name] = full
    return pd.DataFrame(out, index=ids)


# --- the whole derivation ----------------------------------------------------------------------------

def plan_of(run, catalogue: Catalogue, tables: set[str], subject_columns: list[str]) -> Plan:
    variables: tuple[str, ...] = ()
    static = tuple(c for c in subject_columns if catalogue.get(c) is not None and catalogue[c].kind == "number"
                   and all(companion in subject_columns for companion in subject_censoring(c)))
    if "measurements" in tables:
        q = run.dialect.quote
        in_source = set()
        # a variable measured only without a usable value is in the source too (cohort.features)
        for view in ("measurements", "unusable") if "unusable" in tables else ("measurements",):
            found = run.arrow(f"SELECT DISTINCT {q('variable')} AS v FROM {q(VIEWS[view])}", {})
            in_source |= {v for v in found.column("v").to_pylist() if v is not None}
        variables = tuple(v for v in catalogue.names("number") if v in in_source)
        columns = run.arrow(f"SELECT * FROM {q(VIEWS['measurements'])} LIMIT 0", {}).column_names
        censored = "censored" in columns and bool(run.arrow(
            f"SELECT COUNT(*) AS n FROM {q(VIEWS['measurements'])} WHERE {q('censored')} <> 0", {}).column("n")[0].as_py())
        return Plan(tuple(subject_columns), variables, frozenset(tables), censored, static)
    return Plan(tuple(subject_columns), variables, frozenset(tables), static_censored=static)


def _used(sql: str, params: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    """The parameters a statement uses (engines refuse, or warn about, the others)."""
    return {k: v for k, v in params.items() if re.search(re.escape(dialect.placeholder(k)) + r"(?![0-9A-Za-z_])", sql)}


def _check_subjects(run) -> None:
    q = run.dialect.quote
    t = q(VIEWS["subjects"])
    if run.arrow(f"SELECT COUNT(*) AS n FROM {t} WHERE {q('subject_id')} IS NULL", {}).column("n")[0].as_py():
        raise DataError("a subject has no subject_id; give every subject one", column="subject_id")
    if run.arrow(f"SELECT COUNT(*) AS n FROM {t} WHERE {q(INDEX)} IS NULL", {}).column("n")[0].as_py():
        raise DataError("every subject needs an index_date to derive screening features", column="index_date")
    repeated = run.arrow(f"SELECT {q('subject_id')} AS id FROM {t} GROUP BY {q('subject_id')} HAVING COUNT(*) > 1 "
                         "LIMIT 10", {}).column("id").to_pylist()
    if repeated:
        raise DataError("duplicate subject ids", column="subject_id", rows=repeated)


def subject_ranges(run, size: int = RANGE_SUBJECTS) -> list[tuple[str | None, str | None]]:
    """Bounds [low, high) that split the subjects view into ranges of `size` subjects in subject_id order.

    The bounds are subject ids themselves (every `size`-th in the engine's order of the ids), the first range
    open below and the last open above, so every subject lies in exactly one range whatever its id looks
    like; one range (None, None) when there are at most `size` subjects."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"a range of subjects must hold at least one subject, not {size!r}")
    q = run.dialect.quote
    subject = q("subject_id")
    n = run.arrow(f"SELECT COUNT(*) AS n FROM {q(VIEWS['subjects'])}", {}).column("n")[0].as_py()
    if n <= size:
        return [(None, None)]
    found = run.arrow(f"SELECT id FROM (SELECT {subject} AS id, row_number() OVER (ORDER BY {subject}) AS k "
                      f"FROM {q(VIEWS['subjects'])}) x WHERE k > 1 AND (k - 1) % {size} = 0 ORDER BY id", {})
    bounds = found.column("id").to_pylist()
    return list(zip([None, *bounds], [*bounds, None], strict=True))


def derive_ranges(run, plan: Plan, catalogue: Catalogue, write, *, lookback_days: float | Mapping[str, float] = 365,
                  cgm_days: float = 14, size: int = RANGE_SUBJECTS, progress: bool = False) -> FeatureQuery:
    """Run the feature query over subject ranges of `size` subjects, handing each range's statement to
    `write(index, sql, params, query)`, which runs it, keeps its rows and returns the flags of its first row
    ({flag column: value}, the `g_` columns). Returns the last query (its reason columns name the output).

    Every feature depends on one subject's rows, except the flags (one-row aggregates such as "is there any
    ULN among the latest labs", which the pandas derivation decides on the whole cohort). A flag is an "any"
    over subjects and no flag reads another, so the cohort's flags are the OR of the ranges' flags; a range
    whose own flags differ from the cohort's is derived again with the cohort's fixed (write overwrites it).
    The result equals the query over all subjects at once (tests/engine/test_features_sql.py)."""
    ranges = subject_ranges(run, size)

    def statement(bounds, fixed=None) -> tuple[FeatureQuery, str, dict[str, Any]]:
        query = FeatureQuery(plan, catalogue, run.dialect, lookback_days=lookback_days, cgm_days=cgm_days,
                             subjects=bounds, fixed_flags=fixed)
        sql, params = query.sql()
        return query, sql, _used(sql, params, run.dialect)

    bar = None
    if progress and len(ranges) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ranges), unit="range", desc=f"features ({size:,} subjects a range)")
    flags: list[dict[str, int]] = []
    try:
        for index, bounds in enumerate(ranges):
            query, sql, params = statement(bounds)
            flags.append(write(index, sql, params, query))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    cohort = {name: max(int(f.get(name) or 0) for f in flags) for name in query.flag_columns}
    for index, bounds in enumerate(ranges):
        if any(int(flags[index].get(name) or 0) != value for name, value in cohort.items()):
            query, sql, params = statement(bounds, cohort)
            write(index, sql, params, query)
    return query


def first_row_flags(table: pa.Table) -> dict[str, int]:
    """The flags a range's result carries (its `g_` columns, the same on every row)."""
    if not len(table):
        return {}
    return {name[2:]: table.column(name)[0].as_py() for name in table.column_names if name.startswith("g_")}


def derive(run, tables: set[str], subject_columns: list[str], *, lookback_days: float | Mapping[str, float] = 365,
           cgm_days: float = 14, catalogue: Catalogue | None = None, source: str = "",
           range_subjects: int = RANGE_SUBJECTS, progress: bool = False) -> Screening:
    """The Screening of the prepared views `VIEWS` registered in `run`'s engine (see cohort_tables), derived
    over ranges of `range_subjects` subjects (derive_ranges; a progress bar per range when `progress`)."""
    catalogue = catalogue or default_catalogue()
    _check_subjects(run)
    plan = plan_of(run, catalogue, tables, subject_columns)
    parts: dict[int, pa.Table] = {}

    def keep(index: int, sql: str, params: dict[str, Any], query: FeatureQuery) -> dict[str, int]:
        parts[index] = run.features(query, sql, params)
        return first_row_flags(parts[index])

    query = derive_ranges(run, plan, catalogue, keep, lookback_days=lookback_days, cgm_days=cgm_days,
                          size=range_subjects, progress=progress)
    result = parts[0] if len(parts) == 1 else pa.concat_tables([parts[i] for i in sorted(parts)],
                                                               promote_options="permissive")
    parts.clear()
    rows = result.column(ROW).to_numpy()
    if len(rows) and not np.all(rows[1:] > rows[:-1]):
        result = result.take(pa.array(np.argsort(rows, kind="stable")))
    ids = pd.Index(pd.array(result.column("subject_id").to_pylist(), dtype="string"), name="subject_id")
    features, exists = {}, {}
    names = result.column_names
    for name in names:
        if name.startswith("x_"):
            exists[name[2:]] = bool(len(result) and result.column(name)[0].as_py())
    for name in names:
        if name.startswith("v_") and exists.get(name[2:], True):
            features[name[2:]] = result.column(name).to_pandas().to_numpy(
                dtype=object if catalogue[name[2:]].kind != "number" else "float64",
                **({"na_value": np.nan} if catalogue[name[2:]].kind == "number" else {}))
    frame = pd.DataFrame(_typed(features, catalogue), index=ids)
    frame = frame[[c for c in catalogue.names() if c in frame.columns]]
    reasons = _reasons(result, query.reason_columns, ids)
    censored, censored_reasons = censored_intervals_sql(run, plan, catalogue, lookback_days, ids,
                                                        lambda name: features.get(name))
    if censored_reasons is not None:
        reasons = _joined_reasons(reasons, censored_reasons, ids)
    screening = Screening(
        features=frame,
        events=_events(run, plan),
        event_lookback=_lookback(run, plan, ids),
        event_counts=_counts(run, plan, ids),
        missing_reasons=reasons,
        source=source,
        censored=censored,
    )
    return screening.validate(catalogue)


def _in_range(table: str, subjects: tuple[str | None, str | None], b: Binder) -> str:
    """A prepared view, only the subjects of the range [low, high) (None: open; the bounds bound in `b`)."""
    q = b.dialect.quote
    low, high = subjects
    bounds = ([f"{q('subject_id')} >= {b.bind(str(low))}"] if low is not None else []) + (
        [f"{q('subject_id')} < {b.bind(str(high))}"] if high is not None else [])
    return f"(SELECT * FROM {q(VIEWS[table])} WHERE {' AND '.join(bounds)})" if bounds else q(VIEWS[table])


def censored_rows_sql(plan: Plan, dialect: Dialect, windows: list[float],
                      subjects: tuple[str | None, str | None] = (None, None)) -> tuple[str, dict[str, Any]]:
    """The rows at the latest time in the look-back window of each (subject, variable) cell that has a censored
    one there (subject id, variable position, value, code, limit): what features.cell_intervals needs. The
    window and the latest-time rule are FeatureQuery._measurements'; a separate query, run only for a source with
    censored values, so the feature query of every other source is unchanged. `subjects`: only the subjects of
    that range (subject_ranges' bounds)."""
    q, d, b = dialect.quote, dialect, Binder(dialect, "z")
    measurements, people = _in_range("measurements", subjects, b), _in_range("subjects", subjects, b)
    names = [b.bind(var) for var in plan.variables]
    window_ns = " ".join(f"WHEN {n} THEN {b.bind(int(np.int64(w * DAY_NS)))}" for n, w in zip(names, windows, strict=True))
    position = " ".join(f"WHEN {n} THEN {j}" for j, n in enumerate(names))
    value = f"CAST(m.{q('value')} AS {d.double})"
    rows = (f"SELECT s.{q(ROW)} AS r, CASE m.{q('variable')} {position} END AS v, {value} AS x, "
            f"CAST(COALESCE(m.{q('censored')}, 0) AS INT) AS c, CAST(m.{q('limit')} AS {d.double}) AS l, "
            f"m.{q(TIME)} AS t FROM {measurements} m JOIN {people} s "
            f"ON m.{q('subject_id')} = s.{q('subject_id')} "
            f"WHERE m.{q('variable')} IN ({', '.join(names)}) AND {value} IS NOT NULL AND NOT {d.isnan(value)} "
            f"AND m.{q(TIME)} IS NOT NULL AND m.{q(TIME)} < s.{q(INDEX)} + {DAY_NS} "
            f"AND m.{q(TIME)} >= s.{q(INDEX)} - CASE m.{q('variable')} {window_ns} END")
    # Only a cell with a censored row somewhere in its window can have one at its latest time: the cells are
    # found first (few), and the latest time is taken over their rows alone, by windows over one read of them.
    # Grouping every measurement row by cell and joining the groups back (the first way) shuffled all the rows
    # twice in Spark, which inlines a CTE at each read: 41 of 348 JVM CPU-seconds of the canonical path at 10^5
    # (benchmarks/results/spark_canonical_15_profile_1e5.md).
    sql = (f"WITH z_rows AS ({rows}), "
           "z_cand AS (SELECT DISTINCT r, v FROM z_rows WHERE c <> 0), "
           "z_sel AS (SELECT z.r, z.v, z.x, z.c, z.l, z.t FROM z_rows z JOIN z_cand k ON z.r = k.r AND z.v = k.v), "
           "z_latest AS (SELECT r, v, x, c, l, t = MAX(t) OVER (PARTITION BY r, v) AS latest FROM z_sel), "
           # WHERE comes before the window: the largest code among the rows at the latest time
           "z_at AS (SELECT r, v, x, c, l, MAX(ABS(c)) OVER (PARTITION BY r, v) AS mc FROM z_latest WHERE latest) "
           f"SELECT s.{q('subject_id')} AS id, z.v, z.x, z.c, z.l FROM z_at z "
           f"JOIN {people} s ON s.{q(ROW)} = z.r WHERE z.mc > 0")
    return sql, dict(b.values)


def censored_intervals_sql(run, plan: Plan, catalogue: Catalogue, lookback_days, ids: pd.Index, column,
                           subjects: tuple[str | None, str | None] = (None, None)
                           ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(Screening.censored, the censored values' reasons) of a source derived by SQL: the latest censored rows
    from the engine, their intervals by the pandas derivation's own functions (features.cell_intervals,
    features.derived_intervals; `column(name)`: a derived feature's values). (None, None) without any.
    `subjects`: only the subjects of that range (`ids` and `column` then hold that range's subjects alone), so a
    writer holds one range at a time (folder_writer._write_censored)."""
    measured = plan.censored and bool(plan.variables)
    if not measured and not plan.static_censored:
        return None, None
    intervals = Intervals(ids)
    if measured:
        _measured_intervals(run, plan, catalogue, lookback_days, ids, intervals, subjects)
    q = run.dialect.quote
    for variable in plan.static_censored:  # subject columns' censored cells (cohort.features, the same rule)
        code, limit = subject_censoring(variable)
        b = Binder(run.dialect, "y")
        found = run.arrow(f"SELECT {q('subject_id')} AS id, CAST({q(variable)} AS {run.dialect.double}) AS x, "
                          f"CAST({q(code)} AS INT) AS c, CAST({q(limit)} AS {run.dialect.double}) AS l "
                          f"FROM {_in_range('subjects', subjects, b)} t WHERE {q(code)} IS NOT NULL AND {q(code)} <> 0 "
                          f"AND {q(variable)} IS NOT NULL", dict(b.values))
        feature = column(variable)
        if found.num_rows and feature is not None:
            add_static_intervals(intervals, variable, positions(found.column("id"), ids),
                                 found.column("x").to_numpy(zero_copy_only=False).astype("float64"),
                                 found.column("c").to_numpy(zero_copy_only=False).astype(np.int8),
                                 found.column("l").to_pandas().to_numpy(dtype="float64", na_value=np.nan),
                                 np.asarray(feature, dtype="float64"), catalogue)
    derived_intervals(column, intervals)
    if not intervals.by_variable:
        return None, None
    return intervals.frame(), intervals.reasons_frame()


def _measured_intervals(run, plan: Plan, catalogue: Catalogue, lookback_days, ids: pd.Index,
                        intervals: Intervals, subjects: tuple[str | None, str | None] = (None, None)) -> None:
    """The intervals of the latest measured values given as limits (features.cell_intervals' rule)."""
    days = lookback_days
    if isinstance(days, Mapping):
        default = float(days.get("default", 365))
        windows = [float(days.get(var, default)) for var in plan.variables]
    else:
        windows = [float(days)] * len(plan.variables)
    sql, params = censored_rows_sql(plan, run.dialect, windows, subjects)
    found = run.arrow(sql, _used(sql, params, run.dialect))
    if found.num_rows:
        def array(name, dtype):
            return found.column(name).to_numpy(zero_copy_only=False).astype(dtype)
        limits = found.column("l").to_pandas().to_numpy(dtype="float64", na_value=np.nan)
        subjects = positions(found.column("id"), ids)  # the features' order, whichever the engine returned
        for variable, item in cell_intervals(subjects, array("v", np.int64), array("x", "float64"),
                                             array("c", np.int8), limits, list(plan.variables), catalogue).items():
            intervals.set(variable, *item)


def _lookback(run, plan: Plan, ids: pd.Index) -> pd.DataFrame | None:
    q = run.dialect.quote
    return _wide(run, plan, "event_history", [q("event")], lookback_days_sql(run.dialect), ids, lambda event: str(event))


def _counts(run, plan: Plan, ids: pd.Index) -> pd.DataFrame | None:
    q = run.dialect.quote
    value = f"(CASE WHEN NOT {run.dialect.isnan('t.' + q('count'))} THEN t.{q('count')} END)"
    return _wide(run, plan, "event_counts", [q("event"), q("within_days")], value, ids,
                 lambda event, days: f"{event}@{float(days):g}")


def _reasons(result: pa.Table, columns: Mapping[str, tuple[str, str]], ids: pd.Index) -> pd.DataFrame:
    """The long table of missing reasons (subject_id, variable, reason) from the reason columns."""
    positions, variables, reasons = [], [], []
    for name, (variable, reason) in columns.items():
        flagged = np.flatnonzero(result.column(name).to_numpy(zero_copy_only=False).astype(bool))
        if flagged.size:
            positions.append(flagged)
            variables.append(np.full(flagged.size, variable, dtype=object))
            reasons.append(np.full(flagged.size, reason, dtype=object))
    if not positions:
        return pd.DataFrame({"subject_id": pd.Categorical([], categories=ids), "variable": pd.Categorical([]),
                             "reason": pd.Categorical([])})
    return pd.DataFrame({
        "subject_id": pd.Categorical.from_codes(np.concatenate(positions), categories=ids),
        "variable": pd.Categorical(np.concatenate(variables)),
        "reason": pd.Categorical(np.concatenate(reasons)),
    })


def _joined_reasons(first: pd.DataFrame, second: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Two long tables of missing reasons as one (categorical columns over the features' ids)."""
    return pd.DataFrame({
        "subject_id": pd.Categorical.from_codes(np.concatenate([first["subject_id"].cat.codes.to_numpy(),
                                                                second["subject_id"].cat.codes.to_numpy()]),
                                                categories=ids),
        "variable": pd.Categorical(np.concatenate([first["variable"].astype(str).to_numpy(dtype=object),
                                                   second["variable"].astype(str).to_numpy(dtype=object)])),
        "reason": pd.Categorical(np.concatenate([first["reason"].astype(str).to_numpy(dtype=object),
                                                 second["reason"].astype(str).to_numpy(dtype=object)])),
    })


def screening_features_sql(cohort: Cohort, *, engine: str = "duckdb", lookback_days: float | Mapping[str, float] = 365,
                           cgm_days: float = 14, catalogue: Catalogue | None = None,
                           range_subjects: int = RANGE_SUBJECTS, **options: Any) -> Screening:
    """The Screening of a Cohort with its features derived by SQL in DuckDB or Spark (as the pandas derivation).

    `options`: `con` (a DuckDB connection) or `spark` / `master` (a Spark session or master URL).
    `range_subjects`: subjects per query (derive_ranges).
    """
    catalogue = catalogue or default_catalogue()
    tables = cohort_tables(cohort, catalogue)
    run = runner(engine, **options)
    for name, table in tables.items():
        run.register(VIEWS[name], table)
    try:
        return derive(run, set(tables), tables["subjects"].column_names, lookback_days=lookback_days,
                      cgm_days=cgm_days, catalogue=catalogue, source=cohort.source, range_subjects=range_subjects)
    finally:
        if isinstance(run, SparkRunner):
            run.close()
