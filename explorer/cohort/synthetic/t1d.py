"""A type 1 diabetes clinic population: the structural model, one chunk at a time.

Causal order (each step may use the ones before): sex, current age, age at onset given age (so duration
grows with age) -> residual C-peptide
-> CGM use -> HbA1c -> hypoglycaemia frailty, awareness and severe-hypoglycaemia rate -> CGM metrics ->
insulin, glucose, labs, history items. The links the seed trials' criteria depend on:
  - HbA1c with TIR (through mean glucose: GMI plus a personal glycation gap),
  - HbA1c, duration, awareness and C-peptide with severe-hypoglycaemia frequency,
  - duration with C-peptide loss and with autoantibodies being untested or gone negative,
  - age with duration (onset drawn from age-specific incidence up to the current age).
Every number comes from `T1DClinicParams`, whose fields cite their sources.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from explorer.cohort.synthetic import shared_variables as shared
from explorer.cohort.synthetic.distributions import (
    bernoulli,
    expit,
    logit,
    lognormal,
    round_to,
    shifted_lognormal,
    standardised_log,
    truncated_normal,
    unit_gamma,
)
from explorer.cohort.synthetic.params import T1DClinicParams
from explorer.cohort.synthetic.record import NO_ITT, NOT_RECORDED, NOT_TESTED, Draw
from explorer.cohort.synthetic.streams import Streams


def draw_t1d(p: T1DClinicParams, s: Streams, m: int) -> Draw:
    d = Draw(n=m)
    d.index_day = shared.index_days(p, s, m)
    female = s("sex").random(m) < p.female_fraction

    # --- age, then onset given age: duration grows with age ---
    # A prevalent clinic patient's age is drawn first (children and an adult age distribution); onset is the
    # age at which incidence struck, drawn from the age-specific incidence up to the current age (inverse of
    # the piecewise-linear cumulative incidence), so duration = age - onset grows with age as in real clinics.
    child = s("age_group").random(m) < p.child_fraction
    age_years = np.where(child, s("child_age").uniform(1.0, 18.0, m),
                         truncated_normal(s("adult_age"), p.adult_age_mean, p.adult_age_sd, 18.0, p.max_age, m))
    onset = onset_given_age(p.incidence_by_age, age_years, s("onset").random(m))
    child_onset = onset < 18
    duration_days = shared.whole_days(age_years - onset)
    age_days = shared.whole_days(onset) + duration_days
    age = age_days / shared.DAYS_PER_YEAR
    duration = duration_days / shared.DAYS_PER_YEAR
    d.birth_days_before, d.diagnosis_days_before = age_days, duration_days
    d.set_number("age", shared.completed_years(d.index_day - age_days, d.index_day))  # the screening contract
    d.set_number("diabetes_duration", duration)
    d.categories["sex"] = np.where(female, 0, 1).astype(np.int8)
    d.categories["diabetes_type"] = np.zeros(m, np.int8)
    d.latent["onset_age"] = onset

    # --- body size ---
    height = shared.heights(s, age, female)
    adult_bmi = lognormal(s, "adult_bmi", p.adult_bmi_mean, p.adult_bmi_sd, m) + 0.03 * np.clip(age - 25, 0, 40)
    bmi_true = np.where(age < 18, shared.child_bmi(s, age), adult_bmi)
    bmi_true = np.where((age >= 16) & (age < 18), 0.5 * (bmi_true + adult_bmi), bmi_true)
    shared.set_anthropometry(d, p, s, height, bmi_true)
    bmi = d.latent["bmi"]

    # --- residual beta-cell function: fasting C-peptide decays from diagnosis to a microsecretion floor, at a
    # rate that differs between people (SEARCH: Greenbaum 2009, Dabelea 2012; DCCT/EDIC: Gubitosi-Klug 2021) ---
    tau = np.where(child_onset, p.cpeptide_tau_child, p.cpeptide_tau_adult) \
        * np.exp(p.cpeptide_decline_sd_log * s("cpeptide_decline").standard_normal(m))
    median_cp = p.cpeptide_floor + p.cpeptide_at_diagnosis * np.exp(-duration / tau)
    cpep_true = median_cp * np.exp(p.cpeptide_sd_log * s("cpeptide").standard_normal(m))
    residual = np.clip(cpep_true / 0.3, 0, 1)  # share of "useful" residual secretion
    d.latent["fasting_cpeptide"] = cpep_true

    # --- CGM use and HbA1c ---
    cgm_user = s("cgm_use").random(m) < expit(logit(p.cgm_use) + 0.5 * (age < 18))
    bands = np.array([b[0] for b in p.hba1c_by_age])
    means = np.array([b[1] for b in p.hba1c_by_age])
    hba1c_mean = means[np.minimum(np.searchsorted(bands, age, side="right"), len(means) - 1)]
    hba1c_mean = hba1c_mean + p.cgm_hba1c_effect * cgm_user - 0.5 * residual
    hba1c_true = np.clip(shifted_lognormal(s("hba1c").standard_normal(m), hba1c_mean, p.hba1c_sd, 4.2), 4.5, 19.0)
    d.latent["hba1c"] = hba1c_true

    # --- hypoglycaemia: frailty, awareness, rate, events ---
    frailty = unit_gamma(s, "sh_frailty", p.sh_frailty_shape, m)
    z_frailty = standardised_log(frailty, p.sh_frailty_shape)
    detectable = cpep_true >= p.cpeptide_detection_limit
    unaware_logit = logit(p.unawareness_prevalence) + np.log(p.unawareness_or_per_decade) * (duration - 10) / 10 \
        + np.log(p.unawareness_or_no_cpeptide) * (~detectable - 0.5) + p.unawareness_sh_link * z_frailty
    unaware = s("unawareness").random(m) < expit(unaware_logit)
    unaware_known = (age >= 6) & bernoulli(s("unawareness_known"), p.recorded_unawareness, m)
    d.set_boolean("hypoglycemia_unawareness", unaware, unaware_known)
    rate = p.sh_rate * frailty * np.where(unaware, p.sh_rr_unawareness, 1.0) \
        * p.sh_rr_per_decade_duration ** ((duration - 10) / 10) \
        * p.sh_rr_per_hba1c_point ** (hba1c_true - 8) \
        * np.where(cpep_true >= 0.1, p.sh_rr_cpeptide, np.where(detectable, p.sh_rr_low_cpeptide, 1.0)) \
        * np.where(age < 6, p.sh_rr_under_6, 1.0)
    lookback = np.minimum(shared.history_lookback(p, s, duration_days), duration_days.astype(float))
    d.events["severe_hypoglycemia"] = shared.poisson_events(s, "severe_hypoglycemia", rate, lookback)
    d.lookback["severe_hypoglycemia"] = lookback
    d.latent["sh_rate"] = rate
    shared.set_trial_participation(d, p, s, lookback)

    # --- CGM metrics: more variability with hypoglycaemia proneness, less with residual secretion ---
    cv = p.cgm_cv_mean + p.cgm_cv_sd * s("cgm_cv").standard_normal(m) + 2.5 * z_frailty + 3.0 * unaware \
        - 4.0 * residual + 2.0 * (age < 13)
    shared.set_cgm(d, s, cgm_user, hba1c_true, p.glycation_gap_sd, cv, p.cgm_active_beta)

    # --- lab panel dates (days before index) ---
    metabolic_days = s("metabolic_panel_days").integers(0, 181, size=m)
    chemistry_days = s("chemistry_panel_days").integers(0, 181, size=m)

    d.set_number("hba1c", hba1c_true, bernoulli(s("hba1c_known"), p.recorded_hba1c, m), decimals=1)
    d.measured_days_before["hba1c"] = s("hba1c_days").integers(0, 91, size=m)

    # --- glucose: fasting values in insulin-treated T1D scatter widely around the average ---
    eag = shared.estimated_average_glucose_mmol(hba1c_true)
    fpg = np.clip(0.9 * eag + 2.5 * s("fpg").standard_normal(m), 2.2, 30)
    ppg = np.clip(fpg + 2.5 + 3.5 * s("ppg").standard_normal(m), 2.5, 35)
    fpg_known = bernoulli(s("fpg_known"), p.recorded_fasting_glucose, m)
    d.set_number("fasting_glucose", fpg, fpg_known, decimals=1)
    d.set_number("postmeal_glucose", ppg, bernoulli(s("ppg_known"), p.recorded_postmeal_glucose, m), decimals=1)

    # --- C-peptide and serum insulin (C-peptide release test) ---
    cp_known = bernoulli(s("cpeptide_known"), p.recorded_cpeptide, m)
    cp_post_known = cp_known & bernoulli(s("cpeptide_post_known"), p.recorded_postmeal_share, m)
    cpep_post = cpep_true * np.exp(np.log(p.cpeptide_stimulation_ratio) + 0.3 * s("cpeptide_post").standard_normal(m))
    lim = p.cpeptide_detection_limit
    d.set_number("fasting_cpeptide", round_to(np.clip(cpep_true, 0, 10), 3), cp_known, detection_limit=lim)
    d.set_number("postmeal_cpeptide", round_to(np.clip(cpep_post, 0, 15), 3), cp_post_known, detection_limit=lim)

    # --- insulin dose (ISPAD 2018; residual secretion lowers the need) ---
    per_kg = np.where(age < 10, p.insulin_per_kg_child, np.where(age < 18, p.insulin_per_kg_puberty,
                                                                 p.insulin_per_kg_adult))
    per_kg = per_kg * np.exp(p.insulin_sd_log * s("insulin_per_kg").standard_normal(m)) * (1 - 0.5 * residual)
    dose = per_kg * d.latent["weight"]
    shared.set_insulin_dose(d, p, s, dose)
    d.set_boolean("on_insulin", np.ones(m, bool))

    # serum insulin = exogenous (immunoassays detect most analogues) + endogenous (C-peptide / molar ratio)
    ins_known = cp_known & bernoulli(s("insulin_known"), min(1.0, p.recorded_insulin / p.recorded_cpeptide), m)
    ins_post_known = ins_known & cp_post_known
    exo = 0.25 * dose * np.exp(0.5 * s("exogenous_insulin").standard_normal(m))
    fins = exo + cpep_true * 1000 / 8 / 6
    pins = exo * 2.5 * np.exp(0.4 * s("exogenous_insulin_post").standard_normal(m)) + cpep_post * 1000 / 6 / 6
    d.set_number("fasting_insulin", np.clip(fins, 0.5, 1000), ins_known, decimals=1)
    d.set_number("postmeal_insulin", np.clip(pins, 0.5, 2000), ins_post_known, decimals=1)
    for name in ("fasting_glucose", "postmeal_glucose", "fasting_cpeptide", "postmeal_cpeptide",
                 "fasting_insulin", "postmeal_insulin"):
        d.measured_days_before[name] = metabolic_days
    shared.set_homa(d)
    shared.set_random_samples(d, p, s, hba1c_true, cpep_true, p.cpeptide_stimulation_ratio, 0.35, cp_known,
                         metabolic_days)

    # KITT: near-normal insulin sensitivity unless overweight; an insulin tolerance test is rarely done in T1D
    kitt = 3.8 * np.exp(-0.035 * (bmi - 22) + 0.25 * s("kitt").standard_normal(m))
    d.set_number("kitt", np.clip(kitt, 0.2, 14), bernoulli(s("kitt_known"), p.recorded_kitt, m), NO_ITT,
                 decimals=2)
    d.measured_days_before["kitt"] = s("kitt_days").integers(0, 61, size=m)
    d.latent["kitt"] = kitt

    # oral agents: metformin as an adjunct, mostly in overweight adults
    metformin = (age >= 18) & (s("metformin").random(m) < p.metformin_adjunct * np.where(bmi >= 25, 2.5, 0.6))
    ogld = metformin * s("metformin_dose").choice(np.array([50.0, 75.0, 100.0]), size=m)
    d.set_number("ogld_dose", ogld, bernoulli(s("ogld_known"), p.recorded_ogld, m), NOT_RECORDED)
    d.measured_days_before["ogld_dose"] = np.zeros(m, np.int64)

    _set_autoantibodies(d, p, s, duration, age, child_onset)

    # --- kidney, urate, liver, blood pressure ---
    egfr_base = np.where(age < 18, 115.0, 128 - 0.8 * np.clip(age - 25, 0, None))  # Chinese adults: low creatinine
    dkd = s("dkd").random(m) < expit(logit(0.03) + np.log(2.5) * (duration - 10) / 10 + np.log(1.3) * (hba1c_true - 8))
    egfr_true = egfr_base * np.exp(0.12 * s("egfr").standard_normal(m)) \
        * np.where(dkd, s("dkd_severity").uniform(0.15, 0.85, m), 1.0)
    shared.set_kidney(d, p, s, age, female, height, np.clip(egfr_true, 4, 170), chemistry_days)
    urate = shared.set_uric_acid(d, p, s, age, female, bmi, d.latent["egfr"], 0.85, chemistry_days)  # glycosuria lowers urate
    shared.set_conditions(d, p, s, age, duration, female, hba1c_true, urate)
    shared.set_liver(d, p, s, female, bmi, d.latent["hepatitis_active"], 1.0, chemistry_days)
    shared.set_blood_pressure(d, p, s, age, bmi)
    shared.set_reproductive(d, p, s, age, female)
    shared.set_cancer(d, p, s, age)
    return d


def onset_given_age(incidence_by_age, age: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Age at onset of people who have diabetes at `age`: incidence is piecewise constant by age band
    (`incidence_by_age`: (upper age of the band, rate)), so the cumulative incidence is piecewise linear and
    its inverse at u x (cumulative incidence at `age`) is exact. Onset is at least 0.5 years."""
    edges = np.array([0.5] + [upper for upper, _ in incidence_by_age], dtype=float)
    rates = np.array([rate for _, rate in incidence_by_age], dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(rates * np.diff(edges))])
    reached = np.interp(np.maximum(age, 0.5), edges, cumulative)
    return np.minimum(np.interp(u * reached, cumulative, edges), age)


def _set_autoantibodies(d: Draw, p: T1DClinicParams, s: Streams, duration, age, child_onset) -> None:
    """Results on record: tested near diagnosis (records exist mostly for recent diagnoses) or re-tested
    recently; positivity fades with each antibody's half-life (Cheng et al., Oncotarget 2018)."""
    m = d.n
    tested_at_dx = s("antibody_tested_dx").random(m) < np.where(duration < 10, p.antibody_tested_recent_dx,
                                                                p.antibody_tested_old_dx)
    retested = ~tested_at_dx & bernoulli(s("antibody_retested"), p.antibody_retest, m)
    years_at_test = np.where(tested_at_dx, np.minimum(duration, 0.1), duration)
    common = s("antibody_common").standard_normal(m)
    panel = dict(p.antibody_panel)
    rho = p.antibody_correlation
    for name, at_dx, half_life in p.antibody_at_diagnosis:
        prob = at_dx * np.where(child_onset, 1.1, 0.9) if name == "iaa_positive" else np.full(m, at_dx)
        if half_life > 0:
            prob = prob * 0.5 ** (years_at_test / half_life)
        z = rho * common + np.sqrt(1 - rho * rho) * s(f"antibody:{name}").standard_normal(m)
        positive = z < ndtri(np.clip(prob, 1e-6, 1 - 1e-6))
        in_panel = s(f"antibody_panel:{name}").random(m) < panel.get(name, 0.0)
        known = (tested_at_dx | (retested & (half_life > 0))) & in_panel
        d.set_boolean(name, positive, known, NOT_TESTED)
