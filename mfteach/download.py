"""Download, verify and extract a data archive into the data home (used by ``mfteach.data``)."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping

from tqdm.auto import tqdm

__all__ = ["Archive", "DownloadError", "download_archive"]

_CHUNK = 1 << 16


class DownloadError(OSError):
    """The archive could not be fetched, verified or extracted; the message says what happened."""


@dataclass(frozen=True)
class Archive:
    """A zip archive and how to check it.

    name: label for messages ("ml-100k"); urls: mirrors tried in order; folder: the folder the
    zip extracts to (also its name in the data home); required: files that must exist in that
    folder afterwards; size / sha256 / md5: checks of the downloaded zip (each one given is
    verified); files_sha256: SHA-256 of extracted files, verified after extraction.
    """

    name: str
    urls: tuple[str, ...]
    folder: str
    required: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    files_sha256: Mapping[str, str] = field(default_factory=dict)


def download_archive(archive: Archive, data_home: Path, *, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``archive``, verify it and extract it to ``data_home / archive.folder``.

    The mirrors in ``archive.urls`` are tried in order until one works. The zip is streamed
    into a hidden temporary file inside ``data_home``, checked (Content-Length, ``size``,
    ``sha256``, ``md5``), extracted into a temporary folder, checked again (``required``
    files, ``files_sha256``) and only then moved into place with an atomic rename, so the
    data home never holds a partial or corrupt copy.

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

    Returns
    -------
    Path
        ``data_home / archive.folder``.

    Raises
    ------
    DownloadError
        The data home is not writable, or every mirror failed (connection refused, HTTP
        error, timeout, truncated body, checksum mismatch, bad zip, missing file); the
        message lists each mirror's failure and names its URL.
    """
    data_home = Path(data_home)
    try:
        data_home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create the data home {data_home}: {error}") from error
    if not os.access(data_home, os.W_OK | os.X_OK):
        raise DownloadError(f"the data home {data_home} is not writable")
    if not archive.urls:
        raise DownloadError(f"no URL to download {archive.name} from")
    failures = []
    for url in archive.urls:
        try:
            return _fetch(archive, url, data_home, progress, timeout)
        except DownloadError as error:
            failures.append(str(error))
    if len(failures) == 1:
        raise DownloadError(f"could not download {archive.name}: {failures[0]}")
    listed = "\n".join(f"  - {failure}" for failure in failures)
    raise DownloadError(f"could not download {archive.name} from any of its {len(failures)} mirrors:\n{listed}")


def _fetch(archive: Archive, url: str, data_home: Path, progress: bool, timeout: float) -> Path:
    """One mirror: download, verify, extract and move into place; DownloadError on any failure."""
    prefix = f".{archive.folder}."
    part_path = extract_dir = None
    try:
        with tempfile.NamedTemporaryFile(dir=data_home, prefix=prefix, suffix=".part", delete=False) as part:
            part_path = Path(part.name)
            digests = _stream(url, part, archive.name, progress, timeout)
        _verify_archive(archive, url, part_path.stat().st_size, digests)
        extract_dir = Path(tempfile.mkdtemp(dir=data_home, prefix=prefix, suffix=".extract"))
        _extract(part_path, extract_dir, url)
        _verify_files(archive, extract_dir / archive.folder, url)
        return _move_into_place(extract_dir / archive.folder, data_home / archive.folder, archive, url)
    except DownloadError:
        raise
    except OSError as error:  # disk full, permissions, ... while writing in the data home
        raise DownloadError(f"{url}: could not write to {data_home}: {error}") from error
    finally:
        if part_path is not None:
            part_path.unlink(missing_ok=True)
        if extract_dir is not None:
            shutil.rmtree(extract_dir, ignore_errors=True)


def _stream(url: str, out, label: str, progress: bool, timeout: float) -> dict[str, str]:
    """Copy the body of ``url`` into the open file ``out``; return its sha256 and md5."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            try:
                expected = int(response.headers.get("Content-Length"))
            except (TypeError, ValueError):
                expected = None
            got = 0
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                      disable=not progress, leave=False) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as error:
        error.close()
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: {_describe(error.reason, timeout)}") from error
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(f"{url}: {_describe(error, timeout)}") from error
    if expected is not None and got != expected:
        raise DownloadError(f"{url}: truncated: got {got} of {expected} bytes")
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def _describe(reason, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, http.client.IncompleteRead):
        return f"truncated: got {len(reason.partial)} bytes, {reason.expected} more expected"
    return f"cannot download ({type(reason).__name__}: {reason})"


def _verify_archive(archive: Archive, url: str, size: int, digests: dict[str, str]) -> None:
    if archive.size is not None and size != archive.size:
        raise DownloadError(f"{url}: size mismatch: expected {archive.size} bytes, got {size}")
    for check in ("sha256", "md5"):
        expected = getattr(archive, check)
        if expected is not None and digests[check] != expected.lower():
            raise DownloadError(f"{url}: {check} checksum mismatch: expected {expected}, got {digests[check]}")


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


def _move_into_place(source: Path, target: Path, archive: Archive, url: str) -> Path:
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
