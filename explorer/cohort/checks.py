"""The value checks of a Screening's tables: one set for every way data reaches the engines.

A screening folder (CSV text or Parquet), a Screening built in Python (a notebook, a loader, the
generator) and the DuckDB engine reading Parquet in place all pass their tables through these
functions, so a value means the same thing, and a bad one gets the same one-line message, whichever
way it came. Each function takes a table as found (text or typed), raises DataError naming the file,
column and rows of the first problem, and returns the table typed as explorer.cohort.screening says.

Rows are named by subject id where a row has one subject (features, event_lookback, event_counts) and
by row number (1 = the first row under the header) in the events table, which has many rows per subject.

Identical rows in the events table are two events: records are kept by day, and a day can hold two
severe hypoglycaemias (the generator makes them too), so they are counted, not refused.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from explorer.catalogue import Catalogue
from explorer.cohort.compact import float_values, is_number_levels
from explorer.cohort.lookup import arrow_text, positions
from explorer.errors import DataError

# What a boolean is in a file, once for every reader (CSV text; Parquet has a BOOLEAN type): these words
# in any case, nothing else ("T", "yes", " true") is an error naming the rows, never an unknown or a guess.
BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}
COUNT_COLUMN = re.compile(r"^(?P<event>[^@]+)@(?P<days>\d+(\.0+)?)$")  # "severe_hypoglycemia@365"
SHOWN = 3  # offending values quoted in a message


EVENT_COLUMNS = ["subject_id", "event", "days_before_index", "severity"]


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": pd.Series(dtype="string"), "event": pd.Series(dtype="string"),
        "days_before_index": pd.Series(dtype="float64"), "severity": pd.Series(dtype="Int64"),
    })


def _quoted(values) -> str:
    return str(sorted({str(v) for v in values})[:SHOWN])


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _blank(values) -> np.ndarray:
    """Missing or only white space."""
    text = pd.Series(values, copy=False).astype("string")
    return (text.isna() | (text.str.strip() == "")).to_numpy(dtype=bool, na_value=True)


def check_ids(ids, *, file: str | None, table: str, unique: bool = True) -> pd.Index:
    """Subject ids as strings: none blank, and (per-subject tables) none twice."""
    index = pd.Index(pd.array(np.asarray(ids, dtype=object) if not isinstance(ids, pd.Index | pd.Series)
                              else ids, dtype="string"), name="subject_id")
    blank = _blank(index)
    if blank.any():
        raise DataError(f"blank subject ids in {table}; every row needs one", file=file, column="subject_id",
                        rows=[int(i) + 1 for i in np.flatnonzero(blank)[:5]])
    if unique and not _distinct(index):
        raise DataError(f"{table} lists a subject twice; it needs one row per subject" if table != "features"
                        else "duplicate subject ids; each subject must appear once", file=file,
                        column="subject_id", rows=index[index.duplicated()].unique().tolist())
    return index


def _distinct(index: pd.Index) -> bool:
    """Whether no id repeats. Ids in strictly increasing order (a generator's, most exports') are distinct
    with no hash table: pandas' (Index.is_unique) holds every id as a Python string while it runs, about 80
    bytes an id (0.8 GB at 10^7 subjects)."""
    text = arrow_text(index)
    if len(text) < 2 or pc.all(pc.less(text[:-1], text[1:]), skip_nulls=False).as_py():
        return True
    return index.is_unique


def known_subjects(ids: pd.Index, subjects: pd.Index, *, file: str | None, table: str,
                   rows: np.ndarray | None = None) -> np.ndarray:
    """Position of each id among the screened subjects; an id not screened is an error, not a drop."""
    found = positions(ids, subjects)  # hashed in Arrow: 10^6 ids in milliseconds
    unknown = found < 0
    if unknown.any():
        at = np.flatnonzero(unknown)
        named = ids[at] if rows is None else [int(r) + 1 for r in at]
        raise DataError(f"{int(unknown.sum())} rows name subjects that are not in features "
                        f"({_quoted(ids[at])}); remove them or add the subjects to features", file=file,
                        column="subject_id", rows=list(named)[:5])
    return found


def _numbers(values: pd.Series, *, file: str | None, column: str, rows, rule: str, whole: bool = False,
             low: float | None = None, high: float | None = None, unit: str = "",
             empty: str = "leave the cell empty when the value is unknown") -> np.ndarray:
    """Finite numbers (optionally whole, within [low, high]) or empty; anything else names its rows."""
    if pd.api.types.is_bool_dtype(values):
        raise DataError(f"true/false where {rule} belong", file=file, column=column)
    numbers = float_values(values)
    given = values.notna().to_numpy()  # an empty cell is unknown; " " is text that is not a number
    with np.errstate(invalid="ignore"):
        bad = (np.isnan(numbers) & given) | np.isinf(numbers)
        if whole:
            bad |= np.isfinite(numbers) & (numbers != np.round(numbers))
        if low is not None:
            bad |= numbers < low
        if high is not None:
            bad |= numbers > high
    if bad.any():
        # a number as a number ('90' whether the cell said 90 or 90.0), anything else as written
        shown = [f"{n:g}" if not np.isnan(n) else str(v) for n, v in zip(numbers[bad], values[bad], strict=True)]
        where = "" if low is None and high is None else f" in the plausible range [{low:g}, {high:g}]" \
            if high is not None else f" >= {low:g}"
        raise DataError(f"{int(bad.sum())} values {_quoted(shown)} are not {rule}{where}{' ' + unit if unit else ''}; "
                        f"{empty}", file=file, column=column, rows=list(np.asarray(rows)[bad][:5]))
    return numbers


def _booleans(values: pd.Series, *, file: str | None, column: str, rows) -> pd.arrays.BooleanArray:
    if pd.api.types.is_bool_dtype(values):
        return pd.array(values, dtype="boolean")
    if _is_text(values) or pd.api.types.is_numeric_dtype(values):
        # as written, in any case: " true" and 1.0 are not booleans (DuckDB reads a Parquet column so too)
        words = values.astype("string").str.lower()
        truth = words.isin([w for w, v in BOOLEAN_TEXT.items() if v]).to_numpy(dtype=bool, na_value=False)
        false = words.isin([w for w, v in BOOLEAN_TEXT.items() if not v]).to_numpy(dtype=bool, na_value=False)
        given = values.notna().to_numpy()
        bad = given & ~truth & ~false
        if bad.any():
            raise DataError(f"values {_quoted(values[bad])} are not booleans; write true / false (or 1 / 0), "
                            "empty when unknown", file=file, column=column, rows=list(np.asarray(rows)[bad][:5]))
        return pd.arrays.BooleanArray(truth, ~(truth | false))
    raise DataError(f"a boolean column cannot hold {values.dtype}; write true / false (or 1 / 0), empty when "
                    "unknown", file=file, column=column)


def typed_features(frame: pd.DataFrame, catalogue: Catalogue, *, file: str | None,
                   undeclared: str = "refuse") -> pd.DataFrame:
    """The features table checked and typed: ids (index or column `subject_id`) unique and not blank,
    numbers finite and in the plausible range, booleans true/false/1/0, categories among the variable's.

    `undeclared`: "refuse" a column that is not a catalogue variable, or "keep" it unchecked (the
    engines check an in-memory Screening before they know the trial, whose variables extend the catalogue).
    """
    if "subject_id" in frame.columns:
        ids, columns = frame["subject_id"], [c for c in frame.columns if c != "subject_id"]
    elif frame.index.name == "subject_id":
        ids, columns = frame.index, list(frame.columns)
    else:
        raise DataError("features has no subject_id column (or index)", file=file, column="subject_id")
    index = check_ids(ids, file=file, table="features")
    # a typed frame (a generator's or a loader's) is only checked and comes back as it is: keeping each
    # checked column until the end would hold a second copy of the whole frame for nothing
    typed = frame.index.name == "subject_id" and isinstance(frame.index.dtype, pd.StringDtype) and \
        not untyped_columns(frame, catalogue)
    out = {}
    for col in columns:
        values = pd.Series(frame[col].array, index=index, copy=False)  # by position: the index may repeat
        out[col] = typed_feature(values, col, catalogue, file=file, undeclared=undeclared)
        if typed:
            del out[col]
    if typed:
        return frame  # already typed: no copy of a million rows
    return pd.DataFrame(out, index=index, columns=columns)


def typed_feature(values: pd.Series, col: str, catalogue: Catalogue, *, file: str | None,
                  undeclared: str = "refuse"):
    """One features column checked and typed (typed_features' work on one column, for a reader that takes a
    file column by column): float64 numbers, nullable booleans or string categories; rows named by the
    index of `values` (the subject ids, already checked)."""
    index = values.index
    var = catalogue.get(col)
    if var is None:
        if undeclared == "refuse":
            raise DataError(f"{col!r} is not a catalogue variable; rename it or declare it in the trial's "
                            "variables", file=file, column=col)
        return values.to_numpy()
    if var.kind == "number":
        low, high = var.range if var.range is not None else (None, None)
        return _numbers(values, file=file, column=col, rows=index, rule="finite numbers",
                        low=low, high=high, unit=var.unit or "")
    if var.kind == "boolean":
        return _booleans(values, file=file, column=col, rows=index)
    if var.kind == "category":
        text = values.astype("string")
        bad = (text.notna() & ~text.isin(var.categories)).to_numpy(dtype=bool, na_value=False)
        if bad.any():
            raise DataError(f"values {_quoted(text[bad])} are not among {list(var.categories)}", file=file,
                            column=col, rows=index[bad].tolist())
        return pd.array(text, dtype="string")
    raise DataError(f"event {col!r} belongs in the events table, not in features", file=file, column=col)


def untyped_columns(frame: pd.DataFrame, catalogue: Catalogue) -> list[str]:
    """Columns of catalogue variables not in the dtype the engines read (float64, boolean, string)."""
    def typed(dtype, kind: str) -> bool:
        # a number may also be held as level codes (explorer.cohort.compact): the same float64 values
        return {"number": dtype == "float64" or is_number_levels(dtype), "boolean": dtype == "boolean",
                "category": isinstance(dtype, pd.StringDtype)}.get(kind, True)
    return [c for c in frame.columns
            if (var := catalogue.get(c)) is not None and not typed(frame[c].dtype, var.kind)]


def typed_events(frame: pd.DataFrame, subjects: pd.Index, catalogue: Catalogue, *,
                 file: str | None) -> pd.DataFrame:
    """The dated-events table checked and typed: every row a screened subject, a catalogue event, a
    finite days_before_index >= 0 (0 = the index day) and a whole-number severity or none."""
    if frame is None or (len(frame) == 0 and len(frame.columns) == 0):
        return empty_events()
    missing = [c for c in ("subject_id", "event", "days_before_index") if c not in frame.columns]
    if missing:
        raise DataError(f"the events table lacks columns {missing}; it needs subject_id, event, "
                        "days_before_index and optionally severity", file=file)
    extra = [c for c in frame.columns if c not in ("subject_id", "event", "days_before_index", "severity")]
    if extra:
        raise DataError(f"the events table has columns {extra[:SHOWN]} it does not use; remove or rename them",
                        file=file, column=extra[0])
    rows = np.arange(1, len(frame) + 1)
    ids = check_ids(frame["subject_id"].reset_index(drop=True), file=file, table="events", unique=False)
    known_subjects(ids, subjects, file=file, table="events", rows=rows)
    events = frame["event"].reset_index(drop=True).astype("string")
    named = set(catalogue.names(kind="event"))
    bad = ~events.isin(named).to_numpy(dtype=bool, na_value=False)
    if bad.any():
        raise DataError(f"{int(bad.sum())} rows name events {_quoted(events[bad].fillna(''))} that are not "
                        f"catalogue events; use one of {sorted(named)}", file=file, column="event",
                        rows=list(rows[bad][:5]))
    days = _numbers(frame["days_before_index"].reset_index(drop=True), file=file, column="days_before_index",
                    rows=rows, rule="days before the index date", low=0.0,
                    empty="every event needs the number of days before the index date (0 = the index day)")
    if np.isnan(days).any():
        at = np.flatnonzero(np.isnan(days))
        raise DataError("events without days_before_index; every event needs the number of days before the "
                        "index date (0 = the index day)", file=file, column="days_before_index",
                        rows=list(rows[at][:5]))
    severity = pd.array([pd.NA] * len(frame), dtype="Int64")
    if "severity" in frame.columns:
        graded = _numbers(frame["severity"].reset_index(drop=True), file=file, column="severity", rows=rows,
                          rule="whole numbers", whole=True, low=0.0, empty="leave it empty when not graded")
        severity = pd.array(np.where(np.isnan(graded), 0, graded).astype(np.int64), dtype="Int64")
        severity[np.isnan(graded)] = pd.NA
    return pd.DataFrame({"subject_id": pd.array(ids, dtype="string"), "event": pd.array(events, dtype="string"),
                         "days_before_index": days, "severity": severity})


def typed_per_subject(frame: pd.DataFrame, table: str, subjects: pd.Index, catalogue: Catalogue, *,
                      file: str | None) -> pd.DataFrame:
    """event_lookback (days of complete records per event) or event_counts (reported counts per
    "event@days"), checked and typed: one row per screened subject, known columns, numbers >= 0."""
    if "subject_id" in frame.columns:
        ids, columns = frame["subject_id"], [c for c in frame.columns if c != "subject_id"]
    else:
        ids, columns = frame.index, list(frame.columns)
    if isinstance(ids, pd.Index) and ids.equals(subjects):
        index = subjects  # in the features' order, as write_screening and the generator keep them
    else:
        index = check_ids(ids, file=file, table=table)
        known_subjects(index, subjects, file=file, table=table)
    events = set(catalogue.names(kind="event"))
    out = {}
    for col in columns:
        values = pd.Series(frame[col].array, index=index, copy=False)
        if table == "event_lookback":
            if col not in events:
                raise DataError(f"{col!r} is not a catalogue event; event_lookback has one column per event, "
                                f"one of {sorted(events)}", file=file, column=col)
            out[col] = _numbers(values, file=file, column=col, rows=index, low=0.0,
                                rule="days of complete records", empty="leave the cell empty when not recorded")
        else:
            match = COUNT_COLUMN.match(str(col))
            if match is None or match["event"] not in events:
                raise DataError(f"{col!r} is not event@days (a catalogue event and a whole number of days, "
                                f"e.g. severe_hypoglycemia@365)", file=file, column=col)
            out[col] = _numbers(values, file=file, column=col, rows=index, low=0.0, whole=True,
                                rule="whole-number counts", empty="leave the cell empty when unknown")
    return pd.DataFrame(out, index=index, columns=columns, dtype="float64")

