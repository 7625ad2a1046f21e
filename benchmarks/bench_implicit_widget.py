"""Lesson 11's alpha/lambda explorer: the grid computed once in the lesson, the pure compute function
a control change runs (a lookup plus one user's ranking), and the whole update (compute + two-map
PNG + Output), at the lesson's settings: MovieLens 100K, every rating an interaction, one held-out
interaction per user (leave_one_out, seed 0), alpha in ALPHAS x lambda in REGS, rank RANK, N_ITERS
iterations of CG_STEPS conjugate-gradient steps per cell."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, control_row, timed_row

import mfteach as mt
from mfteach.widgets.implicit_explorer import (
    ALPHAS, CG_STEPS, N_ITERS, RANK, REGS, implicit_als_explorer, implicit_grid, implicit_view,
)

TOPIC = "implicit_widget"
COMPUTE_BUDGET_MS = 200.0  # the compute callback of a control change
UPDATE_BUDGET_MS = 100.0   # the whole update: compute + drawing + PNG + Output
GRID_BUDGET_S = 15.0       # the one-off grid in the lesson: "well under ~20 s"
LESSON_ALPHA, LESSON_REG, LESSON_USER = 1.0, 10.0, 0  # the lesson's starting point


def lesson_data():
    """The lesson's (train, test): MovieLens 100K as 0/1 interactions, one held out per user."""
    ml = mt.load_movielens("100k")
    return ml.with_values(np.ones(len(ml))).split(how="leave_one_out", seed=0)


def run() -> list[Row]:
    train, test = lesson_data()
    detail = (f"{train.shape[0]} x {train.shape[1]}, {len(train):,} interactions; {len(ALPHAS)} alphas x "
              f"{len(REGS)} lambdas, rank {RANK}, {N_ITERS} iterations of {CG_STEPS} CG steps")
    rows = [timed_row(TOPIC, "lesson 11 implicit_grid (once, in the lesson)", lambda: implicit_grid(train, test),
                      repeats=1, warmup=0, unit="s", target_max=GRID_BUDGET_S, detail=detail)]
    grid = implicit_grid(train, test)
    rows.append(timed_row(TOPIC, "lesson 11 implicit_view at the lesson's defaults (compute per control change)",
                          lambda: implicit_view(grid, LESSON_ALPHA, LESSON_REG, LESSON_USER), repeats=101,
                          target_max=COMPUTE_BUDGET_MS,
                          detail=f"alpha = {LESSON_ALPHA:g}, lambda = {LESSON_REG:g}, user {LESSON_USER}"))
    points = itertools.cycle(itertools.product(ALPHAS, REGS, range(0, train.shape[0], 37)))
    rows.append(timed_row(TOPIC, "lesson 11 implicit_view, every grid point and many users in turn",
                          lambda: implicit_view(grid, *next(points)), repeats=101, target_max=COMPUTE_BUDGET_MS))
    explorer = implicit_als_explorer(grid, alpha=LESSON_ALPHA, reg=LESSON_REG, user=LESSON_USER)
    update = ("lookup + one user's top 10 + the 2-map figure kept (maps drawn once, the two frames moved) to PNG + "
              "caption + table + Output update")
    rows.append(control_row(TOPIC, "lesson 11 alpha/lambda explorer: whole alpha slider update", explorer.alpha,
                            [v for _, v in explorer.alpha.options], explorer.out, repeats=31,
                            target_max=UPDATE_BUDGET_MS, detail=update + "; every alpha in turn"))
    rows.append(control_row(TOPIC, "lesson 11 alpha/lambda explorer: whole lambda slider update", explorer.reg,
                            [v for _, v in explorer.reg.options], explorer.out, repeats=31,
                            target_max=UPDATE_BUDGET_MS, detail="every lambda in turn"))
    users = [v for _, v in explorer.user.options][1::53]
    rows.append(control_row(TOPIC, "lesson 11 alpha/lambda explorer: whole user change", explorer.user, users,
                            explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail=f"{len(users)} users of the dropdown in turn"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target}: {'met' if row.passed else 'MISSED'})")
