"""Ranking metrics for top-k recommendation (lesson 11): precision@k, recall@k, nDCG@k with
binary relevance, per user, and ``ranking_report`` / ``evaluate_ranking`` for all users at once.

Expected numbers are computed by hand from the definitions

    precision@k = |top-k ∩ relevant| / k,   recall@k = |top-k ∩ relevant| / |relevant|,
    nDCG@k = sum_{p <= k, hit} 1/log2(p + 1) / sum_{p <= min(k, |relevant|)} 1/log2(p + 1),

and ``ranking_report`` is checked against the per-user functions applied user by user to the
lists ``model.recommend(u, n=k)`` (unseen items only): on hand-made cases (short lists, users
without test items, ties), on random integer scores full of ties, and on MovieLens 100K.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mfteach as mt
from mfteach.base import FactorModel
from mfteach.metrics import evaluate_ranking, ndcg_at_k, precision_at_k, ranking_report, recall_at_k
from mfteach.ratings import Ratings

L2, L3, L4, L5 = (np.log2(p) for p in (2.0, 3.0, 4.0, 5.0))


class FixedScores(FactorModel):
    """A model whose scores are a given m x n matrix S (U_ = S, V_ = I: u_u . v_i = S_ui exactly),
    so the package's own ``recommend`` and ``predict_matrix`` run on hand-chosen scores."""

    def __init__(self, scores, train):
        self.U_ = np.asarray(scores, dtype=float)
        self.V_ = np.eye(self.U_.shape[1])
        self.ratings_ = train
        self.biased = False


def per_user_report(model, train, test, k):
    """The per-user metrics of ``model.recommend(u, n=k)`` for every user with a test item."""
    records = {}
    for u in np.unique(test.rows):
        relevant = test.cols[test.rows == u]
        top = model.recommend(int(u), n=k)["item"].to_numpy()
        assert not set(top) & set(train.cols[train.rows == u])  # exclude_seen
        assert len(top) == min(k, train.shape[1] - np.sum(train.rows == u))
        records[int(u)] = (precision_at_k(top, relevant, k), recall_at_k(top, relevant, k),
                           ndcg_at_k(top, relevant, k), len(relevant))
    return pd.DataFrame.from_dict(records, orient="index", columns=["precision", "recall", "ndcg", "n_relevant"])


def assert_report_matches(report, expected):
    assert list(report.index) == list(expected.index)
    assert list(report.columns) == ["precision", "recall", "ndcg", "n_relevant"]
    np.testing.assert_array_equal(report["n_relevant"], expected["n_relevant"])
    for column in ("precision", "recall", "ndcg"):
        np.testing.assert_allclose(report[column], expected[column], rtol=1e-12, atol=1e-15, err_msg=column)


# ---------------------------------------------------------------------------- per-user metrics, by hand
def test_per_user_metrics_by_hand():
    recommended, relevant = [3, 1, 2, 8], {1, 2, 9}
    assert precision_at_k(recommended, relevant, 3) == pytest.approx(2 / 3)
    assert recall_at_k(recommended, relevant, 3) == pytest.approx(2 / 3)
    # hits at positions 2 and 3; the ideal list has 3 hits at positions 1, 2, 3
    assert ndcg_at_k(recommended, relevant, 3) == pytest.approx((1 / L3 + 1 / L4) / (1 / L2 + 1 / L3 + 1 / L4))
    assert precision_at_k(recommended, relevant, 1) == 0.0
    assert ndcg_at_k([1, 3], {1}, 2) == 1.0
    assert ndcg_at_k([3, 1], {1}, 2) == pytest.approx(1 / L3)
    # more relevant items than k: IDCG has k terms, recall divides by |relevant|
    assert ndcg_at_k([5, 6], {5, 6, 7, 8}, 2) == pytest.approx(1.0)
    assert recall_at_k([5, 6], {5, 6, 7, 8}, 2) == 0.5
    # items past position k do not count
    assert precision_at_k([0, 1, 2, 3], {3}, 3) == 0.0 and ndcg_at_k([0, 1, 2, 3], {3}, 3) == 0.0


def test_short_list_counts_missing_positions_as_misses():
    assert precision_at_k([4, 7], {7}, 5) == pytest.approx(1 / 5)
    assert recall_at_k([4, 7], {7}, 5) == 1.0
    assert ndcg_at_k([4, 7], {7}, 5) == pytest.approx(1 / L3)
    assert precision_at_k([], {7}, 5) == 0.0 and ndcg_at_k([], {7}, 5) == 0.0


def test_per_user_metrics_accept_numpy_inputs():
    top, rel = np.array([2, 0, 1], dtype=np.int64), np.array([0, 5])
    assert precision_at_k(top, rel, 3) == pytest.approx(1 / 3)
    assert recall_at_k(top, rel, 3) == 0.5
    assert ndcg_at_k(top, rel, 3) == pytest.approx((1 / L3) / (1 / L2 + 1 / L3))


@pytest.mark.parametrize("k", [0, -1, 2.0, True, "3", None])
def test_per_user_metrics_reject_bad_k(k):
    for metric in (precision_at_k, recall_at_k, ndcg_at_k):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            metric([1, 2], {1}, k)


def test_per_user_metrics_reject_repeats_and_empty_relevant():
    for metric in (precision_at_k, recall_at_k, ndcg_at_k):
        with pytest.raises(ValueError, match="repeated item"):
            metric([1, 2, 1], {1}, 3)
    assert precision_at_k([1, 2, 1], {1}, 2) == 0.5  # the repeat is past k: fine
    for metric in (recall_at_k, ndcg_at_k):
        with pytest.raises(ValueError, match="relevant is empty"):
            metric([1, 2], set(), 2)


# ---------------------------------------------------------------------------- ranking_report by hand
def hand_case():
    """4 users x 6 items, k = 3.

    user 0: seen {0}; unseen ranked 1, 2, 3, 4, 5; relevant {2, 5}: hit at position 2 only.
    user 1: seen {0, 1, 2, 3}; only 2 unseen items (4, then 5), fewer than k; relevant {5}.
    user 2: no test item: left out of the report.
    user 3: seen {3}; ties 0 = 1 (both relevant) then 2 = 5 (both not): hits at 1, 2 whatever
            the tie-break; relevant {0, 1}.
    """
    scores = np.array([
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        [0.9, 0.8, 0.7, 0.6, 0.2, 0.1],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [0.7, 0.7, 0.3, 0.9, 0.1, 0.3],
    ])
    train = Ratings([0, 1, 1, 1, 1, 2, 3], [0, 0, 1, 2, 3, 4, 3], np.ones(7), shape=(4, 6))
    test = Ratings([0, 0, 1, 3, 3], [2, 5, 5, 0, 1], np.ones(5), shape=(4, 6))
    expected = pd.DataFrame({
        "precision": [1 / 3, 1 / 3, 2 / 3],
        "recall": [1 / 2, 1.0, 1.0],
        "ndcg": [(1 / L3) / (1 / L2 + 1 / L3), (1 / L3) / (1 / L2), 1.0],
        "n_relevant": [2, 1, 2],
    }, index=[0, 1, 3])
    return scores, train, test, expected


def test_ranking_report_hand_computed():
    scores, train, test, expected = hand_case()
    report = ranking_report(scores, train, test, k=3)
    assert report.index.name == "user"
    assert_report_matches(report, expected)
    assert_report_matches(report, per_user_report(FixedScores(scores, train), train, test, 3))
    # the scores argument is not modified (seen items are masked on a copy)
    assert np.all(np.isfinite(scores))


def test_ranking_report_k_equal_to_n_and_k_1():
    scores, train, test, _ = hand_case()
    model = FixedScores(scores, train)
    for k in (1, 2, 6):
        assert_report_matches(ranking_report(scores, train, test, k=k), per_user_report(model, train, test, k))
    k1 = ranking_report(scores, train, test, k=1)
    np.testing.assert_allclose(k1["precision"], [0.0, 0.0, 1.0])  # tops: item 1, item 4, item 0 or 1


def test_test_item_that_was_also_seen_in_training_can_never_be_hit():
    scores = np.array([[0.9, 0.1, 0.5]])
    train = Ratings([0], [0], [1.0], shape=(1, 3))
    test = Ratings([0, 0], [0, 2], [1.0, 1.0], shape=(1, 3))
    report = ranking_report(scores, train, test, k=2)  # list [2, 1]: one hit of 2 relevant
    assert report.loc[0, "precision"] == 0.5 and report.loc[0, "recall"] == 0.5
    assert report.loc[0, "ndcg"] == pytest.approx(1.0 / (1 + 1 / L3))
    # k = n: the seen item 0 fills the last slot of the top k (score -inf) but is no hit
    report = ranking_report(scores, train, test, k=3)
    assert report.loc[0, "precision"] == pytest.approx(1 / 3) and report.loc[0, "recall"] == 0.5
    assert_report_matches(report, per_user_report(FixedScores(scores, train), train, test, 3))


def test_evaluate_ranking_is_the_mean_with_at_k_names():
    scores, train, test, expected = hand_case()
    summary = evaluate_ranking(FixedScores(scores, train), train, test, k=3)
    assert list(summary.index) == ["precision@3", "recall@3", "ndcg@3"]
    np.testing.assert_allclose(summary.to_numpy(), expected[["precision", "recall", "ndcg"]].mean().to_numpy(),
                               rtol=1e-14)


# ---------------------------------------------------------------------------- random scores with ties
@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 8), n=st.integers(2, 25), levels=st.integers(1, 4),
       k_share=st.floats(0.0, 1.0), overlap=st.booleans())
def test_ranking_report_equals_per_user_metrics_of_recommend(seed, m, n, levels, k_share, overlap):
    """Integer scores with few levels: many ties, short unseen lists, users without test items, and
    test items that were also seen in training (relevant but never recommendable)."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, (m, n)).astype(float)
    in_train = rng.random((m, n)) < rng.uniform(0.1, 0.9)
    in_test = rng.random((m, n)) < 0.2
    if not overlap:
        in_test &= ~in_train
    in_train[0, 0] = True
    if not in_test.any():
        in_test[-1, -1] = True
    rows, cols = np.nonzero(in_train)
    train = Ratings(rows, cols, np.ones(len(rows)), shape=(m, n))
    rows, cols = np.nonzero(in_test)
    test = Ratings(rows, cols, np.ones(len(rows)), shape=(m, n))
    k = 1 + int(k_share * (n - 2))  # k < n: k = n with ties has its own test below
    model = FixedScores(scores, train)
    report = ranking_report(scores, train, test, k)
    assert_report_matches(report, per_user_report(model, train, test, k))
    summary = evaluate_ranking(model, train, test, k)
    np.testing.assert_allclose(summary.to_numpy(), report[["precision", "recall", "ndcg"]].mean().to_numpy(),
                               rtol=1e-14)


def test_k_equal_to_n_without_ties_matches_recommend_for_users_with_and_without_seen_items():
    rng = np.random.default_rng(3)
    m, n = 6, 9
    scores = rng.permutation(m * n).reshape(m, n).astype(float)  # distinct: no ties
    train = Ratings([0, 0, 2, 4], [1, 5, 0, 8], np.ones(4), shape=(m, n))  # users 1, 3, 5 saw nothing
    test = Ratings([0, 1, 1, 3, 4, 5], [2, 0, 7, 3, 1, 8], np.ones(6), shape=(m, n))
    model = FixedScores(scores, train)
    assert_report_matches(ranking_report(scores, train, test, n), per_user_report(model, train, test, n))


def test_k_equal_to_n_with_ties_matches_recommend_for_a_user_who_saw_nothing():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = int(rng.integers(4, 12))
        scores = rng.integers(0, 2, (2, n)).astype(float)
        train = Ratings([0], [0], [1.0], shape=(2, n))  # user 1 saw nothing
        test = Ratings([1, 1], rng.choice(n, 2, replace=False), [1.0, 1.0], shape=(2, n))
        assert_report_matches(ranking_report(scores, train, test, n),
                              per_user_report(FixedScores(scores, train), train, test, n))


def test_ties_at_the_cut_off_go_to_the_lower_item_index():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(5, 40))
        scores = rng.integers(0, 2, (1, n)).astype(float)
        k = int(rng.integers(1, n))
        train = Ratings([0], [n - 1], [1.0], shape=(1, n))
        masked = scores[0].copy()
        masked[n - 1] = -np.inf
        expected = np.lexsort((np.arange(n), -masked))[:k]  # best first, ties by item index
        top = FixedScores(scores, train).recommend(0, n=k)["item"].to_numpy()
        np.testing.assert_array_equal(top, expected)


# ---------------------------------------------------------------------------- MovieLens 100K
@pytest.fixture(scope="module")
def movielens_models(ml100k):
    data = ml100k.with_values(np.ones(len(ml100k)))
    splits = {"leave_one_out": data.split(how="leave_one_out", seed=0),
              "entries": data.split(test_size=0.2, seed=1, how="entries")}
    out = {}
    for name, (train, test) in splits.items():
        out[name] = (train, test, {
            "implicit": mt.ImplicitALS(rank=16, reg=0.1, alpha=40.0, n_iters=4).fit(train),
            "popularity": mt.Popularity().fit(train),
        })
    return out


@pytest.mark.parametrize("split", ["leave_one_out", "entries"])
@pytest.mark.parametrize("which", ["implicit", "popularity"])
def test_ranking_report_equals_per_user_metrics_on_movielens(movielens_models, split, which):
    train, test, models = movielens_models[split]
    model = models[which]
    report = ranking_report(model.predict_matrix(), train, test, k=10)
    users_with_test = np.unique(test.rows)
    assert list(report.index) == list(users_with_test)
    if split == "leave_one_out":
        assert np.all(report["n_relevant"] == 1)
        np.testing.assert_allclose(report["precision"], report["recall"] / 10, rtol=1e-15)
    sample = np.random.default_rng(5).choice(users_with_test, 150, replace=False)
    sub_test = Ratings(test.rows[np.isin(test.rows, sample)], test.cols[np.isin(test.rows, sample)],
                       test.values[np.isin(test.rows, sample)], shape=test.shape)
    assert_report_matches(report.loc[np.sort(sample)], per_user_report(model, train, sub_test, 10))
    summary = evaluate_ranking(model, train, test, k=10)
    assert list(summary.index) == ["precision@10", "recall@10", "ndcg@10"]
    np.testing.assert_allclose(summary.to_numpy(), report[["precision", "recall", "ndcg"]].mean().to_numpy(),
                               rtol=1e-14)


# ---------------------------------------------------------------------------- input validation
def test_ranking_report_rejects_bad_shapes():
    scores, train, test, _ = hand_case()
    with pytest.raises(ValueError, match="must all be 4 x 6"):
        ranking_report(scores[:, :5], train, test, 3)
    with pytest.raises(ValueError, match="must all be 4 x 6"):
        ranking_report(scores[:3], train, test, 3)
    other = Ratings([0], [0], [1.0], shape=(4, 7))
    with pytest.raises(ValueError, match="must all be 4 x 6"):
        ranking_report(scores, train, other, 3)


@pytest.mark.parametrize("k", [0, -2, 7, 2.0, True, None])
def test_ranking_report_rejects_k_outside_1_to_n(k):
    scores, train, test, _ = hand_case()
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 6\]"):
        ranking_report(scores, train, test, k)
