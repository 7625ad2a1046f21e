"""Exercises and questions of lesson 05_stochastic_gradient_descent (registered on import).

Section 1 of the lesson splits mfteach's mean loss (lesson 04) into one term per rating,
    l_ui = e_ui^2 + lambda (||u_u||^2 / |Omega_u| + ||v_i||^2 / |Omega^i|),   L = mean over Omega of l_ui,
so that a sample of entries, columns or rows, rescaled, gives an unbiased estimate of grad L (book
9.3.2, eq. 9.8-9.10). Exercises: ``column_step`` (one step with column sampling) and
``minibatch_epoch`` (one epoch of shuffled mini-batches, as ``mt.GradientDescent`` runs it).
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

LESSON_05 = "05_stochastic_gradient_descent"


def _random_ratings(rng, m: int, n: int, known: float) -> np.ndarray:
    """Integer stars 1..5 with each entry known with probability ``known`` (NaN otherwise)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) >= known] = np.nan
    return R


# ---------------------------------------------------------------------------- column_step
# Section 1 of the lesson splits the loss into one term per rating,
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
    lesson=LESSON_05,
    title="one SGD step with column sampling: an unbiased gradient from the sampled columns only",
    cases=_column_step_cases,
    hints=[
        "Work on the sampled columns only: R[:, C] and V[C] (the item vectors of C). The residuals there are "
        "an m × |C| matrix, 0 where R is NaN — the same masking as in full_gradient.",
        "Unbiased: each column is in C with probability |C|/n, so the sum of the per-rating gradients over "
        "the sampled entries must be scaled by n/|C| and then, like the mean, divided by |Ω| (all known "
        "entries, not only those in C).",
        "The penalty travels with the ratings (section 1): rating (u, i) carries λu_u/|Ω_u|. Over the "
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
    lesson=LESSON_05,
    title="one epoch of mini-batch SGD: walk through the ratings in a given shuffled order, batch by batch",
    cases=_minibatch_cases,
    hints=[
        "The loop runs over the START of each batch: 0, batch_size, 2·batch_size, ... up to |Ω|. A batch is "
        "the next slice of order (the last one may be shorter); it holds indices into ratings.rows, "
        "ratings.cols and ratings.values.",
        "For a batch B the step uses the MEAN of the per-rating gradients of section 1: for rating (u, i), "
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
                   "times; each rating carries only the share λu_u/|Ω_u| (section 1)."),
    ],
)
def minibatch_epoch(ratings, U, V, reg, lr, order, batch_size):
    r"""One epoch of mini-batch SGD over ``ratings`` (a ``Ratings``), visiting its entries in
    ``order`` (a permutation of 0..|Omega|-1) in consecutive batches B of ``batch_size`` (the last
    may be shorter). Each batch steps (U, V) <- (U, V) - lr g with the mean of the per-rating
    gradients of l_ui (lesson section 1), an unbiased estimate of grad L (book eq. 9.8-9.10):

    .. math::
        g = \frac{1}{|B|}\sum_{(u,i)\in B}\nabla\ell_{ui}

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


# ============================================================================ questions

register_question(
    name="q05_rows_or_columns", lesson=LESSON_05, kind="choice",
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
    name="q05_ratio_estimate", lesson=LESSON_05, kind="choice",
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
    name="q05_loss_jumps", lesson=LESSON_05, kind="choice",
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
                "(section 7). For full GD the most rated items and the largest vectors set the largest $c$, so "
                "lower $\\eta$; switching to mini-batch SGD (its per-rating step is not set by the most popular "
                "item) or a penalty $\\lambda > 0$ also help.",
)
