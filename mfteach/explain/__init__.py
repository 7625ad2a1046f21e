"""Explanations of matrix-factorization predictions.

* ``influence``, ``influence_matrix``: influence and impact of a user's own past ratings
  (Rastegarpanah, Crovella, Gummadi, FATREC 2017), for models fitted by ``mfteach.ALS``;
  ``experiments`` holds the paper's Figure-1 and Appendix-A experiments (lesson 06).
"""

from .experiments import appendix_a_experiment, identical_rated_sets, same_set_experiment
from .influence import influence, influence_matrix

__all__ = ["influence", "influence_matrix", "identical_rated_sets", "same_set_experiment", "appendix_a_experiment"]
