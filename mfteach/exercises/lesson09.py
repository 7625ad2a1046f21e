"""Exercises and questions of lesson 09_comparison_and_embeddings (registered on import).

* ``best_item_reg``: a find-out on MovieLens, the item-bias penalty lambda_i chosen on validation;
* ``similar_items``: the nearest neighbours of an item by the cosine of the item vectors (book
  Example 9.2.4), among the allowed items, leaving out the query and the zero vectors;
* questions ``q09_test_protocol``, ``q09_scaled_vector`` and ``q09_cold_start`` (names kept from
  the lesson this one was split from, so that learners' progress records stay valid).
"""

from __future__ import annotations

import numpy as np

import mfteach as mt

from ..data import load_movielens
from ..ratings import Ratings
from .registry import Diagnostic, register, register_question

LESSON_09 = "09_comparison_and_embeddings"


# ============================================================================ best_item_reg (a find-out)
ITEM_REGS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


def _biases_world(rng, m: int, n: int, density: float, sd_user: float, sd_item: float, noise: float):
    """(train, valid) of synthetic ratings mu + b_u + c_i + noise: how large lambda_i should be
    depends on how large the item biases are against the noise."""
    known = rng.random((m, n)) < density
    known[np.arange(m), rng.integers(0, n, m)] = True
    rows, cols = np.nonzero(known)
    values = 3.5 + rng.normal(0, sd_user, m)[rows] + rng.normal(0, sd_item, n)[cols] + rng.normal(0, noise, len(rows))
    train, valid = Ratings(rows, cols, values, (m, n)).split(0.25, seed=int(rng.integers(1000)))
    return train, valid


def _best_item_reg_cases(rng):
    cases = [(*_biases_world(rng, 30, 20, 0.4, 0.3, 0.1, 1.0), ITEM_REGS)]        # small shown case
    fit, val = load_movielens("100k").split(0.2, seed=0)[0].split(0.1, seed=1)    # the lesson's split
    cases.append((fit, val, ITEM_REGS))
    for world in [(40, 30, 0.3, 0.3, 0.8, 0.3), (60, 50, 0.2, 0.5, 0.3, 0.8), (80, 60, 0.15, 0.4, 0.6, 0.5)]:
        cases.append((*_biases_world(rng, *world), ITEM_REGS))
    cases.append((*_biases_world(rng, 50, 40, 0.5, 0.2, 0.05, 1.2), (20.0, 5.0, 2.0, 0.0)))   # unsorted grid
    return cases


_SCORES_MEMO: dict = {}


def _scores(train, valid, regs, on_train: bool = False, vary: str = "item"):
    """Validation (or training) RMSE of mt.Baseline over the grid, varying the item penalty (the
    task), the user penalty or both; remembered, since several diagnostics need the same scores."""
    key = (id(train), id(valid), tuple(regs), on_train, vary)
    hit = _SCORES_MEMO.get(key)
    if hit is not None and hit[0] is train and hit[1] is valid:
        return hit[2]
    out = []
    for reg in regs:
        reg_user = reg if vary in ("user", "both") else 15.0
        reg_item = reg if vary in ("item", "both") else 15.0      # "user": the two keywords swapped
        out.append(mt.Baseline(reg_user=reg_user, reg_item=reg_item).fit(train).rmse(train if on_train else valid))
    if len(_SCORES_MEMO) > 64:
        _SCORES_MEMO.clear()
    _SCORES_MEMO[key] = (train, valid, np.array(out))
    return _SCORES_MEMO[key][2]


@register(
    lesson=LESSON_09,
    title="find out on MovieLens: the item-bias penalty λ_i of a grid with the lowest validation RMSE",
    cases=_best_item_reg_cases,
    hints=[
        "One model per value of the grid: the package's biases-only model, mt.Baseline, with "
        "reg_user=15 and reg_item set to the grid's value. Fit it on train only.",
        "Score each fitted model on the validation ratings (a fitted model has a method that returns "
        "its RMSE on a Ratings); collect the scores in the order of regs.",
        "The answer is a value of regs, not a position in it and not an RMSE: find the position of "
        "the smallest score (np.argmin gives the first one on a tie) and look it up in regs.",
    ],
    diagnostics=[
        Diagnostic(lambda train, valid, regs: regs[int(np.argmin(_scores(train, valid, regs, on_train=True)))],
                   "You scored the models on the TRAINING ratings: a penalty can only make the fit to the "
                   "training data worse, so the smallest λ_i always wins there. Choose on valid."),
        Diagnostic(lambda train, valid, regs: float(np.min(_scores(train, valid, regs))),
                   "You returned the lowest validation RMSE; the question is WHICH λ_i gives it: return "
                   "that value of regs."),
        Diagnostic(lambda train, valid, regs: int(np.argmin(_scores(train, valid, regs))),
                   "You returned the position of the best λ_i in regs; return the value regs[position]."),
        Diagnostic(lambda train, valid, regs: regs[int(np.argmax(_scores(train, valid, regs)))],
                   "You picked the largest RMSE: the best model has the LOWEST validation error."),
        Diagnostic(lambda train, valid, regs: regs[int(np.argmin(_scores(train, valid, regs, vary="user")))],
                   "You varied the USER penalty reg_user. The grid is for the item penalty: reg_item=λ_i, "
                   "with reg_user fixed at 15."),
        Diagnostic(lambda train, valid, regs: regs[int(np.argmin(_scores(train, valid, regs, vary="both")))],
                   "You set both penalties to λ_i. Only the item penalty varies: reg_item=λ_i, reg_user=15."),
    ],
    time_limit=10.0,
)
def best_item_reg(train, valid, regs):
    r"""The lambda_i of ``regs`` whose biases-only model mu + b_u + c_i (mt.Baseline, lambda_u = 15),
    fitted on ``train``, has the lowest RMSE on ``valid`` (the first one on a tie)."""
    scores = [mt.Baseline(reg_user=15.0, reg_item=reg).fit(train).rmse(valid) for reg in regs]
    return regs[int(np.argmin(scores))]                 # a value of the grid, chosen on validation


# ============================================================================ similar_items
def _embedding_case(rng, n_items: int, k: int, n: int, n_zero: int, share_allowed: float):
    """Item vectors of very different lengths (as a ridge penalty makes them: short for rarely rated
    items), a few zero vectors (items without ratings), and a query item 0 with a clear cluster of
    neighbours in its direction, so that a cosine, an inner product and a distance rank differently."""
    direction = rng.normal(size=k)
    direction /= np.linalg.norm(direction)
    V = rng.normal(size=(n_items, k)) * np.exp(rng.normal(0.0, 0.6, (n_items, 1)))      # lengths vary
    close = rng.choice(np.arange(1, n_items), size=max(n + 2, n_items // 4), replace=False)
    V[close] = (direction + rng.normal(0.0, 0.35, (len(close), k))) * rng.uniform(0.4, 1.6, (len(close), 1))
    V[0] = 1.5 * direction                                             # the query: a long, clear vector
    zero = rng.choice(np.setdiff1d(np.arange(1, n_items), close), size=n_zero, replace=False)
    V[zero] = 0.0                                                      # no ratings, no direction
    allowed = rng.random(n_items) < share_allowed
    allowed[0] = True                                                  # the query itself is "allowed" too
    allowed[zero] = True                                               # ... and so are the zero vectors
    order = rng.permutation(n_items)                                   # the query need not be item 0
    V, allowed = V[order], allowed[order]
    return V, int(np.flatnonzero(order == 0)[0]), int(n), allowed


def _similar_items_cases(rng):
    small = (np.array([[2.0, 0.0], [1.0, 0.2], [4.0, 3.0], [0.0, 0.0], [1.5, 1.2], [-1.0, 0.5]]),
             0, 2, np.ones(6, dtype=bool))
    cases = [small]
    for n_items, k, n, n_zero, share in [(12, 3, 3, 2, 0.8), (40, 5, 5, 4, 0.7), (25, 2, 4, 3, 0.9),
                                         (120, 10, 8, 10, 0.6), (60, 4, 6, 5, 0.5)]:
        cases.append(_embedding_case(rng, n_items, k, n, n_zero, share))
    return cases


# Wrong answers the checker recognises (each is one typical slip).
def _cosines(V, item):
    norms = np.linalg.norm(V, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return V @ V[item] / (norms * norms[item])


def _others(V, item, allowed):
    """Indices of the allowed items other than the query (zero vectors included)."""
    return np.flatnonzero(np.asarray(allowed) & (np.arange(len(V)) != item))


def _top_by(score, candidates, n):
    return candidates[np.argsort(-score[candidates], kind="stable")[:n]]


def _by_inner_product(V, item, n, allowed):
    return _top_by(V @ V[item], _others(V, item, allowed), n)


def _by_distance(V, item, n, allowed):
    return _top_by(-np.linalg.norm(V - V[item], axis=1), _others(V, item, allowed), n)


def _with_itself(V, item, n, allowed):
    cos = _cosines(V, item)
    return _top_by(cos, np.flatnonzero(np.asarray(allowed) & ~np.isnan(cos)), n)


def _ignoring_allowed(V, item, n, allowed):
    cos = _cosines(V, item)
    return _top_by(cos, np.flatnonzero(~np.isnan(cos) & (np.arange(len(V)) != item)), n)


def _least_similar(V, item, n, allowed):
    cos = _cosines(V, item)
    candidates = np.flatnonzero(np.asarray(allowed) & ~np.isnan(cos) & (np.arange(len(V)) != item))
    return candidates[np.argsort(cos[candidates], kind="stable")[:n]]


def _reversed_argsort(V, item, n, allowed):
    order = np.argsort(_cosines(V, item))[::-1]                       # NaN sorts last, so it comes first here
    return order[np.asarray(allowed)[order] & (order != item)][:n]


def _positions(V, item, n, allowed):
    cos = _cosines(V, item)
    candidates = np.flatnonzero(np.asarray(allowed) & ~np.isnan(cos) & (np.arange(len(V)) != item))
    return np.argsort(-cos[candidates], kind="stable")[:n]


def _the_cosines(V, item, n, allowed):
    cos = _cosines(V, item)
    candidates = np.flatnonzero(np.asarray(allowed) & ~np.isnan(cos) & (np.arange(len(V)) != item))
    return np.sort(cos[candidates])[::-1][:n]


@register(
    lesson=LESSON_09,
    title="the n items whose vectors point most nearly the way v_item does, among the allowed items",
    cases=_similar_items_cases,
    hints=[
        "Similar means pointing the same way: compare directions, not lengths. For every item j you "
        "need the cosine between v_item and v_j, an inner product divided by the two lengths.",
        "All cosines at once: np.linalg.norm with an axis gives the length of every row, and one "
        "matrix-vector product gives every inner product with v_item. A zero row gives 0 / 0 = NaN "
        "(np.errstate silences the warning).",
        "Before sorting, decide who may be a neighbour: the allowed items, minus the query itself, "
        "minus the zero vectors. One boolean mask of length n_items, combined with &, and "
        "np.flatnonzero turns it into the candidates' item indices.",
        "Sort the candidates by DEcreasing cosine (np.argsort sorts upwards: negate the cosines, since "
        "reversing an upward order would put NaN first) and keep the first n. argsort gives positions "
        "in the candidate list: map them back to item indices.",
    ],
    diagnostics=[
        Diagnostic(_by_inner_product,
                   "You ranked by the inner product v_item · v_j (or divided by the query's length only, "
                   "which changes no order): long vectors win whatever their direction. Divide each inner "
                   "product by BOTH lengths: the cosine compares directions."),
        Diagnostic(_by_distance,
                   "You ranked by Euclidean distance: the short vectors of rarely rated items sit close to "
                   "the origin, and so close to everything. Rank by the cosine, which ignores the lengths."),
        Diagnostic(_with_itself,
                   "The query item is in your list (its cosine with itself is 1, so it comes first): an "
                   "item is never its own neighbour, even when `allowed` is True for it."),
        Diagnostic(_ignoring_allowed,
                   "Your list includes items that `allowed` rules out (in the lesson: movies with fewer "
                   "than 20 ratings). Choose among the allowed items only."),
        Diagnostic(_least_similar,
                   "You returned the LEAST similar items: the most similar has the largest cosine, so "
                   "sort by decreasing cosine."),
        Diagnostic(_reversed_argsort,
                   "Items with the zero vector came first: their cosine is 0 / 0 = NaN, np.argsort puts "
                   "NaN at the end, and reversing that order puts it first. Leave the zero vectors out "
                   "(they have no direction), or sort the negated cosines."),
        Diagnostic(_positions,
                   "You returned positions in your list of candidates, not item indices: map the "
                   "positions back through the candidates' indices."),
        Diagnostic(_the_cosines,
                   "You returned the cosines of the neighbours; return WHICH items they are (their "
                   "indices, most similar first)."),
    ],
)
def similar_items(V, item, n, allowed):
    r"""The n items whose vectors have the largest cosine with v_item (book Example 9.2.4).

    V : (n_items, k) item factors; item : the query (v_item is not zero); n : how many neighbours
    (at most the number of candidates); allowed : boolean mask of length n_items, the items that
    may be returned. The query itself and items with the zero vector are never returned.

    .. math:: \cos(v_i, v_j) = \frac{v_i^\top v_j}{\|v_i\|\,\|v_j\|}
    """
    norms = np.linalg.norm(V, axis=1)                         # ||v_j|| for every item j
    with np.errstate(invalid="ignore", divide="ignore"):      # 0 / 0 = NaN for a zero vector
        cos = V @ V[item] / (norms * norms[item])             # cos(v_item, v_j) for every j
    candidates = np.flatnonzero(allowed & (norms > 0) & (np.arange(len(V)) != item))
    order = np.argsort(-cos[candidates], kind="stable")       # positions, most similar first
    return candidates[order[:n]]                              # item indices


# ============================================================================ questions
register_question(
    name="q09_test_protocol", lesson=LESSON_09, kind="choice",
    prompt="A colleague fits each model with several values of $\\lambda$, keeps the value with the "
           "lowest TEST RMSE and reports that test RMSE. What is wrong with the reported numbers?",
    choices=[
        "Nothing, as long as every model gets the same grid of λ.",
        "They are optimistic: the test set was used to choose, so it no longer measures prediction "
        "of unseen ratings. Choose on a validation split of the training data, refit, test once.",
        "They are pessimistic: the models were fitted without the test ratings and would be better with them.",
        "Only the training RMSE can be trusted, so that is what should be reported.",
    ],
    answer=1,
    feedback={
        0: "A common grid treats the models alike, but every one of them was tuned on the data that scores it; "
           "with enough choices, a model looks good on a test set by luck. The test set must play no part in any choice.",
        2: "Leaving the test ratings out of the fit is exactly right; the problem is that they were used to choose λ.",
        3: "The training RMSE rewards memorising: it keeps falling as λ goes to 0 while the error on new "
           "ratings rises (lesson 08's refinement curves).",
    },
    explanation="Choosing on the test set turns it into training data for the hyperparameters: the "
                "minimum over a grid of noisy test scores is biased downwards. The lesson's protocol: "
                "choose on a validation split carved from the training data (or by cross-validation on "
                "it), refit on the whole training set, and evaluate on the test set once.",
)

register_question(
    name="q09_scaled_vector", lesson=LESSON_09, kind="choice",
    prompt="Two movies have the item vectors $v_j = 3\\,v_i$. For a user with $u_u^\\top v_i = 0.4$, "
           "which statement is right?",
    choices=[
        "cos(v_i, v_j) = 1/3 and the two movies get the same predicted rating.",
        "cos(v_i, v_j) = 1 (Example 9.2.4: the same appeal to every user), and u_u · v_j = 1.2: "
        "the same taste, three times stronger.",
        "cos(v_i, v_j) = 1, so the two movies get the same predicted rating for every user.",
        "cos(v_i, v_j) = 3, the ratio of the lengths.",
    ],
    answer=1,
    feedback={
        0: "A cosine divides by both lengths: 3 v_i·v_i / (|v_i| · 3|v_i|) = 1. And the dot product does "
           "scale with the length: 3 × 0.4.",
        2: "The cosine ignores the lengths, the prediction does not: u_u · v_j = 3 × 0.4 = 1.2 (plus the biases).",
        3: "A cosine is at most 1: it divides out the lengths.",
    },
    explanation="The cosine divides by both lengths, so parallel vectors have cosine 1: the two movies "
                "appeal to the same users (book Example 9.2.4) and are recommended together. The dot "
                "product keeps the length: $u_u^\\top v_j = 3\\cdot0.4 = 1.2$, so the longer vector's "
                "predictions deviate three times as much from the biases. With a ridge penalty, a long "
                "vector usually means much evidence (many ratings).",
)

register_question(
    name="q09_cold_start", lesson=LESSON_09, kind="choice",
    prompt="A new movie arrives with genres Comedy and Romance and no rating yet. What does a "
           "biased ALS model trained without it predict for user $u$?",
    choices=[
        "μ + b_u: its v_i and c_i stay 0, so every user gets their own average, the same for every new movie.",
        "The mean rating of comedies and romances: the model knows the genres.",
        "Nothing: the prediction raises an error because the movie has no vector.",
        "μ: without ratings the user's bias does not apply either.",
    ],
    answer=0,
    feedback={
        1: "Basic MF never sees the genres: its only input is who rated what. Section 3.5's genre mapping "
           "(the LightFM idea) is what brings the genres in.",
        2: "The movie has a column in R, so it has a vector: the ridge solution of an empty regression, 0.",
        3: "The user is known: b_u was learned from their other ratings and still applies. Only the movie's "
           "part is missing.",
    },
    explanation="With no rating, the ridge problems for $v_i$ and $c_i$ have no data term, so their "
                "minimisers are 0 and $\\hat r_{ui} = \\mu + b_u$: no personalisation, no neighbours, "
                "no place on the map. Attributes can fill the gap: $v_i = W^\\top g_i$ from the genres "
                "(section 3.5); better still, the first few ratings, text, cast or images.",
)
