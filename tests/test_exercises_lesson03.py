"""Lesson 03's exercise: the closed-form ALS update of one user (lecture slides, "ALS")."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.als import update_users
from mfteach.data import toy
from mfteach.ratings import Ratings

NAME = "user_update"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.fixture
def exercise():
    return ex.EXERCISES[NAME]


def test_first_case_is_the_slides_example(exercise):
    V, rated, ratings, reg = exercise.cases()[0]
    np.testing.assert_array_equal(V.T, toy("lecture_Vt"))
    np.testing.assert_array_equal(rated, [0, 3, 5])      # user 0 rated items 0, 3, 5 ...
    np.testing.assert_array_equal(ratings, [1, 2, 1])    # ... with 1, 2 and 1 stars
    assert reg == 0.1


@pytest.mark.parametrize("j", range(6))
def test_reference_zeroes_the_gradient_and_matches_ridge_least_squares(exercise, j):
    """The user's block: grad = -2 V_O^T (r - V_O u) + 2 lambda u = 0, and u is the least-squares
    solution of the stacked system [V_O; sqrt(lambda) I] u = [r; 0] (numpy.linalg.lstsq)."""
    V, rated, r, reg = exercise.cases()[j]
    u = exercise.reference(V, rated, r, reg)
    V_O = V[rated]
    gradient = -2 * V_O.T @ (r - V_O @ u) + 2 * reg * u
    np.testing.assert_allclose(gradient, 0, atol=1e-9)
    k = V.shape[1]
    stacked = np.vstack([V_O, np.sqrt(reg) * np.eye(k)])
    lstsq = np.linalg.lstsq(stacked, np.concatenate([r, np.zeros(k)]), rcond=None)[0]
    np.testing.assert_allclose(u, lstsq, rtol=1e-9, atol=1e-12)


def test_reference_is_the_minimum_of_the_users_block():
    """Strict convexity: every perturbation raises ||r - V_O u||^2 + lambda ||u||^2."""
    rng = np.random.default_rng(4)
    V, rated, r, reg = rng.normal(size=(12, 3)), np.array([1, 4, 7, 9]), rng.normal(size=4), 0.3
    u = ex.EXERCISES[NAME].reference(V, rated, r, reg)

    def block(x):
        e = r - V[rated] @ x
        return e @ e + reg * x @ x

    for _ in range(50):
        assert block(u + 1e-3 * rng.normal(size=3)) > block(u)


def test_reference_agrees_with_the_packages_user_half_step():
    rng = np.random.default_rng(1)
    m, n, k, reg = 7, 9, 3, 0.4
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) < 0.5] = np.nan
    R[:, 0] = 4.0  # every user has a rating
    ratings = Ratings.from_dense(R)
    V = rng.normal(size=(n, k))
    U = update_users(ratings, V, reg)
    for u in range(m):
        rated = np.flatnonzero(~np.isnan(R[u]))
        np.testing.assert_allclose(ex.EXERCISES[NAME].reference(V, rated, R[u, rated], reg), U[u], rtol=1e-10)


def test_a_user_with_fewer_ratings_than_k_is_fine_with_lambda():
    """lambda I makes the k x k matrix positive definite whatever |Omega_u| is."""
    V, reg = np.random.default_rng(2).normal(size=(5, 4)), 0.5
    u = ex.EXERCISES[NAME].reference(V, np.array([2]), np.array([5.0]), reg)
    # one rating: u is parallel to v_2, u = r v / (||v||^2 + lambda)
    np.testing.assert_allclose(u, 5.0 * V[2] / (V[2] @ V[2] + reg))


def test_inverse_instead_of_solve_is_not_a_mistake(capsys):
    def user_update(V, rated_items, ratings_of_user, reg):
        V_O = V[rated_items]
        return np.linalg.inv(V_O.T @ V_O + reg * np.eye(V.shape[1])) @ V_O.T @ ratings_of_user

    assert ex.check(NAME, user_update) is True
    assert "✅" in capsys.readouterr().out




@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda V, items, r, reg: np.linalg.lstsq(V[items], r, rcond=None)[0], "λI is missing"),
        (lambda V, items, r, reg: np.linalg.solve(V.T @ V + reg * np.eye(V.shape[1]), V[items].T @ r), "ALL items"),
        (lambda V, items, r, reg: np.linalg.solve(V[items].T @ V[items] + reg, V[items].T @ r), "EVERY entry"),
        (lambda V, items, r, reg: np.linalg.solve(V[items].T @ V[items] + 2 * reg * np.eye(V.shape[1]),
                                                  V[items].T @ r), "added twice"),
        (lambda V, items, r, reg: np.linalg.solve(V[items].T @ V[items] / len(items) + reg * np.eye(V.shape[1]),
                                                  V[items].T @ r / len(items)), "ALS-WR"),
    ],
    ids=["no-reg-lstsq", "all-items", "reg-everywhere", "reg-twice", "mean-loss"],
)
def test_typical_mistakes_written_differently_are_recognised(wrong, phrase, capsys):
    assert ex.check(NAME, wrong) is False
    assert phrase in capsys.readouterr().out


def test_shape_errors_are_reported_as_exceptions_with_the_line(capsys):
    def user_update(V, rated_items, ratings_of_user, reg):
        V_O = V[rated_items]
        return np.linalg.solve(V_O @ V_O.T + reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)

    assert ex.check(NAME, user_update) is False
    out = capsys.readouterr().out
    assert "your function raised ValueError" in out
    assert "V_O @ V_O.T" in out  # the learner's line
    assert "Test case 1 of 6" in out


def test_unsolved_stub_says_so(capsys):
    def user_update(V, rated_items, ratings_of_user, reg):
        raise NotImplementedError("your turn")

    assert ex.check(NAME, user_update) is False
    out = capsys.readouterr().out
    assert "raised NotImplementedError: your turn" in out
    assert "Need a nudge? mt.exercises.hint('user_update')" in out


def test_the_solution_solves_rather_than_inverts(capsys):
    ex.solution(NAME)
    assert "np.linalg.solve(A, b)" in capsys.readouterr().out
