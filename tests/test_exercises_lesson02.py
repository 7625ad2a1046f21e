"""Lesson 02's exercises and questions: each reference is checked against an independent
computation (the package's trainer, finite differences, an exact average over all samples),
the find-out finds what the lesson says, and mistakes written the way a learner writes them get
their diagnosis."""

import inspect
import itertools

import numpy as np
import pytest

import mfteach
import mfteach.exercises as ex
from mfteach.exercises import lesson02
from mfteach.gd import GradientDescent, _entries_of_groups, _Problem, _sampled_step, Params, gradient, loss
from mfteach.ratings import Ratings

EXERCISE = ex.EXERCISES["full_gradient"]
NAMES = ["full_gradient", "column_step", "minibatch_epoch", "best_epoch"]

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions_in_order():
    mine = [name for name, e in ex.EXERCISES.items() if e.lesson == "02_gradient_descent"]
    assert mine == NAMES
    questions = [name for name, q in ex.QUESTIONS.items() if q.lesson == "02_gradient_descent"]
    assert len(questions) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_no_hint_contains_a_line_of_the_reference(name):
    exercise = ex.EXERCISES[name]
    source = inspect.getsource(exercise.reference)
    body = source.split('"""')[-1] if '"""' in source else source
    lines = [line.split("#")[0].strip() for line in body.splitlines()]
    lines = [line for line in lines if len(line) > 12 and not line.startswith(("def ", "@"))]
    assert len(exercise.hints) >= 3
    for hint in exercise.hints:
        for line in lines:
            assert line not in hint, (name, line)


# ============================================================================ full_gradient
def test_full_gradient_cases_are_fixed_and_start_with_the_lecture_example():
    first, again = EXERCISE.cases(), EXERCISE.cases()
    R, U, V, reg = first[0]
    np.testing.assert_array_equal(R, mfteach.toy("lecture_R"))
    np.testing.assert_array_equal(U, mfteach.toy("lecture_U"))
    np.testing.assert_array_equal(V, mfteach.toy("lecture_Vt").T)
    assert reg == 0.1
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    shapes = {case[0].shape for case in first}
    assert any(m == n for m, n in shapes) and any(m != n for m, n in shapes)  # swaps show in both ways
    assert any(np.isnan(case[0]).all(axis=1).any() for case in first)  # a user without ratings
    assert any(np.isnan(case[0]).all(axis=0).any() for case in first)  # an item without ratings


@pytest.mark.parametrize("j", range(6))
def test_full_gradient_is_the_package_gradient(j):
    """Dense NaN version == mt.gd.gradient on the sparse Ratings (same loss, same lambda)."""
    R, U, V, reg = EXERCISE.cases()[j]
    grad_U, grad_V = lesson02.full_gradient(R, U, V, reg)
    ratings = Ratings.from_dense(R)  # keeps the shape, empty rows and columns included
    assert ratings.shape == R.shape
    expected_U, expected_V = gradient(ratings, U, V, reg=reg)
    np.testing.assert_allclose(grad_U, expected_U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad_V, expected_V, rtol=1e-12, atol=1e-14)


def test_full_gradient_matches_finite_differences_of_the_mean_loss():
    R, U, V, reg = EXERCISE.cases()[4]
    ratings = Ratings.from_dense(R)
    grad_U, grad_V = lesson02.full_gradient(R, U, V, reg)
    h = 1e-6
    for param, grad in ((U, grad_U), (V, grad_V)):
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + h
            up = loss(ratings, U, V, reg)
            param[idx] = old - h
            down = loss(ratings, U, V, reg)
            param[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        assert np.linalg.norm(numeric - grad) / np.linalg.norm(grad) < 1e-7


def test_a_loop_over_the_ratings_passes(capsys):
    """The lesson's plain-Python loop (one rating at a time) is a correct answer too."""

    def full_gradient(R, U, V, reg):
        users, items = np.nonzero(~np.isnan(R))
        grad_U, grad_V = 2 * reg * U, 2 * reg * V
        for u, i in zip(users, items):
            e = R[u, i] - U[u] @ V[i]
            grad_U[u] -= 2 * e * V[i]
            grad_V[i] -= 2 * e * U[u]
        return grad_U / len(users), grad_V / len(users)

    assert ex.check("full_gradient", full_gradient) is True
    assert "✅ full_gradient: correct on 6 test cases." in capsys.readouterr().out


def _full_gradient_learner_versions():
    """Mistakes as a learner would write them (not the diagnostics' own code)."""

    def no_mask(R, U, V, reg):
        E = R - U @ V.T
        n = np.count_nonzero(~np.isnan(R))
        return 2 / n * (-E @ V + reg * U), 2 / n * (-E.T @ U + reg * V)

    def no_two(R, U, V, reg):
        E = np.nan_to_num(R - U @ V.T)
        n = np.sum(~np.isnan(R))
        return (-E @ V + reg * U) / n, (-E.T @ U + reg * V) / n

    def summed(R, U, V, reg):
        E = np.where(np.isnan(R), 0, R - U @ V.T)
        return 2 * (-E @ V + reg * U), 2 * (-E.T @ U + reg * V)

    def flipped(R, U, V, reg):
        E = np.where(np.isnan(R), 0, U @ V.T - R)  # prediction minus rating ...
        n = np.sum(~np.isnan(R))
        return 2 / n * (-E @ V - reg * U), 2 / n * (-E.T @ U - reg * V)  # ... and the minus kept

    def no_reg(R, U, V, reg):
        E = np.where(np.isnan(R), 0, R - U @ V.T)
        n = np.sum(~np.isnan(R))
        return -2 / n * E @ V, -2 / n * E.T @ U

    def swapped(R, U, V, reg):
        E = np.where(np.isnan(R), 0, R - U @ V.T)
        n = np.sum(~np.isnan(R))
        return 2 / n * (-E.T @ U + reg * V), 2 / n * (-E @ V + reg * U)

    def zeros_as_ratings(R, U, V, reg):
        E = np.nan_to_num(R) - U @ V.T
        n = np.sum(~np.isnan(R))
        return 2 / n * (-E @ V + reg * U), 2 / n * (-E.T @ U + reg * V)

    return [
        (no_mask, "not masked"), (no_two, "half"), (summed, "1/|Ω|"), (flipped, "sign is flipped"),
        (no_reg, "regularization is missing"), (swapped, "swapped"), (zeros_as_ratings, "ratings of 0"),
    ]


@pytest.mark.parametrize("wrong, phrase", _full_gradient_learner_versions(), ids=lambda x: getattr(x, "__name__", ""))
def test_full_gradient_mistakes_get_their_diagnosis(wrong, phrase, capsys):
    with np.errstate(all="ignore"):
        assert ex.check("full_gradient", wrong) is False
    assert phrase in capsys.readouterr().out


# ============================================================================ column_step
def _package_column_step(R, U, V, reg, lr, C):
    """The package's own sampled step (mfteach.gd) on the entries of the columns C."""
    ratings = Ratings.from_dense(R)
    problem = _Problem(ratings)
    p = Params(U.copy(), V.copy())
    idx = _entries_of_groups(problem.col_ptr, np.asarray(C), problem.by_col)
    _sampled_step(problem, p, idx, R.shape[1] / (len(C) * len(ratings)), lr, reg)
    return p.U, p.V


@pytest.mark.parametrize("j", range(5))
def test_column_step_is_the_packages_column_sampling_step(j):
    case = ex.EXERCISES["column_step"].cases()[j]
    for mine, package in zip(lesson02.column_step(*case), _package_column_step(*case)):
        np.testing.assert_allclose(mine, package, rtol=1e-12, atol=1e-14)


def test_column_step_is_unbiased_exactly():
    """Averaged over ALL column subsets of a given size, the step is a full gradient step."""
    R, U, V, reg, lr, _ = ex.EXERCISES["column_step"].cases()[2]   # 6 x 8
    grad_U, grad_V = gradient(Ratings.from_dense(R), U, V, reg=reg)
    subsets = list(itertools.combinations(range(R.shape[1]), 3))
    mean_U = np.mean([lesson02.column_step(R, U, V, reg, lr, np.array(C))[0] for C in subsets], axis=0)
    mean_V = np.mean([lesson02.column_step(R, U, V, reg, lr, np.array(C))[1] for C in subsets], axis=0)
    np.testing.assert_allclose(mean_U, U - lr * grad_U, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean_V, V - lr * grad_V, rtol=1e-10, atol=1e-12)
    # and a single subset is NOT the full step (the estimate is noisy)
    one_U, _ = lesson02.column_step(R, U, V, reg, lr, np.array(subsets[0]))
    assert not np.allclose(one_U, U - lr * grad_U)


def test_column_step_with_every_column_is_a_full_step():
    R, U, V, reg, lr, _ = ex.EXERCISES["column_step"].cases()[4]
    new_U, new_V = lesson02.column_step(R, U, V, reg, lr, np.arange(R.shape[1]))
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
    new_U, new_V = lesson02.minibatch_epoch(ratings, U, V, reg, lr, order, batch_size)
    np.testing.assert_allclose(new_U, model.U_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_V, model.V_, rtol=1e-12, atol=1e-14)


def test_minibatch_epoch_with_one_batch_is_a_full_step():
    ratings, U, V, reg, lr, order, _ = ex.EXERCISES["minibatch_epoch"].cases()[3]
    new_U, new_V = lesson02.minibatch_epoch(ratings, U, V, reg, lr, order, len(ratings))
    grad_U, grad_V = gradient(ratings, U, V, reg=reg)
    np.testing.assert_allclose(new_U, U - lr * grad_U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_V, V - lr * grad_V, rtol=1e-12, atol=1e-14)


def test_minibatch_epoch_leaves_its_inputs_alone():
    ratings, U, V, reg, lr, order, size = ex.EXERCISES["minibatch_epoch"].cases()[1]
    U0, V0 = U.copy(), V.copy()
    lesson02.minibatch_epoch(ratings, U, V, reg, lr, order, size)
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


# ============================================================================ best_epoch
@pytest.fixture(scope="module")
def best_epoch_answers():
    """The reference's answers on the exercise's cases (computed once: they train models)."""
    cases = ex.EXERCISES["best_epoch"].cases()
    return cases, [lesson02.best_epoch(*case) for case in cases]


def test_best_epoch_on_movielens_is_where_validation_turns_up(best_epoch_answers, ml100k):
    """The lesson's claim: without a penalty the validation RMSE is lowest after about ten epochs,
    well before the 20th. Checked by retraining for that many epochs and one more."""
    cases, answers = best_epoch_answers
    model, fit_part, valid = cases[1]
    assert len(fit_part) + len(valid) == len(ml100k.split(0.2, seed=0)[0]) and model.reg == 0.0
    epoch, rmse = answers[1]
    assert 5 <= epoch <= 15

    def rmse_after(n_epochs):  # same seed: the same trajectory, cut after n_epochs
        trained = GradientDescent(rank=20, reg=0.0, sampling="minibatch", n_epochs=n_epochs, seed=0).fit(fit_part)
        return trained.rmse(valid)

    assert rmse_after(epoch) == pytest.approx(rmse, rel=1e-9)
    assert rmse_after(epoch + 1) > rmse


def test_best_epoch_answers_differ_between_cases(best_epoch_answers):
    """A hard-coded answer (the MovieLens one) fails the synthetic cases; every best epoch is
    inside the run (neither the start nor the last epoch)."""
    cases, answers = best_epoch_answers
    epochs = [epoch for epoch, _ in answers]
    assert len(set(epochs)) == len(epochs)
    assert all(0 < epoch < case[0].n_epochs for epoch, case in zip(epochs, cases))


def test_best_epoch_crash_without_eval_set_gets_its_diagnosis(capsys):
    def without_eval_set(model, train, valid):
        h = model.fit(train).history_
        return int(h["test_rmse"].idxmin()), h["test_rmse"].min()

    assert ex.check("best_epoch", without_eval_set) is False
    assert "eval_set=valid" in capsys.readouterr().out


# ============================================================================ the stubs and the questions
STUBS = {
    "column_step": "def column_step(R, U, V, reg, lr, C):\n    raise NotImplementedError(\"your turn\")\n",
    "minibatch_epoch": ("def minibatch_epoch(ratings, U, V, reg, lr, order, batch_size):\n"
                        "    raise NotImplementedError(\"your turn\")\n"),
    "best_epoch": "def best_epoch(model, train, valid):\n    raise NotImplementedError(\"your turn\")\n",
}


@pytest.mark.parametrize("name", STUBS)
def test_a_stub_is_not_written_yet(name, shell, capsys):
    shell.run_cell_magic("check", name, STUBS[name])
    assert "not written yet" in capsys.readouterr().out


def test_questions_accept_the_answer_and_explain_every_wrong_choice(capsys):
    mine = [q for q in ex.QUESTIONS.values() if q.lesson == "02_gradient_descent"]
    for q in mine:
        if q.kind == "choice":
            assert ex.answer(q.name, q.answer) is True
            for j in range(len(q.choices)):
                if j != q.answer:
                    assert ex.answer(q.name, j) is False
                    assert q.feedback[j] in capsys.readouterr().out
        else:
            assert ex.answer(q.name, q.answer) is True
            for value, message in q.feedback.items():
                assert ex.answer(q.name, value) is False
                assert message in capsys.readouterr().out


def test_summed_lr_answer_is_the_conversion_of_the_lesson():
    """eta on the mean = eta on the sum * |Omega|: one step of each from the same point agrees."""
    assert ex.answer("q02_summed_lr", "1e-5 * 200000") is True
    R, U, V, reg = EXERCISE.cases()[1]
    ratings = Ratings.from_dense(R)
    g_mean = gradient(ratings, U, V, reg=reg)[0]
    g_sum = g_mean * len(ratings)                        # the summed loss's gradient
    eta_sum = 1e-5
    eta_mean = ex.QUESTIONS["q02_summed_lr"].answer / 200_000 * len(ratings)
    np.testing.assert_allclose(U - eta_mean * g_mean, U - eta_sum * g_sum, rtol=1e-12)
