"""Unit handling: read a unit string, convert values to the catalogue unit of their variable.

Every conversion is an affine map onto one base unit per quantity (base = scale x value + offset), so a
value in any listed unit converts to any other listed unit of the same quantity. A converted value is
rounded to the precision at which the quantity is reported in the target unit (Quantity.decimals), so
clinically equivalent statements agree: 126 mg/dL -> 6.9938 -> 7.0 mmol/L passes "FPG >= 7.0 mmol/L",
as the criterion's own text (">= 126 mg/dL") admits it. Conversions that only move the decimal point
(pmol/L -> nmol/L, fraction -> %) are exact and not rounded. A unit that is not
listed for the variable's quantity is an error (`UnitError` naming the variable and the unit), never a
guess. Factors and their sources (see also ../shared/REFERENCES.md):

- glucose: mg/dL = mmol/L x 18.016 (molar mass of glucose 180.16 g/mol; 18 is a common rounding).
- HbA1c: NGSP % = 0.09148 x IFCC mmol/mol + 2.152, the IFCC-NGSP master equation (Hoelzel et al.,
  Clin Chem 2004;50:166; NGSP "IFCC standardization of HbA1c"). Its inverse, IFCC = (NGSP - 2.152) /
  0.09148, agrees with the rounded form IFCC = 10.929 x (NGSP - 2.15) to 0.02 mmol/mol over 4-15 %.
  A fraction ("1", as in SDTM standard units) is % / 100.
- C-peptide: 1 nmol/L = 3.02 ng/mL (molar mass about 3,020 g/mol); 1 nmol/L = 1000 pmol/L.
- insulin: 1 microU/mL = 6.0 pmol/L, the harmonised factor (Knopp et al., Clin Chem 2019;65:1565,
  "Insulin units and conversion factors"). The older factor 6.945 is NOT used; convert such data
  yourself before loading if the lab states it. 1 mIU/L = 1 microU/mL.
- creatinine: 1 mg/dL = 88.42 umol/L (molar mass 113.12 g/mol).
- bilirubin: 1 mg/dL = 17.1 umol/L (molar mass 584.66 g/mol).
- uric acid: 1 mg/dL = 59.48 umol/L (molar mass 168.11 g/mol).
- enzymes (ALT, AST): 1 U/L = 1 IU/L; 1 ukat/L = 60 U/L (1 U = 1 umol/min = 16.67 nkat).
- length: 1 in = 2.54 cm exactly (international inch, 1959); weight: 1 lb = 0.45359237 kg exactly.
- blood pressure: 1 kPa = 7.50062 mmHg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue, Variable, default_catalogue
from explorer.errors import UnitError

# --- spelling variants ----------------------------------------------------------------------------
# Keys are compared after `_squash` (lower case, no spaces, micro signs as "u"); values are the
# canonical spellings used in the catalogue and in CONVERSIONS.
_ALIASES: dict[str, str] = {
    # concentrations
    "mg/dl": "mg/dL", "mg/100ml": "mg/dL", "mgperdl": "mg/dL", "mg%": "mg/dL",
    "mmol/l": "mmol/L", "mmolperl": "mmol/L",
    "umol/l": "umol/L", "micromol/l": "umol/L", "mcmol/l": "umol/L", "umolperl": "umol/L",
    "nmol/l": "nmol/L", "pmol/l": "pmol/L",
    "ng/ml": "ng/mL", "ug/l": "ng/mL", "mcg/l": "ng/mL",  # 1 ug/L = 1 ng/mL
    "ng/dl": "ng/dL",
    # insulin activity units: 1 mIU/L = 1 uIU/mL; UCUM writes [iU] or [IU]
    "uu/ml": "microU/mL", "microu/ml": "microU/mL", "uiu/ml": "microU/mL", "microiu/ml": "microU/mL",
    "mu/l": "microU/mL", "miu/l": "microU/mL", "m[iu]/l": "microU/mL", "u[iu]/ml": "microU/mL",
    "uunits/ml": "microU/mL",
    # HbA1c
    "%": "%", "percent": "%", "%hb": "%", "%ofhb": "%", "ngsp%": "%", "dcct%": "%", "%(ngsp)": "%",
    "%(dcct)": "%", "pct": "%",
    "mmol/mol": "mmol/mol", "mmol/molhb": "mmol/mol", "mmol/mol(ifcc)": "mmol/mol", "ifccmmol/mol": "mmol/mol",
    "1": "1", "fraction": "1", "{fraction}": "1", "ratio": "1",
    # enzymes
    "u/l": "U/L", "iu/l": "U/L", "[iu]/l": "U/L", "units/l": "U/L", "ukat/l": "ukat/L",
    # anthropometry
    "cm": "cm", "m": "m",
    "in": "in", "inch": "in", "inches": "in", "[in_i]": "in", "\"": "in",
    "kg": "kg", "g": "g", "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb", "[lb_av]": "lb",
    "kg/m2": "kg/m2", "kg/(m2)": "kg/m2", "kg/m.m": "kg/m2",
    # blood pressure
    "mmhg": "mmHg", "mm[hg]": "mmHg", "kpa": "kPa",
    # time and others
    "years": "years", "year": "years", "yr": "years", "yrs": "years", "y": "years", "a": "years",
    "ml/min/1.73m2": "mL/min/1.73m2", "ml/min/{1.73_m2}": "mL/min/1.73m2", "ml/min/1.73": "mL/min/1.73m2",
    "ml/min": "mL/min", "ml/minute": "mL/min",  # creatinine clearance (not per 1.73 m2)
    "u/day": "U/day", "iu/day": "U/day", "units/day": "U/day", "u/d": "U/day",
    "u/kg/day": "U/kg/day", "iu/kg/day": "U/kg/day", "u/kg/d": "U/kg/day",
    "%/min": "%/min", "%ofmaxdose": "% of max dose",
    # CGM outcome measures (explorer/clinical/cgm_metrics.yaml)
    "mg/dl/h": "mg/dL/h", "events": "events", "events/week": "events/week",
}
# Spellings that mean different things in different places; refuse them rather than pick one.
_AMBIGUOUS = {"mm": "'mm' could be millimetres or mmol/L", "u": "'U' alone could be units or uU/mL",
              "iu": "'IU' alone lacks a volume"}


@dataclass(frozen=True)
class Quantity:
    """One measured quantity: its base unit; per unit, base = scale x value + offset and the decimals
    to which labs report it in that unit (see `report_precision`)."""

    name: str
    base: str
    units: dict[str, tuple[float, float]]
    decimals: dict[str, int]


_GLUCOSE_MG_DL_PER_MMOL_L = 18.016       # molar mass 180.16 g/mol (REFERENCES.md)
_CPEPTIDE_NG_ML_PER_NMOL_L = 3.02        # molar mass ~3,020 g/mol (REFERENCES.md)
_INSULIN_PMOL_L_PER_MICROU_ML = 6.0      # harmonised factor, Knopp et al. Clin Chem 2019 (not 6.945)
_CREATININE_UMOL_L_PER_MG_DL = 88.42     # molar mass 113.12 g/mol
_BILIRUBIN_UMOL_L_PER_MG_DL = 17.1       # molar mass 584.66 g/mol
_URIC_ACID_UMOL_L_PER_MG_DL = 59.48      # molar mass 168.11 g/mol
_NGSP_PER_IFCC, _NGSP_AT_IFCC_ZERO = 0.09148, 2.152  # IFCC-NGSP master equation (Hoelzel 2004)

# decimals: the precision at which the quantity is reported in each unit (glucose 7.0 mmol/L or 126 mg/dL;
# HbA1c 6.5 % or 48 mmol/mol; creatinine 133 umol/L or 1.50 mg/dL). A converted value is rounded to it,
# so that clinically equivalent statements give identical results (docs/data.md, "Units").
QUANTITIES: dict[str, Quantity] = {q.name: q for q in [
    Quantity("glucose", "mmol/L", {"mmol/L": (1.0, 0.0), "mg/dL": (1 / _GLUCOSE_MG_DL_PER_MMOL_L, 0.0)},
             {"mmol/L": 1, "mg/dL": 0}),
    Quantity("glucose_mg", "mg/dL", {"mg/dL": (1.0, 0.0), "mmol/L": (_GLUCOSE_MG_DL_PER_MMOL_L, 0.0)},
             {"mmol/L": 1, "mg/dL": 0}),
    Quantity("hba1c", "%", {"%": (1.0, 0.0), "1": (100.0, 0.0),
                            "mmol/mol": (_NGSP_PER_IFCC, _NGSP_AT_IFCC_ZERO)},
             {"%": 1, "1": 3, "mmol/mol": 0}),
    Quantity("cpeptide", "nmol/L", {"nmol/L": (1.0, 0.0), "pmol/L": (1e-3, 0.0),
                                    "ng/mL": (1 / _CPEPTIDE_NG_ML_PER_NMOL_L, 0.0)},
             {"nmol/L": 2, "pmol/L": 0, "ng/mL": 1}),
    Quantity("insulin", "microU/mL", {"microU/mL": (1.0, 0.0),
                                      "pmol/L": (1 / _INSULIN_PMOL_L_PER_MICROU_ML, 0.0)},
             {"microU/mL": 1, "pmol/L": 0}),
    Quantity("creatinine", "umol/L", {"umol/L": (1.0, 0.0), "mmol/L": (1000.0, 0.0),
                                      "mg/dL": (_CREATININE_UMOL_L_PER_MG_DL, 0.0)},
             {"umol/L": 0, "mmol/L": 3, "mg/dL": 2}),
    Quantity("bilirubin", "umol/L", {"umol/L": (1.0, 0.0), "mg/dL": (_BILIRUBIN_UMOL_L_PER_MG_DL, 0.0)},
             {"umol/L": 0, "mg/dL": 1}),
    Quantity("uric_acid", "umol/L", {"umol/L": (1.0, 0.0), "mmol/L": (1000.0, 0.0),
                                     "mg/dL": (_URIC_ACID_UMOL_L_PER_MG_DL, 0.0)},
             {"umol/L": 0, "mmol/L": 3, "mg/dL": 1}),
    Quantity("enzyme", "U/L", {"U/L": (1.0, 0.0), "ukat/L": (60.0, 0.0)}, {"U/L": 0, "ukat/L": 2}),
    Quantity("length", "cm", {"cm": (1.0, 0.0), "m": (100.0, 0.0), "in": (2.54, 0.0)},
             {"cm": 1, "m": 3, "in": 1}),
    Quantity("mass", "kg", {"kg": (1.0, 0.0), "g": (1e-3, 0.0), "lb": (0.45359237, 0.0)},
             {"kg": 1, "g": 0, "lb": 1}),
    Quantity("pressure", "mmHg", {"mmHg": (1.0, 0.0), "kPa": (7.50062, 0.0)}, {"mmHg": 0, "kPa": 1}),
    Quantity("percent", "%", {"%": (1.0, 0.0), "1": (100.0, 0.0)}, {"%": 1, "1": 3}),
]}


# Which quantity a catalogue variable measures (variables not listed accept only their catalogue unit).
VARIABLE_QUANTITY: dict[str, str] = {
    "fasting_glucose": "glucose", "postmeal_glucose": "glucose", "random_glucose": "glucose",
    "cgm_mean": "glucose_mg",
    "hba1c": "hba1c", "gmi": "hba1c",
    "fasting_cpeptide": "cpeptide", "postmeal_cpeptide": "cpeptide", "random_cpeptide": "cpeptide",
    "fasting_insulin": "insulin", "postmeal_insulin": "insulin",
    "creatinine": "creatinine", "creatinine_uln": "creatinine",
    "bilirubin": "bilirubin", "bilirubin_uln": "bilirubin",
    "uric_acid": "uric_acid",
    "alt": "enzyme", "alt_uln": "enzyme", "ast": "enzyme", "ast_uln": "enzyme",
    "height": "length", "weight": "mass",
    "systolic_bp": "pressure", "diastolic_bp": "pressure",
    "tir": "percent", "tbr_70": "percent", "tbr_54": "percent", "tar_180": "percent", "tar_250": "percent",
    "cgm_cv": "percent", "cgm_active": "percent",
}


def _squash(text: str) -> str:
    text = str(text).strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")
    return text.replace("^2", "2").replace("²", "2")


def canonical_unit(text: object, *, variable: str | None = None) -> str:
    """The canonical spelling of a unit string ("mg/dl" -> "mg/dL", "µmol/L" -> "umol/L").

    Raises UnitError for a blank, ambiguous or unknown unit, naming the variable when given.
    """
    about = f" for {variable!r}" if variable else ""
    if text is None or (isinstance(text, float) and np.isnan(text)) or str(text).strip() == "":
        raise UnitError(f"the unit{about} is missing; state the unit of every value")
    key = _squash(str(text))
    if key in _AMBIGUOUS:
        raise UnitError(f"unit {text!r}{about} is ambiguous: {_AMBIGUOUS[key]}; write it in full")
    if key in _ALIASES:
        return _ALIASES[key]
    # Accept a canonical spelling directly (case matters only for readability).
    for canonical in set(_ALIASES.values()):
        if key == canonical.lower().replace(" ", ""):
            return canonical
    raise UnitError(f"unknown unit {text!r}{about}; known units are listed in explorer/cohort/units.py")


def conversion(variable: str, unit: str, *, catalogue: Catalogue | None = None) -> tuple[float, float]:
    """(scale, offset) such that value_in_catalogue_unit = scale x value + offset.

    Raises UnitError naming the variable and the unit when the unit is unknown or measures another
    quantity (e.g. HbA1c in mg/dL).
    """
    var = _variable(variable, catalogue)
    source = canonical_unit(unit, variable=variable)
    target = canonical_unit(var.unit, variable=variable)
    if source == target:
        return 1.0, 0.0
    quantity = QUANTITIES.get(VARIABLE_QUANTITY.get(variable, ""))
    if quantity is None or source not in quantity.units or target not in quantity.units:
        known = sorted(quantity.units) if quantity else [target]
        raise UnitError(f"{variable!r} is in {var.unit}; cannot convert from {unit!r} "
                        f"(accepted units: {', '.join(known)})")
    a_source, b_source = quantity.units[source]
    a_target, b_target = quantity.units[target]
    # base = a_s x + b_s ; y = (base - b_t) / a_t
    return a_source / a_target, (b_source - b_target) / a_target


def report_precision(variable: str, unit: str, *, catalogue: Catalogue | None = None) -> int | None:
    """Decimals to which `variable` is reported in `unit` (None: no rounding, e.g. a unit-less score)."""
    quantity = QUANTITIES.get(VARIABLE_QUANTITY.get(variable, ""))
    target = canonical_unit(unit, variable=variable)
    return None if quantity is None else quantity.decimals.get(target)


def round_reported(values, decimals: int | None) -> np.ndarray:
    """Values rounded half away from zero to `decimals` (as a lab rounds: 6.95 -> 7.0, not to even).

    Dividing the rounded integer by an exact power of ten gives the double nearest the decimal, so
    126 mg/dL -> 6.9938 -> 7.0 compares equal to a threshold written 7.0.
    """
    values = np.asarray(values, dtype="float64")
    if decimals is None:
        return values
    factor = 10.0 ** decimals
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.abs(values) * factor
        # a relative 1e-12 nudge keeps 2.675 (stored as 2.67499999...) rounding up, as written
        rounded = np.floor(scaled * (1 + 1e-12) + 0.5) / factor
    return np.copysign(rounded, values)


def exact_conversion(scale: float, offset: float) -> bool:
    """Whether a conversion only moves the decimal point (pmol/L -> nmol/L, % -> fraction): no rounding."""
    if offset != 0.0 or scale <= 0:
        return False
    power = np.log10(scale)
    return bool(abs(power - round(power)) < 1e-9)


def convert_values(values, scale: float, offset: float, decimals: int | None) -> np.ndarray:
    """scale x value + offset, rounded to the target unit's reported precision unless the map is exact."""
    out = np.asarray(values, dtype="float64") * scale + offset
    return out if exact_conversion(scale, offset) or (scale, offset) == (1.0, 0.0) else round_reported(out, decimals)


def convert(values, *, variable: str, unit: str, catalogue: Catalogue | None = None) -> np.ndarray:
    """Values in `unit` converted to the catalogue unit of `variable` (NaN stays NaN), rounded as reported."""
    scale, offset = conversion(variable, unit, catalogue=catalogue)
    target = _variable(variable, catalogue).unit
    return convert_values(values, scale, offset, report_precision(variable, target, catalogue=catalogue))


def convert_between(values, *, quantity: str, source: str, target: str) -> np.ndarray:
    """Values of a quantity (a key of QUANTITIES) from one unit to another, rounded to the precision at
    which the quantity is reported in the target unit (10.0 mmol/L -> 180 mg/dL, not 180.16)."""
    q = QUANTITIES[quantity]
    s, t = canonical_unit(source), canonical_unit(target)
    if s not in q.units or t not in q.units:
        raise UnitError(f"{quantity}: cannot convert {source!r} to {target!r}; units: {sorted(q.units)}")
    (a_s, b_s), (a_t, b_t) = q.units[s], q.units[t]
    return convert_values(values, a_s / a_t, (b_s - b_t) / a_t, q.decimals.get(t))


def to_catalogue_units(measurements: pd.DataFrame, *, catalogue: Catalogue | None = None,
                       file: str | None = None, value_columns=("value", "ref_low", "ref_high"),
                       unrounded: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict[str, int]]:
    """A long measurements table with every value (and reference limit) in its variable's catalogue unit.

    Groups rows by (variable, unit) so the work is one vectorised multiply per group; `unrounded` columns are
    converted without rounding to the reported precision (a censored value's limit). Returns the
    converted table (unit column = catalogue unit) and counts of converted rows per "variable: from -> to".
    Raises UnitError naming the file, the 'unit' column and the first rows of an unknown or
    inconsistent unit.
    """
    catalogue = catalogue or default_catalogue()
    out = measurements.copy()
    counts: dict[str, int] = {}
    if out.empty:
        return out, counts
    units = out["unit"].astype("string").fillna("")
    keys = pd.DataFrame({"variable": out["variable"].astype("string"), "unit": units})
    groups = keys.groupby(["variable", "unit"], sort=False, observed=True).indices
    new_units = np.empty(len(out), dtype=object)
    columns = [c for c in value_columns if c in out.columns]
    arrays = {c: out[c].to_numpy(dtype="float64", na_value=np.nan).copy() for c in columns}
    for (variable, unit), positions in groups.items():
        try:
            scale, offset = conversion(variable, unit, catalogue=catalogue)
        except UnitError as err:
            column = str(out["source_column"].iloc[positions[0]]) if "source_column" in out.columns else "unit"
            raise UnitError(str(err), file=file, column=column, rows=out.index[positions[:5]].tolist()) from None
        target = _variable(variable, catalogue).unit
        if (scale, offset) != (1.0, 0.0):
            decimals = report_precision(variable, target, catalogue=catalogue)
            for c in columns:
                # a censored value's limit is not a reported value: rounding it would move the interval's end
                arrays[c][positions] = (arrays[c][positions] * scale + offset if c in unrounded else
                                        convert_values(arrays[c][positions], scale, offset, decimals))
            label = f"{variable}: {canonical_unit(unit)} -> {target}"
            counts[label] = counts.get(label, 0) + len(positions)
        new_units[positions] = target
    for c in columns:
        out[c] = arrays[c]
    out["unit"] = pd.array(new_units, dtype="string")
    return out, counts


def _variable(name: str, catalogue: Catalogue | None) -> Variable:
    catalogue = catalogue or default_catalogue()
    var = catalogue.get(name)
    if var is None:
        raise UnitError(f"{name!r} is not a catalogue variable, so it has no unit to convert to")
    if var.unit is None:
        raise UnitError(f"{name!r} is a {var.kind} variable and has no unit")
    return var

