r"""Fast influence analysis for neural collaborative filtering (Cheng, Shen, Huang, Zhu, KDD 2019,
section 3.3, eq. (20)-(24)), for models fitted by ``mfteach.ncf.NCF``.

For a target pair (u, i) the prediction r_hat_ui depends on the embeddings theta_e = (p_u, q_i)
and on the network theta_n. Removing a training rating z moves both; to first order the change
of the prediction splits in two (eq. (20)-(21)). FIA-NCF keeps only the embedding part, eq. (24):

.. math::

    \mathrm{INFL}(z) = \hat y(\theta) - \hat y(\theta_{-z})
        \approx -\nabla_{\theta_e}\hat y^\top H_e^{-1} \nabla_{\theta_e} l_z ,

with l_z = (r_z - r_hat_z)^2 and H_e the Hessian, with respect to (p_u, q_i), of the part of the
summed objective that contains them:

.. math::

    L_t(p_u, q_i) = \sum_{z \in R_t} (r_z - \hat r_z)^2 + \lambda (\|p_u\|^2 + \|q_i\|^2),

R_t = the target user's training ratings (the item-based side of the explanation) and the
target item's (the user-based side). We work with the summed objective, so the paper's 1/n'
of eq. (22) is absorbed in H_e (the paper's H is the mean over R_t). The regularizer is not
part of l_z: removing a rating removes its squared error, the penalty stays.

The Hessian is exact from first derivatives. For z in R_t let g_z = d r_hat_z / d theta_e (the
user half of the network's input gradient for the user's ratings, the item half for the item's).
Then

.. math::

    \nabla^2 L_t = 2 \sum_z g_z g_z^\top - 2 \sum_z e_z \nabla^2_{\theta_e} \hat r_z + 2\lambda I
                 = 2 J^\top J + 2\lambda I ,

because with ReLU hidden layers and a linear output r_hat is piecewise linear in its input
z_0 = p_u (+) q_i: its second derivative with respect to the embeddings is zero except on the
measure-zero set where a pre-activation is exactly 0. The Gauss-Newton matrix is therefore the
Hessian itself (a smooth activation such as tanh would add the second term). And
grad l_z = -2 e_z g_z, so INFL(z) = 2 e_z g_z^T H_e^{-1} grad r_hat_ui: one 2d x 2d solve.

``include_network=True`` adds the theta_n term of eq. (23),
-grad_{theta_n} y_hat^T H_n^{-1} grad_{theta_n} l_z, with H_n the curvature of the whole summed
objective with respect to the network's weights and biases (all of Omega). Unlike the
embeddings, the weights multiply each other, so the residual term -2 sum_z e_z
grad^2_{theta_n} r_hat_z does not vanish and, away from an exact minimum, makes the Hessian
indefinite (conjugate gradients then diverge). We use its Gauss-Newton part
H_n = 2 J_n^T J_n + 2 lambda I (+ damping), positive definite, as Hessian-free optimization
does: J_n v by forward-mode differentiation, J_n^T by backpropagation, one pass over Omega per
conjugate-gradient iteration. This measures what approximation (24) drops; it is meant for
small models.

Validation (section 4.1.2): ``loo_influence_ncf`` retrains without z, warm-started, several
times with different mini-batch orders, and subtracts the drift of retrains with nothing
removed; ``validate_fia_ncf`` does this for the top rating of many targets. Every retrain is
``mt.retrain`` (``NCF.fit`` with ``sample_weight``, warm-started).

Code. NCF's local problem (R_t, J, the blocks of H_e / 2) is built in ``_ncf``; the influence
and its exact-local variant are computed by the same code as matrix factorization's
(``_problem.local_influence``), so ``mt.explain.fia`` on an NCF gives this module's frame.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
import scipy.sparse.linalg as spla

from ..base import check_fitted, check_non_negative, check_positive, check_positive_int, check_training_ratings
from ..ncf import NCF, backward, forward
from ..ratings import Ratings
from ..retraining import removed_positions, retrain
from ._ncf import NCFLocal, check_ncf_call, ncf_problem
from ._problem import explain_local

__all__ = ["fia_ncf", "local_objective", "refit_embeddings", "loo_influence_ncf", "validate_fia_ncf"]


def _theta(local: NCFLocal, theta_e) -> np.ndarray:
    if theta_e is None:
        return local.theta
    theta = np.asarray(theta_e, dtype=float)
    if theta.shape != (2 * local.d,):
        raise ValueError(f"theta_e must be (p_u, q_i) concatenated, of length {2 * local.d}, got shape {theta.shape}")
    return theta


def _weights(local: NCFLocal, weights, n_ratings: int) -> np.ndarray:
    if weights is None:
        return np.ones(len(local.positions))
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (n_ratings,) or not np.all(np.isfinite(weights)) or (weights < 0).any():
        raise ValueError(f"weights must be {n_ratings} finite numbers >= 0 (one per rating), got shape {weights.shape}")
    return weights[local.positions]


# ---------------------------------------------------------------------------- the local problem
def local_objective(model: NCF, ratings: Ratings, user: int, item: int, theta_e=None, weights=None):
    """The local objective L_t of (``user``, ``item``) at theta_e = (p_u, q_i) (default: the
    fitted ones), everything else fixed: returns (L_t, its gradient, H_e).

    L_t = sum_{z in R_t} w_z e_z^2 + lambda (||p_u||^2 + ||q_i||^2), gradient
    -2 J^T (w * e) + 2 lambda theta_e, and H_e = 2 J^T diag(w) J + 2 lambda I, the exact Hessian
    wherever no ReLU pre-activation is exactly 0 (module docstring). ``weights``: one per rating
    of ``ratings`` (default 1; only R_t's matter), e.g. 0 to leave a rating out.
    """
    user, item = check_ncf_call(model, ratings, user, item, "local_objective")
    local = NCFLocal(model, ratings, user, item)
    theta, w = _theta(local, theta_e), _weights(local, weights, len(ratings))
    e, J = local.terms(theta)
    value = float(w @ e**2 + model.reg * theta @ theta)
    gradient = -2.0 * J.T @ (w * e) + 2.0 * model.reg * theta
    hessian = 2.0 * J.T @ (w[:, None] * J) + 2.0 * model.reg * np.eye(len(theta))
    return value, gradient, hessian


def refit_embeddings(model: NCF, ratings: Ratings, user: int, item: int, weights=None, theta_e=None,
                     max_iter: int = 100, tol: float = 1e-20) -> np.ndarray:
    """argmin over (p_u, q_i) of ``local_objective`` (the network and all other embeddings
    fixed), from ``theta_e`` (default: the fitted one): the exact leave-one-out of FIA-NCF's own
    local model when a rating gets weight 0.

    Newton's method with H_e and a backtracking line search. L_t is quadratic inside each region
    of constant ReLU pattern, so once the iterate is in the region of a local minimum one full
    step lands on it exactly; the loop stops when the squared step is below ``tol``.
    """
    user, item = check_ncf_call(model, ratings, user, item, "refit_embeddings")
    local = NCFLocal(model, ratings, user, item)
    theta, w = _theta(local, theta_e).copy(), _weights(local, weights, len(ratings))

    def objective(theta):
        e, J = local.terms(theta)
        return float(w @ e**2 + model.reg * theta @ theta), e, J

    value, e, J = objective(theta)
    for _ in range(max_iter):
        gradient = -2.0 * J.T @ (w * e) + 2.0 * model.reg * theta
        hessian = 2.0 * J.T @ (w[:, None] * J) + 2.0 * model.reg * np.eye(len(theta))
        step, size = np.linalg.solve(hessian, gradient), 1.0
        while True:  # Armijo: accept when L_t falls by at least a tenth of the predicted decrease
            candidate = theta - size * step
            new_value, new_e, new_J = objective(candidate)
            if new_value <= value - 0.1 * size * gradient @ step or size < 1e-10:
                break
            size /= 2
        theta, value, e, J = candidate, new_value, new_e, new_J
        if size**2 * (step @ step) <= tol:
            break
    return theta


# ---------------------------------------------------------------------------- the network term, eq. (23)
def _network_names(params: dict) -> list[str]:
    return list(params)[2:]


def _flat(arrays: dict, names) -> np.ndarray:
    return np.concatenate([np.ravel(arrays[name]) for name in names])


def _unflat(vector: np.ndarray, params: dict, names) -> dict:
    out, start = {}, 0
    for name in names:
        size = params[name].size
        out[name] = vector[start:start + size].reshape(params[name].shape)
        start += size
    return out


def _network_directional(params: dict, cache, direction: dict) -> np.ndarray:
    """grad_{theta_n} r_hat_z . direction for every pair in the cache (forward-mode: the
    directional derivative of eq. (3)-(5) with the embeddings fixed)."""
    _, _, zs, pre = cache
    dz = np.zeros_like(zs[0])
    for l in range(1, len(pre) + 1):
        da = zs[l - 1] @ direction[f"W{l}"].T + dz @ params[f"W{l}"].T + direction[f"b{l}"]
        dz = da * (pre[l - 1] > 0)
    return zs[-1] @ direction["w_out"] + dz @ params["w_out"] + direction["b_out"][0]


def _network_solve(model: NCF, ratings: Ratings, rhs: dict, damping: float, tol: float, maxiter: int):
    """H_n^{-1} rhs by conjugate gradients, with H_n v = 2 J_n^T (J_n v) + (2 lambda + damping) v:
    J_n v by forward-mode differentiation, J_n^T by backpropagation, over all of Omega."""
    params, names = model.params_, _network_names(model.params_)
    _, cache = forward(params, ratings.rows, ratings.cols, model.mu_)  # theta is fixed: one forward pass

    def hessian_times(v):
        change = _network_directional(params, cache, _unflat(v, params, names))  # J_n v
        grads, _ = backward(params, cache, 2.0 * change, with_embeddings=False)  # 2 J_n^T J_n v
        return _flat(grads, names) + (2.0 * model.reg + damping) * v

    size = sum(params[name].size for name in names)
    operator = spla.LinearOperator((size, size), matvec=hessian_times, dtype=float)
    iterations = []
    solution, info = spla.cg(operator, _flat(rhs, names), rtol=tol, maxiter=maxiter,
                             callback=lambda _: iterations.append(1))
    if info != 0:
        warnings.warn(f"conjugate gradients for eq. (23) stopped after {len(iterations)} iterations without "
                      f"reaching rtol={tol:g}; raise cg_maxiter or add damping", RuntimeWarning, stacklevel=4)
    return _unflat(solution, params, names), len(iterations)


# ---------------------------------------------------------------------------- FIA-NCF
def fia_ncf(model: NCF, ratings: Ratings, user: int, item: int, exact_local: bool = False,
            include_network: bool = False, damping: float = 0.0, cg_tol: float = 1e-6,
            cg_maxiter: int = 1000) -> pd.DataFrame:
    """The influence of every rating in R_t on the prediction for (``user``, ``item``): FIA-NCF,
    eq. (24) of KDD 2019 (module docstring), INFL(z) = y_hat(theta) - y_hat(theta_-z).

    Parameters
    ----------
    model : NCF
        A fitted ``mfteach.ncf.NCF``.
    ratings : Ratings
        Its training ratings (R_t is taken from them).
    user, item : int
        The target pair (row and column indices).
    exact_local : bool
        The exact leave-one-out of the local problem instead of its first-order estimate:
        removing z takes 2 g_z g_z^T out of H_e, and by Sherman-Morrison the influence becomes
        INFL(z) / (1 - h_z) with the leverage h_z = 2 g_z^T H_e^{-1} g_z. Exact when (p_u, q_i)
        minimize L_t and no ReLU changes sign on the way (L_t is then quadratic and y_hat
        linear); ``refit_embeddings`` re-minimizes without these assumptions.
    include_network : bool
        Add the theta_n term of eq. (23) (conjugate gradients over all of Omega; for small
        models). The frame then also has the columns ``influence_embeddings`` (eq. (22)) and
        ``influence_network`` (eq. (23)); ``influence`` is their sum, eq. (21).
    damping : float
        Added to the diagonal of the Hessians (the paper adds 1e-6; H_e needs none when
        lambda > 0, H_n may).
    cg_tol, cg_maxiter : float, int
        Relative residual and iteration cap of the conjugate gradients for eq. (23).

    Returns
    -------
    DataFrame
        One row per rating z in R_t: user, item, title, genres, rating, influence, side
        ("item-based": the target user's own rating; "user-based": another user's rating of the
        target item), largest |influence| first (the explanation frame of ``mfteach.explain``).
        ``attrs``: prediction, user, item; with ``include_network`` also cg_iterations.
    """
    user, item = check_ncf_call(model, ratings, user, item)
    damping = check_non_negative("damping", damping)
    local = NCFLocal(model, ratings, user, item)
    problem = ncf_problem(model, ratings, user, item, damping, local=local)  # H_e / 2 of eq. (22), summed
    extra, iterations = None, None
    if include_network:
        network, iterations = _network_influence(model, ratings, local, damping, cg_tol,
                                                 check_positive_int("cg_maxiter", cg_maxiter))
        extra = {"influence_network": network}
    frame = explain_local(problem, ratings, exact_local=exact_local, extra=extra)  # eq. (24) [+ eq. (23)]
    if include_network:
        frame.attrs["cg_iterations"] = iterations
    return frame


def _network_influence(model: NCF, ratings: Ratings, local: NCFLocal, damping, tol, maxiter):
    """Eq. (23) for every z in R_t: 2 e_z grad_{theta_n} r_hat_z . H_n^{-1} grad_{theta_n} y_hat."""
    params, mu = model.params_, model.mu_
    _, cache = forward(params, np.array([local.user]), np.array([local.item]), mu)
    grad_network, _ = backward(params, cache, np.ones(1), with_embeddings=False)
    solved, iterations = _network_solve(model, ratings, grad_network, damping, tol, maxiter)
    predicted_z, cache_z = forward(params, local.rows, local.cols, mu)
    return 2.0 * (local.values - predicted_z) * _network_directional(params, cache_z, solved), iterations


# ---------------------------------------------------------------------------- leave-one-out validation
def _retrain_predictions(model: NCF, ratings: Ratings, targets, removed, n_retrains, n_epochs, lr, seed) -> np.ndarray:
    """Predictions at ``targets`` (n_retrains x len(targets)) after warm-started retrains
    (``mt.retrain``) with seeds seed, seed + 1, ...: each continues the model's parameters and
    Adam state for ``n_epochs`` epochs on its own batch order; the ratings ``removed`` (None:
    nothing) get weight 0."""
    users, items = np.asarray(targets).T
    out = np.empty((n_retrains, len(users)))
    for s in range(n_retrains):
        out[s] = retrain(model, ratings, removed=removed, n_iters=n_epochs, lr=lr, seed=seed + s).predict(users, items)
    return out


def _check_retrain(model, ratings, n_retrains, n_epochs, lr, seed, caller: str):
    if not isinstance(model, NCF):
        raise TypeError(f"leave-one-out for NCF needs a model fitted by mfteach.NCF, got {type(model).__name__}")
    check_fitted(model)
    check_training_ratings(model, ratings, caller)
    if lr is not None:
        check_positive("lr", lr)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return check_positive_int("n_retrains", n_retrains), check_positive_int("n_epochs", n_epochs)


def loo_influence_ncf(model: NCF, ratings: Ratings, user: int, item: int, removed, n_retrains: int = 3,
                      n_epochs: int = 5, lr: float | None = None, seed: int = 1) -> float:
    """The observed influence y_hat - y_hat_without of the ratings ``removed`` (one (user, item)
    pair or a list of them, taken out together) on the prediction for (``user``, ``item``).

    NCF is trained by noisy mini-batch Adam, so (KDD 2019, section 4.1.2) we retrain
    ``n_retrains`` times, warm-started from ``model`` (its parameters and Adam state) for
    ``n_epochs`` epochs at learning rate ``lr`` (default: the model's), and average. Each
    retrain without the ratings is paired with a retrain with nothing removed on the same seed,
    whose prediction stands for y_hat: this subtracts the drift that retraining causes by
    itself. The removed ratings get weight 0 instead of being deleted, so both runs of a pair
    see the same mini-batches (common random numbers). ``ratings``: the model's training ratings.
    """
    n_retrains, n_epochs = _check_retrain(model, ratings, n_retrains, n_epochs, lr, seed, "loo_influence_ncf")
    user, item = check_ncf_call(model, ratings, user, item, "loo_influence_ncf")
    removed_positions(ratings, removed)  # a ValueError before any retrain when one is not a training rating
    kept = _retrain_predictions(model, ratings, [(user, item)], None, n_retrains, n_epochs, lr, seed)
    without = _retrain_predictions(model, ratings, [(user, item)], removed, n_retrains, n_epochs, lr, seed)
    return float(np.mean(kept - without))


def validate_fia_ncf(model: NCF, ratings: Ratings, targets, n_retrains: int = 3, n_epochs: int = 5,
                     lr: float | None = None, seed: int = 1, include_network: bool = False,
                     progress: bool = False) -> pd.DataFrame:
    """FIA-NCF against leave-one-out retraining, the protocol of KDD 2019 section 4.1.2: for
    every target (user, item) the rating z in R_t with the largest |FIA influence| is removed
    and its observed influence measured as in ``loo_influence_ncf`` (the retrains with nothing
    removed are shared by all targets). Pearson's R between the columns ``fia`` and ``loo`` is
    the paper's figure of merit (0.84 for FIA-NCF on MovieLens 1M).

    Returns a DataFrame: user, item, removed_user, removed_item, side, fia, loo (and
    fia_embeddings, fia_network with ``include_network``). ``progress``: a tqdm bar over the
    targets (each costs ``n_retrains`` x ``n_epochs`` epochs of training).
    """
    n_retrains, n_epochs = _check_retrain(model, ratings, n_retrains, n_epochs, lr, seed, "validate_fia_ncf")
    targets = [check_ncf_call(model, ratings, *pair, caller="validate_fia_ncf") for pair in targets]
    if not targets:
        raise ValueError("targets is empty: give at least one (user, item) pair")
    kept = _retrain_predictions(model, ratings, targets, None, n_retrains, n_epochs, lr, seed)
    loop = enumerate(targets)
    if progress:
        from tqdm.auto import tqdm

        loop = tqdm(loop, total=len(targets), desc="leave-one-out", unit="target")
    records = []
    for k, (user, item) in loop:
        top = fia_ncf(model, ratings, user, item, include_network=include_network).iloc[0]
        removed = (int(top["user"]), int(top["item"]))
        without = _retrain_predictions(model, ratings, [(user, item)], removed, n_retrains,
                                       n_epochs, lr, seed)
        record = {"user": user, "item": item, "removed_user": removed[0], "removed_item": removed[1],
                  "side": top["side"], "fia": float(top["influence"]),
                  "loo": float(np.mean(kept[:, k] - without[:, 0]))}
        if include_network:
            record.update(fia_embeddings=float(top["influence_embeddings"]),
                          fia_network=float(top["influence_network"]))
        records.append(record)
    return pd.DataFrame(records)
