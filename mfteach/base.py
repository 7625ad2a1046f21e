"""What every mfteach factor model shares: hyperparameter checks, prediction from U, V (and
biases), RMSE, top-n recommendation and the training history.

A fitted model holds ``U_`` (m x k) and ``V_`` (n x k); a biased one also ``mu_``,
``user_bias_`` (b_u) and ``item_bias_`` (c_i), and predicts
r_hat_ui = mu + b_u + c_i + u_u . v_i (DESIGN.md section 1).
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np
import pandas as pd

from .ratings import Ratings

__all__ = ["FactorModel", "check_positive_int", "check_non_negative", "check_positive", "check_index", "warm_start"]


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


def warm_start(init, m: int, n: int, rank: int, biased: bool) -> dict:
    """The starting point of a warm-started ``fit``, checked against the problem's shape.

    ``init`` is a fitted ``FactorModel``, a pair ``(U, V)`` or a dict with ``U``, ``V`` and
    optionally ``user_bias``, ``item_bias`` (zeros if absent) and ``mu`` (None if absent: the
    model then uses the mean training rating). Returns copies: the caller may update them in place.
    """
    if isinstance(init, FactorModel):
        init._check_fitted()
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


class FactorModel:
    """Base class: prediction, evaluation and recommendation from learned factors.

    Subclasses set ``U_``, ``V_``, ``biased`` (and the bias attributes when biased),
    ``ratings_`` (the training ``Ratings``, kept by reference: it is immutable) and
    ``history_`` in ``fit``.
    """

    biased: bool = False

    def get_params(self) -> dict:
        """The constructor's hyperparameters (scikit-learn style)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults[k] and v != defaults[k]]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------------ fitted state
    def _check_fitted(self):
        if getattr(self, "U_", None) is None:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit(ratings) first")

    @property
    def shape(self) -> tuple[int, int]:
        self._check_fitted()
        return (self.U_.shape[0], self.V_.shape[0])

    # ------------------------------------------------------------------ prediction
    def predict(self, rows, cols) -> np.ndarray:
        """r_hat_ui for the pairs (rows[k], cols[k]) (row and column indices)."""
        self._check_fitted()
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        if rows.size == 0 and cols.size == 0:  # np.asarray([]) is float: no pairs, no scores
            rows, cols = rows.astype(np.int64), cols.astype(np.int64)
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols must have the same shape, got {rows.shape} and {cols.shape}")
        m, n = self.shape
        for name, ids, size in (("rows", rows, m), ("cols", cols, n)):
            if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= size):
                raise ValueError(f"{name} must be integer indices in [0, {size}), got values in "
                                 f"[{ids.min()}, {ids.max()}] of dtype {ids.dtype}")
        scores = np.einsum("...k,...k->...", self.U_[rows], self.V_[cols])
        if self.biased:
            scores = scores + self.mu_ + self.user_bias_[rows] + self.item_bias_[cols]
        return scores

    def predict_matrix(self) -> np.ndarray:
        """The full m x n matrix R_hat (U V^T, plus mu + b_u + c_i when biased)."""
        self._check_fitted()
        scores = self.U_ @ self.V_.T
        if self.biased:
            scores += self.mu_ + self.user_bias_[:, None] + self.item_bias_[None, :]
        return scores

    def rmse(self, ratings: Ratings) -> float:
        """Root mean squared error of the predictions on the known entries of ``ratings``."""
        self._check_fitted()
        check_ratings("ratings", ratings, self.shape)
        errors = ratings.values - self.predict(ratings.rows, ratings.cols)
        return float(np.sqrt(np.mean(errors**2)))

    def recommend(self, user: int, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` items with the highest predicted score for ``user`` (a row index), best
        first (equal scores: the lower item index first), as a DataFrame (item, title, score);
        items the user rated in training are left out unless ``exclude_seen=False``."""
        self._check_fitted()
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
