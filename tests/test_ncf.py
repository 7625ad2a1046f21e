r"""Tests of mfteach/ncf.py: the NCF loss (eq. (2)-(5) of KDD 2019 plus the ridge penalty), its
backpropagated gradient, the mini-batch estimate, Adam, and the ``NCF`` estimator.

The reference below recomputes the model from the formulas, one rating at a time:

    z_0 = p_u (+) q_i,  z_l = max(0, W_l z_{l-1} + b_l),  r_hat = mu + w_out . z_X + b_out,
    L = ( sum_Omega (r - r_hat)^2 + reg (||P||^2 + ||Q||^2 + ||theta_n||^2) ) / |Omega|.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach import Ratings, ncf
from mfteach.gd import DivergenceError
from mfteach.ncf import NCF


# =============================================================== independent references
def reference_predict(params, mu, u, i):
    z = np.concatenate([params["P"][u], params["Q"][i]])
    layer = 1
    while f"W{layer}" in params:
        z = np.maximum(params[f"W{layer}"] @ z + params[f"b{layer}"], 0.0)
        layer += 1
    return mu + params["w_out"] @ z + params["b_out"][0]


def reference_loss(ratings, params, reg, mu):
    squared = sum((r - reference_predict(params, mu, u, i)) ** 2
                  for u, i, r in zip(ratings.rows, ratings.cols, ratings.values))
    penalty = sum(float(np.sum(value**2)) for value in params.values())
    return (squared + reg * penalty) / len(ratings)


def finite_differences(f, array, h=1e-6):
    """Central differences of f() with respect to every entry of ``array`` (modified in place, restored)."""
    grad = np.zeros_like(array)
    for j in range(array.size):
        old = array.flat[j]
        array.flat[j] = old + h
        up = f()
        array.flat[j] = old - h
        down = f()
        array.flat[j] = old
        grad.flat[j] = (up - down) / (2 * h)
    return grad


def small_ratings(seed=0):
    """12 users x 9 items, with user 11 and item 8 left without ratings (their penalty only)."""
    ratings, _, _ = mt.synthetic(11, 8, rank=2, density=0.5, noise=0.1, seed=seed)
    return Ratings(ratings.rows, ratings.cols, 3.0 + ratings.values, shape=(12, 9))


def random_params(m, n, d, hidden, seed):
    model = NCF(embedding_dim=d, hidden=hidden, init_scale=0.5)
    params = model._initial_params(m, n, d, tuple(hidden), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for name in params:  # non-zero biases, so that every array's gradient is exercised
        if name.startswith("b"):
            params[name] = rng.normal(0.0, 0.3, params[name].shape)
    return params


# =============================================================== loss and gradient
@pytest.mark.parametrize("hidden", [(5,), (5, 4), (6, 4, 3)])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_equals_the_rating_by_rating_formula(hidden, reg):
    ratings = small_ratings()
    params = random_params(12, 9, 3, hidden, seed=1)
    assert ncf.loss(ratings, params, reg, mu=3.0) == pytest.approx(reference_loss(ratings, params, reg, 3.0), rel=1e-12)


@pytest.mark.parametrize("hidden", [(5,), (5, 4), (6, 4, 3)])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_backpropagation_matches_finite_differences_for_every_parameter_array(hidden, reg):
    ratings = small_ratings()
    params = random_params(12, 9, 3, hidden, seed=2)
    grads = ncf.gradient(ratings, params, reg, mu=3.0)
    assert list(grads) == ncf.param_names(len(hidden))
    for name, array in params.items():
        numeric = finite_differences(lambda: reference_loss(ratings, params, reg, 3.0), array)
        np.testing.assert_allclose(grads[name], numeric, atol=1e-8, err_msg=name)
    # the embeddings of the unrated user 11 and item 8 feel only the penalty: 2 reg p / |Omega|
    np.testing.assert_allclose(grads["P"][11], 2 * reg * params["P"][11] / len(ratings))
    np.testing.assert_allclose(grads["Q"][8], 2 * reg * params["Q"][8] / len(ratings))


def test_mini_batch_gradients_average_to_the_full_gradient():
    """(1/|B|) sum_B grad l_ui with the penalty shared per rating: over equal batches that
    partition Omega, the batch gradients average to grad L (the estimate is unbiased)."""
    ratings = small_ratings()
    params = random_params(12, 9, 3, (5, 4), seed=3)
    order = np.random.default_rng(0).permutation(len(ratings))[:len(ratings) // 4 * 4]
    data = ncf._Data(Ratings(ratings.rows[order], ratings.cols[order], ratings.values[order], shape=(12, 9)))
    batches = np.split(np.random.default_rng(1).permutation(len(order)), 4)
    average = {name: np.mean([ncf._batch_gradient(data, params, 3.0, 0.7, b)[name] for b in batches], axis=0)
               for name in params}
    kept = Ratings(data.rows, data.cols, data.values, shape=(12, 9))
    full = ncf.gradient(kept, params, 0.7, mu=3.0)
    for name in params:
        np.testing.assert_allclose(average[name], full[name], atol=1e-12, err_msg=name)


def test_the_network_is_piecewise_linear_in_its_input():
    """ReLU hidden layers and a linear output: r_hat(z_0 + t dz) is linear in t while no
    pre-activation changes sign, so its second difference vanishes (to rounding)."""
    params = random_params(12, 9, 3, (6, 4), seed=4)
    rng = np.random.default_rng(0)
    z0 = np.concatenate([params["P"][2], params["Q"][5]])
    direction = rng.normal(size=6)

    def at(t):
        p = {**params, "P": params["P"].copy(), "Q": params["Q"].copy()}
        p["P"][2], p["Q"][5] = (z0 + t * direction)[:3], (z0 + t * direction)[3:]
        return reference_predict(p, 0.0, 2, 5)

    h = 1e-4
    assert abs(at(h) - 2 * at(0.0) + at(-h)) < 1e-12


# =============================================================== Adam and training
def test_the_first_full_batch_adam_step_is_the_bias_corrected_sign_step():
    """At t = 1, Adam's bias-corrected m / sqrt(v) is g / |g|: every parameter moves by about lr
    against the sign of its gradient (Kingma and Ba 2015, Algorithm 1)."""
    ratings = small_ratings()
    model = NCF(embedding_dim=3, hidden=(5, 4), reg=0.7, lr=0.01, n_epochs=1, batch_size=len(ratings), seed=5)
    start = model._initial_params(12, 9, 3, (5, 4), np.random.default_rng(5))
    mu = float(np.mean(ratings.values))
    g = ncf.gradient(ratings, start, 0.7, mu)
    model.fit(ratings)
    beta2, eps = ncf.ADAM_BETAS[1], ncf.ADAM_EPS
    for name in start:
        expected = start[name] - 0.01 * g[name] / (np.abs(g[name]) + eps / math.sqrt(1 - beta2))
        np.testing.assert_allclose(model.params_[name], expected, rtol=1e-10, atol=1e-14, err_msg=name)
    assert model.mu_ == mu and model.adam_state_["t"] == 1


def test_training_lowers_the_loss_and_the_train_rmse():
    ratings = small_ratings()
    model = NCF(embedding_dim=4, hidden=(8, 4), reg=0.1, lr=0.01, n_epochs=30, batch_size=8, seed=0).fit(ratings)
    history = model.history_
    assert list(history.columns) == ["epoch", "loss", "train_rmse", "seconds"]
    assert history["epoch"].tolist() == list(range(31))
    assert history["loss"].iloc[-1] < 0.5 * history["loss"].iloc[0]
    assert history["train_rmse"].iloc[-1] < history["train_rmse"].iloc[0]
    assert history["loss"].iloc[-1] == pytest.approx(ncf.loss(ratings, model.params_, 0.1, model.mu_), rel=1e-12)
    assert history["train_rmse"].iloc[-1] == pytest.approx(model.rmse(ratings), rel=1e-12)
    assert history["seconds"].is_monotonic_increasing


def test_same_seed_same_fit_different_seed_different_fit():
    ratings = small_ratings()
    a, b, c = (NCF(embedding_dim=3, hidden=(4,), n_epochs=3, batch_size=5, seed=s).fit(ratings) for s in (7, 7, 8))
    for name in a.params_:
        np.testing.assert_array_equal(a.params_[name], b.params_[name])
    pd.testing.assert_frame_equal(a.history_.drop(columns="seconds"), b.history_.drop(columns="seconds"))
    assert not np.allclose(a.P_, c.P_)


def test_warm_start_continues_parameters_mu_and_adam_state_exactly():
    """Full batches make the epochs independent of the shuffling: 3 epochs in one fit equal 2
    epochs and then 1 more warm-started from the first model (parameters, mu and Adam moments)."""
    ratings = small_ratings()
    kwargs = dict(embedding_dim=3, hidden=(5, 4), reg=0.3, lr=0.01, batch_size=len(ratings), seed=0)
    once = NCF(n_epochs=3, **kwargs).fit(ratings)
    first = NCF(n_epochs=2, **kwargs).fit(ratings)
    resumed = NCF(n_epochs=1, **{**kwargs, "seed": 99}).fit(ratings.without(0, ratings.cols[0]), init=first)
    assert resumed.mu_ == first.mu_  # kept, although the data changed
    assert resumed.adam_state_["t"] == 3
    again = NCF(n_epochs=1, **{**kwargs, "seed": 99}).fit(ratings, init=first)
    for name in once.params_:
        np.testing.assert_allclose(again.params_[name], once.params_[name], rtol=1e-12, atol=1e-15)
    assert again.history_["loss"].iloc[0] == pytest.approx(first.history_["loss"].iloc[-1], rel=1e-12)
    assert first.adam_state_["t"] == 2  # the init model is not modified


def test_a_zero_weight_rating_is_a_removed_rating():
    """Leave-one-out keeps the removed rating with weight 0 (same mini-batches for both runs).
    Its objective and gradient are those of ratings.without(...) times (N - 1) / N (penalty
    shares of the user and the item recounted), so the minimizer is the same."""
    ratings = small_ratings()
    params = random_params(12, 9, 3, (5, 4), seed=6)
    n = len(ratings)
    only = int(np.flatnonzero(ratings.user_counts() == 1)[0])  # a user with one rating: unrated once it goes
    for u, i in [(int(ratings.rows[4]), int(ratings.cols[4])), (only, int(ratings.cols[ratings.rows == only][0]))]:
        weights = np.ones(n)
        weights[ratings.index_of(u, i)] = 0.0
        data = ncf._Data(ratings, weights)
        reduced = ratings.without(u, i)
        assert ncf._objective(data, params, 3.0, 0.7)[0] * n / (n - 1) == pytest.approx(
            ncf.loss(reduced, params, 0.7, 3.0), rel=1e-12)
        weighted = ncf._batch_gradient(data, params, 3.0, 0.7, np.arange(n))
        removed = ncf.gradient(reduced, params, 0.7, 3.0)
        for name in params:
            np.testing.assert_allclose(weighted[name] * n / (n - 1), removed[name], rtol=1e-10, atol=1e-14,
                                       err_msg=name)


def test_sample_weight_of_ones_is_the_unweighted_fit_to_the_bit():
    ratings = small_ratings()
    kwargs = dict(embedding_dim=3, hidden=(5, 4), reg=0.3, lr=0.01, n_epochs=2, batch_size=7, seed=4)
    plain, weighted = NCF(**kwargs).fit(ratings), NCF(**kwargs).fit(ratings, sample_weight=np.ones(len(ratings)))
    for name in plain.params_:
        np.testing.assert_array_equal(plain.params_[name], weighted.params_[name])
    assert plain.mu_ == weighted.mu_


def test_a_rating_with_weight_zero_does_not_touch_the_fit():
    """sample_weight 0 drops a rating: changing its value changes no bit of the fit, and mu is
    the mean of the other ratings."""
    ratings = small_ratings()
    k = 4
    weights = np.ones(len(ratings))
    weights[k] = 0.0
    values = ratings.values.copy()
    values[k] += 10.0
    kwargs = dict(embedding_dim=3, hidden=(5, 4), reg=0.3, lr=0.01, n_epochs=2, batch_size=7, seed=4)
    a = NCF(**kwargs).fit(ratings, sample_weight=weights)
    b = NCF(**kwargs).fit(ratings.with_values(values), sample_weight=weights)
    for name in a.params_:
        np.testing.assert_array_equal(a.params_[name], b.params_[name])
    assert a.mu_ == pytest.approx(np.delete(ratings.values, k).mean(), rel=1e-14)
    assert not np.array_equal(a.params_["P"], NCF(**kwargs).fit(ratings).params_["P"])


def test_a_full_batch_weighted_fit_solves_the_problem_without_the_zero_weight_ratings():
    """With full batches, a fit whose sample_weight is 0 on one rating starts from the same point
    as a fit on ratings.without(...) (same seed, same shape) with (N - 1) / N times its loss
    (module docstring), and its first Adam step is the same: a sign step of size lr, the same for
    both gradients up to Adam's eps (which weighs (N - 1) / N more in the smaller gradient: a
    difference of about lr eps / (sqrt(1 - beta2) |g| N) per parameter, far below what keeping
    the rating would change)."""
    ratings = small_ratings()
    n, k = len(ratings), 4
    weights = np.ones(n)
    weights[k] = 0.0
    reduced = ratings.without(int(ratings.rows[k]), int(ratings.cols[k]))
    kwargs = dict(embedding_dim=3, hidden=(5, 4), reg=0.7, lr=0.01, n_epochs=1, seed=2)
    weighted = NCF(batch_size=n, **kwargs).fit(ratings, sample_weight=weights)
    removed = NCF(batch_size=n - 1, **kwargs).fit(reduced)
    kept = NCF(batch_size=n, **kwargs).fit(ratings)
    assert weighted.history_["loss"].iloc[0] * n / (n - 1) == pytest.approx(removed.history_["loss"].iloc[0],
                                                                           rel=1e-12)
    for name in removed.params_:
        np.testing.assert_allclose(weighted.params_[name], removed.params_[name], rtol=0, atol=1e-5, err_msg=name)
    assert max(np.abs(kept.params_[name] - removed.params_[name]).max() for name in removed.params_) > 1e-4


@pytest.mark.parametrize("weights, error, message", [
    (np.ones(3), ValueError, r"one weight per training rating, shape \(\d+,\)"),
    (-np.ones(1), ValueError, "must be >= 0"),
    (np.zeros(1), ValueError, "0 for every rating"),
    (np.full(1, np.nan), ValueError, "NaN or inf"),
    ("abc", TypeError, "array of numbers"),
])
def test_bad_sample_weight_raises_naming_it(weights, error, message):
    ratings = small_ratings()
    if isinstance(weights, np.ndarray) and weights.shape == (1,):
        weights = np.full(len(ratings), weights[0])
    model = NCF(n_epochs=1)
    with pytest.raises(error, match=f"sample_weight.*{message}"):
        model.fit(ratings, sample_weight=weights)
    assert not hasattr(model, "params_")


def test_eval_set_is_scored_every_epoch():
    ratings = small_ratings()
    train, test = ratings.split(0.25, seed=0)
    model = NCF(embedding_dim=3, hidden=(4,), n_epochs=2, batch_size=4).fit(train, eval_set=test)
    assert list(model.history_.columns) == ["epoch", "loss", "train_rmse", "test_rmse", "seconds"]
    assert model.history_["test_rmse"].iloc[-1] == pytest.approx(model.rmse(test), rel=1e-12)


# =============================================================== prediction
@pytest.fixture(scope="module")
def fitted():
    ratings = small_ratings()
    return ratings, NCF(embedding_dim=3, hidden=(5, 4), reg=0.2, lr=0.01, n_epochs=5, batch_size=8).fit(ratings)


def test_predict_is_the_formula_and_keeps_the_shape_of_its_input(fitted):
    ratings, model = fitted
    rows, cols = np.array([[0, 3], [11, 2]]), np.array([[1, 8], [0, 4]])
    scores = model.predict(rows, cols)
    assert scores.shape == (2, 2)
    for u, i, s in zip(rows.ravel(), cols.ravel(), scores.ravel()):
        assert s == pytest.approx(reference_predict(model.params_, model.mu_, u, i), rel=1e-12)
    assert model.predict([], []).shape == (0,)
    assert model.shape == (12, 9)


def test_predict_matrix_equals_predict_on_every_pair(fitted):
    _, model = fitted
    rows, cols = np.meshgrid(np.arange(12), np.arange(9), indexing="ij")
    np.testing.assert_allclose(model.predict_matrix(chunk=5), model.predict(rows, cols), rtol=1e-12, atol=1e-12)


def test_recommend_returns_the_best_unseen_items(fitted):
    ratings, model = fitted
    top = model.recommend(0, n=3)
    seen = set(ratings.cols[ratings.rows == 0])
    unseen = [i for i in range(9) if i not in seen]
    scores = model.predict(np.zeros(len(unseen), dtype=int), np.array(unseen))
    best = [unseen[k] for k in np.argsort(-scores, kind="stable")[:3]]
    assert top["item"].tolist() == best
    assert list(top.columns) == ["item", "title", "score"]


def test_repr_shows_the_changed_hyperparameters():
    assert repr(NCF(embedding_dim=8, reg=1.0)) == "NCF(embedding_dim=8, reg=1.0)"


# =============================================================== bad input
# bad hyperparameters: tests/test_models_contract.py
def test_bad_calls_raise_clear_errors(fitted):
    ratings, model = fitted
    with pytest.raises(TypeError, match="Ratings"):
        NCF().fit(ratings.to_dense())
    with pytest.raises(ValueError, match="eval_set has shape"):
        NCF(n_epochs=1).fit(ratings, eval_set=Ratings([0], [0], [3.0], shape=(2, 2)))
    with pytest.raises(TypeError, match="init must be a fitted NCF"):
        NCF(n_epochs=1).fit(ratings, init=mt.ALS(rank=2).fit(ratings))
    with pytest.raises(ValueError, match="init does not match"):
        NCF(embedding_dim=4, hidden=(5, 4), n_epochs=1).fit(ratings, init=model)
    with pytest.raises(ValueError, match="rows must be integer indices"):
        model.predict([12], [0])
    with pytest.raises(ValueError, match="same shape"):
        model.predict([0, 1], [0])
    with pytest.raises(RuntimeError, match="not fitted"):
        NCF().predict([0], [0])
    with pytest.raises(ValueError, match="params must be a dict"):
        ncf.loss(ratings, {"P": model.P_}, 0.0)


def test_a_learning_rate_that_blows_up_raises_divergence_error():
    with pytest.raises(DivergenceError, match="lr=1e\\+06"):
        NCF(embedding_dim=3, hidden=(4,), lr=1e6, n_epochs=3, batch_size=4).fit(small_ratings())


# =============================================================== MovieLens
def test_ml100k_ncf_beats_the_global_mean_after_a_few_epochs(ml100k):
    train, test = ml100k.split(0.2, seed=0)
    model = NCF(n_epochs=3, seed=0).fit(train, eval_set=test)
    mean_rmse = float(np.sqrt(np.mean((test.values - train.values.mean()) ** 2)))
    assert model.rmse(test) < mean_rmse
    assert model.history_["test_rmse"].iloc[-1] == pytest.approx(model.rmse(test), rel=1e-12)
    assert copy.copy(model).predict([0], [0]) == model.predict([0], [0])


# =============================================================== issue 15, item 5
def test_divergence_from_the_start_names_init_scale_not_the_learning_rate():
    ratings = small_ratings()
    with pytest.raises(DivergenceError, match=r"a smaller learning rate will not help: init_scale=1e\+200"):
        NCF(embedding_dim=3, hidden=(4,), n_epochs=2, init_scale=1e200).fit(ratings)
    with pytest.raises(ValueError, match=r"the ratings are too large"):
        NCF(embedding_dim=3, hidden=(4,), n_epochs=2).fit(ratings.with_values(ratings.values * 1e200))
