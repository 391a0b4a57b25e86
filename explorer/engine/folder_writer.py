"""A screening folder (explorer.engine.layout) written range by range by the engine that derives the features.

For cohorts larger than memory: the features of each range of subjects (features_sql.derive_ranges) are written
to a Parquet file of their own by the engine that derived them, never held in Python; then the files become the
folder's features.parquet and their reason columns its missing_reasons.parquet, and the events and the event
look-back and counts are written by the SQL `derive` uses. DuckDB writes with COPY; a local Spark session writes
its part files and DuckDB copies them into the one file the layout names (features_sql.SparkRunner.write), so the
Spark engine's features never pass through its Python driver either. The files the ranges wrote are read back
by DuckDB on this machine, which is why a Spark session must be local here (explorer.engine.spark.is_local).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.screening import Screening
from explorer.engine.features_sql import (
    RANGE_SUBJECTS,
    VIEWS,
    DuckRunner,
    FeatureQuery,
    Plan,
    SparkRunner,
    _check_subjects,
    censored_intervals_sql,
    derive_ranges,
    events_sql,
    first_row_flags,
    lookback_days_sql,
    plan_of,
    sql_path,
    subject_ranges,
)
from explorer.engine.sql import DUCKDB
from explorer.errors import DataError

LAYOUT_TYPES = {"number": "DOUBLE", "boolean": "BOOLEAN", "category": "VARCHAR"}


def write_screening_folder(engine: Any, tables: set[str], subject_columns: list[str], out: str | Path, *,
                           lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                           catalogue: Catalogue | None = None, range_subjects: int = RANGE_SUBJECTS,
                           progress: bool = False, source: str = "") -> Path:
    """The screening features of the prepared views `VIEWS` in `engine` (a DuckDB connection, a DuckRunner or
    a SparkRunner of a local session), written as a screening folder without passing through Python: each
    subject range's query (derive_ranges) is written by the engine to a Parquet file of its own, then DuckDB
    makes the files features.parquet and their reason columns missing_reasons.parquet (subject_id, variable,
    reason: the long table `derive` gives, explorer.engine.layout reads it back); the events and the event
    look-back are written by the SQL `derive` uses, in the engine."""
    from explorer.engine.layout import FORMAT, MANIFEST, ROW_GROUP_SIZE

    run = engine if isinstance(engine, (DuckRunner, SparkRunner)) else DuckRunner(engine)
    catalogue = catalogue or default_catalogue()
    target = Path(out)
    parts = target / ".feature_ranges"
    parts.mkdir(parents=True, exist_ok=True)
    _check_subjects(run)
    plan = plan_of(run, catalogue, tables, subject_columns)
    with _files_reader(run) as files:
        def write(index: int, sql: str, params: dict[str, Any], query: FeatureQuery) -> dict[str, int]:
            part = parts / f"range-{index:06d}.parquet"
            run.write(sql, params, part, query)
            return first_row_flags(files.sql(f"SELECT * FROM read_parquet({sql_path(part)}) LIMIT 1")
                                   .to_arrow_table())

        query = derive_ranges(run, plan, catalogue, write, lookback_days=lookback_days, cgm_days=cgm_days,
                              size=range_subjects, progress=progress)
        _assemble(files, query, catalogue, sql_path(parts / "range-*.parquet"), target, ROW_GROUP_SIZE)
    _write_censored(run, plan, catalogue, lookback_days, target, range_subjects)
    for part in parts.iterdir():
        part.unlink()
    parts.rmdir()
    if "events" in plan.tables:
        run.write(events_sql(run.dialect, ordered=False), {}, target / "events.parquet")
    q = run.dialect.quote
    for name, view, keys, value in (
            ("event_lookback", "event_history", [q("event")], lookback_days_sql(run.dialect)),
            ("event_counts", "event_counts", [q("event"), q("within_days")],
             f"(CASE WHEN NOT {run.dialect.isnan('t.' + q('count'))} THEN t.{q('count')} END)")):
        if view in plan.tables:
            _write_wide(run, view, keys, value, target / f"{name}.parquet")
    files = {p.name: p.stat().st_size for p in sorted(target.glob("*.parquet"))}
    manifest = {"format": FORMAT, "subjects": run.arrow(f"SELECT COUNT(*) AS n FROM {q(VIEWS['subjects'])}", {})
                .column("n")[0].as_py(), "source": source, "files": files, "aligned": []}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return target


@contextmanager
def _files_reader(run: DuckRunner | SparkRunner) -> Iterator[Any]:
    """The DuckDB connection that reads the ranges' files back: the runner's own for DuckDB (its memory limit
    and spill folder), else one of its own within duck.MEMORY_LIMIT, closed at the end."""
    if isinstance(run, DuckRunner):
        yield run.con
        return
    import duckdb

    from explorer.engine.duck import MEMORY_LIMIT

    with duckdb.connect(":memory:", config={"memory_limit": MEMORY_LIMIT}) as con:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = false")
        yield con


def _assemble(con: Any, query: FeatureQuery, catalogue: Catalogue, every: str, target: Path,
              row_group_size: int) -> None:
    """features.parquet and missing_reasons.parquet from the ranges' files, copied by DuckDB."""
    q = DUCKDB.quote
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({every})").fetchall()]
    flags = [c for c in columns if c.startswith("x_")]
    exists = dict(zip(flags, con.execute(f"SELECT {', '.join(q(c) for c in flags)} FROM read_parquet({every}) "
                                         "LIMIT 1").fetchone() if flags else [], strict=True))
    select = [q("subject_id")]
    for column in columns:
        name = column[2:]
        if column.startswith("v_") and exists.get("x_" + name, True):
            value = f"CAST({q(column)} AS {LAYOUT_TYPES[catalogue[name].kind]})"
            if catalogue[name].kind == "number":  # the layout's unknown is NULL, whatever the derivation used
                value = f"(CASE WHEN isnan({value}) THEN NULL ELSE {value} END)"
            select.append(f"{value} AS {q(name)}")
    # in the order of the ranges (subject ids), not the source's: a folder's subjects have no order to keep
    con.execute(f"COPY (SELECT {', '.join(select)} FROM read_parquet({every})) TO "
                f"{sql_path(target / 'features.parquet')} (FORMAT parquet, ROW_GROUP_SIZE {row_group_size})")
    _copy_reasons(con, query.reason_columns, every, target / "missing_reasons.parquet")


def _write_censored(run: DuckRunner | SparkRunner, plan: Plan, catalogue: Catalogue, lookback_days,
                    target: Path, range_subjects: int = RANGE_SUBJECTS) -> None:
    """A written folder's censored.parquet (explorer.engine.layout.CENSORED) and its values' reasons appended to
    missing_reasons.parquet, for a source with censored values, one range of subjects at a time (the ranges
    the features were derived by): the features are read back only for that range and the few columns a derived
    interval needs. Over the whole cohort at once, the subject ids alone (as Python text) took the writer of 3·10^7
    subjects past 5 GB (benchmarks/results/scale_canonical_15_3e7.md)."""
    if not plan.censored and not plan.static_censored:
        return
    import pyarrow.dataset as ds

    from explorer.engine.layout import CENSORED, censored_table

    features = ds.dataset(target / "features.parquet")
    names = set(features.schema.names)
    censored_path, extra_reasons = target / CENSORED, target / "missing_reasons.parquet.censored"
    writers: dict[Path, Any] = {}
    try:
        for bounds in subject_ranges(run, range_subjects):
            where = _id_range(bounds)
            ids = pd.Index(pd.array(features.to_table(columns=["subject_id"], filter=where).column(0).to_pylist(),
                                    dtype="string"))
            if not len(ids):
                continue

            def column(name: str, where=where):
                if name not in names:
                    return None
                return features.to_table(columns=[name], filter=where).column(0).to_pandas().to_numpy(
                    dtype="float64", na_value=np.nan)

            censored, reasons = censored_intervals_sql(run, plan, catalogue, lookback_days, ids, column, bounds)
            if censored is None:
                continue
            _write_part(writers, censored_path, censored_table(Screening(pd.DataFrame(index=ids), censored=censored)))
            _write_part(writers, extra_reasons, _reasons_table(reasons))
    finally:
        for writer in writers.values():
            writer.close()
    if extra_reasons.exists():
        _append_reasons(target / "missing_reasons.parquet", extra_reasons)
        extra_reasons.unlink()


def _id_range(bounds: tuple[str | None, str | None]):
    """An Arrow filter for subject ids in [low, high) (None: open), which compares text byte by byte as the
    engines' ORDER BY did when subject_ranges drew the bounds."""
    import pyarrow.dataset as ds

    low, high = bounds
    where = ds.scalar(True)
    if low is not None:
        where = where & (ds.field("subject_id") >= low)
    if high is not None:
        where = where & (ds.field("subject_id") < high)
    return where


def _write_part(writers: dict[Path, Any], path: Path, table: pa.Table | None) -> None:
    """`table` appended to the Parquet file `path`, whose writer is opened by its first table."""
    import pyarrow.parquet as pq

    if table is None or not table.num_rows:
        return
    if path not in writers:
        writers[path] = pq.ParquetWriter(path, table.schema)
    writers[path].write_table(table.cast(writers[path].schema))


def _reasons_table(reasons: pd.DataFrame | None) -> pa.Table | None:
    if reasons is None or not len(reasons):
        return None
    return pa.table({"subject_id": pa.array(reasons["subject_id"].astype(str).to_numpy(), pa.string()),
                     "variable": pa.array(reasons["variable"].astype(str).to_numpy(), pa.string()),
                     "reason": pa.array(reasons["reason"].astype(str).to_numpy(), pa.string())})


def _append_reasons(path: Path, added: Path) -> None:
    """The rows of the Parquet file `added` (subject_id, variable, reason) put at the end of the Parquet file
    `path`; both are streamed batch by batch into its new version: read whole, the reasons of 10^6 subjects (about
    14 rows each) took the Python process to 2.5 GB (benchmarks/results/spark_canonical_14_1e6_folder.md)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    written = path.with_name(path.name + ".appending")
    with pq.ParquetWriter(written, schema) as writer:
        for source in (path, added):
            for batch in pq.ParquetFile(source).iter_batches():
                writer.write_table(pa.Table.from_batches([batch]).cast(schema))
    written.replace(path)


def _copy_reasons(con: Any, columns: Mapping[str, tuple[str, str]], every: str, target: Path) -> None:
    """The ranges' reason columns (each a condition per subject) as the long table of features_sql._reasons,
    copied by DuckDB: one row per subject, variable and reason that holds. Every range's query has the same
    reason columns (one plan; the flags change their conditions, not which there are). The texts are bound,
    never pasted."""
    q = DUCKDB.quote
    selects, params = [], {}
    for k, (name, (variable, reason)) in enumerate(columns.items()):
        params.update({f"rv{k}": variable, f"rr{k}": reason})
        selects.append(f"SELECT {q('subject_id')} AS subject_id, CAST($rv{k} AS VARCHAR) AS variable, "
                       f"CAST($rr{k} AS VARCHAR) AS reason FROM read_parquet({every}) WHERE {q(name)}")
    if not selects:
        selects.append(f"SELECT {q('subject_id')} AS subject_id, CAST(NULL AS VARCHAR) AS variable, "
                       f"CAST(NULL AS VARCHAR) AS reason FROM read_parquet({every}) WHERE FALSE")
    con.execute(f"COPY ({' UNION ALL '.join(selects)}) TO {sql_path(target)} (FORMAT parquet)", params)


def _write_wide(run: DuckRunner | SparkRunner, view: str, key_sql: list[str], value: str, target: Path) -> None:
    """features_sql._wide's table (one column per key, the max per subject) written by the engine to a Parquet
    file, one row per subject with a value (the layout's look-back and counts tables need not hold every
    subject)."""
    from explorer.engine.features_sql import ROW

    d = run.dialect
    q = d.quote
    keys = ", ".join(f"t.{k}" for k in key_sql)
    found = run.arrow(f"SELECT {keys}, MIN(t.{q(ROW)}) AS first FROM {q(VIEWS[view])} t GROUP BY {keys} "
                      "ORDER BY first", {}).drop_columns(["first"]).to_pylist()
    columns, params = {}, {}
    for i, row in enumerate(found):
        label = "@".join([str(row["event"])] + ([f"{float(row['within_days']):g}"] if "within_days" in row else []))
        match = " AND ".join(f"t.{q(k)} IS NOT DISTINCT FROM {d.placeholder(f'k{i}_{k}')}" for k in row)
        params.update({f"k{i}_{k}": v for k, v in row.items()})
        columns.setdefault(label, []).append(f"MAX(CASE WHEN {match} THEN {value} END)")
    pivot = ", ".join(f"{parts[0] if len(parts) == 1 else 'greatest(' + ', '.join(parts) + ')'} AS {q(label)}"
                      for label, parts in columns.items())
    run.write(f"SELECT s.{q('subject_id')} AS subject_id, {pivot} FROM {q(VIEWS[view])} t "
              f"JOIN {q(VIEWS['subjects'])} s ON t.{q('subject_id')} = s.{q('subject_id')} "
              f"GROUP BY s.{q('subject_id')}", params, target)


def check_written(target: Path, folder: str | Path, catalogue: Catalogue | None) -> None:
    """The checks a read of the written screening folder makes, made now and naming the source the user gave (the
    canonical folder, the OMOP CDM): a derived value outside its range (an age of 124 from a birth date in 1900) named the temporary folder's
    features.parquet, when the folder was first evaluated."""
    from explorer.engine.duck import DuckDBBackend

    try:
        DuckDBBackend(target, catalogue).close()
    except DataError as err:
        raise DataError(f"in the screening features derived from it: {err.reason}", file=str(folder),
                        column=err.column, rows=err.rows) from None
