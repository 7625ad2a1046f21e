"""Neighbourhood retraining (issue 19), beside FIA's Figure 2: the quick part of the explanation
benchmarks.

On Figure 2's 100 tuned ML-100K points (``bench_fia.py``: biased ALS, k = 16, the validation-tuned
lambda, the rating with the largest |FIA| removed per point), each variant of
``mt.explain.local_retrain`` in ``bench_fia.LOCAL`` against the observed leave-one-out change:
Pearson R, slope and milliseconds per explanation; zero hops checked against exact_local; and the
cost-accuracy frontier of FIA, exact_local, the neighbourhood variants, ia_basic and the full
retrain (``results/fia_local_frontier.png``). Then the one-hop time at the MovieLens-1M shape,
k = 64 (``bench_fia_timing.local_timing``).

The observed changes are read from ``results/fia_validation.csv``, written by the last full run
of ``bench_fia.py`` (``make bench-full``: 100 full retrains to a relative objective decrease of
1e-11 take over an hour); the model is refitted here exactly as there (same split, seed and
tolerance), and the zero-hop row checks it is the same model: zero hops must equal that run's
exact_local values to 1e-8.
"""

from __future__ import annotations

import json

import pandas as pd
from bench_fia import N_ITERS, RANK, RESULTS, TOL, _plot_frontier, neighbourhood_retraining
from bench_fia_timing import local_timing
from harness import Row

import mfteach as mt

TOPIC = "fia_local"
FIGURES = [f"{TOPIC}_frontier.png"]


def _tuned() -> tuple[bool, float, str]:
    """(biased, lambda, when) of the validation-tuned model of the last full ``bench_fia`` run."""
    record = json.loads((RESULTS / "fia.json").read_text())
    row = next(r for r in record["rows"] if r["name"].startswith("ML-100K validation-tuned lambda"))
    return "(biased" in row["name"], float(row["value"]), record["machine"]["date"]


def run() -> list[Row]:
    biased, reg, when = _tuned()
    frame = pd.read_csv(RESULTS / "fia_validation.csv")
    frame = frame[frame["reg"] == reg].reset_index(drop=True)
    train, _ = mt.load_movielens("100k").split(how="leave_one_out", seed=0)
    model = mt.ALS(rank=RANK, reg=reg, biased=biased, n_iters=N_ITERS, tol=TOL).fit(train)
    name = f"{'biased' if biased else 'unbiased'} ALS, k={RANK}"
    label = f"{name}, lambda={reg:g} (tuned)"
    rows, frontier = neighbourhood_retraining(model, train, frame, label, N_ITERS)
    for row in rows:
        row.topic = TOPIC
        row.detail += f"; observed changes of the full run of {when} (results/fia_validation.csv)"
    _plot_frontier(frontier, name, reg, RESULTS / f"{TOPIC}_frontier.png")
    timing = local_timing()
    for row in timing:
        row.topic = TOPIC
    return rows + timing
