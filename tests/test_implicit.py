"""Implicit-feedback weighted ALS (lecture slides, "Matrix Factorization for Implicit Feedback";
Hu, Koren and Volinsky 2008; conjugate gradients after Takacs, Pilaszy and Tikk 2011).

Every expected value is derived independently with DENSE numpy on the full m x n matrices
(the slides' formulation, never the package's sparse speed-up):

    R   m x n with r_ui = the stored value, 0 for a pair that is not stored,
    P = [R > 0],  C = 1 + alpha R  (or 1 + alpha log(1 + R / eps)),
    L = sum_{u,i} C_ui (P_ui - u_u . v_i)^2 + lambda (||U||^2 + ||V||^2),
    u_u = (V^T diag(C_u) V + lambda I)^-1 V^T diag(C_u) P_u   (and the mirror formula for v_i).

What is asserted:
- the fit ends with an exact user half-step: U_ equals the dense closed form for V_ (1e-10), for
  both confidence kinds, several padding-batch sizes, empty users/items (closed form = 0) and
  stored zero values (p = 0, c = 1: identical to not storing them);
- one item half-step equals the dense mirror formula;
- the CG half-step is the Krylov-subspace minimizer of the A-norm error (so that error never
  grows with the number of steps and vanishes after k steps); warm starts stay put; the CG model
  with k steps matches the exact model;
- the loss never increases (exact and CG), ``implicit_loss`` is the dense formula;
- ``explain`` (Hu et al. section 5) decomposes the exact user score over the user's items;
- determinism; bad input is refused with ValueError/TypeError.
"""

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mfteach as mt
from mfteach import implicit
from mfteach.batches import PaddedGroups
from mfteach.implicit import ImplicitALS, _half_step, confidence, implicit_loss
from mfteach.ratings import Ratings


# ---------------------------------------------------------------------------- dense references
def make_implicit(seed, m=9, n=7, density=0.4, zero_share=0.0, empty_user=None, empty_item=None, titles=False):
    """Random counts 1..5 on a random Omega; ``zero_share`` of the stored entries hold the value 0;
    ``empty_user`` / ``empty_item`` get no stored entry at all."""
    rng = np.random.default_rng(seed)
    known = rng.random((m, n)) < density
    if empty_user is not None:
        known[empty_user, :] = False
    if empty_item is not None:
        known[:, empty_item] = False
    if not known.any():
        u = next(u for u in range(m) if u != empty_user)
        i = next(i for i in range(n) if i != empty_item)
        known[u, i] = True
    values = rng.integers(1, 6, size=(m, n)).astype(float)
    values[rng.random((m, n)) < zero_share] = 0.0
    rows, cols = np.nonzero(known)
    extra = {"item_titles": np.array([f"movie {i}" for i in range(n)], dtype=object)} if titles else {}
    return Ratings(rows, cols, values[rows, cols], shape=(m, n), **extra)



def _Groups(indptr, index, n_features):
    """The padded layout ImplicitALS builds, with its current (possibly patched) batch size."""
    return PaddedGroups(indptr, index, n_features, implicit.BUCKET_SIZE)

def dense_P_C(ratings, alpha, kind="linear", eps=1.0):
    """The slides' P and C as full m x n arrays (a pair that is not stored has r = 0)."""
    R = np.zeros(ratings.shape)
    R[ratings.rows, ratings.cols] = ratings.values
    P = (R > 0).astype(float)
    if kind == "linear":
        C = 1.0 + alpha * R
    else:
        C = 1.0 + alpha * np.log(1.0 + R / eps)
    return P, C


def dense_rows_solve(P, C, F, reg):
    """x_u = (F^T diag(C_u) F + reg I)^-1 F^T diag(C_u) P_u for every row u of P (slides' closed form)."""
    k = F.shape[1]
    return np.array([
        np.linalg.solve(F.T @ np.diag(C[u]) @ F + reg * np.eye(k), F.T @ np.diag(C[u]) @ P[u])
        for u in range(P.shape[0])
    ]).reshape(P.shape[0], k)


def dense_loss(P, C, U, V, reg):
    return float(np.sum(C * (P - U @ V.T) ** 2) + reg * (np.sum(U**2) + np.sum(V**2)))


def user_groups(ratings, alpha, kind="linear", eps=1.0):
    """Omega grouped by user (entries are stored sorted by user), with weights c - 1 and targets c p."""
    P, C = dense_P_C(ratings, alpha, kind, eps)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(ratings.rows, minlength=ratings.shape[0]))))
    c, p = C[ratings.rows, ratings.cols], P[ratings.rows, ratings.cols]
    return _Groups(indptr, ratings.cols.copy(), ratings.shape[1]), c - 1.0, c * p


def item_groups(ratings, alpha, kind="linear", eps=1.0):
    """Omega grouped by item (built here by lexsort, independently of ``fit``)."""
    P, C = dense_P_C(ratings, alpha, kind, eps)
    order = np.lexsort((ratings.rows, ratings.cols))
    rows, cols = ratings.rows[order], ratings.cols[order]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=ratings.shape[1]))))
    c, p = C[rows, cols], P[rows, cols]
    return _Groups(indptr, rows, ratings.shape[0]), c - 1.0, c * p


def system(ratings, alpha, F, reg, u, kind="linear"):
    """A_u = F^T diag(C_u) F + reg I and b_u = F^T diag(C_u) P_u, dense."""
    P, C = dense_P_C(ratings, alpha, kind)
    return F.T @ np.diag(C[u]) @ F + reg * np.eye(F.shape[1]), F.T @ np.diag(C[u]) @ P[u]


# ---------------------------------------------------------------------------- confidence
def test_confidence_is_hu_koren_volinsky_eq_6_and_7():
    r = np.array([0.0, 1.0, 2.5, 7.0])
    np.testing.assert_allclose(confidence(r, 40.0), [1.0, 41.0, 101.0, 281.0], rtol=1e-15)
    np.testing.assert_allclose(confidence(r, 3.0, "log", eps=0.5),
                               1.0 + 3.0 * np.log(1.0 + r / 0.5), rtol=1e-14)
    assert confidence(r, 3.0, "log")[0] == 1.0  # r = 0: c = 1 for both kinds
    with pytest.raises(ValueError, match="confidence must be 'linear' or 'log'"):
        confidence(r, 1.0, "square")


# ---------------------------------------------------------------------------- padded groups
@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 6), min_size=1, max_size=30), bucket=st.sampled_from([1, 2, 3, 5, 64]),
       seed=st.integers(0, 2**32 - 1))
def test_groups_batches_cover_every_entry_once_with_neutral_padding(counts, bucket, seed):
    if sum(counts) == 0:
        counts[0] = 1
    n_features = 8
    rng = np.random.default_rng(seed)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    index = rng.integers(0, n_features, indptr[-1])
    with mock.patch.object(implicit, "BUCKET_SIZE", bucket):
        groups = _Groups(indptr, index, n_features)
    seen = []
    for batch, rows, entries in groups.batches:
        assert len(batch) <= bucket
        for g, row, entry in zip(batch, rows, entries):
            lo, hi = indptr[g], indptr[g + 1]
            np.testing.assert_array_equal(entry[: hi - lo], np.arange(lo, hi))
            np.testing.assert_array_equal(row[: hi - lo], index[lo:hi])
            assert np.all(entry[hi - lo:] == len(index))  # padding -> the appended zero weight
            assert np.all(row[hi - lo:] == n_features)  # padding -> the appended zero feature row
        seen.extend(batch.tolist())
    assert sorted(seen) == list(range(len(counts)))


# ---------------------------------------------------------------------------- exact solver vs dense closed form
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 11),
    n=st.integers(1, 9),
    rank=st.integers(1, 4),
    kind=st.sampled_from(["linear", "log"]),
    alpha=st.sampled_from([0.0, 1.0, 40.0]),
    reg=st.sampled_from([0.05, 0.1, 2.0]),
    zero_share=st.sampled_from([0.0, 0.3]),
    bucket=st.sampled_from([1, 2, 3, 64]),
    with_empty=st.booleans(),
)
def test_fit_alternates_the_dense_closed_form_item_and_user_steps(seed, m, n, rank, kind, alpha, reg, zero_share, bucket,
                                                       with_empty):
    empty_user = (m - 1) if with_empty and m > 1 else None
    empty_item = 0 if with_empty and n > 1 else None
    ratings = make_implicit(seed, m, n, 0.5, zero_share, empty_user, empty_item)
    kwargs = dict(rank=rank, reg=reg, alpha=alpha, confidence=kind, eps=0.7, seed=seed % 1000)
    with mock.patch.object(implicit, "BUCKET_SIZE", bucket):
        before = ImplicitALS(n_iters=2, **kwargs).fit(ratings)
        model = ImplicitALS(n_iters=3, **kwargs).fit(ratings)  # same seed: iteration 3 starts from before.U_
    P, C = dense_P_C(ratings, alpha, kind, eps=0.7)
    # iteration 3: v_i = (U^T diag(C^i) U + lambda I)^-1 U^T diag(C^i) P^i, then the user step
    np.testing.assert_allclose(model.V_, dense_rows_solve(P.T, C.T, before.U_, reg), rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.U_, dense_rows_solve(P, C, model.V_, reg), rtol=0, atol=1e-10)
    if empty_user is not None:  # (V^T V + lambda I)^-1 0 = 0, exactly
        assert np.all(model.U_[empty_user] == 0.0)
    if empty_item is not None:
        assert np.all(model.V_[empty_item] == 0.0)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 11),
    n=st.integers(1, 9),
    rank=st.integers(1, 4),
    kind=st.sampled_from(["linear", "log"]),
    zero_share=st.sampled_from([0.0, 0.3]),
    bucket=st.sampled_from([1, 2, 3, 64]),
)
def test_item_half_step_equals_the_dense_mirror_formula(seed, m, n, rank, kind, zero_share, bucket):
    ratings = make_implicit(seed, m, n, 0.5, zero_share, empty_item=n - 1 if n > 1 else None)
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(m, rank))
    alpha, reg = 10.0, 0.3
    with mock.patch.object(implicit, "BUCKET_SIZE", bucket):
        groups, w, t = item_groups(ratings, alpha, kind)
    V = _half_step(groups, U, w, t, reg, "exact", np.zeros((n, rank)), 1)
    P, C = dense_P_C(ratings, alpha, kind)
    # v_i = (U^T diag(C^i) U + lambda I)^-1 U^T diag(C^i) P^i, C^i and P^i the columns
    np.testing.assert_allclose(V, dense_rows_solve(P.T, C.T, U, reg), rtol=0, atol=1e-10)


def test_many_users_span_several_padded_batches():
    """More than BUCKET_SIZE users of very different activity (default batching)."""
    rng = np.random.default_rng(11)
    m, n = 150, 40
    known = rng.random((m, n)) < rng.uniform(0.02, 0.9, m)[:, None]
    known[17] = False
    rows, cols = np.nonzero(known)
    ratings = Ratings(rows, cols, rng.integers(1, 4, len(rows)).astype(float), shape=(m, n))
    model = ImplicitALS(rank=5, reg=0.5, alpha=20.0, n_iters=2).fit(ratings)
    P, C = dense_P_C(ratings, 20.0)
    np.testing.assert_allclose(model.U_, dense_rows_solve(P, C, model.V_, 0.5), rtol=0, atol=1e-10)
    assert np.all(model.U_[17] == 0.0)


@pytest.mark.parametrize("kind", ["linear", "log"])
def test_stored_zero_values_are_the_same_as_not_storing_them(kind):
    """r = 0 stored gives p = 0, c = 1: exactly the contribution of a pair that is not stored."""
    with_zeros = make_implicit(5, m=12, n=10, density=0.6, zero_share=0.35)
    nonzero = with_zeros.values > 0
    assert (~nonzero).sum() >= 5
    without = Ratings(with_zeros.rows[nonzero], with_zeros.cols[nonzero], with_zeros.values[nonzero],
                      shape=with_zeros.shape)
    kwargs = dict(rank=3, reg=0.2, alpha=15.0, n_iters=4, confidence=kind, seed=2)
    a, b = ImplicitALS(**kwargs).fit(with_zeros), ImplicitALS(**kwargs).fit(without)
    np.testing.assert_allclose(a.U_, b.U_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.V_, b.V_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.history_["loss"], b.history_["loss"], rtol=1e-12)
    assert implicit_loss(with_zeros, a.U_, a.V_, 0.2, 15.0, kind) == pytest.approx(
        implicit_loss(without, a.U_, a.V_, 0.2, 15.0, kind), rel=1e-12)


def test_user_with_only_zero_values_gets_the_zero_vector():
    # user 1 stores only zeros: P_1 = 0, so u_1 = A^-1 V^T C^1 0 = 0
    ratings = Ratings([0, 0, 1, 1, 2], [0, 2, 1, 3, 3], [3.0, 1.0, 0.0, 0.0, 2.0], shape=(3, 4))
    model = ImplicitALS(rank=2, reg=0.1, alpha=5.0, n_iters=3).fit(ratings)
    assert np.all(model.U_[1] == 0.0)


# ---------------------------------------------------------------------------- conjugate gradients
def krylov_minimizer(A, b, x0, s):
    """argmin of ||x - A^-1 b||_A over x0 + span{r0, A r0, ..., A^(s-1) r0} (Galerkin projection on
    an orthonormal Arnoldi basis): what s exact CG steps must return."""
    r0 = b - A @ x0
    basis = []
    q = r0
    for _ in range(s):
        for _ in range(2):  # Gram-Schmidt twice
            for v in basis:
                q = q - (v @ q) * v
        norm = np.linalg.norm(q)
        if norm <= 1e-12 * max(np.linalg.norm(r0), 1e-300):
            break  # the Krylov space is invariant: CG has already converged
        basis.append(q / norm)
        q = A @ basis[-1]
    if not basis:
        return x0
    Q = np.array(basis).T
    return x0 + Q @ np.linalg.solve(Q.T @ A @ Q, Q.T @ r0)


def cg_problem(seed=0, m=10, n=12, k=4, alpha=3.0, reg=0.5):
    ratings = make_implicit(seed, m, n, 0.5, zero_share=0.1, empty_user=m - 1)
    rng = np.random.default_rng(seed + 100)
    V = rng.normal(size=(n, k))
    X0 = rng.normal(size=(m, k))
    groups, w, t = user_groups(ratings, alpha)
    exact = _half_step(groups, V, w, t, reg, "exact", X0, 1)
    return ratings, V, X0, groups, w, t, exact, alpha, reg


@pytest.mark.parametrize("seed", [0, 1])
def test_cg_steps_are_the_krylov_subspace_minimizers(seed):
    ratings, V, X0, groups, w, t, exact, alpha, reg = cg_problem(seed)
    k = V.shape[1]
    for s in range(1, k + 1):
        X = _half_step(groups, V, w, t, reg, "cg", X0, s)
        for u in range(ratings.shape[0]):
            A, b = system(ratings, alpha, V, reg, u)
            expected = krylov_minimizer(A, b, X0[u], s)
            np.testing.assert_allclose(X[u], expected, rtol=1e-7, atol=1e-9 * np.linalg.norm(X0[u] - exact[u]))


@pytest.mark.parametrize("alpha", [3.0, 40.0])
def test_cg_a_norm_error_never_grows_and_vanishes_after_k_steps(alpha):
    ratings, V, X0, groups, w, t, exact, alpha, reg = cg_problem(3, alpha=alpha)
    m, k = X0.shape
    systems = [system(ratings, alpha, V, reg, u) for u in range(m)]
    # the exact solver is the dense closed form
    np.testing.assert_allclose(exact, [np.linalg.solve(A, b) for A, b in systems], rtol=0, atol=1e-10)

    def a_norm_errors(X):
        return np.array([np.sqrt((X[u] - exact[u]) @ systems[u][0] @ (X[u] - exact[u])) for u in range(m)])

    errors = np.array([a_norm_errors(X0)] + [a_norm_errors(_half_step(groups, V, w, t, reg, "cg", X0, s))
                                             for s in range(1, k + 3)])
    start = errors[0]
    assert np.all(np.diff(errors, axis=0) <= 1e-9 * start)  # monotone in s, for every user
    assert np.all(errors[1] > 1e-3 * start)  # one step is not enough ...
    relative = (np.linalg.norm(_half_step(groups, V, w, t, reg, "cg", X0, k) - exact, axis=1)
                / np.linalg.norm(X0 - exact, axis=1))
    assert np.all(relative < 1e-8)  # ... k steps solve a k x k system


def test_cg_warm_started_at_the_solution_stays_there_and_warm_starts_help():
    ratings, V, X0, groups, w, t, exact, alpha, reg = cg_problem(4)
    for s in (1, 2, 7):
        np.testing.assert_allclose(_half_step(groups, V, w, t, reg, "cg", exact, s), exact, rtol=0, atol=1e-12)
    near = exact + 1e-3 * np.random.default_rng(0).normal(size=exact.shape)
    cold = _half_step(groups, V, w, t, reg, "cg", np.zeros_like(exact), 1)
    warm = _half_step(groups, V, w, t, reg, "cg", near, 1)
    assert np.linalg.norm(warm - exact) < 1e-2 * np.linalg.norm(cold - exact)


@pytest.mark.parametrize("kind", ["linear", "log"])
def test_cg_model_with_k_steps_matches_the_exact_model(kind):
    ratings = make_implicit(8, m=20, n=15, density=0.35, zero_share=0.1, empty_user=4, empty_item=6)
    kwargs = dict(rank=4, reg=0.3, alpha=10.0, n_iters=6, confidence=kind, seed=1)
    exact = ImplicitALS(solver="exact", **kwargs).fit(ratings)
    cg = ImplicitALS(solver="cg", cg_steps=4, **kwargs).fit(ratings)
    np.testing.assert_allclose(cg.U_, exact.U_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cg.V_, exact.V_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cg.history_["loss"], exact.history_["loss"], rtol=1e-6)


# ---------------------------------------------------------------------------- the loss
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 10), n=st.integers(1, 10), rank=st.integers(1, 4),
       kind=st.sampled_from(["linear", "log"]), zero_share=st.sampled_from([0.0, 0.4]),
       reg=st.sampled_from([0.0, 0.1, 3.0]))
def test_implicit_loss_is_the_dense_sum_over_all_pairs(seed, m, n, rank, kind, zero_share, reg):
    ratings = make_implicit(seed, m, n, 0.5, zero_share)
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(m, rank)), rng.normal(size=(n, rank))
    P, C = dense_P_C(ratings, 7.0, kind, eps=2.0)
    expected = dense_loss(P, C, U, V, reg)
    assert implicit_loss(ratings, U, V, reg, 7.0, kind, eps=2.0) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("kind", ["linear", "log"])
def test_loss_never_increases_and_history_is_the_dense_loss(solver, kind):
    """Each exact half-step minimizes its block; a CG half-step warm-started from the previous
    block lowers the block's quadratic too (CG decreases the A-norm error monotonically)."""
    ratings = make_implicit(2, m=30, n=25, density=0.25, zero_share=0.1, empty_user=0)
    model = ImplicitALS(rank=5, reg=0.1, alpha=40.0, n_iters=12, solver=solver, cg_steps=2, confidence=kind,
                        init_scale=0.5, seed=0).fit(ratings)
    loss = model.history_["loss"].to_numpy()
    assert list(model.history_["epoch"]) == list(range(13))
    assert np.all(np.diff(loss) <= 1e-12 * loss[0])
    assert loss[-1] < 0.5 * loss[0]
    P, C = dense_P_C(ratings, 40.0, kind)
    m, n = ratings.shape
    assert loss[-1] == pytest.approx(dense_loss(P, C, model.U_, model.V_, 0.1) / (m * n), rel=1e-12)
    assert model.loss() == pytest.approx(dense_loss(P, C, model.U_, model.V_, 0.1), rel=1e-12)


def test_loss_on_movielens_never_increases(ml100k):
    implicit_data = ml100k.top(300, 400)
    implicit_data = implicit_data.with_values(np.ones(len(implicit_data)))
    model = ImplicitALS(rank=16, reg=0.1, alpha=40.0, n_iters=6).fit(implicit_data)
    loss = model.history_["loss"].to_numpy()
    assert np.all(np.diff(loss) <= 1e-12 * loss[0])


# ---------------------------------------------------------------------------- explain (Hu et al. section 5)
@pytest.fixture(scope="module")
def explained():
    ratings = make_implicit(21, m=10, n=12, density=0.45, zero_share=0.15, empty_user=3, titles=True)
    model = ImplicitALS(rank=3, reg=0.2, alpha=8.0, n_iters=5, confidence="log", eps=0.5, seed=4).fit(ratings)
    return ratings, model


def test_explain_contributions_sum_to_the_score_and_similarity_is_dense(explained):
    ratings, model = explained
    P, C = dense_P_C(ratings, 8.0, "log", eps=0.5)
    V = model.V_
    for user in range(ratings.shape[0]):
        W = np.linalg.inv(V.T @ np.diag(C[user]) @ V + 0.2 * np.eye(3))
        seen = np.sort(ratings.cols[ratings.rows == user])
        for item in (0, 5, 11):
            frame = model.explain(user, item)
            assert list(frame.columns) == ["item", "title", "confidence", "similarity", "contribution"]
            assert sorted(frame["item"]) == list(seen)  # exactly the user's training items
            j = frame["item"].to_numpy(dtype=int)
            np.testing.assert_allclose(frame["similarity"], V[j] @ W @ V[item], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(frame["confidence"], C[user, j], rtol=1e-14)
            np.testing.assert_allclose(frame["contribution"], V[j] @ W @ V[item] * C[user, j] * P[user, j],
                                       rtol=1e-10, atol=1e-12)
            assert frame["contribution"].sum() == pytest.approx(model.predict([user], [item])[0], abs=1e-10)
            assert list(frame["title"]) == [f"movie {i}" for i in j]
            magnitude = frame["contribution"].abs().to_numpy()
            assert np.all(np.diff(magnitude) <= 0)  # largest contribution (in magnitude) first


def test_explain_empty_user_and_zero_valued_items(explained):
    ratings, model = explained
    frame = model.explain(3, 2)  # user 3 has no training item: nothing to explain, score 0
    assert len(frame) == 0 and model.predict([3], [2])[0] == 0.0
    zero = np.flatnonzero(ratings.values == 0)[0]
    user, item = int(ratings.rows[zero]), int(ratings.cols[zero])
    row = model.explain(user, 0).set_index("item").loc[item]
    assert row["confidence"] == 1.0 and row["contribution"] == 0.0  # p = 0: no contribution


def test_explain_after_cg_sums_to_the_exact_user_solution():
    ratings = make_implicit(9, m=12, n=10, density=0.5)
    model = ImplicitALS(rank=3, reg=0.1, alpha=40.0, n_iters=3, solver="cg", cg_steps=1).fit(ratings)
    P, C = dense_P_C(ratings, 40.0)
    exact_U = dense_rows_solve(P, C, model.V_, 0.1)
    for user in (0, 4, 7):
        for item in range(10):
            total = model.explain(user, item)["contribution"].sum()
            assert total == pytest.approx(exact_U[user] @ model.V_[item], abs=1e-10)


def test_explain_without_titles_shows_item_ids():
    ratings = Ratings([0, 0, 1, 2], [0, 2, 1, 2], [1.0, 2.0, 1.0, 4.0], shape=(3, 3), items=np.array([10, 20, 30]))
    model = ImplicitALS(rank=2, n_iters=2).fit(ratings)
    assert list(model.explain(0, 1)["title"].sort_values()) == [10, 30]


@pytest.mark.parametrize("user,item,named", [(-1, 0, "user"), (10, 0, "user"), (0, -1, "item"), (0, 12, "item")])
def test_explain_rejects_bad_user_or_item(explained, user, item, named):
    with pytest.raises(ValueError, match=f"{named} must be an index in"):
        explained[1].explain(user, item)


def test_explain_before_fit_is_refused():
    with pytest.raises(RuntimeError, match="not fitted"):
        ImplicitALS().explain(0, 0)


# ---------------------------------------------------------------------------- determinism and API
def test_same_seed_same_factors_different_seed_different_factors():
    ratings = make_implicit(1, m=15, n=11, density=0.4)
    for solver in ("exact", "cg"):
        a = ImplicitALS(rank=3, n_iters=3, solver=solver, seed=7).fit(ratings)
        b = ImplicitALS(rank=3, n_iters=3, solver=solver, seed=7).fit(ratings)
        c = ImplicitALS(rank=3, n_iters=3, solver=solver, seed=8).fit(ratings)
        np.testing.assert_array_equal(a.U_, b.U_)
        np.testing.assert_array_equal(a.V_, b.V_)
        assert not np.allclose(a.V_, c.V_)


def test_predict_is_u_dot_v_and_public_name():
    assert mt.ImplicitALS is ImplicitALS
    ratings = make_implicit(2)
    model = ImplicitALS(rank=2, n_iters=2).fit(ratings)
    np.testing.assert_allclose(model.predict_matrix(), model.U_ @ model.V_.T, rtol=1e-14)
    assert isinstance(model.history_, pd.DataFrame)
    assert list(model.history_.columns) == ["epoch", "loss", "seconds"]


# ---------------------------------------------------------------------------- bad input
def test_negative_values_are_refused_naming_the_entry():
    ratings = Ratings([0, 0, 1, 1], [0, 1, 0, 2], [1.0, 2.0, 3.0, -2.0], shape=(2, 3))
    with pytest.raises(ValueError, match=r"must be >= 0; entry 3 is -2\.0"):
        ImplicitALS().fit(ratings)


def test_non_ratings_are_refused():
    with pytest.raises(TypeError, match="Ratings"):
        ImplicitALS().fit(np.ones((3, 3)))


# bad hyperparameters: tests/test_models_contract.py
@pytest.mark.parametrize("user", [1.5, True])
def test_explain_rejects_non_integer_user(explained, user):
    with pytest.raises(ValueError, match="user must be"):
        explained[1].explain(user, 0)


def test_reg0_with_rank_above_n_is_refused_with_a_clear_message():
    ratings = Ratings([0, 0, 1, 2], [0, 1, 2, 2], [1.0, 2.0, 1.0, 3.0], shape=(4, 3))
    with pytest.raises(ValueError, match=r"(?i)\breg\b|lambda|rank"):
        ImplicitALS(rank=5, reg=0.0, n_iters=2).fit(ratings)


def test_reg0_with_full_rank_factors_is_the_unregularized_closed_form():
    ratings = make_implicit(6, m=10, n=9, density=0.5)
    model = ImplicitALS(rank=3, reg=0.0, alpha=5.0, n_iters=3, init_scale=1.0).fit(ratings)
    P, C = dense_P_C(ratings, 5.0)
    np.testing.assert_allclose(model.U_, dense_rows_solve(P, C, model.V_, 0.0), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------- issue 15, item 5
def _counts(seed=0):
    ratings = mt.synthetic(25, 18, 3, density=0.35, seed=seed)[0]
    return ratings.with_values(np.round(np.abs(ratings.values) * 3) + 1)


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_init_scale_zero_is_refused(solver):
    with pytest.raises(ValueError, match=r"init_scale must be a finite number > 0, got 0"):
        ImplicitALS(rank=3, init_scale=0, solver=solver).fit(_counts())


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_overflowing_confidences_or_factors_name_their_cause(solver):
    """alpha=1e300 gave NaN predictions with only RuntimeWarnings (cg) or blamed reg (exact)."""
    import warnings

    ratings = _counts()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning: a clear error only
        with pytest.raises(ValueError, match=r"confidences .* reach .*alpha=1e\+300 makes the confidences"):
            ImplicitALS(rank=3, alpha=1e300, solver=solver).fit(ratings)
        with pytest.raises(ValueError, match=r"the ratings are too large"):
            ImplicitALS(rank=3, solver=solver).fit(ratings.with_values(ratings.values * 1e150))
        with pytest.raises(ValueError, match=r"non-finite .*init_scale=1e\+200 makes the initial factors"):
            ImplicitALS(rank=3, init_scale=1e200, solver=solver).fit(ratings)
    model = ImplicitALS(rank=3, alpha=1e6, solver=solver).fit(ratings)  # large but representable: fine
    assert np.isfinite(model.predict_matrix()).all()


# ---------------------------------------------------------------------------- issue 20, item 4
def pre_issue_20_fit(ratings, rank, reg, alpha, n_iters, solver, cg_steps, seed, init_scale=0.01):
    """ImplicitALS's fit as it was before issue 20, written out: the same padded batches, every
    half-step re-gathering the weights (fancy indexing into c - 1 with a 0 appended), re-building
    the sparse matrix of the targets and gathering the feature rows into fresh arrays, the same
    products in the same order. The later code only builds the first two once per fit and
    gathers into a reused buffer, so the factors must agree to the bit."""
    import scipy.sparse as sp

    m, n = ratings.shape
    c = confidence(ratings.values, alpha)
    p = (ratings.values > 0).astype(float)
    by_user, by_item = ratings.by_user, ratings.by_item
    users = PaddedGroups(by_user.indptr, by_user.index, n, implicit.BUCKET_SIZE)
    items = PaddedGroups(by_item.indptr, by_item.index, m, implicit.BUCKET_SIZE)
    user_w, user_t = c - 1.0, c * p
    item_w, item_t = user_w[by_item.order], user_t[by_item.order]

    def half_step(groups, features, weights, targets, previous):
        k = features.shape[1]
        gram = features.T @ features + reg * np.eye(k)
        padded = groups.padded_features(features)
        weights_padded = np.append(weights, 0.0)
        rhs = sp.csr_matrix((targets, groups.index, groups.indptr),
                            shape=(groups.n_groups, features.shape[0])) @ features
        solution = np.empty((groups.n_groups, k))
        for batch, rows, entries in groups.batches:
            X, w, b = padded[rows], weights_padded[entries], rhs[batch]
            Xt = X.transpose(0, 2, 1)
            if solver == "exact":
                solution[batch] = np.linalg.solve(gram + np.matmul(Xt, X * w[..., None]), b[..., None])[..., 0]
                continue
            x = previous[batch].copy()

            def apply(z):
                return z @ gram + np.matmul(Xt, w[..., None] * np.matmul(X, z[..., None]))[..., 0]

            r = b - apply(x)
            d = r.copy()
            rr = np.einsum("bk,bk->b", r, r)
            for _ in range(cg_steps):
                Ad = apply(d)
                dAd = np.einsum("bk,bk->b", d, Ad)
                step = np.divide(rr, dAd, out=np.zeros_like(rr), where=dAd > 0)
                x += step[:, None] * d
                r -= step[:, None] * Ad
                rr_next = np.einsum("bk,bk->b", r, r)
                d = r + np.divide(rr_next, rr, out=np.zeros_like(rr), where=rr > 0)[:, None] * d
                rr = rr_next
            solution[batch] = x
        return solution

    rng = np.random.default_rng(seed)
    U = rng.random((m, rank)) * init_scale
    V = rng.random((n, rank)) * init_scale
    for _ in range(n_iters):
        V = half_step(items, U, item_w, item_t, V)
        U = half_step(users, V, user_w, user_t, U)
    return U, V


@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("bucket", [2, 64])
def test_fit_is_bit_identical_to_the_pre_issue_20_half_steps(solver, bucket):
    """Batch assembly once per fit, gathers into a reused buffer, products into preallocated
    outputs: the maths and its order are unchanged, so the factors are the same bits."""
    ratings = make_implicit(17, m=40, n=31, density=0.3, zero_share=0.2, empty_user=3, empty_item=5)
    with mock.patch.object(implicit, "BUCKET_SIZE", bucket):
        model = ImplicitALS(rank=6, reg=0.3, alpha=12.0, n_iters=5, solver=solver, cg_steps=2, seed=4,
                            eval_every=0).fit(ratings)
        U, V = pre_issue_20_fit(ratings, 6, 0.3, 12.0, 5, solver, 2, seed=4)
    np.testing.assert_array_equal(model.U_, U)
    np.testing.assert_array_equal(model.V_, V)


def test_fit_on_movielens_is_bit_identical_to_the_pre_issue_20_half_steps(ml100k):
    """The benchmark's setting on real data (k = 64, CG, 3 steps), a few iterations."""
    binary = ml100k.with_values(np.ones(len(ml100k)))
    model = ImplicitALS(rank=64, reg=0.1, alpha=40.0, n_iters=3, solver="cg", seed=0, eval_every=0).fit(binary)
    U, V = pre_issue_20_fit(binary, 64, 0.1, 40.0, 3, "cg", 3, seed=0)
    np.testing.assert_array_equal(model.U_, U)
    np.testing.assert_array_equal(model.V_, V)


@pytest.mark.parametrize("solver", ["exact", "cg"])
@pytest.mark.parametrize("eval_every", [0, 2, 4])
def test_eval_every_changes_only_the_history_never_the_factors(solver, eval_every):
    """Skipping loss evaluations leaves U_ and V_ bit-identical; history_ holds the start, every
    eval_every-th iteration and the last, each row the every-iteration history's loss."""
    ratings = make_implicit(5, m=30, n=22, density=0.3)
    kwargs = dict(rank=4, reg=0.2, alpha=10.0, n_iters=7, solver=solver, seed=2)
    every = ImplicitALS(**kwargs).fit(ratings)
    some = ImplicitALS(**kwargs, eval_every=eval_every).fit(ratings)
    np.testing.assert_array_equal(some.U_, every.U_)
    np.testing.assert_array_equal(some.V_, every.V_)
    expected = [0, 7] if eval_every == 0 else sorted({0, 7, *range(eval_every, 8, eval_every)})
    np.testing.assert_array_equal(some.history_["epoch"], expected)
    np.testing.assert_array_equal(some.history_["loss"], every.history_.set_index("epoch").loc[expected, "loss"])
    assert list(some.history_.columns) == ["epoch", "loss", "seconds"]


def test_eval_every_zero_still_reports_overflowing_factors_at_once():
    """No loss is planned between the start and the end, but non-finite factors are caught the
    iteration they appear, with the cause named as before."""
    ratings = make_implicit(0, m=12, n=9, density=0.5)
    for solver in ("exact", "cg"):
        with pytest.raises(ValueError, match=r"non-finite .*init_scale=1e\+200 makes the initial factors"):
            ImplicitALS(rank=3, init_scale=1e200, solver=solver, n_iters=5, eval_every=0).fit(ratings)


@pytest.mark.parametrize("bad", [-1, 0.5, "1", True, None])
def test_bad_eval_every_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=r"eval_every must be an integer >= 0"):
        ImplicitALS(rank=2, eval_every=bad).fit(make_implicit(0))
