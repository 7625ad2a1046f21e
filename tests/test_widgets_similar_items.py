"""The similar-items explorer (lesson 09, book Example 9.2.4): the compute function against
direct numpy, and the widget driven in plain Python."""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.widgets.similar_items import (
    nearest_items,
    prepare_similar_items,
    render_similar_items,
    similar_items_explorer,
)

TITLES = ["Alpha (1990)", "Beta (1991)", "Gamma (1992)", "Delta (1993)", "Alpha (1990)", "Zeta (1995)"]
GENRES = [["Action"], ["Comedy"], ["Action", "Sci-Fi"], ["Drama"], [], ["Drama", "Romance"]]


def _ratings(V, seed=0):
    """Ratings over len(V) items with the titles above; item j rated by j + 1 users."""
    n = len(V)
    rows, cols = [], []
    for j in range(n):
        rows += list(range(j + 1))
        cols += [j] * (j + 1)
    values = np.random.default_rng(seed).integers(1, 6, len(rows))
    return mt.Ratings(rows, cols, values, shape=(n + 1, n), items=np.arange(101, 101 + n),
                      item_titles=TITLES[:n], item_genres=GENRES[:n])


@pytest.fixture
def V():
    return np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.2], [-1.0, 0.1], [0.7, 0.7], [0.5, -0.5]])


def test_similar_items_match_direct_numpy(V):
    prepared = prepare_similar_items(V, _ratings(V))
    table = nearest_items(prepared, 0, n=3)
    unit = V / np.linalg.norm(V, axis=1, keepdims=True)
    cos = unit @ unit[0]
    expected = [j for j in np.argsort(-cos, kind="stable") if j != 0][:3]
    np.testing.assert_array_equal(table["item"], expected)
    np.testing.assert_allclose(table["similarity"], cos[expected])
    assert list(table.columns) == ["item", "title", "genres", "ratings", "similarity"]
    assert list(table.index) == [1, 2, 3]
    assert list(table["title"]) == [TITLES[j] for j in expected]
    assert table["genres"].iloc[0] == "Action, Sci-Fi"  # item 2
    np.testing.assert_array_equal(table["ratings"], np.array(expected) + 1)


def test_min_ratings_filters_candidates(V):
    prepared = prepare_similar_items(V, _ratings(V))
    table = nearest_items(prepared, 0, n=10, min_ratings=4)
    assert set(table["item"]) == {3, 4, 5}  # items rated by 4, 5, 6 users
    assert len(nearest_items(prepared, 0, n=10)) == 5


def test_real_model_neighbors_on_movielens(ml100k):
    train, _ = ml100k.split(0.2, seed=0)
    model = mt.ALS(rank=8, reg=10.0, n_iters=5, biased=True, seed=0).fit(train)
    prepared = prepare_similar_items(model.V_, train)
    star_wars = int(np.flatnonzero(train.item_titles == "Star Wars (1977)")[0])
    table = nearest_items(prepared, star_wars, n=10, min_ratings=20)
    V = model.V_
    with np.errstate(invalid="ignore"):  # movies without training ratings have v_i = 0: NaN
        cos = V @ V[star_wars] / (np.linalg.norm(V, axis=1) * np.linalg.norm(V[star_wars]))
    np.testing.assert_allclose(table["similarity"], cos[table["item"]])
    allowed = (train.item_counts() >= 20) & (np.arange(V.shape[0]) != star_wars)
    assert table["similarity"].iloc[-1] >= np.sort(cos[allowed])[-10] - 1e-12
    assert "Return of the Jedi (1983)" in set(table["title"])  # the sequels point the same way


def test_prepare_labels_repeated_titles_with_ids(V):
    prepared = prepare_similar_items(V, _ratings(V))
    assert prepared.labels[0] == "Alpha (1990) (id 101)" and prepared.labels[4] == "Alpha (1990) (id 105)"
    assert prepared.labels[1] == "Beta (1991)"
    bare = prepare_similar_items(V)
    assert bare.titles[2] == "item 2" and (bare.counts == 0).all()
    with pytest.raises(ValueError):
        prepare_similar_items(V[:3], _ratings(V))


def test_cold_item_raises(V):
    W = V.copy()
    W[1] = 0
    with pytest.raises(ValueError, match="zero vector"):
        nearest_items(prepare_similar_items(W), 1)


def test_render_draws_one_bar_per_neighbor(V):
    table = nearest_items(prepare_similar_items(V, _ratings(V)), 2, n=4)
    fig = render_similar_items(table, "Gamma (1992)")
    ax = fig.axes[0]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], table["similarity"])
    assert "Gamma" in ax.get_title()


def _content(box):
    return [tuple(sorted(o["data"].items())) for o in box.out.outputs]


def test_widget_controls_update_the_output(V):
    box = similar_items_explorer(V, _ratings(V), n=3, min_ratings=0)
    assert repr(box) == "SimilarItemsExplorer(item='Zeta (1995)', n=3, min_ratings=0, 6 items)"  # most rated
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["text/html", "text/plain"],
                                                            ["text/html", "text/plain"]]
    assert box.out.outputs[1]["data"]["text/html"].count("<rect") == 3  # the SVG bars, one per neighbour
    assert len(box.table) == 3

    before = _content(box)
    box.count.value = 4  # the slider the browser test moves first
    assert _content(box) != before and len(box.table) == 4 and len(box.out.outputs) == 3

    before = _content(box)
    box.movie.value = 2
    assert _content(box) != before
    pd.testing.assert_frame_equal(box.table, nearest_items(prepare_similar_items(V, _ratings(V)), 2, n=4))

    box.min_ratings.value = 5
    assert set(box.table["item"]) <= {4, 5}
    assert repr(box) == "SimilarItemsExplorer(item='Gamma (1992)', n=4, min_ratings=5, 6 items)"


def test_widget_search_filters_titles_and_keeps_the_movie(V):
    box = similar_items_explorer(V, _ratings(V), item=1, min_ratings=0)
    outputs = []
    box.out.observe(lambda change: outputs.append(change), names="outputs")
    box.search.value = "a"  # Alpha, Beta, Gamma, Delta, Zeta all contain an "a": Beta stays
    assert box.movie.value == 1 and not outputs
    box.search.value = "gam"
    assert box.movie.options == (("Gamma (1992)", 2),) and box.movie.value == 2 and len(outputs) == 1
    box.search.value = "no such movie"
    assert box.movie.value == 2 and len(outputs) == 1  # nothing matches: nothing changes
    box.search.value = ""
    assert len(box.movie.options) == 6 and box.movie.value == 2


def test_widget_switches_models_and_reports_a_cold_item(V):
    cold = V.copy()
    cold[3] = 0.0
    box = similar_items_explorer({"warm": V, "cold": cold}, _ratings(V), item=3, min_ratings=0)
    assert box.table is not None
    box.model.value = "cold"
    assert box.table is None
    assert "cold-start" in box.out.outputs[-1]["data"]["text/html"]
    assert "model='cold'" in repr(box)


def test_similar_items_svg_draws_one_bar_per_neighbor_and_the_0_9_line(V):
    from mfteach.widgets.similar_items import similar_items_svg

    table = nearest_items(prepare_similar_items(V, _ratings(V)), 0, n=4)
    svg = similar_items_svg(table, "Alpha <1990>")
    assert svg.count("<rect") == 4 and "Alpha &lt;1990&gt;" in svg and "0.9 (Example 9.2.4)" in svg


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(V, monkeypatch):
    import mfteach.widgets.similar_items as module

    box = similar_items_explorer(V, _ratings(V), n=3, min_ratings=0)

    def broken(*args, **kwargs):
        raise RuntimeError("neighbours exploded")

    monkeypatch.setattr(module, "nearest_items", broken)
    box.count.value = 4
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "neighbours exploded" in shown
    assert not any(c.disabled for c in (box.search, box.movie, box.count, box.min_ratings))
    box.movie.value = 2  # a new movie shows its error too
    assert "neighbours exploded" in box.out.outputs[0]["data"]["text/html"]
