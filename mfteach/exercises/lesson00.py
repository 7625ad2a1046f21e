"""Exercises of lesson 00_recommenders_as_matrices (registered on import)."""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

# ============================================================================ lesson 00
# The exercises of 00_recommenders_as_matrices. The lecture slides ("Recommender Systems 1")
# write the rating matrix R (m x n, "?" for unknown), U (m x d), V (n x d) and the objective
#     sum over (u, i) in Omega of (r_ui - u_u . v_i)^2 + lambda (sum_u ||u_u||^2 + sum_i ||v_i||^2).
LESSON_00 = "00_recommenders_as_matrices"


def _lecture_example():
    """The slides' 4 x 6 example: R (NaN = ?), U (4 x 2), V = (V^T)^T (6 x 2)."""
    return toy("lecture_R"), toy("lecture_U"), toy("lecture_Vt").T


def _random_ratings(rng, m: int, n: int, known: float) -> np.ndarray:
    """Integer stars 1..5 with each entry known with probability ``known`` (NaN otherwise)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) >= known] = np.nan
    return R


# ---------------------------------------------------------------------------- predict_ratings
def _predict_ratings_cases(rng):
    _, U, V = _lecture_example()
    cases = [(U, V)]
    for m, n, k in [(5, 3, 1), (3, 7, 2), (6, 6, 3), (10, 4, 5), (1, 8, 2)]:
        cases.append((rng.normal(size=(m, k)), rng.normal(size=(n, k))))
    return cases


@register(
    lesson=LESSON_00,
    title="predict every rating at once: R_hat = U V^T",
    cases=_predict_ratings_cases,
    hints=[
        "One prediction r̂_ui is the dot product of user u's row of U with item i's row of V.",
        "All predictions together form R̂ = U Vᵀ: (m x k) times (k x n) gives the m x n matrix.",
        "In numpy `@` is the matrix product and `.T` the transpose: return U @ V.T",
    ],
    diagnostics=[
        Diagnostic(lambda U, V: V @ U.T,
                   "You computed V Uᵀ, which is R̂ᵀ (items in rows). R̂ = U Vᵀ has users in rows."),
    ],
)
def predict_ratings(U, V):
    """All predicted ratings R_hat = U V^T (lecture slides: r_hat_ui = u_u . v_i).

    Parameters
    ----------
    U : ndarray, shape (m, k)
        User factors; row u is u_u.
    V : ndarray, shape (n, k)
        Item factors; row i is v_i.

    Returns
    -------
    ndarray, shape (m, n)
        R_hat[u, i] = u_u . v_i, the predicted rating of user u for item i.
    """
    return U @ V.T  # (m x k) @ (k x n) -> m x n


# ---------------------------------------------------------------------------- regularized_loss
def _regularized_loss_cases(rng):
    R, U, V = _lecture_example()
    cases = [(R, U, V, 0.1)]
    for m, n, k, reg in [(5, 4, 2, 0.5), (8, 6, 3, 1.0), (3, 9, 1, 0.05), (12, 10, 4, 2.0)]:
        R = _random_ratings(rng, m, n, known=0.5)
        R[0, 0], R[-1, -1] = 3.0, np.nan  # at least one known and one unknown entry
        cases.append((R, 0.5 * rng.normal(size=(m, k)), 0.5 * rng.normal(size=(n, k)), reg))
    cases[2][0][1, :] = np.nan  # a user without any rating
    return cases


# Building blocks of the wrong answers below (the reference itself is written out in full).
def _squared_errors(R, U, V):
    """Sum over the known entries of (r_ui - u_u . v_i)^2."""
    known = ~np.isnan(R)
    return np.sum((R - U @ V.T)[known] ** 2)


def _penalty(U, V):
    """sum_u ||u_u||^2 + sum_i ||v_i||^2."""
    return np.sum(U ** 2) + np.sum(V ** 2)


def _count_known(R):
    """|Omega|."""
    return np.count_nonzero(~np.isnan(R))


def _penalty_per_rating(R, U, V):
    """sum over Omega of ||u_u||^2 + ||v_i||^2 (the SGD-style per-rating regularization)."""
    users, items = np.nonzero(~np.isnan(R))
    return np.sum(U[users] ** 2) + np.sum(V[items] ** 2)


_BOOK_MEAN = "You divided by |Ω|: the lecture's loss is a sum, the book's 9.5 is a mean."


@register(
    lesson=LESSON_00,
    title="the regularized squared loss of the lecture slides",
    cases=_regularized_loss_cases,
    hints=[
        "Two parts: the squared errors on the KNOWN entries only, plus λ times the squared "
        "norms of all user and item vectors.",
        "The known entries are known = ~np.isnan(R); the errors there are (R - U @ V.T)[known].",
        "Σ_u ‖u_u‖² + Σ_i ‖v_i‖² is np.sum(U**2) + np.sum(V**2): every entry of U and V, squared.",
        "return np.sum(errors**2) + reg * (np.sum(U**2) + np.sum(V**2))",
    ],
    diagnostics=[
        Diagnostic(lambda R, U, V, reg: np.sum((R - U @ V.T) ** 2) + reg * _penalty(U, V),
                   "NaN: unknown entries must be skipped (np.isnan mask). NaN minus anything is NaN, "
                   "and one NaN makes the whole sum NaN."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V),
                   "The regularization term λ(Σ‖u‖² + Σ‖v‖²) seems to be missing: "
                   "add reg * (np.sum(U**2) + np.sum(V**2))."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) / _count_known(R),
                   "You divided by |Ω| and left out the regularization: that is the book's eq. 9.5 "
                   "(a mean), but the lecture's loss is a sum plus λ(Σ‖u‖² + Σ‖v‖²)."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) / _count_known(R) + reg * _penalty(U, V),
                   _BOOK_MEAN),
        Diagnostic(lambda R, U, V, reg: (_squared_errors(R, U, V) + reg * _penalty(U, V)) / _count_known(R),
                   _BOOK_MEAN),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) + reg * np.sum(U ** 2),
                   "Only U is regularized: the regularization term also needs λ Σ‖v_i‖² for the items."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) + reg * np.sum(V ** 2),
                   "Only V is regularized: the regularization term also needs λ Σ‖u_u‖² for the users."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) + reg * np.sum(U ** 2) + np.sum(V ** 2),
                   "λ multiplies only Σ‖u‖²: put parentheses around (Σ‖u_u‖² + Σ‖v_i‖²)."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) + reg * (np.linalg.norm(U) + np.linalg.norm(V)),
                   "The norms in the regularization term are squared: ‖U‖² = np.sum(U**2), "
                   "not np.linalg.norm(U)."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(np.nan_to_num(R), U, V) + reg * _penalty(U, V),
                   "You counted the unknown entries as ratings of 0: the loss sums over Ω, "
                   "the known entries only (mask with ~np.isnan(R))."),
        Diagnostic(lambda R, U, V, reg: np.sum(np.abs((R - U @ V.T)[~np.isnan(R)])) + reg * _penalty(U, V),
                   "You summed |r_ui − u_u·v_i|; the loss squares each error."),
        Diagnostic(lambda R, U, V, reg: 0.5 * (_squared_errors(R, U, V) + reg * _penalty(U, V)),
                   "Your loss is half the lecture's: the ½ some texts put in front is not in the "
                   "slides' objective."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V) + reg * _penalty_per_rating(R, U, V),
                   "You added λ(‖u_u‖² + ‖v_i‖²) once per known rating; the lecture's objective "
                   "adds λ‖u_u‖² once per user and λ‖v_i‖² once per item."),
    ],
)
def regularized_loss(R, U, V, reg):
    r"""The objective of the lecture slides ("Recommender Systems 1").

    .. math::
        L(U, V) = \sum_{(u,i) \in \Omega} (r_{ui} - u_u^T v_i)^2
                  + \lambda \Big(\sum_u \|u_u\|^2 + \sum_i \|v_i\|^2\Big)

    Parameters
    ----------
    R : ndarray, shape (m, n)
        Ratings, NaN where unknown; Omega is the set of known entries.
    U : ndarray, shape (m, k)
        User factors.
    V : ndarray, shape (n, k)
        Item factors.
    reg : float
        lambda, the weight of the regularization term.

    Returns
    -------
    float
        The loss: a sum over Omega (not a mean, unlike the book's eq. 9.5).
    """
    known = ~np.isnan(R)                                 # Omega
    errors = (R - U @ V.T)[known]                        # r_ui - u_u . v_i on Omega
    penalty = np.sum(U ** 2) + np.sum(V ** 2)            # sum_u ||u_u||^2 + sum_i ||v_i||^2
    return float(np.sum(errors ** 2) + reg * penalty)


# ---------------------------------------------------------------------------- density
def _density_cases(rng):
    cases = [(toy("lecture_R"),)]
    for (m, n), known in [((5, 4), 0.5), ((10, 20), 0.1), ((7, 3), 0.9), ((4, 4), 1.0), ((3, 5), 0.0)]:
        cases.append((_random_ratings(rng, m, n, known),))
    return cases


@register(
    lesson=LESSON_00,
    title="the density |Ω| / (m n) of a rating matrix",
    cases=_density_cases,
    hints=[
        "Density = known entries / all entries = |Ω| / (m·n).",
        "np.isnan(R) is True where a rating is unknown; `~` turns that into True where it is known.",
        "return np.count_nonzero(~np.isnan(R)) / R.size",
    ],
    diagnostics=[
        Diagnostic(lambda R: 1 - _count_known(R) / R.size,
                   "That is the fraction of UNKNOWN entries (1 − density): "
                   "count the known ones, ~np.isnan(R)."),
        Diagnostic(lambda R: np.count_nonzero(R) / R.size,
                   "np.count_nonzero(R) counts NaN as non-zero (NaN ≠ 0), so unknown entries were "
                   "counted as known: count ~np.isnan(R) instead."),
        Diagnostic(lambda R: _count_known(R),
                   "You returned |Ω|, the number of known entries; the density divides it by m·n."),
        Diagnostic(lambda R: _count_known(R) / (R.size - 1),
                   "Off by one: divide by m·n = R.size, not m·n − 1."),
        Diagnostic(lambda R: _count_known(R) / (R.size + 1),
                   "Off by one: divide by m·n = R.size, not m·n + 1."),
        Diagnostic(lambda R: _count_known(R) / R.shape[0],
                   "You divided by the number of users m; the matrix has m·n entries (R.size)."),
        Diagnostic(lambda R: _count_known(R) / R.shape[1],
                   "You divided by the number of items n; the matrix has m·n entries (R.size)."),
    ],
)
def density(R):
    """The fraction of known entries, |Omega| / (m n) (lesson 00: MovieLens 100K has about 6%).

    Parameters
    ----------
    R : ndarray, shape (m, n)
        Ratings, NaN where unknown.

    Returns
    -------
    float
        Between 0 (nothing known) and 1 (every user rated every item).
    """
    known = ~np.isnan(R)                # True on Omega
    return np.count_nonzero(known) / R.size
