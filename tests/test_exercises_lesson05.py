"""Lesson 05's exercises and questions (stochastic gradient descent: a column-sampling step and an
epoch of mini-batches): each reference is checked against the package's own sampled steps, an exact
average over all samples and a full gradient step, and mistakes written the way a learner writes
them get their diagnosis."""

import itertools

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.gd import GradientDescent, gradient, sampled_step
from mfteach.ratings import Ratings

LESSON = "05_stochastic_gradient_descent"
NAMES = ["column_step", "minibatch_epoch"]
column_step = ex.EXERCISES["column_step"].reference
minibatch_epoch = ex.EXERCISES["minibatch_epoch"].reference

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions_in_order():
    mine = [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON]
    assert mine == NAMES
    questions = [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON]
    assert questions == ["q05_rows_or_columns", "q05_ratio_estimate", "q05_loss_jumps"]


# ============================================================================ column_step
def _package_column_step(R, U, V, reg, lr, C):
    """The package's own sampled step (mfteach.gd) on the entries of the columns C."""
    ratings = Ratings.from_dense(R)
    idx = ratings.by_item.entries(np.asarray(C))
    p = sampled_step(ratings, U, V, idx, R.shape[1] / (len(C) * len(ratings)), lr, reg)
    return p.U, p.V


@pytest.mark.parametrize("j", range(5))
def test_column_step_is_the_packages_column_sampling_step(j):
    case = ex.EXERCISES["column_step"].cases()[j]
    for mine, package in zip(column_step(*case), _package_column_step(*case)):
        np.testing.assert_allclose(mine, package, rtol=1e-12, atol=1e-14)


def test_column_step_is_unbiased_exactly():
    """Averaged over ALL column subsets of a given size, the step is a full gradient step."""
    R, U, V, reg, lr, _ = ex.EXERCISES["column_step"].cases()[2]   # 6 x 8
    grad_U, grad_V = gradient(Ratings.from_dense(R), U, V, reg=reg)
    subsets = list(itertools.combinations(range(R.shape[1]), 3))
    mean_U = np.mean([column_step(R, U, V, reg, lr, np.array(C))[0] for C in subsets], axis=0)
    mean_V = np.mean([column_step(R, U, V, reg, lr, np.array(C))[1] for C in subsets], axis=0)
    np.testing.assert_allclose(mean_U, U - lr * grad_U, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean_V, V - lr * grad_V, rtol=1e-10, atol=1e-12)
    # and a single subset is NOT the full step (the estimate is noisy)
    one_U, _ = column_step(R, U, V, reg, lr, np.array(subsets[0]))
    assert not np.allclose(one_U, U - lr * grad_U)


def test_column_step_with_every_column_is_a_full_step():
    R, U, V, reg, lr, _ = ex.EXERCISES["column_step"].cases()[4]
    new_U, new_V = column_step(R, U, V, reg, lr, np.arange(R.shape[1]))
    grad_U, grad_V = gradient(Ratings.from_dense(R), U, V, reg=reg)
    np.testing.assert_allclose(new_U, U - lr * grad_U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_V, V - lr * grad_V, rtol=1e-12, atol=1e-14)


def _column_learner_versions():
    def no_rescale(R, U, V, reg, lr, C):
        known = ~np.isnan(R)
        E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0)
        share = known[:, C].sum(1) / known.sum(1)
        gU = 2 * (-E @ V[C] + reg * share[:, None] * U) / known.sum()
        gV = np.zeros_like(V)
        gV[C] = 2 * (-E.T @ U + reg * V[C]) / known.sum()
        return U - lr * gU, V - lr * gV

    def u_first(R, U, V, reg, lr, C):
        known = ~np.isnan(R)
        scale = R.shape[1] / len(C) / known.sum()
        E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0)
        share = known[:, C].sum(1) / known.sum(1)
        U = U - lr * 2 * scale * (-E @ V[C] + reg * share[:, None] * U)
        E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0)    # residuals again, with the new U
        V = V.copy()
        V[C] -= lr * 2 * scale * (-E.T @ U + reg * V[C])
        return U, V

    def whole_penalty(R, U, V, reg, lr, C):
        known = ~np.isnan(R)
        scale = R.shape[1] / len(C) / known.sum()
        E = np.where(known[:, C], R[:, C] - U @ V[C].T, 0)
        gU = 2 * scale * (-E @ V[C] + reg * U)
        gV = np.zeros_like(V)
        gV[C] = 2 * scale * (-E.T @ U + reg * V[C])
        return U - lr * gU, V - lr * gV

    return [(no_rescale, "n/|C|"), (u_first, "NEW U"), (whole_penalty, "whole penalty")]


@pytest.mark.parametrize("wrong, phrase", _column_learner_versions(), ids=lambda x: getattr(x, "__name__", ""))
def test_column_step_mistakes_get_their_diagnosis(wrong, phrase, capsys):
    assert ex.check("column_step", wrong) is False
    assert phrase in capsys.readouterr().out


# ============================================================================ minibatch_epoch
@pytest.mark.parametrize("j", range(5))
def test_minibatch_epoch_is_one_epoch_of_the_package(j):
    """mt.GradientDescent(sampling="minibatch") shuffles with rng.permutation of its seed."""
    ratings, U, V, reg, lr, _, batch_size = ex.EXERCISES["minibatch_epoch"].cases()[j]
    seed = 10 + j
    order = np.random.default_rng(seed).permutation(len(ratings))
    model = GradientDescent(rank=U.shape[1], lr=lr, reg=reg, n_epochs=1, sampling="minibatch",
                            sample_size=min(batch_size, len(ratings)), seed=seed).fit(ratings, init=(U, V))
    new_U, new_V = minibatch_epoch(ratings, U, V, reg, lr, order, batch_size)
    np.testing.assert_allclose(new_U, model.U_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_V, model.V_, rtol=1e-12, atol=1e-14)


def test_minibatch_epoch_with_one_batch_is_a_full_step():
    ratings, U, V, reg, lr, order, _ = ex.EXERCISES["minibatch_epoch"].cases()[3]
    new_U, new_V = minibatch_epoch(ratings, U, V, reg, lr, order, len(ratings))
    grad_U, grad_V = gradient(ratings, U, V, reg=reg)
    np.testing.assert_allclose(new_U, U - lr * grad_U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_V, V - lr * grad_V, rtol=1e-12, atol=1e-14)


def test_minibatch_epoch_leaves_its_inputs_alone():
    ratings, U, V, reg, lr, order, size = ex.EXERCISES["minibatch_epoch"].cases()[1]
    U0, V0 = U.copy(), V.copy()
    minibatch_epoch(ratings, U, V, reg, lr, order, size)
    np.testing.assert_array_equal(U, U0)
    np.testing.assert_array_equal(V, V0)


def _minibatch_learner_versions():
    def fancy_assign(ratings, U, V, reg, lr, order, batch_size):
        U, V = U.copy(), V.copy()
        nu, ni = ratings.user_counts(), ratings.item_counts()
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            u, i = ratings.rows[b], ratings.cols[b]
            e = ratings.values[b] - (U[u] * V[i]).sum(1)
            gu = -2 * e[:, None] * V[i] + 2 * reg / nu[u][:, None] * U[u]
            gv = -2 * e[:, None] * U[u] + 2 * reg / ni[i][:, None] * V[i]
            U[u] -= lr * gu / len(b)
            V[i] -= lr * gv / len(b)
        return U, V

    def fixed_size(ratings, U, V, reg, lr, order, batch_size):
        U, V = U.copy(), V.copy()
        nu, ni = ratings.user_counts(), ratings.item_counts()
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            u, i = ratings.rows[b], ratings.cols[b]
            e = ratings.values[b] - (U[u] * V[i]).sum(1)
            gu = -2 * e[:, None] * V[i] + 2 * reg / nu[u][:, None] * U[u]
            gv = -2 * e[:, None] * U[u] + 2 * reg / ni[i][:, None] * V[i]
            np.add.at(U, u, -lr * gu / batch_size)
            np.add.at(V, i, -lr * gv / batch_size)
        return U, V

    def full_batches_only(ratings, U, V, reg, lr, order, batch_size):
        U, V = U.copy(), V.copy()
        nu, ni = ratings.user_counts(), ratings.item_counts()
        for t in range(len(order) // batch_size):
            b = order[t * batch_size:(t + 1) * batch_size]
            u, i = ratings.rows[b], ratings.cols[b]
            e = ratings.values[b] - (U[u] * V[i]).sum(1)
            gu = -2 * e[:, None] * V[i] + 2 * reg / nu[u][:, None] * U[u]
            gv = -2 * e[:, None] * U[u] + 2 * reg / ni[i][:, None] * V[i]
            np.add.at(U, u, -lr * gu / len(b))
            np.add.at(V, i, -lr * gv / len(b))
        return U, V

    return [(fancy_assign, "np.add.at"), (fixed_size, "len(batch)"), (full_batches_only, "last, shorter batch")]


@pytest.mark.parametrize("wrong, phrase", _minibatch_learner_versions(), ids=lambda x: getattr(x, "__name__", ""))
def test_minibatch_mistakes_get_their_diagnosis(wrong, phrase, capsys):
    assert ex.check("minibatch_epoch", wrong) is False
    assert phrase in capsys.readouterr().out


# ============================================================================ the stubs and the questions
STUBS = {
    "column_step": "def column_step(R, U, V, reg, lr, C):\n    raise NotImplementedError(\"your turn\")\n",
    "minibatch_epoch": ("def minibatch_epoch(ratings, U, V, reg, lr, order, batch_size):\n"
                        "    raise NotImplementedError(\"your turn\")\n"),
}


@pytest.mark.parametrize("name", STUBS)
def test_a_stub_is_not_written_yet(name, shell, capsys):
    shell.run_cell_magic("check", name, STUBS[name])
    assert "not written yet" in capsys.readouterr().out
