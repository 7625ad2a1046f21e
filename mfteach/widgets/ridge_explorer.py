r"""Influence functions on a 1-D ridge regression (lesson 14; KDD 2019 eqs. 6-11, Koh and Liang 2017):
remove one training point, change lambda, and compare the first-order estimate of the change of a
test prediction with the exact change by refitting.

The model of lesson 14: training points z_j = (x_j, y_j), j = 1..N, a prediction y_hat = w x, and

.. math::

    L(w) = \sum_j (y_j - w x_j)^2 + \lambda w^2, \qquad
    \hat w = \frac{\sum_j x_j y_j}{\sum_j x_j^2 + \lambda} .

For a test input x_t the influence of z is INFL(z) = y_hat(x_t) - y_hat_{-z}(x_t). Eq. (11),
-grad y_hat^T H^{-1} grad l(z) with H = 2 (sum x^2 + lambda) and grad l(z) = -2 e_z x_z, gives

.. math::

    \mathrm{INFL}(z) \approx \frac{x_t\, e_z\, x_z}{\sum_j x_j^2 + \lambda}, \qquad
    \mathrm{INFL}_{\text{exact}}(z) = \frac{\mathrm{INFL}(z)}{1 - h_z}, \quad
    h_z = \frac{x_z^2}{\sum_j x_j^2 + \lambda} ,

with the residual e_z = y_z - w_hat x_z and the leverage h_z. Upweighting z by epsilon
(eq. 6) moves the prediction along a curve whose tangent at epsilon = 0 has slope INFL(z)
(eq. 8); removal is epsilon = -1 (the paper averages its loss, so there it is -1/n).

Two layers (ARCHITECTURE.md, "Widgets"):

* ``ridge_influence(x, y, lam, x_t, removed)`` is the PURE compute function: both fits, the
  estimate and the exact change for every point, the leverages and residuals (a
  ``RidgeInfluence``); microseconds.
* ``ridge_influence_explorer(x, y, lam, x_t, removed)`` is the thin ipywidgets layer: a slider
  for the point removed (ordered by x), a slider for lambda, and an ``Output`` with a caption
  and two panels (the data with both fitted lines; the prediction against epsilon with its
  tangent), drawn by a ``RidgeDrawing`` built once.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from IPython.display import HTML, Image

from .. import plots
from ..base import check_index, check_non_negative
from ._common import FigurePng, guarded, nice_limits, show_outputs

__all__ = ["LAMBDAS", "RidgeInfluence", "ridge_influence", "RidgeDrawing", "render_ridge_influence",
           "RidgeInfluenceExplorer", "ridge_influence_explorer"]

#: the lambda slider's values (the lesson's lambda is added when it is not among them)
LAMBDAS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


# ---------------------------------------------------------------------------- the compute function
@dataclass(frozen=True, eq=False)
class RidgeInfluence:
    """Both fits and the influence of every point on the prediction at ``x_t`` (``ridge_influence``)."""

    x: np.ndarray           # (N,) training inputs
    y: np.ndarray           # (N,) training targets
    lam: float              # lambda
    x_t: float              # the test input
    removed: int            # the index of the point z taken out
    w: float                # w_hat with every point
    w_without: float        # w_hat_{-z}, refitted without z
    residuals: np.ndarray   # (N,) e_j = y_j - w_hat x_j
    leverages: np.ndarray   # (N,) h_j = x_j^2 / (sum x^2 + lambda)
    estimates: np.ndarray   # (N,) eq. (11): x_t e_j x_j / (sum x^2 + lambda)
    exacts: np.ndarray      # (N,) x_t (w_hat - w_hat_{-j}) by refitting (NaN where the refit is undefined)

    @property
    def prediction(self) -> float:
        """y_hat at x_t with every point."""
        return self.w * self.x_t

    @property
    def prediction_without(self) -> float:
        """y_hat_{-z} at x_t, refitted without z."""
        return self.w_without * self.x_t

    @property
    def estimate(self) -> float:
        """The first-order influence of z, eq. (11)."""
        return float(self.estimates[self.removed])

    @property
    def exact(self) -> float:
        """The exact influence of z: y_hat - y_hat_{-z}."""
        return float(self.exacts[self.removed])

    @property
    def leverage(self) -> float:
        return float(self.leverages[self.removed])

    @property
    def residual(self) -> float:
        return float(self.residuals[self.removed])

    def upweighted(self, eps) -> np.ndarray:
        """y_hat at x_t refitted with weight 1 + eps on z (eq. 6); eps = -1 removes z."""
        eps = np.asarray(eps, dtype=float)
        xz, yz = self.x[self.removed], self.y[self.removed]
        sxy, sxx = float(self.x @ self.y), float(self.x @ self.x)
        return self.x_t * (sxy + eps * xz * yz) / (sxx + eps * xz**2 + self.lam)


def _finite_vector(name: str, values) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of numbers, got {type(values).__name__}") from None
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{name} must be a 1-D array of at least 2 numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array


def ridge_influence(x, y, lam: float, x_t: float, removed: int) -> RidgeInfluence:
    """The 1-D ridge fit y_hat = w x with and without the point ``removed``, and the influence of
    every training point on the prediction at ``x_t``: the first-order estimate of eq. (11) and the
    exact change by refitting. Pure (no widgets, no drawing); O(N).

    Raises
    ------
    ValueError
        x and y not 1-D finite arrays of one length >= 2; lam negative or not finite; x_t not a
        finite number; removed not an index; no fit (sum x^2 + lam = 0) or no refit without
        the point (every other x is 0 and lam = 0).
    """
    x, y = _finite_vector("x", x), _finite_vector("y", y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    lam = check_non_negative("lam", lam)
    if isinstance(x_t, bool) or not isinstance(x_t, numbers.Real) or not math.isfinite(x_t):
        raise ValueError(f"x_t must be a finite number, got {x_t!r}")
    removed = check_index("removed", removed, x.size)
    sxx, sxy = float(x @ x), float(x @ y)
    curvature = sxx + lam                                   # H / 2 = sum x^2 + lambda
    if curvature <= 0:
        raise ValueError("no fit: every x is 0 and lam = 0")
    left = curvature - x**2                                 # sum x^2 + lambda without point j
    if left[removed] <= 1e-12 * curvature:
        raise ValueError(f"no refit without point {removed}: every other x is 0 and lam = 0")
    w = sxy / curvature
    residuals = y - w * x                                   # e_j
    leverages = x**2 / curvature                            # h_j
    estimates = float(x_t) * residuals * x / curvature      # eq. (11): -x_t H^-1 (-2 e_j x_j)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_without_all = np.where(left > 1e-12 * curvature, (sxy - x * y) / left, np.nan)
    exacts = float(x_t) * (w - w_without_all)
    return RidgeInfluence(x, y, lam, float(x_t), removed, float(w), float(w_without_all[removed]), residuals,
                          leverages, estimates, exacts)


# ---------------------------------------------------------------------------- display
class RidgeDrawing:
    """The explorer's figure, built once; ``update(view)`` moves its lines and points and returns
    the bare ``Figure`` (about half the time of drawing a new one).

    Two panels: the data with the fit with and without z (and the change of the prediction at
    x_t), and y_hat(x_t) against the weight 1 + epsilon of z with its tangent at 0. Every label
    with math is fixed; the numbers go into plain-text titles and the caption.

    For ``FigurePng``: ``moving`` lists what an update moves and ``key`` names the still parts.
    ``left_ylim`` fixes the left panel's y limits (the explorer passes limits that hold every
    lambda and point, so its axis is still); ``titles=False`` leaves the titles fixed (the
    explorer's caption has their numbers). The right panel's y limits are rounded outwards."""

    EPS = np.linspace(-1.0, 1.0, 41)

    def __init__(self, left_ylim: tuple | None = None, titles: bool = True):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # 10.5 in at the 90 dpi of plots.figure_png: 945 pixels, shown unscaled in a notebook's output area
        self.fig = fig = Figure(figsize=(10.5, 3.9))
        # its own Agg canvas: savefig then reuses one renderer, and with it the layout of every fixed label
        # (a bare Figure gets a new canvas, renderer and math parser on every savefig)
        FigureCanvasAgg(fig)
        # fixed axes and legend places (no layout engine, no loc="best": they cost more than the drawing)
        self.left = left = fig.add_axes((0.065, 0.14, 0.40, 0.72))
        self.right = right = fig.add_axes((0.575, 0.14, 0.40, 0.72))
        self.points = left.scatter([], [], s=22, color="C0", marker=plots.MARKERS[0], label="training points")
        (self.removed,) = left.plot([], [], "D", color="C3", ms=8, zorder=3, label="the point $z$ removed")
        (self.fit,) = left.plot([], [], color="C7", lw=1.2, label="fit with $z$: $\\hat w$")
        (self.refit,) = left.plot([], [], color="C3", ls="--", lw=1.2, label="refit without $z$: $\\hat w_{-z}$")
        self.test_line = left.axvline(0, color="C7", ls=":", lw=1)
        (self.change,) = left.plot([], [], color="C1", lw=5, alpha=0.85, solid_capstyle="butt",
                                   label="exact change $\\hat y - \\hat y_{-z}$ at $x_t$")
        left.set_xlabel("$x$")
        left.set_ylabel("$y$")
        left.legend(frameon=False, fontsize=9, loc="upper left")
        (self.curve,) = right.plot([], [], color="C3", lw=1.5, label="refit with weight $1 + \\epsilon$ on $z$")
        (self.tangent,) = right.plot([], [], color="C7", ls="--", lw=1.2, label="tangent at 0: slope = INFL estimate")
        (self.exact,) = right.plot([], [], "o", color="C3", ms=8, label="$\\epsilon = -1$: exact (refit)")
        (self.estimate,) = right.plot([], [], "D", color="C7", ms=7, label="$\\epsilon = -1$: estimate, eq. (11)")
        zero = right.axvline(0, color="0.7", lw=0.8)
        right.set_xlim(-1.05, 1.05)
        right.set_xlabel("$\\epsilon$   ($-1$: $z$ removed, $0$: the fit)")
        right.set_ylabel("$\\hat y$ at $x_t$")
        right.legend(frameon=False, fontsize=9, loc="upper left")
        self.left_ylim, self.titles, self.key = left_ylim, bool(titles), None
        if not titles:  # the moving y axis without its label: the label still, beside it
            right.set_ylabel("")
            fig.text(0.505, 0.5, "$\\hat y$ at $x_t$", rotation=90, va="center", ha="center")
            left.set_title("ridge fit y = w x with and without z (numbers above)", fontsize=10)
            right.set_title("how the prediction at x_t moves with the weight of z", fontsize=10)
        self.moving = [right.yaxis, zero, self.test_line, self.points, self.fit, self.refit, self.change, self.removed,
                       self.curve, self.tangent, self.exact, self.estimate]
        self.moving += [left.yaxis] if left_ylim is None else []
        self.moving += [left.title, right.title] if titles else []

    @staticmethod
    def _limits(values, below: float = 0.08, above: float = 0.65, least: float = 1e-3):
        """Room above the data for the legend (upper left), whatever the data do; a span of at
        least ``least`` (a tiny influence looks tiny); rounded outwards to a twentieth of a round
        span (1, 2 or 5 times a power of ten), so that nearby views share their ticks."""
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        if hi - lo < least:
            lo, hi = (lo + hi - least) / 2, (lo + hi + least) / 2
        span = hi - lo
        lo, hi = lo - below * span, hi + above * span
        power = 10.0 ** math.floor(math.log10(hi - lo))
        step = next(f * power for f in (1, 2, 5, 10) if f * power >= hi - lo) / 20
        return nice_limits(lo, hi, step)

    def update(self, view: RidgeInfluence):
        z = view.removed
        others = np.arange(view.x.size) != z
        lo, hi = min(view.x.min(), view.x_t), max(view.x.max(), view.x_t)
        grid = np.array([lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)])
        self.points.set_offsets(np.column_stack([view.x[others], view.y[others]]))
        self.removed.set_data([view.x[z]], [view.y[z]])
        self.fit.set_data(grid, view.w * grid)
        self.refit.set_data(grid, view.w_without * grid)
        self.test_line.set_xdata([view.x_t, view.x_t])
        self.change.set_data([view.x_t, view.x_t], [view.prediction_without, view.prediction])
        self.left.set_xlim(*grid)
        left_limits = (self.left_ylim if self.left_ylim is not None
                       else self._limits(np.concatenate([view.y, view.w * grid, view.w_without * grid])))
        self.left.set_ylim(*left_limits)
        if self.titles:
            self.left.set_title(f"ridge fit y = w x, λ = {view.lam:g}: w = {view.w:.3f}, without z: "
                                f"{view.w_without:.3f}", fontsize=10)
        curve, tangent = view.upweighted(self.EPS), view.prediction + view.estimate * self.EPS
        self.curve.set_data(self.EPS, curve)
        self.tangent.set_data(self.EPS, tangent)
        self.exact.set_data([-1.0], [view.prediction_without])
        self.estimate.set_data([-1.0], [view.prediction - view.estimate])
        least = 0.05 * float(np.ptp(view.y)) or 1e-3  # a twentieth of the range of the targets
        right_limits = self._limits(np.concatenate([curve, tangent]), least=least)
        self.right.set_ylim(*right_limits)
        if self.titles:
            self.right.set_title(f"estimate = exact × (1 − leverage) = exact × {1 - view.leverage:.2f}",
                                 fontsize=10)
        self.key = (tuple(grid), self.left_ylim)  # the still parts: the left x range (and fixed y range)
        return self.fig


def render_ridge_influence(view: RidgeInfluence):
    """A bare ``Figure`` of ``view`` (a new ``RidgeDrawing``; the explorer keeps one and updates it)."""
    return RidgeDrawing().update(view)


def _left_ylim(x, y, lambdas, x_t: float) -> tuple[float, float]:
    """The left panel's y limits for every lambda in ``lambdas`` and every point removed: the data
    and the lines w x and w_{-z} x over the panel's x range (w = sum xy / (sum x^2 + lambda))."""
    lo, hi = min(x.min(), x_t), max(x.max(), x_t)
    ends = np.array([lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)])
    sxx, sxy = float(x @ x), float(x @ y)
    slopes = []
    for lam in lambdas:
        left = sxx + lam - x**2
        slopes.append(sxy / (sxx + lam) if sxx + lam > 0 else 0.0)
        slopes.extend(((sxy - x * y) / left)[left > 1e-12 * max(sxx + lam, 1e-300)])
    return RidgeDrawing._limits(np.concatenate([y, np.outer(slopes, ends).ravel()]))


def _caption(view: RidgeInfluence) -> HTML:
    z = view.removed
    share = view.estimate / view.exact if view.exact != 0 else float("nan")
    text = (f"Ridge fit ŷ = w x with λ = {view.lam:g}: w = <b>{view.w:.3f}</b>, without z: "
            f"<b>{view.w_without:.3f}</b>. "
            f"Removing point <b>z = {z}</b> (x = {view.x[z]:.2f}, y = {view.y[z]:.2f}; residual "
            f"e<sub>z</sub> = {view.residual:+.3f}, leverage h<sub>z</sub> = x<sub>z</sub>² / (Σx² + λ) = "
            f"{view.leverage:.3f}) moves the prediction at x<sub>t</sub> = {view.x_t:g} from {view.prediction:.3f} "
            f"to {view.prediction_without:.3f}: exact influence ŷ − ŷ<sub>−z</sub> = <b>{view.exact:+.4f}</b>. "
            f"Eq. (11) estimates <b>{view.estimate:+.4f}</b>")
    text += (f", {share:.0%} of it (1 − h<sub>z</sub> = {1 - view.leverage:.3f})." if math.isfinite(share)
             else " (the point has no influence: e<sub>z</sub> x<sub>z</sub> = 0).")
    others = np.abs(np.delete(view.estimates - view.exacts, z))
    others = others[np.isfinite(others)]
    if others.size:
        text += (f"<br><span style='color:#555'>The other {others.size} points: largest |estimate − exact| = "
                 f"{others.max():.4f}; largest leverage {np.delete(view.leverages, z).max():.3f}.</span>")
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['orange']}; padding-left:8px'>{text}</div>")


class RidgeInfluenceExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        view = getattr(self, "view", None)
        if view is None:  # not built yet
            return "RidgeInfluenceExplorer()"
        return (f"RidgeInfluenceExplorer(removed={view.removed}, x_z={view.x[view.removed]:.2f}, lam={view.lam:g}, "
                f"x_t={view.x_t:g}, estimate={view.estimate:+.3f}, exact={view.exact:+.3f})")


def ridge_influence_explorer(x, y, lam: float = 1.0, x_t: float = 2.0, removed: int | None = None,
                             lambdas=LAMBDAS) -> RidgeInfluenceExplorer:
    """Build the explorer (call it as a cell's last expression).

    Controls: a selection slider for the point removed (first; the points in order of x, so the
    arrow keys walk along the x-axis) and one for lambda (``lambdas``, plus ``lam``). Every move
    runs ``ridge_influence`` and redraws the caption and the two panels
    (``render_ridge_influence``); figures already drawn are kept.

    Parameters
    ----------
    x, y : arrays of shape (N,)
        The training points.
    lam : float
        The lambda shown first.
    x_t : float
        The test input.
    removed : int, optional
        The point removed first; default the one with the largest leverage (the largest |x|).
    lambdas : sequence of float
        The lambda slider's values.

    Returns a ``RidgeInfluenceExplorer`` with ``point`` and ``lam`` (the sliders), ``out`` and
    ``view`` (the last ``RidgeInfluence``).
    """
    if removed is None:
        removed = int(np.argmax(np.abs(_finite_vector("x", x))))
    first = ridge_influence(x, y, lam, x_t, removed)  # checks every argument
    x, y, removed = first.x, first.y, first.removed
    grid = sorted({check_non_negative("lambdas", v) for v in lambdas} | {first.lam})
    order = np.argsort(x, kind="stable")
    style = {"description_width": "initial"}
    point = widgets.SelectionSlider(options=[(f"#{j}: x = {x[j]:.2f}", int(j)) for j in order], value=removed,
                                    description="remove point z", continuous_update=False,
                                    layout=widgets.Layout(width="520px"), style=style)
    lam_slider = widgets.SelectionSlider(options=[(f"{v:g}", float(v)) for v in grid], value=first.lam,
                                         description="λ (lambda)", continuous_update=False,
                                         layout=widgets.Layout(width="520px"), style=style)
    out = widgets.Output()
    box = RidgeInfluenceExplorer([point, lam_slider, out])
    box.point, box.lam, box.out, box.view = point, lam_slider, out, None
    pngs: dict = {}  # (removed, lambda) -> PNG bytes
    # the caption has the titles' numbers; the left axis holds every lambda and point: only data move
    drawing = RidgeDrawing(left_ylim=_left_ylim(x, y, grid, first.x_t), titles=False)
    image = FigurePng(drawing.fig, drawing.moving)  # axes, labels and legends drawn once

    def redraw(_change=None):
        with guarded(out, point, lam_slider):
            view = ridge_influence(x, y, lam_slider.value, first.x_t, point.value)
            box.view = view
            key = (view.removed, view.lam)
            if key not in pngs:
                drawing.update(view)
                pngs[key] = image.png(drawing.key)
            show_outputs(out, _caption(view), Image(data=pngs[key], format="png"))

    point.observe(redraw, names="value")
    lam_slider.observe(redraw, names="value")
    redraw()
    return box
