"""Outcomes: clinical metrics, per-visit summaries and the trial outcome measures built on them.

cgm.py       consensus CGM metrics (time in ranges, mean, SD, CV, GMI, data sufficiency) and the AGP
clinical.py  HOMA-IR, KITT, Igls beta-cell replacement classes, CIT-07 and insulin responder endpoints
summary.py   change from baseline, per-visit summaries with confidence intervals, responder proportions
"""
