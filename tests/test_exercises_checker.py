"""mfteach.exercises.checker: check's verdicts and diagnoses on the lessons' exercises."""


import numpy as np
import pytest

from pathlib import Path

import mfteach.exercises as ex

HERE = Path(__file__).name


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


# ---------------------------------------------------------------------------- diagnoses
def test_transposed_predictions(capsys):
    assert ex.check("predict_ratings", lambda U, V: V @ U.T) is False
    out = capsys.readouterr().out
    assert "❌ predict_ratings" in out
    assert "transpose of the expected one" in out
    assert "(6, 4) instead of (4, 6)" in out
    assert "Need a nudge? mt.exercises.hint('predict_ratings')" in out


def test_broadcasting_error_names_the_line_and_explains(capsys, line_of):
    def predict_ratings(U, V):
        return U * V

    assert ex.check("predict_ratings", predict_ratings) is False
    out = capsys.readouterr().out
    assert "ValueError" in out and "could not be broadcast" in out
    lineno, source = line_of(predict_ratings, "return U * V")
    assert f"line {lineno} of {HERE}: {source}" in out
    assert "`@`" in out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2), "regularization"),
        (lambda R, U, V, reg: np.mean((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * (np.sum(U**2) + np.sum(V**2)),
         "|Ω|"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T) ** 2) + reg * (np.sum(U**2) + np.sum(V**2)), "NaN"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * np.sum(U**2), "Only U"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * np.sum(V**2), "Only V"),
        (lambda R, U, V, reg: np.sum((np.nan_to_num(R) - U @ V.T) ** 2) + reg * (np.sum(U**2) + np.sum(V**2)),
         "ratings of 0"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * np.sum(U**2) + np.sum(V**2),
         "parentheses"),
    ],
    ids=["no-reg", "mean", "nan", "only-U", "only-V", "zeros", "precedence"],
)
def test_regularized_loss_mistakes(wrong, phrase, capsys):
    assert ex.check("regularized_loss", wrong) is False
    out = capsys.readouterr().out
    assert "💡" in out and phrase in out
    assert out.count("💡") == 1


@pytest.mark.parametrize(
    "name, j",
    [(name, j) for name, exercise in ex.EXERCISES.items() for j in range(len(exercise.diagnostics))],
)
def test_every_diagnostic_is_wrong_and_recognised(name, j, capsys):
    """A learner who makes exactly that mistake fails and reads that message (first match wins).
    Covers every registered exercise, so each lesson's exercises are tested here too."""
    diagnostic = ex.EXERCISES[name].diagnostics[j]
    with np.errstate(all="ignore"):
        assert ex.check(name, diagnostic.wrong) is False
    out = capsys.readouterr().out
    assert "💡 " + diagnostic.message in out


def test_nan_loss_says_nan_in_the_headline(capsys):
    ex.check("regularized_loss", lambda R, U, V, reg: np.sum((R - U @ V.T) ** 2))
    out = capsys.readouterr().out
    assert "your result is NaN" in out
    assert "np.isnan" in out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda R: np.mean(np.isnan(R)), "UNKNOWN"),
        (lambda R: np.count_nonzero(R) / R.size, "NaN as non-zero"),
        (lambda R: np.count_nonzero(~np.isnan(R)) / (R.size - 1), "Off by one"),
        (lambda R: np.count_nonzero(~np.isnan(R)), "|Ω|"),
    ],
    ids=["unknown-fraction", "count-nonzero", "off-by-one", "count"],
)
def test_density_mistakes(wrong, phrase, capsys):
    assert ex.check("density", wrong) is False
    assert phrase in capsys.readouterr().out


def test_wrong_values_are_shown_side_by_side(capsys):
    def predict_ratings(U, V):
        R_hat = U @ V.T
        R_hat[0, 1] += 0.5
        return R_hat

    assert ex.check("predict_ratings", predict_ratings) is False
    out = capsys.readouterr().out
    assert "wrong values" in out
    assert "Test case 1 of 6 (the small one)" in out
    assert "U =" in out and "V =" in out
    header = next(line for line in out.splitlines() if "your result" in line)
    assert "expected" in header  # one line: the two arrays next to each other
    assert "[[1.  2.8 1.9 2.3 1.9 3.2]" in out and "[[1.  2.3 1.9 2.3 1.9 3.2]" in out  # 3 decimals, compact
    assert "1 of 24 entries differ; max |difference| = 0.5 at index (0, 1); first difference at index (0, 1)" in out


def test_a_mistake_only_in_bigger_cases_shows_the_failing_case(capsys):
    def density(R):
        return np.count_nonzero(~np.isnan(R)) / R.size if R.shape != (10, 20) else 0.5

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    assert "Test case 3 of 6 (the small case 1 is right, this one is not)" in out


def test_tiny_differences_are_shown_with_enough_decimals(capsys):
    ex.check("density", lambda R: np.count_nonzero(~np.isnan(R)) / R.size + 1e-5)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "your result" in line)
    values = out.splitlines()[out.splitlines().index(row) + 1].split()
    assert len(values) == 2 and values[0] != values[1]  # the difference is visible ...
    assert float(values[0]) - float(values[1]) == pytest.approx(1e-5, rel=0.1)  # ... and right
    assert "difference: 1e-05" in out


def test_infinite_result_suggests_a_division_by_zero(capsys):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert ex.check("density", lambda R: np.count_nonzero(~np.isnan(R)) / np.int64(0)) is False
    assert "your result is infinite (a division by zero?)" in capsys.readouterr().out


def test_none_returned(capsys):
    def density(R):
        np.count_nonzero(~np.isnan(R)) / R.size

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    assert "returned None — did you forget `return`?" in out


def test_wrong_type_and_wrong_shape(capsys):
    assert ex.check("density", lambda R: "half") is False
    assert "returned a str ('half'), which is text; the result should be a single number" in capsys.readouterr().out
    assert ex.check("predict_ratings", lambda U, V: U @ U.T) is False
    assert "has shape (4, 4), but the expected shape is (4, 6)" in capsys.readouterr().out
    assert ex.check("density", lambda R: np.array([[0.5]])) is False
    assert "should be a single number" in capsys.readouterr().out


def test_array_likes_are_accepted():
    assert ex.check("predict_ratings", lambda U, V: (U @ V.T).tolist()) is True
    assert ex.check("density", lambda R: np.float32(np.count_nonzero(~np.isnan(R)) / R.size)) is True


def test_exception_names_type_message_and_line(capsys, line_of):
    def density(R):
        known = 0
        return len(R) / known

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    lineno, source = line_of(density, "/ known")
    assert "your function raised ZeroDivisionError: division by zero" in out
    assert f"line {lineno} of {HERE}: {source}" in out
    assert "Test case 1 of 6: R of shape (4, 6)." in out


def test_exception_in_a_helper_points_at_the_deepest_learner_line(capsys, line_of):
    def helper(R):
        return R[R.shape[0]]  # off by one

    def density(R):
        return helper(R)

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    lineno, source = line_of(helper, "R[R.shape[0]]")
    assert f"line {lineno} of {HERE}: {source}" in out
    assert "IndexError" in out and "off by one" in out


def test_wrong_signature_says_how_the_checker_calls(capsys):
    assert ex.check("regularized_loss", lambda R, U, V: 0.0) is False
    out = capsys.readouterr().out
    assert "TypeError" in out
    assert "regularized_loss(R, U, V, reg)" in out


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError])
def test_check_never_raises(exc, capsys):
    def density(R):
        raise exc()

    assert ex.check("density", density) is False
    assert "density" in capsys.readouterr().out


def test_not_a_function(capsys):
    assert ex.check("density", 0.5) is False
    assert "expected a function, got a float (0.5)" in capsys.readouterr().out


def test_unknown_exercise(capsys):
    assert ex.check("predict_rating", lambda U, V: U @ V.T) is False
    out = capsys.readouterr().out
    assert "unknown exercise 'predict_rating'" in out
    for name in ("predict_ratings", "regularized_loss", "density"):
        assert name in out
    assert ex.check(None, print) is False


def test_a_broken_reference_is_reported_not_raised(extra_exercise, capsys):
    def broken(x):
        raise RuntimeError("bug in the reference")

    extra_exercise(ex.Exercise(name="broken", title="t", reference=broken, make_cases=lambda rng: [(1,)]))
    assert ex.check("broken", lambda x: x) is False
    assert "the checker itself failed" in capsys.readouterr().out


def test_returning_none_gets_the_return_hint_not_an_unrelated_diagnostic(capsys):
    def regularized_loss(R, U, V, reg):
        total = 0.0  # forgot to return it

    assert ex.check("regularized_loss", regularized_loss) is False
    out = capsys.readouterr().out
    assert "return" in out
    assert "NaN" not in out  # None must not be mistaken for the NaN-propagating mistake
