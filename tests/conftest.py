"""Fixtures and settings for every test; shared helper functions are in helpers.py."""

import os
from pathlib import Path

import pytest
from helpers import SHARED_DATA


def _data_directory(folder: str) -> Path:
    """The shared data directory if it holds ``folder``; the test is skipped, saying why, if not."""
    if not (SHARED_DATA / folder).is_dir():
        pytest.skip(f"real data sets not found: no {folder}/ under {SHARED_DATA} (set TORCHRBM_DATA)")
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    return _data_directory("mnist")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return _data_directory("binarized_mnist")


def pytest_configure(config):
    # scikit-learn's array-API estimator check runs only if SciPy is imported with this set
    os.environ.setdefault("SCIPY_ARRAY_API", "1")
