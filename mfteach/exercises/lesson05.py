r"""Exercises of lesson 05_implicit_feedback (registered on import).

The lecture slides ("Collaborative Filtering for Implicit Feedback", "Closed Form", "Exercise:
find the closed form") fix V and minimize, for one user u, a loss over ALL n items:

    L_u(u) = sum_i c_ui (p_ui - u^T v_i)^2 + lambda ||u||^2
           = ||sqrt(C^u) p_u - sqrt(C^u) V u||^2 + lambda ||u||^2,     C^u = diag(c_u1, ..., c_un),

a ridge regression on X = sqrt(C^u) V and y = sqrt(C^u) p_u, whose minimizer is

    u_u = (V^T C^u V + lambda I)^{-1} V^T C^u p_u.

Every item enters, also the ones the user never touched (p_ui = 0, confidence c_ui = 1 in
Hu, Koren and Volinsky 2008: c_ui = 1 + alpha r_ui). (The slides index users by i; lesson 05's
notation table translates.)
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

LESSON_05 = "05_implicit_feedback"
TOY_ALPHA = 10.0  # the lesson's alpha for the slides' 4 x 6 example


# ---------------------------------------------------------------------------- test cases
def _slides_user_0():
    """The slides' example: user 0's row of P, confidences c = 1 + alpha r with the slides' C as r
    (alpha = 10), V = the slides' V (lecture_Vt transposed), lambda = 0.1."""
    P, C = toy("lecture_P"), toy("lecture_C")
    return toy("lecture_Vt").T, 1.0 + TOY_ALPHA * C[0], P[0], 0.1


def _weighted_user_update_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, alpha, lambda): some users touched fewer items than k, all touched
    # fewer than n, so that dropping the c = 1 items or lambda changes the answer
    for n, k, count, alpha, reg in [(12, 3, 5, 2.0, 0.5), (30, 5, 4, 40.0, 1.0), (9, 2, 6, 0.5, 0.1),
                                    (60, 8, 25, 10.0, 3.0), (20, 4, 1, 5.0, 0.2)]:
        V = rng.normal(scale=0.5, size=(n, k))
        touched = rng.choice(n, size=count, replace=False)
        r = np.zeros(n)
        r[touched] = rng.integers(1, 20, size=count)      # counts: plays, clicks, ...
        p = (r > 0).astype(float)
        cases.append((V, 1.0 + alpha * r, p, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _solve(A, b):
    return np.linalg.solve(A, b)


def _no_c_in_gram(V, c_u, p_u, reg):
    return _solve(V.T @ V + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))


def _no_c_in_rhs(V, c_u, p_u, reg):
    return _solve(V.T @ (c_u[:, None] * V) + reg * np.eye(V.shape[1]), V.T @ p_u)


def _no_c_at_all(V, c_u, p_u, reg):
    return _solve(V.T @ V + reg * np.eye(V.shape[1]), V.T @ p_u)


def _only_interacted(V, c_u, p_u, reg):
    touched = p_u > 0
    V_O, c_O = V[touched], c_u[touched]
    return _solve(V_O.T @ (c_O[:, None] * V_O) + reg * np.eye(V.shape[1]), V_O.T @ (c_O * p_u[touched]))


def _no_reg(V, c_u, p_u, reg):
    return _solve(V.T @ (c_u[:, None] * V), V.T @ (c_u * p_u))


def _sqrt_c_in_rhs(V, c_u, p_u, reg):
    X = np.sqrt(c_u)[:, None] * V                      # sqrt(C) V ...
    return _solve(X.T @ X + reg * np.eye(V.shape[1]), X.T @ p_u)   # ... but p where sqrt(C) p belongs


def _extra_confidence_only(V, c_u, p_u, reg):
    return _solve(V.T @ ((c_u - 1.0)[:, None] * V) + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))


def _reg_everywhere(V, c_u, p_u, reg):
    return _solve(V.T @ (c_u[:, None] * V) + reg, V.T @ (c_u * p_u))


@register(
    lesson=LESSON_05,
    title="the weighted (implicit-feedback) user update: u_u = (Vᵀ Cᵘ V + λI)⁻¹ Vᵀ Cᵘ p_u",
    cases=_weighted_user_update_cases,
    hints=[
        "With V fixed, user u's loss is Σ_i c_ui (p_ui − uᵀv_i)² + λ‖u‖² over ALL n items: a weighted ridge "
        "regression in which item i has weight c_ui. The items the user never touched count too, with p_ui = 0 "
        "and weight c_ui = 1.",
        "Write it as ‖√C p − √C V u‖² + λ‖u‖² with C = diag(c_u) (the slides' trick): ordinary ridge regression "
        "with inputs X = √C V and targets y = √C p. Lesson 03's closed form gives u = (XᵀX + λI)⁻¹ Xᵀy.",
        "XᵀX = Vᵀ C V and Xᵀy = Vᵀ C p. Without building the n x n matrix diag(c_u): "
        "V.T @ (c_u[:, None] * V) and V.T @ (c_u * p_u); λI is reg * np.eye(k) with k = V.shape[1].",
        "A = V.T @ (c_u[:, None] * V) + reg * np.eye(V.shape[1]); b = V.T @ (c_u * p_u); "
        "return np.linalg.solve(A, b)",
    ],
    diagnostics=[
        Diagnostic(_no_c_in_gram, "Your k x k matrix is Vᵀ V + λI: the confidences are missing there. Item i's "
                                  "squared error is weighted by c_ui, so the Gram matrix is Vᵀ Cᵘ V = "
                                  "V.T @ (c_u[:, None] * V)."),
        Diagnostic(_no_c_in_rhs, "Your right-hand side is Vᵀ p_u: the confidences are missing there. With "
                                 "X = √C V and y = √C p it is Xᵀy = Vᵀ Cᵘ p_u = V.T @ (c_u * p_u)."),
        Diagnostic(_no_c_at_all, "Your u ignores the confidences entirely: (Vᵀ V + λI)⁻¹ Vᵀ p_u is the unweighted "
                                 "fit of the 0/1 row. Weight item i by c_ui in both places: Vᵀ Cᵘ V and Vᵀ Cᵘ p_u."),
        Diagnostic(_only_interacted, "You used only the items the user interacted with (p_ui = 1). The implicit "
                                     "loss runs over ALL items: the others have p_ui = 0 and confidence 1, and "
                                     "they are what pulls the scores of unseen items down. Use all n rows of V."),
        Diagnostic(_no_reg, "λI is missing: add reg * np.eye(k) to Vᵀ Cᵘ V."),
        Diagnostic(_sqrt_c_in_rhs, "You built X = √C V but used p instead of y = √C p on the right: Xᵀ p = Vᵀ √C p. "
                                   "The right-hand side is Xᵀ y = Vᵀ C p."),
        Diagnostic(_extra_confidence_only, "Your Gram matrix is Vᵀ(Cᵘ − I)V + λI: that is only the correction of "
                                           "the speed-up. Vᵀ Cᵘ V = Vᵀ V + Vᵀ(Cᵘ − I)V: add Vᵀ V."),
        Diagnostic(_reg_everywhere, "You added λ to EVERY entry of Vᵀ Cᵘ V (A + reg broadcasts); λI puts λ on the "
                                    "diagonal only: A + reg * np.eye(k)."),
    ],
)
def weighted_user_update(V, c_u, p_u, reg):
    r"""The implicit-feedback ALS update of one user (lecture slides, "Closed Form"; Hu et al. eq. 4).

    .. math::
        u_u = (V^\top C^u V + \lambda I)^{-1} V^\top C^u p_u, \qquad C^u = \mathrm{diag}(c_u)

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    c_u : ndarray, shape (n,)
        The user's confidence in every item, c_ui = 1 + alpha r_ui (1 where there is no interaction).
    p_u : ndarray, shape (n,)
        The user's preferences, p_ui = 1 if r_ui > 0 else 0.
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (k,)
        u_u, the minimizer of sum_i c_ui (p_ui - u^T v_i)^2 + lambda ||u||^2 over ALL n items.
    """
    A = V.T @ (c_u[:, None] * V) + reg * np.eye(V.shape[1])   # V^T C^u V + lambda I   (k x k), C^u = diag(c_u)
    b = V.T @ (c_u * p_u)                                    # V^T C^u p_u            (k)
    return np.linalg.solve(A, b)                             # u_u = A^{-1} b
