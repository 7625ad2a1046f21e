"""Accuracy on MovieLens 100K, split(test_size=0.2, seed=0): test RMSE and fit time of every
model, hyperparameters chosen on a validation split carved from the TRAINING side
(train.split(0.1, seed=1)), never on the test set; then refitted on the whole training side.
Surprise's SVD is timed on the same split when scikit-surprise is importable. The model to
ship is picked by the one-standard-error rule over every configuration searched (see run)."""

from __future__ import annotations

import itertools
import time

import numpy as np
from harness import Row

import mfteach as mt

TOPIC = "accuracy"
TARGET_RMSE = 0.920


def _validation_rmse(model, valid) -> tuple[float, float]:
    """RMSE on the validation ratings and its standard error (delta method on the mean of the
    squared errors: SE(RMSE) = SE(MSE) / (2 RMSE))."""
    squared = (valid.values - model.predict(valid.rows, valid.cols)) ** 2
    rmse = float(np.sqrt(squared.mean()))
    return rmse, float(squared.std(ddof=1) / np.sqrt(len(squared)) / (2 * rmse))


def _grid(make, grid: dict, fit_part, valid) -> list[dict]:
    """Every combination of ``grid`` fitted on ``fit_part`` and scored on ``valid``."""
    tried = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        start = time.perf_counter()
        model = make(**params).fit(fit_part)
        seconds = time.perf_counter() - start
        rmse, se = _validation_rmse(model, valid)
        tried.append({"params": params, "rmse": rmse, "se": se, "seconds": seconds})
    return tried


def _timed_fit(model, train):
    start = time.perf_counter()
    model.fit(train)
    return model, time.perf_counter() - start


CANDIDATES = {
    "global mean": (lambda: mt.Baseline(biases=False), {}),
    "biases only (Baseline)": (lambda reg_user, reg_item: mt.Baseline(reg_user=reg_user, reg_item=reg_item),
                               {"reg_user": [5.0, 10.0, 15.0, 25.0], "reg_item": [5.0, 10.0, 25.0]}),
    "ALS": (lambda rank, reg: mt.ALS(rank=rank, reg=reg, n_iters=15),
            {"rank": [10, 20, 40], "reg": [5.0, 10.0, 20.0]}),
    "biased ALS": (lambda rank, reg, n_iters: mt.ALS(rank=rank, reg=reg, n_iters=n_iters, biased=True),
                   {"rank": [10, 20, 40, 64], "reg": [8.0, 12.0, 16.0, 24.0], "n_iters": [5, 15]}),
    "biased ALS-WR": (lambda rank, reg, n_iters: mt.ALS(rank=rank, reg=reg, n_iters=n_iters, biased=True,
                                                        weighted_reg=True),
                      {"rank": [20, 40, 64], "reg": [0.05, 0.08, 0.12], "n_iters": [5, 15]}),
    "biased minibatch SGD": (lambda lr, reg, n_epochs: mt.GradientDescent(
        rank=20, lr=lr, reg=reg, n_epochs=n_epochs, sampling="minibatch", biased=True),
        {"lr": [5.0, 10.0], "reg": [10.0, 20.0, 30.0], "n_epochs": [20, 40]}),
    "truncated SVD (imputed)": (lambda rank, impute: mt.TruncatedSVD(rank=rank, impute=impute),
                                {"rank": [5, 10, 20], "impute": ["user_mean", "item_mean"]}),
    "truncated SVD + GD refinement": (lambda reg: mt.TruncatedSVD(rank=10, impute="user_mean", refine=mt.GradientDescent(
        sampling="minibatch", lr=5.0, reg=reg, n_epochs=20)), {"reg": [10.0, 20.0, 30.0]}),
}


def _surprise_rows(train, test) -> tuple[list[Row], dict]:
    try:
        import surprise
    except ImportError:
        return [Row(TOPIC, "Surprise SVD", float("nan"), "RMSE",
                    detail="scikit-surprise not installed (pip install -e .[bench]); no peer comparison")], {}
    import pandas as pd

    frame = pd.DataFrame({"user": train.rows, "item": train.cols, "rating": train.values})
    data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5)))
    trainset = data.build_full_trainset()
    rows, seconds = [], {}
    for label, algo in (("Surprise SVD (defaults: 100 factors)", surprise.SVD(random_state=0)),
                        ("Surprise SVD(n_factors=20)", surprise.SVD(n_factors=20, random_state=0)),
                        ("Surprise BaselineOnly", surprise.BaselineOnly(verbose=False))):
        start = time.perf_counter()
        algo.fit(trainset)
        seconds[label] = time.perf_counter() - start
        predictions = np.array([algo.predict(int(u), int(i)).est for u, i in zip(test.rows, test.cols)])
        rmse = float(np.sqrt(np.mean((predictions - test.values) ** 2)))
        rows.append(Row(TOPIC, label, rmse, "RMSE", detail=f"fit {seconds[label]:.2f} s (surprise {surprise.__version__})",
                        extra={"fit_seconds": seconds[label]}))
    return rows, seconds


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    train, test = ml.split(0.2, seed=0)
    fit_part, valid = train.split(0.1, seed=1)
    rows, searched = [], []
    for label, (make, grid) in CANDIDATES.items():
        tried = _grid(make, grid, fit_part, valid)
        searched += [{**t, "label": label} for t in tried]
        best = min(tried, key=lambda t: t["rmse"])
        model, seconds = _timed_fit(make(**best["params"]), train)
        shown = ", ".join(f"{k}={v}" for k, v in best["params"].items()) or "no hyperparameters"
        grid_text = "; ".join(f"{k} in {v}" for k, v in grid.items()) or "-"
        rows.append(Row(TOPIC, f"{label} test RMSE", model.rmse(test), "RMSE",
                        detail=f"best on validation ({best['rmse']:.4f}): {shown}; grid: {grid_text} "
                               f"({len(tried)} fits); refit on train in {seconds:.2f} s",
                        extra={"fit_seconds": seconds, "params": best["params"]}))
    peer_rows, peer_seconds = _surprise_rows(train, test)
    rows += peer_rows

    # The model to ship: the one-standard-error rule (Hastie, Tibshirani, Friedman, ESL 7.10)
    # over every configuration searched: the cheapest (validation fit time) whose validation
    # RMSE is within one standard error of the best one. Test data play no part in the choice.
    best = min(searched, key=lambda t: t["rmse"])
    eligible = [t for t in searched if t["rmse"] <= best["rmse"] + best["se"]]
    chosen = min(eligible, key=lambda t: t["seconds"])
    make, _ = CANDIDATES[chosen["label"]]
    model, seconds = _timed_fit(make(**chosen["params"]), train)
    rmse = model.rmse(test)
    shown = ", ".join(f"{k}={v}" for k, v in chosen["params"].items())
    rows.append(Row(TOPIC, f"selected model: {chosen['label']} ({shown})", rmse, "RMSE",
                    target=f"<= {TARGET_RMSE}", passed=rmse <= TARGET_RMSE,
                    detail=f"one-standard-error rule over all {len(searched)} configurations: best validation RMSE "
                           f"{best['rmse']:.4f} +- {best['se']:.4f} ({best['label']}); {len(eligible)} within one SE, "
                           f"the cheapest chosen (validation {chosen['rmse']:.4f}); refit on train in {seconds:.2f} s",
                    extra={"fit_seconds": seconds}))
    surprise20 = peer_seconds.get("Surprise SVD(n_factors=20)")
    if surprise20 is not None:
        rows.append(Row(TOPIC, "fit time of the selected model / Surprise SVD(n_factors=20)", seconds / surprise20,
                        "x", target="< 1", passed=seconds < surprise20,
                        detail=f"{seconds:.2f} s vs {surprise20:.2f} s, same run"))
    return rows
