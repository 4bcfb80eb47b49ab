"""Fixtures for the tests that train on the public data."""

from pathlib import Path

import pytest

from training import data


@pytest.fixture(scope="session")
def root() -> Path:
    """Return the public data directory, or skip the test when it is not there."""
    try:
        return data.data_dir()
    except data.DataError as error:
        pytest.skip(f"public data not available: {error}")
