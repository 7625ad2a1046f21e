r"""Exercises of lesson 10_implicit_feedback (registered on import).

The lecture slides ("Collaborative Filtering for Implicit Feedback", "Closed Form", "Exercise:
find the closed form") fix V and minimize, for one user u, a loss over ALL n items:

    L_u(u) = sum_i c_ui (p_ui - u^T v_i)^2 + lambda ||u||^2
           = ||sqrt(C^u) p_u - sqrt(C^u) V u||^2 + lambda ||u||^2,     C^u = diag(c_u1, ..., c_un),

a ridge regression on X = sqrt(C^u) V and y = sqrt(C^u) p_u, whose minimizer is

    u_u = (V^T C^u V + lambda I)^{-1} V^T C^u p_u.

Every item enters, also the ones the user never touched (p_ui = 0, confidence c_ui = 1 in
Hu, Koren and Volinsky 2008: c_ui = 1 + alpha r_ui). (The slides index users by i; lesson 10's
notation table translates.)

Exercises, in the order of the lesson: ``weighted_user_update`` (the closed form, dense) and
``fast_user_update`` (the same u_u from a precomputed V^T V and the user's items only, Hu et al.
section 4). Then the lesson's check-your-understanding questions. Lesson 11
(``mfteach.exercises.lesson11``) continues with conjugate gradients and the validation choice of lambda.
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from .registry import Diagnostic, register, register_question

LESSON_10 = "10_implicit_feedback"
TOY_ALPHA = 10.0  # the lesson's alpha for the slides' 4 x 6 example


# ---------------------------------------------------------------------------- test cases
def _slides_user_0():
    """The slides' example: user 0's row of P, confidences c = 1 + alpha r with the slides' C as r
    (alpha = 10), V = the slides' V (lecture_Vt transposed), lambda = 0.1."""
    P, C = toy("lecture_P"), toy("lecture_C")
    return toy("lecture_Vt").T, 1.0 + TOY_ALPHA * C[0], P[0], 0.1


def _weighted_user_update_cases(rng):
    cases = [_slides_user_0()]
    # (n items, k, |Omega_u|, alpha, lambda): some users touched fewer items than k, all touched
    # fewer than n, so that dropping the c = 1 items or lambda changes the answer
    for n, k, count, alpha, reg in [(12, 3, 5, 2.0, 0.5), (30, 5, 4, 40.0, 1.0), (9, 2, 6, 0.5, 0.1),
                                    (60, 8, 25, 10.0, 3.0), (20, 4, 1, 5.0, 0.2)]:
        V = rng.normal(scale=0.5, size=(n, k))
        touched = rng.choice(n, size=count, replace=False)
        r = np.zeros(n)
        r[touched] = rng.integers(1, 20, size=count)      # counts: plays, clicks, ...
        p = (r > 0).astype(float)
        cases.append((V, 1.0 + alpha * r, p, reg))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _solve(A, b):
    return np.linalg.solve(A, b)


def _no_c_in_gram(V, c_u, p_u, reg):
    return _solve(V.T @ V + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))


def _no_c_in_rhs(V, c_u, p_u, reg):
    return _solve(V.T @ (c_u[:, None] * V) + reg * np.eye(V.shape[1]), V.T @ p_u)


def _no_c_at_all(V, c_u, p_u, reg):
    return _solve(V.T @ V + reg * np.eye(V.shape[1]), V.T @ p_u)


def _only_interacted(V, c_u, p_u, reg):
    touched = p_u > 0
    V_O, c_O = V[touched], c_u[touched]
    return _solve(V_O.T @ (c_O[:, None] * V_O) + reg * np.eye(V.shape[1]), V_O.T @ (c_O * p_u[touched]))


def _no_reg(V, c_u, p_u, reg):
    return _solve(V.T @ (c_u[:, None] * V), V.T @ (c_u * p_u))


def _sqrt_c_in_rhs(V, c_u, p_u, reg):
    X = np.sqrt(c_u)[:, None] * V                      # sqrt(C) V ...
    return _solve(X.T @ X + reg * np.eye(V.shape[1]), X.T @ p_u)   # ... but p where sqrt(C) p belongs


def _extra_confidence_only(V, c_u, p_u, reg):
    return _solve(V.T @ ((c_u - 1.0)[:, None] * V) + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))


def _reg_everywhere(V, c_u, p_u, reg):
    return _solve(V.T @ (c_u[:, None] * V) + reg, V.T @ (c_u * p_u))


def _weights_as_row(V, c_u, p_u, reg):
    # c_u (n,) times V (n, k): numpy lines c_u up with V's LAST axis and raises (unless n == k)
    return _solve(V.T @ (c_u * V) + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))


def _weights_as_row_after(V, c_u, p_u, reg):
    return _solve(V.T @ (V * c_u) + reg * np.eye(V.shape[1]), V.T @ (c_u * p_u))


_COLUMN_AXIS = ("c_u has shape (n,) and V has shape (n, k): numpy pairs a 1-D array with the LAST axis of the "
                "other operand (k), not with its rows, hence the broadcasting error. Give the weights a column "
                "axis, shape (n, 1) (index c_u with [:, None], or reshape it), so that row i of V is scaled by "
                "c_ui: that is Cᵘ V without building the n x n diagonal matrix.")


@register(
    lesson=LESSON_10,
    title="the implicit-feedback update of one user: the minimizer of its weighted loss over all n items",
    cases=_weighted_user_update_cases,
    hints=[
        "With V fixed, user u's loss is Σ_i c_ui (p_ui − uᵀv_i)² + λ‖u‖² over ALL n items: a weighted ridge "
        "regression in which item i has weight c_ui. The items the user never touched count too, with p_ui = 0 "
        "and weight c_ui = 1.",
        "Write it as ‖√C p − √C V u‖² + λ‖u‖² with C = diag(c_u) (the slides' trick): ordinary ridge regression "
        "with inputs X = √C V and targets y = √C p. The ridge closed form of explicit ALS (lessons 06–07) gives "
        "u = (XᵀX + λI)⁻¹ Xᵀy, and XᵀX = Vᵀ Cᵘ V, Xᵀy = Vᵀ Cᵘ p_u.",
        "You never need the n x n matrix diag(c_u): Cᵘ V is V with row i scaled by c_ui, a broadcast "
        "product of V with the weights reshaped to a column (n, 1); Cᵘ p_u is an elementwise product of two "
        "length-n vectors.",
        "The k x k matrix gets λ on its diagonal only (np.eye with k = V.shape[1]); then solve the k x k "
        "system with np.linalg.solve instead of inverting the matrix.",
    ],
    diagnostics=[
        Diagnostic(_no_c_in_gram, "Your k x k matrix is Vᵀ V + λI: the confidences are missing there. Item i's "
                                  "squared error is weighted by c_ui, so the matrix is Vᵀ Cᵘ V + λI (scale "
                                  "row i of V by c_ui before multiplying by Vᵀ)."),
        Diagnostic(_no_c_in_rhs, "Your right-hand side is Vᵀ p_u: the confidences are missing there. With "
                                 "X = √C V and y = √C p it is Xᵀy = Vᵀ Cᵘ p_u (weight p_ui by c_ui)."),
        Diagnostic(_no_c_at_all, "Your u ignores the confidences entirely: (Vᵀ V + λI)⁻¹ Vᵀ p_u is the unweighted "
                                 "fit of the 0/1 row. Weight item i by c_ui in both places: Vᵀ Cᵘ V and Vᵀ Cᵘ p_u."),
        Diagnostic(_only_interacted, "You used only the items the user interacted with (p_ui = 1). The implicit "
                                     "loss runs over ALL items: the others have p_ui = 0 and confidence 1, and "
                                     "they are what pulls the scores of unseen items down. Use all n rows of V."),
        Diagnostic(_no_reg, "λI is missing: add λ to the diagonal of Vᵀ Cᵘ V."),
        Diagnostic(_sqrt_c_in_rhs, "You built X = √C V but used p instead of y = √C p on the right: Xᵀ p = Vᵀ √C p. "
                                   "The right-hand side is Xᵀ y = Vᵀ C p."),
        Diagnostic(_extra_confidence_only, "Your matrix is Vᵀ(Cᵘ − I)V + λI: that is only the correction of "
                                           "the speed-up. Vᵀ Cᵘ V = Vᵀ V + Vᵀ(Cᵘ − I)V: add Vᵀ V."),
        Diagnostic(_reg_everywhere, "You added λ to EVERY entry of Vᵀ Cᵘ V (a matrix plus a number broadcasts); "
                                    "λI puts λ on the diagonal only: add λ times np.eye(k)."),
        Diagnostic(_weights_as_row, _COLUMN_AXIS),
        Diagnostic(_weights_as_row_after, _COLUMN_AXIS),
    ],
)
def weighted_user_update(V, c_u, p_u, reg):
    r"""The implicit-feedback ALS update of one user (lecture slides, "Closed Form"; Hu et al. eq. 4).

    .. math::
        u_u = (V^\top C^u V + \lambda I)^{-1} V^\top C^u p_u, \qquad C^u = \mathrm{diag}(c_u)

    Parameters
    ----------
    V : ndarray, shape (n, k)
        Item factors, fixed; row i is v_i.
    c_u : ndarray, shape (n,)
        The user's confidence in every item, c_ui = 1 + alpha r_ui (1 where there is no interaction).
    p_u : ndarray, shape (n,)
        The user's preferences, p_ui = 1 if r_ui > 0 else 0.
    reg : float
        lambda > 0.

    Returns
    -------
    ndarray, shape (k,)
        u_u, the minimizer of sum_i c_ui (p_ui - u^T v_i)^2 + lambda ||u||^2 over ALL n items.
    """
    A = V.T @ (c_u[:, None] * V) + reg * np.eye(V.shape[1])   # V^T C^u V + lambda I   (k x k), C^u = diag(c_u)
    b = V.T @ (c_u * p_u)                                    # V^T C^u p_u            (k)
    return np.linalg.solve(A, b)                             # u_u = A^{-1} b


# ============================================================================ fast_user_update
def _fast_cases(rng):
    """(VtV, V, items, c, reg): user 0 of the slides' example first (the same u_u as
    weighted_user_update's first case), then random users; from the third case on, the rows of V
    the user never touched are NaN: the speed-up never reads them."""
    V, c_u, p_u, reg = _slides_user_0()
    items = np.flatnonzero(p_u)
    cases = [(V.T @ V, V, items, c_u[items], reg)]
    # (n, k, |Omega_u|, alpha, lambda, hide the other rows): fewer and more items than k
    for n, k, count, alpha, reg, hide in [(12, 3, 5, 2.0, 0.5, False), (30, 5, 4, 40.0, 1.0, True),
                                          (60, 8, 25, 10.0, 3.0, True), (20, 4, 1, 5.0, 0.2, True)]:
        V = rng.normal(scale=0.5, size=(n, k))
        items = rng.choice(n, size=count, replace=False)          # Omega_u, in no particular order
        c = 1.0 + alpha * rng.integers(1, 20, size=count)         # c_ui = 1 + alpha r_ui > 1 on Omega_u
        VtV = V.T @ V                                             # computed once per half-step, from all of V
        if hide:
            V = np.where(np.isin(np.arange(n), items)[:, None], V, np.nan)
        cases.append((VtV, V, items, c, reg))
    return cases


def _fast(VtV, V_O, c, b_weights, reg, counted_gram=True, extra=True):
    k = VtV.shape[0]
    A = (VtV if counted_gram else 0) + V_O.T @ (((c - 1) if extra else c)[:, None] * V_O) + reg * np.eye(k)
    return np.linalg.solve(A, V_O.T @ b_weights)


def _counted_twice(VtV, V, items, c, reg):
    return _fast(VtV, V[items], c, c, reg, extra=False)


def _without_VtV(VtV, V, items, c, reg):
    return _fast(VtV, V[items], c, c, reg, counted_gram=False, extra=False)


def _rhs_with_c_minus_1(VtV, V, items, c, reg):
    return _fast(VtV, V[items], c, c - 1, reg)


def _fast_no_reg(VtV, V, items, c, reg):
    return _fast(VtV, V[items], c, c, 0.0)


def _dense_after_all(VtV, V, items, c, reg):
    c_u = np.ones(V.shape[0])
    c_u[items] = c
    return weighted_user_update(V, c_u, (c_u > 1).astype(float), reg)


def _fast_weights_as_row(VtV, V, items, c, reg):
    V_O = V[items]
    return np.linalg.solve(VtV + V_O.T @ ((c - 1) * V_O) + reg * np.eye(V.shape[1]), V_O.T @ c)


def _fast_weights_as_row_after(VtV, V, items, c, reg):
    V_O = V[items]
    return np.linalg.solve(VtV + V_O.T @ (V_O * (c - 1)) + reg * np.eye(V.shape[1]), V_O.T @ c)


_FAST_COLUMN_AXIS = ("The weights have shape (|Ωᵤ|,) and the rows V[items] shape (|Ωᵤ|, k): numpy pairs a 1-D "
                     "array with the LAST axis (k), hence the broadcasting error. Give the weights a column axis, "
                     "shape (|Ωᵤ|, 1), so that row v_i is scaled by its own weight c_ui − 1.")


@register(
    lesson=LESSON_10,
    title="the same user update from a precomputed VᵀV, touching only the rows of the items the user touched",
    cases=_fast_cases,
    hints=[
        "Split the weights: c_ui = 1 + (c_ui − 1). The '1' part of Vᵀ Cᵘ V is Σ over ALL items of v_i v_iᵀ, "
        "which is VtV, given. The '(c_ui − 1)' part is zero for every item outside Ωᵤ.",
        "So you only need the |Ωᵤ| rows V[items]: the correction is the sum over them of (c_ui − 1) v_i v_iᵀ, "
        "a k x k matrix; add it and λI to VtV. Scale the rows by their weights with the weights as a column "
        "(shape (|Ωᵤ|, 1)).",
        "The right-hand side Vᵀ Cᵘ p_u is also a sum over Ωᵤ only, because p_ui = 0 elsewhere and p_ui = 1 on "
        "Ωᵤ: it is the rows V[items] weighted by the full confidences c (not c − 1), summed.",
        "Solve the k x k system with np.linalg.solve. Never touch V outside V[items], nor recompute Vᵀ V: "
        "some test cases set the other rows of V to NaN.",
    ],
    diagnostics=[
        Diagnostic(_counted_twice, "You added Σ c_ui v_i v_iᵀ over Ωᵤ to VtV: the items of Ωᵤ are then counted "
                                   "twice, since VtV already holds each v_i v_iᵀ with weight 1. Add only the "
                                   "EXTRA confidence, c_ui − 1."),
        Diagnostic(_without_VtV, "Your matrix has no VtV: Σ over Ωᵤ of c_ui v_i v_iᵀ + λI is explicit ALS's "
                                 "update (lessons 06–07) with weights, and the items the user never touched "
                                 "(p = 0, c = 1) are gone from the loss. Start from the given VtV and add the "
                                 "correction."),
        Diagnostic(_rhs_with_c_minus_1, "Your right-hand side uses the weights c − 1: only the matrix is split "
                                        "as VᵀV + Vᵀ(Cᵘ − I)V. The right-hand side is Vᵀ Cᵘ p_u = Σ over Ωᵤ of "
                                        "c_ui v_i, with the full confidence."),
        Diagnostic(_fast_no_reg, "λI is missing: add λ to the diagonal of the k x k matrix."),
        Diagnostic(_dense_after_all, "Your result is right when V is complete and NaN when the rows outside Ωᵤ "
                                     "are NaN: you used all of V (recomputing Vᵀ V, or the dense Vᵀ Cᵘ V). The "
                                     "speed-up reads only V[items] and takes Vᵀ V from VtV."),
        Diagnostic(_fast_weights_as_row, _FAST_COLUMN_AXIS),
        Diagnostic(_fast_weights_as_row_after, _FAST_COLUMN_AXIS),
    ],
)
def fast_user_update(VtV, V, items, c, reg):
    r"""u_u = (V^T C^u V + lambda I)^{-1} V^T C^u p_u computed the fast way (Hu et al., section 4):
    V^T C^u V = V^T V + V_O^T (C^u_O - I) V_O and V^T C^u p_u = V_O^T c, with V_O = V[items] the rows of
    the user's items (p_ui = 1 there, 0 and c_ui = 1 elsewhere); O(|Omega_u| k^2 + k^3), not O(n k^2)."""
    V_O = V[items]                                                           # only the |Omega_u| rows that matter
    A = VtV + V_O.T @ ((c - 1)[:, None] * V_O) + reg * np.eye(V.shape[1])   # V^T V + V^T (C^u - I) V + lambda I
    b = V_O.T @ c                                                            # V^T C^u p_u: p_ui = 1 on Omega_u
    return np.linalg.solve(A, b)



# ============================================================================ questions
register_question(
    name="q10_no_interaction", lesson=LESSON_10, kind="choice",
    prompt="A user never interacted with an item. In Hu et al.'s model, what are $p_{ui}$ and $c_{ui}$ for this "
           "pair?",
    choices=["$p_{ui} = 0$ and $c_{ui} = 0$: the pair carries no information and drops out of the loss",
             "$p_{ui} = 0$ and $c_{ui} = 1$: the pair stays in the loss with the smallest weight",
             "$p_{ui}$ is unknown (a '?') and $c_{ui} = 1$",
             "$p_{ui} = 0$ and $c_{ui} = 1 + \\alpha$"],
    answer=1,
    feedback={0: "That is the slides' $C$ read as a weight. With weight 0 every such pair leaves the loss, which "
                 "becomes the explicit loss over $\\Omega$ with every target 1: the all-ones prediction is "
                 "perfect and nothing gets ranked (section 2).",
              2: "'?' belongs to explicit feedback. In the implicit model every pair has a preference, 0 or 1: "
                 "no event means $p_{ui} = 0$, held with low confidence.",
              3: "$c_{ui} = 1 + \\alpha r_{ui}$ and there is no interaction, so $r_{ui} = 0$: $c_{ui} = 1$. "
                 "$1 + \\alpha$ is the confidence of an interaction with $r_{ui} = 1$."},
    explanation="No event gives $r_{ui} = 0$, hence $p_{ui} = 0$ and $c_{ui} = 1 + \\alpha\\cdot 0 = 1$. The pair "
                "still counts: its term $(u_u^\\top v_i)^2$ pulls the score towards 0, and these $mn - |\\Omega|$ "
                "terms are what make a high score something a movie has to earn.")

register_question(
    name="q10_training_rmse", lesson=LESSON_10, kind="choice",
    prompt="Explicit ALS trained on the 1s of MovieLens reaches a training RMSE of 0.007. What does that say "
           "about the quality of its top-10 lists?",
    choices=["They are excellent: the model reproduces the data almost perfectly",
             "Nothing: every known value is 1, so fitting them says nothing about the pairs without interaction, "
             "which are the ones we rank",
             "The model overfits: raise $\\lambda$ until the training RMSE is as large as the test RMSE, and the "
             "lists will be good"],
    answer=1,
    feedback={0: "Section 2 measured it: explicit ALS on the 1s finds the held-out movie less than half as often "
                 "as popularity. $u_u = v_i = (1/\\sqrt{k}, \\dots)$ even has training RMSE 0 and ties every "
                 "item.",
              2: "A larger $\\lambda$ does not bring the missing zeros into the loss: the loss over $\\Omega$ "
                 "still cannot tell a good ranking from the all-ones one. The fix is the loss over all pairs, "
                 "not a different penalty."},
    explanation="All known values are 1, and the all-ones factors $u_u = v_i = (1/\\sqrt{k}, \\dots)$ fit them "
                "exactly (training RMSE 0) while giving every item the same score. A tiny training error is no "
                "evidence about the pairs outside $\\Omega$, which is where the recommendations come from.")

register_question(
    name="q10_all_items_term", lesson=LESSON_10, kind="choice",
    prompt="In $u_u = (V^\\top C^u V + \\lambda I)^{-1} V^\\top C^u p_u$ the right-hand side involves only the "
           "items of $\\Omega_u$. Through which term does every OTHER item still influence $u_u$?",
    choices=["Through $\\lambda I$",
             "Through $V^\\top V$, inside $V^\\top C^u V = V^\\top V + V^\\top (C^u - I) V$",
             "Through $V^\\top (C^u - I) V$",
             "They do not: like explicit ALS's update (lessons 06–07), $u_u$ depends only on the $v_i$ with "
             "$i \\in \\Omega_u$"],
    answer=1,
    feedback={0: "$\\lambda I$ contains no item at all; it shrinks $u_u$ towards 0 in every direction alike.",
              2: "$C^u - I$ is zero on the diagonal for every item the user did not touch: this correction only "
                 "involves $\\Omega_u$ (that is the point of the speed-up).",
              3: "That is the explicit update, whose loss runs over $\\Omega_u$ only. The implicit loss runs "
                 "over all $n$ items: the untouched ones appear with $p_{ui} = 0$ and weight 1."},
    explanation="$V^\\top V = \\sum_{i=1}^n v_i v_i^\\top$ contains every item with weight 1: it is the pull of "
                "all the zeros. It makes directions in which many items score high expensive, so $u_u$ must point "
                "towards the user's items and away from the rest of the catalogue.")

register_question(
    name="q10_speedup_cost", lesson=LESSON_10, kind="number",
    prompt="A service has $n = 10^6$ items and $k = 100$; a user touched $|\\Omega_u| = 200$ of them. With "
           "$V^\\top V$ precomputed, about how many multiplications does forming this user's $V^\\top C^u V$ "
           "take (count the correction over $\\Omega_u$)?",
    answer=2e6,
    feedback={1e10: "$n k^2 = 10^{10}$ is the dense way (or the one-off cost of $V^\\top V$, shared by all users). "
                    "With the speed-up only the $|\\Omega_u|$ rows enter.",
              2e4: "$|\\Omega_u|\\, k$ is the cost of one product $V_{\\Omega_u} z$ (a CG step's $A z$ needs it and "
                   "then $V_{\\Omega_u}^\\top$ of the result: about $k^2 + 2|\\Omega_u|\\, k$). Forming the $k\\times k$ "
                   "matrix adds a $k\\times k$ outer product per item.",
              1e6: "$k^3$ is the cost of the solve that follows; the question asks for forming the matrix.",
              5000: "That is how many times less than the dense way: the question asks for the number itself.",
              2e8: "That would be $|\\Omega_u|\\, k^3$; each item adds one outer product $v_i v_i^\\top$, "
                   "$k^2$ multiplications."},
    default_feedback="Each touched item adds $(c_{ui} - 1)\\, v_i v_i^\\top$, a $k\\times k$ outer product of $k^2$ "
                     "multiplications; count them over $\\Omega_u$.",
    explanation="$|\\Omega_u|\\, k^2 = 200 \\cdot 10^4 = 2\\cdot 10^6$, against $n k^2 = 10^{10}$ for the dense "
                "form: 5000 times less. The price: $V^\\top V$ ($n k^2$) once per half-step, shared by all users, "
                "and the $k^3 = 10^6$ solve per user remains.")
