"""compute_cgm_metrics groups and interpolates the readings once for all three metric functions: its table
equals the three functions run on their own and merged (exactly), on random traces with gaps and missing
readings, per subject and per subject and visit."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.clinical.cgm import cgm_metrics
from explorer.clinical.cgm_episodes import glycaemic_episodes
from explorer.clinical.cgm_table import compute_cgm_metrics, metric_names
from explorer.clinical.glycaemic_variability import variability_metrics


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("by", [["subject_id"], ["subject_id", "visit"]])
@pytest.mark.parametrize("period_days", [None, 14])
def test_one_grouping_gives_the_tables_of_the_three_functions(random_cgm, seed, by, period_days):
    cgm = random_cgm(seed)
    together = compute_cgm_metrics(cgm, by=by, period_days=period_days)
    apart = (cgm_metrics(cgm, by=by, period_days=period_days)
             .merge(variability_metrics(cgm, by=by), on=by, how="outer")
             .merge(glycaemic_episodes(cgm, by=by), on=by, how="outer"))[[*by, *metric_names()]]
    pd.testing.assert_frame_equal(together, apart, check_exact=True)
    assert together["mage"].notna().sum() >= 6 and together["hypo_70_episodes"].gt(0).any()
