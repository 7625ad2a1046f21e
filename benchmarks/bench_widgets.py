"""Widget benchmarks: each explorer's pure compute function (the part a control change runs
before drawing) and, one row per control, the WHOLE update a change triggers: from setting the
control's value until the Output holds the new content (compute + drawing + Output update),
driven in plain Python as the tests do (the observers run synchronously). Lessons 00 (affinity),
01 and 08 (user explorer), 02 and 03 (rank-1 puzzle) and 09 (similar items); the other lessons'
explorers are in ``bench_gd_stepsize``, ``bench_gd`` (playground), ``bench_als_stepper`` and
``bench_als_widget``, which use ``update_row`` from here.

``update_row`` moves a control through a list of values (never setting the value it already
has, so every measured change is a real one) and reports the median: a figure built per move
would show here, and so would a cache hit (each explorer's docstring says what it caches)."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, timed_row

import mfteach as mt
from mfteach.widgets import (
    affinity_explorer, affinity_ranking, prepare_user_explorer, rank1_puzzle_widget, similar_items_explorer,
    user_explorer, user_view,
)

TOPIC = "widgets"
COMPUTE_BUDGET_MS = 100.0  # a compute callback must answer well within a blink
UPDATE_BUDGET_MS = 100.0   # the whole update of one control change (issue 20)


def update_row(topic: str, name: str, control, values, repeats: int = 21, detail: str = "",
               budget_ms: float = UPDATE_BUDGET_MS, forget=None) -> Row:
    """The median whole update of moving ``control`` to the next of ``values`` (cycled, skipping
    the value it has), ``repeats`` times after one unmeasured move. ``forget`` (a dict, e.g. an
    explorer's cache of runs) is emptied before every move, so that a value seen before is
    computed again."""
    values = list(values)
    cycle = itertools.cycle(values)

    def move():
        if forget is not None:
            forget.clear()
        value = next(cycle)
        if value == control.value:
            value = next(cycle)
        control.value = value

    return timed_row(topic, name, move, repeats=repeats, target_max=budget_ms,
                     detail=(f"{detail}; " if detail else "") + "from the value change to the new Output content")


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
    rows.append(update_row(TOPIC, "lesson 01 user explorer: user slider (whole update)", explorer.slider,
                           range(1, ml.shape[0]), detail="a new user each move: user_view + 3 panels blitted to PNG "
                                                         "+ numbers + table"))
    rows.append(update_row(TOPIC, "lesson 01 user explorer: table-order buttons (whole update)", explorer.sort,
                           ["rating", "lowest", "popular", "niche"],
                           detail="same user: user_view + the user's PNG kept + table"))

    genres, names = ml.genre_matrix()
    B = genres[:10]
    taste = np.zeros(len(names))
    taste[:3] = 1
    rows.append(timed_row(TOPIC, "lesson 00 affinity_ranking (compute per control change)",
                          lambda: affinity_ranking(taste, B, list(ml.item_titles[:10]), names, bias=1.0),
                          repeats=51, target_max=COMPUTE_BUDGET_MS))
    affinity = affinity_explorer(B, titles=list(ml.item_titles[:10]), attribute_names=names, taste=taste)
    rows.append(update_row(TOPIC, "lesson 00 affinity explorer: bias slider (whole update)", affinity.bias,
                           [-2.0, -1.0, 0.0, 1.0, 2.0], detail="ranking + SVG bar chart + table"))
    rows.append(update_row(TOPIC, "lesson 00 affinity explorer: a genre checkbox (whole update)",
                           affinity.checkboxes[4], [True, False], detail="ranking + SVG bar chart + table"))

    puzzle = rank1_puzzle_widget()
    rows.append(update_row(TOPIC, "lesson 02 rank-1 puzzle: a cell button (whole update)", puzzle.buttons[2][3],
                           [True, False], detail="complete_rank1 + HTML matrix + graph blitted to PNG"))
    rows.append(update_row(TOPIC, "lesson 02 rank-1 puzzle: hidden-seed slider (whole update)", puzzle.seed,
                           range(0, 51), detail="a new hidden matrix: complete_rank1 + HTML matrix + graph PNG"))
    rows.append(update_row(TOPIC, "lesson 03 rank-1 puzzle: perturb checkbox (whole update)", puzzle.perturb,
                           [True, False], detail="complete_rank1 + HTML matrix + graph PNG"))
    rows.append(update_row(TOPIC, "lesson 03 rank-1 puzzle: show-hidden checkbox (whole update)",
                           puzzle.show_hidden, [True, False], detail="complete_rank1 + HTML matrices + graph PNG"))

    factors = {f"ALS seed {seed}": mt.ALS(rank=20, reg=5.0, n_iters=5, seed=seed).fit(ml).V_ for seed in (0, 1)}
    similar = similar_items_explorer(factors, ml)  # two models, as lesson 09's ALS and SVD
    movies = [i for _, i in similar.movie.options[:40]]
    rows.append(update_row(TOPIC, "lesson 09 similar items: movie dropdown (whole update)", similar.movie, movies,
                           detail="ML-100K, k = 20: cosine neighbours + SVG bars + table"))
    rows.append(update_row(TOPIC, "lesson 09 similar items: neighbours slider (whole update)", similar.count,
                           range(3, 26), detail="cosine neighbours + SVG bars + table"))
    rows.append(update_row(TOPIC, "lesson 09 similar items: min-ratings slider (whole update)", similar.min_ratings,
                           range(0, 101, 5), detail="cosine neighbours + SVG bars + table"))
    rows.append(update_row(TOPIC, "lesson 09 similar items: model buttons (whole update)", similar.model,
                           list(similar.model.options), detail="cosine neighbours + SVG bars + table"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target}: {'met' if row.passed else 'MISSED'})")
