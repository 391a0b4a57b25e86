"""The dashboard header says when a "x ULN" criterion is unknown for everyone because the data know no upper
limit of normal (issue 13): the state names the criterion and the labs, the header says how to fix it."""

from __future__ import annotations

from explorer.app import explore
from explorer.cohort.synthetic import generate_screening

ULNS = ["alt_uln", "ast_uln", "bilirubin_uln"]


def without(screening, columns):
    return type(screening)(**{**screening.__dict__, "features": screening.features.drop(columns=columns)})


def test_state_names_the_uln_criterion_the_data_cannot_decide():
    screening = generate_screening("t1d", 600, seed=2)
    ex = explore("NCT06196996", without(screening, ULNS))
    rows = ex.state.unknown_uln()
    assert [r["criterion"] for r in rows] == ["E4"]
    assert sorted(rows[0]["labs"]) == ["alt", "ast", "bilirubin"]
    assert rows[0]["unknown"] == rows[0]["subjects"] == 600  # no subject decidable once every ULN is gone


def test_one_missing_uln_is_named_alone_and_known_ulns_give_no_warning():
    screening = generate_screening("t1d", 600, seed=2)
    assert explore("NCT06196996", screening).state.unknown_uln() == []
    rows = explore("NCT06196996", without(screening, ["alt_uln"])).state.unknown_uln()
    assert [(r["criterion"], r["labs"]) for r in rows] == [("E4", ["alt"])]


def test_header_warns_and_says_how_to_fix_it():
    screening = generate_screening("t1d", 600, seed=2)
    ex = explore("NCT06196996", without(screening, ULNS))
    ex.summary.refresh()
    shown = ex.summary._uln.value
    assert "data-testid='uln-unknown'" in shown and "E4" in shown
    assert "ref_high" in shown and "alt, ast, bilirubin" in shown
    healthy = explore("NCT06196996", screening)
    healthy.summary.refresh()
    assert healthy.summary._uln.value == ""
