"""Clinical indices and responder endpoints per subject: HOMA-IR, KITT, Igls classes, CIT-07, insulin.

Every function takes pandas Series aligned on the subject index (scalars and arrays are accepted and
broadcast) and returns a Series on the union of the input indexes. A missing input gives an unknown
result (NaN for numbers, <NA> for flags and classes), never a silent class: flags are pandas "boolean"
Series combined with Kleene's three-valued logic (False & NA = False, True & NA = NA), so a subject is
classed only when the known inputs already decide the class.

Units are the catalogue's (explorer/catalogue/variables.yaml): glucose mmol/L, insulin microU/mL,
C-peptide nmol/L, HbA1c NGSP %, insulin requirement U/kg/day, severe hypoglycaemic events per year,
CGM percentages 0-100.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from explorer.clinical.homa import homa_ir as clinical_homa_ir
from explorer.errors import DataError

# Bonora et al., J Clin Endocrinol Metab 1989;68:374-378: KITT = 0.693 / t1/2 x 100, t1/2 from the
# least-squares slope of ln(glucose) 3-15 min after 0.1 IU/kg intravenous insulin.
KITT_CONSTANT = 0.693
KITT_WINDOW_MINUTES = (3.0, 15.0)

IGLS_CLASSES = ("optimal", "good", "marginal", "failure")
IGLS_DTYPE = pd.CategoricalDtype(list(IGLS_CLASSES))
# Rickels et al., Transplantation 2018;102:1479 (Igls criteria), Table footnotes: C-peptide above
# baseline "should also be > 0.5 ng/mL (> 0.17 nmol/L) fasting or stimulated"; for "good", insulin
# "should also be < 0.5 U/kg/day".
IGLS_C_PEPTIDE_MIN_NMOL_L = 0.17
IGLS_GOOD_INSULIN_MAX_U_KG_DAY = 0.5
IGLS_OPTIMAL_HBA1C = 6.5
IGLS_GOOD_HBA1C = 7.0
# Landstra et al., J Clin Endocrinol Metab 2021;106:3049 (Igls 2.0, Table 2): CGM targets added to
# optimal (TIR >= 80 %, no time < 54 mg/dL) and good (TIR >= 70 %, < 1 % below 54 mg/dL).
IGLS_CGM_OPTIMAL_TIR = 80.0
IGLS_CGM_GOOD_TIR = 70.0
IGLS_CGM_GOOD_TBR_54 = 1.0

# Hering et al., Diabetes Care 2016;39:1230 (CIT-07): HbA1c < 7.0 % at day 365 and freedom from severe
# hypoglycaemic events from day 28 to day 365.
CIT07_HBA1C = 7.0


# --- indices ----------------------------------------------------------------------------------------

def homa_ir(fasting_glucose, fasting_insulin, on_insulin=None) -> pd.Series:
    """HOMA-IR = fasting glucose (mmol/L) x fasting insulin (microU/mL) / 22.5 (explorer.clinical.homa).

    Not valid under insulin treatment: where `on_insulin` is true the result is NaN. For glucose in
    mg/dL divide by 18.016 first (the often-quoted "/ 405" rounds the factor to 18).
    """
    glucose, insulin = _numbers(fasting_glucose=fasting_glucose, fasting_insulin=fasting_insulin)
    treated = None
    if on_insulin is not None:
        treated = (on_insulin.reindex(glucose.index) if isinstance(on_insulin, pd.Series)
                   else np.broadcast_to(np.asarray(on_insulin, dtype=object), len(glucose)))
    return pd.Series(clinical_homa_ir(glucose, insulin, treated), index=glucose.index, name="homa_ir")


def kitt_from_half_life(half_life_minutes) -> pd.Series:
    """KITT (%/min) = 0.693 / t1/2 x 100 from a reported glucose half-life in minutes (Bonora 1989)."""
    (half_life,) = _numbers(half_life_minutes=half_life_minutes)
    if (half_life <= 0).any():
        raise DataError("a glucose half-life must be positive", column="half_life_minutes",
                        rows=half_life.index[half_life <= 0].tolist())
    return (KITT_CONSTANT / half_life * 100).rename("kitt")


def kitt_from_glucose(itt: pd.DataFrame, *, subject: str = "subject_id", minute: str = "minute",
                      glucose: str = "glucose", window: tuple[float, float] = KITT_WINDOW_MINUTES,
                      min_points: int = 3) -> pd.Series:
    """KITT (%/min) per subject from an insulin tolerance test's glucose series (Bonora et al. 1989).

    `itt` is long: one row per sample with the subject, minutes after the insulin bolus and glucose (any
    unit: the rate constant does not depend on it). The slope k of ln(glucose) on time is fitted by
    least squares to the samples with window[0] <= minute <= window[1]; t1/2 = ln 2 / -k and
    KITT = 0.693 / t1/2 x 100. A subject with fewer than `min_points` samples in the window gets NaN.
    A glucose that does not fall (k >= 0) gives KITT <= 0, a measured absence of response, not NaN.
    """
    missing = [c for c in (subject, minute, glucose) if c not in itt.columns]
    if missing:
        raise DataError(f"the insulin tolerance test table lacks {missing}", column=missing[0])
    samples = itt[[subject, minute, glucose]].dropna()
    nonpositive = samples[glucose] <= 0
    if nonpositive.any():
        raise DataError("glucose must be positive to take its logarithm", column=glucose,
                        rows=samples.index[nonpositive].tolist())
    subjects = pd.Index(itt[subject].dropna().unique(), name=subject)
    in_window = samples[samples[minute].between(*window)]
    x = in_window[minute].astype("float64")
    y = np.log(in_window[glucose].astype("float64"))
    # Closed-form least squares from per-subject sums keeps this one groupby for any cohort size.
    sums = pd.DataFrame({"n": 1.0, "x": x, "y": y, "xx": x * x, "xy": x * y}).groupby(
        in_window[subject]).sum()
    sums = sums.reindex(subjects)
    denominator = sums["n"] * sums["xx"] - sums["x"] ** 2
    slope = (sums["n"] * sums["xy"] - sums["x"] * sums["y"]) / denominator.where(denominator > 0)
    slope = slope.where(sums["n"] >= min_points)
    # 0.693 / (ln 2 / -k) x 100, written so a non-falling glucose gives a value <= 0 instead of a
    # division by a zero or negative half-life.
    return (-slope * KITT_CONSTANT / math.log(2) * 100).rename("kitt")


# --- responder endpoints ----------------------------------------------------------------------------

def cit07_endpoint(*, hba1c, severe_hypo) -> pd.Series:
    """CIT-07 primary endpoint: HbA1c < 7.0 % and no severe hypoglycaemic event (Hering et al. 2016).

    `severe_hypo` is the number of severe hypoglycaemic events in the assessment period (day 28 to day
    365 in CIT-07).
    """
    a1c, events = _numbers(hba1c=hba1c, severe_hypo=severe_hypo)
    return (_less(a1c, CIT07_HBA1C) & _equal(events, 0)).rename("cit07_endpoint")


def insulin_independent(insulin_dose) -> pd.Series:
    """Insulin independence: no exogenous insulin (daily dose == 0)."""
    (dose,) = _numbers(insulin_dose=insulin_dose)
    return _equal(dose, 0).rename("insulin_independent")


def insulin_reduction_responder(insulin_dose, insulin_baseline, *, fraction: float = 0.5) -> pd.Series:
    """Insulin dose reduced by at least `fraction` of baseline (default >= 50 %, Zang et al. 2022).

    Unknown where the baseline dose is missing or zero (no reduction is defined from zero).
    """
    dose, baseline = _numbers(insulin_dose=insulin_dose, insulin_baseline=insulin_baseline)
    reduction = (baseline - dose) / baseline.where(baseline > 0)
    return _at_least(reduction, fraction).rename("insulin_reduction_responder")


# --- Igls beta-cell replacement classes -------------------------------------------------------------

def igls_class(*, hba1c, severe_hypo, insulin, c_peptide, hba1c_baseline, severe_hypo_baseline,
               insulin_baseline, c_peptide_baseline) -> pd.Series:
    """Igls beta-cell graft function class: optimal, good, marginal or failure (Rickels et al. 2018).

    Inputs: HbA1c (%), severe hypoglycaemic events per year, insulin requirement (U/kg/day) and
    C-peptide (nmol/L, fasting or stimulated) at the assessment and at baseline (pre-transplant).

    The table of Rickels 2018 (Table 3) as applied here, first match wins:
      functioning  C-peptide > baseline and > 0.17 nmol/L (footnote b)
      optimal      functioning, HbA1c <= 6.5 %, no severe hypoglycaemia, no insulin
      good         functioning, HbA1c < 7.0 %, no severe hypoglycaemia, insulin < 50 % of baseline
                   and < 0.5 U/kg/day (footnote c)
      marginal     functioning, and fewer severe events than at baseline; where there were none at
                   baseline, HbA1c below baseline instead (footnote f: without baseline
                   hypoglycaemia the indication was glycaemic control)
      failure      otherwise (no C-peptide above baseline, or no benefit over baseline)
    The table's "HbA1c at baseline" and "insulin >= 50 % of baseline" for marginal describe what
    marginal grafts look like rather than extra conditions: a functioning graft that is not good is
    marginal when it still prevents severe hypoglycaemia.

    Returns a categorical Series (IGLS_CLASSES); <NA> where missing inputs leave the class open.
    """
    return _igls(hba1c=hba1c, severe_hypo=severe_hypo, insulin=insulin, c_peptide=c_peptide,
                 hba1c_baseline=hba1c_baseline, severe_hypo_baseline=severe_hypo_baseline,
                 insulin_baseline=insulin_baseline, c_peptide_baseline=c_peptide_baseline,
                 tir=None, tbr_54=None).rename("igls_class")


def igls_cgm_class(*, hba1c, severe_hypo, insulin, c_peptide, hba1c_baseline, severe_hypo_baseline,
                   insulin_baseline, c_peptide_baseline, tir, tbr_54) -> pd.Series:
    """Igls class with the CGM extension of Landstra et al. 2021 (Igls 2.0 glycaemic targets).

    As `igls_class`, with optimal also needing TIR >= 80 % and no time below 54 mg/dL, and good also
    needing TIR >= 70 % and < 1 % of time below 54 mg/dL (`tir`, `tbr_54` in %, from
    explorer.clinical.cgm.cgm_metrics).
    """
    return _igls(hba1c=hba1c, severe_hypo=severe_hypo, insulin=insulin, c_peptide=c_peptide,
                 hba1c_baseline=hba1c_baseline, severe_hypo_baseline=severe_hypo_baseline,
                 insulin_baseline=insulin_baseline, c_peptide_baseline=c_peptide_baseline,
                 tir=tir, tbr_54=tbr_54).rename("igls_cgm_class")


def igls_success(classes: pd.Series) -> pd.Series:
    """Igls treatment success: optimal or good (True), marginal or failure (False), unknown (<NA>)."""
    classes = pd.Series(classes)
    unknown_labels = set(classes.dropna().unique()) - set(IGLS_CLASSES)
    if unknown_labels:
        raise DataError(f"unknown Igls classes {sorted(map(str, unknown_labels))}; expected {IGLS_CLASSES}")
    success = classes.isin(["optimal", "good"]).astype("boolean")
    success[classes.isna()] = pd.NA
    return success.rename("igls_success")


def _igls(*, hba1c, severe_hypo, insulin, c_peptide, hba1c_baseline, severe_hypo_baseline,
          insulin_baseline, c_peptide_baseline, tir, tbr_54) -> pd.Series:
    values = dict(hba1c=hba1c, severe_hypo=severe_hypo, insulin=insulin, c_peptide=c_peptide,
                  hba1c_baseline=hba1c_baseline, severe_hypo_baseline=severe_hypo_baseline,
                  insulin_baseline=insulin_baseline, c_peptide_baseline=c_peptide_baseline)
    with_cgm = tir is not None or tbr_54 is not None
    if with_cgm:
        values.update(tir=tir, tbr_54=tbr_54)
    v = dict(zip(values, _numbers(**values), strict=True))

    functioning = _greater(v["c_peptide"] - v["c_peptide_baseline"], 0) & _greater(
        v["c_peptide"], IGLS_C_PEPTIDE_MIN_NMOL_L)
    no_severe_hypo = _equal(v["severe_hypo"], 0)
    optimal = (functioning & _at_most(v["hba1c"], IGLS_OPTIMAL_HBA1C) & no_severe_hypo
               & _equal(v["insulin"], 0))
    good = (functioning & _less(v["hba1c"], IGLS_GOOD_HBA1C) & no_severe_hypo
            & _less(v["insulin"] - 0.5 * v["insulin_baseline"], 0)
            & _less(v["insulin"], IGLS_GOOD_INSULIN_MAX_U_KG_DAY))
    if with_cgm:
        optimal = optimal & _at_least(v["tir"], IGLS_CGM_OPTIMAL_TIR) & _equal(v["tbr_54"], 0)
        good = (good & _at_least(v["tir"], IGLS_CGM_GOOD_TIR)
                & _less(v["tbr_54"], IGLS_CGM_GOOD_TBR_54))
    had_severe_hypo = _greater(v["severe_hypo_baseline"], 0)
    benefit = ((had_severe_hypo & _less(v["severe_hypo"] - v["severe_hypo_baseline"], 0))
               | (~had_severe_hypo & _less(v["hba1c"] - v["hba1c_baseline"], 0)))
    marginal = functioning & benefit

    # First match wins, and a class is given only once every better class is known to be ruled out.
    classes = pd.Series(pd.Categorical([pd.NA] * len(optimal), dtype=IGLS_DTYPE), index=optimal.index)
    ruled_out = np.ones(len(optimal), dtype=bool)
    for label, condition in (("optimal", optimal), ("good", good), ("marginal", marginal)):
        classes[ruled_out & _surely(condition)] = label
        ruled_out &= _surely(~condition)
    classes[ruled_out] = "failure"
    return classes


# --- three-valued helpers ---------------------------------------------------------------------------

def _numbers(**inputs) -> list[pd.Series]:
    """The inputs as float Series on the union of their indexes (scalars broadcast), NaN = unknown."""
    series = {name: value for name, value in inputs.items() if isinstance(value, pd.Series)}
    if series:
        index = series[next(iter(series))].index
        for value in series.values():
            index = index.union(value.index, sort=False) if not value.index.equals(index) else index
    else:
        lengths = {len(np.atleast_1d(value)) for value in inputs.values()}
        index = pd.RangeIndex(max(lengths))
    out = []
    for name, value in inputs.items():
        if isinstance(value, pd.Series):
            value = value.reindex(index)
        elif np.ndim(value) and len(value) != len(index):
            raise DataError(f"{name} has {len(value)} values but the other inputs have {len(index)}")
        try:
            out.append(pd.Series(value, index=index, dtype="float64", name=name))
        except (TypeError, ValueError) as error:
            raise DataError(f"{name} must be numeric: {error}", column=name) from None
    return out


def _surely(flag: pd.Series) -> np.ndarray:
    """True where the flag is known to be true (unknown counts as not surely true)."""
    return flag.fillna(False).to_numpy(dtype=bool)


def _flag(values: pd.Series, decided: np.ndarray) -> pd.Series:
    unknown = values.isna().to_numpy()
    return pd.Series(pd.arrays.BooleanArray(np.where(unknown, False, decided), unknown),
                     index=values.index)


def _less(values: pd.Series, limit: float) -> pd.Series:
    return _flag(values, values.to_numpy() < limit)


def _at_most(values: pd.Series, limit: float) -> pd.Series:
    return _flag(values, values.to_numpy() <= limit)


def _greater(values: pd.Series, limit: float) -> pd.Series:
    return _flag(values, values.to_numpy() > limit)


def _at_least(values: pd.Series, limit: float) -> pd.Series:
    return _flag(values, values.to_numpy() >= limit)


def _equal(values: pd.Series, target: float) -> pd.Series:
    return _flag(values, values.to_numpy() == target)
