"""Lesson 11's exercises (11_implicit_cg_and_ranking, registered by ``mfteach.exercises.lesson11``):
conjugate gradients warm-started as in Takacs et al. 2011, and the validation choice of lambda on MovieLens;
and the lesson's questions."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from mfteach.widgets.implicit_explorer import implicit_grid

LESSON = "11_implicit_cg_and_ranking"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_two_exercises_in_its_order_and_two_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["cg_iterates", "implicit_best_reg"]
    assert [q for q, question in ex.QUESTIONS.items() if question.lesson == LESSON] == [
        "q11_cg_warm_start", "q11_play_counts"]


# ============================================================================ cg_iterates
CG = "cg_iterates"


def _spd(rng, k):
    M = rng.normal(size=(k, k))
    return M @ M.T + k * np.eye(k)


def test_cg_reaches_the_solution_in_k_steps_and_its_residuals_are_orthogonal():
    rng = np.random.default_rng(5)
    for k in (2, 5, 9):
        A, b, x0 = _spd(rng, k), rng.normal(size=k), rng.normal(size=k)
        xs = ex.EXERCISES[CG].reference(lambda z: A @ z, b, x0, k)
        assert xs.shape == (k + 1, k)
        np.testing.assert_array_equal(xs[0], x0)
        np.testing.assert_allclose(xs[-1], np.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
        residuals = b - xs[:-1] @ A            # r_j = b - A x_j (A symmetric), j < k
        gram = residuals @ residuals.T
        scale = np.sqrt(np.outer(np.diag(gram), np.diag(gram)))
        np.testing.assert_allclose((gram / scale)[~np.eye(k, dtype=bool)], 0, atol=1e-7)


def test_cg_first_step_is_the_exact_line_search_along_the_residual():
    rng = np.random.default_rng(6)
    A, b, x0 = _spd(rng, 4), rng.normal(size=4), rng.normal(size=4)
    r = b - A @ x0
    x1 = ex.EXERCISES[CG].reference(lambda z: A @ z, b, x0, 1)[1]
    np.testing.assert_allclose(x1, x0 + (r @ r) / (r @ A @ r) * r, rtol=1e-12)


def test_cg_error_in_the_A_norm_never_grows():
    rng = np.random.default_rng(8)
    A, b = _spd(rng, 12), rng.normal(size=12)
    exact = np.linalg.solve(A, b)
    errors = [(x - exact) @ A @ (x - exact) for x in ex.EXERCISES[CG].reference(lambda z: A @ z, b, np.zeros(12), 12)]
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in zip(errors, errors[1:]))


def test_cg_is_the_packages_warm_started_cg_solver():
    """mt.ImplicitALS(solver="cg", n_iters=1): each v_i is cg_steps CG steps on the item's system,
    started from the initial V; then each u_u the same from the initial U, with the new V."""
    rng = np.random.default_rng(9)
    m, n, k, reg, alpha, steps = 6, 9, 3, 0.4, 3.0, 2
    R = rng.integers(1, 3, size=(m, n)).astype(float)
    R[rng.random((m, n)) < 0.5] = np.nan
    R[:, 0], R[0, :] = 1.0, 1.0
    ratings = mt.Ratings.from_dense(R)
    model = mt.ImplicitALS(rank=k, reg=reg, alpha=alpha, n_iters=1, solver="cg", cg_steps=steps, seed=3).fit(ratings)
    init = np.random.default_rng(3)
    U0, V0 = init.random((m, k)) * 0.01, init.random((n, k)) * 0.01   # as mt.ImplicitALS starts
    cg = ex.EXERCISES[CG].reference

    def solve_all(F, start, weights):            # weights: (rows, n_features) matrix of r, NaN = none
        out = []
        for row, x0 in zip(weights, start):
            on = ~np.isnan(row)
            c = np.where(on, 1 + alpha * np.nan_to_num(row), 1.0)
            A = F.T @ (c[:, None] * F) + reg * np.eye(k)
            out.append(cg(lambda z: A @ z, F.T @ (c * on), x0, steps)[-1])
        return np.array(out)

    V1 = solve_all(U0, V0, R.T)
    np.testing.assert_allclose(V1, model.V_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(solve_all(V1, U0, R), model.U_, rtol=1e-8, atol=1e-12)


# ============================================================================ implicit_best_reg
BEST = "implicit_best_reg"


def test_best_reg_on_movielens_agrees_with_the_explorers_grid_and_alpha_40_needs_more_lambda(ml100k):
    """The reference's answer for alpha = 40 is the best validation nDCG@10 of implicit_grid (the
    explorer's code path, mt.metrics.ranking_report), and it is larger than the best lambda for
    alpha = 1: the effective penalty is about lambda / (1 + alpha). The synthetic case's answer is
    not in the MovieLens grid and vice versa, so no constant passes both."""
    exercise = ex.EXERCISES[BEST]
    small, (fit, valid, alpha, regs) = exercise.cases()
    assert alpha == 40.0 and fit.shape == (943, 1682) and small[0].shape[0] < 100
    implicit = ml100k.with_values(np.ones(len(ml100k)))
    train, test = implicit.split(how="leave_one_out", seed=0)
    np.testing.assert_array_equal(fit.rows, train.split(how="leave_one_out", seed=1)[0].rows)
    assert len(test) == len(valid) == 943
    grid = implicit_grid(fit, valid, alphas=(1.0, 40.0), regs=regs, rank=24, n_iters=6, solver="cg", cg_steps=3)
    ndcg = grid.metric("ndcg")                      # alpha x lambda
    best_40 = exercise.reference(fit, valid, alpha, regs)
    assert best_40 == regs[int(np.argmax(ndcg[1]))]
    assert best_40 > regs[int(np.argmax(ndcg[0]))]
    best_small = exercise.reference(*small)
    assert best_small in small[3] and best_small not in regs and best_40 not in small[3]


# ============================================================================ questions
@pytest.mark.parametrize("name, right", [("q11_cg_warm_start", 1), ("q11_play_counts", 1)])
def test_choice_questions(name, right, capsys):
    question = ex.QUESTIONS[name]
    assert ex.answer(name, right) is True
    for j in range(len(question.choices)):
        if j != right:
            assert ex.answer(name, j) is False
            assert question.feedback[j] in capsys.readouterr().out
