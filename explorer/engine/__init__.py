"""The eligibility engine: evaluate every criterion once into a mask matrix, then recombine it cheaply.

    matrix = evaluate(trial, screening)                      # or engine="duckdb", or a layout folder
    funnel(matrix, order=[...], enabled=[...])               # attrition, with the unknown stream
    impact(matrix); shapley(matrix); overlap(matrix)         # gain, attribution, combinations
    baseline_table(matrix, screening)                        # table 1: eligible vs screened
    suppress_small_cells(funnel(matrix), 11)                 # before sharing real-data results
    matrix.with_parameter(trial, "I1", "age_max", 70)        # re-evaluates one criterion

What lives here (docs/engine.md has the semantics):

    status.py, matrix.py      raw status codes and policies; the subject x criterion matrix, `evaluate`
    memory.py                 NumPy three-valued evaluation of an expression tree
    sql.py, duck.py, spark.py expression -> SQL; DuckDB over Parquet; the same SQL on Spark
    layout.py, lookup.py      a Screening as a folder of Parquet/CSV files; Arrow text lookups
    histogram.py, histogram_sql.py  matrices that hold only (pattern, count) rows, grouped where the data lies
    bits.py, patterns.py      packed statuses and the pattern histogram every statistic works on
    stats.py, shapley.py      funnel, impact, overlap; exact Shapley attribution
    baseline.py               table 1 and the group masks (eligible, possibly eligible)
    privacy.py                small-cell protection: the one `Protection` rule for every count shown
"""

from explorer.engine.baseline import KEY_VARIABLES, baseline_table, eligible_mask
from explorer.engine.layout import read_screening, write_screening
from explorer.engine.matrix import CriterionInfo, EligibilityMatrix, evaluate
from explorer.engine.privacy import display_frame, suppress_small_cells
from explorer.engine.shapley import shapley
from explorer.engine.stats import final_counts, funnel, impact, membership, overlap
from explorer.engine.status import ASSUMED, FAIL, PASS, UNKNOWN

__all__ = [
    "ASSUMED", "FAIL", "KEY_VARIABLES", "PASS", "UNKNOWN", "CriterionInfo", "EligibilityMatrix", "baseline_table",
    "display_frame", "eligible_mask", "evaluate", "final_counts", "funnel", "impact",
    "membership", "overlap", "read_screening", "shapley", "suppress_small_cells", "write_screening",
]
