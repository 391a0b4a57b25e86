"""The interactive explorer: a widget-free state, thin views over it, the dashboard, and `explore()`.

    from explorer.app import explore
    explore("NCT06196996")                       # synthetic clinic population of the trial's kind
    explore("NCT01142050", "path/to/data")       # real data: small-cell protection on by default

    scenario.py        what the user chose, as data (round-trips through JSON and the page address)
    state.py           the results, no widgets: every edit goes through `apply`; lazy tables
    outcome_state.py   the enrolled subjects' outcomes, computed and cached for the state
    folders.py         the start folder relative paths are read from
    views.py           names every view below in one place (each VBox, generated from the trial, in a module
                       of its own): summary_bar (header), criteria_view, funnel_view, impact_view,
                       overlap_view, baseline_view (table 1), trial_picker, data_panel, export_panel,
                       scenario_panel; warm_up (plotly's first use)
    outcome_view.py    the outcome panel: pickers and figures drawn from the state's outcomes
    analysis_views.py  thresholds and compare tabs
    tables.py          tables as text (labels, units, protected counts)
    widgets.py         the page-address sync widget, download links, HTML tables
    plotly_loader.py   plotly.js sent to the page once it has rendered; PlotlyFigure draws with it
    code_export.py     a scenario as Python code or a notebook
    dashboard.py       wiring: `Dashboard` for Voilà and `explore` for notebooks
"""

__all__ = ["Dashboard", "explore"]


def __getattr__(name: str):
    # lazily, so that importing the widget-free state or scenario does not load the widget stack
    if name in __all__:
        from explorer.app import dashboard
        return getattr(dashboard, name)
    raise AttributeError(name)
