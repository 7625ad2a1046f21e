"""Lesson 16's prediction-anatomy explorer (NCF next to biased ALS): the pure compute function a
control change runs (``prediction_anatomy``) and the whole update (compute + caption + the
three-panel inline SVG + Output; a new user also refills the movie list), at the lesson's settings: MovieLens 100K's
200 most active users x 300 most rated movies, split 90/10 with seed 0, biased ALS (k = 16,
lambda = 10, 15 iterations) and NCF (d = 16, hidden 32-16, lambda = 20, 15 epochs of Adam).
Every timed change shows a (user, movie) pair the explorer has not drawn before."""

from __future__ import annotations

import itertools

from harness import Row, timed_row

import mfteach as mt
from mfteach.ncf import NCF
from mfteach.widgets.ncf_anatomy import ncf_anatomy_explorer, prediction_anatomy

TOPIC = "ncf_anatomy"
COMPUTE_BUDGET_MS = 100.0  # the compute callback of a control change
UPDATE_BUDGET_MS = 100.0   # the whole update: compute + figure + Output
NCF_SETTINGS = dict(embedding_dim=16, hidden=(32, 16), reg=20.0, lr=3e-3, batch_size=1024, seed=0, n_epochs=15)


def lesson_models():
    """The lesson's (train, test, biased ALS, NCF)."""
    ratings = mt.load_movielens("100k").top(200, 300)
    train, test = ratings.split(test_size=0.1, seed=0)
    als = mt.ALS(rank=16, reg=10.0, n_iters=15, biased=True, seed=0).fit(train)
    return train, test, als, NCF(**NCF_SETTINGS).fit(train)


def run() -> list[Row]:
    train, test, als, ncf = lesson_models()
    detail = f"{train.shape[0]} x {train.shape[1]}, {len(train):,} training ratings"
    pairs = itertools.cycle(zip(test.rows.tolist(), test.cols.tolist()))
    rows = [timed_row(TOPIC, "lesson 16 prediction_anatomy (compute per control change)",
                      lambda: prediction_anatomy(ncf, als, *next(pairs), ratings=train, test=test), repeats=101,
                      target_max=COMPUTE_BUDGET_MS, detail=f"{detail}; a held-out pair each call")]
    rows.append(timed_row(TOPIC, "lesson 16 anatomy explorer: build (movie list, first figure)",
                          lambda: ncf_anatomy_explorer(ncf, als, train, test), repeats=3, detail=detail))
    explorer = ncf_anatomy_explorer(ncf, als, train, test)
    items = iter([value for _, value in explorer.item.options][1:])

    def move_item():
        explorer.item.value = next(items)

    rows.append(timed_row(TOPIC, "lesson 16 anatomy explorer: whole movie change", move_item, repeats=21,
                          target_max=UPDATE_BUDGET_MS,
                          detail="compute + caption + the 3-panel figure as an inline SVG + Output update, "
                                 "a new pair each time"))
    users = iter([value for _, value in explorer.user.options][1:])

    def move_user_slider():
        explorer.user.value = next(users)

    rows.append(timed_row(TOPIC, "lesson 16 anatomy explorer: whole user-slider update", move_user_slider, repeats=21,
                          target_max=UPDATE_BUDGET_MS,
                          detail="refill the 300-movie list + compute + the 3-panel SVG + Output update, "
                                 "a new user each time"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target or '-'}: "
              f"{'' if row.passed is None else 'met' if row.passed else 'MISSED'})")
