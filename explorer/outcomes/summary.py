"""Per-visit outcome summaries: change from baseline, descriptive statistics with CIs, responder rates.

Input is the long outcome table, one row per subject, visit and measure:

    subject_id, visit, measure, value        (plus any subgroup columns, see `add_subgroups`)

and every function returns a new DataFrame. Groups (visits, measures, subgroups) keep the order of
first appearance, or the category order where a column is categorical, so visits come out in trial
order without being sorted as text ("week 12" before "week 4").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from explorer.errors import DataError

LONG_COLUMNS = ("subject_id", "visit", "measure", "value")
DEFAULT_CONFIDENCE = 0.95


# --- shaping ----------------------------------------------------------------------------------------

def to_long(wide: pd.DataFrame, *, id_columns: Sequence[str] = ("subject_id", "visit"),
            measures: Sequence[str] | None = None) -> pd.DataFrame:
    """A wide table (one column per measure, e.g. cgm_metrics' output) as the long outcome table.

    Boolean measures become 0/1 (NA stays missing); rows with a missing value are dropped.
    """
    id_columns = list(id_columns)
    _require(wide, id_columns, "wide table")
    measures = list(measures) if measures is not None else [c for c in wide.columns if c not in id_columns]
    _require(wide, measures, "wide table")
    numeric = {m: pd.to_numeric(wide[m].astype("Float64") if wide[m].dtype == "boolean" else wide[m],
                                errors="coerce") for m in measures}
    long = pd.DataFrame({**{c: wide[c] for c in id_columns}, **numeric}).melt(
        id_vars=id_columns, value_vars=measures, var_name="measure", value_name="value")
    long["value"] = long["value"].astype("float64")
    return long.dropna(subset=["value"]).reset_index(drop=True)


def add_subgroups(long: pd.DataFrame, attributes: pd.DataFrame,
                  columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The long table with subject attributes (sex, age band, tertile, graft class, ...) joined on.

    `attributes` has one row per subject: either a `subject_id` column or a subject_id index.
    Subjects without attributes get missing subgroup values (they drop out of that subgroup's split).
    """
    attributes = attributes.reset_index() if "subject_id" not in attributes.columns else attributes
    _require(attributes, ["subject_id"], "subject attributes")
    columns = list(columns) if columns is not None else [c for c in attributes.columns if c != "subject_id"]
    _require(attributes, columns, "subject attributes")
    clashes = [c for c in columns if c in long.columns]
    if clashes:
        raise DataError(f"the outcome table already has column(s) {clashes}", column=clashes[0])
    duplicated = attributes["subject_id"].duplicated(keep=False)
    if duplicated.any():
        raise DataError("subject attributes must have one row per subject", column="subject_id",
                        rows=attributes.index[duplicated].tolist())
    lookup = attributes.set_index("subject_id")[columns]
    # Hash each distinct subject once (10^5), not every row (10^6+): factorize, then look up uniques.
    codes, subjects = pd.factorize(long["subject_id"])
    rows = np.where(codes >= 0, lookup.index.get_indexer(subjects)[codes], -1)
    return long.assign(**{
        c: pd.Series(pd.api.extensions.take(lookup[c].array, rows, allow_fill=True), index=long.index)
        for c in columns
    })


def baseline_values(long: pd.DataFrame, *, measure: str, baseline_visit: str = "baseline") -> pd.Series:
    """One measure's baseline value per subject (index subject_id), e.g. to derive HbA1c tertiles."""
    _require(long, LONG_COLUMNS, "outcome table")
    rows = long[(long["measure"] == measure) & (long["visit"] == baseline_visit)]
    _reject_duplicates(rows, ["subject_id"], f"baseline {measure}")
    return rows.set_index("subject_id")["value"].rename(f"{measure}_{baseline_visit}")


def tertiles(values: pd.Series, *, labels: Sequence[str] = ("T1", "T2", "T3")) -> pd.Series:
    """Tertile of each value (ordered categorical, T1 lowest); missing values stay missing."""
    return pd.qcut(values, 3, labels=list(labels)).rename(f"{values.name}_tertile" if values.name else None)


def age_bands(age: pd.Series, *, edges: Sequence[float] = (18, 30, 40, 50, 60, 70)) -> pd.Series:
    """Age bands "<18", "18-29", ..., "70+" as an ordered categorical (edges are inclusive lower bounds)."""
    edges = list(edges)
    bins = [-np.inf, *edges, np.inf]
    labels = [f"<{edges[0]:g}"] + [f"{lo:g}-{hi - 1:g}" for lo, hi in zip(edges, edges[1:], strict=False)]
    labels.append(f"{edges[-1]:g}+")
    return pd.cut(age, bins=bins, labels=labels, right=False).rename("age_band")


# --- change from baseline ---------------------------------------------------------------------------

def change_from_baseline(long: pd.DataFrame, *, baseline_visit: str = "baseline") -> pd.DataFrame:
    """The long table with `baseline`, `change` (value - baseline) and `relative_change` (%) columns.

    The baseline is the subject's value of the same measure at `baseline_visit` (two such values are
    an error); relative change is 100 x change / baseline and unknown where the baseline is zero or
    missing. Rows keep their order and index.
    """
    _require(long, LONG_COLUMNS, "outcome table")
    is_baseline = (long["visit"] == baseline_visit).to_numpy(dtype=bool, na_value=False)
    # One integer per (subject, measure) pair: the baseline lookup is an array index, not a join.
    subject_codes, subjects = pd.factorize(long["subject_id"])
    measure_codes, measures = pd.factorize(long["measure"])
    pair = subject_codes.astype(np.int64) * len(measures) + measure_codes
    known_pair = (subject_codes >= 0) & (measure_codes >= 0)
    values = long["value"].to_numpy(dtype="float64")
    baseline_rows = is_baseline & known_pair
    per_pair = np.bincount(pair[baseline_rows], minlength=len(subjects) * len(measures))
    duplicated = baseline_rows & (per_pair[np.where(known_pair, pair, 0)] > 1)
    if duplicated.any():
        raise DataError("baseline has more than one value per subject_id and measure",
                        rows=long.index[duplicated].tolist())
    by_pair = np.full(len(subjects) * len(measures), np.nan)
    by_pair[pair[baseline_rows]] = values[baseline_rows]
    baseline = np.where(known_pair, by_pair[np.where(known_pair, pair, 0)], np.nan)

    change = values - baseline
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(baseline != 0, 100.0 * change / baseline, np.nan)
    return long.assign(baseline=baseline, change=change, relative_change=relative)


# --- descriptive summaries --------------------------------------------------------------------------

def summarise(long: pd.DataFrame, *, by: Sequence[str] = ("visit", "measure"), value: str = "value",
              confidence: float = DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """n, mean, SD, SE, t-based CI of the mean, median with its CI, quartiles and IQR per group.

    `by` lists the grouping columns (add subgroup columns to split, e.g. ("visit", "measure", "sex"));
    `value` may be "change" or "relative_change" after `change_from_baseline`.

    Mean CI: mean +- t(1 - alpha/2, n - 1) x SD / sqrt(n) (needs n >= 2). Median CI: the distribution-
    free interval between order statistics x(r) and x(n - r + 1), r from the Binomial(n, 1/2)
    quantile, with coverage >= `confidence` (Conover, Practical Nonparametric Statistics, 3rd ed.,
    1999, 3.2); NaN when n is too small (n < 6 at 95 %). Quartiles interpolate linearly (NumPy's
    default). Missing values are left out of n.
    """
    by = list(by)
    _check_confidence(confidence)
    _require(long, [*by, value], "outcome table")
    frame = _ordered_keys(long[[*by, value]].dropna(subset=[value]), by)
    grouped = frame.groupby(by, sort=True, observed=True)[value]
    table = grouped.agg(n="count", mean="mean", sd="std", median="median")
    quartiles = grouped.quantile([0.25, 0.75]).unstack()
    table["q1"], table["q3"] = quartiles[0.25], quartiles[0.75]
    table["iqr"] = table["q3"] - table["q1"]

    n = table["n"].to_numpy(dtype="float64")
    table["se"] = table["sd"] / np.sqrt(n)
    with np.errstate(invalid="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    half_width = t * table["se"]
    table["ci_low"], table["ci_high"] = table["mean"] - half_width, table["mean"] + half_width

    codes = grouped.ngroup().to_numpy()
    low, high = _median_interval(frame[value].to_numpy(dtype="float64"), codes, len(table), confidence)
    table["median_ci_low"], table["median_ci_high"] = low, high
    columns = ["n", "mean", "sd", "se", "ci_low", "ci_high", "median", "median_ci_low",
               "median_ci_high", "q1", "q3", "iqr"]
    return table[columns].reset_index()


def wilson_interval(successes, n, *, confidence: float = DEFAULT_CONFIDENCE):
    """Wilson score interval for a binomial proportion (Wilson, JASA 1927;22:209), vectorised.

    Returns (low, high) arrays; NaN where n == 0. Equal to scipy's
    `binomtest(k, n).proportion_ci(method="wilson")`.
    """
    _check_confidence(confidence)
    successes = np.asarray(successes, dtype="float64")
    n = np.asarray(n, dtype="float64")
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half_width = z / denominator * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half_width, centre + half_width


def responder_proportions(flags: pd.DataFrame, *, by: Sequence[str] = ("visit",),
                          responder: str = "responder", missing_as_failure: bool = False,
                          confidence: float = DEFAULT_CONFIDENCE) -> pd.DataFrame:
    """Responders per group: n, responders, unknown, proportion and its Wilson CI.

    `flags` has the `by` columns and a boolean `responder` column (pandas "boolean", NA = unknown;
    e.g. the output of explorer.outcomes.clinical.cit07_endpoint joined to visits). Unknown subjects
    are left out of n, or counted as non-responders with `missing_as_failure=True` (the usual
    non-responder imputation of intention-to-treat analyses).
    """
    by = list(by)
    _require(flags, [*by, responder], "responder table")
    frame = _ordered_keys(flags[[*by, responder]], by)
    status = frame[responder].astype("boolean")
    counts = pd.DataFrame({
        "responders": status.fillna(False).astype("int64"),
        "unknown": status.isna().astype("int64"),
        "known": status.notna().astype("int64"),
    })
    table = counts.groupby([frame[c] for c in by], sort=True, observed=True).sum()
    table["n"] = table["known"] + (table["unknown"] if missing_as_failure else 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["proportion"] = table["responders"] / table["n"].where(table["n"] > 0)
    table["ci_low"], table["ci_high"] = wilson_interval(table["responders"], table["n"],
                                                        confidence=confidence)
    return table[["n", "responders", "unknown", "proportion", "ci_low", "ci_high"]].reset_index()


# --- internals --------------------------------------------------------------------------------------

def _median_interval(values: np.ndarray, codes: np.ndarray, n_groups: int, confidence: float):
    """Order-statistic confidence interval of each group's median, from one sort of all values."""
    # Sort by value, then stably by group: values end up ordered within each group. Two argsorts are
    # about twice as fast as np.lexsort here.
    by_value = np.argsort(values)
    order = by_value[np.argsort(codes[by_value], kind="stable")]
    sorted_values = values[order]
    n = np.bincount(codes, minlength=n_groups)
    start = np.concatenate(([0], np.cumsum(n)[:-1]))
    # r is the largest rank with P(Binomial(n, 1/2) <= r - 1) <= alpha / 2.
    r = stats.binom.ppf((1 - confidence) / 2, n, 0.5)
    r = np.where(stats.binom.cdf(r, n, 0.5) <= (1 - confidence) / 2, r + 1, r)
    valid = (r >= 1) & (n > 0)
    r = np.where(valid, r, 1).astype(np.int64)
    low = sorted_values[np.minimum(start + r - 1, len(values) - 1)]
    high = sorted_values[np.minimum(start + n - r, len(values) - 1)]
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def _ordered_keys(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Grouping columns as categoricals in first-appearance order (categoricals keep their order)."""
    frame = frame.copy()
    for column in by:
        if not isinstance(frame[column].dtype, pd.CategoricalDtype):
            # factorize numbers values in order of appearance (missing -> -1 -> NaN), one hashing pass
            codes, uniques = pd.factorize(frame[column])
            frame[column] = pd.Categorical.from_codes(codes, categories=uniques)
    return frame


def _reject_duplicates(frame: pd.DataFrame, keys: list[str], what: str) -> None:
    duplicated = frame.duplicated(subset=keys, keep=False)
    if duplicated.any():
        raise DataError(f"{what} has more than one value per {' and '.join(keys)}",
                        rows=frame.index[duplicated].tolist())


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"the {what} lacks column(s) {missing}; it has {list(frame.columns)}",
                        column=missing[0])


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be between 0 and 1, got {confidence}")
