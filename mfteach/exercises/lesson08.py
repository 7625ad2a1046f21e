r"""Exercises of lesson 08_fia_for_neural_cf (registered on import).

FIA for neural collaborative filtering (Cheng, Shen, Huang, Zhu, KDD 2019, section 3.3) needs the
Hessian of the loss with respect to the embeddings theta_e = (p_u, q_i). For ONE rating r of user
u and item i, with a network of one ReLU hidden layer and a linear output (eq. (3)-(5)),

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

import numpy as np

from . import Diagnostic, register

LESSON_08 = "08_fia_for_neural_cf"


# ---------------------------------------------------------------------------- test cases
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
        "g = ∂r̂/∂z₀ = W₁ᵀ (w_out ⊙ [a > 0]), a vector of length 2d.",
        "The result is 2d × 2d: 2 g gᵀ (an outer product, np.outer(g, g)) plus 2λ on the diagonal "
        "(2 * reg * np.eye(2 * d)). The p–q blocks off the diagonal are not zero: p_u and q_i enter the same network.",
        "z0 = np.concatenate([p_u, q_i]); a = W1 @ z0 + b1; g = W1.T @ (w_out * (a > 0)); "
        "return 2 * np.outer(g, g) + 2 * reg * np.eye(len(z0))",
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
                                    "2λ on the diagonal only: + 2 * reg * np.eye(2 * d)."),
        Diagnostic(_inner_not_outer, "You returned a number: g @ g is the inner product gᵀg. The Hessian is the "
                                     "2d × 2d matrix 2 g gᵀ + 2λI: np.outer(g, g)."),
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
