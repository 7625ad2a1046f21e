"""Rank-1 puzzle: reveal entries of a hidden rank-1 matrix until the rest is determined.

Book section 9.2.4 (Examples 9.2.5 and 9.2.6). The hidden matrix is :math:`a b^\\top` with
small integer a and b, so its entries are easy to read. Every revealed entry is an edge of the
bipartite graph whose nodes are the rows and the columns; ``complete_rank1`` fills every entry
whose row and column lie in the same component. An m x n matrix needs at least m + n - 1
revealed entries (a spanning tree) to be determined everywhere; each entry beyond a spanning
tree closes a cycle, and a cycle can detect an error (a perturbed entry) while an entry on no
cycle (a bridge) cannot.

* ``hidden_rank1(m, n, seed)`` makes the hidden matrix; ``puzzle_state(hidden, revealed,
  perturb)`` is the PURE compute function (a ``PuzzleState``: completion, determined mask,
  components, conflict text, wrong entries); ``plot_bipartite`` draws the graph (matplotlib
  only) and ``render_puzzle_html`` the completed matrix.
* ``rank1_puzzle_widget(...)`` wires a grid of toggle buttons (one per entry: press = reveal),
  a seed slider, a "perturb" checkbox and an Output.

Rows and columns are numbered from 1 in the pictures and texts, as in the book; the masks and
matrices are numpy arrays indexed from 0.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from IPython.display import HTML, Image

from .. import plots
from ..completion import Rank1Result, complete_rank1
from ._common import FigurePng, guarded, show_outputs

__all__ = [
    "hidden_rank1", "PuzzleState", "puzzle_state", "plot_bipartite", "PuzzleGraph", "render_puzzle_html", "Rank1Puzzle",
    "rank1_puzzle_widget",
]

# cell colours of the completed matrix (also used in the lesson's legend)
# (light tints of the palette's blue and orange, grey, and its vermillion; a wrong cell is also framed)
COLORS = {"revealed": plots.TINTS["blue"], "completed": plots.TINTS["orange"], "unknown": "#f3f3f3",
          "wrong": plots.PALETTE["vermillion"]}


# ============================================================================ compute
def hidden_rank1(m: int = 5, n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hidden rank-1 matrix a b^T with a_i in 1..3 and b_j in 1..5 (entries 1..15).

    Returns (hidden, a, b); the same seed gives the same matrix."""
    if int(m) < 1 or int(n) < 1:
        raise ValueError(f"the puzzle needs m, n >= 1, got {m} x {n}")
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 4, size=int(m)).astype(float)
    b = rng.integers(1, 6, size=int(n)).astype(float)
    return np.outer(a, b), a, b


@dataclass(frozen=True)
class PuzzleState:
    """Everything the puzzle shows, computed from (hidden, revealed, perturb).

    Attributes
    ----------
    hidden : (m, n) the hidden rank-1 matrix.
    revealed : (m, n) bool, the revealed entries.
    shown : (m, n) the matrix handed to ``complete_rank1``: revealed values (one perturbed,
        maybe), NaN elsewhere.
    perturbed : (i, j) or None, the revealed entry that was perturbed.
    result : the ``Rank1Result`` of ``complete_rank1(shown)``.
    n_components : components of the bipartite graph over ALL m + n rows and columns (a row
        or column with nothing revealed is a component of its own); 1 is needed for a full
        completion.
    wrong : (m, n) bool, determined entries that differ from the hidden matrix (only possible
        when a perturbation went undetected).
    """

    hidden: np.ndarray
    revealed: np.ndarray
    shown: np.ndarray
    perturbed: tuple | None
    result: Rank1Result
    n_components: int
    wrong: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.hidden.shape

    @property
    def n_revealed(self) -> int:
        return int(self.revealed.sum())

    @property
    def minimum(self) -> int:
        """m + n - 1: the entries of a spanning tree, the fewest that determine everything."""
        return sum(self.shape) - 1

    @property
    def n_redundant(self) -> int:
        """Revealed entries beyond a spanning forest = independent cycles = independent checks."""
        return self.n_revealed - sum(self.shape) + self.n_components

    @property
    def completed(self) -> np.ndarray:
        return self.result.completed

    @property
    def determined(self) -> np.ndarray:
        return self.result.determined

    @property
    def conflict(self) -> str | None:
        return None if self.result.conflict is None else str(self.result.conflict)

    def summary(self) -> list[str]:
        """The status lines the widget prints (plain text)."""
        m, n = self.shape
        lines = [f"You revealed {self.n_revealed} of {m * n} entries; m + n - 1 = {self.minimum} "
                 "is the minimum for a full completion.",
                 f"The row/column graph has {self.n_components} component(s) (a full completion needs 1) and "
                 f"{self.n_redundant} redundant entr{'y' if self.n_redundant == 1 else 'ies'} "
                 "(independent cycles: each one is a check)."]
        if self.perturbed is not None:
            i, j = self.perturbed
            lines.append(f"Perturbed: entry ({i + 1},{j + 1}) shows {self.shown[i, j]:g} instead of "
                         f"{self.hidden[i, j]:g}.")
        if self.conflict is not None:
            lines.append("Conflict, " + self.conflict + ".")
        else:
            n_det = int(self.determined.sum())
            done = "complete!" if n_det == m * n else "determined."
            lines.append(f"{n_det} of {m * n} entries are {done}")
            if n_det == m * n and self.n_revealed == self.minimum:
                lines.append("With the minimum number of entries: your revealed entries form a spanning tree.")
            if self.wrong.any():
                lines.append(f"The perturbed entry lies on no cycle (a bridge): nothing can detect it, and "
                             f"{int(self.wrong.sum())} determined entries are silently wrong (framed).")
        return lines


def puzzle_state(hidden, revealed, perturb=None, delta: float = 1.0) -> PuzzleState:
    """The PURE compute function of the puzzle: complete what the revealed entries determine.

    Parameters
    ----------
    hidden : (m, n) array
        The hidden rank-1 matrix (see ``hidden_rank1``).
    revealed : (m, n) bool array
        True where the learner revealed the entry.
    perturb : (i, j) or None
        A revealed entry to perturb by ``delta`` (a typo), to show which errors cycles catch.
    delta : float
        Added to the perturbed entry.

    Returns
    -------
    PuzzleState
    """
    hidden = np.asarray(hidden, dtype=float)
    revealed = np.asarray(revealed, dtype=bool)
    if hidden.ndim != 2 or revealed.shape != hidden.shape:
        raise ValueError(f"revealed must be a bool mask of the hidden matrix's shape {hidden.shape}, "
                         f"got {revealed.shape}")
    m, n = hidden.shape
    shown = np.where(revealed, hidden, np.nan)
    perturbed = None
    if perturb is not None:
        i, j = (int(x) for x in perturb)
        if not revealed[i, j]:
            raise ValueError(f"only a revealed entry can be perturbed; ({i}, {j}) is not revealed")
        shown[i, j] += delta
        perturbed = (i, j)
    if revealed.any():
        result = complete_rank1(shown)
    else:  # nothing revealed: nothing determined
        empty = np.full((m, n), np.nan)
        result = Rank1Result(empty, np.full(m, np.nan), np.full(n, np.nan), np.zeros((m, n), dtype=bool), None,
                             np.full(m, -1), np.full(n, -1))
    # components over all nodes: the graph's components plus every row / column with nothing revealed
    isolated = int((result.row_component < 0).sum() + (result.col_component < 0).sum())
    n_components = result.n_components + isolated
    with np.errstate(invalid="ignore"):
        wrong = result.determined & ~np.isclose(result.completed, hidden)
    return PuzzleState(hidden, revealed, shown, perturbed, result, n_components, wrong)


# ============================================================================ drawing
def plot_bipartite(M, result: Rank1Result | None = None, ax=None, labels: bool = True, title: str | None = None,
                   highlight=None, one_based: bool = True):
    """The bipartite graph of the known entries of M: rows on the left, columns on the right, one
    edge per known entry (labelled with its value), nodes and edges coloured by component.

    ``result`` is ``complete_rank1(M)`` (computed when None). Edges of ``highlight`` (a list of
    (i, j), default: the conflict's witness entries) are drawn thick, dashed and red. Rows and
    columns without a known nonzero entry are grey. Returns the Axes; ``ax.lines`` holds one
    line per known entry, in row-major order, before any highlighted overlay.
    """
    import matplotlib.pyplot as plt

    M = np.asarray(M, dtype=float)
    m, n = M.shape
    if result is None:
        result = complete_rank1(M)
    if highlight is None and result.conflict is not None:
        highlight = list(result.conflict.entries)
    highlight = set(map(tuple, highlight or []))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 0.6 * max(m, n) + 0.8), layout="constrained")
    span = max(m, n) - 1
    y_row = (m - 1) / 2 - np.arange(m)          # one unit apart, both sides centred
    y_col = (n - 1) / 2 - np.arange(n)
    palette = [c for c in plots.COLORS if c != plots.PALETTE["vermillion"]]  # vermillion marks conflicts

    def color(component):
        return "#aaaaaa" if component < 0 else palette[component % len(palette)]

    offset = 1 if one_based else 0
    rows, cols = np.nonzero(~np.isnan(M))
    for i, j in zip(rows, cols):
        comp = result.row_component[i] if M[i, j] != 0 else -1
        ax.plot([0, 1], [y_row[i], y_col[j]], color=color(comp), lw=1.6, zorder=1,
                ls="-" if M[i, j] != 0 else ":")
    for i, j in highlight:
        ax.plot([0, 1], [y_row[i], y_col[j]], color=plots.PALETTE["vermillion"], lw=3.2, ls="--", zorder=2)
    if labels:
        for i, j in zip(rows, cols):
            t = 0.16 + 0.3 * j / max(n - 1, 1)  # staggered by column: labels of one row never collide
            ax.text(t, y_row[i] + t * (y_col[j] - y_row[i]), f"{M[i, j]:g}", ha="center", va="center",
                    fontsize=9, zorder=4, color=plots.PALETTE["vermillion"] if (i, j) in highlight else "black",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    ax.scatter(np.zeros(m), y_row, s=260, c=[color(c) for c in result.row_component], zorder=3,
               edgecolors="black", linewidths=0.8)
    ax.scatter(np.ones(n), y_col, s=260, c=[color(c) for c in result.col_component], zorder=3,
               edgecolors="black", linewidths=0.8, marker="s")
    for i in range(m):
        ax.text(-0.07, y_row[i], f"row {i + offset}", ha="right", va="center", fontsize=9)
    for j in range(n):
        ax.text(1.07, y_col[j], f"col {j + offset}", ha="left", va="center", fontsize=9)
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-span / 2 - 0.6, span / 2 + 0.6)
    ax.axis("off")
    ax.set_title(_bipartite_title(result) if title is None else title, fontsize=10)
    return ax


def _bipartite_title(result: Rank1Result) -> str:
    k = result.n_components
    isolated = int((result.row_component < 0).sum() + (result.col_component < 0).sum())
    title = f"{k} component{'' if k == 1 else 's'}" + (f", {isolated} isolated (grey)" if isolated else "")
    if result.conflict is not None:
        title += ", a contradicting cycle (dashed)"
    return title


class PuzzleGraph:
    """The widget's bipartite graph (the picture of ``plot_bipartite``, without edge labels), built
    once for an m x n puzzle and updated in place: ``update(state)`` sets the edges (one per
    revealed entry, coloured by component, dotted for a 0), the conflict's dashed edges, the
    nodes' colours and the title, and returns the ``Figure``; ``png(state)`` blits them over the
    row and column labels, which are drawn once (``FigurePng``)."""

    def __init__(self, m: int, n: int):
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        height = 0.42 * max(m, n) + 1.0
        self.fig = fig = Figure(figsize=(4.4, height))
        ax = self.ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - 0.4 / height))
        span = max(m, n) - 1
        self.y_row = (m - 1) / 2 - np.arange(m)  # one unit apart, both sides centred
        self.y_col = (n - 1) / 2 - np.arange(n)
        self.palette = [c for c in plots.COLORS if c != plots.PALETTE["vermillion"]]  # vermillion marks conflicts
        self.edges = ax.add_collection(LineCollection([], linewidths=1.6, zorder=1))
        self.conflict = ax.add_collection(LineCollection([], colors=plots.PALETTE["vermillion"], linewidths=3.2,
                                                         linestyles="--", zorder=2))
        self.rows = ax.scatter(np.zeros(m), self.y_row, s=260, c=["#aaaaaa"] * m, zorder=3, edgecolors="black",
                               linewidths=0.8)
        self.cols = ax.scatter(np.ones(n), self.y_col, s=260, c=["#aaaaaa"] * n, zorder=3, edgecolors="black",
                               linewidths=0.8, marker="s")
        for i in range(m):
            ax.text(-0.07, self.y_row[i], f"row {i + 1}", ha="right", va="center", fontsize=9)
        for j in range(n):
            ax.text(1.07, self.y_col[j], f"col {j + 1}", ha="left", va="center", fontsize=9)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-span / 2 - 0.6, span / 2 + 0.6)
        ax.axis("off")
        ax.set_title(" ", fontsize=10)
        self._png = None

    def _color(self, component) -> str:
        return "#aaaaaa" if component < 0 else self.palette[component % len(self.palette)]

    def update(self, state: PuzzleState):
        M, result = state.shown, state.result
        rows, cols = np.nonzero(~np.isnan(M))
        segments = [[(0.0, self.y_row[i]), (1.0, self.y_col[j])] for i, j in zip(rows, cols)]
        self.edges.set_segments(segments)
        if segments:
            self.edges.set_color([self._color(result.row_component[i] if M[i, j] != 0 else -1)
                                  for i, j in zip(rows, cols)])
            self.edges.set_linestyle(["-" if M[i, j] != 0 else ":" for i, j in zip(rows, cols)])
        entries = list(result.conflict.entries) if result.conflict is not None else []
        self.conflict.set_segments([[(0.0, self.y_row[i]), (1.0, self.y_col[j])] for i, j in entries])
        self.rows.set_facecolor([self._color(c) for c in result.row_component])
        self.cols.set_facecolor([self._color(c) for c in result.col_component])
        self.ax.set_title(_bipartite_title(result), fontsize=9)  # the longest title fits the width
        return self.fig

    def png(self, state: PuzzleState) -> bytes:
        """``update(state)`` as PNG bytes (see the class)."""
        if self._png is None:
            self._png = FigurePng(self.fig, moving=[self.edges, self.conflict, self.rows, self.cols, self.ax.title])
        self.update(state)
        return self._png.png()


def _cell(value: float, background: str, bold: bool = False, color: str = "black", frame: str | None = None) -> str:
    text = "?" if np.isnan(value) else f"{value:.3g}"
    style = f"background:{background};color:{color};width:2.6em;height:1.8em;text-align:center;"
    style += "font-weight:bold;" if bold else ""
    style += f"outline:2px solid {frame};outline-offset:-2px;" if frame else "border:1px solid #ffffff;"
    return f'<td style="{style}">{text}</td>'


def _table(matrix, title: str, cell_html) -> str:
    m, n = matrix.shape
    head = "".join(f'<th style="font-weight:normal;color:#555;text-align:center">{j + 1}</th>' for j in range(n))
    body = "".join(f'<tr><th style="font-weight:normal;color:#555;padding-right:4px">{i + 1}</th>'
                   + "".join(cell_html(i, j) for j in range(n)) + "</tr>" for i in range(m))
    return (f'<div style="display:inline-block;vertical-align:top;margin-right:2em">'
            f'<div style="margin-bottom:4px"><b>{html.escape(title)}</b></div>'
            f'<table style="border-collapse:collapse;font-family:monospace;font-size:13px">'
            f"<tr><th></th>{head}</tr>{body}</table></div>")


def render_puzzle_html(state: PuzzleState, show_hidden: bool = False) -> str:
    """The completed matrix as an HTML table (revealed: blue tint, bold; completed: orange tint;
    "?": undetermined; vermillion frame: the conflict's entries; vermillion text: wrong), the status lines, and
    optionally the hidden matrix beside it."""
    conflict_entries = set(state.result.conflict.entries) if state.result.conflict is not None else set()

    def cell(i, j):
        frame = COLORS["wrong"] if (i, j) in conflict_entries or (i, j) == state.perturbed else None
        color = COLORS["wrong"] if state.wrong[i, j] else "black"
        if state.revealed[i, j]:
            return _cell(state.shown[i, j], COLORS["revealed"], bold=True, color=color, frame=frame)
        if state.determined[i, j]:
            return _cell(state.completed[i, j], COLORS["completed"], color=color)
        return _cell(np.nan, COLORS["unknown"], color="#888888")

    parts = [_table(state.completed, "the completion", cell)]
    if show_hidden:
        parts.append(_table(state.hidden, "the hidden matrix", lambda i, j: _cell(state.hidden[i, j], "#ffffff")))
    legend = (f'<span style="background:{COLORS["revealed"]};padding:0 6px"><b>revealed</b></span> '
              f'<span style="background:{COLORS["completed"]};padding:0 6px">completed</span> '
              f'<span style="background:{COLORS["unknown"]};padding:0 6px">? undetermined</span> '
              f'<span style="outline:2px solid {COLORS["wrong"]};padding:0 6px">conflict / perturbed</span>')
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in state.summary())
    return (f'<div>{"".join(parts)}</div><div style="margin:6px 0">{legend}</div>'
            f'<ul style="margin:4px 0;padding-left:1.4em">{lines}</ul>')


# ============================================================================ the widget
class Rank1Puzzle(widgets.VBox):
    """The puzzle's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        state = getattr(self, "state", None)
        if state is None:  # not built yet
            return "Rank1Puzzle()"
        m, n = state.shape
        status = "conflict" if state.conflict is not None else f"{int(state.determined.sum())} determined"
        return (f"Rank1Puzzle({m} x {n}, seed={self.seed.value}, revealed {state.n_revealed} of {m * n}, "
                f"{state.n_components} component(s), {status})")


def rank1_puzzle_widget(m: int = 5, n: int = 6, seed: int = 0, revealed=None, graph: bool = True):
    """Build the puzzle: an m x n grid of toggle buttons over a hidden rank-1 matrix (press =
    reveal), a slider for the hidden matrix's seed, a checkbox that adds +1 to the entry revealed
    last, a checkbox that shows the hidden matrix, a "hide all" button, and an Output with the
    completion, the status lines and (``graph``) the bipartite graph.

    ``revealed`` is the starting mask (default: the first row). Returns a ``Rank1Puzzle`` with
    attributes ``buttons`` (m x n nested list of ToggleButton), ``seed`` (IntSlider),
    ``perturb``, ``show_hidden`` (Checkbox), ``clear`` (Button), ``out`` and ``state`` (the
    current ``PuzzleState``).
    """
    m, n = int(m), int(n)
    hidden_rank1(m, n, seed)  # validates m, n
    start = np.zeros((m, n), dtype=bool)
    if revealed is None:
        start[0, :] = True
    else:
        start = np.asarray(revealed, dtype=bool)
        if start.shape != (m, n):
            raise ValueError(f"revealed must have shape ({m}, {n}), got {start.shape}")

    buttons = [[widgets.ToggleButton(value=bool(start[i, j]), description="?", tooltip=f"entry ({i + 1},{j + 1})",
                                     layout=widgets.Layout(width="46px", height="30px", padding="0"))
                for j in range(n)] for i in range(m)]
    header = [widgets.HTML("")] + [widgets.HTML(f"<div style='text-align:center;color:#555'>col {j + 1}</div>")
                                   for j in range(n)]
    cells = list(header)
    for i in range(m):
        cells.append(widgets.HTML(f"<div style='color:#555;line-height:30px'>row {i + 1}</div>"))
        cells.extend(buttons[i])
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns=f"52px repeat({n}, 48px)",
                                                        grid_gap="2px"))
    slider = widgets.IntSlider(value=int(seed), min=0, max=50, description="hidden seed", continuous_update=False,
                               layout=widgets.Layout(width="330px"))
    perturb = widgets.Checkbox(value=False, description="perturb: +1 on the entry revealed last", indent=False,
                               layout=widgets.Layout(width="300px"))
    show_hidden = widgets.Checkbox(value=False, description="show the hidden matrix", indent=False,
                                   layout=widgets.Layout(width="200px"))
    clear = widgets.Button(description="hide all", layout=widgets.Layout(width="90px"))
    out = widgets.Output()
    intro = widgets.HTML("<b>Rank-1 puzzle.</b> Press a cell to reveal that entry of a hidden rank-1 matrix "
                         "a b<sup>T</sup>. Determine every entry with as few reveals as possible.")
    box = Rank1Puzzle([intro, grid, widgets.HBox([slider, clear]), widgets.HBox([perturb, show_hidden]), out])
    box.buttons, box.seed, box.perturb, box.show_hidden, box.clear, box.out = (
        buttons, slider, perturb, show_hidden, clear, out)
    order = [(i, j) for i in range(m) for j in range(n) if start[i, j]]  # reveal order (last = perturbed)
    holding = [False]

    drawing = PuzzleGraph(m, n) if graph else None  # built once; a change updates it
    # held while a change runs: the controls, not the m x n cells (disabling them all would cost the
    # browser more than the update, and a cell's own click is already done)
    controls = [slider, perturb, show_hidden, clear]

    def redraw(_change=None):
        if holding[0]:
            return
        with guarded(out, *controls):
            hidden, _, _ = hidden_rank1(m, n, slider.value)
            mask = np.array([[buttons[i][j].value for j in range(n)] for i in range(m)])
            last = order[-1] if (perturb.value and order) else None
            state = puzzle_state(hidden, mask, perturb=last)
            box.state = state
            for i in range(m):
                for j in range(n):
                    buttons[i][j].description = f"{state.shown[i, j]:g}" if mask[i, j] else "?"
            objects = [HTML(render_puzzle_html(state, show_hidden=show_hidden.value))]
            if drawing is not None:
                objects.append(Image(data=drawing.png(state), format="png"))
            show_outputs(out, *objects)

    def toggled(change, i, j):
        if change["new"]:
            order.append((i, j))
        elif (i, j) in order:
            order.remove((i, j))
        redraw()

    for i in range(m):
        for j in range(n):
            buttons[i][j].observe(lambda change, i=i, j=j: toggled(change, i, j), names="value")

    def hide_all(_button=None):
        holding[0] = True
        try:
            for row in buttons:
                for button in row:
                    button.value = False
        finally:
            holding[0] = False
        redraw()

    clear.on_click(hide_all)
    for control in (slider, perturb, show_hidden):
        control.observe(redraw, names="value")
    redraw()
    return box
