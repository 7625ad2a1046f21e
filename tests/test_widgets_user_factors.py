"""The user explorer: the compute function's numbers, then the widget driven in plain Python."""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.widgets import user_explorer
from mfteach.widgets.user_factors import SORT_ORDERS, UserView, prepare_user_explorer, render_user_view, user_view


@pytest.fixture(scope="module")
def prepared(ml100k):
    return prepare_user_explorer(ml100k)


@pytest.fixture(scope="module")
def dense(ml100k):
    return ml100k.to_dense()


# ---------------------------------------------------------------------------- compute
@pytest.mark.parametrize("u", [0, 1, 12, 404, 942])
def test_user_view_numbers_match_a_direct_computation(ml100k, prepared, dense, u):
    view = user_view(prepared, u, n_top=None)
    row = dense[u]
    rated = np.flatnonzero(~np.isnan(row))
    assert isinstance(view, UserView)
    assert view.user == u and view.user_id == ml100k.users[u]
    assert view.n_rated == ml100k.user_counts()[u] == len(rated)
    assert view.n_items == 1682
    assert view.share_of_catalogue == pytest.approx(len(rated) / 1682)
    assert view.mean_rating == pytest.approx(np.nanmean(row))
    assert view.global_mean == pytest.approx(ml100k.values.mean())
    # histogram over the stars 1..5
    np.testing.assert_array_equal(view.levels, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(view.hist, [np.sum(row == s) for s in range(1, 6)])
    assert view.hist.sum() == view.n_rated
    np.testing.assert_array_equal(view.global_hist, np.bincount(ml100k.values.astype(int), minlength=6)[1:])
    # the strip: every rated item at its popularity rank, with its rating
    rank = np.argsort(np.argsort(-ml100k.item_counts(), kind="stable"), kind="stable")
    np.testing.assert_array_equal(np.sort(view.strip_positions), np.sort(rank[rated]))
    np.testing.assert_array_equal(view.strip_values, row[rated])
    item_means = np.nanmean(dense[:, rated], axis=0)
    np.testing.assert_allclose(view.item_means, item_means)
    assert view.median_popularity_rank == np.median(rank[rated])
    # the table: all rated items, titles and ratings from the data
    table = view.table
    assert len(table) == view.n_rated
    assert set(table["item"]) == set(rated)
    np.testing.assert_array_equal(table["title"], ml100k.item_titles[table["item"]])
    np.testing.assert_array_equal(table["rating"], row[table["item"]])
    np.testing.assert_array_equal(table["ratings of item"], ml100k.item_counts()[table["item"]])
    np.testing.assert_array_equal(table["id"], ml100k.items[table["item"]])
    assert table["genres"].iloc[0] == ", ".join(ml100k.item_genres[table["item"].iloc[0]])


def test_user_view_of_user_0_by_hand(prepared):
    view = user_view(prepared, 0)
    assert view.n_rated == 272 and view.user_id == 1
    assert round(view.mean_rating, 2) == 3.61
    assert len(view.table) == 10
    top = view.table.iloc[0]  # a 5-star rating, the most rated among them
    assert top["rating"] == 5 and top["title"] == "Star Wars (1977)"
    assert "user u = 0 (id 1): rated 272 of 1682 items (16.2% of the catalogue)" in view.summary()


def test_user_view_sort_orders(prepared):
    by_rating = user_view(prepared, 7, sort="rating", n_top=None).table
    assert (np.diff(by_rating["rating"]) <= 0).all()
    for rating, group in by_rating.groupby("rating"):  # ties: most popular first
        assert (np.diff(group["ratings of item"]) <= 0).all()
    lowest = user_view(prepared, 7, sort="lowest", n_top=None).table
    assert (np.diff(lowest["rating"]) >= 0).all()
    popular = user_view(prepared, 7, sort="popular", n_top=5).table
    niche = user_view(prepared, 7, sort="niche", n_top=5).table
    assert (np.diff(popular["ratings of item"]) <= 0).all() and (np.diff(niche["ratings of item"]) >= 0).all()
    assert popular["ratings of item"].min() >= niche["ratings of item"].max()
    assert len(popular) == 5


def test_user_view_is_pure_and_accepts_ratings(ml100k, prepared):
    first = user_view(prepared, 3)
    again = user_view(ml100k, 3)  # prepared on the fly
    pd.testing.assert_frame_equal(first.table, again.table)
    np.testing.assert_array_equal(first.hist, again.hist)


def test_user_view_without_titles_and_with_continuous_values():
    ratings, _, _ = mt.synthetic(30, 20, rank=2, density=0.3, seed=1)
    view = user_view(prepare_user_explorer(ratings), 4, n_top=None)
    assert len(view.levels) == len(view.hist) == 10  # binned
    assert view.hist.sum() == view.n_rated == ratings.user_counts()[4]
    assert view.global_hist.sum() == len(ratings)
    assert view.table["title"].iloc[0].startswith("item ")
    assert (view.table["genres"] == "").all()


@pytest.mark.parametrize("user, sort, error", [(943, "rating", ValueError), (-1, "rating", ValueError),
                                               (1.5, "rating", TypeError), (True, "rating", TypeError),
                                               (0, "newest", ValueError)])
def test_user_view_rejects_bad_arguments(prepared, user, sort, error):
    with pytest.raises(error):
        user_view(prepared, user, sort=sort)


def test_render_user_view_draws_three_panels(prepared):
    fig = render_user_view(user_view(prepared, 0))
    strip, cbar, hist, scatter = fig.axes
    assert len(strip.collections[0].get_segments()) == 272
    assert [round(p.get_height(), 6) for p in hist.patches[:5]] == [round(c / 272, 6) for c in (25, 28, 56, 82, 81)]
    assert len(scatter.collections[0].get_offsets()) == 272


# ---------------------------------------------------------------------------- the widget
def _texts(out):
    """The Output's content as comparable text (html/plain of each display)."""
    return [o["data"].get("text/html", o["data"].get("text/plain")) for o in out.outputs]


def test_widget_updates_its_output_when_the_slider_moves(ml100k):
    box = user_explorer(ml100k, user=0)
    assert repr(box) == "UserExplorer(user=0, sort='rating', 943 users x 1682 items)"
    assert box.slider.min == 0 and box.slider.max == 942 and box.slider.value == 0
    kinds = [sorted(o["data"]) for o in box.out.outputs]
    assert kinds[0] == ["image/png", "text/plain"] and all("text/html" in k for k in kinds[1:])
    before, png_before = _texts(box.out), box.out.outputs[0]["data"]["image/png"]
    assert "Star Wars (1977)" in before[-1]

    box.slider.value = 5
    after = _texts(box.out)
    assert len(box.out.outputs) == 4  # replaced, not appended
    assert after != before and box.out.outputs[0]["data"]["image/png"] != png_before
    view = user_view(prepare_user_explorer(ml100k), 5)
    assert view.table["title"].iloc[0] in after[-1]
    assert f"<b>{view.n_rated}</b>" in after[1]  # the numbers table
    assert box.view.user == 5 and repr(box).startswith("UserExplorer(user=5,")
    assert "id <b>6</b>" in box.children[0].children[1].value  # readout of the MovieLens id


def test_widget_sort_dropdown_and_repeated_moves(ml100k):
    box = user_explorer(ml100k, user=2, n_top=3)
    assert set(box.sort.options) == {(label, key) for key, label in SORT_ORDERS.items()}
    before = _texts(box.out)
    box.sort.value = "niche"
    assert _texts(box.out) != before and "least popular" in _texts(box.out)[2]
    for u in (3, 4, 3):
        box.slider.value = u
        assert len(box.out.outputs) == 4
    assert box.view.user == 3 and len(box.view.table) == 3


def test_widget_rejects_bad_arguments(ml100k):
    with pytest.raises(ValueError):
        user_explorer(ml100k, user=10_000)
    with pytest.raises(ValueError):
        user_explorer(ml100k, sort="newest")


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(ml100k, monkeypatch):
    import mfteach.widgets.user_factors as module

    box = user_explorer(ml100k, user=0)

    def broken(*args, **kwargs):
        raise RuntimeError("user view exploded")

    monkeypatch.setattr(module, "user_view", broken)
    box.slider.value = 3
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "user view exploded" in shown
    assert not box.slider.disabled and not box.sort.disabled


def test_a_new_table_order_keeps_the_users_figure(ml100k):
    box = user_explorer(ml100k, user=0)
    png = box.out.outputs[0]["data"]["image/png"]
    box.sort.value = "popular"
    assert box.out.outputs[0]["data"]["image/png"] == png and "most popular first" in box.out.outputs[2]["data"]["text/html"]
    box.slider.value = 1
    assert box.out.outputs[0]["data"]["image/png"] != png
