"""Lesson 08's exercises and questions (08_svd_and_biases): the imputed SVD, the biased prediction,
one round of bias updates, and the two check-your-understanding questions."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import mfteach as mt
from mfteach.exercises import EXERCISES, QUESTIONS, answer, check
from mfteach.exercises.lesson08 import imputed_svd, predict_biased, update_biases

LESSON = "08_svd_and_biases"
NOTEBOOK = Path(__file__).resolve().parents[1] / "lessons" / f"{LESSON}.ipynb"
OURS = ["imputed_svd", "predict_biased", "update_biases"]


@pytest.fixture(autouse=True)
def _private_progress(exercise_state):
    return exercise_state


def _notebook_cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def _verdict(capsys, name, fn):
    ok = check(name, fn)
    return ok, capsys.readouterr().out


# ---------------------------------------------------------------------------- registration and lesson
def test_registered_in_the_order_of_the_lesson():
    mine = [name for name, ex in EXERCISES.items() if ex.lesson == LESSON]
    assert mine == OURS
    for name in OURS:
        assert len(EXERCISES[name].hints) >= 3 and len(EXERCISES[name].diagnostics) >= 2
    assert [name for name, q in QUESTIONS.items() if q.lesson == LESSON] == ["q08_eckart_young", "q08_biased_parameters"]


def test_the_lesson_checks_every_exercise_and_shows_the_quiz():
    sources = ["".join(c["source"]) for c in _notebook_cells() if c["cell_type"] == "code"]
    checked = [s.split()[1] for s in sources if s.startswith("%%check")]
    assert checked == OURS
    assert any(f'mt.exercises.quiz("{LESSON}")' in s for s in sources)
    assert not any(re.search(r"\b(hint|solution)\(", s) for s in sources)


# ---------------------------------------------------------------------------- imputed_svd
def test_imputed_svd_equals_the_package_with_item_means():
    for R, k in EXERCISES["imputed_svd"].cases():
        model = mt.TruncatedSVD(rank=k, impute="item_mean").fit(mt.Ratings.from_dense(R))
        np.testing.assert_allclose(imputed_svd(R, k), model.predict_matrix(), atol=1e-9)


def test_imputed_svd_meets_eckart_young():
    R, k = EXERCISES["imputed_svd"].cases()[1]
    filled = np.where(np.isnan(R), np.nanmean(R, axis=0), R)
    sigma = np.linalg.svd(filled, compute_uv=False)
    M_k = imputed_svd(R, k)
    assert np.linalg.matrix_rank(M_k) == k
    np.testing.assert_allclose(np.sum((filled - M_k) ** 2), np.sum(sigma[k:] ** 2))


@pytest.mark.parametrize("wrong, words", [
    (lambda R, k: _svd_k(np.where(np.isnan(R), np.nanmean(R, axis=1)[:, None], R), k), "USER's mean"),
    (lambda R, k: _svd_k(np.nan_to_num(R), k), "filled the holes with 0"),
    (lambda R, k: _svd_k(np.where(np.isnan(R), np.nanmean(R), R), k), "one global mean"),
    (lambda R, k: _no_sigma(np.where(np.isnan(R), np.nanmean(R, axis=0), R), k), "singular values are missing"),
    (lambda R, k: _svd_k(R, k), "R with its NaN"),
])
def test_imputed_svd_mistakes_are_named(capsys, wrong, words):
    ok, out = _verdict(capsys, "imputed_svd", wrong)
    assert not ok and words in out, out


def _svd_k(M, k):
    X, s, Yt = np.linalg.svd(M)
    return X[:, :k] @ np.diag(s[:k]) @ Yt[:k, :]


def _no_sigma(M, k):
    X, s, Yt = np.linalg.svd(M)
    return X[:, :k] @ Yt[:k, :]


# ---------------------------------------------------------------------------- predict_biased
def test_predict_biased_matches_the_formula_term_by_term():
    mu, b, c, U, V, rows, cols = EXERCISES["predict_biased"].cases()[0]
    expected = [mu + b[u] + c[i] + U[u] @ V[i] for u, i in zip(rows, cols)]
    np.testing.assert_allclose(predict_biased(mu, b, c, U, V, rows, cols), expected)


def test_predict_biased_equals_a_biased_model_predict():
    ratings, _, _ = mt.synthetic(30, 20, rank=3, density=0.5, seed=0)
    model = mt.ALS(rank=3, reg=1.0, n_iters=3, biased=True).fit(ratings)
    rows, cols = ratings.rows[:50], ratings.cols[:50]
    np.testing.assert_allclose(
        predict_biased(model.mu_, model.user_bias_, model.item_bias_, model.U_, model.V_, rows, cols),
        model.predict(rows, cols))


def test_predict_biased_cases_allow_the_swap_diagnostic():
    for mu, b, c, U, V, rows, cols in EXERCISES["predict_biased"].cases():
        side = min(len(b), len(c))
        assert rows.max() < side and cols.max() < side  # a swap gives numbers, not an IndexError
        assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)


def test_predict_biased_correct_variants_pass(capsys):
    assert check("predict_biased", lambda mu, b, c, U, V, rows, cols: (mu + b[:, None] + c[None, :] + U @ V.T)[rows, cols])
    assert check("predict_biased",
                 lambda mu, b, c, U, V, rows, cols: mu + b[rows] + c[cols] + np.einsum("pk,pk->p", U[rows], V[cols]))


def _dot(U, V, rows, cols):
    return np.sum(U[rows] * V[cols], axis=1)


@pytest.mark.parametrize("wrong, words", [
    (lambda mu, b, c, U, V, r, i: b[r] + c[i] + _dot(U, V, r, i), "global mean μ is missing"),
    (lambda mu, b, c, U, V, r, i: mu + b[r] + c[i], "dot product u_u · v_i is missing"),
    (lambda mu, b, c, U, V, r, i: (mu + b[r]) + (mu + c[i]) + _dot(U, V, r, i), "μ is added twice"),
    (lambda mu, b, c, U, V, r, i: mu + b[i] + c[r] + _dot(U, V, r, i), "biases are swapped"),
    (lambda mu, b, c, U, V, r, i: mu + b[:, None] + c[None, :] + U @ V.T, "whole m x n matrix"),
    (lambda mu, b, c, U, V, r, i: mu + b[r] + c[i] + U[r] @ V[i].T, "(pairs x pairs) table"),
])
def test_predict_biased_mistakes_are_named(capsys, wrong, words):
    ok, out = _verdict(capsys, "predict_biased", wrong)
    assert not ok and words in out, out


# ---------------------------------------------------------------------------- update_biases
def _loss(rows, cols, values, mu, b, c, reg_user, reg_item):
    e = values - mu - b[rows] - c[cols]
    return e @ e + reg_user * b @ b + reg_item * c @ c


def test_update_biases_minimizes_each_block_exactly():
    """After the round, c is the exact minimizer for the GIVEN b, and b for the NEW c: the partial
    derivatives vanish (central finite differences of the loss, which is quadratic)."""
    for rows, cols, values, mu, b0, c0, reg_user, reg_item in EXERCISES["update_biases"].cases():
        b, c = update_biases(rows, cols, values, mu, b0, c0, reg_user, reg_item)
        h = 1e-4
        for j in range(len(c)):
            step = np.zeros_like(c)
            step[j] = h
            slope = (_loss(rows, cols, values, mu, b0, c + step, reg_user, reg_item)
                     - _loss(rows, cols, values, mu, b0, c - step, reg_user, reg_item)) / (2 * h)
            assert abs(slope) < 1e-6
        for u in range(len(b)):
            step = np.zeros_like(b)
            step[u] = h
            slope = (_loss(rows, cols, values, mu, b + step, c, reg_user, reg_item)
                     - _loss(rows, cols, values, mu, b - step, c, reg_user, reg_item)) / (2 * h)
            assert abs(slope) < 1e-6


def test_ten_rounds_are_the_package_baseline():
    ratings, _, _ = mt.synthetic(40, 30, rank=2, density=0.3, seed=3)
    model = mt.Baseline(reg_user=15, reg_item=10, n_iters=10).fit(ratings)
    m, n = ratings.shape
    b, c = np.zeros(m), np.zeros(n)
    for _ in range(10):
        b, c = update_biases(ratings.rows, ratings.cols, ratings.values, model.mu_, b, c, 15.0, 10.0)
    np.testing.assert_allclose(b, model.user_bias_, atol=1e-12)
    np.testing.assert_allclose(c, model.item_bias_, atol=1e-12)


def test_update_biases_a_plain_loop_passes(capsys):
    def loop(rows, cols, values, mu, user_bias, item_bias, reg_user, reg_item):
        b, c = np.array(user_bias, dtype=float), np.zeros(len(item_bias))
        for i in range(len(c)):
            mine = cols == i
            c[i] = np.sum(values[mine] - mu - b[rows[mine]]) / (reg_item + mine.sum())
        for u in range(len(b)):
            mine = rows == u
            b[u] = np.sum(values[mine] - mu - c[cols[mine]]) / (reg_user + mine.sum())
        return b, c

    assert check("update_biases", loop)


def _round(rows, cols, values, mu, b, c, reg_user, reg_item, *, new_c_for_b=True, minlength=True):
    m, n = (len(b), len(c)) if minlength else (0, 0)
    c_new = np.bincount(cols, values - mu - b[rows], n) / (reg_item + np.bincount(cols, minlength=n))
    c_used = c_new if new_c_for_b else c
    b_new = np.bincount(rows, values - mu - c_used[cols], m) / (reg_user + np.bincount(rows, minlength=m))
    return b_new, c_new


@pytest.mark.parametrize("wrong, words", [
    (lambda *case: _round(*case, new_c_for_b=False), "OLD item biases"),
    (lambda *case: _round(*case, minlength=False), "shorter than n"),
    (lambda r, i, v, mu, b, c, lu, li: _round(r, i, v, mu, b, c, li, lu), "swapped"),
    (lambda r, i, v, mu, b, c, lu, li: _round(r, i, v, 0.0, b, c, lu, li), "μ is missing"),
])
def test_update_biases_mistakes_are_named(capsys, wrong, words):
    ok, out = _verdict(capsys, "update_biases", wrong)
    assert not ok and words in out, out


# ---------------------------------------------------------------------------- questions
@pytest.mark.parametrize("name, right, wrongs", [
    ("q08_eckart_young", 5, [3, 125, "sqrt(5)"]),
    ("q08_biased_parameters", "k*(n + m) + (m + n) + 1", ["(m + n) * k", "m * n * k"]),
])
def test_questions(capsys, name, right, wrongs):
    assert QUESTIONS[name].lesson == LESSON
    for value in wrongs:
        assert not answer(name, value)
    assert answer(name, right)
