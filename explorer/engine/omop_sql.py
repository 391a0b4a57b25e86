"""An OMOP CDM read in place by DuckDB: the CDM tables become, in SQL, the canonical tables features_sql reads.

The pandas OMOP loader (explorer.cohort.loaders.omop, its docstring states every rule) is the reference.
Here the same rules run as DuckDB statements over the CDM where it lies: a DuckDB database file, or CDM
tables as CSV/Parquet files in a folder. Nothing of the CDM passes through pandas; only the small things
the rules are made of do: the concept mapping (resolved by the loader's own `_concept_ids`), the unit
conversions (one `explorer.cohort.units.conversion` per distinct (variable, unit) found in the data), the
plausible ranges of the catalogue, and the rows named in an error.

The canonical tables are built as DuckDB temporary tables (DuckDB spills them to disk when they outgrow
memory) under the names of features_sql.VIEWS, so `features_sql.derive` derives the screening features
from them exactly as from a loaded Cohort. Checks follow the loader's order and wording: a value that is
not a number, a unit that cannot be converted, a value outside its plausible range, duplicate person ids,
records of persons not in PERSON, times missing, in the future or before birth. With on_invalid="raise"
each is the loader's DataError (file, column, first rows: the file's row numbers, header = row 1); with
"reject" the same rows are dropped and counted in the load report.

A ZIP archive is not read in place (DuckDB reads no archive members): the pandas loader reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.features import DAY_NS, SUBJECT_FIELDS
from explorer.cohort.loaders import omop
from explorer.cohort.loaders.common import (
    _UTC_OFFSET,
    Boundary,
    check_unique_ids,
    loader_catalogue,
    parse_dates,
    require_columns,
    table_name,
)
from explorer.cohort.loaders.readers import FIRST_DATA_ROW
from explorer.cohort.loaders.report import LoadReport
from explorer.cohort.screening import Screening
from explorer.cohort.units import _exact, canonical_unit, conversion, report_precision
from explorer.engine.features_sql import VIEWS, DuckRunner, derive
from explorer.errors import DataError, UnitError

DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")
FILE_SUFFIXES = (".csv", ".parquet")
ORDER = "__src"  # the source row number of a CDM row (header = row 1), as the loader's errors name rows


def is_omop_in_place(path: str | Path) -> bool:
    """A DuckDB database file with a PERSON table, or a folder of CDM CSV/Parquet files with one."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() in DATABASE_SUFFIXES
    return path.is_dir() and any(p.stem.lower() == "person" and p.suffix.lower() in FILE_SUFFIXES
                                 for p in path.iterdir())


class Cdm:
    """The CDM tables where they lie, each as a relation with its source row number (`__src`)."""

    def __init__(self, path: Path, con):
        self.path, self.con = path, con
        self.relations: dict[str, str] = {}
        self.files: dict[str, str] = {}
        if path.is_dir():
            for p in sorted(path.iterdir()):
                if p.suffix.lower() not in FILE_SUFFIXES:
                    continue
                table = p.stem.lower()
                if table in self.relations:
                    raise DataError(f"table {table!r} is given twice; keep one file", file=str(path))
                literal = "'" + str(p).replace("'", "''") + "'"
                if p.suffix.lower() == ".csv":
                    # every cell as text, as the loader reads CSV; row numbers in file order
                    scan = (f"SELECT *, row_number() OVER () + {FIRST_DATA_ROW - 1} AS {ORDER} "
                            f"FROM read_csv({literal}, all_varchar = true, header = true)")
                else:
                    scan = (f"SELECT * EXCLUDE (file_row_number), file_row_number + {FIRST_DATA_ROW} AS {ORDER} "
                            f"FROM read_parquet({literal}, file_row_number = true)")
                self.relations[table], self.files[table] = f"({scan})", str(p)
        elif path.is_file() and path.suffix.lower() in DATABASE_SUFFIXES:
            literal = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"ATTACH {literal} AS te_cdm (READ_ONLY)")
            found = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'te_cdm'"
                                ).fetchall()
            for schema, name in found:
                table = name.lower()
                if table in self.relations:
                    raise DataError(f"table {table!r} is in more than one schema of the database; keep one",
                                    file=str(path))
                self.relations[table] = (f'(SELECT *, rowid + {FIRST_DATA_ROW} AS {ORDER} '
                                         f'FROM te_cdm."{schema}"."{name}")')
                self.files[table] = f"{path}!{name}"
        else:
            raise DataError("an OMOP CDM read in place is a DuckDB database file (.duckdb) or a folder of CDM "
                            "CSV/Parquet files; a ZIP archive is read by the pandas loader (--engine memory), "
                            "or unzip it into a folder", file=str(path))

    def has(self, table: str) -> bool:
        return table in self.relations

    def where(self, table: str) -> str:
        return self.files[table]

    def columns(self, table: str) -> list[str]:
        return [c.lower() for c in self.con.execute(f"SELECT * FROM {self.relations[table]} LIMIT 0").columns]


class _Result:
    def __init__(self, rows: list, columns: list[str]):
        self.rows, self.columns = rows, columns

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list:
        return self.rows


class _Connection:
    """A DuckDB connection whose statements finish before the next starts (DuckDB 2 keeps a result pending)."""

    def __init__(self, con):
        self.raw = con

    def execute(self, sql: str, params: Mapping | None = None) -> _Result:
        cursor = self.raw.execute(sql, dict(params or {}))
        columns = [d[0] for d in cursor.description or []]
        return _Result(cursor.fetchall(), columns)

    def register(self, name: str, table: pa.Table) -> None:
        self.raw.register(name, table)


def _text(column: str) -> str:
    """A CDM cell as trimmed text, NULL when blank (the loader reads text, blank cells as missing)."""
    return f"NULLIF(TRIM(CAST({column} AS VARCHAR)), '')"


def _date(column: str) -> str:
    """ISO 8601 text (or a native date) as a TIMESTAMP in wall-clock time, the loader's parse_dates rule."""
    return f"TRY_CAST(regexp_replace({_text(column)}, {_literal(_UTC_OFFSET)}, '\\1') AS TIMESTAMP)"


def _number(column: str) -> str:
    return f"NULLIF(TRY_CAST({_text(column)} AS DOUBLE), CAST('NaN' AS DOUBLE))"


def _ns(column: str) -> str:
    return f"epoch_ns({column})"


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class _Load:
    """One in-place load: the connection, the CDM, the checks' context and the names of what was built."""

    con: Any
    cdm: Cdm
    boundary: Boundary
    features: Catalogue  # the catalogue the screening features are typed by (a trial's)

    @property
    def now(self) -> pd.Timestamp:
        return self.boundary.now

    @property
    def report(self) -> LoadReport:
        return self.boundary.report

    def one(self, sql: str, params: Mapping | None = None):
        return self.con.execute(sql, params or {}).fetchone()[0]

    def rows(self, sql: str) -> list:
        return [r[0] for r in self.con.execute(sql).fetchall()]

    def bad_dates(self, relation: str, column: str, raw: str, parsed: str, *, file: str) -> None:
        """The loader's "not an ISO 8601 date" error for cells that are text but no date."""
        bad = f"{_text(raw)} IS NOT NULL AND {parsed} IS NULL"
        found = self.con.execute(f"SELECT {_text(raw)}, {ORDER} FROM {relation} WHERE {bad} ORDER BY {ORDER}"
                                 ).fetchall()
        if found:
            examples = ", ".join(repr(v) for v in list(dict.fromkeys(v for v, _ in found))[:3])
            raise DataError(f"not an ISO 8601 date (YYYY-MM-DD[ HH:MM[:SS]]): {examples}", file=file,
                            column=column, rows=[r for _, r in found[:10]])
        # parse_dates' bounds: nanosecond datetimes span 1677-2262, beyond that a date is a typo
        for bound, what in ((f"> CAST('{pd.Timestamp.max}' AS TIMESTAMP)", "date in the future"),
                            (f"< CAST('{pd.Timestamp.min}' AS TIMESTAMP)", "date before 1678")):
            found = self.con.execute(f"SELECT {parsed}, {ORDER} FROM {relation} WHERE {parsed} {bound} "
                                     f"ORDER BY {ORDER} LIMIT 10").fetchall()
            if found:
                raise DataError(f"{what} ({found[0][0]})", file=file, column=column, rows=[r for _, r in found])

    def invalid(self, table: str, condition: str, *, file: str, column: str, message: str,
                rows: str = ORDER) -> None:
        """Boundary.invalid in SQL: raise naming the first rows, or delete them and count them."""
        n = self.one(f"SELECT COUNT(*) FROM {table} WHERE {condition}")
        if not n:
            return
        if self.boundary.on_invalid == "raise":
            raise DataError(message, file=file, column=column,
                            rows=self.rows(f"SELECT {rows} FROM {table} WHERE {condition} ORDER BY {rows} LIMIT 10"))
        self.report.reject(table_name(file), f"{column}: {message}", n)
        self.con.execute(f"DELETE FROM {table} WHERE {condition}")


def _concepts(run: _Load, spec: dict) -> pd.Series:
    """"VOCAB code" -> [concept_id], for the codes the mapping names (the loader's `by_key`)."""
    wanted = sorted({str(k).strip() for section in ("measurement", "condition", "observation")
                     for k in spec.get(section, {}) if not str(k).strip().isdigit()})
    run.con.register("te_omop_keys", pa.table({"key": pa.array(wanted, type=pa.string())}))
    concept = run.cdm.relations["concept"]
    found = run.con.execute(
        f"SELECT key, CAST(concept_id AS VARCHAR) FROM (SELECT concept_id, TRIM(CAST(vocabulary_id AS VARCHAR)) "
        f"|| ' ' || TRIM(CAST(concept_code AS VARCHAR)) AS key, {ORDER} FROM {concept}) "
        f"WHERE key IN (SELECT key FROM te_omop_keys) ORDER BY {ORDER}").fetchall()
    by_key: dict[str, list] = {}
    for key, cid in found:
        by_key.setdefault(key, []).append(cid)
    return pd.Series(by_key, dtype=object)


def _rule_tables(run: _Load, spec: dict, by_key: pd.Series) -> None:
    """The mapping as small tables: measurement concept -> variable; condition/observation concept -> rules."""
    variable_of = {cid: r[0]["variable"] for cid, r in omop._concept_ids(spec.get("measurement", {}), by_key).items()}
    run.con.register("te_omop_mmap", pa.table({"concept_id": pa.array(list(variable_of), type=pa.string()),
                                               "variable": pa.array(list(variable_of.values()), type=pa.string())}))
    rows = []
    for section in ("condition", "observation"):
        for cid, rules in omop._concept_ids(spec.get(section, {}), by_key).items():
            for number, rule in enumerate(rules):
                value = rule.get("value")
                rows.append((section, cid, number, rule.get("variable"), None if value is None else str(value),
                             bool(rule.get("value", True)), rule.get("ongoing_days"), rule.get("event")))
    names = ("section", "concept_id", "rule_no", "variable", "value", "truth", "ongoing_days", "event")
    types = (pa.string(), pa.string(), pa.int64(), pa.string(), pa.string(), pa.bool_(), pa.float64(), pa.string())
    run.con.register("te_omop_rules", pa.table({n: pa.array([r[i] for r in rows], type=t)
                                                for i, (n, t) in enumerate(zip(names, types, strict=True))}))


# --- persons ---------------------------------------------------------------------------------------

def _persons(run: _Load, *, index_date) -> None:
    cdm, con, report = run.cdm, run.con, run.report
    person, file = cdm.relations["person"], cdm.where("person")
    columns = set(cdm.columns("person"))
    require_columns(pd.DataFrame(columns=sorted(columns)), ["person_id", "gender_concept_id", "year_of_birth"],
                         file=file)
    # each person once, before anything is looked up by person id (the loader's check, on the repeated rows)
    repeated = con.execute(f"SELECT {_text('person_id')}, {ORDER} FROM {person} WHERE {_text('person_id')} IN "
                           f"(SELECT {_text('person_id')} FROM {person} GROUP BY 1 HAVING COUNT(*) > 1) "
                           f"ORDER BY {ORDER}").fetchall()
    check_unique_ids(pd.Series([i for i, _ in repeated], index=[r for _, r in repeated], dtype="string"), file=file)
    sex = "CASE " + " ".join(f"WHEN {_text('gender_concept_id')} = {_literal(k)} THEN {_literal(v)}"
                             for k, v in omop.GENDER.items()) + " END"
    birth = _date("birth_datetime") if "birth_datetime" in columns else "CAST(NULL AS TIMESTAMP)"
    if "birth_datetime" in columns:
        run.bad_dates(person, "birth_datetime", "birth_datetime", birth, file=file)
    month = _number("month_of_birth") if "month_of_birth" in columns else "CAST(NULL AS DOUBLE)"
    day = _number("day_of_birth") if "day_of_birth" in columns else "CAST(NULL AS DOUBLE)"
    # pandas builds the date from float parts and gives NaT for an impossible one: TRY, and whole parts only
    parts = (f"TRY(make_date(CAST({_number('year_of_birth')} AS BIGINT), CAST(COALESCE({month}, 7) AS BIGINT), "
             f"CAST(COALESCE({day}, 15) AS BIGINT)))")
    con.execute(f"CREATE TEMP TABLE te_omop_person AS SELECT {ORDER}, {_text('person_id')} AS subject_id, "
                f"{sex} AS sex, {birth} AS birth_given, CAST({parts} AS TIMESTAMP) AS birth_parts, "
                f"({month} IS NULL OR {day} IS NULL) AS partial FROM {person}")
    report.convert("birth date: month or day missing -> middle of the period",
                   run.one("SELECT COUNT(*) FROM te_omop_person WHERE birth_given IS NULL AND birth_parts IS NOT NULL "
                           "AND partial"))
    con.execute("ALTER TABLE te_omop_person ADD COLUMN birth TIMESTAMP")
    con.execute("UPDATE te_omop_person SET birth = COALESCE(birth_given, birth_parts)")

    latest, periods = "NULL", None
    if cdm.has("observation_period"):
        opfile = cdm.where("observation_period")
        op = cdm.relations["observation_period"]
        start, end = _date("observation_period_start_date"), _date("observation_period_end_date")
        run.bad_dates(op, "observation_period_start_date", "observation_period_start_date", start, file=opfile)
        run.bad_dates(op, "observation_period_end_date", "observation_period_end_date", end, file=opfile)
        con.execute(f"CREATE TEMP TABLE te_omop_periods AS SELECT {_text('person_id')} AS subject_id, "
                    f"{start} AS start, {end} AS \"end\" FROM {op}")
        report.kept(table_name(opfile), run.one("SELECT COUNT(*) FROM te_omop_periods"))
        periods = "te_omop_periods"
        latest = "(SELECT MAX(\"end\") FROM te_omop_periods o WHERE o.subject_id = p.subject_id)"
    index = latest
    if cdm.has("death"):
        dfile, death = cdm.where("death"), cdm.relations["death"]
        died = _date("death_date")
        run.bad_dates(death, "death_date", "death_date", died, file=dfile)
        con.execute(f"CREATE TEMP TABLE te_omop_death AS SELECT {_text('person_id')} AS subject_id, "
                    f"MIN({died}) AS died FROM {death} GROUP BY 1")
        died_of = "(SELECT died FROM te_omop_death d WHERE d.subject_id IS NOT DISTINCT FROM p.subject_id)"
        index = f"(CASE WHEN {died_of} < {latest} THEN {died_of} ELSE {latest} END)"
        earlier = run.one(f"SELECT COUNT(*) FROM te_omop_person p WHERE {died_of} < {latest}")
        report.kept(table_name(dfile), run.one(f"SELECT COUNT(*) FROM {death}"))
        report.note(f"index date capped at the death date for {earlier} person(s)")
    if index_date is not None:
        if isinstance(index_date, Mapping):
            given = pd.Series({str(k): v for k, v in index_date.items()}, dtype=object)
            parsed = parse_dates(given, file="index_date argument", column="index_date")
            con.register("te_omop_index", pa.table({"subject_id": pa.array(list(given.index), type=pa.string()),
                                                    "ix": pa.array(parsed.to_numpy(), type=pa.timestamp("ns"))}))
            index = "(SELECT CAST(ix AS TIMESTAMP) FROM te_omop_index g WHERE g.subject_id = p.subject_id)"
        else:
            index = f"CAST({_literal(pd.Timestamp(index_date).isoformat(sep=' '))} AS TIMESTAMP)"
        report.note("index date: given by the caller")
    else:
        report.note("index date: end of the latest observation period (or the death date if earlier)")
    con.execute("ALTER TABLE te_omop_person ADD COLUMN ix TIMESTAMP")
    con.execute(f"UPDATE te_omop_person p SET ix = {index}")
    observed = "NULL"
    if periods:
        # observed at the index date: the period containing it; its start is when records begin
        observed = (f"(SELECT MIN(o.start) FROM {periods} o WHERE o.subject_id = p.subject_id AND o.start <= p.ix "
                    "AND p.ix <= o.\"end\" + INTERVAL 1 DAY)")
    con.execute("ALTER TABLE te_omop_person ADD COLUMN observed_from TIMESTAMP")
    con.execute(f"UPDATE te_omop_person p SET observed_from = {observed}")
    report.kept(table_name(file), run.one("SELECT COUNT(*) FROM te_omop_person"))


# --- measurements ----------------------------------------------------------------------------------

def _measurements(run: _Load) -> None:
    cdm, con, report = run.cdm, run.con, run.report
    file = cdm.where("measurement")
    name = table_name(file)
    columns = set(cdm.columns("measurement"))
    require_columns(pd.DataFrame(columns=sorted(columns)),
                         ["person_id", "measurement_concept_id", "measurement_date", "value_as_number"], file=file)
    m, concept = cdm.relations["measurement"], cdm.relations["concept"]
    con.execute(f"CREATE TEMP TABLE te_omop_m0 AS SELECT m.*, k.variable AS te_variable FROM {m} m "
                f"LEFT JOIN te_omop_mmap k ON k.concept_id = {_text('m.measurement_concept_id')}")
    unmapped = run.one("SELECT COUNT(*) FROM te_omop_m0 WHERE te_variable IS NULL")
    _count_unmapped(run, f"{name} concepts", "te_omop_m0", "measurement_concept_id", "te_variable IS NULL")
    report.reject(name, "concept not mapped to a catalogue variable", unmapped)
    con.execute("DELETE FROM te_omop_m0 WHERE te_variable IS NULL")
    bad = f"{_text('value_as_number')} IS NOT NULL AND {_number('value_as_number')} IS NULL"
    rows = run.rows(f"SELECT {ORDER} FROM te_omop_m0 WHERE {bad} ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("value_as_number is not a number", file=file, column="value_as_number", rows=rows)
    below_ops = [k for k, v in omop.OPERATORS.items() if v in ("<", "<=")]
    above_ops = [k for k, v in omop.OPERATORS.items() if v in (">", ">=")]
    operator = _text("operator_concept_id") if "operator_concept_id" in columns else "NULL"
    below = f"COALESCE({operator} IN ({', '.join(map(_literal, below_ops))}), FALSE)"
    above = f"COALESCE({operator} IN ({', '.join(map(_literal, above_ops))}), FALSE)"
    n_below, n_above = con.execute(f"SELECT COUNT(*) FILTER (WHERE {below}), COUNT(*) FILTER (WHERE {above}) "
                                   "FROM te_omop_m0").fetchone()
    report.convert("measurement: operator '<' (below limit) -> half the limit", n_below)
    report.convert("measurement: operator '>' (above limit) -> the limit", n_above)
    source_unit = _text("unit_source_value") if "unit_source_value" in columns else "NULL"
    unit = (f"COALESCE((SELECT CAST(c.concept_code AS VARCHAR) FROM {concept} c WHERE "
            f"CAST(c.concept_id AS VARCHAR) = {_text('unit_concept_id')} LIMIT 1), {source_unit})"
            if "unit_concept_id" in columns else source_unit)
    when = _text("measurement_datetime") if "measurement_datetime" in columns else "NULL"
    when = f"COALESCE({when}, {_text('measurement_date')})"
    ref = {c: (_number(f"range_{c}") if f"range_{c}" in columns else "CAST(NULL AS DOUBLE)") for c in ("low", "high")}
    con.execute(f"CREATE TEMP TABLE te_omop_m AS SELECT {ORDER}, {_text('person_id')} AS subject_id, "
                f"{when} AS time_text, CAST(NULL AS TIMESTAMP) AS time, te_variable AS variable, "
                f"(CASE WHEN {below} THEN {_number('value_as_number')} / 2 ELSE {_number('value_as_number')} END) "
                f"AS value, {unit} AS unit, {ref['low']} AS ref_low, {ref['high']} AS ref_high FROM te_omop_m0")
    con.execute("DROP TABLE te_omop_m0")
    run.bad_dates("te_omop_m", "measurement_datetime", "time_text", _date("time_text"), file=file)
    con.execute(f"UPDATE te_omop_m SET time = {_date('time_text')}")
    report.reject(name, "value_as_number blank", run.one("SELECT COUNT(*) FROM te_omop_m WHERE value IS NULL"))
    con.execute("DELETE FROM te_omop_m WHERE value IS NULL")
    _units(run, file)
    _ranges(run, file)
    _repeats(run, file)
    report.kept(name, run.one("SELECT COUNT(*) FROM te_omop_m"))


def _units(run: _Load, file: str) -> None:
    """explorer.cohort.units.to_catalogue_units over the distinct (variable, unit) pairs, applied in SQL."""
    catalogue = run.boundary.catalogue
    pairs = run.con.execute(f"SELECT variable, COALESCE(unit, ''), MIN({ORDER}) AS first FROM te_omop_m "
                            "GROUP BY 1, 2 ORDER BY first").fetchall()
    rows = []
    for variable, unit, _ in pairs:
        try:
            scale, offset = conversion(variable, unit, catalogue=catalogue)
        except UnitError as err:
            where = f"variable = {_literal(variable)} AND COALESCE(unit, '') = {_literal(unit)}"
            first = run.rows(f"SELECT {ORDER} FROM te_omop_m WHERE {where} ORDER BY {ORDER} LIMIT 5")
            raise UnitError(str(err), file=file, column="value_as_number", rows=first) from None
        target = catalogue[variable].unit
        if (scale, offset) == (1.0, 0.0):
            continue
        decimals = None if _exact(scale, offset) else report_precision(variable, target, catalogue=catalogue)
        rows.append((variable, unit, scale, offset, decimals))
        n = run.one(f"SELECT COUNT(*) FROM te_omop_m WHERE variable = {_literal(variable)} "
                    f"AND COALESCE(unit, '') = {_literal(unit)}")
        run.report.convert(f"unit {variable}: {canonical_unit(unit)} -> {target}", n)
    if not rows:
        return
    run.con.register("te_omop_units", pa.table({
        "variable": pa.array([r[0] for r in rows], type=pa.string()), "unit": pa.array([r[1] for r in rows]),
        "scale": pa.array([r[2] for r in rows], type=pa.float64()),
        "offset": pa.array([r[3] for r in rows], type=pa.float64()),
        "decimals": pa.array([r[4] for r in rows], type=pa.int64())}))
    sets = ", ".join(f"{c} = {rounded(f'u.scale * te_omop_m.{c} + u.offset', 'u.decimals')}"
                     for c in ("value", "ref_low", "ref_high"))
    run.con.execute(f"UPDATE te_omop_m SET {sets} FROM te_omop_units u WHERE u.variable = te_omop_m.variable "
                    "AND u.unit = COALESCE(te_omop_m.unit, '')")


def rounded(value: str, decimals: str) -> str:
    """explorer.cohort.units.round_reported in SQL: half away from zero, with its 1e-12 relative nudge."""
    factor = f"power(10.0, {decimals})"
    return (f"(CASE WHEN {decimals} IS NULL THEN {value} ELSE "
            f"sign({value}) * floor(abs({value}) * {factor} * (1 + 1e-12) + 0.5) / {factor} END)")


def _ranges(run: _Load, file: str) -> None:
    """common.check_ranges: a value outside its variable's plausible range (after unit conversion)."""
    catalogue = run.boundary.catalogue
    ranged = [v for v in catalogue if v.range]
    run.con.register("te_omop_ranges", pa.table({
        "variable": pa.array([v.name for v in ranged], type=pa.string()),
        "low": pa.array([float(v.range[0]) for v in ranged], type=pa.float64()),
        "high": pa.array([float(v.range[1]) for v in ranged], type=pa.float64())}))
    outside = ("EXISTS (SELECT 1 FROM te_omop_ranges r WHERE r.variable = te_omop_m.variable "
               "AND (te_omop_m.value < r.low OR te_omop_m.value > r.high))")
    first = run.con.execute(f"SELECT variable, value FROM te_omop_m WHERE {outside} ORDER BY {ORDER} LIMIT 1"
                            ).fetchone()
    if first is None:
        return
    var = catalogue[first[0]]
    message = (f"{var.name} = {first[1]:g} {var.unit} is outside the plausible range "
               f"[{var.range[0]:g}, {var.range[1]:g}] {var.unit} (after unit conversion); check the "
               "value and its unit")
    if run.boundary.on_invalid == "reject":
        message = "value outside the plausible range of its variable"
    # the loader names the source column of the value (Boundary.invalid reads it from the draft)
    run.invalid("te_omop_m", outside, file=file, column="value_as_number", message=message)


def _repeats(run: _Load, file: str) -> None:
    """common.drop_duplicates(conflicts="report"): repeated labs are kept and counted; different values warned."""
    repeated, differing, variables = run.con.execute(
        "SELECT COALESCE(SUM(n), 0), COALESCE(SUM(n) FILTER (WHERE d > 1), 0), "
        "list(DISTINCT variable ORDER BY variable) FILTER (WHERE d > 1) FROM (SELECT variable, COUNT(*) AS n, "
        "COUNT(DISTINCT value) AS d FROM te_omop_m GROUP BY subject_id, time, variable HAVING COUNT(*) > 1)"
    ).fetchone()
    if repeated:
        run.report.convert("value: repeated measurements at one time (kept; screening uses their mean)", int(repeated))
    if differing:
        run.report.warn(f"{table_name(file)}: {int(differing)} measurements share subject, time and variable "
                        f"with a different value ({', '.join((variables or [])[:6])}); screening uses the "
                        "mean of such values")


def _count_unmapped(run: _Load, where: str, table: str, column: str, condition: str) -> None:
    """LoadReport.count_unmapped of the concepts left out, labelled "name [id]" as the loader does."""
    concept = run.cdm.relations["concept"]
    found = run.con.execute(
        f"SELECT {_text(column)} AS cid, COUNT(*) AS n FROM {table} WHERE {condition} AND {_text(column)} IS NOT NULL "
        f"GROUP BY 1 ORDER BY MIN({ORDER})").fetchall()  # first appearance: the loader's order among equal counts
    if not found:
        return
    names = dict(run.con.execute(
        f"SELECT CAST(concept_id AS VARCHAR), CAST(concept_name AS VARCHAR) FROM {concept} "
        f"WHERE CAST(concept_id AS VARCHAR) IN ({', '.join(_literal(c) for c, _ in found)})").fetchall())
    values = pd.Series(np.repeat([c for c, _ in found], [n for _, n in found]), dtype=object)
    run.report.count_unmapped(where, values, label=lambda c: f"{names.get(c, c)} [{c}]")


# --- conditions, observations, drugs -------------------------------------------------------------

def _records(run: _Load, spec: dict) -> None:
    """Every mapped record (subject, start, end, rule) in the loader's order, in te_omop_records."""
    cdm, con, report = run.cdm, run.con, run.report
    selects = []
    for number, (table, section, concept_col, start_col, end_col) in enumerate((
            ("condition_occurrence", "condition", "condition_concept_id", "condition_start_date", "condition_end_date"),
            ("observation", "observation", "observation_concept_id", "observation_date", None))):
        if not cdm.has(table):
            continue
        file, relation = cdm.where(table), cdm.relations[table]
        name = table_name(file)
        columns = set(cdm.columns(table))
        require_columns(pd.DataFrame(columns=sorted(columns)), ["person_id", concept_col, start_col], file=file)
        mapped = f"{_text(concept_col)} IN (SELECT concept_id FROM te_omop_rules WHERE section = {_literal(section)})"
        total, kept = con.execute(f"SELECT COUNT(*), COUNT(*) FILTER (WHERE {mapped}) FROM {relation}").fetchone()
        report.reject(name, "concept not mapped to a catalogue variable", total - kept)
        report.kept(name, kept)
        _count_unmapped(run, f"{name} concepts", relation, concept_col, f"NOT ({mapped})")
        view = f"(SELECT * FROM {relation} WHERE {mapped})"
        run.bad_dates(view, start_col, start_col, _date(start_col), file=file)
        has_end = bool(end_col) and end_col in columns
        if has_end:
            run.bad_dates(view, end_col, end_col, _date(end_col), file=file)
        end = _date(f"t.{end_col}") if has_end else "CAST(NULL AS TIMESTAMP)"
        selects.append(
            f"SELECT {number} AS tab, t.{ORDER} AS src, r.rule_no, {_text('t.person_id')} AS subject_id, "
            f"{_date('t.' + start_col)} AS start, {end} "
            f"AS \"end\", r.variable, r.value, r.truth, r.ongoing_days, r.event FROM {relation} t "
            f"JOIN te_omop_rules r ON r.section = {_literal(section)} AND r.concept_id = {_text('t.' + concept_col)}")
    if cdm.has("drug_exposure"):
        selects.append(_drugs(run, spec.get("drug", {})))
    empty = ("SELECT 0 AS tab, 0 AS src, 0 AS rule_no, CAST(NULL AS VARCHAR) AS subject_id, "
             "CAST(NULL AS TIMESTAMP) AS start, CAST(NULL AS TIMESTAMP) AS \"end\", CAST(NULL AS VARCHAR) AS variable, "
             "CAST(NULL AS VARCHAR) AS value, TRUE AS truth, CAST(NULL AS DOUBLE) AS ongoing_days, "
             "CAST(NULL AS VARCHAR) AS event WHERE FALSE")
    union = " UNION ALL ".join(selects or [empty])
    con.execute(f"CREATE TEMP TABLE te_omop_records AS SELECT *, row_number() OVER (ORDER BY tab, src, rule_no) - 1 "
                f"AS pos FROM ({union}) u")


def _drugs(run: _Load, section: dict) -> str:
    """The loader's _drug_records: exposures whose concept name matches, current at the index date."""
    cdm, con = run.cdm, run.con
    file, relation, concept = cdm.where("drug_exposure"), cdm.relations["drug_exposure"], cdm.relations["concept"]
    name = table_name(file)
    columns = set(cdm.columns("drug_exposure"))
    require_columns(pd.DataFrame(columns=sorted(columns)), ["person_id", "drug_concept_id",
                                                                 "drug_exposure_start_date"], file=file)
    run.bad_dates(relation, "drug_exposure_start_date", "drug_exposure_start_date", _date("drug_exposure_start_date"),
                  file=file)
    if "drug_exposure_end_date" in columns:
        run.bad_dates(relation, "drug_exposure_end_date", "drug_exposure_end_date", _date("drug_exposure_end_date"),
                      file=file)
    end = _date("d.drug_exposure_end_date") if "drug_exposure_end_date" in columns else "CAST(NULL AS TIMESTAMP)"
    supply = _number("d.days_supply") if "days_supply" in columns else "CAST(NULL AS DOUBLE)"
    con.execute(
        f"CREATE TEMP TABLE te_omop_drugs AS SELECT d.{ORDER} AS src, {_text('d.person_id')} AS subject_id, "
        f"lower(COALESCE((SELECT CAST(c.concept_name AS VARCHAR) FROM {concept} c WHERE CAST(c.concept_id AS VARCHAR) "
        f"= {_text('d.drug_concept_id')} LIMIT 1), '')) AS name, {_date('d.drug_exposure_start_date')} AS start, "
        f"COALESCE({end}, {_date('d.drug_exposure_start_date')} + to_microseconds(CAST(COALESCE({supply}, 0) "
        f"* 86400000000 AS BIGINT))) AS \"end\", p.ix FROM {relation} d "
        "LEFT JOIN te_omop_person p ON p.subject_id = " + _text("d.person_id"))
    hits, used = [], []
    for number, (variable, rule) in enumerate(section.items()):
        patterns = [str(p).lower() for p in rule.get("name_contains", [])]
        hit = "(" + " OR ".join(f"contains(name, {_literal(p)})" for p in patterns) + ")" if patterns else "FALSE"
        days = float(rule.get("within_days", 0))
        current = (f"{hit} AND start <= ix AND \"end\" >= ix - to_microseconds(CAST({days * 86400e6!r} AS BIGINT))")
        used.append(hit)
        hits.append(f"SELECT 2 AS tab, src, {number} AS rule_no, subject_id, start, CAST(NULL AS TIMESTAMP) AS \"end\", "
                    f"{_literal(variable)} AS variable, CAST(NULL AS VARCHAR) AS value, TRUE AS truth, "
                    f"CAST(NULL AS DOUBLE) AS ongoing_days, CAST(NULL AS VARCHAR) AS event FROM te_omop_drugs "
                    f"WHERE {current}")
    any_used = " OR ".join(used) or "FALSE"
    total, n_used = con.execute(f"SELECT COUNT(*), COUNT(*) FILTER (WHERE {any_used}) FROM te_omop_drugs").fetchone()
    run.report.reject(name, "drug not mapped to a catalogue variable", total - n_used)
    run.report.kept(name, n_used)
    return " UNION ALL ".join(hits) if hits else (
        "SELECT 2 AS tab, 0 AS src, 0 AS rule_no, NULL AS subject_id, CAST(NULL AS TIMESTAMP) AS start, "
        "CAST(NULL AS TIMESTAMP) AS \"end\", NULL AS variable, NULL AS value, TRUE AS truth, "
        "CAST(NULL AS DOUBLE) AS ongoing_days, NULL AS event WHERE FALSE")


def _static(run: _Load, spec: dict) -> list[tuple[str, str]]:
    """The subject columns the records set at the index date: (column, SQL over te_omop_person p)."""
    out = []
    run.con.execute("CREATE TEMP TABLE te_omop_before AS SELECT b.*, q.ix FROM te_omop_records b "
                    "JOIN te_omop_person q ON q.subject_id = b.subject_id WHERE b.start <= q.ix")
    for variable in sorted(omop._all_static(spec)):
        if variable == "diabetes_type":
            run.con.execute(
                "CREATE TEMP TABLE te_omop_dtype AS SELECT subject_id, arg_max(value, (n, last)) AS kind, "
                "COUNT(*) AS kinds FROM (SELECT subject_id, value, COUNT(*) AS n, MAX(start) AS last "
                "FROM te_omop_before WHERE variable = 'diabetes_type' AND value IS NOT NULL GROUP BY 1, 2) GROUP BY 1")
            run.report.convert("diabetes_type: records of more than one type -> the most frequent",
                               run.one("SELECT COUNT(*) FROM te_omop_dtype WHERE kinds > 1"))
            any_kind = run.one("SELECT COUNT(*) FROM te_omop_dtype") > 0
            out.append(("diabetes_type", "COALESCE((SELECT kind FROM te_omop_dtype k WHERE k.subject_id = p.subject_id), "
                                         "CASE WHEN p.observed_from IS NOT NULL THEN 'none' END)"))
            first = ("(SELECT MIN(start) FROM te_omop_before b WHERE b.variable = 'diabetes_type' "
                     "AND b.subject_id = p.subject_id)") if any_kind else "CAST(NULL AS TIMESTAMP)"
            out.append(("diagnosis_date", first))
            continue
        days = f"CAST((epoch_ns(b.ix) - epoch_ns(b.start)) // {DAY_NS} AS DOUBLE)"
        still = (f"(COALESCE(b.\"end\" >= b.ix, FALSE) OR (b.\"end\" IS NULL AND {days} <= COALESCE(b.ongoing_days, 0)))")
        hit = (f"(SELECT bool_or(b.truth) FROM te_omop_before b WHERE b.variable = {_literal(variable)} "
               f"AND b.subject_id = p.subject_id AND (b.ongoing_days IS NULL OR {still}))")
        out.append((variable, f"COALESCE({hit}, CASE WHEN p.observed_from IS NOT NULL THEN FALSE END)"))
    return out


# --- the canonical tables ----------------------------------------------------------------------------

def _subjects_checks(run: _Load, file: str, static: list[tuple[str, str]]) -> None:
    """common._check_subjects on te_omop_subjects (the loader's order and messages)."""
    t = "te_omop_subjects"
    rows = run.rows(f"SELECT {ORDER} FROM {t} WHERE subject_id IS NULL ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("subject id is missing", file=file, column="subject_id", rows=rows)
    dup = f"subject_id IN (SELECT subject_id FROM {t} GROUP BY 1 HAVING COUNT(*) > 1)"
    rows = run.rows(f"SELECT {ORDER} FROM {t} WHERE {dup} ORDER BY {ORDER} LIMIT 10")
    if rows:
        ids = run.rows(f"SELECT DISTINCT subject_id FROM {t} WHERE {dup} ORDER BY 1 LIMIT 5")
        raise DataError(f"duplicate subject ids {ids}; each subject must appear once", file=file,
                        column="subject_id", rows=rows)
    rows = run.rows(f"SELECT {ORDER} FROM {t} WHERE ix IS NULL ORDER BY {ORDER} LIMIT 10")
    if rows:
        raise DataError("index (screening) date is missing", file=file, column="index_date", rows=rows)
    dated = [("birth_date", "birth")] + [(c, c) for c, _ in static if c == "diagnosis_date"] + [("index_date", "ix")]
    now = _literal(run.now.isoformat(sep=" "))
    for column, sql in dated:
        found = run.con.execute(f"SELECT {sql}, {ORDER} FROM {t} WHERE {sql} > CAST({now} AS TIMESTAMP) "
                                f"ORDER BY {ORDER} LIMIT 10").fetchall()
        if found:
            raise DataError(f"date in the future ({found[0][0].date()})", file=file, column=column,
                            rows=[r for _, r in found])
    for column, sql in dated[1:]:
        rows = run.rows(f"SELECT {ORDER} FROM {t} WHERE {sql} < birth ORDER BY {ORDER} LIMIT 10")
        if rows:
            raise DataError(f"{column} is before the birth date", file=file, column=column, rows=rows)


def _check_times(run: _Load, table: str, file: str, column: str, rows: str) -> None:
    """common.finish_cohort's per-table checks: known subject, time present, not in the future, not before birth."""
    run.invalid(table, "subject_id IS NULL OR subject_id NOT IN (SELECT subject_id FROM te_omop_subjects)",
                file=file, column="subject_id", message="subject id not in the subjects table", rows=rows)
    run.invalid(table, "time IS NULL", file=file, column=column, message="time is missing", rows=rows)
    run.invalid(table, f"time > CAST({_literal(run.now.isoformat(sep=' '))} AS TIMESTAMP)", file=file,
                column=column, message="date in the future", rows=rows)
    run.invalid(table, "time < (SELECT birth FROM te_omop_subjects s WHERE s.subject_id = " + table + ".subject_id)",
                file=file, column=column, message="date before the birth date", rows=rows)


def _warn_without_uln(run: _Load) -> None:
    catalogue = run.boundary.catalogue
    found = run.con.execute("SELECT variable, COUNT(*), COUNT(ref_high) FROM te_omop_m GROUP BY 1 ORDER BY 1"
                            ).fetchall()
    variables = {v for v, _, _ in found}
    for variable, n, with_uln in found:
        uln = f"{variable}_uln"
        if uln not in catalogue or uln in variables or with_uln:
            continue
        run.report.warn(f"{variable}: none of its {n} values has an upper limit of normal, "
                        f"so a criterion using {uln} (\"x ULN\") is unknown for everyone; give "
                        "ref_high (a column, or a constant with its unit) in the mapping")


def load_omop_sql(path: str | Path, con, *, mapping: str | Path | dict | None = None,
                  index_date: str | pd.Timestamp | Mapping | None = None, on_invalid: str = "raise",
                  features_catalogue: Catalogue | None = None) -> tuple[list[str], set[str], LoadReport]:
    """Build features_sql's canonical tables (VIEWS) in `con` from the CDM at `path`, by the loader's rules.

    Returns the subject columns, the tables that hold rows, and the load report.
    """
    path = Path(path)
    cdm = Cdm(path, con)
    for table in ("person", "concept"):
        if not cdm.has(table):
            raise DataError(f"no {table} table ({table.upper()}.csv) in the OMOP CDM", file=str(path))
    spec = omop._read_mapping(mapping)
    report = LoadReport(source=str(path), kind="omop")
    boundary = Boundary(report, on_invalid, loader_catalogue())
    omop.check_mapping(spec, boundary.catalogue,
                       source=str(mapping) if isinstance(mapping, str | Path) else "OMOP mapping")
    run = _Load(con, cdm, boundary, features_catalogue or default_catalogue())
    for table in omop.TABLES:  # the loader's order, so the reports read alike
        if table != "concept" and cdm.has(table):
            report.read(table_name(cdm.where(table)), run.one(f"SELECT COUNT(*) FROM {cdm.relations[table]}"))
    _rule_tables(run, spec, _concepts(run, spec))
    _persons(run, index_date=index_date)
    if cdm.has("measurement"):
        _measurements(run)
    _records(run, spec)
    static = _static(run, spec)

    pfile = cdm.where("person")
    con.execute(f"CREATE TEMP TABLE te_omop_subjects AS SELECT p.{ORDER}, p.subject_id, p.sex, p.birth, p.ix, "
                + "".join(f"{sql} AS \"{column}\", " for column, sql in static)
                + "p.observed_from FROM te_omop_person p ORDER BY p." + ORDER)
    _subjects_checks(run, pfile, static)
    if cdm.has("measurement"):
        _check_times(run, "te_omop_m", cdm.where("measurement"), "time", ORDER)
    events = sorted({r["event"] for rules in spec.get("condition", {}).values() for r in omop._rules(rules)
                     if "event" in r})
    con.execute("CREATE TEMP TABLE te_omop_events AS SELECT pos, subject_id, start AS time, event FROM te_omop_records "
                "WHERE event IS NOT NULL")
    _check_times(run, "te_omop_events", pfile, "time", "pos")
    run.con.register("te_omop_event_types", pa.table({"event": pa.array(events, type=pa.string()),
                                                      "e": pa.array(range(len(events)), type=pa.int64())}))
    con.execute("CREATE TEMP TABLE te_omop_history AS SELECT row_number() OVER (ORDER BY e.e, p." + ORDER + ") - 1 AS pos, "
                "p.subject_id, e.event, p.observed_from AS time FROM te_omop_event_types e CROSS JOIN te_omop_subjects p "
                "WHERE p.observed_from IS NOT NULL")
    _check_times(run, "te_omop_history", pfile, "recorded_from", "pos")
    if cdm.has("measurement"):
        _warn_without_uln(run)
    return _canonical(run, static)


def _canonical(run: _Load, static: list[tuple[str, str]]) -> tuple[list[str], set[str], LoadReport]:
    """The prepared tables of features_sql (cohort_tables' columns and order), as DuckDB temporary tables."""
    catalogue, con = run.features, run.con
    columns = ["subject_id", f"row_number() OVER (ORDER BY {ORDER}) - 1 AS \"__row\"", "epoch_ns(ix) AS \"__index\"",
               "epoch_ns(birth) AS \"__birth\""]
    names = ["subject_id", "__row", "__index", "__birth"]
    if any(c == "diagnosis_date" for c, _ in static):
        columns.append("epoch_ns(diagnosis_date) AS \"__diagnosis\"")
        names.append("__diagnosis")
    for column in ["sex"] + [c for c, _ in static]:
        var = catalogue.get(column)
        if column in SUBJECT_FIELDS or var is None or var.kind == "event":
            continue
        sql_type = {"number": "DOUBLE", "boolean": "BOOLEAN"}.get(var.kind, "VARCHAR")
        columns.append(f"CAST(\"{column}\" AS {sql_type}) AS \"{column}\"")
        names.append(column)
    con.execute(f"CREATE TEMP TABLE {VIEWS['subjects']} AS SELECT {', '.join(columns)} FROM te_omop_subjects "
                f"ORDER BY {ORDER}")
    tables = {"subjects"}
    if run.cdm.has("measurement") and run.one("SELECT COUNT(*) FROM te_omop_m"):
        con.execute(f"CREATE TEMP TABLE {VIEWS['measurements']} AS SELECT subject_id, variable, value, ref_high, "
                    "epoch_ns(time) AS \"__time\" FROM te_omop_m")
        tables.add("measurements")
    if run.one("SELECT COUNT(*) FROM te_omop_events"):
        con.execute(f"CREATE TEMP TABLE {VIEWS['events']} AS SELECT row_number() OVER (ORDER BY pos) - 1 AS \"__row\", "
                    "subject_id, event, CAST(NULL AS BIGINT) AS severity, epoch_ns(time) AS \"__time\" FROM te_omop_events")
        tables.add("events")
    if run.one("SELECT COUNT(*) FROM te_omop_history"):
        con.execute(f"CREATE TEMP TABLE {VIEWS['event_history']} AS SELECT row_number() OVER (ORDER BY pos) - 1 "
                    "AS \"__row\", subject_id, event, epoch_ns(time) AS \"__time\" FROM te_omop_history")
        tables.add("event_history")
    return names, tables, run.report


def omop_screening_sql(path: str | Path, *, engine: str = "duckdb", mapping: str | Path | dict | None = None,
                       index_date: str | pd.Timestamp | Mapping | None = None, on_invalid: str = "raise",
                       lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                       catalogue: Catalogue | None = None, con: Any = None) -> tuple[Screening, LoadReport]:
    """The screening of an OMOP CDM read in place (features derived by features_sql), and its load report.

    `catalogue`: the variables the features are typed and derived by (a trial's); the CDM is read, as by
    the loader, against the bundled catalogue.
    """
    if engine != "duckdb":
        raise DataError(f"an OMOP CDM is read in place by duckdb, not {engine!r}; use --engine duckdb, or "
                        "--engine memory to read it through the pandas loader", file=str(path))
    import duckdb

    own = con is None
    con = duckdb.connect(":memory:") if own else con
    try:
        names, tables, report = load_omop_sql(path, _Connection(con), mapping=mapping, index_date=index_date,
                                              on_invalid=on_invalid, features_catalogue=catalogue)
        screening = derive(DuckRunner(con), tables, names, lookback_days=lookback_days, cgm_days=cgm_days,
                           catalogue=catalogue or default_catalogue(), source=str(path))
        return screening, report
    except duckdb.Error as err:
        raise DataError(f"DuckDB could not read the OMOP CDM: {' '.join(str(err).split())}", file=str(path)) from None
    finally:
        if own:
            con.close()
