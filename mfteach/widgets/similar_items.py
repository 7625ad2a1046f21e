r"""Similar-items explorer (lesson 09): pick a movie, see the movies whose learned vectors point
the same way (book 9.2.2, Example 9.2.4: unit-norm movie vectors with inner product close to 1
"tend to get recommended together").

Two layers (ARCHITECTURE.md, "Widgets"):

* ``prepare_similar_items(V, ratings)`` gathers, once, the labels the view needs (titles,
  genres, numbers of ratings, unique dropdown labels); ``nearest_items(prepared, item, ...)``
  is the PURE compute function: it returns the neighbours of ``item`` by cosine of the rows of
  V (``mfteach.embeddings.cosine_neighbors``) as a DataFrame with titles and genres. Tests and
  benchmarks call it without a browser.
* ``similar_items_explorer(V, ratings)`` is the thin ipywidgets layer: a search box and a
  dropdown of titles, a slider for the number of neighbours and one for the minimum number of
  ratings a neighbour needs, optionally a model switch, and an ``Output`` with a bar chart (a
  small inline SVG, ``similar_items_svg``: microseconds to write where a matplotlib PNG takes
  tens of milliseconds; ``render_similar_items`` draws the same bars with matplotlib) and the
  table.

Notation: V is n x k (one row v_i per item); cos(v_i, v_j) = v_i . v_j / (||v_i|| ||v_j||).
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML

from .. import plots
from ..embeddings import cosine_neighbors
from ._common import guarded, show_outputs, svg_hbars

__all__ = [
    "PreparedItems", "prepare_similar_items", "nearest_items", "render_similar_items", "similar_items_svg",
    "SimilarItemsExplorer",
    "similar_items_explorer",
]


@dataclass(frozen=True)
class PreparedItems:
    """What the explorer needs for every query, computed once (see ``prepare_similar_items``)."""

    V: np.ndarray  # n x k item factors
    titles: np.ndarray  # title of each item ("item i" when the ratings carry none)
    genres: np.ndarray  # genres of each item joined by ", " ("" when none)
    counts: np.ndarray  # number of training ratings of each item, |Omega^i|
    labels: np.ndarray  # unique label of each item for the dropdown (title, plus the id when repeated)


def prepare_similar_items(V, ratings=None, titles=None, genres=None, counts=None) -> PreparedItems:
    """Collect the item labels once. ``ratings`` (the training ``Ratings``) supplies titles,
    genres and counts unless they are given; without either, items are "item 0", ... and
    every count is 0."""
    V = np.asarray(V, dtype=float)
    if V.ndim != 2:
        raise ValueError(f"V must be an n x k matrix, got shape {V.shape}")
    n = V.shape[0]
    if ratings is not None:
        if ratings.shape[1] != n:
            raise ValueError(f"V has {n} rows but the ratings have {ratings.shape[1]} items")
        titles = ratings.item_titles if titles is None else titles
        genres = ratings.item_genres if genres is None else genres
        counts = ratings.item_counts() if counts is None else counts
    titles = (np.array([f"item {i}" for i in range(n)], dtype=object) if titles is None
              else np.asarray(titles, dtype=object))
    genres = (np.full(n, "", dtype=object) if genres is None
              else np.array([g if isinstance(g, str) else ", ".join(g) for g in genres], dtype=object))
    counts = np.zeros(n, dtype=np.int64) if counts is None else np.asarray(counts)
    for name, array in (("titles", titles), ("genres", genres), ("counts", counts)):
        if array.shape != (n,):
            raise ValueError(f"{name} must have one entry per item ({n}), got shape {array.shape}")
    ids = ratings.items if ratings is not None else np.arange(n)
    _, inverse, repeats = np.unique(titles.astype(str), return_inverse=True, return_counts=True)
    labels = np.array([f"{t} (id {ids[i]})" if repeats[inverse[i]] > 1 else str(t) for i, t in enumerate(titles)],
                      dtype=object)
    return PreparedItems(V=V, titles=titles, genres=genres, counts=counts, labels=labels)


def nearest_items(prepared, item: int, n: int = 10, min_ratings: int = 0) -> pd.DataFrame:
    """The ``n`` items most similar to ``item`` by the cosine of their rows of V.

    ``prepared`` is a ``PreparedItems`` (an n x k array V is accepted too and prepared on the
    fly, without titles). Only items with at least ``min_ratings`` ratings are candidates:
    the vector of an item rated three times points in a poorly estimated direction and can
    have a high cosine by chance. Pure: no widgets, no drawing; well under a millisecond on
    MovieLens 100K.

    Returns
    -------
    DataFrame with columns ``item`` (index), ``title``, ``genres``, ``ratings`` (|Omega^i|) and
    ``similarity`` (the cosine), most similar first, index 1..n.

    Raises
    ------
    ValueError
        ``item`` has the zero vector (an item without ratings: cold start).
    """
    if not isinstance(prepared, PreparedItems):
        prepared = prepare_similar_items(prepared)
    items, sims = cosine_neighbors(prepared.V, item, n=n, candidates=prepared.counts >= min_ratings)
    table = pd.DataFrame({
        "item": items,
        "title": prepared.titles[items],
        "genres": prepared.genres[items],
        "ratings": prepared.counts[items],
        "similarity": sims,
    })
    table.index = pd.RangeIndex(1, len(table) + 1)
    return table


def render_similar_items(table: pd.DataFrame, query: str):
    """Horizontal bars of the neighbours' cosines (a bare Figure, not registered with pyplot)."""
    from matplotlib.figure import Figure

    n = max(len(table), 1)
    height = 0.26 * n + 1.0
    fig = Figure(figsize=(8, height))
    # fixed margins (room for titles on the left) instead of a layout engine: draws faster
    ax = fig.add_axes((0.42, 0.62 / height, 0.54, 1 - 1.0 / height))
    y = np.arange(len(table))
    labels = [t if len(t) <= 45 else t[:42] + "..." for t in table["title"]]
    ax.barh(y, table["similarity"], color=["C0" if s >= 0.9 else "C9" for s in table["similarity"]])
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    ax.invert_yaxis()
    ax.axvline(0.9, color="C3", ls=":", lw=1)
    ax.set_xlim(min(0.0, float(table["similarity"].min()) if len(table) else 0.0), 1.0)
    ax.set_xlabel(r"cosine $v_i^\top v_j / (\|v_i\|\,\|v_j\|)$  (dotted: 0.9, Example 9.2.4)")
    ax.set_title(f"Nearest items to {query[:60]}", fontsize=10)
    return fig


def similar_items_svg(table: pd.DataFrame, query: str) -> str:
    """The bars of ``render_similar_items`` as an inline SVG (HTML text): one bar per neighbour,
    blue at a cosine of 0.9 or more (Example 9.2.4), sky blue below, a dotted line at 0.9."""
    sims = table["similarity"].to_numpy(dtype=float)
    labels = [t if len(t) <= 45 else t[:42] + "..." for t in table["title"]]
    colors = [plots.COLORS[0] if s >= 0.9 else plots.COLORS[5] for s in sims]
    lo = min(0.0, float(sims.min()) if len(sims) else 0.0)
    return svg_hbars(labels, sims, colors, (lo, 1.0), title=f"Nearest items to {query[:60]}",
                     xlabel="cosine  v_i · v_j / (‖v_i‖ ‖v_j‖)",
                     vlines=[(0.9, plots.COLORS[3], "2,3", "0.9 (Example 9.2.4)")], bar_height=18)


class SimilarItemsExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        movie, count, floor = (getattr(self, name, None) for name in ("movie", "count", "min_ratings"))
        if movie is None or count is None or floor is None:  # not built yet
            return "SimilarItemsExplorer()"
        model = f", model={self.model.value!r}" if getattr(self, "model", None) is not None else ""
        label = self.prepared.labels[movie.value] if movie.value is not None else None
        return (f"SimilarItemsExplorer(item={label!r}, n={count.value}, min_ratings={floor.value}{model}, "
                f"{len(self.prepared.labels)} items)")


def similar_items_explorer(V, ratings, item: int | None = None, n: int = 10, min_ratings: int = 20):
    """Build the widget (call it as a cell's last expression).

    Parameters
    ----------
    V : (n_items, k) array, or dict name -> array
        The item factors; with a dict of several, toggle buttons switch between the models.
    ratings : Ratings
        The training ratings (titles, genres, and the counts behind ``min_ratings``).
    item : int, optional
        The first movie shown; default the most rated one.
    n, min_ratings : int
        Initial values of the two sliders.

    Returns
    -------
    SimilarItemsExplorer (an ``ipywidgets.VBox``) with attributes ``search`` (Text),
    ``movie`` (Dropdown of item indices, labelled by title, most rated first), ``count``
    (IntSlider: number of neighbours), ``min_ratings`` (IntSlider), ``model`` (ToggleButtons,
    or None), ``out`` (the Output) and ``table`` (the current neighbours).
    """
    factors = dict(V) if isinstance(V, dict) else {"model": V}
    if not factors:
        raise ValueError("V must be an array or a non-empty dict of arrays")
    prepared_by_model = {name: prepare_similar_items(F, ratings) for name, F in factors.items()}
    first = next(iter(prepared_by_model.values()))
    order = np.argsort(-first.counts, kind="stable")  # most rated first: famous movies on top
    options = [(first.labels[i], int(i)) for i in order]
    item = int(order[0]) if item is None else int(item)
    if not 0 <= item < len(order):
        raise ValueError(f"item must be an index 0 <= item < {len(order)}, got {item}")

    search = widgets.Text(placeholder="type part of a title", description="search", continuous_update=True,
                          layout=widgets.Layout(width="300px"))
    movie = widgets.Dropdown(options=options, value=item, description="movie", layout=widgets.Layout(width="480px"))
    count = widgets.IntSlider(value=int(n), min=3, max=25, step=1, description="neighbours", continuous_update=False,
                              layout=widgets.Layout(width="360px"))
    floor_max = int(max(1, min(200, int(first.counts.max()))))
    floor = widgets.IntSlider(value=int(min(min_ratings, floor_max)), min=0, max=floor_max, step=5,
                              description="min ratings", continuous_update=False,
                              style={"description_width": "initial"}, layout=widgets.Layout(width="360px"))
    model = (widgets.ToggleButtons(options=list(factors), description="item vectors", style={"description_width": "initial"})
             if len(factors) > 1 else None)
    note = widgets.HTML()
    out = widgets.Output()
    rows = [widgets.HBox([search, note]), movie, widgets.HBox([count, floor])]
    if model is not None:
        rows.append(model)
    box = SimilarItemsExplorer(rows + [out])
    box.search, box.movie, box.count, box.min_ratings, box.model, box.out = search, movie, count, floor, model, out
    box.prepared, box.table = first, None
    filtering = [False]  # True while the dropdown's options are swapped: one redraw, not two

    # held while a change runs: the sliders and the model buttons. Not the long movie list: a
    # disabled-then-enabled Dropdown rebuilds its ~1,600 options in the browser, twice, which
    # costs far more than the update itself
    controls = [count, floor] + ([model] if model is not None else [])

    def redraw(_change=None):
        if filtering[0]:
            return
        with guarded(out, *controls):
            prepared = prepared_by_model[model.value] if model is not None else first
            box.prepared = prepared
            i = movie.value
            if i is None:
                return
            header = (f"<b>{prepared.labels[i]}</b> &nbsp; {prepared.genres[i]} &nbsp; "
                      f"({prepared.counts[i]} ratings, ||v_i|| = {np.linalg.norm(prepared.V[i]):.2f})")
            try:
                table = nearest_items(prepared, i, n=count.value, min_ratings=floor.value)
            except ValueError as exc:  # a zero vector: the cold-start case
                box.table = None
                show_outputs(out, HTML(header), HTML(f"<i>{exc}</i>"))
                return
            box.table = table
            shown = table.assign(similarity=table["similarity"].round(3))
            show_outputs(out, HTML(header), HTML(similar_items_svg(table, prepared.labels[i])), shown)

    def filter_titles(_change=None):
        text = search.value.strip().lower()
        chosen = [(label, i) for label, i in options if text in label.lower()] if text else options
        if not chosen:
            note.value = "&nbsp;<i>no title matches</i>"
            return
        note.value = f"&nbsp;{len(chosen)} of {len(options)} titles"
        current = movie.value
        filtering[0] = True
        try:
            movie.options = chosen  # resets the value to the first option ...
            if any(i == current for _, i in chosen):
                movie.value = current  # ... so keep the current movie when it is still offered
        finally:
            filtering[0] = False
        if movie.value != current:
            redraw()

    search.observe(filter_titles, names="value")
    for control in (movie, count, floor) + ((model,) if model is not None else ()):
        control.observe(redraw, names="value")
    redraw()
    return box
