"""Checked exercises: ``check``, ``hint``, ``solution``, ``progress`` and the ``%%check`` magic.

In a lesson::

    %load_ext mfteach

    %%check predict_ratings
    def predict_ratings(U, V):
        return U @ V.T

or, without the magic, ``mt.exercises.check("predict_ratings", predict_ratings)``.

``check`` runs the learner's function on a few fixed-seed test cases, compares each result
with the reference implementation below, and prints one line when everything matches or a
specific diagnosis when it does not: ``None`` returned, wrong shape or a transposed result,
wrong values shown side by side with the expected ones, a recognised typical mistake, the
line of the learner's code that raised, or a loop that never ends. It never raises.

Exercises live in one module per lesson (``mfteach/exercises/lesson00.py``, ...), imported at
the end of this file; the reference functions are also reachable here
(``mt.exercises.predict_ratings``). Adding an exercise to a lesson's module::

    @register(lesson="02_gradient_descent", title="...", cases=_my_cases, hints=["...", "..."])
    def my_function(R, U, V):
        ...                                  # the reference, written as the lesson writes it

``cases(rng)`` returns a list of test cases; each case is a tuple of positional arguments or a
dict of keyword arguments (anything else is the single argument), and the FIRST case is the
small one shown to the learner when a result is wrong. ``diagnostics=[Diagnostic(wrong_fn,
"message")]`` recognise typical mistakes: when the learner's results equal ``wrong_fn``'s on
every test case, the message is printed.

Notation (DESIGN.md section 1): R is m x n with users in rows and NaN for unknown entries,
U (m x k) and V (n x k) are the user and item factors, R_hat = U V^T, lambda is ``reg``.
"""

from __future__ import annotations

import ast
import copy
import datetime as _dt
import inspect
import itertools
import json
import linecache
import math
import os
import signal
import sysconfig
import tempfile
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd


__all__ = [
    "Exercise",
    "Diagnostic",
    "EXERCISES",
    "register",
    "check",
    "hint",
    "solution",
    "progress",
    "progress_path",
    "load_ipython_extension",
]


# ============================================================================ the registry
@dataclass(frozen=True)
class Diagnostic:
    """A recognisable mistake: ``wrong`` computes the wrong answer from the test inputs.

    If the learner's results equal ``wrong(*case)`` on every test case, ``check`` prints
    ``message``.
    """

    wrong: Callable[..., Any]
    message: str


@dataclass
class Exercise:
    """One checked exercise.

    Parameters
    ----------
    name : str
        What the learner types: ``%%check name`` or ``check("name", fn)``.
    title : str
        One line saying what to write.
    reference : callable
        The reference implementation; its source is what ``solution(name)`` prints.
    make_cases : callable
        ``make_cases(rng) -> list`` of test cases drawn from ``rng``, a
        ``np.random.default_rng(seed)``. A case is a tuple of positional arguments or a dict of
        keyword arguments. The first case is the small one shown when a result is wrong.
    hints : list of str
        Progressively more specific; ``hint(name)`` prints the next one.
    lesson : str
        The lesson notebook (without ``.ipynb``) the exercise belongs to.
    function_name : str
        The name the learner's function should have (``%%check`` looks for it).
    diagnostics : list of Diagnostic
        Typical mistakes and what to say about them.
    time_limit : float
        Seconds each call of the learner's function may take.
    rtol, atol : float
        Tolerances of the comparison with the reference (``np.allclose``).
    seed : int
        Seed of the generator passed to ``make_cases``.
    """

    name: str
    title: str
    reference: Callable[..., Any]
    make_cases: Callable[[np.random.Generator], list]
    hints: list[str] = field(default_factory=list)
    lesson: str = ""
    function_name: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    time_limit: float = 5.0
    rtol: float = 1e-6
    atol: float = 1e-8
    seed: int = 0

    def __post_init__(self):
        if not self.function_name:
            self.function_name = self.reference.__name__
        self.diagnostics = [d if isinstance(d, Diagnostic) else Diagnostic(*d) for d in self.diagnostics]

    def cases(self) -> list:
        """The test cases, always the same ones (fixed seed)."""
        return list(self.make_cases(np.random.default_rng(self.seed)))


#: name -> Exercise, in the order the lessons define them.
EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise | None = None, /, **options):
    """Add an exercise to the registry.

    Either ``register(Exercise(...))``, or as a decorator on the reference function::

        @register(lesson="00_recommenders_as_matrices", title="...", cases=make_cases,
                  hints=["...", "..."], diagnostics=[Diagnostic(wrong_fn, "message")])
        def density(R):
            ...

    The decorator's keywords are the fields of :class:`Exercise` (``cases`` is short for
    ``make_cases``; ``name`` defaults to the function's name). A name registered again
    replaces the earlier exercise. The decorated function is returned unchanged.
    """
    if exercise is not None:
        if not isinstance(exercise, Exercise):
            raise TypeError(f"register() takes an Exercise or keyword options, got {exercise!r}")
        EXERCISES[exercise.name] = exercise
        return exercise
    fields = {("make_cases" if key == "cases" else key): value for key, value in options.items()}

    def decorate(reference):
        name = fields.get("name") or reference.__name__
        EXERCISES[name] = Exercise(**{**fields, "name": name, "reference": reference})
        return reference

    return decorate


# ============================================================================ check
_NUDGE = "Need a nudge? mt.exercises.hint({name!r})"


class _TimeLimitExceeded(BaseException):
    """Raised by the SIGALRM handler inside the learner's code (BaseException: a bare
    ``except Exception`` in the learner's loop does not swallow it)."""


def check(name: str, fn: Callable[..., Any], *, time_limit: float | None = None) -> bool:
    """Run ``fn`` on the exercise's test cases and say whether it matches the reference.

    Prints one line when every result matches, otherwise a specific diagnosis and a pointer
    to ``hint(name)``. Never raises, whatever ``fn`` does (it is stopped after
    ``time_limit`` seconds per call, default the exercise's). Records the attempt in
    ``progress()``.

    Returns
    -------
    bool
        True when ``fn`` is correct on every test case.
    """
    return _check_safely(name, fn, time_limit=time_limit)


def _check_safely(name: str, fn, *, time_limit: float | None = None,
                  cell: tuple[str, int] | None = None) -> bool:
    try:
        return _check(name, fn, time_limit=time_limit, cell=cell)
    except KeyboardInterrupt:
        print(f"⏹ {name}: interrupted, nothing was checked.")
    except BaseException as exc:  # check must never raise, whatever happens inside
        print(f"⚠️ {name}: the checker itself failed ({type(exc).__name__}: {exc}). "
              "This is a bug in mfteach, not in your code.")
    return False


def _check(name: str, fn, *, time_limit: float | None = None,
           cell: tuple[str, int] | None = None) -> bool:
    """``check`` without the safety net. ``cell`` = (code file of the %%check cell, line offset)."""
    exercise = EXERCISES.get(name) if isinstance(name, str) else None
    if exercise is None:
        print(f"❓ unknown exercise {name!r}. Known exercises: {', '.join(EXERCISES) or '(none)'}")
        return False
    if not callable(fn):
        _record(name, passed=False)
        print(f"❌ {name}: expected a function, got {_describe_value(fn)}. "
              f"Pass the function itself: check({name!r}, {exercise.function_name}).")
        return False

    limit = exercise.time_limit if time_limit is None else time_limit
    cases = exercise.cases()
    expected = [_call(exercise.reference, case) for case in cases]
    results = []
    for i, case in enumerate(cases):
        try:
            results.append(_call(fn, case, time_limit=limit))
        except _TimeLimitExceeded as exc:
            _record(name, passed=False)
            _report_timeout(exercise, fn, exc, limit, i, cases, cell)
            return False
        except BaseException as exc:  # the learner's code may raise anything, even SystemExit
            _record(name, passed=False)
            _report_exception(exercise, fn, exc, i, cases, cell)
            return False

    mismatches = [_compare(r, e, exercise.rtol, exercise.atol) for r, e in zip(results, expected)]
    failing = [i for i, m in enumerate(mismatches) if m is not None]
    passed = not failing
    _record(name, passed=passed)
    if passed:
        print(f"✅ {name}: correct on {len(cases)} test cases.")
        return True
    shown = 0 if 0 in failing else failing[0]
    _report_mismatch(exercise, mismatches[shown], shown, cases, results, expected)
    return False


def _split(case) -> tuple[tuple, dict]:
    """A test case as (args, kwargs)."""
    if isinstance(case, dict):
        return (), dict(case)
    if isinstance(case, tuple):
        return case, {}
    return (case,), {}


def _call(fn, case, time_limit: float | None = None):
    """Call ``fn`` on a deep copy of ``case`` (so nothing it does can spoil the test inputs)."""
    args, kwargs = _split(copy.deepcopy(case))
    return _call_with_time_limit(fn, args, kwargs, time_limit)


def _call_with_time_limit(fn, args, kwargs, seconds: float | None):
    """``fn(*args, **kwargs)``, stopped by SIGALRM after ``seconds`` (main thread only).

    The previous SIGALRM handler and any timer already running (pytest-timeout uses one) are
    restored afterwards, even if the alarm goes off during the clean-up itself.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    if not seconds or seconds <= 0 or not main_thread or not hasattr(signal, "setitimer"):
        return fn(*args, **kwargs)

    def _on_alarm(signum, frame):
        raise _TimeLimitExceeded(seconds)

    previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    # fire after `seconds`, then every 0.5 s in case the learner's code catches the first one
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        return fn(*args, **kwargs)
    finally:
        while True:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)
                if previous_delay > 0:  # give an outer timer back what is left of it
                    remaining = max(previous_delay - (time.monotonic() - started), 1e-3)
                    signal.setitimer(signal.ITIMER_REAL, remaining, previous_interval)
                break
            except _TimeLimitExceeded:  # the alarm went off between two clean-up steps
                continue


# ---------------------------------------------------------------------------- comparing
@dataclass
class _Mismatch:
    kind: str  # "none" | "type" | "shape" | "transpose" | "values"
    text: str
    yours: Any = None
    expected: Any = None


def _compare(result, expected, rtol: float, atol: float, part: str = "") -> _Mismatch | None:
    """None when ``result`` matches ``expected``, else what is wrong (tuples compared by part)."""
    where = f" (part {part} of the result)" if part else ""
    if isinstance(expected, (tuple, list)):
        if result is None:
            return _Mismatch("none", "your function returned None — did you forget `return`?")
        if not isinstance(result, (tuple, list)) or len(result) != len(expected):
            return _Mismatch("type", f"your function returned {_describe_value(result)}{where}, "
                                     f"but the result should be a tuple of {len(expected)} values")
        for j, (r, e) in enumerate(zip(result, expected)):
            mismatch = _compare(r, e, rtol, atol, part=f"{part}{'.' if part else ''}{j + 1}")
            if mismatch is not None:
                return mismatch
        return None
    if result is None:
        return _Mismatch("none", f"your function returned None{where} — did you forget `return`?")
    exp = np.asarray(expected, dtype=float)
    try:
        if isinstance(result, (str, bytes)):
            raise TypeError
        res = np.asarray(result, dtype=float)
    except Exception:  # not numbers: None of numpy's business
        return _Mismatch("type", f"your function returned {_describe_value(result)}{where}, "
                                 f"but the result should be {_describe_expected(exp)}")
    if res.shape != exp.shape:
        if res.ndim == 2 and res.T.shape == exp.shape and np.allclose(res.T, exp, rtol=rtol, atol=atol):
            return _Mismatch("transpose", f"your result{where} is the transpose of the expected one: "
                                          f"shape {res.shape} instead of {exp.shape}", res, exp)
        if exp.ndim == 0:
            text = (f"your function returned an array of shape {res.shape}{where}, "
                    "but the result should be a single number")
            if res.size == 1:
                text += " (float(...) turns a 1-element array into a number)"
        else:
            text = f"your result{where} has shape {res.shape}, but the expected shape is {exp.shape}"
        return _Mismatch("shape", text, res, exp)
    if np.allclose(res, exp, rtol=rtol, atol=atol, equal_nan=True):
        return None
    if res.ndim == 2 and res.T.shape == exp.shape and np.allclose(res.T, exp, rtol=rtol, atol=atol):
        return _Mismatch("transpose", f"your result{where} is the transpose of the expected one "
                                      "(rows and columns swapped)", res, exp)
    if np.isnan(res).any() and not np.isnan(exp).any():
        what = "is NaN" if res.ndim == 0 else f"has NaN in {int(np.isnan(res).sum())} of {res.size} entries"
        return _Mismatch("values", f"your result{where} {what}", res, exp)
    if np.isinf(res).any() and not np.isinf(exp).any():
        what = ("is infinite" if res.ndim == 0
                else f"has inf in {int(np.isinf(res).sum())} of {res.size} entries")
        return _Mismatch("values", f"your result{where} {what} (a division by zero?)", res, exp)
    return _Mismatch("values", "wrong value" + ("s" if res.ndim else "") + where, res, exp)


def _same(a, b, rtol: float, atol: float) -> bool:
    """Whether two results agree (NaN equals NaN); a helper for the diagnostics."""
    if a is None or b is None:  # np.asarray(None, dtype=float) is NaN: never let it match
        return a is b
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same(x, y, rtol, atol) for x, y in zip(a, b)))
    try:
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))


def _recognised_mistakes(exercise: Exercise, cases, results) -> list[str]:
    """Messages of the diagnostics whose wrong answer equals the learner's on every case."""
    messages = []
    for diagnostic in exercise.diagnostics:
        try:
            with np.errstate(all="ignore"):
                wrong = [_call(diagnostic.wrong, case) for case in cases]
        except Exception:
            continue
        if all(_same(r, w, exercise.rtol, exercise.atol) for r, w in zip(results, wrong)):
            messages.append(diagnostic.message)
    return messages


# ---------------------------------------------------------------------------- reporting
def _report_mismatch(exercise: Exercise, mismatch: _Mismatch, shown: int, cases, results, expected):
    name = exercise.name
    print(f"❌ {name}: {_sentence(mismatch.text)}")
    for message in _recognised_mistakes(exercise, cases, results)[:1]:
        print(_indent("💡 " + message))
    label = " (the small one)" if shown == 0 else " (the small case 1 is right, this one is not)"
    if mismatch.kind in ("none", "type"):
        described = _describe_case(exercise, cases[shown])
        print(_indent(f"Test case {shown + 1} of {len(cases)}{label}: {described}."))
    else:
        print(_indent(f"Test case {shown + 1} of {len(cases)}{label}:"))
        block = [_format_assignment(arg, value) for arg, value in _bind(exercise, cases[shown]).items()]
        yours, exp = mismatch.yours, mismatch.expected
        precision = _precision_to_show(yours, exp)
        block.append(_side_by_side("your result", _format(yours, precision),
                                   "expected", _format(exp, precision)))
        if mismatch.kind == "values":
            block.append(_where_they_differ(yours, exp, exercise.rtol, exercise.atol))
        print(_indent("\n".join(b for b in block if b), 5))
    print(_NUDGE.format(name=name))


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _report_exception(exercise: Exercise, fn, exc: BaseException, i: int, cases, cell):
    name = exercise.name
    location = _learner_line(exc.__traceback__, fn, cell)
    if isinstance(exc, KeyboardInterrupt):
        print(f"⏹ {name}: interrupted while your function was running (test case {i + 1} of {len(cases)}).")
    else:
        print(f"❌ {name}: your function raised {type(exc).__name__}: {str(exc).strip()}")
    if location:
        print(_indent(location))
    print(_indent(f"Test case {i + 1} of {len(cases)}: {_describe_case(exercise, cases[i])}."))
    explanation = _explain_exception(exercise, exc, location is not None)
    if explanation:
        print(_indent("💡 " + explanation))
    print(_NUDGE.format(name=name))


def _report_timeout(exercise: Exercise, fn, exc: BaseException, limit: float, i: int, cases, cell):
    name = exercise.name
    print(f"❌ {name}: stopped after {limit:g} s: does your loop end? "
          f"(test case {i + 1} of {len(cases)}: {_describe_case(exercise, cases[i])})")
    location = _learner_line(exc.__traceback__, fn, cell)
    if location:
        print(_indent("It was busy at " + location))
    print(_NUDGE.format(name=name))


def _explain_exception(exercise: Exercise, exc: BaseException, raised_in_your_code: bool) -> str:
    """A plain-words reading of a few common errors."""
    text = str(exc)
    if isinstance(exc, TypeError) and not raised_in_your_code:
        signature = inspect.signature(exercise.reference)
        return f"the checker calls your function as {exercise.function_name}{signature}."
    if "could not be broadcast" in text:
        return ("`*`, `+` and `-` work entry by entry and need matching shapes; "
                "the matrix product is `@`.")
    if "matmul" in text and "mismatch" in text:
        return ("for A @ B the number of columns of A must equal the number of rows of B: "
                "check which factor needs a `.T`.")
    if isinstance(exc, NameError):
        return ("a name is used before it is defined: a typo, or a missing import "
                "such as `import numpy as np`?")
    if isinstance(exc, IndexError):
        return "an index is out of range: Python counts rows 0 .. m-1 and columns 0 .. n-1 (off by one?)."
    if isinstance(exc, SystemExit):
        return "your function called exit(); return the result instead."
    return ""


_LIBRARY_DIRS = tuple({p for key in ("stdlib", "platstdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(key))})


def _learner_line(tb, fn, cell: tuple[str, int] | None) -> str | None:
    """'line N of your cell: <source>' for the last traceback frame in the learner's code."""
    code = getattr(inspect.unwrap(fn) if inspect.isfunction(fn) else fn, "__code__", None)
    learner_files = {code.co_filename} if code is not None else set()
    found = fallback = None
    while tb is not None:
        frame_code = tb.tb_frame.f_code
        filename = frame_code.co_filename
        entry = (filename, tb.tb_lineno, tb.tb_frame.f_globals)
        if frame_code is code or filename in learner_files:
            found = entry
        elif filename != __file__ and not filename.startswith(_LIBRARY_DIRS + ("<frozen",)):
            fallback = entry
        tb = tb.tb_next
    entry = found or fallback
    if entry is None:
        return None
    filename, lineno, globals_ = entry
    source = linecache.getline(filename, lineno, globals_).strip()
    if cell is not None and filename == cell[0]:
        where = f"line {lineno + cell[1]} of your cell"
    elif os.path.isfile(filename) and "ipykernel_" not in filename:
        where = f"line {lineno} of {os.path.basename(filename)}"
    else:
        where = f"line {lineno} of your cell"
    return f"{where}: {source}" if source else where


# ---------------------------------------------------------------------------- formatting
def _indent(text: str, spaces: int = 3) -> str:
    return textwrap.indent(text, " " * spaces)


def _describe_value(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"a {type(value).__name__} ({text})"


def _describe_expected(exp: np.ndarray) -> str:
    return "a single number" if exp.ndim == 0 else f"a numpy array of shape {exp.shape}"


def _bind(exercise: Exercise, case) -> dict[str, Any]:
    """The case's arguments by the reference's parameter names."""
    args, kwargs = _split(case)
    try:
        return dict(inspect.signature(exercise.reference).bind(*args, **kwargs).arguments)
    except TypeError:
        return {**{f"arg{j + 1}": a for j, a in enumerate(args)}, **kwargs}


def _describe_case(exercise: Exercise, case) -> str:
    parts = []
    for arg, value in _bind(exercise, case).items():
        if isinstance(value, np.ndarray):
            parts.append(f"{arg} of shape {value.shape}")
        else:
            shown = _describe_value(value) if isinstance(value, (tuple, list, dict)) else repr(value)
            parts.append(f"{arg} = {shown}")
    return ", ".join(parts)


def _format(value, precision: int = 3) -> str:
    """numpy's printing, compact, ``precision`` decimals."""
    if isinstance(value, np.ndarray) or isinstance(value, (int, float, np.number)):
        with np.printoptions(precision=precision, suppress=True, threshold=60, edgeitems=3,
                             linewidth=60, floatmode="maxprec"):
            return np.array2string(np.asarray(value))
    return repr(value)


def _format_assignment(name: str, value) -> str:
    text = _format(value)
    if "\n" in text:
        return f"{name} =\n" + _indent(text, 2)
    return f"{name} = {text}"


def _precision_to_show(yours, expected) -> int:
    """3 decimals, more when the difference would not show with 3."""
    try:
        a, b = np.asarray(yours, dtype=float), np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return 3
    if a.shape != b.shape:
        return 3
    gap = np.abs(a - b)
    gap = gap[np.isfinite(gap) & (gap > 0)]
    if gap.size == 0 or gap.max() >= 1e-3:
        return 3
    return min(10, int(math.ceil(-math.log10(gap.max()))) + 1)


def _side_by_side(left_title: str, left: str, right_title: str, right: str, gap: int = 5,
                  max_width: int = 110) -> str:
    left_lines, right_lines = left.splitlines(), right.splitlines()
    width = max(len(left_title), *(len(s) for s in left_lines))
    right_width = max(len(right_title), *(len(s) for s in right_lines))
    if width + gap + right_width > max_width:  # too wide: one below the other
        return f"{left_title}:\n{left}\n{right_title}:\n{right}"
    rows = [left_title.ljust(width) + " " * gap + right_title]
    for a, b in itertools.zip_longest(left_lines, right_lines, fillvalue=""):
        rows.append(a.ljust(width) + " " * gap + b)
    return "\n".join(rows)


def _where_they_differ(yours: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    """How many entries differ, the largest difference and where, and the first difference."""
    with np.errstate(invalid="ignore"):
        differs = ~np.isclose(yours, expected, rtol=rtol, atol=atol, equal_nan=True)
        gap = np.abs(yours - expected)
    if yours.ndim == 0:
        return "" if np.isnan(gap) else f"difference: {_number(float(gap))}"
    parts = [f"{int(differs.sum())} of {differs.size} entries differ"]
    measurable = differs & ~np.isnan(gap)
    if measurable.any():
        worst = np.unravel_index(np.argmax(np.where(measurable, gap, -np.inf)), gap.shape)
        parts.append(f"max |difference| = {_number(float(gap[worst]))} at index {_index(worst)}")
    parts.append(f"first difference at index {_index(np.argwhere(differs)[0])}")
    return "; ".join(parts)


def _index(index) -> tuple[int, ...]:
    return tuple(int(j) for j in index)


def _number(x: float) -> str:
    return f"{x:.3g}"


# ============================================================================ hints, solutions
_HINTS_GIVEN: dict[str, int] = {}


def _known(name) -> Exercise | None:
    exercise = EXERCISES.get(name) if isinstance(name, str) else None
    if exercise is None:
        print(f"❓ unknown exercise {name!r}. Known exercises: {', '.join(EXERCISES) or '(none)'}")
    return exercise


def hint(name: str) -> None:
    """Print the next hint for exercise ``name`` (after the last one, start again)."""
    exercise = _known(name)
    if exercise is None:
        return
    if not exercise.hints:
        print(f"💡 {name}: no hints for this one; mt.exercises.solution({name!r}) shows the reference.")
        return
    given = _HINTS_GIVEN.get(name, 0)
    _HINTS_GIVEN[name] = given + 1
    j = given % len(exercise.hints)
    print(f"💡 Hint {j + 1} of {len(exercise.hints)} for {name}: {exercise.hints[j]}")
    if j + 1 == len(exercise.hints):
        print(f"   (That was the last hint; mt.exercises.solution({name!r}) shows the reference.)")


def solution(name: str) -> None:
    """Print the source of the reference implementation of exercise ``name``."""
    exercise = _known(name)
    if exercise is None:
        return
    source = _source_of(exercise.reference)
    header = f"Reference solution for {name}: {exercise.title}"
    if exercise.lesson:
        header += f" (lesson {exercise.lesson})"
    print(f"{header}\n{'-' * min(len(header), 80)}\n{source.rstrip()}")


def _source_of(fn) -> str:
    """The source of ``fn`` from its ``def`` line on (without the ``@register(...)`` above it)."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return f"(the source of {fn!r} is not available)"
    try:
        node = ast.parse(source).body[0]
    except (SyntaxError, IndexError):
        return source
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
        source = "\n".join(source.splitlines()[node.lineno - 1:]) + "\n"
    return source


# ============================================================================ progress
_WARNED_ABOUT_PROGRESS = False
_SESSION_PROGRESS: dict[str, dict] = {}  # what this session recorded, in case the file cannot be used


def progress_path() -> Path:
    """``$MFTEACH_HOME/progress.json`` (default ``~/.mfteach/progress.json``)."""
    home = os.environ.get("MFTEACH_HOME") or os.path.join(os.path.expanduser("~"), ".mfteach")
    return Path(home) / "progress.json"


def _warn_once(message: str) -> None:
    global _WARNED_ABOUT_PROGRESS
    if not _WARNED_ABOUT_PROGRESS:
        _WARNED_ABOUT_PROGRESS = True
        warnings.warn(message + " Progress is kept for this session only.", RuntimeWarning, stacklevel=4)


def _read_progress(path: Path) -> dict[str, dict]:
    """The stored record, name -> {"attempts", "passed", ...}; {} when absent or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        _warn_once(f"mfteach cannot read {path} ({exc}).")
        return dict(_SESSION_PROGRESS)
    try:
        data = json.loads(text)
        entries = data["exercises"]
        if not isinstance(entries, dict):
            raise TypeError("'exercises' is not an object")
        return {str(k): {"attempts": int(v.get("attempts", 0)), "passed": bool(v.get("passed", False)),
                         **{key: v[key] for key in v if key not in ("attempts", "passed")}}
                for k, v in entries.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        _warn_once(f"mfteach's progress file {path} is corrupt ({type(exc).__name__}: {exc}); "
                   "it will be replaced.")
        return dict(_SESSION_PROGRESS)


def _write_progress(path: Path, entries: dict[str, dict]) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "exercises": entries}, f, indent=1, sort_keys=True, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _record(name: str, passed: bool) -> None:
    """Count one attempt at ``name`` (and a pass); never raises."""
    try:
        path = progress_path()
        entries = _read_progress(path)
        entry = entries.setdefault(name, {"attempts": 0, "passed": False})
        entry["attempts"] = int(entry.get("attempts", 0)) + 1
        entry["passed"] = bool(entry.get("passed", False)) or passed
        entry["last_attempt"] = _dt.datetime.now().isoformat(timespec="seconds")
        _SESSION_PROGRESS.clear()
        _SESSION_PROGRESS.update(copy.deepcopy(entries))
        try:
            _write_progress(path, entries)
        except OSError as exc:
            _warn_once(f"mfteach cannot write {path} ({exc}).")
    except Exception as exc:  # progress is a convenience; it must never break check()
        _warn_once(f"mfteach could not record progress ({type(exc).__name__}: {exc}).")


def progress() -> pd.DataFrame:
    """All exercises with ``exercise``, ``lesson``, ``passed`` and ``attempts``.

    Prints a one-line summary; the returned frame is what a notebook cell displays.
    """
    try:
        entries = _read_progress(progress_path())
    except Exception:
        entries = dict(_SESSION_PROGRESS)
    rows = [{"exercise": name, "lesson": ex.lesson,
             "passed": bool(entries.get(name, {}).get("passed", False)),
             "attempts": int(entries.get(name, {}).get("attempts", 0))}
            for name, ex in EXERCISES.items()]
    frame = pd.DataFrame(rows, columns=["exercise", "lesson", "passed", "attempts"])
    frame = frame.astype({"passed": bool, "attempts": "int64"})
    print(f"{int(frame['passed'].sum())} of {len(frame)} exercises passed.")
    return frame


# ============================================================================ the %%check magic
def load_ipython_extension(ipython) -> None:
    """Register the ``%%check NAME`` cell magic (``%load_ext mfteach`` calls this)."""

    def check_magic(line: str, cell: str) -> None:
        try:
            _check_cell(ipython, line.strip(), cell)
        except KeyboardInterrupt:
            print("⏹ interrupted, nothing was checked.")
        except BaseException as exc:  # the magic must never raise
            print(f"⚠️ %%check itself failed ({type(exc).__name__}: {exc}). This is a bug in mfteach.")

    check_magic.__doc__ = (
        "%%check NAME: run the cell, then check the function it defines against exercise NAME.\n\n"
        "Known exercises: " + ", ".join(EXERCISES))
    ipython.register_magic_function(check_magic, magic_kind="cell", magic_name="check")


def _check_cell(ipython, name: str, cell: str) -> None:
    if not name:
        print(f"Usage: %%check NAME on the first line of a cell that defines the function. "
              f"Known exercises: {', '.join(EXERCISES)}")
    result = ipython.run_cell(cell)
    label = name or "%%check"
    if result.error_before_exec is not None:
        lineno = getattr(result.error_before_exec, "lineno", None)
        where = f" in line {lineno + 1}" if isinstance(lineno, int) else ""  # + 1: the %%check line
        print(f"❌ {label}: the cell has a syntax error{where} (shown above), so nothing was checked. "
              "Fix it and run the cell again.")
        return
    if result.error_in_exec is not None:
        error = result.error_in_exec
        print(f"❌ {label}: running the cell raised {type(error).__name__} (shown above), "
              "so nothing was checked.")
        return
    if not name:
        return
    exercise = EXERCISES.get(name)
    if exercise is None:
        _check(name, None)  # prints the known names
        return
    defined = _functions_defined(ipython, cell)
    namespace = ipython.user_ns
    candidates = [n for n in defined if callable(namespace.get(n))]
    if exercise.function_name in candidates:
        fn_name = exercise.function_name
    elif candidates:
        fn_name = candidates[-1]
        print(f"(checking `{fn_name}`, the last function this cell defines; "
              f"the exercise calls it `{exercise.function_name}`)")
    elif callable(namespace.get(exercise.function_name)):
        fn_name = exercise.function_name
    else:
        print(f"❌ {name}: this cell defines no function. Write `def {exercise.function_name}"
              f"{inspect.signature(exercise.reference)}:` and return the result.")
        return
    fn = namespace[fn_name]
    code = getattr(fn, "__code__", None)
    cell_info = (code.co_filename, 1) if code is not None and fn_name in defined else None
    _check_safely(name, fn, cell=cell_info)


def _functions_defined(ipython, cell: str) -> list[str]:
    """Names the cell binds to a function at top level (``def`` or ``name = lambda``), in order."""
    try:
        tree = ast.parse(ipython.transform_cell(cell))
    except Exception:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return names




# ============================================================================ the lessons' exercises
# Imported last: each module registers its exercises with ``register`` defined above.
from .lesson00 import density, predict_ratings, regularized_loss  # noqa: E402
from .lesson01 import propagate_rank1  # noqa: E402
from .lesson02 import full_gradient  # noqa: E402
from .lesson03 import user_update  # noqa: E402
from .lesson04 import predict_biased  # noqa: E402
from .lesson05 import weighted_user_update  # noqa: E402
from .lesson06 import influence_matrix_of_user  # noqa: E402
from .lesson07 import infl_of_user_rating  # noqa: E402
from .lesson08 import rating_hessian  # noqa: E402
