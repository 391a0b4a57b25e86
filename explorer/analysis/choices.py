"""A scenario's eligibility choices (edited trial, enabled criteria, order, policies) in the engine's terms.

explorer.app.scenario.Scenario records edits relative to the trial file; the engine's statistics take an
edited trial and `enabled` / `order` / `policies`. `choices_of` turns one into the other the way
explorer.app.state.ExplorerState does (settings applied in order; the scenario's order first, then the
remaining criteria in the trial's order), so analysis results equal the dashboard's numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from explorer.errors import DefinitionError
from explorer.trial import Trial, load_trial


@dataclass(frozen=True)
class Choices:
    """What the statistics need from a scenario; `min_cell` / `cell_method` are its small-cell protection."""

    trial: Trial
    enabled: tuple[str, ...]
    order: tuple[str, ...]
    policies: Mapping[str, str] = field(default_factory=dict)
    min_cell: int = 0
    cell_method: str = "round"
    data: Any = None  # the scenario's data source, when it came from one

    def selection(self) -> dict:
        """Keyword arguments for explorer.engine.funnel / final_counts / eligible_mask."""
        return {"enabled": list(self.enabled), "policies": dict(self.policies)}


def choices(trial: Trial, *, enabled: Iterable[str] | None = None, order: Iterable[str] = (),
            policies: Mapping[str, str] | None = None, min_cell: int = 0, cell_method: str = "round") -> Choices:
    """Choices from plain values: `enabled` default every criterion, `order` default the trial's."""
    ids = [c.id for c in trial.criteria]
    chosen = list(order)
    for cid in [*chosen, *(enabled or ()), *(policies or {})]:
        trial.criterion(cid)  # raises DefinitionError naming the criteria the trial has
    full_order = chosen + [c for c in ids if c not in chosen]
    kept = ids if enabled is None else [c for c in ids if c in set(enabled)]
    return Choices(trial, tuple(kept), tuple(full_order), dict(policies or {}), min_cell, cell_method)


def choices_of(scenario: Any, base_trial: Trial | None = None) -> Choices:
    """The Choices of an explorer.app.scenario.Scenario (or already Choices, returned as they are).

    `base_trial` is the trial as loaded from its file; default: load_trial(scenario.trial).
    """
    if isinstance(scenario, Choices):
        return scenario
    base = base_trial if base_trial is not None else load_trial(scenario.trial)
    if base.id != scenario.trial:
        raise DefinitionError(f"the scenario is for trial {scenario.trial!r}, the trial given is {base.id!r}",
                              field="trial")
    trial = base
    for criterion, parameter, value in scenario.settings:
        trial = trial.with_parameter(criterion, parameter, value)
    made = choices(trial, enabled=[c.id for c in trial.criteria if c.id not in scenario.disabled],
                   order=[c for c in scenario.order if c in {x.id for x in trial.criteria}],
                   policies=dict(scenario.policies), min_cell=scenario.min_cell, cell_method=scenario.cell_method)
    return Choices(made.trial, made.enabled, made.order, made.policies, made.min_cell, made.cell_method,
                   data=scenario.data)


def matrix_for(matrix, chosen: Choices):
    """The matrix of the chosen (edited) trial, re-evaluating only criteria whose rule or threshold differ."""
    if matrix.trial is chosen.trial:
        return matrix
    if matrix.trial is not None and matrix.trial.id != chosen.trial.id:
        raise DefinitionError(f"the matrix is for trial {matrix.trial.id!r}, the scenario for {chosen.trial.id!r}; "
                              "compare scenarios of one trial over one cohort", field="trial")
    return matrix.with_trial(chosen.trial)
