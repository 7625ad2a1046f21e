"""The influence-matrix explorer (lesson 12, FATREC 2017 eq. (2)): the influences and impacts against
J computed directly from V, the sum against the model's prediction (unbiased and biased), and the
widget driven in plain Python."""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
import mfteach.widgets.influence_matrix as influence_matrix_module
from mfteach.widgets.influence_matrix import (
    ImpactView, impact_svg, impact_view, influence_matrix_explorer, render_impact_view,
)

TITLES = [f"Movie {chr(65 + i)} ({1980 + i})" for i in range(12)]


@pytest.fixture(scope="module")
def ratings():
    """10 users x 12 titled items, 1-5 stars; user 9 has only two ratings; users 7 and 8 rated the same items."""
    rng = np.random.default_rng(5)
    mask = rng.random((10, 12)) < 0.6
    mask[9] = False
    mask[9, [0, 1]] = True
    mask[:, 11] = False
    mask[0, 11] = True  # item 11: rated by user 0 only
    mask[8] = mask[7]
    rows, cols = np.nonzero(mask)
    return mt.Ratings(rows, cols, rng.integers(1, 6, len(rows)).astype(float), shape=(10, 12), item_titles=TITLES)


@pytest.fixture(scope="module")
def unbiased(ratings):
    return mt.ALS(rank=3, reg=0.5, n_iters=5000, tol=1e-13, seed=0).fit(ratings)


@pytest.fixture(scope="module")
def biased(ratings):
    return mt.ALS(rank=3, reg=0.5, n_iters=5000, tol=1e-13, seed=0, biased=True).fit(ratings)


def _row_of_J(F, rated, item, reg):
    """Row ``item`` of J = F (F_O^T F_O + reg I)^{-1} F_O^T, formed in full with an explicit inverse."""
    F_O = F[rated]
    J = F @ np.linalg.inv(F_O.T @ F_O + reg * np.eye(F.shape[1])) @ F_O.T
    return J[item]


def test_influences_and_impacts_match_J_from_V(ratings, unbiased):
    user, item = 2, 11
    view = impact_view(unbiased, ratings, user, item, n_top=3)
    rated = ratings.cols[ratings.rows == user]
    stars = ratings.values[ratings.rows == user]
    beta = _row_of_J(unbiased.V_, rated, item, unbiased.reg)
    frame = view.frame.set_index("item").loc[rated]
    np.testing.assert_allclose(frame["influence"], beta, atol=1e-12)
    np.testing.assert_allclose(frame["impact"], beta * stars, atol=1e-12)
    np.testing.assert_array_equal(frame["rating"], stars)
    assert list(view.frame["title"]) == [TITLES[i] for i in view.frame["item"]]
    assert view.baseline == 0.0 and not view.biased and view.own_rating is None
    # the impacts add up to the model's prediction
    assert view.prediction == pytest.approx(unbiased.predict([user], [item])[0], abs=1e-12)
    assert view.total == pytest.approx(view.prediction, abs=1e-9) and abs(view.residual) < 1e-9
    # rows by |influence|: the first three drawn, the rest summed
    assert np.all(np.diff(np.abs(view.frame["influence"].to_numpy())) <= 0)
    assert len(view.shown) == 3 and len(view.rest) == len(rated) - 3
    assert view.shown["impact"].sum() + view.rest["impact"].sum() == pytest.approx(view.total)


def test_rows_by_impact_rank_the_same_ratings_differently(ratings, unbiased):
    by_beta = impact_view(unbiased, ratings, 2, 11, order="influence")
    by_gamma = impact_view(unbiased, ratings, 2, 11, order="impact")
    assert np.all(np.diff(np.abs(by_gamma.frame["impact"].to_numpy())) <= 0)
    pd.testing.assert_frame_equal(by_beta.frame.sort_values("item").reset_index(drop=True),
                                  by_gamma.frame.sort_values("item").reset_index(drop=True))
    assert by_gamma.total == pytest.approx(by_beta.total)


def test_biased_model_baseline_plus_impacts(ratings, biased):
    user, item = 4, 11
    view = impact_view(biased, ratings, user, item)
    rated = ratings.cols[ratings.rows == user]
    stars = ratings.values[ratings.rows == user]
    F = np.hstack([biased.V_, np.ones((12, 1))])  # f_i = (v_i, 1): the user step also fits b_u
    beta = _row_of_J(F, rated, item, biased.reg)
    frame = view.frame.set_index("item").loc[rated]
    np.testing.assert_allclose(frame["influence"], beta, atol=1e-12)
    np.testing.assert_allclose(frame["impact"], beta * (stars - biased.mu_ - biased.item_bias_[rated]), atol=1e-12)
    assert view.biased and view.baseline == pytest.approx(biased.mu_ + biased.item_bias_[item])
    assert view.user_bias == pytest.approx(biased.user_bias_[user])
    assert view.total == pytest.approx(biased.predict([user], [item])[0], abs=1e-9)


def test_rated_target_and_same_rated_set(ratings, unbiased):
    """A rated target's own rating is one of the impacts; J is the same for equal rated sets."""
    view = impact_view(unbiased, ratings, 0, 11)
    assert view.own_rating == ratings.values[ratings.index_of(0, 11)]
    assert 11 in set(view.frame["item"])
    assert view.total == pytest.approx(view.prediction, abs=1e-9)
    same = [impact_view(unbiased, ratings, u, 11).frame.set_index("item").sort_index() for u in (7, 8)]
    assert not np.array_equal(same[0]["rating"], same[1]["rating"])
    np.testing.assert_allclose(same[0]["influence"], same[1]["influence"], atol=1e-13)  # beta: the same
    assert not np.allclose(same[0]["impact"], same[1]["impact"])                         # gamma: not


def test_render_draws_the_rows_and_the_waterfall(ratings, biased):
    view = impact_view(biased, ratings, 4, 11, n_top=3)
    fig = render_impact_view(view, "Movie L (1991)")
    left, right = fig.axes
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert labels[0] == "baseline μ + c_i" and labels[-1] == "= prediction"
    assert labels[-2] == f"the other {len(view.rest)} ratings"
    np.testing.assert_allclose([p.get_width() for p in left.patches], view.shown["influence"])
    steps = [p.get_width() for p in right.patches]
    np.testing.assert_allclose(steps[:-1], [view.baseline, *view.shown["impact"], view.rest["impact"].sum()])
    assert steps[-1] == pytest.approx(view.total)  # the outlined sum bar
    assert "Movie L (1991)" in left.get_title()


def test_svg_draws_the_rows_and_the_waterfall(ratings, biased):
    view = impact_view(biased, ratings, 4, 11, n_top=3)
    svg = impact_svg(view, "Movie L (1991)")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    labels = ["baseline μ + c_i", f"the other {len(view.rest)} ratings", "= prediction", "influence on Movie L (1991)"]
    assert all(label in svg for label in labels)
    for impact in view.shown["impact"]:  # every step's value is written beside its bar
        digits = 2 if abs(impact) >= 0.005 else 3
        assert f"{impact:+.{digits}f}" in svg
    assert f"sum {view.total:.3f}" in svg and svg.count("<rect") >= 2 * 3 + 3
    assert "Rock &amp; Roll" in impact_svg(view, "Rock & Roll")  # titles are escaped


def test_widget_shows_an_error_and_gives_the_controls_back(ratings, unbiased, monkeypatch):
    box = influence_matrix_explorer(unbiased, ratings, user=2, item=11)

    def broken(*args, **kwargs):
        raise RuntimeError("impact_view broke")

    monkeypatch.setattr(influence_matrix_module, "impact_view", broken)
    box.order.value = "impact"
    assert "impact_view broke" in box.out.outputs[0]["data"]["text/html"]
    assert "mfteach-error" in box.out.outputs[0]["data"]["text/html"]
    assert not any(control.disabled for control in (box.user, box.item, box.find, box.order))


def _content(box):
    return [tuple(sorted(o["data"].items())) for o in box.out.outputs]


def test_widget_controls_update_the_output(ratings, unbiased, biased):
    box = influence_matrix_explorer({"unbiased ALS": unbiased, "biased ALS": biased}, ratings, user=2, item=11,
                                    n_top=4)
    assert repr(box) == "InfluenceMatrixExplorer(user=2, item='Movie L (1991)', unbiased ALS, by influence)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"]] * 3
    assert box.out.outputs[1]["data"]["text/html"].startswith("<svg")  # the figure: an inline SVG
    before = _content(box)
    box.user.value = 3  # the first slider (the browser test moves it): the movie stays selected
    assert _content(box) != before and box.view.user == 3 and box.item.value == 11
    assert box.item.options[0][1] == int(np.argmax(unbiased.predict(np.full(12, 3), np.arange(12))))
    before = _content(box)
    box.order.value = "impact"
    assert _content(box) != before and box.view.order == "impact"
    box.model.value = "biased ALS"
    assert box.view.biased and "baseline" in box.out.outputs[0]["data"]["text/html"]
    assert box.view.total == pytest.approx(biased.predict([3], [11])[0], abs=1e-9)
    box.find.value = box.item.options[2][0]  # the type-ahead box picks a movie by its full label
    assert box.item.value == box.item.options[2][1] == box.view.item
    assert isinstance(box.view, ImpactView)


def test_widget_defaults_and_one_model(ratings, unbiased):
    box = influence_matrix_explorer(unbiased, ratings)
    assert box.model is None and box.view.user == 0
    assert box.view.item == int(np.argmax(unbiased.predict(np.zeros(12, dtype=int), np.arange(12))))
    assert "ALS" not in repr(box) and repr(box).endswith(", by influence)")


def test_bad_input_raises(ratings, unbiased):
    with pytest.raises(ValueError, match="n_top"):
        impact_view(unbiased, ratings, 2, 11, n_top=0)
    with pytest.raises(ValueError, match="order"):
        impact_view(unbiased, ratings, 2, 11, order="stars")
    with pytest.raises(ValueError, match="item"):
        impact_view(unbiased, ratings, 2, 12)
    with pytest.raises(ValueError, match="user"):
        impact_view(unbiased, ratings, 10, 0)
    with pytest.raises(ValueError, match="fitted on"):  # other ratings than the model's own
        impact_view(unbiased, ratings.with_values(6 - ratings.values), 2, 11)
    with pytest.raises(TypeError, match="ALS"):
        impact_view(mt.ImplicitALS(rank=2, n_iters=2).fit(ratings), ratings, 2, 11)
    with pytest.raises(ValueError, match="not among the users offered"):
        influence_matrix_explorer(unbiased, ratings, user=3, users=[1, 2])
    with pytest.raises(ValueError, match="non-empty dict"):
        influence_matrix_explorer({}, ratings)
    with pytest.raises(ValueError, match="fitted on"):
        influence_matrix_explorer(unbiased, ratings.with_values(6 - ratings.values))
