"""The alpha/lambda explorer of lesson 11: every cell is ImplicitALS, the view is a lookup plus one
user's ranking, the widget redraws on every control."""

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.metrics import evaluate_ranking, ranking_report
import mfteach.widgets.implicit_explorer as implicit_module
from mfteach.widgets.implicit_explorer import (
    ImplicitDrawing, ImplicitExplorer, ImplicitGrid, ImplicitView, implicit_als_explorer, implicit_grid,
    implicit_view, render_implicit_view,
)

ALPHAS, REGS, RANK, ITERS, K = (0.0, 2.0, 10.0), (0.1, 1.0, 10.0), 3, 3, 5


@pytest.fixture(scope="module")
def data():
    """40 users x 50 items of 0/1 interactions from a planted rank-2 pattern, one held out per user."""
    ratings, _, _ = mt.synthetic(40, 50, rank=2, density=0.25, noise=0.1, seed=0)
    implicit = ratings.with_values(np.ones(len(ratings)))
    return implicit.split(how="leave_one_out", seed=0)


@pytest.fixture(scope="module")
def grid(data):
    train, test = data
    return implicit_grid(train, test, alphas=ALPHAS, regs=REGS, rank=RANK, n_iters=ITERS, k=K, label="planted")


# ---------------------------------------------------------------------------- the grid is ImplicitALS
@pytest.mark.parametrize("a, b", [(0, 0), (1, 1), (2, 2), (2, 0)])
@pytest.mark.parametrize("solver", ["cg", "exact"])
def test_every_cell_is_the_packages_implicit_als(data, a, b, solver):
    train, test = data
    grid = implicit_grid(train, test, alphas=ALPHAS, regs=REGS, rank=RANK, n_iters=ITERS, k=K, solver=solver)
    model = mt.ImplicitALS(rank=RANK, reg=REGS[b], alpha=ALPHAS[a], n_iters=ITERS, solver=solver).fit(train)
    np.testing.assert_array_equal(grid.U[a, b], model.U_)
    np.testing.assert_array_equal(grid.V[a, b], model.V_)
    expected = evaluate_ranking(model, train, test, k=K)
    assert grid.precision[a, b] == pytest.approx(expected[f"precision@{K}"], rel=1e-12)
    assert grid.recall[a, b] == pytest.approx(expected[f"recall@{K}"], rel=1e-12)
    assert grid.ndcg[a, b] == pytest.approx(expected[f"ndcg@{K}"], rel=1e-12)
    assert grid.solver == solver


def test_popularity_baseline_is_scored_the_same_way(data, grid):
    train, test = data
    expected = evaluate_ranking(mt.Popularity().fit(train), train, test, k=K)
    pd.testing.assert_series_equal(grid.popularity, expected, check_names=False)


def test_grid_shape_tables_and_best(grid):
    assert grid.shape == (3, 3) and (grid.rank, grid.n_iters, grid.k, grid.label) == (RANK, ITERS, K, "planted")
    assert grid.U.shape == (3, 3, 40, RANK) and grid.V.shape == (3, 3, 50, RANK)
    assert (grid.seconds > 0).all()
    table = grid.table("recall")
    assert list(table.index) == ["0", "2", "10"] and list(table.columns) == ["0.1", "1", "10"]
    np.testing.assert_array_equal(table.to_numpy(), grid.recall)
    np.testing.assert_array_equal(grid.table().to_numpy(), grid.ndcg)  # nDCG by default
    frame = grid.frame()
    assert len(frame) == 9
    assert list(frame.columns) == ["alpha", "lambda", "precision@5", "recall@5", "ndcg@5", "seconds"]
    assert frame.loc[5, "alpha"] == 2.0 and frame.loc[5, "lambda"] == 10.0  # row-major: alpha outer
    alpha, reg, best = grid.best("recall")
    assert best == grid.recall.max() and grid.recall[ALPHAS.index(alpha), REGS.index(reg)] == best
    with pytest.raises(ValueError, match="metric"):
        grid.table("rmse")


def test_one_held_out_item_makes_precision_a_tenth_of_recall(grid):
    """leave_one_out: one relevant item per user, so precision@k = recall@k / k."""
    np.testing.assert_allclose(grid.precision, grid.recall / K)


def test_a_huge_penalty_shrinks_every_factor_to_zero(data):
    """lambda far above the top singular value of the 0/1 matrix: U and V shrink to ~0."""
    train, test = data
    big = implicit_grid(train, test, alphas=(0.0,), regs=(1e3, 1e4), rank=RANK, n_iters=ITERS, k=K)
    assert np.abs(big.U).max() < 1e-3 and np.abs(big.V).max() < 1e-3


def test_grid_is_deterministic(data, grid):
    again = implicit_grid(*data, alphas=ALPHAS, regs=REGS, rank=RANK, n_iters=ITERS, k=K)
    np.testing.assert_array_equal(again.U, grid.U)
    np.testing.assert_array_equal(again.ndcg, grid.ndcg)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alphas=(2.0, 1.0)), "increasing"),
    (dict(alphas=(-1.0,)), "alpha"),
    (dict(regs=(0.0, 1.0)), "regs must be > 0"),
    (dict(regs=(1.0, 0.5)), "increasing"),
    (dict(alphas=()), "at least one"),
    (dict(rank=0), "rank"),
    (dict(n_iters=0), "n_iters"),
    (dict(k=0), "k"),
    (dict(k=51), "at most"),
    (dict(solver="newton"), "solver"),
])
def test_grid_rejects_bad_arguments(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        implicit_grid(*data, **{"alphas": (1.0,), "regs": (1.0,), "rank": 2, "n_iters": 1, **kwargs})


def test_grid_rejects_mismatched_data(data):
    train, _ = data
    other, _, _ = mt.synthetic(10, 10, rank=1, density=0.5)
    with pytest.raises(ValueError, match="shape"):
        implicit_grid(train, other, alphas=(1.0,), regs=(1.0,))
    with pytest.raises(TypeError):
        implicit_grid(train.to_dense(), train, alphas=(1.0,), regs=(1.0,))


# ---------------------------------------------------------------------------- the view
def _seen(ratings, user):
    return set(ratings.cols[ratings.rows == user].tolist())


@pytest.mark.parametrize("alpha, reg", [(0.0, 0.1), (2.0, 1.0), (10.0, 10.0)])
def test_view_ranks_the_unseen_items_by_score(data, grid, alpha, reg):
    train, test = data
    a, b = ALPHAS.index(alpha), REGS.index(reg)
    scores = grid.U[a, b] @ grid.V[a, b].T
    report = ranking_report(scores, train, test, K)
    for user in range(0, 40, 7):
        view = implicit_view(grid, alpha, reg, user)
        assert isinstance(view, ImplicitView) and (view.alpha_index, view.reg_index) == (a, b)
        x = scores[user].copy()
        seen = _seen(train, user)
        x[list(seen)] = -np.inf
        expected = np.argsort(-x, kind="stable")[:K]
        np.testing.assert_array_equal(view.top["item"], expected)
        np.testing.assert_allclose(view.top["score"], scores[user, expected])
        assert not seen & set(view.top["item"].tolist()) and view.n_seen == len(seen)
        assert list(view.top.index) == list(range(1, K + 1))
        held = test.cols[test.rows == user]
        np.testing.assert_array_equal(view.held_out["item"], held)
        for row in view.held_out.itertuples():     # position = 1 + number of items ranked before it
            before = np.sum(x > x[row.item]) + np.sum((x == x[row.item]) & (np.arange(len(x)) < row.item))
            assert row.position == 1 + int(before)
            assert row.found == (row.item in expected) == (row.position <= K)
        np.testing.assert_array_equal(view.top["held_out"], np.isin(expected, held))
        np.testing.assert_allclose(view.user_metrics.to_numpy(),
                                   report.loc[user, ["precision", "recall", "ndcg"]].to_numpy(dtype=float))
        np.testing.assert_array_equal(view.metrics.to_numpy(),
                                      [grid.precision[a, b], grid.recall[a, b], grid.ndcg[a, b]])
        assert view.popularity is grid.popularity


def test_view_titles_and_summary(grid):
    view = implicit_view(grid, 2, 1, 3)
    assert list(view.top.columns) == ["item", "title", "score", "held_out"]
    assert view.top["title"].iloc[0] == f"item {view.top['item'].iloc[0]}"   # synthetic data: no titles
    text = view.summary()
    assert text.startswith(f"User 3 ({view.n_seen} training items): held out 'item ")
    assert "α = 2, λ = 1, all users: precision@5" in text and "(popularity: " in text


def test_view_of_a_user_without_held_out_items():
    R = np.array([[1, 1, np.nan, np.nan], [1, np.nan, 1, 1], [np.nan, 1, 1, np.nan]], dtype=float)
    ratings = mt.Ratings.from_dense(R)
    train, test = ratings.split(how="leave_one_out", seed=0)
    test = mt.Ratings(test.rows[test.rows != 0], test.cols[test.rows != 0], test.values[test.rows != 0],
                      shape=test.shape)
    tiny = implicit_grid(train, test, alphas=(1.0,), regs=(0.1,), rank=1, n_iters=2, k=2)
    view = implicit_view(tiny, 1.0, 0.1, 0)
    assert len(view.held_out) == 0 and view.user_metrics.isna().all()
    assert "has no held-out item" in view.summary()


@pytest.mark.parametrize("alpha, reg, user, match", [
    (5.0, 1.0, 0, "alpha=5.0 is not on the grid"),
    (2.0, 3.0, 0, "reg=3.0 is not on the grid"),
    (2.0, 1.0, 40, "user must be"),
    (2.0, 1.0, -1, "user must be"),
    (2.0, 1.0, True, "user must be"),
])
def test_view_rejects_bad_settings(grid, alpha, reg, user, match):
    with pytest.raises(ValueError, match=match):
        implicit_view(grid, alpha, reg, user)


def test_view_accepts_numpy_numbers(grid):
    view = implicit_view(grid, np.float64(10), np.int64(1), np.int64(2))
    assert (view.alpha_index, view.reg_index, view.user) == (2, 1, 2)


# ---------------------------------------------------------------------------- drawing and the widget
def test_drawing_shows_both_maps_and_moves_the_frames(grid):
    drawing = ImplicitDrawing(grid)
    ax_recall, ax_ndcg = drawing.axes
    np.testing.assert_array_equal(ax_recall.images[0].get_array(), grid.recall)
    np.testing.assert_array_equal(ax_ndcg.images[0].get_array(), grid.ndcg)
    assert f"popularity: {grid.popularity['recall@5']:.3f}" in ax_recall.get_title()
    fig = drawing.update(implicit_view(grid, 10, 0.1, 0))
    assert all(frame.get_xy() == (-0.5, 1.5) for frame in drawing.frames)
    fresh = render_implicit_view(implicit_view(grid, 10, 0.1, 0))
    assert [f.get_xy() for f in fig.axes[0].patches] == [f.get_xy() for f in fresh.axes[0].patches]
    assert "planted" in fig._suptitle.get_text()
    other = implicit_grid(*_tiny(), alphas=(1.0,), regs=(1.0,), rank=1, n_iters=1, k=2)
    with pytest.raises(ValueError, match="another grid"):
        drawing.update(implicit_view(other, 1.0, 1.0, 0))


def _tiny():
    ratings, _, _ = mt.synthetic(8, 6, rank=1, density=0.6, seed=1)
    return ratings.with_values(np.ones(len(ratings))).split(how="leave_one_out", seed=0)


def _outputs(box):
    return [o["data"].get("text/html", o["data"].get("image/png")) for o in box.out.outputs]


def test_widget_updates_on_every_control_without_stacking(grid):
    box = implicit_als_explorer(grid, alpha=0.0, reg=1.0, user=5)
    assert isinstance(box, ImplicitExplorer)
    assert repr(box) == "ImplicitExplorer(alpha=0, reg=1, user=5, grid 3 x 3)"
    assert [sorted(o["data"]) for o in box.out.outputs] == [
        ["text/html", "text/plain"], ["image/png", "text/plain"], ["text/html", "text/plain"]]
    first = _outputs(box)

    box.alpha.value = 2.0                      # the first slider: alpha
    assert (box.view.alpha, box.view.reg, box.view.user) == (2.0, 1.0, 5) and len(box.out.outputs) == 3
    after = _outputs(box)
    assert after[0] != first[0] and after[1] != first[1]  # caption (metrics) and maps (frame) changed
    assert f"<b>{grid.ndcg[1, 1]:.3f}</b>" in after[0]

    box.reg.value = 10.0
    assert box.view.reg == 10.0 and len(box.out.outputs) == 3
    box.user.value = 7
    assert box.view.user == 7 and "user 7" in box.out.outputs[0]["data"]["text/html"]
    assert len(box.out.outputs) == 3
    assert repr(box) == "ImplicitExplorer(alpha=2, reg=10, user=7, grid 3 x 3)"
    assert [o for o, _ in box.alpha.options] == ["0", "2", "10"]
    assert [o for o, _ in box.reg.options] == ["0.1", "1", "10"]


def test_widget_table_marks_the_held_out_hits(grid):
    for user in range(40):
        view = implicit_view(grid, 0.0, 0.1, user)
        if view.top["held_out"].any():
            break
    else:
        pytest.fail("no user has a hit in the planted problem")
    box = implicit_als_explorer(grid, alpha=0.0, reg=0.1, user=user)
    table_html = box.out.outputs[2]["data"]["text/html"]
    assert "✓ held out" in table_html and f"top {K} for user {user}" in table_html
    assert "✓" in box.out.outputs[0]["data"]["text/html"]


def test_widget_defaults_and_rejections(grid):
    box = implicit_als_explorer(grid)
    assert (box.alpha.value, box.reg.value) == (2.0, 1.0)                 # second of each: room to move right
    assert box.user.value == int(np.unique(grid.test.rows)[0])
    assert len(box.user.options) == len(np.unique(grid.test.rows))
    chosen = implicit_als_explorer(grid, users=[3, 9], user=9)
    assert [v for _, v in chosen.user.options] == [3, 9] and chosen.user.value == 9
    with pytest.raises(ValueError, match="not on the grid"):
        implicit_als_explorer(grid, alpha=3.0)
    with pytest.raises(ValueError, match="not among"):
        implicit_als_explorer(grid, users=[1, 2], user=3)
    with pytest.raises(ValueError, match="row indices"):
        implicit_als_explorer(grid, users=[99])
    with pytest.raises(TypeError, match="ImplicitGrid"):
        implicit_als_explorer(grid.table())
    assert isinstance(grid, ImplicitGrid)


def test_ties_go_to_the_lower_item_index_as_in_ranking_report(data):
    """A degenerate cell (huge lambda, alpha = 0): ranking and positions follow the package's rule."""
    train, test = data
    flat = implicit_grid(train, test, alphas=(0.0,), regs=(1e6,), rank=1, n_iters=1, k=K)
    scores = flat.U[0, 0] @ flat.V[0, 0].T
    report = ranking_report(scores, train, test, K)
    for user in range(0, 40, 5):
        view = implicit_view(flat, 0.0, 1e6, user)
        x = scores[user].copy()
        x[list(_seen(train, user))] = -np.inf
        np.testing.assert_array_equal(view.top["item"], np.argsort(-x, kind="stable")[:K])
        np.testing.assert_allclose(view.user_metrics.to_numpy(),
                                   report.loc[user, ["precision", "recall", "ndcg"]].to_numpy(dtype=float))
        for row in view.held_out.itertuples():
            assert row.found == (row.position <= K)


def test_a_user_with_fewer_unseen_items_than_k_gets_a_shorter_list():
    R = np.full((3, 4), np.nan)
    R[0, :3] = 1.0                                  # user 0 has seen 3 of 4 items: one candidate
    R[1, [0, 1]] = 1.0
    R[2, [1, 2, 3]] = 1.0
    train = mt.Ratings.from_dense(R)
    test = mt.Ratings(np.array([1]), np.array([3]), np.array([1.0]), shape=(3, 4))
    tiny = implicit_grid(train, test, alphas=(1.0,), regs=(0.1,), rank=1, n_iters=2, k=3)
    view = implicit_view(tiny, 1.0, 0.1, 0)
    assert list(view.top["item"]) == [3] and view.n_seen == 3


def test_the_grid_can_show_a_progress_bar(capsys):
    import mfteach as mt
    from mfteach.widgets.implicit_explorer import implicit_grid

    ratings, _, _ = mt.synthetic(40, 30, rank=2, density=0.3, seed=3)
    clicks = ratings.with_values(np.ones(len(ratings)))
    train, test = clicks.split(how="leave_one_out", seed=0)
    implicit_grid(train, test, alphas=(1.0, 10.0), regs=(1.0,), rank=2, n_iters=2, k=5, progress=True)
    err = capsys.readouterr().err
    assert "implicit ALS grid" in err and "2/2" in err


def test_widget_shows_an_error_and_gives_the_controls_back(grid, monkeypatch):
    box = implicit_als_explorer(grid)

    def broken(*args, **kwargs):
        raise RuntimeError("implicit_view broke")

    monkeypatch.setattr(implicit_module, "implicit_view", broken)
    box.alpha.value = float(grid.alphas[0])
    html = box.out.outputs[0]["data"]["text/html"]
    assert "mfteach-error" in html and "implicit_view broke" in html
    assert not any(control.disabled for control in (box.alpha, box.reg, box.user))
