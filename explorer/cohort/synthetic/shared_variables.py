"""Variables both clinic populations draw the same way: dates, body size, glucose and CGM summaries, serum
insulin and HOMA-IR, labs with each lab's reference ranges, history items, events. Each `set_*` writes into a
chunk's `Draw` (explorer.cohort.synthetic.record); t1d.py and t2d.py call them in causal order.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd

from explorer.clinical.age import completed_years as clinical_completed_years
from explorer.clinical.cgm import MIN_ACTIVE_PERCENT
from explorer.clinical.homa import NOT_VALID_ON_INSULIN, homa_ir
from explorer.cohort.synthetic import cgm
from explorer.cohort.synthetic.distributions import bernoulli, expit, logit, round_to
from explorer.cohort.synthetic.params import Condition, PopulationParams
from explorer.cohort.synthetic.record import (
    CGM_INSUFFICIENT,
    INPUT_MISSING,
    NO_CGM,
    NOT_APPLICABLE,
    NOT_RECORDED,
    NOT_TESTED,
    Draw,
    Events,
)
from explorer.cohort.synthetic.streams import Streams

DAYS_PER_YEAR = 365.25


# --- dates ------------------------------------------------------------------------------------------

def index_days(p: PopulationParams, s: Streams, m: int) -> np.ndarray:
    start = np.datetime64(p.index_start, "D").astype(np.int64)
    return start + s("index_date").integers(0, p.index_span_days, size=m)


def whole_days(years: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(years) * DAYS_PER_YEAR).astype(np.int64)


def completed_years(birth_day: np.ndarray, index_day: np.ndarray) -> np.ndarray:
    """Age in completed years at the index date (explorer.clinical.age); both in days since 1970-01-01."""
    return clinical_completed_years(np.asarray(birth_day, dtype=np.int64).astype("datetime64[D]"),
                                    np.asarray(index_day, dtype=np.int64).astype("datetime64[D]"))


# --- anthropometry -----------------------------------------------------------------------------------

# Median height (cm) by age 0..18 for boys and girls, rounded from the 2005 China growth references
# (Li H, Ji CY et al., Chin J Pediatr 2009); adult medians from the China adult surveys (~171/159 cm for
# young adults).
_HEIGHT_AGES = np.arange(0, 19)
_HEIGHT_BOYS = np.array([50, 76, 88, 97, 104, 111, 118, 125, 130, 136, 141, 147, 153, 160, 166, 169, 170, 171, 171.0])
_HEIGHT_GIRLS = np.array([49, 75, 87, 96, 103, 110, 117, 123, 129, 135, 141, 148, 153, 156, 158, 159, 159, 159, 159.0])
# Median BMI (kg/m2) by age for Chinese children (same references, rounded, sexes pooled)
_BMI_AGES = np.array([2, 5, 8, 10, 12, 14, 16, 18.0])
_BMI_MEDIAN = np.array([16.4, 15.5, 16.0, 17.0, 18.0, 19.3, 20.3, 21.0])


def heights(s: Streams, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    a = np.minimum(age, 18.0)
    median = np.where(female, np.interp(a, _HEIGHT_AGES, _HEIGHT_GIRLS), np.interp(a, _HEIGHT_AGES, _HEIGHT_BOYS))
    median = median - 0.1 * np.clip(age - 50, 0, None)  # older adults are shorter (secular trend, ageing)
    return median * (1 + 0.04 * s("height").standard_normal(len(age)))


def child_bmi(s: Streams, age: np.ndarray) -> np.ndarray:
    return np.interp(age, _BMI_AGES, _BMI_MEDIAN) * np.exp(0.12 * s("child_bmi").standard_normal(len(age)))


def set_anthropometry(d: Draw, p: PopulationParams, s: Streams, height: np.ndarray, bmi_true: np.ndarray) -> None:
    """Weight and height as measured; BMI recomputed from the rounded values, as a clinic system would."""
    known = bernoulli(s("vitals_known"), p.recorded_vitals, d.n)
    height_cm = round_to(height, 1)
    weight = round_to(bmi_true * (height_cm / 100) ** 2, 1)
    bmi = round_to(weight / (height_cm / 100) ** 2, 1)
    d.set_number("height", height_cm, known)
    d.set_number("weight", weight, known)
    d.set_number("bmi", bmi, known)
    d.latent["weight"] = weight
    d.latent["bmi"] = bmi
    for name in ("height", "weight", "bmi"):
        d.measured_days_before[name] = np.zeros(d.n, np.int64)


def set_blood_pressure(d: Draw, p: PopulationParams, s: Streams, age: np.ndarray, bmi: np.ndarray,
                       shift: float = 0.0) -> None:
    z = s("blood_pressure").standard_normal((d.n, 2)).T  # subject-major: prefix-stable
    adult = p.sbp_at_40 + p.sbp_per_year * (age - 40)
    child = 102 + 1.2 * (age - 8)  # paediatric SBP rises ~1 mmHg/year of age (assumption)
    sbp = np.where(age < 18, child, adult) + 0.8 * (bmi - 23) + shift + p.sbp_sd * z[0]
    dbp = 0.45 * sbp + 18 + 0.1 * np.clip(age - 18, 0, 40) + 7 * z[1]
    known = bernoulli(s("bp_known"), p.recorded_vitals, d.n)
    d.set_number("systolic_bp", np.clip(sbp, 70, 230), known, decimals=0)
    d.set_number("diastolic_bp", np.clip(dbp, 35, 140), known, decimals=0)
    for name in ("systolic_bp", "diastolic_bp"):
        d.measured_days_before[name] = np.zeros(d.n, np.int64)


# --- glucose ------------------------------------------------------------------------------------------

def estimated_average_glucose_mmol(hba1c: np.ndarray) -> np.ndarray:
    """ADAG: eAG (mg/dL) = 28.7 x HbA1c - 46.7 (Nathan et al., Diabetes Care 2008), in mmol/L."""
    return (28.7 * hba1c - 46.7) / 18.016


def set_cgm(d: Draw, s: Streams, user: np.ndarray, hba1c_true: np.ndarray, gap_sd: float, cv: np.ndarray,
            active_beta: tuple[float, float]) -> None:
    """CGM metrics for users: mean glucose from HbA1c through GMI plus a person's glycation gap."""
    gmi_target = hba1c_true + gap_sd * s("glycation_gap").standard_normal(d.n)
    mean = np.clip(cgm.mean_from_gmi(gmi_target), 80, 350)
    cv = np.clip(cv, 15, 65)
    active = round_to(100 * np.clip(s("cgm_active").beta(*active_beta, size=d.n), 0.2, 1.0), 1)
    sufficient = user & (active >= MIN_ACTIVE_PERCENT)  # the consensus sufficiency rule (explorer.clinical.cgm)
    rows = np.flatnonzero(user)  # the special functions are the costly part: users only
    metrics = cgm.summary_metrics(mean[rows], cv[rows])
    for name, values in metrics.items():
        full = np.full(d.n, np.nan)
        full[rows] = np.round(values, 1)
        d.set_number(name, full, sufficient, NO_CGM)
        d.measured_days_before[name] = np.zeros(d.n, np.int64)
        d.latent[f"{name}_if_worn"] = full
        d.reason_overrides[name] = [(user & ~sufficient, CGM_INSUFFICIENT)]
    d.set_number("cgm_active", active, user, NO_CGM)
    d.measured_days_before["cgm_active"] = np.zeros(d.n, np.int64)
    d.latent["cgm_user"] = user
    d.latent["cgm_mean_true"] = mean
    d.latent["cgm_cv_true"] = cv
    d.latent["cgm_active_true"] = active
    d.latent["cgm_sufficient"] = sufficient


CPEPTIDE_DETECTION_LIMIT = 0.017  # nmol/L, the T1D Exchange assay's (Davis 2015); the T1D clinic's parameter


def censor_low(values: np.ndarray, limit: float) -> np.ndarray:
    """Below the assay's limit a lab reports '<limit': half the limit (Hornung & Reed 1990), the point outcome
    trajectories and displays use (a screening value keeps its interval too: Draw.set_number's detection_limit)."""
    return np.where(values < limit, limit / 2, values)


def set_random_samples(d: Draw, p: PopulationParams, s: Streams, hba1c_true: np.ndarray, cpep_fasting: np.ndarray,
                       stimulation_ratio: float, glucose_spread: float, fasting_cp_known: np.ndarray,
                       panel_days: np.ndarray) -> None:
    """Non-fasting glucose and C-peptide: between the fasting and 2-h values, taken at any time of day."""
    glucose = estimated_average_glucose_mmol(hba1c_true) * np.exp(glucose_spread * s("random_glucose").standard_normal(d.n))
    d.set_number("random_glucose", np.clip(glucose, 2.0, 35.0), bernoulli(s("random_glucose_known"),
                 p.recorded_random_glucose, d.n), decimals=1)
    cp = cpep_fasting * np.exp(np.log((1 + stimulation_ratio) / 2) + 0.3 * s("random_cpeptide").standard_normal(d.n))
    known = ~fasting_cp_known & bernoulli(s("random_cpeptide_known"), p.recorded_random_cpeptide, d.n)
    d.set_number("random_cpeptide", round_to(np.clip(cp, 0, 15), 3), known, detection_limit=CPEPTIDE_DETECTION_LIMIT)
    d.measured_days_before["random_glucose"] = panel_days
    d.measured_days_before["random_cpeptide"] = panel_days


def set_homa(d: Draw) -> None:
    """HOMA-IR from the recorded fasting glucose and insulin, by the one rule of explorer.clinical.homa: not
    derived for anyone recorded as insulin-treated (their serum insulin is partly injected)."""
    treated, known = d.booleans["on_insulin"]
    on_insulin = pd.arrays.BooleanArray(treated, ~known)  # as a record shows it: unknown treatment stays NA
    homa = np.clip(homa_ir(d.numbers["fasting_glucose"], d.numbers["fasting_insulin"], on_insulin), 0, 100)
    d.set_number("homa_ir", homa, ~np.isnan(homa), INPUT_MISSING, decimals=2)
    d.reason_overrides["homa_ir"] = [(treated & known, NOT_VALID_ON_INSULIN)]
    d.measured_days_before["homa_ir"] = d.measured_days_before["fasting_insulin"]


def set_insulin_dose(d: Draw, p: PopulationParams, s: Streams, dose: np.ndarray) -> None:
    known = bernoulli(s("insulin_dose_known"), p.recorded_insulin_dose, d.n)
    dose = round_to(np.clip(dose, 0, 500), 1)
    weight = d.latent["weight"]
    per_kg = np.clip(dose / weight, 0, 5)
    per_kg_known = known & ~np.isnan(d.numbers["weight"])
    d.set_number("insulin_dose", dose, known, NOT_RECORDED)
    d.set_number("insulin_dose_per_kg", per_kg, per_kg_known, INPUT_MISSING, decimals=3)
    d.latent["insulin_dose"] = dose
    for name in ("insulin_dose", "insulin_dose_per_kg"):
        d.measured_days_before[name] = np.zeros(d.n, np.int64)


# --- labs -------------------------------------------------------------------------------------------

def assign_labs(p: PopulationParams, s: Streams, m: int) -> np.ndarray:
    shares = np.array([lab.share for lab in p.labs], dtype=float)
    edges = np.cumsum(shares / shares.sum())
    return np.minimum(np.searchsorted(edges, s("lab").random(m), side="right"), len(edges) - 1)


def set_liver(d: Draw, p: PopulationParams, s: Streams, female: np.ndarray, bmi: np.ndarray,
              hepatitis: np.ndarray, population_factor: float, panel_days: np.ndarray) -> None:
    z = s("liver").standard_normal((d.n, 3)).T  # subject-major: prefix-stable
    z_ast = p.ast_alt_correlation * z[0] + np.sqrt(1 - p.ast_alt_correlation ** 2) * z[1]
    fatty = np.exp(p.alt_bmi_effect * np.clip(bmi - 24, 0, None))
    alt = np.where(female, p.alt_median_female, p.alt_median_male) * population_factor * fatty \
        * np.exp(p.alt_sd_log * z[0]) * np.where(hepatitis, 4.0, 1.0)
    ast = np.where(female, p.ast_median_female, p.ast_median_male) * np.sqrt(fatty) \
        * np.exp(p.ast_sd_log * z_ast) * np.where(hepatitis, 3.0, 1.0)
    gilbert = bernoulli(s("gilbert"), p.gilbert_fraction, d.n)
    bili = np.where(female, p.bilirubin_median_female, p.bilirubin_median_male) \
        * np.exp(p.bilirubin_sd_log * z[2]) * np.where(gilbert, p.gilbert_factor, 1.0)

    lab = assign_labs(p, s, d.n)
    table = np.array([[lab_.alt_uln_male, lab_.alt_uln_female, lab_.ast_uln_male, lab_.ast_uln_female,
                       lab_.bilirubin_uln] for lab_ in p.labs], dtype=float)
    alt_uln = np.where(female, table[lab, 1], table[lab, 0])
    ast_uln = np.where(female, table[lab, 3], table[lab, 2])
    bili_uln = table[lab, 4]

    known = d.latent["chemistry_known"]
    bili_known = known & bernoulli(s("bilirubin_known"), p.recorded_bilirubin_share, d.n)
    d.set_number("alt", np.clip(alt, 3, 3000), known, decimals=0)
    d.set_number("ast", np.clip(ast, 5, 3000), known, decimals=0)
    d.set_number("bilirubin", np.clip(bili, 1.5, 400), bili_known, decimals=1)
    d.set_number("alt_uln", alt_uln, known)
    d.set_number("ast_uln", ast_uln, known)
    d.set_number("bilirubin_uln", bili_uln, bili_known)
    d.lab = lab
    for name in ("alt", "ast", "bilirubin"):
        d.measured_days_before[name] = panel_days
    d.ref_ranges["alt"] = (np.zeros(d.n), alt_uln)
    d.ref_ranges["ast"] = (np.zeros(d.n), ast_uln)
    d.ref_ranges["bilirubin"] = (np.zeros(d.n), bili_uln)


def creatinine_from_egfr(egfr: np.ndarray, age: np.ndarray, female: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Serum creatinine (umol/L) that gives this eGFR: CKD-EPI 2021 (Inker et al., NEJM 2021) for adults,
    bedside Schwartz (0.413 x height / creatinine mg/dL) for children."""
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    at_kappa = 142 * 0.9938 ** age * np.where(female, 1.012, 1.0)
    ratio = egfr / at_kappa
    scr_adult = kappa * np.where(ratio >= 1, ratio ** (1 / alpha), ratio ** (-1 / 1.200))
    scr_child = 0.413 * height / egfr
    return np.where(age < 18, scr_child, scr_adult) * 88.42


def egfr_from_creatinine(creatinine_umol: np.ndarray, age: np.ndarray, female: np.ndarray,
                         height: np.ndarray) -> np.ndarray:
    scr = creatinine_umol / 88.42
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    adult = 142 * np.minimum(scr / kappa, 1) ** alpha * np.maximum(scr / kappa, 1) ** -1.200 * 0.9938 ** age \
        * np.where(female, 1.012, 1.0)
    child = 0.413 * height / scr
    return np.where(age < 18, child, adult)


def set_kidney(d: Draw, p: PopulationParams, s: Streams, age, female, height, egfr_true, panel_days) -> None:
    """Creatinine and eGFR; starts the chemistry panel (liver, kidney and urate are reported together)."""
    d.latent["chemistry_known"] = bernoulli(s("chemistry_known"), p.recorded_chemistry, d.n)
    creat = np.clip(np.rint(creatinine_from_egfr(egfr_true, age, female, height)), 10, 2500)
    egfr = np.clip(np.rint(egfr_from_creatinine(creat, age, female, height)), 2, 200)
    known = d.latent["chemistry_known"]
    d.set_number("creatinine", creat, known)
    d.set_number("egfr", egfr, known)
    d.measured_days_before["creatinine"] = panel_days
    d.measured_days_before["egfr"] = panel_days
    # creatinine reference interval, WS/T 404.5-2015 (adults ~20-59 y): men 57-97, women 41-73 umol/L;
    # its upper limit is the ULN a "creatinine > 1.5 x ULN" criterion reads, as the loaders derive it
    creatinine_uln = np.where(female, 73.0, 97.0)
    d.ref_ranges["creatinine"] = (np.where(female, 41.0, 57.0), creatinine_uln)
    d.set_number("creatinine_uln", creatinine_uln, known)
    d.latent["egfr"] = egfr


def set_uric_acid(d: Draw, p: PopulationParams, s: Streams, age, female, bmi, egfr, factor: float,
                  panel_days) -> np.ndarray:
    median = np.where(female, p.uric_acid_median_female, p.uric_acid_median_male) * factor
    median = median * np.where(age < 14, 0.75, 1.0) * np.exp(0.015 * (bmi - 23))
    median = median * np.clip(90 / np.maximum(egfr, 5), 1, 3) ** 0.35  # urate rises as filtration falls
    urate = np.clip(median * np.exp(p.uric_acid_sd_log * s("uric_acid").standard_normal(d.n)), 60, 1500)
    known = d.latent["chemistry_known"] & bernoulli(s("uric_acid_known"), p.recorded_uric_acid_share, d.n)
    d.set_number("uric_acid", urate, known, decimals=0)
    d.measured_days_before["uric_acid"] = panel_days
    d.ref_ranges["uric_acid"] = (np.where(female, 155.0, 208.0), np.where(female, 357.0, 428.0))
    return urate


# --- history items ----------------------------------------------------------------------------------

def condition_probability(c: Condition, age, duration, male, hba1c, extra_logit=0.0) -> np.ndarray:
    x = logit(c.prevalence) + np.log(c.odds_ratio_per_decade) * (age - 40) / 10 \
        + np.log(c.odds_ratio_per_decade_duration) * (duration - 10) / 10 \
        + np.log(c.male_odds_ratio) * (male - 0.5) + np.log(c.odds_ratio_per_hba1c_point) * (hba1c - 8) + extra_logit
    return np.where(age < c.min_age, 0.0, expit(x))


LIFESTYLE = ("smoking_history", "alcohol_abuse", "drug_misuse")
SEROLOGY = ("hepatitis_b", "hepatitis_c", "hiv_positive", "syphilis_positive")


def set_conditions(d: Draw, p: PopulationParams, s: Streams, age, duration, female, hba1c,
                   urate: np.ndarray) -> None:
    male = (~female).astype(float)
    serology_known = bernoulli(s("serology_known"), p.conditions.hepatitis_b.recorded, d.n)  # one panel
    names = [f.name for f in fields(p.conditions)]
    names.sort(key=lambda name: name != "hepatitis_b" and name != "hepatitis_c")  # hepatitis_active needs them
    drawn: dict[str, np.ndarray] = {}
    for name in names:
        c: Condition = getattr(p.conditions, name)
        extra = np.zeros(d.n)
        if name in LIFESTYLE:
            extra = np.where(age < 18, np.log(0.15), 0.0)  # adolescents rarely have these histories
        if name == "hepatitis_active":
            extra = np.log(8.0) * (drawn["hepatitis_b"] | drawn["hepatitis_c"])
        if name == "advanced_metabolic_disease":
            extra = 0.9 * (urate - 420) / 60  # gout risk climbs with urate
        value = s(f"condition:{name}").random(d.n) < condition_probability(c, age, duration, male, hba1c, extra)
        drawn[name] = value
        if name in SEROLOGY:
            d.set_boolean(name, value, serology_known, NOT_TESTED)
        else:
            d.set_boolean(name, value, bernoulli(s(f"known:{name}"), c.recorded, d.n))
    d.latent["hepatitis_active"] = drawn["hepatitis_active"]


def set_reproductive(d: Draw, p: PopulationParams, s: Streams, age, female) -> None:
    menopause = p.menopause_age + 3.5 * s("menopause").standard_normal(d.n)
    sterile = bernoulli(s("sterile"), p.sterile_fraction, d.n)
    potential = female & (age >= 12) & (age < menopause) & ~sterile
    known_potential = ~female | bernoulli(s("cbp_known"), p.recorded_history, d.n)
    d.set_boolean("childbearing_potential", potential, known_potential)
    pregnant = potential & bernoulli(s("pregnant"), p.pregnancy, d.n)
    lactating = potential & ~pregnant & bernoulli(s("lactating"), p.lactation, d.n)
    # men and women without childbearing potential are known not pregnant; others by test or history
    status_known = ~potential | bernoulli(s("pregnancy_known"), p.recorded_pregnancy_status, d.n)
    d.set_boolean("pregnant", pregnant, status_known, NOT_TESTED)
    d.set_boolean("lactating", lactating, status_known)


def set_cancer(d: Draw, p: PopulationParams, s: Streams, age) -> None:
    scale = 2.0 ** ((age - 40) / 10)
    u = s("cancer").random(d.n)
    active = u < p.cancer_active * scale
    remission = ~active & (u < (p.cancer_active + p.cancer_remission) * scale)
    code = np.where(active, 1, np.where(remission, 2, 0)).astype(np.int8)
    known = bernoulli(s("cancer_known"), p.recorded_history, d.n)
    d.categories["cancer_status"] = np.where(known, code, -1).astype(np.int8)
    d.reasons["cancer_status"] = NOT_RECORDED
    years = np.minimum(s("cancer_years").exponential(5.0, d.n), np.maximum(age - 1, 0.1))
    d.set_number("cancer_remission_years", years, known & remission, NOT_APPLICABLE, decimals=1)
    d.measured_days_before["cancer_remission_years"] = np.zeros(d.n, np.int64)


# --- events -----------------------------------------------------------------------------------------

def history_lookback(p: PopulationParams, s: Streams, duration_days: np.ndarray) -> np.ndarray:
    """Days of complete event records before the index date (a short history gives unknown counts)."""
    short = bernoulli(s("short_history"), p.short_history_fraction, len(duration_days))
    days = np.where(short, s("history_days").integers(30, 365, size=len(duration_days)), p.record_history_days)
    return days.astype(float)


def poisson_events(s: Streams, name: str, rate_per_year: np.ndarray, window_days: np.ndarray) -> Events:
    """Events of a homogeneous Poisson process over each subject's window, as days before the index date."""
    counts = s(f"{name}:count").poisson(rate_per_year * window_days / DAYS_PER_YEAR)
    subject = np.repeat(np.arange(len(counts)), counts)
    days = np.floor(s(f"{name}:days").random(len(subject)) * window_days[subject])
    return Events(subject=subject.astype(np.int64), days_before=days)


def set_trial_participation(d: Draw, p: PopulationParams, s: Streams, lookback: np.ndarray) -> None:
    took_part = bernoulli(s("trial"), p.trial_participation, d.n)
    subject = np.flatnonzero(took_part).astype(np.int64)
    days = np.floor(s("trial:days").random(len(subject)) * lookback[subject])
    d.events["trial_participation"] = Events(subject=subject, days_before=days)
    d.lookback["trial_participation"] = lookback


