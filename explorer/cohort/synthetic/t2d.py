"""A type 2 diabetes clinic population: the structural model, one chunk at a time.

Causal order: sex, age, duration -> BMI -> insulin sensitivity (KITT) -> C-peptide (secretion rises to
meet resistance, falls with duration) -> HbA1c -> treatment (insulin, oral agents) -> glucose, serum insulin
(endogenous plus injected), HOMA-IR -> CGM, hypoglycaemia, labs, history items. The links the seed trials'
criteria depend on: BMI with insulin resistance (lower KITT, higher fasting insulin and HOMA-IR), HbA1c with
fasting glucose, age with duration. Every number comes from `T2DClinicParams`.
"""

from __future__ import annotations

import numpy as np

from explorer.cohort.synthetic import shared_variables as shared
from explorer.cohort.synthetic.distributions import (
    bernoulli,
    expit,
    logit,
    lognormal,
    round_to,
    shifted_lognormal,
    truncated_normal,
    unit_gamma,
)
from explorer.cohort.synthetic.params import T2DClinicParams
from explorer.cohort.synthetic.record import NO_ITT, NOT_RECORDED, NOT_TESTED, Draw
from explorer.cohort.synthetic.streams import Streams


def draw_t2d(p: T2DClinicParams, s: Streams, m: int) -> Draw:
    d = Draw(n=m)
    d.index_day = shared.index_days(p, s, m)
    female = s("sex").random(m) < p.female_fraction

    age_years = truncated_normal(s("age"), p.age_mean, p.age_sd, p.min_age, p.max_age, m)
    age_days = shared.whole_days(age_years)
    scale = p.duration_scale * np.exp(0.03 * (age_years - p.age_mean))
    duration_days = np.minimum(shared.whole_days(s("duration").gamma(p.duration_shape, 1.0, m) * scale),
                               age_days - shared.whole_days(np.full(m, 18.0)))
    age, duration = age_days / shared.DAYS_PER_YEAR, duration_days / shared.DAYS_PER_YEAR
    d.birth_days_before, d.diagnosis_days_before = age_days, duration_days
    d.set_number("age", shared.completed_years(d.index_day - age_days, d.index_day))  # the screening contract
    d.set_number("diabetes_duration", duration)
    d.categories["sex"] = np.where(female, 0, 1).astype(np.int8)
    d.categories["diabetes_type"] = np.ones(m, np.int8)

    height = shared.heights(s, age, female)
    bmi_true = lognormal(s, "bmi", p.bmi_mean, p.bmi_sd, m) - 0.03 * (age - p.age_mean)
    shared.set_anthropometry(d, p, s, height, np.clip(bmi_true, 14, 60))
    bmi = d.latent["bmi"]

    # --- insulin sensitivity and secretion ---
    log_kitt = np.log(p.kitt_median) + p.kitt_bmi_effect * (bmi - p.bmi_mean) \
        + p.kitt_sd_log * s("kitt").standard_normal(m)
    resistance = -(log_kitt - np.log(p.kitt_median))  # > 0: more resistant than the median
    log_cpep = np.log(p.cpeptide_median) + 0.035 * (bmi - p.bmi_mean) - 0.03 * (duration - 9) + 0.5 * resistance \
        + p.cpeptide_sd_log * s("cpeptide").standard_normal(m)
    secretion_deficit = -(log_cpep - np.log(p.cpeptide_median))
    cpep_true = np.exp(log_cpep)
    kitt_true = np.exp(log_kitt)

    hba1c_mean = p.hba1c_mean + p.hba1c_per_duration_year * (duration - 9) - 0.015 * (age - p.age_mean) \
        + 0.6 * secretion_deficit + 0.3 * resistance
    hba1c_true = np.clip(shifted_lognormal(s("hba1c").standard_normal(m), hba1c_mean, p.hba1c_sd, 4.6), 4.8, 19.0)
    d.latent.update(hba1c=hba1c_true, kitt=kitt_true, fasting_cpeptide=cpep_true)

    # --- treatment ---
    on_insulin = s("on_insulin").random(m) < expit(logit(p.insulin_use_at_reference) + 0.08 * (duration - 9)
                                                   + 0.5 * (hba1c_true - p.hba1c_mean) + 0.8 * secretion_deficit)
    d.set_boolean("on_insulin", on_insulin, bernoulli(s("on_insulin_known"), p.recorded_on_insulin, m))
    per_kg = p.insulin_per_kg * np.exp(0.02 * (bmi - p.bmi_mean) + p.insulin_sd_log * s("insulin_per_kg").standard_normal(m))
    dose = np.where(on_insulin, per_kg * d.latent["weight"], 0.0)
    shared.set_insulin_dose(d, p, s, dose)
    agent_p = expit(-0.2 + 0.08 * (duration - 9) - 0.7 * on_insulin)
    n_agents = (agent_p > s("oral_agents").random((m, p.oral_agents_max)).T).sum(axis=0)
    n_agents = np.where(on_insulin | (n_agents > 0), n_agents, 1)  # nearly everyone not on insulin takes one
    doses = s("oral_agent_doses").choice(np.array([50.0, 75.0, 100.0]), p=[0.3, 0.4, 0.3], size=(m, p.oral_agents_max)).T
    ogld = (doses * (np.arange(p.oral_agents_max)[:, None] < n_agents)).sum(axis=0)
    d.set_number("ogld_dose", ogld, bernoulli(s("ogld_known"), p.recorded_ogld, m), NOT_RECORDED)
    d.measured_days_before["ogld_dose"] = np.zeros(m, np.int64)
    d.latent["ogld_dose"] = ogld

    # --- hypoglycaemia ---
    frailty = unit_gamma(s, "sh_frailty", p.sh_frailty_shape, m)
    unaware = s("unawareness").random(m) < np.where(on_insulin, p.unawareness_insulin, 0.02)
    d.set_boolean("hypoglycemia_unawareness", unaware, bernoulli(s("unawareness_known"), p.recorded_unawareness, m))
    base = np.where(on_insulin, p.sh_rate_insulin * 1.3 ** ((duration - 9) / 10), p.sh_rate_oral)
    rate = base * frailty * np.where(unaware, 3.0, 1.0) * 0.87 ** (hba1c_true - p.hba1c_mean)
    lookback = np.minimum(shared.history_lookback(p, s, duration_days), duration_days.astype(float))
    d.events["severe_hypoglycemia"] = shared.poisson_events(s, "severe_hypoglycemia", rate, lookback)
    d.lookback["severe_hypoglycemia"] = lookback
    d.latent["sh_rate"] = rate
    shared.set_trial_participation(d, p, s, lookback)

    cgm_user = s("cgm_use").random(m) < expit(logit(p.cgm_use) - 1.2 + 2.2 * on_insulin)
    cv = p.cgm_cv_mean + p.cgm_cv_sd * s("cgm_cv").standard_normal(m) + 4.0 * on_insulin
    shared.set_cgm(d, s, cgm_user, hba1c_true, p.glycation_gap_sd, cv, p.cgm_active_beta)

    metabolic_days = s("metabolic_panel_days").integers(0, 181, size=m)
    chemistry_days = s("chemistry_panel_days").integers(0, 181, size=m)
    d.set_number("hba1c", hba1c_true, bernoulli(s("hba1c_known"), p.recorded_hba1c, m), decimals=1)
    d.measured_days_before["hba1c"] = s("hba1c_days").integers(0, 91, size=m)

    # --- glucose: ADAG fasting glucose for a given HbA1c (Nathan 2008) ---
    fpg = np.clip(0.93 * shared.estimated_average_glucose_mmol(hba1c_true) + 1.6 * s("fpg").standard_normal(m), 3.5, 30)
    ppg = np.clip(fpg + 4.0 + 2.2 * s("ppg").standard_normal(m), fpg - 1, 35)
    d.set_number("fasting_glucose", fpg, bernoulli(s("fpg_known"), p.recorded_fasting_glucose, m), decimals=1)
    d.set_number("postmeal_glucose", ppg, bernoulli(s("ppg_known"), p.recorded_postmeal_glucose, m), decimals=1)

    # --- C-peptide release test: C-peptide and serum insulin ---
    cp_known = bernoulli(s("cpeptide_known"), p.recorded_cpeptide, m)
    cp_post_known = cp_known & bernoulli(s("cpeptide_post_known"), p.recorded_postmeal_share, m)
    cpep_post = cpep_true * np.exp(np.log(p.cpeptide_stimulation_ratio) - 0.3 * secretion_deficit
                                   + 0.3 * s("cpeptide_post").standard_normal(m))
    lim = shared.CPEPTIDE_DETECTION_LIMIT
    d.set_number("fasting_cpeptide", round_to(np.clip(cpep_true, 0, 10), 3), cp_known, detection_limit=lim)
    d.set_number("postmeal_cpeptide", round_to(np.clip(cpep_post, 0, 15), 3), cp_post_known, detection_limit=lim)
    # insulin resistance lowers hepatic insulin clearance: a lower C-peptide / insulin ratio
    molar_ratio = p.cpeptide_insulin_molar_ratio * np.exp(-0.3 * resistance + 0.2 * s("molar_ratio").standard_normal(m))
    exo = np.where(on_insulin, 0.2 * dose * np.exp(0.5 * s("exogenous_insulin").standard_normal(m)), 0.0)
    fins = cpep_true * 1000 / molar_ratio / 6 + exo
    pins = cpep_post * 1000 / (0.8 * molar_ratio) / 6 + 2.0 * exo
    ins_known = cp_known & bernoulli(s("insulin_known"), min(1.0, p.recorded_insulin / p.recorded_cpeptide), m)
    d.set_number("fasting_insulin", np.clip(fins, 0.5, 1000), ins_known, decimals=1)
    d.set_number("postmeal_insulin", np.clip(pins, 0.5, 2000), ins_known & cp_post_known, decimals=1)
    for name in ("fasting_glucose", "postmeal_glucose", "fasting_cpeptide", "postmeal_cpeptide",
                 "fasting_insulin", "postmeal_insulin"):
        d.measured_days_before[name] = metabolic_days
    shared.set_homa(d)
    shared.set_random_samples(d, p, s, hba1c_true, cpep_true, p.cpeptide_stimulation_ratio, 0.25, cp_known,
                         metabolic_days)
    d.set_number("kitt", np.clip(kitt_true, 0.2, 14), bernoulli(s("kitt_known"), p.recorded_kitt, m), NO_ITT,
                 decimals=2)
    d.measured_days_before["kitt"] = s("kitt_days").integers(0, 61, size=m)

    # --- antibodies: checked in some to screen for LADA (LADA China Study) ---
    gada_known = bernoulli(s("gada_known"), p.gada_tested, m)
    d.set_boolean("gada_positive", bernoulli(s("gada"), p.gada_positive, m), gada_known, NOT_TESTED)
    for name in ("ia2a_positive", "znt8a_positive", "iaa_positive", "ica_positive"):
        known = gada_known & bernoulli(s(f"known:{name}"), p.other_antibody_tested / p.gada_tested, m)
        d.set_boolean(name, bernoulli(s(f"antibody:{name}"), p.other_antibody_positive, m), known, NOT_TESTED)

    # --- kidney (diabetic kidney disease common with age and duration), urate, liver, BP ---
    egfr_base = 125 - 0.8 * np.clip(age - 25, 0, None)  # Chinese adults: low creatinine (ShanghaiT2DM median 62 umol/L)
    dkd = s("dkd").random(m) < expit(logit(0.12) + np.log(1.8) * (duration - 9) / 10 + np.log(1.6) * (age - 58) / 10
                                     + np.log(1.2) * (hba1c_true - 8))
    egfr_true = egfr_base * np.exp(0.12 * s("egfr").standard_normal(m)) \
        * np.where(dkd, s("dkd_severity").uniform(0.25, 0.9, m), 1.0)
    shared.set_kidney(d, p, s, age, female, height, np.clip(egfr_true, 4, 170), chemistry_days)
    urate = shared.set_uric_acid(d, p, s, age, female, bmi, d.latent["egfr"], 1.0, chemistry_days)
    shared.set_conditions(d, p, s, age, duration, female, hba1c_true, urate)
    shared.set_liver(d, p, s, female, bmi, d.latent["hepatitis_active"], 1.15, chemistry_days)
    shared.set_blood_pressure(d, p, s, age, bmi, shift=5.0)
    shared.set_reproductive(d, p, s, age, female)
    shared.set_cancer(d, p, s, age)
    return d
