"""Data benchmarks: import time, loading MovieLens 100K from a local copy, splitting,
building Ratings and synthetic data at the MovieLens-1M shape."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from harness import Row, time_calls, timed_row

import mfteach as mt

TOPIC = "data"
ML1M_SHAPE, ML1M_RATINGS = (6040, 3706), 1_000_209


def _import_row() -> Row:
    python = [sys.executable, "-c"]
    bare = time_calls(lambda: subprocess.run(python + ["pass"], check=True), repeats=7)
    full = time_calls(lambda: subprocess.run(python + ["import mfteach"], check=True), repeats=7)
    value = float(np.median(full) - np.median(bare)) * 1e3
    return Row(TOPIC, "import mfteach", value, "ms",
               detail=f"median of 7 fresh interpreters ({np.median(full) * 1e3:.0f} ms) minus a bare "
                      f"`python -c pass` ({np.median(bare) * 1e3:.0f} ms); includes numpy, scipy, pandas")


def run() -> list[Row]:
    rows = [_import_row()]
    rows.append(timed_row(TOPIC, 'load_movielens("100k") from a local copy', lambda: mt.load_movielens("100k"),
                          detail="parse u.data, u.item, u.genre; titles and genres"))
    ml = mt.load_movielens("100k")
    rows.append(timed_row(TOPIC, "ML-100K split(test_size=0.2, seed=0)", lambda: ml.split(0.2, seed=0)))
    rows.append(timed_row(TOPIC, 'ML-100K split(how="leave_one_out")', lambda: ml.split(how="leave_one_out")))
    rows.append(timed_row(TOPIC, "ML-100K top(650, 50)", lambda: ml.top(650, 50)))
    big, _, _ = mt.synthetic(*ML1M_SHAPE, rank=10, n_ratings=ML1M_RATINGS, seed=0)
    order = np.random.default_rng(0).permutation(len(big))
    rows.append(timed_row(TOPIC, "Ratings(...) from 1,000,209 shuffled entries (ML-1M shape)",
                          lambda: mt.Ratings(big.rows[order], big.cols[order], big.values[order], shape=big.shape),
                          repeats=5, detail="validation, sort, duplicate check"))
    rows.append(timed_row(TOPIC, "synthetic(6040, 3706, rank=10, n_ratings=1,000,209)",
                          lambda: mt.synthetic(*ML1M_SHAPE, rank=10, n_ratings=ML1M_RATINGS, seed=0), repeats=5))
    rows.append(timed_row(TOPIC, "ML-1M shape split(test_size=0.2, seed=0)", lambda: big.split(0.2, seed=0), repeats=5))
    return rows
