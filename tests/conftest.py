"""Shared test fixtures: where the real public material lives, and skipping cleanly without it."""

from __future__ import annotations

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
