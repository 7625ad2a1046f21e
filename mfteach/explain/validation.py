"""FIA against leave-one-out retraining: the evaluation protocol of KDD 2019, section 4.1.2 and
Figure 2, shared by lesson 15 and benchmarks/bench_fia.py.

For random test points (u, i), FIA scores every rating z in R_t; the rating with the largest
|FIA| is removed and the model retrained without it (warm-started, to convergence); the
observed change y_hat - y_hat_{-z} is compared with FIA, the exact local leave-one-out
(``exact_local``) and, optionally, basic influence analysis over all parameters (``ia_basic``).
The paper keeps only the largest influence of each test point so that small influences are not
drowned by the noise of retraining.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..base import check_positive_int, check_ratings
from ..ratings import Ratings
from ..retraining import retrain
from ._mf import FullProblem, objective_of
from ._problem import SIDES
from .fast_influence import local_influence

__all__ = ["fia_vs_loo", "agreement"]

METHODS = ("fia", "exact_local", "ia_basic")


def _test_points(test, n_points: int, seed: int) -> np.ndarray:
    if isinstance(test, Ratings):
        n_points = min(check_positive_int("n_points", n_points), len(test))
        picks = np.random.default_rng(seed).choice(len(test), n_points, replace=False)
        return np.column_stack([test.rows[picks], test.cols[picks]])
    points = np.asarray(test)
    if points.ndim != 2 or points.shape[1] != 2 or not np.issubdtype(points.dtype, np.integer):
        raise ValueError(f"test must be a Ratings or an array of (user, item) index pairs, got shape {points.shape}")
    return points


def fia_vs_loo(model, train: Ratings, test, n_points: int = 100, seed: int = 0, ia: bool = False,
               n_iters: int | None = None, tol: float | None = None, damping: float = 1e-6, ia_tol: float = 1e-6,
               verbose: bool = True) -> pd.DataFrame:
    """Estimated against observed influence at ``n_points`` random test points (Figure 2).

    The model is first retrained on ``train`` to convergence (``mt.retrain`` with ``n_iters`` and
    ``tol``, None: its defaults; immediate when it already is): all estimates and retrains start
    from that converged reference, so no drift needs subtracting. Per test point (u, i) (drawn from the Ratings
    ``test`` with ``seed``, or given as an array of index pairs): z = argmax |FIA| over R_t;
    observed = y_hat_ref(u, i) - y_hat(u, i) after retraining on train without z.

    Returns
    -------
    DataFrame, one row per test point: user, item, removed_user, removed_item, side, fia,
    exact_local (NaN when (u, i) is itself a training rating), [ia_basic], observed,
    retrain_iterations. ``attrs["reference_iterations"]``: iterations the reference needed.
    """
    check_ratings("train", train, model.shape)
    points = _test_points(test, n_points, seed)
    reference = retrain(model, train, n_iters=n_iters, tol=tol)
    objective = objective_of(reference)
    problem = FullProblem(objective, train) if ia else None
    keys = train.rows * train.shape[1] + train.cols
    records = []
    iterator = points
    if verbose:
        from tqdm.auto import tqdm

        iterator = tqdm(points, desc="FIA vs leave-one-out", unit="point")
    for user, item in iterator:
        user, item = int(user), int(item)
        key = user * train.shape[1] + item
        rated = keys[min(np.searchsorted(keys, key), len(keys) - 1)] == key
        rows, cols, _, sides, first, exact, prediction = local_influence(objective, train, user, item,
                                                                         exact_local=not rated)
        top = int(np.argmax(np.abs(first)))
        z_user, z_item = int(rows[top]), int(cols[top])
        record = {"user": user, "item": item, "removed_user": z_user, "removed_item": z_item,
                  "side": SIDES[sides[top]], "fia": first[top],
                  "exact_local": np.nan if exact is None else exact[top]}
        if ia:
            s, _ = problem.solve(user, item, damping, ia_tol)
            record["ia_basic"] = float(problem.removal_influence(s, np.array([z_user]), np.array([z_item]))[0])
        retrained = retrain(reference, train, removed=(z_user, z_item), n_iters=n_iters, tol=tol)
        record["observed"] = prediction - float(retrained.predict([user], [item])[0])
        record["retrain_iterations"] = len(retrained.history_) - 1 if hasattr(retrained, "history_") else np.nan
        records.append(record)
    frame = pd.DataFrame(records)
    frame.attrs["reference_iterations"] = len(reference.history_) - 1
    return frame


def agreement(frame: pd.DataFrame, methods=None) -> pd.DataFrame:
    """Pearson R, Spearman rho and slope of each estimate against ``frame["observed"]``.

    slope: least-squares slope through the origin of the estimate on the observed change
    (sum est * obs / sum obs^2): 1 = the right scale, < 1 = the estimate is too small.
    ``methods``: columns to compare (default: those of fia, exact_local, ia_basic present).
    """
    from scipy import stats  # here, not at import: scipy.stats takes 1-3 s to import (first widget cell)

    methods = [m for m in METHODS if m in frame.columns] if methods is None else list(methods)
    observed = frame["observed"].to_numpy(dtype=float)
    rows = {}
    for method in methods:
        estimate = frame[method].to_numpy(dtype=float)
        ok = np.isfinite(estimate) & np.isfinite(observed)
        est, obs = estimate[ok], observed[ok]
        rows[method] = {"pearson": stats.pearsonr(est, obs)[0] if ok.sum() > 1 else np.nan,
                        "spearman": stats.spearmanr(est, obs)[0] if ok.sum() > 1 else np.nan,
                        "slope": float(est @ obs / (obs @ obs)) if ok.any() else np.nan,
                        "n": int(ok.sum())}
    return pd.DataFrame.from_dict(rows, orient="index")
