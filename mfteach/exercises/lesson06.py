"""Exercises and questions of lesson 06_alternating_least_squares (registered on import).

The lecture slides ("Alternating least squares (ALS)") fix V and solve for one user at a time:
with V_{Omega_u} the rows v_i of the items user u rated (|Omega_u| x k) and r_{Omega_u} their
ratings, the minimizer of ||r_{Omega_u} - V_{Omega_u} u||^2 + lambda ||u||^2 is

    u_u = (V_{Omega_u}^T V_{Omega_u} + lambda I)^{-1} V_{Omega_u}^T r_{Omega_u}.

With U fixed every item gets the mirror image, with the users who rated it, U_{Omega^i}. One ALS
sweep (as ``mt.ALS`` runs it) is the item half-step followed by the user half-step.
(The slides index users by i and write V as d x n; lesson 06's notation table translates.)

Exercises, in the order of the lesson: ``user_update`` (one user's closed form),
``item_half_step`` (every item, given U) and ``als_sweep`` (one iteration and its loss). Lesson 07
(ALS on MovieLens) continues in its own module.
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

LESSON_06 = "06_alternating_least_squares"


# ============================================================================ user_update
def _slides_user_0():
    """The slides' 4 x 6 example: user 0 rated items 0, 3, 5 with 1, 2, 1 stars; V = (V^T)^T."""
    R = toy("lecture_R")
    rated = np.flatnonzero(~np.isnan(R[0]))
    return toy("lecture_Vt").T, rated, R[0, rated], 0.1


def _user_update_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, lambda): every user rated more than k items, so that leaving out
    # lambda gives a wrong number (diagnosed below) rather than a singular matrix
    for n, k, count, reg in [(10, 3, 6, 0.5), (20, 5, 12, 1.0), (8, 1, 4, 0.2), (50, 4, 30, 10.0), (15, 6, 7, 0.05)]:
        V = rng.normal(size=(n, k))
        rated = rng.choice(n, size=count, replace=False)  # not sorted: any order of Omega_u works
        ratings = rng.integers(1, 6, size=count).astype(float)
        cases.append((V, rated, ratings, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _gram(V, rated_items):
    V_O = V[rated_items]
    return V_O.T @ V_O, V_O


def _no_reg(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A, V_O.T @ ratings_of_user)


def _all_items_gram(V, rated_items, ratings_of_user, reg):
    V_O = V[rated_items]
    return np.linalg.solve(V.T @ V + reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _all_of_V(V, rated_items, ratings_of_user, reg):
    # V instead of V[rated_items] everywhere: V.T (k x n) times the |Omega_u| ratings cannot match
    return np.linalg.solve(V.T @ V + reg * np.eye(V.shape[1]), V.T @ ratings_of_user)


def _all_of_V_dot(V, rated_items, ratings_of_user, reg):
    # the same mistake written with .dot, whose error message differs from the @ operator's
    return np.linalg.solve(V.T.dot(V) + reg * np.eye(V.shape[1]), V.T.dot(ratings_of_user))


def _reg_twice(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + 2 * reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _reg_everywhere(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + reg, V_O.T @ ratings_of_user)


def _reg_times_count(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + reg * len(rated_items) * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _reg_squared(V, rated_items, ratings_of_user, reg):
    A, V_O = _gram(V, rated_items)
    return np.linalg.solve(A + reg ** 2 * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


def _unregularized_rhs_scaled(V, rated_items, ratings_of_user, reg):
    # A u = b solved as u = b / diag(A) (ignoring the off-diagonal entries)
    A, V_O = _gram(V, rated_items)
    A = A + reg * np.eye(V.shape[1])
    return (V_O.T @ ratings_of_user) / np.diag(A)


def _first_items(V, rated_items, ratings_of_user, reg):
    # V[:len(ratings)] instead of V[rated_items]: the first |Omega_u| items, not the rated ones
    V_O = V[: len(ratings_of_user)]
    return np.linalg.solve(V_O.T @ V_O + reg * np.eye(V.shape[1]), V_O.T @ ratings_of_user)


_ALL_OF_V = ("You used all of V (every item's vector) where only the items this user rated belong: V is n x k, "
             "but the user has |Ω_u| ratings, so Vᵀ times the ratings cannot match. Select the rated items' rows "
             "first, V[rated_items] (that is V_Ω, of shape |Ω_u| x k), and use it in both places.")


@register(
    lesson=LESSON_06,
    title="the closed-form ALS update of one user, given the item factors V",
    cases=_user_update_cases,
    hints=[
        "With V fixed, user u's part of the objective is ‖r_Ω − V_Ω u‖² + λ‖u‖², a ridge regression: "
        "the rows of V_Ω (the rated items' vectors) are the inputs, the user's ratings the targets.",
        "Set the gradient of that expression with respect to u to zero: you get a k x k linear system "
        "(normal equations) whose matrix is V_Ωᵀ V_Ω plus λ on the diagonal, and whose right-hand side is "
        "V_Ωᵀ r_Ω. Section 2 derives it.",
        "Three pieces: V_Ω is V indexed by rated_items (shape |Ω_u| x k, not all of V); λI is λ times the "
        "identity of size k (np.eye), added to the k x k matrix only; the right-hand side is a k-vector.",
        "Solve the system with numpy's linear solver, np.linalg.solve (matrix first, right-hand side second): "
        "cheaper and more accurate than forming the inverse.",
    ],
    diagnostics=[
        Diagnostic(_no_reg, "Your u solves the plain least-squares problem: λI is missing. Add reg * np.eye(k) "
                            "to V_Ωᵀ V_Ω (without it the system is singular for a user with fewer than k "
                            "ratings)."),
        Diagnostic(_all_of_V, _ALL_OF_V),
        Diagnostic(_all_of_V_dot, _ALL_OF_V),
        Diagnostic(_all_items_gram, "Your k x k matrix is Vᵀ V over ALL items: only the items the user rated "
                                    "enter, V_Ω = V[rated_items], so use V_Ωᵀ V_Ω + λI."),
        Diagnostic(_first_items, "V[:len(ratings)] takes the first |Ω_u| items, not the rated ones: index V "
                                 "with the item numbers, V[rated_items]."),
        Diagnostic(_reg_twice, "λ was added twice (2λ on the diagonal). The gradient is −2 V_Ωᵀ(r − V_Ω u) + "
                               "2λu: divide by 2 and the system is (V_Ωᵀ V_Ω + λI) u = V_Ωᵀ r."),
        Diagnostic(_reg_everywhere, "You added λ to EVERY entry of V_Ωᵀ V_Ω (A + reg broadcasts); λI puts λ "
                                    "on the diagonal only: A + reg * np.eye(k)."),
        Diagnostic(_reg_times_count, "You used λ·|Ω_u| on the diagonal: that is ALS-WR's weighted penalty (or the "
                                     "mean loss). The slides' objective penalizes every user by the same λ."),
        Diagnostic(_reg_squared, "You put λ² on the diagonal; the penalty λ‖u‖² gives λ: reg * np.eye(k)."),
        Diagnostic(_unregularized_rhs_scaled, "You divided V_Ωᵀ r by the diagonal of the matrix: that ignores its "
                                              "off-diagonal entries. Solve the whole system with "
                                              "np.linalg.solve."),
    ],
)
def user_update(V, rated_items, ratings_of_user, reg):
    r"""The ALS update of one user (lecture slides, "Alternating least squares (ALS)").

    .. math::
        u_u = (V_{\Omega_u}^\top V_{\Omega_u} + \lambda I)^{-1} V_{\Omega_u}^\top r_{\Omega_u}

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    rated_items : int array, shape (|Omega_u|,)
        The items user u rated (Omega_u), in any order.
    ratings_of_user : ndarray, shape (|Omega_u|,)
        r_{Omega_u}: the user's ratings of those items, in the same order.
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (k,)
        u_u, the minimizer of ||r_{Omega_u} - V_{Omega_u} u||^2 + lambda ||u||^2.
    """
    V_O = V[rated_items]                          # V_{Omega_u}: the rated items' vectors, |Omega_u| x k
    A = V_O.T @ V_O + reg * np.eye(V.shape[1])    # V_{Omega_u}^T V_{Omega_u} + lambda I   (k x k)
    b = V_O.T @ ratings_of_user                   # V_{Omega_u}^T r_{Omega_u}              (k)
    return np.linalg.solve(A, b)                  # u_u = A^{-1} b, by a solve (no inverse needed)


# ============================================================================ half-steps
def user_half_step(R, V, reg):
    """The user half-step, as lesson 06 shows it: every u_u given V (R a ``Ratings``, m x n)."""
    U = np.zeros((R.shape[0], V.shape[1]))           # one row u_u per user (m x k)
    for u in range(R.shape[0]):
        mine = R.rows == u                               # the entries of user u: Omega_u
        U[u] = user_update(V, R.cols[mine], R.values[mine], reg)
    return U


def _random_ratings(rng, m, n, known, k):
    """A ``Ratings`` with integer stars, each pair known with probability ``known``; the last
    item has no rating at all, and item 0 fewer than k (so lambda matters)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) >= known] = np.nan
    R[:, -1] = np.nan                  # an item nobody rated: its ridge solution is v_i = 0
    R[:, 0] = np.nan
    R[rng.choice(m, size=max(k - 1, 1), replace=False), 0] = 4.0   # item 0: fewer ratings than k
    R[:, 1] = np.where(np.isnan(R[:, 1]), 3.0, R[:, 1])             # item 1: every user, so no user is empty
    return Ratings.from_dense(R)


def _half_step_cases(rng):
    """The slides' 4 x 6 example with the slides' U first, then random shapes (more users than
    items, and more items than users)."""
    cases = [(Ratings.from_dense(toy("lecture_R")), toy("lecture_U"), 0.1)]
    for m, n, k, known, reg in [(9, 6, 2, 0.5, 0.5), (12, 15, 3, 0.4, 1.0), (20, 8, 4, 0.6, 0.05), (7, 7, 1, 0.5, 2.0)]:
        cases.append((_random_ratings(rng, m, n, known, k), rng.normal(size=(m, k)), reg))
    return cases


def _items_by_user_ids(R, U, reg):
    # the mirror done halfway: item i's entries, but U indexed by the ITEM numbers of those entries
    V = np.zeros((R.shape[1], U.shape[1]))
    for i in range(R.shape[1]):
        mine = R.cols == i
        V[i] = user_update(U, R.cols[mine], R.values[mine], reg)
    return V


def _items_with_users_entries(R, U, reg):
    # item i gets the entries of USER i (R.rows == i) instead of its own
    V = np.zeros((R.shape[1], U.shape[1]))
    for i in range(R.shape[1]):
        mine = R.rows == i
        V[i] = user_update(U, R.rows[mine], R.values[mine], reg)
    return V


def _one_row_per_user(R, U, reg):
    # the loop runs over the m users (R.shape[0]) instead of the n items
    V = np.zeros((R.shape[0], U.shape[1]))
    for i in range(R.shape[0]):
        mine = R.cols == i
        V[i] = user_update(U, R.rows[mine], R.values[mine], reg)
    return V


def _items_no_reg(R, U, reg):
    V = np.zeros((R.shape[1], U.shape[1]))
    for i in range(R.shape[1]):
        U_O = U[R.rows[R.cols == i]]
        V[i] = np.linalg.solve(U_O.T @ U_O, U_O.T @ R.values[R.cols == i])
    return V


@register(
    lesson=LESSON_06,
    title="the item half-step: every item's vector v_i, given the user factors U",
    cases=_half_step_cases,
    hints=[
        "It is the user half-step in a mirror: the items now play the users' part, and U plays V's part. "
        "Item i's regression uses only the users who rated it (Ω^i) and their ratings of item i.",
        "Loop over the n items (R.shape[1]). For item i, find its entries of Ω: the positions where R.cols "
        "equals i. At those positions R.rows tells WHICH users rated it and R.values WHAT they gave.",
        "Your user_update already solves (Fᵀ_Ω F_Ω + λI) x = Fᵀ_Ω r for any factor matrix F: pass U as the "
        "factor matrix, the users of item i as the rows to select, and their ratings. Collect the results "
        "in an n x k array.",
        "An item nobody rated has no entries: the closed form then gives the zero vector (λI x = 0), which "
        "is what the reference returns too; np.zeros((n, k)) as the starting array handles it.",
    ],
    diagnostics=[
        Diagnostic(_items_by_user_ids, "You selected rows of U with the ITEM numbers (R.cols) of item i's entries. "
                                       "U has one row per user: select it with the users who rated item i, "
                                       "R.rows at those entries."),
        Diagnostic(_items_with_users_entries, "Item i got the entries of USER i (R.rows == i): an item's ratings "
                                              "are the entries whose column is i (R.cols == i)."),
        Diagnostic(_one_row_per_user, "Your V has one row per USER: the loop must run over the n items, "
                                      "range(R.shape[1]), and V is n x k."),
        Diagnostic(_items_no_reg, "λI is missing from the items' systems: an item with fewer than k ratings "
                                  "(or none) then has a singular matrix. Add λ on the diagonal, as for the users."),
    ],
)
def item_half_step(R, U, reg):
    r"""The ALS item half-step (slides, "Alternating least squares (ALS)", with the roles swapped):
    every v_i = (U_{Omega^i}^T U_{Omega^i} + lambda I)^{-1} U_{Omega^i}^T r_{Omega^i}.

    R is a ``Ratings`` (m x n), U the user factors (m x k); returns V (n x k).
    """
    V = np.zeros((R.shape[1], U.shape[1]))           # one row v_i per item (n x k)
    for i in range(R.shape[1]):
        mine = R.cols == i                               # the entries of item i: its users Omega^i
        V[i] = user_update(U, R.rows[mine], R.values[mine], reg)   # the same closed form, U in V's role
    return V


# ============================================================================ als_sweep
def _sweep_cases(rng):
    cases = [(Ratings.from_dense(toy("lecture_R")), toy("lecture_U"), toy("lecture_Vt").T, 0.1)]
    for m, n, k, known, reg in [(9, 6, 2, 0.5, 0.5), (12, 15, 3, 0.4, 1.0), (20, 8, 4, 0.6, 0.05)]:
        cases.append((_random_ratings(rng, m, n, known, k), rng.normal(size=(m, k)), rng.normal(size=(n, k)), reg))
    return cases


def _objective(R, U, V, reg):
    e = R.values - np.sum(U[R.rows] * V[R.cols], axis=1)
    return e @ e + reg * (np.sum(U ** 2) + np.sum(V ** 2))


def _users_first(R, U, V, reg):
    U = user_half_step(R, V, reg)
    V = item_half_step(R, U, reg)
    return U, V, _objective(R, U, V, reg)


def _stale_factors(R, U, V, reg):
    # both half-steps from the factors passed in: the users do not see the new V
    U, V = user_half_step(R, V, reg), item_half_step(R, U, reg)
    return U, V, _objective(R, U, V, reg)


def _mean_loss(R, U, V, reg):
    U, V, loss = als_sweep(R, U, V, reg)
    return U, V, loss / len(R)


def _loss_without_penalty(R, U, V, reg):
    U, V, _ = als_sweep(R, U, V, reg)
    e = R.values - np.sum(U[R.rows] * V[R.cols], axis=1)
    return U, V, e @ e


def _loss_before(R, U, V, reg):
    U_new, V_new, _ = als_sweep(R, U, V, reg)
    return U_new, V_new, _objective(R, U, V, reg)


@register(
    lesson=LESSON_06,
    title="one ALS sweep (item half-step, then user half-step) and the objective it reaches",
    cases=_sweep_cases,
    hints=[
        "Two half-steps in a row, each one uses the freshest factors: first every item from U (your "
        "item_half_step), then every user from the V you have just computed (user_half_step, shown above).",
        "The objective is the slides' L(U, V) of section 1 at the NEW factors: the squared errors summed over "
        "the known entries only, plus λ times the squared entries of U and of V (a sum, not a mean).",
        "The predictions of the known entries are the row-wise dot products of U[R.rows] and V[R.cols] "
        "(multiply them elementwise and sum along axis 1): no m x n matrix needed.",
        "Return three things in this order: the new U (m x k), the new V (n x k) and the loss (a number).",
    ],
    diagnostics=[
        Diagnostic(_users_first, "You updated the users first (from the V you were given), then the items. "
                                 "mt.ALS, and this exercise, take the item half-step first, from U; the users "
                                 "then use the NEW V."),
        Diagnostic(_stale_factors, "Both half-steps used the factors you were given: the user half-step must use "
                                   "the V computed by the item half-step a line earlier (that is what makes the "
                                   "loss go down every half-step)."),
        Diagnostic(_mean_loss, "Your loss is divided by |Ω| (the mean, like mt.gd.loss and history_): this "
                               "exercise asks for the slides' objective itself, the SUM of squared errors plus "
                               "the penalty."),
        Diagnostic(_loss_without_penalty, "Your loss is the squared errors only: add the penalty "
                                          "λ(Σ‖u_u‖² + Σ‖v_i‖²) of the new factors."),
        Diagnostic(_loss_before, "Your loss is that of the factors you were GIVEN: compute it at the new U "
                                 "and V, after the sweep."),
    ],
)
def als_sweep(R, U, V, reg):
    """One ALS iteration as mt.ALS runs it: the item half-step from U, then the user half-step from
    the new V; returns the new U, V and the slides' objective L(U, V) at them."""
    V = item_half_step(R, U, reg)                    # every v_i given U (the V passed in is not needed)
    U = user_half_step(R, V, reg)                    # every u_u given the NEW V
    e = R.values - np.sum(U[R.rows] * V[R.cols], axis=1)         # r_ui - u_u . v_i on Omega
    loss = e @ e + reg * (np.sum(U ** 2) + np.sum(V ** 2))      # slides: squared errors + lambda * penalty
    return U, V, loss


# ============================================================================ questions
register_question(
    name="q06_users_independent", lesson=LESSON_06, kind="choice",
    prompt="With $V$ fixed, why can the user half-step solve every user separately (even on different machines)?",
    choices=[
        "Because users who rated different items are independent, and ALS first sorts users into groups "
        "with no common items.",
        "Because, with $V$ fixed, $L(U, V)$ is a sum of terms $L_u(u_u)$ that each contain only one user's "
        "vector, so minimizing the sum means minimizing each term on its own.",
        "Because the closed form is only an approximation that ignores the other users; the loop over "
        "iterations corrects for it.",
        "Because $\\lambda > 0$ decouples the users; with $\\lambda = 0$ they would have to be solved jointly.",
    ],
    answer=1,
    feedback={
        0: "Two users who rated the same movies are still solved separately: they share only the fixed item "
           "vectors $V$, which are constants in the user half-step. No grouping is needed.",
        2: "The closed form is exact: each $u_u$ is the true minimizer of its block. Nothing about the other "
           "users is ignored, because no other user's vector appears in $L_u$.",
        3: "The separation comes from the structure of the loss (every rating involves one user vector), "
           "not from $\\lambda$. With $\\lambda = 0$ each user is still a separate (least-squares) problem; "
           "$\\lambda$ only makes each one well posed.",
    },
    explanation="Group the ratings by user: $L(U, V) = \\sum_u [\\sum_{i\\in\\Omega_u} (r_{ui} - u_u^\\top v_i)^2 "
                "+ \\lambda\\|u_u\\|^2] + \\lambda\\sum_i\\|v_i\\|^2$. With $V$ fixed the last sum is a constant and "
                "user $u$'s bracket contains only $u_u$. Each user needs just $V$ and their own ratings, so the "
                "half-step is embarrassingly parallel; the items' half-step likewise.",
)

register_question(
    name="q06_few_ratings", lesson=LESSON_06, kind="choice",
    prompt="A user rated 3 movies and $k = 10$. What goes wrong in their update with $\\lambda = 0$, and what "
           "does $\\lambda > 0$ change?",
    choices=[
        "Nothing goes wrong: 3 equations are enough, the solver returns the least-squares fit.",
        "$V_{\\Omega_u}^\\top V_{\\Omega_u}$ ($10\\times 10$) has rank at most 3, so it is singular and infinitely "
        "many $u$ fit equally well; $\\lambda I$ makes every eigenvalue at least $\\lambda$, so the system has "
        "exactly one solution.",
        "The matrix is $3\\times 3$ instead of $10\\times 10$, so the result has the wrong length; $\\lambda$ "
        "pads it to length 10.",
        "With $\\lambda = 0$ the update is fine but overfits; $\\lambda > 0$ only shrinks the result, it does not "
        "change whether a solution exists.",
    ],
    answer=1,
    feedback={
        0: "Three equations for ten unknowns: the least-squares problem has a whole 7-dimensional family of "
           "minimizers, and $V_{\\Omega_u}^\\top V_{\\Omega_u}$ is singular, so the normal equations cannot be "
           "solved (np.linalg.solve raises or returns huge numbers).",
        2: "$V_{\\Omega_u}^\\top V_{\\Omega_u}$ is always $k\\times k$ ($10\\times 10$) whatever $|\\Omega_u|$ is; "
           "the problem is its rank, which is at most $|\\Omega_u| = 3$.",
        3: "With $\\lambda = 0$ there is not even a unique solution: the matrix is singular. That "
           "$\\lambda I$ makes it positive definite (eigenvalues $\\ge \\lambda$) is exactly what makes the closed "
           "form well defined.",
    },
    explanation="$x^\\top(V_{\\Omega_u}^\\top V_{\\Omega_u} + \\lambda I)x = \\|V_{\\Omega_u}x\\|^2 + "
                "\\lambda\\|x\\|^2 \\ge \\lambda\\|x\\|^2 > 0$: positive definite, invertible, one minimizer. It has no "
                "component outside the span of the three $v_i$ (the penalty pushes that part to zero). "
                "Lesson 07 shows mt.ALS refusing $\\lambda = 0$ on an item with too few ratings.",
)

register_question(
    name="q06_global_minimum", lesson=LESSON_06, kind="choice",
    prompt="The ALS loss never increases. Does ALS therefore find the global minimum of $L(U, V)$?",
    choices=[
        "Yes: every half-step is a global minimum, so the alternation ends at the global minimum.",
        "Yes, provided $\\lambda > 0$, because then $L$ is strictly convex in $(U, V)$.",
        "No: each half-step is the global minimum of its block, but $L$ is not convex in $(U, V)$ jointly; "
        "ALS stops at a stationary point that can depend on the random start.",
        "No: the loss never increases but it may stay far above every stationary point, because ALS has no "
        "learning rate.",
    ],
    answer=2,
    feedback={
        0: "A global minimum over $U$ with $V$ held fixed is not a global minimum over both: section 2's "
           "$(1 - uv)^2$ shows a saddle at $(0, 0)$ where both one-variable problems are at a stationary point.",
        1: "$\\lambda > 0$ makes each BLOCK strictly convex, not the joint problem: $(1 - uv)^2 + "
           "\\lambda(u^2 + v^2)$ still has a saddle at $(0, 0)$ for $\\lambda < 1$ (Hessian eigenvalues "
           "$2\\lambda \\pm 2$).",
        3: "The losses are bounded below and decrease, and under mild conditions the iterates approach a "
           "stationary point; the missing learning rate is an advantage (each step is exact), not a cause of "
           "stalling.",
    },
    explanation="Block-wise exact minimization gives a monotone loss, which converges to a stationary point. "
                "The joint problem is not convex, and its minimizers are not even unique: $(UQ, VQ)$ for any "
                "orthogonal $k\\times k$ $Q$ (e.g. $(-U, -V)$) has the same predictions and the same penalty.",
)
