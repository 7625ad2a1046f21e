r"""Weighted ALS for implicit feedback (lecture slides, "Matrix Factorization for Implicit
Feedback"; Hu, Koren and Volinsky, ICDM 2008; conjugate gradients: Takacs, Pilaszy and Tikk,
RecSys 2011).

Every (user, item) pair counts. p_ui = 1 if r_ui > 0 else 0 is the preference and
c_ui = 1 + alpha r_ui (or 1 + alpha log(1 + r_ui / eps)) the confidence, so c_ui = 1 and
p_ui = 0 for the m n - |Omega| pairs with no interaction:

.. math::

    L = \sum_{u, i} c_{ui} (p_{ui} - u_u^\top v_i)^2 + \lambda\big(\textstyle\sum_u \|u_u\|^2 + \sum_i \|v_i\|^2\big).

With V fixed the user block is a weighted ridge regression with the closed form (slides)

.. math::

    u_u = (V^\top C^u V + \lambda I)^{-1} V^\top C^u p_u,
    \qquad V^\top C^u V = V^\top V + V^\top (C^u - I) V,

and the speed-up of Hu et al.: V^T V is the same for every user (computed once per half-step)
and C^u - I is zero outside the items u interacted with, so each user costs O(|Omega_u| k^2 + k^3)
instead of O(n k^2); likewise V^T C^u p_u = sum over Omega_u of c_ui p_ui v_i. The loss is
evaluated the same way, never forming an m x n matrix:
sum_{u,i} x_ui^2 = trace(U (V^T V) U^T) plus corrections on Omega.

Solvers. ``"exact"`` solves each k x k system. ``"cg"`` takes ``cg_steps`` conjugate-gradient
steps per user, warm-started from the previous factors, using only products with
V^T C^u V (O(|Omega_u| k) each, never forming it). Users (items) of similar activity are
processed together in zero-padded batches, so no Python loop runs over users or ratings.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import (HUGE, FactorModel, check_fitted, check_index, check_non_negative, check_positive, check_positive_int,
                   check_ratings, non_finite_cause, remember_training)
from .batches import PaddedGroups
from .ratings import Ratings

__all__ = ["ImplicitALS", "confidence", "implicit_loss", "BUCKET_SIZE"]

BUCKET_SIZE = 64  # users (items) per padded batch
CHUNK = 32_768  # entries per chunk when evaluating the loss on Omega


def confidence(values: np.ndarray, alpha: float, kind: str = "linear", eps: float = 1.0) -> np.ndarray:
    """c = 1 + alpha r (``"linear"``) or c = 1 + alpha log(1 + r / eps) (``"log"``), Hu et al. eq. (6)-(7)."""
    values = np.asarray(values, dtype=float)
    if kind == "linear":
        return 1.0 + alpha * values
    if kind == "log":
        return 1.0 + alpha * np.log1p(values / eps)
    raise ValueError(f"confidence must be 'linear' or 'log', got {kind!r}")


class _Assembly:
    """What a half-step needs that depends on Omega and the confidences only, built once per ``fit``
    (Hu et al.'s half-step then only gathers the current factors): per padded batch the weights
    c - 1 of its entries (0 on the padding), the sparse matrix of the targets c p (its product
    with the factors gives every right-hand side), and one reusable buffer for the gathered
    feature rows of the largest batch (no fresh |Omega| x k allocation per half-step)."""

    def __init__(self, groups: PaddedGroups, weights: np.ndarray, targets: np.ndarray, n_features: int):
        self.groups = groups
        weights_padded = np.append(weights, 0.0)
        self.weights = [weights_padded[entries] for _, _, entries in groups.batches]
        self.targets = sp.csr_matrix((targets, groups.index, groups.indptr), shape=(groups.n_groups, n_features))
        self.largest = max((rows.size for _, rows, _ in groups.batches), default=0)
        self._buffer = np.empty(0)

    def gather(self, padded: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """padded[rows] (batch x longest x k) into the reused buffer; ``np.take`` with
        ``mode="clip"`` writes straight into it (every index is valid, so nothing is clipped)."""
        k = padded.shape[1]
        if self._buffer.size < self.largest * k:
            self._buffer = np.empty(self.largest * k)
        out = self._buffer[:rows.size * k].reshape(*rows.shape, k)
        return np.take(padded, rows, axis=0, out=out, mode="clip")


def _half_step(groups: PaddedGroups, features: np.ndarray, weights: np.ndarray, targets: np.ndarray, reg: float,
               solver: str, previous: np.ndarray, cg_steps: int, assembly: _Assembly | None = None) -> np.ndarray:
    """Solve (F^T F + F^T diag(weights) F restricted to each group + reg I) x = F^T (targets) for
    every group. ``weights`` = c - 1 and ``targets`` = c p on the grouped entries; ``assembly``:
    the ``_Assembly`` of these groups, weights and targets when the caller keeps one (``fit``
    does), else it is built here."""
    k = features.shape[1]
    if assembly is None:
        assembly = _Assembly(groups, weights, targets, features.shape[0])
    gram = features.T @ features + reg * np.eye(k)  # V^T V + lambda I, shared by every user
    padded = groups.padded_features(features)
    # right-hand sides V^T C^u p_u of every group: one sparse product
    rhs = assembly.targets @ features
    solution = np.empty((groups.n_groups, k))
    for (batch, rows, _), w in zip(groups.batches, assembly.weights):
        X = assembly.gather(padded, rows)  # (batch, longest, k): v_i of each group's items, zero padding
        b = rhs[batch]
        Xt = X.transpose(0, 2, 1)
        if solver == "exact":
            # V^T C^u V + lambda I = (V^T V + lambda I) + sum_i (c_ui - 1) v_i v_i^T
            A = gram + np.matmul(Xt, X * w[..., None])
            try:
                solution[batch] = np.linalg.solve(A, b[..., None])[..., 0]
            except np.linalg.LinAlgError as error:
                if not (np.isfinite(A).all() and np.isfinite(b).all()):
                    raise _Overflow("a weighted least-squares block overflowed") from None
                raise ValueError(f"a weighted least-squares block is singular ({error}) with reg={reg}; "
                                 "use reg > 0") from error
            continue
        x = previous[batch].copy()
        w_column = w[..., None]
        projected = np.empty((*rows.shape, 1))   # X z, then (c - 1) X z: one buffer per batch
        product = np.empty((len(batch), k, 1))   # X^T (c - 1) X z

        def apply(z):  # (V^T C^u V + lambda I) z without forming it: O(|Omega_u| k), batched BLAS
            np.matmul(X, z[..., None], out=projected)
            np.multiply(w_column, projected, out=projected)
            np.matmul(Xt, projected, out=product)
            return z @ gram + product[..., 0]

        r = b - apply(x)
        p = r.copy()
        rr = np.einsum("bk,bk->b", r, r)
        for _ in range(cg_steps):
            Ap = apply(p)
            pAp = np.einsum("bk,bk->b", p, Ap)
            step = np.divide(rr, pAp, out=np.zeros_like(rr), where=pAp > 0)
            x += step[:, None] * p
            r -= step[:, None] * Ap
            rr_next = np.einsum("bk,bk->b", r, r)
            p = r + np.divide(rr_next, rr, out=np.zeros_like(rr), where=rr > 0)[:, None] * p
            rr = rr_next
        solution[batch] = x
    return solution


class _Overflow(ValueError):
    """A half-step met numbers too large for float64; ``ImplicitALS.fit`` names the likely cause."""


def implicit_loss(ratings: Ratings, U, V, reg: float, alpha: float, kind: str = "linear", eps: float = 1.0) -> float:
    """The weighted loss over all m x n pairs (module docstring), without forming m x n arrays:
    sum_{u,i} x_ui^2 = sum((U V^T V) * U), plus sum over Omega of c (p - x)^2 - x^2, plus the penalty."""
    U, V = np.asarray(U, dtype=float), np.asarray(V, dtype=float)
    c = confidence(ratings.values, alpha, kind, eps)
    p = (ratings.values > 0).astype(float)
    everywhere = float(np.sum((U @ (V.T @ V)) * U))
    on_omega = 0.0
    for start in range(0, len(ratings), CHUNK):  # x_ui on Omega in chunks: no |Omega| x k temporaries
        part = slice(start, start + CHUNK)
        x = np.einsum("ij,ij->i", U[ratings.rows[part]], V[ratings.cols[part]])
        on_omega += float(np.sum(c[part] * (p[part] - x) ** 2 - x**2))
    return everywhere + on_omega + reg * float(np.sum(U**2) + np.sum(V**2))


class ImplicitALS(FactorModel):
    r"""Implicit-feedback matrix factorization by weighted alternating least squares.

    Parameters
    ----------
    rank : int
        k.
    reg : float
        lambda >= 0.
    alpha : float
        Confidence scale: c_ui = 1 + alpha r_ui (Hu et al. found alpha = 40 good).
    n_iters : int
        Item half-step then user half-step, ``n_iters`` times.
    solver : {"exact", "cg"}
        Exact k x k solves, or ``cg_steps`` conjugate-gradient steps warm-started from the
        previous factors (Takacs et al.).
    cg_steps : int
    confidence : {"linear", "log"}
        c = 1 + alpha r, or c = 1 + alpha log(1 + r / eps).
    eps : float
    init_scale : float
        The initial U and V are uniform in [0, init_scale), as in the ``implicit`` library:
        starting positive, every user and item begins aligned with the popularity direction,
        which ranked slightly better than a zero-mean start in our ML-100K check.
    seed : int
    verbose : bool
    eval_every : int
        Evaluate the loss for ``history_`` every ``eval_every`` iterations (1, the default: every
        iteration); 0 = only at the start and after the last iteration. The start and the last
        iteration are always evaluated. An evaluation costs about a third of a CG iteration
        (O(|Omega| k + (m + n) k^2)); between evaluations each iteration only checks that the
        factors are finite (O((m + n) k)). The factors are the same whatever ``eval_every``.

    Attributes
    ----------
    U_, V_, ratings_
    history_ : DataFrame (epoch, loss = the weighted loss / (m n), seconds), one row per evaluated
        iteration; seconds = cumulative half-step time, evaluation excluded.

    ``predict`` gives the preference scores u_u . v_i (not ratings); ``recommend`` ranks them.
    """

    def __init__(self, rank: int = 10, reg: float = 0.1, alpha: float = 40.0, n_iters: int = 15,
                 solver: str = "exact", cg_steps: int = 3, confidence: str = "linear", eps: float = 1.0,
                 init_scale: float = 0.01, seed: int = 0, verbose: bool = False, eval_every: int = 1):
        self.rank = rank
        self.reg = reg
        self.alpha = alpha
        self.n_iters = n_iters
        self.solver = solver
        self.cg_steps = cg_steps
        self.confidence = confidence
        self.eps = eps
        self.init_scale = init_scale
        self.seed = seed
        self.verbose = verbose
        self.eval_every = eval_every

    def _check(self):
        rank = check_positive_int("rank", self.rank)
        reg = check_non_negative("reg", self.reg)
        alpha = check_non_negative("alpha", self.alpha)
        n_iters = check_positive_int("n_iters", self.n_iters)
        cg_steps = check_positive_int("cg_steps", self.cg_steps)
        check_positive("eps", self.eps)
        if isinstance(self.eval_every, (bool, np.bool_)) or not isinstance(self.eval_every, (int, np.integer)) \
                or self.eval_every < 0:
            raise ValueError(f"eval_every must be an integer >= 0 (0 = evaluate only the start and the end), "
                             f"got {self.eval_every!r}")
        check_positive("init_scale", self.init_scale)  # 0 starts at U = V = 0, where every half-step stays
        if self.solver not in ("exact", "cg"):
            raise ValueError(f"solver must be 'exact' or 'cg', got {self.solver!r}")
        if self.confidence not in ("linear", "log"):
            raise ValueError(f"confidence must be 'linear' or 'log', got {self.confidence!r}")
        return rank, reg, alpha, n_iters, cg_steps

    def fit(self, ratings: Ratings) -> "ImplicitALS":
        """Learn U, V from the interactions in ``ratings`` (values >= 0: counts, ratings, ...)."""
        ratings = check_ratings("ratings", ratings)
        if (ratings.values < 0).any():
            k = int(np.flatnonzero(ratings.values < 0)[0])
            raise ValueError(f"implicit feedback must be >= 0; entry {k} is {ratings.values[k]}")
        rank, reg, alpha, n_iters, cg_steps = self._check()
        m, n = ratings.shape
        if reg == 0 and rank > min(m, n):
            raise ValueError(f"reg=0 with rank={rank} > min(m, n) = {min(m, n)}: V^T V (or U^T U) is singular; "
                             "use reg > 0 or a smaller rank")
        with np.errstate(over="ignore", invalid="ignore"):
            c = confidence(ratings.values, alpha, self.confidence, self.eps)
        if not np.all(np.isfinite(c)) or c.max() > HUGE:
            raise ValueError(f"ImplicitALS: the confidences c = 1 + alpha r reach {c.max():.3g} (alpha={alpha:g}, "
                             f"max r = {ratings.values.max():.3g}), beyond what float64 Gram matrices can hold: "
                             f"{non_finite_cause(ratings.values, alpha=alpha)}")
        p = (ratings.values > 0).astype(float)
        by_user, by_item = ratings.by_user, ratings.by_item  # the one grouping (Ratings computes it once)
        users = PaddedGroups(by_user.indptr, by_user.index, n, BUCKET_SIZE)
        items = PaddedGroups(by_item.indptr, by_item.index, m, BUCKET_SIZE)
        user_w, user_t = c - 1.0, c * p
        item_w, item_t = user_w[by_item.order], user_t[by_item.order]
        # everything a half-step needs that does not change with the factors: built once per fit
        user_side, item_side = _Assembly(users, user_w, user_t, n), _Assembly(items, item_w, item_t, m)

        rng = np.random.default_rng(self.seed)
        self.U_ = rng.random((m, rank)) * self.init_scale
        self.V_ = rng.random((n, rank)) * self.init_scale
        remember_training(self, ratings)
        cause = lambda: non_finite_cause(ratings.values, init_scale=self.init_scale, alpha=alpha, reg=reg)  # noqa: E731
        records, seconds = [self._record(0, 0.0)], 0.0
        iterations = range(1, n_iters + 1)
        if self.verbose:
            from tqdm.auto import tqdm

            iterations = tqdm(iterations, desc=f"implicit ALS ({self.solver})", unit="iter")
        for iteration in iterations:
            start = time.perf_counter()
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # checked below, with the likely cause
                    self.V_ = _half_step(items, self.U_, item_w, item_t, reg, self.solver, self.V_, cg_steps,
                                         item_side)
                    self.U_ = _half_step(users, self.V_, user_w, user_t, reg, self.solver, self.U_, cg_steps,
                                         user_side)
            except _Overflow as error:
                raise ValueError(f"ImplicitALS, iteration {iteration}: {error}: {cause()}") from None
            seconds += time.perf_counter() - start
            due = iteration == n_iters or (self.eval_every and iteration % self.eval_every == 0)
            with np.errstate(over="ignore", invalid="ignore"):
                finite = bool(np.isfinite(np.sum(self.U_) + np.sum(self.V_)))  # a sum propagates inf and nan
            if due or not finite:
                records.append(self._record(iteration, seconds))
            if not (finite and np.isfinite(records[-1]["loss"])):  # the factors or the loss overflowed
                raise ValueError(f"ImplicitALS produced non-finite factors or loss at iteration {iteration}: "
                                 f"{cause()}")
        self.history_ = pd.DataFrame(records)
        return self

    def loss(self, ratings: Ratings | None = None) -> float:
        """The weighted loss (module docstring) at the current factors, on the training data by default."""
        check_fitted(self)
        return implicit_loss(ratings if ratings is not None else self.ratings_, self.U_, self.V_, self.reg,
                             self.alpha, self.confidence, self.eps)

    def _record(self, iteration: int, seconds: float) -> dict:
        m, n = self.ratings_.shape
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow shows as a non-finite loss; fit raises
            return {"epoch": iteration, "loss": self.loss() / (m * n), "seconds": seconds}

    def explain(self, user: int, item: int) -> pd.DataFrame:
        r"""Why ``item`` scores what it scores for ``user`` (Hu et al., section 5).

        With W^u = (V^T C^u V + lambda I)^{-1}, the exact user solution gives
        score = sum over j in Omega_u of s^u_{ij} c_uj p_uj with s^u_{ij} = v_i^T W^u v_j: each past
        item j contributes its confidence times its "similarity" to i as seen by this user.
        Returns the user's items (item, title, confidence, similarity, contribution), largest
        contribution first; the contributions sum to the score of the exact user solution for
        V_ (which is ``predict`` when the last half-step was exact).
        """
        check_fitted(self)
        m, n = self.shape
        user, item = check_index("user", user, m), check_index("item", item, n)
        train = self.ratings_
        lo, hi = np.searchsorted(train.rows, [user, user + 1])
        items, values = train.cols[lo:hi], train.values[lo:hi]
        c = confidence(values, self.alpha, self.confidence, self.eps)
        p = (values > 0).astype(float)
        Vu = self.V_[items]
        A = self.V_.T @ self.V_ + (Vu * (c - 1.0)[:, None]).T @ Vu + self.reg * np.eye(self.V_.shape[1])
        similarity = Vu @ np.linalg.solve(A, self.V_[item])  # s_ij = v_i^T W^u v_j (W^u symmetric)
        contribution = similarity * c * p
        frame = pd.DataFrame({
            "item": items,
            "title": train.item_labels(items),
            "confidence": c,
            "similarity": similarity,
            "contribution": contribution,
        })
        return frame.sort_values("contribution", ascending=False, key=np.abs).reset_index(drop=True)
