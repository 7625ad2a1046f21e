"""mfteach/retraining.py: ``mt.retrain``, the one warm-started retrain of ALS, GradientDescent
and NCF: its documented stopping rule, ratings removed for real, the warm start, NCF's weights,
and clear errors."""

import numpy as np
import pytest

import mfteach as mt
from mfteach.retraining import removed_positions


def small(seed=0, m=20, n=15, density=0.5):
    ratings, _, _ = mt.synthetic(m, n, rank=2, density=density, noise=0.3, seed=seed)
    return ratings.with_values(ratings.values + 3.0)


@pytest.fixture(scope="module")
def ratings():
    return small()


@pytest.fixture(scope="module")
def als(ratings):
    return mt.ALS(rank=2, reg=1.0, n_iters=5, biased=True).fit(ratings)


@pytest.fixture(scope="module")
def ncf(ratings):
    return mt.NCF(embedding_dim=3, hidden=(4,), reg=1.0, lr=0.01, n_epochs=2, batch_size=32).fit(ratings)


def pairs(ratings, positions):
    return [(int(ratings.rows[k]), int(ratings.cols[k])) for k in positions]


# ---------------------------------------------------------------------------- the stopping rule
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-10])
def test_als_stops_after_the_first_iteration_whose_relative_decrease_is_at_most_tol(ratings, als, tol):
    loss = mt.retrain(als, ratings, n_iters=500, tol=tol).history_["loss"].to_numpy()
    decrease = (loss[:-1] - loss[1:]) / loss[:-1]
    assert len(loss) - 1 < 500                       # stopped by tol, not by the cap
    assert (decrease[:-1] > tol).all() and decrease[-1] <= tol


def test_als_with_tol_zero_and_gd_and_ncf_run_exactly_n_iters(ratings, als, ncf):
    assert len(mt.retrain(als, ratings, n_iters=7, tol=0).history_) - 1 == 7
    assert len(mt.retrain(als, ratings, n_iters=3, tol=1e-300).history_) - 1 == 3  # capped
    gd = mt.GradientDescent(rank=2, reg=1.0, n_epochs=5).fit(ratings)
    assert len(mt.retrain(gd, ratings, n_iters=4).history_) - 1 == 4
    assert len(mt.retrain(ncf, ratings, n_iters=3).history_) - 1 == 3


def test_the_defaults_are_the_documented_ones(ratings, als, ncf):
    from mfteach.retraining import DEFAULT_ITERS, DEFAULT_TOL

    assert (DEFAULT_ITERS[mt.ALS], DEFAULT_ITERS[mt.GradientDescent], DEFAULT_ITERS[mt.NCF], DEFAULT_TOL) == \
        (1000, 1000, 5, 1e-12)
    converged = mt.retrain(als, ratings)
    loss = converged.history_["loss"].to_numpy()
    assert (loss[-2] - loss[-1]) <= 1e-12 * loss[-2] and len(loss) - 1 < 1000
    assert len(mt.retrain(ncf, ratings).history_) - 1 == 5


# ---------------------------------------------------------------------------- removed ratings
@pytest.mark.parametrize("make", [
    lambda: mt.ALS(rank=2, reg=1.0, n_iters=5),
    lambda: mt.ALS(rank=2, reg=0.3, n_iters=5, weighted_reg=True, biased=True),
    lambda: mt.GradientDescent(rank=2, reg=1.0, n_epochs=5, biased=True),
])
def test_removed_ratings_are_gone_from_the_factor_models_fit(ratings, make):
    model = make().fit(ratings)
    removed = pairs(ratings, [3, 17])
    retrained = mt.retrain(model, ratings, removed=removed, n_iters=4, tol=None)
    reference = mt.retrain(model, ratings.without([u for u, _ in removed], [i for _, i in removed]), n_iters=4)
    assert len(retrained.ratings_) == len(ratings) - 2
    assert retrained.fingerprint_ == reference.fingerprint_
    np.testing.assert_array_equal(retrained.U_, reference.U_)
    np.testing.assert_array_equal(retrained.V_, reference.V_)
    # the removed ratings' values cannot matter any more
    values = ratings.values.copy()
    values[[3, 17]] += 2.0
    moved = mt.retrain(model, ratings.with_values(values), removed=removed, n_iters=4)
    np.testing.assert_array_equal(moved.U_, retrained.U_)
    # and removing them changes the fit
    assert not np.array_equal(mt.retrain(model, ratings, n_iters=4).U_, retrained.U_)


def test_ncf_removed_ratings_get_weight_zero_so_their_values_cannot_matter(ratings, ncf):
    removed = pairs(ratings, [5])
    retrained = mt.retrain(ncf, ratings, removed=removed, n_iters=2)
    values = ratings.values.copy()
    values[5] = 1.0 if values[5] > 3 else 5.0
    moved = mt.retrain(ncf, ratings.with_values(values), removed=removed, n_iters=2)
    np.testing.assert_array_equal(moved.P_, retrained.P_)
    np.testing.assert_array_equal(moved.weights_[0], retrained.weights_[0])
    kept = mt.retrain(ncf, ratings, n_iters=2)
    assert not np.array_equal(kept.P_, retrained.P_)


# ---------------------------------------------------------------------------- warm start
def test_als_continues_from_the_model(ratings, als):
    twice = mt.retrain(mt.retrain(als, ratings, n_iters=3, tol=0), ratings, n_iters=4, tol=0)
    once = mt.retrain(als, ratings, n_iters=7, tol=0)
    np.testing.assert_allclose(twice.U_, once.U_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(twice.item_bias_, once.item_bias_, rtol=0, atol=1e-12)
    assert once.mu_ == als.mu_                        # mu kept, not recomputed
    fresh = mt.ALS(**{**als.get_params(), "n_iters": 1}).fit(ratings)
    first = mt.retrain(als, ratings, n_iters=1, tol=0)
    assert first.history_["loss"].iloc[0] == pytest.approx(als.history_["loss"].iloc[-1], rel=1e-12)
    assert fresh.history_["loss"].iloc[0] > 2 * first.history_["loss"].iloc[0]


def test_the_model_is_left_alone_and_the_settings_kept(ratings, als):
    before = als.U_.copy()
    retrained = mt.retrain(als, ratings, removed=pairs(ratings, [0]), n_iters=2)
    np.testing.assert_array_equal(als.U_, before)
    assert retrained is not als and type(retrained) is mt.ALS
    assert {k: v for k, v in retrained.get_params().items() if k not in ("n_iters", "tol")} == \
        {k: v for k, v in als.get_params().items() if k not in ("n_iters", "tol")}


def test_gd_keeps_its_fitted_learning_rate_and_seed_gives_the_same_bits(ratings):
    gd = mt.GradientDescent(rank=2, reg=1.0, n_epochs=5, sampling="entries", sample_size=30).fit(ratings)
    retrained = mt.retrain(gd, ratings, n_iters=3)
    assert retrained.lr_ == gd.lr_
    np.testing.assert_array_equal(retrained.U_, mt.retrain(gd, ratings, n_iters=3).U_)
    assert not np.array_equal(retrained.U_, mt.retrain(gd, ratings, n_iters=3, seed=gd.seed + 1).U_)


def test_ncf_continues_adam_from_the_model(ratings, ncf):
    retrained = mt.retrain(ncf, ratings, n_iters=2)
    assert retrained.adam_state_["t"] == ncf.adam_state_["t"] + 2 * int(np.ceil(len(ratings) / 32))
    assert retrained.mu_ == ncf.mu_


# ---------------------------------------------------------------------------- NCF weights
def test_ncf_sample_weight_is_passed_to_fit_and_combined_with_removed(ratings, ncf):
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(ratings))
    retrained = mt.retrain(ncf, ratings, sample_weight=weights, n_iters=2, seed=4)
    direct = mt.NCF(**{**ncf.get_params(), "n_epochs": 2, "seed": 4}).fit(ratings, init=ncf, sample_weight=weights)
    np.testing.assert_array_equal(retrained.P_, direct.P_)
    removed = pairs(ratings, [2, 9])
    both = mt.retrain(ncf, ratings, removed=removed, sample_weight=weights, n_iters=2, seed=4)
    zeroed = weights.copy()
    zeroed[[2, 9]] = 0.0
    np.testing.assert_array_equal(both.P_, mt.retrain(ncf, ratings, sample_weight=zeroed, n_iters=2, seed=4).P_)
    assert weights[2] != 0.0                                # the caller's weights are not modified


# ---------------------------------------------------------------------------- errors
def test_clear_errors(ratings, als, ncf):
    user = int(np.argmin(ratings.user_counts()))
    unrated = int(np.flatnonzero(np.isnan(ratings.to_dense()[user]))[0])
    with pytest.raises(ValueError, match=rf"removed: \({user}, {unrated}\) is not a training rating"):
        mt.retrain(als, ratings, removed=(user, unrated))
    with pytest.raises(ValueError, match=rf"removed: \({user}, {unrated}\) is not a training rating"):
        mt.retrain(ncf, ratings, removed=[pairs(ratings, [0])[0], (user, unrated)])
    with pytest.raises(ValueError, match="not a training rating"):
        mt.retrain(als, ratings, removed=(99, 0))
    with pytest.raises(ValueError, match="non-empty list"):
        mt.retrain(als, ratings, removed=[])
    with pytest.raises(TypeError, match="sample_weight applies to NCF only"):
        mt.retrain(als, ratings, sample_weight=np.ones(len(ratings)))
    with pytest.raises(ValueError, match="tol applies to ALS only"):
        mt.retrain(ncf, ratings, tol=1e-9)
    with pytest.raises(ValueError, match="lr does not apply to ALS"):
        mt.retrain(als, ratings, lr=0.1)
    with pytest.raises(ValueError, match="n_iters"):
        mt.retrain(als, ratings, n_iters=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        mt.retrain(ncf, ratings, seed=1.5)
    with pytest.raises(ValueError, match="sample_weight"):
        mt.retrain(ncf, ratings, removed=(0, int(ratings.cols[0])), sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="retrain supports"):
        mt.retrain(mt.Baseline().fit(ratings), ratings)
    with pytest.raises(ValueError):
        mt.retrain(als, small(m=5, n=4))                     # another shape
    tiny = mt.Ratings.from_dense(np.array([[4.0, np.nan], [np.nan, 3.0]]))
    with pytest.raises(ValueError, match="no ratings at all"):
        mt.retrain(mt.ALS(rank=1, n_iters=2).fit(tiny), tiny, removed=[(0, 0), (1, 1)])


def test_removed_positions_finds_every_pair_without_a_loop(ratings):
    positions = np.array([0, 7, 30, len(ratings) - 1])
    np.testing.assert_array_equal(removed_positions(ratings, pairs(ratings, positions)), positions)
    assert removed_positions(ratings, pairs(ratings, [7])[0]).tolist() == [7]


def test_the_explorer_retrain_is_mt_retrain_with_its_fixed_iterations(ratings, als):
    from mfteach.widgets.influence_retrain import RETRAIN_ITERS, retrain

    np.testing.assert_array_equal(retrain(als, ratings).U_, mt.retrain(als, ratings, n_iters=RETRAIN_ITERS, tol=0).U_)
    assert len(retrain(als, ratings).history_) - 1 == RETRAIN_ITERS


def test_mt_retrain_stays_the_function_once_its_module_is_imported():
    import mfteach.retraining  # noqa: F401  (binds mfteach.retraining, not mfteach.retrain)

    assert callable(mt.retrain) and mt.retrain is mfteach.retraining.retrain
