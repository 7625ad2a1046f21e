"""What every mfteach model shares: hyperparameter checks, the fitted check, and two base
classes.

``Recommender`` is the interface of every model (ARCHITECTURE.md, "Models"): scikit-learn style
``get_params``, ``set_params`` and repr, ``shape``, ``predict`` (implemented by each model), RMSE and
top-n ``recommend``. ``FactorModel`` is the recommender whose predictions come from learned factors:
a fitted one holds ``U_`` (m x k) and ``V_`` (n x k); a biased one also ``mu_``,
``user_bias_`` (b_u) and ``item_bias_`` (c_i), and predicts
r_hat_ui = mu + b_u + c_i + u_u . v_i (ARCHITECTURE.md, "Notation").
"""

from __future__ import annotations

import abc
import inspect
import numbers

import numpy as np
import pandas as pd

from .ratings import Ratings

__all__ = ["Recommender", "FactorModel", "NotFittedError", "check_fitted", "check_pairs", "check_positive_int",
           "check_non_negative", "check_positive", "check_index", "warm_start", "remember_training",
           "check_training_ratings", "non_finite_cause", "mean_rating", "HUGE"]

HUGE = 1e100  # a rating, confidence or initial scale beyond this leaves float64 too little room: squares overflow


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_index(name: str, value, size: int, axis: str | None = None) -> int:
    """``value`` as an ``int`` in [0, size); otherwise a ValueError naming ``name`` and saying it
    must be a row index (``axis="row"``: a user), a column index (``"column"``: an item) or, with
    no axis, an index. Booleans are refused although Python counts them as integers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < size:
        kind = f"a {axis} index" if axis else "an index"
        raise ValueError(f"{name} must be {kind} in [0, {size}), got {value!r}")
    return int(value)


def check_ratings(name: str, ratings, shape=None) -> Ratings:
    if not isinstance(ratings, Ratings):
        raise TypeError(f"{name} must be an mfteach.Ratings, got {type(ratings).__name__}")
    if shape is not None and ratings.shape != tuple(shape):
        raise ValueError(f"{name} has shape {ratings.shape} but the model was fitted on {tuple(shape)}")
    return ratings


def remember_training(model, ratings: Ratings) -> None:
    """Record the training data at the end of ``fit``: ``model.ratings_`` (by reference: it is
    immutable) and ``model.fingerprint_``, its ``Ratings.fingerprint`` (shape, count, SHA-256 of
    Omega and of the values; about 2 ms per 100,000 ratings, once per Ratings object)."""
    model.ratings_ = ratings
    model.fingerprint_ = ratings.fingerprint


def check_training_ratings(model, ratings, caller: str, values: bool = True) -> Ratings:
    """``ratings`` if they are the ratings ``model`` was fitted on, else a ValueError that says
    which ratings the model was fitted on and which were given.

    The comparison is by fingerprint (``Ratings.fingerprint``): shape, count and the SHA-256 of
    Omega and (``values=True``) of the rating values, so an equal copy (e.g. loaded again or
    unpickled) passes. ``values=False`` compares only Omega, for results that depend on which
    pairs were rated but not on the values (FATREC's J). A model without a record (never fitted
    by ``fit``, e.g. factors set by hand) is checked for its shape only. ``caller`` names the
    function in the message.
    """
    check_ratings("ratings", ratings, model.shape)
    recorded = getattr(model, "fingerprint_", None)
    if recorded is None:
        train = getattr(model, "ratings_", None)
        recorded = train.fingerprint if isinstance(train, Ratings) else None
    if recorded is None:
        return ratings
    given = ratings.fingerprint
    same_omega = (given.shape, given.count, given.omega) == (recorded.shape, recorded.count, recorded.omega)
    if same_omega and (not values or given.values == recorded.values):
        return ratings
    name = type(model).__name__
    if same_omega:
        problem = (f"these ratings have the (user, item) pairs this {name} was fitted on but other rating values "
                   f"(given: {given.describe()}; fitted on: {recorded.describe()})")
    else:
        problem = (f"these are not the ratings this {name} was fitted on: it was fitted on {recorded.describe()}; "
                   f"these are {given.describe()}")
    raise ValueError(f"{caller}: {problem}. {caller} explains the model by the ratings it was trained on: pass "
                     f"those (the model keeps them as model.ratings_; e.g. the training split, not the test split), "
                     f"or fit a model on these ratings first.")


def non_finite_cause(values, init_scale: float | None = None, reg: float | None = None,
                     alpha: float | None = None, lr: float | None = None) -> str:
    """The likeliest cause, in words with the fix, of non-finite numbers in a fit on the ratings
    ``values``: huge ratings, a huge confidence scale ``alpha`` (implicit ALS), a huge
    ``init_scale``, a ``reg`` too small to keep the least-squares blocks invertible, or (when
    ``lr`` is given) a learning rate that is too large."""
    values = np.asarray(values, dtype=float)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        squares = float(values @ values)
    if scale > HUGE or not np.isfinite(squares):
        return (f"the ratings are too large for float64 arithmetic (max |r| = {scale:.3g}; squares and Gram matrices "
                f"overflow): rescale them, e.g. ratings.with_values(ratings.values / {scale:.0e})")
    if alpha is not None and alpha * max(scale, 1.0) > HUGE:
        return (f"alpha={alpha:g} makes the confidences c = 1 + alpha r as large as {alpha * max(scale, 1.0):.3g}, "
                f"which overflow: use a moderate alpha (Hu et al. found 40 good)")
    if init_scale is not None and (init_scale > HUGE or init_scale > 1e6 * max(scale, 1.0)):
        return (f"init_scale={init_scale:g} makes the initial factors so large that their products overflow: use a "
                f"small init_scale such as the default")
    if lr is not None:
        return f"the learning rate lr={lr:g} is too large: use a smaller one, e.g. lr={lr / 10:g}"
    if reg is not None and reg < 1e-8:
        return (f"reg={reg:g} is too small to keep the least-squares blocks invertible: use reg > 0 of a moderate size "
                f"(e.g. 0.1), or a smaller rank")
    settings = "".join(f", {name}={value:g}" for name, value in (("init_scale", init_scale), ("reg", reg))
                       if value is not None)
    return f"the numbers overflowed (max |r| = {scale:.3g}{settings}): rescale the ratings or use milder settings"


def mean_rating(values, model_name: str, weights=None) -> float:
    """mu, the (weighted) mean training rating, or a ValueError naming the cause when it
    overflows (ratings near the float64 limit): computed exactly as ``np.average`` would."""
    with np.errstate(over="ignore", invalid="ignore"):
        mu = float(np.average(values, weights=weights)) if weights is not None else float(np.mean(values))
    if not np.isfinite(mu):
        raise ValueError(f"{model_name}: the mean rating mu is not finite: {non_finite_cause(values)}")
    return mu


def check_finite_fit(model_name: str, arrays: dict, cause) -> None:
    """Raise a ValueError naming the non-finite learned arrays and ``cause()`` (called only then)."""
    bad = [name for name, array in arrays.items() if array is not None and not np.all(np.isfinite(array))]
    if bad:
        raise ValueError(f"{model_name} produced non-finite {', '.join(bad)}: {cause()}")


def warm_start(init, m: int, n: int, rank: int, biased: bool) -> dict:
    """The starting point of a warm-started ``fit``, checked against the problem's shape.

    ``init`` is a fitted ``FactorModel``, a pair ``(U, V)`` or a dict with ``U``, ``V`` and
    optionally ``user_bias``, ``item_bias`` (zeros if absent) and ``mu`` (None if absent: the
    model then uses the mean training rating). Returns copies: the caller may update them in place.
    """
    if isinstance(init, FactorModel):
        check_fitted(init)
        init = {"U": init.U_, "V": init.V_, "user_bias": getattr(init, "user_bias_", None),
                "item_bias": getattr(init, "item_bias_", None), "mu": getattr(init, "mu_", None)}
    elif not isinstance(init, dict):
        init = dict(zip(("U", "V"), init))
    start = {"U": np.array(init["U"], dtype=float), "V": np.array(init["V"], dtype=float), "mu": None}
    if start["U"].shape != (m, rank) or start["V"].shape != (n, rank):
        raise ValueError(f"init U, V must have shapes {(m, rank)} and {(n, rank)}, "
                         f"got {start['U'].shape}, {start['V'].shape}")
    if biased:
        for key, size in (("user_bias", m), ("item_bias", n)):
            value = init.get(key)
            start[key] = np.zeros(size) if value is None else np.array(value, dtype=float)
            if start[key].shape != (size,):
                raise ValueError(f"init {key} must have shape ({size},), got {start[key].shape}")
        if init.get("mu") is not None:
            start["mu"] = float(init["mu"])
    for key, value in start.items():
        if value is not None and not np.all(np.isfinite(value)):
            raise ValueError(f"init {key} contains NaN or inf")
    return start


class NotFittedError(RuntimeError):
    """A model was used (predict, recommend, explained, ...) before ``fit``."""


def check_fitted(model) -> None:
    """Raise ``NotFittedError`` (a RuntimeError) naming the model when ``model`` has not been
    fitted: it has no learned attribute (a public name ending in ``_`` that is not None), the
    convention of scikit-learn's ``check_is_fitted``. Every model of the package passes after
    ``fit`` (the contract test checks it) and fails before."""
    learned = [name for name, value in vars(model).items()
               if name.endswith("_") and not name.startswith("_") and value is not None]
    if not learned:
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet: call fit(ratings) first")


def check_pairs(rows, cols, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` and ``cols`` as integer arrays of one shape, with rows in [0, m) and cols in
    [0, n) for ``shape`` = (m, n); else a ValueError saying which is wrong. Two empty inputs
    give two empty int64 arrays (``np.asarray([])`` is float)."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    if rows.size == 0 and cols.size == 0:  # np.asarray([]) is float: no pairs, no scores
        rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    if rows.shape != cols.shape:
        raise ValueError(f"rows and cols must have the same shape, got {rows.shape} and {cols.shape}")
    for name, ids, size in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= size):
            raise ValueError(f"{name} must be integer indices in [0, {size}), got values in "
                             f"[{ids.min()}, {ids.max()}] of dtype {ids.dtype}")
    return rows, cols


class Recommender(abc.ABC):
    """The interface of every mfteach model (scikit-learn's estimator conventions).

    A subclass takes its hyperparameters as constructor arguments and stores each under its own
    name, doing nothing else; ``fit(ratings, ...)`` validates them, learns attributes whose
    names end in ``_`` (among them ``ratings_``, the training ``Ratings``, see
    ``remember_training``) and returns ``self``; with the same ``seed`` it gives the same bits.
    A subclass implements ``shape`` (m, n) and ``predict(rows, cols)``; ``rmse`` and
    ``recommend`` are built on them. ``tests/test_models_contract.py`` checks every model.
    """

    def get_params(self) -> dict:
        """The constructor's hyperparameters (scikit-learn style)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params) -> "Recommender":
        """Set hyperparameters by name and return ``self`` (scikit-learn style), e.g.
        ``model.set_params(reg=1.0).fit(ratings)``. Values are checked by the next ``fit``; the
        learned attributes stay those of the last fit until then. An unknown name is a
        ValueError listing the valid ones."""
        valid = self.get_params()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no hyperparameter {', '.join(map(repr, unknown))}; "
                             f"its hyperparameters are {sorted(valid)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults[k] and v != defaults[k]]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ implemented by each model
    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int]:
        """(m, n), the shape of the training ratings; NotFittedError before ``fit``."""

    @abc.abstractmethod
    def predict(self, rows, cols) -> np.ndarray:
        """r_hat_ui for the pairs (rows[k], cols[k]) (row and column indices, ``check_pairs``)."""

    # ------------------------------------------------------------------ built on predict
    def rmse(self, ratings: Ratings) -> float:
        """Root mean squared error of the predictions on the known entries of ``ratings``."""
        check_fitted(self)
        check_ratings("ratings", ratings, self.shape)
        errors = ratings.values - self.predict(ratings.rows, ratings.cols)
        return float(np.sqrt(np.mean(errors**2)))

    def recommend(self, user: int, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` items with the highest predicted score for ``user`` (a row index), best
        first (equal scores: the lower item index first), as a DataFrame (item, title, score);
        items the user rated in training are left out unless ``exclude_seen=False``."""
        check_fitted(self)
        m, n_items = self.shape
        user = check_index("user", user, m, "row")
        n = check_positive_int("n", n)
        scores = self.predict(np.full(n_items, user), np.arange(n_items)).astype(float)
        if exclude_seen:
            train = self.ratings_
            lo, hi = np.searchsorted(train.rows, [user, user + 1])
            scores[train.cols[lo:hi]] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        top = np.argsort(-scores, kind="stable")[:n]  # equal scores: the lower item index first
        return pd.DataFrame({
            "item": top,
            "title": self.ratings_.item_labels(top),
            "score": scores[top],
        })


class FactorModel(Recommender):
    """Base class of the factor models: prediction from learned factors (and biases).

    Subclasses set ``U_``, ``V_``, ``biased`` (a hyperparameter or a class attribute; the bias
    attributes when biased), ``ratings_`` (the training ``Ratings``, kept by reference: it is
    immutable) and its ``fingerprint_`` (``remember_training``), and ``history_`` in ``fit``.
    """

    biased: bool = False

    # ------------------------------------------------------------------ fitted state
    @property
    def shape(self) -> tuple[int, int]:
        check_fitted(self)
        return (self.U_.shape[0], self.V_.shape[0])

    # ------------------------------------------------------------------ prediction
    def predict(self, rows, cols) -> np.ndarray:
        """r_hat_ui for the pairs (rows[k], cols[k]) (row and column indices):
        u_u . v_i, plus mu + b_u + c_i when biased."""
        check_fitted(self)
        rows, cols = check_pairs(rows, cols, self.shape)
        scores = np.einsum("...k,...k->...", self.U_[rows], self.V_[cols])
        if self.biased:
            scores = scores + self.mu_ + self.user_bias_[rows] + self.item_bias_[cols]
        return scores

    def predict_matrix(self) -> np.ndarray:
        """The full m x n matrix R_hat (U V^T, plus mu + b_u + c_i when biased)."""
        check_fitted(self)
        scores = self.U_ @ self.V_.T
        if self.biased:
            scores += self.mu_ + self.user_bias_[:, None] + self.item_bias_[None, :]
        return scores
