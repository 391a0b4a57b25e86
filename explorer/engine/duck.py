"""The DuckDB engine: criteria compiled to SQL (explorer.engine.sql) and run where the data lies.

The source is a layout folder (explorer.engine.layout: Parquet or CSV files, read in place, never
loaded into pandas) or an in-memory Screening (its tables handed to DuckDB as Arrow, zero-copy).
Each source table becomes a view; the features view carries a row number, so the truth codes can be
put back in the file's row order, which is the subject order of the matrix.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.engine.histogram_sql import duckdb_edit_table
from explorer.engine.layout import (
    BOOLEAN_TEXT,
    CENSORED,
    REASONS,
    aligned_tables,
    censored_table,
    check_columns,
    check_event_files,
    check_reason_columns,
    check_screening_tables,
    find_tables,
    read_screening,
    reason_counts_of_rows,
    reason_counts_sql,
    reasons_frame,
    reasons_sql,
    screening_tables,
)
from explorer.engine.sql import DUCKDB, ROW, CriterionSQL, MatrixQuery, SourceSchema, matrix_query
from explorer.errors import DataError
from explorer.expr import Call, walk

DENSE_EVENTS = "__te_event_counts_by_row"
REASONS_VIEW = "__te_missing_reasons"
# DuckDB's own default is 80 % of the machine; a dashboard holding a 10^7 cohort must stay under 2 GB in all
# (docs/engine.md, "Memory"), and DuckDB spills what does not fit. A researcher with
# memory to spare (or a query DuckDB cannot spill) raises it without code: TRIAL_EXPLORER_DUCKDB_MEMORY=8GB.
MEMORY_ENV = "TRIAL_EXPLORER_DUCKDB_MEMORY"
MEMORY_LIMIT = "1GB"
# DuckDB's temporary folder may otherwise grow to 90 % of the free disk: a spill stops with a clear error
# while this much of the disk is still free (or at TRIAL_EXPLORER_DUCKDB_TEMP_LIMIT, e.g. 20GB, when set)
TEMP_LIMIT_ENV = "TRIAL_EXPLORER_DUCKDB_TEMP_LIMIT"
DISK_KEPT_FREE = 5 * 2**30
CHECK_BATCH = 1 << 20  # rows of an event table checked at a time (explorer.cohort.checks' pandas rules)


def literal_path(path: Path) -> str:
    """A path DuckDB reads as itself: its glob characters escaped as one-character classes, so a folder
    named `cohort[1]` or `site*` is never read as `cohort1` or merged with `site_b`."""
    return "".join(f"[{c}]" if c in "*?[{" else c for c in str(path))


class DuckDBBackend:
    """Evaluates criteria with DuckDB over a layout folder or a Screening."""

    name = "duckdb"

    def __init__(self, source: Any, catalogue: Catalogue | None = None, *, threads: int | None = None,
                 memory_limit: str | None = None):
        self.catalogue = catalogue or default_catalogue()
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        memory_limit = memory_limit or os.environ.get(MEMORY_ENV) or MEMORY_LIMIT
        if memory_limit:
            if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(memory_limit)):
                raise DataError(f"DuckDB memory limit {memory_limit!r} (argument memory_limit or environment "
                                f"variable {MEMORY_ENV}); write it like '8GB'")
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        # Past the limit DuckDB spills joins and groupings to its temporary directory (in the system's temp
        # folder, not the folder the dashboard was started in). No query here needs rows in file order kept
        # by DuckDB: truth codes are put back by row number, histograms and checks have no order.
        self.con.execute(f"SET temp_directory = '{_spill_directory()}'")
        self.con.execute("SET preserve_insertion_order = false")
        # DuckDB draws a progress bar on stdout for a query over 2 s: into `funnel --format json`'s output
        self.con.execute("SET enable_progress_bar = false")
        self.source = source
        self._arrow_tables: dict[str, pa.Table] = {}
        self._lock = threading.Lock()
        self._formats: dict[str, str] = {}
        self._reasons: str | None = None  # the view of the source's missing reasons, when it has them
        self.schema = self._register(source)
        self._subject_ids: pd.Index | None = None
        self._n: int | None = None

    # --- sources -----------------------------------------------------------------------------
    def _register(self, source: Any) -> SourceSchema:
        tables = SourceSchema(features=frozenset()).tables
        if isinstance(source, (str, Path)):
            row_column, columns = self._register_files(Path(source), tables)
        else:
            row_column, columns = self._register_screening(source, tables)
        if self._formats:
            # Parquet read in place: the manifest's word is a hint, checked by every query that trusts it
            aligned = {t for t in aligned_tables(source) if self._formats.get(t) == ".parquet"}
        else:
            aligned = {"event_lookback", "event_counts"}  # screening_tables puts them in features order
        return SourceSchema(
            censored=self._censored_variables(tables),
            aligned=frozenset(aligned),
            features=frozenset(c for c in columns.get("features", []) if c not in ("subject_id", row_column)),
            events="events" in columns,
            event_lookback=frozenset(c for c in columns.get("event_lookback", []) if c != "subject_id"),
            event_counts=frozenset(c for c in columns.get("event_counts", []) if c != "subject_id"),
            row_column=row_column, tables=tables)

    def _register_files(self, folder: Path, tables: dict) -> tuple[str, dict[str, list[str]]]:
        paths = find_tables(folder)
        self._formats = {name: path.suffix for name, path in paths.items()}
        if any(path.suffix != ".parquet" for path in paths.values()):
            # CSV is text: one reader types and checks it for both engines (layout.read_screening)
            self._formats = {}
            return self._register_screening(read_screening(folder, self.catalogue), tables)
        columns = {}
        for name, path in paths.items():
            if name == "features":
                schema = _parquet_schema(path)
                check_columns(schema.names, str(path), self.catalogue)
            try:
                relation = self.con.read_parquet(literal_path(path), file_row_number=(name == "features"))
            except duckdb.Error as err:
                raise DataError(f"DuckDB cannot read it: {' '.join(str(err).split())}", file=str(path)) from None
            relation.create_view(tables[name])
            columns[name] = list(relation.columns)
        if "subject_id" not in columns["features"]:
            raise DataError("features has no subject_id column", file=str(folder), column="subject_id")
        self._register_reasons(folder / REASONS)
        if (folder / CENSORED).is_file():  # the intervals of censored values, read in place
            try:
                relation = self.con.read_parquet(literal_path(folder / CENSORED))
            except duckdb.Error as err:
                raise DataError(f"DuckDB cannot read it: {' '.join(str(err).split())}",
                                file=str(folder / CENSORED)) from None
            relation.create_view(tables["censored"])
        self._check_features(paths["features"], tables["features"], schema)
        self._check_event_files(paths, tables)
        for name in ("event_lookback", "event_counts"):
            if name in paths:
                self._check_one_row_per_subject(paths[name], tables[name])
        return "file_row_number", columns

    def _check_event_files(self, paths: dict[str, Path], tables: dict[str, str]) -> None:
        """layout.check_event_files' rules (the same functions, so the same messages) in bounded memory.

        That check reads every subject id and whole event tables into pandas: 3 GB at 10^7 subjects, the
        DuckDB engine's peak. Here membership in features is one anti-join in DuckDB (which spills), and the
        per-row rules run on batches of CHECK_BATCH rows; on any failure the whole-file check runs, so the
        error names the rows as read_screening's does."""
        import pyarrow.parquet as pq

        from explorer.cohort.checks import typed_events, typed_per_subject

        q = DUCKDB.quote
        key = f"CAST({q('subject_id')} AS VARCHAR)"
        for name in ("events", "event_lookback", "event_counts"):
            if name not in paths:
                continue
            unknown = self.con.execute(
                f"SELECT COUNT(*) FROM {q(tables[name])} WHERE {key} IS NOT NULL AND {key} NOT IN "
                f"(SELECT {key} FROM {q(tables['features'])})").fetchall()[0][0]  # fetchone leaves the result open
            try:
                if unknown:
                    raise DataError(f"{unknown} rows of {name} name subjects not in features")
                for batch in pq.ParquetFile(paths[name]).iter_batches(batch_size=CHECK_BATCH):
                    frame = batch.to_pandas()
                    ids = pd.Index(frame["subject_id"].astype("string").dropna().unique()) \
                        if "subject_id" in frame.columns else pd.Index([], dtype="string")
                    if name == "events":
                        typed_events(frame, ids, self.catalogue, file=str(paths[name]))
                    else:
                        typed_per_subject(frame, name, ids, self.catalogue, file=str(paths[name]))
            except DataError:
                check_event_files(paths, self.catalogue)  # raises, naming the rows over the whole file
                raise

    def _check_one_row_per_subject(self, path: Path, table: str) -> None:
        q = DUCKDB.quote
        repeated = [r[0] for r in self.con.execute(
            f"SELECT CAST({q('subject_id')} AS VARCHAR) FROM {q(table)} GROUP BY 1 HAVING COUNT(*) > 1 LIMIT 5").fetchall()]
        if repeated:
            raise DataError(f"{path.stem} lists a subject twice; it needs one row per subject", file=str(path),
                            column="subject_id", rows=repeated)

    def _check_features(self, path: Path, table: str, schema: pa.Schema) -> None:
        """The contract read_screening checks for the memory engine (explorer.cohort.screening: unique
        non-blank ids, finite numbers in the plausible range, known categories), checked in one scan.

        Typed columns skip the text rules: casting every BOOLEAN to text to check its spelling cost
        more than the criteria themselves (1.8 of 4.4 s of CPU at 10^6 subjects and 78 columns)."""
        q, tests, values = DUCKDB.quote, [], {}
        statistics = _statistics(path)
        ids = f"CAST({q('subject_id')} AS VARCHAR)"
        tests.append(("subject_id", "blank subject ids; every row needs one", f"{ids} IS NULL OR trim({ids}) = ''"))
        for field in schema:
            col, var = field.name, self.catalogue.get(field.name)
            if var is None or col == "subject_id":
                continue
            ref = q(col)
            if var.kind == "number":
                typed = pa.types.is_floating(field.type) or pa.types.is_integer(field.type)
                if typed and var.range is not None and _within(statistics, col, *var.range):
                    continue  # the row groups' own minimum and maximum settle it, no scan needed
                number = ref if typed else f"TRY_CAST({ref} AS DOUBLE)"
                if var.range is None:
                    bad = f"isinf({number})"
                else:  # NaN is unknown, like an empty cell, but DuckDB orders it above every number
                    low, high = float(var.range[0]), float(var.range[1])
                    bad = f"{number} < {low!r} OR ({number} > {high!r} AND NOT isnan({number}))"
                if not typed:
                    bad = f"{number} IS NULL OR {bad}"
                bad = f"{ref} IS NOT NULL AND ({bad})"
                tests.append((col, f"values that are not finite numbers in the plausible range {list(var.range or ())} "
                                   f"{var.unit or ''}; leave the cell empty when the value is unknown", bad))
            elif var.kind == "boolean" and not pa.types.is_boolean(field.type):
                words = ", ".join(f"'{w}'" for w in BOOLEAN_TEXT)  # layout's own constant, not file text
                tests.append((col, "values that are not booleans; write true / false (or 1 / 0), empty when unknown",
                              f"{ref} IS NOT NULL AND lower(CAST({ref} AS VARCHAR)) NOT IN ({words})"))
            elif var.kind == "category":
                allowed = []
                for c in var.categories:  # a trial's categories are bound values, never SQL text
                    values[f"v{len(values)}"] = c
                    allowed.append(f"$v{len(values) - 1}")
                allowed = ", ".join(allowed)
                tests.append((col, f"values that are not among {list(var.categories)}",
                              f"{ref} IS NOT NULL AND CAST({ref} AS VARCHAR) NOT IN ({allowed})"))
        counts = ", ".join(f"COUNT(*) FILTER (WHERE {bad}) AS c{i}" for i, (_, _, bad) in enumerate(tests))
        # one scan for every per-value rule; the repeated ids apart (a DISTINCT aggregate in the same
        # query made DuckDB take a slow path for all of them: 5 s instead of 1 s of CPU at 10^6 subjects)
        found = self.con.execute(f"SELECT {counts} FROM {q(table)}", values).fetchall()[0]
        for (col, message, bad), n in zip(tests, found, strict=True):
            if n:
                used = {k: v for k, v in values.items() if f"${k}" in bad}
                rows = [r[0] for r in self.con.execute(
                    f"SELECT {ids} FROM {q(table)} WHERE {bad} LIMIT 5", used).fetchall()]
                raise DataError(f"{n} {message}", file=str(path), column=col, rows=rows)
        repeated = [r[0] for r in self.con.execute(
            f"SELECT {ids} FROM {q(table)} GROUP BY 1 HAVING COUNT(*) > 1 LIMIT 5").fetchall()]
        if repeated:
            raise DataError("duplicate subject ids; each subject must appear once", file=str(path),
                            column="subject_id", rows=repeated)

    def _register_screening(self, screening: Any, tables: dict) -> tuple[str, dict[str, list[str]]]:
        check_columns(screening.features.columns, screening.source or "the screening", keyed=False)
        check_screening_tables(screening)
        columns = {}
        for name, table in screening_tables(screening).items():
            if name == "features":
                table = table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
            self.con.register(tables[name], table)
            self._arrow_tables[tables[name]] = table
            columns[name] = table.column_names
        censored = censored_table(screening)
        if censored is not None:
            self.con.register(tables["censored"], censored)
            self._arrow_tables[tables["censored"]] = censored
        if getattr(screening, "missing_reasons", None) is not None:
            reasons = pa.Table.from_pandas(screening.missing_reasons, preserve_index=False)
            self.con.register(REASONS_VIEW, reasons)
            self._arrow_tables[REASONS_VIEW], self._reasons = reasons, REASONS_VIEW
        return ROW, columns

    def _censored_variables(self, tables: dict) -> frozenset[str]:
        """The variables the source's censored table (if any) has intervals of: only their comparisons are
        decided on intervals."""
        try:
            rows = self.con.execute(f'SELECT DISTINCT CAST("variable" AS VARCHAR) FROM "{tables["censored"]}"').fetchall()
        except duckdb.CatalogException:
            return frozenset()
        return frozenset(str(r[0]) for r in rows)

    def _register_reasons(self, path: Path) -> None:
        """The folder's missing_reasons.parquet (folder_writer.write_screening_folder's), read in place."""
        if not path.is_file():
            return
        try:
            relation = self.con.read_parquet(literal_path(path))
        except duckdb.Error as err:
            raise DataError(f"DuckDB cannot read it: {' '.join(str(err).split())}", file=str(path)) from None
        check_reason_columns(relation.columns, str(path))
        relation.create_view(REASONS_VIEW)
        self._reasons = REASONS_VIEW

    # --- the Backend protocol ----------------------------------------------------------------------
    def _rows(self) -> int:
        if self._n is None:
            self._n = int(self.con.execute(f'SELECT COUNT(*) FROM "{self.schema.tables["features"]}"').fetchone()[0])
        return self._n

    def subject_ids(self) -> pd.Index:
        if self._subject_ids is None:
            self._read_subject_ids()
        return self._subject_ids

    def _read_subject_ids(self) -> None:
        """The features' subject ids, in row order."""
        q, t = DUCKDB.quote, self.schema.tables
        table = self._arrow(f"SELECT {q(self.schema.row_column)} AS r, CAST({q('subject_id')} AS VARCHAR) AS "
                            f"subject_id FROM {q(t['features'])}")
        rows, ids = table.column("r").to_numpy(), table.column("subject_id")
        if len(rows) and not np.all(rows[1:] > rows[:-1]):
            ids = ids.take(pa.array(np.argsort(rows, kind="stable")))
        self._subject_ids = pd.Index(ids.to_pandas(), name="subject_id")
        self._n = len(self._subject_ids)

    def _arrow(self, sql: str) -> pa.Table:
        relation = self.con.sql(sql)
        # DuckDB 1.x names it arrow(), 2.x to_arrow_table()
        return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()

    def truth_codes(self, criteria: Sequence[Any], catalogue: Catalogue | None = None,
                    progress: Any = None) -> list[np.ndarray]:
        """Truth codes of the criteria, in subject order.

        Criteria that count events need the event aggregate and the per-subject tables, joined by
        position, and DuckDB runs a positional join on one thread; so they run as their own query,
        concurrently with the query of all other criteria, which scans on every core.
        """
        if not criteria:
            return []
        catalogue = catalogue or self.catalogue
        specs = [CriterionSQL(c.id, c.tree, c.parameter_values(), c.expression or "") for c in criteria]
        n = self._rows()
        counting = [i for i, s in enumerate(specs) if any(isinstance(node, Call) and node.func == "count"
                                                          for node in walk(s.tree))]
        groups = [g for g in ([i for i in range(len(specs)) if i not in set(counting)], counting) if g]
        try:
            if len(groups) == 1:
                parts = [self._evaluate([specs[i] for i in groups[0]], catalogue, n, self.con)]
            else:
                with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                    jobs = [pool.submit(self._evaluate, [specs[i] for i in g], catalogue, n, self._cursor())
                            for g in groups]
                    parts = [job.result() for job in jobs]
        except duckdb.Error as err:
            raise DataError(f"DuckDB could not evaluate the criteria: {' '.join(str(err).split())}",
                            file=str(self.source) if isinstance(self.source, (str, Path)) else None) from None
        out: list[np.ndarray] = [None] * len(specs)  # type: ignore[list-item]
        for group, values in zip(groups, parts, strict=True):
            for i, codes in zip(group, values, strict=True):
                out[i] = codes
        if progress is not None:
            progress.update(len(specs))
        return out

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same database (views are shared; Arrow registrations are not)."""
        cursor = self.con.cursor()
        for name, table in self._arrow_tables.items():
            cursor.register(name, table)
        return cursor

    def worker_cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection to this source for one other thread (a DuckDB connection is not safe across threads;
        a cursor is another connection to the same database). The caller closes it; `interrupt()` stops its
        query (explorer.engine.edit_histogram's warm-up yields to an edit that way)."""
        return self._cursor()

    def edit_table(self, criteria: Sequence[Any], j: int, variables: Sequence[str], catalogue: Catalogue | None,
                   limit: int, con: duckdb.DuckDBPyConnection | None = None,
                   reduce: bool | str = True) -> tuple[pa.Table, list[str]]:
        """Criterion criteria[j]'s edit table (explorer.engine.edit_histogram), grouped inside DuckDB on `con`
        (a worker_cursor() for another thread) or this backend's connection: an Arrow table of w0.., v0.., n
        (at most limit + 1 rows) and what v0, v1, ... are."""
        return duckdb_edit_table(self, list(criteria), j, variables, catalogue or self.catalogue, limit, con, reduce)

    def _evaluate(self, specs: Sequence[CriterionSQL], catalogue: Catalogue, n: int,
                  con: duckdb.DuckDBPyConnection) -> list[np.ndarray]:
        while True:
            query = MatrixQuery(specs, catalogue, self.schema, DUCKDB)
            sql, params = query.sql(dense_events=self._dense_event_counts(query, n, con))
            result = con.execute(sql, params).fetchnumpy()
            misaligned = {name.removeprefix("misaligned_") for name, values in result.items()
                          if name.startswith("misaligned_") and (len(result["subject_row"]) != n or values.any())}
            if not misaligned:
                break
            # not in features order after all: forget the claim and join those tables by subject id
            with self._lock:
                self.schema = replace(self.schema, aligned=self.schema.aligned - misaligned)
        rows = np.asarray(result["subject_row"], dtype=np.int64)
        in_order = len(rows) == n and (n == 0 or (rows[0] == 0 and np.all(np.diff(rows) == 1)))
        out = []
        for i in range(len(specs)):
            values = np.asarray(result[f"t{i}"], dtype=np.int8)
            if not in_order:  # a hash join may reorder rows; put them back in the file's row order
                placed = np.empty(n, dtype=np.int8)
                placed[rows] = values
                values = placed
            out.append(values)
        return out

    def query(self, criteria: Sequence[Any], catalogue: Catalogue | None = None) -> tuple[str, dict]:
        """The SQL and bound parameters of the criteria, with events joined by subject id (for inspection)."""
        specs = [CriterionSQL(c.id, c.tree, c.parameter_values(), c.expression or "") for c in criteria]
        return matrix_query(specs, catalogue or self.catalogue, self.schema, DUCKDB)

    def _dense_event_counts(self, query: MatrixQuery, n: int, con: duckdb.DuckDBPyConnection) -> str | None:
        """Spread the event counts over the features' rows and register them for a positional join.

        Joining the per-subject event aggregate to the cohort by subject id made DuckDB build its hash
        table on the cohort side, payload and all; joining only (row, subject id) to the aggregate and
        placing the counts by row number costs a fraction of that. Memory: 8 bytes per subject per
        (event, window) the trial uses.
        """
        if not query.counts:
            return None
        sql, params = query.event_counts_sql()
        found = con.execute(sql, params).fetchnumpy()
        rows = np.asarray(found["subject_row"], dtype=np.int64)
        dense = {}
        for column in query.counts.values():
            values = np.zeros(n, dtype=np.int64)  # no events of that kind: a count of zero
            values[rows] = np.asarray(found[column], dtype=np.int64)
            dense[column] = values
        con.register(DENSE_EVENTS, pa.table(dense))
        return DENSE_EVENTS

    # --- why values are unknown ------------------------------------------------------------------
    def missing_reasons(self) -> pd.DataFrame | None:
        """The source's missing reasons as the memory engine's Screening holds them (layout.missing_reasons'
        form, rows by subject, variable and reason: layout.ordered_reasons), None when it has none."""
        if self._reasons is None:
            return None
        t = self.schema.tables
        return reasons_frame(self._arrow(reasons_sql(DUCKDB, self._reasons, t["features"], self.schema.row_column)),
                             self.subject_ids())

    def reason_counts(self) -> dict[tuple[str, str], int]:
        """{(variable, reason): subjects}, counted by DuckDB (only the counts leave it); {} without reasons."""
        if self._reasons is None:
            return {}
        t = self.schema.tables
        rows = self._arrow(reason_counts_sql(DUCKDB, self._reasons, t["features"], self.schema.row_column))
        return reason_counts_of_rows(rows)

    def close(self) -> None:
        self.con.close()


def limit_spill(con: Any, directory: str | Path) -> str:
    """Set DuckDB's temporary folder and cap it, so that a query spilling past it stops with an error
    (spill_error) instead of filling the disk; returns the cap as DuckDB was given it."""
    import shutil

    folder = Path(directory)
    limit = os.environ.get(TEMP_LIMIT_ENV)
    if limit is not None and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit):
        raise DataError(f"DuckDB temporary folder limit {limit!r} (environment variable {TEMP_LIMIT_ENV}); "
                        "write it like '20GB'")
    if limit is None:
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        free = shutil.disk_usage(existing).free
        limit = f"{max(free - DISK_KEPT_FREE, 0) // 2**20}MiB"
    con.execute(f"SET temp_directory = '{str(folder).replace(chr(39), chr(39) * 2)}'")
    con.execute(f"SET max_temp_directory_size = '{limit}'")
    return limit


def spill_error(err: Exception) -> str | None:
    """What to do, in one line, when DuckDB stopped because its temporary folder reached its cap or the disk
    is full; None for any other error."""
    text = " ".join(str(err).split())
    if "max_temp_directory_size" in text or "No space left on device" in text:
        return (f"DuckDB ran out of room for its temporary files ({text[:160]}); free disk space, point TMPDIR at "
                f"a larger disk, set {TEMP_LIMIT_ENV} (e.g. 50GB), or raise {MEMORY_ENV} so less is spilled")
    return None


def csv_error(err: Exception) -> str | None:
    """One line for DuckDB's error on a CSV file, naming the file and never quoting it (DuckDB's message holds
    the offending line, 10^8 characters of it for one long cell); None for any other error."""
    text = str(err)
    if "CSV Error" not in text:
        return None
    file = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    name = Path(file.group(1).strip()).name if file else "a CSV file"
    size = re.search(r"Maximum line size of (\d+) bytes", text)
    if size:
        return (f"{name} has a line longer than {int(size.group(1)):,} bytes, which no cell of a table needs (a "
                "quote left open joins the lines after it, or a cell holds a whole document); fix that line")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("Original Line")]
    return f"{name} cannot be read as CSV: {lines[1] if len(lines) > 1 else 'check its separator and quoting'}"


def _spill_directory() -> str:
    import tempfile
    return str(Path(tempfile.gettempdir()) / "trial-explorer-duckdb").replace("'", "''")


def _statistics(path: Path) -> dict[str, list]:
    """Each column's statistics per row group, from the Parquet footer (no data read)."""
    import pyarrow.parquet as pq
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return {}
    out: dict[str, list] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            out.setdefault(column.path_in_schema, []).append(column.statistics)
    return out


def _within(statistics: dict[str, list], column: str, low: float, high: float) -> bool:
    """Whether every row group records a minimum and maximum inside [low, high] (writers leave NaN out)."""
    groups = statistics.get(column)
    if not groups:
        return False
    for stats in groups:
        if stats is None or stats.num_values == 0:
            continue  # nothing but nulls in this group
        if not stats.has_min_max:
            return False
        try:
            if not low <= float(stats.min) <= float(stats.max) <= high:
                return False
        except (TypeError, ValueError):
            return False
    return True


def _parquet_schema(path: Path) -> pa.Schema:
    import pyarrow.parquet as pq
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"not a readable Parquet file ({' '.join(str(err).split())[:120]})", file=str(path)) from None
