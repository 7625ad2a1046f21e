"""Fast influence analysis (KDD 2019): Figure 2, the agreement with leave-one-out retraining, and
Table 2, the time per explanation of FIA and of basic influence analysis (IA).

Figure 2 on MovieLens 100K. Split: one rating per user held out (``split(how="leave_one_out")``,
the paper's protocol). Model: unbiased ALS, k = 16, lambda chosen by validation RMSE (a second
leave-one-out split of the training set, grid ``GRID``), then refitted on the whole training set
and retrained to convergence. ``fia_vs_loo``: 100 random test points; for each, the training
rating with the largest |FIA| is removed and the model retrained (warm-started, to a relative
objective decrease <= ``TOL``); Pearson R, Spearman rho and slope (through the origin) of FIA,
``exact_local`` and ``ia_basic`` against the observed change. The same at smaller and larger
lambda (``SWEEP``, fewer points, looser tolerance, capped retrains): R against lambda, drawn to
``results/fia_r_vs_lambda.png`` with the points in ``results/fia_validation.csv``.

Table 2: median time of one explanation (INFL of every rating in R_t for one test point) by
``fia`` and by ``ia_basic`` (conjugate gradients on the full Hessian, tol 1e-6, the paper's
damping) for k in ``RANKS``, on ML-100K and on synthetic data shaped like MovieLens-1M
(6040 x 3706, 1,000,209 ratings), in one run.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from harness import Row

import mfteach as mt
from mfteach.explain.fia import fia, ia_basic
from mfteach.explain.validation import agreement, fia_vs_loo

TOPIC = "fia"
RANK = 16
GRID = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0)
SWEEP = (2.0, 4.0, 16.0)          # besides the tuned lambda
N_POINTS, SWEEP_POINTS = 100, 25
TOL, SWEEP_TOL = 1e-11, 1e-10      # relative objective decrease at which a retrain stops
N_ITERS, SWEEP_ITERS = 4000, 1500  # iteration caps of the fits and retrains
RANKS = (8, 16, 32, 64, 128, 256)
ML1M_SHAPE, ML1M_RATINGS = (6040, 3706), 1_000_209
RESULTS = Path(__file__).resolve().parent / "results"


def tuned_reg(train, grid=GRID) -> tuple[float, dict]:
    """lambda with the lowest RMSE on a leave-one-out validation split of ``train``."""
    fit_part, validation = train.split(how="leave_one_out", seed=1)
    scores = {reg: mt.ALS(rank=RANK, reg=reg, n_iters=60).fit(fit_part).rmse(validation) for reg in grid}
    return min(scores, key=scores.get), scores


def _agreement_rows(label: str, frame: pd.DataFrame, how: str, target: bool) -> list[Row]:
    rows = []
    for method, stats in agreement(frame).iterrows():
        row = Row(TOPIC, f"{label}: Pearson R, {method} vs leave-one-out", stats["pearson"], "",
                  detail=f"{len(frame)} ML-100K test points, {how}; Spearman {stats['spearman']:.3f}, "
                         f"slope {stats['slope']:.3f}",
                  extra={"spearman": stats["spearman"], "slope": stats["slope"], "n": int(stats["n"])})
        if target and method == "fia":
            row.target, row.passed = ">= 0.98", stats["pearson"] >= 0.98
        rows.append(row)
    return rows


def _plot(sweep: pd.DataFrame, tuned: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method, style in (("fia", "o-"), ("exact_local", "s--"), ("ia_basic", "^:")):
        ax.plot(sweep["reg"], sweep[method], style, label=method)
    ax.axvline(tuned, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="lambda (summed objective; grey: tuned on validation)",
           ylabel="Pearson R vs leave-one-out")
    ax.set_xticks(sweep["reg"], [f"{reg:g}" for reg in sweep["reg"]])
    ax.minorticks_off()
    ax.set_title(f"FIA vs retraining, ML-100K, ALS k={RANK}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def validation(n_points: int = N_POINTS, sweep_points: int = SWEEP_POINTS, sweep=SWEEP, grid=GRID,
               n_iters: int = N_ITERS) -> list[Row]:
    ml = mt.load_movielens("100k")
    train, test = ml.split(how="leave_one_out", seed=0)
    reg, scores = tuned_reg(train, grid)
    rows = [Row(TOPIC, "ML-100K validation-tuned lambda (ALS, k=16)", reg, "",
                detail="validation RMSE " + ", ".join(f"{r:g}: {s:.4f}" for r, s in scores.items()))]
    frames, summary = [], []
    for lam in sorted({reg, *sweep}):
        main = lam == reg
        start = time.perf_counter()
        model = mt.ALS(rank=RANK, reg=lam, n_iters=n_iters, tol=TOL).fit(train)
        frame = fia_vs_loo(model, train, test, n_points=n_points if main else sweep_points, seed=0, ia=True,
                           n_iters=n_iters if main else SWEEP_ITERS, tol=TOL if main else SWEEP_TOL)
        frame["reg"] = lam
        frames.append(frame)
        summary.append({"reg": lam, **agreement(frame)["pearson"].to_dict()})
        label = f"lambda={lam:g}" + (" (tuned)" if main else "")
        how = (f"retrained to tol {TOL:g}" if main else
               f"retrained to tol {SWEEP_TOL:g} (at most {SWEEP_ITERS} iterations)")
        rows += _agreement_rows(label, frame, "the rating with the largest |FIA| removed, ALS " + how, target=main)
        rows.append(Row(TOPIC, f"{label}: minutes for the comparison", (time.perf_counter() - start) / 60, "min",
                        detail=f"converged fit ({len(model.history_) - 1} iterations) and {len(frame)} retrains, "
                               f"median {frame['retrain_iterations'].median():.0f} iterations each"))
    RESULTS.mkdir(exist_ok=True)
    pd.concat(frames).to_csv(RESULTS / "fia_validation.csv", index=False)
    _plot(pd.DataFrame(summary), reg, RESULTS / "fia_r_vs_lambda.png")
    return rows


def _test_points(ratings, count: int, seed: int = 0) -> list[tuple[int, int]]:
    """Random (user, item) pairs that are not training ratings."""
    rng = np.random.default_rng(seed)
    keys = set((ratings.rows * ratings.shape[1] + ratings.cols).tolist())
    points = []
    while len(points) < count:
        user, item = int(rng.integers(ratings.shape[0])), int(rng.integers(ratings.shape[1]))
        if user * ratings.shape[1] + item not in keys:
            points.append((user, item))
    return points


def timing(ranks=RANKS, fia_points: int = 100, ia_points: int = 1, ia_maxiter: int = 3000) -> list[Row]:
    """Table 2. IA's conjugate gradients need a trained model (far from a minimizer H is indefinite
    and CG does not converge): ALS is fitted to a relative objective decrease of 1e-8 on ML-100K
    and for 10 iterations on the ML-1M shape (planted low rank: it converges fast)."""
    ml_train, _ = mt.load_movielens("100k").split(how="leave_one_out", seed=0)
    big, _, _ = mt.synthetic(*ML1M_SHAPE, rank=10, n_ratings=ML1M_RATINGS, seed=0)
    cases = [("ML-100K", ml_train, dict(reg=8.0, n_iters=1500, tol=1e-8)),
             ("ML-1M shape", big, dict(reg=10.0, n_iters=10))]
    rows = []
    for label, ratings, settings in cases:
        points = _test_points(ratings, fia_points)
        for rank in ranks:
            model = mt.ALS(rank=rank, **settings).fit(ratings)
            fitted = f"ALS lambda={settings['reg']:g}, {len(model.history_) - 1} iterations"
            fia(model, ratings, *points[0])  # builds the per-Ratings item index once
            seconds = []
            for user, item in points:
                start = time.perf_counter()
                fia(model, ratings, user, item)
                seconds.append(time.perf_counter() - start)
            fia_ms = float(np.median(seconds)) * 1e3
            ia_seconds, iterations = [], []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                for user, item in points[:ia_points]:
                    start = time.perf_counter()
                    frame = ia_basic(model, ratings, user, item, maxiter=ia_maxiter)
                    ia_seconds.append(time.perf_counter() - start)
                    iterations.append(frame.attrs["cg_iterations"])
            ia_s = float(np.median(ia_seconds))
            speedup = ia_s / (fia_ms / 1e3)
            fia_row = Row(TOPIC, f"{label} k={rank}: FIA per explanation", fia_ms, "ms",
                          detail=f"median over {len(points)} test points (min {min(seconds) * 1e3:.3g}, max "
                                 f"{max(seconds) * 1e3:.3g} ms); {fitted}")
            converged = "converged" if not caught else f"NOT converged within {ia_maxiter} iterations"
            ia_row = Row(TOPIC, f"{label} k={rank}: basic IA (CG) per explanation", ia_s, "s",
                         detail=f"median over {len(ia_seconds)} test point(s); CG iterations {iterations}, tol 1e-6, "
                                f"{converged}")
            ratio_row = Row(TOPIC, f"{label} k={rank}: IA time / FIA time", speedup, "x",
                            detail="same models, same run")
            if label == "ML-1M shape" and rank == 64:
                fia_row.target, fia_row.passed = "<= 2 ms", fia_ms <= 2.0
                ratio_row.target, ratio_row.passed = ">= 1000 x", speedup >= 1000
            rows += [fia_row, ia_row, ratio_row]
    return rows


def run() -> list[Row]:
    return validation() + timing()
