"""Where the shipped lessons are.

In a clone (an editable install, ``make lab``, Binder) the lessons are the repository's
``lessons/*.ipynb``; in an installed wheel they are package data under ``mfteach/lessons/``
(``pyproject.toml`` maps the repository's ``lessons/`` there without moving it).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["lessons_dir", "lesson_paths"]

_PACKAGE = Path(__file__).resolve().parent


def lessons_dir() -> Path:
    """The folder holding the lesson notebooks: the wheel's copy, else the clone's ``lessons/``."""
    packaged = _PACKAGE / "lessons"
    if any(packaged.glob("*.ipynb")):
        return packaged
    clone = _PACKAGE.parent / "lessons"
    if clone.is_dir():
        return clone
    raise FileNotFoundError(
        f"no lessons found: neither {packaged} (installed wheel) nor {clone} (repository clone) exists"
    )


def lesson_paths() -> list[Path]:
    """Every lesson notebook, in lesson order (``00_...ipynb``, ``01_...ipynb``, ...)."""
    return sorted(p for p in lessons_dir().glob("*.ipynb") if p.name[:2].isdigit())
