"""download_archive against a real HTTP server on 127.0.0.1: success, every failure path, cleanup."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import mfteach.data as data
from mfteach.download import Archive, DownloadError, download_archive

TIMEOUT = 5.0
REQUIRED = ("u.data", "u.item", "u.genre")
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
TITLES = {1: "Toy Story (1995)", 2: "GoldenEye (1995)", 3: "Café Society (1995)", 4: "Four Rooms (1995)"}


# ---------------------------------------------------------------------------- test archive
def movielens_files() -> dict[str, bytes]:
    """A tiny MovieLens 100K in the real formats: 6 users x 4 movies, 24 ratings."""
    rng = np.random.default_rng(0)
    rows = [f"{u}\t{i}\t{rng.integers(1, 6)}\t{881250949 + 7 * u + i}" for u in range(1, 7) for i in range(1, 5)]
    flags = {1: {"Animation", "Children's", "Comedy"}, 2: {"Action", "Thriller"}, 3: {"Drama"}, 4: set()}
    items = [
        f"{i}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?{i}|" + "|".join(str(int(g in flags[i])) for g in GENRES)
        for i, title in TITLES.items()
    ]
    genre = "".join(f"{g}|{j}\n" for j, g in enumerate(GENRES)) + "\n"  # the real file ends with a blank line
    return {
        "u.data": ("\n".join(rows) + "\n").encode("ascii"),
        "u.item": ("\n".join(items) + "\n").encode("latin-1"),
        "u.genre": genre.encode("latin-1"),
    }


def make_zip(files: dict[str, bytes], folder: str = "ml-100k", extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(folder + "/", b"")
        for name, content in files.items():
            zf.writestr(f"{folder}/{name}", content)
        for name, content in (extra or {}).items():
            zf.writestr(name, content)
    return buffer.getvalue()


def archive_for(urls, body: bytes, files: dict[str, bytes] | None = None, **overrides) -> Archive:
    """An Archive whose checks are the true digests of ``body`` (and ``files``), unless overridden."""
    files = movielens_files() if files is None else files
    fields = dict(
        name="ml-100k", urls=tuple(urls), folder="ml-100k", required=REQUIRED, size=len(body),
        sha256=hashlib.sha256(body).hexdigest(), md5=hashlib.md5(body).hexdigest(),
        files_sha256={name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
    )
    fields.update(overrides)
    return Archive(**fields)


# ---------------------------------------------------------------------------- loopback server
class Route:
    def __init__(self, body: bytes = b"", status: int = 200, length: int | None = None, send_length: bool = True,
                 delay: threading.Event | None = None, trickle: float | None = None):
        self.body, self.status, self.length, self.send_length, self.delay = body, status, length, send_length, delay
        self.trickle = trickle  # seconds between single bytes: a server that never times out a read


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; closing ends the body

    def do_GET(self):
        route = self.server.routes.get(self.path)
        self.server.hits.append(self.path)
        if route is None or route.status == 404:
            self.send_error(404, "Not Found")
            return
        if route.delay is not None:
            route.delay.wait(10)  # released by the fixture's teardown
        self.send_response(route.status)
        self.send_header("Content-Type", "application/zip")
        if route.send_length:
            self.send_header("Content-Length", str(route.length if route.length is not None else len(route.body)))
        self.end_headers()
        if route.trickle is not None:
            try:
                for k in range(len(route.body)):
                    if self.server.stopping.is_set():
                        break
                    self.wfile.write(route.body[k:k + 1])
                    self.wfile.flush()
                    time.sleep(route.trickle)
            except OSError:
                pass  # the client gave up: what the test wants
        else:
            self.wfile.write(route.body)
            self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # e.g. the client hung up on a slow or truncated response: expected here


class Server:
    def __init__(self):
        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.routes = {}
        self.httpd.hits = []
        self.httpd.stopping = threading.Event()
        self.events: list[threading.Event] = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes = b"", **options) -> str:
        """Serve ``body`` at ``path``; return its URL."""
        self.httpd.routes[path] = Route(body, **options)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits

    def close(self):
        self.httpd.stopping.set()
        for event in self.events:
            event.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def dead_url(path: str = "/ml-100k.zip") -> str:
    """A URL on a loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@pytest.fixture
def home(tmp_path) -> Path:
    """A data home that does not exist yet (download_archive creates it)."""
    return tmp_path / "data-home"


def contents(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def fail(archive: Archive, home: Path, *reasons: str, leftovers: list[str] | None = None) -> str:
    """Download must fail with every reason in the message and leave the data home as it was."""
    with pytest.raises(DownloadError) as caught:
        download_archive(archive, home, progress=False, timeout=TIMEOUT)
    message = str(caught.value)
    for reason in reasons:
        assert reason in message
    assert contents(home) == sorted(leftovers or [])
    return message


# ---------------------------------------------------------------------------- success
def test_download_extracts_verifies_and_loads(server, home, monkeypatch):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    archive = archive_for([url], body)

    folder = download_archive(archive, home, progress=False, timeout=TIMEOUT)

    assert folder == home / "ml-100k"
    assert contents(home) == ["ml-100k"]  # no .part file or extraction folder left
    for name, content in movielens_files().items():
        assert (folder / name).read_bytes() == content
    assert server.hits == ["/ml-100k.zip"]

    monkeypatch.setitem(data.ARCHIVES, "100k", archive)
    ratings = data.load_movielens("100k", data_home=home, progress=False)
    assert ratings.shape == (6, 4) and len(ratings) == 24
    assert list(ratings.items) == [1, 2, 3, 4]
    assert list(ratings.item_titles) == list(TITLES.values())
    assert ratings.item_titles[2] == "Caf\u00e9 Society (1995)"
    assert ratings.item_genres[0] == ["Animation", "Children's", "Comedy"]
    assert ratings.item_genres[3] == []
    assert server.hits == ["/ml-100k.zip"]  # the loader found the folder and did not download again


def test_load_movielens_downloads_when_missing(server, home, monkeypatch):
    body = make_zip(movielens_files())
    monkeypatch.setitem(data.ARCHIVES, "100k", archive_for([server.serve("/z", body)], body))
    ratings = data.load_movielens("100k", data_home=home, progress=False)
    assert ratings.shape == (6, 4)
    assert server.hits == ["/z"] and contents(home) == ["ml-100k"]


def test_download_with_progress_bar_and_no_content_length(server, home, capsys):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body, send_length=False)
    folder = download_archive(archive_for([url], body), home, progress=True, timeout=TIMEOUT)
    assert folder == home / "ml-100k" and contents(home) == ["ml-100k"]
    assert "ml-100k" in capsys.readouterr().err  # the tqdm bar is labelled with the archive name


def test_download_without_optional_checks(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    archive = Archive(name="ml-100k", urls=(url,), folder="ml-100k", required=REQUIRED)
    assert download_archive(archive, str(home), progress=False, timeout=TIMEOUT) == home / "ml-100k"


def test_first_mirror_dead_second_fine(server, home):
    body = make_zip(movielens_files())
    archive = archive_for([dead_url(), server.serve("/mirror/ml-100k.zip", body)], body)
    assert download_archive(archive, home, progress=False, timeout=TIMEOUT) == home / "ml-100k"
    assert contents(home) == ["ml-100k"]
    assert server.hits == ["/mirror/ml-100k.zip"]


def test_first_mirror_corrupt_second_fine(server, home):
    body = make_zip(movielens_files())
    archive = archive_for([server.serve("/bad", b"garbage" * 10), server.serve("/good", body)], body)
    assert download_archive(archive, home, progress=False, timeout=TIMEOUT) == home / "ml-100k"
    assert server.hits == ["/bad", "/good"] and contents(home) == ["ml-100k"]


def test_complete_folder_already_in_place_is_kept(server, home):
    body = make_zip(movielens_files())
    existing = home / "ml-100k"
    existing.mkdir(parents=True)
    for name in REQUIRED:
        (existing / name).write_text("theirs")
    folder = download_archive(archive_for([server.serve("/z", body)], body), home, progress=False, timeout=TIMEOUT)
    assert folder == existing
    assert (existing / "u.data").read_text() == "theirs"
    assert contents(home) == ["ml-100k"]


# ---------------------------------------------------------------------------- failures
def test_wrong_sha256(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body, sha256="0" * 64), home, "sha256", "mismatch", "0" * 64,
         hashlib.sha256(body).hexdigest(), url)


def test_wrong_md5(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body, md5="f" * 32), home, "md5", "mismatch", "f" * 32, hashlib.md5(body).hexdigest(), url)


def test_wrong_size(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body, size=len(body) + 1), home, "size mismatch", str(len(body) + 1), str(len(body)), url)


def test_truncated_body(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body[:100], length=len(body))
    fail(archive_for([url], body), home, f"truncated: got 100 of {len(body)} bytes", url)


def test_http_404(server, home):
    body = make_zip(movielens_files())
    url = server.url("/missing.zip")
    fail(archive_for([url], body), home, "HTTP 404", url)


def test_connection_refused(home):
    url = dead_url()
    fail(archive_for([url], b"x"), home, "connection refused", url)


def test_timeout(server, home):
    body = make_zip(movielens_files())
    event = threading.Event()
    server.events.append(event)
    url = server.serve("/slow.zip", body, delay=event)
    with pytest.raises(DownloadError, match="timed out after 0.3 s") as caught:
        download_archive(archive_for([url], body), home, progress=False, timeout=0.3)
    assert url in str(caught.value)
    assert contents(home) == []


def test_all_mirrors_fail_lists_each(server, home):
    dead, missing = dead_url(), server.url("/nope.zip")
    message = fail(archive_for([dead, missing], b"x"), home, "2 mirrors")
    assert f"{dead}: connection refused" in message
    assert f"{missing}: HTTP 404" in message


def test_missing_required_file(server, home):
    files = movielens_files()
    del files["u.genre"]
    body = make_zip(files)
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body, files=files), home, "missing", "ml-100k/u.genre", url)


def test_zip_without_the_folder(server, home):
    body = make_zip(movielens_files(), folder="something-else")
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body), home, "missing", "ml-100k/u.data", url)


def test_corrupt_body(server, home):
    body = b"<html>this is not a zip file</html>" * 20
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body), home, "bad zip", url)


def test_corrupt_member_crc(server, home):
    files = movielens_files()
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        for name, content in files.items():
            zf.writestr(f"ml-100k/{name}", content)
    body = stored.getvalue().replace(b"Toy Story", b"Toy Storm")  # content changed, CRC not
    assert body != stored.getvalue()
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body), home, "bad zip", url)


def test_files_sha256_mismatch(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    archive = archive_for([url], body)
    pinned = dict(archive.files_sha256, **{"u.item": "a" * 64})
    actual = archive.files_sha256["u.item"]
    fail(archive_for([url], body, files_sha256=pinned), home, "sha256", "mismatch", "ml-100k/u.item", "a" * 64,
         actual, url)


@pytest.mark.parametrize("evil", ["../evil.txt", "ml-100k/../../evil.txt", "/tmp/evil.txt"])
def test_zip_slip_is_refused(server, home, evil):
    body = make_zip(movielens_files(), extra={evil: b"pwned"})
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body), home, "unsafe path", url)
    assert not (home.parent / "evil.txt").exists()


def test_pre_existing_files_are_left_alone(server, home):
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body, sha256="1" * 64), home, "sha256", leftovers=["notes.txt"])
    assert (home / "notes.txt").read_text() == "mine"


def test_incomplete_folder_in_the_way(server, home):
    (home / "ml-100k").mkdir(parents=True)
    (home / "ml-100k" / "u.data").write_text("partial copy")
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    fail(archive_for([url], body), home, "could not move", str(home / "ml-100k"), leftovers=["ml-100k"])
    assert contents(home / "ml-100k") == ["u.data"]  # the user's files are not touched


def test_data_home_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DownloadError, match="cannot create the data home"):
        download_archive(archive_for([dead_url()], b"x"), blocker / "home", progress=False, timeout=TIMEOUT)


def test_load_movielens_error_has_offline_instructions(home, monkeypatch):
    url = dead_url()
    monkeypatch.setitem(data.ARCHIVES, "100k", archive_for([url], b"x"))
    with pytest.raises(DownloadError) as caught:
        data.load_movielens("100k", data_home=home, progress=False)
    message = str(caught.value)
    assert "connection refused" in message and url in message
    assert "python -m mfteach.data download 100k" in message
    assert str(home / "ml-100k") in message
    assert contents(home) == []


# ---------------------------------------------------------------------------- issue 15, item 4
def test_trickling_server_fails_within_the_deadline(server, home):
    """One byte every 20 ms never trips the per-read timeout (the zip would take a minute here,
    and 884 KB at 1 byte/s about 10 days): the overall deadline must end it."""
    body = make_zip(movielens_files())
    url = server.serve("/slow.zip", body, trickle=0.02)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"gave up after the deadline of 1 s with \d+ of \d+ bytes.*mirror"):
        download_archive(archive_for([url], body), home, progress=False, timeout=5.0, deadline=1.0, min_rate=0)
    assert time.monotonic() - start < 3.0
    assert contents(home) == []  # the partial file is removed


def test_trickling_server_fails_on_the_minimum_rate(server, home):
    body = make_zip(movielens_files())
    url = server.serve("/slow.zip", body, trickle=0.02)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"too slow: .* bytes/s, below the minimum of 1,000 bytes/s"):
        download_archive(archive_for([url], body), home, progress=False, timeout=0.5, deadline=60, min_rate=1000)
    assert time.monotonic() - start < 2.5
    assert contents(home) == []


def test_a_killed_download_leaves_a_partial_file_that_the_next_run_cleans(server, home, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    body = make_zip(movielens_files())
    slow = server.serve("/slow.zip", body, trickle=0.05)
    script = (f"import mfteach.download as d; from pathlib import Path\n"
              f"d.download_archive(d.Archive(name='ml-100k', urls=({slow!r},), folder='ml-100k', required=()), "
              f"Path({str(home)!r}), progress=False, timeout=30, min_rate=0)\n")
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not (home.is_dir() and any(p.suffix == ".part" and p.stat().st_size > 0 for p in home.iterdir())):
            assert time.monotonic() < deadline and process.poll() is None, "the download did not start"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    leftovers = [p.name for p in home.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ml-100k.") and leftovers[0].endswith(".part")
    # another process's fresh partial file (alive) and an unrelated hidden file are kept
    alive = home / f".ml-100k.{os.getppid()}@{leftovers[0].split('@')[1].split('.')[0]}.abcdef12.part"
    alive.write_bytes(b"in progress")
    (home / ".ml-1m.zzz.part").write_bytes(b"not ours")
    old = home / ".ml-100k.oldname1.extract"  # an older naming, untouched for two hours: stale by age
    old.mkdir()
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    good = server.serve("/good.zip", body)
    assert download_archive(archive_for([good], body), home, progress=False, timeout=TIMEOUT) == home / "ml-100k"
    assert contents(home) == sorted(["ml-100k", alive.name, ".ml-1m.zzz.part"])


def _offline_100k(monkeypatch, body: bytes, official: str) -> None:
    """ARCHIVES["100k"] with the test archive's digests and ``official`` as its GroupLens URL."""
    monkeypatch.setitem(data.ARCHIVES, "100k", archive_for([official], body))


def test_mirror_environment_variable_url_and_local_folder(server, home, tmp_path, monkeypatch, capsys):
    body = make_zip(movielens_files())
    official = dead_url("/datasets/ml-100k.zip")  # GroupLens unreachable (a classroom behind a proxy)
    _offline_100k(monkeypatch, body, official)
    server.serve("/mirror/ml-100k.zip", body)
    monkeypatch.setenv("MFTEACH_MIRROR", server.url("/mirror/"))
    assert data.load_movielens("100k", data_home=home, progress=False).shape == (6, 4)
    assert server.hits == ["/mirror/ml-100k.zip"] and contents(home) == ["ml-100k"]

    # a local folder holding the zip, as the environment variable or as --mirror; --url for the zip itself
    local = tmp_path / "share"
    local.mkdir()
    (local / "ml-100k.zip").write_bytes(body)
    monkeypatch.setenv("MFTEACH_MIRROR", str(local))
    assert data.load_movielens("100k", data_home=tmp_path / "h2", progress=False).shape == (6, 4)
    monkeypatch.delenv("MFTEACH_MIRROR")
    assert data.main(["download", "100k", "--data-home", str(tmp_path / "h3"), "--mirror", str(local)]) == 0
    assert data.main(["download", "100k", "--data-home", str(tmp_path / "h4"),
                      "--url", str(local / "ml-100k.zip")]) == 0
    assert "MovieLens 100k is ready" in capsys.readouterr().out

    # a mirror is held to the same digests: a corrupt copy there is refused and GroupLens tried next
    server.serve("/bad/ml-100k.zip", body[:-10] + b"0123456789")
    with pytest.raises(DownloadError) as caught:
        data.download("100k", tmp_path / "h5", mirror=server.url("/bad"), progress=False)
    message = str(caught.value)
    assert server.url("/bad/ml-100k.zip") in message and "mismatch" in message
    assert official in message and "connection refused" in message
    assert not (tmp_path / "h5" / "ml-100k").exists()


# ---------------------------------------------------------------------------- issue 15, item 3: a damaged cache
def test_truncated_cached_u_data_is_refused_then_repaired_by_download_force(server, home, monkeypatch, capsys):
    body = make_zip(movielens_files())
    url = server.serve("/ml-100k.zip", body)
    monkeypatch.setitem(data.ARCHIVES, "100k", archive_for([url], body))
    data.download("100k", home, progress=False)
    u_data = home / "ml-100k" / "u.data"
    u_data.write_bytes(b"".join(u_data.read_bytes().splitlines(keepends=True)[:12]))  # half the ratings

    with pytest.raises(data.CorruptDataError) as caught:
        data.load_movielens("100k", data_home=home, progress=False)
    message = str(caught.value)
    assert str(u_data) in message and "damaged" in message and "SHA-256" in message
    assert f"python -m mfteach.data download 100k --force --data-home {home}" in message

    assert data.main(["download", "100k", "--force", "--data-home", str(home)]) == 0
    assert "is ready" in capsys.readouterr().out
    assert server.hits == ["/ml-100k.zip", "/ml-100k.zip"]
    assert data.load_movielens("100k", data_home=home, progress=False).shape == (6, 4)  # all 24 ratings again
    assert contents(home) == ["ml-100k"]  # the old copy is gone, no temporary folder left

    # without --force, download checks the copy: a good one is kept, a damaged one replaced
    assert data.main(["download", "100k", "--data-home", str(home)]) == 0
    assert len(server.hits) == 2
    u_data.write_bytes(b"\x00\xff binary junk")
    assert data.main(["download", "100k", "--data-home", str(home)]) == 0
    assert len(server.hits) == 3 and u_data.read_bytes() == movielens_files()["u.data"]


def test_digests_of_unpinned_archives_are_recorded_at_download_and_verified_at_load(server, home, monkeypatch):
    """latest-small (and 1m) have no pinned file digests: they are recorded at the first download
    whose archive matched the published MD5 (``<zip>.md5`` beside it), then checked at every load."""
    import hashlib as _hashlib
    import json

    from mfteach.download import RECORD

    files = {"ratings.csv": b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n2,2,5.0,1\n",
             "movies.csv": b"movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n"}
    body = make_zip(files, folder="ml-latest-small")
    url = server.serve("/ml-latest-small.zip", body)
    server.serve("/ml-latest-small.zip.md5", f"MD5 (ml-latest-small.zip) = {_hashlib.md5(body).hexdigest()}\n".encode())
    archive = Archive(name="ml-latest-small", urls=(url,), folder="ml-latest-small",
                      required=("ratings.csv", "movies.csv"), published_md5=True)
    monkeypatch.setitem(data.ARCHIVES, "latest-small", archive)
    ratings = data.load_movielens("latest-small", data_home=home, progress=False)
    assert ratings.shape == (2, 2) and len(ratings) == 3
    record = json.loads((home / "ml-latest-small" / RECORD).read_text())
    assert record["md5_verified"] is True and record["archive_md5"] == _hashlib.md5(body).hexdigest()
    assert record["files"]["ratings.csv"]["sha256"] == _hashlib.sha256(files["ratings.csv"]).hexdigest()

    (home / "ml-latest-small" / "ratings.csv").write_bytes(files["ratings.csv"][:-12])  # the last rating cut
    with pytest.raises(data.CorruptDataError, match=r"(?s)ratings\.csv is damaged .*recorded when it was downloaded.*"
                                                    r"download latest-small --force"):
        data.load_movielens("latest-small", data_home=home, progress=False)

    server.serve("/ml-latest-small.zip.md5", b"MD5 (ml-latest-small.zip) = " + b"0" * 32)  # a different archive
    with pytest.raises(DownloadError, match=r"md5 checksum mismatch with the published .*\.md5"):
        data.download("latest-small", home, force=True, progress=False)
    assert (home / "ml-latest-small" / "ratings.csv").read_bytes() == files["ratings.csv"][:-12]  # left as it was
