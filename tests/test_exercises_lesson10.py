"""Lesson 10's exercises (10_implicit_feedback, registered by ``mfteach.exercises.lesson10``): the weighted
(implicit-feedback) user update (lecture slides, "Closed Form") and the same update from V^T V (Hu et al.
section 4); and the lesson's questions."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from mfteach.data import toy
from mfteach.implicit import confidence

LESSON = "10_implicit_feedback"

NAME = "weighted_user_update"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.fixture
def exercise():
    return ex.EXERCISES[NAME]


def _loss(V, c, p, reg, u):
    """The user's block of the implicit loss, summed over ALL items."""
    return float(np.sum(c * (p - V @ u) ** 2) + reg * u @ u)


def test_first_case_is_the_slides_example(exercise):
    V, c, p, reg = exercise.cases()[0]
    np.testing.assert_array_equal(V.T, toy("lecture_Vt"))
    np.testing.assert_array_equal(p, toy("lecture_P")[0])              # user 0 touched items 0, 3, 5
    np.testing.assert_allclose(c, 1 + 10 * toy("lecture_C")[0])        # c = 1 + alpha r, alpha = 10
    assert (c[p == 0] == 1).all() and (c[p == 1] > 1).all()
    assert reg == 0.1


def test_cases_are_consistent(exercise):
    for V, c, p, reg in exercise.cases():
        assert V.shape[0] == len(c) == len(p)
        assert set(np.unique(p)) <= {0.0, 1.0}
        np.testing.assert_array_equal(c > 1, p == 1)                     # confidence above 1 exactly where p = 1
        assert 0 < p.sum() < len(p) and reg > 0


@pytest.mark.parametrize("j", range(6))
def test_reference_zeroes_the_gradient_and_matches_weighted_least_squares(exercise, j):
    """grad = -2 V^T C (p - V u) + 2 lambda u = 0, and u is the least-squares solution of the
    stacked system [sqrt(C) V; sqrt(lambda) I] u = [sqrt(C) p; 0] (the slides' sqrt(C) trick)."""
    V, c, p, reg = exercise.cases()[j]
    u = exercise.reference(V, c, p, reg)
    gradient = -2 * V.T @ (c * (p - V @ u)) + 2 * reg * u
    np.testing.assert_allclose(gradient, 0, atol=1e-9)
    k = V.shape[1]
    stacked = np.vstack([np.sqrt(c)[:, None] * V, np.sqrt(reg) * np.eye(k)])
    target = np.concatenate([np.sqrt(c) * p, np.zeros(k)])
    np.testing.assert_allclose(u, np.linalg.lstsq(stacked, target, rcond=None)[0], rtol=1e-8, atol=1e-12)
    # the dense formula with C = diag(c), as the slides write it
    C = np.diag(c)
    np.testing.assert_allclose(u, np.linalg.inv(V.T @ C @ V + reg * np.eye(k)) @ V.T @ C @ p, rtol=1e-8)


def test_reference_is_the_minimum_of_the_users_block():
    rng = np.random.default_rng(3)
    V, reg = rng.normal(size=(15, 3)), 0.4
    p = (rng.random(15) < 0.3).astype(float)
    c = 1 + 5 * p * rng.integers(1, 4, size=15)
    u = ex.EXERCISES[NAME].reference(V, c, p, reg)
    for _ in range(50):
        assert _loss(V, c, p, reg, u + 1e-3 * rng.normal(size=3)) > _loss(V, c, p, reg, u)


@pytest.mark.parametrize("kind", ["linear", "log"])
def test_reference_agrees_with_the_packages_exact_user_half_step(kind):
    """After an exact fit the last half-step is the users': every row of U_ is this update given V_."""
    rng = np.random.default_rng(1)
    m, n, k, reg, alpha = 8, 11, 3, 0.3, 4.0
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) < 0.6] = np.nan
    R[:, 0] = 2.0  # every user has an interaction
    ratings = mt.Ratings.from_dense(R)
    model = mt.ImplicitALS(rank=k, reg=reg, alpha=alpha, n_iters=4, solver="exact", confidence=kind).fit(ratings)
    dense = np.nan_to_num(R, nan=0.0)
    for u in range(m):
        c = confidence(dense[u], alpha, kind)   # 1 where there is no interaction
        p = (dense[u] > 0).astype(float)
        np.testing.assert_allclose(ex.EXERCISES[NAME].reference(model.V_, c, p, reg), model.U_[u], rtol=1e-9,
                                   atol=1e-12)


def test_unit_confidence_is_ridge_on_the_whole_row():
    """alpha = 0: every c = 1 and the update is the ridge regression of lessons 06-07 on all n items with
    the 0/1 row as targets."""
    rng = np.random.default_rng(2)
    V, reg = rng.normal(size=(10, 4)), 0.5
    p = (rng.random(10) < 0.4).astype(float)
    u = ex.EXERCISES[NAME].reference(V, np.ones(10), p, reg)
    np.testing.assert_allclose(u, ex.EXERCISES["user_update"].reference(V, np.arange(10), p, reg))


def test_diag_matrix_and_inverse_are_not_mistakes(capsys):
    def weighted_user_update(V, c_u, p_u, reg):
        C = np.diag(c_u)
        return np.linalg.inv(V.T @ C @ V + reg * np.eye(V.shape[1])) @ V.T @ C @ p_u

    assert ex.check(NAME, weighted_user_update) is True
    assert "✅" in capsys.readouterr().out


def test_the_sqrt_trick_written_out_passes(capsys):
    def weighted_user_update(V, c_u, p_u, reg):
        X, y = np.sqrt(c_u)[:, None] * V, np.sqrt(c_u) * p_u
        return np.linalg.solve(X.T @ X + reg * np.eye(V.shape[1]), X.T @ y)

    assert ex.check(NAME, weighted_user_update) is True
    assert "✅" in capsys.readouterr().out


def test_explicit_als_update_on_the_interacted_items_fails_with_a_diagnosis(capsys):
    """The explicit ALS update of lessons 06-07 (only the touched items, no confidences) is wrong."""
    def weighted_user_update(V, c_u, p_u, reg):
        V_O = V[p_u == 1]
        return np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V_O.T @ p_u[p_u == 1])

    assert ex.check(NAME, weighted_user_update) is False
    assert "❌ weighted_user_update: wrong values." in capsys.readouterr().out


def test_the_speed_up_written_out_passes(capsys):
    def weighted_user_update(V, c_u, p_u, reg):
        touched = np.flatnonzero(c_u != 1)
        V_O, extra = V[touched], (c_u - 1)[touched]
        A = V.T @ V + V_O.T @ (extra[:, None] * V_O) + reg * np.eye(V.shape[1])
        return np.linalg.solve(A, V_O.T @ (c_u[touched] * p_u[touched]))

    assert ex.check(NAME, weighted_user_update) is True
    assert "✅" in capsys.readouterr().out




@pytest.mark.parametrize(
    "wrong, phrase",
    [
        # the C in the Gram forgotten, written with an explicit diag
        (lambda V, c, p, reg: np.linalg.solve(V.T @ V + reg * np.eye(V.shape[1]), V.T @ np.diag(c) @ p),
         "confidences are missing there"),
        # only the rows with p = 1, via boolean indexing of a diag matrix
        (lambda V, c, p, reg: np.linalg.solve(V[p == 1].T @ np.diag(c[p == 1]) @ V[p == 1] + reg * np.eye(V.shape[1]),
                                              V[p == 1].T @ (c[p == 1] * p[p == 1])), "ALL items"),
        # the sqrt(C) trick with the weights applied to V only
        (lambda V, c, p, reg: np.linalg.solve((np.sqrt(c)[:, None] * V).T @ (np.sqrt(c)[:, None] * V)
                                              + reg * np.eye(V.shape[1]), (np.sqrt(c)[:, None] * V).T @ p), "√C p"),
        (lambda V, c, p, reg: np.linalg.lstsq(np.sqrt(c)[:, None] * V, np.sqrt(c) * p, rcond=None)[0], "λI is missing"),
    ],
    ids=["diag-without-c", "boolean-rows", "sqrt-c-on-v-only", "lstsq-no-reg"],
)
def test_typical_mistakes_written_differently_are_recognised(wrong, phrase, capsys):
    assert ex.check(NAME, wrong) is False
    assert phrase in capsys.readouterr().out


def test_stub_is_not_written_yet_and_records_no_attempt(capsys):
    def weighted_user_update(V, c_u, p_u, reg):
        raise NotImplementedError("your turn")

    assert ex.check(NAME, weighted_user_update) is False
    assert "not written yet" in capsys.readouterr().out
    assert not ex.progress().set_index("exercise").loc[NAME, "attempts"]


def test_weights_as_a_row_crash_is_diagnosed_with_the_column_axis(capsys):
    """c_u * V raises a broadcasting error; the diagnosis says to give the weights a column axis."""
    def weighted_user_update(V, c_u, p_u, reg):
        return np.linalg.solve(V.T @ (c_u * V) + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))

    assert ex.check(NAME, weighted_user_update) is False
    out = capsys.readouterr().out
    assert "broadcast" in out and "column axis" in out


# ============================================================================ fast_user_update
FAST = "fast_user_update"


def test_fast_update_equals_the_dense_formula_on_every_case():
    """Complete V: the speed-up gives weighted_user_update's u_u (c = 1, p = 0 off Omega_u)."""
    rng = np.random.default_rng(7)
    for n, k, count in [(15, 3, 4), (40, 6, 30), (9, 5, 1)]:
        V = rng.normal(size=(n, k))
        items = rng.choice(n, size=count, replace=False)
        c = np.ones(n)
        c[items] = 1 + 3.0 * rng.integers(1, 5, size=count)
        dense = ex.EXERCISES[NAME].reference(V, c, (c > 1).astype(float), 0.7)
        fast = ex.EXERCISES[FAST].reference(V.T @ V, V, items, c[items], 0.7)
        np.testing.assert_allclose(fast, dense, rtol=1e-10, atol=1e-12)


def test_fast_first_case_is_weighted_user_updates_first_case():
    first = ex.EXERCISES[FAST].cases()[0]
    np.testing.assert_allclose(ex.EXERCISES[FAST].reference(*first),
                               ex.EXERCISES[NAME].reference(*ex.EXERCISES[NAME].cases()[0]), rtol=1e-12)


def test_fast_cases_hide_the_other_rows_and_the_reference_never_reads_them():
    cases = ex.EXERCISES[FAST].cases()
    hidden = [case for case in cases if np.isnan(case[1]).any()]
    assert len(hidden) >= 2 and not np.isnan(cases[0][1]).any()
    for VtV, V, items, c, reg in cases:
        assert not np.isnan(V[items]).any() and (c > 1).all()
        assert np.isfinite(ex.EXERCISES[FAST].reference(VtV, V, items, c, reg)).all()


def test_fast_update_is_the_packages_exact_user_half_step():
    rng = np.random.default_rng(4)
    m, n, k, reg, alpha = 7, 12, 3, 0.5, 2.0
    R = rng.integers(1, 4, size=(m, n)).astype(float)
    R[rng.random((m, n)) < 0.6] = np.nan
    R[:, 1] = 1.0
    ratings = mt.Ratings.from_dense(R)
    model = mt.ImplicitALS(rank=k, reg=reg, alpha=alpha, n_iters=3, solver="exact").fit(ratings)
    V = model.V_
    for u in range(m):
        items = np.flatnonzero(~np.isnan(R[u]))
        u_u = ex.EXERCISES[FAST].reference(V.T @ V, V, items, 1 + alpha * R[u, items], reg)
        np.testing.assert_allclose(u_u, model.U_[u], rtol=1e-9, atol=1e-12)


def test_fast_dense_computation_is_recognised_by_its_nans(capsys):
    def fast_user_update(VtV, V, items, c, reg):
        c_u = np.ones(len(V))
        c_u[items] = c
        return np.linalg.solve(V.T @ (c_u[:, None] * V) + reg * np.eye(V.shape[1]), V.T @ (c_u * (c_u > 1)))

    assert ex.check(FAST, fast_user_update) is False
    assert "you used all of V" in capsys.readouterr().out


def test_the_lesson_has_two_exercises_in_its_order_and_four_questions():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == [NAME, FAST]
    assert [q for q, question in ex.QUESTIONS.items() if question.lesson == LESSON] == [
        "q10_no_interaction", "q10_training_rmse", "q10_all_items_term", "q10_speedup_cost"]


# ============================================================================ questions
@pytest.mark.parametrize("name, right", [("q10_no_interaction", 1), ("q10_training_rmse", 1),
                                         ("q10_all_items_term", 1)])
def test_choice_questions(name, right, capsys):
    question = ex.QUESTIONS[name]
    assert ex.answer(name, right) is True
    for j in range(len(question.choices)):
        if j != right:
            assert ex.answer(name, j) is False
            assert question.feedback[j] in capsys.readouterr().out


def test_speedup_cost_is_omega_k_squared(capsys):
    n, k, omega = 10**6, 100, 200
    assert ex.answer("q10_speedup_cost", omega * k**2) is True
    assert ex.answer("q10_speedup_cost", f"{omega} * {k}**2") is True
    assert ex.answer("q10_speedup_cost", n * k**2) is False        # the dense way
    assert "dense" in capsys.readouterr().out
    assert ex.answer("q10_speedup_cost", n * k**2 // (omega * k**2)) is False   # the ratio, not the count
