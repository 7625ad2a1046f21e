"""Exercises and questions of lesson 03_rank1_conflicts_and_noise (registered on import).

Book section 9.2.4, Example 9.2.6 and beyond: known entries that contradict a rank-1 model, and
noisy ones that need least squares instead of exact propagation. In the lesson's order:

* ``als_rank1`` (the key algorithm, before the lesson shows ``fit_rank1``): alternating
  least-squares sweeps for min sum over Omega of (M_ij - a_i b_j)^2 on noisy data;
* ``worst_fit_user`` (a find-out on MovieLens with the package's ``fit_rank1``): the user whose
  known ratings a rank-1 model matches worst (largest RMSE);

then three questions on bridges, a single rating and noise. Lesson 02_rank1_completion comes
before it (module ``lesson02``).
"""

from __future__ import annotations

import numpy as np

from ..completion import complete_rank1, fit_rank1
from ..data import load_movielens
from .registry import Diagnostic, register, register_question

LESSON_03 = "03_rank1_conflicts_and_noise"


# ---------------------------------------------------------------------------- als_rank1 (the key algorithm)
def _noisy_rank1(rng, m: int, n: int, known: float, noise: float) -> np.ndarray:
    """A noisy rank-1 matrix with every row and column known at least once; NaN elsewhere."""
    M = np.outer(rng.uniform(1, 3, m), rng.uniform(1, 3, n)) + noise * rng.normal(size=(m, n))
    mask = rng.random((m, n)) < known
    mask[np.arange(m), rng.integers(n, size=m)] = True
    mask[rng.integers(m, size=n), np.arange(n)] = True
    return np.where(mask, M, np.nan)


def _als_cases(rng):
    M = np.array([[2.0, np.nan, 4.1], [np.nan, 3.0, 5.9], [1.1, 1.4, np.nan]])
    cases = [(M, np.ones(3), 1)]
    for m, n, known, sweeps in [(4, 5, 0.5, 2), (6, 4, 0.4, 5), (8, 10, 0.3, 3), (12, 15, 0.4, 10), (5, 5, 1.0, 4)]:
        cases.append((_noisy_rank1(rng, m, n, known, 0.1), rng.uniform(0.5, 1.5, n), sweeps))
    return cases


def _als_update(M, fixed, all_columns=False, power=2):
    """The row factors for fixed column factors ``fixed`` (the reference's half-step, or a mistake)."""
    known = ~np.isnan(M)
    X, W = np.where(known, M, 0.0), known.astype(float)
    den = np.sum(fixed ** power) if all_columns else W @ fixed ** power
    return (X @ fixed) / den


def _als_wrong(M, b, n_sweeps, **mistake):
    for _ in range(n_sweeps):
        a = _als_update(M, b, **mistake)
        b = _als_update(M.T, a, **mistake)
    return a, b


def _als_jacobi(M, b, n_sweeps):
    a = _als_update(M, b)
    for _ in range(n_sweeps):
        a, b = _als_update(M, b), _als_update(M.T, a)   # b from the OLD a
    return a, b


def _als_b_first(M, b, n_sweeps):
    a = _als_update(M, b)   # a starting a from b, then b before a in every sweep
    for _ in range(n_sweeps):
        b = _als_update(M.T, a)
        a = _als_update(M, b)
    return a, b


def _als_unmasked(M, b, n_sweeps):
    for _ in range(n_sweeps):
        a = (M @ b) / (b @ b)      # NaN rows wherever M has a NaN
        b = (M.T @ a) / (a @ a)
    return a, b


def _als_rescaled(M, b, n_sweeps):
    a, b = als_rank1(M, b, n_sweeps)
    return a / a[0], b * a[0]


@register(
    lesson=LESSON_03,
    title="fit a b^T to noisy known entries by alternating least-squares updates of a and b",
    cases=_als_cases,
    hints=[
        "With b fixed, the loss is a sum of separate problems, one per row i: Σ_j (M_ij − a_i b_j)² over the "
        "KNOWN j of row i. Each is a quadratic in the single number a_i.",
        "Set the derivative with respect to a_i to zero: a_i is a ratio of two sums over the known j of row "
        "i, one involving M_ij b_j and one involving b_j². The update of b_j is the mirror image (columns).",
        "Without loops: replace the NaN by 0 in a copy of M and make a 0/1 matrix of the known entries; the "
        "two sums for all rows are then two matrix–vector products (@). A sweep is: all of a from b, then all "
        "of b from the NEW a.",
    ],
    diagnostics=[
        Diagnostic(lambda M, b, n_sweeps: _als_wrong(M, b, n_sweeps, all_columns=True),
                   "The denominator must sum b_j² only over the KNOWN entries of row i (and a_i² only over "
                   "the known entries of column j); you summed over all columns."),
        Diagnostic(_als_jacobi,
                   "You updated b from the OLD a (both halves at once). Alternating means: all of a from b, "
                   "then b from the a you have just computed."),
        Diagnostic(lambda M, b, n_sweeps: _als_wrong(M, b, n_sweeps, power=1),
                   "The denominator is Σ b_j² (squares), not Σ b_j: minimizing Σ_j (M_ij − a_i b_j)² over "
                   "a_i gives a_i = Σ M_ij b_j / Σ b_j²."),
        Diagnostic(_als_b_first,
                   "You updated b before a. Each sweep updates a first (from the given b), then b."),
        Diagnostic(_als_rescaled,
                   "Right up to the scale: you rescaled so that a[0] = 1. Here the factors are wanted as the "
                   "sweeps leave them (fit_rank1 rescales afterwards, this exercise does not)."),
        Diagnostic(_als_unmasked,
                   "NaN: a single unknown entry (NaN) in a row makes that row's sum NaN. Replace the unknown "
                   "entries by 0 (np.where or np.nan_to_num) and sum b_j² only over the known entries."),
    ],
)
def als_rank1(M, b, n_sweeps):
    r"""``n_sweeps`` sweeps of alternating least squares for :math:`\min \sum_\Omega (M_{ij} - a_i b_j)^2`.

    Parameters
    ----------
    M : ndarray, shape (m, n)
        NaN where unknown; every row and column has a known entry.
    b : ndarray, shape (n,)
        The starting column factors (nonzero).
    n_sweeps : int
        Each sweep updates all of a (b fixed), then all of b (the new a fixed).

    Returns
    -------
    a : ndarray, shape (m,), b : ndarray, shape (n,)
        After the last sweep, not rescaled (``fit_rank1`` also rescales to a[0] = 1).
    """
    known = ~np.isnan(M)
    X, W = np.where(known, M, 0.0), known.astype(float)   # M with 0 off Omega; 1 on Omega
    for _ in range(n_sweeps):
        a = (X @ b) / (W @ b ** 2)         # a_i = sum_j M_ij b_j / sum_j b_j^2 over the known j
        b = (X.T @ a) / (W.T @ a ** 2)     # b_j = sum_i M_ij a_i / sum_i a_i^2 over the known i
    return a, b


# ---------------------------------------------------------------------------- worst_fit_user (a find-out)
def _worst_fit_cases(rng):
    M = np.outer([1.0, 2.0, 1.5, 3.0], [1.0, 2.0, 3.0, 1.0, 2.0])
    M[2, 3] = 5.0                                     # user 3 (index 2) rates against the pattern
    M[[0, 1, 3], [4, 2, 0]] = np.nan
    cases = [(M,)]
    ml = load_movielens("100k")
    cases.append((ml.top(200, 100).to_dense(),))       # the lesson's block of MovieLens 100K
    cases.append((ml.top(100, 60).to_dense(),))
    noisy = _noisy_rank1(rng, 30, 20, 0.5, 0.05)
    noisy[7, ~np.isnan(noisy[7])] *= rng.uniform(0.3, 2.0, size=np.count_nonzero(~np.isnan(noisy[7])))
    cases.append((noisy,))
    return cases


def _exact_propagation_user(M):
    residual = M - complete_rank1(M).completed
    return int(np.argmax(np.sqrt(np.nanmean(residual ** 2, axis=1))))


def _per_user(M, statistic):
    residual = M - fit_rank1(M).completed          # NaN off Omega
    return statistic(residual)


@register(
    lesson=LESSON_03,
    title="find out: which user does a least-squares rank-1 model fit worst?",
    cases=_worst_fit_cases,
    time_limit=10.0,
    hints=[
        "Let the package do the fitting: fit_rank1(M) (from mfteach.completion) returns the completed "
        "matrix a bᵀ. What you measure is how far each user's KNOWN ratings are from it.",
        "The residuals M − completed are NaN off Ω; numpy's nan-functions (np.nanmean, np.nansum) skip NaN. "
        "Work per row (axis=1).",
        "Users have very different numbers of ratings: compare them by the root mean squared error over "
        "their own known ratings, not by a sum. Return the row index (an int) of the largest one.",
    ],
    diagnostics=[
        Diagnostic(lambda M: int(np.argmax(_per_user(M, lambda r: np.nansum(r ** 2, axis=1)))),
                   "You took the largest SUM of squared errors, which favours users with many ratings. "
                   "Compare users by the mean (RMSE) over each user's own known ratings."),
        Diagnostic(lambda M: int(np.argmin(_per_user(M, lambda r: np.sqrt(np.nanmean(r ** 2, axis=1))))),
                   "That is the user the model fits BEST (smallest RMSE); the question asks for the worst."),
        Diagnostic(lambda M: int(np.argmax(_per_user(M, lambda r: np.nanmean(r, axis=1)))),
                   "Signed errors cancel: a user the model overrates as often as it underrates has mean "
                   "error near 0. Square the errors (RMSE)."),
        Diagnostic(_exact_propagation_user,
                   "complete_rank1 is EXACT propagation: on noisy ratings it finds a conflict and fills in "
                   "nothing (its `completed` keeps only the known entries, so every error looks like 0). "
                   "Fit with fit_rank1, the least-squares rank-1 model."),
        Diagnostic(lambda M: int(np.argmax(_per_user(M, lambda r: np.nanmean(np.abs(r), axis=1)))),
                   "You ranked users by the mean ABSOLUTE error; the question asks for the root mean squared "
                   "error, which weighs big misses more (square, average over the user's ratings, root)."),
        Diagnostic(lambda M: int(np.argmax(_per_user(M, lambda r: np.sqrt(np.nanmean(r ** 2, axis=0))))),
                   "You measured per column (a movie, axis=0); users are the rows of M (axis=1)."),
    ],
)
def worst_fit_user(M):
    """The row of ``M`` whose known entries a least-squares rank-1 fit (``fit_rank1``) matches worst.

    Parameters
    ----------
    M : ndarray, shape (m, n)
        Ratings, NaN where unknown; every row has a known entry.

    Returns
    -------
    int
        The row index u with the largest RMSE over u's known entries of M - a b^T.
    """
    residual = M - fit_rank1(M).completed                      # M_ij - a_i b_j; NaN off Omega
    rmse_per_user = np.sqrt(np.nanmean(residual ** 2, axis=1))  # over each user's known ratings
    return int(np.argmax(rmse_per_user))


# ============================================================================ questions
register_question(
    name="q03_bridges", lesson=LESSON_03, kind="choice",
    prompt="Example 9.2.5 has 8 known entries: $M_{11}, M_{12}, M_{14}, M_{21}, M_{22}, M_{31}, M_{33}, "
           "M_{41}$ (1-based). Which of them are **bridges**, i.e. deleting that one entry leaves the matrix "
           "no longer completable?",
    choices=[
        "$M_{14}$, $M_{33}$ and $M_{41}$",
        "$M_{14}$, $M_{31}$, $M_{33}$ and $M_{41}$",
        "$M_{11}$, $M_{12}$, $M_{21}$ and $M_{22}$",
        "All 8: the example has exactly as many entries as it needs",
    ],
    answer=1,
    feedback={
        0: "Missing one: delete $M_{31}$ and row 3 keeps only $M_{33}$, which links it to column 3 and nothing "
           "else, so {row 3, column 3} is cut off from the rest. $M_{31}$ is a bridge too.",
        2: "Those four form the cycle row 1 – column 1 – row 2 – column 2: deleting one of them leaves the other "
           "three, which still connect the same nodes. They are the entries you CAN delete.",
        3: "The example has 8 entries and $m + n - 1 = 7$ would suffice: one entry is redundant, and it closes "
           "the cycle rows 1–2 × columns 1–2. Any one entry of that cycle can go.",
    },
    explanation="The graph has 8 nodes and 8 edges, so one independent cycle: $M_{11}, M_{12}, M_{22}, M_{21}$. "
                "Every other edge is a bridge: $M_{14}$ is column 4's only entry, $M_{41}$ row 4's only entry, "
                "$M_{33}$ column 3's only entry, and $M_{31}$ the only link of {row 3, column 3} to the rest. "
                "An error in a bridge cannot be detected; it spreads silently.",
)

register_question(
    name="q03_single_rating", lesson=LESSON_03, kind="choice",
    prompt="Under a rank-1 model, a user has rated exactly one movie, and that rating has a typo. Can the "
           "other ratings reveal it?",
    choices=[
        "Yes, if the movie has many other ratings: they fix $b_j$, so the typo shows.",
        "No: that rating is a bridge. It is the only equation involving the user's factor $a_i$, so any "
        "value fits exactly; the typo only changes $a_i$ and the user's predictions.",
        "Yes: every known entry lies on some cycle once the matrix is large enough.",
    ],
    answer=1,
    feedback={
        0: "The other ratings do fix $b_j$, but the typo then just gives a different $a_i = M_{ij}/b_j$: nothing "
           "else says what $a_i$ should be, so no contradiction arises.",
        2: "An entry lies on a cycle only if its row and column are connected in another way too. The user's "
           "node has a single edge, so no cycle passes through it, whatever the size of the matrix.",
    },
    explanation="A user with one rating is a node with one edge: a bridge. The rating determines $a_i$ and is "
                "checked by nothing, so a typo spreads into all of the user's predictions. With two ratings of "
                "movies that are connected through other users, the two edges lie on a cycle and a typo would "
                "show as a conflict.",
)

register_question(
    name="q03_noise_least_squares", lesson=LESSON_03, kind="choice",
    prompt="On a noisy rank-1 matrix, why does the least-squares fit give better values for the unknown "
           "entries than propagating exactly along one spanning tree?",
    choices=[
        "Least squares uses every known entry, so independent errors partly cancel; along a tree each filled-in "
        "value is a product of ratios of a few noisy entries, and their errors compound.",
        "Least squares removes the noise from the known entries, so it reproduces them exactly.",
        "Propagation divides by entries, and division is numerically unstable; least squares only multiplies.",
    ],
    answer=0,
    feedback={
        1: "It does not reproduce them: its residuals on the known entries are about the size of the noise. "
           "It trades exact fit for using all the data.",
        2: "The divisions are harmless here (the entries are far from 0). The problem is statistical: a tree "
           "uses only $m + n - 1$ entries and ignores the rest, so each value rests on a few noisy numbers.",
    },
    explanation="A tree uses $m + n - 1$ entries and each filled-in value multiplies ratios along a path, so the "
                "noise of several entries accumulates (and depends on which tree was chosen). Least squares "
                "weighs all known entries at once, and independent errors average out: in the lesson its "
                "error on the unknown entries is below the noise level, the tree's is several times above it.",
)
