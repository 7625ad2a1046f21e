"""Lesson 02's exercise full_gradient: the reference is the gradient of mfteach's loss, the
typical mistakes are recognised, and an unsolved stub gets the unsolved feedback."""

import numpy as np
import pytest

import mfteach
import mfteach.exercises as ex
from mfteach.exercises import lesson02  # registers the exercises (until __init__ imports it)
from mfteach.gd import gradient, loss
from mfteach.ratings import Ratings

EXERCISE = ex.EXERCISES["full_gradient"]


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


def test_registered_for_lesson_02():
    assert EXERCISE.lesson == "02_gradient_descent"
    assert EXERCISE.reference is lesson02.full_gradient
    assert EXERCISE.function_name == "full_gradient"
    assert len(EXERCISE.hints) >= 3


def test_cases_are_fixed_and_start_with_the_lecture_example():
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
def test_reference_is_the_package_gradient(j):
    """Dense NaN version == mt.gd.gradient on the sparse Ratings (same loss, same lambda)."""
    R, U, V, reg = EXERCISE.cases()[j]
    grad_U, grad_V = lesson02.full_gradient(R, U, V, reg)
    ratings = Ratings.from_dense(R)  # keeps the shape, empty rows and columns included
    assert ratings.shape == R.shape
    expected_U, expected_V = gradient(ratings, U, V, reg=reg)
    np.testing.assert_allclose(grad_U, expected_U, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad_V, expected_V, rtol=1e-12, atol=1e-14)


def test_reference_matches_finite_differences_of_the_mean_loss():
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


def test_reference_passes(capsys):
    assert ex.check("full_gradient", lesson02.full_gradient) is True
    assert "✅ full_gradient: correct on 6 test cases." in capsys.readouterr().out


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


@pytest.mark.parametrize("j", range(len(EXERCISE.diagnostics)))
def test_every_diagnostic_is_wrong_and_is_the_one_reported(j, capsys):
    diagnostic = EXERCISE.diagnostics[j]
    with np.errstate(all="ignore"):
        assert ex.check("full_gradient", diagnostic.wrong) is False
    out = capsys.readouterr().out
    assert "💡 " + diagnostic.message in out
    assert out.count("💡") == 1


def test_diagnostics_are_distinct():
    cases = EXERCISE.cases()
    with np.errstate(all="ignore"):
        answers = [[ex._call(d.wrong, case) for case in cases] for d in EXERCISE.diagnostics]
        expected = [ex._call(EXERCISE.reference, case) for case in cases]
    for j, a in enumerate(answers):
        assert not all(ex._same(x, y, 1e-6, 1e-8) for x, y in zip(a, expected)), j
        for k in range(j):
            assert not all(ex._same(x, y, 1e-6, 1e-8) for x, y in zip(a, answers[k])), (k, j)


def _learner_versions():
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

    def transposed(R, U, V, reg):
        E = np.where(np.isnan(R), 0, R - U @ V.T)
        n = np.sum(~np.isnan(R))
        return 2 / n * (-E @ V + reg * U), 2 / n * (-U.T @ E + reg * V.T)

    def zeros_as_ratings(R, U, V, reg):
        E = np.nan_to_num(R) - U @ V.T
        n = np.sum(~np.isnan(R))
        return 2 / n * (-E @ V + reg * U), 2 / n * (-E.T @ U + reg * V)

    return [
        (no_mask, "not masked"), (no_two, "half"), (summed, "1/|Ω|"), (flipped, "sign is flipped"),
        (no_reg, "regularization is missing"), (swapped, "swapped"), (transposed, "transposed"),
        (zeros_as_ratings, "ratings of 0"),
    ]


@pytest.mark.parametrize("wrong, phrase", _learner_versions(), ids=lambda x: getattr(x, "__name__", ""))
def test_typical_mistakes_get_their_diagnosis(wrong, phrase, capsys):
    with np.errstate(all="ignore"):
        assert ex.check("full_gradient", wrong) is False
    out = capsys.readouterr().out
    assert phrase in out, out


def test_nan_result_is_named_in_the_headline(capsys):
    def no_mask(R, U, V, reg):
        E = R - U @ V.T
        n = np.count_nonzero(~np.isnan(R))
        return 2 / n * (-E @ V + reg * U), 2 / n * (-E.T @ U + reg * V)

    ex.check("full_gradient", no_mask)
    out = capsys.readouterr().out
    assert "has NaN in" in out and "part 1 of the result" in out


def test_hints_end_with_the_formula(capsys):
    for _ in EXERCISE.hints:
        ex.hint("full_gradient")
    out = capsys.readouterr().out
    assert "Hint 1 of 4" in out and "Hint 4 of 4" in out and "-E @ V + reg * U" in out


def test_solution_prints_the_reference(capsys):
    ex.solution("full_gradient")
    out = capsys.readouterr().out
    assert out.startswith("Reference solution for full_gradient")
    assert "def full_gradient(R, U, V, reg):" in out and "@register" not in out


# ---------------------------------------------------------------------------- %%check in a shell
def test_the_lesson_stub_gets_the_unsolved_feedback(shell, capsys):
    stub = ('def full_gradient(R, U, V, reg):\n'
            '    # your code here: return grad_U (m x k) and grad_V (n x k)\n'
            '    raise NotImplementedError("your turn")\n')
    shell.run_cell_magic("check", "full_gradient", stub)
    out = capsys.readouterr().out
    assert "❌ full_gradient: your function raised NotImplementedError: your turn" in out
    assert 'line 4 of your cell: raise NotImplementedError("your turn")' in out
    assert "Test case 1 of 6: R of shape (4, 6), U of shape (4, 2), V of shape (6, 2), reg = 0.1." in out
    assert "mt.exercises.hint('full_gradient')" in out


def test_the_magic_accepts_a_solution(shell, capsys):
    shell.run_cell_magic("check", "full_gradient",
                         "import numpy as np\n"
                         "def full_gradient(R, U, V, reg):\n"
                         "    known = ~np.isnan(R)\n"
                         "    E = np.where(known, R - U @ V.T, 0.0)\n"
                         "    n = known.sum()\n"
                         "    return 2 / n * (reg * U - E @ V), 2 / n * (reg * V - E.T @ U)\n")
    assert "✅ full_gradient: correct on 6 test cases." in capsys.readouterr().out
