"""Fast influence analysis (KDD 2019), Figure 2: the agreement of FIA with leave-one-out retraining.
Table 2 (time per explanation) is ``bench_fia_timing.py``.

Figure 2 on MovieLens 100K. Split: one rating per user held out (``split(how="leave_one_out")``,
the paper's protocol). Model: unbiased ALS, k = 16, lambda chosen by validation RMSE (a second
leave-one-out split of the training set, grid ``GRID``), then refitted on the whole training set
and retrained to convergence. ``fia_vs_loo``: 100 random test points; for each, the training
rating with the largest |FIA| is removed and the model retrained (warm-started, to a relative
objective decrease <= ``TOL``); Pearson R, Spearman rho and slope (through the origin) of FIA,
``exact_local`` and ``ia_basic`` against the observed change. The same at smaller and larger
lambda (``SWEEP``, fewer points, looser tolerance, capped retrains): R against lambda, drawn to
``results/fia_r_vs_lambda.png`` with the points in ``results/fia_validation.csv``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from harness import Row

import mfteach as mt
from mfteach.explain.validation import agreement, fia_vs_loo

TOPIC = "fia"
RANK = 16
GRID = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0)
SWEEP = (2.0, 4.0, 16.0)          # besides the tuned lambda
N_POINTS, SWEEP_POINTS = 100, 25
TOL, SWEEP_TOL = 1e-11, 1e-10      # relative objective decrease at which a retrain stops
N_ITERS, SWEEP_ITERS = 4000, 1500  # iteration caps of the fits and retrains
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


def run() -> list[Row]:
    return validation()
