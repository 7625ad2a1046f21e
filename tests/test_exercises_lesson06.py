"""Lesson 06's exercises (lecture slides, "Alternating least squares (ALS)"): one user's closed form,
the item half-step and one ALS sweep; and its questions."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.als import ALS, update_items, update_users
from mfteach.data import toy
from mfteach.ratings import Ratings

LESSON = "06_alternating_least_squares"
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
    assert "not written yet" in capsys.readouterr().out


def test_the_solution_solves_rather_than_inverts(capsys):
    ex.solution(NAME)
    assert "np.linalg.solve(A, b)" in capsys.readouterr().out


def test_all_of_V_instead_of_the_rated_rows_is_named_although_it_crashes(capsys):
    """numpy's gufunc message alone does not say what is wrong: the diagnosis does."""
    def user_update(V, rated_items, ratings_of_user, reg):
        A = V.T @ V + reg * np.eye(V.shape[1])
        return np.linalg.solve(A, V.T @ ratings_of_user)

    assert ex.check(NAME, user_update) is False
    out = capsys.readouterr().out
    assert "matmul" in out and "V[rated_items]" in out and "You used all of V" in out


# ============================================================================ item_half_step
@pytest.mark.parametrize("j", range(5))
def test_item_half_step_is_the_packages_and_zeroes_every_items_gradient(j):
    R, U, reg = ex.EXERCISES["item_half_step"].cases()[j]
    V = ex.EXERCISES["item_half_step"].reference(R, U, reg)
    np.testing.assert_allclose(V, update_items(R, U, reg), rtol=1e-9, atol=1e-12)
    # gradient of L with respect to V, with U fixed: -2 E^T U + 2 lambda V (E: residuals on Omega, 0 elsewhere)
    E = np.nan_to_num(R.to_dense() - U @ V.T, nan=0.0)
    np.testing.assert_allclose(-2 * E.T @ U + 2 * reg * V, 0, atol=1e-9)


def test_item_half_step_cases_hold_an_item_nobody_rated_and_one_with_fewer_ratings_than_k():
    for R, U, reg in ex.EXERCISES["item_half_step"].cases()[1:]:
        counts = R.item_counts()
        assert counts[-1] == 0 and counts[0] < max(U.shape[1], 2)
        np.testing.assert_array_equal(ex.EXERCISES["item_half_step"].reference(R, U, reg)[-1], 0)


def test_the_transpose_trick_passes_item_half_step(capsys):
    """Another correct route: the user half-step of R^T with U in V's place."""
    def item_half_step(R, U, reg):
        R_T = Ratings(R.cols, R.rows, R.values, shape=R.shape[::-1])
        return update_users(R_T, U, reg)

    assert ex.check("item_half_step", item_half_step) is True


# ============================================================================ als_sweep
@pytest.mark.parametrize("j", range(4))
def test_als_sweep_is_one_iteration_of_mt_ALS_and_its_objective(j):
    R, U, V, reg = ex.EXERCISES["als_sweep"].cases()[j]
    U_new, V_new, loss = ex.EXERCISES["als_sweep"].reference(R, U, V, reg)
    model = ALS(rank=U.shape[1], reg=reg, n_iters=1).fit(R, init=(U, V))
    np.testing.assert_allclose(U_new, model.U_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(V_new, model.V_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(loss, model.objective(), rtol=1e-12)
    # the objective by a plain dense computation, and that the sweep did not raise it
    dense = R.to_dense()
    known = ~np.isnan(dense)

    def objective(U, V):
        return np.sum(((dense - U @ V.T)[known]) ** 2) + reg * (np.sum(U ** 2) + np.sum(V ** 2))

    np.testing.assert_allclose(loss, objective(U_new, V_new), rtol=1e-12)
    # the item half-step minimizes over V whatever V was, so compare with the best V for the old U
    assert loss <= objective(U, update_items(R, U, reg)) + 1e-9


def test_fifty_sweeps_are_mt_ALS():
    R = Ratings.from_dense(toy("lecture_R"))
    U, V = np.random.default_rng(0).normal(0.0, 0.1, (4, 2)), np.zeros((6, 2))
    for _ in range(50):
        U, V, loss = ex.EXERCISES["als_sweep"].reference(R, U, V, 0.1)
    model = ALS(rank=2, reg=0.1, n_iters=50, seed=0).fit(R)
    np.testing.assert_allclose(U, model.U_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(loss / len(R), model.history_["loss"].iloc[-1], rtol=1e-10)


# ============================================================================ questions
def test_exercises_and_questions_of_the_lesson():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["user_update", "item_half_step",
                                                                                  "als_sweep"]
    names = [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON]
    assert names == ["q06_users_independent", "q06_few_ratings", "q06_global_minimum"]


def test_few_ratings_question_matches_the_mathematics():
    """The claim of q06_few_ratings: rank of V_O^T V_O <= |Omega_u| = 3 < k = 10, and + lambda I lifts every
    eigenvalue to >= lambda."""
    V_O, reg = np.random.default_rng(5).normal(size=(3, 10)), 0.5
    gram = V_O.T @ V_O
    assert np.linalg.matrix_rank(gram) == 3
    assert np.linalg.eigvalsh(gram + reg * np.eye(10)).min() >= reg - 1e-12
