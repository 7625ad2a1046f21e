"""Independent reference computations shared by the tests of lessons 12 and 13 (FATREC 2017):
the ridge solution of one user's half-step by least squares, written apart from mfteach."""

import numpy as np


def user_solution(F, rated, targets, reg):
    """The ridge solution w = argmin ||F_O w - t||^2 + reg ||w||^2, by lstsq on the stacked system."""
    F_O = F[rated]
    stacked = np.vstack([F_O, np.sqrt(reg) * np.eye(F.shape[1])])
    return np.linalg.lstsq(stacked, np.r_[targets, np.zeros(F.shape[1])], rcond=None)[0]


def prediction_after_user_step(model, rated, r_O, item):
    """The model's prediction for ``item`` after re-solving only the user's half-step for the
    ratings r_O of ``rated`` (V, mu and the item biases fixed): an independent implementation."""
    if not model.biased:
        return model.V_[item] @ user_solution(model.V_, rated, r_O, model.reg)
    F = np.hstack([model.V_, np.ones((model.V_.shape[0], 1))])
    w = user_solution(F, rated, r_O - model.mu_ - model.item_bias_[rated], model.reg)
    return model.mu_ + model.item_bias_[item] + F[item] @ w
