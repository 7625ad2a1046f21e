"""mfteach: lessons and reference implementations for matrix-factorization recommenders.

Notation (ARCHITECTURE.md, "Notation"): R (m x n, users in rows) is known on Omega; U (m x k) and
V (n x k) are the user and item factors; R_hat = U V^T.
"""

import importlib

from . import metrics
from .ratings import Ratings

__version__ = "0.1.0"

# Loaded on first use (PEP 562): keeps `python -m mfteach.data ...` free of runpy's
# "found in sys.modules" warning, and IPython machinery out of a plain `import mfteach`.
_LAZY = {
    # data
    "load_movielens": "data", "synthetic": "data", "toy": "data",
    # models and algorithms
    "complete_rank1": "completion", "fit_rank1": "completion",
    "GradientDescent": "gd", "ALS": "als", "TruncatedSVD": "svd", "Baseline": "baseline", "Popularity": "baseline",
    "ImplicitALS": "implicit", "NCF": "ncf",
    "retrain": "retraining",
    # submodules
    "data": None, "completion": None, "gd": None, "als": None, "svd": None, "baseline": None, "implicit": None,
    "ncf": None, "embeddings": None, "explain": None, "exercises": None, "plots": None, "widgets": None,
}

__all__ = ["Ratings", "metrics", "__version__", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'mfteach' has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    return module if _LAZY[name] is None else getattr(module, name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython):
    """``%load_ext mfteach``: registers the ``%%check NAME`` cell magic."""
    from .exercises import load_ipython_extension as _load

    _load(ipython)
