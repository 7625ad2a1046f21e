"""The prediction-anatomy explorer of lesson 16: the parts of both predictions add up to each model's own
predict(), the NCF parts are the network's layers recomputed independently, the drawing shows those
numbers, and the user slider, the movie list and its type-ahead box redraw the output."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.widgets.ncf_anatomy as ncf_anatomy_module
from mfteach.ncf import NCF, forward
from mfteach.widgets.ncf_anatomy import (
    N_TERMS, AnatomyDrawing, Anatomy, MfParts, NcfAnatomyExplorer, NcfParts, anatomy_svg, ncf_anatomy_explorer,
    prediction_anatomy, render_anatomy,
)

M, N = 30, 24


@pytest.fixture(scope="module")
def data():
    ratings, _, _ = mt.synthetic(M, N, rank=3, density=0.4, noise=0.3, seed=0)
    ratings = ratings.with_values(np.clip(np.round(3 + ratings.values), 1, 5))
    titles = np.array([f"Movie <{i}> & co" for i in range(N)], dtype=object)
    ratings = mt.Ratings(ratings.rows, ratings.cols, ratings.values, shape=ratings.shape, item_titles=titles)
    return ratings.split(test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def models(data):
    train, _ = data
    als = mt.ALS(rank=3, reg=2.0, n_iters=10, biased=True, seed=0).fit(train)
    ncf = NCF(embedding_dim=4, hidden=(8, 5), reg=2.0, lr=3e-3, n_epochs=4, batch_size=32, seed=0).fit(train)
    return als, ncf


def network_by_hand(ncf, user, item):
    """The NCF forward pass of one pair with the first layer on the stacked input (not split)."""
    z = np.concatenate([ncf.P_[user], ncf.Q_[item]])
    pre = []
    for W, b in zip(ncf.weights_, ncf.biases_):
        a = W @ z + b
        pre.append(a)
        z = np.maximum(a, 0)
    return pre, z


# ---------------------------------------------------------------------------- the compute function
@pytest.mark.parametrize("user, item", [(0, 0), (3, 17), (29, 23)])
def test_parts_add_up_to_each_models_prediction(data, models, user, item):
    train, test = data
    als, ncf = models
    view = prediction_anatomy(ncf, als, user, item, train, test)
    assert isinstance(view, Anatomy) and (view.user, view.item) == (user, item)
    assert isinstance(view.mf, MfParts) and isinstance(view.ncf, NcfParts)
    assert view.mf.prediction == pytest.approx(als.predict([user], [item])[0], abs=1e-12)
    assert view.ncf.prediction == pytest.approx(ncf.predict([user], [item])[0], abs=1e-12)
    assert view.ncf.prediction == pytest.approx(forward(ncf.params_, [user], [item], ncf.mu_)[0][0], abs=1e-12)
    assert view.title == f"Movie <{item}> & co"


def test_mf_parts_are_the_biases_and_one_product_per_factor(data, models):
    train, _ = data
    als, ncf = models
    view = prediction_anatomy(ncf, als, 4, 9, train)
    assert (view.mf.mu, view.mf.user_bias, view.mf.item_bias) == (als.mu_, als.user_bias_[4], als.item_bias_[9])
    np.testing.assert_array_equal(view.mf.products, als.U_[4] * als.V_[9])
    assert view.mf.dot == pytest.approx(als.U_[4] @ als.V_[9], abs=1e-14)
    unbiased = mt.ALS(rank=2, reg=1.0, n_iters=5, seed=0).fit(train)
    plain = prediction_anatomy(ncf, unbiased, 4, 9, train)
    assert (plain.mf.mu, plain.mf.user_bias, plain.mf.item_bias) == (0.0, 0.0, 0.0)
    assert plain.mf.prediction == pytest.approx(unbiased.predict([4], [9])[0], abs=1e-12)


@pytest.mark.parametrize("user, item", [(1, 2), (12, 20)])
def test_ncf_parts_are_the_layers_with_the_first_split_into_user_and_movie(data, models, user, item):
    train, _ = data
    als, ncf = models
    view = prediction_anatomy(ncf, als, user, item, train).ncf
    pre, z_last = network_by_hand(ncf, user, item)
    d = ncf.P_.shape[1]
    np.testing.assert_allclose(view.user_side, ncf.weights_[0][:, :d] @ ncf.P_[user] + ncf.biases_[0], atol=1e-14)
    np.testing.assert_allclose(view.item_side, ncf.weights_[0][:, d:] @ ncf.Q_[item], atol=1e-14)
    np.testing.assert_allclose(view.user_side + view.item_side, pre[0], atol=1e-12)   # the split is exact
    assert len(view.pre) == len(pre) == 2
    for ours, theirs in zip(view.pre, pre):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
    np.testing.assert_allclose(view.contributions, ncf.w_out_ * z_last, atol=1e-14)
    assert np.all(view.contributions[~view.active[-1]] == 0)                       # units off add exactly 0
    assert (view.mu, view.b_out) == (ncf.mu_, ncf.b_out_)
    assert view.network == pytest.approx(ncf.w_out_ @ z_last, abs=1e-12)


def test_a_new_movie_changes_only_the_movies_half_of_the_first_layer(data, models):
    train, _ = data
    als, ncf = models
    one, other = prediction_anatomy(ncf, als, 5, 1, train).ncf, prediction_anatomy(ncf, als, 5, 2, train).ncf
    np.testing.assert_array_equal(one.user_side, other.user_side)
    assert not np.allclose(one.item_side, other.item_side)
    third = prediction_anatomy(ncf, als, 6, 1, train).ncf
    np.testing.assert_array_equal(one.item_side, third.item_side)


def test_the_known_rating_comes_from_training_or_test(data, models):
    train, test = data
    als, ncf = models
    k = 3
    held = prediction_anatomy(ncf, als, int(test.rows[k]), int(test.cols[k]), train, test)
    assert (held.rating, held.source) == (test.values[k], "held out")
    seen = prediction_anatomy(ncf, als, int(train.rows[10]), int(train.cols[10]), train, test)
    assert (seen.rating, seen.source) == (train.values[10], "training")
    dense = np.full((M, N), False)
    dense[train.rows, train.cols] = True
    dense[test.rows, test.cols] = True
    u, i = map(int, np.argwhere(~dense)[0])
    unknown = prediction_anatomy(ncf, als, u, i, train, test)
    assert (unknown.rating, unknown.source) == (None, None)
    assert prediction_anatomy(ncf, als, u, i).title == f"item {i}"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(user=M), ValueError, "user must be a row index"),
    (dict(item=-1), ValueError, "item must be a column index"),
    (dict(item=True), ValueError, "item must be a column index"),
    (dict(ncf_model="ncf"), TypeError, "ncf_model must be a fitted mfteach.ncf.NCF"),
    (dict(mf_model=np.eye(3)), TypeError, "mf_model must be a fitted matrix factorization"),
    (dict(ratings="train"), TypeError, "ratings must be an mfteach.Ratings"),
])
def test_bad_input_is_named(data, models, kwargs, error, match):
    train, _ = data
    als, ncf = models
    arguments = dict(ncf_model=ncf, mf_model=als, user=0, item=0, ratings=train) | kwargs
    with pytest.raises(error, match=match):
        prediction_anatomy(**arguments)


def test_models_of_different_shapes_are_refused(data, models):
    train, _ = data
    als, ncf = models
    small = mt.ALS(rank=2, n_iters=2).fit(mt.Ratings.from_dense(np.ones((3, 4))))
    with pytest.raises(ValueError, match="the models disagree"):
        prediction_anatomy(ncf, small, 0, 0)
    with pytest.raises(RuntimeError, match="not fitted"):
        prediction_anatomy(NCF(), als, 0, 0)


# ---------------------------------------------------------------------------- drawing
def test_drawing_shows_the_parts(data, models):
    train, test = data
    als, ncf = models
    k = 0
    view = prediction_anatomy(ncf, als, int(test.rows[k]), int(test.cols[k]), train, test)
    fig = render_anatomy(view)
    mf_ax, ncf_ax, unit_ax = fig.axes
    # MF: mu, b_u, c_i, the N_TERMS largest products, the other products summed, the total
    widths = [bar.get_width() for bar in mf_ax.patches]
    order = np.argsort(-np.abs(view.mf.products), kind="stable")
    expected = [view.mf.user_bias, view.mf.item_bias] + list(view.mf.products[order[:N_TERMS]])
    assert view.mf.products.size <= N_TERMS                             # rank 3: one bar per factor, no "other"
    np.testing.assert_allclose(widths[1:], expected, atol=1e-12)
    assert mf_ax.patches[0].get_x() + widths[0] == pytest.approx(view.mf.mu)
    assert mf_ax.lines[0].get_xdata()[0] == pytest.approx(view.mf.prediction)     # the total's diamond
    # NCF: mu, b_out, the active last-layer units by size, the total
    widths = [bar.get_width() for bar in ncf_ax.patches]
    on = view.ncf.active[-1]
    shown = np.sort(np.abs(view.ncf.contributions[on]))[::-1][:N_TERMS]
    np.testing.assert_allclose(sorted(np.abs(widths[2:2 + shown.size]))[::-1], shown, atol=1e-12)
    assert sum(widths[1:]) == pytest.approx(view.ncf.prediction - view.ncf.mu, abs=1e-12)
    assert ncf_ax.lines[0].get_xdata()[0] == pytest.approx(view.ncf.prediction)
    rating_lines = [line for line in mf_ax.lines if list(line.get_xdata()) == [view.rating, view.rating]]
    assert rating_lines and rating_lines[0].get_visible()
    # layer 1: one point per unit, on above the line
    first = view.ncf.active[0]
    on_points, off_points = unit_ax.collections[0].get_offsets(), unit_ax.collections[1].get_offsets()
    assert len(on_points) == first.sum() and len(off_points) == (~first).sum()
    np.testing.assert_allclose(on_points, np.column_stack([view.ncf.user_side, view.ncf.item_side])[first])
    assert np.all(on_points.sum(axis=1) > 0) and np.all(off_points.sum(axis=1) <= 0)
    assert f"{first.sum()} of {first.size} units on" in unit_ax.get_title()
    texts = [t for ax in fig.axes for t in ax.texts + [ax.title, ax.xaxis.label, ax.yaxis.label]]
    texts += [t for ax in fig.axes for t in ax.get_yticklabels() + ax.get_xticklabels()]
    assert min(t.get_fontsize() for t in texts if t.get_text()) >= 9


def test_beyond_n_terms_the_rest_is_summed_in_one_row(data):
    train, test = data
    als = mt.ALS(rank=N_TERMS + 2, reg=2.0, n_iters=5, biased=True, seed=0).fit(train)
    ncf = NCF(embedding_dim=3, hidden=(6, N_TERMS + 3), reg=2.0, lr=3e-3, n_epochs=2, batch_size=32, seed=1).fit(train)
    view = prediction_anatomy(ncf, als, 2, 5, train, test)
    mf_ax, ncf_ax, _ = render_anatomy(view).axes
    order = np.argsort(-np.abs(view.mf.products), kind="stable")
    expected = [view.mf.user_bias, view.mf.item_bias] + list(view.mf.products[order[:N_TERMS]])
    expected.append(view.mf.products[order[N_TERMS:]].sum())
    np.testing.assert_allclose([bar.get_width() for bar in mf_ax.patches][1:], expected, atol=1e-12)
    labels = [t.get_text() for t in mf_ax.get_yticklabels()]
    assert labels[-2:] == ["other 2", "= MF"] and labels[3] == f"factor {order[0] + 1}"
    on = view.ncf.active[-1]
    widths = [bar.get_width() for bar in ncf_ax.patches]
    assert len(widths) == 1 + 1 + N_TERMS + 1                        # mu, b_out, N_TERMS units, the rest
    assert sum(widths[1:]) == pytest.approx(view.ncf.prediction - view.ncf.mu, abs=1e-12)
    labels = [t.get_text() for t in ncf_ax.get_yticklabels()]
    assert sum(label.startswith("unit ") for label in labels) == min(N_TERMS, on.sum())


def test_one_drawing_serves_every_pair(data, models):
    train, test = data
    als, ncf = models
    drawing = AnatomyDrawing(side_limits=((-5.0, 5.0), (-4.0, 4.0)))
    for user, item in ((0, 0), (7, 3), (2, 11)):
        view = prediction_anatomy(ncf, als, user, item, train, test)
        fig = drawing.update(view)
        assert fig is drawing.fig and len(fig.axes) == 3
        assert fig.axes[1].lines[0].get_xdata()[0] == pytest.approx(view.ncf.prediction)
        assert fig.axes[2].get_xlim() == (-5.0, 5.0) and fig.axes[2].get_ylim() == (-4.0, 4.0)
        rating_line = fig.axes[0].lines[-1]                           # the known rating, dashed green
        assert rating_line.get_visible() == (view.rating is not None)


# ---------------------------------------------------------------------------- the widget
def _caption(box):
    return box.out.outputs[0]["data"]["text/html"]


def _png(box):
    """The figure shown: an inline SVG (HTML)."""
    return box.out.outputs[1]["data"]["text/html"]


def test_widget_defaults_and_item_list(data, models):
    train, test = data
    als, ncf = models
    box = ncf_anatomy_explorer(ncf, als, train, test)
    assert isinstance(box, NcfAnatomyExplorer)
    first_user = int(np.intersect1d(np.flatnonzero(train.user_counts() > 0), test.rows)[0])
    assert box.user.value == first_user
    labels = [label for label, _ in box.item.options]
    items = [i for _, i in box.item.options]
    assert sorted(items) == list(range(N))                                        # every movie
    held = test.cols[test.rows == first_user]
    rated = train.cols[train.rows == first_user]
    assert set(items[:held.size]) == set(held) and all("[held out: " in s for s in labels[:held.size])
    assert set(items[held.size:held.size + rated.size]) == set(rated)
    assert all("[rated " in s for s in labels[held.size:held.size + rated.size])
    assert box.item.value == items[0] and box.view.source == "held out"
    assert [o for o in box.find.options] == labels                               # the type-ahead offers the same
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["text/html", "text/plain"]]
    view = box.view
    assert repr(box) == (f"NcfAnatomyExplorer(user={first_user}, item={view.title!r}, held out rating "
                         f"{view.rating:g}, MF {view.mf.prediction:.2f}, NCF {view.ncf.prediction:.2f})")
    assert f"= <b>{view.mf.prediction:.2f}</b>" in _caption(box) and "Movie &lt;" in _caption(box)


def test_moving_the_user_slider_and_the_movie_list_changes_the_output(data, models):
    train, test = data
    als, ncf = models
    box = ncf_anatomy_explorer(ncf, als, train, test)
    before = (_caption(box), _png(box))
    box.user.value = box.user.options[1][1]                          # the control the browser test moves first
    user = box.user.options[1][1]
    assert box.view.user == user and box.item.value == box.item.options[0][1]
    assert _caption(box) != before[0] and _png(box) != before[1] and len(box.out.outputs) == 2
    expected = prediction_anatomy(ncf, als, user, box.item.value, train, test)
    assert box.view.ncf.prediction == expected.ncf.prediction and box.view.mf.prediction == expected.mf.prediction

    before = _caption(box)
    box.item.value = box.item.options[-1][1]
    assert box.view.item == box.item.options[-1][1] and _caption(box) != before
    assert f"{box.view.ncf.prediction:.2f}</b>" in _caption(box)

    label, item = box.item.options[3]
    box.find.value = label                                            # typed into the box + Enter
    assert box.item.value == item and box.view.item == item and len(box.out.outputs) == 2


def test_widget_without_test_ratings_and_with_a_chosen_pair(data, models):
    train, test = data
    als, ncf = models
    box = ncf_anatomy_explorer(ncf, als, train, user=5, item=7)
    assert (box.view.user, box.view.item) == (5, 7)
    assert not any("[held out" in label for label, _ in box.item.options)
    with pytest.raises(ValueError, match="not among the users offered|user must be a row index"):
        ncf_anatomy_explorer(ncf, als, train, user=M)
    with pytest.raises(ValueError, match="item must be a column index"):
        ncf_anatomy_explorer(ncf, als, train, item=N)
    with pytest.raises(TypeError, match="test must be an mfteach.Ratings"):
        ncf_anatomy_explorer(ncf, als, train, test=test.to_dense())


def test_svg_has_both_waterfalls_and_the_units(data, models):
    train, test = data
    als, ncf = models
    user, item = int(test.rows[0]), int(test.cols[0])
    view = prediction_anatomy(ncf, als, user, item, train, test)
    svg = anatomy_svg(view, side_limits=((-5.0, 5.0), (-4.0, 4.0)))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert f">{view.mf.prediction:.2f}</text>" in svg and f">{view.ncf.prediction:.2f}</text>" in svg  # the totals
    assert "= MF" in svg and "= NCF" in svg and f"held out: {view.rating:g}" in svg
    on = view.ncf.active[0]
    assert svg.count("<circle") == int(on.sum())                      # one dot per unit on, a cross per unit off
    assert f"{int(on.sum())} of {on.size} units on" in svg


def test_widget_shows_an_error_and_gives_the_controls_back(data, models, monkeypatch):
    train, test = data
    als, ncf = models
    box = ncf_anatomy_explorer(ncf, als, train, test)

    def broken(*args, **kwargs):
        raise RuntimeError("prediction_anatomy broke")

    monkeypatch.setattr(ncf_anatomy_module, "prediction_anatomy", broken)
    box.item.value = box.item.options[3][1]
    assert "prediction_anatomy broke" in box.out.outputs[0]["data"]["text/html"]
    assert not any(control.disabled for control in (box.user, box.item, box.find))
