"""The cached sweeps of lessons 15 and 17 (mfteach.explain.precomputed): a slice of each file is recomputed
here and must match, so a change in the code that produced a file cannot leave a stale copy behind; a cache
never answers for other data, other settings or another model."""

import copy

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.explain import precomputed

ESTIMATES = ["fia", "exact_local", "ia_basic", "observed"]


@pytest.fixture(scope="module")
def lesson15(ml100k):
    data = ml100k.top(n_users=250, n_items=250)
    return data.split(how="leave_one_out", seed=0)                     # lesson 15's train, test


@pytest.fixture(scope="module")
def lesson17(ml100k):
    train, test = ml100k.top(200, 300).split(test_size=0.1, seed=0)
    model = mt.NCF(embedding_dim=16, hidden=(32, 16), reg=20.0, lr=3e-3, batch_size=1024, seed=0,
                   n_epochs=15).fit(train)                               # lesson 17's network
    chosen = np.random.default_rng(0).choice(len(test), size=60, replace=False)
    return train, model, list(zip(test.rows[chosen].tolist(), test.cols[chosen].tolist()))


# ============================================================================ lesson 15: the lambda sweep
def test_lambda_sweep_cache_holds_ten_points_per_lambda_the_same_for_every_lambda(lesson15):
    train, test = lesson15
    sweep = precomputed.lambda_sweep(train, test)                        # the lesson's call
    assert list(sweep["lambda"].unique()) == [0.5, 2.5, 10.0, 40.0] and len(sweep) == 40
    points = [tuple(map(tuple, rows[["user", "item"]].to_numpy())) for _, rows in sweep.groupby("lambda")]
    assert all(p == points[0] for p in points) and len(set(points[0])) == 10
    assert np.isfinite(sweep[ESTIMATES].to_numpy()).all()
    assert set(points[0]) <= set(zip(test.rows.tolist(), test.cols.tolist()))


@pytest.mark.parametrize("reg, count", [(40.0, 10), (10.0, 2)])
def test_lambda_sweep_cache_equals_a_fresh_computation(lesson15, reg, count):
    """Every point at lambda = 40 (the fastest refit) and two at the lesson's lambda = 10, recomputed."""
    train, test = lesson15
    stored = precomputed.lambda_sweep(train, test)
    stored = stored[stored["lambda"] == reg].head(count).reset_index(drop=True)
    fresh = precomputed.lambda_sweep(train, test, lambdas=[reg], points=stored[["user", "item"]].to_numpy(),
                                     cached=False)
    pd.testing.assert_frame_equal(fresh[["user", "item", "removed_user", "removed_item", "side"]],
                                  stored[["user", "item", "removed_user", "removed_item", "side"]])
    np.testing.assert_allclose(fresh[ESTIMATES].to_numpy(), stored[ESTIMATES].to_numpy(), rtol=1e-6, atol=1e-9)


def test_lambda_sweep_cache_refuses_other_ratings_and_other_settings(lesson15):
    train, test = lesson15
    other_train, other_test = train.split(how="leave_one_out", seed=1)
    with pytest.raises(ValueError, match="other train ratings.*cached=False"):
        precomputed.lambda_sweep(other_train, test)
    with pytest.raises(ValueError, match="other test ratings.*cached=False"):
        precomputed.lambda_sweep(train, other_test)
    with pytest.raises(ValueError, match=r"n_points=5 \(cached: 10\)"):
        precomputed.lambda_sweep(train, test, n_points=5)
    with pytest.raises(ValueError, match="lambdas"):
        precomputed.lambda_sweep(train, test, lambdas=(1.0, 10.0))
    with pytest.raises(ValueError, match="cached=False"):
        precomputed.lambda_sweep(train, test, points=[[0, 1]])


# ============================================================================ lesson 17: FIA-NCF against retraining
def test_ncf_validation_cache_equals_a_fresh_computation_on_a_slice(lesson17):
    """Each target's row depends only on that target (seeded, paired retrains): three of the 60 recomputed."""
    train, model, targets = lesson17
    stored = precomputed.ncf_validation(model, train, targets)           # the lesson's call
    assert len(stored) == 60 and list(zip(stored["user"], stored["item"])) == targets
    picks = [0, 29, 59]
    fresh = precomputed.ncf_validation(model, train, [targets[p] for p in picks], cached=False)
    stored = stored.iloc[picks].reset_index(drop=True)
    pd.testing.assert_frame_equal(fresh[["user", "item", "removed_user", "removed_item", "side"]],
                                  stored[["user", "item", "removed_user", "removed_item", "side"]])
    np.testing.assert_allclose(fresh[["fia", "loo"]].to_numpy(), stored[["fia", "loo"]].to_numpy(),
                               rtol=1e-6, atol=1e-9)


def test_ncf_validation_cache_refuses_another_model_other_targets_and_settings(lesson17):
    train, model, targets = lesson17
    changed = copy.deepcopy(model)
    user = targets[0][0]
    changed.params_["P"][user] += 0.1                                   # same hyperparameters, other parameters
    with pytest.raises(ValueError, match="fitted differently.*cached=False"):
        precomputed.ncf_validation(changed, train, targets)
    with pytest.raises(ValueError, match="targets"):
        precomputed.ncf_validation(model, train, targets[:10])
    with pytest.raises(ValueError, match=r"n_epochs=5 \(cached: 3\)"):
        precomputed.ncf_validation(model, train, targets, n_epochs=5)
    other = mt.NCF(**{**model.get_params(), "reg": 10.0})
    with pytest.raises(ValueError, match="model="):
        precomputed.ncf_validation(other, train, targets)
    with pytest.raises(ValueError, match="other train ratings"):
        precomputed.ncf_validation(model, train.split(test_size=0.1, seed=3)[0], targets)


def test_load_names_the_known_files():
    with pytest.raises(ValueError, match="lesson15_lambda_sweep"):
        precomputed.load("no_such_sweep")
