"""Rank-1 completion benchmarks: the puzzle widget's compute function at the lesson's size and
its whole redraw, and ``complete_rank1`` / ``fit_rank1`` on larger random problems."""

from __future__ import annotations

import itertools

import numpy as np
from harness import Row, timed_row

from mfteach.completion import complete_rank1, fit_rank1
from mfteach.widgets.rank1_puzzle import hidden_rank1, puzzle_state, rank1_puzzle_widget

TOPIC = "completion"
COMPUTE_BUDGET_MS = 100.0  # a compute callback must answer well within a blink
UPDATE_BUDGET_MS = 300.0   # the whole redraw, PNG included


def _random_rank1(m: int, n: int, density: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    M = np.outer(rng.uniform(0.5, 2.0, m), rng.uniform(0.5, 2.0, n))
    M[rng.random((m, n)) >= density] = np.nan
    return M


def run() -> list[Row]:
    hidden, _, _ = hidden_rank1(5, 6, seed=0)
    rng = np.random.default_rng(0)
    masks = [rng.random((5, 6)) < 0.4 for _ in range(16)]
    for mask in masks:
        mask[0, 0] = True
    cycle = itertools.cycle(masks)
    rows = [timed_row(TOPIC, "lessons 02-03 puzzle_state (compute per click)",
                      lambda: puzzle_state(hidden, next(cycle)), repeats=51, target_max=COMPUTE_BUDGET_MS,
                      detail="5 x 6 hidden matrix, random 40% reveals")]

    box = rank1_puzzle_widget(m=5, n=6, seed=0)
    buttons = itertools.cycle([b for row in box.buttons[1:] for b in row])

    def click():
        button = next(buttons)
        button.value = not button.value

    rows.append(timed_row(TOPIC, "lessons 02-03 puzzle: whole update per click", click, repeats=21,
                          target_max=UPDATE_BUDGET_MS, detail="compute + HTML table + graph PNG + Output update"))

    big = _random_rank1(2000, 1500, density=0.02)
    rows.append(timed_row(TOPIC, "complete_rank1 2000 x 1500, 2% known (60k entries)", lambda: complete_rank1(big),
                          repeats=5, detail="exact rank-1 data, one component"))
    noisy = big + 0.01 * np.random.default_rng(1).normal(size=big.shape)
    rows.append(timed_row(TOPIC, "fit_rank1 2000 x 1500, 2% known, noise 0.01", lambda: fit_rank1(noisy), repeats=3,
                          unit="s", detail="alternating least squares until the relative decrease < 1e-10"))
    return rows
