"""Exercises and questions of lesson 00_recommenders_as_matrices (registered on import).

In the lesson's order: ``to_implicit`` (the slides' rule that turns star ratings into 0/1 and
keeps the unknown entries unknown) and ``density`` (the fraction of known entries); then three
check-your-understanding questions (implicit feedback, the attribute regression, cold start).
Lesson 01_factorization_and_movielens continues with R_hat = U V^T (module ``lesson01``).
"""

from __future__ import annotations

import numpy as np

from ..data import load_movielens, toy
from ..data import synthetic as make_synthetic
from .registry import Diagnostic, register, register_question

# ============================================================================ lesson 00
# The exercises of 00_recommenders_as_matrices. The lecture slides ("Recommender Systems 1")
# write the rating matrix R (m x n, "?" for unknown); mfteach stores "?" as NaN.
LESSON_00 = "00_recommenders_as_matrices"


def _random_ratings(rng, m: int, n: int, known: float) -> np.ndarray:
    """Integer stars 1..5 with each entry known with probability ``known`` (NaN otherwise)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) >= known] = np.nan
    return R


def _count_known(R):
    """|Omega|."""
    return np.count_nonzero(~np.isnan(R))


# ---------------------------------------------------------------------------- to_implicit
def _to_implicit_cases(rng):
    cases = [(toy("lecture_R"), 4)]                            # the slides' example
    for (m, n), known, threshold in [((5, 6), 0.6, 4), ((8, 5), 0.5, 3), ((6, 9), 0.4, 5), ((4, 4), 1.0, 2)]:
        cases.append((_random_ratings(rng, m, n, known), threshold))
    half_stars = rng.integers(1, 11, size=(7, 8)) / 2.0       # 0.5 .. 5 stars in half steps
    half_stars[rng.random((7, 8)) >= 0.5] = np.nan
    half_stars[2, :] = np.nan                                 # a user without any rating
    cases.append((half_stars, 3.5))
    synthetic, _, _ = make_synthetic(12, 15, 2, 0.4, seed=int(rng.integers(1000)))
    cases.append((synthetic.to_dense(), 0.0))                 # real-valued scores around 0
    cases.append((load_movielens("100k").top(40, 30).to_dense(), 4))
    return cases


def _keep_stars(R, threshold):
    """The low ratings set to 0 in place, the liked ones left as they were."""
    R = R.copy()
    R[R < threshold] = 0.0
    return R


@register(
    lesson=LESSON_00,
    title="turn star ratings into 0/1 (liked or not) and keep the unknown entries unknown",
    cases=_to_implicit_cases,
    hints=[
        "Two things to produce: a 1 or a 0 for every KNOWN rating, and a '?' (NaN) for every unknown one. "
        "Do them one after the other.",
        "Comparing an array with a number gives a boolean array, and .astype(float) turns True/False into "
        "1.0/0.0. Now look at what a comparison does with NaN: np.nan >= 4 is False.",
        "So the comparison alone turns every unknown rating into a 0, 'not liked'. Afterwards, write NaN "
        "back into the result wherever the rating was unknown (np.isnan(R) is a boolean mask of those entries).",
    ],
    diagnostics=[
        Diagnostic(lambda R, threshold: (R >= threshold).astype(float),
                   "The unknown entries came out as 0: NaN >= threshold is False, so every '?' became 'not "
                   "liked'. An unrated pair is unknown, not a dislike: put NaN back where np.isnan(R)."),
        Diagnostic(lambda R, threshold: np.where(np.isnan(R), np.nan, (R > threshold).astype(float)),
                   "A rating equal to the threshold counts as liked (the slides turn 4 and 5 into 1 with "
                   "threshold 4): compare with >=, not >."),
        Diagnostic(lambda R, threshold: np.where(np.isnan(R), np.nan, (R >= 4).astype(float)),
                   "You used 4 instead of the `threshold` argument: the checker also tries other thresholds "
                   "(3 stars, 3.5 for half stars, 0 for scores around 0)."),
        Diagnostic(lambda R, threshold: np.where(np.isnan(R), np.nan, (R < threshold).astype(float)),
                   "Upside down: 1 marks the ratings AT OR ABOVE the threshold (liked), 0 the lower ones."),
        Diagnostic(_keep_stars,
                   "You set the low ratings to 0 but kept the stars of the liked ones: the implicit matrix "
                   "holds only 1 (liked) and 0 (not liked), not how many stars."),
    ],
)
def to_implicit(R, threshold=4):
    """The slides' explicit-to-implicit rule: 1 where r_ui >= threshold, 0 below, NaN ("?") where unknown.

    Parameters
    ----------
    R : ndarray, shape (m, n)
        Ratings, NaN where unknown.
    threshold : float
        The lowest rating that counts as "liked" (the slides: 4 of 5 stars).

    Returns
    -------
    ndarray, shape (m, n)
        1.0 for a known rating >= threshold, 0.0 for a lower known rating, NaN where R is NaN.
    """
    liked = (R >= threshold).astype(float)     # 1 where r_ui >= threshold (NaN >= t is False: 0)
    liked[np.isnan(R)] = np.nan                # "?" stays "?"
    return liked


# ---------------------------------------------------------------------------- density
def _density_cases(rng):
    cases = [(toy("lecture_R"),)]
    for (m, n), known in [((5, 4), 0.5), ((10, 20), 0.1), ((7, 3), 0.9), ((4, 4), 1.0), ((3, 5), 0.0)]:
        cases.append((_random_ratings(rng, m, n, known),))
    return cases


@register(
    lesson=LESSON_00,
    title="the density of a rating matrix: the fraction of its entries that are known",
    cases=_density_cases,
    hints=[
        "Density = known entries / all entries = |Ω| / (m·n).",
        "np.isnan(R) is True where a rating is unknown; `~` turns that into True where it is known.",
        "np.count_nonzero counts the True entries of a mask, and R.size is m·n. Return a float.",
    ],
    diagnostics=[
        Diagnostic(lambda R: 1 - _count_known(R) / R.size,
                   "That is the fraction of UNKNOWN entries (1 − density): "
                   "count the known ones, ~np.isnan(R)."),
        Diagnostic(lambda R: np.count_nonzero(R) / R.size,
                   "np.count_nonzero(R) counts NaN as non-zero (NaN ≠ 0), so unknown entries were "
                   "counted as known: count ~np.isnan(R) instead."),
        Diagnostic(lambda R: _count_known(R),
                   "You returned |Ω|, the number of known entries; the density divides it by m·n."),
        Diagnostic(lambda R: _count_known(R) / (R.size - 1),
                   "Off by one: divide by m·n = R.size, not m·n − 1."),
        Diagnostic(lambda R: _count_known(R) / (R.size + 1),
                   "Off by one: divide by m·n = R.size, not m·n + 1."),
        Diagnostic(lambda R: _count_known(R) / R.shape[0],
                   "You divided by the number of users m; the matrix has m·n entries (R.size)."),
        Diagnostic(lambda R: _count_known(R) / R.shape[1],
                   "You divided by the number of items n; the matrix has m·n entries (R.size)."),
    ],
)
def density(R):
    """The fraction of known entries, |Omega| / (m n) (MovieLens 100K has about 6%).

    Parameters
    ----------
    R : ndarray, shape (m, n)
        Ratings, NaN where unknown.

    Returns
    -------
    float
        Between 0 (nothing known) and 1 (every user rated every item).
    """
    known = ~np.isnan(R)                # True on Omega
    return np.count_nonzero(known) / R.size


# ============================================================================ questions
register_question(
    name="q00_skips_feedback", lesson=LESSON_00, kind="choice",
    prompt="A music service logs which songs each user skipped within 10 seconds and which they played "
           "to the end. No one gives stars. What kind of feedback is this, and what is a 0 in its "
           "user × song matrix?",
    choices=[
        "Explicit feedback; a 0 means the user dislikes the song.",
        "Implicit feedback; a 0 means 'no signal': the user never played the song, or we cannot tell.",
        "Implicit feedback; a 0 means the user dislikes the song.",
        "Explicit feedback; a 0 is an unknown entry '?'.",
    ],
    answer=1,
    feedback={
        0: "Nobody stated an opinion here: plays and skips are observed behaviour, which is implicit "
           "feedback (slides, 'Feedback').",
        2: "Implicit, yes, but a 0 only says that no interaction was observed: the user may never have "
           "come across the song. Absence of a play is not a dislike.",
        3: "It is not explicit (no one gave a rating). And in implicit data a missing pair is a 0, 'no "
           "signal', not a '?': only explicit ratings leave unknown entries as '?'.",
    },
    explanation="Skips and plays are behaviour we observe, so this is implicit feedback. A natural '1' is "
                "'played to the end' (or 'played again'); a quick skip is at best a weak negative signal; a "
                "pair without any event is 0, meaning 'no signal', which is not the same as 'dislike'.",
)

register_question(
    name="q00_attribute_regression", lesson=LESSON_00, kind="choice",
    prompt="A colleague fits $\\hat r_{ui} = w^\\top [a_u; a_i] + c$ on the users' age and the movies' "
           "genres and reports a lower RMSE than predicting the mean rating. Can this model give two "
           "users different rankings of the movies?",
    choices=[
        "Yes: users with different ages get different scores, so their rankings differ.",
        "Yes, as soon as its RMSE is lower than that of the mean rating.",
        "No: the user's part $w_U^\\top a_u$ adds the same constant to every movie, so every user gets "
        "the ranking by $w_I^\\top a_i$. It needs a user–item interaction term such as $a_u^\\top W a_i$.",
        "No, because the attributes are not learned; learning $a_u$ and $a_i$ by gradient descent would fix it.",
    ],
    answer=2,
    feedback={
        0: "Their scores differ, but only by a constant per user: adding the same number to every movie "
           "does not change the order. Try it in the lesson's cell with two users.",
        1: "A lower RMSE only says the model predicts each user's level better; the ranking within a user "
           "is still the one by $w_I^\\top a_i$ for everybody.",
        3: "The problem is the form of the score, not how the vectors are obtained: any score that is a "
           "user term plus an item term ranks the items the same for everyone. The user and item must "
           "interact (a product such as $u_u^\\top v_i$).",
    },
    explanation="The score splits into $w_U^\\top a_u + w_I^\\top a_i + c$ (slides, 'Personalized Machine "
                "Learning'). For a fixed user the first term is a constant shift, so every user ranks the "
                "movies by $w_I^\\top a_i$. Personalization needs a term where user and item interact: "
                "$a_u^\\top W a_i$, or the learned $u_u^\\top v_i$ of matrix factorization.",
)

register_question(
    name="q00_cold_start", lesson=LESSON_00, kind="choice",
    prompt="A movie was added to the catalogue yesterday and nobody has rated it yet. Which statement is right?",
    choices=[
        "Collaborative filtering (matrix factorization) can predict its ratings from the other movies' ratings.",
        "Content-based filtering can score it from its attributes (genres, ...); collaborative filtering "
        "has nothing to learn its vector $v_i$ from.",
        "Neither can: every recommender needs at least one rating of a movie.",
    ],
    answer=1,
    feedback={
        0: "Its column of $R$ is empty: there is no interaction to learn its vector $v_i$ from, so nothing "
           "determines it (the cold-start problem). The other movies' ratings say nothing about this one.",
        2: "Content-based filtering needs only the item's attributes and the user's taste for them; it copes "
           "with a new movie. Lessons 08–09 (SVD, biases, embeddings) build item factors from attributes "
           "for exactly this case.",
    },
    explanation="Collaborative filtering learns from interactions only, so a movie without any (a column "
                "of $R$ with no known entry) gets no information (cold start). Content-based filtering "
                "uses attributes, which a new movie has. Tail movies with a handful of ratings are the "
                "milder version of the same problem.",
)
