r"""One warm-started retrain for every model the explanations validate against: ``mt.ALS``,
``mt.GradientDescent`` and ``mt.NCF``.

Leave-one-out influence (KDD 2019, eq. 10: INFL(z) = y_hat(theta) - y_hat(theta_{-z})) needs
theta_{-z}, the model refitted without the rating z. Refitting from scratch would change the
answer by the random initialization; ``retrain`` starts instead from the fitted model (its
factors, biases, mu, and for NCF its Adam state) and continues on the given ratings, so a model
already at its minimizer moves only by what the change of the data asks for.

Stopping rule (``n_iters``, ``tol``)
------------------------------------
* ``ALS``: at most ``n_iters`` alternating iterations (default 1000), stopping after the first
  iteration t whose relative decrease of the summed objective S (ARCHITECTURE.md, notation) is
  small: S_{t-1} - S_t <= tol * S_{t-1} (``ALS(tol=...)``; default tol = 1e-12, i.e. "to
  convergence"). ``tol=0`` runs exactly ``n_iters`` iterations.
* ``GradientDescent`` and ``NCF``: exactly ``n_iters`` epochs (defaults 1000 and 5) at the
  learning rate ``lr`` (default: GradientDescent's fitted ``lr_``, NCF's ``lr``). Their per-epoch
  objective does not fall monotonically (sampled gradients, Adam), so a relative-decrease rule
  would stop on noise; they take no ``tol`` (a ValueError if one is given).

Callers pick the rule as arguments, not as separate functions: the explanations validate
against the converged minimizer (``mfteach.explain.loo_influence``, ``fia_vs_loo``: the
defaults), while the perturbation explorer of lesson 13 (``widgets.influence_retrain``) runs
``n_iters=20, tol=0``: a button press must answer within about a second on MovieLens 100K, and
both of its retrains (changed and unchanged ratings) then run the same 20 iterations, so the
drift of an unconverged model cancels in their difference.

The module is ``retraining``, not ``retrain``, so that importing it never rebinds ``mt.retrain``
(the function) to a module of the same name.
"""

from __future__ import annotations

import numbers

import numpy as np

from .als import ALS
from .base import check_fitted, check_non_negative, check_positive, check_positive_int, check_ratings
from .gd import GradientDescent
from .ncf import NCF
from .ratings import Ratings

__all__ = ["retrain", "removed_positions", "without_positions", "DEFAULT_ITERS", "DEFAULT_TOL"]

DEFAULT_ITERS = {ALS: 1000, GradientDescent: 1000, NCF: 5}  # n_iters=None: iterations (ALS) or epochs
DEFAULT_TOL = 1e-12                                          # tol=None for ALS: to convergence


def removed_positions(ratings: Ratings, removed, allow_empty: bool = False) -> np.ndarray:
    """Positions in ``ratings`` of the ratings ``removed``: one (user, item) pair of indices or a
    non-empty list of them (with ``allow_empty``, an empty list too: no position), each a rating
    of ``ratings`` (a ValueError naming the first that is not). One ``searchsorted`` over the
    sorted (row, col) keys, no loop."""
    pairs = np.asarray(removed)
    if allow_empty and pairs.size == 0:
        return np.empty(0, dtype=np.int64)
    if pairs.ndim == 1 and pairs.shape == (2,):
        pairs = pairs[None]
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"removed must be one (user, item) pair of indices or a non-empty list of them, "
                         f"got {removed!r}")
    m, n = ratings.shape
    keys = ratings.rows * n + ratings.cols                        # sorted: Ratings keeps (row, col) order
    wanted = pairs[:, 0] * n + pairs[:, 1]
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    in_range = (pairs[:, 0] >= 0) & (pairs[:, 0] < m) & (pairs[:, 1] >= 0) & (pairs[:, 1] < n)
    missing = ~in_range | (keys[position] != wanted)
    if missing.any():
        u, i = pairs[np.flatnonzero(missing)[0]]
        raise ValueError(f"removed: ({u}, {i}) is not a training rating (not in Omega)")
    return position


def without_positions(ratings: Ratings, positions) -> Ratings:
    """``ratings`` without the entries at ``positions`` (one boolean mask, no loop)."""
    keep = np.ones(len(ratings), dtype=bool)
    keep[positions] = False
    if not keep.any():
        raise ValueError("removing these ratings would leave no ratings at all")
    return Ratings(ratings.rows[keep], ratings.cols[keep], ratings.values[keep], shape=ratings.shape,
                   users=ratings.users, items=ratings.items, item_titles=ratings.item_titles,
                   item_genres=ratings.item_genres)


def _family(model):
    for family in DEFAULT_ITERS:
        if isinstance(model, family):
            return family
    raise TypeError(f"retrain supports mfteach.ALS, mfteach.GradientDescent and mfteach.NCF models; got "
                    f"{type(model).__name__}")


def retrain(model, ratings: Ratings, removed=None, sample_weight=None, n_iters: int | None = None,
            tol: float | None = None, lr: float | None = None, seed: int | None = None, verbose: bool = False):
    """A NEW model with ``model``'s hyperparameters, fitted to ``ratings`` warm-started from
    ``model`` (which is left unchanged); the stopping rule is the module docstring's.

    Parameters
    ----------
    model : mt.ALS, mt.GradientDescent or mt.NCF, fitted.
    ratings : Ratings
        The ratings to continue on, of the model's shape (its training ratings, or a changed
        copy of them, e.g. ``ratings.with_values(...)``).
    removed : (user, item) pair or list of pairs, optional
        Training ratings of ``ratings`` to leave out (a ValueError for a pair that is not one).
        ALS and GradientDescent are refitted on ``ratings`` without them; NCF keeps them with
        weight 0, so its mini-batches are the same as with them (common random numbers).
    sample_weight : array_like, optional
        NCF only: one weight >= 0 per rating of ``ratings`` (``NCF.fit``); ``removed`` sets
        its entries to 0. ALS and GradientDescent fit unweighted objectives (a TypeError).
    n_iters : int, optional
        Iteration cap (ALS) or number of epochs (GradientDescent, NCF); None: ``DEFAULT_ITERS``.
    tol : float, optional
        ALS only: the relative objective decrease at which it stops; None: ``DEFAULT_TOL``.
    lr : float, optional
        GradientDescent and NCF: the learning rate (None: GradientDescent's fitted ``lr_``,
        NCF's ``lr``).
    seed : int, optional
        The retrain's seed (sampling or mini-batch order; None: the model's).
    verbose : bool
        The fit's own progress bar.

    Returns
    -------
    A fitted model of the same class.
    """
    family = _family(model)
    check_fitted(model)
    check_ratings("ratings", ratings, model.shape)
    params = {**model.get_params(), "verbose": bool(verbose)}
    n_iters = DEFAULT_ITERS[family] if n_iters is None else check_positive_int("n_iters", n_iters)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        params["seed"] = int(seed)
    if family is ALS:
        if lr is not None:
            raise ValueError("lr does not apply to ALS (it solves each half-step exactly)")
        params.update(n_iters=n_iters, tol=DEFAULT_TOL if tol is None else check_non_negative("tol", tol))
    else:
        if tol is not None and tol != 0:
            raise ValueError(f"tol applies to ALS only: {family.__name__} retrains run exactly n_iters epochs "
                             f"(got tol={tol!r}); leave tol=None")
        params["n_epochs"] = n_iters
        fitted_lr = model.lr_ if family is GradientDescent else model.lr
        params["lr"] = fitted_lr if lr is None else check_positive("lr", lr)
    if family is NCF:
        weights = None
        if removed is not None:
            weights = np.ones(len(ratings)) if sample_weight is None else np.array(sample_weight, dtype=float)
            if weights.shape != (len(ratings),):
                raise ValueError(f"sample_weight must have one weight per rating, shape ({len(ratings)},), "
                                 f"got {weights.shape}")
            weights[removed_positions(ratings, removed)] = 0.0
        elif sample_weight is not None:
            weights = sample_weight
        return NCF(**params).fit(ratings, init=model, sample_weight=weights)
    if sample_weight is not None:
        raise TypeError(f"sample_weight applies to NCF only: {family.__name__} fits an unweighted objective; "
                        f"use removed=... to leave ratings out")
    if removed is not None:
        ratings = without_positions(ratings, removed_positions(ratings, removed))
    return family(**params).fit(ratings, init=model)
