r"""Tests of mfteach/explain/fast_influence_ncf.py: FIA for neural collaborative filtering (KDD 2019,
section 3.3, eq. (20)-(24)).

What is checked, on a small NCF fitted to synthetic ratings:

* the local objective L_t(p_u, q_i) = sum_{R_t} e_z^2 + lambda (||p_u||^2 + ||q_i||^2): its
  gradient against finite differences of its value, its Hessian (finite differences of the
  gradient) against 2 J^T J + 2 lambda I, and the network's own second derivative with respect
  to its input (zero: ReLU hidden layers, linear output);
* FIA-NCF against the exact leave-one-out of the local problem: to first order (upweighting z
  by +-h and re-minimizing), and exactly (``exact_local``) when no ReLU changes sign;
* the theta_n term of eq. (23) against a dense Gauss-Newton solve with a finite-difference J_n;
* the frame (R_t, sides, order) and the leave-one-out validation helpers.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mfteach as mt
from mfteach import Ratings
from mfteach.base import remember_training
from mfteach.explain import fast_influence_ncf as F
from mfteach.ncf import NCF, forward

REG = 0.5


@pytest.fixture(scope="module")
def setup():
    truth, _, _ = mt.synthetic(30, 20, rank=2, density=0.35, noise=0.1, seed=0)
    ratings = Ratings(truth.rows, truth.cols, 3.0 + truth.values, shape=truth.shape)
    model = NCF(embedding_dim=3, hidden=(8, 6), reg=REG, lr=0.005, n_epochs=100, batch_size=32, seed=0).fit(ratings)
    known = set(zip(ratings.rows.tolist(), ratings.cols.tolist()))
    targets = [(u, (7 * u + 3) % 20) for u in range(30) if (u, (7 * u + 3) % 20) not in known][:4]
    for u, i in targets:  # no dead ReLU path cuts a target off its embeddings: the checks below bite
        assert (F.fia_ncf(model, ratings, u, i)["influence"].abs() > 1e-6).all()
    return ratings, model, targets


def theta_of(model, u, i):
    return np.concatenate([model.P_[u], model.Q_[i]])


def moved(model, u, i, theta):
    """A shallow copy of ``model`` whose (p_u, q_i) are ``theta``."""
    d = model.P_.shape[1]
    other = copy.copy(model)
    other.params_ = {**model.params_, "P": model.P_.copy(), "Q": model.Q_.copy()}
    other.params_["P"][u], other.params_["Q"][i] = theta[:d], theta[d:]
    return other


def fitted_on(model, ratings):
    """A shallow copy of ``model`` that counts as fitted on ``ratings`` (the explanations refuse
    other ratings than the training ones): for the "stationary" ratings below, built so that the
    fitted (p_u, q_i) are exactly the minimizer, as if the model had been fitted on them."""
    other = copy.copy(model)
    remember_training(other, ratings)
    return other


def predict_at(model, u, i, theta):
    return float(moved(model, u, i, theta).predict([u], [i])[0])


def r_t(ratings, u, i):
    return [(a, j) for a, j in zip(ratings.rows.tolist(), ratings.cols.tolist()) if a == u or j == i]


def pattern(model, ratings, u, i, theta):
    """The ReLU on/off pattern of every rating in R_t and of the target, at theta."""
    rows = np.array([a for a, _ in r_t(ratings, u, i)] + [u])
    cols = np.array([j for _, j in r_t(ratings, u, i)] + [i])
    _, (_, _, _, pre) = forward(moved(model, u, i, theta).params_, rows, cols, model.mu_)
    return np.concatenate([(a > 0).ravel() for a in pre])


# =============================================================== the local objective and its Hessian
def test_local_objective_is_the_formula_and_its_gradient_matches_finite_differences(setup):
    ratings, model, targets = setup
    for u, i in targets + [(int(ratings.rows[0]), int(ratings.cols[0]))]:  # (u, i) in training couples the blocks
        theta = theta_of(model, u, i)
        value, gradient, _ = F.local_objective(model, ratings, u, i)
        expected = sum((ratings.values[ratings.index_of(a, j)] - model.predict([a], [j])[0]) ** 2
                       for a, j in r_t(ratings, u, i)) + REG * theta @ theta
        assert value == pytest.approx(expected, rel=1e-12)
        h = 1e-6
        numeric = [(F.local_objective(model, ratings, u, i, theta + h * e)[0]
                    - F.local_objective(model, ratings, u, i, theta - h * e)[0]) / (2 * h) for e in np.eye(len(theta))]
        np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-7)


def test_hessian_of_the_squared_loss_is_exactly_2_JtJ_plus_2_reg(setup):
    """Finite differences of the analytic gradient give the true Hessian; it equals the
    Gauss-Newton matrix 2 J^T J + 2 lambda I because the network's input Hessian is zero."""
    ratings, model, targets = setup
    for u, i in targets + [(int(ratings.rows[0]), int(ratings.cols[0]))]:
        theta = theta_of(model, u, i)
        _, _, hessian = F.local_objective(model, ratings, u, i)
        h = 1e-6
        numeric = np.column_stack([(F.local_objective(model, ratings, u, i, theta + h * e)[1]
                                    - F.local_objective(model, ratings, u, i, theta - h * e)[1]) / (2 * h)
                                   for e in np.eye(len(theta))])
        np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-6)
        # and it is positive definite: the local problem has a unique Newton step
        assert np.linalg.eigvalsh(hessian).min() >= 2 * REG - 1e-9


def test_the_network_input_hessian_is_zero(setup):
    """Second differences of r_hat along random directions in (p_u, q_i) (mixed derivatives
    included) vanish: r_hat is piecewise linear in the embeddings."""
    ratings, model, targets = setup
    rng = np.random.default_rng(0)
    h = 1e-5
    for u, i in targets:
        theta = theta_of(model, u, i)
        for _ in range(5):
            direction = rng.normal(size=theta.size)
            second = (predict_at(model, u, i, theta + h * direction) - 2 * predict_at(model, u, i, theta)
                      + predict_at(model, u, i, theta - h * direction)) / h**2
            assert abs(second) < 1e-4  # rounding of O(1e-16 / h^2); a curved function gives O(1)


# =============================================================== FIA-NCF vs the exact local leave-one-out
def jacobian(model, ratings, u, i, h=1e-6):
    """d r_hat_z / d (p_u, q_i) for z in R_t, by central differences (r_hat is piecewise linear)."""
    pairs = r_t(ratings, u, i)
    rows, cols = np.array([a for a, _ in pairs]), np.array([j for _, j in pairs])
    theta = theta_of(model, u, i)
    return pairs, np.column_stack([(moved(model, u, i, theta + h * e).predict(rows, cols)
                                    - moved(model, u, i, theta - h * e).predict(rows, cols)) / (2 * h)
                                   for e in np.eye(theta.size)])


@pytest.fixture(scope="module")
def stationary(setup):
    """Per target, ratings whose R_t values are shifted (least change) so that the fitted
    (p_u, q_i) zero the gradient of L_t: J^T e = lambda theta_e. FIA's premise then holds exactly
    (L_t is only piecewise smooth: the minimizer of the original ratings may sit on a ReLU kink).
    Targets whose J is rank-deficient (a direction of theta_e no rating sees, through dead ReLUs)
    cannot be made stationary this way and are left out."""
    ratings, model, targets = setup
    out = {}
    for u, i in targets:
        pairs, J = jacobian(model, ratings, u, i)
        if np.linalg.svd(J, compute_uv=False)[-1] < 1e-3:
            continue
        gradient = F.local_objective(model, ratings, u, i)[1]
        shift = np.linalg.lstsq(J.T, gradient / 2, rcond=None)[0]  # J^T shift = (-J^T e + lambda theta)
        values = ratings.values.copy()
        for (a, j), delta in zip(pairs, shift):
            values[ratings.index_of(a, j)] += delta
        out[(u, i)] = ratings.with_values(values)
        assert np.linalg.norm(F.local_objective(fitted_on(model, out[(u, i)]), out[(u, i)], u, i)[1]) < 1e-9
    assert len(out) >= 2
    return out


def test_refit_embeddings_stays_at_a_stationary_point_and_moves_from_any_other(setup, stationary):
    ratings, model, _ = setup
    for u, i in stationary:
        theta = theta_of(model, u, i)
        np.testing.assert_allclose(F.refit_embeddings(fitted_on(model, stationary[(u, i)]), stationary[(u, i)], u, i),
                                   theta, atol=1e-12)
        refitted = F.refit_embeddings(model, ratings, u, i)
        assert F.local_objective(model, ratings, u, i, refitted)[0] < F.local_objective(model, ratings, u, i)[0]


def test_fia_ncf_is_the_first_order_local_leave_one_out(setup, stationary):
    """INFL(z) = d y_hat / d eps at eps = 0 when z's loss is weighted 1 + eps and (p_u, q_i)
    re-minimize L_t (removal is eps = -1): eq. (22) with only theta_e moving."""
    _, fitted, _ = setup
    h = 1e-4
    for (u, i), ratings in stationary.items():
        model = fitted_on(fitted, ratings)
        frame = F.fia_ncf(model, ratings, u, i)
        for row in frame.itertuples():
            weights = np.ones(len(ratings))
            position = ratings.index_of(row.user, row.item)
            weights[position] = 1 + h
            up = predict_at(model, u, i, F.refit_embeddings(model, ratings, u, i, weights))
            weights[position] = 1 - h
            down = predict_at(model, u, i, F.refit_embeddings(model, ratings, u, i, weights))
            assert row.influence == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-6)  # abs: refit rounding / h


def test_exact_local_is_the_refit_without_the_rating_when_no_relu_flips(setup, stationary):
    """Removing z keeps L_t quadratic while no ReLU of R_t or the target changes sign: then the
    rank-one downdate of exact_local is the re-minimized (p_u, q_i) exactly."""
    _, fitted, _ = setup
    checked = total = 0
    for (u, i), ratings in stationary.items():
        model = fitted_on(fitted, ratings)
        frame = F.fia_ncf(model, ratings, u, i, exact_local=True)
        theta = theta_of(model, u, i)
        for row in frame.itertuples():
            weights = np.ones(len(ratings))
            weights[ratings.index_of(row.user, row.item)] = 0.0
            refitted = F.refit_embeddings(model, ratings, u, i, weights)
            total += 1
            gradient = F.local_objective(model, ratings, u, i, refitted, weights)[1]
            same_region = np.array_equal(pattern(model, ratings, u, i, theta), pattern(model, ratings, u, i, refitted))
            if same_region and np.linalg.norm(gradient) < 1e-8:  # not a minimum on a ReLU kink
                observed = predict_at(model, u, i, theta) - predict_at(model, u, i, refitted)
                assert row.influence == pytest.approx(observed, rel=1e-8, abs=1e-9)
                checked += 1
    assert checked >= total / 4  # a removal on these tiny data often flips a ReLU; enough do not


def test_exact_local_is_fia_divided_by_one_minus_the_leverage(setup):
    ratings, model, targets = setup
    u, i = targets[0]
    first = F.fia_ncf(model, ratings, u, i).set_index(["user", "item"])["influence"]
    exact = F.fia_ncf(model, ratings, u, i, exact_local=True).set_index(["user", "item"])["influence"]
    _, _, hessian = F.local_objective(model, ratings, u, i)
    d = model.P_.shape[1]
    for (a, j), value in first.items():
        _, cache = forward(model.params_, np.array([a]), np.array([j]), model.mu_)
        g = np.zeros(2 * d)
        h = 1e-6  # g_z = d r_hat_z / d theta_e by central differences of the prediction
        for k in range(2 * d):
            e = np.zeros(2 * d)
            e[k] = h
            theta = theta_of(model, u, i)
            g[k] = (moved(model, u, i, theta + e).predict([a], [j])[0]
                    - moved(model, u, i, theta - e).predict([a], [j])[0]) / (2 * h)
        leverage = 2 * g @ np.linalg.solve(hessian, g)
        assert exact[(a, j)] == pytest.approx(value / (1 - leverage), rel=1e-6)


# =============================================================== the frame
def test_frame_covers_r_t_with_its_sides_largest_influence_first(setup):
    ratings, model, targets = setup
    u, i = targets[0]
    frame = F.fia_ncf(model, ratings, u, i)
    assert list(frame.columns) == ["user", "item", "title", "genres", "rating", "influence", "side"]
    assert set(zip(frame["user"], frame["item"])) == set(r_t(ratings, u, i))
    assert len(frame) == len(r_t(ratings, u, i))
    assert (frame["side"] == np.where(frame["user"] == u, "item-based", "user-based")).all()
    assert {"item-based", "user-based"} <= set(frame["side"])
    assert (np.diff(frame["influence"].abs()) <= 0).all()
    for row in frame.itertuples():
        assert row.rating == ratings.values[ratings.index_of(row.user, row.item)]
    assert frame.attrs["prediction"] == pytest.approx(model.predict([u], [i])[0], rel=1e-12)


def test_fia_dispatches_to_fia_ncf(setup):
    ratings, model, targets = setup
    u, i = targets[1]
    from mfteach.explain.fast_influence import fia

    np.testing.assert_array_equal(fia(model, ratings, u, i)["influence"], F.fia_ncf(model, ratings, u, i)["influence"])
    np.testing.assert_array_equal(fia(model, ratings, u, i, side="user-based")["influence"],
                                  F.fia_ncf(model, ratings, u, i).query("side == 'user-based'")["influence"])


# =============================================================== the theta_n term, eq. (23)
def test_network_term_equals_a_dense_gauss_newton_solve(setup):
    ratings, model, targets = setup
    u, i = targets[0]
    frame = F.fia_ncf(model, ratings, u, i, include_network=True, cg_tol=1e-12, cg_maxiter=5000)
    np.testing.assert_allclose(frame["influence"], frame["influence_embeddings"] + frame["influence_network"])
    plain = F.fia_ncf(model, ratings, u, i).set_index(["user", "item"])["influence"]
    indexed = frame.set_index(["user", "item"])
    np.testing.assert_allclose(indexed.loc[plain.index, "influence_embeddings"], plain, rtol=1e-12)

    # J_n: d r_hat / d theta_n for every rating (and the target) by central differences
    names = list(model.params_)[2:]
    flat = np.concatenate([model.params_[name].ravel() for name in names])

    def predictions(vector, rows, cols):
        params, start = dict(model.params_), 0
        for name in names:
            params[name] = vector[start:start + model.params_[name].size].reshape(model.params_[name].shape)
            start += model.params_[name].size
        return forward(params, rows, cols, model.mu_)[0]

    rows = np.append(ratings.rows, u)
    cols = np.append(ratings.cols, i)
    h = 1e-6
    J = np.column_stack([(predictions(flat + h * e, rows, cols) - predictions(flat - h * e, rows, cols)) / (2 * h)
                         for e in np.eye(flat.size)])
    J_train, grad_target = J[:-1], J[-1]
    solved = np.linalg.solve(2 * J_train.T @ J_train + 2 * REG * np.eye(flat.size), grad_target)
    for row in frame.itertuples():
        k = ratings.index_of(row.user, row.item)
        e_z = ratings.values[k] - model.predict([row.user], [row.item])[0]
        assert row.influence_network == pytest.approx(2 * e_z * J_train[k] @ solved, rel=1e-5, abs=1e-10)
    assert frame.attrs["cg_iterations"] >= 1


# =============================================================== leave-one-out validation
def test_validate_removes_the_top_rating_and_agrees_with_loo_influence(setup):
    ratings, model, targets = setup
    table = F.validate_fia_ncf(model, ratings, targets[:2], n_retrains=2, n_epochs=1, seed=3)
    assert list(table.columns) == ["user", "item", "removed_user", "removed_item", "side", "fia", "loo"]
    for row in table.itertuples():
        top = F.fia_ncf(model, ratings, row.user, row.item).iloc[0]
        assert (row.removed_user, row.removed_item, row.fia) == (top["user"], top["item"], top["influence"])
        alone = F.loo_influence_ncf(model, ratings, row.user, row.item, (row.removed_user, row.removed_item),
                                    n_retrains=2, n_epochs=1, seed=3)
        assert row.loo == pytest.approx(alone, rel=1e-12, abs=1e-15)


def test_loo_influence_averages_paired_retrains_over_seeds(setup):
    """n_retrains pairs (nothing removed, z removed) on seeds seed, seed + 1, ...: the result is
    the mean of the single-pair results, and a pair's reference run is the ordinary warm-started
    retrain (so what is subtracted is exactly the drift of retraining with all the data)."""
    ratings, model, targets = setup
    u, i = targets[0]
    z = (int(ratings.rows[ratings.rows == u][0]), int(ratings.cols[ratings.rows == u][0]))
    singles = [F.loo_influence_ncf(model, ratings, u, i, z, n_retrains=1, n_epochs=2, seed=s) for s in (3, 4)]
    assert F.loo_influence_ncf(model, ratings, u, i, [z], n_retrains=2, n_epochs=2, seed=3) == pytest.approx(
        np.mean(singles), rel=1e-12)
    reference = NCF(**{**model.get_params(), "n_epochs": 2, "seed": 3}).fit(ratings, init=model).predict([u], [i])[0]
    weights = np.ones(len(ratings))
    weights[ratings.index_of(*z)] = 0.0
    without = NCF(**{**model.get_params(), "n_epochs": 2, "seed": 3}).fit(ratings, init=model, sample_weight=weights)
    assert singles[0] == pytest.approx(reference - without.predict([u], [i])[0], rel=1e-12)


# =============================================================== bad input
def test_bad_input_raises_clear_errors(setup):
    ratings, model, targets = setup
    u, i = targets[0]
    with pytest.raises(TypeError, match="NCF"):
        F.fia_ncf(mt.ALS(rank=2).fit(ratings), ratings, u, i)
    with pytest.raises(ValueError, match="user must be a row index"):
        F.fia_ncf(model, ratings, 30, i)
    with pytest.raises(ValueError, match="item must be a column index"):
        F.fia_ncf(model, ratings, u, -1)
    with pytest.raises(ValueError, match="shape"):
        F.fia_ncf(model, Ratings([0], [0], [3.0], shape=(2, 2)), 0, 0)
    with pytest.raises(ValueError, match="damping"):
        F.fia_ncf(model, ratings, u, i, damping=-1.0)
    with pytest.raises(ValueError, match="theta_e"):
        F.local_objective(model, ratings, u, i, theta_e=np.zeros(3))
    with pytest.raises(ValueError, match="weights"):
        F.local_objective(model, ratings, u, i, weights=np.ones(3))
    with pytest.raises(ValueError, match="not a training rating"):
        F.loo_influence_ncf(model, ratings, u, i, (u, i))
    with pytest.raises(ValueError, match="n_retrains"):
        F.validate_fia_ncf(model, ratings, targets, n_retrains=0)
    lonely = Ratings([0, 1], [0, 1], [3.0, 4.0], shape=(3, 3))
    lonely_model = NCF(embedding_dim=2, hidden=(3,), n_epochs=1).fit(lonely)
    with pytest.raises(ValueError, match="no training ratings"):
        F.fia_ncf(lonely_model, lonely, 2, 2)


# =============================================================== issue 15, items 1 and 8
def test_fia_ncf_and_its_leave_one_out_refuse_ratings_the_model_was_not_fitted_on(setup):
    ratings, model, targets = setup
    u, i = targets[0]
    train, test = ratings.split(seed=0)
    z = (int(test.rows[0]), int(test.cols[0]))
    for name, call in {"fia_ncf": lambda: F.fia_ncf(model, test, u, i),
                       "loo_influence_ncf": lambda: F.loo_influence_ncf(model, test, u, i, z, n_retrains=1),
                       "validate_fia_ncf": lambda: F.validate_fia_ncf(model, test, [(u, i)], n_retrains=1),
                       "local_objective": lambda: F.local_objective(model, train, u, i)}.items():
        with pytest.raises(ValueError, match=rf"^{name}: these are not the ratings this NCF was fitted on: it was "
                                             rf"fitted on 30 x 20, {len(ratings)} ratings"):
            call()


def test_loo_influence_dispatches_ncf_models_to_loo_influence_ncf(setup):
    """fia hands an NCF to fia_ncf; loo_influence must hand it to loo_influence_ncf the same way
    (it raised TypeError), with loo_influence_ncf's options passed through."""
    from mfteach.explain.fast_influence import loo_influence

    ratings, model, targets = setup
    u, i = targets[0]
    z = (int(ratings.rows[ratings.rows == u][0]), int(ratings.cols[ratings.rows == u][0]))
    assert loo_influence(model, ratings, u, i, z, n_retrains=1, n_epochs=2, seed=3) == \
        F.loo_influence_ncf(model, ratings, u, i, z, n_retrains=1, n_epochs=2, seed=3)
    assert loo_influence(model, ratings, u, i, [z], n_retrains=1, n_epochs=1) == \
        F.loo_influence_ncf(model, ratings, u, i, [z], n_retrains=1, n_epochs=1)
    with pytest.raises(TypeError, match="n_retrains"):
        loo_influence(mt.ALS(rank=2).fit(ratings), ratings, u, i, z, n_retrains=1)
