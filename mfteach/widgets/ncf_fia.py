r"""MF or NCF: which past ratings explain a prediction? (lesson 17; Cheng, Shen, Huang, Zhu,
KDD 2019, sections 3.2 and 3.3).

For a target user u and item i both explainers score every rating z in R_t (the user's own
ratings and the item's ratings by other users) by its influence on the prediction,

.. math::

    \mathrm{INFL}(z) = \hat y(\theta) - \hat y(\theta_{-z})
    \approx -\nabla\hat y^\top H^{-1}\nabla l(z)

(positive: z pushed the prediction up), over the parameters the prediction depends on:
theta_t = (u_u, b_u, v_i, c_i) of a matrix factorization (``mfteach.explain.fia``, eq. (18)),
theta_e = (p_u, q_i) of a neural CF model with its network held fixed
(``mfteach.explain.fia_ncf``, eq. (24)). Same data, same R_t, two models: do they give the
same reasons?

Two layers (ARCHITECTURE.md, "Widgets"):

* ``compare_explanations(mf_model, ncf_model, ratings, user, item, n_top)`` is the PURE compute
  function: one ``fia`` and one ``fia_ncf`` call (milliseconds), the two influences of every
  rating of R_t side by side, their Pearson R, and how many of the ``n_top`` most influential
  ratings the two share (a ``Comparison``).
* ``ncf_explorer(mf_model, ncf_model, ratings, ...)`` is the thin ipywidgets layer: a user
  slider (first), a dropdown of target movies, and an ``Output`` with the two tables (one per
  model) and a scatter of MF influence against NCF influence (``ComparisonDrawing``, built once;
  a change moves its points).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ..base import check_fitted, check_index, check_positive_int, check_ratings
from ..explain.fast_influence import SIDES, fia  # SIDES: the user's own ratings; the item's ratings by other users
from ..explain.fast_influence_ncf import fia_ncf
from ..ncf import NCF
from ._common import (
    FigurePng, escape_html as _escape, guarded, influence_bar, redraw_on_change, show_outputs, type_ahead, user_item_pickers, user_item_repr,
)

__all__ = ["SIDES", "Comparison", "compare_explanations", "ComparisonDrawing", "render_comparison", "render_tables",
           "NcfExplorer", "ncf_explorer"]

MODELS = ("mf", "ncf")


# ---------------------------------------------------------------------------- the compute function
@dataclass(frozen=True, eq=False)
class Comparison:
    """Both explanations of one prediction (from ``compare_explanations``)."""

    user: int
    item: int
    title: str                # the target item's title (or id)
    genres: str               # its genres joined by ", " ("" when the ratings carry none)
    mf: pd.DataFrame          # fia(mf_model, ...)'s whole frame, largest |influence| first
    ncf: pd.DataFrame         # fia_ncf(ncf_model, ...)'s whole frame, largest |influence| first
    joined: pd.DataFrame      # one row per rating of R_t: user, item, title, rating, side, mf, ncf
    n_top: int
    correlation: float        # Pearson R of joined["mf"] and joined["ncf"] (NaN when undefined)
    shared_top: int           # ratings in both models' n_top most influential

    @property
    def mf_prediction(self) -> float:
        return float(self.mf.attrs["prediction"])

    @property
    def ncf_prediction(self) -> float:
        return float(self.ncf.attrs["prediction"])

    def top(self, model: str, side: str) -> pd.DataFrame:
        """The ``n_top`` most influential ratings of ``side`` for ``model`` ("mf" or "ncf"): that
        explainer's own rows and columns, in its order."""
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        frame = getattr(self, model)
        return frame[frame["side"] == side].head(self.n_top)

    def summary(self) -> str:
        n = len(self.joined)
        r = "undefined" if np.isnan(self.correlation) else f"{self.correlation:.2f}"
        return (f"User {self.user}, {self.title}: MF predicts {self.mf_prediction:.2f}, NCF {self.ncf_prediction:.2f}. "
                f"Of the {self.n_top} most influential of the {n} ratings in R_t, {self.shared_top} are the same; "
                f"Pearson R of the two influences over R_t: {r}.")


def _check_models(mf_model, ncf_model, ratings):
    if isinstance(mf_model, NCF):
        raise TypeError("mf_model must be a matrix factorization (mt.ALS or mt.GradientDescent), got an NCF; "
                        "pass the NCF as ncf_model")
    if not isinstance(ncf_model, NCF):
        raise TypeError(f"ncf_model must be a fitted mfteach.ncf.NCF, got {type(ncf_model).__name__}")
    check_fitted(ncf_model)
    if not hasattr(mf_model, "shape"):
        raise TypeError(f"mf_model must be a fitted mt.ALS or mt.GradientDescent, got {type(mf_model).__name__}")
    check_ratings("ratings", ratings)
    for name, model in (("mf_model", mf_model), ("ncf_model", ncf_model)):
        if tuple(model.shape) != tuple(ratings.shape):
            raise ValueError(f"ratings have shape {ratings.shape} but {name} was fitted on "
                             f"{model.shape[0]} x {model.shape[1]}")
    return ratings.shape


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def compare_explanations(mf_model, ncf_model, ratings, user: int, item: int, n_top: int = 5) -> Comparison:
    """Explain the prediction for (``user``, ``item``) with MF-FIA and NCF-FIA (KDD 2019, eq. (18)
    and (24)) on the same training ``ratings``.

    One ``fia(mf_model, ratings, user, item)`` and one ``fia_ncf(ncf_model, ratings, user, item)``
    call; ``joined`` puts the two influences of every rating of R_t side by side (MF's order),
    ``correlation`` is their Pearson R over R_t, ``shared_top`` the number of ratings among both
    models' ``n_top`` largest |influence|. Pure: no widgets, no drawing; a few milliseconds.
    """
    m, n = _check_models(mf_model, ncf_model, ratings)
    user, item = check_index("user", user, m, "row"), check_index("item", item, n, "column")
    n_top = check_positive_int("n_top", n_top)
    mf = fia(mf_model, ratings, user, item)
    ncf = fia_ncf(ncf_model, ratings, user, item)
    key = ["user", "item"]
    joined = mf[key + ["title", "rating", "side", "influence"]].rename(columns={"influence": "mf"}).merge(
        ncf[key + ["influence"]].rename(columns={"influence": "ncf"}), on=key, how="left", validate="1:1")
    if len(ncf) != len(mf) or joined["ncf"].isna().any():  # both explainers take R_t from the same ratings
        raise ValueError(f"fia and fia_ncf explained different ratings for user {user} and item {item}")
    top = [set(map(tuple, frame[key].head(n_top).to_numpy().tolist())) for frame in (mf, ncf)]
    title = str(ratings.item_labels([item])[0])
    genres = ", ".join(ratings.item_genres[item]) if ratings.item_genres is not None else ""
    return Comparison(user, item, title, genres, mf, ncf, joined, n_top,
                      _pearson(joined["mf"].to_numpy(), joined["ncf"].to_numpy()), len(top[0] & top[1]))


# ---------------------------------------------------------------------------- drawing
def _short(text: str, width: int = 28) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


class ComparisonDrawing:
    """MF influence (x) against NCF influence (y) of every rating in R_t, the user's own ratings
    and the item's ratings in two colours, the diagonal y = x, and the most influential rating of
    each model labelled. Built once; ``update`` moves the points and relabels. ``fig`` is a bare
    ``Figure`` (not registered with pyplot)."""

    def __init__(self, mf_label: str = "MF (ALS)", ncf_label: str = "NCF"):
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(5.8, 5.3))  # fixed axes, no layout engine: half the drawing time
        ax = self.ax = self.fig.add_axes((0.15, 0.22, 0.81, 0.68))
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        (self.diagonal,) = ax.plot([], [], ls="--", color="0.4", lw=1, label="y = x")
        self.points = {  # markers of a Line2D draw faster than a scatter's PathCollection
            "item-based": ax.plot([], [], plots.MARKERS[0], ms=4, color="C0", alpha=0.7,
                                  label="the user's ratings (item-based)")[0],
            "user-based": ax.plot([], [], plots.MARKERS[1], ms=4, color="C1", alpha=0.7,
                                  label="others' ratings of the movie (user-based)")[0],
        }
        self.labels = [ax.annotate("", (0, 0), xytext=(6, 6), textcoords="offset points", fontsize=9,
                                   bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
                       for _ in MODELS]  # a white box: readable over the points
        ax.set_xlabel(f"influence on the prediction, {mf_label}")
        ax.set_ylabel(f"influence on the prediction, {ncf_label}")
        # the legend below the axes: never on the points
        self.fig.legend(loc="lower center", ncols=2, fontsize=9, frameon=False, columnspacing=1.2)
        self.view = None

    def update(self, view: Comparison):
        """Show ``view``; returns the figure."""
        joined = view.joined
        for side, points in self.points.items():
            rows = joined[joined["side"] == side]
            points.set_data(rows["mf"].to_numpy(), rows["ncf"].to_numpy())
        values = joined[["mf", "ncf"]].to_numpy()
        lo, hi = float(min(values.min(), 0.0)), float(max(values.max(), 0.0))
        pad = 0.08 * (hi - lo) if hi > lo else 0.1
        lo, hi = lo - pad, hi + pad
        self.ax.set_xlim(lo, hi)
        self.ax.set_ylim(lo, hi)
        self.diagonal.set_data([lo, hi], [lo, hi])
        tops = [getattr(view, model).iloc[0] for model in MODELS]
        same = (tops[0]["user"], tops[0]["item"]) == (tops[1]["user"], tops[1]["item"])
        for k, (label, model, top) in enumerate(zip(self.labels, MODELS, tops)):
            row = joined[(joined["user"] == top["user"]) & (joined["item"] == top["item"])].iloc[0]
            who = _short(row["title"], 24) if row["side"] == "item-based" else f"user {int(row['user'])}"
            owner = "top of both" if same else f"{model.upper()}'s top"
            label.set_text("" if same and k == 1 else f"{owner}: {who} ({row['rating']:g}★)")
            label.xy = (row["mf"], row["ncf"])
            right = row["mf"] > (lo + hi) / 2  # write towards the middle, never off the axes
            label.set_horizontalalignment("right" if right else "left")
            label.set_position((-6 if right else 6, 6 if k == 0 else -14))
        r = "undefined" if np.isnan(view.correlation) else f"{view.correlation:.2f}"
        self.ax.set_title(f"user {view.user}, {_short(view.title, 36)}\n"  # no $math$: mathtext is slow
                          f"the {len(joined)} ratings of R_t: Pearson R = {r}", fontsize=10)
        self.view = view
        return self.fig


def render_comparison(view: Comparison):
    """The scatter of ``ComparisonDrawing`` for ``view``, in a new bare ``Figure``."""
    return ComparisonDrawing().update(view)


def _model_table(view: Comparison, model: str, caption: str, scale: float) -> str:
    rows = []
    for side, heading in (("item-based", f"item-based: ratings of user {view.user}"),
                          ("user-based", f"user-based: other users' ratings of {_escape(_short(view.title, 30))}")):
        rows.append(f"<tr><td colspan='3' style='text-align:left; color:#555; padding-top:4px'><i>{heading}</i>"
                    f"</td></tr>")
        for row in view.top(model, side).itertuples():
            who = _escape(_short(row.title, 34)) if side == "item-based" else f"user {row.user}"
            rows.append(f"<tr><td style='text-align:left'>{who}</td><td>{row.rating:g}</td>"
                        f"<td style='white-space:nowrap; text-align:left'>{influence_bar(row.influence, scale)} "
                        f"{row.influence:+.3f}</td></tr>")
    head = ("<tr><th style='text-align:left'>rating of</th><th>stars</th>"
            "<th style='text-align:left'>influence</th></tr>")
    return (f"<table style='font-size:88%; margin-right:20px'><caption style='text-align:left'><b>{caption}</b>"
            f"</caption>{head}{''.join(rows)}</table>")


def render_tables(view: Comparison) -> str:
    """The headline and the two tables (MF left, NCF right) as HTML; influence as blue (up) /
    orange (down) bars on one common scale."""
    shown = pd.concat([view.top(model, side)["influence"] for model in MODELS for side in SIDES])
    scale = float(np.abs(shown).max()) if len(shown) else 0.0
    genres = f" <span style='color:#555'>({_escape(view.genres)})</span>" if view.genres else ""
    r = "undefined" if np.isnan(view.correlation) else f"{view.correlation:.2f}"
    head = (f"<p style='margin:2px 0 6px 0'>Target: user {view.user}, <b>{_escape(view.title)}</b>{genres}. "
            f"Predicted rating: MF <b>{view.mf_prediction:.2f}</b>, NCF <b>{view.ncf_prediction:.2f}</b>. "
            f"{view.shared_top} of each model's {view.n_top} most influential ratings are shared; Pearson R over "
            f"all {len(view.joined)} ratings of R<sub>t</sub>: <b>{r}</b>.</p>")
    left = _model_table(view, "mf", f"MF-FIA (eq. 18): prediction {view.mf_prediction:.2f}", scale)
    right = _model_table(view, "ncf", f"NCF-FIA (eq. 24): prediction {view.ncf_prediction:.2f}", scale)
    note = ("<p style='margin:4px 0 0 0; font-size:85%; color:#555'>influence = predicted rating minus the prediction "
            "without that rating (first order); top rows of each side by |influence|</p>")
    return (f"<div style='border-left:4px solid {plots.PALETTE['blue']}; padding-left:8px'>{head}"
            f"<div style='display:flex; flex-wrap:wrap'>{left}{right}</div>{note}</div>")


# ---------------------------------------------------------------------------- the widget
class NcfExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    __repr__ = user_item_repr


def ncf_explorer(mf_model, ncf_model, ratings, user: int | None = None, item: int | None = None, users=None,
                 test=None, n_top: int = 5, n_items: int = 8, cache_size: int = 64) -> NcfExplorer:
    """Build the side-by-side explorer (call it as a cell's last expression).

    Controls: a selection slider for the user (first), and a dropdown of target movies: the
    user's held-out movies in ``test`` (when given), then the NCF model's ``n_items`` highest
    predicted movies the user has not rated, each labelled with both predictions. The ``Output``
    shows ``compare_explanations``'s headline and two tables (MF-FIA left, NCF-FIA right) and the
    scatter of MF against NCF influence over R_t. Views already shown are kept (the last
    ``cache_size``), so moving the slider back is instant.

    Parameters
    ----------
    mf_model : mt.ALS or mt.GradientDescent, fitted on ``ratings``.
    ncf_model : mfteach.ncf.NCF, fitted on ``ratings``.
    ratings : Ratings
        The training ratings of both models (titles, genres, R_t).
    user : int, optional
        The user shown first (default: the first user offered).
    item : int, optional
        The movie shown first (default: the first offered); offered even when not in the list.
    users : sequence of int, optional
        The users on the slider (default: the users of ``test``, else every user with a rating).
    test : Ratings, optional
        Held-out ratings; a user's held-out movies are offered first, marked "held out".
    n_top : int
        Rows per side in each table.
    n_items : int
        Recommendations in the dropdown.

    Returns an ``NcfExplorer`` with ``user`` (the slider), ``item`` (the dropdown), ``out``,
    ``ratings``, ``n_top`` and ``view`` (the last ``Comparison``).
    """
    m, n = _check_models(mf_model, ncf_model, ratings)
    n_top = check_positive_int("n_top", n_top)
    n_items = check_positive_int("n_items", n_items)
    cache_size = check_positive_int("cache_size", cache_size)
    if test is not None:
        check_ratings("test", test, (m, n))
    if users is not None:
        offered = [check_index("user", u, m, "row") for u in users]
    elif test is not None:
        offered = np.unique(test.rows)
    else:
        offered = np.flatnonzero(ratings.user_counts() > 0)

    def label(u: int, i: int, note: str = "") -> str:
        mf_score, ncf_score = float(mf_model.predict([u], [i])[0]), float(ncf_model.predict([u], [i])[0])
        return f"{note}{ratings.item_labels([i])[0]} (MF {mf_score:.2f}, NCF {ncf_score:.2f})"

    def item_options(u: int, extra: int | None = None):
        held = [] if test is None else test.cols[test.rows == u].tolist()
        options = [(label(u, i, "held out: "), int(i)) for i in held]
        options += [(label(u, i), int(i)) for i in ncf_model.recommend(u, n=n_items)["item"] if i not in held]
        if extra is not None and extra not in {v for _, v in options}:
            options.insert(0, (label(u, extra), int(extra)))
        return options

    user_slider, item_picker = user_item_pickers(offered, user, item, (m, n), item_options, width="520px",
                                                 label_width="50px")
    out = widgets.Output()
    find = type_ahead(item_picker, placeholder="type a title, then Enter")
    box = NcfExplorer([user_slider, widgets.HBox([item_picker, find]), out])
    box.find = find
    box.user, box.item, box.out = user_slider, item_picker, out
    box.ratings, box.n_top, box.view = ratings, n_top, None
    drawing = ComparisonDrawing()  # built once; a change only moves its points
    image = FigurePng(drawing.fig)  # an Agg canvas at the PNG's dpi: one draw per new pair, no savefig pass
    shown: OrderedDict = OrderedDict()  # (user, item) -> (Comparison, html, png)

    def redraw():
        with guarded(out, user_slider, item_picker, find):
            key = (int(user_slider.value), int(item_picker.value))
            if key not in shown:
                view = compare_explanations(mf_model, ncf_model, ratings, *key, n_top=n_top)
                drawing.update(view)
                shown[key] = (view, render_tables(view), image.png())
                while len(shown) > cache_size:
                    shown.popitem(last=False)
            shown.move_to_end(key)
            view, html, png = shown[key]
            box.view = view
            show_outputs(out, HTML(html), Image(data=png, format="png"))

    redraw_on_change(user_slider, item_picker, item_options, redraw)
    redraw()
    return box
