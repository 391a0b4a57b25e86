"""The project's canonical tables (a CSV/Parquet folder) read in place by DuckDB or Spark, by the canonical loader's rules.

explorer.cohort.loaders.canonical (and the finish_* steps of loaders.common it calls) is the reference.
Here each of its steps is a SELECT over the files where they lie, in the loader's order and with its
one-line errors (file, column, first rows: the file's row numbers, header = row 1); with
on_invalid="reject" the same rows are dropped and counted, so the load report is the loader's line for
line. The steps end in the tables named in features_sql.VIEWS, from which `features_sql.derive` derives
the screening features as from a loaded Cohort. Nothing of the folder passes through pandas.

A cell rule is never written twice: the loader's own functions decide every *distinct* text of a column
that is not a plain number (missing markers, censored values such as "<0.017", sexes, yes/no values,
categories, CGM's "LO"/"HI"), and the unit conversions are explorer.cohort.units' (one `conversion` per
distinct (variable, unit) pair, through omop_sql.convert_units). Only plain numbers (values.PLAIN_NUMBER)
are cast in SQL. When a loader function refuses a distinct text, its own error is raised again naming the
file's first rows that hold the refused texts.

Entry points: `register(con, folder)` fills the views in a DuckDB connection (what a benchmark calls),
`canonical_screening_sql(folder, engine=...)` gives the Screening and the load report, and
`canonical_screening_folder(folder, out)` writes the screening as a folder range by range instead (cohorts
whose features do not fit in memory: nothing passes through pandas).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.features import SUBJECT_FIELDS as FEATURE_SUBJECT_FIELDS
from explorer.cohort.loaders.canonical import (
    LIMIT_NEEDED,
    POINT_DISAGREES,
    SUBJECT_FIELDS,
    require_subjects,
    subject_outside_range,
    table_files,
)
from explorer.cohort.loaders.cgm import SENSOR_RANGE_MG_DL, sensor_glucose
from explorer.cohort.loaders.common import (
    CGM_OUTSIDE,
    CGM_RANGE,
    INFINITE_IN_NUMBERS,
    TEXT_IN_NUMBERS,
    Boundary,
    check_text_cells,
    check_unique_ids,
    loader_catalogue,
    normalise_boolean,
    normalise_category,
    normalise_sex,
    require_columns,
    table_name,
)
from explorer.cohort.loaders.readers import (
    NO_SUBJECTS,
    check_format,
    check_header,
    check_utf8,
    read_as_absent,
)
from explorer.cohort.loaders.report import FIRST_ROWS_KEPT, LoadReport
from explorer.cohort.screening import Screening
from explorer.cohort.values import (
    MISSING_TOKENS,
    PLAIN_NUMBER,
    censored_limits,
    censoring_codes,
    parse_cell,
    subject_censoring,
)
from explorer.engine.features_sql import RANGE_SUBJECTS, VIEWS
from explorer.engine.omop_sql import (
    ORDER,
    TEXT_SUFFIXES,
    DuckTables,
    SparkTables,
    SqlLoad,
    check_from_dates_sql,
    check_ranges,
    check_times,
    convert_units,
    count_repeats,
    literal,
    screening_in_place,
    typed_columns,
    warn_without_uln,
)
from explorer.errors import ROWS_SHOWN, DataError

NUMBER_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT",
                "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "LONG", "SHORT", "BYTE")
TIME_TYPES = ("TIMESTAMP", "DATE")
FINITE = "1.7976931348623157e308"  # the largest double: a plain number beyond it overflows (the loader: text)


class Folder:
    """The canonical tables of a folder where they lie, each a view with its source row number (`te_src`)."""

    def __init__(self, folder: Path, engine: DuckTables | SparkTables):
        self.path = folder
        self.files = table_files(folder)  # the loader's rule: a table given twice is an error
        require_subjects(self.files, folder)
        self.relations: dict[str, str] = {}
        for table, path in self.files.items():
            check_format(path)  # the loader's refusal of an empty file or one whose content is not its extension
            if path.suffix.lower() in TEXT_SUFFIXES:
                check_utf8(path)  # the engines would refuse it otherwise, or (Spark) read it without a word
                check_header(path)  # a column named twice: the loader's refusal
            engine.scan(path, f"te_canon_{table}")
            self.relations[table] = f"te_canon_{table}"
            if path.suffix.lower() in TEXT_SUFFIXES and isinstance(engine, DuckTables):
                # a CSV view is parsed again by every query that reads it, and the checks read it a dozen
                # times: its text is read once into a table (DuckDB spills it to disk when memory runs out)
                engine.table(f"te_canon_{table}_text", f"SELECT * FROM te_canon_{table}")
                self.relations[table] = f"te_canon_{table}_text"

    def has(self, table: str) -> bool:
        return table in self.relations

    def where(self, table: str) -> str:
        return str(self.files[table])


class Draft:
    """One source table being drafted: the SQL of each drafted column over its rows `r`, and the lookups joined.

    Each method runs the loader's checks of one column (raising its errors) and returns the column's SQL.
    """

    def __init__(self, run: SqlLoad, relation: str, file: str):
        self.run, self.relation, self.file = run, relation, file
        self.types = run.engine.types(relation)
        self.columns = [c for c in self.types if c != ORDER]
        self.joins: list[str] = []
        self.q = run.engine.dialect.quote
        self.censoring: dict[str, tuple[str, str]] = {}  # column -> (censoring code, limit) SQL, when any is censored
        # Spark runs each statement as a job of its own (0.5-1 s whatever the table): what every typed number
        # column needs counted is asked in one statement, and the distinct texts of many columns in another
        self._number_counts: dict[str, tuple[int, int]] | None = None
        self._texts: dict[tuple[str, str], list[str]] = {}
        self._mapped: dict[str, list[tuple[str, str, list[str], pa.Array]]] = {}  # value type -> lookups to join

    def has(self, column: str) -> bool:
        return column in self.types

    def raw(self, column: str) -> str:
        return f"r.{self.q(column)}"

    def trimmed(self, column: str) -> str:
        """The loader's `.astype("string").str.strip()`: NULL stays NULL, blank stays blank."""
        return f"TRIM(CAST({self.raw(column)} AS STRING))"

    def _distinct(self, text: str, where: str = "TRUE") -> list[str]:
        """The distinct texts of a column in order of first appearance (the loader's factorize order)."""
        if (text, where) not in self._texts:
            self.read_texts([(text, where)])
        return self._texts[(text, where)]

    def read_texts(self, wanted: list[tuple[str, str]]) -> None:
        """The distinct texts (`_distinct`) of several (text, where) pairs, read in one statement."""
        wanted = [w for w in dict.fromkeys(wanted) if w not in self._texts]
        if not wanted:
            return
        parts = [f"SELECT {k} AS k, {text} AS t, r.{ORDER} AS o FROM {self.relation} r WHERE {text} IS NOT NULL "
                 f"AND {where}" for k, (text, where) in enumerate(wanted)]
        found: dict[int, list[str]] = {k: [] for k in range(len(wanted))}
        for k, t, _ in self.run.engine.rows(f"SELECT k, t, MIN(o) AS first FROM ({' UNION ALL '.join(parts)}) x "
                                            "GROUP BY k, t ORDER BY k, first"):
            found[int(k)].append(t)
        for k, pair in enumerate(wanted):
            self._texts[pair] = found[k]

    def mapped_texts(self, columns: list[str]) -> None:
        """Read at once the distinct texts that `mapped` will ask of these columns."""
        self.read_texts([(f"CAST({self.raw(c)} AS STRING)", "TRUE") for c in columns if self.has(c)])

    def _typed_number(self, column: str) -> tuple[str, str, str]:
        """A typed number column's value, its 'beyond the largest double' and its 'missing' conditions."""
        x = f"CAST({self.raw(column)} AS DOUBLE)"
        return x, f"abs({x}) > {FINITE}", f"({x} IS NULL OR {self.run.engine.dialect.isnan(x)})"

    def number_counts(self, column: str) -> tuple[int, int]:
        """(infinite, missing) cells of a typed number column; every typed number column's counted at once."""
        if self._number_counts is None:
            typed = [c for c in self.columns if self.types[c].startswith(NUMBER_TYPES)]
            conditions = [cond for c in typed for cond in self._typed_number(c)[1:]]
            counted = self.run.counts(f"{self.relation} r", conditions)
            self._number_counts = {c: (counted[2 * i], counted[2 * i + 1]) for i, c in enumerate(typed)}
        return self._number_counts[column]

    def _again(self, err: DataError, text: str, refused: list[str]) -> DataError:
        """The loader function's error about distinct texts, naming the first source rows that hold them."""
        detail = err.reason  # the message without its place
        wanted = ", ".join(literal(t) for t in refused)
        rows = self.run.column(f"SELECT r.{ORDER} FROM {self.relation} r WHERE {text} IN ({wanted}) "
                               f"ORDER BY r.{ORDER} LIMIT {ROWS_SHOWN}")
        count = self.run.one(f"SELECT COUNT(*) FROM {self.relation} r WHERE {text} IN ({wanted})")
        return type(err)(detail, file=err.file, column=err.column, rows=rows, count=count)

    def _lookup(self, text: str, keys: list[str], columns: dict[str, pa.Array]) -> tuple[str, str]:
        """Register a small table (key -> columns) and join it on `text`; returns its alias and name."""
        alias = f"k{len(self.joins)}"
        name = self.run.register(f"te_canon_lookup_{self.run.steps}_{alias}",
                                 {"key": pa.array(keys, type=pa.string()), **columns})
        self.joins.append(f"LEFT JOIN {name} {alias} ON {alias}.key = {text}")
        return alias, name

    def mapped(self, column: str, rule: Callable[[pd.Series], pd.Series], arrow_type: pa.DataType) -> str:
        """A column decided by a loader function (normalise_sex, _boolean, _category) on its distinct texts."""
        text = f"CAST({self.raw(column)} AS STRING)"  # not trimmed: the loader's function strips
        keys = self._distinct(text)
        try:
            values = rule(pd.Series(keys, dtype="string"))
        except DataError as err:  # err.rows are positions among the distinct texts
            raise self._again(err, text, [keys[i] for i in err.rows]) from None
        values = pa.array(pd.Series(values).astype(object).where(pd.notna(values), None).tolist(), type=arrow_type)
        # registered with the other mapped columns of its type when the step is made: one upload for them all
        alias = f"k{len(self.joins)}"
        self.joins.append("")  # its join, written by step()
        self._mapped.setdefault(str(arrow_type), []).append((alias, text, keys, values))
        return f"{alias}.value"

    def _mapped_joins(self) -> None:
        """The lookups of the mapped columns, one table per value type (column number, key, value), joined
        once per column: in Spark each upload is a job of its own, and a table of subjects has dozens."""
        for kind, lookups in self._mapped.items():
            name = self.run.register(f"te_canon_lookup_{self.run.steps}_{kind}", {
                "col": pa.array([i for i, (_, _, keys, _) in enumerate(lookups) for _ in keys], type=pa.int32()),
                "key": pa.array([k for _, _, keys, _ in lookups for k in keys], type=pa.string()),
                "value": pa.concat_arrays([values for *_, values in lookups]) if lookups else pa.array([])})
            for i, (alias, text, _, _) in enumerate(lookups):
                self.joins[int(alias[1:])] = f"LEFT JOIN {name} {alias} ON {alias}.col = {i} AND {alias}.key = {text}"
        self._mapped.clear()

    def numbers(self, column: str, *, kind: str = "measurement", count_missing: bool = True,
                report: bool = True) -> str:
        """common.numbers: values.parse_numbers' rules, its conversions counted in the report."""
        run, file = self.run, self.file
        counts: dict[str, int] = {}
        if self.types[column].startswith(NUMBER_TYPES):  # a typed column (Parquet): the loader's numeric path
            x, infinite, missing = self._typed_number(column)
            n_infinite, n_missing = self.number_counts(column)
            rows = run.column(f"SELECT r.{ORDER} FROM {self.relation} r WHERE {infinite} ORDER BY r.{ORDER} "
                              f"LIMIT {ROWS_SHOWN}") if n_infinite else []
            if rows and not self._made_unknown(column, infinite, INFINITE_IN_NUMBERS):
                # raised by the loader's own function, with these rows and their count
                count = run.one(f"SELECT COUNT(*) FROM {self.relation} r WHERE {infinite}")
                try:
                    check_text_cells(pd.Series(np.inf, index=rows), np.full(len(rows), np.nan), file=file,
                                     column=column)
                except DataError as err:
                    raise DataError(err.reason, file=file, column=column, rows=rows, count=count) from None
            counts["missing"] = n_missing
            sql = f"(CASE WHEN {missing} OR {infinite} THEN NULL ELSE {x} END)"
        else:
            text = self.trimmed(column)
            plain = (f"({run.engine.matches(text, PLAIN_NUMBER)} AND "
                     f"abs(TRY_CAST({text} AS DOUBLE)) <= {FINITE})")
            keys = self._distinct(text, f"NOT COALESCE({plain}, FALSE)")
            cells = [parse_cell(k.strip(), kind, MISSING_TOKENS) for k in keys]
            refused = [k for k, (_, _, rule) in zip(keys, cells, strict=True) if rule == "text"]
            wanted = ", ".join(literal(t) for t in refused)
            if refused and not self._made_unknown(column, f"{text} IN ({wanted})", TEXT_IN_NUMBERS):
                # the loader's message (examples, hint) from its own function, on the refused distinct texts
                try:
                    check_text_cells(pd.Series(refused, dtype="string"), np.full(len(refused), np.nan), file=file,
                                     column=column)
                except DataError as err:
                    raise self._again(err, text, refused) from None
            counts["missing"] = run.one(f"SELECT COUNT(*) FROM {self.relation} r WHERE {text} IS NULL")
            sql = f"(CASE WHEN {plain} THEN CAST({text} AS DOUBLE) END)"
            if keys:
                codes = [int(c) for _, c, _ in cells]
                values = np.array([v for v, _, _ in cells], dtype="float64")
                limits = censored_limits(values, np.array(codes, dtype=np.int8), kind)
                alias, table = self._lookup(text, keys, {
                    "value": pa.array([None if np.isnan(v) else float(v) for v in values], type=pa.float64()),
                    "rule": pa.array([rule for _, _, rule in cells], type=pa.string()),
                    "censored": pa.array(codes, type=pa.int8()),
                    "limit": pa.array([None if np.isnan(v) else float(v) for v in limits], type=pa.float64())})
                if any(codes):  # values given as limits ("<0.017"): their code and limit travel with the value
                    self.censoring[column] = (f"CAST(COALESCE({alias}.censored, 0) AS TINYINT)",
                                              f"{alias}.{self.q('limit')}")
                found = run.engine.rows(f"SELECT k.rule, COUNT(*) FROM {self.relation} r JOIN "
                                        f"{table} k ON k.key = {text} GROUP BY k.rule")
                for rule, n in found:
                    if rule != "text":  # made unknown above, and counted there
                        counts[rule] = counts.get(rule, 0) + int(n)
                sql = f"(CASE WHEN {plain} THEN CAST({text} AS DOUBLE) ELSE {alias}.value END)"
        if report:
            for rule in sorted(counts):  # the loader reports them in np.unique's (sorted) order
                if rule != "numeric" and (count_missing or rule != "missing"):
                    run.report.convert(f"{column}: {rule}", counts[rule])
        return sql

    def _made_unknown(self, column: str, condition: str, problem: str) -> bool:
        """With on_invalid="reject", the cells where `condition` holds are unknown, counted and listed as the
        loaders' problems.found does it; False with "raise" (the caller raises the loader's error)."""
        run = self.run
        if run.boundary.on_invalid != "reject":
            return False
        n = run.one(f"SELECT COUNT(*) FROM {self.relation} r WHERE {condition}")
        rows = run.column(f"SELECT r.{ORDER} FROM {self.relation} r WHERE {condition} ORDER BY r.{ORDER} "
                          f"LIMIT {FIRST_ROWS_KEPT}")
        reason = f"{problem} -> unknown"
        run.report.convert(f"{column}: {reason}", n)
        run.report.record_invalid(file=self.file, column=column, problem=reason, rows=rows, count=n)
        return True

    def glucose(self, column: str) -> str:
        """loaders.cgm.sensor_glucose (mg/dL): its words and censored readings at the sensor's limits."""
        if self.types[column].startswith(NUMBER_TYPES):
            return self.numbers(column, kind="reading", report=False)
        run, file = self.run, self.file
        text = self.trimmed(column)
        plain = f"({run.engine.matches(text, PLAIN_NUMBER)} AND abs(TRY_CAST({text} AS DOUBLE)) <= {FINITE})"
        keys = self._distinct(text, f"NOT COALESCE({plain}, FALSE)")

        def read(texts: list[str], report: LoadReport) -> np.ndarray:
            return sensor_glucose(pd.Series(texts, dtype="string"), Boundary(report), file=file, column=column,
                                  unit="mg/dL", sensor_range=SENSOR_RANGE_MG_DL)

        try:
            read(keys, LoadReport("", "cgm"))
        except DataError as err:  # the refused texts: those the function refuses one by one
            refused = []
            for key in keys:
                try:
                    read([key], LoadReport("", "cgm"))
                except DataError:
                    refused.append(key)
            raise self._again(err, text, refused) from None
        values, labels = [], []
        for key in keys:  # each distinct text alone, to count its rows under the label the function gives it
            scratch = LoadReport("", "cgm")
            values.append(read([key], scratch)[0])
            labels.append(next(iter(scratch.conversions), None))
        if not keys:
            return f"(CASE WHEN {plain} THEN CAST({text} AS DOUBLE) END)"
        alias, table = self._lookup(text, keys, {
            "value": pa.array([None if np.isnan(v) else float(v) for v in values], type=pa.float64()),
            "label": pa.array(labels, type=pa.string())})
        for label, n in run.engine.rows(f"SELECT k.label, COUNT(*) FROM {self.relation} r JOIN {table} k "
                                        f"ON k.key = {text} WHERE k.label IS NOT NULL GROUP BY k.label ORDER BY 1"):
            run.report.convert(label, int(n))
        return f"(CASE WHEN {plain} THEN CAST({text} AS DOUBLE) ELSE {alias}.value END)"

    def dates(self, column: str) -> str:
        """common.dates: partial ISO dates imputed and counted, then parse_dates' rule and its errors."""
        run = self.run
        raw = self.raw(column)
        if self.types[column].startswith(TIME_TYPES):  # a typed column (Parquet): wall-clock time as stored
            zone = parquet_zone(self.file, column)
            sql = f"CAST({raw} AS TIMESTAMP)" if zone is None else self.wall_clock(raw, zone, column)
            # parse_dates' bounds: nanosecond datetimes span 1677-2262, beyond that a date is a typo
            bounds = ((f"> {run.timestamp(pd.Timestamp.max.floor('us'))}", "date in the future"),
                      (f"< {run.timestamp(pd.Timestamp.min.ceil('us'))}", "date before 1678"))
            beyond = run.counts(f"{self.relation} r", [f"{sql} {bound}" for bound, _ in bounds])
            for (bound, what), n in zip(bounds, beyond, strict=True):
                found = n and run.engine.rows(f"SELECT {sql}, r.{ORDER} FROM {self.relation} r WHERE {sql} "
                                              f"{bound} ORDER BY r.{ORDER} LIMIT 10")
                if found:
                    raise DataError(f"{what} ({found[0][0]})", file=self.file, column=column,
                                    rows=[r for _, r in found])
            return sql
        text = f"NULLIF({self.trimmed(column)}, '')"
        year, month = run.engine.matches(text, "[0-9]{4}"), run.engine.matches(text, "[0-9]{4}-[0-9]{2}")
        n_year, n_month = run.engine.rows(f"SELECT {run.count(year)}, {run.count(month)} FROM {self.relation} r")[0]
        run.report.convert(f"{column}: partial date (year only) -> 1 July", int(n_year or 0))
        run.report.convert(f"{column}: partial date (year-month) -> 15th", int(n_month or 0))
        completed = (f"(CASE WHEN {year} THEN {text} || '-07-01' WHEN {month} THEN {text} || '-15' "
                     f"ELSE {text} END)")
        run.bad_dates(f"{self.relation} r", column, completed, file=self.file)
        return run.date(completed)

    def wall_clock(self, raw: str, zone: str, column: str) -> str:
        """A time-zone-aware timestamp as the wall-clock time in its column's own zone (parse_dates' rule: the
        clock the patient lived by), not converted to UTC or to the session's zone."""
        if isinstance(self.run.engine, SparkTables):  # the session's zone is UTC (SparkTables)
            return f"from_utc_timestamp({raw}, {literal(zone)})"
        offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
        if offset:  # a fixed offset: DuckDB's zones are names only
            minutes = (1 if offset[1] == "+" else -1) * (int(offset[2]) * 60 + int(offset[3]))
            return f"(timezone('UTC', {raw}) + to_minutes({minutes}))"
        known = self.run.engine.rows(f"SELECT COUNT(*) FROM pg_timezone_names() WHERE name = {literal(zone)}")[0][0]
        if not known:
            raise DataError(f"timestamps in the time zone {zone!r}, which DuckDB does not know; write them as "
                            "wall-clock times (a timestamp without a zone) or ISO 8601 text", file=self.file,
                            column=column)
        return f"timezone({literal(zone)}, {raw})"

    def step(self, stem: str, columns: Mapping[str, str]) -> str:
        """The drafted columns as a new step (with the source row number)."""
        q = self.q
        self._mapped_joins()
        selected = "".join(f", {sql} AS {q(name)}" for name, sql in columns.items())
        return self.run.table(stem, f"SELECT r.{ORDER}{selected} FROM {self.relation} r {' '.join(self.joins)}")


def parquet_zone(file: str, column: str) -> str | None:
    """The time zone of a Parquet file's timestamp column as pyarrow (so pandas, so the loader) reads it: the zone
    the writer recorded, "UTC" for an instant stored without one; None for a wall-clock (naive) timestamp.
    DuckDB and Spark read only the instant, so the zone is taken from the file's own schema."""
    import pyarrow.parquet as pq

    fields = {field.name.strip().lower(): field.type for field in pq.read_schema(file)}
    kind = fields.get(column.strip().lower())
    return kind.tz if kind is not None and pa.types.is_timestamp(kind) else None


# --- the tables, as load_canonical reads them ----------------------------------------------------------

def _subjects(run: SqlLoad, folder: Folder) -> tuple[str, list[str]]:
    file = folder.where("subjects")
    d = Draft(run, folder.relations["subjects"], file)
    require_columns(pd.DataFrame(columns=d.columns), ["subject_id", "index_date"], file=file, what="subjects table")
    catalogue = run.boundary.catalogue
    out = {"subject_id": d.trimmed("subject_id")}
    for column in ("birth_date", "diagnosis_date", "index_date"):
        if d.has(column):
            out[column] = d.dates(column)
    if d.has("sex"):
        out["sex"] = d.mapped("sex", lambda s: normalise_sex(s, file=file, column="sex"), pa.string())
    if d.has("age"):
        out["age"] = d.numbers("age", kind="exact")
    d.mapped_texts(["sex", *(c for c in d.columns if c not in SUBJECT_FIELDS and catalogue.get(c) is not None
                             and catalogue[c].kind in ("boolean", "category"))])
    ignored = []
    for column in d.columns:
        if column in SUBJECT_FIELDS:
            continue
        var = catalogue.get(column)
        if var is None or var.kind == "event":
            ignored.append(column)
        elif var.kind == "boolean":
            out[column] = d.mapped(column, lambda s, c=column: normalise_boolean(s, file=file, column=c), pa.bool_())
        elif var.kind == "category":
            out[column] = d.mapped(column, lambda s, c=column, v=var: normalise_category(s, v, file=file, column=c),
                                   pa.string())
        else:
            out[column] = d.numbers(column)
            if column in d.censoring:  # "<5": its code and limit, NULL where exact (canonical._subjects)
                code, limit = d.censoring[column]
                code_column, limit_column = subject_censoring(column)
                out[code_column] = f"CAST(NULLIF({code}, 0) AS DOUBLE)"
                out[limit_column] = f"(CASE WHEN {code} <> 0 THEN {limit} END)"
    if ignored:
        run.report.count_unmapped(f"{Path(file).name} columns (not catalogue variables)", pd.Series(ignored))
    subjects = d.step("subjects", out)
    q = run.engine.dialect.quote
    ranged = [(column, catalogue[column]) for column in out if catalogue.get(column) is not None
              and catalogue[column].kind == "number" and catalogue[column].range]
    outside = run.counts(subjects, [f"{q(c)} < {v.range[0]!r} OR {q(c)} > {v.range[1]!r}" for c, v in ranged])
    for (column, var), n in zip(ranged, outside, strict=True):  # canonical._subjects: outside its range is an error
        if not n:
            continue
        found = run.engine.rows(f"SELECT {q(column)}, {ORDER} FROM {subjects} WHERE {q(column)} < {var.range[0]!r} "
                                f"OR {q(column)} > {var.range[1]!r} ORDER BY {ORDER} LIMIT 10")
        if found:
            raise DataError(subject_outside_range(var, found[0][0]), file=file, column=column,
                            rows=[r for _, r in found])
    return subjects, list(out)


def _measurements(run: SqlLoad, folder: Folder) -> tuple[str, bool, bool]:
    file = folder.where("measurements")
    d = Draft(run, folder.relations["measurements"], file)
    require_columns(pd.DataFrame(columns=d.columns), ["subject_id", "time", "variable", "value", "unit"], file=file,
                    what="measurements table")
    draft = {"subject_id": d.trimmed("subject_id"), "time": d.dates("time"), "variable": d.trimmed("variable"),
             "value": d.numbers("value", count_missing=False), "unit": d.trimmed("unit")}
    for column in ("ref_low", "ref_high"):
        draft[column] = d.numbers(column, count_missing=False) if d.has(column) else "CAST(NULL AS DOUBLE)"
    censored = "value" in d.censoring
    if censored:
        draft["censored"], draft["limit"] = d.censoring["value"]
    given = d.has("censored") or d.has("limit")
    if given:  # canonical._given_censoring: the file's own censored and limit columns
        require_columns(pd.DataFrame(columns=d.columns), ["censored", "limit"], file=file,
                        what="measurements table with censored values")
        draft["given_censored"] = d.mapped("censored", lambda s: pd.Series(censoring_codes(s, file=file)), pa.int8())
        draft["given_limit"] = d.numbers("limit", kind="exact", count_missing=False)
    visit = d.has("visit")
    if visit:
        draft["visit"] = f"CAST({d.raw('visit')} AS STRING)"
    step = d.step("m", draft)
    if given:
        step, censored = _given_censoring(run, step, file, censored, list(draft)), True
    name = table_name(file)
    blank = run.one(f"SELECT COUNT(*) FROM {step} WHERE value IS NULL")
    run.report.reject(name, "value missing (unknown; no row needed)", blank)
    if blank:
        run.set_aside(step, "value IS NULL")
    step = run.then(step, run.table("m", f"SELECT * FROM {step} WHERE value IS NOT NULL"))
    # common.finish_measurements
    numbers = _names(run, "numbers", run.boundary.catalogue.names("number"))
    step = run.then(step, run.invalid(step, f"NOT COALESCE(variable IN (SELECT name FROM {numbers}), FALSE)",
                                      file=file, column="variable", message="not a number variable of the catalogue"))
    keep = ("visit",) if visit else ()
    step = run.then(step, convert_units(run, step, file, column="unit", keep=keep, censored=censored))
    step = run.then(step, check_ranges(run, step, file, column="value"))
    count_repeats(run, step, file, keys=("subject_id", "time", "variable") + keep)
    return step, visit, censored


def _given_censoring(run: SqlLoad, step: str, file: str, from_text: bool, columns: list[str]) -> str:
    """canonical._given_censoring over the drafted rows: a censored row needs its limit and a blank value or the
    point (the same refusals), then its value is the point and its code and limit those given."""
    code, limit = "COALESCE(given_censored, 0)", "given_limit"
    point = f"(CASE WHEN {code} < 0 THEN {limit} / 2 ELSE {limit} END)"
    for column, problem, where in (
            ("limit", LIMIT_NEEDED, f"{code} <> 0 AND {limit} IS NULL"),
            ("value", POINT_DISAGREES, f"{code} <> 0 AND value IS NOT NULL AND abs(value - {point}) > 1e-9 * abs({point})")):
        rows = run.column(f"SELECT {ORDER} FROM {step} WHERE {where} ORDER BY {ORDER} LIMIT {ROWS_SHOWN}")
        if rows:
            raise DataError(problem, file=file, column=column, rows=rows,
                            count=run.one(f"SELECT COUNT(*) FROM {step} WHERE {where}"))
    below, above = run.counts(step, [f"{code} < 0", f"{code} > 0"])
    run.report.convert("value: below_limit", below)
    run.report.convert("value: above_limit", above)
    text_code, text_limit = ("COALESCE(censored, 0)", run.engine.dialect.quote("limit")) if from_text else \
        ("0", "CAST(NULL AS DOUBLE)")
    q = run.engine.dialect.quote
    kept = ", ".join(q(c) for c in columns if c not in ("value", "censored", "limit", "given_censored", "given_limit"))
    return run.then(step, run.table("m", (
        f"SELECT {ORDER}, {kept}, CASE WHEN {code} <> 0 THEN {point} ELSE value END AS value, "
        f"CAST(CASE WHEN {code} <> 0 THEN {code} ELSE {text_code} END AS TINYINT) AS censored, "
        f"CASE WHEN {code} <> 0 THEN {limit} ELSE {text_limit} END AS {q('limit')} FROM {step}")))


def _events(run: SqlLoad, folder: Folder) -> str:
    file = folder.where("events")
    d = Draft(run, folder.relations["events"], file)
    require_columns(pd.DataFrame(columns=d.columns), ["subject_id", "time", "event"], file=file, what="events table")
    draft = {"subject_id": d.trimmed("subject_id"), "time": d.dates("time"), "event": d.trimmed("event"),
             "severity": (d.numbers("severity", count_missing=False, kind="exact") if d.has("severity")
                          else "CAST(NULL AS DOUBLE)")}
    if d.has("visit"):
        draft["visit"] = f"CAST({d.raw('visit')} AS STRING)"
    step = d.step("events", draft)
    rows = run.column(f"SELECT {ORDER} FROM {step} WHERE severity <> floor(severity) ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("severity must be a whole number (a grade)", file=file, column="severity", rows=rows)
    events = run.boundary.catalogue.names("event")
    known = _names(run, "events", events)
    return run.then(step, run.invalid(step, f"NOT COALESCE(event IN (SELECT name FROM {known}), FALSE)", file=file, column="event",
                       message=f"not a catalogue event (events: {events})"))


def _cgm(run: SqlLoad, folder: Folder) -> str:
    file = folder.where("cgm")
    d = Draft(run, folder.relations["cgm"], file)
    require_columns(pd.DataFrame(columns=d.columns), ["subject_id", "time", "glucose"], file=file, what="cgm table")
    step = d.step("cgm", {"subject_id": d.trimmed("subject_id"), "time": d.dates("time"),
                          "glucose": d.glucose("glucose")})
    run.report.reject(table_name(file), "glucose missing", run.one(f"SELECT COUNT(*) FROM {step} WHERE glucose IS NULL"))
    step = run.then(step, run.table("cgm", f"SELECT * FROM {step} WHERE glucose IS NOT NULL"))
    # common.finish_cgm: a reading outside what sensors give, then one reading per subject and time
    low, high = CGM_RANGE
    step = run.then(step, run.invalid(step, f"(glucose < {low!r} OR glucose > {high!r})", file=file,
                                      column="glucose", message=CGM_OUTSIDE))
    ranked = run.table("cgm", f"SELECT *, row_number() OVER (PARTITION BY subject_id, time, glucose ORDER BY {ORDER}) "
                              f"AS te_copy FROM {step}")
    run.report.reject(table_name(file), "duplicate reading (same subject_id, time and glucose)",
                      run.one(f"SELECT COUNT(*) FROM {ranked} WHERE te_copy > 1"))
    run.then(step, ranked)
    step = run.then(ranked, run.table("cgm", f"SELECT *, COUNT(*) OVER (PARTITION BY subject_id, time) AS te_same "
                                             f"FROM {ranked} WHERE te_copy = 1"))
    return run.then(step, run.invalid(step, "te_same > 1", file=file, column="glucose",
                       message="two different values for one reading (same subject_id, time); keep the right one "
                               "or give them different times"))


def _event_history(run: SqlLoad, folder: Folder) -> str:
    file = folder.where("event_history")
    d = Draft(run, folder.relations["event_history"], file)
    require_columns(pd.DataFrame(columns=d.columns), ["subject_id", "event", "recorded_from"], file=file,
                    what="event_history table")
    step = d.step("history", {"subject_id": d.trimmed("subject_id"), "event": d.trimmed("event"),
                              "time": d.dates("recorded_from")})
    known = _names(run, "events", run.boundary.catalogue.names("event"))
    return run.invalid(step, f"NOT COALESCE(event IN (SELECT name FROM {known}), FALSE)", file=file, column="event",
                       message="not a catalogue event")


def _event_counts(run: SqlLoad, folder: Folder) -> str:
    file = folder.where("event_counts")
    d = Draft(run, folder.relations["event_counts"], file)
    require_columns(pd.DataFrame(columns=d.columns), ["subject_id", "event", "within_days", "count"], file=file,
                    what="event_counts table")
    step = d.step("counts", {"subject_id": d.trimmed("subject_id"), "event": d.trimmed("event"),
                             "within_days": d.numbers("within_days", kind="exact"), "count": d.numbers("count", kind="count")})
    known = _names(run, "events", run.boundary.catalogue.names("event"))
    step = run.invalid(step, f"NOT COALESCE(event IN (SELECT name FROM {known}), FALSE)", file=file, column="event",
                       message="not a catalogue event")
    q = run.engine.dialect.quote
    return run.invalid(step, f"(within_days IS NULL OR within_days <= 0 OR COALESCE({q('count')} < 0, FALSE))",
                       file=file, column="within_days",
                       message="within_days must be a positive number of days and count >= 0")


def _names(run: SqlLoad, what: str, names: list[str]) -> str:
    return run.register(f"te_canon_names_{what}", {"name": pa.array(list(names), type=pa.string())})


# --- common.finish_cohort ----------------------------------------------------------------------------

def _check_subjects(run: SqlLoad, subjects: str, file: str, columns: list[str]) -> None:
    """common._check_subjects, in its order and with its messages."""
    one_of = run.column
    dated = [c for c in ("birth_date", "diagnosis_date", "index_date") if c in columns]
    low, high = run.boundary.catalogue["age"].range
    # every check's rows counted in one statement (a Spark job each would cost 0.5-1 s); only a check that some
    # row fails is asked again, for its first rows, in the loader's order
    conditions = {"no id": "subject_id IS NULL", "no index": "index_date IS NULL",
                  **{f"future {c}": f"{c} > {run.timestamp(run.now)}" for c in dated},
                  **{f"before birth {c}": f"{c} < birth_date" for c in ("diagnosis_date", "index_date")
                     if "birth_date" in columns and c in columns},
                  **({"after index": "diagnosis_date > index_date"} if "diagnosis_date" in columns else {}),
                  **({"age": f"age < {low!r} OR age > {high!r}"} if "age" in columns else {})}
    *counted, distinct = run.engine.rows(f"SELECT {', '.join(run.count(c) for c in conditions.values())}"
                                         f"{', ' if conditions else ''}COUNT(*) - COUNT(DISTINCT subject_id) "
                                         f"FROM {subjects}")[0]
    failing = {name for name, n in zip(conditions, counted, strict=True) if n}

    def first(name: str) -> list:
        if name not in failing:
            return []
        return one_of(f"SELECT {ORDER} FROM {subjects} WHERE {conditions[name]} ORDER BY {ORDER} LIMIT 10")

    if rows := first("no id"):
        raise DataError("subject id is missing", file=file, column="subject_id", rows=rows)
    if distinct:
        repeated = run.engine.rows(f"SELECT subject_id, {ORDER} FROM {subjects} WHERE subject_id IN (SELECT "
                                   f"subject_id FROM {subjects} GROUP BY subject_id HAVING COUNT(*) > 1) ORDER BY {ORDER}")
        check_unique_ids(pd.Series([i for i, _ in repeated], index=[r for _, r in repeated], dtype="string"), file=file)
    if rows := first("no index"):
        raise DataError("index (screening) date is missing", file=file, column="index_date", rows=rows)
    for column in dated:
        found = f"future {column}" in failing and run.engine.rows(
            f"SELECT {column}, {ORDER} FROM {subjects} WHERE {conditions[f'future {column}']} ORDER BY {ORDER} LIMIT 10")
        if found:
            raise DataError(f"date in the future ({pd.Timestamp(found[0][0]).date()})", file=file, column=column,
                            rows=[r for _, r in found])
    for column in ("diagnosis_date", "index_date"):
        if rows := first(f"before birth {column}"):
            raise DataError(f"{column} is before the birth date", file=file, column=column, rows=rows)
    if rows := first("after index"):
        raise DataError("diagnosis date is after the index date", file=file, column="diagnosis_date", rows=rows)
    if "age" in failing:
        found = run.engine.rows(f"SELECT age, {ORDER} FROM {subjects} WHERE age < {low!r} OR age > {high!r} "
                                f"ORDER BY {ORDER} LIMIT 10")
        if found:
            raise DataError(f"age {found[0][0]:g} is impossible (must lie in [{low:g}, {high:g}] years)",
                            file=file, column="age", rows=[r for _, r in found])
    check_from_dates_sql(run, subjects, file, {c: c for c in ("index_date", "birth_date", "diagnosis_date")
                                               if c in columns})


def _orphans(run: SqlLoad, table: str, subjects: str, file: str) -> str:
    known = f"subject_id IN (SELECT subject_id FROM {subjects})"
    return run.invalid(table, f"NOT COALESCE({known}, FALSE)", file=file, column="subject_id",
                       message="subject id not in the subjects table")


def load_canonical_sql(folder: str | Path, engine: DuckTables | SparkTables, *, on_invalid: str = "raise",
                       features_catalogue: Catalogue | None = None) -> tuple[list[str], set[str], LoadReport]:
    """Build features_sql's views (VIEWS) in the engine from the canonical folder, by load_canonical's rules.

    Returns the subject columns of the subjects view, the views that hold rows, and the load report.
    """
    folder = Path(folder)
    tables = Folder(folder, engine)
    report = LoadReport(source=str(folder), kind="canonical")
    boundary = Boundary(report, on_invalid, loader_catalogue())
    run = SqlLoad(engine, tables, boundary, features_catalogue or default_catalogue())
    read = row_counts(run, tables.relations)
    for table, path in list(tables.files.items()):
        n = read[table]
        if not n:  # as readers.read_tables: no subjects stop the load, any other table is as if absent
            if table == "subjects":
                raise DataError(NO_SUBJECTS, file=str(path))
            read_as_absent(report, path.name, table)
            del tables.files[table], tables.relations[table]
            continue
        report.read(path.name, n)

    subjects, columns = _subjects(run, tables)
    drafted: dict[str, str] = {}
    visit = censored = False
    if tables.has("measurements"):
        drafted["measurements"], visit, censored = _measurements(run, tables)
    for table, draft in (("events", _events), ("cgm", _cgm), ("event_history", _event_history),
                         ("event_counts", _event_counts)):
        if tables.has(table):
            drafted[table] = draft(run, tables)

    sfile = tables.where("subjects")
    _check_subjects(run, subjects, sfile, columns)
    birth = "birth_date" if "birth_date" in columns else "CAST(NULL AS TIMESTAMP)"
    checked_subjects = run.then(subjects, run.table("subjects", f"SELECT *, {birth} AS birth FROM {subjects}"))
    for table, step in drafted.items():
        file = tables.where(table)
        if table == "event_counts":
            drafted[table] = _orphans(run, step, checked_subjects, file)
        else:
            column = "recorded_from" if table == "event_history" else "time"
            drafted[table] = run.then(step, check_times(run, step, checked_subjects, file, column, ORDER))
    if "measurements" in drafted:
        warn_without_uln(run, drafted["measurements"], tuple(columns))
    kept = row_counts(run, {"subjects": checked_subjects, **drafted})
    report.kept(Path(sfile).name, kept["subjects"])
    for table in drafted:
        report.kept(tables.files[table].name, kept[table])
    return _views(run, checked_subjects, columns, drafted, censored, kept)


def row_counts(run: SqlLoad, relations: Mapping[str, str]) -> dict[str, int]:
    """The rows of each relation, counted in one statement (in Spark a statement is a job: 0.5-1 s each)."""
    if not relations:
        return {}
    names = list(relations)
    found = run.engine.rows(" UNION ALL ".join(f"SELECT {k} AS k, COUNT(*) AS n FROM {relations[name]}"
                                               for k, name in enumerate(names)))
    return {names[int(k)]: int(n) for k, n in found}


def _views(run: SqlLoad, subjects: str, columns: list[str], drafted: dict[str, str],
           censored: bool = False, sizes: Mapping[str, int] | None = None) -> tuple[list[str], set[str], LoadReport]:
    """features_sql's views, with cohort_tables' columns and order (`sizes`: the drafted tables' rows, when
    counted already)."""
    catalogue, engine, q = run.features, run.engine, run.engine.dialect.quote
    selected = ["subject_id", f"row_number() OVER (ORDER BY {ORDER}) - 1 AS {q('__row')}",
                f"{run.ns('index_date')} AS {q('__index')}"]
    names = ["subject_id", "__row", "__index"]
    for column, alias in (("birth_date", "__birth"), ("diagnosis_date", "__diagnosis")):
        if column in columns:
            selected.append(f"{run.ns(column)} AS {q(alias)}")
            names.append(alias)
    if "age" in columns:
        selected.append(f"CAST(age AS DOUBLE) AS {q('age')}")
        names.append("age")
    for item, column in typed_columns(q, catalogue, columns, FEATURE_SUBJECT_FIELDS):
        selected.append(item)
        names.append(column)
        for companion in subject_censoring(column):  # a censored cell's code and limit ("<5"), when any
            if companion in columns:
                selected.append(f"CAST({q(companion)} AS DOUBLE) AS {q(companion)}")
                names.append(companion)
    # views over the last steps: the feature query reads them where they are, without another copy
    engine.view(VIEWS["subjects"], f"SELECT {', '.join(selected)} FROM {subjects}", once=True)
    tables = {"subjects"}
    # an event table's __row only orders its rows (features_sql reads it in ORDER BY and MIN): the source row
    # number does, without numbering the table again (in Spark a window over the whole table is one partition)
    bodies = {
        "measurements": f"SELECT subject_id, variable, value, ref_high, {run.ns('time')} AS {q('__time')}"
                        + (f", censored, {q('limit')}" if censored else ""),
        "events": f"SELECT {ORDER} AS {q('__row')}, subject_id, event, "
                  f"CAST(severity AS BIGINT) AS severity, {run.ns('time')} AS {q('__time')}",
        "cgm": f"SELECT subject_id, glucose, {run.ns('time')} AS {q('__time')}",
        "event_history": f"SELECT {ORDER} AS {q('__row')}, subject_id, event, "
                         f"{run.ns('time')} AS {q('__time')}",
        "event_counts": f"SELECT {ORDER} AS {q('__row')}, subject_id, event, "
                        f"within_days, {q('count')}",
    }
    sizes = sizes if sizes is not None else row_counts(run, drafted)
    for table, step in drafted.items():
        if sizes[table]:
            engine.view(VIEWS[table], f"{bodies[table]} FROM {step}")
            tables.add(table)
    if run.unusable_view(subjects):
        tables.add("unusable")
    return names, tables, run.report


def register(con: Any, folder: str | Path, *, on_invalid: str = "raise",
             catalogue: Catalogue | None = None) -> tuple[list[str], set[str], LoadReport]:
    """Fill features_sql's views in the DuckDB connection `con` from a canonical folder read in place.

    Returns (subject columns, views holding rows, load report), what `features_sql.derive(DuckRunner(con),
    views, columns)` takes.
    """
    return load_canonical_sql(folder, DuckTables(con), on_invalid=on_invalid, features_catalogue=catalogue)


def canonical_screening_sql(folder: str | Path, *, engine: str = "duckdb", on_invalid: str = "raise",
                            lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                            catalogue: Catalogue | None = None, con: Any = None, spark: Any = None,
                            master: str | None = None, out: Path | None = None, out_above: int | None = None,
                            range_subjects: int = RANGE_SUBJECTS, progress: bool = False
                            ) -> tuple[Screening | Path, LoadReport]:
    """The screening of a canonical folder read in place (features derived by features_sql), and its load report.

    `catalogue`: the variables the features are typed and derived by (a trial's); the folder is read, as by
    the loader, against the bundled catalogue. `con`: a DuckDB connection; `spark` / `master`: a Spark
    session or master URL. With `out` and more than `out_above` subjects, the screening is written to the
    folder `out` range by range and that folder returned (omop_sql.screening_in_place, as for an OMOP CDM).
    """
    def build(tables: DuckTables | SparkTables):
        return load_canonical_sql(folder, tables, on_invalid=on_invalid, features_catalogue=catalogue)

    return screening_in_place(folder, build, what="the canonical tables", engine=engine, lookback_days=lookback_days,
                              cgm_days=cgm_days, catalogue=catalogue, con=con, spark=spark, master=master,
                              folder=out, folder_above=out_above, range_subjects=range_subjects, progress=progress)


def canonical_screening_folder(folder: str | Path, out: str | Path, *, on_invalid: str = "raise",
                               lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                               catalogue: Catalogue | None = None, range_subjects: int = RANGE_SUBJECTS,
                               progress: bool = False, engine: str = "duckdb", spark: Any = None,
                               master: str | None = None) -> tuple[Path, LoadReport]:
    """A canonical folder read in place (the loader's checks, as canonical_screening_sql) and its screening
    written to the folder `out` range by range (folder_writer.write_screening_folder) whatever its size, with
    the load report. DuckDB keeps to omop_sql.MEMORY_LIMIT and spills, within a cap, to a temporary folder of
    its own; `engine` "spark": read, derived and written by a local Spark session (`spark`, else one at
    `master`), so the features never pass through the Python driver (which held 7.2 GB at 10^6 subjects when
    they came back to it: benchmarks/results/spark_canonical_12_1e6.md)."""
    if engine == "spark":
        from explorer.engine.spark import is_local, spark_session

        spark = spark if spark is not None else spark_session(master)
        if not is_local(spark):
            raise DataError("a screening folder is written on this machine, by a local Spark session only (a "
                            "cluster's executors write where they run); derive the features in memory, or give a "
                            "local master", file=str(folder))
    return canonical_screening_sql(folder, engine=engine, on_invalid=on_invalid, lookback_days=lookback_days,
                                   cgm_days=cgm_days, catalogue=catalogue, spark=spark, master=master, out=Path(out),
                                   out_above=-1, range_subjects=range_subjects, progress=progress)
