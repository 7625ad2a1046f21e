"""Explanations of matrix-factorization predictions.

* ``influence``, ``influence_matrix``: influence and impact of a user's own past ratings
  (Rastegarpanah, Crovella, Gummadi, FATREC 2017), for models fitted by ``mfteach.ALS``;
  ``experiments`` holds the paper's Figure-1 and Appendix-A experiments (lesson 13).
* ``fia``, ``ia_basic``, ``loo_influence``: Fast Influence Analysis, the basic influence
  analysis over all parameters, and leave-one-out retraining (Cheng, Shen, Huang, Zhu, KDD 2019)
  for ``ALS`` and ``GradientDescent`` models; ``fia_vs_loo``/``agreement`` compare them (lesson 15).
  ``relative_gradient_norm`` says how far a model is from the stationary point FIA assumes (``fia``
  and ``ia_basic`` warn with a ``ConvergenceWarning`` above 0.1).
* Every explanation takes the model's TRAINING ratings and refuses others with a ValueError (a
  fitted model keeps their ``Ratings.fingerprint`` as ``model.fingerprint_``).
* ``fia_ncf`` and friends: FIA for ``mfteach.NCF`` (KDD 2019 section 3.3), ``validate_fia_ncf``
  against retraining (lesson 17).
* One interface (``_problem``): each model family describes the prediction (u, i) by its
  ``LocalProblem`` (the parameters of u and i, R_t, residuals, Hessian blocks; matrix
  factorization's in ``_mf``, NCF's in ``_ncf``), and ``fia``, ``exact_local`` and the frames are
  computed once from it; ``local_problem`` is the one dispatch on the model family. ``SIDES``
  names the two sides of R_t. Leave-one-out retrains go through ``mfteach.retrain``.
"""

from ._problem import SIDES
from .experiments import appendix_a_experiment, identical_rated_sets, same_set_experiment
from .fast_influence import ConvergenceWarning, fia, ia_basic, local_problem, loo_influence, relative_gradient_norm
from .fast_influence_ncf import fia_ncf, loo_influence_ncf, validate_fia_ncf
from .fatrec import influence, influence_matrix
from .local import local_rescore, local_retrain
from .validation import agreement, fia_vs_loo

__all__ = ["influence", "influence_matrix", "identical_rated_sets", "same_set_experiment", "appendix_a_experiment",
           "fia", "ia_basic", "loo_influence", "fia_vs_loo", "agreement", "fia_ncf", "loo_influence_ncf",
           "validate_fia_ncf", "relative_gradient_norm", "ConvergenceWarning", "SIDES", "local_problem",
           "local_retrain", "local_rescore"]
