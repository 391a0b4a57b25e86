"""The Spark feature query's CTEs read more than once are computed once (features_sql.SparkRunner.features).

Spark inlines a CTE wherever it is read, so the flags layers (each reads the layer below twice) doubled the whole
query below them per layer: 185 s for 2*10^4 subjects (benchmarks/results/spark_canonical_profile.md)."""

from __future__ import annotations

from explorer.catalogue import default_catalogue
from explorer.cohort.synthetic.canonical_tables import generate_cohort
from explorer.engine.features_sql import VIEWS, DuckRunner, FeatureQuery, _with, cohort_tables, plan_of
from explorer.engine.sql import SPARK


def _query(dialect=SPARK) -> FeatureQuery:
    catalogue = default_catalogue()
    tables = cohort_tables(generate_cohort("t1d", 40, seed=3), catalogue)
    run = DuckRunner()
    for name, table in tables.items():
        run.register(VIEWS[name], table)
    plan = plan_of(run, catalogue, set(tables), tables["subjects"].column_names)
    query = FeatureQuery(plan, catalogue, dialect)
    query.sql()
    return query


def test_the_steps_rebuild_the_statement():
    query = _query()
    steps = query.steps()
    assert steps[0].name == "s_base"
    rebuilt = f"WITH {_with({step.name: step.body for step in steps})} {query.select}"
    assert rebuilt == f"WITH {', '.join(query.ctes)} {query.select}"


def test_the_flags_layers_and_the_shared_row_steps_are_read_twice():
    """What Spark would otherwise compute twice (and the layers below them again for each)."""
    query = _query()
    twice = [name for name, n in query.readers().items() if n > 1]
    # the layer under each flags aggregate, and the measurement and CGM rows read by two steps each
    assert {"m_flag", "m_seen", "c_rows"} <= set(twice)
    assert sum(name.startswith("s") for name in twice) >= 1
    flags = [step for step in query.steps() if len(set(step.reads)) < len(step.reads)]
    assert flags and all(step.reads[0] in twice for step in flags)  # a flags layer: its aggregate and its join


def test_spark_computes_each_shared_step_once_and_drops_its_views(spark):
    from explorer.engine.features_sql import SparkRunner

    catalogue = default_catalogue()
    tables = cohort_tables(generate_cohort("t1d", 40, seed=3), catalogue)
    run = SparkRunner(spark)
    for name, table in tables.items():
        run.register(VIEWS[name], table)
    try:
        plan = plan_of(run, catalogue, set(tables), tables["subjects"].column_names)
        query = FeatureQuery(plan, catalogue, SPARK)
        sql, params = query.sql()
        before = {t.name for t in spark.catalog.listTables()}
        staged = run.features(query, sql, params)
        assert {t.name for t in spark.catalog.listTables()} == before  # its checkpointed views are dropped
        inlined = run.arrow(sql, params)  # the statement as one SELECT: the same rows
        key = staged.column_names.index("__row")
        assert staged.column_names == inlined.column_names
        assert staged.sort_by(staged.column_names[key]).equals(inlined.sort_by(inlined.column_names[key]))
    finally:
        run.close()
