r"""What the learned item vectors v_i (the rows of V) say on their own: neighbours, a 2-D map,
genre correlations, and vectors for items nobody has rated (lesson 09).

Sources. Book 9.2.2 reads a factorization as *semantic embeddings*: the rows of V are the
movies' "attribute vectors", and Example 9.2.4 says that two movies whose unit-normalized
vectors have inner product close to 1 "have the same appeal to all users" and tend to be
recommended together; Figure 9.2 (after Koren, Bell and Volinsky 2009) draws the film vectors
in two dimensions. The lecture notes ("MF models", *Meaning of the latent factors*) add that
in basic MF no single coordinate has a known meaning, but one may find that a coordinate is
related to a feature; that basic MF cannot embed a user or an item without interactions
(cold start); and that LightFM builds the latent factors as a function of observed attributes.

Functions (pure numpy, no plotting):

* ``cosine_similarities`` / ``cosine_neighbors``: cos(v_i, v_j) = v_i . v_j / (||v_i|| ||v_j||),
  the inner product of the normalized vectors of Example 9.2.4;
* ``item_map_2d``: the two leading principal directions of V (the SVD of the centred rows)
  and every item's coordinates on them, as in Figure 9.2;
* ``genre_correlations``: Pearson correlation of each latent coordinate with each genre's
  0/1 indicator;
* ``attribute_factors``: item vectors as a linear function of attributes, V ~ A W (the
  LightFM form), with W fitted by ridge regression on the vectors learned for rated items;
  its ``transform`` gives a brand-new item a vector from its genres alone.

Notation (ARCHITECTURE.md, "Notation"): V is n x k with one row v_i per item; G is the n x g items x
genres 0/1 matrix (``Ratings.genre_matrix()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "cosine_similarities", "cosine_neighbors", "ItemMap", "item_map_2d", "genre_correlations",
    "AttributeFactors", "attribute_factors",
]


def _as_factors(V, name: str = "V") -> np.ndarray:
    V = np.asarray(V, dtype=float)
    if V.ndim != 2 or V.shape[0] < 1 or V.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty 2-D array (one row per item), got shape {V.shape}")
    if not np.isfinite(V).all():
        raise ValueError(f"{name} has NaN or infinite entries")
    return V


def _as_item(item, n: int) -> int:
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
        raise TypeError(f"item must be an integer item index, got {item!r}")
    if not 0 <= item < n:
        raise ValueError(f"item must be an index 0 <= item < {n}, got {item}")
    return int(item)


def _as_mask(items, n: int, name: str = "items") -> np.ndarray:
    """A boolean mask of length n from None (all), a boolean mask, or indices."""
    if items is None:
        return np.ones(n, dtype=bool)
    items = np.asarray(items)
    if items.dtype == bool:
        if items.shape != (n,):
            raise ValueError(f"{name} as a mask must have length {n}, got shape {items.shape}")
        return items.copy()
    if items.ndim != 1 or (items.size and not np.issubdtype(items.dtype, np.integer)):
        raise ValueError(f"{name} must be a boolean mask or a 1-D array of item indices")
    if items.size and (items.min() < 0 or items.max() >= n):
        raise ValueError(f"{name} holds indices outside [0, {n})")
    mask = np.zeros(n, dtype=bool)
    mask[items] = True
    return mask


# ============================================================================ cosine neighbours
def cosine_similarities(V, item: int) -> np.ndarray:
    r"""cos(v_item, v_j) for every item j (book Example 9.2.4).

    .. math:: \cos(v_i, v_j) = \frac{v_i^\top v_j}{\|v_i\|\,\|v_j\|}

    Example 9.2.4 assumes unit-norm movie vectors, so that the inner product itself is the
    cosine: 1 means "the same appeal to all users", close to 1 means "recommended together".
    The norms carry something else: with biases and a ridge penalty, an item with few ratings
    gets a short vector, so normalizing compares *directions* (tastes), not confidence.

    Parameters
    ----------
    V : (n, k) array
        Item factors, one row v_j per item.
    item : int
        The query item i (a row index of V).

    Returns
    -------
    (n,) array
        The cosines; NaN for items whose vector is zero (cosine undefined), 1 for ``item``.

    Raises
    ------
    ValueError
        When v_item is the zero vector: an item without interactions has no embedding in basic
        MF (lecture notes, cold start), so it has no neighbours either.
    """
    V = _as_factors(V)
    item = _as_item(item, V.shape[0])
    norms = np.linalg.norm(V, axis=1)
    if norms[item] == 0:
        raise ValueError(f"item {item} has the zero vector (no interactions were learned from): its cosine with "
                         "other items is undefined. This is the cold-start problem; see attribute_factors.")
    with np.errstate(invalid="ignore", divide="ignore"):
        return (V @ V[item]) / (norms * norms[item])  # 0 / 0 = NaN for zero rows


def cosine_neighbors(V, item: int, n: int = 10, candidates=None) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` items whose vectors have the largest cosine with v_item (Example 9.2.4).

    Parameters
    ----------
    V : (n_items, k) array
    item : int
        The query item; it is never its own neighbour.
    n : int
        How many neighbours (fewer when fewer candidates exist).
    candidates : boolean mask or indices, optional
        The items allowed as neighbours (e.g. those with at least 20 ratings: a short vector
        learned from three ratings points in a poorly estimated direction). Default: all.
        Items with the zero vector are always left out.

    Returns
    -------
    (items, similarities) : two arrays of length <= n, most similar first (ties: lower index first).
    """
    V = _as_factors(V)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    similarities = cosine_similarities(V, item)
    allowed = _as_mask(candidates, V.shape[0], "candidates") & ~np.isnan(similarities)
    allowed[item] = False
    pool = np.flatnonzero(allowed)
    order = pool[np.lexsort((pool, -similarities[pool]))][: int(n)]
    return order, similarities[order]


# ============================================================================ the 2-D map
@dataclass(frozen=True)
class ItemMap:
    """The items on the two leading principal directions of V (see ``item_map_2d``).

    Attributes
    ----------
    coords : (n, 2) array
        Coordinates of every item: (v_i - mean) @ directions.T.
    directions : (2, k) array
        The two leading right-singular vectors of the centred V (orthonormal rows).
    explained : (2,) array
        Share of the total variance of the centred rows along each direction (sigma_j^2 / sum sigma^2).
    mean : (k,) array
        The mean vector subtracted before the SVD.
    singular_values : (min(n_fit, k),) array
        All singular values of the centred rows the directions were fitted on.
    """

    coords: np.ndarray
    directions: np.ndarray
    explained: np.ndarray
    mean: np.ndarray
    singular_values: np.ndarray


def item_map_2d(V, fit_on=None) -> ItemMap:
    r"""A 2-D map of the items (book Figure 9.2): principal component analysis of the rows of V.

    With X the centred rows, X = V_S - 1 mean^T, and its SVD X = P S Q^T, the two leading right
    singular vectors q_1, q_2 are the directions along which the item vectors vary most, and
    item i sits at ((v_i - mean) . q_1, (v_i - mean) . q_2). Among all 2-D linear maps this
    keeps the most of the vectors' spread (Eckart-Young again, applied to X).

    Why not simply plot two coordinates of V: a factorization is only defined up to an
    invertible k x k matrix (U V^T = (U Q)(V Q^{-T})^T), so ALS's coordinate 1 is an arbitrary
    direction; the principal directions are fixed by the vectors themselves.

    Parameters
    ----------
    V : (n, k) array, k >= 2
    fit_on : boolean mask or indices, optional
        The items whose vectors define the mean and the directions (e.g. the items with enough
        ratings, whose vectors are well estimated); every item gets coordinates.

    Returns
    -------
    ItemMap
        Signs are fixed so that the largest-magnitude entry of each direction is positive.
    """
    V = _as_factors(V)
    if V.shape[1] < 2:
        raise ValueError(f"a 2-D map needs k >= 2 latent factors, got k = {V.shape[1]}")
    mask = _as_mask(fit_on, V.shape[0], "fit_on")
    if mask.sum() < 2:
        raise ValueError("fit_on must select at least two items")
    mean = V[mask].mean(axis=0)
    _, sigma, Qt = np.linalg.svd(V[mask] - mean, full_matrices=False)
    directions = Qt[:2].copy()
    flip = np.sign(directions[np.arange(2), np.argmax(np.abs(directions), axis=1)])
    directions *= flip[:, None]
    total = float(np.sum(sigma**2))
    explained = sigma[:2] ** 2 / total if total > 0 else np.zeros(2)
    return ItemMap(coords=(V - mean) @ directions.T, directions=directions, explained=explained, mean=mean,
                   singular_values=sigma)


# ============================================================================ genres
def genre_correlations(V, genre_matrix, names, items=None, factor_names=None) -> pd.DataFrame:
    r"""Pearson correlation of every latent coordinate with every genre indicator (lecture
    notes: "we can train our model and then realize that a specific coordinate is related with
    a specific feature").

    Entry (f, g) is corr(V[:, f], G[:, g]) over the chosen items, i.e. ``np.corrcoef`` of the
    two columns: large and positive when the items of genre g sit high on coordinate f.

    Parameters
    ----------
    V : (n, k) array
        Item coordinates: the factors themselves, or e.g. ``item_map_2d(V).coords`` (whose
        directions, unlike ALS's raw coordinates, do not depend on an arbitrary rotation).
    genre_matrix : (n, g) array
        0/1 items x genres (``Ratings.genre_matrix()``).
    names : list of g str
        Genre names (the columns of the result).
    items : boolean mask or indices, optional
        The items to correlate over (e.g. those with at least 20 ratings). Default: all.
    factor_names : list of k str, optional
        Row labels; default "factor 1" ... "factor k".

    Returns
    -------
    DataFrame (k x g)
        NaN where a column is constant over the items (a genre no chosen item has).
    """
    V = _as_factors(V)
    G = np.asarray(genre_matrix, dtype=float)
    n, k = V.shape
    if G.ndim != 2 or G.shape[0] != n:
        raise ValueError(f"genre_matrix must have one row per item ({n}), got shape {G.shape}")
    names = list(names)
    if len(names) != G.shape[1]:
        raise ValueError(f"names must have one entry per genre ({G.shape[1]}), got {len(names)}")
    factor_names = [f"factor {f + 1}" for f in range(k)] if factor_names is None else list(factor_names)
    if len(factor_names) != k:
        raise ValueError(f"factor_names must have k = {k} entries, got {len(factor_names)}")
    mask = _as_mask(items, n)
    X, Y = V[mask] - V[mask].mean(axis=0), G[mask] - G[mask].mean(axis=0)
    # corr = cov / (sd_x sd_y); every pair at once
    norms_x, norms_y = np.sqrt(np.sum(X**2, axis=0)), np.sqrt(np.sum(Y**2, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (X.T @ Y) / np.outer(norms_x, norms_y)
    corr[~np.isfinite(corr)] = np.nan
    return pd.DataFrame(corr, index=factor_names, columns=names)


# ============================================================================ attributes -> factors
@dataclass(frozen=True)
class AttributeFactors:
    """Item vectors as a linear function of attributes, v_i ~ W^T a_i (see ``attribute_factors``).

    Attributes
    ----------
    W : (g, k) array, or (g + 1, k) with ``intercept`` (its last row is the intercept)
    intercept : bool
        Whether a constant attribute (1 for every item) was appended.
    reg : float
        The ridge penalty it was fitted with.
    """

    W: np.ndarray
    intercept: bool
    reg: float

    def design(self, attributes) -> np.ndarray:
        """The attribute rows a_i as used by W: ``attributes`` with a column of ones appended
        when ``intercept``."""
        A = np.asarray(attributes, dtype=float)
        if A.ndim == 1:
            A = A[None, :]
        expected = self.W.shape[0] - int(self.intercept)
        if A.ndim != 2 or A.shape[1] != expected:
            raise ValueError(f"attributes must have {expected} columns, got shape {A.shape}")
        return np.hstack([A, np.ones((A.shape[0], 1))]) if self.intercept else A

    def transform(self, attributes) -> np.ndarray:
        """Vectors for items given by their attributes (one row each): A W. Works for items
        that have no ratings at all: their vector comes from their genres alone."""
        return self.design(attributes) @ self.W


def attribute_factors(attributes, V, reg: float = 1.0, weights=None, intercept: bool = True) -> AttributeFactors:
    r"""Fit item vectors as a function of item attributes: V ~ A W (the LightFM idea).

    LightFM (lecture notes, *Latent factors as a function of observed attributes*) writes an
    item's vector as the sum of the embeddings of its features, v_i = sum_g a_ig w_g = W^T a_i,
    and learns the feature embeddings w_g (the rows of W) from the interactions. Here W is
    fitted in a second stage, by ridge regression of the vectors already learned for the rated
    items on their attributes (an "attribute-to-factor mapping"):

    .. math::

        W = \arg\min_W \sum_i w_i \|v_i - W^\top a_i\|^2 + \lambda \|W\|_F^2
          = (A^\top D A + \lambda I)^{-1} A^\top D V,

    with D = diag(weights) (e.g. each item's number of ratings: well-estimated vectors count
    more). The choice, and why: the same functional form as LightFM, but one small (g + 1) x
    (g + 1) linear solve on top of any trained model instead of a new training procedure, and
    the targets may hold more than V: pass ``np.column_stack([V, item_bias])`` to map the item
    bias c_i as well. Its limit: W can only reproduce the part of V that is a linear function
    of the genres (exactly all of it when V lies in the column span of A).

    ``transform(g)`` then gives an item with attributes g but no ratings the vector W^T g, where
    basic MF gives it nothing (ALS leaves it at the zero vector, i.e. predicts mu + b_u).

    Parameters
    ----------
    attributes : (n, g) array
        A, e.g. the 0/1 items x genres matrix, for the items used in the fit.
    V : (n, k) array
        Their learned vectors (the targets), one row per item.
    reg : float
        lambda >= 0. With 0 the least-squares solution of minimum norm (``numpy.linalg.lstsq``).
    weights : (n,) array of non-negative floats, optional
        w_i per item; default 1.
    intercept : bool
        Append a constant attribute, so that the mean vector need not be explained by genres.

    Returns
    -------
    AttributeFactors
    """
    A = np.asarray(attributes, dtype=float)
    V = _as_factors(V)
    if A.ndim != 2 or A.shape[0] != V.shape[0]:
        raise ValueError(f"attributes must be an n x g matrix with one row per row of V ({V.shape[0]}), "
                         f"got shape {A.shape}")
    if not np.isfinite(A).all():
        raise ValueError("attributes has NaN or infinite entries")
    if isinstance(reg, bool) or not np.isfinite(reg) or reg < 0:
        raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
    if intercept:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
    w = np.ones(A.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (A.shape[0],) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights must be {A.shape[0]} finite non-negative numbers")
    if reg == 0:
        root = np.sqrt(w)[:, None]
        W = np.linalg.lstsq(root * A, root * V, rcond=None)[0]  # min sum w_i ||v_i - W^T a_i||^2
    else:
        # (A^T D A + lambda I) W = A^T D V
        W = np.linalg.solve(A.T @ (w[:, None] * A) + reg * np.eye(A.shape[1]), A.T @ (w[:, None] * V))
    return AttributeFactors(W=W, intercept=bool(intercept), reg=float(reg))
