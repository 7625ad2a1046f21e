"""Lesson 06's exercise: the influence matrix of one user (FATREC 2017, eq. (2))."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
import mfteach.exercises.lesson06  # noqa: F401  (registers influence_matrix_of_user until the package imports it)
from mfteach.data import toy
from mfteach.explain import influence_matrix

NAME = "influence_matrix_of_user"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.fixture
def exercise():
    return ex.EXERCISES[NAME]


def test_first_case_is_the_slides_example(exercise):
    V, rated, reg = exercise.cases()[0]
    np.testing.assert_array_equal(V.T, toy("lecture_Vt"))
    np.testing.assert_array_equal(rated, [0, 3, 5])      # user 0 of lesson 03 rated items 0, 3, 5
    assert reg == 0.1


def test_cases_are_shuffled_and_overdetermined(exercise):
    for V, rated, reg in exercise.cases()[1:]:
        n, k = V.shape
        assert k < len(rated) < n and len(set(rated.tolist())) == len(rated) and reg > 0
        assert not np.all(np.diff(rated) > 0)            # the column order matters


@pytest.mark.parametrize("j", range(6))
def test_J_times_any_ratings_is_the_predictions_of_lesson_03s_update(exercise, j):
    """r_hat = V u with u = (V_O^T V_O + lambda I)^{-1} V_O^T r: J r for every r (linear in r),
    and column k is the change of every prediction per unit change of the k-th rating."""
    V, rated, reg = exercise.cases()[j]
    J = exercise.reference(V, rated, reg)
    assert J.shape == (V.shape[0], len(rated))
    rng = np.random.default_rng(j)
    for _ in range(3):
        r = rng.integers(1, 6, size=len(rated)).astype(float)
        u = ex.EXERCISES["user_update"].reference(V, rated, r, reg)
        np.testing.assert_allclose(J @ r, V @ u, rtol=1e-9, atol=1e-12)
        bumped = r.copy()
        bumped[0] += 1.0
        u_bumped = ex.EXERCISES["user_update"].reference(V, rated, bumped, reg)
        np.testing.assert_allclose(V @ u_bumped - V @ u, J[:, 0], rtol=1e-8, atol=1e-10)


def test_reference_is_the_packages_influence_matrix():
    """mt.explain.influence_matrix of an unbiased ALS model: the same J for the model's V and lambda."""
    rng = np.random.default_rng(5)
    R = np.where(rng.random((20, 9)) < 0.5, rng.integers(1, 6, (20, 9)).astype(float), np.nan)
    R[:, 0] = 3.0
    ratings = mt.Ratings.from_dense(R)
    model = mt.ALS(rank=3, reg=0.6, n_iters=5).fit(ratings)
    for user in (0, 7, 19):
        J, items = influence_matrix(model, ratings, user)
        np.testing.assert_allclose(ex.EXERCISES[NAME].reference(model.V_, items, 0.6), J, rtol=1e-9, atol=1e-12)


def test_inverse_and_the_push_through_form_are_not_mistakes(capsys):
    def with_inverse(V, rated_items, reg):
        V_O = V[rated_items]
        return V @ np.linalg.inv(V_O.T @ V_O + reg * np.eye(V.shape[1])) @ V_O.T

    def push_through(V, rated_items, reg):
        # (V_O^T V_O + lambda I)^{-1} V_O^T = V_O^T (V_O V_O^T + lambda I)^{-1}: an |Omega_u| x |Omega_u| solve
        V_O = V[rated_items]
        return V @ V_O.T @ np.linalg.inv(V_O @ V_O.T + reg * np.eye(len(rated_items)))

    for fn in (with_inverse, push_through):
        assert ex.check(NAME, fn) is True
        assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda V, items, reg: V @ np.linalg.pinv(V[items]), "λI is missing"),
        (lambda V, items, reg: V @ np.linalg.inv(V.T @ V + reg * np.eye(V.shape[1])) @ V[items].T, "ALL items"),
        (lambda V, items, reg: np.linalg.solve(V[items].T @ V[items] + reg * np.eye(V.shape[1]), V[items].T).T
         @ V.T, "Jᵀ"),
        (lambda V, items, reg: V[items] @ np.linalg.inv(V[items].T @ V[items] + reg * np.eye(V.shape[1]))
         @ V[items].T, "EVERY item"),
        (lambda V, items, reg: V @ np.linalg.solve(V[sorted(items)].T @ V[sorted(items)] + reg * np.eye(V.shape[1]),
                                                   V[sorted(items)].T), "sorted"),
    ],
    ids=["pinv-no-reg", "all-items-inverse", "transposed-solve", "rated-rows", "sorted-builtin"],
)
def test_typical_mistakes_written_differently_are_recognised(wrong, phrase, capsys):
    assert ex.check(NAME, wrong) is False
    assert phrase in capsys.readouterr().out


def test_a_transposed_result_is_named_as_such(capsys):
    def influence_matrix_of_user(V, rated_items, reg):
        V_O = V[rated_items]
        return V_O @ np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V.T)

    assert ex.check(NAME, influence_matrix_of_user) is False
    out = capsys.readouterr().out
    assert "transpose of the expected one: shape (3, 6) instead of (6, 3)" in out
    assert "💡 Your result is Jᵀ" in out


def test_stub_reports_the_exception_and_a_hint(capsys):
    def influence_matrix_of_user(V, rated_items, reg):
        raise NotImplementedError("your turn")

    assert ex.check(NAME, influence_matrix_of_user) is False
    out = capsys.readouterr().out
    assert "your function raised NotImplementedError: your turn" in out
    assert "Test case 1 of 6: V of shape (6, 2), rated_items of shape (3,), reg = 0.1." in out
    assert f"mt.exercises.hint('{NAME}')" in out


def test_the_solution_solves_rather_than_inverts(capsys):
    ex.solution(NAME)
    assert "np.linalg.solve(A, V_O.T)" in capsys.readouterr().out

