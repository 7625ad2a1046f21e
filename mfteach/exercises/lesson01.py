"""Exercises of lesson 01_rank1_completion (registered on import).

Book section 9.2.4, Example 9.2.5: a rank-1 matrix is a b^T (U = a, V = b, k = 1), so every
known entry M_ij = a_i b_j passes a ratio between row i and column j. ``propagate_rank1``
propagates those ratios through a CONNECTED pattern of nonzero known entries, with the one free
scale fixed by a[0] = 1 so that the answer is unique.
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

LESSON_01 = "01_rank1_completion"


# ---------------------------------------------------------------------------- test cases
def _connected_rank1(rng, m: int, n: int, extra: float) -> np.ndarray:
    """A random rank-1 matrix (integer factors 1..5, so no zeros) known on a random connected
    pattern: a random spanning tree of the bipartite row/column graph plus each other entry
    with probability ``extra``; NaN elsewhere."""
    a, b = rng.integers(1, 6, size=m).astype(float), rng.integers(1, 6, size=n).astype(float)
    known = rng.random((m, n)) < extra
    # spanning tree: add the nodes in random order, each linked to a random earlier node of the
    # other kind (rows are nodes 0..m-1, columns m..m+n-1)
    first_row, first_col = int(rng.integers(m)), m + int(rng.integers(n))
    placed = [first_row, first_col]
    known[first_row, first_col - m] = True
    for node in rng.permutation([x for x in range(m + n) if x not in placed]):
        node = int(node)
        partners = [p for p in placed if (p < m) != (node < m)]
        p = partners[int(rng.integers(len(partners)))]
        i, j = (node, p - m) if node < m else (p, node - m)
        known[i, j] = True
        placed.append(node)
    return np.where(known, np.outer(a, b), np.nan)


def _propagate_cases(rng):
    cases = [(toy("book_9.2.5"),)]
    for m, n, extra in [(3, 5, 0.1), (6, 4, 0.0), (5, 5, 0.2), (8, 7, 0.05), (2, 9, 0.0), (10, 12, 0.1)]:
        cases.append((_connected_rank1(rng, m, n, extra),))
    return cases


# ---------------------------------------------------------------------------- wrong answers
def _sweeps(M, rule, max_sweeps=None):
    """Propagation by sweeps over the known entries in row-major order with a[0] = 1.

    ``rule(M_ij, known_factor)`` gives the unknown factor; ``max_sweeps`` = 1 is the
    one-pass mistake."""
    m, n = M.shape
    a, b = np.full(m, np.nan), np.full(n, np.nan)
    a[0] = 1.0
    sweeps, changed = 0, True
    while changed and (max_sweeps is None or sweeps < max_sweeps):
        changed, sweeps = False, sweeps + 1
        for i, j in zip(*np.nonzero(~np.isnan(M))):
            if np.isnan(b[j]) and not np.isnan(a[i]):
                b[j], changed = rule(M[i, j], a[i]), True
            elif np.isnan(a[i]) and not np.isnan(b[j]):
                a[i], changed = rule(M[i, j], b[j]), True
    return a, b


def _one_pass(M):
    return _sweeps(M, lambda value, other: value / other, max_sweeps=1)


def _scaled_by_b0(M):
    a, b = propagate_rank1(M)
    return a * b[0], b / b[0]


def _swapped(M):
    a, b = propagate_rank1(M)
    return b, a


def _multiplied(M):
    return _sweeps(M, lambda value, other: value * other)


def _inverted(M):
    return _sweeps(M, lambda value, other: other / value)


@register(
    lesson=LESSON_01,
    title="propagate ratios through the known entries: M_ij = a_i b_j, with a[0] = 1",
    cases=_propagate_cases,
    hints=[
        "Fix the free scale first: a[0] = 1. A known entry M[i, j] = a_i b_j links row i and column j: "
        "once one of a_i, b_j is known, the other follows.",
        "Start with a = np.full(m, np.nan), b = np.full(n, np.nan), a[0] = 1. For a known entry with a_i "
        "known and b_j unknown: b_j = M[i, j] / a[i]; with b_j known and a_i unknown: a_i = M[i, j] / b[j].",
        "One sweep over the entries is not enough: when you reach an entry, neither its a_i nor its b_j may "
        "be known yet. Repeat the sweep while it still finds something new (or keep a queue of rows and "
        "columns to visit: breadth-first search).",
        "known = ~np.isnan(M); then `changed = True; while changed: changed = False; for i, j in "
        "zip(*np.nonzero(known)): ...` setting changed = True whenever you fill an a_i or b_j; return a, b.",
    ],
    diagnostics=[
        Diagnostic(_one_pass,
                   "Some factors are still NaN after one sweep: when the sweep reaches an entry whose row and "
                   "column are both unknown, it must come back later. Repeat the sweep until nothing changes "
                   "(or use a queue)."),
        Diagnostic(_scaled_by_b0,
                   "Your a bᵀ is right but the scale is not: you fixed b[0] = 1. The exercise fixes a[0] = 1 "
                   "(any scale s gives the same matrix (s a)(b / s)ᵀ, so one has to be chosen)."),
        Diagnostic(_swapped,
                   "You returned (b, a): a has one entry per ROW of M (m values), b one per COLUMN (n values)."),
        Diagnostic(_multiplied,
                   "M[i, j] = a_i b_j, so b_j = M[i, j] / a_i and a_i = M[i, j] / b_j: divide, don't multiply."),
        Diagnostic(_inverted,
                   "Upside down: from M[i, j] = a_i b_j follows b_j = M[i, j] / a_i, not a_i / M[i, j]."),
    ],
)
def propagate_rank1(M):
    """The rank-1 factors of a partially known matrix whose known entries are connected
    (book section 9.2.4, Example 9.2.5).

    Parameters
    ----------
    M : ndarray, shape (m, n)
        NaN where unknown. The known entries are nonzero, agree with some a bᵀ, and connect
        every row and column (as the edges of the bipartite row/column graph).

    Returns
    -------
    a : ndarray, shape (m,)
        Row factors with a[0] = 1 (the one free scale).
    b : ndarray, shape (n,)
        Column factors, so that M[i, j] = a[i] * b[j] on every known entry.
    """
    m, n = M.shape
    known = ~np.isnan(M)
    a, b = np.full(m, np.nan), np.full(n, np.nan)
    a[0] = 1.0                                   # the one free scale
    changed = True
    while changed:                               # sweep until a sweep finds nothing new
        changed = False
        for i, j in zip(*np.nonzero(known)):
            if np.isnan(b[j]) and not np.isnan(a[i]):
                b[j] = M[i, j] / a[i]            # M_ij = a_i b_j  ->  b_j = M_ij / a_i
                changed = True
            elif np.isnan(a[i]) and not np.isnan(b[j]):
                a[i] = M[i, j] / b[j]            # ->  a_i = M_ij / b_j
                changed = True
    return a, b
