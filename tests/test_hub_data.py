"""A JupyterHub's shared MovieLens folder: loading from a read-only data home writes nothing."""

import os
import shutil
import stat

import pytest

import mfteach as mt


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_loading_from_a_read_only_shared_folder_writes_nothing(tmp_path, monkeypatch):
    source = os.environ.get("MFTEACH_DATA")
    if not source or not os.path.isfile(os.path.join(source, "ml-100k", "u.data")):
        pytest.fail("MovieLens 100K is not available: set MFTEACH_DATA to the folder holding ml-100k/")
    shared = tmp_path / "srv-mfteach-data"
    shutil.copytree(os.path.join(source, "ml-100k"), shared / "ml-100k")
    for path in [shared, *shared.rglob("*")]:
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
                                                                 if path.is_dir() else 0))
    before = _snapshot(shared)
    monkeypatch.setenv("MFTEACH_DATA", str(shared))
    try:
        ratings = mt.load_movielens("100k")
        assert ratings.shape == (943, 1682) and len(ratings) == 100_000
        assert _snapshot(shared) == before  # no cache, index or lock file written beside the data
    finally:
        for path in [shared, *shared.rglob("*")]:
            path.chmod(stat.S_IRWXU)
