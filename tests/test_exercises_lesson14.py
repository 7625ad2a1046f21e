"""Lesson 14's exercises (the 1-D influence warm-up, FIA's user block) and questions, against independent
computations."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from mfteach.data import toy

NAME = "infl_of_user_rating"
LESSON = "14_influence_functions_and_fia"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.fixture
def exercise():
    return ex.EXERCISES[NAME]


def _ridge(V_O, r, reg, weights=None):
    """argmin_u sum_j w_j (r_j - u^T v_j)^2 + reg ||u||^2 (weights 1 by default)."""
    w = np.ones(len(r)) if weights is None else weights
    return np.linalg.solve(V_O.T @ (w[:, None] * V_O) + reg * np.eye(V_O.shape[1]), V_O.T @ (w * r))


def test_first_case_is_the_slides_example(exercise):
    V, rated, r, u, reg, target, removed = exercise.cases()[0]
    R = toy("lecture_R")
    np.testing.assert_array_equal(V.T, toy("lecture_Vt"))
    np.testing.assert_array_equal(rated, [0, 3, 5])
    np.testing.assert_array_equal(r, R[0, [0, 3, 5]])
    np.testing.assert_allclose(u, ex.EXERCISES["user_update"].reference(V, rated, r, reg))  # lesson 03's update
    assert (reg, target, removed) == (0.1, 2, 1)


def test_cases_are_consistent(exercise):
    for V, rated, r, u, reg, target, removed in exercise.cases():
        k = V.shape[1]
        assert len(rated) == len(r) == len(set(rated.tolist())) > k and len(rated) != 2
        assert target not in set(rated.tolist()) and 0 <= removed < len(rated) and reg > 0
        V_O = V[rated]
        np.testing.assert_allclose(-2 * V_O.T @ (r - V_O @ u) + 2 * reg * u, 0, atol=1e-9)   # u is the trained u_u


@pytest.mark.parametrize("j", range(6))
def test_reference_is_the_exact_refit_times_one_minus_the_leverage(exercise, j):
    """Removing z from the ridge problem exactly: INFL_exact = e_z v_t^T A^-1 v_z / (1 - h_z)
    (Sherman-Morrison), so the first-order INFL equals INFL_exact (1 - h_z), h_z = v_z^T A^-1 v_z."""
    V, rated, r, u, reg, target, removed = exercise.cases()[j]
    keep = np.arange(len(rated)) != removed
    u_without = _ridge(V[rated[keep]], r[keep], reg)
    exact = V[target] @ u - V[target] @ u_without                    # y_hat - y_hat_{-z}, retrained
    v_z = V[rated[removed]]
    A = V[rated].T @ V[rated] + reg * np.eye(V.shape[1])
    leverage = v_z @ np.linalg.solve(A, v_z)
    assert 0 < leverage < 1
    np.testing.assert_allclose(exercise.reference(V, rated, r, u, reg, target, removed), exact * (1 - leverage),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("j", range(6))
def test_reference_is_the_derivative_of_the_prediction_when_z_is_upweighted(exercise, j):
    """Eq. (7)-(8): upweight z by eps (weight 1 + eps), refit; d y_hat / d eps at 0 is -grad_y^T H^-1 grad_l(z),
    which is INFL; a central difference of exact refits agrees to O(eps^2)."""
    V, rated, r, u, reg, target, removed = exercise.cases()[j]

    def prediction(eps):
        w = np.ones(len(rated))
        w[removed] += eps
        return V[target] @ _ridge(V[rated], r, reg, w)

    eps = 1e-5
    derivative = (prediction(eps) - prediction(-eps)) / (2 * eps)
    np.testing.assert_allclose(exercise.reference(V, rated, r, u, reg, target, removed), derivative,
                               rtol=1e-6, atol=1e-9)


def test_reference_against_finite_difference_gradient_and_hessian(exercise):
    """H and grad l(z) of the reference are the second and first derivatives of the user's loss."""
    V, rated, r, u, reg, target, removed = exercise.cases()[2]
    k, h = V.shape[1], 1e-4

    def loss(x):
        return float(np.sum((r - V[rated] @ x) ** 2) + reg * x @ x)

    def loss_z(x):
        return float((r[removed] - V[rated[removed]] @ x) ** 2)

    I = np.eye(k)
    grad_l = np.array([(loss_z(u + h * e) - loss_z(u - h * e)) / (2 * h) for e in I])
    H = np.array([[(loss(u + h * a + h * b) - loss(u + h * a - h * b) - loss(u - h * a + h * b)
                    + loss(u - h * a - h * b)) / (4 * h * h) for b in I] for a in I])
    expected = -V[target] @ np.linalg.solve(H, grad_l)
    np.testing.assert_allclose(exercise.reference(V, rated, r, u, reg, target, removed), expected, rtol=1e-5)


def test_positive_residual_on_the_target_itself_pushes_up():
    """Sanity of the sign: with target = the removed item, INFL = e_z h_z, of the sign of the residual."""
    rng = np.random.default_rng(4)
    V, reg = rng.normal(size=(10, 3)), 0.3
    rated, r = np.arange(6), rng.integers(1, 6, size=6).astype(float)
    u = _ridge(V[rated], r, reg)
    reference = ex.EXERCISES[NAME].reference
    for z in range(6):
        e_z = r[z] - u @ V[z]
        assert np.sign(reference(V, rated, r, u, reg, z, z)) == np.sign(e_z)


def test_agrees_with_the_item_based_influence_of_an_als_model():
    """After an ALS fit (last half-step: users, exact), the item-based INFL of a user's rating on an unrated
    item is this exercise with V = model.V_ and u = model.U_[user]; and it is the first-order version of
    removing the rating and re-solving the user's ridge problem (V fixed)."""
    ratings, _, _ = mt.synthetic(30, 25, rank=3, density=0.4, noise=0.3, seed=2)
    reg = 0.5
    model = mt.ALS(rank=3, reg=reg, n_iters=10, seed=0).fit(ratings)
    user = 4
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    rated, r = ratings.cols[lo:hi], ratings.values[lo:hi]
    target = int(np.setdiff1d(np.arange(25), rated)[0])
    reference = ex.EXERCISES[NAME].reference
    for z in range(len(rated)):
        first_order = reference(model.V_, rated, r, model.U_[user], reg, target, z)
        keep = np.arange(len(rated)) != z
        u_without = _ridge(model.V_[rated[keep]], r[keep], reg)
        v_z = model.V_[rated[z]]
        A = model.V_[rated].T @ model.V_[rated] + reg * np.eye(3)
        exact = model.V_[target] @ (model.U_[user] - u_without)
        np.testing.assert_allclose(first_order, exact * (1 - v_z @ np.linalg.solve(A, v_z)), rtol=1e-8, atol=1e-12)


def test_the_simplified_formula_and_an_explicit_inverse_pass(capsys):
    def infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed):
        V_O = V[rated_items]
        v_z = V[rated_items[removed]]
        e_z = ratings_of_user[removed] - u @ v_z
        return e_z * V[target_item] @ np.linalg.inv(V_O.T @ V_O + reg * np.eye(V.shape[1])) @ v_z

    assert ex.check(NAME, infl_of_user_rating) is True
    assert "✅" in capsys.readouterr().out


def test_a_loop_over_the_ratings_passes(capsys):
    def infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed):
        k = V.shape[1]
        H = 2 * reg * np.eye(k)
        for j in rated_items:
            H = H + 2 * np.outer(V[j], V[j])
        j = rated_items[removed]
        grad = -2 * (ratings_of_user[removed] - V[j] @ u) * V[j]
        return float(-V[target_item] @ np.linalg.solve(H, grad))

    assert ex.check(NAME, infl_of_user_rating) is True


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        # the sign of eq. (11) taken as y_hat_{-z} - y_hat
        (lambda V, R, r, u, reg, t, z: V[t] @ np.linalg.solve(V[R].T @ V[R] + reg * np.eye(V.shape[1]),
                                                             -(r[z] - u @ V[R[z]]) * V[R[z]]), "wrong sign"),
        # H = 2(...) with the gradient -e v
        (lambda V, R, r, u, reg, t, z: V[t] @ np.linalg.solve(2 * (V[R].T @ V[R] + reg * np.eye(V.shape[1])),
                                                             (r[z] - u @ V[R[z]]) * V[R[z]]), "half"),
        # the rating instead of the residual, with an explicit inverse
        (lambda V, R, r, u, reg, t, z: r[z] * V[t] @ np.linalg.inv(V[R].T @ V[R] + reg * np.eye(V.shape[1]))
         @ V[R[z]], "residual"),
        # the Hessian without lambda, by lstsq-like pinv
        (lambda V, R, r, u, reg, t, z: (r[z] - u @ V[R[z]]) * V[t] @ np.linalg.pinv(V[R].T @ V[R]) @ V[R[z]],
         "λI is missing"),
    ],
    ids=["sign", "half", "rating", "no-reg-pinv"],
)
def test_typical_mistakes_written_differently_are_recognised(wrong, phrase, capsys):
    assert ex.check(NAME, wrong) is False
    assert phrase in capsys.readouterr().out


def test_stub_is_not_written_yet(capsys):
    def infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed):
        raise NotImplementedError("your turn")

    assert ex.check(NAME, infl_of_user_rating) is False
    assert "not written yet" in capsys.readouterr().out


# ============================================================================ ridge_influence_1d
def _ridge_fit_1d(x, y, lam, weights):
    return np.sum(weights * x * y) / (np.sum(weights * x**2) + lam)


@pytest.mark.parametrize("j", range(5))
def test_ridge_1d_is_the_derivative_of_the_prediction_and_the_exact_change_times_1_minus_h(j):
    """Eq. (7)-(9): d y_hat / d eps of exact weighted refits, by central differences; and the exact
    leave-one-out change (N refits in a loop) times 1 - h_z."""
    x, y, lam, x_t = ex.EXERCISES["ridge_influence_1d"].cases()[j]
    got = ex.EXERCISES["ridge_influence_1d"].reference(x, y, lam, x_t)
    n, eps = len(x), 1e-6
    w = _ridge_fit_1d(x, y, lam, np.ones(n))
    for z in range(n):
        up, down = np.ones(n), np.ones(n)
        up[z], down[z] = 1 + eps, 1 - eps
        derivative = x_t * (_ridge_fit_1d(x, y, lam, up) - _ridge_fit_1d(x, y, lam, down)) / (2 * eps)
        assert got[z] == pytest.approx(derivative, rel=1e-6, abs=1e-9)
        keep = np.arange(n) != z
        exact = x_t * (w - _ridge_fit_1d(x[keep], y[keep], lam, np.ones(n - 1)))
        assert got[z] == pytest.approx(exact * (1 - x[z] ** 2 / (np.sum(x**2) + lam)), rel=1e-9, abs=1e-12)


def test_ridge_1d_a_loop_with_refits_of_the_derivative_passes(capsys):
    def ridge_influence_1d(x, y, lam, x_t):
        w = x @ y / (x @ x + lam)
        out = []
        for xz, yz in zip(x, y):
            out.append(x_t * (yz - w * xz) * xz / (x @ x + lam))
        return np.array(out)

    assert ex.check("ridge_influence_1d", ridge_influence_1d) is True


def test_ridge_1d_exact_refits_are_recognised(capsys):
    def ridge_influence_1d(x, y, lam, x_t):
        w = x @ y / (x @ x + lam)
        keep = ~np.eye(len(x), dtype=bool)
        return np.array([x_t * (w - x[k] @ y[k] / (x[k] @ x[k] + lam)) for k in keep])

    assert ex.check("ridge_influence_1d", ridge_influence_1d) is False
    assert "EXACT leave-one-out" in capsys.readouterr().out


# ============================================================================ questions
def test_the_lesson_registers_its_exercises_and_questions():
    assert [n for n, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["ridge_influence_1d", NAME]
    assert [q.name for q in ex.QUESTIONS.values() if q.lesson == LESSON] == ["q14_mean_or_sum", "q14_block_diagonal"]


@pytest.mark.parametrize("name, right, wrong", [("q14_mean_or_sum", 1, 0), ("q14_block_diagonal", 2, 0)])
def test_questions(name, right, wrong, capsys):
    assert ex.answer(name, right) is True
    capsys.readouterr()
    assert ex.answer(name, wrong) is False
    assert ex.QUESTIONS[name].feedback[wrong] in capsys.readouterr().out
