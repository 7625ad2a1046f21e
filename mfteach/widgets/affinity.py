"""Affinity explorer: a hand-made taste vector against movies' attribute vectors (book 9.1.1).

The book's curator gives every movie j a 0/1 attribute vector B_j (here: its genres) and
every user i a 0/1 taste vector A_i over the same attributes; the affinity is the dot
product A_i . B_j (eq. 9.1), optionally plus a per-user bias a_{i,0} (eq. 9.4).

In our notation the user is u and i is an item: the bias is a_{u,0}, the attribute vectors
b_i are the rows of an n x r item matrix (like V; the book's B is its transpose), the taste
vector a is like a row u_u of U, and one user's affinities are ``item_attributes @ a``.

* ``affinity_ranking(taste, item_attributes, ...)`` is the PURE compute function (a ranked
  DataFrame);
* ``affinity_explorer(...)`` wires one checkbox per attribute and a bias slider to an Output,
  which shows the ranking as a small inline SVG bar chart (``affinity_svg``: microseconds to
  write, where a matplotlib PNG takes tens of milliseconds) above the table; ``render_affinity``
  draws the same chart with matplotlib.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML

from .. import plots
from ._common import guarded, show_outputs, svg_hbars

__all__ = ["affinity_ranking", "render_affinity", "affinity_svg", "AffinityExplorer", "affinity_explorer"]


def _check(taste, item_attributes, titles, attribute_names):
    B = np.asarray(item_attributes, dtype=float)
    if B.ndim != 2:
        raise ValueError(f"item_attributes must be an n x r matrix, got shape {B.shape}")
    n, r = B.shape
    a = np.asarray(taste, dtype=float).ravel()
    if a.shape != (r,):
        raise ValueError(f"taste must have one entry per attribute (r = {r}), got {a.shape[0]}")
    titles = np.array([f"item {i}" for i in range(n)], dtype=object) if titles is None else np.asarray(titles, dtype=object)
    if titles.shape != (n,):
        raise ValueError(f"titles must have one entry per item (n = {n}), got {len(titles)}")
    names = [f"attribute {k}" for k in range(r)] if attribute_names is None else list(attribute_names)
    if len(names) != r:
        raise ValueError(f"attribute_names must have r = {r} entries, got {len(names)}")
    return a, B, titles, names


def affinity_ranking(taste, item_attributes, titles=None, attribute_names=None, bias: float = 0.0) -> pd.DataFrame:
    """Rank items by the affinity  a . b_i + bias  of one taste vector (book eq. 9.1 and 9.4).

    Parameters
    ----------
    taste : (r,) array
        The user's taste vector a (book: A_i), e.g. 0/1 "likes this genre".
    item_attributes : (n, r) array
        One attribute vector b_i per item, in rows (book: the columns B_j of B).
    titles, attribute_names : optional labels of the n items and r attributes.
    bias : float
        The user's bias a_{u,0} (eq. 9.4), added to every affinity.

    Returns
    -------
    DataFrame with one row per item, highest affinity first (ties keep the item order):
    ``item`` (index), ``title``, ``shared`` (the attributes where both vectors are nonzero),
    ``affinity``. Pure: no widgets, no drawing.
    """
    a, B, titles, names = _check(taste, item_attributes, titles, attribute_names)
    scores = B @ a + float(bias)  # eq. 9.1 (+ 9.4): one dot product per item
    order = np.argsort(-scores, kind="stable")
    shared = [", ".join(names[k] for k in np.flatnonzero((B[i] != 0) & (a != 0))) for i in order]
    return pd.DataFrame({"item": order, "title": titles[order], "shared": shared, "affinity": scores[order]})


def render_affinity(table: pd.DataFrame, bias: float = 0.0, xmax: float | None = None):
    """Horizontal bars of the affinities in ``table`` (a bare Figure, not registered with pyplot)."""
    from matplotlib.figure import Figure

    n = len(table)
    height = 0.3 * n + 1.0
    fig = Figure(figsize=(8, height))
    # fixed margins (room for titles on the left) instead of a layout engine: draws faster
    ax = fig.add_axes((0.34, 0.7 / height, 0.62, 1 - 1.15 / height))
    y = np.arange(n)
    colors = ["C0" if s > bias else "C7" for s in table["affinity"]]
    ax.barh(y, table["affinity"], color=colors)
    ax.set_yticks(y)
    ax.set_yticklabels(table["title"])
    ax.invert_yaxis()
    if bias != 0:
        ax.axvline(bias, color="C3", ls="--", lw=1, label=f"bias $a_{{u,0}}$ = {bias:g}")
        ax.legend(loc="lower right", frameon=False)
    ax.axvline(0, color="k", lw=0.8)
    hi = (xmax if xmax is not None else max(float(table["affinity"].max()), 1.0)) + 0.5
    lo = min(0.0, float(table["affinity"].min()), bias) - 0.5
    ax.set_xlim(lo, hi)
    ax.set_xlabel("affinity  $a \\cdot b_i + a_{u,0}$  (shared attributes + bias)")
    ax.set_title("Movies ranked by affinity to this taste vector")
    return fig


def affinity_svg(table: pd.DataFrame, bias: float = 0.0, xmax: float | None = None) -> str:
    """The bars of ``render_affinity`` as an inline SVG (HTML text): same order, colours (blue
    above the bias, grey at or below it), dashed bias line, axis and title."""
    scores = table["affinity"].to_numpy(dtype=float)
    hi = (xmax if xmax is not None else max(float(scores.max()) if len(scores) else 1.0, 1.0)) + 0.5
    lo = min(0.0, float(scores.min()) if len(scores) else 0.0, bias) - 0.5
    colors = [plots.COLORS[0] if s > bias else "#999999" for s in scores]
    lines = [(bias, plots.COLORS[3], "5,3", f"bias a_u0 = {bias:g}")] if bias != 0 else []
    return svg_hbars(list(table["title"]), scores, colors, (lo, hi),
                     title="Movies ranked by affinity to this taste vector",
                     xlabel="affinity  a · b_i + a_u0  (shared attributes + bias)", vlines=lines)


class AffinityExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        checkboxes, bias, table = (getattr(self, name, None) for name in ("checkboxes", "bias", "table"))
        if checkboxes is None or bias is None or table is None:  # not built yet
            return "AffinityExplorer()"
        ticked = [box.description for box in checkboxes if box.value]
        return f"AffinityExplorer(taste={ticked}, bias={bias.value:g}, {len(table)} items)"


def affinity_explorer(item_attributes, titles=None, attribute_names=None, taste=None, bias: float = 0.0):
    """Build the widget: one checkbox per attribute (the taste vector), a bias slider, and an
    Output with the ranked bar chart (an inline SVG, ``affinity_svg``) and the table; a change
    shows any error in the Output and gives the controls back (``guarded``). Returns an ``AffinityExplorer`` with
    attributes ``checkboxes``, ``bias`` (FloatSlider), ``out`` and ``table`` (the current
    ranking)."""
    B = np.asarray(item_attributes, dtype=float)
    r = B.shape[1] if B.ndim == 2 else 0
    taste = np.zeros(r) if taste is None else np.asarray(taste, dtype=float)
    a, B, titles, names = _check(taste, B, titles, attribute_names)
    xmax = float(np.abs(B).sum(axis=1).max()) + 2.0  # fixed axis so a bias shift is visible

    checkboxes = [widgets.Checkbox(value=bool(a[k]), description=names[k], indent=False,
                                   layout=widgets.Layout(width="130px")) for k in range(r)]
    slider = widgets.FloatSlider(value=float(bias), min=-2.0, max=2.0, step=0.5, description="bias a_u0",
                                 readout_format=".1f", layout=widgets.Layout(width="360px"))
    out = widgets.Output()
    grid = widgets.GridBox(checkboxes, layout=widgets.Layout(grid_template_columns="repeat(5, 135px)"))
    box = AffinityExplorer([widgets.HTML("<b>taste vector a</b> (tick the genres this user likes)"), grid, slider, out])
    box.checkboxes, box.bias, box.out = checkboxes, slider, out

    def redraw(_change=None):
        # the error of a change shows in the Output; only the slider is held while the few
        # milliseconds run (disabling every genre checkbox costs the browser more than the update)
        with guarded(out, slider):
            vector = np.array([float(cb.value) for cb in checkboxes])
            table = affinity_ranking(vector, B, titles, names, bias=slider.value)
            box.table = table
            show_outputs(out, HTML(affinity_svg(table, bias=slider.value, xmax=xmax)), table.round({"affinity": 2}))

    for cb in checkboxes:
        cb.observe(redraw, names="value")
    slider.observe(redraw, names="value")
    redraw()
    return box
