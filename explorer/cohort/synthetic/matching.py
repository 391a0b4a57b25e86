"""Which built-in synthetic population a trial screens: its condition, or the diabetes type its rules ask for."""

from __future__ import annotations

from typing import Any


def population_for(trial: Any) -> str:
    """"t2d" for type 2 diabetes trials (by title, conditions or a `diabetes_type == "T2D"` rule), else "t1d"."""
    text = " ".join([trial.title or "", *trial.conditions]).lower()
    expressions = " ".join(c.expression or "" for c in trial.criteria)
    return "t2d" if "type 2" in text or '"T2D"' in expressions or "'T2D'" in expressions else "t1d"
