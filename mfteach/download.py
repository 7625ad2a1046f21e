"""Download, verify and extract a data archive into the data home (used by ``mfteach.data``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

__all__ = ["Archive", "DownloadError", "download_archive"]


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
    raise NotImplementedError  # filled in by the download implementation
