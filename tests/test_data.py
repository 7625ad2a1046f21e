"""mfteach.data loader glue: MovieLens parsing (real 100K, fake 1M / latest-small), data home, CLI."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

import mfteach.data as data
from mfteach.download import Archive, DownloadError

SHARED_100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def dead_url() -> str:
    """A URL on a loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ml-100k.zip"


def real_100k() -> Path:
    folder = (Path(os.environ.get("MFTEACH_DATA", SHARED_100K.parent)) / "ml-100k").resolve()
    if not (folder / "u.data").is_file():
        pytest.fail("MovieLens 100K is not available: set MFTEACH_DATA to the folder holding ml-100k/")
    return folder


# ---------------------------------------------------------------------------- real MovieLens 100K
def test_100k_shape_and_values(ml100k):
    assert ml100k.shape == (943, 1682)
    assert len(ml100k) == 100_000
    assert set(np.unique(ml100k.values)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert list(ml100k.users[:3]) == [1, 2, 3] and ml100k.users[-1] == 943
    assert list(ml100k.items[:3]) == [1, 2, 3] and ml100k.items[-1] == 1682


def test_100k_titles_and_genres(ml100k):
    assert ml100k.items[0] == 1
    assert ml100k.item_titles[0] == "Toy Story (1995)"
    assert ml100k.item_genres[0] == ["Animation", "Children's", "Comedy"]
    assert ml100k.item_titles[1] == "GoldenEye (1995)"
    assert ml100k.item_genres[1] == ["Action", "Adventure", "Thriller"]
    assert len(ml100k.item_titles) == len(ml100k.item_genres) == 1682


def test_100k_latin1_titles(ml100k):
    # u.item is latin-1: byte 0xE9 must become U+00E9, not mojibake or a decoding error
    def title(movie_id):
        return ml100k.item_titles[int(np.flatnonzero(ml100k.items == movie_id)[0])]

    assert title(543) == "Mis\u00e9rables, Les (1995)"
    assert title(1104) == "C'est arriv\u00e9 pr\u00e8s de chez vous (1992)"


def test_100k_user_counts(ml100k):
    counts = ml100k.user_counts()
    assert counts.sum() == 100_000
    assert counts.min() >= 20  # every ml-100k user rated at least 20 movies
    assert ml100k.item_counts().sum() == 100_000


# ---------------------------------------------------------------------------- other versions
def test_1m_format(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
        "2::3408::2::978300275\n6::661::1::978237008\n",
        encoding="ascii",
    )
    (folder / "movies.dat").write_bytes(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"  # not rated: must not become a column
        "661::James and the Giant Peach (1996)::Musical|Animation|Children's\n"
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "3408::Mis\u00e9rables, Les (1998)::Drama\n".encode("latin-1")
    )
    ratings = data.load_movielens("1m", data_home=tmp_path, progress=False)
    assert ratings.shape == (3, 3) and len(ratings) == 5
    assert list(ratings.users) == [1, 2, 6]
    assert list(ratings.items) == [661, 1193, 3408]
    assert list(ratings.item_titles) == [
        "James and the Giant Peach (1996)", "One Flew Over the Cuckoo's Nest (1975)", "Mis\u00e9rables, Les (1998)",
    ]
    assert ratings.item_genres == [["Animation", "Children's", "Musical"], ["Drama"], ["Drama"]]
    dense = ratings.to_dense()
    np.testing.assert_array_equal(dense, [[3, 5, np.nan], [np.nan, 4, 2], [1, np.nan, np.nan]])


def test_latest_small_format(tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,3.5,964981247\n"
        "5,11,0.5,847434962\n5,176601,5.0,1537109082\n",
        encoding="utf-8",
    )
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '11,"American President, The (1995)",Comedy|Drama|Romance\n'
        "25,Leaving Las Vegas (1995),Drama|Romance\n"
        "176601,Black Mirror,(no genres listed)\n",
        encoding="utf-8",
    )
    ratings = data.load_movielens("latest-small", data_home=tmp_path, progress=False)
    assert ratings.shape == (2, 3) and len(ratings) == 4
    assert list(ratings.users) == [1, 5]
    assert list(ratings.items) == [1, 11, 176601]
    np.testing.assert_array_equal(ratings.to_dense(), [[4.0, 3.5, np.nan], [np.nan, 0.5, 5.0]])
    assert list(ratings.item_titles) == ["Toy Story (1995)", "American President, The (1995)", "Black Mirror"]
    assert ratings.item_genres == [
        ["Adventure", "Animation", "Children", "Comedy", "Fantasy"], ["Comedy", "Drama", "Romance"], [],
    ]
    _, names = ratings.genre_matrix()
    assert "(no genres listed)" not in names


def test_unknown_version():
    with pytest.raises(ValueError, match="10m") as caught:
        data.load_movielens("10m")
    for choice in ("100k", "1m", "latest-small"):
        assert choice in str(caught.value)


def test_existing_folder_is_used_without_network(tmp_path, monkeypatch):
    (tmp_path / "ml-100k").symlink_to(real_100k(), target_is_directory=True)
    monkeypatch.setitem(data.ARCHIVES, "100k", Archive(
        name="ml-100k", urls=(dead_url(),), folder="ml-100k", required=("u.data", "u.item", "u.genre")))
    assert data.load_movielens("100k", data_home=tmp_path, progress=False).shape == (943, 1682)


def test_incomplete_folder_triggers_download(tmp_path, monkeypatch):
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n")
    url = dead_url()
    monkeypatch.setitem(data.ARCHIVES, "100k", Archive(
        name="ml-100k", urls=(url,), folder="ml-100k", required=("u.data", "u.item", "u.genre")))
    with pytest.raises(DownloadError, match="connection refused"):
        data.load_movielens("100k", data_home=tmp_path, progress=False)


# ---------------------------------------------------------------------------- command line
def test_cli_download_when_present(tmp_path, capsys):
    (tmp_path / "ml-100k").symlink_to(real_100k(), target_is_directory=True)
    assert data.main(["download", "100k", "--data-home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"MovieLens 100k is ready in {tmp_path / 'ml-100k'}" in out
    assert "Ratings(943 users x 1682 items, 100000 ratings" in out


def test_cli_offline_prints_help_and_fails(tmp_path, monkeypatch, capsys):
    home = tmp_path / "empty-home"
    url = dead_url()
    monkeypatch.setitem(data.ARCHIVES, "100k", Archive(
        name="ml-100k", urls=(url,), folder="ml-100k", required=("u.data", "u.item", "u.genre")))
    assert data.main(["download", "100k", "--data-home", str(home)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "connection refused" in captured.err and url in captured.err
    assert "python -m mfteach.data download 100k" in captured.err
    assert str(home / "ml-100k") in captured.err
    assert not home.exists() or list(home.iterdir()) == []


def test_cli_rejects_unknown_version(capsys):
    with pytest.raises(SystemExit) as caught:
        data.main(["download", "10m"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# ---------------------------------------------------------------------------- data home
def test_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MFTEACH_DATA", str(tmp_path / "env"))
    assert data.data_home(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_home(str(tmp_path / "arg")) == tmp_path / "arg"
    assert data.data_home() == tmp_path / "env"
    monkeypatch.setenv("MFTEACH_DATA", "")  # empty counts as unset
    assert data.data_home() == tmp_path / "home" / ".cache" / "mfteach"
    monkeypatch.delenv("MFTEACH_DATA")
    assert data.data_home() == tmp_path / "home" / ".cache" / "mfteach"
    assert data.data_home("~/movies") == tmp_path / "home" / "movies"


def test_load_movielens_uses_env_data_home(tmp_path, monkeypatch):
    (tmp_path / "ml-100k").symlink_to(real_100k(), target_is_directory=True)
    monkeypatch.setenv("MFTEACH_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))
    monkeypatch.setitem(data.ARCHIVES, "100k", Archive(
        name="ml-100k", urls=(dead_url(),), folder="ml-100k", required=("u.data", "u.item", "u.genre")))
    assert data.load_movielens("100k", progress=False).shape == (943, 1682)


# ---------------------------------------------------------------------------- issue 15, item 3: a damaged cache
def _copy_of_real_100k(tmp_path) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in ("u.data", "u.item", "u.genre"):
        (folder / name).write_bytes((real_100k() / name).read_bytes())
    return folder


@pytest.mark.parametrize("damage, what", [
    (lambda text: b"".join(text.splitlines(keepends=True)[:50_000]), "cut to 50,000 lines"),
    (lambda text: b"", "empty"),
    (lambda text: bytes(range(256)) * 100, "binary junk"),
    (lambda text: text.replace(b"\t5\t", b"\t4\t", 1), "one rating changed"),
])
def test_a_damaged_u_data_is_refused_naming_the_file_and_the_repair(tmp_path, damage, what):
    """u.data cut to 50,000 lines loaded as 50,000 ratings without complaint; an empty one raised
    TypeError and binary junk UnicodeDecodeError. The pinned SHA-256 is checked at every load."""
    folder = _copy_of_real_100k(tmp_path)
    (folder / "u.data").write_bytes(damage((folder / "u.data").read_bytes()))
    with pytest.raises(data.CorruptDataError) as caught:
        data.load_movielens("100k", data_home=tmp_path, progress=False)
    message = str(caught.value)
    assert str(folder / "u.data") in message and "damaged" in message, what
    assert f"python -m mfteach.data download 100k --force --data-home {tmp_path}" in message
    assert isinstance(caught.value, DownloadError)  # callers that catch DownloadError still do


def test_an_intact_copy_loads_and_the_check_is_cheap(tmp_path):
    import time

    from mfteach.download import verify_folder

    folder = _copy_of_real_100k(tmp_path)
    assert data.load_movielens("100k", data_home=tmp_path, progress=False).shape == (943, 1682)
    start = time.perf_counter()
    assert verify_folder(data.ARCHIVES["100k"], folder) is None
    assert time.perf_counter() - start < 1.0  # about 2 MB of SHA-256: milliseconds


def test_a_hand_placed_copy_without_a_record_that_cannot_be_parsed_is_a_clear_error(tmp_path):
    """1m and latest-small folders put there by hand have no recorded digests; unparsable files
    still get a clear error naming the file and the repair command."""
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_bytes(b"")
    (folder / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    with pytest.raises(data.CorruptDataError, match=r"(?s)ratings\.csv cannot be read as MovieLens.*download "
                                                    r"latest-small --force"):
        data.load_movielens("latest-small", data_home=tmp_path, progress=False)
    (folder / "ratings.csv").write_bytes(b"userId,movieId,rating,timestamp\n1,1,\xff\xfe,3\n")
    with pytest.raises(data.CorruptDataError, match=r"ratings\.csv"):
        data.load_movielens("latest-small", data_home=tmp_path, progress=False)
