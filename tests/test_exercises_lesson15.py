"""Lesson 15's exercises (the exact local downdate, a find-out on MovieLens) and questions, against
independent computations."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex

NAME = "infl_of_user_rating"          # lesson 14's first-order exercise, which lesson 15 compares with
LESSON = "15_fia_explanations_vs_retraining"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


# ============================================================================ exact_local_infl
@pytest.mark.parametrize("j", range(6))
def test_exact_local_is_a_re_solve_without_each_rating(j):
    """Against lstsq on the augmented system [V_O; sqrt(lambda) I] u = [r; 0] without row z."""
    V, rated, r, u, reg, target = ex.EXERCISES["exact_local_infl"].cases()[j]
    got = ex.EXERCISES["exact_local_infl"].reference(V, rated, r, u, reg, target)
    k = V.shape[1]
    assert got.shape == (len(rated),)
    for z in range(len(rated)):
        keep = np.arange(len(rated)) != z
        M = np.vstack([V[rated[keep]], np.sqrt(reg) * np.eye(k)])
        u_without = np.linalg.lstsq(M, np.concatenate([r[keep], np.zeros(k)]), rcond=None)[0]
        assert got[z] == pytest.approx(V[target] @ (u - u_without), rel=1e-8, abs=1e-10)


def test_exact_local_is_fia_exact_local_on_an_als_model():
    """The package's fia(..., exact_local=True), item-based rows, after an ALS fit to convergence (FIA's
    assumption; users solved last)."""
    ratings, _, _ = mt.synthetic(30, 25, rank=3, density=0.4, noise=0.3, seed=2)
    model = mt.ALS(rank=3, reg=0.5, n_iters=1000, tol=1e-9, seed=0).fit(ratings)
    user = 4
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    rated, r = ratings.cols[lo:hi], ratings.values[lo:hi]
    target = int(np.setdiff1d(np.arange(25), rated)[0])
    got = ex.EXERCISES["exact_local_infl"].reference(model.V_, rated, r, model.U_[user], 0.5, target)
    frame = mt.explain.fia(model, ratings, user, target, side="item-based", exact_local=True)
    package = frame.set_index("item")["influence"]
    np.testing.assert_allclose(got, package.loc[rated].to_numpy(), rtol=1e-8, atol=1e-12)


def test_exact_local_a_loop_of_re_solves_passes_and_first_order_is_recognised(capsys):
    def exact_local_infl(V, rated_items, ratings_of_user, u, reg, target_item):
        out = []
        for z in range(len(rated_items)):
            keep = np.arange(len(rated_items)) != z
            V_k = V[rated_items[keep]]
            u_z = np.linalg.solve(V_k.T @ V_k + reg * np.eye(V.shape[1]), V_k.T @ ratings_of_user[keep])
            out.append(V[target_item] @ (u - u_z))
        return np.array(out)

    assert ex.check("exact_local_infl", exact_local_infl) is True

    def first_order(V, rated_items, ratings_of_user, u, reg, target_item):
        return np.array([ex.EXERCISES[NAME].reference(V, rated_items, ratings_of_user, u, reg, target_item, z)
                         for z in range(len(rated_items))])

    assert ex.check("exact_local_infl", first_order) is False
    assert "first-order estimates" in capsys.readouterr().out


# ============================================================================ because_you_rated
def test_because_you_rated_on_movielens_is_the_largest_positive_item_based_fia(ml100k):
    """The lesson's model; FIA's item-based influences computed here from the factors (e_uj v_j^T A_u^-1 v_i),
    not with mt.explain.fia."""
    exercise = ex.EXERCISES["because_you_rated"]
    cases = exercise.cases()
    assert len(cases) >= 3 and cases[0][1].shape == (40, 30)            # a small synthetic case first
    data = ml100k.top(n_users=250, n_items=250)
    train, test = data.split(how="leave_one_out", seed=0)
    real = [c for c in cases if c[1].shape == (250, 250)]
    assert len(real) >= 3
    for model, ratings, user, item in cases:
        np.testing.assert_array_equal(ratings.values, (train if ratings.shape == (250, 250) else ratings).values)
        lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
        items_u, r_u = ratings.cols[lo:hi], ratings.values[lo:hi]
        assert item not in set(items_u.tolist())                         # a prediction, not a training rating
        V, u = model.V_, model.U_[user]
        A = V[items_u].T @ V[items_u] + model.reg * np.eye(V.shape[1])
        influence = (r_u - V[items_u] @ u) * (V[items_u] @ np.linalg.solve(A, V[item]))
        answer = exercise.reference(model, ratings, user, item)
        assert answer == items_u[np.argmax(influence)] and influence.max() > 0
    _, _, user, item = real[0]
    assert (user, item) == (int(test.rows[0]), int(test.cols[0]))       # the lesson's USER, ITEM


# ============================================================================ questions
def test_the_lesson_registers_its_exercises_and_questions():
    assert [n for n, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["exact_local_infl", "because_you_rated"]
    assert [q.name for q in ex.QUESTIONS.values() if q.lesson == LESSON] == [
        "q15_leverage_share", "q15_negative_five_stars", "q15_smaller_than_retraining", "q15_zero_hops"]


def test_exact_local_cases_are_lesson_14s_without_the_removed_position():
    first = ex.EXERCISES[NAME].cases()
    for mine, theirs in zip(ex.EXERCISES["exact_local_infl"].cases(), first, strict=True):
        assert len(mine) == len(theirs) - 1
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, right, wrong", [
    ("q15_negative_five_stars", 1, 0), ("q15_smaller_than_retraining", 0, 3), ("q15_leverage_share", "4/5", 1.25),
    ("q15_zero_hops", 1, 0), ("q15_zero_hops", 1, 2), ("q15_zero_hops", 1, 3),
])
def test_questions(name, right, wrong, capsys):
    assert ex.answer(name, right) is True
    capsys.readouterr()
    assert ex.answer(name, wrong) is False
    assert ex.QUESTIONS[name].feedback[wrong] in capsys.readouterr().out


def test_leverage_question_matches_sherman_morrison():
    """first order / exact local = 1 - h_z, with h_z = 0.2: checked on a block built to have that leverage."""
    rng = np.random.default_rng(1)
    V_O, reg = rng.normal(size=(6, 2)), 0.5
    A = V_O.T @ V_O + reg * np.eye(2)
    v = rng.normal(size=2)
    v *= np.sqrt(0.25 / (v @ np.linalg.solve(A, v)))     # g = v^T A^-1 v = 1/4: leverage g / (1 + g) = 0.2 in A + v v^T
    V = np.vstack([V_O, v, rng.normal(size=(1, 2))])
    rated, r = np.arange(7), rng.integers(1, 6, size=7).astype(float)
    u = np.linalg.solve(V[rated].T @ V[rated] + reg * np.eye(2), V[rated].T @ r)
    A_full = V[rated].T @ V[rated] + reg * np.eye(2)
    assert v @ np.linalg.solve(A_full, v) == pytest.approx(0.2)
    first = ex.EXERCISES[NAME].reference(V, rated, r, u, reg, 7, 6)
    exact = ex.EXERCISES["exact_local_infl"].reference(V, rated, r, u, reg, 7)[6]
    assert first / exact == pytest.approx(ex.QUESTIONS["q15_leverage_share"].answer, rel=1e-9)


def test_zero_hops_question_matches_exact_local_and_one_hop_goes_beyond(ml100k):
    """The answer of q15_zero_hops on the lesson's model: hops=0 is fia(..., exact_local=True) for the top rating
    of a test point, and one hop moves the estimate towards the full retrain (loo_influence)."""
    data = ml100k.top(n_users=250, n_items=250)
    train, test = data.split(how="leave_one_out", seed=0)
    model = mt.ALS(rank=8, reg=10.0, n_iters=1000, tol=1e-9, seed=0).fit(train)
    sides = []
    for p in (0, 1):                                          # a user-based and an item-based top rating
        user, item = int(test.rows[p]), int(test.cols[p])
        frame = mt.explain.fia(model, train, user, item, exact_local=True)
        top = frame.iloc[0]
        sides.append(top["side"])
        removed = (int(top["user"]), int(top["item"]))
        zero = mt.explain.local_retrain(model, train, user, item, removed, hops=0)
        assert zero == pytest.approx(float(top["influence"]), rel=1e-4)
        one = mt.explain.local_retrain(model, train, user, item, removed, hops=1, max_sweeps=3)
        full = mt.explain.loo_influence(model, train, user, item, [removed], tol=1e-9)
        assert abs(full - one) < abs(full - zero)
    assert sorted(sides) == ["item-based", "user-based"]
    assert ex.QUESTIONS["q15_zero_hops"].answer == 1
