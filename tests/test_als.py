"""Explicit ALS (lecture slides, "Alternating Least Squares"): the closed-form half-steps,
their ridge solver, the fitted model.

The tests assert the mathematics, with every expected value derived independently of the code
under test (dense numpy with NaN for unknown entries, ``numpy.linalg.lstsq``):

- every half-step zeros the gradient of the slides' objective
  sum_Omega (r_ui - u_u . v_i)^2 + lambda (sum ||u_u||^2 + sum ||v_i||^2) with respect to its
  block (plain, ALS-WR weighted, and with biases), so it is that block's exact minimizer;
- hence the objective never increases across half-steps;
- the closed form (X^T X + lambda I)^-1 X^T y equals the least-squares solution of the stacked
  problem [X; sqrt(lambda) I] w = [y; 0], for every method ("loop", "bucket", "outer");
- lambda = 0 with a rank-deficient block is refused with a message naming the group;
- planted low-rank structure is recovered, and real MovieLens test RMSE beats the biases-only
  baseline.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mfteach as mt
from mfteach.als import ALS, solve_ridge_blocks, update_items, update_users
from mfteach.ratings import Ratings


# ---------------------------------------------------------------------------- helpers
def make_ratings(seed: int, m: int = 25, n: int = 18, density: float = 0.4) -> Ratings:
    """Random ratings 1..5 on a random Omega, with user 3 and item 7 empty and user 5 having a
    single rating (fewer than the rank used in the tests): the edge cases of the half-steps."""
    rng = np.random.default_rng(seed)
    known = rng.random((m, n)) < density
    known[3, :] = False
    known[:, 7] = False
    known[5, :] = False
    known[5, 0] = True
    values = rng.integers(1, 6, size=(m, n)).astype(float)
    rows, cols = np.nonzero(known)
    return Ratings(rows, cols, values[rows, cols], shape=(m, n))


def dense(ratings: Ratings):
    """(R with 0 where unknown, the boolean mask of Omega): an independent dense view."""
    R = ratings.to_dense()
    known = ~np.isnan(R)
    return np.where(known, R, 0.0), known


def residuals(ratings, U, V, mu=0.0, b=None, c=None):
    """E with E_ui = r_ui - r_hat_ui on Omega and 0 elsewhere (dense)."""
    R, known = dense(ratings)
    P = U @ V.T
    if b is not None:
        P = P + mu + b[:, None] + c[None, :]
    return np.where(known, R - P, 0.0)


def penalty_weights(ratings, weighted):
    _, known = dense(ratings)
    if weighted:  # ALS-WR: lambda |Omega_u| ||u_u||^2 and lambda |Omega^i| ||v_i||^2
        return known.sum(axis=1).astype(float), known.sum(axis=0).astype(float)
    return np.ones(known.shape[0]), np.ones(known.shape[1])


def objective(ratings, U, V, reg, weighted=False, mu=0.0, b=None, c=None) -> float:
    """The slides' objective, summed (not divided by |Omega|), computed densely."""
    E = residuals(ratings, U, V, mu, b, c)
    wu, wi = penalty_weights(ratings, weighted)
    su, si = np.sum(U**2, axis=1), np.sum(V**2, axis=1)
    if b is not None:
        su, si = su + b**2, si + c**2
    return float(np.sum(E**2) + reg * (wu @ su + wi @ si))


def gradients(ratings, U, V, reg, weighted=False, mu=0.0, b=None, c=None) -> dict:
    """Gradient of ``objective``: d/dU = -2 E V + 2 lambda W_u U, d/dV = -2 E^T U + 2 lambda W_i V,
    d/db = -2 E 1 + 2 lambda W_u b, d/dc = -2 E^T 1 + 2 lambda W_i c."""
    E = residuals(ratings, U, V, mu, b, c)
    wu, wi = penalty_weights(ratings, weighted)
    g = {"U": -2 * E @ V + 2 * reg * wu[:, None] * U, "V": -2 * E.T @ U + 2 * reg * wi[:, None] * V}
    if b is not None:
        g["b"] = -2 * E.sum(axis=1) + 2 * reg * wu * b
        g["c"] = -2 * E.sum(axis=0) + 2 * reg * wi * c
    return g


def norm(*arrays) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(a) ** 2) for a in arrays)))


def ridge_lstsq(X, y, reg, k):
    """argmin ||X w - y||^2 + reg ||w||^2 as the least-squares solution of the stacked system
    [X; sqrt(reg) I] w = [y; 0] (numpy.linalg.lstsq, no normal equations)."""
    A = np.vstack([X.reshape(-1, k), np.sqrt(reg) * np.eye(k)])
    return np.linalg.lstsq(A, np.concatenate([y, np.zeros(k)]), rcond=None)[0]


# ---------------------------------------------------------------------------- the ridge solver
@settings(max_examples=40, deadline=None)
@given(
    n_groups=st.integers(1, 7),
    n_features=st.integers(1, 9),
    k=st.integers(1, 6),
    per_group_reg=st.booleans(),
    force_empty=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_closed_form_equals_lstsq_on_stacked_ridge_problem(n_groups, n_features, k, per_group_reg, force_empty, seed):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_features, k))
    members = [np.sort(rng.choice(n_features, size=rng.integers(0, n_features + 1), replace=False))
               for _ in range(n_groups)]
    if force_empty:
        members[rng.integers(n_groups)] = np.array([], dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum([len(g) for g in members])))
    index = np.concatenate(members).astype(np.int64)
    targets = rng.normal(size=len(index))
    reg = rng.uniform(0.05, 5.0, n_groups) if per_group_reg else float(rng.uniform(0.05, 5.0))
    regs = np.broadcast_to(reg, (n_groups,))
    expected = np.array([
        ridge_lstsq(features[members[g]], targets[indptr[g]:indptr[g + 1]], regs[g], k) for g in range(n_groups)
    ])
    loop = solve_ridge_blocks(indptr, index, targets, features, reg, method="loop")
    outer = solve_ridge_blocks(indptr, index, targets, features, reg, method="outer")
    bucket = solve_ridge_blocks(indptr, index, targets, features, reg, method="bucket")
    np.testing.assert_allclose(loop, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(outer, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bucket, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(loop, outer, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(loop, bucket, rtol=1e-10, atol=1e-10)
    for g in range(n_groups):
        if len(members[g]) == 0:  # no observations: the ridge solution is exactly 0
            assert np.all(loop[g] == 0) and np.all(outer[g] == 0) and np.all(bucket[g] == 0)


@pytest.mark.parametrize("method", ["loop", "bucket", "outer", "auto"])
def test_reg0_full_rank_blocks_are_ordinary_least_squares(method):
    rng = np.random.default_rng(3)
    k = 4
    features = rng.normal(size=(30, k))
    sizes = [12, 0, 9, 20]  # an empty group too: its minimum-norm solution is 0
    members = [rng.choice(30, size=s, replace=False) for s in sizes]
    indptr = np.concatenate(([0], np.cumsum(sizes)))
    index = np.concatenate(members).astype(np.int64)
    targets = rng.normal(size=len(index))
    got = solve_ridge_blocks(indptr, index, targets, features, 0.0, method=method)
    for g, idx in enumerate(members):
        y = targets[indptr[g]:indptr[g + 1]]
        expected = np.linalg.lstsq(features[idx], y, rcond=None)[0] if len(idx) else np.zeros(k)
        np.testing.assert_allclose(got[g], expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["loop", "bucket", "outer", "auto"])
def test_reg0_with_fewer_observations_than_unknowns_names_the_group(method):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 3))
    # group 0: 4 obs (fine); group 1: none (fine, w = 0); group 2: 2 obs < k = 3
    indptr = np.array([0, 4, 4, 6])
    index = np.array([0, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"group 2\b.*rank-deficient"):
        solve_ridge_blocks(indptr, index, rng.normal(size=6), features, 0.0, method=method)


def _duplicated_rows_problem():
    """Group 0: three generic rows (full rank); group 1: the row (1, 2, 3) four times, so
    4 >= k = 3 observations but X^T X = 4 a a^T has rank 1. Every entry of that Gram and
    of its Cholesky factor (pivot sqrt(4) = 2) is an exactly representable integer, so the
    zero pivot is exact: detecting it needs no tolerance."""
    rng = np.random.default_rng(1)
    features = np.vstack([rng.normal(size=(3, 3)), [[1.0, 2.0, 3.0]]])
    indptr = np.array([0, 3, 7])
    index = np.array([0, 1, 2, 3, 3, 3, 3])
    return indptr, index, rng.normal(size=7), features


def test_reg0_singular_block_with_enough_observations_names_the_group_loop():
    indptr, index, targets, features = _duplicated_rows_problem()
    with pytest.raises(ValueError, match=r"group 1\b.*singular"):
        solve_ridge_blocks(indptr, index, targets, features, 0.0, method="loop")


def test_reg0_singular_block_with_enough_observations_names_the_group_outer():
    indptr, index, targets, features = _duplicated_rows_problem()
    with pytest.raises(ValueError, match=r"group 1\b"):
        solve_ridge_blocks(indptr, index, targets, features, 0.0, method="outer")


@pytest.mark.parametrize("method", ["loop", "bucket", "outer"])
def test_reg0_rank_deficient_blocks_are_always_detected(method):
    rng = np.random.default_rng(0)
    for _ in range(20):
        # group 0: 3 generic rows; group 1: rows 3, 3, 4, 4 -> 4 >= k = 3 observations, rank 2
        features = rng.normal(size=(5, 3))
        indptr = np.array([0, 3, 7])
        index = np.array([0, 1, 2, 3, 3, 4, 4])
        with pytest.raises(ValueError, match=r"group 1\b"):
            solve_ridge_blocks(indptr, index, rng.normal(size=7), features, 0.0, method=method)


def test_reg0_fit_names_the_user_with_too_few_ratings():
    rng = np.random.default_rng(0)
    M = rng.integers(1, 6, size=(8, 6)).astype(float)
    M[2, 1:] = np.nan  # user 2 rated one item; every item keeps >= 7 ratings
    with pytest.raises(ValueError, match=r"user 2\b.*rank-deficient"):
        ALS(rank=3, reg=0.0, n_iters=2).fit(Ratings.from_dense(M))


def test_unknown_solver_method_raises():
    with pytest.raises(ValueError, match="method"):
        solve_ridge_blocks(np.array([0, 1]), np.array([0]), np.ones(1), np.ones((1, 2)), 1.0, method="qr")
    with pytest.raises(ValueError, match="method"):
        update_users(make_ratings(0), np.ones((18, 2)), 1.0, method="cholesky")


def test_half_steps_refuse_factors_of_the_wrong_shape_and_non_ratings():
    ratings = make_ratings(0)  # 25 x 18
    with pytest.raises(ValueError, match=r"V must be a matrix with one row per item \(18 rows\), got shape \(17, 2\)"):
        update_users(ratings, np.ones((17, 2)), 1.0)
    with pytest.raises(ValueError, match=r"U must be a matrix with one row per user \(25 rows\)"):
        update_items(ratings, np.ones(25), 1.0)
    with pytest.raises(TypeError, match="mfteach.Ratings"):
        update_users(ratings.to_dense(), np.ones((18, 2)), 1.0)


# ---------------------------------------------------------------------------- half-steps
@pytest.mark.parametrize("method", ["loop", "bucket", "outer"])
@pytest.mark.parametrize("weighted", [False, True])
def test_user_half_step_zeros_the_user_gradient(weighted, method):
    ratings, reg, k = make_ratings(0), 0.8, 4
    rng = np.random.default_rng(1)
    V = rng.normal(size=(18, k))
    reference = gradients(ratings, rng.normal(size=(25, k)), V, reg, weighted)["U"]
    U = update_users(ratings, V, reg, weighted_reg=weighted, method=method)
    assert U.shape == (25, k)
    assert norm(gradients(ratings, U, V, reg, weighted)["U"]) <= 1e-8 * norm(reference)
    assert np.all(U[3] == 0)  # user 3 has no ratings: the penalty alone pulls u_3 to 0


@pytest.mark.parametrize("method", ["loop", "bucket", "outer"])
@pytest.mark.parametrize("weighted", [False, True])
def test_item_half_step_zeros_the_item_gradient(weighted, method):
    ratings, reg, k = make_ratings(0), 0.8, 4
    rng = np.random.default_rng(2)
    U = rng.normal(size=(25, k))
    reference = gradients(ratings, U, rng.normal(size=(18, k)), reg, weighted)["V"]
    V = update_items(ratings, U, reg, weighted_reg=weighted, method=method)
    assert V.shape == (18, k)
    assert norm(gradients(ratings, U, V, reg, weighted)["V"]) <= 1e-8 * norm(reference)
    assert np.all(V[7] == 0)  # item 7 has no ratings


def test_half_steps_solve_each_users_and_items_stacked_least_squares():
    """update_users / update_items wire Omega_u and Omega^i correctly: row by row they equal
    lstsq on [V_Omega_u; sqrt(lambda) I] u = [r_Omega_u; 0] (and the mirror for items)."""
    ratings, reg, k = make_ratings(4), 0.3, 3
    R = ratings.to_dense()
    rng = np.random.default_rng(5)
    U0, V0 = rng.normal(size=(25, k)), rng.normal(size=(18, k))
    U = update_users(ratings, V0, reg)
    V = update_items(ratings, U0, reg)
    for u in range(25):
        seen = ~np.isnan(R[u])
        np.testing.assert_allclose(U[u], ridge_lstsq(V0[seen], R[u, seen], reg, k), rtol=1e-9, atol=1e-12)
    for i in range(18):
        seen = ~np.isnan(R[:, i])
        np.testing.assert_allclose(V[i], ridge_lstsq(U0[seen], R[seen, i], reg, k), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_biased_half_steps_zero_their_block_gradients(weighted):
    """Biased ALS solves for (u_u, b_u) against features (v_i, 1) and targets r - mu - c_i:
    after a user half-step the gradient w.r.t. U and b is zero, after an item half-step the
    gradient w.r.t. V and c (mu is the fixed mean training rating).

    One warm-started iteration (``fit(init=previous)``, n_iters=1) is an item half-step from the
    previous (U, b) followed by a user half-step; its V_, c_ are the item half-step's result, so
    the item block is checked at (previous U, previous b, new V, new c)."""
    ratings, reg = make_ratings(2), 0.6
    params = dict(rank=3, reg=reg, biased=True, weighted_reg=weighted, seed=3)
    model = ALS(n_iters=2, **params).fit(ratings)
    assert model.mu_ == pytest.approx(ratings.values.mean(), rel=1e-14)
    rng = np.random.default_rng(4)

    def user_block_check(m):
        g = gradients(ratings, m.U_, m.V_, reg, weighted, m.mu_, m.user_bias_, m.item_bias_)
        ref = gradients(ratings, rng.normal(size=m.U_.shape), m.V_, reg, weighted, m.mu_,
                        rng.normal(size=25), m.item_bias_)
        assert norm(g["U"], g["b"]) <= 1e-8 * norm(ref["U"], ref["b"])

    def item_block_check(U, b, m):
        g = gradients(ratings, U, m.V_, reg, weighted, m.mu_, b, m.item_bias_)
        ref = gradients(ratings, U, rng.normal(size=m.V_.shape), reg, weighted, m.mu_, b, rng.normal(size=18))
        assert norm(g["V"], g["c"]) <= 1e-8 * norm(ref["V"], ref["c"])

    user_block_check(model)  # fit ends with the user half-step
    step = ALS(n_iters=1, **params).fit(ratings, init=model)
    assert step.mu_ == model.mu_  # a warm start keeps mu
    item_block_check(model.U_, model.user_bias_, step)
    user_block_check(step)
    assert step.user_bias_[3] == 0 and step.item_bias_[7] == 0  # no data: the penalty wins


# ---------------------------------------------------------------------------- monotone descent
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_never_increases_across_manual_half_steps(weighted):
    ratings, reg, k = make_ratings(6), 0.5, 4
    rng = np.random.default_rng(7)
    U, V = rng.normal(size=(25, k)), rng.normal(size=(18, k))
    values = [objective(ratings, U, V, reg, weighted)]
    for _ in range(10):
        V = update_items(ratings, U, reg, weighted_reg=weighted)
        values.append(objective(ratings, U, V, reg, weighted))
        U = update_users(ratings, V, reg, weighted_reg=weighted)
        values.append(objective(ratings, U, V, reg, weighted))
    assert np.all(np.diff(values) <= 1e-12 * values[0]), np.diff(values)
    assert values[-1] < 0.5 * values[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_objective_never_increases_across_biased_half_steps(weighted):
    """Each warm-started one-iteration fit is an item half-step (state: previous U, b with the
    new V, c) then a user half-step (the new model): the objective, computed densely, never
    rises at either."""
    ratings, reg = make_ratings(8), 0.5
    params = dict(rank=3, reg=reg, biased=True, weighted_reg=weighted, seed=0)
    model = ALS(n_iters=1, **params).fit(ratings)

    def value(U, V, b, c):
        return objective(ratings, U, V, reg, weighted, model.mu_, b, c)

    values = [value(model.U_, model.V_, model.user_bias_, model.item_bias_)]
    for _ in range(10):
        step = ALS(n_iters=1, **params).fit(ratings, init=model)
        values.append(value(model.U_, step.V_, model.user_bias_, step.item_bias_))  # after the item half-step
        values.append(value(step.U_, step.V_, step.user_bias_, step.item_bias_))  # after the user half-step
        model = step
    assert np.all(np.diff(values) <= 1e-12 * values[0]), np.diff(values)
    assert values[-1] < values[0]


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_history_loss_is_non_increasing(biased, weighted):
    ratings = make_ratings(9)
    model = ALS(rank=4, reg=0.4, n_iters=12, biased=biased, weighted_reg=weighted, seed=2).fit(ratings)
    loss = model.history_["loss"].to_numpy()
    assert np.all(np.diff(loss) <= 1e-12 * loss[0]), np.diff(loss)
    assert loss[-1] < loss[0]


# ---------------------------------------------------------------------------- objective, history, recommend
@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_and_history_match_dense_computation(biased, weighted):
    ratings, reg, n_iters = make_ratings(10), 0.7, 5
    test = make_ratings(11)
    model = ALS(rank=3, reg=reg, n_iters=n_iters, biased=biased, weighted_reg=weighted, seed=1)
    model.fit(ratings, eval_set=test)
    biases = (model.mu_, model.user_bias_, model.item_bias_) if biased else (0.0, None, None)
    expected = objective(ratings, model.U_, model.V_, reg, weighted, *biases)
    assert model.objective() == pytest.approx(expected, rel=1e-12)
    # objective on other data: its own Omega (and its own counts for ALS-WR)
    assert model.objective(test) == pytest.approx(objective(test, model.U_, model.V_, reg, weighted, *biases), rel=1e-12)

    h = model.history_
    assert list(h.columns) == ["epoch", "loss", "train_rmse", "test_rmse", "seconds"]
    assert h["epoch"].tolist() == list(range(n_iters + 1))
    E_train = residuals(ratings, model.U_, model.V_, *biases)
    E_test = residuals(test, model.U_, model.V_, *biases)
    assert h["loss"].iloc[-1] == pytest.approx(expected / len(ratings), rel=1e-12)
    assert h["train_rmse"].iloc[-1] == pytest.approx(np.sqrt(np.sum(E_train**2) / len(ratings)), rel=1e-12)
    assert h["train_rmse"].iloc[-1] == pytest.approx(model.rmse(ratings), rel=1e-12)
    assert h["test_rmse"].iloc[-1] == pytest.approx(np.sqrt(np.sum(E_test**2) / len(test)), rel=1e-12)
    assert np.all(np.diff(h["seconds"]) >= 0) and h["seconds"].iloc[0] == 0
    # predictions are u_u . v_i (+ mu + b_u + c_i)
    R, known = dense(ratings)
    np.testing.assert_allclose(model.predict_matrix()[known], R[known] - E_train[known], rtol=1e-12, atol=1e-12)


def test_recommend_returns_the_best_unseen_items():
    ratings = make_ratings(12)
    model = ALS(rank=3, reg=0.5, n_iters=5).fit(ratings)
    R = ratings.to_dense()
    for user in (0, 3, 5, 11):
        seen = np.flatnonzero(~np.isnan(R[user]))
        scores = model.predict_matrix()[user].copy()
        rec = model.recommend(user, n=6)
        assert not set(rec["item"]) & set(seen)
        np.testing.assert_allclose(rec["score"], scores[rec["item"]], rtol=1e-12)
        unseen_scores = np.delete(scores, seen)
        np.testing.assert_allclose(rec["score"], np.sort(unseen_scores)[::-1][:6], rtol=1e-12)
        everything = model.recommend(user, n=6, exclude_seen=False)
        np.testing.assert_allclose(everything["score"], np.sort(scores)[::-1][:6], rtol=1e-12)
        # asking for more than there are: only the unseen items, best first
        all_unseen = model.recommend(user, n=100)
        assert len(all_unseen) == 18 - len(seen)
        assert np.all(np.diff(all_unseen["score"]) <= 0)


# ---------------------------------------------------------------------------- determinism, validation
@pytest.mark.parametrize("biased", [False, True])
def test_same_seed_same_fit_different_seed_different_factors(biased):
    ratings = make_ratings(13)
    a = ALS(rank=3, reg=0.3, n_iters=4, biased=biased, seed=5).fit(ratings, eval_set=make_ratings(14))
    b = ALS(rank=3, reg=0.3, n_iters=4, biased=biased, seed=5).fit(ratings, eval_set=make_ratings(14))
    np.testing.assert_array_equal(a.U_, b.U_)
    np.testing.assert_array_equal(a.V_, b.V_)
    if biased:
        np.testing.assert_array_equal(a.user_bias_, b.user_bias_)
        np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    pd.testing.assert_frame_equal(a.history_.drop(columns="seconds"), b.history_.drop(columns="seconds"))
    c = ALS(rank=3, reg=0.3, n_iters=4, biased=biased, seed=6).fit(ratings)
    assert np.abs(a.U_ - c.U_).max() > 1e-3
    assert np.abs(a.V_ - c.V_).max() > 1e-3


# bad hyperparameters: tests/test_models_contract.py
def test_non_ratings_input_raises_type_error():
    ratings = make_ratings(0)
    with pytest.raises(TypeError, match="Ratings"):
        ALS().fit(ratings.to_dense())
    with pytest.raises(TypeError, match="eval_set"):
        ALS().fit(ratings, eval_set=ratings.to_dense())
    other = Ratings([0], [0], [1.0], shape=(3, 3))
    with pytest.raises(ValueError, match="eval_set"):
        ALS().fit(ratings, eval_set=other)


# ---------------------------------------------------------------------------- learning
def test_recovers_a_planted_low_rank_matrix_off_omega():
    ratings, U_true, V_true = mt.synthetic(80, 60, rank=3, density=0.4, noise=0.01, seed=0)
    truth = U_true @ V_true.T
    unknown = np.isnan(ratings.to_dense())
    model = ALS(rank=3, reg=0.01, n_iters=20, seed=0).fit(ratings)
    error = np.sqrt(np.mean((model.predict_matrix() - truth)[unknown] ** 2))
    # the truth has unit variance; 0.4 m n noisy (sd 0.01) entries pin a rank-3 matrix with
    # (m + n) 3 degrees of freedom far more tightly than 5% of its spread
    assert error < 0.05 * truth[unknown].std()


@pytest.fixture(scope="module")
def ml_split(ml100k):
    return ml100k.split(0.2, seed=0)


@pytest.fixture(scope="module")
def ml_als(ml_split):
    train, test = ml_split
    return ALS(rank=20, reg=15.0, n_iters=15, biased=True, seed=0).fit(train, eval_set=test)


def test_ml100k_biased_als_beats_the_baseline(ml_split, ml_als):
    train, test = ml_split
    baseline = mt.Baseline().fit(train).rmse(test)
    als = ml_als.rmse(test)
    assert als < baseline
    # Sanity bound, not a copied number: Surprise's SGD SVD (biased MF) reaches 0.937-0.939 on
    # this 80/20 split (ARCHITECTURE.md, "Tests and benchmarks"); an exact, well-regularized
    # biased ALS at k = 20 should do at least as well, so 0.93 leaves room while catching a broken model.
    assert als < 0.93
    assert ml_als.history_["test_rmse"].iloc[-1] == pytest.approx(als, rel=1e-12)
    loss = ml_als.history_["loss"].to_numpy()
    assert np.all(np.diff(loss) <= 1e-12 * loss[0])


def test_ml100k_fitted_model_is_an_exact_user_half_step(ml_split, ml_als):
    """The last half-step of every iteration is the user one: on real data the gradient of the
    objective w.r.t. (U, b) vanishes at the fitted model."""
    train, _ = ml_split
    m, reg = train.shape[0], 15.0
    model = ml_als
    g = gradients(train, model.U_, model.V_, reg, False, model.mu_, model.user_bias_, model.item_bias_)
    rng = np.random.default_rng(0)
    ref = gradients(train, rng.normal(0, 0.1, model.U_.shape), model.V_, reg, False, model.mu_,
                    rng.normal(0, 0.1, m), model.item_bias_)
    assert norm(g["U"], g["b"]) <= 1e-8 * norm(ref["U"], ref["b"])


def test_padded_group_grams_equal_the_per_group_products():
    """mfteach/batches.py: the batched Grams X_g^T X_g of every group, whatever the batch size."""
    from mfteach.batches import PaddedGroups

    rng = np.random.default_rng(3)
    counts = rng.integers(0, 9, 23)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    index = rng.integers(0, 11, indptr[-1])
    features = rng.normal(size=(11, 4))
    expected = np.array([features[index[indptr[g]:indptr[g + 1]]].T @ features[index[indptr[g]:indptr[g + 1]]]
                         for g in range(len(counts))])
    other = rng.normal(size=(11, 3))
    crossed = np.array([features[index[indptr[g]:indptr[g + 1]]].T @ other[index[indptr[g]:indptr[g + 1]]]
                        for g in range(len(counts))])
    for batch_size in (1, 4, 16, 64):
        groups = PaddedGroups(indptr, index, 11, batch_size)
        np.testing.assert_allclose(groups.grams(features), expected, atol=1e-12)
        np.testing.assert_allclose(groups.cross(features, other), crossed, atol=1e-12)   # X_g^T Y_g: 4 x 3
        half = groups.cross(features, features[::-1], symmetric=True)
        full = groups.cross(features, features[::-1])
        np.testing.assert_allclose(half, (full + full.transpose(0, 2, 1)) / 2, atol=1e-12)


# ---------------------------------------------------------------------------- warm start and tol
@pytest.mark.parametrize("biased", [False, True])
def test_warm_start_continues_exactly_where_the_model_stopped(biased):
    """init=model then n more iterations equals one run of (n_iters + n): the iteration state is
    (U, user biases, mu), all of which the warm start carries over."""
    ratings, _, _ = mt.synthetic(40, 30, rank=3, density=0.4, seed=2)
    long = ALS(rank=3, reg=0.5, n_iters=12, biased=biased).fit(ratings)
    short = ALS(rank=3, reg=0.5, n_iters=7, biased=biased).fit(ratings)
    resumed = ALS(rank=3, reg=0.5, n_iters=5, biased=biased).fit(ratings, init=short)
    np.testing.assert_allclose(resumed.U_, long.U_, atol=1e-12)
    np.testing.assert_allclose(resumed.V_, long.V_, atol=1e-12)
    if biased:
        assert resumed.mu_ == short.mu_
        np.testing.assert_allclose(resumed.user_bias_, long.user_bias_, atol=1e-12)


def test_warm_start_keeps_the_given_mu_after_a_rating_is_removed():
    ratings, _, _ = mt.synthetic(30, 20, rank=2, density=0.5, seed=3)
    model = ALS(rank=2, reg=0.3, n_iters=10, biased=True).fit(ratings)
    smaller = ratings.without(int(ratings.rows[0]), int(ratings.cols[0]))
    assert ALS(rank=2, reg=0.3, n_iters=2, biased=True).fit(smaller, init=model).mu_ == model.mu_
    assert ALS(rank=2, reg=0.3, n_iters=2, biased=True).fit(smaller).mu_ == pytest.approx(smaller.values.mean())


def test_warm_start_rejects_wrong_shapes_and_nan():
    ratings, _, _ = mt.synthetic(10, 8, rank=2, density=0.6, seed=0)
    with pytest.raises(ValueError, match="shapes"):
        ALS(rank=2).fit(ratings, init=(np.zeros((10, 3)), np.zeros((8, 3))))
    U = np.zeros((10, 2))
    U[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ALS(rank=2).fit(ratings, init=(U, np.zeros((8, 2))))


def test_tol_stops_once_the_relative_decrease_is_small():
    ratings, _, _ = mt.synthetic(50, 40, rank=3, density=0.3, seed=4)
    model = ALS(rank=3, reg=0.5, n_iters=500, tol=1e-6).fit(ratings)
    losses = model.history_["loss"].to_numpy()
    assert len(losses) < 501
    assert losses[-2] - losses[-1] <= 1e-6 * losses[-2]
    assert np.all(losses[:-2] - losses[1:-1] > 1e-6 * losses[:-2])
    with pytest.raises(ValueError, match="tol"):
        ALS(tol=-1.0).fit(ratings)


# ---------------------------------------------------------------------------- issue 15, item 5
def test_init_scale_zero_is_refused():
    """U = 0 makes every half-step return 0: a "trained" model that predicts 0 with a normal history."""
    with pytest.raises(ValueError, match=r"init_scale must be a finite number > 0, got 0"):
        ALS(rank=3, init_scale=0).fit(make_ratings(0))


@pytest.mark.parametrize("method", ["auto", "loop", "outer", "bucket"])
def test_a_negligible_reg_names_the_singular_block_for_every_method(method):
    """numpy's bare LinAlgError: Singular matrix came out of the batched methods; every method
    must name the block, as the loop does, and say to raise reg."""
    ratings = mt.synthetic(30, 20, 3, density=0.3, seed=0)[0]
    with pytest.raises(ValueError, match=r"block of (user|item) \d+ is singular .*reg=1e-30 is negligible .*"
                                         r"larger reg"):
        ALS(rank=5, reg=1e-30, method=method).fit(ratings)


@pytest.mark.parametrize("method", ["loop", "outer", "bucket"])
@pytest.mark.parametrize("biased", [False, True])
def test_huge_ratings_or_initial_factors_raise_a_value_error_naming_the_cause(method, biased):
    ratings = mt.synthetic(30, 20, 3, density=0.3, seed=0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error
        with pytest.raises(ValueError, match=r"singular|overflow|too large"):
            ALS(rank=3, method=method, biased=biased).fit(ratings.with_values(ratings.values * 1e150))
        with pytest.raises(ValueError, match=r"ALS, iteration 1: .*overflowed.*init_scale=1e\+200 makes the initial"):
            ALS(rank=3, method=method, biased=biased, init_scale=1e200).fit(ratings)
        with pytest.raises(ValueError, match=r"the ratings are too large for float64 .*rescale them"):
            ALS(rank=3, method=method, biased=biased).fit(ratings.with_values(ratings.values * 1e300))


def test_the_singularity_check_leaves_ordinary_fits_alone(ml100k):
    """The numerical-singularity test (pivot^2 <= 64 k eps x the largest diagonal entry) is far
    from ordinary problems: MovieLens with a small reg fits with every method, to the same factors."""
    ratings = ml100k.top(300, 300)
    fits = {method: ALS(rank=8, reg=0.01, n_iters=3, method=method).fit(ratings)
            for method in ("loop", "outer", "bucket")}
    for model in fits.values():
        np.testing.assert_allclose(model.U_, fits["loop"].U_, rtol=1e-7, atol=1e-9)


def test_half_steps_reuse_blocks_of_the_same_ratings_and_refuse_blocks_of_others():
    from mfteach.als import Blocks, update_items, update_users

    ratings, _, _ = mt.synthetic(30, 20, rank=2, density=0.5, seed=3)
    V = np.random.default_rng(0).random((20, 16))
    blocks = Blocks(ratings)
    np.testing.assert_array_equal(update_users(ratings, V, 0.5, method="bucket", blocks=blocks),
                                  update_users(ratings, V, 0.5, method="bucket"))
    U = update_users(ratings, V, 0.5, blocks=blocks)
    np.testing.assert_array_equal(update_items(ratings, U, 0.5, blocks=blocks), update_items(ratings, U, 0.5))
    other, _, _ = mt.synthetic(30, 20, rank=2, density=0.5, seed=4)
    with pytest.raises(ValueError, match="blocks were built from other ratings"):
        update_users(other, V, 0.5, blocks=blocks)
