"""A trial taken end to end on synthetic data, and held against what published trials report.

Everything here needs a trial, the synthetic generator and the engine or the outcome measures at once, so
it stands above explorer.engine, explorer.outcomes and explorer.cohort (nothing below imports it):

    screening.py    screen_synthetic: a synthetic clinic screened with a trial -> (screening, eligible ids)
    published.py    published trial figures (CIT-07, Zang 2022) against synthetic cohorts taken through the
                    trial-driven outcome-measures pipeline (scripts/outcomes_calibration.py writes the table)
    recipients.py   the islet-eligible synthetic pool against published islet-alone recipients
                    (scripts/islet_recipient_profile.py writes the comparison)
    recipient_cgm.py  the simulated recipients' CGM metrics (explorer.clinical on their readings) before and
                    one year after transplantation against published CGM ranges (same script)

The response models themselves, and their calibration on raw trajectories, live in explorer.cohort.synthetic.
"""
