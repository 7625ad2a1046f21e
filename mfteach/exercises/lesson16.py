r"""Exercises and questions of lesson 16_neural_collaborative_filtering (registered on import).

Neural collaborative filtering (He et al., WWW 2017; as used by Cheng, Shen, Huang, Zhu, KDD 2019,
eq. (2)-(5)) in numpy. The exercises, in the lesson's order:

* ``ncf_predict`` (warm-up): NCF's prediction for one pair, eq. (3)-(5) with ReLU hidden layers and a
  linear output, r_hat = mu + w_out^T z_X + b_out with z_0 = p_u (+) q_i, z_l = ReLU(W_l z_{l-1} + b_l);
* ``ncf_backward`` (the key algorithm, before the lesson shows it): the gradient of that prediction with
  respect to p_u, q_i and every W_l by backpropagation. Through a ReLU the gradient is multiplied by its
  derivative, the 0/1 mask [a_l > 0].

Then the check-your-understanding questions (``q16_*``). Lesson 17 (``lesson17``) uses these gradients for
FIA on NCF.
"""

from __future__ import annotations

import numpy as np

from .registry import Diagnostic, register, register_question

LESSON_16 = "16_neural_collaborative_filtering"


def _small_case():
    """d = 2, three hidden units: unit 0 active, unit 1 inactive (a < 0), unit 2 active only
    thanks to its bias (W_1 z_0 < 0 < W_1 z_0 + b_1); lambda = 0.1. (The same numbers as the small
    case of lesson 17's rating_hessian.)"""
    p_u, q_i = np.array([0.5, -1.0]), np.array([1.0, 0.5])
    W1 = np.array([[1.0, 0.0, 1.0, 0.0],       # a_0 = 0.5 + 1.0 + 0.2 = 1.7
                   [0.0, 1.0, 0.0, 1.0],       # a_1 = -1.0 + 0.5 - 0.1 = -0.6
                   [-1.0, 0.5, 0.0, 0.0]])     # a_2 = -0.5 - 0.5 + 1.5 = 0.5
    b1 = np.array([0.2, -0.1, 1.5])
    w_out = np.array([1.0, -2.0, 0.5])
    return p_u, q_i, W1, b1, w_out, 0.1


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
    # the small case: d = 2, hidden layers of 3 and 2 units. Layer 1 is that of rating_hessian's small case (lesson 17),
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
    lesson=LESSON_16,
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
    lesson=LESSON_16,
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


# ============================================================================ check your understanding
register_question(
    name="q16_network_size", lesson=LESSON_16, kind="number",
    prompt="The lesson's network takes embeddings of length $d = 16$, has hidden layers of 32 and 16 units and a "
           "linear output. How many weights and biases does it have, the embeddings not counted "
           "($|\\theta_n|$, a number)?",
    answer=1601, tolerance=0.5,
    feedback={
        1552: "That counts the weight matrices and $w_{out}$ but no biases: every hidden unit has one (32 + 16), "
              "and the output layer one more.",
        1600: "Almost: the output layer's bias $b_{out}$ counts too.",
        1089: "The first layer's input is $z_0 = p_u\\oplus q_i$, of length $2d = 32$, not $d$: $W_1$ is "
              "$32\\times 32$.",
        9601: "That includes the embeddings $P$ and $Q$, $(200 + 300)\\times 16$ numbers; $\\theta_n$ is the "
              "network alone.",
    },
    default_feedback="Count layer by layer: a layer from $h_{in}$ inputs to $h_{out}$ units has "
                     "$h_{out}\\times h_{in}$ weights and $h_{out}$ biases; the first layer's input is "
                     "$p_u\\oplus q_i$.",
    explanation="$W_1$: $32\\times 32 = 1024$ (the input $p_u\\oplus q_i$ has $2d = 32$ entries) and $b_1$: 32; "
                "$W_2$: $16\\times 32 = 512$ and $b_2$: 16; the output layer $w_{out}$: 16 and $b_{out}$: 1. In all "
                "1,601, fewer than the 8,000 embedding numbers of 200 users and 300 movies (the `.size` of every "
                "array in `model.params_` but `P` and `Q` adds up to the same). Lesson 17 needs this count: the "
                "network's part of FIA is a linear system over these 1,601 parameters.",
)

register_question(
    name="q16_inactive_unit", lesson=LESSON_16, kind="choice",
    prompt="In the backward pass for one rating, a unit of the first hidden layer has the pre-activation "
           "$a = -0.3$. What does it contribute to $\\partial\\hat r/\\partial p_u$ and "
           "$\\partial\\hat r/\\partial q_i$?",
    choices=[
        "$-0.3$ times what arrives from the layer above: a unit scales the gradient by its pre-activation.",
        "Nothing: ReLU is flat for $a < 0$, its derivative there is 0, so whatever arrives from above is "
        "multiplied by 0.",
        "The same as an active unit: ReLU changes the forward pass, the backward pass only uses the weights.",
        "Nothing we can compute: its gradient is undefined, so backpropagation has to skip this rating.",
    ],
    answer=1,
    feedback={
        0: "On the way back a unit multiplies by the DERIVATIVE of its activation at $a$, not by $a$ or by "
           "ReLU($a$). ReLU's derivative is 1 for $a > 0$ and 0 for $a < 0$.",
        2: "The chain rule passes through every function of the forward pass, ReLU included. For $a < 0$ the "
           "unit outputs 0 whatever its input does: a small change of $p_u$ or $q_i$ does not reach the output "
           "through it.",
        3: "ReLU lacks a derivative only at its kink, $a = 0$ exactly. At $a = -0.3$ it is flat: the derivative "
           "is 0, perfectly well defined.",
    },
    explanation="Backpropagation multiplies by ReLU$'(a_l) = [a_l > 0]$ at every unit. At $a = -0.3$ that is 0: "
                "the unit's output stays 0 under any small change of its inputs, so it contributes nothing to "
                "the gradients of $p_u$ and $q_i$, nor to its own weights, for this rating. A unit that is "
                "inactive for every rating gets no gradient at all (a 'dead' unit) and stops learning.",
)

register_question(
    name="q16_gradient_check_sample", lesson=LESSON_16, kind="choice",
    prompt="The gradient check compares `gradient` with central differences of `loss` on every 100th training "
           "rating, not on all 26,105. Why?",
    choices=[
        "Speed: a loss over 26,105 ratings is too slow to evaluate twice for every entry checked.",
        "The more ratings, the more likely some ReLU unit sits within the step $h$ of its kink; if the step "
        "crosses it, the difference quotient measures a jump of the slope, not the gradient.",
        "Rounding: a mean over more ratings carries more rounding error, so the differences would be off.",
        "A check on the training ratings would be biased: it needs ratings the model has not seen.",
    ],
    answer=1,
    feedback={
        0: "One loss over 26,105 ratings is a forward pass in numpy, a few milliseconds, and the check needs fewer "
           "than a hundred of them. The reason is about what the difference quotient measures.",
        2: "Rounding in a mean of 26,105 terms is far below the $10^{-7}$ at stake. What grows with the number "
           "of ratings is the chance that some unit is close to its kink.",
        3: "A gradient check compares two ways of computing the same derivative of the same function; it is not "
           "an evaluation of the model, so nothing needs to be held out.",
    },
    explanation="With ReLU units the loss is piecewise smooth: it has a kink wherever a unit's "
                "pre-activation crosses 0 for some rating. A central difference with step $h$ is exact up to "
                "rounding and $O(h^2)$ only if no unit changes sign within $\\pm h$. Every rating brings 48 "
                "units that might; with all 26,105 ratings some sit within $h$ of 0, and the quotient picks up "
                "a jump of the slope, an error that has nothing to do with the code. Every 100th rating makes "
                "such a crossing unlikely.",
)
