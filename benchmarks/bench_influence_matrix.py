"""Lesson 12's influence-matrix explorer: the pure compute function a control change runs
(``impact_view``: ``mt.explain.influence``, one row of J = V (V_O^T V_O + lambda I)^{-1} V_O^T, sorted)
and the whole update per control (compute + caption + the two-panel inline SVG + table + Output), at
the lesson's settings: the 650 most active users x the 50 most rated movies of MovieLens 100K, ALS of rank 4,
lambda = 1, converged (tol=1e-12), unbiased and biased."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, control_row, timed_row

import mfteach as mt
from mfteach.widgets.influence_matrix import impact_view, influence_matrix_explorer

TOPIC = "influence_matrix"
COMPUTE_BUDGET_MS = 100.0  # the compute callback of a control change
UPDATE_BUDGET_MS = 100.0   # the whole update: compute + drawing + PNG + Output
LESSON_USER = 325          # the lesson's user; the target is Terminator 2


def lesson_data():
    """The lesson's (ratings, unbiased model, biased model, Terminator 2's column)."""
    ratings = mt.load_movielens("100k").top(650, 50)
    model = mt.ALS(rank=4, reg=1.0, n_iters=10_000, tol=1e-12, seed=0).fit(ratings)
    biased = mt.ALS(rank=4, reg=1.0, n_iters=10_000, tol=1e-12, seed=0, biased=True).fit(ratings)
    t2 = int(np.flatnonzero(ratings.item_titles == "Terminator 2: Judgment Day (1991)")[0])
    return ratings, model, biased, t2


def run() -> list[Row]:
    ratings, model, biased, t2 = lesson_data()
    m, n = ratings.shape
    rows = [timed_row(TOPIC, "lesson 12 impact_view at the lesson's defaults (compute per control change)",
                      lambda: impact_view(model, ratings, LESSON_USER, t2), repeats=101, target_max=COMPUTE_BUDGET_MS,
                      detail=f"{m} x {n}, {len(ratings):,} ratings, rank 4; user {LESSON_USER}, Terminator 2")]
    pairs = itertools.cycle(itertools.product((model, biased), range(0, m, 37), range(0, n, 7),
                                              ("influence", "impact")))

    def many():
        fitted, user, item, order = next(pairs)
        impact_view(fitted, ratings, user, item, order=order)

    rows.append(timed_row(TOPIC, "lesson 12 impact_view, both models, many users, movies and orders in turn", many,
                          repeats=101, target_max=COMPUTE_BUDGET_MS))
    explorer = influence_matrix_explorer({"unbiased ALS": model, "biased ALS": biased}, ratings, user=LESSON_USER,
                                         item=t2)
    offered = [value for _, value in explorer.user.options]
    update = "compute + caption + the 2-panel figure as an inline SVG (impact_svg) + table + Output update"
    rows.append(control_row(TOPIC, "lesson 12 influence-matrix explorer: whole user slider update", explorer.user,
                            offered[1::29], explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail="dropdown refilled + " + update))
    rows.append(control_row(TOPIC, "lesson 12 influence-matrix explorer: whole movie change", explorer.item,
                            range(0, n, 3), explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS))
    rows.append(control_row(TOPIC, "lesson 12 influence-matrix explorer: whole 'rows by' toggle", explorer.order,
                            ["impact", "influence"], explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS))
    rows.append(control_row(TOPIC, "lesson 12 influence-matrix explorer: whole model toggle", explorer.model,
                            ["biased ALS", "unbiased ALS"], explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail="dropdown refilled with the other model's predictions"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target or '-'}: "
              f"{'met' if row.passed else 'MISSED' if row.passed is False else ''})")
