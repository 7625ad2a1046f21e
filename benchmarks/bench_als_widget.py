"""Lesson 07's k/lambda explorer: the grid computed once in the lesson, the pure compute function
a slider move runs (a lookup), and the whole update per slider (lookup + three-panel PNG + Output; ``bench_widgets.update_row``), at the
lesson's settings: MovieLens 100K's 500 most active users x 800 most rated movies, split
80/20 with seed 0, k in RANKS x lambda in REGS, N_ITERS ALS iterations per cell."""

from __future__ import annotations

import itertools

from bench_widgets import update_row
from harness import Row, timed_row

import mfteach as mt
from mfteach.widgets.als_hyperparameters import N_ITERS, RANKS, REGS, als_explorer, als_grid, als_grid_view

TOPIC = "als_widget"
COMPUTE_BUDGET_MS = 200.0  # the compute callback of a slider move
GRID_BUDGET_S = 5.0        # the one-off grid in the lesson: "a few seconds at most"
LESSON_RANK, LESSON_REG = 10, 1.0  # the lesson's starting point


def lesson_data():
    """The lesson's grid data: (train, test) of the dense core of MovieLens 100K."""
    core = mt.load_movielens("100k").top(n_users=500, n_items=800)
    return core.split(0.2, seed=0)


def run() -> list[Row]:
    train, test = lesson_data()
    detail = (f"{train.shape[0]} x {train.shape[1]}, {len(train):,} training ratings; {len(RANKS)} ranks x "
              f"{len(REGS)} lambdas x {N_ITERS} iterations")
    rows = [timed_row(TOPIC, "lesson 07 als_grid (once, in the lesson)", lambda: als_grid(train, test), repeats=3,
                      warmup=0, unit="s", target_max=GRID_BUDGET_S, detail=detail)]
    grid = als_grid(train, test)
    rows.append(timed_row(TOPIC, "lesson 07 als_grid_view at the lesson's defaults (compute per slider move)",
                          lambda: als_grid_view(grid, LESSON_RANK, LESSON_REG), repeats=101,
                          target_max=COMPUTE_BUDGET_MS, detail=f"k = {LESSON_RANK}, lambda = {LESSON_REG:g}"))
    points = itertools.cycle(itertools.product(RANKS, REGS))
    rows.append(timed_row(TOPIC, "lesson 07 als_grid_view, every grid point in turn",
                          lambda: als_grid_view(grid, *next(points)), repeats=101, target_max=COMPUTE_BUDGET_MS))
    explorer = als_explorer(grid, rank=LESSON_RANK, reg=LESSON_REG)
    rows.append(update_row(TOPIC, "lesson 07 k/lambda explorer: rank slider (whole update)", explorer.rank, RANKS,
                           detail="lookup + caption + 3 panels blitted to PNG (curves, marks, titles)"))
    rows.append(update_row(TOPIC, "lesson 07 k/lambda explorer: lambda slider (whole update)", explorer.reg, REGS,
                           detail="lookup + caption + 3 panels blitted to PNG (curves, marks, titles)"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target}: {'met' if row.passed else 'MISSED'})")
