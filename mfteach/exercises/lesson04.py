"""Exercises of lesson 04_svd_biases_embeddings (registered on import).

The biased prediction (book eq. 9.4 adds a per-user bias a_{i,0} to the affinity; the
Surprise-style baseline of the lecture notes adds the global mean and an item bias too):

    r_hat_ui = mu + b_u + c_i + u_u . v_i

for a list of (user, item) pairs given as two index arrays ``rows`` and ``cols``, exactly what
``model.predict(rows, cols)`` returns for a biased mfteach model.
"""

from __future__ import annotations

import numpy as np

from . import Diagnostic, register

LESSON_04 = "04_svd_biases_embeddings"


# ---------------------------------------------------------------------------- test cases
def _biased_case(rng, m: int, n: int, k: int, n_pairs: int, mu: float = 3.5):
    """Random biases and factors, and ``n_pairs`` distinct (user, item) pairs. Every index is
    below min(m, n) so that swapping the two bias vectors gives numbers (a recognisable
    mistake) rather than an IndexError; m != n still catches the shape mix-ups."""
    user_bias = rng.normal(0.0, 0.4, m)
    item_bias = rng.normal(0.0, 0.6, n)
    U, V = rng.normal(0.0, 0.5, (m, k)), rng.normal(0.0, 0.5, (n, k))
    side = min(m, n)
    flat = rng.choice(side * side, size=n_pairs, replace=False)
    rows, cols = flat // side, flat % side
    return (float(mu), user_bias, item_bias, U, V, rows.astype(np.int64), cols.astype(np.int64))


def _predict_biased_cases(rng):
    # the small case shown to the learner: 4 users, 5 items, k = 2, five pairs
    small = (3.5, np.array([0.5, -0.25, 0.0, 1.0]), np.array([0.25, -0.5, 0.75, 0.0, -1.0]),
             np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [-1.0, 0.5]]),
             np.array([[0.5, 0.5], [1.0, -1.0], [0.0, 0.5], [-0.5, 0.0], [0.25, 0.25]]),
             np.array([0, 0, 1, 2, 3]), np.array([1, 3, 0, 2, 1]))
    cases = [small]
    for m, n, k, n_pairs, mu in [(6, 9, 3, 12, 3.53), (12, 7, 4, 20, 3.0), (8, 8, 1, 15, 4.1), (30, 40, 5, 60, 3.6)]:
        cases.append(_biased_case(rng, m, n, k, n_pairs, mu))
    return cases


# Wrong answers the checker recognises (each is one typical slip).
def _dot(U, V, rows, cols):
    return np.sum(U[rows] * V[cols], axis=1)


_PAIRS_TABLE = ("U[rows] @ V[cols].T is a (pairs x pairs) table, every user of the list with every item of "
                "the list. The prediction for pair k uses rows[k] and cols[k] only: "
                "np.sum(U[rows] * V[cols], axis=1) is one dot product per pair.")


@register(
    lesson=LESSON_04,
    title="the biased prediction mu + b_u + c_i + u_u . v_i for a list of (user, item) pairs",
    cases=_predict_biased_cases,
    hints=[
        "Four terms per pair (rows[k], cols[k]): the global mean μ, the user's bias b_u, the item's "
        "bias c_i, and the dot product u_u · v_i.",
        "user_bias[rows] picks b_u for every pair at once, item_bias[cols] picks c_i; U[rows] and "
        "V[cols] are the two (pairs x k) arrays of vectors.",
        "The dot product of each pair is a row-wise sum: np.sum(U[rows] * V[cols], axis=1) "
        "(not U[rows] @ V[cols].T, which pairs every user with every item).",
        "return mu + user_bias[rows] + item_bias[cols] + np.sum(U[rows] * V[cols], axis=1)",
    ],
    diagnostics=[
        Diagnostic(lambda mu, b, c, U, V, rows, cols: b[rows] + c[cols] + _dot(U, V, rows, cols),
                   "The global mean μ is missing: every prediction starts from μ (about 3.5 stars on "
                   "MovieLens), the biases only say how far above or below it a user or item sits."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + c[cols] + _dot(U, V, rows, cols),
                   "The user bias b_u is missing: add user_bias[rows]."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[rows] + _dot(U, V, rows, cols),
                   "The item bias c_i is missing: add item_bias[cols]."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[rows] + c[cols],
                   "The dot product u_u · v_i is missing: that is the biases-only baseline, "
                   "without the latent factors."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: _dot(U, V, rows, cols),
                   "Only u_u · v_i: the biased model adds μ + b_u + c_i to it."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: 2 * mu + b[rows] + c[cols] + _dot(U, V, rows, cols),
                   "μ is added twice. The biases are deviations from μ, so μ appears once "
                   "(did you add it to each bias?)."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[cols] + c[rows] + _dot(U, V, rows, cols),
                   "The user and item biases are swapped: b_u is user_bias[rows] (rows are users), "
                   "c_i is item_bias[cols] (columns are items)."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[rows] + c[cols] + np.sum(U[cols] * V[rows], axis=1),
                   "The factors are indexed the wrong way round: u_u is U[rows], v_i is V[cols]."),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[rows] + c[cols] + U[rows] @ V[cols].T,
                   _PAIRS_TABLE),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[rows][:, None] + c[cols][None, :] + U[rows] @ V[cols].T,
                   _PAIRS_TABLE),
        Diagnostic(lambda mu, b, c, U, V, rows, cols: mu + b[:, None] + c[None, :] + U @ V.T,
                   "You returned the whole m x n matrix R̂. Return only the entries of the "
                   "pairs (rows[k], cols[k]): index it with [rows, cols]."),
    ],
)
def predict_biased(mu, user_bias, item_bias, U, V, rows, cols):
    r"""The biased matrix-factorization prediction for the pairs (rows[k], cols[k]).

    .. math:: \hat r_{ui} = \mu + b_u + c_i + u_u^\top v_i

    Parameters
    ----------
    mu : float
        The global mean rating.
    user_bias : ndarray, shape (m,)
        b_u of every user.
    item_bias : ndarray, shape (n,)
        c_i of every item.
    U : ndarray, shape (m, k)
        User factors; row u is u_u.
    V : ndarray, shape (n, k)
        Item factors; row i is v_i.
    rows, cols : ndarray of int, same length p
        The pairs: user rows[k] and item cols[k].

    Returns
    -------
    ndarray, shape (p,)
        The prediction of every pair.
    """
    dot = np.sum(U[rows] * V[cols], axis=1)             # u_u . v_i for each pair
    return mu + user_bias[rows] + item_bias[cols] + dot
