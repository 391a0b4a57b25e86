"""Shared clinical definitions: one place for each clinical rule that several parts of the package use.

Screening features (explorer.cohort), the synthetic generator and the outcome measures
(explorer.outcomes) all stand above this floor and import from it; it imports nothing of theirs.

    cgm.py                    the consensus CGM metrics, data sufficiency, visit windows, the AGP
    cgm_grid.py               CGM readings on a regular day-by-day grid (as iglu does it)
    glycaemic_variability.py  glycaemic risk and variability indices (as iglu computes them)
    mage.py                   MAGE, by iglu's moving-average algorithm
    cgm_episodes.py           hypo- and hyperglycaemic episodes per the 2023 consensus
    cgm_table.py              the table of every CGM metric (cgm_metrics.yaml)
    homa.py                   HOMA-IR and the rule for when it is valid
    age.py                    age in completed years, as registry age limits mean it
    populations.py            the built-in synthetic populations a data source can name
"""
