r"""Exercises of lesson 07_fast_influence_analysis (registered on import).

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

with V_O = V[Omega_u] the user's rated items (z included). The 2s cancel. Exact removal (ridge
regression for u_u with V fixed) differs only by the leverage h_z = v_j^T (V_O^T V_O + lambda I)^{-1} v_j:
INFL_exact = INFL / (1 - h_z) (Sherman-Morrison).
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

LESSON_07 = "07_fast_influence_analysis"


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
    lesson=LESSON_07,
    title="INFL of one of the user's ratings on a prediction, from the k x k block Hessian (FIA eq. 18)",
    cases=_infl_cases,
    hints=[
        "Only u_u moves: the prediction is ŷ = u_uᵀ v_target, and the rating z = (u, j, r) touches θ_t = (u_u, v_i) "
        "through u_u alone. INFL(z) ≈ −∇ŷᵀ H⁻¹ ∇l(z) with the gradients and the Hessian taken with respect to u_u.",
        "With V fixed, the user's loss is Σ_{j∈Ω_u} (r_uj − uᵀv_j)² + λ‖u‖²: its Hessian is H = 2(V_Ωᵀ V_Ω + λI) "
        "(V_Ω = V[rated_items], z included), the gradient of l(z) = (r_z − uᵀv_z)² is −2 e_z v_z with the residual "
        "e_z = r_z − uᵀv_z, and ∇ŷ = v_target.",
        "−v_targetᵀ (2(V_ΩᵀV_Ω + λI))⁻¹ (−2 e_z v_z) = e_z v_targetᵀ (V_ΩᵀV_Ω + λI)⁻¹ v_z: the 2s cancel. "
        "z is rated_items[removed]: v_z = V[rated_items[removed]], r_z = ratings_of_user[removed].",
        "V_O = V[rated_items]; v_z = V[rated_items[removed]]; e_z = ratings_of_user[removed] - u @ v_z; "
        "H = 2 * (V_O.T @ V_O + reg * np.eye(V.shape[1])); grad_l = -2 * e_z * v_z; "
        "return -V[target_item] @ np.linalg.solve(H, grad_l)",
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
