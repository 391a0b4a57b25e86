"""Loader for a folder in the canonical layout: subjects, measurements, events, cgm (+ event history/counts).

Each table is a CSV or Parquet file named after it (subjects.csv, measurements.parquet, ...); only
subjects is required. Columns follow explorer.cohort.tables; measurement units may be any spelling
explorer.cohort.units knows and are converted to the catalogue's; values may be censored ("<0.017").
Dates are ISO 8601. This is the layout `trial-explorer synth` writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue, Variable
from explorer.cohort.values import censoring_codes, subject_censoring_columns
from explorer.errors import DataError

from .cgm import SENSOR_RANGE_MG_DL, sensor_glucose
from .common import (
    Boundary,
    OnInvalid,
    dates,
    finish_cgm,
    finish_cohort,
    finish_measurements,
    loader_catalogue,
    normalise_boolean,
    normalise_category,
    normalise_sex,
    numbers,
    parsed_numbers,
    require_columns,
    subjects_frame,
    with_censoring,
)
from .problems import collects_problems, found
from .readers import read_tables
from .report import Loaded, LoadReport

TABLES = ("subjects", "measurements", "events", "cgm", "event_history", "event_counts")
SUFFIXES = (".parquet", ".csv", ".pq", ".tsv", ".txt")
SUBJECT_FIELDS = ("subject_id", "sex", "birth_date", "age", "diagnosis_date", "index_date")


def table_files(folder: Path) -> dict[str, Path]:
    """The canonical table files present in a folder (a table given twice, e.g. .csv and .parquet, is an error)."""
    found: dict[str, Path] = {}
    for table in TABLES:
        candidates = [folder / f"{table}{suffix}" for suffix in SUFFIXES if (folder / f"{table}{suffix}").exists()]
        if len(candidates) > 1:
            raise DataError(f"table {table!r} is given twice ({', '.join(p.name for p in candidates)}); keep one",
                            file=str(folder))
        if candidates:
            found[table] = candidates[0]
    return found


def require_subjects(files: dict[str, Path], folder: Path) -> None:
    """The one required table: a DataError naming the folder when it has no subjects table."""
    if "subjects" not in files:
        raise DataError("no subjects table (subjects.csv or subjects.parquet) in the folder", file=str(folder))


@collects_problems
def load_canonical(folder: str | Path, *, on_invalid: OnInvalid = "raise",
                   catalogue: Catalogue | None = None) -> Loaded:
    """Read a canonical-layout folder into a Cohort and a LoadReport."""
    folder = Path(folder)
    files = table_files(folder)
    require_subjects(files, folder)
    report = LoadReport(source=str(folder), kind="canonical")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))
    raw = read_tables(files, subjects="subjects", report=report)
    for table, frame in raw.items():
        report.read(files[table].name, len(frame))
    files = {table: files[table] for table in raw}  # a header-only table is as if absent

    subjects = _subjects(raw["subjects"], boundary, file=str(files["subjects"]))
    tables = {}
    if "measurements" in raw:
        tables["measurements"] = _measurements(raw["measurements"], boundary, file=str(files["measurements"]))
    if "events" in raw:
        tables["events"] = _events(raw["events"], boundary, file=str(files["events"]))
    if "cgm" in raw:
        tables["cgm"] = _cgm(raw["cgm"], boundary, file=str(files["cgm"]))
    if "event_history" in raw:
        tables["event_history"] = _event_history(raw["event_history"], boundary, file=str(files["event_history"]))
    if "event_counts" in raw:
        tables["event_counts"] = _event_counts(raw["event_counts"], boundary, file=str(files["event_counts"]))

    cohort = finish_cohort(subjects, boundary, file=str(folder), files={k: str(v) for k, v in files.items()},
                           source=str(folder), **tables)
    for table, frame in [("subjects", cohort.subjects), *[(t, getattr(cohort, t)) for t in tables]]:
        report.kept(files[table].name, len(frame))
    return Loaded(cohort, report)


def _subjects(frame: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(frame, ["subject_id", "index_date"], file=file, what="subjects table")
    catalogue = boundary.catalogue
    out: dict[str, object] = {"subject_id": frame["subject_id"].astype("string").str.strip()}
    for column in ("birth_date", "diagnosis_date", "index_date"):
        if column in frame.columns:
            out[column] = dates(frame[column], file=file, column=column, report=boundary.report)
    if "sex" in frame.columns:
        out["sex"] = normalise_sex(frame["sex"], file=file, column="sex")
    if "age" in frame.columns:
        out["age"] = numbers(frame["age"], file=file, column="age", report=boundary.report, kind="exact")
    ignored = []
    for column in frame.columns:
        if column in SUBJECT_FIELDS:
            continue
        var = catalogue.get(column)
        if var is None or var.kind == "event":
            ignored.append(column)
        elif var.kind == "boolean":
            out[column] = normalise_boolean(frame[column], file=file, column=column)
        elif var.kind == "category":
            out[column] = normalise_category(frame[column], var, file=file, column=column)
        else:
            parsed = parsed_numbers(frame[column], file=file, column=column, report=boundary.report)
            out[column] = parsed.values
            out.update(subject_censoring_columns(column, parsed))  # "<5": its interval, as a measurement's
    if ignored:
        boundary.report.count_unmapped(f"{Path(file).name} columns (not catalogue variables)",
                                       pd.Series(ignored))
    subjects = subjects_frame(out, index=frame.index, catalogue=catalogue)
    number_columns = [c for c in subjects.columns if c in catalogue and catalogue[c].kind == "number"]
    for column in number_columns:
        var = catalogue[column]
        values = subjects[column].to_numpy(dtype="float64", na_value=np.nan)
        bad = (values < var.range[0]) | (values > var.range[1]) if var.range else np.zeros(len(values), bool)
        if bad.any():  # always refused (every engine does): collected with the file's other problems
            found(subjects.index, bad, file=file, column=column, values=pd.Series(values, index=subjects.index),
                  problem=subject_outside_range(var, values[bad][0]), rejectable=False,
                  alone=subject_outside_range(var, values[bad][0]))
            subjects[column] = subjects[column].mask(bad)
    return subjects


def subject_outside_range(var: Variable, value: float) -> str:
    """The message for a subject column's first value outside its plausible range (always an error)."""
    return f"{var.name} = {value:g} is outside the plausible range [{var.range[0]:g}, {var.range[1]:g}] {var.unit}"


def _measurements(frame: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(frame, ["subject_id", "time", "variable", "value", "unit"], file=file,
                    what="measurements table")
    report, name = boundary.report, Path(file).name
    draft = pd.DataFrame({
        "subject_id": frame["subject_id"].astype("string").str.strip(),
        "time": dates(frame["time"], file=file, column="time", report=boundary.report),
        "variable": frame["variable"].astype("string").str.strip(),
        "value": (value := parsed_numbers(frame["value"], file=file, column="value", report=report,
                                          count_missing=False)).values,
        "unit": frame["unit"].astype("string").str.strip(),
    }, index=frame.index)
    draft = with_censoring(draft, value)
    if "censored" in frame.columns or "limit" in frame.columns:
        draft = _given_censoring(draft, frame, report, file=file)
    for column in ("ref_low", "ref_high"):
        if column in frame.columns:
            draft[column] = numbers(frame[column], file=file, column=column, report=report, count_missing=False)
    if "visit" in frame.columns:
        draft["visit"] = frame["visit"].astype("string")
    missing = draft["value"].isna().to_numpy()
    report.reject(name, "value missing (unknown; no row needed)", int(missing.sum()))
    return finish_measurements(boundary.set_aside(draft, missing), boundary, file=file)


# a censored row's value and limit that disagree (what _given_censoring and canonical_sql refuse alike)
LIMIT_NEEDED = "a censored value (censored column not 0) needs its limit; give the limit in the limit column"
POINT_DISAGREES = ("the value disagrees with its censored limit: leave it blank or write the point the loaders keep "
                   "(half the limit below, the limit above)")


def censored_point(code: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """The point the loaders keep for a value given as a limit (values.parse_cell): L / 2 below, U above."""
    return np.where(code < 0, limit / 2, limit)


def point_disagrees(value: np.ndarray, point: np.ndarray) -> np.ndarray:
    """A given value that is not the censored row's point (float noise of a written and read-back point allowed)."""
    return ~np.isnan(value) & ~np.isnan(point) & ~np.isclose(value, point, rtol=1e-9, atol=0)


def _given_censoring(draft: pd.DataFrame, frame: pd.DataFrame, report: LoadReport, *, file: str) -> pd.DataFrame:
    """The canonical `censored` (code or symbol) and `limit` columns of a measurements file, as the loaders keep a
    value given as "<L": what write_cohort writes for a cohort with censored values, so it reads back as
    intervals. A censored row needs its limit, and its value is blank or the point (refused otherwise)."""
    require_columns(frame, ["censored", "limit"], file=file, what="measurements table with censored values")
    code = censoring_codes(frame["censored"], file=file)
    limit = numbers(frame["limit"], file=file, column="limit", report=report, kind="exact", count_missing=False)
    given = code != 0
    found(frame.index, given & np.isnan(limit), file=file, column="limit", problem=LIMIT_NEEDED, rejectable=False,
          values=frame["limit"])
    point = censored_point(code, limit)
    value = draft["value"].to_numpy(dtype="float64")
    found(frame.index, given & point_disagrees(value, point), file=file, column="value", problem=POINT_DISAGREES,
          rejectable=False, values=frame["value"])
    if not given.any():
        return draft
    text_code = draft["censored"].to_numpy() if "censored" in draft.columns else np.zeros(len(draft), np.int8)
    text_limit = draft["limit"].to_numpy() if "limit" in draft.columns else np.full(len(draft), np.nan)
    for rule, rows in (("below_limit", given & (code < 0)), ("above_limit", given & (code > 0))):
        report.convert(f"value: {rule}", int(rows.sum()))
    return draft.assign(value=np.where(given, point, value), censored=np.where(given, code, text_code).astype(np.int8),
                        limit=np.where(given, limit, text_limit))


def _events(frame: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(frame, ["subject_id", "time", "event"], file=file, what="events table")
    draft = pd.DataFrame({
        "subject_id": frame["subject_id"].astype("string").str.strip(),
        "time": dates(frame["time"], file=file, column="time", report=boundary.report),
        "event": frame["event"].astype("string").str.strip(),
    }, index=frame.index)
    severity = (numbers(frame["severity"], file=file, column="severity", report=boundary.report, count_missing=False,
                        kind="exact")
                if "severity" in frame.columns else np.full(len(frame), np.nan))
    fractional = ~np.isnan(severity) & (severity != np.round(severity))
    if fractional.any():
        raise DataError("severity must be a whole number (a grade)", file=file, column="severity",
                        rows=frame.index[fractional][:10].tolist())
    draft["severity"] = pd.array(severity, dtype="Float64").astype("Int64")  # NaN -> NA
    unknown = ~draft["event"].isin(boundary.catalogue.names("event"))
    draft = boundary.invalid(draft, unknown.to_numpy(), file=file, column="event",
                             message=f"not a catalogue event (events: {boundary.catalogue.names('event')})")
    if "visit" in frame.columns:
        draft["visit"] = frame.loc[draft.index, "visit"].astype("string")
    return draft


def _cgm(frame: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(frame, ["subject_id", "time", "glucose"], file=file, what="cgm table")
    draft = pd.DataFrame({
        "subject_id": frame["subject_id"].astype("string").str.strip(),
        "time": dates(frame["time"], file=file, column="time", report=boundary.report),
        # censored readings at the sensor's limit, as every CGM source reads them (loaders/cgm.py)
        "glucose": sensor_glucose(frame["glucose"], boundary, file=file, column="glucose", unit="mg/dL",
                                  sensor_range=SENSOR_RANGE_MG_DL),
    }, index=frame.index)
    missing = draft["glucose"].isna().to_numpy()
    boundary.report.reject(Path(file).name, "glucose missing", int(missing.sum()))
    return finish_cgm(draft[~missing], boundary, file=file)


def _event_history(frame: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(frame, ["subject_id", "event", "recorded_from"], file=file, what="event_history table")
    draft = pd.DataFrame({
        "subject_id": frame["subject_id"].astype("string").str.strip(),
        "event": frame["event"].astype("string").str.strip(),
        "recorded_from": dates(frame["recorded_from"], file=file, column="recorded_from", report=boundary.report),
    }, index=frame.index)
    unknown = ~draft["event"].isin(boundary.catalogue.names("event"))
    return boundary.invalid(draft, unknown.to_numpy(), file=file, column="event", message="not a catalogue event")


def _event_counts(frame: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(frame, ["subject_id", "event", "within_days", "count"], file=file, what="event_counts table")
    report = boundary.report
    draft = pd.DataFrame({
        "subject_id": frame["subject_id"].astype("string").str.strip(),
        "event": frame["event"].astype("string").str.strip(),
        "within_days": numbers(frame["within_days"], file=file, column="within_days", report=report, kind="exact"),
        "count": numbers(frame["count"], file=file, column="count", report=report, kind="count"),
    }, index=frame.index)
    unknown = ~draft["event"].isin(boundary.catalogue.names("event"))
    draft = boundary.invalid(draft, unknown.to_numpy(), file=file, column="event", message="not a catalogue event")
    bad = (draft["within_days"].isna() | (draft["within_days"] <= 0) | (draft["count"] < 0)).to_numpy()
    return boundary.invalid(draft, bad, file=file, column="within_days",
                            message="within_days must be a positive number of days and count >= 0")
