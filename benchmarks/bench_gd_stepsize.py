"""Lesson 04's step-size explorer: the planted data prepared once, the pure compute function a
slider move runs (100 epochs of full GD on the 200 x 150 planted matrix, dense), and the whole
update (compute + two-panel PNG + Output), driven in plain Python as the tests do. Every
measured call is a setting not seen before (nothing comes from the caches)."""

from __future__ import annotations

import itertools
import os

from bench_widgets import update_row
from harness import Row, timed_row

from mfteach.widgets.gd_stepsize import (
    LEARNING_RATES, LESSON_LR, N_EPOCHS, REGS, gd_stepsize_explorer, prepare_stepsize, stepsize_run,
)

TOPIC = "gd_stepsize"
COMPUTE_BUDGET_MS = 100.0  # the compute callback of a slider move


def _load() -> str:
    one, _, _ = os.getloadavg()
    return f"load average {one:.1f} on {os.cpu_count()} cores while measuring"


def run() -> list[Row]:
    rows = [timed_row(TOPIC, "lesson 04 prepare_stepsize (once per widget)", prepare_stepsize, repeats=7)]
    data = prepare_stepsize()
    settings = itertools.cycle(itertools.product(LEARNING_RATES, REGS))

    def compute():
        data.runs.clear()  # a fresh run, not the cache
        stepsize_run(data, *next(settings))

    rows.append(timed_row(TOPIC, f"lesson 04 stepsize_run, {N_EPOCHS} epochs (compute per slider move)", compute,
                          repeats=31, target_max=COMPUTE_BUDGET_MS,
                          detail=f"every (lr, lambda) of the sliders in turn, blow-ups stop early; {_load()}"))
    explorer = gd_stepsize_explorer(data=prepare_stepsize())  # fresh caches: every move is a new run
    rows.append(update_row(TOPIC, "lesson 04 step-size explorer: learning-rate slider (whole update)", explorer.lr,
                           [v for v in LEARNING_RATES if v != LESSON_LR], repeats=10,
                           detail=f"a new lr each move: 100 epochs of full GD + caption + 2 panels blitted to PNG; "
                                  f"{_load()}"))
    explorer = gd_stepsize_explorer(data=prepare_stepsize())
    rows.append(update_row(TOPIC, "lesson 04 step-size explorer: lambda slider (whole update)", explorer.reg,
                           [v for v in REGS if v != 0.0], repeats=5,
                           detail=f"a new lambda each move: the run and the lr = 20 reference + caption + 2 panels "
                                  f"blitted to PNG; {_load()}"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target}: {'met' if row.passed else 'MISSED'})")
