r"""Influence and impact of a user's past ratings on a prediction (Rastegarpanah, Crovella,
Gummadi, "Exploring Explanations for Matrix Factorization Recommender Systems", FATREC 2017).

In our notation (users in rows; the paper stores items in rows and users in columns): with V
fixed, ALS's user half-step is linear in the user's ratings r_{Omega_u},

.. math::

    u_u = (V_\Omega^\top V_\Omega + \lambda I)^{-1} V_\Omega^\top r_{\Omega_u},
    \qquad \hat r_{u\cdot} = V u_u = J\, r_{\Omega_u},
    \qquad J = V (V_\Omega^\top V_\Omega + \lambda I)^{-1} V_\Omega^\top ,

which is the paper's eq. (2), f(x_j) = U^T (U W_j U^T)^{-1} U W_j x_j, with its lambda = 0.
Under the paper's Hypothesis 1 (changing one rating of a user moves essentially only that
user's vector) the influence of past rating k on the prediction for item i is
beta_k = d r_hat_ui / d r_uk = J[i, k], and its impact gamma_k = beta_k r_uk; the impacts sum to
the prediction. J depends on WHICH items the user rated, not on the rating values.

Biased models (r_hat = mu + b_u + c_i + u_u . v_i): the user half-step solves for (u_u, b_u)
with features f_i = (v_i, 1) and targets r_ui - mu - c_i, so with F = [V, 1],
J = F (F_Omega^T F_Omega + lambda I)^{-1} F_Omega^T and

    r_hat_ui = mu + c_i + sum_k J[i, k] (r_uk - mu - c_k):

the impact of rating k is J[i, k] (r_uk - mu - c_k), and the baseline mu + c_i is reported
beside the impacts (their sum plus the baseline is the prediction).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from ..als import ALS
from ..base import check_ratings
from ..ratings import Ratings

__all__ = ["influence_matrix", "influence"]


def _check(model, ratings: Ratings, user) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(model, ALS):
        raise TypeError(f"influence needs a model fitted by mfteach.ALS (its user factors are the exact ridge "
                        f"solution for V_, eq. (2)); got {type(model).__name__}")
    model._check_fitted()
    check_ratings("ratings", ratings, model.shape)
    m = model.shape[0]
    if isinstance(user, bool) or not isinstance(user, numbers.Integral) or not 0 <= user < m:
        raise ValueError(f"user must be a row index in [0, {m}), got {user!r}")
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    if hi == lo:
        raise ValueError(f"user {user} has no ratings: there is nothing to explain the prediction with")
    return ratings.cols[lo:hi], ratings.values[lo:hi]


def _features(model: ALS) -> np.ndarray:
    """The item features of the user half-step: V, or [V, 1] for a biased model."""
    return np.hstack([model.V_, np.ones((model.V_.shape[0], 1))]) if model.biased else model.V_


def influence_matrix(model: ALS, ratings: Ratings, user: int) -> tuple[np.ndarray, np.ndarray]:
    """J (n items x the user's rated items) and the rated item indices: eq. (2) of FATREC 2017
    in our notation, with the model's lambda (lambda |Omega_u| for ALS-WR); see the module
    docstring for the biased case."""
    items, _ = _check(model, ratings, user)
    F = _features(model)
    F_rated = F[items]
    reg = model.reg * (len(items) if model.weighted_reg else 1.0)
    A = F_rated.T @ F_rated + reg * np.eye(F.shape[1])
    return F @ np.linalg.solve(A, F_rated.T), items


def influence(model: ALS, ratings: Ratings, user: int, item: int) -> pd.DataFrame:
    """The user's rated items with their influence beta_k = J[item, k] and impact on the
    prediction for ``item`` (FATREC 2017, section 3), largest |influence| first.

    Columns: item, title, rating, influence, impact. ``df.attrs`` holds the prediction and
    the baseline (mu + c_item for a biased model, 0 otherwise): baseline + impacts = prediction.
    """
    J, items = influence_matrix(model, ratings, user)
    _, values = _check(model, ratings, user)
    if isinstance(item, bool) or not isinstance(item, numbers.Integral) or not 0 <= item < J.shape[0]:
        raise ValueError(f"item must be a column index in [0, {J.shape[0]}), got {item!r}")
    beta = J[item]
    if model.biased:
        baseline = model.mu_ + model.item_bias_[item]
        impact = beta * (values - model.mu_ - model.item_bias_[items])
    else:
        baseline = 0.0
        impact = beta * values
    frame = pd.DataFrame({
        "item": items,
        "title": ratings.item_labels(items),
        "rating": values,
        "influence": beta,
        "impact": impact,
    }).sort_values("influence", key=np.abs, ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["baseline"] = float(baseline)
    frame.attrs["prediction"] = float(model.predict([user], [item])[0])
    return frame
