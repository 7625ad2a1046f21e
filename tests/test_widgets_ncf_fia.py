"""The MF-vs-NCF explanation explorer of lesson 17: the comparison is exactly fia() and fia_ncf() on the same R_t,
the drawing shows those numbers, the widget redraws on every control."""

import base64

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.explain.fast_influence import fia
from mfteach.explain.fast_influence_ncf import fia_ncf
from mfteach.ncf import NCF
import mfteach.widgets.ncf_fia as ncf_fia_module
from mfteach.widgets.ncf_fia import (
    Comparison, ComparisonDrawing, NcfExplorer, compare_explanations, ncf_explorer, render_comparison,
    render_tables,
)

M, N = 40, 30


def titled(ratings):
    """The same ratings with titles and genres, as MovieLens carries them."""
    titles = np.array([f"Movie <{i}> & co" for i in range(ratings.shape[1])], dtype=object)
    genres = [["Drama"] if i % 2 else ["Comedy", "Romance"] for i in range(ratings.shape[1])]
    return mt.Ratings(ratings.rows, ratings.cols, ratings.values, shape=ratings.shape, item_titles=titles,
                      item_genres=genres)


@pytest.fixture(scope="module")
def data():
    ratings, _, _ = mt.synthetic(M, N, rank=3, density=0.35, noise=0.3, seed=0)
    ratings = titled(ratings.with_values(np.clip(np.round(3 + ratings.values), 1, 5)))
    return ratings.split(how="leave_one_out", seed=0)


@pytest.fixture(scope="module")
def models(data):
    train, _ = data
    als = mt.ALS(rank=3, reg=2.0, n_iters=10, biased=True, seed=0).fit(train)
    ncf = NCF(embedding_dim=4, hidden=(8, 4), reg=2.0, lr=3e-3, n_epochs=4, batch_size=32, seed=0).fit(train)
    return als, ncf


def r_t(ratings, user, item):
    """{(a, j)} of the user's ratings and the item's ratings, straight from the arrays."""
    mask = (ratings.rows == user) | (ratings.cols == item)
    return set(zip(ratings.rows[mask].tolist(), ratings.cols[mask].tolist()))


# ---------------------------------------------------------------------------- the compute function
@pytest.mark.parametrize("k", [0, 7, 19])
def test_comparison_rows_are_fia_and_fia_ncf(data, models, k):
    train, test = data
    als, ncf = models
    user, item = int(test.rows[k]), int(test.cols[k])
    view = compare_explanations(als, ncf, train, user, item, n_top=3)
    assert isinstance(view, Comparison) and (view.user, view.item, view.n_top) == (user, item, 3)
    pd.testing.assert_frame_equal(view.mf, fia(als, train, user, item))
    pd.testing.assert_frame_equal(view.ncf, fia_ncf(ncf, train, user, item))
    assert view.mf_prediction == pytest.approx(als.predict([user], [item])[0], rel=1e-12)
    assert view.ncf_prediction == pytest.approx(ncf.predict([user], [item])[0], rel=1e-12)

    joined = view.joined
    assert list(joined.columns) == ["user", "item", "title", "rating", "side", "mf", "ncf"]
    pairs = list(zip(joined["user"].tolist(), joined["item"].tolist()))
    assert len(pairs) == len(set(pairs)) and set(pairs) == r_t(train, user, item)
    np.testing.assert_array_equal(joined["mf"], view.mf["influence"])      # MF's order
    ncf_by_pair = dict(zip(zip(view.ncf["user"], view.ncf["item"]), view.ncf["influence"]))
    np.testing.assert_array_equal(joined["ncf"], [ncf_by_pair[p] for p in pairs])
    assert (joined["side"] == np.where(joined["user"] == user, "item-based", "user-based")).all()
    np.testing.assert_array_equal(joined["rating"], [train.values[train.index_of(*p)] for p in pairs])
    assert view.correlation == pytest.approx(np.corrcoef(joined["mf"], joined["ncf"])[0, 1], rel=1e-12)

    tops = [set(zip(f["user"].head(3), f["item"].head(3))) for f in (view.mf, view.ncf)]
    assert view.shared_top == len(tops[0] & tops[1])
    for model, frame in (("mf", view.mf), ("ncf", view.ncf)):
        for side in ("item-based", "user-based"):
            pd.testing.assert_frame_equal(view.top(model, side), frame[frame["side"] == side].head(3))
    assert view.title == f"Movie <{item}> & co" and view.genres in ("Drama", "Comedy, Romance")
    assert view.summary().startswith(f"User {user}, Movie <{item}> & co: MF predicts ")


def test_a_training_pair_is_explained_too(data, models):
    """(u, i) itself in Omega: it is one of the user's ratings on both sides of the comparison."""
    train, _ = data
    als, ncf = models
    user, item = int(train.rows[5]), int(train.cols[5])
    view = compare_explanations(als, ncf, train, user, item)
    pairs = set(zip(view.joined["user"].tolist(), view.joined["item"].tolist()))
    assert pairs == r_t(train, user, item) and (user, item) in pairs
    assert view.joined.loc[(view.joined["user"] == user) & (view.joined["item"] == item), "side"].item() == "item-based"


def test_correlation_is_nan_with_a_single_rating():
    R = np.full((3, 3), np.nan)
    R[0, 0], R[1, 1], R[2, 2], R[1, 2] = 4.0, 3.0, 5.0, 2.0
    ratings = mt.Ratings.from_dense(R)
    als = mt.ALS(rank=1, reg=1.0, n_iters=3).fit(ratings)
    ncf = NCF(embedding_dim=2, hidden=(3,), reg=1.0, n_epochs=2, batch_size=2).fit(ratings)
    view = compare_explanations(als, ncf, ratings, 0, 1)   # R_t = user 0's one rating (item 1 is rated by user 1)
    assert len(view.joined) == 2
    view = compare_explanations(als, ncf, ratings, 0, 0)   # R_t = {(0, 0)} only
    assert len(view.joined) == 1 and np.isnan(view.correlation) and "undefined" in view.summary()


@pytest.mark.parametrize("call, error, match", [
    (lambda als, ncf, r: compare_explanations(ncf, ncf, r, 0, 0), TypeError, "mf_model must be a matrix"),
    (lambda als, ncf, r: compare_explanations(als, als, r, 0, 0), TypeError, "ncf_model must be a fitted"),
    (lambda als, ncf, r: compare_explanations(als, NCF(), r, 0, 0), RuntimeError, "not fitted"),
    (lambda als, ncf, r: compare_explanations(als, ncf, r.top(10, 10), 0, 0), ValueError, "shape"),
    (lambda als, ncf, r: compare_explanations(als, ncf, r, M, 0), ValueError, "user must be"),
    (lambda als, ncf, r: compare_explanations(als, ncf, r, 0, -1), ValueError, "item must be"),
    (lambda als, ncf, r: compare_explanations(als, ncf, r, True, 0), ValueError, "user must be"),
    (lambda als, ncf, r: compare_explanations(als, ncf, r, 0, 0, n_top=0), ValueError, "n_top"),
    (lambda als, ncf, r: compare_explanations(als, ncf, r.to_dense(), 0, 0), TypeError, "ratings"),
])
def test_compare_rejects_bad_input(data, models, call, error, match):
    with pytest.raises(error, match=match):
        call(*models, data[0])


def test_top_rejects_unknown_model_or_side(data, models):
    view = compare_explanations(*models, data[0], 0, 0)
    with pytest.raises(ValueError, match="model"):
        view.top("als", "item-based")
    with pytest.raises(ValueError, match="side"):
        view.top("mf", "both")


# ---------------------------------------------------------------------------- drawing and tables
def test_drawing_shows_the_joined_numbers_and_moves(data, models):
    train, test = data
    drawing = ComparisonDrawing()
    views = [compare_explanations(*models, train, int(test.rows[k]), int(test.cols[k])) for k in (0, 9)]
    for view in views:
        fig = drawing.update(view)
        assert fig is drawing.fig and drawing.view is view
        for side, line in drawing.points.items():
            rows = view.joined[view.joined["side"] == side]
            np.testing.assert_array_equal(line.get_xdata(), rows["mf"])
            np.testing.assert_array_equal(line.get_ydata(), rows["ncf"])
        lo, hi = drawing.ax.get_xlim()
        assert drawing.ax.get_ylim() == (lo, hi)
        assert lo < view.joined[["mf", "ncf"]].to_numpy().min() and hi > view.joined[["mf", "ncf"]].to_numpy().max()
        assert f"Pearson R = {view.correlation:.2f}" in drawing.ax.get_title()
        texts = [label.get_text() for label in drawing.labels]
        if view.shared_top and (view.mf.iloc[0][["user", "item"]] == view.ncf.iloc[0][["user", "item"]]).all():
            assert texts[0].startswith("top of both") and texts[1] == ""
        else:
            assert texts[0].startswith("MF's top") and texts[1].startswith("NCF's top")
    fresh = render_comparison(views[-1])
    (line,) = [line for line in fresh.axes[0].get_lines() if "item-based" in line.get_label()]
    np.testing.assert_array_equal(line.get_xdata(), drawing.points["item-based"].get_xdata())
    assert "influence on the prediction, MF" in drawing.ax.get_xlabel()


def test_tables_list_each_models_top_rows_escaped(data, models):
    train, test = data
    view = compare_explanations(*models, train, int(test.rows[2]), int(test.cols[2]), n_top=2)
    html = render_tables(view)
    assert "Movie &lt;" in html and "Movie <" not in html                     # titles are escaped
    assert f"MF <b>{view.mf_prediction:.2f}</b>, NCF <b>{view.ncf_prediction:.2f}</b>" in html
    for model in ("mf", "ncf"):
        for side in ("item-based", "user-based"):
            for value in view.top(model, side)["influence"]:
                assert f"{value:+.3f}</td>" in html
    assert html.count("<tr><td style='text-align:left'>") == 8                # 2 models x 2 sides x n_top = 2


# ---------------------------------------------------------------------------- the widget
def _png(box):
    data = box.out.outputs[1]["data"]["image/png"]
    return base64.b64decode(data) if isinstance(data, str) else data


def _html(box):
    return box.out.outputs[0]["data"]["text/html"]


def test_widget_first_control_is_a_slider_and_it_updates_the_output(data, models):
    train, test = data
    box = ncf_explorer(*models, train, test=test)
    assert isinstance(box, NcfExplorer) and isinstance(box.children[0], widgets.SelectionSlider)
    assert box.children[0] is box.user and isinstance(box.children[2], widgets.Output)
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    users = np.unique(test.rows)
    assert [v for _, v in box.user.options] == users.tolist()
    user = int(users[0])
    held = int(test.cols[test.rows == user][0])
    assert box.item.options[0] == (box.item.options[0][0], held) and box.item.options[0][0].startswith("held out: ")
    assert repr(box) == f"NcfExplorer(user={user}, item='Movie <{held}> & co', n_top=5)"
    view = box.view
    assert (view.user, view.item) == (user, held)
    pd.testing.assert_frame_equal(view.joined, compare_explanations(*models, train, user, held).joined)
    first_html, first_png = _html(box), _png(box)

    box.user.value = int(users[1])                                 # what the browser test does
    assert len(box.out.outputs) == 2 and box.view.user == int(users[1])
    assert _html(box) != first_html and _png(box) != first_png
    assert box.item.value == int(test.cols[test.rows == users[1]][0])
    assert f"Target: user {users[1]}" in _html(box)

    box.user.value = user                                          # back: the same picture, from the cache
    assert _html(box) == first_html and _png(box) == first_png and box.view is view


def test_widget_dropdown_offers_recommendations_with_both_predictions(data, models):
    train, test = data
    als, ncf = models
    box = ncf_explorer(als, ncf, train, test=test, n_items=4)
    user = box.user.value
    recommended = ncf.recommend(user, n=4)["item"].tolist()
    values = [v for _, v in box.item.options]
    assert values[1:] == [i for i in recommended if i not in values[:1]]
    label = dict((v, k) for k, v in box.item.options)[recommended[0]]
    first = recommended[0]
    assert f"MF {als.predict([user], [first])[0]:.2f}, NCF {ncf.predict([user], [first])[0]:.2f}" in label
    box.item.value = recommended[0]
    assert box.view.item == recommended[0] and len(box.out.outputs) == 2
    assert repr(box) == f"NcfExplorer(user={user}, item='Movie <{recommended[0]}> & co', n_top=5)"


def test_widget_defaults_without_test_and_a_chosen_start(data, models):
    train, _ = data
    box = ncf_explorer(*models, train)
    assert [v for _, v in box.user.options] == np.flatnonzero(train.user_counts() > 0).tolist()
    assert not any(label.startswith("held out") for label, _ in box.item.options)
    rated = int(train.cols[train.rows == 3][0])                    # a movie the user rated: offered first
    chosen = ncf_explorer(*models, train, users=[3, 5], user=3, item=rated, n_top=2)
    assert [v for _, v in chosen.user.options] == [3, 5] and chosen.item.value == rated
    assert chosen.item.options[0][1] == rated and chosen.view.n_top == 2


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(user=3, users=[1, 2]), ValueError, "not among"),
    (dict(users=[M]), ValueError, "user must be"),
    (dict(users=[]), ValueError, "no user"),
    (dict(item=N), ValueError, "item must be"),
    (dict(n_top=0), ValueError, "n_top"),
    (dict(n_items=0), ValueError, "n_items"),
    (dict(test="nope"), TypeError, "test"),
])
def test_widget_rejects_bad_arguments(data, models, kwargs, error, match):
    with pytest.raises(error, match=match):
        ncf_explorer(*models, data[0], **kwargs)


def test_widget_rejects_a_test_set_of_another_shape(data, models):
    other, _, _ = mt.synthetic(5, 5, rank=1, density=0.5)
    with pytest.raises(ValueError, match="shape"):
        ncf_explorer(*models, data[0], test=other)


def test_widget_shows_an_error_and_gives_the_controls_back(data, models, monkeypatch):
    train, test = data
    box = ncf_explorer(*models, train, test=test)

    def broken(*args, **kwargs):
        raise RuntimeError("compare_explanations broke")

    monkeypatch.setattr(ncf_fia_module, "compare_explanations", broken)
    box.item.value = box.item.options[2][1]
    html = box.out.outputs[0]["data"]["text/html"]
    assert "mfteach-error" in html and "compare_explanations broke" in html
    assert not any(control.disabled for control in (box.user, box.item, box.find))
