"""The one contract every mfteach model keeps (ARCHITECTURE.md, "Models"; scikit-learn's
estimator conventions, as its ``parametrize_with_checks`` does for its own estimators).

Every model in ``CASES`` (ALS in each ``method``, biased and ALS-WR, GradientDescent in each
``sampling`` mode, TruncatedSVD with and without refinement, Baseline, Popularity,
ImplicitALS with both solvers, NCF) is checked for:

- the constructor stores the hyperparameters under their own names and does nothing else
  (no validation, no learned attribute), even for values ``fit`` will refuse;
- ``fit`` returns ``self``, leaves the hyperparameters as they were, and every public
  attribute it adds ends in ``_``; ``check_fitted`` fails before ``fit`` and passes after;
- the same seed gives the same bits (every learned array of two fits compared with
  ``np.array_equal``) and, for a seeded model, another seed gives other numbers;
- ``predict`` and ``recommend`` before ``fit`` raise ``NotFittedError`` naming the class;
- every bad hyperparameter gives a ValueError or TypeError whose message names it, and leaves
  the model unfitted;
- ``recommend`` leaves out exactly the items the user rated in training;
- ``get_params`` round-trips through the constructor, and ``set_params`` sets only the
  hyperparameters the constructor takes.

A new model is added to ``CASES`` (with the bad values of its hyperparameters);
``test_every_model_of_the_package_is_checked`` fails until it is.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Callable

import numpy as np
import pandas as pd
import pytest

import mfteach as mt
from mfteach.base import NotFittedError, Recommender, check_fitted
from mfteach.baseline import Baseline, Popularity
from mfteach.ncf import NCF
from mfteach.ratings import Ratings
from mfteach.svd import TruncatedSVD

M, N = 20, 15  # the shape of RATINGS: the sample_size limits below depend on it


def star_ratings() -> Ratings:
    """160-odd ratings 1..5 of 20 users on 15 items (planted rank 2, every user and item rated;
    values >= 0, so ImplicitALS takes them as interaction strengths)."""
    ratings, _, _ = mt.synthetic(M, N, rank=2, density=0.4, seed=0)
    return ratings.with_values(np.clip(np.round(3.0 + 1.5 * ratings.values), 1.0, 5.0))


RATINGS = star_ratings()

NOT_POSITIVE_INT = [0, -2, 2.5, True, "3"]  # what check_positive_int refuses
BAD_REG = [-0.1, float("nan"), float("inf")]


def bad(name, *values, extra=None):
    """One bad-hyperparameter case per value: (kwargs, name the message must contain)."""
    return [({name: value, **(extra or {})}, name) for value in values]


@dataclasses.dataclass
class Case:
    id: str
    make: Callable[..., Recommender]  # make(**overrides) -> an unfitted model
    bad: list = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        return self.id


ALS_BAD = (bad("rank", *NOT_POSITIVE_INT) + bad("reg", *BAD_REG) + bad("n_iters", 0, 1.5, -1)
           + bad("init_scale", -1.0, 0.0, float("nan")) + bad("tol", -1e-3) + bad("method", "qr", None))
GD_BAD = (bad("rank", *NOT_POSITIVE_INT) + bad("reg", *BAD_REG) + bad("n_epochs", 0, 1.5)
          + bad("sampling", "batch") + bad("eval_every", -1, 1.5, True) + bad("lr", 0.0, -0.1, float("inf"))
          + bad("init_scale", -1.0)
          + bad("sample_size", 0, 10_000, extra={"sampling": "entries"})
          + bad("sample_size", N + 1, extra={"sampling": "columns"})
          + bad("sample_size", M + 1, 2.0, extra={"sampling": "rows"})
          + bad("sample_size", -1, extra={"sampling": "minibatch"}))
IMPLICIT_BAD = (bad("rank", *NOT_POSITIVE_INT) + bad("reg", *BAD_REG) + bad("alpha", -1.0, float("inf"))
                + bad("n_iters", 0, 1.5) + bad("cg_steps", 0) + bad("cg_steps", 1.5, extra={"solver": "cg"})
                + bad("solver", "lu") + bad("confidence", "exp") + bad("eps", 0.0, -1.0)
                + bad("init_scale", 0.0, -0.1) + bad("eval_every", -1, 1.5, True))
NCF_BAD = (bad("embedding_dim", 0, 2.5, True) + bad("hidden", (), (4, 0), "4", (4, 1.5)) + bad("reg", *BAD_REG)
           + bad("lr", 0.0, -1e-3) + bad("n_epochs", 0, 1.5) + bad("batch_size", 0, 8.5)
           + bad("init_scale", -0.1))
SVD_BAD = (bad("rank", *NOT_POSITIVE_INT, M) + bad("impute", "median", None)
           + bad("refine", mt.ALS(rank=2), mt.GradientDescent(rank=2, biased=True, n_epochs=2)))
BASELINE_BAD = bad("reg_user", -1.0, float("nan")) + bad("reg_item", -0.5, float("inf")) + bad("n_iters", 0, 2.5)


def _maker(cls, **defaults):
    return lambda **overrides: cls(**{**defaults, **overrides})


CASES = [
    *(Case(f"ALS-{method}", _maker(mt.ALS, rank=3, reg=0.1, n_iters=3, method=method), ALS_BAD)
      for method in ("loop", "outer", "bucket", "auto")),
    Case("ALS-biased", _maker(mt.ALS, rank=3, reg=0.1, n_iters=3, biased=True), ALS_BAD),
    Case("ALS-weighted_reg", _maker(mt.ALS, rank=3, reg=0.1, n_iters=3, weighted_reg=True), ALS_BAD),
    *(Case(f"GradientDescent-{sampling}",
           _maker(mt.GradientDescent, rank=3, reg=0.1, n_epochs=3, lr=0.05, sampling=sampling,
                  sample_size=None if sampling == "full" else 4),
           GD_BAD)
      for sampling in ("full", "entries", "columns", "rows", "minibatch")),
    Case("GradientDescent-biased", _maker(mt.GradientDescent, rank=3, n_epochs=3, lr=0.05, biased=True), GD_BAD),
    Case("TruncatedSVD", _maker(TruncatedSVD, rank=3), SVD_BAD),
    Case("TruncatedSVD-refined",
         _maker(TruncatedSVD, rank=3, refine=mt.GradientDescent(rank=3, n_epochs=2, lr=0.05, seed=1)), SVD_BAD),
    Case("Baseline", _maker(Baseline, n_iters=3), BASELINE_BAD),
    Case("Baseline-mean", _maker(Baseline, biases=False), BASELINE_BAD),
    Case("Popularity", _maker(Popularity)),
    *(Case(f"ImplicitALS-{solver}", _maker(mt.ImplicitALS, rank=3, n_iters=2, solver=solver), IMPLICIT_BAD)
      for solver in ("exact", "cg")),
    Case("NCF", _maker(NCF, embedding_dim=3, hidden=(6, 4), n_epochs=2, batch_size=32), NCF_BAD),
]
BAD_CASES = [pytest.param(case, kwargs, name, id=f"{case.id}-{name}={kwargs[name]!r}")
             for case in CASES for kwargs, name in case.bad]


def fitted(case: Case, **overrides) -> Recommender:
    return case.make(**overrides).fit(RATINGS)


def learned(model) -> dict:
    """The public attributes ``fit`` added (names ending in ``_``), by name."""
    params = model.get_params()
    return {name: value for name, value in vars(model).items() if name not in params and not name.startswith("_")}


def arrays(value, prefix: str = ""):
    """Every number a learned attribute holds, as (path, ndarray) pairs: arrays, numbers, the
    arrays inside dicts (NCF's params_, adam_state_) and the columns of DataFrames other than
    the measured ``seconds``. A Ratings (ratings_), a fingerprint or a fitted sub-model is
    compared by its own arrays or skipped when it is the training data."""
    if isinstance(value, np.ndarray):
        yield prefix, value
    elif isinstance(value, (bool, int, float, np.number)):
        yield prefix, np.asarray(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from arrays(item, f"{prefix}[{key!r}]")
    elif isinstance(value, pd.DataFrame):
        for column in value.columns.drop("seconds", errors="ignore"):
            yield f"{prefix}[{column!r}]", value[column].to_numpy()
    elif isinstance(value, Recommender):  # TruncatedSVD's refined_
        for name, item in learned(value).items():
            yield from arrays(item, f"{prefix}.{name}")


# ---------------------------------------------------------------------------- construction
@pytest.mark.parametrize("case", CASES, ids=str)
def test_constructor_stores_the_parameters_and_nothing_else(case):
    model = case.make()
    params = model.get_params()
    assert set(vars(model)) == set(params)  # no learned attribute, no cache, nothing derived
    assert all(vars(model)[name] is value for name, value in params.items())
    for kwargs, _ in case.bad:  # no validation either: fit validates (scikit-learn's convention)
        refused = case.make(**kwargs)
        assert all(vars(refused)[name] is value for name, value in kwargs.items())


@pytest.mark.parametrize("case", CASES, ids=str)
def test_get_params_round_trips_through_the_constructor(case):
    model = case.make()
    params = model.get_params()
    assert type(model)(**params).get_params() == params
    assert repr(type(model)(**params)) == repr(model)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_set_params_sets_known_hyperparameters_and_refuses_unknown_ones(case):
    model = case.make()
    params = model.get_params()
    assert model.set_params(**params) is model and model.get_params() == params
    for kwargs, _ in case.bad[:1]:  # a value fit refuses is stored as given (fit checks it)
        assert model.set_params(**kwargs).get_params() == {**params, **kwargs}
    with pytest.raises(ValueError, match=rf"{type(model).__name__} has no hyperparameter 'learning_rat'"):
        model.set_params(learning_rat=0.1)


# ---------------------------------------------------------------------------- fit
@pytest.mark.parametrize("case", CASES, ids=str)
def test_fit_returns_self_and_learns_only_attributes_ending_in_underscore(case):
    model = case.make()
    params = dict(model.get_params())
    with pytest.raises(NotFittedError, match=type(model).__name__):
        check_fitted(model)
    assert model.fit(RATINGS) is model
    check_fitted(model)
    assert model.get_params() == params  # fit leaves the hyperparameters alone
    added = learned(model)
    assert added and all(name.endswith("_") for name in added), sorted(added)
    assert model.ratings_ is RATINGS and model.shape == RATINGS.shape
    scores = model.predict(RATINGS.rows, RATINGS.cols)
    assert scores.shape == (len(RATINGS),) and np.all(np.isfinite(scores))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_same_seed_gives_the_same_bits(case):
    first, second = fitted(case), fitted(case)
    a, b = dict(arrays(learned(first))), dict(arrays(learned(second)))
    assert a.keys() == b.keys() and a
    different = [path for path in a if not np.array_equal(a[path], b[path])]
    assert not different, different
    if "seed" in first.get_params():  # the seed is used: another one gives other numbers
        other = dict(arrays(learned(fitted(case, seed=first.seed + 1))))
        assert any(not np.array_equal(a[path], other[path]) for path in a)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call", [lambda m: m.predict([0], [0]), lambda m: m.recommend(0), lambda m: m.shape],
                         ids=["predict", "recommend", "shape"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_use_before_fit_raises_not_fitted_error_naming_the_class(case, call):
    model = case.make()
    with pytest.raises(NotFittedError, match=rf"this {type(model).__name__} is not fitted yet"):
        call(model)


@pytest.mark.parametrize("case, kwargs, name", BAD_CASES)
def test_bad_hyperparameters_raise_an_error_naming_them(case, kwargs, name):
    model = case.make(**kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        model.fit(RATINGS)
    with pytest.raises(NotFittedError):  # nothing half-fitted is left behind
        check_fitted(model)


# ---------------------------------------------------------------------------- recommend
@pytest.mark.parametrize("case", CASES, ids=str)
def test_recommend_leaves_out_exactly_the_items_rated_in_training(case):
    model = fitted(case)
    dense = RATINGS.to_dense()
    for user in (0, 7, M - 1):
        seen = set(np.flatnonzero(~np.isnan(dense[user])))
        assert 0 < len(seen) < N
        top = model.recommend(user, n=N)
        assert set(top["item"]) == set(range(N)) - seen
        assert np.all(np.diff(top["score"]) <= 0)
        everything = model.recommend(user, n=N, exclude_seen=False)
        assert set(everything["item"]) == set(range(N))


# ---------------------------------------------------------------------------- coverage
def all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def test_every_model_of_the_package_is_checked():
    """Every concrete Recommender defined in mfteach (not in a test) has a case above."""
    for module in pkgutil.iter_modules(mt.__path__):  # the model modules are mfteach/*.py
        if not module.ispkg and module.name != "__main__":
            importlib.import_module(f"mfteach.{module.name}")
    models = {cls for cls in all_subclasses(Recommender)
              if cls.__module__.startswith("mfteach.") and not getattr(cls, "__abstractmethods__", None)
              and cls is not mt.base.FactorModel}
    checked = {type(case.make()) for case in CASES}
    assert models - checked == set(), f"models without a contract case: {models - checked}"
    unchecked = [case.id for case in CASES if case.make().get_params() and not case.bad]
    assert not unchecked, f"models with hyperparameters but no bad values to try: {unchecked}"
