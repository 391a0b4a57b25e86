"""Loader for CGM exports in long form (one reading per row: id, time, glucose), as the iglu package uses.

Column names are found among common spellings (id/subject_id, time/timestamp, gl/glucose) or given
explicitly. Glucose is in mg/dL unless `unit` says otherwise (mmol/L readings are converted with 18.016).
A CGM file has no screening date, so each subject's index date is, by default, the day after their last
reading: the 14 days before it are the last 14 days of wear (docs/data.md).

Censored readings outside the sensor's reporting range ("<40", ">400", or the words LO/HI, Low/High that
exports write) become the limit itself (40 or 400 mg/dL, `sensor_range`), counted in the load report: the
sensor read "at most 40", and every consensus threshold (54, 70, 180, 250) lies inside the range, so the
limit puts the reading in the right band where half the limit (the lab rule) would invent a 20 mg/dL value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue
from explorer.cohort.units import canonical_unit, convert_between
from explorer.cohort.values import parse_numbers
from explorer.errors import DataError

from .common import (
    Boundary,
    OnInvalid,
    finish_cgm,
    finish_cohort,
    loader_catalogue,
    parse_dates,
    subjects_frame,
)
from .problems import collects_problems
from .readers import read_table
from .report import Loaded, LoadReport

ID_COLUMNS = ("subject_id", "id", "ID", "Id", "patient_id", "PtID", "subject", "Subject")
TIME_COLUMNS = ("time", "Time", "timestamp", "Timestamp", "datetime", "date_time", "DateTime")
GLUCOSE_COLUMNS = ("glucose", "gl", "Glucose", "GL", "sensor_glucose", "value")
# Dexcom G6/G7 and FreeStyle Libre 2 report 40-400 mg/dL (Libre 1: 40-500); pass sensor_range= otherwise.
SENSOR_RANGE_MG_DL = (40.0, 400.0)
# Words exports write for a reading below / above the reporting range (compared in lower case).
LOW_WORDS = frozenset({"lo", "low"})
HIGH_WORDS = frozenset({"hi", "high"})


def find_column(frame: pd.DataFrame, given: str | None, candidates, *, what: str, file: str) -> str:
    if given is not None:
        if given not in frame.columns:
            raise DataError(f"no {what} column {given!r}; the file has {list(frame.columns)}", file=file, column=given)
        return given
    for name in candidates:
        if name in frame.columns:
            return name
    raise DataError(f"cannot find the {what} column (tried {', '.join(candidates)}); pass {what}_column=",
                    file=file, column=what)


@collects_problems
def load_cgm(path: str | Path, *, unit: str = "mg/dL", id_column: str | None = None,
             time_column: str | None = None, glucose_column: str | None = None,
             index_date: str | pd.Timestamp | Mapping | None = None, on_invalid: OnInvalid = "raise",
             catalogue: Catalogue | None = None,
             sensor_range: tuple[float, float] = SENSOR_RANGE_MG_DL) -> Loaded:
    """Read a long CGM file into a Cohort (subjects derived from the ids, readings in the cgm table).

    `index_date`: None (default) -> the day after each subject's last reading; a date -> that date for
    everyone; a mapping subject id -> date. `sensor_range` (mg/dL) is what a bare LO / HI reading means;
    "<40" and ">400" carry their own limit.
    """
    path = Path(path)
    frame = read_table(path, subjects=True)
    report = LoadReport(source=str(path), kind="cgm")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))
    report.read(path.name, len(frame))
    draft = cgm_readings(frame, boundary, file=str(path), unit=unit, id_column=id_column,
                         time_column=time_column, glucose_column=glucose_column, sensor_range=sensor_range)
    readings = finish_cgm(draft, boundary, file=str(path))
    subjects = cgm_subjects(readings, index_date=index_date, catalogue=boundary.catalogue, file=str(path))
    report.note("index date: " + ("the day after each subject's last reading" if index_date is None
                                  else "given by the caller"))
    cohort = finish_cohort(subjects, boundary, file=str(path), cgm=readings, source=str(path))
    report.kept(path.name, len(cohort.cgm))
    return Loaded(cohort, report)


def cgm_readings(frame: pd.DataFrame, boundary: Boundary, *, file: str, unit: str = "mg/dL",
                 id_column: str | None = None, time_column: str | None = None,
                 glucose_column: str | None = None, subject_ids: pd.Series | None = None,
                 sensor_range: tuple[float, float] = SENSOR_RANGE_MG_DL) -> pd.DataFrame:
    """Draft canonical readings (subject_id, time, glucose in mg/dL) from a long CGM frame.

    Readings without a glucose value are rejected (counted); exact duplicate readings are rejected as
    duplicates; two different glucose values at the same time are invalid. Censored readings become
    the limit of the sensor's range (module docstring), counted in the report.
    """
    ids = subject_ids if subject_ids is not None else \
        frame[find_column(frame, id_column, ID_COLUMNS, what="id", file=file)].astype("string").str.strip()
    tcol = find_column(frame, time_column, TIME_COLUMNS, what="time", file=file)
    gcol = find_column(frame, glucose_column, GLUCOSE_COLUMNS, what="glucose", file=file)
    glucose = sensor_glucose(frame[gcol], boundary, file=file, column=gcol, unit=unit, sensor_range=sensor_range)
    draft = pd.DataFrame({"subject_id": ids, "time": parse_dates(frame[tcol], file=file, column=tcol),
                          "glucose": glucose}, index=frame.index)
    name = Path(file).name
    missing = draft["glucose"].isna().to_numpy()
    boundary.report.reject(name, "glucose missing", int(missing.sum()))
    draft = draft[~missing]
    exact = draft.duplicated(["subject_id", "time", "glucose"]).to_numpy()
    boundary.report.reject(name, "duplicate reading (same subject, time and glucose)", int(exact.sum()))
    draft = draft[~exact]
    clash = draft.duplicated(["subject_id", "time"], keep=False).to_numpy()
    if clash.any():
        repeated = _repeated_hour(draft, frame.loc[draft.index, tcol], clash)
        boundary.report.reject(name, "second reading in the hour repeated when daylight-saving time ends",
                               int(repeated.sum()))
        draft = draft[~repeated]
        clash = draft.duplicated(["subject_id", "time"], keep=False).to_numpy()
    return boundary.invalid(draft, clash, file=file, column=tcol,
                            message="two different glucose readings at the same time for one subject")


def _repeated_hour(draft: pd.DataFrame, raw_times: pd.Series, clash: np.ndarray) -> np.ndarray:
    """Readings that share a wall-clock time with an earlier instant: the hour repeated at fall-back.

    Times are kept as local wall-clock time (parse_dates), so when clocks go back the hour 02:00-03:00
    comes twice. Where the file's offsets show two distinct instants behind one wall-clock time, the first
    instant is kept and the repeat dropped (counted); true clashes (same instant) stay invalid.
    """
    if pd.api.types.is_datetime64_any_dtype(raw_times):
        return np.zeros(len(draft), dtype=bool)
    instant = pd.to_datetime(raw_times.astype("string").str.strip(), format="ISO8601", utc=True, errors="coerce")
    key = pd.DataFrame({"subject_id": draft["subject_id"].to_numpy(), "time": draft["time"].to_numpy(),
                        "instant": instant.to_numpy()})
    distinct = key["instant"].notna() & ~key.duplicated(["subject_id", "time", "instant"], keep=False)
    dst_group = distinct.groupby([key["subject_id"], key["time"]]).transform("all").to_numpy() & clash
    later = key.sort_values("instant", kind="stable").duplicated(["subject_id", "time"]).sort_index().to_numpy()
    return dst_group & later


def sensor_glucose(raw: pd.Series, boundary: Boundary, *, file: str, column: str, unit: str,
                   sensor_range: tuple[float, float]) -> np.ndarray:
    """Glucose in mg/dL from the file's unit; censored readings at their limit, counted in the report."""
    words = raw.astype("string").str.strip().str.lower()
    low_word, high_word = words.isin(LOW_WORDS).to_numpy(), words.isin(HIGH_WORDS).to_numpy()
    cells = raw.mask(low_word | high_word) if (low_word | high_word).any() else raw
    parsed = parse_numbers(cells, column=column, file=file, kind="reading")
    glucose = parsed.values
    if canonical_unit(unit) != "mg/dL":
        glucose = convert_between(glucose, quantity="glucose", source=unit, target="mg/dL")
        boundary.report.convert(f"cgm glucose: {canonical_unit(unit)} -> mg/dL", int(np.isfinite(glucose).sum()))
    # The words name the sensor's limits, which are stated in mg/dL whatever the file's unit.
    glucose[low_word], glucose[high_word] = sensor_range
    below = parsed.counts.get("below_limit", 0) + int(low_word.sum())
    above = parsed.counts.get("above_limit", 0) + int(high_word.sum())
    for n, label in ((below, "below the sensor range (<L, LO) -> the limit L"),
                     (above, "above the sensor range (>U, HI) -> the limit U")):
        if n:
            boundary.report.convert(f"cgm glucose: {label}", n)
    return glucose


def cgm_subjects(readings: pd.DataFrame, *, index_date=None, catalogue: Catalogue, file: str,
                 extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """One subject row per id in the readings, with its index date (see load_cgm)."""
    last = readings.groupby("subject_id", sort=True, observed=True)["time"].max()
    if index_date is None:
        index = last.dt.normalize() + pd.Timedelta(days=1)
    elif isinstance(index_date, Mapping):
        given = pd.Series({str(k): v for k, v in index_date.items()})
        index = parse_dates(given.reindex(last.index.astype(str)), file=file, column="index_date")
        index.index = last.index
    else:
        index = pd.Series(pd.Timestamp(index_date), index=last.index)
    columns = {"subject_id": pd.Series(last.index, index=last.index, dtype="string"), "index_date": index}
    frame = subjects_frame(columns, index=last.index, catalogue=catalogue)
    if extra is not None:
        frame = frame.join(extra, how="left")
    return frame.reset_index(drop=True)
