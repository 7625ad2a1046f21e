"""mfteach.app: the explanation explorer app's compute, on the real MovieLens 100K (MFTEACH_DATA).

The app's model converges to TOL = 1e-9 (about 660 ALS iterations, most of a minute); these
tests loosen TOL to 1e-4 (23 iterations, relative gradient norm 0.008) so that the fit takes a
second or two. Every explanation is compared with the function it comes from, or with an
identity it must satisfy."""

import io

import numpy as np
import pandas as pd
import pytest
from tqdm import tqdm

import mfteach as mt
import mfteach.explain
from mfteach import app as A
from mfteach.als import ALS
from mfteach.explain import fia, influence

FAST_TOL = 1e-4


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    return tmp_path_factory.mktemp("app-models")


@pytest.fixture(scope="module")
def app(model_files):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(A, "TOL", FAST_TOL)
        A.clear_cache()
        fitted = A.fitted_model("100k", cache_dir=model_files)
        yield fitted
        A.clear_cache()


@pytest.fixture(scope="module")
def user_and_item(app):
    user = 41
    return user, int(app.model.recommend(user, n=10)["item"].iloc[3])


# ---------------------------------------------------------------------------- the model
@pytest.fixture
def small():
    ratings, _, _ = mt.synthetic(40, 30, rank=3, density=0.4, noise=0.2, seed=3)
    return ratings


def test_fit_model_in_chunks_is_one_fit_bit_for_bit(small, monkeypatch):
    monkeypatch.setattr(A, "TOL", 1e-7)
    monkeypatch.setattr(A, "CHUNK", 7)   # a chunk boundary inside the run
    model, iterations = A.fit_model(small)
    single = ALS(rank=A.RANK, reg=A.REG, biased=True, n_iters=A.N_ITERS, tol=1e-7, seed=0).fit(small)
    assert iterations == len(single.history_) - 1 < A.N_ITERS
    pd.testing.assert_frame_equal(model.history_.drop(columns="seconds"), single.history_.drop(columns="seconds"))
    assert model.history_["seconds"].is_monotonic_increasing
    for name in ("U_", "V_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(single, name))
    assert model.mu_ == single.mu_
    assert model.get_params() == single.get_params()


def test_fit_model_stops_at_the_iteration_cap(small, monkeypatch):
    monkeypatch.setattr(A, "TOL", 0.0)
    monkeypatch.setattr(A, "N_ITERS", 25)
    model, iterations = A.fit_model(small)
    single = ALS(rank=A.RANK, reg=A.REG, biased=True, n_iters=25, seed=0).fit(small)
    assert iterations == 25
    np.testing.assert_array_equal(model.U_, single.U_)


def test_fit_model_progress_bar_ends_full_at_the_iterations_run(small, monkeypatch):
    monkeypatch.setattr(A, "TOL", 1e-6)
    bars = []

    def make(**options):
        bars.append(tqdm(file=io.StringIO(), **options))
        return bars[-1]

    _, iterations = A.fit_model(small, progress=make)
    (bar,) = bars
    assert bar.n == bar.total == iterations
    assert "lambda=12" in bar.desc


# ---------------------------------------------------------------------------- datasets and cache
def test_available_datasets_offers_latest_small_only_when_present(tmp_path):
    assert A.available_datasets(tmp_path) == ["100k"]
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    assert A.available_datasets(tmp_path) == ["100k"]  # movies.csv is missing
    (folder / "movies.csv").write_text("movieId,title,genres\n")
    assert A.available_datasets(tmp_path) == ["100k", "latest-small"]


def test_fitted_model_refuses_unknown_and_absent_datasets(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset '1m'"):
        A.fitted_model("1m")
    with pytest.raises(ValueError, match="download latest-small"):
        A.fitted_model("latest-small", home=tmp_path)


def test_fitted_model_is_fitted_once_per_dataset(app):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(A, "fit_model", lambda *a, **k: pytest.fail("fitted again"))
        assert A.fitted_model("100k") is app
    assert app.model.tol == FAST_TOL and app.model.biased and app.model.rank == 16 and app.model.reg == 12.0
    loss = app.model.history_["loss"].to_numpy()   # the last chunk: it ends by ALS's stopping rule
    assert loss[-2] - loss[-1] <= FAST_TOL * loss[-2] and app.iterations < A.N_ITERS
    assert 0 < app.gradient_norm < 0.1   # FIA's ConvergenceWarning threshold
    assert "100,000 ratings of 943 users on 1,682 movies" in app.describe()


def test_a_new_process_reads_the_fitted_model_back_bit_for_bit(app, model_files, monkeypatch):
    (saved,) = model_files.iterdir()
    assert saved.name.startswith("100k-biased-als-k16-reg12-tol0.0001-") and not app.from_file
    monkeypatch.setattr(A, "TOL", FAST_TOL)
    monkeypatch.setattr(A, "fit_model", lambda *a, **k: pytest.fail("fitted again"))
    monkeypatch.setattr(A, "_CACHE", {})       # as in a new kernel
    again = A.fitted_model("100k", cache_dir=model_files)
    assert again is not app and again.from_file and "read from the model cache" in again.describe()
    for name in ("U_", "V_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(again.model, name), getattr(app.model, name))
    assert again.model.mu_ == app.model.mu_ and again.model.get_params() == app.model.get_params()
    pd.testing.assert_frame_equal(again.model.history_, app.model.history_)
    assert (again.iterations, again.gradient_norm) == (app.iterations, app.gradient_norm)
    assert again.model.fingerprint_ == app.ratings.fingerprint
    user, item = 41, int(app.model.recommend(41)["item"].iloc[0])
    pd.testing.assert_frame_equal(fia(again.model, again.ratings, user, item), fia(app.model, app.ratings, user, item))


def test_fit_false_answers_from_either_cache_and_never_fits(app, model_files, monkeypatch, tmp_path):
    monkeypatch.setattr(A, "TOL", FAST_TOL)
    monkeypatch.setattr(A, "fit_model", lambda *a, **k: pytest.fail("fitted"))
    assert A.fitted_model("100k", fit=False) is app                 # this process's cache
    monkeypatch.setattr(A, "_CACHE", {})                            # a new kernel ...
    assert A.fitted_model("100k", cache_dir=tmp_path, fit=False) is None          # ... with no model file
    assert A._CACHE == {}
    again = A.fitted_model("100k", cache_dir=model_files, fit=False)             # ... with one
    assert again.from_file and again.model.fingerprint_ == app.ratings.fingerprint


def test_an_unreadable_model_file_is_fitted_again(app, model_files, monkeypatch, tmp_path):
    (saved,) = model_files.iterdir()
    (tmp_path / saved.name).write_bytes(b"not an npz file")
    monkeypatch.setattr(A, "TOL", FAST_TOL)
    monkeypatch.setattr(A, "_CACHE", {})
    monkeypatch.setattr(A, "fit_model", lambda ratings, progress=False: (app.model, app.iterations))
    again = A.fitted_model("100k", cache_dir=tmp_path)
    assert again.model is app.model and not again.from_file
    assert (tmp_path / saved.name).read_bytes()[:2] == b"PK"  # rewritten as an npz (zip) file


# ---------------------------------------------------------------------------- users and recommendations
def test_user_options_name_movielens_ids_and_counts(app):
    options = A.user_options(app)
    assert len(options) == 943
    assert options[0] == ("user 1 (272 ratings)", 0)
    counts = [int(label.split("(")[1].split()[0]) for label, _ in options]
    assert sum(counts) == len(app.ratings)


def test_recommendations_are_the_models_with_genres(app):
    top = A.recommendations(app, 41)
    expected = app.model.recommend(41, n=10)
    pd.testing.assert_frame_equal(top.drop(columns="genres"), expected)
    genres = app.ratings.item_genres
    assert top["genres"].tolist() == [", ".join(genres[i]) for i in top["item"]]
    rated = set(app.ratings.cols[app.ratings.rows == 41].tolist())
    assert not rated & set(top["item"].tolist())


# ---------------------------------------------------------------------------- explanations
def test_fatrec_panel_is_influence_and_its_impacts_sum_to_the_prediction(app, user_and_item):
    user, item = user_and_item
    ex = A.explain_recommendation(app, user, item, n_top=10_000, rescore=False)
    direct = influence(app.model, app.ratings, user, item)
    pd.testing.assert_frame_equal(ex.impact.drop(columns="genres"), direct)
    assert ex.n_rated == len(direct) == len(ex.impact)
    prediction = float(app.model.predict([user], [item])[0])
    assert ex.baseline + ex.impact["impact"].sum() == pytest.approx(prediction, abs=1e-9)
    assert ex.prediction == pytest.approx(prediction, abs=1e-12)


def test_fia_panels_are_fias_top_rows_of_each_side(app, user_and_item):
    user, item = user_and_item
    ex = A.explain_recommendation(app, user, item, n_top=4, rescore=False)
    frame = fia(app.model, app.ratings, user, item)
    for side, rows in (("item-based", ex.item_based), ("user-based", ex.user_based)):
        expected = frame[frame["side"] == side].head(4).reset_index(drop=True)
        pd.testing.assert_frame_equal(rows.drop(columns=["user_id", "retrained"]), expected)
        assert rows["user_id"].tolist() == app.ratings.users[rows["user"]].tolist()
        assert rows["retrained"].isna().all()   # not re-scored yet
    assert (ex.item_based["user"] == user).all() and (ex.user_based["item"] == item).all()
    assert ex.n_item_ratings == int((app.ratings.cols == item).sum())
    assert ex.title == app.ratings.item_labels([item])[0] and ex.user_id == app.ratings.users[user] == user + 1


def test_rescored_calls_local_retrain_for_each_row_with_the_options(app, user_and_item, monkeypatch):
    user, item = user_and_item
    calls = []

    def stand_in(model, ratings, u, i, removed, **options):
        calls.append((u, i, removed, options))
        return 1000.0 * removed[0] + removed[1]

    monkeypatch.setattr(mfteach.explain, "local_retrain", stand_in)
    ex = A.explain_recommendation(app, user, item, n_top=3)
    assert len(calls) == 6
    assert all(c[:2] == (user, item) and c[3] == A.LOCAL_OPTIONS for c in calls)
    for rows in (ex.item_based, ex.user_based):
        assert rows["retrained"].tolist() == (1000.0 * rows["user"] + rows["item"]).tolist()


def test_rescored_with_zero_hops_is_fias_exact_local(app, user_and_item):
    """local_retrain at hops = 0 re-solves only the seeds: FIA's exact_local (issue 19)."""
    user, item = user_and_item
    ex = A.explain_recommendation(app, user, item, n_top=3, local_options={"hops": 0, "tol": 1e-10, "max_sweeps": 200})
    exact = fia(app.model, app.ratings, user, item, exact_local=True).set_index(["user", "item"])["influence"]
    for rows in (ex.item_based, ex.user_based):
        expected = exact.loc[list(zip(rows["user"], rows["item"]))].to_numpy()
        np.testing.assert_allclose(rows["retrained"].to_numpy(), expected, atol=1e-5)


def test_rescored_stops_when_asked(app, user_and_item):
    user, item = user_and_item
    ex = A.explain_recommendation(app, user, item, n_top=2, rescore=False)
    assert A.rescored(app, ex, stop=lambda: True) is None


def test_explanations_refuse_bad_indices(app):
    with pytest.raises(ValueError, match="user"):
        A.explain_recommendation(app, 943, 0)
    with pytest.raises(ValueError, match="item"):
        A.explain_recommendation(app, 0, -1)
    with pytest.raises(ValueError, match="n_top"):
        A.explain_recommendation(app, 0, 1, n_top=0)


# ---------------------------------------------------------------------------- the sentence
def _rows(titles, ratings, influences, retrained=None, users=None):
    frame = pd.DataFrame({"user_id": users or [7] * len(titles), "title": titles, "rating": ratings,
                          "influence": influences})
    frame["retrained"] = np.nan if retrained is None else retrained
    return frame


def test_sentence_names_the_ratings_that_pushed_it_up_by_their_retrained_change():
    mine = _rows(["A", "B", "C", "D"], [5.0, 1.0, 4.0, 3.0], [0.3, -0.5, 0.1, 0.2], retrained=[0.1, -0.6, 0.4, np.nan])
    others = _rows(["X", "X"], [5.0, 2.0], [0.2, 0.05], users=[13, 99])
    text = A.sentence("Movie", "Drama", 4.2, mine, others, scale=(1, 5))
    assert text == ("We recommend Movie (Drama): we predict you would rate it 4.20, mostly because you rated "
                    "C 4 stars (+0.400), D 3 stars (+0.200) and A 5 stars (+0.100). Among the movie's ratings by "
                    "other users, user 13's 5 stars pushed it up most (+0.200).")


def test_sentence_without_upward_ratings_and_off_the_scale():
    mine = _rows(["A"], [1.0], [-0.2])
    text = A.sentence("Movie", "", 5.7, mine, _rows([], [], []), scale=(1, 5))
    assert text.startswith("We recommend Movie: we predict you would rate it 5 (the model's score is 5.70); none of")
    assert "Among" not in text


# ---------------------------------------------------------------------------- the full retrain
def test_verify_retrains_without_the_largest_fia_rating_by_default(app, user_and_item, monkeypatch):
    user, item = user_and_item
    ex = A.explain_recommendation(app, user, item, n_top=3, rescore=False)
    seen = {}

    def stand_in(model, ratings, u, i, removed, n_iters, tol):
        seen.update(model=model, u=u, i=i, removed=removed, n_iters=n_iters, tol=tol)
        return 0.25

    monkeypatch.setattr(mfteach.explain, "loo_influence", stand_in)
    check = A.verify(app, ex)
    shown = pd.concat([ex.item_based, ex.user_based])
    top = shown.iloc[int(np.argmax(np.abs(shown["influence"].to_numpy())))]
    assert check.removed == seen["removed"] == (top["user"], top["item"])
    assert (seen["model"], seen["u"], seen["i"], seen["tol"]) == (app.model, user, item, A.RETRAIN_TOL)
    assert check.fia == top["influence"] and check.retrained == 0.25 and np.isnan(check.local)
    assert f"rating of {top['title']}" in check.text() and "-0.2500" in check.text()

    other = (int(ex.item_based["user"].iloc[1]), int(ex.item_based["item"].iloc[1]))
    check = A.verify(app, ex, removed=other)
    assert check.removed == other and check.who == "your"
    with pytest.raises(ValueError, match="not a rating in the explanation's tables"):
        A.verify(app, ex, removed=(user, item))


# ---------------------------------------------------------------------------- MovieLens latest-small
def test_the_app_runs_end_to_end_on_the_latest_small_format(tmp_path, monkeypatch):
    """The ml-latest-small path, on a fake folder in its format (half stars, sparse movieIds,
    '|'-separated genres, quoted titles): fitted, cached, explained, verified, and offered by the
    layout beside 100K. (The real ml-latest-small is not on this machine.)"""
    from mfteach.widgets import explanation_explorer

    base, _, _ = mt.synthetic(70, 50, rank=3, density=0.35, noise=0.4, seed=8)
    stars = np.clip(np.round((base.values * 1.1 + 3.2) * 2) / 2, 0.5, 5.0)
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    lines = [f"{10 + 3 * u},{7 * i + 1},{r:g},9649827{u:02d}" for u, i, r in zip(base.rows, base.cols, stars)]
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n")
    genres = ["Comedy|Romance", "Drama", "(no genres listed)", "Action|Sci-Fi|Thriller"]
    movies = [f'{7 * i + 1},"Film {i}, The ({1950 + i})",{genres[i % 4]}' for i in range(50)]
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "\n".join(movies) + "\n")
    monkeypatch.setattr(A, "TOL", FAST_TOL)
    monkeypatch.setattr(A, "_CACHE", {})
    monkeypatch.setattr(A, "_RATINGS", {})
    assert A.available_datasets(tmp_path) == ["100k", "latest-small"]
    app = A.fitted_model("latest-small", home=tmp_path, cache_dir=tmp_path / "models")
    assert app.ratings.shape == (70, 50) and "MovieLens latest-small: " in app.describe()
    assert [p.name.split("-biased")[0] for p in (tmp_path / "models").iterdir()] == ["latest-small"]
    user = 4
    top = A.recommendations(app, user)
    assert top["title"].iloc[0].startswith("Film ") and ", The (19" in top["title"].iloc[0]
    ex = A.explain_recommendation(app, user, int(top["item"].iloc[0]), n_top=3)
    assert ex.user_id == 10 + 3 * user and not ex.item_based["retrained"].isna().any()
    every = A.explain_recommendation(app, user, ex.item, n_top=10_000, rescore=False).impact   # all rated
    assert every["impact"].sum() + ex.baseline == pytest.approx(ex.prediction, abs=1e-9) and len(every) == ex.n_rated
    assert set(every["rating"]) <= set(np.arange(1, 11) / 2) and ex.title in ex.sentence
    check = A.verify(app, ex)
    assert np.isfinite(check.retrained) and "full retrain" in check.text()
    box = explanation_explorer(datasets=["latest-small"], home=tmp_path, background=False)
    assert box.app is app and box.explanation.user == 0 and "mfteach-app-rescored" in \
        box.out.outputs[0]["data"]["text/html"]
