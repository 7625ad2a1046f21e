r"""The one interface every explained model family implements: the LOCAL PROBLEM of a
prediction y_hat = r_hat_ui, and the influence computations written once on top of it.

A model family (matrix factorization in ``_mf.py``, NCF in ``_ncf.py``) describes the
prediction (u, i) by a ``LocalProblem``: the parameters theta_t = (w_u, w_i) the prediction
depends on directly (MF: w_u = (u_u, b_u), w_i = (v_i, c_i); NCF: p_u, q_i), R_t (the user's
training ratings, the item-based side, and the item's ratings by other users, the user-based
side), the residual e_z of every z in R_t, the derivative of its prediction with respect to the
block it touches (one ``Block`` per half of theta_t), and the blocks of half the local Hessian,

.. math::

    \tfrac12 H_t = \begin{pmatrix} A_u & C \\ C^\top & A_i \end{pmatrix}, \qquad
    A_u = X_u^\top X_u + \rho_u I, \quad A_i = Y_i^\top Y_i + \rho_i I,

X_u (Y_i) stacking the rows d r_hat_z / d w_u (d w_i) of the block's ratings and rho the block's
ridge weight. C = 0 unless (u, i) is itself a training rating (KDD 2019 eqs. 15-19 for MF,
eq. 22 for NCF; the model modules derive their blocks). On this ``local_influence`` computes,
for every z in R_t,

.. math::

    \mathrm{INFL}(z) = -\nabla\hat y^\top H_t^{-1}\nabla l(z)
        = e_z\, x_z^\top s - \lambda' w^\top s, \qquad s = A^{-1}\nabla_w \hat y

(FIA, eq. 18; lambda' the penalty share a removed rating takes with it, ALS-WR only), and the
exact leave-one-out of the local problem by a rank-one downdate (Sherman-Morrison, the
``exact_local`` of ``fia``): with B = A - lambda' I, h_z = x_z^T B^{-1} x_z and q = B^{-1} grad y,

.. math::

    \mathrm{INFL}_\text{local}(z) = \frac{e_z\, x_z^\top q}{1 - h_z}
        - \lambda'\Big(w^\top q + \frac{(x_z^\top q)(x_z^\top B^{-1} w)}{1 - h_z}\Big).

Also here, with public names for every explanation module: the sides of R_t (``SIDES``), the
explanation frame every explanation returns (ARCHITECTURE.md, the explanation frame) and the
``explain_local`` pipeline from a local problem to that frame. This module imports no other
module of ``mfteach.explain``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as la

from ..ratings import Ratings

__all__ = ["SIDES", "SIDE_CODES", "ALL_SIDES", "check_side", "Block", "LocalProblem", "gram", "local_influence",
           "explanation_frame", "explain_local"]

SIDES = ("item-based", "user-based")                # the user's own ratings; the item's ratings by other users
SIDE_CODES = {side: code for code, side in enumerate(SIDES)}  # the int8 codes of ``local_influence``
ALL_SIDES = "both"                                  # the ``side`` argument that keeps both
_SIDE_NAMES = np.array(SIDES, dtype=object)


def check_side(side) -> int | None:
    """The code of ``side`` ("item-based" 0, "user-based" 1), None for "both"; ValueError otherwise."""
    if side == ALL_SIDES:
        return None
    if side not in SIDE_CODES:
        raise ValueError(f"side must be one of {(ALL_SIDES, *SIDES)}, got {side!r}")
    return SIDE_CODES[side]


# ---------------------------------------------------------------------------- the interface
@dataclass(frozen=True, eq=False)
class Block:
    """One half of theta_t and the ratings of R_t that touch it (rows of X_u or Y_i)."""

    index: np.ndarray      # the other end of each rating: the items j of (u, j), or the users a of (a, i)
    values: np.ndarray     # r_z
    features: np.ndarray   # d r_hat_z / d w, one row per rating (x_j, or y_a)
    residuals: np.ndarray  # e_z = r_z - r_hat_z
    w: np.ndarray          # the block's parameters (w_u or w_i)
    target: np.ndarray     # d y_hat / d w (x_i, or y_u)
    reg: float             # rho: the ridge weight on the diagonal of A (lambda rho_u; NCF: lambda + damping / 2)


@dataclass(frozen=True, eq=False)
class LocalProblem:
    """The local problem of the prediction for (``user``, ``item``) (module docstring).

    ``user_block`` holds the user's training ratings, (u, i) itself at position ``own`` when it is
    one; ``item_block`` the item's ratings by the other users. When ``own`` is set, ``cross`` is
    the off-diagonal block C of H_t / 2 and ``own_item_features`` the row d r_hat_ui / d w_i the
    rating (u, i) adds to A_i. ``removal_reg`` is lambda'. ``quadratic_when_rated``: whether the
    local objective stays quadratic when (u, i) is rated (then ``exact_local`` applies too; MF:
    no, C depends on e_ui; NCF: yes, piecewise).
    """

    user: int
    item: int
    prediction: float
    user_block: Block
    item_block: Block
    own: int | None = None
    cross: np.ndarray | None = None
    own_item_features: np.ndarray | None = None
    removal_reg: float = 0.0
    quadratic_when_rated: bool = False

    @property
    def rows(self) -> np.ndarray:
        """Users of R_t: the user's ratings first, then the item's."""
        return np.concatenate([np.full(len(self.user_block.index), self.user), self.item_block.index])

    @property
    def cols(self) -> np.ndarray:
        return np.concatenate([self.user_block.index, np.full(len(self.item_block.index), self.item)])

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([self.user_block.values, self.item_block.values])

    @property
    def sides(self) -> np.ndarray:
        """``SIDE_CODES`` of R_t's ratings (int8)."""
        return np.repeat(np.array([0, 1], dtype=np.int8), [len(self.user_block.index), len(self.item_block.index)])


# ---------------------------------------------------------------------------- the computations, once
def gram(features: np.ndarray, reg: float) -> np.ndarray:
    """A = F^T F + reg I."""
    A = features.T @ features
    A[np.diag_indices_from(A)] += reg
    return A


def _cho(A: np.ndarray, block: str):
    try:
        return la.cho_factor(A, check_finite=False)
    except la.LinAlgError:
        raise ValueError(f"the local Hessian of the {block} block is singular (reg = 0 and fewer ratings than "
                         f"unknowns?); use a model with reg > 0") from None


def _block_influence(b: Block, removal_reg: float, exact: bool, name: str):
    """INFL of every rating of one block, first order and (``exact``) exact local (module docstring)."""
    if len(b.residuals) == 0:
        return np.empty(0), (np.empty(0) if exact else None)
    A = gram(b.features, b.reg)
    factor = _cho(A, name)
    s = la.cho_solve(factor, b.target, check_finite=False)
    first = b.residuals * (b.features @ s) - removal_reg * (b.w @ s)   # eq. (18)
    if not exact:
        return first, None
    if removal_reg:  # ALS-WR: the removal also drops one penalty share, B = A - lambda' I
        if len(b.residuals) == 1:
            return first, np.array([b.target @ b.w])  # the block loses its only rating: w' = 0 (ALS's empty group)
        factor = _cho(A - removal_reg * np.eye(len(b.w)), name)
    q = la.cho_solve(factor, b.target, check_finite=False)
    P = la.cho_solve(factor, b.features.T, check_finite=False)
    leverage = np.einsum("ij,ji->i", b.features, P)                    # h_z = x_z^T B^-1 x_z
    xq = b.features @ q
    exact_values = b.residuals * xq / (1.0 - leverage)
    if removal_reg:
        a = la.cho_solve(factor, b.w, check_finite=False)
        exact_values -= removal_reg * (b.w @ q + xq * (b.features @ a) / (1.0 - leverage))
    return first, exact_values


def _coupled_influence(p: LocalProblem, exact: bool):
    """(u, i) is a training rating: one solve with the full H_t / 2 (blocks A_u, A_i + y y^T, C)."""
    u, i, lam = p.user_block, p.item_block, p.removal_reg
    d = len(u.w)
    A_i = gram(i.features, i.reg) + np.outer(p.own_item_features, p.own_item_features)
    H = np.block([[gram(u.features, u.reg), p.cross], [p.cross.T, A_i]])
    s = np.linalg.solve(H, np.concatenate([u.target, i.target]))
    s_u, s_i = s[:d], s[d:]
    user_first = u.residuals * (u.features @ s_u) - lam * (u.w @ s_u)
    user_first[p.own] += u.residuals[p.own] * (p.own_item_features @ s_i) - lam * (i.w @ s_i)
    item_first = i.residuals * (i.features @ s_i) - lam * (i.w @ s_i)
    first = np.concatenate([user_first, item_first])
    if not exact:
        return first, None
    J = np.zeros((len(first), len(s)))  # d r_hat_z / d theta_t, the own rating touching both halves
    J[:len(u.residuals), :d] = u.features
    J[len(u.residuals):, d:] = i.features
    J[p.own, d:] = p.own_item_features
    leverage = np.einsum("zk,kz->z", J, np.linalg.solve(H, J.T))
    return first, first / (1.0 - leverage)


def local_influence(problem: LocalProblem, exact_local: bool = False):
    """INFL of every rating of R_t: (first-order FIA, exact local or None), in the order of
    ``problem.rows``. ``exact_local`` for a rated (u, i) needs ``problem.quadratic_when_rated``."""
    p = problem
    if p.own is None:  # H_t block-diagonal: two small solves
        user_first, user_exact = _block_influence(p.user_block, p.removal_reg, exact_local, "user")
        item_first, item_exact = _block_influence(p.item_block, p.removal_reg, exact_local, "item")
        first = np.concatenate([user_first, item_first])
        return first, (np.concatenate([user_exact, item_exact]) if exact_local else None)
    if exact_local and (not p.quadratic_when_rated or p.removal_reg):
        raise ValueError(f"exact_local needs (user, item) = ({p.user}, {p.item}) outside the training ratings: the "
                         f"rating (u, i) couples u_u and v_i and the local problem is no longer quadratic")
    return _coupled_influence(p, exact_local)


# ---------------------------------------------------------------------------- the explanation frame
def explanation_frame(ratings: Ratings, user: int, item: int, rows, cols, values, influence, side,
                      prediction: float) -> pd.DataFrame:
    """The frame ``fia``, ``ia_basic`` and ``fia_ncf`` return: one row per training rating z =
    (rows[k], cols[k], values[k]) with its ``influence`` on the prediction for (user, item),
    largest |influence| first (stable: equal values keep the input order).

    ``side``: one string or one per row (an element of ``SIDES``). Columns: user, item
    (indices), title, genres (", "-joined), rating, influence, side. ``attrs``: prediction,
    user, item.
    """
    influence = np.asarray(influence, dtype=float)
    order = np.argsort(-np.abs(influence), kind="stable")
    cols = np.asarray(cols)[order]
    side = np.asarray(side, dtype=object)
    frame = pd.DataFrame({
        "user": np.asarray(rows)[order],
        "item": cols,
        "title": ratings.item_labels(cols),
        "genres": ratings.genre_labels(cols),
        "rating": np.asarray(values, dtype=float)[order],
        "influence": influence[order],
        "side": side[order] if side.ndim else np.full(len(order), side, dtype=object),
    })
    frame.attrs.update(prediction=float(prediction), user=int(user), item=int(item))
    return frame


def explain_local(problem: LocalProblem, ratings: Ratings, side: str = ALL_SIDES, exact_local: bool = False,
                  extra: dict | None = None) -> pd.DataFrame:
    """The explanation frame of a local problem: FIA (or its exact local leave-one-out) of the
    ratings of ``side``. ``extra``: columns name -> one value per rating of R_t (in
    ``problem.rows`` order), added to the influence and kept as their own columns (``fia_ncf``'s
    network term)."""
    code = check_side(side)
    first, exact = local_influence(problem, exact_local)
    influence = exact if exact_local else first
    rows, cols, values, sides = problem.rows, problem.cols, problem.values, problem.sides
    columns = {}
    if extra:
        columns = {"influence_embeddings": influence, **extra}
        influence = influence + sum(extra.values())
    if code is not None:
        keep = sides == code
        rows, cols, values, sides, influence = rows[keep], cols[keep], values[keep], sides[keep], influence[keep]
        columns = {name: column[keep] for name, column in columns.items()}
    frame = explanation_frame(ratings, problem.user, problem.item, rows, cols, values, influence,
                              _SIDE_NAMES[sides], problem.prediction)
    order = np.argsort(-np.abs(influence), kind="stable")  # the frame's row order
    for name, column in columns.items():
        frame[name] = column[order]
    return frame
