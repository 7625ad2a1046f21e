"""The explanation explorer of lesson 15: the view is fia's frame cut into the two sides plus a
sentence; the buttons compare the top row with neighbourhood retraining and with leave-one-out
retraining; the widget redraws on every control in plain Python, and an error in a callback is
shown in the output with the controls given back."""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.plots import SIGN_COLORS
from mfteach.explain.fast_influence import fia, loo_influence
from mfteach.explain.local import local_retrain
from mfteach.widgets.fia_view import (
    ExplanationView, FiaExplorer, Verification, explanation_view, fia_explorer, render_explanation, verify_top,
)

M, N, RANK, REG = 30, 24, 3, 0.5
RETRAIN = dict(n_iters=300, tol=1e-10)   # quick, converged retrains on this small problem


@pytest.fixture(scope="module")
def data():
    """Planted rank-3 ratings on 1..5 stars, with titles and genres, and an unbiased ALS fit to convergence."""
    raw, _, _ = mt.synthetic(M, N, rank=RANK, density=0.45, noise=0.3, seed=1)
    values = np.clip(np.round(3 + raw.values), 1, 5)
    genres = [["Drama"] if i % 3 else ["Comedy", "Romance"] for i in range(N)]
    ratings = mt.Ratings(raw.rows, raw.cols, values, shape=raw.shape,
                         item_titles=np.array([f"Movie {i}" for i in range(N)], dtype=object), item_genres=genres)
    model = mt.ALS(rank=RANK, reg=REG, n_iters=500, tol=1e-12, seed=0).fit(ratings)
    return ratings, model


def _unrated(ratings, user):
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    return np.setdiff1d(np.arange(ratings.shape[1]), ratings.cols[lo:hi])


# ---------------------------------------------------------------------------- the view
@pytest.mark.parametrize("user", [0, 7, 19])
@pytest.mark.parametrize("n_top", [1, 3, 5])
def test_view_rows_are_fias_rows(data, user, n_top):
    ratings, model = data
    item = int(_unrated(ratings, user)[0])
    view = explanation_view(model, ratings, user, item, n_top=n_top)
    assert isinstance(view, ExplanationView) and (view.user, view.item) == (user, item)
    frame = fia(model, ratings, user, item)
    pd.testing.assert_frame_equal(view.frame, frame)
    for side, table in (("item-based", view.item_based), ("user-based", view.user_based)):
        expected = frame[frame["side"] == side].head(n_top)
        pd.testing.assert_frame_equal(table, expected)
        assert (table["side"] == side).all()
        influence = table["influence"].abs().to_numpy()
        assert np.all(influence[:-1] >= influence[1:])              # largest |influence| first
    assert view.prediction == pytest.approx(model.predict([user], [item])[0], rel=1e-12)
    assert view.n_user_ratings == ratings.user_counts()[user]
    assert view.n_item_ratings == ratings.item_counts()[item]
    assert view.title == f"Movie {item}"
    assert view.genres == ("Drama" if item % 3 else "Comedy, Romance")


def test_item_based_rows_are_residual_times_fatrecs_j(data):
    """Unbiased ALS: INFL(u, j) = e_uj v_i^T (V_O^T V_O + lambda I)^-1 v_j (lesson 14's exercise)."""
    ratings, model = data
    user = 4
    item = int(_unrated(ratings, user)[1])
    view = explanation_view(model, ratings, user, item, n_top=100)
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    rated, r = ratings.cols[lo:hi], ratings.values[lo:hi]
    V, u = model.V_, model.U_[user]
    A = V[rated].T @ V[rated] + REG * np.eye(RANK)
    expected = (r - V[rated] @ u) * (V[rated] @ np.linalg.solve(A, V[item]))
    got = view.item_based.set_index("item")["influence"]
    np.testing.assert_allclose(got.loc[rated].to_numpy(), expected, rtol=1e-9, atol=1e-12)


def test_sentence_names_the_top_item_based_ratings(data):
    ratings, model = data
    user, item = 3, int(_unrated(ratings, 3)[0])
    view = explanation_view(model, ratings, user, item)
    top = view.item_based.iloc[0]
    assert view.sentence.startswith(f"We predict your rating for Movie {item} to be {view.prediction:.2f}, "
                                    f"mostly because you rated {top['title']} ")
    for row in view.item_based.head(3).itertuples():
        assert f"{row.title} {row.rating:g} star" in view.sentence and f"({row.influence:+.3f})" in view.sentence
    if len(view.item_based) > 3:
        assert view.item_based.iloc[3]["title"] + " " not in view.sentence.split("because")[1]
    assert view.sentence.endswith(".") and " and " in view.sentence


def test_sentence_with_a_single_rating_and_one_star():
    ratings = mt.Ratings([0, 1, 1, 2], [0, 0, 1, 1], [1.0, 4.0, 2.0, 5.0], shape=(3, 3),
                         item_titles=np.array(["A", "B", "C"], dtype=object))
    model = mt.ALS(rank=1, reg=0.5, n_iters=200, tol=1e-12, seed=0).fit(ratings)
    view = explanation_view(model, ratings, 0, 2)
    assert view.prediction < 1  # below the 1-5 scale of the data: shown clipped, with the score beside it
    assert view.sentence == (f"We predict your rating for C to be 1 (the model's score, {view.prediction:.2f}, is "
                             f"off the 1-5 scale), mostly because you rated A 1 star "
                             f"({view.item_based['influence'].iloc[0]:+.3f}).")
    assert view.genres == "" and len(view.user_based) == 0 and view.n_item_ratings == 0


def test_exact_local_view_is_fias_exact_local(data):
    ratings, model = data
    view = explanation_view(model, ratings, 5, int(_unrated(ratings, 5)[0]), exact_local=True)
    pd.testing.assert_frame_equal(view.frame, fia(model, ratings, 5, view.item, exact_local=True))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(user=M), ValueError, "user"),
    (dict(user=-1), ValueError, "user"),
    (dict(item=N), ValueError, "item"),
    (dict(n_top=0), ValueError, "n_top"),
    (dict(n_top=2.5), (TypeError, ValueError), "n_top"),
])
def test_view_rejects_bad_input(data, kwargs, error, match):
    ratings, model = data
    with pytest.raises(error, match=match):
        explanation_view(model, ratings, **{"user": 0, "item": 1, **kwargs})


def test_view_rejects_an_unfitted_model_and_other_ratings(data):
    ratings, model = data
    with pytest.raises((RuntimeError, TypeError)):
        explanation_view(mt.ALS(rank=2), ratings, 0, 1)
    other, _, _ = mt.synthetic(5, 5, rank=1, density=0.8)
    with pytest.raises(ValueError, match="shape"):
        explanation_view(model, other, 0, 1)


def test_render_shows_the_sentence_titles_and_signed_influence(data):
    ratings, model = data
    view = explanation_view(model, ratings, 2, int(_unrated(ratings, 2)[0]), n_top=4)
    html = render_explanation(view)
    assert view.sentence.split(",")[0] in html
    for row in view.item_based.itertuples():
        assert f">{row.title}</td>" in html and f"{row.influence:+.4f}" in html
    for row in view.user_based.itertuples():
        assert f">{row.user}</td>" in html and f"{row.influence:+.4f}" in html
    assert f"background:{SIGN_COLORS[0]}" in html or f"background:{SIGN_COLORS[1]}" in html


# ---------------------------------------------------------------------------- verification by retraining
def test_verify_top_compares_the_top_row_with_loo_influence(data):
    ratings, model = data
    user, item = 6, int(_unrated(ratings, 6)[0])
    check = verify_top(model, ratings, user, item, **RETRAIN)
    frame = fia(model, ratings, user, item)
    top = frame.iloc[0]
    assert isinstance(check, Verification)
    assert check.removed == (int(top["user"]), int(top["item"])) and check.side == top["side"]
    assert check.estimate == top["influence"] and check.rating == top["rating"]
    assert check.retrained == pytest.approx(loo_influence(model, ratings, user, item, [check.removed], **RETRAIN),
                                            rel=1e-9, abs=1e-12)
    # the first-order estimate has the observed sign and size on this small converged problem
    assert np.sign(check.estimate) == np.sign(check.retrained)
    assert check.estimate == pytest.approx(check.retrained, rel=0.5)
    assert f"{check.estimate:+.4f}" in check.text() and f"{check.retrained:+.4f}" in check.text()


@pytest.mark.parametrize("side", ["item-based", "user-based"])
def test_verify_top_of_one_side(data, side):
    ratings, model = data
    user, item = 8, int(_unrated(ratings, 8)[0])
    check = verify_top(model, ratings, user, item, side=side, **RETRAIN)
    top = fia(model, ratings, user, item).query("side == @side").iloc[0]
    assert check.removed == (int(top["user"]), int(top["item"])) and check.side == side
    if side == "item-based":
        assert check.removed[0] == user and "your rating" in check.text()
    else:
        assert check.removed[1] == item and f"user {check.removed[0]}'s rating" in check.text()
    with pytest.raises(ValueError, match="side"):
        verify_top(model, ratings, user, item, side="both")


# ---------------------------------------------------------------------------- the widget
def _html(box):
    assert len(box.out.outputs) == 1
    return box.out.outputs[0]["data"]["text/html"]


def test_widget_builds_and_shows_the_first_users_top_recommendation(data):
    ratings, model = data
    box = fia_explorer(model, ratings, user=2, n_top=3)
    assert isinstance(box, FiaExplorer)
    assert box.children[0] is box.user                                   # the slider comes first
    top = model.recommend(2, n=10)
    assert [value for _, value in box.item.options] == top["item"].tolist()
    assert box.item.value == top["item"].iloc[0]
    assert (box.view.user, box.view.item, len(box.view.item_based)) == (2, int(top["item"].iloc[0]), 3)
    assert box.view.sentence in _html(box)
    assert repr(box) == f"FiaExplorer(user=2, item='Movie {top['item'].iloc[0]}', n_top=3)"
    assert sorted(box.out.outputs[0]["data"]) == ["text/html", "text/plain"]


def test_slider_and_dropdown_update_the_output_without_stacking(data):
    ratings, model = data
    box = fia_explorer(model, ratings, user=0)
    first = _html(box)
    box.user.value = 1                                                   # the first slider
    assert box.view.user == 1 and box.view.item == model.recommend(1, n=10)["item"].iloc[0]
    assert [v for _, v in box.item.options] == model.recommend(1, n=10)["item"].tolist()
    second = _html(box)
    assert second != first and "user 1," in second
    other = box.item.options[3][1]
    box.item.value = other
    assert box.view.item == other and f"Movie {other}" in _html(box) and len(box.out.outputs) == 1
    assert repr(box) == f"FiaExplorer(user=1, item='Movie {other}', n_top=5)"


def test_verify_is_neighbourhood_retraining_and_full_is_the_full_retrain(data):
    ratings, model = data
    box = fia_explorer(model, ratings, user=4, retrain=RETRAIN)
    assert box.verification is None and box.result.value == ""
    box.verify.click()
    local = box.verification
    assert isinstance(local, Verification) and local.how == "local" and (local.user, local.item) == (4, box.view.item)
    top = box.view.frame.iloc[0]
    assert local.removed == (int(top["user"]), int(top["item"]))
    assert local.retrained == local_retrain(model, ratings, 4, box.view.item, local.removed, hops=1, max_sweeps=3,
                                            aitken=True)
    assert f"{local.estimate:+.4f}" in box.result.value and f"{local.retrained:+.4f}" in box.result.value
    assert "by neighbourhood retraining" in box.result.value
    box.full.click()                                                     # the full retrain is still there
    full = box.verification
    assert full.how == "full" and full.removed == local.removed
    assert full.retrained == pytest.approx(
        loo_influence(model, ratings, 4, box.view.item, [full.removed], **RETRAIN), rel=1e-9, abs=1e-12)
    assert f"{full.retrained:+.4f} observed" in box.result.value and f"{local.retrained:+.4f}" in box.result.value
    assert box.verifications == {"local": local, "full": full}
    # one hop re-solves most of this small dense problem: close to the full retrain's change
    assert np.sign(local.retrained) == np.sign(full.retrained)
    assert local.retrained == pytest.approx(full.retrained, rel=0.2)
    assert not box.verify.disabled and not box.full.disabled
    box.user.value = 5                                                   # a new view clears the old verifications
    assert box.verification is None and box.verifications == {} and box.result.value == ""


def test_an_error_in_verify_is_shown_and_the_controls_come_back(data, monkeypatch):
    ratings, model = data
    box = fia_explorer(model, ratings, user=4)
    label = box.verify.description

    def broken(*args, **kwargs):
        assert box.verify.disabled and box.user.disabled and box.verify.description == "retraining…"
        raise RuntimeError("the neighbourhood <solve> failed")

    monkeypatch.setattr("mfteach.widgets.fia_view.verify_top", broken)
    box.verify.click()
    shown = _html(box)
    assert "RuntimeError" in shown and "the neighbourhood &lt;solve&gt; failed" in shown
    assert not box.verify.disabled and box.verify.description == label
    assert not any(c.disabled for c in (box.user, box.item, box.full))
    assert box.verification is None and box.result.value == ""
    monkeypatch.undo()
    box.item.value = box.item.options[1][1]                               # the explorer keeps working
    assert box.view.item == box.item.options[1][1] and "RuntimeError" not in _html(box)


def test_an_error_while_redrawing_is_shown_and_the_controls_come_back(data, monkeypatch):
    ratings, model = data
    box = fia_explorer(model, ratings, user=4)

    def broken(*args, **kwargs):
        raise ValueError("no explanation today")

    monkeypatch.setattr("mfteach.widgets.fia_view.explanation_view", broken)
    box.user.value = 6
    assert "ValueError" in _html(box) and "no explanation today" in _html(box)
    assert box.view is None and not any(c.disabled for c in (box.user, box.item, box.verify, box.full))
    box.verify.click()                                                   # nothing to verify: said, not raised
    assert "choose a user and a movie first" in _html(box) and not box.verify.disabled


def test_verify_top_how(data):
    ratings, model = data
    user, item = 6, int(_unrated(ratings, 6)[0])
    check = verify_top(model, ratings, user, item, how="local", local=dict(hops=0))
    exact = fia(model, ratings, user, item, exact_local=True).set_index(["user", "item"])["influence"]
    assert check.how == "local" and check.retrained == pytest.approx(exact.loc[check.removed], abs=1e-12)
    assert "by neighbourhood retraining" in check.text() and check.text().startswith("Removed ")
    with pytest.raises(ValueError, match="how"):
        verify_top(model, ratings, user, item, how="neighbours")
    with pytest.raises(TypeError, match="local="):
        verify_top(model, ratings, user, item, how="local", tol=1e-9)


def test_widget_with_a_chosen_item_outside_the_top_ten(data):
    ratings, model = data
    user = 9
    top = set(model.recommend(user, n=4)["item"].tolist())
    outside = int([i for i in _unrated(ratings, user) if i not in top][0])
    box = fia_explorer(model, ratings, user=user, item=outside, n_items=4)
    assert box.item.value == outside and box.item.options[0][1] == outside and len(box.item.options) == 5
    assert box.view.item == outside


def test_widget_users_offered_and_rejections(data):
    ratings, model = data
    box = fia_explorer(model, ratings, users=[3, 5, 8])
    assert [v for _, v in box.user.options] == [3, 5, 8] and box.user.value == 3
    default = fia_explorer(model, ratings)
    assert len(default.user.options) == int((ratings.user_counts() > 0).sum())
    with pytest.raises(ValueError, match="not among"):
        fia_explorer(model, ratings, users=[1, 2], user=3)
    with pytest.raises(ValueError, match="users"):
        fia_explorer(model, ratings, users=[M])
    with pytest.raises(ValueError, match="item"):
        fia_explorer(model, ratings, item=N)
    with pytest.raises(ValueError, match="n_top"):
        fia_explorer(model, ratings, n_top=0)
    other, _, _ = mt.synthetic(5, 5, rank=1, density=0.8)
    with pytest.raises(ValueError, match="shape"):
        fia_explorer(model, other)


@pytest.mark.parametrize("estimate, retrained, words", [
    (-0.0351, -0.02, ["would rise by 0.0351", "retrained, it rises by 0.0200"]),
    (0.1525, 0.295, ["would fall by 0.1525", "retrained, it falls by 0.2950"]),
    (0.01, -0.03, ["would fall by 0.0100", "retrained, it rises by 0.0300"]),
])
def test_the_verification_names_the_rating_and_says_rise_or_fall(estimate, retrained, words):
    check = Verification(user=3, item=7, removed=(91, 7), side="user-based", title="Willy Wonka", rating=1.0,
                         estimate=estimate, retrained=retrained)
    text = check.text()
    assert text.startswith("Removed user 91's rating of Willy Wonka")
    for w in words:
        assert w in text
    assert f"INFL = {estimate:+.4f} estimated, {retrained:+.4f} observed" in text
    assert "fall by INFL" not in text  # no double negative


def test_a_score_off_the_rating_scale_is_shown_clipped_with_the_score_beside_it():
    from mfteach.widgets.fia_view import _sentence

    rows = pd.DataFrame({"title": ["Alien"], "rating": [5.0], "influence": [0.2]})
    assert "to be 5 (the model's score, 5.18, is off the 1-5 scale)" in _sentence("Heat", 5.18, rows, scale=(1, 5))
    assert "to be 4.20, mostly because you rated Alien 5 stars (+0.200)" in _sentence("Heat", 4.2, rows, scale=(1, 5))
