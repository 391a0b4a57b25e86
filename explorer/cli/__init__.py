"""The `trial-explorer` command line: a thin layer of argument parsing and printing over the library.

    entry.py        the parser, `main` (the console script) and the exit codes every error maps to
    output.py       output formats (table, CSV, JSON), aligned tables and JSON records
    definitions.py  trials, show, check, schema, variables
    funnel.py       funnel: a trial's funnel, per-criterion impact and final count over a data source
    outcomes.py     outcomes: each outcome of a trial per visit
    synth.py        synth: a synthetic cohort written as canonical tables
    registry.py     import: a registry record as a draft trial definition
    dashboard.py    dashboard: serve the Voila dashboard

Command modules only parse, call the library and print; they raise the project's errors
(explorer.errors) and entry.main turns each into one line on stderr and an exit code. Handlers import
the heavier parts of the library (synthetic generator, loaders, outcomes, importer, widgets) when they
run: building the parser imports only what the options need, so `--help` and `trials` start quickly.
"""
