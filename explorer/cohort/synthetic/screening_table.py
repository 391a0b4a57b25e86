"""The fast path: a synthetic population straight to a `Screening` (wide features at the index date).

Memory is proportional to n: each column is allocated once at full length and filled chunk by chunk, and
the DataFrame takes the arrays without copying them; only the events are concatenated at the end. Number
columns are filled as level codes (explorer.cohort.compact: the same float64 values, 1-2 bytes a subject),
so the generator never holds them as float64 too; they are kept so with `compact=True`, else widened at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import default_catalogue
from explorer.cohort.compact import NumberLevels, as_floats, ids_dtype
from explorer.cohort.features import censoring_floor
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.chunks import check_size, draw_chunks, subject_ids
from explorer.cohort.synthetic.params import PopulationParams
from explorer.cohort.synthetic.record import NOT_RECORDED, Draw, category_labels
from explorer.cohort.values import BELOW, censored_bounds, censored_reason

EVENT_NAMES = ("severe_hypoglycemia", "trial_participation")
# Catalogue screening variables the generator leaves absent, so unknown for every subject: no calibrated source for
# them yet (added for registry criteria in the seventh round; docs/synthetic.md, "Missingness")
NOT_GENERATED = frozenset({"creatinine_clearance", "antihypertensive_treatment", "liver_metastases", "gilbert_syndrome"})


@dataclass
class _Column:
    kind: str                      # number | boolean | category
    values: np.ndarray | NumberLevels  # numbers: level codes; booleans: bool; categories: int8 codes
    missing: np.ndarray | None = None  # booleans: True where unknown
    other_reason: np.ndarray | None = None  # index into OTHER_REASONS where a subject's reason differs, else -1


def generate_screening(population: str, n: int, seed: int = 0,
                       params: PopulationParams | Mapping[str, Any] | None = None, progress: bool = False,
                       *, missing_reasons: bool = True, compact: bool = False) -> Screening:
    """A seeded synthetic screening population ("t1d" or "t2d") of n subjects.

    Same (population, n, seed, params) -> the same numbers; the first k subjects do not depend on n.
    `params`: a T1DClinicParams / T2DClinicParams, or a mapping of overrides to the defaults.
    `missing_reasons=False` skips the table of why each unknown value is unknown (~18 rows a subject).
    `compact=True` keeps number columns as level codes (explorer.cohort.compact: the same float64 values in
    1-2 bytes a subject; the engines, table 1 and the dashboard read them, but pandas arithmetic on them needs
    `compact.widened`): what a 10^7-subject dashboard holds. By default they are plain float64 columns, as
    analysis code expects; either way the generator fills them as codes, so it never holds both.
    """
    check_size(n)
    columns: dict[str, _Column] = {}
    events: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {e: [] for e in EVENT_NAMES}
    lookback: dict[str, np.ndarray] = {e: np.full(n, np.nan) for e in EVENT_NAMES}
    reasons: dict[str, str] = {}
    other_reasons: list[str] = []
    below: dict[str, list[tuple[np.ndarray, float]]] = {}  # variable -> (subject positions, limit) per chunk
    for start, d in draw_chunks(population, n, seed, params, progress):
        _fill_columns(columns, d, start, n, other_reasons)
        reasons.update(d.reasons)
        for name, (positions, limit) in d.below_limit.items():
            below.setdefault(name, []).append(((positions + start).astype(np.int32), limit))
        for name in EVENT_NAMES:
            ev = d.events[name]
            events[name].append((ev.subject + start, ev.days_before))
            lookback[name][start:start + d.n] = d.lookback[name]

    # large_string, the type pandas keeps: the index holds these very buffers and the events take from them,
    # where a plain string array was copied into the index and both copies were held
    ids = subject_ids(population, 0, n).cast(pa.large_string())
    index = pd.Index(pd.arrays.ArrowStringArray(ids), name="subject_id")
    order = [v for v in default_catalogue().names() if v in columns]
    features = pd.DataFrame({name: _as_array(name, columns[name], compact) for name in order}, index=index,
                            copy=False)
    censored = _censored_rows(below)
    return Screening(
        features=features,
        events=_events_table(events, ids),
        event_lookback=pd.DataFrame(lookback, index=index, copy=False),
        missing_reasons=_missing_reasons(order, columns, reasons, other_reasons, index, censored)
        if missing_reasons else None,
        source=f"synthetic:{population}:n={n}:seed={seed}",
        censored=_censored_table(censored, index),
    ).validate()  # checked once here, so the engines and every narrowed copy need not check it again


def _fill_columns(columns: dict[str, _Column], d: Draw, start: int, n: int, other: list[str]) -> None:
    stop = start + d.n
    for name, values in d.numbers.items():
        columns.setdefault(name, _Column("number", NumberLevels(n))).values.add(start, values)
    for name, (values, known) in d.booleans.items():
        col = columns.setdefault(name, _Column("boolean", np.empty(n, bool), np.empty(n, bool)))
        col.values[start:stop] = values
        col.missing[start:stop] = ~known
    for name, codes in d.categories.items():
        columns.setdefault(name, _Column("category", np.empty(n, np.int8))).values[start:stop] = codes
    for name, overrides in d.reason_overrides.items():
        col = columns[name]
        if col.other_reason is None:
            col.other_reason = np.full(n, -1, np.int8)
        for mask, reason in overrides:
            if reason not in other:
                other.append(reason)
            col.other_reason[start:stop][mask] = other.index(reason)


def _as_array(name: str, col: _Column, compact: bool):
    if col.kind == "number":
        values = col.values.finish()
        if compact or isinstance(values, np.ndarray):
            return values
        return as_floats(values.categories.to_numpy(dtype=np.float64), values.codes)
    if col.kind == "boolean":
        return pd.arrays.BooleanArray(col.values, col.missing)
    labels = pa.array(category_labels(name)).take(pa.array(col.values, mask=col.values < 0))
    return pd.arrays.ArrowStringArray(labels)


def _unknown(col: _Column) -> np.ndarray:
    if col.kind == "number":
        return col.values.unknown()
    if col.kind == "boolean":
        return col.missing
    return col.values < 0


def _events_table(events: dict[str, list[tuple[np.ndarray, np.ndarray]]], ids: pa.Array) -> pd.DataFrame:
    """The events of every chunk as one table, by subject, most recent first. The chunks' arrays are copied
    into preallocated columns and let go (the lists in `events` are emptied), and each sorted column is made
    as its source is let go: about 40 bytes an event at once, where concatenations and casts held twice that."""
    total = sum(len(s) for parts in events.values() for s, _ in parts)
    subject = np.empty(total, np.int64)
    days = np.empty(total)
    names = np.empty(total, np.int8)
    at = 0
    for code, parts in enumerate(events.values()):
        for s, t in parts:
            subject[at:at + len(s)], days[at:at + len(s)], names[at:at + len(s)] = s, t, code
            at += len(s)
        parts.clear()
    order = np.lexsort((days, subject))  # by subject, most recent first
    subject_id = ids.take(pa.array(subject[order]))
    del subject
    event = pa.array(list(events), pa.large_string()).take(pa.array(names[order]))
    del names
    days = days[order]
    del order
    return pd.DataFrame({
        "subject_id": pd.arrays.ArrowStringArray(subject_id),
        "event": pd.arrays.ArrowStringArray(event),
        "days_before_index": days,
        "severity": pd.arrays.IntegerArray(np.zeros(total, np.int64), np.ones(total, bool)),
    }, copy=False)


# One variable's values reported below a detection limit: (variable, subject positions, limit, reason)
CensoredRows = tuple[str, np.ndarray, float, str]


def _censored_rows(below: dict[str, list[tuple[np.ndarray, float]]]) -> list[CensoredRows]:
    """Per variable and limit, the subjects whose value a lab reported as "<limit", with the reason a loader
    gives such a value (values.censored_reason): what a canonical table's "<0.017" cell becomes."""
    catalogue = default_catalogue()
    rows = []
    for name in sorted(below):
        for limit in sorted({lim for _, lim in below[name]}):
            positions = np.concatenate([p for p, lim in below[name] if lim == limit])
            if positions.size:
                rows.append((name, positions, limit, censored_reason(BELOW, limit, catalogue[name].unit)))
    return rows


def _censored_table(censored: list[CensoredRows], index: pd.Index) -> pd.DataFrame | None:
    """Screening.censored: one row per censored subject and variable, the closed bounds a loader keeps
    (values.censored_bounds: "<L" is [floor, the float below L]). Every column categorical (ids, variables and
    the few distinct bounds, one pair per limit), built from codes without a float64 column: ~7 bytes a row,
    where a T1D clinic has about one censored C-peptide a subject."""
    if not censored:
        return None
    catalogue = default_catalogue()
    names = sorted({name for name, *_ in censored})
    bounds = []  # (low, high) of each block: its rows share them
    for name, _, limit, _ in censored:
        low, high = censored_bounds(np.array([limit / 2]), np.array([BELOW], np.int8), np.array([limit]),
                                    censoring_floor(catalogue, name))
        bounds.append((float(low[0]), float(high[0])))
    sizes = [len(positions) for _, positions, _, _ in censored]

    def levels(side: int) -> pd.Categorical:
        values = sorted({b[side] for b in bounds})
        codes = np.repeat(np.array([values.index(b[side]) for b in bounds], np.int8), sizes)
        return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=np.float64))

    return pd.DataFrame({
        "subject_id": pd.Categorical.from_codes(np.concatenate([p for _, p, _, _ in censored]),
                                                dtype=ids_dtype(index)),
        "variable": pd.Categorical.from_codes(
            np.repeat(np.array([names.index(name) for name, *_ in censored], np.int8), sizes), categories=names),
        "low": levels(0),
        "high": levels(1),
    }, copy=False)


def _missing_reasons(order: list[str], columns: dict[str, _Column], reasons: dict[str, str], other: list[str],
                     index: pd.Index, censored: list[CensoredRows]) -> pd.DataFrame:
    """One row per unknown value, then one per censored value (why a criterion on it may be unknown, as the
    loaders' derivation adds it); categorical columns keep it to ~7 bytes a row."""
    masks = [(name, _unknown(columns[name])) for name in order]
    counts = [int(mask.sum()) for _, mask in masks]
    total = sum(counts) + sum(len(p) for _, p, _, _ in censored)
    subject = np.empty(total, np.int32)  # filled in place: no concatenation copies
    variable = np.empty(total, np.int8)
    reason = np.empty(total, np.int8)
    names = [name for (name, _), k in zip(masks, counts, strict=True) if k]
    names += [name for name, *_ in censored if name not in names]
    labels = sorted({reasons.get(v, NOT_RECORDED) for v, k in zip(order, counts, strict=True) if k}
                    | set(other) | {text for *_, text in censored})
    at = 0
    for (name, mask), k in zip(masks, counts, strict=True):
        if k:
            rows = np.flatnonzero(mask)
            subject[at:at + k] = rows
            variable[at:at + k] = names.index(name)
            reason[at:at + k] = labels.index(reasons.get(name, NOT_RECORDED))
            override = columns[name].other_reason
            if override is not None:
                codes = override[rows]
                mapped = np.array([labels.index(r) for r in other], np.int8)
                reason[at:at + k] = np.where(codes >= 0, mapped[np.maximum(codes, 0)], reason[at:at + k])
            at += k
    for name, positions, _, text in censored:
        k = len(positions)
        subject[at:at + k], variable[at:at + k], reason[at:at + k] = positions, names.index(name), labels.index(text)
        at += k
    return pd.DataFrame({
        "subject_id": pd.Categorical.from_codes(subject, dtype=ids_dtype(index)),
        "variable": pd.Categorical.from_codes(variable, categories=names),
        "reason": pd.Categorical.from_codes(reason, categories=labels),
    }, copy=False)
