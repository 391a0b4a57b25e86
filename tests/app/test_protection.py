"""Small-cell protection as a property: for random scenarios and k, no count in (0, k) appears anywhere
the dashboard shows or exports it (header, funnel bars and table, impact, overlap, baseline, CSVs,
the CONSORT diagram and the figures)."""

from __future__ import annotations

import contextlib
import html
import io
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.app.dashboard import Dashboard
from explorer.app.funnel_view import STEP_FIELDS
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.errors import ExplorerError
from explorer.plots.eligibility import consort_figure, funnel_figure, overlap_figure

N = 1500
BASE = Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", N, 3))
CRITERIA = [f"I{i}" for i in range(1, 7)] + [f"E{i}" for i in range(1, 15)]


@pytest.fixture(scope="module")
def dashboard():
    return Dashboard(ExplorerState(BASE))


def _cells(table_html: str) -> pd.DataFrame:
    """Our html_table back into text cells (header row -> columns)."""
    head = re.findall(r"<th>(.*?)</th>", table_html)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table_html)[1:]]
    return pd.DataFrame([r for r in rows if len(r) == len(head)], columns=head)


def _numbers(texts) -> list[int]:
    out = []
    for text in texts:
        text = html.unescape(str(text)).replace("\u2212", "-")
        for match in re.finditer(r"(?<![<\w.])(\d[\d,]*)(?![\w.%])", text):
            out.append(int(match.group(1).replace(",", "")))
    return out


def shown_counts(d: Dashboard) -> list[int]:
    """Every subject count the page and its exports show, as integers ("<k" is not a number)."""
    s = d.state
    for view in (d.summary, d.funnel, d.impact, d.overlap, d.baseline):
        view.refresh()
    found = _numbers(re.findall(r"<b>([^<]*)</b>", d.summary._counts.value))
    # the funnel's bars and table: the page draws both from the texts the kernel sends (FunnelChart.steps)
    fields = {name: i for i, name in enumerate(STEP_FIELDS)}
    for step in filter(None, d.funnel.chart.steps):
        found += _numbers(step[fields[name]] for name in ("remaining", "excluded", "eligible", "possibly"))
    impact_table = _cells(d.impact._table.value)
    for col in ("failing", "unknown", "excluded alone", "eligible if removed", "eligible if unknowns pass"):
        found += _numbers(impact_table[col])
    found += _numbers(_cells(d.overlap._table.value)["subjects"])
    for name in ("funnel", "impact", "overlap"):
        frame = pd.read_csv(io.StringIO(s.export_table_csv(name)))
        for col in frame.attrs.get("counts", []) or [c for c in ("remaining", "excluded", "eligible",
                                                                  "possibly_eligible", "failing", "unknown",
                                                                  "excluded_alone", "count") if c in frame]:
            found += [int(v) for v in frame[col].dropna()]
    protected = s.protected(s.funnel)
    k = s.scenario.min_cell
    consort = consort_figure(protected, trial_id=s.trial.id, min_cell=k)
    found += _numbers(re.findall(r"n = ([^<]*)", " ".join(a.text for a in consort.layout.annotations)))
    for fig in (funnel_figure(protected, min_cell=k), overlap_figure(s.protected(s.overlap), min_cell=k)):
        for trace in fig.data:
            found += _numbers(t for t in (trace.text or ()) if t is not None)
    with contextlib.suppress(ExplorerError):  # refused when too few: the list's length would be a small count
        found.append(len(pd.read_csv(io.StringIO(s.export_eligible_ids_csv()))))
    return found


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(off=st.sets(st.sampled_from(CRITERIA), max_size=8), k=st.integers(2, 25),
       method=st.sampled_from(["suppress", "round"]), hba1c=st.sampled_from([6.5, 7.5, 9.0, 11.0]))
def test_no_small_count_is_shown_or_exported(dashboard, off, k, method, hba1c):
    s = dashboard.state
    assert s.restore(Scenario(trial=BASE.trial, data=BASE.data, disabled=tuple(sorted(off)),
                              settings=(("I2", "hba1c_min", hba1c),), min_cell=k, cell_method=method))
    assert s.error == ""
    counts = shown_counts(dashboard)
    assert counts, "the page shows counts"
    assert [c for c in counts if 0 < c < k] == []


def test_eligible_ids_are_not_exported_when_too_few():
    s = ExplorerState(Scenario(trial=BASE.trial, data=BASE.data, min_cell=11, cell_method="suppress"))
    eligible = s.counts["eligible"]
    assert 0 < eligible < 11  # this seed's islet-eligible pool: a small count (its size follows the synthetic model)
    with pytest.raises(ExplorerError, match="fewer than 11"):
        s.export_eligible_ids_csv()
    s.set_min_cell(0)
    assert len(pd.read_csv(io.StringIO(s.export_eligible_ids_csv()))) == eligible
