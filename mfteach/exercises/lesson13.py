r"""Exercises of lesson 13_retraining_and_hypothesis_1 (registered on import).

Lesson 12 wrote every ALS prediction as r_hat_u = J r_Omega with V fixed (FATREC 2017, eq. (2)).
Lesson 13 asks what happens when the model is retrained after a rating changes: the paper's
Hypothesis 1 (with many more users than items, essentially only the user's own vector moves), its
Figure-1 experiment and its Appendix A. Appendix A's own route drops, in (13), terms that equal the
difference of the two sums it keeps; the lesson keeps the user's and the item's stationarity
conditions (11) and (12) apart and drops only the residual-times-change terms:

    (sum_{k != i} v_k v_k^T + lambda I) du = delta v_i,      (sum_{w != u} u_w u_w^T + lambda I) dv = delta u_u,

with the same change delta of the residual r_ui - u_u^T v_i in both.

The lesson's exercises, in its order: ``best_rerating`` (a find-out on MovieLens with
``mt.explain.influence``: the one re-rating that raises a prediction most) and ``linearized_changes``
(the two changes above for a rating changed by epsilon, delta worked out by the learner); then two
questions.
"""

from __future__ import annotations

import numpy as np

import mfteach as mt

from ..als import ALS
from ..data import load_movielens
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

LESSON_13 = "13_retraining_and_hypothesis_1"


# ============================================================================ find out on MovieLens
def _small_model():
    """A 12 x 8 matrix of random stars, 60 % known; user 0 rated 5 items. Case 1: the largest |influence|
    (item 0) is already 5 stars and cannot rise."""
    rng = np.random.default_rng(7)
    R = np.where(rng.random((12, 8)) < 0.6, rng.integers(1, 6, (12, 8)).astype(float), np.nan)
    R[0] = [5, np.nan, 2, 4, np.nan, 1, 3, np.nan]
    ratings = Ratings.from_dense(R)
    return ALS(rank=2, reg=0.5, n_iters=20, seed=0).fit(ratings), ratings


def _best_rerating_cases(rng):
    model, small = _small_model()
    top = load_movielens("100k").top(650, 50)             # the lesson's data
    unbiased = ALS(rank=4, reg=1.0, n_iters=30, seed=0).fit(top)
    biased = ALS(rank=4, reg=1.0, n_iters=30, seed=0, biased=True).fit(top)
    t2 = int(np.flatnonzero(top.item_titles == "Terminator 2: Judgment Day (1991)")[0])
    return [(model, small, 0, 1), (unbiased, top, 325, t2), (biased, top, 325, t2), (unbiased, top, 3, 10),
            (biased, top, 100, 1)]


def _gains(frame):
    """For each past rating: the best new value in 1..5 and the prediction's rise, beta_k (new - r_uk)."""
    up, down = frame["influence"] * (5 - frame["rating"]), frame["influence"] * (1 - frame["rating"])
    return np.where(up >= down, 5, 1), np.maximum(up, down)


def _largest_influence(model, ratings, user, item):
    frame = mt.explain.influence(model, ratings, user, item)
    return int(frame["item"].iloc[0]), 5 if frame["influence"].iloc[0] > 0 else 1


def _always_five(model, ratings, user, item):
    frame = mt.explain.influence(model, ratings, user, item)
    best = int(np.argmax(frame["influence"] * (5 - frame["rating"])))
    return int(frame["item"].iloc[best]), 5


def _row_position(model, ratings, user, item):
    frame = mt.explain.influence(model, ratings, user, item)
    stars, gain = _gains(frame)
    best = int(np.argmax(gain))
    return best, int(stars[best])


def _largest_impact(model, ratings, user, item):
    frame = mt.explain.influence(model, ratings, user, item)
    best = int(np.argmax(np.abs(frame["impact"])))
    return int(frame["item"].iloc[best]), 5 if frame["influence"].iloc[best] > 0 else 1


@register(
    lesson=LESSON_13,
    title="find out with mt.explain.influence: which single re-rating (a past rating set to a new value in 1..5) "
          "would raise a prediction the most",
    cases=_best_rerating_cases,
    time_limit=10.0,
    hints=[
        "mt.explain.influence, called with the same four arguments, gives one row per past rating, with its current "
        "rating and its influence β_k: the change of the prediction per star, with V fixed.",
        "Setting rating k to s moves the prediction by β_k (s - r_uk). For each past rating only the two ends of "
        "the scale can be best: 5 stars if β_k > 0, 1 star if β_k < 0. A rating already at that end gains nothing.",
        "Compute both gains for every row, keep the larger per row and the row with the largest gain overall; "
        "return that row's `item` column (the item number, not the row's position) and its best new value.",
    ],
    diagnostics=[
        Diagnostic(_largest_influence, "You took the past rating with the largest |influence|. But the gain is "
                                       "influence × (new stars − current stars): a rating that is already 5 (or 1) "
                                       "cannot be pushed further in the helpful direction. Compare the gains."),
        Diagnostic(_always_five, "You only considered raising ratings to 5. A past rating with a NEGATIVE "
                                 "influence raises the prediction when it is LOWERED: try 1 star for those."),
        Diagnostic(_row_position, "You returned the row's position in the frame; return the movie's number from "
                                  "its `item` column (the frame is sorted by |influence|, not by item)."),
        Diagnostic(_largest_impact, "You picked the largest impact (what a rating contributes now). The question "
                                    "is what a CHANGE would do: that is the influence, times the room left on the "
                                    "1..5 scale."),
    ],
)
def best_rerating(model, ratings, user, item):
    """(rated item, new stars): the one past rating of ``user`` and its new value in 1..5 that
    raises the prediction for ``item`` the most, by eq. (2) (V fixed)."""
    frame = mt.explain.influence(model, ratings, user, item)   # one row per past rating, with beta_k
    up = frame["influence"] * (5 - frame["rating"])            # gain of setting it to 5
    down = frame["influence"] * (1 - frame["rating"])          # gain of setting it to 1
    best = int(np.argmax(np.maximum(up, down)))
    return int(frame["item"].iloc[best]), (5 if up.iloc[best] >= down.iloc[best] else 1)


# ============================================================================ Appendix A, linearized
def _balanced_minimizer(m, n, rank, reg, seed):
    """A minimum of the ridge loss on a fully observed m x n matrix (planted rank + noise)."""
    from ..data import synthetic
    from ..explain.experiments import fully_observed_minimizer

    data, _, _ = synthetic(m, n, rank, 1.0, seed=seed)
    return fully_observed_minimizer(data.to_dense(), rank, reg)


def _linearized_cases(rng):
    """(U, V, user, item, epsilon, lambda): first a small fully observed minimum, as in the lesson; then
    more users than items, the mirror image, rank 1, random factors and a negative epsilon."""
    cases = []
    for m, n, rank, reg, user, item, epsilon in [(30, 8, 2, 0.5, 0, 0, 0.5), (200, 20, 3, 1.0, 17, 4, 1.0),
                                                 (8, 30, 3, 1.0, 2, 21, -2.0)]:
        U, V = _balanced_minimizer(m, n, rank, reg, seed=len(cases))
        cases.append((U, V, user, item, epsilon, reg))
    for m, n, rank, reg, epsilon in [(12, 6, 1, 0.3, 1.5), (15, 9, 4, 0.1, -1.0)]:
        U, V = rng.normal(size=(m, rank)), rng.normal(size=(n, rank))
        cases.append((U, V, int(rng.integers(m)), int(rng.integers(n)), epsilon, reg))
    return cases


def _directions(U, V, user, item, reg, own_term=False, penalty=True):
    """The solutions x, y of the two linearized systems for delta = 1."""
    eye = reg * np.eye(U.shape[1]) if penalty else 0.0
    u_u, v_i = U[user], V[item]
    A_user = V.T @ V - (0.0 if own_term else np.outer(v_i, v_i)) + eye
    A_item = U.T @ U - (0.0 if own_term else np.outer(u_u, u_u)) + eye
    return np.linalg.solve(A_user, v_i), np.linalg.solve(A_item, u_u)


def _scaled(U, V, user, item, x, y, epsilon, item_side=True, sign=1.0):
    delta = epsilon / (1.0 + sign * (V[item] @ x + (U[user] @ y if item_side else 0.0)))
    return delta * x, delta * y


def _delta_is_epsilon(U, V, user, item, epsilon, reg):
    x, y = _directions(U, V, user, item, reg)
    return epsilon * x, epsilon * y


def _own_term_in_sums(U, V, user, item, epsilon, reg):
    return _scaled(U, V, user, item, *_directions(U, V, user, item, reg, own_term=True), epsilon)


def _user_side_only(U, V, user, item, epsilon, reg):
    return _scaled(U, V, user, item, *_directions(U, V, user, item, reg), epsilon, item_side=False)


def _sign_of_delta(U, V, user, item, epsilon, reg):
    return _scaled(U, V, user, item, *_directions(U, V, user, item, reg), epsilon, sign=-1.0)


def _linearized_no_reg(U, V, user, item, epsilon, reg):
    return _scaled(U, V, user, item, *_directions(U, V, user, item, reg, penalty=False), epsilon)


def _swapped(U, V, user, item, epsilon, reg):
    du, dv = linearized_changes(U, V, user, item, epsilon, reg)
    return dv, du


@register(
    lesson=LESSON_13,
    title="Appendix A, linearized: how much the user's and the item's vectors move when one rating changes by ε "
          "(only u_u and v_i re-fitted, eq. (5))",
    cases=_linearized_cases,
    hints=[
        "Drop the residual-times-change terms and each equation has one unknown vector. The user's change solves "
        "a rank x rank system: the sum of v_k v_kᵀ over the OTHER items plus λI, times Δu_u, equals δ v_i. All of "
        "VᵀV minus the changed item's own outer product is that sum. The item's change mirrors it, with the "
        "other users and u_u.",
        "δ is one number shared by both equations: solve both systems once with δ = 1 (np.linalg.solve), call the "
        "results x and y, and then Δu_u = δx and Δv_i = δy.",
        "δ is how much the residual r_ui − u_uᵀv_i changes. The rating rose by ε; the prediction rose too, by "
        "v_iᵀΔu_u + u_uᵀΔv_i to first order. Write that with Δu_u = δx and Δv_i = δy: one linear equation in δ.",
        "Return the pair (Δu_u, Δv_i): two arrays of length rank, the user's change first.",
    ],
    diagnostics=[
        Diagnostic(_delta_is_epsilon, "You used δ = ε. The residual changes by less than the rating: when r_ui "
                                      "rises by ε, u_u and v_i move and the prediction u_uᵀv_i follows part of the "
                                      "way, so δ = ε minus the prediction's change. Solve for δ."),
        Diagnostic(_own_term_in_sums, "Your sums include the changed entry itself (all of VᵀV and UᵀU). In (11) and "
                                      "(12) the changed rating is on the right-hand side, through δ: the sums run "
                                      "over the OTHER items k ≠ i and the OTHER users w ≠ u (subtract the outer "
                                      "product of v_i, respectively u_u)."),
        Diagnostic(_user_side_only, "Your δ lets only the user's vector follow the change: the prediction "
                                    "u_uᵀv_i also moves through v_i. Its first-order change is v_iᵀΔu_u + "
                                    "u_uᵀΔv_i: both terms belong in the equation for δ."),
        Diagnostic(_sign_of_delta, "The sign in your equation for δ is flipped: the new residual is the new rating "
                                   "MINUS the new prediction, so δ = ε − (v_iᵀΔu_u + u_uᵀΔv_i), and δ is smaller "
                                   "than ε, not larger."),
        Diagnostic(_linearized_no_reg, "λI is missing: the ALS objective adds λ to both sums' diagonals (the paper "
                                       "has no λ; the lesson keeps it)."),
        Diagnostic(_swapped, "Your pair is the wrong way round: return the user's change Δu_u first, then the "
                             "item's Δv_i."),
    ],
)
def linearized_changes(U, V, user, item, epsilon, reg):
    r"""The first-order changes (Delta u_u, Delta v_i) when r_ui moves by ``epsilon`` and only u_u and v_i are
    re-fitted (FATREC 2017, Appendix A, eqs. (11)-(12) kept apart and linearized; fully observed ratings):

    .. math::
        (\sum_{k\ne i} v_k v_k^\top + \lambda I)\,\Delta u_u = \delta v_i, \quad
        (\sum_{w\ne u} u_w u_w^\top + \lambda I)\,\Delta v_i = \delta u_u, \quad
        \delta = \varepsilon - v_i^\top\Delta u_u - u_u^\top\Delta v_i ."""
    u_u, v_i, eye = U[user], V[item], reg * np.eye(U.shape[1])
    x = np.linalg.solve(V.T @ V - np.outer(v_i, v_i) + eye, v_i)     # Delta u_u per unit delta (other items only)
    y = np.linalg.solve(U.T @ U - np.outer(u_u, u_u) + eye, u_u)     # Delta v_i per unit delta (other users only)
    delta = epsilon / (1.0 + v_i @ x + u_u @ y)                      # delta = eps - (v_i^T Delta u + u_u^T Delta v)
    return delta * x, delta * y


# ============================================================================ check your understanding
register_question(
    name="q13_appendix_a_ratio", lesson=LESSON_13, kind="expression",
    prompt="Appendix A, fully observed ratings, the paper's equal scales for user and item vectors: one rating "
           "$r_{ui}$ changes by $\\varepsilon$. About how many times longer is $\\Delta u_u$ than $\\Delta v_i$? "
           "Answer in terms of the number of users $m$ and of items $n$.",
    answer="(m - 1) / (n - 1)", variables=("m", "n"),
    feedback={"(n - 1) / (m - 1)": "Upside down. $u_u$ is fitted to the $n$ ratings of its row, $v_i$ to the $m$ "
                                   "ratings of its column: the vector held by MORE data moves less. With many "
                                   "users, $v_i$ is the one that hardly moves.",
              "n / m": "Upside down (and without the $-1$): the item vector rests on $m$ ratings and moves less "
                       "when $m$ is large.",
              "m / n": "That is the rough version. The paper leaves out the changed entry's own term on both sides: "
                       "$(m-1)/(n-1)$.",
              "sqrt((m - 1) / (n - 1))": "That is what the same changes give in the BALANCED scale the ridge penalty "
                                         "picks ($U^\\top U = V^\\top V$, section 3). The question asks for the "
                                         "paper's equal scales."},
    default_feedback="Compare what each vector is fitted to: $u_u$ to the $n$ ratings of user $u$, $v_i$ to the $m$ "
                     "ratings of item $i$. The more data holds a vector, the less one changed rating moves it.",
    explanation="Linearize the user's and the item's stationarity conditions separately (Appendix A's (11) and "
                "(12), section 3): $(\\sum_{k\\ne i} v_k v_k^\\top)\\Delta u_u \\approx \\delta\\, v_i$ and "
                "$(\\sum_{w\\ne u} u_w u_w^\\top)\\Delta v_i \\approx \\delta\\, u_u$, with the same change "
                "$\\delta$ of the residual $r_{ui} - \\hat r_{ui}$. The sums are about $(n-1)\\sigma^2 I$ and "
                "$(m-1)\\sigma^2 I$, and $\\|u_u\\| \\approx \\|v_i\\|$ in equal scales: the ratio is about "
                "$(m-1)/(n-1)$, the number of the paper's eq. (18).",
)

register_question(
    name="q13_small_service", lesson=LESSON_13, kind="number",
    prompt="A service has $m = 50$ users and $n = 200$ movies, all ratings known. By Appendix A, "
           "$\\|\\Delta u_u\\| / \\|\\Delta v_i\\| \\approx$ ? (a number; arithmetic such as 3/7 is accepted). "
           "Would you trust $J$ to predict what retraining does there?",
    answer=49 / 199,
    feedback={199 / 49: "Upside down: $(m-1)/(n-1)$ with $m = 50$ USERS and $n = 200$ items.",
              0.25: "Close: that is $m/n$. Appendix A's ratio is $(m-1)/(n-1)$.",
              4.0: "Upside down, and without the $-1$: $(m-1)/(n-1)$ with $m = 50$ users, $n = 200$ items.",
              float(np.sqrt(49 / 199)): "That is the balanced-scale version, $\\sqrt{(m-1)/(n-1)}$; Appendix A's "
                                        "equal scales give $(m-1)/(n-1)$."},
    default_feedback="Use Appendix A's ratio $(m-1)/(n-1)$ with $m$ the number of users and $n$ the number of items.",
    explanation="$49/199 \\approx 0.25 < 1$: the changed item's vector moves about four times MORE than the user's. "
                "$V$ cannot be treated as fixed, Hypothesis 1 fails, and $J$ is a poor guide to retraining (the "
                "mirror shapes of section 3). With 50,000 users the ratio would be about 250 and $J$ safe, unless "
                "the user rated almost everything or the movie has almost no raters.",
)
