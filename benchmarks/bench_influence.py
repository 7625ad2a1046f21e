"""Influence and impact (FATREC 2017, lessons 12-13): ``mt.explain.influence`` per call (one row of J,
target <= 1 ms), ``influence_matrix`` per user (all n rows), and lesson 13's perturbation explorer
(the slider: J only plus a cached figure; the button: warm-started ALS retrains).

Data: MovieLens 100K with ALS at k = 64, and a synthetic problem of the MovieLens 1M shape
(6040 users x 3706 items, 1,000,209 ratings rounded to 1..5 stars, uniform Omega) at k = 64.
The speed of influence does not depend on how well the model fits, so the 1M-shape model runs
only a few ALS iterations."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, control_row, timed_row

import mfteach as mt
from mfteach.explain import influence, influence_matrix
from mfteach.widgets.influence_retrain import RETRAIN_ITERS, influence_explorer, predicted_change, \
    prepare_influence_explorer

TOPIC = "influence"
RANK = 64
N_PAIRS = 200
INFLUENCE_BUDGET_MS = 1.0   # one explanation per call
SLIDER_BUDGET_MS = 50.0     # the explorer's whole slider update
UPDATE_BUDGET_MS = 100.0    # the explorer's whole update for its other controls


def ml1m_shape(seed: int = 0):
    """Synthetic ratings of the MovieLens 1M shape, 1..5 stars."""
    ratings, _, _ = mt.synthetic(6040, 3706, rank=10, n_ratings=1_000_209, seed=seed)
    return ratings.with_values(np.clip(np.round(3.6 + ratings.values), 1, 5))


def random_pairs(ratings, count: int = N_PAIRS, seed: int = 0):
    """``count`` random (user, item) pairs, users with at least one rating."""
    rng = np.random.default_rng(seed)
    users = rng.choice(np.flatnonzero(ratings.user_counts()), size=count)
    return [(int(u), int(i)) for u, i in zip(users, rng.integers(0, ratings.shape[1], size=count))]


def _explanation_rows(name: str, model, ratings, detail: str) -> list[Row]:
    pairs = random_pairs(ratings)
    cycle = itertools.cycle(pairs)
    rows = [timed_row(TOPIC, f"influence(model, ratings, user, item), {name}",
                      lambda: influence(model, ratings, *next(cycle)), repeats=N_PAIRS, warmup=5,
                      target_max=INFLUENCE_BUDGET_MS,
                      detail=f"{detail}; {N_PAIRS} random (user, item) pairs, one call each")]
    users = itertools.cycle([u for u, _ in pairs[:50]])
    rows.append(timed_row(TOPIC, f"influence_matrix(model, ratings, user), {name}",
                          lambda: influence_matrix(model, ratings, next(users)), repeats=50, warmup=2,
                          detail=f"{detail}; J for all n items, 50 random users"))
    return rows


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    model = mt.ALS(rank=RANK, reg=5.0, n_iters=10).fit(ml)
    rows = _explanation_rows("MovieLens 100K", model, ml,
                             f"{ml.shape[0]} x {ml.shape[1]}, {len(ml):,} ratings, ALS k = {RANK}, 10 iterations")
    big = ml1m_shape()
    big_model = mt.ALS(rank=RANK, reg=5.0, n_iters=2).fit(big)
    rows += _explanation_rows("ML-1M shape", big_model, big,
                              f"synthetic {big.shape[0]} x {big.shape[1]}, {len(big):,} ratings, ALS k = {RANK}, "
                              "2 iterations")

    # the explorer on MovieLens 100K, k = 64: the slider is J only; the figure is cached
    user = 0
    state = prepare_influence_explorer(model, ml, user)
    values = itertools.cycle(np.arange(1.0, 5.01, 0.5))
    changed_item = int(state.items[0])
    rows.append(timed_row(TOPIC, "explorer: predicted_change (compute per slider move), MovieLens 100K",
                          lambda: predicted_change(state, 50, changed_item, float(next(values))), repeats=101,
                          detail=f"J[:, k] delta for n = {ml.shape[1]} items, k = {RANK}"))
    explorer = influence_explorer(model, ml, user=user)
    rows.append(control_row(TOPIC, "explorer: whole slider update, MovieLens 100K", explorer.rating,
                            [v for _, v in explorer.rating.options], explorer.out, repeats=51,
                            target_max=SLIDER_BUDGET_MS,
                            detail="predicted_change + caption + table + kept influence figure + Output update"))
    targets = [v for _, v in explorer.target.options]
    rows.append(control_row(TOPIC, "explorer: whole 'prediction for' change, MovieLens 100K", explorer.target,
                            targets, explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail=f"{len(targets)} targets in turn: predicted_change + caption + table + the "
                                   "influence bars as an inline SVG (kept once drawn) + Output update"))
    past = [v for _, v in explorer.changed.options][:31]
    rows.append(control_row(TOPIC, "explorer: whole 'past rating' change, MovieLens 100K", explorer.changed, past,
                            explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail=f"{len(past)} past ratings in turn, each new: slider refilled + predicted_change + "
                                   "caption + table + the influence bars as an inline SVG + Output update"))
    rows.append(timed_row(TOPIC, "explorer: build (J of the user, first figure), MovieLens 100K",
                          lambda: influence_explorer(model, ml, user=user), repeats=3))

    # the button: warm-started ALS retrains (RETRAIN_ITERS iterations each)
    for name, data, fitted in (("MovieLens 100K, k = 64", ml, model),
                               ("FATREC setup (top 650 users x 50 movies), k = 4",
                                ml.top(650, 50), None)):
        if fitted is None:
            fitted = mt.ALS(rank=4, reg=1.0, n_iters=100, tol=1e-10).fit(data)
        box = influence_explorer(fitted, data, user=int(data.rows[0]))
        ratings_left = itertools.cycle([v for _, v in box.rating.options if v != box.rating.value])

        def press():
            box.rating.value = next(ratings_left)
            box.retrain.click()

        rows.append(timed_row(TOPIC, f"explorer: first 'Retrain and compare' (two retrains), {name}", press,
                              repeats=1, warmup=0, unit="s",
                              detail=f"{RETRAIN_ITERS} warm-started ALS iterations, changed and unchanged ratings"))
        rows.append(timed_row(TOPIC, f"explorer: later 'Retrain and compare' (one retrain), {name}", press,
                              repeats=3, warmup=0, unit="s",
                              detail=f"{RETRAIN_ITERS} warm-started ALS iterations; the unchanged retrain is kept"))
    return rows


if __name__ == "__main__":
    for row in run():
        target = f" (target {row.target}: {'met' if row.passed else 'MISSED'})" if row.target else ""
        print(f"{row.name}: {row.value:.3g} {row.unit}{target}")
