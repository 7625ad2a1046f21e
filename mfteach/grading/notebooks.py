"""Reading a submitted notebook: its cells, its ``%%check`` cells, its answer lines, and which lesson it is.

A notebook's lesson is recognised by what it contains, whatever its file name: each ``%%check NAME``
cell votes for the lesson that registers exercise NAME, each ``quiz("NN_slug")`` call for that
lesson, each ``answer("question", ...)`` line for the question's lesson. The lesson with the most
votes wins; a notebook with no vote, or a tie between lessons, is not recognised (its row says
why). Nothing here runs the notebook's code: cells are read as text and parsed with ``ast``.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..exercises.registry import EXERCISES, QUESTIONS

__all__ = ["NotebookError", "read_notebook", "code_cells", "source_of", "check_name", "exercise_cells",
           "quiz_lessons", "answer_lines", "Answer", "recognise", "shipped_lessons", "lesson_items",
           "python_of", "defined_functions"]

_CHECK = re.compile(r"^%%check[ \t]+(\S+)")
_QUIZ = re.compile(r"""\bquiz\(\s*["']([^"']+)["']""")


class NotebookError(ValueError):
    """The file is not a notebook this grader can read."""


def read_notebook(path) -> dict:
    """The notebook as a dict; :class:`NotebookError` saying why when the file is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text") from None
    except OSError as exc:
        raise NotebookError(f"cannot read the file ({exc.strerror or exc})") from None
    if not text.strip():
        raise NotebookError("not a notebook: the file is empty")
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a notebook: invalid JSON ({exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("not a notebook: the JSON has no list of cells")
    if not all(isinstance(c, dict) and "cell_type" in c for c in nb["cells"]):
        raise NotebookError("not a notebook: a cell has no cell_type")
    return nb


def source_of(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(nb: dict) -> list[tuple[int, str]]:
    """(index, source) of every code cell, in order."""
    return [(i, source_of(c)) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"]


def check_name(source: str) -> str | None:
    """NAME of a ``%%check NAME`` cell, else None."""
    match = _CHECK.match(source.lstrip("\ufeff"))
    return match.group(1) if match else None


@lru_cache(maxsize=4096)
def python_of(source: str) -> str | None:
    """The cell as plain Python (IPython's ``%magics`` and ``!shell`` lines rewritten), None if unreadable."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return None


def _parse(source: str) -> ast.Module | None:
    python = python_of(source)
    if python is None:
        return None
    try:
        return ast.parse(python)
    except (SyntaxError, ValueError):
        return None


def defined_functions(source: str) -> list[str]:
    """Names a cell binds to a function at top level (``def`` or ``name = lambda``), in order;
    the same rule as the ``%%check`` magic's."""
    tree = _parse(source)
    names = []
    for node in tree.body if tree else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def exercise_cells(nb: dict, names) -> dict[str, tuple[int, str]]:
    """For each exercise name: (cell index, source) of the learner's cell for it.

    The last ``%%check NAME`` cell counts (a learner who copied the cell to try again meant the
    later one); without one, the last cell that defines the exercise's function at top level.
    """
    found: dict[str, tuple[int, str]] = {}
    cells = code_cells(nb)
    for index, source in cells:
        name = check_name(source)
        if name in names:
            found[name] = (index, source)
    for name in names:
        if name in found or name not in EXERCISES:
            continue
        function = EXERCISES[name].function_name
        for index, source in cells:
            if check_name(source) is None and function in defined_functions(source):
                found[name] = (index, source)
    return found


def quiz_lessons(nb: dict) -> list[str]:
    """The lesson names given to ``quiz(...)`` calls, in order."""
    return [m.group(1) for _, source in code_cells(nb) for m in _QUIZ.finditer(source)]


@dataclass(frozen=True)
class Answer:
    """One ``answer("name", value)`` line: ``value`` when it is a literal, else ``readable`` is False."""

    question: str
    value: object
    readable: bool
    text: str
    cell: int


def _is_answer_call(node) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "answer") or \
        (isinstance(func, ast.Attribute) and func.attr == "answer")


def _answers_in(tree, cell: int) -> list[Answer]:
    """The answer calls in ``tree``, in source order."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_answer_call(node)):
            continue
        args = list(node.args) + [k.value for k in node.keywords if k.arg in ("name", "value")]
        if len(args) < 2 or not (isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)):
            continue
        try:
            value, readable = ast.literal_eval(args[1]), True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value, readable = None, False
        answer = Answer(args[0].value, value, readable, ast.unparse(args[1]), cell)
        found.append(((node.lineno, node.col_offset), answer))
    return [answer for _, answer in sorted(found, key=lambda pair: pair[0])]


def answer_lines(nb: dict) -> dict[str, Answer]:
    """The learner's ``answer("question", value)`` lines by question; the last one of a question wins.

    Values are read with ``ast.literal_eval`` (a letter, a number, a quoted expression, None):
    nothing is executed. A cell that does not parse as a whole is read line by line.
    """
    answers: dict[str, Answer] = {}
    for index, source in code_cells(nb):
        if "answer" not in source:
            continue
        tree = _parse(source)
        chunks = [tree] if tree is not None else []
        if tree is None:
            for line in source.splitlines():
                try:
                    chunks.append(ast.parse(line.strip()))
                except (SyntaxError, ValueError):
                    continue
        for chunk in chunks:
            for item in _answers_in(chunk, index):
                answers[item.question] = item
    return answers


# ---------------------------------------------------------------------------- lessons
def shipped_lessons() -> dict[str, Path]:
    """Lesson name (the notebook's stem) -> the shipped notebook (the wheel's or the clone's)."""
    try:
        from ..course import lesson_paths
        paths = lesson_paths()
    except ImportError:  # an mfteach without course.py: the clone's lessons/
        folder = Path(__file__).resolve().parents[2] / "lessons"
        paths = sorted(p for p in folder.glob("*.ipynb") if p.name[:2].isdigit())
    return {p.stem: p for p in paths}


def lesson_items(lesson: str) -> tuple[list[str], list[str]]:
    """(exercise names, question names) registered for ``lesson``, in registry order."""
    return ([n for n, e in EXERCISES.items() if e.lesson == lesson],
            [n for n, q in QUESTIONS.items() if q.lesson == lesson])


def _lesson_of_quiz(argument: str) -> str | None:
    lessons = {e.lesson for e in EXERCISES.values()} | {q.lesson for q in QUESTIONS.values()}
    if argument in lessons:
        return argument
    by_number = [lesson for lesson in lessons if lesson.split("_")[0] == argument]
    return by_number[0] if len(by_number) == 1 else None


@dataclass(frozen=True)
class Recognition:
    lesson: str | None
    reason: str  # why not recognised (empty when recognised)
    votes: tuple = ()


def recognise(nb: dict) -> Recognition:
    """Which lesson ``nb`` is, from its ``%%check`` names, ``quiz(...)`` calls and answer lines."""
    votes: Counter = Counter()
    for _, source in code_cells(nb):
        name = check_name(source)
        if name in EXERCISES:
            votes[EXERCISES[name].lesson] += 1
    for argument in quiz_lessons(nb):
        lesson = _lesson_of_quiz(argument)
        if lesson:
            votes[lesson] += 1
    for name in answer_lines(nb):
        if name in QUESTIONS:
            votes[QUESTIONS[name].lesson] += 1
    if not votes:
        if not nb.get("cells"):
            return Recognition(None, "the notebook has no cells")
        return Recognition(None, "not an mfteach lesson: no %%check cell, quiz(...) or answer line of a known lesson")
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    top = [lesson for lesson, count in ranked if count == ranked[0][1]]
    if len(top) > 1:
        return Recognition(None, "cannot tell the lesson: it has as many exercises or questions of " +
                           " and ".join(top), tuple(ranked))
    return Recognition(top[0], "", tuple(ranked))
