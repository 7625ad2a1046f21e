"""The affinity explorer (book 9.1.1): affinities are dot products, the bias shifts them all."""

import numpy as np
import pytest

from mfteach.widgets import affinity_explorer, affinity_ranking

NAMES = ["Action", "Comedy", "Drama", "Sci-Fi"]
TITLES = ["A", "B", "C", "D", "E"]
B = np.array([[1, 0, 0, 1],   # A: Action, Sci-Fi
              [0, 1, 0, 0],   # B: Comedy
              [1, 0, 1, 0],   # C: Action, Drama
              [0, 0, 1, 0],   # D: Drama
              [1, 1, 1, 1]])  # E: everything


def test_affinity_is_the_dot_product_eq_9_1():
    taste = np.array([1, 0, 0, 1])
    table = affinity_ranking(taste, B, TITLES, NAMES)
    np.testing.assert_array_equal(table.sort_values("item")["affinity"], B @ taste)
    assert list(table["title"]) == ["A", "E", "C", "B", "D"]  # 2, 2, 1, 0, 0; ties keep item order
    assert list(table["shared"]) == ["Action, Sci-Fi", "Action, Sci-Fi", "Action", "", ""]


def test_real_valued_taste_and_matrix_form():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4))  # three users' taste vectors in rows
    M = A @ B.T  # the book's affinity matrix M = A B (B there is r x n)
    for i in range(3):
        table = affinity_ranking(A[i], B)
        np.testing.assert_allclose(table.sort_values("item")["affinity"], M[i])
        assert (np.diff(table["affinity"]) <= 0).all()
        assert table["title"].iloc[0] == f"item {table['item'].iloc[0]}"


def test_bias_shifts_every_affinity_but_not_the_order_eq_9_4():
    taste = np.array([0, 1, 1, 0])
    plain = affinity_ranking(taste, B, TITLES, NAMES)
    biased = affinity_ranking(taste, B, TITLES, NAMES, bias=1.5)
    np.testing.assert_allclose(biased["affinity"], plain["affinity"] + 1.5)
    assert list(biased["title"]) == list(plain["title"])


@pytest.mark.parametrize("taste, matrix, titles, names", [
    ([1, 0], B, None, None),           # taste too short
    ([1, 0, 0, 1], B[0], None, None),  # attributes not a matrix
    ([1, 0, 0, 1], B, ["x"], None),    # one title for five items
    ([1, 0, 0, 1], B, None, ["a"]),    # one name for four attributes
])
def test_affinity_ranking_rejects_mismatched_shapes(taste, matrix, titles, names):
    with pytest.raises(ValueError):
        affinity_ranking(taste, matrix, titles, names)


def _html(box):
    return [o["data"].get("text/html", o["data"].get("text/plain")) for o in box.out.outputs]


def test_widget_checkboxes_and_bias_update_the_output():
    box = affinity_explorer(B, TITLES, NAMES, taste=[1, 0, 0, 0])
    assert repr(box) == "AffinityExplorer(taste=['Action'], bias=0, 5 items)"
    assert [cb.description for cb in box.checkboxes] == NAMES
    assert [sorted(o["data"]) for o in box.out.outputs][0] == ["text/html", "text/plain"]
    assert _html(box)[0].startswith("<svg") and _html(box)[0].count("<rect") == 5  # one bar per movie
    before = _html(box)
    np.testing.assert_array_equal(box.table["affinity"], [1, 1, 1, 0, 0])

    box.checkboxes[1].value = True  # also likes Comedy
    assert _html(box) != before and len(box.out.outputs) == 2
    assert list(box.table["title"][:2]) == ["E", "A"]  # E has both, 2 shared attributes
    after_tick = _html(box)

    box.bias.value = 0.5
    assert _html(box) != after_tick
    np.testing.assert_allclose(box.table["affinity"], affinity_ranking([1, 1, 0, 0], B, bias=0.5)["affinity"])
    assert repr(box) == "AffinityExplorer(taste=['Action', 'Comedy'], bias=0.5, 5 items)"


def test_affinity_svg_draws_one_bar_per_item_in_rank_order_and_the_bias_line():
    from mfteach.widgets.affinity import affinity_svg

    table = affinity_ranking([1, 1, 0, 0], B, TITLES, NAMES, bias=0.5)
    svg = affinity_svg(table, bias=0.5, xmax=4.0)
    assert svg.count("<rect") == len(TITLES)
    positions = [svg.index(f">{title}</text>") for title in table["title"]]
    assert positions == sorted(positions)  # top to bottom in the ranking's order
    assert "bias a_u0 = 0.5" in svg and "stroke-dasharray" in svg


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(monkeypatch):
    import mfteach.widgets.affinity as module

    box = affinity_explorer(B, TITLES, NAMES, taste=[1, 0, 0, 0])

    def broken(*args, **kwargs):
        raise RuntimeError("affinity exploded")

    monkeypatch.setattr(module, "affinity_ranking", broken)
    box.bias.value = 1.0
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "affinity exploded" in shown and len(box.out.outputs) == 1
    assert not box.bias.disabled and not any(cb.disabled for cb in box.checkboxes)
    box.checkboxes[2].value = True  # a checkbox change shows its error too
    assert "affinity exploded" in box.out.outputs[0]["data"]["text/html"]
