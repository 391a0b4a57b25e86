"""The Spark engine: the same SQL compilation (explorer.engine.sql, SparkDialect) run by Apache Spark.

Sources: a layout folder (explorer.engine.layout: Parquet read in place, or CSV; a URI such as
hdfs://... or s3a://... for a Parquet layout on a cluster's storage), an in-memory
Screening (handed to Spark as Arrow), or {table: name} naming tables Spark already knows (a warehouse
table, a view). The session is `local[*]` unless a master is given, as an argument or in the
environment variable TRIAL_EXPLORER_SPARK_MASTER: `spark://host:7077`, `yarn`, `k8s://...`, or a
Spark Connect server `sc://host:15002`.

Only small results come back to Python: the status histogram (explorer.engine.histogram_sql), a
selection of subject ids, or, for an in-memory EligibilityMatrix, one truth code per subject.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import shutil
import socket
import tempfile
import uuid
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.loaders.readers import check_format, check_utf8
from explorer.engine.histogram_sql import (
    edit_table_sql,
    histogram_sql,
    n_words,
    specs_of,
    subjects_sql,
    unpack,
)
from explorer.engine.layout import (
    CENSORED,
    REASONS,
    censored_table,
    check_reason_columns,
    find_tables,
    ordered_reasons,
    reason_counts_of_rows,
    reason_counts_sql,
    reasons_frame,
    reasons_sql,
    screening_tables,
    write_screening,
)
from explorer.engine.layout import reason_counts as count_reasons
from explorer.engine.patterns import Selection
from explorer.engine.sql import SPARK, SourceSchema, matrix_query
from explorer.errors import DataError

MASTER_ENV = "TRIAL_EXPLORER_SPARK_MASTER"
LOCAL_DRIVER_MEMORY = "1g"  # the JVM heap of a local session (spark_session)
SPILL_MERGE_FACTOR = 16  # spill files a local session's task merges at once (spark_session)
CONNECT_TIMEOUT = 10.0  # seconds to wait for a Spark Connect server to accept a connection
ROW = "__row"
TABLES = ("features", "events", "event_lookback", "event_counts")


def spark_master(master: str | None = None) -> str:
    """The master to use: the argument, else $TRIAL_EXPLORER_SPARK_MASTER, else local[*]."""
    return master or os.environ.get(MASTER_ENV) or "local[*]"


def spark_session(master: str | None = None, *, shuffle_partitions: int | None = None):
    """A SparkSession for the engine (an active one is reused; its master then stays as it was).

    Local sessions run without the web UI and with few shuffle partitions (Spark's default of 200
    costs seconds on a laptop for a few thousand histogram rows).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError("the Spark engine needs PySpark: pip install 'pyspark>=4' (and a Java 17+ runtime)") from None
    master = spark_master(master)
    if master.startswith("sc://"):
        check_connect_server(master)
        builder = SparkSession.builder.remote(master)
    else:
        builder = (SparkSession.builder.master(master).config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false"))
        if master.startswith("local"):
            partitions = shuffle_partitions or max(2, os.cpu_count() or 2)
            builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
            # a local session's JVM runs beside the dashboard's Python process: a 1 GB heap, whatever a
            # spark-defaults.conf says, kept the two under 2 GB together at 10^7 subjects (docs/engine.md,
            # "Memory"); the histogram streams the Parquet and groups in it, so it needs no more
            builder = builder.config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
            # A large aggregation in that heap spills often, and Spark opens every spill file of a task at once
            # to merge them, each reader with a buffer of 1-3 MB outside its memory accounting: deriving 10^6
            # subjects' features ran out of the heap there (benchmarks/results/spark_canonical_13_1e6_folder.md).
            # Spark >= 4.2 merges in rounds of at most this many files (older versions ignore the key).
            builder = builder.config("spark.unsafe.sorter.spill.merge.factor", str(SPILL_MERGE_FACTOR))
    try:
        session = builder.appName("trial-explorer").getOrCreate()
    except Exception as err:  # PySpark raises its own runtime errors when the JVM or the server is missing
        hint = ("check that the Spark Connect server runs" if master.startswith("sc://")
                else "a local master needs a Java 17+ runtime (`java -version`)")
        raise DataError(f"could not start Spark at {master!r}: {spark_error(err)}; {hint}") from None
    # x / 0 must be NULL (unknown), as in the other engines; ANSI mode (Spark 4's default) raises instead
    session.conf.set("spark.sql.ansi.enabled", "false")
    return session


def is_local(spark: Any) -> bool:
    """Whether the session runs on this machine (a classic session with a local master): its executors read and
    write this machine's files."""
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        return False
    try:
        return str(spark.sparkContext.master).startswith("local")
    except Exception:  # no SparkContext to ask: treat it as remote
        return False


def check_connect_server(master: str) -> None:
    """Refuse a Spark Connect address that is malformed or where no server listens, in one line.

    Without this check the Connect client retries an unreachable server for minutes in silence.
    """
    try:
        from pyspark.sql.connect.client import DefaultChannelBuilder
    except ImportError as err:
        raise DataError(f"Spark Connect ({master}) needs its client packages: pip install "
                        f"'trial-explorer[spark-connect]' ({spark_error(err)})") from None
    try:
        endpoint = DefaultChannelBuilder(master).endpoint  # PySpark's own parsing of sc://host:port/;k=v
        host, port = endpoint.rsplit(":", 1)
        port_number = int(port)
    except ValueError as err:  # PySparkValueError is a ValueError
        raise DataError(f"{master!r} is not a Spark Connect address ({spark_error(err)}); "
                        "write sc://host:port, for example sc://localhost:15002") from None
    try:
        with socket.create_connection((host.strip("[]"), port_number), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as err:
        raise DataError(f"no Spark Connect server answers at {master} ({err.strerror or err}); start one "
                        "(sbin/start-connect-server.sh of a Spark distribution) or correct the host and port") from None


def spark_error(err: BaseException) -> str:
    """The useful part of a Spark error: its first line, without the JVM stack trace that Spark Connect
    appends to the same line."""
    text = str(err).strip() or repr(err)
    return re.split(r"\s+(?:SQLSTATE: \w+\s+)?JVM stacktrace:", text.splitlines()[0])[0].strip()


def arrow_frame(spark: Any, table: pa.Table):
    """A Spark DataFrame of an Arrow table, its schema given: Spark Connect cannot infer one from an empty
    table (a cohort without events or CGM), where a local session can."""
    if table.num_rows:
        return spark.createDataFrame(table)
    from pyspark.sql.pandas.types import from_arrow_schema

    # timestamps as Spark would infer them from rows (its session's timestamp type)
    ntz = spark.conf.get("spark.sql.timestampType", "TIMESTAMP_LTZ") == "TIMESTAMP_NTZ"
    return spark.createDataFrame(table, schema=from_arrow_schema(table.schema, prefer_timestamp_ntz=ntz))


def local_path(path: Path | str) -> str:
    """An absolute path, read as itself: a Spark Connect server resolves a relative path against its own
    working folder, not the caller's; and Spark (Hadoop) globs what it reads, so `site[1]` would read
    `site1`'s files and `site*` every site's: its glob characters are escaped with a backslash."""
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", str(Path(path).resolve()))


NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def nanosecond_columns(path: Path | str) -> dict[str, bool]:
    """A Parquet file's timestamp columns stored in nanoseconds (pandas' and pyarrow's default), each with
    whether it is an instant (written with a time zone): Spark has no nanosecond timestamp and refuses such a
    column (PARQUET_TYPE_ILLEGAL). Read from the file's footer only."""
    import pyarrow.parquet as pq

    return {f.name: f.type.tz is not None for f in pq.read_schema(path)
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"}


def read_parquet(spark: Any, path: Path | str, keep: Any, *, row: str | None = None, first: int = 0) -> None:
    """Reads one Parquet file and hands the frame to `keep`, which must compute it (a checkpoint) before it
    returns. With `row`, the frame has a column of that name: the row's position in the file plus `first`
    (Parquet's `_metadata.row_index`: read with the row, so no sort is needed to number the rows, and each
    input split keeps its own). Nanosecond timestamps are read as their integer count (Spark's nanosAsLong) and turned into the
    timestamps Spark gives a microsecond column, floored to the microsecond (exact before 1970 too): a
    wall-clock time stays a wall-clock time (TIMESTAMP_NTZ), an instant an instant. So a file pandas wrote
    with its defaults reads as one written in microseconds. The two settings this needs (nanosAsLong, and UTC
    for turning an instant's count into its wall-clock time) hold only while the file is read."""
    nanos = nanosecond_columns(path)
    numbered = [] if row is None else [f"_metadata.row_index + {int(first)} AS `{row}`"]
    if not nanos:
        frame = spark.read.parquet(local_path(path))
        keep(frame.selectExpr("*", *numbered) if numbered else frame)
        return
    settings = {NANOS_AS_LONG: "true", "spark.sql.session.timeZone": "UTC"}
    before = {key: spark.conf.get(key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        frame = spark.read.parquet(local_path(path))
        columns = []
        for name in frame.columns:
            quoted = "`" + name.replace("`", "``") + "`"
            if name not in nanos:
                columns.append(quoted)
                continue
            instant = f"timestamp_micros(({quoted} - pmod({quoted}, 1000)) div 1000)"
            columns.append(f"{instant if nanos[name] else f'CAST({instant} AS TIMESTAMP_NTZ)'} AS {quoted}")
        keep(frame.selectExpr(*columns, *numbered))
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)


class SparkBackend:
    """Evaluates criteria with Spark SQL over a layout folder, a Screening or named Spark tables."""

    name = "spark"

    def __init__(self, source: Any, catalogue: Catalogue | None = None, *, spark: Any = None,
                 master: str | None = None, partitions: int | None = None):
        self.catalogue = catalogue or default_catalogue()
        self.spark = spark if spark is not None else spark_session(master)
        self.source = source
        self.partitions = partitions
        # view names of their own, so that several backends can share one session
        self.tables = {t: f"te_{uuid.uuid4().hex[:10]}_{t}" for t in (*TABLES, "missing_reasons", "censored")}
        self._reasons: str | None = None  # the view of the source's missing reasons, when it has them
        # an in-memory Screening's reasons stay in Python: they are already in this process, and uploading them
        # (about 14 rows a subject) filled the local session's 1 GB heap at 3*10^5 subjects
        self._held_reasons: pd.DataFrame | None = None
        self._spilled: Path | None = None  # the temporary folder an in-memory Screening is read from
        self.schema = self._register(self._on_disk(source))
        self._subject_ids: pd.Index | None = None
        self._order: np.ndarray | None = None

    # --- sources -----------------------------------------------------------------------------
    def _on_disk(self, source: Any) -> Any:
        """An in-memory Screening given to a local session, written to a temporary screening folder that Spark
        scans: uploaded from Python it is held whole in the JVM's heap (1 GB, LOCAL_DRIVER_MEMORY), which the
        features of a few 10^5 subjects fill; read from Parquet, Spark streams it like any folder. Its missing
        reasons stay in Python (missing_reasons, reason_counts). Any other source, or a session whose executors
        may not see this machine's disk (Spark Connect, a cluster), as given."""
        if isinstance(source, (str, Path, Mapping)):
            return source
        self._held_reasons = getattr(source, "missing_reasons", None)  # counted here, whatever the session
        if not self._local():
            return source
        if self._held_reasons is not None:
            source = dataclasses.replace(source, missing_reasons=None)
        folder = Path(tempfile.mkdtemp(prefix="trial-explorer-spark-"))
        weakref.finalize(self, shutil.rmtree, folder, True)  # the views die with the backend, then the files
        self._spilled = write_screening(source, folder / "screening")
        return self._spilled

    def _local(self) -> bool:
        return is_local(self.spark)

    def _register(self, source: Any) -> SourceSchema:
        from pyspark.sql import functions as F

        frames = {}
        if isinstance(source, str) and "://" in source:
            # a folder Spark reads itself (hdfs://, s3a://, ...): the Parquet layout, tables found by name
            for name in TABLES:
                try:
                    frame = self.spark.read.parquet(f"{source.rstrip('/')}/{name}.parquet")
                    frame.columns  # noqa: B018 (Spark Connect reads lazily: asking the schema reads the file)
                except Exception:  # absent optional table; a missing features table is reported below
                    continue
                frames[name] = frame
            if "features" not in frames:
                raise DataError("no features.parquet that Spark can read in this folder", file=source)
            self._features_bytes = None
            frames["features"] = self._numbered(frames["features"])
        elif isinstance(source, (str, Path)):
            for name, path in find_tables(source).items():
                frames[name] = self._read(path)
            self._features_bytes = find_tables(source)["features"].stat().st_size
            features = frames["features"]
            if find_tables(source)["features"].suffix == ".parquet":
                # the row's position in the file: the subject order of the matrix (Spark 3.5+)
                frames["features"] = features.select("*", F.col("_metadata.row_index").alias(ROW))
            else:
                frames["features"] = features.withColumn(ROW, F.monotonically_increasing_id())
        elif isinstance(source, Mapping):
            unknown = set(source) - set(TABLES)
            if unknown or "features" not in source:
                raise DataError(f"Spark tables {sorted(source)}: name a 'features' table and optionally "
                                f"{list(TABLES[1:])}")
            for name, table in source.items():
                frames[name] = self._table(table)
            self._features_bytes = None
            # a warehouse table has no row order: the subject order is the one Spark assigns
            frames["features"] = frames["features"].withColumn(ROW, F.monotonically_increasing_id())
        else:
            self._features_bytes = None
            for name, table in screening_tables(source).items():
                if name == "features":
                    table = table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
                frames[name] = arrow_frame(self.spark, table)
        reasons = self._reasons_frame(source)
        if reasons is not None:
            frames["missing_reasons"] = reasons
        censored = self._censored_frame(source)
        if censored is not None:
            frames["censored"] = censored
        columns = {}
        for name, frame in frames.items():
            try:  # Spark Connect reads lazily: a missing or unreadable file is found here, not at read time
                frame.createOrReplaceTempView(self.tables[name])
                columns[name] = frame.columns
            except Exception as err:
                what = (f"table {source[name]!r}" if isinstance(source, Mapping) and isinstance(source[name], str)
                        else f"the {name} table")
                raise DataError(f"Spark cannot read {what}: {spark_error(err)}",
                                file=str(source) if isinstance(source, (str, Path)) else None) from None
        if "subject_id" not in columns["features"]:
            raise DataError("features has no subject_id column", file=str(source) if isinstance(source, (str, Path))
                            else None, column="subject_id")
        if "missing_reasons" in columns:
            check_reason_columns(columns["missing_reasons"], f"{source}/{REASONS}")
            self._reasons = self.tables["missing_reasons"]
        censored_variables = frozenset(str(r[0]) for r in frames["censored"].select("variable").distinct().collect()
                                       ) if "censored" in frames else frozenset()
        return SourceSchema(
            censored=censored_variables,
            features=frozenset(c for c in columns["features"] if c not in ("subject_id", ROW)),
            events="events" in columns,
            event_lookback=frozenset(c for c in columns.get("event_lookback", []) if c != "subject_id"),
            event_counts=frozenset(c for c in columns.get("event_counts", []) if c != "subject_id"),
            row_column=ROW, tables=dict(self.tables))

    def _numbered(self, features: Any) -> Any:
        """The features read from Parquet with ROW, each subject's position: its row's index in its file after
        the rows of the files before it (by name). A table Spark writes on a cluster is a folder of part files,
        whose row indices each start at 0: as the position, the row index alone gave several subjects the same
        one, and the subject ids and the statuses (each sorted by it) came back in different orders."""
        from pyspark.sql import functions as F

        located = features.select("*", F.col("_metadata.row_index").alias(ROW))
        if len(features.inputFiles()) <= 1:
            return located
        file, offset = "__file", "__offset"
        counts = sorted((str(r[0]), int(r[1])) for r in features.groupBy(F.col("_metadata.file_path").alias(file))
                        .count().collect())  # one row a file
        starts = itertools.accumulate((n for _, n in counts[:-1]), initial=0)  # rows of the files before each
        table = self.spark.createDataFrame([(path, start) for (path, _), start in zip(counts, starts, strict=True)],
                                           f"{file} string, {offset} long")
        return (located.withColumn(file, F.col("_metadata.file_path")).join(F.broadcast(table), file)
                .select(*features.columns, (F.col(ROW) + F.col(offset)).alias(ROW)))

    def _censored_frame(self, source: Any):
        """The source's censored intervals (a folder's censored.parquet, a Screening's table) as a Spark frame,
        or None."""
        if isinstance(source, str) and "://" in source:
            try:
                frame = self.spark.read.parquet(f"{source.rstrip('/')}/{CENSORED}")
                frame.columns  # noqa: B018 (read lazily: asking the schema reads the file)
                return frame
            except Exception:  # no censored values in that folder
                return None
        if isinstance(source, (str, Path)):
            path = Path(source) / CENSORED
            return self._read(path) if path.is_file() else None
        if isinstance(source, Mapping):
            return None
        table = censored_table(source)
        return None if table is None else arrow_frame(self.spark, table)

    def _reasons_frame(self, source: Any):
        """A folder's missing_reasons.parquet as a Spark frame, or None (an in-memory Screening's reasons stay in
        Python: _on_disk)."""
        if isinstance(source, str) and "://" in source:
            try:
                frame = self.spark.read.parquet(f"{source.rstrip('/')}/{REASONS}")
                frame.columns  # noqa: B018 (read lazily: asking the schema reads the file)
                return frame
            except Exception:  # no reasons in that folder
                return None
        if isinstance(source, (str, Path)):
            path = Path(source) / REASONS
            return self._read(path) if path.is_file() else None
        return None  # named tables have none; an in-memory Screening's are held in Python (_on_disk)

    def _read(self, path: Path):
        try:
            if path.suffix == ".parquet":
                return self.spark.read.parquet(local_path(path))
            check_format(path, "text")
            check_utf8(path)  # Spark would read bytes that are not UTF-8 as U+FFFD, without a word
            return self.spark.read.option("header", True).csv(local_path(path))  # text; the SQL casts it
        except Exception as err:
            raise DataError(f"Spark cannot read it: {spark_error(err)}", file=str(path)) from None

    def _table(self, table: Any):
        if isinstance(table, str):
            try:
                return self.spark.table(table)
            except Exception as err:
                raise DataError(f"Spark has no table {table!r}: {spark_error(err)}") from None
        return table  # a Spark DataFrame

    def _sql(self, sql: str, params: Mapping[str, Any], what: str):
        self._configure()
        try:
            return self.spark.sql(sql, args=dict(params)).toArrow()
        except Exception as err:
            raise DataError(f"Spark could not {what}: {spark_error(err)}",
                            file=str(self.source) if isinstance(self.source, (str, Path)) else None) from None

    def _configure(self) -> None:
        """With `partitions`: that many input splits of the features file and shuffle partitions."""
        if not self.partitions:
            return
        self.spark.conf.set("spark.sql.shuffle.partitions", str(int(self.partitions)))
        if self._features_bytes:
            split = max(1 << 16, self._features_bytes // int(self.partitions) + 1)
            self.spark.conf.set("spark.sql.files.maxPartitionBytes", str(split))
            self.spark.conf.set("spark.sql.files.openCostInBytes", "0")

    # --- the Backend protocol (subject level) ----------------------------------------------------
    def subject_ids(self) -> pd.Index:
        if self._subject_ids is None:
            q = SPARK.quote
            table = self._sql(f"SELECT {q(ROW)} AS r, CAST(subject_id AS STRING) AS subject_id "
                              f"FROM {q(self.tables['features'])}", {}, "read the subject ids")
            self._order = np.argsort(table.column("r").to_numpy(), kind="stable")
            ids = table.column("subject_id").take(pa.array(self._order))
            self._subject_ids = pd.Index(pd.array(ids.to_pylist(), dtype="string"), name="subject_id")
        return self._subject_ids

    def truth_codes(self, criteria: Sequence[Any], catalogue: Catalogue | None = None,
                    progress: Any = None) -> list[np.ndarray]:
        """One truth code per subject and criterion, in subject order (brings n rows back: for the
        in-memory matrix; the histogram interface brings back only counts)."""
        if not criteria:
            return []
        n = len(self.subject_ids())
        sql, params = matrix_query(specs_of(criteria), catalogue or self.catalogue, self.schema, SPARK)
        table = self._sql(sql, params, "evaluate the criteria")
        if table.num_rows != n:
            raise DataError(f"Spark returned {table.num_rows} rows for {n} subjects: a subject_id appears more "
                            "than once in event_lookback or event_counts; keep one row per subject")
        order = np.argsort(table.column("subject_row").to_numpy(), kind="stable")
        out = [np.asarray(table.column(f"t{i}").to_numpy(), dtype=np.int8)[order] for i in range(len(criteria))]
        if progress is not None:
            progress.update(len(criteria))
        return out

    # --- the histogram interface ---------------------------------------------------------------------
    def status_histogram(self, criteria: Sequence[Any], catalogue: Catalogue | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
        """(raw status patterns, counts) of the computable criteria, grouped inside Spark."""
        sql, params = histogram_sql(list(criteria), catalogue or self.catalogue, self.schema, SPARK)
        table = self._sql(sql, params, "count the status patterns")
        words = np.column_stack([table.column(f"w{w}").to_numpy(zero_copy_only=False).astype(np.int64)
                                 for w in range(n_words(len(criteria)))]) if table.num_rows else \
            np.zeros((0, n_words(len(criteria))), np.int64)
        counts = table.column("n").to_numpy(zero_copy_only=False).astype(np.int64)
        return unpack(words, len(criteria)), counts

    def edit_table(self, criteria: Sequence[Any], j: int, variables: Sequence[str], catalogue: Catalogue | None,
                   limit: int, reduce: bool | str = True) -> tuple[pa.Table, list[str]]:
        """Criterion criteria[j]'s edit table (explorer.engine.edit_histogram), grouped inside Spark: an Arrow
        table of w0.., v0.., n (at most limit + 1 rows) and the variables of v0, v1, ..."""
        sql, params, kept = edit_table_sql(list(criteria), j, variables, catalogue or self.catalogue, self.schema,
                                           SPARK, limit, reduce)
        return self._sql(sql, params, f"count the values of criterion {criteria[j].id}"), kept

    def subjects(self, criteria: Sequence[Any], computable: Sequence[Any], selection: Selection,
                 catalogue: Catalogue | None, which: str = "eligible") -> pd.Index:
        """The ids of the eligible (or remaining) subjects, selected inside Spark, in source order."""
        sql, params = subjects_sql(criteria, computable, selection, catalogue or self.catalogue, self.schema,
                                   SPARK, which)
        table = self._sql(sql, params, "select the subjects")
        return pd.Index(pd.array(table.column("subject_id").to_pylist(), dtype="string"), name="subject_id")

    # --- why values are unknown ------------------------------------------------------------------
    def missing_reasons(self) -> pd.DataFrame | None:
        """The source's missing reasons in the memory engine's form (as DuckDBBackend.missing_reasons)."""
        if self._held_reasons is not None:
            return ordered_reasons(self._held_reasons)
        if self._reasons is None:
            return None
        sql = reasons_sql(SPARK, self._reasons, self.tables["features"], ROW)
        return reasons_frame(self._sql(sql, {}, "read the missing reasons"), self.subject_ids())

    def reason_counts(self) -> dict[tuple[str, str], int]:
        """{(variable, reason): subjects}, counted inside Spark (an in-memory source's here); {} without
        reasons."""
        if self._held_reasons is not None:
            return count_reasons(self._held_reasons)
        if self._reasons is None:
            return {}
        rows = self._sql(reason_counts_sql(SPARK, self._reasons, self.tables["features"], ROW), {},
                         "count the missing reasons")
        return reason_counts_of_rows(rows)

    def close(self) -> None:
        """Drop this backend's views (the session stays: it is shared)."""
        for view in self.tables.values():
            self.spark.catalog.dropTempView(view)


__all__ = ["MASTER_ENV", "SparkBackend", "arrow_frame", "check_connect_server", "spark_error", "spark_master", "spark_session"]
