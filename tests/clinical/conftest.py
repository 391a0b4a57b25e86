"""Fixtures of the clinical tests: random CGM traces with the irregularities real sensors have."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def random_cgm():
    """A function of a seed giving a shuffled CGM table (subject_id, visit, time, glucose)."""
    return random_readings


def random_readings(seed: int) -> pd.DataFrame:
    """Subjects on 5- or 15-minute sensors (a few with 1-s jitter), with gaps of 20 min to 5 h, missing
    glucose values, a subject with one reading and one whose step does not divide a day."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(12):
        step = 7.0 if s == 11 else float(rng.choice([5.0, 5.0, 15.0]))
        minutes = np.arange(0, rng.uniform(1, 4) * 1440, step) + rng.uniform(0, 1440)
        for _ in range(int(rng.integers(0, 4))):
            start, length = rng.uniform(0, minutes[-1]), rng.choice([20, 50, 200, 300])
            minutes = minutes[(minutes < start) | (minutes > start + length)]
        if s % 3 == 0:
            minutes = minutes + rng.choice([0, 1 / 60], len(minutes))
        glucose = np.round(140 + 70 * np.sin(minutes / rng.uniform(60, 250)) + rng.normal(0, 15, len(minutes)))
        glucose[rng.random(len(minutes)) < 0.03] = np.nan
        if s == 10:
            minutes, glucose = minutes[:1], np.array([120.0])
        frames.append(pd.DataFrame({"subject_id": f"S{s:02d}", "visit": np.where(minutes < 1440, "v1", "v2"),
                                    "time": pd.Timestamp("2024-03-01") + pd.to_timedelta(minutes, unit="min"),
                                    "glucose": np.clip(glucose, 40, 400)}))
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)
