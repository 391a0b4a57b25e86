"""Which built-in synthetic population and which response model suit a trial: the one place that reads a
trial's text to choose them (never its id).

- population: "t2d" for type 2 diabetes trials (by title or conditions, or a `diabetes_type == "T2D"` rule),
  else "t1d".
- response model: the first keyword found in the trial's interventions and arms (name, type, description),
  title and conditions: "islet" -> "islet"; "mesenchymal", "stromal", "stem cell", "msc" -> "msc";
  otherwise the population's model (type 2 diabetes -> "msc", type 1 -> "islet").
"""

from __future__ import annotations

from typing import Any

MODEL_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("islet", "islet"), ("mesenchymal", "msc"), ("stromal", "msc"), ("stem cell", "msc"), ("msc", "msc"),
)
POPULATION_MODELS = {"t1d": "islet", "t2d": "msc"}


def population_for(trial: Any) -> str:
    """"t2d" for type 2 diabetes trials (by title, conditions or a `diabetes_type == "T2D"` rule), else "t1d"."""
    text = " ".join([trial.title or "", *trial.conditions]).lower()
    expressions = " ".join(c.expression or "" for c in trial.criteria)
    return "t2d" if "type 2" in text or '"T2D"' in expressions or "'T2D'" in expressions else "t1d"


def trial_text(trial: Any) -> str:
    """Interventions and arms first, then title and conditions, lower case."""
    parts = []
    for arm in trial.arms:
        for intervention in arm.interventions:
            parts += [intervention.name, intervention.type or "", intervention.description or ""]
        parts += [arm.name, arm.type or "", arm.description or ""]
    parts += [trial.title, *trial.conditions]
    return " ".join(p for p in parts if p).lower()


def outcome_model_for(trial: Any) -> str:
    """The response model that suits the trial: a keyword of its text first, then its population's model."""
    text = trial_text(trial)
    for keyword, model in MODEL_KEYWORDS:
        if keyword in text:
            return model
    return POPULATION_MODELS[population_for(trial)]
