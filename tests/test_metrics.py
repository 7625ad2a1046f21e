import math

import numpy as np
import pytest

from mfteach import metrics


def test_rmse_and_mae_hand_computed():
    assert metrics.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert metrics.mae([1, 2, 3], [2, 2, 1]) == pytest.approx(1.0)
    assert metrics.rmse([4.0], [4.0]) == 0.0


def test_rmse_is_at_least_mae():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    assert metrics.rmse(y, p) >= metrics.mae(y, p)


@pytest.mark.parametrize(
    "y_true, y_pred, message",
    [([1, 2], [1], "same shape"), ([], [], "empty"), ([1, np.nan], [1, 2], "finite"), ([1, 2], [1, np.inf], "y_pred")],
)
def test_rating_metrics_reject_bad_input(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        metrics.rmse(y_true, y_pred)


def test_ranking_metrics_hand_computed():
    recommended, relevant = [5, 1, 7, 2], {1, 2, 9}
    assert metrics.precision_at_k(recommended, relevant, 3) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(recommended, relevant, 3) == pytest.approx(1 / 3)
    assert metrics.precision_at_k(recommended, relevant, 4) == pytest.approx(2 / 4)
    assert metrics.recall_at_k(recommended, relevant, 4) == pytest.approx(2 / 3)
    # one hit at position 2 of 3; the ideal list has 3 hits at positions 1, 2, 3
    dcg = 1 / math.log2(3)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(recommended, relevant, 3) == pytest.approx(dcg / idcg)


def test_ndcg_of_a_perfect_and_of_a_reversed_list():
    assert metrics.ndcg_at_k([3, 4, 8, 9], {3, 4}, 4) == pytest.approx(1.0)
    # relevant items last: DCG = 1/log2(4) + 1/log2(5); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(4) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k([8, 9, 3, 4], {3, 4}, 4) == pytest.approx(expected)


def test_short_list_counts_missing_positions_as_misses():
    assert metrics.precision_at_k([1], {1}, 5) == pytest.approx(0.2)
    assert metrics.recall_at_k([1], {1}, 5) == 1.0
    assert metrics.ndcg_at_k([1], {1}, 5) == 1.0


def test_ranking_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="positive integer"):
        metrics.precision_at_k([1, 2], {1}, 0)
    with pytest.raises(ValueError, match="repeated"):
        metrics.precision_at_k([1, 1, 2], {1}, 3)
    with pytest.raises(ValueError, match="relevant is empty"):
        metrics.recall_at_k([1, 2], set(), 2)
    with pytest.raises(ValueError, match="relevant is empty"):
        metrics.ndcg_at_k([1, 2], [], 2)
