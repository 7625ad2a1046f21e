r"""Exercises and questions of lesson 17_fia_for_neural_cf (registered on import).

FIA for neural collaborative filtering (Cheng, Shen, Huang, Zhu, KDD 2019, section 3.3). The exercises, in
the lesson's order:

* ``rating_hessian`` (section 1): the Hessian of one rating's loss over theta_e = (p_u, q_i) (below);
* ``most_influential_rating`` (find out with the package, section 2): the rating of R_t with the largest
  |FIA-NCF influence| on a prediction of a small NCF fitted to MovieLens 100K and to synthetic data.

For ONE rating r of user u and item i, with a network of one ReLU hidden layer and a linear output,

    z_0 = p_u (+) q_i,    a = W_1 z_0 + b_1,    r_hat = mu + w_out^T ReLU(a) + b_out,

the loss l(theta_e) = (r - r_hat)^2 + lambda (||p_u||^2 + ||q_i||^2) has the Hessian

    grad^2 l = 2 g g^T - 2 (r - r_hat) grad^2 r_hat + 2 lambda I = 2 g g^T + 2 lambda I,

g = grad_{theta_e} r_hat = W_1^T (w_out * [a > 0]) (backpropagation through the ReLU: its
derivative is the 0/1 mask [a > 0]; lesson 16's ``ncf_backward`` for one layer). The middle term
vanishes because r_hat is piecewise linear in z_0: ReLU layers and a linear output have no curvature
except on the kinks a = 0, a set of measure zero. So the Gauss-Newton matrix 2 g g^T is the exact
Hessian, and neither the rating r nor the offsets mu, b_out enter it.

Then the check-your-understanding questions (``q08_*``: their names keep the old lesson number so that
recorded progress stays valid).
"""

from __future__ import annotations

import functools

import numpy as np

from .registry import Diagnostic, register, register_question

LESSON_17 = "17_fia_for_neural_cf"


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
    lesson=LESSON_17,
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
    from ..explain.fast_influence_ncf import fia_ncf
    return _top_pair(fia_ncf(model, train, user, item).sort_values("influence", ascending=False))


def _own_ratings_only(model, train, user, item):
    from ..explain.fast_influence_ncf import fia_ncf
    frame = fia_ncf(model, train, user, item)
    return _top_pair(frame[frame["side"] == "item-based"])


def _others_ratings_only(model, train, user, item):
    from ..explain.fast_influence_ncf import fia_ncf
    frame = fia_ncf(model, train, user, item)
    return _top_pair(frame[frame["side"] == "user-based"])


@register(
    lesson=LESSON_17,
    title="find out with the package which training rating influences an NCF prediction most (FIA-NCF)",
    cases=_influence_cases,
    time_limit=10.0,
    hints=[
        "You need not compute anything yourself: mfteach.explain has a function for the influence of every rating "
        "in R_t on an NCF prediction (section 2 of the lesson calls it). Call it on model, train, user, item.",
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
    name="q17_tanh_hessian", lesson=LESSON_17, kind="choice",
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
                "layers and a linear output the middle term vanishes (section 1); with tanh it does not, so "
                "$2J^\\top J + 2\\lambda I$ becomes the Gauss–Newton approximation. It stays positive definite, but "
                "the exact Hessian adds a term weighted by the residuals $e_z$, of either sign: with large "
                "residuals it can be indefinite or singular, which is why the paper adds a damping term.",
)

register_question(
    name="q17_zero_half", lesson=LESSON_17, kind="choice",
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
    name="q17_drop_network", lesson=LESSON_17, kind="choice",
    prompt="FIA-NCF, eq. (24), drops the network's term, eq. (23). Why does this approximation get BETTER as "
           "the data set grows, while FIA for MF (lesson 14) drops nothing?",
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
        2: "Nothing makes the network turn into an inner product (lesson 16: it need not even beat MF). The "
           "argument is about how many ratings share the training of each parameter group.",
        3: "$H_e = 2J^\\top J + 2\\lambda I$ is already exact (piecewise linearity, section 1), whatever the size of "
           "the data. The approximation of eq. (24) is a different one: leaving out $\\theta_n$.",
    },
    explanation="$H_e$ sums over the $n'$ ratings of $R_t$ (a few hundred), $H_n$ over all $|\\Omega|$. Removing "
                "one rating changes the embeddings' optimum by a share of order $1/n'$ and the network's by a share "
                "of order $1/|\\Omega|$, so eq. (23) fades as $|\\Omega|$ grows (here $n'/|\\Omega|$ is about 1%, on "
                "ML-1M 0.03%). In MF every parameter of the prediction, $u_u$ and $v_i$ (and the biases), belongs "
                "to $\\theta_t$: nothing trained by all the ratings enters it, so nothing is dropped.",
)

register_question(
    name="q17_slope", lesson=LESSON_17, kind="choice",
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
    name="q17_rank_one", lesson=LESSON_17, kind="expression",
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
