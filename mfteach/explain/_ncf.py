r"""NCF's side of the explanations: the local problem of a prediction of an ``mt.NCF`` (KDD 2019
section 3.3, eq. 22; the math is in ``mfteach.explain.fast_influence_ncf``'s module docstring).

theta_t = (p_u, q_i). For z in R_t, g_z = d r_hat_z / d theta_t is the user half of the
network's input gradient for the user's ratings and the item half for the item's (both halves
for (u, i) itself when it is a training rating). With ReLU layers r_hat is piecewise linear in
the embeddings, so half the Hessian of the local objective is exactly the Gauss-Newton matrix
J^T J + lambda I: the blocks of ``LocalProblem`` are X_u = the user halves, Y_i = the item
halves, rho = lambda (+ damping / 2), and C = g_ui,u g_ui,i^T (no residual term).
"""

from __future__ import annotations

import numpy as np

from ..base import check_fitted, check_index, check_non_negative, check_training_ratings
from ..ncf import NCF, backward, forward
from ..ratings import Ratings
from ._problem import Block, LocalProblem

__all__ = ["check_ncf_call", "NCFLocal", "ncf_problem"]


def check_ncf_call(model, ratings, user, item, caller: str = "fia_ncf") -> tuple[int, int]:
    """A fitted ``mt.NCF``, its training ``ratings`` and valid indices (errors name ``caller``)."""
    if not isinstance(model, NCF):
        raise TypeError(f"{caller} needs a model fitted by mfteach.NCF, got {type(model).__name__}")
    check_fitted(model)
    check_training_ratings(model, ratings, caller)
    m, n = model.shape
    return check_index("user", user, m, "row"), check_index("item", item, n, "column")


class NCFLocal:
    """R_t of (user, item) (the user's ratings, then the item's by other users) and the model's
    fixed parameters; evaluates r_hat_z and J at any theta_e = (p_u, q_i)."""

    def __init__(self, model: NCF, ratings: Ratings, user: int, item: int):
        self.model, self.user, self.item = model, user, item
        by_user, by_item = ratings.by_user, ratings.by_item
        mine = by_user.order[by_user.indptr[user]:by_user.indptr[user + 1]]
        its = by_item.order[by_item.indptr[item]:by_item.indptr[item + 1]]
        self.positions = np.concatenate([mine, its[ratings.rows[its] != user]])  # R_t, as positions in ratings
        if self.positions.size == 0:
            raise ValueError(f"user {user} and item {item} have no training ratings: nothing to explain with")
        self.n_user = len(mine)
        self.rows, self.cols = ratings.rows[self.positions], ratings.cols[self.positions]
        self.values = ratings.values[self.positions]
        self.d = model.params_["P"].shape[1]
        self.theta = np.concatenate([model.P_[user], model.Q_[item]])  # the fitted theta_e

    def params(self, theta) -> dict:
        """The model's parameters with (p_u, q_i) = theta (copies P and Q only when it differs)."""
        params = dict(self.model.params_)
        if theta is not None and not np.array_equal(theta, self.theta):
            params["P"], params["Q"] = params["P"].copy(), params["Q"].copy()
            params["P"][self.user], params["Q"][self.item] = theta[:self.d], theta[self.d:]
        return params

    def terms(self, theta=None):
        """Residuals e_z and the Jacobian J (|R_t| x 2d) of r_hat_z with respect to (p_u, q_i)."""
        params = self.params(theta)
        prediction, cache = forward(params, self.rows, self.cols, self.model.mu_)
        _, dz0 = backward(params, cache, np.ones(len(self.rows)), with_embeddings=False)  # d r_hat_z / d z_0
        J = np.zeros((len(self.rows), 2 * self.d))
        mine, its = self.rows == self.user, self.cols == self.item
        J[mine, :self.d] = dz0[mine, :self.d]  # the user's ratings move through p_u
        J[its, self.d:] = dz0[its, self.d:]    # the item's through q_i
        return self.values - prediction, J

    def target(self, theta=None):
        """r_hat_ui and its gradient with respect to (p_u, q_i) (the network's input gradient)."""
        params = self.params(theta)
        prediction, cache = forward(params, np.array([self.user]), np.array([self.item]), self.model.mu_)
        _, dz0 = backward(params, cache, np.ones(1), with_embeddings=False)
        return float(prediction[0]), dz0[0]


def ncf_problem(model, ratings: Ratings, user: int, item: int, damping: float = 0.0, caller: str = "fia_ncf",
                local: NCFLocal | None = None) -> LocalProblem:
    """The ``LocalProblem`` of (``user``, ``item``) for a fitted NCF (module docstring);
    ``damping`` is added to the diagonal of H_e (so damping / 2 to rho). ``local``: an
    ``NCFLocal`` of the same call already at hand (checks are then skipped)."""
    if local is None:
        user, item = check_ncf_call(model, ratings, user, item, caller)
        local = NCFLocal(model, ratings, user, item)
    rho = model.reg + check_non_negative("damping", damping) / 2.0
    d, n_user = local.d, local.n_user
    prediction, grad = local.target()
    e, J = local.terms()
    own_rows = np.flatnonzero(local.cols[:n_user] == local.item)
    own = int(own_rows[0]) if len(own_rows) else None
    user_block = Block(local.cols[:n_user], local.values[:n_user], J[:n_user, :d], e[:n_user], local.theta[:d],
                       grad[:d], rho)
    item_block = Block(local.rows[n_user:], local.values[n_user:], J[n_user:, d:], e[n_user:], local.theta[d:],
                       grad[d:], rho)
    cross = own_item = None
    if own is not None:
        own_item = J[own, d:]
        cross = np.outer(J[own, :d], own_item)  # the Gauss-Newton cross term of the rating (u, i)
    return LocalProblem(local.user, local.item, prediction, user_block, item_block, own, cross, own_item,
                        removal_reg=0.0, quadratic_when_rated=True)
