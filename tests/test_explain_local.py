"""mfteach/explain/local.py: neighbourhood retraining is exact_local at zero hops, the full
warm-started retrain when the neighbourhood covers the graph, zero when nothing is removed, and
refuses what it cannot explain."""

import warnings

import numpy as np
import pytest

import mfteach as mt
from mfteach.explain.fast_influence import ConvergenceWarning, fia, loo_influence
from mfteach.explain.local import LocalRetrain, _aitken, local_rescore, local_retrain, neighbourhood

EXACT = dict(n_iters=400, tol=0.0)               # full retrains: 400 ALS iterations (converged to 1e-14 here)
WHOLE = dict(hops=10, tol=1e-14, max_sweeps=5000)  # every user and item, until the prediction stops moving


def small(seed=0, m=25, n=20, density=0.45):
    ratings, _, _ = mt.synthetic(m, n, rank=2, density=density, noise=0.3, seed=seed)
    return ratings.with_values(ratings.values + 3.0)  # a mean, for the biases


ALS_MODELS = {
    "ALS": dict(reg=3.0),
    "ALS biased": dict(reg=3.0, biased=True),
    "ALS-WR": dict(reg=0.3, weighted_reg=True),
    "ALS-WR biased": dict(reg=0.3, weighted_reg=True, biased=True),
    "ALS biased k=40": dict(reg=3.0, biased=True, rank=40),   # blocks of 41 unknowns: the Cholesky solves
}


@pytest.fixture(scope="module", params=list(ALS_MODELS))
def als(request):
    ratings = small()
    model = mt.ALS(**{"rank": 3, **ALS_MODELS[request.param]}, n_iters=400, tol=0.0, seed=0).fit(ratings)
    return ratings, model


@pytest.fixture(scope="module", params=[False, True], ids=["GD", "GD biased"])
def gd(request):
    ratings = small(seed=1)
    return ratings, mt.GradientDescent(rank=3, reg=1.5, n_epochs=60, biased=request.param, seed=0).fit(ratings)


def target(ratings, user=3):
    """(user, an item the user did not rate, with several raters)."""
    lo, hi = np.searchsorted(ratings.rows, [user, user + 1])
    unrated = np.setdiff1d(np.arange(ratings.shape[1]), ratings.cols[lo:hi])
    return user, int(unrated[np.argmax(ratings.item_counts()[unrated])])


def quiet_fia(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fia(*args, **kwargs)


# ---------------------------------------------------------------------------- identities
def test_zero_hops_is_exact_local_for_every_rating_of_r_t(als):
    ratings, model = als
    user, item = target(ratings)
    frame = fia(model, ratings, user, item, exact_local=True)
    assert set(frame["side"]) == {"item-based", "user-based"}
    local = [local_retrain(model, ratings, user, item, (z_user, z_item), hops=0)
             for z_user, z_item in zip(frame["user"], frame["item"])]
    np.testing.assert_allclose(local, frame["influence"], rtol=1e-10, atol=1e-13)


def test_zero_hops_is_exact_local_for_gradient_descent_models_that_are_not_at_a_minimum(gd):
    ratings, model = gd
    user, item = target(ratings)
    frame = quiet_fia(model, ratings, user, item, exact_local=True)
    local = [local_retrain(model, ratings, user, item, (z_user, z_item), hops=0)
             for z_user, z_item in zip(frame["user"], frame["item"])]
    np.testing.assert_allclose(local, frame["influence"], rtol=1e-10, atol=1e-13)


def test_the_whole_graph_is_the_full_warm_started_retrain(als):
    ratings, model = als
    user, item = target(ratings)
    frame = fia(model, ratings, user, item)
    for row in (0, 1):
        removed = (int(frame["user"].iloc[row]), int(frame["item"].iloc[row]))
        result = local_retrain(model, ratings, user, item, removed, full_output=True, **WHOLE)
        assert (result.n_users, result.n_items) == ratings.shape
        full = loo_influence(model, ratings, user, item, [removed], **EXACT)
        assert result.influence == pytest.approx(full, abs=1e-8)
        assert abs(full) > 1e-4                              # the comparison is not between two zeros


def test_several_ratings_removed_together_match_the_full_retrain():
    ratings = small(seed=2)
    model = mt.ALS(rank=3, reg=3.0, biased=True, n_iters=400, tol=0.0).fit(ratings)
    user, item = target(ratings)
    frame = fia(model, ratings, user, item)
    removed = [(int(u), int(i)) for u, i in zip(frame["user"].head(3), frame["item"].head(3))]
    together = local_retrain(model, ratings, user, item, removed, **WHOLE)
    assert together == pytest.approx(loo_influence(model, ratings, user, item, removed, **EXACT), abs=1e-8)
    one_by_one = sum(local_retrain(model, ratings, user, item, z, **WHOLE) for z in removed)
    assert abs(together - one_by_one) > 1e-6                  # not additive: they interact


def test_one_hop_lies_between_exact_local_and_the_full_retrain_on_a_sparse_problem():
    """More hops re-solve more blocks: the one-hop estimate is much closer to the retrain than exact_local."""
    ratings = small(seed=3, m=60, n=50, density=0.12)
    model = mt.ALS(rank=3, reg=1.0, biased=True, n_iters=5000, tol=1e-16).fit(ratings)
    user, item = target(ratings, user=5)
    frame = fia(model, ratings, user, item, exact_local=True)
    errors = {0: [], 1: []}
    for z in zip(frame["user"].head(4).tolist(), frame["item"].head(4).tolist()):
        full = loo_influence(model, ratings, user, item, [z], **EXACT)
        for hops in errors:
            errors[hops].append(abs(local_retrain(model, ratings, user, item, z, hops=hops, tol=1e-12) - full))
    assert sum(errors[1]) < 0.5 * sum(errors[0])


# ---------------------------------------------------------------------------- nothing removed, nothing changes
def test_removing_nothing_changes_nothing(als):
    ratings, model = als
    user, item = target(ratings)
    assert local_retrain(model, ratings, user, item, [], hops=2) == 0.0
    result = local_retrain(model, ratings, user, item, [], full_output=True)
    assert isinstance(result, LocalRetrain) and (result.sweeps, result.influence) == (0, 0.0)
    assert result.prediction == pytest.approx(model.predict([user], [item])[0], abs=1e-12)


def test_a_model_off_its_minimum_does_not_drift_when_the_change_cannot_reach_the_target(gd):
    """The solves are anchored at the fitted model (the tilt by its gradient): a GradientDescent model
    stopped after 60 epochs is not a minimizer, yet re-solving blocks whose data did not change leaves them."""
    ratings, model = gd
    user, item = target(ratings)
    pairs = set(zip(ratings.rows.tolist(), ratings.cols.tolist()))
    z = next((a, l) for a, l in sorted(pairs) if a != user and l != item and (a, item) not in pairs
             and (user, l) not in pairs)                       # no rating links z's blocks to the target's
    result = local_retrain(model, ratings, user, item, z, hops=0, full_output=True, tol=0.0, max_sweeps=5)
    assert (result.n_users, result.n_items, result.n_inner) == (2, 2, 0) and result.sweeps >= 2
    assert abs(result.influence) < 1e-12
    untilted = mt.ALS(rank=3, reg=1.5, biased=model.biased, n_iters=1).fit(ratings, init=model)
    assert abs(untilted.predict([user], [item])[0] - model.predict([user], [item])[0]) > 1e-4  # a plain re-solve drifts


# ---------------------------------------------------------------------------- the neighbourhood
def test_one_hop_neighbourhood_is_the_seeds_their_items_and_their_raters():
    ratings = small(seed=4, m=40, n=30, density=0.15)
    pairs = set(zip(ratings.rows.tolist(), ratings.cols.tolist()))
    seeds_u, seeds_i = [2, 7], [4, 11]
    users, items = neighbourhood(ratings, seeds_u, seeds_i, hops=1)
    expected_i = set(seeds_i) | {i for (u, i) in pairs if u in seeds_u}
    expected_u = set(seeds_u) | {u for (u, i) in pairs if i in seeds_i}
    assert set(items.tolist()) == expected_i and set(users.tolist()) == expected_u
    zero = neighbourhood(ratings, seeds_u, seeds_i, hops=0)
    assert zero[0].tolist() == seeds_u and zero[1].tolist() == seeds_i
    two_u, two_i = neighbourhood(ratings, seeds_u, seeds_i, hops=2)
    assert set(two_i.tolist()) == expected_i | {i for (u, i) in pairs if u in expected_u}
    assert set(two_u.tolist()) == expected_u | {u for (u, i) in pairs if i in expected_i}


def test_caps_limit_the_outer_rings_to_their_best_linked_members():
    ratings = small(seed=4, m=40, n=30, density=0.3)
    one_u, one_i = neighbourhood(ratings, [0], [0], hops=1)
    full_u, full_i = neighbourhood(ratings, [0], [0], hops=2)
    capped_u, capped_i = neighbourhood(ratings, [0], [0], hops=2, max_users=3, max_items=2)
    assert len(full_u) > len(one_u) + 3 and len(full_i) > len(one_i) + 2      # the caps bite
    assert set(one_u) <= set(capped_u) and set(one_i) <= set(capped_i)        # the first hop is complete
    ring_u, ring_i = np.setdiff1d(capped_u, one_u), np.setdiff1d(capped_i, one_i)
    assert (len(ring_u), len(ring_i)) == (3, 2)
    dense = ~np.isnan(ratings.to_dense())
    links_u = dense[:, np.setdiff1d(one_i, [0])].sum(axis=1)                  # ratings into hop 1's new items
    dropped_u = np.setdiff1d(np.setdiff1d(full_u, one_u), ring_u)
    assert links_u[ring_u].min() >= links_u[dropped_u].max()
    model = mt.ALS(rank=2, reg=1.0, n_iters=50).fit(ratings)
    result = local_retrain(model, ratings, 0, int(np.flatnonzero(~dense[0])[0]), (0, int(ratings.cols[0])), hops=2,
                           max_users=3, max_items=2, full_output=True)
    assert result.n_users <= len(full_u) and result.n_items <= len(full_i)
    assert result.n_users >= len(one_u)


# ---------------------------------------------------------------------------- sweeps and Aitken
def test_aitken_recovers_the_limit_of_a_geometric_sequence():
    y = [2.0 + 0.7 * 0.6 ** s for s in range(4)]
    assert _aitken(y) == pytest.approx(2.0, abs=1e-12)
    assert _aitken(y[:2]) == y[1]                                      # too few terms: the last one
    assert _aitken([1.0, 2.0, 4.0]) == 4.0                             # growing differences: no extrapolation


def test_aitken_and_tol_stop_early_near_the_converged_value():
    ratings = small(seed=3, m=60, n=50, density=0.12)
    model = mt.ALS(rank=3, reg=1.0, biased=True, n_iters=5000, tol=1e-16).fit(ratings)
    user, item = target(ratings, user=5)
    z = tuple(int(v) for v in fia(model, ratings, user, item).iloc[0][["user", "item"]])
    converged = local_retrain(model, ratings, user, item, z, hops=2, tol=0.0, max_sweeps=500)
    plain = local_retrain(model, ratings, user, item, z, hops=2, tol=0.0, max_sweeps=3)
    extrapolated = local_retrain(model, ratings, user, item, z, hops=2, tol=0.0, max_sweeps=3, aitken=True)
    assert abs(extrapolated - converged) < abs(plain - converged)
    stopped = local_retrain(model, ratings, user, item, z, hops=2, tol=1e-6, full_output=True)
    assert stopped.converged and stopped.sweeps < 500 and stopped.influence == pytest.approx(converged, abs=1e-4)


def test_the_first_sweep_solves_only_the_blocks_whose_data_moved(als):
    """Sweep 1: the item that lost the rating, then the target user and the users who rated that item
    (or lost the rating); later sweeps: every item, every user; the last sweep's users: the target alone."""
    ratings, model = als
    user, item = target(ratings)
    u_z, j = (int(v) for v in fia(model, ratings, user, item).iloc[0][["user", "item"]])
    users, _ = neighbourhood(ratings, [u_z, user], [j, item], 1)
    first = np.union1d(np.intersect1d(ratings.rows[(ratings.cols == j) & (ratings.rows != u_z)], users), [u_z])
    sizes = {}
    for sweeps in (1, 2, 3):
        result = local_retrain(model, ratings, user, item, (u_z, j), tol=0.0, max_sweeps=sweeps, full_output=True)
        sizes[sweeps] = (result.block_solves, result.n_users, result.n_items)
    n_users, n_items = sizes[3][1:]
    assert sizes[1][0] == 1 + 1
    assert sizes[2][0] == 1 + 1 + len(first) + n_items + 1
    assert sizes[3][0] == sizes[2][0] + n_users + n_items + 1
    assert len(first) < n_users                               # the first sweep skips some users


@pytest.mark.parametrize("d", [5, 40])
def test_the_block_solver_equals_lu_for_small_and_large_blocks(d):
    """_solve_blocks: batched LU below CHOLESKY_MIN_SIZE unknowns, one Cholesky per block from it on;
    empty blocks give 0; a singular block is refused."""
    from mfteach.explain.local import CHOLESKY_MIN_SIZE, _solve_blocks

    assert 5 < CHOLESKY_MIN_SIZE <= 40
    rng = np.random.default_rng(d)
    X = rng.normal(size=(6, 2 * d, d))
    A = X.transpose(0, 2, 1) @ X + 0.5 * np.eye(d)
    h = rng.normal(size=(6, d))
    empty = np.array([False, False, True, False, False, False])
    expected = np.linalg.solve(A, h[..., None])[..., 0]
    expected[2] = 0.0
    np.testing.assert_allclose(_solve_blocks(A.copy(), h.copy(), empty), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_solve_blocks(A[:1].copy(), h[:1].copy(), empty[:1]), expected[:1], rtol=1e-9)
    with pytest.raises(ValueError, match="ridge block of the neighbourhood is singular"):
        _solve_blocks(np.zeros((2, d, d)), h[:2].copy(), np.zeros(2, dtype=bool))


# ---------------------------------------------------------------------------- the cache
def test_the_precomputation_is_cached_and_rebuilt_after_a_refit():
    ratings = small()
    model = mt.ALS(rank=3, reg=1.5, n_iters=200).fit(ratings)
    user, item = target(ratings)
    z = (int(ratings.rows[0]), int(ratings.cols[0]))
    first = local_retrain(model, ratings, user, item, z)
    cache = model._local_retrain_cache
    assert local_retrain(model, ratings, user, item, z) == first and model._local_retrain_cache is cache
    model.set_params(reg=4.0).fit(ratings)                            # refit: new factors, stale blocks
    refitted = local_retrain(model, ratings, user, item, z)
    assert model._local_retrain_cache is not cache
    fresh = mt.ALS(rank=3, reg=4.0, n_iters=200).fit(ratings)
    assert refitted == local_retrain(fresh, ratings, user, item, z) and abs(refitted - first) > 1e-6


# ---------------------------------------------------------------------------- re-scoring FIA's top rows
def test_local_rescore_adds_the_retrained_value_of_the_top_rows():
    ratings = small()
    model = mt.ALS(rank=3, reg=1.5, biased=True, n_iters=500, tol=1e-12).fit(ratings)
    user, item = target(ratings)
    frame = local_rescore(model, ratings, user, item, n_top=4, side="item-based", hops=1)
    assert frame.drop(columns="retrained").equals(fia(model, ratings, user, item, side="item-based"))
    assert frame.attrs["rescored"] == 4 and frame["retrained"].iloc[4:].isna().all()
    for row in frame.head(4).itertuples():
        assert row.retrained == local_retrain(model, ratings, user, item, (row.user, row.item), hops=1)


# ---------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(removed=(0, 99)), ValueError, "not a training rating"),
    (dict(removed=[(0, 0), (24, 19)]), ValueError, "not a training rating|removed"),
    (dict(removed="(0, 1)"), ValueError, "removed"),
    (dict(hops=-1), ValueError, "hops"),
    (dict(hops=1.5), ValueError, "hops"),
    (dict(user=25), ValueError, "user"),
    (dict(item=-1), ValueError, "item"),
    (dict(max_sweeps=0), ValueError, "max_sweeps"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(max_users=0), ValueError, "max_users"),
])
def test_bad_input_is_refused_with_a_clear_error(kwargs, error, match):
    ratings = small()
    model = mt.ALS(rank=3, reg=1.5, n_iters=20).fit(ratings)
    z = (int(ratings.rows[0]), int(ratings.cols[0]))
    call = {"user": 3, "item": 1, "removed": z, **kwargs}
    if kwargs.get("removed") == [(0, 0), (24, 19)]:
        call["removed"] = [z, (24, 19)] if (24, 19) not in set(zip(ratings.rows.tolist(), ratings.cols.tolist())) \
            else [z, (24, 0)]
    with pytest.raises(error, match=match):
        local_retrain(model, ratings, call.pop("user"), call.pop("item"), call.pop("removed"), **call)


def test_other_model_types_and_other_ratings_are_refused():
    ratings = small()
    with pytest.raises(TypeError, match="ALS or mfteach.GradientDescent"):
        clicks = ratings.with_values(np.abs(ratings.values))
        local_retrain(mt.ImplicitALS(rank=2).fit(clicks), clicks, 0, 1, (0, int(ratings.cols[0])))
    model = mt.ALS(rank=3, reg=1.5, n_iters=20).fit(ratings)
    other = small(seed=5)
    with pytest.raises(ValueError):
        local_retrain(model, other, 0, 1, (int(other.rows[0]), int(other.cols[0])))
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        local_retrain(mt.ALS(rank=2), ratings, 0, 1, (0, int(ratings.cols[0])))
