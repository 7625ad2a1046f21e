r"""Tests of mfteach/gd.py: the mean loss of book eq. 9.5 (+ ridge penalty, + biases), its
gradient (eq. 9.6-9.7), the sampled estimates (eq. 9.8-9.10, column / row sampling,
mini-batches) and the ``GradientDescent`` trainer.

Every expected value is derived here independently, from a dense m x n matrix with NaN for
the unknown entries and explicit formulas; nothing is copied from a run of the package.

Notation (ARCHITECTURE.md, "Notation"): R is m x n, Omega the known pairs, N = |Omega|,
pred_ui = mu + b_u + c_i + u_u . v_i, e_ui = r_ui - pred_ui, and

    L = ( sum_Omega e_ui^2 + reg (||U||^2 + ||V||^2 + ||b||^2 + ||c||^2) ) / N.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mfteach as mt
from mfteach import Ratings
from mfteach import gd

MODES = ("full", "entries", "columns", "rows", "minibatch")
SAMPLED = ("entries", "columns", "rows", "minibatch")


# =============================================================== independent dense references
def dense_parts(R, U, V, b=None, c=None, mu=0.0):
    """Mask of Omega, and residuals e = R - pred on Omega (0 elsewhere), from dense numpy."""
    mask = ~np.isnan(R)
    pred = U @ V.T
    if b is not None:
        pred = pred + mu + b[:, None] + c[None, :]
    E = np.where(mask, np.nan_to_num(R) - pred, 0.0)
    return mask, E


def dense_summed_loss(R, U, V, reg=0.0, b=None, c=None, mu=0.0):
    """The slides' summed objective: sum_Omega e^2 + reg * (sum of squared parameters)."""
    _, E = dense_parts(R, U, V, b, c, mu)
    penalty = np.sum(U**2) + np.sum(V**2)
    if b is not None:
        penalty += np.sum(b**2) + np.sum(c**2)
    return float(np.sum(E**2) + reg * penalty)


def dense_loss(R, U, V, reg=0.0, b=None, c=None, mu=0.0):
    """Book eq. 9.5 with the penalty: the summed objective divided by |Omega|."""
    return dense_summed_loss(R, U, V, reg, b, c, mu) / np.count_nonzero(~np.isnan(R))


def dense_summed_gradient(R, U, V, reg=0.0, b=None, c=None, mu=0.0):
    """Gradient of the summed objective, by hand: d/dU = -2 E V + 2 reg U, d/dV = -2 E^T U +
    2 reg V, d/db_u = -2 sum_i E_ui + 2 reg b_u, d/dc_i = -2 sum_u E_ui + 2 reg c_i."""
    _, E = dense_parts(R, U, V, b, c, mu)
    grads = [-2 * E @ V + 2 * reg * U, -2 * E.T @ U + 2 * reg * V]
    if b is not None:
        grads += [-2 * E.sum(axis=1) + 2 * reg * b, -2 * E.sum(axis=0) + 2 * reg * c]
    return grads


def dense_gradient(R, U, V, reg=0.0, b=None, c=None, mu=0.0):
    """Gradient of the mean loss = summed gradient / |Omega| (both derived above)."""
    n_known = np.count_nonzero(~np.isnan(R))
    return [g / n_known for g in dense_summed_gradient(R, U, V, reg, b, c, mu)]


def finite_difference_gradient(f, params, h=1e-5):
    """Central differences (f(x + h e_j) - f(x - h e_j)) / 2h for every coordinate of every
    array in ``params`` (modified in place and restored)."""
    grads = []
    for x in params:
        g = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            old = x[j]
            x[j] = old + h
            plus = f()
            x[j] = old - h
            minus = f()
            x[j] = old
            g[j] = (plus - minus) / (2 * h)
        grads.append(g)
    return grads


def seed_of(*key):
    """A fixed seed per parametrization (``hash`` of a str changes between runs)."""
    return zlib.crc32(repr(key).encode())


def relative_error(a, b):
    a = np.concatenate([np.ravel(x) for x in a])
    b = np.concatenate([np.ravel(x) for x in b])
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def random_dense(rng, m, n, density, empty_user=None, empty_item=None, cover=False):
    """An m x n rating matrix (NaN = unknown) with integer-ish ratings in 1..5.

    ``cover``: every user and item gets at least one rating. ``empty_user`` / ``empty_item``:
    that row / column has none. At least one entry is always known."""
    mask = rng.random((m, n)) < density
    if cover:
        mask[np.arange(max(m, n)) % m, rng.permutation(max(m, n)) % n] = True
    if empty_user is not None:
        mask[empty_user, :] = False
    if empty_item is not None:
        mask[:, empty_item] = False
    if not mask.any():
        u = 0 if empty_user != 0 else m - 1
        i = 0 if empty_item != 0 else n - 1
        mask[u, i] = True
    R = np.where(mask, rng.integers(1, 6, (m, n)) + rng.normal(0, 0.3, (m, n)), np.nan)
    return R


def random_params(rng, m, n, k, biased):
    U, V = rng.normal(0, 0.7, (m, k)), rng.normal(0, 0.7, (n, k))
    if not biased:
        return U, V, None, None, 0.0
    return U, V, rng.normal(0, 0.5, m), rng.normal(0, 0.5, n), float(rng.normal(3.0, 0.5))


def package_gradient(ratings, U, V, reg, b, c, mu):
    if b is None:
        return list(gd.gradient(ratings, U, V, reg=reg))
    return list(gd.gradient(ratings, U, V, reg=reg, user_bias=b, item_bias=c, mu=mu))


def package_loss(ratings, U, V, reg, b, c, mu):
    if b is None:
        return gd.loss(ratings, U, V, reg=reg)
    return gd.loss(ratings, U, V, reg=reg, user_bias=b, item_bias=c, mu=mu)


# =============================================================== 1. loss and gradient
CASES = [  # (m, n, k, density, empty_user, empty_item)
    (1, 1, 1, 1.0, None, None),
    (1, 6, 2, 0.7, None, None),
    (6, 1, 2, 0.7, None, None),
    (5, 4, 2, 0.5, None, None),
    (6, 5, 3, 0.4, 2, None),  # a user with no rating
    (6, 5, 3, 0.4, None, 4),  # an item with no rating
    (7, 6, 2, 0.5, 0, 3),  # both
]


@pytest.mark.parametrize("reg", [0.0, 0.8])
@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_loss_equals_the_dense_formula(case, biased, reg):
    m, n, k, density, eu, ei = case
    rng = np.random.default_rng(seed_of(case, biased, reg))
    R = random_dense(rng, m, n, density, eu, ei)
    U, V, b, c, mu = random_params(rng, m, n, k, biased)
    ratings = Ratings.from_dense(R)
    # the formula written out entry by entry, nothing shared with the helpers
    total, count = 0.0, 0
    for u in range(m):
        for i in range(n):
            if not np.isnan(R[u, i]):
                pred = U[u] @ V[i] + ((mu + b[u] + c[i]) if biased else 0.0)
                total += (R[u, i] - pred) ** 2
                count += 1
    penalty = np.sum(U**2) + np.sum(V**2) + ((np.sum(b**2) + np.sum(c**2)) if biased else 0.0)
    expected = (total + reg * penalty) / count
    assert package_loss(ratings, U, V, reg, b, c, mu) == pytest.approx(expected, rel=1e-12, abs=1e-14)
    assert dense_loss(R, U, V, reg, b, c, mu) == pytest.approx(expected, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("reg", [0.0, 0.8])
@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_gradient_matches_central_finite_differences(case, biased, reg):
    """grad of ``gd.gradient`` vs central differences of the independent dense loss; the loss
    is a polynomial of degree 4, so with h = 1e-5 truncation and rounding errors are ~1e-10."""
    m, n, k, density, eu, ei = case
    rng = np.random.default_rng(seed_of(case, biased, reg, "fd"))
    R = random_dense(rng, m, n, density, eu, ei)
    U, V, b, c, mu = random_params(rng, m, n, k, biased)
    ratings = Ratings.from_dense(R)
    got = package_gradient(ratings, U, V, reg, b, c, mu)
    params = [U, V] + ([b, c] if biased else [])
    expected = finite_difference_gradient(lambda: dense_loss(R, U, V, reg, b, c, mu), params)
    assert len(got) == len(params)
    for g, x in zip(got, params):
        assert g.shape == x.shape
    assert relative_error(got, expected) < 1e-6
    # and the hand-derived dense gradient the other tests use agrees with both
    assert relative_error(dense_gradient(R, U, V, reg, b, c, mu), expected) < 1e-6


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 6), n=st.integers(1, 6), k=st.integers(1, 3), density=st.floats(0.05, 1.0),
       biased=st.booleans(), reg=st.sampled_from([0.0, 0.3, 5.0]), seed=st.integers(0, 2**32 - 1))
def test_gradient_finite_differences_on_random_shapes_and_masks(m, n, k, density, biased, reg, seed):
    rng = np.random.default_rng(seed)
    R = random_dense(rng, m, n, density)  # empty rows / columns occur naturally at low density
    U, V, b, c, mu = random_params(rng, m, n, k, biased)
    ratings = Ratings.from_dense(R)
    got = package_gradient(ratings, U, V, reg, b, c, mu)
    params = [U, V] + ([b, c] if biased else [])
    expected = finite_difference_gradient(lambda: dense_loss(R, U, V, reg, b, c, mu), params)
    assert relative_error(got, expected) < 1e-6
    assert package_loss(ratings, U, V, reg, b, c, mu) == pytest.approx(dense_loss(R, U, V, reg, b, c, mu), rel=1e-12)


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_mean_gradient_times_omega_is_the_gradient_of_the_summed_loss(case, biased):
    """The slides minimize the SUM over Omega; the package the mean. grad(mean) * |Omega| must
    equal the summed gradient, which is derived here by hand and checked by finite differences
    of the summed objective."""
    m, n, k, density, eu, ei = case
    rng = np.random.default_rng(seed_of(case, biased, "sum"))
    R = random_dense(rng, m, n, density, eu, ei)
    U, V, b, c, mu = random_params(rng, m, n, k, biased)
    reg = 1.3
    ratings = Ratings.from_dense(R)
    n_known = len(ratings)
    summed = dense_summed_gradient(R, U, V, reg, b, c, mu)
    params = [U, V] + ([b, c] if biased else [])
    fd = finite_difference_gradient(lambda: dense_summed_loss(R, U, V, reg, b, c, mu), params)
    assert relative_error(summed, fd) < 1e-6
    scaled = [g * n_known for g in package_gradient(ratings, U, V, reg, b, c, mu)]
    for got, want in zip(scaled, summed):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert package_loss(ratings, U, V, reg, b, c, mu) * n_known == pytest.approx(
        dense_summed_loss(R, U, V, reg, b, c, mu), rel=1e-12)


def test_book_eq_9_6_and_9_7_without_penalty_entry_by_entry():
    """reg = 0, no biases: dL/dU[u, k] = (1/N) sum_{i in Omega_u} -2 V[i, k] (r_ui - u_u.v_i)
    (eq. 9.6) and the mirror for V (eq. 9.7), written as explicit loops."""
    rng = np.random.default_rng(7)
    R = random_dense(rng, 5, 4, 0.6)
    U, V = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    N = np.count_nonzero(~np.isnan(R))
    gU, gV = np.zeros_like(U), np.zeros_like(V)
    for u, i in zip(*np.nonzero(~np.isnan(R))):
        e = R[u, i] - U[u] @ V[i]
        gU[u] += -2 * V[i] * e / N
        gV[i] += -2 * U[u] * e / N
    got_U, got_V = gd.gradient(Ratings.from_dense(R), U, V)
    np.testing.assert_allclose(got_U, gU, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_V, gV, rtol=1e-12, atol=1e-14)


def test_gradient_of_an_unrated_user_or_item_is_the_penalty_alone():
    rng = np.random.default_rng(3)
    R = random_dense(rng, 5, 4, 0.8, empty_user=1, empty_item=2)
    U, V, b, c, mu = random_params(rng, 5, 4, 2, True)
    reg, N = 0.9, np.count_nonzero(~np.isnan(R))
    gU, gV, gb, gc = gd.gradient(Ratings.from_dense(R), U, V, reg=reg, user_bias=b, item_bias=c, mu=mu)
    np.testing.assert_allclose(gU[1], 2 * reg * U[1] / N, rtol=1e-12)
    np.testing.assert_allclose(gV[2], 2 * reg * V[2] / N, rtol=1e-12)
    assert gb[1] == pytest.approx(2 * reg * b[1] / N, rel=1e-12)
    assert gc[2] == pytest.approx(2 * reg * c[2] / N, rel=1e-12)


@pytest.mark.parametrize("biased", [False, True])
def test_a_sampled_step_on_every_entry_is_a_full_gradient_step_and_leaves_its_inputs(biased):
    """scale = 1/|Omega| over all of Omega (a 'column sample' of every column) is lr times the exact
    gradient: the per-entry penalty lambda/|Omega_u| sums to lambda per user (unrated rows included)."""
    rng = np.random.default_rng(11)
    R = random_dense(rng, 6, 5, 0.6, empty_user=2, empty_item=4)
    U, V, b, c, mu = random_params(rng, 6, 5, 3, biased)
    ratings, lr, reg = Ratings.from_dense(R), 0.3, 0.7
    kept = [x.copy() for x in (U, V, b, c) if x is not None]
    p = gd.sampled_step(ratings, U, V, np.arange(len(ratings)), 1 / len(ratings), lr, reg, b, c, mu)
    grads = gd.gradient(ratings, U, V, reg, b, c, mu)
    for after, before, grad in zip((p.U, p.V, p.user_bias, p.item_bias), (U, V, b, c), grads):
        np.testing.assert_allclose(after, before - lr * grad, rtol=1e-12, atol=1e-14)
    for old, new in zip(kept, (x for x in (U, V, b, c) if x is not None)):
        np.testing.assert_array_equal(old, new)


def test_a_sampled_step_refuses_positions_outside_the_ratings():
    ratings = Ratings.from_dense(np.array([[1.0, np.nan], [2.0, 3.0]]))
    U, V = np.zeros((2, 1)), np.zeros((2, 1))
    for bad in (np.array([3]), np.array([-1]), np.array([0.5]), np.array([[0]])):
        with pytest.raises(ValueError, match=r"entries must be a 1-D array of rating positions in \[0, 3\)"):
            gd.sampled_step(ratings, U, V, bad, 1.0, 0.1)


def test_loss_and_gradient_reject_non_ratings():
    U, V = np.zeros((2, 1)), np.zeros((2, 1))
    with pytest.raises(TypeError, match="ratings must be an mfteach.Ratings"):
        gd.loss(np.eye(2), U, V)
    with pytest.raises(TypeError, match="ratings must be an mfteach.Ratings"):
        gd.gradient(np.eye(2), U, V)


def test_loss_uses_mu_even_without_biases():
    rng = np.random.default_rng(0)
    R = random_dense(rng, 4, 3, 0.8)
    U, V = rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    expected = dense_loss(R, U, V, 0.0, np.zeros(4), np.zeros(3), 3.5)
    assert gd.loss(Ratings.from_dense(R), U, V, mu=3.5) == pytest.approx(expected, rel=1e-12)


def test_loss_with_only_one_bias_vector_names_the_missing_one():
    rng = np.random.default_rng(0)
    R = random_dense(rng, 4, 3, 0.8)
    U, V = rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    with pytest.raises((ValueError, TypeError), match="item_bias"):
        gd.loss(Ratings.from_dense(R), U, V, user_bias=np.zeros(4))


# =============================================================== 2. sampled estimates: exact expectation
def tiny_problem(biased):
    """|Omega| = 7 on a 4 x 4 matrix; every user and item has a rating, with unequal counts
    (users 3, 2, 1, 1; items 2, 1, 3, 1) so that a wrong normalization cannot cancel."""
    R = np.full((4, 4), np.nan)
    for (u, i), r in zip([(0, 0), (0, 2), (0, 3), (1, 0), (1, 2), (2, 1), (3, 2)], [5, 3, 4, 1, 2, 4, 5]):
        R[u, i] = r
    rng = np.random.default_rng(11)
    U, V, b, c, mu = random_params(rng, 4, 4, 2, biased)
    return R, U, V, b, c, mu


def implied_gradient(problem, params, idx, scale, reg):
    """Run the package's own ``_sampled_step`` once from a copy of ``params`` with lr = 1 and
    return g = params_before - params_after (U, V[, b, c]). The step evaluates every residual
    at the old point, so g does not depend on lr."""
    p = gd.Params(params.U.copy(), params.V.copy(),
                  None if params.user_bias is None else params.user_bias.copy(),
                  None if params.item_bias is None else params.item_bias.copy(), params.mu)
    gd._sampled_step(problem, p, np.asarray(idx, dtype=np.int64), scale, 1.0, reg)
    out = [params.U - p.U, params.V - p.V]
    if params.user_bias is not None:
        out += [params.user_bias - p.user_bias, params.item_bias - p.item_bias]
    return out


def average_over_subsets(problem, params, reg, population, size, entries_of, scale):
    """E[g] for a uniform ``size``-subset of ``population``, by enumerating ALL subsets with
    equal weights (no Monte Carlo error)."""
    subsets = list(itertools.combinations(range(population), size))
    total = None
    for subset in subsets:
        g = implied_gradient(problem, params, entries_of(np.array(subset)), scale, reg)
        total = g if total is None else [t + x for t, x in zip(total, g)]
    return [t / len(subsets) for t in total]


def as_params(U, V, b, c, mu):
    return gd.Params(U, V, b, c, mu if b is not None else 0.0)


@pytest.mark.parametrize("reg", [0.0, 0.6])
@pytest.mark.parametrize("biased", [False, True])
def test_entry_sampling_estimate_is_exactly_unbiased(biased, reg):
    r"""Entries (book eq. 9.8-9.10): S uniform without replacement from Omega,
    g = (1/|S|) sum_S grad l_ui with l_ui = e_ui^2 + reg (||u_u||^2/|Omega_u| + ||v_i||^2/|Omega^i|
    [+ b_u^2/|Omega_u| + c_i^2/|Omega^i|]). Averaging g over all C(7, s) subsets (every s) must give
    the full gradient of the mean loss to 1e-12. The same per-step formula serves mini-batches."""
    R, U, V, b, c, mu = tiny_problem(biased)
    ratings = Ratings.from_dense(R)
    problem, params = gd._Problem(ratings), as_params(U, V, b, c, mu)
    full = dense_gradient(R, U, V, reg, b, c, mu)
    assert len(ratings) == 7
    for s in range(1, 8):
        mean = average_over_subsets(problem, params, reg, 7, s, lambda S: S, 1.0 / s)
        for got, want in zip(mean, full):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.6])
@pytest.mark.parametrize("biased", [False, True])
def test_column_sampling_estimate_is_exactly_unbiased(biased, reg):
    r"""Columns: C uniform |C|-subset of the n columns, all their entries Omega_C, and
    g = n / (|C| |Omega|) * sum_{Omega_C} grad l_ui (each column is in C with probability |C|/n, so
    E[g] = (1/|Omega|) sum_Omega grad l_ui = grad L). Enumerating all C(4, |C|) column sets for
    |C| = 1..4, with the package's own ``Ratings.by_item.entries`` and ``_sampled_step``."""
    R, U, V, b, c, mu = tiny_problem(biased)
    ratings = Ratings.from_dense(R)
    problem, params = gd._Problem(ratings), as_params(U, V, b, c, mu)
    full = dense_gradient(R, U, V, reg, b, c, mu)
    m, n = R.shape
    for size in range(1, n + 1):
        scale = n / (size * len(ratings))

        def entries_of(cols):
            idx = ratings.by_item.entries(cols)
            # the entries are exactly those of Omega whose column is in C
            np.testing.assert_array_equal(np.sort(idx), np.flatnonzero(np.isin(ratings.cols, cols)))
            return idx

        mean = average_over_subsets(problem, params, reg, n, size, entries_of, scale)
        for got, want in zip(mean, full):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.6])
@pytest.mark.parametrize("biased", [False, True])
def test_row_sampling_estimate_is_exactly_unbiased(biased, reg):
    r"""Rows: the mirror image, g = m / (|R| |Omega|) * sum_{Omega_R} grad l_ui, all C(4, |R|) row sets."""
    R, U, V, b, c, mu = tiny_problem(biased)
    ratings = Ratings.from_dense(R)
    problem, params = gd._Problem(ratings), as_params(U, V, b, c, mu)
    full = dense_gradient(R, U, V, reg, b, c, mu)
    m, n = R.shape
    for size in range(1, m + 1):
        scale = m / (size * len(ratings))

        def entries_of(rows):
            idx = ratings.by_user.entries(rows)
            np.testing.assert_array_equal(np.sort(idx), np.flatnonzero(np.isin(ratings.rows, rows)))
            return idx

        mean = average_over_subsets(problem, params, reg, m, size, entries_of, scale)
        for got, want in zip(mean, full):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(m=st.integers(1, 4), n=st.integers(1, 4), density=st.floats(0.1, 1.0), biased=st.booleans(),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_sampled_estimates_are_unbiased_on_random_covered_problems(m, n, density, biased, seed, data):
    """The exact enumeration on random small problems in which every row and column is rated
    (the decomposition into l_ui is exact there), for one random sample size per mode."""
    rng = np.random.default_rng(seed)
    R = random_dense(rng, m, n, density, cover=True)
    U, V, b, c, mu = random_params(rng, m, n, 2, biased)
    reg = 0.7
    ratings = Ratings.from_dense(R)
    problem, params = gd._Problem(ratings), as_params(U, V, b, c, mu)
    N = len(ratings)
    full = dense_gradient(R, U, V, reg, b, c, mu)
    # every sample size whose subsets are few enough to enumerate quickly (always 1 and N)
    s = data.draw(st.sampled_from([s for s in range(1, N + 1) if math.comb(N, s) <= 300]), label="entries")
    sc = data.draw(st.integers(1, n), label="columns")
    sr = data.draw(st.integers(1, m), label="rows")
    for mean in (
        average_over_subsets(problem, params, reg, N, s, lambda S: S, 1.0 / s),
        average_over_subsets(problem, params, reg, n, sc,
                             lambda C: ratings.by_item.entries(C), n / (sc * N)),
        average_over_subsets(problem, params, reg, m, sr,
                             lambda Rw: ratings.by_user.entries(Rw), m / (sr * N)),
    ):
        for got, want in zip(mean, full):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


def test_sampled_estimate_is_unbiased_with_an_unrated_user_and_item():
    rng = np.random.default_rng(5)
    R = random_dense(rng, 4, 4, 0.7, empty_user=3, empty_item=1)
    U, V, b, c, mu = random_params(rng, 4, 4, 2, False)
    reg = 0.6
    ratings = Ratings.from_dense(R)
    problem, params = gd._Problem(ratings), as_params(U, V, b, c, mu)
    full = dense_gradient(R, U, V, reg)
    N = len(ratings)
    mean = average_over_subsets(problem, params, reg, N, 2, lambda S: S, 0.5)
    for got, want in zip(mean, full):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


class StepSpy:
    """Wraps ``gd._sampled_step`` and ``gd._entries_of_groups`` to record what ``fit`` does."""

    def __init__(self, monkeypatch):
        self.steps, self.groups = [], []
        real_step, real_groups = gd._sampled_step, gd._entries_of_groups

        def step(problem, p, idx, scale, lr, reg):
            self.steps.append((np.array(idx), scale, lr, reg))
            return real_step(problem, p, idx, scale, lr, reg)

        def groups(grouping, chosen):
            self.groups.append(np.array(chosen))
            return real_groups(grouping, chosen)

        monkeypatch.setattr(gd, "_sampled_step", step)
        monkeypatch.setattr(gd, "_entries_of_groups", groups)


@pytest.mark.parametrize("mode, size", [("entries", 5), ("columns", 3), ("rows", 4), ("minibatch", 7)])
def test_fit_uses_the_documented_samples_and_normalizations(monkeypatch, mode, size):
    """What ``fit`` actually does per step (spied): entries: |S| distinct entries, scale 1/|S|,
    ceil(|Omega|/|S|) steps per epoch; columns: all entries of |C| distinct columns, scale
    n/(|C| |Omega|), ceil(n/|C|) steps; rows: m/(|R| |Omega|), ceil(m/|R|) steps; mini-batches: a
    permutation of Omega cut into batches, scale 1/|B|. entries_touched grows by the number of
    entries the steps used."""
    ratings, _, _ = mt.synthetic(13, 11, rank=2, density=0.3, seed=1)
    m, n, N = *ratings.shape, len(ratings)
    spy = StepSpy(monkeypatch)
    n_epochs = 3
    model = mt.GradientDescent(rank=2, sampling=mode, sample_size=size, n_epochs=n_epochs, lr=0.01, reg=0.2,
                               seed=4).fit(ratings)
    per_epoch = {"entries": math.ceil(N / size), "columns": math.ceil(n / size), "rows": math.ceil(m / size),
                 "minibatch": math.ceil(N / size)}[mode]
    assert len(spy.steps) == n_epochs * per_epoch
    touched = np.diff(model.history_["entries_touched"].to_numpy())
    for epoch in range(n_epochs):
        steps = spy.steps[epoch * per_epoch:(epoch + 1) * per_epoch]
        for j, (idx, scale, lr, reg) in enumerate(steps):
            assert lr == 0.01 and reg == 0.2
            if mode == "entries":
                assert len(idx) == size and len(np.unique(idx)) == size and idx.max() < N
                assert scale == pytest.approx(1 / size, rel=1e-15)
            elif mode == "minibatch":
                assert scale == pytest.approx(1 / len(idx), rel=1e-15)
            else:
                chosen = spy.groups[epoch * per_epoch + j]
                assert len(chosen) == size and len(np.unique(chosen)) == size
                index = ratings.cols if mode == "columns" else ratings.rows
                np.testing.assert_array_equal(np.sort(idx), np.flatnonzero(np.isin(index, chosen)))
                groups = n if mode == "columns" else m
                assert scale == pytest.approx(groups / (size * N), rel=1e-15)
        if mode == "minibatch":
            np.testing.assert_array_equal(np.sort(np.concatenate([s[0] for s in steps])), np.arange(N))
            assert all(len(s[0]) == size for s in steps[:-1])
        assert touched[epoch] == sum(len(s[0]) for s in steps)


@pytest.mark.parametrize("mode", SAMPLED)
def test_one_epoch_with_tiny_lr_moves_along_minus_the_full_gradient_on_average(mode):
    r"""Monte Carlo through the public path: ``fit(init=..., n_epochs=1, lr)`` with lr = 1e-7 does
    T steps whose sum is lr * (g_1 + ... + g_T) + O(lr^2), so G = (params_0 - params_1) / (lr T)
    is an average of T unbiased estimates. Over 150 seeds the mean of G must match the full
    gradient within 5 standard errors (SE = sample std / sqrt(150), per coordinate; the seeds
    are fixed, so the test is deterministic) plus 1e-4 |grad| for the O(lr) curvature terms."""
    R, U0, V0, b0, c0, _ = tiny_problem(True)
    ratings = Ratings.from_dense(R)
    mu = float(ratings.values.mean())
    reg, lr, size = 0.6, 1e-7, 2
    N, (m, n) = len(ratings), R.shape
    T = {"entries": math.ceil(N / size), "minibatch": math.ceil(N / size), "columns": math.ceil(n / size),
         "rows": math.ceil(m / size)}[mode]
    init = {"U": U0, "V": V0, "user_bias": b0, "item_bias": c0}
    samples = []
    for seed in range(150):
        model = mt.GradientDescent(rank=2, lr=lr, reg=reg, n_epochs=1, sampling=mode, sample_size=size,
                                   biased=True, seed=seed).fit(ratings, init=init)
        assert model.mu_ == pytest.approx(mu)
        delta = [U0 - model.U_, V0 - model.V_, b0 - model.user_bias_, c0 - model.item_bias_]
        samples.append(np.concatenate([d.ravel() for d in delta]) / (lr * T))
    samples = np.array(samples)
    full = np.concatenate([g.ravel() for g in dense_gradient(R, U0, V0, reg, b0, c0, mu)])
    se = samples.std(axis=0, ddof=1) / math.sqrt(len(samples))
    error = np.abs(samples.mean(axis=0) - full)
    assert np.all(error <= 5 * se + 1e-4 * np.abs(full).max()), (error / np.maximum(se, 1e-300)).max()
    # and the estimates are genuinely random (else the test would be vacuous), except that a
    # whole epoch of mini-batches of equal size sums every l_ui once: 7 = 2+2+2+1 is not equal
    assert se.max() > 1e-3 * np.abs(full).max()


# =============================================================== 3. full gradient descent
def test_one_full_step_is_minus_lr_times_the_dense_gradient():
    rng = np.random.default_rng(2)
    R = random_dense(rng, 7, 5, 0.5, cover=True)
    ratings = Ratings.from_dense(R)
    U0, V0 = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    U0_copy, V0_copy = U0.copy(), V0.copy()
    lr, reg = 0.05, 0.4
    model = mt.GradientDescent(rank=3, lr=lr, reg=reg, n_epochs=1).fit(ratings, init=(U0, V0))
    gU, gV = dense_gradient(R, U0, V0, reg)
    np.testing.assert_allclose(model.U_, U0 - lr * gU, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.V_, V0 - lr * gV, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(U0, U0_copy)  # the caller's arrays are not modified
    np.testing.assert_array_equal(V0, V0_copy)
    assert model.lr_ == lr


def test_one_full_step_with_biases_from_an_init_dict():
    """biased=True: mu is the mean training rating (fixed), b and c start from the init dict and
    take the step -lr * dL/db, -lr * dL/dc."""
    rng = np.random.default_rng(8)
    R = random_dense(rng, 6, 5, 0.6, cover=True)
    ratings = Ratings.from_dense(R)
    U0, V0 = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    b0, c0 = rng.normal(size=6), rng.normal(size=5)
    lr, reg = 0.03, 0.7
    model = mt.GradientDescent(rank=2, lr=lr, reg=reg, n_epochs=1, biased=True).fit(
        ratings, init={"U": U0, "V": V0, "user_bias": b0, "item_bias": c0})
    mu = np.nanmean(R)
    assert model.mu_ == pytest.approx(mu, rel=1e-14)
    for got, start, g in zip((model.U_, model.V_, model.user_bias_, model.item_bias_), (U0, V0, b0, c0),
                             dense_gradient(R, U0, V0, reg, b0, c0, mu)):
        np.testing.assert_allclose(got, start - lr * g, rtol=1e-12, atol=1e-14)
    # the initial history row is the loss at the warm start
    assert model.history_["loss"].iloc[0] == pytest.approx(dense_loss(R, U0, V0, reg, b0, c0, mu), rel=1e-12)


@pytest.mark.parametrize("biased", [False, True])
def test_warm_start_with_tiny_lr_stays_at_the_init(biased):
    ratings, _, _ = mt.synthetic(12, 9, rank=2, density=0.5, seed=3)
    rng = np.random.default_rng(0)
    U0, V0 = rng.normal(size=(12, 2)), rng.normal(size=(9, 2))
    init = (U0, V0) if not biased else {"U": U0, "V": V0, "user_bias": np.full(12, 0.5), "item_bias": np.zeros(9)}
    for mode in MODES:
        model = mt.GradientDescent(rank=2, lr=1e-9, n_epochs=1, sampling=mode, sample_size=3, biased=biased,
                                   reg=0.1).fit(ratings, init=init)
        np.testing.assert_allclose(model.U_, U0, atol=1e-7)
        np.testing.assert_allclose(model.V_, V0, atol=1e-7)
        assert not np.array_equal(model.U_, U0)  # it did take a (tiny) step
        if biased:
            np.testing.assert_allclose(model.user_bias_, 0.5, atol=1e-7)
            np.testing.assert_allclose(model.item_bias_, 0.0, atol=1e-7)


def assert_non_increasing(losses):
    losses = np.asarray(losses)
    assert np.all(np.diff(losses) <= 1e-12 * losses[:-1]), np.diff(losses).max()


@pytest.mark.parametrize("biased", [False, True])
def test_full_gd_with_small_lr_decreases_the_loss_monotonically_on_synthetic_data(biased):
    """For an L-smooth loss, a step lr < 1/L cannot increase it. lr is half the package's
    default (which is meant to be stable), with a penalty."""
    ratings, _, _ = mt.synthetic(40, 30, rank=3, density=0.3, noise=0.3, seed=2)
    ratings = ratings.with_values(ratings.values + 3.0)  # an offset for the biases to learn
    lr = gd.default_lr("full", len(ratings), ratings.user_counts(), ratings.item_counts(), None) / 2
    model = mt.GradientDescent(rank=3, lr=lr, reg=0.5, n_epochs=150, biased=biased).fit(ratings)
    losses = model.history_["loss"].to_numpy()
    assert_non_increasing(losses)
    assert losses[-1] < 0.5 * losses[0]  # and it actually learned


@pytest.mark.parametrize("biased", [False, True])
def test_full_gd_with_small_lr_decreases_the_loss_monotonically_on_movielens(ml100k, biased):
    """The 150 most active users x the 100 most rated movies (~10,000 ratings). Unbiased, the
    start (factors ~ 0.1) has loss ~ mean r^2 ~ 15; biased, it starts at the variance ~ 1."""
    sub = ml100k.top(150, 100)
    lr = gd.default_lr("full", len(sub), sub.user_counts(), sub.item_counts(), None) / 2
    model = mt.GradientDescent(rank=5, lr=lr, reg=2.0, n_epochs=40, biased=biased).fit(sub)
    losses = model.history_["loss"].to_numpy()
    assert_non_increasing(losses)
    assert losses[-1] < (0.9 if biased else 0.1) * losses[0]


# =============================================================== 4. determinism
@pytest.mark.parametrize("mode", MODES)
def test_same_seed_same_numbers_different_seed_different_factors(mode):
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    kwargs = dict(rank=2, n_epochs=3, sampling=mode, sample_size=None if mode == "full" else 4, biased=True,
                  reg=0.1)
    a = mt.GradientDescent(seed=5, **kwargs).fit(ratings)
    b = mt.GradientDescent(seed=5, **kwargs).fit(ratings)
    c = mt.GradientDescent(seed=6, **kwargs).fit(ratings)
    for name in ("U_", "V_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.mu_ == b.mu_
    ha, hb = a.history_.drop(columns="seconds"), b.history_.drop(columns="seconds")
    assert list(ha.columns) == list(hb.columns)
    np.testing.assert_array_equal(ha.to_numpy(), hb.to_numpy())
    assert not np.allclose(a.U_, c.U_)
    assert not np.allclose(a.V_, c.V_)


# =============================================================== 5. divergence
def lr_in_message(message):
    return [float(x) for x in re.findall(r"lr=([0-9.eE+-]+[0-9])", message)]


@pytest.mark.parametrize("mode", MODES)
def test_a_huge_lr_raises_divergence_error_naming_the_lr(mode):
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    lr = 1e6
    with pytest.raises(mt.gd.DivergenceError) as info:
        mt.GradientDescent(rank=2, lr=lr, n_epochs=50, sampling=mode, sample_size=None if mode == "full" else 4,
                           seed=0).fit(ratings)
    message = str(info.value)
    values = lr_in_message(message)
    assert values and values[0] == pytest.approx(lr)  # names the lr used
    assert "smaller" in message.lower()
    assert any(v < lr for v in values[1:])  # and suggests a smaller one
    assert isinstance(info.value, FloatingPointError)


def test_divergence_error_names_the_default_lr_when_lr_is_none(monkeypatch):
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    monkeypatch.setattr(gd, "default_lr", lambda *args: 1e5)
    with pytest.raises(mt.gd.DivergenceError) as info:
        mt.GradientDescent(rank=2, n_epochs=30).fit(ratings)
    assert lr_in_message(str(info.value))[0] == pytest.approx(1e5)


@pytest.mark.parametrize("mode", ["full", "entries", "columns", "minibatch"])
def test_no_nan_factors_are_ever_returned(mode):
    """Sweep lr across the edge of stability: every fit either raises DivergenceError or
    returns finite factors and a finite history."""
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    base = gd.default_lr(mode, len(ratings), ratings.user_counts(), ratings.item_counts(),
                         None if mode == "full" else 4)
    outcomes = []
    for factor in np.logspace(0, 4, 9):
        try:
            model = mt.GradientDescent(rank=2, lr=base * factor, n_epochs=30, sampling=mode,
                                       sample_size=None if mode == "full" else 4, init_scale=1.0).fit(ratings)
        except mt.gd.DivergenceError:
            outcomes.append("diverged")
            continue
        outcomes.append("finite")
        assert np.isfinite(model.U_).all() and np.isfinite(model.V_).all()
        assert np.isfinite(model.history_.drop(columns="seconds").to_numpy()).all()
    assert outcomes[0] == "finite" and outcomes[-1] == "diverged"


# =============================================================== 6. bad input
# bad hyperparameters (rank, reg, n_epochs, sampling, sample_size per mode, lr, init_scale):
# tests/test_models_contract.py
def test_sample_size_at_the_limits_is_accepted():
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    for mode, size in (("entries", len(ratings)), ("columns", 15), ("rows", 20), ("minibatch", len(ratings)),
                       ("entries", 1), ("columns", 1)):
        mt.GradientDescent(rank=2, n_epochs=1, sampling=mode, sample_size=size, lr=1e-3).fit(ratings)


def test_bad_inputs_raise_naming_the_problem():
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    model = mt.GradientDescent(rank=2, n_epochs=2)
    with pytest.raises(TypeError, match="ratings"):
        model.fit(ratings.to_dense())
    with pytest.raises(TypeError, match="eval_set"):
        model.fit(ratings, eval_set=ratings.to_dense())
    other = Ratings([0, 3], [0, 2], [1.0, 2.0], shape=(20, 16))
    with pytest.raises(ValueError, match=r"eval_set has shape \(20, 16\)"):
        model.fit(ratings, eval_set=other)
    with pytest.raises(ValueError, match="init U, V must have shapes"):
        model.fit(ratings, init=(np.zeros((20, 3)), np.zeros((15, 3))))
    with pytest.raises(ValueError, match="init U, V must have shapes"):
        model.fit(ratings, init=(np.zeros((20, 2)), np.zeros((14, 2))))
    with pytest.raises(ValueError, match="init U, V must have shapes"):
        model.fit(ratings, init={"U": np.zeros((19, 2)), "V": np.zeros((15, 2))})
    assert not hasattr(model, "U_")  # nothing half-fitted is left behind


@pytest.mark.parametrize("name, value", [("user_bias", np.zeros(19)), ("item_bias", np.zeros(16))])
def test_init_biases_with_wrong_shapes_raise_naming_them(name, value):
    ratings, _, _ = mt.synthetic(20, 15, rank=2, density=0.4, seed=0)
    init = {"U": np.zeros((20, 2)), "V": np.zeros((15, 2)), name: value}
    with pytest.raises(ValueError, match=name):
        mt.GradientDescent(rank=2, n_epochs=2, biased=True, lr=0.01).fit(ratings, init=init)


# =============================================================== 7. learning
def off_omega_rmse(model, ratings, truth):
    mask = np.zeros(ratings.shape, dtype=bool)
    mask[ratings.rows, ratings.cols] = True
    return float(np.sqrt(np.mean((model.predict_matrix() - truth)[~mask] ** 2)))


@pytest.mark.parametrize("mode, kwargs", [("full", dict(n_epochs=300)),
                                          ("minibatch", dict(n_epochs=150, sample_size=50))])
def test_learning_recovers_a_planted_low_rank_matrix(mode, kwargs):
    """r = u.v + N(0, 0.01^2) on half of a 60 x 40 rank-3 matrix. A rank-3 fit with k (m + n) = 300
    parameters on 1200 entries leaves the residual ~ 0.01 sqrt(1 - 300/1200) ~ 0.009 (below the
    noise: it fits part of it); the unseen entries of U_true V_true^T (std ~ 1) must be recovered
    to a few times the noise level."""
    ratings, U_true, V_true = mt.synthetic(60, 40, rank=3, density=0.5, noise=0.01, seed=0)
    truth = U_true @ V_true.T
    model = mt.GradientDescent(rank=3, sampling=mode, seed=0, **kwargs).fit(ratings)
    train = model.rmse(ratings)
    assert 0.005 < train < 0.015
    mask = np.zeros(ratings.shape, dtype=bool)
    mask[ratings.rows, ratings.cols] = True
    assert truth[~mask].std() > 0.8
    assert off_omega_rmse(model, ratings, truth) < 0.03
    # the fit is that of the truth, not only on Omega: the initial RMSE was ~ 1
    assert model.history_["train_rmse"].iloc[0] > 0.8


def biases_only_baseline_rmse(train, test, reg, iters=60):
    """Ridge regression r ~ mu + b_u + c_i by alternating exact minimization (coordinate blocks;
    each block update is a closed form), scored on ``test``."""
    m, n = train.shape
    mu = train.values.mean()
    b, c = np.zeros(m), np.zeros(n)
    user_n = np.bincount(train.rows, minlength=m)
    item_n = np.bincount(train.cols, minlength=n)
    for _ in range(iters):
        b = np.bincount(train.rows, train.values - mu - c[train.cols], m) / (reg + user_n)
        c = np.bincount(train.cols, train.values - mu - b[train.rows], n) / (reg + item_n)
    pred = mu + b[test.rows] + c[test.cols]
    return float(np.sqrt(np.mean((test.values - pred) ** 2)))


def test_minibatch_on_movielens_beats_the_baselines_and_keeps_a_consistent_history(ml100k):
    train, test = ml100k.split(0.2, seed=0)
    n_epochs = 20
    model = mt.GradientDescent(rank=20, biased=True, reg=15, n_epochs=n_epochs, sampling="minibatch",
                               seed=0).fit(train, eval_set=test)
    # the best biases-only baseline over a grid of penalties (tuned on test: a strict bar)
    baseline = min(biases_only_baseline_rmse(train, test, reg) for reg in (1, 3, 5, 10, 15, 25))
    global_mean = float(np.sqrt(np.mean((test.values - train.values.mean()) ** 2)))
    test_rmse = model.rmse(test)
    assert test_rmse < baseline - 0.005 < global_mean - 0.1

    h = model.history_
    assert list(h.columns) == ["epoch", "loss", "train_rmse", "test_rmse", "entries_touched", "seconds"]
    np.testing.assert_array_equal(h["epoch"], np.arange(n_epochs + 1))
    np.testing.assert_array_equal(h["entries_touched"], len(train) * np.arange(n_epochs + 1))
    assert h["seconds"].iloc[0] == 0 and np.all(np.diff(h["seconds"]) >= 0)
    assert h["train_rmse"].iloc[-1] == pytest.approx(model.rmse(train), rel=1e-10)
    assert h["test_rmse"].iloc[-1] == pytest.approx(test_rmse, rel=1e-10)
    # the initial point: factors ~ 0.1, biases 0, mu = mean: RMSE of the global mean (+ tiny)
    assert h["test_rmse"].iloc[0] == pytest.approx(global_mean, abs=0.01)
    # the history loss is the mean loss of the final parameters
    final = gd.loss(train, model.U_, model.V_, reg=15, user_bias=model.user_bias_, item_bias=model.item_bias_,
                    mu=model.mu_)
    assert h["loss"].iloc[-1] == pytest.approx(final, rel=1e-10)
    assert model.mu_ == pytest.approx(train.values.mean(), rel=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_history_matches_independent_recomputation(mode):
    """Every history column for every mode, at the end point, from the dense formulas."""
    ratings, _, _ = mt.synthetic(25, 18, rank=2, density=0.4, seed=6)
    train, test = ratings.split(0.25, seed=1)
    n_epochs, reg = 4, 0.3
    model = mt.GradientDescent(rank=2, n_epochs=n_epochs, sampling=mode, reg=reg, lr=None,
                               sample_size=None if mode == "full" else 3).fit(train, eval_set=test)
    h = model.history_
    assert list(h.columns) == ["epoch", "loss", "train_rmse", "test_rmse", "entries_touched", "seconds"]
    np.testing.assert_array_equal(h["epoch"], np.arange(n_epochs + 1))
    touched = h["entries_touched"].to_numpy()
    assert touched[0] == 0 and np.all(np.diff(touched) > 0)
    if mode in ("full", "minibatch"):
        np.testing.assert_array_equal(touched, len(train) * np.arange(n_epochs + 1))
    if mode == "entries":
        np.testing.assert_array_equal(touched, math.ceil(len(train) / 3) * 3 * np.arange(n_epochs + 1))
    assert np.all(np.diff(h["seconds"]) >= 0)
    R = train.to_dense()
    assert h["loss"].iloc[-1] == pytest.approx(dense_loss(R, model.U_, model.V_, reg), rel=1e-12)
    pred = model.U_ @ model.V_.T
    assert h["train_rmse"].iloc[-1] == pytest.approx(np.sqrt(np.nanmean((R - pred) ** 2)), rel=1e-12)
    assert h["test_rmse"].iloc[-1] == pytest.approx(np.sqrt(np.nanmean((test.to_dense() - pred) ** 2)), rel=1e-12)
    assert h["train_rmse"].iloc[-1] == pytest.approx(model.rmse(train), rel=1e-12)
    # without eval_set there is no test_rmse column
    alone = mt.GradientDescent(rank=2, n_epochs=1, sampling=mode, sample_size=None if mode == "full" else 3).fit(train)
    assert "test_rmse" not in alone.history_.columns


@pytest.mark.parametrize("mode", ["columns", "rows"])
def test_entries_touched_is_the_sum_of_the_sampled_groups_counts(mode):
    """Reimplementation with the same generator: with ``init`` given, fit draws nothing but the
    groups, ceil(n/|C|) (or ceil(m/|R|)) ``rng.choice(n, |C|, replace=False)`` per epoch; the
    epoch touches the sum of their |Omega^i| (|Omega_u|). Also the bounds and the mean."""
    ratings, _, _ = mt.synthetic(30, 23, rank=2, density=0.2, seed=9)
    m, n = ratings.shape
    size, n_epochs, seed = 4, 60, 12
    counts = ratings.item_counts() if mode == "columns" else ratings.user_counts()
    groups = n if mode == "columns" else m
    steps = math.ceil(groups / size)
    rng = np.random.default_rng(seed)
    expected = [sum(int(counts[rng.choice(groups, size, replace=False)].sum()) for _ in range(steps))
                for _ in range(n_epochs)]
    init = (np.zeros((m, 2)) + 0.1, np.zeros((n, 2)) + 0.1)
    model = mt.GradientDescent(rank=2, n_epochs=n_epochs, sampling=mode, sample_size=size, lr=1e-3,
                               seed=seed).fit(ratings, init=init)
    per_epoch = np.diff(model.history_["entries_touched"].to_numpy())
    np.testing.assert_array_equal(per_epoch, expected)
    ordered = np.sort(counts)
    assert np.all(per_epoch >= steps * ordered[:size].sum())
    assert np.all(per_epoch <= steps * ordered[-size:].sum())
    # E[per epoch] = steps * |C| * |Omega| / n; the sample mean of 60 epochs within 4 SE
    mean = steps * size * len(ratings) / groups
    assert abs(per_epoch.mean() - mean) < 4 * per_epoch.std(ddof=1) / math.sqrt(n_epochs)


@pytest.mark.parametrize("losses, diverged", [([5.0, 4.0, 4999.0], False), ([5.0, 4.0, 5001.0], True),
                                              ([0.1, 999.0], False), ([0.1, 1001.0], True),
                                              ([5.0, float("nan")], True), ([5.0, float("inf")], True)])
def test_stop_if_diverged_flags_a_non_finite_or_thousandfold_loss(losses, diverged):
    records = [{"epoch": e, "loss": value} for e, value in enumerate(losses)]
    if not diverged:
        gd.stop_if_diverged(records, 0.5, "Model")
        return
    with pytest.raises(gd.DivergenceError, match=rf"^Model diverged at epoch {len(losses) - 1}: .* with lr=0\.5 "
                                              r"\(x\)\. Use a smaller learning rate, e\.g\. lr=0\.05\.$"):
        gd.stop_if_diverged(records, 0.5, "Model", " (x)")


# =============================================================== issue 15, item 5
@pytest.mark.parametrize("mode", ["full", "minibatch"])
def test_init_scale_zero_is_refused(mode):
    """U = V = 0 is a saddle: every gradient is 0, the model predicts 0 with a normal-looking history."""
    ratings = mt.synthetic(20, 15, 2, density=0.4, seed=0)[0]
    with pytest.raises(ValueError, match=r"init_scale must be a finite number > 0, got 0"):
        mt.GradientDescent(rank=2, init_scale=0, sampling=mode).fit(ratings)


@pytest.mark.parametrize("mode", ["full", "minibatch"])
def test_divergence_names_the_cause_a_learning_rate_cannot_fix(mode):
    """init_scale=1e200 and ratings near 1e150 were blamed on the learning rate; DivergenceError
    is also a ValueError now (the package's "these settings cannot work")."""
    ratings = mt.synthetic(20, 15, 2, density=0.4, seed=0)[0]
    assert issubclass(gd.DivergenceError, ValueError) and issubclass(gd.DivergenceError, FloatingPointError)
    with pytest.raises(gd.DivergenceError, match=r"a smaller learning rate will not help: init_scale=1e\+200") as info:
        mt.GradientDescent(rank=2, init_scale=1e200, n_epochs=3, sampling=mode).fit(ratings)
    assert "Use a smaller learning rate" not in str(info.value)
    with pytest.raises(gd.DivergenceError, match=r"will not help: the ratings are too large .*rescale"):
        mt.GradientDescent(rank=2, n_epochs=3, sampling=mode).fit(ratings.with_values(ratings.values * 1e150))
    with pytest.raises(gd.DivergenceError, match=r"Use a smaller learning rate"):  # a true lr problem still says so
        mt.GradientDescent(rank=2, n_epochs=30, lr=1e4, sampling=mode, sample_size=None).fit(ratings)


# =============================================================== issue 20, item 3: eval_every and the mini-batch step
def reference_minibatch_fit(ratings, rank, lr, reg, n_epochs, size, biased, seed, init_scale=0.1):
    """Mini-batch SGD as it was before issue 20, written plainly: the same random draws as
    ``GradientDescent(seed=seed)`` (normal U then V, one permutation per epoch), and for every
    batch B the step parameters += lr * (1/|B|) * sum_B -grad l_ui with l_ui of the module
    docstring (the penalty of a row shared among its ratings), scattered entry by entry with
    ``np.add.at``; rows and columns without ratings take their exact penalty step
    2 lr lambda x / |Omega| after every batch."""
    rows, cols, values = ratings.rows, ratings.cols, ratings.values
    (m, n), N = ratings.shape, len(ratings)
    n_u, n_i = np.bincount(rows, minlength=m), np.bincount(cols, minlength=n)
    rng = np.random.default_rng(seed)
    U, V = rng.normal(0.0, init_scale, (m, rank)), rng.normal(0.0, init_scale, (n, rank))
    b, c = np.zeros(m), np.zeros(n)
    mu = values.mean() if biased else 0.0
    for _ in range(n_epochs):
        order = rng.permutation(N)
        for start in range(0, N, size):
            batch = order[start:start + size]
            r, i = rows[batch], cols[batch]
            e = values[batch] - np.sum(U[r] * V[i], axis=1) - (mu + b[r] + c[i] if biased else 0.0)
            gU = 2 * (e[:, None] * V[i] - reg * U[r] / n_u[r][:, None])   # -grad l_ui wrt u_u
            gV = 2 * (e[:, None] * U[r] - reg * V[i] / n_i[i][:, None])
            gb, gc = 2 * (e - reg * b[r] / n_u[r]), 2 * (e - reg * c[i] / n_i[i])
            np.add.at(U, r, lr / len(batch) * gU)
            np.add.at(V, i, lr / len(batch) * gV)
            if biased:
                np.add.at(b, r, lr / len(batch) * gb)
                np.add.at(c, i, lr / len(batch) * gc)
            keep = 1 - 2 * lr * reg / N
            U[n_u == 0] *= keep
            V[n_i == 0] *= keep
            b[n_u == 0] *= keep
            c[n_i == 0] *= keep
    return U, V, b, c


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("reg, size", [(0.0, 7), (0.5, 7), (2.0, 1), (0.5, 64)])
def test_minibatch_fit_is_the_plain_reference_to_1e_12(biased, reg, size):
    """The mini-batch epoch (contiguous batches in epoch order, one penalty factor per row, flat
    bincount scatters) adds the same terms as the plain per-entry reference in another order:
    equal to 1e-12 after 30 epochs, with an unrated user and item and uneven last batches."""
    rng = np.random.default_rng(seed_of("minibatch-ref", biased, reg, size))
    ratings = Ratings.from_dense(random_dense(rng, 23, 17, 0.35, empty_user=4, empty_item=9))
    lr = 0.005 * size * 4
    model = mt.GradientDescent(rank=3, lr=lr, reg=reg, n_epochs=30, sampling="minibatch", sample_size=size,
                               biased=biased, seed=11).fit(ratings)
    U, V, b, c = reference_minibatch_fit(ratings, 3, lr, reg, 30, size, biased, seed=11)
    np.testing.assert_allclose(model.U_, U, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.V_, V, rtol=0, atol=1e-12)
    if biased:
        np.testing.assert_allclose(model.user_bias_, b, rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.item_bias_, c, rtol=0, atol=1e-12)


def test_minibatch_on_movielens_is_the_plain_reference_to_1e_12(ml100k):
    """The lessons' setting: biased, k = 20, batches of 1000, lambda = 10, on real ratings."""
    train = ml100k.split(0.2, seed=0)[0]
    model = mt.GradientDescent(rank=20, reg=10.0, n_epochs=5, sampling="minibatch", biased=True, seed=3,
                               eval_every=0).fit(train)
    U, V, b, c = reference_minibatch_fit(train, 20, model.lr_, 10.0, 5, 1000, True, seed=3)
    for ours, reference in ((model.U_, U), (model.V_, V), (model.user_bias_, b), (model.item_bias_, c)):
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("eval_every", [0, 2, 3])
def test_eval_every_changes_only_the_history_never_the_fit(mode, eval_every):
    """Skipping evaluations leaves every learned number bit-identical; history_ holds the start,
    every eval_every-th epoch and the last one, each row equal to the every-epoch history's."""
    ratings, _, _ = mt.synthetic(25, 18, rank=2, density=0.4, seed=6)
    train, test = ratings.split(0.25, seed=1)
    kwargs = dict(rank=2, n_epochs=7, sampling=mode, reg=0.3, biased=True,
                  sample_size=None if mode == "full" else 3)
    every = mt.GradientDescent(**kwargs).fit(train, eval_set=test)
    some = mt.GradientDescent(**kwargs, eval_every=eval_every).fit(train, eval_set=test)
    for name in ("U_", "V_", "user_bias_", "item_bias_", "mu_"):
        np.testing.assert_array_equal(getattr(some, name), getattr(every, name))
    expected = [0, 7] if eval_every == 0 else sorted({0, 7, *range(eval_every, 8, eval_every)})
    np.testing.assert_array_equal(some.history_["epoch"], expected)
    same_rows = every.history_.set_index("epoch").loc[expected]
    for column in ("loss", "train_rmse", "test_rmse", "entries_touched"):
        np.testing.assert_array_equal(some.history_[column], same_rows[column])
    assert list(some.history_.columns) == list(every.history_.columns)


@pytest.mark.parametrize("mode", ["full", "minibatch"])
def test_eval_every_zero_still_stops_a_blow_up_at_the_epoch_it_happens(mode):
    """With no evaluation planned, a non-finite factor is caught by the per-epoch finiteness check:
    the error names that epoch and the learning rate, and its history ends there."""
    ratings = mt.synthetic(20, 15, 2, density=0.4, seed=0)[0]
    kwargs = dict(rank=2, n_epochs=200, lr=1e4, sampling=mode)
    with pytest.raises(gd.DivergenceError, match=r"Use a smaller learning rate") as every:
        mt.GradientDescent(**kwargs).fit(ratings)
    with pytest.raises(gd.DivergenceError, match=r"Use a smaller learning rate") as never:
        mt.GradientDescent(**kwargs, eval_every=0).fit(ratings)
    blown = never.value.history["epoch"].iloc[-1]
    assert 0 < blown < 200 and not np.isfinite(never.value.history["loss"].iloc[-1])
    assert blown >= every.value.history["epoch"].iloc[-1]  # every epoch may catch the 1000-fold growth earlier
    assert list(never.value.history["epoch"]) == [0, blown]


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_bad_eval_every_is_refused_naming_it(bad):
    ratings = mt.synthetic(20, 15, 2, density=0.4, seed=0)[0]
    with pytest.raises(ValueError, match=r"eval_every must be an integer >= 0"):
        mt.GradientDescent(rank=2, eval_every=bad).fit(ratings)
