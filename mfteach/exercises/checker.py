"""``check(name, fn)``: run the learner's function on the exercise's test cases and say what is wrong.

The learner's function runs under a hard time limit in a separate process where the platform
forks (``sandbox.py``); the reference and the diagnostics, which are ours, run here. The verdict
is one line when everything matches, or a specific diagnosis: ``None`` returned, not real
numbers, wrong shape or a transposed result, wrong values shown side by side with the expected
ones, a recognised typical mistake (also one that crashes), the learner's line that raised, or a
loop that never ends. An untouched stub (it raises ``NotImplementedError``) is "not written
yet" and is not counted as an attempt. ``check`` never raises.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from . import feedback, records
from .compare import compare, describe_value, same
from .registry import EXERCISES, Exercise
from .sandbox import Outcome, run_cases

__all__ = ["check", "check_safely", "expected_results"]

_CACHE: dict[str, dict] = {}


def _cached(exercise: Exercise) -> dict:
    """The cache of this very exercise object (a name registered again starts afresh)."""
    cache = _CACHE.get(exercise.name)
    if cache is None or cache["exercise"] is not exercise or cache["seed"] != exercise.seed:
        cache = _CACHE[exercise.name] = {"exercise": exercise, "seed": exercise.seed}
    return cache


def cases_of(exercise: Exercise) -> list:
    """The exercise's test cases, drawn once per exercise (they are deterministic)."""
    cache = _cached(exercise)
    if "cases" not in cache:
        cache["cases"] = exercise.cases()
    return cache["cases"]


def expected_results(exercise: Exercise) -> tuple[list, list]:
    """(cases, reference results), computed once per exercise (both are deterministic)."""
    cache, cases = _cached(exercise), cases_of(exercise)
    if "expected" not in cache:
        cache["expected"] = [_call(exercise.reference, case) for case in cases]
    return cases, cache["expected"]


def _call(fn, case):
    """``fn`` (ours, trusted) on a deep copy of ``case``."""
    args, kwargs = feedback.split_case(copy.deepcopy(case))
    return fn(*args, **kwargs)


def check(name: str, fn: Callable[..., Any], *, time_limit: float | None = None) -> bool:
    """Run ``fn`` on the exercise's test cases and say whether it matches the reference.

    Prints one line when every result matches, otherwise a specific diagnosis and a pointer
    to ``hint(name)``. Never raises, whatever ``fn`` does: it runs in a forked child process
    that is killed after ``time_limit`` seconds per call (default: the exercise's), or, where
    there is no fork, in-process under SIGALRM (see ``mfteach.exercises.sandbox``). Records the
    attempt in ``progress()``, except for an untouched stub.

    Returns
    -------
    bool
        True when ``fn`` is correct on every test case.
    """
    return check_safely(name, fn, time_limit=time_limit)


def check_safely(name: str, fn, *, time_limit: float | None = None,
                 cell: tuple[str, int] | None = None) -> bool:
    try:
        return _check(name, fn, time_limit=time_limit, cell=cell)
    except KeyboardInterrupt:
        print(f"⏹ {name}: interrupted, nothing was checked.")
    except BaseException as exc:  # check must never raise, whatever happens inside
        print(f"⚠️ {name}: the checker itself failed ({type(exc).__name__}: {exc}). "
              "This is a bug in mfteach, not in your code.")
    return False


def unknown(name) -> None:
    known = ", ".join(EXERCISES) or "(none)"
    print(f"❓ unknown exercise {name!r}. Known exercises: {known}")


def _check(name: str, fn, *, time_limit: float | None = None, cell: tuple[str, int] | None = None) -> bool:
    """``check`` without the safety net. ``cell`` = (code file of the %%check cell, line offset)."""
    exercise = EXERCISES.get(name) if isinstance(name, str) else None
    if exercise is None:
        unknown(name)
        return False
    if not callable(fn):
        records.record(name, passed=False)
        print(f"❌ {name}: expected a function, got {describe_value(fn)}. "
              f"Pass the function itself: check({name!r}, {exercise.function_name}).")
        return False

    limit = exercise.time_limit if time_limit is None else time_limit
    cases = cases_of(exercise)
    outcomes = run_cases(fn, cases, limit, cell)
    for outcome in outcomes:
        if outcome.printed:
            print(outcome.printed, end="" if outcome.printed.endswith("\n") else "\n")
    last, i = outcomes[-1], len(outcomes) - 1
    if last.status == "raised" and isinstance(last.error, NotImplementedError):
        print(f"✏️ {name}: not written yet — replace `raise NotImplementedError` with your code and run "
              "the cell again. (Not counted as an attempt.)")
        return False
    if last.status == "timeout":
        records.record(name, passed=False)
        feedback.report_timeout(exercise, last, limit, i, cases)
        return False
    if last.status in ("raised", "unsendable"):
        records.record(name, passed=False)
        if last.status == "unsendable":
            last = Outcome("raised", error=TypeError(f"your function returned {last.error}, which is not a "
                                                     "result the checker can compare"), error_type="TypeError")
        feedback.report_exception(exercise, last, i, cases, _recognised_crash(exercise, cases[i], last))
        return False

    cases, expected = expected_results(exercise)  # only now: a stub costs no reference run
    results = [outcome.value for outcome in outcomes]
    mismatches = [compare(r, e, exercise.rtol, exercise.atol) for r, e in zip(results, expected)]
    failing = [j for j, m in enumerate(mismatches) if m is not None]
    passed = not failing
    records.record(name, passed=passed)
    if passed:
        print(f"✅ {name}: correct on {len(cases)} test cases.")
        return True
    shown = 0 if 0 in failing else failing[0]
    recognised = [] if mismatches[shown].kind == "none" else _recognised_mistakes(exercise, cases, results)
    feedback.report_mismatch(exercise, mismatches[shown], shown, cases, recognised)
    return False


def _recognised_mistakes(exercise: Exercise, cases, results) -> list[str]:
    """Messages of the diagnostics whose wrong answer equals the learner's on every case."""
    messages = []
    for diagnostic in exercise.diagnostics:
        try:
            with np.errstate(all="ignore"):
                wrong = [_call(diagnostic.wrong, case) for case in cases]
        except Exception:
            continue
        if all(same(r, w, exercise.rtol, exercise.atol) for r, w in zip(results, wrong)):
            messages.append(diagnostic.message)
    return messages


def _recognised_crash(exercise: Exercise, case, outcome: Outcome) -> list[str]:
    """Messages of the diagnostics whose wrong function raises what the learner's raised on ``case``."""
    messages = []
    for diagnostic in exercise.diagnostics:
        try:
            with np.errstate(all="ignore"):
                _call(diagnostic.wrong, case)
        except Exception as exc:
            if type(exc).__name__ == outcome.error_type and str(exc) == str(outcome.error):
                messages.append(diagnostic.message)
    return messages
