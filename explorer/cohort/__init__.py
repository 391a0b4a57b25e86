"""Subject data: the canonical model, units, loaders, screening features and the synthetic generator.

    tables.py     the canonical model (subjects, measurements, events, CGM): `Cohort`
    units.py      unit conversion to each variable's catalogue unit
    values.py     censored ("<0.017") and categorical cells
    loaders/      every source of subject data -> Cohort + LoadReport (its __init__ lists them)
    features.py   screening features at an index date, from a Cohort
    screening.py  `Screening`: the engines' only input
    synthetic/    the built-in synthetic populations and response models (its __init__ lists every file)

Nothing here evaluates a trial: what needs the engine or the outcome measures stands above, in
explorer.engine, explorer.outcomes and explorer.simulation.
"""
