"""Baseline characteristics ("table 1") of the eligible pool against the screened population.

The only statistic that reads subject data besides the matrix: the matrix gives the eligible mask
(one gather through the pattern histogram), the Screening gives the key variables. A table is cached
on the matrix per eligible mask, so redrawing a dashboard without a change costs nothing.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explorer.catalogue import default_catalogue
from explorer.cohort.compact import float_values
from explorer.engine.bits import from_bits
from explorer.engine.stats import final_bits
from explorer.errors import DefinitionError

KEY_VARIABLES = ("age", "sex", "bmi", "diabetes_type", "diabetes_duration", "hba1c", "tir", "fasting_cpeptide",
                 "postmeal_cpeptide", "insulin_dose_per_kg", "egfr", "hypoglycemia_unawareness")
GROUPS = ("screened", "eligible", "possibly", "remaining", "excluded")  # possibly: remaining, not eligible
_STATS = ("n", "value", "sd", "median", "q1", "q3", "missing")


def group_mask(matrix, group: str, enabled=None, policies: Mapping[str, str] | None = None) -> np.ndarray:
    """Boolean mask over subjects: screened (all), eligible (PASS all), remaining (no FAIL), excluded."""
    if group not in GROUPS:
        raise DefinitionError(f"group {group!r}; use one of {list(GROUPS)}", field="groups")
    if group == "screened":
        return np.ones(matrix.n_subjects, dtype=bool)
    eligible, remaining = final_bits(matrix, enabled, policies)
    if group == "eligible":
        return from_bits(eligible, matrix.n_subjects)
    mask = from_bits(remaining, matrix.n_subjects)
    if group == "possibly":
        return mask & ~from_bits(eligible, matrix.n_subjects)
    return ~mask if group == "excluded" else mask


def eligible_mask(matrix, enabled=None, policies: Mapping[str, str] | None = None, *,
                  possibly: bool = False) -> np.ndarray:
    """Subjects eligible (PASS every enabled criterion); possibly=True also keeps the possibly eligible."""
    return group_mask(matrix, "remaining" if possibly else "eligible", enabled, policies)


def _features(screening: Any, variables: Sequence[str]) -> pd.DataFrame:
    if isinstance(screening, (str, Path)):
        from explorer.engine.layout import read_features
        return read_features(screening, variables)
    features = screening.features
    return features[[v for v in variables if v in features.columns]]


def _number_stats(values: np.ndarray) -> dict[str, float]:
    known = values[~np.isnan(values)]
    if len(known) == 0:
        return {"n": 0, "value": np.nan, "sd": np.nan, "median": np.nan, "q1": np.nan, "q3": np.nan,
                "missing": len(values)}
    q1, median, q3 = np.percentile(known, [25, 50, 75])
    return {"n": len(known), "value": float(known.mean()), "sd": float(known.std(ddof=1)) if len(known) > 1 else np.nan,
            "median": float(median), "q1": float(q1), "q3": float(q3), "missing": len(values) - len(known)}


def _smd_number(a: dict, b: dict) -> float:
    pooled = np.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / 2)
    return float((a["value"] - b["value"]) / pooled) if pooled and np.isfinite(pooled) else np.nan


def _smd_proportion(p: float, q: float) -> float:
    p, q = p / 100, q / 100
    pooled = np.sqrt((p * (1 - p) + q * (1 - q)) / 2)
    return float((p - q) / pooled) if pooled and np.isfinite(pooled) else np.nan


# Per screening (its features frame, held weakly): each variable's column as the statistics read it and
# its statistics over everyone screened. Both depend on the cohort only; at 10^6 subjects preparing them
# was most of a table's cost (0.5-1.4 s), paid again by each side of a comparison (issue 17).
_PREPARED: dict[int, tuple[weakref.ref, dict]] = {}


def _prepared(features: pd.DataFrame | None, key: tuple, make):
    """make(), kept for this features frame (None: a folder read for this call only, nothing kept)."""
    if features is None:
        return make()
    entry = _PREPARED.get(id(features))
    if entry is None or entry[0]() is not features:
        for dead in [k for k, (ref, _) in _PREPARED.items() if ref() is None]:
            del _PREPARED[dead]
        entry = _PREPARED[id(features)] = (weakref.ref(features), {})
    if key not in entry[1]:
        entry[1][key] = make()
    return entry[1][key]


def level_codes(column: pd.Series, levels: Sequence[str]) -> np.ndarray:
    """Each value's position in `levels`, -1 for unknown or any other value: pd.Categorical(column,
    categories=levels).codes, through one factorisation (Arrow's dictionary encoding for text columns:
    about 20 times faster at 10^6 subjects)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    lookup = np.append(pd.Index(list(levels), dtype=object).get_indexer(pd.Index(uniques, dtype=object)), -1)
    return lookup[codes].astype(int)  # the sentinel -1 picks the appended -1


def _column(kind: str, column: pd.Series | None, n: int, categories: Sequence[str]) -> np.ndarray:
    """A variable as its statistics read it: floats (NaN unknown), or small codes (booleans: 1 true,
    0 false; categories: the level's position; -1 unknown)."""
    if kind == "number":
        return np.full(n, np.nan) if column is None else float_values(column)
    if column is None:
        return np.full(n, -1, dtype=np.int8)
    if kind == "boolean":
        flags = column.astype("boolean")
        return np.where(flags.isna().to_numpy(), -1, flags.to_numpy(dtype=bool, na_value=False)).astype(np.int8)
    return level_codes(column, categories).astype(np.int8 if len(categories) < 127 else np.int64)


def _rows(name: str, kind: str, column: pd.Series | None, masks: dict[str, np.ndarray], n: int,
          categories: Sequence[str], features: pd.DataFrame | None = None) -> list[dict]:
    def stats(group: str, level, compute):
        # over everyone screened: the same for every table of this cohort
        return _prepared(features, ("screened", name, level), compute) if group == "screened" else compute()

    rows = []
    if kind == "number":
        values = _column(kind, column, n, categories)  # a view or a cheap copy: not worth keeping
        row = {"variable": name, "level": "", "statistic": "mean (SD); median [Q1, Q3]"}
        per_group = {g: stats(g, None, lambda m=m: _number_stats(values[m])) for g, m in masks.items()}
        for g, st in per_group.items():
            row.update({f"{g}_{k}": v for k, v in st.items()})
        if "eligible" in per_group:
            row["smd"] = _smd_number(per_group["eligible"], per_group["screened"])
        return [row]
    codes = _prepared(features, ("codes", name), lambda: _column(kind, column, n, categories))
    if kind == "boolean":
        levels, codes_of_levels = ["yes"], [1]  # the row reports "yes" among the known
    else:
        levels = list(categories)
        codes_of_levels = list(range(len(levels)))

    def counts(m: np.ndarray, code: int) -> tuple[int, int, int]:
        c = codes[m]
        return int((c >= 0).sum()), int((c == code).sum()), int((c < 0).sum())

    for level, code in zip(levels, codes_of_levels, strict=True):
        row = {"variable": name, "level": level, "statistic": "n (% of known)"}
        pct = {}
        for g, m in masks.items():
            known, count, missing = stats(g, level, lambda m=m, code=code: counts(m, code))
            pct[g] = 100.0 * count / known if known else np.nan
            row.update({f"{g}_n": count, f"{g}_value": pct[g], f"{g}_missing": missing})
        if "eligible" in pct:
            row["smd"] = _smd_proportion(pct["eligible"], pct["screened"])
        rows.append(row)
    return rows


def baseline_table(matrix, screening: Any, variables: Iterable[str] | None = None, enabled=None,
                   policies: Mapping[str, str] | None = None, *,
                   groups: Sequence[str] = ("screened", "eligible")) -> pd.DataFrame:
    """Table 1: per key variable, the screened population against the eligible pool.

    Numbers: n known, mean, SD, median, quartiles, missing. Booleans ("yes") and category levels:
    n, % of the known, missing. `smd` is the standardized mean difference eligible vs screened.
    `screening` is the Screening the matrix was evaluated on (or its layout folder). Default variables:
    KEY_VARIABLES that the screening has. The first row counts the subjects in each group.
    """
    groups = tuple(groups)
    for g in groups:
        if g not in GROUPS:
            raise DefinitionError(f"group {g!r}; use one of {list(GROUPS)}", field="groups")
    if "screened" not in groups:
        groups = ("screened", *groups)
    catalogue = getattr(matrix.trial, "catalogue", None) or default_catalogue()
    wanted = list(variables) if variables is not None else list(KEY_VARIABLES)
    for v in wanted:
        if v not in catalogue or catalogue[v].kind == "event":
            raise DefinitionError(f"{v!r} is not a number, boolean or category variable of the catalogue",
                                  field="variables")
    masks = {g: group_mask(matrix, g, enabled, policies) for g in groups}
    digest = hashlib.blake2b(b"".join(np.packbits(m).tobytes() for m in masks.values()), digest_size=16).hexdigest()
    cache = matrix.__dict__.setdefault("_baseline_cache", {})
    key = (id(screening), digest, tuple(wanted), groups)
    if key in cache and cache[key][0] is screening:
        return cache[key][1].copy()

    features = _features(screening, wanted)
    if len(features) != matrix.n_subjects:
        raise DefinitionError("the screening has a different number of subjects than the matrix; pass the "
                              "screening the matrix was evaluated on", field="screening")
    if variables is None:
        wanted = [v for v in wanted if v in features.columns]
    rows = [{"variable": "subjects", "level": "", "statistic": "n",
             **{f"{g}_n": int(m.sum()) for g, m in masks.items()}}]
    for name in wanted:
        var = catalogue[name]
        column = features[name] if name in features.columns else None
        rows.extend(_rows(name, var.kind, column, masks, matrix.n_subjects, var.categories,
                          None if isinstance(screening, (str, Path)) else screening.features))
    frame = table_frame(rows, groups)
    cache[key] = (screening, frame)
    return frame.copy()


def table_frame(rows: list[dict], groups: Sequence[str]) -> pd.DataFrame:
    """Table 1's rows as its frame: the columns in order, counts as Int64, and the attrs small-cell
    protection reads (explorer.engine.histogram builds the same rows from an engine's aggregates)."""
    columns = ["variable", "level", "statistic"] + [f"{g}_{s}" for g in groups for s in _STATS]
    if "eligible" in groups:
        columns.append("smd")
    frame = pd.DataFrame(rows).reindex(columns=columns)
    for g in groups:
        for s in ("n", "missing"):
            frame[f"{g}_{s}"] = frame[f"{g}_{s}"].astype("Int64")
    frame.attrs.update({
        "counts": [f"{g}_{s}" for g in groups for s in ("n", "missing")],
        "percents": {},
        "dependent": {**{f"{g}_{s}": f"{g}_n" for g in groups for s in ("value", "sd", "median", "q1", "q3")},
                      **({"smd": "eligible_n"} if "eligible" in groups else {})},
    })
    return frame
