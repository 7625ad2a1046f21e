"""Fixtures for the unit tests. Notebooks under tests/ are never collected by nbval."""

import os

import matplotlib
import pytest

matplotlib.use("Agg")  # only this pytest process; nbval kernels keep the inline backend

collect_ignore_glob = ["*.ipynb"]


@pytest.fixture(scope="session")
def ml100k():
    """The real MovieLens 100K (needs MFTEACH_DATA or a cached copy)."""
    import mfteach as mt

    folder = os.environ.get("MFTEACH_DATA")
    if not folder or not os.path.isfile(os.path.join(folder, "ml-100k", "u.data")):
        pytest.fail("MovieLens 100K is not available: set MFTEACH_DATA to the folder holding ml-100k/")
    return mt.load_movielens("100k")
