"""The attrition funnel: bars with exact counts, and the same numbers as a table, drawn in the page from the
counts the kernel sends (FunnelChart)."""

from __future__ import annotations

import anywidget
import ipywidgets as w
import pandas as pd
import traitlets

from explorer.app.state import ExplorerState
from explorer.app.widgets import frame_rows
from explorer.engine.privacy import NO_PROTECTION, Protection

TABLE_COLUMNS = ["step", "criterion", "label", "remaining", "% of screened", "% of previous", "excluded here",
                 "eligible", "possibly eligible", "counting unknowns as"]
# the fields of one step as FunnelChart.steps sends them (the page's script reads them by these positions)
STEP_FIELDS = ("step", "remaining", "pct_start", "pct_previous", "excluded", "eligible", "possibly", "policy",
               "eligible_width", "possibly_width")
DASH = "\u2013"


def _percent(value) -> str:
    return DASH if pd.isna(value) else f"{value:.1f}%"


def funnel_data(funnel: pd.DataFrame, protection: Protection = NO_PROTECTION, *,
                off: list[tuple[int, str, str]] = ()) -> tuple[list, list]:
    """What the page needs to draw the funnel: `labels`, one [criterion id, label] per row in the order shown
    (the screened row first, id ""), and `steps`, each row's numbers as text and its bars' widths in % of the
    screened (STEP_FIELDS), or None for a switched-off criterion, which stays in the funnel greyed as "off".

    `funnel` is the protected funnel (explorer.engine.stats.funnel after the scenario's protection); every
    count goes through `protection.text`, so a blanked cell reads "<k" and nothing else decides how a count is
    shown; the bars' widths come from the same protected counts. `off` lists switched-off criteria as (position
    among the enabled steps, id, label).

    Labels and numbers are apart because a click changes only numbers: ipywidgets sends a trait only when
    its value changed, so a toggle sends the counts (about 1.6 kB at 20 criteria) and not the labels. The
    widths have one decimal: a tenth of a percent is under a pixel of the bar.
    """
    rows_in = frame_rows(funnel)  # all columns: selecting the ten used first costs more than converting all
    start = rows_in[0].remaining
    start = 0.0 if pd.isna(start) else float(start)

    def count(value) -> str:
        return protection.text(value)

    def width(value) -> float:
        return 0.0 if pd.isna(value) or not start else round(100.0 * float(value) / start, 1)

    labels: list[list[str]] = []
    steps: list[list | None] = []
    for r in rows_in:
        labels.append(["" if pd.isna(r.criterion) else str(r.criterion), str(r.label)])
        steps.append([int(r.step), count(r.remaining), _percent(r.remaining_pct_start),
                      _percent(r.remaining_pct_previous), "" if r.step == 0 else count(r.excluded),
                      count(r.eligible), count(r.possibly_eligible), r.policy if isinstance(r.policy, str) else DASH,
                      width(r.eligible), width(r.possibly_eligible)])
    # in funnel order: two switched-off criteria side by side keep theirs (inserting from the end reversed them)
    for inserted, (position, criterion, text) in enumerate(sorted(off, key=lambda item: item[0])):
        labels.insert(position + 1 + inserted, [criterion, text])
        steps.insert(position + 1 + inserted, None)
    return labels, steps


class FunnelChart(anywidget.AnyWidget):
    """The funnel drawn by the page from `labels` and `steps` (funnel_data), or `message` in its place.

    Before, the kernel sent the bars (9.7 kB of HTML) and the table (3.7 kB) whole on every click; now a click
    sends the changed counts, and the page updates the rows it has in place. The table under the bars is laid
    out only while it is open (a <details>), from the same numbers: opening it sends nothing. Every text is put in
    with textContent, never as HTML: labels come from trial files. The bars' classes are the page's STYLE.
    """

    _esm = """
    const F = {step: 0, remaining: 1, pctStart: 2, pctPrevious: 3, excluded: 4, eligible: 5, possibly: 6,
               policy: 7, eligibleWidth: 8, possiblyWidth: 9};
    const COLUMNS = %COLUMNS%;
    function node(tag, cls, text) {
      const e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined) e.textContent = text;
      return e;
    }
    function render({ model, el }) {
      const note = node("p", "te-muted");
      const funnel = node("div", "te-funnel");
      const legend = node("div", "te-flegend");
      legend.append(node("span", "te-fel te-key"), " eligible ", node("span", "te-fpo te-key"),
                    " possibly eligible (unknown on a step so far) ",
                    node("span", "te-muted", "\\u00b7 right: excluded at the step"));
      const list = node("div");
      funnel.append(legend, list);
      const details = node("details", "te-ftable");
      details.append(node("summary", "te-muted", "The same numbers as a table"));
      const tableBox = node("div");
      details.append(tableBox);
      el.append(note, funnel, details);
      let rows = [];
      const build = () => {
        rows = model.get("labels").map(([criterion, label]) => {
          const row = node("div", "te-frow");
          row.dataset.criterion = criterion;
          const name = criterion ? criterion + " " + label : label;
          const title = node("div", "te-flabel", name);
          title.title = name;
          const cell = node("div", "te-fcell"), bar = node("div", "te-fbar");
          const eligible = node("span", "te-fel"), possibly = node("span", "te-fpo");
          bar.append(eligible, possibly);
          const text = node("div", "te-ftext"), excluded = node("div", "te-fexcl");
          cell.append(bar, text);
          row.append(title, cell, excluded);
          return {row, bar, eligible, possibly, text, excluded, criterion, label};
        });
        list.replaceChildren(...rows.map((r) => r.row));
      };
      const table = () => {
        const t = node("table", "te-table");
        t.dataset.testid = "funnel-table";
        const head = node("tr");
        COLUMNS.forEach((c) => head.append(node("th", null, c)));
        const body = node("tbody");
        model.get("steps").forEach((s, i) => {
          const r = rows[i];
          if (!r) return;
          const cells = s === null ? ["off", r.criterion, r.label, "", "", "", "", "", "", "switched off"]
            : [s[F.step].toLocaleString("en-US"), r.criterion || "\\u2013", r.label, s[F.remaining], s[F.pctStart],
               s[F.pctPrevious], s[F.excluded], s[F.eligible], s[F.possibly], s[F.policy]];
          const tr = node("tr");
          cells.forEach((c) => tr.append(node("td", null, c)));
          body.append(tr);
        });
        const thead = node("thead");
        thead.append(head);
        t.append(thead, body);
        tableBox.replaceChildren(t);
      };
      const fill = () => {
        const message = model.get("message"), steps = model.get("steps");
        note.textContent = message;
        note.hidden = !message;
        note.classList.toggle("te-concealed", !!message);  // what the page's tests wait to be gone
        funnel.hidden = details.hidden = !!message;
        let last = null;
        steps.forEach((s, i) => {
          const r = rows[i];
          if (!r) return;
          if (s !== null) last = s;
          // only the steps whose numbers changed touch the page (a late criterion's toggle: its few last steps)
          const key = JSON.stringify(s);
          if (r.shown === key) return;
          r.shown = key;
          const off = s === null;
          r.row.classList.toggle("te-off", off);
          r.bar.replaceChildren(...(off ? [] : [r.eligible, r.possibly]));
          if (off) {
            r.text.textContent = "off: not applied";
            r.excluded.replaceChildren();
            return;
          }
          r.eligible.style.width = s[F.eligibleWidth] + "%";
          r.possibly.style.width = s[F.possiblyWidth] + "%";
          r.text.replaceChildren(node("b", null, s[F.remaining]), (s[F.pctStart].endsWith("%") ? " (" + s[F.pctStart] + ")" : "")
            + " \\u00b7 eligible " + s[F.eligible] + " \\u00b7 possibly " + s[F.possibly]);
          const excluded = s[F.step] === 0 ? [] : s[F.excluded] === "0" ? [node("span", "te-muted", "0")]
            : [node("span", "te-muted", "\\u2212" + s[F.excluded])];
          r.excluded.replaceChildren(...excluded);
        });
        if (last) funnel.dataset.finalEligible = last[F.eligible];
        else delete funnel.dataset.finalEligible;
        if (details.open) table();
      };
      details.addEventListener("toggle", () => { if (details.open) table(); else tableBox.replaceChildren(); });
      build();
      fill();
      model.on("change:labels", () => { build(); fill(); });
      model.on("change:steps", fill);
      model.on("change:message", fill);
      // the first frame with the funnel laid out: the kernel then sends what it held back for the first render
      // (Dashboard's criteria_after_render); after about 5 s of frames without a layout (a hidden output), anyway
      let frames = 0;
      const painted = () => {
        if ((el.isConnected && el.getClientRects().length > 0) || ++frames > 300) model.send({ event: "painted" });
        else requestAnimationFrame(painted);
      };
      requestAnimationFrame(painted);
    }
    export default { render };
    """.replace("%COLUMNS%", str(TABLE_COLUMNS).replace("'", '"'))
    labels = traitlets.List().tag(sync=True)
    steps = traitlets.List().tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def on_painted(self, callback) -> None:
        """Call `callback()` when a page has laid out this chart (its view's first frame; a message, no state)."""
        self.on_msg(lambda _, content, buffers: callback() if content.get("event") == "painted" else None)


class FunnelView(w.VBox):
    """The attrition funnel as bars with exact counts, and the same numbers as a table (FunnelChart)."""

    def __init__(self, state: ExplorerState):
        self._state = state
        self.chart = FunnelChart()
        self.shown_revision: int | None = None
        super().__init__([w.HTML("<b>Attrition funnel</b> <span class='te-muted'>subjects remaining after each "
                                 "enabled criterion, in order; lighter: status unknown (missing data)</span>"),
                          self.chart])

    @property
    def drawn(self) -> bool:
        """True when the chart shows counts (not a message in their place)."""
        return bool(self.chart.steps) and not self.chart.message

    def refresh(self) -> None:
        s = self._state
        if s.concealed:
            self.blank()
            return
        funnel = s.protected(s.funnel).copy(deep=False)
        funnel.attrs = {}  # pandas deep-copies attrs on every row and column access: 3/4 of a redraw (issue 17)
        order = s.order  # computed once: each step's position counts the enabled criteria before it
        off = [(sum(1 for c in order[:order.index(cid)] if s.enabled(c)), cid, label) for cid, label in s.switched_off]
        labels, steps = funnel_data(funnel, s.protection, off=off)
        with self.chart.hold_sync():  # what changed goes in one message
            self.chart.labels = labels
            self.chart.steps = steps
            self.chart.message = ""
        self.shown_revision = s.revision

    def blank(self) -> None:
        self.shown_revision = None
        with self.chart.hold_sync():  # no count of the previous scenario stays in the page, even hidden
            self.chart.labels, self.chart.steps = [], []
            self.chart.message = "computing protected counts\u2026"
