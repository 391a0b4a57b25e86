"""The dashboard's views, named in one place for the code that imports them from here.

Each view is a VBox generated from the trial that calls the state's methods, in a module of its own:
`refresh()` redraws from the state, and dashboard.py decides when. Every control is built by one loop
over the trial's criteria (no hand-written blocks).

    summary_bar      the header: title, eligible counts, status, errors, loading indicator
    criteria_view    the criteria panel (one row per criterion) and the look its rows share
    funnel_view      the attrition funnel (bars and table drawn in the page from the counts)
    impact_view      per-criterion impact and Shapley shares
    overlap_view     the overlap of exclusions
    baseline_view    table 1
    trial_picker     bundled trials, a definition file by path or upload
    data_panel       synthetic or real data, and the load report
    export_panel     downloads and small-cell protection
    scenario_panel   save and restore the scenario
    warm_up          plotly's first use, ahead of any chart
"""

from explorer.app.baseline_view import BaselineView
from explorer.app.criteria_view import (
    POLICY_OPTIONS,
    CriteriaPanel,
    CriterionRow,
    RowLook,
    display_unit,
    readable_text,
)
from explorer.app.data_panel import DataPanel, absent_html, data_report_html
from explorer.app.export_panel import ExportPanel
from explorer.app.funnel_view import FunnelChart, FunnelView, funnel_data
from explorer.app.impact_view import ImpactView
from explorer.app.overlap_view import OverlapView
from explorer.app.scenario_panel import ScenarioPanel
from explorer.app.summary_bar import SummaryBar
from explorer.app.trial_picker import TrialPicker
from explorer.app.warm_up import warm_up_figures
from explorer.app.widgets import guarded

__all__ = ["POLICY_OPTIONS", "BaselineView", "CriteriaPanel", "CriterionRow", "DataPanel", "ExportPanel",
           "FunnelChart", "FunnelView", "ImpactView", "OverlapView", "RowLook", "ScenarioPanel", "SummaryBar", "TrialPicker",
           "absent_html", "data_report_html", "display_unit", "funnel_data", "guarded", "readable_text",
           "warm_up_figures"]
