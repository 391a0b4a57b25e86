"""NCT01142050's outcomes have a one-year time frame, so its last visit is week 52; Zang et al. 2022 report at
week 48, so the published comparison reads the week-48 visit, found by its day, not the last visit (issue 13)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explorer.cohort.synthetic import generate_outcomes
from explorer.outcomes.measures import outcome_measures, summarise_outcomes
from explorer.simulation.published import ZANG_2022_DAY, _visit_on_day
from explorer.trial import load_trial


@pytest.fixture(scope="module")
def trial():
    return load_trial("NCT01142050")


def test_the_last_visit_is_one_year_and_week_48_is_kept(trial):
    last = trial.visits[-1]
    assert (last.id, last.day) == ("w52", 364)
    assert all(o.time_frame == "one year" for o in trial.outcomes)
    assert _visit_on_day(trial, ZANG_2022_DAY) == "w48"


def test_the_published_comparison_needs_the_visit_it_reports():
    no_week_48 = SimpleNamespace(id="X", visits=[SimpleNamespace(id="baseline", day=0),
                                                  SimpleNamespace(id="w52", day=364)])
    with pytest.raises(LookupError, match="no visit on day 336"):
        _visit_on_day(no_week_48, ZANG_2022_DAY)


def test_every_outcome_is_reported_at_week_52(trial):
    cohort = generate_outcomes(40, "msc", visits_days=trial.visits, seed=2, arm="random", cgm_readings=0)
    results = outcome_measures(trial, cohort)
    table = summarise_outcomes(results)
    at_year = table[(table["visit"].astype(str) == "w52") & (table["statistic"] == "value")]
    for outcome in trial.outcomes:
        rows = at_year[at_year["outcome"].astype(str) == outcome.id]
        assert len(rows) and (rows["n"] > 0).any(), outcome.id
