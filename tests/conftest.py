"""Fixtures for the unit tests. Notebooks under tests/ are never collected by nbval."""

import os

import matplotlib
import pytest

matplotlib.use("Agg")  # only this pytest process; nbval kernels keep the inline backend

collect_ignore_glob = ["*.ipynb"]


@pytest.fixture(autouse=True)
def private_mfteach_home(tmp_path_factory, monkeypatch):
    """No unit test writes to the real progress file (or to the one `make test` checks)."""
    monkeypatch.setenv("MFTEACH_HOME", str(tmp_path_factory.mktemp("mfteach-home")))


@pytest.fixture(scope="session")
def ml100k():
    """The real MovieLens 100K (needs MFTEACH_DATA or a cached copy)."""
    import mfteach as mt

    folder = os.environ.get("MFTEACH_DATA")
    if not folder or not os.path.isfile(os.path.join(folder, "ml-100k", "u.data")):
        pytest.fail("MovieLens 100K is not available: set MFTEACH_DATA to the folder holding ml-100k/")
    return mt.load_movielens("100k")


@pytest.fixture(scope="session")
def fatrec_lesson_model(ml100k):
    """Lessons 12-13's setup: the 650 x 50 slice of MovieLens 100K, ALS rank 4, lambda 1; 150
    iterations instead of the lesson's 780 (to tol=1e-12): the influences of user 325 agree to
    1e-3 by then. Returns (model, ratings, index of Terminator 2)."""
    import numpy as np

    import mfteach as mt

    ratings = ml100k.top(650, 50)
    model = mt.ALS(rank=4, reg=1.0, n_iters=150, seed=0).fit(ratings)
    t2 = int(np.flatnonzero(ratings.item_titles == "Terminator 2: Judgment Day (1991)")[0])
    return model, ratings, t2


@pytest.fixture
def exercise_state(tmp_path, monkeypatch):
    """Exercise progress (attempts, hints) in a temporary MFTEACH_HOME; fresh warn-once state.
    Returns that home folder."""
    from mfteach.exercises import records

    home = tmp_path / "mfteach-home"
    monkeypatch.setenv("MFTEACH_HOME", str(home))
    monkeypatch.setattr(records, "_SESSION_PROGRESS", {})
    monkeypatch.setattr(records, "_state", {"warned": False})
    return home


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A real IPython InteractiveShell with ``%load_ext mfteach`` done (for the %%check magic)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import mfteach

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(config=config)
    mfteach.load_ipython_extension(sh)
    try:
        yield sh
    finally:
        InteractiveShell.clear_instance()


@pytest.fixture
def extra_exercise(monkeypatch):
    """Register a throw-away exercise (removed again after the test)."""
    import mfteach.exercises as ex

    def add(exercise):
        monkeypatch.setitem(ex.EXERCISES, exercise.name, exercise)
        return exercise

    return add


@pytest.fixture
def line_of():
    """``line_of(fn, text)``: (line number, stripped source) of the line of ``fn`` holding ``text``."""
    import inspect

    def find(fn, text):
        lines, start = inspect.getsourcelines(fn)
        for offset, line in enumerate(lines):
            if text in line:
                return start + offset, line.strip()
        raise AssertionError(f"{text!r} not in {fn.__name__}")

    return find
