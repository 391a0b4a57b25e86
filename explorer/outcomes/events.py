"""Dated events (severe hypoglycaemia, serious adverse events) counted per subject and visit interval.

A follow-up visit's interval runs from the previous visit (exclusive) to this visit (inclusive), on the
subject's own visit dates. Events carrying a trial `visit` label keep it (the data's own assignment).
A count is known for a visit the subject attended, where a missing event row means none happened; for a
visit without any data from the subject it is unknown (missed visit or dropped out).

The baseline column holds the 365 days before the baseline date, and is known only where the source
says it recorded that year completely: a screening's event look-back (`Screening.event_lookback`) or the
cohort's `event_history`. Otherwise it stays unknown rather than a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.outcomes.visits import DAYS_PER_YEAR, NS_PER_DAY, VisitPlan, subject_positions

BASELINE_PERIOD_DAYS = 365
_NO_DATE = np.iinfo(np.int64).min


@dataclass(frozen=True)
class EventGrid:
    """Per subject x visit: events in the interval, its length in years, and counts per severity grade."""

    count: np.ndarray
    years: np.ndarray
    grades: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def per_year(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.years > 0, self.count / self.years, np.nan)


@dataclass(frozen=True)
class DatedEvents:
    """One event type's rows as subject positions, times (ns) and grades (-1 = no grade)."""

    subject: np.ndarray
    time: np.ndarray
    grade: np.ndarray
    visit_label: np.ndarray  # visit position from the data's own `visit` label, -1 where none

    @classmethod
    def of(cls, events: pd.DataFrame, event: str, index: pd.Index, plan: VisitPlan) -> DatedEvents:
        rows = events[(events["event"] == event).to_numpy(dtype=bool, na_value=False)]
        subject = subject_positions(rows["subject_id"], index)
        keep = subject >= 0
        rows = rows[keep]
        time = rows["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        grade = (rows["severity"].astype("Float64").fillna(-1).to_numpy(dtype=float).astype(np.int64)
                 if "severity" in rows.columns else np.full(len(rows), -1))
        label = plan.codes_of_labels(rows["visit"]) if "visit" in rows.columns else np.full(len(rows), -1)
        return cls(subject[keep], time, grade, label)


def interval_visit(events: DatedEvents, dates: np.ndarray) -> np.ndarray:
    """Visit position whose interval holds each event: the first visit dated on or after it (the data's
    label where given); 0 = on or before the baseline date, len(visits) = after the last visit."""
    own = (dates[events.subject] < events.time[:, None]).sum(axis=1) if len(events.time) else np.zeros(0, int)
    return np.where(events.visit_label >= 0, events.visit_label, own)


def event_grid(events: DatedEvents, dates: np.ndarray, attended: np.ndarray, prior: np.ndarray) -> EventGrid:
    """Counts per follow-up interval (known where the visit was attended) and `prior` (the 365 days before
    baseline, NaN where unknown) in the baseline column."""
    n, k = dates.shape
    visit = interval_visit(events, dates)
    follow_up = (visit >= 1) & (visit < k)
    cells = events.subject[follow_up] * k + visit[follow_up]
    attended = attended.copy()
    attended.ravel()[cells] = True  # an event reported at a visit means the subject was followed up to it

    def grid(selected: np.ndarray) -> np.ndarray:
        counts = np.bincount(cells[selected], minlength=n * k).reshape(n, k).astype(float)
        counts[~attended] = np.nan
        counts[:, 0] = np.nan
        return counts

    count = grid(np.ones(len(cells), dtype=bool))
    count[:, 0] = prior
    years = np.full((n, k), np.nan)
    years[:, 1:] = np.diff(dates, axis=1) / (NS_PER_DAY * DAYS_PER_YEAR)
    years[:, 0] = BASELINE_PERIOD_DAYS / DAYS_PER_YEAR
    grades = {}
    graded = events.grade[follow_up]
    for grade in sorted(set(graded[graded >= 0].tolist())):
        grades[int(grade)] = grid(graded == grade)
    return EventGrid(count, years, grades)


def window_counts(events: DatedEvents, dates: np.ndarray, attended: np.ndarray, base_ns: np.ndarray,
                  from_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Events from `from_day` days after baseline (exclusive) up to each visit date (inclusive), and the
    window's length in years; NaN for visits not attended or not after the window's start."""
    n, k = dates.shape
    start = base_ns.astype(float) + from_day * NS_PER_DAY
    start[base_ns == _NO_DATE] = np.nan
    visit = interval_visit(events, dates)
    inside = (events.time > start[events.subject]) & (visit < k)
    cells = events.subject[inside] * k + np.maximum(visit[inside], 0)
    counts = np.cumsum(np.bincount(cells, minlength=n * k).reshape(n, k), axis=1).astype(float)
    years = (dates - start[:, None]) / (NS_PER_DAY * DAYS_PER_YEAR)
    valid = attended & (years > 0)
    return np.where(valid, counts, np.nan), np.where(valid, years, np.nan)


def prior_year_counts(event: str, index: pd.Index, base_ns: np.ndarray, *, cohort=None,
                      screening=None) -> np.ndarray:
    """Events in the 365 days before baseline, where a source recorded that year completely (else NaN).

    A screening answers for its subjects (its index date taken as the baseline: the year before
    screening); the cohort's own events answer where its event_history covers the year.
    """
    counts = np.full(len(index), np.nan)
    if cohort is not None and len(cohort.event_history):
        history = cohort.event_history[(cohort.event_history["event"] == event).to_numpy(dtype=bool,
                                                                                       na_value=False)]
        position = subject_positions(history["subject_id"], index)
        keep = position >= 0
        recorded_from = history["recorded_from"].to_numpy(dtype="datetime64[ns]").view(np.int64)[keep]
        covered = np.zeros(len(index), dtype=bool)
        year = BASELINE_PERIOD_DAYS * NS_PER_DAY
        ok = recorded_from <= base_ns[position[keep]] - year
        covered[position[keep][ok]] = True
        covered &= base_ns != _NO_DATE
        rows = cohort.events[(cohort.events["event"] == event).to_numpy(dtype=bool, na_value=False)]
        subject = subject_positions(rows["subject_id"], index)
        time = rows["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        before = (subject >= 0)
        before &= (time < base_ns[np.maximum(subject, 0)]) & (time >= base_ns[np.maximum(subject, 0)] - year)
        in_year = np.bincount(subject[before], minlength=len(index)).astype(float)
        counts = np.where(covered, in_year, counts)
    if screening is not None:
        counts = np.where(np.isnan(counts), _screening_counts(screening, event, index), counts)
    return counts


def _screening_counts(screening, event: str, index: pd.Index) -> np.ndarray:
    features = screening.features.index
    ev = screening.events
    ev = ev[((ev["event"] == event) & (ev["days_before_index"] < BASELINE_PERIOD_DAYS)).to_numpy(
        dtype=bool, na_value=False)]
    counts = ev.groupby("subject_id", observed=True).size().reindex(features, fill_value=0).astype(float)
    if screening.event_lookback is not None:
        if event in screening.event_lookback.columns:
            lookback = screening.event_lookback[event].reindex(features).to_numpy(dtype=float)
            counts[~(lookback >= BASELINE_PERIOD_DAYS)] = np.nan
        else:
            counts[:] = np.nan
    column = f"{event}@{BASELINE_PERIOD_DAYS}"
    if screening.event_counts is not None and column in screening.event_counts.columns:
        reported = screening.event_counts[column].reindex(features).to_numpy(dtype=float)
        counts = counts.where(counts.notna(), pd.Series(reported, index=features))
    return counts.reindex(index).to_numpy(dtype=float)
