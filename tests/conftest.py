"""Shared test fixtures: where the real public material lives, and skipping cleanly without it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from project_paths import FIXTURES, ROOT, SHARED  # noqa: F401 (ROOT kept for tests that import it)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real public datasets); tests using it skip where it is absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not beside this checkout; the fixture-based tests cover this behaviour")
    return path


@pytest.fixture(scope="session")
def shared_seeds() -> Path:
    path = SHARED / "seeds"
    if not path.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def spark():
    """The one Spark session of the test run (starting one costs seconds; every Spark test shares it)."""
    pytest.importorskip("pyspark", reason="PySpark is not installed (make setup installs it)")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark (make test installs openjdk-17-jre-headless)")
    from explorer.engine.spark import spark_session
    session = spark_session("local[2]", shuffle_partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
