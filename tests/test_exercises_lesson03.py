"""Lesson 03's exercises and questions (03_rank1_conflicts_and_noise): each reference against an
independent computation (fit_rank1, numpy.linalg.lstsq, a plain loop), the find-out on MovieLens,
mistakes written the way a learner writes them get their diagnosis, and the bridges question is
what complete_rank1 finds."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.completion import complete_rank1, fit_rank1
from mfteach.data import toy
from mfteach.exercises import lesson03

LESSON = "03_rank1_conflicts_and_noise"
NAMES = ["als_rank1", "worst_fit_user"]  # in the lesson's order
QUESTIONS = ["q03_bridges", "q03_single_rating", "q03_noise_least_squares"]

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == NAMES
    assert [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON] == QUESTIONS


# ---------------------------------------------------------------------------- als_rank1 (the key algorithm)
def _loss(M, a, b):
    known = ~np.isnan(M)
    return float(np.sum((M - np.outer(a, b))[known] ** 2))


@pytest.mark.parametrize("j", range(6))
def test_each_half_step_is_the_least_squares_solution(j):
    """Row i's update is lstsq of b over the known j of row i; column j's likewise with the new a."""
    M, b0, n_sweeps = ex.EXERCISES["als_rank1"].cases()[j]
    reference = ex.EXERCISES["als_rank1"].reference
    a_prev, b_prev = reference(M, b0, n_sweeps - 1) if n_sweeps > 1 else (None, b0)
    a, b = reference(M, b0, n_sweeps)
    known = ~np.isnan(M)
    for i in range(M.shape[0]):
        cols = known[i]
        lstsq = np.linalg.lstsq(b_prev[cols, None], M[i, cols], rcond=None)[0][0]
        assert a[i] == pytest.approx(lstsq, rel=1e-10)
    for jj in range(M.shape[1]):
        rows = known[:, jj]
        lstsq = np.linalg.lstsq(a[rows, None], M[rows, jj], rcond=None)[0][0]
        assert b[jj] == pytest.approx(lstsq, rel=1e-10)


def test_the_loss_never_increases_from_sweep_to_sweep():
    M, b0, _ = ex.EXERCISES["als_rank1"].cases()[4]
    losses = [_loss(M, *ex.EXERCISES["als_rank1"].reference(M, b0, s)) for s in range(1, 15)]
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in zip(losses, losses[1:]))


def test_als_rank1_from_fit_rank1s_start_is_fit_rank1():
    """fit_rank1 starts from b ~ Uniform(0.5, 1.5) (seed 0), sweeps n_iters times and rescales."""
    M, _, _ = ex.EXERCISES["als_rank1"].cases()[4]
    fit = fit_rank1(M)
    b0 = np.random.default_rng(0).uniform(0.5, 1.5, size=M.shape[1])
    a, b = ex.EXERCISES["als_rank1"].reference(M, b0, fit.n_iters)
    np.testing.assert_allclose(np.outer(a, b), fit.completed, rtol=1e-10)
    np.testing.assert_allclose(a / a[0], fit.a, rtol=1e-10)


def test_als_rank1_loops_pass(capsys):
    def als_rank1(M, b, n_sweeps):
        m, n = M.shape
        b = b.copy()
        a = np.zeros(m)
        for _ in range(n_sweeps):
            for i in range(m):
                js = [j for j in range(n) if not np.isnan(M[i, j])]
                a[i] = sum(M[i, j] * b[j] for j in js) / sum(b[j] ** 2 for j in js)
            for j in range(n):
                is_ = [i for i in range(m) if not np.isnan(M[i, j])]
                b[j] = sum(M[i, j] * a[i] for i in is_) / sum(a[i] ** 2 for i in is_)
        return a, b

    assert ex.check("als_rank1", als_rank1) is True


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda M, b, n_sweeps: lesson03._als_wrong(np.where(np.isnan(M), 0, M), b, n_sweeps), "KNOWN entries"),
        (lambda M, b, n_sweeps: lesson03._als_wrong(M, b, n_sweeps, power=1), "squares"),
    ],
    ids=["zeros-count", "no-square"],
)
def test_als_mistakes_get_their_diagnosis(wrong, phrase, capsys):
    with np.errstate(all="ignore"):
        assert ex.check("als_rank1", wrong) is False
    assert phrase in capsys.readouterr().out


# ---------------------------------------------------------------------------- worst_fit_user (the find-out)
def _worst_by_loop(M):
    completed = fit_rank1(M).completed
    worst, worst_rmse = None, -1.0
    for u in range(M.shape[0]):
        errors = [(M[u, i] - completed[u, i]) ** 2 for i in range(M.shape[1]) if not np.isnan(M[u, i])]
        rmse = np.sqrt(sum(errors) / len(errors))
        if rmse > worst_rmse:
            worst, worst_rmse = u, rmse
    return worst


def test_worst_fit_user_is_a_plain_loop_over_the_users():
    for (M,) in ex.EXERCISES["worst_fit_user"].cases():
        assert ex.EXERCISES["worst_fit_user"].reference(M) == _worst_by_loop(M)


def test_worst_fit_user_finds_the_planted_users():
    """Case 1: user 3 (index 2) has one entry far off the rank-1 pattern; case 4: row 7's entries were
    all multiplied by random factors. Both are found."""
    cases = ex.EXERCISES["worst_fit_user"].cases()
    assert ex.EXERCISES["worst_fit_user"].reference(*cases[0]) == 2
    assert ex.EXERCISES["worst_fit_user"].reference(*cases[3]) == 7


def test_worst_fit_user_runs_on_the_lessons_movielens_block(ml100k):
    (M,) = ex.EXERCISES["worst_fit_user"].cases()[1]
    block = ml100k.top(200, 100)
    np.testing.assert_array_equal(M, block.to_dense())
    u = ex.EXERCISES["worst_fit_user"].reference(M)
    rmse = np.sqrt(np.nanmean((M - fit_rank1(M).completed) ** 2, axis=1))
    assert rmse[u] == rmse.max() and rmse[u] > 1.5 * np.median(rmse)


# ---------------------------------------------------------------------------- questions
def test_the_bridges_of_example_9_2_5_are_what_the_question_says():
    """Delete each known entry in turn: the bridges are exactly those whose deletion leaves the
    matrix not completable."""
    M = toy("book_9.2.5")
    bridges = []
    for i, j in zip(*np.nonzero(~np.isnan(M))):
        smaller = M.copy()
        smaller[i, j] = np.nan
        if not complete_rank1(smaller).complete:
            bridges.append(f"M_{{{i + 1}{j + 1}}}")
    question = ex.QUESTIONS["q03_bridges"]
    right = question.choices[question.answer]
    assert bridges == ["M_{14}", "M_{31}", "M_{33}", "M_{41}"]
    assert all(b in right for b in bridges) and right.count("M_") == len(bridges)
