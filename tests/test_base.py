"""Tests of mfteach/base.py (Recommender, FactorModel): prediction from U, V (+ biases), RMSE, top-n
recommendation, the fitted-state checks, get_params and the scikit-learn style repr.

The models here are set up by hand (a tiny FactorModel subclass with given factors), so every
expected value comes from dense numpy on those factors, independent of any training code.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach import Ratings
from mfteach.base import FactorModel, NotFittedError, Recommender, check_index


class Fixed(FactorModel):
    """A FactorModel whose factors are given, not learned."""

    def __init__(self, rank: int = 2, reg: float = 0.0, tag: str = "x", biased: bool = False, extra=None):
        self.rank = rank
        self.reg = reg
        self.tag = tag
        self.biased = biased
        self.extra = extra

    def set(self, ratings, U, V, mu=None, b=None, c=None):
        self.U_, self.V_, self.ratings_ = U, V, ratings
        if self.biased:
            self.mu_, self.user_bias_, self.item_bias_ = mu, b, c
        return self


TITLES = ["Alien", "Brazil", "Casablanca", "Dune", "Eraserhead", "Fargo"]


def small(biased=False, seed=0):
    """A 4 x 6 Ratings with titles and original ids 10, 20, ..., and random factors."""
    R = np.array([[5, np.nan, np.nan, 2, np.nan, 1],
                  [np.nan, 2, 3, np.nan, 2, 1],
                  [1, 5, 5, 4, 3, 5],  # user 2 has rated every item
                  [np.nan, np.nan, 2, np.nan, np.nan, 3]])
    ratings = Ratings.from_dense(R, items=np.arange(10, 70, 10), item_titles=TITLES)
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    model = Fixed(rank=3, biased=biased)
    if biased:
        model.set(ratings, U, V, 3.2, rng.normal(size=4), rng.normal(size=6))
    else:
        model.set(ratings, U, V)
    return model, ratings, R


def dense_prediction(model):
    """R_hat entry by entry: u_u . v_i (+ mu + b_u + c_i)."""
    m, n = model.U_.shape[0], model.V_.shape[0]
    out = np.empty((m, n))
    for u in range(m):
        for i in range(n):
            out[u, i] = sum(model.U_[u, k] * model.V_[i, k] for k in range(model.U_.shape[1]))
            if model.biased:
                out[u, i] += model.mu_ + model.user_bias_[u] + model.item_bias_[i]
    return out


# ---------------------------------------------------------------- prediction
@pytest.mark.parametrize("biased", [False, True])
def test_predict_equals_the_dense_matrix_at_the_given_pairs(biased):
    model, _, _ = small(biased)
    full = dense_prediction(model)
    rows = np.array([0, 3, 3, 1, 0, 2])
    cols = np.array([5, 0, 0, 2, 1, 4])  # a repeated pair too
    np.testing.assert_allclose(model.predict(rows, cols), full[rows, cols], rtol=1e-13)
    # any shape of index arrays, and plain lists / numpy scalars
    grid_r, grid_c = np.meshgrid(np.arange(4), np.arange(6), indexing="ij")
    np.testing.assert_allclose(model.predict(grid_r, grid_c), full, rtol=1e-13)
    np.testing.assert_allclose(model.predict([1, 2], [3, 4]), full[[1, 2], [3, 4]], rtol=1e-13)
    assert model.predict(np.int32(2), np.int64(5)) == pytest.approx(full[2, 5], rel=1e-13)


@pytest.mark.parametrize("biased", [False, True])
def test_predict_matrix_equals_the_dense_matrix_and_leaves_the_factors_alone(biased):
    model, _, _ = small(biased)
    U, V = model.U_.copy(), model.V_.copy()
    P = model.predict_matrix()
    assert P.shape == (4, 6)
    np.testing.assert_allclose(P, dense_prediction(model), rtol=1e-13)
    np.testing.assert_allclose(model.predict_matrix(), P)  # no state changed by the first call
    np.testing.assert_array_equal(model.U_, U)
    np.testing.assert_array_equal(model.V_, V)
    assert model.shape == (4, 6)


@pytest.mark.parametrize("biased", [False, True])
def test_rmse_equals_the_dense_formula(biased):
    model, ratings, R = small(biased)
    P = dense_prediction(model)
    known = ~np.isnan(R)
    expected = np.sqrt(np.sum((R[known] - P[known]) ** 2) / known.sum())
    assert model.rmse(ratings) == pytest.approx(expected, rel=1e-13)
    # on a subset: only its entries count
    sub = Ratings([0, 3], [3, 5], [2.0, 3.0], shape=(4, 6))
    assert model.rmse(sub) == pytest.approx(np.sqrt(((2 - P[0, 3]) ** 2 + (3 - P[3, 5]) ** 2) / 2), rel=1e-13)
    # a perfect model has RMSE 0
    exact = Ratings(ratings.rows, ratings.cols, P[ratings.rows, ratings.cols], shape=(4, 6))
    assert model.rmse(exact) == pytest.approx(0.0, abs=1e-12)


def test_rmse_rejects_other_shapes_and_non_ratings():
    model, ratings, R = small()
    with pytest.raises(ValueError, match=r"shape \(4, 7\)"):
        model.rmse(Ratings([0], [6], [1.0], shape=(4, 7)))
    with pytest.raises(TypeError, match="Ratings"):
        model.rmse(R)


@pytest.mark.parametrize(
    "rows, cols, message",
    [
        ([4], [0], "rows"),  # m = 4
        ([0], [6], "cols"),  # n = 6
        ([-1], [0], "rows"),  # numpy would silently wrap to the last user
        ([0], [-1], "cols"),
        ([0.0], [1], "rows"),
        ([0], [1.5], "cols"),
        ([0, 1], [1], "same shape"),
    ],
)
def test_predict_rejects_bad_indices(rows, cols, message):
    model, _, _ = small()
    with pytest.raises(ValueError, match=message):
        model.predict(rows, cols)


def test_predict_on_no_pairs_returns_an_empty_array():
    model, _, _ = small()
    out = model.predict([], [])
    assert out.shape == (0,)


# ---------------------------------------------------------------- fitted state
@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.predict([0], [0]),
        lambda m: m.predict_matrix(),
        lambda m: m.rmse(Ratings([0], [0], [1.0])),
        lambda m: m.recommend(0),
        lambda m: m.shape,
    ],
    ids=["predict", "predict_matrix", "rmse", "recommend", "shape"],
)
@pytest.mark.parametrize("make", [Fixed, lambda: mt.GradientDescent(rank=3)], ids=["FactorModel", "GradientDescent"])
def test_an_unfitted_model_raises_runtime_error(make, call):
    with pytest.raises(RuntimeError, match="not fitted"):
        call(make())


# ---------------------------------------------------------------- recommend
@pytest.mark.parametrize("biased", [False, True])
def test_recommend_excludes_seen_items_sorted_by_score_with_titles(biased):
    model, ratings, R = small(biased)
    P = dense_prediction(model)
    for user in (0, 1, 3):
        unseen = np.flatnonzero(np.isnan(R[user]))
        expected = unseen[np.argsort(-P[user, unseen])]
        for n in (1, 2, len(unseen), len(unseen) + 5, 100):  # n larger than what is left: all of it
            top = model.recommend(user, n=n)
            assert isinstance(top, pd.DataFrame)
            assert list(top.columns) == ["item", "title", "score"]
            assert len(top) == min(n, len(unseen))
            np.testing.assert_array_equal(top["item"], expected[:n])
            assert list(top["title"]) == [TITLES[i] for i in expected[:n]]
            np.testing.assert_allclose(top["score"], P[user, expected[:n]], rtol=1e-13)
            assert np.all(np.diff(top["score"]) <= 0)
            assert not set(top["item"]) & set(np.flatnonzero(~np.isnan(R[user])))


def test_recommend_without_excluding_seen_ranks_every_item():
    model, _, _ = small()
    P = dense_prediction(model)
    for user in range(4):
        top = model.recommend(user, n=6, exclude_seen=False)
        np.testing.assert_array_equal(top["item"], np.argsort(-P[user]))
        np.testing.assert_allclose(top["score"], np.sort(P[user])[::-1], rtol=1e-13)
        assert list(top["item"][:3]) == list(model.recommend(user, n=3, exclude_seen=False)["item"])


def test_recommend_for_a_user_who_rated_everything_is_empty():
    model, _, _ = small()
    top = model.recommend(2, n=5)
    assert len(top) == 0 and list(top.columns) == ["item", "title", "score"]


def test_recommend_without_titles_shows_the_original_item_ids():
    model, ratings, R = small()
    plain = Ratings(ratings.rows, ratings.cols, ratings.values, shape=ratings.shape, items=ratings.items)
    model.set(plain, model.U_, model.V_)
    top = model.recommend(0, n=3)
    np.testing.assert_array_equal(top["title"], plain.items[top["item"]])


@pytest.mark.parametrize("user", [-1, 4, 1.0, 1.5, True, "0", None])
def test_recommend_rejects_a_bad_user(user):
    model, _, _ = small()
    with pytest.raises(ValueError, match="user"):
        model.recommend(user)


@pytest.mark.parametrize("value", [0, 3, np.int64(2), np.int32(1)])
def test_check_index_returns_a_python_int_inside_the_range(value):
    index = check_index("user", value, 4, "row")
    assert type(index) is int and index == value


@pytest.mark.parametrize("axis, kind", [("row", "a row index"), ("column", "a column index"), (None, "an index")])
@pytest.mark.parametrize("value", [-1, 4, 1.0, True, "0", None])
def test_check_index_names_the_argument_and_its_axis(axis, kind, value):
    with pytest.raises(ValueError, match=rf"^thing must be {kind} in \[0, 4\), got {re.escape(repr(value))}$"):
        check_index("thing", value, 4, axis)


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_recommend_rejects_a_bad_n(n):
    model, _, _ = small()
    with pytest.raises(ValueError, match="n must be"):
        model.recommend(0, n=n)


def test_recommend_on_movielens_uses_the_training_titles(ml100k):
    rng = np.random.default_rng(1)
    m, n = ml100k.shape
    model = Fixed(rank=4).set(ml100k, rng.normal(size=(m, 4)), rng.normal(size=(n, 4)))
    user = 5
    seen = set(ml100k.cols[ml100k.rows == user])
    scores = model.U_[user] @ model.V_.T
    order = [i for i in np.argsort(-scores) if i not in seen]
    top = model.recommend(np.int64(user), n=10)
    np.testing.assert_array_equal(top["item"], order[:10])
    assert list(top["title"]) == list(ml100k.item_titles[order[:10]])
    assert all(isinstance(t, str) and t for t in top["title"])
    # n larger than the number of unseen movies: all of them, best first
    everything = model.recommend(user, n=5000)
    assert len(everything) == n - len(seen)
    np.testing.assert_array_equal(everything["item"], order)


def test_a_trained_gradient_descent_recommends_from_its_training_data():
    model, ratings, _ = small()
    gd_model = mt.GradientDescent(rank=2, n_epochs=5, biased=True, seed=1).fit(ratings)
    top = gd_model.recommend(1, n=2)
    P = gd_model.predict_matrix()
    unseen = np.array([0, 3])
    np.testing.assert_array_equal(top["item"], unseen[np.argsort(-P[1, unseen])])
    assert list(top["title"]) == [TITLES[i] for i in top["item"]]


# ---------------------------------------------------------------- get_params and repr
def test_get_params_lists_every_constructor_argument_in_order():
    model = Fixed(rank=3, tag="y")
    params = model.get_params()
    assert list(params) == ["rank", "reg", "tag", "biased", "extra"]  # the order of Fixed.__init__
    assert params == {"rank": 3, "reg": 0.0, "tag": "y", "biased": False, "extra": None}
    # a model rebuilt from its params has the same params (every model: tests/test_models_contract.py)
    assert Fixed(**params).get_params() == params


def test_repr_shows_only_the_non_default_parameters():
    assert repr(mt.GradientDescent(rank=3, sampling="rows")) == "GradientDescent(rank=3, sampling='rows')"
    assert repr(mt.GradientDescent()) == "GradientDescent()"
    assert repr(mt.GradientDescent(rank=10, reg=0, lr=None)) == "GradientDescent()"  # equal to the defaults
    assert repr(mt.GradientDescent(lr=0.05, biased=True, seed=3)) == "GradientDescent(lr=0.05, biased=True, seed=3)"
    assert repr(Fixed(tag="y", extra=(1, 2))) == "Fixed(tag='y', extra=(1, 2))"
    model = mt.GradientDescent(rank=4, sampling="minibatch", sample_size=64, reg=1.5)
    rebuilt = eval(repr(model), {"GradientDescent": mt.GradientDescent})  # noqa: S307 - our own repr
    assert rebuilt.get_params() == model.get_params()


def test_repr_of_a_fitted_model_is_unchanged_by_fitting():
    model, ratings, _ = small()
    gd_model = mt.GradientDescent(rank=2, n_epochs=2, sampling="rows", sample_size=2)
    before = repr(gd_model)
    gd_model.fit(ratings)
    assert repr(gd_model) == before == "GradientDescent(rank=2, n_epochs=2, sampling='rows', sample_size=2)"


# ---------------------------------------------------------------- the Recommender interface
class Shifted(Recommender):
    """A recommender that is not a factor model: r_hat_ui = s_u + t_i from two given vectors."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset

    def set(self, ratings, s, t):
        self.s_, self.t_, self.ratings_ = s, t, ratings
        return self

    @property
    def shape(self):
        mt.base.check_fitted(self)
        return (len(self.s_), len(self.t_))

    def predict(self, rows, cols):
        mt.base.check_fitted(self)
        rows, cols = mt.base.check_pairs(rows, cols, self.shape)
        return self.offset + self.s_[rows] + self.t_[cols]


def test_a_recommender_must_implement_shape_and_predict():
    with pytest.raises(TypeError, match="abstract"):
        Recommender()

    class NoPredict(Recommender):
        shape = (1, 1)

    with pytest.raises(TypeError, match="predict"):
        NoPredict()


def test_a_recommender_gets_rmse_recommend_params_and_repr_from_shape_and_predict():
    _, ratings, R = small()
    s, t = np.arange(4.0), np.array([0.5, 3.0, -1.0, 2.0, 2.0, 0.0])
    model = Shifted(offset=1.0)
    with pytest.raises(NotFittedError, match="this Shifted is not fitted yet"):
        model.recommend(0)
    model.set(ratings, s, t)
    P = 1.0 + s[:, None] + t[None, :]
    known = ~np.isnan(R)
    assert model.rmse(ratings) == pytest.approx(np.sqrt(np.mean((R[known] - P[known]) ** 2)), rel=1e-13)
    top = model.recommend(1, n=2)  # user 1 rated items 1, 2, 4, 5: left are 0 (0.5) and 3 (2.0)
    assert top["item"].tolist() == [3, 0] and top["score"].tolist() == [P[1, 3], P[1, 0]]
    assert model.get_params() == {"offset": 1.0} and repr(model) == "Shifted(offset=1.0)"
    assert model.set_params(offset=2.0) is model and model.predict([0], [0])[0] == 2.5
    with pytest.raises(ValueError, match="rows must be integer indices in \\[0, 4\\)"):
        model.predict([4], [0])


# ---------------------------------------------------------------------------- issue 15: the contract on odd input
import warnings  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mfteach.ratings import Ratings as _Ratings  # noqa: E402

FIT_SPECS = {  # every model, small and fast; extreme hyperparameters come from the strategy below
    "ALS": lambda p: mt.ALS(rank=p["rank"], reg=p["reg"], n_iters=4, init_scale=p["init_scale"]),
    "ALS outer biased": lambda p: mt.ALS(rank=p["rank"], reg=p["reg"], n_iters=4, biased=True, method="outer",
                                         init_scale=p["init_scale"]),
    "ALS bucket WR": lambda p: mt.ALS(rank=p["rank"], reg=p["reg"], n_iters=4, weighted_reg=True, method="bucket",
                                      init_scale=p["init_scale"]),
    "ALS loop": lambda p: mt.ALS(rank=p["rank"], reg=p["reg"], n_iters=4, method="loop", init_scale=p["init_scale"]),
    "GD full": lambda p: mt.GradientDescent(rank=p["rank"], reg=p["reg"], n_epochs=4, init_scale=p["init_scale"]),
    "GD minibatch biased": lambda p: mt.GradientDescent(rank=p["rank"], reg=p["reg"], n_epochs=3, sampling="minibatch",
                                                        sample_size=2, biased=True, init_scale=p["init_scale"]),
    "ImplicitALS exact": lambda p: mt.ImplicitALS(rank=p["rank"], reg=p["reg"], alpha=p["alpha"], n_iters=3,
                                                  init_scale=p["init_scale"]),
    "ImplicitALS cg": lambda p: mt.ImplicitALS(rank=p["rank"], reg=p["reg"], alpha=p["alpha"], n_iters=3, solver="cg",
                                               init_scale=p["init_scale"]),
    "NCF": lambda p: mt.NCF(embedding_dim=p["rank"], hidden=(3,), reg=p["reg"], n_epochs=2, batch_size=4,
                            init_scale=p["init_scale"]),
    "TruncatedSVD": lambda p: mt.TruncatedSVD(rank=p["rank"]),
    "Baseline": lambda p: mt.Baseline(reg_user=p["reg"], reg_item=p["reg"], n_iters=3),
    "Popularity": lambda p: mt.Popularity(),
}
_EXTREMES = [0.0, 1.0, 5.0, 1e-300, -1e-300, 1e100, -1e150, 1e150, 1e300, -1e300, 1.7e308]


@st.composite
def _raw_ratings(draw):
    """rows, cols, values and shape as a learner might pass them. Mostly a valid m x n matrix
    (m, n <= 8) whose values are uniform in [-5, 5] times a scale from 1e-300 to 1e300, maybe
    rounded, maybe with one extreme entry (up to 1.7e308); a fifth of the examples are odd
    input (NaN and infinite values, duplicates, out-of-range indices, bad shapes)."""
    m, n = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    if draw(st.integers(0, 4)) == 0:
        size = draw(st.integers(0, 14))
        rows = draw(st.lists(st.integers(-1, m), min_size=size, max_size=size))
        cols = draw(st.lists(st.integers(-1, n), min_size=size, max_size=size))
        values = draw(st.lists(st.one_of(st.floats(-5, 5), st.sampled_from(_EXTREMES + [np.nan, np.inf, -np.inf])),
                               min_size=size, max_size=size))
        shape = draw(st.sampled_from([None, (m, n), (m + 1, n + 2), (m, 0.5), (0, n)]))
        return rows, cols, values, shape
    mask = np.array(draw(st.lists(st.booleans(), min_size=m * n, max_size=m * n))).reshape(m, n)
    mask[draw(st.integers(0, m - 1)), draw(st.integers(0, n - 1))] = True
    rows, cols = np.nonzero(mask)
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, 1e-300, 1e-150, 1e50, 1e100, 1e150, 1e300]))
    values = np.array(draw(st.lists(st.floats(-5, 5), min_size=len(rows), max_size=len(rows)))) * scale
    if draw(st.booleans()):
        values = np.round(values)
    if draw(st.integers(0, 3)) == 0:
        values[draw(st.integers(0, len(values) - 1))] = draw(st.sampled_from(_EXTREMES))
    return rows, cols, values, draw(st.sampled_from([None, (m, n), (m + 2, n + 1)]))


def _expect_clean(call):
    """``call()`` returns finite numbers, or raises ValueError / TypeError with a message; numpy's
    LinAlgError, MemoryError, anything else, a NaN result or a RuntimeWarning fails."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except np.linalg.LinAlgError as error:  # a ValueError subclass, but numpy's bare message
            raise AssertionError(f"numpy's LinAlgError leaked: {error}") from error
        except (ValueError, TypeError) as error:
            assert str(error).strip(), f"{type(error).__name__} without a message"
            result = None
    noisy = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not noisy, f"RuntimeWarning(s) instead of a clear outcome: {[str(w.message) for w in noisy]}"
    if result is not None:
        assert np.all(np.isfinite(result)), f"non-finite result: {result}"
    return result


@settings(max_examples=600, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(raw=_raw_ratings(), spec=st.sampled_from(sorted(FIT_SPECS)),
       params=st.fixed_dictionaries({"rank": st.sampled_from([1, 2, 5]),
                                     "reg": st.sampled_from([0.0, 1e-30, 0.1, 10.0, 1e200]),
                                     "init_scale": st.sampled_from([0.1, 1.0, 1e-300, 1e50, 1e200]),
                                     "alpha": st.sampled_from([0.0, 40.0, 1e300])}))
def test_ratings_and_every_model_give_finite_numbers_or_a_clear_error(raw, spec, params):
    """Issue 15's fuzz: Ratings construction, then one model's fit and predict, on small random
    data with non-finite and extreme values and extreme hyperparameters. Each call returns finite
    numbers or raises ValueError / TypeError with a message; numpy's LinAlgError, MemoryError,
    NaN results and RuntimeWarnings fail (600 examples, a fixed seed, a few seconds)."""
    rows, cols, values, shape = raw
    ratings = _expect_clean(lambda: _Ratings(rows, cols, values, shape=shape).to_dense(fill=0.0))
    if ratings is None:
        return
    ratings = _Ratings(rows, cols, values, shape=shape)
    model = FIT_SPECS[spec](params)
    fitted = _expect_clean(lambda: model.fit(ratings).predict_matrix())
    if fitted is not None:
        assert model.fingerprint_ == ratings.fingerprint
        _expect_clean(lambda: model.predict(ratings.rows, ratings.cols))


@pytest.mark.parametrize("name", sorted(FIT_SPECS))
def test_every_model_remembers_the_fingerprint_of_its_training_ratings(name):
    ratings = mt.synthetic(12, 9, 2, density=0.5, seed=1)[0]
    ratings = ratings.with_values(np.abs(ratings.values) + 1.0)
    model = FIT_SPECS[name]({"rank": 2, "reg": 0.5, "init_scale": 0.1, "alpha": 2.0}).fit(ratings)
    assert model.ratings_ is ratings and model.fingerprint_ == ratings.fingerprint
