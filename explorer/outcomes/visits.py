"""A trial's visit schedule applied to subject data: which visit each measurement, event and CGM reading
belongs to, and when each subject's visits took place.

Data that carry a `visit` column keep it: a label matches a trial visit by its id or its label (case,
spaces and underscores ignored, so "Week 4", "week_4" and "w4" with label "Week 4" all match). Rows
without a visit are assigned by time: days since the subject's baseline date, to the nearest visit whose
window (`Visit.window_days`, or half the gap to the neighbouring visit when the trial gives none)
contains them. The earliest visit of the schedule is the baseline.

Everything works on integer codes (subject position x visit position), so cost grows with the number of
rows, not with the number of subjects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.errors import DataError, DefinitionError

NS_PER_DAY = 86_400 * 10**9
DAYS_PER_YEAR = 365.25
CGM_WINDOW_DAYS = 14  # consensus: the 14 days of CGM before each visit (Battelino et al. 2019)


@dataclass(frozen=True)
class VisitPlan:
    """The trial's visits in day order (the first is the baseline) with their allowed windows in days."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    days: np.ndarray
    windows: np.ndarray

    @classmethod
    def from_trial(cls, trial) -> VisitPlan:
        if not trial.visits:
            raise DefinitionError(f"trial {trial.id} has no visits; outcome measures need the visit schedule "
                                  "(`visits:` with id and day)", field="visits")
        visits = sorted(trial.visits, key=lambda v: v.day)
        days = np.array([v.day for v in visits], dtype=float)
        gaps = np.diff(days)
        # Without a stated window a visit reaches half way to its neighbours, so windows never overlap.
        half_gap = np.minimum(np.concatenate(([np.inf], gaps)), np.concatenate((gaps, [np.inf]))) / 2
        half_gap[np.isinf(half_gap)] = gaps.max() / 2 if len(gaps) else 0.0
        windows = np.array([half_gap[i] if v.window_days is None else float(v.window_days)
                            for i, v in enumerate(visits)])
        return cls(tuple(v.id for v in visits), tuple(v.label or v.id for v in visits), days, windows)

    @property
    def baseline(self) -> str:
        return self.ids[0]

    def __len__(self) -> int:
        return len(self.ids)

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        """Visit ids (as an ordered categorical in schedule order) from visit positions."""
        return pd.Categorical.from_codes(codes, categories=list(self.ids), ordered=True)

    def codes_of_labels(self, labels: pd.Series) -> np.ndarray:
        """The visit position of each data label (-1 for a missing or unmatched label)."""
        lookup: dict[str, int] = {}
        for position, (visit_id, label) in enumerate(zip(self.ids, self.labels, strict=True)):
            lookup.setdefault(_normal(label), position)
            lookup[_normal(visit_id)] = position
        codes, uniques = pd.factorize(labels)
        matched = np.array([lookup.get(_normal(str(u)), -1) for u in uniques], dtype=np.int64)
        return np.where(codes >= 0, matched[np.maximum(codes, 0)] if len(matched) else -1, -1)

    def codes_of_days(self, days: np.ndarray) -> np.ndarray:
        """The nearest visit within its window for each day offset (-1 outside every window or NaN)."""
        right = np.clip(np.searchsorted(self.days, days), 0, len(self.days) - 1)
        left = np.clip(right - 1, 0, len(self.days) - 1)
        with np.errstate(invalid="ignore"):
            nearest = np.where(np.abs(days - self.days[left]) <= np.abs(days - self.days[right]), left, right)
            inside = np.abs(days - self.days[nearest]) <= self.windows[nearest]
        return np.where(inside & ~np.isnan(days), nearest, -1)


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


@dataclass(frozen=True)
class Tagged:
    """Rows of a canonical table with integer subject and visit positions (rows outside dropped)."""

    frame: pd.DataFrame      # the kept rows
    subject: np.ndarray      # position in the subject index
    visit: np.ndarray        # position in the visit plan
    notes: tuple[str, ...]


def subject_positions(ids: pd.Series, subjects: pd.Index) -> np.ndarray:
    """Position of each id in `subjects` (-1 for ids not among them); one hash per distinct id."""
    codes, uniques = pd.factorize(ids)
    found = subjects.get_indexer(pd.Index(uniques, dtype=subjects.dtype))
    return np.where(codes >= 0, found[np.maximum(codes, 0)] if len(found) else -1, -1)


def label_codes(frame: pd.DataFrame, plan: VisitPlan) -> np.ndarray | None:
    """The visit position of each row's `visit` label (-1 unmatched), or None without a visit column."""
    return plan.codes_of_labels(frame["visit"]) if "visit" in frame.columns else None


def baseline_dates(subjects: pd.DataFrame, index: pd.Index, measurements: pd.DataFrame,
                   plan: VisitPlan, labels: np.ndarray | None = None) -> np.ndarray:
    """Each subject's baseline date (ns): the time of a baseline-tagged measurement, else the index date,
    else the subject's first measurement. `labels`: label_codes(measurements, plan), if already known."""
    dates = np.full(len(index), np.iinfo(np.int64).min, dtype=np.int64)
    known = np.zeros(len(index), dtype=bool)
    labels = label_codes(measurements, plan) if labels is None else labels
    if labels is not None and len(measurements):
        at_baseline = labels == 0
        rows = measurements[at_baseline]
        position = subject_positions(rows["subject_id"], index)
        keep = position >= 0
        first = _group_min(position[keep], _ns(rows["time"])[keep], len(index))
        dates, known = np.where(~np.isnan(first), first, 0).astype(np.int64), ~np.isnan(first)
    if "index_date" in subjects.columns:
        index_date = _ns(subjects.set_index("subject_id")["index_date"].reindex(index))
        fill = ~known & (index_date != np.iinfo(np.int64).min)
        dates[fill], known[fill] = index_date[fill], True
    if (~known).any() and len(measurements):
        position = subject_positions(measurements["subject_id"], index)
        keep = position >= 0
        first = _group_min(position[keep], _ns(measurements["time"])[keep], len(index))
        fill = ~known & ~np.isnan(first)
        dates[fill], known[fill] = first[fill].astype(np.int64), True
    return np.where(known, dates, np.iinfo(np.int64).min)


def tag_rows(frame: pd.DataFrame, index: pd.Index, base_ns: np.ndarray, plan: VisitPlan, *,
             what: str, labels: np.ndarray | None = None) -> Tagged:
    """Subject and visit positions of each row of a measurements or events table (see module docstring).
    `labels`: label_codes(frame, plan), if already known."""
    notes = []
    subject = subject_positions(frame["subject_id"], index)
    unknown_subjects = int((subject < 0).sum())
    if unknown_subjects:
        notes.append(f"{unknown_subjects:,} {what} rows of subjects not in the subjects table were left out")
    visit = np.full(len(frame), -1, dtype=np.int64)
    labelled = np.zeros(len(frame), dtype=bool)
    if "visit" in frame.columns:
        labelled = frame["visit"].notna().to_numpy()
        visit = label_codes(frame, plan) if labels is None else labels
        unmatched = labelled & (visit < 0)
        if unmatched.any():
            names = pd.unique(frame.loc[unmatched, "visit"].astype(str))
            if not (visit >= 0).any():
                raise DataError(f"none of the {what} visit labels ({', '.join(map(str, names[:6]))}"
                                f"{' ...' if len(names) > 6 else ''}) is a visit of the trial "
                                f"(ids {list(plan.ids)}, labels {list(plan.labels)}); rename the visits in the "
                                "data or in the trial file", column="visit")
            notes.append(f"{int(unmatched.sum()):,} {what} rows at visits the trial does not schedule "
                         f"({', '.join(map(str, names[:4]))}{' ...' if len(names) > 4 else ''}) were left out")
    by_time = ~labelled & (subject >= 0)
    if by_time.any():
        base = base_ns[np.maximum(subject, 0)]
        known = by_time & (base != np.iinfo(np.int64).min)
        days = np.full(len(frame), np.nan)
        days[known] = (_ns(frame["time"])[known] - base[known]) / NS_PER_DAY + plan.days[0]
        visit = np.where(by_time, plan.codes_of_days(days), visit)
        outside = int((by_time & (visit < 0)).sum())
        if outside:
            notes.append(f"{outside:,} {what} rows fell outside every visit window and were left out")
    keep = (subject >= 0) & (visit >= 0)
    return Tagged(frame[keep], subject[keep], visit[keep], tuple(notes))


def visit_dates(measurements: Tagged, n_subjects: int, base_ns: np.ndarray, plan: VisitPlan
                ) -> tuple[np.ndarray, np.ndarray]:
    """(dates ns, attended) per subject x visit: the median time of a subject's measurements at a visit,
    or the nominal date (baseline date + scheduled day) where the subject has none."""
    k = len(plan)
    cell = measurements.subject * k + measurements.visit
    times = _ns(measurements.frame["time"]).astype(float)
    median = _group_median(cell, times, n_subjects * k).reshape(n_subjects, k)
    attended = ~np.isnan(median)
    nominal = base_ns[:, None].astype(float) + (plan.days - plan.days[0])[None, :] * NS_PER_DAY
    nominal[base_ns == np.iinfo(np.int64).min] = np.nan
    return np.where(attended, median, nominal), attended


def cgm_visit_windows(dates: np.ndarray, subjects: pd.Index, plan: VisitPlan) -> pd.DataFrame:
    """The 14 days before each visit (end exclusive), cut at the previous visit so windows never overlap."""
    start = dates - CGM_WINDOW_DAYS * NS_PER_DAY
    previous = np.concatenate([np.full((len(dates), 1), -np.inf), dates[:, :-1]], axis=1)
    start = np.maximum(start, previous)
    subject, visit = np.nonzero(~np.isnan(dates) & (dates > start))
    return pd.DataFrame({
        "subject_id": subjects[subject].astype(str),
        "visit": np.asarray(plan.ids, dtype=object)[visit],
        "start": pd.to_datetime(start[subject, visit].astype(np.int64)),
        "end": pd.to_datetime(dates[subject, visit].astype(np.int64)),
    })


# --- helpers -------------------------------------------------------------------------------------------

def _ns(times) -> np.ndarray:
    values = pd.to_datetime(pd.Series(times)).to_numpy(dtype="datetime64[ns]")
    return values.view(np.int64)


def _group_min(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, groups, values.astype(float))
    out[np.isinf(out)] = np.nan
    return out


def _group_median(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Median per group code 0..n-1 (NaN for empty groups); pandas' grouped median is several times faster
    than sorting the rows here."""
    out = np.full(n, np.nan)
    if len(groups):
        medians = pd.Series(values).groupby(groups).median()
        out[medians.index.to_numpy()] = medians.to_numpy()
    return out
