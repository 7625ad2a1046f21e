"""Lesson 04's exercises and questions (gradient descent: the full gradient, and when to stop on a
validation split): each reference is checked against an independent computation (the package's
gradient, finite differences, retraining for a given number of epochs), the find-out finds what the
lesson says, and mistakes written the way a learner writes them get their diagnosis."""


import numpy as np
import pytest

import mfteach
import mfteach.exercises as ex
from mfteach.gd import GradientDescent, gradient, loss
from mfteach.ratings import Ratings

LESSON = "04_gradient_descent"
EXERCISE = ex.EXERCISES["full_gradient"]
NAMES = ["full_gradient", "best_epoch"]
full_gradient = EXERCISE.reference
best_epoch = ex.EXERCISES["best_epoch"].reference

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_the_lesson_has_its_exercises_and_questions_in_order():
    mine = [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON]
    assert mine == NAMES
    questions = [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON]
    assert questions == ["q04_summed_lr", "q04_unmasked_nan", "q04_user_without_ratings"]


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
    grad_U, grad_V = full_gradient(R, U, V, reg)
    ratings = Ratings.from_dense(R)  # keeps the shape, empty rows and columns included
    assert ratings.shape == R.shape
    expected_U, expected_V = gradient(ratings, U, V, reg=reg)
    np.testing.assert_allclose(grad_U, expected_U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad_V, expected_V, rtol=1e-12, atol=1e-14)


def test_full_gradient_matches_finite_differences_of_the_mean_loss():
    R, U, V, reg = EXERCISE.cases()[4]
    ratings = Ratings.from_dense(R)
    grad_U, grad_V = full_gradient(R, U, V, reg)
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


# ============================================================================ best_epoch
@pytest.fixture(scope="module")
def best_epoch_answers():
    """The reference's answers on the exercise's cases (computed once: they train models)."""
    cases = ex.EXERCISES["best_epoch"].cases()
    return cases, [best_epoch(*case) for case in cases]


def _block_split(ml100k):
    train, test = ml100k.top(300, 200).split(0.2, seed=0)
    return train, test


def test_best_epoch_on_movielens_is_where_validation_turns_up(best_epoch_answers, ml100k):
    """The lesson's claim: full GD without a penalty on the MovieLens block has its lowest validation
    RMSE after about fifty epochs, well before the 300th. Checked by retraining for that many epochs
    and one more; the validation set is carved out of the training ratings, never the test ratings."""
    cases, answers = best_epoch_answers
    model, fit_part, valid = cases[1]
    train, test = _block_split(ml100k)
    assert len(fit_part) + len(valid) == len(train) and model.reg == 0.0 and model.sampling == "full"
    key = lambda r: set(zip(r.rows.tolist(), r.cols.tolist()))      # noqa: E731
    assert not (key(fit_part) | key(valid)) & key(test)
    epoch, rmse = answers[1]
    assert 30 <= epoch <= 80

    def rmse_after(n_epochs):  # same seed: the same trajectory, cut after n_epochs
        trained = GradientDescent(rank=10, reg=0.0, sampling="full", n_epochs=n_epochs, seed=0).fit(fit_part)
        return trained.rmse(valid)

    assert rmse_after(epoch) == pytest.approx(rmse, rel=1e-9)
    assert rmse_after(epoch + 1) > rmse
    assert model.history_["test_rmse"].iloc[-1] > rmse + 0.05      # it turns up clearly by epoch 300


def test_early_stopping_helps_on_the_test_ratings_too(best_epoch_answers, ml100k):
    """What section 5 prints: the factors of the chosen epoch predict the test ratings better than
    those after all 300 epochs (the test ratings chose nothing)."""
    cases, answers = best_epoch_answers
    model, fit_part, _ = cases[1]
    _, test = _block_split(ml100k)
    stopped = GradientDescent(rank=10, reg=0.0, sampling="full", n_epochs=answers[1][0], seed=0).fit(fit_part)
    assert stopped.rmse(test) < model.rmse(test) - 0.03


def test_best_epoch_answers_differ_between_cases(best_epoch_answers):
    """A hard-coded answer (the MovieLens one) fails the synthetic cases; every best epoch is
    inside the run (neither the start nor the last epoch)."""
    cases, answers = best_epoch_answers
    epochs = [epoch for epoch, _ in answers]
    assert len(set(epochs)) == len(epochs)
    assert all(0 < epoch < case[0].n_epochs for epoch, case in zip(epochs, cases))
    assert all(case[0].sampling == "full" for case in cases)       # lesson 04 knows full GD only


def test_best_epoch_crash_without_eval_set_gets_its_diagnosis(capsys):
    def without_eval_set(model, train, valid):
        h = model.fit(train).history_
        return int(h["test_rmse"].idxmin()), h["test_rmse"].min()

    assert ex.check("best_epoch", without_eval_set) is False
    assert "eval_set=valid" in capsys.readouterr().out


def test_best_epoch_with_numpy_argmin_passes(capsys):
    """Another correct route: argmin over the column's values (positions are epochs here)."""
    def best_epoch(model, train, valid):
        h = model.fit(train, eval_set=valid).history_
        j = int(np.argmin(h["test_rmse"].to_numpy()))
        return int(h["epoch"].iloc[j]), float(h["test_rmse"].iloc[j])

    assert ex.check("best_epoch", best_epoch) is True


# ============================================================================ the stubs and the questions
STUBS = {
    "full_gradient": "def full_gradient(R, U, V, reg):\n    raise NotImplementedError(\"your turn\")\n",
    "best_epoch": "def best_epoch(model, train, valid):\n    raise NotImplementedError(\"your turn\")\n",
}


@pytest.mark.parametrize("name", STUBS)
def test_a_stub_is_not_written_yet(name, shell, capsys):
    shell.run_cell_magic("check", name, STUBS[name])
    assert "not written yet" in capsys.readouterr().out


def test_summed_lr_answer_is_the_conversion_of_the_lesson():
    """eta on the mean = eta on the sum * |Omega|: one step of each from the same point agrees."""
    assert ex.answer("q04_summed_lr", "1e-5 * 200000") is True
    R, U, V, reg = EXERCISE.cases()[1]
    ratings = Ratings.from_dense(R)
    g_mean = gradient(ratings, U, V, reg=reg)[0]
    g_sum = g_mean * len(ratings)                        # the summed loss's gradient
    eta_sum = 1e-5
    eta_mean = ex.QUESTIONS["q04_summed_lr"].answer / 200_000 * len(ratings)
    np.testing.assert_allclose(U - eta_mean * g_mean, U - eta_sum * g_sum, rtol=1e-12)
