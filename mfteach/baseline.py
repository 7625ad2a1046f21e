r"""Baselines without latent factors: the global mean, and the biases-only model
r_hat_ui = mu + b_u + c_i (the "baseline" of Surprise's BaselineOnly; book eq. 9.4's bias term).

The biases minimize sum over Omega of (r_ui - mu - b_u - c_i)^2 + lambda_u sum b_u^2 + lambda_i sum c_i^2
with mu the mean training rating, by alternating exact updates (each is a 1-D ridge regression):

.. math::

    b_u = \frac{\sum_{i\in\Omega_u} (r_{ui} - \mu - c_i)}{\lambda_u + |\Omega_u|}, \qquad
    c_i = \frac{\sum_{u\in\Omega^i} (r_{ui} - \mu - b_u)}{\lambda_i + |\Omega^i|}.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from .base import (FactorModel, check_finite_fit, check_non_negative, check_positive_int, check_ratings,
                   non_finite_cause, remember_training)
from .ratings import Ratings

__all__ = ["Baseline", "Popularity"]


def _ratio(sums: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """sums / denominators, with 0 where the denominator is 0 (a user or item with no rating
    and no penalty: the minimum-norm bias, as in ALS)."""
    return np.divide(sums, denominators, out=np.zeros_like(sums), where=denominators > 0)


class Baseline(FactorModel):
    """r_hat_ui = mu + b_u + c_i (``biases=True``) or just mu (``biases=False``).

    Parameters
    ----------
    reg_user, reg_item : float
        lambda_u and lambda_i (Surprise's defaults are 15 and 10 for its ALS baseline).
    n_iters : int
        Alternations of the exact c_i and b_u updates.
    biases : bool
        False gives the global-mean predictor.

    Attributes
    ----------
    mu_, user_bias_, item_bias_, history_ (epoch, loss, train_rmse, [test_rmse], seconds);
    U_ and V_ have k = 0 columns, so the shared ``predict``/``recommend`` work unchanged.
    """

    biased = True  # predictions add mu + b_u + c_i (b = c = 0 with biases=False)

    def __init__(self, reg_user: float = 15.0, reg_item: float = 10.0, n_iters: int = 10, biases: bool = True):
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.n_iters = n_iters
        self.biases = biases

    def fit(self, ratings: Ratings, eval_set: Ratings | None = None) -> "Baseline":
        ratings = check_ratings("ratings", ratings)
        if eval_set is not None:
            check_ratings("eval_set", eval_set, ratings.shape)
        reg_user = check_non_negative("reg_user", self.reg_user)
        reg_item = check_non_negative("reg_item", self.reg_item)
        n_iters = check_positive_int("n_iters", self.n_iters)
        m, n = ratings.shape
        start = time.perf_counter()
        self.U_, self.V_ = np.zeros((m, 0)), np.zeros((n, 0))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below, with its cause
            self._fit_biases(ratings, eval_set, reg_user, reg_item, n_iters, start)
        check_finite_fit("Baseline", {"mu_": self.mu_, "user_bias_": self.user_bias_, "item_bias_": self.item_bias_,
                                      "loss": self.history_["loss"].to_numpy()},
                         lambda: non_finite_cause(ratings.values))
        return self

    def _fit_biases(self, ratings, eval_set, reg_user, reg_item, n_iters, start) -> None:
        m, n = ratings.shape
        rows, cols, values = ratings.rows, ratings.cols, ratings.values
        self.mu_ = float(values.mean())
        self.user_bias_, self.item_bias_ = np.zeros(m), np.zeros(n)
        remember_training(self, ratings)
        if self.biases:
            user_counts, item_counts = ratings.user_counts(), ratings.item_counts()
            for _ in range(n_iters):
                residual = values - self.mu_ - self.user_bias_[rows]
                self.item_bias_ = _ratio(np.bincount(cols, residual, n), reg_item + item_counts)
                residual = values - self.mu_ - self.item_bias_[cols]
                self.user_bias_ = _ratio(np.bincount(rows, residual, m), reg_user + user_counts)
        seconds = time.perf_counter() - start
        e = values - self.predict(rows, cols)
        loss = float(e @ e + reg_user * self.user_bias_ @ self.user_bias_ + reg_item * self.item_bias_ @ self.item_bias_)
        record = {"epoch": n_iters if self.biases else 0, "loss": loss / len(ratings),
                  "train_rmse": math.sqrt(float(e @ e) / len(ratings))}
        if eval_set is not None:
            record["test_rmse"] = self.rmse(eval_set)
        record["seconds"] = seconds
        self.history_ = pd.DataFrame([record])


class Popularity(FactorModel):
    """Recommend what most users interacted with: the score of item i is |Omega^i|, the same
    for every user (the non-personalized baseline every recommender must beat; lessons 10-11).

    Stored as factors with k = 1 (U_ = 1, V_ = the item counts) so ``predict``, ``recommend``
    and the ranking evaluation treat it like any other model.
    """

    def __init__(self):
        pass

    def fit(self, ratings: Ratings, eval_set: Ratings | None = None) -> "Popularity":
        ratings = check_ratings("ratings", ratings)
        m, n = ratings.shape
        self.item_counts_ = ratings.item_counts().astype(float)
        self.U_, self.V_ = np.ones((m, 1)), self.item_counts_[:, None].copy()
        remember_training(self, ratings)
        self.history_ = pd.DataFrame([{"epoch": 0, "seconds": 0.0}])
        return self
