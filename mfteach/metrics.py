"""Accuracy metrics for predicted ratings and ranking metrics for top-k recommendation lists.

Rating metrics compare predictions r_hat_ui with held-out ratings r_ui over a test set:
RMSE = sqrt(mean (r_ui - r_hat_ui)^2) (the Netflix prize's measure, book 9.2.3) and
MAE = mean |r_ui - r_hat_ui|.

Ranking metrics score ONE user's ranked list ``recommended`` (best first) against the set of
items that user found ``relevant`` (e.g. held-out items), with binary relevance:

- precision@k = |top-k ∩ relevant| / k
- recall@k    = |top-k ∩ relevant| / |relevant|
- nDCG@k      = DCG@k / IDCG@k, DCG@k = sum_{p=1..k} rel_p / log2(p + 1), and IDCG@k the DCG of
  a perfect list (all relevant items first).

A list shorter than k counts its missing positions as misses (precision still divides by k).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["rmse", "mae", "precision_at_k", "recall_at_k", "ndcg_at_k", "ranking_report", "evaluate_ranking"]


def _paired(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty: there is nothing to score")
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isfinite(array).all():
            k = int(np.flatnonzero(~np.isfinite(array.ravel()))[0])
            raise ValueError(f"{name} must be finite; entry {k} is {array.ravel()[k]}")
    return y_true, y_pred


def rmse(y_true, y_pred) -> float:
    """Root mean squared error sqrt(mean((y_true - y_pred)^2))."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error mean(|y_true - y_pred|)."""
    y_true, y_pred = _paired(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def _hits(recommended, relevant, k: int) -> tuple[np.ndarray, set]:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    top = list(recommended)[:k]
    if len(set(top)) != len(top):
        raise ValueError(f"recommended has a repeated item in its top {k}: {top}")
    relevant = set(np.asarray(list(relevant)).tolist())
    return np.array([item in relevant for item in np.asarray(top).tolist()], dtype=bool), relevant


def precision_at_k(recommended, relevant, k: int = 10) -> float:
    """Share of the top-k recommendations that are relevant: |top-k ∩ relevant| / k."""
    hits, _ = _hits(recommended, relevant, k)
    return float(hits.sum() / k)


def recall_at_k(recommended, relevant, k: int = 10) -> float:
    """Share of the relevant items found in the top k: |top-k ∩ relevant| / |relevant|."""
    hits, relevant = _hits(recommended, relevant, k)
    if not relevant:
        raise ValueError("relevant is empty: recall is undefined for a user with no relevant items")
    return float(hits.sum() / len(relevant))


def ndcg_at_k(recommended, relevant, k: int = 10) -> float:
    """Normalized discounted cumulative gain with binary relevance (see module docstring)."""
    hits, relevant = _hits(recommended, relevant, k)
    if not relevant:
        raise ValueError("relevant is empty: nDCG is undefined for a user with no relevant items")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(discounts[: len(hits)][hits].sum())
    idcg = float(discounts[: min(k, len(relevant))].sum())
    return dcg / idcg


def ranking_report(scores: np.ndarray, train, test, k: int = 10) -> pd.DataFrame:
    """Per-user precision@k, recall@k and nDCG@k of the top-k lists ranked by ``scores``.

    ``scores`` is the m x n matrix of a model's scores; every user's top k is taken among the
    items they did NOT interact with in ``train`` (those are set to -inf), and the relevant
    items are the user's items in ``test`` (the per-user holdout protocol). Users with no test
    item are left out. The same numbers as ``precision_at_k`` etc. applied user by user, for
    all users at once (one ``argpartition``).

    Returns a DataFrame indexed by user with columns precision, recall, ndcg, n_relevant.
    """
    scores = np.array(scores, dtype=float)
    m, n = train.shape
    if scores.shape != (m, n) or test.shape != (m, n):
        raise ValueError(f"scores, train and test must all be {m} x {n}, got {scores.shape} and {test.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, {n}], got {k!r}")
    scores[train.rows, train.cols] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: the lower item index first, as in recommend
    relevant = np.zeros((m, n), dtype=bool)
    relevant[test.rows, test.cols] = True
    n_relevant = relevant.sum(axis=1)
    hits = np.take_along_axis(relevant, top, axis=1) & np.isfinite(np.take_along_axis(scores, top, axis=1))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    users = np.flatnonzero(n_relevant > 0)
    return pd.DataFrame({
        "precision": hits[users].sum(axis=1) / k,
        "recall": hits[users].sum(axis=1) / n_relevant[users],
        "ndcg": (hits[users] * discounts).sum(axis=1) / ideal[users],
        "n_relevant": n_relevant[users],
    }, index=pd.Index(users, name="user"))


def evaluate_ranking(model, train, test, k: int = 10) -> pd.Series:
    """Mean precision@k, recall@k and nDCG@k of a fitted ``model`` (its ``predict_matrix``)
    over the users with held-out items in ``test`` (see ``ranking_report``)."""
    report = ranking_report(model.predict_matrix(), train, test, k)
    summary = report[["precision", "recall", "ndcg"]].mean()
    summary.index = [f"{name}@{k}" for name in summary.index]
    return summary
