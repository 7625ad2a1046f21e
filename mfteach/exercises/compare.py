"""Comparing the learner's result with the reference: what exactly is different.

``compare(result, expected)`` returns None when they agree (``np.allclose``, NaN equal to NaN,
tuples part by part) and otherwise a :class:`Mismatch` naming the problem: nothing returned, a
value that is not a real number (a string, an object array, a complex number: numpy would cast
the imaginary part away without a word), the wrong shape, a transposed result, NaN or inf where
numbers belong, or plainly wrong values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Mismatch", "compare", "same", "as_real_array", "describe_value", "describe_expected"]


@dataclass
class Mismatch:
    kind: str  # "none" | "type" | "shape" | "transpose" | "values"
    text: str
    yours: Any = None
    expected: Any = None


def describe_value(value) -> str:
    """A few words for any value: 'None', 'an array of shape (2, 3)', 'a str ('abc')'."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}" + ("" if value.dtype.kind in "biuf" else f" and dtype {value.dtype}")
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"a {type(value).__name__} ({text})"


def describe_expected(exp: np.ndarray) -> str:
    return "a single number" if exp.ndim == 0 else f"a numpy array of shape {exp.shape}"


def as_real_array(value) -> tuple[np.ndarray | None, str]:
    """``(array of float, "")`` for real numbers (bool and int too), else ``(None, why not)``.

    ``np.asarray(x, dtype=float)`` is not used directly: it drops imaginary parts with only a
    warning and turns strings like "1.5" into numbers.
    """
    if value is None:
        return None, "None"
    if isinstance(value, (str, bytes)):
        return None, "text"
    try:
        raw = np.asarray(value)
    except Exception:  # ragged lists and other things numpy cannot hold
        return None, "not an array of numbers"
    kind = raw.dtype.kind
    if kind == "c":
        if np.iscomplexobj(raw) and np.any(np.imag(raw) != 0):
            return None, "complex (it has an imaginary part)"
        return None, "complex (a complex dtype; return real numbers)"
    if kind in "biuf":
        return raw.astype(float), ""
    if kind == "O":
        try:
            items = [x for x in raw.ravel()]
            if all(isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating)) for x in items):
                return raw.astype(float), ""
        except Exception:
            pass
        return None, "an array of Python objects, not numbers"
    return None, f"not numbers (dtype {raw.dtype})"


def compare(result, expected, rtol: float, atol: float, part: str = "") -> Mismatch | None:
    """None when ``result`` matches ``expected``, else what is wrong (tuples compared by part)."""
    where = f" (part {part} of the result)" if part else ""
    if isinstance(expected, (tuple, list)):
        if result is None:
            return Mismatch("none", "your function returned None — did you forget `return`?")
        if not isinstance(result, (tuple, list)) or len(result) != len(expected):
            return Mismatch("type", f"your function returned {describe_value(result)}{where}, "
                                    f"but the result should be a tuple of {len(expected)} values")
        for j, (r, e) in enumerate(zip(result, expected)):
            mismatch = compare(r, e, rtol, atol, part=f"{part}{'.' if part else ''}{j + 1}")
            if mismatch is not None:
                return mismatch
        return None
    if result is None:
        return Mismatch("none", f"your function returned None{where} — did you forget `return`?")
    exp = np.asarray(expected, dtype=float)
    res, why = as_real_array(result)
    if res is None:
        return Mismatch("type", f"your function returned {describe_value(result)}{where}, which is {why}; "
                                f"the result should be {describe_expected(exp)} of real numbers")
    if res.shape != exp.shape:
        if res.ndim == 2 and res.T.shape == exp.shape and np.allclose(res.T, exp, rtol=rtol, atol=atol):
            return Mismatch("transpose", f"your result{where} is the transpose of the expected one: "
                                         f"shape {res.shape} instead of {exp.shape}", res, exp)
        if exp.ndim == 0:
            text = (f"your function returned an array of shape {res.shape}{where}, "
                    "but the result should be a single number")
            if res.size == 1:
                text += " (float(...) turns a 1-element array into a number)"
        else:
            text = f"your result{where} has shape {res.shape}, but the expected shape is {exp.shape}"
        return Mismatch("shape", text, res, exp)
    if np.allclose(res, exp, rtol=rtol, atol=atol, equal_nan=True):
        return None
    if res.ndim == 2 and res.T.shape == exp.shape and np.allclose(res.T, exp, rtol=rtol, atol=atol):
        return Mismatch("transpose", f"your result{where} is the transpose of the expected one "
                                     "(rows and columns swapped)", res, exp)
    if np.isnan(res).any() and not np.isnan(exp).any():
        what = "is NaN" if res.ndim == 0 else f"has NaN in {int(np.isnan(res).sum())} of {res.size} entries"
        return Mismatch("values", f"your result{where} {what}", res, exp)
    if np.isinf(res).any() and not np.isinf(exp).any():
        what = ("is infinite" if res.ndim == 0
                else f"has inf in {int(np.isinf(res).sum())} of {res.size} entries")
        return Mismatch("values", f"your result{where} {what} (a division by zero?)", res, exp)
    return Mismatch("values", "wrong value" + ("s" if res.ndim else "") + where, res, exp)


def same(a, b, rtol: float, atol: float) -> bool:
    """Whether two results agree (NaN equals NaN); used to recognise a diagnosed mistake."""
    if a is None or b is None:  # np.asarray(None, dtype=float) is NaN: never let it match
        return a is b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y, rtol, atol) for x, y in zip(a, b))
    # One side a sequence, the other not: a learner's list of numbers and an array of the same
    # numbers agree (compare() reads them alike); a sequence of parts never equals one array.
    x, _ = as_real_array(a)
    y, _ = as_real_array(b)
    if x is None or y is None:
        return False
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
