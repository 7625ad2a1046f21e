"""Exercises of lesson 02_gradient_descent (registered on import)."""

from __future__ import annotations

import numpy as np

from ..data import toy
from . import Diagnostic, register

# ============================================================================ lesson 02
# The book's loss (eq. 9.5) is a MEAN over Omega; with the slides' ridge penalty inside the
# same mean it is mfteach's loss (mfteach.gd):
#     L(U, V) = (1/|Omega|) [ sum_Omega (r_ui - u_u . v_i)^2 + lambda (sum_u ||u_u||^2 + sum_i ||v_i||^2) ]
# and its gradient (book eq. 9.6-9.7 plus the penalty), with E the residuals on Omega (0 elsewhere):
#     grad_U = (2/|Omega|) (-E V + lambda U),   grad_V = (2/|Omega|) (-E^T U + lambda V).
LESSON_02 = "02_gradient_descent"


def _random_ratings(rng, m: int, n: int, known: float) -> np.ndarray:
    """Integer stars 1..5 with each entry known with probability ``known`` (NaN otherwise)."""
    R = rng.integers(1, 6, size=(m, n)).astype(float)
    R[rng.random((m, n)) >= known] = np.nan
    return R


# ---------------------------------------------------------------------------- full_gradient
def _full_gradient_cases(rng):
    """The slides' 4 x 6 example first, then random shapes: tall, wide, square (where a swap of
    grad_U and grad_V keeps the shapes), a user and an item without ratings, rank 1."""
    cases = [(toy("lecture_R"), toy("lecture_U"), toy("lecture_Vt").T, 0.1)]
    for m, n, k, reg in [(5, 4, 2, 0.5), (6, 6, 3, 1.0), (3, 9, 1, 0.05), (12, 10, 4, 2.0), (7, 7, 2, 0.3)]:
        R = _random_ratings(rng, m, n, known=0.5)
        R[0, 0], R[-1, -1] = 3.0, np.nan  # at least one known and one unknown entry
        cases.append((R, 0.5 * rng.normal(size=(m, k)), 0.5 * rng.normal(size=(n, k)), reg))
    cases[2][0][1, :] = np.nan   # a user without any rating: only the penalty moves u_1
    cases[4][0][:, 2] = np.nan   # an item without any rating
    cases[4][0][0, 0] = 4.0
    return cases


# Building blocks of the wrong answers below (the reference itself is written out in full).
def _residuals(R, U, V):
    """E: r_ui - u_u . v_i on Omega, 0 on the unknown entries."""
    return np.where(np.isnan(R), 0.0, R - U @ V.T)


def _count_known(R):
    return np.count_nonzero(~np.isnan(R))


def _gradient(R, U, V, reg, factor=2.0, count=None, data_sign=-1.0, reg_factor=None, E=None):
    """A family of (grad_U, grad_V) = factor / count * (data_sign * E V + reg_factor * reg * U), ..."""
    E = _residuals(R, U, V) if E is None else E
    count = _count_known(R) if count is None else count
    reg_factor = factor if reg_factor is None else reg_factor
    grad_U = (factor * data_sign * E @ V + reg_factor * reg * U) / count
    grad_V = (factor * data_sign * E.T @ U + reg_factor * reg * V) / count
    return grad_U, grad_V


def _swapped(R, U, V, reg):
    grad_U, grad_V = full_gradient(R, U, V, reg)
    return grad_V, grad_U


def _transposed_V(R, U, V, reg):
    grad_U, grad_V = full_gradient(R, U, V, reg)
    return grad_U, grad_V.T


def _negated(R, U, V, reg):
    grad_U, grad_V = full_gradient(R, U, V, reg)
    return -grad_U, -grad_V


@register(
    lesson=LESSON_02,
    title="the full gradient of the mean regularized loss (book eq. 9.6-9.7 plus the penalty)",
    cases=_full_gradient_cases,
    hints=[
        "Start from the residuals on the known entries: E = R - U Vᵀ where R is known, 0 where it is NaN "
        "(np.where(np.isnan(R), 0.0, R - U @ V.T)). Unknown entries must contribute nothing.",
        "Book eq. 9.6 in matrix form: row u of −E V is −Σ_{i ∈ Ω_u} e_ui v_i. So the data part of grad_U is "
        "−2 E V / |Ω|, and of grad_V (eq. 9.7) −2 Eᵀ U / |Ω|.",
        "The penalty λ(Σ‖u_u‖² + Σ‖v_i‖²) sits inside the mean: its gradient is 2λU / |Ω| for U and "
        "2λV / |Ω| for V. |Ω| is np.count_nonzero(~np.isnan(R)).",
        "grad_U = 2 / n_known * (-E @ V + reg * U);  grad_V = 2 / n_known * (-E.T @ U + reg * V);  "
        "return grad_U, grad_V",
    ],
    diagnostics=[
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, E=R - U @ V.T),
                   "NaN: the unknown entries were not masked. NaN − anything is NaN, and E V mixes every "
                   "entry of a row, so one NaN spoils a whole row of the gradient. Set the residual to 0 "
                   "where R is NaN: np.where(np.isnan(R), 0.0, R - U @ V.T)."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, E=np.nan_to_num(R) - U @ V.T),
                   "You counted the unknown entries as ratings of 0 (np.nan_to_num(R)): their residual "
                   "0 − u_u·v_i then pulls every prediction towards 0. The residual must be 0 there, "
                   "not the rating."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, factor=1.0),
                   "Your gradient is half the expected one: the derivative of (r − u·v)² is "
                   "2 (r − u·v) · (−v), and of λ‖u‖² it is 2λu. Keep the factor 2 (book eq. 9.6)."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, count=1),
                   "You left out the 1/|Ω|: that is the gradient of the slides' SUMMED loss, |Ω| times "
                   "the gradient of the book's mean loss (eq. 9.5). Divide by |Ω| = np.count_nonzero(~np.isnan(R))."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, count=R.size),
                   "You divided by m·n, all entries; the mean of eq. 9.5 is over the |Ω| KNOWN entries."),
        Diagnostic(_negated,
                   "The sign is flipped: you returned −∇L, the descent direction that a GD step adds. "
                   "The gradient itself is 2/|Ω| (−E V + λU): a rating above its prediction (e_ui > 0) "
                   "makes it point AWAY from v_i, so that the step −lr ∇L moves u_u towards v_i."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, data_sign=1.0),
                   "The data term has the wrong sign: ∂/∂u_u of (r_ui − u_u·v_i)² is −2 e_ui v_i, so the data "
                   "part is −2 E V / |Ω| (the penalty part +2λU/|Ω| is right)."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, 0.0),
                   "The regularization is missing: the penalty λ(Σ‖u_u‖² + Σ‖v_i‖²) adds 2λU/|Ω| to "
                   "grad_U and 2λV/|Ω| to grad_V."),
        Diagnostic(lambda R, U, V, reg: _gradient(R, U, V, reg, reg_factor=1.0),
                   "The penalty's gradient lacks its factor 2: d/du (λ‖u‖²) = 2λu, so it is 2λU/|Ω|."),
        Diagnostic(lambda R, U, V, reg: tuple(g + 2 * reg * W for g, W in zip(_gradient(R, U, V, 0.0), (U, V))),
                   "You put λ outside the mean (2λU instead of 2λU/|Ω|). In mfteach's loss (and in the "
                   "slides') the penalty is divided by |Ω| together with the squared errors."),
        Diagnostic(_swapped,
                   "grad_U and grad_V are swapped: return (grad_U, grad_V), grad_U of shape (m, k) like U "
                   "and grad_V of shape (n, k) like V."),
        Diagnostic(_transposed_V,
                   "grad_V is transposed: it must have V's shape (n, k), one row per item. Eᵀ U is (n x m)(m x k)."),
    ],
)
def full_gradient(R, U, V, reg):
    r"""The gradient of the mean regularized loss (book eq. 9.5 with the penalty inside the mean).

    .. math::
        \nabla_U L = \frac{2}{|\Omega|}(-E V + \lambda U), \qquad
        \nabla_V L = \frac{2}{|\Omega|}(-E^\top U + \lambda V)

    with E the residuals r_ui - u_u . v_i on Omega and 0 elsewhere (book eq. 9.6-9.7: row u of
    -E V is the sum over the items i rated by u of -e_ui v_i).

    Parameters
    ----------
    R : ndarray, shape (m, n)
        Ratings, NaN where unknown; Omega is the set of known entries.
    U : ndarray, shape (m, k)
        User factors.
    V : ndarray, shape (n, k)
        Item factors.
    reg : float
        lambda, the weight of the penalty.

    Returns
    -------
    (grad_U, grad_V) : ndarrays of shapes (m, k) and (n, k)
    """
    known = ~np.isnan(R)                              # Omega
    E = np.where(known, R - U @ V.T, 0.0)             # e_ui on Omega, 0 on the unknown entries
    n_known = np.count_nonzero(known)                 # |Omega|
    grad_U = 2 / n_known * (-E @ V + reg * U)         # eq. 9.6 + the penalty's 2 lambda u_u
    grad_V = 2 / n_known * (-E.T @ U + reg * V)       # eq. 9.7 + the penalty's 2 lambda v_i
    return grad_U, grad_V
