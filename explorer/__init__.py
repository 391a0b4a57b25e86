"""Trial Explorer: clinical-trial eligibility and outcomes, explored from Jupyter, a dashboard or the command line.

The package stands on floors; each imports only from the floors below (docs/architecture.md lists them,
tests/test_architecture_layers.py checks every import):

    cli/                       the `trial-explorer` command
    app/                       the dashboard: scenario, widget-free state, thin views, `explore()`
    analysis/, simulation/,    what researchers ask next; a trial end to end on synthetic data;
    sources.py, plots/         opening a data source; figures as pure functions
    engine/, registry/,        evaluation into the status matrix and its statistics; registry import;
    describe.py                trials and the catalogue as tables
    trial.py, cohort/,         trial definitions; subject data (loaders, features, synthetic generator);
    outcomes/                  outcome measures per subject and visit
    clinical/, expr.py         shared clinical rules; the criteria expression language
    catalogue/                 every variable a rule may use
    errors.py, strict_input.py the exceptions; strict YAML/JSON reading
"""
