"""Exercises and questions of lesson 04_gradient_descent (registered on import).

The book's loss (eq. 9.5) is a MEAN over Omega; with the slides' ridge penalty inside the same
mean it is mfteach's loss (mfteach.gd), and its gradient (book eq. 9.6-9.7 plus the penalty) is
checked as ``full_gradient``. Full gradient descent on MovieLens then asks when training should
stop: ``best_epoch`` finds the epoch with the lowest validation RMSE (early stopping).
(Lesson 05 continues with sampled gradients, in its own module.)
"""

from __future__ import annotations

import functools

import numpy as np

from ..data import toy
from .registry import Diagnostic, register, register_question

# ============================================================================ lesson 04
# The book's loss (eq. 9.5) is a MEAN over Omega; with the slides' ridge penalty inside the
# same mean it is mfteach's loss (mfteach.gd):
#     L(U, V) = (1/|Omega|) [ sum_Omega (r_ui - u_u . v_i)^2 + lambda (sum_u ||u_u||^2 + sum_i ||v_i||^2) ]
# and its gradient (book eq. 9.6-9.7 plus the penalty), with E the residuals on Omega (0 elsewhere):
#     grad_U = (2/|Omega|) (-E V + lambda U),   grad_V = (2/|Omega|) (-E^T U + lambda V).
LESSON_04 = "04_gradient_descent"


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
    lesson=LESSON_04,
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




# ---------------------------------------------------------------------------- best_epoch
@functools.lru_cache(maxsize=1)
def _movielens_block_fit_valid():
    """The MovieLens block of the lesson (section 5): the 300 most active users x the 200 most rated
    movies of MovieLens 100K, 80% training (seed 0), of which 20% is held out for validation
    (seed 1); the test ratings are never used here. Loaded once per session."""
    from ..data import load_movielens

    train, _test = load_movielens("100k").top(300, 200).split(0.2, seed=0)
    return tuple(train.split(0.2, seed=1))


def _best_epoch_cases(rng):
    """Full gradient descent on a small synthetic problem first (best epoch 26 of 60); then the
    MovieLens block as in the lesson (k = 10, no penalty, 300 epochs: best epoch 52); then another
    synthetic draw with a larger learning rate (best epoch 21 of 60).
    ``rng`` is not needed: the models carry their own seeds."""
    from ..data import synthetic
    from ..gd import GradientDescent

    cases = []
    for seed, lr in ((1, 5.0), (None, None), (2, 10.0)):
        if seed is None:
            fit_part, valid = _movielens_block_fit_valid()
            model = GradientDescent(rank=10, reg=0.0, sampling="full", n_epochs=300, seed=0)
        else:
            data, _, _ = synthetic(60, 40, rank=2, density=0.3, noise=0.5, seed=seed)
            fit_part, valid = data.split(0.2, seed=0)
            model = GradientDescent(rank=8, lr=lr, sampling="full", n_epochs=60, init_scale=0.3, seed=0)
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
    lesson=LESSON_04,
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
                   "again after about fifty epochs of full GD (overfitting): look for the epoch where it is lowest."),
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
    name="q04_summed_lr", lesson=LESSON_04, kind="number",
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
    name="q04_unmasked_nan", lesson=LESSON_04, kind="choice",
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
    name="q04_user_without_ratings", lesson=LESSON_04, kind="choice",
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
           "only the per-rating split of lesson 05 needs $|\\Omega_u|$, and mfteach gives unrated rows "
           "their exact penalty step there.",
        3: "Nothing in the loss links $u_u$ to the items when $u$ rated none: eq. 9.6 sums over "
           "$i \\in \\Omega_u$, an empty sum.",
    },
    explanation="In eq. 9.6 the sum runs over the items $u$ rated: for an empty $\\Omega_u$ only the penalty's "
                "$2\\lambda u_u/|\\Omega|$ is left, so each step multiplies $u_u$ by $1 - 2\\eta\\lambda/|\\Omega|$. "
                "The minimizer of the loss has $u_u = 0$ (the penalty alone), and the prediction for such a user "
                "is 0: cold start, which lessons 08-09 (SVD, biases, embeddings) meet again.",
)
