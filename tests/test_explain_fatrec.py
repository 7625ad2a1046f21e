"""mfteach/explain/fatrec.py: eq. (2) of FATREC 2017 in our notation, checked against
independent refits of the user's ridge problem."""

import numpy as np
import pytest

import mfteach as mt
from mfteach.explain import influence, influence_matrix


def small_ratings(seed=0, m=30, n=12, share=0.5):
    rng = np.random.default_rng(seed)
    R = np.where(rng.random((m, n)) < share, rng.integers(1, 6, (m, n)).astype(float), np.nan)
    R[:, 0] = rng.integers(1, 6, m)          # every user has a rating
    return mt.Ratings.from_dense(R)


def refit_user(model, ratings, user):
    """The user's ridge solution for the model's fixed V (and item biases), by lstsq on the
    stacked problem [F_Omega; sqrt(lambda) I] w = [targets; 0] (independent of the package)."""
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    items, values = ratings.cols[lo:hi], ratings.values[lo:hi]
    F = np.hstack([model.V_, np.ones((model.V_.shape[0], 1))]) if model.biased else model.V_
    targets = values - model.mu_ - model.item_bias_[items] if model.biased else values
    reg = model.reg * (len(items) if model.weighted_reg else 1)
    k = F.shape[1]
    w = np.linalg.lstsq(np.vstack([F[items], np.sqrt(reg) * np.eye(k)]), np.concatenate([targets, np.zeros(k)]),
                        rcond=None)[0]
    prediction = F @ w
    return prediction + (model.mu_ + model.item_bias_ if model.biased else 0.0)


@pytest.mark.parametrize("biased, weighted", [(False, False), (True, False), (False, True), (True, True)])
def test_J_is_the_exact_derivative_of_the_refitted_predictions(biased, weighted):
    ratings = small_ratings()
    model = mt.ALS(rank=3, reg=0.7 if not weighted else 0.1, n_iters=10, biased=biased, weighted_reg=weighted).fit(ratings)
    user = 4
    J, items = influence_matrix(model, ratings, user)
    base = refit_user(model, ratings, user)
    np.testing.assert_allclose(base, model.predict_matrix()[user], atol=1e-10)  # U_ is the exact user solution
    lo = np.searchsorted(ratings.rows, user)
    for k in range(len(items)):
        values = ratings.values.copy()
        values[lo + k] += 0.5
        changed = refit_user(model, ratings.with_values(values), user)
        np.testing.assert_allclose((changed - base) / 0.5, J[:, k], atol=1e-9)  # linear: exact, not approximate


def test_J_depends_on_which_items_were_rated_not_on_the_values():
    ratings = small_ratings(seed=1)
    model = mt.ALS(rank=3, reg=1.0, n_iters=8).fit(ratings)
    J1, items1 = influence_matrix(model, ratings, 7)
    J2, items2 = influence_matrix(model, ratings.with_values(6 - ratings.values), 7)
    np.testing.assert_array_equal(items1, items2)
    np.testing.assert_allclose(J1, J2, atol=0)


def test_two_users_with_the_same_rated_set_get_the_same_J():
    R = small_ratings(seed=2).to_dense()
    R[1] = np.where(np.isnan(R[0]), np.nan, 6 - np.nan_to_num(R[0]))  # user 1 rated exactly user 0's items
    ratings = mt.Ratings.from_dense(R)
    model = mt.ALS(rank=3, reg=1.0, n_iters=8, biased=True).fit(ratings)
    J0, items0 = influence_matrix(model, ratings, 0)
    J1, items1 = influence_matrix(model, ratings, 1)
    np.testing.assert_array_equal(items0, items1)
    np.testing.assert_allclose(J0, J1, atol=0)


@pytest.mark.parametrize("biased, weighted", [(False, False), (True, False), (False, True), (True, True)])
def test_influence_is_row_item_of_the_influence_matrix(biased, weighted):
    """influence forms only J[item] = F_Omega A^{-1} f_item; it must be that row of J, in the
    frame's order (largest |influence| first), with the ratings and impacts of the same items."""
    ratings = small_ratings(seed=3)
    model = mt.ALS(rank=3, reg=0.1 if weighted else 0.7, n_iters=6, biased=biased, weighted_reg=weighted).fit(ratings)
    for user in (0, 9, 29):
        J, items = influence_matrix(model, ratings, user)
        lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
        for item in range(ratings.shape[1]):
            frame = influence(model, ratings, user, item)
            position = np.searchsorted(items, frame["item"].to_numpy())   # where each row's item sits in Omega_u
            np.testing.assert_array_equal(items[position], frame["item"])
            np.testing.assert_allclose(frame["influence"], J[item, position], rtol=1e-10, atol=1e-13)
            np.testing.assert_array_equal(frame["rating"], ratings.values[lo:hi][position])
            assert list(frame.columns) == ["item", "title", "rating", "influence", "impact"]
            assert list(frame.index) == list(range(len(items)))


@pytest.mark.parametrize("biased, weighted", [(False, False), (True, False), (False, True), (True, True)])
def test_impacts_plus_baseline_sum_to_the_prediction(ml100k, biased, weighted):
    ratings = ml100k.top(650, 50)
    model = mt.ALS(rank=4, reg=0.05 if weighted else 1.0, n_iters=15, biased=biased, weighted_reg=weighted).fit(ratings)
    for user, item in [(0, 10), (15, 3), (210, 49)]:
        frame = influence(model, ratings, user, item)
        assert frame["impact"].sum() + frame.attrs["baseline"] == pytest.approx(frame.attrs["prediction"], abs=1e-8)
        assert frame.attrs["prediction"] == pytest.approx(model.predict([user], [item])[0], abs=1e-12)
        assert list(frame["influence"].abs()) == sorted(frame["influence"].abs(), reverse=True)
        lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
        assert sorted(frame["item"]) == sorted(ratings.cols[lo:hi])
        assert set(frame["title"]) == set(ratings.item_titles[ratings.cols[lo:hi]])
        if not biased:
            np.testing.assert_allclose(frame["impact"], frame["influence"] * frame["rating"])


def test_bad_input_is_refused():
    ratings = small_ratings()
    model = mt.ALS(rank=2, n_iters=3).fit(ratings)
    with pytest.raises(TypeError, match="mfteach.ALS"):
        influence(mt.Baseline().fit(ratings), ratings, 0, 0)
    with pytest.raises(ValueError, match="user must be a row index"):
        influence(model, ratings, 99, 0)
    with pytest.raises(ValueError, match="item must be a column index"):
        influence(model, ratings, 0, 99)
    with pytest.raises(ValueError, match="model was fitted on"):
        influence(model, small_ratings(m=5), 0, 0)
    R = ratings.to_dense()
    R[3] = np.nan
    R[3, 0] = np.nan
    sparse_user = mt.Ratings.from_dense(R)
    refit = mt.ALS(rank=2, n_iters=3).fit(sparse_user)
    with pytest.raises(ValueError, match="user 3 has no ratings"):
        influence(refit, sparse_user, 3, 0)
    with pytest.raises(ValueError, match="item must be a column index"):
        influence(model, ratings, 0, True)


def test_a_singular_system_is_refused_by_name():
    """reg = 0 and fewer ratings than factors: F_Omega^T F_Omega is singular, J does not exist."""
    R = np.full((6, 5), np.nan)
    R[:, :4] = np.arange(24, dtype=float).reshape(6, 4) % 5 + 1
    R[0, 1:] = np.nan                            # user 0 rated one item, the rank is 3
    ratings = mt.Ratings.from_dense(R)
    model = mt.ALS(rank=3, reg=1.0, n_iters=3).fit(ratings)
    model.reg = 0.0
    for call in (lambda: influence(model, ratings, 0, 2), lambda: influence_matrix(model, ratings, 0)):
        with pytest.raises(ValueError, match="singular"):
            call()


# ---------------------------------------------------------------------------- issue 15, item 1
def test_explanations_refuse_ratings_the_model_was_not_fitted_on(ml100k):
    """Explaining a training-set model by the TEST split's ratings broke the documented identity
    (impacts summing to the prediction) without a word; it must be refused, saying which
    ratings the model was fitted on. An equal copy of the training ratings is accepted."""
    train, test = ml100k.top(300, 200).split(seed=0)
    model = mt.ALS(rank=4, reg=1.0, n_iters=30, tol=1e-9).fit(train)
    user = int(test.rows[0])
    assert model.fingerprint_ == train.fingerprint
    for call in (lambda r: influence(model, r, user, 5), lambda r: influence_matrix(model, r, user)):
        with pytest.raises(ValueError, match=r"not the ratings this ALS was fitted on: it was fitted on 300 x 200, "
                                             rf"{len(train)} ratings, fingerprint .*these are 300 x 200, {len(test)} "
                                             r"ratings.*model\.ratings_"):
            call(test)
    copy = mt.Ratings(train.rows, train.cols, train.values, shape=train.shape)  # equal data, another object
    frame = influence(model, copy, user, 5)
    assert frame["impact"].sum() + frame.attrs["baseline"] == pytest.approx(frame.attrs["prediction"], abs=1e-9)
    with pytest.raises(ValueError, match="same|other rating values"):  # same pairs, other values: impacts would lie
        influence(model, train.with_values(6 - train.values), user, 5)
    J, _ = influence_matrix(model, train.with_values(6 - train.values), user)  # J does not depend on the values
    np.testing.assert_array_equal(J, influence_matrix(model, train, user)[0])
