"""mfteach.plots: each helper draws the data it is given, labels its axes and returns the Axes."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import mfteach as mt
from mfteach import plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def small():
    """3 users x 4 items: user 2 is the most active, item 1 the most rated."""
    R = np.array([[np.nan, 4, np.nan, np.nan],
                  [1, 5, np.nan, np.nan],
                  [2, 3, 5, 4]])
    return R, mt.Ratings.from_dense(R)


# ---------------------------------------------------------------------------- top_share
def test_top_share_counts_the_largest_fraction():
    assert plots.top_share([1, 10, 5, 3, 1], 0.2) == (1, 0.5)  # the top 1 of 5 holds 10 of 20
    n_top, share = plots.top_share([4, 4, 4, 4], 0.5)
    assert (n_top, share) == (2, 0.5)
    assert plots.top_share([7], 0.2) == (1, 1.0)  # at least one item


@pytest.mark.parametrize("counts, fraction", [([], 0.2), ([1, 2], 0.0), ([1, 2], 1.5)])
def test_top_share_rejects_bad_input(counts, fraction):
    with pytest.raises(ValueError):
        plots.top_share(counts, fraction)


# ---------------------------------------------------------------------------- sparsity
def test_plot_sparsity_draws_omega_sorted_by_activity(small):
    R, ratings = small
    ax = plots.plot_sparsity(ratings)
    drawn = np.asarray(ax.images[0].get_array())
    known = ~np.isnan(R)
    rows = np.argsort(-known.sum(axis=1), kind="stable")  # users 2, 1, 0
    cols = np.argsort(-known.sum(axis=0), kind="stable")  # items 1, 0, 2, 3
    np.testing.assert_array_equal(drawn, known[rows][:, cols])
    assert drawn[0].all()  # the most active user rated everything
    assert "sorted" in ax.get_xlabel() and "items" in ax.get_xlabel()
    assert "users" in ax.get_ylabel()
    assert "density 58.33%" in ax.get_title()  # 7 of 12 entries


def test_plot_sparsity_unsorted_dense_input_and_crop(small):
    R, _ = small
    ax = plots.plot_sparsity(R, sort=False, max_users=2, max_items=3)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), ~np.isnan(R[:2, :3]))
    assert "2 x 3" in ax.get_title()


def test_plot_sparsity_movielens(ml100k):
    ax = plots.plot_sparsity(ml100k)
    drawn = np.asarray(ax.images[0].get_array())
    assert drawn.shape == (943, 1682) and drawn.sum() == 100_000
    assert "density 6.30%" in ax.get_title()
    # sorted: the first row is the most active user, the first column the most rated item
    assert drawn[0].sum() == ml100k.user_counts().max()
    assert drawn[:, 0].sum() == ml100k.item_counts().max()


# ---------------------------------------------------------------------------- long tail
def test_plot_long_tail_curve_and_annotation(ml100k):
    ax = plots.plot_long_tail(ml100k)
    counts = np.sort(ml100k.item_counts())[::-1]
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_ydata(), counts)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 1683))
    n_top = round(0.2 * 1682)
    share = counts[:n_top].sum() / counts.sum()
    assert n_top == 336 and 0.64 < share < 0.65
    text = " ".join(t.get_text() for t in ax.texts)
    assert f"{share:.0%}" in text and "336 of 1682" in text
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_plot_long_tail_uses_the_given_axes(small):
    _, ratings = small
    fig, ax = plt.subplots()
    assert plots.plot_long_tail(ratings, ax=ax, fraction=0.5, log=True) is ax
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3, 2, 1, 1])
    assert ax.get_yscale() == "log"


# ---------------------------------------------------------------------------- histogram
def test_plot_rating_histogram_one_bar_per_star(ml100k):
    ax = plots.plot_rating_histogram(ml100k.values)
    heights = [p.get_height() for p in ax.patches]
    expected = [np.sum(ml100k.values == s) for s in range(1, 6)]
    assert heights == expected
    assert sum(heights) == len(ml100k)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5"]
    assert ax.get_ylabel() == "number of ratings" and "rating" in ax.get_xlabel()


def test_plot_rating_histogram_with_reference_draws_shares():
    mine = np.array([5, 5, 4, 1])
    everyone = np.array([1, 2, 3, 4, 5, 5, 5, 3])
    ax = plots.plot_rating_histogram(mine, reference=everyone)
    heights = np.array([p.get_height() for p in ax.patches])
    assert len(heights) == 10  # 5 levels x 2 series
    np.testing.assert_allclose(heights[:5], [0.25, 0, 0, 0.25, 0.5])
    np.testing.assert_allclose(heights[5:].sum(), 1.0)
    assert ax.get_ylabel() == "share of ratings"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["these ratings", "all ratings"]


def test_plot_rating_histogram_continuous_values_and_nan():
    values = np.random.default_rng(0).normal(size=500)
    values[:10] = np.nan
    ax = plots.plot_rating_histogram(values)
    assert len(ax.patches) == 20
    assert sum(p.get_height() for p in ax.patches) == 490
    with pytest.raises(ValueError, match="no rating"):
        plots.plot_rating_histogram([np.nan])


# ---------------------------------------------------------------------------- counts, strip
@pytest.mark.parametrize("by, n", [("user", 943), ("item", 1682)])
def test_plot_counts_counts_every_user_or_item(ml100k, by, n):
    ax = plots.plot_counts(ml100k, by=by)
    assert sum(p.get_height() for p in ax.patches) == n
    assert by in ax.get_xlabel() and ax.get_xscale() == "log"
    median = np.median(ml100k.user_counts() if by == "user" else ml100k.item_counts())
    assert f"median {median:g}" in ax.get_legend().get_texts()[0].get_text()


def test_plot_counts_rejects_unknown_axis(small):
    with pytest.raises(ValueError, match="by must be"):
        plots.plot_counts(small[1], by="genre")


def test_plot_rated_strip_marks_each_rated_position():
    ax = plots.plot_rated_strip([0, 3, 9], [1, 5, 3], n_items=10, vmin=1, vmax=5)
    segments = ax.collections[0].get_segments()
    assert [seg[0][0] for seg in segments] == [0, 3, 9]
    assert ax.get_xlim() == (-0.5, 9.5)
    assert "3 of 10" in ax.get_title()


# ---------------------------------------------------------------------------- show_matrix
def test_show_matrix_writes_every_cell_and_question_marks():
    R = mt.toy("lecture_R")
    ax = plots.show_matrix(R, title="R")
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == R.size
    assert texts.count("?") == np.isnan(R).sum() == 11  # |Omega| = 13 of 24
    assert texts[:6] == ["1", "?", "?", "2", "?", "1"]  # row 0 of the slides' R
    assert ax.get_title() == "R" and ax.get_xlabel() == "item i" and ax.get_ylabel() == "user u"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(6)]


def test_show_matrix_highlight_format_and_labels():
    U, Vt = mt.toy("lecture_U"), mt.toy("lecture_Vt")
    unknown = np.isnan(mt.toy("lecture_R"))
    ax = plots.show_matrix(U @ Vt, highlight=unknown, fmt="{:.1f}", row_labels=list("abcd"))
    texts = [t.get_text() for t in ax.texts]
    assert texts[:6] == ["1.0", "2.3", "1.9", "2.3", "1.9", "3.2"]
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert len(bold) == unknown.sum() and bold[:3] == ["2.3", "1.9", "1.9"]
    assert len(ax.patches) == unknown.sum()  # one frame per highlighted cell
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcd")


def test_show_matrix_rejects_a_highlight_of_the_wrong_shape():
    with pytest.raises(ValueError, match="highlight"):
        plots.show_matrix(np.eye(2), highlight=np.ones((3, 3), dtype=bool))


def test_figure_png_returns_png_bytes():
    fig, ax = plt.subplots()
    plots.show_matrix(np.eye(2), ax=ax)
    assert plots.figure_png(fig).startswith(b"\x89PNG")


# ---------------------------------------------------------------------------- the one palette
def test_the_palette_is_matplotlibs_colour_cycle():
    import matplotlib.pyplot as plt

    from mfteach import plots

    assert plt.rcParams["axes.prop_cycle"].by_key()["color"] == plots.COLORS
    assert plots.COLORS[:4] == [plots.PALETTE[c] for c in ("blue", "orange", "green", "vermillion")]
    assert plots.SIGN_COLORS == (plots.PALETTE["blue"], plots.PALETTE["orange"])
    assert plots.sign_colors([0.5, -1, 0]) == [plots.PALETTE["blue"], plots.PALETTE["orange"], plots.PALETTE["blue"]]


def _colour_literals(path):
    import re

    text = path.read_text(encoding="utf-8")
    named = re.findall(r"""(?:colou?r|c|ec|fc|edgecolors?|facecolor|cmap)\s*=\s*["'](red|green|tab:\w+)["']""", text)
    return re.findall(r"#[0-9a-fA-F]{6}\b", text), named + re.findall(r"get_cmap\(\s*[\"'](tab10|tab20)", text)


def test_the_widgets_and_plots_use_only_the_palette_and_greys():
    from pathlib import Path

    from mfteach import plots

    package = Path(plots.__file__).parent
    allowed = {c.lower() for c in [*plots.PALETTE.values(), *plots.TINTS.values()]}
    for path in [package / "plots.py", *sorted((package / "widgets").glob("*.py"))]:
        hexes, names = _colour_literals(path)
        greys = {h.lower() for h in hexes if h[1:3] == h[3:5] == h[5:7]}
        assert {h.lower() for h in hexes} - allowed - greys == set(), path.name
        assert names == [], (path.name, names)


def test_a_highlighted_dark_cell_keeps_readable_text():
    import numpy as np

    from mfteach import plots

    ax = plots.show_matrix(np.array([[1.0, 9.0]]), highlight=np.array([[True, True]]), vmin=0, vmax=9)
    light, dark = ax.texts[:2]
    assert light.get_color() == plots.PALETTE["vermillion"] and dark.get_color() == "white"
    assert all(t.get_fontweight() == "bold" for t in (light, dark))


def test_label_points_keeps_labels_apart_and_inside_the_axes():
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from mfteach import plots

    fig, ax = plt.subplots(figsize=(4, 3))
    x, y = [0.0, 0.02, 0.5, 0.98], [0.0, 0.01, 0.5, 0.99]
    ax.scatter(x, y)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    notes = plots.label_points(ax, x, y, ["first", "second", "middle", "corner"])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(n, renderer) for n in notes]
    frame = ax.get_window_extent(renderer)
    for j, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        assert not any(box.overlaps(other) for other in boxes[:j])
    assert all(n.get_fontsize() >= plots.MIN_FONT_SIZE for n in notes)
    plt.close(fig)
