"""The ``Ratings`` container: an immutable m x n rating matrix stored by its known entries.

Notation (ARCHITECTURE.md, "Notation"): R is m x n with users in rows and items in columns; Omega is
the set of observed (user, item) pairs, stored here as the parallel arrays ``rows``, ``cols``
and ``values`` (one entry per observed rating, sorted by user then item).
"""

from __future__ import annotations

import hashlib
import numbers
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["Ratings", "Fingerprint", "Grouping", "MAX_SIDE"]

MAX_SIDE = 100_000_000  # most users (rows) or items (columns) a Ratings may have: 8 bytes each per index map
_INT64_MAX = np.iinfo(np.int64).max


class Fingerprint(NamedTuple):
    """What identifies a set of ratings, cheaply: the shape, the number of ratings and SHA-256
    digests of Omega (``rows``, ``cols``) and of the ``values``. Two ``Ratings`` with equal
    fingerprints hold the same ratings (the index maps, titles and genres are not part of it).
    A fitted model keeps the fingerprint of its training ratings (``model.fingerprint_``) so that
    the explanations can refuse other ratings."""

    shape: tuple[int, int]
    count: int
    omega: str   # hex SHA-256 of rows and cols
    values: str  # hex SHA-256 of values

    def describe(self) -> str:
        """``943 x 1682, 80000 ratings, fingerprint 1a2b3c4d/5e6f7a8b`` (the digests' first 8 hex digits)."""
        m, n = self.shape
        return f"{m} x {n}, {self.count} ratings, fingerprint {self.omega[:8]}/{self.values[:8]}"


class Grouping(NamedTuple):
    """Omega grouped by user (``Ratings.by_user``, CSR order) or by item (``Ratings.by_item``, CSC
    order): group g's entries are ``order[indptr[g]:indptr[g + 1]]`` in the Ratings' arrays, their
    other index (the items of a user, the users of an item) ``index[indptr[g]:indptr[g + 1]]`` and
    their ratings ``values[indptr[g]:indptr[g + 1]]``. Every array is read-only.

    The one grouping of the package (ARCHITECTURE.md, "Data"): ALS, GradientDescent, ImplicitALS
    and the explanations all read it from their Ratings, which computes it once."""

    indptr: np.ndarray  # (groups + 1,) int64: group g is positions indptr[g]:indptr[g + 1]
    order: np.ndarray   # (|Omega|,) int64: entry number (in rows/cols/values) at each position
    index: np.ndarray   # (|Omega|,) int64: the other side's index at each position
    values: np.ndarray  # (|Omega|,) float64: the rating at each position
    counts: np.ndarray  # (groups,) int64: entries per group (|Omega_u| or |Omega^i|)

    def positions(self, groups) -> np.ndarray:
        """The positions indptr[g]:indptr[g + 1] of every group g in ``groups``, concatenated in
        that order (index ``index``/``values`` with them), without a Python loop."""
        groups = np.asarray(groups, dtype=np.int64)
        starts, lengths = self.indptr[groups], self.indptr[groups + 1] - self.indptr[groups]
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return offsets + np.arange(int(lengths.sum()), dtype=np.int64)

    def entries(self, groups) -> np.ndarray:
        """The entry numbers (into the Ratings' ``rows``, ``cols``, ``values``) of every rating of
        the groups ``groups``: the rows of chosen users, or the columns of chosen items."""
        return self.order[self.positions(groups)]


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _too_large(name: str, k: int, value) -> ValueError:
    return ValueError(
        f"{name} entry {k} is {value}: Ratings takes indices 0..m-1 (rows, one per user) and 0..n-1 (cols, one per "
        f"item) with m, n <= {MAX_SIDE:,}. These look like raw ids: Ratings.from_frame(frame) maps any ids to "
        f"indices (or subtract the smallest id)")


def _as_index_array(name: str, ids) -> np.ndarray:
    """Integer ids as int64; floats are accepted only when they hold whole numbers. Indices beyond
    ``MAX_SIDE`` (raw ids such as 10**12, or values that do not fit in int64) are refused."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {ids.shape}")
    if ids.dtype == object and ids.size and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                for v in ids.tolist()):
        # Python ints beyond int64 (numpy keeps them as objects): name the first that does not fit
        for k, value in enumerate(ids.tolist()):  # only reached for out-of-range input
            if not -_INT64_MAX <= value <= _INT64_MAX:
                raise _too_large(name, k, value)
        ids = ids.astype(np.int64)
    if ids.dtype == bool or not (np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating)):
        raise TypeError(f"{name} must hold integer indices, got dtype {ids.dtype}")
    if np.issubdtype(ids.dtype, np.floating):
        bad = ~np.isfinite(ids) | (ids != np.round(ids))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} must be whole numbers; entry {first} is {ids[first]}")
    if ids.size and ids.max() >= MAX_SIDE:  # before the cast: uint64 >= 2**63 and huge floats would wrap
        k = int(np.argmax(ids))
        raise _too_large(name, k, ids[k])
    return ids.astype(np.int64)


def _check_shape(shape) -> tuple[int, int]:
    """(m, n) as two ints >= 1; whole-number floats are accepted, fractions, bools and others refused."""
    try:
        m, n = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be two positive integers (m, n), got {shape!r}") from None
    out = []
    for value in (m, n):
        whole = isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and np.isfinite(value)
                                                        and float(value) == int(value))
        if isinstance(value, (bool, np.bool_)) or not whole or int(value) < 1:
            raise ValueError(f"shape must be two positive integers (m, n), got {shape!r}")
        if int(value) > MAX_SIDE:
            raise ValueError(f"shape {shape!r} is too large: at most {MAX_SIDE:,} users and items (Ratings stores one "
                             f"id per row and column); map raw ids to indices with Ratings.from_frame")
        out.append(int(value))
    return out[0], out[1]


def _check_id_map(name: str, ids, size: int, what: str) -> np.ndarray:
    """The original ids of the rows (``users``) or columns (``items``): one per row / column."""
    if ids is None:
        return np.arange(size)
    ids = np.asarray(ids)
    if ids.shape != (size,):
        got = f"the single value {ids.item()!r}" if ids.ndim == 0 else f"shape {ids.shape}"
        raise ValueError(f"{name} must have one id per {what} (a 1-D array of length {size}), got {got}")
    return ids


def _check_genres(item_genres, n: int) -> list[list[str]]:
    """One list of genre names (strings) per item."""
    if isinstance(item_genres, (str, bytes)):
        raise TypeError(f"item_genres must be one list of genre names per item, got the string {item_genres!r}")
    try:
        entries = list(item_genres)
    except TypeError:
        raise TypeError(f"item_genres must be one list of genre names per item, got {type(item_genres).__name__}") \
            from None
    out = []
    for i, genres in enumerate(entries):  # one Python step per item (not per rating), like the titles
        if isinstance(genres, (str, bytes)):
            raise TypeError(f"item_genres must be one list of genre names per item; entry {i} is the string "
                            f"{genres!r}: write [{genres!r}] (a string would be split into its characters)")
        try:
            genres = list(genres)
        except TypeError:
            raise TypeError(f"item_genres must be one list of genre names per item; entry {i} is "
                            f"{genres!r} ({type(genres).__name__})") from None
        if not all(isinstance(g, str) for g in genres):
            bad = next(g for g in genres if not isinstance(g, str))
            raise TypeError(f"item_genres must hold genre names (strings); entry {i} holds {bad!r}")
        out.append(genres)
    if len(out) != n:
        raise ValueError(f"item_genres must have one list per item ({n}), got {len(out)}")
    return out


class Ratings:
    """Explicit or implicit feedback: an m x n matrix known only on Omega.

    Parameters
    ----------
    rows, cols : array of int, length |Omega|
        User index u and item index i of each known entry, 0 <= u < m, 0 <= i < n.
    values : array of float, length |Omega|
        The rating r_ui of each known entry; must be finite.
    shape : (m, n), optional
        Defaults to (max(rows) + 1, max(cols) + 1).
    users, items : array, optional
        The original id of each row / column (e.g. MovieLens ids); default 0..m-1 / 0..n-1.
    item_titles : array of str, optional
    item_genres : list of list of str, optional

    The object is immutable: every array is read-only and every method that "changes" the
    ratings returns a new ``Ratings`` that shares the index maps (shape, users, items, titles).
    Entries are kept sorted by (row, col), so two ``Ratings`` with the same entries are equal
    array for array.

    Raises
    ------
    ValueError
        Empty input, mismatched lengths, NaN or infinite values, negative or out-of-range
        indices, or a duplicated (user, item) pair; the message names the first offending entry.
        Also a shape that is not two positive whole numbers, an index beyond ``MAX_SIDE`` (raw
        ids such as 10**12 or 2**63: use ``from_frame``), or ``users`` / ``items`` /
        ``item_titles`` that are not one per row / column.
    TypeError
        Indices or values that are not numbers, or ``item_genres`` that are not one list of
        genre names per item (a string per item would be split into characters).
    """

    __slots__ = ("_rows", "_cols", "_values", "_shape", "_users", "_items", "_item_titles", "_item_genres",
                 "_fingerprint", "_by_user", "_by_item", "_genre_labels")
    _CACHES = ("_fingerprint", "_by_user", "_by_item", "_genre_labels")  # computed on first use, never pickled

    def __init__(
        self,
        rows,
        cols,
        values,
        shape: tuple[int, int] | None = None,
        users=None,
        items=None,
        item_titles=None,
        item_genres=None,
    ):
        rows = _as_index_array("rows", rows)
        cols = _as_index_array("cols", cols)
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"values must be a 1-D array, got shape {values.shape}")
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise TypeError(f"values must be numbers, got dtype {values.dtype}")
        values = values.astype(np.float64)
        if not (len(rows) == len(cols) == len(values)):
            raise ValueError(
                f"rows, cols and values must have the same length, got {len(rows)}, {len(cols)} and {len(values)}"
            )
        if len(values) == 0:
            raise ValueError("no ratings: rows, cols and values are empty")
        bad = ~np.isfinite(values)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"ratings must be finite: entry {k} (user {rows[k]}, item {cols[k]}) is {values[k]}"
                f" ({int(bad.sum())} non-finite value(s) in all)"
            )
        for name, ids in (("rows", rows), ("cols", cols)):
            if (ids < 0).any():
                k = int(np.flatnonzero(ids < 0)[0])
                raise ValueError(f"{name} must be non-negative indices: entry {k} is {ids[k]}")
        if shape is None:
            shape = (int(rows.max()) + 1, int(cols.max()) + 1)
        m, n = _check_shape(shape)
        for name, ids, size, what in (("rows", rows, m, "users m"), ("cols", cols, n, "items n")):
            if (ids >= size).any():
                k = int(np.flatnonzero(ids >= size)[0])
                raise ValueError(f"{name} index out of range: entry {k} is {ids[k]} but the number of {what} = {size}")

        key = rows * n + cols  # position in the row-major m x n matrix
        if not (key[1:] > key[:-1]).all():  # not already sorted and duplicate-free
            order = np.argsort(key, kind="stable")
            rows, cols, values, key = rows[order], cols[order], values[order], key[order]
            same = key[1:] == key[:-1]
            if same.any():
                k = int(np.flatnonzero(same)[0])
                first, second = sorted((int(order[k]), int(order[k + 1])))
                raise ValueError(
                    f"duplicate (user, item) pair ({rows[k]}, {cols[k]}) at entries {first} and {second};"
                    " each pair may be rated once (aggregate duplicates before building Ratings)"
                )

        users = _check_id_map("users", users, m, "row")
        items = _check_id_map("items", items, n, "column")
        if item_titles is not None:
            item_titles = np.asarray(item_titles, dtype=object)
            if item_titles.shape != (n,):
                got = "a single value" if item_titles.ndim == 0 else f"shape {item_titles.shape}"
                raise ValueError(f"item_titles must have one title per item ({n}), got {got}")
        if item_genres is not None:
            item_genres = _check_genres(item_genres, n)

        set_ = object.__setattr__
        set_(self, "_rows", _readonly(rows))
        set_(self, "_cols", _readonly(cols))
        set_(self, "_values", _readonly(values))
        set_(self, "_shape", (m, n))
        set_(self, "_users", _readonly(users))
        set_(self, "_items", _readonly(items))
        set_(self, "_item_titles", None if item_titles is None else _readonly(item_titles))
        set_(self, "_item_genres", None if item_genres is None else tuple(tuple(g) for g in item_genres))
        for name in self._CACHES:
            set_(self, name, None)

    def __setattr__(self, name, value):
        raise AttributeError(f"Ratings is immutable; cannot set {name!r} (build a new Ratings instead)")

    # immutable: a copy is the object itself; pickling (e.g. from the exercise checker's child
    # process) rebuilds it slot by slot, read-only again
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return _restore_ratings, ({name: getattr(self, name, None) for name in self.__slots__
                                   if name not in self._CACHES},)

    # ------------------------------------------------------------------ accessors
    rows = property(lambda self: self._rows, doc="User index of each known entry (int64).")
    cols = property(lambda self: self._cols, doc="Item index of each known entry (int64).")
    values = property(lambda self: self._values, doc="Rating of each known entry (float64).")
    shape = property(lambda self: self._shape, doc="(m, n): number of users and items.")
    users = property(lambda self: self._users, doc="Original id of each row.")
    items = property(lambda self: self._items, doc="Original id of each column.")
    item_titles = property(lambda self: self._item_titles, doc="None or the title of each item.")

    @property
    def fingerprint(self) -> Fingerprint:
        """The ``Fingerprint`` of these ratings: shape, count and SHA-256 of (rows, cols) and of
        values. Computed on first use (about 2 ms per 100,000 ratings) and kept: the object is immutable."""
        known = getattr(self, "_fingerprint", None)
        if known is None:
            omega = hashlib.sha256()
            omega.update(self._rows)
            omega.update(self._cols)
            known = Fingerprint(self._shape, len(self._values), omega.hexdigest(),
                                hashlib.sha256(self._values).hexdigest())
            object.__setattr__(self, "_fingerprint", known)
        return known

    @property
    def by_user(self) -> Grouping:
        """Omega grouped by user (CSR order): the entries are already sorted by user, so ``order``
        is 0..|Omega|-1 and ``index`` is ``cols``. Computed on first use and kept."""
        known = getattr(self, "_by_user", None)
        if known is None:
            counts = self.user_counts()
            known = Grouping(_readonly(np.concatenate(([0], np.cumsum(counts)))),
                             _readonly(np.arange(len(self._values), dtype=np.int64)), self._cols, self._values,
                             _readonly(counts))
            object.__setattr__(self, "_by_user", known)
        return known

    @property
    def by_item(self) -> Grouping:
        """Omega grouped by item (CSC order; within an item, by user): ``order`` is the stable
        argsort of ``cols`` and ``index`` the users. Computed on first use and kept."""
        known = getattr(self, "_by_item", None)
        if known is None:
            counts = self.item_counts()
            order = np.argsort(self._cols, kind="stable")
            known = Grouping(_readonly(np.concatenate(([0], np.cumsum(counts)))), _readonly(order),
                             _readonly(self._rows[order]), _readonly(self._values[order]), _readonly(counts))
            object.__setattr__(self, "_by_item", known)
        return known

    @property
    def item_genres(self):
        """None or, per item, the list of its genre names."""
        return None if self._item_genres is None else [list(g) for g in self._item_genres]

    def genre_labels(self, items) -> np.ndarray:
        """The genres of the columns ``items`` as ", "-joined strings ("" when the ratings carry
        no genres), for tables; the strings are built once per object."""
        known = getattr(self, "_genre_labels", None)
        if known is None:
            n = self._shape[1]
            known = np.full(n, "", dtype=object)
            if self._item_genres is not None:
                known[:] = [", ".join(g) for g in self._item_genres]
            known = _readonly(known)
            object.__setattr__(self, "_genre_labels", known)
        return known[np.asarray(items, dtype=np.int64)]

    def item_labels(self, items) -> np.ndarray:
        """What to show for the columns ``items``: their titles, or their original ids when the
        ratings carry no titles."""
        items = np.asarray(items)
        return self._item_titles[items] if self._item_titles is not None else self._items[items]

    def __len__(self) -> int:
        return len(self._values)

    @property
    def density(self) -> float:
        """|Omega| / (m n): the fraction of the matrix that is known."""
        return len(self) / (self._shape[0] * self._shape[1])

    def user_counts(self) -> np.ndarray:
        """|Omega_u| for every user u: how many items each user rated."""
        return np.bincount(self._rows, minlength=self._shape[0])

    def item_counts(self) -> np.ndarray:
        """|Omega^i| for every item i: how many users rated each item."""
        return np.bincount(self._cols, minlength=self._shape[1])

    def __repr__(self) -> str:
        m, n = self._shape
        return f"Ratings({m} users x {n} items, {len(self)} ratings, density {self.density:.2%})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Ratings):
            return NotImplemented
        return (
            self._shape == other._shape
            and np.array_equal(self._rows, other._rows)
            and np.array_equal(self._cols, other._cols)
            and np.array_equal(self._values, other._values)
        )

    __hash__ = None

    # ------------------------------------------------------------------ conversions
    def to_dense(self, fill: float = np.nan) -> np.ndarray:
        """The m x n matrix with ``fill`` (default NaN, the "?" of the lectures) where unknown."""
        dense = np.full(self._shape, fill, dtype=np.float64)
        dense[self._rows, self._cols] = self._values
        return dense

    def to_csr(self) -> sp.csr_matrix:
        """R as a scipy CSR matrix (rows = users). Unknown entries are structural zeros;
        a known rating of 0 is kept as an explicit stored zero."""
        return sp.csr_matrix((self._values.copy(), self._cols.copy(), self.by_user.indptr.copy()), shape=self._shape)

    def to_frame(self) -> pd.DataFrame:
        """One row per rating: user and item (original ids), row and col (indices), rating."""
        return pd.DataFrame(
            {
                "user": self._users[self._rows],
                "item": self._items[self._cols],
                "row": self._rows,
                "col": self._cols,
                "rating": self._values,
            }
        )

    def _subset(self, mask: np.ndarray) -> "Ratings":
        """The ratings where ``mask`` is True, with the same index maps."""
        return Ratings(
            self._rows[mask],
            self._cols[mask],
            self._values[mask],
            shape=self._shape,
            users=self._users,
            items=self._items,
            item_titles=self._item_titles,
            item_genres=self._item_genres,
        )

    def with_values(self, values) -> "Ratings":
        """The same Omega and index maps with new rating values (e.g. implicit 0/1 data)."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self._values.shape:
            raise ValueError(f"values must have length {len(self)}, got shape {values.shape}")
        return Ratings(
            self._rows, self._cols, values, shape=self._shape, users=self._users, items=self._items,
            item_titles=self._item_titles, item_genres=self._item_genres,
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dense(cls, matrix, **kwargs) -> "Ratings":
        """Build from an m x n array in which NaN marks an unknown entry (the lectures' "?"); in a
        ``numpy.ma.MaskedArray`` the masked entries are unknown too."""
        if isinstance(matrix, np.ma.MaskedArray):
            mask = np.ma.getmaskarray(matrix)
            matrix = np.array(np.ma.getdata(matrix), dtype=np.float64)
            matrix[mask] = np.nan
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"from_dense needs a 2-D matrix, got shape {matrix.shape}")
        if np.isinf(matrix).any():
            u, i = np.argwhere(np.isinf(matrix))[0]
            raise ValueError(f"ratings must be finite: entry ({u}, {i}) is {matrix[u, i]}; use NaN for unknown")
        rows, cols = np.nonzero(~np.isnan(matrix))
        return cls(rows, cols, matrix[rows, cols], shape=matrix.shape, **kwargs)

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, user: str = "user", item: str = "item", rating: str = "rating", **kwargs
    ) -> "Ratings":
        """Build from a long table with one rating per row.

        User and item ids may be any sortable labels; they are mapped to indices 0..m-1 and
        0..n-1 in sorted order, and kept in ``users`` / ``items``.

        Raises
        ------
        ValueError
            A column is absent, or an id is missing (None / NaN: it would silently become one
            user "nan"); the message names the column and the first rows.
        TypeError
            ``frame`` is not a DataFrame, or a column's ids cannot be sorted (mixed types).
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"from_frame needs a pandas DataFrame, got {type(frame).__name__}")
        missing = [c for c in (user, item, rating) if c not in frame.columns]
        if missing:
            raise ValueError(f"column(s) {missing} not in the frame; it has {list(frame.columns)}")
        codes = []
        for column in (user, item):
            absent = frame[column].isna().to_numpy()
            if absent.any():
                where = list(frame.index[absent][:3])
                raise ValueError(f"column {column!r} has {int(absent.sum())} missing id(s) (None or NaN), e.g. at "
                                 f"index {where}; drop those rows or fill in the ids first")
            try:
                codes.append(np.unique(frame[column].to_numpy(), return_inverse=True))
            except TypeError as error:
                raise TypeError(f"the ids in column {column!r} cannot be sorted ({error}); use ids of one type, "
                                f"e.g. frame[{column!r}].astype(str)") from None
        (users, rows), (items, cols) = codes
        return cls(rows, cols, frame[rating].to_numpy(), shape=(len(users), len(items)), users=users, items=items, **kwargs)

    # ------------------------------------------------------------------ derived data sets
    def split(self, test_size: float = 0.2, seed: int = 0, how: str = "entries") -> tuple["Ratings", "Ratings"]:
        """Split Omega into (train, test) with the same shape and index maps.

        how="entries": a uniformly random ``test_size`` fraction of the ratings goes to test,
        except that a user whose every rating was drawn keeps one (the first drawn) in train,
        so that every test user has a training rating to learn u_u from.
        how="leave_one_out": one random rating of every user with at least two ratings goes to
        test (``test_size`` is ignored), the protocol of the KDD 2019 FIA paper.

        Deterministic for a given ``seed``.
        """
        rng = np.random.default_rng(seed)
        n_ratings = len(self)
        if how == "entries":
            if not (isinstance(test_size, (int, float, np.floating)) and 0 < test_size < 1):
                raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}")
            draw_order = rng.permutation(n_ratings)  # rank of every entry in the random draw
            rank = np.empty(n_ratings, dtype=np.int64)
            rank[draw_order] = np.arange(n_ratings)
            is_test = rank < int(round(test_size * n_ratings))
            train_count = np.bincount(self._rows[~is_test], minlength=self._shape[0])
            stranded = is_test & (train_count[self._rows] == 0)
            if stranded.any():
                # per stranded user, the entry drawn first (smallest rank) goes back to train
                idx = np.flatnonzero(stranded)
                idx = idx[np.lexsort((rank[idx], self._rows[idx]))]
                first = np.concatenate(([True], self._rows[idx][1:] != self._rows[idx][:-1]))
                is_test[idx[first]] = False
        elif how == "leave_one_out":
            by_user = self.by_user
            counts, starts = by_user.counts, by_user.indptr[:-1]  # user u owns starts[u] : starts[u] + counts[u]
            eligible = np.flatnonzero(counts >= 2)
            picks = starts[eligible] + (rng.random(len(eligible)) * counts[eligible]).astype(np.int64)
            is_test = np.zeros(n_ratings, dtype=bool)
            is_test[picks] = True
        else:
            raise ValueError(f"how must be 'entries' or 'leave_one_out', got {how!r}")
        if not is_test.any():
            raise ValueError("the split left no ratings in the test set; use more data or a larger test_size")
        return self._subset(~is_test), self._subset(is_test)

    def top(self, n_users: int | None = None, n_items: int | None = None) -> "Ratings":
        """The n_users most active users x the n_items most rated items (the FATREC 2017 setup:
        650 most active users and 50 most rated movies). Activity and popularity are counted
        on the full data; ties go to the lower index. Rows and columns are re-indexed in order
        of decreasing activity/popularity; ``users``/``items``/titles follow them."""
        m, n = self._shape
        n_users = m if n_users is None else int(n_users)
        n_items = n if n_items is None else int(n_items)
        if not (1 <= n_users <= m) or not (1 <= n_items <= n):
            raise ValueError(f"top needs 1 <= n_users <= {m} and 1 <= n_items <= {n}, got {n_users}, {n_items}")
        keep_users = np.argsort(-self.user_counts(), kind="stable")[:n_users]
        keep_items = np.argsort(-self.item_counts(), kind="stable")[:n_items]
        new_row = np.full(m, -1)
        new_row[keep_users] = np.arange(n_users)
        new_col = np.full(n, -1)
        new_col[keep_items] = np.arange(n_items)
        mask = (new_row[self._rows] >= 0) & (new_col[self._cols] >= 0)
        return Ratings(
            new_row[self._rows[mask]],
            new_col[self._cols[mask]],
            self._values[mask],
            shape=(n_users, n_items),
            users=self._users[keep_users],
            items=self._items[keep_items],
            item_titles=None if self._item_titles is None else self._item_titles[keep_items],
            item_genres=None if self._item_genres is None else [self._item_genres[i] for i in keep_items],
        )

    def index_of(self, user, item) -> int:
        """Position in ``rows``/``cols``/``values`` of the rating (user, item) (indices, not ids)."""
        user, item = int(user), int(item)
        lo = np.searchsorted(self._rows, user, side="left")
        hi = np.searchsorted(self._rows, user, side="right")
        k = lo + np.searchsorted(self._cols[lo:hi], item)
        if k >= hi or self._cols[k] != item:
            raise ValueError(f"user {user} has not rated item {item}: (user, item) is not in Omega")
        return int(k)

    def without(self, user, item) -> "Ratings":
        """A copy with the rating (user, item) removed (indices, not ids); for leave-one-out.

        ``user`` and ``item`` may also be equal-length sequences to remove several ratings."""
        users_ = np.atleast_1d(user)
        items_ = np.atleast_1d(item)
        if users_.shape != items_.shape:
            raise ValueError(f"user and item must have the same length, got {users_.shape} and {items_.shape}")
        keep = np.ones(len(self), dtype=bool)
        for u, i in zip(users_, items_):
            keep[self.index_of(u, i)] = False
        if not keep.any():
            raise ValueError("removing these ratings would leave no ratings at all")
        return self._subset(keep)

    def genre_matrix(self) -> tuple[np.ndarray, list[str]]:
        """Items x genres 0/1 matrix built from ``item_genres`` and the sorted genre names."""
        if self._item_genres is None:
            raise ValueError("these ratings carry no item genres")
        names = sorted({g for genres in self._item_genres for g in genres})
        column = {g: j for j, g in enumerate(names)}
        matrix = np.zeros((self._shape[1], len(names)))
        for i, genres in enumerate(self._item_genres):
            matrix[i, [column[g] for g in genres]] = 1.0
        return matrix, names


def _restore_ratings(state: dict) -> Ratings:
    """Unpickle a :class:`Ratings` (see ``Ratings.__reduce__``)."""
    ratings = object.__new__(Ratings)
    for name, value in state.items():
        object.__setattr__(ratings, name, _readonly(value) if isinstance(value, np.ndarray) else value)
    for name in Ratings._CACHES:
        object.__setattr__(ratings, name, None)
    return ratings
