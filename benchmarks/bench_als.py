"""ALS speed: seconds per iteration (one item half-step + one user half-step) on the ML-100K
training split and on synthetic data shaped like MovieLens-1M, for every way of forming and
solving the per-user systems (``method="loop"``: BLAS syrk + LAPACK posv per user;
``"bucket"``: users of similar activity padded into batches, one batched matmul + solve;
``"outer"``: sparse indicator @ row-wise outer products + one batched solve), and the method
``"auto"`` picks (``mfteach.als.auto_method``)."""

from __future__ import annotations

import numpy as np
from harness import Row

import mfteach as mt
from mfteach.als import auto_method

TOPIC = "als"
ML1M_SHAPE, ML1M_RATINGS = (6040, 3706), 1_000_209
TARGETS_MS = {("ML-100K", 20): 25.0, ("ML-1M shape", 64): 1000.0}


def _per_iteration_ms(train, rank: int, method: str, n_iters: int) -> tuple[float, list]:
    model = mt.ALS(rank=rank, reg=10.0, n_iters=n_iters, biased=True, method=method, seed=0).fit(train)
    per_iteration = np.diff(model.history_["seconds"].to_numpy()) * 1e3
    return float(np.median(per_iteration)), per_iteration


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    train, _ = ml.split(0.2, seed=0)
    big, _, _ = mt.synthetic(*ML1M_SHAPE, rank=10, n_ratings=ML1M_RATINGS, seed=0)
    cases = [("ML-100K", train, [10, 20, 64], 9), ("ML-1M shape", big, [20, 64], 3)]
    rows = []
    for label, data, ranks, n_iters in cases:
        for rank in ranks:
            timings = {}
            for method in ("loop", "bucket", "outer"):
                if method == "outer" and rank > 32:
                    continue  # the k^2 outer products of every item no longer fit the cache or memory well
                timings[method], runs = _per_iteration_ms(data, rank, method, n_iters)
                rows.append(Row(TOPIC, f"{label} k={rank} method={method}", timings[method], "ms",
                                detail=f"biased ALS, median of {n_iters} iterations (min {runs.min():.3g}, "
                                       f"max {runs.max():.3g} ms)"))
            # auto decides per half-step (user and item groups); report what it picks for users
            auto = auto_method(data.user_counts(), rank)
            if auto not in timings or auto_method(data.item_counts(), rank) != auto:
                timings["auto"], _ = _per_iteration_ms(data, rank, "auto", n_iters)
                auto = "auto"
            target = TARGETS_MS.get((label, rank))
            row = Row(TOPIC, f"{label} k={rank} ALS per iteration (method='auto' uses {auto})", timings[auto], "ms",
                      detail=f"faster measured method here: {min(timings, key=timings.get)}")
            if target is not None:
                row.target, row.passed = f"<= {target:g} ms", timings[auto] <= target
            rows.append(row)
    return rows
