r"""Cached results of the lessons' slow sweeps, so that every lesson runs in under 20 s on one core
(issue 20).

Two computations take most of a lesson's time and do not change between runs (fixed seeds, same
seed same bits):

* ``lambda_sweep`` (lesson 15, section 4): FIA, exact local and the basic approach against
  leave-one-out retraining (``fia_vs_loo``, the protocol of KDD 2019 Figure 2) at four penalties
  lambda, each model refitted to convergence (about 25 s on one core; the refit at lambda = 0.5
  alone takes over a thousand ALS sweeps);
* ``ncf_validation`` (lesson 17, section 3): FIA-NCF against warm-started, drift-corrected
  leave-one-out retraining of an NCF (``validate_fia_ncf``) on 60 targets (about 13 s).

Each function computes its result with ``cached=False`` and, by default, returns the copy stored in
``mfteach/explain/precomputed_data/`` (package data; numbers derived from MovieLens, no ratings),
which the same function wrote with the same settings (``python -m mfteach.explain.precomputed``
rewrites every file). Before returning a copy, the function checks that it was computed from the
caller's data (``Ratings.fingerprint`` of the training and test ratings), with the caller's
settings, and, for the NCF, that the caller's model gives the stored FIA-NCF estimate of the first
target (a model fitted differently fails this); any mismatch is a ValueError that says to pass
``cached=False``. ``tests/test_explain_precomputed.py`` recomputes a slice of each file and compares,
so a change in the code that produced it cannot leave a stale copy behind.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..ratings import Ratings

__all__ = ["lambda_sweep", "ncf_validation", "load", "DATA_DIR"]

DATA_DIR = Path(__file__).with_name("precomputed_data")

LAMBDA_SWEEP = "lesson15_lambda_sweep"
NCF_VALIDATION = "lesson17_ncf_validation"


# ============================================================================ files
def _fingerprint(ratings: Ratings) -> dict:
    fp = ratings.fingerprint
    return {"shape": list(fp.shape), "count": int(fp.count), "omega": fp.omega, "values": fp.values}


def _save(name: str, frame: pd.DataFrame, inputs: dict, settings: dict, seconds: float) -> Path:
    from .. import __version__

    path = DATA_DIR / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    content = {"name": name, "mfteach": __version__, "seconds": round(seconds, 1), "inputs": inputs,
               "settings": settings, "columns": list(frame.columns),
               "data": {c: frame[c].tolist() for c in frame.columns}}
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in content.items()]   # a line per key
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def load(name: str) -> tuple[pd.DataFrame, dict]:
    """The stored frame of ``name`` and its metadata (inputs' fingerprints, settings, seconds it took).

    No check against the caller's data: ``lambda_sweep`` and ``ncf_validation`` do that.
    """
    path = DATA_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no cached result named {name!r} in {DATA_DIR} (known: "
                         f"{sorted(p.stem for p in DATA_DIR.glob('*.json'))}); pass cached=False to compute it")
    content = json.loads(path.read_text(encoding="utf-8"))
    frame = pd.DataFrame({c: content["data"][c] for c in content["columns"]})
    frame.attrs.update(cached=str(path), seconds=content["seconds"])
    return frame, content


def _check_inputs(name: str, content: dict, **ratings: Ratings) -> None:
    for key, given in ratings.items():
        if _fingerprint(given) != content["inputs"][key]:
            raise ValueError(f"the cached {name!r} was computed from other {key} ratings than these "
                             f"({given}); pass cached=False to compute it for them")


def _check_settings(name: str, content: dict, settings: dict) -> None:
    stored = content["settings"]
    differ = {k: (v, stored.get(k)) for k, v in settings.items() if stored.get(k) != v}
    if differ:
        listed = ", ".join(f"{k}={given!r} (cached: {cached!r})" for k, (given, cached) in differ.items())
        raise ValueError(f"the cached {name!r} has other settings: {listed}; pass cached=False to compute it")


# ============================================================================ lesson 15: the lambda sweep
def lambda_sweep(train: Ratings, test: Ratings, lambdas=(0.5, 2.5, 10.0, 40.0), n_points: int = 10,
                 seed: int = 0, rank: int = 8, n_iters: int = 5000, tol: float = 1e-9, ia_tol: float = 1e-4,
                 points=None, cached: bool = True) -> pd.DataFrame:
    r"""FIA, exact local and the basic approach against leave-one-out retraining, for several penalties.

    For each lambda, ``mt.ALS(rank, reg=lambda, n_iters, tol, seed=0)`` is fitted to ``train`` to
    convergence and ``fia_vs_loo(model, train, points, ia=True, tol=tol, ia_tol=ia_tol)`` compares
    the three estimates of the influence of the top rating of each test point with the change
    observed by retraining without it (KDD 2019, section 4.2 and Figure 2; eq. 11 for the basic
    approach, eq. 15-17 for FIA).

    Parameters
    ----------
    train, test : Ratings
        The training ratings and the held-out ratings the test points are drawn from.
    lambdas : sequence of float
        The penalties (``reg`` of the summed objective).
    n_points, seed : int
        ``n_points`` test points drawn from ``test`` with ``seed`` (``fia_vs_loo``'s draw), the same for
        every lambda.
    rank, n_iters, tol : int, int, float
        The ALS models and their retrains (to convergence: relative objective change below ``tol``).
    ia_tol : float
        Relative residual of the basic approach's conjugate gradients.
    points : array of (user, item) pairs, optional
        Explicit test points instead of the draw (with ``cached=False``: recompute a slice).
    cached : bool
        True (default): the stored result, after checking that it was computed from these ratings with
        these settings (a ValueError otherwise). False: compute it (about 25 s on one core).

    Returns
    -------
    DataFrame
        One row per lambda and test point: ``lambda`` and ``fia_vs_loo``'s columns (user, item,
        removed_user, removed_item, side, fia, exact_local, ia_basic, observed, retrain_iterations).
        ``attrs["seconds"]``: how long the computation took (when cached, the time stored with it).
    """
    lambdas = [float(reg) for reg in lambdas]
    settings = dict(lambdas=lambdas, n_points=int(n_points), seed=int(seed), rank=int(rank), n_iters=int(n_iters),
                    tol=float(tol), ia_tol=float(ia_tol))
    if cached:
        if points is not None:
            raise ValueError("points selects a slice to recompute: pass it with cached=False")
        frame, content = load(LAMBDA_SWEEP)
        _check_inputs(LAMBDA_SWEEP, content, train=train, test=test)
        _check_settings(LAMBDA_SWEEP, content, settings)
        return frame
    from ..als import ALS
    from . import fia_vs_loo                               # the package's public API (lesson 15, section 3)

    if points is not None:
        points = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    start, frames = time.perf_counter(), []
    for reg in lambdas:
        fitted = ALS(rank=rank, reg=reg, n_iters=n_iters, tol=tol, seed=0).fit(train)
        frame = fia_vs_loo(fitted, train, test if points is None else points, n_points=n_points, seed=seed,
                           ia=True, tol=tol, ia_tol=ia_tol, verbose=False)
        frames.append(frame.assign(**{"lambda": reg})[["lambda", *frame.columns]])
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs.update(seconds=time.perf_counter() - start, settings=settings,
                       inputs={"train": _fingerprint(train), "test": _fingerprint(test)})
    return frame


# ============================================================================ lesson 17: FIA-NCF against retraining
def ncf_validation(model, train: Ratings, targets, n_retrains: int = 2, n_epochs: int = 3, seed: int = 1,
                   cached: bool = True) -> pd.DataFrame:
    r"""FIA-NCF (KDD 2019, eq. 24) against warm-started, drift-corrected leave-one-out retraining.

    ``validate_fia_ncf(model, train, targets, n_retrains, n_epochs, seed=seed)``: for each target, the
    rating of R_t with the largest |FIA-NCF| is removed and the model retrained ``n_retrains`` times
    for ``n_epochs`` epochs from its fitted state, paired with retrains with nothing removed on the
    same mini-batches (KDD 2019, section 4.1.2). Every target's row depends only on that target
    (seeded retrains), so a slice of the targets recomputes the same rows.

    Parameters
    ----------
    model : NCF
        The fitted network.
    train : Ratings
        Its training ratings.
    targets : sequence of (user, item) pairs
        The predictions to explain.
    n_retrains, n_epochs, seed : int
        As in ``validate_fia_ncf``.
    cached : bool
        True (default): the stored result, after checking that it was computed from these ratings,
        for these targets, with these settings and this model's hyperparameters, and that ``model``
        gives the stored FIA-NCF estimate of the first target (a ValueError otherwise). False:
        compute it (about 13 s on one core for 60 targets).

    Returns
    -------
    DataFrame
        ``validate_fia_ncf``'s frame: user, item, removed_user, removed_item, side, fia, loo.
        ``attrs["seconds"]``: how long the computation took (when cached, the time stored with it).
    """
    targets = [(int(user), int(item)) for user, item in targets]
    settings = dict(targets=[list(t) for t in targets], n_retrains=int(n_retrains), n_epochs=int(n_epochs),
                    seed=int(seed), model=_jsonable(model.get_params()))
    if cached:
        frame, content = load(NCF_VALIDATION)
        _check_inputs(NCF_VALIDATION, content, train=train)
        _check_settings(NCF_VALIDATION, content, settings)
        from . import fia_ncf

        first = fia_ncf(model, train, *targets[0]).iloc[0]       # milliseconds: is it the same model?
        if not np.isclose(first["influence"], frame["fia"].iloc[0], rtol=1e-6, atol=1e-9):
            raise ValueError(f"the model's FIA-NCF estimate for {targets[0]} is {first['influence']:.6g}, the "
                             f"cached one {frame['fia'].iloc[0]:.6g}: this model was fitted differently from the "
                             f"one of the cache; pass cached=False to compute it")
        return frame
    from . import validate_fia_ncf

    start = time.perf_counter()
    frame = validate_fia_ncf(model, train, targets, n_retrains=n_retrains, n_epochs=n_epochs, seed=seed)
    frame.attrs.update(seconds=time.perf_counter() - start, settings=settings, inputs={"train": _fingerprint(train)})
    return frame


def _jsonable(params: dict) -> dict:
    # the hyperparameters that make the model (verbose does not), tuples as JSON lists
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if k != "verbose"}


# ============================================================================ writing the files
def lesson15_inputs():
    """Lesson 15's data: the 250 most active users x 250 most rated movies of MovieLens 100K, one held-out
    rating per user (``split(how="leave_one_out", seed=0)``). Returns (train, test)."""
    from ..data import load_movielens

    data = load_movielens("100k").top(n_users=250, n_items=250)
    return data.split(how="leave_one_out", seed=0)


def lesson17_inputs():
    """Lesson 17's data, model and targets: the 200 x 300 corner of MovieLens 100K split 90/10 (seed 0),
    lesson 16's NCF fitted for 15 epochs, and 60 held-out targets drawn with seed 0.
    Returns (train, test, model, targets)."""
    from ..data import load_movielens
    from ..ncf import NCF

    train, test = load_movielens("100k").top(200, 300).split(test_size=0.1, seed=0)
    model = NCF(embedding_dim=16, hidden=(32, 16), reg=20.0, lr=3e-3, batch_size=1024, seed=0,
                n_epochs=15).fit(train)
    chosen = np.random.default_rng(0).choice(len(test), size=60, replace=False)
    return train, test, model, list(zip(test.rows[chosen].tolist(), test.cols[chosen].tolist()))


def main() -> None:
    """Recompute every cached result and write it (``python -m mfteach.explain.precomputed``)."""
    train, test = lesson15_inputs()
    train17, _, model, targets = lesson17_inputs()
    for name, frame in ((LAMBDA_SWEEP, lambda_sweep(train, test, cached=False)),
                        (NCF_VALIDATION, ncf_validation(model, train17, targets, cached=False))):
        path = _save(name, frame, frame.attrs["inputs"], frame.attrs["settings"], frame.attrs["seconds"])
        print(f"{path}: {len(frame)} rows, {frame.attrs['seconds']:.1f} s")


if __name__ == "__main__":
    main()
