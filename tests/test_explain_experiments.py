"""mfteach/explain/experiments.py: the Figure-1 experiment and Appendix A of FATREC 2017.

Tolerances. Under Hypothesis 1 a change of r_uk moves u_u (a ridge fit on |Omega_u| ratings, whose
response to one rating is of order 1/|Omega_u|) and, much less, the v_i (ridge fits on |Omega^i|
ratings, order 1/|Omega^i|). J of eq. (2) is exact for the first part; the second part is what J
misses and what differs between two users with the same rated set. So relative to the change itself
both errors are of order |Omega_u| / |Omega^i|: the tests bound them by twice that ratio, and check
that they shrink when every item gets 20 times more raters (expected ~20x; asserted >= 4x).
"""

import numpy as np
import pytest

import mfteach as mt
from mfteach.als import update_users
from mfteach.explain import influence_matrix
from mfteach.explain.experiments import (
    appendix_a_experiment, balanced_factors, converge, figure1_experiment, fully_observed_minimizer,
    identical_rated_sets, same_set_experiment,
)


def planted_pair(m, n=10, rank=2, density=0.6, seed=0):
    """Synthetic ratings in which user 1 rated exactly user 0's items, with other values."""
    ratings, _, _ = mt.synthetic(m, n, rank, density=density, noise=0.3, seed=seed)
    R = ratings.to_dense()
    R[1] = np.where(np.isnan(R[0]), np.nan, np.random.default_rng(seed).normal(0, 1, n))
    return mt.Ratings.from_dense(R)


def rated(ratings, user):
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    return ratings.cols[lo:hi]


# ---------------------------------------------------------------------------- identical rated sets
def test_identical_rated_sets_finds_the_planted_groups_and_nothing_else():
    m, n = 40, 12
    # user u rates the items of the binary digits of u + 1: all sets distinct and non-empty
    R = np.where((np.arange(1, m + 1)[:, None] >> np.arange(n)) & 1, 3.0, np.nan)
    rng = np.random.default_rng(0)
    for group in ([3, 17, 25], [8, 30]):
        for user in group[1:]:
            R[user] = np.where(np.isnan(R[group[0]]), np.nan, rng.integers(1, 6, n))  # same set, other values
    R[[35, 36]] = np.nan          # two users without ratings share the empty set: not a group
    found = identical_rated_sets(mt.Ratings.from_dense(R))
    assert [users.tolist() for _, users in found] == [[3, 17, 25], [8, 30]]
    for items, users in found:
        np.testing.assert_array_equal(items, np.flatnonzero(~np.isnan(R[users[0]])))
    assert [users.tolist() for _, users in identical_rated_sets(mt.Ratings.from_dense(R), min_users=3)] == [[3, 17, 25]]


def test_identical_rated_sets_on_movielens_top_650_50(ml100k):
    ratings = ml100k.top(650, 50)
    found = identical_rated_sets(ratings)
    for items, users in found:
        for user in users:
            np.testing.assert_array_equal(rated(ratings, user), items)
    every_set = {rated(ratings, u).tobytes() for u in range(ratings.shape[0])}
    assert len(every_set) == ratings.shape[0] - sum(len(users) - 1 for _, users in found)  # the rest are unique


# ---------------------------------------------------------------------------- Figure 1
@pytest.mark.parametrize("biased", [False, True])
def test_same_rated_set_gives_the_same_J_and_nearly_the_same_retrained_change(biased):
    changes = {}
    for m in (50, 1000):
        ratings = planted_pair(m)
        model = mt.ALS(rank=2, reg=1.0, n_iters=5, biased=biased).fit(ratings)
        item = int(rated(ratings, 0)[0])
        result = same_set_experiment(model, ratings, [0, 1], item, epsilon=0.1, tol=1e-13)
        reference = converge(model, ratings, tol=1e-13)
        for user in (0, 1):            # J depends on the rated set only: one prediction for both users
            J, items = influence_matrix(reference, ratings, user)
            np.testing.assert_allclose(result.predicted, 0.1 * J[:, np.searchsorted(items, item)], atol=1e-8)
        size = np.abs(result.change).max()
        bound = 2 * len(rated(ratings, 0)) / ratings.item_counts().min()   # 2 |Omega_u| / min |Omega^i|
        assert result.max_abs_difference <= bound * size
        assert result.max_abs_error_J <= bound * size
        np.testing.assert_allclose(result.max_abs_difference, np.abs(result.change[0] - result.change[1]).max())
        assert result.correlation == pytest.approx(np.corrcoef(result.change)[0, 1])
        changes[m] = (result.max_abs_difference / size, result.max_abs_error_J / size)
    assert changes[50][0] >= 4 * changes[1000][0]   # 20x more raters per item: the users' changes converge
    assert changes[50][1] >= 4 * changes[1000][1]   # ... and J's prediction becomes exact


def test_the_change_is_linear_in_epsilon_and_tends_to_a_limit_near_J():
    ratings = planted_pair(300)
    model = converge(mt.ALS(rank=2, reg=1.0, n_iters=5).fit(ratings), ratings, tol=1e-14)
    item = int(rated(ratings, 0)[0])
    quotient = {eps: figure1_experiment(model, ratings, [0, 1], item, epsilon=eps, tol=1e-14).change / eps
                for eps in (0.025, 0.05, 0.1)}
    # Taylor: change / eps = D + eps H / 2 + O(eps^2), so the quotient's drift doubles with eps
    small, large = np.abs(quotient[0.05] - quotient[0.025]).max(), np.abs(quotient[0.1] - quotient[0.05]).max()
    assert 1.6 <= large / small <= 2.4
    assert small < 1e-2 * np.abs(quotient[0.025]).max()
    # the limit D is the derivative of the retrained model; J misses only the items' part
    J, items = influence_matrix(model, ratings, 0)
    J_column = J[:, np.searchsorted(items, item)]
    bound = 2 * len(items) / ratings.item_counts().min()
    assert np.abs(quotient[0.025] - J_column).max() <= bound * np.abs(J_column).max()


def test_with_the_item_factors_frozen_the_change_is_exactly_epsilon_J():
    ratings = planted_pair(80)
    model = converge(mt.ALS(rank=2, reg=1.0, n_iters=5).fit(ratings), ratings)
    item = int(rated(ratings, 0)[2])
    J, items = influence_matrix(model, ratings, 0)
    for eps in (0.1, 3.0):          # no Taylor remainder: the user's ridge solution is linear in r_u
        values = ratings.values.copy()
        values[ratings.index_of(0, item)] += eps
        U = update_users(ratings.with_values(values), model.V_, model.reg)
        np.testing.assert_allclose((U[0] - model.U_[0]) @ model.V_.T, eps * J[:, np.searchsorted(items, item)],
                                   atol=1e-10)


def test_result_fields_and_frame():
    ratings = planted_pair(60)
    model = converge(mt.ALS(rank=2, reg=1.0, n_iters=3).fit(ratings), ratings)
    item = int(rated(ratings, 1)[1])
    result = same_set_experiment(model, ratings, [1, 0], item)
    assert result.users.tolist() == [1, 0] and result.item == item and result.epsilon == 1.0
    np.testing.assert_array_equal(result.rated_items, rated(ratings, 0))
    assert result.change.shape == (2, ratings.shape[1]) and result.predicted.shape == (ratings.shape[1],)
    assert result.reference_iterations == 1          # the model was converged: nothing left to do
    assert (result.iterations >= 1).all()
    frame = result.frame()
    assert list(frame.columns) == ["user 1", "user 0", "J prediction"]
    np.testing.assert_array_equal(frame["user 0"], result.change[1])
    with pytest.raises(AttributeError):
        result.item = 0                               # frozen


def test_converge_reaches_a_fixed_point():
    ratings = planted_pair(60)
    model = converge(mt.ALS(rank=2, reg=1.0, n_iters=3).fit(ratings), ratings, tol=1e-13)
    again = converge(model, ratings, tol=1e-13)
    assert len(again.history_) == 2
    np.testing.assert_allclose(again.predict_matrix(), model.predict_matrix(), atol=1e-6)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        converge(mt.ALS(rank=2, reg=1.0, n_iters=1).fit(ratings), ratings, tol=1e-13, max_iters=2)


def test_bad_input_is_refused():
    ratings = planted_pair(30)
    model = mt.ALS(rank=2, reg=1.0, n_iters=3).fit(ratings)
    item = int(rated(ratings, 0)[0])
    other = int(np.setdiff1d(np.arange(ratings.shape[1]), rated(ratings, 0))[0])
    with pytest.raises(TypeError, match="mfteach.ALS"):
        same_set_experiment(mt.Baseline().fit(ratings), ratings, [0, 1], item)
    with pytest.raises(ValueError, match="did not rate the same items"):
        same_set_experiment(model, ratings, [0, 2], item)
    with pytest.raises(ValueError, match="one of the items the users rated"):
        same_set_experiment(model, ratings, [0, 1], other)
    with pytest.raises(ValueError, match="at least 2"):
        same_set_experiment(model, ratings, [0], item)
    with pytest.raises(ValueError, match="distinct"):
        same_set_experiment(model, ratings, [0, 0], item)
    with pytest.raises(ValueError, match="row indices"):
        same_set_experiment(model, ratings, [0, 99], item)
    with pytest.raises(ValueError, match="epsilon"):
        same_set_experiment(model, ratings, [0, 1], item, epsilon=0.0)
    with pytest.raises(ValueError, match="model was fitted on"):
        same_set_experiment(model, planted_pair(31), [0, 1], item)
    with pytest.raises(ValueError, match="min_users"):
        identical_rated_sets(ratings, min_users=0)
    with pytest.raises(TypeError, match="Ratings"):
        identical_rated_sets(ratings.to_dense())


# ---------------------------------------------------------------------------- Appendix A
def test_balanced_factors_keep_the_predictions_and_balance_the_grams():
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(30, 3)) * [5.0, 1.0, 0.2], rng.normal(size=(8, 3))
    U_b, V_b = balanced_factors(U, V)
    np.testing.assert_allclose(U_b @ V_b.T, U @ V.T, atol=1e-10)
    gram = U_b.T @ U_b
    np.testing.assert_allclose(gram, V_b.T @ V_b, atol=1e-10)
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-10)


def test_fully_observed_minimizer_is_where_als_converges():
    ratings, _, _ = mt.synthetic(25, 12, 3, density=1.0, noise=0.2, seed=1)
    U, V = fully_observed_minimizer(ratings.to_dense(), 3, 0.5)
    als = mt.ALS(rank=3, reg=0.5, n_iters=1).fit(ratings, init=(U, V))      # a fixed point of ALS ...
    np.testing.assert_allclose(als.U_, U, atol=1e-10)
    np.testing.assert_allclose(als.V_, V, atol=1e-10)
    cold = mt.ALS(rank=3, reg=0.5, n_iters=20_000, tol=1e-15, seed=0).fit(ratings)   # ... and its limit
    np.testing.assert_allclose(cold.predict_matrix(), U @ V.T, atol=1e-5)


def test_appendix_a_ratio_follows_users_over_items():
    shapes = [(10, 1000), (10, 100), (10, 10), (100, 10), (1000, 10)]
    frame = appendix_a_experiment(shapes, rank=3, n_perturbations=8)
    assert frame[["n_users", "n_items"]].to_numpy().tolist() == [list(s) for s in shapes]
    np.testing.assert_allclose(frame["ratio_predicted"], (frame["n_users"] - 1) / (frame["n_items"] - 1))
    np.testing.assert_allclose(frame["count_ratio"], frame["ratio_predicted"])       # fully observed
    # balanced factors have tr(U^T U) = tr(V^T V): equal-scale rows need c^2 = sqrt(m / n) exactly
    np.testing.assert_allclose(frame["ratio_observed"] / frame["ratio_balanced"],
                               np.sqrt(frame["n_users"] / frame["n_items"]), rtol=1e-9)
    # the shapes are in increasing m / n, by factors of 10
    assert frame["ratio_observed"].is_monotonic_increasing and frame["share_ratio"].is_monotonic_increasing
    assert frame["ratio_balanced"].is_monotonic_increasing
    # one perturbation's ratio is a ratio of two k-vector norms: spread ~ e^{+-1.4} (2 sd, k = 3);
    # the geometric mean of 8 narrows that to about e^{+-0.5}; with m / n vs (m-1) / (n-1): factor 3
    for column in ("ratio_observed", "share_ratio"):
        factor = frame[column] / frame["ratio_predicted"]
        assert factor.between(1 / 3, 3).all(), (column, factor.tolist())
    assert (frame["ratio_min"] <= frame["ratio_observed"]).all()
    assert (frame["ratio_observed"] <= frame["ratio_max"]).all()
    again = appendix_a_experiment(shapes[2:4], rank=3, n_perturbations=8)
    np.testing.assert_array_equal(again.to_numpy(), frame.iloc[2:4].to_numpy())   # deterministic


def test_appendix_a_sparse_analogue_and_bad_input():
    frame = appendix_a_experiment([(200, 10), (10, 200)], rank=2, density=0.5, n_perturbations=4)
    assert frame["ratio_observed"][0] > 1 > frame["ratio_observed"][1]
    assert (frame["count_ratio"] != frame["ratio_predicted"]).all()
    with pytest.raises(ValueError, match="every shape"):
        appendix_a_experiment([(1, 10)])
    with pytest.raises(ValueError, match="every shape"):
        appendix_a_experiment([(10, 4)], rank=4)
    with pytest.raises(ValueError, match="density"):
        appendix_a_experiment([(10, 10)], density=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        appendix_a_experiment([(10, 10)], epsilon=float("nan"))
