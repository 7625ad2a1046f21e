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


import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve

from ..als import ALS
from ..base import check_fitted, check_index, check_training_ratings
from ..ratings import Ratings

__all__ = ["influence_matrix", "influence", "check_user_call"]


def check_user_call(model, ratings: Ratings, user, values: bool = True, caller: str = "influence"
           ) -> tuple[np.ndarray, np.ndarray]:
    """Validate once; return the user's rated items Omega_u (sorted) and their ratings.

    ``ratings`` must be the model's training ratings (``check_training_ratings``); with
    ``values=False`` only their Omega must match (J does not depend on the rating values)."""
    if not isinstance(model, ALS):
        raise TypeError(f"influence needs a model fitted by mfteach.ALS (its user factors are the exact ridge "
                        f"solution for V_, eq. (2)); got {type(model).__name__}")
    check_fitted(model)
    check_training_ratings(model, ratings, caller, values=values)
    m = model.shape[0]
    user = check_index("user", user, m, "row")
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    if hi == lo:
        raise ValueError(f"user {user} has no ratings: there is nothing to explain the prediction with")
    return ratings.cols[lo:hi], ratings.values[lo:hi]


def _features(model: ALS, items=slice(None)) -> np.ndarray:
    """The item features f_i of the user half-step for ``items``: v_i, or (v_i, 1) for a biased model."""
    V = model.V_[items]
    return np.hstack([V, np.ones((V.shape[0], 1))]) if model.biased else V


def _gram_factor(model: ALS, F_rated: np.ndarray):
    """The Cholesky factor of A = F_Omega^T F_Omega + lambda I (lambda |Omega_u| for ALS-WR)."""
    reg = model.reg * (len(F_rated) if model.weighted_reg else 1.0)
    A = F_rated.T @ F_rated
    A[np.diag_indices_from(A)] += reg
    try:
        return cho_factor(A, check_finite=False)
    except np.linalg.LinAlgError:
        raise ValueError(f"the user's system F_Omega^T F_Omega + lambda I is singular ({len(F_rated)} ratings for "
                         f"{A.shape[0]} unknowns with reg={model.reg}): influence needs reg > 0 here") from None


def influence_matrix(model: ALS, ratings: Ratings, user: int) -> tuple[np.ndarray, np.ndarray]:
    """J (n items x the user's rated items) and the rated item indices: eq. (2) of FATREC 2017
    in our notation, J = F (F_Omega^T F_Omega + lambda I)^{-1} F_Omega^T with the model's lambda
    (lambda |Omega_u| for ALS-WR); F = V, or [V, 1] for a biased model (module docstring).

    J[i, k] = d r_hat_ui / d r_uk: column k is how every prediction of the user moves per star
    of change in the k-th rated item's rating (``items[k]``). Cost O(n k |Omega_u|); for one
    prediction use ``influence``, which forms only row J[item].

    ``ratings`` must have the (user, item) pairs the model was fitted on (ValueError otherwise);
    their values may differ, since J does not depend on them.
    """
    items, _ = check_user_call(model, ratings, user, values=False, caller="influence_matrix")
    F_rated = _features(model, items)
    return _features(model) @ cho_solve(_gram_factor(model, F_rated), F_rated.T, check_finite=False), items


def influence(model: ALS, ratings: Ratings, user: int, item: int) -> pd.DataFrame:
    """The user's rated items with their influence beta_k = J[item, k] and impact on the
    prediction for ``item`` (FATREC 2017, section 3), largest |influence| first.

    Only row ``item`` of J is formed: since A = F_Omega^T F_Omega + lambda I is symmetric,
    J[item] = f_item^T A^{-1} F_Omega^T = F_Omega (A^{-1} f_item), one k x k Cholesky factor
    and one solve for a vector, O(|Omega_u| k^2 + k^3) instead of the O(n k |Omega_u|) of
    ``influence_matrix``.

    Columns: item, title, rating, influence, impact. ``df.attrs`` holds the prediction and
    the baseline (mu + c_item for a biased model, 0 otherwise): baseline + impacts = prediction.

    ``ratings`` must be the ratings the model was fitted on (compared by ``Ratings.fingerprint``):
    other ratings, e.g. the test split, raise a ValueError that says which ones it was fitted on.
    """
    items, values = check_user_call(model, ratings, user)
    n = model.V_.shape[0]
    item = check_index("item", item, n, "column")
    F_rated = _features(model, items)
    f_item = _features(model, [item])[0]
    beta = F_rated @ cho_solve(_gram_factor(model, F_rated), f_item, check_finite=False)  # row J[item]
    prediction = model.U_[user] @ model.V_[item]
    if model.biased:
        baseline = model.mu_ + model.item_bias_[item]
        impact = beta * (values - model.mu_ - model.item_bias_[items])
        prediction += baseline + model.user_bias_[user]
    else:
        baseline = 0.0
        impact = beta * values
    order = np.argsort(-np.abs(beta), kind="stable")  # largest |influence| first; ties keep Omega_u order
    frame = pd.DataFrame({
        "item": items[order],
        "title": ratings.item_labels(items[order]),
        "rating": values[order],
        "influence": beta[order],
        "impact": impact[order],
    })
    frame.attrs["baseline"] = float(baseline)
    frame.attrs["prediction"] = float(prediction)
    return frame
