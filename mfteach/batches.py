"""Groups of ratings (all ratings of a user, or of an item) cut into zero-padded batches, so
that per-user linear algebra runs as a few batched numpy calls instead of a loop over users.

Used by ``als`` (explicit ALS, method "bucket") and ``implicit`` (weighted ALS). The layout
depends only on Omega, so it is computed once per ``fit`` and reused by every half-step.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PaddedGroups"]


class PaddedGroups:
    """Group g owns the entries indptr[g]:indptr[g+1] of ``index`` (rows of a feature matrix).

    Groups are sorted by size and cut into batches of ``batch_size``; each batch holds

    - ``groups``: the group numbers in it;
    - ``rows``: a (batch x longest) matrix of feature rows, padding pointing at row
      ``n_features`` (append a zero row to the features: ``padded_features``);
    - ``entries``: the same shape, the positions of the entries in the grouped arrays,
      padding pointing at position ``len(index)`` (append a 0 to per-entry weights).

    Similar sizes in a batch keep the padding small.
    """

    def __init__(self, indptr: np.ndarray, index: np.ndarray, n_features: int, batch_size: int):
        self.indptr, self.index, self.n_features = np.asarray(indptr), np.asarray(index), n_features
        self.n_groups = len(self.indptr) - 1
        counts = np.diff(self.indptr)
        order = np.argsort(counts, kind="stable")
        self.batches = []
        for start in range(0, self.n_groups, batch_size):
            groups = order[start:start + batch_size]
            positions = np.arange(max(int(counts[groups].max()), 1))
            present = positions[None, :] < counts[groups][:, None]
            entries = np.where(present, self.indptr[groups][:, None] + positions[None, :], len(self.index))
            rows = np.where(present, self.index[np.minimum(entries, max(len(self.index) - 1, 0))], n_features) \
                if len(self.index) else np.full(entries.shape, n_features)
            self.batches.append((groups, rows, entries))

    def padded_features(self, features: np.ndarray) -> np.ndarray:
        """``features`` with the all-zero padding row appended."""
        return np.vstack([features, np.zeros((1, features.shape[1]))])

    def cross(self, left: np.ndarray, right: np.ndarray, symmetric: bool = False) -> np.ndarray:
        """X_g^T Y_g for every group, X_g and Y_g the rows of ``left`` and ``right`` of its entries
        (``grams(F)`` is ``cross(F, F)``): n_groups x a x b. ``symmetric``: (X_g^T Y_g + Y_g^T X_g) / 2
        instead (a = b), symmetrized batch by batch while the batch is small."""
        a, b = left.shape[1], right.shape[1]
        left, right = self.padded_features(left), self.padded_features(right)
        out = np.empty((self.n_groups, a, b))
        for groups, rows, _ in self.batches:
            product = np.matmul(left[rows].transpose(0, 2, 1), right[rows])
            if symmetric:
                product = product + product.transpose(0, 2, 1)
                product *= 0.5
            out[groups] = product
        return out

    def grams(self, features: np.ndarray) -> np.ndarray:
        """X_g^T X_g for every group (X_g = the feature rows of its entries): n_groups x k x k."""
        k = features.shape[1]
        padded = self.padded_features(features)
        gram = np.empty((self.n_groups, k, k))
        for groups, rows, _ in self.batches:
            X = padded[rows]
            gram[groups] = np.matmul(X.transpose(0, 2, 1), X)
        return gram
