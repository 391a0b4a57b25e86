"""Parameters of the synthetic screening populations, each with the source it comes from.

Every field carries a `source` in its metadata: a published figure, or "assumption" with the reasoning.
`parameter_table(params)` lists them (docs/synthetic.md is generated from it). Override any value with
`dataclasses.replace(T1DClinicParams(), cgm_use=0.7)` or with a mapping passed as `params=` to the
generators (`with_overrides`), e.g. `{"cgm_use": 0.7, "conditions": {"smoking_history": {"prevalence": 0.1}}}`.

Both default populations describe a Chinese tertiary diabetes centre, because both seed trials recruit at
one (NCT06196996 in Shanghai, NCT01142050 in Beijing); where no Chinese figure was at hand an
international one is used and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from explorer.clinical.populations import POPULATION_NAMES
from explorer.errors import DefinitionError


def sourced(default: Any, source: str) -> Any:
    """A dataclass field whose metadata says where its default comes from."""
    return field(default=default, metadata={"source": source})


@dataclass(frozen=True)
class Condition:
    """A yes/no history item or serology result.

    Probability on the logit scale: logit(prevalence) at age 40, diabetes duration 10 y, HbA1c 8 %, averaged
    over sex, shifted by log odds ratios per decade of age, per decade of duration, for men, and per HbA1c
    point. Zero below `min_age`. `recorded` is the share of subjects for whom the item is known at all
    (history taken, test done); the rest are unknown.
    """

    prevalence: float
    odds_ratio_per_decade: float = 1.0
    odds_ratio_per_decade_duration: float = 1.0
    male_odds_ratio: float = 1.0
    odds_ratio_per_hba1c_point: float = 1.0
    min_age: float = 0.0
    recorded: float = 0.97
    source: str = ""


@dataclass(frozen=True)
class Conditions:
    """Prevalence of every boolean exclusion-type item in the catalogue."""

    active_infection: Condition = Condition(0.015, 1.1, source="assumption: ~1-2 % of clinic attenders have an infection needing treatment at screening")
    tuberculosis_active: Condition = Condition(0.001, 1.2, male_odds_ratio=2.0, source="China TB incidence ~55/100,000/y (WHO Global TB Report 2022), about 2-3x higher with diabetes")
    hepatitis_active: Condition = Condition(0.005, 1.0, male_odds_ratio=1.5, recorded=0.95, source="assumption: most HBV carriers in China are inactive; ~0.5 % active hepatitis of any cause")
    hepatitis_b: Condition = Condition(0.065, 1.0, male_odds_ratio=1.5, recorded=0.85, source="HBsAg ~6 % in China (Polaris Observatory, Lancet Gastroenterol Hepatol 2018); the infection panel (HBV, HCV, HIV, syphilis) is on record for ~85 % of a tertiary centre's patients (assumption)")
    hepatitis_c: Condition = Condition(0.007, 1.3, recorded=0.85, source="anti-HCV ~0.6-0.9 % in Chinese adults (national serosurveys); tested with HBV")
    hiv_positive: Condition = Condition(0.001, 1.0, male_odds_ratio=3.0, recorded=0.85, source="HIV prevalence ~0.09 % in China (UNAIDS); tested with HBV")
    syphilis_positive: Condition = Condition(0.006, 1.3, recorded=0.85, source="treponemal antibody positivity ~0.5-1 % in Chinese hospital patients (assumption; antibodies persist after cure)")
    immunodeficiency: Condition = Condition(0.003, 1.0, source="assumption: primary or acquired immunodeficiency other than HIV")
    unexplained_fever: Condition = Condition(0.003, 1.0, source="assumption")
    severe_cardiac_disease: Condition = Condition(0.02, 2.0, 1.3, 1.6, source="assumption: significant structural/functional heart disease; rises steeply with age (Chinese T2D outpatients: CVD 12-16 %, Chen et al., Med Sci Monit 2015)")
    severe_pulmonary_disease: Condition = Condition(0.01, 1.7, male_odds_ratio=1.5, source="assumption: severe COPD/interstitial disease")
    severe_neurological_disease: Condition = Condition(0.01, 2.0, 1.2, 1.3, source="assumption: stroke or significant brain lesion")
    hematopoietic_dysfunction: Condition = Condition(0.004, 1.3, source="assumption")
    retinal_hemorrhage: Condition = Condition(0.04, 1.0, 2.2, 1.0, 1.25, source="proliferative retinopathy / retinal haemorrhage: rare in the first 5 years, 10-25 % after 20 years (WESDR; assumption for modern care)")
    diabetic_foot: Condition = Condition(0.015, 1.6, 1.6, 1.4, 1.15, source="active or previous foot ulcer ~2-6 % of people with diabetes (assumption; IWGDF)")
    severe_gi_disorder: Condition = Condition(0.015, 1.1, source="assumption: severe GI dysfunction or immune GI disease (coeliac disease is rare in Chinese T1D)")
    immunosuppression_contraindicated: Condition = Condition(0.01, 1.3, source="assumption")
    smoking_history: Condition = Condition(0.16, 1.1, male_odds_ratio=30.0, min_age=12, source="ever-smoking: ~50 % of Chinese men, ~2-3 % of women (China Adult Tobacco Survey 2018)")
    alcohol_abuse: Condition = Condition(0.02, 1.0, male_odds_ratio=8.0, min_age=15, source="assumption: alcohol use disorder ~4 % of Chinese men, rare in women")
    drug_misuse: Condition = Condition(0.003, 0.8, male_odds_ratio=3.0, min_age=14, source="assumption")
    severe_psychiatric_disorder: Condition = Condition(0.02, 1.0, source="assumption: severe mental illness ~1-2 %; eating disorders add a little in T1D")
    advanced_metabolic_disease: Condition = Condition(0.008, 1.3, male_odds_ratio=3.0, source="gout ~1 % of Chinese adults (assumption); hyperuricaemia itself is the uric_acid variable")
    chronic_glucocorticoids: Condition = Condition(0.006, 1.2, source="assumption: long-term systemic glucocorticoids ~0.5-1 % of adults")
    other_autoimmune_endocrine_disease: Condition = Condition(0.012, 1.0, male_odds_ratio=0.5, source="assumption: uncontrolled autoimmune thyroid/adrenal or other autoimmune disease; thyroid autoimmunity is common in T1D but rarely severe")


@dataclass(frozen=True)
class LabRanges:
    """One laboratory's reference ranges (upper limits of normal differ between labs and by sex)."""

    name: str
    share: float
    alt_uln_male: float
    alt_uln_female: float
    ast_uln_male: float
    ast_uln_female: float
    bilirubin_uln: float
    source: str = ""


DEFAULT_LABS = (
    LabRanges("hospital_ws_t404", 0.55, 50, 40, 40, 35, 26.0,
              "Chinese industry standard reference intervals (WS/T 404.1-2012 ALT/AST; WS/T 404.4-2018 bilirubin)"),
    LabRanges("hospital_legacy", 0.25, 40, 40, 40, 40, 17.1, "older single-limit ranges still printed by many Chinese labs"),
    LabRanges("international_strict", 0.10, 33, 25, 40, 32, 20.5,
              "ACG clinical guideline (Kwo et al., Am J Gastroenterol 2017): ALT ULN 29-33 men, 19-25 women"),
    LabRanges("commercial", 0.10, 55, 45, 48, 43, 21.0, "typical commercial laboratory ranges (assumption)"),
)


@dataclass(frozen=True)
class PopulationParams:
    """Fields shared by both clinic populations (labs, vitals, events, missingness of common items)."""

    index_start: str = sourced("2024-01-01", "assumption: screening dates spread over one year from this day")
    index_span_days: int = sourced(365, "assumption")
    record_history_days: int = sourced(730, "assumption: the clinic's records cover the last 2 years of events")
    short_history_fraction: float = sourced(0.06, "assumption: new or transferred patients with < 1 year of records (their 365-day counts are unknown)")
    labs: tuple[LabRanges, ...] = sourced(DEFAULT_LABS, "see each lab's source")
    alt_median_male: float = sourced(24.0, "ALT median ~20-25 U/L in Chinese adult men, ~15-18 in women (WS/T 404.1 reference population)")
    alt_median_female: float = sourced(17.0, "as alt_median_male")
    alt_sd_log: float = sourced(0.45, "assumption: gives ~0.5 % (T1D) and ~1 % (T2D, fattier livers) with ALT >= 2x the lab's ULN")
    alt_bmi_effect: float = sourced(0.03, "assumption: +3 % ALT per BMI unit above 24 (fatty liver)")
    ast_median_male: float = sourced(22.0, "AST median ~20-24 U/L (WS/T 404.1)")
    ast_median_female: float = sourced(19.0, "as ast_median_male")
    ast_sd_log: float = sourced(0.30, "assumption")
    ast_alt_correlation: float = sourced(0.7, "assumption: ALT and AST move together")
    bilirubin_median_male: float = sourced(12.0, "total bilirubin median ~10-13 umol/L (assumption)")
    bilirubin_median_female: float = sourced(9.5, "as bilirubin_median_male")
    bilirubin_sd_log: float = sourced(0.35, "assumption")
    gilbert_fraction: float = sourced(0.05, "Gilbert syndrome ~3-7 % of East Asians (assumption)")
    gilbert_factor: float = sourced(2.2, "assumption: bilirubin ~2x in Gilbert syndrome")
    uric_acid_median_male: float = sourced(360.0, "serum urate ~360 umol/L in Chinese men, ~270 in women (national surveys, assumption)")
    uric_acid_median_female: float = sourced(275.0, "as uric_acid_median_male")
    uric_acid_sd_log: float = sourced(0.22, "assumption")
    sbp_at_40: float = sourced(120.0, "assumption: SBP ~120 mmHg at 40, +0.6 mmHg per year of age, +0.8 per BMI unit")
    sbp_per_year: float = sourced(0.6, "assumption")
    sbp_sd: float = sourced(13.0, "assumption")
    trial_participation: float = sourced(0.04, "assumption: share with any interventional-trial participation in the record window")
    recorded_vitals: float = sourced(0.98, "assumption: weight, height and blood pressure at the screening visit")
    recorded_chemistry: float = sourced(0.85, "assumption: the routine chemistry panel (liver and kidney function with uric acid, as Chinese hospital labs report them together) within 6 months")
    recorded_bilirubin_share: float = sourced(0.97, "assumption: bilirubin now and then missing from the panel")
    recorded_uric_acid_share: float = sourced(0.95, "assumption")
    recorded_hba1c: float = sourced(0.92, "assumption: HbA1c within 3 months")
    recorded_fasting_glucose: float = sourced(0.88, "assumption")
    recorded_postmeal_glucose: float = sourced(0.45, "assumption: 2-h post-meal glucose in Chinese clinics' routine panel for about half")
    recorded_cpeptide: float = sourced(0.55, "assumption: C-peptide is commonly measured in Chinese diabetes centres")
    recorded_postmeal_share: float = sourced(0.75, "assumption: share of C-peptide/insulin tests that include the 2-h value")
    recorded_insulin: float = sourced(0.35, "assumption: serum insulin with the C-peptide release test")
    recorded_random_glucose: float = sourced(0.30, "assumption: a non-fasting laboratory glucose on record")
    recorded_random_cpeptide: float = sourced(0.15, "assumption: a random C-peptide instead of a release test, among those without one (the T1D Exchange's approach; Davis 2015)")
    recorded_kitt: float = sourced(0.0, "assumption: an insulin tolerance test is a research test")
    recorded_insulin_dose: float = sourced(0.95, "assumption: insulin dose in the record")
    recorded_ogld: float = sourced(0.95, "assumption: oral agents and doses in the record")
    recorded_on_insulin: float = sourced(0.99, "assumption")
    recorded_history: float = sourced(0.97, "assumption: childbearing potential and cancer history taken")
    recorded_pregnancy_status: float = sourced(0.92, "assumption: pregnancy status (test or history) for women of childbearing potential")
    recorded_unawareness: float = sourced(0.7, "assumption: a Clarke/Gold awareness score on record (T1D, age >= 6)")
    cgm_active_beta: tuple[float, float] = sourced((8.0, 1.0), "assumption: Beta(8, 1) share of possible readings; ~5 % of wearers below the 70 % sufficiency rule (Battelino 2019)")
    conditions: Conditions = sourced(Conditions(), "see each condition's source")
    pregnancy: float = sourced(0.015, "assumption: share of women of childbearing potential pregnant at screening")
    lactation: float = sourced(0.012, "assumption")
    sterile_fraction: float = sourced(0.08, "assumption: premenopausal women not of childbearing potential (sterilisation etc.)")
    menopause_age: float = sourced(50.0, "median age at natural menopause in China ~49-50 y")
    cancer_active: float = sourced(0.003, "assumption: share with untreated/active cancer at age 40, doubling per decade (5-year cancer prevalence in China ~1-2 % at 60)")
    cancer_remission: float = sourced(0.008, "assumption: share cured/in remission at age 40, doubling per decade")


@dataclass(frozen=True)
class T1DClinicParams(PopulationParams):
    """A type 1 diabetes clinic of a Chinese tertiary centre (children and adults)."""

    female_fraction: float = sourced(0.50, "similar T1D incidence in both sexes in China (Weng et al., BMJ 2018;360:j5295)")
    # The clinic's age structure comes first and onset is drawn given age from age-specific incidence, so
    # duration grows with age (t1d.py). Prevalent adults then have the long durations real adult clinics see.
    child_fraction: float = sourced(0.03, "assumption: children are a small share of a tertiary centre's type 1 clinic (most are seen in paediatric hospitals); ages 1-17 uniform")
    adult_age_mean: float = sourced(48.0, "assumption: adults attending a type 1 clinic ~ Normal(48, 12) truncated to 18-85 y; with onset drawn from incidence below, adults have a median duration of ~27 y, as in Western adult clinics where islet-alone recipients are found (recipients 43-48 y old with 25-30 y of diabetes: Ryan 2005, Hering 2016)")
    adult_age_sd: float = sourced(12.0, "as adult_age_mean")
    incidence_by_age: tuple[tuple[float, float], ...] = sourced(
        ((5.0, 1.2), (10.0, 1.9), (15.0, 2.7), (30.0, 1.28), (200.0, 0.69)),
        "T1D incidence per 100,000 person-years by age band (upper age, rate): 1.93 at 0-14 y (peaking at 10-14; "
        "the split within 0-14 is an assumption with that mean), 1.28 at 15-29 y and 0.69 at >= 30 y (Weng et al., "
        "BMJ 2018;360:j5295); onset given the current age follows these rates, so 65 % of incident cases are adults "
        "in a population of China's age structure while a prevalent adult's diabetes mostly began young")
    max_age: float = sourced(85.0, "assumption")
    adult_bmi_mean: float = sourced(21.8, "assumption: adults with T1D in China are lean (BMI ~21-22); compared with ShanghaiT1DM in docs/synthetic.md")
    adult_bmi_sd: float = sourced(3.2, "assumption")
    hba1c_by_age: tuple[tuple[float, float], ...] = sourced(
        ((13.0, 8.4), (20.0, 9.1), (30.0, 8.8), (200.0, 8.3)),
        "mean HbA1c by age band (upper bound, %): T1D Exchange (Foster et al., Diabetes Technol Ther 2019) peaks "
        "~9.3 % at 15-18 y and is ~7.7-7.9 % over 30; Chinese clinics report ~0.5 % higher (ShanghaiT1DM median 8.5 %)")
    hba1c_sd: float = sourced(1.5, "T1D Exchange SD ~1.4-1.7 %")
    cgm_use: float = sourced(0.40, "assumption: CGM use ~30 % in the T1D Exchange 2016-18 (Foster 2019), rising since; lower in Chinese clinics")
    cgm_hba1c_effect: float = sourced(-0.3, "CGM users have ~0.3-0.5 % lower HbA1c (Foster 2019)")
    glycation_gap_sd: float = sourced(0.55, "GMI and HbA1c differ by >= 0.5 % in about half of people (Bergenstal et al., Diabetes Care 2018;41:2275)")
    cgm_cv_mean: float = sourced(37.0, "glucose CV 36-38 % in T1D CGM users (Battelino 2019; real-world CGM cohorts)")
    cgm_cv_sd: float = sourced(6.0, "assumption")
    # Residual secretion is calibrated to FASTING C-peptide (what the screening variable holds) of Chinese
    # autoimmune T1D, the seed trials' setting; random (non-fasting) C-peptide runs higher, so Davis 2015's 29 %
    # detectable (random, T1D Exchange) is an upper bound, not a target. docs/synthetic.md has the comparison.
    cpeptide_at_diagnosis: float = sourced(0.085, "nmol/L, median fasting C-peptide at diagnosis above the floor; with the decline and spread below gives 69, 44, 24, 14 and 8 % with fasting C-peptide >= 0.05 nmol/L at 0, 1, 2, 3 and 4 years, against 67, 44, 24, 13 and 7 % without failure in Chinese autoimmune T1D followed from diagnosis ('Tapering decay of beta-cell function in Chinese patients with autoimmune type 1 diabetes: a four-year prospective study', n = 325; fasting < 50 pmol/L with postprandial < 100 pmol/L counted as failure)")
    cpeptide_floor: float = sourced(0.003, "nmol/L, median long-term microsecretion: most long-duration T1D secrete a little C-peptide, mostly below standard assays (Oram et al., Diabetes Care 2015;38:323); gives ~4 % fasting >= 0.017 nmol/L after 30-40 years, below the 7.5 % with a stimulated peak > 0.03 nmol/L at 35 years in DCCT/EDIC (Gubitosi-Klug et al., J Clin Invest 2021;131:e143011)")
    cpeptide_tau_child: float = sourced(1.1, "years, median time constant of the decline with onset before 18 (fitted with the other C-peptide parameters to the Chinese four-year study above)")
    cpeptide_tau_adult: float = sourced(1.65, "years; C-peptide falls more slowly with adult onset (Davis et al., Diabetes Care 2015;38:476; Japanese acute-onset T1D, J Diabetes Investig 2018, PMC6031490); 1.5x the childhood value is an assumption")
    cpeptide_decline_sd_log: float = sourced(0.5, "between-person SD of log tau: some people lose C-peptide slowly, which gives the tapering decline of the Chinese four-year study")
    cpeptide_sd_log: float = sourced(1.0, "between-person SD of log fasting C-peptide around the curve (fitted with the parameters above)")
    cpeptide_detection_limit: float = sourced(0.017, "lower limit of the T1D Exchange C-peptide assay (Davis 2015)")
    cpeptide_stimulation_ratio: float = sourced(2.0, "assumption: 2-h / fasting C-peptide in T1D with residual secretion")
    insulin_per_kg_child: float = sourced(0.8, "ISPAD 2018: prepubertal ~0.7-1.0 U/kg/day, puberty up to 1.2+")
    insulin_per_kg_puberty: float = sourced(1.0, "ISPAD 2018")
    insulin_per_kg_adult: float = sourced(0.6, "adults ~0.5-0.8 U/kg/day (T1D Exchange)")
    insulin_sd_log: float = sourced(0.3, "assumption")
    metformin_adjunct: float = sourced(0.05, "assumption: ~5-8 % of adults with T1D take metformin (T1D Exchange)")
    sh_rate: float = sourced(0.15, "severe hypoglycaemia (needing help) per person-year at the reference profile (10 y, aware, no C-peptide, HbA1c 8 %); gives 22 % with >= 1 event a year, between the T1D Exchange (8 % with seizure/coma; Weinstock et al., JCEM 2013) and surveys with the broader definition (~35-40 %; Pedersen-Bjergaard 2004)")
    sh_frailty_shape: float = sourced(0.7, "Gamma frailty for what the named risk markers (awareness, duration, C-peptide, HbA1c) leave unexplained; with them, 5 % of people have 51 % of a year's events (Pedersen-Bjergaard et al., Diabetes Metab Res Rev 2004: 5 % had 54 %)")
    sh_rr_unawareness: float = sourced(6.0, "impaired awareness: a six-fold higher rate of severe hypoglycaemia (Geddes et al., Diabet Med 2008;25:501)")
    sh_rr_per_decade_duration: float = sourced(1.0, "direct effect of duration: none beyond what it does through impaired awareness and C-peptide loss, which together give adults about 3x the rate with > 15 y of T1D as with < 5 y, as the UK Hypoglycaemia Study Group found (Diabetologia 2007;50:1140: 1.10 vs 3.20 events per person-year, 2.9x); a direct effect on top overshot it (9x); the ratio is 3.4x since the clinic became an adult one with longer diabetes (issue 13)")
    sh_rr_per_hba1c_point: float = sourced(0.87, "lower HbA1c, more severe hypoglycaemia (DCCT: 3x with intensive therapy); weaker in modern cohorts (Weinstock 2013)")
    sh_rr_cpeptide: float = sourced(0.35, "fasting C-peptide >= 0.1 nmol/L (about a stimulated peak > 0.2): history of severe hypoglycaemia in 27 % vs 70 % of non-responders at 35 years (Gubitosi-Klug 2021); ~65 % lower risk in DCCT C-peptide responders (Steffes et al., Diabetes Care 2003;26:832)")
    sh_rr_low_cpeptide: float = sourced(0.6, "detectable fasting C-peptide below 0.1 nmol/L: history of severe hypoglycaemia in 48 % with a stimulated peak 0.03-0.2 vs 70 % (Gubitosi-Klug 2021); rate ratio an assumption")
    sh_rr_under_6: float = sourced(1.5, "highest rate in children < 6 y (Cengiz et al., Pediatr Diabetes 2013)")
    unawareness_prevalence: float = sourced(0.08, "impaired awareness at 10 y duration; with the odds rising 2x per decade (and with C-peptide loss) it is ~6 % at 1-5 y, ~23 % at 20-25 y, ~41 % at 30-40 y and ~33 % of the whole clinic (median duration ~27 y); ~20 % of adults in Geddes 2008 (Diabet Med 25:501)")
    unawareness_or_per_decade: float = sourced(2.0, "impaired awareness becomes more common with duration (Geddes 2008); assumption: odds x 2 per decade, which gives adults with > 15 y of diabetes ~3.4x the severe-hypoglycaemia rate of those with < 5 y (UK Hypoglycaemia Study Group 2007: 2.9x)")
    unawareness_or_no_cpeptide: float = sourced(2.0, "assumption: odds of impaired awareness with undetectable C-peptide vs detectable; residual secretion keeps the glucagon and symptom response to hypoglycaemia (Gubitosi-Klug 2021 saw fewer severe events with any stimulated C-peptide > 0.03)")
    unawareness_sh_link: float = sourced(0.5, "assumption: log-odds of unawareness per SD of the hypoglycaemia frailty (recurrent hypoglycaemia blunts awareness)")
    antibody_at_diagnosis: tuple[tuple[str, float, float], ...] = sourced(
        (("gada_positive", 0.62, 10.0), ("ia2a_positive", 0.40, 6.0), ("znt8a_positive", 0.30, 4.0),
         ("iaa_positive", 0.30, 0.0), ("ica_positive", 0.40, 5.0)),
        "positivity at diagnosis and half-life (y) of positivity: Taiwanese children GADA 66 %, IA-2A 65 %, IAA 36 %, "
        "either GADA or IA-2A 89 % in year 1 and 37 % after 9 y (Cheng et al., Oncotarget 2018); lower in Chinese "
        "adult onset. IAA is only meaningful before insulin (half-life 0 = tested at diagnosis only)")
    antibody_correlation: float = sourced(0.5, "assumption: shared autoimmunity factor (Gaussian copula)")
    antibody_tested_recent_dx: float = sourced(0.85, "assumption: share with antibody results on record when diagnosed within ~10 y")
    antibody_tested_old_dx: float = sourced(0.45, "assumption: long-standing T1D often never tested (diagnosed before routine testing)")
    antibody_retest: float = sourced(0.15, "assumption: share re-tested recently (results at current duration)")
    antibody_panel: tuple[tuple[str, float], ...] = sourced(
        (("gada_positive", 0.95), ("ia2a_positive", 0.70), ("znt8a_positive", 0.45), ("iaa_positive", 0.40),
         ("ica_positive", 0.30)),
        "assumption: share of tested people with each antibody in the panel")
    recorded_cpeptide: float = sourced(0.60, "assumption")
    conditions: Conditions = sourced(
        dataclasses.replace(Conditions(), smoking_history=Condition(
            0.11, 1.1, male_odds_ratio=30.0, min_age=12,
            source="ever-smoking ~40 % of men with T1D, rare in women (assumption, below the general population's ~50 %)")),
        "shared conditions; smoking lower than in the general population")


@dataclass(frozen=True)
class T2DClinicParams(PopulationParams):
    """A type 2 diabetes clinic of a Chinese tertiary centre (adults)."""

    female_fraction: float = sourced(0.445, "55.5 % men among 9,065 Chinese T2D outpatients (Chen et al., Med Sci Monit 2015;21:1440)")
    age_mean: float = sourced(58.0, "assumption: Chinese T2D outpatients ~55-63 y")
    age_sd: float = sourced(11.0, "assumption")
    min_age: float = sourced(20.0, "assumption")
    max_age: float = sourced(90.0, "assumption")
    duration_shape: float = sourced(1.6, "assumption: duration ~ Gamma(1.6, 5.5 y x exp(0.03 x (age - 58))), mean ~9 y, longer in older people")
    duration_scale: float = sourced(5.5, "as duration_shape")
    bmi_mean: float = sourced(26.0, "BMI < 24: 32 %, 24-28: 37 %, > 28: 30 % (Chen 2015)")
    bmi_sd: float = sourced(3.9, "as bmi_mean")
    hba1c_mean: float = sourced(8.2, "only 32.6 % of Chinese T2D outpatients at glycaemic target (Chen 2015); tertiary centres see worse control")
    hba1c_sd: float = sourced(1.8, "assumption")
    hba1c_per_duration_year: float = sourced(0.03, "assumption: control worsens with duration")
    insulin_use_at_reference: float = sourced(0.33, "about a third of Chinese T2D outpatients use insulin (assumption; CCMR-3B study)")
    insulin_per_kg: float = sourced(0.5, "assumption: insulin-treated T2D ~0.3-0.8 U/kg/day")
    insulin_sd_log: float = sourced(0.4, "assumption")
    oral_agents_max: int = sourced(3, "assumption: up to 3 oral agents")
    kitt_median: float = sourced(2.5, "short ITT KITT: healthy ~3.5-4.5 %/min, abnormal glucose tolerance ~2.6 (Park et al., J Korean Diabetes Assoc 1998; Gelding et al., Diabet Med 1993); T2D lower, falling with BMI and HOMA-IR (Okita et al., J Diabetes Investig 2014)")
    kitt_sd_log: float = sourced(0.30, "assumption: between-subject CV ~26 % in healthy people (Gelding 1993), wider in T2D")
    kitt_bmi_effect: float = sourced(-0.035, "log KITT per BMI unit (assumption; Okita 2014 shows the negative slope)")
    cpeptide_median: float = sourced(0.55, "fasting C-peptide ~0.4-0.7 nmol/L in Chinese T2D (assumption; ShanghaiT2DM inpatients: median 0.43)")
    cpeptide_sd_log: float = sourced(0.45, "assumption")
    cpeptide_stimulation_ratio: float = sourced(2.3, "assumption: 2-h / fasting C-peptide ~2-3 in T2D C-peptide release tests (ShanghaiT2DM median ratio ~1.8)")
    cpeptide_insulin_molar_ratio: float = sourced(9.0, "peripheral fasting C-peptide / insulin molar ratio ~5-10 (hepatic insulin extraction)")
    cgm_use: float = sourced(0.12, "assumption: mostly insulin-treated patients")
    glycation_gap_sd: float = sourced(0.5, "Bergenstal 2018")
    cgm_cv_mean: float = sourced(28.0, "glucose CV 23-30 % in T2D CGM users (real-world CGM cohorts)")
    cgm_cv_sd: float = sourced(5.0, "assumption")
    sh_rate_insulin: float = sourced(0.12, "insulin-treated T2D: 0.1-0.7 severe events per person-year depending on duration (UK Hypoglycaemia Study Group, Diabetologia 2007)")
    sh_rate_oral: float = sourced(0.01, "assumption: sulfonylureas cause most of these")
    sh_frailty_shape: float = sourced(0.3, "assumption")
    unawareness_insulin: float = sourced(0.08, "assumption: impaired awareness in ~8 % of insulin-treated T2D")
    gada_tested: float = sourced(0.25, "assumption: GADA is checked in about a quarter to screen for LADA")
    gada_positive: float = sourced(0.06, "GADA in ~6 % of phenotypic T2D in China (LADA China Study; Zhou et al., Diabetes 2013)")
    other_antibody_tested: float = sourced(0.08, "assumption")
    other_antibody_positive: float = sourced(0.02, "IA-2A / ZnT8A ~2 % of phenotypic T2D (LADA China Study)")
    recorded_cpeptide: float = sourced(0.55, "assumption")
    recorded_insulin: float = sourced(0.45, "assumption: serum insulin with the C-peptide release test")
    recorded_kitt: float = sourced(0.5, "assumption: an insulin tolerance test for about half of a centre's metabolic work-up population; no registry figure")
    recorded_unawareness: float = sourced(0.4, "assumption: awareness rarely scored in T2D")


# the generator's parameters for each population of explorer.clinical.populations (tested to cover them all)
PARAMS_BY_POPULATION = {"t1d": T1DClinicParams, "t2d": T2DClinicParams}


def default_params(population: str) -> PopulationParams:
    """The documented default parameters of a population ("t1d" or "t2d")."""
    try:
        return PARAMS_BY_POPULATION[population]()
    except KeyError:
        raise DefinitionError(f"unknown population {population!r}; use one of {list(POPULATION_NAMES)}",
                              field="population") from None


def with_overrides(params: PopulationParams, overrides: Mapping[str, Any]) -> PopulationParams:
    """A copy of `params` with values replaced; nested mappings update nested dataclasses (conditions)."""
    names = {f.name for f in fields(params)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in names:
            raise DefinitionError(f"{type(params).__name__} has no parameter {key!r}", field=key)
        current = getattr(params, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            value = with_overrides(current, value)
        changes[key] = value
    return dataclasses.replace(params, **changes)


def resolve_params(population: str, params: PopulationParams | Mapping[str, Any] | None) -> PopulationParams:
    """Defaults for the population, a full parameter object, or defaults updated from a mapping."""
    base = default_params(population)
    if params is None:
        return base
    if isinstance(params, Mapping):
        return with_overrides(base, params)
    if not isinstance(params, type(base)):
        raise DefinitionError(f"population {population!r} needs {type(base).__name__}, got {type(params).__name__}",
                              field="params")
    return params


def fully_recorded(params: PopulationParams) -> PopulationParams:
    """The same population with every test done and every history taken (nothing unknown by omission).

    Each variable's values come from its own random stream, separate from whether it was recorded, so
    this is the *same* subjects with complete records: the truth the unknowns of a funnel hide. CGM use
    stays a clinical choice (only wearers have CGM metrics); every recorded_* share, including the insulin
    tolerance test, becomes 1.
    """
    changes: dict[str, Any] = {}
    for f in fields(params):
        value = getattr(params, f.name)
        if f.name.startswith("recorded_") or f.name.startswith("antibody_tested") or f.name in (
                "gada_tested", "other_antibody_tested"):
            changes[f.name] = 1.0
        elif f.name == "short_history_fraction":
            changes[f.name] = 0.0
        elif f.name == "antibody_panel":
            changes[f.name] = tuple((name, 1.0) for name, _ in value)
        elif f.name == "conditions":
            changes[f.name] = dataclasses.replace(value, **{c.name: dataclasses.replace(getattr(value, c.name), recorded=1.0)
                                                            for c in fields(value)})
    return dataclasses.replace(params, **changes)


def parameter_table(params: PopulationParams) -> list[dict[str, str]]:
    """Rows (parameter, value, source) for documentation, conditions and labs expanded."""
    rows: list[dict[str, str]] = []
    for f in fields(params):
        value = getattr(params, f.name)
        if isinstance(value, Conditions):
            for c in fields(value):
                cond: Condition = getattr(value, c.name)
                rows.append({"parameter": f"conditions.{c.name}",
                             "value": f"{cond.prevalence:g} (OR/decade {cond.odds_ratio_per_decade:g}, "
                                      f"recorded {cond.recorded:g})",
                             "source": cond.source})
        elif f.name == "labs":
            for lab in value:
                rows.append({"parameter": f"labs.{lab.name}",
                             "value": f"share {lab.share:g}; ALT ULN {lab.alt_uln_male:g}/{lab.alt_uln_female:g}, "
                                      f"AST {lab.ast_uln_male:g}/{lab.ast_uln_female:g} U/L (M/F), "
                                      f"bilirubin {lab.bilirubin_uln:g} umol/L",
                             "source": lab.source})
        else:
            rows.append({"parameter": f.name, "value": str(value), "source": f.metadata.get("source", "")})
    return rows
