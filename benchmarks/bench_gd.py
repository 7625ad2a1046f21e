"""Gradient-descent benchmarks (lessons 04-05, ``mfteach.gd``).

* seconds per epoch of every sampling mode, k = 20, on the training side of MovieLens 100K
  (``split(0.2, seed=0)``) and on synthetic data shaped like MovieLens 1M; a few epochs each,
  the median of ``history_["seconds"]`` differences (training time, evaluation excluded);
* the mini-batch SGD epoch on ML-100K with ``eval_every=0`` (no loss evaluated between the start
  and the end) against Surprise's SVD epoch, both measured in the same run, interleaved: 20-epoch
  fits, biased, k = 20, whole fit time / 20 for both (target <= 1.5 x);
* mini-batch SGD test RMSE after 20 epochs (biased=True), lambda chosen on a validation split
  carved from the training side (``train.split(0.2, seed=1)``), never on the test ratings;
* Surprise's ``SVD(n_factors=20, n_epochs=20)`` on the same split when scikit-surprise is
  importable (it is not a dependency of mfteach);
* the GD playground's compute function and whole widget update at the lesson's defaults.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from harness import Row, timed_row

import mfteach as mt
from mfteach.gd import SAMPLINGS

TOPIC = "gd"
RANK = 20
ML1M_SHAPE, ML1M_RATINGS = (6040, 3706), 1_000_209
PEER_RATIO_TARGET = 1.5    # mini-batch epoch (eval_every=0) / Surprise SVD epoch, same run
PEER_ROUNDS, PEER_EPOCHS = 5, 20
COMPUTE_BUDGET_MS = 100.0  # a widget's compute callback (benchmarks/bench_widgets.py)
REG_GRID = (3.0, 10.0, 20.0, 30.0)


def _epoch_seconds(ratings, sampling: str, n_epochs: int, **kwargs) -> np.ndarray:
    """Per-epoch training seconds of one fit (history_["seconds"] excludes the evaluation)."""
    model = mt.GradientDescent(rank=RANK, sampling=sampling, n_epochs=n_epochs, seed=0, **kwargs).fit(ratings)
    return np.diff(model.history_["seconds"].to_numpy())


def _epoch_rows(name: str, ratings, n_epochs: int) -> list[Row]:
    rows = []
    for sampling in SAMPLINGS:
        seconds = _epoch_seconds(ratings, sampling, n_epochs, reg=1.0)
        ms = 1e3 * seconds
        rows.append(Row(TOPIC, f"{name}: one epoch, sampling={sampling!r}", float(np.median(ms)), "ms",
                        detail=f"k = {RANK}, default lr and sample size, {len(ratings):,} ratings; median of "
                               f"{n_epochs} epochs (min {ms.min():.3g}, max {ms.max():.3g} ms), evaluation excluded"))
    return rows


def numpy_floor_epoch(train, rank: int = RANK, batch: int = 1000, seed: int = 0) -> None:
    """The least any numpy mini-batch SGD epoch of this shape does: per batch of ``batch`` entries
    of a random permutation, gather u_u and v_i, the residuals e_ui, and scatter e_ui v_i and
    e_ui u_u back with one flat ``np.bincount`` per side (no biases, no penalty, no checks, no
    loss): the floor that ``GradientDescent(sampling="minibatch", eval_every=0)`` is measured against."""
    rng = np.random.default_rng(seed)
    (m, n), k = train.shape, rank
    U, V = rng.random((m, k)) * 0.1, rng.random((n, k)) * 0.1
    rows, cols, values = train.rows, train.cols, train.values
    columns = np.arange(k)
    order = rng.permutation(len(values))
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        r, c = rows[idx], cols[idx]
        U_r, V_c = U[r], V[c]
        e = 0.01 * (values[idx] - np.einsum("ij,ij->i", U_r, V_c))
        U += np.bincount((r[:, None] * k + columns).ravel(), (e[:, None] * V_c).ravel(), m * k).reshape(m, k)
        V += np.bincount((c[:, None] * k + columns).ravel(), (e[:, None] * U_r).ravel(), n * k).reshape(n, k)


def _peer_epoch_rows(train, reg: float) -> list[Row]:
    """Mini-batch SGD (biased, k = 20, eval_every=0) against Surprise's SVD, epoch for epoch.

    Both fit 20 epochs on the same 80,000 ratings; each time is the whole ``fit`` (set-up
    included) / 20, in ``PEER_ROUNDS`` interleaved rounds (ours, then Surprise's), medians. Both
    run on one thread, so the ratio is taken of the CPU time of this process (``time.process_time``):
    the other jobs sharing the machine's cores then do not decide it; the wall-clock ratio is
    reported beside it."""
    try:
        import surprise
    except ImportError:
        return [Row(TOPIC, "mini-batch SGD epoch (eval_every=0) / Surprise SVD epoch", float("nan"), "x",
                    detail="scikit-surprise is not installed (pip install -e .[bench]): not measured")]
    import pandas as pd

    frame = pd.DataFrame({"user": train.rows, "item": train.cols, "rating": train.values})
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    ours, theirs, ours_wall, theirs_wall, floor = [], [], [], [], []

    def timed(fit):
        wall, cpu = time.perf_counter(), time.process_time()
        fit()
        return 1e3 * (time.process_time() - cpu) / PEER_EPOCHS, 1e3 * (time.perf_counter() - wall) / PEER_EPOCHS

    for round_ in range(PEER_ROUNDS + 1):  # round 0 warms both up and is not counted
        model = mt.GradientDescent(rank=RANK, reg=reg, sampling="minibatch", n_epochs=PEER_EPOCHS, biased=True,
                                   seed=0, eval_every=0)
        mine = timed(lambda: model.fit(train))
        algo = surprise.SVD(n_factors=RANK, n_epochs=PEER_EPOCHS, random_state=0)
        peer = timed(lambda: algo.fit(trainset))
        bare = timed(lambda: [numpy_floor_epoch(train, seed=epoch) for epoch in range(PEER_EPOCHS)])
        if round_:
            floor.append(bare[0])
            ours.append(mine[0])
            ours_wall.append(mine[1])
            theirs.append(peer[0])
            theirs_wall.append(peer[1])
    ours_ms, theirs_ms = float(np.median(ours)), float(np.median(theirs))
    ratio = ours_ms / theirs_ms
    wall_ratio = float(np.median(ours_wall)) / float(np.median(theirs_wall))
    floor_ms = float(np.median(floor))
    return [
        Row(TOPIC, "ML-100K numpy floor of a mini-batch epoch (CPU time)", floor_ms, "ms",
            detail=f"numpy_floor_epoch: batches of 1000, gathers, residuals and one bincount scatter per side, "
                   f"nothing else; median of {PEER_ROUNDS} rounds interleaved with the two fits"),
        Row(TOPIC, "numpy floor epoch / Surprise SVD epoch, ML-100K", floor_ms / theirs_ms, "x",
            detail="what any numpy mini-batch SGD with batches of 1000 costs at the least, against Surprise's "
                   "Cython loop over single ratings (same run, CPU time)"),
        Row(TOPIC, "mini-batch SGD epoch (eval_every=0) / numpy floor epoch, ML-100K", ours_ms / floor_ms, "x",
            detail="the price of biases, the penalty, the checks and the bookkeeping over the bare numpy epoch"),
        Row(TOPIC, "ML-100K mini-batch SGD epoch, eval_every=0 (whole fit / 20, CPU time)", ours_ms, "ms",
            detail=f"biased, k = {RANK}, batches of 1000, default lr, lambda = {reg:g}; median of {PEER_ROUNDS} "
                   f"20-epoch fits (min {min(ours):.3g}, max {max(ours):.3g} ms), interleaved with Surprise's"),
        Row(TOPIC, "ML-100K Surprise SVD epoch (whole fit / 20, CPU time)", theirs_ms, "ms",
            detail=f"surprise {surprise.__version__} SVD(n_factors={RANK}, n_epochs={PEER_EPOCHS}), biased, "
                   f"Cython SGD one rating at a time; median of {PEER_ROUNDS} fits (min {min(theirs):.3g}, "
                   f"max {max(theirs):.3g} ms)"),
        Row(TOPIC, "mini-batch SGD epoch (eval_every=0) / Surprise SVD epoch, ML-100K", ratio, "x",
            target=f"<= {PEER_RATIO_TARGET:g}", passed=ratio <= PEER_RATIO_TARGET,
            detail=f"CPU time {ours_ms:.3g} ms vs {theirs_ms:.3g} ms per epoch, same run, interleaved rounds, "
                   f"one thread each (wall-clock ratio {wall_ratio:.3g} x, medians "
                   f"{np.median(ours_wall):.3g} vs {np.median(theirs_wall):.3g} ms)"),
    ]


def _accuracy_rows(train, test) -> tuple[list[Row], float]:
    """Mini-batch SGD, biased, 20 epochs: lambda from the validation grid, then test RMSE."""
    fit_part, valid = train.split(0.2, seed=1)
    validation = {}
    for reg in REG_GRID:
        model = mt.GradientDescent(rank=RANK, reg=reg, sampling="minibatch", n_epochs=20, biased=True, seed=0,
                                   eval_every=0)  # only the validation RMSE is needed; the same fit
        validation[reg] = model.fit(fit_part).rmse(valid)
    best = min(validation, key=validation.get)
    model = mt.GradientDescent(rank=RANK, reg=best, sampling="minibatch", n_epochs=20, biased=True, seed=0)
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    grid = ", ".join(f"{reg:g}: {rmse:.4f}" for reg, rmse in validation.items())
    row = Row(TOPIC, "ML-100K test RMSE, mini-batch SGD, 20 epochs, biased", model.rmse(test), "RMSE",
              detail=f"k = {RANK}, default lr; lambda = {best:g} chosen on train.split(0.2, seed=1) "
                     f"(validation RMSE per lambda: {grid}); fit {fit_seconds:.2f} s on the 80,000 training ratings",
              extra={"validation": {str(k): v for k, v in validation.items()}, "reg": best,
                     "fit_seconds": fit_seconds})
    return [row], fit_seconds


def _surprise_rows(train, test, our_fit_seconds: float) -> tuple[list[Row], float | None]:
    """Surprise's SVD on the same split: rows, and its milliseconds per epoch (None without it)."""
    try:
        import surprise
    except ImportError:
        return [Row(TOPIC, "Surprise SVD(n_factors=20, n_epochs=20)", float("nan"), "s",
                    detail="scikit-surprise not installed: no peer comparison "
                           "(pip install scikit-surprise to measure it)")], None
    import pandas as pd

    frame = pd.DataFrame({"user": train.rows, "item": train.cols, "rating": train.values})
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    seconds = []
    for _ in range(3):
        algo = surprise.SVD(n_factors=20, n_epochs=20, random_state=0)
        start = time.perf_counter()
        algo.fit(trainset)
        seconds.append(time.perf_counter() - start)
    fit = float(np.median(seconds))
    predictions = np.array([algo.predict(int(u), int(i)).est for u, i in zip(test.rows, test.cols)])
    rmse = float(np.sqrt(np.mean((predictions - test.values) ** 2)))
    return [
        Row(TOPIC, "Surprise SVD(n_factors=20, n_epochs=20): fit", fit, "s",
            detail=f"surprise {surprise.__version__}, same split; median of 3 fits; {1e3 * fit / 20:.0f} ms per epoch"),
        Row(TOPIC, "Surprise SVD(n_factors=20, n_epochs=20): test RMSE", rmse, "RMSE",
            detail="defaults lr_all=0.005, reg_all=0.02 (Surprise's own choice, not tuned here)"),
        Row(TOPIC, "mfteach mini-batch fit time / Surprise SVD fit time", our_fit_seconds / fit, "x",
            detail=f"20 epochs each, k = 20, biased; mfteach {our_fit_seconds:.2f} s (loss evaluated every epoch) "
                   f"vs Surprise {fit:.2f} s"),
    ], 1e3 * fit / 20


def _playground_rows() -> list[Row]:
    from mfteach.widgets.gd_sampling import gd_playground, playground_run, prepare_playground

    ml = mt.load_movielens("100k")
    prepared = prepare_playground(ml)
    playground_run(prepared)  # fills the full-GD baseline cache, as the widget's first draw does
    def fresh(*args):  # the chosen run fitted anew: its cache (prepared.runs) emptied first
        prepared.runs.clear()
        return playground_run(prepared, *args)

    rows = [timed_row(TOPIC, "lesson 05 playground_run at the defaults (compute per control change)",
                      fresh, repeats=21, target_max=COMPUTE_BUDGET_MS,
                      detail="synthetic 200 x 150, entries 10%, default lr, k = 5, 40 epochs; baseline cached")]
    settings = itertools.cycle([("synthetic", "columns"), ("movielens", "minibatch"), ("movielens", "rows"),
                                ("synthetic", "entries")])
    rows.append(timed_row(TOPIC, "lesson 05 playground_run, other modes and MovieLens subset",
                          lambda: fresh(*next(settings)), repeats=20,
                          detail="10% samples, default lr, k = 5, 40 epochs; baselines cached"))
    from bench_widgets import update_row  # one row per control: the whole update, target 100 ms

    box = gd_playground(prepared=prepared)
    how = "the chosen run fitted anew each move (its cache emptied): GD fit + caption + 2 panels blitted to PNG + table"
    runs = prepared.runs
    rows += [update_row(TOPIC, "lesson 05 playground: sample-size slider (whole update)", box.sample, range(5, 50, 2),
                        repeats=12, detail=how, forget=runs),
             update_row(TOPIC, "lesson 05 playground: lr slider (whole update)", box.lr,
                        [2.0 ** (k / 4) for k in range(-8, 5)], repeats=12, detail=how, forget=runs),
             update_row(TOPIC, "lesson 05 playground: rank slider (whole update)", box.rank, range(2, 15),
                        repeats=12, detail=how + " (and a new full-GD baseline per rank)", forget=runs),
             update_row(TOPIC, "lesson 05 playground: sampling dropdown (whole update)", box.sampling,
                        ["columns", "rows", "minibatch", "full", "entries"], repeats=8,
                        detail=how + " (full GD at the default lr: the cached baseline)", forget=runs),
             update_row(TOPIC, "lesson 05 playground: data dropdown (whole update)", box.data,
                        ["movielens", "synthetic"], repeats=6, detail=how + " (the full-GD baselines cached)",
                        forget=runs)]
    return rows


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    train, test = ml.split(0.2, seed=0)
    accuracy, our_fit = _accuracy_rows(train, test)
    peer, _ = _surprise_rows(train, test, our_fit)
    rows = _peer_epoch_rows(train, accuracy[0].extra["reg"])
    rows += _epoch_rows("ML-100K train", train, n_epochs=7)
    big, _, _ = mt.synthetic(*ML1M_SHAPE, rank=RANK, n_ratings=ML1M_RATINGS, seed=0)
    rows += _epoch_rows("synthetic ML-1M shape (6040 x 3706, 1,000,209)", big, n_epochs=3)
    rows += accuracy + peer
    rows += _playground_rows()
    return rows
