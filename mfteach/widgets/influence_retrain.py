r"""Perturbation explorer (lesson 13): change one of a user's past ratings and see how the
prediction for a target item moves, first as eq. (2) of FATREC 2017 predicts, then (on request)
by retraining ALS.

With V fixed, the user's predictions are linear in the user's ratings (``mfteach.explain``):
r_hat_u = J r_{Omega_u} (+ the biased model's offsets), J = F (F_Omega^T F_Omega + lambda I)^{-1}
F_Omega^T. Changing the rating of the k-th rated item by delta therefore moves every prediction
of the user by

.. math::

    \Delta \hat r_{ui} = J_{ik}\, \delta ,

exactly when only the user's vector is re-solved (V frozen), and approximately after a full
retrain when Hypothesis 1 holds (V hardly moves). The explorer shows both.

Three layers (ARCHITECTURE.md, "Widgets"):

* ``prepare_influence_explorer(model, ratings, user)`` computes J for the user once (an
  ``InfluenceState``).
* ``predicted_change(state, item, changed_item, new_rating)`` is the PURE compute function behind
  the slider: J[:, k] delta for every item (a ``PredictedChange``), microseconds.
* ``retrained_change(model, ratings, user, changed_item, new_rating)`` retrains ALS warm-started
  from the model, once with the changed rating and once with nothing changed, and returns the
  difference of the user's predictions (a ``RetrainedChange``); what the button runs.

``influence_explorer(model, ratings, user=..., item=...)`` wires a slider for the new rating
(first), a dropdown of the user's past ratings, a dropdown of target items (the user's top
recommendations) and a "Retrain and compare" button to an ``Output``.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML, Image

from .. import plots
from ..als import ALS
from ..base import check_index, check_non_negative, check_positive_int, check_ratings
from ..ratings import Ratings
from ._common import FigurePng, escape_html as _escape, guarded, show_outputs, svg_hbars, type_ahead

__all__ = [
    "RATING_STEP", "RETRAIN_ITERS", "N_TARGETS", "N_BARS", "InfluenceState", "PredictedChange", "RetrainedChange",
    "prepare_influence_explorer", "predicted_change", "retrain", "retrained_change", "rating_grid",
    "render_influence_view", "influence_svg", "InfluenceExplorer", "influence_explorer",
]

RATING_STEP = 0.5      # the slider's step on ratings that are not whole stars
RETRAIN_ITERS = 20     # warm-started ALS iterations of "Retrain and compare"
N_TARGETS = 10         # target items offered: the user's top recommendations
N_BARS = 12            # past ratings shown in the influence bar chart


# ---------------------------------------------------------------------------- the user's J, once
@dataclass(frozen=True, eq=False)
class InfluenceState:
    """One user's influence matrix and predictions (from ``prepare_influence_explorer``)."""

    model: ALS
    ratings: Ratings
    user: int
    items: np.ndarray        # Omega_u, the rated items (sorted)
    values: np.ndarray       # r_{Omega_u}, their ratings
    J: np.ndarray            # (n, |Omega_u|): J[i, k] = d r_hat_ui / d r_{u, items[k]}, eq. (2)
    predictions: np.ndarray  # (n,) the user's predictions r_hat_u. of the model

    def position(self, changed_item) -> int:
        """The column of J of ``changed_item`` (a ValueError unless the user rated it)."""
        if isinstance(changed_item, bool) or not isinstance(changed_item, numbers.Integral):
            raise ValueError(f"changed_item must be an item index, got {changed_item!r}")
        k = int(np.searchsorted(self.items, changed_item))
        if k == len(self.items) or self.items[k] != changed_item:
            raise ValueError(f"user {self.user} has not rated item {changed_item}: changed_item must be one of the "
                             f"user's {len(self.items)} rated items")
        return k


def prepare_influence_explorer(model: ALS, ratings: Ratings, user: int) -> InfluenceState:
    """J of ``user`` (``mfteach.explain.influence_matrix``, eq. (2) of FATREC 2017) and the user's
    predictions, computed once for every slider move that follows."""
    from ..explain.fatrec import check_user_call, influence_matrix  # lazily: mfteach.explain is heavy to import

    J, items = influence_matrix(model, ratings, user)
    _, values = check_user_call(model, ratings, user)
    predictions = model.predict(np.full(J.shape[0], user), np.arange(J.shape[0]))
    return InfluenceState(model, ratings, int(user), items, values, J, predictions)


def _check_item(state: InfluenceState, item) -> int:
    n = state.J.shape[0]
    return check_index("item", item, n, "column")


def _check_rating(new_rating) -> float:
    if isinstance(new_rating, bool) or not isinstance(new_rating, numbers.Real) or not math.isfinite(new_rating):
        raise ValueError(f"new_rating must be a finite number, got {new_rating!r}")
    return float(new_rating)


# ---------------------------------------------------------------------------- the slider: J only
@dataclass(frozen=True, eq=False)
class PredictedChange:
    """The change eq. (2) predicts when the user's rating of ``changed_item`` becomes ``new_rating``."""

    user: int
    item: int              # the target item i
    changed_item: int      # the item whose past rating changes (column k of J)
    old_rating: float
    new_rating: float
    influence: float       # beta_k = J[i, k]
    before: float          # r_hat_ui now
    changes: np.ndarray    # (n,) J[:, k] delta: the predicted change of every prediction of the user

    @property
    def delta(self) -> float:
        return self.new_rating - self.old_rating

    @property
    def change(self) -> float:
        """J[i, k] delta, the predicted change of the target's prediction."""
        return float(self.changes[self.item])

    @property
    def after(self) -> float:
        return self.before + self.change


def predicted_change(state: InfluenceState, item: int, changed_item: int, new_rating: float) -> PredictedChange:
    """The J-predicted change of the user's predictions when the rating of ``changed_item``
    (an item the user rated) becomes ``new_rating``: J[:, k] (new_rating - old rating), k the
    column of ``changed_item``. Pure; O(n)."""
    item = _check_item(state, item)
    k = state.position(changed_item)
    new_rating = _check_rating(new_rating)
    old = float(state.values[k])
    return PredictedChange(state.user, item, int(changed_item), old, new_rating, float(state.J[item, k]),
                           float(state.predictions[item]), state.J[:, k] * (new_rating - old))


# ---------------------------------------------------------------------------- the button: retrain
@dataclass(frozen=True, eq=False)
class RetrainedChange:
    """The user's predictions after retraining ALS with the changed rating (``after``) and with
    nothing changed (``before``), both warm-started from the model the same way."""

    user: int
    changed_item: int
    old_rating: float
    new_rating: float
    before: np.ndarray          # (n,) retrained on the unchanged ratings
    after: np.ndarray           # (n,) retrained with the changed rating
    drift: float                # max |before - the model's predictions|: 0 when the model had converged
    user_vector_change: float   # ||u_u' - u_u|| / ||u_u|| between the two retrains
    item_factors_change: float  # ||V' - V||_F / ||V||_F between the two retrains (Hypothesis 1: small)
    n_iters: int                # iterations the changed retrain ran
    seconds: float              # time of the changed retrain

    @property
    def delta(self) -> float:
        return self.new_rating - self.old_rating

    @property
    def change(self) -> np.ndarray:
        """after - before: the retrained change of every prediction of the user."""
        return self.after - self.before


def _relative_change(new: np.ndarray, reference: np.ndarray) -> float:
    """||new - reference|| / ||reference|| (Frobenius for matrices)."""
    return float(np.linalg.norm(new - reference) / max(np.linalg.norm(reference), 1e-300))


def retrain(model: ALS, ratings: Ratings, n_iters: int = RETRAIN_ITERS, tol: float = 0.0,
            verbose: bool = False) -> ALS:
    """``mt.retrain`` (a new ``mt.ALS`` with the model's hyperparameters, fitted to ``ratings``
    warm-started from ``model``) with the explorer's stopping rule: exactly ``n_iters`` =
    ``RETRAIN_ITERS`` iterations (``tol=0``) instead of ``mt.retrain``'s convergence to a relative
    decrease of 1e-12, because a button press must answer within about a second on MovieLens 100K,
    and the changed and the unchanged retrains of ``retrained_change`` then run the same
    iterations, so the drift of an unconverged model cancels in their difference. ``verbose``: a
    tqdm bar."""
    from ..retraining import retrain as warm_retrain

    return warm_retrain(model, ratings, n_iters=n_iters, tol=tol, verbose=verbose)


def retrained_change(model: ALS, ratings: Ratings, user: int, changed_item: int, new_rating: float,
                     n_iters: int = RETRAIN_ITERS, tol: float = 0.0, unchanged: ALS | None = None,
                     verbose: bool = False) -> RetrainedChange:
    """Retrain ALS with the user's rating of ``changed_item`` set to ``new_rating`` and return the
    change of the user's predictions.

    Both retrains start from ``model`` and run the same ``n_iters`` iterations (``tol=0``, the
    default; with ``tol > 0`` each may stop early on its own), one on the changed ratings and
    one on ``ratings`` unchanged; the change is the difference of the two. Subtracting the
    unchanged retrain removes the drift of a model that had not converged (``drift`` says how
    large it was); for a converged model it is ~0 and ``before`` is the model's own prediction.

    Parameters
    ----------
    model : ALS
        The fitted model; ``ratings`` should be its training data.
    ratings : Ratings
    user, changed_item : int
        A user and an item that user rated.
    new_rating : float
    n_iters, tol, verbose : as in ``mt.ALS``; the warm-started retrains' settings.
    unchanged : ALS, optional
        ``retrain(model, ratings, n_iters, tol)`` computed earlier (it does not depend on the
        change; the explorer keeps one).
    """
    from ..explain.fatrec import check_user_call  # lazily: mfteach.explain is heavy to import

    check_user_call(model, ratings, user)
    new_rating = _check_rating(new_rating)
    if isinstance(changed_item, bool) or not isinstance(changed_item, numbers.Integral):
        raise ValueError(f"changed_item must be an item index, got {changed_item!r}")
    position = ratings.index_of(user, changed_item)  # ValueError unless (user, changed_item) is in Omega
    values = ratings.values.copy()
    old = float(values[position])
    values[position] = new_rating
    if unchanged is None:
        unchanged = retrain(model, ratings, n_iters, tol, verbose)
    elif not isinstance(unchanged, ALS) or getattr(unchanged, "U_", None) is None or unchanged.shape != model.shape:
        raise ValueError("unchanged must be a fitted mt.ALS of the model's shape: "
                         "retrain(model, ratings, n_iters, tol)")
    start = time.perf_counter()
    changed = retrain(model, ratings.with_values(values), n_iters, tol, verbose)
    seconds = time.perf_counter() - start
    items = np.arange(model.shape[1])
    rows = np.full(len(items), user)
    before, after = unchanged.predict(rows, items), changed.predict(rows, items)
    return RetrainedChange(
        int(user), int(changed_item), old, new_rating, before, after,
        drift=float(np.max(np.abs(before - model.predict(rows, items)))),
        user_vector_change=_relative_change(changed.U_[user], unchanged.U_[user]),
        item_factors_change=_relative_change(changed.V_, unchanged.V_),
        n_iters=len(changed.history_) - 1, seconds=seconds)


# ---------------------------------------------------------------------------- display
def rating_grid(ratings: Ratings, step: float | None = None) -> np.ndarray:
    """The slider's values: from the lowest to the highest rating in steps of ``step``, rounded
    outwards to the step. Default step: 1 when every rating is a whole number (MovieLens: 1, 2,
    ..., 5 stars), else ``RATING_STEP``."""
    if step is None:
        values = ratings.values
        step = 1.0 if np.array_equal(values, np.round(values)) else RATING_STEP
    lo, hi = math.floor(ratings.values.min() / step), math.ceil(ratings.values.max() / step)
    return np.arange(lo, hi + 1) * step


def _short(text, width: int = 34) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _bars(state: InfluenceState, item: int, changed_item: int, n_bars: int):
    """(k, beta, shown, labels): the changed rating's position k, the influences beta = J[item] of
    every past rating, the ``n_bars`` largest |beta| (the changed one always among them, last if it
    was not) and their titles."""
    k = state.position(changed_item)
    beta = state.J[item]
    shown = np.argsort(-np.abs(beta), kind="stable")[:n_bars]
    if k not in shown:
        shown[-1] = k
    return k, beta, shown, state.ratings.item_labels(state.items[shown])


def render_influence_view(state: InfluenceState, item: int, changed_item: int,
                          retrained: RetrainedChange | None = None, n_bars: int = N_BARS):
    """A bare ``Figure``: the influences beta_k = J[item, k] of the user's past ratings on the
    prediction for ``item`` (largest |beta| first, ``changed_item`` in orange) and, with
    ``retrained``, the retrained change of every prediction of the user against J's."""
    from matplotlib.figure import Figure

    k, beta, shown, labels = _bars(state, item, changed_item, n_bars)
    # fixed axes (no constrained layout: it costs more than the drawing); room on the left for the titles
    if retrained is None:
        fig = Figure(figsize=(6.5, 3.9))
        ax = fig.add_axes((0.37, 0.14, 0.58, 0.72))
    else:
        fig = Figure(figsize=(12, 3.9))
        ax = fig.add_axes((0.2, 0.14, 0.31, 0.72))
    y = np.arange(len(shown))
    ax.barh(y, beta[shown], color=["C1" if j == k else "C0" for j in shown])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{_short(t)} ({state.values[j]:g})" for t, j in zip(labels, shown)], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("influence $\\beta_k = J_{ik}$ (stars per star)")
    target = _short(state.ratings.item_labels([item])[0], 40)
    ax.set_title(f"user {state.user}'s past ratings: influence on {target}\n"
                 f"(largest |β| of {len(state.items)}; orange: the one changed)", fontsize=9)
    if retrained is not None:
        ax = fig.add_axes((0.6, 0.14, 0.38, 0.72))
        predicted = state.J[:, k] * retrained.delta
        actual = retrained.change
        ax.scatter(predicted, actual, s=float(np.clip(2000 / len(predicted), 4, 25)), alpha=0.6, color="C0", lw=0,
                   label="every item")
        ax.scatter([predicted[item]], [actual[item]], s=90, marker="*", color="C3", zorder=3, label=target)
        ends = np.array([min(predicted.min(), actual.min()), max(predicted.max(), actual.max())])
        ax.plot(ends, ends, color="0.5", ls="--", lw=1, label="retrained = predicted")
        ax.set_xlabel(f"predicted change $J_{{\\cdot k}}\\,\\delta$ (stars), δ = {retrained.delta:+g}")
        ax.set_ylabel("retrained change (stars)")
        fit = ""
        if np.std(predicted) > 0 and np.std(actual) > 0:
            fit = f", Pearson r = {np.corrcoef(predicted, actual)[0, 1]:.3f}"
        ax.set_title(f"change of user {state.user}'s {len(predicted)} predictions{fit}\n"
                     f"(ALS retrained {retrained.n_iters} iterations, warm-started)", fontsize=9)
        ax.legend(frameon=False, fontsize=9, loc="upper left")
    return fig


def influence_svg(state: InfluenceState, item: int, changed_item: int, n_bars: int = N_BARS) -> str:
    """The left panel of ``render_influence_view`` (no retrain yet) as a small inline SVG
    (``svg_hbars``): the same bars, labels and colours, written in microseconds instead of the
    tens of milliseconds of a matplotlib PNG, so a new target or past rating shows at once."""
    k, beta, shown, labels = _bars(state, item, changed_item, n_bars)
    span = max(float(np.abs(beta[shown]).max()), 1e-12)
    target = _short(state.ratings.item_labels([item])[0], 40)
    colors = [plots.PALETTE["orange"] if j == k else plots.PALETTE["blue"] for j in shown]
    return svg_hbars([f"{_short(t)} ({state.values[j]:g})" for t, j in zip(labels, shown)], beta[shown], colors,
                     (-1.1 * span if beta[shown].min() < 0 else 0.0, 1.1 * span),
                     title=f"user {state.user}'s past ratings: influence on {target} (orange: the one changed)",
                     xlabel=f"influence β_k = J_ik (stars per star), largest |β| of {len(state.items)}")


def _caption(state: InfluenceState, view: PredictedChange, retrained: RetrainedChange | None) -> HTML:
    changed = _escape(state.ratings.item_labels([view.changed_item])[0])
    target = _escape(state.ratings.item_labels([view.item])[0])
    text = (f"User {state.user} rated <b>{changed}</b> {view.old_rating:g}; with {view.new_rating:g} instead "
            f"(δ = {view.delta:+g}), eq. (2) moves the prediction for <b>{target}</b> by "
            f"β δ = {view.influence:.4f} × {view.delta:+g} = {view.change:+.3f}: "
            f"from {view.before:.3f} to <b>{view.after:.3f}</b>.")
    if retrained is None:
        text += (f"<br><span style='color:#555'>Press <i>Retrain and compare</i> to retrain ALS with this rating "
                 f"({RETRAIN_ITERS} warm-started iterations) and compare.</span>")
    else:
        text += (f"<br>Retrained ALS: <b>{view.before + retrained.change[view.item]:.3f}</b> "
                 f"(change {retrained.change[view.item]:+.3f}). The user's vector moved by "
                 f"{retrained.user_vector_change:.1%}, all of V by {retrained.item_factors_change:.2%} "
                 f"(Hypothesis 1: V hardly moves)."
                 f"<br><span style='color:#555'>Retrained changes are differences from ALS retrained the same way "
                 f"with nothing changed (that alone moved the user's predictions by at most "
                 f"{retrained.drift:.1e}).</span>")
    return HTML(f"<div style='border-left:4px solid {plots.PALETTE['orange']}; padding-left:8px'>{text}</div>")


def _table(state: InfluenceState, view: PredictedChange, retrained: RetrainedChange | None,
           targets: np.ndarray) -> pd.DataFrame:
    """The offered target items: prediction now, J-predicted after (and retrained after)."""
    columns = {"now": state.predictions[targets], "J-predicted": state.predictions[targets] + view.changes[targets]}
    if retrained is not None:
        columns["retrained"] = state.predictions[targets] + retrained.change[targets]
    labels = [("▶ " if i == view.item else "") + str(t) for i, t in zip(targets, state.ratings.item_labels(targets))]
    return pd.DataFrame(columns, index=pd.Index(labels, name=f"user {state.user}'s predictions")).round(3)


class InfluenceExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    def __repr__(self):
        view = getattr(self, "view", None)
        if view is None:  # not built yet
            return "InfluenceExplorer()"
        status = "retrained" if getattr(self, "retrained", None) is not None else "not retrained"
        return (f"InfluenceExplorer(user={view.user}, item={view.item}, changed_item={view.changed_item}, "
                f"rating {view.old_rating:g} -> {view.new_rating:g}, {status})")


def influence_explorer(model: ALS, ratings: Ratings, user: int | None = None, item: int | None = None,
                       changed_item: int | None = None, n_iters: int = RETRAIN_ITERS,
                       tol: float = 0.0) -> InfluenceExplorer:
    """Build the perturbation explorer for one user (call it as a cell's last expression).

    Controls: a selection slider for the new value of one past rating (first; the rating grid
    of ``rating_grid`` plus the current value), a dropdown of the user's past ratings (most
    influential on the first target first), a dropdown of target items (the user's top
    ``N_TARGETS`` unrated items by prediction, plus ``item``) and a "Retrain and compare" button.
    The ``Output`` shows a caption, a table of the targets' predictions now, J-predicted after and
    (after the button) retrained after, and the influence bar chart (plus, after the button, the
    retrained against the predicted change of every item). A slider move is ``predicted_change``
    and a cached figure; retrained results are kept per (past rating, new value).

    Parameters
    ----------
    model : ALS
        Fitted by ``mt.ALS`` on ``ratings``; best converged (fit with ``tol``), see ``retrained_change``.
    ratings : Ratings
    user : int, optional
        Default: the first user with a rating.
    item : int, optional
        The first target item; default the user's top recommendation.
    changed_item : int, optional
        The past rating selected first; default the most influential one on ``item``.
    n_iters, tol : the button's retrain settings (``retrained_change``).

    Returns an ``InfluenceExplorer`` with ``rating`` (the slider), ``changed`` and ``target``
    (dropdowns), ``retrain`` (the button), ``out``, ``state`` (the ``InfluenceState``), ``view``
    (the last ``PredictedChange``) and ``retrained`` (the ``RetrainedChange`` shown, or None).
    """
    check_ratings("ratings", ratings)
    if user is None:
        user = int(ratings.rows[0]) if len(ratings) else 0
    state = prepare_influence_explorer(model, ratings, user)
    n_iters, tol = check_positive_int("n_iters", n_iters), check_non_negative("tol", tol)
    n = state.J.shape[0]
    unrated = state.predictions.copy()
    unrated[state.items] = -np.inf
    targets = np.argsort(-unrated, kind="stable")[: min(N_TARGETS, n - len(state.items))]
    item = (int(targets[0]) if len(targets) else int(state.items[0])) if item is None else _check_item(state, item)
    if item not in set(targets.tolist()):
        targets = np.concatenate(([item], targets))
    order = np.argsort(-np.abs(state.J[item]), kind="stable")
    changed_item = int(state.items[order[0]]) if changed_item is None else changed_item
    k = state.position(changed_item)
    grid = rating_grid(ratings)

    def slider_options(k: int):
        values = np.unique(np.append(grid, state.values[k]))
        return [(f"{v:g}", float(v)) for v in values]

    style = {"description_width": "initial"}
    slider = widgets.SelectionSlider(options=slider_options(k), value=float(state.values[k]), description="new rating",
                                     continuous_update=False, layout=widgets.Layout(width="360px"), style=style)
    labels = ratings.item_labels(state.items)
    changed = widgets.Dropdown(options=[(f"{_short(labels[j], 48)} (rated {state.values[j]:g})", int(state.items[j]))
                                        for j in order], value=int(changed_item), description="past rating",
                               layout=widgets.Layout(width="460px"), style=style)
    target = widgets.Dropdown(options=[(f"{_short(t, 48)} (now {state.predictions[i]:.2f})", int(i))
                                       for i, t in zip(targets, ratings.item_labels(targets))],
                              value=item, description="prediction for", layout=widgets.Layout(width="460px"),
                              style=style)
    button = widgets.Button(description="Retrain and compare", icon="refresh", layout=widgets.Layout(width="200px"))
    out = widgets.Output()
    find = type_ahead(changed, placeholder="type a past rating's title, then Enter")
    box = InfluenceExplorer([widgets.HBox([slider, changed]), find, widgets.HBox([target, button]), out])
    box.find = find
    box.rating, box.changed, box.target, box.retrain, box.out, box.state = slider, changed, target, button, out, state
    box.retrained = None
    retrains: dict = {}   # (changed item, new rating) -> RetrainedChange
    pngs: dict = {}       # (target, changed item, retrain key or None) -> the figure (SVG or PNG)
    unchanged: list = []  # the retrain with nothing changed, made on the first press
    holding = [False]

    controls = (slider, changed, find, target, button)

    def redraw(_change=None):
        if holding[0]:
            return
        with guarded(out, *controls):
            view = predicted_change(state, target.value, changed.value, slider.value)
            key = (view.changed_item, view.new_rating)
            retrained = retrains.get(key)
            box.view, box.retrained = view, retrained
            figure_key = (view.item, view.changed_item, key if retrained is not None else None)
            if figure_key not in pngs:
                if retrained is None:  # the bars alone: a small SVG, shown at once
                    pngs[figure_key] = HTML(influence_svg(state, view.item, view.changed_item))
                else:  # after a retrain of seconds: the two-panel matplotlib figure
                    fig = render_influence_view(state, view.item, view.changed_item, retrained)
                    pngs[figure_key] = Image(data=FigurePng(fig).png(), format="png")  # one draw, no savefig
                    fig.clear()  # a bare Figure is never registered with pyplot: nothing to plt.close
            show_outputs(out, _caption(state, view, retrained), _table(state, view, retrained, targets),
                         pngs[figure_key])

    def new_changed_item(_change=None):
        with guarded(out, *controls):
            j = state.position(changed.value)
            holding[0] = True
            try:
                slider.options = slider_options(j)
                slider.value = float(state.values[j])
            finally:
                holding[0] = False
        redraw()

    def press(_button=None):
        key = (changed.value, float(slider.value))
        with guarded(out, *controls, busy={button: "retraining…"}) as guard:
            if key not in retrains:
                if not unchanged:
                    unchanged.append(retrain(model, ratings, n_iters, tol))
                retrains[key] = retrained_change(model, ratings, state.user, key[0], key[1], n_iters, tol,
                                                 unchanged=unchanged[0])
        if guard.error is None:
            redraw()

    slider.observe(redraw, names="value")
    target.observe(redraw, names="value")
    changed.observe(new_changed_item, names="value")
    button.on_click(press)
    redraw()
    return box
