r"""Exercises of lesson 11_implicit_cg_and_ranking (registered on import).

Lesson 10 derived implicit ALS's user update u_u = (V^T C^u V + lambda I)^{-1} V^T C^u p_u and its
speed-up V^T C^u V = V^T V + V^T (C^u - I) V. Lesson 11 solves these k x k symmetric positive
definite systems by conjugate gradients, warm-started from the previous iteration (Takacs, Pilaszy
and Tikk, RecSys 2011), and evaluates top-10 lists on MovieLens 100K.

Exercises, in the order of the lesson: ``cg_iterates`` (conjugate gradients from a start x0, given
only z -> A z) and ``implicit_best_reg`` (a find-out on MovieLens 100K: the lambda of a grid with the
best validation nDCG@10 of ``mt.ImplicitALS`` for a given alpha). Then the lesson's
check-your-understanding questions.
"""

from __future__ import annotations

import functools

import numpy as np

from ..data import synthetic
from ..implicit import ImplicitALS
from ..metrics import evaluate_ranking
from .registry import Diagnostic, register, register_question

LESSON_11 = "11_implicit_cg_and_ranking"


# ============================================================================ cg_iterates
class _Product:
    """z -> A z for a fixed symmetric positive definite A (what CG is given instead of A)."""

    def __init__(self, A):
        self.A = A

    def __call__(self, z):
        return self.A @ z

    def __repr__(self):
        with np.printoptions(precision=3, suppress=True):
            return f"z -> A @ z with A =\n{self.A}"


def _user_system(rng, k, count, alpha, reg):
    """A k x k system of one user as in the lesson: (V^T C^u V + lambda I) x = V^T C^u p_u."""
    V = rng.normal(scale=0.5, size=(40, k))
    items = rng.choice(40, size=count, replace=False)
    c = 1.0 + alpha * rng.integers(1, 5, size=count)
    V_O = V[items]
    return V.T @ V + V_O.T @ ((c - 1)[:, None] * V_O) + reg * np.eye(k), V_O.T @ c


def _cg_cases(rng):
    cases = []
    # (k, |Omega_u|, alpha, lambda, start, steps): start "zero", "random" or "warm" (near the solution)
    for k, count, alpha, reg, start, steps in [(3, 6, 2.0, 0.5, "random", 2), (5, 12, 10.0, 1.0, "random", 3),
                                               (4, 8, 1.0, 0.3, "zero", 4), (8, 20, 5.0, 2.0, "warm", 3),
                                               (6, 3, 40.0, 1.0, "random", 1), (10, 30, 1.0, 1.0, "zero", 6)]:
        A, b = _user_system(rng, k, count, alpha, reg)
        x0 = {"zero": np.zeros(k), "random": rng.normal(size=k),
              "warm": np.linalg.solve(A, b) + 0.05 * rng.normal(size=k)}[start]
        cases.append((_Product(A), b, x0, steps))
    return cases


def _cg(apply_A, b, x0, steps, cold_residual=False, conjugate=True, beta_one=False, dd=False):
    x = x0.astype(float)
    r = b.copy() if cold_residual else b - apply_A(x)
    d = r.copy()
    iterates = [x.copy()]
    for _ in range(steps):
        Ad = apply_A(d)
        step = (r @ r) / (d @ d if dd else d @ Ad)
        x = x + step * d
        r_next = r - step * Ad
        beta = 1.0 if beta_one else (r_next @ r_next) / (r @ r)
        d = r_next + beta * d if conjugate else r_next
        r = r_next
        iterates.append(x.copy())
    return np.array(iterates)


def _cg_cold_residual(apply_A, b, x0, steps):
    return _cg(apply_A, b, x0, steps, cold_residual=True)


def _cg_steepest_descent(apply_A, b, x0, steps):
    return _cg(apply_A, b, x0, steps, conjugate=False)


def _cg_beta_one(apply_A, b, x0, steps):
    return _cg(apply_A, b, x0, steps, beta_one=True)


def _cg_step_without_A(apply_A, b, x0, steps):
    return _cg(apply_A, b, x0, steps, dd=True)


def _cg_without_start(apply_A, b, x0, steps):
    return _cg(apply_A, b, x0, steps)[1:]


def _cg_last_only(apply_A, b, x0, steps):
    return _cg(apply_A, b, x0, steps)[-1]


@register(
    lesson=LESSON_11,
    title="conjugate gradients on A x = b from a start x0, given only the product z -> A z; every iterate",
    cases=_cg_cases,
    hints=[
        "CG keeps three vectors: the current x, the residual r = b − A x (it starts from x0, so compute it "
        "with one call of apply_A) and a search direction d, which starts equal to r.",
        "Each step: one product A d. The step length along d is the one that minimizes the quadratic "
        "½ xᵀA x − bᵀx on that line: (rᵀr) / (dᵀ A d). Move x by it; the residual moves by the same step "
        "times A d, so no second product is needed.",
        "The next direction is the NEW residual plus β times the old direction, with β = (new rᵀr) / (old rᵀr): "
        "keep the old rᵀr until β is computed. That β makes the directions A-conjugate.",
        "Collect x0 and the x after each step; return them stacked as the rows of an array of shape "
        "(steps + 1, len(b)) (np.array of the list). Copy x when you store it if you update it in place.",
    ],
    diagnostics=[
        Diagnostic(_cg_cold_residual, "Your first residual is b, which is right only when x0 = 0. CG starts "
                                      "from the given x0: r0 = b − A x0 (one call of apply_A)."),
        Diagnostic(_cg_steepest_descent, "Your new direction is the new residual alone: that is steepest "
                                         "descent, which zigzags. CG adds β times the previous direction, "
                                         "β = (new rᵀr) / (old rᵀr)."),
        Diagnostic(_cg_beta_one, "Your β is 1: you divided the new rᵀr by itself, probably after overwriting "
                                 "the old residual (or its rᵀr). Keep the old rᵀr until β is computed."),
        Diagnostic(_cg_step_without_A, "Your step length is (rᵀr) / (dᵀd): the exact line search on the quadratic "
                                       "divides by dᵀ A d, the curvature along d."),
        Diagnostic(_cg_without_start, "Your array has one row too few: the first row is the start x0 itself, "
                                      "then one row per step (steps + 1 rows)."),
        Diagnostic(_cg_last_only, "You returned only the last x: return every iterate, x0 first, stacked as "
                                  "the rows of an array of shape (steps + 1, len(b))."),
    ],
)
def cg_iterates(apply_A, b, x0, steps):
    """``steps`` conjugate-gradient steps on A x = b (A symmetric positive definite, given only as
    z -> A z) from ``x0``; returns x0, x1, ..., x_steps as the rows of an array (Takacs et al. 2011)."""
    x = np.array(x0, dtype=float)
    r = b - apply_A(x)                                # residual of the start
    d = r.copy()                                      # first direction: steepest descent
    iterates = [x.copy()]
    for _ in range(steps):
        Ad = apply_A(d)                               # the only product with A in a step
        step = (r @ r) / (d @ Ad)                     # exact line search along d
        x = x + step * d
        r_next = r - step * Ad
        d = r_next + (r_next @ r_next) / (r @ r) * d  # next direction, A-conjugate to the previous ones
        r = r_next
        iterates.append(x.copy())
    return np.array(iterates)


# ============================================================================ implicit_best_reg (MovieLens)
GRID_RANK, GRID_ITERS = 24, 6   # mt.ImplicitALS(rank=24, n_iters=6, solver="cg", seed=0), as the lesson's grid


@functools.lru_cache(maxsize=1)
def _movielens_fit_valid():
    """The lesson's data: MovieLens 100K as implicit feedback (every rating an interaction), one
    interaction per user held out for the test (never used here), then one more for validation."""
    from ..data import load_movielens

    ml = load_movielens("100k")
    train, _test = ml.with_values(np.ones(len(ml))).split(how="leave_one_out", seed=0)
    return train.split(how="leave_one_out", seed=1)


@functools.lru_cache(maxsize=1)
def _synthetic_fit_valid():
    data, _, _ = synthetic(60, 80, 3, 0.15, seed=0)
    return data.with_values(np.ones(len(data))).split(how="leave_one_out", seed=0)


def _best_reg_cases(rng):
    small_fit, small_valid = _synthetic_fit_valid()
    fit, valid = _movielens_fit_valid()
    return [(small_fit, small_valid, 1.0, (0.3, 1.0, 3.0, 10.0, 30.0)),
            (fit, valid, 40.0, (10.0, 30.0, 100.0, 300.0))]


def _fingerprint(r):
    return (r.shape, len(r), hash(r.rows.tobytes()), hash(r.cols.tobytes()), hash(r.values.tobytes()))


_GRID_DATA: dict = {}


@functools.lru_cache(maxsize=16)
def _grid_metrics(train_key, valid_key, alpha, regs):
    train, valid = _GRID_DATA[train_key], _GRID_DATA[valid_key]
    frames = [evaluate_ranking(ImplicitALS(rank=GRID_RANK, reg=reg, alpha=alpha, n_iters=GRID_ITERS, solver="cg",
                                           seed=0).fit(train), train, valid, k=10) for reg in regs]
    return {name: np.array([f[name] for f in frames]) for name in ("recall@10", "ndcg@10")}


def _metrics_on_grid(train, valid, alpha, regs):
    """Validation recall@10 and nDCG@10 of every lambda; cached, the wrong answers below share it."""
    keys = []
    for r in (train, valid):
        key = _fingerprint(r)
        _GRID_DATA.setdefault(key, r)
        keys.append(key)
    return _grid_metrics(keys[0], keys[1], float(alpha), tuple(float(x) for x in regs))


def _lowest_ndcg(train, valid, alpha, regs):
    return regs[int(np.argmin(_metrics_on_grid(train, valid, alpha, regs)["ndcg@10"]))]


def _best_index(train, valid, alpha, regs):
    return int(np.argmax(_metrics_on_grid(train, valid, alpha, regs)["ndcg@10"]))


def _best_ndcg_not_reg(train, valid, alpha, regs):
    return float(np.max(_metrics_on_grid(train, valid, alpha, regs)["ndcg@10"]))


def _default_alpha(train, valid, alpha, regs):
    return regs[int(np.argmax(_metrics_on_grid(train, valid, 40.0, regs)["ndcg@10"]))]


@register(
    lesson=LESSON_11,
    title="find out on MovieLens 100K: for a given α, the λ of a grid with the best validation nDCG@10",
    cases=_best_reg_cases,
    hints=[
        "One model per λ of the grid: mt.ImplicitALS with rank=24, that λ as reg, the given alpha, n_iters=6, "
        "solver='cg' and seed=0, fitted on train only.",
        "Score each model with mt.metrics.evaluate_ranking on train and valid with k=10: it ranks the movies "
        "each user has not seen in train and returns precision@10, recall@10 and ndcg@10. Keep the ndcg@10 "
        "values in a list, one per λ.",
        "np.argmax gives the POSITION of the largest nDCG@10 (the first one if several tie); the answer is the "
        "λ at that position of regs, not the position and not the nDCG itself.",
    ],
    diagnostics=[
        Diagnostic(_lowest_ndcg, "You picked the λ with the LOWEST validation nDCG@10: higher is better for a "
                                 "ranking metric (np.argmax, not np.argmin)."),
        Diagnostic(_best_index, "You returned the position of the best λ in regs: return the λ itself, regs at "
                                "that position."),
        Diagnostic(_best_ndcg_not_reg, "You returned the best nDCG@10 itself: return the λ that reaches it."),
        Diagnostic(_default_alpha, "Your models ignored the alpha argument: mt.ImplicitALS's default is α = 40. "
                                   "Pass alpha=alpha."),
    ],
    time_limit=20.0,
)
def implicit_best_reg(train, valid, alpha, regs):
    """The lambda of ``regs`` whose mt.ImplicitALS(rank=24, reg=lambda, alpha=alpha, n_iters=6, solver="cg",
    seed=0), fitted on ``train``, has the highest nDCG@10 on ``valid`` (chosen on validation, never on test)."""
    ndcg = [evaluate_ranking(ImplicitALS(rank=24, reg=reg, alpha=alpha, n_iters=6, solver="cg", seed=0).fit(train),
                             train, valid, k=10)["ndcg@10"] for reg in regs]
    return regs[int(np.argmax(ndcg))]                  # the lambda at the position of the best validation nDCG



# ============================================================================ questions
register_question(
    name="q11_cg_warm_start", lesson=LESSON_11, kind="choice",
    prompt="`mt.ImplicitALS(solver='cg')` takes only 3 CG steps per user and iteration, although CG may need up "
           "to $k$ steps to solve a $k\\times k$ system. Why is that enough?",
    choices=["CG always solves a $k\\times k$ system in 3 steps",
             "Each solve starts from the user's vector of the previous iteration, already close; and an exact "
             "solve would be wasted, since the next half-step changes $V$ and with it the system",
             "$V^\\top C^u V + \\lambda I$ has rank 3",
             "Because CG never forms the matrix, each step is exact"],
    answer=1,
    feedback={0: "Section 1 shows it: from $x = 0$, three steps leave more than 10% error; in exact arithmetic CG "
                 "needs up to $k$ steps.",
              2: "The matrix is positive definite, so it has full rank $k$; $\\lambda I$ alone guarantees that.",
              3: "Computing $A z$ from products gives the same numbers as with the formed matrix; it saves time "
                 "per step, not steps."},
    explanation="The warm start from last iteration's $u_u$ begins within a few percent of the new solution, "
                "and three steps shrink that to about 1%. Solving more precisely would be wasted: the next "
                "half-step moves the target. The loss and the ranking quality match the exact solver's.")

register_question(
    name="q11_play_counts", lesson=LESSON_11, kind="choice",
    prompt="You switch from 'watched' ($r_{ui} = 1$) to play counts, $r_{ui}$ from 1 to 500, and keep "
           "$\\alpha = 1$. What happens, and what helps?",
    choices=["Nothing changes: $\\alpha$ was tuned on validation data already",
             "Heavy items get weights up to 501, the zeros fade and we drift towards the explicit loss; retune "
             "$\\alpha$ (smaller) on validation data, or use $c = 1 + \\alpha\\log(1 + r/\\varepsilon)$",
             "Use the play count as the preference $p_{ui}$ instead of 0/1"],
    answer=1,
    feedback={0: "$\\alpha$ has units of $1/r$: it was tuned for $r = 1$. With counts up to 500, $c = 1 + r$ "
                 "changes the balance between interactions and zeros completely.",
              2: "In this model the preference stays 0/1; the strength of the signal goes into the confidence. "
                 "Fitting $u_u^\\top v_i$ to counts would be a regression on play counts, dominated by the "
                 "heaviest users and items."},
    explanation="With $c = 1 + \\alpha r$ a few heavily played items dominate the loss and the zeros matter "
                "less and less: the drift to the explicit loss of lesson 10, section 2. Scale $\\alpha$ down and tune it "
                "again, or use the log confidence, which grows slowly: 500 plays then count only a few times "
                "more than 5.")
