"""Lesson 10's confidence explorer: the pure compute function a control change runs (the closed form
u_u = (V^T C^u V + lambda I)^{-1} V^T C^u p_u for one user, at the chosen alpha and along the whole
alpha grid, with V fixed) and the whole update (compute + figure to PNG + Output), at the lesson's
settings: MovieLens 100K, every rating an interaction, one held-out interaction per user
(leave_one_out, seed 0), V of mt.ImplicitALS(rank=24, reg=10, alpha=1, n_iters=3, exact)."""

from __future__ import annotations

import itertools

from bench_implicit_widget import lesson_data as implicit_lesson_data
from harness import Row, control_row, timed_row

import mfteach as mt
from mfteach.widgets.confidence import (
    ALPHAS, REGS, confidence_explorer, confidence_view, prepare_confidence_explorer, user_vector,
)

TOPIC = "confidence_explorer"
COMPUTE_BUDGET_MS = 100.0  # the compute callback of a control change
UPDATE_BUDGET_MS = 100.0   # the whole update: compute + drawing + PNG + Output
LESSON_ALPHA, LESSON_REG, LESSON_USER = 1.0, 10.0, 0  # the lesson's starting point


def lesson_data():
    """The lesson's (train, test, model): lesson 11's data and V of one ImplicitALS fit."""
    train, test = implicit_lesson_data()
    model = mt.ImplicitALS(rank=24, reg=10.0, alpha=1.0, n_iters=3, solver="exact", seed=0).fit(train)
    return train, test, model


def run() -> list[Row]:
    train, test, model = lesson_data()
    detail = f"{train.shape[0]} x {train.shape[1]}, {len(train):,} interactions, rank 24"
    rows = [timed_row(TOPIC, "lesson 10 prepare_confidence_explorer (once per widget)",
                      lambda: prepare_confidence_explorer(model, train, test), repeats=21, detail=detail)]
    state = prepare_confidence_explorer(model, train, test)
    items, r = state.watched(LESSON_USER)
    rows.append(timed_row(TOPIC, "lesson 10 user_vector: one closed-form solve (one alpha)",
                          lambda: user_vector(state, items, r, LESSON_ALPHA, LESSON_REG), repeats=201,
                          detail=f"user {LESSON_USER} ({len(items)} interactions): V^T V + V_O^T (C - I) V_O + "
                                 "lambda I, one k x k solve"))
    rows.append(timed_row(TOPIC, "lesson 10 confidence_view at the lesson's defaults (compute per control change)",
                          lambda: confidence_view(state, LESSON_USER, LESSON_ALPHA, LESSON_REG), repeats=101,
                          target_max=COMPUTE_BUDGET_MS,
                          detail=f"alpha = {LESSON_ALPHA:g}, lambda = {LESSON_REG:g}, user {LESSON_USER}; the chosen "
                                 f"alpha plus the {len(ALPHAS)}-point alpha path (infinity: the exact limit)"))
    points = itertools.cycle(itertools.product(ALPHAS, REGS, range(0, train.shape[0], 41)))
    rows.append(timed_row(TOPIC, "lesson 10 confidence_view, every alpha and lambda and many users in turn",
                          lambda: confidence_view(state, *_user_first(next(points))), repeats=101,
                          target_max=COMPUTE_BUDGET_MS))
    explorer = confidence_explorer(model, train, test, user=LESSON_USER)
    update = ("compute + the 2-panel figure kept (still parts drawn once per rounded axis limits; lines, bars "
              "and the histogram's y axis moved) to PNG + caption + top 5 + Output update")
    rows.append(control_row(TOPIC, "lesson 10 confidence explorer: whole alpha slider update", explorer.alpha, ALPHAS,
                            explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail=update + "; every alpha in turn"))
    rows.append(control_row(TOPIC, "lesson 10 confidence explorer: whole lambda slider update", explorer.reg, REGS,
                            explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS, detail="every lambda in turn"))
    rows.append(control_row(TOPIC, "lesson 10 confidence explorer: whole user change", explorer.user,
                            range(1, train.shape[0], 53), explorer.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail="18 users in turn"))
    return rows


def _user_first(point):
    alpha, reg, user = point
    return user, alpha, reg


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target or '-'}: "
              f"{'met' if row.passed else 'MISSED' if row.passed is False else ''})")
