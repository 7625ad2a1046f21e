"""ALS speed: seconds per iteration (one item half-step + one user half-step) on the ML-100K
training split and on synthetic data shaped like MovieLens-1M, for every way of forming and
solving the per-user systems (``method="loop"``: BLAS syrk + LAPACK posv per user;
``"bucket"``: users of similar activity padded into batches, one batched matmul + solve;
``"outer"``: sparse indicator @ row-wise outer products + one batched solve), and the method
``"auto"`` picks (``mfteach.als.auto_method``).

The floor (biased ALS, ML-100K, k = 20), measured in the same run, interleaved with the ALS
iterations: for each half-step only the Gram products (a sparse 0/1 indicator, groups x rows,
times the row-wise outer products f f^T of the k + 1 features (v_i, 1) or (u_u, 1)) and one
batched ``np.linalg.solve`` of all the (k + 1) x (k + 1) systems; no right-hand sides, no checks,
no bias targets. ALS per iteration / floor must stay <= 1.4 x."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from harness import Row

import mfteach as mt
from mfteach.als import auto_method

TOPIC = "als"
ML1M_SHAPE, ML1M_RATINGS = (6040, 3706), 1_000_209
TARGETS_MS = {("ML-1M shape", 64): 1000.0}
FLOOR_RANK, FLOOR_TARGET, FLOOR_ROUNDS = 20, 1.4, 5


def _per_iteration_ms(train, rank: int, method: str, n_iters: int) -> tuple[float, list]:
    model = mt.ALS(rank=rank, reg=10.0, n_iters=n_iters, biased=True, method=method, seed=0).fit(train)
    per_iteration = np.diff(model.history_["seconds"].to_numpy()) * 1e3
    return float(np.median(per_iteration)), per_iteration


def _floor_half_steps(train, rank: int):
    """A function doing the floor of one biased ALS iteration (module docstring) from fixed factors."""
    rng = np.random.default_rng(0)
    m, n = train.shape
    by_user, by_item = train.by_user, train.by_item
    # the indicators depend on Omega only: built once per fit, like ALS's own layouts
    users = sp.csr_matrix((np.ones(len(train)), by_user.index, by_user.indptr), shape=(m, n))
    items = sp.csr_matrix((np.ones(len(train)), by_item.index, by_item.indptr), shape=(n, m))
    reg = 10.0 * np.eye(rank + 1)
    U = np.hstack([rng.normal(0, 0.1, (m, rank)), np.ones((m, 1))])   # features (u_u, 1)
    V = np.hstack([rng.normal(0, 0.1, (n, rank)), np.ones((n, 1))])   # features (v_i, 1)
    rhs_items, rhs_users = rng.normal(size=(n, rank + 1, 1)), rng.normal(size=(m, rank + 1, 1))

    def half(indicator, features, rhs):
        k = features.shape[1]
        outer = (features[:, :, None] * features[:, None, :]).reshape(len(features), k * k)
        gram = np.asarray(indicator @ outer).reshape(-1, k, k) + reg
        return np.linalg.solve(gram, rhs)

    def iteration():
        half(items, U, rhs_items)   # item half-step: Grams of U's rows
        half(users, V, rhs_users)   # user half-step: Grams of V's rows

    return iteration


def _floor_rows(train) -> list[Row]:
    """ALS (method="auto", biased, k = 20) per iteration against the floor, interleaved rounds."""
    floor_iteration = _floor_half_steps(train, FLOOR_RANK)
    floor_iteration()  # warm-up
    als_ms, floor_ms = [], []
    for _ in range(FLOOR_ROUNDS):
        als_ms.extend(_per_iteration_ms(train, FLOOR_RANK, "auto", 3)[1])
        for _ in range(3):
            start = time.perf_counter()
            floor_iteration()
            floor_ms.append(1e3 * (time.perf_counter() - start))
    als, floor = float(np.median(als_ms)), float(np.median(floor_ms))
    ratio = als / floor
    return [
        Row(TOPIC, f"ML-100K k={FLOOR_RANK} floor: Gram products + one batched solve per half-step", floor, "ms",
            detail=f"biased (k + 1 = {FLOOR_RANK + 1} features); sparse indicator @ row-wise outer products, "
                   f"np.linalg.solve; median of {len(floor_ms)} iterations interleaved with ALS's "
                   f"(min {min(floor_ms):.3g}, max {max(floor_ms):.3g} ms)"),
        Row(TOPIC, f"ML-100K k={FLOOR_RANK} ALS per iteration / floor", ratio, "x", target=f"<= {FLOOR_TARGET:g}",
            passed=ratio <= FLOOR_TARGET,
            detail=f"biased ALS method='auto' {als:.3g} ms (median of {len(als_ms)} iterations in "
                   f"{FLOOR_ROUNDS} fits) vs floor {floor:.3g} ms, same run, interleaved"),
    ]


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
                if method == "outer" and (rank > 32 or (label != "ML-100K" and rank > 12)):
                    continue  # k^2 outer products of 1M ratings: several times slower, never picked by auto
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
    return _floor_rows(train) + rows
