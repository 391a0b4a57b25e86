"""An OMOP CDM read in place by DuckDB or Spark: the CDM tables become, in SQL, the canonical tables features_sql reads.

The pandas OMOP loader (explorer.cohort.loaders.omop, its docstring states every rule) is the reference.
Here the same rules run as SQL over the CDM where it lies: for DuckDB a database file or CDM tables as
CSV/Parquet files in a folder, for Spark such a folder. Nothing of the CDM passes through pandas; only the
small things the rules are made of do: the concept mapping (resolved by the loader's own `concept_ids`),
the unit conversions (one `explorer.cohort.units.conversion` per distinct (variable, unit) found in the
data), the plausible ranges of the catalogue, and the rows named in an error.

Every step is a SELECT over the previous ones, kept as a table (DuckDB: a temporary table, which DuckDB
spills to disk when it outgrows memory; Spark: a checkpointed temporary view), so one SQL text serves both
engines through a few dialect hooks. The last steps are the tables named in features_sql.VIEWS, from which
`features_sql.derive` derives the screening features exactly as from a loaded Cohort. Checks follow the
loader's order and wording: a value that is not a number, a unit that cannot be converted, a value outside
its plausible range, duplicate person ids, records of persons not in PERSON, times missing, in the future
or before birth. With on_invalid="raise" each is the loader's DataError (file, column, first rows: the
file's row numbers, header = row 1); with "reject" the same rows are dropped and counted in the report.

A ZIP archive is not read in place (neither engine reads archive members): the pandas loader reads it.

The engines' classes (DuckTables, SparkTables), the load context (SqlLoad) and the steps the canonical
tables share (convert_units, check_ranges, count_repeats, check_times, warn_without_uln) are public:
explorer.engine.canonical_sql reads the project's own canonical folders with them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.features import DAY_NS, FROM_DATES, SUBJECT_FIELDS
from explorer.cohort.loaders import omop
from explorer.cohort.loaders.common import (
    UTC_OFFSET,
    Boundary,
    check_from_dates,
    check_unique_ids,
    loader_catalogue,
    outside_range,
    parse_dates,
    require_columns,
    table_name,
)
from explorer.cohort.loaders.readers import FIRST_DATA_ROW, NO_ROWS, NO_SUBJECTS, check_header, read_as_absent
from explorer.cohort.loaders.report import FIRST_ROWS_KEPT, LoadReport
from explorer.cohort.screening import Screening
from explorer.cohort.units import canonical_unit, conversion, exact_conversion, report_precision
from explorer.cohort.values import CENSORING
from explorer.engine.duck import csv_error, limit_spill, literal_path, spill_error
from explorer.engine.features_sql import RANGE_SUBJECTS, VIEWS, DuckRunner, SparkRunner, derive
from explorer.engine.folder_writer import check_written, write_screening_folder
from explorer.engine.spark import arrow_frame, local_path, read_parquet
from explorer.engine.sql import DUCKDB, SPARK
from explorer.errors import DataError, UnitError

DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")
FILE_SUFFIXES = (".csv", ".parquet")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")  # read with every cell as text, as the loaders read text tables
# an ISO 8601 date or date and time without a UTC offset: what TRY_CAST reads as parse_dates does
PLAIN_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
ORDER = "te_src"  # the source row number of a CDM row (header = row 1), as the loader's errors name rows
MICROS_PER_DAY = DAY_NS // 1000
MEMORY_LIMIT = "1GB"  # DuckDB's share when a reader opens its own connection (10^5 subjects: no slower than 80 % of RAM)


def is_omop_in_place(path: str | Path) -> bool:
    """A DuckDB database file, or a folder of CDM CSV/Parquet files with a PERSON table."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() in DATABASE_SUFFIXES
    return path.is_dir() and any(p.stem.lower() == "person" and p.suffix.lower() in FILE_SUFFIXES
                                 for p in path.iterdir())


SQL_TYPES = {"number": "DOUBLE", "boolean": "BOOLEAN"}  # a catalogue kind's column type; categories are text


def typed_columns(quote, catalogue: Catalogue, columns, skip) -> list[tuple[str, str]]:
    """(SELECT item, name) of each subject column that is a catalogue variable other than an event (and not in
    `skip`), CAST to its kind's SQL type as the feature query reads it (`quote`: the dialect's quoting)."""
    typed = []
    for column in columns:
        var = catalogue.get(column)
        if column in skip or var is None or var.kind == "event":
            continue
        typed.append((f"CAST({quote(column)} AS {SQL_TYPES.get(var.kind, 'STRING')}) AS {quote(column)}", column))
    return typed


def literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


# --- the two engines -----------------------------------------------------------------------------------

class DuckTables:
    """Steps as DuckDB temporary tables; DuckDB's spellings of what differs."""

    dialect = DUCKDB
    group = "\\1"  # a regexp_replace back-reference

    def __init__(self, con):
        self.con = con

    def rows(self, sql: str) -> list[tuple]:
        cursor = self.con.execute(sql)  # DuckDB 2 keeps a result pending until it is fetched
        return [tuple(r) for r in cursor.fetchall()]

    def table(self, name: str, select: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}").fetchall()

    def view(self, name: str, select: str, *, once: bool = False) -> None:
        """A step computed each time it is read: no copy (the last projections, read by the feature query).
        `once` (a step costly to recompute, e.g. numbered by a window) matters to Spark, not to DuckDB."""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}").fetchall()

    def drop(self, name: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}").fetchall()

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def columns(self, relation: str) -> list[str]:
        cursor = self.con.execute(f"SELECT * FROM {relation} LIMIT 0")
        names = [d[0] for d in cursor.description]
        cursor.fetchall()
        return names

    def scan(self, path: Path, name: str) -> None:
        # glob characters escaped: a folder named `site[1]` or `cohort*` is read as itself, never another's files
        quoted = literal(literal_path(path))
        if path.suffix.lower() in TEXT_SUFFIXES:
            # every cell as text, as the loader reads CSV; row numbers in file order
            select = (f"SELECT *, row_number() OVER () + {FIRST_DATA_ROW - 1} AS {ORDER} "
                      f"FROM read_csv({quoted}, all_varchar = true, header = true)")
        else:
            select = (f"SELECT * EXCLUDE (file_row_number), file_row_number + {FIRST_DATA_ROW} AS {ORDER} "
                      f"FROM read_parquet({quoted}, file_row_number = true)")
        # a view: the file is read where it lies each time a step reads it, never copied
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}").fetchall()

    def attach(self, path: Path) -> dict[str, str]:
        self.con.execute(f"ATTACH {literal(str(path))} AS te_cdm (READ_ONLY)").fetchall()
        found = self.rows("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'te_cdm'")
        out: dict[str, str] = {}
        for schema, table in found:
            if table.lower() in out:
                raise DataError(f"table {table.lower()!r} is in more than one schema of the database; keep one",
                                file=str(path))
            out[table.lower()] = f'(SELECT *, rowid + {FIRST_DATA_ROW} AS {ORDER} FROM te_cdm."{schema}"."{table}")'
        return out

    def make_date(self, year: str, month: str, day: str) -> str:
        return f"CAST(TRY(make_date({year}, {month}, {day})) AS TIMESTAMP)"

    def matches(self, text: str, pattern: str) -> str:
        """Whether the whole of `text` matches the (RE2 and Java compatible) regular expression."""
        return f"regexp_full_match({text}, {literal(pattern)})"

    def types(self, relation: str) -> dict[str, str]:
        """Column -> upper-case SQL type name."""
        return {r[0]: str(r[1]).upper() for r in self.rows(f"DESCRIBE SELECT * FROM {relation}")}

    def plus_micros(self, ts: str, micros: str) -> str:
        return f"({ts} + to_microseconds(CAST({micros} AS BIGINT)))"

    def runner(self):
        return DuckRunner(self.con)

    def close(self) -> None:
        pass


class SparkTables:
    """Steps as checkpointed Spark temporary views; Spark's spellings of what differs."""

    dialect = SPARK
    group = "$1"

    def __init__(self, spark):
        self.spark = spark
        self.views: list[str] = []
        self.frames: list[Any] = []
        # timestamps are wall-clock times, as in pandas: parse and count them in UTC, whatever the session says
        self.zone = spark.conf.get("spark.sql.session.timeZone")
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        spark.conf.set("spark.sql.ansi.enabled", "false")  # an impossible date or cast is NULL, as TRY in DuckDB

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def _keep(self, name: str, frame) -> None:
        # computed now and cut from its lineage: later steps then plan over a flat table, not every step before
        frame = frame.localCheckpoint()
        frame.createOrReplaceTempView(name)
        self.views.append(name)
        self.frames.append(frame)

    def table(self, name: str, select: str) -> None:
        self._keep(name, self.spark.sql(select))

    def view(self, name: str, select: str, *, once: bool = False) -> None:
        """A projection of a checkpointed step, planned again where it is read and not copied (the measurements
        and CGM, the largest tables, would be written once more); `once`: computed and checkpointed now, for
        a step that is costly to recompute at each read (the subjects, numbered by a window over the table)."""
        if once:
            self.table(name, select)
            return
        frame = self.spark.sql(select)
        frame.createOrReplaceTempView(name)
        self.views.append(name)
        self.frames.append(frame)

    def drop(self, name: str) -> None:
        if name in self.views:
            at = self.views.index(name)
            self.spark.catalog.dropTempView(name)
            self.frames.pop(at).unpersist()
            self.views.pop(at)

    def register(self, name: str, table: pa.Table) -> None:
        self._keep(name, arrow_frame(self.spark, table))

    def scan(self, path: Path, name: str) -> None:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        def lower(frame):
            return frame.toDF(*[c if c == ORDER else c.strip().lower() for c in frame.columns])

        def numbered(frame) -> None:
            frame = lower(frame)
            # one file is read in order, partition after partition: this id grows with the file's row. A window
            # over the whole table sorts it in one partition (CSV has no row index to read instead)
            order = Window.orderBy(F.monotonically_increasing_id())
            self._keep(name, frame.withColumn(ORDER, F.row_number().over(order) + (FIRST_DATA_ROW - 1)))

        if path.suffix.lower() in TEXT_SUFFIXES:
            numbered(self.spark.read.option("header", True).csv(local_path(path)))
        else:  # the row number is read from the file, as DuckDB's file_row_number: no sort, no single partition
            read_parquet(self.spark, path, lambda frame: self._keep(name, lower(frame)), row=ORDER,
                         first=FIRST_DATA_ROW)

    def columns(self, relation: str) -> list[str]:
        return self.spark.table(relation).columns

    def attach(self, path: Path) -> dict[str, str]:
        raise DataError("Spark reads an OMOP CDM as CSV/Parquet files in a folder; a DuckDB database is read "
                        "with --engine duckdb", file=str(path))

    def make_date(self, year: str, month: str, day: str) -> str:
        return f"CAST(make_date({year}, {month}, {day}) AS TIMESTAMP)"

    def matches(self, text: str, pattern: str) -> str:
        return f"({text} RLIKE {literal('^(?:' + pattern + ')$')})"  # RLIKE finds; anchored, it matches whole

    def types(self, relation: str) -> dict[str, str]:
        return {name: kind.upper() for name, kind in self.spark.table(relation).dtypes}

    def plus_micros(self, ts: str, micros: str) -> str:
        return f"timestamp_micros(unix_micros({ts}) + CAST({micros} AS BIGINT))"

    def runner(self):
        return SparkRunner(self.spark)

    def close(self) -> None:
        for name, frame in zip(self.views, self.frames, strict=True):
            self.spark.catalog.dropTempView(name)
            frame.unpersist()  # frees the checkpointed blocks
        self.spark.conf.set("spark.sql.session.timeZone", self.zone)


# --- cells -------------------------------------------------------------------------------------------

def text_cell(column: str) -> str:
    """A CDM cell as trimmed text, NULL when blank (the loader reads text, blank cells as missing)."""
    return f"NULLIF(TRIM(CAST({column} AS STRING)), '')"


def number_cell(column: str) -> str:
    cast = f"TRY_CAST({text_cell(column)} AS DOUBLE)"
    return f"(CASE WHEN isnan({cast}) THEN NULL ELSE {cast} END)"


class Cdm:
    """The CDM tables where they lie, each a relation with its source row number (`te_src`)."""

    def __init__(self, path: Path, engine: DuckTables | SparkTables):
        self.path = path
        self.relations: dict[str, str] = {}
        self.files: dict[str, str] = {}
        self.names: dict[str, list[str]] = {}
        if path.is_dir():
            for p in sorted(path.iterdir()):
                table = p.stem.lower()
                if p.suffix.lower() not in FILE_SUFFIXES or table not in omop.TABLES:
                    continue
                if table in self.relations:
                    raise DataError(f"table {table!r} is given twice; keep one file", file=str(path))
                if p.suffix.lower() in TEXT_SUFFIXES:
                    check_header(p)  # a column named twice: the loader's refusal
                engine.scan(p, f"te_cdm_{table}")
                self.relations[table], self.files[table] = f"te_cdm_{table}", str(p)
        elif path.is_file() and path.suffix.lower() in DATABASE_SUFFIXES:
            self.relations = engine.attach(path)
            self.files = {t: f"{path}!{t}" for t in self.relations}
        else:
            raise DataError("an OMOP CDM read in place is a DuckDB database file (.duckdb) or a folder of CDM "
                            "CSV/Parquet files; a ZIP archive is read by the pandas loader (--engine memory), "
                            "or unzip it into a folder", file=str(path))
        self.engine = engine

    def has(self, table: str) -> bool:
        return table in self.relations

    def where(self, table: str) -> str:
        return self.files[table]

    def columns(self, table: str) -> set[str]:
        if table not in self.names:
            self.names[table] = [c.lower() for c in self.engine.columns(self.relations[table])]
        return set(self.names[table])

    def require(self, table: str, columns: list[str]) -> set[str]:
        have = self.columns(table)
        require_columns(pd.DataFrame(columns=sorted(have)), columns, file=self.where(table))
        return have


@dataclass
class SqlLoad:
    """One in-place load: the engine, the source's tables (a Cdm, or canonical_sql.Folder), the checks' context."""

    engine: DuckTables | SparkTables
    cdm: Cdm
    boundary: Boundary
    features: Catalogue  # the catalogue the screening features are typed by (a trial's)
    steps: int = field(default=0)
    # tables of measurement rows without a usable value (subject_id, time, variable): Boundary.unusable in SQL
    unusable: list[str] = field(default_factory=list)

    @property
    def now(self) -> pd.Timestamp:
        return self.boundary.now

    @property
    def report(self) -> LoadReport:
        return self.boundary.report

    def timestamp(self, value: pd.Timestamp) -> str:
        return f"CAST({literal(value.isoformat(sep=' '))} AS TIMESTAMP)"

    def date(self, column: str) -> str:
        """ISO 8601 text (or a native date) as a TIMESTAMP in wall-clock time, the loader's parse_dates rule."""
        text = text_cell(column)
        # most cells are plain ISO dates or times without an offset: cast at once, without the offset
        # pattern's backtracking (five times faster over a million CGM times)
        return (f"(CASE WHEN {self.engine.matches(text, PLAIN_ISO)} THEN TRY_CAST({text} AS TIMESTAMP) ELSE "
                f"TRY_CAST(regexp_replace({text}, {literal(UTC_OFFSET)}, {literal(self.engine.group)}) AS TIMESTAMP) END)")

    def ns(self, column: str) -> str:
        return self.engine.dialect.epoch_ns(column)

    def count(self, condition: str) -> str:
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    def counts(self, relation: str, conditions: list[str]) -> list[int]:
        """How many rows of `relation` meet each condition, in one statement. Spark runs each statement as a job
        (0.5-1 s whatever the table), so checks count their conditions together first and look closer only
        where one holds."""
        if not conditions:
            return []
        return [int(v or 0) for v in self.engine.rows(
            f"SELECT {', '.join(self.count(c) for c in conditions)} FROM {relation}")[0]]

    def one(self, sql: str):
        value = self.engine.rows(sql)[0][0]
        return 0 if value is None else value

    def column(self, sql: str) -> list:
        return [r[0] for r in self.engine.rows(sql)]

    def table(self, stem: str, select: str) -> str:
        """A new step named after `stem`; its name is returned (a step never replaces one it reads)."""
        self.steps += 1
        name = f"te_omop_{stem}_{self.steps}"
        self.engine.table(name, select)
        return name

    def bad_dates(self, relation: str, column: str, raw: str, *, file: str) -> None:
        """parse_dates' errors: text that is no ISO 8601 date, and dates beyond what pandas can hold."""
        parsed = self.date(raw)
        found = self.engine.rows(f"SELECT {text_cell(raw)}, {ORDER} FROM {relation} "
                                 f"WHERE {text_cell(raw)} IS NOT NULL AND {parsed} IS NULL ORDER BY {ORDER}")
        if found:
            examples = ", ".join(repr(v) for v in list(dict.fromkeys(v for v, _ in found))[:3])
            raise DataError(f"not an ISO 8601 date (YYYY-MM-DD[ HH:MM[:SS]]): {examples}", file=file,
                            column=column, rows=[r for _, r in found[:10]])
        # nanosecond datetimes span 1677-2262; beyond that a date is a typo
        for bound, what in ((f"> {self.timestamp(pd.Timestamp.max.floor('us'))}", "date in the future"),
                            (f"< {self.timestamp(pd.Timestamp.min.ceil('us'))}", "date before 1678")):
            found = self.engine.rows(f"SELECT {parsed}, {ORDER} FROM {relation} WHERE {parsed} {bound} "
                                     f"ORDER BY {ORDER} LIMIT 10")
            if found:
                raise DataError(f"{what} ({found[0][0]})", file=file, column=column, rows=[r for _, r in found])

    def then(self, old: str, new: str) -> str:
        """`new`, after dropping the step `old` it was made from (a copy less held at once)."""
        if new != old and old.startswith("te_omop_"):
            self.engine.drop(old)
        return new

    def set_aside(self, table: str, condition: str, time: str = "time") -> None:
        """Keep the measurement rows of `table` matching `condition` as measured without a usable value
        (Boundary.set_aside); `time` is their time as a TIMESTAMP expression."""
        self.unusable.append(self.table("unusable", f"SELECT subject_id, {time} AS time, variable FROM {table} "
                                                    f"WHERE {condition}"))

    def unusable_view(self, subjects: str) -> bool:
        """features_sql's `unusable` view: the rows set aside, of known subjects and number variables, dated
        (common.finish_cohort's Cohort.unusable); False when there are none."""
        if not self.unusable:
            return False
        q = self.engine.dialect.quote
        numbers = self.register("te_omop_unusable_names", {
            "name": pa.array(self.boundary.catalogue.names("number"), type=pa.string())})
        rows = " UNION ALL ".join(f"SELECT subject_id, time, variable FROM {t}" for t in self.unusable)
        kept = self.table("unusable", f"SELECT DISTINCT u.subject_id, u.variable, {self.ns('u.time')} AS {q('__time')} "
                                      f"FROM ({rows}) u WHERE u.time IS NOT NULL "
                                      f"AND u.variable IN (SELECT name FROM {numbers}) "
                                      f"AND u.subject_id IN (SELECT subject_id FROM {subjects})")
        if not self.one(f"SELECT COUNT(*) FROM {kept}"):
            return False
        self.engine.view(VIEWS["unusable"], f"SELECT * FROM {kept}")
        return True

    def invalid(self, table: str, condition: str, *, file: str, column: str, message: str,
                rows: str = ORDER, n: int | None = None) -> str:
        """Boundary.invalid in SQL: raise naming the first rows, or drop and count them (the new step's name).
        `n`: the rows meeting the condition, when the caller counted them already."""
        n = self.one(f"SELECT COUNT(*) FROM {table} WHERE {condition}") if n is None else n
        if not n:
            return table
        if self.boundary.on_invalid == "raise":
            raise DataError(message, file=file, column=column,
                            rows=self.column(f"SELECT {rows} FROM {table} WHERE {condition} ORDER BY {rows} LIMIT 10"))
        self.report.reject(table_name(file), f"{column}: {message}", n)
        self.report.record_invalid(file=file, column=column, problem=message, made_unknown=False, count=n,
                                   rows=self.column(f"SELECT {rows} FROM {table} WHERE {condition} ORDER BY {rows} "
                                                    f"LIMIT {FIRST_ROWS_KEPT}"))
        return self.table("kept", f"SELECT * FROM {table} WHERE NOT COALESCE({condition}, FALSE)")

    def register(self, name: str, columns: dict[str, pa.Array]) -> str:
        self.engine.register(name, pa.table(columns))
        return name


# --- the mapping ---------------------------------------------------------------------------------------

def _concepts(run: SqlLoad, spec: dict) -> pd.Series:
    """"VOCAB code" -> [concept_id], for the codes the mapping names (the loader's `by_key`)."""
    wanted = sorted({str(k).strip() for section in ("measurement", "condition", "observation")
                     for k in spec.get(section, {}) if not str(k).strip().isdigit()})
    keys = run.register("te_omop_keys", {"key": pa.array(wanted, type=pa.string())})
    found = run.engine.rows(
        f"SELECT key, CAST(concept_id AS STRING) FROM (SELECT concept_id, {ORDER}, "
        f"TRIM(CAST(vocabulary_id AS STRING)) || ' ' || TRIM(CAST(concept_code AS STRING)) AS key "
        f"FROM {run.cdm.relations['concept']}) c WHERE key IN (SELECT key FROM {keys}) ORDER BY {ORDER}")
    by_key: dict[str, list] = {}
    for key, cid in found:
        by_key.setdefault(key, []).append(cid)
    return pd.Series(by_key, dtype=object)


def _rule_tables(run: SqlLoad, spec: dict, by_key: pd.Series) -> None:
    """The mapping as small tables: measurement concept -> variable; condition/observation concept -> rules."""
    variable_of = {cid: r[0]["variable"] for cid, r in omop.concept_ids(spec.get("measurement", {}), by_key).items()}
    run.register("te_omop_mmap", {"concept_id": pa.array(list(variable_of), type=pa.string()),
                                  "variable": pa.array(list(variable_of.values()), type=pa.string())})
    rows = []
    for section in ("condition", "observation"):
        for cid, rules in omop.concept_ids(spec.get(section, {}), by_key).items():
            for number, rule in enumerate(rules):
                value = rule.get("value")
                rows.append((section, cid, number, rule.get("variable"), None if value is None else str(value),
                             bool(rule.get("value", True)), rule.get("ongoing_days"), rule.get("event")))
    names = ("section", "concept_id", "rule_no", "variable", "value", "truth", "ongoing_days", "event")
    types = (pa.string(), pa.string(), pa.int64(), pa.string(), pa.string(), pa.bool_(), pa.float64(), pa.string())
    run.register("te_omop_rules", {n: pa.array([r[i] for r in rows], type=t)
                                   for i, (n, t) in enumerate(zip(names, types, strict=True))})


def _concept_column(run: SqlLoad, column: str) -> str:
    """concept_id (text) -> `column` of the CONCEPT table, one row per concept id."""
    return run.table("concept", f"SELECT CAST(concept_id AS STRING) AS cid, MIN(CAST({column} AS STRING)) AS v "
                                f"FROM {run.cdm.relations['concept']} GROUP BY 1")


# --- persons ---------------------------------------------------------------------------------------

def _persons(run: SqlLoad, *, index_date) -> str:
    cdm, report, engine = run.cdm, run.report, run.engine
    person, file = cdm.relations["person"], cdm.where("person")
    columns = cdm.require("person", ["person_id", "gender_concept_id", "year_of_birth"])
    # each person once, before anything is looked up by person id (the loader's check, on the repeated rows)
    repeated = engine.rows(f"SELECT {text_cell('person_id')}, {ORDER} FROM {person} WHERE {text_cell('person_id')} IN "
                           f"(SELECT {text_cell('person_id')} FROM {person} GROUP BY 1 HAVING COUNT(*) > 1) "
                           f"ORDER BY {ORDER}")
    check_unique_ids(pd.Series([i for i, _ in repeated], index=[r for _, r in repeated], dtype="string"), file=file)
    sex = "CASE " + " ".join(f"WHEN {text_cell('gender_concept_id')} = {literal(k)} THEN {literal(v)}"
                             for k, v in omop.GENDER.items()) + " END"
    given = run.date("birth_datetime") if "birth_datetime" in columns else "CAST(NULL AS TIMESTAMP)"
    if "birth_datetime" in columns:
        run.bad_dates(person, "birth_datetime", "birth_datetime", file=file)
    month = number_cell("month_of_birth") if "month_of_birth" in columns else "CAST(NULL AS DOUBLE)"
    day = number_cell("day_of_birth") if "day_of_birth" in columns else "CAST(NULL AS DOUBLE)"
    # pandas builds the date from the parts and gives NaT for an impossible one
    parts = engine.make_date(f"CAST({number_cell('year_of_birth')} AS BIGINT)", f"CAST(COALESCE({month}, 7) AS BIGINT)",
                             f"CAST(COALESCE({day}, 15) AS BIGINT)")
    p0 = run.table("person", f"SELECT {ORDER}, {text_cell('person_id')} AS subject_id, {sex} AS sex, "
                             f"{given} AS birth_given, {parts} AS birth_parts, "
                             f"({month} IS NULL OR {day} IS NULL) AS partial FROM {person}")
    report.convert("birth date: month or day missing -> middle of the period",
                   run.one(f"SELECT COUNT(*) FROM {p0} WHERE birth_given IS NULL AND birth_parts IS NOT NULL "
                           "AND partial"))

    def read_from(rows: list) -> str:  # the PERSON fields errors name for these rows, as the loader names them
        wanted = ", ".join(str(int(r)) for r in rows[:1000])
        known = {r[0]: r[1:] for r in engine.rows(
            f"SELECT {ORDER}, {given} IS NOT NULL, {month} IS NOT NULL, {day} IS NOT NULL FROM {person} "
            f"WHERE {ORDER} IN ({wanted})")}
        return omop.either(omop.birth_fields(*known[r]) for r in rows[:1000])
    run.boundary.source_fields["birth_date"] = read_from
    joins, index = [], "CAST(NULL AS TIMESTAMP)"
    periods = None
    if cdm.has("observation_period"):
        opfile, op = cdm.where("observation_period"), cdm.relations["observation_period"]
        run.bad_dates(op, "observation_period_start_date", "observation_period_start_date", file=opfile)
        run.bad_dates(op, "observation_period_end_date", "observation_period_end_date", file=opfile)
        periods = run.table("periods", f"SELECT {text_cell('person_id')} AS subject_id, "
                                       f"{run.date('observation_period_start_date')} AS start_, "
                                       f"{run.date('observation_period_end_date')} AS end_ FROM {op}")
        report.kept(table_name(opfile), run.one(f"SELECT COUNT(*) FROM {periods}"))
        latest = run.table("latest", f"SELECT subject_id, MAX(end_) AS latest FROM {periods} GROUP BY 1")
        joins.append(f"LEFT JOIN {latest} l ON l.subject_id = p.subject_id")
        index = "l.latest"
    if cdm.has("death"):
        dfile, death = cdm.where("death"), cdm.relations["death"]
        run.bad_dates(death, "death_date", "death_date", file=dfile)
        died = run.table("death", f"SELECT {text_cell('person_id')} AS subject_id, MIN({run.date('death_date')}) AS died "
                                  f"FROM {death} GROUP BY 1")
        joins.append(f"LEFT JOIN {died} d ON d.subject_id = p.subject_id")
        earlier = run.one(f"SELECT COUNT(*) FROM {p0} p {' '.join(joins)} WHERE d.died < {index}")
        index = f"(CASE WHEN d.died < {index} THEN d.died ELSE {index} END)"
        report.kept(table_name(dfile), run.one(f"SELECT COUNT(*) FROM {death}"))
        report.note(f"index date capped at the death date for {earlier} person(s)")
    if index_date is not None:
        if isinstance(index_date, Mapping):
            given_ix = pd.Series({str(k): v for k, v in index_date.items()}, dtype=object)
            parsed = parse_dates(given_ix, file="index_date argument", column="index_date")
            table = run.register("te_omop_index", {
                "subject_id": pa.array(list(given_ix.index), type=pa.string()),
                "ix": pa.array(parsed.to_numpy(), type=pa.timestamp("ns"))})
            joins.append(f"LEFT JOIN {table} g ON g.subject_id = p.subject_id")
            index = "CAST(g.ix AS TIMESTAMP)"
        else:
            index = run.timestamp(pd.Timestamp(index_date))
        report.note("index date: given by the caller")
    else:
        report.note("index date: end of the latest observation period (or the death date if earlier)")
    p1 = run.table("person", f"SELECT p.*, COALESCE(p.birth_given, p.birth_parts) AS birth, {index} AS ix "
                             f"FROM {p0} p {' '.join(joins)}")
    if periods is None:
        p2 = run.table("person", f"SELECT p.*, CAST(NULL AS TIMESTAMP) AS observed_from FROM {p1} p")
    else:
        # observed at the index date: the period containing it; its start is when records begin
        inside = run.table("observed", f"SELECT p.subject_id, MIN(o.start_) AS observed_from FROM {periods} o "
                                       f"JOIN {p1} p ON o.subject_id = p.subject_id AND o.start_ <= p.ix "
                                       f"AND p.ix <= {engine.plus_micros('o.end_', str(MICROS_PER_DAY))} GROUP BY 1")
        p2 = run.table("person", f"SELECT p.*, i.observed_from FROM {p1} p LEFT JOIN {inside} i "
                                 "ON i.subject_id = p.subject_id")
    report.kept(table_name(file), run.one(f"SELECT COUNT(*) FROM {p2}"))
    return p2


# --- measurements ----------------------------------------------------------------------------------

def _measurements(run: SqlLoad) -> str:
    cdm, report = run.cdm, run.report
    file = cdm.where("measurement")
    name = table_name(file)
    columns = cdm.require("measurement", ["person_id", "measurement_concept_id", "measurement_date",
                                          "value_as_number"])
    mapped = run.table("m", f"SELECT m.*, k.variable AS te_variable FROM {cdm.relations['measurement']} m "
                            f"LEFT JOIN te_omop_mmap k ON k.concept_id = {text_cell('m.measurement_concept_id')}")
    _count_unmapped(run, f"{name} concepts", mapped, "measurement_concept_id", "te_variable IS NULL")
    report.reject(name, "concept not mapped to a catalogue variable",
                  run.one(f"SELECT COUNT(*) FROM {mapped} WHERE te_variable IS NULL"))
    mapped = run.table("m", f"SELECT * FROM {mapped} WHERE te_variable IS NOT NULL")
    bad = f"{text_cell('value_as_number')} IS NOT NULL AND {number_cell('value_as_number')} IS NULL"
    rows = run.column(f"SELECT {ORDER} FROM {mapped} WHERE {bad} ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("value_as_number is not a number", file=file, column="value_as_number", rows=rows)
    below_ops = [k for k, v in omop.OPERATORS.items() if v in ("<", "<=")]
    above_ops = [k for k, v in omop.OPERATORS.items() if v in (">", ">=")]
    operator = text_cell("operator_concept_id") if "operator_concept_id" in columns else "CAST(NULL AS STRING)"
    below = f"COALESCE({operator} IN ({', '.join(map(literal, below_ops))}), FALSE)"
    above = f"COALESCE({operator} IN ({', '.join(map(literal, above_ops))}), FALSE)"
    n_below, n_above = run.engine.rows(f"SELECT {run.count(below)}, {run.count(above)} FROM {mapped}")[0]
    censored = bool(n_below or n_above)  # the operator's code and the limit (value_as_number) travel with the value
    code = "CAST(CASE " + " ".join(f"WHEN {operator} = {literal(k)} THEN {CENSORING[v]}" for k, v in omop.OPERATORS.items()
                                   if v in CENSORING) + " ELSE 0 END AS TINYINT)"
    report.convert("measurement: operator '<' (below limit) -> half the limit", int(n_below or 0))
    report.convert("measurement: operator '>' (above limit) -> the limit", int(n_above or 0))
    source_unit = text_cell("m.unit_source_value") if "unit_source_value" in columns else "CAST(NULL AS STRING)"
    unit, join = source_unit, ""
    if "unit_concept_id" in columns:
        codes = _concept_column(run, "concept_code")
        unit, join = f"COALESCE(u.v, {source_unit})", f"LEFT JOIN {codes} u ON u.cid = {text_cell('m.unit_concept_id')}"
    when = text_cell("m.measurement_datetime") if "measurement_datetime" in columns else "CAST(NULL AS STRING)"
    ref = {c: (number_cell(f"m.range_{c}") if f"range_{c}" in columns else "CAST(NULL AS DOUBLE)") for c in ("low", "high")}
    value = number_cell("m.value_as_number")
    drafted = run.table("m", f"SELECT m.{ORDER}, {text_cell('m.person_id')} AS subject_id, "
                             f"COALESCE({when}, {text_cell('m.measurement_date')}) AS time_text, m.te_variable AS variable, "
                             f"(CASE WHEN {below} "
                             f"THEN {value} / 2 ELSE {value} END) AS value, {unit} AS unit, {ref['low']} AS ref_low, "
                             f"{ref['high']} AS ref_high"
                             + (f", {code} AS censored, (CASE WHEN {below} OR {above} THEN {value} END) AS "
                                f"{run.engine.dialect.quote('limit')}" if censored else "")
                             + f" FROM {mapped} m {join}")
    run.bad_dates(drafted, "measurement_datetime", "time_text", file=file)
    blank = run.one(f"SELECT COUNT(*) FROM {drafted} WHERE value IS NULL")
    report.reject(name, "value_as_number blank", blank)
    if blank:
        run.set_aside(drafted, "value IS NULL", time=run.date("time_text"))
    kept = f", censored, {run.engine.dialect.quote('limit')}" if censored else ""
    dated = run.table("m", f"SELECT {ORDER}, subject_id, {run.date('time_text')} AS time, variable, value, unit, "
                           f"ref_low, ref_high{kept} FROM {drafted} WHERE value IS NOT NULL")
    converted = check_ranges(run, convert_units(run, dated, file, censored=censored), file)
    count_repeats(run, converted, file)
    report.kept(name, run.one(f"SELECT COUNT(*) FROM {converted}"))
    return converted


def convert_units(run: SqlLoad, table: str, file: str, column: str = "value_as_number",
                  keep: tuple[str, ...] = (), censored: bool = False) -> str:
    """explorer.cohort.units.to_catalogue_units over the distinct (variable, unit) pairs, applied in SQL.

    `table` has te_src, subject_id, time, variable, value, unit, ref_low, ref_high (and `censored`, `limit` when
    `censored`); a unit that cannot be converted is the loader's UnitError naming `column` (the source column of
    the unit) and the first rows.
    """
    catalogue = run.boundary.catalogue
    pairs = run.engine.rows(f"SELECT variable, COALESCE(unit, '') AS unit, MIN({ORDER}) AS first_row, COUNT(*) AS n "
                            f"FROM {table} GROUP BY variable, COALESCE(unit, '') ORDER BY first_row")
    rows = []
    for variable, unit, _, n in pairs:
        try:
            scale, offset = conversion(variable, unit, catalogue=catalogue)
        except UnitError as err:
            first = run.column(f"SELECT {ORDER} FROM {table} WHERE variable = {literal(variable)} "
                               f"AND COALESCE(unit, '') = {literal(unit)} ORDER BY {ORDER} LIMIT 5")
            raise UnitError(str(err), file=file, column=column, rows=first) from None
        if (scale, offset) == (1.0, 0.0):
            continue
        target = catalogue[variable].unit
        decimals = None if exact_conversion(scale, offset) else report_precision(variable, target, catalogue=catalogue)
        rows.append((variable, unit, scale, offset, decimals))
        run.report.convert(f"unit {variable}: {canonical_unit(unit)} -> {target}", int(n))
    factors = run.register("te_omop_units", {
        "variable": pa.array([r[0] for r in rows], type=pa.string()),
        "unit": pa.array([r[1] for r in rows], type=pa.string()),
        "scale": pa.array([r[2] for r in rows], type=pa.float64()),
        "offset_": pa.array([r[3] for r in rows], type=pa.float64()),
        "decimals": pa.array([r[4] for r in rows], type=pa.int64())})
    q = run.engine.dialect.quote
    # a censored value's limit is converted with it (loaders.common.finish_measurements does the same)
    converted = {c: f"(CASE WHEN u.variable IS NULL THEN m.{q(c)} ELSE "
                    f"{rounded(f'(u.scale * m.{q(c)} + u.offset_)', 'u.decimals')} END) AS {q(c)}"
                 for c in ("value", "ref_low", "ref_high")}
    if censored:  # the limit unrounded, as units.to_catalogue_units(unrounded=("limit",))
        converted["limit"] = (f"(CASE WHEN u.variable IS NULL THEN m.{q('limit')} ELSE "
                              f"u.scale * m.{q('limit')} + u.offset_ END) AS {q('limit')}")
    kept = "".join(f", m.{c}" for c in keep) + (", m.censored" if censored else "")
    extra = f", {converted['limit']}" if censored else ""
    return run.table("m", f"SELECT m.{ORDER}, m.subject_id, m.time, m.variable{kept}, {converted['value']}, "
                          f"{converted['ref_low']}, {converted['ref_high']}{extra} FROM {table} m LEFT JOIN {factors} u "
                          "ON u.variable = m.variable AND u.unit = COALESCE(m.unit, '')")


def rounded(value: str, decimals: str) -> str:
    """explorer.cohort.units.round_reported in SQL: half away from zero, with its 1e-12 relative nudge."""
    factor = f"power(10.0, {decimals})"
    return (f"(CASE WHEN {decimals} IS NULL THEN {value} ELSE "
            f"sign({value}) * floor(abs({value}) * {factor} * (1 + 1e-12) + 0.5) / {factor} END)")


def check_ranges(run: SqlLoad, table: str, file: str, column: str = "value_as_number") -> str:
    """common.check_ranges: a value outside its variable's plausible range (after unit conversion)."""
    catalogue = run.boundary.catalogue
    ranged = [v for v in catalogue if v.range]
    limits = run.register("te_omop_ranges", {
        "variable": pa.array([v.name for v in ranged], type=pa.string()),
        "low": pa.array([float(v.range[0]) for v in ranged], type=pa.float64()),
        "high": pa.array([float(v.range[1]) for v in ranged], type=pa.float64())})
    checked = run.table("m", f"SELECT m.*, COALESCE(m.value < r.low OR m.value > r.high, FALSE) AS outside "
                             f"FROM {table} m LEFT JOIN {limits} r ON r.variable = m.variable")
    first = run.engine.rows(f"SELECT variable, value FROM {checked} WHERE outside ORDER BY {ORDER} LIMIT 1")
    if first:
        message = outside_range(catalogue[first[0][0]], first[0][1], run.boundary.on_invalid)
        if run.boundary.on_invalid == "reject":  # measured, but the value is not usable (common.check_ranges)
            run.set_aside(checked, "outside")
        # the loader names the source column of the value (Boundary.invalid reads it from the draft)
        checked = run.invalid(checked, "outside", file=file, column=column, message=message)
    return checked


def count_repeats(run: SqlLoad, table: str, file: str, keys: tuple[str, ...] = ("subject_id", "time", "variable")) -> None:
    """common.drop_duplicates(conflicts="report"): repeated labs are kept and counted; different values warned."""
    # a group holds two different values exactly when its least and greatest differ (NULLs aside, as COUNT
    # DISTINCT): one aggregation, where COUNT(DISTINCT) beside COUNT(*) made Spark aggregate every row twice
    # (23 JVM CPU-seconds of the canonical path at 10^5, benchmarks/results/spark_canonical_15_profile_1e5_censored.md)
    groups = run.table("repeats", f"SELECT variable, COUNT(*) AS n, COALESCE(MIN(value) <> MAX(value), FALSE) AS "
                                  f"differs FROM {table} GROUP BY {', '.join(keys)} HAVING COUNT(*) > 1")
    repeated, differing = run.engine.rows(f"SELECT SUM(n), SUM(CASE WHEN differs THEN n ELSE 0 END) FROM {groups}")[0]
    if repeated:
        run.report.convert("value: repeated measurements at one time (kept; screening uses their mean)", int(repeated))
    if differing:
        variables = run.column(f"SELECT DISTINCT variable FROM {groups} WHERE differs ORDER BY variable")
        run.report.warn(f"{table_name(file)}: {int(differing)} measurements share subject, time and variable "
                        f"with a different value ({', '.join(variables[:6])}); screening uses the "
                        "mean of such values")


def _count_unmapped(run: SqlLoad, where: str, table: str, column: str, condition: str) -> None:
    """LoadReport.count_unmapped of the concepts left out, labelled "name [id]" as the loader does."""
    found = run.engine.rows(
        f"SELECT {text_cell(column)} AS cid, COUNT(*) AS n, MIN({ORDER}) AS first_row FROM {table} "
        f"WHERE {condition} AND {text_cell(column)} IS NOT NULL GROUP BY {text_cell(column)} ORDER BY first_row")
    if not found:  # ordered by first appearance: the loader's order among equal counts
        return
    wanted = ", ".join(literal(c) for c, _, _ in found)
    names = dict(run.engine.rows(f"SELECT CAST(concept_id AS STRING), CAST(concept_name AS STRING) FROM "
                                 f"{run.cdm.relations['concept']} WHERE CAST(concept_id AS STRING) IN ({wanted})"))
    values = pd.Series(np.repeat([c for c, _, _ in found], [n for _, n, _ in found]), dtype=object)
    run.report.count_unmapped(where, values, label=lambda c: f"{names.get(c, c)} [{c}]")


# --- conditions, observations, drugs -------------------------------------------------------------

RECORD_COLUMNS = ("tab", "src", "rule_no", "subject_id", "start_", "end_", "variable", "value", "truth",
                  "ongoing_days", "event")


def _records(run: SqlLoad, spec: dict, persons: str) -> str:
    """Every mapped record (subject, start, end, rule) with its place in the loader's list (`pos`)."""
    cdm, report = run.cdm, run.report
    selects = []
    for number, (table, section, concept_col, start_col, end_col) in enumerate((
            ("condition_occurrence", "condition", "condition_concept_id", "condition_start_date", "condition_end_date"),
            ("observation", "observation", "observation_concept_id", "observation_date", None))):
        if not cdm.has(table):
            continue
        file, relation = cdm.where(table), cdm.relations[table]
        name = table_name(file)
        columns = cdm.require(table, ["person_id", concept_col, start_col])
        mapped = f"{text_cell(concept_col)} IN (SELECT concept_id FROM te_omop_rules WHERE section = {literal(section)})"
        total, kept = run.engine.rows(f"SELECT COUNT(*), {run.count(mapped)} FROM {relation}")[0]
        kept = int(kept or 0)
        report.reject(name, "concept not mapped to a catalogue variable", total - kept)
        report.kept(name, kept)
        _count_unmapped(run, f"{name} concepts", relation, concept_col, f"NOT ({mapped})")
        rows = run.table("rows", f"SELECT * FROM {relation} WHERE {mapped}")
        run.bad_dates(rows, start_col, start_col, file=file)
        has_end = bool(end_col) and end_col in columns
        if has_end:
            run.bad_dates(rows, end_col, end_col, file=file)
        end = run.date(f"t.{end_col}") if has_end else "CAST(NULL AS TIMESTAMP)"
        selects.append(
            f"SELECT {number} AS tab, t.{ORDER} AS src, r.rule_no, {text_cell('t.person_id')} AS subject_id, "
            f"{run.date('t.' + start_col)} AS start_, {end} AS end_, r.variable, r.value, r.truth, r.ongoing_days, "
            f"r.event FROM {rows} t JOIN te_omop_rules r ON r.section = {literal(section)} "
            f"AND r.concept_id = {text_cell('t.' + concept_col)}")
    if cdm.has("drug_exposure"):
        selects += _drugs(run, spec.get("drug", {}), persons)
    if not selects:
        selects = ["SELECT 0 AS tab, 0 AS src, 0 AS rule_no, CAST(NULL AS STRING) AS subject_id, "
                   "CAST(NULL AS TIMESTAMP) AS start_, CAST(NULL AS TIMESTAMP) AS end_, CAST(NULL AS STRING) AS "
                   "variable, CAST(NULL AS STRING) AS value, TRUE AS truth, CAST(NULL AS DOUBLE) AS ongoing_days, "
                   "CAST(NULL AS STRING) AS event FROM te_omop_rules WHERE FALSE"]
    union = " UNION ALL ".join(f"SELECT {', '.join(RECORD_COLUMNS)} FROM ({s}) s{i}" for i, s in enumerate(selects))
    return run.table("records", f"SELECT u.*, row_number() OVER (ORDER BY tab, src, rule_no) - 1 AS pos "
                                f"FROM ({union}) u")


def _drugs(run: SqlLoad, section: dict, persons: str) -> list[str]:
    """The loader's _drug_records: exposures whose concept name matches, current at the index date."""
    cdm, engine = run.cdm, run.engine
    file, relation = cdm.where("drug_exposure"), cdm.relations["drug_exposure"]
    name = table_name(file)
    columns = cdm.require("drug_exposure", ["person_id", "drug_concept_id", "drug_exposure_start_date"])
    run.bad_dates(relation, "drug_exposure_start_date", "drug_exposure_start_date", file=file)
    if "drug_exposure_end_date" in columns:
        run.bad_dates(relation, "drug_exposure_end_date", "drug_exposure_end_date", file=file)
    start = run.date("d.drug_exposure_start_date")
    end = run.date("d.drug_exposure_end_date") if "drug_exposure_end_date" in columns else "CAST(NULL AS TIMESTAMP)"
    supply = number_cell("d.days_supply") if "days_supply" in columns else "CAST(NULL AS DOUBLE)"
    names = _concept_column(run, "concept_name")
    drugs = run.table("drugs", f"SELECT d.{ORDER} AS src, {text_cell('d.person_id')} AS subject_id, "
                               f"lower(COALESCE(c.v, '')) AS name, {start} AS start_, COALESCE({end}, "
                               f"{engine.plus_micros(start, f'COALESCE({supply}, 0) * {MICROS_PER_DAY}')}) AS end_, "
                               f"p.ix FROM {relation} d LEFT JOIN {names} c ON c.cid = {text_cell('d.drug_concept_id')} "
                               f"LEFT JOIN {persons} p ON p.subject_id = {text_cell('d.person_id')}")
    selects, used = [], []
    for number, (variable, rule) in enumerate(section.items()):
        patterns = [str(p).lower() for p in rule.get("name_contains", [])]
        hit = "(" + " OR ".join(f"instr(name, {literal(p)}) > 0" for p in patterns) + ")" if patterns else "FALSE"
        window = float(rule.get("within_days", 0)) * MICROS_PER_DAY
        current = f"{hit} AND start_ <= ix AND end_ >= {engine.plus_micros('ix', repr(-window))}"
        used.append(hit)
        selects.append(f"SELECT 2 AS tab, src, {number} AS rule_no, subject_id, start_, CAST(NULL AS TIMESTAMP) AS end_, "
                       f"{literal(variable)} AS variable, CAST(NULL AS STRING) AS value, TRUE AS truth, "
                       f"CAST(NULL AS DOUBLE) AS ongoing_days, CAST(NULL AS STRING) AS event FROM {drugs} "
                       f"WHERE {current}")
    total, n_used = run.engine.rows(f"SELECT COUNT(*), {run.count(' OR '.join(used) or 'FALSE')} FROM {drugs}")[0]
    run.report.reject(name, "drug not mapped to a catalogue variable", total - int(n_used or 0))
    run.report.kept(name, int(n_used or 0))
    return selects


def _static(run: SqlLoad, spec: dict, records: str, persons: str) -> tuple[list[str], str]:
    """The subject columns the records set at the index date, as a table (subject_id, columns...)."""
    before = run.table("before", f"SELECT b.*, q.ix FROM {records} b JOIN {persons} q ON q.subject_id = b.subject_id "
                                 "WHERE b.start_ <= q.ix")
    names, selects, joins = [], [], []
    for variable in sorted(omop.static_variables(spec)):
        if variable == "diabetes_type":
            tally = run.table("tally", f"SELECT subject_id, value, COUNT(*) AS n, MAX(start_) AS last FROM {before} "
                                       "WHERE variable = 'diabetes_type' AND value IS NOT NULL GROUP BY subject_id, value")
            # the most frequent stated type, ties -> the latest (the loader's sort on n, then last)
            kinds = run.table("kinds", "SELECT subject_id, value AS kind, kinds FROM (SELECT subject_id, value, "
                                       "row_number() OVER (PARTITION BY subject_id ORDER BY n DESC, last DESC) AS k, "
                                       f"COUNT(*) OVER (PARTITION BY subject_id) AS kinds FROM {tally}) t WHERE k = 1")
            run.report.convert("diabetes_type: records of more than one type -> the most frequent",
                               run.one(f"SELECT COUNT(*) FROM {kinds} WHERE kinds > 1"))
            first = run.table("first", f"SELECT subject_id, MIN(start_) AS first FROM {before} "
                                       "WHERE variable = 'diabetes_type' GROUP BY subject_id")
            any_kind = run.one(f"SELECT COUNT(*) FROM {kinds}") > 0
            joins += [f"LEFT JOIN {kinds} k ON k.subject_id = p.subject_id",
                      f"LEFT JOIN {first} f ON f.subject_id = p.subject_id"]
            selects += ["COALESCE(k.kind, CASE WHEN p.observed_from IS NOT NULL THEN 'none' END) AS diabetes_type",
                        ("f.first" if any_kind else "CAST(NULL AS TIMESTAMP)") + " AS diagnosis_date"]
            names += ["diabetes_type", "diagnosis_date"]
            continue
        elapsed = f"({run.ns('b.ix')} - {run.ns('b.start_')})"  # whole days, as pandas' Timedelta.days
        days = f"CAST({run.engine.dialect.int_div(elapsed, str(DAY_NS))} AS DOUBLE)"
        still = f"(COALESCE(b.end_ >= b.ix, FALSE) OR (b.end_ IS NULL AND {days} <= COALESCE(b.ongoing_days, 0)))"
        alias = f"v{len(names)}"
        hits = run.table("hits", f"SELECT b.subject_id, MAX(CASE WHEN b.truth THEN 1 ELSE 0 END) AS truth FROM {before} b "
                                 f"WHERE b.variable = {literal(variable)} AND (b.ongoing_days IS NULL OR {still}) "
                                 "GROUP BY b.subject_id")
        joins.append(f"LEFT JOIN {hits} {alias} ON {alias}.subject_id = p.subject_id")
        selects.append(f"COALESCE({alias}.truth = 1, CASE WHEN p.observed_from IS NOT NULL THEN FALSE END) "
                       f"AS {run.engine.dialect.quote(variable)}")
        names.append(variable)
    columns = "".join(f", {s}" for s in selects)
    return names, run.table("subjects", f"SELECT p.{ORDER}, p.subject_id, p.sex, p.birth, p.ix, p.observed_from"
                                        f"{columns} FROM {persons} p {' '.join(joins)}")


# --- the canonical tables ----------------------------------------------------------------------------

def _subjects_checks(run: SqlLoad, subjects: str, file: str, static: list[str]) -> None:
    """common._check_subjects on the subjects (the loader's order and messages)."""
    t = subjects
    rows = run.column(f"SELECT {ORDER} FROM {t} WHERE subject_id IS NULL ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("subject id is missing", file=file, column="subject_id", rows=rows)
    rows = run.column(f"SELECT {ORDER} FROM {t} WHERE ix IS NULL ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("index (screening) date is missing", file=file, column="index_date", rows=rows)
    dated = [("birth_date", "birth")] + [(c, c) for c in static if c == "diagnosis_date"] + [("index_date", "ix")]
    for column, sql in dated:
        found = run.engine.rows(f"SELECT {sql}, {ORDER} FROM {t} WHERE {sql} > {run.timestamp(run.now)} "
                                f"ORDER BY {ORDER} LIMIT 10")
        if found:
            raise DataError(f"date in the future ({found[0][0].date()})", file=file, column=column,
                            rows=[r for _, r in found])
    for column, sql in dated[1:]:
        rows = run.column(f"SELECT {ORDER} FROM {t} WHERE {sql} < birth ORDER BY {ORDER} LIMIT 10")
        if rows:
            raise DataError(f"{column} is before the birth date", file=file, column=column, rows=rows)
    check_from_dates_sql(run, t, file, {"index_date": "ix", "birth_date": "birth", **{c: c for c in static
                                                                                   if c == "diagnosis_date"}})


def check_from_dates_sql(run: SqlLoad, subjects: str, file: str, dates: Mapping[str, str]) -> None:
    """common.check_from_dates on the rows whose dates can give a value outside its plausible range (an age of 124
    from a placeholder birth date): the rule itself is the loader's, run on the rows more than the range's top in
    365-day years (or less than its bottom in 366-day years) before the index date, a superset of those outside.
    `dates` maps index_date and the date columns the subjects have to their SQL."""
    catalogue = run.boundary.catalogue
    dated = [(feature, column) for feature, (column, _, _) in FROM_DATES.items()
             if column in dates and feature in catalogue and catalogue[feature].range]
    if not dated:
        return
    near = []
    for feature, column in dated:
        low, high = catalogue[feature].range
        days = f"(({run.ns(dates['index_date'])} - {run.ns(dates[column])}) / {float(DAY_NS)!r})"
        near.append(f"COALESCE({days} > {high * 365.0!r} OR {days} < {low * 366.0!r}, FALSE)")
    columns = ["index_date", *(column for _, column in dated)]
    found = run.engine.rows(f"SELECT subject_id, {', '.join(dates[c] for c in columns)}, {ORDER} FROM {subjects} "
                            f"WHERE {' OR '.join(near)} ORDER BY {ORDER}")
    frame = pd.DataFrame({"subject_id": pd.array([r[0] for r in found], dtype="string"),
                          **{column: pd.to_datetime(pd.Series([r[i + 1] for r in found], dtype=object))
                             .astype("datetime64[ns]").to_numpy() for i, column in enumerate(columns)}},
                         index=[r[-1] for r in found])
    check_from_dates(frame, run.boundary, file=file)


def check_times(run: SqlLoad, table: str, subjects: str, file: str, column: str, rows: str) -> str:
    """common.finish_cohort's per-table checks: known subject, time present, not in the future, not before birth."""
    with_birth = run.table("timed", f"SELECT t.*, s.birth AS te_birth, s.subject_id IS NOT NULL AS te_known "
                                    f"FROM {table} t LEFT JOIN {subjects} s ON s.subject_id = t.subject_id")
    checks = (("NOT te_known", "subject_id", "subject id not in the subjects table"),
              ("time IS NULL", column, "time is missing"),
              (f"time > {run.timestamp(run.now)}", column, "date in the future"),
              ("time < te_birth", column, "date before the birth date"))
    # counted together on the joined rows: a check that no row fails there fails none after the others drop
    # rows, so only the checks some row fails are asked again, in the loader's order, on what is left
    failing = run.counts(with_birth, [condition for condition, _, _ in checks])
    checked = with_birth
    for (condition, named, message), n in zip(checks, failing, strict=True):
        if n:
            checked = run.then(checked, run.invalid(checked, condition, file=file, column=named, message=message,
                                                    rows=rows, n=n if checked == with_birth else None))
    return checked


def warn_without_uln(run: SqlLoad, measurements: str, subject_columns: tuple[str, ...] = ()) -> None:
    """common.finish_cohort's warning: a lab with values and no upper limit of normal in any of them."""
    catalogue = run.boundary.catalogue
    found = run.engine.rows(f"SELECT variable, COUNT(*), COUNT(ref_high) FROM {measurements} GROUP BY variable "
                            "ORDER BY variable")
    variables = {v for v, _, _ in found}
    for variable, n, with_uln in found:
        uln = f"{variable}_uln"
        if uln not in catalogue or uln in variables or uln in subject_columns or with_uln:
            continue
        run.report.warn(f"{variable}: none of its {n} values has an upper limit of normal, "
                        f"so a criterion using {uln} (\"x ULN\") is unknown for everyone; give "
                        "ref_high (a column, or a constant with its unit) in the mapping")


def load_omop_sql(path: str | Path, engine: DuckTables | SparkTables, *, mapping: str | Path | dict | None = None,
                  index_date: str | pd.Timestamp | Mapping | None = None, on_invalid: str = "raise",
                  features_catalogue: Catalogue | None = None) -> tuple[list[str], set[str], LoadReport]:
    """Build features_sql's canonical tables (VIEWS) in the engine from the CDM at `path`, by the loader's rules.

    Returns the subject columns, the tables that hold rows, and the load report.
    """
    path = Path(path)
    cdm = Cdm(path, engine)
    for table in ("person", "concept"):
        if not cdm.has(table):
            raise DataError(f"no {table} table ({table.upper()}.csv) in the OMOP CDM", file=str(path))
    spec = omop.read_mapping(mapping)
    report = LoadReport(source=str(path), kind="omop")
    boundary = Boundary(report, on_invalid, loader_catalogue())
    omop.check_mapping(spec, boundary.catalogue,
                       source=str(mapping) if isinstance(mapping, str | Path) else "OMOP mapping")
    run = SqlLoad(engine, cdm, boundary, features_catalogue or default_catalogue())
    for table in omop.TABLES:  # the loader's order, so the reports read alike
        if not cdm.has(table):
            continue
        n = run.one(f"SELECT COUNT(*) FROM {cdm.relations[table]}")
        if not n:  # as the loader: no persons (or concepts) stop the load, any other table is as if absent
            if table in ("person", "concept"):
                raise DataError(NO_SUBJECTS if table == "person" else NO_ROWS, file=cdm.where(table))
            read_as_absent(report, table_name(cdm.where(table)), table)
            del cdm.relations[table], cdm.files[table]
        elif table != "concept":
            report.read(table_name(cdm.where(table)), n)
    _rule_tables(run, spec, _concepts(run, spec))
    persons = _persons(run, index_date=index_date)
    measurements = _measurements(run) if cdm.has("measurement") else None
    records = _records(run, spec, persons)
    static, subjects = _static(run, spec, records, persons)

    pfile = cdm.where("person")
    _subjects_checks(run, subjects, pfile, static)
    if measurements is not None:
        measurements = check_times(run, measurements, subjects, cdm.where("measurement"), "time", ORDER)
    events = run.table("events", f"SELECT pos, subject_id, start_ AS time, event FROM {records} WHERE event IS NOT NULL")
    events = check_times(run, events, subjects, pfile, "time", "pos")
    types = sorted({r["event"] for rules in spec.get("condition", {}).values() for r in omop.mapping_rules(rules)
                    if "event" in r})
    kinds = run.register("te_omop_event_types", {"event": pa.array(types, type=pa.string()),
                                                 "e": pa.array(range(len(types)), type=pa.int64())})
    history = run.table("history", f"SELECT row_number() OVER (ORDER BY e.e, p.{ORDER}) - 1 AS pos, p.subject_id, "
                                   f"e.event, p.observed_from AS time FROM {kinds} e CROSS JOIN {subjects} p "
                                   "WHERE p.observed_from IS NOT NULL")
    history = check_times(run, history, subjects, pfile, "recorded_from", "pos")
    if measurements is not None:
        warn_without_uln(run, measurements)
    return _canonical(run, subjects, static, measurements, events, history)


def _canonical(run: SqlLoad, subjects: str, static: list[str], measurements: str | None, events: str,
               history: str) -> tuple[list[str], set[str], LoadReport]:
    """The prepared tables of features_sql (cohort_tables' columns and order)."""
    catalogue, engine, q = run.features, run.engine, run.engine.dialect.quote
    columns = ["subject_id", f"row_number() OVER (ORDER BY {ORDER}) - 1 AS {q('__row')}",
               f"{run.ns('ix')} AS {q('__index')}", f"{run.ns('birth')} AS {q('__birth')}"]
    names = ["subject_id", "__row", "__index", "__birth"]
    if "diagnosis_date" in static:
        columns.append(f"{run.ns('diagnosis_date')} AS {q('__diagnosis')}")
        names.append("__diagnosis")
    for item, column in typed_columns(q, catalogue, ["sex"] + static, SUBJECT_FIELDS):
        columns.append(item)
        names.append(column)
    engine.table(VIEWS["subjects"], f"SELECT {', '.join(columns)} FROM {subjects}")
    tables = {"subjects"}
    if measurements is not None and run.one(f"SELECT COUNT(*) FROM {measurements}"):
        censoring = f", censored, {q('limit')}" if "censored" in engine.types(measurements) else ""
        engine.table(VIEWS["measurements"], f"SELECT subject_id, variable, value, ref_high, {run.ns('time')} AS "
                                            f"{q('__time')}{censoring} FROM {measurements}")
        tables.add("measurements")
    if run.unusable_view(subjects):
        tables.add("unusable")
    if run.one(f"SELECT COUNT(*) FROM {events}"):
        engine.table(VIEWS["events"], f"SELECT row_number() OVER (ORDER BY pos) - 1 AS {q('__row')}, subject_id, "
                                      f"event, CAST(NULL AS BIGINT) AS severity, {run.ns('time')} AS {q('__time')} "
                                      f"FROM {events}")
        tables.add("events")
    if run.one(f"SELECT COUNT(*) FROM {history}"):
        engine.table(VIEWS["event_history"], f"SELECT row_number() OVER (ORDER BY pos) - 1 AS {q('__row')}, "
                                             f"subject_id, event, {run.ns('time')} AS {q('__time')} FROM {history}")
        tables.add("event_history")
    return names, tables, run.report


def omop_screening_sql(path: str | Path, *, engine: str = "duckdb", mapping: str | Path | dict | None = None,
                       index_date: str | pd.Timestamp | Mapping | None = None, on_invalid: str = "raise",
                       lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                       catalogue: Catalogue | None = None, con: Any = None, spark: Any = None,
                       master: str | None = None, out: Path | None = None, out_above: int | None = None,
                       progress: bool = False) -> tuple[Screening | Path, LoadReport]:
    """The screening of an OMOP CDM read in place (features derived by features_sql), and its load report.

    `catalogue`: the variables the features are typed and derived by (a trial's); the CDM is read, as by
    the loader, against the bundled catalogue. `con`: a DuckDB connection; `spark` / `master`: a Spark
    session or master URL. With `out` and more than `out_above` persons, the screening is written to the folder
    `out` range by range and that folder returned (screening_in_place).
    """
    if engine == "spark" and Path(path).suffix.lower() in DATABASE_SUFFIXES:  # said before Spark starts
        SparkTables.attach(None, Path(path))

    def build(tables: DuckTables | SparkTables):
        return load_omop_sql(path, tables, mapping=mapping, index_date=index_date, on_invalid=on_invalid,
                             features_catalogue=catalogue)

    return screening_in_place(path, build, what="the OMOP CDM", engine=engine, lookback_days=lookback_days,
                              cgm_days=cgm_days, catalogue=catalogue, con=con, spark=spark, master=master,
                              folder=out, folder_above=out_above, progress=progress)


def screening_in_place(path: str | Path, build, *, what: str, engine: str = "duckdb",
                       lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                       catalogue: Catalogue | None = None, con: Any = None, spark: Any = None,
                       master: str | None = None, folder: Path | None = None, folder_above: int | None = None,
                       range_subjects: int = RANGE_SUBJECTS, progress: bool = False
                       ) -> tuple[Screening | Path, LoadReport]:
    """The Screening derived by features_sql from the views `build(tables)` fills, in DuckDB or Spark.

    `build` takes DuckTables or SparkTables and returns (subject columns, tables with rows, load report);
    an engine's own error becomes one DataError line naming `what` and the path. With `folder` and more than
    `folder_above` subjects (-1: any number), the screening is written to `folder` by ranges of
    `range_subjects` (folder_writer: by DuckDB, or by a local Spark session; a cluster's session derives in
    memory) and the folder is returned instead: a Screening of 10^6 subjects held 7-8 GB while it was made.
    The OMOP CDM and the canonical tables (explorer.engine.canonical_sql) both come here.
    """
    if engine == "duckdb":
        import duckdb

        own = con is None
        if own:
            spill = tempfile.mkdtemp(prefix="trial-explorer-duckdb-")
            # The steps copy the tables a few times: DuckDB holds them within MEMORY_LIMIT and spills the rest
            # to a folder of its own (by default it takes 80 % of RAM, and an in-memory database spills into
            # the working directory). The progress bar goes off: DuckDB draws it on stdout, into the CLI's JSON.
            con = duckdb.connect(":memory:", config={"memory_limit": MEMORY_LIMIT})
            limit_spill(con, spill)  # a spill stops with spill_error's line before the disk is full
            con.execute("SET enable_progress_bar = false").fetchall()
        tables: DuckTables | SparkTables = DuckTables(con)
        errors: tuple = (duckdb.Error,)
    elif engine == "spark":
        from pyspark.errors import PySparkException

        from explorer.engine.spark import spark_error, spark_session

        own = False
        tables = SparkTables(spark if spark is not None else spark_session(master))
        errors = (PySparkException,)
    else:
        raise DataError(f"{what} can be read in place by duckdb or spark, not {engine!r}", file=str(path))
    try:
        names, built, report = build(tables)
        run = tables.runner()
        if folder is not None and folder_above is not None and _writes_folder(run) and \
                run.arrow(f"SELECT COUNT(*) AS n FROM {run.dialect.quote(VIEWS['subjects'])}", {}).column("n")[0]\
                .as_py() > folder_above:
            if own:  # a folder's subjects have no order to keep (folder_writer), and DuckDB holds less without
                con.execute("SET preserve_insertion_order = false")
            target = write_screening_folder(run, built, names, folder, lookback_days=lookback_days, cgm_days=cgm_days,
                                            catalogue=catalogue, range_subjects=range_subjects, progress=progress,
                                            source=str(path))
            check_written(target, path, catalogue)
            return target, report
        screening = derive(run, built, names, lookback_days=lookback_days, cgm_days=cgm_days,
                           catalogue=catalogue or default_catalogue(), source=str(path))
        return screening, report
    except errors as err:
        first = " ".join(str(err).split()) if engine == "duckdb" else spark_error(err)
        raise DataError(spill_error(err) or csv_error(err) or f"{engine} could not read {what}: {first}", file=str(path)) from None
    finally:
        tables.close()
        if own:
            tables.con.close()
            shutil.rmtree(spill, ignore_errors=True)


def _writes_folder(run: DuckRunner | SparkRunner) -> bool:
    """Whether the engine can write a screening folder on this machine (DuckDB, or a local Spark session)."""
    from explorer.engine.spark import is_local

    return isinstance(run, DuckRunner) or is_local(run.spark)
