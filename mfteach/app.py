r"""The explanation explorer app (``apps/explain_recommendations.ipynb``, served by Voila): its
pure compute. The layout is ``mfteach.widgets.explanation_app`` (ARCHITECTURE.md, "Where to add",
an app); nothing here imports ipywidgets.

For a user u and one of their top-10 recommendations i, the app puts every explanation of the
package side by side, all from ONE model (biased ALS, k = 16, lambda = 12: the validation-tuned
setting of lesson 15 and ``benchmarks/bench_fia.py``, fitted to a relative objective decrease of
``TOL`` so that FIA's stationarity assumption holds):

* FATREC impact and influence (Rastegarpanah, Crovella, Gummadi, FATREC 2017; lessons 12-13;
  ``mt.explain.influence``). With the item factors fixed, the user half-step is linear in
  the user's ratings, r_hat_ui = mu + c_i + sum_k J[i, k] (r_uk - mu - c_k) with
  J = F (F_Omega^T F_Omega + lambda I)^{-1} F_Omega^T, F = [V, 1] (eq. 2 of the paper, biased):
  influence beta_k = J[i, k], impact gamma_k = beta_k (r_uk - mu - c_k). ``influence`` accepts
  biased ALS models, so no companion model is needed.
* FIA (Cheng, Shen, Huang, Zhu, KDD 2019; lessons 14-15; ``mt.explain.fia``): the
  first-order INFL(z) = y_hat - y_hat without z (eq. 18) of the user's own ratings
  (item-based) and of the item's ratings by other users (user-based).
* Neighbourhood retraining (``mfteach.explain.local_retrain`` with ``LOCAL_OPTIONS``: one
  hop, capped rings, 3 sweeps with Aitken extrapolation): each top FIA rating removed and the
  users and items within one hop re-solved exactly, warm-started (``rescored``).
* The full warm-started leave-one-out retrain (``mfteach.explain.loo_influence``), on demand.

``fitted_model`` fits once per dataset and data home (cached in this process, and its arrays in
``~/.cache/mfteach/app-models`` for the next kernel);
``recommendations`` and ``explain_recommendation(..., rescore=False)`` answer an interaction in a
few milliseconds on MovieLens 100K; ``rescored`` then adds the neighbourhood column (tens of
milliseconds per rating); ``verify`` runs the full retrain (seconds).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .als import ALS
from .base import check_fitted, check_index, check_positive_int, remember_training
from .data import ARCHIVES, data_home, load_movielens
from .ratings import Ratings

__all__ = ["DATASETS", "RANK", "REG", "TOL", "N_ITERS", "RETRAIN_TOL", "LOCAL_OPTIONS", "available_datasets", "fit_model",
           "AppModel", "fitted_model", "default_cache_dir", "clear_cache", "user_options", "recommendations", "Explanation",
           "explain_recommendation", "rescored", "Verification", "verify"]

DATASETS = {"100k": "MovieLens 100K", "latest-small": "MovieLens latest-small"}
RANK, REG = 16, 12.0          # lesson 15 / benchmarks/bench_fia.py: chosen by validation RMSE
TOL, N_ITERS = 1e-9, 4000     # relative objective decrease at which the fit stops; iteration cap
RETRAIN_TOL = 1e-8            # the full retrain's stopping rule (warm-started: about a second on ML-100K)
CHUNK = 10                    # iterations between two updates of the progress bar
# Neighbourhood retraining of each top rating: one hop, 3 sweeps with Aitken extrapolation (issue 19's
# experiment on lesson 15's 100 test points: Pearson R 0.996 against the full retrain, about 8 ms median),
# the rings capped (200 users, 400 movies; local_retrain keeps the members with the most ratings) so that
# the recommendations' popular movies and heavy users stay at tens of milliseconds per rating.
LOCAL_OPTIONS = {"hops": 1, "max_sweeps": 3, "aitken": True, "max_users": 200, "max_items": 400}

_CACHE: dict[tuple[str, str], "AppModel"] = {}
_RATINGS: dict[tuple[str, str], Ratings] = {}  # loaded once per process, fitted or not


def available_datasets(home: str | Path | None = None) -> list[str]:
    """The datasets the app offers: ``"100k"`` always (``load_movielens`` downloads it when it is
    missing), ``"latest-small"`` only when its folder is already in the data home (``data_home``:
    the argument, ``$MFTEACH_DATA`` or ``~/.cache/mfteach``); the app never downloads it."""
    folder = data_home(home) / ARCHIVES["latest-small"].folder
    present = all((folder / name).is_file() for name in ARCHIVES["latest-small"].required)
    return ["100k", "latest-small"] if present else ["100k"]


def _gradient_norm(model: ALS, ratings: Ratings) -> float:
    from .explain import relative_gradient_norm

    return float(relative_gradient_norm(model, ratings))


def fit_model(ratings: Ratings, progress=False, seed: int = 0) -> tuple[ALS, int]:
    """Biased ALS (k = ``RANK``, lambda = ``REG``) fitted on ``ratings`` until an iteration lowers the
    objective by at most ``TOL`` times its value (``ALS(tol=TOL)``), at most ``N_ITERS`` iterations.

    The fit runs in chunks of ``CHUNK`` iterations, each warm-started from the last (``fit(init=)``
    keeps U, V, the biases and mu; every iteration starts with the item half-step, which reads only
    U and the user biases), so the result is the one of a single ``fit``, bit for bit (``history_``
    too: the chunks' records are joined, epochs and seconds counted from the start), while a
    progress bar shows the iterations: ``progress=True`` makes a ``tqdm.auto`` bar (a widget in a
    notebook); a callable is called as ``progress(total=..., desc=..., unit=...)`` and must return a
    tqdm-like bar (``update``, ``reset``, ``close``), e.g. a ``tqdm.notebook.tqdm`` with
    ``display=False`` that a layout places itself. When the fit converges the bar's total is set to
    the iterations run (``reset``), so it ends full. Returns the model and the number of iterations run.
    """
    model = ALS(rank=RANK, reg=REG, biased=True, n_iters=CHUNK, tol=TOL, seed=seed)
    bar = None
    if progress:
        if callable(progress):
            make = progress
        else:
            from tqdm.auto import tqdm as make
        bar = make(total=N_ITERS, desc=f"fitting biased ALS (k={RANK}, lambda={REG:g})", unit="iter")
    done, previous, histories = 0, None, []
    try:
        while done < N_ITERS:
            model.n_iters = min(CHUNK, N_ITERS - done)
            model.fit(ratings, init=previous)
            run = len(model.history_) - 1
            part = model.history_.iloc[0 if not histories else 1:].copy()
            part["epoch"] += done
            part["seconds"] += histories[-1]["seconds"].iloc[-1] if histories else 0.0
            histories.append(part)
            done += run
            if bar is not None:
                bar.update(run)
            if run < model.n_iters:          # stopped by tol inside the chunk
                break
            loss = model.history_["loss"].to_numpy()
            if TOL > 0 and loss[-2] - loss[-1] <= TOL * loss[-2]:  # ALS's rule, on the chunk's last iteration
                break
            previous = model
    finally:
        if bar is not None:                  # converged: the bar ends full, at the iterations run
            started = getattr(bar, "start_t", None)
            bar.reset(total=max(done, 1))
            if started is not None:          # keep the elapsed time and the rate of the whole fit
                bar.start_t = started
            bar.update(done)
            bar.close()
    model.n_iters = N_ITERS                  # the hyperparameters of an equivalent single fit
    model.history_ = pd.concat(histories, ignore_index=True)  # every iteration, as one fit records them
    return model, done


@dataclass(eq=False)
class AppModel:
    """A dataset and the app's model fitted on it (``fitted_model``)."""

    dataset: str             # "100k" or "latest-small"
    ratings: Ratings         # the training ratings: every rating of the dataset
    model: ALS
    iterations: int          # ALS iterations to convergence
    seconds: float           # loading and fitting time
    gradient_norm: float     # relative_gradient_norm at the fitted point (FIA warns above 0.1)
    from_file: bool = False  # read back from fitted_model's cache_dir instead of fitted

    def describe(self) -> str:
        """One line on the data and the model, for the app's header."""
        m, n = self.ratings.shape
        return (f"{DATASETS[self.dataset]}: {len(self.ratings):,} ratings of {m:,} users on {n:,} movies. "
                f"Model: biased ALS, k = {RANK}, lambda = {REG:g}, fitted to a relative objective decrease "
                f"<= {TOL:g} ({self.iterations} iterations{'' if self.from_file else f', {self.seconds:.1f} s'}; "
                f"relative gradient norm {self.gradient_norm:.1e})"
                + (f", read from the model cache in {self.seconds:.1f} s." if self.from_file else "."))


def default_cache_dir() -> Path:
    """Where ``fitted_model`` keeps fitted factors between sessions: ``~/.cache/mfteach/app-models``."""
    return Path.home() / ".cache" / "mfteach" / "app-models"


def _cache_file(folder: Path, dataset: str, ratings: Ratings) -> Path:
    """One file per dataset, training ratings (fingerprint) and fitting rule."""
    fp = ratings.fingerprint
    return folder / (f"{dataset}-biased-als-k{RANK}-reg{REG:g}-tol{TOL:g}-max{N_ITERS}-seed0-"
                     f"{fp.omega[:12]}{fp.values[:12]}.npz")


def _save(path: Path, model: ALS, iterations: int, gradient_norm: float) -> None:
    """Write the fitted arrays atomically (a temporary file, then a rename); never fails the app."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(f".{os.getpid()}.tmp.npz")
        history = model.history_
        np.savez(part, U=model.U_, V=model.V_, mu=model.mu_, user_bias=model.user_bias_, item_bias=model.item_bias_,
                 iterations=iterations, gradient_norm=gradient_norm,
                 **{f"history_{c}": history[c].to_numpy() for c in history.columns})
        os.replace(part, path)
    except OSError:
        pass


def _load(path: Path, ratings: Ratings) -> tuple[ALS, int, float] | None:
    """The model saved by ``_save`` for ``ratings`` (its exact arrays), or None when the file is
    missing or unusable."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
    except (OSError, ValueError, KeyError):
        return None
    m, n = ratings.shape
    if arrays.get("U", np.zeros(0)).shape != (m, RANK) or arrays.get("V", np.zeros(0)).shape != (n, RANK):
        return None
    model = ALS(rank=RANK, reg=REG, biased=True, n_iters=N_ITERS, tol=TOL, seed=0)
    model.U_, model.V_ = arrays["U"], arrays["V"]
    model.mu_, model.user_bias_, model.item_bias_ = float(arrays["mu"]), arrays["user_bias"], arrays["item_bias"]
    model.history_ = pd.DataFrame({k[len("history_"):]: v for k, v in arrays.items() if k.startswith("history_")})
    remember_training(model, ratings)
    return model, int(arrays["iterations"]), float(arrays["gradient_norm"])


def fitted_model(dataset: str = "100k", home: str | Path | None = None, progress=False,
                 cache_dir: str | Path | None | bool = None, fit: bool = True) -> AppModel | None:
    """The app's model for ``dataset``: loaded and fitted on the first call (``fit_model``, which
    takes ``progress``), then returned from a cache kept per (dataset, data home) for the life of
    the process.

    Between processes (Voila starts a kernel per page) the fitted arrays are kept in
    ``cache_dir`` (default ``default_cache_dir()``; False: no files), one ``.npz`` per dataset,
    training ratings (their fingerprint) and fitting rule: a later kernel reads them back, bit
    for bit, instead of fitting again (``seconds`` is then the loading time).

    ``fit=False`` returns None instead of fitting when neither cache has the model (the app's
    layout then fits in a thread behind a progress bar, and loads a cached model at once).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; the app offers {sorted(DATASETS)}")
    key = (dataset, str(data_home(home).resolve()))
    if key not in _CACHE:
        if dataset not in available_datasets(home):
            raise ValueError(f"MovieLens {dataset} is not in the data home {data_home(home)}; put the extracted "
                             f"folder there or run: python -m mfteach.data download {dataset}")
        start = time.perf_counter()
        if key not in _RATINGS:
            _RATINGS[key] = load_movielens(dataset, data_home=home, progress=progress is True)
        ratings = _RATINGS[key]
        folder = None if cache_dir is False else Path(default_cache_dir() if cache_dir in (None, True) else cache_dir)
        path = None if folder is None else _cache_file(folder, dataset, ratings)
        saved = None if path is None else _load(path, ratings)
        if saved is None and not fit:
            return None
        if saved is None:
            model, iterations = fit_model(ratings, progress=progress)
            gradient_norm = _gradient_norm(model, ratings)
            if path is not None:
                _save(path, model, iterations, gradient_norm)
        else:
            model, iterations, gradient_norm = saved
        _CACHE[key] = AppModel(dataset, ratings, model, iterations, time.perf_counter() - start, gradient_norm,
                               saved is not None)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every fitted model and loaded dataset (the next ``fitted_model`` loads and fits again)."""
    _CACHE.clear()
    _RATINGS.clear()


def user_options(app: AppModel) -> list[tuple[str, int]]:
    """(label, row index) of every user with a rating, e.g. ("user 1 (272 ratings)", 0): the
    label carries the dataset's own user id."""
    counts = np.bincount(app.ratings.rows, minlength=app.ratings.shape[0])
    rows = np.flatnonzero(counts)
    return [(f"user {uid} ({c} ratings)", int(r)) for r, uid, c in zip(rows, app.ratings.users[rows], counts[rows])]


def _genres(ratings: Ratings, items) -> list[str]:
    genres = ratings.item_genres  # a fresh copy of every list at each access: read it once
    if genres is None:
        return [""] * len(items)
    return [", ".join(genres[i]) for i in items]


def recommendations(app: AppModel, user: int, n: int = 10) -> pd.DataFrame:
    """The user's ``n`` highest-predicted movies they have not rated (``model.recommend``), with
    their genres: columns item, title, genres, score."""
    top = app.model.recommend(user, n=n)
    top.insert(2, "genres", _genres(app.ratings, top["item"].to_numpy()))
    return top


@dataclass(frozen=True, eq=False)
class Explanation:
    """Every explanation of the prediction for (``user``, ``item``), computed by ``explain_recommendation``."""

    user: int                # row index
    item: int                # column index
    user_id: object          # the dataset's own user id (MovieLens userId)
    title: str
    genres: str
    prediction: float        # y_hat(u, i) (not clipped to the rating scale)
    impact: pd.DataFrame     # FATREC: the user's n_top ratings of largest |influence| (item, title, genres, rating, influence, impact)
    baseline: float          # mu + c_i: baseline + every impact = prediction
    n_rated: int             # |Omega_u|
    item_based: pd.DataFrame  # FIA: the user's n_top most influential ratings, + "retrained" (neighbourhood retraining)
    user_based: pd.DataFrame  # FIA: the item's n_top most influential ratings by other users, + "retrained"
    n_item_ratings: int      # |Omega^i|
    frame: pd.DataFrame      # fia's whole frame
    local_options: dict      # the local_retrain options of the "retrained" column
    sentence: str
    seconds: dict = field(default_factory=dict)  # time per part: influence, fia, local_retrain


def _stars(rating: float) -> str:
    return f"{rating:g} star" + ("" if rating == 1 else "s")


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def sentence(title: str, genres: str, prediction: float, item_based: pd.DataFrame, user_based: pd.DataFrame,
             scale: tuple[float, float], n_named: int = 3) -> str:
    """The recommendation in words: the predicted rating (clipped to the rating ``scale``, the
    model's score beside it when off the scale), the user's own ratings that pushed it up most
    (by the "retrained" column where it is known, else FIA's influence), and the other user whose
    rating of the movie pushed it up most."""
    lo, hi = scale
    shown = (f"{prediction:.2f}" if lo <= prediction <= hi else
             f"{min(max(prediction, lo), hi):g} (the model's score is {prediction:.2f})")

    def effect(frame: pd.DataFrame) -> pd.Series:
        col = frame["retrained"] if "retrained" in frame else frame["influence"]
        return col.where(col.notna(), frame["influence"])

    what = f"{title} ({genres})" if genres else title
    text = f"We recommend {what}: we predict you would rate it {shown}"
    ups = item_based.assign(effect=effect(item_based)).query("effect > 0").sort_values("effect", ascending=False)
    if len(ups):
        named = [f"{row.title} {_stars(row.rating)} ({row.effect:+.3f})" for row in ups.head(n_named).itertuples()]
        text += f", mostly because you rated {_listing(named)}."
    else:
        text += "; none of your own ratings pushed it up, it comes from the movie's other ratings and biases."
    others = user_based.assign(effect=effect(user_based)).query("effect > 0")
    if len(others):
        top = others.sort_values("effect", ascending=False).iloc[0]
        text += (f" Among the movie's ratings by other users, user {top['user_id']}'s {_stars(top['rating'])} "
                 f"pushed it up most ({top['effect']:+.3f}).")
    return text


def _local_change(app: AppModel, user: int, item: int, removed: tuple[int, int], options: dict) -> float:
    """Neighbourhood-retrained INFL of the rating ``removed``: ``mfteach.explain.local_retrain``
    (looked up at call time, so that a test can stand in for it)."""
    from . import explain

    return float(explain.local_retrain(app.model, app.ratings, user, item, removed, **options))


def explain_recommendation(app: AppModel, user: int, item: int, n_top: int = 5, local_options: dict | None = None,
                           rescore: bool = True) -> Explanation:
    """Every explanation of the prediction for (``user``, ``item``) side by side (module docstring).

    FATREC (``influence``): the user's ``n_top`` ratings with the largest |influence|, their
    impact, and the baseline mu + c_i (baseline + all impacts = prediction). FIA (``fia``): the
    ``n_top`` most influential ratings of each side. With ``rescore`` each of them is re-scored by
    neighbourhood retraining (``rescored``); without, the column ``retrained`` is NaN ("not yet
    computed": the app shows the first-order tables at once and fills the column in afterwards).
    Pure: no widgets; ``seconds`` holds each part's time (neighbourhood retraining is most of it).
    """
    from .explain import fia, influence

    check_fitted(app.model)
    n_top = check_positive_int("n_top", n_top)
    m, n = app.ratings.shape
    user, item = check_index("user", user, m, "row"), check_index("item", item, n, "column")
    options = dict(LOCAL_OPTIONS if local_options is None else local_options)
    seconds = {}
    t0 = time.perf_counter()
    fatrec = influence(app.model, app.ratings, user, item)
    fatrec.insert(2, "genres", _genres(app.ratings, fatrec["item"].to_numpy()))
    seconds["influence"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = fia(app.model, app.ratings, user, item)
    seconds["fia"] = time.perf_counter() - t0
    sides = {}
    for side in ("item-based", "user-based"):
        top = frame[frame["side"] == side].head(n_top).reset_index(drop=True)
        top.insert(1, "user_id", app.ratings.users[top["user"].to_numpy()])
        top["retrained"] = np.nan
        sides[side] = top
    title = str(app.ratings.item_labels([item])[0])
    genres = _genres(app.ratings, [item])[0]
    prediction = float(frame.attrs["prediction"])
    ex = Explanation(
        user=user, item=item, user_id=app.ratings.users[user].item(), title=title, genres=genres, prediction=prediction,
        impact=fatrec.head(n_top).reset_index(drop=True), baseline=float(fatrec.attrs["baseline"]),
        n_rated=len(fatrec), item_based=sides["item-based"], user_based=sides["user-based"],
        n_item_ratings=int((frame["side"] == "user-based").sum()), frame=frame, local_options=options,
        sentence=sentence(title, genres, prediction, sides["item-based"], sides["user-based"], _scale(app)),
        seconds=seconds)
    return rescored(app, ex) if rescore else ex


def _scale(app: AppModel) -> tuple[float, float]:
    return float(app.ratings.values.min()), float(app.ratings.values.max())


def rescored(app: AppModel, explanation: Explanation, stop=None) -> Explanation | None:
    """``explanation`` with its FIA rows re-scored by neighbourhood retraining: column ``retrained``
    = ``mfteach.explain.local_retrain(model, ratings, user, item, (user', item'),
    **explanation.local_options)`` for each row (y_hat - y_hat without that rating, re-solved for
    the users and movies within ``hops`` of it and of the prediction), and the sentence redone with
    these near-exact values. ``stop``: a callable checked before each row; when it returns True
    the work is abandoned and None returned (the app's user has moved on)."""
    ex = explanation
    t0 = time.perf_counter()
    sides = []
    for rows in (ex.item_based, ex.user_based):
        rows = rows.copy()
        values = []
        for u, j in zip(rows["user"].to_numpy(), rows["item"].to_numpy()):
            if stop is not None and stop():
                return None
            values.append(_local_change(app, ex.user, ex.item, (int(u), int(j)), ex.local_options))
        rows["retrained"] = np.array(values, dtype=float)
        sides.append(rows)
    seconds = {**ex.seconds, "local_retrain": time.perf_counter() - t0}
    return replace(ex, item_based=sides[0], user_based=sides[1], seconds=seconds,
                   sentence=sentence(ex.title, ex.genres, ex.prediction, sides[0], sides[1], _scale(app)))


@dataclass(frozen=True)
class Verification:
    """One rating's influence three ways: FIA, neighbourhood retraining, the full retrain."""

    user: int
    item: int
    removed: tuple[int, int]  # (user, item) indices of the rating taken out
    side: str
    who: str                  # "your" or "user 13's"
    title: str                # the removed rating's movie
    rating: float
    fia: float                # first-order estimate
    local: float              # neighbourhood retraining (NaN when the row was not re-scored)
    retrained: float          # the full warm-started retrain (loo_influence)
    seconds: float
    tol: float = RETRAIN_TOL  # the retrain's stopping rule (relative objective decrease)

    def text(self) -> str:
        """The three numbers in words, naming the rating removed."""
        local = "" if np.isnan(self.local) else f", neighbourhood retraining {self.local:+.4f}"
        return (f"Removed {self.who} rating of {self.title} ({_stars(self.rating)}) and retrained the whole model "
                f"(warm-started, to a relative objective decrease <= {self.tol:g}, {self.seconds:.1f} s): the "
                f"prediction moves by {-self.retrained:+.4f}. "
                f"INFL = y_hat - y_hat without it: full retrain {self.retrained:+.4f}, FIA {self.fia:+.4f}{local}.")


def verify(app: AppModel, explanation: Explanation, removed: tuple[int, int] | None = None,
           tol: float = RETRAIN_TOL, n_iters: int = 1000) -> Verification:
    """Retrain the whole model without one rating of the explanation (``loo_influence``,
    warm-started, to a relative objective decrease <= ``tol``, minus the drift of a retrain with
    nothing removed) and put the observed change beside FIA's and the neighbourhood's.

    ``removed``: (user, item) indices of a rating in one of the two FIA tables; default the one
    with the largest |FIA influence| of both. A pair outside the tables raises a ValueError.
    """
    from .explain import loo_influence

    shown = pd.concat([explanation.item_based, explanation.user_based], ignore_index=True)
    if removed is None:
        row = shown.iloc[int(np.argmax(np.abs(shown["influence"].to_numpy())))]
    else:
        hit = shown[(shown["user"] == removed[0]) & (shown["item"] == removed[1])]
        if len(hit) == 0:
            raise ValueError(f"removed={removed!r} is not a rating in the explanation's tables")
        row = hit.iloc[0]
    pair = (int(row["user"]), int(row["item"]))
    t0 = time.perf_counter()
    observed = loo_influence(app.model, app.ratings, explanation.user, explanation.item, pair, n_iters=n_iters, tol=tol)
    who = "your" if row["side"] == "item-based" else f"user {row['user_id']}'s"
    return Verification(explanation.user, explanation.item, pair, str(row["side"]), who, str(row["title"]),
                        float(row["rating"]), float(row["influence"]), float(row["retrained"]), float(observed),
                        time.perf_counter() - t0, float(tol))
