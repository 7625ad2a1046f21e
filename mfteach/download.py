"""Download, verify and extract a data archive into the data home (used by ``mfteach.data``).

Every extracted folder gets a record of its files' SHA-256 (``RECORD``, written before the folder
is moved into place) so that a later load can check the copy it reads (``verify_folder``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping

from tqdm.auto import tqdm

__all__ = ["Archive", "DownloadError", "CorruptDataError", "download_archive", "verify_folder", "clean_stale",
           "RECORD", "DEADLINE", "MIN_RATE"]

_CHUNK = 1 << 16
RECORD = ".mfteach-sha256.json"  # inside an extracted folder: the SHA-256 of its files at extraction
DEADLINE = 900.0  # seconds a whole download may take (the per-read timeout alone never ends a trickle)
MIN_RATE = 1024.0  # bytes per second a download must average once ``timeout`` seconds have passed


class DownloadError(OSError):
    """The archive could not be fetched, verified or extracted; the message says what happened."""


class CorruptDataError(DownloadError):
    """A file of an extracted data folder does not match its known SHA-256 or cannot be read;
    the message names the file and the command that repairs the copy."""


@dataclass(frozen=True)
class Archive:
    """A zip archive and how to check it.

    name: label for messages ("ml-100k"); urls: mirrors tried in order; folder: the folder the
    zip extracts to (also its name in the data home); required: files that must exist in that
    folder afterwards; size / sha256 / md5: checks of the downloaded zip (each one given is
    verified); files_sha256: SHA-256 of extracted files, verified after extraction and at
    every load (``verify_folder``); published_md5: also check the MD5 published beside the zip
    (``<url>.md5``) when the archive has no ``md5`` of its own and the file can be fetched.
    """

    name: str
    urls: tuple[str, ...]
    folder: str
    required: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    files_sha256: Mapping[str, str] = field(default_factory=dict)
    published_md5: bool = False


def download_archive(archive: Archive, data_home: Path, *, progress: bool = True, timeout: float = 30.0,
                     deadline: float = DEADLINE, min_rate: float = MIN_RATE, replace: bool = False) -> Path:
    """Download ``archive``, verify it and extract it to ``data_home / archive.folder``.

    The mirrors in ``archive.urls`` are tried in order until one works. The zip is streamed
    into a hidden temporary file inside ``data_home``, checked (Content-Length, ``size``,
    ``sha256``, ``md5``, and for ``published_md5`` archives the MD5 published beside the zip),
    extracted into a temporary folder, checked again (``required`` files, ``files_sha256``),
    given its ``RECORD`` of SHA-256 digests and only then moved into place with an atomic
    rename, so the data home never holds a partial or corrupt copy. Partial files that a killed
    download left behind (``clean_stale``) are removed first.

    Parameters
    ----------
    archive : Archive
        What to fetch and how to check it.
    data_home : path
        Folder that receives ``archive.folder``; created when missing.
    progress : bool
        Show a tqdm progress bar (bytes) while downloading.
    timeout : float
        Seconds to wait for the connection and for each read.
    deadline : float
        Seconds the whole download of one mirror may take (checked between reads).
    min_rate : float
        Bytes per second the download must average once ``timeout`` seconds have passed; a
        server that trickles is given up on early (0 = no minimum).
    replace : bool
        Replace an existing ``data_home / archive.folder`` with the verified new copy (the old
        one is moved aside first and deleted only once the new one is in place). Without it a
        folder already in place is kept.

    Returns
    -------
    Path
        ``data_home / archive.folder``.

    Raises
    ------
    DownloadError
        The data home is not writable, or every mirror failed (connection refused, HTTP
        error, timeout, too slow, past the deadline, truncated body, checksum mismatch, bad
        zip, missing file); the message lists each mirror's failure and names its URL.
    """
    for label, value in (("timeout", timeout), ("deadline", deadline)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"{label} must be a number of seconds > 0, got {value!r}")
    if not (isinstance(min_rate, (int, float)) and min_rate >= 0):
        raise ValueError(f"min_rate must be a number of bytes per second >= 0, got {min_rate!r}")
    data_home = Path(data_home)
    try:
        data_home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create the data home {data_home}: {error}") from error
    if not os.access(data_home, os.W_OK | os.X_OK):
        raise DownloadError(f"the data home {data_home} is not writable")
    if not archive.urls:
        raise DownloadError(f"no URL to download {archive.name} from")
    clean_stale(data_home, archive.folder, max(2 * timeout, 60.0))
    failures = []
    limits = _Limits(timeout, deadline, min_rate)
    for url in archive.urls:
        try:
            return _fetch(archive, url, data_home, progress, limits, replace)
        except DownloadError as error:
            failures.append(str(error))
    if len(failures) == 1:
        raise DownloadError(f"could not download {archive.name}: {failures[0]}")
    listed = "\n".join(f"  - {failure}" for failure in failures)
    raise DownloadError(f"could not download {archive.name} from any of its {len(failures)} mirrors:\n{listed}")


@dataclass(frozen=True)
class _Limits:
    timeout: float   # per read (and for the connection)
    deadline: float  # the whole download
    min_rate: float  # bytes per second on average, once ``timeout`` seconds have passed


def _temp_prefix(folder: str) -> str:
    """Hidden temporary names in the data home: ``.{folder}.{pid}@{host}.`` + a random part, so
    that ``clean_stale`` can tell the leftovers of a dead process on this host at once."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"
    return f".{folder}.{os.getpid()}@{host}."


def _fetch(archive: Archive, url: str, data_home: Path, progress: bool, limits: _Limits, replace: bool) -> Path:
    """One mirror: download, verify, extract and move into place; DownloadError on any failure."""
    prefix = _temp_prefix(archive.folder)
    part_path = extract_dir = None
    try:
        with tempfile.NamedTemporaryFile(dir=data_home, prefix=prefix, suffix=".part", delete=False) as part:
            part_path = Path(part.name)
            digests = _stream(url, part, archive.name, progress, limits)
        published = _published_md5(url, limits.timeout) if archive.published_md5 and archive.md5 is None else None
        _verify_archive(archive, url, part_path.stat().st_size, digests, published)
        extract_dir = Path(tempfile.mkdtemp(dir=data_home, prefix=prefix, suffix=".extract"))
        _extract(part_path, extract_dir, url)
        _verify_files(archive, extract_dir / archive.folder, url)
        _write_record(archive, extract_dir / archive.folder, digests, published)
        return _move_into_place(extract_dir / archive.folder, data_home / archive.folder, archive, url, replace)
    except DownloadError:
        raise
    except OSError as error:  # disk full, permissions, ... while writing in the data home
        raise DownloadError(f"{url}: could not write to {data_home}: {error}") from error
    finally:
        if part_path is not None:
            part_path.unlink(missing_ok=True)
        if extract_dir is not None:
            shutil.rmtree(extract_dir, ignore_errors=True)


def _stream(url: str, out, label: str, progress: bool, limits: _Limits) -> dict[str, str]:
    """Copy the body of ``url`` into the open file ``out``; return its sha256 and md5.

    Reads with ``read1`` (whatever has arrived, at most one wait of ``timeout``), so the
    deadline and the minimum rate are checked at least once per ``timeout`` seconds even when
    the server sends one byte at a time."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    timeout = limits.timeout
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            try:
                expected = int(response.headers.get("Content-Length"))
            except (TypeError, ValueError):
                expected = None
            read = getattr(response, "read1", response.read)
            got = 0
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                      disable=not progress, leave=False) as bar:
                while chunk := read(_CHUNK):
                    out.write(chunk)
                    out.flush()  # the file's mtime shows the download is alive (clean_stale)
                    sha256.update(chunk)
                    md5.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                    _check_pace(url, got, expected, time.monotonic() - start, limits)
    except urllib.error.HTTPError as error:
        error.close()
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: {_describe(error.reason, timeout)}") from error
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"{url}: {_describe(error, timeout)}") from error
    if expected is not None and got != expected:
        raise DownloadError(f"{url}: truncated: got {got} of {expected} bytes")
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def _check_pace(url: str, got: int, expected: int | None, elapsed: float, limits: _Limits) -> None:
    """DownloadError when the download is past its deadline, or (after ``timeout`` seconds)
    slower on average than ``min_rate``; the message says how far it got and what to do."""
    so_far = f"{got:,} of {expected:,} bytes" if expected is not None else f"{got:,} bytes"
    advice = ("try again later, or point the download at a mirror or a local copy of the zip "
              "(MFTEACH_MIRROR, or --mirror / --url of python -m mfteach.data download)")
    if elapsed > limits.deadline:
        raise DownloadError(f"{url}: gave up after the deadline of {limits.deadline:g} s with {so_far}; {advice}")
    if limits.min_rate and elapsed > limits.timeout and got < limits.min_rate * elapsed:
        raise DownloadError(f"{url}: too slow: {so_far} in {elapsed:.1f} s ({got / elapsed:,.0f} bytes/s, below the "
                            f"minimum of {limits.min_rate:,.0f} bytes/s); {advice}")


def _published_md5(url: str, timeout: float) -> str | None:
    """The MD5 published beside the zip (``<url>.md5``, GroupLens' "MD5 (name) = hex" or
    md5sum's "hex  name"), or None when there is none or it cannot be fetched."""
    try:
        with urllib.request.urlopen(url + ".md5", timeout=timeout) as response:
            text = response.read(4096).decode("ascii", "replace")
    except (OSError, http.client.HTTPException, ValueError):
        return None
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    return found.group(0).lower() if found else None


def _describe(reason, timeout: float) -> str:
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, http.client.IncompleteRead):
        return f"truncated: got {len(reason.partial)} bytes, {reason.expected} more expected"
    return f"cannot download ({type(reason).__name__}: {reason})"


def _verify_archive(archive: Archive, url: str, size: int, digests: dict[str, str], published: str | None = None
                    ) -> None:
    if archive.size is not None and size != archive.size:
        raise DownloadError(f"{url}: size mismatch: expected {archive.size} bytes, got {size}")
    for check in ("sha256", "md5"):
        expected = getattr(archive, check)
        if expected is not None and digests[check] != expected.lower():
            raise DownloadError(f"{url}: {check} checksum mismatch: expected {expected}, got {digests[check]}")
    if published is not None and digests["md5"] != published:
        raise DownloadError(f"{url}: md5 checksum mismatch with the published {url}.md5: expected {published}, "
                            f"got {digests['md5']}")


def _extract(zip_path: Path, target: Path, url: str) -> None:
    """Extract the zip into ``target``, refusing members that would land outside it."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for name in zf.namelist():
                member = PurePosixPath(name.replace("\\", "/"))
                if member.is_absolute() or ".." in member.parts or (member.parts and ":" in member.parts[0]):
                    raise DownloadError(f"{url}: unsafe path in the zip: {name!r}")
            zf.extractall(target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        raise DownloadError(f"{url}: bad zip: {error}") from error


def _verify_files(archive: Archive, folder: Path, url: str) -> None:
    missing = [name for name in archive.required if not (folder / name).is_file()]
    if missing:
        raise DownloadError(f"{url}: missing file(s) in the zip: {', '.join(f'{archive.folder}/{m}' for m in missing)}")
    for name, expected in archive.files_sha256.items():
        path = folder / name
        if not path.is_file():
            raise DownloadError(f"{url}: missing file in the zip: {archive.folder}/{name}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected.lower():
            raise DownloadError(
                f"{url}: sha256 checksum mismatch for {archive.folder}/{name}: expected {expected}, got {digest}"
            )


def _move_into_place(source: Path, target: Path, archive: Archive, url: str, replace: bool = False) -> Path:
    if replace and (target.exists() or target.is_symlink()):
        return _swap_into_place(source, target, url)
    try:
        os.replace(source, target)
    except OSError as error:
        if all((target / name).is_file() for name in archive.required):
            return target  # a complete copy appeared meanwhile (another process): keep it
        raise DownloadError(
            f"{url}: downloaded and verified, but could not move it to {target} "
            f"(an incomplete folder is in the way? remove it and retry): {error}"
        ) from error
    return target


def _swap_into_place(source: Path, target: Path, url: str) -> Path:
    """Replace the folder ``target`` by ``source``: the old copy is renamed aside (a hidden
    ``.old`` name that ``clean_stale`` also removes), the new one renamed in, then the old one
    deleted; if the second rename fails the old copy is put back."""
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temp_prefix(target.name), suffix=".old"))
    old = aside / "previous"
    try:
        os.replace(target, old)
    except OSError as error:
        shutil.rmtree(aside, ignore_errors=True)
        raise DownloadError(f"{url}: downloaded and verified, but could not move the old copy {target} aside "
                            f"(remove it and retry): {error}") from error
    try:
        os.replace(source, target)
    except OSError as error:
        os.replace(old, target)
        shutil.rmtree(aside, ignore_errors=True)
        raise DownloadError(f"{url}: downloaded and verified, but could not move it to {target}: {error}") from error
    if old.is_symlink():
        old.unlink()
    shutil.rmtree(aside, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------- records and verification
def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_record(archive: Archive, folder: Path, digests: dict[str, str], published: str | None) -> None:
    """Write ``RECORD`` into the freshly extracted ``folder``: the SHA-256 and size of every
    required file (and of every pinned one), with the archive's digests and whether its MD5 was
    checked against a known value."""
    names = sorted(set(archive.required) | set(archive.files_sha256))
    record = {
        "archive": archive.name,
        "archive_md5": digests["md5"],
        "archive_sha256": digests["sha256"],
        "md5_verified": archive.md5 is not None or published is not None,
        "files": {name: {"sha256": _sha256_file(folder / name), "size": (folder / name).stat().st_size}
                  for name in names},
    }
    (folder / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")


def verify_folder(archive: Archive, folder: Path) -> str | None:
    """Check an extracted folder before it is read: every required file is present, and every
    file with a known SHA-256 has it: pinned in ``archive.files_sha256``, else recorded in the
    folder's ``RECORD`` at download. Returns None when all is well (or there is nothing to check
    against: a folder put there by hand, without a record), else what is wrong, naming the file.

    Costs one SHA-256 pass over the files (a few milliseconds for MovieLens 100K, about 50 ms
    for 1M)."""
    folder = Path(folder)
    missing = [name for name in archive.required if not (folder / name).is_file()]
    if missing:
        return f"{folder / missing[0]} is missing"
    expected = {name: digest.lower() for name, digest in archive.files_sha256.items()}
    source = "the official file's"
    if not expected and (folder / RECORD).is_file():
        try:
            record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
            expected = {name: entry["sha256"].lower() for name, entry in record["files"].items()}
            source = "the one recorded when it was downloaded"
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            return f"its record of SHA-256 digests {folder / RECORD} is unreadable ({type(error).__name__}: {error})"
    for name, digest in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        actual = _sha256_file(path)
        if actual != digest:
            return (f"{path} is damaged ({path.stat().st_size:,} bytes): its SHA-256 is {actual}, not {source} "
                    f"{digest}")
    return None


_STALE = re.compile(r"^\.(?P<folder>.+?)\.(?:(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]+)\.)?[^.]+\.(?:part|extract|old)$")


def clean_stale(data_home: Path, folder: str, max_age: float = 60.0) -> list[Path]:
    """Remove what interrupted downloads of ``folder`` left in ``data_home``: hidden
    ``.{folder}.*.part`` files and ``.extract`` / ``.old`` folders whose process (named in the
    file name) no longer runs on this host, or that nobody has touched for ``max_age`` seconds
    (a live download writes at least once per read timeout). Returns what was removed; never
    raises."""
    removed = []
    try:
        entries = list(Path(data_home).iterdir())
    except OSError:
        return removed
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"
    now = time.time()
    for path in entries:
        match = _STALE.match(path.name)
        if not match or match["folder"] != folder:
            continue
        try:
            age = now - path.lstat().st_mtime
        except OSError:
            continue
        dead = match["pid"] is not None and match["host"] == host and not _alive(int(match["pid"]))
        if not (dead or age > max_age):
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell
    return True
