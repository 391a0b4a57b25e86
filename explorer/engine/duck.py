"""The DuckDB engine: criteria compiled to SQL (explorer.engine.sql) and run where the data lies.

The source is a layout folder (explorer.engine.layout: Parquet or CSV files, read in place, never
loaded into pandas) or an in-memory Screening (its tables handed to DuckDB as Arrow, zero-copy).
Each source table becomes a view; the features view carries a row number, so the truth codes can be
put back in the file's row order, which is the subject order of the matrix.
"""

from __future__ import annotations

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
from explorer.engine.layout import aligned_tables, find_tables, screening_tables
from explorer.engine.sql import DUCKDB, CriterionSQL, MatrixQuery, SourceSchema, matrix_query
from explorer.errors import DataError
from explorer.expr import Call, walk

ROW = "__row"
DENSE_EVENTS = "__event_counts_by_row"


class DuckDBBackend:
    """Evaluates criteria with DuckDB over a layout folder or a Screening."""

    name = "duckdb"

    def __init__(self, source: Any, catalogue: Catalogue | None = None, *, threads: int | None = None,
                 memory_limit: str | None = None):
        self.catalogue = catalogue or default_catalogue()
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(memory_limit)):
                raise DataError(f"memory_limit {memory_limit!r}; write it like '8GB'")
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.source = source
        self._arrow_tables: dict[str, pa.Table] = {}
        self._lock = threading.Lock()
        self.schema = self._register(source)
        self._subject_ids: pd.Index | None = None
        self._n: int | None = None

    # --- sources -----------------------------------------------------------------------------
    def _register(self, source: Any) -> SourceSchema:
        tables = SourceSchema(features=frozenset()).tables
        if isinstance(source, (str, Path)):
            row_column, columns = self._register_files(Path(source), tables)
            # the manifest's word is a hint: every query that joins these by position checks the pairing
            aligned = {t for t in aligned_tables(source) if self._formats.get(t) == ".parquet"}
        else:
            row_column, columns = self._register_screening(source, tables)
            aligned = {"event_lookback", "event_counts"}  # screening_tables puts them in features order
        return SourceSchema(
            aligned=frozenset(aligned),
            features=frozenset(c for c in columns.get("features", []) if c not in ("subject_id", row_column)),
            events="events" in columns,
            event_lookback=frozenset(c for c in columns.get("event_lookback", []) if c != "subject_id"),
            event_counts=frozenset(c for c in columns.get("event_counts", []) if c != "subject_id"),
            row_column=row_column, tables=tables)

    def _register_files(self, folder: Path, tables: dict) -> tuple[str, dict[str, list[str]]]:
        columns = {}
        row_column = "file_row_number"
        self._formats = {}
        for name, path in find_tables(folder).items():
            self._formats[name] = path.suffix
            try:
                if path.suffix == ".parquet":
                    relation = self.con.read_parquet(str(path), file_row_number=(name == "features"))
                else:
                    relation = self.con.read_csv(str(path), header=True, all_varchar=True)
            except duckdb.Error as err:
                raise DataError(f"DuckDB cannot read it: {err}", file=str(path)) from None
            if name == "features" and path.suffix != ".parquet":
                # a table keeps the CSV's row order in its rowid; a view over read_csv promises no order
                relation.create(tables[name])
                row_column = "rowid"
            else:
                relation.create_view(tables[name])
            columns[name] = list(relation.columns)
        if "subject_id" not in columns["features"]:
            raise DataError("features has no subject_id column", file=str(folder), column="subject_id")
        return row_column, columns

    def _register_screening(self, screening: Any, tables: dict) -> tuple[str, dict[str, list[str]]]:
        columns = {}
        for name, table in screening_tables(screening).items():
            if name == "features":
                table = table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
            self.con.register(tables[name], table)
            self._arrow_tables[tables[name]] = table
            columns[name] = table.column_names
        return ROW, columns

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
        table = self._arrow(f"SELECT {q(self.schema.row_column)} AS r, CAST(subject_id AS VARCHAR) AS subject_id "
                            f"FROM {q(t['features'])}")
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
            raise DataError(f"DuckDB could not evaluate the criteria: {err}",
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

    def close(self) -> None:
        self.con.close()
