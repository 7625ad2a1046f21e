"""The confidence explorer (lesson 10): the closed form against an independent least-squares
solution, the alpha -> infinity limit against a huge alpha, the view's summaries against direct
numpy, the package's implicit ALS, and the widget driven in plain Python."""

import math

import numpy as np
import pytest

import mfteach as mt
import mfteach.widgets.confidence as confidence_module
from mfteach.widgets.confidence import (
    ALPHAS, ConfidenceDrawing, confidence_explorer, confidence_view, limit_user_vector, prepare_confidence_explorer,
    render_confidence_view, user_vector,
)

N, K = 30, 4


@pytest.fixture
def data():
    """30 items, rank 4; user 0 has 8 interactions with unequal r (> k: V_O has full rank), user 1 two
    (< k: many vectors fit them exactly), user 2 none; user 3 has one held-out item."""
    rng = np.random.default_rng(3)
    V = rng.normal(0, 0.5, (N, K))
    rows = [0] * 8 + [1] * 2 + [3] * 5
    cols = [1, 3, 4, 7, 10, 12, 20, 29] + [5, 6] + [0, 2, 4, 6, 8]
    values = np.concatenate([rng.uniform(0.2, 3.0, 8), [1.0, 1.0], np.ones(5)])
    train = mt.Ratings(rows, cols, values, shape=(4, N))
    test = mt.Ratings([0, 3], [15, 9], [1.0, 1.0], shape=(4, N))
    return V, train, test


def _dense_solution(V, items, r, alpha, reg):
    """argmin_u sum_i c_ui (p_ui - v_i . u)^2 + reg ||u||^2 over ALL items, by lstsq on the stacked
    system [sqrt(C) V; sqrt(reg) I] u = [sqrt(C) p; 0] (no normal equations)."""
    c = np.ones(len(V))
    p = np.zeros(len(V))
    c[items] = 1 + alpha * r
    p[items] = (r > 0).astype(float)
    X = np.vstack([np.sqrt(c)[:, None] * V, np.sqrt(reg) * np.eye(V.shape[1])])
    y = np.concatenate([np.sqrt(c) * p, np.zeros(V.shape[1])])
    return np.linalg.lstsq(X, y, rcond=None)[0]


@pytest.mark.parametrize("alpha", [0.0, 0.5, 3.0, 40.0])
@pytest.mark.parametrize("reg", [0.1, 10.0])
def test_closed_form_matches_weighted_least_squares(data, alpha, reg):
    V, train, test = data
    state = prepare_confidence_explorer(V, train, test)
    items, r = state.watched(0)
    u = user_vector(state, items, r, alpha, reg)
    np.testing.assert_allclose(u, _dense_solution(V, items, r, alpha, reg), rtol=1e-9, atol=1e-12)
    view = confidence_view(state, 0, alpha, reg)
    np.testing.assert_allclose(view.u, u)
    np.testing.assert_allclose(view.scores, V @ u)
    # the gradient of the user's weighted loss vanishes
    c = np.ones(N)
    c[items] = 1 + alpha * r
    p = np.zeros(N)
    p[items] = 1
    np.testing.assert_allclose(-V.T @ (c * (p - V @ u)) + reg * u, 0, atol=1e-10)


def test_alpha_zero_is_a_plain_ridge_fit_of_the_zero_one_row(data):
    V, train, _ = data
    state = prepare_confidence_explorer(V, train)
    items, r = state.watched(0)
    p = np.zeros(N)
    p[items] = 1
    ridge = np.linalg.solve(V.T @ V + 2.0 * np.eye(K), V.T @ p)
    np.testing.assert_allclose(user_vector(state, items, r, 0.0, 2.0), ridge, rtol=1e-12)


@pytest.mark.parametrize("user", [0, 1])
def test_limit_is_the_huge_alpha_solution(data, user):
    V, train, _ = data
    state = prepare_confidence_explorer(V, train)
    items, r = state.watched(user)
    limit = limit_user_vector(state, items, r, 1.0)
    huge = _dense_solution(V, items, r, 1e9, 1.0)
    np.testing.assert_allclose(limit, huge, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(user_vector(state, items, r, math.inf, 1.0), limit)
    if user == 1:  # two items < rank 4: the explicit loss over Omega_u is fitted exactly, every score 1
        np.testing.assert_allclose(V[items] @ limit, 1.0, atol=1e-10)
    else:  # full rank: the weighted least-squares fit of the 1s on Omega_u, lambda plays no part
        w = np.sqrt(r)
        np.testing.assert_allclose(limit, np.linalg.lstsq(w[:, None] * V[items], w, rcond=None)[0], rtol=1e-9)
        np.testing.assert_allclose(limit, limit_user_vector(state, items, r, 100.0), rtol=1e-9)


def test_view_summaries_match_direct_numpy(data):
    V, train, test = data
    state = prepare_confidence_explorer(V, train, test)
    view = confidence_view(state, 0, 3.0, 1.0)
    items, r = state.watched(0)
    assert list(view.watched) == [1, 3, 4, 7, 10, 12, 20, 29] and list(view.held_out) == [15]
    assert view.alphas.tolist() == list(ALPHAS)
    rest = np.setdiff1d(np.arange(N), items)
    for j, a in enumerate(ALPHAS):
        s = V @ user_vector(state, items, r, a, 1.0)
        assert view.path_watched[j] == pytest.approx(s[items].mean(), rel=1e-12)
        assert view.path_unwatched[j] == pytest.approx(s[rest].mean(), rel=1e-12)
        assert view.path_tenth[j] == pytest.approx(np.sort(s[rest])[::-1][9], rel=1e-12)
        assert view.path_held[j, 0] == pytest.approx(s[15], rel=1e-12)
    s = view.scores
    assert view.watched_mean == pytest.approx(s[items].mean())
    assert view.unwatched_mean == pytest.approx(s[rest].mean())
    assert view.held_out_ranks()[0] == 1 + np.sum(s[rest] > s[15])
    top = view.top(5)
    assert list(top) == list(rest[np.argsort(-s[rest], kind="stable")][:5])
    # held-out items that are also in the training data are not "held out"; no test: none
    assert confidence_view(prepare_confidence_explorer(V, train), 0, 1.0, 1.0).held_out.size == 0


def test_closed_form_reproduces_implicit_als_user_factors():
    ratings, _, _ = mt.synthetic(40, 25, 3, density=0.2, seed=1)
    implicit = ratings.with_values(np.abs(ratings.values))
    model = mt.ImplicitALS(rank=3, reg=0.5, alpha=4.0, n_iters=4, solver="exact", seed=0).fit(implicit)
    state = prepare_confidence_explorer(model, implicit)
    for user in (0, 7, 39):
        np.testing.assert_allclose(confidence_view(state, user, 4.0, 0.5).u, model.U_[user], rtol=1e-8, atol=1e-12)


def test_on_the_lessons_movielens_setting(ml100k):
    train, test = ml100k.with_values(np.ones(len(ml100k))).split(how="leave_one_out", seed=0)
    model = mt.ImplicitALS(rank=24, reg=10.0, alpha=1.0, n_iters=3, solver="exact", seed=0).fit(train)
    state = prepare_confidence_explorer(model, train, test)
    view = confidence_view(state, 0, 1.0, 10.0)
    np.testing.assert_allclose(view.u, model.U_[0], rtol=1e-8, atol=1e-12)  # V fixed: the model's own u_0
    assert view.held_out.size == 1
    # more confidence: the watched movies' mean score rises towards 1, so does the unwatched one
    assert np.all(np.diff(view.path_watched) > 0) and np.all(np.diff(view.path_unwatched[:-1]) > 0)
    assert view.path_watched[0] < 0.6 < 0.9 < view.path_watched[-1] < 1.0


def test_drawing_shows_the_view(data):
    V, train, test = data
    state = prepare_confidence_explorer(V, train, test)
    view = confidence_view(state, 0, 10.0, 1.0)
    fig = render_confidence_view(view, "Some movie (1999)")
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), view.path_watched)
    np.testing.assert_allclose(left.lines[3].get_ydata(), view.path_held[:, 0])
    assert "λ = 1" in left.get_title() and "α = 10" in right.get_title()
    assert right.get_legend().get_texts()[2].get_text() == "held out: Some movie (1999)"
    with pytest.raises(ValueError, match="alpha grid"):
        ConfidenceDrawing(alphas=(0.0, 1.0)).update(view)


def _content(box):
    return [tuple(sorted(o["data"].items())) for o in box.out.outputs]


def test_widget_controls_update_the_output(data):
    V, train, test = data
    box = confidence_explorer(V, train, test, user=0, alpha=1.0, reg=1.0)
    assert repr(box) == "ConfidenceExplorer(user=0, alpha=1, reg=1, 8 watched)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["image/png", "text/plain"],
                                                            ["text/html", "text/plain"]]
    before = _content(box)
    box.alpha.value = 3.0  # the first slider (the browser test moves it)
    assert _content(box) != before and box.view.alpha == 3.0 and len(box.out.outputs) == 3
    box.alpha.value = math.inf
    assert repr(box) == "ConfidenceExplorer(user=0, alpha=∞, reg=1, 8 watched)"
    np.testing.assert_allclose(box.view.u, limit_user_vector(box.state, *box.state.watched(0), 1.0))
    before = _content(box)
    box.reg.value = 10.0
    assert _content(box) != before and box.view.reg == 10.0
    box.user.value = 2  # no interactions: said in the output, nothing raised
    assert "no interactions" in box.out.outputs[0]["data"]["text/html"]
    box.user.value = 3
    assert box.view.user == 3 and "rank" in box.out.outputs[0]["data"]["text/html"]


def test_widget_takes_alpha_and_lambda_from_the_model():
    ratings, _, _ = mt.synthetic(20, 15, 2, density=0.3, seed=0)
    implicit = ratings.with_values(np.abs(ratings.values))
    model = mt.ImplicitALS(rank=2, reg=0.7, alpha=5.0, n_iters=2, seed=0).fit(implicit)
    box = confidence_explorer(model, implicit)
    assert (box.alpha.value, box.reg.value) == (5.0, 0.7)  # added to the sliders' grids
    assert 5.0 in [v for _, v in box.alpha.options] and 0.7 in [v for _, v in box.reg.options]


def test_bad_input_raises(data):
    V, train, test = data
    state = prepare_confidence_explorer(V, train, test)
    for alpha in (-1.0, math.nan, "1", True):
        with pytest.raises(ValueError, match="alpha"):
            confidence_view(state, 0, alpha, 1.0)
    for reg in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="reg"):
            confidence_view(state, 0, 1.0, reg)
    with pytest.raises(ValueError, match="user"):
        confidence_view(state, 4, 1.0, 1.0)
    with pytest.raises(ValueError, match="no interactions"):
        confidence_view(state, 2, 1.0, 1.0)
    with pytest.raises(TypeError, match="ConfidenceState"):
        confidence_view(V, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match="rows"):
        prepare_confidence_explorer(V[:10], train)
    with pytest.raises(ValueError, match=">= 0"):
        prepare_confidence_explorer(V, train.with_values(-train.values))
    with pytest.raises(ValueError, match="NaN"):
        prepare_confidence_explorer(np.full((N, K), np.nan), train)
    with pytest.raises(ValueError, match="not fitted"):
        prepare_confidence_explorer(mt.ImplicitALS(), train)
    with pytest.raises(ValueError, match="no interactions"):
        confidence_explorer(V, train, user=2)
    with pytest.raises(ValueError, match="reg"):
        confidence_explorer(V, train, reg=0.0)


def test_widget_keeps_its_figure_and_shows_an_error_with_the_controls_back(data, monkeypatch):
    V, train, test = data
    box = confidence_explorer(V, train, test, user=0, alpha=1.0, reg=1.0)
    pngs = {box.out.outputs[1]["data"]["image/png"]}
    for alpha in (0.0, 3.0, 10.0):  # the same figure, redrawn: a new picture each time
        box.alpha.value = alpha
        pngs.add(box.out.outputs[1]["data"]["image/png"])
    assert len(pngs) == 4

    def broken(*args, **kwargs):
        raise RuntimeError("confidence_view broke")

    monkeypatch.setattr(confidence_module, "confidence_view", broken)
    box.reg.value = 10.0
    html = box.out.outputs[0]["data"]["text/html"]
    assert "mfteach-error" in html and "confidence_view broke" in html
    assert not any(control.disabled for control in (box.alpha, box.reg, box.user))
