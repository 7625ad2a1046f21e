"""Exercises and questions of lesson 01_factorization_and_movielens (registered on import).

In the lesson's order: ``predict_ratings`` (R_hat = U V^T, before the lesson computes the slides'
example), ``head_size`` (a find-out on MovieLens 100K: how few of the most rated movies hold a
given share of the ratings) and ``regularized_loss`` (the slides' objective); then two
check-your-understanding questions on the degrees of freedom (m + n) k. Lesson
00_recommenders_as_matrices comes before it (module ``lesson00``).
"""

from __future__ import annotations

import numpy as np

from ..data import load_movielens, toy
from ..data import synthetic as make_synthetic
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

# ============================================================================ lesson 01
# The exercises of 01_factorization_and_movielens. The lecture slides ("Recommender Systems 1")
# write the rating matrix R (m x n, "?" for unknown), U (m x d), V (n x d) and the objective
#     sum over (u, i) in Omega of (r_ui - u_u . v_i)^2 + lambda (sum_u ||u_u||^2 + sum_i ||v_i||^2).
LESSON_01 = "01_factorization_and_movielens"


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
    lesson=LESSON_01,
    title="predict every rating at once from the user and item factors",
    cases=_predict_ratings_cases,
    hints=[
        "One prediction r̂_ui is the dot product of user u's row of U with item i's row of V.",
        "All the dot products at once are one matrix product: U is (m x k), so it must be multiplied by "
        "a (k x n) matrix to give m x n. Which (k x n) matrix holds the item vectors as columns?",
        "numpy's `@` is the matrix product and `.T` the transpose; no loop is needed.",
    ],
    diagnostics=[
        Diagnostic(lambda U, V: V @ U.T,
                   "You computed V Uᵀ, which is R̂ᵀ (items in rows). R̂ = U Vᵀ has users in rows."),
        Diagnostic(lambda U, V: U @ V,
                   "U @ V cannot work: U is m x k and V is n x k, so the inner sizes (k and n) differ. "
                   "The item vectors are the ROWS of V; the product needs them as columns (the transpose)."),
        Diagnostic(lambda U, V: U * V,
                   "`*` multiplies entry by entry (and needs equal shapes); a prediction is a dot product, "
                   "a sum over the k factors: use the matrix product `@`."),
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


# ---------------------------------------------------------------------------- head_size (a find-out)
# The long tail of MovieLens: how few of the most rated movies collect a given share of all ratings?
def _small_ratings(rng, m: int, n: int, known: float) -> Ratings:
    """A random Ratings with skewed popularity: item i is known with probability ~ known * 2 / (1 + i)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    popularity = known * 2.0 / (1.0 + rng.permutation(n))
    R[rng.random((m, n)) >= np.minimum(popularity, 1.0)[None, :]] = np.nan
    R[rng.integers(m), :] = 3.0  # every item has a rating
    return Ratings.from_dense(R)


def _head_size_cases(rng):
    cases = [(_small_ratings(rng, 6, 8, 0.9), 0.5)]
    ml = load_movielens("100k")
    cases += [(ml, 0.5), (ml, 0.8)]
    synthetic, _, _ = make_synthetic(60, 90, 2, 0.15, seed=int(rng.integers(1000)))
    cases += [(synthetic, 0.5), (_small_ratings(rng, 30, 50, 0.5), 0.25), (_small_ratings(rng, 12, 20, 0.6), 1.0)]
    return cases


def _head_size_by(counts, share):
    """The fewest of the largest ``counts`` whose sum reaches ``share`` of the total."""
    covered = np.cumsum(np.sort(counts)[::-1])
    return int(np.argmax(covered >= share * covered[-1])) + 1


@register(
    lesson=LESSON_01,
    title="find out: how few of the most rated movies collect a given share of all ratings?",
    cases=_head_size_cases,
    hints=[
        "First count the ratings of every movie: a Ratings has a method for that (the lesson's long-tail "
        "cells use it).",
        "Order those counts from the most rated movie to the least rated one, then add them up one movie "
        "at a time (np.cumsum): the running total after the first h movies is what the h most rated hold.",
        "You need the first position where the running total reaches share × (number of ratings); "
        "np.argmax on a boolean array gives the first True. Positions count from 0, the answer counts "
        "movies.",
    ],
    diagnostics=[
        Diagnostic(lambda ratings, share: _head_size_by(ratings.item_counts(), share) - 1,
                   "Off by one: you returned the POSITION of the last movie needed (counting from 0); the "
                   "question asks for the number of movies, one more."),
        Diagnostic(lambda ratings, share: int(np.argmax(np.cumsum(np.sort(ratings.item_counts()))
                                                        >= share * len(ratings))) + 1,
                   "You added up the LEAST rated movies first (np.sort is ascending): the head of the long "
                   "tail is the most rated movies; reverse the order."),
        Diagnostic(lambda ratings, share: int(np.argmax(np.cumsum(np.sort(ratings.item_counts())[::-1])
                                                        > share * len(ratings))) + 1,
                   "'At least share' includes reaching it exactly: compare with >=, not >. (With share = 1 "
                   "the running total never EXCEEDS the number of ratings, and np.argmax of an all-False "
                   "array is 0.)"),
        Diagnostic(lambda ratings, share: _head_size_by(ratings.user_counts(), share),
                   "You counted ratings per USER (the most active users); the question is about movies, "
                   "the columns of R: count per item."),
    ],
)
def head_size(ratings, share):
    """The fewest movies (the most rated ones) that together hold ``share`` of all ratings.

    Parameters
    ----------
    ratings : Ratings
        The data, e.g. ``mt.load_movielens("100k")``.
    share : float
        Between 0 and 1, e.g. 0.5 for half of all ratings.

    Returns
    -------
    int
        The smallest h such that the h most rated items receive at least ``share * len(ratings)``
        ratings (MovieLens 100K: 215 of 1682 movies hold half of the 100,000 ratings).
    """
    counts = np.sort(ratings.item_counts())[::-1]    # |Omega^i| of every item, most rated first
    covered = np.cumsum(counts)                      # ratings held by the 1, 2, 3, ... most rated
    return int(np.argmax(covered >= share * len(ratings))) + 1   # first h that reaches the share


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
    lesson=LESSON_01,
    title="the regularized squared loss of the lecture slides",
    cases=_regularized_loss_cases,
    hints=[
        "Two parts: the squared errors on the KNOWN entries only, plus λ times the squared "
        "norms of all user and item vectors.",
        "np.isnan(R) marks the unknown entries; its negation is a boolean mask of Ω. Indexing the "
        "matrix of residuals R − R̂ with that mask keeps only the known ones (a 1-D array).",
        "Σ_u ‖u_u‖² + Σ_i ‖v_i‖² is simply the sum of the squares of every entry of U and of V.",
        "Return one float: the sum of the squared residuals on Ω, plus reg times the sum of the two "
        "penalties (mind the parentheses).",
    ],
    diagnostics=[
        Diagnostic(lambda R, U, V, reg: np.sum((R - U @ V.T) ** 2) + reg * _penalty(U, V),
                   "NaN: unknown entries must be skipped (np.isnan mask). NaN minus anything is NaN, "
                   "and one NaN makes the whole sum NaN."),
        Diagnostic(lambda R, U, V, reg: _squared_errors(R, U, V),
                   "The regularization term λ(Σ‖u‖² + Σ‖v‖²) seems to be missing: "
                   "add reg times the sum of the squared entries of U and V."),
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


# ============================================================================ questions
register_question(
    name="q01_factor_count", lesson=LESSON_01, kind="expression",
    prompt="How many numbers do the factors $U$ and $V$ of a rank-$k$ model of an $m \\times n$ rating "
           "matrix hold together? (Use m, n and k.)",
    answer="(m + n) * k", variables=("m", "n", "k"),
    feedback={
        "m * n": "That is the number of entries of $R$ (and of $\\hat R$); the point is that $U$ and $V$ "
                 "need far fewer numbers.",
        "m * n * k": "Each of the $m$ user vectors has $k$ numbers and each of the $n$ item vectors has $k$: "
                     "the two counts add, they do not multiply.",
        "m + n": "That is one number per user and per item, the rank-1 case; each vector has $k$ entries.",
        "m * k": "That is $U$ alone; add the $n \\times k$ numbers of $V$.",
        "n * k": "That is $V$ alone; add the $m \\times k$ numbers of $U$.",
        "(m + n) * k - k**2": "That is the number of FREE parameters (an invertible $k \\times k$ matrix can be "
                              "moved between $U$ and $V$); the question asks how many numbers are stored.",
    },
    default_feedback="Count the entries of $U$ ($m \\times k$) and of $V$ ($n \\times k$).",
    explanation="$U$ is $m \\times k$ and $V$ is $n \\times k$: $(m+n)k$ numbers, against the $mn$ entries of "
                "$R$ (book 9.2.4). For MovieLens 100K and $k = 10$ that is 26,250 numbers for 1,586,126 entries.",
)

register_question(
    name="q01_largest_rank", lesson=LESSON_01, kind="number",
    prompt="MovieLens 100K has $m = 943$ users, $n = 1682$ movies and $|\\Omega| = 100{,}000$ ratings. What "
           "is the largest rank $k$ for which $U$ and $V$ together hold no more numbers than there are "
           "known ratings?",
    answer=38, tolerance=0.0,
    feedback={
        39: "$(943 + 1682) \\cdot 39 = 102{,}375 > 100{,}000$: round DOWN, the parameters must not exceed the ratings.",
        106: "$100{,}000 / 943 \\approx 106$ counts only the user factors; $V$ has $n k$ numbers too.",
        59: "$100{,}000 / 1682 \\approx 59$ counts only the item factors; $U$ has $m k$ numbers too.",
        604: "$mn/(m+n) \\approx 604$ compares with all $mn$ entries of $R$; the question compares with the "
             "known ratings $|\\Omega|$.",
    },
    default_feedback="Solve $(m + n)k \\le |\\Omega|$ for the largest whole $k$.",
    explanation="$(m+n)k \\le |\\Omega|$ gives $k \\le 100{,}000 / 2{,}625 \\approx 38.1$, so $k = 38$ "
                "($99{,}750$ numbers). With far more parameters than ratings the factors could reproduce the "
                "known ratings almost exactly and generalize badly (overfitting), unless $\\lambda$ holds "
                "them back.",
)
