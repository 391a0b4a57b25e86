"""The dashboard's state: one traitlets object that knows no widget, testable without a browser.

Views call its methods (toggle, set_parameter, ...) and observe its result traits (funnel, impact,
counts, ...). Each criterion is evaluated once into the eligibility matrix; a threshold change
re-evaluates that criterion only, and toggles, reordering and policies are arithmetic on the matrix.
Library errors become the `error` trait: the previous results stay, nothing is lost.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import pandas as pd
from traitlets import Any, Bool, Dict, Float, HasTraits, Instance, Int, Unicode

from explorer import engine, expr
from explorer.app.folders import base_dir
from explorer.app.outcome_state import OutcomeState
from explorer.app.scenario import DataSource, Scenario
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.trial_match import population_for
from explorer.cohort.tables import Cohort
from explorer.engine.privacy import Protection
from explorer.engine.status import UNKNOWN
from explorer.errors import DataError, ExplorerError
from explorer.sources import open_source
from explorer.trial import Trial, bundled_trials, load_trial, trial_from_dict

SHAPLEY_EXACT_LIMIT = 20  # exact Shapley over the pattern histogram up to 20 enabled criteria
SCREENING_CACHE = 4


def load_screening(source: DataSource, progress: bool = False) -> Screening | tuple:
    """The screening features of a data source, opened as the CLI and the outcomes open it
    (explorer.sources.open_source). For real data the loaded canonical tables and the load report
    come along: (screening, cohort, report), for the outcome views and the Data tab."""
    opened = open_source(source, base_dir=base_dir(), progress=progress)
    return opened.screening if opened.cohort is None else (opened.screening, opened.cohort, opened.report)


def _source_columns(screening) -> set[str] | None:
    """The features' column names of a Screening or a screening folder (its file schema; no rows read)."""
    if isinstance(screening, Screening):
        return set(screening.features.columns)
    if isinstance(screening, (str, Path)):
        from explorer.engine.layout import table_columns
        return set(table_columns(screening)["features"])
    return None


def funnel_order(trial: Trial, scenario: Scenario) -> list[str]:
    """The scenario's order for the criteria it names, then the rest in the trial's order."""
    ids = [c.id for c in trial.criteria]
    chosen = [c for c in scenario.order if c in ids]
    return chosen + [c for c in ids if c not in chosen]


def enabled_ids(trial: Trial, scenario: Scenario) -> list[str]:
    return [c.id for c in trial.criteria if c.id not in scenario.disabled]


def shapley_method(enabled: Sequence[str]) -> str:
    return "exact" if len(enabled) <= SHAPLEY_EXACT_LIMIT else "montecarlo"


class _Frame(Instance):
    """A DataFrame result trait that tells a new value from the old by identity. traitlets compares `old == new`
    to decide whether to notify, which for two frames is an elementwise comparison whose truth value then fails:
    0.8 ms of the kernel's 5 ms per click at 10^6 subjects, for a notification that always follows (issue 17)."""

    def __init__(self, **kwargs):
        super().__init__(pd.DataFrame, allow_none=True, **kwargs)

    def set(self, obj, value):
        new = self._validate(obj, value)
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        if new is not old:
            obj._notify_trait(self.name, old, new)


class ExplorerState(HasTraits):
    """Inputs: `scenario`. Results: `trial`, `matrix`, `funnel`, `counts`, and on demand `impact`,
    `shapley`, `overlap` and `baseline`. Messages: `error`, `status`."""

    scenario = Instance(Scenario, allow_none=True)
    trial = Instance(Trial, allow_none=True)       # the edited trial the results are for
    base_trial = Instance(Trial, allow_none=True)  # as loaded, before the scenario's edits
    screening = Any(None)
    cohort = Any(None)  # the canonical tables of a real data source (None for synthetic data)
    matrix = Any(None)

    funnel = _Frame()
    counts = Dict()
    # impact and shapley are computed when a view first asks after a change (see "on demand" below)

    error = Unicode("")
    notice = Unicode("")  # what the last edit changed that the user did not ask for (a clamped value)
    status = Unicode("")
    busy = Bool(False)
    # True while a scenario with other small-cell protection is being computed: views hide every count
    # until the protected results arrive, so no unprotected number stays on screen meanwhile
    concealed = Bool(False)
    last_update_ms = Float(0.0)
    revision = Int(0)  # bumps once per recomputation; views that redraw everything observe this one

    def __init__(self, scenario: Scenario | None = None, *, with_baseline: bool = True,
                 loader: Callable[[DataSource], Screening] = load_screening,
                 roots: Sequence[str | Path] | None = None,
                 preloaded: Mapping[DataSource, Screening] | None = None, **kwargs):
        """`roots`: the only folders data and trial paths may come from (a dashboard served to others);
        None (notebooks) reads any path the user gives."""
        super().__init__(**kwargs)
        self._loader = loader
        self.roots = None if roots is None else [Path(r).expanduser().resolve() for r in roots]
        self._screenings: OrderedDict[DataSource, tuple[Screening, Cohort | None]] = OrderedDict()
        self._extra_trials: dict[str, Trial] = {}
        self._reports: dict[DataSource, object] = {}
        self._trial_files: dict[str, Path] = {}  # definition files of trials opened by path (for exported code)
        self.pinned: Scenario | None = None        # scenario A of a comparison (None: the registered trial)
        for source, screening in (preloaded or {}).items():  # screenings already in memory (notebooks)
            self._screenings[source] = (screening, None)
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
        if scenario.protection.on and (old is None or old.protection != scenario.protection or old.data != scenario.data):
            self.concealed = True
        self.busy = True
        try:
            same = old is not None and old.trial == scenario.trial and self._trial(scenario.trial) is self.base_trial
            base = self.base_trial if same else self._trial(scenario.trial)
            trial = self._edited(base, scenario)
            screening, cohort = self._screening(scenario.data)
            if self.matrix is None or screening is not self.screening or base is not self.base_trial:
                matrix = self._evaluate(trial, screening, scenario.data)
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
            self.notice = ""
            self.concealed = False
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
        """Change a threshold; a value outside the parameter's allowed range is clamped, and `notice` says so."""
        self._require(criterion)
        allowed = self.base_trial.criterion(criterion).parameters.get(parameter)
        if allowed is None:
            self.error = f"{criterion} has no parameter {parameter!r}"
            return False
        try:
            value = float(value)
        except (TypeError, ValueError):
            self.error = f"{criterion} {parameter}: {value!r} is not a number"
            return False
        if value != value:  # NaN: an emptied box
            self.error = f"{criterion} {parameter}: give a number between {allowed.min:g} and {allowed.max:g}"
            return False
        clamped = min(max(value, allowed.min), allowed.max)
        if clamped == value == self.trial.criterion(criterion).parameters[parameter].value:
            return True  # nothing changes (e.g. the view showing the clamped value): keep the notice
        ok = self.apply(self.scenario.with_setting(criterion, parameter, clamped))
        if ok:
            self.notice = (f"{criterion} {parameter}: {value:g} is outside the allowed range "
                           f"{allowed.min:g}-{allowed.max:g}; using {clamped:g}" if clamped != value else "")
        return ok

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
        return self.apply(Scenario(trial=trial.id, data=data, min_cell=self.scenario.min_cell,
                                   cell_method=self.scenario.cell_method,
                                   disabled=tuple(c.id for c in trial.criteria if not c.enabled),
                                   order=tuple(trial.order or ())))

    def add_trial_file(self, path: str | Path) -> bool:
        """Load any definition file and switch to it."""
        try:
            readable = self.readable(path, "trial file")
            trial = load_trial(readable)
            self._trial_files[trial.id] = readable
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
        return self.apply(self.scenario.with_data(source))

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

    @property
    def switched_off(self) -> list[tuple[str, str]]:
        """(id, label) of the criteria switched off, in funnel order: views and diagrams list them as "off"."""
        return [(c, self.trial.criterion(c).display_label) for c in self.order if not self.enabled(c)]

    def enabled(self, criterion: str) -> bool:
        return criterion not in self.scenario.disabled

    def policy(self, criterion: str) -> str:
        return dict(self.scenario.policies).get(criterion, self.trial.criterion(criterion).unknown)

    @property
    def policies(self) -> dict[str, str]:
        return dict(self.scenario.policies)

    def eligible_ids(self, include_possibly: bool = False) -> pd.Index:
        group = "remaining" if include_possibly else "eligible"
        if self.histogram_only:
            return self._engine_ids(group)
        return self._cached(f"ids:{group}", lambda: self.matrix.subject_ids[self._group_mask(group)])

    def eligible_positions(self):
        """Row positions (NumPy) of the eligible in `matrix.subject_ids`, in screening order; None when the
        engine returns only counts (DuckDB, Spark). The outcome state takes the enrolled subjects' rows by
        position: looking 2,000 ids up in a 10^6-subject index costs about 0.8 s (issue 17)."""
        if self.histogram_only:
            return None
        return self._cached("positions:eligible", lambda: self._group_mask("eligible").nonzero()[0])

    # The one place the eligible (or remaining) subjects' mask is built, once per change: the ids and the
    # positions above both read it (each built it again before, and the outcomes tab asks for both).
    def _group_mask(self, group: str):
        return self._cached(f"mask:{group}", lambda: engine.baseline.group_mask(
            self.matrix, group, enabled_ids(self.trial, self.scenario), self.policies))

    # On demand: impact, Shapley, overlap and table 1 are computed when first asked for after a change
    # and cached until the next one. Only their own tabs show them, and a click must cost only what the
    # header and the funnel need (at 10^6 subjects impact and Shapley took most of a toggle, issue 17).
    @property
    def impact(self) -> pd.DataFrame:
        return self._cached("impact", lambda: engine.impact(self.matrix, **self._selection()))

    @property
    def shapley(self) -> pd.DataFrame:
        """Shapley shares of screened - eligible (unknowns count as not eligible)."""
        if "shapley" not in self._lazy:
            enabled = enabled_ids(self.trial, self.scenario)
            self._lazy["shapley"] = engine.shapley(self.matrix, enabled=enabled, policies=self.policies,
                                                   method=shapley_method(enabled))
        return self._lazy["shapley"]

    @property
    def overlap(self) -> pd.DataFrame:
        return self._cached("overlap", lambda: engine.overlap(self.matrix, **self._selection()))

    @property
    def shapley_excluded(self) -> pd.DataFrame:
        """Shapley shares of the funnel's exclusions (screened - remaining: failing, not unknown), which add up
        to what the funnel excludes; `shapley` shares screened - eligible (unknowns count as not eligible)."""
        if "shapley_excluded" not in self._lazy:
            enabled = enabled_ids(self.trial, self.scenario)
            self._lazy["shapley_excluded"] = engine.shapley(self.matrix, enabled=enabled, policies=self.policies,
                                                            value="remaining", method=shapley_method(enabled))
        return self._lazy["shapley_excluded"]

    @property
    def baseline(self) -> pd.DataFrame | None:
        if not self.with_baseline:
            return None
        if self.histogram_only:
            return self._engine_baseline()
        return self._cached("baseline", lambda: engine.baseline_table(self.matrix, self.screening, **self._selection(),
                                                                      groups=("screened", "eligible", "possibly")))

    @property
    def load_report(self):
        """What loading the current real dataset read, kept, rejected and converted (None for synthetic data)."""
        return self._reports.get(self.scenario.data)

    def absent_variables(self) -> list[dict]:
        """Criteria the dataset cannot decide for anyone: a variable it uses is absent (or empty) in this
        dataset, so the criterion is unknown for every subject. One row per such criterion and variable."""
        if self.histogram_only:
            return self._absent_in_histogram()
        # the header asks on every click; the answer changes only with the data, the trial or a re-evaluation
        # (a toggle keeps all three), and scanning every column of 10^6 subjects would cost more than the recount
        key = (self.matrix, self.screening, self.trial)
        cached = getattr(self, "_absent_cache", None)
        if cached is None or any(a is not b for a, b in zip(cached[0], key, strict=True)):
            self._absent_cache = (key, self._absent_in_memory())
        return self._absent_cache[1]

    def _absent_in_memory(self) -> list[dict]:
        features = self.screening.features
        n = len(features)
        rows = []
        for criterion in self.trial.criteria:
            if not criterion.computable:
                continue
            for name in sorted(expr.names(criterion.tree) - set(criterion.parameters)):
                variable = self.trial.catalogue.get(name)
                if variable is None or variable.kind == "event":
                    continue  # events are judged by their look-back, reported with the counts
                if name not in features.columns or features[name].isna().all():
                    unknown = int((self.matrix.column(criterion.id) == UNKNOWN).sum()) if n else 0
                    rows.append({"criterion": criterion.id, "label": criterion.display_label,
                                 "variable": name, "unknown": unknown, "subjects": n})
        return rows

    # --- "x ULN" criteria the data cannot decide (issue 13): said in the header, not only in the load report
    def unknown_uln(self) -> list[dict]:
        """"x ULN" criteria the data cannot decide: a `<lab>_uln` variable (the ULN of the lab that measured
        `<lab>`) is absent or empty in this dataset, so the comparison with it is unknown for every subject.
        One row per criterion: its id, label, the labs without a ULN, and how many subjects it leaves unknown."""
        catalogue, rows = self.trial.catalogue, {}
        for row in self.absent_variables():
            lab = row["variable"].removesuffix("_uln")
            if row["variable"].endswith("_uln") and lab in catalogue:
                rows.setdefault(row["criterion"], {**row, "labs": []})["labs"].append(lab)
        return [{k: v for k, v in row.items() if k != "variable"} for row in rows.values()]

    # --- why values are unknown: the reasons the source's derivation recorded, per criterion variable
    def unknown_reasons(self) -> pd.DataFrame:
        """Subjects per (criterion, variable, reason) whose value of that variable is missing for that reason
        (explorer.analysis.unknown_reasons), under small-cell protection; empty when the source records no
        reasons (a synthetic population above sources.SYNTHETIC_REASONS_UP_TO). DuckDB and Spark count them in place."""
        from explorer.analysis.unknown_reasons import COLUMNS, unknown_reasons

        if self.matrix is None:  # no data opened yet (or it failed): nothing to explain
            return pd.DataFrame(columns=COLUMNS)
        # the counts change only with the data (not with a toggle or an edit): counted once per source
        source = self.matrix.backend if self.histogram_only else self.screening
        cached = getattr(self, "_reason_counts", None)
        if cached is None or cached[0] is not source:
            self._reason_counts = (source, self._count_reasons(source))
        return self.protected(unknown_reasons(self.trial, self._reason_counts[1], self.matrix.n_subjects))

    def _count_reasons(self, source) -> dict[tuple[str, str], int]:
        if self.histogram_only:
            counted = getattr(source, "reason_counts", None)  # the SQL backends; {} without a reasons table
            return counted() if counted is not None else {}
        from explorer.engine.layout import reason_counts

        return reason_counts(getattr(source, "missing_reasons", None))

    # --- what researchers ask next (explorer.analysis), computed on demand and cached per change ---------
    def sensitivity(self, criterion: str, parameter: str):
        """How the eligible count moves with one threshold (explorer.analysis.sensitivity), for this scenario."""
        from explorer.analysis.sensitivity import threshold_sensitivity

        key = f"sensitivity:{criterion}.{parameter}"
        if self.histogram_only:
            return self._cached(key, lambda: self._histogram_sensitivity(criterion, parameter))
        return self._cached(key, lambda: threshold_sensitivity(self.matrix, self.screening, criterion, parameter,
                                                               **self._selection()))

    def _histogram_sensitivity(self, criterion: str, parameter: str):
        """The threshold curve over a DuckDB or Spark source: the same analysis on subjects that stand in for
        the cohort (the criterion's edit table repeated by its counts, HistogramMatrix.stand_in), so every count
        is the cohort's; where no table answers (a rule that counts events, too many distinct values), the
        view says the memory engine is needed."""
        from explorer.analysis.sensitivity import threshold_sensitivity
        from explorer.errors import DefinitionError

        self._require(criterion)
        try:
            matrix, stand_in = self.matrix.stand_in(criterion)
        except DefinitionError as err:
            raise self.engine_limit(f"The threshold curve of {criterion} ({err.reason})") from None
        return threshold_sensitivity(matrix, stand_in, criterion, parameter, **self._selection())

    def pin(self) -> None:
        """Keep the current scenario as A; further edits make B."""
        self.pinned = self.scenario
        self._lazy.pop("comparison", None)

    def comparison(self):
        """A (pinned, or the registered trial on the same data) against the current scenario, protected."""
        from explorer.analysis.compare import compare

        if self.histogram_only:
            raise self.engine_limit("The comparison of two scenarios (who moves in or out)")
        return self._cached("comparison", lambda: compare(self.scenario_a(), self.scenario, self.matrix, self.screening,
                                                          base_trial=self.base_trial, min_cell=self.scenario.min_cell))

    # --- representativeness and outcomes under relaxed criteria (views: explorer.app.analysis_views) -----
    def scenario_a(self) -> Scenario:
        """Scenario A of a comparison: the pinned one when it is of this trial and data, else the registered trial."""
        from explorer.analysis.compare import registered

        pinned = self.pinned
        if pinned is not None and pinned.trial == self.scenario.trial and pinned.data == self.scenario.data:
            return pinned
        return registered(self.scenario)

    def representativeness(self):
        """The eligible vs the screened (explorer.analysis.representativeness), under this scenario's protection."""
        from explorer.analysis.representativeness import representativeness

        if self.histogram_only:
            raise self.engine_limit("Representativeness (the eligible against the screened, variable by variable)")
        if "representativeness" not in self._lazy:
            result = representativeness(self.matrix, self.screening, **self._selection())
            self._lazy["representativeness"] = result.protected(self.protection)
        return self._lazy["representativeness"]

    def relaxed_outcomes(self):
        """Outcomes of the subjects A already had vs those B adds (explorer.analysis.relaxed_outcomes), protected;
        simulated on synthetic data. The costliest result: computed only when its view asks."""
        from explorer.analysis.relaxed_outcomes import relaxed_outcomes

        if self.histogram_only:
            raise self.engine_limit("Outcomes under relaxed criteria (who B adds to A)")
        a = self.scenario_a()
        key = f"relaxed_outcomes:{a.to_query()}"  # a new pin is a new A: no stale result
        return self._cached(key, lambda: relaxed_outcomes(a, self.scenario, self.matrix, self.screening, cohort=self.cohort,
                                                          base_trial=self.base_trial, min_cell=self.scenario.min_cell))

    def export_code(self, notebook: bool = False) -> str:
        """Python (or a notebook) that reproduces this scenario's numbers with the installed package."""
        from explorer.app.code_export import scenario_code, scenario_notebook

        make = scenario_notebook if notebook else scenario_code
        return make(self.scenario, trial=self.base_trial, trial_file=self._trial_files.get(self.base_trial.id))

    def _selection(self) -> dict:
        return {"enabled": enabled_ids(self.trial, self.scenario), "policies": self.policies}

    # --- outcomes of the enrolled (explorer.app.outcome_state): computed when first asked for ------------
    @cached_property
    def outcomes(self) -> OutcomeState:
        """The outcome results, their simulation choices and protected tables, cached per eligible set."""
        return OutcomeState(self)

    # --- exports (text/bytes; the view decides where they go) ---------------------------------
    @property
    def protection(self) -> Protection:
        return self.scenario.protection

    def protected(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A table as it may be shown or exported: small cells suppressed (or rounded) when protection is on."""
        return self.protection.table(frame)

    def shown_count(self, value) -> str:
        """One count as the page may show it (the scenario's small-cell protection)."""
        return self.protection.text(value)

    def shown_counts(self) -> dict[str, str]:
        """The final counts as text, under small-cell protection when it is on."""
        return {key: self.shown_count(value) for key, value in self.counts.items()}

    def edited_trial(self) -> Trial:
        """The trial as the scenario has it: thresholds, unknown policies, switched-off criteria and the
        funnel order written into the definition, so loading it reproduces the same funnel."""
        data = self.trial.to_dict()
        policies = dict(self.scenario.policies)
        for criterion in data["criteria"]:
            if criterion["id"] in policies:
                criterion["unknown"] = policies[criterion["id"]]
            if criterion["id"] in self.scenario.disabled:
                criterion["enabled"] = False
            else:
                criterion.pop("enabled", None)
        order = self.order
        data["order"] = order if order != [c.id for c in self.trial.criteria] else None
        return trial_from_dict({k: v for k, v in data.items() if v is not None})

    def export_trial_yaml(self) -> str:
        return self.edited_trial().to_yaml()

    def export_table_csv(self, name: str) -> str:
        frame = getattr(self, name)
        if name == "overlap":
            frame = frame.assign(combination=frame["label"])
        return self.protected(frame).to_csv(index=False)

    def export_eligible_ids_csv(self) -> str:
        """The eligible subjects' ids; refused under protection when there are fewer than k (the list's
        length would publish the small count)."""
        ids = self.eligible_ids()
        k = self.protection.min_cell
        if self.protection.on and 0 < len(ids) < k:
            raise ExplorerError(f"fewer than {k} subjects are eligible: their ids are not exported while "
                                f"small-cell protection is on")
        return pd.DataFrame({"subject_id": ids}).to_csv(index=False)

    # --- the engine behind the data source (DataSource.engine) --------------------------------------
    # "memory" holds one status per subject (an EligibilityMatrix); "duckdb" and "spark" leave the subjects
    # where they lie and the state holds only the status histogram (a HistogramMatrix): funnel, impact,
    # Shapley, overlap and counts are arithmetic on it, a threshold change is counted again by the engine,
    # and subject-level answers are queries the engine runs, returning only what is asked.
    @staticmethod
    def _evaluate(trial: Trial, screening, source: DataSource):
        if source.engine == "memory":
            return engine.evaluate(trial, screening)
        from explorer.engine.histogram import evaluate_histogram
        options = {"master": source.master} if source.master else {}
        # the dashboard's edit tables are taken in the background (explorer.engine.edit_histogram, "Warm-up")
        options["warm"] = True
        return evaluate_histogram(trial, screening, source.engine, **options)

    @property
    def histogram_only(self) -> bool:
        """True when the state holds only the status histogram (a DuckDB or Spark source)."""
        return bool(getattr(self.matrix, "histogram_only", False))

    def engine_limit(self, what: str) -> ExplorerError:
        """The error a view shows for what the histogram engines cannot answer (never a made-up number)."""
        return ExplorerError(f"{what} needs every subject's values, which the {self.matrix.engine} engine keeps "
                             f"where the data lie; it is not available for this source. Open the data with the "
                             f"memory engine (Data tab) for it.")

    def _cached(self, key: str, compute):
        """The result kept under `key` since the last change, computed now if it is not there yet."""
        if key not in self._lazy:
            self._lazy[key] = compute()
        return self._lazy[key]

    def _engine_ids(self, group: str) -> pd.Index:
        key = f"ids:{group}"
        return self._cached(key, lambda: self.matrix.eligible_ids(enabled_ids(self.trial, self.scenario), self.policies,
                                                                  which=group))

    def screening_of(self, ids) -> Screening:
        """The screening of these subjects (the outcome panel's enrolled): the state's own when it is in
        memory; for a folder read in place, only their rows are read from it (never the whole cohort)."""
        if not isinstance(self.screening, (str, Path)):
            return self.screening
        import tempfile

        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        from explorer.engine.layout import find_tables, read_screening
        wanted = [str(i) for i in ids]
        key = f"screening_of:{hash(tuple(wanted))}"
        if key not in self._lazy:
            with tempfile.TemporaryDirectory() as tmp:
                for path in find_tables(self.screening).values():
                    if path.suffix == ".parquet":
                        rows = ds.dataset(path).to_table(filter=ds.field("subject_id").isin(pa.array(wanted, pa.string())))
                        pq.write_table(rows, Path(tmp) / path.name)
                    else:
                        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
                        table[table["subject_id"].isin(wanted)].to_csv(Path(tmp) / path.name, index=False)
                self._lazy[key] = read_screening(tmp, catalogue=self.trial.catalogue)
        return self._lazy[key]

    def _engine_baseline(self) -> pd.DataFrame | None:
        """Table 1 as one aggregate query the engine runs (only the table's numbers come back)."""
        return self._cached("baseline", lambda: self.matrix.baseline_table(**self._selection(),
                                                                           groups=("screened", "eligible", "possibly")))

    def _absent_in_histogram(self) -> list[dict]:
        """absent_variables from the histogram (unknown counts) and the source's column names: a variable
        the source lacks (a present but empty column would need a scan, and is not named)."""
        h = self.matrix.histogram
        n = h.n_subjects
        columns = _source_columns(self.screening)
        rows = []
        for criterion in self.trial.criteria:
            if not criterion.computable or columns is None:
                continue
            unknown = int(h.counts[h.patterns[:, self.matrix.index(criterion.id)] == UNKNOWN].sum())
            for name in sorted(expr.names(criterion.tree) - set(criterion.parameters)):
                variable = self.trial.catalogue.get(name)
                if variable is None or variable.kind == "event":
                    continue
                # a column present but empty is not named here: telling it needs a scan of the data
                if name not in columns:
                    rows.append({"criterion": criterion.id, "label": criterion.display_label,
                                 "variable": name, "unknown": unknown, "subjects": n})
        return rows

    # --- internals -------------------------------------------------------------------------------
    def _require(self, criterion: str) -> str:
        self.trial.criterion(criterion)
        return criterion

    def _trial(self, ref: str) -> Trial:
        if ref in self._extra_trials:
            return self._extra_trials[ref]
        if ref in bundled_trials():
            # loaded once per state: `apply` tells a changed trial by identity
            self._extra_trials[ref] = load_trial(ref)
            return self._extra_trials[ref]
        trial = load_trial(self.readable(ref, "trial file"))
        # a trial opened by path is listed by its id from now on (the picker shows ids)
        self._extra_trials[trial.id] = self._extra_trials[ref] = trial
        return trial

    def allow(self, folder: str | Path) -> None:
        """Let paths under this folder be read (an upload's folder)."""
        if self.roots is not None:
            self.roots.append(Path(folder).resolve())

    def readable(self, path: str | Path, what: str = "data path", *, must_exist: bool = True) -> Path:
        """A user-given path resolved against the start folder, refused when outside the allowed roots.

        The message never shows anything read from the file, only the path as given.
        """
        given = Path(path).expanduser()
        resolved = (given if given.is_absolute() else base_dir() / given).resolve()
        if self.roots is not None and not any(resolved.is_relative_to(root) for root in self.roots):
            raise DataError(f"this dashboard may not read {what}s outside {', '.join(map(str, self.roots))}; "
                            f"relative paths are read from {base_dir()}; start the dashboard with "
                            f"--allow FOLDER to add a folder", file=str(path))
        if must_exist and not resolved.exists():
            raise DataError(f"no such file or folder (relative paths are read from {base_dir()}); give the "
                            f"path of a {what} the loaders read", file=str(path))
        return resolved

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
        # relative paths are read from the start folder; a served dashboard reads only its allowed roots
        readable = (replace(source, path=str(self.readable(source.path, must_exist=False)))
                    if source.kind == "path" else source)
        loaded = self._loader(readable)
        loaded = loaded if isinstance(loaded, tuple) else (loaded,)
        screening, cohort, report = (*loaded, None, None)[:3]
        self._screenings[source] = (screening, cohort)
        self._reports[source] = report
        while len(self._screenings) > SCREENING_CACHE:
            dropped, _ = self._screenings.popitem(last=False)
            self._reports.pop(dropped, None)
        return screening, cohort

    @staticmethod
    def _statistics(matrix, scenario: Scenario, trial: Trial) -> dict:
        """The results the header and the funnel show after any change; the rest is on demand (see above)."""
        enabled, order, policies = enabled_ids(trial, scenario), funnel_order(trial, scenario), dict(scenario.policies)
        return {
            "funnel": engine.funnel(matrix, order=order, enabled=enabled, policies=policies),
            "counts": engine.final_counts(matrix, enabled=enabled, policies=policies),
        }
