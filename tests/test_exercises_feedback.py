"""mfteach.exercises.feedback: the plain-words reading of errors, and the learner's line."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.exercises.feedback import explain_exception, learner_line


def _error_of(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no error")


EXERCISE = ex.EXERCISES["predict_ratings"]


def test_a_vector_times_a_matrix_row_by_row_gets_the_column_axis():
    c, V = np.ones(6), np.ones((6, 2))
    text = explain_exception(EXERCISE, _error_of(lambda: c * V), True)
    assert "vector of length 6 times a matrix of shape (6, 2)" in text and "w[:, None] * M" in text


def test_other_broadcasting_errors_say_to_print_the_shapes():
    text = explain_exception(EXERCISE, _error_of(lambda: np.ones((4, 2)) * np.ones((6, 2))), True)
    assert "print the shapes" in text and "[:, None]" not in text


def test_matmul_mismatch_names_the_sizes_without_presuming_a_transpose():
    text = explain_exception(EXERCISE, _error_of(lambda: np.ones((2, 6)) @ np.ones(3)), True)
    assert "here 6 against 3" in text and "the wrong rows" in text


@pytest.mark.parametrize("error, phrase", [(NameError("x"), "import numpy as np"), (IndexError("i"), "off by one"),
                                           (SystemExit(1), "return the result instead")])
def test_common_errors_in_plain_words(error, phrase):
    assert phrase in explain_exception(EXERCISE, error, True)


def test_a_type_error_outside_the_learners_code_shows_the_signature():
    assert "predict_ratings(U, V)" in explain_exception(EXERCISE, TypeError("takes 1 positional"), False)


def test_the_learners_line_is_the_deepest_frame_in_their_file(line_of):
    def helper(x):
        return x[10]

    def learner(x):
        return helper(x)

    error = _error_of(lambda: learner([1]))
    lineno, source = line_of(helper, "x[10]")
    assert learner_line(error.__traceback__, learner, None) == f"line {lineno} of test_exercises_feedback.py: {source}"
