"""What the learner reads: reports of a failed check, and the formatting behind them.

Every report starts with one headline (❌ name: what is wrong), then the test case, the
learner's result next to the expected one, a recognised mistake when there is one (💡), and the
pointer to ``hint(name)``. ``learner_line`` finds the line of the learner's own code in a
traceback or a running frame, numbered as the notebook numbers the cell's lines.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
import math
import os
import re
import sysconfig
import textwrap
from typing import Any

import numpy as np

from .compare import Mismatch, describe_value

NUDGE = "Need a nudge? mt.exercises.hint({name!r})"


def split_case(case) -> tuple[tuple, dict]:
    """A test case as (args, kwargs): a dict is keywords, a tuple positional, anything else one argument."""
    if isinstance(case, dict):
        return (), dict(case)
    if isinstance(case, tuple):
        return case, {}
    return (case,), {}


# ---------------------------------------------------------------------------- reports
def report_mismatch(exercise, mismatch: Mismatch, shown: int, cases, recognised: list[str]) -> None:
    name = exercise.name
    print(f"❌ {name}: {sentence(mismatch.text)}")
    for message in recognised[:1]:
        print(indent("💡 " + message))
    label = " (the small one)" if shown == 0 else " (the small case 1 is right, this one is not)"
    if mismatch.kind in ("none", "type"):
        described = describe_case(exercise, cases[shown])
        print(indent(f"Test case {shown + 1} of {len(cases)}{label}: {described}."))
    else:
        print(indent(f"Test case {shown + 1} of {len(cases)}{label}:"))
        block = [_format_assignment(arg, value) for arg, value in _bind(exercise, cases[shown]).items()]
        yours, exp = mismatch.yours, mismatch.expected
        precision = _precision_to_show(yours, exp)
        block.append(_side_by_side("your result", _format(yours, precision),
                                   "expected", _format(exp, precision)))
        if mismatch.kind == "values":
            block.append(_where_they_differ(yours, exp, exercise.rtol, exercise.atol))
        print(indent("\n".join(b for b in block if b), 5))
    print(NUDGE.format(name=name))


def sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def report_exception(exercise, outcome, i: int, cases, recognised: list[str]) -> None:
    """The learner's function raised ``outcome.error`` on case ``i``."""
    name, exc = exercise.name, outcome.error
    if isinstance(exc, KeyboardInterrupt):
        print(f"⏹ {name}: interrupted while your function was running (test case {i + 1} of {len(cases)}).")
    else:
        print(f"❌ {name}: your function raised {outcome.error_type or type(exc).__name__}: {str(exc).strip()}")
    if outcome.location:
        print(indent(outcome.location))
    print(indent(f"Test case {i + 1} of {len(cases)}: {describe_case(exercise, cases[i])}."))
    explanation = recognised[0] if recognised else explain_exception(exercise, exc, outcome.location is not None)
    if explanation:
        print(indent("💡 " + explanation))
    print(NUDGE.format(name=name))


def report_timeout(exercise, outcome, limit: float, i: int, cases) -> None:
    name = exercise.name
    print(f"❌ {name}: stopped after {limit:g} s: does your loop end? "
          f"(test case {i + 1} of {len(cases)}: {describe_case(exercise, cases[i])})")
    if outcome.location:
        print(indent("It was busy at " + outcome.location))
    print(NUDGE.format(name=name))


_BROADCAST = re.compile(r"shapes \(([\d, ]*)\) \(([\d, ]*)\)")
_CORE_SIZES = re.compile(r"size (\d+) is different from (\d+)")


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.replace(" ", "").split(",") if x)


def explain_exception(exercise, exc: BaseException, raised_in_your_code: bool) -> str:
    """A plain-words reading of a few common errors."""
    text = str(exc)
    if isinstance(exc, TypeError) and not raised_in_your_code:
        signature = inspect.signature(exercise.reference)
        return f"the checker calls your function as {exercise.function_name}{signature}."
    if "could not be broadcast" in text:
        shapes = _BROADCAST.search(text)
        if shapes:
            a, b = _shape(shapes.group(1)), _shape(shapes.group(2))
            vector, matrix = (a, b) if len(a) == 1 else (b, a)
            if len(vector) == 1 and len(matrix) == 2 and vector[0] == matrix[0] != matrix[1]:
                return (f"a vector of length {vector[0]} times a matrix of shape {matrix}: numpy lines up the "
                        "LAST axes, so the vector meets the columns. To weight each ROW by one number, give "
                        "the vector a column axis: `w[:, None] * M` (shape (n, 1) against (n, k)).")
        return ("`*`, `+` and `-` work entry by entry and need shapes that broadcast: print the shapes of "
                "both sides. (The matrix product is `@`.)")
    if ("matmul" in text and "mismatch" in text) or "not aligned" in text:
        sizes = _CORE_SIZES.search(text)
        detail = f" (here {sizes.group(2)} against {sizes.group(1)})" if sizes else ""
        return ("in A @ B the number of columns of A must equal the number of rows of B" + detail +
                ": print both shapes. A `.T` too many or too few, or a matrix with the wrong rows "
                "(all of it where only some rows were meant)?")
    if isinstance(exc, NameError):
        return ("a name is used before it is defined: a typo, or a missing import "
                "such as `import numpy as np`?")
    if isinstance(exc, IndexError):
        return "an index is out of range: Python counts rows 0 .. m-1 and columns 0 .. n-1 (off by one?)."
    if isinstance(exc, SystemExit):
        return "your function called exit() or ended its process; return the result instead."
    return ""


# ---------------------------------------------------------------------------- the learner's line
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple({p for key in ("stdlib", "platstdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(key))})


def _learner_code(fn):
    return getattr(inspect.unwrap(fn) if inspect.isfunction(fn) else fn, "__code__", None)


def _pick(entries, fn, cell):
    """The last entry in the learner's function's file (or cell), else the last outside libraries and mfteach."""
    code = _learner_code(fn)
    if code is not None and os.path.abspath(code.co_filename).startswith(_PACKAGE_DIR):
        code = None  # a wrapper of ours around the learner's cell
    learner_files = {code.co_filename} if code is not None else set()
    if cell is not None:
        learner_files.add(cell[0])
    found = fallback = None
    for frame_code, lineno, globals_ in entries:
        filename = frame_code.co_filename
        if frame_code is code or filename in learner_files:
            found = (filename, lineno, globals_)
        elif (not os.path.abspath(filename).startswith(_PACKAGE_DIR)
              and not filename.startswith(_LIBRARY_DIRS + ("<frozen",))):
            fallback = (filename, lineno, globals_)
    return found or fallback


def _where(entry, cell) -> str | None:
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


def learner_line(tb, fn, cell: tuple[str, int] | None) -> str | None:
    """'line N of your cell: <source>' for the last traceback frame in the learner's code."""
    entries = []
    while tb is not None:
        entries.append((tb.tb_frame.f_code, tb.tb_lineno, tb.tb_frame.f_globals))
        tb = tb.tb_next
    return _where(_pick(entries, fn, cell), cell)


def learner_line_of_frame(frame, fn, cell: tuple[str, int] | None) -> str | None:
    """The same for a running frame (where a stopped loop was busy)."""
    entries = []
    while frame is not None:
        entries.append((frame.f_code, frame.f_lineno, frame.f_globals))
        frame = frame.f_back
    return _where(_pick(entries[::-1], fn, cell), cell)


# ---------------------------------------------------------------------------- formatting
def indent(text: str, spaces: int = 3) -> str:
    return textwrap.indent(text, " " * spaces)


def _bind(exercise, case) -> dict[str, Any]:
    """The case's arguments by the reference's parameter names."""
    args, kwargs = split_case(case)
    try:
        return dict(inspect.signature(exercise.reference).bind(*args, **kwargs).arguments)
    except TypeError:
        return {**{f"arg{j + 1}": a for j, a in enumerate(args)}, **kwargs}


def describe_case(exercise, case) -> str:
    parts = []
    for arg, value in _bind(exercise, case).items():
        if isinstance(value, np.ndarray):
            parts.append(f"{arg} of shape {value.shape}")
        else:
            shown = describe_value(value) if isinstance(value, (tuple, list, dict)) else repr(value)
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
        return f"{name} =\n" + indent(text, 2)
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

