"""Exercises and questions of lesson 02_rank1_completion (registered on import).

Book section 9.2.4, Example 9.2.5: a rank-1 matrix is a b^T (U = a, V = b, k = 1), so every
known entry M_ij = a_i b_j passes a ratio between row i and column j. In the lesson's order:

* ``complete_from_cross`` (warm-up): the whole matrix from its first row and column, a spanning
  "star" of m + n - 1 entries;
* ``propagate_rank1``: propagate the ratios through a CONNECTED pattern of nonzero known
  entries, with the one free scale fixed by a[0] = 1 so that the answer is unique;

then two questions: the fewest entries that determine a rank-1 matrix, and which entries two
components determine. Lesson 03_rank1_conflicts_and_noise continues (module ``lesson03``).
"""

from __future__ import annotations

import numpy as np

from ..data import toy
from .registry import Diagnostic, register, register_question

LESSON_02 = "02_rank1_completion"


# ---------------------------------------------------------------------------- complete_from_cross (warm-up)
def _cross_cases(rng):
    book = np.outer([1.0, 1.0, 4.0, 4.0], [1.0, 1.0, 2.0, 2.0])   # the completed Example 9.2.5
    cases = [(book[0].copy(), book[:, 0].copy())]
    for m, n in [(3, 5), (5, 3), (4, 4), (1, 6), (6, 1), (7, 9)]:
        a, b = rng.uniform(0.5, 3, size=m), rng.uniform(0.5, 3, size=n)
        M = np.outer(a, b)
        cases.append((M[0].copy(), M[:, 0].copy()))
    return cases


@register(
    lesson=LESSON_02,
    title="complete a rank-1 matrix from its first row and first column",
    cases=_cross_cases,
    hints=[
        "In a rank-1 matrix every row is a multiple of the first row. Which multiple is row i? Compare the "
        "two entries of column 1: M[i, 0] and M[0, 0].",
        "So entry (i, j) is the first row's entry j times row i's multiple. Write it with the three known "
        "entries M[0, j], M[i, 0] and M[0, 0].",
        "All entries at once: an outer product (np.outer) of the first column and the first row, corrected "
        "by the one entry both of them contain. The result has shape (len(first_col), len(first_row)).",
    ],
    diagnostics=[
        Diagnostic(lambda first_row, first_col: np.outer(first_col, first_row),
                   "The outer product of the first column and the first row counts M[0, 0] twice: "
                   "M_ij = M_i1 M_1j / M_11 (check entry (0, 0): it must be M[0, 0], not its square)."),
        Diagnostic(lambda first_row, first_col: np.outer(first_col, first_row) / first_row[0] ** 2,
                   "You divided by M[0, 0] twice: M_ij = M_i1 M_1j / M_11, once."),
        Diagnostic(lambda first_row, first_col: np.outer(first_row, first_col) / first_row[0],
                   "Rows and columns are swapped: the result has one row per entry of first_col (m rows) "
                   "and one column per entry of first_row (n columns)."),
        Diagnostic(lambda first_row, first_col: first_row[None, :] + first_col[:, None] - first_row[0],
                   "You added: that makes every row the first row plus a constant. Rank 1 means every row "
                   "is the first row TIMES a constant (ratios, not differences)."),
    ],
)
def complete_from_cross(first_row, first_col):
    """The rank-1 matrix with the given first row and first column (book 9.2.4).

    Parameters
    ----------
    first_row : ndarray, shape (n,)
        M[0, :]; first_row[0] = M[0, 0] is nonzero.
    first_col : ndarray, shape (m,)
        M[:, 0]; first_col[0] = first_row[0].

    Returns
    -------
    ndarray, shape (m, n)
        M with M[i, j] = M[i, 0] M[0, j] / M[0, 0]: with a = first_col / M[0, 0] and b = first_row,
        M = a b^T and a[0] = 1. These m + n - 1 entries form a spanning tree (a "star").
    """
    return np.outer(first_col, first_row) / first_row[0]   # row i = (M_i1 / M_11) x row 1


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


def _row_one_then_rows(M):
    """Two steps and no more: the columns of row 1, then every row through those columns."""
    m, n = M.shape
    a, b = np.full(m, np.nan), np.full(n, np.nan)
    a[0] = 1.0
    b[~np.isnan(M[0])] = M[0][~np.isnan(M[0])]
    for i, j in zip(*np.nonzero(~np.isnan(M))):
        if np.isnan(a[i]) and not np.isnan(b[j]):
            a[i] = M[i, j] / b[j]
    return a, b


def _columns_only(M):
    """Only ever b_j = M_ij / a_i, repeated: never a row factor from a column factor."""
    a, b = np.full(M.shape[0], np.nan), np.full(M.shape[1], np.nan)
    a[0] = 1.0
    b[~np.isnan(M[0])] = M[0][~np.isnan(M[0])]
    return a, b


_ONE_PASS = ("Some factors are still NaN: one pass is not enough. A factor that is determined only through "
             "a factor found later in the same pass (a path of several known entries) is missed. Repeat "
             "the sweep until a sweep changes nothing (or keep a queue of rows and columns to visit).")


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
    lesson=LESSON_02,
    title="find the rank-1 factors a, b (with a[0] = 1) from connected known entries",
    cases=_propagate_cases,
    hints=[
        "Fix the free scale first: a[0] = 1. A known entry M[i, j] = a_i b_j links row i and column j: "
        "once one of a_i, b_j is known, the other follows.",
        "Start with a and b full of NaN (np.full) and set a[0] = 1. Visit the known entries (np.nonzero of "
        "the mask of known entries gives their rows and columns): when exactly one of a_i, b_j is known, "
        "M[i, j] = a_i b_j gives the other.",
        "One sweep over the entries is not enough: when you reach an entry, neither its a_i nor its b_j may "
        "be known yet. Repeat the sweep while it still finds something new (or keep a queue of rows and "
        "columns to visit: breadth-first search).",
        "Wrap your sweep in a loop that keeps a flag: set it whenever the sweep fills a factor, and stop "
        "after a sweep that filled nothing. Return the tuple (a, b).",
    ],
    diagnostics=[
        Diagnostic(_one_pass, _ONE_PASS),
        Diagnostic(_row_one_then_rows,
                   "Some factors are still NaN: you went from row 1 to its columns and from those columns to "
                   "the rows, and stopped. Those rows lead to further columns, and so on: repeat until a "
                   "sweep changes nothing (or keep a queue of rows and columns to visit)."),
        Diagnostic(_columns_only,
                   "Only row 1's columns got a factor: you compute b_j from a_i but never a_i from b_j. A known "
                   "entry also gives the ROW factor when its column factor is known: a_i = M[i, j] / b_j."),
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


# ============================================================================ questions
register_question(
    name="q02_fewest_entries", lesson=LESSON_02, kind="number",
    prompt="What is the fewest number of known entries that can determine a whole $6 \\times 8$ rank-1 "
           "matrix (all factors nonzero)?",
    answer=13, tolerance=0.0,
    feedback={
        14: "$a$ and $b$ hold $m + n = 14$ numbers, but one scale is free: $(sa)(b/s)^\\top$ is the same "
            "matrix, so one fewer entry is enough.",
        48: "That is every entry, $mn$. A rank-1 matrix has far fewer degrees of freedom.",
        12: "12 edges cannot connect 14 nodes (6 rows and 8 columns): some row or column would be cut off.",
        7: "Count rows AND columns: the bipartite graph has $6 + 8 = 14$ nodes to connect.",
    },
    default_feedback="Count the degrees of freedom of $ab^\\top$, or the edges a connected graph on "
                     "$m + n$ nodes needs.",
    explanation="$m + n - 1 = 13$: the degrees of freedom of $ab^\\top$ (one scale is free), and the number of "
                "edges of a spanning tree of the 14 row and column nodes, e.g. all 8 entries of row 1 and "
                "column 1's entries in rows 2–6. Thirteen entries that contain a cycle do not suffice: a graph "
                "on 14 nodes with 13 edges is connected only if it is a tree.",
)

register_question(
    name="q02_determined_entries", lesson=LESSON_02, kind="number",
    prompt="A $4 \\times 4$ rank-1 matrix (all factors nonzero) has 6 known entries: $M_{11}, M_{12}, M_{21}, "
           "M_{33}, M_{34}, M_{43}$ (1-based). How many of its 16 entries are determined, the known ones included?",
    answer=8, tolerance=0.0,
    feedback={
        16: "Every row and every column has a known entry, but that is not enough: the graph falls into two "
            "components, {rows 1–2, columns 1–2} and {rows 3–4, columns 3–4}. An entry between them, such as "
            "$M_{13} = a_1 b_3$, joins two factors whose scales are free independently of each other.",
        6: "Those are the known entries only. Inside a component the unknown entries follow too: "
           "$M_{22} = M_{21} M_{12} / M_{11}$ along the path row 2 – column 1 – row 1 – column 2.",
        4: "That is one component's block. The other one, rows 3–4 × columns 3–4, is a tree of three known "
           "entries as well and determines its fourth entry $M_{44}$.",
        7: "$m + n - 1 = 7$ is how many entries a spanning tree needs, not how many entries are determined. "
           "Here 6 entries form two separate trees.",
    },
    default_feedback="Find the connected components of the bipartite graph (rows and columns as nodes, known "
                     "entries as edges): an entry is determined exactly when its row and its column lie in the "
                     "same component.",
    explanation="Two components, each a tree of three edges: {row 1, row 2, column 1, column 2} and {row 3, row 4, "
                "column 3, column 4}. Each determines its $2 \\times 2$ block, $4 + 4 = 8$ entries; the 8 entries "
                "between the blocks can be anything, because each component has its own free scale. One more "
                "known entry between the blocks, e.g. $M_{13}$, would join the components and determine all 16.",
)
