"""Truncated SVD of the imputed rating matrix (lecture notes "MF models", steps 1-4).

The tests assert the mathematics, with expected values derived independently (dense numpy,
``np.nanmean`` fills, ``np.linalg.svd``):

- Eckart-Young-Mirsky: on a fully known M, ||M - M_k||_F^2 = sum_{j > k} sigma_j^2, and the
  factors are U_k Sigma_k^{1/2}, V_k Sigma_k^{1/2};
- the singular values are those of the imputed matrix built independently, for every fill;
- the ARPACK path (rank-1 fill plus sparse correction as a linear operator) agrees with a
  dense SVD;
- the gradient-descent refinement starts exactly at the SVD factors and lowers the loss.
"""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
import mfteach.svd as svd_module
from mfteach.gd import GradientDescent
from mfteach.ratings import Ratings
from mfteach.svd import IMPUTATIONS, TruncatedSVD, imputation_fill


# ---------------------------------------------------------------------------- helpers
def sparse_matrix(seed: int = 0, m: int = 14, n: int = 11, density: float = 0.45) -> np.ndarray:
    """Ratings 1..5 with NaN for unknown; user 2 and item 4 have no ratings."""
    rng = np.random.default_rng(seed)
    M = rng.integers(1, 6, size=(m, n)).astype(float)
    M[rng.random((m, n)) >= density] = np.nan
    M[2, :] = np.nan
    M[:, 4] = np.nan
    M[0, 0] = 3.0  # keep row 0 / column 0 non-empty whatever the draw
    return M


def imputed(M: np.ndarray, impute: str) -> np.ndarray:
    """The lecture notes' step 1, done independently: unknown entries replaced by the user's
    mean / the item's mean / the global mean / 0; an empty user or item gets the global mean."""
    known = ~np.isnan(M)
    mu = np.nanmean(M)
    with np.errstate(invalid="ignore", divide="ignore"):
        user_mean = np.where(known.any(axis=1), np.nansum(M, axis=1) / known.sum(axis=1), mu)
        item_mean = np.where(known.any(axis=0), np.nansum(M, axis=0) / known.sum(axis=0), mu)
    fill = {
        "user_mean": np.repeat(user_mean[:, None], M.shape[1], axis=1),
        "item_mean": np.repeat(item_mean[None, :], M.shape[0], axis=0),
        "global_mean": np.full(M.shape, mu),
        "zero": np.zeros(M.shape),
    }[impute]
    return np.where(known, M, fill)


def best_rank_k(A: np.ndarray, k: int) -> np.ndarray:
    left, sigma, right_t = np.linalg.svd(A, full_matrices=False)
    return (left[:, :k] * sigma[:k]) @ right_t[:k]


# ---------------------------------------------------------------------------- Eckart-Young
@pytest.mark.parametrize("k", [1, 2, 4, 7, 9])
def test_truncation_error_is_the_sum_of_discarded_squared_singular_values(k):
    rng = np.random.default_rng(k)
    M = rng.normal(size=(12, 9)) + 3.0
    sigma = np.linalg.svd(M, compute_uv=False)
    for impute in IMPUTATIONS:  # nothing is unknown: every fill gives the same model
        model = TruncatedSVD(rank=k, impute=impute).fit(Ratings.from_dense(M))
        error = np.sum((M - model.predict_matrix()) ** 2)
        assert error == pytest.approx(np.sum(sigma[k:] ** 2), rel=1e-9, abs=1e-10 * np.sum(sigma**2))
        np.testing.assert_allclose(model.singular_values_, sigma[:k], rtol=1e-12)
        # U_ = U_k Sigma_k^(1/2), V_ = V_k Sigma_k^(1/2): U_^T U_ = V_^T V_ = Sigma_k
        np.testing.assert_allclose(model.U_.T @ model.U_, np.diag(sigma[:k]), atol=1e-10 * sigma[0])
        np.testing.assert_allclose(model.V_.T @ model.V_, np.diag(sigma[:k]), atol=1e-10 * sigma[0])
    if k == 9:
        np.testing.assert_allclose(model.predict_matrix(), M, atol=1e-10)


def test_truncation_beats_other_rank_k_matrices():
    """Eckart-Young as an optimality statement: small perturbations of the rank-k factors
    (which stay rank k) and ALS's rank-k fit are never closer to M."""
    rng = np.random.default_rng(0)
    M = rng.normal(size=(10, 8))
    k = 3
    model = TruncatedSVD(rank=k).fit(Ratings.from_dense(M))
    best = np.sum((M - model.predict_matrix()) ** 2)
    for _ in range(20):
        U = model.U_ + 0.05 * rng.normal(size=model.U_.shape)
        V = model.V_ + 0.05 * rng.normal(size=model.V_.shape)
        assert np.sum((M - U @ V.T) ** 2) > best
    als = mt.ALS(rank=k, reg=0.0, n_iters=30).fit(Ratings.from_dense(M))
    assert np.sum((M - als.predict_matrix()) ** 2) >= best * (1 - 1e-12)


# ---------------------------------------------------------------------------- imputation
@pytest.mark.parametrize("impute", IMPUTATIONS)
def test_imputation_fill_matches_independent_fill(impute):
    M = sparse_matrix()
    ratings = Ratings.from_dense(M)
    a, b = imputation_fill(ratings, impute)
    unknown = np.isnan(M)
    np.testing.assert_allclose(np.outer(a, b)[unknown], imputed(M, impute)[unknown], rtol=1e-13, atol=0)
    mu = np.nanmean(M)
    if impute == "user_mean":  # user 2 has no ratings: the global mean
        assert a[2] * b[0] == pytest.approx(mu, rel=1e-13)
        assert a[1] == pytest.approx(np.nanmean(M[1]), rel=1e-13)
    if impute == "item_mean":  # item 4 has no ratings
        assert a[0] * b[4] == pytest.approx(mu, rel=1e-13)
    if impute == "zero":
        assert not np.any(a) and not np.any(b)


def test_unknown_imputation_raises():  # TruncatedSVD(impute=...): tests/test_models_contract.py
    with pytest.raises(ValueError, match="impute"):
        imputation_fill(Ratings.from_dense(sparse_matrix()), "median")


@pytest.mark.parametrize("impute", IMPUTATIONS)
def test_singular_values_are_those_of_the_independently_imputed_matrix(impute):
    M = sparse_matrix(1)
    A = imputed(M, impute)
    sigma = np.linalg.svd(A, compute_uv=False)
    for k in (1, 3, 5):
        model = TruncatedSVD(rank=k, impute=impute).fit(Ratings.from_dense(M))
        np.testing.assert_allclose(model.singular_values_, sigma[:k], rtol=1e-11)
        np.testing.assert_allclose(model.predict_matrix(), best_rank_k(A, k), atol=1e-10 * sigma[0])
    # full rank: the imputed matrix itself, known entries included
    full = TruncatedSVD(rank=min(M.shape), impute=impute).fit(Ratings.from_dense(M))
    np.testing.assert_allclose(full.predict_matrix(), A, atol=1e-10 * sigma[0])


@pytest.mark.parametrize("impute", IMPUTATIONS)
def test_arpack_path_agrees_with_dense_svd(impute, monkeypatch):
    ratings, _, _ = mt.synthetic(300, 200, rank=4, density=0.2, noise=0.1, seed=1)
    calls = []
    real_svds = svd_module.svds
    monkeypatch.setattr(svd_module, "svds", lambda *a, **kw: calls.append(1) or real_svds(*a, **kw))
    monkeypatch.setattr(svd_module, "DENSE_LIMIT", 0)
    arpack = TruncatedSVD(rank=5, impute=impute).fit(ratings)
    assert calls == [1]  # really the ARPACK path
    monkeypatch.setattr(svd_module, "DENSE_LIMIT", 10**9)
    dense = TruncatedSVD(rank=5, impute=impute).fit(ratings)
    assert calls == [1]  # really the dense path
    np.testing.assert_allclose(arpack.predict_matrix(), dense.predict_matrix(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(arpack.singular_values_, dense.singular_values_, rtol=1e-10)
    assert np.all(np.diff(arpack.singular_values_) <= 0)
    # ARPACK is seeded: the same input gives the same factors
    again = TruncatedSVD(rank=5, impute=impute)
    monkeypatch.setattr(svd_module, "DENSE_LIMIT", 0)
    again.fit(ratings)
    np.testing.assert_array_equal(again.U_, arpack.U_)
    np.testing.assert_array_equal(again.V_, arpack.V_)


# ---------------------------------------------------------------------------- history, refinement
def test_unrefined_history_is_one_row_at_the_svd():
    M = sparse_matrix(2)
    train, test = Ratings.from_dense(M).split(0.25, seed=0)
    model = TruncatedSVD(rank=3).fit(train, eval_set=test)
    h = model.history_
    assert list(h.columns) == ["epoch", "train_rmse", "test_rmse", "seconds"]
    assert h["epoch"].tolist() == [0]
    R = train.to_dense()
    known = ~np.isnan(R)
    assert h["train_rmse"].iloc[0] == pytest.approx(np.sqrt(np.mean((R - model.predict_matrix())[known] ** 2)), rel=1e-12)
    assert h["test_rmse"].iloc[0] == pytest.approx(model.rmse(test), rel=1e-12)


def gd_loss(ratings, U, V, reg):
    """GradientDescent's mean loss, computed densely: (sum_Omega e^2 + reg (||U||^2 + ||V||^2)) / |Omega|."""
    R = ratings.to_dense()
    known = ~np.isnan(R)
    e = (R - U @ V.T)[known]
    return (e @ e + reg * (np.sum(U**2) + np.sum(V**2))) / known.sum()


def test_refinement_starts_at_the_svd_factors_and_lowers_the_loss():
    ratings, _, _ = mt.synthetic(40, 30, rank=3, density=0.3, noise=0.1, seed=0)
    train, test = ratings.split(0.2, seed=0)
    reg = 0.1
    plain = TruncatedSVD(rank=3).fit(train, eval_set=test)
    given = GradientDescent(rank=1, lr=0.5, reg=reg, n_epochs=40)
    refined = TruncatedSVD(rank=3, refine=given).fit(train, eval_set=test)
    h = refined.history_
    assert h["epoch"].tolist() == list(range(41))
    # epoch 0 is the SVD start, exactly
    assert h["train_rmse"].iloc[0] == pytest.approx(plain.rmse(train), rel=1e-12)
    assert h["test_rmse"].iloc[0] == pytest.approx(plain.rmse(test), rel=1e-12)
    assert h["loss"].iloc[0] == pytest.approx(gd_loss(train, plain.U_, plain.V_, reg), rel=1e-12)
    # and gradient descent lowers the training loss from there
    final = gd_loss(train, refined.U_, refined.V_, reg)
    assert h["loss"].iloc[-1] == pytest.approx(final, rel=1e-12)
    assert final < 0.9 * h["loss"].iloc[0]
    assert refined.rmse(train) < plain.rmse(train)
    assert refined.U_.shape == (40, 3) and refined.V_.shape == (30, 3)
    assert given.rank == 1  # the GradientDescent passed in is left unchanged (a copy was fitted)


def test_refine_rejects_biased_and_non_gradient_descent():
    ratings = Ratings.from_dense(sparse_matrix(3))
    with pytest.raises(ValueError, match="biased"):
        TruncatedSVD(rank=2, refine=GradientDescent(biased=True, n_epochs=2)).fit(ratings)
    with pytest.raises(TypeError, match="GradientDescent"):
        TruncatedSVD(rank=2, refine=mt.ALS(rank=2)).fit(ratings)


# ---------------------------------------------------------------------------- validation
# bad hyperparameters: tests/test_models_contract.py
def test_rank_larger_than_the_matrix_raises():
    M = sparse_matrix()  # 14 x 11
    TruncatedSVD(rank=11).fit(Ratings.from_dense(M))
    with pytest.raises(ValueError, match=r"rank=12.*min\(m, n\) = 11"):
        TruncatedSVD(rank=12).fit(Ratings.from_dense(M))


def test_non_ratings_input_raises_type_error():
    with pytest.raises(TypeError, match="Ratings"):
        TruncatedSVD(rank=2).fit(sparse_matrix())
    with pytest.raises(TypeError, match="eval_set"):
        TruncatedSVD(rank=2).fit(Ratings.from_dense(sparse_matrix()), eval_set=pd.DataFrame())


# ---------------------------------------------------------------------------- issue 15, item 5
def test_ratings_too_large_for_float64_raise_instead_of_warning():
    import warnings

    ratings = mt.synthetic(12, 10, 2, density=0.5, seed=0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"TruncatedSVD produced non-finite .*the ratings are too large"):
            mt.TruncatedSVD(rank=2).fit(ratings.with_values(ratings.values * 1e300))
        model = mt.TruncatedSVD(rank=2).fit(ratings.with_values(ratings.values * 1e100))  # large but fine
    assert np.isfinite(model.predict_matrix()).all()
