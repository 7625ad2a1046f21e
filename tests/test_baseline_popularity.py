"""The popularity baseline (lessons 10-11): the score of item i is |Omega^i| for every user, and the
real claim of the lesson: on MovieLens 100K (binary implicit data, leave-one-out), implicit ALS
beats it on recall@10 and nDCG@10."""

import numpy as np
import pytest

import mfteach as mt
from mfteach.baseline import Popularity
from mfteach.metrics import evaluate_ranking, ranking_report
from mfteach.ratings import Ratings


def small():
    """5 users x 6 items; counts per item (dense, by hand): [3, 1, 4, 0, 2, 5]."""
    known = np.array([
        [1, 0, 1, 0, 0, 1],
        [1, 0, 1, 0, 1, 1],
        [0, 1, 1, 0, 0, 1],
        [1, 0, 0, 0, 1, 1],
        [0, 0, 1, 0, 0, 1],
    ], dtype=bool)
    rows, cols = np.nonzero(known)
    values = np.arange(1, len(rows) + 1, dtype=float)  # arbitrary values: popularity ignores them
    return Ratings(rows, cols, values, shape=known.shape, item_titles=[f"t{i}" for i in range(6)]), known


def test_scores_are_the_item_counts_for_every_user():
    ratings, known = small()
    model = Popularity().fit(ratings)
    counts = known.sum(axis=0).astype(float)
    np.testing.assert_array_equal(counts, [3, 1, 4, 0, 2, 5])
    np.testing.assert_array_equal(model.item_counts_, counts)
    np.testing.assert_array_equal(model.predict_matrix(), np.tile(counts, (5, 1)))
    rows, cols = np.meshgrid(np.arange(5), np.arange(6), indexing="ij")
    np.testing.assert_array_equal(model.predict(rows.ravel(), cols.ravel()), np.tile(counts, 5))
    assert mt.Popularity is Popularity


def test_values_do_not_matter_only_who_interacted():
    ratings, _ = small()
    a = Popularity().fit(ratings)
    b = Popularity().fit(ratings.with_values(np.full(len(ratings), 0.5)))
    np.testing.assert_array_equal(a.predict_matrix(), b.predict_matrix())


def test_recommend_gives_the_most_popular_unseen_items_in_order():
    ratings, known = small()
    model = Popularity().fit(ratings)
    counts = known.sum(axis=0)
    # user 2 saw items 1, 2, 5; unseen by popularity: 0 (3), 4 (2), 3 (0)
    top = model.recommend(2, n=2)
    assert list(top["item"]) == [0, 4]
    assert list(top["score"]) == [3.0, 2.0]
    assert list(top["title"]) == ["t0", "t4"]
    assert list(model.recommend(2, n=10)["item"]) == [0, 4, 3]  # only 3 unseen items
    assert list(model.recommend(2, n=3, exclude_seen=False)["item"]) == [5, 2, 0]
    for user in range(5):
        unseen = np.flatnonzero(~known[user])
        expected = unseen[np.argsort(-counts[unseen], kind="stable")]
        assert list(model.recommend(user, n=6)["item"]) == list(expected)  # counts are distinct


def test_popularity_rejects_non_ratings():
    with pytest.raises(TypeError, match="Ratings"):
        Popularity().fit(np.ones((3, 3)))


def test_recommend_on_movielens_follows_the_counts(ml100k):
    model = Popularity().fit(ml100k)
    counts = np.bincount(ml100k.cols, minlength=ml100k.shape[1]).astype(float)
    np.testing.assert_array_equal(model.predict_matrix()[[0, 500, 942]], np.tile(counts, (3, 1)))
    for user in (0, 10, 200, 942):
        seen = set(ml100k.cols[ml100k.rows == user])
        top = model.recommend(user, n=10)
        items = top["item"].to_numpy()
        assert not seen & set(items)
        np.testing.assert_array_equal(top["score"], counts[items])
        assert np.all(np.diff(top["score"]) <= 0)
        unseen_counts = np.sort([counts[i] for i in range(len(counts)) if i not in seen])[::-1]
        np.testing.assert_array_equal(np.sort(counts[items])[::-1], unseen_counts[:10])  # robust to ties


def test_implicit_als_beats_popularity_on_movielens_leave_one_out(ml100k):
    """Lesson 11's claim: personalization pays. 943 users, one held-out item each."""
    data = ml100k.with_values(np.ones(len(ml100k)))
    train, test = data.split(how="leave_one_out", seed=0)
    als = mt.ImplicitALS(rank=32, alpha=40.0, reg=0.1, n_iters=10, solver="exact").fit(train)
    popularity = Popularity().fit(train)
    a = evaluate_ranking(als, train, test, k=10)
    p = evaluate_ranking(popularity, train, test, k=10)
    assert a["recall@10"] > p["recall@10"] + 0.03
    assert a["ndcg@10"] > p["ndcg@10"] + 0.015
    # and popularity itself is far better than chance (k / #unseen items ~ 10 / 1580)
    assert p["recall@10"] > 10 * 10 / ml100k.shape[1]
    report = ranking_report(popularity.predict_matrix(), train, test, k=10)
    assert len(report) == 943
