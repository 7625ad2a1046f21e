r"""Rank-1 matrix completion: exact propagation (book section 9.2.4) and least squares for noise.

A rank-1 matrix is an outer product :math:`R = a b^\top` (in the notation of ARCHITECTURE.md: U is the
m x 1 column a, V the n x 1 column b, k = 1), so every known entry :math:`r_{ui} = a_u b_i`
ties one row to one column. Book Example 9.2.5 fills a 4 x 4 matrix from 8 of its entries this
way; Example 9.2.6 shows known entries that no rank-1 matrix can match.

* ``complete_rank1(M)`` solves the exact problem by propagation over the bipartite graph of
  known entries (rows and columns are nodes, each known entry an edge): it returns every entry
  that the known ones determine, or a readable witness of a contradiction.
* ``fit_rank1(M)`` fits :math:`a b^\top` to noisy data by alternating least squares: with
  noise, exact propagation meets contradictions on every cycle of the graph.

NaN marks an unknown entry everywhere. Rows and columns are 0-based in code; the conflict
texts count from 1, like the book.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Conflict", "Rank1Result", "Rank1Fit", "complete_rank1", "fit_rank1"]


# ============================================================================ results
@dataclass(frozen=True)
class Conflict:
    """Why no rank-1 matrix matches the known entries.

    Attributes
    ----------
    entries : tuple of (i, j)
        The known entries (0-based) that contradict each other: a cycle of the graph whose
        ratios do not multiply to 1, or a known 0 with a nonzero entry in its row and in its
        column.
    text : str
        The same in words, 1-based as in the book, e.g. for Example 9.2.6 "column 1 says
        row 2 = 1 x row 1, but column 2 says row 2 = 7 x row 1 ...". ``str(conflict)``.
    inconsistent : tuple of (i, j)
        Every known entry that disagrees with the values propagated along the spanning tree
        (one per contradicting cycle, at least; noisy data has many).
    ratios : tuple of float
        For a cycle: the two values the cycle's two paths give for the same ratio
        a_B / a_A (``(1.0, 7.0)`` for Example 9.2.6); empty for a zero conflict.
    """

    entries: tuple
    text: str
    inconsistent: tuple = ()
    ratios: tuple = ()

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Rank1Result:
    """What ``complete_rank1`` found.

    Attributes
    ----------
    completed : (m, n) ndarray
        The known entries and every entry they determine; NaN where undetermined. With a
        conflict: the known entries only (no rank-1 completion exists).
    a : (m,) ndarray
        Row factors (U as a column): ``a[i] = 1`` at the first row of each component, the rest
        propagated; 0 for a row forced to 0; NaN for a row not determined (no known nonzero
        entry). With a conflict: what the propagation along the spanning tree derived.
    b : (n,) ndarray
        Column factors (V as a column), likewise.
    determined : (m, n) bool ndarray
        True exactly where ``completed`` is not NaN.
    conflict : Conflict or None
        None when some rank-1 matrix matches every known entry.
    row_component, col_component : ndarray of int
        Component of each row / column in the graph of known NONZERO entries (numbered from 0
        in the order of their first row); -1 for a row or column without a nonzero entry.
    """

    completed: np.ndarray
    a: np.ndarray
    b: np.ndarray
    determined: np.ndarray
    conflict: Conflict | None
    row_component: np.ndarray
    col_component: np.ndarray

    @property
    def n_components(self) -> int:
        """Components of the graph of known nonzero entries that have at least one edge."""
        return int(max(self.row_component.max(initial=-1), self.col_component.max(initial=-1)) + 1)

    @property
    def complete(self) -> bool:
        """True when every entry is determined (and there is no conflict)."""
        return self.conflict is None and bool(self.determined.all())

    def __repr__(self) -> str:
        m, n = self.completed.shape
        state = "conflict" if self.conflict is not None else f"{int(self.determined.sum())} of {m * n} determined"
        return f"Rank1Result({m} x {n}, {self.n_components} component(s), {state})"


@dataclass(frozen=True)
class Rank1Fit:
    """What ``fit_rank1`` found.

    Attributes
    ----------
    a : (m,) ndarray, b : (n,) ndarray
        The factors; NaN for a row / column without any known entry. Scaled so that the first
        row with a known entry has ``a = 1`` (as ``complete_rank1`` does), unless that is 0.
    completed : (m, n) ndarray
        ``np.outer(a, b)`` (NaN in rows / columns without data).
    loss_history : ndarray
        ``loss_history[k]`` = sum over the known entries of (M_ij - a_i b_j)^2 after k + 1
        sweeps (a sweep updates all of a, then all of b). Never increases.
    n_iters : int
        Sweeps done. ``converged``: whether the relative decrease fell below ``tol``.
    """

    a: np.ndarray
    b: np.ndarray
    completed: np.ndarray
    loss_history: np.ndarray
    n_iters: int
    converged: bool
    n_known: int

    @property
    def loss(self) -> float:
        """The final sum of squared errors on the known entries."""
        return float(self.loss_history[-1])

    @property
    def rmse(self) -> float:
        """Root mean squared error on the known entries."""
        return float(np.sqrt(self.loss / self.n_known))

    def __repr__(self) -> str:
        m, n = self.completed.shape
        return f"Rank1Fit({m} x {n}, {self.n_iters} sweeps, RMSE on known entries {self.rmse:.4g})"


# ============================================================================ input
def _as_matrix(M, name: str = "M") -> np.ndarray:
    """A float copy of M (a 2-D array with NaN = unknown, or a ``Ratings``), validated."""
    if hasattr(M, "to_dense") and hasattr(M, "shape"):  # a mt.Ratings
        M = M.to_dense()
    try:
        X = np.array(M, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric matrix with NaN for unknown entries ({exc})") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (m x n), got shape {X.shape}")
    if X.size == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if np.isinf(X).any():
        i, j = np.argwhere(np.isinf(X))[0]
        raise ValueError(f"{name} must be finite: entry ({i}, {j}) is {X[i, j]}; use NaN for unknown")
    if np.isnan(X).all():
        raise ValueError(f"{name} has no known entry (all NaN): nothing to complete")
    return X


def _ratio(x: float) -> str:
    return f"{x:.4g}"


# ============================================================================ complete_rank1
def complete_rank1(M, rtol: float = 1e-9) -> Rank1Result:
    r"""Fill in a partially known matrix so that it has rank 1, wherever the data decide.

    Book section 9.2.4, Examples 9.2.5 and 9.2.6. A rank-1 matrix is :math:`a b^\top`, so a
    known entry :math:`M_{ij} = a_i b_j` links row i and column j. In the bipartite graph
    whose nodes are the rows and the columns and whose edges are the known entries, each
    connected component has ONE free scale (:math:`a \to s a`, :math:`b \to b / s` changes
    nothing). So: per component fix :math:`a_i = 1` at its first row, then propagate
    breadth-first, :math:`b_j = M_{ij} / a_i` and :math:`a_i = M_{ij} / b_j`, along a
    spanning tree; finally verify every known entry. An entry on a cycle of the graph is
    redundant, and checking it can reveal a contradiction (Example 9.2.6). An m x n matrix
    needs at least m + n - 1 known entries (a spanning tree) to be determined everywhere.

    Zeros (the rule): a known 0 says :math:`a_i = 0` or :math:`b_j = 0`, so it carries no
    ratio. Propagation therefore runs through NONZERO known entries only; every row or column
    touching a nonzero entry has a nonzero factor. Then:

    * a known 0 between two such nonzero rows/columns is a conflict (even across components);
    * a row (column) with no nonzero entry but a known 0 against a nonzero column (row) is
      forced to 0: its whole row (column) is determined to be 0;
    * a row or column whose known entries are all 0 against undetermined partners stays
      undetermined (its factor could be 0 or not), and so do its entries;
    * an entry is determined when its row or column is forced to 0, or when its row and
      column are in the same component; nothing else is (different components have
      independent scales).

    Whatever is reported as determined agrees with EVERY matrix :math:`a b^\top` (rank at
    most 1) that matches the known entries; every other entry takes at least two different
    values among them.

    Parameters
    ----------
    M : (m, n) array_like or Ratings
        The matrix, NaN where unknown (the book's ``*``).
    rtol : float
        Relative tolerance of the final check :math:`|a_i b_j - M_{ij}| \le` rtol
        :math:`|M_{ij}|`.

    Returns
    -------
    Rank1Result
        ``completed, a, b, determined, conflict`` (+ components); see its docstring. With a
        conflict, ``completed`` holds only the known entries: the book's answer is that no
        rank-1 completion exists, so nothing is inferred.

    Raises
    ------
    ValueError
        M is not 2-D, is empty, has an infinite entry, or has no known entry.
    TypeError
        M is not numeric.

    Examples
    --------
    >>> import mfteach as mt
    >>> complete_rank1(mt.toy("book_9.2.5")).completed
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [4., 4., 8., 8.],
           [4., 4., 8., 8.]])
    >>> print(complete_rank1(mt.toy("book_9.2.6")).conflict)  # doctest: +ELLIPSIS
    no rank-1 completion: column 1 says row 2 = 1 x row 1, but column 2 says row 2 = 7 x row 1 ...
    """
    M = _as_matrix(M)
    if not rtol >= 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    m, n = M.shape
    known = ~np.isnan(M)
    nonzero = known & (M != 0)
    by_row = sp.csr_matrix(nonzero)            # by_row.indices[...]: the columns of row i
    by_col = sp.csc_matrix(nonzero)            # by_col.indices[...]: the rows of column j

    # ---- propagation: one breadth-first search per component (nodes: rows 0..m-1, columns m..m+n-1)
    a, b = np.full(m, np.nan), np.full(n, np.nan)
    row_comp, col_comp = np.full(m, -1), np.full(n, -1)
    parent = np.full(m + n, -1)                # spanning-tree parent of each node (for the witness)
    depth = np.zeros(m + n, dtype=int)
    n_comp = 0
    for start in range(m):
        if row_comp[start] >= 0 or by_row.indptr[start] == by_row.indptr[start + 1]:
            continue                           # already reached, or no nonzero entry in this row
        a[start] = 1.0                         # the component's one free scale
        row_comp[start] = n_comp
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node < m:                       # a row i: its new columns get b_j = M_ij / a_i
                i = node
                js = by_row.indices[by_row.indptr[i]:by_row.indptr[i + 1]]
                js = js[col_comp[js] < 0]
                b[js] = M[i, js] / a[i]
                col_comp[js] = n_comp
                parent[m + js], depth[m + js] = i, depth[i] + 1
                queue.extend((m + js).tolist())
            else:                              # a column j: its new rows get a_i = M_ij / b_j
                j = node - m
                iis = by_col.indices[by_col.indptr[j]:by_col.indptr[j + 1]]
                iis = iis[row_comp[iis] < 0]
                a[iis] = M[iis, j] / b[j]
                row_comp[iis] = n_comp
                parent[iis], depth[iis] = m + j, depth[m + j] + 1
                queue.extend(iis.tolist())
        n_comp += 1

    # ---- verification of every known entry
    rows, cols = np.nonzero(nonzero)
    values = M[rows, cols]
    bad = np.abs(a[rows] * b[cols] - values) > rtol * np.abs(values)   # a broken cycle
    zrows, zcols = np.nonzero(known & (M == 0))
    zero_bad = (row_comp[zrows] >= 0) & (col_comp[zcols] >= 0)       # 0 between two nonzero factors
    # rows / columns forced to 0 by a known 0 against a nonzero partner
    zero_row = np.zeros(m, dtype=bool)
    zero_row[zrows[(row_comp[zrows] < 0) & (col_comp[zcols] >= 0)]] = True
    zero_col = np.zeros(n, dtype=bool)
    zero_col[zcols[(col_comp[zcols] < 0) & (row_comp[zrows] >= 0)]] = True
    a[zero_row], b[zero_col] = 0.0, 0.0

    conflict = None
    if bad.any() or zero_bad.any():
        inconsistent = sorted([(int(i), int(j)) for i, j in zip(rows[bad], cols[bad])]
                              + [(int(i), int(j)) for i, j in zip(zrows[zero_bad], zcols[zero_bad])])
        if bad.any():
            conflict = _cycle_conflict(M, a, parent, depth, rows[bad], cols[bad], m, inconsistent)
        else:
            conflict = _zero_conflict(M, by_row, by_col, int(zrows[zero_bad][0]), int(zcols[zero_bad][0]),
                                      inconsistent)
        completed = np.where(known, M, np.nan)
        return Rank1Result(completed, a, b, known.copy(), conflict, row_comp, col_comp)

    # ---- the completion: same component -> a_i b_j; a row or column forced to 0 -> 0
    same = (row_comp[:, None] == col_comp[None, :]) & (row_comp[:, None] >= 0)
    forced_zero = zero_row[:, None] | zero_col[None, :]
    completed = np.full((m, n), np.nan)
    completed[same] = np.outer(a, b)[same]
    completed[forced_zero] = 0.0
    completed[known] = M[known]                # the known values exactly
    determined = ~np.isnan(completed)
    return Rank1Result(completed, a, b, determined, None, row_comp, col_comp)


def _tree_path(u: int, v: int, parent: np.ndarray, depth: np.ndarray) -> list[int]:
    """The nodes of the spanning-tree path from node u to node v (same component)."""
    left, right = [u], [v]
    while depth[left[-1]] > depth[right[-1]]:
        left.append(parent[left[-1]])
    while depth[right[-1]] > depth[left[-1]]:
        right.append(parent[right[-1]])
    while left[-1] != right[-1]:
        left.append(parent[left[-1]])
        right.append(parent[right[-1]])
    return [int(x) for x in left + right[-2::-1]]


def _cycle_conflict(M, a, parent, depth, bad_rows, bad_cols, m, inconsistent) -> Conflict:
    """The witness of a broken cycle: two paths from row A to row B that imply different ratios.

    The known entry (B, j) disagrees with the spanning tree. The tree path B -> ... -> A -> j
    and the entry (B, j) close a cycle; A is the last row before column j on that path. Going
    A -> B along the tree gives a_B / a_A = a[B] / a[A]; going through column j gives
    M[B, j] / M[A, j]. Among the inconsistent entries, the one with the shortest cycle is shown
    (candidates pre-sorted by the depth bound, at most 200 examined).
    """
    order = np.argsort(depth[bad_rows] + depth[m + bad_cols], kind="stable")[:200]
    best = None
    for k in order:
        i, j = int(bad_rows[k]), int(bad_cols[k])
        path = _tree_path(i, m + j, parent, depth)       # row i, col, row, ..., row A, col j
        if best is None or len(path) < len(best[2]):
            best = (i, j, path)
    B, j, path = best
    A = path[-2]
    tree_ratio = a[B] / a[A]
    direct_ratio = M[B, j] / M[A, j]
    back = path[-2::-1]                                  # A, col, row, ..., B (tree path)
    if len(back) == 3:
        tree_words = f"column {back[1] - m + 1} says"
    else:
        steps = " -> ".join(f"column {x - m + 1}" if x >= m else f"row {x + 1}" for x in back)
        tree_words = f"the path {steps} says"
    # the cycle's entries, from row A along the tree to row B, then (B, j) and back (A, j)
    entries = [(min(x, y), max(x, y) - m) for x, y in zip(back[:-1], back[1:])]
    entries += [(B, j), (A, j)]
    listed = ", ".join(f"({i + 1},{jj + 1})" for i, jj in entries)
    others = len(inconsistent) - 1
    text = (f"no rank-1 completion: {tree_words} row {B + 1} = {_ratio(tree_ratio)} x row {A + 1}, "
            f"but column {j + 1} says row {B + 1} = {_ratio(direct_ratio)} x row {A + 1} "
            f"(known entries {listed} form a cycle whose ratios disagree")
    text += f"; {others} more known entr{'y disagrees' if others == 1 else 'ies disagree'})" if others else ")"
    return Conflict(tuple(entries), text, tuple(inconsistent), (float(tree_ratio), float(direct_ratio)))


def _zero_conflict(M, by_row, by_col, i: int, j: int, inconsistent) -> Conflict:
    """The witness of a known 0 at (i, j) while row i and column j both have nonzero entries."""
    jj = int(by_row.indices[by_row.indptr[i]])
    ii = int(by_col.indices[by_col.indptr[j]])
    text = (f"no rank-1 completion: the known 0 at ({i + 1},{j + 1}) needs a_{i + 1} = 0 or b_{j + 1} = 0, "
            f"but ({i + 1},{jj + 1}) = {M[i, jj]:g} makes a_{i + 1} nonzero and "
            f"({ii + 1},{j + 1}) = {M[ii, j]:g} makes b_{j + 1} nonzero")
    others = len(inconsistent) - 1
    if others:
        text += f" ({others} more known entr{'y disagrees' if others == 1 else 'ies disagree'})"
    return Conflict(((i, j), (i, jj), (ii, j)), text, tuple(inconsistent), ())


# ============================================================================ fit_rank1
def fit_rank1(M, n_iters: int = 100, tol: float = 1e-10, seed: int = 0) -> Rank1Fit:
    r"""Least-squares rank-1 fit to noisy data, by alternating closed-form updates.

    Minimizes :math:`L(a, b) = \sum_{(i,j) \in \Omega} (M_{ij} - a_i b_j)^2` over the known
    entries. For fixed b, L splits into one least-squares problem per row with the solution

    .. math:: a_i = \frac{\sum_{j \in \Omega_i} M_{ij} b_j}{\sum_{j \in \Omega_i} b_j^2},

    and likewise :math:`b_j = \sum_{i \in \Omega^j} M_{ij} a_i / \sum_{i \in \Omega^j} a_i^2`.
    Alternating the two exact minimizations never increases L (rank-1 ALS; lesson 06 does it
    for rank k with regularization). With noise there is no exact rank-1 completion, and
    ``complete_rank1`` reports a conflict on (almost) every cycle (book 9.2.4: the exact
    argument of Examples 9.2.5-9.2.6 breaks down; section 9.3 turns to optimization).

    As with exact propagation, entries between different components of the graph of known
    entries are not determined by the data: the fit fills them, but with an arbitrary
    relative scale (it depends on the starting point).

    Parameters
    ----------
    M : (m, n) array_like or Ratings
        NaN where unknown.
    n_iters : int
        Maximum number of sweeps (update all of a, then all of b).
    tol : float
        Stop when the loss decreases by less than ``tol`` times its value in one sweep.
    seed : int
        Seed of the starting point b ~ Uniform(0.5, 1.5) (positive, as for ratings).

    Returns
    -------
    Rank1Fit
        ``a, b, completed, loss_history, n_iters, converged`` (+ ``rmse``, ``loss``).
    """
    M = _as_matrix(M)
    if int(n_iters) != n_iters or n_iters < 1:
        raise ValueError(f"n_iters must be a positive integer, got {n_iters!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    m, n = M.shape
    known = ~np.isnan(M)
    W = known.astype(float)                    # 1 on Omega
    X = np.where(known, M, 0.0)                # M with the unknown entries as 0 (W removes them)
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.5, 1.5, size=n) * known.any(axis=0)

    def solve(Y, Wt, other):
        # a_i = sum_j M_ij b_j / sum_j b_j^2 over the known j (0 when that sum is 0)
        num, den = Y @ other, Wt @ other ** 2
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    def loss(a, b):
        return float(np.sum(W * (X - np.outer(a, b)) ** 2))

    history, converged = [], False
    for sweep in range(int(n_iters)):
        a = solve(X, W, b)                     # all rows at once, b fixed
        b = solve(X.T, W.T, a)                 # all columns at once, a fixed
        history.append(loss(a, b))
        if history[-1] == 0.0 or (len(history) > 1 and history[-2] - history[-1] <= tol * history[-2]):
            converged = True
            break

    # one scale per fit: the first row with data gets a = 1 (as in complete_rank1), if nonzero
    rows_with_data = np.flatnonzero(known.any(axis=1))
    s = a[rows_with_data[0]]
    if s != 0:
        a, b = a / s, b * s
    a[~known.any(axis=1)] = np.nan
    b[~known.any(axis=0)] = np.nan
    return Rank1Fit(a, b, np.outer(a, b), np.array(history), len(history), converged, int(known.sum()))
