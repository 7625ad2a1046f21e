"""Lesson 17's exercises and questions (KDD 2019, sec. 3.3): the Hessian of one rating's loss over (p_u, q_i) for
a ReLU network, the most influential rating by FIA-NCF."""

import numpy as np
import pytest
import scipy.linalg as la

import mfteach as mt
import mfteach.exercises as ex
from mfteach.exercises.compare import same
from mfteach.explain.fast_influence_ncf import local_objective
from mfteach.ncf import NCF, backward, forward

NAME = "rating_hessian"
LESSON = "17_fia_for_neural_cf"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.fixture
def exercise():
    return ex.EXERCISES[NAME]


def _loss(theta, d, W1, b1, w_out, reg, r, mu=0.0, b_out=0.0):
    """(r - r_hat)^2 + lambda ||theta||^2 with r_hat = mu + w_out . ReLU(W1 theta + b1) + b_out."""
    r_hat = mu + w_out @ np.maximum(W1 @ theta + b1, 0.0) + b_out
    return (r - r_hat) ** 2 + reg * theta @ theta


def _finite_difference_hessian(f, theta, h=1e-4):
    """Central second differences of the values of f (no derivative of ours involved)."""
    n = len(theta)
    E = h * np.eye(n)
    H = np.empty((n, n))
    for j in range(n):
        for k in range(n):
            H[j, k] = (f(theta + E[j] + E[k]) - f(theta + E[j] - E[k]) - f(theta - E[j] + E[k])
                       + f(theta - E[j] - E[k])) / (4 * h * h)
    return H


def test_first_case_is_the_small_one_with_the_documented_units(exercise):
    p_u, q_i, W1, b1, w_out, reg = exercise.cases()[0]
    assert p_u.shape == q_i.shape == (2,) and W1.shape == (3, 4) and reg == 0.1
    z0 = np.concatenate([p_u, q_i])
    np.testing.assert_allclose(W1 @ z0 + b1, [1.7, -0.6, 0.5])             # active, inactive, active by its bias
    assert (W1 @ z0)[2] < 0


def test_cases_exercise_every_branch(exercise):
    for p_u, q_i, W1, b1, w_out, reg in exercise.cases():
        d, h = len(p_u), len(b1)
        assert q_i.shape == (d,) and W1.shape == (h, 2 * d) and w_out.shape == (h,) and reg > 0
        a = W1 @ np.concatenate([p_u, q_i]) + b1
        assert (a > 0).any() and (a < 0).any()                                 # the mask matters
        assert ((a > 0) != (a - b1 > 0)).any()                                 # the bias decides some unit
        assert np.abs(a).min() > 1e-3                                          # no unit sits on a kink


@pytest.mark.parametrize("j", range(6))
def test_reference_is_the_finite_difference_hessian_whatever_the_rating(exercise, j):
    """The zero-curvature claim: second differences of the loss VALUES equal 2 g g^T + 2 lambda I, for any
    rating r and any offsets mu, b_out (the residual term -2 e grad^2 r_hat vanishes)."""
    p_u, q_i, W1, b1, w_out, reg = exercise.cases()[j]
    theta, d = np.concatenate([p_u, q_i]), len(p_u)
    H = exercise.reference(p_u, q_i, W1, b1, w_out, reg)
    for r, mu, b_out in [(1.0, 0.0, 0.0), (5.0, 3.5, -0.3), (-20.0, 0.0, 2.0)]:
        fd = _finite_difference_hessian(lambda t: _loss(t, d, W1, b1, w_out, reg, r, mu, b_out), theta)
        np.testing.assert_allclose(fd, H, atol=1e-5 * (1 + np.abs(H).max()))
    np.testing.assert_allclose(H, H.T)
    assert np.linalg.eigvalsh(H).min() == pytest.approx(2 * reg)               # 2 g g^T has rank one
    g = W1.T @ (w_out * (W1 @ theta + b1 > 0))
    assert np.linalg.eigvalsh(H).max() == pytest.approx(2 * g @ g + 2 * reg)


def test_reference_gradient_is_the_packages_backward_pass(exercise):
    """g in the reference is what mfteach.ncf.backward returns as dz_0 for the same one-layer network."""
    for p_u, q_i, W1, b1, w_out, reg in exercise.cases():
        params = {"P": p_u[None], "Q": q_i[None], "W1": W1, "b1": b1, "w_out": w_out, "b_out": np.zeros(1)}
        _, cache = forward(params, np.array([0]), np.array([0]))
        _, dz0 = backward(params, cache, np.ones(1), with_embeddings=False)
        H = exercise.reference(p_u, q_i, W1, b1, w_out, reg)
        np.testing.assert_allclose(H, 2 * np.outer(dz0[0], dz0[0]) + 2 * reg * np.eye(2 * len(p_u)), rtol=1e-12)


def test_reference_is_fia_ncfs_embedding_hessian_when_r_t_is_one_rating():
    """An NCF with one hidden layer in which user 0 rated only item 0 and nobody else rated item 0: R_t is that
    single rating, and the package's H_e = 2 J^T J + 2 lambda I is the exercise's Hessian."""
    rng = np.random.default_rng(5)
    R = rng.integers(1, 6, size=(6, 7)).astype(float)
    R[0, :] = np.nan
    R[:, 0] = np.nan
    R[0, 0] = 4.0
    ratings = mt.Ratings.from_dense(R)
    model = NCF(embedding_dim=3, hidden=(5,), reg=0.7, n_epochs=3, batch_size=8, seed=0).fit(ratings)
    p = model.params_
    H = ex.EXERCISES[NAME].reference(p["P"][0], p["Q"][0], p["W1"], p["b1"], p["w_out"], model.reg)
    _, _, H_e = local_objective(model, ratings, 0, 0)                         # (L_t, its gradient, H_e)
    np.testing.assert_allclose(H, H_e, rtol=1e-12, atol=1e-14)


def test_every_diagnostic_differs_from_the_reference_and_from_the_others(exercise):
    """No correct answer is ever diagnosed, and each message is the one a learner with that mistake reads."""
    cases = exercise.cases()
    expected = [exercise.reference(*case) for case in cases]
    answers = []
    for diagnostic in exercise.diagnostics:
        results = [diagnostic.wrong(*case) for case in cases]
        assert not all(same(r, e, exercise.rtol, exercise.atol) for r, e in zip(results, expected))
        answers.append(results)
    for i in range(len(answers)):
        for j in range(i):
            assert not all(same(a, b, exercise.rtol, exercise.atol) for a, b in zip(answers[i], answers[j]))


@pytest.mark.parametrize("j", range(11))
def test_each_diagnostic_is_recognised(exercise, j, capsys):
    diagnostic = exercise.diagnostics[j]
    assert ex.check(NAME, diagnostic.wrong) is False
    assert "💡 " + diagnostic.message in capsys.readouterr().out


def test_a_dense_loop_version_passes(capsys):
    def rating_hessian(p_u, q_i, W1, b1, w_out, reg):
        z0 = np.concatenate([p_u, q_i])
        g = np.zeros(len(z0))
        for k in range(len(b1)):                     # unit by unit
            if W1[k] @ z0 + b1[k] > 0:
                g += w_out[k] * W1[k]
        H = np.zeros((len(z0), len(z0)))
        for a in range(len(z0)):
            for b in range(len(z0)):
                H[a, b] = 2 * g[a] * g[b] + (2 * reg if a == b else 0.0)
        return H

    assert ex.check(NAME, rating_hessian) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        # the linear network's gradient, written with .dot
        (lambda p, q, W1, b1, w, reg: 2 * np.outer(W1.T.dot(w), W1.T.dot(w)) + 2 * reg * np.identity(2 * len(p)),
         "gradient of a LINEAR network"),
        # the mask without the bias, via heaviside
        (lambda p, q, W1, b1, w, reg: 2 * np.outer(W1.T @ (w * np.heaviside(W1 @ np.r_[p, q], 0)),
                                                   W1.T @ (w * np.heaviside(W1 @ np.r_[p, q], 0)))
         + 2 * reg * np.eye(2 * len(p)), "the bias is missing"),
        # the p and q blocks computed separately and put on the diagonal
        (lambda p, q, W1, b1, w, reg: la.block_diag(
            *[2 * np.outer(gs, gs) + 2 * reg * np.eye(len(p))
              for gs in np.split(W1.T @ (w * (W1 @ np.r_[p, q] + b1 > 0)), 2)]), "blocks off the diagonal are zero"),
        # lambda I instead of 2 lambda I, with np.diag
        (lambda p, q, W1, b1, w, reg: 2 * np.outer(W1.T @ (w * (W1 @ np.r_[p, q] + b1 > 0)),
                                                   W1.T @ (w * (W1 @ np.r_[p, q] + b1 > 0)))
         + np.diag(np.full(2 * len(p), reg)), "is 2λI"),
    ],
    ids=["no-mask-dot", "heaviside-no-bias", "block-diag", "reg-once"],
)
def test_typical_mistakes_written_differently_are_recognised(wrong, phrase, capsys):
    assert ex.check(NAME, wrong) is False
    assert phrase in capsys.readouterr().out


@pytest.mark.parametrize("name", ["rating_hessian", "most_influential_rating"])
def test_stub_is_not_written_yet(name, capsys):
    source = ex.EXERCISES[name].reference.__code__.co_varnames[:ex.EXERCISES[name].reference.__code__.co_argcount]
    namespace = {}
    exec(f"def {name}({', '.join(source)}):\n    raise NotImplementedError('your turn')\n", namespace)
    assert ex.check(name, namespace[name]) is False
    assert "not written yet" in capsys.readouterr().out



def test_rating_hessian_is_built_from_the_one_layer_backward_pass():
    """Lesson 17's exercise 1 is lesson 16's ncf_backward with one layer: g = (grad_p, grad_q)."""
    for p_u, q_i, W1, b1, w_out, reg in ex.EXERCISES[NAME].cases():
        grad_p, grad_q, _ = ex.EXERCISES["ncf_backward"].reference(p_u, q_i, [W1], [b1], w_out)
        g = np.concatenate([grad_p, grad_q])
        np.testing.assert_allclose(ex.EXERCISES[NAME].reference(p_u, q_i, W1, b1, w_out, reg),
                                   2 * np.outer(g, g) + 2 * reg * np.eye(len(g)), rtol=1e-12)



@pytest.mark.parametrize("name", ["most_influential_rating"])
def test_new_diagnostics_are_wrong_distinct_and_recognised(name, capsys):
    exercise = ex.EXERCISES[name]
    cases = exercise.cases()
    expected = [exercise.reference(*case) for case in cases]
    answers = []
    for diagnostic in exercise.diagnostics:
        try:
            results = [diagnostic.wrong(*case) for case in cases]
        except ValueError:                                    # the crashing mistake: recognised by its error
            results = None
        else:
            assert not all(same(r, e, exercise.rtol, exercise.atol) for r, e in zip(results, expected))
            for other in answers:
                assert not all(same(a, b, exercise.rtol, exercise.atol) for a, b in zip(results, other))
            answers.append(results)
        assert ex.check(name, diagnostic.wrong) is False
        assert "💡 " + diagnostic.message in capsys.readouterr().out
    assert len(exercise.hints) >= 3 and len(exercise.diagnostics) >= 2


# ============================================================================ most_influential_rating
def _influences_by_eq_24(model, train, user, item):
    """INFL(z) = 2 e_z g_z^T H_e^{-1} grad r_hat_ui over R_t, from the package's forward/backward and H_e
    (not from fia_ncf's frame): {(a, j): INFL}."""
    d = model.embedding_dim
    in_R_t = (train.rows == user) | (train.cols == item)
    rows, cols, values = train.rows[in_R_t], train.cols[in_R_t], train.values[in_R_t]
    prediction, cache = forward(model.params_, rows, cols, model.mu_)
    _, dz0 = backward(model.params_, cache, np.ones(len(rows)), with_embeddings=False)
    J = np.zeros((len(rows), 2 * d))
    J[rows == user, :d] = dz0[rows == user, :d]
    J[cols == item, d:] = dz0[cols == item, d:]
    _, target_cache = forward(model.params_, np.array([user]), np.array([item]), model.mu_)
    target = backward(model.params_, target_cache, np.ones(1), with_embeddings=False)[1][0]
    H_e = 2 * J.T @ J + 2 * model.reg * np.eye(2 * d)
    influence = 2 * (values - prediction) * (J @ np.linalg.solve(H_e, target))
    return dict(zip(zip(rows.tolist(), cols.tolist()), influence))


def test_most_influential_rating_is_the_largest_absolute_eq_24():
    exercise = ex.EXERCISES["most_influential_rating"]
    answers = []
    for model, train, user, item in exercise.cases():
        assert not ((train.rows == user) & (train.cols == item)).any()          # a prediction, not a training rating
        influences = _influences_by_eq_24(model, train, user, item)
        expected = max(influences, key=lambda pair: abs(influences[pair]))
        answer = exercise.reference(model, train, user, item)
        assert answer == expected and all(isinstance(x, int) for x in answer)
        answers.append(answer)
    assert len(set(answers)) == len(answers)                                   # no single answer fits two cases


def test_most_influential_rating_runs_on_movielens_and_synthetic_data(ml100k):
    cases = ex.EXERCISES["most_influential_rating"].cases()
    movielens = [train for _, train, _, _ in cases if train.item_titles is not None]
    assert len(movielens) == 4 and len(cases) == 6
    top = ml100k.top(100, 150)
    for train in movielens:
        assert train == top and train.item_titles[0] == top.item_titles[0]
    assert cases[0][1].shape == (30, 40)                                        # the small case comes first


def test_most_influential_rating_answers_cover_both_sides():
    """Some answers are the user's own rating, some another user's rating of the item, and in some case the
    largest |INFL| is negative: each diagnostic is then wrong somewhere."""
    exercise = ex.EXERCISES["most_influential_rating"]
    sides, signs = set(), set()
    for model, train, user, item in exercise.cases():
        influences = _influences_by_eq_24(model, train, user, item)
        a, j = exercise.reference(model, train, user, item)
        sides.add("own" if a == user else "others")
        signs.add(np.sign(influences[(a, j)]))
    assert sides == {"own", "others"} and signs == {-1.0, 1.0}


@pytest.mark.parametrize("answer", [(0, 0), (64, 0)])
def test_a_hard_coded_answer_fails(answer, capsys):
    assert ex.check("most_influential_rating", lambda model, train, user, item: answer) is False


# ============================================================================ questions
QUESTIONS_08 = ["q17_tanh_hessian", "q17_zero_half", "q17_drop_network", "q17_slope", "q17_rank_one"]


def test_the_lesson_registers_its_exercises_and_questions():
    assert [n for n, e in ex.EXERCISES.items() if e.lesson == LESSON] == [NAME, "most_influential_rating"]
    assert [q.name for q in ex.QUESTIONS.values() if q.lesson == LESSON] == QUESTIONS_08


@pytest.mark.parametrize("name", QUESTIONS_08)
def test_right_answer_accepted_and_every_wrong_choice_explained(name, capsys):
    question = ex.QUESTIONS[name]
    assert ex.answer(name, question.answer) is True
    assert question.explanation in capsys.readouterr().out
    if question.kind == "choice":
        for j in range(len(question.choices)):
            if j != question.answer:
                assert ex.answer(name, j) is False
                assert question.feedback[j] in capsys.readouterr().out
    else:
        for wrong, message in question.feedback.items():
            assert ex.answer(name, wrong) is False
            assert message in capsys.readouterr().out


def test_rank_one_question_matches_the_eigenvalues():
    """The expression question's answer, 2d - 1, against the eigenvalues of the exercise's Hessian."""
    for p_u, q_i, W1, b1, w_out, reg in ex.EXERCISES[NAME].cases():
        eigenvalues = np.linalg.eigvalsh(ex.EXERCISES[NAME].reference(p_u, q_i, W1, b1, w_out, reg))
        assert np.isclose(eigenvalues, 2 * reg).sum() == 2 * len(p_u) - 1
    assert ex.answer("q17_rank_one", "2*d - 1") is True
    assert ex.answer("q17_rank_one", "d + d - 1") is True
    assert ex.answer("q17_rank_one", "2*d") is False
