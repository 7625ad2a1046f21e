"""mfteach.exercises.compare: what differs between a result and the reference."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.exercises.compare import as_real_array, compare, same


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


def test_transposed_square_result_is_recognised():
    A = np.arange(9.0).reshape(3, 3)
    mismatch = compare(A.T, A, 1e-6, 1e-8)
    assert mismatch.kind == "transpose" and "transpose" in mismatch.text


@pytest.mark.parametrize("value, why", [
    (np.array([1 + 2j, 3]), "complex (it has an imaginary part)"),
    (np.array([1 + 0j, 3]), "complex (a complex dtype"),
    (np.array([{"a": 1}, 2], dtype=object), "Python objects, not numbers"),
    ("0.5", "text"),
    (np.array(["a", "b"]), "not numbers"),
    ([[1, 2], [3]], "not an array of numbers"),
])
def test_values_that_are_not_real_numbers_are_named(value, why):
    array, reason = as_real_array(value)
    assert array is None and why in reason
    mismatch = compare(value, np.zeros(2), 1e-6, 1e-8)
    assert mismatch.kind == "type" and why in mismatch.text


@pytest.mark.parametrize("value", [np.array([True, False]), np.array([1, 0], dtype=np.int8),
                                   np.array([1.0, 0.0], dtype=np.float32), [1, 0],
                                   np.array([1, 0.0], dtype=object)])
def test_bool_int_float_and_numeric_objects_are_numbers(value):
    assert compare(value, np.array([1.0, 0.0]), 1e-6, 1e-8) is None


def test_a_complex_result_fails_the_check_with_a_clear_message(capsys):
    assert ex.check("predict_ratings", lambda U, V: U @ V.T + 1j) is False
    out = capsys.readouterr().out
    assert "complex (it has an imaginary part)" in out and "real numbers" in out
    assert ex.check("predict_ratings", lambda U, V: (U @ V.T).astype(object)) is True  # numbers in objects are fine


def test_same_never_matches_none_text_or_complex():
    assert same(None, None, 1e-6, 1e-8) and not same(None, np.nan, 1e-6, 1e-8)
    assert not same("1", 1.0, 1e-6, 1e-8)
    assert not same(np.array([1 + 1j]), np.array([1.0]), 1e-6, 1e-8)
    assert same((1.0, np.array([np.nan])), [1.0, np.array([np.nan])], 1e-6, 1e-8)


def test_same_reads_a_list_of_numbers_like_the_array_of_them():
    """A learner who returns a list gets their mistake named like one who returns an array."""
    assert same([1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0]), 1e-6, 1e-8)
    assert not same([1.0, 2.0, 3.0], np.array([1.0, 2.0, 4.0]), 1e-6, 1e-8)
    assert not same((np.ones(2), np.ones(3)), np.ones(2), 1e-6, 1e-8)  # parts never equal one array
