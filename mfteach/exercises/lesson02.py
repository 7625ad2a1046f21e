"""Exercises of lesson 02_gradient_descent (registered on import)."""

from __future__ import annotations

import functools

import numpy as np

from ..data import toy
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

# ============================================================================ lesson 02
# The book's loss (eq. 9.5) is a MEAN over Omega; with the slides' ridge penalty inside the
# same mean it is mfteach's loss (mfteach.gd):
#     L(U, V) = (1/|Omega|) [ sum_Omega (r_ui - u_u . v_i)^2 + lambda (sum_u ||u_u||^2 + sum_i ||v_i||^2) ]
# and its gradient (book eq. 9.6-9.7 plus the penalty), with E the residuals on Omega (0 elsewhere):
#     grad_U = (2/|Omega|) (-E V + lambda U),   grad_V = (2/|Omega|) (-E^T U + lambda V).
LESSON_02 = "02_gradient_descent"


def _random_ratings(rng, m: int, n: int, known: float) -> np.ndarray:
    """Integer stars 1..5 with each entry known with probability ``known`` (NaN otherwise)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) >= known] = np.nan
    return R


# ---------------------------------------------------------------------------- full_gradient
def _full_gradient_cases(rng):
    """The slides' 4 x 6 example first, then random shapes: tall, wide, square (where a swap of
    grad_U and grad_V keeps the shapes), a user and an item without ratings, rank 1."""
    cases = [(toy("lecture_R"), toy("lecture_U"), toy("lecture_Vt").T, 0.1)]
    for m, n, k, reg in [(5, 4, 2, 0.5), (6, 6, 3, 1.0), (3, 9, 1, 0.05), (12, 10, 4, 2.0), (7, 7, 2, 0.3)]:
        R = _random_ratings(rng, m, n, known=0.5)
        R[0, 0], R[-1, -1] = 3.0, np.nan  # at least one known and one unknown entry
        cases.append((R, 0.5 * rng.normal(size=(m, k)), 0.5 * rng.normal(size=(n, k)), reg))
    cases[2][0][1, :] = np.nan   # a user without any rating: only the penalty moves u_1
    cases[4][0][:, 2] = np.nan   # an item without any rating
    cases[4][0][0, 0] = 4.0
    return cases


# Building blocks of the wrong answers below (the reference itself is written out in full).
def _residuals(R, U, V):
    """E: r_ui - u_u . v_i on Omega, 0 on the unknown entries."""
    return np.where(np.isnan(R), 0.0, R - U @ V.T)


def _count_known(R):
    return np.count_nonzero(~np.isnan(R))


def _gradient(R, U, V, reg, factor=2.0, count=None, data_sign=-1.0, reg_factor=None, E=None):
    """A family of (grad_U, grad_V) = factor / count * (data_sign * E V + reg_factor * reg * U), ..."""
    E = _residuals(R, U, V) if E is None else E
    count = _count_known(R) if count is None else count
    reg_factor = factor if reg_factor is None else reg_factor
    grad_U = (factor * data_sign * E @ V + reg_factor * reg * U) / count
    grad_V = (factor * data_sign * E.T @ U + reg_factor * reg * V) / count
    return grad_U, grad_V


def _swapped(R, U, V, reg):
    grad_U, grad_V = full_gradient(R, U, V, reg)
    return grad_V, grad_U


def _transposed_V(R, U, V, reg):
    grad_U, grad_V = full_gradient(R, U, V, reg)
    return grad_U, grad_V.T


def _negated(R, U, V, reg):
    grad_U, grad_V = full_gradient(R, U, V, reg)
    return -grad_U, -grad_V


@register(
    lesson=LESSON_02,
    title="the full gradient of the mean regularized loss (book eq. 9.6-9.7 plus the penalty)",
    cases=_full_gradient_cases,
    hints=[
        "Start from the residuals e_ui = r_ui − u_u·v_i of all m × n entries at once, then make every "
        "unknown entry (NaN in R) contribute exactly 0: np.isnan gives the mask and np.where chooses per entry.",
        "Book eq. 9.6 in matrix form: row u of E V is Σ_{i ∈ Ω_u} e_ui v_i. So the data part of grad_U is "
        "−2/|Ω| times E V, shape (m, k); grad_V is the mirror image with Eᵀ and U, shape (n, k) (eq. 9.7).",
        "The penalty λ(Σ‖u_u‖² + Σ‖v_i‖²) sits inside the mean: it adds 2λ/|Ω| times U to grad_U and 2λ/|Ω| "
        "times V to grad_V. |Ω| counts the KNOWN entries only: count the True values of the mask.",
        "Check shapes and signs before you run: grad_U like U (m, k), grad_V like V (n, k); a rating above "
        "its prediction (e_ui > 0) must make grad_U's row u point AWAY from v_i, so that the step −η∇L "
        "moves u_u towards v_i.",
    ],
    diagnostics=[
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, E=R - U @ V.T),
                   "NaN: the unknown entries were not masked. NaN − anything is NaN, and E V mixes every "
                   "entry of a row, so one NaN spoils a whole row of the gradient. Set the residual to 0 "
                   "where R is NaN (np.isnan gives the mask, np.where chooses per entry)."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, E=np.nan_to_num(R) - U @ V.T),
                   "You counted the unknown entries as ratings of 0 (np.nan_to_num(R)): their residual "
                   "0 − u_u·v_i then pulls every prediction towards 0. The residual must be 0 there, "
                   "not the rating."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, factor=1.0),
                   "Your gradient is half the expected one: the derivative of (r − u·v)² is "
                   "2 (r − u·v) · (−v), and of λ‖u‖² it is 2λu. Keep the factor 2 (book eq. 9.6)."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, count=1),
                   "You left out the 1/|Ω|: that is the gradient of the slides' SUMMED loss, |Ω| times "
                   "the gradient of the book's mean loss (eq. 9.5). Divide by |Ω|, the number of known entries."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, count=R.size),
                   "You divided by m·n, all entries; the mean of eq. 9.5 is over the |Ω| KNOWN entries."),
        Diagnostic(_negated,
                   "The sign is flipped: you returned −∇L, the descent direction that a GD step adds. "
                   "The gradient itself is 2/|Ω| (−E V + λU): a rating above its prediction (e_ui > 0) "
                   "makes it point AWAY from v_i, so that the step −lr ∇L moves u_u towards v_i."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, data_sign=1.0),
                   "The data term has the wrong sign: ∂/∂u_u of (r_ui − u_u·v_i)² is −2 e_ui v_i, so the data "
                   "part is −2 E V / |Ω| (the penalty part +2λU/|Ω| is right)."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, 0.0),
                   "The regularization is missing: the penalty λ(Σ‖u_u‖² + Σ‖v_i‖²) adds 2λU/|Ω| to "
                   "grad_U and 2λV/|Ω| to grad_V."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, reg_factor=1.0),
                   "The penalty's gradient lacks its factor 2: d/du (λ‖u‖²) = 2λu, so it is 2λU/|Ω|."),
        Diagnostic(lambda R, U, V, reg: tuple(g + 2 * reg * W for g, W in zip(_gradient(R, U, V, 0.0), (U, V))),
                   "You put λ outside the mean (2λU instead of 2λU/|Ω|). In mfteach's loss (and in the "
                   "slides') the penalty is divided by |Ω| together with the squared errors."),
        Diagnostic(_swapped,
                   "grad_U and grad_V are swapped: return (grad_U, grad_V), grad_U of shape (m, k) like U "
                   "and grad_V of shape (n, k) like V."),
        Diagnostic(_transposed_V,
                   "grad_V is transposed: it must have V's shape (n, k), one row per item. Eᵀ U is (n x m)(m x k)."),
    ],
)
def full_gradient(R, U, V, reg):
    r"""The gradient of the mean regularized loss (book eq. 9.5 with the penalty inside the mean).

    .. math::
        \nabla_U L = \frac{2}{|\Omega|}(-E V + \lambda U), \qquad
        \nabla_V L = \frac{2}{|\Omega|}(-E^\top U + \lambda V)

    with E the residuals r_ui - u_u . v_i on Omega and 0 elsewhere (book eq. 9.6-9.7: row u of
    -E V is the sum over the items i rated by u of -e_ui v_i).

    Parameters
    ----------
    R : ndarray, shape (m, n)
        Ratings, NaN where unknown; Omega is the set of known entries.
    U : ndarray, shape (m, k)
        User factors.
    V : ndarray, shape (n, k)
        Item factors.
    reg : float
        lambda, the weight of the penalty.

    Returns
    -------
    (grad_U, grad_V) : ndarrays of shapes (m, k) and (n, k)
    """
    known = ~np.isnan(R)                              # Omega
    E = np.where(known, R - U @ V.T, 0.0)             # e_ui on Omega, 0 on the unknown entries
    n_known = np.count_nonzero(known)                 # |Omega|
    grad_U = 2 / n_known * (-E @ V + reg * U)         # eq. 9.6 + the penalty's 2 lambda u_u
    grad_V = 2 / n_known * (-E.T @ U + reg * V)       # eq. 9.7 + the penalty's 2 lambda v_i
    return grad_U, grad_V


# ---------------------------------------------------------------------------- column_step
# Section 5.1 of the lesson splits the loss into one term per rating,
#     l_ui = e_ui^2 + lambda (||u_u||^2 / |Omega_u| + ||v_i||^2 / |Omega^i|),   L = mean over Omega of l_ui,
# and column sampling (book 9.3.2, eq. 9.9-9.10 restricted to the sampled columns C) estimates
#     grad L  ~  g = n / (|C| |Omega|) * sum over (u, i) in Omega with i in C of grad l_ui,
# unbiased because each column is in C with probability |C| / n.
def _covered_ratings(rng, m: int, n: int, known: float) -> np.ndarray:
    """Random stars with every user and every item rated at least once."""
    R = _random_ratings(rng, m, n, known)
    for j in range(max(m, n)):
        if np.isnan(R[j % m, j % n]):
            R[j % m, j % n] = float(rng.integers(1, 6))
    return R


def _column_step_cases(rng):
    """The slides' 4 x 6 example with two sampled columns first; then random shapes, one and
    several columns, lambda = 0 once (every user and item has at least one rating)."""
    cases = [(toy("lecture_R"), toy("lecture_U"), toy("lecture_Vt").T, 0.1, 0.5, np.array([1, 4]))]
    for m, n, k, reg, lr, size in [(5, 4, 2, 0.5, 0.3, 1), (6, 8, 3, 1.0, 0.8, 3), (9, 7, 2, 0.0, 0.5, 2),
                                   (12, 10, 4, 2.0, 1.0, 4)]:
        R = _covered_ratings(rng, m, n, known=0.5)
        C = np.sort(rng.choice(n, size, replace=False))
        cases.append((R, 0.5 * rng.normal(size=(m, k)), 0.5 * rng.normal(size=(n, k)), reg, lr, C))
    return cases


def _column_variant(R, U, V, reg, lr, C, scale="unbiased", user_share="entries", sequential=False, sign=-1.0,
                    penalize_all_items=False):
    """Column steps with one thing changed (the typical mistakes below)."""
    known = ~np.isnan(R)
    m, n = R.shape
    scale = {"unbiased": n / (len(C) * known.sum()), "none": 1 / known.sum(), "drawn": 1 / known[:, C].sum(),
             "inverted": len(C) / (n * known.sum())}[scale]
    share_u = known[:, C].sum(axis=1) / known.sum(axis=1) if user_share == "entries" else np.ones(m)

    def grad_U_at(V):
        E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0.0)
        return 2 * scale * (-E @ V[C] + reg * share_u[:, None] * U)

    def grad_V_at(U):
        E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0.0)
        grad_V = 2 * scale * reg * V if penalize_all_items else np.zeros_like(V)
        grad_V[C] = 2 * scale * (-E.T @ U + reg * V[C])
        return grad_V

    U_new = U + sign * lr * grad_U_at(V)
    V_new = V + sign * lr * grad_V_at(U_new if sequential else U)
    return U_new, V_new


@register(
    lesson=LESSON_02,
    title="one SGD step with column sampling: an unbiased gradient from the sampled columns only",
    cases=_column_step_cases,
    hints=[
        "Work on the sampled columns only: R[:, C] and V[C] (the item vectors of C). The residuals there are "
        "an m × |C| matrix, 0 where R is NaN — the same masking as in full_gradient.",
        "Unbiased: each column is in C with probability |C|/n, so the sum of the per-rating gradients over "
        "the sampled entries must be scaled by n/|C| and then, like the mean, divided by |Ω| (all known "
        "entries, not only those in C).",
        "The penalty travels with the ratings (section 5.1): rating (u, i) carries λu_u/|Ω_u|. Over the "
        "sampled columns user u collects that share once per rating it has in C — count them per row of "
        "the mask. An item in C collects all of its shares, i.e. its whole λv_i.",
        "Compute BOTH gradients at the old U and V, and only then step downhill (subtract lr times each). "
        "Items outside C get a zero gradient: their rows of V do not change.",
    ],
    diagnostics=[
        Diagnostic(lambda *case: _column_variant(*case, scale="none"),
                   "Your step is |C|/n times too small: you scaled the sum over the sampled entries by 1/|Ω| "
                   "only, as if it were the full gradient. Each column is drawn with probability |C|/n; the "
                   "factor n/|C| makes up for the columns that were not drawn (unbiased estimate)."),
        Diagnostic(lambda *case: _column_variant(*case, scale="drawn"),
                   "You divided by the number of entries drawn, |Ω_C|, like eq. 9.8 does for a sample of "
                   "entries. With whole columns that number is random (popular columns bring more), so the "
                   "estimate is not unbiased; the fixed factor is n / (|C| |Ω|)."),
        Diagnostic(lambda *case: _column_variant(*case, scale="inverted"),
                   "The rescaling is upside down: the sampled entries stand for n/|C| times as many, so "
                   "multiply by n/|C| (then divide by |Ω|), do not multiply by |C|/n."),
        Diagnostic(lambda *case: _column_variant(*case, sequential=True),
                   "You computed V's gradient with the NEW U (after updating it). A gradient step evaluates "
                   "both gradients at the same, old (U, V); keep the old U until both gradients are known."),
        Diagnostic(lambda *case: _column_variant(*case, sign=1.0),
                   "You stepped uphill: the loss grows along the gradient. The update SUBTRACTS lr times the "
                   "gradient estimate."),
        Diagnostic(lambda *case: _column_variant(*case, user_share="rows"),
                   "You applied each user's whole penalty λu_u in every step. The penalty is shared among the "
                   "user's ratings (λu_u/|Ω_u| per rating), so a step on the columns C carries only the "
                   "shares of u's ratings in C; otherwise the estimate over-penalizes U."),
        Diagnostic(lambda *case: _column_variant(*case, penalize_all_items=True),
                   "You shrank every item vector, also those outside C. Only the sampled columns' ratings are "
                   "in the step, and item i's penalty shares come with its ratings: rows of V outside C keep "
                   "a zero gradient and do not change."),
    ],
)
def column_step(R, U, V, reg, lr, C):
    r"""One step of SGD with column sampling (book 9.3.2, eq. 9.9-9.10 on the columns C), unbiased:

    .. math::
        g = \frac{n}{|C|\,|\Omega|}\sum_{(u,i)\in\Omega,\ i\in C}\nabla\ell_{ui},\qquad
        \ell_{ui} = e_{ui}^2 + \lambda\Big(\frac{\|u_u\|^2}{|\Omega_u|} + \frac{\|v_i\|^2}{|\Omega^i|}\Big)

    and (U, V) <- (U, V) - lr g, both parts of g at the old (U, V). R is m x n with NaN for the
    unknown entries (every user and item rated at least once), C the sampled column indices.
    Returns the new (U, V).
    """
    known = ~np.isnan(R)                                      # Omega
    n = R.shape[1]
    scale = n / (len(C) * np.count_nonzero(known))             # n / (|C| |Omega|): unbiased
    E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0.0)       # e_ui on the sampled columns, m x |C|
    share_u = known[:, C].sum(axis=1) / known.sum(axis=1)      # user u's ratings in C / |Omega_u|
    grad_U = 2 * scale * (-E @ V[C] + reg * share_u[:, None] * U)   # eq. 9.9 + the penalty shares
    grad_V = np.zeros_like(V)                                  # items outside C: no gradient
    grad_V[C] = 2 * scale * (-E.T @ U + reg * V[C])            # eq. 9.10; all of item i's shares
    return U - lr * grad_U, V - lr * grad_V                    # both at the old (U, V)


# ---------------------------------------------------------------------------- minibatch_epoch
def _minibatch_cases(rng):
    """The slides' 13 ratings in batches of 4 (the last batch has 1) first; then random data with a
    short last batch, batches of 1 (classic SGD), one batch of everything (a full step), lambda = 0."""
    cases = []
    for m, n, k, reg, lr, size in [(None, None, 2, 0.1, 0.005, 4), (8, 6, 2, 0.5, 0.3, 5), (10, 12, 3, 1.0, 0.05, 1),
                                   (7, 9, 2, 0.3, 2.0, 1000), (20, 15, 4, 0.0, 0.5, 16)]:
        if m is None:
            ratings = Ratings.from_dense(toy("lecture_R"))
            U, V = toy("lecture_U"), toy("lecture_Vt").T
        else:
            ratings = Ratings.from_dense(_covered_ratings(rng, m, n, known=0.5))
            U, V = 0.5 * rng.normal(size=(m, k)), 0.5 * rng.normal(size=(n, k))
        cases.append((ratings, U, V, reg, lr, rng.permutation(len(ratings)), size))
    return cases


def _minibatch_variant(ratings, U, V, reg, lr, order, batch_size, divide_by="batch", use_order=True,
                       drop_last=False, user_share="entries", sequential=False, accumulate=True):
    """Epochs with one thing changed (the typical mistakes below)."""
    U, V = U.copy(), V.copy()
    order = order if use_order else np.arange(len(ratings))
    share_u = reg / ratings.user_counts() if user_share == "entries" else np.full(ratings.shape[0], reg)
    share_i = reg / ratings.item_counts()
    stop = len(order) - len(order) % batch_size if drop_last else len(order)

    def add(P, index, delta):
        if accumulate:
            np.add.at(P, index, delta)
        else:
            P[index] += delta                           # a repeated index keeps only its last delta

    for start in range(0, stop, batch_size):
        batch = order[start:start + batch_size]
        u, i, r = ratings.rows[batch], ratings.cols[batch], ratings.values[batch]
        step = lr / {"batch": len(batch), "batch_size": batch_size, "none": 1}[divide_by]
        e = r - np.sum(U[u] * V[i], axis=1)
        grad_u = -2 * e[:, None] * V[i] + 2 * share_u[u, None] * U[u]
        grad_v = -2 * e[:, None] * U[u] + 2 * share_i[i, None] * V[i]
        add(U, u, -step * grad_u)
        if sequential:                                  # V's gradient recomputed with the new U
            e = r - np.sum(U[u] * V[i], axis=1)
            grad_v = -2 * e[:, None] * U[u] + 2 * share_i[i, None] * V[i]
        add(V, i, -step * grad_v)
    return U, V


@register(
    lesson=LESSON_02,
    title="one epoch of mini-batch SGD: walk through the ratings in a given shuffled order, batch by batch",
    cases=_minibatch_cases,
    hints=[
        "The loop runs over the START of each batch: 0, batch_size, 2·batch_size, ... up to |Ω|. A batch is "
        "the next slice of order (the last one may be shorter); it holds indices into ratings.rows, "
        "ratings.cols and ratings.values.",
        "For a batch B the step uses the MEAN of the per-rating gradients of section 5.1: for rating (u, i), "
        "−2 e_ui v_i + 2λu_u/|Ω_u| for u_u and the mirror image for v_i (ratings.user_counts() and "
        "ratings.item_counts() give |Ω_u| and |Ω^i|). Divide by the true length of the batch.",
        "Compute e_ui and both gradients of the batch with the factors as they are at the start of the "
        "batch, then update U and V; the next batch sees the updated factors.",
        "A user (or an item) may occur several times in one batch, and each occurrence must add its part. "
        "Fancy-index assignment keeps only the last one; look for a numpy function that ADDS at repeated "
        "indices.",
    ],
    diagnostics=[
        Diagnostic(lambda *case: _minibatch_variant(*case, accumulate=False),
                   "A user or item that occurs twice in a batch got only one of its updates: with fancy "
                   "indexing, U[u] -= ... writes each repeated row once (the last write wins). Accumulate with "
                   "np.add.at(U, u, ...) (or np.bincount per column), which adds every occurrence."),
        Diagnostic(lambda *case: _minibatch_variant(*case, divide_by="batch_size"),
                   "The last batch is shorter than batch_size, and you divided its sum by batch_size. The "
                   "mean is over the ratings actually in the batch: divide by len(batch)."),
        Diagnostic(lambda *case: _minibatch_variant(*case, drop_last=True),
                   "You skipped the last, shorter batch: an epoch visits EVERY rating once, so the leftover "
                   "ratings at the end of order make a batch of their own."),
        Diagnostic(lambda *case: _minibatch_variant(*case, use_order=False),
                   "You walked through the ratings in their stored order (sorted by user), not in the order "
                   "given: batches must be consecutive slices of order, the shuffled permutation."),
        Diagnostic(lambda *case: _minibatch_variant(*case, divide_by="none"),
                   "You took the SUM over the batch instead of the mean: the step then grows with the batch "
                   "size. Divide the summed gradient by the number of ratings in the batch."),
        Diagnostic(lambda *case: _minibatch_variant(*case, sequential=True),
                   "Within a batch you updated U first and then computed V's gradient with the new U. Both "
                   "gradients of a batch belong to the same, old (U, V)."),
        Diagnostic(lambda *case: _minibatch_variant(*case, user_share="rows"),
                   "Every rating of user u applied u's WHOLE penalty λu_u. Over an epoch that counts it |Ω_u| "
                   "times; each rating carries only the share λu_u/|Ω_u| (section 5.1)."),
    ],
)
def minibatch_epoch(ratings, U, V, reg, lr, order, batch_size):
    r"""One epoch of mini-batch SGD over ``ratings`` (a ``Ratings``), visiting its entries in
    ``order`` (a permutation of 0..|Omega|-1) in consecutive batches B of ``batch_size`` (the last
    may be shorter). Each batch steps (U, V) <- (U, V) - lr g with the mean of the per-rating
    gradients of l_ui (lesson section 5.1), an unbiased estimate of grad L (book eq. 9.8-9.10):

    .. math::
        g = rac{1}{|B|}\sum_{(u,i)\in B}
abla\ell_{ui}

    Every user and item has at least one rating. Returns the new (U, V).
    """
    U, V = U.copy(), V.copy()
    share_u = reg / ratings.user_counts()                  # lambda / |Omega_u|: one rating's penalty share
    share_i = reg / ratings.item_counts()                  # lambda / |Omega^i|
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]            # the last batch may be shorter
        u, i, r = ratings.rows[batch], ratings.cols[batch], ratings.values[batch]
        e = r - np.sum(U[u] * V[i], axis=1)                # e_ui at the current (U, V)
        grad_u = -2 * e[:, None] * V[i] + 2 * share_u[u, None] * U[u]   # gradient of l_ui in u_u
        grad_v = -2 * e[:, None] * U[u] + 2 * share_i[i, None] * V[i]   # ... and in v_i
        np.add.at(U, u, -lr / len(batch) * grad_u)         # a user twice in B gets both updates
        np.add.at(V, i, -lr / len(batch) * grad_v)
    return U, V


# ---------------------------------------------------------------------------- best_epoch
@functools.lru_cache(maxsize=1)
def _movielens_fit_valid():
    """The lesson's section-8 split of MovieLens 100K: 80% training (seed 0), of which 20% is
    held out for validation (seed 1). Loaded once per session."""
    from ..data import load_movielens

    train, _test = load_movielens("100k").split(0.2, seed=0)
    return tuple(train.split(0.2, seed=1))


def _best_epoch_cases(rng):
    """A small synthetic problem first (best epoch 14 of 40); then MovieLens 100K as in the lesson
    (k = 20, no penalty, 20 epochs of mini-batches); then another synthetic draw with a smaller learning rate (best epoch 23).
    ``rng`` is not needed: the models carry their own seeds."""
    from ..data import synthetic
    from ..gd import GradientDescent

    cases = []
    for seed in (0, None, 1):
        if seed is None:
            fit_part, valid = _movielens_fit_valid()
            model = GradientDescent(rank=20, reg=0.0, sampling="minibatch", n_epochs=20, seed=0)
        else:
            data, _, _ = synthetic(60, 40, rank=2, density=0.3, noise=0.5, seed=seed)
            fit_part, valid = data.split(0.2, seed=0)
            model = GradientDescent(rank=8, lr=1.0 if seed == 0 else 0.5, sampling="minibatch", sample_size=50,
                                    n_epochs=40, init_scale=0.3, seed=0)
        cases.append((model, fit_part, valid))
    return cases


def _history(model, train, valid):
    return model.fit(train, eval_set=valid).history_


def _at(history, row, column="test_rmse", shift=0):
    return int(history["epoch"][row]) + shift, float(history[column][row])


def _no_eval_set(model, train, valid):
    history = model.fit(train).history_
    return _at(history, history["test_rmse"].idxmin())


def _off_by_one(model, train, valid):
    history = _history(model, train, valid)
    later = history["test_rmse"].to_numpy()[1:]            # epoch 0 dropped, positions not re-counted
    return int(np.argmin(later)), float(later.min())


@register(
    lesson=LESSON_02,
    title="find out on MovieLens: the epoch with the lowest validation RMSE (and that RMSE)",
    cases=_best_epoch_cases,
    time_limit=15.0,
    hints=[
        "Train the model you are given on train, and let it score valid after every epoch: fit takes the "
        "ratings to score as its eval_set argument.",
        "After fit, model.history_ is a DataFrame with one row per epoch (row 0 is the starting point, "
        "epoch 0). The RMSE on the eval_set is in its column test_rmse — here it is the VALIDATION RMSE.",
        "Find the row where that column is smallest (pandas has a method that returns the index of the "
        "minimum), and return the epoch of that row as an int and the RMSE as a float.",
    ],
    diagnostics=[
        Diagnostic(lambda model, train, valid: _at(h := _history(model, train, valid), h["train_rmse"].idxmin(),
                                                    "train_rmse"),
                   "You looked at the TRAINING RMSE. It keeps falling while the model memorizes the training "
                   "ratings, so its minimum is (nearly always) the last epoch. The question is when the error "
                   "on ratings the model did NOT train on is lowest: column test_rmse, scored on valid."),
        Diagnostic(lambda model, train, valid: _at(h := _history(model, train, valid), len(h) - 1),
                   "You returned the last epoch. On MovieLens without a penalty the validation RMSE turns up "
                   "again after about ten epochs (overfitting): look for the epoch where it is lowest."),
        Diagnostic(_off_by_one,
                   "Your epoch is one too small: row 0 of history_ is epoch 0, the starting point before any "
                   "training. Take the epoch from the epoch column of the row you found."),
        Diagnostic(lambda model, train, valid: _at(h := _history(model, valid, train), h["test_rmse"].idxmin()),
                   "You trained on the validation ratings and scored the training ratings: fit(train, "
                   "eval_set=valid), in that order."),
        Diagnostic(_no_eval_set,
                   "history_ has a test_rmse column only when fit is given ratings to score: pass "
                   "eval_set=valid to fit."),
    ],
)
def best_epoch(model, train, valid):
    """Fit ``model`` (an unfitted ``mt.GradientDescent``) on ``train`` with ``valid`` scored after
    every epoch; return ``(epoch, rmse)``: the epoch with the lowest validation RMSE and that RMSE
    (early stopping would keep the factors of that epoch)."""
    history = model.fit(train, eval_set=valid).history_    # one row per epoch; row 0 = epoch 0
    best = history["test_rmse"].idxmin()                   # eval_set's RMSE: here, validation
    return int(history["epoch"][best]), float(history["test_rmse"][best])


# ============================================================================ questions
register_question(
    name="q02_summed_lr", lesson=LESSON_02, kind="number",
    prompt="A colleague runs full gradient descent on the slides' SUMMED loss $L_\\Sigma$ with learning rate "
           "$10^{-5}$ and $\\lambda = 5$, on $|\\Omega| = 200{,}000$ ratings. Which learning rate `lr` makes "
           "`mt.GradientDescent(sampling=\"full\", reg=5)`, on the MEAN loss, take exactly the same steps?",
    answer=2.0,
    feedback={
        1e-5: "That is the colleague's rate, but on the mean the gradient is $|\\Omega|$ times smaller "
              "($\\nabla L = \\nabla L_\\Sigma / |\\Omega|$), so the same step needs a $|\\Omega|$ times larger rate.",
        5e-11: "You divided by $|\\Omega|$. The mean's gradient is already $|\\Omega|$ times SMALLER than the "
               "sum's; to move as far, the rate must be $|\\Omega|$ times LARGER.",
        1e6: "You multiplied by $\\lambda$ as well. $\\lambda$ sits inside the mean in both losses and stays 5; "
             "only $|\\Omega|$ converts the rate.",
    },
    default_feedback="Write one step on each loss: $U - \\eta_\\Sigma \\nabla L_\\Sigma$ and $U - \\eta\\,\\nabla L$ "
                     "with $\\nabla L = \\nabla L_\\Sigma/|\\Omega|$. When are they equal?",
    explanation="$\\nabla L = \\nabla L_\\Sigma/|\\Omega|$, so $U - \\eta\\nabla L = U - (\\eta/|\\Omega|)\\nabla L_\\Sigma$: "
                "the runs coincide when $\\eta/|\\Omega| = 10^{-5}$, i.e. $\\eta = 10^{-5}\\cdot 200{,}000 = 2$. "
                "$\\lambda = 5$ stays (the penalty is inside the mean in both). Had the colleague put a penalty "
                "$\\lambda'$ OUTSIDE a mean, ours would be $|\\Omega|\\lambda'$.",
)

register_question(
    name="q02_unmasked_nan", lesson=LESSON_02, kind="choice",
    prompt="You form $E = R - UV^\\top$ without masking the unknown entries (NaN in $R$) and compute "
           "$\\nabla_U L = \\frac{2}{|\\Omega|}(-EV + \\lambda U)$. What comes out?",
    choices=[
        "NaN only in the entries of the gradient that belong to unknown ratings; the rest is right.",
        "NaN in every row of $\\nabla_U L$ whose user has at least one unknown entry, which on real data "
        "is every row: the whole step is NaN.",
        "The right gradient: NumPy skips NaN in matrix products.",
        "The gradient of a loss that counts the unknown entries as ratings of 0.",
    ],
    answer=1,
    feedback={
        0: "The gradient has no entries per rating: row $u$ of $EV$ is $\\sum_i E_{ui} v_i$, a sum over the "
           "whole row of $E$, and one NaN term makes the sum NaN.",
        2: "NumPy does not skip NaN: NaN times anything (even 0) is NaN, and any sum with a NaN term is NaN.",
        3: "That is what replacing NaN by 0 in $R$ does (`np.nan_to_num`): the result is finite but wrong, "
           "the unknown entries pull predictions towards 0. Leaving NaN in place gives NaN.",
    },
    explanation="Row $u$ of $EV$ sums $E_{ui}v_i$ over ALL items, so a single NaN in row $u$ of $E$ spoils "
                "row $u$ of $\\nabla_U L$ (and a NaN in column $i$ spoils row $i$ of $\\nabla_V L$). With 94% "
                "of MovieLens unknown, every row has one: the whole step is NaN. Masking sets $E_{ui} = 0$ off "
                "$\\Omega$; treating NaN as 0 stars instead would optimise a different, wrong loss over all $mn$ "
                "entries.",
)

register_question(
    name="q02_rows_or_columns", lesson=LESSON_02, kind="choice",
    prompt="A music service has 50 million users, 80,000 songs and 2 billion plays. You want SGD steps "
           "that read few entries and change few factor vectors. Which sampling?",
    choices=[
        "Column sampling: a sampled song brings about 40 plays.",
        "Row sampling: a sampled user brings about 40 plays, and a step changes only the sampled users' "
        "vectors and those of the songs they played.",
        "Column sampling: there are far fewer columns, so each step is cheaper.",
        "Either: both are unbiased, so they cost the same.",
    ],
    answer=1,
    feedback={
        0: "40 is the plays of an average USER ($2\\cdot 10^9 / 5\\cdot 10^7$). An average song has "
           "$2\\cdot 10^9 / 80{,}000 = 25{,}000$ plays: one sampled column already reads 25,000 entries.",
        2: "Fewer columns means LONGER columns: 25,000 plays per song on average, touching as many user "
           "vectors. The cost of a step is the entries it reads, not the number of lines to choose from.",
        3: "Unbiased says where the steps point on average, not what they cost: a step reads "
           "$|\\mathcal C||\\Omega|/n$ or $|\\mathcal R||\\Omega|/m$ entries, very different when $m \\gg n$.",
    },
    explanation="With $m \\gg n$ a row is short ($|\\Omega|/m = 40$ plays) and a column long "
                "($|\\Omega|/n = 25{,}000$). Sampling rows keeps each step small and confines the changes of "
                "$U$ to the sampled users: sample along the long side (book 9.3.2: the choice depends on $m$ "
                "and $n$).",
)

register_question(
    name="q02_ratio_estimate", lesson=LESSON_02, kind="choice",
    prompt="You sample 1% of the COLUMNS per step but, like eq. 9.8, divide the summed per-rating gradients "
           "by the number of entries drawn, $|\\Omega_{\\mathcal C}|$, instead of multiplying by "
           "$n/(|\\mathcal C||\\Omega|)$. What is true?",
    choices=[
        "Nothing changes: the two factors are equal.",
        "The estimate is a ratio of two random quantities: only approximately unbiased (popular columns "
        "weigh less in the draws that contain them), and its average step size differs, so lr must be "
        "retuned.",
        "The estimate is exactly 100 times too large.",
        "The steps now point uphill on average.",
    ],
    answer=1,
    feedback={
        0: "They are equal only on AVERAGE over draws ($\\mathbb E|\\Omega_{\\mathcal C}| = |\\mathcal C||\\Omega|/n$). "
           "In one draw $|\\Omega_{\\mathcal C}|$ depends on which columns came up, so 1 over it is random too.",
        2: "No fixed factor relates them: $1/|\\Omega_{\\mathcal C}|$ changes from draw to draw, larger or "
           "smaller than $n/(|\\mathcal C||\\Omega|)$ depending on how popular the drawn columns are.",
        3: "Both factors are positive, so the estimate still points, roughly, along $\\nabla L$ and the step "
           "still goes downhill; what is lost is exact unbiasedness.",
    },
    explanation="$n/(|\\mathcal C||\\Omega|)$ is a fixed number and each column is in $\\mathcal C$ with probability "
                "$|\\mathcal C|/n$, so $\\mathbb E[g] = \\nabla L$ exactly. Dividing by the random $|\\Omega_{\\mathcal C}|$ "
                "gives a ratio estimate, unbiased only approximately (exactly if all columns had equal "
                "counts); the bias shrinks for large samples and SGD tolerates it, but the step size changes "
                "with the normalization, so the learning rate must be tuned with it.",
)

register_question(
    name="q02_user_without_ratings", lesson=LESSON_02, kind="choice",
    prompt="User $u$ has no rating at all ($\\Omega_u$ is empty). What does full gradient descent do to "
           "$u_u$ when $\\lambda > 0$?",
    choices=[
        "Nothing: with no ratings its gradient is 0, so $u_u$ keeps its random start.",
        "It shrinks $u_u$ towards 0 by the factor $1 - 2\\eta\\lambda/|\\Omega|$ per step, which is what the "
        "minimizer wants: with no data, only the penalty speaks.",
        "It divides by $|\\Omega_u| = 0$ and the step is NaN.",
        "It pulls $u_u$ towards the average of the item vectors.",
    ],
    answer=1,
    feedback={
        0: "The data part is 0 (no $e_{ui}$ involves $u_u$), but the penalty $\\lambda\\|u_u\\|^2$ is still in the "
           "loss: its gradient $2\\lambda u_u/|\\Omega|$ is not 0 while $u_u \\ne 0$.",
        2: "The full gradient divides by $|\\Omega|$, the number of ALL known ratings, never by $|\\Omega_u|$; "
           "only the per-rating split of section 5.1 needs $|\\Omega_u|$, and mfteach gives unrated rows "
           "their exact penalty step there.",
        3: "Nothing in the loss links $u_u$ to the items when $u$ rated none: eq. 9.6 sums over "
           "$i \\in \\Omega_u$, an empty sum.",
    },
    explanation="In eq. 9.6 the sum runs over the items $u$ rated: for an empty $\\Omega_u$ only the penalty's "
                "$2\\lambda u_u/|\\Omega|$ is left, so each step multiplies $u_u$ by $1 - 2\\eta\\lambda/|\\Omega|$. "
                "The minimizer of the loss has $u_u = 0$ (the penalty alone), and the prediction for such a user "
                "is 0: cold start, which lesson 04 meets again.",
)

register_question(
    name="q02_loss_jumps", lesson=LESSON_02, kind="choice",
    prompt="Full GD on MovieLens does not settle: the training loss jumps up and down from epoch to epoch. "
           "Which change is the right first fix?",
    choices=[
        "Train for more epochs: the oscillation averages out.",
        "Lower the learning rate: the step overshoots along the steepest direction of the loss.",
        "Raise the rank $k$: a richer model fits better.",
        "Set $\\lambda = 0$: the penalty fights the data term.",
    ],
    answer=1,
    feedback={
        0: "An oscillation from too large a step does not average out: along a direction of curvature $c$ "
           "the error is multiplied by $|1 - \\eta c|$ each step, and above $\\eta = 2/c$ that factor exceeds 1.",
        2: "A larger $k$ does not change the step size; more parameters usually make the largest curvature, "
           "and the instability, no better.",
        3: "The penalty keeps the vectors, and with them the curvature, bounded; removing it can only make the "
           "largest curvature larger.",
    },
    explanation="Gradient descent is stable along a direction of curvature $c$ only for $\\eta < 2/c$ "
                "(section 9). For full GD the most rated items and the largest vectors set the largest $c$, so "
                "lower $\\eta$; switching to mini-batch SGD (its per-rating step is not set by the most popular "
                "item) or a penalty $\\lambda > 0$ also help.",
)
