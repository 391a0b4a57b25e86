"""Longitudinal trial outcomes for enrolled subjects, as canonical tables tagged with visits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from explorer.catalogue import default_catalogue
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic import cgm as cgm_model
from explorer.cohort.synthetic import islet_cgm
from explorer.cohort.synthetic.canonical_tables import FIXED_RANGES, NS_PER_DAY
from explorer.cohort.synthetic.response_models import MODELS, IsletModel, MscModel, Trajectories
from explorer.cohort.synthetic.streams import Streams
from explorer.cohort.tables import Cohort
from explorer.errors import DefinitionError

BASELINE_FROM_SCREENING = ("hba1c", "weight", "height", "insulin_dose", "fasting_cpeptide", "postmeal_cpeptide",
                           "kitt", "ogld_dose", "cgm_cv")
OUTCOME_EVENTS = ("severe_hypoglycemia", "serious_adverse_event")


def generate_outcomes(screening_or_ids: Screening | Sequence[str] | pd.Index | int, model: str | Any = "islet",
                      visits_days: Sequence[int] | Mapping[str, int] | Sequence[Any] | None = None, seed: int = 0,
                      arm: str | Sequence[str] | None = None, *, cgm_readings: int = 20,
                      start_date: str = "2025-01-06", enrollment_days: int = 180,
                      missing_rate: float = 0.02) -> Cohort:
    """Visit-by-visit outcomes of enrolled subjects under a treatment-response model.

    screening_or_ids: a Screening (baseline values are taken from its features where known, the rest drawn
        from the model's enrolled population), subject ids, or a number of subjects.
    model: "islet" (CIT-07 calibration), "islet_edmonton" (Edmonton 5-year course), "msc" (Zang 2022), or a
        model object (IsletModel / MscModel, e.g. with changed parameters).
    visits_days: visit days from treatment (day 0); a list of days (visits named "D<day>"), a mapping
        visit id -> day, or objects with `.id` and `.day` (a Trial's visits). Default: the model's schedule.
    arm: None = everyone gets the model's active arm; an arm name for everyone; "random" for 1:1
        allocation; or one arm per subject.
    cgm_readings: the first this many subjects also get 5-minute CGM readings before each visit.
    missing_rate: share of visit measurements missed (samples not taken), at random.

    Returns a Cohort: subjects (with arm and the latent response class), measurements and events with a
    `visit` column, CGM readings with a `visit` column.
    """
    m = _model(model)
    ids, screening = _subjects(screening_or_ids, m)
    labels, days = _visits(visits_days, m)
    n = len(ids)
    arms, traj, s = simulate_enrolled(m, screening if screening is not None else n, days, seed, arm)
    day0 = np.datetime64(start_date, "D").astype(np.int64) + s("enrolment_day").integers(0, enrollment_days + 1, n)
    day0_ns = day0 * NS_PER_DAY
    subjects = _subjects_table(ids, m, arms, traj, day0_ns, screening, s)
    return Cohort(
        subjects=subjects,
        measurements=_measurements(traj, ids, labels, days, day0_ns, s, missing_rate),
        events=_events(traj, ids, labels, days, day0_ns),
        cgm=_cgm(traj, ids, labels, days, day0_ns, s, cgm_readings),
        source=f"synthetic outcomes:{m.name}:n={n}:seed={seed}",
    )


def simulate_enrolled(model, screening_or_n: Screening | int, visit_days: np.ndarray, seed: int = 0,
                      arm=None) -> tuple[np.ndarray, Trajectories, Streams]:
    """The trajectories behind generate_outcomes, without building tables (calibration uses this)."""
    m = _model(model)
    screening = screening_or_n if isinstance(screening_or_n, Screening) else None
    n = len(screening) if screening is not None else int(screening_or_n)
    s = Streams(seed, m.name)
    base = _baseline(m, s, n, screening)
    arms = _arms(arm, m, n, s)
    traj = m.simulate(base, arms == m.active_arm, np.asarray(visit_days, dtype=np.int64), s)
    traj.baseline = base
    return arms, traj, s


def _model(model) -> IsletModel | MscModel:
    if isinstance(model, str):
        try:
            return MODELS[model]()
        except KeyError:
            raise DefinitionError(f"unknown outcome model {model!r}; use one of {sorted(MODELS)}",
                                  field="model") from None
    if not hasattr(model, "simulate"):
        raise DefinitionError("model must be a model name or an object with a simulate() method", field="model")
    return model


def _subjects(source, m) -> tuple[pd.Index, Screening | None]:
    if isinstance(source, Screening):
        return source.features.index.astype("string"), source
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        if source < 0:
            raise DefinitionError(f"number of subjects must be >= 0, got {source}", field="screening_or_ids")
        width = max(4, len(str(int(source))))
        return pd.Index([f"{m.name.upper()}-{i:0{width}d}" for i in range(int(source))], dtype="string",
                        name="subject_id"), None
    ids = pd.Index(list(source), dtype="string", name="subject_id")
    if not ids.is_unique:
        raise DefinitionError("subject ids must be unique", field="screening_or_ids")
    return ids, None


def _visits(visits, m) -> tuple[list[str], np.ndarray]:
    if visits is None:
        pairs = list(m.default_visits)
    elif isinstance(visits, Mapping):
        pairs = [(str(k), v) for k, v in visits.items()]
    else:
        pairs = [(str(v.id), v.day) if hasattr(v, "id") and hasattr(v, "day") else (f"D{int(v)}", v) for v in visits]
    if not pairs:
        raise DefinitionError("at least one visit is needed", field="visits_days")
    days = [int(d) for _, d in pairs]
    if min(days) < 0:
        raise DefinitionError("visit days must be >= 0 (days from treatment)", field="visits_days")
    if len(set(days)) != len(days) or len({k for k, _ in pairs}) != len(pairs):
        raise DefinitionError("visit ids and days must be unique", field="visits_days")
    order = np.argsort(days, kind="stable")
    return [pairs[i][0] for i in order], np.asarray(days, dtype=np.int64)[order]


def _baseline(m, s: Streams, n: int, screening: Screening | None) -> dict[str, np.ndarray]:
    base = m.draw_baseline(s, n)
    if screening is None:
        return base
    f = screening.features
    for name in BASELINE_FROM_SCREENING:
        if name in f.columns:
            known = f[name].to_numpy(dtype=float, na_value=np.nan)
            base[name] = np.where(np.isnan(known), base[name], known)
    if {"weight", "bmi"} <= set(f.columns) and "height" not in f.columns:  # height from weight and BMI
        w, b = (f[c].to_numpy(dtype=float, na_value=np.nan) for c in ("weight", "bmi"))
        implied = 100 * np.sqrt(w / b)
        base["height"] = np.where(np.isnan(implied), base["height"], implied)
    counts = _recent_count(screening, "severe_hypoglycemia", 365)
    known = ~np.isnan(counts)
    if isinstance(m, IsletModel):  # recurrent severe hypoglycaemia continues at the rate of the past year
        base["sh_rate"] = np.where(known, np.maximum(counts, 1.0), base["sh_rate"])
    return base


def _recent_count(screening: Screening, event: str, days: float) -> np.ndarray:
    ids = screening.features.index
    ev = screening.events
    ev = ev[(ev["event"] == event) & (ev["days_before_index"] < days)]
    counts = ev.groupby("subject_id", observed=True).size().reindex(ids, fill_value=0).to_numpy(dtype=float)
    if screening.event_lookback is not None and event in screening.event_lookback.columns:
        short = screening.event_lookback[event].reindex(ids).to_numpy(dtype=float) < days
        counts[short] = np.nan
    return counts


def _arms(arm, m, n: int, s: Streams) -> np.ndarray:
    if arm is None:
        return np.full(n, m.active_arm, dtype=object)
    if isinstance(arm, str):
        if arm == "random":
            return np.where(s("randomisation").permutation(n) % 2 == 0, m.arms[0], m.arms[1]).astype(object)
        if arm not in m.arms:
            raise DefinitionError(f"model {m.name!r} has arms {list(m.arms)}, not {arm!r}", field="arm")
        return np.full(n, arm, dtype=object)
    arms = np.asarray(list(arm), dtype=object)
    if len(arms) != n:
        raise DefinitionError(f"{len(arms)} arms given for {n} subjects", field="arm")
    bad = sorted(set(arms) - set(m.arms))
    if bad:
        raise DefinitionError(f"model {m.name!r} has arms {list(m.arms)}, not {bad}", field="arm")
    return arms


def _strings(values: Sequence[str], codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.arrays.ArrowStringArray(pa.array(list(values), pa.string()).take(pa.array(codes)))


def _id_column(ids, rows: np.ndarray) -> pd.arrays.ArrowStringArray:
    """The subject id of each row (`rows`: positions in `ids`). Each id is converted to text once and the
    texts repeated by Arrow: converting one Python string per CGM reading was most of _cgm (issue 17)."""
    return pd.array(np.asarray(ids), dtype="string").take(rows)


def _subjects_table(ids, m, arms, traj: Trajectories, day0_ns, screening, s: Streams) -> pd.DataFrame:
    n = len(ids)
    frame = {"subject_id": pd.array(ids, dtype="string")}
    f = screening.features if screening is not None else None
    if f is not None and "sex" in f.columns:
        frame["sex"] = pd.array(f["sex"].to_numpy(), dtype="string")
    else:
        frame["sex"] = _strings(("female", "male"), (s("sex").random(n) < 0.5).astype(np.int64))
    if f is not None and "age" in f.columns:
        frame["age"] = f["age"].to_numpy(dtype=float, na_value=np.nan)
    else:
        frame["age"] = np.round(np.clip((45 if m.diabetes_type == "T1D" else 55) + 10 * s("age").standard_normal(n),
                                        18, 75), 1)
    frame["diabetes_type"] = pd.array([m.diabetes_type] * n, dtype="string")
    frame["index_date"] = day0_ns.astype("datetime64[ns]")
    frame["arm"] = pd.array(arms.astype(str), dtype="string")
    frame["response_class"] = pd.array(traj.response_class.astype(str), dtype="string")
    return pd.DataFrame(frame)


def _measurements(traj: Trajectories, ids, labels, days, day0_ns, s: Streams, missing_rate: float) -> pd.DataFrame:
    catalogue = default_catalogue()
    names = [v for v in catalogue.names("number") if v in traj.values]
    n, k = len(ids), len(days)
    blocks = []
    for code, name in enumerate(names):
        values = np.asarray(traj.values[name], dtype=float)
        kept = ~np.isnan(values) & (s(f"missing:{name}").random((n, k)) >= missing_rate)
        subject, visit = np.nonzero(kept)
        blocks.append((subject, visit, np.full(len(subject), code), values[subject, visit]))
    subject = np.concatenate([b[0] for b in blocks])
    visit = np.concatenate([b[1] for b in blocks])
    code = np.concatenate([b[2] for b in blocks])
    value = np.concatenate([b[3] for b in blocks])
    order = np.lexsort((code, visit, subject))
    subject, visit, code, value = subject[order], visit[order], code[order], value[order]
    low = np.array([FIXED_RANGES.get(v, (np.nan, np.nan))[0] for v in names])[code]
    high = np.array([FIXED_RANGES.get(v, (np.nan, np.nan))[1] for v in names])[code]
    return pd.DataFrame({
        "subject_id": _id_column(ids, subject),
        "time": (day0_ns[subject] + days[visit] * NS_PER_DAY).astype("datetime64[ns]"),
        "variable": _strings(names, code),
        "value": value,
        "unit": _strings([catalogue[v].unit or "" for v in names], code),
        "ref_low": low, "ref_high": high,
        "visit": _strings(labels, visit),
    })


def _events(traj: Trajectories, ids, labels, days, day0_ns) -> pd.DataFrame:
    subject, day, code, grade = [], [], [], []
    for j, name in enumerate(OUTCOME_EVENTS):
        subj, d, sev = traj.events[name]
        keep = (d > days[0]) & (d <= days[-1])  # reported at a visit during follow-up
        subject.append(subj[keep])
        day.append(d[keep])
        code.append(np.full(keep.sum(), j))
        grade.append(np.full(keep.sum(), -1) if sev is None else np.asarray(sev)[keep])
    subject, day, code, grade = (np.concatenate(x).astype(np.int64) for x in (subject, day, code, grade))
    order = np.lexsort((day, subject))
    subject, day, code, grade = subject[order], day[order], code[order], grade[order]
    visit = np.searchsorted(days, day, side="left")  # the first visit on or after the event
    return pd.DataFrame({
        "subject_id": _id_column(ids, subject),
        "time": (day0_ns[subject] + day * NS_PER_DAY).astype("datetime64[ns]"),
        "event": _strings(OUTCOME_EVENTS, code),
        "severity": pd.arrays.IntegerArray(np.maximum(grade, 0), grade < 0),
        "visit": _strings(labels, visit),
    })


def _cgm(traj: Trajectories, ids, labels, days, day0_ns, s: Streams, limit: int) -> pd.DataFrame:
    k = min(int(limit), len(ids))
    frames = []
    if k > 0:
        rng = s("cgm_readings")
        inputs = traj.cgm_inputs
        for j, day in enumerate(days):
            end = (day0_ns[:k] + day * NS_PER_DAY).astype("datetime64[ns]")
            # a model with hypoglycaemic dips (the islet model) gives its own glucose distribution
            cdf = (islet_cgm.cdf_on_grid(inputs["mean"][:k, j], inputs["cv"][:k, j], inputs["dip"][:k, j],
                                         inputs["floor"][:k, j]) if "dip" in inputs else None)
            pos, times, glucose = cgm_model.readings(rng, inputs["mean"][:k, j], inputs["cv"][:k, j],
                                                     inputs["active"][:k, j], end, cdf=cdf)
            frames.append((pos, times, glucose, np.full(len(pos), j)))
    if not frames:
        from explorer.cohort.tables import CGM_COLUMNS, empty
        out = empty(CGM_COLUMNS)
        out["visit"] = pd.Series(dtype="string")
        return out
    pos, times, glucose, visit = (np.concatenate(x) for x in zip(*frames, strict=True))
    order = np.lexsort((times, pos))
    return pd.DataFrame({
        "subject_id": _id_column(ids, pos[order]),
        "time": times[order].astype("datetime64[ns]"),
        "glucose": glucose[order],
        "visit": _strings(labels, visit[order]),
    })
