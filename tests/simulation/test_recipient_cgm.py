"""Simulated islet recipients' CGM, computed with explorer.clinical on their readings: brittle at baseline,
hypoglycaemia and variability falling with graft function, within the published ranges of CGM_RANGES."""

from __future__ import annotations

import pytest

from explorer.cohort.synthetic import GraftClass, IsletModel
from explorer.simulation.recipient_cgm import (
    BASELINE,
    CGM_RANGES,
    YEAR,
    cgm_comparison,
    medians,
    recipient_cgm,
)


@pytest.fixture(scope="module")
def metrics():
    return recipient_cgm(n=100, seed=3)


@pytest.fixture(scope="module")
def by_class(metrics):
    return medians(metrics, ["visit", "response_class"])


@pytest.mark.parametrize(("visit", "metric", "published"), CGM_RANGES,
                         ids=[f"{visit}-{metric}" for visit, metric, _ in CGM_RANGES])
def test_recipients_median_lies_in_the_published_range(metrics, visit, metric, published):
    value = float(medians(metrics).loc[visit, metric])
    assert published.holds(value), f"{visit} {metric}: {value:.2f} outside {published.text()} ({published.source})"


def test_the_comparison_table_has_a_row_per_range(metrics):
    table = cgm_comparison(metrics)
    assert len(table) == len(CGM_RANGES)
    assert table["within"].all()


@pytest.mark.parametrize("metric", ["tbr_70", "tbr_54", "lbgi", "hypo_70_per_week", "cgm_cv", "mage"])
def test_one_year_on_hypoglycaemia_and_variability_follow_graft_function(by_class, metric):
    """Full grafts least (Vantyghem et al., JCEM 2012; Brooks et al., Diabetes Care 2015: glucose control
    improves continuously with graft function). Partial and failing grafts are not ordered at one year: half
    the failing grafts have not failed yet (failure day 60-600)."""
    year = by_class.loc[YEAR, metric]
    assert year["full"] < min(year["partial"], year["failing"])


def test_a_full_graft_leaves_nearly_no_hypoglycaemia(by_class):
    """Off insulin: no CGM time below 3.0 mmol/L (Paty 2006); LBGI in Kovatchev's minimal band (<= 1.1)."""
    full = by_class.loc[(YEAR, "full")]
    assert full["tbr_54"] <= 0.2
    assert full["hypo_54_per_week"] < 1
    assert full["tbr_70"] <= 1.0
    assert full["lbgi"] <= 1.1


def test_a_failed_graft_brings_brittle_hypoglycaemia_back():
    """Igls: graft failure returns glycaemia to about baseline. Grafts that all fail in months 2-4 (the
    default failing class fails any time in months 2-20, so at one year half still work)."""
    failing = IsletModel(classes=(("failing", GraftClass(1.0, 0.45, 0.15, 0.30, 0.6, (60, 120))),))
    both = medians(recipient_cgm(n=40, seed=3, model=failing))
    assert both.loc[YEAR, "tbr_54"] >= 0.7 * both.loc[BASELINE, "tbr_54"]
    assert both.loc[YEAR, "lbgi"] >= 0.7 * both.loc[BASELINE, "lbgi"]
    assert both.loc[YEAR, "tbr_54"] >= 5


def test_most_recipients_with_a_full_graft_have_less_hypoglycaemia_than_before(metrics):
    full = metrics[metrics["response_class"] == "full"].pivot(index="subject_id", columns="visit", values="lbgi")
    # not all: Kovatchev's LBGI also counts readings at 80-110 mg/dL, where a full graft with a low mean sits
    assert (full[YEAR] < full[BASELINE]).mean() >= 0.8


def test_without_a_transplant_brittle_hypoglycaemia_continues():
    control = medians(recipient_cgm(n=40, seed=3, arm="control"))
    assert control.loc[YEAR, "tbr_54"] >= 5
    assert control.loc[YEAR, "lbgi"] >= 2.5
