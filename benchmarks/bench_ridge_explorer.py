"""Lesson 14's 1-D ridge influence explorer: the pure compute function a slider move runs
(``ridge_influence``: both fits, the estimate and the exact change of every point) and the whole
update (compute + two-panel PNG + Output), on the lesson's twenty points (seed 0, the last one far
out), lambda = 1, x_t = 2. Every timed move draws a figure the explorer has not drawn before (one
row revisits figures already drawn)."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, control_row, timed_row

from mfteach.widgets.ridge_explorer import LAMBDAS, ridge_influence, ridge_influence_explorer

TOPIC = "ridge_explorer"
COMPUTE_BUDGET_MS = 100.0  # the compute callback of a slider move
UPDATE_BUDGET_MS = 100.0   # the whole update: compute + drawing + PNG + Output
LAM, X_T = 1.0, 2.0        # the lesson's lambda and test input


def lesson_points(n: int = 20, seed: int = 0):
    """Lesson 14's points: y = 0.8 x + noise, the last one far out (x = 3.5) and below the line."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.8 * x + 0.5 * rng.normal(size=n)
    x[-1], y[-1] = 3.5, 0.5
    return x, y


def run() -> list[Row]:
    x, y = lesson_points()
    points = itertools.cycle(range(x.size))
    rows = [timed_row(TOPIC, "lesson 14 ridge_influence (compute per slider move)",
                      lambda: ridge_influence(x, y, LAM, X_T, next(points)), repeats=101, target_max=COMPUTE_BUDGET_MS,
                      detail=f"N = {x.size} points, every point in turn")]
    update = ("compute + caption + the 2-panel figure kept (axes, legends, left y axis drawn once; points, lines "
              "and the right y axis moved) to PNG + Output update, a figure not drawn before each move")
    explorer = ridge_influence_explorer(x, y, lam=LAM, x_t=X_T, removed=x.size - 1)
    order = [value for _, value in explorer.point.options]
    fresh = iter(order[-2::-1])  # every other point, walking left from the far one: none drawn yet

    def move_point_slider():
        explorer.point.value = next(fresh)

    rows.append(timed_row(TOPIC, "lesson 14 ridge explorer: whole point-slider update", move_point_slider,
                          repeats=x.size - 2, warmup=1, target_max=UPDATE_BUDGET_MS, detail=update))
    # every lambda but the start, for three points in turn: each move a figure not drawn before
    others = [v for v in LAMBDAS if v != LAM]
    starts = [x.size - 1, order[0], order[len(order) // 2]]
    explorers = [ridge_influence_explorer(x, y, lam=LAM, x_t=X_T, removed=z) for z in starts]
    moves = iter([(box, lam) for box in explorers for lam in others])

    def move_lambda_slider():
        box, lam = next(moves)
        box.lam.value = lam

    rows.append(timed_row(TOPIC, "lesson 14 ridge explorer: whole lambda-slider update", move_lambda_slider,
                          repeats=len(starts) * len(others) - 1, warmup=1, target_max=UPDATE_BUDGET_MS, detail=update))
    revisit = ridge_influence_explorer(x, y, lam=LAM, x_t=X_T)
    for value in order:  # every point drawn once: the timed moves find their figure kept
        revisit.point.value = value
    rows.append(control_row(TOPIC, "lesson 14 ridge explorer: point-slider update, figure already drawn",
                            revisit.point, order, revisit.out, repeats=31, target_max=UPDATE_BUDGET_MS,
                            detail="compute + caption + the kept PNG + Output update"))
    rows.append(timed_row(TOPIC, "lesson 14 ridge explorer: build (first figure)",
                          lambda: ridge_influence_explorer(x, y, lam=LAM, x_t=X_T), repeats=3))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target or '-'}: "
              f"{'' if row.passed is None else 'met' if row.passed else 'MISSED'})")
