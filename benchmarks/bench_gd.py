"""Gradient-descent benchmarks (lessons 04-05, ``mfteach.gd``).

* seconds per epoch of every sampling mode, k = 20, on the training side of MovieLens 100K
  (``split(0.2, seed=0)``) and on synthetic data shaped like MovieLens 1M; a few epochs each,
  the median of ``history_["seconds"]`` differences (training time, evaluation excluded);
* the mini-batch epoch on ML-100K against Surprise's SGD epoch (37 ms measured on this machine);
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
SURPRISE_EPOCH_MS = 37.0   # Surprise SVD(n_factors=20): 0.69 s for 20 epochs on this machine (TOOLCHAIN.md)
COMPUTE_BUDGET_MS = 100.0  # a widget's compute callback (benchmarks/bench_widgets.py)
UPDATE_BUDGET_MS = 300.0   # a widget's whole redraw, PNG included
REG_GRID = (3.0, 10.0, 20.0, 30.0)


def _epoch_seconds(ratings, sampling: str, n_epochs: int, **kwargs) -> np.ndarray:
    """Per-epoch training seconds of one fit (history_["seconds"] excludes the evaluation)."""
    model = mt.GradientDescent(rank=RANK, sampling=sampling, n_epochs=n_epochs, seed=0, **kwargs).fit(ratings)
    return np.diff(model.history_["seconds"].to_numpy())


def _epoch_rows(name: str, ratings, n_epochs: int, surprise_epoch_ms: float | None = None) -> list[Row]:
    rows = []
    for sampling in SAMPLINGS:
        seconds = _epoch_seconds(ratings, sampling, n_epochs, reg=1.0)
        ms = 1e3 * seconds
        target = SURPRISE_EPOCH_MS if (sampling == "minibatch" and name.startswith("ML-100K")) else None
        row = Row(TOPIC, f"{name}: one epoch, sampling={sampling!r}", float(np.median(ms)), "ms",
                  detail=f"k = {RANK}, default lr and sample size, {len(ratings):,} ratings; median of {n_epochs} "
                         f"epochs (min {ms.min():.3g}, max {ms.max():.3g} ms)")
        if target is not None:
            row.target = f"<= {target:g} ms"
            row.passed = row.value <= target
            row.detail += "; target: Surprise's SGD epoch as given in TOOLCHAIN.md (37 ms)"
            if surprise_epoch_ms is not None:
                row.detail += f"; Surprise measured in this run: {surprise_epoch_ms:.0f} ms per epoch"
        rows.append(row)
    return rows


def _accuracy_rows(train, test) -> tuple[list[Row], float]:
    """Mini-batch SGD, biased, 20 epochs: lambda from the validation grid, then test RMSE."""
    fit_part, valid = train.split(0.2, seed=1)
    validation = {}
    for reg in REG_GRID:
        model = mt.GradientDescent(rank=RANK, reg=reg, sampling="minibatch", n_epochs=20, biased=True, seed=0)
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
    rows = [timed_row(TOPIC, "lesson 05 playground_run at the defaults (compute per control change)",
                      lambda: playground_run(prepared), repeats=21, target_max=COMPUTE_BUDGET_MS,
                      detail="synthetic 200 x 150, entries 10%, default lr, k = 5, 40 epochs; baseline cached")]
    settings = itertools.cycle([("synthetic", "columns"), ("movielens", "minibatch"), ("movielens", "rows"),
                                ("synthetic", "entries")])
    rows.append(timed_row(TOPIC, "lesson 05 playground_run, other modes and MovieLens subset",
                          lambda: playground_run(prepared, *next(settings)), repeats=20,
                          detail="10% samples, default lr, k = 5, 40 epochs; baselines cached"))
    box = gd_playground(prepared=prepared)
    sizes = itertools.cycle([11, 12, 13, 10])

    def move_sample_slider():
        box.sample.value = next(sizes)

    rows.append(timed_row(TOPIC, "lesson 05 playground: whole slider update", move_sample_slider, repeats=12,
                          target_max=UPDATE_BUDGET_MS, detail="compute + 2-panel figure to PNG + table + Output update"))
    return rows


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    train, test = ml.split(0.2, seed=0)
    accuracy, our_fit = _accuracy_rows(train, test)
    peer, surprise_epoch_ms = _surprise_rows(train, test, our_fit)
    rows = _epoch_rows("ML-100K train", train, n_epochs=7, surprise_epoch_ms=surprise_epoch_ms)
    big, _, _ = mt.synthetic(*ML1M_SHAPE, rank=RANK, n_ratings=ML1M_RATINGS, seed=0)
    rows += _epoch_rows("synthetic ML-1M shape (6040 x 3706, 1,000,209)", big, n_epochs=3)
    rows += accuracy + peer
    rows += _playground_rows()
    return rows
