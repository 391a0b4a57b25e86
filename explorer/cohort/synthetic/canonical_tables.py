"""A synthetic population as the canonical long tables (explorer.cohort.tables), and writing them out.

The tables are built from the same draws as `generate_screening`, so for the same (population, n, seed,
params) the features derived at the index date equal the fast path's:
- each recorded number is one measurement row, dated inside its look-back window (HbA1c within 90 days,
  the lab panels within 180 days, vitals and doses on the index day) with the lab's reference range;
  times are whole days (midnight), so nothing measured "on the index day" falls after the index date;
- CGM users have their 14-day summary metrics as measurement rows dated on the index day; the first
  `cgm_readings` CGM users also get the 5-minute readings, which reproduce those metrics;
- a value below an assay's detection limit (C-peptide "<0.017" nmol/L) is written as the loaders keep it: its
  point (L / 2) in `value`, with the canonical `censored` code and `limit` columns (values.CENSORING_COLUMNS,
  present only when some value is censored), so every loader and engine reads it back as the interval;
- booleans and categories are static columns of the subjects table; dates are whole days, the index date
  at midnight, so ages and durations are exact;
- events are dated whole days before the index date; `event_history` says from when records are complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import default_catalogue
from explorer.cohort.synthetic import cgm as cgm_model
from explorer.cohort.synthetic.chunks import check_size, draw_chunks, subject_ids
from explorer.cohort.synthetic.params import PopulationParams
from explorer.cohort.synthetic.record import Draw, category_labels
from explorer.cohort.synthetic.screening_table import EVENT_NAMES
from explorer.cohort.synthetic.streams import Streams
from explorer.cohort.tables import Cohort
from explorer.cohort.values import BELOW, CENSORING_COLUMNS, SYMBOL, subject_censoring
from explorer.errors import DataError

NS_PER_DAY = 86_400 * 1_000_000_000
# reported in the subjects table or as another row's reference range, not as measurements of their own
NOT_MEASUREMENTS = {"age", "diabetes_duration", "alt_uln", "ast_uln", "bilirubin_uln", "creatinine_uln"}
FIXED_RANGES = {  # typical reference intervals where the lab does not matter for the criteria
    "hba1c": (4.0, 6.0), "fasting_glucose": (3.9, 6.1), "postmeal_glucose": (np.nan, 7.8),
    "fasting_cpeptide": (0.37, 1.47), "fasting_insulin": (2.6, 24.9),  # Roche Elecsys package inserts
    "egfr": (90.0, np.nan),
}
WRITE_FORMATS = ("parquet", "csv")


def generate_cohort(population: str, n: int, seed: int = 0,
                    params: PopulationParams | Mapping[str, Any] | None = None, progress: bool = False,
                    *, cgm_readings: int | None = 200) -> Cohort:
    """The canonical tables of the population `generate_screening(population, n, seed, params)` describes.

    `cgm_readings`: how many CGM users (the first ones) get full 5-minute readings (None = all of them;
    about 3,600 rows each); everyone's CGM summary metrics are in the measurements table either way.
    """
    check_size(n)
    catalogue = default_catalogue()
    numbers = [v for v in catalogue.names("number") if v not in NOT_MEASUREMENTS]
    units = [catalogue[v].unit or "" for v in numbers]
    ids = subject_ids(population, 0, n)
    parts: dict[str, list] = {"subjects": [], "measurements": [], "events": [], "history": [], "cgm": []}
    readings_left = np.inf if cgm_readings is None else int(cgm_readings)
    for chunk, (start, d) in enumerate(draw_chunks(population, n, seed, params, progress)):
        parts["subjects"].append(_subject_columns(d))
        parts["measurements"].append(_measurement_rows(d, start, numbers, ids))
        for name in EVENT_NAMES:
            ev = d.events[name]
            parts["events"].append((ev.subject + start, ev.days_before, EVENT_NAMES.index(name)))
            parts["history"].append((np.arange(d.n) + start, d.lookback[name], EVENT_NAMES.index(name)))
        if readings_left > 0:
            taken = _cgm_rows(d, start, Streams(seed, population, chunk, salt=1), readings_left)
            readings_left -= len(np.unique(taken[0]))
            parts["cgm"].append(taken)

    index_ns = np.concatenate([p["index_ns"] for p in parts["subjects"]]) if n else np.zeros(0, np.int64)
    return Cohort(
        subjects=_subjects_table(parts["subjects"], ids),
        measurements=_measurements_table(parts["measurements"], numbers, units),
        events=_events_table(parts["events"], ids, index_ns),
        cgm=_cgm_table(parts["cgm"], ids),
        event_history=_history_table(parts["history"], ids, index_ns),
        source=f"synthetic:{population}:n={n}:seed={seed}",
    )


def write_cohort(cohort: Cohort, out_dir: str | Path, format: str = "parquet") -> dict[str, Path]:
    """Write each non-empty table as <out_dir>/<table>.parquet (or .csv); returns the paths written.

    The layout is the one explorer.cohort.loaders.canonical reads.
    """
    if format not in WRITE_FORMATS:
        raise DataError(f"unknown format {format!r}; use one of {list(WRITE_FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for table in ("subjects", "measurements", "events", "cgm", "event_history", "event_counts"):
        frame = getattr(cohort, table, None)
        if frame is None or (table != "subjects" and frame.empty):
            continue
        if table == "subjects":
            frame = _censored_as_text(frame)
        path = out / f"{table}.{format}"
        if format == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        written[table] = path
    return written


def _censored_as_text(subjects: pd.DataFrame) -> pd.DataFrame:
    """A loaded subjects table's censored cells ("<5", kept as a point with companion columns, values.
    subject_censoring) written back as the text a lab gives, so every reader of the folder finds the interval."""
    out = subjects
    for column in subjects.columns:
        code_column, limit_column = subject_censoring(column)
        if code_column not in subjects.columns:
            continue
        code = subjects[code_column].to_numpy(dtype="float64", na_value=np.nan)
        limit = subjects[limit_column].to_numpy(dtype="float64", na_value=np.nan)
        values = subjects[column].to_numpy(dtype="float64", na_value=np.nan)
        text = [None if np.isnan(v) else repr(float(v)) for v in values]
        for i in np.flatnonzero(~np.isnan(code) & ~np.isnan(limit)):
            text[i] = f"{SYMBOL[int(code[i])]}{float(limit[i])!r}"
        out = out.drop(columns=[code_column, limit_column]).assign(**{column: pd.array(text, dtype="string")})
    return out[[c for c in subjects.columns if c in out.columns]]


# --- per-chunk pieces -------------------------------------------------------------------------------

def _subject_columns(d: Draw) -> dict[str, np.ndarray]:
    index_ns = d.index_day.astype(np.int64) * NS_PER_DAY
    cols: dict[str, Any] = {
        "index_ns": index_ns,
        "birth_ns": index_ns - d.birth_days_before * NS_PER_DAY,
        "diagnosis_ns": index_ns - d.diagnosis_days_before * NS_PER_DAY,
        "age": d.numbers["age"],
    }
    for name, codes in d.categories.items():
        cols[f"category:{name}"] = codes
    for name, (values, known) in d.booleans.items():
        cols[f"boolean:{name}"] = (values, known)
    return cols


def _measurement_rows(d: Draw, start: int, names: list[str], ids: pa.Array) -> dict[str, Any]:
    """Rows of one chunk, already ordered by subject then catalogue order: a (subjects x variables) grid
    flattened row-major, so no sort is needed and chunks simply follow each other."""
    present = [(code, name) for code, name in enumerate(names) if name in d.numbers]
    grid = np.full((d.n, len(names)), np.nan)
    days = np.zeros((d.n, len(names)), np.int64)
    low = np.full((d.n, len(names)), np.nan)
    high = np.full((d.n, len(names)), np.nan)
    for code, name in present:
        grid[:, code] = d.numbers[name]
        days[:, code] = d.measured_days_before[name]
        lo, hi = d.ref_ranges.get(name, FIXED_RANGES.get(name, (np.nan, np.nan)))
        low[:, code], high[:, code] = lo, hi
    flat = np.flatnonzero(~np.isnan(grid.ravel()))
    subject, code = np.divmod(flat, len(names))
    index_ns = d.index_day.astype(np.int64) * NS_PER_DAY
    # values reported below a detection limit: their rows among this chunk's and the limit (only those rows:
    # a full-length limit column is made once, at the end)
    below = [(np.searchsorted(flat, positions * len(names) + j), lim) for j, name in present
             if name in d.below_limit for positions, lim in [d.below_limit[name]]]
    return {
        "subject_id": ids.take(pa.array(subject + start)),
        "time": index_ns[subject] - days.ravel()[flat] * NS_PER_DAY,
        "code": code.astype(np.int16),
        "value": grid.ravel()[flat],
        "ref_low": low.ravel()[flat],
        "ref_high": high.ravel()[flat],
        "below": below,
    }


def _cgm_rows(d: Draw, start: int, s: Streams, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    users = np.flatnonzero(d.latent["cgm_user"])[: int(min(limit, d.n))]
    end = (d.index_day[users].astype(np.int64) * NS_PER_DAY).astype("datetime64[ns]")
    pos, times, glucose = cgm_model.readings(s("cgm_readings"), d.latent["cgm_mean_true"][users],
                                             d.latent["cgm_cv_true"][users], d.latent["cgm_active_true"][users], end)
    return users[pos] + start, times, glucose


# --- assembling -------------------------------------------------------------------------------------

def _strings(ids: pa.Array, positions: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.arrays.ArrowStringArray(ids.take(pa.array(positions)))


def _labels(labels, codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.arrays.ArrowStringArray(pa.array(list(labels), pa.string()).take(pa.array(codes, mask=codes < 0)))


def _subjects_table(parts: list[dict], ids: pa.Array) -> pd.DataFrame:
    def cat(key):
        return np.concatenate([p[key] for p in parts]) if parts else np.zeros(0)

    frame: dict[str, Any] = {"subject_id": pd.arrays.ArrowStringArray(ids)}
    frame["sex"] = _labels(category_labels("sex"), cat("category:sex").astype(np.int8))
    frame["birth_date"] = cat("birth_ns").astype(np.int64).astype("datetime64[ns]")
    frame["age"] = cat("age").astype(float)
    frame["diabetes_type"] = _labels(category_labels("diabetes_type"), cat("category:diabetes_type").astype(np.int8))
    frame["diagnosis_date"] = cat("diagnosis_ns").astype(np.int64).astype("datetime64[ns]")
    frame["index_date"] = cat("index_ns").astype(np.int64).astype("datetime64[ns]")
    keys = parts[0].keys() if parts else []
    for key in keys:
        if key.startswith("category:") and key not in ("category:sex", "category:diabetes_type"):
            name = key.split(":", 1)[1]
            frame[name] = _labels(category_labels(name), cat(key).astype(np.int8))
        elif key.startswith("boolean:"):
            values = np.concatenate([p[key][0] for p in parts])
            known = np.concatenate([p[key][1] for p in parts])
            frame[key.split(":", 1)[1]] = pd.arrays.BooleanArray(values, ~known)
    return pd.DataFrame(frame, copy=False)


def _measurements_table(parts: list[dict], names: list[str], units: list[str]) -> pd.DataFrame:
    if not parts:
        from explorer.cohort.tables import MEASUREMENT_COLUMNS, empty
        return empty(MEASUREMENT_COLUMNS)
    code = np.concatenate([p["code"] for p in parts])
    censoring = {}  # as a loader's table: the censored and limit columns only when some value is censored
    if any(len(rows) for p in parts for rows, _ in p["below"]):
        censored = np.zeros(len(code), CENSORING_COLUMNS["censored"])
        limit = np.full(len(code), np.nan)
        offset = 0
        for p in parts:
            for rows, lim in p["below"]:
                censored[offset + rows], limit[offset + rows] = BELOW, lim
            offset += len(p["code"])
        censoring = {"censored": censored, "limit": limit}
    return pd.DataFrame({
        "subject_id": pd.arrays.ArrowStringArray(pa.chunked_array([p["subject_id"] for p in parts], pa.string())),
        "time": np.concatenate([p["time"] for p in parts]).astype("datetime64[ns]"),
        "variable": _labels(names, code),
        "value": np.concatenate([p["value"] for p in parts]),
        "unit": _labels(units, code),
        "ref_low": np.concatenate([p["ref_low"] for p in parts]),
        "ref_high": np.concatenate([p["ref_high"] for p in parts]),
        **censoring,
    }, copy=False)


def _events_table(parts, ids, index_ns) -> pd.DataFrame:
    subject = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    days = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    code = np.concatenate([np.full(len(p[0]), p[2], np.int8) for p in parts]) if parts else np.zeros(0, np.int8)
    order = np.lexsort((-days, subject))
    subject, days, code = subject[order], days[order], code[order]
    return pd.DataFrame({
        "subject_id": _strings(ids, subject),
        "time": (index_ns[subject] - days.astype(np.int64) * NS_PER_DAY).astype("datetime64[ns]"),
        "event": _labels(EVENT_NAMES, code),
        "severity": pd.arrays.IntegerArray(np.zeros(len(subject), np.int64), np.ones(len(subject), bool)),
    }, copy=False)


def _history_table(parts, ids, index_ns) -> pd.DataFrame:
    subject = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    days = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    code = np.concatenate([np.full(len(p[0]), p[2], np.int8) for p in parts]) if parts else np.zeros(0, np.int8)
    order = np.lexsort((code, subject))
    subject, days, code = subject[order], days[order], code[order]
    return pd.DataFrame({
        "subject_id": _strings(ids, subject),
        "event": _labels(EVENT_NAMES, code),
        "recorded_from": (index_ns[subject] - days.astype(np.int64) * NS_PER_DAY).astype("datetime64[ns]"),
    }, copy=False)


def _cgm_table(parts, ids) -> pd.DataFrame:
    subject = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    times = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, "datetime64[ns]")
    glucose = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    return pd.DataFrame({"subject_id": _strings(ids, subject), "time": times.astype("datetime64[ns]"),
                         "glucose": glucose.astype(float)}, copy=False)
