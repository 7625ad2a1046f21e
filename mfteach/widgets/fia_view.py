r"""Explanation explorer (lesson 15): "we predict your rating for X to be r, mostly because ...",
from Fast Influence Analysis (Cheng, Shen, Huang, Zhu, KDD 2019, section 3.1 and Figure 1).

For a target user u and item i, ``mfteach.explain.fia`` estimates the influence of every rating
in R_t (the user's own ratings and the item's ratings by other users) on the prediction,

.. math::

    \mathrm{INFL}(z) = \hat y(\theta) - \hat y(\theta_{-z})
    \approx -\nabla_{\theta_t}\hat y^\top H_{\theta_t}^{-1}\nabla_{\theta_t} l(z)     \qquad (\text{eqs. } 10, 18)

(positive: the rating pushed the prediction up). The most influential ratings of the user form
the *item-based* neighbor-style explanation, those of the item the *user-based* one
(Definition 3.1).

Two layers (ARCHITECTURE.md, "Widgets"):

* ``explanation_view(model, ratings, user, item, n_top)`` is the PURE compute function: one
  ``fia`` call (a few milliseconds), the top rows of each side, and the sentence (an
  ``ExplanationView``). ``verify_top(model, ratings, user, item, how=...)`` compares the FIA
  estimate of the most influential rating with the change observed without it: by neighbourhood
  retraining (``how="local"``: ``mfteach.explain.local_retrain``, the users and items within one hop
  re-solved, warm-started; milliseconds) or by the full retrain (``how="full"``, the default:
  ``loo_influence``, warm-started: a fraction of a second on lesson 15's 250 x 250 MovieLens core,
  minutes on all of MovieLens 100K at its default tolerance).
* ``fia_explorer(model, ratings, ...)`` is the thin ipywidgets layer: a user slider (first), a
  dropdown of that user's top-10 recommendations, an ``Output`` with the sentence and the two
  tables, a "verify" button (neighbourhood retraining, instant) and a "full retrain" button. Every
  callback runs inside ``guarded``: an error is shown in the output and the controls come back.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML

from .. import plots
from ..base import check_index, check_positive_int
from ..explain.fast_influence import SIDES, fia, loo_influence
from ..explain.local import local_retrain
from ._common import (
    escape_html as _escape, guarded, influence_bar, redraw_on_change, show_outputs, type_ahead, user_item_pickers,
    user_item_repr,
)

__all__ = ["ExplanationView", "explanation_view", "Verification", "verify_top", "render_explanation",
           "FiaExplorer", "fia_explorer"]

HOW = ("local", "full")
# verify's neighbourhood retraining (mt.explain.local_retrain's options): one hop, 3 sweeps with Aitken
# extrapolation; on Figure 2's 100 ML-100K points Pearson R 0.996 with the full retrain at about 8 ms (CPU)
LOCAL = dict(hops=1, max_sweeps=3, aitken=True)

# ---------------------------------------------------------------------------- the compute functions
@dataclass(frozen=True, eq=False)
class ExplanationView:
    """What the explorer shows for one (user, item): computed by ``explanation_view``."""

    user: int
    item: int
    title: str               # the target item's title (or id)
    genres: str              # its genres joined by ", " ("" when the ratings carry none)
    prediction: float        # y_hat(u, i)
    frame: pd.DataFrame      # fia(...)'s whole frame: every rating in R_t, largest |influence| first
    item_based: pd.DataFrame  # the user's n_top most influential ratings (fia's rows and columns)
    user_based: pd.DataFrame  # the item's n_top most influential ratings by other users
    sentence: str            # "We predict your rating for ... mostly because you rated ..."

    @property
    def n_user_ratings(self) -> int:
        """|Omega_u|: how many ratings the item-based side has."""
        return int((self.frame["side"] == "item-based").sum())

    @property
    def n_item_ratings(self) -> int:
        """|Omega^i|: how many ratings the user-based side has."""
        return int((self.frame["side"] == "user-based").sum())


def _stars(rating: float) -> str:
    return f"{rating:g} star" + ("" if rating == 1 else "s")


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _sentence(title: str, prediction: float, item_based: pd.DataFrame, n_named: int = 3,
              scale: tuple[float, float] = (-np.inf, np.inf)) -> str:
    """The explanation's sentence. A score outside the rating scale is shown clipped to it, with the
    model's score beside it (the influences explain the score, which is not clipped)."""
    lo, hi = scale
    shown = f"{prediction:.2f}" if lo <= prediction <= hi else \
        f"{min(max(prediction, lo), hi):g} (the model's score, {prediction:.2f}, is off the {lo:g}-{hi:g} scale)"
    named = [f"{row.title} {_stars(row.rating)} ({row.influence:+.3f})"
             for row in item_based.head(n_named).itertuples()]
    if not named:
        return f"We predict your rating for {title} to be {shown}."
    return f"We predict your rating for {title} to be {shown}, mostly because you rated {_listing(named)}."


def explanation_view(model, ratings, user: int, item: int, n_top: int = 5,
                     exact_local: bool = False) -> ExplanationView:
    """The neighbor-style explanation of the prediction for (``user``, ``item``) (FIA, KDD 2019, Definition 3.1).

    One call of ``mfteach.explain.fia(model, ratings, user, item, exact_local)``; the ``n_top``
    rows with the largest |influence| of each side, in fia's order and with fia's columns
    (user, item, title, genres, rating, influence, side); and the sentence, which names the
    (up to) three most influential of the user's own ratings with their signed influence.
    Pure: no widgets, no drawing; a few milliseconds on MovieLens 100K.
    """
    n_top = check_positive_int("n_top", n_top)
    frame = fia(model, ratings, user, item, exact_local=exact_local)
    sides = {side: frame[frame["side"] == side].head(n_top) for side in SIDES}
    title = str(ratings.item_labels([item])[0])
    genres = ", ".join(ratings.item_genres[item]) if ratings.item_genres is not None else ""
    prediction = float(frame.attrs["prediction"])
    return ExplanationView(int(user), int(item), title, genres, prediction, frame, sides["item-based"],
                           sides["user-based"], _sentence(title, prediction, sides["item-based"],
                                                          scale=(float(ratings.values.min()), float(ratings.values.max()))))


@dataclass(frozen=True)
class Verification:
    """The FIA estimate of one rating's influence next to the influence observed by retraining."""

    user: int
    item: int
    removed: tuple[int, int]  # (user, item) of the rating taken out
    side: str
    title: str                # the removed rating's item title
    rating: float
    estimate: float           # FIA's INFL(z)
    retrained: float          # y_hat - y_hat without z, after warm-started retraining
    how: str = "full"         # "full": the whole model retrained; "local": neighbourhood retraining

    def text(self) -> str:
        """Names the rating removed, then how the prediction moves without it: FIA's first-order
        estimate and the retrained change, in words (rise/fall) and as INFL = y_hat - y_hat without."""
        who = "your" if self.side == "item-based" else f"user {self.removed[0]}'s"
        if self.how == "local":
            after, label = "re-solving its neighbourhood (users and items one hop away)", "by neighbourhood retraining"
        else:
            after, label = "retrained", "observed"
        return (f"Removed {who} rating of {self.title} ({_stars(self.rating)}). Without it the prediction would "
                f"{_move(-self.estimate)} by FIA's first-order estimate; {after}, it {_move(-self.retrained, 's')} "
                f"(INFL = {self.estimate:+.4f} estimated, {self.retrained:+.4f} {label}).")


def _move(change: float, verb_ending: str = "") -> str:
    """'rise by 0.0351' / 'falls by 0.0351' for a change of the prediction."""
    return f"{'rise' if change > 0 else 'fall'}{verb_ending} by {abs(change):.4f}"


def verify_top(model, ratings, user: int, item: int, side: str | None = None, frame: pd.DataFrame | None = None,
               how: str = "full", local: dict | None = None, **retrain) -> Verification:
    """Retrain without the most influential rating of R_t and compare (FIA, KDD 2019, section 4.2).

    ``side``: None for the largest |influence| overall, else "item-based" or "user-based" for the
    top row of that side. ``frame``: a ``fia(model, ratings, user, item)`` frame already at hand
    (computed when None). ``how``: "full" retrains the whole model (``loo_influence``; the keyword
    arguments go to it); "local" re-solves only the neighbourhood of the rating and the prediction
    (``mfteach.explain.local_retrain`` with the options ``local`` over the default ``LOCAL``: one hop,
    3 sweeps, Aitken; milliseconds on MovieLens 100K, Pearson R 0.996 with the full retrain on Figure
    2's points).
    """
    if side is not None and side not in SIDES:
        raise ValueError(f"side must be None, 'item-based' or 'user-based', got {side!r}")
    if how not in HOW:
        raise ValueError(f"how must be 'local' (neighbourhood retraining) or 'full' (the whole model), got {how!r}")
    if how == "local" and retrain:
        raise TypeError(f"verify_top(how='local') takes local_retrain's options as local=dict(...), not "
                        f"{sorted(retrain)} (those are loo_influence's, for how='full')")
    if frame is None:
        frame = fia(model, ratings, user, item)
    rows = frame if side is None else frame[frame["side"] == side]
    if len(rows) == 0:
        raise ValueError(f"no {side} rating to verify for user {user} and item {item}")
    top = rows.iloc[0]
    removed = (int(top["user"]), int(top["item"]))
    if how == "local":
        retrained = local_retrain(model, ratings, user, item, removed, **{**LOCAL, **(local or {})})
    else:
        retrained = loo_influence(model, ratings, user, item, [removed], **retrain)
    return Verification(int(user), int(item), removed, str(top["side"]), str(top["title"]), float(top["rating"]),
                        float(top["influence"]), float(retrained), how)


# ---------------------------------------------------------------------------- drawing (HTML, no matplotlib)


def _table(rows: pd.DataFrame, columns: list[tuple[str, str]], scale: float, caption: str) -> str:
    head = "".join(f"<th style='text-align:left'>{label}</th>" for _, label in columns)
    body = []
    for row in rows.itertuples():
        cells = []
        for name, _ in columns:
            value = getattr(row, name)
            if name == "influence":
                cells.append(f"<td style='white-space:nowrap; text-align:right'>{influence_bar(value, scale, half_width=60, height=10)} {value:+.4f}</td>")
            elif name in ("rating", "user"):
                cells.append(f"<td style='text-align:right'>{value:g}</td>")
            else:
                cells.append(f"<td style='text-align:left'>{_escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table style='font-size:90%; margin-right:24px'><caption style='text-align:left'><b>{caption}</b>"
            f"</caption><tr>{head}</tr>{''.join(body)}</table>")


def render_explanation(view: ExplanationView) -> str:
    """The sentence and the two tables as HTML, influence drawn as bars: blue to the right (up),
    orange to the left (down)."""
    shown = pd.concat([view.item_based["influence"], view.user_based["influence"]])
    scale = float(np.abs(shown).max()) if len(shown) else 0.0
    left = _table(view.item_based, [("title", "movie you rated"), ("genres", "genres"), ("rating", "your rating"),
                                    ("influence", "influence")], scale,
                  f"item-based: your {len(view.item_based)} most influential of {view.n_user_ratings} ratings")
    right = _table(view.user_based, [("user", "user"), ("rating", "their rating"), ("influence", "influence")], scale,
                   f"user-based: {len(view.user_based)} most influential of the {view.n_item_ratings} "
                   f"ratings of this movie")
    genres = f" <span style='color:#555'>({_escape(view.genres)})</span>" if view.genres else ""
    return (f"<div style='border-left:4px solid {plots.PALETTE['blue']}; padding-left:8px'>"
            f"<p style='margin:2px 0 6px 0'>{_escape(view.sentence)}</p>"
            f"<p style='margin:0 0 6px 0; font-size:90%'>target: user {view.user}, <b>{_escape(view.title)}</b>"
            f"{genres}; influence = predicted rating minus the prediction without that rating (FIA, first order)</p>"
            f"<div style='display:flex; flex-wrap:wrap'>{left}{right}</div></div>")


# ---------------------------------------------------------------------------- the widget
class FiaExplorer(widgets.VBox):
    """The explorer's box; its text repr is short and deterministic (nbval compares it)."""

    __repr__ = user_item_repr


def fia_explorer(model, ratings, user: int | None = None, item: int | None = None, users=None,
                 n_top: int = 5, n_items: int = 10, retrain: dict | None = None,
                 local: dict | None = None) -> FiaExplorer:
    """Build the explanation explorer (call it as a cell's last expression).

    Controls: a selection slider for the user (first), a dropdown of the user's ``n_items``
    highest-predicted unrated movies (``model.recommend``), a button "Verify the top rating"
    (neighbourhood retraining: ``verify_top(how="local")``, milliseconds) and a button "Full retrain"
    (``verify_top(how="full")``, the whole model warm-started without the rating). The ``Output``
    shows ``explanation_view``'s sentence and tables; the buttons show FIA's estimate next to the
    retrained change. Every callback runs in ``guarded``: while it runs the controls are disabled
    (the pressed button says so), an error is shown in the output, and the controls come back.

    Parameters
    ----------
    model : the fitted model ``fia`` explains (e.g. ``mt.ALS``), trained on ``ratings``.
    ratings : Ratings
        The training ratings (titles, genres, R_t).
    user : int, optional
        The user shown first (default: the first user offered).
    item : int, optional
        The item shown first (default: the user's top recommendation); offered in the dropdown
        even when it is not among the top ``n_items``.
    users : sequence of int, optional
        The users on the slider (default: every user with at least one rating).
    n_top : int
        Rows per table.
    n_items : int
        Recommendations in the dropdown.
    retrain : dict, optional
        Keyword arguments of ``loo_influence`` for the full retrain (e.g. ``n_iters``, ``tol``).
    local : dict, optional
        Options of ``mfteach.explain.local_retrain`` for the verify button, over the default
        ``LOCAL`` (``hops=1, max_sweeps=3, aitken=True``).

    Returns a ``FiaExplorer`` with ``user`` (the slider), ``item`` (the dropdown), ``verify`` (the
    neighbourhood button), ``full`` (the full-retrain button), ``out``, ``result`` (an HTML widget
    with the verifications), ``view`` (the last ``ExplanationView``), ``verification`` (the last
    ``Verification``, or None) and ``verifications`` (the current view's, by ``how``).
    """
    n_top = check_positive_int("n_top", n_top)
    n_items = check_positive_int("n_items", n_items)
    retrain, local = dict(retrain or {}), dict(local or {})
    m, n = model.shape
    if tuple(ratings.shape) != (m, n):
        raise ValueError(f"ratings have shape {ratings.shape} but the model was fitted on {m} x {n}")
    offered = (np.flatnonzero(ratings.user_counts() > 0) if users is None
               else [check_index("users", u, m, "row") for u in users])

    def item_options(u: int, extra: int | None = None):
        top = model.recommend(u, n=n_items)
        options = [(f"{title} (predicted {score:.2f})", int(i)) for i, title, score in
                   zip(top["item"], top["title"], top["score"])]
        if extra is not None and extra not in set(top["item"].tolist()):
            score = float(model.predict([u], [extra])[0])
            options.insert(0, (f"{ratings.item_labels([extra])[0]} (predicted {score:.2f})", int(extra)))
        return options

    user_slider, item_picker = user_item_pickers(offered, user, item, (m, n), item_options)
    verify = widgets.Button(description="Verify the top rating (neighbourhood retraining)", icon="check",
                            tooltip="removes the rating with the largest |influence| in the two tables and re-solves "
                                    "the users and items one hop around it and the prediction (milliseconds)",
                            layout=widgets.Layout(width="auto"))
    full = widgets.Button(description="Full retrain", icon="refresh",
                          tooltip="removes the same rating and retrains the whole model (warm-started; slower)",
                          layout=widgets.Layout(width="auto"))
    result = widgets.HTML()
    verify.add_class("mfteach-fia-verify")
    full.add_class("mfteach-fia-full")
    result.add_class("mfteach-fia-result")
    out = widgets.Output()
    find = type_ahead(item_picker, placeholder="type a title, then Enter")
    box = FiaExplorer([user_slider, widgets.HBox([item_picker, find]), out, widgets.HBox([verify, full]), result])
    box.find = find
    box.user, box.item, box.verify, box.full, box.out, box.result = user_slider, item_picker, verify, full, out, result
    box.ratings, box.n_top, box.view, box.verification, box.verifications = ratings, n_top, None, None, {}
    controls = (user_slider, item_picker, verify, full)

    def draw():
        box.view, box.verification, box.verifications = None, None, {}
        result.value = ""
        view = explanation_view(model, ratings, user_slider.value, item_picker.value, n_top=n_top)
        box.view = view
        show_outputs(out, HTML(render_explanation(view)))

    def redraw():
        with guarded(out, *controls):
            draw()

    def run_verification(how: str, button):
        with guarded(out, *controls, busy={button: "retraining…"}):
            view = box.view
            if view is None:
                raise RuntimeError("no explanation to verify: choose a user and a movie first")
            options = dict(local=local) if how == "local" else retrain
            check = verify_top(model, ratings, view.user, view.item, frame=view.frame, how=how, **options)
            box.verification = check
            box.verifications[how] = check
            result.value = "".join(f"<div style='font-size:90%'>{_escape(box.verifications[key].text())}</div>"
                                   for key in HOW if key in box.verifications)

    redraw_on_change(user_slider, item_picker, item_options, redraw)
    verify.on_click(lambda button: run_verification("local", button))
    full.on_click(lambda button: run_verification("full", button))
    draw()                                   # at build time an error is raised, not shown
    return box
