"""mfteach/explain/fast_influence.py and validation.py: FIA (KDD 2019 eqs. 15-19) is the derivative of an
independent local refit, exact_local is that refit, ia_basic is a dense-Hessian solve, and the
sides of the frame are R_t."""

import copy

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.explain.fast_influence import FullProblem, explanation_frame, fia, ia_basic, loo_influence, objective_of
from mfteach.explain.validation import agreement, fia_vs_loo


# ---------------------------------------------------------------------------- small problems
def small(seed=0, m=25, n=20, density=0.45, noise=0.3):
    ratings, _, _ = mt.synthetic(m, n, rank=2, density=density, noise=noise, seed=seed)
    return ratings.with_values(ratings.values + 3.0)  # a rating scale with a mean, for the biases


def unrated_pair(ratings, seed=0):
    """A (user, item) outside Omega whose user and item both have several ratings."""
    rng = np.random.default_rng(seed)
    dense = ratings.to_dense()
    candidates = np.argwhere(np.isnan(dense) & (ratings.user_counts()[:, None] >= 3) & (ratings.item_counts() >= 3))
    user, item = candidates[rng.integers(len(candidates))]
    return int(user), int(item)


def rated_pair(ratings):
    k = int(np.argmax(ratings.user_counts()[ratings.rows] + ratings.item_counts()[ratings.cols]))
    return int(ratings.rows[k]), int(ratings.cols[k])


MODELS = {
    "ALS": lambda: mt.ALS(rank=3, reg=1.5, n_iters=30),
    "ALS biased": lambda: mt.ALS(rank=3, reg=1.5, n_iters=30, biased=True),
    "ALS-WR": lambda: mt.ALS(rank=3, reg=0.2, n_iters=30, weighted_reg=True),
    "ALS-WR biased": lambda: mt.ALS(rank=3, reg=0.2, n_iters=30, weighted_reg=True, biased=True),
    "GD": lambda: mt.GradientDescent(rank=3, reg=1.5, n_epochs=200),
    "GD biased": lambda: mt.GradientDescent(rank=3, reg=1.5, n_epochs=200, biased=True),
}


# ---------------------------------------------------------------------------- an independent local refit
def _block(features, targets, weights, reg, weighted):
    """argmin_w sum weights (targets - features w)^2 + reg' ||w||^2 by lstsq on the stacked
    problem; reg' = reg * sum(weights) for ALS-WR. An emptied ALS-WR block gets w = 0 (ALS's rule)."""
    penalty = reg * (weights.sum() if weighted else 1.0)
    if penalty == 0:
        return np.zeros(features.shape[1])
    d = features.shape[1]
    stacked = np.vstack([np.sqrt(weights)[:, None] * features, np.sqrt(penalty) * np.eye(d)])
    return np.linalg.lstsq(stacked, np.concatenate([np.sqrt(weights) * targets, np.zeros(d)]), rcond=None)[0]


def local_refit(model, ratings, user, item, weights=None):
    """theta_t = (u_u, b_u, v_i, c_i) minimizing the model's objective with EVERY OTHER factor frozen
    and the ratings weighted by ``weights``: alternating exact block solves (one pass suffices
    when (u, i) is not a training rating; otherwise they couple and we iterate). Returns the
    refitted copy of the model."""
    weights = np.ones(len(ratings)) if weights is None else weights
    model = copy.copy(model)
    model.U_, model.V_ = model.U_.copy(), model.V_.copy()
    biased = model.biased
    if biased:
        model.user_bias_, model.item_bias_ = model.user_bias_.copy(), model.item_bias_.copy()
    mu = model.mu_ if biased else 0.0
    on_user, on_item = ratings.rows == user, ratings.cols == item
    weighted = getattr(model, "weighted_reg", False)
    for _ in range(20000):
        before = (model.U_[user].copy(), model.V_[item].copy())
        j = ratings.cols[on_user]
        F = np.hstack([model.V_[j], np.ones((len(j), 1))]) if biased else model.V_[j]
        t = ratings.values[on_user] - (mu + model.item_bias_[j] if biased else 0.0)
        w = _block(F, t, weights[on_user], model.reg, weighted)
        model.U_[user] = w[:model.rank]
        if biased:
            model.user_bias_[user] = w[-1]
        a = ratings.rows[on_item]
        G = np.hstack([model.U_[a], np.ones((len(a), 1))]) if biased else model.U_[a]
        t = ratings.values[on_item] - (mu + model.user_bias_[a] if biased else 0.0)
        w = _block(G, t, weights[on_item], model.reg, weighted)
        model.V_[item] = w[:model.rank]
        if biased:
            model.item_bias_[item] = w[-1]
        if max(np.abs(model.U_[user] - before[0]).max(), np.abs(model.V_[item] - before[1]).max()) < 1e-15:
            break
    return model


def refit_influence(model, ratings, user, item, position, epsilon):
    """(y_hat - y_hat with rating ``position`` down-weighted to 1 - epsilon) / epsilon, local refit."""
    weights = np.ones(len(ratings))
    weights[position] = 1.0 - epsilon
    changed = local_refit(model, ratings, user, item, weights)
    return (model.predict([user], [item])[0] - changed.predict([user], [item])[0]) / epsilon


# ---------------------------------------------------------------------------- FIA is the local derivative
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("own", [False, True], ids=["test point", "training rating"])
def test_fia_is_the_derivative_and_exact_local_the_exact_local_refit(name, own):
    ratings = small(seed=1)
    fitted = MODELS[name]().fit(ratings)
    user, item = rated_pair(ratings) if own else unrated_pair(ratings)
    model = local_refit(fitted, ratings, user, item)  # theta_t at the exact local minimizer
    frame = fia(model, ratings, user, item)
    assert frame.attrs["prediction"] == pytest.approx(model.predict([user], [item])[0], abs=1e-12)
    exact = None if own else fia(model, ratings, user, item, exact_local=True).set_index(["user", "item"])
    # coupled blocks refit slowly (alternating solves): there, check the top ratings and (u, i) itself
    checked = pd.concat([frame.head(4), frame[(frame["user"] == user) & (frame["item"] == item)]]) if own else frame
    for u, i, infl in checked[["user", "item", "influence"]].itertuples(index=False):
        position = ratings.index_of(u, i)
        # Richardson: 2 d(eps/2) - d(eps) = derivative + O(eps^2), d = change per unit of removed weight
        derivative = 2 * refit_influence(model, ratings, user, item, position, 5e-5) - refit_influence(
            model, ratings, user, item, position, 1e-4)
        assert infl == pytest.approx(derivative, rel=1e-5, abs=1e-9)
        if exact is not None:
            removed = refit_influence(model, ratings, user, item, position, 1.0)   # weight 0: removed
            assert exact.loc[(u, i), "influence"] == pytest.approx(removed, rel=1e-9, abs=1e-12)


def test_als_user_factor_is_locally_optimal_but_gradient_descent_only_approximately():
    ratings = small(seed=2)
    user, item = unrated_pair(ratings)
    als = mt.ALS(rank=3, reg=1.5, n_iters=5).fit(ratings)          # ends with the exact user half-step
    np.testing.assert_allclose(local_refit(als, ratings, user, item).U_[user], als.U_[user], atol=1e-12)
    gd = mt.GradientDescent(rank=3, reg=1.5, n_epochs=200).fit(ratings)
    grad_U, grad_V = mt.gd.gradient(ratings, gd.U_, gd.V_, reg=1.5)
    assert np.abs(grad_U).max() > 1e-8                             # a fixed number of steps: not stationary
    first = fia(gd, ratings, user, item)
    polished = fia(local_refit(gd, ratings, user, item), ratings, user, item)
    assert not np.allclose(first["influence"], polished["influence"], rtol=1e-12, atol=0)


def test_exact_local_is_fia_over_one_minus_leverage_for_the_plain_model():
    ratings = small(seed=3)
    model = mt.ALS(rank=3, reg=1.0, n_iters=20).fit(ratings)
    user, item = unrated_pair(ratings)
    first = fia(model, ratings, user, item, side="item-based").set_index("item")
    exact = fia(model, ratings, user, item, side="item-based", exact_local=True).set_index("item").loc[first.index]
    V_rated = model.V_[first.index.to_numpy()]
    A_inv = np.linalg.inv(V_rated.T @ V_rated + model.reg * np.eye(model.rank))
    leverage = np.einsum("ij,jk,ik->i", V_rated, A_inv, V_rated)
    np.testing.assert_allclose(exact["influence"], first["influence"] / (1 - leverage), rtol=1e-10)
    # the first-order FIA of a user's rating is its residual times FATREC 2017's influence J[i, j]
    J, rated = mt.explain.influence_matrix(model, ratings, user)
    residual = first["rating"] - model.predict(np.full(len(first), user), first.index.to_numpy())
    np.testing.assert_allclose(first["influence"], residual * pd.Series(J[item], index=rated)[first.index], rtol=1e-10)


# ---------------------------------------------------------------------------- basic IA vs a dense Hessian
def summed_gradient(theta, ratings, reg, weighted, mu, biased, k, weights):
    """grad S of the summed objective, rating by rating (no sparse tricks), theta = (U, V, b, c) flat."""
    m, n = ratings.shape
    U, V = theta[:m * k].reshape(m, k), theta[m * k:(m + n) * k].reshape(n, k)
    b, c = (theta[(m + n) * k:(m + n) * k + m], theta[(m + n) * k + m:]) if biased else (np.zeros(m), np.zeros(n))
    share_u = np.bincount(ratings.rows, weights, m) if weighted else np.ones(m)
    share_i = np.bincount(ratings.cols, weights, n) if weighted else np.ones(n)
    gU, gV = 2 * reg * share_u[:, None] * U, 2 * reg * share_i[:, None] * V
    gb, gc = 2 * reg * share_u * b, 2 * reg * share_i * c
    for a, j, r, w in zip(ratings.rows, ratings.cols, ratings.values, weights):
        e = r - mu - b[a] - c[j] - U[a] @ V[j]
        gU[a] -= 2 * w * e * V[j]
        gV[j] -= 2 * w * e * U[a]
        gb[a] -= 2 * w * e
        gc[j] -= 2 * w * e
    parts = [gU.ravel(), gV.ravel()] + ([gb, gc] if biased else [])
    return np.concatenate(parts)


def flat(model):
    parts = [model.U_.ravel(), model.V_.ravel()] + ([model.user_bias_, model.item_bias_] if model.biased else [])
    return np.concatenate(parts)


@pytest.mark.parametrize("biased, weighted, solver", [(False, False, "cg"), (True, False, "cg"), (False, True, "cg"),
                                                      (True, True, "cg"), (True, False, "minres")])
def test_ia_basic_equals_a_dense_hessian_solve(biased, weighted, solver):
    ratings = small(seed=4, m=9, n=8, density=0.6)
    model = mt.ALS(rank=2, reg=0.3 if weighted else 1.0, n_iters=3000, tol=1e-15, biased=biased,
                   weighted_reg=weighted).fit(ratings)
    k, theta, mu = 2, flat(model), model.mu_ if biased else 0.0
    ones = np.ones(len(ratings))

    def gradient(x, weights=ones):
        return summed_gradient(x, ratings, model.reg, weighted, mu, biased, k, weights)

    step = 1e-5  # the gradient is a cubic polynomial: central differences are accurate to O(step^2)
    H = np.column_stack([(gradient(theta + step * e) - gradient(theta - step * e)) / (2 * step)
                         for e in np.eye(len(theta))])
    H = (H + H.T) / 2
    problem = FullProblem(objective_of(model), ratings)
    d = np.random.default_rng(0).normal(size=len(theta))
    np.testing.assert_allclose(problem.hessian_vector(d), H @ d, rtol=1e-7, atol=1e-7)

    user, item = unrated_pair(ratings)
    model_at = copy.copy(model)

    def prediction(x):
        model_at.U_, model_at.V_ = x[:9 * k].reshape(9, k), x[9 * k:17 * k].reshape(8, k)
        if biased:
            model_at.user_bias_, model_at.item_bias_ = x[17 * k:17 * k + 9], x[17 * k + 9:]
        return model_at.predict([user], [item])[0]

    grad_prediction = np.array([(prediction(theta + step * e) - prediction(theta - step * e)) / (2 * step)
                                for e in np.eye(len(theta))])
    damping = 1e-3
    s = np.linalg.solve(H + damping * len(ratings) * np.eye(len(theta)), grad_prediction)
    frame = ia_basic(model, ratings, user, item, damping=damping, tol=1e-13, solver=solver)
    for u, i, infl in frame[["user", "item", "influence"]].itertuples(index=False):
        without = ones.copy()
        without[ratings.index_of(u, i)] = 0.0
        grad_loss = gradient(theta) - gradient(theta, without)  # grad l(z) = grad S - grad S_{-z}
        assert infl == pytest.approx(-s @ grad_loss, rel=1e-6, abs=1e-10)


# ---------------------------------------------------------------------------- sign and scale vs retraining
def test_sign_and_scale_against_leave_one_out_retraining():
    ratings = small(seed=5, m=40, n=30, density=0.5)
    model = mt.ALS(rank=2, reg=3.0, n_iters=3000, tol=1e-14).fit(ratings)
    user, item = unrated_pair(ratings)
    basic = ia_basic(model, ratings, user, item, tol=1e-10)
    first = fia(model, ratings, user, item).set_index(["user", "item"])
    for u, i, infl in basic[["user", "item", "influence"]].head(3).itertuples(index=False):
        observed = loo_influence(model, ratings, user, item, (u, i), n_iters=3000, tol=1e-14)
        # INFL = y_hat - y_hat_{-z}: same sign, and first order within a quarter of the change
        assert np.sign(infl) == np.sign(observed) == np.sign(first.loc[(u, i), "influence"])
        assert abs(infl - observed) < 0.25 * abs(observed)


def test_loo_influence_removes_the_ratings_together_and_subtracts_the_drift():
    ratings = small(seed=6)
    model = mt.ALS(rank=2, reg=1.0, n_iters=15).fit(ratings)       # not converged: it drifts on retraining
    user, item = unrated_pair(ratings)
    removed = [(int(ratings.rows[3]), int(ratings.cols[3])), (int(ratings.rows[40]), int(ratings.cols[40]))]
    settings = dict(rank=2, reg=1.0, n_iters=200, tol=1e-13)
    without = mt.ALS(**settings).fit(ratings.without([r[0] for r in removed], [r[1] for r in removed]), init=model)
    reference = mt.ALS(**settings).fit(ratings, init=model)
    y = lambda fitted: fitted.predict([user], [item])[0]  # noqa: E731
    assert loo_influence(model, ratings, user, item, removed, n_iters=200, tol=1e-13) == pytest.approx(
        y(reference) - y(without), abs=1e-12)
    assert loo_influence(model, ratings, user, item, removed, n_iters=200, tol=1e-13, subtract_drift=False) == \
        pytest.approx(y(model) - y(without), abs=1e-12)
    assert loo_influence(model, ratings, user, item, removed[0], n_iters=200, tol=1e-13) == pytest.approx(
        loo_influence(model, ratings, user, item, [removed[0]], n_iters=200, tol=1e-13), abs=0)


def test_retrain_keeps_the_settings_and_warm_starts():
    ratings = small(seed=7)
    model = mt.GradientDescent(rank=2, reg=1.0, n_epochs=50, biased=True).fit(ratings)
    again = mt.retrain(model, ratings, n_iters=50)
    continued = mt.GradientDescent(rank=2, reg=1.0, n_epochs=50, biased=True, lr=model.lr_).fit(ratings, init=model)
    np.testing.assert_allclose(again.U_, continued.U_, atol=0)
    assert again.mu_ == model.mu_


# ---------------------------------------------------------------------------- the frame: R_t, sides, sorting
def test_sides_cover_R_t_exactly_with_titles_and_genres(ml100k):
    ratings = ml100k.top(300, 200)
    model = mt.ALS(rank=4, reg=5.0, n_iters=10, biased=True).fit(ratings)
    for user, item in [unrated_pair(ratings, seed=0), rated_pair(ratings)]:
        frame = fia(model, ratings, user, item)
        assert list(frame.columns) == ["user", "item", "title", "genres", "rating", "influence", "side"]
        user_ratings = {(user, int(j)) for j in ratings.cols[ratings.rows == user]}
        item_ratings = {(int(a), item) for a in ratings.rows[ratings.cols == item] if a != user}
        item_based = frame[frame["side"] == "item-based"]
        user_based = frame[frame["side"] == "user-based"]
        assert set(zip(item_based["user"], item_based["item"])) == user_ratings        # (u, i) itself if rated
        assert set(zip(user_based["user"], user_based["item"])) == item_ratings
        assert len(frame) == len(user_ratings) + len(item_ratings) == len(frame.drop_duplicates(["user", "item"]))
        np.testing.assert_array_equal(frame["rating"], [ratings.values[ratings.index_of(u, i)]
                                                        for u, i in zip(frame["user"], frame["item"])])
        assert list(frame["title"]) == list(ratings.item_titles[frame["item"]])
        assert list(frame["genres"]) == [", ".join(ratings.item_genres[i]) for i in frame["item"]]
        assert list(frame["influence"].abs()) == sorted(frame["influence"].abs(), reverse=True)
        assert frame.attrs["prediction"] == pytest.approx(model.predict([user], [item])[0], abs=1e-12)
        for side in ("item-based", "user-based"):
            only = fia(model, ratings, user, item, side=side)
            pd.testing.assert_frame_equal(only, frame[frame["side"] == side].reset_index(drop=True))
            assert only.attrs["prediction"] == frame.attrs["prediction"]
        basic = ia_basic(model, ratings, user, item)
        assert set(zip(basic["user"], basic["item"])) == set(zip(frame["user"], frame["item"]))


def test_explanation_frame_sorts_stably_and_keeps_the_prediction():
    ratings = small(seed=8)
    frame = explanation_frame(ratings, 0, 1, [0, 0, 2], [3, 4, 1], [1.0, 2.0, 3.0], [0.1, -0.3, -0.1],
                              "item-based", 3.5)
    assert list(frame["item"]) == [4, 3, 1] and list(frame["influence"]) == [-0.3, 0.1, -0.1]
    assert set(frame["side"]) == {"item-based"} and frame.attrs["prediction"] == 3.5
    assert list(frame["genres"]) == ["", "", ""]  # no genres in synthetic ratings


# ---------------------------------------------------------------------------- validation (Figure 2)
def test_fia_vs_loo_removes_the_top_rating_and_observes_its_retrained_change():
    ratings = small(seed=10, m=30, n=25, density=0.5)
    train, test = ratings.split(how="leave_one_out", seed=0)
    model = mt.ALS(rank=2, reg=2.0, n_iters=3000, tol=1e-14).fit(train)
    frame = fia_vs_loo(model, train, test, n_points=4, seed=1, ia=True, tol=1e-14, n_iters=3000, ia_tol=1e-10,
                       verbose=False)
    assert len(frame) == 4
    for row in frame.itertuples():
        explained = fia(model, train, row.user, row.item)
        assert (row.removed_user, row.removed_item) == (explained["user"][0], explained["item"][0])
        assert row.fia == pytest.approx(explained["influence"][0], rel=1e-6)
        exact = fia(model, train, row.user, row.item, exact_local=True).set_index(["user", "item"])
        assert row.exact_local == pytest.approx(exact.loc[(row.removed_user, row.removed_item), "influence"], rel=1e-6)
        basic = ia_basic(model, train, row.user, row.item, tol=1e-10).set_index(["user", "item"])
        assert row.ia_basic == pytest.approx(basic.loc[(row.removed_user, row.removed_item), "influence"], rel=1e-5)
        observed = loo_influence(model, train, row.user, row.item, (row.removed_user, row.removed_item),
                                 n_iters=3000, tol=1e-14)
        assert row.observed == pytest.approx(observed, rel=1e-4, abs=1e-8)
    table = agreement(frame)
    assert list(table.index) == ["fia", "exact_local", "ia_basic"]
    assert table.loc["fia", "pearson"] == pytest.approx(np.corrcoef(frame["fia"], frame["observed"])[0, 1])
    obs = frame["observed"].to_numpy()
    assert table.loc["fia", "slope"] == pytest.approx(frame["fia"] @ obs / (obs @ obs))


# ---------------------------------------------------------------------------- bad input
def test_bad_input_is_refused():
    ratings = small(seed=11)
    model = mt.ALS(rank=2, n_iters=3).fit(ratings)
    with pytest.raises(TypeError, match="mfteach.ALS or mfteach.GradientDescent"):
        fia(mt.Baseline().fit(ratings), ratings, 0, 0)
    with pytest.raises(TypeError, match="loo_influence"):
        loo_influence(mt.Baseline().fit(ratings), ratings, 0, 0, (0, 0))
    with pytest.raises(ValueError, match="user must be a row index"):
        fia(model, ratings, 99, 0)
    with pytest.raises(ValueError, match="item must be a column index"):
        ia_basic(model, ratings, 0, -1)
    with pytest.raises(ValueError, match="side must be one of"):
        fia(model, ratings, 0, 0, side="items")
    with pytest.raises(ValueError, match="model was fitted on"):
        fia(model, small(m=5), 0, 0)
    with pytest.raises(ValueError, match="exact_local needs"):
        fia(model, ratings, *rated_pair(ratings), exact_local=True)
    user, item = unrated_pair(ratings)
    with pytest.raises(ValueError, match=r"not a training rating"):
        loo_influence(model, ratings, user, item, (user, item))
    with pytest.raises(ValueError, match="non-empty list"):
        loo_influence(model, ratings, user, item, [])
    with pytest.raises(ValueError, match="damping"):
        ia_basic(model, ratings, user, item, damping=-1.0)
    with pytest.raises(ValueError, match="solver must be one of"):
        ia_basic(model, ratings, user, item, solver="lu")


# ---------------------------------------------------------------------------- issue 15, items 1 and 2
def test_fia_ia_basic_and_loo_influence_refuse_ratings_the_model_was_not_fitted_on():
    """fia, ia_basic and loo_influence accepted any ratings of the right shape: the test split
    explained a training-set model, and loo_influence silently retrained on the test set."""
    train, test = small(seed=4, m=30, n=24, density=0.5).split(seed=0)
    model = mt.ALS(rank=2, reg=1.0, n_iters=500, tol=1e-12).fit(train)
    user, item = int(test.rows[0]), int(test.cols[0])
    pair = (int(test.rows[1]), int(test.cols[1]))  # a rating of the test set
    calls = {"fia": lambda r: fia(model, r, user, item), "ia_basic": lambda r: ia_basic(model, r, user, item),
             "loo_influence": lambda r: loo_influence(model, r, user, item, pair)}
    for name, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{name}: these are not the ratings this ALS was fitted on: it was "
                                             rf"fitted on 30 x 24, {len(train)} ratings"):
            call(test)
    shifted = train.with_values(train.values + 0.5)
    with pytest.raises(ValueError, match="other rating values"):
        fia(model, shifted, user, item)
    # the training ratings, or an equal copy of them (e.g. rebuilt or unpickled), are explained as before
    copy_ = mt.Ratings(train.rows, train.cols, train.values, shape=train.shape)
    pd.testing.assert_frame_equal(fia(model, copy_, user, item), fia(model, train, user, item))
    # a retrained model explained on its own (perturbed) ratings is legitimate
    retrained = mt.retrain(model, shifted, n_iters=500, tol=1e-12)
    assert len(fia(retrained, shifted, user, item)) > 0


def test_fia_and_ia_basic_warn_when_the_model_is_far_from_converged():
    """FIA assumes a stationary point; a model after one ALS iteration is far from it. The
    warning names the measure and says how to fit further; a converged model gets none."""
    from mfteach.explain.fast_influence import CONVERGED, ConvergenceWarning, relative_gradient_norm

    ratings = small(seed=5, m=30, n=24, density=0.5)
    user, item = unrated_pair(ratings)
    early = mt.ALS(rank=3, reg=1.0, n_iters=1).fit(ratings)
    assert relative_gradient_norm(early) > 0.5
    for call in (lambda: fia(early, ratings, user, item), lambda: ia_basic(early, ratings, user, item, tol=1e-3)):
        with pytest.warns(ConvergenceWarning, match=r"far from converged: .* gradient is 0\.\d+ .*Fit it further "
                                                    r"first, e\.g\. model = mt\.ALS\(.*'tol': 1e-9\}\)\.fit\("
                                                    r"ratings, init=model\)"):
            call()
    converged = mt.ALS(**{**early.get_params(), "n_iters": 2000, "tol": 1e-12}).fit(ratings, init=early)
    assert relative_gradient_norm(converged) < 1e-3 < CONVERGED
    gd = mt.GradientDescent(rank=3, reg=1.0, n_epochs=2).fit(ratings)
    with pytest.warns(ConvergenceWarning, match=r"GradientDescent is far from converged.*n_epochs"):
        fia(gd, ratings, user, item)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fia(converged, ratings, user, item)
        ia_basic(converged, ratings, user, item, tol=1e-6)


def test_relative_gradient_norm_is_zero_at_a_minimizer_and_matches_the_definition():
    from mfteach.explain.fast_influence import relative_gradient_norm

    ratings = small(seed=6)
    for make in MODELS.values():
        model = make().fit(ratings)
        o = objective_of(model)
        e = ratings.values - model.predict(ratings.rows, ratings.cols)
        E = np.zeros(ratings.shape)
        E[ratings.rows, ratings.cols] = e
        reg_u = o.reg * (ratings.user_counts() if o.weighted else np.ones(ratings.shape[0]))
        reg_v = o.reg * (ratings.item_counts() if o.weighted else np.ones(ratings.shape[1]))
        data = [-E @ o.V, -E.T @ o.U] + ([-E.sum(1), -E.sum(0)] if o.biased else [])
        pen = [reg_u[:, None] * o.U, reg_v[:, None] * o.V] + ([reg_u * o.user_bias, reg_v * o.item_bias]
                                                              if o.biased else [])
        norm = lambda parts: np.sqrt(sum(np.sum(p ** 2) for p in parts))  # noqa: E731
        expected = norm([d + p for d, p in zip(data, pen)]) / (norm(data) + norm(pen))
        assert relative_gradient_norm(model) == pytest.approx(expected, rel=1e-9)
    als = mt.ALS(rank=2, reg=1.0, n_iters=3000, tol=1e-15).fit(ratings)
    assert relative_gradient_norm(als, ratings) < 1e-6
