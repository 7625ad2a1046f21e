"""Lesson 16's exercises (NCF's forward and backward pass for one pair) and questions, against the package's
forward/backward and finite differences."""

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex
from mfteach.ncf import NCF, backward, forward

LESSON = "16_neural_collaborative_filtering"


pytestmark = pytest.mark.usefixtures("exercise_state")  # progress in a temporary home


@pytest.mark.parametrize("name", ["ncf_predict", "ncf_backward"])
def test_stub_is_not_written_yet(name, capsys):
    source = ex.EXERCISES[name].reference.__code__.co_varnames[:ex.EXERCISES[name].reference.__code__.co_argcount]
    namespace = {}
    exec(f"def {name}({', '.join(source)}):\n    raise NotImplementedError('your turn')\n", namespace)
    assert ex.check(name, namespace[name]) is False
    assert "not written yet" in capsys.readouterr().out


# ============================================================================ ncf_predict, ncf_backward
def _params(p_u, q_i, weights, biases, w_out, b_out=0.0):
    """The package's parameter dict for a network with one user and one item."""
    params = {"P": p_u[None], "Q": q_i[None]}
    for l, (W, b) in enumerate(zip(weights, biases), start=1):
        params[f"W{l}"], params[f"b{l}"] = W, b
    return {**params, "w_out": w_out, "b_out": np.array([b_out])}


def _package_prediction(p_u, q_i, weights, biases, w_out, b_out=0.0, mu=0.0):
    return forward(_params(p_u, q_i, weights, biases, w_out, b_out), np.array([0]), np.array([0]), mu)[0][0]


def test_forward_small_case_is_the_one_worked_out_in_the_comment():
    p_u, q_i, weights, biases, w_out, b_out, mu = ex.EXERCISES["ncf_predict"].cases()[0]
    z0 = np.concatenate([p_u, q_i])
    a1 = weights[0] @ z0 + biases[0]
    a2 = weights[1] @ np.maximum(a1, 0) + biases[1]
    np.testing.assert_allclose(a1, [1.7, -0.6, 0.5])
    np.testing.assert_allclose(a2, [1.2, -0.7])
    assert ex.EXERCISES["ncf_predict"].reference(p_u, q_i, weights, biases, w_out, b_out, mu) == pytest.approx(5.4)


def test_forward_reference_is_the_packages_forward():
    cases = ex.EXERCISES["ncf_predict"].cases()
    assert sorted({len(case[2]) for case in cases}) == [1, 2, 3]                 # one, two and three hidden layers
    for case in cases:
        ours = ex.EXERCISES["ncf_predict"].reference(*case)
        assert np.ndim(ours) == 0
        assert ours == pytest.approx(_package_prediction(*case), rel=1e-12)


def test_backward_reference_is_finite_differences_of_the_packages_forward():
    """Central differences of the package's prediction, for every entry of p_u, q_i and every W_l (the cases keep
    every unit at least 1e-3 away from its kink, and r_hat is linear between kinks: the differences are exact up
    to rounding)."""
    exercise = ex.EXERCISES["ncf_backward"]
    for p_u, q_i, weights, biases, w_out in exercise.cases():
        grad_p, grad_q, grads_W = exercise.reference(p_u, q_i, weights, biases, w_out)
        assert len(grads_W) == len(weights)
        h = 1e-6

        def f(p=p_u, q=q_i, Ws=weights):
            return _package_prediction(p, q, Ws, biases, w_out)

        fd_p = [(f(p=p_u + h * e) - f(p=p_u - h * e)) / (2 * h) for e in np.eye(len(p_u))]
        fd_q = [(f(q=q_i + h * e) - f(q=q_i - h * e)) / (2 * h) for e in np.eye(len(q_i))]
        np.testing.assert_allclose(grad_p, fd_p, atol=1e-6)
        np.testing.assert_allclose(grad_q, fd_q, atol=1e-6)
        for l, W in enumerate(weights):
            fd_W = np.zeros_like(W)
            for index in np.ndindex(W.shape):
                E = np.zeros_like(W)
                E[index] = h
                up = [*weights[:l], W + E, *weights[l + 1:]]
                down = [*weights[:l], W - E, *weights[l + 1:]]
                fd_W[index] = (f(Ws=up) - f(Ws=down)) / (2 * h)
            np.testing.assert_allclose(grads_W[l], fd_W, atol=1e-6)


def test_backward_reference_is_the_packages_backward_with_dy_one():
    exercise = ex.EXERCISES["ncf_backward"]
    for p_u, q_i, weights, biases, w_out in exercise.cases():
        params = _params(p_u, q_i, weights, biases, w_out)
        _, cache = forward(params, np.array([0]), np.array([0]))
        grads, dz0 = backward(params, cache, np.ones(1), with_embeddings=False)
        grad_p, grad_q, grads_W = exercise.reference(p_u, q_i, weights, biases, w_out)
        np.testing.assert_allclose(np.concatenate([grad_p, grad_q]), dz0[0], rtol=1e-12, atol=1e-15)
        for l, G in enumerate(grads_W, start=1):
            np.testing.assert_allclose(G, grads[f"W{l}"], rtol=1e-12, atol=1e-15)


def test_backward_mistakes_written_by_hand_are_recognised(capsys):
    def ncf_backward(p_u, q_i, weights, biases, w_out):      # W_l @ da on the way down: crashes
        zs, pre = [np.r_[p_u, q_i]], []
        for W, b in zip(weights, biases):
            pre.append(W @ zs[-1] + b)
            zs.append(np.maximum(pre[-1], 0))
        g, gW = w_out, []
        for l in range(len(weights) - 1, -1, -1):
            g = g * (pre[l] > 0)
            gW = [np.outer(g, zs[l])] + gW
            g = weights[l] @ g
        return g[:len(p_u)], g[len(p_u):], gW

    assert ex.check("ncf_backward", ncf_backward) is False
    assert "TRANSPOSED" in capsys.readouterr().out

    def ncf_backward(p_u, q_i, weights, biases, w_out):      # a loop over units, no mask
        zs = [np.r_[p_u, q_i]]
        for W, b in zip(weights, biases):
            zs.append(np.maximum(W @ zs[-1] + b, 0))
        g, gW = w_out.copy(), []
        for l in reversed(range(len(weights))):
            gW.insert(0, np.array([[g[k] * x for x in zs[l]] for k in range(len(g))]))
            g = weights[l].T.dot(g)
        return g[:len(p_u)], g[len(p_u):], gW

    assert ex.check("ncf_backward", ncf_backward) is False
    assert "gradients ignore the ReLUs" in capsys.readouterr().out


# ============================================================================ questions
QUESTIONS_16 = ["q16_network_size", "q16_inactive_unit", "q16_gradient_check_sample"]


def test_the_lesson_registers_its_exercises_and_questions():
    assert [n for n, e in ex.EXERCISES.items() if e.lesson == LESSON] == ["ncf_predict", "ncf_backward"]
    assert [q.name for q in ex.QUESTIONS.values() if q.lesson == LESSON] == QUESTIONS_16


@pytest.mark.parametrize("name", QUESTIONS_16)
def test_right_answer_accepted_and_every_wrong_answer_explained(name, capsys):
    question = ex.QUESTIONS[name]
    assert ex.answer(name, question.answer) is True
    assert question.explanation in capsys.readouterr().out
    wrong = [j for j in range(len(question.choices)) if j != question.answer] if question.kind == "choice" \
        else list(question.feedback)
    for answer in wrong:
        assert ex.answer(name, answer) is False
        assert question.feedback[answer] in capsys.readouterr().out


def test_network_size_is_the_lessons_model():
    """The number question's answer and its typical wrong answers, against the parameters of an NCF of the lesson's
    shape (200 users, 300 movies, d = 16, hidden layers 32 and 16)."""
    ratings, _, _ = mt.synthetic(200, 300, rank=3, density=0.05, seed=0)
    model = NCF(embedding_dim=16, hidden=(32, 16), reg=20.0, n_epochs=1, seed=0).fit(ratings)
    sizes = {name: value.size for name, value in model.params_.items()}
    network = sum(size for name, size in sizes.items() if name not in ("P", "Q"))
    assert network == ex.QUESTIONS["q16_network_size"].answer == 1601
    assert network + sizes["P"] + sizes["Q"] == 9601
    assert sum(size for name, size in sizes.items() if name.startswith("W") or name == "w_out") == 1552
    assert ex.answer("q16_network_size", 1601) is True
    assert ex.answer("q16_network_size", 1600) is False            # the tolerance does not accept an off-by-one


def test_an_inactive_unit_passes_no_gradient_back():
    """The choice question's claim, on the first case of ncf_backward: the inactive unit's column of W_1 does not
    enter the gradient with respect to z_0, and its row of dW_1 is zero."""
    p_u, q_i, weights, biases, w_out = ex.EXERCISES["ncf_backward"].cases()[0]
    a1 = weights[0] @ np.concatenate([p_u, q_i]) + biases[0]
    inactive = np.flatnonzero(a1 < 0)
    assert len(inactive) == 1
    grad_p, grad_q, grads_W = ex.EXERCISES["ncf_backward"].reference(p_u, q_i, weights, biases, w_out)
    np.testing.assert_array_equal(grads_W[0][inactive], 0.0)
    changed = [W.copy() for W in weights]
    changed[0][inactive] *= 10.0                                    # the inactive unit's weights do not matter ...
    changed[0][inactive] -= 1.0                                     # ... as long as it stays inactive
    assert (changed[0] @ np.concatenate([p_u, q_i]) + biases[0])[inactive] < 0
    again = ex.EXERCISES["ncf_backward"].reference(p_u, q_i, changed, biases, w_out)
    np.testing.assert_allclose(np.concatenate(again[:2]), np.concatenate([grad_p, grad_q]), rtol=1e-12)
