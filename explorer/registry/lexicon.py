"""What the extractor knows, as data: how registry text names catalogue variables, units and conversions.

Adding a synonym, a unit spelling or a conversion is a one-line change here; explorer.registry.extract
holds the (few) rules that combine them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- numeric variables -----------------------------------------------------------------------------
# name -> regexes (case-insensitive) that name it in eligibility text. Order matters only for overlaps:
# longer, more specific phrases are matched first (see extract._variable_mentions).
NUMERIC_TERMS: dict[str, list[str]] = {
    "hba1c": [r"hb\s?a\s?1\s?c", r"hb\s?ac1", r"hba1", r"hbalc", r"(?<![a-z])a1c",
              r"glyc(?:os)?(?:yl)?ated\s+h(?:a)?(?:e)?moglobin(?:\s*\(?\s*(?:hb)?a1c\)?)?",
              r"h(?:a)?emoglobin\s+a1c", r"glycohemoglobin"],
    "fasting_glucose": [r"fast(?:ing)?\s+(?:plasma\s+|serum\s+|blood\s+|fingerstick\s+|capillary\s+|venous\s+)*"
                        r"(?:glucose|sugar)(?:\s+level)?", r"\bFPG\b", r"\bFBG\b", r"\bFSG\b", r"\bFBS\b",
                        # "fasting glycaemia", and the French "glycémie à jeun"
                        r"fast(?:ing)?\s+(?:plasma\s+|blood\s+|capillary\s+|venous\s+)*glyc(?:a)?emia",
                        r"glyc[ée]mie\s+(?:plasmatique\s+)?(?:à|a)\s+jeun"],
    "random_glucose": [r"(?:random|casual|non-?fasting)\s+(?:plasma\s+|serum\s+|blood\s+|capillary\s+|venous\s+)*"
                       r"(?:glucose|sugar)(?:\s+levels?)?", r"\bRBG\b", r"\bRPG\b",
                       # "plasma glucose at any time" (the diagnostic criterion's wording of a random glucose)
                       r"(?:(?:plasma|serum|blood|capillary|venous)\s+)*(?:glucose|sugar)(?:\s+levels?)?\s+"
                       r"(?:(?:measured|taken)\s+)?(?:at\s+any\s+time(?:\s+of\s+(?:the\s+)?day)?|at\s+random)"],
    "postmeal_glucose": [r"(?:2|two)[- ]?h(?:ours?|r)?\s+post[- ]?(?:prandial|meal)\s+(?:plasma\s+|blood\s+)?glucose",
                         r"post[- ]?(?:prandial|meal)\s+(?:plasma\s+|blood\s+)?(?:glucose|sugar)", r"\bPPG\b",
                         r"\bPBG\b"],
    "fasting_cpeptide": [r"fasting\s+(?:serum\s+|plasma\s+)?c[- ]?peptide"],
    "postmeal_cpeptide": [r"(?:stimulated|post[- ]?(?:mixed[- ])?meal|mmtt[- ]stimulated|peak)\s+(?:serum\s+)?c[- ]?peptide"],
    "random_cpeptide": [r"(?:random|casual|non-?fasting)\s+(?:serum\s+|plasma\s+)?c[- ]?peptide"],
    "fasting_insulin": [r"fasting\s+(?:serum\s+|plasma\s+)?insulin(?!\s+(?:dose|therapy|treatment|requirement))"],
    "insulin_dose": [r"(?:total\s+)?(?:daily\s+)?insulin\s+(?:requirements?|doses?|dosage|needs?)",
                     r"total\s+daily\s+(?:insulin\s+)?dose", r"\bTDD\b"],
    "bmi": [r"\bBMI\b", r"body[- ]mass[- ]index"],
    "weight": [r"(?:total\s+)?body\s+weight(?!\s+(?:gain|loss|change))",
               r"(?<![a-z])weight(?!\s+(?:gain|loss|change|reduction|management|\[))"],
    # a calculated GFR is an estimate ("calculated GFR", "calculated glomerular filtration rate")
    "egfr": [r"(?:calculated\s+)?\beGFR\b", r"(?:estimated|calculated)\s+glomerular\s+filtration\s+rate", r"glomerular\s+filtration\s+rate",
             r"(?:calculated\s+)?\bGFR\b"],
    "creatinine": [r"(?<!clearance\s)(?<!clearance\sof\s)(?:serum\s+|plasma\s+)?creatinine(?!\s+(?:clearance|ratio|kinase))",
                   # the abbreviation, capital C and small r only ("CR" is a complete response; "51Cr-EDTA" a tracer,
                   # "CrCl" the clearance)
                   r"(?<![\w-])(?:(?:serum|plasma|S)[\s.-]+)?(?-i:Cr)(?![\w-])(?!\s*Cl\b)"],
    # clearance in mL/min, not per 1.73 m2: measured, or estimated by Cockcroft-Gault (the catalogue's description)
    "creatinine_clearance": [r"(?:calculated\s+|estimated\s+|measured\s+)?creatinine\s+clearance(?:\s+rate)?",
                             r"(?:(?:calculated|estimated|measured)\s+)?(?:\bCr\s?Cl\b|\bCLcr\b)",
                             # the French and Spanish word order, in English text too: "clearance (of) creatinine"
                             r"clearance\s+(?:of\s+)?creatinine"],
    # GPT/GOT (glutamic pyruvic / oxaloacetic transaminase) and the European ALAT/ASAT; GOT in capitals only (never
    # the verb "got")
    "alt": [r"\bALT\b", r"\bSGPT\b", r"alanine\s+(?:amino)?transferase", r"alanine\s+(?:amino)?transaminase",
            r"(?-i:\bS?GPT\b)", r"\bALAT\b"],
    "ast": [r"\bAST\b", r"\bSGOT\b", r"aspartate\s+(?:amino)?transferase", r"aspartate\s+(?:amino)?transaminase",
            r"(?-i:\bS?GOT\b)", r"\bASAT\b"],
    # direct (conjugated) and indirect bilirubin are fractions, not the total the catalogue holds
    "bilirubin": [r"(?<!direct\s)(?<!indirect\s)(?<!conjugated\s)(?:total\s+|serum\s+)?bilirubin"],
    # the mean of repeated readings is how the value is taken ("mean sitting SBP"); "mean arterial pressure" is another
    # measure (UNMAPPED_TERMS)
    "systolic_bp": [r"(?:(?:mean|average)\s+(?:(?:sitting|seated|resting|office|clinic)\s+)?)?"
                    r"(?:systolic(?:\s+blood)?(?:\s+pressure|\s+BP\b)?|\bSBP\b)"],
    "diastolic_bp": [r"(?:(?:mean|average)\s+(?:(?:sitting|seated|resting|office|clinic)\s+)?)?"
                     r"(?:diastolic(?:\s+blood)?(?:\s+pressure|\s+BP\b)?|\bDBP\b)"],
    "tir": [r"time\s+in\s+(?:target\s+)?range", r"\bTIR\b"],
    "uric_acid": [r"(?:serum\s+)?uric\s+acid", r"(?:serum\s+)?urate"],
    # French too ("Âge ≥ 18 ans", "âgés de 18 à 65 ans"): the unit "ans" is read, so is the word it follows
    "age": [r"(?<![a-zà-ÿ])(?:age[ds]?|âge|[aâ]gée?s?)(?![a-zà-ÿ])"],
}
# Names that stand for several variables sharing one threshold ("LFTs > 2x ULN": ALT or AST).
GROUP_TERMS: dict[tuple[str, ...], list[str]] = {
    ("alt", "ast"): [r"(?:(?:liver|hepatic|serum)\s+)?(?:transaminases|aminotransferases)", r"liver\s+enzymes?", r"hepatic\s+enzymes?",
                     # the singular used for the class ("serum aminotransferase 3x ULN"), not a named one
                     r"(?<!alanine\s)(?<!aspartate\s)(?<!oxalacetic\s)(?<!pyruvic\s)\b(?:aminotransferase|transaminase)\b",
                     r"\bLFTs?\b", r"liver\s+function\s+tests?"],
    ("systolic_bp", "diastolic_bp"): [r"blood\s+pressure", r"\bBP\b", r"hypertension"],
}
# What a named panel or group of tests covers (catalogue names where the catalogue holds the test, words where it
# does not). A rule that reads the panel as some of its members names the others (faithful.panel_left_out), whatever
# GROUP_TERMS reads it as: "liver function tests > 3 x ULN" read as ALT or AST leaves bilirubin and ALP out.
PANELS: dict[str, tuple[str, ...]] = {
    r"\bLFTs?\b|liver\s+function\s+(?:tests?|panel)|hepatic\s+function\s+(?:tests?|panel)|liver\s+(?:tests?|panel)":
        ("alt", "ast", "bilirubin", "alkaline phosphatase"),
    r"liver\s+enzymes|hepatic\s+enzymes?": ("alt", "ast", "alkaline phosphatase", "GGT"),
    r"transaminases|aminotransferases": ("alt", "ast"),
    r"(?:renal|kidney)\s+function\s+(?:tests?|panel)": ("creatinine", "urea"),
    r"lipid\s+(?:panel|profile)|\blipids\b": ("LDL cholesterol", "HDL cholesterol", "triglycerides"),
    r"blood\s+pressure|\bBP\b": ("systolic_bp", "diastolic_bp"),
}
# An organ's failure named and then stated as its own measure ("Severe renal failure with eGFR < 30 mL/min",
# "significant renal disease manifested by creatinine > 2.5 mg/dL"): the value defines the head, so the head adds
# nothing the rule leaves out. Only a head that opens its clause, with at most a severity word: "chronic", "acute",
# "end-stage" or a stage say more than one value can (an acute injury is no chronic disease).
DEFINED_BY_VALUE: dict[str, tuple[str, ...]] = {
    r"(?:renal|kidney)\s+(?:failure|insufficiency|impairment|dysfunction|disease)": ("egfr", "creatinine",
                                                                                 "creatinine_clearance"),
    r"(?:hepatic|liver)\s+(?:dysfunction|impairment|injury)": ("alt", "ast", "bilirubin"),
    # the same heads worded as an impaired function: "Impaired renal function defined as eGFR < 45"
    r"(?:impaired|reduced|decreased|abnormal)\s+(?:renal|kidney)\s+function|(?:renal|kidney)\s+function\s+impairment":
        ("egfr", "creatinine", "creatinine_clearance"),
    r"(?:impaired|abnormal|deranged)\s+(?:hepatic|liver)\s+function(?:\s+tests?)?|(?:hepatic|liver)\s+function\s+impairment":
        ("alt", "ast", "bilirubin"),
    # "Uncontrolled hypertension defined as SBP >= 160 mmHg or DBP >= 100 mmHg": the pressures say what it is
    r"(?:(?:uncontrolled|poorly[\s-]+controlled|inadequately[\s-]+controlled|not\s+controlled|untreated|"
    r"uncontrolled\s+or\s+untreated)\s+)?(?:arterial\s+)?hypertension": ("systolic_bp", "diastolic_bp"),
}
DEFINED_BY_VALUE_FRAME = (
    r"(?:^|(?<=[;:,(])|(?<=\bwith\s)|(?<=\bof\s))\s*(?P<head>(?:(?:severe|serious|significant(?:ly)?|clinically\s+significant|"
    r"moderate(?:\s+(?:to|or)\s+severe)?|advanced|marked|known)\s+)?{organ})\s*,?\s*"
    r"(?:with|defined\s+(?:as|by)|manifested\s+by|as\s+(?:documented|evidenced|shown|defined|measured)\s+by|[:–-])\s*"
    r"(?:(?:a|an|the|estimated|calculated|serum|plasma)\s+){{0,3}}$")
# Words before a lab or a pressure that its upper limit states ("Elevated ALT (> 3 x ULN)", "Uncontrolled blood pressure
# (> 160/95 mmHg)", "Severe uncontrolled hypertension (>= 180/110 mmHg)"): they say "high", and the value says how high,
# so they add nothing a rule with ">" or ">=" leaves out. Never before a lower limit ("elevated ALT < 3 x ULN").
RAISED_BY_VALUE = re.compile(
    r"(?:^|(?<=[\s(\[;:,]))(?:(?:severe(?:ly)?|significant(?:ly)?|clinically\s+significant|marked(?:ly)?|persistent(?:ly)?|"
    r"known)\s+)?(?:uncontrolled|poorly[\s-]+controlled|inadequately[\s-]+controlled|not\s+(?:well[\s-]+)?controlled|"
    r"elevated|raised|increased|high|abnormal(?:ly\s+(?:high|elevated))?)\s+(?:(?:serum|plasma|blood|liver|hepatic)\s+)?$",
    re.I)
# How a kidney measure is estimated, before or after its name or value ("CKD-EPI eGFR", "eGFR by MDRD < 60", "< 60
# mL/min/1.73 m2 according to MDRD", "calculated with the Cockcroft-Gault formula"): the method, no condition
KIDNEY_METHOD = (r"(?:(?:as\s+)?(?:calculated|estimated|measured|determined|assessed)\s+)?"
                 r"(?:(?:by|with|using|according\s+to|per|via)\s+)?(?:the\s+)?"
                 r"(?<![\w-])(?:MDRD|CKD[- ]?EPI|Cockcroft[- ]+(?:and\s+)?Gault|C-G|"
                 # the names spelled out, with the abbreviation after them or not
                 r"Modification\s+of\s+Diet\s+in\s+Renal\s+Disease(?:\s*\(\s*MDRD\s*\))?|"
                 r"Chronic\s+Kidney\s+Disease\s+Epidemiology\s+Collaboration(?:\s*\(\s*CKD[- ]?EPI\s*\))?)(?![\w-])"
                 r"(?:\s+(?:study\s+)?(?:formula|equation|method|scale|calculation))?")
# Measurements the catalogue does not hold: recognised so their numbers are not pinned on a neighbour.
UNMAPPED_TERMS: list[str] = [
    r"c[- ]?peptide", r"(?:blood\s+|plasma\s+|serum\s+|random\s+)?glucose",
    r"(?:direct|indirect|(?:un)?conjugated)\s+bilirubin", r"h(?:a)?emoglobin(?!\s*a1c)",
    r"(?<![mM][mM][\s.])(?<![mM][mM])\bHgb?\b",  # "mm Hg" is a unit, not haemoglobin
    r"triglycerides?", r"cholesterol", r"\bLDL\b", r"\bHDL\b", r"\bTSH\b", r"platelets?(?:\s+count)?", r"\bWBC\b",
    r"white\s+blood\s+cells?", r"calcium", r"albumin(?:uria)?", r"proteinuria",
    r"\bQTc?\b", r"ejection\s+fraction", r"potassium", r"sodium", r"testosterone", r"vitamin\s+D", r"25-OHD",
    r"\bOGTT\b", r"oral\s+glucose\s+tolerance\s+test", r"alkaline\s+phosphatase", r"\bALP\b", r"\bGGT\b",
    # urea is not creatinine: "serum creatinine or BUN > 2 x ULN" shares a value with a test the catalogue lacks
    r"\bBUN\b", r"(?:blood\s+|serum\s+|plasma\s+)?urea(?:\s+nitrogen)?",
    r"\bPRA\b", r"panel[- ]reactive", r"neutrophils?", r"lymphocytes?", r"\bINR\b", r"lipase", r"amylase",
    r"insulin(?!\s+(?:dose|requirement))", r"ketones?", r"gold\s+score", r"clarke\s+score", r"hypoglyc\w+",
    # vital signs other than the blood pressure the catalogue holds: "SBP < 80 mmHg / mean arterial pressure < 50 mmHg"
    r"mean\s+arterial\s+(?:blood\s+)?pressure", r"\bMAP\b", r"pulse\s+pressure", r"heart\s+rate", r"pulse\s+rate",
    r"respiratory\s+rate",
    # durations and prognoses the catalogue does not record: "life expectancy < 5 years" is no age
    r"life\s+expectancy", r"(?:expected\s+)?survival", r"prognosis", r"amenorrh(?:o)?ea", r"menopaus\w*",
    r"post-?menopausal", r"menstrua\w+",
]

# --- units -----------------------------------------------------------------------------------------
# a unit written with negative exponents ("mmol L-1", "mmol·L⁻¹", "kg m–2"): the exponent's minus as hyphen, en dash,
# the minus sign or superscript; the product as a space, a dot or a middle dot
_PER = r"\s*[.·]?\s*"
_INV1 = r"\s*(?:\^?\s*[-–−]\s*1|⁻¹)(?![\d.])"
_INV2 = r"\s*(?:\^?\s*[-–−]\s*2|⁻²)(?![\d.])"
# canonical unit -> spellings, longest first within the compiled pattern
UNIT_SPELLINGS: dict[str, list[str]] = {
    "mL/min/1.73m2": [r"m[lL]\s*/\s*min\s*(?:/|per)\s*1\.73\s*m(?:2|²|\^2)", r"ml/min/1\.73m2",
                      r"m(?:[lL]|(?:illi)?lit(?:er|re)s?)\s*(?:/|per)\s*min(?:ute)?s?\s*(?:/|per)\s*1\.73\s*"
                      r"(?:m(?:2|²|\^2)|(?:square\s+)?met(?:er|re)s?(?:\s+squared)?|sq\.?\s*m(?![a-z]))",
                      rf"m[lL]{_PER}min{_INV1}{_PER}(?:\(\s*1\.73\s*m{_INV2}\s*\)|\(?\s*1\.73\s*m{_INV2}|"
                      r"(?:/|per)\s*1\.73\s*m(?:2|²|\^2))"],
    # never the start of a rate per body surface ("ml/min/m2" is no clearance in mL/min)
    "mL/min": [r"(?:m[lL]\s*/\s*min(?:ute)?|m(?:[lL]|illilit(?:er|re)s?)\s+per\s+min(?:ute)?|cc\s*(?:/|per)\s*min(?:ute)?)"
               r"(?!\s*(?:/|per)\s*(?:1\.73|m\s*(?:2|²|\^2)|square|body))"],
    "U/kg/day": [r"(?:i?u|units?)\s*/\s*kg\s*(?:/|per)\s*d(?:ay)?", r"(?:i?u|units?)\s+per\s+kg\s+per\s+day",
                 r"(?:i?u|units?)\s*/\s*kg"],
    "U/day": [r"(?:i?u|units?)\s*(?:/|per)\s*d(?:ay)?"],
    "mmol/mol": [r"mmol\s*/\s*mol"],
    "mg/dL": [r"mg\s*/\s*d[lL]", rf"mg{_PER}d[lL]{_INV1}", r"mg\s*%", r"milligrams?\s+per\s+deciliter"],
    "g/L": [r"g\s*/\s*[lL](?![a-zA-Z])"],  # glucose in grams per litre ("glycémie à jeun > 1,26 g/L")
    "mmol/L": [r"mmol\s*/\s*[lL]", rf"mmol{_PER}[lL]{_INV1}", r"millimoles?\s+per\s+lit(?:er|re)"],
    "umol/L": [r"[uµμ]mol\s*/\s*[lL]", rf"[uµμ]mol{_PER}[lL]{_INV1}", r"micromol(?:es)?\s*(?:/|per)\s*lit(?:er|re)", r"micromol\s*/\s*[lL]"],
    "nmol/L": [r"nmol\s*/\s*[lL]", rf"nmol{_PER}[lL]{_INV1}"],
    "pmol/mL": [r"pmol\s*/\s*m[lL]"],
    "pmol/L": [r"pmol\s*/\s*[lL]", rf"pmol{_PER}[lL]{_INV1}", r"pmol(?![a-z/])"],
    "ng/mL": [r"ng\s*/\s*m[lL]"],
    "microU/mL": [r"(?:[uµμ]|micro)i?u\s*/\s*m[lL]", r"mi?u\s*/\s*[lL]"],
    "U/L": [r"i?u\s*/\s*[lL]", r"units?\s*/\s*[lL]"],
    "kg/m2": [r"(?:kg|㎏)\s*/\s*(?:m(?:2|²|\^2)|㎡|sq\.?\s*m)", r"kilograms?\s+per\s+square\s+met(?:er|re)",
              r"kilograms?\s+per\s+met(?:er|re)s?\s+squared?",
              rf"kg{_PER}m{_INV2}"],
    "kg": [r"kg(?![a-z/])", r"㎏", r"kilograms?"],
    "lb": [r"lbs?(?![a-z])", r"pounds?"],
    "mmHg": [r"mm\.?\s*hg", r"millimet(?:er|re)s?\s+of\s+mercury"],
    "%": [r"%", r"percent", r"per\s+cent"],
    "years": [r"years?(?:[- ]old)?", r"ans(?![a-z])", r"yrs?\.?", r"y/o", r"y\.?o\.?(?![a-z])", r"y(?=\s|$)"],
    "months": [r"months?", r"mos?\.?(?=\s|$|-)"],
    "weeks": [r"weeks?", r"wks?\.?"],
    "days": [r"days?"],
}
# "2 x ULN", "2.5 times the upper limit of normal", ">2-fold", "1.5 times the ULRR"
ULN_PATTERN = (r"(?:(?:x|×|\*|times?|-?folds?)?\s*(?:the\s+)?normal\s+(?:values?|range)\b|"
               r"(?:x|×|\*|times?|-?folds?)\s*(?:the\s+)?normal\b(?!\s+(?:upper|limit))|"
               # "3 times above the ULN": a multiple of the ULN, as the text's comparator (before it) says
               r"(?:(?:x|×|\*|times?|-?folds?)(?:\s+(?:above|over))?)?\s*(?:of\s+)?(?:the\s+)?(?:institutional\s+|local\s+)?"
               r"(?:(?:ULN|UNL|ULRR)(?![A-Za-z])|upper\s+limits?\s+of\s+(?:the\s+)?(?:(?:laboratory|lab|local|institutional)\s+)?"
               r"(?:normal|reference)(?:\s+(?:reference\s+|values?\s+)?range)?(?:\s+\(?ULRR\)?)?"
               r"|upper\s+normal\s+(?:limits?|values?)|upper\s+limits?\s+normal\b|upper\s+limit\s+of\s+the\s+reference"
               r"|(?:highest|upper)\s+(?:normal\s+)?reference\s+(?:value|limit)|normal\s+upper\s+limits?))")
ULN_UNIT = "x ULN"  # the unit of a threshold written as a multiple of the upper limit of normal
FOLD_PATTERN = r"(?:x|×|times|-?fold)"


def unit_pattern() -> str:
    alternatives = []
    for unit, spellings in UNIT_SPELLINGS.items():
        for spelling in spellings:
            alternatives.append((unit, spelling))
    return "|".join(f"(?:{s})" for _, s in alternatives)


def canonical_unit(text: str) -> str | None:
    """'mg/dl' -> 'mg/dL'; None if the spelling is unknown."""
    t = text.strip()
    for unit, spellings in UNIT_SPELLINGS.items():
        for spelling in spellings:
            if re.fullmatch(spelling, t, re.I):
                return unit
    return None


# --- conversions to the catalogue's unit --------------------------------------------------------------

def _ifcc_to_ngsp(mmol_mol: float) -> float:
    """HbA1c IFCC mmol/mol -> NGSP/DCCT % (master equation: NGSP = 0.09148 x IFCC + 2.152)."""
    return 0.09148 * mmol_mol + 2.152


_AGE_LIKE = {"years": 1.0, "months": 1 / 12, "weeks": 7 / 365.25, "days": 1 / 365.25}
# variable -> {unit: factor or function} into the catalogue unit (variables.yaml)
CONVERSIONS: dict[str, dict[str, object]] = {
    "hba1c": {"%": 1.0, "mmol/mol": _ifcc_to_ngsp},
    # 1 g/L is 100 mg/dL
    "fasting_glucose": {"mmol/L": 1.0, "mg/dL": 1 / 18.0, "g/L": 100 / 18.0},
    "postmeal_glucose": {"mmol/L": 1.0, "mg/dL": 1 / 18.0, "g/L": 100 / 18.0},
    "random_glucose": {"mmol/L": 1.0, "mg/dL": 1 / 18.0, "g/L": 100 / 18.0},
    "fasting_cpeptide": {"nmol/L": 1.0, "pmol/mL": 1.0, "pmol/L": 0.001, "ng/mL": 0.331},
    "postmeal_cpeptide": {"nmol/L": 1.0, "pmol/mL": 1.0, "pmol/L": 0.001, "ng/mL": 0.331},
    "random_cpeptide": {"nmol/L": 1.0, "pmol/mL": 1.0, "pmol/L": 0.001, "ng/mL": 0.331},
    "fasting_insulin": {"microU/mL": 1.0, "pmol/L": 1 / 6.0},
    "insulin_dose": {"U/day": 1.0},
    "insulin_dose_per_kg": {"U/kg/day": 1.0},
    "bmi": {"kg/m2": 1.0},
    "weight": {"kg": 1.0, "lb": 0.45359237},
    "egfr": {"mL/min/1.73m2": 1.0, "mL/min": 1.0},
    "creatinine_clearance": {"mL/min": 1.0},
    "creatinine": {"umol/L": 1.0, "mg/dL": 88.42, "mmol/L": 1000.0},
    "alt": {"U/L": 1.0},
    "ast": {"U/L": 1.0},
    "bilirubin": {"umol/L": 1.0, "mg/dL": 17.1},
    "systolic_bp": {"mmHg": 1.0},
    "diastolic_bp": {"mmHg": 1.0},
    "tir": {"%": 1.0},
    "uric_acid": {"umol/L": 1.0, "mg/dL": 59.48},
    "age": dict(_AGE_LIKE),
    "diabetes_duration": dict(_AGE_LIKE),
    "cancer_remission_years": dict(_AGE_LIKE),
}
# The unit to assume when the text gives none, and how sure that is: BMI has one unit; HbA1c below 20 is %.
DEFAULT_UNITS: dict[str, list[tuple[float, float, str, float]]] = {
    # variable: [(low, high, unit, confidence)]
    "bmi": [(8, 90, "kg/m2", 0.95)],
    "age": [(0, 120, "years", 0.9)],
    "tir": [(0, 100, "%", 0.85)],
    "hba1c": [(3, 20, "%", 0.85), (20, 200, "mmol/mol", 0.7)],
    "systolic_bp": [(50, 300, "mmHg", 0.9)],
    "diastolic_bp": [(20, 200, "mmHg", 0.9)],
    "egfr": [(0, 250, "mL/min/1.73m2", 0.85)],
    "creatinine_clearance": [(0, 250, "mL/min", 0.85)],
    "fasting_glucose": [(1, 35, "mmol/L", 0.6), (40, 900, "mg/dL", 0.6)],
    "random_glucose": [(1, 35, "mmol/L", 0.6), (40, 900, "mg/dL", 0.6)],
    "creatinine": [(0.1, 15, "mg/dL", 0.6), (20, 3000, "umol/L", 0.6)],
}
# decimals kept after conversion (values are thresholds a person reads, not lab results); glucose keeps two,
# because one would move a limit by up to 0.9 mg/dL: 125 mg/dL is 6.94 mmol/L, and "<= 6.9" fails 6.92
DECIMALS: dict[str, int] = {"hba1c": 1, "fasting_glucose": 2, "random_glucose": 2, "postmeal_glucose": 2, "fasting_cpeptide": 3,
                            "postmeal_cpeptide": 3, "random_cpeptide": 3, "creatinine": 0, "bilirubin": 0, "uric_acid": 0, "weight": 1,
                            "age": 4, "diabetes_duration": 2, "cancer_remission_years": 2, "fasting_insulin": 1}


@dataclass(frozen=True)
class Slider:
    min: float
    max: float
    step: float
    noun: str


# control ranges for parameters (a dashboard binds them to sliders); the value always lies inside
SLIDERS: dict[str, Slider] = {
    "age": Slider(0, 100, 1, "age"), "hba1c": Slider(4, 15, 0.1, "HbA1c"), "bmi": Slider(12, 60, 0.5, "BMI"),
    "fasting_glucose": Slider(3, 25, 0.1, "fasting glucose"),
    "random_glucose": Slider(3, 30, 0.1, "random glucose"), "postmeal_glucose": Slider(3, 30, 0.1, "2-h glucose"),
    "fasting_cpeptide": Slider(0, 5, 0.01, "fasting C-peptide"),
    "postmeal_cpeptide": Slider(0, 10, 0.01, "stimulated C-peptide"),
    "random_cpeptide": Slider(0, 10, 0.01, "random C-peptide"),
    "fasting_insulin": Slider(0, 100, 1, "fasting insulin"), "insulin_dose": Slider(0, 300, 1, "insulin dose"),
    "insulin_dose_per_kg": Slider(0, 3, 0.05, "insulin dose per kg"), "weight": Slider(20, 250, 0.5, "weight"),
    "egfr": Slider(0, 150, 1, "eGFR"), "creatinine_clearance": Slider(0, 150, 1, "creatinine clearance"), "creatinine": Slider(20, 1000, 1, "creatinine"),
    "alt": Slider(0, 1000, 1, "ALT"), "ast": Slider(0, 1000, 1, "AST"), "bilirubin": Slider(0, 500, 1, "bilirubin"),
    "systolic_bp": Slider(80, 220, 1, "systolic BP"), "diastolic_bp": Slider(40, 140, 1, "diastolic BP"),
    "tir": Slider(0, 100, 1, "TIR"), "uric_acid": Slider(100, 900, 10, "uric acid"),
    "diabetes_duration": Slider(0, 60, 0.5, "diabetes duration"),
    "cancer_remission_years": Slider(0, 20, 0.5, "years since cure"),
    "uln_multiple": Slider(1, 10, 0.5, "multiple of the upper limit of normal"),
    "events": Slider(0, 20, 1, "events"),
}

# --- boolean and category concepts -------------------------------------------------------------------
# (expression when the concept is present, regexes). The expression uses catalogue names only.
# what follows a feeding word when the one fed is the subject, not a lactating woman
_FED_INFANT = r"(?![a-z]*\s+(?:(?:term|preterm|healthy|newborn)\s+)?(?:infants?|babies|baby|newborns?|neonates?|children|child|toddlers?)\b)"
CONCEPTS: list[tuple[str, list[str]]] = [
    ('diabetes_type == "T1D"', [r"type\s*(?:1|I)\s*(?:\(\s*insulin[- ]dependent\s*\)\s*)?diabetes(?:\s+mellitus)?",
                                r"\bT1DM?\b", r"insulin[- ]dependent\s+diabetes(?:\s+mellitus)?(?:\s+\(type\s*1\))?",
                                r"\bIDDM\b", r"type-1\s+diabetes(?:\s+mellitus)?",
                                r"type\s*(?:1|I)(?=\s*(?:,|or|and|/)\s*(?:type\s*)?(?:2|II)\s+diabetes)"]),
    ('diabetes_type == "T2D"', [r"type\s*(?:2|II)\s*(?:\(\s*non[- ]insulin[- ]dependent\s*\)\s*)?diabetes(?:\s+mellitus)?",
                                r"\bT2DM?\b", r"non[- ]insulin[- ]dependent\s+diabetes(?:\s+mellitus)?", r"\bNIDDM\b",
                                r"type-2\s+diabetes(?:\s+mellitus)?",
                                # "type 1 or 2 diabetes": the 2 is type 2 diabetes too
                                r"(?:(?<=1 or )|(?<=I or )|(?<=1 and )|(?<=1, )|(?<=1/)|(?<=I/))(?:2|II)(?=\s+diabetes)"]),
    # hCG names a pregnancy test only when written as one ("serum beta-hCG", "hCG test"); "hCG trigger day" is a drug
    # a partner's pregnancy is not the participant's ("pregnant female partners", "partner who is pregnant")
    ("pregnant", [r"(?<!partner\s)(?<!partners\s)(?<!partner's\s)(?<!partner\swho\sis\s)(?<!partner\sis\s)"
                  r"(?<!partners\sare\s)pregnan(?:t|cy)(?!\s+(?:female\s+|women\s+)?partners?\b)(?:\s+test)?",
                  r"\b(?:(?:serum|urine|urinary|beta|β|b)[- ]?){1,2}hCG\b(?!\s+(?:trigger\w*|injection|administration))",
                  r"\bhCG\b(?=\s+(?:pregnancy\s+)?(?:test\w*|positive|negative))"]),
    # "breastfeeding infants", "nursing babies": the infant is fed; no one in the criterion is lactating
    ("lactating", [rf"(?:lactat(?:ing|ion)|breast[- ]?feeding|nursing(?!\s+home)|breast[- ]?feed){_FED_INFANT}"]),
    ("hypoglycemia_unawareness", [r"hypoglyc(?:a)?emi(?:a|c)\s+unawareness", r"unawareness\s+of\s+hypoglyc(?:a)?emia",
                                  r"(?:impaired|reduced)\s+awareness\s+of\s+hypoglyc(?:a)?emia"]),
    # "GAD" alone is also generalised anxiety disorder: the antibody only when written as one
    ("gada_positive", [r"glutamic\s+acid\s+decarboxylase\s+(?:auto)?antibod(?:y|ies)", r"\bGADA\b", r"\bGAD-?65\b",
                       r"\banti-?GAD\b", r"\bGAD\b(?=\s*(?:\+|positive|negative|(?:auto)?antibod|ab\b|,?\s*IA-?2|,?\s*ICA\b))"]),
    ("ia2a_positive", [r"insulinoma[- ]associated[- ]2\s+(?:auto)?antibod(?:y|ies)", r"\bIA-?2A?\b"]),
    ("iaa_positive", [r"insulin\s+autoantibod(?:y|ies)", r"\bIAA\b"]),
    ("ica_positive", [r"islet\s+cell\s+(?:\w+\s+){0,2}(?:auto\s*-?)?antibod(?:y|ies)", r"\bICA\b"]),
    ("znt8a_positive", [r"zinc\s+transporter\s*8\s+(?:auto)?antibod(?:y|ies)", r"\bZ[na]T8A?\b"]),
    ("tuberculosis_active", [r"(?:pulmonary\s+|active\s+)?tuberculosis", r"\bTB\b"]),
    ("hepatitis_b", [r"hepatitis\s+B(?!\s+(?:e\b|core\b|vaccin|(?:virus\s+)?(?:DNA|RNA)\b))"
                     r"(?:\s+(?:virus|infection|surface\s+antigen))?",
                     r"\bHBV\b(?!\s+(?:DNA|RNA)\b)", r"\bHBsAg\b"]),  # HBeAg, anti-HBc, HBV DNA: other markers
    ("hepatitis_c", [r"hepatitis\s+C(?:\s+(?:virus|infection|antibody))?", r"\bHCV\b"]),
    # "active hepatitis B" is hepatitis B, and "active hepatitis virus infection" a viral one, not any hepatitis
    ("hepatitis_active", [r"active\s+hepatitis(?!\s+(?:[BC]\b|virus|viral))"]),  # "active hepatitis B" is hepatitis B, not any
    ("hiv_positive", [r"\bHIV\b(?:\s+(?:infection|positivity|positive))?", r"human\s+immunodeficiency\s+virus"]),
    ("syphilis_positive", [r"syphilis(?:\s+treponemal\s+antibody)?", r"treponem\w+\s+antibody"]),
    ("active_infection", [r"(?:active|uncontrolled|systemic)\s+(?:systemic\s+)?infections?"]),
    ("unexplained_fever", [r"unexplained\s+febrile\s+illness", r"unexplained\s+fever"]),
    ("immunodeficiency", [r"immunosuppressive\s+disease", r"immunodeficiency(?!\s+virus)"]),
    ("severe_cardiac_disease", [r"(?:serious|severe|significant)\s+(?:cardiac|heart)\s+disease", r"heart\s+disease"]),
    ("severe_pulmonary_disease", [r"(?:serious|severe|significant)?\s*(?:lung|pulmonary)\s+disease"]),
    ("hematopoietic_dysfunction", [r"h(?:a)?ematopoietic\s+dysfunction"]),
    ("retinal_hemorrhage", [r"retinal\s+h(?:a)?emorrhage", r"proliferative\s+(?:diabetic\s+)?retinopathy"]),
    ("diabetic_foot", [r"diabetic\s+foot(?:\s+ulcers?)?", r"charcot\s+foot"]),
    ("severe_gi_disorder", [r"(?:severe\s+)?gastrointestinal\s+(?:dysfunction|immune\s+diseases?)"]),
    ("immunosuppression_contraindicated", [r"inability\s+to\s+take\s+immunosuppress\w+",
                                           r"unable\s+to\s+take\s+immunosuppress\w+"]),
    # the catalogue records a history of smoking: "current smoking" is a narrower state, never read as it
    ("smoking_history", [r"history\s+of\s+(?:cigarette\s+|tobacco\s+)?smoking", r"(?:ever|former|past)\s+smok(?:ing|ers?)"]),
    ("alcohol_abuse", [r"alcohol\s+(?:abuse|misuse|dependence)", r"alcoholism",
                       r"alcohol(?=\s+(?:or|and|/)\s+(?:drug|substance)\s+(?:abuse|misuse))"]),
    ("drug_misuse", [r"drug\s+(?:misuse|abuse)", r"substance\s+abuse", r"illicit\s+drug\s+use",
                     r"drug(?=\s+(?:or|and|/)\s+alcohol\s+(?:abuse|misuse))"]),
    ("severe_psychiatric_disorder", [r"(?:severe\s+)?(?:mental|psychiatric|psychological)\s+(?:or\s+psychological\s+)?"
                                     r"(?:disorders?|illness|diseases?)"]),
    ("advanced_metabolic_disease", [r"advanced\s+metabolic\s+diseases?"]),
    ("chronic_glucocorticoids", [r"(?:long[- ]term|chronic|high[- ]dose)\s+(?:\S+\s+){0,4}glucocorticoids?"]),
    ("other_autoimmune_endocrine_disease", [r"(?:endocrine\s+or\s+autoimmune|autoimmune\s+or\s+endocrine)\s+"
                                            r"(?:abnormalities|diseases?|disorders?)"]),
    ('cancer_status == "active"', [r"(?:untreated|active)\s+(?:cancer|malignan\w+)", r"active\s+stage\s+of\s+malignan\w+"
                                   r"(?:\s+tumou?rs?)?", r"active\s+cancer\s+treatment"]),
    # a history of cancer is active or cured cancer: the catalogue's "none" is the one who never had it
    # only a bare mention: "history of cancer (within the last year)", "malignancies related to the NK cell line",
    # "malignant hyperthermia" say more, or other, than the catalogue's status
    ('cancer_status != "none"', [r"(?<!family\s)(?:history\s+of|prior|previous|past)\s+(?:(?:a|any)\s+)?(?:prior\s+)?"
                                  r"(?:cancers?|malignanc(?:y|ies)|malignant\s+(?:tumou?rs?|neoplasms?|diseases?))"
                                  r"(?=\s*(?:[.;,]|$|\bor\b|\band\b))"]),
    # taking any blood-pressure drug; a number of drugs ("three or more antihypertensive drugs") is not read as it
    ("antihypertensive_treatment", [r"(?:(?:currently\s+)?(?:treat(?:ment|ed)\s+with|taking|receiving|using|use\s+of|on)"
                                    r"\s+(?:an?\s+|any\s+)?)anti-?\s?hypertensive\s+(?:drugs?|medications?|medicines?|"
                                    r"agents?|therapy|treatment)"]),
    # "extra hepatic metastasis" is one outside the liver
    ("liver_metastases", [r"(?<!extra)(?<!extra\s)(?<!extra-)(?:liver|hepatic)\s+metasta(?:sis|ses|tic\s+disease)", r"metasta(?:sis|ses)\s+(?:to|in)\s+"
                                                                                      r"the\s+liver"]),
    ("gilbert_syndrome", [r"gilbert(?:['’]?s)?(?:\s+(?:syndrome|disease))?"]),
    # current use: "receiving insulin (therapy)", "taking insulin"; never "requiring insulin" (a need, not a use)
    ("on_insulin", [r"(?:currently\s+)?(?:treated\s+with|using|uses|on|receiving|taking)\s+insulin"
                    r"(?:\s+(?:therapy|treatment))?(?!\s+(?:pump|dose))",
                    r"insulin[- ]treated"]),
]
# "bilirubin > 1.5 x ULN (except Gilbert's syndrome)": a concept right after "except" that follows a limit is the group
# excepted from that limit (conditions.excepted reads it), not something else set apart like "malignancy except basal
# cell carcinoma" (NOT_A_MENTION)
EXCEPTED_FROM_LIMIT = re.compile(r"(?:\d|%|\bULN|\bUNL|\bnormal|/\s*d?[lL]|\bHg)\s*[,;]?\s*[(\[]?\s*except(?:\s+(?:in|for))?\s+$",
                                 re.I)
# Wording around a concept that changes what it means; the concept is then not taken as present.
NOT_A_MENTION = re.compile(
    r"(?:other\s+than|except(?:\s+for)?|apart\s+from|excluding|exclusion\s+of|outside(?:\s+of)?)\s+(?:\w+\s+){0,1}$|"
    r"(?:previous(?:ly)?|prior|history\s+of\s+being|ever|past|been)\s+$|"
    r"(?:(?:indicator|indicative|marker|proxy|surrogate|suggestive)\s+of|suspicious\s+(?:for|of))\s+(?:\w+\s+){0,4}$|"
    r"\blike\s+(?:\w+\s+){0,3}$|"  # examples of something else: "causes of AF like alcoholism"
    r"\bmanual\s+of\s+$|"
    # someone else's condition: "close contact with a case of active TB", "exposure to HIV"
    r"\bpartners?\s+(?:with|of|who\s+(?:is|are|has|have))\s+(?:[\w-]+\s+){0,2}$|"
    r"\bcontacts?\s+(?:with|of)\s+(?:[\w-]+\s+){0,6}$|\bexpos(?:ed|ure)\s+to\s+(?:[\w-]+\s+){0,4}$|"  # the Diagnostic and Statistical Manual of Mental Disorders is a book, not a disorder
    # what to do if it happens: "should a woman become pregnant or suspect that she is pregnant, she must ..."
    r"\b(?:should|if|in\s+case|in\s+the\s+event)\s+(?:\w+\s+){0,4}(?:become|becomes|becoming|suspects?)\s+(?:\w+\s+){0,6}$|"
    r"\bin\s+addition\s+to\s+(?:\w+\s+){0,2}$|\banti[- ]?$|"  # given, not excluded; the target of a drug
    # the target of a treatment: "pharmacotherapy for alcohol dependence" is the treatment, not any dependence
    r"\b(?:treatment|therapy|pharmacotherapy|medications?|drugs?|prophylaxis)\s+(?:for|of|against)\s+(?:\w+\s+){0,1}$|"
    r"(?:avoid(?:s|ing)?|prevent(?:s|ing)?|seek(?:s|ing)?|trying|attempting|considering|plan(?:ning|s|ned)?|intend(?:s|ing|ed)?|intent(?:ion)?|"
    r"wish(?:es|ing|ed)?|want(?:s|ing|ed)?|willing|desir(?:e|es|ed|ing|ous)|hop(?:e|es|ing)\s+(?:for|to)|"
    r"contemplat(?:e|es|ing))\s+"
    r"(?:\w+\s+){0,4}$|become\s+$|(?:risk|prevention|family\s+member|family\s+history|relatives?|donors?|history\s+in)\s+"
    # the words up to the concept may be joined by slashes too ("Donor is sero-positive in HBV/HCV/HIV")
    r"(?:[\w,-]+(?:\s+|\s*/\s*)){0,7}$",
    re.I)

# Words after a concept that make it a modifier, not a condition the person has: "hepatitis B vaccine",
# "HIV regimens containing tenofovir".
NOT_A_MENTION_AFTER = re.compile(
    r"^\s*(?:-?\s*[12]\b\s*)?(?:vaccin\w*|immuni[sz]ation|regimens?|medications?|drugs?|prophylaxis|programs?|programmes?|clinics?|"
    r"educat\w*|counsel\w*|prevention|awareness|treatments?|therap(?:y|ies)|status|serostatus|testing|genotyp\w*|"
    # the test, not its result: "hepatitis B and C tests, HIV test" as part of a screening work-up
    r"tests?(?!\s+(?:positive|result\w*\s+positive))|screens?|serolog\w*|assays?|"
    # a pregnancy that was lost or ended is no current pregnancy ("recurrent pregnancy loss")
    r"loss(?:es)?|outcomes?|terminations?|"
    r"resistance|prevalence|incidence|endemic|epidemic)\b|"
    # a partner's condition is not the participant's: "an HIV-infected sexual partner"
    r"[-\s]*(?:infected|positive|seropositive)?\s*(?:(?:sexual|sex|male|female|regular|primary|stable)\s+)?partners?\b|"
    # a time to come: "pregnancy in the next year" is a plan, not the current pregnancy the catalogue records
    r"^\s*(?:\w+\s+){0,2}?(?:in|within|during|over)\s+the\s+(?:next|coming|following|upcoming)\b", re.I)
# "hepatitis B and hepatitis C tests": a list of concepts sharing the word "tests" names the tests, not results
TEST_WORDS = re.compile(r"\b(?:tests?|screens?|serolog\w*|assays?)\b", re.I)
RESULT_WORDS = re.compile(r"\b(?:positive|negative|reactive|results?|detect\w*)\b|[+]", re.I)
# Kinds of pregnancy the catalogue's `pregnant` does not tell apart ("multi-fetal pregnancy").
# ... or after it: "pregnant women in the first trimester", "pregnancy beyond 20 weeks", "pregnancy complicated by"
PREGNANCY_KIND_AFTER = re.compile(
    r"^\s*(?:[A-Za-z]+\s+)?(?:(?:complicated|associated|accompanied)\s+(?:with|by)|(?:in|during|at|of)\s+(?:the\s+|their\s+)?(?:first|second|third|1st|2nd|3rd|"
    r"early|late)\s+(?:trimester|stage)|(?:at|beyond|after|before|under|over|below|above|less\s+than|more\s+than|greater\s+than|"
    r"<|>|≤|≥)\s*\d+\s*(?:completed\s+)?weeks?|(?:with\s+)?gestational\s+age)", re.I)
PREGNANCY_SUBTYPES = re.compile(
    r"\b(?:multi-?fetal|multiple|twin|singleton|ectopic|molar|tubal|high[- ]risk|complicated|uncomplicated|"
    r"term|preterm|planned|unplanned|first|second|third|previous|prior)[\s-]+(?:\w+\s+)?$"
    # a complication of pregnancy ("hypertensive disorders of pregnancy") is not every pregnancy
    r"|\b(?:disorders?|diseases?|complications?|loss(?:es)?|termination)\s+(?:of|in|during)\s+(?:the\s+)?$", re.I)
# "Current or planned pregnancy", "existing or planned pregnancy": two kinds joined, the first the current pregnancy
CURRENT_OR_KIND = re.compile(r"\b(?:current(?:ly)?|present|existing|ongoing|confirmed|known)\s+(?:or|and\s*/\s*or)\s+"
                             r"(?P<kind>(?:planned|intended|desired|anticipated|possible|suspected|future)[\s-]+)", re.I)
# Before a measurement: a value in the past, which the catalogue's current value does not record.
# Before a measurement: a value under treatment ("treated systolic blood pressure > 155"), which the catalogue's
# value (treated or not) does not tell apart.
UNDER_TREATMENT = re.compile(r"(?<!un)\b(?:treated|on[- ]treatment|under\s+treatment)\s+(?!with\b)[^.;]*$", re.I)
# Before a concept: the concept is named as a cause of something else ("infectious causes of myelopathy (e.g.
# syphilis)"), not as a condition in its own right.
AS_A_CAUSE = re.compile(r"\b(?:causes?|etiolog\w*|aetiolog\w*)\s+of\b(?:\b[ei]\.[ge]\.|[^.;])*$", re.I)
HISTORICAL = re.compile(r"\b(?:history\s+of|previous(?:ly)?|prior|past|ever\s+had|at\s+diagnosis)\s+(?:\w+\s+){0,2}$",
                        re.I)

# a catalogue event -> how text names it
EVENTS: dict[str, list[str]] = {
    "severe_hypoglycemia": [r"severe\s+hypoglyc(?:a)?emi(?:a|c)(?:\s+(?:events?|episodes?|reactions?))?",
                            r"(?:episodes?|events?)\s+of\s+severe\s+hypoglyc(?:a)?emia"],
    # a dated history of the event: "myocardial infarction within the last 6 months"
    "myocardial_infarction": [r"(?:acute\s+)?myocardial\s+infarctions?", r"\bMI\b", r"heart\s+attacks?"],
    "stroke": [r"(?:ischa?emic\s+|h(?:a)?emorrhagic\s+)?strokes?(?!\s+volume)", r"cerebrovascular\s+accidents?", r"\bCVA\b"],
    "trial_participation": [r"(?:participat\w+|enrol\w+)\s+(?:in\s+)?(?:any\s+(?:other\s+)?|another\s+|other\s+|an\s+)"
                            r"(?:\w+\s+){0,2}(?:clinical\s+|investigational\s+|interventional\s+)?(?:trials?|stud(?:y|ies))"],
}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "twenty-four": 24, "a": 1, "an": 1,
                # multiples of the upper limit of normal in words ("more than twice the ULN")
                "twice": 2, "thrice": 3, "double": 2, "triple": 3}

# outcome measures name variables more loosely than criteria do ("C-peptide" = fasting and stimulated)
OUTCOME_TERMS: list[tuple[str, tuple[str, ...]]] = [
    (r"c[- ]?peptide", ("fasting_cpeptide", "postmeal_cpeptide")),
    (r"(?:dose|dosage|requirement)s?\s+of\s+(?:exogenous\s+)?insulin|insulin\s+(?:dose|dosage|requirement|use)",
     ("insulin_dose",)),
    (r"(?:serum\s+)?insulin(?:\s+levels?)?$|^insulin\b", ("fasting_insulin", "postmeal_insulin")),
    (r"serious\s+adverse\s+events?", ("serious_adverse_event",)),
    (r"severe\s+hypoglyc", ("severe_hypoglycemia",)),
    (r"\bITT\b|insulin\s+tolerance", ("kitt",)),
    (r"\bHOMA", ("homa_ir",)),
    (r"\bCV\b|coefficient\s+of\s+variation", ("cgm_cv",)),
    (r"mean\s+(?:sensor\s+|CGM\s+)?glucose", ("cgm_mean",)),
    (r"time\s+below\s+range|<\s*70\s*mg", ("tbr_70",)),
    (r"time\s+above\s+range|>\s*180\s*mg", ("tar_180",)),
]

# --- what a concept or a threshold cannot say ------------------------------------------------------------
# Words that narrow a concept to a part the catalogue cannot tell apart ("poorly controlled type 2 diabetes"
# is not every type 2 diabetes). Found in the few words before a concept mention, or just after it.
# an exclusion written inside an inclusion list: "Patients who test positive for HBsAg are ineligible"
INELIGIBLE = re.compile(r"\b(?:is|are|will\s+be)\s+(?:ineligible|not\s+eligible|excluded)\b", re.I)
# "Patients with HIV neuropathy must have had HIV ...": a requirement for a subgroup of the participants only
SUBGROUP_REQUIREMENT = re.compile(
    r"^\W*(?:patients|subjects|participants|those)\s+(?:with|who\s+have|who\s+are|on|receiving)\s+"
    r"(?![^.;,]{0,30}(?:child-?\s?bearing|reproductive|fertile))"
    r"[^.;,]{1,60}?\s+(?:must|should|need\s+to|are\s+required\s+to)\b", re.I)
# "For healthy individuals: ... aged 18 or above", "In the control group: ...": a heading that names the group an
# inclusion holds for; read for everyone it would fail the other participants the text does not bind (draw 20261241)
SUBGROUP_HEADING = re.compile(r"^\W*(?:for|in|among)\s+(?:the\s+|all\s+)?[^:;,.()]{1,40}?\s*:", re.I)
# Catalogue variables that hold only a current state: a past one ("a history of a positive HBsAg test", "previous
# active tuberculosis") is not recorded, so reading the past as them leaves out everyone who has cleared it
CURRENT_STATE_ONLY: frozenset[str] = frozenset({"hepatitis_b", "hepatitis_active", "tuberculosis_active",
                                                "active_infection", "unexplained_fever", "on_insulin"})
# Before a concept: the text asks about the past, at most a few words back in the same clause ("a history of a
# positive test for", "previously"); "prior to" is a time, not a past state
PAST_BEFORE = re.compile(r"\b(?P<cue>history\s+of|previous(?:ly)?|past|ever\s+(?:had|been|tested|diagnosed)|prior(?!\s+to\b))"
                         r"\b[^.;:]{0,60}$", re.I)
# the past and the present named together right before a concept ("Past or present hepatitis B", "current or previous
# tuberculosis"): both times, so a reading of the current state leaves the past out
PAST_AND_PRESENT_BEFORE = re.compile(
    r"\b(?P<cue>(?:past|previous|prior|former)\s+(?:or|and/or|and)\s+(?:present|current|active|ongoing)|"
    r"(?:present|current|active|ongoing)\s+(?:or|and/or|and)\s+(?:past|previous|prior|former))\s+(?:[\w-]+\s+){0,2}$|"
    # the present word inside the concept's own words: "Previous or active tuberculosis"
    r"\b(?P<past>past|previous|prior|former)\s+(?:or|and/or)\s+$",
    re.I)
# a word that brings the text back to the present ("history of stroke and active hepatitis B")
CURRENT_WORD = re.compile(r"\b(?:active|current(?:ly)?|ongoing|present|now)\b", re.I)
# Before a concept the catalogue records as a history ("History of alcohol abuse"): the current state only
CURRENT_BEFORE = re.compile(r"\b(?:active|current(?:ly)?|ongoing|present)\s+"
                            r"(?:(?:\w+\s+)?|(?:[\w-]+,\s+){0,3}[\w-]+,?\s+(?:and\s*/\s*or|or|and)\s+)$", re.I)
QUALIFIERS_BEFORE = re.compile(
    r"(?:\b(?:heavy|excessive)|\b(?:un|poorly\s+|badly\s+|inadequately\s+|insufficiently\s+|sub-?optimally\s+|well[- ]|adequately\s+|"
    r"not\s+(?:well\s+)?)controlled|\bunstable|\bstable|\bbrittle|\bmild|\bmoderate|\badvanced|\bend[- ]stage|"
    r"\bnew(?:ly)?[- ]?(?:onset|diagnosed)|\blong[- ]standing|\bchronic|\brecent(?:ly)?(?:\s+diagnosed)?|\bearly|\blate"
    r"|\bsymptomatic|\basymptomatic|\bcomplicated|\brefractory|\bprogressive)\s+"
    r"(?:(?:\w+[- ]?){0,2}|(?:[\w-]+,\s+){0,3}[\w-]+,?\s+(?:and\s*/\s*or|or|and)\s+)$", re.I)
QUALIFIERS_AFTER = re.compile(
    r"^\s*(?:\(\s*)?(?:of\s+|in\s+|at\s+|with\s+)?(?:\w+\s+){0,3}?(?:grade|stage|class|wagner|nyha|gold|"
    r"classification)\)?\s*[:=]?\s*(?:[IVX]+\b|\d|[a-e]\b|>|<|≥|≤)|"
    r"^\s*(?:requiring|needing|treated\s+with|on\s+treatment|with\s+complications|uncontrolled|not\s+controlled|"
    # a strain or course the catalogue does not record: "tuberculosis resistant to any of the study drugs"
    r"(?:multi-?drug[- ])?(?:resistant|susceptible|sensitive)\s+to|"
    r"(?:complicated|associated|accompanied)\s+(?:with|by))"
    r"\b|"
    # one eye of two: the catalogue records the person ("retinopathy in the study eye")
    r"^\s*(?:\([^()]{0,12}\)\s*)?(?:in|of|involving)\s+(?:the\s+)?(?:study|fellow|treated|non-?study|other|one)\s+eye|"
    # a restrictive clause on the concept, or on the list it ends ("alcohol or drug use, which in the investigator's
    # opinion may affect participation"); a clause after "any other condition" has a head of its own
    r"^(?:(?!\bother\b|\bany\b)(?:\b[ei]\.[ge]\.|[^.;])){0,120}?\b(?:that|which)\b[^.;]{0,100}?\b(?:affect|interfere|compromise|"
    r"preclude|jeopardi[sz]e|limit|prevent|confound|impair|invalidate|put|pose|hinder|endanger|obstruct)\w*|"
    # a place: "active infection in the anal fistula" is local, the catalogue's infection systemic
    r"^\s*(?:in|of|at|on|involving)\s+(?:the\s+|a\s+)?(?:[a-z-]+\s+){0,2}(?:fistula|wound|eyes?|skin|site|area|"
    r"joints?|foot|feet|tooth|teeth|mouth|ears?|bladder|tract|region|organ|graft|implant|catheter|lesion)s?\b", re.I)
# A narrower definition in brackets: "Hepatitis C (HCV RNA detected)" is not every positive antibody, even though
# the catalogue's description names RNA among its tests.
NARROW_DEFINITION = re.compile(r"^\s*\(\s*(?:[\w-]+\s+){0,2}(?:RNA|DNA|PCR|viral\s+load)\b", re.I)
WITH_PHRASE = re.compile(r"^\s*(?:,\s*)?with\s+(?:\w+[- ]?){1,4}", re.I)
# Clauses that carve an exception out of a criterion: its rules alone would exclude (or fail) the excepted.
EXCEPTIONS = re.compile(
    r"\b(?:may|can|could|will)\s+(?:still\s+)?(?:be\s+)?(?:enrolled|included|eligible|participate|allowed)|"
    r"\b(?:is|are)\s+(?:acceptable|allowed|permitted|eligible)\b|\bnot\s+(?:be\s+)?excluded\b|"
    r"\bunless\b|\bexcept(?:ion)?s?\b|\bwith\s+the\s+exception\b|\bother\s+than\b|\bprovided\s+(?:that\b)?|"
    r"\bin\s+the\s+absence\s+of\b|\bexcluding\b|\bin\s+(?:the\s+)?case\s+of\b|"
    # "< 150 mmHg in persons aged 60 or older, < 140 in persons 40 through 59": thresholds for subgroups
    r"\b(?:in|for)\s+(?:(?:a|an|the)\s+)?(?:persons?|people|patients?|subjects?|participants?|those|individuals?|children|adults?)\s+"
    r"(?:aged|with|who|older|younger|over|under|between|from|receiving|taking|treated|on|\d)|"
    # "co-infected subjects must also have ...": a requirement for a subgroup, not for everyone
    r"\b(?:subjects?|patients?|participants?|those)\s+(?:\([^)]*\)\s+)?(?:must|should)\s+also\b|"
    r"\bfor\s+(?:the\s+)?[\w-]+\s+(?:group|cohort|arm)\b|"
    # "HCV ab+ must be PCR-": who carries the marker may still qualify when a further test says so
    r"(?:\+|\bpositive)\s*(?:(?:patients?|subjects?|participants?|individuals?)\s+)?(?:must|should|need\s+to)\s+"
    r"(?:be|have|show)\b", re.I)
# "two of the following": a count of criteria the expression language cannot state.
N_OF_FOLLOWING = re.compile(
    r"\b(?:(?:at\s+least|any|a\s+minimum\s+of)\s+)?(?:two|three|four|five|[2-9])\s+(?:or\s+more\s+)?"
    r"(?:of\s+the\s+following\b|(?:of\s+)?(?:these|the\s+below|the\s+criteria)\b|of\s*:)", re.I)
ANY_OF_FOLLOWING = re.compile(
    r"\b(?:any|one|either|at\s+least\s+one|one\s+or\s+more)\s+(?:\w+\s+)?of\s+(?:the\s+)?(?:following|these|below)"
    r"\b|\bany\s+of\s*:", re.I)
# Wordings broader than the catalogue variable they are read as: "heart disease" is read as
# severe_cardiac_disease (significant heart disease), "substance abuse" as drug_misuse (alcohol aside).
# As an exclusion such a reading excludes fewer people than the text (kept, named as partial); as an
# inclusion it would fail people the text admits (not kept).
LOOSE_CONCEPTS: dict[str, re.Pattern] = {
    "severe_cardiac_disease": re.compile(r"(?:cardiac|heart)\s+disease", re.I),
    "severe_pulmonary_disease": re.compile(r"(?:lung|pulmonary)\s+disease", re.I),
    "drug_misuse": re.compile(r"substance\s+abuse", re.I),
    # any tuberculosis read as active pulmonary tuberculosis: narrower, so kept only in exclusions
    "tuberculosis_active": re.compile(r"tuberculosis|TB", re.I),
    "severe_psychiatric_disorder": re.compile(r"(?:mental|psychiatric|psychological)\s+(?:or\s+psychological\s+)?"
                                              r"(?:disorders?|illness|diseases?)", re.I),
}
# words before a loose wording that do not name a subtype ("known heart disease" vs "ischemic heart disease")
NOT_A_SUBTYPE = {"of", "with", "or", "and", "any", "known", "history", "significant", "severe", "serious",
                 "clinically", "relevant", "major", "the", "a", "an", "other", "documented", "current", "active",
                 "uncontrolled", "unstable", "evidence", "presence", "no", "without", "has", "have", "had"}
# a criterion whose subject names one sex: "Women under the age of 18", "Male patients with HIV"
# up to three describing words may come first ("Asymptomatic women", "HIV- uninfected women", "Obese adolescent girls"),
# never a negation ("No women ..."), a word that makes the sex part of another phrase ("Partners of women", "Cancer in
# men"), nor a pregnancy word (its own rule names the sex already: "Pregnant women with HIV")
SUBJECT_SEX = re.compile(r"^\W*(?:(?!(?:no|not|non(?!-)|nor|neither|without|except|other|both|pregnant|lactating|nursing|"
                         r"breast-?feeding|of|in|with|for|and|or|to|than|from|by|who|whose|their|partners?|wives|"
                         r"husbands|mothers?|fathers?)\b)[a-z0-9][a-z0-9-]*\s+){0,3}"
                         r"(?P<sex>women|woman|females?|men|man|males?|girls|boys)\b(?!\s*(?:and\s*/\s*or|and|or|&|/|\+)\s*\w)"
                         # "Female, aged 18 to 45" is about women; "Male, female or ..." and "Women, children" are not
                         r"(?!\s*,\s*(?:and\s+|or\s+)?(?:wom[ae]n|females?|m[ae]n|males?|girls?|boys?|children|"
                         r"adolescents?|infants?|adults?|persons?|people|patients?|subjects?)\b)", re.I)
MALE_WORDS = {"male", "males", "men", "man", "boys", "boy"}
FEMALE_WORDS = {"female", "females", "women", "woman", "girls", "girl"}
# variables a rule may name without the text naming them: pregnancy applies to women only
IMPLIED_VARIABLES = {"sex", "childbearing_potential", "cancer_remission_years", "alt_uln", "ast_uln",
                     "bilirubin_uln", "creatinine_uln"}

# --- confidence ----------------------------------------------------------------------------------------
MIN_CONFIDENCE = 0.6  # below this a criterion is left non-computable (its reading goes to the note)
# The most a criterion's confidence can be when the text shows one of these; every cap below
# MIN_CONFIDENCE keeps the criterion non-computable, with its reading in the note.
CONFIDENCE_CAPS: dict[str, float] = {
    "partial_safe": 0.7,            # part left out, and leaving it out errs only on the side the text allows
    "mixed_and_or": 0.5,            # "and" and "or" mix: the grouping is a guess
    "conditional": 0.45,            # a threshold applies only under a condition (if, for men, except)
    "time_window": 0.45,            # a history limited to a window the catalogue flag does not record
    "cut_off": 0.45,                # a bracket is not closed: a list may be incomplete
    "changes_who_qualifies": 0.45,  # what is left out could turn someone who meets the text into a failure
    "conflicting_thresholds": 0.4,  # one variable, different thresholds under different conditions
}

# words that say nothing a rule leaves out ("patients with", "at screening"): ignored when measuring what
# part of a criterion its rules did not read
UNCOVERED_STOP_WORDS: frozenset[str] = frozenset({
    "formula", "equation",  # how a value is estimated ("by the Cockcroft-Gault formula"), not a condition
    # how a blood pressure is taken ("sitting BP below 160/100", "resting blood pressure"), not who qualifies
    "sitting", "seated", "resting", "rest", "supine",
    "gender", "sex", "sexes",  # "of either sex": who may take part, not a condition
    "a", "an", "the", "and", "or", "of", "with", "without", "to", "in", "on", "at", "for", "by", "as", "be",
    "is", "are", "was", "were", "been", "being", "has", "have", "had", "having", "must", "should", "will",
    "would", "can", "could", "may", "might", "who", "whom", "which", "that", "this", "these", "those", "any",
    "all", "either", "both", "each", "per", "than", "from", "into", "during", "prior", "before", "after",
    "within", "since", "over", "under", "between", "current", "currently", "presence", "present", "history",
    "known", "documented", "diagnosis", "diagnosed", "patients", "patient", "subjects", "subject",
    "participants", "participant", "individuals", "people", "persons", "adults", "women", "men", "female",
    "females", "male", "males", "level", "levels", "value", "values", "serum", "plasma", "blood", "test",
    "tests", "result", "results", "measured", "measurement", "screening", "visit", "baseline", "enrollment",
    "enrolment", "study", "trial", "following", "etc", "greater", "less", "more", "equal", "least", "most",
    "high", "low", "higher", "lower", "normal", "upper", "limit", "limits", "times", "fold", "old", "age",
    "aged", "years", "year", "months", "month", "weeks", "week", "days", "day", "inclusive", "concentration",
    "count", "total", "clinical", "clinically", "significant", "evidence", "diabetes", "mellitus", "type",
    "not", "no", "non", "negative", "positive", "also", "other", "various", "due", "signs", "sign", "such",
    "experiencing", "experience", "experienced", "undergoing", "suffering", "presenting", "show", "shows",
    "showing", "meet", "meets", "whose", "where", "there", "their", "they", "them", "his", "her", "its", "one",
    "two", "three", "past", "last", "previous", "preceding",
    "randomisation", "randomization",  # when a value is measured ("at screening or randomisation"), like "screening"
    "position",  # how a pressure is taken: "measured in sitting position"
})
