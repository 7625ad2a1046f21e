"""Tests of the helpers in mfteach/widgets/_common.py that every explorer shares: one-update
output replacement, HTML escaping, the diverging influence bar, the explorers' text repr and
the grid lookup."""

from __future__ import annotations

import re
from types import SimpleNamespace

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.widgets._common import (
    escape_html, grid_index, influence_bar, redraw_on_change, show_outputs, user_item_pickers, user_item_repr,
)


def test_show_outputs_replaces_the_content_in_one_update():
    out = widgets.Output()
    show_outputs(out, pd.DataFrame({"a": [1]}), "first")
    show_outputs(out, "second")
    assert len(out.outputs) == 1
    assert out.outputs[0]["data"]["text/plain"] == "'second'"


def test_escape_html_escapes_markup_but_not_quotes():
    assert escape_html("Rock & Roll <unknown> 'x'") == "Rock &amp; Roll &lt;unknown&gt; 'x'"
    assert escape_html(3) == "3"


def _widths(html: str) -> list[int]:
    return [int(w) for w in re.findall(r"width:(\d+)px; height", html)]


@pytest.mark.parametrize("value, scale, expected", [(0.5, 1.0, 25), (-1.0, 1.0, 50), (2.0, 4.0, 25), (0.3, 0.0, 0)])
def test_influence_bar_is_proportional_to_the_value_over_the_scale(value, scale, expected):
    assert _widths(influence_bar(value, scale, half_width=50)) == [expected]


def test_influence_bar_draws_positive_values_blue_on_the_right_and_negative_orange_on_the_left():
    from mfteach.plots import SIGN_COLORS

    left_half, right_half = influence_bar(0.4, 1.0).split("</div><div", 1)
    assert SIGN_COLORS[0] in right_half and "background" not in left_half
    left_half, right_half = influence_bar(-0.4, 1.0).split("</div></div>", 1)
    assert SIGN_COLORS[1] in left_half and "background" not in right_half


def test_user_item_repr_names_the_class_the_user_and_the_item_title():
    ratings = mt.Ratings.from_dense(np.array([[5.0, 1.0], [2.0, 4.0]]), item_titles=["Alien", "Heat"])

    class Box:
        __repr__ = user_item_repr

    box = Box()
    assert repr(box) == "Box()"
    box.user, box.item = SimpleNamespace(value=1), SimpleNamespace(value=1)
    box.ratings, box.n_top = ratings, 3
    assert repr(box) == "Box(user=1, item='Heat', n_top=3)"


def test_grid_index_finds_a_value_on_the_grid_and_names_the_grid_otherwise():
    assert grid_index(np.array([0.1, 1.0, 10.0]), 1.0, "reg") == 1
    with pytest.raises(ValueError, match="reg=2.0 is not on the grid; choose one of 0.1, 1, 10"):
        grid_index(np.array([0.1, 1.0, 10.0]), 2.0, "reg")


def _options(user, extra=None):
    """Two movies per user (user*10 and user*10 + 1), and ``extra`` first when it is given."""
    options = [(f"movie {user * 10 + j}", user * 10 + j) for j in range(2)]
    return options if extra is None or extra in {v for _, v in options} else [(f"movie {extra}", extra)] + options


def test_user_item_pickers_start_where_asked_and_check_the_start():
    slider, picker = user_item_pickers([1, 3], 3, 7, (5, 40), _options)
    assert slider.value == 3 and picker.value == 7 and [v for _, v in picker.options] == [7, 30, 31]
    slider, picker = user_item_pickers([1, 3], None, None, (5, 40), _options)
    assert slider.value == 1 and picker.value == 10
    with pytest.raises(ValueError, match="user 2 is not among the users offered"):
        user_item_pickers([1, 3], 2, None, (5, 40), _options)
    with pytest.raises(ValueError, match="item must be a column index"):
        user_item_pickers([1, 3], 1, 40, (5, 40), _options)
    with pytest.raises(ValueError, match="no user to offer"):
        user_item_pickers([], None, None, (5, 40), _options)


def test_redraw_on_change_redraws_once_per_change_and_refills_the_movies():
    slider, picker = user_item_pickers([1, 3], 1, None, (5, 40), _options)
    seen = []
    redraw_on_change(slider, picker, _options, lambda: seen.append((slider.value, picker.value)))
    slider.value = 3                     # new user: the dropdown is refilled, ONE redraw
    assert seen == [(3, 30)] and [v for _, v in picker.options] == [30, 31]
    picker.value = 31                    # new movie: one redraw
    assert seen == [(3, 30), (3, 31)]


def test_type_ahead_picks_the_dropdown_option_whose_label_is_typed_and_follows_new_options():
    import ipywidgets as widgets

    from mfteach.widgets._common import type_ahead

    menu = widgets.Dropdown(options=[("Alien (1979)", 3), ("Heat (1995)", 7)], value=3)
    find = type_ahead(menu)
    assert list(find.options) == ["Alien (1979)", "Heat (1995)"] and find.ensure_option
    assert not find.continuous_update  # Enter (or leaving the box) commits
    find.value = "Heat (1995)"
    assert menu.value == 7
    find.value = "Hea"  # not a whole label: nothing changes
    assert menu.value == 7
    menu.options = [("Fargo (1996)", 1), ("Alien (1979)", 3)]
    assert list(find.options) == ["Fargo (1996)", "Alien (1979)"]
    find.value = "Fargo (1996)"
    assert menu.value == 1


def test_guarded_shows_the_error_in_the_output_and_gives_the_controls_back():
    from mfteach.widgets._common import guarded

    out, button, slider = widgets.Output(), widgets.Button(description="Verify"), widgets.IntSlider(disabled=True)
    with guarded(out, slider, busy={button: "retraining…"}) as guard:
        assert button.disabled and slider.disabled and button.description == "retraining…"
        raise RuntimeError("the retrain <failed>")
    assert isinstance(guard.error, RuntimeError)
    assert not button.disabled and button.description == "Verify"
    assert slider.disabled  # its own state before the block, not "enabled"
    shown = out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "the retrain &lt;failed&gt;" in shown and "Traceback" in shown


def test_guarded_lets_a_successful_block_keep_its_output():
    from mfteach.widgets._common import guarded

    out, button = widgets.Output(), widgets.Button(description="Go")
    with guarded(out, button) as guard:
        show_outputs(out, "done")
    assert guard.error is None and not button.disabled
    assert out.outputs[0]["data"]["text/plain"] == "'done'"


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _line_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_axes((0.15, 0.15, 0.8, 0.75))
    ax.set_xlim(0, 1)
    ax.set_ylim(-1, 1)
    ax.set_title("still")
    (line,) = ax.plot([0.1, 0.9], [0, 0], color="C1", lw=2)  # inside the axes: nothing still drawn over it
    return fig, line


def test_figure_png_blits_the_same_pixels_as_a_full_draw():
    from mfteach.widgets._common import FigurePng

    fig, line = _line_figure()
    fast = FigurePng(fig, moving=[line])
    reference_fig, reference_line = _line_figure()
    reference = FigurePng(reference_fig)  # no moving artist: a full draw every time
    for k, slope in enumerate((0.0, 0.5, -0.9)):
        line.set_ydata([0.0, slope])
        reference_line.set_ydata([0.0, slope])
        blitted, drawn = _pixels(fast.png()), _pixels(reference.png())
        assert blitted.shape == (180, 270, 3)  # 3 x 2 inches at 90 dpi
        np.testing.assert_array_equal(blitted, drawn)
    assert fast.full_draws == 1 and reference.full_draws == 3  # the still parts were drawn once


def test_figure_png_keeps_one_background_per_key():
    from mfteach.widgets._common import FigurePng

    fig, line = _line_figure()
    fast = FigurePng(fig, moving=[line], n_backgrounds=2)
    ax = fig.axes[0]
    for limits in ((-1, 1), (-2, 2), (-1, 1), (-3, 3), (-2, 2)):
        ax.set_ylim(*limits)
        fast.png(key=limits)
    assert fast.full_draws == 4  # (-1, 1) came back while kept; (-2, 2) had been dropped for (-3, 3)


def test_png_rgb_is_lossless():
    from mfteach.widgets._common import _png_rgb

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    np.testing.assert_array_equal(_pixels(_png_rgb(rgba)), rgba[:, :, :3])
