r"""Step-size explorer (lesson 04): full gradient descent on the lesson's planted matrix, for a
learning rate and a penalty of your choice, and what a too-large step does.

The data are the lesson's: ``mt.synthetic(200, 150, rank=5, density=0.2, noise=0.1, seed=0)``,
a planted rank-5 matrix R_true = U_true V_true^T with 20% of its entries observed with noise
0.1. Full GD (lesson 04, section 4) minimizes the mean loss

.. math::

    L(U, V) = \frac{1}{|\Omega|}\Big[\sum_{(u,i)\in\Omega} e_{ui}^2
              + \lambda\big(\textstyle\sum_u \|u_u\|^2 + \sum_i \|v_i\|^2\big)\Big],

with the steps U <- U - eta grad_U L, V <- V - eta grad_V L, both gradients at the old point,
grad_U L = (2 / |Omega|)(-E V + lambda U), grad_V L = (2 / |Omega|)(-E^T U + lambda V).
Exactly what ``mt.GradientDescent(sampling="full")`` runs; the explorer records, after every
epoch, the loss and the distance of U V^T to the planted matrix on the 80% unknown entries.

A step that is too large overshoots the bottom of the valley: along a direction of
curvature c, a step of eta multiplies the distance to the bottom by |1 - eta c|, which is
larger than 1 once eta > 2 / c. Just past that point the loss goes up and down and stalls
above its floor ("bouncing"); further past it every step lands higher than the last and the
loss grows geometrically until ``mt.GradientDescent`` stops with a ``DivergenceError`` (the
loss passed 1000 times its start). The explorer draws the run up to that point.

Three layers (ARCHITECTURE.md, "Widgets"):

* ``prepare_stepsize(seed=0)`` builds the planted data once, dense (a ``StepsizeData``): the
  matrix is small (200 x 150), so one epoch is two dense 200 x 150 x 5 products, far faster
  than the sparse path of ``mt.GradientDescent`` on a problem this size; the tests check
  the two give the same numbers (to 1e-10);
* ``stepsize_run(data, lr, reg)`` is the PURE compute function behind a slider move: it runs
  full GD from ``mt.GradientDescent``'s starting point (same seed, same initial factors) and
  returns the history, a verdict and, for a blow-up, the ``DivergenceError`` message (a
  ``StepsizeRun``); results are cached per (lr, lambda) in ``data``;
* ``render_stepsize(run, reference)`` draws the loss and the distance to the truth against the
  epoch (a ``StepsizeDrawing``: the widget keeps one figure and updates it);
  ``gd_stepsize_explorer()`` wires a learning-rate slider (first) and a lambda slider to an
  ``Output``.

Unlike lesson 05's playground (``gd_playground``: sampling modes against full GD), this
explorer has one algorithm, full GD, and asks one question: how large may a step be?
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ..gd import DivergenceError, stop_if_diverged
from ._common import FigurePng, grid_index, guarded, nice_log_limits, show_outputs

__all__ = [
    "LEARNING_RATES", "REGS", "LESSON_LR", "N_EPOCHS", "RANK", "VERDICTS", "StepsizeData", "StepsizeRun",
    "prepare_stepsize", "stepsize_run", "StepsizeDrawing", "render_stepsize", "GDStepsizeExplorer",
    "gd_stepsize_explorer",
]

#: The learning-rate slider: from far too small to far too large on the planted matrix (with
#: lambda = 0: 1 to 10 creep, 20 to 120 converge, 140 and 160 bounce, 180 and 250 blow up).
LEARNING_RATES = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 120.0, 140.0, 160.0, 180.0, 250.0)
#: The lambda slider (the slides' lambda; the loss divides the whole objective by |Omega|).
REGS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
LESSON_LR = 20.0   # the lesson's eta (section 4): the dashed reference curve
N_EPOCHS = 100
RANK = 5           # the planted rank
#: A steady run whose final loss is above this multiple of the reference's counts as "too small".
SLOW_FACTOR = 1.2
#: The verdicts of ``StepsizeRun.verdict``.
VERDICTS = ("steady", "too small", "bouncing", "diverged")


@dataclass
class StepsizeData:
    """The planted problem, dense, and the cache of runs (from ``prepare_stepsize``)."""

    ratings: object          # the observed Ratings (|Omega| = 6,000)
    observed: np.ndarray     # m x n, r_ui on Omega and 0 elsewhere
    mask: np.ndarray         # m x n float, 1 on Omega
    truth: np.ndarray        # m x n, the noise-free planted U_true V_true^T
    unknown: np.ndarray      # m x n float, 1 on the entries NOT in Omega
    noise: float             # the noise level of the observed ratings
    seed: int
    runs: dict = field(default_factory=dict)  # (lr, reg, rank, n_epochs) -> StepsizeRun


@dataclass(frozen=True, eq=False)
class StepsizeRun:
    """One full-GD run (``stepsize_run``).

    ``history`` has one row per epoch (0 = the starting point): epoch, loss (the mean loss L),
    train_rmse (on Omega) and truth_rmse (the RMSE of U V^T to the planted matrix on the
    unknown entries). For a run that blew up it ends at the epoch where ``mt.GradientDescent``
    stops (``error`` holds its message)."""

    lr: float
    reg: float
    rank: int
    n_epochs: int
    history: pd.DataFrame
    error: str | None       # the DivergenceError message when the run blew up
    rises: int              # number of epochs in which the loss went UP
    threshold: float        # where a loss counts as blown up: 1000 * max(starting loss, 1)

    @property
    def diverged(self) -> bool:
        return self.error is not None

    @property
    def final_loss(self) -> float:
        return float(self.history["loss"].iloc[-1])

    @property
    def final_truth_rmse(self) -> float:
        return float(self.history["truth_rmse"].iloc[-1])

    def verdict(self, reference: "StepsizeRun | None" = None) -> str:
        """"diverged" (blew up), "bouncing" (the loss went up in at least one epoch), "too small"
        (the loss fell every epoch but ends above ``SLOW_FACTOR`` times the ``reference``'s, run
        with a larger lr), else "steady"."""
        if self.diverged:
            return "diverged"
        if self.rises:
            return "bouncing"
        if (reference is not None and not reference.diverged and self.lr < reference.lr
                and self.final_loss > SLOW_FACTOR * reference.final_loss):
            return "too small"
        return "steady"


# ---------------------------------------------------------------------------- data
def prepare_stepsize(seed: int = 0) -> StepsizeData:
    """The lesson's planted problem (``mt.synthetic(200, 150, rank=5, density=0.2, noise=0.1,
    seed)``), dense."""
    from ..data import synthetic

    noise = 0.1
    ratings, U_true, V_true = synthetic(200, 150, rank=5, density=0.2, noise=noise, seed=seed)
    mask = np.zeros(ratings.shape)
    mask[ratings.rows, ratings.cols] = 1.0
    observed = np.zeros(ratings.shape)
    observed[ratings.rows, ratings.cols] = ratings.values
    return StepsizeData(ratings, observed, mask, U_true @ V_true.T, 1.0 - mask, noise, int(seed))


def _check_rate(name: str, value, positive: bool) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < 0 or (positive and value == 0)):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def stepsize_run(data: StepsizeData, lr: float = LESSON_LR, reg: float = 0.0, rank: int = RANK,
                 n_epochs: int = N_EPOCHS) -> StepsizeRun:
    """Full gradient descent on the planted matrix with learning rate ``lr`` and penalty ``reg``.

    Starts where ``mt.GradientDescent(rank=rank, seed=data.seed)`` starts (normal factors of
    standard deviation 0.1 from ``np.random.default_rng(seed)``) and takes the same steps
    (module docstring); stops early, as ``mt.GradientDescent`` does, when the loss is not
    finite or passes 1000 * max(starting loss, 1) (``mfteach.gd.stop_if_diverged``). Pure
    apart from the cache in ``data``: no widgets, no drawing; about 20 ms for 100 epochs.
    """
    if not isinstance(data, StepsizeData):
        raise TypeError(f"data must be a StepsizeData (from prepare_stepsize), got {type(data).__name__}")
    lr = _check_rate("lr", lr, positive=True)
    reg = _check_rate("reg", reg, positive=False)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 1:
        raise ValueError(f"rank must be an integer >= 1, got {rank!r}")
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Integral) or n_epochs < 1:
        raise ValueError(f"n_epochs must be an integer >= 1, got {n_epochs!r}")
    key = (lr, reg, int(rank), int(n_epochs))
    if key in data.runs:
        return data.runs[key]

    m, n = data.observed.shape
    n_known = float(data.mask.sum())
    n_unknown = float(data.unknown.sum())
    rng = np.random.default_rng(data.seed)          # GradientDescent's initial factors
    U, V = rng.normal(0.0, 0.1, (m, rank)), rng.normal(0.0, 0.1, (n, rank))
    records, error = [], None
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(n_epochs + 1):
            P = U @ V.T                                            # R_hat = U V^T
            E = (data.observed - P) * data.mask                    # e_ui on Omega, 0 elsewhere
            squared = float(np.sum(E * E))
            gap = (P - data.truth) * data.unknown                  # distance to the planted matrix
            records.append({"epoch": epoch,
                            "loss": (squared + reg * float(np.sum(U * U) + np.sum(V * V))) / n_known,
                            "train_rmse": math.sqrt(squared / n_known) if math.isfinite(squared) else math.inf,
                            "truth_rmse": float(np.sqrt(np.sum(gap * gap) / n_unknown))})
            try:
                stop_if_diverged(records, lr, "GradientDescent", " (sampling='full')")
            except DivergenceError as caught:
                error = str(caught)
                break
            if epoch == n_epochs:
                break
            grad_U = (2.0 / n_known) * (reg * U - E @ V)           # (2/|Omega|)(-E V + lambda U)
            grad_V = (2.0 / n_known) * (reg * V - E.T @ U)         # (2/|Omega|)(-E^T U + lambda V)
            U, V = U - lr * grad_U, V - lr * grad_V                # both at the old point
    history = pd.DataFrame(records)
    losses = history["loss"].to_numpy()
    with np.errstate(invalid="ignore"):
        rises = int(np.sum(np.diff(losses) > 1e-12 * np.abs(losses[:-1])))
    run = StepsizeRun(lr, reg, int(rank), int(n_epochs), history, error, rises,
                      threshold=1e3 * max(float(losses[0]), 1.0))
    data.runs[key] = run
    return run


# ---------------------------------------------------------------------------- display
class StepsizeDrawing:
    """The two panels, built once and updated in place: a slider move sets the curves' data, the
    limits, the legend and the title, then costs one Agg draw, not a new figure.
    ``update(run, reference)`` returns the ``Figure`` (see ``render_stepsize``)."""

    def __init__(self, n_epochs: int = N_EPOCHS, noise: float | None = 0.1):
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        self.fig = Figure(figsize=(10, 3.9))
        self.axes = [self.fig.add_axes((0.08, 0.3, 0.39, 0.57)), self.fig.add_axes((0.59, 0.3, 0.39, 0.57))]
        self.curves, self.ends = {}, {}
        for name, color, style, marker in (("reference", "C0", "--", plots.MARKERS[1]),
                                           ("chosen", "C3", "-", plots.MARKERS[0])):
            self.curves[name] = [ax.plot([], [], color=color, ls=style, lw=1.8, marker=marker, ms=5)[0]
                                 for ax in self.axes]
            self.ends[name] = [ax.plot([], [], marker="X", ms=11, color=color, ls="none")[0] for ax in self.axes]
        self.threshold = self.axes[0].axhline(1.0, color="C7", ls=":", lw=1, label="blow-up: 1000 × the starting loss")
        self.noise = None
        if noise is not None:
            self.noise = self.axes[1].axhline(noise, color="C7", ls="-.", lw=1, label=f"noise level {noise:g}")
        for ax in self.axes:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0,)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xlabel("epoch (one full step)")
            ax.set_xlim(0, n_epochs)
        self.axes[0].set_ylabel("loss L (mean over Ω)")
        self.axes[0].set_title("training loss", fontsize=11)
        self.axes[1].set_ylabel("RMSE to the planted matrix")
        self.axes[1].set_title("distance to the truth on the 80% unknown entries", fontsize=11)
        self.title = self.fig.suptitle("", fontsize=11, y=0.99)
        self.legend = None

    def update(self, run: StepsizeRun, reference: StepsizeRun | None = None):
        shown = {"chosen": run, "reference": reference if reference is not None and reference.lr != run.lr else None}
        labels = {"chosen": f"lr = {run.lr:g}" + (" (blew up)" if run.diverged else ""),
                  "reference": None if shown["reference"] is None else f"lesson's lr = {reference.lr:g}"}
        runs = [r for r in shown.values() if r is not None]
        # a blow-up leaves through the top: the panels stop a little above the threshold (loss) and
        # well above the starting distance (truth), so the converging curves stay readable
        tops = (3 * run.threshold, 20 * max(float(r.history["truth_rmse"].iloc[0]) for r in runs))
        for name, this in shown.items():
            h = None if this is None else this.history[np.isfinite(this.history["loss"])]
            for k, (ax, column, top) in enumerate(zip(self.axes, ("loss", "truth_rmse"), tops)):
                curve, end = self.curves[name][k], self.ends[name][k]
                curve.set_visible(h is not None)
                end.set_visible(h is not None and this.diverged and len(h) > 0)
                if h is None:
                    continue
                y = h[column].to_numpy()
                curve.set_data(h["epoch"].to_numpy(), y)
                curve.set_markevery(max(1, len(h) // 10))
                curve.set_label(labels[name])
                if end.get_visible():  # where it ran away (on the top edge when beyond it)
                    end.set_data([h["epoch"].iloc[-1]], [min(y[-1], top)])
        self.threshold.set_visible(run.diverged)
        self.threshold.set_ydata([run.threshold, run.threshold])
        for ax, column, top in zip(self.axes, ("loss", "truth_rmse"), tops):
            values = np.concatenate([r.history[column].to_numpy() for r in runs])
            values = values[np.isfinite(values) & (values > 0)]
            low, high = float(values.min()), float(values.max())
            if column == "truth_rmse" and self.noise is not None:
                low = min(low, float(self.noise.get_ydata()[0]))
            # whole decades (the background of the blitted PNG then changes rarely); a blow-up
            # still leaves through the top, a little above the threshold
            low, high = nice_log_limits(low / 1.2, high * 1.2)
            ax.set_ylim(low, min(high, top) if run.diverged else high)
        handles = [self.curves[name][0] for name in ("reference", "chosen") if shown[name] is not None]
        handles += [self.threshold] if run.diverged else []
        handles += [self.noise] if self.noise is not None else []
        if self.legend is not None:
            self.legend.remove()
        self.legend = self.fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=4,
                                      frameon=False, fontsize=10)
        self.title.set_text(f"full GD on the planted rank-5 matrix (200 × 150, 20% known), k = {run.rank}, "
                            f"λ = {run.reg:g}")
        return self.fig

    def png(self, run: StepsizeRun, reference: StepsizeRun | None = None) -> bytes:
        """``update(run, reference)`` as PNG bytes, by blitting (``FigurePng``): the axes and their
        ticks are drawn once per pair of loss-axis limits (whole decades, so a few backgrounds serve
        every setting); an update draws the curves, the end marks, the threshold, the legend and
        the title over them."""
        self.update(run, reference)
        moving = [self.title, *self.curves["reference"], *self.curves["chosen"], *self.ends["reference"],
                  *self.ends["chosen"], self.threshold, self.legend]  # the legend is new on every update
        if getattr(self, "_png", None) is None:
            self._png = FigurePng(self.fig, moving=moving)
        for artist in moving:
            artist.set_animated(True)
        self._png.moving = moving
        # one background per pair of loss-axis limits (whole decades: a few for the whole explorer)
        return self._png.png(key=tuple(ax.get_ylim() for ax in self.axes))


def render_stepsize(run: StepsizeRun, reference: StepsizeRun | None = None, noise: float | None = 0.1):
    """Two panels against the epoch: the loss L and the RMSE to the planted matrix on the unknown
    entries (log scales), the chosen run (solid, circles) and the ``reference`` (the lesson's
    lr, dashed, squares). A run that blew up leaves through the top of the loss panel, where a
    dotted line marks the blow-up threshold and an X the last epoch. A ``Figure`` (a new
    ``StepsizeDrawing``'s; the widget keeps one drawing and updates it)."""
    return StepsizeDrawing(run.n_epochs, noise).update(run, reference)


def _caption(run: StepsizeRun, reference: StepsizeRun | None) -> HTML:
    verdict = run.verdict(reference)
    ref = ""
    if reference is not None and reference.lr != run.lr and not reference.diverged:
        ref = f" (the lesson's lr = {reference.lr:g}: {reference.final_loss:.4g})"
    end = (f"after {run.n_epochs} epochs the loss is {run.final_loss:.4g}{ref} and the unknown entries are "
           f"{run.final_truth_rmse:.3g} from the truth")
    if verdict == "diverged":
        last = int(run.history["epoch"].iloc[-1])
        text = (f"<b>lr = {run.lr:g} is far too large: the run blew up.</b> Every step overshoots the bottom of "
                f"the valley by more than the distance it had to go, so each step lands higher than the last and "
                f"the loss grows geometrically; at epoch {last} it passed 1000 × its start and "
                f"<code>mt.GradientDescent</code> stops with <code>DivergenceError: {_escape(run.error)}</code>")
        color = plots.PALETTE["vermillion"]
    elif verdict == "bouncing":
        text = (f"<b>lr = {run.lr:g} is too large: the steps overshoot.</b> The loss went <i>up</i> in "
                f"{run.rises} of {run.n_epochs} epochs: a step this long crosses the bottom of the steepest "
                f"direction and lands on the other side, bouncing back and forth instead of settling; {end}. "
                f"A little larger and it blows up.")
        color = plots.PALETTE["orange"]
    elif verdict == "too small":
        text = (f"<b>lr = {run.lr:g} is too small: every step goes downhill, but not far.</b> The loss fell in "
                f"every epoch, yet {end}. Near the start (small U and V) the gradient is tiny, and short steps "
                f"take many epochs to leave that plateau.")
        color = plots.PALETTE["sky"]
    else:
        text = (f"<b>lr = {run.lr:g}: the loss fell in every epoch.</b> {end[0].upper() + end[1:]} "
                f"(noise level 0.1).")
        color = plots.PALETTE["green"]
    if verdict != "diverged" and run.reg > 0:
        text += (f"<br>λ = {run.reg:g} adds λ(Σ‖u_u‖² + Σ‖v_i‖²)/|Ω| to the loss: it pulls the factors "
                 f"towards 0, so the loss cannot fall to the noise level and U Vᵀ shrinks away from the planted "
                 f"matrix.")
    return HTML(f"<div style='border-left:4px solid {color}; padding-left:8px'>{text}</div>")


def _escape(text) -> str:
    from ._common import escape_html

    return escape_html(text)


INTRO = ("<b>Full gradient descent on the lesson's planted rank-5 matrix</b> (100 epochs from the same start). "
         "Move the <i>learning rate</i> from left to right: too small creeps, the middle converges, and past "
         "about 120 the steps overshoot (the loss goes up and down), then blow up. The dashed curve is the "
         "lesson's lr = 20. <i>λ</i> raises the floor of the loss and moves U Vᵀ away from the truth.")


class GDStepsizeExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        lr, reg = getattr(self, "lr", None), getattr(self, "reg", None)
        if lr is None or reg is None:  # not built yet
            return "GDStepsizeExplorer()"
        return f"GDStepsizeExplorer(lr={lr.value:g}, reg={reg.value:g}, {N_EPOCHS} epochs of full GD)"


def gd_stepsize_explorer(lr: float = LESSON_LR, reg: float = 0.0, data: StepsizeData | None = None,
                         n_epochs: int = N_EPOCHS) -> GDStepsizeExplorer:
    """Build the explorer (call it as a cell's last expression).

    Two selection sliders: the learning rate (first; ``LEARNING_RATES``) and lambda (``REGS``);
    an ``Output`` with a caption that says in words what the chosen step does, and the two
    panels of ``render_stepsize`` with the lesson's lr = 20 as the reference. ``lr`` and
    ``reg`` must be on the sliders' grids. Returns a ``GDStepsizeExplorer`` with ``lr``,
    ``reg`` (the sliders), ``out``, ``data`` and ``run`` (the last ``StepsizeRun``).
    """
    data = prepare_stepsize() if data is None else data
    if not isinstance(data, StepsizeData):
        raise TypeError(f"data must be a StepsizeData (from prepare_stepsize), got {type(data).__name__}")
    lr = LEARNING_RATES[grid_index(LEARNING_RATES, _check_rate("lr", lr, positive=True), "lr")]
    reg = REGS[grid_index(REGS, _check_rate("reg", reg, positive=False), "reg")]
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="480px")
    lr_slider = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in LEARNING_RATES], value=lr,
                                        description="learning rate", continuous_update=False, layout=layout,
                                        style=style)
    reg_slider = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in REGS], value=reg, description="λ (reg)",
                                         continuous_update=False, layout=layout, style=style)
    out = widgets.Output()
    box = GDStepsizeExplorer([widgets.HTML(INTRO), widgets.HBox([lr_slider, reg_slider]), out])
    box.lr, box.reg, box.out, box.data = lr_slider, reg_slider, out, data
    pngs: dict = {}
    drawing = StepsizeDrawing(n_epochs, data.noise)

    def redraw(_change=None):
        with guarded(out, lr_slider, reg_slider):
            run = stepsize_run(data, lr_slider.value, reg_slider.value, n_epochs=n_epochs)
            reference = stepsize_run(data, LESSON_LR, reg_slider.value, n_epochs=n_epochs)
            box.run = run
            key = (run.lr, run.reg)
            if key not in pngs:
                pngs[key] = drawing.png(run, reference)
            show_outputs(out, _caption(run, reference), Image(data=pngs[key], format="png"))

    lr_slider.observe(redraw, names="value")
    reg_slider.observe(redraw, names="value")
    redraw()
    return box
