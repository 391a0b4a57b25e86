"""Every outcome of a trial, per subject and visit, from the canonical tables: driven by the trial file.

    results = outcome_measures(trial, cohort)     # OutcomeResults; cohort: explorer.cohort.tables.Cohort
    results.values        subject_id, visit, outcome, measure, value, unit, baseline, change, relative_change
    results.endpoints     subject_id, visit, outcome, endpoint, responder (boolean, <NA> = undecided), complete
    summarise_outcomes(results, by=["sex"])       # n, mean, SD, median, IQR, 95 % CIs per visit
    summarise_endpoints(results); summarise_events(results)

For each outcome of the trial (`Trial.outcomes`) and each of its `variables`:

- a number is read from the measurements at each trial visit (explorer.outcomes.visits assigns rows to
  visits); CGM metrics missing as measurements are computed from the readings of the 14 days before the
  visit: every metric of explorer/clinical/cgm_metrics.yaml (consensus percentages, mean, CV, GMI; LBGI,
  HBGI, ADRR, GRI, GRADE, J-index, MAGE, MODD, CONGA1, MAG; hypo- and hyperglycaemic episodes and their
  rate per week), so a trial's outcome can name any of them; HOMA-IR and the insulin dose per kg are
  derived from their inputs where not measured, HOMA-IR only for subjects not treated with insulin
  (explorer.clinical.homa: it is not valid under insulin treatment);
- an event (severe hypoglycaemia, serious adverse events) gives the count per visit interval, the rate per
  year and, where events carry a grade, the count per grade (explorer.outcomes.events).

Change from baseline is value - baseline and 100 x change / baseline (unknown for a zero baseline), as in
explorer.outcomes.summary.change_from_baseline. Responder and composite endpoints follow from the
outcome variables (explorer.outcomes.endpoints). A measure the trial derives without naming it as an
outcome (HOMA-IR from fasting glucose and insulin outcomes) is reported under the outcome id "derived".
A missing value stays missing. An outcome whose variable the cohort lacks raises a DataError naming both
(or, with on_missing="skip", is listed in `results.skipped`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from explorer.clinical.cgm import label_windows
from explorer.clinical.cgm_table import cgm_metric_table, compute_cgm_metrics, metric_names
from explorer.clinical.homa import NOT_VALID_ON_INSULIN, homa_ir, treated_with_insulin
from explorer.errors import DataError, DefinitionError
from explorer.outcomes import endpoints as ep
from explorer.outcomes.events import DatedEvents, event_grid, prior_year_counts, window_counts
from explorer.outcomes.summary import add_subgroups, age_bands, responder_proportions, summarise, tertiles
from explorer.outcomes.visits import (
    VisitPlan,
    baseline_dates,
    cgm_visit_windows,
    label_codes,
    subject_positions,
    tag_rows,
    visit_dates,
)

DERIVED = "derived"
CGM_VARIABLES = metric_names()
# A CGM measure's short definition with its reference, from the one table of CGM metrics.
CGM_DEFINITIONS = {row.name: f"{row.label}: {row.definition} ({row.reference})"
                   for row in cgm_metric_table().itertuples()}
TIR_BANDS = ("tbr_54", "tbr_70", "tir", "tar_180", "tar_250")
# Derived where not measured: name -> (inputs, formula on their grids and the insulin-treatment grid)
DERIVATIONS = {
    # Matthews 1985, and not valid under insulin treatment: the one rule of explorer.clinical.homa
    "homa_ir": (("fasting_glucose", "fasting_insulin"),
                lambda g, i, treated: homa_ir(g.ravel(), i.ravel(), treated.ravel()).reshape(g.shape)),
    "insulin_dose_per_kg": (("insulin_dose", "weight"), lambda dose, weight, treated: dose / weight),
}
# What tells whether a subject is treated with insulin at a visit (explorer.clinical.homa's validity rule).
INSULIN_DOSE, ON_INSULIN, HOMA_IR = "insulin_dose", "on_insulin", "homa_ir"
# How each outcome's summary is reported: the statistics summarise_outcomes gives per visit.
STATISTICS = {"value": ("value",), "change": ("value", "change"), "percent_change": ("value", "relative_change"),
              "event_rate": ("value",), "responder": ()}
SUBGROUP_LABELS = {"sex": "Sex", "age_band": "Age band", "baseline_hba1c_tertile": "Baseline HbA1c tertile",
                   "response_class": "Response class (model)", "igls_class": "Igls class at the last visit",
                   "arm": "Arm", "diabetes_type": "Diabetes type"}
VALUE_COLUMNS = ["subject_id", "visit", "outcome", "measure", "value", "unit", "baseline", "change",
                 "relative_change"]


@dataclass(frozen=True)
class OutcomeResults:
    """A trial's outcome measures for one cohort (see the module docstring for the tables)."""

    trial_id: str
    visits: tuple[str, ...]
    visit_labels: tuple[str, ...]
    values: pd.DataFrame
    endpoints: pd.DataFrame
    classes: pd.DataFrame          # subject_id, visit, scheme (igls / igls_cgm), class
    events: pd.DataFrame           # subject_id, visit, event, count, years (for incidence rates)
    subjects: pd.DataFrame         # subject attributes for subgroups
    tir_bands: pd.DataFrame        # subject_id, visit, tbr_54, tbr_70, tir, tar_180, tar_250 (where known)
    cgm_readings: pd.DataFrame     # readings labelled with their visit (for the AGP)
    outcomes: dict[str, dict] = field(default_factory=dict)  # id -> name, summary, measures, units
    skipped: dict[str, str] = field(default_factory=dict)    # outcome id -> why it could not be computed
    notes: tuple[str, ...] = ()

    def measures(self, outcome: str) -> list[str]:
        if outcome in self.skipped:
            raise DataError(self.skipped[outcome])
        if outcome not in self.outcomes:
            raise DefinitionError(f"no outcome {outcome!r}; computed are {list(self.outcomes)}")
        return list(self.outcomes[outcome]["measures"])

    def unit(self, outcome: str, measure: str) -> str:
        return self.outcomes[outcome]["units"][measure]

    def definition(self, outcome: str, measure: str) -> str:
        """A short definition of the measure (with its reference for CGM metrics), for tables and panels."""
        return self.outcomes[outcome]["definitions"][measure]

    @property
    def subgroups(self) -> list[str]:
        """Subgroup columns with at least two known values among these subjects (the usual ones first)."""
        columns = [c for c in SUBGROUP_LABELS if c in self.subjects.columns]
        columns += [c for c in self.subjects.columns if c not in columns and c != "subject_id"]
        return [c for c in columns if self.subjects[c].dropna().nunique() >= 2]


# --- the measures -------------------------------------------------------------------------------------

def outcome_measures(trial, cohort, *, outcomes: Sequence[str] | None = None, screening=None,
                     on_missing: str = "raise") -> OutcomeResults:
    """Every (or the chosen) outcome of `trial` per subject and visit from `cohort` (canonical tables).

    `screening` (optional, the subjects' Screening) supplies the year of events before baseline where the
    cohort's own event_history does not. `on_missing`: "raise" a DataError for an outcome the cohort
    lacks a variable of, or "skip" it (recorded in `results.skipped`).
    """
    if on_missing not in ("raise", "skip"):
        raise DefinitionError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    plan = VisitPlan.from_trial(trial)
    chosen = [trial.outcome(o) for o in outcomes] if outcomes is not None else list(trial.outcomes)
    if not chosen:
        raise DefinitionError(f"trial {trial.id} defines no outcomes", field="outcomes")
    catalogue = trial.catalogue
    for outcome in chosen:
        for name in outcome.variables:
            if catalogue[name].kind not in ("number", "event"):
                raise DefinitionError(f"outcome {outcome.id} uses {name!r}, a {catalogue[name].kind}; outcome "
                                      "variables must be numbers or events", field="outcomes")
    wanted = {v for o in chosen for v in o.variables}
    collector = _Collector(trial, cohort, plan, screening, wanted)

    skipped: dict[str, str] = {}
    available: set[str] = set()
    for outcome in chosen:
        for name in outcome.variables:
            reason = collector.missing(name)
            if reason:
                message = f"outcome {outcome.id} ({outcome.name}) needs {name!r}, {reason}"
                if on_missing == "raise":
                    raise DataError(message)
                skipped.setdefault(outcome.id, message)
        if outcome.id not in skipped:
            available |= set(outcome.variables)

    builder = _LongBuilder(collector, catalogue)
    for outcome in chosen:
        if outcome.id not in skipped:
            builder.add_outcome(outcome.id, outcome.name, outcome.summary, outcome.variables,
                                None if outcome.visits is None else set(outcome.visits))
    homa_inputs, _ = DERIVATIONS["homa_ir"]
    if set(homa_inputs) <= available and "homa_ir" not in available:
        builder.add_outcome(DERIVED, "Derived measures", "change", ["homa_ir"], None)

    endpoints, classes = _endpoint_tables(chosen, skipped, available, collector)
    return OutcomeResults(
        trial_id=trial.id, visits=plan.ids, visit_labels=plan.labels, values=builder.frame(),
        endpoints=endpoints, classes=classes, events=collector.event_table(available),
        subjects=_subject_attributes(cohort, collector, classes), tir_bands=collector.tir_bands(),
        cgm_readings=collector.readings, outcomes=builder.outcomes, skipped=skipped,
        notes=tuple(collector.notes),
    )


class _Collector:
    """Per subject x visit grids of every variable the outcomes and endpoints read."""

    def __init__(self, trial, cohort, plan: VisitPlan, screening, wanted: set[str]):
        self.plan, self.cohort, self.screening = plan, cohort, screening
        self.index = pd.Index(cohort.subjects["subject_id"].astype(str), name="subject_id")
        if not len(self.index):
            raise DataError("the cohort has no subjects, so there are no outcomes to compute")
        if not self.index.is_unique:
            raise DataError("the subjects table has duplicate subject ids", column="subject_id")
        catalogue = trial.catalogue
        # what the outcomes ask for, what endpoints may read, and what either can be derived from
        wanted_numbers = {v for v in wanted if catalogue[v].kind == "number"}
        numbers = wanted_numbers | set(ep.READS)
        if wanted_numbers & set(CGM_VARIABLES):
            numbers |= set(TIR_BANDS)  # the stacked time-in-range bars need all five bands
        for name, (inputs, _) in DERIVATIONS.items():
            if name in numbers:
                numbers |= set(inputs)
        if set(DERIVATIONS["homa_ir"][0]) <= numbers:
            numbers.add(INSULIN_DOSE)  # HOMA-IR may be derived: whether insulin is taken decides if it is valid
        self.numbers = sorted(numbers & set(catalogue.names("number")))
        events = set(catalogue.names("event"))
        self.event_names = sorted((wanted | set(ep.READS)) & events)

        m = cohort.measurements
        m = m[m["variable"].isin(self.numbers).to_numpy(dtype=bool, na_value=False)]
        labels = label_codes(m, plan)
        self.base_ns = baseline_dates(cohort.subjects, self.index, m, plan, labels)
        tagged = tag_rows(m, self.index, self.base_ns, plan, what="measurement", labels=labels)
        self.notes = list(tagged.notes)
        self.dates, self.attended = visit_dates(tagged, len(self.index), self.base_ns, plan)
        self.grids = self._value_grids(tagged)
        self.readings = self._cgm_fill()
        treated = self._insulin_treated()
        for name, (inputs, formula) in DERIVATIONS.items():
            if all(i in self.grids for i in inputs):
                with np.errstate(divide="ignore", invalid="ignore"):
                    derived = formula(*(self.grids[i] for i in inputs), treated=treated)
                derived[~np.isfinite(derived)] = np.nan
                self.grids[name] = derived if name not in self.grids else np.where(
                    np.isnan(self.grids[name]), derived, self.grids[name])
        if HOMA_IR in self.grids:
            self._withhold_homa_under_insulin(treated)
        self.events = {name: self._events(name) for name in self.event_names}

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.index), len(self.plan)

    def _insulin_treated(self) -> np.ndarray:
        """Per subject and visit: True (on insulin), False, or None (unknown), as an object array.

        The insulin dose decides where the subject has one (> 0: treated). Treatment is a lasting state, so
        a visit without a dose record takes the subject's nearest earlier dose, else the nearest later one:
        a missing record does not mean the insulin stopped. Subjects without any dose record take the
        subjects table's static `on_insulin`. Unknown stays unknown; explorer.clinical.homa decides what
        that means for HOMA-IR.
        """
        treated = np.full(self.shape, None, dtype=object)
        subjects = self.cohort.subjects
        if ON_INSULIN in subjects.columns:
            static = subjects.assign(subject_id=subjects["subject_id"].astype(str)).set_index("subject_id")[ON_INSULIN]
            static = static.reindex(self.index).astype("boolean")
            treated[:] = np.asarray(static.astype(object).where(static.notna(), None))[:, None]
        dose = self.grids.get(INSULIN_DOSE)
        if dose is not None:
            by_dose = pd.DataFrame(np.where(np.isnan(dose), np.nan, dose > 0)).ffill(axis=1).bfill(axis=1).to_numpy()
            known = ~np.isnan(by_dose)
            treated[known] = by_dose[known] > 0
        return treated

    def _withhold_homa_under_insulin(self, treated: np.ndarray) -> None:
        """HOMA-IR is not valid under insulin treatment (explorer.clinical.homa), measured or derived."""
        grid = self.grids[HOMA_IR]
        on_insulin = treated_with_insulin(treated.ravel()).reshape(grid.shape)
        withheld = on_insulin & ~np.isnan(grid)
        inputs = DERIVATIONS[HOMA_IR][0]
        if all(i in self.grids for i in inputs):  # count also the values the derivation left out
            withheld |= on_insulin & ~np.isnan(self.grids[inputs[0]]) & ~np.isnan(self.grids[inputs[1]])
        if withheld.any():
            self.grids[HOMA_IR] = np.where(on_insulin, np.nan, grid)
            self.notes.append(f"homa_ir: unknown for {int(withheld.any(axis=1).sum())} subject(s) at visits where "
                              f"they were treated with insulin ({NOT_VALID_ON_INSULIN})")

    def _value_grids(self, tagged) -> dict[str, np.ndarray]:
        n, k = self.shape
        frame = tagged.frame
        variable_codes, names = pd.factorize(frame["variable"])
        values = frame["value"].to_numpy(dtype=float)
        cells = tagged.subject * k + tagged.visit
        grids = {}
        for code, name in enumerate(names):
            rows = np.flatnonzero(variable_codes == code)
            cell, value = cells[rows], values[rows]
            if np.bincount(cell, minlength=n * k).max(initial=0) > 1:
                # several values at one visit: keep the one taken closest to the subject's visit date
                time = frame["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)[rows].astype(float)
                distance = np.abs(time - self.dates.ravel()[cell])
                order = np.lexsort((distance, cell))
                first = np.concatenate(([True], cell[order][1:] != cell[order][:-1]))
                cell, value = cell[order][first], value[order][first]
                self.notes.append(f"{str(name)}: several values at one visit for some subjects; the one closest "
                                  "to the visit date is used")
            grid = np.full(n * k, np.nan)
            grid[cell] = value
            grids[str(name)] = grid.reshape(n, k)
        return grids

    def _cgm_fill(self) -> pd.DataFrame:
        """Readings labelled with their visit; CGM metrics not given as measurements come from them."""
        cgm = self.cohort.cgm
        wanted = [v for v in CGM_VARIABLES if v in self.numbers]
        if cgm is None or not len(cgm) or not wanted:
            return pd.DataFrame({"subject_id": pd.Series(dtype=str), "time": pd.Series(dtype="datetime64[ns]"),
                                 "glucose": pd.Series(dtype=float), "visit": pd.Series(dtype=str)})
        positions = subject_positions(cgm["subject_id"], self.index)
        cgm = cgm[positions >= 0]
        if "visit" in cgm.columns:
            codes = self.plan.codes_of_labels(cgm["visit"])
            readings = cgm[codes >= 0].assign(visit=np.asarray(self.plan.ids, dtype=object)[codes[codes >= 0]])
        else:
            windows = cgm_visit_windows(self.dates, self.index, self.plan)
            readings = label_windows(cgm[["subject_id", "time", "glucose"]], windows).dropna(subset=["visit"])
        if not len(readings):
            self.notes.append("no CGM readings fall in the 14 days before a visit")
            return readings
        metrics = compute_cgm_metrics(readings, by=("subject_id", "visit"), names=wanted, period_days=14)
        n, k = self.shape
        cell = subject_positions(metrics["subject_id"], self.index) * k + self.plan.codes_of_labels(metrics["visit"])
        for name in wanted:
            from_readings = np.full(n * k, np.nan)
            from_readings[cell] = metrics[name].to_numpy(dtype=float)
            from_readings = from_readings.reshape(n, k)
            current = self.grids.get(name)
            self.grids[name] = from_readings if current is None else np.where(np.isnan(current), from_readings, current)
        self.attended |= ~np.isnan(self.grids[wanted[0]])
        return readings.reset_index(drop=True)

    def _events(self, name: str):
        events = DatedEvents.of(self.cohort.events, name, self.index, self.plan)
        prior = prior_year_counts(name, self.index, self.base_ns, cohort=self.cohort, screening=self.screening)
        return events, event_grid(events, self.dates, self.attended, prior)

    def recorded(self, event: str) -> bool:
        """Whether the source records this event type (so no row means none happened)."""
        events, history = self.cohort.events, self.cohort.event_history
        return (bool((events["event"] == event).any()) or "visit" in events.columns
                or bool(len(history) and (history["event"] == event).any()))

    def missing(self, name: str) -> str:
        """Why the cohort cannot give this variable per visit ('' when it can)."""
        if name in self.event_names:
            if self.recorded(name):
                return ""
            return ("an event the cohort does not record (no such rows in the events table, no event_history "
                    "entry, and no `visit` column saying the events table covers the follow-up)")
        grid = self.grids.get(name)
        if grid is not None and not np.isnan(grid).all():
            return ""
        sources = ["no measurements of it at the trial's visits"]
        if name in CGM_VARIABLES:
            sources.append("no CGM readings in the 14 days before a visit")
        if name in DERIVATIONS:
            sources.append(f"and not all of {list(DERIVATIONS[name][0])} to derive it from")
        return "which the cohort does not have: " + ", ".join(sources)

    def grid(self, name: str) -> np.ndarray:
        return self.grids.get(name, np.full(self.shape, np.nan))

    def event_table(self, available: set[str]) -> pd.DataFrame:
        frames = []
        for name, (_, grid) in self.events.items():
            if name not in available:
                continue
            subject, visit = np.nonzero(~np.isnan(grid.count))
            frames.append(pd.DataFrame({
                "subject_id": self.index.take(subject), "visit": self.plan.categorical(visit), "event": name,
                "count": grid.count[subject, visit], "years": grid.years[subject, visit]}))
        if not frames:
            return pd.DataFrame({"subject_id": pd.Series(dtype=str), "visit": self.plan.categorical(np.zeros(0, int)),
                                 "event": pd.Series(dtype=str), "count": pd.Series(dtype=float),
                                 "years": pd.Series(dtype=float)})
        return pd.concat(frames, ignore_index=True)

    def tir_bands(self) -> pd.DataFrame:
        if not all(b in self.grids for b in TIR_BANDS):
            return pd.DataFrame(columns=["subject_id", "visit", *TIR_BANDS])
        stacked = np.stack([self.grids[b] for b in TIR_BANDS])
        subject, visit = np.nonzero(~np.isnan(stacked).any(axis=0))
        return pd.DataFrame({"subject_id": self.index.take(subject), "visit": self.plan.categorical(visit),
                             **{b: self.grids[b][subject, visit] for b in TIR_BANDS}})


class _LongBuilder:
    """Collects the long value table as integer codes and builds the DataFrame once."""

    def __init__(self, collector: _Collector, catalogue):
        self.c, self.catalogue = collector, catalogue
        self.parts: list[tuple] = []
        self.measure_names: list[str] = []
        self.outcomes: dict[str, dict] = {}

    def add_outcome(self, outcome_id: str, name: str, summary: str, variables, visits: set[str] | None) -> None:
        info = {"name": name, "summary": summary, "variables": list(variables), "measures": [], "units": {},
                "definitions": {}}
        self.outcomes[outcome_id] = info
        keep_visit = np.array([visits is None or v in visits or i == 0 for i, v in enumerate(self.c.plan.ids)])
        for variable in variables:
            described = self.catalogue[variable].description
            if variable in self.c.event_names:
                _, grid = self.c.events[variable]
                series = [(variable, grid.count, "events", f"{described}: events per visit interval"),
                          (f"{variable}_per_year", grid.per_year, "events/year", f"{described}: events per year")]
                series += [(f"{variable}_grade{g}", counts, "events", f"{described}: events of grade {g}")
                           for g, counts in grid.grades.items()]
            else:
                series = [(variable, self.c.grid(variable), self.catalogue[variable].unit or "",
                           CGM_DEFINITIONS.get(variable, described))]
            for measure, grid, unit, definition in series:
                info["measures"].append(measure)
                info["units"][measure] = unit
                info["definitions"][measure] = definition
                self._add(outcome_id, measure, unit, grid, keep_visit)

    def _add(self, outcome_id: str, measure: str, unit: str, grid: np.ndarray, keep_visit: np.ndarray) -> None:
        if measure not in self.measure_names:
            self.measure_names.append(measure)
        subject, visit = np.nonzero(~np.isnan(grid) & keep_visit[None, :])
        value = grid[subject, visit]
        baseline = grid[subject, 0]
        change = value - baseline
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(baseline != 0, 100.0 * change / baseline, np.nan)
        self.parts.append((outcome_id, self.measure_names.index(measure), unit, subject, visit, value, baseline,
                           change, relative))

    def frame(self) -> pd.DataFrame:
        outcomes = list(self.outcomes)
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in VALUE_COLUMNS})
        sizes = [len(p[3]) for p in self.parts]
        units = list(dict.fromkeys(p[2] for p in self.parts))

        def codes(position: int, lookup) -> np.ndarray:
            return np.repeat([lookup(p[position]) for p in self.parts], sizes).astype(np.int64)

        def joined(position: int) -> np.ndarray:
            return np.concatenate([p[position] for p in self.parts])

        return pd.DataFrame({
            "subject_id": self.c.index.take(joined(3)).array,
            "visit": self.c.plan.categorical(joined(4)),
            "outcome": pd.Categorical.from_codes(codes(0, outcomes.index), categories=outcomes),
            "measure": pd.Categorical.from_codes(codes(1, int), categories=self.measure_names),
            "value": joined(5),
            "unit": pd.Categorical.from_codes(codes(2, units.index), categories=units),
            "baseline": joined(6), "change": joined(7), "relative_change": joined(8),
        })


def _endpoint_tables(chosen, skipped: dict, available: set[str], c: _Collector) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Endpoint flags and Igls classes at follow-up visits, each tagged with the outcome that asks for it."""
    owners: dict[str, str] = {}
    for outcome in chosen:
        if outcome.summary == "responder" and outcome.id not in skipped:
            for endpoint in ep.applicable(set(outcome.variables)):
                owners.setdefault(endpoint.id, outcome.id)
    endpoints = ep.applicable(available)
    shape = c.shape
    she = c.events.get("severe_hypoglycemia")
    if she is not None:
        events, grid = she
        since, years = window_counts(events, c.dates, c.attended, c.base_ns, ep.EVENT_FREE_FROM_DAY)
        baseline_rate = grid.count[:, 0] / grid.years[:, 0]
    else:
        since = years = np.full(shape, np.nan)
        baseline_rate = np.full(shape[0], np.nan)
    inputs = ep.Inputs({name: c.grid(name) for name in c.grids}, since, years, baseline_rate)
    flags, complete, classes = ep.compute(endpoints, inputs, shape)

    subject, visit = np.nonzero(np.ones(shape, dtype=bool))
    follow_up = visit >= 1
    subject, visit = subject[follow_up], visit[follow_up]
    flat = subject * shape[1] + visit
    ids, visits = c.index.take(subject).array, c.plan.categorical(visit)
    not_on_insulin = c.grid("insulin_dose")[subject, 0] == 0
    flag_frames = []
    for name, values in flags.items():
        keep = ~not_on_insulin if ep.ENDPOINTS_BY_ID[name].insulin_treated_only else np.ones(len(flat), dtype=bool)
        flag_frames.append(pd.DataFrame({
            "subject_id": ids[keep], "visit": visits[keep], "outcome": owners.get(name, DERIVED), "endpoint": name,
            "responder": pd.array(values, dtype="boolean")[flat[keep]], "complete": complete[name][flat[keep]]}))
    class_frames = [pd.DataFrame({"subject_id": ids, "visit": visits, "scheme": scheme, "class": values[flat]})
                    for scheme, values in classes.items()]
    empty_flags = pd.DataFrame({"subject_id": pd.Series(dtype=str), "visit": c.plan.categorical(np.zeros(0, int)),
                                "outcome": pd.Series(dtype=str), "endpoint": pd.Series(dtype=str),
                                "responder": pd.Series(dtype="boolean"), "complete": pd.Series(dtype=bool)})
    empty_classes = pd.DataFrame({"subject_id": pd.Series(dtype=str),
                                  "visit": c.plan.categorical(np.zeros(0, int)),
                                  "scheme": pd.Series(dtype=str), "class": pd.Series(dtype="category")})
    return (pd.concat(flag_frames, ignore_index=True) if flag_frames else empty_flags,
            pd.concat(class_frames, ignore_index=True) if class_frames else empty_classes)


NOT_SUBGROUPS = {"subject_id", "index_date", "birth_date", "diagnosis_date", "age"}
MAX_SUBGROUP_LEVELS = 12  # a column with more distinct values is an attribute, not a subgroup


def _subject_attributes(cohort, c: _Collector, classes: pd.DataFrame) -> pd.DataFrame:
    """Subgroup columns per subject: the derived ones (age band, baseline HbA1c tertile, Igls class at the
    last visit) and every static column of the subjects table with a few distinct values."""
    lookup = cohort.subjects.assign(subject_id=cohort.subjects["subject_id"].astype(str)).set_index("subject_id")
    out = pd.DataFrame({"subject_id": c.index})
    for column in lookup.columns:
        if column in NOT_SUBGROUPS or pd.api.types.is_datetime64_any_dtype(lookup[column]):
            continue
        values = lookup[column].reindex(c.index)
        if values.dropna().nunique() <= MAX_SUBGROUP_LEVELS:
            out[column] = values.astype(str).where(values.notna()).to_numpy()
    if "age" in lookup.columns:
        out["age_band"] = age_bands(lookup["age"].reindex(c.index).astype(float)).to_numpy()
    baseline_a1c = c.grid("hba1c")[:, 0]
    if np.isfinite(baseline_a1c).sum() >= 3:
        with contextlib.suppress(ValueError):  # too few distinct values for three groups: no tertile subgroup
            out["baseline_hba1c_tertile"] = tertiles(pd.Series(baseline_a1c),
                                                     labels=("T1 (lowest)", "T2", "T3 (highest)")).to_numpy()
    igls = classes[classes["scheme"] == "igls"] if len(classes) else classes
    if len(igls):
        last = igls[igls["visit"] == c.plan.ids[-1]].set_index("subject_id")["class"]
        out["igls_class"] = pd.Categorical(last.reindex(c.index).to_numpy(), categories=last.cat.categories)
    return out


# --- summaries ------------------------------------------------------------------------------------------

SUMMARY_COLUMNS = ["n", "mean", "sd", "se", "ci_low", "ci_high", "median", "median_ci_low", "median_ci_high",
                   "q1", "q3", "iqr"]


def with_subgroups(frame: pd.DataFrame, results: OutcomeResults, by: Sequence[str]) -> pd.DataFrame:
    by = [b for b in by if b]
    unknown = [b for b in by if b not in results.subjects.columns]
    if unknown:
        raise DataError(f"no subgroup {unknown[0]!r}; these subjects have {results.subgroups}", column=unknown[0])
    return add_subgroups(frame, results.subjects, columns=by) if by else frame


def summarise_outcomes(results: OutcomeResults, *, by: Sequence[str] = (), outcomes: Sequence[str] | None = None,
                       confidence: float = 0.95) -> pd.DataFrame:
    """Per outcome, measure, statistic and visit (and subgroup): n, mean, SD, SE, 95 % CI of the mean,
    median with its CI, quartiles and IQR, the unit and the measure's short definition. Statistics follow
    each outcome's `summary`: the value, plus the change from baseline (`change`) or the relative change
    in % (`percent_change`); baseline rows are left out of change summaries."""
    by = [b for b in by if b]
    values = results.values
    if outcomes is not None:
        values = values[values["outcome"].isin(list(outcomes))]
    values = with_subgroups(values, results, by)
    frames = []
    for statistic in ("value", "change", "relative_change"):
        ids = [o for o, info in results.outcomes.items() if statistic in STATISTICS[info["summary"]]]
        rows = values[values["outcome"].isin(ids)]
        if statistic != "value":
            rows = rows[rows["visit"] != results.visits[0]]
        if not len(rows):
            continue
        table = summarise(rows, by=["outcome", "measure", "visit", *by], value=statistic, confidence=confidence)
        table.insert(2, "statistic", statistic)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["outcome", "measure", "statistic", "visit", *by, *SUMMARY_COLUMNS, "unit",
                                     "definition"])
    table = pd.concat(frames, ignore_index=True)
    units = {(o, m): u for o, info in results.outcomes.items() for m, u in info["units"].items()}
    table["unit"] = [("%" if s == "relative_change" else units.get((str(o), str(m)), ""))
                     for o, m, s in zip(table["outcome"], table["measure"], table["statistic"], strict=True)]
    definitions = {(o, m): d for o, info in results.outcomes.items()
                   for m, d in info.get("definitions", {}).items()}
    table["definition"] = [definitions.get((str(o), str(m)), "") for o, m in zip(table["outcome"], table["measure"],
                                                                                   strict=True)]
    order = {o: i for i, o in enumerate(results.outcomes)}
    statistic_order = {"value": 0, "change": 1, "relative_change": 2}
    table = table.assign(_o=table["outcome"].astype(str).map(order), _s=table["statistic"].map(statistic_order))
    measure_rank = {m: i for i, m in enumerate(results.values["measure"].cat.categories)} if len(results.values) else {}
    table["_m"] = table["measure"].astype(str).map(measure_rank)
    sort = ["_o", "_m", "_s", "visit"]
    return (table.sort_values(sort, kind="stable").drop(columns=["_o", "_s", "_m"]).reset_index(drop=True)
            [["outcome", "measure", "statistic", "visit", *by, *SUMMARY_COLUMNS, "unit", "definition"]])


def summarise_endpoints(results: OutcomeResults, *, by: Sequence[str] = (), complete_cases: bool = True,
                        missing_as_failure: bool = False, confidence: float = 0.95) -> pd.DataFrame:
    """Responders per endpoint and visit (and subgroup): n, responders, unknown, proportion, Wilson CI.

    complete_cases (default): a subject counts where every input of the endpoint is known; one with a
    missing input is `unknown` even when the known inputs already decide the flag (HbA1c 8 % fails CIT-07
    whatever the events), because counting only such decided failures would bias the proportion
    downwards. complete_cases=False counts every decided flag. missing_as_failure=True counts the unknown
    as non-responders (intention to treat).
    """
    by = [b for b in by if b]
    flags = with_subgroups(results.endpoints, results, by)
    if not len(flags):
        return pd.DataFrame(columns=["outcome", "endpoint", "visit", *by, "n", "responders", "unknown",
                                     "proportion", "ci_low", "ci_high", "label"])
    if complete_cases:
        flags = flags.assign(responder=flags["responder"].where(flags["complete"].to_numpy(dtype=bool)))
    table = responder_proportions(flags, by=["outcome", "endpoint", "visit", *by], responder="responder",
                                  missing_as_failure=missing_as_failure, confidence=confidence)
    table["label"] = table["endpoint"].astype(str).map(ep.ENDPOINT_LABELS)
    return table


def summarise_events(results: OutcomeResults, *, by: Sequence[str] = (), confidence: float = 0.95) -> pd.DataFrame:
    """Per event type and visit interval (and subgroup): subjects followed, subjects with an event, events,
    person-years and the incidence rate per person-year with its exact Poisson CI (Garwood 1936)."""
    by = [b for b in by if b]
    events = with_subgroups(results.events, results, by)
    columns = ["event", "visit", *by, "subjects", "with_event", "events", "person_years", "rate", "rate_ci_low",
               "rate_ci_high"]
    if not len(events):
        return pd.DataFrame(columns=columns)
    keys = [events["event"].astype(str), events["visit"], *(events[b] for b in by)]
    grouped = events.assign(with_event=events["count"] > 0).groupby(keys, observed=True, sort=True)
    table = grouped.agg(subjects=("count", "size"), with_event=("with_event", "sum"), events=("count", "sum"),
                        person_years=("years", "sum")).reset_index()
    table.columns = ["event", "visit", *by, "subjects", "with_event", "events", "person_years"]
    k, years = table["events"].to_numpy(dtype=float), table["person_years"].to_numpy(dtype=float)
    alpha = 1 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        table["rate"] = k / years
        table["rate_ci_low"] = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0) / years
        table["rate_ci_high"] = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / years
    return table[columns]
