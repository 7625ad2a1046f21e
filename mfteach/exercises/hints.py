"""``hint(name)`` and ``solution(name)``: help that the learner asks for, counted in ``progress()``."""

from __future__ import annotations

import ast
import inspect
import textwrap

from . import records
from .registry import EXERCISES, QUESTIONS, Exercise

__all__ = ["hint", "solution", "source_of"]


def _known(name) -> Exercise | None:
    exercise = EXERCISES.get(name) if isinstance(name, str) else None
    if exercise is None:
        if isinstance(name, str) and name in QUESTIONS:
            print(f"❓ {name!r} is a question, not a coding exercise: answer it in its widget, or with "
                  f"mt.exercises.answer({name!r}, ...); its explanation is there after a try.")
        else:
            print(f"❓ unknown exercise {name!r}. Known exercises: {', '.join(EXERCISES) or '(none)'}")
    return exercise


def hint(name: str, number: int | None = None) -> None:
    """Print the next hint for exercise ``name`` (or hint ``number``, 1-based, to read one again).

    Hints go from a nudge to the specific step; after the last one ``hint`` says so and shows
    the last again (it never starts over silently). Each new hint is counted in ``progress()``.
    """
    exercise = _known(name)
    if exercise is None:
        return
    hints = exercise.hints
    if not hints:
        print(f"💡 {name}: no hints for this one; mt.exercises.solution({name!r}) shows the reference.")
        return
    if number is not None:
        seen = records.entry(name).get("hints", 0)
        if not isinstance(number, int) or not 1 <= number <= min(max(seen, 1), len(hints)):
            print(f"💡 {name}: you have seen {min(seen, len(hints))} of {len(hints)} hints; "
                  f"hint({name!r}) gives the next, hint({name!r}, j) repeats hint j of those.")
            return
        print(f"💡 Hint {number} of {len(hints)} for {name}: {hints[number - 1]}")
        return
    seen = records.entry(name).get("hints", 0)
    if seen >= len(hints):
        print(f"💡 {name}: that was all {len(hints)} hints. The last one again: {hints[-1]}\n"
              f"   mt.exercises.solution({name!r}) shows the reference.")
        return
    j = records.record_hint(name)
    j = min(j, len(hints) - 1)
    print(f"💡 Hint {j + 1} of {len(hints)} for {name}: {hints[j]}")
    if j + 1 == len(hints):
        print(f"   (That was the last hint; mt.exercises.solution({name!r}) shows the reference.)")


def solution(name: str) -> None:
    """Print the source of the reference implementation of exercise ``name`` (noted in progress)."""
    exercise = _known(name)
    if exercise is None:
        return
    records.record_solution(name)
    source = source_of(exercise.reference)
    header = f"Reference solution for {name}: {exercise.title}"
    if exercise.lesson:
        header += f" (lesson {exercise.lesson})"
    print(f"{header}\n{'-' * min(len(header), 80)}\n{source.rstrip()}")


def source_of(fn) -> str:
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
