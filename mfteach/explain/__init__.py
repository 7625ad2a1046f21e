"""Explanations of matrix-factorization predictions.

``influence``: influence and impact of a user's own past ratings (Rastegarpanah, Crovella,
Gummadi, FATREC 2017), for models fitted by ``mfteach.ALS``.
"""

from .influence import influence, influence_matrix

__all__ = ["influence", "influence_matrix"]
