"""Exercises and questions of lesson 08_svd_and_biases (registered on import).

* ``imputed_svd``: the lecture notes' SVD recommender, steps 1-3 (fill the unknown entries, SVD,
  keep k terms), with item means as the fill (the lesson shows the user-mean version);
* ``predict_biased``: the biased prediction r_hat_ui = mu + b_u + c_i + u_u . v_i (book eq. 9.4
  adds a per-user bias to the affinity; the Surprise-style baseline of the notes adds mu and c_i);
* ``update_biases``: one round of the exact alternating updates of the biases-only model;
* questions ``q08_eckart_young`` and ``q08_biased_parameters`` (names kept from the lesson this
  one was split from, so that learners' progress records stay valid).
"""

from __future__ import annotations

import numpy as np

from .registry import Diagnostic, register, register_question

LESSON_08 = "08_svd_and_biases"


# ============================================================================ imputed_svd
def _random_ratings_matrix(rng, m: int, n: int, density: float) -> np.ndarray:
    """Whole stars 1-5, NaN where unknown; every user and every item has at least one rating."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    known = rng.random((m, n)) < density
    known[np.arange(m), rng.integers(0, n, m)] = True           # every user rated something
    known[rng.integers(0, m, n), np.arange(n)] = True           # every item was rated
    R[~known] = np.nan
    return R


def _imputed_svd_cases(rng):
    nan = np.nan
    small = np.array([[5.0, nan, 4.0, 1.0],
                      [4.0, 2.0, nan, 1.0],
                      [nan, 1.0, 5.0, nan],
                      [2.0, nan, 4.0, 5.0],
                      [1.0, 5.0, nan, 4.0]])
    cases = [(small, 2)]
    for m, n, density, k in [(8, 6, 0.5, 3), (12, 9, 0.3, 1), (7, 10, 0.6, 4), (6, 5, 0.4, 5), (30, 20, 0.2, 6)]:
        cases.append((_random_ratings_matrix(rng, m, n, density), k))
    return cases


def _truncate(M, k):
    X, sigma, Yt = np.linalg.svd(M, full_matrices=False)
    return (X[:, :k] * sigma[:k]) @ Yt[:k]


def _filled(R, fill):
    return np.where(np.isnan(R), fill, R)


def _svd_without_sigma(R, k):
    X, sigma, Yt = np.linalg.svd(_filled(R, np.nanmean(R, axis=0)), full_matrices=False)
    return X[:, :k] @ Yt[:k]


def _svd_of_R_with_holes(R, k):
    X, sigma, Yt = np.linalg.svd(R, full_matrices=False)        # NaN inside: LinAlgError
    return (X[:, :k] * sigma[:k]) @ Yt[:k]


@register(
    lesson=LESSON_08,
    title="the SVD recommender, steps 1-3: fill the unknown entries with item means, keep the rank-k part",
    cases=_imputed_svd_cases,
    hints=[
        "Three steps: fill every hole of R with the mean of its COLUMN (the item's known ratings), "
        "decompose the filled matrix, keep its k largest terms. Return an m x n matrix.",
        "NaN-aware means: np.nanmean takes an axis. The mean of each item runs down the users, so "
        "you want n numbers, one per column. np.where picks, entry by entry, between R and a fill "
        "that broadcasts against it.",
        "np.linalg.svd(..., full_matrices=False) gives X, the singular values in DEcreasing order, "
        "and Y^T. The rank-k matrix uses the first k columns of X, the first k singular values and "
        "the first k rows of Y^T.",
        "Each of the k columns of X is scaled by its singular value (broadcasting a length-k vector "
        "over the columns, or a k x k diagonal matrix) before the product with the k rows of Y^T. "
        "Section 1's Eckart-Young cell builds M_k the same way.",
    ],
    diagnostics=[
        Diagnostic(lambda R, k: _truncate(_filled(R, np.nanmean(R, axis=1, keepdims=True)), k),
                   "You filled each hole with its USER's mean (the notes' choice, shown in the lesson). "
                   "Here the fill is the ITEM's mean: the mean of the column, over the users who rated it."),
        Diagnostic(lambda R, k: _truncate(_filled(R, 0.0), k),
                   "You filled the holes with 0: an unknown rating is not a 0-star rating. Fill each "
                   "hole with the mean of the known ratings of its item (its column)."),
        Diagnostic(lambda R, k: _truncate(_filled(R, np.nanmean(R)), k),
                   "You filled every hole with the one global mean. Use one mean per item: the mean of "
                   "the known ratings in the hole's column."),
        Diagnostic(_svd_without_sigma,
                   "The singular values are missing: X_k Y_k^T has orthonormal factors and entries far "
                   "below 1 star. Scale the k columns of X by sigma_1..sigma_k."),
        Diagnostic(lambda R, k: _filled(R, np.nanmean(R, axis=0)),
                   "You returned the filled matrix itself, all its terms: keep only the k largest "
                   "singular values and their vectors."),
        Diagnostic(lambda R, k: _filled(R, _truncate(_filled(R, np.nanmean(R, axis=0)), k)),
                   "You kept the known ratings and used the rank-k matrix only for the holes. Return "
                   "the rank-k matrix M_k everywhere: its values on the known entries show how well "
                   "k terms fit them."),
        Diagnostic(_svd_of_R_with_holes,
                   "The SVD was given R with its NaN: numpy cannot decompose a matrix with unknown "
                   "entries. Fill the holes first (step 1), then decompose the filled matrix."),
    ],
)
def imputed_svd(R, k):
    r"""The notes' SVD recommender, steps 1-3, with item means: the rank-k truncation M_k.

    R : (m, n) ratings, NaN where unknown (every item has a known rating); k : the rank kept.
    Returns the (m, n) matrix M_k = X_k Sigma_k Y_k^T of the filled matrix M (Eckart-Young: the
    closest rank-k matrix to M in Frobenius norm).
    """
    item_mean = np.nanmean(R, axis=0)                       # (n,): mean known rating of each item
    M = np.where(np.isnan(R), item_mean, R)                 # 1. the holes of column i := item i's mean
    X, sigma, Yt = np.linalg.svd(M, full_matrices=False)    # 2. M = X diag(sigma) Y^T, sigma decreasing
    return (X[:, :k] * sigma[:k]) @ Yt[:k]                  # 3. keep k terms: M_k



# ============================================================================ predict_biased
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
                "the list. The prediction for pair k uses rows[k] and cols[k] only: multiply U[rows] and "
                "V[cols] entry by entry and sum each row, one dot product per pair.")


@register(
    lesson=LESSON_08,
    title="the biased prediction mu + b_u + c_i + u_u . v_i for a list of (user, item) pairs",
    cases=_predict_biased_cases,
    hints=[
        "Four terms per pair (rows[k], cols[k]): the global mean μ, the user's bias b_u, the item's "
        "bias c_i, and the dot product u_u · v_i.",
        "user_bias[rows] picks b_u for every pair at once, item_bias[cols] picks c_i; U[rows] and "
        "V[cols] are the two (pairs x k) arrays of vectors.",
        "The dot product of each pair is a row-wise sum: multiply the two (pairs x k) arrays "
        "entry by entry, then sum along the factor axis (axis=1). A matrix product of the two "
        "would pair every user of the list with every item of the list.",
        "Add the four parts; each is an array of length len(rows) except μ, a number that "
        "broadcasts. Check the shape of what you return: (len(rows),).",
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


# ============================================================================ update_biases
def _bias_case(rng, m: int, n: int, density: float, unrated_items: int, reg_user: float, reg_item: float):
    """Ratings of a biases-only world; the last ``unrated_items`` items have no rating (their
    bias must come out 0, and np.bincount needs its minlength to reach them)."""
    rated = n - unrated_items
    known = rng.random((m, rated)) < density
    known[np.arange(m), rng.integers(0, rated, m)] = True
    rows, cols = np.nonzero(known)
    values = np.clip(np.round(3.5 + rng.normal(0, 0.5, m)[rows] + rng.normal(0, 0.8, rated)[cols]
                              + rng.normal(0, 0.7, len(rows))), 1, 5)
    mu = float(values.mean())
    return (rows.astype(np.int64), cols.astype(np.int64), values, mu, rng.normal(0, 0.3, m),
            rng.normal(0, 0.3, n), float(reg_user), float(reg_item))


def _update_biases_cases(rng):
    # the small case shown to the learner: 3 users, 4 items, 7 ratings
    small = (np.array([0, 0, 0, 1, 1, 2, 2]), np.array([0, 1, 3, 0, 2, 1, 2]),
             np.array([5.0, 3.0, 4.0, 4.0, 2.0, 1.0, 3.0]), 3.0,
             np.array([0.5, 0.0, -0.5]), np.array([0.25, -0.25, 0.0, 0.5]), 2.0, 1.0)
    cases = [small]
    for m, n, density, unrated, reg_user, reg_item in [(6, 8, 0.5, 1, 15.0, 10.0), (12, 7, 0.4, 0, 0.5, 3.0),
                                                      (20, 30, 0.2, 3, 5.0, 1.0), (40, 25, 0.3, 2, 15.0, 10.0)]:
        cases.append(_bias_case(rng, m, n, density, unrated, reg_user, reg_item))
    return cases


def _item_pass(rows, cols, values, mu, user_bias, n, reg_item):
    residual = values - mu - user_bias[rows]
    return np.bincount(cols, residual, minlength=n) / (reg_item + np.bincount(cols, minlength=n))


def _user_pass(rows, cols, values, mu, item_bias, m, reg_user):
    residual = values - mu - item_bias[cols]
    return np.bincount(rows, residual, minlength=m) / (reg_user + np.bincount(rows, minlength=m))


def _both_from_old(rows, cols, values, mu, b, c, reg_user, reg_item):
    return (_user_pass(rows, cols, values, mu, c, len(b), reg_user),
            _item_pass(rows, cols, values, mu, b, len(c), reg_item))


def _users_first(rows, cols, values, mu, b, c, reg_user, reg_item):
    b = _user_pass(rows, cols, values, mu, c, len(b), reg_user)
    return b, _item_pass(rows, cols, values, mu, b, len(c), reg_item)


def _without_penalty(rows, cols, values, mu, b, c, reg_user, reg_item):
    with np.errstate(invalid="ignore", divide="ignore"):        # 0 / 0 for an unrated item
        c = _item_pass(rows, cols, values, mu, b, len(c), 0.0)
        return _user_pass(rows, cols, values, mu, c, len(b), 0.0), c


def _penalties_swapped(rows, cols, values, mu, b, c, reg_user, reg_item):
    c = _item_pass(rows, cols, values, mu, b, len(c), reg_user)
    return _user_pass(rows, cols, values, mu, c, len(b), reg_item), c


def _with_residual(drop_mu: bool):
    def wrong(rows, cols, values, mu, b, c, reg_user, reg_item):
        mu_used = 0.0 if drop_mu else mu
        c = _item_pass(rows, cols, values, mu_used, b if drop_mu else np.zeros_like(b), len(c), reg_item)
        return _user_pass(rows, cols, values, mu_used, c if drop_mu else np.zeros_like(c), len(b), reg_user), c
    return wrong


def _without_minlength(rows, cols, values, mu, b, c, reg_user, reg_item):
    residual = values - mu - b[rows]
    c = np.bincount(cols, residual) / (reg_item + np.bincount(cols))
    residual = values - mu - c[cols]
    return np.bincount(rows, residual) / (reg_user + np.bincount(rows)), c


@register(
    lesson=LESSON_08,
    title="one round of the biases-only model's alternating updates: every c_i, then every b_u",
    cases=_update_biases_cases,
    hints=[
        "Two passes in a fixed order: first every item bias from the user biases you were given, "
        "then every user bias from the item biases you have JUST computed (not the old ones you "
        "were given).",
        "For one item i, fixing the user biases leaves a ridge regression with one unknown: its "
        "minimiser is the sum of the residuals r_ui − μ − b_u over the item's ratings, divided by "
        "λ_i plus the number of those ratings.",
        "Sums and counts per item without a loop: np.bincount with the item index of each rating as "
        "the bins, the residuals as weights (no weights: it counts). Give it minlength = n, so that "
        "an item nobody rated still gets an entry (its bias comes out 0).",
        "The user pass is the mirror image: residuals r_ui − μ − c_i with the new c, bins by user, "
        "λ_u and m. Return the pair (user_bias, item_bias), in that order.",
    ],
    diagnostics=[
        Diagnostic(_both_from_old,
                   "Your user biases were computed from the OLD item biases (the ones passed in). "
                   "Alternating means the second pass uses what the first has just produced: b_u from "
                   "the new c_i."),
        Diagnostic(_users_first,
                   "You updated the user biases first. The order is fixed here: first every c_i from "
                   "the given b_u, then every b_u from the new c_i."),
        Diagnostic(_without_penalty,
                   "The penalty is missing from the denominators: that is the plain mean of the "
                   "residuals. The ridge solution divides by λ + (number of ratings), which shrinks "
                   "rarely rated items and users towards 0."),
        Diagnostic(_penalties_swapped,
                   "λ_u and λ_i are swapped: items are divided by λ_i + |Ω^i|, users by λ_u + |Ω_u|."),
        Diagnostic(_with_residual(drop_mu=True),
                   "μ is missing from the residuals: the biases are deviations from the global mean, "
                   "so each residual is r_ui − μ − (the other bias)."),
        Diagnostic(_with_residual(drop_mu=False),
                   "Your residuals ignore the other bias: the item pass must subtract each rating's "
                   "user bias b_u, the user pass each rating's (new) item bias c_i."),
        Diagnostic(_without_minlength,
                   "Your item biases are shorter than n: np.bincount stops at the largest item that "
                   "has a rating, and the last items here have none. Pass minlength (n for items, m "
                   "for users); an item without ratings gets the bias 0."),
    ],
)
def update_biases(rows, cols, values, mu, user_bias, item_bias, reg_user, reg_item):
    r"""One round of the exact alternating updates of r_hat_ui = mu + b_u + c_i (lesson 08, section 4).

    The ratings are (rows[k], cols[k], values[k]); user_bias (m,) and item_bias (n,) are the
    current b and c. Returns the new (user_bias, item_bias).
    """
    m, n = len(user_bias), len(item_bias)
    # c_i = sum over Omega^i of (r_ui - mu - b_u), divided by lambda_i + |Omega^i|
    residual = values - mu - user_bias[rows]
    item_bias = np.bincount(cols, residual, minlength=n) / (reg_item + np.bincount(cols, minlength=n))
    # b_u = sum over Omega_u of (r_ui - mu - c_i) with the NEW c_i, divided by lambda_u + |Omega_u|
    residual = values - mu - item_bias[cols]
    user_bias = np.bincount(rows, residual, minlength=m) / (reg_user + np.bincount(rows, minlength=m))
    return user_bias, item_bias



# ============================================================================ questions
register_question(
    name="q08_eckart_young", lesson=LESSON_08, kind="number",
    prompt="A $100\\times80$ matrix $M$ has the singular values $10, 5, 2, 1$ and then only zeros. "
           "What is $\\|M-M_2\\|_F^2$, the squared Frobenius error of its rank-2 truncation?",
    answer=5.0,
    feedback={
        3.0: "That is σ₃ + σ₄. The error is the sum of the discarded singular values SQUARED.",
        4.0: "That is σ₃² alone; every discarded term counts, σ₄² = 1 too.",
        125.0: "That is σ₁² + σ₂², the part the truncation KEEPS. The error is what it discards.",
        130.0: "That is ‖M‖_F², the sum of all squared singular values; subtract what the rank-2 part keeps.",
        5.0 ** 0.5: "That is the Frobenius norm ‖M − M₂‖_F itself; the question asks for its square.",
        1.0: "That is σ₄² alone; the third singular value is discarded as well.",
    },
    default_feedback="Eckart–Young: the error of the rank-k truncation is the sum of the squared "
                     "singular values it leaves out, here the third and the fourth.",
    explanation="$\\|M-M_2\\|_F^2 = \\sigma_3^2+\\sigma_4^2 = 4+1 = 5$. No matrix of rank at most 2 does "
                "better (Eckart–Young–Mirsky); section 1 tried ALS and 200 random rank-2 projections, "
                "and none went below the truncation.",
)

register_question(
    name="q08_biased_parameters", lesson=LESSON_08, kind="expression",
    prompt="How many numbers does the biased model $\\hat r_{ui} = \\mu + b_u + c_i + u_u^\\top v_i$ "
           "learn for $m$ users, $n$ items and rank $k$? (Write an expression in m, n and k.)",
    answer="(m + n) * k + m + n + 1", variables=("m", "n", "k"),
    feedback={
        "(m + n) * k": "That is the unbiased factorization. Add one bias per user, one per item, and μ.",
        "(m + n) * k + m + n": "Almost: the global mean μ is one more number.",
        "m * n * k": "U is m × k and V is n × k: their sizes add up, they do not multiply.",
        "m * n": "That is the size of the rating matrix; the point of a factorization is to need far fewer numbers.",
        "(m + n) * k + 1": "One bias per user and one per item are missing (m + n numbers).",
        "m + n + 1": "That is the biases-only model; the factors add (m + n) k numbers.",
    },
    default_feedback="Count each part: U (m × k), V (n × k), the user biases, the item biases and μ.",
    explanation="$U$ and $V$ hold $(m+n)k$ numbers, the biases $m+n$, and $\\mu$ is one: "
                "$(m+n)k+m+n+1$. The biases-only model has just $m+n+1$ and still beats every imputed SVD of this "
                "lesson on validation (and, in lesson 09, unbiased ALS with a plain penalty): an unbiased model must "
                "spend latent dimensions, and penalty, on 'this user is generous', while a bias captures it with "
                "one number, shrunk by $\\lambda$.",
)
