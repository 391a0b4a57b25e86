"""Hypo- and hyperglycaemic episodes (2023 consensus) on hand-made 5-minute traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.clinical.cgm_episodes import glycaemic_episodes

START = pd.Timestamp("2024-03-01 00:00")


def trace(subject: str, *pieces: tuple[float, int]) -> pd.DataFrame:
    """Readings every 5 min from midnight: pieces of (glucose, number of readings)."""
    glucose = np.concatenate([np.full(n, value, dtype=float) for value, n in pieces])
    return pd.DataFrame({"subject_id": subject, "glucose": glucose,
                         "time": START + pd.to_timedelta(np.arange(len(glucose)) * 5, unit="min")})


def episodes(*pieces) -> pd.Series:
    return glycaemic_episodes(trace("A", *pieces)).iloc[0]


def test_fifteen_minutes_below_54_is_one_episode_of_both_levels():
    row = episodes((100, 6), (50, 3), (100, 6))
    assert row["hypo_54_episodes"] == 1 and row["hypo_70_episodes"] == 1 and row["hyper_250_episodes"] == 0


def test_ten_minutes_is_too_short():
    row = episodes((100, 6), (50, 2), (100, 6))
    assert row["hypo_54_episodes"] == 0 and row["hypo_70_episodes"] == 0


def test_level_1_only_between_54_and_70():
    row = episodes((100, 6), (60, 4), (100, 6))
    assert row["hypo_54_episodes"] == 0 and row["hypo_70_episodes"] == 1


def test_an_episode_ends_only_after_fifteen_minutes_back_in_range():
    # 10 minutes back above 54 does not end the first dip: one episode; 15 minutes does: two.
    assert episodes((100, 6), (50, 3), (100, 2), (50, 3), (100, 6))["hypo_54_episodes"] == 1
    assert episodes((100, 6), (50, 3), (100, 3), (50, 3), (100, 6))["hypo_54_episodes"] == 2


def test_hyperglycaemia_above_250():
    row = episodes((180, 6), (300, 3), (180, 3), (251, 4), (200, 6))
    assert row["hyper_250_episodes"] == 2
    assert episodes((180, 6), (250, 6))["hyper_250_episodes"] == 0  # 250 itself is not above 250


def test_rate_per_week_uses_the_known_time():
    row = episodes((100, 6), (50, 3), (100, 6), (50, 3), (100, 6))
    # 24 readings; the grid starts at 00:05, so 23 points x 5 min are known.
    weeks = 23 * 5 / (7 * 24 * 60)
    assert row["hypo_54_per_week"] == pytest.approx(2 / weeks)


def test_a_missing_stretch_splits_episodes():
    first = trace("A", (100, 6), (50, 4))
    second = trace("A", (50, 4), (100, 6)).assign(time=lambda f: f["time"] + pd.Timedelta(hours=3))
    row = glycaemic_episodes(pd.concat([first, second])).iloc[0]
    assert row["hypo_54_episodes"] == 2  # the gap of over 45 min is not bridged


def test_one_reading_gives_unknown_not_zero():
    row = glycaemic_episodes(trace("A", (50, 1))).iloc[0]
    assert np.isnan(row["hypo_54_episodes"]) and np.isnan(row["hypo_54_per_week"])


def test_per_subject_and_visit():
    cgm = pd.concat([trace("A", (100, 6), (50, 3), (100, 6)).assign(visit="baseline"),
                     trace("B", (100, 30)).assign(visit="baseline")])
    table = glycaemic_episodes(cgm, by=("subject_id", "visit"))
    assert table["hypo_54_episodes"].tolist() == [1, 0]
