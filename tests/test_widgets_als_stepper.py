"""The ALS stepper of lesson 06: its half-steps are mt.ALS's, each one the exact minimum over one
factor (checked by lstsq on the stacked ridge system), the objective never goes up, and the
widget, driven in plain Python, redraws on both sliders."""

import numpy as np
import pytest

import mfteach as mt
from mfteach.widgets.als_stepper import (
    N_SWEEPS, REGS, ALSSequence, ALSStepExplorer, StepView, als_sequence, als_step_explorer, als_step_view,
    render_als_step, render_matrices, step_label,
)

R = mt.toy("lecture_R")
KNOWN = ~np.isnan(R)


@pytest.fixture(scope="module")
def sequence():
    return als_sequence(R, 0.1)


def ridge(features, targets, reg):
    """argmin_w ||targets - features w||^2 + reg ||w||^2 by lstsq on [features; sqrt(reg) I] w = [targets; 0]."""
    k = features.shape[1]
    return np.linalg.lstsq(np.vstack([features, np.sqrt(reg) * np.eye(k)]), np.concatenate([targets, np.zeros(k)]),
                           rcond=None)[0]


@pytest.mark.parametrize("reg", [0.01, 0.1, 1.0, 10.0])
def test_the_sequence_is_mt_ALS_half_step_by_half_step(reg):
    seq = als_sequence(R, reg, n_sweeps=12)
    model = mt.ALS(rank=2, reg=reg, n_iters=12, seed=0).fit(mt.Ratings.from_dense(R))
    assert isinstance(seq, ALSSequence) and seq.n_steps == 24 and seq.U.shape == (25, 4, 2) and seq.V.shape == (25, 6, 2)
    np.testing.assert_allclose(seq.U[-1], model.U_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(seq.V[-1], model.V_, rtol=1e-9, atol=1e-12)
    # after every full sweep (even half-steps) the objective is history_'s loss times |Omega|
    np.testing.assert_allclose(seq.loss[::2], model.history_["loss"] * KNOWN.sum(), rtol=1e-9)
    np.testing.assert_array_equal(seq.V[0], 0.0)                                  # mt.ALS's start
    np.testing.assert_array_equal(seq.U[0], np.random.default_rng(0).normal(0, 0.1, (4, 2)))


@pytest.mark.parametrize("reg", [0.03, 1.0])
def test_every_half_step_is_the_exact_block_minimum(reg):
    """V-steps (odd t) re-solve every item by ridge regression on the users' vectors and keep U;
    U-steps (even t) re-solve every user on the items' vectors and keep V."""
    seq = als_sequence(R, reg, n_sweeps=4)
    for t in range(1, seq.n_steps + 1):
        if t % 2 == 1:
            np.testing.assert_array_equal(seq.U[t], seq.U[t - 1])
            for i in range(R.shape[1]):
                users = np.flatnonzero(KNOWN[:, i])
                np.testing.assert_allclose(seq.V[t][i], ridge(seq.U[t][users], R[users, i], reg), atol=1e-10)
        else:
            np.testing.assert_array_equal(seq.V[t], seq.V[t - 1])
            for u in range(R.shape[0]):
                items = np.flatnonzero(KNOWN[u])
                np.testing.assert_allclose(seq.U[t][u], ridge(seq.V[t][items], R[u, items], reg), atol=1e-10)


def test_the_objective_never_goes_up_and_the_solved_block_has_zero_gradient(sequence):
    n_known = KNOWN.sum()
    for t in range(sequence.n_steps + 1):
        U, V = sequence.U[t], sequence.V[t]
        # the slides' objective (lessons 00-01's regularized_loss) and its gradient: |Omega| times the mean loss's
        assert sequence.loss[t] == pytest.approx(mt.exercises.regularized_loss(R, U, V, 0.1), rel=1e-12)
        grad_U, grad_V = mt.gd.gradient(mt.Ratings.from_dense(R), U, V, reg=0.1)
        assert sequence.grad_U[t] == pytest.approx(n_known * np.linalg.norm(grad_U), rel=1e-9, abs=1e-12)
        assert sequence.grad_V[t] == pytest.approx(n_known * np.linalg.norm(grad_V), rel=1e-9, abs=1e-12)
        if t > 0:
            solved, other = (sequence.grad_V[t], sequence.grad_U[t]) if t % 2 else (sequence.grad_U[t], sequence.grad_V[t])
            assert solved < 1e-10 < other
    assert np.all(np.diff(sequence.loss) <= 1e-12)
    assert sequence.loss[0] == pytest.approx(np.nansum(R ** 2) + 0.1 * np.sum(sequence.U[0] ** 2))   # V = 0
    assert sequence.loss[-1] < sequence.loss[0] / 30


def test_a_large_lambda_shrinks_everything_to_zero():
    seq = als_sequence(R, 10.0)
    assert np.abs(seq.U[-1] @ seq.V[-1].T).max() < 0.01
    assert seq.loss[-1] == pytest.approx(np.nansum(R ** 2), rel=1e-4)


def test_the_step_view_is_a_lookup(sequence):
    view = als_step_view(sequence, 5)
    assert isinstance(view, StepView) and view.label == "V-step 3" and view.solved == "V" and view.n_steps == 2 * N_SWEEPS
    np.testing.assert_array_equal(view.U, sequence.U[5])
    np.testing.assert_allclose(view.R_hat, sequence.U[5] @ sequence.V[5].T)
    np.testing.assert_array_equal(view.losses, sequence.loss[:6])
    assert view.loss == sequence.loss[5] and view.change == sequence.loss[5] - sequence.loss[4] < 0
    assert (view.grad_U, view.grad_V) == (sequence.grad_U[5], sequence.grad_V[5])
    assert view.loss_range == (sequence.loss.min(), sequence.loss.max())
    start = als_step_view(sequence, 0)
    assert start.solved == "start" and start.change == 0 and len(start.losses) == 1


def test_step_labels():
    assert [step_label(t) for t in range(6)] == ["start", "V-step 1", "U-step 1", "V-step 2", "U-step 2", "V-step 3"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(reg=0.0), ValueError, "reg must be a finite number > 0"),
    (dict(reg=-1.0), ValueError, "reg must be a finite number > 0"),
    (dict(rank=0), ValueError, "rank must be an integer >= 1"),
    (dict(n_sweeps=1.5), ValueError, "n_sweeps must be an integer >= 1"),
    (dict(R=np.full((2, 3), np.nan)), ValueError, "no known rating"),
    (dict(R=np.array([[1.0, np.inf]])), ValueError, "finite ratings"),
    (dict(R=np.array([1.0, 2.0])), ValueError, "m x n matrix"),
])
def test_bad_sequences_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        als_sequence(**({"R": R} | kwargs))


@pytest.mark.parametrize("step", [-1, 51, 2.0, True])
def test_bad_steps_are_rejected(sequence, step):
    with pytest.raises(ValueError, match="step must be an integer from 0 to 50"):
        als_step_view(sequence, step)


def test_a_sequence_is_required():
    with pytest.raises(TypeError, match="ALSSequence"):
        als_step_view(R, 0)


def test_ratings_are_accepted_as_well_as_a_dense_matrix(sequence):
    np.testing.assert_array_equal(als_sequence(mt.Ratings.from_dense(R), 0.1).loss, sequence.loss)


# ---------------------------------------------------------------------------- drawing
def test_the_matrices_mark_the_solved_factor_and_the_question_marks(sequence):
    html = render_matrices(als_step_view(sequence, 2))                         # U-step 1
    u_part, vt_part = html.split("<b>U</b>")[1].split("<b>Vᵀ</b>")
    assert "SOLVED" in u_part and "held fixed" in vt_part.split("R̂")[0]
    assert html.count(">?</td>") == (~KNOWN).sum()                             # R's "?"
    assert html.count("font-weight:bold'>") == (~KNOWN).sum()                  # the framed predictions in R_hat
    assert f"{sequence.U[2][0, 0]:.2f}" in u_part
    first = render_matrices(als_step_view(sequence, 1))
    assert "SOLVED" in first.split("<b>Vᵀ</b>")[1]
    R_hat = sequence.U[1] @ sequence.V[1].T
    assert ((R_hat < 0) & (R_hat > -0.05)).any() and ">-0.0<" not in first      # tiny negatives read 0.0
    assert "SOLVED" not in render_matrices(als_step_view(sequence, 0))


def test_the_loss_panel_shows_the_half_steps_so_far(sequence):
    view = als_step_view(sequence, 7)
    ax = render_als_step(view).axes[0]
    by_label = {line.get_label(): line for line in ax.lines}
    np.testing.assert_array_equal(by_label["after a V-step (V solved, U fixed)"].get_xdata(), [1, 3, 5, 7])
    np.testing.assert_array_equal(by_label["after a U-step (U solved, V fixed)"].get_xdata(), [2, 4, 6])
    np.testing.assert_allclose(by_label["after a U-step (U solved, V fixed)"].get_ydata(), sequence.loss[[2, 4, 6]])
    assert ax.get_xlim()[1] > 50 and ax.get_yscale() == "log"                  # fixed over the whole sequence
    assert "L = " + f"{sequence.loss[7]:.3f}" in [t.get_text() for t in ax.texts]


# ---------------------------------------------------------------------------- the widget
def _content(box):
    return [(sorted(o["data"]), o["data"].get("text/html", ""), o["data"].get("image/png", ""))
            for o in box.out.outputs]


def test_widget_redraws_on_both_sliders():
    box = als_step_explorer()
    assert isinstance(box, ALSStepExplorer)
    assert repr(box) == "ALSStepExplorer(reg=0.1, half-step 0 of 50: start)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["text/html", "text/plain"],
                                                          ["image/png", "text/plain"]]
    assert list(box.sequences) == [0.1]
    seen = [_content(box)]
    for control, value in [(box.step, 1), (box.step, 2), (box.reg, 1.0), (box.step, 50), (box.reg, 0.1)]:
        control.value = value
        assert len(box.out.outputs) == 3  # replaced, never stacked
        assert _content(box) != seen[-1], (control.description, value)
        seen.append(_content(box))
    assert sorted(box.sequences) == [0.1, 1.0]                                 # one sequence per lambda, kept
    assert box.view.step == 50 and box.view.reg == 0.1
    assert repr(box) == "ALSStepExplorer(reg=0.1, half-step 50 of 50: U-step 25)"
    box.step.value = 2
    caption = box.out.outputs[0]["data"]["text/html"]
    assert "U-step 1" in caption and "never up" in caption and "closed form" in caption


def test_the_first_slider_is_the_half_step():
    import ipywidgets as widgets

    box = als_step_explorer(reg=0.3, step=4)

    def sliders(widget):
        if isinstance(widget, (widgets.SelectionSlider, widgets.IntSlider, widgets.FloatSlider)):
            return [widget]
        return [s for child in getattr(widget, "children", ()) for s in sliders(child)]

    assert sliders(box) == [box.step, box.reg]     # the browser test moves the first slider
    assert (box.step.value, box.step.max, box.reg.value) == (4, 2 * N_SWEEPS, 0.3)
    assert [v for _, v in box.reg.options] == list(REGS)
    with pytest.raises(ValueError, match="not on the grid"):
        als_step_explorer(reg=0.2)
    with pytest.raises(ValueError, match="step must be an integer from 0 to 50"):
        als_step_explorer(step=51)


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(monkeypatch):
    import mfteach.widgets.als_stepper as module

    box = als_step_explorer()

    def broken(*args, **kwargs):
        raise RuntimeError("half-step exploded")

    monkeypatch.setattr(module, "als_step_view", broken)
    box.step.value = 3
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "half-step exploded" in shown
    assert not box.step.disabled and not box.reg.disabled
