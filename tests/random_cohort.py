"""Random screenings for testing the engines (not realistic patients); only tests use them, so they live here.

Every catalogue variable gets values spread over its plausible range with a share of unknowns, and
every event type a history of dated events, a look-back that is sometimes too short, and for some
subjects only a reported count: all the cases where the two engines could disagree. For realistic
cohorts use explorer.cohort.synthetic.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.screening import Screening

# typical ranges where the catalogue's plausible range is far wider than screening values
_TYPICAL = {"age": (4, 80), "alt": (5, 150), "ast": (5, 150), "bilirubin": (2, 60), "creatinine": (40, 300),
            "uric_acid": (150, 700), "egfr": (15, 130), "fasting_insulin": (1, 60), "postmeal_insulin": (5, 200),
            "insulin_dose": (5, 120), "homa_ir": (0.5, 12), "ogld_dose": (0, 300), "bmi": (15, 45),
            "weight": (20, 150), "height": (110, 200), "kitt": (0.5, 6), "diabetes_duration": (0, 40),
            "cancer_remission_years": (0, 15), "alt_uln": (30, 60), "ast_uln": (30, 60),
            "bilirubin_uln": (17, 26), "hba1c": (5, 12), "tir": (10, 100), "fasting_cpeptide": (0, 2),
            "postmeal_cpeptide": (0, 4), "fasting_glucose": (3, 20), "insulin_dose_per_kg": (0.1, 1.5)}


def random_screening(n: int, seed: int = 0, *, catalogue: Catalogue | None = None,
                     variables: Iterable[str] | None = None, missing: float = 0.1, true_rate: float = 0.08,
                     events_per_subject: float = 0.6, id_prefix: str = "S") -> Screening:
    """A Screening of n random subjects (seeded); `variables` limits the feature columns."""
    catalogue = catalogue or default_catalogue()
    rng = np.random.default_rng(seed)
    index = pd.Index([f"{id_prefix}{i:08d}" for i in range(n)], name="subject_id", dtype="string")
    names = list(variables) if variables is not None else [v.name for v in catalogue if v.kind != "event"]
    columns: dict[str, object] = {}
    for name in names:
        var = catalogue[name]
        unknown = rng.random(n) < missing
        if var.kind == "number":
            lo, hi = _TYPICAL.get(name, var.range or (0.0, 100.0))
            values = np.round(rng.uniform(lo, hi, n), 1)
            if var.range is not None:
                values = np.clip(values, *var.range)
            values[unknown] = np.nan
            columns[name] = values
        elif var.kind == "boolean":
            flags = pd.array(rng.random(n) < true_rate, dtype="boolean")
            flags[unknown] = pd.NA
            columns[name] = flags
        elif var.kind == "category":
            values = np.asarray(var.categories, dtype=object)[rng.integers(0, len(var.categories), n)]
            values[unknown] = None
            columns[name] = pd.array(values, dtype="string")
    features = pd.DataFrame(columns, index=index)

    events_names = catalogue.names("event")
    per_subject = rng.poisson(events_per_subject * max(1, len(events_names)), n)
    subject_rows = np.repeat(np.arange(n), per_subject)
    m = len(subject_rows)
    events = pd.DataFrame({
        "subject_id": pd.array(index.to_numpy()[subject_rows], dtype="string"),
        "event": pd.array(np.asarray(events_names, dtype=object)[rng.integers(0, len(events_names), m)]
                          if events_names else np.array([], dtype=object), dtype="string"),
        "days_before_index": np.floor(rng.uniform(0, 800, m)),
        "severity": pd.array(rng.integers(1, 6, m), dtype="Int64"),
    })
    lookback = pd.DataFrame(
        {e: np.where(rng.random(n) < 0.15, np.nan, rng.choice([30.0, 100.0, 400.0, 1000.0], n))
         for e in events_names}, index=index)
    counts = pd.DataFrame({f"{e}@{d}": np.where(rng.random(n) < 0.5, rng.integers(0, 4, n).astype(float), np.nan)
                           for e in events_names for d in (91, 365)}, index=index)
    return Screening(features, events, lookback, counts, source=f"random_screening(n={n}, seed={seed})")


# --- hostile canonical folders (tests/engine_fuzz.py run_canonical_case) ---------------------------------------

# subject ids a new user's export may hold: blanks around them, numbers that a reader could retype ("001", "1.0"),
# missing-value words, non-ASCII letters (composed and decomposed "é"), a no-break space
HOSTILE_IDS = (" A", "A ", "A", "001", "1", "1.0", "Ä", "A\u00a0", "é", "e\u0301", "0", "00", "-1", "nan", "NA",
               "None", "TRUE")
# index dates are 2024-03-01: 2023-03-02 is exactly 365 days before it (a window's boundary), 2024-03-02 after it
EDGE_TIMES = ("2024-03-01", "2023-03-02", "2023-03-01", "2023-02-28", "2024-02-29", "2024-03-02",
              "2024-03-01 23:59:59", "2024-03-01T00:00:00+05:00", "2023-03-02T23:00:00-05:00", "2024", "2024-02")
HOSTILE_DATES = ("1950-01-01", "1969-12-31", "1969-12-31 23:59:59", "1900-02-28", "1970-01-01", "2299-12-31",
                 "1677-09-21", "2262-04-12", "0001-01-01")
HOSTILE_VALUES = ("nan", "NaN", "inf", "-inf", "1e308", "1e400", "<0.017", ">14", "<=2", "text", "", " 7.5 ", "7,5",
                  "-0", "1e-300", "9" * 40, "0x10", "≤5", "7.5%", "NA", "/")
# (variable, unit, plausible low, high) in the units the files are written in
MEASURED = (("hba1c", "%", 4, 14), ("hba1c", "mmol/mol", 20, 130), ("alt", "U/L", 5, 150),
            ("fasting_cpeptide", "nmol/L", 0, 3), ("creatinine", "mg/dL", 0.5, 5), ("weight", "kg", 40, 150),
            ("height", "m", 1.4, 2.0), ("fasting_glucose", "mg/dl", 60, 300), ("bmi", "kg/m2", 15, 45),
            ("egfr", "mL/min/1.73m2", 15, 130), ("fasting_insulin", "pmol/L", 10, 300))


def write_hostile_canonical(folder, seed: int):
    """A small canonical folder (CSV, or Parquet text tables for one seed in four) as a new user's bad export
    might be: hostile ids (repeated, blank-padded, numeric-looking, non-ASCII), subjects without rows in some
    tables, times on a window's boundary, before 1970, far ahead or with time zones, NaN / inf / huge / censored /
    text values, header-only tables. Seeded; returns the folder."""
    import csv
    import random
    from pathlib import Path

    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hostile = rng.choice([0.0, 0.1, 0.3])  # the share of hostile cells in this folder
    n = rng.randint(1, 9)
    ids = [rng.choice(HOSTILE_IDS) if rng.random() < hostile else f"S{i}" for i in range(n)]
    if rng.random() < hostile:
        ids.append(rng.choice(ids))  # a subject twice
    pick = rng.choice

    def maybe(plain, hostile_choices):
        return pick(hostile_choices) if rng.random() < hostile else plain

    tables = {"subjects": [["subject_id", "sex", "birth_date", "diagnosis_date", "index_date", "diabetes_type"]] + [
        [s, maybe(pick(["female", "male"]), ["female", "M", "", "F", " male", "x"]),
         maybe(f"{rng.randint(1940, 1990)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", HOSTILE_DATES),
         "2010-01-01" if rng.random() < 0.8 else "",
         maybe("2024-03-01", ["2024-03-01T00:00:00+05:00", "2024-02-29", "2024-03-01 12:00", "2024"]),
         pick(["T1D", "T2D", ""])] for s in ids]}
    if rng.random() < 0.85:
        rows = [["subject_id", "time", "variable", "value", "unit", "ref_low", "ref_high"]]
        for _ in range(rng.randint(0 if rng.random() < 0.1 else 1, 4 * n)):
            variable, unit, low, high = pick(MEASURED)
            rows.append([pick(ids) if rng.random() > 0.05 else pick(HOSTILE_IDS),
                         pick(EDGE_TIMES) if rng.random() < 0.5 else maybe("2024-01-15", HOSTILE_DATES),
                         variable, maybe(str(round(rng.uniform(low, high), 2)), HOSTILE_VALUES), unit, "",
                         pick(["", "40", "nan"]) if variable == "alt" else ""])
        tables["measurements"] = rows
    if rng.random() < 0.7:
        rows = [["subject_id", "time", "event", "severity"]]
        for _ in range(rng.randint(0 if rng.random() < 0.1 else 1, 3 * n)):
            rows.append([pick(ids), pick(EDGE_TIMES) if rng.random() < 0.7 else maybe("2023-12-01", HOSTILE_DATES),
                         pick(["severe_hypoglycemia"] * 5 + ["dka"]), maybe(pick(["", "3"]), ["1.5", "-1", "high"])])
        tables["events"] = rows
    if rng.random() < 0.3:
        tables["event_history"] = [["subject_id", "event", "recorded_from"]] + [
            [s, "severe_hypoglycemia", maybe(pick(["2020-01-01", "2023-03-02"]), HOSTILE_DATES)]
            for s in rng.sample(ids, max(1, len(ids) // 2))]
    if rng.random() < 0.25:
        tables["event_counts"] = [["subject_id", "event", "within_days", "count"]] + [
            [s, "severe_hypoglycemia", pick(["365", "730", "90"]), maybe(str(rng.randint(0, 4)), ["<=2", ">3", "5 - 9", "x"])]
            for s in rng.sample(ids, max(1, len(ids) // 2))]
    if rng.random() < 0.3:
        rows, subject = [["subject_id", "time", "glucose"]], pick(ids)
        for k in range(pick([1, 5, 200])):
            hours, minutes = divmod(k * 15, 60)
            rows.append([subject, f"2024-02-{20 + hours // 24:02d} {hours % 24:02d}:{minutes:02d}:00",
                         maybe(str(rng.randint(40, 300)), ["LO", "HI", "nan", "", "<40", "1e9"])])
        tables["cgm"] = rows
    parquet = rng.random() < 0.25
    for name, rows in tables.items():
        if parquet:
            pd.DataFrame(rows[1:], columns=rows[0], dtype="string").replace("", pd.NA).to_parquet(
                folder / f"{name}.parquet")
        else:
            with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(rows)
    return folder
