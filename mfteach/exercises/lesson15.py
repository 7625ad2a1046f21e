r"""Exercises and questions of lesson 15_fia_explanations_vs_retraining (registered on import).

Lesson 14 derived FIA (Cheng, Shen, Huang, Zhu, KDD 2019, section 3.2): for one of the user's own
ratings z = (u, j, r_uj), with A_u = V_O^T V_O + lambda I (V_O = V[Omega_u], z included) and the
residual e_z = r_uj - u_u . v_j, the first-order influence on the prediction u_u . v_i is

    INFL(z) ~ e_z v_i^T A_u^{-1} v_j.

Exact removal (ridge regression for u_u with V fixed) differs only by the leverage
h_z = v_j^T A_u^{-1} v_j: INFL_exact = INFL / (1 - h_z) (Sherman-Morrison).

The lesson's exercises, in the order the lesson meets them:

* ``exact_local_infl``: the exact local leave-one-out by a Sherman-Morrison downdate of
  (V_O^T V_O + lambda I)^{-1}, for every rating of the user at once (before ``fia(exact_local=True)``,
  section 1);
* ``because_you_rated``: a find-out on MovieLens with ``mt.explain.fia``: the user's rating that pushes
  a prediction up the most (section 2).

Then the check-your-understanding questions (``q15_leverage_share``, ``q15_negative_five_stars``,
``q15_smaller_than_retraining``, ``q15_zero_hops`` on neighbourhood retraining, section 4; their names
keep the old lesson number so that recorded progress stays valid).
"""

from __future__ import annotations

import numpy as np

from .registry import EXERCISES, Diagnostic, register, register_question

LESSON_15 = "15_fia_explanations_vs_retraining"


# ============================================================================ 1. exact local leave-one-out (section 1)
def _exact_local_cases(rng):
    # the cases of lesson 14's infl_of_user_rating (registered by name) without `removed`: every rating of
    # the user is removed in turn. The first is user 0 of the slides' 4 x 6 example.
    return [case[:-1] for case in EXERCISES["infl_of_user_rating"].make_cases(rng)]


def _ell_parts(V, rated_items, ratings_of_user, u, reg, target_item):
    V_O = V[rated_items]
    A = V_O.T @ V_O + reg * np.eye(V.shape[1])
    s = V_O @ np.linalg.solve(A, V[target_item])           # v_z^T A^-1 v_t for every z
    h = np.einsum("zk,kz->z", V_O, np.linalg.solve(A, V_O.T))
    return V_O, A, s, h


def _ell_first_order(V, rated_items, ratings_of_user, u, reg, target_item):
    V_O, _, s, _ = _ell_parts(V, rated_items, ratings_of_user, u, reg, target_item)
    return (ratings_of_user - V_O @ u) * s


def _ell_plus_leverage(V, rated_items, ratings_of_user, u, reg, target_item):
    V_O, _, s, h = _ell_parts(V, rated_items, ratings_of_user, u, reg, target_item)
    return (ratings_of_user - V_O @ u) * s / (1 + h)


def _ell_update_formula(V, rated_items, ratings_of_user, u, reg, target_item):
    # Sherman-Morrison for ADDING v v^T, (A + v v^T)^-1 = A^-1 - A^-1 v v^T A^-1 / (1 + h), used to remove z
    V_O, A, _, _ = _ell_parts(V, rated_items, ratings_of_user, u, reg, target_item)
    A_inv, b = np.linalg.inv(A), V_O.T @ ratings_of_user
    out = []
    for v, r in zip(V_O, ratings_of_user):
        wrong_inv = A_inv - np.outer(A_inv @ v, A_inv @ v) / (1 + v @ A_inv @ v)
        out.append(V[target_item] @ (u - wrong_inv @ (b - r * v)))
    return np.array(out)


def _ell_sign(V, rated_items, ratings_of_user, u, reg, target_item):
    return -exact_local_infl(V, rated_items, ratings_of_user, u, reg, target_item)


def _ell_rhs_kept(V, rated_items, ratings_of_user, u, reg, target_item):
    # z taken out of A only: u_{-z} = (A - v_z v_z^T)^-1 V_O^T r, the right-hand side still holds r_z v_z
    V_O, A, _, _ = _ell_parts(V, rated_items, ratings_of_user, u, reg, target_item)
    b = V_O.T @ ratings_of_user
    return np.array([V[target_item] @ (u - np.linalg.solve(A - np.outer(v, v), b)) for v in V_O])


def _ell_no_reg(V, rated_items, ratings_of_user, u, reg, target_item):
    return exact_local_infl(V, rated_items, ratings_of_user, u, 0.0, target_item)


def _ell_rating_not_residual(V, rated_items, ratings_of_user, u, reg, target_item):
    _, _, s, h = _ell_parts(V, rated_items, ratings_of_user, u, reg, target_item)
    return ratings_of_user * s / (1 - h)


@register(
    lesson=LESSON_15,
    title="Exact change of a prediction when each of the user's ratings is removed (V fixed), "
          "by a rank-one downdate",
    cases=_exact_local_cases,
    hints=[
        "Removing z changes two things in the user's ridge problem (u = A⁻¹ V_Ωᵀ r, A = V_ΩᵀV_Ω + λI): A loses "
        "v_z v_zᵀ and the right-hand side V_Ωᵀ r loses r_z v_z. Write u₋z with both changes, then the change of "
        "the prediction v_targetᵀ(u − u₋z).",
        "Sherman–Morrison gives the inverse after a rank-one change from the inverse you already have: "
        "(A − v vᵀ)⁻¹ = A⁻¹ + A⁻¹v vᵀA⁻¹ / (1 − vᵀA⁻¹v). One k × k inverse (or solve) then serves every z.",
        "Multiply it out using u = A⁻¹V_Ωᵀr: u − u₋z comes out as the residual e_z = r_z − uᵀv_z times A⁻¹v_z, "
        "divided by 1 − h_z with the leverage h_z = v_zᵀA⁻¹v_z. Lesson 14's 1-D result, in k dimensions.",
        "All ratings at once: the |Ω_u| × k matrix of the rows v_zᵀA⁻¹ gives, multiplied by v_target, every "
        "similarity, and, multiplied row by row with V_Ω and summed (np.einsum or a sum of a product), every "
        "leverage.",
    ],
    diagnostics=[
        Diagnostic(_ell_first_order, "These are FIA's first-order estimates (lesson 14's infl_of_user_rating for every z), "
                                     "not the exact re-solve: removing z also removes v_z v_zᵀ from A, and "
                                     "Sherman–Morrison turns that into a factor 1/(1 − h_z), h_z = v_zᵀA⁻¹v_z."),
        Diagnostic(_ell_plus_leverage, "You divided by 1 + h_z: that is Sherman–Morrison for ADDING a rating. "
                                       "Removing one subtracts v_z v_zᵀ from A, and (A − v vᵀ)⁻¹ = A⁻¹ + "
                                       "A⁻¹v vᵀA⁻¹/(1 − vᵀA⁻¹v): the exact change is LARGER than first order."),
        Diagnostic(_ell_update_formula, "You used Sherman–Morrison for ADDING v vᵀ, (A + v vᵀ)⁻¹ = A⁻¹ − "
                                        "A⁻¹v vᵀA⁻¹/(1 + vᵀA⁻¹v). Removing the rating SUBTRACTS v_z v_zᵀ: "
                                        "(A − v vᵀ)⁻¹ = A⁻¹ + A⁻¹v vᵀA⁻¹/(1 − vᵀA⁻¹v)."),
        Diagnostic(_ell_sign, "Your changes have the wrong sign: INFL = ŷ − ŷ₋z = v_targetᵀ(u − u₋z), the "
                              "prediction WITH the rating minus the one without it."),
        Diagnostic(_ell_rhs_kept, "You removed z from A but not from the right-hand side: without the rating, u₋z "
                                  "solves (A − v_z v_zᵀ) u = V_Ωᵀr − r_z v_z. Both sides lose the rating."),
        Diagnostic(_ell_no_reg, "λI is missing from A: the user's problem is ridge regression, A = V_ΩᵀV_Ω + λI, "
                                "and u (given) was fitted with it."),
        Diagnostic(_ell_rating_not_residual, "You used the rating r_z where the residual e_z = r_z − uᵀv_z "
                                             "belongs: after multiplying out, u − u₋z = e_z A⁻¹v_z/(1 − h_z). A "
                                             "rating the model reproduces exactly changes nothing when removed."),
    ],
)
def exact_local_infl(V, rated_items, ratings_of_user, u, reg, target_item):
    r"""y_hat - y_hat_{-z} for every rating z of the user, u re-solved without z and V fixed (Sherman-Morrison)."""
    V_O = V[rated_items]                                   # V_Omega: one row v_z per rating z
    A = V_O.T @ V_O + reg * np.eye(V.shape[1])             # A_u = V_O^T V_O + lambda I, k x k
    S = np.linalg.solve(A, V_O.T).T                        # rows v_z^T A^-1 (A is symmetric)
    e = ratings_of_user - V_O @ u                          # residuals e_z = r_z - u^T v_z
    h = np.sum(S * V_O, axis=1)                            # leverages h_z = v_z^T A^-1 v_z
    # (A - v v^T)^-1 = A^-1 + A^-1 v v^T A^-1 / (1 - h), so u - u_{-z} = e_z A^-1 v_z / (1 - h_z)
    return e * (S @ V[target_item]) / (1 - h)              # v_t^T (u - u_{-z})


# ============================================================================ 2. find out on MovieLens (section 2)
_LESSON_POINTS = (0, 2, 3, 4)   # test points of the lesson's split where the typical mistakes give other movies


def _because_cases(rng):
    import mfteach as mt                                   # the package (imported late: it imports this module)

    small, _, _ = mt.synthetic(40, 30, rank=3, density=0.5, noise=0.3, seed=1)
    small_model = mt.ALS(rank=3, reg=1.0, n_iters=200, tol=1e-9, seed=0).fit(small)
    unrated = np.flatnonzero(np.isnan(small.to_dense()[5]))
    cases = [(small_model, small, 5, int(unrated[0]))]
    # the lessons' model: the 250 x 250 core of MovieLens 100K, leave-one-out split, ALS k = 8, lambda = 10
    data = mt.load_movielens("100k").top(n_users=250, n_items=250)
    train, test = data.split(how="leave_one_out", seed=0)
    model = mt.ALS(rank=8, reg=10.0, n_iters=1000, tol=1e-9, seed=0).fit(train)
    points = [*_LESSON_POINTS, int(rng.integers(5, len(test)))]
    cases += [(model, train, int(test.rows[p]), int(test.cols[p])) for p in points]
    return cases


def _user_side(model, ratings, user, item):
    from ..explain.fast_influence import fia

    return fia(model, ratings, user, item, side="item-based")


def _by_largest_magnitude(model, ratings, user, item):
    frame = _user_side(model, ratings, user, item)
    return int(frame["item"].iloc[0])                      # largest |INFL|, of either sign


def _both_sides(model, ratings, user, item):
    from ..explain.fast_influence import fia

    frame = fia(model, ratings, user, item)
    return int(frame.loc[frame["influence"].idxmax(), "item"])


def _most_stars(model, ratings, user, item):
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    return int(ratings.cols[lo:hi][np.argmax(ratings.values[lo:hi])])


def _pushes_down(model, ratings, user, item):
    frame = _user_side(model, ratings, user, item)
    return int(frame.loc[frame["influence"].idxmin(), "item"])


def _row_not_item(model, ratings, user, item):
    return int(np.argmax(_user_side(model, ratings, user, item)["influence"].to_numpy()))


@register(
    lesson=LESSON_15,
    title="On MovieLens: the movie the user rated that pushes a prediction up the most (with mt.explain.fia)",
    cases=_because_cases,
    hints=[
        "You do not need to write any influence formula: mt.explain.fia(model, ratings, user, item) returns a "
        "frame with a row per rating of R_t (the user's ratings AND the movie's ratings by other users), with "
        "the columns user, item, side and influence.",
        "Only the user's own ratings answer 'because you rated …': keep the item-based side (fia has a `side` "
        "argument, or filter the side column).",
        "'Pushes the prediction up the most' is the largest POSITIVE influence, not the largest |influence| "
        "(fia sorts by the latter) and not the most stars. Return the item id from that row (an int), not the "
        "row's position.",
    ],
    diagnostics=[
        Diagnostic(_by_largest_magnitude, "You took the first row, the largest |influence|: on some test points "
                                          "that rating pushes the prediction DOWN (negative INFL). Take the "
                                          "largest positive influence."),
        Diagnostic(_both_sides, "Your answer mixes in the user-based side: there the item is the target movie "
                                "itself (another user's rating of it). Keep only the user's own ratings "
                                "(side 'item-based')."),
        Diagnostic(_most_stars, "You returned the movie the user rated highest. Stars are not influence: a 5-star "
                                "rating the model already fits (residual near 0) or of a movie unlike the target "
                                "moves the prediction little. Rank by FIA's influence."),
        Diagnostic(_pushes_down, "You returned the rating with the most NEGATIVE influence: removing it would "
                                 "RAISE the prediction. INFL > 0 means the rating pushed the prediction up."),
        Diagnostic(_row_not_item, "You returned a row position of the frame, not the movie: read the item column "
                                  "of that row."),
    ],
)
def because_you_rated(model, ratings, user, item):
    """The item j of the user's rating (user, j) with the largest positive FIA influence on the prediction."""
    import mfteach as mt

    frame = mt.explain.fia(model, ratings, user, item, side="item-based")   # the user's own ratings only
    best = frame["influence"].idxmax()                      # the largest positive INFL: pushes y_hat up the most
    return int(frame.loc[best, "item"])


# ============================================================================ check your understanding
register_question(
    name="q15_leverage_share", lesson=LESSON_15, kind="number",
    prompt="A rating has leverage $h_z = 0.2$ in its block. The first-order (FIA) influence is what fraction of "
           "the exact local leave-one-out change? (a number, e.g. 0.5)",
    answer=0.8,
    feedback={
        1.25: "That is the exact change as a multiple of the first-order one, $1/(1 - h_z)$; the question asks "
              "the other way round.",
        0.2: "That is $h_z$ itself: the share of the exact change that first order MISSES.",
        0.8333333333333334: "That is $1/(1 + h_z)$, Sherman–Morrison for adding a rating. Removing one divides "
                            "by $1 - h_z$.",
        1.2: "$1 + h_z$ would make first order larger than the exact change; removal makes the exact change "
             "larger.",
    },
    default_feedback="Compare INFL with INFL / (1 − h_z): the ratio of the first to the second.",
    explanation="The exact local change is $\\mathrm{INFL}(z)/(1 - h_z)$, so the first-order estimate is "
                "$1 - h_z = 0.8$ of it: it misses 20%. Leverages of one block add up to at most $k$, so with many "
                "ratings per user each $h_z$ is small and FIA is nearly exact locally.",
)

register_question(
    name="q15_negative_five_stars", lesson=LESSON_15, kind="choice",
    prompt="The user gave 5 stars to a movie very similar to the target (large $v_j^\\top A_u^{-1} v_i > 0$), "
           "yet FIA gives that rating a NEGATIVE influence. How can that be?",
    choices=[
        "FIA's sign convention is $\\hat y_{-z} - \\hat y$, so a negative value means it pushed the prediction up.",
        "The model fits that rating above 5: its residual $e_{uj}$ is negative, so the rating holds $u_u$ back "
        "along $v_j$.",
        "The regularization $\\lambda$ shrinks $u_u$, so the highest ratings always get a negative influence.",
        "It is a numerical error of the first-order approximation; retraining would give a positive value.",
    ],
    answer=1,
    feedback={
        0: "No: $\\mathrm{INFL}(z) = \\hat y - \\hat y_{-z}$ (eq. 10), positive when $z$ pushed the prediction up. "
           "Look at the other factor of $\\mathrm{INFL}(u, j) = e_{uj}\\, v_j^\\top A_u^{-1} v_i$.",
        2: "$\\lambda$ enters only through $A_u$, the same for every rating of the user; the sign of each influence "
           "comes from $e_{uj}$ times the similarity. Many 5-star ratings have positive influence.",
        3: "The sign comes from the formula, not from an error: the exact local change is the same number divided "
           "by $1 - h_z > 0$, so it has the same sign. What is the sign of $e_{uj}$ when the fit exceeds 5?",
    },
    explanation="$\\mathrm{INFL}(u, j) = e_{uj}\\, v_j^\\top A_u^{-1} v_i$: the stars enter only through the "
                "residual $e_{uj} = r_{uj} - u_u^\\top v_j$. A model that predicts 5.4 for a 5-star rating is "
                "held back by it: the rating pulls $u_u$ away from $v_j$, and so away from the similar target. "
                "Without it the prediction would be higher: negative influence.",
)

register_question(
    name="q15_smaller_than_retraining", lesson=LESSON_15, kind="choice",
    prompt="FIA's estimates come out smaller than the changes observed by retraining (slope about 0.73 here). "
           "Which two approximations are responsible, and which does `fia(..., exact_local=True)` remove?",
    choices=[
        "Only $\\theta_t = (u_u, v_i)$ moves (locality), and a first-order step instead of the exact removal; "
        "`exact_local` removes the first-order one within the block, not the locality.",
        "Locality and the first-order step; `exact_local` removes the locality by retraining everything.",
        "The damping added to the Hessian and ALS stopping before convergence; `exact_local` removes the damping.",
        "Locality and the first-order step; `exact_local` removes both, so it equals retraining.",
    ],
    answer=0,
    feedback={
        1: "`exact_local` still lets only $u_u$ and $v_i$ move: it solves the LOCAL problem exactly. Retraining "
           "everything is `loo_influence`.",
        2: "FIA uses no damping (that is the basic approach's $10^{-6}$), and our model is trained to convergence. "
           "The gap comes from what FIA assumes about the removal.",
        3: "If it removed both it would agree with retraining, but its slope is 0.79, not 1: the knock-on effects "
           "through the other users' and items' vectors are still missing.",
    },
    explanation="FIA linearizes the removal (one Newton step, eq. 11) and lets only $\\theta_t$ move. The first "
                "is fixed by the rank-one downdate: the exact local change is the first-order one divided by "
                "$1 - h_z$. The second is not: removing $(u, j)$ also moves $v_j$, which moves the other users of "
                "$j$, and so on, effects that only retraining (or, to first order, the basic approach) captures.",
)

register_question(
    name="q15_zero_hops", lesson=LESSON_15, kind="choice",
    prompt="Neighbourhood retraining removes $z = (u', j)$ and re-solves, exactly, only the users and movies "
           "within a number of hops of $\\{u', j, u, i\\}$, every other vector fixed. What does it give with zero "
           "hops (only those four re-solved), and what does one hop add?",
    choices=[
        "Zero hops: FIA's first-order estimate; one hop: the exact local change.",
        "Zero hops: the exact local change of section 1; one hop: the knock-on moves of the neighbours, such as "
        "the other movies the target user rated following $u_u$.",
        "Zero hops: the full retrain, already; one hop adds nothing.",
        "Zero hops: nothing, the change is 0; one hop: FIA's first-order estimate.",
    ],
    answer=1,
    feedback={
        0: "Its solves are exact ridge solves, not a first-order step: for $z = (u, j)$, re-solving $u_u$ without "
           "the rating is section 1's rank-one downdate, $\\mathrm{INFL}(z)/(1 - h_z)$.",
        2: "With zero hops every other user and movie stays fixed: the locality that FIA and exact local assume. "
           "The full retrain lets all of them move (in the lesson's dense core, two hops reach everyone).",
        3: "Zero hops still re-solves the blocks that lost the rating: for $z = (u, j)$ the user's block, so "
           "$u_u$ and the prediction change.",
    },
    explanation="Zero hops re-solves only the blocks of $z$ and of the prediction: for $z = (u, j)$ the user's "
                "solve without the rating is exactly exact local's downdate, and $v_j$'s move does not reach "
                "$\\hat y$ (the lesson: the same slope, 0.79). One hop lets the movies the two users rated and the "
                "users who rated the two movies move too, the knock-on effects first order misses: the slope rose "
                "from 0.73 (FIA) to 0.94 after three sweeps. Enough hops and sweeps give the full retrain.",
)
