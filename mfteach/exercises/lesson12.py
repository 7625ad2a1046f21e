r"""Exercises of lesson 12_influence_and_impact (registered on import).

FATREC 2017 (Rastegarpanah, Crovella, Gummadi), eq. (2): with V fixed, ALS's user update
u_u = (V_Omega^T V_Omega + lambda I)^{-1} V_Omega^T r_Omega (lessons 06-07) is linear in the user's
ratings, and so are all of the user's predictions r_hat_u = V u_u:

    r_hat_u = J r_Omega,      J = V (V_Omega^T V_Omega + lambda I)^{-1} V_Omega^T    (n x |Omega_u|).

J[i, k] = d r_hat_ui / d r_{u, k-th rated item} is the influence of the k-th past rating on the
prediction for item i. J depends on WHICH items the user rated (Omega_u), not on the ratings.
(The paper stores items in rows and users in columns and has no lambda; lesson 12's notation
table translates.)

The lesson's exercises, in its order: ``predicted_change`` (read a column of J), ``influence_matrix_of_user``
(eq. (2)) and ``biased_impacts`` (baseline + impacts of a biased model, before the lesson shows the split);
then three questions. Lesson 13 (``mfteach.exercises.lesson13``) asks whether J survives retraining.
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from .registry import Diagnostic, register, register_question

LESSON_12 = "12_influence_and_impact"


# ============================================================================ warm-up: reading J
def _J(V, rated_items, reg):
    """J of eq. (2), for building test cases (the exercise below asks for the same)."""
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V_O.T)


def _predicted_change_cases(rng):
    V, rated, reg = _slides_user_0()
    cases = [(_J(V, rated, reg), rated, 3, 0.5)]          # item 3 is rated_items[1]: column 1, not 3
    # (n, k, |Omega_u|, epsilon): rated items shuffled, the changed one never at its own index
    for n, k, count, epsilon in [(12, 3, 7, -4.0), (30, 4, 15, 1.0), (9, 2, 5, 2.5), (25, 5, 11, -1.0)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)
        position = next(j for j in rng.permutation(count) if rated[j] != j)
        cases.append((_J(V, rated, 0.5), rated, int(rated[position]), epsilon))
    return cases


def _item_as_column(J, rated_items, changed_item, epsilon):
    return epsilon * J[:, changed_item]


def _row_of_changed_item(J, rated_items, changed_item, epsilon):
    return epsilon * J[changed_item]


def _forgot_epsilon(J, rated_items, changed_item, epsilon):
    return J[:, list(rated_items).index(changed_item)]


@register(
    lesson=LESSON_12,
    title="with V fixed, how much each of the user's n predictions moves when one past rating moves by epsilon",
    cases=_predicted_change_cases,
    hints=[
        "Eq. (2) says the predictions are a linear function of the ratings, r̂_u = J r_Ω. Change one entry of r_Ω "
        "by ε and ask what happens to the product: only one column of J is involved.",
        "Which column? Columns of J follow rated_items, not the item numbers: the column of changed_item is its "
        "POSITION in rated_items (np.flatnonzero on a comparison, or a list's .index, finds it), not changed_item "
        "itself.",
        "The result has one entry per item (length n, J's number of rows): that column of J, scaled by ε.",
    ],
    diagnostics=[
        Diagnostic(_item_as_column, "You used changed_item itself as the column number. The columns of J follow "
                                    "rated_items: find the position j with rated_items[j] == changed_item and "
                                    "take column j."),
        Diagnostic(_row_of_changed_item, "You took a ROW of J (length |Ω_u|): how the prediction for one item "
                                         "depends on every rating. The question is the other way round: one "
                                         "rating changes, every prediction moves, so you need a column (length n)."),
        Diagnostic(_forgot_epsilon, "Your result is the change per ONE star: multiply by epsilon, the size of the "
                                    "change (r̂ is linear in the ratings, so the change scales with it)."),
    ],
)
def predicted_change(J, rated_items, changed_item, epsilon):
    """The change of all the user's predictions when the rating of ``changed_item`` moves by
    ``epsilon`` and V stays fixed: r_hat_u = J r_Omega (eq. (2)) is linear, so the change is
    epsilon times the column of J that belongs to ``changed_item``. Returns an array of length n."""
    column = np.flatnonzero(rated_items == changed_item)[0]   # J's columns follow rated_items
    return epsilon * J[:, column]                              # delta r_hat_u = epsilon J[:, column]


# ============================================================================ the influence matrix
# ---------------------------------------------------------------------------- test cases
def _slides_user_0():
    """The slides' 4 x 6 example (lessons 06-07): user 0 rated items 0, 3, 5; V = (V^T)^T; lambda = 0.1."""
    R = toy("lecture_R")
    return toy("lecture_Vt").T, np.flatnonzero(~np.isnan(R[0])), 0.1


def _influence_matrix_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, lambda): every user rated more than k items (so that leaving out
    # lambda gives wrong numbers, not a singular matrix), fewer than n (so that V^T V over all
    # items differs), in shuffled order (the columns of J follow rated_items)
    for n, k, count, reg in [(10, 3, 6, 0.5), (20, 5, 12, 1.0), (8, 1, 4, 0.2), (40, 4, 25, 10.0), (15, 6, 9, 0.05)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)
        if np.all(np.diff(rated) > 0):
            rated = rated[::-1].copy()
        cases.append((V, rated, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _eye(V):
    return np.eye(V.shape[1])


def _no_reg(V, rated_items, reg):
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O, V_O.T)


def _all_items_gram(V, rated_items, reg):
    return V @ np.linalg.solve(V.T @ V + reg * _eye(V), V[rated_items].T)


def _rated_rows_only(V, rated_items, reg):
    V_O = V[rated_items]
    return V_O @ np.linalg.solve(V_O.T @ V_O + reg * _eye(V), V_O.T)


def _transposed(V, rated_items, reg):
    V_O = V[rated_items]
    return V_O @ np.linalg.solve(V_O.T @ V_O + reg * _eye(V), V.T)


def _reg_everywhere(V, rated_items, reg):
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O + reg, V_O.T)


def _reg_times_count(V, rated_items, reg):
    V_O = V[rated_items]
    return V @ np.linalg.solve(V_O.T @ V_O + reg * len(rated_items) * _eye(V), V_O.T)


def _sorted_items(V, rated_items, reg):
    V_O = V[np.sort(rated_items)]
    return V @ np.linalg.solve(V_O.T @ V_O + reg * _eye(V), V_O.T)


@register(
    lesson=LESSON_12,
    title="the influence matrix J of one user: how each of the user's n predictions depends on each of their "
          "ratings (FATREC 2017, eq. (2))",
    cases=_influence_matrix_cases,
    hints=[
        "Start from the ALS user update (lessons 06–07): u_u is a k x k matrix (inverse) times V_Ωᵀ times r_Ω, "
        "and all the user's predictions are V u_u. Substitute; J is everything in front of r_Ω. The ratings "
        "themselves are not an input: J does not need them.",
        "Shapes: V is n x k, V_Ω (the rows of V for rated_items, in that order) is |Ω_u| x k, the matrix in the "
        "middle is k x k, and J is n x |Ω_u|: one row per item, one column per rated item.",
        "Do not invert: np.linalg.solve(A, B) gives A⁻¹ B in one step. Here A is the k x k matrix of the user's "
        "ridge problem (don't forget λ on its diagonal, np.eye) and B the transpose of V_Ω; multiply the "
        "result by the whole V on the left.",
    ],
    diagnostics=[
        Diagnostic(_no_reg, "λI is missing: the user's ridge problem adds reg * np.eye(k) to V_Ωᵀ V_Ω (the paper "
                            "writes eq. (2) without λ; ALS's update has it)."),
        Diagnostic(_all_items_gram, "Your k x k matrix is Vᵀ V over ALL items. Only the items the user rated "
                                    "enter the user's problem: V_Ωᵀ V_Ω + λI with V_Ω = V[rated_items]. V itself "
                                    "(all n rows) appears only on the far left, to predict every item."),
        Diagnostic(_rated_rows_only, "Your J has only the rows of the rated items: V_Ω (…)⁻¹ V_Ωᵀ. The influence "
                                     "matrix predicts EVERY item, so the left factor is the whole V (n x k): "
                                     "J is n x |Ω_u|."),
        Diagnostic(_transposed, "Your result is Jᵀ (|Ω_u| x n): rows should be the n items whose predictions move, "
                                "columns the rated items. J = V (…)⁻¹ V_Ωᵀ, with V on the left."),
        Diagnostic(_reg_everywhere, "You added λ to EVERY entry of V_Ωᵀ V_Ω (A + reg broadcasts); λI puts λ on "
                                    "the diagonal only: A + reg * np.eye(k)."),
        Diagnostic(_reg_times_count, "You used λ·|Ω_u| on the diagonal: that is ALS-WR's weighted penalty. Here "
                                     "every user is penalized by the same λ: reg * np.eye(k)."),
        Diagnostic(_sorted_items, "Your columns are in sorted item order. Column j of J belongs to rated_items[j]: "
                                  "index V with rated_items as given, without sorting."),
    ],
)
def influence_matrix_of_user(V, rated_items, reg):
    r"""The influence matrix of one user (FATREC 2017, eq. (2), with lambda).

    .. math::
        J = V (V_{\Omega_u}^\top V_{\Omega_u} + \lambda I)^{-1} V_{\Omega_u}^\top,
        \qquad J_{ik} = \partial \hat r_{ui} / \partial r_{u, \mathrm{rated\_items}[k]}

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    rated_items : int array, shape (|Omega_u|,)
        The items user u rated (Omega_u), in any order; column j of J belongs to rated_items[j].
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (n, |Omega_u|)
        J: the user's predictions are V u_u = J r_{Omega_u} for any ratings r_{Omega_u}.
    """
    V_O = V[rated_items]                          # V_{Omega_u}: the rated items' vectors, |Omega_u| x k
    A = V_O.T @ V_O + reg * np.eye(V.shape[1])    # V_{Omega_u}^T V_{Omega_u} + lambda I   (k x k)
    return V @ np.linalg.solve(A, V_O.T)          # J = V A^{-1} V_{Omega_u}^T             (n x |Omega_u|)


# ============================================================================ impacts of a biased model
def _biased_impacts_cases(rng):
    V, rated, reg = _slides_user_0()
    r_O = toy("lecture_R")[0, rated]
    cases = [(V, rated, r_O, reg, 2.8, np.array([-0.5, 0.3, 0.6, -0.2, 0.1, 0.4]), 1)]
    # (n, k, |Omega_u|, lambda): more ratings than unknowns (k + 1), shuffled, a target the user did not rate
    for n, k, count, reg in [(10, 3, 6, 0.5), (20, 4, 12, 1.0), (8, 1, 4, 0.2), (40, 4, 25, 5.0)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)
        r_O = rng.integers(1, 6, size=count).astype(float)
        item = int(rng.choice(np.setdiff1d(np.arange(n), rated)))
        cases.append((V, rated, r_O, reg, float(rng.uniform(3, 4)), rng.normal(0, 0.5, size=n), item))
    return cases


def _influence_row(F, rated_items, reg, item, penalty=None):
    F_O = F[rated_items]
    A = F_O.T @ F_O + np.diag(reg * np.ones(F.shape[1]) if penalty is None else penalty)
    return F_O @ np.linalg.solve(A, F[item])


def _with_ones(V):
    return np.hstack([V, np.ones((len(V), 1))])


def _no_bias_feature(V, rated_items, r_O, reg, mu, item_bias, item):
    beta = _influence_row(V, rated_items, reg, item)
    return mu + item_bias[item], beta * (r_O - mu - item_bias[rated_items])


def _raw_ratings(V, rated_items, r_O, reg, mu, item_bias, item):
    beta = _influence_row(_with_ones(V), rated_items, reg, item)
    return mu + item_bias[item], beta * r_O


def _targets_bias(V, rated_items, r_O, reg, mu, item_bias, item):
    beta = _influence_row(_with_ones(V), rated_items, reg, item)
    return mu + item_bias[item], beta * (r_O - mu - item_bias[item])


def _bias_not_penalized(V, rated_items, r_O, reg, mu, item_bias, item):
    penalty = np.r_[reg * np.ones(V.shape[1]), 0.0]
    beta = _influence_row(_with_ones(V), rated_items, reg, item, penalty)
    return mu + item_bias[item], beta * (r_O - mu - item_bias[rated_items])


def _baseline_mu_only(V, rated_items, r_O, reg, mu, item_bias, item):
    beta = _influence_row(_with_ones(V), rated_items, reg, item)
    return mu, beta * (r_O - mu - item_bias[rated_items])


@register(
    lesson=LESSON_12,
    title="explain a biased model's prediction: the baseline no rating of the user can move, and one impact per "
          "rated item, adding up to the prediction",
    cases=_biased_impacts_cases,
    hints=[
        "The biased user half-step is the unbiased one with two changes: each item's feature vector gets one more "
        "entry, a constant 1 (its coefficient is b_u), and the targets are the ratings minus what μ and the item "
        "biases already explain. Write r̂_ui = μ + c_i + (b_u + u_u·v_i) and treat the bracket as in eq. (2).",
        "Build the n x (k+1) feature matrix F (np.hstack V with a column of ones) and redo the exercise above with "
        "F in place of V: the row of its J for `item` holds the influences β_k. mfteach penalizes b_u by the same "
        "λ, so λ goes on all k+1 diagonal entries.",
        "The baseline is the part without the user's ratings: μ plus the target item's bias. Each impact is "
        "β_k times the k-th target of the half-step, i.e. the rating minus μ minus the bias of the RATED item k. "
        "Check: baseline + impacts.sum() equals μ + b_u + c_i + u_u·v_i.",
    ],
    diagnostics=[
        Diagnostic(_no_bias_feature, "Your influences come from V alone. The biased user step also fits b_u: give "
                                     "every item the feature (v_i, 1), i.e. a column of ones next to V, and use "
                                     "that (k+1)-column matrix everywhere V appeared in eq. (2)."),
        Diagnostic(_raw_ratings, "You multiplied the influences by the raw ratings. In a biased model the user step "
                                 "fits the ratings minus μ minus each movie's bias c_k, so the impact is β_k times "
                                 "that residual: how far the rating lies above what the baseline expects."),
        Diagnostic(_targets_bias, "You subtracted the TARGET item's bias c_i from every rating. Each rating r_uk is "
                                  "corrected by its own movie's bias: item_bias[rated_items]."),
        Diagnostic(_bias_not_penalized, "You left the bias unpenalized (λ only on the first k diagonal entries). "
                                        "mfteach.ALS penalizes b_u by the same λ: λ I of size k+1."),
        Diagnostic(_baseline_mu_only, "Your baseline is μ alone: the target item's bias c_i does not depend on the "
                                      "user's ratings either, so it belongs to the baseline (μ + item_bias[item])."),
    ],
)
def biased_impacts(V, rated_items, r_O, reg, mu, item_bias, item):
    r"""Baseline and impacts of a biased model's prediction for ``item`` (FATREC 2017, section 3,
    with biases): r_hat_ui = mu + c_i + sum_k J_ik (r_uk - mu - c_k), J of eq. (2) with F = [V, 1].

    Returns (baseline, impacts): a number and an array in the order of ``rated_items``."""
    F = np.hstack([V, np.ones((len(V), 1))])       # f_i = (v_i, 1): the user step fits (u_u, b_u)
    F_O = F[rated_items]
    A = F_O.T @ F_O + reg * np.eye(F.shape[1])     # lambda penalizes b_u too (mfteach.ALS)
    beta = F_O @ np.linalg.solve(A, F[item])       # row J[item]: the influences beta_k
    baseline = mu + item_bias[item]                # what no rating of the user can move
    return baseline, beta * (r_O - mu - item_bias[rated_items])   # impact = beta_k (r_uk - mu - c_k)



# ============================================================================ check your understanding
register_question(
    name="q12_same_rated_set", lesson=LESSON_12, kind="choice",
    prompt="User A rated *Fargo* 5 and *Twister* 1, user B rated *Fargo* 1 and *Twister* 5, and neither rated "
           "anything else. For the same model (the same $V$ and $\\lambda$), how do their influence matrices $J$ "
           "and their impacts on the prediction for *Heat* compare?",
    choices=["The same $J$ and the same impacts.",
             "The same $J$, different impacts.",
             "Different $J$ (their stars differ), but the same impacts.",
             "Different $J$ and different impacts."],
    answer=1,
    feedback={0: "$J$ is the same, but an impact is an influence times a rating, $\\gamma_k = J_{ik} r_{uk}$: A's "
                 "5 stars for *Fargo* and B's 1 star give different impacts (and different predictions).",
              2: "It is the other way round. $J = V(V_{\\Omega_u}^\\top V_{\\Omega_u} + \\lambda I)^{-1}"
                 "V_{\\Omega_u}^\\top$ contains no rating, only $V$ and the set of rated movies; the impacts "
                 "multiply it by the stars, so they are what differs.",
              3: "The impacts differ, yes, but $J$ does not: it is built from $V$ and WHICH movies were rated, never "
                 "from the stars (section 5: six users, one $J$)."},
    explanation="Both rated the same set {*Fargo*, *Twister*}, and $J$ sees only $V$ and that set, so their $J$ "
                "are identical. The impacts $\\gamma_k = J_{ik} r_{uk}$ multiply the same influences by different "
                "stars: the same target gets different explanations and different predictions.",
)

register_question(
    name="q12_impact_is_influence", lesson=LESSON_12, kind="choice",
    prompt="With $V$ fixed, the impact coefficients $\\alpha_k$ of ALS's prediction (in "
           "$\\hat r_{ui} = \\sum_k \\alpha_k r_{uk}$) equal the influences $\\beta_k = \\partial \\hat r_{ui} / "
           "\\partial r_{uk}$. Why?",
    choices=["Because the paper defines the impact that way for every model.",
             "Because the prediction is exactly linear in the user's ratings, and the coefficients of a linear "
             "function are its partial derivatives.",
             "Because $\\lambda > 0$ makes $J$ symmetric.",
             "They are only approximately equal, because retraining moves $V$."],
    answer=1,
    feedback={0: "The paper defines the impact through SOME linear model of the ratings, and says that this is one "
                 "choice among several (it mentions integrated gradients). Equality with the influence is a "
                 "property of ALS with $V$ fixed, not a definition.",
              2: "$J$ is $n \\times |\\Omega_u|$, not even square, and $\\lambda$ plays no part in the argument: "
                 "with $\\lambda = 0$ (the paper's LMaFit) the coefficients are still the derivatives.",
              3: "Retraining is Hypothesis 1's question: whether $J$ describes the RETRAINED model. With $V$ fixed, "
                 "$\\hat r_{ui} = \\sum_k J_{ik} r_{uk}$ holds exactly, so $\\alpha_k = \\beta_k = J_{ik}$ exactly."},
    explanation="$\\hat r_{ui} = \\sum_k J_{ik} r_{uk}$ is exactly linear in the user's ratings while $V$ is fixed, "
                "so its coefficients are its derivatives: $\\alpha_k = \\beta_k = J_{ik}$. Other ways to split a "
                "prediction into one term per rating exist; this one is special because its coefficients are the "
                "derivatives. The biased model already shows another split: impacts measured from a baseline.",
)

register_question(
    name="q12_leverage_sum", lesson=LESSON_12, kind="number",
    prompt="Take $\\lambda = 0$, rank 4, and a user who rated 10 movies whose vectors $V_{\\Omega_u}$ span all 4 "
           "directions. What is the sum of the diagonal entries $J_{kk}$ over the 10 rated movies (how much each "
           "rated movie's prediction follows its own rating, added up)?",
    answer=4.0,
    feedback={10.0: "That would mean every rated movie's prediction follows its own rating one for one "
                    "($J_{kk} = 1$). The user vector has only 4 numbers to fit 10 ratings: it cannot.",
              0.4: "That is the AVERAGE $J_{kk}$ (4 / 10); the question asks for the sum.",
              1.0: "Each single $J_{kk}$ is at most 1; their sum counts how many directions the user vector can "
                   "follow.",
              2.5: "That is 10 / 4, the number of ratings per unknown; the sum is the number of unknowns."},
    default_feedback="The rated rows of $J$ form the hat matrix $H = V_{\\Omega_u}(V_{\\Omega_u}^\\top "
                     "V_{\\Omega_u})^{-1}V_{\\Omega_u}^\\top$ of the user's least-squares fit. What is the trace "
                     "of a projection?",
    explanation="With $\\lambda = 0$, $H$ is the orthogonal projection onto the 4-dimensional column space of "
                "$V_{\\Omega_u}$, and the trace of a projection is its rank: 4. With $\\lambda > 0$ the trace is "
                "$\\sum_j s_j^2/(s_j^2 + \\lambda) < 4$ (about 3.7 for user 325, whose $J_{kk}$ for "
                "*Scream* is about 0.6: one more star for *Scream* moves its own prediction by only about 0.6). On "
                "average a rating moves its own prediction by at most rank / $|\\Omega_u|$.",
)
