"""The eligibility matrix: every criterion evaluated once over a cohort, one int8 status per subject.

`evaluate(trial, screening)` runs each computable criterion through an engine (in memory or DuckDB)
and stores the *raw* status (explorer.engine.status: FAIL 0, PASS 1, UNKNOWN 2, ASSUMED 3), so unknown
policies and assumptions are applied later, by the statistics, without evaluating anything again.
Changing one threshold re-evaluates one criterion (`with_parameter`); toggling, reordering and every
statistic work on the matrix's pattern histogram (explorer.engine.patterns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from explorer.engine.bits import BitColumns
from explorer.engine.patterns import PatternHistogram, histogram, pack, set_packed_column
from explorer.engine.status import ASSUMED, STATUS_NAMES, check_assumption, check_policy, status_from_truth
from explorer.errors import DefinitionError

ENGINES = ("memory", "duckdb", "spark")


@dataclass(frozen=True)
class CriterionInfo:
    """What the statistics need to know about a criterion; a snapshot, so the matrix is self-contained."""

    id: str
    kind: str                      # "inclusion" | "exclusion"
    text: str = ""
    label: str = ""
    expression: str | None = None  # None: not computable
    parameters: tuple[tuple[str, float], ...] = ()
    unknown: str = "unknown"       # unknown policy
    assumption: str = "pass"       # for non-computable criteria
    enabled: bool = True           # False: switched off in the trial file; statistics leave it out by default

    @property
    def computable(self) -> bool:
        return self.expression is not None

    @classmethod
    def of(cls, criterion: Any) -> CriterionInfo:
        label = getattr(criterion, "display_label", None) or getattr(criterion, "label", None) or criterion.text
        computable = bool(getattr(criterion, "computable", criterion.expression is not None))
        return cls(
            id=criterion.id, kind=criterion.kind, text=" ".join(str(criterion.text).split()), label=str(label),
            expression=criterion.expression if computable else None,
            parameters=tuple(sorted((k, float(v)) for k, v in criterion.parameter_values().items())),
            unknown=check_policy(getattr(criterion, "unknown", "unknown"), criterion=criterion.id),
            assumption=check_assumption(getattr(criterion, "assumption", "pass"), criterion=criterion.id),
            enabled=bool(getattr(criterion, "enabled", True)),
        )

    def needs_evaluation_after(self, other: CriterionInfo) -> bool:
        """Whether going from `other` to self changes any subject's raw status."""
        return (self.expression, self.parameters, self.kind) != (other.expression, other.parameters, other.kind)


class Backend(Protocol):
    """An engine: evaluates criteria into truth codes (1 true, 0 false, 2 unknown), in subject order."""

    name: str

    def subject_ids(self) -> pd.Index: ...

    def truth_codes(self, criteria: Sequence[Any], catalogue: Any, progress: Any = None) -> list[np.ndarray]: ...


def make_backend(engine: str, source: Any, catalogue: Any, **options: Any) -> Backend:
    """The named engine over a source; options go to the engine (spark: master=, spark=, partitions=)."""
    if engine == "spark":
        from explorer.engine.spark import SparkBackend
        return SparkBackend(source, catalogue, **options)
    if options:
        raise DefinitionError(f"engine {engine!r} takes no options; got {sorted(options)}", field="engine")
    if engine == "memory":
        from explorer.engine.memory import MemoryBackend
        return MemoryBackend(source, catalogue)
    if engine == "duckdb":
        from explorer.engine.duck import DuckDBBackend
        return DuckDBBackend(source, catalogue)
    raise DefinitionError(f"engine {engine!r}; use one of {list(ENGINES)}", field="engine")


def _status_columns(backend: Backend, trial: Any, criteria: Sequence[Any], progress: bool) -> list[np.ndarray]:
    """Raw status codes of the given criteria (ASSUMED for non-computable ones)."""
    n = len(backend.subject_ids())
    computable = [c for c in criteria if c.computable]
    bar = None
    if progress and criteria:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(criteria), desc=f"evaluating {getattr(trial, 'id', 'trial')}", unit="criterion")
    try:
        # each criterion's truth codes are let go as its status is made: holding every truth array until the
        # end held a second copy of the matrix (0.2 GB at 10^7 subjects and 20 criteria)
        truths = list(backend.truth_codes(computable, trial.catalogue, progress=bar))[::-1]
        columns = []
        for c in criteria:
            if c.computable:
                columns.append(status_from_truth(truths.pop(), c.kind))
            else:
                columns.append(np.full(n, ASSUMED, dtype=np.int8))
                if bar is not None:
                    bar.update(1)
        return columns
    finally:
        if bar is not None:
            bar.close()


def evaluate(trial: Any, screening: Any, engine: str = "memory", progress: bool = False,
             **options: Any) -> EligibilityMatrix:
    """Evaluate every criterion of `trial` over a cohort into an EligibilityMatrix.

    `screening` is an explorer.cohort.screening.Screening, or the path of a folder in the Parquet/CSV
    layout of explorer.engine.layout (write_screening). engine="memory" evaluates with NumPy;
    engine="duckdb" / "spark" compile each criterion to SQL and let DuckDB / Spark read the files
    (`options` go to the engine, e.g. master="spark://host:7077"). All give the same matrix.
    progress=True shows a tqdm bar over the criteria. For cohorts too large to hold one status per
    subject, explorer.engine.histogram.evaluate_histogram brings back only the pattern histogram.
    """
    if isinstance(screening, (str, Path)) and engine == "memory":
        from explorer.engine.layout import read_screening
        screening = read_screening(screening, catalogue=trial.catalogue)
    backend = make_backend(engine, screening, trial.catalogue, **options)
    criteria = list(trial.criteria)
    columns = _status_columns(backend, trial, criteria, progress)
    return EligibilityMatrix(backend.subject_ids(), columns, [CriterionInfo.of(c) for c in criteria],
                             trial=trial, backend=backend)


class CriteriaHeld:
    """What every matrix kind (subject columns or a pattern histogram) knows of its criteria and engine.

    Subclasses set `criteria`, `trial`, `backend` and `_position` ({id: column}) in their constructors,
    and define `with_trial` and `with_policies`.
    """

    criteria: tuple[CriterionInfo, ...]
    trial: Any
    backend: Any
    _position: dict[str, int]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria)

    @property
    def engine(self) -> str:
        return getattr(self.backend, "name", "memory")

    def __len__(self) -> int:
        return self.n_subjects

    def index(self, criterion_id: str) -> int:
        if criterion_id not in self._position:
            raise DefinitionError(f"no criterion {criterion_id!r}; the matrix has {list(self.ids)}",
                                  criterion=criterion_id)
        return self._position[criterion_id]

    def criterion(self, criterion_id: str) -> CriterionInfo:
        return self.criteria[self.index(criterion_id)]

    def with_parameter(self, trial: Any, criterion_id: str, name: str, value: float):
        """Change one threshold: a new matrix (whose `.trial` is the edited trial) with that criterion
        evaluated again. `trial` is the trial the matrix was built from (None: the matrix's own)."""
        base = trial if trial is not None else self.trial
        return self.with_trial(base.with_parameter(criterion_id, name, value))

    def _criteria_with(self, unknown: Mapping[str, str] | None,
                       assumption: Mapping[str, str] | None) -> list[CriterionInfo]:
        """The criteria under other unknown policies / assumptions (each checked); for `with_policies`."""
        criteria = list(self.criteria)
        for cid, policy in (unknown or {}).items():
            i = self.index(cid)
            criteria[i] = replace(criteria[i], unknown=check_policy(policy, criterion=cid))
        for cid, assumed in (assumption or {}).items():
            i = self.index(cid)
            criteria[i] = replace(criteria[i], assumption=check_assumption(assumed, criterion=cid))
        return criteria


class EligibilityMatrix(CriteriaHeld):
    """Subjects x criteria raw status codes (int8), with the trial and engine that produced them.

    Immutable: every `with_*` method returns a new matrix sharing the unchanged columns.
    """

    def __init__(self, subject_ids: pd.Index, columns: Sequence[np.ndarray], criteria: Sequence[CriterionInfo],
                 *, trial: Any = None, backend: Backend | None = None, packed: np.ndarray | None = None):
        if len(columns) != len(criteria):
            raise ValueError("one column per criterion")
        n = len(subject_ids)
        cols = []
        for c in columns:
            col = np.asarray(c, dtype=np.int8)
            if col.shape != (n,):
                raise ValueError(f"a status column has shape {col.shape}, expected ({n},)")
            col.setflags(write=False)  # columns are shared between matrices; nobody may write them
            cols.append(col)
        self.subject_ids = subject_ids
        self.columns: tuple[np.ndarray, ...] = tuple(cols)
        self.criteria: tuple[CriterionInfo, ...] = tuple(criteria)
        self.trial = trial
        self.backend = backend
        self._packed = packed
        self._position = {c.id: i for i, c in enumerate(self.criteria)}

    # --- looking at it --------------------------------------------------------------------------
    @property
    def n_subjects(self) -> int:
        return len(self.subject_ids)

    def __repr__(self) -> str:
        trial = getattr(self.trial, "id", "?")
        return (f"<EligibilityMatrix trial={trial} subjects={self.n_subjects} criteria={len(self.criteria)} "
                f"engine={self.engine}>")

    def column(self, criterion_id: str) -> np.ndarray:
        return self.columns[self.index(criterion_id)]

    @property
    def codes(self) -> np.ndarray:
        """(subjects, criteria) int8 array of raw codes (a copy, column-major)."""
        if not self.columns:
            return np.zeros((self.n_subjects, 0), dtype=np.int8)
        return np.stack(self.columns, axis=1).astype(np.int8, order="F")

    def to_frame(self, *, names: bool = False) -> pd.DataFrame:
        """The raw matrix as a DataFrame (subject_id x criterion id); names=True gives 'pass'/'fail'/..."""
        frame = pd.DataFrame({c.id: col for c, col in zip(self.criteria, self.columns, strict=True)},
                             index=self.subject_ids)
        if names:
            frame = frame.apply(lambda s: s.map(STATUS_NAMES))
        return frame

    # --- the pattern histogram every statistic uses ----------------------------------------------
    @property
    def packed(self) -> np.ndarray:
        if self._packed is None:
            codes = np.zeros((self.n_subjects, 0), np.int8) if not self.columns else None
            self._packed = pack(codes if codes is not None else np.column_stack(self.columns))
        return self._packed

    @cached_property
    def histogram(self) -> PatternHistogram:
        return histogram(self.packed, len(self.criteria))

    @cached_property
    def bits(self) -> BitColumns:
        return BitColumns.of(self.columns, self.n_subjects)

    # --- new matrices -------------------------------------------------------------------------------
    def _with_columns(self, criteria: Sequence[CriterionInfo], columns: Sequence[np.ndarray], trial: Any,
                      keep: Sequence[int | None]) -> EligibilityMatrix:
        """A matrix sharing this one's work: keep[j] is the old index of an unchanged column j (or None)."""
        packed = None
        same_layout = len(keep) == len(self.criteria) and all(k in (j, None) for j, k in enumerate(keep))
        if self._packed is not None and same_layout:
            # same layout: rewrite only the changed criteria's two bits instead of packing everything again
            packed = self._packed.copy()
            for j, k in enumerate(keep):
                if k is None:
                    set_packed_column(packed, j, columns[j])
        matrix = EligibilityMatrix(self.subject_ids, columns, criteria, trial=trial, backend=self.backend,
                                   packed=packed)
        if "bits" in self.__dict__:
            matrix.__dict__["bits"] = BitColumns.of(matrix.columns, self.n_subjects, reuse=self.bits, keep=keep)
        return matrix

    def with_trial(self, trial: Any, *, progress: bool = False) -> EligibilityMatrix:
        """The matrix of an edited trial, re-evaluating only the criteria whose rule or parameters changed.

        A criterion whose only change is its unknown policy or assumption is not evaluated again.
        """
        if self.backend is None:
            raise DefinitionError("this matrix was built without an engine; evaluate the trial again")
        infos = [CriterionInfo.of(c) for c in trial.criteria]
        old = {c.id: i for i, c in enumerate(self.criteria)}
        keep = [old[info.id] if info.id in old and not info.needs_evaluation_after(self.criteria[old[info.id]])
                else None for info in infos]
        stale = [j for j, k in enumerate(keep) if k is None]
        fresh = dict(zip(stale, _status_columns(self.backend, trial, [trial.criteria[j] for j in stale], progress),
                         strict=True))
        columns = [fresh[j] if k is None else self.columns[k] for j, k in enumerate(keep)]
        return self._with_columns(infos, columns, trial, keep)

    def with_policies(self, unknown: Mapping[str, str] | None = None,
                      assumption: Mapping[str, str] | None = None) -> EligibilityMatrix:
        """The same statuses counted under other unknown policies / assumptions (nothing re-evaluated)."""
        matrix = EligibilityMatrix(self.subject_ids, self.columns, self._criteria_with(unknown, assumption),
                                   trial=self.trial, backend=self.backend, packed=self._packed)
        for cached in ("histogram", "bits"):  # raw codes are unchanged, so are their summaries
            if cached in self.__dict__:
                matrix.__dict__[cached] = self.__dict__[cached]
        return matrix

