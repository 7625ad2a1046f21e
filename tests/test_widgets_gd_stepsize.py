"""The step-size explorer of lesson 04: its dense full-GD run is mt.GradientDescent's (same start,
same steps, same blow-up rule), the verdicts say what each learning rate does, and the widget,
driven in plain Python, redraws on every control."""

import numpy as np
import pytest

import mfteach as mt
from mfteach.widgets.gd_stepsize import (
    LEARNING_RATES, LESSON_LR, N_EPOCHS, REGS, GDStepsizeExplorer, StepsizeDrawing, StepsizeRun, gd_stepsize_explorer,
    prepare_stepsize, render_stepsize, stepsize_run,
)


@pytest.fixture(scope="module")
def data():
    return prepare_stepsize()


def hidden_truth(data):
    """The unknown entries with their planted values, as Ratings (the lesson's ``hidden``)."""
    rows, cols = np.nonzero(data.unknown)
    return mt.Ratings(rows, cols, data.truth[rows, cols], shape=data.truth.shape)


def test_the_data_are_the_lessons_planted_matrix(data):
    ratings, U_true, V_true = mt.synthetic(200, 150, rank=5, density=0.2, noise=0.1, seed=0)
    np.testing.assert_array_equal(data.ratings.values, ratings.values)
    np.testing.assert_array_equal(data.truth, U_true @ V_true.T)
    assert data.mask.sum() == len(ratings) == 6000 and data.unknown.sum() == 200 * 150 - 6000
    np.testing.assert_array_equal(data.observed[ratings.rows, ratings.cols], ratings.values)
    assert np.all(data.observed[data.unknown == 1] == 0)


@pytest.mark.parametrize("lr, reg", [(20.0, 0.0), (5.0, 1.0), (120.0, 0.3), (140.0, 0.0)])
def test_a_run_is_gradient_descents_history(data, lr, reg):
    """Same initial factors, same steps: the loss, the training RMSE and the RMSE to the truth on
    the unknown entries (GradientDescent's test_rmse with the hidden truth as eval_set)."""
    run = stepsize_run(data, lr, reg, n_epochs=30)
    model = mt.GradientDescent(rank=5, lr=lr, reg=reg, n_epochs=30, sampling="full", seed=0)
    history = model.fit(data.ratings, eval_set=hidden_truth(data)).history_
    assert isinstance(run, StepsizeRun) and not run.diverged and len(run.history) == 31
    np.testing.assert_allclose(run.history["loss"], history["loss"], rtol=1e-9)
    np.testing.assert_allclose(run.history["train_rmse"], history["train_rmse"], rtol=1e-9)
    np.testing.assert_allclose(run.history["truth_rmse"], history["test_rmse"], rtol=1e-9)
    assert list(run.history["epoch"]) == list(range(31))


def test_a_blow_up_stops_where_gradient_descent_stops(data):
    run = stepsize_run(data, 250.0, 0.0)
    with pytest.raises(mt.gd.DivergenceError) as caught:
        mt.GradientDescent(rank=5, lr=250.0, n_epochs=N_EPOCHS, sampling="full", seed=0).fit(data.ratings)
    expected = caught.value.history
    assert run.diverged and run.error == str(caught.value)
    np.testing.assert_allclose(run.history["loss"], expected["loss"], rtol=1e-9)
    assert run.history["loss"].iloc[-1] > run.threshold == 1e3 * max(run.history["loss"].iloc[0], 1.0)
    assert (run.history["loss"].iloc[:-1] <= run.threshold).all()   # it stopped at the first epoch past it


def test_bouncing_counts_the_epochs_in_which_the_loss_went_up(data):
    run = stepsize_run(data, 160.0, 0.0)
    losses = run.history["loss"].to_numpy()
    assert run.rises == int(np.sum(losses[1:] > losses[:-1])) > 10
    assert losses.min() < run.final_loss / 2                   # it had been lower: it overshoots, not diverges
    assert stepsize_run(data, 80.0, 0.0).rises == 0


def test_the_verdicts_along_the_learning_rate_slider(data):
    """lambda = 0: small rates creep, the middle converges, past about 120 the loss bounces, then
    the run blows up; the lesson's lr = 20 is the reference."""
    reference = stepsize_run(data, LESSON_LR, 0.0)
    verdicts = {lr: stepsize_run(data, lr, 0.0).verdict(reference) for lr in LEARNING_RATES}
    assert verdicts == {1.0: "too small", 2.0: "too small", 5.0: "too small", 10.0: "too small", 20.0: "steady",
                        40.0: "steady", 80.0: "steady", 120.0: "steady", 140.0: "bouncing", 160.0: "bouncing",
                        180.0: "diverged", 250.0: "diverged"}
    steady = stepsize_run(data, 80.0, 0.0)
    assert np.all(np.diff(steady.history["loss"]) <= 0) and steady.final_truth_rmse < 0.1   # within the noise
    assert stepsize_run(data, 1.0, 0.0).verdict() == "steady"   # without a reference nothing is "too small"


def test_lambda_raises_the_loss_floor_and_moves_away_from_the_truth(data):
    runs = [stepsize_run(data, 40.0, reg) for reg in (0.0, 1.0, 10.0)]
    assert runs[0].final_loss < runs[1].final_loss < runs[2].final_loss
    assert runs[0].final_truth_rmse < runs[1].final_truth_rmse < runs[2].final_truth_rmse


def test_runs_are_cached_per_setting(data):
    assert stepsize_run(data, 40.0, 0.3) is stepsize_run(data, 40, 0.3)
    assert stepsize_run(data, 40.0, 0.3, n_epochs=10) is not stepsize_run(data, 40.0, 0.3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0), "lr must be a finite number > 0"),
    (dict(lr=-1.0), "lr must be a finite number > 0"),
    (dict(lr=float("nan")), "lr must be a finite number > 0"),
    (dict(lr="20"), "lr must be a finite number > 0"),
    (dict(lr=True), "lr must be a finite number > 0"),
    (dict(reg=-0.1), "reg must be a finite number >= 0"),
    (dict(reg=float("inf")), "reg must be a finite number >= 0"),
    (dict(rank=0), "rank must be an integer >= 1"),
    (dict(n_epochs=2.5), "n_epochs must be an integer >= 1"),
])
def test_bad_settings_are_rejected(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        stepsize_run(data, **kwargs)


def test_the_data_must_be_prepared():
    with pytest.raises(TypeError, match="StepsizeData"):
        stepsize_run(mt.synthetic(20, 10, rank=2, density=0.5)[0], 20.0)
    with pytest.raises(TypeError, match="StepsizeData"):
        gd_stepsize_explorer(data="synthetic")


# ---------------------------------------------------------------------------- drawing
def visible(ax):
    """The drawn curves of a panel by label (hidden artists and unlabelled markers left out)."""
    return {line.get_label(): line for line in ax.lines if line.get_visible() and not line.get_label().startswith("_")}


def test_render_draws_the_run_and_the_reference_on_both_panels(data):
    run, reference = stepsize_run(data, 140.0, 0.0), stepsize_run(data, LESSON_LR, 0.0)
    fig = render_stepsize(run, reference)
    loss, truth = fig.axes
    curves = visible(loss)
    assert set(curves) == {"lr = 140", "lesson's lr = 20"}                       # no blow-up line
    np.testing.assert_allclose(curves["lr = 140"].get_ydata(), run.history["loss"])
    np.testing.assert_allclose(curves["lesson's lr = 20"].get_ydata(), reference.history["loss"])
    np.testing.assert_allclose(visible(truth)["lr = 140"].get_ydata(), run.history["truth_rmse"])
    assert curves["lr = 140"].get_linestyle() == "-" and curves["lesson's lr = 20"].get_linestyle() == "--"
    assert loss.get_yscale() == truth.get_yscale() == "log"
    assert visible(truth)["noise level 0.1"].get_ydata()[0] == 0.1
    assert list(visible(render_stepsize(reference, reference).axes[0])) == ["lr = 20"]   # the reference drawn once
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["lesson's lr = 20", "lr = 140", "noise level 0.1"]


def test_render_shows_a_blow_up_leaving_through_the_top(data):
    run = stepsize_run(data, 180.0, 0.0)
    fig = render_stepsize(run, stepsize_run(data, LESSON_LR, 0.0))
    loss = fig.axes[0]
    assert any(line.get_marker() == "X" and line.get_visible() for line in loss.lines)
    assert visible(loss)["blow-up: 1000 × the starting loss"].get_ydata()[0] == run.threshold
    assert run.threshold < loss.get_ylim()[1] < run.history["loss"].iloc[-1]
    assert "lr = 180 (blew up)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_one_drawing_follows_the_sliders(data):
    """The widget's drawing is updated in place: after a blow-up, a steady run hides the X and the
    threshold again, and the figure keeps one legend."""
    drawing = StepsizeDrawing()
    reference = stepsize_run(data, LESSON_LR, 0.0)
    drawing.update(stepsize_run(data, 250.0, 0.0), reference)
    fig = drawing.update(stepsize_run(data, 40.0, 0.0), reference)
    assert set(visible(fig.axes[0])) == {"lr = 40", "lesson's lr = 20"}
    assert not any(line.get_marker() == "X" and line.get_visible() for line in fig.axes[0].lines)
    assert len(fig.legends) == 1 and "λ = 0" in fig._suptitle.get_text()
    np.testing.assert_allclose(visible(fig.axes[0])["lr = 40"].get_ydata(),
                               stepsize_run(data, 40.0, 0.0).history["loss"])


# ---------------------------------------------------------------------------- the widget
def _content(box):
    return [(sorted(o["data"]), o["data"].get("text/html", ""), o["data"].get("image/png", ""))
            for o in box.out.outputs]


def test_widget_redraws_on_every_control(data):
    box = gd_stepsize_explorer(data=data)
    assert isinstance(box, GDStepsizeExplorer)
    assert repr(box) == "GDStepsizeExplorer(lr=20, reg=0, 100 epochs of full GD)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    seen = [_content(box)]
    for control, value in [(box.lr, 40.0), (box.reg, 1.0), (box.lr, 180.0), (box.reg, 0.0), (box.lr, 2.0)]:
        control.value = value
        assert len(box.out.outputs) == 2  # replaced, never stacked
        assert _content(box) != seen[-1], (control.description, value)
        seen.append(_content(box))
    assert box.run.lr == 2.0 and box.run.reg == 0.0
    assert repr(box) == "GDStepsizeExplorer(lr=2, reg=0, 100 epochs of full GD)"


def test_widget_says_in_words_what_each_step_does(data):
    box = gd_stepsize_explorer(data=data)

    def caption():
        return box.out.outputs[0]["data"]["text/html"]

    assert "fell in every epoch" in caption()
    box.lr.value = 160.0
    assert "too large" in caption() and "up" in caption() and "overshoot" in caption()
    box.lr.value = 250.0
    assert "blew up" in caption() and "DivergenceError" in caption() and "smaller learning rate" in caption()
    box.lr.value = 2.0
    assert "too small" in caption()
    box.reg.value = 3.0
    assert "λ = 3" in caption()


def test_the_first_slider_is_the_learning_rate_and_the_grids(data):
    import ipywidgets as widgets

    box = gd_stepsize_explorer(lr=120, reg=0.3, data=data)

    def sliders(widget):
        if isinstance(widget, (widgets.SelectionSlider, widgets.IntSlider, widgets.FloatSlider)):
            return [widget]
        return [s for child in getattr(widget, "children", ()) for s in sliders(child)]

    assert sliders(box) == [box.lr, box.reg]     # the browser test moves the first slider
    assert [v for _, v in box.lr.options] == list(LEARNING_RATES) and [v for _, v in box.reg.options] == list(REGS)
    assert (box.lr.value, box.reg.value) == (120.0, 0.3)
    with pytest.raises(ValueError, match="not on the grid"):
        gd_stepsize_explorer(lr=33, data=data)
    with pytest.raises(ValueError, match="reg must be a finite number >= 0"):
        gd_stepsize_explorer(reg=-1, data=data)


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(data, monkeypatch):
    import mfteach.widgets.gd_stepsize as module

    box = gd_stepsize_explorer(data=data)

    def broken(*args, **kwargs):
        raise RuntimeError("gradient descent exploded")

    monkeypatch.setattr(module, "stepsize_run", broken)
    box.lr.value = 40.0
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "gradient descent exploded" in shown
    assert not box.lr.disabled and not box.reg.disabled


def test_the_loss_axis_snaps_to_whole_decades(data):
    fig = render_stepsize(stepsize_run(data, 40.0, 0.0), stepsize_run(data, LESSON_LR, 0.0))
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert np.log10(low) == round(np.log10(low)) and np.log10(high) == round(np.log10(high))
