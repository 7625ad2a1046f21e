r"""Matrix factorization by gradient descent: full batch, SGD on sampled entries, columns or
rows (book section 9.3), and shuffled mini-batches (the fast trainer of later lessons).

The loss (book eq. 9.5, with the lecture slides' ridge penalty; a mean over Omega):

.. math::

    L(U, V) = \frac{1}{|\Omega|}\Big[\sum_{(u,i)\in\Omega} (r_{ui} - u_u^\top v_i)^2
              + \lambda \big(\textstyle\sum_u \|u_u\|^2 + \sum_i \|v_i\|^2\big)\Big]

It is the slides' summed objective divided by |Omega|: the minimizer is the same for the same
lambda (``reg`` means the same thing here and in ``ALS``), and a step of ``lr`` on this mean
loss is a step of lr / |Omega| on the summed one. (The book's eq. 9.5 has no penalty at
all: the ridge term is the slides'.) Gradients (eq. 9.6-9.7, plus the penalty),
with e_ui = r_ui - u_u . v_i and E the sparse m x n matrix of residuals on Omega:

.. math::

    \nabla_U L = \frac{2}{|\Omega|}(-E V + \lambda U), \qquad
    \nabla_V L = \frac{2}{|\Omega|}(-E^\top U + \lambda V).

Sampling. The loss splits exactly into one term per known entry,
L = (1/|Omega|) sum_Omega l_ui with
l_ui = e_ui^2 + lambda (||u_u||^2 / |Omega_u| + ||v_i||^2 / |Omega^i|)
(each row's penalty shared among its ratings; a row or column with no rating keeps its exact
penalty gradient 2 lambda u / |Omega| in every step), so a step on a sample touches only the
rows and columns in it, and every estimate below is unbiased, E[g] = grad L:

- ``"entries"`` (eq. 9.8-9.10): S uniform from Omega without replacement, g = (1/|S|) sum_S grad l_ui;
- ``"columns"``: C = ``sample_size`` columns uniform without replacement, all their entries
  Omega_C, g = n / (|C| |Omega|) sum_{Omega_C} grad l_ui (each column is in C with
  probability |C| / n); V changes only in the rows of C, U only for users who rated in C;
- ``"rows"``: the mirror image, g = m / (|R| |Omega|) sum_{Omega_R} grad l_ui;
- ``"minibatch"``: an epoch is a pass over a random permutation of Omega in batches of
  ``sample_size``, g = (1/|B|) sum_B grad l_ui.

An epoch is one step for ``"full"`` and, for the sampled modes, as many steps as touch about
|Omega| entries (|Omega| / s for entries and mini-batches, n / s for columns, m / s for rows),
so epochs of all modes cost about the same.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import (FactorModel, check_non_negative, check_positive, check_positive_int, check_ratings,
                   mean_rating, non_finite_cause, remember_training, warm_start)
from .ratings import Ratings

__all__ = ["GradientDescent", "DivergenceError", "loss", "gradient", "sampled_step", "default_lr", "SAMPLINGS", "Params"]

SAMPLINGS = ("full", "entries", "columns", "rows", "minibatch")

def default_lr(sampling: str, n_ratings: int, user_counts, item_counts, sample_size: int | None) -> float:
    """The learning rate used when ``lr=None``, on the mean loss.

    ``"full"``: 0.1 |Omega| / max(|Omega_u|, |Omega^i|). The curvature of the loss along row u
    alone is about 2 |Omega_u| ||v||^2 / |Omega|, and the coupling between U and V roughly
    doubles the steepest direction, so this step stays stable while the factor vectors have
    squared norm below about 5, also on dense blocks of ratings. ``"columns"`` / ``"rows"``: the same times |C| / n or |R| / m,
    which undoes the n / |C| (m / |R|) scaling of their unbiased estimates. ``"entries"`` and
    ``"minibatch"``: 0.005 |S|, so that each sampled rating moves its two vectors by
    0.01 e_ui v_i and 0.01 e_ui u_u (the per-rating step of classic SGD, Surprise's 0.005 times
    the 2 of the squared error) whatever the sample size.
    """
    full = 0.1 * n_ratings / max(int(np.max(user_counts)), int(np.max(item_counts)))
    if sampling == "full":
        return full
    if sampling == "columns":
        return full * sample_size / len(item_counts)
    if sampling == "rows":
        return full * sample_size / len(user_counts)
    return 0.005 * sample_size


class DivergenceError(FloatingPointError, ValueError):
    """Training blew up (the loss became non-finite or exploded): usually the learning rate is too
    large; the message names the cause (also huge ratings or initial factors). A ``ValueError``
    too, like every other "these settings cannot work" error of mfteach.

    ``history`` holds the epochs up to the blow-up (the records ``history_`` would have had), so
    a plot can show the curve running away; None when it was not recorded."""

    history: pd.DataFrame | None = None


def stop_if_diverged(records: list, lr: float, model: str, setting: str = "", values=None,
                     init_scale: float | None = None) -> None:
    """Raise DivergenceError when the last epoch's loss in ``records`` is not finite or exceeds
    1000 * max(first loss, 1). ``model`` names the estimator in the message; ``setting`` is
    appended after "with lr=..." (e.g. the sampling mode).

    The message blames the learning rate, unless the training ratings ``values`` (when given)
    are too large for float64 or the loss was already non-finite at the starting point (epoch
    0): then it names the ratings or ``init_scale``, which no learning rate can fix."""
    first, last = records[0]["loss"], records[-1]["loss"]
    if not np.isfinite(last) or last > 1e3 * max(first, 1.0):
        cause = None
        if values is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                zero_loss = float(np.mean(np.square(values)))  # the loss of U = V = 0
            absurd_start = not np.isfinite(first) or first > 1e6 * max(zero_loss, 1.0)
            cause = non_finite_cause(values, init_scale=init_scale if absurd_start else None)
            if not cause.startswith(("the ratings", "init_scale")):
                cause = None
            elif cause.startswith("init_scale") and np.isfinite(first):
                cause = (f"init_scale={init_scale:g} starts the factors far beyond the scale of the ratings (the "
                         f"loss at epoch 0 is {first:.3g}, against {zero_loss:.3g} for all-zero factors): use a "
                         f"small init_scale such as the default")
        if cause is None:
            message = (f"{model} diverged at epoch {records[-1]['epoch']}: the loss went from {first:.4g} to "
                       f"{last:.4g} with lr={lr:g}{setting}. Use a smaller learning rate, e.g. lr={lr / 10:g}.")
        else:
            message = (f"{model} diverged at epoch {records[-1]['epoch']}: the loss went from {first:.4g} to "
                       f"{last:.4g} with lr={lr:g}{setting}, and a smaller learning rate will not help: {cause}.")
        error = DivergenceError(message)
        error.history = pd.DataFrame(records)
        raise error


@dataclass
class Params:
    """The parameters being learned; updated in place by the training steps."""

    U: np.ndarray
    V: np.ndarray
    user_bias: np.ndarray | None = None
    item_bias: np.ndarray | None = None
    mu: float = 0.0

    @property
    def biased(self) -> bool:
        return self.user_bias is not None


class _Problem:
    """The training data in the forms the steps need, computed once per ``fit``."""

    def __init__(self, ratings: Ratings):
        self.ratings = ratings
        self.m, self.n = ratings.shape
        self.rows, self.cols, self.values = ratings.rows, ratings.cols, ratings.values
        self.n_ratings = len(ratings)
        by_user, by_item = ratings.by_user, ratings.by_item  # the one grouping (Ratings computes it once)
        self.user_counts, self.item_counts = by_user.counts, by_item.counts
        # CSR structure of Omega in the order of the entries (Ratings keeps them sorted by user, item)
        self.indptr = by_user.indptr
        # a user with no rating has no penalty share to carry; avoid dividing by zero
        self.inv_user_counts = 1.0 / np.maximum(self.user_counts, 1)
        self.inv_item_counts = 1.0 / np.maximum(self.item_counts, 1)
        # rows and columns with no rating: no entry carries their penalty, so sampled steps add
        # its exact gradient 2 lambda u / |Omega| themselves (keeping every estimate unbiased)
        self.unrated_users = np.flatnonzero(self.user_counts == 0)
        self.unrated_items = np.flatnonzero(self.item_counts == 0)

    def residuals(self, p: Params, idx=None) -> np.ndarray:
        """e_ui = r_ui - r_hat_ui on all of Omega, or on the entries ``idx``."""
        rows, cols, values = (self.rows, self.cols, self.values) if idx is None else (
            self.rows[idx], self.cols[idx], self.values[idx])
        predicted = np.einsum("ij,ij->i", p.U[rows], p.V[cols]) + p.mu
        if p.biased:
            predicted += p.user_bias[rows] + p.item_bias[cols]
        return values - predicted

    def residual_matrix(self, e: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((e, self.cols, self.indptr), shape=(self.m, self.n))


def _finite(p: Params) -> bool:
    """Whether every learned number is finite: O((m + n) k), a sum propagates inf and nan."""
    total = np.sum(p.U) + np.sum(p.V)
    if p.biased:
        total += np.sum(p.user_bias) + np.sum(p.item_bias)
    return bool(np.isfinite(total))


def _penalty(p: Params) -> float:
    total = float(np.sum(p.U**2) + np.sum(p.V**2))
    if p.biased:
        total += float(np.sum(p.user_bias**2) + np.sum(p.item_bias**2))
    return total


def _as_params(U, V, user_bias=None, item_bias=None, mu=0.0, shape=None) -> Params:
    """Check and convert the parameters of ``loss``/``gradient`` for ratings of ``shape``."""
    if (user_bias is None) != (item_bias is None):
        missing = "item_bias" if item_bias is None else "user_bias"
        raise ValueError(f"pass both user_bias and item_bias (or neither); {missing} is missing")
    p = Params(np.asarray(U, dtype=float), np.asarray(V, dtype=float),
               None if user_bias is None else np.asarray(user_bias, dtype=float),
               None if item_bias is None else np.asarray(item_bias, dtype=float), float(mu))
    m, n = shape
    if p.U.ndim != 2 or p.V.ndim != 2 or p.U.shape[0] != m or p.V.shape[0] != n or p.U.shape[1] != p.V.shape[1]:
        raise ValueError(f"U and V must be (m x k) and (n x k) with (m, n) = {shape}, got {p.U.shape} and {p.V.shape}")
    if p.biased and (p.user_bias.shape != (m,) or p.item_bias.shape != (n,)):
        raise ValueError(f"user_bias and item_bias must have shapes ({m},) and ({n},), "
                         f"got {p.user_bias.shape} and {p.item_bias.shape}")
    return p


def loss(ratings: Ratings, U, V, reg: float = 0.0, user_bias=None, item_bias=None, mu: float = 0.0) -> float:
    """L(U, V): book eq. 9.5 plus the ridge penalty, both divided by |Omega| (module docstring).

    With ``user_bias``/``item_bias`` (b_u, c_i) and ``mu``, the prediction is
    mu + b_u + c_i + u_u . v_i and the biases join the penalty.
    """
    problem = _Problem(check_ratings("ratings", ratings))
    p = _as_params(U, V, user_bias, item_bias, mu, ratings.shape)
    e = problem.residuals(p)
    return float((e @ e + reg * _penalty(p)) / problem.n_ratings)


def _full_gradient(problem: _Problem, p: Params, reg: float):
    e = problem.residuals(p)
    E = problem.residual_matrix(e)
    scale = 2.0 / problem.n_ratings
    grads = [scale * (reg * p.U - E @ p.V), scale * (reg * p.V - E.T @ p.U)]
    if p.biased:
        # d/db_u: (2/|Omega|)(-sum_{i in Omega_u} e_ui + lambda b_u); np.bincount sums per user / item
        grads.append(scale * (reg * p.user_bias - np.bincount(problem.rows, e, problem.m)))
        grads.append(scale * (reg * p.item_bias - np.bincount(problem.cols, e, problem.n)))
    return grads, e


def gradient(ratings: Ratings, U, V, reg: float = 0.0, user_bias=None, item_bias=None, mu: float = 0.0):
    """The exact gradient of ``loss``: (grad_U, grad_V) (book eq. 9.6, 9.7 with the penalty),
    plus (grad_user_bias, grad_item_bias) when biases are given. Sparse products, no loop."""
    problem = _Problem(check_ratings("ratings", ratings))
    grads, _ = _full_gradient(problem, _as_params(U, V, user_bias, item_bias, mu, ratings.shape), reg)
    return tuple(grads)


def _sampled_step(problem: _Problem, p: Params, idx: np.ndarray, scale: float, lr: float, reg: float) -> None:
    r"""One step on the entries ``idx``: g = scale * sum_idx grad l_ui, parameters -= lr g.

    With s = 2 lr scale, e_ui the residuals and n^S_u the number of entries of row u in ``idx``,
    the step of l_ui (module docstring) summed over the sample is

    .. math:: u_u \leftarrow \big(1 - s \lambda\, n^S_u / |\Omega_u|\big)\, u_u + s \sum_{i:(u,i)\in S} e_{ui} v_i

    (the mirror for v_i, and the same for the biases): the penalty part is one factor per row,
    computed from a ``np.bincount`` of the sample's rows, and the residual sums are scattered by
    one flat ``np.bincount`` per side; rows and columns without ratings take their exact penalty
    step 2 lr lambda x / |Omega| in the same factor. The same sum as adding every entry's
    gradient, in another order (1e-12 against the per-entry reference after many epochs,
    tests/test_gd.py), with fewer passes over |S| x k arrays.

    Sorting the sample first, to scatter contiguous runs with ``np.add.reduceat`` (or a compact
    ``np.bincount`` over the sample's distinct rows), was measured 1.3-1.4x slower for mini-batches
    of 1000 on ML-100K and no faster on the ML-1M shape, k = 20: most of such a batch hits distinct
    users and items, so there are few runs to merge, and the sort and the fancy-indexed writes
    cost more than they save.
    """
    (m, n), k = (problem.m, problem.n), p.U.shape[1]
    rows, cols = problem.rows[idx], problem.cols[idx]
    U_rows, V_cols = p.U[rows], p.V[cols]
    e = problem.values[idx] - np.einsum("ij,ij->i", U_rows, V_cols)
    if p.biased:
        e -= p.mu + p.user_bias[rows] + p.item_bias[cols]
    step = 2.0 * lr * scale
    e *= step
    keep_u = 1.0 - (step * reg) * np.bincount(rows, problem.inv_user_counts[rows], m)
    keep_v = 1.0 - (step * reg) * np.bincount(cols, problem.inv_item_counts[cols], n)
    if reg and (problem.unrated_users.size or problem.unrated_items.size):
        keep = 1.0 - 2.0 * lr * reg / problem.n_ratings  # the exact penalty step of unrated rows
        keep_u[problem.unrated_users] = keep
        keep_v[problem.unrated_items] = keep
    columns = np.arange(k)
    sum_u = np.bincount((rows[:, None] * k + columns).ravel(), (e[:, None] * V_cols).ravel(), m * k)
    sum_v = np.bincount((cols[:, None] * k + columns).ravel(), (e[:, None] * U_rows).ravel(), n * k)
    p.U *= keep_u[:, None]
    p.U += sum_u.reshape(m, k)
    p.V *= keep_v[:, None]
    p.V += sum_v.reshape(n, k)
    if p.biased:
        p.user_bias *= keep_u
        p.user_bias += np.bincount(rows, e, m)
        p.item_bias *= keep_v
        p.item_bias += np.bincount(cols, e, n)


def sampled_step(ratings: Ratings, U, V, entries, scale: float, lr: float, reg: float = 0.0, user_bias=None,
                 item_bias=None, mu: float = 0.0) -> Params:
    """One sampled step of ``GradientDescent`` on the ratings at positions ``entries`` (for example
    ``ratings.by_item.entries(columns)``): every parameter minus ``lr`` times ``scale`` times the
    summed gradients of the sampled l_ui (``_sampled_step``; scale = n / (|C| |Omega|) makes a column
    sample an unbiased estimate of ``gradient``). Returns new ``Params``; the inputs are not changed."""
    problem = _Problem(check_ratings("ratings", ratings))
    p = _as_params(U, V, user_bias, item_bias, mu, ratings.shape)
    p = Params(p.U.copy(), p.V.copy(), None if p.user_bias is None else p.user_bias.copy(),
               None if p.item_bias is None else p.item_bias.copy(), p.mu)
    idx = np.asarray(entries)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or (idx.size and (
            idx.min() < 0 or idx.max() >= len(ratings))):
        raise ValueError(f"entries must be a 1-D array of rating positions in [0, {len(ratings)}), "
                         f"got {idx.dtype} of shape {idx.shape}")
    _sampled_step(problem, p, idx, float(scale), float(lr), float(reg))
    return p


def _entries_of_groups(grouping, groups) -> np.ndarray:
    """The entries of the sampled rows (``grouping`` = ``ratings.by_user``) or columns (``by_item``)
    of one step: ``grouping.entries(groups)``, the one grouping of the package (a seam the tests spy on)."""
    return grouping.entries(groups)


class GradientDescent(FactorModel):
    r"""Matrix factorization R ~ U V^T (+ biases) by gradient descent on the mean loss of book
    eq. 9.5 with a ridge penalty (module docstring).

    Parameters
    ----------
    rank : int
        k, the number of latent factors.
    lr : float, optional
        Learning rate on the mean loss; the default depends on the sampling mode and the data
        (see ``default_lr``): full-batch steps on the mean loss need a large lr on large data.
    reg : float
        lambda, the ridge penalty, as in the slides' objective (same meaning as in ``ALS``).
    n_epochs : int
        Number of epochs (see the module docstring for what one epoch is per mode).
    sampling : {"full", "entries", "columns", "rows", "minibatch"}
    sample_size : int, optional
        |S| entries, |C| columns, |R| rows, or the mini-batch size. Defaults: 1000 entries,
        a tenth of the columns / rows, mini-batches of 1000.
    biased : bool
        Learn r_hat_ui = mu + b_u + c_i + u_u . v_i: mu is the mean training rating (the best
        constant, in closed form), b_u and c_i are learned with the factors and penalized by
        the same lambda (the Surprise-style baseline plus factors).
    init_scale : float
        Standard deviation of the normal initial factors (biases start at 0).
    seed : int
        Seeds the initial factors and the sampling: same seed, same numbers.
    verbose : bool
        Show a tqdm progress bar over the epochs.
    eval_every : int
        Evaluate the loss and RMSEs (``history_``) every ``eval_every`` epochs (1, the default:
        every epoch); 0 = only at the start (epoch 0) and after the last epoch. The start and the
        last epoch are always evaluated. Between evaluations every epoch checks only that the
        factors are still finite (O((m + n) k), no pass over the ratings): a blow-up is reported at
        the epoch it happens, and a finite loss growing 1000-fold at the next evaluation. The
        updates are the same whatever ``eval_every``: only what is recorded changes.

    Attributes
    ----------
    U_, V_ : ndarray (m x k), (n x k)
    mu_, user_bias_, item_bias_ : float, ndarray (m,), ndarray (n,)  (when ``biased``)
    history_ : DataFrame
        One row per evaluated epoch (epoch 0 = the initial point; every epoch unless
        ``eval_every`` says otherwise): epoch, loss, train_rmse, [test_rmse], entries_touched
        (cumulative), seconds (cumulative training time, evaluation excluded).
    ratings_ : Ratings
        The training data (for ``recommend``).

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or grows 1000-fold: the message names the learning
        rate and suggests a smaller one.
    """

    def __init__(self, rank: int = 10, lr: float | None = None, reg: float = 0.0, n_epochs: int = 100,
                 sampling: str = "full", sample_size: int | None = None, biased: bool = False,
                 init_scale: float = 0.1, seed: int = 0, verbose: bool = False, eval_every: int = 1):
        self.rank = rank
        self.lr = lr
        self.reg = reg
        self.n_epochs = n_epochs
        self.sampling = sampling
        self.sample_size = sample_size
        self.biased = biased
        self.init_scale = init_scale
        self.seed = seed
        self.verbose = verbose
        self.eval_every = eval_every

    # ------------------------------------------------------------------ set-up
    def _validated(self, problem: _Problem):
        rank = check_positive_int("rank", self.rank)
        reg = check_non_negative("reg", self.reg)
        n_epochs = check_positive_int("n_epochs", self.n_epochs)
        if isinstance(self.eval_every, (bool, np.bool_)) or not isinstance(self.eval_every, (int, np.integer)) \
                or self.eval_every < 0:
            raise ValueError(f"eval_every must be an integer >= 0 (0 = evaluate only the start and the end), "
                             f"got {self.eval_every!r}")
        check_positive("init_scale", self.init_scale)  # 0 starts at U = V = 0, a saddle: nothing is learned
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        limit = {"entries": problem.n_ratings, "columns": problem.n, "rows": problem.m,
                 "minibatch": problem.n_ratings, "full": None}[self.sampling]
        default_size = {"entries": min(1000, problem.n_ratings), "columns": max(1, problem.n // 10),
                        "rows": max(1, problem.m // 10), "minibatch": min(1000, problem.n_ratings), "full": None}
        size = default_size[self.sampling] if self.sample_size is None else self.sample_size
        if limit is not None:
            size = check_positive_int("sample_size", size)
            if size > limit:
                raise ValueError(f"sample_size={size} is larger than what sampling={self.sampling!r} can draw "
                                 f"from ({limit})")
        if self.lr is not None:
            lr = check_positive("lr", self.lr)
        else:
            lr = default_lr(self.sampling, problem.n_ratings, problem.user_counts, problem.item_counts, size)
        return rank, reg, n_epochs, size, lr

    def _initial_params(self, problem: _Problem, rank: int, rng, init) -> Params:
        m, n = problem.m, problem.n
        if init is None:
            p = Params(rng.normal(0.0, self.init_scale, (m, rank)), rng.normal(0.0, self.init_scale, (n, rank)))
            if self.biased:
                p.user_bias, p.item_bias = np.zeros(m), np.zeros(n)
        else:
            start = warm_start(init, m, n, rank, self.biased)
            p = Params(start["U"], start["V"])
            if self.biased:
                p.user_bias, p.item_bias = start["user_bias"], start["item_bias"]
        if self.biased:
            fresh = init is None or start["mu"] is None
            p.mu = mean_rating(problem.values, "GradientDescent") if fresh else start["mu"]
        return p

    # ------------------------------------------------------------------ one epoch per mode
    def _epoch(self, problem: _Problem, p: Params, rng, lr: float, reg: float, size: int) -> int:
        """Run one epoch; return the number of entries it touched."""
        mode = self.sampling
        if mode == "full":
            grads, _ = _full_gradient(problem, p, reg)
            for param, grad in zip((p.U, p.V, p.user_bias, p.item_bias), grads):
                param -= lr * grad
            return problem.n_ratings
        touched = 0
        if mode == "minibatch":
            order = rng.permutation(problem.n_ratings)
            for start in range(0, problem.n_ratings, size):
                batch = order[start:start + size]
                _sampled_step(problem, p, batch, 1.0 / len(batch), lr, reg)
            return problem.n_ratings
        if mode == "entries":
            for _ in range(math.ceil(problem.n_ratings / size)):
                _sampled_step(problem, p, rng.choice(problem.n_ratings, size, replace=False), 1.0 / size, lr, reg)
                touched += size
            return touched
        if mode == "columns":
            scale = problem.n / (size * problem.n_ratings)
            for _ in range(math.ceil(problem.n / size)):
                idx = _entries_of_groups(problem.ratings.by_item, rng.choice(problem.n, size, replace=False))
                _sampled_step(problem, p, idx, scale, lr, reg)
                touched += len(idx)
            return touched
        scale = problem.m / (size * problem.n_ratings)  # rows
        for _ in range(math.ceil(problem.m / size)):
            idx = _entries_of_groups(problem.ratings.by_user, rng.choice(problem.m, size, replace=False))
            _sampled_step(problem, p, idx, scale, lr, reg)
            touched += len(idx)
        return touched

    # ------------------------------------------------------------------ fit
    def fit(self, ratings: Ratings, eval_set: Ratings | None = None, init=None) -> "GradientDescent":
        """Learn U, V (and biases) from ``ratings``; ``eval_set`` is scored every epoch.

        ``init``: optional warm start, a fitted model, ``(U, V)`` or a dict with ``U``, ``V`` and
        optionally ``user_bias``, ``item_bias``, ``mu`` (e.g. from a truncated SVD, lesson 08);
        see ``base.warm_start``. A given ``mu`` is kept; otherwise mu is the mean training rating.
        """
        problem = _Problem(check_ratings("ratings", ratings))
        evaluation = None if eval_set is None else _Problem(check_ratings("eval_set", eval_set, ratings.shape))
        rank, reg, n_epochs, size, lr = self._validated(problem)
        rng = np.random.default_rng(self.seed)
        p = self._initial_params(problem, rank, rng, init)

        records, touched, seconds = [], 0, 0.0
        epochs = range(n_epochs + 1)
        if self.verbose:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc=f"GD ({self.sampling})", unit="epoch")
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in epochs:
                if epoch > 0:
                    start = time.perf_counter()
                    touched += self._epoch(problem, p, rng, lr, reg, size)
                    seconds += time.perf_counter() - start
                due = epoch == 0 or epoch == n_epochs or (self.eval_every and epoch % self.eval_every == 0)
                if due or not _finite(p):  # a non-finite factor is evaluated at once, and raises below
                    records.append(self._evaluate(problem, p, reg, epoch, touched, seconds, evaluation))
                    self._stop_if_diverged(records, lr, problem, init is None)
        self.U_, self.V_ = p.U, p.V
        if self.biased:
            self.mu_, self.user_bias_, self.item_bias_ = p.mu, p.user_bias, p.item_bias
        remember_training(self, ratings)
        self.lr_ = lr
        self.history_ = pd.DataFrame(records)
        return self

    def _evaluate(self, problem, p, reg, epoch, touched, seconds, evaluation) -> dict:
        e = problem.residuals(p)
        squared = float(e @ e)
        record = {"epoch": epoch, "loss": (squared + reg * _penalty(p)) / problem.n_ratings,
                  "train_rmse": math.sqrt(squared / problem.n_ratings)}
        if evaluation is not None:
            e_test = evaluation.residuals(p)
            record["test_rmse"] = math.sqrt(float(e_test @ e_test) / evaluation.n_ratings)
        record["entries_touched"] = touched
        record["seconds"] = seconds
        return record

    def _stop_if_diverged(self, records: list, lr: float, problem: _Problem | None = None, fresh: bool = True) -> None:
        stop_if_diverged(records, lr, "GradientDescent", f" (sampling={self.sampling!r})",
                         None if problem is None else problem.values, self.init_scale if fresh else None)
