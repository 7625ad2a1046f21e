"""Exercises and questions of lesson 07_als_in_practice (registered on import).

Lesson 06 derived one user's closed form, u_u = (V_O^T V_O + lambda I)^{-1} V_O^T r_O; lesson 07
runs ALS on MovieLens 100K. Its exercises:

- ``biased_user_update``: with biases, r_hat_ui = mu + b_u + c_i + u_u . v_i. With V, the item biases
  c and mu fixed, user u's block is again a ridge regression, with one more weight: the features of
  item i are (v_i, 1), the targets r_ui - mu - c_i, and mt.ALS penalizes b_u by the same lambda:

      (u_u, b_u) = (X^T X + lambda I)^{-1} X^T (r_O - mu - c_O),   X = [V_O, 1]   (|Omega_u| x (k + 1)).

- ``best_reg``: a find-out on MovieLens 100K, the lambda of a grid with the lowest validation RMSE
  (hyperparameters are chosen on validation data, never on the test set).
"""

from __future__ import annotations

import functools

import numpy as np

from ..als import ALS
from ..data import synthetic, toy
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

LESSON_07 = "07_als_in_practice"


# ============================================================================ biased_user_update
def _slides_biased_case():
    """User 0 of the slides' 4 x 6 example under a biased ALS fit (k = 2, lambda = 0.1): its V,
    item biases and mu. The reference then reproduces the fit's own U_[0] and user_bias_[0]."""
    ratings = Ratings.from_dense(toy("lecture_R"))
    model = ALS(rank=2, reg=0.1, n_iters=20, biased=True, seed=0).fit(ratings)
    mine = ratings.rows == 0
    return (model.V_, model.item_bias_, model.mu_, ratings.cols[mine], ratings.values[mine], 0.1)


def _biased_cases(rng):
    """The slides' example first; then random item factors and biases, the rated items in any order,
    and once fewer ratings than k + 1 unknowns (lambda makes it well posed). A user never rated
    every item, so the rated items' biases are a proper subset."""
    cases = [_slides_biased_case()]
    for n, k, count, reg, mu in [(10, 3, 6, 0.5, 3.5), (20, 5, 12, 1.0, 3.0), (8, 1, 4, 0.2, 3.8),
                                 (50, 4, 30, 10.0, 3.5), (15, 6, 4, 0.05, 3.2)]:
        V = rng.normal(size=(n, k))
        item_bias = rng.normal(0.0, 0.5, size=n)
        rated = rng.choice(n, size=count, replace=False)       # not sorted: any order of Omega_u works
        ratings = rng.integers(1, 6, size=count).astype(float)
        cases.append((V, item_bias, mu, rated, ratings, reg))
    return cases


def _ridge(X, y, penalty):
    return np.linalg.solve(X.T @ X + np.diag(penalty), X.T @ y)


def _biased_variant(V, item_bias, mu, rated_items, ratings_of_user, reg, targets="all", penalize_bias=True,
                    split=True):
    """The joint (u_u, b_u) solve with one thing changed (the typical mistakes below)."""
    X = np.column_stack([V[rated_items], np.ones(len(rated_items))])
    offset = {"all": mu + item_bias[rated_items], "no_item_bias": mu, "no_mu": item_bias[rated_items]}[targets]
    penalty = np.full(X.shape[1], float(reg))
    if not penalize_bias:
        penalty[-1] = 0.0
    w = _ridge(X, ratings_of_user - offset, penalty)
    return (w[:-1], w[-1]) if split else w


def _bias_first(V, item_bias, mu, rated_items, ratings_of_user, reg):
    # b_u as the mean of what mu and c_i leave over, then u_u by the plain update on the rest
    left = ratings_of_user - mu - item_bias[rated_items]
    b = left.mean()
    V_O = V[rated_items]
    return np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V_O.T @ (left - b)), b


def _all_item_biases(V, item_bias, mu, rated_items, ratings_of_user, reg):
    # every item's bias subtracted from the user's |Omega_u| ratings: the shapes cannot match
    y = ratings_of_user - mu - item_bias
    X = np.column_stack([V[rated_items], np.ones(len(rated_items))])
    w = np.linalg.solve(X.T @ X + reg * np.eye(X.shape[1]), X.T @ y)
    return w[:-1], w[-1]


@register(
    lesson=LESSON_07,
    title="the ALS update of one user with biases: the pair (u_u, b_u), given V, the item biases and mu",
    cases=_biased_cases,
    hints=[
        "With μ and every c_i fixed, each rating leaves r_ui − μ − c_i for the user's part u_u·v_i + b_u. "
        "That is user_update's ridge regression again (lesson 06), with one more unknown.",
        "b_u is a weight whose input is 1 for every rating: give each rated item the features (v_i, 1), a "
        "|Ω_u| × (k+1) matrix (a column of ones next to the rated rows of V). The targets need the biases "
        "of the RATED items only (index item_bias like V).",
        "The penalty λ(‖u_u‖² + b_u²) puts λ on all k+1 diagonal entries of the normal equations, the bias's "
        "included, and u_u and b_u are solved TOGETHER in one (k+1) × (k+1) system, not one after the other.",
        "Solve with np.linalg.solve as in user_update, then split the solution: its first k numbers are u_u, "
        "the last one is b_u. Return them as a pair (a vector and a number).",
    ],
    diagnostics=[
        Diagnostic(lambda *case: _biased_variant(*case, targets="no_item_bias"),
                   "Your targets are r_ui − μ: the item biases are missing. With c_i fixed, the user's part has "
                   "to explain r_ui − μ − c_i; subtract the rated items' biases, item_bias[rated_items]."),
        Diagnostic(lambda *case: _biased_variant(*case, targets="no_mu"),
                   "Your targets are r_ui − c_i: μ is missing, so b_u has to absorb the global mean (about 3.5 "
                   "stars) and the penalty pulls it down. Subtract μ as well."),
        Diagnostic(lambda *case: _biased_variant(*case, penalize_bias=False),
                   "You left b_u unpenalized (λ on the first k diagonal entries only). That is a sensible model, "
                   "but not mt.ALS's: its objective penalizes the biases with the same λ, λ(‖u_u‖² + b_u²), so "
                   "λ goes on all k+1 diagonal entries."),
        Diagnostic(_bias_first,
                   "You fitted b_u first (the mean of what μ and c_i leave over) and then u_u on the rest. The two "
                   "are coupled: the constant feature 1 and the v_i are not orthogonal. Solve for (u_u, b_u) "
                   "jointly, in one (k+1) × (k+1) system."),
        Diagnostic(lambda *case: _biased_variant(*case, split=False),
                   "You returned the whole solution, one vector of length k+1: split it into the pair "
                   "(u_u, b_u), the first k numbers and the last one."),
        Diagnostic(_all_item_biases,
                   "You subtracted ALL n item biases from the user's |Ω_u| ratings, so the shapes do not match: "
                   "select the rated items' biases, item_bias[rated_items], as you select V[rated_items]."),
    ],
)
def biased_user_update(V, item_bias, mu, rated_items, ratings_of_user, reg):
    r"""The ALS update of one user with biases, as ``mt.ALS(biased=True)`` runs it.

    With V, the item biases c and mu fixed, (u_u, b_u) minimizes
    sum over i in Omega_u of (r_ui - mu - b_u - c_i - u_u . v_i)^2 + lambda (||u_u||^2 + b_u^2):
    a ridge regression with the features (v_i, 1) and the targets r_ui - mu - c_i.

    Returns
    -------
    (u_u, b_u) : ndarray of shape (k,) and float
    """
    X = np.column_stack([V[rated_items], np.ones(len(rated_items))])   # features (v_i, 1): |Omega_u| x (k+1)
    y = ratings_of_user - mu - item_bias[rated_items]                   # what mu and c_i leave for u_u . v_i + b_u
    A = X.T @ X + reg * np.eye(X.shape[1])                              # lambda on u_u AND on b_u
    w = np.linalg.solve(A, X.T @ y)                                     # the joint ridge solution
    return w[:-1], w[-1]                                                # (u_u, b_u)


# ============================================================================ best_reg (MovieLens)
BEST_REG_ITERS = 10   # mt.ALS iterations per fit in best_reg (stated in the lesson's stub)


@functools.lru_cache(maxsize=1)
def _movielens_split():
    """MovieLens 100K split as lesson 07 does it: 80% train (of which 80% fit, 20% validation)."""
    from ..data import load_movielens

    train, _test = load_movielens("100k").split(0.2, seed=0)   # the test set is never used here
    return train.split(0.2, seed=1)


def _best_reg_cases(rng):
    data, _, _ = synthetic(60, 40, rank=2, density=0.3, noise=0.5, seed=int(rng.integers(1000)))
    small_fit, small_valid = data.split(0.25, seed=0)
    fit, valid = _movielens_split()
    return [(small_fit, small_valid, 2, (0.1, 0.3, 1.0, 3.0, 10.0)),
            (fit, valid, 10, (1.0, 3.0, 10.0, 30.0))]


def _fingerprint(r):
    return (r.shape, len(r), hash(r.rows.tobytes()), hash(r.cols.tobytes()), hash(r.values.tobytes()))


@functools.lru_cache(maxsize=16)
def _grid_rmse(train_key, valid_key, rank, regs):
    train, valid = _GRID_DATA[train_key], _GRID_DATA[valid_key]
    models = [ALS(rank=rank, reg=reg, n_iters=BEST_REG_ITERS, seed=0).fit(train) for reg in regs]
    return np.array([mdl.rmse(train) for mdl in models]), np.array([mdl.rmse(valid) for mdl in models])


_GRID_DATA: dict = {}


def _rmse_on_grid(train, valid, rank, regs):
    """(train RMSE, validation RMSE) of every lambda; cached, the wrong answers below share it."""
    keys = []
    for r in (train, valid):
        key = _fingerprint(r)
        _GRID_DATA.setdefault(key, r)
        keys.append(key)
    return _grid_rmse(keys[0], keys[1], int(rank), tuple(float(x) for x in regs))


def _lowest_train_rmse(train, valid, rank, regs):
    return regs[int(np.argmin(_rmse_on_grid(train, valid, rank, regs)[0]))]


def _best_rmse_not_reg(train, valid, rank, regs):
    return float(np.min(_rmse_on_grid(train, valid, rank, regs)[1]))


def _best_index(train, valid, rank, regs):
    return int(np.argmin(_rmse_on_grid(train, valid, rank, regs)[1]))


def _highest_valid_rmse(train, valid, rank, regs):
    return regs[int(np.argmax(_rmse_on_grid(train, valid, rank, regs)[1]))]


@register(
    lesson=LESSON_07,
    title="find out on MovieLens 100K: the lambda of a grid with the lowest validation RMSE of mt.ALS",
    cases=_best_reg_cases,
    hints=[
        "One model per λ of the grid: mt.ALS with the given rank, that λ as reg, n_iters=10 and seed=0, "
        "fitted on train only. Its .rmse(...) method scores any Ratings.",
        "Score each fitted model on valid (the ratings it has not seen), not on train: the training RMSE "
        "always prefers the smallest λ. Keep the validation RMSEs in a list, one per λ.",
        "np.argmin gives the POSITION of the smallest validation RMSE; the answer is the λ at that position "
        "of regs, not the position and not the RMSE itself.",
    ],
    diagnostics=[
        Diagnostic(_lowest_train_rmse, "You chose λ by the TRAINING RMSE: it only rewards fitting the ratings the "
                                       "model has seen, so it always picks the smallest λ. Score each model "
                                       "on valid."),
        Diagnostic(_best_rmse_not_reg, "You returned the lowest validation RMSE itself: return the λ that "
                                       "reaches it (the entry of regs at the position of the minimum)."),
        Diagnostic(_best_index, "You returned the position of the best λ in regs: return the λ itself, "
                                "regs at that position."),
        Diagnostic(_highest_valid_rmse, "You picked the λ with the HIGHEST validation RMSE (argmax): the best λ "
                                        "has the lowest (np.argmin)."),
    ],
    time_limit=10.0,
)
def best_reg(train, valid, rank, regs):
    """The lambda of ``regs`` whose mt.ALS(rank, reg=lambda, n_iters=10, seed=0), fitted on ``train``,
    has the lowest RMSE on ``valid`` (hyperparameters are chosen on validation data, never on the test set)."""
    valid_rmse = [ALS(rank=rank, reg=reg, n_iters=10, seed=0).fit(train).rmse(valid) for reg in regs]
    return regs[int(np.argmin(valid_rmse))]                # the lambda at the position of the minimum


# ============================================================================ questions
register_question(
    name="q07_gram_cost", lesson=LESSON_07, kind="expression",
    prompt="Forming the $k\\times k$ matrices $V_{\\Omega_u}^\\top V_{\\Omega_u}$ of ALL users adds up one "
           "outer product $v_i v_i^\\top$ ($k^2$ multiply-adds) per known rating. With $N = |\\Omega|$ known ratings, "
           "$m$ users, $n$ items and rank $k$, how many multiply-adds is that for one user half-step?",
    answer="N * k**2", variables=("N", "m", "n", "k"),
    feedback={
        "m * n * k**2": "That counts every (user, item) pair; only the items a user RATED enter $V_{\\Omega_u}$, "
                        "so there is one outer product per known rating, $N$ in all.",
        "N * k": "One outer product $v_i v_i^\\top$ has $k^2$ entries, not $k$ ($N k$ is the cost of the "
                 "right-hand sides $V_{\\Omega_u}^\\top r_{\\Omega_u}$).",
        "m * k**3": "That is the cost of the $m$ solves of $k\\times k$ systems, the other part of the half-step; "
                    "the question asks for forming the matrices.",
        "m * k**2": "Each user's matrix is a sum of $|\\Omega_u|$ outer products, not one: add up "
                    "$|\\Omega_u| k^2$ over the users.",
        "N * k**3": "One outer product of two $k$-vectors costs $k^2$ multiply-adds.",
    },
    default_feedback="Count per known rating: each rating $(u, i)$ adds $v_i v_i^\\top$ to user $u$'s matrix.",
    explanation="Each rating contributes one $k\\times k$ outer product, so $N k^2$ in total, plus $m k^3/3$ for "
                "the Cholesky solves: $O(|\\Omega| k^2 + (m + n) k^3)$ per ALS iteration (section 2). The cost "
                "grows with the number of RATINGS, never with $mn$: that is why ALS runs on sparse data.",
)

register_question(
    name="q07_alswr_weights", lesson=LESSON_07, kind="choice",
    prompt="Plain ALS penalizes every user by the same $\\lambda$; ALS-WR penalizes user $u$ by $\\lambda|\\Omega_u|$. "
           "Compared with plain ALS at $\\lambda = 10$, what does ALS-WR at $\\lambda = 0.1$ do to a user with 20 "
           "ratings and to a user with 600?",
    choices=[
        "It regularizes both users less: 0.1 is a hundred times smaller than 10.",
        "The light user's penalty drops from 10 to 2 and the heavy user's rises from 10 to 60: both now pay 0.1 "
        "per rating, the same share of the $|\\Omega_u|$ squared errors in their block.",
        "The heavy user gets the smaller penalty: 600 ratings make the vector more certain, so it needs less "
        "regularization.",
        "Both get $0.1 \\cdot 620 = 62$: ALS-WR multiplies $\\lambda$ by the number of ratings of all users "
        "together.",
    ],
    answer=1,
    feedback={
        0: "The weight multiplies $\\lambda$ by the user's number of ratings: $0.1 \\cdot 600 = 60$ is MORE than "
           "plain ALS's 10 for the heavy user; only the light user ($0.1 \\cdot 20 = 2$) is held back less.",
        2: "With ALS-WR the penalty grows with $|\\Omega_u|$, so the heavy user's is the larger one (60 against 2). "
           "Per rating it is the same, 0.1: that is the point of the weighting.",
        3: "Each user's block has its own weight $|\\Omega_u|$, the number of HIS ratings (and each item's "
           "$|\\Omega^i|$); the total $|\\Omega|$ plays no part.",
    },
    explanation="User $u$'s block is $\\sum_{i\\in\\Omega_u}(r_{ui} - u_u^\\top v_i)^2 + \\lambda|\\Omega_u|\\,\\|u_u\\|^2$: "
                "$|\\Omega_u|$ squared errors against a penalty that grows at the same rate, so every user is "
                "held back by the same amount per rating. With plain $\\lambda = 10$ the user with 600 ratings is "
                "barely regularized (10 against 600 errors) and the one with 20 strongly (10 against 20). ALS-WR "
                "scales the penalty with the data, so one $\\lambda$ suits users and items of every activity; "
                "in section 3 a larger $k$ then did not hurt.",
)

register_question(
    name="q07_large_lambda", lesson=LESSON_07, kind="choice",
    prompt="At $k = 40$ you raise $\\lambda$ from 0.1 to 30 in the explorer. What happens to the training and "
           "the validation RMSE?",
    choices=[
        "Both fall all the way: a larger $\\lambda$ is always better.",
        "The training RMSE rises (the factors are held smaller); the validation RMSE first falls (less "
        "overfitting), then rises again when $\\lambda$ is so large that the model underfits.",
        "The training RMSE falls and the validation RMSE rises: $\\lambda$ adds capacity.",
        "Neither changes: $\\lambda$ only affects how fast ALS converges, not where it ends.",
    ],
    answer=1,
    feedback={
        0: "At $\\lambda = 30$ the factors are pushed so close to zero that even the training ratings are "
           "fitted badly: both errors are then high (underfitting).",
        2: "It is the other way round: $\\lambda$ penalizes large factors, so it REMOVES capacity; the "
           "training RMSE can only go up with $\\lambda$.",
        3: "$\\lambda$ changes the objective itself, so the minimizer changes: each block's solution "
           "$(V_{\\Omega_u}^\\top V_{\\Omega_u} + \\lambda I)^{-1} V_{\\Omega_u}^\\top r_{\\Omega_u}$ shrinks as "
           "$\\lambda$ grows.",
    },
    explanation="$\\lambda$ trades fit for small factors. Small $\\lambda$ at large $k$: the factors fit the noise of "
                "users and movies with few ratings (overfitting, low training but high validation RMSE). Large "
                "$\\lambda$: all factors shrink towards zero and predictions towards 0 (underfitting). The best "
                "$\\lambda$ lies in between and is chosen on validation data, as best_reg does.",
)
