"""Outcomes: a trial's outcome measures per subject and visit, their summaries and responder endpoints.

Read from canonical tables (explorer.cohort.tables), driven by the trial file; the clinical rules they use
(CGM metrics, HOMA-IR) live a floor below in explorer.clinical.

    measures.py   every outcome of a trial per subject and visit (`outcome_measures`), and its summaries
    visits.py     the trial's visit schedule applied to subject data
    events.py     dated events (severe hypoglycaemia, serious adverse events) per subject and visit interval
    endpoints.py  responder and composite endpoints, chosen by the variables a trial's outcomes measure
    clinical.py   KITT, Igls beta-cell replacement classes, CIT-07 and insulin responder endpoints
    summary.py    change from baseline, per-visit statistics with confidence intervals, responder proportions
"""
