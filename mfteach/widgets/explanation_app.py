r"""The explanation explorer app's layout (``apps/explain_recommendations.ipynb``, served by Voila).

The compute is ``mfteach.app`` (tested without a browser); this module only wires ipywidgets to
it (ARCHITECTURE.md, "Widgets" and "Where to add", an app):

* a dataset dropdown (MovieLens 100K; ml-latest-small when it is in the data home) and a user
  dropdown with a type-ahead box; fitting the model (once per dataset) shows a progress bar;
* the user's top-10 recommendations in a list (``mfteach.app.recommendations``);
* for the chosen one, side by side: FATREC impact and influence of the user's own ratings
  (lessons 12-13), FIA's item-based and user-based top ratings with titles and genres, each
  re-scored by neighbourhood retraining (lessons 14-15), and a sentence in words
  (``mfteach.app.explain_recommendation``);
* a button that retrains the whole model without one of those ratings (``mfteach.app.verify``).

The builder is ``explanation_explorer`` (not named after this module, so that no attribute of
``mfteach.widgets`` shadows it). Every callback runs inside ``guarded``: controls are disabled
while it runs and an error is shown in the app (``.mfteach-error``). A control answers with
FATREC, FIA and the sentence at once; the neighbourhood-retraining column follows from a
background thread. A model that must be fitted is fitted in a thread behind a progress bar; a
cached one is loaded, and its first explanation completed, before the builder returns, so that
no thread updates a widget while Voila's page connects (such an update can be lost: voila#1101).
``box.timings`` records each interaction's seconds.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import HTML

from .. import app as compute
from .. import plots
from ._common import escape_html, guarded, influence_bar, show_error, show_outputs, type_ahead

__all__ = ["ExplanationApp", "explanation_explorer", "render_app_explanation"]


# ---------------------------------------------------------------------------- drawing (HTML)
def _cell(name: str, value, scale: float) -> str:
    if name in ("influence", "impact", "retrained"):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "<td style='text-align:right; color:#777'>&hellip;</td>"
        return (f"<td style='white-space:nowrap; text-align:right'>{influence_bar(value, scale, half_width=40, height=9)}"
                f" {value:+.3f}</td>")
    if name == "rating":
        return f"<td style='text-align:right'>{value:g}</td>"
    return f"<td style='text-align:left'>{escape_html(value)}</td>"


def _table(rows: pd.DataFrame, columns: list[tuple[str, str]], caption: str, note: str) -> str:
    shown = [rows[name].to_numpy(dtype=float) for name, _ in columns if name in ("influence", "impact", "retrained")]
    values = np.abs(np.concatenate(shown)) if shown else np.zeros(0)
    scale = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 0.0
    head = "".join(f"<th style='text-align:left'>{escape_html(label)}</th>" for _, label in columns)
    body = "".join("<tr>" + "".join(_cell(name, getattr(row, name), scale) for name, _ in columns) + "</tr>"
                   for row in rows.itertuples())
    return (f"<div class='mfteach-app-panel' style='flex:1 1 420px; margin:0 16px 12px 0'>"
            f"<div style='font-weight:bold'>{caption}</div><div style='font-size:85%; color:#555; margin-bottom:4px'>"
            f"{note}</div><table style='font-size:88%'><tr>{head}</tr>{body}</table></div>")


def render_app_explanation(ex: compute.Explanation) -> str:
    """The three panels side by side as HTML: FATREC, FIA item-based, FIA user-based. Rows not yet
    re-scored by neighbourhood retraining show "..." in the "retrained" column; once every row is,
    the panel carries the class ``mfteach-app-rescored``."""
    fatrec = _table(
        ex.impact, [("title", "movie you rated"), ("genres", "genres"), ("rating", "your rating"),
                    ("influence", "influence"), ("impact", "impact")],
        f"FATREC: your {len(ex.impact)} most influential of {ex.n_rated} ratings",
        f"Lessons 12-13. Item factors held fixed, the prediction is linear in your ratings: influence = change "
        f"per star of that rating, impact = influence &times; (rating &minus; &mu; &minus; c<sub>j</sub>). "
        f"Baseline &mu; + c<sub>i</sub> = {ex.baseline:.2f}; baseline + all {ex.n_rated} impacts = "
        f"{ex.prediction:.2f}, the prediction.")
    hops = ex.local_options.get("hops", 1)
    local_note = (f"retrained = the same change re-solved exactly for the users and movies within {hops} hop"
                  f"{'' if hops == 1 else 's'} of the rating and the prediction (neighbourhood retraining).")
    item_based = _table(
        ex.item_based, [("title", "movie you rated"), ("genres", "genres"), ("rating", "your rating"),
                        ("influence", "FIA"), ("retrained", "retrained")],
        f"FIA item-based: your {len(ex.item_based)} most influential ratings",
        "Lessons 14-15. FIA = first-order estimate of the prediction minus the prediction without that rating "
        f"(positive: it pushed the prediction up); {local_note}")
    user_based = _table(
        ex.user_based, [("user_id", "user"), ("rating", "their rating"), ("influence", "FIA"),
                        ("retrained", "retrained")],
        f"FIA user-based: {len(ex.user_based)} most influential of the movie's {ex.n_item_ratings} ratings",
        "Other users' ratings of this movie, the same two measures.")
    genres = f" <span style='color:#555'>({escape_html(ex.genres)})</span>" if ex.genres else ""
    done = not pd.concat([ex.item_based["retrained"], ex.user_based["retrained"]]).isna().any()
    state = ("mfteach-app-rescored" if done else "mfteach-app-rescoring")
    pending = "" if done else " <i>Neighbourhood retraining of the FIA rows is running ...</i>"
    return (f"<div class='mfteach-app-explanation-body {state}' style='border-left:4px solid {plots.PALETTE['blue']}; "
            f"padding-left:8px'><p style='margin:2px 0 8px 0'>Explaining <b>{escape_html(ex.title)}</b>{genres} "
            f"for user {escape_html(ex.user_id)}: predicted {ex.prediction:.2f}. Bars: blue to the right pushes the prediction up, "
            f"orange to the left pulls it down.{pending}</p>"
            f"<div style='display:flex; flex-wrap:wrap'>{fatrec}{item_based}{user_based}</div></div>")


# ---------------------------------------------------------------------------- the widget
class ExplanationApp(widgets.VBox):
    """The app's box; its text repr is short and deterministic."""

    def __repr__(self) -> str:
        dataset = getattr(self, "dataset", None)
        user = getattr(self, "user", None)
        return (f"ExplanationApp(dataset={dataset.value if dataset else None!r}, "
                f"user={user.value if user else None!r})")


def _progress_factory(holder: widgets.Box):
    """A ``fit_model`` progress factory: a tqdm notebook bar (``tqdm.auto``'s choice in a
    notebook) that is not displayed by itself but placed in ``holder``."""

    def make(**options):
        from tqdm.notebook import tqdm

        bar = tqdm(display=False, **options)
        holder.children = (bar.container,)
        return bar

    return make


def explanation_explorer(datasets=None, home=None, user: int | None = None, n_recommendations: int = 10,
                    n_top: int = 5, background: bool = True) -> ExplanationApp:
    """Build the explanation explorer app (call it as a cell's last expression).

    Parameters
    ----------
    datasets : list of str, optional
        Dataset keys of ``mfteach.app.DATASETS`` offered (default ``available_datasets(home)``).
    home : data home (default ``$MFTEACH_DATA`` or ``~/.cache/mfteach``).
    user : int, optional
        Row index of the user shown first (default: the first user).
    n_recommendations, n_top : recommendations listed; rows per explanation table.
    background : fit a model that is not cached, and re-score the FIA rows after an interaction,
        in threads, so that the page shows at once with the progress bar and every control
        answers at once; a cached model, and its first explanation's re-scoring, are loaded before
        the builder returns either way. False does everything before returning from the builder
        or the callback (tests).

    Returns an ``ExplanationApp`` with the controls ``dataset``, ``user``, ``find`` (type-ahead),
    ``recommendations`` (a Select), ``removed`` (the rating to retrain without), ``verify`` (the
    button), the outputs ``status``, ``sentence``, ``out``, ``result``, and the state ``app``
    (the ``AppModel``), ``explanation``, ``verification``, ``timings`` (list of (interaction,
    seconds)), ``ready`` (a ``threading.Event`` set once the model is fitted and shown) and
    ``rescored`` (set once the shown explanation's neighbourhood column is filled in).

    An interaction answers with FATREC, FIA and the sentence at once (milliseconds); the
    "retrained" column of the FIA tables is then filled in by neighbourhood retraining in a
    background thread (``background``; in the caller's thread otherwise), abandoned when the user
    picks something else first. The first explanation after a load in the builder's thread (a
    cached model, or ``background=False``) is drawn once, complete.
    """
    offered = list(compute.available_datasets(home) if datasets is None else datasets)
    for key in offered:
        if key not in compute.DATASETS:
            raise ValueError(f"unknown dataset {key!r}; the app offers {sorted(compute.DATASETS)}")
    if not offered:
        raise ValueError("no dataset to offer")
    style = {"description_width": "70px"}
    title = widgets.HTML(
        "<h2 style='margin:4px 0'>Why this recommendation?</h2><p style='margin:0 0 6px 0'>Pick a user and one "
        "of their top recommendations: the app explains it with every method of the course, side by side, all "
        "from <b>one</b> model (biased ALS, k = 16, &lambda; = 12, the validation-tuned setting of lesson 15, "
        "fitted to convergence). FATREC's influence and impact work with this biased model directly, so no "
        "companion model is needed.</p>")
    dataset = widgets.Dropdown(options=[(compute.DATASETS[k], k) for k in offered], value=offered[0],
                               description="dataset", style=style, layout=widgets.Layout(width="320px"))
    user_picker = widgets.Dropdown(options=[], description="user", style=style, layout=widgets.Layout(width="320px"))
    find = type_ahead(user_picker, placeholder="type a user, then Enter", width="240px")
    progress = widgets.Box()
    status = widgets.HTML()
    recs = widgets.Select(options=[], rows=n_recommendations, description="top 10",
                          style=style, layout=widgets.Layout(width="620px"))
    sentence = widgets.HTML()
    out = widgets.Output()
    removed = widgets.Dropdown(options=[], description="remove", style=style, layout=widgets.Layout(width="520px"))
    verify_button = widgets.Button(description="Retrain the whole model without it", icon="refresh",
                                   tooltip="leave-one-out: retrains biased ALS without the chosen rating (warm-started) "
                                           "and compares the change with FIA and neighbourhood retraining",
                                   layout=widgets.Layout(width="auto"))
    result = widgets.HTML()
    for widget, name in ((dataset, "dataset"), (user_picker, "user"), (find, "find"), (progress, "progress"),
                         (status, "status"), (recs, "recommendations"), (sentence, "sentence"), (out, "explanation"),
                         (removed, "removed"), (verify_button, "verify"), (result, "result")):
        widget.add_class(f"mfteach-app-{name}")
    box = ExplanationApp([
        title, widgets.HBox([dataset, user_picker, find]), progress, status,
        widgets.HBox([recs, sentence]), out, widgets.HBox([removed, verify_button]), result])
    box.dataset, box.user, box.find, box.recommendations, box.removed, box.verify = (
        dataset, user_picker, find, recs, removed, verify_button)
    box.status, box.sentence, box.out, box.result, box.progress = status, sentence, out, result, progress
    box.app, box.explanation, box.verification, box.timings = None, None, None, []
    box.ready, box.rescored = threading.Event(), threading.Event()
    controls = (dataset, user_picker, find, recs, removed, verify_button)
    quiet = [False]  # True while the code itself refills a control's options

    def timed(name: str, seconds: float) -> None:
        box.timings.append((name, seconds))
        status.value = (f"<span style='font-size:88%'>{escape_html(box.app.describe())} "
                        f"<span class='mfteach-app-timing'>Last update ({escape_html(name)}): "
                        f"{seconds:.2f} s.</span></span>")

    generation = [0]  # bumped by every new explanation: a stale rescoring thread stops

    def draw(ex: compute.Explanation) -> None:
        sentence.value = (f"<div class='mfteach-app-sentence-text' style='max-width:560px; padding:4px 8px; "
                          f"border-left:4px solid {plots.PALETTE['green']}'>{escape_html(ex.sentence)}</div>")
        show_outputs(out, HTML(render_app_explanation(ex)))

    def rescore(ex: compute.Explanation, mine: int) -> None:
        try:
            start = time.perf_counter()
            done = compute.rescored(box.app, ex, stop=lambda: generation[0] != mine)
            if done is not None and generation[0] == mine:
                box.explanation = done
                draw(done)
                box.timings.append(("neighbourhood retraining", time.perf_counter() - start))
        except Exception as error:  # shown, as guarded would
            draw(ex)
            show_error(out, error)
        finally:
            if generation[0] == mine:
                box.rescored.set()

    def show_item(in_thread: bool = background) -> None:
        ex = compute.explain_recommendation(box.app, user_picker.value, recs.value, n_top=n_top, rescore=False)
        generation[0] += 1
        box.rescored.clear()
        box.explanation, box.verification = ex, None
        if in_thread:
            draw(ex)
            threading.Thread(target=rescore, args=(ex, generation[0]), daemon=True).start()
        else:
            rescore(ex, generation[0])
        rows = pd.concat([ex.item_based, ex.user_based], ignore_index=True)
        order = np.argsort(-np.abs(rows["influence"].to_numpy()), kind="stable")
        options = []
        for row in rows.iloc[order].itertuples():
            who = "your" if row.side == "item-based" else f"user {row.user_id}'s"
            options.append((f"{who} rating of {row.title} ({row.rating:g}; FIA {row.influence:+.3f})",
                            (int(row.user), int(row.item))))
        quiet[0] = True
        try:
            removed.options = options
            removed.value = options[0][1] if options else None
        finally:
            quiet[0] = False
        result.value = ""

    def show_user(in_thread: bool = background) -> None:
        top = compute.recommendations(box.app, user_picker.value, n=n_recommendations)
        options = [(f"{rank}. {t} ({g}) {s:.2f}" if g else f"{rank}. {t} {s:.2f}", int(i))
                   for rank, (i, t, g, s) in enumerate(zip(top["item"], top["title"], top["genres"], top["score"]), 1)]
        quiet[0] = True
        try:
            recs.options = options
            recs.value = options[0][1]
        finally:
            quiet[0] = False
        show_item(in_thread)

    def load(key: str, first_user: int | None, in_thread: bool) -> None:
        start = time.perf_counter()
        with guarded(out, *controls):
            status.value = "<i>loading the data and fitting the model (once per dataset) ...</i>"
            box.app = compute.fitted_model(key, home, progress=_progress_factory(progress))
            options = compute.user_options(box.app)
            rows = [value for _, value in options]
            quiet[0] = True
            try:
                user_picker.options = options
                user_picker.value = rows[0] if first_user is None else first_user
            finally:
                quiet[0] = False
            show_user(in_thread)
            timed(f"load {key}", time.perf_counter() - start)

    def run_load(key: str, first_user: int | None, in_thread: bool) -> None:
        box.ready.clear()
        try:
            load(key, first_user, in_thread)
        except BaseException as error:  # noqa: BLE001 - a thread has nobody to report to
            show_error(out, error)
        finally:
            box.ready.set()

    def start(key: str, first_user: int | None) -> None:
        """Load ``key``: in a thread behind the progress bar when the model must be fitted; at once,
        with the first explanation complete, when it is cached. Voila's page asks the kernel for
        every widget's state after the cell has run, and an update sent from a thread while the page
        is connecting can be lost (the page then keeps the stale value until the next update): so
        a cached model leaves no thread running when the builder returns."""
        if background and compute.fitted_model(key, home, fit=False) is None:
            threading.Thread(target=run_load, args=(key, first_user, True), daemon=True).start()
        else:
            run_load(key, first_user, False)

    def on_dataset(change) -> None:
        if not quiet[0]:
            start(change["new"], None)

    def on_user(change) -> None:
        if quiet[0] or change["new"] is None or box.app is None:
            return
        start = time.perf_counter()
        with guarded(out, *controls):
            show_user()
            timed("user", time.perf_counter() - start)

    def on_item(change) -> None:
        if quiet[0] or change["new"] is None or box.app is None:
            return
        start = time.perf_counter()
        with guarded(out, *controls):
            show_item()
            timed("recommendation", time.perf_counter() - start)

    def on_verify(_button=None) -> None:
        if box.explanation is None:
            return
        start = time.perf_counter()
        result.value = "<i>retraining the whole model without that rating ...</i>"
        with guarded(out, *controls, busy={verify_button: "retraining ..."}) as guard:
            check = compute.verify(box.app, box.explanation, removed.value)
            box.verification = check
            result.value = (f"<div class='mfteach-app-result-text' style='font-size:92%; max-width:1100px'>"
                            f"{escape_html(check.text())}</div>")
            timed("full retrain", time.perf_counter() - start)
        if guard.error is not None:
            result.value = ""

    dataset.observe(on_dataset, names="value")
    user_picker.observe(on_user, names="value")
    recs.observe(on_item, names="value")
    verify_button.on_click(on_verify)
    if user is not None and not isinstance(user, (int, np.integer)):
        raise TypeError(f"user must be a row index (int), got {type(user).__name__}")
    start(offered[0], user)
    return box
