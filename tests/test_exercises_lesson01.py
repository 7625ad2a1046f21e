"""Lesson 01's exercises and questions (01_factorization_and_movielens): each reference against an
independent computation (a plain loop, the package), the long-tail find-out against MovieLens 100K
as the lesson describes it, and mistakes written the way a learner writes them get their diagnosis."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach import plots

LESSON = "01_factorization_and_movielens"
NAMES = ["predict_ratings", "head_size", "regularized_loss"]  # in the lesson's order
QUESTIONS = ["q01_factor_count", "q01_largest_rank"]

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == NAMES
    assert [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON] == QUESTIONS


# ---------------------------------------------------------------------------- predict_ratings and the loss
@pytest.mark.parametrize("j", range(6))
def test_predict_ratings_is_every_dot_product(j):
    U, V = ex.EXERCISES["predict_ratings"].cases()[j]
    R_hat = ex.EXERCISES["predict_ratings"].reference(U, V)
    loop = np.array([[sum(U[u, f] * V[i, f] for f in range(U.shape[1])) for i in range(len(V))]
                     for u in range(len(U))])
    np.testing.assert_allclose(R_hat, loop, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("j", range(5))
def test_regularized_loss_is_the_slides_sum_written_as_a_loop(j):
    R, U, V, reg = ex.EXERCISES["regularized_loss"].cases()[j]
    total = 0.0
    for u in range(R.shape[0]):
        for i in range(R.shape[1]):
            if not np.isnan(R[u, i]):
                total += (R[u, i] - U[u] @ V[i]) ** 2
    total += reg * (sum(U[u] @ U[u] for u in range(len(U))) + sum(V[i] @ V[i] for i in range(len(V))))
    assert ex.EXERCISES["regularized_loss"].reference(R, U, V, reg) == pytest.approx(total, rel=1e-12)


# ---------------------------------------------------------------------------- head_size (the find-out)
def _head_by_loop(ratings, share):
    """Take the movies one by one, most rated first, until they hold the share (a plain loop)."""
    counts = {}
    for i in ratings.cols:
        counts[int(i)] = counts.get(int(i), 0) + 1
    held, h = 0, 0
    for count in sorted(counts.values(), reverse=True):
        held, h = held + count, h + 1
        if held >= share * len(ratings):
            return h
    raise AssertionError("the share was never reached")


@pytest.mark.parametrize("j", range(6))
def test_head_size_is_a_plain_loop_over_the_movies(j):
    ratings, share = ex.EXERCISES["head_size"].cases()[j]
    assert ex.EXERCISES["head_size"].reference(ratings, share) == _head_by_loop(ratings, share)


def test_head_size_cases_include_movielens_and_other_data(ml100k):
    cases = ex.EXERCISES["head_size"].cases()
    real = [c for c in cases if c[0].shape == ml100k.shape]
    assert real and all(np.array_equal(r.cols, ml100k.cols) for r, _ in real)
    answers = {ex.EXERCISES["head_size"].reference(*c) for c in cases}
    assert len(answers) >= 4  # a hard-coded number cannot pass


def test_head_size_on_movielens_agrees_with_the_lessons_long_tail(ml100k):
    """The lesson shows that the 20% most rated movies hold about 65% of the ratings (top_share), so
    half of the ratings need fewer than 20% of the movies; and h - 1 movies are not enough."""
    h = ex.EXERCISES["head_size"].reference(ml100k, 0.5)
    n = ml100k.shape[1]
    n_top, share = plots.top_share(ml100k.item_counts(), 0.2)
    assert share > 0.5 and h < n_top
    counts = np.sort(ml100k.item_counts())[::-1]
    assert counts[:h].sum() >= 50_000 > counts[:h - 1].sum()
    assert h / n < 0.15  # a small head: fewer than 15% of the movies hold half of the ratings


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda ratings, share: int(np.argmax(np.cumsum(np.sort(ratings.item_counts()))
                                              >= share * len(ratings))) + 1, "LEAST rated"),
        (lambda ratings, share: int(np.argmax(np.cumsum(-np.sort(-ratings.item_counts()))
                                              >= share * ratings.values.size)), "Off by one"),
        (lambda ratings, share: int(np.searchsorted(np.cumsum(np.sort(ratings.user_counts())[::-1]),
                                                    share * len(ratings))) + 1, "per USER"),
    ],
    ids=["ascending", "position", "users"],
)
def test_head_size_mistakes_written_differently_get_their_diagnosis(wrong, phrase, capsys):
    assert ex.check("head_size", wrong) is False
    out = capsys.readouterr().out
    assert "💡" in out and phrase in out


def test_a_loop_over_the_movies_passes(capsys):
    def head_size(ratings, share):
        counts = sorted(ratings.item_counts(), reverse=True)
        total, h = 0, 0
        while total < share * len(ratings):
            total, h = total + counts[h], h + 1
        return h

    assert ex.check("head_size", head_size) is True


# ---------------------------------------------------------------------------- predict_ratings mistakes that crash
@pytest.mark.parametrize("wrong, phrase", [(lambda U, V: np.dot(U, V), "inner sizes"),
                                           (lambda U, V: np.multiply(U, V), "entry by entry")],
                         ids=["no-transpose", "elementwise"])
def test_predict_ratings_crashes_are_explained(wrong, phrase, capsys):
    assert ex.check("predict_ratings", wrong) is False
    out = capsys.readouterr().out
    assert "raised" in out and phrase in out


# ---------------------------------------------------------------------------- questions
def test_largest_rank_is_computed_from_movielens(ml100k):
    m, n = ml100k.shape
    k = len(ml100k) // (m + n)
    assert (m + n) * k <= len(ml100k) < (m + n) * (k + 1)
    assert ex.answer("q01_largest_rank", k) is True
    assert ex.answer("q01_largest_rank", k + 1) is False


def test_factor_count_accepts_equivalent_expressions():
    assert ex.answer("q01_factor_count", "m*k + k*n") is True
    assert ex.answer("q01_factor_count", "m*n") is False
