"""Exercises of lesson 03_alternating_least_squares (registered on import).

The lecture slides ("Alternating least squares (ALS)") fix V and solve for one user at a time:
with V_{Omega_u} the rows v_i of the items user u rated (|Omega_u| x k) and r_{Omega_u} their
ratings, the minimizer of ||r_{Omega_u} - V_{Omega_u} u||^2 + lambda ||u||^2 is

    u_u = (V_{Omega_u}^T V_{Omega_u} + lambda I)^{-1} V_{Omega_u}^T r_{Omega_u}.

(The slides index users by i and write V as d x n; lesson 03's notation table translates.)
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

LESSON_03 = "03_alternating_least_squares"


# ---------------------------------------------------------------------------- test cases
def _slides_user_0():
    """The slides' 4 x 6 example: user 0 rated items 0, 3, 5 with 1, 2, 1 stars; V = (V^T)^T."""
    R = toy("lecture_R")
    rated = np.flatnonzero(~np.isnan(R[0]))
    return toy("lecture_Vt").T, rated, R[0, rated], 0.1


def _user_update_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, lambda): every user rated more than k items, so that leaving out
    # lambda gives a wrong number (diagnosed below) rather than a singular matrix
    for n, k, count, reg in [(10, 3, 6, 0.5), (20, 5, 12, 1.0), (8, 1, 4, 0.2), (50, 4, 30, 10.0), (15, 6, 7, 0.05)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)  # not sorted: any order of Omega_u works
        ratings = rng.integers(1, 6, size=count).astype(float)
        cases.append((V, rated, ratings, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _gram(V, rated_items):
    V_O = V[rated_items]
    return V_O.T @ V_O, V_O


def _no_reg(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A, V_O.T @ ratings_of_user)


def _all_items_gram(V, rated_items, ratings_of_user, reg):
    V_O = V[rated_items]
    return np.linalg.solve(V.T @ V + reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _reg_twice(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + 2 * reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _reg_everywhere(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + reg, V_O.T @ ratings_of_user)


def _reg_times_count(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + reg * len(rated_items) * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _reg_squared(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + reg ** 2 * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _unregularized_rhs_scaled(V, rated_items, ratings_of_user, reg):
    # A u = b solved as u = b / diag(A) (ignoring the off-diagonal entries)
    A, V_O = _gram(V, rated_items)
    A = A + reg * np.eye(V.shape[1])
    return (V_O.T @ ratings_of_user) / np.diag(A)


def _first_items(V, rated_items, ratings_of_user, reg):
    # V[:len(ratings)] instead of V[rated_items]: the first |Omega_u| items, not the rated ones
    V_O = V[: len(ratings_of_user)]
    return np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


@register(
    lesson=LESSON_03,
    title="the closed-form ALS update of one user: u_u = (V_Ωᵀ V_Ω + λI)⁻¹ V_Ωᵀ r_Ω",
    cases=_user_update_cases,
    hints=[
        "With V fixed, user u's part of the objective is ‖r_Ω − V_Ω u‖² + λ‖u‖², a ridge regression: "
        "the rows of V_Ω (the rated items' vectors) are the inputs, the user's ratings the targets.",
        "V_Ω = V[rated_items] has shape (|Ω_u|, k). Setting the gradient −2 V_Ωᵀ(r_Ω − V_Ω u) + 2λu "
        "to zero gives the k x k system (V_Ωᵀ V_Ω + λI) u = V_Ωᵀ r_Ω.",
        "λI is λ on the diagonal only: reg * np.eye(k) with k = V.shape[1]. Solve the system with "
        "np.linalg.solve(A, b) (an inverse works too, but a solve is cheaper and more accurate).",
        "V_O = V[rated_items]; A = V_O.T @ V_O + reg * np.eye(V.shape[1]); b = V_O.T @ ratings_of_user; "
        "return np.linalg.solve(A, b)",
    ],
    diagnostics=[
        Diagnostic(_no_reg, "Your u solves the plain least-squares problem: λI is missing. Add reg * np.eye(k) "
                            "to V_Ωᵀ V_Ω (without it the system is singular for a user with fewer than k "
                            "ratings)."),
        Diagnostic(_all_items_gram, "Your k x k matrix is Vᵀ V over ALL items: only the items the user rated "
                                    "enter, V_Ω = V[rated_items], so use V_Ωᵀ V_Ω + λI."),
        Diagnostic(_first_items, "V[:len(ratings)] takes the first |Ω_u| items, not the rated ones: index V "
                                 "with the item numbers, V[rated_items]."),
        Diagnostic(_reg_twice, "λ was added twice (2λ on the diagonal). The gradient is −2 V_Ωᵀ(r − V_Ω u) + "
                               "2λu: divide by 2 and the system is (V_Ωᵀ V_Ω + λI) u = V_Ωᵀ r."),
        Diagnostic(_reg_everywhere, "You added λ to EVERY entry of V_Ωᵀ V_Ω (A + reg broadcasts); λI puts λ "
                                    "on the diagonal only: A + reg * np.eye(k)."),
        Diagnostic(_reg_times_count, "You used λ·|Ω_u| on the diagonal: that is ALS-WR's weighted penalty (or the "
                                     "mean loss). The slides' objective penalizes every user by the same λ."),
        Diagnostic(_reg_squared, "You put λ² on the diagonal; the penalty λ‖u‖² gives λ: reg * np.eye(k)."),
        Diagnostic(_unregularized_rhs_scaled, "You divided V_Ωᵀ r by the diagonal of the matrix: that ignores its "
                                              "off-diagonal entries. Solve the whole system: "
                                              "np.linalg.solve(A, b)."),
    ],
)
def user_update(V, rated_items, ratings_of_user, reg):
    r"""The ALS update of one user (lecture slides, "Alternating least squares (ALS)").

    .. math::
        u_u = (V_{\Omega_u}^\top V_{\Omega_u} + \lambda I)^{-1} V_{\Omega_u}^\top r_{\Omega_u}

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    rated_items : int array, shape (|Omega_u|,)
        The items user u rated (Omega_u), in any order.
    ratings_of_user : ndarray, shape (|Omega_u|,)
        r_{Omega_u}: the user's ratings of those items, in the same order.
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (k,)
        u_u, the minimizer of ||r_{Omega_u} - V_{Omega_u} u||^2 + lambda ||u||^2.
    """
    V_O = V[rated_items]                          # V_{Omega_u}: the rated items' vectors, |Omega_u| x k
    A = V_O.T @ V_O + reg * np.eye(V.shape[1])    # V_{Omega_u}^T V_{Omega_u} + lambda I   (k x k)
    b = V_O.T @ ratings_of_user                   # V_{Omega_u}^T r_{Omega_u}              (k)
    return np.linalg.solve(A, b)                  # u_u = A^{-1} b, by a solve (no inverse needed)
