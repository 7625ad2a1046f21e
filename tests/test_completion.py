"""Rank-1 completion (book section 9.2.4, Examples 9.2.5 and 9.2.6) and the rank-1 least-squares fit.

The tests assert the mathematics: the book's numbers; exactness wherever the bipartite graph of
known entries connects a row and a column, and nothing reported elsewhere; a brute-force search
over all rank-1 matrices on a grid (including zeros) agreeing with what is reported as determined;
a perturbed entry on a cycle is always caught and one on a bridge never can be.
"""

import functools
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

import mfteach.exercises as ex
from mfteach.completion import Conflict, Rank1Fit, Rank1Result, complete_rank1, fit_rank1
from mfteach.data import toy

BOOK_9_2_5 = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [4, 4, 8, 8], [4, 4, 8, 8]], dtype=float)


# ---------------------------------------------------------------------------- helpers
def graph_components(known: np.ndarray):
    """Component label of every row (first m) and column (last n) node of the bipartite graph
    whose edges are the True entries of ``known`` (scipy, independent of the code under test)."""
    m, n = known.shape
    rows, cols = np.nonzero(known)
    adjacency = sp.coo_matrix((np.ones(len(rows)), (rows, m + cols)), shape=(m + n, m + n))
    _, labels = connected_components(adjacency, directed=False)
    return labels[:m], labels[m:]


def is_bridge(known: np.ndarray, i: int, j: int) -> bool:
    """Whether removing the known entry (i, j) disconnects row i from column j."""
    without = known.copy()
    without[i, j] = False
    row_label, col_label = graph_components(without)
    return row_label[i] != col_label[j]


def assert_cycle_contradicts(M: np.ndarray, entries) -> None:
    """``entries`` is a closed alternating walk row-col-row-... of known entries whose ratios
    do not multiply to 1 (i.e. the product of every other entry differs from the rest)."""
    k = len(entries)
    assert k >= 4 and k % 2 == 0
    for (i1, j1), (i2, j2) in zip(entries, entries[1:] + entries[:1]):
        assert i1 == i2 or j1 == j2                        # consecutive entries share a row or a column
    assert all(not np.isnan(M[i, j]) for i, j in entries)
    odd = np.prod([M[e] for e in entries[0::2]])
    even = np.prod([M[e] for e in entries[1::2]])
    assert not np.isclose(odd, even, rtol=1e-9)


rank1_data = st.integers(1, 7).flatmap(lambda m: st.integers(1, 7).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.5, 2.0), min_size=m, max_size=m),
    st.lists(st.floats(0.5, 2.0), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=m, max_size=m),     # signs of a
    st.lists(st.booleans(), min_size=n, max_size=n),     # signs of b
    st.lists(st.booleans(), min_size=m * n, max_size=m * n),  # the mask of known entries
)))


def _truth_and_mask(data):
    a, b, sa, sb, mask = data
    a = np.array(a) * np.where(sa, 1, -1)
    b = np.array(b) * np.where(sb, 1, -1)
    known = np.array(mask).reshape(len(a), len(b))
    if not known.any():
        known[0, 0] = True
    return np.outer(a, b), known


# ---------------------------------------------------------------------------- the book
def test_example_9_2_5_gives_the_books_matrix():
    result = complete_rank1(toy("book_9.2.5"))
    assert isinstance(result, Rank1Result)
    assert result.conflict is None and result.complete
    np.testing.assert_array_equal(result.completed, BOOK_9_2_5)
    assert result.determined.all()
    # a ∝ (1, 1, 4, 4), b ∝ (1, 1, 2, 2): a b^T is the matrix, and the ratios match
    np.testing.assert_allclose(np.outer(result.a, result.b), BOOK_9_2_5)
    np.testing.assert_allclose(result.a / result.a[0], [1, 1, 4, 4])
    np.testing.assert_allclose(result.b / result.b[0], [1, 1, 2, 2])
    assert result.a[0] == 1                       # the scale is fixed at the first row
    assert result.n_components == 1


def test_example_9_2_6_reports_the_books_contradiction():
    M = toy("book_9.2.6")
    result = complete_rank1(M)
    conflict = result.conflict
    assert isinstance(conflict, Conflict)
    text = str(conflict)
    assert text == conflict.text
    # the book: M21/M11 = 1 but M22/M12 = 7 (rows 1, 2 and columns 1, 2, 1-based)
    assert "column 1 says row 2 = 1 x row 1" in text
    assert "column 2 says row 2 = 7 x row 1" in text
    assert conflict.ratios == (1.0, 7.0)
    assert set(conflict.entries) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert_cycle_contradicts(M, list(conflict.entries))
    assert conflict.inconsistent == ((1, 1),)
    # no rank-1 completion exists: only the known entries are kept
    known = ~np.isnan(M)
    np.testing.assert_array_equal(result.determined, known)
    np.testing.assert_array_equal(np.isnan(result.completed), ~known)
    np.testing.assert_array_equal(result.completed[known], M[known])
    assert not result.complete
    assert "conflict" in repr(result)


def test_ratings_input_and_repr():
    import mfteach as mt

    result = complete_rank1(mt.Ratings.from_dense(toy("book_9.2.5")))
    np.testing.assert_array_equal(result.completed, BOOK_9_2_5)
    assert repr(result) == "Rank1Result(4 x 4, 1 component(s), 16 of 16 determined)"


def test_two_components_leave_the_cross_blocks_undetermined():
    M = np.full((4, 5), np.nan)
    M[0, 0], M[0, 1], M[1, 1] = 2, 4, 6           # rows 0, 1 with columns 0, 1
    M[2, 3], M[3, 3], M[3, 4] = 3, 1, 5           # rows 2, 3 with columns 3, 4; column 2 empty
    result = complete_rank1(M)
    assert result.conflict is None and result.n_components == 2
    np.testing.assert_array_equal(result.row_component, [0, 0, 1, 1])
    np.testing.assert_array_equal(result.col_component, [0, 0, -1, 1, 1])
    expected_det = np.zeros((4, 5), dtype=bool)
    expected_det[:2, :2] = expected_det[2:, 3:] = True
    np.testing.assert_array_equal(result.determined, expected_det)
    np.testing.assert_allclose(result.completed[:2, :2], [[2, 4], [3, 6]])
    np.testing.assert_allclose(result.completed[2:, 3:], [[3, 15], [1, 5]])
    assert np.isnan(result.b[2]) and result.a[0] == 1 and result.a[2] == 1


# ---------------------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rank1_data)
def test_exact_where_connected_and_undetermined_elsewhere(data):
    T, known = _truth_and_mask(data)
    M = np.where(known, T, np.nan)
    result = complete_rank1(M)
    assert result.conflict is None
    row_label, col_label = graph_components(known)
    same = row_label[:, None] == col_label[None, :]
    np.testing.assert_array_equal(result.determined, same)      # determined == same component
    np.testing.assert_allclose(result.completed[same], T[same], rtol=1e-9)  # never a wrong value
    assert np.isnan(result.completed[~same]).all()
    np.testing.assert_array_equal(result.completed[known], M[known])
    # a and b: NaN exactly for the rows / columns without a known entry
    np.testing.assert_array_equal(np.isnan(result.a), ~known.any(axis=1))
    np.testing.assert_array_equal(np.isnan(result.b), ~known.any(axis=0))
    # one scale per component: a = 1 at the component's first row
    for c in range(result.n_components):
        assert result.a[np.flatnonzero(result.row_component == c)[0]] == 1.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rank1_data, st.integers(0, 10_000), st.floats(0.05, 1.0), st.booleans())
def test_a_perturbed_entry_is_caught_iff_it_lies_on_a_cycle(data, pick, size, up):
    T, known = _truth_and_mask(data)
    rows, cols = np.nonzero(known)
    i, j = int(rows[pick % len(rows)]), int(cols[pick % len(rows)])
    M = np.where(known, T, np.nan)
    M[i, j] *= (1 + size) if up else 1 / (1 + size)               # a relative error of 5% .. 100%
    result = complete_rank1(M)
    if is_bridge(known, i, j):
        # a bridge lies on no cycle: nothing can check it, the error spreads silently
        assert result.conflict is None
        assert result.completed[i, j] == M[i, j] != T[i, j]
        row_label, col_label = graph_components(known)
        same = row_label[:, None] == col_label[None, :]
        np.testing.assert_array_equal(result.determined, same)
        # the completion is an exact rank-1 matrix through the perturbed data
        np.testing.assert_allclose(result.completed[known], M[known])
    else:
        assert result.conflict is not None
        # every cycle without (i, j) is consistent, so the witness cycle must pass through it
        assert (i, j) in result.conflict.entries
        assert_cycle_contradicts(M, list(result.conflict.entries))
        assert "no rank-1 completion" in str(result.conflict)


@functools.lru_cache(maxsize=None)
def _all_rank1(m, n, grid=(0.0, 0.25, 0.5, 1.0, 2.0, 4.0)):
    """Every a b^T with a, b on ``grid`` (powers of two: exact arithmetic), as (count, m * n)."""
    g = np.array(grid)
    A = np.array(list(itertools.product(g, repeat=m)))          # all a
    B = np.array(list(itertools.product(g, repeat=n)))          # all b
    return (A[:, None, :, None] * B[None, :, None, :]).reshape(-1, m * n)


def _brute_force(M):
    """Every rank-1 matrix of the grid that matches the known entries of M, as (count, m, n)."""
    m, n = M.shape
    P = _all_rank1(m, n)
    known = ~np.isnan(M).ravel()
    ok = np.all(P[:, known] == M.ravel()[known], axis=1)
    return P[ok].reshape(-1, m, n)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2)])
def test_brute_force_every_small_matrix_with_zeros(shape):
    """All matrices with entries in {?, 0, 1, 2}: a conflict iff no rank-1 matrix matches;
    otherwise the determined entries agree with EVERY matching rank-1 matrix and each
    undetermined entry takes at least two values among them."""
    m, n = shape
    for values in itertools.product([np.nan, 0.0, 1.0, 2.0], repeat=m * n):
        M = np.array(values).reshape(m, n)
        if np.isnan(M).all():
            continue
        result = complete_rank1(M)
        matches = _brute_force(M)
        assert (result.conflict is None) == (len(matches) > 0), M
        if result.conflict is None:
            det = result.determined
            assert (matches[:, det] == result.completed[det]).all(), M
            spread = matches.max(axis=0) > matches.min(axis=0)
            np.testing.assert_array_equal(spread, ~det, err_msg=str(M))


def test_brute_force_random_3x3_with_zeros():
    rng = np.random.default_rng(7)
    for _ in range(250):
        M = rng.choice([np.nan, 0.0, 1.0, 2.0], size=(3, 3), p=[0.45, 0.15, 0.2, 0.2])
        if np.isnan(M).all():
            continue
        result = complete_rank1(M)
        matches = _brute_force(M)
        assert (result.conflict is None) == (len(matches) > 0), M
        if result.conflict is None:
            det = result.determined
            assert (matches[:, det] == result.completed[det]).all(), M
            np.testing.assert_array_equal(matches.max(axis=0) > matches.min(axis=0), ~det, err_msg=str(M))


# ---------------------------------------------------------------------------- zeros
def test_zero_rule_forces_a_whole_column_to_zero():
    # (1,2) = 0 while row 1 has the nonzero (1,1): b_2 = 0, so column 2 is 0 everywhere
    M = np.array([[1.0, 0.0, np.nan],
                  [2.0, np.nan, np.nan],
                  [np.nan, 0.0, 0.0]])
    result = complete_rank1(M)
    assert result.conflict is None
    np.testing.assert_array_equal(result.completed[:, 1], [0, 0, 0])
    assert result.b[1] == 0
    np.testing.assert_array_equal(result.completed[:2, 0], [1, 2])
    # row 3's known entries are all 0 against undetermined partners: a_3 is free, and so is b_3
    assert np.isnan(result.a[2]) and np.isnan(result.b[2])
    assert np.isnan(result.completed[2, 0]) and np.isnan(result.completed[0, 2])
    assert result.completed[2, 2] == 0 and result.determined[2, 2]  # known


def test_zero_between_two_nonzero_factors_is_a_conflict():
    M = np.array([[1.0, 0.0],
                  [2.0, 3.0]])
    result = complete_rank1(M)
    assert result.conflict is not None
    text = str(result.conflict)
    assert "known 0 at (1,2)" in text and "(1,1) = 1" in text and "(2,2) = 3" in text
    assert set(result.conflict.entries) == {(0, 1), (0, 0), (1, 1)}
    # the same across components: row 1 - column 1 and row 2 - column 2 are separate components
    M = np.array([[1.0, 0.0], [np.nan, 3.0]])
    assert complete_rank1(M).conflict is not None


def test_all_zero_data_determines_only_itself():
    M = np.array([[0.0, np.nan], [np.nan, np.nan]])
    result = complete_rank1(M)
    assert result.conflict is None
    np.testing.assert_array_equal(result.determined, [[True, False], [False, False]])
    assert result.n_components == 0


def test_a_row_of_zeros_next_to_a_component_is_zero():
    # a_3 = 0 because (3,1) = 0 and b_1 != 0: the completed row 3 is all zeros
    M = np.array([[2.0, 4.0, 6.0],
                  [1.0, np.nan, np.nan],
                  [0.0, np.nan, np.nan]])
    result = complete_rank1(M)
    np.testing.assert_array_equal(result.completed, [[2, 4, 6], [1, 2, 3], [0, 0, 0]])
    assert result.complete and result.a[2] == 0


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("M, error, phrase", [
    (np.ones(3), ValueError, "2-D"),
    (np.ones((2, 2, 2)), ValueError, "2-D"),
    (np.zeros((0, 3)), ValueError, "empty"),
    (np.array([[1.0, np.inf], [1.0, 1.0]]), ValueError, "finite: entry (0, 1)"),
    (np.full((2, 3), np.nan), ValueError, "no known entry"),
    ([["a", "b"]], TypeError, "numeric"),
])
def test_bad_input(M, error, phrase):
    for fn in (complete_rank1, fit_rank1):
        with pytest.raises(error, match=phrase.replace("(", r"\(").replace(")", r"\)")):
            fn(M)


def test_bad_options():
    with pytest.raises(ValueError, match="rtol"):
        complete_rank1(np.eye(2), rtol=-1)
    with pytest.raises(ValueError, match="n_iters"):
        fit_rank1(np.eye(2), n_iters=0)
    with pytest.raises(ValueError, match="tol"):
        fit_rank1(np.eye(2), tol=-1.0)


def test_input_is_not_modified():
    M = toy("book_9.2.5")
    before = M.copy()
    complete_rank1(M)
    fit_rank1(M)
    np.testing.assert_array_equal(M, before)


# ---------------------------------------------------------------------------- fit_rank1
def _noisy_rank1(seed=0, m=20, n=15, noise=0.01, known_share=0.6):
    rng = np.random.default_rng(seed)
    T = np.outer(rng.uniform(1, 2, m), rng.uniform(1, 2.5, n))
    M = T + noise * rng.normal(size=T.shape)
    M[rng.random(T.shape) >= known_share] = np.nan
    M[:, 0] = T[:, 0] + noise * rng.normal(size=m)  # a full column and row: surely connected
    M[0, :] = T[0, :] + noise * rng.normal(size=n)
    return T, M


def test_fit_recovers_a_noisy_rank1_matrix_to_the_noise_level():
    noise = 0.01
    T, M = _noisy_rank1(noise=noise)
    fit = fit_rank1(M)
    assert isinstance(fit, Rank1Fit) and fit.converged
    error = fit.completed - T                       # on ALL entries, the unknown ones too
    assert np.sqrt(np.mean(error ** 2)) < noise
    assert np.abs(error).max() < 5 * noise
    known = ~np.isnan(M)
    assert fit.rmse == pytest.approx(np.sqrt(np.mean((M - fit.completed)[known] ** 2)))
    assert fit.rmse < 1.2 * noise
    # while exact propagation through the noisy entries finds contradictions on many cycles
    result = complete_rank1(M)
    assert result.conflict is not None
    assert len(result.conflict.inconsistent) == known.sum() - (sum(M.shape) - 1)  # every non-tree entry
    assert "Rank1Fit(20 x 15" in repr(fit)


def test_fit_loss_never_increases():
    for seed in range(5):
        _, M = _noisy_rank1(seed=seed, noise=0.3)
        fit = fit_rank1(M, n_iters=60, tol=0.0, seed=seed)
        h = fit.loss_history
        assert 5 <= len(h) == fit.n_iters <= 60      # tol = 0: stops only when a sweep gains nothing
        assert (np.diff(h) <= 1e-12 * h[:-1]).all()
        assert fit.loss == h[-1]


def test_fit_matches_exact_completion_on_exact_data():
    M = toy("book_9.2.5")
    fit = fit_rank1(M, n_iters=500, tol=1e-15)
    exact = complete_rank1(M)
    known = ~np.isnan(M)
    np.testing.assert_allclose(fit.completed[known], exact.completed[known], rtol=1e-6)
    np.testing.assert_allclose(fit.completed, exact.completed, rtol=1e-6)  # connected: everywhere
    np.testing.assert_allclose(fit.a, exact.a, rtol=1e-6)                  # same scale convention
    assert fit.loss < 1e-10


def test_fit_marks_rows_and_columns_without_data():
    M = np.array([[1.0, 2.0, np.nan], [np.nan, np.nan, np.nan], [3.0, 6.0, np.nan]])
    fit = fit_rank1(M, n_iters=300)
    assert np.isnan(fit.a[1]) and np.isnan(fit.b[2])
    assert np.isnan(fit.completed[1]).all() and np.isnan(fit.completed[:, 2]).all()
    np.testing.assert_allclose(fit.completed[[0, 2]][:, :2], [[1, 2], [3, 6]], rtol=1e-6)


def test_fit_is_deterministic_for_a_seed():
    _, M = _noisy_rank1(noise=0.5)
    one, two = fit_rank1(M, seed=3), fit_rank1(M, seed=3)
    np.testing.assert_array_equal(one.completed, two.completed)
    np.testing.assert_array_equal(one.loss_history, two.loss_history)


# ---------------------------------------------------------------------------- the exercise
def test_propagate_rank1_exercise_reference_and_mistakes(capsys):
    exercise = ex.EXERCISES["propagate_rank1"]
    assert exercise.lesson == "02_rank1_completion"
    cases = exercise.cases()
    np.testing.assert_array_equal(cases[0][0], toy("book_9.2.5"))     # the small case shown first
    for (M,) in cases:                                                 # connected, no zeros
        known = ~np.isnan(M)
        row_label, col_label = graph_components(known)
        assert len(set(row_label) | set(col_label)) == 1
        assert (M[known] != 0).all()
        a, b = exercise.reference(M)
        assert a[0] == 1
        np.testing.assert_allclose(np.outer(a, b)[known], M[known], rtol=1e-12)
        result = complete_rank1(M)                                     # the package agrees
        np.testing.assert_allclose(a, result.a, rtol=1e-12)
        np.testing.assert_allclose(b, result.b, rtol=1e-12)
    assert ex.check("propagate_rank1", exercise.reference) is True
    assert "✅ propagate_rank1" in capsys.readouterr().out

    def propagate_rank1(M):                                            # one sweep only: NaN left
        m, n = M.shape
        a, b = np.full(m, np.nan), np.full(n, np.nan)
        a[0] = 1.0
        for i in range(m):
            for j in range(n):
                if not np.isnan(M[i, j]):
                    if not np.isnan(a[i]) and np.isnan(b[j]):
                        b[j] = M[i, j] / a[i]
                    elif not np.isnan(b[j]) and np.isnan(a[i]):
                        a[i] = M[i, j] / b[j]
        return a, b

    assert ex.check("propagate_rank1", propagate_rank1) is False
    out = capsys.readouterr().out
    assert "has NaN" in out and "💡" in out and "Repeat the sweep" in out
    for diagnostic in exercise.diagnostics:
        assert ex.check("propagate_rank1", diagnostic.wrong) is False
        assert "💡 " + diagnostic.message in capsys.readouterr().out
