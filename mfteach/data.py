"""Data for the lessons: MovieLens, planted low-rank synthetic data, and the sources' toy matrices.

``load_movielens`` reads an extracted MovieLens folder from the data home and downloads the
official GroupLens archive when it is missing (see ``mfteach.download``). The data home is,
in order: the ``data_home`` argument, the environment variable ``MFTEACH_DATA``, or
``~/.cache/mfteach``. Prefetch for an offline classroom with::

    python -m mfteach.data download 100k

Every load first checks the files against their SHA-256 (pinned for 100k, recorded at download
for 1m and latest-small) and refuses a damaged copy with a ``CorruptDataError`` that names the
file and the repair command (``download NAME --force``). Downloads try a mirror first when one
is set: the environment variable ``MFTEACH_MIRROR`` (a URL or a local folder holding the
official zip files under their own names), or ``--mirror`` / ``--url`` on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .download import Archive, CorruptDataError, DownloadError, clean_stale, download_archive, verify_folder
from .ratings import Ratings

__all__ = ["Ratings", "load_movielens", "download", "synthetic", "toy", "TOY_NAMES", "data_home", "ARCHIVES",
           "MIRROR_ENV"]

MIRROR_ENV = "MFTEACH_MIRROR"  # a URL or a local folder holding ml-100k.zip, ml-1m.zip, ... (tried first)

_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"

# MD5 digests as published for the official archives (GroupLens lists them beside each zip).
# The archives' SHA-256 and sizes are not published; ``download_archive`` checks every digest
# that is given, and for 100k the extracted files' SHA-256 below pins the exact content.
# ml-latest-small is updated now and then, so its MD5 is not pinned: the one GroupLens publishes
# beside the zip (``.zip.md5``) is fetched and checked when available. For 1m and latest-small
# the extracted files' SHA-256 is recorded at download and checked at every load.
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
        published_md5=True,
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
        f"or point {MIRROR_ENV} at a web or local folder that holds {archive.urls[0].rsplit('/', 1)[-1]},\n"
        f"or prefetch while online with:  python -m mfteach.data download {name}"
    )


def _repair_command(name: str, home: Path) -> str:
    return f"python -m mfteach.data download {name} --force --data-home {home}"


def _mirror_urls(archive: Archive, mirror: str | None, url: str | None) -> tuple[str, ...]:
    """The addresses to try before the official ones: ``url`` (the zip itself), then the zip's
    official file name under ``mirror`` (default ``$MFTEACH_MIRROR``); a local path becomes a
    file:// URL."""
    mirror = os.environ.get(MIRROR_ENV) or None if mirror is None else mirror
    zip_name = archive.urls[0].rsplit("/", 1)[-1] if archive.urls else f"{archive.folder}.zip"
    found = []
    if url:
        found.append(_as_url(url))
    if mirror:
        found.append(_as_url(mirror).rstrip("/") + "/" + zip_name)
    return tuple(u for u in dict.fromkeys(found) if u not in archive.urls)


def _as_url(location: str) -> str:
    location = str(location)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location):
        return location
    return Path(location).expanduser().resolve().as_uri()


def _ensure(name: str, home: Path, progress: bool, *, mirror: str | None = None, url: str | None = None,
            force: bool = False, repair: bool = False) -> Path:
    """The verified folder of ``name`` in ``home``: downloaded when absent. A complete folder
    that fails ``verify_folder`` raises ``CorruptDataError`` (with ``repair``: is replaced by a
    fresh download); ``force`` downloads and replaces whatever is there."""
    if name not in ARCHIVES:
        raise ValueError(f"unknown MovieLens version {name!r}; choose one of {sorted(ARCHIVES)}")
    archive = ARCHIVES[name]
    folder = home / archive.folder
    if repair:
        clean_stale(home, archive.folder)  # what a killed download left (download_archive also does this)
    complete = all((folder / f).is_file() for f in archive.required)
    if complete and not force:
        problem = verify_folder(archive, folder)
        if problem is None:
            return folder
        if not repair:
            raise CorruptDataError(f"MovieLens {name} in {folder} cannot be used: {problem}.\n"
                                   f"Repair it with:  {_repair_command(name, home)}")
    archive = dataclasses.replace(archive, urls=_mirror_urls(archive, mirror, url) + tuple(archive.urls))
    try:
        replace = complete or force or (repair and folder.exists())
        return download_archive(archive, home, progress=progress, replace=replace)
    except DownloadError as error:
        raise DownloadError(f"{error}\n\n{_offline_help(name, home, archive)}") from error


def _read_table(name: str, home: Path, path: Path, **options) -> pd.DataFrame:
    """``pd.read_csv(path, **options)``; a file that cannot be parsed raises CorruptDataError."""
    try:
        return pd.read_csv(path, **options)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise _unreadable(name, home, path, f"{type(error).__name__}: {error}") from None


def _unreadable(name: str, home: Path, path: Path, reason: str) -> CorruptDataError:
    return CorruptDataError(f"MovieLens {name}: {path} cannot be read as MovieLens ({reason}); the copy is damaged "
                            f"or not the official one.\nRepair it with:  {_repair_command(name, home)}")


def _rating_table(name: str, home: Path, path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The user, item, rating columns of a ratings file, checked: not empty, all numbers."""
    frame = frame[["user", "item", "rating"]]
    if len(frame) == 0:
        raise _unreadable(name, home, path, "no ratings in it")
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]) or frame[column].isna().any():
            raise _unreadable(name, home, path, f"its {column} column is not all numbers")
    return frame


def _read_100k(folder: Path, name: str = "100k") -> Ratings:
    home = folder.parent
    frame = _read_table(name, home, folder / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    frame = _rating_table(name, home, folder / "u.data", frame)
    genres = _read_table(name, home, folder / "u.genre", sep="|", names=["genre", "id"], encoding="latin-1").dropna()
    genre_names = list(genres.sort_values("id")["genre"])
    movies = _read_table(
        name, home, folder / "u.item", sep="|", header=None, encoding="latin-1",
        names=["item", "title", "release", "video", "url", *genre_names],
    ).set_index("item")
    return _with_movies(frame, movies["title"], movies[genre_names].to_numpy().astype(bool), genre_names)


def _read_1m(folder: Path, name: str = "1m") -> Ratings:
    home = folder.parent
    # "::" separated; reading with sep=":" (every other column empty) keeps pandas' fast C parser
    frame = _read_table(name, home, folder / "ratings.dat", sep=":", header=None, usecols=[0, 2, 4, 6])
    frame.columns = ["user", "item", "rating", "timestamp"]
    frame = _rating_table(name, home, folder / "ratings.dat", frame)
    movies = _read_table(name, home, folder / "movies.dat", sep="::", engine="python",
                         names=["item", "title", "genres"], encoding="latin-1").set_index("item")
    return _with_genre_strings(frame, movies)


def _read_latest_small(folder: Path, name: str = "latest-small") -> Ratings:
    home = folder.parent
    frame = _read_table(name, home, folder / "ratings.csv").rename(columns={"userId": "user", "movieId": "item"})
    if not {"user", "item", "rating"} <= set(frame.columns):
        raise _unreadable(name, home, folder / "ratings.csv", f"columns {list(frame.columns)}")
    frame = _rating_table(name, home, folder / "ratings.csv", frame)
    movies = _read_table(name, home, folder / "movies.csv").rename(columns={"movieId": "item"}).set_index("item")
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

    Before reading, the files are checked against their SHA-256 (pinned for 100k, recorded at
    download for 1m and latest-small; a folder put there by hand without a record is read as
    it is). A download tries ``$MFTEACH_MIRROR`` first when it is set.

    Raises
    ------
    ValueError
        Unknown ``name``.
    mfteach.download.CorruptDataError
        The copy in the data home is damaged (a file is truncated, replaced or unreadable):
        the message names the file and the repair command,
        ``python -m mfteach.data download NAME --force``.
    mfteach.download.DownloadError
        The data is absent and could not be downloaded; the message says where to put the
        files and how to prefetch them.
    """
    if name not in _READERS:
        raise ValueError(f"unknown MovieLens version {name!r}; choose one of {sorted(_READERS)}")
    home = _resolve_home(data_home)
    return _read(name, _ensure(name, home, progress))


def _read(name: str, folder: Path) -> Ratings:
    """Parse an extracted folder; anything that makes it unparsable is a CorruptDataError."""
    try:
        return _READERS[name](folder, name)
    except CorruptDataError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as error:
        raise CorruptDataError(f"MovieLens {name} in {folder} cannot be read ({type(error).__name__}: {error}); the "
                               f"copy is damaged or not the official one.\nRepair it with:  "
                               f"{_repair_command(name, folder.parent)}") from None


def download(name: str, data_home: str | os.PathLike | None = None, *, mirror: str | None = None,
             url: str | None = None, force: bool = False, progress: bool = True) -> Path:
    """Make sure a verified copy of MovieLens ``name`` is in the data home; return its folder.

    A copy already there is checked (``mfteach.download.verify_folder``) and kept when it
    passes; a damaged one is replaced by a fresh download; ``force=True`` downloads and
    replaces whatever is there (also a copy put there by hand, which cannot be checked).
    ``url`` (the zip itself) and ``mirror`` (a URL or local folder holding the official zip
    names; default ``$MFTEACH_MIRROR``) are tried before GroupLens, with the same checks.
    """
    if name not in ARCHIVES:
        raise ValueError(f"unknown MovieLens version {name!r}; choose one of {sorted(ARCHIVES)}")
    return _ensure(name, _resolve_home(data_home), progress, mirror=mirror, url=url, force=force, repair=True)


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
    get = sub.add_parser("download", help="download and extract a MovieLens version into the data home",
                         description="Download, verify and extract MovieLens into the data home. A copy already "
                                     "there is checked against its SHA-256 and kept when it passes; a damaged one "
                                     "is replaced.")
    get.add_argument("name", choices=sorted(ARCHIVES))
    get.add_argument("--data-home", default=None, help="folder to put it in (default: $MFTEACH_DATA or ~/.cache/mfteach)")
    get.add_argument("--force", action="store_true",
                     help="download again and replace the copy in the data home, even one that looks fine")
    get.add_argument("--mirror", default=None,
                     help=f"a URL or local folder holding the official zip files (e.g. ml-100k.zip), tried before "
                          f"GroupLens (default: ${MIRROR_ENV})")
    get.add_argument("--url", default=None, help="the address (URL or local path) of the zip itself, tried first")
    args = parser.parse_args(argv)
    home = data_home(args.data_home)
    try:
        folder = download(args.name, home, mirror=args.mirror, url=args.url, force=args.force, progress=True)
        ratings = _read(args.name, folder)
    except DownloadError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"MovieLens {args.name} is ready in {folder}: {ratings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
