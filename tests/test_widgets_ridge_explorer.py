"""The 1-D ridge influence explorer of lesson 14: the fits against least squares, the estimate against
the derivative of the upweighted fit (eqs. 6-11), the exact change against refitting without the point,
the drawing shows those numbers, and every slider redraws the output."""

import base64

import numpy as np
import pytest

import mfteach.widgets.ridge_explorer as ridge_module
from mfteach.widgets.ridge_explorer import (
    LAMBDAS, RidgeDrawing, RidgeInfluence, RidgeInfluenceExplorer, render_ridge_influence, ridge_influence,
    ridge_influence_explorer,
)


def lesson_points(n=20, seed=0):
    """Lesson 14's twenty points: y = 0.8 x + noise, the last one far out (x = 3.5) and below the line."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.8 * x + 0.5 * rng.normal(size=n)
    x[-1], y[-1] = 3.5, 0.5
    return x, y


def ridge_by_lstsq(x, y, lam, weights=None):
    """argmin_w sum_j weights_j (y_j - w x_j)^2 + lam w^2 by least squares on [sqrt(wts) x; sqrt(lam)]."""
    weights = np.ones_like(x) if weights is None else weights
    A = np.concatenate([np.sqrt(weights) * x, [np.sqrt(lam)]])[:, None]
    b = np.concatenate([np.sqrt(weights) * y, [0.0]])
    return float(np.linalg.lstsq(A, b, rcond=None)[0][0])


# ---------------------------------------------------------------------------- the compute function
@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 30.0])
@pytest.mark.parametrize("removed", [0, 7, 19])
def test_fits_and_exact_changes_match_refitting_by_least_squares(lam, removed):
    x, y = lesson_points()
    x_t = 2.0
    view = ridge_influence(x, y, lam, x_t, removed)
    assert isinstance(view, RidgeInfluence) and view.removed == removed and view.lam == lam
    w = ridge_by_lstsq(x, y, lam)
    assert view.w == pytest.approx(w, rel=1e-10)
    assert view.prediction == pytest.approx(w * x_t, rel=1e-10)
    keep = np.arange(x.size) != removed
    assert view.w_without == pytest.approx(ridge_by_lstsq(x[keep], y[keep], lam), rel=1e-10)
    assert view.prediction_without == pytest.approx(view.w_without * x_t, rel=1e-12)
    for j in range(x.size):
        others = np.arange(x.size) != j
        assert view.exacts[j] == pytest.approx(x_t * (w - ridge_by_lstsq(x[others], y[others], lam)), abs=1e-10)
    assert view.exact == pytest.approx(view.prediction - view.prediction_without, abs=1e-12)
    np.testing.assert_allclose(view.residuals, y - w * x, atol=1e-12)


@pytest.mark.parametrize("lam", [0.1, 1.0, 10.0])
def test_estimate_is_the_derivative_of_the_upweighted_prediction(lam):
    """Eq. (8): INFL(z) = d y_hat_eps / d eps at 0, by central differences of independent weighted fits."""
    x, y = lesson_points()
    x_t, h = 2.0, 1e-5
    view = ridge_influence(x, y, lam, x_t, 0)
    for j in range(x.size):
        up, down = np.ones_like(x), np.ones_like(x)
        up[j], down[j] = 1 + h, 1 - h
        slope = x_t * (ridge_by_lstsq(x, y, lam, up) - ridge_by_lstsq(x, y, lam, down)) / (2 * h)
        assert view.estimates[j] == pytest.approx(slope, rel=1e-6, abs=1e-9)
    moved = ridge_influence(x, y, lam, x_t, 5)
    eps = np.array([-1.0, -0.5, 0.0, 0.7])
    weights = [np.where(np.arange(x.size) == 5, 1 + e, 1.0) for e in eps]
    np.testing.assert_allclose(moved.upweighted(eps), [x_t * ridge_by_lstsq(x, y, lam, w) for w in weights],
                               rtol=1e-10)
    assert moved.upweighted(-1.0) == pytest.approx(moved.prediction_without, rel=1e-12)   # eps = -1 removes z


def test_estimate_is_the_exact_change_times_one_minus_the_leverage():
    x, y = lesson_points()
    for lam in LAMBDAS:
        view = ridge_influence(x, y, lam, 2.0, 19)
        leverage = x**2 / (np.sum(x**2) + lam)
        np.testing.assert_allclose(view.leverages, leverage, rtol=1e-12)
        np.testing.assert_allclose(view.estimates, view.exacts * (1 - leverage), rtol=1e-10, atol=1e-14)
    small, large = ridge_influence(x, y, 0.1, 2.0, 19), ridge_influence(x, y, 100.0, 2.0, 19)
    assert large.leverage < small.leverage and large.estimate / large.exact > small.estimate / small.exact


def test_lesson_numbers():
    """The figures lesson 14's text quotes: the far point's estimate -0.270 against -0.489, leverage 0.45."""
    x, y = lesson_points()
    view = ridge_influence(x, y, 1.0, 2.0, 19)
    assert (round(view.estimate, 3), round(view.exact, 3), round(view.leverage, 2)) == (-0.270, -0.489, 0.45)
    assert np.abs(view.estimates - view.exacts)[:-1].max() == pytest.approx(0.0382, abs=5e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=[1.0]), "x must be a 1-D array of at least 2"),
    (dict(x=[[1.0, 2.0]]), "x must be a 1-D array"),
    (dict(x="ab"), "x must be a 1-D array"),
    (dict(y=[1.0, np.nan, 2.0]), "y must be finite"),
    (dict(y=[1.0, 2.0]), "x and y must have the same length"),
    (dict(lam=-1.0), "lam must be a finite number >= 0"),
    (dict(lam=float("inf")), "lam must be a finite number >= 0"),
    (dict(x_t=float("nan")), "x_t must be a finite number"),
    (dict(x_t="2"), "x_t must be a finite number"),
    (dict(removed=3), r"removed must be an index in \[0, 3\)"),
    (dict(removed=True), "removed must be an index"),
    (dict(x=[0.0, 0.0, 0.0], lam=0.0), "no fit"),
    (dict(x=[0.0, 2.0, 0.0], lam=0.0, removed=1), "no refit without point 1"),
])
def test_bad_input_is_named(kwargs, match):
    arguments = dict(x=[1.0, 2.0, -1.0], y=[1.0, 1.5, -0.5], lam=1.0, x_t=2.0, removed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        ridge_influence(**arguments)


def test_least_squares_with_a_point_whose_refit_is_undefined_elsewhere():
    """lam = 0 and only one x nonzero: removing another point is fine; that point's own exact change is NaN."""
    view = ridge_influence([0.0, 2.0, 0.0], [1.0, 1.0, 3.0], 0.0, 1.0, 0)
    assert view.w == 0.5 and view.exact == 0.0 and np.isnan(view.exacts[1])


# ---------------------------------------------------------------------------- drawing
def test_drawing_shows_the_fits_and_the_tangent():
    x, y = lesson_points()
    view = ridge_influence(x, y, 1.0, 2.0, 19)
    fig = render_ridge_influence(view)
    left, right = fig.axes
    np.testing.assert_allclose(left.collections[0].get_offsets(), np.column_stack([x[:-1], y[:-1]]))
    removed, fit, refit, x_t_line, change = left.lines[:5]
    assert list(x_t_line.get_xdata()) == [2.0, 2.0]
    assert list(removed.get_xdata()) == [3.5] and list(removed.get_ydata()) == [0.5]
    xs, ys = fit.get_data()
    np.testing.assert_allclose(np.asarray(ys), view.w * np.asarray(xs))
    xs, ys = refit.get_data()
    np.testing.assert_allclose(np.asarray(ys), view.w_without * np.asarray(xs))
    np.testing.assert_allclose(change.get_ydata(), [view.prediction_without, view.prediction])
    curve, tangent, exact, estimate = right.lines[:4]
    np.testing.assert_allclose(curve.get_ydata(), view.upweighted(curve.get_xdata()))
    np.testing.assert_allclose(tangent.get_ydata(), view.prediction + view.estimate * tangent.get_xdata())
    assert exact.get_ydata()[0] == pytest.approx(view.prediction_without)
    assert estimate.get_ydata()[0] == pytest.approx(view.prediction - view.estimate)
    assert "× 0.55" in right.get_title() and "λ = 1" in left.get_title()
    texts = [t for ax in fig.axes for t in ax.texts + [ax.title, ax.xaxis.label, ax.yaxis.label]]
    texts += [t for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert min(t.get_fontsize() for t in texts if t.get_text()) >= 9


def test_one_drawing_redraws_for_every_view():
    x, y = lesson_points()
    drawing = RidgeDrawing()
    for lam, removed in ((1.0, 19), (10.0, 3), (0.0, 0)):
        view = ridge_influence(x, y, lam, 2.0, removed)
        fig = drawing.update(view)
        assert fig is drawing.fig and len(fig.axes) == 2
        curve = fig.axes[1].lines[0]
        np.testing.assert_allclose(curve.get_ydata(), view.upweighted(curve.get_xdata()))
        low, high = fig.axes[1].get_ylim()
        assert low <= min(view.prediction_without, view.prediction - view.estimate) <= high


# ---------------------------------------------------------------------------- the widget
def _caption(box):
    return box.out.outputs[0]["data"]["text/html"]


def _png(box):
    data = box.out.outputs[1]["data"]["image/png"]
    return base64.b64decode(data) if isinstance(data, str) else data


def test_widget_defaults_and_repr():
    x, y = lesson_points()
    box = ridge_influence_explorer(x, y, lam=1.0, x_t=2.0)
    assert isinstance(box, RidgeInfluenceExplorer)
    assert box.point.value == 19                                        # the largest |x|: the far point
    assert [v for _, v in box.point.options] == list(np.argsort(x, kind="stable"))   # walks along the x-axis
    assert [v for _, v in box.lam.options] == list(LAMBDAS) and box.lam.value == 1.0
    assert repr(box) == "RidgeInfluenceExplorer(removed=19, x_z=3.50, lam=1, x_t=2, estimate=-0.270, exact=-0.489)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    assert "<b>-0.4891</b>" in _caption(box) and "<b>-0.2697</b>" in _caption(box) and "55%" in _caption(box)
    assert _png(box).startswith(b"\x89PNG")
    assert ridge_influence_explorer(x, y, lam=0.5, removed=3).lam.value == 0.5        # added to the grid
    assert 0.5 in [v for _, v in ridge_influence_explorer(x, y, lam=0.5).lam.options]


def test_moving_either_slider_changes_the_output():
    x, y = lesson_points()
    box = ridge_influence_explorer(x, y, lam=1.0, x_t=2.0, removed=19)
    before = (_caption(box), _png(box))
    box.point.value = box.point.options[-2][1]                        # ArrowLeft from the far point
    assert box.view.removed == box.point.options[-2][1] and len(box.out.outputs) == 2
    assert (_caption(box), _png(box)) != before and _caption(box) != before[0] and _png(box) != before[1]
    expected = ridge_influence(x, y, 1.0, 2.0, box.view.removed)
    assert box.view.estimate == expected.estimate and box.view.exact == expected.exact
    assert f"<b>{expected.exact:+.4f}</b>" in _caption(box)

    before = (_caption(box), _png(box))
    box.lam.value = 100.0
    assert box.view.lam == 100.0 and _caption(box) != before[0] and _png(box) != before[1]
    assert repr(box).startswith(f"RidgeInfluenceExplorer(removed={box.view.removed}, ") and "lam=100" in repr(box)
    box.lam.value = 1.0                                               # back: the kept figure
    assert _png(box) == before[1] and len(box.out.outputs) == 2


def test_widget_rejects_bad_input():
    x, y = lesson_points()
    with pytest.raises(ValueError, match="same length"):
        ridge_influence_explorer(x, y[:-1])
    with pytest.raises(ValueError, match="removed must be an index"):
        ridge_influence_explorer(x, y, removed=20)
    with pytest.raises(ValueError, match="lambdas"):
        ridge_influence_explorer(x, y, lambdas=(1.0, -2.0))


def test_widget_shows_an_error_and_gives_the_controls_back(monkeypatch):
    x, y = lesson_points()
    box = ridge_influence_explorer(x, y, lam=1.0, x_t=2.0)

    def broken(*args, **kwargs):
        raise RuntimeError("ridge_influence broke")

    monkeypatch.setattr(ridge_module, "ridge_influence", broken)
    box.lam.value = 10.0
    html = box.out.outputs[0]["data"]["text/html"]
    assert "mfteach-error" in html and "ridge_influence broke" in html
    assert not box.point.disabled and not box.lam.disabled
