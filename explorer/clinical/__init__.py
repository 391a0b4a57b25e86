"""Shared clinical definitions: one place for each clinical rule that several parts of the package use.

Screening features (explorer.cohort), the synthetic generator and the outcome measures
(explorer.outcomes) all stand above this floor and import from it; it imports nothing of theirs.

    cgm.py          the consensus CGM metrics, data sufficiency, visit windows, the AGP
    homa.py         HOMA-IR and the rule for when it is valid
    populations.py  the built-in synthetic populations a data source can name
"""
