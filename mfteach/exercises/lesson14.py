r"""Exercises and questions of lesson 14_influence_functions_and_fia (registered on import).

FIA (Cheng, Shen, Huang, Zhu, KDD 2019, section 3.2) explains the prediction y_hat = u_u . v_i of a
trained matrix factorization by the influence of each training rating z on it,

    INFL(z) = y_hat(theta) - y_hat(theta_{-z})                                    (eq. 10)

(positive: z pushed the prediction up), estimated to first order over the few parameters the
prediction depends on, theta_t = (u_u, v_i):

    INFL(z) ~ -grad y_hat^T H^{-1} grad l(z)                                    (eqs. 11, 18)

Our objective is the SUM of the squared errors plus lambda times the squared norms (the paper
averages; its 1/n' cancels against the 1/n' inside its mean Hessian). Removing z moves the minimizer
by theta_{-z} - theta ~ H^{-1} grad l(z), since theta minimizes L and theta_{-z} minimizes
L - l(z); so y_hat_{-z} - y_hat ~ grad y_hat^T H^{-1} grad l(z) and INFL ~ -grad y_hat^T H^{-1} grad l(z).

For one of the user's OWN ratings z = (u, j, r_uj), only u_u's block is involved (v_j is not in
theta_t, and H is block-diagonal because (u, i) itself is not a training rating):

    H_uu = 2 (V_O^T V_O + lambda I),      grad_u l(z) = -2 e_z v_j,  e_z = r_uj - u_u . v_j,
    grad_u y_hat = v_i,
    INFL(z) ~ -v_i^T H_uu^{-1} (-2 e_z v_j) = e_z v_i^T (V_O^T V_O + lambda I)^{-1} v_j

with V_O = V[Omega_u] the user's rated items (z included). The 2s cancel.

The lesson's exercises, in the order the lesson meets them:

* ``ridge_influence_1d``: eq. (11) on a 1-D ridge regression y_hat = w x (the warm-up, section 2);
* ``infl_of_user_rating``: eq. (18) over the user block (FIA, before the lesson shows ``fia_by_hand``,
  section 4).

Then the check-your-understanding questions (``q14_mean_or_sum``, ``q14_block_diagonal``; their names
keep the old lesson number so that recorded progress stays valid). Lesson 15 (``lesson15``) continues with
the exact local downdate and explanations on MovieLens.
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from .registry import Diagnostic, register, register_question

LESSON_14 = "14_influence_functions_and_fia"


# ============================================================================ 1. the 1-D warm-up (section 2)
def _ridge_1d_cases(rng):
    cases = [(np.array([-1.0, 0.5, 1.5, 2.0, -0.5]), np.array([-0.5, 1.0, 1.0, 2.5, 0.0]), 0.5, 2.0)]
    for n, lam, x_t in [(20, 1.0, 2.0), (8, 0.3, -1.5), (50, 4.0, 0.7), (12, 0.05, 3.0)]:
        x = rng.normal(size=n)
        y = 0.8 * x + 0.5 * rng.normal(size=n)
        x[-1], y[-1] = 3.5, 0.5                            # one far point off the line (high leverage)
        cases.append((x, y, lam, x_t))
    return cases


def _ridge_1d_parts(x, y, lam):
    w = np.sum(x * y) / (np.sum(x**2) + lam)
    return w, y - w * x, np.sum(x**2) + lam


def _r1_sign(x, y, lam, x_t):
    return -ridge_influence_1d(x, y, lam, x_t)


def _r1_exact(x, y, lam, x_t):
    _, _, A = _ridge_1d_parts(x, y, lam)
    return ridge_influence_1d(x, y, lam, x_t) / (1 - x**2 / A)


def _r1_rating_not_residual(x, y, lam, x_t):
    _, _, A = _ridge_1d_parts(x, y, lam)
    return x_t * y * x / A


def _r1_no_lambda(x, y, lam, x_t):
    w, e, _ = _ridge_1d_parts(x, y, lam)
    return x_t * e * x / np.sum(x**2)


def _r1_half(x, y, lam, x_t):
    return ridge_influence_1d(x, y, lam, x_t) / 2


def _r1_no_x_t(x, y, lam, x_t):
    return ridge_influence_1d(x, y, lam, x_t) / x_t


@register(
    lesson=LESSON_14,
    title="First-order influence of every training point on a 1-D ridge prediction (eq. 11)",
    cases=_ridge_1d_cases,
    hints=[
        "Everything is a number here: the prediction ŷ = ŵ x_t depends on the one parameter w, so ∇ŷ, H and "
        "∇l(z) are scalars. Start from the fitted ŵ (its closed form is in the text) and the residuals e_z.",
        "H is the second derivative of the WHOLE objective L(w), penalty included; ∇l(z) is the first derivative "
        "of the ONE squared error (y_z − w x_z)², at ŵ; ∇ŷ is dŷ/dw. Each of the first two carries a factor 2.",
        "Work on whole arrays: the N residuals give the N gradients ∇l(z_j) at once, and one expression gives "
        "all N influences, no loop. Mind the sign: INFL = ŷ − ŷ₋z is MINUS ∇ŷ H⁻¹ ∇l(z).",
    ],
    diagnostics=[
        Diagnostic(_r1_sign, "Your influences have the wrong sign. INFL(z) = ŷ − ŷ₋z, and removing z moves ŵ by "
                             "about +H⁻¹∇l(z), so INFL ≈ −∇ŷ H⁻¹ ∇l(z). Check: a point above the line (e_z > 0) at "
                             "x_z of the same sign as x_t pulled the prediction UP, a positive influence."),
        Diagnostic(_r1_exact, "You computed the EXACT leave-one-out change (ŵ refitted without z, or the first-order "
                              "value divided by 1 − h_z). That is the truth the estimate approximates; the exercise "
                              "asks for the first-order estimate of eq. (11), one derivative at the fitted ŵ with z "
                              "still in the data."),
        Diagnostic(_r1_rating_not_residual, "You used y_z where the residual e_z = y_z − ŵ x_z belongs: l(z) is the "
                                            "squared error, so its derivative is −2 (y_z − ŵ x_z) x_z. A point the "
                                            "fit already passes through has no pull on ŵ."),
        Diagnostic(_r1_no_lambda, "λ is missing from your H: the penalty λw² adds 2λ to the second derivative of "
                                  "L(w)."),
        Diagnostic(_r1_half, "Your influences are half the expected ones: one factor 2 got lost. Both H = L''(ŵ) "
                             "and ∇l(z) carry a 2 (they cancel); keep both or neither."),
        Diagnostic(_r1_no_x_t, "You returned the change of ŵ, not of the prediction: ŷ = ŵ x_t, so ∇ŷ = x_t "
                               "multiplies the result."),
    ],
)
def ridge_influence_1d(x, y, lam, x_t):
    r"""First-order INFL(z_j) = y_hat - y_hat_{-z_j} of every point on the prediction w x_t (eq. 11), 1-D ridge."""
    w = np.sum(x * y) / (np.sum(x**2) + lam)              # the ridge fit w_hat
    e = y - w * x                                         # residuals e_z
    H = 2 * (np.sum(x**2) + lam)                          # L''(w): the 1 x 1 Hessian
    grad_l = -2 * e * x                                   # d l(z) / dw for every point z
    return -x_t * grad_l / H                              # eq. (11): -grad_y H^-1 grad_l(z), grad_y = x_t


# ============================================================================ 2. FIA over the user block (section 4)

# ---------------------------------------------------------------------------- test cases
def _ridge(V_O, ratings_of_user, reg):
    return np.linalg.solve(V_O.T @ V_O + reg * np.eye(V_O.shape[1]), V_O.T @ ratings_of_user)


def _slides_user_0():
    """The slides' 4 x 6 example: user 0 rated items 0, 3, 5 with 1, 2, 1 stars; V = (V^T)^T,
    lambda = 0.1, u_u the ALS user update; the prediction for item 2, the rating of item 3 removed."""
    R = toy("lecture_R")
    rated = np.flatnonzero(~np.isnan(R[0]))
    V, reg = toy("lecture_Vt").T, 0.1
    u = _ridge(V[rated], R[0, rated], reg)
    return V, rated, R[0, rated], u, reg, 2, 1


def _infl_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, lambda): more ratings than k (so that dropping lambda still solves),
    # never 2 ratings (1/|Omega_u| would look like the factor-2 mistake)
    for n, k, count, reg in [(12, 3, 6, 0.5), (25, 5, 11, 1.0), (9, 1, 4, 0.2), (40, 4, 17, 3.0), (15, 6, 8, 0.05)]:
        V = rng.normal(size=(n, k))
        items = rng.permutation(n)
        rated, target = items[:count], int(items[count])     # the target item is not rated
        ratings = rng.integers(1, 6, size=count).astype(float)
        u = _ridge(V[rated], ratings, reg)                   # the fitted u_u: the ALS user update
        cases.append((V, rated, ratings, u, reg, target, int(rng.integers(count))))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _parts(V, rated_items, ratings_of_user, u, removed):
    V_O = V[rated_items]
    v_z = V[rated_items[removed]]
    return V_O, v_z, ratings_of_user[removed] - u @ v_z


def _wrong_sign(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    return -infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed)


def _two_in_hessian_only(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    return infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed) / 2


def _two_in_gradient_only(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    return 2 * infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed)


def _mean_factor(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    return infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed) / len(rated_items)


def _no_reg(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    V_O, v_z, e_z = _parts(V, rated_items, ratings_of_user, u, removed)
    return e_z * V[target_item] @ np.linalg.solve(V_O.T @ V_O, v_z)


def _all_items(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    _, v_z, e_z = _parts(V, rated_items, ratings_of_user, u, removed)
    return e_z * V[target_item] @ np.linalg.solve(V.T @ V + reg * np.eye(V.shape[1]), v_z)


def _rating_not_residual(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    V_O, v_z, _ = _parts(V, rated_items, ratings_of_user, u, removed)
    return ratings_of_user[removed] * V[target_item] @ np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), v_z)


def _z_left_out_of_hessian(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    V_O, v_z, e_z = _parts(V, rated_items, ratings_of_user, u, removed)
    H_without_z = V_O.T @ V_O - np.outer(v_z, v_z) + reg * np.eye(V.shape[1])
    return e_z * V[target_item] @ np.linalg.solve(H_without_z, v_z)


def _removed_as_item_id(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    V_O = V[rated_items]
    v_z = V[removed]                                  # V[removed]: the item numbered `removed`, not the rated one
    e_z = ratings_of_user[removed] - u @ v_z
    return e_z * V[target_item] @ np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), v_z)


def _removed_item_as_target(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    return infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, rated_items[removed], removed)


@register(
    lesson=LESSON_14,
    title="INFL of one of the user's ratings on a prediction, from the k x k block Hessian (FIA eq. 18)",
    cases=_infl_cases,
    hints=[
        "Only u_u moves: the prediction is ŷ = u_uᵀ v_target, and the rating z = (u, j, r) touches θ_t = (u_u, v_i) "
        "through u_u alone. INFL(z) ≈ −∇ŷᵀ H⁻¹ ∇l(z) with the gradients and the Hessian taken with respect to u_u.",
        "With V fixed, the user's loss is Σ_{j∈Ω_u} (r_uj − uᵀv_j)² + λ‖u‖²: its Hessian is H = 2(V_Ωᵀ V_Ω + λI) "
        "(V_Ω = V[rated_items], z included), the gradient of l(z) = (r_z − uᵀv_z)² is −2 e_z v_z with the residual "
        "e_z = r_z − uᵀv_z, and ∇ŷ = v_target.",
        "Put the three pieces into −∇ŷᵀ H⁻¹ ∇l(z): the two 2s cancel, leaving the residual times a similarity "
        "of v_target and v_z measured through the inverse of V_ΩᵀV_Ω + λI.",
        "`removed` is a position in rated_items, not an item number: the removed rating's item is the one at that "
        "position, and its stars are at the same position of ratings_of_user. Solve the k × k system with "
        "np.linalg.solve instead of forming an inverse.",
    ],
    diagnostics=[
        Diagnostic(_wrong_sign, "Your influence has the wrong sign. INFL(z) = ŷ − ŷ₋z: removing z moves u by about "
                                "+H⁻¹∇l(z) (θ minimizes L, θ₋z minimizes L − l(z)), so ŷ₋z − ŷ ≈ ∇ŷᵀH⁻¹∇l(z) and "
                                "INFL ≈ −∇ŷᵀH⁻¹∇l(z), with ∇l(z) = −2 e_z v_z. A rating above its prediction "
                                "(e_z > 0) of a similar item pushes ŷ UP: positive influence."),
        Diagnostic(_two_in_hessian_only, "Your result is half the expected one: the Hessian has the 2 "
                                         "(H = 2(V_ΩᵀV_Ω + λI)) but your gradient of l(z) = (r_z − uᵀv_z)² lost its 2: "
                                         "it is −2 e_z v_z. Keep both 2s or neither: they cancel."),
        Diagnostic(_two_in_gradient_only, "Your result is twice the expected one: the gradient has its 2 (−2 e_z v_z) "
                                          "but your Hessian lost its 2: the second derivative of "
                                          "Σ(r − uᵀv_j)² + λ‖u‖² is 2(V_ΩᵀV_Ω + λI). Keep both 2s or neither."),
        Diagnostic(_mean_factor, "You divided by n' = |Ω_u|. The paper's 1/n' in eq. (18) goes with its MEAN "
                                 "Hessian H = (1/n') Σ ∇²l; with our summed Hessian 2(V_ΩᵀV_Ω + λI) the two "
                                 "factors cancel and no 1/n' remains."),
        Diagnostic(_no_reg, "λI is missing from your Hessian: the penalty λ‖u‖² contributes 2λI, "
                            "so H = 2(V_ΩᵀV_Ω + λI)."),
        Diagnostic(_all_items, "Your Hessian is built from ALL items (VᵀV). Only the ratings that contain u_u enter "
                               "its block: V_Ω = V[rated_items], H = 2(V_ΩᵀV_Ω + λI)."),
        Diagnostic(_rating_not_residual, "You used the rating r_z where the residual e_z = r_z − uᵀv_z belongs: "
                                         "the gradient of (r_z − uᵀv_z)² is −2(r_z − uᵀv_z) v_z. A rating the model "
                                         "already predicts exactly has no pull on u and no influence."),
        Diagnostic(_z_left_out_of_hessian, "You left z out of the Hessian (V_ΩᵀV_Ω − v_z v_zᵀ + λI). That is in fact "
                                           "the EXACT leave-one-out change of this ridge problem (Sherman–Morrison), "
                                           "INFL / (1 − h_z) with h_z = v_zᵀ(V_ΩᵀV_Ω + λI)⁻¹v_z; the exercise asks "
                                           "for eq. (18), the first-order estimate at the trained θ, whose Hessian "
                                           "includes z."),
        Diagnostic(_removed_as_item_id, "`removed` is a POSITION in rated_items, not an item number: the removed "
                                        "rating's item is rated_items[removed], so v_z = V[rated_items[removed]]."),
        Diagnostic(_removed_item_as_target, "You used the removed item's vector v_z where the target's belongs: "
                                            "∇ŷ = v_target = V[target_item] (the prediction we explain), "
                                            "and v_z only enters through ∇l(z)."),
    ],
)
def infl_of_user_rating(V, rated_items, ratings_of_user, u, reg, target_item, removed):
    r"""INFL(z) of the user's rating z on the prediction u^T v_target (FIA, KDD 2019, eq. 18, our notation).

    .. math::
        \mathrm{INFL}(z) \approx -\nabla_u \hat y^\top H^{-1} \nabla_u l(z)
        = e_z\, v_t^\top (V_\Omega^\top V_\Omega + \lambda I)^{-1} v_z,
        \quad H = 2(V_\Omega^\top V_\Omega + \lambda I),\ \nabla_u l(z) = -2 e_z v_z,\ \nabla_u \hat y = v_t

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    rated_items : int array, shape (|Omega_u|,)
        The items user u rated (Omega_u, z included).
    ratings_of_user : ndarray, shape (|Omega_u|,)
        The user's ratings of those items, in the same order.
    u : ndarray, shape (k,)
        The trained user vector u_u.
    reg : float
        lambda > 0 (the summed objective: sum of squared errors + lambda ||u||^2).
    target_item : int
        The item whose prediction u^T v_target we explain (not rated by the user).
    removed : int
        Position in ``rated_items`` of the rating z whose influence we want.

    Returns
    -------
    float
        INFL(z) = y_hat - y_hat_{-z} to first order: positive when z pushes the prediction up.
    """
    V_O = V[rated_items]                                   # V_Omega: the rated items' vectors
    v_z = V[rated_items[removed]]                          # the removed rating's item vector
    e_z = ratings_of_user[removed] - u @ v_z               # its residual r_z - u^T v_z
    H = 2 * (V_O.T @ V_O + reg * np.eye(V.shape[1]))       # the k x k Hessian of the user's block
    grad_l = -2 * e_z * v_z                                # gradient of l(z) = (r_z - u^T v_z)^2 wrt u
    grad_y = V[target_item]                                # gradient of y_hat = u^T v_target wrt u
    return -grad_y @ np.linalg.solve(H, grad_l)            # INFL(z) = -grad_y^T H^-1 grad_l


# ============================================================================ check your understanding
register_question(
    name="q14_mean_or_sum", lesson=LESSON_14, kind="choice",
    prompt="The paper removes a rating $z$ by upweighting it with $\\epsilon = -\\frac1n$ in a MEAN objective; "
           "we use $\\epsilon = -1$ in a SUMMED one. Why do both give the same influence?",
    choices=[
        "Because $n$ is large: $\\frac1n$ is then close to 0, and a step that small can be neglected.",
        "The paper's Hessian is a mean, $\\frac1n H$: its inverse brings a factor $n$ that cancels the $\\frac1n$ "
        "of $\\epsilon$.",
        "They do not: the paper's influences are $n$ times smaller, which is why its Figure 2 has a different scale.",
        "Because the regularization $\\lambda$ absorbs the factor: the paper's $\\lambda$ is $n$ times ours.",
    ],
    answer=1,
    feedback={
        0: "Neglecting $\\frac1n$ would make every influence 0, not the same. The factor does not vanish: it "
           "cancels against another factor $n$. Where does the paper's Hessian come from?",
        2: "Both compute $\\hat y - \\hat y_{-z}$ for the same trained model, a number that does not depend on how "
           "the objective is scaled. Follow the $\\frac1n$ through $(\\frac1n H)^{-1}$.",
        3: "The scale of $\\lambda$ does differ between a mean and a sum (that is why the paper's 0.001 is not our "
           "$\\lambda$), but it changes the model, not this bookkeeping. The cancellation is between $\\epsilon$ "
           "and the mean Hessian.",
    },
    explanation="Dividing an objective by $n$ changes neither its minimizer nor the effect of deleting a point. "
                "In the paper's bookkeeping the deletion weight $\\epsilon = -\\frac1n$ and the mean Hessian "
                "$H_{\\text{paper}} = \\frac1n H$ appear together: $\\epsilon\\,\\nabla\\hat y^\\top "
                "H_{\\text{paper}}^{-1}\\nabla l = -\\frac1n\\, n\\,\\nabla\\hat y^\\top H^{-1}\\nabla l$, our "
                "$\\epsilon = -1$ with the summed Hessian.",
)

register_question(
    name="q14_block_diagonal", lesson=LESSON_14, kind="choice",
    prompt="FIA's Hessian over $\\theta_t = (u_u, v_i)$ is block-diagonal, $2\\,\\mathrm{diag}(A_u, A_i)$. Why?",
    choices=[
        "Because ALS updates the users and the items in separate half-steps, one block at a time.",
        "Because the penalty $\\lambda(\\lVert u_u\\rVert^2 + \\lVert v_i\\rVert^2)$ is a sum of one term per "
        "vector.",
        "Because no training rating contains both $u_u$ and $v_i$: only $(u, i)$ would, and it is not in "
        "$\\Omega$.",
        "Because at the minimum $u_u$ and $v_i$ are orthogonal, so their cross terms vanish.",
    ],
    answer=2,
    feedback={
        0: "The Hessian belongs to the objective, not to the algorithm that minimized it: a model trained by "
           "gradient descent has the same one. Which terms of $S_t$ contain both vectors?",
        1: "The penalty is separable, but the squared errors matter too: a rating $(u, i)$ would contribute "
           "$(r_{ui} - u_u^\\top v_i)^2$, whose mixed second derivative is not zero. Why is there no such term?",
        3: "$u_u^\\top v_i$ is the prediction, usually far from 0; and orthogonality would not remove a mixed "
           "second derivative anyway. Look for a rating that contains both vectors.",
    },
    explanation="A mixed derivative $\\partial^2 S/\\partial u_u\\,\\partial v_i$ can only come from a term with "
                "both vectors, the squared error of the rating $(u, i)$. For a test point it is not a training "
                "rating, so the blocks decouple. If you ask FIA about a rating the user DID give, that term is "
                "there and couples the blocks ($v_i u_u^\\top - e_{ui} I$ off the diagonal): `fia` then solves one "
                "$2k \\times 2k$ system instead of two $k \\times k$ ones.",
)
