"""The small widget helpers: frame_rows gives what itertuples gives; html_table's cells; guarded callbacks."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from explorer.app.widgets import frame_rows, guarded, html_table, rows_table
from explorer.engine.idle import IDLE, QUIET_S


def _mixed() -> pd.DataFrame:
    return pd.DataFrame({
        "step": [0, 1, 2], "criterion": pd.array([None, "I1", "E2"], dtype="str"), "share": [100.0, np.nan, 2.5],
        "n": pd.array([5, None, 1234], dtype="Int64"), "flag": [True, False, True],
        "group": pd.Categorical(["a", "b", "a"]), "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
        "not an identifier": ["x", "y", "z"], "step ": [1.0, 2.0, 3.0]})


def test_frame_rows_are_the_rows_itertuples_gives():
    frame = _mixed()
    expected = list(frame.itertuples(index=False))
    got = frame_rows(frame)
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        assert row._fields == want._fields
        for value, other in zip(row, want, strict=True):
            # the same value (a nullable integer comes as a Python int here, as numpy's there: same cell)
            assert (pd.isna(value) and pd.isna(other)) if pd.isna(other) else value == other
            assert isinstance(value, (bool, str, float, pd.Timestamp)) == isinstance(other, (bool, str, float, pd.Timestamp))


def test_html_table_formats_each_kind_of_cell():
    table = html_table(_mixed())
    assert "<td>1,234</td>" in table and "<td>yes</td>" in table and "<td>2.5</td>" in table
    assert table.count("<td>&ndash;</td>") == 4  # the unknown criterion, share, n and date
    assert rows_table(["a"], [("<b>",)]) == ("<table class='te-table'><thead><tr><th>a</th></tr></thead>"
                                            "<tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>")


def test_html_table_says_how_many_rows_it_left_out():
    table = html_table(pd.DataFrame({"x": range(5)}), max_rows=2)
    assert table.count("<tr>") == 3 and "3 more rows not shown" in table


def test_a_view_callback_is_foreground_work_the_kernels_background_jobs_wait_for():
    class State:
        error = ""

    seen = []
    guarded(State(), lambda: seen.append(IDLE.idle()))
    assert seen == [False]  # while it runs
    assert not IDLE.idle()  # and for the quiet time after it
    time.sleep(QUIET_S + 0.05)
    assert IDLE.idle()
    state = State()
    guarded(state, lambda: 1 / 0)  # a bug still becomes the state's error, and the foreground ends
    assert "ZeroDivisionError" in state.error and not IDLE._foreground
