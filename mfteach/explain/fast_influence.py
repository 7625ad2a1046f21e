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

Code. The formulas above are written once, in ``_problem.local_influence``, for any model
family that describes a prediction by a ``LocalProblem`` (theta_t's blocks, R_t, residuals,
the blocks of H_t / 2): matrix factorization's is built in ``_mf`` (with ``Objective``,
``relative_gradient_norm`` and ia_basic's ``FullProblem``), NCF's in ``_ncf`` (KDD 2019 eq. 22,
see ``fia_ncf``). ``local_problem`` below is the only place that dispatches on the model
family; leave-one-out retrains go through ``mt.retrain`` (``mfteach.retraining``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..als import ALS
from ..base import check_fitted, check_index, check_training_ratings
from ..gd import GradientDescent
from ..ncf import NCF
from ..ratings import Ratings
from ..retraining import retrain
from ._mf import (CONVERGED, ConvergenceWarning, FullProblem, Objective, mf_problem, objective_of, objective_problem,
                  relative_gradient_norm)
from ._ncf import ncf_problem
from ._problem import SIDES, check_side, explain_local, explanation_frame
from ._problem import local_influence as problem_influence
from .fast_influence_ncf import loo_influence_ncf

__all__ = ["fia", "ia_basic", "loo_influence", "relative_gradient_norm", "local_problem", "local_influence",
           "ConvergenceWarning", "CONVERGED", "Objective", "objective_of", "FullProblem", "explanation_frame", "SIDES"]


def local_problem(model, ratings: Ratings, user: int, item: int, caller: str = "fia"):
    """The ``LocalProblem`` of the prediction for (``user``, ``item``) (``mfteach.explain._problem``):
    the one dispatch on the model family. ALS and GradientDescent models get matrix
    factorization's (and a ``ConvergenceWarning`` when far from converged), NCF models NCF's
    (``fia_ncf``'s defaults: no damping); anything else a TypeError. Errors name ``caller``."""
    if isinstance(model, NCF):
        return ncf_problem(model, ratings, user, item, caller=caller)
    return mf_problem(model, ratings, user, item, caller)


def local_influence(objective: Objective, ratings: Ratings, user: int, item: int, exact_local: bool = False):
    """FIA's INFL of every rating in R_t for an MF ``objective``, as arrays (no frame, no checks):
    (rows, cols, values, side codes 0 = item-based / 1 = user-based, first-order INFL,
    exact-local INFL or None, prediction). ``exact_local`` needs (user, item) outside the
    training ratings (ValueError otherwise)."""
    problem = objective_problem(objective, ratings, user, item)
    first, exact = problem_influence(problem, exact_local)
    return problem.rows, problem.cols, problem.values, problem.sides, first, exact, problem.prediction


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
        mfteach NCF (its local problem of eq. 22: ``fia_ncf`` with its defaults).
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
    check_side(side)
    problem = local_problem(model, ratings, user, item, "fia")
    return explain_local(problem, ratings, side, exact_local)


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
    if isinstance(model, NCF):
        raise TypeError("ia_basic supports mt.ALS and mt.GradientDescent; for NCF use mfteach.explain.fia_ncf (FIA-NCF)")
    code = check_side(side)
    problem = local_problem(model, ratings, user, item, "ia_basic")
    full = FullProblem(objective_of(model), ratings)
    s, iterations = full.solve(problem.user, problem.item, damping, tol, maxiter, solver)
    rows, cols, values, sides = problem.rows, problem.cols, problem.values, problem.sides
    if code is not None:
        keep = sides == code
        rows, cols, values, sides = rows[keep], cols[keep], values[keep], sides[keep]
    frame = explanation_frame(ratings, problem.user, problem.item, rows, cols, values,
                              full.removal_influence(s, rows, cols), np.array(SIDES, dtype=object)[sides],
                              problem.prediction)
    frame.attrs["cg_iterations"] = iterations
    return frame


# ---------------------------------------------------------------------------- leave-one-out retraining
def loo_influence(model, ratings: Ratings, user: int, item: int, removed, n_iters: int | None = None,
                  tol: float | None = None, subtract_drift: bool = True, verbose: bool = False,
                  **ncf_options) -> float:
    """The observed influence y_hat - y_hat_without of the ratings ``removed`` (taken out
    together) on the prediction for (``user``, ``item``): retrain without them, warm-started from
    the fitted model (``mt.retrain``, whose stopping rule ``n_iters`` and ``tol`` are: None = ALS
    to a relative objective decrease of 1e-12 within 1000 iterations, GradientDescent 1000
    epochs), and compare.

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
    if isinstance(model, NCF):
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
    without = retrain(model, ratings, removed, n_iters=n_iters, tol=tol, verbose=verbose).predict([user], [item])[0]
    reference = retrain(model, ratings, n_iters=n_iters, tol=tol, verbose=verbose) if subtract_drift else model
    return float(reference.predict([user], [item])[0] - without)
