"""Lesson 13's exercises and questions (13_retraining_and_hypothesis_1, registered by
``mfteach.exercises.lesson13``): the best re-rating against brute force on MovieLens, Appendix A's linearized
changes against re-fitting u_u and v_i (eq. (5)), and the lesson-specific diagnoses."""


import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from fatrec_reference import prediction_after_user_step

LESSON = "13_retraining_and_hypothesis_1"
LIN = "linearized_changes"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_two_exercises_in_its_order_and_two_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["best_rerating", LIN]
    assert [q for q, question in ex.QUESTIONS.items() if question.lesson == LESSON] == [
        "q13_appendix_a_ratio", "q13_small_service"]


# ============================================================================ best_rerating
def _brute_force_rerating(model, ratings, user, item):
    """Every past rating set to every value 1..5, the user's half-step re-solved: the best one."""
    rated = ratings.cols[ratings.rows == user]
    r_O = ratings.values[ratings.rows == user]
    now = prediction_after_user_step(model, rated, r_O, item)
    best, gain = None, -np.inf
    for j in range(len(rated)):
        for stars in range(1, 6):
            changed = r_O.copy()
            changed[j] = stars
            g = prediction_after_user_step(model, rated, changed, item) - now
            if g > gain + 1e-12:
                best, gain = (int(rated[j]), stars), g
    return best


def test_best_rerating_is_the_brute_force_answer_on_every_case():
    exercise = ex.EXERCISES["best_rerating"]
    cases = exercise.cases()
    assert cases[1][1].shape == (650, 50)                 # real MovieLens, unbiased and biased
    assert not cases[1][0].biased and cases[2][0].biased
    for case in cases:
        assert exercise.reference(*case) == _brute_force_rerating(*case)
    assert len({exercise.reference(*case) for case in cases}) >= 3   # no hard-coded answer passes


def test_on_the_lessons_model_the_best_rerating_is_not_the_largest_influence(fatrec_lesson_model):
    """What the lesson asks the learner to find out: for user 325 and Terminator 2 the largest
    influence (L.A. Confidential, already 5 stars) cannot raise the prediction; another movie can."""
    model, ratings, t2 = fatrec_lesson_model
    frame = mt.explain.influence(model, ratings, 325, t2)
    best = ex.EXERCISES["best_rerating"].reference(model, ratings, 325, t2)
    assert best == _brute_force_rerating(model, ratings, 325, t2)
    assert frame["rating"].iloc[0] == 5 and frame["influence"].iloc[0] > 0
    assert best[0] != frame["item"].iloc[0]


def test_best_rerating_naive_answer_is_explained(capsys):
    def best_rerating(model, ratings, user, item):
        frame = mt.explain.influence(model, ratings, user, item)
        k = frame["influence"].abs().idxmax()
        return int(frame.loc[k, "item"]), (5 if frame.loc[k, "influence"] > 0 else 1)

    assert ex.check("best_rerating", best_rerating) is False
    assert "largest |influence|" in capsys.readouterr().out


# ============================================================================ linearized_changes
def _refit_pair(R, U, V, user, item, epsilon, reg, sweeps=400):
    """Eq. (5) done exactly: r_ui += epsilon, then only u_u and v_i re-fitted, each to its own ridge
    problem over its whole row / column, in turn until they stop moving."""
    k = U.shape[1]
    R = R.copy()
    R[user, item] += epsilon
    u_u, v_i = U[user].copy(), V[item].copy()
    V_new, U_new = V.copy(), U.copy()
    for _ in range(sweeps):
        V_new[item] = v_i
        u_u = np.linalg.solve(V_new.T @ V_new + reg * np.eye(k), V_new.T @ R[user])
        U_new[user] = u_u
        v_i = np.linalg.solve(U_new.T @ U_new + reg * np.eye(k), U_new.T @ R[:, item])
    return u_u - U[user], v_i - V[item]


def _minimum(m, n, rank, reg, seed, noise=0.1):
    from mfteach.explain.experiments import fully_observed_minimizer

    data, _, _ = mt.synthetic(m, n, rank, 1.0, noise=noise, seed=seed)
    R = data.to_dense()
    return R, *fully_observed_minimizer(R, rank, reg)


def test_linearized_cases_are_synthetic_and_varied():
    cases = ex.EXERCISES[LIN].cases()
    shapes = [(U.shape[0], V.shape[0], U.shape[1]) for U, V, *_ in cases]
    assert any(m > n for m, n, _ in shapes) and any(m < n for m, n, _ in shapes) and any(k == 1 for *_, k in shapes)
    assert any(eps < 0 for *_, eps, _ in cases) and all(reg > 0 for *_, reg in cases)


@pytest.mark.parametrize("m, n, reg", [(400, 20, 0.0), (400, 20, 1.0), (20, 400, 0.5)])
def test_linearized_changes_match_the_refit_to_first_order(m, n, reg):
    """For a small epsilon the re-fit of u_u and v_i (eq. (5)) and the linearized equations agree; what the
    linearization drops (residual times change) shrinks with the noise. The residual's change delta agrees too."""
    R, U, V = _minimum(m, n, 3, reg, seed=2, noise=0.01)
    user, item, eps = 3, 5, 1e-3
    du, dv = _refit_pair(R, U, V, user, item, eps, reg)
    lin_du, lin_dv = ex.EXERCISES[LIN].reference(U, V, user, item, eps, reg)
    np.testing.assert_allclose(lin_du, du, rtol=0.02, atol=1e-12)
    np.testing.assert_allclose(lin_dv, dv, rtol=0.02, atol=1e-12)
    delta = eps - (U[user] + du) @ (V[item] + dv) + U[user] @ V[item]
    assert eps - V[item] @ lin_du - U[user] @ lin_dv == pytest.approx(delta, rel=1e-3)


def test_linearized_changes_point_along_the_other_vector_and_give_the_count_ratio():
    """Many more users than items: Delta u_u is nearly parallel to (V_o^T V_o)^{-1} v_i, and the lengths
    follow Appendix A's (m - 1) / (n - 1) up to the vectors' own lengths."""
    R, U, V = _minimum(2000, 40, 4, 0.0, seed=0)
    du, dv = ex.EXERCISES[LIN].reference(U, V, 0, 0, 0.1, 0.0)
    V_o, U_o = np.delete(V, 0, axis=0), np.delete(U, 0, axis=0)
    x, y = np.linalg.solve(V_o.T @ V_o, V[0]), np.linalg.solve(U_o.T @ U_o, U[0])
    assert abs(du @ x) / (np.linalg.norm(du) * np.linalg.norm(x)) == pytest.approx(1.0, abs=1e-12)
    assert abs(dv @ y) / (np.linalg.norm(dv) * np.linalg.norm(y)) == pytest.approx(1.0, abs=1e-12)
    assert np.linalg.norm(du) / np.linalg.norm(dv) > 20


def test_linearized_delta_equal_to_epsilon_is_named(capsys):
    def linearized_changes(U, V, user, item, epsilon, reg):
        k = U.shape[1]
        V_o, U_o = np.delete(V, item, axis=0), np.delete(U, user, axis=0)
        du = np.linalg.inv(V_o.T @ V_o + reg * np.eye(k)) @ V[item] * epsilon
        dv = np.linalg.inv(U_o.T @ U_o + reg * np.eye(k)) @ U[user] * epsilon
        return du, dv

    assert ex.check(LIN, linearized_changes) is False
    assert "You used δ = ε" in capsys.readouterr().out


def test_linearized_other_ways_pass(capsys):
    """Deleting the other rows instead of subtracting an outer product, and delta written as epsilon minus
    the prediction's first-order change, pass."""
    def with_deleted_rows(U, V, user, item, epsilon, reg):
        k = U.shape[1]
        V_o, U_o = np.delete(V, item, axis=0), np.delete(U, user, axis=0)
        x = np.linalg.solve(V_o.T @ V_o + reg * np.eye(k), V[item])
        y = np.linalg.solve(U_o.T @ U_o + reg * np.eye(k), U[user])
        delta = epsilon - (V[item] @ x + U[user] @ y) * epsilon / (1 + V[item] @ x + U[user] @ y)
        return delta * x, delta * y

    assert ex.check(LIN, with_deleted_rows) is True
    assert "✅" in capsys.readouterr().out


# ============================================================================ questions

def test_the_small_service_answer_is_appendix_a_ratio(capsys):
    m, n = 50, 200
    assert ex.answer("q13_small_service", f"({m} - 1) / ({n} - 1)") is True
    assert ex.answer("q13_appendix_a_ratio", "(m-1)/(n-1)") is True
    assert ex.answer("q13_appendix_a_ratio", "m/n") is False
    assert "rough version" in capsys.readouterr().out
