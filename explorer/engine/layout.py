"""A Screening on disk: a folder of Parquet (or CSV) files that the SQL engine reads directly.

    <folder>/features.parquet        subject_id (string) + one column per catalogue variable:
                                     number -> DOUBLE, boolean -> BOOLEAN, category -> STRING; null = unknown
    <folder>/events.parquet          subject_id, event, days_before_index (DOUBLE), severity (INT64, nullable)
    <folder>/event_lookback.parquet  subject_id + one DOUBLE column per event type (days of complete history)
    <folder>/event_counts.parquet    subject_id + one DOUBLE column per "event@days" (reported counts)
    <folder>/screening.json          {"format": "trial-explorer-screening/1", "subjects": n, "source": ...,
                                      "files": {name: bytes}, "aligned": [tables in features row order]}

Only features is required. The same names with `.csv` work too (header row, empty cell = unknown,
booleans true/false or 1/0 in any case, nothing else); CSV folders are read and checked by
read_screening for both engines, so a value means the same to each. Both engines refuse a folder whose
tables break the contract (explorer.cohort.checks: unique non-blank ids, finite numbers in the
plausible range, known categories; events of screened subjects and catalogue events with days >= 0;
lookbacks and counts >= 0), and columns that are not catalogue variables, reserved or equal but for
case (check_columns). Row order of features is the subject order of every matrix computed from the folder. write_screening stores
event_lookback and event_counts in features row order and says so in the manifest (with the file
sizes, so an edited file voids it): DuckDB then joins them by position, not by hashing subject ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.checks import (
    BOOLEAN_TEXT,  # noqa: F401 - the DuckDB engine's checks read it from here
    check_ids,
    typed_events,
    typed_feature,
    typed_features,
    typed_per_subject,
    untyped_columns,
)
from explorer.cohort.compact import compact_number, compact_text, ids_dtype, widened
from explorer.cohort.loaders.readers import check_format, check_utf8
from explorer.cohort.lookup import arrow_text, positions
from explorer.cohort.screening import Screening
from explorer.errors import DataError
from explorer.expr import is_reserved

FORMAT = "trial-explorer-screening/1"
TABLES = ("features", "events", "event_lookback", "event_counts")
MANIFEST = "screening.json"
ROW_GROUP_SIZE = 131_072


def _with_ids(frame: pd.DataFrame) -> pd.DataFrame:
    if "subject_id" in frame.columns:
        raise DataError("a column is named subject_id, the name of the key; rename it", column="subject_id")
    out = frame.copy()
    out.insert(0, "subject_id", frame.index.astype(str))
    return out.reset_index(drop=True)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    # from_pandas turns float NaN into null, so unknown is null on disk whatever the source used
    return pa.Table.from_pandas(frame, preserve_index=False)


def screening_tables(screening: Screening) -> dict[str, pa.Table]:
    """The Screening's tables as Arrow tables in the layout's columns (absent optional tables left out)."""
    # compact numbers and texts (explorer.cohort.compact) as float64 and strings: the SQL engines read the columns
    # they always read
    tables = {"features": _arrow(_with_ids(widened(screening.features)))}
    events = screening.events
    if events is not None:
        events = events.reindex(columns=["subject_id", "event", "days_before_index", "severity"])
        tables["events"] = _arrow(events.astype({"subject_id": "string", "event": "string",
                                                 "days_before_index": "float64", "severity": "Int64"}))
    for name in ("event_lookback", "event_counts"):
        frame = getattr(screening, name)
        if frame is not None:
            tables[name] = _arrow(_with_ids(aligned(frame, screening.features.index).astype("float64")))
    return tables


def aligned(frame: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """A per-subject table in the features' row order (NaN for subjects it lacks).

    The engines read event_lookback / event_counts by subject id, so this changes no result; written
    in features order, the tables can be joined by position instead of by hashing every subject id.
    """
    if frame.index.equals(index):
        return frame
    from explorer.cohort.lookup import positions
    rows = positions(index, frame.index)
    values = frame.to_numpy(dtype="float64", na_value=np.nan)
    out = np.where((rows >= 0)[:, None], values[np.maximum(rows, 0)] if len(values) else np.nan, np.nan)
    return pd.DataFrame(out, index=index, columns=frame.columns)


def write_screening(screening: Screening, directory: str | Path, *, format: str = "parquet") -> Path:
    """Write a Screening in the layout (Parquet by default, or CSV); returns the folder. A Parquet folder keeps
    the Screening's missing reasons (missing_reasons.parquet)."""
    if format not in ("parquet", "csv"):
        raise DataError(f"format {format!r}; use 'parquet' or 'csv'")
    if not screening.checked:  # a folder holds only what a folder may hold: the same checks, before writing
        screening = screening.validate(default_catalogue(), undeclared="keep")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, table in screening_tables(screening).items():
        path = folder / f"{name}.{format}"
        if format == "parquet":
            # several row groups, so that DuckDB scans a file on every core (one group = one thread)
            pq.write_table(table, path, row_group_size=ROW_GROUP_SIZE)
        else:
            table.to_pandas().to_csv(path, index=False)
        files[path.name] = path.stat().st_size
    reasons = getattr(screening, "missing_reasons", None)
    if reasons is not None and format == "parquet":
        # why values are unknown travels with the folder (every engine reads it back: read_screening,
        # DuckDB and Spark in place); a CSV folder has no reader for it and leaves it out
        path = folder / REASONS
        pq.write_table(pa.Table.from_pandas(reasons[list(REASON_COLUMNS)], preserve_index=False), path,
                       row_group_size=ROW_GROUP_SIZE)
        files[path.name] = path.stat().st_size
    censored = censored_table(screening)
    # the intervals criteria are decided on travel with the folder, a CSV one too (as Parquet: every engine
    # reads it back whatever the folder's format); without them a CSV folder decided on half the limit
    if censored is not None:
        path = folder / CENSORED
        pq.write_table(censored, path, row_group_size=ROW_GROUP_SIZE)
        files[path.name] = path.stat().st_size
    manifest = {"format": FORMAT, "subjects": len(screening), "source": screening.source, "files": files,
                "aligned": [t for t in ("event_lookback", "event_counts") if f"{t}.{format}" in files]}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def aligned_tables(directory: str | Path) -> set[str]:
    """Tables the manifest says are in features row order, if their files are still the ones written."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return set()
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return set()
    files = manifest.get("files", {})
    unchanged = all((Path(directory) / name).is_file() and (Path(directory) / name).stat().st_size == size
                    for name, size in files.items())
    return set(manifest.get("aligned", [])) if unchanged and files else set()


def find_tables(directory: str | Path) -> dict[str, Path]:
    """{table: file} for the tables present in a layout folder (Parquet preferred over CSV)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError("not a folder; a screening folder holds features.parquet (or .csv) and optional "
                        "events / event_lookback / event_counts files", file=str(folder))
    found = {}
    for name in TABLES:
        for suffix in (".parquet", ".csv"):
            if (folder / f"{name}{suffix}").is_file():
                found[name] = folder / f"{name}{suffix}"
                break
    if "features" not in found:
        if (folder / "features.parquet").is_dir():  # the way Spark writes a table: a folder of part files
            raise DataError("features.parquet is a folder (part files, as Spark writes a table), not a file: join "
                            "its parts into one file, or give the folder to the Spark engine as a URL "
                            f"(file://{folder.resolve()})", file=str(folder))
        raise DataError("no features.parquet or features.csv in this folder", file=str(folder))
    return found


def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pq.read_table(path, columns=columns).to_pandas()
    check_format(path, "text")  # the loaders' refusals (empty, binary, UTF-16), the same for every engine
    return _csv(path, dtype=str, keep_default_na=False, na_values=[""], usecols=columns)


def _csv(path: Path, **options) -> pd.DataFrame:
    """pandas' reading of a screening CSV, its failures said as the file's (pandas' text can quote a line)."""
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path)) from None
    except UnicodeDecodeError:
        check_utf8(path)  # raises, naming the line and the byte
        raise DataError("cannot be decoded as UTF-8 text; save it as 'CSV UTF-8'", file=str(path)) from None
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"cannot be read as a comma-separated table ({type(err).__name__}); check its quoting "
                        f"and that every row has the header's columns", file=str(path)) from None


def check_columns(columns: Iterable[str], file: str, catalogue: Catalogue | None = None, *,
                  keyed: bool = True) -> None:
    """Column names both engines can read: no reserved name, none equal to another but for case (SQL
    engines cannot tell `Age` from `age`), and, given a catalogue, each a variable of it. `keyed`: the
    columns include the key subject_id (a file's); a Screening's features have it as their index."""
    seen: dict[str, str] = {}
    for col in columns:
        if col == "subject_id" and keyed:
            continue
        if is_reserved(col):
            raise DataError(f"{col!r} is a name the engines keep for themselves; rename the column",
                            file=file, column=col)
        if col.lower() in seen:
            raise DataError(f"columns {seen[col.lower()]!r} and {col!r} differ only in case, which SQL engines "
                            f"cannot tell apart; rename one", file=file, column=col)
        seen[col.lower()] = col
        if catalogue is not None and catalogue.get(col) is None:
            raise DataError(f"{col!r} is not a catalogue variable; rename it or declare it in the trial's variables",
                            file=file, column=col)


def check_screening_tables(screening: Screening) -> None:
    """What both engines check of an in-memory Screening before reading it: every value, exactly as in a
    screening folder (Screening.validate; columns outside the catalogue are left to the trial that
    declares them), and that its features are already typed, since the engines read the dtypes as given."""
    if screening.checked:
        return
    catalogue = default_catalogue()
    screening.validate(catalogue, undeclared="keep")
    for col in untyped_columns(screening.features, catalogue):
        raise DataError(f"the engines read a {catalogue[col].kind} column in its own dtype, this one is "
                        f"{screening.features[col].dtype}; Screening.validate() returns the screening typed",
                        file=screening.source or None, column=col)


def check_event_files(paths: dict[str, Path], catalogue: Catalogue | None = None) -> None:
    """The events, event_lookback and event_counts files of a folder the SQL engine reads in place, checked
    as read_screening checks them for the memory engine (the same functions, so the same messages)."""
    catalogue = catalogue or default_catalogue()
    if not {"events", "event_lookback", "event_counts"} & set(paths):
        return
    ids = pd.Index(_read(paths["features"], ["subject_id"])["subject_id"].astype("string"))
    for name in ("events", "event_lookback", "event_counts"):
        if name in paths:
            raw = _read(paths[name])
            if name == "events":
                typed_events(raw, ids, catalogue, file=str(paths[name]))
            else:
                typed_per_subject(raw, name, ids, catalogue, file=str(paths[name]))


def read_features(directory: str | Path, columns: Iterable[str] | None = None,
                  catalogue: Catalogue | None = None) -> pd.DataFrame:
    """The features table (indexed by subject_id, typed by the catalogue), only `columns` if given."""
    catalogue = catalogue or default_catalogue()
    path = find_tables(directory)["features"]
    wanted = None
    if columns is not None:
        present = _columns(path)
        wanted = ["subject_id"] + [c for c in columns if c in present and c != "subject_id"]
    frame = _read(path, wanted)
    check_columns(frame.columns, str(path), catalogue)
    return typed_features(frame, catalogue, file=str(path))


def _columns(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    return list(_csv(path, nrows=0).columns)


def table_columns(directory: str | Path) -> dict[str, list[str]]:
    """Column names of every table in the folder (without reading the data)."""
    return {name: _columns(path) for name, path in find_tables(directory).items()}


class _ColumnReader:
    """A features file's columns one at a time: a Parquet file's from disk (pyarrow reads one column of every
    row group), a CSV's from the whole file read as text (CSV has no column access; such folders are small)."""

    def __init__(self, path: Path):
        self.path = path
        if path.suffix == ".parquet":
            self.parquet = pq.ParquetFile(path)
            schema = self.parquet.schema_arrow
            # a pandas index written into the file (df.to_parquet with an index) was the frame's index, never a
            # column: the reading of the whole table left it out of the columns the same way
            meta = schema.pandas_metadata or {}
            index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
            self.names = [name for name in schema.names if name not in index]
            self.frame = None
        else:
            self.parquet = None
            self.frame = _read(path)
            self.names = list(self.frame.columns)

    def column(self, name: str) -> pd.Series:
        if self.frame is not None:
            return self.frame[name]
        # the same conversion as the whole table's to_pandas (dtypes, nulls), for this column alone
        return self.parquet.read(columns=[name]).to_pandas()[name]


def _features_by_column(path: Path, catalogue: Catalogue, *, compact: bool) -> pd.DataFrame:
    """The features file checked and typed as typed_features does (the same checks, in the same order, the
    same messages), read and typed one column at a time, each number column compacted as it arrives
    (`compact`): the peak is what is held plus one column, not the whole file as Arrow, pandas and typed
    copies at once (10.7 GB at 10^7 subjects for 6.6 GB held)."""
    reader = _ColumnReader(path)
    file = str(path)
    check_columns(reader.names, file, catalogue)
    if "subject_id" not in reader.names:
        raise DataError("features has no subject_id column (or index)", file=file, column="subject_id")
    index = check_ids(reader.column("subject_id"), file=file, table="features")
    columns = [c for c in reader.names if c != "subject_id"]
    out = {}
    for col in columns:
        values = pd.Series(reader.column(col).array, index=index, copy=False)  # by position
        typed = typed_feature(values, col, catalogue, file=file)
        del values  # the column as read: let go before the next one is read
        if compact and isinstance(typed, np.ndarray) and typed.dtype == np.float64:
            typed = compact_number(typed)
        elif compact and isinstance(typed.dtype, pd.StringDtype) and catalogue.get(col) is not None \
                and catalogue[col].kind == "category":
            typed = compact_text(typed)  # a few levels: 1 byte a subject instead of its text (11-13 bytes)
        out[col] = typed
    # copy=False: no consolidation of the float64 columns into one block (a second copy of them all)
    return pd.DataFrame(out, index=index, columns=columns, copy=False)


REASONS = "missing_reasons.parquet"
CENSORED = "censored.parquet"  # Screening.censored: the intervals of censored values, written when there are any
CENSORED_COLUMNS = ("subject_id", "variable", "low", "high")


def censored_table(screening: Screening) -> pa.Table | None:
    """The Screening's censored intervals as an Arrow table (ids and variables as text), None when it has none."""
    frame = getattr(screening, "censored", None)
    if frame is None or not len(frame):
        return None
    return pa.table({"subject_id": pa.array(frame["subject_id"].astype(str).to_numpy(), pa.string()),
                     "variable": pa.array(frame["variable"].astype(str).to_numpy(), pa.string()),
                     "low": pa.array(frame["low"].to_numpy(dtype="float64")),
                     "high": pa.array(frame["high"].to_numpy(dtype="float64"))})


def read_censored(path: Path, ids: pd.Index) -> pd.DataFrame:
    """A folder's censored.parquet as Screening.censored (its subjects'), the columns checked.

    Read in Arrow and held as codes, as the synthetic populations hold theirs (~7 bytes a row: the subject's
    position, the variable, the few distinct bounds as levels): a T1D cohort has one to three censored
    C-peptides a subject, and as pandas text (a Python string per id and variable) this table alone took more
    than all the features' number columns while the folder was read."""
    table = pq.read_table(path)
    absent = [c for c in CENSORED_COLUMNS if c not in table.column_names]
    if absent:
        raise DataError(f"censored intervals need the columns {list(CENSORED_COLUMNS)}; {absent} absent",
                        file=str(path), column=absent[0])
    where = positions(table.column("subject_id"), ids)
    if not (where >= 0).all():  # the folder's subjects only
        mine = np.flatnonzero(where >= 0)
        table, where = table.take(pa.array(mine)), where[mine]
    return pd.DataFrame({"subject_id": pd.Categorical.from_codes(where, dtype=ids_dtype(ids)),
                         "variable": _text_codes(table.column("variable")),
                         "low": compact_number(table.column("low").to_numpy()),
                         "high": compact_number(table.column("high").to_numpy())}, copy=False)


def _text_codes(values) -> pd.Categorical:
    """Texts as a Categorical of their sorted distinct values (as pd.Categorical makes it), encoded in Arrow:
    no Python string a row."""
    encoded = pc.dictionary_encode(arrow_text(values))
    names = np.array(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order) + 1, np.int64)
    rank[order], rank[-1] = np.arange(len(order)), -1  # code -1 (missing) indexes the last entry
    codes = rank[pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)]
    return pd.Categorical.from_codes(codes, categories=names[order])


REASON_COLUMNS = ("subject_id", "variable", "reason")


def check_reason_columns(columns: Iterable[str], file: str) -> None:
    """The columns every engine reads of a missing_reasons file, named when absent."""
    absent = [c for c in REASON_COLUMNS if c not in set(columns)]
    if absent:
        raise DataError(f"missing reasons need the columns {list(REASON_COLUMNS)}; {absent} absent (the file "
                        "folder_writer.write_screening_folder writes has them; delete the file to open the folder "
                        "without reasons)", file=file, column=absent[0])


def missing_reasons(frame: pd.DataFrame, ids: pd.Index, file: str = REASONS) -> pd.DataFrame:
    """A folder's missing reasons as the Screening's long table (subject_id, variable, reason), its subjects'."""
    check_reason_columns(frame.columns, file)
    frame = frame[frame["subject_id"].isin(ids)]
    return pd.DataFrame({"subject_id": pd.Categorical(frame["subject_id"].astype(str), categories=ids),
                         "variable": pd.Categorical(frame["variable"].astype(str)),
                         "reason": pd.Categorical(frame["reason"].astype(str))}).reset_index(drop=True)


def reasons_sql(dialect, reasons: str, features: str, row_column: str) -> str:
    """The SQL engines' reading of missing reasons: a folder's reasons of the features' subjects (those of
    other subjects are left out, as missing_reasons does), each with its subject's features row."""
    q, text = dialect.quote, dialect.text
    return (f"SELECT f.{q(row_column)} AS r, CAST(m.{q('subject_id')} AS {text}) AS subject_id, "
            f"CAST(m.{q('variable')} AS {text}) AS variable, CAST(m.{q('reason')} AS {text}) AS reason "
            f"FROM {q(reasons)} m JOIN {q(features)} f "
            f"ON CAST(m.{q('subject_id')} AS {text}) = CAST(f.{q('subject_id')} AS {text})")


def reason_counts_sql(dialect, reasons: str, features: str, row_column: str) -> str:
    """Subjects' reasons counted by (variable, reason) where the data lies: only the counts come back."""
    return (f"SELECT variable, reason, COUNT(*) AS subjects FROM ({reasons_sql(dialect, reasons, features, row_column)}) "
            f"t GROUP BY variable, reason")


def reason_counts_of_rows(table: pa.Table) -> dict[tuple[str, str], int]:
    """{(variable, reason): subjects} from reason_counts_sql's rows, whichever engine counted them."""
    columns = (table.column(c).to_pylist() for c in table.column_names)
    return {(v, r): int(n) for v, r, n in zip(*columns, strict=True)}


def reasons_frame(table: pa.Table, ids: pd.Index) -> pd.DataFrame:
    """The rows reasons_sql returned as the Screening's long table (missing_reasons' form), ordered by
    subject (features row), variable and reason: the same rows whichever engine read them."""
    frame = table.to_pandas()
    frame = frame.sort_values(["r", "variable", "reason"], kind="stable")
    if ids.dtype != pd.StringDtype():  # the ids as read_screening types them (check_ids): pandas "string"
        ids = pd.Index(pd.array(ids, dtype="string"), name="subject_id")
    return missing_reasons(frame.drop(columns="r"), ids)


def ordered_reasons(reasons: pd.DataFrame | None) -> pd.DataFrame | None:
    """A Screening's missing reasons in reasons_frame's order (subject in features order, variable, reason),
    so that the memory engine's and the SQL engines' tables compare row for row."""
    if reasons is None:
        return None
    order = np.lexsort((reasons["reason"].astype(str), reasons["variable"].astype(str),
                        reasons["subject_id"].cat.codes))
    return reasons.iloc[order].reset_index(drop=True)


def reason_counts(reasons: pd.DataFrame | None) -> dict[tuple[str, str], int]:
    """{(variable, reason): subjects} of a Screening's missing reasons (what the SQL engines count in place)."""
    if reasons is None:
        return {}
    counts = reasons.groupby(["variable", "reason"], observed=True).size()
    return {(str(v), str(r)): int(n) for (v, r), n in counts.items() if n}


def _keyed_by(frame: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """A per-subject table whose subject_id column lists the features' ids in their order (as write_screening
    and the chunked writers keep them) indexed by the features' own index, the column dropped: the ids are
    then held once, not once more per table (19 bytes a subject, 0.19 GB at 10^7). Any other table as read:
    typed_per_subject checks and aligns it."""
    if "subject_id" not in frame.columns or len(frame) != len(index):
        return frame
    ids, known = arrow_text(frame["subject_id"]), arrow_text(index)
    if ids.null_count or not pc.all(pc.equal(ids, known)).as_py():  # compared in Arrow: 20 ms at 10^6
        return frame
    out = frame.drop(columns="subject_id")
    out.index = index
    return out


def read_screening(directory: str | Path, catalogue: Catalogue | None = None, *, compact: bool = False) -> Screening:
    """Load a layout folder into memory as a Screening (the in-memory engine's input), every table checked
    and typed by Screening.validate: the contract is checked at the edge, the same for both engines.

    `compact=True` holds number columns as level codes (explorer.cohort.compact: the same float64 values, bit for
    bit), as an opened synthetic source does: a 10^7 folder's features took 6.6 GB resident as float64; and
    category columns and the events' names as Categoricals (compact_text: 1 byte a row instead of 11-27). Per-subject tables written in
    the features' order share the features' index (_keyed_by) whether compact or not."""
    catalogue = catalogue or default_catalogue()
    paths = find_tables(directory)
    features = _features_by_column(paths["features"], catalogue, compact=compact)
    tables = {}
    for name in ("events", "event_lookback", "event_counts"):
        if name in paths:
            file = str(paths[name])
            frame = _read(paths[name])
            if name == "events":
                tables[name] = typed_events(frame, features.index, catalogue, file=file)
                if compact:
                    tables[name]["event"] = compact_text(tables[name]["event"])
            else:
                tables[name] = typed_per_subject(_keyed_by(frame, features.index), name, features.index, catalogue,
                                                 file=file)
    reasons = Path(directory) / REASONS  # written by folder_writer.write_screening_folder: why a value is unknown
    if reasons.is_file():
        tables["missing_reasons"] = missing_reasons(_read(reasons), features.index, str(reasons))
    censored = Path(directory) / CENSORED
    if censored.is_file():
        tables["censored"] = read_censored(censored, features.index)
    source = str(directory)
    manifest = Path(directory) / MANIFEST
    if manifest.is_file():
        source = json.loads(manifest.read_text(encoding="utf-8")).get("source") or source
    return Screening(features, source=source, checked=True, **tables)  # each table checked above
