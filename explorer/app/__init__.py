"""The interactive explorer: a widget-free state, thin views over it, the dashboard, and `explore()`.

    from explorer.app import explore
    explore("NCT06196996")                       # synthetic clinic population of the trial's kind
    explore("NCT01142050", "path/to/data")       # real data: small-cell protection on by default

scenario.py (what the user chose, as data), state.py (results, no widgets), views.py and outcome_view.py
(VBoxes generated from the trial), widgets.py (address sync, downloads, tables), dashboard.py (wiring,
`Dashboard` for Voilà and `explore` for notebooks).
"""

__all__ = ["Dashboard", "explore"]


def __getattr__(name: str):
    # lazily, so that importing the widget-free state or scenario does not load the widget stack
    if name in __all__:
        from explorer.app import dashboard
        return getattr(dashboard, name)
    raise AttributeError(name)
