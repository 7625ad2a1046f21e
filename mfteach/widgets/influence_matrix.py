r"""Influence-matrix explorer (lesson 12): for a user and a target movie, the row of the influence
matrix J (FATREC 2017, eq. (2)) over the user's past ratings, as influences beta_k and impacts
gamma_k, and the impacts adding up to the prediction.

With V fixed, ALS's user update makes every prediction of user u linear in the user's ratings
(``mfteach.explain.fatrec``):

.. math::

    \hat r_{ui} = \underbrace{\mu + c_i}_{\text{baseline (biased model; 0 otherwise)}}
    + \sum_{k \in \Omega_u} \gamma_k, \qquad
    \beta_k = J_{ik} = \frac{\partial \hat r_{ui}}{\partial r_{uk}}, \qquad
    \gamma_k = J_{ik}\,(r_{uk} - \mu - c_k)\ \ (\gamma_k = J_{ik} r_{uk}\ \text{unbiased}),

with J = F (F_{Omega_u}^T F_{Omega_u} + lambda I)^{-1} F_{Omega_u}^T, F = V (unbiased) or [V, 1]
(biased: b_u is fitted to the user's ratings, so it sits inside the impacts). The influence
answers the paper's question 2 ("what could I change to most affect it?"), the impact question 1
("what produced it?"); they rank the ratings differently.

This is not lesson 13's perturbation explorer (``influence_explorer``, which changes one rating
and retrains): here nothing changes, the prediction is taken apart.

Two layers (ARCHITECTURE.md, "Widgets"):

* ``impact_view(model, ratings, user, item, n_top, order)`` is the PURE compute function: it calls
  ``mt.explain.influence`` (one k x k Cholesky solve, row J[item] only) and returns an
  ``ImpactView`` with the rows to show, the rest summed, baseline and prediction; ``ImpactDrawing``
  draws it in matplotlib (built once per row layout, then only its bars and texts move) and
  ``impact_svg`` the same two panels as a small inline SVG (the explorer's output: a change
  answers in milliseconds, the browser lays out the text);
* ``influence_matrix_explorer(model, ratings, ...)`` wires a user slider (first), a movie
  dropdown with a type-ahead box, a "rows by" toggle (|influence| or |impact|) and, given a dict
  of models, a model toggle to an ``Output`` with a caption, the two panels of ``impact_svg`` and
  the drawn rows' numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML

from .. import plots
from ..base import check_index, check_positive_int, check_ratings
from ..ratings import Ratings
from ._common import escape_html as _escape, guarded, show_outputs, type_ahead

__all__ = [
    "N_TOP", "ORDERS", "ImpactView", "impact_view", "ImpactDrawing", "render_impact_view", "impact_svg",
    "InfluenceMatrixExplorer",
    "influence_matrix_explorer",
]

N_TOP = 8                            # past ratings drawn one by one; the others are summed in one row
ORDERS = ("influence", "impact")     # rank the rows by |beta_k| (question 2) or by |gamma_k| (question 1)


@dataclass(frozen=True, eq=False)
class ImpactView:
    """One prediction taken apart (from ``impact_view``)."""

    user: int
    item: int
    order: str                # "influence" or "impact": how ``frame`` is sorted
    frame: pd.DataFrame       # every rated item: item, title, rating, influence, impact; sorted by |order|
    n_top: int                # rows of ``frame`` drawn one by one
    baseline: float           # mu + c_item (biased), 0 (unbiased)
    prediction: float         # the model's r_hat_ui
    biased: bool
    user_bias: float          # b_u (biased; inside the impacts), 0 otherwise
    own_rating: float | None  # the user's rating of ``item`` when they rated it

    @property
    def shown(self) -> pd.DataFrame:
        return self.frame.iloc[: self.n_top]

    @property
    def rest(self) -> pd.DataFrame:
        return self.frame.iloc[self.n_top:]

    @property
    def total(self) -> float:
        """baseline + every impact: equal to ``prediction`` (eq. (2) is exact for converged ALS)."""
        return float(self.baseline + self.frame["impact"].sum())

    @property
    def residual(self) -> float:
        return self.total - self.prediction


def _check_order(order) -> str:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    return order


def impact_view(model, ratings: Ratings, user: int, item: int, n_top: int = N_TOP,
                order: str = "influence") -> ImpactView:
    """The influences beta_k = J[item, k] and impacts gamma_k of ``user``'s past ratings on the
    prediction for ``item`` (``mt.explain.influence``), sorted by |beta| (``order="influence"``) or
    by |gamma| (``"impact"``), largest first; the first ``n_top`` rows are drawn one by one.

    ``model`` must be an ``mt.ALS`` fitted on ``ratings`` (its own training ratings), best converged
    (``tol``): then baseline + sum of impacts = the model's prediction. Pure; one k x k solve."""
    from ..explain.fatrec import influence  # lazily: mfteach.explain is heavy to import

    n_top = check_positive_int("n_top", n_top)
    order = _check_order(order)
    frame = influence(model, ratings, user, item)  # checks model, ratings, user, item
    if order == "impact":
        frame = frame.iloc[np.argsort(-np.abs(frame["impact"].to_numpy()), kind="stable")].reset_index(drop=True)
    user, item = int(user), int(item)
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    k = lo + int(np.searchsorted(ratings.cols[lo:hi], item))
    own = float(ratings.values[k]) if k < hi and ratings.cols[k] == item else None
    biased = bool(model.biased)
    return ImpactView(user, item, order, frame, n_top, float(frame.attrs["baseline"]),
                      float(model.predict([user], [item])[0]), biased,
                      float(model.user_bias_[user]) if biased else 0.0, own)


# ---------------------------------------------------------------------------- display
def _short(text, width: int = 34) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _bar_style(value: float) -> dict:
    """Blue for >= 0, orange and hatched for < 0: the sign is carried by colour AND pattern."""
    positive = value >= 0
    return {"color": plots.SIGN_COLORS[0] if positive else plots.SIGN_COLORS[1],
            "hatch": None if positive else "///", "edgecolor": "white" if positive else "0.25", "lw": 0.5}


def _layout(view: ImpactView) -> tuple[bool, int, bool]:
    """What fixes the figure's rows: (biased, rows drawn one by one, other ratings summed)."""
    return view.biased, len(view.shown), len(view.rest) > 0


class ImpactDrawing:
    """The explorer's figure for one row layout (``_layout``), built once; ``update(view)`` moves its
    bars and texts. Two panels with the same rows (the user's past ratings, largest first): (left)
    the influences beta_k = J[item, k]; (right) a waterfall: the baseline (biased model), each impact
    gamma_k added in turn, the other ratings' impacts as one step, and the sum, which is the
    prediction (black diamond: ``model.predict``). Blue bars are >= 0, orange hatched ones < 0.
    ``fig`` is a bare ``Figure`` (not registered with pyplot); ``axes`` = (influences, waterfall)."""

    def __init__(self, layout: tuple[bool, int, bool]):
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.layout = biased, n_shown, has_rest = layout
        self.first = 1 if biased else 0
        self.rows = rows = self.first + n_shown + (1 if has_rest else 0) + 1
        height = 0.27 * rows + 1.3
        fig = self.fig = Figure(figsize=(11.5, height))
        bottom, top = 0.6 / height, 1 - 0.58 / height
        left = fig.add_axes((0.30, bottom, 0.26, top - bottom))
        # the panels share their rows by equal y limits (sharey would measure the other's ticks per draw)
        right = fig.add_axes((0.60, bottom, 0.37, top - bottom))
        self.axes = (left, right)
        for ax in self.axes:
            ax.set_ylim(rows - 0.5, -0.5)  # first row on top
            ax.axvline(0, color="k", lw=0.8)
        rated = self.first + np.arange(n_shown)
        self.beta_bars = list(left.barh(rated, np.zeros(n_shown), height=0.7))
        left.xaxis.set_major_locator(MaxNLocator(5))
        left.set_yticks(np.arange(rows))
        left.set_xlabel("influence β_k = J[i, k]  (stars per star)")
        # titles at a fixed height: no search for overlapping tick labels at every draw
        self.left_title = left.set_title("", fontsize=10, y=1.0)

        steps = rows - 1  # baseline, ratings, rest: every row but the sum
        self.step_bars = list(right.barh(np.arange(steps), np.zeros(steps), height=0.7))
        self.step_texts = [right.text(0, row, "", va="center", ha="left", fontsize=9) for row in range(steps)]
        self.connectors = [right.plot([0, 0], [row + 0.35, row + 0.65], color="0.4", lw=0.8, ls=":")[0]
                           for row in range(steps)]
        (self.total_bar,) = right.barh([rows - 1], [0.0], height=0.7, color="none", edgecolor="black", lw=1.5)
        (self.diamond,) = right.plot([0], [rows - 1], "D", color="black", ms=7)  # the model's own prediction
        self.total_text = right.text(0, rows - 1, "", va="center", ha="left", fontsize=9, fontweight="bold")
        right.xaxis.set_major_locator(MaxNLocator(6))
        right.set_yticks([])
        right.set_xlabel("stars")
        what = "baseline + impacts" if biased else "impacts"
        right.set_title(f"question 1, what produced it?\n{what} γ_k add up to the prediction", fontsize=10, y=1.0)

    @staticmethod
    def _paint(bar, value: float, baseline: bool = False) -> None:
        style = ({"color": plots.PALETTE["sky"], "edgecolor": "white", "lw": 0.5, "hatch": None} if baseline
                 else _bar_style(value))
        bar.set_facecolor(style["color"])
        bar.set_edgecolor(style["edgecolor"])
        bar.set_linewidth(style["lw"])
        bar.set_hatch(style["hatch"])

    def update(self, view: ImpactView, target_label: str | None = None):
        """Show ``view`` (of this drawing's layout); ``target_label``: the target movie's title.
        Returns the figure."""
        if _layout(view) != self.layout:
            raise ValueError(f"this view has the layout {_layout(view)}, the drawing {self.layout}: "
                             f"make an ImpactDrawing for it")
        left, right = self.axes
        target = _short(target_label if target_label is not None else f"item {view.item}", 44)
        labels, values = _waterfall(view)
        left.set_yticklabels(labels, fontsize=9)
        beta = view.shown["influence"].to_numpy()
        for bar, b in zip(self.beta_bars, beta):  # no value labels here: the table below has the numbers
            bar.set_width(b)
            self._paint(bar, b)
        span = max(float(np.abs(beta).max()) if beta.size else 0.0, 1e-12)
        left.set_xlim(-1.1 * span, 1.1 * span)
        self.left_title.set_text(f"question 2, what could I change?\ninfluence on {target}")

        level, ends = 0.0, [0.0, view.total]
        for row, value in enumerate(values):
            baseline = view.biased and row == 0
            bar, text, connector = self.step_bars[row], self.step_texts[row], self.connectors[row]
            bar.set_x(level)
            bar.set_width(value)
            self._paint(bar, value, baseline)
            end = level + value
            digits = 2 if abs(value) >= 0.005 else 3
            text.set_position((max(level, end), row))
            text.set_text(f" {value:.2f}" if baseline else f" {value:+.{digits}f}")
            connector.set_xdata([end, end])  # a dotted connector to the next step
            ends += [level, end]
            level = end
        self.total_bar.set_width(view.total)
        self.diamond.set_xdata([view.prediction])
        self.total_text.set_position((min(0.0, view.total), self.rows - 1))  # inside the outlined sum bar
        self.total_text.set_text(f"  sum {view.total:.3f}   (◆ model.predict {view.prediction:.3f})")
        lo, hi = min(ends), max(ends)
        pad = 0.18 * max(hi - lo, 1e-9)
        right.set_xlim(lo - 0.3 * pad, hi + 2 * pad)
        return self.fig


def render_impact_view(view: ImpactView, target_label: str | None = None):
    """The two panels of ``ImpactDrawing`` for ``view``, in a new bare ``Figure``."""
    return ImpactDrawing(_layout(view)).update(view, target_label)


def _waterfall(view: ImpactView) -> tuple[list, list]:
    """The rows of the waterfall: (labels, values), baseline first (biased), the drawn ratings, the
    others summed, then "= prediction" (no value: the sum)."""
    shown, rest = view.shown, view.rest
    labels = (["baseline μ + c_i"] if view.biased else []) + [
        f"{_short(t)} (rated {r:g})" for t, r in zip(shown["title"], shown["rating"])]
    labels += ([f"the other {len(rest)} ratings"] if len(rest) else []) + ["= prediction"]
    values = ([view.baseline] if view.biased else []) + [float(g) for g in shown["impact"]]
    values += [float(rest["impact"].sum())] if len(rest) else []
    return labels, values


def impact_svg(view: ImpactView, target_label: str | None = None, width: int = 1035, row_height: int = 24) -> str:
    """The two panels of ``ImpactDrawing`` as one small inline SVG (the explorer's output: the
    browser lays out its text, so a change costs well under a millisecond here instead of the tens
    of milliseconds of drawing and encoding a PNG). Same rows and colours: (left) the influences
    beta_k, (right) the waterfall of the baseline and the impacts gamma_k to the sum, the model's
    prediction a black diamond; bars >= 0 blue, < 0 orange and hatched."""
    from matplotlib.ticker import MaxNLocator

    esc = _escape
    labels, values = _waterfall(view)
    rows, first = len(labels), (1 if view.biased else 0)
    top, label_w = 52, 290
    bottom = top + rows * row_height
    height = bottom + 44
    panels = ((label_w + 10, label_w + 10 + int(0.27 * width)), (label_w + 40 + int(0.27 * width), width - 20))
    beta = view.shown["influence"].to_numpy()
    span = max(float(np.abs(beta).max()) if beta.size else 0.0, 1e-12)
    levels = np.concatenate([[0.0], np.cumsum(values)])
    lo, hi = min(float(levels.min()), 0.0, view.total), max(float(levels.max()), 0.0, view.total)
    pad = 0.18 * max(hi - lo, 1e-9)
    limits = ((-1.1 * span, 1.1 * span), (lo - 0.3 * pad, hi + 2 * pad))

    def x(panel: int, value: float) -> float:
        (a, b), (v0, v1) = panels[panel], limits[panel]
        return a + (min(max(float(value), v0), v1) - v0) / (v1 - v0) * (b - a)

    def y(row: int) -> float:
        return top + row * row_height

    def bar(panel: int, start: float, value: float, row: int, fill: str, stroke: str = "none", tip: str = "") -> str:
        x0, x1 = sorted((x(panel, start), x(panel, start + value)))
        title = f"<title>{esc(tip)}</title>" if tip else ""
        return (f"<rect x='{x0:.1f}' y='{y(row) + 0.15 * row_height:.1f}' width='{max(x1 - x0, 0.5):.1f}' "
                f"height='{0.7 * row_height:.1f}' fill='{fill}' stroke='{stroke}'>{title}</rect>")

    def fill(value: float, baseline: bool = False) -> tuple[str, str]:
        if baseline:
            return plots.PALETTE["sky"], "none"
        return (plots.SIGN_COLORS[0], "none") if value >= 0 else ("url(#mfteach-hatch)", "#404040")

    target = esc(_short(target_label if target_label is not None else f"item {view.item}", 44))
    what = "baseline + impacts" if view.biased else "impacts"
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"class='mfteach-svg-impacts' style='font-family:sans-serif; font-size:12px'>"
             f"<defs><pattern id='mfteach-hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
             f"patternTransform='rotate(45)'><rect width='6' height='6' fill='{plots.SIGN_COLORS[1]}'/>"
             f"<line x1='0' y1='0' x2='0' y2='6' stroke='#404040' stroke-width='1.2'/></pattern></defs>"]
    for panel, (title, sub) in enumerate((("question 2, what could I change?", f"influence on {target}"),
                                          ("question 1, what produced it?", f"{what} γ_k add up to the prediction"))):
        (a, b), (v0, v1) = panels[panel], limits[panel]
        middle = (a + b) / 2
        parts.append(f"<text x='{middle:.1f}' y='18' text-anchor='middle' font-size='13'>{esc(title)}</text>"
                     f"<text x='{middle:.1f}' y='36' text-anchor='middle' font-size='13'>{sub}</text>"
                     f"<rect x='{a}' y='{top}' width='{b - a}' height='{bottom - top}' fill='none' stroke='#404040' "
                     f"stroke-width='0.8'/>")
        for t in MaxNLocator(5 if panel == 0 else 6).tick_values(v0, v1):
            if v0 <= t <= v1:
                parts.append(f"<line x1='{x(panel, t):.1f}' x2='{x(panel, t):.1f}' y1='{bottom}' y2='{bottom + 4}' "
                             f"stroke='black'/><text x='{x(panel, t):.1f}' y='{bottom + 17}' "
                             f"text-anchor='middle'>{t:g}</text>")
        if v0 <= 0 <= v1:
            parts.append(f"<line x1='{x(panel, 0):.1f}' x2='{x(panel, 0):.1f}' y1='{top}' y2='{bottom}' stroke='black' "
                         f"stroke-width='0.8'/>")
        xlabel = "influence β_k = J[i, k]  (stars per star)" if panel == 0 else "stars"
        parts.append(f"<text x='{middle:.1f}' y='{bottom + 36}' text-anchor='middle'>{xlabel}</text>")
    for row, label in enumerate(labels):
        parts.append(f"<text x='{label_w}' y='{y(row) + 0.5 * row_height + 4:.1f}' text-anchor='end'>"
                     f"{esc(label)}</text>")
    for k, b in enumerate(beta):  # no value labels: the table below has the numbers
        color, stroke = fill(b)
        parts.append(bar(0, 0.0, b, first + k, color, stroke, f"β = {b:+.3f}"))
    level = 0.0
    for row, value in enumerate(values):
        baseline = view.biased and row == 0
        color, stroke = fill(value, baseline)
        end = level + value
        digits = 2 if abs(value) >= 0.005 else 3
        text = f" {value:.2f}" if baseline else f" {value:+.{digits}f}"
        parts.append(bar(1, level, value, row, color, stroke, text.strip())
                     + f"<text x='{x(1, max(level, end)) + 2:.1f}' y='{y(row) + 0.5 * row_height + 4:.1f}' "
                       f"font-size='11'>{text}</text>"
                     + f"<line x1='{x(1, end):.1f}' x2='{x(1, end):.1f}' y1='{y(row) + 0.85 * row_height:.1f}' "
                       f"y2='{y(row + 1) + 0.15 * row_height:.1f}' stroke='#666666' stroke-dasharray='2,2'/>")
        level = end
    last = rows - 1
    parts.append(bar(1, 0.0, view.total, last, "none", "black")
                 + f"<path d='M {x(1, view.prediction):.1f} {y(last) + 0.2 * row_height:.1f} "
                   f"l 6 {0.3 * row_height:.1f} l -6 {0.3 * row_height:.1f} l -6 {-0.3 * row_height:.1f} z' "
                   f"fill='black'>"
                   f"<title>model.predict {view.prediction:.3f}</title></path>"
                 + f"<text x='{x(1, min(0.0, view.total)) + 4:.1f}' y='{y(last) + 0.5 * row_height + 4:.1f}' "
                   f"font-weight='bold' font-size='11'>sum {view.total:.3f}   "
                   f"(◆ model.predict {view.prediction:.3f})</text>")
    parts.append("</svg>")
    return "".join(parts)


def _caption(view: ImpactView, ratings: Ratings) -> HTML:
    target = _escape(ratings.item_labels([view.item])[0])
    n_rated = len(view.frame)
    rated = (f"rated it {view.own_rating:g} (its own rating is one of the impacts)" if view.own_rating is not None
             else "has not rated it")
    parts = [f"baseline μ + c<sub>i</sub> = {view.baseline:.3f}"] if view.biased else []
    parts.append(f"the {n_rated} impacts {view.frame['impact'].sum():+.3f}")
    text = (f"User {view.user} rated {n_rated} movies and {rated}. Predicted for <b>{target}</b>: "
            f"{' + '.join(parts)} = <b>{view.total:.3f}</b>; model.predict = {view.prediction:.3f} "
            f"(difference {abs(view.residual):.1e}).")
    if view.biased:
        text += (f" The user bias b<sub>u</sub> = {view.user_bias:+.3f} is no separate term: the user step fits it "
                 f"from the same ratings, so it sits inside the impacts γ<sub>k</sub> = β<sub>k</sub> "
                 f"(r<sub>uk</sub> − μ − c<sub>k</sub>).")
    else:
        text += " Unbiased model: γ<sub>k</sub> = β<sub>k</sub> r<sub>uk</sub>."
    best_beta = view.frame.iloc[int(np.argmax(np.abs(view.frame["influence"].to_numpy())))]
    best_gamma = view.frame.iloc[int(np.argmax(np.abs(view.frame["impact"].to_numpy())))]
    text += (f"<br>Largest |influence|: <b>{_escape(best_beta['title'])}</b> (β = {best_beta['influence']:+.3f}: one "
             f"star more moves the prediction by that much). Largest |impact|: <b>{_escape(best_gamma['title'])}</b> "
             f"(γ = {best_gamma['impact']:+.3f} stars of the prediction).")
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['blue']}; padding-left:8px'>{text}</div>")


def _table(view: ImpactView) -> pd.DataFrame:
    """The rows drawn one by one, with their numbers (the paper's Table 1, plus the impacts)."""
    shown = view.shown
    return pd.DataFrame({"rating": shown["rating"].to_numpy(), "influence β": shown["influence"].round(3).to_numpy(),
                         "impact γ": shown["impact"].round(3).to_numpy()},
                        index=pd.Index([_short(t, 48) for t in shown["title"]],
                                       name=f"user {view.user}'s ratings, by |{view.order}|"))


class InfluenceMatrixExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it; ipywidgets
    cuts a widget's text repr after 110 characters)."""

    def __repr__(self):
        view = getattr(self, "view", None)
        if view is None:  # not built yet
            return "InfluenceMatrixExplorer()"
        label = self.ratings.item_labels([view.item])[0]
        model = f", {self.model.value}" if getattr(self, "model", None) is not None else ""
        return f"InfluenceMatrixExplorer(user={view.user}, item={str(label)!r}{model}, by {view.order})"


def influence_matrix_explorer(model, ratings: Ratings, user: int | None = None, item: int | None = None,
                              n_top: int = N_TOP, order: str = "influence", users=None) -> InfluenceMatrixExplorer:
    """Build the influence-matrix explorer (call it as a cell's last expression).

    Controls: a selection slider for the user (first), a dropdown of every movie (the user's
    highest predictions first; a movie stays selected when the user changes) with a type-ahead box,
    toggle buttons "rows by" |influence| or |impact| and, when ``model`` is a dict of several
    models, toggle buttons between them. Every change is ``impact_view`` plus a redraw: a caption
    (the sum, the two largest), the two panels (``impact_svg``) and the drawn rows' numbers.

    Parameters
    ----------
    model : mt.ALS, or dict name -> mt.ALS
        Fitted (converged, e.g. ``tol=1e-12``) on ``ratings``; biased or not.
    ratings : Ratings
        The model's training ratings.
    user, item : int, optional
        The start (default: the first user offered and their top prediction).
    n_top : int
        Past ratings drawn one by one.
    order : "influence" or "impact"
        How the rows are ranked first.
    users : sequence of int, optional
        The users on the slider (default: every user with a rating).

    Returns an ``InfluenceMatrixExplorer`` with ``user`` (the slider), ``item`` (the dropdown),
    ``find`` (the type-ahead box), ``order`` and ``model`` (toggles; ``model`` None for one model),
    ``out`` and ``view`` (the last ``ImpactView``).
    """
    models = dict(model) if isinstance(model, dict) else {"model": model}
    if not models:
        raise ValueError("model must be a fitted mt.ALS or a non-empty dict of them")
    check_ratings("ratings", ratings)
    n_top = check_positive_int("n_top", n_top)
    order = _check_order(order)
    m, n = ratings.shape
    offered = (np.flatnonzero(ratings.user_counts() > 0) if users is None
               else np.array([check_index("users", u, m, "row") for u in users], dtype=np.int64))
    if offered.size == 0:
        raise ValueError("no user to offer: no user has a rating")
    user = int(offered[0]) if user is None else check_index("user", user, m, "row")
    if user not in set(offered.tolist()):
        raise ValueError(f"user {user} is not among the users offered")
    first_model = next(iter(models.values()))
    if item is None:
        item = int(np.argmax(first_model.predict(np.full(n, user), np.arange(n))))
    item = check_index("item", item, n, "column")
    for fitted in models.values():  # a wrong model or ratings raise here, not inside a callback
        impact_view(fitted, ratings, user, item, n_top, order)
    titles = ratings.item_labels(np.arange(n))

    def item_options(u: int, fitted) -> list:
        scores = fitted.predict(np.full(n, u), np.arange(n))
        lo, hi = np.searchsorted(ratings.rows, [u, u + 1])
        own = dict(zip(ratings.cols[lo:hi].tolist(), ratings.values[lo:hi].tolist()))
        ranked = np.argsort(-scores, kind="stable")
        return [(f"{titles[i]} (predicted {scores[i]:.2f}" + (f"; rated {own[i]:g})" if i in own else ")"), int(i))
                for i in ranked]

    style = {"description_width": "70px"}
    user_slider = widgets.SelectionSlider(options=[(str(u), int(u)) for u in offered], value=user, description="user",
                                          continuous_update=False, layout=widgets.Layout(width="520px"), style=style)
    item_picker = widgets.Dropdown(options=item_options(user, first_model), value=item, description="movie",
                                   layout=widgets.Layout(width="520px"), style=style)
    find = type_ahead(item_picker, placeholder="type a title, then Enter")
    order_toggle = widgets.ToggleButtons(options=[("|influence| (question 2)", "influence"),
                                                  ("|impact| (question 1)", "impact")], value=order,
                                         description="rows by", style=style)
    model_toggle = (widgets.ToggleButtons(options=list(models), description="model", style=style)
                    if len(models) > 1 else None)
    out = widgets.Output()
    rows = [user_slider, widgets.HBox([item_picker, find]), order_toggle] + ([model_toggle] if model_toggle else [])
    box = InfluenceMatrixExplorer(rows + [out])
    box.user, box.item, box.find, box.order, box.model, box.out = (user_slider, item_picker, find, order_toggle,
                                                                    model_toggle, out)
    box.ratings, box.n_top, box.view = ratings, n_top, None
    swapping = [False]  # True while the dropdown's options are replaced: one redraw, not two
    controls = [user_slider, item_picker, find, order_toggle] + ([model_toggle] if model_toggle else [])

    def current_model():
        return models[model_toggle.value] if model_toggle is not None else first_model

    def redraw(_change=None):
        if swapping[0] or item_picker.value is None:
            return
        with guarded(out, *controls):
            try:
                view = impact_view(current_model(), ratings, user_slider.value, item_picker.value, n_top,
                                   order_toggle.value)
            except ValueError as exc:  # shown, not lost in a callback
                show_outputs(out, HTML(f"<i>{_escape(exc)}</i>"))
                return
            box.view = view
            # the figure as a small SVG: text laid out by the browser, no PNG to draw and encode
            show_outputs(out, _caption(view, ratings), HTML(impact_svg(view, titles[view.item])), _table(view))

    def refill(_change=None):
        """New user or model: new predictions in the labels; the same movie stays selected."""
        current = item_picker.value
        swapping[0] = True
        with guarded(out, *controls):
            try:
                item_picker.options = item_options(user_slider.value, current_model())
                item_picker.value = current
            finally:
                swapping[0] = False
        redraw()

    user_slider.observe(refill, names="value")
    item_picker.observe(redraw, names="value")
    order_toggle.observe(redraw, names="value")
    if model_toggle is not None:
        model_toggle.observe(refill, names="value")
    redraw()
    return box
