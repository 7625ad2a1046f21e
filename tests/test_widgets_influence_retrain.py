"""The perturbation explorer of lesson 13: the slider's change is J[:, k] delta (exactly the user's
own half-step with V frozen), the button's change is two warm-started ALS fits, the widget redraws
on every control."""

import numpy as np
import pytest

import mfteach as mt
from mfteach.explain import influence_matrix
import mfteach.widgets.influence_retrain as influence_retrain_module
from mfteach.widgets.influence_retrain import (
    InfluenceExplorer, InfluenceState, PredictedChange, RetrainedChange, influence_explorer, predicted_change,
    prepare_influence_explorer, rating_grid, render_influence_view, retrain, retrained_change,
)

SETTINGS = [(False, False), (True, False), (False, True), (True, True)]


def small_ratings(seed=0, m=30, n=12, share=0.5):
    rng = np.random.default_rng(seed)
    R = np.where(rng.random((m, n)) < share, rng.integers(1, 6, (m, n)).astype(float), np.nan)
    R[:, 0] = rng.integers(1, 6, m)          # every user has a rating
    return mt.Ratings.from_dense(R)


@pytest.fixture(scope="module")
def ratings():
    return small_ratings()


def fit(ratings, biased=False, weighted=False, n_iters=30):
    return mt.ALS(rank=3, reg=0.1 if weighted else 0.8, n_iters=n_iters, biased=biased, weighted_reg=weighted,
                  tol=1e-12).fit(ratings)


@pytest.fixture(scope="module")
def model(ratings):
    return fit(ratings)


def user_row(ratings, user):
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    return lo, ratings.cols[lo:hi], ratings.values[lo:hi]


def refit_user(model, ratings, user):
    """The user's predictions after re-solving only u_u (and b_u) for the model's fixed V and item
    biases: lstsq on [F_Omega; sqrt(lambda) I] w = [targets; 0] (independent of the package)."""
    _, items, values = user_row(ratings, user)
    F = np.hstack([model.V_, np.ones((model.V_.shape[0], 1))]) if model.biased else model.V_
    targets = values - model.mu_ - model.item_bias_[items] if model.biased else values
    reg = model.reg * (len(items) if model.weighted_reg else 1)
    k = F.shape[1]
    w = np.linalg.lstsq(np.vstack([F[items], np.sqrt(reg) * np.eye(k)]), np.concatenate([targets, np.zeros(k)]),
                        rcond=None)[0]
    return F @ w + (model.mu_ + model.item_bias_ if model.biased else 0.0)


def changed(ratings, user, item, new_rating):
    values = ratings.values.copy()
    values[ratings.index_of(user, item)] = new_rating
    return ratings.with_values(values)


# ---------------------------------------------------------------------------- the slider: J only
@pytest.mark.parametrize("biased, weighted", SETTINGS)
def test_predicted_change_is_a_column_of_J_times_delta(ratings, biased, weighted):
    model = fit(ratings, biased, weighted, n_iters=8)
    user = 5
    state = prepare_influence_explorer(model, ratings, user)
    J, items = influence_matrix(model, ratings, user)
    np.testing.assert_array_equal(state.J, J)
    np.testing.assert_array_equal(state.items, items)
    np.testing.assert_allclose(state.predictions, model.predict_matrix()[user], rtol=0, atol=1e-12)
    for k, changed_item in enumerate(items):
        for new_rating in (1.0, 2.5, 5.0):
            view = predicted_change(state, 3, int(changed_item), new_rating)
            delta = new_rating - state.values[k]
            assert isinstance(view, PredictedChange) and view.delta == delta
            np.testing.assert_array_equal(view.changes, J[:, k] * delta)
            assert view.change == J[3, k] * delta and view.influence == J[3, k]
            assert view.before == state.predictions[3] and view.after == view.before + view.change


@pytest.mark.parametrize("biased, weighted", SETTINGS)
def test_predicted_change_is_exactly_the_users_own_half_step_with_V_frozen(ratings, biased, weighted):
    """Linear in the user's ratings: re-solving u_u for the changed rating moves every prediction
    by J[:, k] delta, for any delta (no approximation)."""
    model = fit(ratings, biased, weighted, n_iters=8)
    for user in (0, 17):
        state = prepare_influence_explorer(model, ratings, user)
        base = refit_user(model, ratings, user)
        np.testing.assert_allclose(base, state.predictions, atol=1e-10)   # U_ is the exact user solution
        for changed_item, new_rating in ((int(state.items[0]), 1.0), (int(state.items[-1]), 4.5)):
            view = predicted_change(state, 0, changed_item, new_rating)
            moved = refit_user(model, changed(ratings, user, changed_item, new_rating), user)
            np.testing.assert_allclose(moved - base, view.changes, atol=1e-9)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(item=12), ValueError, "item must be a column index"),
    (dict(item=-1), ValueError, "item must be a column index"),
    (dict(item=True), ValueError, "item must be a column index"),
    (dict(changed_item=99), ValueError, "has not rated item 99"),
    (dict(changed_item=2.0), ValueError, "changed_item must be an item index"),
    (dict(new_rating=float("nan")), ValueError, "new_rating must be a finite number"),
    (dict(new_rating="4"), ValueError, "new_rating must be a finite number"),
    (dict(new_rating=True), ValueError, "new_rating must be a finite number"),
])
def test_predicted_change_rejects_bad_input(ratings, model, kwargs, error, match):
    state = prepare_influence_explorer(model, ratings, 2)
    arguments = dict(item=1, changed_item=int(state.items[0]), new_rating=3.0) | kwargs
    with pytest.raises(error, match=match):
        predicted_change(state, **arguments)


def test_predicted_change_rejects_an_unrated_item_by_name(ratings, model):
    state = prepare_influence_explorer(model, ratings, 2)
    unrated = int(np.setdiff1d(np.arange(12), state.items)[0])
    with pytest.raises(ValueError, match=f"user 2 has not rated item {unrated}"):
        predicted_change(state, 0, unrated, 3.0)


def test_prepare_rejects_what_influence_rejects(ratings, model):
    with pytest.raises(TypeError, match="mfteach.ALS"):
        prepare_influence_explorer(mt.Baseline().fit(ratings), ratings, 0)
    with pytest.raises(ValueError, match="user must be a row index"):
        prepare_influence_explorer(model, ratings, 30)
    with pytest.raises(ValueError, match="model was fitted on"):
        prepare_influence_explorer(model, small_ratings(m=5), 0)


# ---------------------------------------------------------------------------- the button: retrain
@pytest.mark.parametrize("biased, weighted", SETTINGS)
def test_retrained_change_is_two_warm_started_ALS_fits(ratings, biased, weighted):
    model = fit(ratings, biased, weighted, n_iters=4)
    user, new_rating = 7, 1.5
    _, items, values = user_row(ratings, user)
    item = int(items[1])
    result = retrained_change(model, ratings, user, item, new_rating, n_iters=5)
    params = {**model.get_params(), "n_iters": 5, "tol": 0.0}
    after = mt.ALS(**params).fit(changed(ratings, user, item, new_rating), init=model)
    before = mt.ALS(**params).fit(ratings, init=model)
    assert isinstance(result, RetrainedChange)
    np.testing.assert_allclose(result.after, after.predict_matrix()[user], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.before, before.predict_matrix()[user], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.change, result.after - result.before)
    assert result.drift == pytest.approx(np.abs(result.before - model.predict_matrix()[user]).max(), abs=1e-12)
    assert result.user_vector_change == pytest.approx(
        np.linalg.norm(after.U_[user] - before.U_[user]) / np.linalg.norm(before.U_[user]), rel=1e-12)
    assert result.item_factors_change == pytest.approx(np.linalg.norm(after.V_ - before.V_) / np.linalg.norm(before.V_),
                                                       rel=1e-12)
    assert (result.old_rating, result.new_rating, result.delta) == (values[1], 1.5, 1.5 - values[1])
    assert result.n_iters == 5 and result.seconds > 0
    again = retrained_change(model, ratings, user, item, new_rating, n_iters=5, unchanged=retrain(model, ratings, 5))
    np.testing.assert_array_equal(again.change, result.change)       # the kept unchanged retrain is the same fit


def test_retrained_change_with_the_rating_unchanged_is_zero(ratings):
    model = fit(ratings, n_iters=3)                                 # not converged: retraining alone drifts
    user = 4
    _, items, values = user_row(ratings, user)
    result = retrained_change(model, ratings, user, int(items[0]), float(values[0]), n_iters=4)
    assert result.drift > 1e-6
    np.testing.assert_array_equal(result.change, 0.0)
    assert result.user_vector_change == 0 and result.item_factors_change == 0


def test_retrained_change_is_differentiable_in_delta_with_the_drift_removed(ratings):
    """ALS iterations are a smooth map of the data, and the unchanged retrain is subtracted, so
    change(delta) = D delta + O(delta^2) even for an unconverged model: doubling a tiny delta
    doubles the change (without the subtraction the drift would remain as a constant term)."""
    model = fit(ratings, n_iters=3)
    user = 9
    _, items, values = user_row(ratings, user)
    eps = 1e-4
    small = retrained_change(model, ratings, user, int(items[2]), float(values[2]) + eps, n_iters=6).change
    double = retrained_change(model, ratings, user, int(items[2]), float(values[2]) + 2 * eps, n_iters=6).change
    assert np.abs(small).max() > 1e-3 * eps                         # it does move
    assert np.abs(double - 2 * small).max() <= 1e-3 * np.abs(small).max()


def test_a_converged_model_with_many_users_per_item_follows_J_closely():
    """Hypothesis 1's setting (many users per item): after retraining, the user's predictions
    moved almost exactly as J predicts; V moved far less than the user's vector."""
    ratings, _, _ = mt.synthetic(400, 15, rank=2, density=0.6, noise=0.1, seed=1)
    model = mt.ALS(rank=2, reg=1.0, n_iters=300, tol=1e-13).fit(ratings)
    user = 3
    state = prepare_influence_explorer(model, ratings, user)
    item = int(state.items[0])
    view = predicted_change(state, 0, item, float(state.values[0]) + 1.0)
    result = retrained_change(model, ratings, user, item, float(state.values[0]) + 1.0, n_iters=50)
    assert result.drift < 1e-6
    assert np.linalg.norm(result.change - view.changes) <= 0.1 * np.linalg.norm(view.changes)
    assert result.item_factors_change < 0.1 * result.user_vector_change


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(changed_item=99), ValueError, "has not rated item 99"),
    (dict(changed_item=1.0), ValueError, "changed_item must be an item index"),
    (dict(new_rating=float("inf")), ValueError, "new_rating must be a finite number"),
    (dict(n_iters=0), ValueError, "n_iters"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(user=30), ValueError, "user must be a row index"),
    (dict(unchanged="model"), ValueError, "unchanged must be a fitted mt.ALS"),
])
def test_retrained_change_rejects_bad_input(ratings, model, kwargs, error, match):
    _, items, _ = user_row(ratings, 2)
    arguments = dict(user=2, changed_item=int(items[0]), new_rating=3.0) | kwargs
    with pytest.raises(error, match=match):
        retrained_change(model, ratings, **arguments)


def test_rating_grid_moves_in_whole_stars_on_whole_star_data_else_in_half_steps(ratings):
    assert np.array_equal(ratings.values, np.round(ratings.values))
    np.testing.assert_array_equal(rating_grid(ratings), np.arange(1, 5.01, 1.0))
    np.testing.assert_array_equal(rating_grid(ratings, step=0.5), np.arange(1, 5.01, 0.5))
    odd = ratings.with_values(np.linspace(-1.2, 2.1, len(ratings)))
    np.testing.assert_array_equal(rating_grid(odd), np.arange(-1.5, 2.51, 0.5))


# ---------------------------------------------------------------------------- drawing
def test_render_shows_the_influences_and_the_retrained_scatter(ratings, model):
    state = prepare_influence_explorer(model, ratings, 6)
    item, k = 1, len(state.items) - 1
    changed_item = int(state.items[k])
    fig = render_influence_view(state, item, changed_item, n_bars=3)
    (ax,) = fig.axes
    widths = [bar.get_width() for bar in ax.patches]
    top = np.argsort(-np.abs(state.J[item]), kind="stable")[:3]
    expected = list(top if k in top else list(top[:2]) + [k])
    np.testing.assert_array_equal(widths, state.J[item, expected])
    orange = [bar.get_facecolor() for bar in ax.patches]
    assert sum(c == orange[expected.index(k)] for c in orange) == 1   # only the changed rating stands out
    new_rating = float(state.values[k]) + 1
    result = retrained_change(model, ratings, 6, changed_item, new_rating, n_iters=3)
    fig = render_influence_view(state, item, changed_item, result)
    assert len(fig.axes) == 2
    points = fig.axes[1].collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], state.J[:, k] * 1.0)
    np.testing.assert_allclose(points[:, 1], result.change)
    assert "retrained change" in fig.axes[1].get_ylabel()


# ---------------------------------------------------------------------------- the widget
def _html(box, j=0):
    return box.out.outputs[j]["data"]["text/html"]


def test_widget_defaults_repr_and_the_slider_updates_the_output(ratings, model):
    user = 11
    box = influence_explorer(model, ratings, user=user)
    state = box.state
    assert isinstance(box, InfluenceExplorer) and isinstance(state, InfluenceState)
    assert [sorted(o["data"]) for o in box.out.outputs] == [
        ["text/html", "text/plain"], ["text/html", "text/plain"], ["text/html", "text/plain"]]
    unrated = np.setdiff1d(np.arange(12), state.items)
    best = unrated[np.argmax(state.predictions[unrated])]
    assert box.target.value == best                                   # the top recommendation
    k = int(np.argmax(np.abs(state.J[best])))
    assert box.changed.value == state.items[k]                        # its most influential past rating
    assert box.rating.value == state.values[k]                        # the slider starts at the actual rating
    assert [v for _, v in box.rating.options] == sorted(set(np.arange(1, 5.01, 1.0)) | {state.values[k]})
    assert repr(box) == (f"InfluenceExplorer(user={user}, item={best}, changed_item={state.items[k]}, "
                         f"rating {state.values[k]:g} -> {state.values[k]:g}, not retrained)")
    first_caption, first_svg = _html(box), _html(box, 2)
    assert first_svg.startswith("<svg") and f"influence on {ratings.item_labels([best])[0]}" in first_svg

    new = 1.0 if state.values[k] != 1.0 else 5.0
    box.rating.value = new                                            # what the browser test does
    assert len(box.out.outputs) == 3 and _html(box) != first_caption
    view = box.view
    assert (view.item, view.changed_item, view.new_rating) == (best, state.items[k], new)
    np.testing.assert_array_equal(view.changes, state.J[:, k] * (new - state.values[k]))
    assert f"to <b>{view.after:.3f}</b>" in _html(box)
    table = box.out.outputs[1]["data"]["text/plain"]
    assert "J-predicted" in table and "retrained" not in table
    assert f"{round(view.after, 3):.3f}" in table
    assert _html(box, 2) == first_svg                                 # the figure does not depend on the slider
    assert repr(box).endswith(f"rating {state.values[k]:g} -> {new:g}, not retrained)")


def test_widget_dropdowns_move_the_target_and_the_changed_rating(ratings, model):
    box = influence_explorer(model, ratings, user=3)
    state = box.state
    other_target = [v for _, v in box.target.options][1]
    box.target.value = other_target
    assert box.view.item == other_target and "▶ " in box.out.outputs[1]["data"]["text/html"]
    beta = state.J[other_target]
    assert f"{float(beta[np.argmax(np.abs(beta))]):.3g}</title>" in _html(box, 2)  # the bars of the new target
    other = [v for _, v in box.changed.options][-1]
    box.rating.value = [v for _, v in box.rating.options][0]
    box.changed.value = other                                         # the slider jumps to that rating
    k = state.position(other)
    assert box.rating.value == state.values[k] and box.view.changed_item == other and box.view.delta == 0
    assert len(box.out.outputs) == 3
    first_target = box.target.options[0][1]
    order = np.argsort(-np.abs(state.J[first_target]), kind="stable")   # by influence on the first target
    assert [v for _, v in box.changed.options] == list(state.items[order])


def test_widget_button_retrains_and_shows_both(ratings, model):
    user = 8
    box = influence_explorer(model, ratings, user=user, n_iters=4)
    state = box.state
    box.rating.value = 1.0 if box.rating.value != 1.0 else 5.0
    moved = box.rating.value
    box.retrain.click()
    assert box.retrained is not None and repr(box).endswith(", retrained)")
    expected = retrained_change(model, ratings, user, box.changed.value, moved, n_iters=4)
    np.testing.assert_array_equal(box.retrained.change, expected.change)
    table = box.out.outputs[1]["data"]["text/plain"]
    assert "retrained" in table
    target = box.view.item
    assert f"Retrained ALS: <b>{state.predictions[target] + expected.change[target]:.3f}</b>" in _html(box)
    retrained_png = box.out.outputs[2]["data"]["image/png"]
    assert box.retrain.description == "Retrain and compare" and not box.retrain.disabled

    box.rating.value = [v for _, v in box.rating.options][3]          # another value: not retrained yet
    assert box.retrained is None and "Press <i>Retrain and compare</i>" in _html(box)
    box.rating.value = moved                                          # back: the kept result, no new fit
    assert box.retrained is not None and box.out.outputs[2]["data"]["image/png"] == retrained_png
    assert len(box.out.outputs) == 3


def test_widget_accepts_a_chosen_item_and_past_rating_and_rejects_bad_ones(ratings, model):
    state = prepare_influence_explorer(model, ratings, 4)
    rated = int(state.items[-1])
    box = influence_explorer(model, ratings, user=4, item=rated, changed_item=int(state.items[0]))
    assert box.target.value == rated and box.target.options[0][1] == rated    # offered first when not a top pick
    assert box.changed.value == state.items[0]
    assert influence_explorer(model, ratings).state.user == int(ratings.rows[0])
    with pytest.raises(ValueError, match="item must be a column index"):
        influence_explorer(model, ratings, user=4, item=12)
    unrated = int(np.setdiff1d(np.arange(12), state.items)[0])
    with pytest.raises(ValueError, match=f"has not rated item {unrated}"):
        influence_explorer(model, ratings, user=4, changed_item=unrated)
    with pytest.raises(ValueError, match="user must be a row index"):
        influence_explorer(model, ratings, user=-1)
    with pytest.raises(TypeError, match="Ratings"):
        influence_explorer(model, ratings.to_dense())


def test_widget_on_movielens_titles(ml100k):
    top = ml100k.top(650, 50)
    model = mt.ALS(rank=4, reg=1.0, n_iters=15).fit(top)
    box = influence_explorer(model, top, user=15)
    titles = set(top.item_titles)
    assert all(label.split(" (now ")[0] in titles for label, _ in box.target.options)
    assert box.view.user == 15 and top.item_titles[box.view.changed_item] in _html(box)


def test_widget_on_a_biased_als_wr_model(ratings):
    """The same J-predicted and retrained columns for r_hat = mu + b_u + c_i + u_u . v_i (F = [V, 1])."""
    model = fit(ratings, biased=True, weighted=True, n_iters=10)
    box = influence_explorer(model, ratings, user=2, n_iters=3)
    k = box.state.position(box.changed.value)
    box.rating.value = [v for _, v in box.rating.options][0]
    np.testing.assert_array_equal(box.view.changes, box.state.J[:, k] * box.view.delta)
    box.retrain.click()
    expected = retrained_change(model, ratings, 2, box.changed.value, box.rating.value, n_iters=3)
    np.testing.assert_array_equal(box.retrained.change, expected.change)


def test_widget_button_shows_a_failed_retrain_and_gives_the_controls_back(ratings, model, monkeypatch):
    box = influence_explorer(model, ratings, user=8, n_iters=4)
    seen = []

    def broken(*args, **kwargs):
        seen.append((box.retrain.disabled, box.retrain.description, box.rating.disabled))  # while it runs
        raise RuntimeError("retrain broke")

    monkeypatch.setattr(influence_retrain_module, "retrained_change", broken)
    box.retrain.click()
    assert seen == [(True, "retraining…", True)]
    html = _html(box)
    assert "mfteach-error" in html and "retrain broke" in html and box.retrained is None
    assert box.retrain.description == "Retrain and compare"
    assert not any(control.disabled for control in (box.rating, box.changed, box.target, box.retrain, box.find))


def test_widget_slider_shows_an_error_and_gives_the_controls_back(ratings, model, monkeypatch):
    box = influence_explorer(model, ratings, user=8)

    def broken(*args, **kwargs):
        raise RuntimeError("predicted_change broke")

    monkeypatch.setattr(influence_retrain_module, "predicted_change", broken)
    box.rating.value = [v for _, v in box.rating.options if v != box.rating.value][0]
    assert "predicted_change broke" in _html(box)
    assert not any(control.disabled for control in (box.rating, box.changed, box.target, box.retrain, box.find))
