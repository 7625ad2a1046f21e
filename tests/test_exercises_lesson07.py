"""Lesson 07's exercises (ALS in practice): the user update with biases, checked against
``mt.ALS(biased=True)`` and the block's gradient, and the find-out on MovieLens (the lambda with the
lowest validation RMSE); and its questions."""

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.als import ALS, update_users
from mfteach.data import synthetic, toy
from mfteach.ratings import Ratings
from mfteach.widgets.als_hyperparameters import als_grid

LESSON = "07_als_in_practice"
BIASED = ex.EXERCISES["biased_user_update"]

pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


# ============================================================================ biased_user_update
def test_first_case_is_user_0_of_the_slides_example():
    V, item_bias, mu, rated, ratings, reg = BIASED.cases()[0]
    R = toy("lecture_R")
    np.testing.assert_array_equal(rated, [0, 3, 5])      # user 0 rated items 0, 3, 5 ...
    np.testing.assert_array_equal(ratings, [1, 2, 1])    # ... with 1, 2 and 1 stars
    assert mu == pytest.approx(np.nanmean(R)) and reg == 0.1 and V.shape == (6, 2) and item_bias.shape == (6,)


@pytest.mark.parametrize("j", range(6))
def test_biased_reference_zeroes_the_gradient_of_the_users_block(j):
    """d/du and d/db of sum (r - mu - b - c_i - u.v_i)^2 + lambda (||u||^2 + b^2) vanish at the reference."""
    V, c, mu, rated, r, reg = BIASED.cases()[j]
    u, b = BIASED.reference(V, c, mu, rated, r, reg)
    assert u.shape == (V.shape[1],) and np.ndim(b) == 0
    e = r - mu - b - c[rated] - V[rated] @ u
    np.testing.assert_allclose(-2 * V[rated].T @ e + 2 * reg * u, 0, atol=1e-9)
    np.testing.assert_allclose(-2 * e.sum() + 2 * reg * b, 0, atol=1e-9)


def test_biased_reference_is_the_user_half_step_of_mt_ALS():
    """mt.ALS(biased=True) ends every iteration with the user half-step: its U_ and user_bias_ are the
    reference's pair for its own V_, item_bias_ and mu_, for every user."""
    data, _, _ = synthetic(30, 25, rank=3, density=0.4, noise=0.3, seed=3)
    model = ALS(rank=3, reg=0.7, n_iters=4, biased=True, seed=0).fit(data)
    for u in range(data.shape[0]):
        mine = data.rows == u
        got_u, got_b = BIASED.reference(model.V_, model.item_bias_, model.mu_, data.cols[mine], data.values[mine], 0.7)
        np.testing.assert_allclose(got_u, model.U_[u], rtol=1e-8, atol=1e-10)
        assert got_b == pytest.approx(model.user_bias_[u], rel=1e-8, abs=1e-10)


def test_the_slides_case_reproduces_its_fit():
    R = Ratings.from_dense(toy("lecture_R"))
    model = ALS(rank=2, reg=0.1, n_iters=20, biased=True, seed=0).fit(R)
    u, b = BIASED.reference(*BIASED.cases()[0])
    np.testing.assert_allclose(np.append(u, b), np.append(model.U_[0], model.user_bias_[0]), rtol=1e-8)


def test_stacked_least_squares_and_bias_first_column_pass(capsys):
    """Other correct routes: lstsq on the stacked ridge system, with the constant column FIRST."""
    def biased_user_update(V, item_bias, mu, rated_items, ratings_of_user, reg):
        k = V.shape[1]
        X = np.hstack([np.ones((len(rated_items), 1)), V[rated_items]])
        A = np.vstack([X, np.sqrt(reg) * np.eye(k + 1)])
        y = np.concatenate([ratings_of_user - item_bias[rated_items] - mu, np.zeros(k + 1)])
        w = np.linalg.lstsq(A, y, rcond=None)[0]
        return w[1:], w[0]

    assert ex.check("biased_user_update", biased_user_update) is True


def _biased_learner_versions():
    def unpenalized_bias(V, item_bias, mu, rated_items, ratings_of_user, reg):
        X = np.hstack([V[rated_items], np.ones((len(rated_items), 1))])
        D = reg * np.eye(X.shape[1])
        D[-1, -1] = 0
        w = np.linalg.solve(X.T @ X + D, X.T @ (ratings_of_user - mu - item_bias[rated_items]))
        return w[:-1], w[-1]

    def no_item_bias(V, item_bias, mu, rated_items, ratings_of_user, reg):
        X = np.hstack([V[rated_items], np.ones((len(rated_items), 1))])
        w = np.linalg.solve(X.T @ X + reg * np.eye(X.shape[1]), X.T @ (ratings_of_user - mu))
        return w[:-1], w[-1]

    def bias_first(V, item_bias, mu, rated_items, ratings_of_user, reg):
        rest = ratings_of_user - mu - item_bias[rated_items]
        b = np.mean(rest)
        V_O = V[rated_items]
        return np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V_O.T @ (rest - b)), b

    def one_vector(V, item_bias, mu, rated_items, ratings_of_user, reg):
        X = np.hstack([V[rated_items], np.ones((len(rated_items), 1))])
        return np.linalg.solve(X.T @ X + reg * np.eye(X.shape[1]), X.T @ (ratings_of_user - mu - item_bias[rated_items]))

    return [(unpenalized_bias, "unpenalized"), (no_item_bias, "item biases are missing"),
            (bias_first, "jointly"), (one_vector, "split it")]


@pytest.mark.parametrize("wrong, phrase", _biased_learner_versions(), ids=lambda x: getattr(x, "__name__", ""))
def test_biased_mistakes_written_differently_are_recognised(wrong, phrase, capsys):
    assert ex.check("biased_user_update", wrong) is False
    assert phrase in capsys.readouterr().out


def test_biased_stub_is_not_written_yet(shell, capsys):
    shell.run_cell_magic("check", "biased_user_update",
                         "def biased_user_update(V, item_bias, mu, rated_items, ratings_of_user, reg):\n"
                         "    raise NotImplementedError(\"your turn\")\n")
    assert "not written yet" in capsys.readouterr().out


# ============================================================================ best_reg
def test_best_reg_chooses_on_the_validation_split_never_the_test_set(ml100k):
    cases = ex.EXERCISES["best_reg"].cases()
    fit, valid, rank, regs = next(c for c in cases if c[0].shape == ml100k.shape)
    train, test = ml100k.split(0.2, seed=0)
    assert len(fit) + len(valid) == len(train)                      # fit and valid are the training ratings
    key = lambda r: set(zip(r.rows.tolist(), r.cols.tolist()))      # noqa: E731
    assert not key(valid) & key(test) and not key(fit) & key(test)
    # the lesson's answer, by an independent route: the explorer's grid (package half-steps, no history)
    grid = als_grid(fit, valid, ranks=(rank,), regs=regs, n_iters=10)
    best = grid.regs[int(np.argmin(grid.test_rmse[0]))]
    assert ex.EXERCISES["best_reg"].reference(fit, valid, rank, regs) == best == 10.0  # section 6's lambda
    assert best != regs[int(np.argmin(grid.train_rmse[0]))]          # the training RMSE would choose otherwise
    small = next(c for c in cases if c[0].shape != ml100k.shape)      # a hard-coded 10.0 fails here
    assert ex.EXERCISES["best_reg"].reference(*small) != best


# ============================================================================ questions
def test_exercises_and_questions_of_the_lesson():
    assert [name for name, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["biased_user_update", "best_reg"]
    names = [name for name, q in ex.QUESTIONS.items() if q.lesson == LESSON]
    assert names == ["q07_gram_cost", "q07_alswr_weights", "q07_large_lambda"]


@pytest.mark.parametrize("value, right", [("N * k**2", True), ("k*k*N", True), ("N*k**2 + 0*m", True),
                                          ("m*n*k**2", False), ("N*k", False), ("m * k**3", False)])
def test_gram_cost_expression(value, right):
    assert ex.answer("q07_gram_cost", value) is right


def test_alswr_question_matches_the_package():
    """The claim of q07_alswr_weights: ALS-WR's user update is the plain closed form with lambda |Omega_u|,
    so at lambda = 0.1 a user with 20 ratings gets 2 and one with 600 gets 60 on the diagonal."""
    rng = np.random.default_rng(7)
    m, n, k, reg = 6, 40, 3, 0.1
    R = np.full((m, n), np.nan)
    for u, count in enumerate([20, 3, 35, 8, 40, 12]):
        R[u, rng.choice(n, size=count, replace=False)] = rng.integers(1, 6, size=count)
    ratings = Ratings.from_dense(R)
    V = rng.normal(size=(n, k))
    U = update_users(ratings, V, reg, weighted_reg=True)
    for u in range(m):
        rated = np.flatnonzero(~np.isnan(R[u]))
        np.testing.assert_allclose(U[u], ex.EXERCISES["user_update"].reference(V, rated, R[u, rated], reg * len(rated)),
                                   rtol=1e-10)
    assert ex.answer("q07_alswr_weights", 1) is True
