"""mfteach.embeddings: cosine neighbours (book Example 9.2.4), the 2-D map (Figure 9.2), genre
correlations and attribute-based item factors (the LightFM form) checked against their math."""

import numpy as np
import pandas as pd
import pytest

from mfteach.embeddings import (
    attribute_factors,
    cosine_neighbors,
    cosine_similarities,
    genre_correlations,
    item_map_2d,
)


@pytest.fixture
def V():
    return np.random.default_rng(0).normal(size=(30, 4))


# ---------------------------------------------------------------------------- cosine
def test_cosine_equals_normalized_dot_products(V):
    for item in (0, 7, 29):
        explicit = np.array([V[item] @ V[j] / (np.linalg.norm(V[item]) * np.linalg.norm(V[j])) for j in range(len(V))])
        np.testing.assert_allclose(cosine_similarities(V, item), explicit, rtol=1e-12)
        unit = V / np.linalg.norm(V, axis=1, keepdims=True)  # Example 9.2.4: unit vectors, then inner products
        np.testing.assert_allclose(cosine_similarities(V, item), unit @ unit[item], rtol=1e-12)
    assert cosine_similarities(V, 3)[3] == pytest.approx(1.0)


def test_cosine_ignores_length_and_sees_direction(V):
    W = V.copy()
    W[5] = 7.0 * W[2]   # same direction, longer
    W[6] = -0.1 * W[2]  # opposite direction
    sims = cosine_similarities(W, 2)
    assert sims[5] == pytest.approx(1.0) and sims[6] == pytest.approx(-1.0)
    items, values = cosine_neighbors(W, 2, n=3)
    assert items[0] == 5 and values[0] == pytest.approx(1.0)
    assert 2 not in items


def test_neighbors_are_the_top_n_sorted(V):
    sims = cosine_similarities(V, 4)
    items, values = cosine_neighbors(V, 4, n=6)
    expected = [j for j in np.argsort(-sims, kind="stable") if j != 4][:6]
    np.testing.assert_array_equal(items, expected)
    np.testing.assert_allclose(values, sims[expected])
    assert np.all(np.diff(values) <= 0)


def test_neighbors_respect_candidates_and_skip_zero_vectors(V):
    W = V.copy()
    W[10] = 0.0  # an item never rated: ALS leaves it at zero
    counts = np.arange(30)
    items, _ = cosine_neighbors(W, 20, n=29, candidates=counts >= 12)
    assert set(items) == set(range(12, 30)) - {20}
    items, _ = cosine_neighbors(W, 20, n=29)
    assert 10 not in items and len(items) == 28
    assert np.isnan(cosine_similarities(W, 20)[10])
    same, _ = cosine_neighbors(W, 20, n=29, candidates=np.arange(12, 30))  # indices work like the mask
    np.testing.assert_array_equal(same, cosine_neighbors(W, 20, n=29, candidates=counts >= 12)[0])


def test_cold_item_has_no_neighbors(V):
    W = V.copy()
    W[3] = 0.0
    with pytest.raises(ValueError, match="cold-start"):
        cosine_neighbors(W, 3)


@pytest.mark.parametrize("item, n", [(30, 5), (-1, 5), (1.0, 5), (True, 5), (0, 0)])
def test_neighbors_reject_bad_arguments(V, item, n):
    with pytest.raises((ValueError, TypeError)):
        cosine_neighbors(V, item, n=n)


# ---------------------------------------------------------------------------- the 2-D map
def test_map_coordinates_are_projections_on_top_right_singular_vectors(V):
    result = item_map_2d(V)
    X = V - V.mean(axis=0)
    _, sigma, Qt = np.linalg.svd(X, full_matrices=False)
    for j in range(2):
        sign = np.sign(result.directions[j] @ Qt[j])
        assert abs(sign) == 1
        np.testing.assert_allclose(result.directions[j], sign * Qt[j], atol=1e-12)
        np.testing.assert_allclose(result.coords[:, j], sign * (X @ Qt[j]), atol=1e-12)
    np.testing.assert_allclose(result.explained, sigma[:2] ** 2 / np.sum(sigma**2))
    np.testing.assert_allclose(result.directions @ result.directions.T, np.eye(2), atol=1e-12)
    # the map keeps the most spread: variance along the directions = the two largest sigma^2
    np.testing.assert_allclose(np.sum(result.coords**2, axis=0), sigma[:2] ** 2)


def test_map_fitted_on_a_subset_projects_every_item(V):
    popular = np.arange(30) >= 10
    result = item_map_2d(V, fit_on=popular)
    _, _, Qt = np.linalg.svd(V[popular] - V[popular].mean(axis=0))
    np.testing.assert_allclose(np.abs(result.directions), np.abs(Qt[:2]), atol=1e-12)
    np.testing.assert_allclose(result.mean, V[popular].mean(axis=0))
    np.testing.assert_allclose(result.coords, (V - result.mean) @ result.directions.T)
    assert result.coords.shape == (30, 2)


def test_map_sign_is_deterministic(V):
    a, b = item_map_2d(V), item_map_2d(V.copy())
    np.testing.assert_array_equal(a.coords, b.coords)
    largest = np.abs(a.directions).argmax(axis=1)
    assert (a.directions[np.arange(2), largest] > 0).all()
    with pytest.raises(ValueError):
        item_map_2d(V[:, :1])


# ---------------------------------------------------------------------------- genres
def test_genre_correlations_equal_corrcoef(V):
    rng = np.random.default_rng(1)
    G = (rng.random((30, 5)) < 0.3).astype(float)
    G[:, 0] = np.arange(30) < 15  # make sure no column is constant
    names = ["A", "B", "C", "D", "E"]
    table = genre_correlations(V, G, names)
    assert isinstance(table, pd.DataFrame) and table.shape == (4, 5)
    assert list(table.columns) == names and list(table.index) == ["factor 1", "factor 2", "factor 3", "factor 4"]
    for f in range(4):
        for g in range(5):
            assert table.iloc[f, g] == pytest.approx(np.corrcoef(V[:, f], G[:, g])[0, 1], abs=1e-12)


def test_genre_correlations_on_a_subset_and_constant_genre(V):
    G = np.zeros((30, 2))
    G[::2, 0] = 1
    G[:5, 1] = 1  # present only among the first five items
    keep = np.arange(30) >= 5
    table = genre_correlations(V, G, ["even", "early"], items=keep, factor_names=list("wxyz"))
    assert table.loc["x", "even"] == pytest.approx(np.corrcoef(V[keep, 1], G[keep, 0])[0, 1])
    assert table["early"].isna().all()  # constant (all 0) over the chosen items: undefined
    with pytest.raises(ValueError):
        genre_correlations(V, G, ["only one name"])


def test_planted_genre_direction_is_found():
    rng = np.random.default_rng(2)
    genre = (rng.random(200) < 0.4).astype(float)
    V = rng.normal(0, 0.3, (200, 3))
    V[:, 1] += 2 * genre  # coordinate 2 "means" the genre
    table = genre_correlations(V, genre[:, None], ["planted"])
    assert table["planted"].abs().idxmax() == "factor 2" and table.loc["factor 2", "planted"] > 0.8


# ---------------------------------------------------------------------------- attribute factors
def _genres(rng, n=60, g=6):
    G = (rng.random((n, g)) < 0.35).astype(float)
    G[np.arange(n), rng.integers(0, g, n)] = 1  # every item has a genre
    return G


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_attribute_factors_solve_their_ridge_problem(intercept, weighted):
    rng = np.random.default_rng(3)
    G, V = _genres(rng), rng.normal(size=(60, 4))
    weights = rng.integers(1, 50, 60).astype(float) if weighted else None
    reg = 2.5
    fit = attribute_factors(G, V, reg=reg, weights=weights, intercept=intercept)
    A = fit.design(G)
    w = np.ones(60) if weights is None else weights
    # gradient of sum_i w_i ||v_i - W^T a_i||^2 + reg ||W||_F^2 is zero at the solution
    gradient = -2 * A.T @ (w[:, None] * (V - A @ fit.W)) + 2 * reg * fit.W
    assert np.abs(gradient).max() < 1e-9
    assert fit.W.shape == (6 + intercept, 4) and fit.intercept == intercept and fit.reg == reg
    # and moving W in any direction increases the objective
    objective = lambda W: np.sum(w[:, None] * (V - A @ W) ** 2) + reg * np.sum(W**2)
    for _ in range(5):
        assert objective(fit.W + 1e-3 * rng.normal(size=fit.W.shape)) > objective(fit.W)


def test_attribute_factors_reproduce_V_in_the_span_of_G():
    rng = np.random.default_rng(4)
    G = _genres(rng)
    W_true = rng.normal(size=(6, 3))
    V = G @ W_true  # V lies in the column span of G
    for intercept in (True, False):
        fit = attribute_factors(G, V, reg=0.0, intercept=intercept)
        np.testing.assert_allclose(fit.transform(G), V, atol=1e-10)
    fit = attribute_factors(G, V, reg=0.0, intercept=False)
    np.testing.assert_allclose(fit.W, W_true, atol=1e-10)  # G has full column rank: W is unique
    # a cold-start item (no ratings, so no learned vector) gets W^T g from its genres alone
    g_new = np.array([1.0, 0, 0, 1, 0, 0])
    np.testing.assert_allclose(fit.transform(g_new), (g_new @ W_true)[None, :], atol=1e-10)


def test_attribute_factors_shrink_with_reg_and_reject_bad_input():
    rng = np.random.default_rng(5)
    G, V = _genres(rng), rng.normal(size=(60, 2))
    norms = [np.linalg.norm(attribute_factors(G, V, reg=r).W) for r in (0.0, 1.0, 100.0, 1e6)]
    assert norms == sorted(norms, reverse=True) and norms[-1] < 1e-3
    with pytest.raises(ValueError):
        attribute_factors(G[:-1], V)
    with pytest.raises(ValueError):
        attribute_factors(G, V, reg=-1.0)
    with pytest.raises(ValueError):
        attribute_factors(G, V, weights=-np.ones(60))
    with pytest.raises(ValueError):
        attribute_factors(G, V).transform(np.ones((2, 3)))


def test_biases_can_be_mapped_with_the_factors():
    rng = np.random.default_rng(6)
    G = _genres(rng)
    V, c = rng.normal(size=(60, 3)), rng.normal(size=60)
    both = attribute_factors(G, np.column_stack([V, c]), reg=1.0)
    alone = attribute_factors(G, c[:, None], reg=1.0)
    np.testing.assert_allclose(both.W[:, -1], alone.W[:, 0])  # the columns are separate regressions
