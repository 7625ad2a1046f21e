"""mfteach.widgets.explanation_app: the explanation explorer app's layout, without a browser.

The app's compute (``mfteach.app``) is tested on MovieLens 100K in tests/test_app.py; here the
builder runs on a small planted problem with titles and genres, fitted by the app's own
``fit_model`` (with a looser tolerance), so that every control can be exercised in a second."""

import threading
import time

import ipywidgets as widgets
import numpy as np
import pytest

import mfteach as mt
from mfteach import app as A
from mfteach.ratings import Ratings
from mfteach.widgets import ExplanationApp, explanation_explorer, render_app_explanation
from mfteach.widgets import explanation_app as module  # the module (the builder is explanation_explorer)


@pytest.fixture(scope="module")
def small_app():
    base, _, _ = mt.synthetic(60, 40, rank=3, density=0.35, noise=0.3, seed=5)
    values = np.clip(np.round(base.values * 1.2 + 3.0), 1, 5)
    genres = [["Drama"] if i % 3 else ["Comedy", "Romance"] for i in range(40)]
    ratings = Ratings(base.rows, base.cols, values, shape=base.shape, users=np.arange(101, 161),
                      item_titles=np.array([f"Movie {i} & co" for i in range(40)], dtype=object), item_genres=genres)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(A, "TOL", 1e-8)
        model, iterations = A.fit_model(ratings)
    return A.AppModel("100k", ratings, model, iterations, 0.1, 1e-4)


@pytest.fixture
def served(small_app, monkeypatch):
    """compute.fitted_model answers with the small app as if it had to be fitted (``fit=False``
    gets None; ``served.cached = True`` makes it cached); records the progress factories it got."""

    class Calls(list):
        cached = False

    calls = Calls()

    def fitted_model(dataset, home=None, progress=False, fit=True):
        if not fit and not calls.cached:
            return None
        calls.append((dataset, progress))
        return small_app

    monkeypatch.setattr(module.compute, "fitted_model", fitted_model)
    return calls


def html(box) -> str:
    return box.out.outputs[0]["data"]["text/html"]


def test_builder_shows_recommendations_three_panels_and_a_sentence(small_app, served):
    box = explanation_explorer(datasets=["100k"], background=False)
    assert isinstance(box, ExplanationApp) and repr(box) == "ExplanationApp(dataset='100k', user=0)"
    assert box.ready.is_set() and box.rescored.is_set()
    top = A.recommendations(small_app, 0)
    assert [value for _, value in box.recommendations.options] == top["item"].tolist()
    assert box.recommendations.options[0][0].startswith("1. Movie ")
    ex = box.explanation
    assert (ex.user, ex.item) == (0, top["item"].iloc[0])
    assert not ex.item_based["retrained"].isna().any() and not ex.user_based["retrained"].isna().any()
    page = html(box)
    for part in ("FATREC", "FIA item-based", "FIA user-based", "mfteach-app-rescored", "for user 101",
                 "&amp; co"):  # titles are escaped
        assert part in page
    assert "We recommend" in box.sentence.value
    assert box.removed.value == box.removed.options[0][1]
    assert [name for name, _ in box.timings] == ["neighbourhood retraining", "load 100k"]
    assert "Last update (load 100k)" in box.status.value


def test_render_marks_a_panel_whose_neighbourhood_column_is_pending(small_app):
    ex = A.explain_recommendation(small_app, 3, 7, rescore=False)
    page = render_app_explanation(ex)
    assert "mfteach-app-rescoring" in page and "&hellip;" in page and "mfteach-app-rescored" not in page


def test_another_user_refills_the_list_and_explains_its_first_recommendation(small_app, served):
    box = explanation_explorer(datasets=["100k"], background=False)
    box.user.value = 7
    top = A.recommendations(small_app, 7)
    assert [value for _, value in box.recommendations.options] == top["item"].tolist()
    assert (box.explanation.user, box.explanation.item) == (7, top["item"].iloc[0])
    assert "for user 108" in html(box)
    assert [name for name, _ in box.timings][-2:] == ["neighbourhood retraining", "user"]


def test_another_recommendation_is_explained(small_app, served):
    box = explanation_explorer(datasets=["100k"], background=False)
    chosen = box.recommendations.options[2][1]
    box.recommendations.value = chosen
    assert box.explanation.item == chosen
    title = small_app.ratings.item_labels([chosen])[0].replace("&", "&amp;")
    assert f"Explaining <b>{title}</b>" in html(box)
    assert box.result.value == ""


def test_verify_shows_the_full_retrain_of_the_chosen_rating(small_app, served):
    box = explanation_explorer(datasets=["100k"], background=False)
    pair = box.removed.options[1][1]
    box.removed.value = pair
    box.verify.click()
    check = box.verification
    assert check.removed == pair
    expected = mt.explain.loo_influence(small_app.model, small_app.ratings, box.explanation.user,
                                        box.explanation.item, pair, tol=A.RETRAIN_TOL)
    assert check.retrained == pytest.approx(expected, abs=1e-12)
    assert "Removed" in box.result.value and f"{check.retrained:+.4f}" in box.result.value
    assert not box.verify.disabled and box.verify.description == "Retrain the whole model without it"


def test_an_error_is_shown_in_the_app_and_the_controls_come_back(small_app, served, monkeypatch):
    box = explanation_explorer(datasets=["100k"], background=False)

    def broken(*args, **kwargs):
        raise ValueError("no explanation today")

    monkeypatch.setattr(module.compute, "explain_recommendation", broken)
    box.recommendations.value = box.recommendations.options[1][1]
    assert "mfteach-error" in html(box) and "no explanation today" in html(box)
    assert not any(c.disabled for c in (box.user, box.recommendations, box.verify, box.dataset))


def test_background_threads_fit_and_rescore(small_app, served):
    box = explanation_explorer(datasets=["100k"])
    assert box.ready.wait(30) and box.rescored.wait(30)
    assert "mfteach-app-rescored" in html(box)
    box.user.value = 11                     # answers at once; the column follows in the background
    assert box.explanation.user == 11
    assert box.rescored.wait(30)
    deadline = time.monotonic() + 5
    while "mfteach-app-rescored" not in html(box) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "mfteach-app-rescored" in html(box) and not box.explanation.item_based["retrained"].isna().any()


def test_a_cached_model_is_shown_complete_before_the_builder_returns(small_app, served, monkeypatch):
    served.cached = True
    real_thread = threading.Thread
    monkeypatch.setattr(threading, "Thread", lambda *a, **k: pytest.fail("a thread was started"))
    drawn = []
    show = module.show_outputs
    monkeypatch.setattr(module, "show_outputs", lambda out, *objs: (drawn.append(objs), show(out, *objs)))
    box = explanation_explorer(datasets=["100k"])         # background=True: Voila's case
    assert box.ready.is_set() and box.rescored.is_set()
    assert len(drawn) == 1 and "mfteach-app-rescored" in html(box)   # drawn once, complete
    assert not box.explanation.item_based["retrained"].isna().any()
    monkeypatch.setattr(threading, "Thread", real_thread)
    box.user.value = 11                                   # after that, interactions rescore in a thread
    assert box.rescored.wait(30) and box.explanation.user == 11


def test_the_fit_progress_bar_is_placed_in_the_app_and_ends_full(small_app, monkeypatch):
    def fitted_model(dataset, home=None, progress=False, fit=True):
        if not fit:
            return None
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(A, "TOL", 1e-6)
            A.fit_model(small_app.ratings, progress=progress)
        return small_app

    monkeypatch.setattr(module.compute, "fitted_model", fitted_model)
    box = explanation_explorer(datasets=["100k"], background=False)
    (bar,) = box.progress.children
    progress = [w for w in bar.children if isinstance(w, widgets.FloatProgress)][0]
    assert progress.value == progress.max > 1


def test_builder_refuses_unknown_datasets_and_bad_users(served):
    with pytest.raises(ValueError, match="unknown dataset 'imdb'"):
        explanation_explorer(datasets=["imdb"], background=False)
    with pytest.raises(TypeError, match="user must be a row index"):
        explanation_explorer(datasets=["100k"], user="5", background=False)
