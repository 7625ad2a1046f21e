r"""Fast influence analysis of matrix-factorization predictions (Cheng, Shen, Huang, Zhu,
"Incorporating Interpretability into Latent Factor Models via Fast Influence Analysis", KDD 2019).

The question (eq. 10): how much does the training rating z = (a, j, r_aj) move the prediction
y_hat = r_hat_ui? Its influence is

.. math:: \mathrm{INFL}(z) = \hat y(\theta) - \hat y(\theta_{-z}),

positive when z pushed the prediction up; theta_{-z} is the model retrained without z.

Scale (eqs. 6-11 in our notation). ``mt.ALS`` minimizes the SUMMED objective

.. math::

    S(\theta) = \sum_{(a,j)\in\Omega} e_{aj}^2 + \lambda\Big(\sum_a \rho_a (\|u_a\|^2 + b_a^2)
                + \sum_j \rho_j (\|v_j\|^2 + c_j^2)\Big),
    \qquad e_{aj} = r_{aj} - \mu - b_a - c_j - u_a^\top v_j,

with rho = 1 (rho_a = |Omega_a|, rho_j = |Omega^j| for ALS-WR; no b, c when unbiased; mu is a
constant). Removing z turns S into S - l(z) with l(z) = e_z^2 (ALS-WR also loses one penalty
share: l(z) = e_z^2 + lambda (||u_a||^2 + b_a^2 + ||v_j||^2 + c_j^2)). One Newton step from the
minimizer theta (where grad S = 0) gives theta_{-z} - theta ~ H^{-1} grad l(z), H = grad^2 S,
hence, to first order,

.. math:: \mathrm{INFL}(z) \approx -\nabla\hat y^\top H^{-1} \nabla l(z).            \qquad (11)

The paper writes the mean R = S / n, the Hessian H_R = H / n and removal as the weight
epsilon = -1/n: -(1/n) grad y^T (H/n)^{-1} grad l = -grad y^T H^{-1} grad l, the same number.
``mt.GradientDescent`` minimizes S / |Omega| (same minimizer, same lambda): its factor cancels the
same way, so every formula below uses the summed S for both models. A GradientDescent model
stops after a fixed number of epochs, so its fitted point is only approximately stationary
(grad S != 0); eq. (11) and the Newton step assume grad S = 0, and ``loo_influence`` subtracts
the drift of a retrain with nothing removed for that reason.

FIA (eqs. 15-19). y_hat depends on theta_t = (w_u, w_i) only, w_u = (u_u, b_u), w_i = (v_i, c_i)
(no biases when unbiased). Holding every other factor fixed, theta_t minimizes the local part of S,

.. math::

    S_t = \sum_{j\in\Omega_u} (t_{uj} - x_j^\top w_u)^2 + \lambda\rho_u\|w_u\|^2
        + \sum_{a\in\Omega^i} (t_{ai} - y_a^\top w_i)^2 + \lambda\rho_i\|w_i\|^2,

with the item features x_j = (v_j, 1), the user features y_a = (u_a, 1) and the targets
t_uj = r_uj - mu - c_j, t_ai = r_ai - mu - b_a. No training rating other than (u, i) itself
touches both w_u and w_i, so when (u, i) is not a training rating (a test point, as in the
paper) the local Hessian is block-diagonal, H_t = 2 diag(A_u, A_i) with

.. math:: A_u = X_u^\top X_u + \lambda\rho_u I, \qquad A_i = Y_i^\top Y_i + \lambda\rho_i I,

exactly (S_t is quadratic in each block). grad_{w_u} y_hat = x_i, grad_{w_i} y_hat = y_u, and a
rating z = (u, j) of the user has grad_{w_u} l(z) = 2 (-e_uj x_j + lambda' w_u) (lambda' = lambda
for ALS-WR, else 0) and nothing on w_i. The 2s cancel in eq. (18):

.. math::

    \mathrm{INFL}(u, j) = e_{uj}\, x_j^\top s_u - \lambda' w_u^\top s_u, \qquad s_u = A_u^{-1} x_i,

and the mirror image INFL(a, i) = e_ai y_a^T s_i - lambda' w_i^T s_i, s_i = A_i^{-1} y_u, for
the item's ratings: forming the two block Grams A_u and A_i costs O(n' k^2) for the n' ratings
of u and i, the two k x k solves (k + 1 with biases) O(k^3), and one dot product per rating
O(n' k): O(n' k^2 + k^3) in all. (The paper's O(n' K) counts one CG iteration of
Hessian-vector products, not a solve.) Unbiased and not ALS-WR, x_i^T A_u^{-1} x_j is FATREC 2017's influence J[i, j]:
FIA scores a past rating by its residual e_uj (how far the model is from it) times J.

When (u, i) is itself a training rating it couples the blocks: H_t / 2 has the off-diagonal
block x_i y_u^T - e_ui E (E = identity on the k factors, 0 on the biases; from d^2 y_hat /
dw_u dw_i), and one 2(k+1) solve replaces the two blocks.

Exact local leave-one-out (``exact_local=True``). S_t is quadratic in each block, so removing
z = (u, j) from it has an exact answer: w_u' - w_u = (B_u - x_j x_j^T)^{-1} (lambda' w_u - e_uj x_j)
with B_u = A_u - lambda' I (rank-one downdate; ALS-WR also drops one penalty share). By
Sherman-Morrison, with the leverage h_j = x_j^T B_u^{-1} x_j and q = B_u^{-1} x_i,

.. math::

    \mathrm{INFL}_\text{local}(u, j) = \frac{e_{uj}\, x_j^\top q}{1 - h_j}
        - \lambda'\Big(w_u^\top q + \frac{(x_j^\top q)(x_j^\top B_u^{-1} w_u)}{1 - h_j}\Big),

i.e. FIA divided by (1 - h_j) when lambda' = 0. It is the exact change when only theta_t may
move and theta_t is the local minimizer (for ALS, w_u is, after the final user half-step; w_i at
convergence). Both differ from retraining everything (``loo_influence``), where every other
factor also moves; ``ia_basic`` keeps those couplings to first order.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as la
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg, minres

from ..base import check_fitted, check_index, check_non_negative, check_positive_int, check_training_ratings
from ..ratings import Ratings

__all__ = ["fia", "ia_basic", "loo_influence", "relative_gradient_norm", "ConvergenceWarning", "CONVERGED"]

SIDES = ("both", "item-based", "user-based")
SOLVERS = {"cg": cg, "minres": minres}  # for ia_basic
MAXITER = 10_000                          # default iteration limit of ia_basic's solver
_SIDE_NAMES = np.array(["item-based", "user-based"], dtype=object)
CONVERGED = 0.1  # fia and ia_basic warn above this relative gradient norm (calibration: ``relative_gradient_norm``)


class ConvergenceWarning(UserWarning):
    """The model is far from a stationary point of its objective, which eq. (11) assumes."""


# ---------------------------------------------------------------------------- the model's objective
@dataclass(frozen=True)
class Objective:
    """The summed objective S a fitted model minimizes (module docstring), in our notation."""

    U: np.ndarray
    V: np.ndarray
    user_bias: np.ndarray | None  # b (None when unbiased)
    item_bias: np.ndarray | None  # c
    mu: float
    reg: float
    weighted: bool                # ALS-WR: lambda |Omega_a| per user, lambda |Omega^j| per item

    @property
    def biased(self) -> bool:
        return self.user_bias is not None

    @property
    def removal_reg(self) -> float:
        """lambda': the penalty weight a removed rating takes with it (ALS-WR only)."""
        return self.reg if self.weighted else 0.0


def objective_of(model) -> Objective:
    """The objective of a fitted ``mt.ALS`` or ``mt.GradientDescent`` (TypeError otherwise)."""
    from ..als import ALS
    from ..gd import GradientDescent

    if not isinstance(model, (ALS, GradientDescent)):
        raise TypeError(f"fia needs a matrix factorization fitted by mfteach.ALS or mfteach.GradientDescent "
                        f"(or an mfteach NCF); got {type(model).__name__}")
    check_fitted(model)
    biased = bool(model.biased)
    return Objective(model.U_, model.V_, model.user_bias_ if biased else None, model.item_bias_ if biased else None,
                     float(model.mu_) if biased else 0.0, check_non_negative("reg", model.reg),
                     bool(getattr(model, "weighted_reg", False)))


def _is_ncf(model) -> bool:
    return type(model).__name__ == "NCF"


def _genre_strings(ratings: Ratings, cols) -> np.ndarray:
    """The ", "-joined genres of the items ``cols`` ("" without genres)."""
    genres = ratings.item_genres
    if genres is None:
        return np.full(len(cols), "", dtype=object)
    return np.array([", ".join(genres[c]) for c in np.asarray(cols).tolist()], dtype=object)


# ---------------------------------------------------------------------------- the explanation frame
def explanation_frame(ratings: Ratings, user: int, item: int, rows, cols, values, influence, side,
                      prediction: float) -> pd.DataFrame:
    """The frame ``fia``, ``ia_basic`` (and ``fia_ncf``) return: one row per training rating z =
    (rows[k], cols[k], values[k]) with its ``influence`` on the prediction for (user, item),
    largest |influence| first (stable: equal values keep the input order).

    ``side``: one string or one per row ("item-based": a rating of the user, "user-based": the
    item's rating by another user). Columns: user, item (indices), title, genres (", "-joined),
    rating, influence, side. ``attrs``: prediction, user, item.
    """
    influence = np.asarray(influence, dtype=float)
    order = np.argsort(-np.abs(influence), kind="stable")
    cols = np.asarray(cols)[order]
    side = np.asarray(side, dtype=object)
    frame = pd.DataFrame({
        "user": np.asarray(rows)[order],
        "item": cols,
        "title": ratings.item_labels(cols),
        "genres": _genre_strings(ratings, cols),
        "rating": np.asarray(values, dtype=float)[order],
        "influence": influence[order],
        "side": side[order] if side.ndim else np.full(len(order), side, dtype=object),
    })
    frame.attrs.update(prediction=float(prediction), user=int(user), item=int(item))
    return frame


def _select_side(frame: pd.DataFrame, side: str) -> pd.DataFrame:
    if side == "both":
        return frame
    selected = frame[frame["side"] == side].reset_index(drop=True)
    selected.attrs.update(frame.attrs)
    return selected


# ---------------------------------------------------------------------------- checks
def _check_call(model, ratings, user, item, side, caller: str):
    objective = objective_of(model)
    m, n = objective.U.shape[0], objective.V.shape[0]
    check_training_ratings(model, ratings, caller)
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    user, item = check_index("user", user, m, "row"), check_index("item", item, n, "column")
    _warn_if_far_from_converged(model, objective, ratings, caller)
    return objective, user, item


# ---------------------------------------------------------------------------- is the model at a minimum?
def relative_gradient_norm(model, ratings: Ratings | None = None) -> float:
    r"""How far a fitted ``mt.ALS`` / ``mt.GradientDescent`` is from a stationary point of its
    objective S (module docstring): ||grad S|| / (||grad of the squared errors|| + ||grad of the
    penalty||), between 0 (stationary: the two parts cancel) and 1 (they do not cancel at all).
    Eq. (11) assumes 0.

    With e the residuals on Omega (E as a sparse m x n matrix) and Lambda = diag(lambda rho):
    grad_U S = -2 E V + 2 Lambda_U U, grad_V S = -2 E^T U + 2 Lambda_V V (and for the biases
    -2 E 1 + 2 Lambda b, -2 E^T 1 + 2 Lambda c): two sparse products, O(|Omega| k).

    Calibration (lesson 15's setup: the 250 x 250 core of MovieLens 100K, k = 8, lambda = 10,
    25 test points): after 1, 3, 10, 20 and 50 ALS iterations it is 0.93, 0.64, 0.35, 0.14 and
    0.009, and Pearson's R of FIA against retraining 0.61, 0.90, 0.98, 0.986 and 0.996; fitted with
    tol = 1e-9 it is 8e-5 (R = 0.996). Every ALS the lessons explain has at most 0.009 (lesson 17's
    biased ALS after 15 iterations); the converged ones 2e-5 to 1.2e-3. ``fia`` and ``ia_basic``
    warn above ``CONVERGED`` = 0.1.

    ``ratings``: the training ratings (default ``model.ratings_``). The value is cached on the
    model for its current factors.
    """
    objective = objective_of(model)
    ratings = model.ratings_ if ratings is None else check_training_ratings(model, ratings, "relative_gradient_norm")
    key = (objective.U, objective.V, objective.user_bias, objective.item_bias, ratings.fingerprint)
    cached = getattr(model, "_relative_gradient_norm", None)
    if cached is not None and all(a is b for a, b in zip(cached[0][:4], key[:4])) and cached[0][4] == key[4]:
        return cached[1]
    o = objective
    m, n = o.U.shape[0], o.V.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        predicted = np.einsum("ij,ij->i", o.U[ratings.rows], o.V[ratings.cols]) + o.mu
        if o.biased:
            predicted += o.user_bias[ratings.rows] + o.item_bias[ratings.cols]
        e = ratings.values - predicted
        E = sp.csr_matrix((e, ratings.cols, ratings.by_user.indptr), shape=(m, n))
        reg_u = o.reg * (ratings.user_counts() if o.weighted else np.ones(m))
        reg_v = o.reg * (ratings.item_counts() if o.weighted else np.ones(n))
        data = [-(E @ o.V), -(E.T @ o.U)]          # the squared errors' part (halved: the 2s cancel)
        penalty = [reg_u[:, None] * o.U, reg_v[:, None] * o.V]
        if o.biased:
            data += [-np.bincount(ratings.rows, e, m), -np.bincount(ratings.cols, e, n)]
            penalty += [reg_u * o.user_bias, reg_v * o.item_bias]
        total = math.sqrt(sum(float(np.sum((d + q) ** 2)) for d, q in zip(data, penalty)))
        parts = (math.sqrt(sum(float(np.sum(d ** 2)) for d in data))
                 + math.sqrt(sum(float(np.sum(q ** 2)) for q in penalty)))
    value = total / parts if parts > 0 else 0.0
    model._relative_gradient_norm = (key, value)
    return value


def _warn_if_far_from_converged(model, objective: Objective, ratings: Ratings, caller: str) -> None:
    value = relative_gradient_norm(model, ratings)
    if not value > CONVERGED:
        return
    from ..als import ALS

    name = type(model).__name__
    if isinstance(model, ALS):
        how = "e.g. model = mt.ALS(**{**model.get_params(), 'n_iters': 1000, 'tol': 1e-9}).fit(ratings, init=model)"
    else:
        how = ("e.g. model = mt.GradientDescent(**{**model.get_params(), 'n_epochs': 1000, 'lr': model.lr_})"
               ".fit(ratings, init=model), or explain an mt.ALS fitted with tol=1e-9")
    warnings.warn(f"{caller}: this {name} is far from converged: the relative norm of its objective's gradient is "
                  f"{value:.2g} (above {CONVERGED:g}; a model fitted to convergence has about 1e-4). FIA assumes the "
                  f"model sits at a minimum of its objective, so these influences may differ a lot from what "
                  f"retraining shows. Fit it further first, {how}.", ConvergenceWarning, stacklevel=4)


# ---------------------------------------------------------------------------- R_t and its residuals
@dataclass
class _Local:
    """R_t = Omega_u (the user's ratings) + Omega^i without (u, i) (the item's other ratings)."""

    user_items: np.ndarray   # j of the user's ratings (u, j)
    user_values: np.ndarray
    X: np.ndarray            # x_j = (v_j, 1) of those items (v_j unbiased)
    user_residuals: np.ndarray
    item_users: np.ndarray   # a of the item's ratings (a, i), a != u
    item_values: np.ndarray
    Y: np.ndarray            # y_a = (u_a, 1)
    item_residuals: np.ndarray
    own: int | None          # position of (u, i) among the user's ratings, None if not a training rating
    x_i: np.ndarray          # grad_{w_u} y_hat
    y_u: np.ndarray          # grad_{w_i} y_hat
    w_u: np.ndarray
    w_i: np.ndarray
    reg_u: float             # lambda rho_u
    reg_i: float
    prediction: float


def _with_ones(features: np.ndarray, biased: bool) -> np.ndarray:
    if not biased:
        return features
    out = np.ones((features.shape[0], features.shape[1] + 1))
    out[:, :-1] = features
    return out


def _local(objective: Objective, ratings: Ratings, user: int, item: int) -> _Local:
    o = objective
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    user_items, user_values = ratings.cols[lo:hi], ratings.values[lo:hi]
    by_item = ratings.by_item
    start, stop = by_item.indptr[item], by_item.indptr[item + 1]
    item_users, item_values = by_item.index[start:stop], by_item.values[start:stop]
    k = np.searchsorted(user_items, item)
    own = int(k) if k < len(user_items) and user_items[k] == item else None
    if own is not None:  # (u, i) is listed once, with the user's ratings
        keep = item_users != user
        item_users, item_values = item_users[keep], item_values[keep]

    X = _with_ones(o.V[user_items], o.biased)
    Y = _with_ones(o.U[item_users], o.biased)
    x_i = _with_ones(o.V[item][None], o.biased)[0]
    y_u = _with_ones(o.U[user][None], o.biased)[0]
    if o.biased:
        w_u, w_i = np.append(o.U[user], o.user_bias[user]), np.append(o.V[item], o.item_bias[item])
        user_offset, item_offset = o.mu + o.item_bias[user_items], o.mu + o.user_bias[item_users]
        prediction = o.mu + o.user_bias[user] + o.item_bias[item] + o.U[user] @ o.V[item]
    else:
        w_u, w_i, user_offset, item_offset = o.U[user], o.V[item], 0.0, 0.0
        prediction = o.U[user] @ o.V[item]
    n_user, n_item = hi - lo, stop - start  # |Omega_u|, |Omega^i| (with (u, i) when rated)
    return _Local(user_items, user_values, X, user_values - user_offset - X @ w_u,
                  item_users, item_values, Y, item_values - item_offset - Y @ w_i, own, x_i, y_u, w_u, w_i,
                  o.reg * (n_user if o.weighted else 1.0), o.reg * (n_item if o.weighted else 1.0), float(prediction))


def _gram(features: np.ndarray, reg: float) -> np.ndarray:
    """A = F^T F + reg I."""
    A = features.T @ features
    A[np.diag_indices_from(A)] += reg
    return A


def _cho(A: np.ndarray, block: str):
    try:
        return la.cho_factor(A, check_finite=False)
    except la.LinAlgError:
        raise ValueError(f"the local Hessian of the {block} block is singular (reg = 0 and fewer ratings than "
                         f"unknowns?); use a model with reg > 0") from None


def _block_fia(features, residuals, w, target, reg, removal_reg, exact: bool, block: str):
    """INFL of every rating of one block, first order and (``exact``) exact local; see the module
    docstring. ``target`` is grad_w y_hat (x_i for the user block, y_u for the item block)."""
    if len(residuals) == 0:
        return np.empty(0), np.empty(0)
    A = _gram(features, reg)
    factor = _cho(A, block)
    s = la.cho_solve(factor, target, check_finite=False)
    first = residuals * (features @ s) - removal_reg * (w @ s)      # eq. (18): e x^T A^-1 x_i - lambda' w^T A^-1 x_i
    if not exact:
        return first, None
    if removal_reg:  # ALS-WR: the removal also drops one penalty share, B = A - lambda' I
        if len(residuals) == 1:
            return first, np.array([target @ w])  # the block loses its only rating: w' = 0 (ALS's empty group)
        factor = _cho(A - removal_reg * np.eye(len(w)), block)
    q = la.cho_solve(factor, target, check_finite=False)
    P = la.cho_solve(factor, features.T, check_finite=False)
    leverage = np.einsum("ij,ji->i", features, P)                   # h_j = x_j^T B^-1 x_j
    xq = features @ q
    exact_values = residuals * xq / (1.0 - leverage)
    if removal_reg:
        a = la.cho_solve(factor, w, check_finite=False)
        exact_values -= removal_reg * (w @ q + xq * (features @ a) / (1.0 - leverage))
    return first, exact_values


def local_influence(objective: Objective, ratings: Ratings, user: int, item: int, exact_local: bool = False):
    """FIA's INFL of every rating in R_t, as arrays (no frame): (rows, cols, values, side codes
    0 = item-based / 1 = user-based, first-order INFL, exact-local INFL or None, prediction).
    ``exact_local`` needs (user, item) outside the training ratings (ValueError otherwise)."""
    t = _local(objective, ratings, user, item)
    lam = objective.removal_reg
    if t.own is None:  # H_t block-diagonal: two k x k solves
        user_first, user_exact = _block_fia(t.X, t.user_residuals, t.w_u, t.x_i, t.reg_u, lam, exact_local, "user")
        item_first, item_exact = _block_fia(t.Y, t.item_residuals, t.w_i, t.y_u, t.reg_i, lam, exact_local, "item")
    else:
        if exact_local:
            raise ValueError(f"exact_local needs (user, item) = ({user}, {item}) outside the training ratings: the "
                             f"rating (u, i) couples u_u and v_i and the local problem is no longer quadratic")
        d = len(t.w_u)
        cross = np.outer(t.x_i, t.y_u)                              # H_t / 2 off-diagonal: x_i y_u^T - e_ui E
        cross[np.arange(objective.U.shape[1]), np.arange(objective.U.shape[1])] -= t.user_residuals[t.own]
        A_i = _gram(t.Y, t.reg_i) + np.outer(t.y_u, t.y_u)          # the item's raters include u
        H = np.block([[_gram(t.X, t.reg_u), cross], [cross.T, A_i]])
        s = np.linalg.solve(H, np.concatenate([t.x_i, t.y_u]))
        s_u, s_i = s[:d], s[d:]
        user_first = t.user_residuals * (t.X @ s_u) - lam * (t.w_u @ s_u)
        user_first[t.own] += t.user_residuals[t.own] * (t.y_u @ s_i) - lam * (t.w_i @ s_i)
        item_first = t.item_residuals * (t.Y @ s_i) - lam * (t.w_i @ s_i)
        user_exact = item_exact = None
    rows = np.concatenate([np.full(len(t.user_items), user), t.item_users])
    cols = np.concatenate([t.user_items, np.full(len(t.item_users), item)])
    values = np.concatenate([t.user_values, t.item_values])
    sides = np.concatenate([np.zeros(len(t.user_items), dtype=np.int8), np.ones(len(t.item_users), dtype=np.int8)])
    first = np.concatenate([user_first, item_first])
    exact = np.concatenate([user_exact, item_exact]) if exact_local else None
    return rows, cols, values, sides, first, exact, t.prediction


def fia(model, ratings: Ratings, user: int, item: int, side: str = "both", exact_local: bool = False) -> pd.DataFrame:
    r"""Fast influence analysis (KDD 2019, section 3.2, eqs. 15-19): the influence of every rating
    in R_t on the prediction for (``user``, ``item``).

    R_t is the user's ratings (``side="item-based"``, the items the user rated; (user, item)
    itself when it is a training rating) and the item's ratings by other users
    (``side="user-based"``); ``"both"`` (default) returns all of R_t. The local Hessian over
    theta_t = (u_u, b_u, v_i, c_i) is the model's own objective's (module docstring), so the
    numbers are on the scale of INFL(z) = y_hat - y_hat_{-z} (positive: z pushed the prediction
    up).

    Parameters
    ----------
    model : mt.ALS or mt.GradientDescent (unbiased or biased; ALS also with weighted_reg), or an
        mfteach NCF (handled by ``fia_ncf``).
    ratings : the training ratings the model was fitted on (compared by ``Ratings.fingerprint``;
        other ratings, e.g. the test split, raise a ValueError).
    user, item : row and column indices.
    side : "both", "item-based" or "user-based".
    exact_local : the exact leave-one-out of the local problem (only theta_t moves) by a rank-one
        downdate of each block, instead of the first-order estimate.

    Returns
    -------
    DataFrame (user, item, title, genres, rating, influence, side), largest |influence| first;
    ``attrs["prediction"]`` is y_hat.

    Warns
    -----
    ConvergenceWarning
        When the model is far from a stationary point of its objective
        (``relative_gradient_norm`` > ``CONVERGED`` = 0.1), which eq. (11) assumes; the message
        says how to fit it further. (Not for NCF, which Adam never brings to a stationary point.)
    """
    if _is_ncf(model):
        from .fia_ncf import fia_ncf

        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        return _select_side(fia_ncf(model, ratings, user, item, exact_local=exact_local), side)
    objective, user, item = _check_call(model, ratings, user, item, side, "fia")
    rows, cols, values, sides, first, exact, prediction = local_influence(objective, ratings, user, item, exact_local)
    if side != "both":
        keep = sides == SIDES.index(side) - 1
        rows, cols, values, sides, first = rows[keep], cols[keep], values[keep], sides[keep], first[keep]
        exact = exact[keep] if exact_local else None
    return explanation_frame(ratings, user, item, rows, cols, values, exact if exact_local else first,
                             _SIDE_NAMES[sides], prediction)


# ---------------------------------------------------------------------------- basic influence analysis
class FullProblem:
    r"""The whole objective S over theta = (U, V[, b, c]) and its exact Hessian-vector product.

    With d = (dU, dV[, db, dc]), the change of every prediction dy_aj = du_a . v_j + u_a . dv_j
    (+ db_a + dc_j) and the sparse m x n matrices D (dy on Omega) and E (residuals on Omega):

    .. math::

        (Hd)_U = 2 (D V - E\, dV + \Lambda_U dU), \qquad (Hd)_V = 2 (D^\top U - E^\top dU + \Lambda_V dV),

        (Hd)_b = 2 (D 1 + \Lambda_U db), \qquad (Hd)_c = 2 (D^\top 1 + \Lambda_V dc),

    Lambda_U = diag(lambda rho_a): D V is the Gauss-Newton part J^T J d, -E dV the residual cross
    term (from d^2 y_aj / du_a dv_j = I). O(|Omega| k) per product, H never formed.
    """

    CHUNK = 4096  # ratings per block of the gathered products (small blocks stay in cache)

    def __init__(self, objective: Objective, ratings: Ratings):
        o = objective
        self.o, self.rows, self.cols = o, ratings.rows, ratings.cols
        self.m, self.k = o.U.shape
        self.n = o.V.shape[0]
        ptr = ratings.by_user.indptr
        self.D = sp.csr_matrix((np.zeros(len(ratings)), self.cols, ptr), shape=(self.m, self.n))
        self.E = sp.csr_matrix((np.zeros(len(ratings)), self.cols, ptr), shape=(self.m, self.n))
        self.residuals = ratings.values - o.mu - self.predictions(o.U, o.V, o.user_bias, o.item_bias)
        self.E.data[:] = self.residuals
        self.reg_u = o.reg * (ratings.user_counts() if o.weighted else np.ones(self.m))
        self.reg_v = o.reg * (ratings.item_counts() if o.weighted else np.ones(self.n))
        self.size = (self.m + self.n) * (self.k + (1 if o.biased else 0))

    def predictions(self, U, V, b=None, c=None) -> np.ndarray:
        """u_a . v_j (+ b_a + c_j) on Omega, in chunks (no |Omega| x k array)."""
        out = np.empty(len(self.rows))
        for start in range(0, len(out), self.CHUNK):
            r, c_ = self.rows[start:start + self.CHUNK], self.cols[start:start + self.CHUNK]
            out[start:start + self.CHUNK] = np.einsum("ij,ij->i", U.take(r, axis=0), V.take(c_, axis=0))
        if b is not None:
            out += b[self.rows] + c[self.cols]
        return out

    def split(self, theta: np.ndarray):
        m, n, k = self.m, self.n, self.k
        U, V = theta[:m * k].reshape(m, k), theta[m * k:(m + n) * k].reshape(n, k)
        if not self.o.biased:
            return U, V, None, None
        return U, V, theta[(m + n) * k:(m + n) * k + m], theta[(m + n) * k + m:]

    def hessian_vector(self, d: np.ndarray) -> np.ndarray:
        o = self.o
        dU, dV, db, dc = self.split(d)
        self.D.data[:] = self.predictions(np.hstack([dU, o.U]), np.hstack([o.V, dV]), db, dc)
        parts = [2.0 * (self.D @ o.V - self.E @ dV + self.reg_u[:, None] * dU),
                 2.0 * (self.D.T @ o.U - self.E.T @ dU + self.reg_v[:, None] * dV)]
        if o.biased:
            parts += [2.0 * (np.bincount(self.rows, self.D.data, self.m) + self.reg_u * db),
                      2.0 * (np.bincount(self.cols, self.D.data, self.n) + self.reg_v * dc)]
        return np.concatenate([p.ravel() for p in parts])

    def prediction_gradient(self, user: int, item: int) -> np.ndarray:
        """grad_theta y_hat_ui: v_i at u_u, u_u at v_i, 1 at b_u and c_i."""
        o, g = self.o, np.zeros(self.size)
        gU, gV, gb, gc = self.split(g)  # views into g
        gU[user], gV[item] = o.V[item], o.U[user]
        if o.biased:
            gb[user] = gc[item] = 1.0
        return g

    def solve(self, user: int, item: int, damping: float = 1e-6, tol: float = 1e-6, maxiter: int | None = None,
              solver: str = "cg"):
        """s = (H + damping |Omega| I)^{-1} grad y_hat_ui by conjugate gradients (eq. 14) or MINRES;
        returns (s, the number of iterations). See ``ia_basic``."""
        delta = check_non_negative("damping", damping) * len(self.rows)
        tol = check_non_negative("tol", tol)
        maxiter = MAXITER if maxiter is None else check_positive_int("maxiter", maxiter)
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {tuple(SOLVERS)}, got {solver!r}")
        operator = LinearOperator((self.size, self.size), dtype=float,
                                  matvec=lambda d: self.hessian_vector(d) + delta * d)
        iterations = [0]

        def count(_):
            iterations[0] += 1

        s, info = SOLVERS[solver](operator, self.prediction_gradient(user, item), rtol=tol, maxiter=maxiter,
                                  callback=count)
        if info != 0:
            warnings.warn(f"ia_basic: {solver} stopped after {iterations[0]} iterations without reaching tol={tol:g} "
                          f"(is the model trained to convergence? at a point that is not a minimizer H can be "
                          f"indefinite); raise damping or maxiter, or use solver='minres'", RuntimeWarning,
                          stacklevel=3)
        return s, iterations[0]

    def removal_influence(self, s: np.ndarray, rows, cols) -> np.ndarray:
        r"""-s . grad l(z) for the ratings z = (rows, cols): with grad l(a, j) = -2 e_aj grad y_aj
        + 2 lambda' (u_a, v_j, b_a, c_j) (lambda' only for ALS-WR)."""
        o = self.o
        sU, sV, sb, sc = self.split(s)
        position = np.searchsorted(self.rows * self.n + self.cols, rows * self.n + cols)
        e = self.residuals[position]
        along_prediction = np.einsum("ij,ij->i", sU[rows], o.V[cols]) + np.einsum("ij,ij->i", sV[cols], o.U[rows])
        along_penalty = np.einsum("ij,ij->i", sU[rows], o.U[rows]) + np.einsum("ij,ij->i", sV[cols], o.V[cols])
        if o.biased:
            along_prediction += sb[rows] + sc[cols]
            along_penalty += sb[rows] * o.user_bias[rows] + sc[cols] * o.item_bias[cols]
        return 2.0 * e * along_prediction - 2.0 * o.removal_reg * along_penalty


def ia_basic(model, ratings: Ratings, user: int, item: int, side: str = "both", damping: float = 1e-6,
             tol: float = 1e-6, maxiter: int | None = None, solver: str = "cg") -> pd.DataFrame:
    r"""Basic influence analysis (KDD 2019, section 3.2, eqs. 12-14): eq. (11) over ALL the
    (m + n) k parameters (plus the biases), for the same ratings R_t as ``fia``.

    s = (H + delta I)^{-1} grad y_hat is found by conjugate gradients (eq. 14) with the exact
    Hessian-vector products of ``FullProblem`` (Gauss-Newton part plus the residual cross terms;
    H is never formed), then INFL(z) = -s . grad l(z) for every z in R_t. Unlike FIA this keeps,
    to first order, the couplings through every other factor: removing (u, j) also moves v_j,
    which moves the other users of j, and so on.

    Damping. The ridge objective is unchanged by rotating all factors at once (U Q, V Q with Q
    orthogonal), so at a minimizer H is positive semi-definite with k (k - 1) / 2 zero
    eigenvalues along those rotations. grad y_hat and grad l(z) are orthogonal to them (y_hat and
    l are rotation invariant), so the system is consistent and those directions do not change
    INFL; but H also has small positive eigenvalues (weakly determined directions) that make CG
    slow, and at a point that is not exactly a minimizer a few may be slightly negative.
    ``damping`` is added, as in the paper, to the Hessian of the MEAN objective S / |Omega|, i.e.
    delta = damping |Omega| is added to H; the paper's 1e-6 is the default. It biases INFL
    slightly towards zero (by about delta / (smallest relevant eigenvalue of H)).

    Parameters
    ----------
    tol, maxiter : relative residual tolerance and iteration limit of the solver (maxiter None:
        10 000). A RuntimeWarning says when it stopped early.
    solver : "cg" (``scipy.sparse.linalg.cg``, the paper's eq. 14) or "minres"
        (``scipy.sparse.linalg.minres``, which also converges when H is indefinite, e.g. for a
        model stopped well before convergence; its stopping rule is scipy's estimate relative to
        ||H|| ||s||, looser than CG's).

    Returns
    -------
    The frame of ``fia``; ``attrs`` also holds ``cg_iterations`` (iterations of either solver).
    ``ratings`` must be the model's training ratings, and a model far from converged gets the
    ``ConvergenceWarning`` of ``fia``.
    """
    if _is_ncf(model):
        raise TypeError("ia_basic supports mt.ALS and mt.GradientDescent; for NCF use mfteach.explain.fia_ncf")
    objective, user, item = _check_call(model, ratings, user, item, side, "ia_basic")
    problem = FullProblem(objective, ratings)
    s, iterations = problem.solve(user, item, damping, tol, maxiter, solver)
    rows, cols, values, sides, _, _, prediction = local_influence(objective, ratings, user, item)
    keep = np.ones(len(rows), dtype=bool) if side == "both" else sides == SIDES.index(side) - 1
    rows, cols, values, sides = rows[keep], cols[keep], values[keep], sides[keep]
    frame = explanation_frame(ratings, user, item, rows, cols, values, problem.removal_influence(s, rows, cols),
                              _SIDE_NAMES[sides], prediction)
    frame.attrs["cg_iterations"] = iterations
    return frame


# ---------------------------------------------------------------------------- leave-one-out retraining
def _removed_pairs(ratings: Ratings, removed) -> np.ndarray:
    """Positions in ``ratings`` of the ratings to remove: one (user, item) or a list of them."""
    pairs = np.asarray(removed)
    if pairs.ndim == 1 and pairs.shape == (2,):
        pairs = pairs[None]
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"removed must be one (user, item) pair of indices or a non-empty list of them, "
                         f"got {removed!r}")
    m, n = ratings.shape
    keys = ratings.rows * n + ratings.cols                        # sorted: Ratings keeps (row, col) order
    wanted = pairs[:, 0] * n + pairs[:, 1]
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    in_range = (pairs[:, 0] >= 0) & (pairs[:, 0] < m) & (pairs[:, 1] >= 0) & (pairs[:, 1] < n)
    missing = ~in_range | (keys[position] != wanted)
    if missing.any():
        u, i = pairs[np.flatnonzero(missing)[0]]
        raise ValueError(f"removed: ({u}, {i}) is not a training rating (not in Omega)")
    return position


def without_positions(ratings: Ratings, positions) -> Ratings:
    """``ratings`` without the entries at ``positions`` (one boolean mask, no loop)."""
    keep = np.ones(len(ratings), dtype=bool)
    keep[positions] = False
    if not keep.any():
        raise ValueError("removing these ratings would leave no ratings at all")
    return Ratings(ratings.rows[keep], ratings.cols[keep], ratings.values[keep], shape=ratings.shape,
                   users=ratings.users, items=ratings.items, item_titles=ratings.item_titles,
                   item_genres=ratings.item_genres)


def retrain(model, ratings: Ratings, n_iters: int = 1000, tol: float = 1e-12, verbose: bool = False):
    """A copy of ``model`` retrained on ``ratings``, warm-started from it (its mu kept): ALS for
    at most ``n_iters`` iterations until the relative objective decrease is <= ``tol``;
    GradientDescent for exactly ``n_iters`` epochs at its fitted learning rate."""
    from ..als import ALS

    params = model.get_params()
    params["verbose"] = verbose
    if isinstance(model, ALS):
        params.update(n_iters=check_positive_int("n_iters", n_iters), tol=check_non_negative("tol", tol))
    else:
        params.update(n_epochs=check_positive_int("n_iters", n_iters), lr=model.lr_)
    return type(model)(**params).fit(ratings, init=model)


def loo_influence(model, ratings: Ratings, user: int, item: int, removed, n_iters: int = 1000, tol: float = 1e-12,
                  subtract_drift: bool = True, verbose: bool = False, **ncf_options) -> float:
    """The observed influence y_hat - y_hat_without of the ratings ``removed`` (taken out
    together) on the prediction for (``user``, ``item``): retrain without them, warm-started from
    the fitted model (``retrain``), and compare.

    ``removed``: one (user, item) pair of indices or a list of pairs, each a training rating.

    ``subtract_drift`` (default, as the authors' code does): y_hat is taken from a retrain with
    nothing removed under the same settings, not from ``model``. A model that is not exactly at
    the minimizer (ALS stopped early, GradientDescent after a fixed number of epochs) would
    otherwise move on retraining even with all its data, and that drift would be counted as
    influence. For ALS both retrains run to ``tol`` (they land on the converged minimizers with
    and without the ratings); for GradientDescent both run exactly ``n_iters`` epochs (use
    ``sampling="full"``: sampled modes draw different samples once a rating is gone).
    ``verbose``: the retrains' own progress bars.

    ``ratings`` must be the model's training ratings (a ValueError otherwise: retraining on other
    ratings, e.g. the test split, measures nothing about the model). An NCF model is handed to
    ``loo_influence_ncf``, as ``fia`` hands it to ``fia_ncf``: ``ncf_options`` (``n_retrains``,
    ``n_epochs``, ``lr``, ``seed``) go to it, and ``n_iters``, ``tol``, ``subtract_drift`` and
    ``verbose`` do not apply (NCF retrains always subtract the drift).
    """
    from ..als import ALS
    from ..gd import GradientDescent

    if _is_ncf(model):
        from .fia_ncf import loo_influence_ncf

        return loo_influence_ncf(model, ratings, user, item, removed, **ncf_options)
    if ncf_options:
        raise TypeError(f"loo_influence got unexpected keyword argument(s) {sorted(ncf_options)} (they are "
                        f"loo_influence_ncf's, for NCF models)")
    if not isinstance(model, (ALS, GradientDescent)):
        raise TypeError(f"loo_influence retrains mfteach.ALS, mfteach.GradientDescent or mfteach NCF models; got "
                        f"{type(model).__name__}")
    check_fitted(model)
    check_training_ratings(model, ratings, "loo_influence")
    m, n = model.shape
    user, item = check_index("user", user, m, "row"), check_index("item", item, n, "column")
    reduced = without_positions(ratings, _removed_pairs(ratings, removed))
    without = retrain(model, reduced, n_iters, tol, verbose).predict([user], [item])[0]
    reference = retrain(model, ratings, n_iters, tol, verbose) if subtract_drift else model
    return float(reference.predict([user], [item])[0] - without)
