r"""Truncated SVD of the mean-imputed rating matrix, optionally refined by gradient descent
(lecture notes "MF models": replace the missing entries by users' means, decompose with SVD,
keep k latent features, then use gradient descent to lower the RMSE on the known ratings).

Eckart-Young-Mirsky: among all matrices of rank k, the truncation M_k = U_k Sigma_k V_k^T of
the SVD M = U Sigma V^T is closest to M in Frobenius norm, with
||M - M_k||_F^2 = sum_{j > k} sigma_j^2.

The imputed matrix is never formed for large data: it is a rank-1 "fill" matrix plus a
sparse correction on Omega (e.g. for user means M = mean_u 1^T + S with
S_ui = r_ui - mean_u on Omega), so the leading singular triplets come from ARPACK
(``scipy.sparse.linalg.svds``) on a linear operator; small matrices use a dense SVD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, svds

from .base import FactorModel, check_finite_fit, check_positive_int, check_ratings, non_finite_cause, remember_training
from .ratings import Ratings

__all__ = ["TruncatedSVD", "IMPUTATIONS", "imputation_fill"]

IMPUTATIONS = ("user_mean", "item_mean", "global_mean", "zero")
DENSE_LIMIT = 40_000  # m * n up to which a dense SVD is used (ARPACK is faster beyond, for small k)


def imputation_fill(ratings: Ratings, impute: str) -> tuple[np.ndarray, np.ndarray]:
    """The fill of the unknown entries as a rank-1 matrix a b^T: returns (a, b).

    user_mean: a = mean rating of each user (the global mean for a user with none), b = 1;
    item_mean: a = 1, b = mean of each item; global_mean: a = mu, b = 1; zero: a = 0, b = 0.
    """
    m, n = ratings.shape
    if impute == "zero":
        return np.zeros(m), np.zeros(n)
    mu = float(ratings.values.mean())
    if impute == "global_mean":
        return np.full(m, mu), np.ones(n)
    if impute == "user_mean":
        counts = ratings.user_counts()
        sums = np.bincount(ratings.rows, ratings.values, m)
        return np.where(counts > 0, sums / np.maximum(counts, 1), mu), np.ones(n)
    if impute == "item_mean":
        counts = ratings.item_counts()
        sums = np.bincount(ratings.cols, ratings.values, n)
        return np.ones(m), np.where(counts > 0, sums / np.maximum(counts, 1), mu)
    raise ValueError(f"impute must be one of {IMPUTATIONS}, got {impute!r}")


class TruncatedSVD(FactorModel):
    """Rank-k truncated SVD of the imputed rating matrix (lecture notes, steps 1-3), with an
    optional gradient-descent refinement on the known entries (step 4).

    Parameters
    ----------
    rank : int
        k, the number of singular triplets kept.
    impute : {"user_mean", "item_mean", "global_mean", "zero"}
        What the unknown entries are replaced by before the SVD.
    refine : GradientDescent, optional
        When given, a copy of it with ``rank`` set to k is fitted warm-started from the SVD
        factors; its history becomes ``history_`` and its factors the model's.

    Attributes
    ----------
    U_, V_ : the factors, U_k Sigma_k^{1/2} and V_k Sigma_k^{1/2} (so U_ V_^T = M_k) before refinement
    singular_values_ : ndarray (k,), decreasing
    history_ : DataFrame (epoch, train_rmse, [test_rmse], seconds; GD's columns when refined)
    """

    def __init__(self, rank: int = 10, impute: str = "user_mean", refine=None):
        self.rank = rank
        self.impute = impute
        self.refine = refine

    def fit(self, ratings: Ratings, eval_set: Ratings | None = None) -> "TruncatedSVD":
        """SVD of the imputed ``ratings``; then the refinement, if any."""
        import time

        start = time.perf_counter()
        ratings = check_ratings("ratings", ratings)
        if eval_set is not None:
            check_ratings("eval_set", eval_set, ratings.shape)
        rank = check_positive_int("rank", self.rank)
        m, n = ratings.shape
        if rank > min(m, n):
            raise ValueError(f"rank={rank} is larger than min(m, n) = {min(m, n)}")
        if self.impute not in IMPUTATIONS:
            raise ValueError(f"impute must be one of {IMPUTATIONS}, got {self.impute!r}")
        self._check_refine()
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below, with its cause
            self._decompose(ratings, eval_set, rank, start)
        if self.refine is not None:
            self._refine(ratings, eval_set, rank, self.history_["seconds"].iloc[0])
        return self

    def _decompose(self, ratings: Ratings, eval_set, rank: int, start: float) -> None:
        import time

        m, n = ratings.shape
        a, b = imputation_fill(ratings, self.impute)
        # M = a b^T + S, S the sparse correction on Omega
        correction = sp.csr_matrix((ratings.values - a[ratings.rows] * b[ratings.cols], (ratings.rows, ratings.cols)),
                                   shape=(m, n))
        cause = lambda: non_finite_cause(ratings.values)  # noqa: E731
        check_finite_fit("TruncatedSVD", {"imputed values": np.concatenate([a, b]), "corrections": correction.data},
                         cause)
        if m * n <= DENSE_LIMIT or rank >= min(m, n) // 2:
            try:
                left, sigma, right_t = np.linalg.svd(np.outer(a, b) + correction.toarray(), full_matrices=False)
            except np.linalg.LinAlgError as error:
                raise ValueError(f"TruncatedSVD: the SVD failed ({error}): {cause()}") from None
            left, sigma, right_t = left[:, :rank], sigma[:rank], right_t[:rank]
        else:
            operator = LinearOperator(
                (m, n), dtype=float,
                matvec=lambda x: a * (b @ np.ravel(x)) + correction @ np.ravel(x),
                rmatvec=lambda y: b * (a @ np.ravel(y)) + correction.T @ np.ravel(y),
                matmat=lambda X: np.outer(a, b @ X) + correction @ X,
                rmatmat=lambda Y: np.outer(b, a @ Y) + correction.T @ Y,
            )
            left, sigma, right_t = svds(operator, k=rank, random_state=0)
            order = np.argsort(-sigma)
            left, sigma, right_t = left[:, order], sigma[order], right_t[order]
        root = np.sqrt(sigma)
        self.U_, self.V_ = left * root, right_t.T * root
        self.singular_values_ = sigma
        remember_training(self, ratings)
        seconds = time.perf_counter() - start
        record = {"epoch": 0, "train_rmse": self.rmse(ratings)}
        if eval_set is not None:
            record["test_rmse"] = self.rmse(eval_set)
        record["seconds"] = seconds
        check_finite_fit("TruncatedSVD", {"U_": self.U_, "V_": self.V_, "training RMSE": record["train_rmse"]}, cause)
        self.history_ = pd.DataFrame([record])

    def _check_refine(self) -> None:
        """``refine`` is None or an unbiased GradientDescent (checked before any work)."""
        from .gd import GradientDescent

        if self.refine is None:
            return
        if not isinstance(self.refine, GradientDescent):
            raise TypeError(f"refine must be a GradientDescent, got {type(self.refine).__name__}")
        if self.refine.biased:
            raise ValueError("refine must be an unbiased GradientDescent (the SVD factors carry no biases)")

    def _refine(self, ratings, eval_set, rank, svd_seconds) -> None:
        from .gd import GradientDescent

        gd = GradientDescent(**{**self.refine.get_params(), "rank": rank})
        gd.fit(ratings, eval_set=eval_set, init=(self.U_, self.V_))
        self.U_, self.V_ = gd.U_, gd.V_
        remember_training(self, ratings)
        history = gd.history_.copy()
        history["seconds"] += svd_seconds
        self.history_ = history
        self.refined_ = gd
