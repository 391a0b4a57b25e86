"""The dashboard's state: one traitlets object that knows no widget, testable without a browser.

Views call its methods (toggle, set_parameter, ...) and observe its result traits (funnel, impact,
counts, ...). Each criterion is evaluated once into the eligibility matrix; a threshold change
re-evaluates that criterion only, and toggles, reordering and policies are arithmetic on the matrix.
Library errors become the `error` trait: the previous results stay, nothing is lost.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
from traitlets import Any, Bool, Dict, Float, HasTraits, Instance, Int, Unicode

from explorer import engine
from explorer.app.scenario import DataSource, Scenario
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.trial_match import population_for
from explorer.cohort.tables import Cohort
from explorer.engine.privacy import suppress_small_cells
from explorer.errors import DataError, ExplorerError
from explorer.trial import Trial, bundled_trials, load_trial

SHAPLEY_EXACT_LIMIT = 20  # exact Shapley over the pattern histogram up to 20 enabled criteria
SCREENING_CACHE = 4


def load_screening(source: DataSource, progress: bool = False) -> Screening | tuple[Screening, Cohort]:
    """The screening features of a data source (synthetic, or a file/folder the loaders read).

    For real data the loaded canonical tables come along, so outcome views can use their visits.
    """
    if source.kind == "synthetic":
        from explorer.cohort.synthetic import generate_screening
        return generate_screening(source.population, source.n, seed=source.seed, progress=progress)
    from explorer.cohort.features import screening_features
    from explorer.cohort.loaders import load

    path = Path(source.path).expanduser()
    if not path.exists():
        raise DataError("no such file or folder; give the path of a data file or folder the loaders read "
                        "(CSV/Parquet, SDTM, OMOP, CGM)", file=str(path))
    cohort = load(path).cohort
    return screening_features(cohort), cohort


def funnel_order(trial: Trial, scenario: Scenario) -> list[str]:
    """The scenario's order for the criteria it names, then the rest in the trial's order."""
    ids = [c.id for c in trial.criteria]
    chosen = [c for c in scenario.order if c in ids]
    return chosen + [c for c in ids if c not in chosen]


def enabled_ids(trial: Trial, scenario: Scenario) -> list[str]:
    return [c.id for c in trial.criteria if c.id not in scenario.disabled]


class ExplorerState(HasTraits):
    """Inputs: `scenario`. Results: `trial`, `matrix`, `funnel`, `impact`, `shapley`, `counts`, and on
    demand `overlap` and `baseline`. Messages: `error`, `status`."""

    scenario = Instance(Scenario, allow_none=True)
    trial = Instance(Trial, allow_none=True)       # the edited trial the results are for
    base_trial = Instance(Trial, allow_none=True)  # as loaded, before the scenario's edits
    screening = Any(None)
    cohort = Any(None)  # the canonical tables of a real data source (None for synthetic data)
    matrix = Any(None)

    funnel = Instance(pd.DataFrame, allow_none=True)
    impact = Instance(pd.DataFrame, allow_none=True)
    shapley = Instance(pd.DataFrame, allow_none=True)
    counts = Dict()

    error = Unicode("")
    status = Unicode("")
    busy = Bool(False)
    last_update_ms = Float(0.0)
    revision = Int(0)  # bumps once per recomputation; views that redraw everything observe this one

    def __init__(self, scenario: Scenario | None = None, *, with_baseline: bool = True,
                 loader: Callable[[DataSource], Screening] = load_screening, **kwargs):
        super().__init__(**kwargs)
        self._loader = loader
        self._screenings: OrderedDict[DataSource, tuple[Screening, Cohort | None]] = OrderedDict()
        self._extra_trials: dict[str, Trial] = {}
        self._lazy: dict[str, pd.DataFrame] = {}
        self.with_baseline = with_baseline
        # the first scenario must work: a state without a trial and data has nothing to show
        self.apply(scenario or Scenario(), raise_errors=True)

    # --- the one entry point every edit goes through -------------------------------------------
    def apply(self, scenario: Scenario, *, raise_errors: bool = False) -> bool:
        """Move to a new scenario, recomputing only what changed.

        On bad input the previous results stay and `error` says why (False is returned), or, with
        raise_errors, the ExplorerError is raised.
        """
        started = time.perf_counter()
        old = self.scenario
        self.busy = True
        try:
            base = self.base_trial if old is not None and old.trial == scenario.trial else self._trial(scenario.trial)
            trial = self._edited(base, scenario)
            screening, cohort = self._screening(scenario.data)
            if self.matrix is None or screening is not self.screening or base is not self.base_trial:
                matrix = engine.evaluate(trial, screening)
            elif trial is not self.trial:
                matrix = self.matrix.with_trial(trial)  # re-evaluates only criteria whose rule changed
            else:
                matrix = self.matrix
            results = self._statistics(matrix, scenario, trial)
        except ExplorerError as err:
            self.busy = False
            if raise_errors:
                raise
            self.error = str(err)
            return False
        with self.hold_trait_notifications():
            self.base_trial, self.trial, self.screening, self.matrix = base, trial, screening, matrix
            self.cohort = cohort
            self.scenario = scenario
            for name, value in results.items():
                setattr(self, name, value)
            self._lazy = {}
            self.error = ""
            self.last_update_ms = 1000 * (time.perf_counter() - started)
            shown = self.shown_counts()
            self.status = (f"{trial.id} on {scenario.data.describe()}: {shown['eligible']} eligible, "
                           f"{shown['possibly_eligible']} possibly eligible")
            self.busy = False
            self.revision += 1
        return True

    # --- edits -----------------------------------------------------------------------------------
    def toggle(self, criterion: str, on: bool) -> bool:
        self._require(criterion)
        return self.apply(self.scenario.with_enabled(criterion, on))

    def set_disabled(self, criteria: list[str]) -> bool:
        """Switch off exactly these criteria (every other one on)."""
        for criterion in criteria:
            self._require(criterion)
        return self.apply(replace(self.scenario, disabled=tuple(criteria)))

    def set_parameter(self, criterion: str, parameter: str, value: float) -> bool:
        self._require(criterion)
        return self.apply(self.scenario.with_setting(criterion, parameter, value))

    def set_policy(self, criterion: str, policy: str) -> bool:
        self._require(criterion)
        return self.apply(self.scenario.with_policy(criterion, policy))

    def set_order(self, order: list[str]) -> bool:
        return self.apply(replace(self.scenario, order=tuple(order)))

    def move(self, criterion: str, step: int) -> bool:
        """Move a criterion up (step < 0) or down the funnel."""
        order = list(self.order)
        i = order.index(self._require(criterion))
        j = max(0, min(len(order) - 1, i + step))
        order.insert(j, order.pop(i))
        return self.set_order(order)

    def set_min_cell(self, k: int, method: str | None = None) -> bool:
        return self.apply(replace(self.scenario, min_cell=max(0, int(k)),
                                  cell_method=method or self.scenario.cell_method))

    def select_trial(self, ref: str) -> bool:
        """Switch trial (bundled id, a loaded file's id, or a path); the data follow the trial's population."""
        try:
            trial = self._trial(ref)
        except ExplorerError as err:
            self.error = str(err)
            return False
        data = self.scenario.data
        if data.kind == "synthetic":
            data = replace(data, population=population_for(trial))
        return self.apply(Scenario(trial=trial.id, data=data, min_cell=self.scenario.min_cell))

    def add_trial_file(self, path: str | Path) -> bool:
        """Load any definition file and switch to it."""
        try:
            trial = load_trial(path)
        except ExplorerError as err:
            self.error = str(err)
            return False
        self._extra_trials[trial.id] = trial
        return self.select_trial(trial.id)

    def select_data(self, source: DataSource) -> bool:
        try:
            source = source.validate()
        except ExplorerError as err:
            self.error = str(err)
            return False
        return self.apply(replace(self.scenario, data=source))

    def restore(self, scenario: Scenario | str) -> bool:
        """Apply a saved scenario (a Scenario, its JSON, or a page query string)."""
        try:
            if isinstance(scenario, str):
                text = scenario.strip()
                scenario = Scenario.from_json(text) if text.startswith("{") else Scenario.from_query(text)
        except ExplorerError as err:
            self.error = str(err)
            return False
        return self.apply(scenario)

    # --- views read these --------------------------------------------------------------------
    @property
    def trial_choices(self) -> list[str]:
        return sorted(set(bundled_trials()) | set(self._extra_trials))

    @property
    def order(self) -> list[str]:
        return funnel_order(self.trial, self.scenario)

    def enabled(self, criterion: str) -> bool:
        return criterion not in self.scenario.disabled

    def policy(self, criterion: str) -> str:
        return dict(self.scenario.policies).get(criterion, self.trial.criterion(criterion).unknown)

    @property
    def policies(self) -> dict[str, str]:
        return dict(self.scenario.policies)

    def eligible_ids(self, include_possibly: bool = False) -> pd.Index:
        group = "remaining" if include_possibly else "eligible"
        mask = engine.baseline.group_mask(self.matrix, group, enabled_ids(self.trial, self.scenario), self.policies)
        return self.matrix.subject_ids[mask]

    # Overlap and table 1 are computed when first asked for after a change: they are the costly ones
    # (table 1 reads the raw features), and only their own tabs show them.
    @property
    def overlap(self) -> pd.DataFrame:
        if "overlap" not in self._lazy:
            self._lazy["overlap"] = engine.overlap(self.matrix, **self._selection())
        return self._lazy["overlap"]

    @property
    def baseline(self) -> pd.DataFrame | None:
        if not self.with_baseline:
            return None
        if "baseline" not in self._lazy:
            self._lazy["baseline"] = engine.baseline_table(self.matrix, self.screening, **self._selection())
        return self._lazy["baseline"]

    def _selection(self) -> dict:
        return {"enabled": enabled_ids(self.trial, self.scenario), "policies": self.policies}

    # --- exports (text/bytes; the view decides where they go) ---------------------------------
    def protected(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A table as it may be shown or exported: small cells suppressed (or rounded) when protection is on."""
        if frame is None or not self.scenario.min_cell:
            return frame
        return suppress_small_cells(frame, self.scenario.min_cell, method=self.scenario.cell_method)

    def shown_counts(self) -> dict[str, str]:
        """The final counts as text, under small-cell protection when it is on."""
        k, method = self.scenario.min_cell, self.scenario.cell_method
        out = {}
        for key, value in self.counts.items():
            if k and 0 < value < k:
                out[key] = f"<{k}"
            elif k and method == "round":
                out[key] = f"{int(round(value / 5) * 5):,}"
            else:
                out[key] = f"{value:,}"
        return out

    def export_trial_yaml(self) -> str:
        trial = self.trial
        for criterion, policy in self.scenario.policies:
            trial = trial.with_criterion(criterion, unknown=policy)
        return trial.to_yaml()

    def export_table_csv(self, name: str) -> str:
        frame = getattr(self, name)
        if name == "overlap":
            frame = frame.assign(combination=frame["label"])
        return self.protected(frame).to_csv(index=False)

    def export_eligible_ids_csv(self) -> str:
        ids = self.eligible_ids()
        return pd.DataFrame({"subject_id": ids}).to_csv(index=False)

    # --- internals -------------------------------------------------------------------------------
    def _require(self, criterion: str) -> str:
        self.trial.criterion(criterion)
        return criterion

    def _trial(self, ref: str) -> Trial:
        if ref in self._extra_trials:
            return self._extra_trials[ref]
        return load_trial(ref)

    @staticmethod
    def _edited(base: Trial, scenario: Scenario) -> Trial:
        trial = base
        for criterion, parameter, value in scenario.settings:
            trial = trial.with_parameter(criterion, parameter, value)
        return trial

    def _screening(self, source: DataSource) -> tuple[Screening, Cohort | None]:
        if source in self._screenings:
            self._screenings.move_to_end(source)
            return self._screenings[source]
        loaded = self._loader(source)
        pair = loaded if isinstance(loaded, tuple) else (loaded, None)
        self._screenings[source] = pair
        while len(self._screenings) > SCREENING_CACHE:
            self._screenings.popitem(last=False)
        return pair

    @staticmethod
    def _statistics(matrix, scenario: Scenario, trial: Trial) -> dict:
        """The results every view needs after any change (overlap and table 1 are lazy, see above)."""
        enabled, order, policies = enabled_ids(trial, scenario), funnel_order(trial, scenario), dict(scenario.policies)
        method = "exact" if len(enabled) <= SHAPLEY_EXACT_LIMIT else "montecarlo"
        return {
            "funnel": engine.funnel(matrix, order=order, enabled=enabled, policies=policies),
            "impact": engine.impact(matrix, enabled=enabled, policies=policies),
            "shapley": engine.shapley(matrix, enabled=enabled, policies=policies, method=method),
            "counts": engine.final_counts(matrix, enabled=enabled, policies=policies),
        }
