r"""Exercises of lesson 06_influence_and_impact (registered on import).

FATREC 2017 (Rastegarpanah, Crovella, Gummadi), eq. (2): with V fixed, ALS's user update
u_u = (V_Omega^T V_Omega + lambda I)^{-1} V_Omega^T r_Omega (lesson 03) is linear in the user's
ratings, and so are all of the user's predictions r_hat_u = V u_u:

    r_hat_u = J r_Omega,      J = V (V_Omega^T V_Omega + lambda I)^{-1} V_Omega^T    (n x |Omega_u|).

J[i, k] = d r_hat_ui / d r_{u, k-th rated item} is the influence of the k-th past rating on the
prediction for item i. J depends on WHICH items the user rated (Omega_u), not on the ratings.
(The paper stores items in rows and users in columns and has no lambda; lesson 06's notation
table translates.)
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

LESSON_06 = "06_influence_and_impact"


# ---------------------------------------------------------------------------- test cases
def _slides_user_0():
    """The slides' 4 x 6 example of lesson 03: user 0 rated items 0, 3, 5; V = (V^T)^T; lambda = 0.1."""
    R = toy("lecture_R")
    return toy("lecture_Vt").T, np.flatnonzero(~np.isnan(R[0])), 0.1


def _influence_matrix_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, lambda): every user rated more than k items (so that leaving out
    # lambda gives wrong numbers, not a singular matrix), fewer than n (so that V^T V over all
    # items differs), in shuffled order (the columns of J follow rated_items)
    for n, k, count, reg in [(10, 3, 6, 0.5), (20, 5, 12, 1.0), (8, 1, 4, 0.2), (40, 4, 25, 10.0), (15, 6, 9, 0.05)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)
        if np.all(np.diff(rated) > 0):
            rated = rated[::-1].copy()
        cases.append((V, rated, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _eye(V):
    return np.eye(V.shape[1])


def _no_reg(V, rated_items, reg):
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O, V_O.T)


def _all_items_gram(V, rated_items, reg):
    return V @ np.linalg.solve(V.T @ V + reg * _eye(V), V[rated_items].T)


def _rated_rows_only(V, rated_items, reg):
    V_O = V[rated_items]
    return V_O @ np.linalg.solve(V_O.T @ V_O + reg * _eye(V), V_O.T)


def _transposed(V, rated_items, reg):
    V_O = V[rated_items]
    return V_O @ np.linalg.solve(V_O.T @ V_O + reg * _eye(V), V.T)


def _reg_everywhere(V, rated_items, reg):
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O + reg, V_O.T)


def _reg_times_count(V, rated_items, reg):
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O + reg * len(rated_items) * _eye(V), V_O.T)


def _sorted_items(V, rated_items, reg):
    V_O = V[np.sort(rated_items)]
    return V @ np.linalg.solve(V_O.T @ V_O + reg * _eye(V), V_O.T)


@register(
    lesson=LESSON_06,
    title="the influence matrix of one user (FATREC 2017 eq. (2)): J = V (V_Ωᵀ V_Ω + λI)⁻¹ V_Ωᵀ",
    cases=_influence_matrix_cases,
    hints=[
        "Lesson 03's update is u = (V_Ωᵀ V_Ω + λI)⁻¹ V_Ωᵀ r_Ω, and all the user's predictions are V u. Substitute: "
        "r̂ = V (V_Ωᵀ V_Ω + λI)⁻¹ V_Ωᵀ r_Ω = J r_Ω. J is the matrix in front of r_Ω; the ratings themselves are "
        "not needed.",
        "Shapes: V is n x k, V_Ω = V[rated_items] is |Ω_u| x k, the middle matrix is k x k, and J is n x |Ω_u| "
        "(one row per item, one column per rated item, in the order of rated_items).",
        "Solve instead of inverting: np.linalg.solve(A, V_O.T) is A⁻¹ V_Ωᵀ (k x |Ω_u|) with A = V_O.T @ V_O + "
        "reg * np.eye(k); multiply by V on the left.",
        "V_O = V[rated_items]; A = V_O.T @ V_O + reg * np.eye(V.shape[1]); return V @ np.linalg.solve(A, V_O.T)",
    ],
    diagnostics=[
        Diagnostic(_no_reg, "λI is missing: the user's ridge problem adds reg * np.eye(k) to V_Ωᵀ V_Ω (the paper "
                            "writes eq. (2) without λ; ALS's update has it)."),
        Diagnostic(_all_items_gram, "Your k x k matrix is Vᵀ V over ALL items. Only the items the user rated "
                                    "enter the user's problem: V_Ωᵀ V_Ω + λI with V_Ω = V[rated_items]. V itself "
                                    "(all n rows) appears only on the far left, to predict every item."),
        Diagnostic(_rated_rows_only, "Your J has only the rows of the rated items: V_Ω (…)⁻¹ V_Ωᵀ. The influence "
                                     "matrix predicts EVERY item, so the left factor is the whole V (n x k): "
                                     "J is n x |Ω_u|."),
        Diagnostic(_transposed, "Your result is Jᵀ (|Ω_u| x n): rows should be the n items whose predictions move, "
                                "columns the rated items. J = V (…)⁻¹ V_Ωᵀ, with V on the left."),
        Diagnostic(_reg_everywhere, "You added λ to EVERY entry of V_Ωᵀ V_Ω (A + reg broadcasts); λI puts λ on "
                                    "the diagonal only: A + reg * np.eye(k)."),
        Diagnostic(_reg_times_count, "You used λ·|Ω_u| on the diagonal: that is ALS-WR's weighted penalty. Here "
                                     "every user is penalized by the same λ: reg * np.eye(k)."),
        Diagnostic(_sorted_items, "Your columns are in sorted item order. Column j of J belongs to rated_items[j]: "
                                  "index V with rated_items as given, without sorting."),
    ],
)
def influence_matrix_of_user(V, rated_items, reg):
    r"""The influence matrix of one user (FATREC 2017, eq. (2), with lambda).

    .. math::
        J = V (V_{\Omega_u}^\top V_{\Omega_u} + \lambda I)^{-1} V_{\Omega_u}^\top,
        \qquad J_{ik} = \partial \hat r_{ui} / \partial r_{u, \mathrm{rated\_items}[k]}

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    rated_items : int array, shape (|Omega_u|,)
        The items user u rated (Omega_u), in any order; column j of J belongs to rated_items[j].
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (n, |Omega_u|)
        J: the user's predictions are V u_u = J r_{Omega_u} for any ratings r_{Omega_u}.
    """
    V_O = V[rated_items]                          # V_{Omega_u}: the rated items' vectors, |Omega_u| x k
    A = V_O.T @ V_O + reg * np.eye(V.shape[1])    # V_{Omega_u}^T V_{Omega_u} + lambda I   (k x k)
    return V @ np.linalg.solve(A, V_O.T)          # J = V A^{-1} V_{Omega_u}^T             (n x |Omega_u|)
