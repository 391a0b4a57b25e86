"""The attrition funnel: an HTML bar chart with exact counts and the same numbers as a table."""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from explorer.app.state import ExplorerState
from explorer.app.tables import percent_text
from explorer.app.widgets import frame_rows, rows_table
from explorer.engine.privacy import NO_PROTECTION, Protection


def funnel_html(funnel: pd.DataFrame, protection: Protection = NO_PROTECTION, *,
                off: list[tuple[int, str, str]] = (), rows: list[tuple] | None = None) -> str:
    """The funnel as an HTML bar chart: one row per step, eligible (dark) and possibly eligible (light).

    `funnel` is the protected funnel (explorer.engine.stats.funnel after the scenario's protection); every
    number goes through `protection.text`, so a blanked cell reads "<k" and nothing else decides how a
    count is shown. `off` lists switched-off criteria as (position among the steps, id, label): they stay
    visible as greyed "off" rows, so the funnel explains itself. `rows`: the funnel's rows as
    widgets.frame_rows gives them, when the caller has them already.

    Drawn as HTML rather than a plotly figure so that an update is one small widget message that the
    browser paints at once (a new plotly figure per click costs 300-400 ms to serialise and render);
    the plotly version (explorer.plots.eligibility.funnel_figure) is what exports and notebooks use.
    """
    rows_in = frame_rows(funnel) if rows is None else rows
    start = rows_in[0].remaining
    start = 0.0 if pd.isna(start) else float(start)

    def count(value) -> str:
        return html.escape(protection.text(value))

    def width(value) -> float:
        return 0.0 if pd.isna(value) or not start else 100.0 * float(value) / start

    rows = []
    for r in rows_in:
        label = html.escape(("" if pd.isna(r.criterion) else f"{r.criterion} ") + str(r.label))
        eligible, possibly = width(r.eligible), width(r.possibly_eligible)
        share = "" if pd.isna(r.remaining) or not start else f" ({100 * float(r.remaining) / start:.1f}%)"
        if r.step == 0:
            excluded = ""
        elif not pd.isna(r.excluded) and float(r.excluded) == 0:
            excluded = "<span class='te-muted'>0</span>"
        else:
            excluded = f"<span class='te-muted'>&minus;{count(r.excluded)}</span>"
        rows.append(
            f"<div class='te-frow' data-criterion='{html.escape('' if pd.isna(r.criterion) else str(r.criterion))}'>"
            f"<div class='te-flabel' title='{label}'>{label}</div>"
            f"<div class='te-fcell'><div class='te-fbar'><span class='te-fel' style='width:{eligible:.2f}%'></span>"
            f"<span class='te-fpo' style='width:{possibly:.2f}%'></span></div>"
            f"<div class='te-ftext'><b>{count(r.remaining)}</b>{share} &middot; eligible {count(r.eligible)}"
            f" &middot; possibly {count(r.possibly_eligible)}</div></div>"
            f"<div class='te-fexcl'>{excluded}</div></div>")
    for position, criterion, text in sorted(off, key=lambda item: item[0], reverse=True):
        label = html.escape(f"{criterion} {text}")
        rows.insert(position + 1,
                    f"<div class='te-frow te-off' data-criterion='{html.escape(criterion)}'>"
                    f"<div class='te-flabel' title='{label}'>{label}</div>"
                    f"<div class='te-fcell'><div class='te-fbar'></div><div class='te-ftext'>off: not applied</div></div>"
                    f"<div class='te-fexcl'></div></div>")
    return (f"<div class='te-funnel' data-final-eligible='{count(rows_in[-1].eligible)}'>"
            f"<div class='te-flegend'><span class='te-fel te-key'></span> eligible "
            f"<span class='te-fpo te-key'></span> possibly eligible (unknown on a step so far) "
            f"<span class='te-muted'>&middot; right: excluded at the step</span></div>{''.join(rows)}</div>")


TABLE_COLUMNS = ["step", "criterion", "label", "remaining", "% of screened", "% of previous", "excluded here",
                 "eligible", "possibly eligible", "counting unknowns as"]


class FunnelView(w.VBox):
    """The attrition funnel as bars with exact counts, and the same numbers as a table."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self._bars = w.HTML()
        self._table = w.HTML()
        super().__init__([w.HTML("<b>Attrition funnel</b> <span class='te-muted'>subjects remaining after each "
                                 "enabled criterion, in order; lighter: status unknown (missing data)</span>"),
                          self._bars, self._table])

    def refresh(self) -> None:
        s = self._state
        if s.concealed:
            self.blank()
            return
        funnel = s.protected(s.funnel).copy(deep=False)
        funnel.attrs = {}  # pandas deep-copies attrs on every row and column access: 3/4 of a redraw (issue 17)
        shown = s.shown_count
        order = s.order  # computed once: each step's position counts the enabled criteria before it
        off = [(sum(1 for c in order[:order.index(cid)] if s.enabled(c)), cid, label) for cid, label in s.switched_off]
        records = frame_rows(funnel)
        self._bars.value = funnel_html(funnel, s.protection, off=off, rows=records)
        # the table's cells as tuples, straight to HTML: a DataFrame built per click only to be taken apart
        # again cost more than the rest of the redraw (issue 17)
        rows = [(r.step, "" if pd.isna(r.criterion) else r.criterion, r.label, shown(r.remaining),
                 percent_text(r.remaining_pct_start), percent_text(r.remaining_pct_previous),
                 "" if r.step == 0 else shown(r.excluded), shown(r.eligible), shown(r.possibly_eligible),
                 r.policy or "") for r in records]
        rows += [("off", cid, label, "", "", "", "", "", "", "switched off") for _, cid, label in off]
        self._table.value = rows_table(TABLE_COLUMNS, rows)
        self.shown_revision = s.revision

    def blank(self) -> None:
        self.shown_revision = None
        self._bars.value = "<p class='te-muted te-concealed'>computing protected counts&hellip;</p>"
        self._table.value = ""
