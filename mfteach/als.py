r"""Alternating least squares for explicit ratings (lecture slides, "Alternating Least Squares").

With V fixed, the objective of the slides is a separate ridge regression for every user:

.. math::

    u_u = \arg\min_u \sum_{i\in\Omega_u} (r_{ui} - u^\top v_i)^2 + \lambda\|u\|^2
        = (V_{\Omega_u}^\top V_{\Omega_u} + \lambda I)^{-1} V_{\Omega_u}^\top r_{\Omega_u},

where V_{Omega_u} stacks the rows v_i of the items u rated (the slides write the same with
V^T). Each block is convex (its Hessian 2 (V^T V + lambda I) is positive definite for
lambda > 0), so every half-step can only lower the loss; ALS alternates the item half-step
(the mirror image, with U fixed) and the user half-step.

Implementation. The right-hand sides V_{Omega_u}^T r_{Omega_u} of all users are one sparse
product R V; no Python loop ever runs over ratings. The Gram matrices V_{Omega_u}^T V_{Omega_u}
are formed in one of three ways (``solve_ridge_blocks``), whichever was measured fastest for
the shape (benchmarks/bench_als.py): per user with one BLAS ``syrk`` and a Cholesky ``posv``
(large groups); users of similar activity padded into batches and multiplied by one batched
matmul (many small groups); or, for small k, a sparse indicator matrix times the row-wise outer
products v_i v_i^T of all items at once.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from .base import (HUGE, FactorModel, check_fitted, check_non_negative, check_positive, check_positive_int, check_ratings,
                   mean_rating, non_finite_cause, remember_training, warm_start)
from .batches import PaddedGroups
from .ratings import Ratings

__all__ = ["ALS", "Blocks", "solve_ridge_blocks", "update_users", "update_items", "auto_method", "METHODS"]

METHODS = ("auto", "loop", "bucket", "outer")
OUTER_MAX_RANK = 12  # up to this many features, Grams via sparse indicator @ outer products
LOOP_MIN_WORK = 100_000  # mean group size x k^2 from which the per-group BLAS loop wins
BUCKET_SIZE = 16  # groups per padded batch in the "bucket" method


def auto_method(counts: np.ndarray, k: int) -> str:
    """The fastest way measured on this project's benchmark machine (benchmarks/bench_als.py):
    "outer" for k <= 12; "loop" when groups are large enough that the BLAS work per group
    (mean count x k^2) hides the Python overhead of one call per group; "bucket" otherwise."""
    if k <= OUTER_MAX_RANK:
        return "outer"
    return "loop" if counts.mean() * k * k >= LOOP_MIN_WORK else "bucket"


def _outer_grams(indptr, index, features) -> np.ndarray:
    """All Grams at once: a sparse 0/1 indicator (groups x feature rows) times the row-wise
    outer products f f^T flattened to k^2 columns. Cost |Omega| k^2, memory (rows x k^2)."""
    k = features.shape[1]
    indicator = sp.csr_matrix((np.ones(len(index)), index, indptr), shape=(len(indptr) - 1, features.shape[0]))
    outer = (features[:, :, None] * features[:, None, :]).reshape(features.shape[0], k * k)
    return np.asarray(indicator @ outer).reshape(-1, k, k)


def solve_ridge_blocks(indptr, index, targets, features, reg, method: str = "auto", group: str = "group",
                       layout: PaddedGroups | None = None) -> np.ndarray:
    r"""Solve one ridge regression per group (per user, or per item).

    Group g owns the entries indptr[g]:indptr[g+1] of ``index`` (feature rows) and ``targets``;
    with X_g = features[index of g] and y_g = targets of g it returns the rows

        w_g = (X_g^T X_g + reg_g I)^{-1} X_g^T y_g,

    ``reg`` a scalar or one value per group; a group with no observations gets w_g = 0. ``method``:
    "loop" (BLAS syrk + LAPACK posv per group), "bucket" (groups of similar size padded and
    multiplied in batches), "outer" (all Grams at once from outer products, for small k), or
    "auto" (``auto_method``); the last two end with one batched solve. With any reg = 0 the
    loop is used, which checks every Cholesky factor for rank deficiency.

    ``group`` names the groups in error messages ("user", "item"). ``layout``: the
    ``PaddedGroups`` of (indptr, index) for the "bucket" method, when the caller keeps one.

    Raises
    ------
    ValueError
        A group's system is singular (reg = 0, or reg numerically negligible next to the group's
        Gram matrix: a Cholesky pivot below 64 k eps times its largest diagonal entry, the same
        test for every method), or it overflowed (``NonFiniteError``): names the group.
    """
    indptr = np.asarray(indptr)
    n_groups, k = len(indptr) - 1, features.shape[1]
    if np.any(np.asarray(reg) < 0) or not np.all(np.isfinite(reg)):
        raise ValueError(f"reg must be finite and >= 0, got {reg!r}")
    counts = np.diff(indptr)
    # a group with no observations gets w = 0: its ridge solution for any reg > 0, and the
    # minimum-norm least-squares solution for reg = 0 (any positive reg gives that 0 here)
    reg = np.where(counts == 0, 1.0, np.broadcast_to(np.asarray(reg, dtype=float), (n_groups,)))
    singular = np.flatnonzero((reg == 0) & (counts < k))
    if singular.size:
        g = int(singular[0])
        raise ValueError(f"the least-squares block of {group} {g} is rank-deficient: {counts[g]} observations for "
                         f"{k} unknowns with reg=0. Use reg > 0 (ridge), or a smaller rank.")
    # right-hand sides X_g^T y_g of every group: one sparse product
    Y = sp.csr_matrix((targets, index, indptr), shape=(n_groups, features.shape[0]))
    with np.errstate(over="ignore", invalid="ignore"):
        rhs = np.asarray(Y @ features)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if (reg == 0).any():
        method = "loop"  # reg = 0 blocks may be singular: only the loop checks each Cholesky factor
    elif method == "auto":
        method = auto_method(counts, k)
    if method in ("outer", "bucket"):
        with np.errstate(over="ignore", invalid="ignore"):
            if method == "outer":
                gram = _outer_grams(indptr, index, features)
            else:
                layout = layout or PaddedGroups(indptr, index, features.shape[0], BUCKET_SIZE)
                gram = layout.grams(features)
        diagonal = np.einsum("gii->gi", gram)  # a view
        diagonal += reg[:, None]
        # |off-diagonal entries| <= the largest diagonal one (Cauchy-Schwarz): finite diagonals and
        # right-hand sides mean finite blocks
        if not (np.isfinite(diagonal).all() and np.isfinite(rhs).all()):
            _check_finite_blocks(gram.reshape(n_groups, -1), rhs, features, group)
        # blocks whose reg is numerically negligible may be singular: the loop's pivot check decides
        for g in np.flatnonzero(reg <= _TINY * k * diagonal.max(axis=1)):
            _check_pivots(gram[g], g, counts[g], reg[g], k, group)
        try:
            return np.linalg.solve(gram, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:  # not expected after the checks; name the first failing block anyway
            for g in range(n_groups):
                _check_pivots(gram[g], g, counts[g], reg[g], k, group)
            raise ValueError(f"a least-squares block of a {group} is singular (reg={float(reg.min()):g}); "
                             f"use a larger reg") from None
    solution = np.zeros((n_groups, k))
    eye = np.eye(k)
    tiny = _TINY * k  # relative size of a Cholesky pivot that means "rank-deficient"
    # the blocks whose reg may be numerically negligible next to their largest diagonal entry get
    # the pivot test below: that entry is at most count_g max_j ||x_j||^2 + reg_g (O(n k) to bound)
    with np.errstate(over="ignore", invalid="ignore"):
        largest = counts * np.einsum("ij,ij->i", features, features).max(initial=0.0) + reg
    suspect = ~(reg > tiny * largest)  # also True where the bound is not finite
    for g in np.flatnonzero(counts):
        X = features[index[indptr[g]:indptr[g + 1]]]
        # A = X^T X + reg_g I (upper triangle), then a Cholesky solve of A w = X^T y
        A = blas.dsyrk(1.0, X, beta=1.0, c=reg[g] * eye, trans=1)
        factor, solution[g], info = lapack.dposv(A, rhs[g])
        if info > 0 or (suspect[g] and not (np.diag(factor).min() ** 2 > tiny * np.diag(A).max())):
            if not (np.isfinite(A).all() and np.isfinite(rhs[g]).all()):
                _check_finite_blocks(A.reshape(1, -1), rhs[g:g + 1], features, group, offset=int(g))
            _raise_singular(g, counts[g], reg[g], k, group, float(np.diag(A).max()))
    if not np.isfinite(solution).all():  # an overflow that the Cholesky factor did not flag
        g = int(np.flatnonzero(~np.isfinite(solution).all(axis=1))[0])
        raise NonFiniteError(f"the least-squares block of {group} {g} overflowed: its solution is not finite "
                             f"(the features reach {float(np.max(np.abs(features))):.3g})")
    return solution


_TINY = 64 * np.finfo(float).eps  # x k: a Cholesky pivot^2 below this times the largest diagonal = singular


def _raise_singular(g: int, count: int, reg: float, k: int, group: str, diagonal: float):
    what = (f"its {count} observations span fewer than {k} directions" if count < k
            else f"its {count} observations' features are (nearly) collinear")
    if reg == 0:
        advice = "use reg > 0"
    else:
        advice = (f"reg={reg:g} is negligible next to its Gram matrix (largest diagonal entry {diagonal:.3g}); use a "
                  f"larger reg (e.g. 0.1) or a smaller rank")
        if diagonal > HUGE:
            advice += ", and rescale the ratings if they are huge"
    raise ValueError(f"the least-squares block of {group} {g} is singular (rank-deficient: {what}) with reg={reg:g}; "
                     f"{advice}")


def _check_pivots(A: np.ndarray, g: int, count: int, reg: float, k: int, group: str) -> None:
    """The loop method's test on one block A = X^T X + reg I: a Cholesky pivot that is not positive
    or tiny next to the largest diagonal entry means the block is (numerically) singular."""
    factor, info = lapack.dpotrf(A, lower=0)
    if info > 0 or np.diag(factor).min() ** 2 <= _TINY * k * np.diag(A).max():
        _raise_singular(g, count, reg, k, group, float(np.diag(A).max()))


def _check_finite_blocks(grams: np.ndarray, rhs: np.ndarray, features: np.ndarray, group: str, offset: int = 0):
    """A ValueError (``NonFiniteError``) naming the first block whose Gram matrix or right-hand side overflowed."""
    bad = ~(np.isfinite(grams).all(axis=1) & np.isfinite(rhs).all(axis=1))
    if bad.any():
        g = offset + int(np.flatnonzero(bad)[0])
        with np.errstate(invalid="ignore"):
            largest = float(np.nanmax(np.abs(features))) if features.size else 0.0
        raise NonFiniteError(f"the least-squares block of {group} {g} overflowed: its Gram matrix or right-hand side "
                             f"is not finite (the features reach {largest:.3g})")


class NonFiniteError(ValueError):
    """A half-step met numbers too large for float64; ``ALS.fit`` adds the likely cause."""


class Blocks:
    """The ratings prepared for repeated half-steps: Omega grouped by user and by item (from
    ``ratings.by_user`` / ``by_item``) and, built on first use, the padded batches of the
    "bucket" method. ``ALS.fit`` makes one per fit; code that calls ``update_users`` /
    ``update_items`` many times on the same ratings (the lessons' explorers) passes its own
    ``blocks=Blocks(ratings)`` so the batches are built once."""

    def __init__(self, ratings: Ratings):
        self.ratings = ratings
        self.m, self.n = ratings.shape
        self.rows, self.cols, self.values = ratings.rows, ratings.cols, ratings.values
        self.n_ratings = len(ratings)
        by_user, by_item = ratings.by_user, ratings.by_item  # the one grouping (Ratings computes it once)
        self.user_counts, self.item_counts = by_user.counts, by_item.counts
        self.user_ptr, self.item_ptr = by_user.indptr, by_item.indptr
        self.by_item, self.item_rows = by_item.order, by_item.index
        self._layouts = {}

    def check(self, ratings: Ratings) -> "Blocks":
        """``self`` when it was built from ``ratings`` (the same object or equal ratings), else a ValueError."""
        if self.ratings is not ratings and self.ratings != ratings:
            raise ValueError(f"blocks were built from other ratings ({self.ratings!r}) than the ones given "
                             f"({ratings!r}): build them with Blocks(ratings)")
        return self

    def layout(self, side: str) -> PaddedGroups:
        """The padded batches of users ("user") or items ("item"), built on first use."""
        if side not in self._layouts:
            self._layouts[side] = (PaddedGroups(self.user_ptr, self.cols, self.n, BUCKET_SIZE) if side == "user"
                                   else PaddedGroups(self.item_ptr, self.item_rows, self.m, BUCKET_SIZE))
        return self._layouts[side]


def _reg_per_group(reg: float, counts: np.ndarray, weighted: bool) -> np.ndarray | float:
    return reg * counts if weighted else reg


def _factors(name: str, value, size: int, other: str) -> np.ndarray:
    """``value`` as a float (size x k) matrix, else a ValueError naming ``name``."""
    value = np.asarray(value, dtype=float)
    if value.ndim != 2 or value.shape[0] != size:
        raise ValueError(f"{name} must be a matrix with one row per {other} ({size} rows), got shape {value.shape}")
    return value


def update_users(ratings: Ratings, V, reg: float, weighted_reg: bool = False, method: str = "auto",
                 blocks: Blocks | None = None) -> np.ndarray:
    """The user half-step: every u_u = (V_Omega_u^T V_Omega_u + lambda I)^-1 V_Omega_u^T r_Omega_u
    (lambda n_u with ``weighted_reg``, ALS-WR). Returns the new U (m x k).

    Omega is grouped by ``ratings.by_user`` (computed once per Ratings), so repeated half-steps
    on the same ratings do not regroup them. ``blocks`` (a ``Blocks`` of these ratings) reuses its
    padded batches (the "bucket" method); ``ALS.fit`` passes its own."""
    ratings = check_ratings("ratings", ratings)
    V = _factors("V", V, ratings.shape[1], "item")
    groups = ratings.by_user
    return solve_ridge_blocks(groups.indptr, groups.index, groups.values, V,
                              _reg_per_group(reg, groups.counts, weighted_reg), method, "user",
                              None if blocks is None else blocks.check(ratings).layout("user"))


def update_items(ratings: Ratings, U, reg: float, weighted_reg: bool = False, method: str = "auto",
                 blocks: Blocks | None = None) -> np.ndarray:
    """The item half-step, the mirror image of ``update_users`` (grouped by ``ratings.by_item``).
    Returns the new V (n x k)."""
    ratings = check_ratings("ratings", ratings)
    U = _factors("U", U, ratings.shape[0], "user")
    groups = ratings.by_item
    return solve_ridge_blocks(groups.indptr, groups.index, groups.values, U,
                              _reg_per_group(reg, groups.counts, weighted_reg), method, "item",
                              None if blocks is None else blocks.check(ratings).layout("item"))


class ALS(FactorModel):
    r"""Explicit matrix factorization by alternating least squares (lecture slides).

    Minimizes the slides' objective

    .. math:: \sum_{(u,i)\in\Omega}(r_{ui} - \hat r_{ui})^2 + \lambda\big(\textstyle\sum_u\|u_u\|^2 + \sum_i\|v_i\|^2\big)

    with \hat r_{ui} = u_u^\top v_i, alternating exact half-steps: V given U, then U given V
    (each iteration ends with the user half-step, so U_ is the exact ridge solution for V_).

    Parameters
    ----------
    rank : int
        k, the number of latent factors.
    reg : float
        lambda >= 0. With ``weighted_reg=True`` user u is penalized by lambda |Omega_u| and item
        i by lambda |Omega^i| (ALS-WR, Zhou et al. 2008).
    n_iters : int
        Maximum number of (item, user) half-step pairs.
    tol : float
        Stop early when an iteration lowers the objective by at most ``tol`` times its value
        (0 = always run ``n_iters``). Used to retrain "to convergence" (lessons 13 and 15).
    biased : bool
        Learn \hat r_{ui} = mu + b_u + c_i + u_u^T v_i. mu is the mean training rating; b_u and
        c_i are learned jointly with the factors by augmenting them: the user half-step solves
        for (u_u, b_u) with item features (v_i, 1) and targets r_ui - mu - c_i, the item
        half-step for (v_i, c_i) with user features (u_u, 1) and targets r_ui - mu - b_u. The
        biases are penalized by the same lambda.
    weighted_reg : bool
        ALS-WR regularization (see ``reg``).
    init_scale : float
        Standard deviation of the normal initial U (V is computed from it in the first half-step).
    seed : int
    method : {"auto", "loop", "bucket", "outer"}
        How the per-user Gram matrices are formed and solved (``solve_ridge_blocks``).
    verbose : bool
        A tqdm progress bar over the iterations.

    Attributes
    ----------
    U_, V_, mu_, user_bias_, item_bias_, ratings_
    history_ : DataFrame
        One row per iteration (0 = the initial point): epoch, loss (the objective divided by
        |Omega|, as in ``GradientDescent``), train_rmse, [test_rmse], seconds (cumulative
        training time, evaluation excluded).
    """

    def __init__(self, rank: int = 10, reg: float = 0.1, n_iters: int = 15, biased: bool = False,
                 weighted_reg: bool = False, init_scale: float = 0.1, seed: int = 0, method: str = "auto",
                 verbose: bool = False, tol: float = 0.0):
        self.rank = rank
        self.reg = reg
        self.n_iters = n_iters
        self.tol = tol
        self.biased = biased
        self.weighted_reg = weighted_reg
        self.init_scale = init_scale
        self.seed = seed
        self.method = method
        self.verbose = verbose

    def fit(self, ratings: Ratings, eval_set: Ratings | None = None, init=None) -> "ALS":
        """Learn U, V (and biases) from ``ratings``; ``eval_set`` is scored every iteration.

        ``init``: optional warm start (a fitted model, ``(U, V)`` or a dict, see
        ``base.warm_start``), e.g. the fitted model itself when retraining after removing or
        changing a rating. Each iteration begins with the item half-step, which depends on U
        (and the user biases) only; a ``mu`` in ``init`` is kept, so a retrain after a small
        change of the data solves the same objective with the same constant offset.
        """
        data = Blocks(check_ratings("ratings", ratings))
        evaluation = None if eval_set is None else Blocks(check_ratings("eval_set", eval_set, ratings.shape))
        rank = check_positive_int("rank", self.rank)
        reg = check_non_negative("reg", self.reg)
        n_iters = check_positive_int("n_iters", self.n_iters)
        tol = check_non_negative("tol", self.tol)
        init_scale = check_positive("init_scale", self.init_scale)  # 0 would leave U = V = 0: nothing to learn
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if init is None:
            rng = np.random.default_rng(self.seed)
            self.U_ = rng.normal(0.0, self.init_scale, (data.m, rank))
            self.V_ = np.zeros((data.n, rank))
            if self.biased:
                self.mu_ = mean_rating(data.values, "ALS")
                self.user_bias_, self.item_bias_ = np.zeros(data.m), np.zeros(data.n)
        else:
            start = warm_start(init, data.m, data.n, rank, self.biased)
            self.U_, self.V_ = start["U"], start["V"]
            if self.biased:
                self.mu_ = mean_rating(data.values, "ALS") if start["mu"] is None else start["mu"]
                self.user_bias_, self.item_bias_ = start["user_bias"], start["item_bias"]
        remember_training(self, ratings)

        records, seconds = [self._record(data, reg, 0, 0.0, evaluation)], 0.0
        iterations = range(1, n_iters + 1)
        if self.verbose:
            from tqdm.auto import tqdm

            iterations = tqdm(iterations, desc="ALS", unit="iter")
        for iteration in iterations:
            start_time = time.perf_counter()
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, with its cause
                    self._item_step(data, reg)
                    self._user_step(data, reg)
            except NonFiniteError as error:
                raise ValueError(f"ALS, iteration {iteration}: {error}. Likely cause: "
                                 f"{self._non_finite_cause(data, reg, init is None, init_scale)}") from None
            seconds += time.perf_counter() - start_time
            records.append(self._record(data, reg, iteration, seconds, evaluation))
            if not math.isfinite(records[-1]["loss"]):  # the factors or the loss overflowed
                raise ValueError(f"ALS produced non-finite factors or loss at iteration {iteration}: "
                                 f"{self._non_finite_cause(data, reg, init is None, init_scale)}")
            if tol > 0 and records[-2]["loss"] - records[-1]["loss"] <= tol * records[-2]["loss"]:
                break
        self.history_ = pd.DataFrame(records)
        return self

    @staticmethod
    def _non_finite_cause(data: "Blocks", reg: float, fresh: bool, init_scale: float) -> str:
        return non_finite_cause(data.values, init_scale=init_scale if fresh else None, reg=reg)

    # ------------------------------------------------------------------ half-steps
    def _user_step(self, data: Blocks, reg: float) -> None:
        reg_u = _reg_per_group(reg, data.user_counts, self.weighted_reg)
        if not self.biased:
            self.U_ = solve_ridge_blocks(data.user_ptr, data.cols, data.values, self.V_, reg_u, self.method, "user",
                                         data.layout("user"))
            return
        # (u_u, b_u) against item features (v_i, 1) and targets r_ui - mu - c_i
        features = np.hstack([self.V_, np.ones((data.n, 1))])
        targets = data.values - self.mu_ - self.item_bias_[data.cols]
        solution = solve_ridge_blocks(data.user_ptr, data.cols, targets, features, reg_u, self.method, "user",
                                      data.layout("user"))
        self.U_, self.user_bias_ = solution[:, :-1], solution[:, -1]

    def _item_step(self, data: Blocks, reg: float) -> None:
        reg_i = _reg_per_group(reg, data.item_counts, self.weighted_reg)
        rows, values = data.rows[data.by_item], data.values[data.by_item]
        if not self.biased:
            self.V_ = solve_ridge_blocks(data.item_ptr, rows, values, self.U_, reg_i, self.method, "item",
                                         data.layout("item"))
            return
        features = np.hstack([self.U_, np.ones((data.m, 1))])
        targets = values - self.mu_ - self.user_bias_[rows]
        solution = solve_ridge_blocks(data.item_ptr, rows, targets, features, reg_i, self.method, "item",
                                      data.layout("item"))
        self.V_, self.item_bias_ = solution[:, :-1], solution[:, -1]

    # ------------------------------------------------------------------ monitoring
    def objective(self, ratings: Ratings | None = None) -> float:
        """The slides' objective (summed squared errors + penalty) at the current factors,
        with the ALS-WR weights when ``weighted_reg``; on the training data by default."""
        check_fitted(self)
        data = Blocks(ratings if ratings is not None else self.ratings_)
        return self._objective(data, check_non_negative("reg", self.reg))

    def _residuals(self, data: Blocks) -> np.ndarray:
        """r_ui - r_hat_ui on the training entries (no input checks: the indices are ours)."""
        predicted = np.einsum("ij,ij->i", self.U_[data.rows], self.V_[data.cols])
        if self.biased:
            predicted += self.mu_ + self.user_bias_[data.rows] + self.item_bias_[data.cols]
        return data.values - predicted

    def _objective(self, data: Blocks, reg: float, e: np.ndarray | None = None) -> float:
        e = self._residuals(data) if e is None else e
        user_sq, item_sq = np.sum(self.U_**2, axis=1), np.sum(self.V_**2, axis=1)
        if self.biased:
            user_sq, item_sq = user_sq + self.user_bias_**2, item_sq + self.item_bias_**2
        if self.weighted_reg:
            user_sq, item_sq = user_sq * data.user_counts, item_sq * data.item_counts
        return float(e @ e + reg * (user_sq.sum() + item_sq.sum()))

    def _record(self, data: Blocks, reg: float, iteration: int, seconds: float, evaluation) -> dict:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow shows as a non-finite loss; fit raises
            return self._record_unchecked(data, reg, iteration, seconds, evaluation)

    def _record_unchecked(self, data: Blocks, reg: float, iteration: int, seconds: float, evaluation) -> dict:
        e = self._residuals(data)
        record = {"epoch": iteration, "loss": self._objective(data, reg, e) / data.n_ratings,
                  "train_rmse": math.sqrt(float(e @ e) / data.n_ratings)}
        if evaluation is not None:
            record["test_rmse"] = math.sqrt(float(np.mean(self._residuals(evaluation) ** 2)))
        record["seconds"] = seconds
        return record
