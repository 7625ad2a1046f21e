"""Interactive explorers for the lessons (ipywidgets + matplotlib).

Each widget is split in two (ARCHITECTURE.md, "Widgets"): a PURE compute function that tests and
benchmarks call without a browser, and a thin builder that wires ipywidgets controls to an
``Output`` and returns the widget box. Algorithms never import this package; widgets may
import ``mfteach.plots``. This file only re-exports: the helpers the explorers share live in the
private ``_common`` module, each explorer in a module named for its topic (the builders' names
are not module names, so no attribute of this package is shadowed).

=============================  ==========================================================  ======  ===================
builder                        compute function                                            lesson  module
=============================  ==========================================================  ======  ===================
``affinity_explorer``          ``affinity_ranking``                                          00      affinity
``user_explorer``              ``user_view`` (after ``prepare_user_explorer``)               01, 08  user_factors
``rank1_puzzle_widget``        ``puzzle_state``                                              02, 03  rank1_puzzle
``gd_stepsize_explorer``       ``stepsize_run`` (after ``prepare_stepsize``)                 04      gd_stepsize
``gd_playground``              ``playground_run`` (after ``prepare_playground``)             05      gd_sampling
``als_step_explorer``          ``als_step_view`` (after ``als_sequence``)                    06      als_stepper
``als_explorer``               ``als_grid_view`` (after ``als_grid``)                        07      als_hyperparameters
``similar_items_explorer``     ``nearest_items`` (after ``prepare_similar_items``)           09      similar_items
``confidence_explorer``        ``confidence_view`` (after ``prepare_confidence_explorer``)   10      confidence
``implicit_als_explorer``      ``implicit_view`` (after ``implicit_grid``)                   11      implicit_explorer
``influence_matrix_explorer``  ``impact_view``                                               12      influence_matrix
``influence_explorer``         ``predicted_change`` (after ``prepare_influence_explorer``)   13      influence_retrain
``ridge_influence_explorer``   ``ridge_influence``                                           14      ridge_explorer
``fia_explorer``               ``explanation_view``                                          15      fia_view
``ncf_anatomy_explorer``       ``prediction_anatomy``                                        16      ncf_anatomy
``ncf_explorer``               ``compare_explanations``                                      17      ncf_fia
``explanation_explorer``       ``app.explain_recommendation``                              app     explanation_app
=============================  ==========================================================  ======  ===================
"""

from ._common import escape_html, show_outputs
from .affinity import affinity_explorer, affinity_ranking
from .user_factors import prepare_user_explorer, user_explorer, user_view
from .rank1_puzzle import hidden_rank1, plot_bipartite, puzzle_state, rank1_puzzle_widget
from .gd_sampling import gd_playground, playground_run, prepare_playground
from .als_hyperparameters import als_explorer, als_grid, als_grid_view
from .implicit_explorer import (
    ImplicitExplorer, ImplicitGrid, ImplicitView, implicit_als_explorer, implicit_grid, implicit_view,
    render_implicit_view,
)
from .similar_items import nearest_items, prepare_similar_items, render_similar_items, similar_items_explorer
from .influence_retrain import (
    InfluenceExplorer, InfluenceState, PredictedChange, RetrainedChange, influence_explorer, predicted_change,
    prepare_influence_explorer, render_influence_view, retrain, retrained_change,
)
from .fia_view import (
    ExplanationView, FiaExplorer, Verification, explanation_view, fia_explorer, render_explanation, verify_top,
)
from .ncf_fia import (
    Comparison, ComparisonDrawing, NcfExplorer, compare_explanations, ncf_explorer, render_comparison, render_tables,
)
from .ridge_explorer import RidgeInfluence, ridge_influence, ridge_influence_explorer
from .ncf_anatomy import Anatomy, ncf_anatomy_explorer, prediction_anatomy
from .confidence import confidence_explorer, confidence_view, prepare_confidence_explorer
from .influence_matrix import impact_view, influence_matrix_explorer, render_impact_view
from .gd_stepsize import gd_stepsize_explorer, prepare_stepsize, stepsize_run
from .als_stepper import als_sequence, als_step_explorer, als_step_view
from .explanation_app import ExplanationApp, explanation_explorer, render_app_explanation

__all__ = [
    "show_outputs", "escape_html", "affinity_explorer", "affinity_ranking", "prepare_user_explorer", "user_explorer", "user_view",
    "hidden_rank1", "plot_bipartite", "puzzle_state", "rank1_puzzle_widget",
    "gd_playground", "playground_run", "prepare_playground",
    "als_explorer", "als_grid", "als_grid_view",
    "implicit_als_explorer", "implicit_grid", "implicit_view", "render_implicit_view",
    "ImplicitExplorer", "ImplicitGrid", "ImplicitView",
    "nearest_items", "prepare_similar_items", "render_similar_items", "similar_items_explorer",
    "influence_explorer", "predicted_change", "prepare_influence_explorer", "render_influence_view", "retrain",
    "retrained_change", "InfluenceExplorer", "InfluenceState", "PredictedChange", "RetrainedChange",
    "ncf_explorer", "compare_explanations", "render_comparison", "render_tables", "Comparison", "ComparisonDrawing",
    "NcfExplorer", "fia_explorer", "explanation_view", "verify_top", "render_explanation", "ExplanationView",
    "Verification", "FiaExplorer",
    "ridge_influence_explorer", "ridge_influence", "RidgeInfluence",
    "ncf_anatomy_explorer", "prediction_anatomy", "Anatomy",
    "confidence_explorer", "confidence_view", "prepare_confidence_explorer",
    "influence_matrix_explorer", "impact_view", "render_impact_view",
    "gd_stepsize_explorer", "prepare_stepsize", "stepsize_run",
    "als_step_explorer", "als_sequence", "als_step_view",
    "explanation_explorer", "render_app_explanation", "ExplanationApp",
]
