"""The k/lambda explorer of lesson 07: the grid is ALS, the view is a lookup, the widget redraws."""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.widgets.als_hyperparameters import (
    ALSExplorer, ALSGrid, GridDrawing, GridView, als_explorer, als_grid, als_grid_view, render_als_grid,
)

RANKS, REGS = (1, 2, 4, 8), (0.01, 0.1, 1.0, 10.0)


@pytest.fixture(scope="module")
def planted():
    """40 x 30 ratings of a planted rank-2 matrix plus noise, split 75/25."""
    ratings, _, _ = mt.synthetic(40, 30, rank=2, density=0.3, noise=0.3, seed=0)
    return ratings.split(0.25, seed=0)


@pytest.fixture(scope="module")
def grid(planted):
    train, test = planted
    return als_grid(train, test, ranks=RANKS, regs=REGS, n_iters=10, label="planted rank 2")


def _grid(test_rmse, train_rmse=None, ranks=(1, 2, 3), regs=(0.1, 1.0, 10.0)):
    """A hand-made grid for the lookup and verdict rules."""
    test_rmse = np.asarray(test_rmse, dtype=float)
    train_rmse = test_rmse - 0.05 if train_rmse is None else np.asarray(train_rmse, dtype=float)
    return ALSGrid(np.array(ranks), np.array(regs, dtype=float), train_rmse, test_rmse,
                   np.zeros_like(test_rmse), n_iters=1)


# ---------------------------------------------------------------------------- the grid is ALS
@pytest.mark.parametrize("a, b", [(0, 0), (1, 2), (3, 0), (2, 3)])
def test_every_cell_is_the_packages_als(planted, grid, a, b):
    train, test = planted
    model = mt.ALS(rank=RANKS[a], reg=REGS[b], n_iters=10, seed=0).fit(train)
    assert grid.train_rmse[a, b] == pytest.approx(model.rmse(train), rel=1e-10)
    assert grid.test_rmse[a, b] == pytest.approx(model.rmse(test), rel=1e-10)


def test_grid_shape_tables_and_best(grid):
    assert grid.shape == (4, 4) and grid.n_iters == 10 and grid.label == "planted rank 2"
    np.testing.assert_array_equal(grid.ranks, RANKS)
    np.testing.assert_array_equal(grid.regs, REGS)
    assert (grid.seconds > 0).all()
    table = grid.table("test")
    assert list(table.index) == list(RANKS) and list(table.columns) == ["0.01", "0.1", "1", "10"]
    np.testing.assert_array_equal(table.to_numpy(), grid.test_rmse)
    np.testing.assert_array_equal(grid.table("train").to_numpy(), grid.train_rmse)
    frame = grid.frame()
    assert len(frame) == 16 and list(frame.columns) == ["k", "lambda", "train_rmse", "test_rmse", "seconds"]
    assert frame.loc[5, "k"] == 2 and frame.loc[5, "lambda"] == 0.1  # row-major: k outer, lambda inner
    k, lam, best = grid.best()
    assert best == grid.test_rmse.min()
    assert grid.test_rmse[RANKS.index(k), REGS.index(lam)] == best
    with pytest.raises(ValueError, match="which"):
        grid.table("validation")


def test_overfitting_shows_on_the_planted_problem(grid):
    """Small lambda: the training error keeps falling with k, the test error turns up after the
    true rank 2; a larger lambda tames the largest k."""
    train, test = grid.train_rmse[:, 0], grid.test_rmse[:, 0]
    assert (np.diff(train) < 0).all()
    assert np.argmin(test) == 1          # k = 2, the planted rank
    assert test[-1] > test[1] + 0.5       # k = 8 is far worse on unseen ratings
    assert grid.test_rmse[-1, 2] < test[-1]  # lambda = 1 at k = 8
    assert (grid.train_rmse[:, -1] > grid.train_rmse[:, 0]).all()  # lambda = 10 fits the training data worse


def test_grid_is_deterministic(planted, grid):
    again = als_grid(*planted, ranks=RANKS, regs=REGS, n_iters=10)
    np.testing.assert_array_equal(again.test_rmse, grid.test_rmse)
    np.testing.assert_array_equal(again.train_rmse, grid.train_rmse)


@pytest.mark.parametrize("kwargs, match", [
    (dict(ranks=(2, 1)), "increasing"),
    (dict(ranks=(0, 1)), "rank"),
    (dict(regs=(0.0, 1.0)), "regs must be > 0"),
    (dict(regs=(1.0, 0.5)), "increasing"),
    (dict(regs=(-1.0,)), "reg"),
    (dict(ranks=()), "at least one"),
    (dict(n_iters=0), "n_iters"),
])
def test_grid_rejects_bad_axes(planted, kwargs, match):
    with pytest.raises(ValueError, match=match):
        als_grid(*planted, **{"ranks": (1, 2), "regs": (1.0,), **kwargs})


def test_grid_rejects_mismatched_data(planted):
    train, _ = planted
    other, _, _ = mt.synthetic(10, 10, rank=1, density=0.5)
    with pytest.raises(ValueError, match="shape"):
        als_grid(train, other, ranks=(1,), regs=(1.0,))
    with pytest.raises(TypeError):
        als_grid(train.to_dense(), train, ranks=(1,), regs=(1.0,))


# ---------------------------------------------------------------------------- the view is a lookup
def test_view_reads_the_grid(grid):
    view = als_grid_view(grid, 4, 0.1)
    assert isinstance(view, GridView)
    assert (view.rank, view.reg, view.rank_index, view.reg_index) == (4, 0.1, 2, 1)
    assert view.train_rmse == grid.train_rmse[2, 1] and view.test_rmse == grid.test_rmse[2, 1]
    assert view.gap == pytest.approx(grid.test_rmse[2, 1] - grid.train_rmse[2, 1])
    pd.testing.assert_frame_equal(view.by_rank, pd.DataFrame(
        {"k": grid.ranks, "train_rmse": grid.train_rmse[:, 1], "test_rmse": grid.test_rmse[:, 1]}))
    pd.testing.assert_frame_equal(view.by_reg, pd.DataFrame(
        {"lambda": grid.regs, "train_rmse": grid.train_rmse[2], "test_rmse": grid.test_rmse[2]}))
    assert view.best_rank_for_reg == grid.ranks[np.argmin(grid.test_rmse[:, 1])]
    assert view.best_reg_for_rank == grid.regs[np.argmin(grid.test_rmse[2])]
    assert view.best == grid.best()
    assert view.summary().startswith(f"k = 4, λ = 0.1: train RMSE {view.train_rmse:.3f}")


def test_view_accepts_grid_values_as_numpy_or_float(grid):
    assert als_grid_view(grid, np.int64(8), np.float64(10.0)).rank_index == 3
    assert als_grid_view(grid, 1, 1).reg_index == 2


@pytest.mark.parametrize("rank, reg", [(3, 0.1), (2, 0.5), (16, 1.0)])
def test_view_rejects_points_off_the_grid(grid, rank, reg):
    with pytest.raises(ValueError, match="not on the grid"):
        als_grid_view(grid, rank, reg)


def test_verdicts():
    # rows k = 1, 2, 3; columns lambda = 0.1, 1, 10; the best cell is (k = 3, lambda = 10)
    test = [[1.00, 0.99, 1.10],
            [1.05, 0.95, 0.97],
            [1.30, 1.10, 0.90]]
    grid = _grid(test)
    assert als_grid_view(grid, 3, 10).verdict == "best"
    assert als_grid_view(grid, 3, 1).verdict == "overfitting"      # 1.10: lambda too small for k = 3
    assert als_grid_view(grid, 2, 10).verdict == "underfitting"    # 0.97: k too small at lambda = 10
    assert als_grid_view(grid, 3, 0.1).verdict == "overfitting"    # lambda too small for k = 3
    assert als_grid_view(grid, 1, 10).verdict == "underfitting"    # lambda too large for k = 1
    assert als_grid_view(grid, 2, 1).verdict == "local best"       # best along both of its curves
    view = als_grid_view(grid, 3, 0.1)
    assert "(the best k at this λ is 1; the best λ at this k is 10)" in view.summary()
    assert "Underfitting" in als_grid_view(grid, 1, 10).summary()
    assert "local best" in als_grid_view(grid, 2, 1).summary().lower()


def test_verdict_when_pulled_both_ways_follows_the_gap():
    # at (k = 2, lambda = 10): the best k at lambda = 10 is 1 (k too large) and the best lambda at
    # k = 2 is 0.1 (lambda too large): the train-test gap decides
    test = [[0.95, 1.20, 0.92],
            [0.90, 1.00, 1.00],
            [1.20, 1.20, 1.20]]
    small_gap = _grid(test, train_rmse=np.asarray(test) - 0.02)
    large_gap = _grid(test, train_rmse=np.asarray(test) - 0.3)
    assert als_grid_view(small_gap, 2, 10).verdict == "underfitting"
    assert als_grid_view(large_gap, 2, 10).verdict == "overfitting"


# ---------------------------------------------------------------------------- drawing and the widget
def test_render_draws_the_curves_through_the_chosen_point(grid):
    view = als_grid_view(grid, 2, 1.0)
    fig = render_als_grid(view)
    ax_k, ax_l, ax_h = fig.axes[:3]
    np.testing.assert_array_equal(ax_k.lines[0].get_xdata(), grid.ranks)
    np.testing.assert_array_equal(ax_k.lines[1].get_ydata(), grid.test_rmse[:, 2])
    np.testing.assert_array_equal(ax_l.lines[0].get_ydata(), grid.train_rmse[1])
    np.testing.assert_array_equal(ax_h.images[0].get_array(), grid.test_rmse)
    assert ax_k.get_ylim() == ax_l.get_ylim()  # same scale in both panels, for every point
    assert render_als_grid(als_grid_view(grid, 8, 0.01)).axes[0].get_ylim() == ax_k.get_ylim()
    assert "planted rank 2" in fig._suptitle.get_text()


def test_a_drawing_moved_to_another_point_equals_a_fresh_one(grid):
    drawing = GridDrawing(grid)
    drawing.update(als_grid_view(grid, 8, 0.01))
    moved = drawing.update(als_grid_view(grid, 2, 1.0))
    fresh = render_als_grid(als_grid_view(grid, 2, 1.0))
    for ax_moved, ax_fresh in zip(moved.axes[:3], fresh.axes[:3]):
        assert ax_moved.get_title() == ax_fresh.get_title()
        for a, b in zip(ax_moved.lines, ax_fresh.lines):
            np.testing.assert_array_equal(a.get_xdata(), b.get_xdata())
            np.testing.assert_array_equal(a.get_ydata(), b.get_ydata())
    assert moved.axes[2].patches[-1].get_xy() == fresh.axes[2].patches[-1].get_xy() == (1.5, 0.5)
    other = als_grid(*_tiny(), ranks=(1,), regs=(1.0,), n_iters=1)
    with pytest.raises(ValueError, match="another grid"):
        drawing.update(als_grid_view(other, 1, 1.0))


def _tiny():
    ratings, _, _ = mt.synthetic(8, 6, rank=1, density=0.6, seed=1)
    return ratings.split(0.25, seed=0)


def _outputs(box):
    return [o["data"].get("text/html", o["data"].get("image/png")) for o in box.out.outputs]


def test_widget_updates_on_both_sliders_without_stacking(grid):
    box = als_explorer(grid, rank=2, reg=0.1)
    assert isinstance(box, ALSExplorer)
    assert repr(box) == "ALSExplorer(rank=2, reg=0.1, grid 4 x 4)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    assert box.view.rank == 2 and box.view.reg == 0.1
    first = _outputs(box)

    box.rank.value = 4                      # the first slider: k
    assert box.view.rank == 4 and len(box.out.outputs) == 2
    after = _outputs(box)
    assert after[0] != first[0] and after[1] != first[1]  # caption and figure both changed
    assert f"test RMSE {grid.test_rmse[2, 1]:.3f}" in box.out.outputs[0]["data"]["text/html"]

    box.reg.value = 10.0
    assert box.view.reg == 10.0 and len(box.out.outputs) == 2
    assert repr(box) == "ALSExplorer(rank=4, reg=10, grid 4 x 4)"
    assert [o for o, _ in box.rank.options] == ["1", "2", "4", "8"]
    assert [o for o, _ in box.reg.options] == ["0.01", "0.1", "1", "10"]


def test_widget_defaults_to_the_middle_and_rejects_off_grid_values(grid):
    box = als_explorer(grid)
    assert (box.rank.value, box.reg.value) == (4, 1.0)
    with pytest.raises(ValueError, match="not on the grid"):
        als_explorer(grid, rank=3)
    with pytest.raises(TypeError, match="ALSGrid"):
        als_explorer(grid.table())


def test_the_grid_can_show_a_progress_bar_and_gives_the_same_numbers(capsys):
    import mfteach as mt

    ratings, _, _ = mt.synthetic(40, 30, rank=2, density=0.4, seed=3)
    train, test = ratings.split(0.25, seed=0)
    quiet = als_grid(train, test, ranks=(1, 2), regs=(0.1, 1.0), n_iters=3)
    shown = als_grid(train, test, ranks=(1, 2), regs=(0.1, 1.0), n_iters=3, progress=True)
    np.testing.assert_array_equal(quiet.test_rmse, shown.test_rmse)
    err = capsys.readouterr().err
    assert "ALS grid" in err and "4/4" in err


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(grid, monkeypatch):
    import mfteach.widgets.als_hyperparameters as module

    box = als_explorer(grid)

    def broken(*args, **kwargs):
        raise RuntimeError("grid lookup exploded")

    monkeypatch.setattr(module, "als_grid_view", broken)
    box.rank.value = grid.ranks[0]
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "grid lookup exploded" in shown
    assert not box.rank.disabled and not box.reg.disabled
