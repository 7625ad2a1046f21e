"""mfteach: lessons and reference implementations for matrix-factorization recommenders.

Notation (DESIGN.md section 1): R (m x n, users in rows) is known on Omega; U (m x k) and
V (n x k) are the user and item factors; R_hat = U V^T.
"""

from .data import Ratings, load_movielens, synthetic, toy
from . import metrics

__version__ = "0.1.0"

__all__ = ["Ratings", "load_movielens", "synthetic", "toy", "metrics", "exercises", "__version__"]


def __getattr__(name):
    # exercises pulls in IPython machinery only when a lesson asks for it
    if name == "exercises":
        import importlib

        return importlib.import_module(".exercises", __name__)
    raise AttributeError(f"module 'mfteach' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext mfteach``: registers the ``%%check NAME`` cell magic."""
    from .exercises import load_ipython_extension as _load

    _load(ipython)
