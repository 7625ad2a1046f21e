r"""Inside one prediction: neural collaborative filtering next to biased matrix factorization
(lesson 16; He et al. 2017, eq. (2)-(5) of the KDD 2019 FIA paper).

Both models add a few parts to the mean rating mu. Biased MF (``mt.ALS(biased=True)``):

.. math::

    \hat r_{ui} = \mu + b_u + c_i + \sum_{f=1}^{k} u_{uf}\, v_{if} ,

one product per latent factor. NCF (``mfteach.ncf.NCF``) feeds z_0 = p_u (+) q_i through ReLU
layers and a linear output:

.. math::

    \hat r_{ui} = \mu + b_{out} + \sum_j w_{out,j}\, z_{X,j}, \qquad
    a_1 = \underbrace{W_1^p p_u + b_1}_{\text{user's part}} + \underbrace{W_1^q q_i}_{\text{movie's part}},
    \quad z_l = \mathrm{ReLU}(a_l),

with W_1 = [W_1^p, W_1^q] split into the columns that meet p_u and q_i. The first layer only
ADDS a user's part and a movie's part; a unit passes the ReLU when the sum is positive. Without
the ReLUs the network would be mu + g(u) + h(i), biases and nothing personal: the interaction of
user and movie lives in which units the pair switches on. Units switched off add exactly 0.

Two layers (ARCHITECTURE.md, "Widgets"):

* ``prediction_anatomy(ncf_model, mf_model, user, item, ratings, test)`` is the PURE compute
  function: both predictions split into their parts (an ``Anatomy`` holding ``MfParts`` and
  ``NcfParts``), and the pair's rating where it is known; well under a millisecond.
* ``ncf_anatomy_explorer(ncf_model, mf_model, ratings, test)`` is the thin ipywidgets layer: a
  user slider (first), a dropdown of every movie with a type-ahead box (the user's held-out
  movies first, then the rated ones), and an ``Output`` with a caption and three panels (the two
  predictions as waterfalls of their parts on one rating axis; the first layer's units, user's
  part against movie's part).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from IPython.display import HTML

from .. import plots
from ..base import FactorModel, check_fitted, check_index, check_positive_int, check_ratings
from ..ncf import NCF
from ._common import escape_html as _escape, guarded, redraw_on_change, show_outputs, type_ahead, user_item_pickers

__all__ = ["N_TERMS", "MfParts", "NcfParts", "Anatomy", "prediction_anatomy", "AnatomyDrawing",
           "render_anatomy", "anatomy_svg", "NcfAnatomyExplorer", "ncf_anatomy_explorer"]

N_TERMS = 6  # factor products / hidden units drawn one by one; the rest are summed in one bar


# ---------------------------------------------------------------------------- the compute function
@dataclass(frozen=True, eq=False)
class MfParts:
    """mu + b_u + c_i + sum_f u_uf v_if of a (biased) matrix factorization."""

    mu: float
    user_bias: float
    item_bias: float
    products: np.ndarray  # (k,) u_uf v_if, one per latent factor

    @property
    def dot(self) -> float:
        """u_u . v_i, the personal part."""
        return float(self.products.sum())

    @property
    def prediction(self) -> float:
        return self.mu + self.user_bias + self.item_bias + self.dot


@dataclass(frozen=True, eq=False)
class NcfParts:
    """mu + b_out + sum_j w_out_j z_Xj of an NCF, with the first layer split into its two halves."""

    mu: float
    b_out: float
    user_side: np.ndarray      # (h_1,) W_1^p p_u + b_1
    item_side: np.ndarray      # (h_1,) W_1^q q_i
    pre: tuple                 # (a_1, ..., a_X), the pre-activations; a_1 = user_side + item_side
    contributions: np.ndarray  # (h_X,) w_out_j z_Xj: 0 for a unit switched off

    @property
    def active(self) -> tuple:
        """One boolean mask per hidden layer: the units the pair switches on (a_l > 0)."""
        return tuple(a > 0 for a in self.pre)

    @property
    def network(self) -> float:
        """w_out . z_X, what the hidden layers add to mu + b_out."""
        return float(self.contributions.sum())

    @property
    def prediction(self) -> float:
        return self.mu + self.b_out + self.network


@dataclass(frozen=True, eq=False)
class Anatomy:
    """Both predictions of one (user, item) pair, split into their parts (``prediction_anatomy``)."""

    user: int
    item: int
    title: str
    rating: float | None  # the pair's rating in ``ratings`` or ``test``, else None
    source: str | None    # "training", "held out" or None
    mf: MfParts
    ncf: NcfParts


def _check_models(ncf_model, mf_model):
    if not isinstance(ncf_model, NCF):
        raise TypeError(f"ncf_model must be a fitted mfteach.ncf.NCF, got {type(ncf_model).__name__}")
    check_fitted(ncf_model)
    if not isinstance(mf_model, FactorModel):
        raise TypeError(f"mf_model must be a fitted matrix factorization such as mt.ALS, got {type(mf_model).__name__}")
    check_fitted(mf_model)
    if mf_model.shape != ncf_model.shape:
        raise ValueError(f"the models disagree: NCF was fitted on {ncf_model.shape}, the MF model on {mf_model.shape}")
    return ncf_model.shape


def _known_rating(ratings, user: int, item: int):
    if ratings is None:
        return None
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])  # Ratings are sorted by (row, column)
    at = lo + int(np.searchsorted(ratings.cols[lo:hi], item))
    return float(ratings.values[at]) if at < hi and ratings.cols[at] == item else None


def prediction_anatomy(ncf_model: NCF, mf_model, user: int, item: int, ratings=None, test=None) -> Anatomy:
    """Split the NCF and the MF prediction of (``user``, ``item``) into their parts.

    Parameters
    ----------
    ncf_model : mfteach.ncf.NCF, fitted.
    mf_model : a fitted matrix factorization (``mt.ALS``, ``mt.GradientDescent``, ...) of the same
        shape; without biases its mu, b_u and c_i are 0.
    user, item : int
        Row and column indices.
    ratings, test : Ratings, optional
        The training and held-out ratings: where the pair is in one of them, its rating is
        reported (``rating``, ``source``); ``ratings`` also supplies the title.

    Pure: no widgets, no drawing. The parts add up to ``ncf_model.predict`` and
    ``mf_model.predict`` (to rounding).
    """
    m, n = _check_models(ncf_model, mf_model)
    user = check_index("user", user, m, "row")
    item = check_index("item", item, n, "column")
    for name, data in (("ratings", ratings), ("test", test)):
        if data is not None:
            check_ratings(name, data, (m, n))

    # MF: mu + b_u + c_i + sum_f u_uf v_if
    products = mf_model.U_[user] * mf_model.V_[item]
    if getattr(mf_model, "biased", False):
        mf = MfParts(float(mf_model.mu_), float(mf_model.user_bias_[user]), float(mf_model.item_bias_[item]), products)
    else:
        mf = MfParts(0.0, 0.0, 0.0, products)

    # NCF: a_1 = (W_1^p p_u + b_1) + W_1^q q_i, z_l = ReLU(a_l), r_hat = mu + w_out . z_X + b_out
    params = ncf_model.params_
    d = params["P"].shape[1]
    W1 = params["W1"]
    user_side = W1[:, :d] @ params["P"][user] + params["b1"]
    item_side = W1[:, d:] @ params["Q"][item]
    a = user_side + item_side
    pre = [a]
    for W, b in zip(ncf_model.weights_[1:], ncf_model.biases_[1:]):
        a = W @ np.maximum(a, 0.0) + b
        pre.append(a)
    ncf = NcfParts(float(ncf_model.mu_), ncf_model.b_out_, user_side, item_side, tuple(pre),
                   params["w_out"] * np.maximum(a, 0.0))

    rating, source = _known_rating(ratings, user, item), "training"
    if rating is None:
        rating, source = _known_rating(test, user, item), "held out"
    if rating is None:
        source = None
    title = str(ratings.item_labels([item])[0]) if ratings is not None else f"item {item}"
    return Anatomy(user, item, title, rating, source, mf, ncf)


# ---------------------------------------------------------------------------- display
def _n_rows(size: int, n_terms: int = N_TERMS) -> int:
    """Rows of ``_terms`` for ``size`` values: one each, or ``n_terms`` and one for the rest."""
    return size if size <= n_terms else n_terms + 1


def _terms(values: np.ndarray, name: str, keep=None, n_terms: int = N_TERMS):
    """(label, value) rows of a waterfall, always ``_n_rows(values.size)`` of them: the ``n_terms``
    largest |values| (among ``keep``) one by one, the rest summed in one row ("other ..."); rows
    without a term are empty ("", 0)."""
    index = np.flatnonzero(keep) if keep is not None else np.arange(values.size)
    order = index[np.argsort(-np.abs(values[index]), kind="stable")]
    rows = [(f"{name} {j + 1}", float(values[j])) for j in order[:n_terms]]
    if values.size > n_terms:
        rows += [("", 0.0)] * (n_terms - len(rows))
        rest = order[n_terms:]
        rows.append((f"other {rest.size}" if rest.size else "", float(values[rest].sum())))
    rows += [("", 0.0)] * (_n_rows(values.size, n_terms) - len(rows))
    return rows


def _waterfall_rows(view: Anatomy, n_terms: int = N_TERMS):
    """(MF's terms, NCF's terms, the shared x limits) of the two waterfalls of ``view``."""
    mf, ncf = view.mf, view.ncf
    mf_terms = [("$b_u$ (user)", mf.user_bias), ("$c_i$ (movie)", mf.item_bias)]
    mf_terms += _terms(mf.products, "factor", n_terms=n_terms)
    ncf_terms = [("$b_{out}$", ncf.b_out)] + _terms(ncf.contributions, "unit", keep=ncf.active[-1], n_terms=n_terms)
    ends = [mf.mu, ncf.mu]
    for start, terms in ((mf.mu, mf_terms), (ncf.mu, ncf_terms)):
        ends.extend(start + np.cumsum([v for _, v in terms]))
    if view.rating is not None:
        ends.append(view.rating)
    return mf_terms, ncf_terms, (min(1.0, min(ends)) - 0.3, max(5.0, max(ends)) + 0.6)


class _Waterfall:
    """A horizontal waterfall on ``ax`` with a fixed number of rows: the start (grey bar from the
    left edge), one floating bar per term (blue to the right when positive; orange, hatched, to
    the left when negative), the total as a black diamond on the last row; ``update`` moves them."""

    def __init__(self, ax, n_terms: int, title: str, total_label: str):
        """``n_terms``: rows between the start and the total."""
        ax.clear()
        self.ax, self.n_terms, self.total_label = ax, n_terms, total_label
        rows = np.arange(n_terms + 1)
        self.bars = ax.barh(rows, np.zeros(n_terms + 1), height=0.7, color="0.75", edgecolor="white", linewidth=0.5)
        # value labels outside their bar (right of a rise, left of a fall), on white so no line crosses them
        box = dict(facecolor="white", edgecolor="none", pad=0.3, alpha=0.85)
        self.values = [ax.text(0, row, "", va="center", ha="left", fontsize=9, bbox=box) for row in rows]
        (self.total,) = ax.plot([], [], "D", color="C7", ms=8)
        self.total_text = ax.text(0, n_terms + 1, "", va="center", ha="left", fontsize=10, fontweight="bold", bbox=box)
        self.total_line = ax.axvline(0, color="C7", lw=0.8, ls=":")
        self.rating = ax.axvline(0, color="C2", lw=1.8, ls="--")
        self.rating_text = ax.text(0, -0.75, "", va="bottom", ha="center", fontsize=9, color="C2", bbox=box)
        ax.set_yticks(np.arange(n_terms + 2))
        ax.tick_params(axis="y", length=0)  # the rows need names, not tick marks
        ax.set_ylim(n_terms + 1.7, -1.5)  # room at the top for the rating's label
        ax.set_title(title, fontsize=10)

    def update(self, start: tuple, terms: list, xlim: tuple, xlabel: str, rating: float | None = None,
               source: str | None = None) -> None:
        ax = self.ax
        labels = [start[0]] + [label for label, _ in terms] + [self.total_label]
        running = start[1]
        first = self.bars[0]
        first.set_x(xlim[0])
        first.set_width(start[1] - xlim[0])
        self.values[0].set_position((start[1] + 0.03, 0))
        self.values[0].set_text(f"{start[1]:.2f}")
        for row, (label, value) in enumerate(terms, start=1):
            bar, text = self.bars[row], self.values[row]
            bar.set_x(running)
            bar.set_width(value)
            bar.set_facecolor(plots.SIGN_COLORS[0] if value >= 0 else plots.SIGN_COLORS[1])
            bar.set_hatch("" if value >= 0 else "////")
            text.set_position((running + value + (0.03 if value >= 0 else -0.03), row))
            text.set_horizontalalignment("left" if value >= 0 else "right")
            text.set_text(f"{value:+.2f}" if label else "")
            running += value
        last = self.n_terms + 1
        self.total.set_data([running], [last])
        self.total_text.set_position((running + 0.15, last))
        self.total_text.set_text(f"{running:.2f}")
        self.total_line.set_xdata([running, running])
        self.rating.set_visible(rating is not None)
        self.rating_text.set_visible(rating is not None)
        if rating is not None:
            self.rating.set_xdata([rating, rating])
            self.rating_text.set_position((rating, -0.75))
            self.rating_text.set_text(f"{source}: {rating:g}" if source else f"{rating:g}")
        ax.set_yticklabels(labels, fontsize=9)
        ax.set_xlim(*xlim)
        ax.set_xlabel(xlabel, fontsize=9)


class AnatomyDrawing:
    """The explorer's figure, built once; ``update(view)`` moves its bars, points and labels and
    returns the bare ``Figure``. It has its own Agg canvas, so savefig reuses one renderer (and the
    layout of the labels that do not change). All views drawn must come from the same two models
    (the number of latent factors fixes the rows).

    Three panels: MF's prediction and NCF's as waterfalls of their parts on one rating axis, and
    NCF's first layer, each unit a point (user's part, movie's part), on above the line."""

    def __init__(self, side_limits: tuple | None = None, n_terms: int = N_TERMS):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # 10.5 in at the 90 dpi of plots.figure_png: 945 pixels, shown unscaled in a notebook's output area
        self.fig = fig = Figure(figsize=(10.5, 4.4))
        FigureCanvasAgg(fig)
        self.side_limits = side_limits  # ((x lo, x hi), (y lo, y hi)) of the unit panel, fixed across pairs
        self.n_terms = n_terms
        # fixed axes (no layout engine: it costs more than the drawing); room on the left for the row labels
        self.mf_ax = fig.add_axes((0.1, 0.12, 0.225, 0.75))
        self.ncf_ax = fig.add_axes((0.425, 0.12, 0.225, 0.75))
        self.unit_ax = unit_ax = fig.add_axes((0.735, 0.12, 0.25, 0.75))
        self.sizes, self.mf, self.ncf = None, None, None  # the waterfalls: built for the models' sizes
        self.on = unit_ax.scatter([], [], s=30, color=plots.SIGN_COLORS[0], marker="o", label="on: $a > 0$")
        self.off = unit_ax.scatter([], [], s=34, color=plots.SIGN_COLORS[1], marker="x",
                                   label="off: $a \\leq 0$, adds 0")
        (self.edge,) = unit_ax.plot([], [], color="C7", ls="--", lw=1, label="$a = 0$, the ReLU's edge")
        unit_ax.set_xlabel("user's part $W_1^p\\, p_u + b_1$", fontsize=9)
        unit_ax.set_ylabel("movie's part $W_1^q\\, q_i$", fontsize=9)
        unit_ax.legend(frameon=False, fontsize=9, loc="lower left")

    def update(self, view: Anatomy):
        mf, ncf = view.mf, view.ncf
        on = ncf.active
        sizes = (mf.products.size, ncf.contributions.size)
        if sizes != self.sizes:  # labels with math are the same on every update (their layout is cached)
            self.mf = _Waterfall(self.mf_ax, 2 + _n_rows(sizes[0], self.n_terms),
                                 "biased MF: $\\mu + b_u + c_i + \\sum_f u_{uf} v_{if}$", "= MF")
            self.ncf = _Waterfall(self.ncf_ax, 1 + _n_rows(sizes[1], self.n_terms),
                                  "NCF: $\\mu + b_{out} + \\sum_j w_{out,j} z_{j}$", "= NCF")
            self.sizes = sizes
        mf_terms, ncf_terms, xlim = _waterfall_rows(view, self.n_terms)
        self.mf.update(("$\\mu$ (mean)", mf.mu), mf_terms, xlim,
                       f"stars ({mf.products.size} factors, largest first)", view.rating, view.source)
        self.ncf.update(("$\\mu$ (mean)", ncf.mu), ncf_terms, xlim,
                        f"stars ({int(on[-1].sum())} of {on[-1].size} last-layer units on)",
                        view.rating, view.source)

        x, y, first = ncf.user_side, ncf.item_side, on[0]
        self.on.set_offsets(np.column_stack([x[first], y[first]]))
        self.off.set_offsets(np.column_stack([x[~first], y[~first]]))
        if self.side_limits is not None:
            (x_lo, x_hi), (y_lo, y_hi) = self.side_limits
        else:
            x_lo, x_hi, y_lo, y_hi = x.min(), x.max(), y.min(), y.max()
            pad_x, pad_y = 0.1 * (x_hi - x_lo) + 1e-3, 0.1 * (y_hi - y_lo) + 1e-3
            x_lo, x_hi, y_lo, y_hi = x_lo - pad_x, x_hi + pad_x, y_lo - pad_y, y_hi + pad_y
        self.edge.set_data([x_lo, x_hi], [-x_lo, -x_hi])
        self.unit_ax.set_xlim(x_lo, x_hi)
        self.unit_ax.set_ylim(y_lo, y_hi)
        self.unit_ax.set_title(f"NCF's layer 1: {int(first.sum())} of {first.size} units on\n"
                               f"(on: user's + movie's part > 0)", fontsize=10)
        return self.fig


def render_anatomy(view: Anatomy, side_limits: tuple | None = None):
    """The three panels of ``view`` in a new ``Figure`` (an ``AnatomyDrawing``; the explorer keeps one)."""
    return AnatomyDrawing(side_limits).update(view)


_MATH = {"$\\mu$ (mean)": "μ (mean)",
         "$b_u$ (user)": "b<tspan dy='3' font-size='9'>u</tspan><tspan dy='-3'> (user)</tspan>",
         "$c_i$ (movie)": "c<tspan dy='3' font-size='9'>i</tspan><tspan dy='-3'> (movie)</tspan>",
         "$b_{out}$": "b<tspan dy='3' font-size='9'>out</tspan><tspan dy='-3'></tspan>"}


def _svg_waterfall(x0: float, width: float, top: float, row_h: float, title: str, start: tuple, terms: list,
                   total_label: str, xlim: tuple, xlabel: str, rating, source) -> str:
    """One waterfall of ``AnatomyDrawing`` as SVG elements in the box (x0, top, width, rows):
    the start bar from the left edge, a floating bar per term (blue right, orange hatched left),
    the total a diamond on the last row, the known rating a dashed green line."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = xlim
    n_rows = len(terms) + 2
    bottom = top + (n_rows + 0.5) * row_h

    def x(value: float) -> float:
        return x0 + (min(max(float(value), lo), hi) - lo) / (hi - lo) * width

    def y(row: int) -> float:  # centre of a row; row -1 is the rating's label
        return top + (row + 1) * row_h

    parts = [f"<text x='{x0 + width / 2:.1f}' y='{top - 30:.1f}' text-anchor='middle' font-size='13'>{title}</text>",
             f"<rect x='{x0}' y='{top - 8:.1f}' width='{width}' height='{bottom - top + 8:.1f}' fill='none' "
             f"stroke='#404040' stroke-width='0.8'/>"]
    for t in MaxNLocator(6).tick_values(lo, hi):
        if lo <= t <= hi:
            parts.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{bottom}' y2='{bottom + 4}' stroke='black'/>"
                         f"<text x='{x(t):.1f}' y='{bottom + 16}' text-anchor='middle' font-size='11'>{t:g}</text>")
    parts.append(f"<text x='{x0 + width / 2:.1f}' y='{bottom + 32}' text-anchor='middle' font-size='11'>"
                 f"{_escape(xlabel)}</text>")
    labels = [start[0]] + [label for label, _ in terms] + [total_label]
    for row, label in enumerate(labels):
        text = _MATH.get(label, _escape(label))
        parts.append(f"<text x='{x0 - 6}' y='{y(row) + 4:.1f}' text-anchor='end' font-size='11'>{text}</text>")

    def bar(a: float, b: float, row: int, fill: str, stroke: str = "white") -> str:
        left, right = sorted((x(a), x(b)))
        return (f"<rect x='{left:.1f}' y='{y(row) - 0.35 * row_h:.1f}' width='{max(right - left, 0.5):.1f}' "
                f"height='{0.7 * row_h:.1f}' fill='{fill}' stroke='{stroke}' stroke-width='0.5'/>")

    parts.append(bar(lo, start[1], 0, "#bfbfbf") + f"<text x='{x(start[1]) + 3:.1f}' y='{y(0) + 4:.1f}' "
                                                    f"font-size='11'>{start[1]:.2f}</text>")
    running = start[1]
    for row, (label, value) in enumerate(terms, start=1):
        fill, stroke = ((plots.SIGN_COLORS[0], "white") if value >= 0 else ("url(#mfteach-hatch-o)", "#404040"))
        parts.append(bar(running, running + value, row, fill, stroke))
        if label:
            end = x(running + value)
            anchor, shift = ("start", 3) if value >= 0 else ("end", -3)
            parts.append(f"<text x='{end + shift:.1f}' y='{y(row) + 4:.1f}' text-anchor='{anchor}' "
                         f"font-size='11'>{value:+.2f}</text>")
        running += value
    last = n_rows - 1
    parts.append(f"<line x1='{x(running):.1f}' x2='{x(running):.1f}' y1='{top - 8:.1f}' y2='{bottom}' stroke='#7f7f7f' "
                 f"stroke-dasharray='2,2'/><path d='M {x(running):.1f} {y(last) - 6:.1f} l 6 6 l -6 6 l -6 -6 z' "
                 f"fill='#7f7f7f'/><text x='{x(running) + 9:.1f}' y='{y(last) + 4:.1f}' font-weight='bold' "
                 f"font-size='12'>{running:.2f}</text>")
    if rating is not None:
        parts.append(f"<line x1='{x(rating):.1f}' x2='{x(rating):.1f}' y1='{top - 8:.1f}' y2='{bottom}' "
                     f"stroke='{plots.PALETTE['green']}' stroke-width='1.8' "
                     f"stroke-dasharray='6,3'/><text x='{x(rating):.1f}' y='{y(-1) + 4:.1f}' text-anchor='middle' "
                     f"font-size='11' fill='{plots.PALETTE['green']}'>"
                     f"{_escape(f'{source}: {rating:g}' if source else f'{rating:g}')}</text>")
    return "".join(parts)


def anatomy_svg(view: Anatomy, side_limits: tuple | None = None, n_terms: int = N_TERMS, width: int = 945) -> str:
    """The three panels of ``AnatomyDrawing`` as one small inline SVG (the explorer's output: the
    browser lays out the text, so a change costs about a millisecond here instead of the tens of
    milliseconds of drawing and encoding a PNG). Same rows, terms, limits and colours."""
    mf, ncf = view.mf, view.ncf
    on = ncf.active
    mf_terms, ncf_terms, xlim = _waterfall_rows(view, n_terms)
    row_h, top = 20, 64
    rows = max(len(mf_terms), len(ncf_terms)) + 2
    height = int(top + (rows + 0.5) * row_h + 56)
    sub = "<tspan dy='3' font-size='10'>{}</tspan><tspan dy='-3'>{}</tspan>"
    mf_title = ("biased MF: μ + b" + sub.format("u", " + c") + sub.format("i", " + Σ") + sub.format("f", " u")
                + sub.format("uf", " v") + sub.format("if", ""))
    ncf_title = ("NCF: μ + b" + sub.format("out", " + Σ") + sub.format("j", " w") + sub.format("out,j", " z")
                 + sub.format("j", ""))
    panel = 0.225 * width
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"class='mfteach-svg-anatomy' style='font-family:sans-serif; font-size:12px'>"
             f"<defs><pattern id='mfteach-hatch-o' width='5' height='5' patternUnits='userSpaceOnUse' "
             f"patternTransform='rotate(45)'><rect width='5' height='5' fill='{plots.SIGN_COLORS[1]}'/>"
             f"<line x1='0' y1='0' x2='0' y2='5' stroke='#404040' stroke-width='1'/></pattern></defs>",
             _svg_waterfall(0.1 * width, panel, top, row_h, mf_title, ("$\\mu$ (mean)", mf.mu), mf_terms, "= MF", xlim,
                            f"stars ({mf.products.size} factors, largest first)", view.rating, view.source),
             _svg_waterfall(0.425 * width, panel, top, row_h, ncf_title, ("$\\mu$ (mean)", ncf.mu), ncf_terms, "= NCF",
                            xlim, f"stars ({int(on[-1].sum())} of {on[-1].size} last-layer units on)", view.rating,
                            view.source)]
    # layer 1: each unit a point (user's part, movie's part), on above the line a = 0
    x, y, first = ncf.user_side, ncf.item_side, on[0]
    if side_limits is not None:
        (x_lo, x_hi), (y_lo, y_hi) = side_limits
    else:
        x_lo, x_hi, y_lo, y_hi = x.min(), x.max(), y.min(), y.max()
        pad_x, pad_y = 0.1 * (x_hi - x_lo) + 1e-3, 0.1 * (y_hi - y_lo) + 1e-3
        x_lo, x_hi, y_lo, y_hi = x_lo - pad_x, x_hi + pad_x, y_lo - pad_y, y_hi + pad_y
    a, w = 0.735 * width, 0.25 * width
    b, h = top - 8, (rows + 0.5) * row_h + 8

    def px(v):
        return a + (v - x_lo) / (x_hi - x_lo) * w

    def py(v):
        return b + h - (v - y_lo) / (y_hi - y_lo) * h

    parts.append(f"<text x='{a + w / 2:.1f}' y='{top - 48}' text-anchor='middle' font-size='13'>NCF's layer 1: "
                 f"{int(first.sum())} of {first.size} units on</text><text x='{a + w / 2:.1f}' y='{top - 30}' "
                 f"text-anchor='middle' font-size='13'>(on: user's + movie's part &gt; 0)</text>"
                 f"<svg x='{a:.1f}' y='{b:.1f}' width='{w:.1f}' height='{h:.1f}' "
                 f"viewBox='{a:.1f} {b:.1f} {w:.1f} {h:.1f}'>"
                 f"<line x1='{px(x_lo):.1f}' y1='{py(-x_lo):.1f}' x2='{px(x_hi):.1f}' y2='{py(-x_hi):.1f}' "
                 f"stroke='#7f7f7f' stroke-dasharray='4,3'/>")
    for xi, yi, lit in zip(x, y, first):
        if lit:
            parts.append(f"<circle cx='{px(xi):.1f}' cy='{py(yi):.1f}' r='3.5' fill='{plots.SIGN_COLORS[0]}'/>")
        else:
            cx, cy = px(xi), py(yi)
            parts.append(f"<path d='M {cx - 3.5:.1f} {cy - 3.5:.1f} l 7 7 m 0 -7 l -7 7' "
                         f"stroke='{plots.SIGN_COLORS[1]}' "
                         f"stroke-width='1.6'/>")
    parts.append(f"</svg><rect x='{a:.1f}' y='{b:.1f}' width='{w:.1f}' height='{h:.1f}' fill='none' stroke='#404040' "
                 f"stroke-width='0.8'/>")
    from matplotlib.ticker import MaxNLocator

    for t in MaxNLocator(5).tick_values(x_lo, x_hi):
        if x_lo <= t <= x_hi:
            parts.append(f"<line x1='{px(t):.1f}' x2='{px(t):.1f}' y1='{b + h:.1f}' y2='{b + h + 4:.1f}' "
                         f"stroke='black'/>"
                         f"<text x='{px(t):.1f}' y='{b + h + 15:.1f}' text-anchor='middle' font-size='10'>{t:g}</text>")
    for t in MaxNLocator(6).tick_values(y_lo, y_hi):
        if y_lo <= t <= y_hi:
            parts.append(f"<line x1='{a - 4:.1f}' x2='{a:.1f}' y1='{py(t):.1f}' y2='{py(t):.1f}' stroke='black'/>"
                         f"<text x='{a - 6:.1f}' y='{py(t) + 3:.1f}' text-anchor='end' font-size='10'>{t:g}</text>")
    parts.append(f"<text x='{a + w / 2:.1f}' y='{b + h + 30:.1f}' text-anchor='middle' font-size='11'>user's part "
                 f"W₁ᵖ p_u + b₁</text><text transform='translate({a - 40:.1f} {b + h / 2:.1f}) rotate(-90)' "
                 f"text-anchor='middle' font-size='11'>movie's part W₁ᑫ q_i</text>"
                 f"<text x='{a + w / 2:.1f}' y='{b + h + 46:.1f}' text-anchor='middle' font-size='11'>"
                 f"<tspan fill='{plots.SIGN_COLORS[0]}'>● on: a &gt; 0</tspan>   "
                 f"<tspan fill='{plots.SIGN_COLORS[1]}'>"
                 f"✕ off: a ≤ 0, adds 0</tspan>   <tspan fill='#7f7f7f'>- - a = 0</tspan></text></svg>")
    return "".join(parts)


def _caption(view: Anatomy) -> HTML:
    mf, ncf = view.mf, view.ncf
    known = (f", {view.source} rating <b>{view.rating:g}</b>" if view.rating is not None
             else ", not rated by this user")
    on = ncf.active
    layers = ", ".join(f"{int(mask.sum())} of {mask.size}" for mask in on)
    text = (f"<b>User {view.user} × {_escape(view.title)}</b>{known}.<br>"
            f"Biased MF: {mf.mu:.2f} (μ) {mf.user_bias:+.2f} (b<sub>u</sub>) {mf.item_bias:+.2f} (c<sub>i</sub>) "
            f"{mf.dot:+.2f} (u<sub>u</sub>·v<sub>i</sub>, {mf.products.size} products) "
            f"= <b>{mf.prediction:.2f}</b>.<br>"
            f"NCF: {ncf.mu:.2f} (μ) {ncf.b_out:+.2f} (b<sub>out</sub>) {ncf.network:+.2f} "
            f"(w<sub>out</sub>·z, units on per hidden layer: {layers}) = <b>{ncf.prediction:.2f}</b>.")
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['orange']}; padding-left:8px'>{text}</div>")


class NcfAnatomyExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        view = getattr(self, "view", None)
        if view is None:  # not built yet
            return "NcfAnatomyExplorer()"
        known = f", {view.source} rating {view.rating:g}" if view.rating is not None else ""
        return (f"NcfAnatomyExplorer(user={view.user}, item={view.title!r}{known}, MF {view.mf.prediction:.2f}, "
                f"NCF {view.ncf.prediction:.2f})")


def ncf_anatomy_explorer(ncf_model: NCF, mf_model, ratings, test=None, user: int | None = None,
                         item: int | None = None, cache_size: int = 64) -> NcfAnatomyExplorer:
    """Build the explorer (call it as a cell's last expression).

    Controls: a selection slider for the user (first; every user with a training rating) and a
    dropdown of every movie, with a type-ahead box: the user's held-out movies in ``test`` first
    ("[held out: 5]"), then the movies the user rated ("[rated 4]"), then the others, each group
    by title. The ``Output`` shows a caption with both sums and the three panels of
    ``AnatomyDrawing`` as an inline SVG (``anatomy_svg``: a change answers in milliseconds;
    the unit panel's axes are fixed over all users and movies, so a new movie moves the units
    only up or down, a new user only sideways). Views already shown are kept (the last
    ``cache_size``).

    Parameters
    ----------
    ncf_model : mfteach.ncf.NCF and mf_model : e.g. mt.ALS(biased=True), both fitted on ``ratings``.
    ratings : Ratings
        The training ratings (titles; "[rated r]").
    test : Ratings, optional
        Held-out ratings ("[held out: r]", offered first).
    user, item : int, optional
        The pair shown first; default the first user with a held-out rating (else with a rating)
        and that user's first movie in the list.

    Returns an ``NcfAnatomyExplorer`` with ``user`` (the slider), ``item`` (the dropdown),
    ``find`` (the type-ahead box), ``out`` and ``view`` (the last ``Anatomy``).
    """
    m, n = _check_models(ncf_model, mf_model)
    check_ratings("ratings", ratings, (m, n))
    if test is not None:
        check_ratings("test", test, (m, n))
    cache_size = check_positive_int("cache_size", cache_size)
    offered = np.flatnonzero(ratings.user_counts() > 0)
    if user is None:
        with_test = np.intersect1d(offered, test.rows) if test is not None else np.array([], dtype=np.int64)
        user = int(with_test[0]) if with_test.size else (int(offered[0]) if offered.size else 0)
    titles = np.asarray(ratings.item_labels(np.arange(n))).astype(str)
    by_title = np.argsort(titles, kind="stable")

    def item_options(u: int, _extra=None):
        lo, hi = np.searchsorted(ratings.rows, [u, u + 1])
        rated = dict(zip(ratings.cols[lo:hi].tolist(), ratings.values[lo:hi].tolist()))
        held = {}
        if test is not None:
            lo, hi = np.searchsorted(test.rows, [u, u + 1])
            held = dict(zip(test.cols[lo:hi].tolist(), test.values[lo:hi].tolist()))
        first = [(f"{titles[i]} [held out: {held[i]:g}]", int(i)) for i in by_title if i in held]
        second = [(f"{titles[i]} [rated {rated[i]:g}]", int(i)) for i in by_title if i in rated and i not in held]
        rest = [(str(titles[i]), int(i)) for i in by_title if i not in rated and i not in held]
        return first + second + rest

    user_slider, item_picker = user_item_pickers(offered, user, item, (m, n), item_options, width="560px",
                                                 label_width="50px")
    find = type_ahead(item_picker, placeholder="type a title, then Enter")
    out = widgets.Output()
    box = NcfAnatomyExplorer([user_slider, widgets.HBox([item_picker, find]), out])
    box.user, box.item, box.find, box.out, box.view = user_slider, item_picker, find, out, None

    # the unit panel's limits over every user and movie: a change of movie moves the units only vertically
    params, d = ncf_model.params_, ncf_model.params_["P"].shape[1]
    user_sides = params["P"] @ params["W1"][:, :d].T + params["b1"]
    item_sides = params["Q"] @ params["W1"][:, d:].T

    def span(values):
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo) + 1e-3
        return lo - pad, hi + pad

    side_limits = (span(user_sides), span(item_sides))
    shown: OrderedDict = OrderedDict()  # (user, item) -> (Anatomy, SVG)

    def redraw():
        with guarded(out, user_slider, item_picker, find):
            key = (int(user_slider.value), int(item_picker.value))
            if key not in shown:
                view = prediction_anatomy(ncf_model, mf_model, *key, ratings=ratings, test=test)
                # the figure as a small SVG: text laid out by the browser, no PNG to draw and encode
                shown[key] = (view, anatomy_svg(view, side_limits))
                while len(shown) > cache_size:
                    shown.popitem(last=False)
            shown.move_to_end(key)
            view, svg = shown[key]
            box.view = view
            show_outputs(out, _caption(view), HTML(svg))

    redraw_on_change(user_slider, item_picker, item_options, redraw)
    redraw()
    return box
