"""Responder and composite endpoints, chosen by the variables a trial's outcomes measure.

An endpoint is computed when every group of its `needs` is covered by the trial's outcome variables (a
group is satisfied by any one of its variables): the islet trial's HbA1c, severe hypoglycaemia, insulin
dose and C-peptide outcomes give CIT-07 and the Igls classes; the MSC trial's HbA1c and insulin dose give
insulin reduction and Zang et al.'s composite. No code names a trial. A trial outcome with
`summary: responder` reports the endpoints its own variables allow.

Inputs are per subject x visit grids (explorer.outcomes.measures); the formulas are those of
explorer.outcomes.clinical, so unknown inputs give unknown flags (Kleene logic), never a silent class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.outcomes import clinical

# CIT-07 (Hering et al., Diabetes Care 2016;39:1230) counts severe hypoglycaemia from day 28 after the
# first infusion; the same assessment period is used for the Igls "no severe hypoglycaemia" condition.
EVENT_FREE_FROM_DAY = 28
INSULIN_REDUCTION = 0.5  # Zang et al., Stem Cell Res Ther 2022: >= 50 % less insulin than at baseline


@dataclass(frozen=True)
class Endpoint:
    id: str
    label: str
    needs: tuple[tuple[str, ...], ...]  # every group must be measured; a group by any of its variables
    source: str
    # Stopping or cutting insulin is only defined for someone who took insulin at baseline: subjects known
    # to have had none are not at risk and are left out (a missing baseline dose keeps them, as unknown).
    insulin_treated_only: bool = False

    def applies(self, variables: set[str]) -> bool:
        return all(any(v in variables for v in group) for group in self.needs)


IGLS_NEEDS = (("hba1c",), ("severe_hypoglycemia",), ("insulin_dose", "insulin_dose_per_kg"),
              ("fasting_cpeptide", "postmeal_cpeptide"))

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("cit07", "HbA1c < 7.0 % and no severe hypoglycaemia since day 28 (CIT-07)",
             (("hba1c",), ("severe_hypoglycemia",)), "Hering et al., Diabetes Care 2016;39:1230"),
    Endpoint("insulin_independent", "Insulin independent (no exogenous insulin)", (("insulin_dose",),),
             "Rickels et al., Transplantation 2018;102:1479", insulin_treated_only=True),
    Endpoint("insulin_reduction_50", "Insulin dose >= 50 % below baseline", (("insulin_dose",),),
             "Zang et al., Stem Cell Res Ther 2022", insulin_treated_only=True),
    Endpoint("hba1c_below_7_insulin_halved", "HbA1c < 7.0 % with >= 50 % less insulin",
             (("hba1c",), ("insulin_dose",)), "Zang et al., Stem Cell Res Ther 2022", insulin_treated_only=True),
    Endpoint("igls_success", "Igls success: optimal or good graft function", IGLS_NEEDS,
             "Rickels et al., Transplantation 2018;102:1479"),
    Endpoint("igls_cgm_success", "Igls success with the CGM targets (Igls 2.0)", (*IGLS_NEEDS, ("tir",)),
             "Landstra et al., J Clin Endocrinol Metab 2021;106:3049"),
)
ENDPOINT_LABELS = {e.id: e.label for e in ENDPOINTS}
ENDPOINTS_BY_ID = {e.id: e for e in ENDPOINTS}
# Per-visit values an endpoint reads besides its needs, used where the data have them.
OPTIONAL_INPUTS = ("insulin_dose_per_kg", "weight", "tbr_54")
# Every variable an endpoint may read: collected per visit whenever the data have it.
READS = tuple(sorted({v for e in ENDPOINTS for group in e.needs for v in group} | set(OPTIONAL_INPUTS)))
CLASS_SCHEMES = {"igls_success": "igls", "igls_cgm_success": "igls_cgm"}


def applicable(variables: set[str]) -> list[Endpoint]:
    return [e for e in ENDPOINTS if e.applies(variables)]


@dataclass(frozen=True)
class Inputs:
    """What endpoints read: value grids (subjects x visits, NaN unknown) and severe-hypoglycaemia counts."""

    grids: Mapping[str, np.ndarray]
    events_since_day28: np.ndarray      # severe hypoglycaemic events from day 28 to the visit
    years_since_day28: np.ndarray
    severe_hypo_baseline_per_year: np.ndarray  # per subject; NaN where the year before is not known

    def get(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        return self.grids[name] if name in self.grids else np.full(shape, np.nan)


def compute(endpoints: list[Endpoint], inputs: Inputs, shape: tuple[int, int]
            ) -> tuple[dict[str, pd.Series], dict[str, np.ndarray], dict[str, pd.Categorical]]:
    """Per endpoint (subjects x visits, flattened): the flag (pandas boolean, Kleene: <NA> only where the
    known inputs do not decide it) and whether every input it reads is known; plus the Igls classes."""
    flags, complete, classes = {}, {}, {}
    for endpoint in endpoints:
        result = _RULES[endpoint.id](inputs, shape)
        if isinstance(result, tuple):
            flags[endpoint.id], classes[CLASS_SCHEMES[endpoint.id]] = result
        else:
            flags[endpoint.id] = result
        complete[endpoint.id] = np.all([~np.isnan(np.asarray(a, dtype=float)).ravel()
                                        for a in _INPUTS[endpoint.id](inputs, shape)], axis=0)
    return flags, complete, classes


# --- rules ----------------------------------------------------------------------------------------------

def _flat(values: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float).ravel())


def _baseline(grid: np.ndarray) -> np.ndarray:
    return np.repeat(grid[:, :1], grid.shape[1], axis=1)


def _cit07(inputs: Inputs, shape) -> pd.Series:
    return clinical.cit07_endpoint(hba1c=_flat(inputs.get("hba1c", shape)),
                                   severe_hypo=_flat(inputs.events_since_day28))


def _independent(inputs: Inputs, shape) -> pd.Series:
    return clinical.insulin_independent(_flat(inputs.get("insulin_dose", shape)))


def _reduction(inputs: Inputs, shape) -> pd.Series:
    dose = inputs.get("insulin_dose", shape)
    return clinical.insulin_reduction_responder(_flat(dose), _flat(_baseline(dose)), fraction=INSULIN_REDUCTION)


def _composite(inputs: Inputs, shape) -> pd.Series:
    a1c = _flat(inputs.get("hba1c", shape))
    below = pd.Series(pd.arrays.BooleanArray((a1c < clinical.CIT07_HBA1C).to_numpy(), a1c.isna().to_numpy()))
    return (below & _reduction(inputs, shape)).rename("hba1c_below_7_insulin_halved")


def _insulin_per_kg(inputs: Inputs, shape) -> np.ndarray:
    """Igls states insulin in U/kg/day: the measured per-kg dose, else the daily dose over body weight."""
    per_kg = inputs.get("insulin_dose_per_kg", shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = inputs.get("insulin_dose", shape) / inputs.get("weight", shape)
    return np.where(np.isnan(per_kg), derived, per_kg)


def _c_peptide(inputs: Inputs, shape) -> np.ndarray:
    """Stimulated C-peptide where measured (the more sensitive sign of graft function), else fasting."""
    stimulated = inputs.get("postmeal_cpeptide", shape)
    return np.where(np.isnan(stimulated), inputs.get("fasting_cpeptide", shape), stimulated)


def _igls_inputs(inputs: Inputs, shape) -> dict:
    insulin, c_peptide, a1c = _insulin_per_kg(inputs, shape), _c_peptide(inputs, shape), inputs.get("hba1c", shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = inputs.events_since_day28 / inputs.years_since_day28
    baseline_rate = np.repeat(inputs.severe_hypo_baseline_per_year[:, None], shape[1], axis=1)
    return dict(hba1c=_flat(a1c), severe_hypo=_flat(rate), insulin=_flat(insulin), c_peptide=_flat(c_peptide),
                hba1c_baseline=_flat(_baseline(a1c)), severe_hypo_baseline=_flat(baseline_rate),
                insulin_baseline=_flat(_baseline(insulin)), c_peptide_baseline=_flat(_baseline(c_peptide)))


def _igls(inputs: Inputs, shape):
    classes = clinical.igls_class(**_igls_inputs(inputs, shape))
    return clinical.igls_success(classes), classes.array


def _igls_cgm(inputs: Inputs, shape):
    classes = clinical.igls_cgm_class(**_igls_inputs(inputs, shape), tir=_flat(inputs.get("tir", shape)),
                                      tbr_54=_flat(inputs.get("tbr_54", shape)))
    return clinical.igls_success(classes), classes.array


def _igls_success_inputs(inputs: Inputs, shape) -> list:
    """What decides optimal or good: everything but the baseline severe-hypoglycaemia rate, which only
    separates marginal from failure."""
    values = _igls_inputs(inputs, shape)
    return [values[k] for k in ("hba1c", "severe_hypo", "insulin", "c_peptide", "insulin_baseline",
                                "c_peptide_baseline")]


# The inputs each endpoint reads, for complete-case summaries.
_INPUTS: dict[str, Callable] = {
    "cit07": lambda i, shape: [i.get("hba1c", shape), i.events_since_day28],
    "insulin_independent": lambda i, shape: [i.get("insulin_dose", shape)],
    "insulin_reduction_50": lambda i, shape: [i.get("insulin_dose", shape), _baseline(i.get("insulin_dose", shape))],
    "hba1c_below_7_insulin_halved": lambda i, shape: [i.get("hba1c", shape), i.get("insulin_dose", shape),
                                                      _baseline(i.get("insulin_dose", shape))],
    "igls_success": _igls_success_inputs,
    "igls_cgm_success": lambda i, shape: [*_igls_success_inputs(i, shape), i.get("tir", shape), i.get("tbr_54", shape)],
}

_RULES: dict[str, Callable] = {
    "cit07": _cit07, "insulin_independent": _independent, "insulin_reduction_50": _reduction,
    "hba1c_below_7_insulin_halved": _composite, "igls_success": _igls, "igls_cgm_success": _igls_cgm,
}
