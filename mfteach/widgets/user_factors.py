"""User explorer: one user's row of R, next to everyone else's.

Two layers (ARCHITECTURE.md, "Widgets"):

* ``prepare_user_explorer(ratings)`` precomputes, once, what every view needs (the CSR
  matrix of R, item popularity and its ranking, the global rating histogram);
  ``user_view(prepared, user, ...)`` is the PURE compute function: it returns a
  ``UserView`` with the numbers, the histogram counts and a table of the user's rated items
  with titles and genres. Tests and benchmarks call it without a browser.
* ``user_explorer(ratings)`` is the thin ipywidgets layer: a slider for the user, a
  row of buttons for the table's order, and an ``Output`` redrawn from the ``UserView``.

Notation: the user u is a row index of R (0..m-1); ``ratings.users[u]`` is the original
(MovieLens) id. Omega_u is the set of items u rated; |Omega^i| the number of ratings of item i.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ._common import FigurePng, guarded, show_outputs

__all__ = [
    "SORT_ORDERS", "PreparedRatings", "UserView", "UserExplorer", "prepare_user_explorer", "user_view",
    "UserDrawing", "render_user_view", "user_explorer",
]

#: Orders offered for the table of a user's rated items: key -> label.
SORT_ORDERS = {
    "rating": "highest rated first",
    "lowest": "lowest rated first",
    "popular": "most popular first",
    "niche": "least popular (niche) first",
}


@dataclass(frozen=True)
class PreparedRatings:
    """Per-ratings data computed once for all users (see ``prepare_user_explorer``)."""

    ratings: object  # the Ratings
    indptr: np.ndarray  # CSR row pointers: user u's entries are indptr[u]:indptr[u + 1]
    cols: np.ndarray  # item index of each entry, grouped by user
    values: np.ndarray  # rating of each entry, grouped by user
    item_counts: np.ndarray  # |Omega^i|
    item_means: np.ndarray  # mean rating of each item (NaN if unrated)
    popularity_rank: np.ndarray  # 0 = most rated item
    levels: np.ndarray  # the distinct rating values, or bin centres when there are more than 20
    edges: np.ndarray | None  # None for distinct values, else the 11 bin edges
    global_hist: np.ndarray  # how many ratings have each level, over all of Omega
    global_mean: float
    titles: np.ndarray  # title of each item ("item i" when the ratings carry none)
    genres: np.ndarray  # genres of each item joined by ", " ("" when none)


@dataclass(frozen=True)
class UserView:
    """Everything the explorer shows for one user (computed by ``user_view``)."""

    user: int  # row index u
    user_id: object  # original id, ratings.users[u]
    n_rated: int  # |Omega_u|
    n_items: int  # n
    share_of_catalogue: float  # |Omega_u| / n
    mean_rating: float  # mean of r_ui over Omega_u
    global_mean: float  # mean of all ratings
    median_popularity_rank: float  # median popularity rank (0 = most rated) of the user's items
    levels: np.ndarray  # rating levels (or bin centres), one per histogram entry
    hist: np.ndarray  # the user's count of each level; sums to n_rated
    global_hist: np.ndarray  # everyone's count of each level
    strip_positions: np.ndarray  # popularity rank of each rated item
    strip_values: np.ndarray  # the user's rating of each, same order
    item_means: np.ndarray  # mean rating (over all users) of each rated item, same order
    #: the user's rated items (the first n_top in the chosen order), columns: item (column
    #: index i), id (original id), title, genres, rating, ratings of item (|Omega^i|), item mean
    table: pd.DataFrame

    def summary(self) -> str:
        """One line of the key numbers."""
        diff = self.mean_rating - self.global_mean
        return (
            f"user u = {self.user} (id {self.user_id}): rated {self.n_rated} of {self.n_items} items "
            f"({self.share_of_catalogue:.1%} of the catalogue); mean rating {self.mean_rating:.2f} "
            f"vs {self.global_mean:.2f} overall ({diff:+.2f}); median popularity rank of their items "
            f"{self.median_popularity_rank:.0f}"
        )


def prepare_user_explorer(ratings) -> PreparedRatings:
    """Precompute, once per ``Ratings``, what ``user_view`` needs for any user."""
    m, n = ratings.shape
    indptr = ratings.by_user.indptr
    item_counts = ratings.item_counts()
    sums = np.bincount(ratings.cols, weights=ratings.values, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        item_means = np.where(item_counts > 0, sums / np.maximum(item_counts, 1), np.nan)
    order = np.argsort(-item_counts, kind="stable")
    popularity_rank = np.empty(n, dtype=np.int64)
    popularity_rank[order] = np.arange(n)
    levels, edges = np.unique(ratings.values), None
    if len(levels) > 20:  # not star ratings: ten equal bins over the range, labelled by their centres
        edges = np.linspace(ratings.values.min(), ratings.values.max(), 11)
        levels = (edges[:-1] + edges[1:]) / 2
    global_hist = _histogram(ratings.values, levels, edges)
    titles = (np.asarray(ratings.item_titles, dtype=object) if ratings.item_titles is not None
              else np.array([f"item {i}" for i in range(n)], dtype=object))
    genres = (np.array([", ".join(g) for g in ratings.item_genres], dtype=object) if ratings.item_genres is not None
              else np.full(n, "", dtype=object))
    return PreparedRatings(
        ratings=ratings, indptr=indptr, cols=np.asarray(ratings.cols), values=np.asarray(ratings.values),
        item_counts=item_counts, item_means=item_means, popularity_rank=popularity_rank, levels=levels, edges=edges,
        global_hist=global_hist, global_mean=float(ratings.values.mean()), titles=titles, genres=genres,
    )


def _histogram(values: np.ndarray, levels: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    """Counts per level: exact matches for discrete levels (edges None), else per bin."""
    if edges is None:
        return np.bincount(np.searchsorted(levels, values), minlength=len(levels)).astype(np.int64)
    counts, _ = np.histogram(values, bins=edges)
    return counts.astype(np.int64)


def user_view(prepared, user: int, sort: str = "rating", n_top: int | None = 10) -> UserView:
    """The explorer's content for user ``user`` (a row index of R).

    ``prepared`` is the result of ``prepare_user_explorer`` (a ``Ratings`` is accepted too
    and prepared on the fly, which is slower). ``sort`` orders the table (one of
    ``SORT_ORDERS``; equal ratings are ordered by popularity, equal popularity by item
    index); ``n_top`` keeps its first rows (None: all). Pure: no widgets, no drawing; about
    1 ms per call on MovieLens 100K.
    """
    if not isinstance(prepared, PreparedRatings):
        prepared = prepare_user_explorer(prepared)
    ratings = prepared.ratings
    m, n = ratings.shape
    if isinstance(user, (bool, np.bool_)) or not isinstance(user, (int, np.integer)):
        raise TypeError(f"user must be an integer row index, got {user!r}")
    if not 0 <= user < m:
        raise ValueError(f"user must be a row index 0 <= user < {m}, got {user}")
    if sort not in SORT_ORDERS:
        raise ValueError(f"sort must be one of {list(SORT_ORDERS)}, got {sort!r}")
    user = int(user)
    lo, hi = prepared.indptr[user], prepared.indptr[user + 1]
    items = prepared.cols[lo:hi]
    values = prepared.values[lo:hi]
    popularity = prepared.item_counts[items]
    n_rated = len(items)

    if sort == "rating":
        order = np.lexsort((-popularity, -values))  # highest rating, then most popular
    elif sort == "lowest":
        order = np.lexsort((-popularity, values))
    elif sort == "popular":
        order = np.argsort(-popularity, kind="stable")
    else:
        order = np.argsort(popularity, kind="stable")
    if n_top is not None:
        order = order[: int(n_top)]
    chosen = items[order]
    table = pd.DataFrame(
        {
            "item": chosen,
            "id": ratings.items[chosen],
            "title": prepared.titles[chosen],
            "genres": prepared.genres[chosen],
            "rating": values[order],
            "ratings of item": popularity[order],
            "item mean": np.round(prepared.item_means[chosen], 2),
        }
    )
    return UserView(
        user=user,
        user_id=ratings.users[user].item() if hasattr(ratings.users[user], "item") else ratings.users[user],
        n_rated=n_rated,
        n_items=n,
        share_of_catalogue=n_rated / n,
        mean_rating=float(values.mean()) if n_rated else float("nan"),
        global_mean=prepared.global_mean,
        median_popularity_rank=float(np.median(prepared.popularity_rank[items])) if n_rated else float("nan"),
        levels=prepared.levels,
        hist=_histogram(values, prepared.levels, prepared.edges),
        global_hist=prepared.global_hist,
        strip_positions=prepared.popularity_rank[items],
        strip_values=values,
        item_means=prepared.item_means[items],
        table=table,
    )


# ---------------------------------------------------------------------------- display
class UserDrawing:
    """The explorer's figure, built once per ``PreparedRatings`` and updated in place: the strip of
    the user's row of R over items ordered by popularity, their rating shares vs everyone's, their
    rating of each item vs that item's mean rating. ``update(view)`` sets the data (the strip's
    ticks, the user's bars, the points, the title) and returns the ``Figure``; ``png(view)`` turns
    it into PNG bytes by blitting (``FigurePng``: axes, colour bar, everyone's bars and the labels
    are drawn once, the shares axis again only when it must grow past 0.5). A bare ``Figure``
    (never registered with pyplot); fixed axes positions keep drawing fast."""

    def __init__(self, levels: np.ndarray, global_hist: np.ndarray, n_items: int):
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize
        from matplotlib.figure import Figure

        self.levels = levels = np.asarray(levels, dtype=float)
        self.fig = fig = Figure(figsize=(9.5, 3.6))
        self.lo, self.hi = lo, hi = float(levels.min()), float(levels.max())
        self.strip = fig.add_axes((0.06, 0.76, 0.86, 0.12))
        plots.plot_rated_strip(np.zeros(0), np.zeros(0), n_items, ax=self.strip, vmin=lo, vmax=hi, title=" ")
        self.strip.set_xlabel("items, most rated on the left", labelpad=1)
        self.ticks = self.strip.collections[0]
        colorbar = fig.colorbar(ScalarMappable(Normalize(lo, hi), "viridis"), cax=fig.add_axes((0.935, 0.76, 0.012, 0.12)))
        colorbar.set_ticks([lo, hi])
        colorbar.ax.tick_params(labelsize=9)

        self.hist = ax = fig.add_axes((0.06, 0.12, 0.38, 0.42))
        step = float(np.min(np.diff(levels))) if len(levels) > 1 else 1.0
        everyone = np.asarray(global_hist) / max(int(np.sum(global_hist)), 1)
        self.user_bars = ax.bar(levels - 0.2 * step, np.zeros(len(levels)), width=0.4 * step, color="C0",
                                label="this user")
        ax.bar(levels + 0.2 * step, everyone, width=0.4 * step, color="C7", label="everyone")
        self.everyone_max = float(everyone.max()) if len(everyone) else 0.0
        ax.set_xticks(levels)
        ax.set_xticklabels([f"{level:g}" for level in levels])
        ax.set_xlabel("rating $r_{ui}$")
        ax.set_ylabel("share of ratings")
        ax.set_title("rating distribution", fontsize=10)
        ax.legend(frameon=False, fontsize=9, loc="upper left")  # most users' shares peak at 4 or 5

        self.scatter_ax = ax = fig.add_axes((0.58, 0.12, 0.38, 0.42))
        self.points = ax.scatter(np.zeros(0), np.zeros(0), s=8, alpha=0.5, color="C0", lw=0)
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
        ax.set_xlim(lo - 0.3, hi + 0.3)
        ax.set_ylim(lo - 0.4, hi + 0.4)
        ax.set_xlabel("item's mean rating")
        ax.set_ylabel("this user's rating")
        ax.set_title("their rating vs the crowd's", fontsize=10)
        self._png = None
        from matplotlib import colormaps

        self.colormap = colormaps["viridis"]

    def update(self, view: UserView):
        """Show ``view``'s user; returns the figure."""
        positions = np.asarray(view.strip_positions, dtype=float)
        values = np.asarray(view.strip_values, dtype=float)
        scaled = (values - self.lo) / (self.hi - self.lo) if self.hi > self.lo else np.full(len(values), 0.5)
        self.ticks.set_segments([[(p, 0.0), (p, 1.0)] for p in positions])
        self.ticks.set_color(self.colormap(scaled))
        self.strip.set_title(f"user {view.user} (id {view.user_id}): row of R, {view.n_rated} of {view.n_items} "
                             f"items rated (colour = rating)")
        share = view.hist / max(view.hist.sum(), 1)
        for bar, height in zip(self.user_bars, share):
            bar.set_height(height)
        top = max(float(share.max()) if len(share) else 0.0, self.everyone_max)
        self.hist.set_ylim(0, 0.55 if top <= 0.5 else 1.05)  # two heights: the axis rarely changes
        jitter = np.random.default_rng(view.user).uniform(-0.12, 0.12, size=len(view.item_means))  # fixed per user
        self.points.set_offsets(np.column_stack([view.item_means, values + jitter]))
        return self.fig

    def png(self, view: UserView) -> bytes:
        """``update(view)`` as PNG bytes (see the class)."""
        if self._png is None:
            self._png = FigurePng(self.fig, moving=[self.ticks, self.strip.title, *self.user_bars, self.points])
        self.update(view)
        return self._png.png(key=self.hist.get_ylim())  # two backgrounds: shares up to 0.55 or 1.05


def render_user_view(view: UserView):
    """A matplotlib Figure drawing ``view`` (a new ``UserDrawing``'s; the widget keeps one drawing
    and updates it): the strip of the user's row of R over items ordered by popularity; their
    rating shares vs everyone's; their rating of each item vs that item's mean rating (points
    under the diagonal: the user is harsher than the crowd, a user bias, book eq. 9.4)."""
    return UserDrawing(view.levels, view.global_hist, view.n_items).update(view)


def _numbers_html(view: UserView) -> str:
    diff = view.mean_rating - view.global_mean
    cells = [
        ("ratings |&Omega;<sub>u</sub>|", f"{view.n_rated}"),
        ("share of the catalogue", f"{view.share_of_catalogue:.1%}"),
        ("mean rating", f"{view.mean_rating:.2f}"),
        ("everyone's mean", f"{view.global_mean:.2f} (user {diff:+.2f})"),
        ("median popularity rank of their items", f"{view.median_popularity_rank:.0f} (0 = most rated)"),
    ]
    body = "".join(f"<tr><td style='text-align:left'>{k}</td><td style='text-align:right'><b>{v}</b></td></tr>"
                   for k, v in cells)
    return f"<table>{body}</table>"


class UserExplorer(widgets.VBox):
    """The explorer's box. Its text repr is short and deterministic (nbval compares it),
    unlike VBox's, which would spell out the Output's images."""

    def __repr__(self):
        slider, sort, view = getattr(self, "slider", None), getattr(self, "sort", None), getattr(self, "view", None)
        if slider is None or sort is None or view is None:  # not built yet
            return "UserExplorer()"
        return f"UserExplorer(user={slider.value}, sort={sort.value!r}, {slider.max + 1} users x {view.n_items} items)"


def user_explorer(ratings, user: int = 0, sort: str = "rating", n_top: int = 10):
    """Build the explorer widget for ``ratings`` (call it as a cell's last expression).

    Returns a ``UserExplorer`` (an ``ipywidgets.VBox``) with attributes ``slider`` (user
    index), ``sort`` (ToggleButtons over ``SORT_ORDERS``), ``out`` (the Output) and ``view``
    (the current ``UserView``).
    """
    prepared = prepare_user_explorer(ratings)  # once: CSR, popularity, global histogram
    m = ratings.shape[0]
    if not 0 <= int(user) < m:
        raise ValueError(f"user must be a row index 0 <= user < {m}, got {user}")
    if sort not in SORT_ORDERS:
        raise ValueError(f"sort must be one of {list(SORT_ORDERS)}, got {sort!r}")

    slider = widgets.IntSlider(value=int(user), min=0, max=m - 1, step=1, description="user u",
                               continuous_update=False, layout=widgets.Layout(width="420px"))
    id_label = widgets.HTML()
    # four buttons, not a Dropdown: a closed Dropdown ignores the arrow keys in JupyterLab 4;
    # Tab reaches each button and Space or Enter picks it
    order = widgets.ToggleButtons(options=[(label, key) for key, label in SORT_ORDERS.items()], value=sort,
                                  description="table", style=widgets.ToggleButtonsStyle(button_width="auto"))
    out = widgets.Output()
    box = UserExplorer([widgets.HBox([slider, id_label]), order, out])
    box.slider, box.sort, box.out, box.n_top = slider, order, out, n_top

    drawing = UserDrawing(prepared.levels, prepared.global_hist, ratings.shape[1])
    drawn = {}  # user -> PNG of the last user drawn: a new table order redraws no figure

    def redraw(_change=None):
        with guarded(out, slider, order):
            view = user_view(prepared, int(slider.value), sort=order.value, n_top=n_top)
            box.view = view
            id_label.value = f"&nbsp;MovieLens id <b>{view.user_id}</b>, {view.n_rated} ratings&nbsp;"
            if view.user not in drawn:
                drawn.clear()
                drawn[view.user] = drawing.png(view)
            shown = min(n_top, view.n_rated) if n_top is not None else view.n_rated
            caption = f"<b>{SORT_ORDERS[order.value]}</b> ({shown} of the user's {view.n_rated} ratings)"
            # one update of the Output (see show_outputs for why not clear_output + append_display_data)
            show_outputs(out, Image(data=drawn[view.user], format="png"), HTML(_numbers_html(view)), HTML(caption),
                         view.table)

    slider.observe(redraw, names="value")
    order.observe(redraw, names="value")
    redraw()
    return box
