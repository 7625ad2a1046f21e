r"""Gradient-descent playground (lesson 05): one sampling mode against full GD.

The learner picks a data set, a sampling mode (book section 9.3.2: entries, columns, rows,
or shuffled mini-batches), a sample size, a learning rate and the rank k; the playground
trains ``mt.GradientDescent`` with those settings and draws the loss (book eq. 9.5 plus the
ridge penalty, a mean over Omega) against the epoch and against the number of entries of
Omega touched, beside full-batch GD from the same starting point.

* ``prepare_playground(movielens=None)`` builds the two small data sets once: synthetic
  ratings with a known noise-free truth (200 x 150, rank 5, 6,000 ratings) and, when
  MovieLens 100K is given, a MovieLens subset (the 300 most active users x the 200 most
  rated movies, a random 20% of their ratings: about 5,900 ratings at 10% density);
* ``playground_run(prepared, ...)`` is the PURE compute function: settings in, curves and
  numbers out (a ``PlaygroundResult``); the full-GD baseline is cached per (data, rank);
* ``render_playground(result)`` draws the curves; ``gd_playground(...)`` wires the controls.

Sample size is given as a percentage of what the mode draws from: of |Omega| for
``"entries"`` and ``"minibatch"``, of the n columns for ``"columns"``, of the m rows for
``"rows"``. So 10% always means 10 steps per epoch whatever the mode, and an epoch touches
about |Omega| entries in every mode (see ``mfteach.gd``). The learning rate is given as a
multiple of ``mt.gd.default_lr`` for the mode (the stable default differs by orders of
magnitude between modes); the lr actually used is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ..gd import SAMPLINGS, DivergenceError, GradientDescent, default_lr
from ._common import FigurePng, guarded, nice_log_limits, show_outputs

__all__ = [
    "SAMPLING_LABELS", "PlaygroundData", "PreparedPlayground", "PlaygroundResult", "prepare_playground",
    "sample_count", "playground_run", "PlaygroundDrawing", "render_playground", "GDPlayground", "gd_playground",
]

#: The modes offered, key -> label (all of ``mfteach.gd.SAMPLINGS``).
SAMPLING_LABELS = {
    "full": "full GD (all of Omega per step)",
    "entries": "SGD on entries (eq. 9.8-9.10)",
    "columns": "column sampling",
    "rows": "row sampling",
    "minibatch": "shuffled mini-batches",
}
assert tuple(SAMPLING_LABELS) == SAMPLINGS

RUNS_KEPT = 64  # chosen runs cached per PreparedPlayground (each a 40-row history)
N_EPOCHS = 40  # the lesson's default: enough for full GD to get going, small enough for < 100 ms


@dataclass(frozen=True)
class PlaygroundData:
    """One data set of the playground."""

    name: str           # key: "synthetic" or "movielens"
    label: str          # what the dropdown shows
    ratings: object     # the Ratings GD trains on
    truth: np.ndarray | None = None  # the noise-free m x n matrix U_true V_true^T (synthetic only)
    unknown: np.ndarray | None = None  # boolean m x n mask of the entries NOT in Omega (with truth)


@dataclass
class PreparedPlayground:
    """The data sets, by name, the cache of full-GD baselines and the cache of the last ``RUNS_KEPT``
    chosen runs (a slider moved back shows its run again at once; see ``playground_run``)."""

    datasets: dict
    baselines: dict = field(default_factory=dict)  # (data, rank, n_epochs, reg, seed) -> (history, truth_rmse, error)
    runs: dict = field(default_factory=dict)  # (data, sampling, size, lr, rank, n_epochs, reg, seed) -> _train's tuple


@dataclass
class PlaygroundResult:
    """What the playground shows for one choice of settings (computed by ``playground_run``)."""

    data: str
    sampling: str
    sample_percent: float
    sample_size: int | None      # |S| entries, |C| columns, |R| rows or the batch size; None for full GD
    lr_scale: float
    lr: float                    # the learning rate used: lr_scale * default_lr
    rank: int
    steps_per_epoch: int
    #: the chosen run's history (epoch, loss, train_rmse, entries_touched, seconds); None if it diverged
    history: pd.DataFrame | None
    baseline: pd.DataFrame | None  # full GD at its default lr, same rank and starting point
    baseline_lr: float
    error: str | None = None     # the DivergenceError message when the chosen run blew up
    #: when the chosen run blew up: its epochs up to the blow-up (drawn, running away), else None
    diverged_history: pd.DataFrame | None = None
    baseline_error: str | None = None
    truth_rmse: float | None = None          # RMSE to the noise-free truth on the unknown entries
    baseline_truth_rmse: float | None = None

    @property
    def entries_per_step(self) -> float:
        """Mean number of entries of Omega one step touched."""
        if self.history is None:
            return float("nan")
        steps = self.steps_per_epoch * (len(self.history) - 1)
        return float(self.history["entries_touched"].iloc[-1]) / max(steps, 1)

    def label(self) -> str:
        """A short description of the chosen settings."""
        if self.sampling == "full":
            return f"full GD, lr = {self.lr:.3g}"
        unit = {"entries": "entries", "minibatch": "entries", "columns": "columns", "rows": "rows"}[self.sampling]
        return f"{self.sampling}: {self.sample_size} {unit} per step, lr = {self.lr:.3g}"

    def sample_label(self) -> str:
        """The chosen run in a few words, e.g. "columns, |C| = 20" (the summary's row label)."""
        if self.sampling == "full":
            return f"full GD, lr x {self.lr_scale:g}"
        symbol = {"entries": "|S|", "minibatch": "batch", "columns": "|C|", "rows": "|R|"}[self.sampling]
        return f"{self.sampling}, {symbol} = {self.sample_size}"

    def summary(self) -> pd.DataFrame:
        """One row for full GD and one for the chosen settings: lr, steps per epoch, entries per
        step, final loss (and, for synthetic data, the RMSE to the noise-free truth on the
        unknown entries). NaN where a run diverged."""
        runs = [("full GD (default lr)", self.baseline, self.baseline_lr, 1, self.baseline_truth_rmse),
                (f"chosen: {self.sample_label()}", self.history, self.lr, self.steps_per_epoch, self.truth_rmse)]
        epochs = next((len(h) - 1 for h in (self.history, self.baseline) if h is not None), 0)
        with_truth = self.truth_rmse is not None or self.baseline_truth_rmse is not None
        rows = []
        for name, history, lr, steps, truth in runs:
            row = {"run": name, "lr": float(f"{lr:.3g}"), "steps per epoch": steps,
                   "entries per step": float("nan"), f"loss after {epochs} epochs": float("nan")}
            if history is not None:
                touched = float(history["entries_touched"].iloc[-1])
                row["entries per step"] = round(touched / max(steps * epochs, 1), 1)
                row[f"loss after {epochs} epochs"] = round(float(history["loss"].iloc[-1]), 4)
            if with_truth:
                row["RMSE to truth (unknown entries)"] = float("nan") if truth is None else round(truth, 4)
            rows.append(row)
        return pd.DataFrame(rows).set_index("run")


# ---------------------------------------------------------------------------- data
def prepare_playground(movielens=None, seed: int = 0) -> PreparedPlayground:
    """The playground's data sets (fixed seeds): ``"synthetic"`` always, ``"movielens"`` when
    ``movielens`` (MovieLens 100K ``Ratings``) is given."""
    from ..data import synthetic

    datasets = {}
    ratings, U_true, V_true = synthetic(200, 150, rank=5, density=0.2, noise=0.1, seed=seed)
    unknown = np.ones(ratings.shape, dtype=bool)
    unknown[ratings.rows, ratings.cols] = False
    datasets["synthetic"] = PlaygroundData("synthetic", "synthetic 200 x 150, rank 5 (known truth)", ratings,
                                           truth=U_true @ V_true.T, unknown=unknown)
    if movielens is not None:
        # the 300 most active users x the 200 most rated movies (49% dense), then a random 20%
        # of those ratings (split's "train" side with test_size=0.8): a sparse, small subset
        subset, _ = movielens.top(300, 200).split(test_size=0.8, seed=seed)
        datasets["movielens"] = PlaygroundData(
            "movielens", f"MovieLens subset {subset.shape[0]} x {subset.shape[1]}, {len(subset):,} ratings", subset)
    return PreparedPlayground(datasets)


def sample_count(ratings, sampling: str, sample_percent: float) -> int | None:
    """The sample size for ``sampling`` as ``sample_percent`` % of |Omega| (entries,
    mini-batches), of the n columns or of the m rows; at least 1. None for full GD."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if not 0 < sample_percent <= 100:
        raise ValueError(f"sample_percent must be in (0, 100], got {sample_percent!r}")
    if sampling == "full":
        return None
    total = {"entries": len(ratings), "minibatch": len(ratings), "columns": ratings.shape[1],
             "rows": ratings.shape[0]}[sampling]
    return max(1, min(total, int(round(sample_percent / 100 * total))))


def _steps_per_epoch(ratings, sampling: str, size: int | None) -> int:
    """How many steps ``GradientDescent`` takes per epoch (see ``mfteach.gd``)."""
    if sampling == "full":
        return 1
    total = {"entries": len(ratings), "minibatch": len(ratings), "columns": ratings.shape[1],
             "rows": ratings.shape[0]}[sampling]
    return math.ceil(total / size)


def _train(data: PlaygroundData, sampling, size, lr, rank, n_epochs, reg, seed):
    """Fit and return (history, truth RMSE or None, error message or None, the epochs before a
    blow-up or None)."""
    model = GradientDescent(rank=rank, lr=lr, reg=reg, n_epochs=n_epochs, sampling=sampling, sample_size=size,
                            seed=seed)
    try:
        model.fit(data.ratings)
    except DivergenceError as error:
        return None, None, str(error), error.history
    truth_rmse = None
    if data.truth is not None:
        gap = (model.U_ @ model.V_.T - data.truth)[data.unknown]
        truth_rmse = float(np.sqrt(np.mean(gap ** 2)))
    history = model.history_[["epoch", "loss", "train_rmse", "entries_touched", "seconds"]]
    return history, truth_rmse, None, None


def playground_run(prepared: PreparedPlayground, data: str = "synthetic", sampling: str = "entries",
                   sample_percent: float = 10, lr_scale: float = 1.0, rank: int = 5, n_epochs: int = N_EPOCHS,
                   reg: float = 0.0, seed: int = 0) -> PlaygroundResult:
    """Train GD with the chosen settings and full GD (the baseline) on data set ``data``.

    Parameters
    ----------
    prepared : PreparedPlayground
        From ``prepare_playground``; holds the data, the baseline cache and the cache of runs.
    data : str
        A key of ``prepared.datasets`` (``"synthetic"`` or ``"movielens"``).
    sampling : {"full", "entries", "columns", "rows", "minibatch"}
    sample_percent : float
        Sample size in % of |Omega| (entries, minibatch), of n (columns) or of m (rows).
    lr_scale : float
        The learning rate as a multiple of ``mt.gd.default_lr`` for this mode and size.
    rank, n_epochs, reg, seed
        As in ``GradientDescent``; the same seed gives both runs the same initial U, V.

    Returns
    -------
    PlaygroundResult
        The two histories (loss per epoch and cumulative entries touched), the lr used, and
        the RMSE to the truth on the unknown entries for synthetic data. When the chosen run
        diverges, ``history`` is None, ``error`` holds the ``DivergenceError`` message and
        ``diverged_history`` the epochs up to the blow-up.
        Pure apart from the cache: no widgets, no drawing.
    """
    if data not in prepared.datasets:
        raise ValueError(f"data must be one of {list(prepared.datasets)}, got {data!r}")
    if not (isinstance(lr_scale, (int, float)) and lr_scale > 0 and math.isfinite(lr_scale)):
        raise ValueError(f"lr_scale must be a finite number > 0, got {lr_scale!r}")
    chosen = prepared.datasets[data]
    ratings = chosen.ratings
    size = sample_count(ratings, sampling, sample_percent)
    counts = (len(ratings), ratings.user_counts(), ratings.item_counts())
    base_lr = default_lr("full", *counts, None)
    lr = float(lr_scale) * default_lr(sampling, *counts, size)

    key = (data, int(rank), int(n_epochs), float(reg), int(seed))
    if key not in prepared.baselines:  # full GD at its default lr: the same for every other setting
        prepared.baselines[key] = _train(chosen, "full", None, base_lr, rank, n_epochs, reg, seed)
    baseline, baseline_truth, baseline_error, _ = prepared.baselines[key]
    if sampling == "full" and lr == base_lr:
        history, truth, error, ran_away = prepared.baselines[key]
    else:
        run_key = (data, sampling, size, lr, int(rank), int(n_epochs), float(reg), int(seed))
        if run_key not in prepared.runs:
            prepared.runs[run_key] = _train(chosen, sampling, size, lr, rank, n_epochs, reg, seed)
            while len(prepared.runs) > RUNS_KEPT:  # the oldest first
                prepared.runs.pop(next(iter(prepared.runs)))
        history, truth, error, ran_away = prepared.runs[run_key]
    return PlaygroundResult(
        data=data, sampling=sampling, sample_percent=float(sample_percent), sample_size=size,
        lr_scale=float(lr_scale), lr=lr, rank=int(rank), steps_per_epoch=_steps_per_epoch(ratings, sampling, size),
        history=history, baseline=baseline, baseline_lr=base_lr, error=error, baseline_error=baseline_error,
        truth_rmse=truth, baseline_truth_rmse=baseline_truth, diverged_history=ran_away,
    )


# ---------------------------------------------------------------------------- display
class PlaygroundDrawing:
    """The playground's two panels, built once and updated in place: loss vs epoch and loss vs
    entries touched (log loss axes), the chosen run (solid) against full GD (dashed), an X where
    a run that blew up ran away. ``update(result)`` sets the curves, the limits (whole decades of
    the loss, a round number of entries: they change rarely), the legend and the title, and
    returns the ``Figure``; ``png(result)`` turns it into PNG bytes by blitting (``FigurePng``:
    the axes and ticks are drawn once per set of limits; an update draws the curves, the marks,
    the legend and the title over them)."""

    def __init__(self):
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, NullLocator

        self.fig = fig = Figure(figsize=(10, 3.9))
        self.axes = axes = [fig.add_axes((0.09, 0.27, 0.38, 0.6)), fig.add_axes((0.59, 0.27, 0.38, 0.6))]
        self.curves = {"baseline": [ax.plot([], [], color="C0", ls="--", lw=1.8)[0] for ax in axes],
                       "chosen": [ax.plot([], [], color="C3", ls="-", lw=1.8)[0] for ax in axes]}
        self.ends = [ax.plot([], [], marker="X", ms=11, color="C3", ls="none")[0] for ax in axes]
        for ax in axes:
            ax.set_yscale("log")
            # ticks at 1, 2, 5 x 10^j written as plain numbers, no minor ticks: readable, and
            # drawing stays fast (minor log ticks with math text cost most of a redraw)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}"))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_ylabel("loss L(U, V) (mean over Ω)")
            ax.grid(True, which="major", alpha=0.3)
        axes[0].set_xlabel("epoch (about |Ω| entries touched per epoch)")
        axes[0].set_title("loss vs epoch", fontsize=11)
        axes[1].set_xlabel("entries of Ω touched (cumulative)")
        axes[1].set_title("loss vs entries touched", fontsize=11)
        axes[1].ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
        self.title = fig.suptitle("", fontsize=11, y=0.99)
        self.legend = None
        self._png = None

    def update(self, result: PlaygroundResult):
        from matplotlib.ticker import LogLocator

        shown_runs = {"baseline": (result.baseline, "full GD (default lr)")}
        if result.sampling != "full" or result.lr != result.baseline_lr:
            chosen = result.history if result.history is not None else result.diverged_history
            shown_runs["chosen"] = (chosen, result.label() + (" — diverged" if result.error else ""))
        losses, epochs, touched, handles = [], [1.0], [1.0], []
        for name, pair in self.curves.items():
            history, label = shown_runs.get(name, (None, None))
            finite = None if history is None else history[np.isfinite(history["loss"])]  # a blown-up run: up to its last finite loss
            for line, x in zip(pair, ("epoch", "entries_touched")):
                line.set_visible(finite is not None)
                if finite is not None:
                    line.set_data(finite[x].to_numpy(), finite["loss"].to_numpy())
                    line.set_label(label)
            if finite is not None and len(finite):
                handles.append(pair[0])
                losses.append(finite["loss"].to_numpy())
                epochs.append(float(finite["epoch"].max()))
                touched.append(float(finite["entries_touched"].max()))
        ran_away = result.diverged_history is not None and "chosen" in shown_runs
        last = None
        if ran_away:
            finite = result.diverged_history[np.isfinite(result.diverged_history["loss"])]
            last = finite.iloc[-1] if len(finite) else None
        for end, x in zip(self.ends, ("epoch", "entries_touched")):  # mark where it ran away
            end.set_visible(last is not None)
            if last is not None:
                end.set_data([last[x]], [last["loss"]])
        values = np.concatenate(losses) if losses else np.array([1.0])
        values = values[values > 0]
        low, high = nice_log_limits(values.min() / 1.1, values.max() * 1.1) if len(values) else (0.1, 10.0)
        step = 10.0 ** math.floor(math.log10(max(touched)))
        limits = [(0, max(epochs)), (0, step * math.ceil(max(touched) / step))]
        for ax, xlim in zip(self.axes, limits):
            ax.set_ylim(low, high)
            ax.set_xlim(*xlim)
            # a run that blew up spans many decades: one tick per decade then
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0,) if high / low > 1e3 else (1.0, 2.0, 5.0)))
        if self.legend is not None:
            self.legend.remove()
        # below the panels, where it covers no curve
        self.legend = self.fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=2,
                                      frameon=False, fontsize=10)
        self.title.set_text(f"{result.data} data, rank k = {result.rank}")
        return self.fig

    def png(self, result: PlaygroundResult) -> bytes:
        """``update(result)`` as PNG bytes (see the class)."""
        self.update(result)
        moving = [self.title, *self.curves["baseline"], *self.curves["chosen"], *self.ends,
                  self.legend]  # a new legend each time
        if self._png is None:
            self._png = FigurePng(self.fig, moving=moving)
        for artist in moving:
            artist.set_animated(True)
        self._png.moving = moving
        # one background per set of limits (whole decades, round numbers: a few serve most settings)
        return self._png.png(key=tuple(lim for ax in self.axes for lim in (ax.get_xlim(), ax.get_ylim())))


def render_playground(result: PlaygroundResult):
    """Two panels: loss vs epoch and loss vs entries touched (log scales where useful), the
    chosen run against full GD (a new ``PlaygroundDrawing``'s bare ``Figure``; the widget keeps
    one drawing and updates it)."""
    return PlaygroundDrawing().update(result)


def _error_html(result: PlaygroundResult) -> str:
    return (f"<div style='color:{plots.PALETTE['vermillion']}'><b>The chosen run diverged</b> (lr = {result.lr:.3g}, "
            f"{result.lr_scale:g} x the default): <code>DivergenceError: {result.error}</code><br>"
            f"Move the lr slider to the left.</div>")


class GDPlayground(widgets.VBox):
    """The playground's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        controls = [getattr(self, name, None) for name in ("data", "sampling", "sample", "lr", "rank")]
        if any(c is None for c in controls):  # not built yet
            return "GDPlayground()"
        data, sampling, sample, lr, rank = controls
        return (f"GDPlayground(data={data.value!r}, sampling={sampling.value!r}, sample={sample.value}%, "
                f"lr={lr.value:g} x default, rank={rank.value})")


def gd_playground(movielens=None, data: str = "synthetic", sampling: str = "entries", sample_percent: int = 10,
                  lr_scale: float = 1.0, rank: int = 5, n_epochs: int = N_EPOCHS, prepared=None):
    """Build the playground (call it as a cell's last expression).

    ``movielens`` is MovieLens 100K (``mt.load_movielens("100k")``) for the MovieLens subset;
    without it only the synthetic data is offered. Returns a ``GDPlayground`` (a VBox) with
    the controls ``data``, ``sampling`` (Dropdowns), ``sample`` (IntSlider, % of what the
    mode samples from), ``lr`` (FloatLogSlider, multiple of the default lr), ``rank``
    (IntSlider), the Output ``out``, ``prepared`` and ``result`` (the last
    ``PlaygroundResult``).
    """
    prepared = prepare_playground(movielens) if prepared is None else prepared
    if data not in prepared.datasets:
        raise ValueError(f"data must be one of {list(prepared.datasets)}, got {data!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    wide = widgets.Layout(width="370px")
    style = {"description_width": "110px"}
    # the sample-size slider comes first: it changes the curve of every sampled mode
    sample = widgets.IntSlider(value=int(sample_percent), min=1, max=50, step=1, description="sample size %",
                               continuous_update=False, layout=wide, style=style)
    lr = widgets.FloatLogSlider(value=float(lr_scale), base=2, min=-4, max=5, step=0.25,
                                description="lr × default", readout_format=".3g", continuous_update=False,
                                layout=wide, style=style)
    rank_slider = widgets.IntSlider(value=int(rank), min=1, max=20, step=1, description="rank k",
                                    continuous_update=False, layout=wide, style=style)
    data_menu = widgets.Dropdown(options=[(d.label, key) for key, d in prepared.datasets.items()], value=data,
                                 description="data", layout=widgets.Layout(width="420px"), style=style)
    mode_menu = widgets.Dropdown(options=[(label, key) for key, label in SAMPLING_LABELS.items()], value=sampling,
                                 description="sampling", layout=widgets.Layout(width="420px"), style=style)
    out = widgets.Output()
    box = GDPlayground([widgets.HBox([widgets.VBox([data_menu, mode_menu]), widgets.VBox([sample, lr, rank_slider])]),
                        out])
    box.data, box.sampling, box.sample, box.lr, box.rank, box.out = data_menu, mode_menu, sample, lr, rank_slider, out
    box.prepared = prepared

    drawing = PlaygroundDrawing()  # built once; a control change updates it

    def redraw(_change=None):
        with guarded(out, data_menu, mode_menu, sample, lr, rank_slider):
            result = playground_run(prepared, data=data_menu.value, sampling=mode_menu.value,
                                    sample_percent=sample.value, lr_scale=lr.value, rank=rank_slider.value,
                                    n_epochs=n_epochs)
            box.result = result
            ratings = prepared.datasets[result.data].ratings
            m, n = ratings.shape
            what = {"full": "full GD uses all of Ω: the sample size does not apply",
                    "entries": f"|S| = {result.sample_size} of |Ω| = {len(ratings):,} entries",
                    "minibatch": f"batches of {result.sample_size} of |Ω| = {len(ratings):,} entries",
                    "columns": f"|C| = {result.sample_size} of n = {n} columns",
                    "rows": f"|R| = {result.sample_size} of m = {m} rows"}[result.sampling]
            caption = HTML(f"<b>{SAMPLING_LABELS[result.sampling]}</b>: {what} ({result.sample_percent:g}%); "
                           f"{result.steps_per_epoch} step(s) per epoch; lr = {result.lr:.3g} "
                           f"({result.lr_scale:.3g} × default)")
            png = drawing.png(result)  # a run that blew up is drawn too, up to where it ran away
            if result.error is not None:
                show_outputs(out, caption, Image(data=png, format="png"), HTML(_error_html(result)))
                return
            show_outputs(out, caption, Image(data=png, format="png"), result.summary())

    for control in (data_menu, mode_menu, sample, lr, rank_slider):
        control.observe(redraw, names="value")
    redraw()
    return box
