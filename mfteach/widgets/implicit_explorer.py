r"""alpha/lambda explorer (lesson 11): one user's top 10 from implicit ALS, which of the user's
held-out items it finds, and precision/recall/nDCG@10 over all users, for a grid of confidence
scales alpha and penalties lambda.

Implicit ALS (``mfteach.implicit``, Hu, Koren and Volinsky 2008) minimizes

.. math::

    \sum_{u, i} c_{ui}\,(p_{ui} - u_u^\top v_i)^2 + \lambda\Big(\sum_u\|u_u\|^2 + \sum_i\|v_i\|^2\Big),
    \qquad c_{ui} = 1 + \alpha\, r_{ui},

over ALL m x n pairs. alpha says how much more an interaction counts than a pair without one;
lambda how strongly the factors are pulled to zero. Dividing the loss by 1 + alpha shows the
trade-off: as alpha grows, the pairs without an interaction (weight 1 / (1 + alpha)) fade away
and the loss tends to the explicit loss over Omega, which cannot rank (lesson 10, section 2).

Three layers (ARCHITECTURE.md, "Widgets"):

* ``implicit_grid(train, test, alphas, regs, ...)`` fits ``mt.ImplicitALS`` once per
  (alpha, lambda) and keeps its factors, the mean precision/recall/nDCG@k over the users with
  held-out items, and the popularity baseline's (an ``ImplicitGrid``). Pure; a plain loop.
* ``implicit_view(grid, alpha, reg, user)`` is the PURE compute function behind a control
  change: a lookup plus one user's n scores, their top k without the user's training items,
  and the position of each held-out item (an ``ImplicitView``), well under a millisecond.
* ``ImplicitDrawing`` draws the two metric maps once and only moves the frames;
  ``implicit_als_explorer(grid, ...)`` wires an alpha slider (first), a lambda slider and a
  user picker to an ``Output``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ..base import check_index, check_non_negative, check_positive_int, check_ratings
from ..baseline import Popularity
from ..implicit import ImplicitALS
from ..metrics import ndcg_at_k, precision_at_k, ranking_report, recall_at_k
from ._common import (
    FigurePng, escape_html as _escape, grid_index as _index_of, guarded, progress_bar as _progress_bar, show_outputs,
    type_ahead,
)

__all__ = [
    "ALPHAS", "REGS", "RANK", "N_ITERS", "ImplicitGrid", "ImplicitView", "implicit_grid", "implicit_view",
    "ImplicitDrawing", "render_implicit_view", "ImplicitExplorer", "implicit_als_explorer",
]

#: The lesson's grid: confidence scales alpha (0 = every pair counts the same; 40 = Hu et al.'s
#: choice), penalties lambda, and the rank, iterations and solver of every cell.
ALPHAS = (0.0, 1.0, 3.0, 10.0, 40.0)
REGS = (1.0, 10.0, 30.0, 100.0)
RANK = 24
N_ITERS = 6
CG_STEPS = 3

_METRICS = ("precision", "recall", "ndcg")


# ---------------------------------------------------------------------------- the grid
@dataclass(frozen=True, eq=False)
class ImplicitGrid:
    """Implicit ALS fitted for every (alpha, lambda) of a grid (from ``implicit_grid``).

    ``U[a, b]`` and ``V[a, b]`` are the factors of ``alphas[a]`` and ``regs[b]``;
    ``precision[a, b]``, ``recall[a, b]`` and ``ndcg[a, b]`` their mean metrics@k over the users
    with held-out items in ``test``; ``popularity`` the same three for ``mt.Popularity``.
    """

    alphas: np.ndarray       # (A,) increasing floats >= 0
    regs: np.ndarray         # (L,) increasing floats > 0
    U: np.ndarray            # (A, L, m, rank)
    V: np.ndarray            # (A, L, n, rank)
    precision: np.ndarray    # (A, L)
    recall: np.ndarray       # (A, L)
    ndcg: np.ndarray         # (A, L)
    seconds: np.ndarray      # (A, L) fit time of each cell
    popularity: pd.Series    # precision@k, recall@k, ndcg@k of the popularity baseline
    train: object            # Ratings the models learned from
    test: object             # Ratings of the held-out items
    rank: int
    n_iters: int
    solver: str
    cg_steps: int
    k: int = 10
    label: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.alphas), len(self.regs))

    def metric(self, name: str) -> np.ndarray:
        """The (A, L) array of ``name`` = "precision", "recall" or "ndcg"."""
        if name not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {name!r}")
        return getattr(self, name)

    def table(self, metric: str = "ndcg") -> pd.DataFrame:
        """``metric``@k of every cell as an alpha x lambda table."""
        return pd.DataFrame(self.metric(metric), index=pd.Index([f"{a:g}" for a in self.alphas], name="alpha"),
                            columns=pd.Index([f"{r:g}" for r in self.regs], name="lambda"))

    def frame(self) -> pd.DataFrame:
        """One row per cell: alpha, lambda, precision@k, recall@k, ndcg@k, seconds."""
        a, r = np.meshgrid(self.alphas, self.regs, indexing="ij")
        k = self.k
        return pd.DataFrame({"alpha": a.ravel(), "lambda": r.ravel(), f"precision@{k}": self.precision.ravel(),
                             f"recall@{k}": self.recall.ravel(), f"ndcg@{k}": self.ndcg.ravel(),
                             "seconds": self.seconds.ravel()})

    def best(self, metric: str = "ndcg") -> tuple[float, float, float]:
        """(alpha, lambda, value) of the cell with the highest ``metric`` (first one on ties)."""
        values = self.metric(metric)
        a, b = np.unravel_index(int(np.argmax(values)), self.shape)
        return float(self.alphas[a]), float(self.regs[b]), float(values[a, b])


def _check_axes(alphas, regs):
    alphas = np.array([check_non_negative("alpha", a) for a in np.atleast_1d(alphas).tolist()], dtype=float)
    regs = np.array([check_non_negative("reg", r) for r in np.atleast_1d(regs).tolist()], dtype=float)
    if len(alphas) == 0 or len(regs) == 0:
        raise ValueError("alphas and regs must each hold at least one value")
    if np.any(np.diff(alphas) <= 0):
        raise ValueError(f"alphas must be strictly increasing, got {alphas.tolist()}")
    if np.any(regs <= 0) or np.any(np.diff(regs) <= 0):
        raise ValueError(f"regs must be > 0 and strictly increasing, got {regs.tolist()}")
    return alphas, regs


def _means(report: pd.DataFrame) -> tuple[float, float, float]:
    return tuple(float(report[name].mean()) for name in _METRICS)


def implicit_grid(train, test, alphas=ALPHAS, regs=REGS, rank: int = RANK, n_iters: int = N_ITERS,
                  solver: str = "cg", cg_steps: int = CG_STEPS, seed: int = 0, k: int = 10,
                  label: str = "", progress: bool = False) -> ImplicitGrid:
    """Fit implicit ALS for every alpha in ``alphas`` and lambda in ``regs``; score the top k.

    Each cell is exactly ``mt.ImplicitALS(rank=rank, reg=lambda, alpha=alpha, n_iters=n_iters,
    solver=solver, cg_steps=cg_steps, seed=seed).fit(train)``; its top-k lists (the user's
    training items excluded) are scored against ``test`` by ``mt.metrics.ranking_report``, and
    the means over the users with held-out items are kept. The popularity baseline is scored
    the same way. A plain loop over the A x L cells, no progress bar.

    Parameters
    ----------
    train, test : Ratings
        The same m x n shape (e.g. ``split(how="leave_one_out")``); values >= 0 (implicit
        feedback: 1 for an interaction, or counts).
    alphas : increasing floats >= 0
    regs : increasing floats > 0
    rank, n_iters, solver, cg_steps, seed : as in ``mt.ImplicitALS``.
    k : int
        The cutoff of the top-k lists and metrics.
    label : str
        A description of the data, shown by the explorer.
    progress : bool
        Show a tqdm bar over the cells of the grid (a lesson cell that runs longer than 5 s).
    """
    check_ratings("train", train)
    check_ratings("test", test, train.shape)
    alphas, regs = _check_axes(alphas, regs)
    rank = check_positive_int("rank", rank)
    n_iters = check_positive_int("n_iters", n_iters)
    k = check_positive_int("k", k)
    m, n = train.shape
    if k > n:
        raise ValueError(f"k must be at most the number of items n = {n}, got {k}")
    shape = (len(alphas), len(regs))
    U, V = np.empty(shape + (m, rank)), np.empty(shape + (n, rank))
    metrics = {name: np.empty(shape) for name in _METRICS}
    seconds = np.empty(shape)
    bar = _progress_bar(progress, shape[0] * shape[1], "implicit ALS grid")
    try:
        for a, alpha in enumerate(alphas):
            for b, reg in enumerate(regs):
                bar.update(1)
                start = time.perf_counter()
                model = ImplicitALS(rank=rank, reg=float(reg), alpha=float(alpha), n_iters=n_iters, solver=solver,
                                    cg_steps=cg_steps, seed=seed).fit(train)
                seconds[a, b] = time.perf_counter() - start
                U[a, b], V[a, b] = model.U_, model.V_
                values = _means(ranking_report(model.U_ @ model.V_.T, train, test, k))
                for name, value in zip(_METRICS, values):
                    metrics[name][a, b] = value
    finally:
        bar.close()  # shows the bar's final state (tqdm before 4.62.3 did not when left to the garbage collector)
    popular = Popularity().fit(train)
    pop = pd.Series(_means(ranking_report(popular.predict_matrix(), train, test, k)),
                    index=[f"{name}@{k}" for name in _METRICS], name="popularity")
    return ImplicitGrid(alphas, regs, U, V, metrics["precision"], metrics["recall"], metrics["ndcg"], seconds,
                        pop, train, test, rank, n_iters, solver, int(cg_steps), k, label)


# ---------------------------------------------------------------------------- the compute function
@dataclass(frozen=True, eq=False)
class ImplicitView:
    """What the explorer shows for one (alpha, lambda, user): computed by ``implicit_view``."""

    grid: ImplicitGrid
    alpha: float
    reg: float
    user: int
    alpha_index: int
    reg_index: int
    top: pd.DataFrame          # position (index 1..k), item, title, score, held_out (bool)
    held_out: pd.DataFrame     # item, title, position among the user's unseen items, found (bool)
    n_seen: int                # |Omega_u| in training: the items left out of the ranking
    metrics: pd.Series         # precision@k, recall@k, ndcg@k of this cell, mean over users
    user_metrics: pd.Series    # the same three for this user alone (NaN without held-out items)

    @property
    def popularity(self) -> pd.Series:
        return self.grid.popularity

    def summary(self) -> str:
        """Two sentences: this user's held-out items, and this cell's metrics against popularity."""
        if len(self.held_out) == 0:
            user = f"User {self.user} ({self.n_seen} training items) has no held-out item."
        else:
            parts = []
            for row in self.held_out.itertuples():
                where = f"found at position {row.position}" if row.found else f"not found (position {row.position})"
                parts.append(f"'{row.title}' {where}")
            user = f"User {self.user} ({self.n_seen} training items): held out {'; '.join(parts)}."
        cell = ", ".join(f"{name} {value:.3f}" for name, value in self.metrics.items())
        pop = ", ".join(f"{value:.3f}" for value in self.popularity.to_numpy())
        return f"{user} α = {self.alpha:g}, λ = {self.reg:g}, all users: {cell} (popularity: {pop})."


def _items_of(ratings, user: int) -> np.ndarray:
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])  # Ratings are sorted by row
    return ratings.cols[lo:hi]


def _titles(ratings, items: np.ndarray) -> np.ndarray:
    titles = ratings.item_titles
    if titles is not None:
        return titles[items]
    return np.array([f"item {ratings.items[i]}" for i in items], dtype=object)


def implicit_view(grid: ImplicitGrid, alpha: float, reg: float, user: int) -> ImplicitView:
    """The explorer's numbers for one (alpha, lambda) of ``grid`` and one user: no fitting.

    The user's scores are x_ui = u_u . v_i for every item (one n x k product); the items the
    user interacted with in training are left out, the rest ranked best first, equal scores by
    the lower item index (as ``mt.metrics.ranking_report`` and ``recommend`` rank, so the
    user's numbers equal its row). Each held-out item of
    the user (in ``grid.test``) gets its position in that ranking (1 = first) and is "found"
    when the position is at most k. ``metrics`` is the cell's mean over all users with held-out
    items (computed with the grid); ``user_metrics`` this user's precision/recall/nDCG@k.
    Raises ValueError when (alpha, lambda) is not on the grid or the user is out of range.
    """
    a = _index_of(grid.alphas, alpha, "alpha")
    b = _index_of(grid.regs, reg, "reg")
    m, n = grid.train.shape
    user = check_index("user", user, m, "row")
    user, k = int(user), grid.k
    scores = grid.V[a, b] @ grid.U[a, b, user]            # x_u = V u_u: the user's n scores
    seen = _items_of(grid.train, user)
    scores[seen] = -np.inf                                # never recommend what the user already has
    order = np.argsort(-scores, kind="stable")            # best first; equal scores: the lower item index first
    top = order[:k]
    top = top[np.isfinite(scores[top])]                   # fewer than k unseen items: a shorter list
    relevant = _items_of(grid.test, user)
    rank_of = np.empty(n, dtype=np.int64)
    rank_of[order] = np.arange(1, n + 1)
    position = rank_of[relevant]                          # 1 = first in the user's ranking
    top_table = pd.DataFrame({"item": top, "title": _titles(grid.train, top), "score": scores[top],
                              "held_out": np.isin(top, relevant)},
                             index=pd.RangeIndex(1, len(top) + 1, name="position"))
    held_table = pd.DataFrame({"item": relevant, "title": _titles(grid.train, relevant), "position": position,
                               "found": np.isin(relevant, top)})
    names = [f"{name}@{k}" for name in _METRICS]
    cell = pd.Series([grid.precision[a, b], grid.recall[a, b], grid.ndcg[a, b]], index=names, name="all users")
    if len(relevant):
        mine = [precision_at_k(top, relevant, k), recall_at_k(top, relevant, k), ndcg_at_k(top, relevant, k)]
    else:
        mine = [np.nan] * 3
    return ImplicitView(grid, float(grid.alphas[a]), float(grid.regs[b]), user, a, b, top_table, held_table,
                        len(seen), cell, pd.Series(mine, index=names, name=f"user {user}", dtype=float))


# ---------------------------------------------------------------------------- drawing
class ImplicitDrawing:
    """Recall@k and nDCG@k of every cell as two maps, the popularity baseline in the titles, and
    a frame on the chosen cell. The maps depend on the grid only: a control change moves two
    frames instead of building a figure. ``fig`` is a bare ``Figure`` (not registered with
    pyplot); ``axes`` = (recall map, nDCG map)."""

    def __init__(self, grid: ImplicitGrid):
        from matplotlib.figure import Figure

        self.grid = grid
        A, L = grid.shape
        fig = self.fig = Figure(figsize=(10, 0.42 * A + 1.6))
        self.axes, self.frames = [], []
        k = grid.k
        for j, (name, title) in enumerate((("recall", f"recall@{k}"), ("ndcg", f"nDCG@{k}"))):
            ax = fig.add_axes((0.08 + 0.5 * j, 0.2, 0.33, 0.62))
            cax = fig.add_axes((0.42 + 0.5 * j, 0.2, 0.012, 0.62))
            values = grid.metric(name)
            baseline = float(grid.popularity[f"{name}@{k}"])
            lo, hi = float(min(values.min(), baseline)), float(max(values.max(), baseline))
            image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
            for a in range(A):
                for b in range(L):
                    dark = values[a, b] < lo + 0.6 * (hi - lo)
                    ax.text(b, a, f"{values[a, b]:.3f}", ha="center", va="center", fontsize=9,
                            color="white" if dark else "black")
            best = np.unravel_index(int(np.argmax(values)), values.shape)
            ax.add_patch(_frame(best[1], best[0], "C1", ls="--"))
            self.frames.append(ax.add_patch(_frame(0, 0, "C3")))
            ax.set_xticks(range(L))
            ax.set_xticklabels([f"{r:g}" for r in grid.regs])
            ax.set_yticks(range(A))
            ax.set_yticklabels([f"{a:g}" for a in grid.alphas])
            ax.set_xlabel("penalty $\\lambda$")
            ax.set_ylabel("confidence scale $\\alpha$")
            ax.set_title(f"{title}, all users (popularity: {baseline:.3f})", fontsize=10)
            bar = fig.colorbar(image, cax=cax)
            bar.ax.axhline(baseline, color="w", lw=2)
            bar.ax.tick_params(labelsize=9)
            self.axes.append(ax)
        what = f"implicit ALS, rank {grid.rank}, {grid.n_iters} iterations ({grid.solver}) per cell"
        fig.suptitle(f"{what}: {grid.label}   (solid frame: chosen, dashed: best)" if grid.label
                     else f"{what}   (solid frame: chosen, dashed: best)", fontsize=10)

    def update(self, view: ImplicitView):
        """Show ``view`` (a cell of this drawing's grid); returns the figure."""
        if view.grid is not self.grid:
            raise ValueError("this view belongs to another grid; make a new ImplicitDrawing for it")
        for frame in self.frames:
            frame.set_xy((view.reg_index - 0.5, view.alpha_index - 0.5))
        return self.fig


def render_implicit_view(view: ImplicitView):
    """The two metric maps of ``ImplicitDrawing`` for ``view``, in a new bare ``Figure``."""
    return ImplicitDrawing(view.grid).update(view)


def _frame(x: int, y: int, color: str, ls: str = "-"):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec=color, lw=2.5, ls=ls, clip_on=False)


def _caption(view: ImplicitView) -> HTML:
    grid = view.grid
    pop = view.popularity
    rows = "".join(
        f"<tr><td>{name}</td><td><b>{view.metrics[name]:.3f}</b></td><td>{pop[name]:.3f}</td>"
        f"<td>{view.user_metrics[name]:.3f}</td></tr>" for name in view.metrics.index)
    metrics = (f"<table style='font-size:90%'><tr><th></th><th>α = {view.alpha:g}, λ = {view.reg:g} (all users)</th>"
               f"<th>popularity (all users)</th><th>user {view.user} alone</th></tr>{rows}</table>")
    if len(view.held_out) == 0:
        found = f"user {view.user} has no held-out item"
    else:
        found = "; ".join(
            f"<span style='color:{plots.PALETTE['blue'] if row.found else plots.PALETTE['vermillion']}'>{'✓' if row.found else '✗'} "
            f"{_escape(row.title)}: position {row.position}</span>" for row in view.held_out.itertuples())
        found = f"<b>held out</b> for user {view.user} ({view.n_seen} training items): {found}"
    per_user = np.bincount(grid.test.rows, minlength=grid.train.shape[0])
    n_users = int(np.count_nonzero(per_user))
    note = f"all users = the mean over the {n_users} users with a held-out item"
    if n_users and per_user.max() == 1:
        note += f"; with one held-out item each, precision@{grid.k} = recall@{grid.k} / {grid.k}"
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['blue']}; padding-left:8px'>{found}{metrics}"
                f"<span style='font-size:85%; color:#555'>{note}</span></div>")


def _top_table(view: ImplicitView) -> pd.DataFrame:
    table = view.top.assign(score=view.top["score"].round(3),
                            held_out=np.where(view.top["held_out"], "✓ held out", ""))
    return table.rename(columns={"held_out": "found?"}).rename_axis(f"top {view.grid.k} for user {view.user}")


class ImplicitExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        alpha, reg, user, grid = (getattr(self, name, None) for name in ("alpha", "reg", "user", "grid"))
        if alpha is None or reg is None or user is None or grid is None:  # not built yet
            return "ImplicitExplorer()"
        return (f"ImplicitExplorer(alpha={alpha.value:g}, reg={reg.value:g}, user={user.value}, "
                f"grid {grid.shape[0]} x {grid.shape[1]})")


def implicit_als_explorer(grid: ImplicitGrid, alpha: float | None = None, reg: float | None = None,
                          user: int | None = None, users=None) -> ImplicitExplorer:
    """Build the explorer for a precomputed ``grid`` (call it as a cell's last expression).

    Controls: a selection slider for alpha (first), one for lambda, and a dropdown of users;
    an ``Output`` with the held-out items (found or not, and where they rank), this cell's
    metrics next to popularity's and the user's own, the two metric maps, and the user's top k
    with titles (held-out hits marked). Every change is ``implicit_view`` plus a redraw.

    Parameters
    ----------
    grid : ImplicitGrid
    alpha, reg : grid values to start from (default: the second alpha and the second lambda).
    user : int, optional
        The user shown first (default: the first user offered).
    users : sequence of int, optional
        The users offered in the dropdown (default: every user with a held-out item).

    Returns an ``ImplicitExplorer`` with ``alpha``, ``reg`` (the sliders), ``user`` (the
    dropdown), ``out``, ``grid`` and ``view`` (the last ``ImplicitView``).
    """
    if not isinstance(grid, ImplicitGrid):
        raise TypeError(f"grid must be an ImplicitGrid (from implicit_grid), got {type(grid).__name__}")
    a = min(1, len(grid.alphas) - 1) if alpha is None else _index_of(grid.alphas, alpha, "alpha")
    b = min(1, len(grid.regs) - 1) if reg is None else _index_of(grid.regs, reg, "reg")
    train, test = grid.train, grid.test
    m = train.shape[0]
    offered = np.unique(test.rows) if users is None else np.asarray(list(users), dtype=np.int64)
    if offered.size == 0:
        raise ValueError("no user to offer: the test set is empty and no users were given")
    if offered.min() < 0 or offered.max() >= m:
        raise ValueError(f"users must be row indices in [0, {m}), got values in [{offered.min()}, {offered.max()}]")
    user = int(offered[0]) if user is None else int(user)
    if user not in set(offered.tolist()):
        raise ValueError(f"user {user} is not among the users offered")
    counts = train.user_counts()
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="420px")
    alpha_slider = widgets.SelectionSlider(options=[(f"{v:g}", float(v)) for v in grid.alphas],
                                           value=float(grid.alphas[a]), description="confidence α",
                                           continuous_update=False, layout=layout, style=style)
    reg_slider = widgets.SelectionSlider(options=[(f"{v:g}", float(v)) for v in grid.regs], value=float(grid.regs[b]),
                                         description="penalty λ", continuous_update=False, layout=layout, style=style)
    user_picker = widgets.Dropdown(options=[(f"user {u} ({counts[u]} items)", int(u)) for u in offered], value=user,
                                   description="user", layout=widgets.Layout(width="320px"), style=style)
    out = widgets.Output()
    find = type_ahead(user_picker, placeholder="type a user number, then Enter")
    box = ImplicitExplorer([widgets.HBox([alpha_slider, reg_slider]), widgets.HBox([user_picker, find]), out])
    box.alpha, box.reg, box.user, box.out, box.grid, box.find = alpha_slider, reg_slider, user_picker, out, grid, find

    drawing = ImplicitDrawing(grid)  # built once; a change only moves its frames
    image = FigurePng(drawing.fig, drawing.frames)  # the maps drawn once, the two frames on every change
    controls = (alpha_slider, reg_slider, user_picker)

    def redraw(_change=None):
        with guarded(out, *controls):
            view = implicit_view(grid, alpha_slider.value, reg_slider.value, user_picker.value)
            box.view = view
            drawing.update(view)
            show_outputs(out, _caption(view), Image(data=image.png(), format="png"), _top_table(view))

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    return box
