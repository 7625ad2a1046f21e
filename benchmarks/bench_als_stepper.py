"""Lesson 06's ALS stepper on the slides' 4 x 6 example (k = 2, 25 sweeps = 50 half-steps): the
sequence computed once per lambda, the pure compute function a step move runs (a lookup), and
the whole updates, driven in plain Python as the tests do. Every measured update shows a
(lambda, half-step) not seen before (nothing comes from the PNG cache)."""

from __future__ import annotations

import itertools
import os

from bench_widgets import update_row
from harness import Row, timed_row

import mfteach as mt
from mfteach.widgets.als_stepper import N_SWEEPS, REGS, als_sequence, als_step_explorer, als_step_view

TOPIC = "als_stepper"
COMPUTE_BUDGET_MS = 100.0  # the compute callback of a slider move


def _load() -> str:
    one, _, _ = os.getloadavg()
    return f"load average {one:.1f} on {os.cpu_count()} cores while measuring"


def run() -> list[Row]:
    R = mt.toy("lecture_R")
    regs = itertools.cycle(REGS)
    rows = [timed_row(TOPIC, f"lesson 06 als_sequence, {N_SWEEPS} sweeps (once per lambda)",
                      lambda: als_sequence(R, next(regs)), repeats=21, target_max=COMPUTE_BUDGET_MS,
                      detail=f"every lambda of the slider in turn; {_load()}")]
    sequence = als_sequence(R, 0.1)
    steps = itertools.cycle(range(2 * N_SWEEPS + 1))
    rows.append(timed_row(TOPIC, "lesson 06 als_step_view (compute per step move)",
                          lambda: als_step_view(sequence, next(steps)), repeats=101, target_max=COMPUTE_BUDGET_MS,
                          detail="a lookup; every half-step in turn"))
    explorer = als_step_explorer()
    rows.append(update_row(TOPIC, "lesson 06 ALS stepper: half-step slider (whole update)", explorer.step,
                           range(1, 2 * N_SWEEPS + 1), repeats=31,
                           detail=f"a half-step not seen before: lookup + caption + 4 HTML matrices + loss panel "
                                  f"blitted to PNG; {_load()}"))
    rows.append(update_row(TOPIC, "lesson 06 ALS stepper: lambda slider (whole update, a new lambda)", explorer.reg,
                           [r for r in REGS if r != 0.1], repeats=5,
                           detail=f"als_sequence for the new lambda + the loss axis, title and points drawn over the kept "
                                  f"background; {_load()}"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.value:.3g} {row.unit} (target {row.target}: {'met' if row.passed else 'MISSED'})")
