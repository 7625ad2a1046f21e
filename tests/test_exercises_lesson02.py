"""Lesson 02's exercises and questions (02_rank1_completion): each reference against an independent
computation (complete_rank1, a plain loop), mistakes written the way a learner writes them get their
diagnosis, and the questions' numbers are what complete_rank1 finds."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.completion import complete_rank1

LESSON = "02_rank1_completion"
NAMES = ["complete_from_cross", "propagate_rank1"]  # in the lesson's order
QUESTIONS = ["q02_fewest_entries", "q02_determined_entries"]

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == NAMES
    assert [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON] == QUESTIONS


# ---------------------------------------------------------------------------- complete_from_cross
@pytest.mark.parametrize("j", range(7))
def test_complete_from_cross_is_what_complete_rank1_fills_in(j):
    first_row, first_col = ex.EXERCISES["complete_from_cross"].cases()[j]
    M = np.full((len(first_col), len(first_row)), np.nan)
    M[0], M[:, 0] = first_row, first_col
    completed = ex.EXERCISES["complete_from_cross"].reference(first_row, first_col)
    result = complete_rank1(M)
    assert result.complete
    np.testing.assert_allclose(completed, result.completed, rtol=1e-12)
    assert np.linalg.matrix_rank(completed) == 1


def test_complete_from_cross_starts_with_example_9_2_5():
    first_row, first_col = ex.EXERCISES["complete_from_cross"].cases()[0]
    book = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [4, 4, 8, 8], [4, 4, 8, 8]], dtype=float)
    np.testing.assert_array_equal(ex.EXERCISES["complete_from_cross"].reference(first_row, first_col), book)


# ---------------------------------------------------------------------------- propagate_rank1
@pytest.mark.parametrize("j", range(7))
def test_propagate_rank1_agrees_with_complete_rank1(j):
    (M,) = ex.EXERCISES["propagate_rank1"].cases()[j]
    a, b = ex.EXERCISES["propagate_rank1"].reference(M)
    result = complete_rank1(M)
    np.testing.assert_allclose(a, result.a, rtol=1e-12)
    np.testing.assert_allclose(b, result.b, rtol=1e-12)
    known = ~np.isnan(M)
    np.testing.assert_allclose(np.outer(a, b)[known], M[known], rtol=1e-12)


def _one_sweep_by_rows(M):
    """A learner's single pass: rows in order, each known entry once."""
    m, n = M.shape
    a, b = [np.nan] * m, [np.nan] * n
    a[0] = 1.0
    for i in range(m):
        for j in range(n):
            if not np.isnan(M[i, j]):
                if not np.isnan(a[i]):
                    b[j] = M[i, j] / a[i]
                elif not np.isnan(b[j]):
                    a[i] = M[i, j] / b[j]
    return np.array(a), np.array(b)


def _row_one_then_its_columns(M):
    """A learner's two steps: row 1 gives columns, the columns give rows, done."""
    a, b = np.full(M.shape[0], np.nan), M[0].copy()
    a[0] = 1.0
    for i in range(1, M.shape[0]):
        for j in range(M.shape[1]):
            if np.isnan(a[i]) and not np.isnan(M[i, j]) and not np.isnan(b[j]):
                a[i] = M[i, j] / b[j]
    return a, b


@pytest.mark.parametrize("wrong", [_one_sweep_by_rows, _row_one_then_its_columns], ids=["one-sweep", "two-steps"])
def test_a_single_propagation_pass_is_told_to_repeat(wrong, capsys):
    assert ex.check("propagate_rank1", wrong) is False
    out = capsys.readouterr().out
    assert "💡" in out and "until a sweep changes nothing" in out


# ---------------------------------------------------------------------------- questions
def test_fewest_entries_is_m_plus_n_minus_1_by_a_spanning_tree():
    m, n = 6, 8
    T = np.outer(np.arange(1, m + 1), np.arange(1, n + 1)).astype(float)
    star = np.full((m, n), np.nan)
    star[0], star[:, 0] = T[0], T[:, 0]
    assert np.count_nonzero(~np.isnan(star)) == m + n - 1 and complete_rank1(star).complete
    assert ex.answer("q02_fewest_entries", m + n - 1) is True


def test_determined_entries_is_what_complete_rank1_determines():
    """The question's six entries (1-based M_11, M_12, M_21, M_33, M_34, M_43) of a 4 x 4 rank-1 matrix:
    two components, 8 of the 16 entries determined; one more entry between the blocks determines all."""
    T = np.outer([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 5.0, 3.0])
    M = np.full((4, 4), np.nan)
    for i, j in [(1, 1), (1, 2), (2, 1), (3, 3), (3, 4), (4, 3)]:
        M[i - 1, j - 1] = T[i - 1, j - 1]
    result = complete_rank1(M)
    known = ~np.isnan(M)
    assert known.any(axis=0).all() and known.any(axis=1).all()    # every row and column has a known entry
    assert int(result.determined.sum()) == 8 and len(set(result.row_component)) == 2
    assert ex.answer("q02_determined_entries", 8) is True
    for wrong in (16, 6, 4, 7):
        assert ex.answer("q02_determined_entries", wrong) is False
    M[0, 2] = T[0, 2]
    assert complete_rank1(M).complete
