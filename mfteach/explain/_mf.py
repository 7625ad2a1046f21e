r"""Matrix factorization's side of the explanations: the summed objective S a fitted ``mt.ALS``
or ``mt.GradientDescent`` minimizes (``Objective``; the math is in ``mfteach.explain.fast_influence``'s
module docstring), how far the model is from its minimum (``relative_gradient_norm``), the
local problem of a prediction (``mf_problem``, the ``LocalProblem`` of ``_problem``: KDD 2019
eqs. 15-19) and the whole objective with its Hessian-vector product (``FullProblem``, for
``ia_basic``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg, minres

from ..als import ALS
from ..base import check_fitted, check_index, check_non_negative, check_positive_int, check_training_ratings
from ..gd import GradientDescent
from ..ratings import Ratings
from ._problem import Block, LocalProblem

__all__ = ["Objective", "objective_of", "relative_gradient_norm", "warn_if_far_from_converged", "mf_problem",
           "FullProblem", "ConvergenceWarning", "CONVERGED", "SOLVERS", "MAXITER"]

SOLVERS = {"cg": cg, "minres": minres}  # for ia_basic
MAXITER = 10_000                          # default iteration limit of ia_basic's solver
CONVERGED = 0.1  # fia and ia_basic warn above this relative gradient norm (calibration: ``relative_gradient_norm``)


class ConvergenceWarning(UserWarning):
    """The model is far from a stationary point of its objective, which eq. (11) assumes."""


# ---------------------------------------------------------------------------- the model's objective
@dataclass(frozen=True)
class Objective:
    """The summed objective S a fitted model minimizes (``mfteach.explain.fast_influence``'s module docstring)."""

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
    if not isinstance(model, (ALS, GradientDescent)):
        raise TypeError(f"fia needs a matrix factorization fitted by mfteach.ALS or mfteach.GradientDescent "
                        f"(or an mfteach NCF); got {type(model).__name__}")
    check_fitted(model)
    biased = bool(model.biased)
    return Objective(model.U_, model.V_, model.user_bias_ if biased else None, model.item_bias_ if biased else None,
                     float(model.mu_) if biased else 0.0, check_non_negative("reg", model.reg),
                     bool(getattr(model, "weighted_reg", False)))


# ---------------------------------------------------------------------------- is the model at a minimum?
def relative_gradient_norm(model, ratings: Ratings | None = None) -> float:
    r"""How far a fitted ``mt.ALS`` / ``mt.GradientDescent`` is from a stationary point of its
    objective S (``Objective``): ||grad S|| / (||grad of the squared errors|| + ||grad of the
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


def warn_if_far_from_converged(model, ratings: Ratings, caller: str) -> None:
    """A ``ConvergenceWarning`` naming ``caller`` when ``relative_gradient_norm`` > ``CONVERGED``."""
    value = relative_gradient_norm(model, ratings)
    if not value > CONVERGED:
        return
    name = type(model).__name__
    if isinstance(model, ALS):
        how = "e.g. model = mt.ALS(**{**model.get_params(), 'n_iters': 1000, 'tol': 1e-9}).fit(ratings, init=model)"
    else:
        how = ("e.g. model = mt.GradientDescent(**{**model.get_params(), 'n_epochs': 1000, 'lr': model.lr_})"
               ".fit(ratings, init=model), or explain an mt.ALS fitted with tol=1e-9")
    warnings.warn(f"{caller}: this {name} is far from converged: the relative norm of its objective's gradient is "
                  f"{value:.2g} (above {CONVERGED:g}; a model fitted to convergence has about 1e-4). FIA assumes the "
                  f"model sits at a minimum of its objective, so these influences may differ a lot from what "
                  f"retraining shows. Fit it further first, {how}.", ConvergenceWarning, stacklevel=5)


# ---------------------------------------------------------------------------- the local problem
def _with_ones(features: np.ndarray, biased: bool) -> np.ndarray:
    if not biased:
        return features
    out = np.ones((features.shape[0], features.shape[1] + 1))
    out[:, :-1] = features
    return out


def mf_problem(model, ratings: Ratings, user: int, item: int, caller: str = "fia") -> LocalProblem:
    """The local problem of (``user``, ``item``) for a fitted ALS / GradientDescent (fia's module
    docstring): checks the model, its training ``ratings`` and the indices, warns when the model
    is far from converged, and returns the blocks x_j = (v_j, 1) of the user's ratings and
    y_a = (u_a, 1) of the item's (no 1 unbiased), residuals e = t - x^T w, rho = lambda (lambda
    |Omega_u| for ALS-WR) and, when (u, i) is rated, C = x_i y_u^T - e_ui E."""
    o = objective_of(model)
    m, n = o.U.shape[0], o.V.shape[0]
    check_training_ratings(model, ratings, caller)
    user, item = check_index("user", user, m, "row"), check_index("item", item, n, "column")
    warn_if_far_from_converged(model, ratings, caller)  # stacklevel: the caller of fia / ia_basic
    return objective_problem(o, ratings, user, item)


def objective_problem(objective: Objective, ratings: Ratings, user: int, item: int) -> LocalProblem:
    """``mf_problem`` from an ``Objective`` (no checks)."""
    o = objective
    by_user, by_item = ratings.by_user, ratings.by_item
    lo, hi = by_user.indptr[user], by_user.indptr[user + 1]
    user_items, user_values = by_user.index[lo:hi], by_user.values[lo:hi]
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
    user_block = Block(user_items, user_values, X, user_values - user_offset - X @ w_u, w_u, x_i,
                       o.reg * (n_user if o.weighted else 1.0))
    item_block = Block(item_users, item_values, Y, item_values - item_offset - Y @ w_i, w_i, y_u,
                       o.reg * (n_item if o.weighted else 1.0))
    cross = None
    if own is not None:
        cross = np.outer(x_i, y_u)                                   # H_t / 2 off-diagonal: x_i y_u^T - e_ui E
        k_ = o.U.shape[1]
        cross[np.arange(k_), np.arange(k_)] -= user_block.residuals[own]
    return LocalProblem(user, item, float(prediction), user_block, item_block, own, cross,
                        y_u if own is not None else None, o.removal_reg, quadratic_when_rated=False)


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

