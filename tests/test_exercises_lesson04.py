"""Lesson 04's exercise: the biased prediction mu + b_u + c_i + u_u . v_i."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises.lesson04  # noqa: F401  (registers the exercise until __init__ imports it)
from mfteach.exercises import EXERCISES, check, hint, solution
from mfteach.exercises.lesson04 import predict_biased

NAME = "predict_biased"


@pytest.fixture(autouse=True)
def _private_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("MFTEACH_HOME", str(tmp_path))


def test_registered_for_lesson_04():
    exercise = EXERCISES[NAME]
    assert exercise.lesson == "04_svd_biases_embeddings" and exercise.function_name == NAME
    assert len(exercise.cases()) == 5 and len(exercise.hints) >= 3


def test_reference_matches_the_formula_term_by_term():
    mu, b, c, U, V, rows, cols = EXERCISES[NAME].cases()[0]
    expected = [mu + b[u] + c[i] + U[u] @ V[i] for u, i in zip(rows, cols)]
    np.testing.assert_allclose(predict_biased(mu, b, c, U, V, rows, cols), expected)


def test_reference_equals_a_biased_model_predict():
    ratings, _, _ = mt.synthetic(30, 20, rank=3, density=0.5, seed=0)
    model = mt.ALS(rank=3, reg=1.0, n_iters=3, biased=True).fit(ratings)
    rows, cols = ratings.rows[:50], ratings.cols[:50]
    np.testing.assert_allclose(
        predict_biased(model.mu_, model.user_bias_, model.item_bias_, model.U_, model.V_, rows, cols),
        model.predict(rows, cols))


def test_cases_allow_the_swap_diagnostic():
    for mu, b, c, U, V, rows, cols in EXERCISES[NAME].cases():
        side = min(len(b), len(c))
        assert rows.max() < side and cols.max() < side  # a swap gives numbers, not an IndexError
        assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)


def test_correct_answers_pass(capsys):
    assert check(NAME, predict_biased)
    assert check(NAME, lambda mu, b, c, U, V, rows, cols: (mu + b[:, None] + c[None, :] + U @ V.T)[rows, cols])
    assert check(NAME, lambda mu, b, c, U, V, rows, cols: mu + b[rows] + c[cols] + np.einsum("pk,pk->p", U[rows], V[cols]))
    assert capsys.readouterr().out.count("✅") == 3


def _dot(U, V, rows, cols):
    return np.sum(U[rows] * V[cols], axis=1)


@pytest.mark.parametrize("wrong, words", [
    (lambda mu, b, c, U, V, r, i: b[r] + c[i] + _dot(U, V, r, i), "global mean μ is missing"),
    (lambda mu, b, c, U, V, r, i: mu + c[i] + _dot(U, V, r, i), "user bias b_u is missing"),
    (lambda mu, b, c, U, V, r, i: mu + b[r] + _dot(U, V, r, i), "item bias c_i is missing"),
    (lambda mu, b, c, U, V, r, i: mu + b[r] + c[i], "dot product u_u · v_i is missing"),
    (lambda mu, b, c, U, V, r, i: 2 * mu + b[r] + c[i] + _dot(U, V, r, i), "μ is added twice"),
    (lambda mu, b, c, U, V, r, i: (mu + b[r]) + (mu + c[i]) + _dot(U, V, r, i), "μ is added twice"),
    (lambda mu, b, c, U, V, r, i: mu + b[i] + c[r] + _dot(U, V, r, i), "biases are swapped"),
    (lambda mu, b, c, U, V, r, i: mu + b[r] + c[i] + _dot(U, V, i, r), "indexed the wrong way round"),
    (lambda mu, b, c, U, V, r, i: mu + b[:, None] + c[None, :] + U @ V.T, "whole m x n matrix"),
    (lambda mu, b, c, U, V, r, i: mu + b[r][:, None] + c[i][None, :] + U[r] @ V[i].T, "(pairs x pairs) table"),
    (lambda mu, b, c, U, V, r, i: mu + b[r] + c[i] + U[r] @ V[i].T, "(pairs x pairs) table"),
])
def test_typical_mistakes_are_named(capsys, wrong, words):
    assert not check(NAME, wrong)
    out = capsys.readouterr().out
    assert "❌ predict_biased" in out and words in out, out


def test_stub_hint_and_solution(capsys):
    def stub(mu, user_bias, item_bias, U, V, rows, cols):
        raise NotImplementedError("your turn")

    assert not check(NAME, stub)
    assert "NotImplementedError: your turn" in capsys.readouterr().out
    hint(NAME)
    assert "Hint 1 of" in capsys.readouterr().out
    solution(NAME)
    out = capsys.readouterr().out
    assert "def predict_biased" in out and "@register" not in out
    assert "mu + user_bias[rows] + item_bias[cols] + dot" in out
