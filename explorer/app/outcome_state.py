"""The outcomes of the eligible, enrolled subjects, computed and cached for the state: no widgets.

ExplorerState owns one OutcomeState (`state.outcomes`); the outcome panel asks it and draws. Where the
outcomes come from: a real dataset whose measurements carry trial visits (`state.cohort`) is used as it
is, restricted to the enrolled; otherwise the eligible are enrolled (screening order, at most
enrolment.DEFAULT_MAX_ENROLLED) and their outcomes simulated with a response model (explorer.cohort.synthetic.enrolment).

Outcomes are computed lazily, the first time they are asked for after a change, and only when their key
changes: the trial as loaded (threshold edits change who is eligible, not the outcomes' definitions), the
data, the enrolled set, the small-cell protection and, for simulated outcomes, the model and allocation.
A few keys are kept, so going back to an earlier eligible set is instant.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict

import pandas as pd

from explorer.cohort.lookup import positions as positions_in
from explorer.cohort.lookup import rows_of_sorted
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic import enrolment
from explorer.engine.idle import Cancelled, Task
from explorer.errors import DataError
from explorer.outcomes.measures import (
    OutcomeResults,
    outcome_measures,
    summarise_endpoints,
    summarise_outcomes,
)

CACHE_SIZE = 4
# how enrolled subjects are allocated to arms, by name -> the `arm` argument of enrolment.simulate_outcomes
# (False: as the trial, 1:1 randomised when it has two or more arms)
ALLOCATIONS = {"trial": False, "treated": None, "random": "random"}
SUMMARY_STATISTICS = ("mean", "sd", "ci_low", "ci_high", "median", "q1", "q3")
SUMMARY_COLUMNS = ["measure", "statistic", "visit", "n", *SUMMARY_STATISTICS, "unit"]
PER_SUBJECT = ("event_lookback", "event_counts")  # a Screening's tables with one row per subject


class OutcomeState:
    """Outcome results for the current scenario, the simulation choices they use, and protected tables.

    `model` and `allocation` are the simulation's inputs (ignored for real data with visits); a new trial
    resets them to the trial's own (enrolment.outcome_model_for, "trial")."""

    def __init__(self, state):
        # the ExplorerState that owns this one (not imported: the state imports this module)
        self._state = state
        self._cache: OrderedDict[tuple, OutcomeResults] = OrderedDict()
        self._trial = None
        self._model: str | None = None
        self.allocation = "trial"
        self.computations = 0  # how many times outcomes were computed (not taken from the cache)
        self._aligned: tuple[Screening, frozenset[str]] | None = None  # see _aligned_tables
        # guards the cache and _pending: prepare() (a background thread) computes outside it, and results()
        # waits for a prepare of its own scenario instead of computing the same outcomes beside it
        self._lock = threading.RLock()
        # (key, done, task) of a prepare() under way; task: the idle-time job it runs in, if any (see prepare)
        self._pending: tuple[tuple, threading.Event, Task | None] | None = None

    # --- the simulation's choices ---------------------------------------------------------------------
    @property
    def model(self) -> str:
        self._follow_trial()
        return self._model

    def choose(self, *, model: str | None = None, allocation: str | None = None) -> None:
        """Set the response model and/or the allocation of simulated outcomes."""
        self._follow_trial()
        if model is not None:
            if model not in enrolment.MODEL_CHOICES:
                raise DataError(f"no response model {model!r}; choose one of {', '.join(enrolment.MODEL_CHOICES)}")
            self._model = model
        if allocation is not None:
            if allocation not in ALLOCATIONS:
                raise DataError(f"no allocation {allocation!r}; choose one of {', '.join(ALLOCATIONS)}")
            self.allocation = allocation

    def _follow_trial(self) -> None:
        trial = self._state.base_trial
        if trial is not self._trial:
            self._trial, self._model, self.allocation = trial, enrolment.outcome_model_for(trial), "trial"

    # --- who and from where ---------------------------------------------------------------------------
    @property
    def uses_real_data(self) -> bool:
        return enrolment.has_visit_data(self._state.cohort)

    @property
    def protection(self):
        """The scenario's small-cell protection: the same rule the header and every other count uses."""
        return self._state.protection

    def enrolled(self) -> pd.Index:
        return enrolment.enrol(self._state.eligible_ids())

    def key(self, enrolled: pd.Index | None = None) -> tuple:
        s = self._state
        enrolled = self.enrolled() if enrolled is None else enrolled
        simulated = () if self.uses_real_data else (self.model, self.allocation)
        return (s.trial.id, id(s.base_trial), s.scenario.data, id(s.cohort), hash(tuple(enrolled)),
                self.protection, *simulated)

    # --- results ----------------------------------------------------------------------------------------
    def results(self) -> OutcomeResults | None:
        """The enrolled subjects' outcomes (None when no one is eligible), computed when the key changed.

        If prepare() is computing this very scenario in the background, this waits for it rather than
        computing the same outcomes beside it; a prepare of another scenario is not waited for (it stops
        at its next check, see _compute)."""
        with self._lock:
            enrolled = self.enrolled()
            if not len(enrolled):
                return None
            key = self.key(enrolled)
            pending = self._pending if self._pending is not None and self._pending[0] == key else None
        if pending is not None:
            # the prepare gives way to the foreground (this caller's, often): it must not while this waits for it
            with pending[2].awaited() if pending[2] is not None else contextlib.nullcontext():
                pending[1].wait()
        with self._lock:
            if key not in self._cache:
                self._keep(key, self._compute(enrolled))
            self._cache.move_to_end(key)
            return self._cache[key]

    def prepare(self, task: Task | None = None) -> None:
        """Compute the current scenario's outcomes ahead of anyone asking (explorer.app.warm_up, from a
        background thread), so that opening the Outcomes tab on it only draws.

        The state may move meanwhile (an edit on the main thread): what was read could then mix two
        scenarios, so the result is kept only if the state's revision is the same after as before, and the
        computation stops early once the revision has moved (it is another scenario's by then).

        `task`: the idle-time job this runs in (explorer.engine.idle). The computation then gives way to any
        foreground section at its next Python call (Task.yielding: its stages take up to 2 s at 10^6 subjects,
        a click landing on one would wait for its GIL) and stops there once the job is superseded.
        """
        revision = self._state.revision
        with self._lock:
            enrolled = self.enrolled()
            if not len(enrolled):
                return
            key = self.key(enrolled)
            if key in self._cache or self._pending is not None:
                return
            done = threading.Event()
            self._pending = (key, done, task)
        try:
            with task.yielding(abort=True) if task is not None else contextlib.nullcontext():
                results = self._compute(enrolled, current=lambda: self._state.revision == revision)
            with self._lock:
                if self._state.revision == revision:
                    self._keep(key, results)
        except (_Superseded, Cancelled):
            pass
        finally:
            with self._lock:
                self._pending = None
            done.set()

    def _keep(self, key: tuple, results: OutcomeResults) -> None:
        self._cache[key] = results
        self.computations += 1
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _compute(self, enrolled: pd.Index, current=lambda: True) -> OutcomeResults:
        """`current()` says whether these outcomes are still wanted (prepare's scenario is still the state's);
        it is asked between the stages, which raise _Superseded when it says no."""
        s = self._state
        # Everything below reads the enrolled subjects' rows only: given the whole screening, the events of
        # the year before baseline were counted for all 10^6 subjects and then reindexed (2.8 s, issue 17).
        screening = self._enrolled_screening(enrolled)
        _check(current)
        if self.uses_real_data:
            cohort = enrolment.cohort_subset(s.cohort, enrolled)
        else:
            seed = s.scenario.data.seed if s.scenario.data.kind == "synthetic" else 0
            cohort = enrolment.simulate_outcomes(s.trial, screening, enrolled, model=self.model,
                                                 arm=ALLOCATIONS[self.allocation], seed=seed)
        _check(current)
        return outcome_measures(s.trial, cohort, screening=screening, on_missing="skip")

    def _enrolled_screening(self, enrolled: pd.Index) -> Screening:
        """The enrolled subjects' screening rows, as enrolment.screening_subset gives them.

        In memory they are taken by position (the state knows where the eligible are), so the screening's
        index is never searched; a DuckDB or Spark source reads only their rows (ExplorerState.screening_of).
        """
        s = self._state
        screening = s.screening_of(enrolled)
        positions = s.eligible_positions()
        if positions is None or s.matrix.subject_ids is not screening.features.index:
            return enrolment.screening_subset(screening, enrolled)
        return rows_at(screening, positions[:len(enrolled)], self._aligned_tables(screening))

    def _aligned_tables(self, screening: Screening) -> frozenset[str]:
        """Which per-subject tables are in the features' row order (checked once per screening)."""
        if self._aligned is None or self._aligned[0] is not screening:
            self._aligned = (screening, aligned_tables(screening))
        return self._aligned[1]

    # --- tables as they may be shown ------------------------------------------------------------------
    def summary_table(self, outcome: str, measure: str, by: str | None = None) -> pd.DataFrame:
        """Per-visit summary of one measure (split by a subgroup), under the scenario's protection: a small
        n is blanked with every statistic resting on it."""
        results, by_list = self.results(), [by] if by else []
        table = summarise_outcomes(results, by=by_list, outcomes=[outcome])
        table = table[table["measure"].astype(str) == measure]
        shown = table[[*SUMMARY_COLUMNS[:3], *by_list, *SUMMARY_COLUMNS[3:]]].copy()
        for column in ("measure", "statistic", "visit", *by_list):
            shown[column] = shown[column].astype(str)
        shown["n"] = shown["n"].astype("int64")
        shown.attrs = {"counts": ["n"], "dependent": dict.fromkeys(SUMMARY_STATISTICS, "n")}
        return self._state.protected(shown)

    def endpoint_table(self, endpoint: str, by: str | None = None) -> pd.DataFrame:
        """Responders per visit: of one endpoint (split by a subgroup), or of every endpoint ("all")."""
        results = self.results()
        if endpoint == "all":
            table = summarise_endpoints(results)
            return table.assign(endpoint=table["label"])
        table = summarise_endpoints(results, by=[by] if by else [])
        return table[table["endpoint"].astype(str) == endpoint]


class _Superseded(Exception):
    """prepare()'s scenario is no longer the state's: its outcomes would be thrown away, so it stops."""


def _check(current) -> None:
    if not current():
        raise _Superseded


def aligned_tables(screening: Screening) -> frozenset[str]:
    """The per-subject tables whose rows are in the features' order (their rows can be taken by position)."""
    ids = screening.features.index
    return frozenset(name for name in PER_SUBJECT
                     if getattr(screening, name) is not None and getattr(screening, name).index.equals(ids))


def rows_at(screening: Screening, positions, aligned: frozenset[str] = frozenset()) -> Screening:
    """What the outcomes read of enrolment.screening_subset, by row position: the features' rows at
    `positions`, the `aligned` per-subject tables' rows there (the others by id) and their events.

    Without missing_reasons: neither the simulation nor the outcome measures read why a feature is
    unknown, and at 10^6 subjects that table has 2·10^7 rows (selecting from it took 0.95 s).
    """
    features = screening.features.iloc[positions]
    ids = features.index.rename("subject_id")
    features.index = ids

    def rows(name):
        frame = getattr(screening, name)
        if frame is None:
            return None
        return frame.iloc[positions].set_axis(ids) if name in aligned else frame.reindex(ids)

    # events in subject order (the generator's) are found by binary search of the enrolled ids; otherwise
    # Arrow's lookup over the 10^6 subjects' events, half the time of pandas' isin on Arrow strings
    chosen = rows_of_sorted(screening.events["subject_id"], ids)
    if chosen is None:
        chosen = positions_in(screening.events["subject_id"], ids) >= 0
    events = screening.events[chosen]
    return Screening(features=features, events=events, event_lookback=rows("event_lookback"),
                     event_counts=rows("event_counts"), source=screening.source)
