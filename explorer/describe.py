"""Trials and the variable catalogue as DataFrames: what the CLI prints and notebooks show."""

from __future__ import annotations

import pandas as pd

from explorer.trial import Trial, variable_catalogue


def criteria_table(trial: Trial) -> pd.DataFrame:
    """One row per criterion: id, kind, computable, expression, parameters, unknown policy, text."""
    return pd.DataFrame([{
        "id": c.id, "kind": c.kind, "computable": c.computable,
        "expression": c.expression if c.computable else f"(not computable: assumed {c.assumption})",
        "parameters": ", ".join(f"{n}={p.value:g}{' ' + p.unit if p.unit else ''}" for n, p in c.parameters.items()),
        "unknown_policy": c.unknown, "text": " ".join(c.text.split()),
    } for c in trial.criteria])


def outcomes_table(trial: Trial) -> pd.DataFrame:
    return pd.DataFrame([{"id": o.id, "kind": o.kind, "name": o.name, "variables": ", ".join(o.variables),
                          "summary": o.summary, "time_frame": o.time_frame or ""} for o in trial.outcomes])


def catalogue_table(trial: Trial | None = None) -> pd.DataFrame:
    """Every variable an expression may use (with a trial's own variables when given)."""
    return pd.DataFrame([{
        "name": v.name, "kind": v.kind, "unit": v.unit or "",
        "range": "" if v.range is None else f"{v.range[0]:g}-{v.range[1]:g}",
        "categories": ", ".join(v.categories), "role": v.role, "description": v.description,
    } for v in variable_catalogue(trial)])
