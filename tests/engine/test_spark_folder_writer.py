"""A local Spark session writes the screening folder of canonical tables itself (explorer.engine.folder_writer),
range by range, the features never passing through the Python driver: the folder equals the one DuckDB writes,
and a large canonical folder opened with --engine spark is evaluated from it with the memory engine's funnel."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_json import funnel_json

from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort
from explorer.engine.canonical_sql import canonical_screening_folder
from explorer.engine.features_sql import SparkRunner
from explorer.engine.layout import MANIFEST, ordered_reasons, read_screening
from explorer.errors import DataError


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark_folder") / "canonical"
    write_cohort(generate_cohort("t1d", 240, seed=13, cgm_readings=3), folder, format="parquet")
    return folder


@pytest.fixture(scope="module")
def duck_folder(canonical, tmp_path_factory):
    return canonical_screening_folder(canonical, tmp_path_factory.mktemp("duck") / "screening", range_subjects=70)[0]


def by_subject(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_index().sort_index(axis=1)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return sorted(zip(*(frame[c].astype(str) for c in columns), strict=True))


def test_spark_writes_the_folder_duckdb_writes_without_the_features_passing_through_python(
        spark, canonical, duck_folder, tmp_path, monkeypatch):
    def through_python(*args, **kwargs):
        raise AssertionError("a range's features came back to the Python driver")

    monkeypatch.setattr(SparkRunner, "features", through_python)
    folder, report = canonical_screening_folder(canonical, tmp_path / "spark", range_subjects=70, engine="spark",
                                                spark=spark)
    assert report.kind == "canonical" and not (folder / ".feature_ranges").exists()
    duck, written = read_screening(duck_folder), read_screening(folder)
    assert len(written.features) == 240 and written.features.index.is_unique
    # the derivation's own check: the sums of CGM readings may differ in the last bits between engines
    pd.testing.assert_frame_equal(by_subject(written.features), by_subject(duck.features), check_exact=False,
                                  rtol=1e-12)
    assert rows(ordered_reasons(written.missing_reasons), ["subject_id", "variable", "reason"]) == \
        rows(ordered_reasons(duck.missing_reasons), ["subject_id", "variable", "reason"])
    assert len(written.events) > 0 and rows(written.events, list(duck.events.columns)) == \
        rows(duck.events, list(duck.events.columns))
    for name in ("event_lookback", "event_counts"):
        got, expected = getattr(written, name), getattr(duck, name)
        assert (got is None) == (expected is None)
        if expected is not None:
            pd.testing.assert_frame_equal(by_subject(got), by_subject(expected))
    assert written.censored is not None and len(written.censored) > 0  # C-peptide below the assay's limit
    assert rows(written.censored, ["subject_id", "variable", "low", "high"]) == \
        rows(duck.censored, ["subject_id", "variable", "low", "high"])
    manifests = [json.loads((f / MANIFEST).read_text()) for f in (folder, duck_folder)]
    assert manifests[0]["subjects"] == manifests[1]["subjects"] == 240
    assert set(manifests[0]["files"]) == set(manifests[1]["files"])


def test_a_large_canonical_folder_with_engine_spark_is_written_by_spark_and_counts_as_memory(
        spark, canonical, capsys, monkeypatch):
    """Above sources.FOLDER_ABOVE subjects a local Spark session derives into a temporary screening folder (it
    derived in memory, the driver peaking at 7.2 GB for 10^6 subjects); the funnel equals the memory engine's."""
    import explorer.sources as sources
    from explorer.engine import omop_sql
    from explorer.engine.features_sql import SparkRunner

    expected = funnel_json(capsys, canonical, "memory")
    written, original = [], omop_sql.write_screening_folder

    def recorded(run, tables, names, out, **options):
        written.append((out, type(run)))
        return original(run, tables, names, out, **{**options, "range_subjects": 100})

    monkeypatch.setattr(sources, "FOLDER_ABOVE", 2)
    monkeypatch.setattr(omop_sql, "write_screening_folder", recorded)
    assert funnel_json(capsys, canonical, "spark") == expected
    assert [kind for _, kind in written] == [SparkRunner] and (written[0][0] / "features.parquet").is_file()


def test_a_session_that_is_not_local_does_not_write_a_folder(canonical, tmp_path, monkeypatch):
    import explorer.sources as sources
    from explorer.sources import DataSource, open_source

    with pytest.raises(DataError, match="local Spark session"):
        canonical_screening_folder(canonical, tmp_path / "out", engine="spark", spark=object())
    # a cluster's session derives in memory instead, as before (the folder would be on its executors' disks)
    derived = []
    monkeypatch.setattr(sources, "FOLDER_ABOVE", 2)
    monkeypatch.setattr("explorer.engine.spark.is_local", lambda session: False)
    monkeypatch.setattr("explorer.engine.canonical_sql.canonical_screening_sql",
                        lambda path, **options: derived.append(path) or (None, None))
    opened = open_source(DataSource(kind="path", path=str(canonical), engine="spark"), read_folder=False,
                         engine="spark", spark=object())
    assert derived == [canonical] and opened.screening is None


def shapes(fixtures_dir, root):
    """Folders whose tables differ in kind: subjects alone, and the hand-made fixture (CSV, text cells) without
    events."""
    import shutil

    fixture = fixtures_dir / "cohort" / "canonical"
    alone = root / "subjects_only"
    alone.mkdir()
    shutil.copy(fixture / "subjects.csv", alone / "subjects.csv")
    no_events = root / "no_events"
    shutil.copytree(fixture, no_events)
    for path in no_events.glob("events.*"):
        path.unlink()
    return {"subjects only": alone, "no events": no_events}


def test_spark_writes_the_same_folder_whatever_tables_there_are(spark, fixtures_dir, tmp_path):
    """A table the folder lacks gives columns Spark may type as NULL (void), which it cannot write as Parquet;
    every shape writes and equals DuckDB's folder."""
    for name, source in shapes(fixtures_dir, tmp_path).items():
        duck = read_screening(canonical_screening_folder(source, tmp_path / name / "duck")[0])
        written = read_screening(canonical_screening_folder(source, tmp_path / name / "spark", engine="spark",
                                                            spark=spark)[0])
        pd.testing.assert_frame_equal(by_subject(written.features), by_subject(duck.features), check_exact=False,
                                      rtol=1e-12, obj=name)
        assert rows(ordered_reasons(written.missing_reasons), ["subject_id", "variable", "reason"]) == \
            rows(ordered_reasons(duck.missing_reasons), ["subject_id", "variable", "reason"]), name
        assert rows(written.events, ["subject_id", "event"]) == rows(duck.events, ["subject_id", "event"]), name
