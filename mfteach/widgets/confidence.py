r"""Confidence explorer (lesson 10): one user's closed-form vector for a confidence scale alpha and a
penalty lambda, with the item factors V fixed, and what it does to the user's scores on the
movies they watched and on those they did not.

Implicit ALS (Hu, Koren and Volinsky, ICDM 2008; the lecture slides' "Closed Form") gives user u,
for a fixed V, the weighted ridge solution

.. math::

    u_u = (V^\top C^u V + \lambda I)^{-1} V^\top C^u p_u, \qquad
    V^\top C^u V = V^\top V + V_{\Omega_u}^\top (C^u_{\Omega_u} - I) V_{\Omega_u},
    \qquad c_{ui} = 1 + \alpha r_{ui},

one k x k solve (V^T V is computed once). The scores of the user are s = V u_u. Two ends frame
the slider:

* alpha = 0: every pair weighs 1, a plain ridge fit of the 0/1 row p_u over all n items (the
  zeros are 94% of the targets, so even the watched movies score well below 1);
* alpha -> infinity: dividing the loss by 1 + alpha, the pairs without interaction and lambda
  fade away and what is left is the explicit loss over Omega_u, sum_{i in Omega_u} r_ui
  (1 - v_i . u)^2, which a vector fits without caring about the unwatched movies (lesson 10,
  section 2). ``limit_user_vector`` computes that limit exactly (the slider's "∞").

Three layers (ARCHITECTURE.md, "Widgets"):

* ``prepare_confidence_explorer(V, ratings, test)`` keeps V, V^T V and the data (a
  ``ConfidenceState``), once;
* ``confidence_view(state, user, alpha, reg)`` is the PURE compute function behind every control
  change: the closed form at alpha (and along the whole alpha grid, for the left panel), the
  user's n scores, where the held-out movies rank (a ``ConfidenceView``); one k x k solve per
  alpha, well under a millisecond each;
* ``confidence_explorer(model, ratings, test, ...)`` wires an alpha slider (first), a lambda
  slider and a user slider to an ``Output`` with a caption, a two-panel figure and the top 5.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ..base import check_index, check_ratings
from ..ratings import Ratings
from ._common import FigurePng, escape_html as _escape, guarded, nice_limits, show_outputs

__all__ = [
    "ALPHAS", "REGS", "N_TOP", "ConfidenceState", "ConfidenceView", "prepare_confidence_explorer",
    "user_vector", "limit_user_vector", "confidence_view", "ConfidenceDrawing", "render_confidence_view",
    "ConfidenceExplorer", "confidence_explorer",
]

#: the alpha slider: 0 (every pair weighs 1) ... infinity (the explicit loss over Omega_u)
ALPHAS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0, math.inf)
#: the lambda slider
REGS = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0)
N_TOP = 5  # unwatched movies in the table: what the user would be recommended


# ---------------------------------------------------------------------------- state, once
@dataclass(frozen=True, eq=False)
class ConfidenceState:
    """V (fixed), V^T V and the data of the explorer (from ``prepare_confidence_explorer``)."""

    V: np.ndarray          # (n, k) item factors, fixed
    VtV: np.ndarray        # (k, k) V^T V, shared by every user
    ratings: Ratings       # the interactions r_ui the closed form uses (the training data)
    test: Ratings | None   # held-out interactions (optional), shown as "held out"

    @property
    def shape(self) -> tuple[int, int]:
        return self.ratings.shape

    def watched(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Omega_u (sorted) and the user's raw observations r_ui there."""
        lo, hi = np.searchsorted(self.ratings.rows, [user, user + 1])
        return self.ratings.cols[lo:hi], self.ratings.values[lo:hi]

    def held_out(self, user: int) -> np.ndarray:
        """The user's held-out items in ``test`` that are not in the training data (may be empty)."""
        if self.test is None:
            return np.empty(0, dtype=np.int64)
        lo, hi = np.searchsorted(self.test.rows, [user, user + 1])
        return np.setdiff1d(self.test.cols[lo:hi], self.watched(user)[0])


def prepare_confidence_explorer(V, ratings: Ratings, test: Ratings | None = None) -> ConfidenceState:
    """Check the inputs and compute V^T V once.

    ``V`` is the n x k item-factor matrix (or a fitted model with ``V_``, e.g. ``mt.ImplicitALS``);
    ``ratings`` the user-item interactions r_ui >= 0 (c_ui = 1 + alpha r_ui, p_ui = [r_ui > 0]);
    ``test`` optional held-out interactions of the same shape."""
    if hasattr(V, "fit"):  # a model: its item factors
        if getattr(V, "V_", None) is None:
            raise ValueError(f"the {type(V).__name__} is not fitted: it has no item factors V_")
        V = V.V_
    V = np.asarray(V, dtype=float)
    if V.ndim != 2 or V.shape[0] == 0 or V.shape[1] == 0:
        raise ValueError(f"V must be a non-empty n x k matrix, got shape {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("V contains NaN or inf")
    check_ratings("ratings", ratings)
    if ratings.shape[1] != V.shape[0]:
        raise ValueError(f"V has {V.shape[0]} rows but the ratings have {ratings.shape[1]} items")
    if np.any(ratings.values < 0):
        raise ValueError("implicit observations r_ui must be >= 0 (c_ui = 1 + alpha r_ui)")
    if test is not None:
        check_ratings("test", test, ratings.shape)
    return ConfidenceState(V, V.T @ V, ratings, test)


# ---------------------------------------------------------------------------- the closed form
def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or math.isnan(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a number >= 0 (math.inf for the limit), got {alpha!r}")
    return float(alpha)


def _check_reg(reg) -> float:
    if isinstance(reg, bool) or not isinstance(reg, numbers.Real) or not math.isfinite(reg) or reg <= 0:
        raise ValueError(f"reg (lambda) must be a finite number > 0, got {reg!r}")
    return float(reg)


def user_vector(state: ConfidenceState, items: np.ndarray, r: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """u_u = (V^T C^u V + lambda I)^{-1} V^T C^u p_u for the user with interactions ``r`` on
    ``items``, with V^T C^u V = V^T V + V_O^T (C^u_O - I) V_O: one k x k solve. ``alpha`` = inf
    gives ``limit_user_vector``."""
    if math.isinf(alpha):
        return limit_user_vector(state, items, r, reg)
    V_O = state.V[items]
    p = (r > 0).astype(float)                            # p_ui on Omega_u (0 elsewhere)
    c = 1.0 + alpha * r                                  # c_ui on Omega_u (1 elsewhere)
    A = state.VtV + V_O.T @ ((c - 1.0)[:, None] * V_O)   # V^T V + V^T (C^u - I) V
    A[np.diag_indices_from(A)] += reg                    # + lambda I
    return np.linalg.solve(A, V_O.T @ (c * p))           # V^T C^u p_u: only Omega_u has p_ui = 1


def limit_user_vector(state: ConfidenceState, items: np.ndarray, r: np.ndarray, reg: float,
                      rcond: float = 1e-10) -> np.ndarray:
    """The limit of ``user_vector`` as alpha -> infinity.

    Divided by alpha the user's loss is sum_{i in Omega_u} r_ui (p_ui - v_i . u)^2 + O(1/alpha):
    the limit minimizes that explicit weighted loss over Omega_u, and among its minimizers (many
    when the rated rows V_O have rank < k) the remaining part ||p_u - V u||^2 + lambda ||u||^2.
    With W = sqrt(r) V_O: u = u0 + N z, u0 = pinv(W) sqrt(r) p_O, N a basis of the null space of
    W, z = (N^T Q N)^{-1} N^T (V^T p_u - Q u0), Q = V^T V + lambda I."""
    V_O = state.V[items]
    p = (r > 0).astype(float)
    w = np.sqrt(r)
    W = w[:, None] * V_O
    k = state.V.shape[1]
    _, s, Bt = np.linalg.svd(W, full_matrices=True)
    rank = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    t = w * p
    u0 = Bt[:rank].T @ ((Bt[:rank] @ W.T @ t) / s[:rank] ** 2) if rank else np.zeros(k)
    if rank == k:
        return u0
    N = Bt[rank:].T                                      # (k, k - rank) null-space basis of W
    Q = state.VtV + reg * np.eye(k)
    z = np.linalg.solve(N.T @ Q @ N, N.T @ (V_O.T @ p - Q @ u0))
    return u0 + N @ z


# ---------------------------------------------------------------------------- the view
@dataclass(frozen=True, eq=False)
class ConfidenceView:
    """One user's closed-form vector and scores for one (alpha, lambda), and the alpha path."""

    user: int
    alpha: float               # math.inf: the limit (explicit loss over Omega_u)
    reg: float
    u: np.ndarray              # (k,) u_u
    scores: np.ndarray         # (n,) s = V u_u
    watched: np.ndarray        # Omega_u, sorted
    held_out: np.ndarray       # the user's held-out items (maybe empty)
    alphas: np.ndarray         # the path's alphas (ALPHAS)
    path_watched: np.ndarray   # mean score over Omega_u at each alpha of the path
    path_unwatched: np.ndarray  # mean score over the unwatched items at each alpha
    path_tenth: np.ndarray     # the 10th highest unwatched score at each alpha (top-10 threshold)
    path_held: np.ndarray      # (len(alphas), len(held_out)) the held-out items' scores
    path_low: np.ndarray | None = None   # the lowest of the n scores at each alpha
    path_high: np.ndarray | None = None  # the highest of the n scores at each alpha

    @property
    def unwatched(self) -> np.ndarray:
        """Boolean mask of the items not in Omega_u (held-out items included: they are candidates)."""
        mask = np.ones(len(self.scores), dtype=bool)
        mask[self.watched] = False
        return mask

    @property
    def watched_mean(self) -> float:
        return float(self.scores[self.watched].mean())

    @property
    def unwatched_mean(self) -> float:
        rest = self.scores[self.unwatched]
        return float(rest.mean()) if rest.size else math.nan

    def held_out_ranks(self) -> np.ndarray:
        """Rank (1 = top) of each held-out item among the unwatched items, ties counted against it."""
        rest = self.scores[self.unwatched]
        return np.array([1 + int(np.sum(rest > self.scores[i])) for i in self.held_out], dtype=np.int64)

    def top(self, n: int = N_TOP) -> np.ndarray:
        """The ``n`` unwatched items with the highest scores, best first."""
        candidates = np.flatnonzero(self.unwatched)
        order = np.argsort(-self.scores[candidates], kind="stable")[:n]
        return candidates[order]


def _summary(state: ConfidenceState, items, r, held, alpha, reg):
    n = state.V.shape[0]
    mask = np.ones(n, dtype=bool)
    mask[items] = False
    u = user_vector(state, items, r, alpha, reg)
    s = state.V @ u
    rest = s[mask]
    tenth = float(np.partition(rest, rest.size - 10)[rest.size - 10]) if rest.size >= 10 else (
        float(rest.min()) if rest.size else math.nan)
    return (u, s, float(s[items].mean()), float(rest.mean()) if rest.size else math.nan, tenth, s[held],
            float(s.min()), float(s.max()))


def confidence_view(state: ConfidenceState, user: int, alpha: float, reg: float, alphas=ALPHAS) -> ConfidenceView:
    """The closed form u_u for ``user`` at (``alpha``, ``reg``) with V fixed, the user's scores
    V u_u, and the same summary along ``alphas`` (mean watched score, mean unwatched score, the
    10th highest unwatched score, the held-out items' scores, the lowest and highest score). Pure;
    one k x k solve per alpha.

    Raises ValueError for a user without interactions (nothing to fit) or bad alpha/reg."""
    if not isinstance(state, ConfidenceState):
        raise TypeError(f"state must be a ConfidenceState (from prepare_confidence_explorer), "
                        f"got {type(state).__name__}")
    user = check_index("user", user, state.shape[0], "row")
    alpha, reg = _check_alpha(alpha), _check_reg(reg)
    path = np.array([_check_alpha(a) for a in alphas], dtype=float)
    items, r = state.watched(user)
    if items.size == 0:
        raise ValueError(f"user {user} has no interactions: p_u is all zeros and u_u = 0")
    held = state.held_out(user)
    u, s, *_ = _summary(state, items, r, held, alpha, reg)
    rows = [_summary(state, items, r, held, a, reg)[2:] for a in path]
    return ConfidenceView(
        user, alpha, reg, u, s, items, held, path,
        path_watched=np.array([row[0] for row in rows]), path_unwatched=np.array([row[1] for row in rows]),
        path_tenth=np.array([row[2] for row in rows]),
        path_held=np.array([row[3] for row in rows]).reshape(len(path), len(held)),
        path_low=np.array([row[4] for row in rows]), path_high=np.array([row[5] for row in rows]))


# ---------------------------------------------------------------------------- display
def _alpha_label(alpha: float) -> str:
    return "∞" if math.isinf(alpha) else f"{alpha:g}"


def _short(text, width: int = 38) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


class ConfidenceDrawing:
    """The explorer's figure, built once: (left) the mean score of the watched and of the unwatched
    movies, the 10th best unwatched score (the bar a movie must clear to enter the top 10) and the
    held-out movie's score along the alpha grid, the alpha shown framed in yellow; (right) the
    histogram of the user's n scores at that alpha, watched (line) against unwatched (filled),
    the held-out movie marked. ``update(view)`` only moves the artists (no new figure per change).
    ``fig`` is a bare ``Figure`` (not registered with pyplot); ``axes`` = (path, histogram).

    The axis limits are rounded outwards (``nice_limits``), so that nearby views share their ticks,
    and the histogram's x range holds the scores of every alpha of the path (the alpha slider
    keeps it: only the bars and the density axis move);
    ``key`` names the still parts after an update and ``moving`` lists the artists a change moves
    (for ``FigurePng``). ``titles=False`` (the explorer, whose caption names the user, alpha,
    lambda and held-out movie) keeps the titles and legend fixed, so only data moves."""

    def __init__(self, alphas=ALPHAS, with_held_out: bool = True, n_bins: int = 40, titles: bool = True):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        self.alphas = np.asarray(alphas, dtype=float)
        self.n_bins, self.titles, self.key = int(n_bins), bool(titles), None
        fig = self.fig = Figure(figsize=(11.5, 3.7))
        ax = fig.add_axes((0.065, 0.15, 0.40, 0.70))
        x = np.arange(len(self.alphas))
        nan = np.full(len(x), np.nan)
        self.frame = ax.add_patch(Rectangle((-0.35, -1e3), 0.7, 2e3, color=plots.PALETTE["yellow"], alpha=0.35, lw=0))
        (self.watched,) = ax.plot(x, nan, "o-", color="C0", label="watched: mean")
        (self.unwatched,) = ax.plot(x, nan, "s--", color="C1", label="unwatched: mean")
        (self.tenth,) = ax.plot(x, nan, "v:", color="C4", label="unwatched: 10th best (top-10 bar)")
        (self.held,) = ax.plot(x, nan, "^-", color="C2", lw=2, ms=7, label="held-out movie")
        levels = [ax.axhline(1, color="0.6", lw=0.8), ax.axhline(0, color="0.6", lw=0.8)]
        ax.set_xticks(x)
        ax.set_xticklabels([_alpha_label(a) for a in self.alphas])
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_xlabel("confidence scale α  (0: every pair weighs 1; ∞: explicit loss over $\\Omega_u$)")
        ax.set_ylabel("score $v_i^\\top u_u$")
        handles = [self.watched, self.unwatched, self.tenth] + ([self.held] if with_held_out else [])
        ax.legend(handles=handles, frameon=False, fontsize=9, loc="upper left")
        self.path_title = ax.set_title("" if titles else "mean scores as confidence grows, V fixed\n(yellow: the α of "
                                       "the right panel)", fontsize=10, y=1.0)  # fixed: no overlap search per draw

        ax2 = fig.add_axes((0.56, 0.15, 0.42, 0.70))
        edges = np.linspace(0, 1, self.n_bins + 1)
        zeros = np.zeros(self.n_bins)
        self.unwatched_bars = ax2.stairs(zeros, edges, fill=True, color="C1", alpha=0.55, label="unwatched")
        self.watched_bars = ax2.stairs(zeros, edges, color="C0", lw=2, label="watched (line)")
        self.held_line = ax2.axvline(0, color="C2", lw=2, marker="^", ms=10, markevery=[0], label="held out")
        one = ax2.axvline(1, color="0.6", lw=0.8, ls=":")
        ax2.set_xlabel("score $v_i^\\top u_u$")
        ax2.set_ylabel("density")
        handles = [self.unwatched_bars, self.watched_bars] + ([self.held_line] if with_held_out else [])
        self.hist_legend = ax2.legend(handles=handles, frameon=False, fontsize=9, loc="upper right")
        self.hist_title = ax2.set_title("" if titles else "the user's scores at the chosen α", fontsize=10, y=1.0)
        self.axes = (ax, ax2)
        self.moving = [self.frame, *levels, self.watched, self.unwatched, self.tenth, self.held,
                       ax2.yaxis, self.unwatched_bars, self.watched_bars, one, self.held_line]
        if titles:
            self.moving += [self.path_title, self.hist_legend, self.hist_title]

    def update(self, view: ConfidenceView, label: str | None = None):
        """Show ``view`` (computed on this drawing's alpha grid); ``label``: the held-out movie's
        title. Returns the figure."""
        if len(view.alphas) != len(self.alphas) or not np.array_equal(view.alphas, self.alphas):
            raise ValueError("this view was computed on another alpha grid; make a ConfidenceDrawing for it")
        ax, ax2 = self.axes
        has_held = view.held_out.size > 0
        self.watched.set_ydata(view.path_watched)
        self.unwatched.set_ydata(view.path_unwatched)
        self.tenth.set_ydata(view.path_tenth)
        self.held.set_ydata(view.path_held[:, 0] if has_held else np.full(len(self.alphas), np.nan))
        current = np.flatnonzero(self.alphas == view.alpha)
        self.frame.set_visible(current.size > 0)
        if current.size:
            self.frame.set_x(current[0] - 0.35)
        shown = [view.path_watched, view.path_unwatched, view.path_tenth, view.path_held.ravel(), [0.0, 1.0]]
        lo, hi = min(float(np.nanmin(v)) for v in shown if len(v)), max(float(np.nanmax(v)) for v in shown if len(v))
        pad = 0.06 * (hi - lo)
        path_limits = nice_limits(lo - pad, hi + 3 * pad, 0.25)
        ax.set_ylim(*path_limits)
        if self.titles:
            self.path_title.set_text(f"user {view.user} ({len(view.watched)} watched), λ = {view.reg:g}: scores as "
                                     f"confidence grows\n(V fixed; yellow: the α of the right panel)")

        s = view.scores
        lo, hi = min(float(s.min()), 0.0), max(float(s.max()), 1.0)
        edges = np.linspace(lo, hi, self.n_bins + 1)
        if view.path_low is not None:  # the x range of every alpha of the path: the alpha slider keeps it
            lo, hi = min(lo, float(view.path_low.min())), max(hi, float(view.path_high.max()))
        width = edges[1] - edges[0]
        rest, seen = s[view.unwatched], s[view.watched]
        density = [np.histogram(v, edges)[0] / max(len(v), 1) / width for v in (rest, seen)]
        self.unwatched_bars.set_data(density[0], edges)
        self.watched_bars.set_data(density[1], edges)
        top = 1.45 * max(float(density[0].max()), float(density[1].max()), 1e-9)
        x_limits = nice_limits(lo - width, hi + width, 0.25)  # (width: of the bins of this alpha)
        y_limits = nice_limits(0.0, top, 10.0 ** math.floor(math.log10(top)) / 2)
        ax2.set_xlim(*x_limits)
        ax2.set_ylim(*y_limits)
        self.held_line.set_visible(has_held)
        if has_held:
            value = float(s[view.held_out[0]])
            self.held_line.set_xdata([value, value])
            texts = self.hist_legend.get_texts()
            if len(texts) == 3 and self.titles:
                texts[2].set_text(f"held out: {_short(label, 32)}" if label is not None else "held out")
        if self.titles:
            self.hist_title.set_text(f"α = {_alpha_label(view.alpha)}: the user's {len(s)} scores")
        self.key = (path_limits, x_limits)  # the histogram's y axis moves with the data
        return self.fig


def render_confidence_view(view: ConfidenceView, label: str | None = None):
    """The two panels of ``ConfidenceDrawing`` for ``view``, in a new bare ``Figure``."""
    return ConfidenceDrawing(view.alphas, with_held_out=view.held_out.size > 0).update(view, label)


def _caption(state: ConfidenceState, view: ConfidenceView) -> HTML:
    ratings = state.ratings
    if math.isinf(view.alpha):
        setting = ("α → ∞: the pairs without interaction and λ fade away; u<sub>u</sub> fits the explicit loss "
                   "over the watched movies only")
    elif view.alpha == 0:
        setting = "α = 0: every pair weighs 1, a plain ridge fit of the 0/1 row p<sub>u</sub>"
    elif np.all(ratings.values == 1):
        setting = f"α = {view.alpha:g}: a watched movie weighs c = 1 + α = {1 + view.alpha:g} times an unwatched one"
    else:
        setting = f"α = {view.alpha:g}: c<sub>ui</sub> = 1 + {view.alpha:g} r<sub>ui</sub> on the watched movies"
    text = (f"User {view.user} watched {len(view.watched)} of {len(view.scores)} movies. {setting} "
            f"(λ = {view.reg:g}). Mean score: watched <b>{view.watched_mean:.2f}</b>, unwatched "
            f"<b>{view.unwatched_mean:.2f}</b>.")
    if view.held_out.size:
        rank = int(view.held_out_ranks()[0])
        title = _escape(ratings.item_labels(view.held_out[:1])[0])
        verdict = "in the top 10" if rank <= 10 else "not in the top 10"
        text += (f"<br>Held-out movie <b>{title}</b>: score {view.scores[view.held_out[0]]:.2f}, rank <b>{rank}</b> of "
                 f"{int(view.unwatched.sum())} unwatched ({verdict}).")
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['blue']}; padding-left:8px'>{text}</div>")


def _top_table(state: ConfidenceState, view: ConfidenceView) -> pd.DataFrame:
    top = view.top(N_TOP)
    held = set(view.held_out.tolist())
    labels = [("▶ " if i in held else "") + _short(t, 48) for i, t in zip(top, state.ratings.item_labels(top))]
    return pd.DataFrame({"score": view.scores[top].round(3)},
                        index=pd.Index(labels, name=f"top {len(top)} unwatched at α = {_alpha_label(view.alpha)}"))


class ConfidenceExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        view = getattr(self, "view", None)
        if view is None:  # not built yet
            return "ConfidenceExplorer()"
        return (f"ConfidenceExplorer(user={view.user}, alpha={_alpha_label(view.alpha)}, reg={view.reg:g}, "
                f"{len(view.watched)} watched)")


def _grid(values, value, name: str):
    """The slider's options: ``values`` plus ``value`` when it is not among them, sorted."""
    merged = sorted(set(float(v) for v in values) | {float(value)})
    return [(_alpha_label(v) if name == "alpha" else f"{v:g}", v) for v in merged]


def confidence_explorer(model, ratings: Ratings, test: Ratings | None = None, user: int | None = None,
                        alpha: float | None = None, reg: float | None = None) -> ConfidenceExplorer:
    """Build the confidence explorer (call it as a cell's last expression).

    Controls: a selection slider for the confidence scale alpha (first; ``ALPHAS``, 0 to ∞), one
    for lambda (``REGS``) and an integer slider for the user (its number can be typed into the
    readout). Every change is ``confidence_view`` (one k x k solve per alpha of the grid) and a
    redraw: a caption, the two-panel figure of ``render_confidence_view`` and the user's top
    ``N_TOP`` unwatched movies at this alpha.

    Parameters
    ----------
    model : a fitted ``mt.ImplicitALS`` (or any model with ``V_``), or the n x k array V
        Its item factors stay fixed; only the user's vector is re-solved.
    ratings : Ratings
        The interactions the closed form uses (the training data).
    test : Ratings, optional
        Held-out interactions: the first held-out movie of the user is followed.
    user : int, optional
        Default: the first user with an interaction.
    alpha, reg : float, optional
        Start values; default the model's ``alpha`` and ``reg`` (else 1 and 10), added to the
        sliders when they are not on them.

    Returns a ``ConfidenceExplorer`` with ``alpha``, ``reg``, ``user`` (the sliders), ``out``,
    ``state`` (the ``ConfidenceState``) and ``view`` (the last ``ConfidenceView``).
    """
    state = prepare_confidence_explorer(model, ratings, test)
    m = ratings.shape[0]
    counts = ratings.user_counts()
    if not np.any(counts):
        raise ValueError("the ratings hold no interaction: there is no user to show")
    user = int(np.flatnonzero(counts)[0]) if user is None else check_index("user", user, m, "row")
    alpha = _check_alpha(getattr(model, "alpha", 1.0) if alpha is None else alpha)
    reg = _check_reg(getattr(model, "reg", 10.0) if reg is None else reg)
    confidence_view(state, user, alpha, reg)  # a bad start raises here, not inside a callback
    style = {"description_width": "110px"}
    alpha_slider = widgets.SelectionSlider(options=_grid(ALPHAS, alpha, "alpha"), value=alpha,
                                           description="confidence α", continuous_update=False,
                                           layout=widgets.Layout(width="440px"), style=style)
    reg_slider = widgets.SelectionSlider(options=_grid(REGS, reg, "reg"), value=reg, description="penalty λ",
                                         continuous_update=False, layout=widgets.Layout(width="360px"), style=style)
    user_slider = widgets.IntSlider(value=user, min=0, max=m - 1, description="user", continuous_update=False,
                                    layout=widgets.Layout(width="440px"), style=style)
    out = widgets.Output()
    box = ConfidenceExplorer([widgets.HBox([alpha_slider, reg_slider]), user_slider, out])
    box.alpha, box.reg, box.user, box.out, box.state, box.view = alpha_slider, reg_slider, user_slider, out, state, None

    # built once; a change moves its artists. The caption names user, alpha, lambda and held-out movie
    drawing = ConfidenceDrawing(ALPHAS, with_held_out=test is not None, titles=False)
    image = FigurePng(drawing.fig, drawing.moving)  # the still parts drawn once per axis limits
    controls = (alpha_slider, reg_slider, user_slider)

    def redraw(_change=None):
        with guarded(out, *controls):
            try:
                view = confidence_view(state, user_slider.value, alpha_slider.value, reg_slider.value)
            except ValueError as exc:  # e.g. a user without interactions: say so in the output
                show_outputs(out, HTML(f"<i>{_escape(exc)}</i>"))
                return
            box.view = view
            label = ratings.item_labels(view.held_out[:1])[0] if view.held_out.size else None
            drawing.update(view, label)
            show_outputs(out, _caption(state, view), Image(data=image.png(drawing.key), format="png"),
                         _top_table(state, view))

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    return box
