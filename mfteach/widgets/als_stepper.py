r"""ALS stepper (lesson 06): the slides' 4 x 6 example learned with k = 2, one half-step at a time.

ALS (lecture slides, "Alternating least squares (ALS)") minimizes the slides' objective

.. math::

    L(U, V) = \sum_{(u,i)\in\Omega} (r_{ui} - u_u^\top v_i)^2 + \lambda\Big(\sum_u\|u_u\|^2 + \sum_i\|v_i\|^2\Big)

by alternating two exact half-steps, as ``mt.ALS`` runs them: from a small random U and V = 0,

* the **V-step** solves every v_i = (U_{Omega^i}^T U_{Omega^i} + lambda I)^{-1} U_{Omega^i}^T r_{Omega^i}
  with U fixed (``mfteach.als.update_items``),
* the **U-step** solves every u_u = (V_{Omega_u}^T V_{Omega_u} + lambda I)^{-1} V_{Omega_u}^T r_{Omega_u}
  with V fixed (``mfteach.als.update_users``).

Each half-step is the exact minimum of L over one factor with the other held fixed, and the old
value of that factor is one of the candidates: L can only go down. Right after a U-step the
gradient with respect to U is zero (up to rounding) while the one with respect to V is not,
and the other way round; both shrink as ALS approaches a stationary point.

Three layers (ARCHITECTURE.md, "Widgets"):

* ``als_sequence(R, reg)`` runs ``n_sweeps`` sweeps once and keeps the factors, the objective
  and both gradient norms after every half-step (an ``ALSSequence``; a few milliseconds);
* ``als_step_view(sequence, step)`` is the PURE compute function behind the step slider: a
  lookup (a ``StepView``);
* ``render_matrices(view)`` writes R with "?", the current U and V^T (the factor the half-step
  solved framed) and U V^T as HTML tables; ``render_als_step(view)`` draws the loss after
  each half-step so far; ``als_step_explorer()`` wires a half-step slider (first) and a
  lambda slider to an ``Output``, with one sequence per lambda, computed on first use and kept.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from IPython.display import HTML, Image

from .. import plots
from ..als import Blocks, update_items, update_users
from ..base import check_positive, check_positive_int
from ..ratings import Ratings
from ._common import FigurePng, grid_index, guarded, show_outputs

__all__ = [
    "REGS", "N_SWEEPS", "RANK", "ALSSequence", "StepView", "als_sequence", "als_step_view", "step_label",
    "render_matrices", "StepDrawing", "render_als_step", "ALSStepExplorer", "als_step_explorer",
]

#: The lambda slider (lambda = 0 is left out: with k = 2 an item rated once has a singular block).
REGS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
N_SWEEPS = 25   # 50 half-steps: the lesson's loss after 1, 2, 5 sweeps and the slow tail after
RANK = 2        # the slides' k


@dataclass(frozen=True, eq=False)
class ALSSequence:
    """Every half-step of ALS on one matrix for one lambda (from ``als_sequence``). Index t runs
    over the half-steps: 0 is the start, odd t a V-step, even t > 0 a U-step."""

    R: np.ndarray           # m x n ratings, NaN = "?"
    reg: float
    rank: int
    seed: int
    U: np.ndarray           # (T + 1, m, k): U after half-step t
    V: np.ndarray           # (T + 1, n, k): V after half-step t
    loss: np.ndarray        # (T + 1,): the slides' objective L(U, V) after half-step t
    grad_U: np.ndarray      # (T + 1,): ||grad_U L||_F after half-step t (0 right after a U-step)
    grad_V: np.ndarray      # (T + 1,): ||grad_V L||_F after half-step t (0 right after a V-step)

    @property
    def n_steps(self) -> int:
        """T, the number of half-steps (2 per sweep)."""
        return len(self.loss) - 1

    def solved(self, step: int) -> str:
        """The factor half-step ``step`` solved: "V" (odd), "U" (even > 0), "start" (0)."""
        return "start" if step == 0 else ("V" if step % 2 == 1 else "U")


def step_label(step: int) -> str:
    """"start", "V-step 1", "U-step 1", "V-step 2", ... (half-step ``step``; sweep = (step + 1) // 2)."""
    if step == 0:
        return "start"
    return f"{'V' if step % 2 == 1 else 'U'}-step {(step + 1) // 2}"


def _objective(R: np.ndarray, known: np.ndarray, U: np.ndarray, V: np.ndarray, reg: float):
    """L(U, V) and the two gradient norms: grad_U L = 2(-E V + lambda U), grad_V L = 2(-E^T U + lambda V),
    E the residuals on Omega (0 elsewhere)."""
    E = np.where(known, np.nan_to_num(R) - U @ V.T, 0.0)
    loss = float(np.sum(E * E) + reg * (np.sum(U * U) + np.sum(V * V)))
    return (loss, float(np.linalg.norm(2 * (reg * U - E @ V))), float(np.linalg.norm(2 * (reg * V - E.T @ U))))


def als_sequence(R, reg: float = 0.1, rank: int = RANK, n_sweeps: int = N_SWEEPS, seed: int = 0) -> ALSSequence:
    """Run ``n_sweeps`` ALS sweeps on ``R`` (a dense matrix with NaN for "?", or ``Ratings``) and keep
    every half-step.

    Starts where ``mt.ALS(rank=rank, reg=reg, seed=seed)`` starts (U normal with standard
    deviation 0.1 from ``np.random.default_rng(seed)``, V = 0) and runs its half-steps in its
    order, V then U (``update_items`` / ``update_users``): after ``n_sweeps`` sweeps the factors
    are ``mt.ALS(..., n_iters=n_sweeps)``'s. ``reg`` must be > 0 (every block then has a unique
    solution). Pure; about a millisecond on the slides' example.
    """
    if isinstance(R, Ratings):
        R = R.to_dense()
    R = np.asarray(R, dtype=float)
    if R.ndim != 2:
        raise ValueError(f"R must be an m x n matrix (NaN for '?'), got shape {R.shape}")
    known = ~np.isnan(R)
    if not known.any():
        raise ValueError("R has no known rating")
    if not np.isfinite(R[known]).all():
        raise ValueError("R must hold finite ratings (NaN marks '?'); it holds inf")
    reg = check_positive("reg", reg)
    rank = check_positive_int("rank", rank)
    n_sweeps = check_positive_int("n_sweeps", n_sweeps)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    ratings = Ratings.from_dense(R)
    data = Blocks(ratings)
    m, n = R.shape
    U = np.random.default_rng(seed).normal(0.0, 0.1, (m, rank))   # mt.ALS's start ...
    V = np.zeros((n, rank))                                       # ... and V = 0
    Us, Vs, records = [U], [V], [_objective(R, known, U, V, reg)]
    for _ in range(n_sweeps):
        V = update_items(ratings, U, reg, blocks=data)             # every v_i given U (closed form)
        Us.append(U), Vs.append(V), records.append(_objective(R, known, U, V, reg))
        U = update_users(ratings, V, reg, blocks=data)             # every u_u given the new V
        Us.append(U), Vs.append(V), records.append(_objective(R, known, U, V, reg))
    loss, grad_U, grad_V = (np.array(column) for column in zip(*records))
    return ALSSequence(R.copy(), reg, rank, int(seed), np.array(Us), np.array(Vs), loss, grad_U, grad_V)


@dataclass(frozen=True, eq=False)
class StepView:
    """What the stepper shows after half-step ``step`` (from ``als_step_view``)."""

    step: int
    n_steps: int
    label: str              # "start", "V-step 1", "U-step 1", ...
    solved: str             # "start", "V" or "U"
    reg: float
    R: np.ndarray           # the ratings with NaN
    U: np.ndarray
    V: np.ndarray
    R_hat: np.ndarray       # U V^T
    losses: np.ndarray      # L after half-steps 0..step
    grad_U: float
    grad_V: float
    loss_range: tuple       # (min, max) of L over the whole sequence (fixed axes)
    factor_limit: float     # max |entry| of U and V over the whole sequence (fixed colours)

    @property
    def loss(self) -> float:
        return float(self.losses[-1])

    @property
    def change(self) -> float:
        """L after this half-step minus L before it (<= 0; 0 at the start)."""
        return float(self.losses[-1] - self.losses[-2]) if self.step > 0 else 0.0


def als_step_view(sequence: ALSSequence, step: int) -> StepView:
    """The state after half-step ``step`` (0 <= step <= sequence.n_steps): a lookup."""
    if not isinstance(sequence, ALSSequence):
        raise TypeError(f"sequence must be an ALSSequence (from als_sequence), got {type(sequence).__name__}")
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not 0 <= step <= sequence.n_steps:
        raise ValueError(f"step must be an integer from 0 to {sequence.n_steps}, got {step!r}")
    step = int(step)
    U, V = sequence.U[step], sequence.V[step]
    limit = float(max(np.abs(sequence.U).max(), np.abs(sequence.V).max(), 1e-12))
    return StepView(step, sequence.n_steps, step_label(step), sequence.solved(step), sequence.reg, sequence.R, U, V,
                    U @ V.T, sequence.loss[: step + 1], float(sequence.grad_U[step]), float(sequence.grad_V[step]),
                    (float(sequence.loss.min()), float(sequence.loss.max())), limit)


# ---------------------------------------------------------------------------- display
_CELL = "padding:2px 7px; text-align:right; border:1px solid #ddd; min-width:34px"


def _matrix_html(M, caption: str, fmt: str, row_labels, col_labels, background: str = "white",
                 frame: str | None = None, framed=None) -> str:
    """One small matrix as an HTML table: "?" (grey) where M is NaN; ``framed`` cells get a
    vermillion border and bold text; ``frame`` (a colour) draws a thick border round the table."""
    M = np.atleast_2d(M)
    head = "".join(f"<th style='padding:1px 6px; font-weight:normal; color:#555'>{c}</th>" for c in col_labels)
    rows = []
    for r, label in enumerate(row_labels):
        cells = []
        for c in range(M.shape[1]):
            value = M[r, c]
            if np.isnan(value):
                cells.append(f"<td style='{_CELL}; background:#eeeeee; color:#666; text-align:center'>?</td>")
                continue
            style = f"{_CELL}; background:{background}"
            if framed is not None and framed[r, c]:
                style += f"; outline:2px solid {plots.PALETTE['vermillion']}; outline-offset:-2px; font-weight:bold"
            text = fmt.format(value)
            if float(text) == 0:  # no "-0.0" for a tiny negative number
                text = fmt.format(0.0)
            cells.append(f"<td style='{style}'>{text}</td>")
        rows.append(f"<tr><th style='padding:1px 6px; font-weight:normal; color:#555'>{label}</th>{''.join(cells)}</tr>")
    border = f"border:3px solid {frame};" if frame else "border:3px solid transparent;"
    return (f"<table style='border-collapse:collapse; font-size:13px; {border} margin:0 10px 4px 0'>"
            f"<caption style='caption-side:top; text-align:left; font-size:13px; padding-bottom:3px'>{caption}</caption>"
            f"<tr><th></th>{head}</tr>{''.join(rows)}</table>")


def render_matrices(view: StepView) -> str:
    """HTML: R with "?", U and V^T (the factor the half-step solved on an orange tint inside a
    vermillion frame and labelled SOLVED; the fixed one on a blue tint, labelled held fixed),
    and U V^T with the predictions of the "?" framed. Plain text, so it renders in
    microseconds and a screen reader can read every number."""
    m, n = view.R.shape
    k = view.U.shape[1]
    users, items, factors = [f"u{u}" for u in range(m)], [f"i{i}" for i in range(n)], [f"f{f}" for f in range(k)]
    solved, fixed = plots.TINTS["orange"], plots.TINTS["blue"]
    vermillion = plots.PALETTE["vermillion"]
    if view.solved == "start":
        u_note, v_note, u_bg, v_bg, u_frame, v_frame = "random start", "0 at the start", "white", "white", None, None
    elif view.solved == "U":
        u_note, v_note, u_bg, v_bg, u_frame, v_frame = ("<b style='color:%s'>SOLVED</b> (closed form)" % vermillion,
                                                        "held fixed", solved, fixed, vermillion, None)
    else:
        u_note, v_note, u_bg, v_bg, u_frame, v_frame = ("held fixed", "<b style='color:%s'>SOLVED</b> (closed form)"
                                                        % vermillion, fixed, solved, None, vermillion)
    parts = [
        _matrix_html(view.R, "<b>R</b> (13 known ratings)", "{:g}", users, items),
        _matrix_html(view.U, f"<b>U</b>: {u_note}", "{:.2f}", users, factors, u_bg, u_frame),
        _matrix_html(view.V.T, f"<b>Vᵀ</b>: {v_note}", "{:.2f}", factors, items, v_bg, v_frame),
        _matrix_html(view.R_hat, "<b>R̂ = U Vᵀ</b> (framed: the '?')", "{:.1f}", users, items,
                     framed=np.isnan(view.R)),
    ]
    return "<div style='display:flex; flex-wrap:wrap; align-items:flex-start'>" + "".join(parts) + "</div>"


class StepDrawing:
    """The loss panel, built once and updated in place (only the points, the ring, the label and,
    for a new lambda, the limits change): a slider move then costs one Agg draw, not a new
    figure. ``update(view)`` returns the ``Figure``."""

    def __init__(self, n_steps: int):
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        self.fig = Figure(figsize=(10, 2.9))
        ax = self.ax = self.fig.add_axes((0.08, 0.17, 0.9, 0.68))
        self.trail, = ax.plot([], [], color="C7", lw=1, alpha=0.5)
        self.points = {}
        for kind, color, marker, label in (("start", "C7", plots.MARKERS[3], "start (U random, V = 0)"),
                                           ("V", "C0", plots.MARKERS[0], "after a V-step (V solved, U fixed)"),
                                           ("U", "C1", plots.MARKERS[1], "after a U-step (U solved, V fixed)")):
            self.points[kind], = ax.plot([], [], ls="none", marker=marker, color=color, ms=6, label=label)
        self.ring, = ax.plot([], [], ls="none", marker="o", ms=15, mfc="none", mec=plots.PALETTE["vermillion"], mew=2)
        self.note = ax.annotate("", (0, 1), xytext=(8, 8), textcoords="offset points", fontsize=10,
                                color=plots.PALETTE["vermillion"])
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(-0.8, n_steps + 0.8)
        ax.set_xlabel("half-step (odd: V-step, even: U-step)")
        ax.set_ylabel("L(U, V), log scale")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize=9, frameon=False, ncol=3)
        self.reg = None

    def update(self, view: StepView):
        steps = np.arange(view.step + 1)
        self.trail.set_data(steps, view.losses)
        for kind, chosen in (("start", steps[:1]), ("V", steps[1::2]), ("U", steps[2::2])):
            self.points[kind].set_data(chosen, view.losses[chosen])
        self.ring.set_data([view.step], [view.loss])
        self.note.xy = (view.step, view.loss)
        self.note.set_text(f"L = {view.loss:.3f}")
        if view.reg != self.reg:
            low, high = view.loss_range
            self.ax.set_ylim(low / 1.3, high * 2.5)
            self.ax.set_title(f"the objective after each half-step so far (λ = {view.reg:g}): it never goes up",
                              fontsize=10)
            self.reg = view.reg
        return self.fig

    def png(self, view: StepView) -> bytes:
        """``update(view)`` as PNG bytes, by blitting (``FigurePng``): the axes box, the x axis and the
        legend are drawn once; a move draws the points, the ring, its label, and the loss axis and
        the title (which change with lambda), over them."""
        if getattr(self, "_png", None) is None:
            self._png = FigurePng(self.fig, moving=[self.ax.yaxis, self.ax.title, self.trail, *self.points.values(),
                                                    self.ring, self.note])
        self.update(view)
        return self._png.png()


def render_als_step(view: StepView):
    """The objective after each half-step so far (circles: V-steps, squares: U-steps; the current
    one ringed), on axes fixed over the whole sequence so only the points move. A ``Figure``
    (a new ``StepDrawing``'s; the widget keeps one drawing and updates it)."""
    return StepDrawing(view.n_steps).update(view)


def _caption(view: StepView) -> HTML:
    if view.solved == "start":
        text = ("<b>Start</b> (as <code>mt.ALS</code>): U small and random, V = 0, so U Vᵀ = 0 and L is the sum of "
                f"the squared ratings plus λ‖U‖²: L = {view.loss:.3f}. Move the half-step slider to solve for V.")
    else:
        fixed = "U" if view.solved == "V" else "V"
        who = ("item i: v_i = (U_Ωⁱᵀ U_Ωⁱ + λI)⁻¹ U_Ωⁱᵀ r_Ωⁱ" if view.solved == "V"
               else "user u: u_u = (V_Ω_uᵀ V_Ω_u + λI)⁻¹ V_Ω_uᵀ r_Ω_u")
        grads = {"U": view.grad_U, "V": view.grad_V}
        text = (f"<b>{view.label}</b>: {fixed} held fixed, {view.solved} solved in closed form, one small ridge "
                f"regression per {who}. L went from {view.losses[-2]:.3f} to <b>{view.loss:.3f}</b> "
                f"(change {view.change:+.3g}: never up, the old {view.solved} was one of the candidates)."
                f"<br>Gradient now: ‖∇<sub>{view.solved}</sub> L‖ = {grads[view.solved]:.1e} (exactly the best "
                f"{view.solved} for this {fixed}), ‖∇<sub>{fixed}</sub> L‖ = {grads[fixed]:.2g} (the next half-step "
                f"improves {fixed}).")
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['vermillion']}; padding-left:8px'>{text}</div>")


INTRO = ("<b>ALS on the slides' 4 × 6 example, k = 2, one half-step at a time.</b> Each step of the "
         "<i>half-step</i> slider solves one factor exactly with the other held fixed (framed, in vermillion): "
         "V-steps solve every item's vector, U-steps every user's. Watch the objective: it can only go down, "
         "fast at first, then slowly. Try a large λ (10): everything shrinks to 0.")


class ALSStepExplorer(widgets.VBox):
    """The stepper's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        step, reg = getattr(self, "step", None), getattr(self, "reg", None)
        if step is None or reg is None:  # not built yet
            return "ALSStepExplorer()"
        return f"ALSStepExplorer(reg={reg.value:g}, half-step {step.value} of {step.max}: {step_label(step.value)})"


def als_step_explorer(R=None, reg: float = 0.1, step: int = 0, n_sweeps: int = N_SWEEPS, rank: int = RANK,
                      seed: int = 0) -> ALSStepExplorer:
    """Build the stepper (call it as a cell's last expression).

    ``R``: the matrix (NaN for "?"); default the slides' 4 x 6 example (``mt.toy("lecture_R")``).
    Controls: an integer slider over the half-steps 0 .. 2 ``n_sweeps`` (first) and a selection
    slider for lambda (``REGS``; ``reg`` must be on it). The ``Output`` shows a caption (what
    the half-step solved, the change of L and both gradient norms) and ``render_als_step``'s
    figure. One ``als_sequence`` per lambda, computed on first use and kept, so a step move is
    a lookup (and a figure, cached per (lambda, step)). Returns an ``ALSStepExplorer`` with
    ``step``, ``reg`` (the sliders), ``out``, ``sequences`` (lambda -> ``ALSSequence``) and
    ``view`` (the last ``StepView``).
    """
    if R is None:
        from ..data import toy

        R = toy("lecture_R")
    reg = REGS[grid_index(REGS, check_positive("reg", reg), "reg")]
    sequences = {reg: als_sequence(R, reg, rank, n_sweeps, seed)}
    n_steps = sequences[reg].n_steps
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not 0 <= step <= n_steps:
        raise ValueError(f"step must be an integer from 0 to {n_steps}, got {step!r}")
    style = {"description_width": "90px"}
    step_slider = widgets.IntSlider(value=int(step), min=0, max=n_steps, step=1, description="half-step",
                                    continuous_update=False, layout=widgets.Layout(width="520px"), style=style)
    reg_slider = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in REGS], value=reg, description="λ (reg)",
                                         continuous_update=False, layout=widgets.Layout(width="360px"), style=style)
    out = widgets.Output()
    box = ALSStepExplorer([widgets.HTML(INTRO), widgets.HBox([step_slider, reg_slider]), out])
    box.step, box.reg, box.out, box.sequences = step_slider, reg_slider, out, sequences
    pngs: dict = {}
    drawing = StepDrawing(n_steps)

    def redraw(_change=None):
        with guarded(out, step_slider, reg_slider):
            lam = reg_slider.value
            if lam not in sequences:
                sequences[lam] = als_sequence(R, lam, rank, n_sweeps, seed)
            view = als_step_view(sequences[lam], step_slider.value)
            box.view = view
            key = (lam, view.step)
            if key not in pngs:
                pngs[key] = drawing.png(view)
            show_outputs(out, _caption(view), HTML(render_matrices(view)), Image(data=pngs[key], format="png"))

    step_slider.observe(redraw, names="value")
    reg_slider.observe(redraw, names="value")
    redraw()
    return box
