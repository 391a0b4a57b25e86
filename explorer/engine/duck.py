"""The DuckDB engine: criteria compiled to SQL (explorer.engine.sql) and run where the data lies.

The source is a layout folder (explorer.engine.layout: Parquet or CSV files, read in place, never
loaded into pandas) or an in-memory Screening (its tables handed to DuckDB as Arrow, zero-copy).
Each source table becomes a view; the features view carries a row number, so the truth codes can be
put back in the file's row order, which is the subject order of the matrix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
        self.schema = self._register(source)
        self._subject_ids: pd.Index | None = None
        self._n: int | None = None

    # --- sources -----------------------------------------------------------------------------
    def _register(self, source: Any) -> SourceSchema:
        tables = SourceSchema(features=frozenset()).tables
        if isinstance(source, (str, Path)):
            row_column, columns = self._register_files(Path(source), tables)
            # the manifest's word is a hint; _verified_alignment checks it before a positional join relies on it
            self._claimed_aligned = {t for t in aligned_tables(source) if self._formats.get(t) == ".parquet"}
            aligned: set[str] = set()
        else:
            row_column, columns = self._register_screening(source, tables)
            self._claimed_aligned = set()
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
            columns[name] = table.column_names
        return ROW, columns

    # --- the Backend protocol ----------------------------------------------------------------------
    def _rows(self) -> int:
        if self._n is None:
            self._n = int(self.con.execute(f'SELECT COUNT(*) FROM "{self.schema.tables["features"]}"').fetchone()[0])
        return self._n

    def subject_ids(self) -> pd.Index:
        if self._subject_ids is None:
            q = DUCKDB.quote
            relation = self.con.sql(f"SELECT {q(self.schema.row_column)} AS r, CAST(subject_id AS VARCHAR) "
                                    f"AS subject_id FROM {q(self.schema.tables['features'])}")
            # DuckDB 1.x names it arrow(), 2.x to_arrow_table()
            table = relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
            rows = table.column("r").to_numpy()
            ids = table.column("subject_id")
            if len(rows) and not np.all(rows[1:] > rows[:-1]):
                ids = ids.take(pa.array(np.argsort(rows, kind="stable")))
            self._subject_ids = pd.Index(ids.to_pandas(), name="subject_id")
            self._n = len(self._subject_ids)
        return self._subject_ids

    def truth_codes(self, criteria: Sequence[Any], catalogue: Catalogue | None = None,
                    progress: Any = None) -> list[np.ndarray]:
        if not criteria:
            return []
        catalogue = catalogue or self.catalogue
        specs = [CriterionSQL(c.id, c.tree, c.parameter_values(), c.expression or "") for c in criteria]
        query = MatrixQuery(specs, catalogue, self._verified_alignment(), DUCKDB)
        n = self._rows()
        try:
            sql, params = query.sql(dense_events=self._dense_event_counts(query, n))
            result = self.con.execute(sql, params).fetchnumpy()
        except duckdb.Error as err:
            raise DataError(f"DuckDB could not evaluate the criteria: {err}",
                            file=str(self.source) if isinstance(self.source, (str, Path)) else None) from None
        rows = np.asarray(result["subject_row"], dtype=np.int64)
        in_order = len(rows) == n and (n == 0 or (rows[0] == 0 and np.all(np.diff(rows) == 1)))
        out = []
        for i in range(len(specs)):
            values = np.asarray(result[f"t{i}"], dtype=np.int8)
            if not in_order:  # joins may reorder rows; scatter back to the file's row order
                placed = np.empty(n, dtype=np.int8)
                placed[rows] = values
                values = placed
            out.append(values)
        if progress is not None:
            progress.update(len(specs))
        return out

    def query(self, criteria: Sequence[Any], catalogue: Catalogue | None = None) -> tuple[str, dict]:
        """The SQL and bound parameters of the criteria, with events joined by subject id (for inspection)."""
        specs = [CriterionSQL(c.id, c.tree, c.parameter_values(), c.expression or "") for c in criteria]
        return matrix_query(specs, catalogue or self.catalogue, self._verified_alignment(), DUCKDB)

    def _dense_event_counts(self, query: MatrixQuery, n: int) -> str | None:
        """Spread the event counts over the features' rows and register them for a positional join.

        Joining the per-subject event aggregate to the cohort by subject id made DuckDB build its hash
        table on the cohort side, payload and all; joining only (row, subject id) to the aggregate and
        placing the counts by row number costs a fraction of that. Memory: 8 bytes per subject per
        (event, window) the trial uses.
        """
        if not query.counts:
            return None
        sql, params = query.event_counts_sql()
        found = self.con.execute(sql, params).fetchnumpy()
        rows = np.asarray(found["subject_row"], dtype=np.int64)
        dense = {}
        for column in query.counts.values():
            values = np.zeros(n, dtype=np.int64)  # no events of that kind: a count of zero
            values[rows] = np.asarray(found[column], dtype=np.int64)
            dense[column] = values
        self.con.register(DENSE_EVENTS, pa.table(dense))
        return DENSE_EVENTS

    def _verified_alignment(self) -> SourceSchema:
        """The schema, with the tables the manifest says are in features order once that is checked.

        The check reads the subject ids of both files side by side (a fraction of a hash join's cost);
        a table that fails it is joined by subject id as any other.
        """
        if self._claimed_aligned:
            q, t = DUCKDB.quote, self.schema.tables
            confirmed = set(self.schema.aligned)
            for table in sorted(self._claimed_aligned):
                mismatched = self.con.execute(
                    f"SELECT COUNT(*) FROM (SELECT subject_id AS a FROM {q(t['features'])}) POSITIONAL JOIN "
                    f"(SELECT subject_id AS b FROM {q(t[table])}) WHERE a IS DISTINCT FROM b").fetchone()[0]
                if mismatched == 0:
                    confirmed.add(table)
            self.schema = replace(self.schema, aligned=frozenset(confirmed))
            self._claimed_aligned = set()
        return self.schema

    def close(self) -> None:
        self.con.close()
