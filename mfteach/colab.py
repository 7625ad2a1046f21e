"""Google Colab and Binder links, and the first code cell of every lesson, in one place.

``REPOSITORY`` is the GitHub path the lessons are published at; the Binder badge, the
"Open in Colab" links (README and the top of each lesson) and the Colab set-up cell are all
built from it. To publish under another path, change ``REPOSITORY`` (and ``BRANCH``) here and run
``python tools/insert_colab_cells.py``: it rewrites the cell and the link in every lesson and the
links in README.md; ``tests/test_colab.py`` checks they agree.

The set-up cell (``SETUP_CELL``) does something only inside Colab (``"google.colab"`` is
imported there before any cell runs): it installs mfteach from the repository's archive when it
is not installed yet (pip keeps Colab's own numpy, pandas, matplotlib and ipywidgets 7, which
mfteach accepts) and fetches MovieLens 100K with a progress bar. Anywhere else it prints
nothing, so its stored output is empty.
"""

from __future__ import annotations

__all__ = ["REPOSITORY", "BRANCH", "SETUP_CELL", "SETUP_CELL_TAG", "LINK_CELL_TAG", "archive_url",
           "colab_url", "colab_badge", "binder_url", "binder_badge", "link_markdown"]

REPOSITORY = "OWNER/mfteach"  # GitHub "owner/name"; replace OWNER when the repository is published
BRANCH = "main"
LESSONS_FOLDER = "lessons"

SETUP_CELL_TAG = "mfteach-colab-setup"  # cell tags: how the tool finds its cells again
LINK_CELL_TAG = "mfteach-colab-link"

COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE_IMAGE = "https://mybinder.org/badge_logo.svg"


def archive_url(repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The zip of the branch (pip installs it without git and without the repository's history)."""
    return f"https://github.com/{repository}/archive/refs/heads/{branch}.zip"


def colab_url(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """Colab's address for ``lessons/<notebook>`` on GitHub (``notebook``: a file name such as
    ``"00_recommenders_as_matrices.ipynb"``)."""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{LESSONS_FOLDER}/{notebook}"


def colab_badge(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """Markdown: the "Open in Colab" badge linking to ``notebook``."""
    return f"[![Open in Colab]({COLAB_BADGE_IMAGE})]({colab_url(notebook, repository, branch)})"


def binder_url(notebook: str | None = None, repository: str = REPOSITORY) -> str:
    """Binder's address: JupyterLab on ``lessons/`` (or on one lesson)."""
    path = LESSONS_FOLDER if notebook is None else f"{LESSONS_FOLDER}/{notebook}"
    return f"https://mybinder.org/v2/gh/{repository}/HEAD?urlpath=lab/tree/{path}"


def binder_badge(notebook: str | None = None, repository: str = REPOSITORY) -> str:
    return f"[![Binder]({BINDER_BADGE_IMAGE})]({binder_url(notebook, repository)})"


def link_markdown(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The markdown cell at the top of a lesson: its Colab and Binder badges and what the next
    cell is for."""
    return (f"{colab_badge(notebook, repository, branch)} {binder_badge(notebook, repository)}\n"
            "\n"
            "*On Google Colab, run the next cell first: it installs mfteach and downloads MovieLens 100K. "
            "In JupyterLab, on Binder or on a JupyterHub it does nothing.*")


def setup_cell(repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The source of the first code cell of every lesson."""
    return f'''# Google Colab only: install mfteach and download MovieLens 100K. Elsewhere this cell does nothing.
import sys
if "google.colab" in sys.modules:
    import importlib, importlib.util
    if importlib.util.find_spec("mfteach") is None:
        get_ipython().run_line_magic("pip", "install --quiet {archive_url(repository, branch)}")
        importlib.invalidate_caches()
    from mfteach.data import main as _mfteach_data
    _mfteach_data(["download", "100k"])'''


SETUP_CELL = setup_cell()
