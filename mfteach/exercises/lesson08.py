r"""Exercises and questions of lesson 08_fia_for_neural_cf (registered on import).

FIA for neural collaborative filtering (Cheng, Shen, Huang, Zhu, KDD 2019, section 3.3). The exercises, in
the lesson's order:

* ``ncf_predict`` (warm-up): NCF's prediction for one pair, eq. (3)-(5) with ReLU hidden layers and a
  linear output, r_hat = mu + w_out^T z_X + b_out with z_0 = p_u (+) q_i, z_l = ReLU(W_l z_{l-1} + b_l);
* ``ncf_backward`` (the key algorithm, before the lesson shows it): the gradient of that prediction with
  respect to p_u, q_i and every W_l by backpropagation;
* ``rating_hessian``: the Hessian of one rating's loss over theta_e = (p_u, q_i) (below);
* ``most_influential_rating`` (find out with the package): the rating of R_t with the largest |FIA-NCF
  influence| on a prediction of a small NCF fitted to MovieLens 100K and to synthetic data.

For ONE rating r of user u and item i, with a network of one ReLU hidden layer and a linear output,

    z_0 = p_u (+) q_i,    a = W_1 z_0 + b_1,    r_hat = mu + w_out^T ReLU(a) + b_out,

the loss l(theta_e) = (r - r_hat)^2 + lambda (||p_u||^2 + ||q_i||^2) has the Hessian

    grad^2 l = 2 g g^T - 2 (r - r_hat) grad^2 r_hat + 2 lambda I = 2 g g^T + 2 lambda I,

g = grad_{theta_e} r_hat = W_1^T (w_out * [a > 0]) (backpropagation through the ReLU: its
derivative is the 0/1 mask [a > 0]). The middle term vanishes because r_hat is piecewise linear
in z_0: ReLU layers and a linear output have no curvature except on the kinks a = 0, a set of
measure zero. So the Gauss-Newton matrix 2 g g^T is the exact Hessian, and neither the rating r
nor the offsets mu, b_out enter it.
"""

from __future__ import annotations

import functools

import numpy as np

from .registry import Diagnostic, register, register_question

LESSON_08 = "08_fia_for_neural_cf"


# ============================================================================ the forward pass (warm-up)
def _network(rng, d, hidden):
    """Random embeddings and a ReLU network on them, with some units inactive in every layer."""
    while True:
        p_u, q_i = rng.normal(0.0, 0.7, d), rng.normal(0.0, 0.7, d)
        sizes = (2 * d, *hidden)
        weights = [rng.normal(0.0, np.sqrt(2.0 / sizes[l]), (sizes[l + 1], sizes[l])) for l in range(len(hidden))]
        biases = [rng.normal(0.0, 0.3, h) for h in hidden]
        w_out = rng.normal(0.0, 1.0, hidden[-1])
        z, ok = np.concatenate([p_u, q_i]), True
        for W, b in zip(weights, biases):
            a = W @ z + b
            ok &= bool((a > 0).any() and (a < -1e-3).any() and np.abs(a).min() > 1e-3)
            z = np.maximum(a, 0.0)
        if ok:
            return p_u, q_i, weights, biases, w_out


def _predict_cases(rng):
    # the small case: d = 2, hidden layers of 3 and 2 units. Layer 1 is that of rating_hessian's small case,
    # a_1 = (1.7, -0.6, 0.5), z_1 = (1.7, 0, 0.5); layer 2 gives a_2 = (1.2, -0.7), z_2 = (1.2, 0); r_hat = 5.4
    p_u, q_i, W1, b1, _, _ = _small_case()
    W2, b2 = np.array([[1.0, 0.5, -1.0], [-1.0, 1.0, 1.0]]), np.array([0.0, 0.5])
    cases = [(p_u, q_i, [W1, W2], [b1, b2], np.array([1.5, -1.0]), 0.1, 3.5)]
    for d, hidden, b_out, mu in [(3, (5,), -0.4, 3.6), (4, (8, 4), 0.3, 3.5), (2, (6, 4, 3), -0.2, 4.1),
                                 (8, (16, 8), 0.05, 3.2)]:
        p_u, q_i, weights, biases, w_out = _network(rng, d, hidden)
        w_out = w_out * np.sign(w_out.sum())                   # the raw output w_out^T z_X + b_out ...
        if len(hidden) > 1:                                     # ... is negative in some cases
            w_out = -w_out
        cases.append((p_u, q_i, weights, biases, w_out, b_out, mu))
    return cases


def _forward_wrong(p_u, q_i, weights, biases, w_out, b_out, mu, relu=lambda a, b: np.maximum(a + b, 0.0),
                   order=None, offset=True, output=lambda x: x):
    z = np.concatenate([p_u, q_i] if order is None else order(p_u, q_i))
    for W, b in zip(weights, biases):
        z = relu(W @ z, b)
    return (mu if offset else 0.0) + output(w_out @ z + b_out)


def _predict_linear(p_u, q_i, weights, biases, w_out, b_out, mu):
    return _forward_wrong(p_u, q_i, weights, biases, w_out, b_out, mu, relu=lambda a, b: a + b)


def _predict_relu_before_bias(p_u, q_i, weights, biases, w_out, b_out, mu):
    return _forward_wrong(p_u, q_i, weights, biases, w_out, b_out, mu, relu=lambda a, b: np.maximum(a, 0.0) + b)


def _predict_item_first(p_u, q_i, weights, biases, w_out, b_out, mu):
    return _forward_wrong(p_u, q_i, weights, biases, w_out, b_out, mu, order=lambda p, q: [q, p])


def _predict_no_mu(p_u, q_i, weights, biases, w_out, b_out, mu):
    return _forward_wrong(p_u, q_i, weights, biases, w_out, b_out, mu, offset=False)


def _predict_relu_on_output(p_u, q_i, weights, biases, w_out, b_out, mu):
    return _forward_wrong(p_u, q_i, weights, biases, w_out, b_out, mu, output=lambda x: max(x, 0.0))


@register(
    lesson=LESSON_08,
    title="NCF's prediction for one (user, item) pair: the forward pass through the ReLU layers",
    cases=_predict_cases,
    hints=[
        "Eq. (4): the network's input z₀ is ONE vector of length 2d, the user's embedding followed by the item's "
        "(np.concatenate takes a list of arrays).",
        "Eq. (5), once per hidden layer and in order: multiply the layer's weight matrix (shape h_l × h_{l−1}) by the "
        "previous layer's output, add the layer's bias, and only then apply ReLU, elementwise (np.maximum against "
        "0). zip(weights, biases) gives the layers' pairs.",
        "Eq. (3) in our form: the output layer is LINEAR, no ReLU on it. The prediction is the offset μ, plus the "
        "inner product of w_out with the last hidden layer's output, plus b_out: one number.",
    ],
    diagnostics=[
        Diagnostic(_predict_linear, "Your network has no ReLU: every layer is then linear, and the whole network "
                                    "collapses into one linear function of p_u ⊕ q_i. After adding the bias, "
                                    "replace the negative entries by 0 (np.maximum against 0)."),
        Diagnostic(_predict_relu_before_bias, "You applied ReLU before adding the bias: z_l = ReLU(W_l z_{l−1}) + b_l. "
                                              "The bias belongs inside: z_l = ReLU(W_l z_{l−1} + b_l); a unit whose "
                                              "bias makes it negative must output 0."),
        Diagnostic(_predict_item_first, "You stacked the item's embedding first. Eq. (4) is z₀ = p_u ⊕ q_i: the "
                                        "first d inputs of W₁ are the user's, the last d the item's."),
        Diagnostic(_predict_no_mu, "Your prediction lacks the offset μ (the mean training rating, the argument "
                                   "mu): the network only learns the deviation from it."),
        Diagnostic(_predict_relu_on_output, "You applied ReLU to the output layer too, so the network's part can "
                                            "never be negative and the prediction never falls below μ. Only the "
                                            "hidden layers are ReLU; the output w_outᵀz_X + b_out is linear."),
    ],
)
def ncf_predict(p_u, q_i, weights, biases, w_out, b_out, mu):
    r"""NCF's prediction r_hat_ui for one pair (KDD 2019, eq. (3)-(5) with a linear output layer).

    Parameters
    ----------
    p_u, q_i : ndarray, shape (d,)
        The user's and the item's embeddings.
    weights, biases : lists of ndarray
        The hidden layers' W_l (shape h_l x h_{l-1}, h_0 = 2d) and b_l (shape h_l,), l = 1..X.
    w_out : ndarray, shape (h_X,)
        The linear output layer's weights.
    b_out, mu : float
        Its bias, and the fixed offset (the mean training rating).

    Returns
    -------
    float
    """
    z = np.concatenate([p_u, q_i])                   # z_0 = p_u (+) q_i, eq. (4)
    for W, b in zip(weights, biases):
        z = np.maximum(W @ z + b, 0.0)               # z_l = ReLU(W_l z_{l-1} + b_l), eq. (5)
    return mu + w_out @ z + b_out                    # the linear output layer, eq. (3)


# ============================================================================ the backward pass (key algorithm)
def _backward_cases(rng):
    return [case[:5] for case in _predict_cases(rng)]


def _backward_wrong(p_u, q_i, weights, biases, w_out, mask=lambda a: a > 0, outer=np.outer, layer_input=None,
                    swap=False, down=lambda W, da: W.T @ da):
    zs, pre = [np.concatenate([p_u, q_i])], []
    for W, b in zip(weights, biases):
        pre.append(W @ zs[-1] + b)
        zs.append(np.maximum(pre[-1], 0.0))
    dz, grads_W = w_out, []
    for l in reversed(range(len(weights))):
        da = dz * mask(pre[l])
        below = zs[l] if layer_input is None or l == 0 else layer_input(pre, l)
        grads_W.insert(0, outer(da, below))
        dz = down(weights[l], da)
    d = len(p_u)
    return (dz[d:], dz[:d], grads_W) if swap else (dz[:d], dz[d:], grads_W)


def _backward_no_mask(p_u, q_i, weights, biases, w_out):
    return _backward_wrong(p_u, q_i, weights, biases, w_out, mask=lambda a: 1.0)


def _backward_activation_not_derivative(p_u, q_i, weights, biases, w_out):
    return _backward_wrong(p_u, q_i, weights, biases, w_out, mask=lambda a: np.maximum(a, 0.0))


def _backward_outer_transposed(p_u, q_i, weights, biases, w_out):
    return _backward_wrong(p_u, q_i, weights, biases, w_out, outer=lambda da, z: np.outer(z, da))


def _backward_pre_activation(p_u, q_i, weights, biases, w_out):
    return _backward_wrong(p_u, q_i, weights, biases, w_out, layer_input=lambda pre, l: pre[l - 1])


def _backward_halves_swapped(p_u, q_i, weights, biases, w_out):
    return _backward_wrong(p_u, q_i, weights, biases, w_out, swap=True)


def _backward_W_not_transposed(p_u, q_i, weights, biases, w_out):
    return _backward_wrong(p_u, q_i, weights, biases, w_out, down=lambda W, da: W @ da)   # raises ValueError


@register(
    lesson=LESSON_08,
    title="the backward pass for one prediction: its gradients with respect to p_u, q_i and every W_l",
    cases=_backward_cases,
    hints=[
        "First the forward pass of ncf_predict, but keep, for every hidden layer l, its input z_{l−1} and its "
        "pre-activation a_l = W_l z_{l−1} + b_l in two lists: the way back needs both. μ and b_out only shift r̂, "
        "so they play no part in its gradient.",
        "Then go back from the output. r̂ is linear in the last layer's output z_X, with weights w_out: that is "
        "∂r̂/∂z_X. Passing back through a ReLU multiplies elementwise by its derivative, which is 1 for the units with "
        "a_l > 0 and 0 for the others (a boolean mask counts as 0/1).",
        "With δ_l = ∂r̂/∂a_l (a vector of length h_l): ∂r̂/∂W_l is the outer product of δ_l with the layer's INPUT "
        "z_{l−1}, a matrix shaped like W_l; ∂r̂/∂z_{l−1} is W_l transposed times δ_l. After the first layer you hold "
        "∂r̂/∂z₀, of length 2d: split it, p_u's d entries first. Return the W_l gradients in the order W_1, W_2, ….",
    ],
    diagnostics=[
        Diagnostic(_backward_no_mask, "Your gradients ignore the ReLUs: they are those of the LINEAR network. A unit "
                                      "with a_l ≤ 0 outputs 0 whatever its input does, so it passes nothing back: "
                                      "multiply by the 0/1 mask [a_l > 0] on the way through each layer."),
        Diagnostic(_backward_activation_not_derivative, "You multiplied by ReLU(a_l), the units' OUTPUTS, where their "
                                                        "DERIVATIVE belongs: ReLU'(a) is 1 where a > 0 and 0 "
                                                        "elsewhere, the mask a > 0."),
        Diagnostic(_backward_outer_transposed, "Your W_l gradients are transposed: ∂r̂/∂W_l has the shape of W_l, "
                                               "h_l × h_{l−1}, rows for the layer's units (δ_l) and columns for its "
                                               "inputs (z_{l−1}). Swap the two arguments of the outer product."),
        Diagnostic(_backward_pre_activation, "From the second layer on, your W_l gradient uses the previous layer's "
                                             "PRE-activation a_{l−1}. W_l multiplies what the layer receives, the "
                                             "output z_{l−1} = ReLU(a_{l−1}): use that (negative entries become 0)."),
        Diagnostic(_backward_halves_swapped, "Your p_u and q_i gradients are swapped. z₀ = p_u ⊕ q_i: the first d "
                                             "entries of ∂r̂/∂z₀ belong to p_u, the last d to q_i."),
        Diagnostic(_backward_W_not_transposed, "Going down a layer you multiplied by W_l itself. W_l maps the layer's "
                                               "h_{l−1} inputs to its h_l units; the gradient travels the other way, "
                                               "from the units back to the inputs, so it is multiplied by W_l "
                                               "TRANSPOSED (W_l.T), which gives a vector of length h_{l−1}."),
    ],
)
def ncf_backward(p_u, q_i, weights, biases, w_out):
    r"""The gradient of NCF's prediction r_hat_ui for one pair with respect to p_u, q_i and every hidden
    weight matrix W_l, by backpropagation (the chain rule through eq. (3)-(5)).

    Returns
    -------
    (grad_p, grad_q, grads_W)
        d r_hat / d p_u and d r_hat / d q_i, both of shape (d,), and the list of d r_hat / d W_l, each
        shaped like W_l.
    """
    zs, pre = [np.concatenate([p_u, q_i])], []       # forward: every layer's input z_{l-1} ...
    for W, b in zip(weights, biases):
        pre.append(W @ zs[-1] + b)                   # ... and pre-activation a_l = W_l z_{l-1} + b_l
        zs.append(np.maximum(pre[-1], 0.0))          # z_l = ReLU(a_l), eq. (5)
    dz, grads_W = w_out, []                          # d r_hat / d z_X = w_out: the output is linear, eq. (3)
    for l in reversed(range(len(weights))):
        da = dz * (pre[l] > 0)                       # d r_hat / d a_l: through ReLU, whose derivative is [a_l > 0]
        grads_W.insert(0, np.outer(da, zs[l]))       # d r_hat / d W_l = da_l z_{l-1}^T
        dz = weights[l].T @ da                       # d r_hat / d z_{l-1} = W_l^T da_l
    d = len(p_u)
    return dz[:d], dz[d:], grads_W                   # z_0 = p_u (+) q_i: p_u's half first



# ============================================================================ the Hessian of one rating
def _small_case():
    """d = 2, three hidden units: unit 0 active, unit 1 inactive (a < 0), unit 2 active only
    thanks to its bias (W_1 z_0 < 0 < W_1 z_0 + b_1); lambda = 0.1."""
    p_u, q_i = np.array([0.5, -1.0]), np.array([1.0, 0.5])
    W1 = np.array([[1.0, 0.0, 1.0, 0.0],       # a_0 = 0.5 + 1.0 + 0.2 = 1.7
                   [0.0, 1.0, 0.0, 1.0],       # a_1 = -1.0 + 0.5 - 0.1 = -0.6
                   [-1.0, 0.5, 0.0, 0.0]])     # a_2 = -0.5 - 0.5 + 1.5 = 0.5
    b1 = np.array([0.2, -0.1, 1.5])
    w_out = np.array([1.0, -2.0, 0.5])
    return p_u, q_i, W1, b1, w_out, 0.1


def _hessian_cases(rng):
    cases = [_small_case()]
    # (d, hidden units, lambda); every case has active and inactive units, and some unit whose
    # sign depends on its bias (so that each mistake below gives a different number)
    for d, h, reg in [(3, 5, 0.5), (4, 8, 2.0), (2, 6, 0.01), (8, 16, 5.0), (5, 3, 1.0)]:
        while True:
            p_u, q_i = rng.normal(0.0, 0.5, d), rng.normal(0.0, 0.5, d)
            W1 = rng.normal(0.0, np.sqrt(1.0 / d), (h, 2 * d))
            b1 = rng.normal(0.0, 0.5, h)
            w_out = rng.normal(0.0, 1.0, h)
            z0 = np.concatenate([p_u, q_i])
            a, no_bias = W1 @ z0 + b1, W1 @ z0
            if (a > 0).any() and (a <= 0).any() and ((a > 0) != (no_bias > 0)).any():
                break
        cases.append((p_u, q_i, W1, b1, w_out, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _gradient(p_u, q_i, W1, b1, w_out, mask=None):
    z0 = np.concatenate([p_u, q_i])
    a = W1 @ z0 + b1
    return W1.T @ (w_out * ((a > 0) if mask is None else mask(z0, a)))


def _gauss_newton(g, reg, two_gg=2.0, two_reg=2.0):
    return two_gg * np.outer(g, g) + two_reg * reg * np.eye(len(g))


def _no_mask(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out, mask=lambda z0, a: 1.0), reg)


def _activation_not_derivative(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out, mask=lambda z0, a: np.maximum(a, 0.0)), reg)


def _mask_without_bias(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out, mask=lambda z0, a: W1 @ z0 > 0), reg)


def _no_twos(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out), reg, 1.0, 1.0)


def _reg_not_doubled(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out), reg, 2.0, 1.0)


def _outer_not_doubled(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out), reg, 1.0, 2.0)


def _no_reg(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out), reg, 2.0, 0.0)


def _reg_everywhere(p_u, q_i, W1, b1, w_out, reg):
    g = _gradient(p_u, q_i, W1, b1, w_out)
    return 2.0 * np.outer(g, g) + 2.0 * reg


def _inner_not_outer(p_u, q_i, W1, b1, w_out, reg):
    g = _gradient(p_u, q_i, W1, b1, w_out)
    return 2.0 * g @ g + 2.0 * reg


def _blocks_separately(p_u, q_i, W1, b1, w_out, reg):
    g, d = _gradient(p_u, q_i, W1, b1, w_out), len(p_u)
    H = _gauss_newton(g, reg)
    H[:d, d:] = H[d:, :d] = 0.0
    return H


def _user_block_only(p_u, q_i, W1, b1, w_out, reg):
    return _gauss_newton(_gradient(p_u, q_i, W1, b1, w_out)[:len(p_u)], reg)


@register(
    lesson=LESSON_08,
    title="the Hessian of one rating's loss over the embeddings (p_u, q_i) of a ReLU network: 2 g gᵀ + 2λI",
    cases=_hessian_cases,
    hints=[
        "For l = (r − r̂)² + λ(‖p_u‖² + ‖q_i‖²) the chain rule gives ∇²l = 2 g gᵀ − 2 (r − r̂) ∇²r̂ + 2λI with "
        "g = ∇r̂ over θ_e = (p_u, q_i). With a ReLU hidden layer and a linear output, r̂ is piecewise LINEAR in "
        "(p_u, q_i): ∇²r̂ = 0, the middle term vanishes, and you need neither r nor r̂, only g.",
        "Backpropagate one step: z₀ = p_u ⊕ q_i, a = W₁z₀ + b₁, r̂ = w_outᵀ ReLU(a) + const. Then "
        "∂r̂/∂a = w_out ⊙ ReLU'(a) with ReLU'(a) = [a > 0] (1 where the unit is active, 0 elsewhere), and "
        "g = ∂r̂/∂z₀ = W₁ᵀ (w_out ⊙ [a > 0]), a vector of length 2d: ncf_backward's p_u and q_i gradients "
        "for one hidden layer, stacked.",
        "The result is a 2d × 2d matrix: twice the outer product of g with itself (np.outer), plus 2λ on the "
        "diagonal only (an identity matrix of size 2d). The p–q blocks off the diagonal are not zero: p_u and q_i "
        "enter the same network.",
        "Check yourself on the first test case: units 0 and 2 are active, unit 1 is not, so g is w_out[0] times the "
        "first row of W₁ plus w_out[2] times its third row, g = (0.5, 0.25, 1, 0), and the top-left entry of the "
        "Hessian is 2 · 0.5² + 2 · 0.1 = 0.7.",
    ],
    diagnostics=[
        Diagnostic(_no_mask, "Your gradient ignores the ReLU: W₁ᵀ w_out is the gradient of a LINEAR network. A hidden "
                             "unit with a ≤ 0 outputs 0 whatever the input does, so it passes no gradient back: "
                             "g = W₁ᵀ (w_out ⊙ [a > 0]) with a = W₁z₀ + b₁."),
        Diagnostic(_activation_not_derivative, "You multiplied by ReLU(a), the unit's OUTPUT, where its DERIVATIVE "
                                               "belongs: ReLU'(a) = [a > 0], the 0/1 mask (a > 0 in numpy; True "
                                               "counts as 1)."),
        Diagnostic(_mask_without_bias, "Your ReLU mask is [W₁z₀ > 0]: the bias is missing. Whether a unit is active "
                                       "depends on its pre-activation a = W₁z₀ + b₁."),
        Diagnostic(_no_twos, "Your Hessian is g gᵀ + λI: both 2s are missing. The second derivative of (r − r̂)² is "
                             "2 g gᵀ (plus −2(r − r̂)∇²r̂, which is 0 here), and that of λ‖θ‖² is 2λI."),
        Diagnostic(_reg_not_doubled, "Your penalty part is λI; the second derivative of λ(‖p_u‖² + ‖q_i‖²) is 2λI."),
        Diagnostic(_outer_not_doubled, "Your Gauss–Newton part is g gᵀ; the second derivative of (r − r̂)² is "
                                       "2 g gᵀ (differentiate −2(r − r̂)g once more)."),
        Diagnostic(_no_reg, "The penalty is missing: λ(‖p_u‖² + ‖q_i‖²) adds 2λI. (Without it 2 g gᵀ has rank one "
                            "and could not be inverted, which FIA must do.)"),
        Diagnostic(_reg_everywhere, "You added 2λ to EVERY entry (+ 2 * reg broadcasts); the penalty's Hessian is "
                                    "2λ on the diagonal only (times an identity matrix)."),
        Diagnostic(_inner_not_outer, "You returned a number: g @ g is the inner product gᵀg. The Hessian is the "
                                     "2d × 2d matrix 2 g gᵀ + 2λI, built from an outer product."),
        Diagnostic(_blocks_separately, "Your p–q blocks off the diagonal are zero. p_u and q_i enter the SAME network "
                                       "(z₀ = p_u ⊕ q_i), so ∂²l/∂p_u∂q_i = 2 g_p g_qᵀ ≠ 0: take the outer product of "
                                       "the whole g of length 2d."),
        Diagnostic(_user_block_only, "Your result is d × d: only p_u's block. θ_e = (p_u, q_i) has 2d entries, "
                                     "and g = ∂r̂/∂z₀ = W₁ᵀ(w_out ⊙ [a > 0]) has all of them."),
    ],
)
def rating_hessian(p_u, q_i, W1, b1, w_out, reg):
    r"""The Hessian of one rating's loss (r - r_hat)^2 + lambda (||p_u||^2 + ||q_i||^2) with respect to
    theta_e = (p_u, q_i), for a network with one ReLU hidden layer and a linear output (KDD 2019,
    eq. (3)-(5) with X = 1; the H_e of eq. (22) for a single rating, summed objective).

    .. math::
        \nabla^2_{\theta_e} l = 2 g g^\top + 2\lambda I, \qquad
        g = \nabla_{\theta_e}\hat r = W_1^\top \big(w_{out} \odot [W_1 z_0 + b_1 > 0]\big)

    (the residual term -2 (r - r_hat) grad^2 r_hat is zero: r_hat is piecewise linear in z_0).

    Parameters
    ----------
    p_u, q_i : ndarray, shape (d,)
        The user and item embeddings; z_0 = p_u (+) q_i.
    W1 : ndarray, shape (h, 2d)
        The hidden layer's weights.
    b1 : ndarray, shape (h,)
        Its biases.
    w_out : ndarray, shape (h,)
        The linear output layer's weights (r_hat = mu + w_out^T ReLU(W1 z_0 + b1) + b_out).
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (2d, 2d)
    """
    z0 = np.concatenate([p_u, q_i])                          # z_0 = p_u (+) q_i, eq. (4)
    a = W1 @ z0 + b1                                         # the hidden layer's pre-activations, eq. (5)
    g = W1.T @ (w_out * (a > 0))                             # g = d r_hat / d z_0: back through ReLU' = [a > 0]
    return 2 * np.outer(g, g) + 2 * reg * np.eye(len(z0))    # 2 g g^T + 2 lambda I (no residual term)


# ============================================================================ find out on MovieLens
@functools.lru_cache(maxsize=None)
def _fitted(source):
    """A small NCF fitted with a fixed seed (once per session): on a dense corner of MovieLens 100K, or on
    planted low-rank data. Returns (model, its training ratings)."""
    from ..data import load_movielens, synthetic
    from ..ncf import NCF

    if source == "movielens":
        train = load_movielens("100k").top(100, 150)
        model = NCF(embedding_dim=8, hidden=(16, 8), reg=20.0, lr=3e-3, n_epochs=3, batch_size=512, seed=0)
    else:
        train = synthetic(30, 40, 3, 0.3, seed=0)[0]
        model = NCF(embedding_dim=4, hidden=(8,), reg=1.0, lr=1e-2, n_epochs=20, batch_size=64, seed=0)
    return model.fit(train), train


def _unrated_pairs(rng, train, count):
    """``count`` (user, item) pairs that ``train`` does not contain: predictions to explain."""
    rated = set(zip(train.rows.tolist(), train.cols.tolist()))
    pairs = []
    while len(pairs) < count:
        pair = (int(rng.integers(train.shape[0])), int(rng.integers(train.shape[1])))
        if pair not in rated and pair not in pairs:
            pairs.append(pair)
    return pairs


def _influence_cases(rng):
    cases = []
    for source, count in (("synthetic", 2), ("movielens", 4)):
        model, train = _fitted(source)
        cases += [(model, train, user, item) for user, item in _unrated_pairs(rng, train, count)]
    return cases


def _top_pair(frame):
    row = frame.iloc[0]
    return int(row["user"]), int(row["item"])


def _largest_signed(model, train, user, item):
    from ..explain.fia_ncf import fia_ncf
    return _top_pair(fia_ncf(model, train, user, item).sort_values("influence", ascending=False))


def _own_ratings_only(model, train, user, item):
    from ..explain.fia_ncf import fia_ncf
    frame = fia_ncf(model, train, user, item)
    return _top_pair(frame[frame["side"] == "item-based"])


def _others_ratings_only(model, train, user, item):
    from ..explain.fia_ncf import fia_ncf
    frame = fia_ncf(model, train, user, item)
    return _top_pair(frame[frame["side"] == "user-based"])


@register(
    lesson=LESSON_08,
    title="find out with the package which training rating influences an NCF prediction most (FIA-NCF)",
    cases=_influence_cases,
    time_limit=10.0,
    hints=[
        "You need not compute anything yourself: mfteach.explain has a function for the influence of every rating "
        "in R_t on an NCF prediction (section 6 of the lesson calls it). Call it on model, train, user, item.",
        "It returns a DataFrame with one row per rating of R_t; the columns user and item say which rating (row and "
        "column indices), influence says by how much it moves the prediction. Read its docstring: in which order "
        "are the rows?",
        "'Most influential' means the largest SIZE of influence, |INFL|, whether it pushes the prediction up or "
        "down, and over BOTH sides (the user's own ratings and other users' ratings of the item). Return the pair "
        "as two Python ints.",
    ],
    diagnostics=[
        Diagnostic(_largest_signed, "You took the largest influence with its sign, the rating that pushes the "
                                    "prediction UP the most. A rating that pulls it down by more is more "
                                    "influential: rank by |influence|."),
        Diagnostic(_own_ratings_only, "Your answer is always one of the user's own ratings (side 'item-based'). "
                                      "Other users' ratings of the target item are in R_t too, and one of them is "
                                      "sometimes the most influential: look at both sides."),
        Diagnostic(_others_ratings_only, "Your answer is always another user's rating of the target item (side "
                                         "'user-based'). The user's own ratings count too: look at both sides."),
    ],
)
def most_influential_rating(model, train, user, item):
    """The training rating with the largest |influence| on ``model``'s prediction for (``user``, ``item``),
    by FIA-NCF (KDD 2019, eq. (24)), as a pair (row, column) of ``train``."""
    import mfteach as mt

    explanation = mt.explain.fia(model, train, user, item)   # for an NCF: FIA-NCF, one row per rating of R_t,
    top = explanation.iloc[0]                                # largest |influence| first
    return int(top["user"]), int(top["item"])


# ============================================================================ check your understanding
register_question(
    name="q08_tanh_hessian", lesson=LESSON_08, kind="choice",
    prompt="Replace NCF's ReLU hidden layers by tanh layers (the output layer stays linear). What is "
           "$2J^\\top J + 2\\lambda I$ then, for the local objective $L_t$ over $\\theta_e = (p_u, q_i)$?",
    choices=[
        "Still the exact Hessian of $L_t$: the output layer is linear, so $\\hat r$ has no curvature.",
        "Only the Gauss–Newton approximation: the exact Hessian adds $-2\\sum_z e_z\\nabla^2_{\\theta_e}\\hat r_z$, "
        "which can have either sign.",
        "Zero: tanh saturates, so the network passes no gradient back.",
        "Still the exact Hessian, but no longer positive definite.",
    ],
    answer=1,
    feedback={
        0: "A linear output is not enough. With ReLU, $\\hat r$ is piecewise linear because every layer is linear on "
           "each side of its kinks; tanh is curved everywhere, so $\\nabla^2_{\\theta_e}\\hat r_z \\neq 0$ and the "
           "residual term of $\\nabla^2 L_t$ comes back.",
        2: "tanh saturates only for large $|a|$; near 0 its slope is 1, so $J \\neq 0$. And $2J^\\top J + 2\\lambda I$ "
           "is at least $2\\lambda I$, never zero for $\\lambda > 0$.",
        3: "$2J^\\top J + 2\\lambda I$ is positive definite whatever the activation ($J^\\top J$ is positive "
           "semidefinite, $\\lambda > 0$). It is the EXACT Hessian that may lose definiteness, and "
           "$2J^\\top J + 2\\lambda I$ no longer equals it.",
    },
    explanation="$\\nabla^2 L_t = 2J^\\top J - 2\\sum_z e_z\\nabla^2_{\\theta_e}\\hat r_z + 2\\lambda I$. With ReLU "
                "layers and a linear output the middle term vanishes (section 5); with tanh it does not, so "
                "$2J^\\top J + 2\\lambda I$ becomes the Gauss–Newton approximation. It stays positive definite, but "
                "the exact Hessian adds a term weighted by the residuals $e_z$, of either sign: with large "
                "residuals it can be indefinite or singular, which is why the paper adds a damping term.",
)

register_question(
    name="q08_zero_half", lesson=LESSON_08, kind="choice",
    prompt="For the target $(u, i)$, the row $g_z = \\partial\\hat r_z/\\partial\\theta_e$ of $J$ has a "
           "$p_u$-half and a $q_i$-half. Which ratings $z$ of $R_t$ have a zero $p_u$-half?",
    choices=[
        "The user's own ratings $(u, j)$, $j \\neq i$.",
        "Other users' ratings of the item, $(a, i)$ with $a \\neq u$.",
        "None: $p_u$ and $q_i$ enter the same network, so every rating depends on both.",
        "The ratings for which every hidden unit is inactive.",
    ],
    answer=1,
    feedback={
        0: "The user's own ratings are predicted from $p_u$ (and $q_j$): they move $p_u$, so their $p_u$-half is "
           "generally non-zero. It is their $q_i$-half that is zero, since $q_i$ does not enter $\\hat r_{uj}$.",
        2: "Within ONE prediction, yes: $\\hat r_{ui}$ depends on both (the off-diagonal blocks of rating_hessian). "
           "But the rating $(a, i)$ of another user is predicted from $p_a$ and $q_i$: $p_u$ does not appear in "
           "it at all.",
        3: "Then the whole row would be zero, both halves, and such a rating would have no influence. What makes "
           "one half vanish for every rating of a kind is which embeddings enter the rating's prediction.",
    },
    explanation="$\\hat r_{aj}$ depends on $p_a$ and $q_j$ only. For $(a, i)$ with $a \\neq u$, $p_u$ is absent: "
                "zero $p_u$-half (these are the 'user-based' rows). For $(u, j)$ with $j \\neq i$, $q_i$ is absent: "
                "zero $q_i$-half ('item-based'). Only the rating $(u, i)$ itself, were it in the training data, "
                "would have both halves non-zero.",
)

register_question(
    name="q08_drop_network", lesson=LESSON_08, kind="choice",
    prompt="FIA-NCF, eq. (24), drops the network's term, eq. (23). Why does this approximation get BETTER as "
           "the data set grows, while FIA for MF (lesson 07) drops nothing?",
    choices=[
        "A rating is one of the $n'$ ratings that train $(p_u, q_i)$ but one of all $|\\Omega|$ that train the "
        "network: its effect on $\\theta_n$ shrinks like $1/|\\Omega|$, its effect on the embeddings does not.",
        "With more data the network's Hessian $H_n$ becomes zero, so eq. (23) vanishes.",
        "With more data NCF learns the inner product, and for MF FIA is exact.",
        "With more data fewer ReLU units switch, so the Hessian $H_e$ becomes exact.",
    ],
    answer=0,
    feedback={
        1: "$H_n$ sums over all $|\\Omega|$ ratings, so it GROWS with the data; that is exactly why "
           "$H_n^{-1}\\nabla_{\\theta_n} l_z$, the network's response to one rating, becomes small.",
        2: "Nothing makes the network turn into an inner product (section 4: it need not even beat MF). The "
           "argument is about how many ratings share the training of each parameter group.",
        3: "$H_e = 2J^\\top J + 2\\lambda I$ is already exact (piecewise linearity, section 5), whatever the size of "
           "the data. The approximation of eq. (24) is a different one: leaving out $\\theta_n$.",
    },
    explanation="$H_e$ sums over the $n'$ ratings of $R_t$ (a few hundred), $H_n$ over all $|\\Omega|$. Removing "
                "one rating changes the embeddings' optimum by a share of order $1/n'$ and the network's by a share "
                "of order $1/|\\Omega|$, so eq. (23) fades as $|\\Omega|$ grows (here $n'/|\\Omega|$ is about 1%, on "
                "ML-1M 0.03%). In MF every parameter of the prediction, $u_u$ and $v_i$ (and the biases), belongs "
                "to $\\theta_t$: nothing trained by all the ratings enters it, so nothing is dropped.",
)

register_question(
    name="q08_slope", lesson=LESSON_08, kind="choice",
    prompt="Against leave-one-out retraining, FIA-NCF reached a Pearson R near 0.9 with a least-squares slope "
           "near 0.6. What does the slope below 1 change in a neighbor-style explanation (\"because you rated "
           "…\")?",
    choices=[
        "Its top ratings are unreliable: the estimates are 40% off.",
        "Nothing: the explanation ranks the ratings of one $R_t$ by influence, and a common scale factor keeps the "
        "order.",
        "The influences must be divided by 0.6 before they are ranked.",
        "It shows that the retraining diverged.",
    ],
    answer=1,
    feedback={
        0: "A slope scales all the estimates alike; what an explanation needs is their ORDER, and with R near 0.9 "
           "the order agrees well with retraining. Being off in size by a common factor does not reorder them.",
        2: "Dividing every influence by the same positive number cannot change their order: the rescaled numbers "
           "would match the retrained sizes better, the explanation would be the same.",
        3: "Nothing diverged: three epochs of Adam from the fitted model move the embeddings only part of the way "
           "to the new optimum, and the network and the other embeddings, which FIA-NCF holds fixed, adjust too "
           "and partly absorb the change. Both make the observed changes smaller, not random.",
    },
    explanation="Two reasons for the slope: the warm-started retraining (three epochs) does not reach the new "
                "optimum, and the parameters FIA-NCF holds fixed (the network, the other embeddings) also adjust "
                "and partly counteract the change. Pearson's R ignores the scale, which is why the paper reports it: "
                "an explanation ranks the ratings of one $R_t$ by influence, and a common factor leaves the ranking "
                "as it is.",
)

register_question(
    name="q08_rank_one", lesson=LESSON_08, kind="expression",
    prompt="For ONE rating, the Hessian $2gg^\\top + 2\\lambda I$ of the exercise rating_hessian is "
           "$2d\\times 2d$, with $g \\neq 0$. How many of its eigenvalues (counted with multiplicity) equal "
           "$2\\lambda$? Answer in terms of $d$.",
    answer="2*d - 1", variables=("d",),
    feedback={
        "2*d": "Not all: along $g$ itself, $(2gg^\\top + 2\\lambda I)g = (2\\|g\\|^2 + 2\\lambda)g$, a larger "
               "eigenvalue.",
        "d - 1": "The Hessian acts on $\\theta_e = (p_u, q_i)$: $2d$ numbers, not $d$.",
        "d": "The Hessian acts on $\\theta_e = (p_u, q_i)$, $2d$ numbers; and one direction, $g$, has a larger "
             "eigenvalue.",
        "1": "That is the number of eigenvalues that DIFFER from $2\\lambda$ (the one along $g$). Count the others.",
    },
    default_feedback="$2gg^\\top$ has rank one: it sends every vector orthogonal to $g$ to 0. How many independent "
                     "directions orthogonal to $g$ does a space of dimension $2d$ have?",
    explanation="$2gg^\\top$ maps $g$ to $2\\|g\\|^2 g$ and every vector orthogonal to $g$ to 0. So $H$ has the "
                "eigenvalue $2\\|g\\|^2 + 2\\lambda$ once (along $g$) and $2\\lambda$ on the $(2d-1)$-dimensional "
                "orthogonal complement. One rating constrains one direction only; many ratings, or the penalty, "
                "make $H_e$ well conditioned.",
)
