"""Lesson 12's exercises and questions (12_influence_and_impact, registered by ``mfteach.exercises.lesson12``):
the mathematics of the references, checked against independent computations (re-solving the user's ridge
problem, lstsq), and the lesson-specific diagnoses."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from mfteach.data import toy
from mfteach.explain import influence_matrix
from fatrec_reference import user_solution

NAME = "influence_matrix_of_user"
LESSON = "12_influence_and_impact"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.fixture
def exercise():
    return ex.EXERCISES[NAME]


def test_the_lesson_has_three_exercises_in_its_order_and_three_questions():
    names = [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON]
    assert names == ["predicted_change", NAME, "biased_impacts"]
    assert [q for q, question in ex.QUESTIONS.items() if question.lesson == LESSON] == [
        "q12_same_rated_set", "q12_impact_is_influence", "q12_leverage_sum"]


# ============================================================================ predicted_change
def test_predicted_change_is_the_change_after_re_solving_the_user():
    """Bump one rating by epsilon, re-solve the user's ridge problem with V fixed: every prediction
    moves by what predicted_change says, for shuffled rated items."""
    reference = ex.EXERCISES["predicted_change"].reference
    rng = np.random.default_rng(1)
    for n, k, count, reg in [(6, 2, 3, 0.1), (15, 3, 8, 0.7), (30, 5, 20, 2.0)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)
        r = rng.integers(1, 6, size=count).astype(float)
        J = ex.EXERCISES[NAME].reference(V, rated, reg)
        for position in (0, count - 1):
            epsilon = float(rng.normal(0, 2))
            bumped = r.copy()
            bumped[position] += epsilon
            change = V @ (user_solution(V, rated, bumped, reg) - user_solution(V, rated, r, reg))
            np.testing.assert_allclose(reference(J, rated, int(rated[position]), epsilon), change,
                                       rtol=1e-8, atol=1e-10)


def test_predicted_change_first_case_punishes_the_item_number_as_column(capsys):
    J, rated, changed, epsilon = ex.EXERCISES["predicted_change"].cases()[0]
    assert changed >= J.shape[1]          # item 3 of a 3-column J: the typical mistake crashes
    assert list(rated).index(changed) != changed

    def predicted_change(J, rated_items, changed_item, epsilon):
        return J[:, changed_item] * epsilon

    assert ex.check("predicted_change", predicted_change) is False
    assert "You used changed_item itself as the column number" in capsys.readouterr().out


def test_predicted_change_other_ways_to_find_the_column_pass(capsys):
    def with_index(J, rated_items, changed_item, epsilon):
        return epsilon * J[:, list(rated_items).index(changed_item)]

    def with_basis_vector(J, rated_items, changed_item, epsilon):
        return J @ np.where(rated_items == changed_item, epsilon, 0.0)

    for fn in (with_index, with_basis_vector):
        assert ex.check("predicted_change", fn) is True
    assert capsys.readouterr().out.count("✅") == 2


# ============================================================================ influence_matrix_of_user
def test_first_case_is_the_slides_example(exercise):
    V, rated, reg = exercise.cases()[0]
    np.testing.assert_array_equal(V.T, toy("lecture_Vt"))
    np.testing.assert_array_equal(rated, [0, 3, 5])      # user 0 of the slides' example rated items 0, 3, 5
    assert reg == 0.1


def test_cases_are_shuffled_and_overdetermined(exercise):
    for V, rated, reg in exercise.cases()[1:]:
        n, k = V.shape
        assert k < len(rated) < n and len(set(rated.tolist())) == len(rated) and reg > 0
        assert not np.all(np.diff(rated) > 0)            # the column order matters


@pytest.mark.parametrize("j", range(6))
def test_J_times_any_ratings_is_the_predictions_of_the_user_update(exercise, j):
    """r_hat = V u with u the ridge solution for r (lstsq): J r for every r (linear in r), and
    column k is the change of every prediction per unit change of the k-th rating."""
    V, rated, reg = exercise.cases()[j]
    J = exercise.reference(V, rated, reg)
    assert J.shape == (V.shape[0], len(rated))
    rng = np.random.default_rng(j)
    for _ in range(3):
        r = rng.integers(1, 6, size=len(rated)).astype(float)
        u = user_solution(V, rated, r, reg)
        np.testing.assert_allclose(J @ r, V @ u, rtol=1e-9, atol=1e-12)
        bumped = r.copy()
        bumped[0] += 1.0
        np.testing.assert_allclose(V @ user_solution(V, rated, bumped, reg) - V @ u, J[:, 0], rtol=1e-8, atol=1e-10)


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


def test_the_solution_solves_rather_than_inverts(capsys):
    ex.solution(NAME)
    assert "np.linalg.solve(A, V_O.T)" in capsys.readouterr().out


# ============================================================================ biased_impacts
def _biased_problem(seed):
    rng = np.random.default_rng(seed)
    n, k = 12, 3
    V = rng.normal(size=(n, k))
    rated = rng.choice(n, size=7, replace=False)
    r_O = rng.integers(1, 6, size=7).astype(float)
    return V, rated, r_O, 0.8, 3.5, rng.normal(0, 0.4, size=n)


@pytest.mark.parametrize("seed", range(3))
def test_biased_impacts_add_up_and_are_derivatives_times_residuals(seed):
    """Independent lstsq solution of the biased user step (features (v_i, 1), targets r - mu - c):
    baseline + sum of impacts is its prediction, and impact_k / (r_uk - mu - c_k) is the finite
    difference of the prediction in r_uk."""
    V, rated, r_O, reg, mu, c = _biased_problem(seed)
    F = np.hstack([V, np.ones((len(V), 1))])
    item = int(np.setdiff1d(np.arange(len(V)), rated)[0])

    def prediction(r):
        return mu + c[item] + F[item] @ user_solution(F, rated, r - mu - c[rated], reg)

    baseline, impacts = ex.EXERCISES["biased_impacts"].reference(V, rated, r_O, reg, mu, c, item)
    assert baseline == pytest.approx(mu + c[item])
    assert baseline + impacts.sum() == pytest.approx(prediction(r_O), abs=1e-10)
    for j in range(len(rated)):
        bumped = r_O.copy()
        bumped[j] += 1.0
        beta = prediction(bumped) - prediction(r_O)            # exact: linear in the ratings
        assert impacts[j] == pytest.approx(beta * (r_O[j] - mu - c[rated[j]]), abs=1e-10)


def test_biased_impacts_are_the_packages_for_a_biased_ALS_model():
    rng = np.random.default_rng(3)
    R = np.where(rng.random((30, 12)) < 0.5, rng.integers(1, 6, (30, 12)).astype(float), np.nan)
    ratings = mt.Ratings.from_dense(R)
    model = mt.ALS(rank=3, reg=0.5, n_iters=10, biased=True, seed=0).fit(ratings)
    for user, item in [(0, 1), (5, 11), (29, 4)]:
        rated = ratings.cols[ratings.rows == user]
        r_O = ratings.values[ratings.rows == user]
        baseline, impacts = ex.EXERCISES["biased_impacts"].reference(model.V_, rated, r_O, model.reg, model.mu_,
                                                                     model.item_bias_, item)
        frame = mt.explain.influence(model, ratings, user, item).set_index("item").loc[rated]
        np.testing.assert_allclose(impacts, frame["impact"], rtol=1e-9, atol=1e-12)
        assert baseline == pytest.approx(frame.attrs["baseline"])
        assert baseline + impacts.sum() == pytest.approx(model.predict([user], [item])[0], abs=1e-9)


def test_a_biased_split_without_item_biases_in_the_residuals_is_named(capsys):
    def biased_impacts(V, rated_items, r_O, reg, mu, item_bias, item):
        F = np.c_[V, np.ones(len(V))]
        F_O = F[rated_items]
        beta = F_O @ np.linalg.inv(F_O.T @ F_O + reg * np.eye(V.shape[1] + 1)) @ F[item]
        return mu + item_bias[item], beta * r_O

    assert ex.check("biased_impacts", biased_impacts) is False
    assert "raw ratings" in capsys.readouterr().out


# ============================================================================ questions
def test_the_leverage_question_is_the_trace_of_a_projection_and_the_lessons_numbers(fatrec_lesson_model):
    """q12_leverage_sum: with lambda = 0, sum_k J_kk = rank; its explanation quotes ~3.7 for user 325
    and ~0.6 for Scream (lambda = 1)."""
    rng = np.random.default_rng(0)
    V = rng.normal(size=(30, 4))
    rated = rng.choice(30, size=10, replace=False)
    V_O = V[rated]
    H = V_O @ np.linalg.solve(V_O.T @ V_O, V_O.T)
    assert ex.QUESTIONS["q12_leverage_sum"].answer == pytest.approx(np.trace(H))
    model, ratings, _ = fatrec_lesson_model
    J, items = influence_matrix(model, ratings, 325)
    assert np.trace(J[items]) == pytest.approx(3.7, abs=0.05)
    scream = int(np.flatnonzero(ratings.item_titles[items] == "Scream (1996)")[0])
    assert J[items[scream], scream] == pytest.approx(0.6, abs=0.05)
