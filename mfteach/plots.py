"""Matplotlib helpers shared by the lessons and the widgets.

Every function takes an optional ``ax`` (a new figure is made when it is None), labels its
axes, sets a title and returns the Axes, so a lesson can compose panels and a test can read
back what was drawn. Notation (ARCHITECTURE.md, "Notation"): R is m x n with users in rows and items
in columns; Omega is the set of known entries.

Nothing here imports ipywidgets; algorithms never import this module.

One colour-blind-safe palette serves every figure of the package: the Okabe-Ito colours
(Okabe and Ito, "Color Universal Design", 2008), which stay apart under deuteranopia,
protanopia and tritanopia. Importing this module makes them matplotlib's colour cycle, so
"C0" ... "C7" in a lesson are these colours: C0 blue, C1 orange, C2 bluish green,
C3 vermillion, C4 reddish purple, C5 sky blue, C6 yellow, C7 black. Signs are the diverging
pair ``SIGN_COLORS`` (blue for positive, orange for negative); maps of values use ``SEQUENTIAL``
(viridis) or, around zero, ``DIVERGING`` (PuOr). Where colour carries meaning, a marker or a
line style carries it too; text is at least ``MIN_FONT_SIZE`` points.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.ticker import NullFormatter

#: the Okabe-Ito colours by name
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000",
}
#: matplotlib's colour cycle in mfteach ("C0" ... "C7")
COLORS = [PALETTE[name] for name in ("blue", "orange", "green", "vermillion", "purple", "sky", "yellow", "black")]
#: light tints of blue and orange, for backgrounds (table cells) that must stay readable under text
TINTS = {"blue": "#cce3f0", "orange": "#f9e2b0"}
#: (positive, negative): the diverging pair for signs (influences, impacts, gradients)
SIGN_COLORS = (PALETTE["blue"], PALETTE["orange"])
SEQUENTIAL = "viridis"
DIVERGING = "PuOr"
#: one marker per colour of the cycle, for plots where colour carries meaning
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
MIN_FONT_SIZE = 9


def use_palette() -> None:
    """Make the palette matplotlib's colour cycle, with no text smaller than ``MIN_FONT_SIZE``
    (done when this module is imported; call again after ``plt.style.use``)."""
    plt.rcParams["axes.prop_cycle"] = cycler(color=COLORS)
    plt.rcParams["image.cmap"] = SEQUENTIAL
    for key in ("legend.fontsize", "xtick.labelsize", "ytick.labelsize", "legend.title_fontsize"):
        if isinstance(plt.rcParams[key], (int, float)) and plt.rcParams[key] < MIN_FONT_SIZE:
            plt.rcParams[key] = MIN_FONT_SIZE
    plt.rcParams["font.size"] = max(plt.rcParams["font.size"], 10)


def sign_colors(values) -> list[str]:
    """One colour per value: ``SIGN_COLORS[0]`` for >= 0, ``SIGN_COLORS[1]`` for < 0."""
    return [SIGN_COLORS[0] if v >= 0 else SIGN_COLORS[1] for v in np.asarray(values, dtype=float).ravel()]


use_palette()

__all__ = [
    "PALETTE",
    "COLORS",
    "SIGN_COLORS",
    "TINTS",
    "SEQUENTIAL",
    "DIVERGING",
    "MARKERS",
    "MIN_FONT_SIZE",
    "use_palette",
    "sign_colors",
    "label_points",
    "top_share",
    "plot_sparsity",
    "plot_long_tail",
    "plot_rating_histogram",
    "plot_counts",
    "plot_rated_strip",
    "show_matrix",
    "figure_png",
]


def _axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _known_mask(ratings) -> np.ndarray:
    """Boolean m x n mask of Omega from a ``Ratings`` or a dense array with NaN for "?"."""
    if hasattr(ratings, "rows") and hasattr(ratings, "shape"):
        mask = np.zeros(ratings.shape, dtype=bool)
        mask[ratings.rows, ratings.cols] = True
        return mask
    matrix = np.asarray(ratings, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"expected Ratings or a 2-D matrix, got shape {matrix.shape}")
    return ~np.isnan(matrix)


def top_share(counts, fraction: float = 0.2) -> tuple[int, float]:
    """How much of the total the largest ``fraction`` of the counts holds.

    Returns (number of items in the top group, their share of the sum), e.g. for item
    popularity: the 20% most rated items receive this share of all ratings. The group has
    round(fraction * n) items (at least one).
    """
    counts = np.sort(np.asarray(counts, dtype=float))[::-1]
    if counts.ndim != 1 or len(counts) == 0:
        raise ValueError("counts must be a non-empty 1-D array")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n_top = max(1, int(round(fraction * len(counts))))
    total = counts.sum()
    return n_top, float(counts[:n_top].sum() / total) if total > 0 else 0.0


def plot_sparsity(ratings, ax=None, max_users: int | None = None, max_items: int | None = None,
                  sort: bool = True, title: str | None = None):
    """The pattern of Omega: a dark pixel where r_ui is known.

    ``ratings`` is a ``Ratings`` or a dense matrix with NaN for unknown. With ``sort`` (the
    default) rows are ordered by user activity |Omega_u| and columns by item popularity
    |Omega^i|, most first, so the dense corner and the long tail show. ``max_users`` /
    ``max_items`` keep only the first rows / columns of that order. The drawn mask is
    ``ax.images[0].get_array()``.
    """
    mask = _known_mask(ratings)
    m, n = mask.shape
    if sort:
        row_order = np.argsort(-mask.sum(axis=1), kind="stable")
        col_order = np.argsort(-mask.sum(axis=0), kind="stable")
        mask = mask[row_order][:, col_order]
    mask = mask[: max_users or m, : max_items or n]
    ax = _axes(ax, (7, 4.2))
    # "nearest" keeps pixels black or white: a crisp pattern and a PNG 5x smaller than antialiased grays
    ax.imshow(mask, cmap="Greys", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    order = " (sorted by number of ratings)" if sort else ""
    ax.set_xlabel(f"items i{order}")
    ax.set_ylabel(f"users u{order}")
    density = mask.mean()
    ax.set_title(title or f"Known entries $\\Omega$: {mask.shape[0]} x {mask.shape[1]}, density {density:.2%}")
    return ax


def plot_long_tail(ratings, ax=None, fraction: float = 0.2, log: bool = False):
    """Item popularity |Omega^i| sorted from the most to the least rated item.

    The top ``fraction`` of items is shaded and the share of all ratings they receive is
    written on the plot. ``ax.lines[0]`` holds the curve (x = popularity rank 1..n,
    y = sorted counts).
    """
    counts = np.sort(np.asarray(ratings.item_counts()))[::-1]
    n_top, share = top_share(counts, fraction)
    ranks = np.arange(1, len(counts) + 1)
    ax = _axes(ax, (7, 3.6))
    ax.plot(ranks, counts, color="C0", lw=1.5, label="ratings per item")
    ax.fill_between(ranks[:n_top], counts[:n_top], color="C1", alpha=0.35, lw=0,
                    label=f"top {fraction:.0%} of items")
    ax.axvline(n_top, color="C1", ls="--", lw=1)
    ax.text(n_top * 1.05, counts.max() * (0.5 if log else 0.85),
            f"top {fraction:.0%} of items ({n_top} of {len(counts)})\nget {share:.0%} of all ratings",
            color="C1", va="top")
    if log:
        ax.set_yscale("log")
    ax.set_xlim(0, len(counts) + 1)
    ax.set_xlabel("item, ordered by popularity (rank)")
    ax.set_ylabel("number of ratings $|\\Omega^i|$")
    ax.set_title("The long tail: few items get most ratings")
    ax.legend(loc="upper right", frameon=False)
    return ax


def _levels(values: np.ndarray):
    """Discrete rating levels when there are few distinct values, else None."""
    distinct = np.unique(values)
    if len(distinct) <= 20:
        return distinct
    return None


def plot_rating_histogram(values, ax=None, reference=None, labels: Sequence[str] = ("these ratings", "all ratings"),
                          title: str | None = None):
    """Bars of how often each rating level occurs.

    ``values`` are rating values (e.g. ``ratings.values``). With few distinct levels (stars)
    there is one bar per level, otherwise a 20-bin histogram. With ``reference`` (e.g.
    everyone's ratings) both are drawn side by side as shares, so a user with 30 ratings can
    be compared with 100,000; without it the bars are counts. ``ax.patches`` are the bars,
    ``values`` first.
    """
    values = np.asarray(values, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError("no rating values to plot")
    ax = _axes(ax, (5, 3.2))
    pooled = values if reference is None else np.concatenate([values, np.asarray(reference, dtype=float).ravel()])
    levels = _levels(pooled)
    series = [values] if reference is None else [values, np.asarray(reference, dtype=float).ravel()]
    normalize = reference is not None
    if levels is not None:
        width = 0.8 / len(series)
        step = np.min(np.diff(levels)) if len(levels) > 1 else 1.0
        for k, data in enumerate(series):
            counts = np.array([(data == level).sum() for level in levels], dtype=float)
            heights = counts / counts.sum() if normalize else counts
            offset = (k - (len(series) - 1) / 2) * width * step
            ax.bar(levels + offset, heights, width=width * step, color=f"C{k}",
                   label=labels[k] if normalize else None)
        ax.set_xticks(levels)
        ax.set_xticklabels([f"{level:g}" for level in levels])
    else:
        edges = np.histogram_bin_edges(pooled, bins=20)
        for k, data in enumerate(series):
            ax.hist(data, bins=edges, density=normalize, alpha=0.6 if normalize else 1.0, color=f"C{k}",
                    label=labels[k] if normalize else None)
    ax.set_xlabel("rating $r_{ui}$")
    ax.set_ylabel("share of ratings" if normalize else "number of ratings")
    if normalize:
        ax.legend(frameon=False)
    ax.set_title(title or ("Rating distribution" if reference is None else "Rating distribution (shares)"))
    return ax


def plot_counts(ratings, ax=None, by: str = "user", bins: int = 40):
    """Histogram of ratings per user (|Omega_u|, ``by="user"``) or per item (``by="item"``),
    on logarithmic bins since a few users and items have far more ratings than the rest."""
    if by not in ("user", "item"):
        raise ValueError(f"by must be 'user' or 'item', got {by!r}")
    counts = ratings.user_counts() if by == "user" else ratings.item_counts()
    counts = counts[counts > 0]
    ax = _axes(ax, (5, 3.2))
    # log-spaced bins with integer edges (no empty bins between small counts)
    edges = np.unique(np.round(np.geomspace(counts.min(), counts.max() + 1, bins + 1))) - 0.5
    ax.hist(counts, bins=edges, color="C0" if by == "user" else "C2")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
             if edges[0] <= t <= edges[-1]]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.axvline(np.median(counts), color="k", ls="--", lw=1, label=f"median {np.median(counts):g}")
    ax.legend(frameon=False)
    sym = "$|\\Omega_u|$" if by == "user" else "$|\\Omega^i|$"
    ax.set_xlabel(f"ratings per {by} {sym} (log scale)")
    ax.set_ylabel(f"number of {by}s")
    ax.set_title(f"How many ratings each {by} has")
    return ax


def plot_rated_strip(positions, values, n_items: int, ax=None, vmin: float | None = None, vmax: float | None = None,
                     title: str | None = None, cmap: str = "viridis"):
    """One user's row of R as a strip: a coloured tick at each rated item's position.

    ``positions`` are the rated items' places in some item order (e.g. popularity rank,
    0 = most rated), ``values`` their ratings (the colour). Unrated positions stay blank,
    which is almost all of the strip. ``ax.collections[0]`` holds the ticks.
    """
    positions = np.asarray(positions, dtype=float)
    values = np.asarray(values, dtype=float)
    ax = _axes(ax, (8, 1.2))
    colormap = plt.get_cmap(cmap)
    lo = values.min() if vmin is None else vmin
    hi = values.max() if vmax is None else vmax
    scaled = (values - lo) / (hi - lo) if hi > lo else np.full(len(values), 0.5)
    ax.vlines(positions, 0, 1, colors=colormap(scaled), lw=1.2)
    ax.set_xlim(-0.5, n_items - 0.5)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_facecolor("#f4f4f4")
    ax.set_xlabel("items, most rated on the left")
    ax.set_title(title or f"{len(positions)} of {n_items} items rated")
    return ax


def show_matrix(M, ax=None, fmt: str = "{:g}", highlight=None, title: str | None = None,
                row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                xlabel: str | None = "item i", ylabel: str | None = "user u", cmap: str = "Blues",
                vmin: float | None = None, vmax: float | None = None, missing: str = "?", fontsize: int = 11,
                col_rotation: float = 0):
    """Draw a small matrix with its numbers written in the cells and "?" where it is NaN.

    ``highlight`` is an optional boolean mask of the same shape: those cells get a vermillion
    frame and bold text (vermillion, or white on a dark cell) (e.g. the predictions of the unknown entries). Rows and columns are
    labelled 0, 1, ... (Python indices) unless labels are given (``col_rotation`` tilts long
    column labels). ``ax.texts`` holds one text per cell, row by row.
    """
    M = np.atleast_2d(np.asarray(M, dtype=float))
    if M.ndim != 2:
        raise ValueError(f"show_matrix needs a 2-D matrix, got shape {M.shape}")
    m, n = M.shape
    if highlight is not None:
        highlight = np.asarray(highlight, dtype=bool)
        if highlight.shape != M.shape:
            raise ValueError(f"highlight must have the matrix's shape {M.shape}, got {highlight.shape}")
    ax = _axes(ax, (0.62 * n + 1.4, 0.5 * m + 1.0))
    known = ~np.isnan(M)
    lo = np.nanmin(M) if vmin is None and known.any() else (vmin if vmin is not None else 0.0)
    hi = np.nanmax(M) if vmax is None and known.any() else (vmax if vmax is not None else 1.0)
    colormap = plt.get_cmap(cmap).with_extremes(bad="#eeeeee")  # NaN cells light grey
    ax.imshow(np.ma.masked_invalid(M), cmap=colormap, vmin=lo, vmax=hi if hi > lo else lo + 1, aspect="auto")
    for u in range(m):
        for i in range(n):
            value = M[u, i]
            is_hl = highlight is not None and highlight[u, i]
            if np.isnan(value):
                text, color = missing, "#666666"
            else:
                text = fmt.format(value)
                # dark cells get white text
                share = (value - lo) / (hi - lo) if hi > lo else 0.0
                color = "white" if share > 0.6 else "black"
            if is_hl:  # a vermillion frame and bold text; on a dark cell the text stays white to be read
                color = "white" if color == "white" else PALETTE["vermillion"]
                ax.add_patch(plt.Rectangle((i - 0.5, u - 0.5), 1, 1, fill=False, ec=PALETTE["vermillion"], lw=2.5))
            ax.text(i, u, text, ha="center", va="center", color=color, fontsize=fontsize,
                    fontweight="bold" if is_hl else "normal")
    ax.set_xticks(range(n))
    ax.set_yticks(range(m))
    ax.set_xticklabels(col_labels if col_labels is not None else [str(i) for i in range(n)],
                       rotation=col_rotation, ha="left" if col_rotation else "center")
    ax.set_yticklabels(row_labels if row_labels is not None else [str(u) for u in range(m)])
    ax.tick_params(length=0)
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, pad=8)
    return ax


def figure_png(fig, dpi: int = 90) -> bytes:
    """The PNG bytes of a figure (for widgets, which put images into an ``Output``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def label_points(ax, x, y, texts, fontsize: float = MIN_FONT_SIZE):
    """Label points without overlaps: each label goes to the first of a few offsets where its text
    overlaps no earlier label and stays inside the axes (a thin leader line joins it to its
    point). The labels are kept out of the layout engine, so measuring them does not move it.

    Returns the list of annotations.
    """
    from matplotlib.text import Text

    ax.figure.canvas.draw()  # fix the layout before the labels are measured
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    offsets = [(5, 5), (5, -11), (-5, 5), (-5, -11), (0, 13), (0, -17), (9, -3), (-9, -3)]
    placed, notes = [], []
    for xi, yi, text in zip(x, y, texts):
        for dx, dy in offsets:
            note = ax.annotate(text, (xi, yi), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                               ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                               arrowprops=dict(arrowstyle="-", lw=0.4, color="0.5"))
            note.set_in_layout(False)
            note.update_positions(renderer)  # place the text at its offset before measuring it
            box = Text.get_window_extent(note, renderer).expanded(1.05, 1.15)  # the text only, not its line
            fits = inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
            if fits and not any(box.overlaps(other) for other in placed):
                break
            note.remove()
        else:  # every offset collides: keep the first
            note = ax.annotate(text, (xi, yi), xytext=offsets[0], textcoords="offset points", fontsize=fontsize)
            note.set_in_layout(False)
            note.update_positions(renderer)
            box = Text.get_window_extent(note, renderer)
        placed.append(box)
        notes.append(note)
    return notes
