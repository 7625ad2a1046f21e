"""Tests of mfteach/ratings.py (Ratings) and of the embedded data in mfteach/data.py."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mfteach as mt
from mfteach import Ratings


def small():
    dense = np.array([[5, np.nan, 3], [np.nan, 1, np.nan], [4, 2, np.nan], [np.nan, np.nan, 0]])
    return Ratings.from_dense(dense), dense


# ---------------------------------------------------------------- construction and validation
def test_from_dense_round_trip_and_accessors():
    r, dense = small()
    assert r.shape == (4, 3) and len(r) == 6
    np.testing.assert_array_equal(r.to_dense(), dense)
    np.testing.assert_array_equal(r.rows, [0, 0, 1, 2, 2, 3])
    np.testing.assert_array_equal(r.cols, [0, 2, 1, 0, 1, 2])
    assert r.rows.dtype == np.int64 and r.cols.dtype == np.int64 and r.values.dtype == np.float64
    assert r.density == pytest.approx(6 / 12)
    np.testing.assert_array_equal(r.user_counts(), [2, 1, 2, 1])
    np.testing.assert_array_equal(r.item_counts(), [2, 2, 2])
    assert repr(r) == "Ratings(4 users x 3 items, 6 ratings, density 50.00%)"


def test_to_csr_keeps_a_zero_rating_as_a_stored_entry():
    r, dense = small()
    csr = r.to_csr()
    assert sp.issparse(csr) and csr.shape == (4, 3) and csr.nnz == 6
    np.testing.assert_array_equal(csr.toarray(), np.nan_to_num(dense, nan=0.0))
    assert csr[3, 2] == 0 and 2 in csr.indices[csr.indptr[3]:csr.indptr[4]]  # stored, not structural


def test_entries_are_sorted_whatever_the_input_order():
    r = Ratings([2, 0, 1], [0, 1, 1], [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(r.rows, [0, 1, 2])
    np.testing.assert_array_equal(r.values, [1.0, 2.0, 3.0])
    assert r == Ratings([0, 1, 2], [1, 1, 0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "rows, cols, values, kwargs, message",
    [
        ([0, 1], [0, 1], [1.0, np.nan], {}, r"finite: entry 1 \(user 1, item 1\) is nan"),
        ([0, 1], [0, 1], [np.inf, 2.0], {}, r"finite: entry 0 \(user 0, item 0\) is inf"),
        ([0, 1, 0], [1, 1, 1], [1, 2, 3], {}, r"duplicate \(user, item\) pair \(0, 1\) at entries 0 and 2"),
        ([0, -1], [0, 1], [1, 2], {}, r"rows must be non-negative indices: entry 1 is -1"),
        ([0, 1], [0, -3], [1, 2], {}, r"cols must be non-negative indices: entry 1 is -3"),
        ([0, 5], [0, 1], [1, 2], {"shape": (3, 3)}, r"rows index out of range: entry 1 is 5 .* users m = 3"),
        ([0, 1], [0, 4], [1, 2], {"shape": (3, 3)}, r"cols index out of range: entry 1 is 4 .* items n = 3"),
        ([0, 1], [0], [1, 2], {}, r"same length, got 2, 1 and 2"),
        ([], [], [], {}, r"no ratings"),
        ([0.5], [0], [1], {}, r"rows must be whole numbers; entry 0 is 0.5"),
        ([0], [0], [1], {"shape": (0, 3)}, r"shape must be two positive integers"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(rows, cols, values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Ratings(rows, cols, values, **kwargs)


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="values must be numbers"):
        Ratings([0], [0], ["five"])
    with pytest.raises(TypeError, match="rows must hold integer indices"):
        Ratings(["a"], [0], [1.0])


def test_from_dense_rejects_inf_and_non_matrices():
    with pytest.raises(ValueError, match=r"entry \(1, 0\) is inf; use NaN for unknown"):
        Ratings.from_dense([[1, np.nan], [np.inf, 2]])
    with pytest.raises(ValueError, match="2-D"):
        Ratings.from_dense([1, 2, 3])
    with pytest.raises(ValueError, match="no ratings"):
        Ratings.from_dense([[np.nan, np.nan]])


def test_ratings_is_immutable():
    r, _ = small()
    with pytest.raises(AttributeError, match="immutable"):
        r.values = np.zeros(6)
    with pytest.raises(AttributeError, match="immutable"):
        r.anything = 1
    with pytest.raises(ValueError, match="read-only"):
        r.values[0] = 99.0
    with pytest.raises(ValueError, match="read-only"):
        r.rows[0] = 1


def test_input_arrays_are_copied():
    rows, cols, values = np.array([0, 1]), np.array([1, 0]), np.array([3.0, 4.0])
    r = Ratings(rows, cols, values)
    values[0] = -1.0
    assert r.values[0] == 3.0


def test_from_frame_maps_ids_in_sorted_order():
    frame = pd.DataFrame({"who": ["bob", "alice", "bob"], "what": [30, 10, 10], "stars": [4, 5, 3]})
    r = Ratings.from_frame(frame, user="who", item="what", rating="stars")
    assert list(r.users) == ["alice", "bob"] and list(r.items) == [10, 30]
    np.testing.assert_array_equal(r.to_dense(), [[5, np.nan], [3, 4]])
    with pytest.raises(ValueError, match=r"column\(s\) \['rating'\] not in the frame"):
        Ratings.from_frame(frame, user="who", item="what")
    back = r.to_frame()
    assert set(zip(back.user, back.item, back.rating)) == {("alice", 10, 5), ("bob", 10, 3), ("bob", 30, 4)}


def test_with_values_and_metadata_lengths():
    r, _ = small()
    implicit = r.with_values((r.values >= 3).astype(float))
    np.testing.assert_array_equal(implicit.values, [1, 1, 0, 1, 0, 0])
    assert implicit.shape == r.shape and np.array_equal(implicit.rows, r.rows)
    with pytest.raises(ValueError, match="length 6"):
        r.with_values([1.0])
    with pytest.raises(ValueError, match="one title per item"):
        Ratings([0], [0], [1.0], shape=(1, 2), item_titles=["only one"])


# ---------------------------------------------------------------- split
def test_entries_split_partitions_omega_with_the_requested_fraction(ml100k):
    train, test = ml100k.split(test_size=0.2, seed=0)
    assert len(train) + len(test) == len(ml100k)
    assert len(test) == pytest.approx(20000, abs=50)  # a few stranded users move one rating back
    keys = lambda r: set(zip(r.rows.tolist(), r.cols.tolist()))  # noqa: E731
    assert keys(train).isdisjoint(keys(test))
    assert keys(train) | keys(test) == keys(ml100k)
    assert train.shape == test.shape == ml100k.shape
    assert train.item_titles is ml100k.item_titles or np.array_equal(train.item_titles, ml100k.item_titles)


def test_split_is_deterministic_for_a_seed(ml100k):
    a_train, a_test = ml100k.split(0.2, seed=3)
    b_train, b_test = ml100k.split(0.2, seed=3)
    c_train, _ = ml100k.split(0.2, seed=4)
    assert a_train == b_train and a_test == b_test
    assert not a_train == c_train


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 12), n=st.integers(1, 12), density=st.floats(0.05, 1.0),
    test_size=st.floats(0.05, 0.95), seed=st.integers(0, 10_000),
)
def test_every_test_user_keeps_a_training_rating(m, n, density, test_size, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < density
    mask[0, 0] = True
    r = Ratings.from_dense(np.where(mask, rng.integers(1, 6, (m, n)), np.nan))
    try:
        train, test = r.split(test_size=test_size, seed=seed)
    except ValueError as error:  # only when nothing can go to test
        assert "no ratings in the test set" in str(error)
        return
    train_users = set(train.rows.tolist())
    assert set(test.rows.tolist()) <= train_users
    assert len(train) + len(test) == len(r)


def test_leave_one_out_takes_exactly_one_rating_per_user(ml100k):
    train, test = ml100k.split(how="leave_one_out", seed=0)
    assert len(test) == ml100k.shape[0]  # every ML-100K user has >= 20 ratings
    np.testing.assert_array_equal(test.user_counts(), np.ones(ml100k.shape[0]))
    np.testing.assert_array_equal(train.user_counts(), ml100k.user_counts() - 1)
    again, _ = ml100k.split(how="leave_one_out", seed=0)
    assert again == train


def test_leave_one_out_skips_users_with_a_single_rating():
    r = Ratings([0, 1, 1], [0, 0, 1], [1.0, 2.0, 3.0])
    train, test = r.split(how="leave_one_out", seed=1)
    assert test.rows.tolist() == [1] and 0 in train.rows.tolist()


@pytest.mark.parametrize("kwargs, message", [({"test_size": 0}, "strictly between"), ({"test_size": 1.5}, "strictly"),
                                             ({"how": "users"}, "'entries' or 'leave_one_out'")])
def test_split_rejects_bad_arguments(kwargs, message):
    r, _ = small()
    with pytest.raises(ValueError, match=message):
        r.split(**kwargs)


# ---------------------------------------------------------------- top, without
def test_top_keeps_the_most_active_users_and_most_rated_items(ml100k):
    sub = ml100k.top(650, 50)
    assert sub.shape == (650, 50)
    counts_u, counts_i = ml100k.user_counts(), ml100k.item_counts()
    kept_users = np.searchsorted(ml100k.users, sub.users)
    kept_items = np.searchsorted(ml100k.items, sub.items)
    # every kept user is at least as active as every dropped one (same for items)
    dropped_u = np.setdiff1d(np.arange(ml100k.shape[0]), kept_users)
    dropped_i = np.setdiff1d(np.arange(ml100k.shape[1]), kept_items)
    assert counts_u[kept_users].min() >= counts_u[dropped_u].max()
    assert counts_i[kept_items].min() >= counts_i[dropped_i].max()
    # the sub-matrix holds exactly the original ratings of those users and items
    dense = ml100k.to_dense()[np.ix_(kept_users, kept_items)]
    np.testing.assert_array_equal(sub.to_dense(), dense)
    assert list(sub.item_titles) == list(ml100k.item_titles[kept_items])
    assert sub.item_titles[0] == "Star Wars (1977)"  # the most rated movie of ML-100K


def test_without_removes_exactly_one_rating():
    r, dense = small()
    smaller = r.without(2, 1)
    assert len(smaller) == len(r) - 1
    expected = dense.copy()
    expected[2, 1] = np.nan
    np.testing.assert_array_equal(smaller.to_dense(), expected)
    two_less = r.without([0, 3], [0, 2])
    assert len(two_less) == 4 and np.isnan(two_less.to_dense()[[0, 3], [0, 2]]).all()
    with pytest.raises(ValueError, match=r"user 1 has not rated item 0"):
        r.without(1, 0)
    assert r.index_of(2, 1) == 4


def test_genre_matrix():
    r = Ratings([0, 0], [0, 1], [1.0, 2.0], item_genres=[["Drama", "War"], ["Comedy"]])
    matrix, names = r.genre_matrix()
    assert names == ["Comedy", "Drama", "War"]
    np.testing.assert_array_equal(matrix, [[0, 1, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="no item genres"):
        small()[0].genre_matrix()


# ---------------------------------------------------------------- synthetic and toy data
def test_synthetic_plants_an_exact_low_rank_matrix_without_noise():
    ratings, U_true, V_true = mt.synthetic(40, 30, rank=3, density=0.3, noise=0.0, seed=1)
    assert U_true.shape == (40, 3) and V_true.shape == (30, 3)
    np.testing.assert_allclose(ratings.values, (U_true @ V_true.T)[ratings.rows, ratings.cols], atol=1e-12)
    assert np.linalg.matrix_rank(U_true @ V_true.T) == 3
    assert len(ratings) == 360
    assert ratings.user_counts().min() >= 1 and ratings.item_counts().min() >= 1


def test_synthetic_noise_level_and_determinism():
    noisy, U_true, V_true = mt.synthetic(300, 200, rank=4, n_ratings=20_000, noise=0.5, seed=2)
    residual = noisy.values - (U_true @ V_true.T)[noisy.rows, noisy.cols]
    assert len(noisy) == 20_000
    assert residual.std() == pytest.approx(0.5, rel=0.03)
    again, _, _ = mt.synthetic(300, 200, rank=4, n_ratings=20_000, noise=0.5, seed=2)
    assert again == noisy
    with pytest.raises(ValueError, match="rank must be >= 1"):
        mt.synthetic(10, 10, rank=0)
    with pytest.raises(ValueError, match="n_ratings must be between"):
        mt.synthetic(10, 10, rank=2, n_ratings=5)


def test_toy_lecture_example_reproduces_the_slide():
    U, Vt = mt.toy("lecture_U"), mt.toy("lecture_Vt")
    slide = np.array([[1, 2.3, 1.9, 2.3, 1.9, 3.2], [0.8, 2.5, 2.3, 2.5, 1.7, 4],
                      [0.6, 1.6, 1.4, 1.6, 1.2, 2.4], [0.3, 1.9, 2, 1.9, 0.9, 3.6]])
    np.testing.assert_allclose(U @ Vt, slide, atol=1e-12)
    R = mt.toy("lecture_R")
    assert R.shape == (4, 6) and np.isnan(R).sum() == 11  # 13 known entries, 11 "?"
    np.testing.assert_array_equal(~np.isnan(R), mt.toy("lecture_P") > 0)  # P marks the known entries of R


def test_toy_book_examples():
    M = mt.toy("book_9.2.5")
    completed = np.outer([1, 1, 4, 4], [1, 1, 2, 2])
    known = ~np.isnan(M)
    np.testing.assert_array_equal(M[known], completed[known])
    M6 = mt.toy("book_9.2.6")
    assert M6[1, 0] / M6[0, 0] == 1 and M6[1, 1] / M6[0, 1] == 7  # the book's contradiction


def test_toy_returns_copies_and_rejects_unknown_names():
    a = mt.toy("lecture_R")
    a[0, 0] = 99
    assert mt.toy("lecture_R")[0, 0] == 1
    with pytest.raises(ValueError, match="unknown toy matrix 'nope'; choose one of"):
        mt.toy("nope")


def test_item_labels_are_titles_or_original_ids():
    with_titles = Ratings([0, 0], [0, 1], [1.0, 2.0], items=[10, 20], item_titles=["A", "B"])
    without = Ratings([0, 0], [0, 1], [1.0, 2.0], items=[10, 20])
    assert list(with_titles.item_labels([1, 0])) == ["B", "A"]
    assert list(without.item_labels([1, 0])) == [20, 10]


def test_copies_are_the_object_itself_and_pickling_round_trips():
    import copy
    import pickle

    R = np.array([[5.0, np.nan, 3.0], [np.nan, 1.0, 4.0]])
    ratings = mt.Ratings.from_dense(R)
    assert copy.copy(ratings) is ratings and copy.deepcopy([ratings])[0] is ratings  # immutable: no copy needed
    back = pickle.loads(pickle.dumps(ratings))
    np.testing.assert_array_equal(back.to_dense(), ratings.to_dense())
    assert back.shape == ratings.shape and not back.values.flags.writeable
    with pytest.raises(AttributeError, match="immutable"):
        back.foo = 1


# ---------------------------------------------------------------- issue 15, item 6: odd input gets a clear error
@pytest.mark.parametrize("make, error, message", [
    (lambda: Ratings.from_frame(pd.DataFrame({"user": [1, None, None], "item": [1, 2, 3], "rating": [4, 5, 3]})),
     ValueError, r"column 'user' has 2 missing id\(s\).*index \[1, 2\]"),
    (lambda: Ratings.from_frame(pd.DataFrame({"user": [1, 2, 3], "item": [1.0, np.nan, 3.0], "rating": [4, 5, 3]})),
     ValueError, r"column 'item' has 1 missing id"),
    (lambda: Ratings.from_frame(pd.DataFrame({"user": [1, "a"], "item": [1, 2], "rating": [4, 5]})),
     TypeError, r"ids in column 'user' cannot be sorted"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], item_genres=["Action", "Drama"]),
     TypeError, r"entry 0 is the string 'Action': write \['Action'\]"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], item_genres="Action"), TypeError, "got the string"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], item_genres=[["Action"], 3]), TypeError, "entry 1 is 3"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], item_genres=[["Action"], [7]]), TypeError, "entry 1 holds 7"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], shape=(2.7, 3)), ValueError, r"two positive integers.*\(2\.7, 3\)"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], shape=(True, 3)), ValueError, "two positive integers"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], shape=5), ValueError, "two positive integers"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], users=7), ValueError,
     r"users must have one id per row .*single value 7"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], items=np.int64(5)), ValueError, r"items must have one id per column"),
    (lambda: Ratings([0, 1], [0, 1], [1.0, 2.0], item_titles="A"), ValueError, "one title per item"),
    (lambda: Ratings([10**12], [0], [1.0]), ValueError, r"rows entry 0 is 1000000000000: .*Ratings.from_frame"),
    (lambda: Ratings([0], [5 * 10**9], [1.0]), ValueError, r"cols entry 0 is 5000000000"),
    (lambda: Ratings([0], [0], [1.0], shape=(10**12, 1)), ValueError, "too large"),
    (lambda: Ratings(np.array([2**63 + 5], dtype=np.uint64), [0], [1.0]), ValueError,
     r"entry 0 is 9223372036854775813"),
    (lambda: Ratings([2**64 + 1], [0], [1.0]), ValueError, r"entry 0 is 18446744073709551617"),
    (lambda: Ratings([0], [1e30], [1.0]), ValueError, r"cols entry 0 is 1e\+30"),
])
def test_odd_input_gets_a_clear_error_instead_of_a_wrong_matrix(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_from_frame_ids_of_any_sortable_kind_still_work():
    frame = pd.DataFrame({"user": ["b", "a", "b"], "item": [2.0, 1.0, 1.0], "rating": [1.0, 2.0, 3.0]})
    ratings = Ratings.from_frame(frame)
    assert list(ratings.users) == ["a", "b"] and list(ratings.items) == [1.0, 2.0]
    assert Ratings([0, 1], [0, 1], [1.0, 2.0], shape=(2.0, np.int64(3))).shape == (2, 3)  # whole numbers are fine


def test_from_dense_treats_masked_entries_as_unknown():
    matrix = np.ma.masked_array([[1.0, 2.0], [3.0, 4.0]], mask=[[False, True], [False, False]])
    ratings = Ratings.from_dense(matrix)
    assert len(ratings) == 3
    np.testing.assert_array_equal(ratings.to_dense(), [[1.0, np.nan], [3.0, 4.0]])
    ints = np.ma.masked_equal(np.array([[5, 0], [0, 4]]), 0)  # an int masked array: 0 marks "unknown"
    np.testing.assert_array_equal(Ratings.from_dense(ints).to_dense(), [[5.0, np.nan], [np.nan, 4.0]])


# ---------------------------------------------------------------- issue 15, item 1: the fingerprint
def test_fingerprint_identifies_the_ratings_and_survives_pickling():
    import pickle

    ratings, _ = small()
    print_ = ratings.fingerprint
    assert print_.shape == (4, 3) and print_.count == 6 and len(print_.omega) == len(print_.values) == 64
    assert ratings.fingerprint is print_  # computed once: the object is immutable
    same = Ratings(ratings.rows[::-1], ratings.cols[::-1], ratings.values[::-1], shape=(4, 3), items=[7, 8, 9])
    assert same.fingerprint == print_  # equal ratings, other index maps
    assert pickle.loads(pickle.dumps(ratings)).fingerprint == print_
    other_values = ratings.with_values(ratings.values + 1)
    assert other_values.fingerprint.omega == print_.omega and other_values.fingerprint.values != print_.values
    fewer = ratings.without(0, 0)
    assert fewer.fingerprint.omega != print_.omega and fewer.fingerprint.count == 5
    bigger = Ratings(ratings.rows, ratings.cols, ratings.values, shape=(5, 3))
    assert bigger.fingerprint != print_
    assert "4 x 3, 6 ratings, fingerprint " in print_.describe()


def test_genre_labels_join_each_items_genres_and_are_empty_without_genres():
    with_genres = Ratings([0, 1], [0, 2], [4.0, 5.0], shape=(2, 3), item_genres=[["Drama"], [], ["Action", "Comedy"]])
    assert with_genres.genre_labels([2, 0, 1]).tolist() == ["Action, Comedy", "Drama", ""]
    assert Ratings([0], [1], [3.0], shape=(1, 2)).genre_labels([1, 0]).tolist() == ["", ""]


def test_the_groupings_hold_each_users_and_each_items_ratings():
    ratings = Ratings([2, 0, 0, 1], [1, 2, 0, 1], [1.0, 2.0, 3.0, 4.0], shape=(3, 3))
    by_user, by_item = ratings.by_user, ratings.by_item
    assert by_user.indptr.tolist() == [0, 2, 3, 4] and by_user.counts.tolist() == [2, 1, 1]
    for u in range(3):
        part = slice(by_user.indptr[u], by_user.indptr[u + 1])
        assert (ratings.rows[by_user.order[part]] == u).all()
        np.testing.assert_array_equal(by_user.index[part], ratings.cols[ratings.rows == u])
    for i in range(3):
        part = slice(by_item.indptr[i], by_item.indptr[i + 1])
        np.testing.assert_array_equal(by_item.index[part], ratings.rows[ratings.cols == i])
        np.testing.assert_array_equal(by_item.values[part], ratings.values[ratings.cols == i])
        assert (ratings.cols[by_item.order[part]] == i).all()
    assert ratings.by_item is ratings.by_item  # computed once
    assert not by_item.order.flags.writeable


def test_pickling_drops_the_cached_groupings_and_rebuilds_them():
    import pickle

    ratings = Ratings([0, 1], [1, 0], [3.0, 4.0])
    ratings.by_item, ratings.fingerprint
    copy = pickle.loads(pickle.dumps(ratings))
    assert copy == ratings and copy._by_item is None
    np.testing.assert_array_equal(copy.by_item.order, ratings.by_item.order)


def test_the_groupings_equal_the_five_copies_they_replaced_so_fits_are_unchanged_to_the_bit(ml100k):
    """ALS, GradientDescent, ImplicitALS and the explanations each grouped Omega themselves, as
    below (issue 18); they now read ``by_user`` / ``by_item``. Equal arrays in, equal bits out."""
    ratings, _ = ml100k.split(0.2, seed=0)
    user_ptr = np.concatenate(([0], np.cumsum(ratings.user_counts())))
    by_item = np.argsort(ratings.cols, kind="stable")
    item_ptr = np.concatenate(([0], np.cumsum(ratings.item_counts())))
    np.testing.assert_array_equal(ratings.by_user.indptr, user_ptr)
    np.testing.assert_array_equal(ratings.by_user.index, ratings.cols)
    np.testing.assert_array_equal(ratings.by_item.order, by_item)
    np.testing.assert_array_equal(ratings.by_item.indptr, item_ptr)
    np.testing.assert_array_equal(ratings.by_item.index, ratings.rows[by_item])
    np.testing.assert_array_equal(ratings.by_item.values, ratings.values[by_item])
    # and a fit does not depend on whether the grouping was already cached
    fresh = Ratings(ratings.rows, ratings.cols, ratings.values, shape=ratings.shape)
    a = mt.ALS(rank=8, reg=5.0, n_iters=3, biased=True, seed=1).fit(ratings)
    b = mt.ALS(rank=8, reg=5.0, n_iters=3, biased=True, seed=1).fit(fresh)
    np.testing.assert_array_equal(a.U_, b.U_)
    np.testing.assert_array_equal(a.V_, b.V_)


def test_a_groupings_entries_are_every_rating_of_the_chosen_groups_in_their_order():
    ratings = Ratings([2, 0, 0, 1, 2], [1, 2, 0, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0], shape=(3, 3))
    for grouping, keys in ((ratings.by_user, ratings.rows), (ratings.by_item, ratings.cols)):
        for groups in ([2, 0], [1], [], [0, 1, 2]):
            expected = np.concatenate([np.flatnonzero(keys == g) for g in groups] + [np.empty(0, dtype=np.int64)])
            np.testing.assert_array_equal(grouping.entries(groups), expected)
            np.testing.assert_array_equal(grouping.index[grouping.positions(groups)],
                                          (ratings.cols if keys is ratings.rows else ratings.rows)[expected])
