"""Widget benchmarks: each widget's pure compute function (the part a slider move runs
before drawing) and the whole update a slider move triggers (compute + matplotlib PNG +
Output update), driven in plain Python as the tests do."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, timed_row

import mfteach as mt
from mfteach.widgets import affinity_explorer, affinity_ranking, prepare_user_explorer, user_explorer, user_view

TOPIC = "widgets"
COMPUTE_BUDGET_MS = 100.0  # a compute callback must answer well within a blink
UPDATE_BUDGET_MS = 300.0   # the whole redraw, PNG included


def run() -> list[Row]:
    ml = mt.load_movielens("100k")
    rows = [timed_row(TOPIC, "lesson 01 prepare_user_explorer(ML-100K) (once per widget)",
                      lambda: prepare_user_explorer(ml), repeats=7)]
    prepared = prepare_user_explorer(ml)
    users = itertools.cycle(range(ml.shape[0]))
    rows.append(timed_row(TOPIC, "lesson 01 user_view (compute per slider move)",
                          lambda: user_view(prepared, next(users)), repeats=51, target_max=COMPUTE_BUDGET_MS,
                          detail="ML-100K, a different user each call"))
    explorer = user_explorer(ml)
    steps = itertools.cycle(range(1, ml.shape[0]))

    def move_user_slider():
        explorer.slider.value = next(steps)

    rows.append(timed_row(TOPIC, "lesson 01 user explorer: whole slider update", move_user_slider, repeats=21,
                          target_max=UPDATE_BUDGET_MS, detail="compute + 3-panel figure to PNG + Output update"))

    genres, names = ml.genre_matrix()
    B = genres[:10]
    taste = np.zeros(len(names))
    taste[:3] = 1
    rows.append(timed_row(TOPIC, "lesson 00 affinity_ranking (compute per control change)",
                          lambda: affinity_ranking(taste, B, list(ml.item_titles[:10]), names, bias=1.0),
                          repeats=51, target_max=COMPUTE_BUDGET_MS))
    affinity = affinity_explorer(B, titles=list(ml.item_titles[:10]), attribute_names=names, taste=taste)
    biases = itertools.cycle([-2.0, -1.0, 0.0, 1.0, 2.0])

    def move_bias_slider():
        affinity.bias.value = next(biases)

    rows.append(timed_row(TOPIC, "lesson 00 affinity explorer: whole slider update", move_bias_slider, repeats=21,
                          target_max=UPDATE_BUDGET_MS, detail="compute + bar chart to PNG + Output update"))
    return rows
