"""Why a criterion is unknown: its variables' missing values counted by the reason the derivation gave.

"Unknown" is the honest answer when a value is missing, but a researcher deciding what to do about it
(chase the data, relax the look-back window, count the unknown as passing) needs to know *why* it is
missing: never measured, measured outside the look-back window, a value made unknown because it was
invalid, a censored result, no birth date... The screening derivation records one reason per subject and
variable whose feature is missing (Screening.missing_reasons; a screening folder's missing_reasons.parquet);
the engines count them where the data lies ({(variable, reason): subjects}: explorer.engine.layout.reason_counts,
DuckDBBackend.reason_counts, SparkBackend.reason_counts), and this module lays those counts out per criterion.

A censored value ("<0.017") is not missing, but a criterion whose threshold lies inside its interval is unknown
for it: the derivation records a reason for each censored value ("censored below the limit of quantification
(<0.017 nmol/L): unknown where a threshold lies inside the interval"). Reasons are per variable, so that row
counts every subject whose value is censored, including those a threshold outside the interval decides.

The counts are of the whole screened cohort, not of the subjects still in the funnel: a reason says why a
value is missing, whichever step the subject reached.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from explorer import expr

COLUMNS = ["criterion", "label", "variable", "reason", "subjects", "% of screened"]


def criterion_variables(trial) -> list[tuple[object, str]]:
    """(criterion, variable) for every computable criterion and catalogue variable its rule reads
    (parameters are not variables), in the trial's order, variables sorted within a criterion."""
    pairs = []
    for criterion in trial.criteria:
        if not criterion.computable:
            continue
        for name in sorted(expr.names(criterion.tree) - set(criterion.parameters)):
            if name in trial.catalogue:
                pairs.append((criterion, name))
    return pairs


def unknown_reasons(trial, counts: Mapping[tuple[str, str], int], n_subjects: int) -> pd.DataFrame:
    """One row per (criterion, variable, reason) with the subjects whose value of that variable is missing
    for that reason, most frequent reason first within a variable. `counts`: {(variable, reason): subjects}
    of the source (empty when the source records no reasons: then the frame is empty). Integer counts,
    so small-cell protection (explorer.engine.privacy) blanks them and the percentage with them."""
    rows = []
    for criterion, variable in criterion_variables(trial):
        reasons = sorted(((reason, n) for (v, reason), n in counts.items() if v == variable and n),
                         key=lambda item: (-item[1], item[0]))
        for reason, n in reasons:
            rows.append({"criterion": criterion.id, "label": criterion.display_label, "variable": variable,
                         "reason": reason, "subjects": int(n),
                         "% of screened": 100.0 * n / n_subjects if n_subjects else float("nan")})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["subjects"] = frame["subjects"].astype("int64")
    frame["% of screened"] = frame["% of screened"].astype("float64")
    frame.attrs.update(counts=["subjects"], percents={"% of screened": ("subjects", ("constant", n_subjects))})
    return frame
