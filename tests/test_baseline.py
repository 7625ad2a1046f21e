"""The biases-only baseline r_hat_ui = mu + b_u + c_i and the global-mean predictor.

The tests assert the mathematics, with expected values derived independently:

- the fitted biases are a stationary point of
  J(b, c) = sum_Omega (r_ui - mu - b_u - c_i)^2 + lambda_u ||b||^2 + lambda_i ||c||^2
  (J is a strictly convex quadratic for lambda_u, lambda_i > 0, so that is its minimizer),
  i.e. they satisfy both closed-form equations
  b_u = sum_{i in Omega_u} (r_ui - mu - c_i) / (lambda_u + |Omega_u|) and the mirror for c_i;
- they equal numpy.linalg.lstsq on the stacked ridge problem with the design [1_u, 1_i];
- each alternating update is an exact block minimization, so J never increases with n_iters.
"""

import warnings

import numpy as np
import pytest

from mfteach.baseline import Baseline
from mfteach.ratings import Ratings


# ---------------------------------------------------------------------------- helpers
def small_ratings(seed: int = 0, m: int = 15, n: int = 10, density: float = 0.4) -> Ratings:
    """Ratings 1..5; user 4 and item 6 have no ratings."""
    rng = np.random.default_rng(seed)
    known = rng.random((m, n)) < density
    known[4, :] = False
    known[:, 6] = False
    known[0, 0] = True
    values = rng.integers(1, 6, size=(m, n)).astype(float)
    rows, cols = np.nonzero(known)
    return Ratings(rows, cols, values[rows, cols], shape=(m, n))


def dense_residuals(ratings, mu, b, c):
    R = ratings.to_dense()
    known = ~np.isnan(R)
    return np.where(known, R - mu - b[:, None] - c[None, :], 0.0), known


def objective(ratings, mu, b, c, reg_user, reg_item):
    E, _ = dense_residuals(ratings, mu, b, c)
    return float(np.sum(E**2) + reg_user * b @ b + reg_item * c @ c)


def gradients(ratings, mu, b, c, reg_user, reg_item):
    """dJ/db = -2 E 1 + 2 lambda_u b, dJ/dc = -2 E^T 1 + 2 lambda_i c (dense E)."""
    E, _ = dense_residuals(ratings, mu, b, c)
    return -2 * E.sum(axis=1) + 2 * reg_user * b, -2 * E.sum(axis=0) + 2 * reg_item * c


def ridge_lstsq_biases(ratings, reg_user, reg_item):
    """(b, c) by numpy.linalg.lstsq on [X; sqrt(lambda_u) I_m 0; 0 sqrt(lambda_i) I_n] w = [r - mu; 0]
    with X the |Omega| x (m + n) design whose row (u, i) has a 1 in column u and in column m + i."""
    m, n = ratings.shape
    mu = ratings.values.mean()
    X = np.zeros((len(ratings), m + n))
    X[np.arange(len(ratings)), ratings.rows] = 1.0
    X[np.arange(len(ratings)), m + ratings.cols] = 1.0
    ridge = np.diag(np.concatenate([np.full(m, np.sqrt(reg_user)), np.full(n, np.sqrt(reg_item))]))
    A = np.vstack([X, ridge])
    y = np.concatenate([ratings.values - mu, np.zeros(m + n)])
    w = np.linalg.lstsq(A, y, rcond=None)[0]
    return w[:m], w[m:]


# ---------------------------------------------------------------------------- the minimizer
def test_ml100k_fitted_biases_are_stationary_and_satisfy_the_closed_forms(ml100k):
    train, _ = ml100k.split(0.2, seed=0)
    reg_user, reg_item = 15.0, 10.0
    model = Baseline(reg_user=reg_user, reg_item=reg_item, n_iters=200).fit(train)
    mu, b, c = model.mu_, model.user_bias_, model.item_bias_
    assert mu == pytest.approx(train.values.mean(), rel=1e-14)
    gb, gc = gradients(train, mu, b, c, reg_user, reg_item)
    ref_b, ref_c = gradients(train, mu, np.zeros_like(b), np.zeros_like(c), reg_user, reg_item)
    assert np.sqrt(gb @ gb + gc @ gc) <= 1e-8 * np.sqrt(ref_b @ ref_b + ref_c @ ref_c)
    # the two closed-form equations, written out
    E, known = dense_residuals(train, mu, b, c)
    R = np.where(known, train.to_dense(), 0.0)
    b_closed = ((R - mu - c[None, :]) * known).sum(axis=1) / (reg_user + known.sum(axis=1))
    c_closed = ((R - mu - b[:, None]) * known).sum(axis=0) / (reg_item + known.sum(axis=0))
    np.testing.assert_allclose(b, b_closed, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c, c_closed, rtol=0, atol=1e-9)


@pytest.mark.parametrize("reg_user, reg_item", [(15.0, 10.0), (1.0, 0.5), (0.1, 3.0)])
def test_biases_equal_dense_ridge_least_squares(reg_user, reg_item):
    ratings = small_ratings(1)
    model = Baseline(reg_user=reg_user, reg_item=reg_item, n_iters=500).fit(ratings)
    b, c = ridge_lstsq_biases(ratings, reg_user, reg_item)
    np.testing.assert_allclose(model.user_bias_, b, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.item_bias_, c, rtol=0, atol=1e-8)
    assert model.user_bias_[4] == 0 and model.item_bias_[6] == 0  # no data: the penalty wins
    m, n = ratings.shape
    np.testing.assert_allclose(model.predict_matrix(), model.mu_ + b[:, None] + c[None, :], atol=1e-8)
    assert model.U_.shape == (m, 0) and model.V_.shape == (n, 0)


def test_objective_never_increases_with_more_alternations():
    ratings = small_ratings(2)
    losses = [Baseline(reg_user=2.0, reg_item=1.0, n_iters=t).fit(ratings).history_["loss"].iloc[0]
              for t in range(1, 15)]
    assert np.all(np.diff(losses) <= 1e-12 * losses[0]), np.diff(losses)
    assert losses[-1] < losses[0]


def test_zero_reg_with_an_empty_user_or_item_gives_finite_biases():
    ratings = small_ratings(3)  # user 4 and item 6 are empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = Baseline(reg_user=0.0, reg_item=0.0, n_iters=20).fit(ratings)
    assert np.isfinite(model.user_bias_).all() and np.isfinite(model.item_bias_).all()
    assert model.user_bias_[4] == 0 and model.item_bias_[6] == 0


# ---------------------------------------------------------------------------- the global mean, history
def test_without_biases_predicts_the_training_mean_everywhere():
    ratings = small_ratings(4)
    model = Baseline(biases=False).fit(ratings)
    mean = ratings.values.sum() / len(ratings)
    np.testing.assert_allclose(model.predict_matrix(), np.full(ratings.shape, mean), rtol=1e-14)
    np.testing.assert_allclose(model.predict(np.array([0, 4, 14]), np.array([6, 1, 9])), mean, rtol=1e-14)
    assert model.history_["epoch"].tolist() == [0]
    assert model.history_["train_rmse"].iloc[0] == pytest.approx(np.std(ratings.values), rel=1e-12)


def test_history_records_the_objective_and_rmses():
    ratings = small_ratings(5)
    train, test = ratings.split(0.25, seed=1)
    reg_user, reg_item = 3.0, 2.0
    model = Baseline(reg_user=reg_user, reg_item=reg_item, n_iters=7).fit(train, eval_set=test)
    h = model.history_
    assert list(h.columns) == ["epoch", "loss", "train_rmse", "test_rmse", "seconds"]
    assert h["epoch"].tolist() == [7]
    mu, b, c = model.mu_, model.user_bias_, model.item_bias_
    assert h["loss"].iloc[0] == pytest.approx(objective(train, mu, b, c, reg_user, reg_item) / len(train), rel=1e-12)
    E, known = dense_residuals(train, mu, b, c)
    assert h["train_rmse"].iloc[0] == pytest.approx(np.sqrt(np.sum(E**2) / known.sum()), rel=1e-12)
    E_test, known_test = dense_residuals(test, mu, b, c)
    assert h["test_rmse"].iloc[0] == pytest.approx(np.sqrt(np.sum(E_test**2) / known_test.sum()), rel=1e-12)


def test_ml100k_biases_beat_the_global_mean(ml100k):
    train, test = ml100k.split(0.2, seed=0)
    biases = Baseline().fit(train).rmse(test)
    mean_only = Baseline(biases=False).fit(train).rmse(test)
    assert biases < mean_only
    # Sanity bound, not a copied number: Surprise's BaselineOnly (the same ALS-fitted model,
    # reg_u = 15, reg_i = 10, 10 epochs) gets 0.946 on this 80/20 split (ARCHITECTURE.md,
    # "Tests and benchmarks")
    assert biases < 0.96


def test_recommend_excludes_seen_items():
    ratings = small_ratings(6)
    model = Baseline(reg_user=1.0, reg_item=1.0).fit(ratings)
    R = ratings.to_dense()
    seen = np.flatnonzero(~np.isnan(R[0]))
    rec = model.recommend(0, n=3)
    assert not set(rec["item"]) & set(seen)
    unseen = np.setdiff1d(np.arange(ratings.shape[1]), seen)
    # with no factors the ranking is by item bias alone
    expected = unseen[np.argsort(-model.item_bias_[unseen], kind="stable")][:3]
    np.testing.assert_allclose(rec["score"], model.mu_ + model.user_bias_[0] + model.item_bias_[expected], rtol=1e-12)


# ---------------------------------------------------------------------------- validation
# bad hyperparameters: tests/test_models_contract.py
def test_non_ratings_input_raises_type_error():
    with pytest.raises(TypeError, match="Ratings"):
        Baseline().fit(small_ratings().to_dense())
    with pytest.raises(ValueError, match="eval_set"):
        Baseline().fit(small_ratings(), eval_set=Ratings([0], [0], [1.0], shape=(2, 2)))


# ---------------------------------------------------------------------------- issue 15, item 5
def test_ratings_too_large_for_float64_raise_instead_of_warning():
    ratings = small_ratings()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"Baseline produced non-finite .*the ratings are too large"):
            Baseline().fit(ratings.with_values(ratings.values * 1e300))
