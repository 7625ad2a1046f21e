"""Lesson 00's exercises and questions (00_recommenders_as_matrices): each reference against an
independent computation (a plain loop, the package), and mistakes written the way a learner writes
them get their diagnosis."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from mfteach.data import toy
from mfteach.ratings import Ratings

LESSON = "00_recommenders_as_matrices"
NAMES = ["to_implicit", "density"]  # in the lesson's order
QUESTIONS = ["q00_skips_feedback", "q00_attribute_regression", "q00_cold_start"]

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == NAMES
    assert [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON] == QUESTIONS


# ---------------------------------------------------------------------------- to_implicit
def _implicit_by_loop(R, threshold):
    """Entry by entry: '?' stays '?', a known rating becomes 1 or 0 (a plain loop)."""
    P = np.empty(R.shape)
    for u in range(R.shape[0]):
        for i in range(R.shape[1]):
            if np.isnan(R[u, i]):
                P[u, i] = np.nan
            else:
                P[u, i] = 1.0 if R[u, i] >= threshold else 0.0
    return P


@pytest.mark.parametrize("j", range(8))
def test_to_implicit_is_a_plain_loop_over_the_entries(j):
    R, threshold = ex.EXERCISES["to_implicit"].cases()[j]
    P = ex.EXERCISES["to_implicit"].reference(R, threshold)
    np.testing.assert_array_equal(P, _implicit_by_loop(R, threshold))
    assert P.dtype == float and (np.isnan(P) == np.isnan(R)).all()  # Omega is kept


def test_to_implicit_of_the_slides_matrix_and_of_movielens(ml100k):
    """The slides: the three 5-star ratings become 1, the 1-3 stars 0. On MovieLens it agrees with the lesson's
    ``ml.with_values(ml.values >= 4)``: 55,375 of the 100,000 ratings are liked."""
    P = ex.EXERCISES["to_implicit"].reference(toy("lecture_R"), 4)
    assert np.nansum(P) == 3 and np.count_nonzero(~np.isnan(P)) == 13
    dense = ex.EXERCISES["to_implicit"].reference(ml100k.to_dense(), 4)
    liked = ml100k.with_values(ml100k.values >= 4)
    np.testing.assert_array_equal(dense[ml100k.rows, ml100k.cols], liked.values)
    assert np.nansum(dense) == 55_375


def test_to_implicit_cases_cover_thresholds_ties_and_unknowns():
    """Every diagnostic is told apart from the reference: ratings equal to the threshold, other
    thresholds than 4, unknown entries in every case but a fully known one, a row with no rating."""
    cases = ex.EXERCISES["to_implicit"].cases()
    assert {t for _, t in cases} >= {4, 3, 5, 3.5, 0.0}
    assert any((R == t).any() for R, t in cases)
    assert sum(np.isnan(R).any() for R, _ in cases) >= len(cases) - 1
    assert any(np.isnan(R).all(axis=1).any() for R, _ in cases)


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda R, threshold: np.where(R >= threshold, 1, 0), "NaN >= threshold"),
        (lambda R, threshold: np.where(R > threshold, 1.0, np.where(R <= threshold, 0.0, np.nan)), ">="),
        (lambda R, threshold: np.where(R >= 4, 1.0, np.where(R < 4, 0.0, np.nan)), "`threshold` argument"),
    ],
    ids=["unknown-as-0", "strict", "hard-coded-4"],
)
def test_to_implicit_mistakes_written_differently_get_their_diagnosis(wrong, phrase, capsys):
    assert ex.check("to_implicit", wrong) is False
    out = capsys.readouterr().out
    assert "💡" in out and phrase in out


def test_an_in_place_version_passes(capsys):
    def to_implicit(R, threshold):
        liked, unknown = R >= threshold, np.isnan(R)
        R[:] = 0
        R[liked] = 1
        R[unknown] = np.nan
        return R

    assert ex.check("to_implicit", to_implicit) is True


def test_the_package_reference_is_reachable_by_name():
    assert mt.exercises.to_implicit is ex.EXERCISES["to_implicit"].reference


# ---------------------------------------------------------------------------- density
@pytest.mark.parametrize("j", range(1, 5))  # Ratings.from_dense needs a known entry; case 6 has none
def test_density_is_the_packages(j):
    (R,) = ex.EXERCISES["density"].cases()[j]
    assert ex.EXERCISES["density"].reference(R) == pytest.approx(Ratings.from_dense(R).density)


def test_density_of_the_slides_matrix_is_13_of_24():
    assert ex.EXERCISES["density"].reference(toy("lecture_R")) == pytest.approx(13 / 24)


# ---------------------------------------------------------------------------- questions
def test_the_cold_start_question_points_to_the_new_lesson_numbers():
    text = str(ex.QUESTIONS["q00_cold_start"].feedback)
    assert "Lessons 08–09" in text and "Lesson 04" not in text
