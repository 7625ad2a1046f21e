"""Lesson 09 benchmarks: the similar-items explorer's compute function (cosine neighbours of
one movie with titles and genres) and the whole update a slider move triggers, at the
lesson's defaults (biased ALS, k = 10, on the ML-100K training split; 10 neighbours with at
least 20 ratings), driven in plain Python as the tests do."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, timed_row

import mfteach as mt
from mfteach.widgets.similar_items import nearest_items, prepare_similar_items, similar_items_explorer

TOPIC = "embeddings"
COMPUTE_BUDGET_MS = 100.0  # a compute callback must answer well within a blink
UPDATE_BUDGET_MS = 300.0   # the whole redraw, PNG included

# the lesson's defaults
RANK, REG, N_ITERS = 10, 10.0, 10
N_NEIGHBORS, MIN_RATINGS = 10, 20


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    train, _ = ml.split(0.2, seed=0)
    model = mt.ALS(rank=RANK, reg=REG, n_iters=N_ITERS, biased=True, seed=0).fit(train)
    rows = [timed_row(TOPIC, "lesson 09 prepare_similar_items(ML-100K) (once per widget)",
                      lambda: prepare_similar_items(model.V_, train), repeats=7)]
    prepared = prepare_similar_items(model.V_, train)
    popular = np.argsort(-train.item_counts(), kind="stable")[:500]
    movies = itertools.cycle(popular.tolist())
    rows.append(timed_row(TOPIC, "lesson 09 nearest_items (compute per control change)",
                          lambda: nearest_items(prepared, next(movies), n=N_NEIGHBORS, min_ratings=MIN_RATINGS),
                          repeats=51, target_max=COMPUTE_BUDGET_MS,
                          detail=f"ML-100K biased ALS k={RANK}, {N_NEIGHBORS} neighbours with >= {MIN_RATINGS} "
                                 "ratings, a different movie each call"))
    explorer = similar_items_explorer(model.V_, train, n=N_NEIGHBORS, min_ratings=MIN_RATINGS)
    counts = itertools.cycle([11, 12, 13, 12])

    def move_slider():
        explorer.count.value = next(counts)

    rows.append(timed_row(TOPIC, "lesson 09 similar-items explorer: whole slider update", move_slider, repeats=21,
                          target_max=UPDATE_BUDGET_MS, detail="compute + bar chart to PNG + table + Output update"))
    return rows
