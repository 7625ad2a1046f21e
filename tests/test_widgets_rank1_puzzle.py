"""The rank-1 puzzle (book section 9.2.4): the compute function's numbers, then the widget."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mfteach.completion import complete_rank1
from mfteach.data import toy
from mfteach.widgets.rank1_puzzle import (
    Rank1Puzzle,
    hidden_rank1,
    plot_bipartite,
    puzzle_state,
    rank1_puzzle_widget,
    render_puzzle_html,
)


def n_graph_components(mask):
    """Components of the bipartite graph over all m + n rows and columns (scipy)."""
    m, n = mask.shape
    rows, cols = np.nonzero(mask)
    adjacency = sp.coo_matrix((np.ones(len(rows)), (rows, m + cols)), shape=(m + n, m + n))
    count, labels = connected_components(adjacency, directed=False)
    return count, labels[:m], labels[m:]


# ---------------------------------------------------------------------------- compute
def test_hidden_matrix_is_a_small_integer_rank1_matrix():
    H, a, b = hidden_rank1(5, 6, seed=3)
    np.testing.assert_array_equal(H, np.outer(a, b))
    assert np.linalg.matrix_rank(H) == 1
    assert set(a) <= {1, 2, 3} and set(b) <= {1, 2, 3, 4, 5}
    np.testing.assert_array_equal(H, hidden_rank1(5, 6, seed=3)[0])       # deterministic
    assert not np.array_equal(H, hidden_rank1(5, 6, seed=4)[0])
    with pytest.raises(ValueError):
        hidden_rank1(0, 3)


def test_a_spanning_tree_completes_the_hidden_matrix():
    H, _, _ = hidden_rank1(5, 6, seed=1)
    mask = np.zeros((5, 6), dtype=bool)
    mask[0, :] = True
    mask[1:, 2] = True                               # first row + one column: m + n - 1 = 10 entries
    state = puzzle_state(H, mask)
    assert state.n_revealed == state.minimum == 10
    assert state.n_components == 1 and state.n_redundant == 0
    assert state.determined.all() and state.conflict is None
    np.testing.assert_allclose(state.completed, H)
    assert not state.wrong.any()
    lines = state.summary()
    assert lines[0] == "You revealed 10 of 30 entries; m + n - 1 = 10 is the minimum for a full completion."
    assert "complete!" in lines[2] and "spanning tree" in lines[3]


@pytest.mark.parametrize("seed", range(20))
def test_determined_mask_matches_the_graph_components(seed):
    rng = np.random.default_rng(seed)
    H, _, _ = hidden_rank1(5, 6, seed=seed)
    mask = rng.random((5, 6)) < rng.uniform(0.1, 0.5)
    state = puzzle_state(H, mask)
    count, row_label, col_label = n_graph_components(mask)
    assert state.n_components == count
    same = row_label[:, None] == col_label[None, :]
    np.testing.assert_array_equal(state.determined, same)
    np.testing.assert_allclose(state.completed[same], H[same])
    assert np.isnan(state.completed[~same]).all()
    assert state.n_redundant == mask.sum() - 11 + count >= 0


def test_perturbation_on_a_cycle_is_caught_and_on_a_bridge_is_not():
    H, _, _ = hidden_rank1(5, 6, seed=0)
    mask = np.zeros((5, 6), dtype=bool)
    mask[0, :] = True
    mask[1:, 0] = True
    mask[1, 1] = True                                 # closes the cycle rows 1-2 x columns 1-2
    caught = puzzle_state(H, mask, perturb=(1, 1))
    assert caught.conflict is not None and (1, 1) in caught.result.conflict.entries
    assert caught.shown[1, 1] == H[1, 1] + 1 and caught.perturbed == (1, 1)
    # (5, 1) is a bridge: row 5 hangs on it alone; the error spreads to row 5, silently
    silent = puzzle_state(H, mask, perturb=(4, 0))
    assert silent.conflict is None
    assert silent.wrong[4].all() and silent.wrong.sum() == 6
    np.testing.assert_allclose(silent.completed[4], (H[4, 0] + 1) / H[4, 0] * H[4])
    assert any("bridge" in line for line in silent.summary())
    html = render_puzzle_html(silent, show_hidden=True)
    assert "the hidden matrix" in html and "silently wrong" in html


def test_nothing_revealed_and_bad_input():
    H, _, _ = hidden_rank1(3, 4)
    state = puzzle_state(H, np.zeros((3, 4), dtype=bool))
    assert not state.determined.any() and state.n_components == 7
    with pytest.raises(ValueError, match="shape"):
        puzzle_state(H, np.zeros((4, 3), dtype=bool))
    with pytest.raises(ValueError, match="not revealed"):
        puzzle_state(H, np.zeros((3, 4), dtype=bool), perturb=(0, 0))


def test_plot_bipartite_draws_one_edge_per_known_entry_and_the_conflict():
    import matplotlib.pyplot as plt

    M = toy("book_9.2.6")
    ax = plot_bipartite(M)
    n_known = int((~np.isnan(M)).sum())
    assert len(ax.lines) == n_known + 4                 # + the 4 highlighted edges of the cycle
    assert "contradicting cycle" in ax.get_title()
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("row")] == ["row 1", "row 2", "row 3", "row 4"]
    plt.close(ax.figure)
    ax = plot_bipartite(toy("book_9.2.5"), labels=False, title="9.2.5")
    assert len(ax.lines) == 8 and ax.get_title() == "9.2.5"
    plt.close(ax.figure)


# ---------------------------------------------------------------------------- the widget
def _html(box):
    return box.out.outputs[0]["data"]["text/html"]


def test_widget_starts_with_the_first_row_and_reveals_on_toggle():
    box = rank1_puzzle_widget(m=5, n=6, seed=0)
    assert isinstance(box, Rank1Puzzle)
    assert repr(box) == "Rank1Puzzle(5 x 6, seed=0, revealed 6 of 30, 5 component(s), 6 determined)"
    assert len(box.out.outputs) == 2                   # the HTML and the graph
    assert "image/png" in box.out.outputs[1]["data"]
    H, _, _ = hidden_rank1(5, 6, seed=0)
    assert [b.description for b in box.buttons[0]] == [f"{x:g}" for x in H[0]]
    assert box.buttons[1][0].description == "?"
    before = box.out.outputs
    box.buttons[1][0].value = True                     # reveal entry (2, 1)
    assert box.out.outputs != before and len(box.out.outputs) == 2   # replaced, not stacked
    assert box.buttons[1][0].description == f"{H[1, 0]:g}"
    assert box.state.determined[1].all()
    for i in (2, 3, 4):
        box.buttons[i][0].value = True
    assert box.state.determined.all()
    assert "spanning tree" in _html(box)
    assert repr(box) == "Rank1Puzzle(5 x 6, seed=0, revealed 10 of 30, 1 component(s), 30 determined)"


def test_widget_slider_perturb_and_hide_all_change_the_output():
    box = rank1_puzzle_widget(seed=2)
    before = box.out.outputs
    box.seed.value = 3                                 # another hidden matrix: new values shown
    assert box.out.outputs != before
    np.testing.assert_allclose(box.state.hidden, hidden_rank1(5, 6, 3)[0])
    box.buttons[1][0].value = True
    box.buttons[1][1].value = True                     # closes a cycle; revealed last
    box.perturb.value = True                           # +1 on (2, 2)
    assert box.state.perturbed == (1, 1) and box.state.conflict is not None
    assert "Conflict" in _html(box) and "conflict" in repr(box)
    box.show_hidden.value = True
    assert "the hidden matrix" in _html(box)
    box.clear.click()
    assert box.state.n_revealed == 0 and box.state.perturbed is None
    assert all(b.description == "?" for row in box.buttons for b in row)
    assert len(box.out.outputs) == 2


def test_widget_custom_start_and_no_graph():
    mask = np.eye(3, 4, dtype=bool)
    box = rank1_puzzle_widget(m=3, n=4, revealed=mask, graph=False)
    assert len(box.out.outputs) == 1
    assert box.state.n_revealed == 3 and box.state.n_components == 4
    with pytest.raises(ValueError, match="shape"):
        rank1_puzzle_widget(m=3, n=4, revealed=np.eye(2, dtype=bool))


def test_repr_before_build():
    assert repr(Rank1Puzzle()) == "Rank1Puzzle()"


def test_complete_rank1_is_what_the_puzzle_uses():
    H, _, _ = hidden_rank1(4, 4, seed=5)
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool)
    state = puzzle_state(H, mask)
    expected = complete_rank1(np.where(mask, H, np.nan))
    np.testing.assert_array_equal(state.determined, expected.determined)
    np.testing.assert_allclose(state.completed, expected.completed)


def test_widget_shows_an_error_of_the_compute_function_and_gives_the_controls_back(monkeypatch):
    import mfteach.widgets.rank1_puzzle as module

    box = rank1_puzzle_widget(m=3, n=3)

    def broken(*args, **kwargs):
        raise RuntimeError("completion exploded")

    monkeypatch.setattr(module, "puzzle_state", broken)
    box.seed.value = 4
    shown = box.out.outputs[0]["data"]["text/html"]
    assert "RuntimeError" in shown and "completion exploded" in shown
    assert not box.seed.disabled and not any(b.disabled for row in box.buttons for b in row)


def test_the_widgets_graph_follows_the_revealed_entries():
    from mfteach.widgets.rank1_puzzle import PuzzleGraph

    hidden, _, _ = hidden_rank1(3, 4, seed=1)
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, :] = mask[1, 0] = True
    graph = PuzzleGraph(3, 4)
    graph.update(puzzle_state(hidden, mask))
    assert len(graph.edges.get_segments()) == 5 and len(graph.conflict.get_segments()) == 0
    assert graph.ax.get_title() == "1 component, 1 isolated (grey)"  # row 3: nothing revealed
    mask[1, 1] = True
    graph.update(puzzle_state(hidden, mask, perturb=(1, 1)))  # a cycle through the perturbed entry
    assert len(graph.edges.get_segments()) == 6 and len(graph.conflict.get_segments()) > 0
    assert graph.png(puzzle_state(hidden, mask))[:4] == b"\x89PNG"
