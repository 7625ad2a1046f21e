"""The GD playground: its compute function reproduces GradientDescent's histories and counts
entries correctly; the widget, driven in plain Python, redraws on every control."""

import math

import numpy as np
import pytest

import mfteach as mt
from mfteach.gd import SAMPLINGS, default_lr
from mfteach.widgets.gd_sampling import (
    N_EPOCHS, GDPlayground, PlaygroundResult, gd_playground, playground_run, prepare_playground, render_playground,
    sample_count,
)


@pytest.fixture(scope="module")
def prepared(ml100k):
    return prepare_playground(ml100k)


@pytest.fixture(scope="module")
def synthetic_only():
    return prepare_playground()


# ---------------------------------------------------------------------------- data
def test_the_data_sets(prepared, ml100k):
    syn = prepared.datasets["synthetic"]
    ratings, U_true, V_true = mt.synthetic(200, 150, rank=5, density=0.2, noise=0.1, seed=0)
    assert syn.ratings == ratings and len(syn.ratings) == 6000
    np.testing.assert_allclose(syn.truth, U_true @ V_true.T)
    assert syn.unknown.sum() == 200 * 150 - 6000 and not syn.unknown[ratings.rows, ratings.cols].any()
    sub = prepared.datasets["movielens"]
    top = ml100k.top(300, 200)
    assert sub.ratings.shape == (300, 200) and sub.truth is None
    assert len(sub.ratings) == pytest.approx(0.2 * len(top), abs=len(top) * 0.01)
    # every rating of the subset is a rating of the 300 x 200 top block
    top_dense = top.to_dense()
    np.testing.assert_array_equal(sub.ratings.values, top_dense[sub.ratings.rows, sub.ratings.cols])
    assert set(prepare_playground().datasets) == {"synthetic"}


@pytest.mark.parametrize("sampling, percent, expected", [
    ("full", 10, None), ("entries", 10, 600), ("minibatch", 1, 60), ("columns", 10, 15), ("rows", 10, 20),
    ("columns", 0.1, 1), ("rows", 50, 100), ("entries", 100, 6000),
])
def test_sample_count(synthetic_only, sampling, percent, expected):
    assert sample_count(synthetic_only.datasets["synthetic"].ratings, sampling, percent) == expected


@pytest.mark.parametrize("sampling, percent", [("sideways", 10), ("entries", 0), ("rows", 101)])
def test_sample_count_rejects_bad_settings(synthetic_only, sampling, percent):
    with pytest.raises(ValueError):
        sample_count(synthetic_only.datasets["synthetic"].ratings, sampling, percent)


# ---------------------------------------------------------------------------- compute
@pytest.mark.parametrize("data", ["synthetic", "movielens"])
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_curves_are_gradient_descents_histories(prepared, data, sampling):
    """Both curves are exactly what GradientDescent(...).fit(...).history_ records."""
    ratings = prepared.datasets[data].ratings
    result = playground_run(prepared, data=data, sampling=sampling, sample_percent=10, lr_scale=1.5, rank=4,
                            n_epochs=12)
    assert isinstance(result, PlaygroundResult) and result.error is None
    size = sample_count(ratings, sampling, 10)
    lr = 1.5 * default_lr(sampling, len(ratings), ratings.user_counts(), ratings.item_counts(), size)
    assert result.lr == pytest.approx(lr) and result.sample_size == size
    model = mt.GradientDescent(rank=4, lr=lr, n_epochs=12, sampling=sampling, sample_size=size, seed=0).fit(ratings)
    np.testing.assert_allclose(result.history["loss"], model.history_["loss"], rtol=1e-12)
    np.testing.assert_array_equal(result.history["entries_touched"], model.history_["entries_touched"])
    full = mt.GradientDescent(rank=4, n_epochs=12, sampling="full", seed=0).fit(ratings)
    np.testing.assert_allclose(result.baseline["loss"], full.history_["loss"], rtol=1e-12)
    assert result.baseline_lr == pytest.approx(full.lr_)
    # same starting point: epoch 0 is the same loss in both runs
    assert result.history["loss"].iloc[0] == result.baseline["loss"].iloc[0]


def test_entries_touched_accounting(prepared):
    """Cumulative entries touched: |Omega| per full step; steps x |S| for entries; |Omega| per
    epoch for mini-batches; the entries of the sampled columns / rows otherwise."""
    ratings = prepared.datasets["movielens"].ratings
    n_ratings, (m, n) = len(ratings), ratings.shape
    epochs = np.arange(N_EPOCHS + 1)
    runs = {s: playground_run(prepared, "movielens", s, sample_percent=7, rank=3) for s in SAMPLINGS}

    np.testing.assert_array_equal(runs["full"].history["entries_touched"], epochs * n_ratings)
    np.testing.assert_array_equal(runs["full"].baseline["entries_touched"], epochs * n_ratings)
    assert runs["full"].steps_per_epoch == 1

    s = runs["entries"].sample_size
    assert s == round(0.07 * n_ratings) and runs["entries"].steps_per_epoch == math.ceil(n_ratings / s)
    np.testing.assert_array_equal(runs["entries"].history["entries_touched"], epochs * math.ceil(n_ratings / s) * s)
    np.testing.assert_array_equal(runs["minibatch"].history["entries_touched"], epochs * n_ratings)

    for mode, total, counts in (("columns", n, ratings.item_counts()), ("rows", m, ratings.user_counts())):
        run = runs[mode]
        size, steps = run.sample_size, run.steps_per_epoch
        assert size == round(0.07 * total) and steps == math.ceil(total / size)
        per_epoch = np.diff(run.history["entries_touched"])
        # each step touches the entries of `size` distinct columns (rows): between the smallest
        # and the largest possible sum, and |Omega| size / total on average
        smallest, largest = np.sort(counts)[:size].sum(), np.sort(counts)[-size:].sum()
        assert (per_epoch >= steps * smallest).all() and (per_epoch <= steps * largest).all()
        expected = steps * size / total * n_ratings
        assert per_epoch.mean() == pytest.approx(expected, rel=0.05)
        assert run.entries_per_step == pytest.approx(per_epoch.mean() / steps)


def test_truth_rmse_on_the_unknown_entries(prepared):
    data = prepared.datasets["synthetic"]
    result = playground_run(prepared, "synthetic", "rows", sample_percent=20, lr_scale=4.0, rank=5, n_epochs=30)
    size = sample_count(data.ratings, "rows", 20)
    model = mt.GradientDescent(rank=5, lr=result.lr, n_epochs=30, sampling="rows", sample_size=size).fit(data.ratings)
    unknown = np.ones(data.ratings.shape, dtype=bool)
    unknown[data.ratings.rows, data.ratings.cols] = False
    gap = model.predict_matrix() - data.truth
    assert result.truth_rmse == pytest.approx(np.sqrt(np.mean(gap[unknown] ** 2)), rel=1e-12)
    assert result.truth_rmse < 0.15  # the planted rank-5 matrix (unit variance) is nearly recovered
    summary = result.summary()
    assert list(summary.index) == ["full GD (default lr)", "chosen: rows, |R| = 40"]
    assert summary["RMSE to truth (unknown entries)"].iloc[1] == round(result.truth_rmse, 4)
    assert summary["loss after 30 epochs"].iloc[1] == round(result.history["loss"].iloc[-1], 4)
    assert summary["steps per epoch"].tolist() == [1, 5]
    # MovieLens has no truth: no such column
    assert "RMSE to truth (unknown entries)" not in playground_run(prepared, "movielens").summary()


def test_baseline_is_computed_once_per_data_and_rank(synthetic_only):
    prepared = prepare_playground()
    first = playground_run(prepared, "synthetic", "entries", rank=3, n_epochs=5)
    second = playground_run(prepared, "synthetic", "columns", sample_percent=20, lr_scale=0.5, rank=3, n_epochs=5)
    assert second.baseline is first.baseline and len(prepared.baselines) == 1
    third = playground_run(prepared, "synthetic", "entries", rank=4, n_epochs=5)
    assert third.baseline is not first.baseline and len(prepared.baselines) == 2
    # full GD at the default lr is the baseline itself
    same = playground_run(prepared, "synthetic", "full", rank=3, n_epochs=5)
    assert same.history is same.baseline


def test_divergence_is_reported_not_raised(synthetic_only):
    result = playground_run(synthetic_only, "synthetic", "full", lr_scale=16, rank=5)
    assert result.history is None and result.truth_rmse is None
    assert "diverged" in result.error and "smaller learning rate" in result.error
    assert result.baseline is not None and result.baseline_error is None
    summary = result.summary()
    assert np.isnan(summary[f"loss after {N_EPOCHS} epochs"].iloc[1])
    assert np.isfinite(summary[f"loss after {N_EPOCHS} epochs"].iloc[0])


@pytest.mark.parametrize("kwargs", [{"data": "netflix"}, {"sampling": "diagonal"}, {"lr_scale": 0},
                                    {"lr_scale": float("inf")}, {"sample_percent": 0}])
def test_bad_settings_are_rejected(synthetic_only, kwargs):
    with pytest.raises(ValueError):
        playground_run(synthetic_only, **kwargs)


def test_render_draws_both_curves_on_both_panels(synthetic_only):
    result = playground_run(synthetic_only, "synthetic", "columns", sample_percent=20, rank=2, n_epochs=8)
    fig = render_playground(result)
    left, right = (_curves(ax) for ax in fig.axes)
    assert [line.get_label() for line in left] == ["full GD (default lr)", result.label()]
    np.testing.assert_allclose(left[1].get_ydata(), result.history["loss"])
    np.testing.assert_allclose(right[1].get_xdata(), result.history["entries_touched"])
    np.testing.assert_allclose(right[0].get_xdata(), result.baseline["entries_touched"])
    assert fig.axes[0].get_yscale() == "log" and "entries" in fig.axes[1].get_xlabel()
    # full GD at the default lr is drawn once
    assert len(_curves(render_playground(playground_run(synthetic_only, "synthetic", "full", rank=2, n_epochs=8)).axes[0])) == 1


def _curves(ax):
    """The visible curves of a panel (the drawing keeps hidden lines for the runs not shown)."""
    return [line for line in ax.lines if line.get_visible() and line.get_marker() in ("None", None, "")]


# ---------------------------------------------------------------------------- the widget
def _content(box):
    return [(sorted(o["data"]), o["data"].get("text/html", ""), o["data"].get("image/png", ""))
            for o in box.out.outputs]


def test_widget_redraws_on_every_control(prepared):
    box = gd_playground(prepared=prepared, n_epochs=8)
    assert isinstance(box, GDPlayground)
    assert repr(box) == "GDPlayground(data='synthetic', sampling='entries', sample=10%, lr=1 x default, rank=5)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [
        ["text/html", "text/plain"], ["image/png", "text/plain"], ["text/html", "text/plain"]]
    seen = [_content(box)]
    changes = [(box.sample, 11), (box.lr, 2.0), (box.rank, 3), (box.sampling, "columns"), (box.data, "movielens"),
               (box.sampling, "full"), (box.sample, 12)]
    for control, value in changes:
        control.value = value
        assert len(box.out.outputs) == 3  # replaced, never stacked
        assert _content(box) != seen[-1], (control.description, value)
        seen.append(_content(box))
    assert box.result.data == "movielens" and box.result.sampling == "full" and box.result.rank == 3
    assert box.result.lr == pytest.approx(2.0 * box.result.baseline_lr)
    assert repr(box) == "GDPlayground(data='movielens', sampling='full', sample=12%, lr=2 x default, rank=3)"


def test_widget_shows_the_run_blowing_up_and_the_divergence_message(synthetic_only):
    box = gd_playground(prepared=synthetic_only, sampling="full", n_epochs=20)
    box.lr.value = 32
    result = box.result
    assert result.error is not None and result.history is None
    losses = result.diverged_history["loss"].to_numpy()
    assert len(losses) >= 2 and losses[0] < losses[-1] and result.diverged_history["epoch"].iloc[0] == 0
    html = " ".join(o["data"].get("text/html", "") for o in box.out.outputs)
    assert "DivergenceError" in html and "diverged" in html and "lr slider" in html
    assert any("image/png" in o["data"] for o in box.out.outputs)  # the curve, running away


def test_the_drawing_of_a_diverged_run_marks_where_it_ran_away(synthetic_only):
    result = playground_run(synthetic_only, "synthetic", "full", lr_scale=32, n_epochs=20)
    fig = render_playground(result)
    chosen = [line for line in _curves(fig.axes[0]) if line.get_linestyle() == "-"]
    finite = result.diverged_history[np.isfinite(result.diverged_history["loss"])]
    np.testing.assert_array_equal(chosen[0].get_ydata(), finite["loss"])
    assert any(line.get_marker() == "X" and line.get_visible() for line in fig.axes[0].lines)
    assert "diverged" in [t.get_text() for t in fig.legends[0].get_texts()][-1]


def test_a_divergence_error_carries_the_epochs_before_the_blow_up():
    import mfteach as mt

    ratings, _, _ = mt.synthetic(30, 20, rank=2, density=0.5, seed=0)
    with pytest.raises(mt.gd.DivergenceError) as caught:
        mt.GradientDescent(rank=2, lr=500.0, n_epochs=30, seed=0).fit(ratings)
    history = caught.value.history
    assert list(history["epoch"]) == list(range(len(history))) and len(history) >= 2
    assert not np.isfinite(history["loss"].iloc[-1]) or history["loss"].iloc[-1] > 1e3 * history["loss"].iloc[0]


def test_the_first_slider_is_the_sample_size_and_the_data_menu_offers_movielens(prepared):
    import ipywidgets as widgets

    box = gd_playground(prepared=prepared, n_epochs=4)

    def sliders(widget):
        if isinstance(widget, (widgets.IntSlider, widgets.FloatLogSlider)):
            return [widget]
        return [s for child in getattr(widget, "children", ()) for s in sliders(child)]

    assert sliders(box)[0] is box.sample  # the browser test moves the first slider
    assert [key for _, key in box.data.options] == ["synthetic", "movielens"]
    with pytest.raises(ValueError):
        gd_playground(prepared=prepared, data="netflix")


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(synthetic_only, monkeypatch):
    import mfteach.widgets.gd_sampling as module

    box = gd_playground(prepared=synthetic_only, n_epochs=4)

    def broken(*args, **kwargs):
        raise RuntimeError("playground exploded")

    monkeypatch.setattr(module, "playground_run", broken)
    box.sample.value = 20
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "playground exploded" in shown
    assert not any(c.disabled for c in (box.data, box.sampling, box.sample, box.lr, box.rank))


def test_a_setting_seen_before_is_not_fitted_again(synthetic_only, monkeypatch):
    import mfteach.widgets.gd_sampling as module

    first = playground_run(synthetic_only, "synthetic", "rows", sample_percent=30, rank=2, n_epochs=5)

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(module, "_train", no_fit)
    again = playground_run(synthetic_only, "synthetic", "rows", sample_percent=30, rank=2, n_epochs=5)
    assert again.history is first.history
