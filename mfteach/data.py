"""Data for the lessons: MovieLens, planted low-rank synthetic data, and the sources' toy matrices.

``load_movielens`` reads an extracted MovieLens folder from the data home and downloads the
official GroupLens archive when it is missing (see ``mfteach.download``). The data home is,
in order: the ``data_home`` argument, the environment variable ``MFTEACH_DATA``, or
``~/.cache/mfteach``. Prefetch for an offline classroom with::

    python -m mfteach.data download 100k
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .download import Archive, DownloadError, download_archive
from .ratings import Ratings

__all__ = ["Ratings", "load_movielens", "synthetic", "toy", "TOY_NAMES", "data_home", "ARCHIVES"]

_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"

# MD5 digests as published for the official archives (GroupLens lists them beside each zip).
# The archives' SHA-256 and sizes are not published; ``download_archive`` checks every digest
# that is given, and for 100k the extracted files' SHA-256 below pins the exact content.
ARCHIVES: dict[str, Archive] = {
    "100k": Archive(
        name="ml-100k",
        urls=(_GROUPLENS + "ml-100k.zip",),
        folder="ml-100k",
        required=("u.data", "u.item", "u.genre"),
        md5="0e33842e24a9c977be4e0107933c0723",
        files_sha256={
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        },
    ),
    "1m": Archive(
        name="ml-1m",
        urls=(_GROUPLENS + "ml-1m.zip",),
        folder="ml-1m",
        required=("ratings.dat", "movies.dat"),
        md5="c4d9eecfca2ab87c1945afe126590906",
    ),
    "latest-small": Archive(
        name="ml-latest-small",
        urls=(_GROUPLENS + "ml-latest-small.zip",),
        folder="ml-latest-small",
        required=("ratings.csv", "movies.csv"),
    ),
}


def data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Where MovieLens is looked for and downloaded to: the argument, else ``$MFTEACH_DATA``,
    else ``~/.cache/mfteach``."""
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get("MFTEACH_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "mfteach"


_resolve_home = data_home  # load_movielens's argument shadows the name


def _offline_help(name: str, home: Path, archive: Archive) -> str:
    return (
        f"MovieLens {name} is not in {home} and could not be downloaded.\n"
        f"To use it offline, put the extracted folder at {home / archive.folder}/ "
        f"(with {', '.join(archive.required)}), e.g. unzip {archive.urls[0].rsplit('/', 1)[-1]} there,\n"
        f"or point MFTEACH_DATA (or data_home=...) at a folder that holds {archive.folder}/,\n"
        f"or prefetch while online with:  python -m mfteach.data download {name}"
    )


def _ensure(name: str, home: Path, progress: bool) -> Path:
    if name not in ARCHIVES:
        raise ValueError(f"unknown MovieLens version {name!r}; choose one of {sorted(ARCHIVES)}")
    archive = ARCHIVES[name]
    folder = home / archive.folder
    if all((folder / f).is_file() for f in archive.required):
        return folder
    try:
        return download_archive(archive, home, progress=progress)
    except DownloadError as error:
        raise DownloadError(f"{error}\n\n{_offline_help(name, home, archive)}") from error


def _read_100k(folder: Path) -> Ratings:
    frame = pd.read_csv(folder / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    genres = pd.read_csv(folder / "u.genre", sep="|", names=["genre", "id"], encoding="latin-1").dropna()
    genre_names = list(genres.sort_values("id")["genre"])
    movies = pd.read_csv(
        folder / "u.item", sep="|", header=None, encoding="latin-1",
        names=["item", "title", "release", "video", "url", *genre_names],
    ).set_index("item")
    return _with_movies(frame, movies["title"], movies[genre_names].to_numpy().astype(bool), genre_names)


def _read_1m(folder: Path) -> Ratings:
    # "::" separated; reading with sep=":" (every other column empty) keeps pandas' fast C parser
    frame = pd.read_csv(folder / "ratings.dat", sep=":", header=None, usecols=[0, 2, 4, 6])
    frame.columns = ["user", "item", "rating", "timestamp"]
    movies = pd.read_csv(folder / "movies.dat", sep="::", engine="python", names=["item", "title", "genres"],
                         encoding="latin-1").set_index("item")
    return _with_genre_strings(frame, movies)


def _read_latest_small(folder: Path) -> Ratings:
    frame = pd.read_csv(folder / "ratings.csv").rename(columns={"userId": "user", "movieId": "item"})
    movies = pd.read_csv(folder / "movies.csv").rename(columns={"movieId": "item"}).set_index("item")
    return _with_genre_strings(frame, movies)


def _with_genre_strings(frame: pd.DataFrame, movies: pd.DataFrame) -> Ratings:
    split = movies["genres"].str.split("|")
    names = sorted({g for gs in split for g in gs if g != "(no genres listed)"})
    flags = np.array([[g in gs for g in names] for gs in split.map(set)], dtype=bool)
    return _with_movies(frame, movies["title"], flags, names)


def _with_movies(frame: pd.DataFrame, titles: pd.Series, genre_flags: np.ndarray, genre_names: list[str]) -> Ratings:
    """Ratings over the rated movies, with their titles and genre lists aligned to the columns."""
    ratings = Ratings.from_frame(frame, user="user", item="item", rating="rating")
    position = titles.index.get_indexer(ratings.items)
    if (position < 0).any():
        raise ValueError(f"movie ids without a title in the movie file, e.g. {ratings.items[position < 0][:5]}")
    names = np.asarray(genre_names, dtype=object)
    genres = [list(names[row]) for row in genre_flags[position]]
    return Ratings(
        ratings.rows, ratings.cols, ratings.values, shape=ratings.shape, users=ratings.users,
        items=ratings.items, item_titles=titles.to_numpy()[position], item_genres=genres,
    )


_READERS = {"100k": _read_100k, "1m": _read_1m, "latest-small": _read_latest_small}


def load_movielens(name: str = "100k", data_home: str | os.PathLike | None = None, progress: bool = True) -> Ratings:
    """Load MovieLens ``"100k"``, ``"latest-small"`` or ``"1m"`` as ``Ratings`` with titles and genres.

    Rows are users and columns are the rated movies, both in increasing order of their
    MovieLens ids (``ratings.users``, ``ratings.items``); e.g. for 100k, column 0 is movie id 1,
    "Toy Story (1995)". The folder is looked for in the data home (see ``data_home``) and
    downloaded there, with a progress bar and checksum verification, when it is missing.

    Raises
    ------
    ValueError
        Unknown ``name``.
    mfteach.download.DownloadError
        The data is absent and could not be downloaded; the message says where to put the
        files and how to prefetch them.
    """
    if name not in _READERS:
        raise ValueError(f"unknown MovieLens version {name!r}; choose one of {sorted(_READERS)}")
    folder = _ensure(name, _resolve_home(data_home), progress)
    return _READERS[name](folder)


# ---------------------------------------------------------------------------- synthetic data
def synthetic(m: int, n: int, rank: int, density: float = 0.1, noise: float = 0.1, seed: int = 0,
              n_ratings: int | None = None) -> tuple[Ratings, np.ndarray, np.ndarray]:
    """Planted low-rank ratings: r_ui = u_u . v_i + noise on a random Omega.

    U_true (m x k) and V_true (n x k) have i.i.d. N(0, 1/sqrt(k)) entries, so every entry of
    U_true V_true^T has unit variance; ``noise`` is the standard deviation of the Gaussian
    noise added to the observed entries. Omega has ``n_ratings`` entries (default
    round(density m n)); every user and every item gets at least one, the rest are uniform.

    Returns
    -------
    ratings, U_true, V_true
    """
    for label, value in (("m", m), ("n", n), ("rank", rank)):
        if int(value) < 1:
            raise ValueError(f"{label} must be >= 1, got {value}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    total = m * n
    if n_ratings is None:
        if not 0 < density <= 1:
            raise ValueError(f"density must be in (0, 1], got {density}")
        n_ratings = int(round(density * total))
    if not max(m, n) <= n_ratings <= total:
        raise ValueError(f"n_ratings must be between max(m, n) = {max(m, n)} and m n = {total}, got {n_ratings}")
    rng = np.random.default_rng(seed)
    scale = rank ** -0.25
    U_true = rng.normal(0.0, scale, size=(m, rank))
    V_true = rng.normal(0.0, scale, size=(n, rank))
    # one entry for every user and every item, then uniform entries until there are n_ratings
    taken = np.zeros(total, dtype=bool)
    cover = max(m, n)
    taken[np.arange(cover) % m * n + rng.permutation(cover) % n] = True
    if n_ratings == total:
        taken[:] = True  # fully observed: the top-up below would be a coupon collector's wait
    while (short := n_ratings - np.count_nonzero(taken)) > 0:
        taken[rng.integers(0, total, size=short)] = True  # repeats fall out; the loop tops up
    keys = np.flatnonzero(taken)
    rows, cols = np.divmod(keys, n)
    values = np.einsum("ij,ij->i", U_true[rows], V_true[cols]) + noise * rng.standard_normal(len(keys))
    return Ratings(rows, cols, values, shape=(m, n)), U_true, V_true


# ---------------------------------------------------------------------------- toy matrices
_Q = np.nan  # the sources' "?" / "*"
_TOYS: dict[str, tuple[np.ndarray, str]] = {
    "lecture_R": (
        np.array([[1, _Q, _Q, 2, _Q, 1], [_Q, 2, 3, _Q, 2, 1], [1, 5, 5, _Q, _Q, 5], [_Q, _Q, 2, _Q, _Q, 3]]),
        "Lecture slides 'Recommender Systems 1': the 4 x 6 rating matrix R (NaN = ?).",
    ),
    "lecture_U": (
        np.array([[0.3, 0.7], [0.3, 0.5], [0.2, 0.4], [0.2, 0.1]]),
        "Lecture slides: the 4 x 2 user factors U of the example with d = 2.",
    ),
    "lecture_Vt": (
        np.array([[1, 10, 11, 10, 4, 20], [1, -1, -2, -1, 1, -4]], dtype=float),
        "Lecture slides: the 2 x 6 item factors V^T; U @ Vt gives 2.3, 1.9, ... for the unknowns.",
    ),
    "book_9.2.5": (
        np.array([[1, 1, _Q, 2], [1, 1, _Q, _Q], [4, _Q, 8, _Q], [4, _Q, _Q, _Q]]),
        "Book Example 9.2.5: completable to rank 1 as (1, 1, 4, 4)^T (1, 1, 2, 2) (NaN = *).",
    ),
    "book_9.2.6": (
        np.array([[1, 1, _Q, _Q], [1, 7, _Q, _Q], [4, _Q, _Q, 2], [_Q, 4, _Q, _Q]]),
        "Book Example 9.2.6: not completable to rank 1 (M21/M11 = 1 but M22/M12 = 7).",
    ),
    "lecture_P": (
        np.array([[1, 0, 0, 1, 0, 1], [0, 1, 1, 0, 1, 1], [1, 1, 1, 0, 0, 1], [0, 0, 1, 0, 0, 1]], dtype=float),
        "Lecture slides, implicit feedback: the binary preference matrix P.",
    ),
    "lecture_C": (
        np.array([[0.85, 0, 0, 0.34, 0, 0.98], [0, 0.37, 0.10, 0, 0.63, 0.01],
                  [0.45, 0.42, 0.43, 0, 0, 0.23], [0, 0, 0.26, 0, 0, 0.88]]),
        "Lecture slides, implicit feedback: the confidence matrix C shown beside P.",
    ),
}
TOY_NAMES = tuple(_TOYS)


def toy(name: str) -> np.ndarray:
    """A small matrix from the sources, by name (a fresh float copy; NaN marks unknown).

    Names: ``lecture_R``, ``lecture_U``, ``lecture_Vt`` (the 4 x 6 example of the lecture
    slides), ``book_9.2.5``, ``book_9.2.6`` (the book's rank-1 completion examples),
    ``lecture_P``, ``lecture_C`` (implicit feedback). ``toy_description(name)`` says where
    each comes from.
    """
    if name not in _TOYS:
        raise ValueError(f"unknown toy matrix {name!r}; choose one of {list(_TOYS)}")
    return np.array(_TOYS[name][0], dtype=np.float64)


def toy_description(name: str) -> str:
    """Where the toy matrix ``name`` comes from."""
    if name not in _TOYS:
        raise ValueError(f"unknown toy matrix {name!r}; choose one of {list(_TOYS)}")
    return _TOYS[name][1]


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m mfteach.data download 100k [--data-home DIR]``: prefetch MovieLens."""
    parser = argparse.ArgumentParser(prog="python -m mfteach.data", description="Prefetch MovieLens for offline use.")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help="download and extract a MovieLens version into the data home")
    get.add_argument("name", choices=sorted(ARCHIVES))
    get.add_argument("--data-home", default=None, help="folder to put it in (default: $MFTEACH_DATA or ~/.cache/mfteach)")
    args = parser.parse_args(argv)
    home = data_home(args.data_home)
    try:
        folder = _ensure(args.name, home, progress=True)
    except DownloadError as error:
        print(error, file=sys.stderr)
        return 1
    ratings = _READERS[args.name](folder)
    print(f"MovieLens {args.name} is ready in {folder}: {ratings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
