"""Statistics tables as the page and notebooks show them: labels and units, protected counts as text.

Display formatting lives here, beside the views, not in the engine: the engine's tables keep numbers.
"""

from __future__ import annotations

import pandas as pd

from explorer.catalogue import Catalogue
from explorer.engine.privacy import NO_PROTECTION, Protection, protection_of

GROUP_TITLES = {"screened": "screened", "eligible": "eligible", "possibly": "possibly eligible",
                "remaining": "eligible or possibly", "excluded": "excluded"}


ACRONYMS = {"hba1c": "HbA1c", "bmi": "BMI", "egfr": "eGFR", "alt": "ALT", "ast": "AST", "tir": "TIR",
            "tbr": "TBR", "tar": "TAR", "cgm": "CGM", "cv": "CV", "gmi": "GMI", "homa": "HOMA", "ir": "IR",
            "itt": "ITT", "kitt": "KITT", "hiv": "HIV", "hbv": "HBV", "hcv": "HCV", "uln": "ULN", "t1d": "T1D",
            "t2d": "T2D", "gad": "GAD", "ia2": "IA-2", "znt8": "ZnT8", "iaa": "IAA", "mage": "MAGE", "cpeptide": "C-peptide", "postmeal": "post-meal"}


def percent_text(value) -> str:
    """A percentage for a table cell; a dash where it is unknown (the funnel's and the overlap's tables)."""
    return "&ndash;" if pd.isna(value) else f"{value:.1f}%"


def characteristic(variable: str, catalogue: Catalogue | None) -> str:
    """A variable as a reader names it, with its unit: "HbA1c (%)", "Fasting glucose (mmol/L)", "Sex"."""
    if variable == "subjects":
        return "Subjects"
    words = [ACRONYMS.get(w, w) for w in variable.split("_")]
    name = " ".join(words)
    name = name[:1].upper() + name[1:]
    known = catalogue.get(variable) if catalogue is not None else None
    unit = known.unit if known is not None and known.kind == "number" else None
    return f"{name} ({UNIT_TEXT.get(unit, unit)})" if unit else name


UNIT_TEXT = {"kg/m2": "kg/m\u00b2", "mL/min/1.73m2": "mL/min/1.73 m\u00b2"}


def format_baseline(table: pd.DataFrame, *, catalogue: Catalogue | None = None, digits: int = 1,
                    protection: Protection | None = None) -> pd.DataFrame:
    """Table 1 as text: "54.2 (12.1)" for numbers (mean, SD), "1,120 (45.3%)" for levels; counts through
    the small-cell rule (a blanked cell reads "<k"). Level rows that no one in any group has are left out."""
    protection = protection or protection_of(table) or NO_PROTECTION
    groups = [c.removesuffix("_n") for c in table.columns if c.endswith("_n")]
    keep = [i for i, row in table.iterrows()
            if row["level"] == "" or row["variable"] == "subjects"
            or any(not pd.isna(row[f"{g}_n"]) and row[f"{g}_n"] > 0 for g in groups)
            or all(pd.isna(row[f"{g}_n"]) for g in groups)]
    table = table.loc[keep]
    out = pd.DataFrame({"characteristic": [characteristic(v, catalogue) for v in table["variable"]],
                        "level": table["level"].to_numpy()})
    for g in groups:
        texts = []
        for _, row in table.iterrows():
            n, value = row[f"{g}_n"], row.get(f"{g}_value")
            if pd.isna(n) or row["variable"] == "subjects":
                texts.append(protection.text(n))
            elif row["level"] == "":
                places = digits + 1 if not pd.isna(value) and abs(value) < 1 else digits  # 0.24 nmol/L, not 0.2
                texts.append("\u2013" if pd.isna(value) else f"{value:,.{places}f} ({row[f'{g}_sd']:,.{places}f})")
            else:
                texts.append(protection.text(n) + ("" if pd.isna(value) else f" ({value:.{digits}f}%)"))
        out[GROUP_TITLES.get(g, g)] = texts
    if "smd" in table.columns:
        out["SMD"] = ["" if pd.isna(v) else f"{v:.2f}" for v in table["smd"]]
    return out
