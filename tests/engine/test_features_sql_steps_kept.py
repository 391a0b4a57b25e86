"""The feature query keeps its steps as it builds them (features_sql.Step: name, SELECT, the steps it reads) and
renders its SQL from them: the same text, byte for byte, as main's (a500af2), which built CTE strings and then
parsed them back (`partition(" AS ")`) and counted a step's readers with a regex over the SQL."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from explorer.catalogue import default_catalogue
from explorer.cohort.synthetic.canonical_tables import generate_cohort
from explorer.engine.features_sql import VIEWS, DuckRunner, FeatureQuery, cohort_tables, plan_of
from explorer.engine.sql import DUCKDB, SPARK

# sha256 of the query text and its parameters, made with main's code (a500af2) by the same `_texts` below
MAIN = {
    "NCT06196996 duckdb default": "bc3a639b36a954f7469e513d157e7dd667d950c693d0c4237ce80a1e881e6caf",
    "NCT06196996 duckdb windows": "5e90222f5173f582f18a982f39a8c2ae0e4a8afa7c8139badec9539320031f53",
    "NCT06196996 duckdb range": "96d5b11fd06907ae4b522fc2852300b4eccaf4c48f13d489f1b429b5b978f51d",
    "NCT06196996 duckdb fixed": "435928cf4085a2d2b2493e977194ce141233746918c1aa9b353d4e9929cdbae0",
    "NCT06196996 spark default": "8f00c9909359e8d7e6b3e362d3808bc9c35eb66328ab197b43e52dd2890b73b3",
    "NCT06196996 spark windows": "77b10b6caa2db043ef13e622a186b984c103631e9308e8121f0c2370f92e96ca",
    "NCT06196996 spark range": "c6dab5c59ebbff03121315fbabbfc3c917c4cd71f7b26fae7282d20b704baf03",
    "NCT06196996 spark fixed": "07d9a13f823915cb31849fefb172e7aaf94ebc47e74e1d5b4ec3783842aa8b60",
    "NCT01142050 duckdb default": "6f13cabcacf7a51d639fc8d94f0a41db7fa978231530fc0c7a8f7120b868eab1",
    "NCT01142050 duckdb windows": "2dadfa4704ed8dfc6e10f91ad9a6df7547cf08607deb2b248e7797bd41464e64",
    "NCT01142050 duckdb range": "be13d4d91b40086e0cc88bf312adc5380277af98638e1eb46b25dfd4f50a97d4",
    "NCT01142050 duckdb fixed": "7a630ab3a7e488fc4508ae01a840aadbcb2f3b33b6a6a18811b970f35256edfa",
    "NCT01142050 spark default": "4d0365bb896be54e72933c873dbcef415e58f7cb410fc00141ad97ebd7426611",
    "NCT01142050 spark windows": "7bb8e7e9af09d70b05b74e805d8604d75af8267cc573aaf958d05edf3a92f84c",
    "NCT01142050 spark range": "6d53388879687873159c9bd91cd89a70b4b1b11d4221292ba513f2238294782d",
    "NCT01142050 spark fixed": "b74406759ce94f1bb4548c009afe2146226ac9aa70787416dccdf80b7f9a6208",
}
POPULATIONS = {"NCT06196996": "t1d", "NCT01142050": "t2d"}  # each bundled trial's synthetic population
VARIANTS = {"default": {}, "windows": {"lookback_days": {"hba1c": 90, "default": 180}, "cgm_days": 10},
            "range": {"subjects": ("T1D-0000010", "T1D-0000040")}, "fixed": {"subjects": (None, "T1D-0000030")}}


@pytest.fixture(scope="module", params=list(POPULATIONS))
def planned(request):
    catalogue = default_catalogue()
    tables = cohort_tables(generate_cohort(POPULATIONS[request.param], 60, seed=3), catalogue)
    run = DuckRunner()
    for name, table in tables.items():
        run.register(VIEWS[name], table)
    return request.param, plan_of(run, catalogue, set(tables), tables["subjects"].column_names), catalogue


def _query(plan, catalogue, dialect, variant: str) -> FeatureQuery:
    query = FeatureQuery(plan, catalogue, dialect, **VARIANTS[variant])
    if variant == "fixed":  # a range derived again with the cohort's flags (derive_ranges)
        query.sql()
        query = FeatureQuery(plan, catalogue, dialect, **VARIANTS[variant],
                             fixed_flags={name: 1 for name in query.flag_columns})
    return query


@pytest.mark.parametrize("dialect", [DUCKDB, SPARK], ids=lambda d: d.name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_rendered_query_is_byte_identical_to_mains(planned, dialect, variant):
    trial_id, plan, catalogue = planned
    sql, params = _query(plan, catalogue, dialect, variant).sql()
    text = sql + "\n" + json.dumps({k: repr(v) for k, v in sorted(params.items())})
    assert hashlib.sha256(text.encode()).hexdigest() == MAIN[f"{trial_id} {dialect.name} {variant}"]


def _regex_readers(query: FeatureQuery) -> dict[str, int]:
    """main's count of a step's readers, by a regex over the SQL text: kept here only as an oracle."""
    steps = query.steps()
    bodies = [step.body for step in steps] + [query.select]
    return {step.name: sum(len(re.findall(rf"\b(?:FROM|JOIN)\s+{re.escape(step.name)}\b", body))
                           for body in bodies[i + 1:]) for i, step in enumerate(steps)}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_kept_readers_are_what_the_sql_reads(planned, variant):
    _, plan, catalogue = planned
    query = _query(plan, catalogue, DUCKDB, variant)
    query.sql()
    assert query.readers() == _regex_readers(query)
    # the steps DuckDB computes once are the flags layers' inputs, each read twice (none with the flags fixed)
    materialized = {step.name for step in query.steps() if step.materialized}
    assert bool(materialized) == (variant != "fixed")
    assert all(query.readers()[name] == 2 for name in materialized)
