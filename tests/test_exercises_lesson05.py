"""Lesson 05's exercise: the weighted (implicit-feedback) user update (lecture slides, "Closed Form")."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
import mfteach.exercises.lesson05  # noqa: F401  (registers weighted_user_update until the package imports it)
from mfteach.data import toy
from mfteach.implicit import confidence

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
    """alpha = 0: every c = 1 and the update is lesson 03's ridge regression on all n items with
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


def test_lesson_03s_update_on_the_interacted_items_fails_with_a_diagnosis(capsys):
    """The explicit ALS update of lesson 03 (only the touched items, no confidences) is wrong."""
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


def test_stub_reports_the_exception_and_a_hint(capsys):
    def weighted_user_update(V, c_u, p_u, reg):
        raise NotImplementedError("your turn")

    assert ex.check(NAME, weighted_user_update) is False
    out = capsys.readouterr().out
    assert "your function raised NotImplementedError: your turn" in out
    assert "Test case 1 of 6: V of shape (6, 2), c_u of shape (6,), p_u of shape (6,), reg = 0.1." in out
    assert f"mt.exercises.hint('{NAME}')" in out
