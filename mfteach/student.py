"""The student edition of a lesson: ``student_edition(nb) -> nb`` (``python -m mfteach lessons DEST --student``).

What changes, cell by cell (everything else is the lesson as shipped, outputs included):

- **Exercise cells** (``%%check NAME``) keep only the stub: a cell that is not one (say, an
  instructor's solved copy) gets the function's ``def`` line, its docstring and
  ``raise NotImplementedError``. Their stored outputs go.
- **Collapsed cells** (``source_hidden``: the lesson's own code for a step, shown collapsed after
  the exercise it answers) lose their source. In its place a visible two-line cell runs that
  cell from the installed package's copy of the lesson, ``mfteach.student.run_hidden_cell(lesson,
  key)``, so the notebook still runs top to bottom and later cells find what it defined. (The
  package holds the references anyway: ``mt.exercises.solution(name)`` prints them. The edition
  is about what the handed-out notebook shows, not about secrecy.)
- **The quiz** keeps its cell, without stored outputs, and is followed by an answer cell: one
  ``mt.exercises.answer("question", None)`` line per question for the learner to fill. Quiz clicks
  live in the browser, not in the file; these lines are what ``python -m mfteach grade`` reads.
- Stored outputs that show a reference's source lines (a ``solution()`` printout) are removed,
  and the saved widget state keeps only the widgets still shown.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import sys
import textwrap

from .exercises.hints import source_of as _reference_source
from .exercises.questions import LETTERS, questions_of
from .exercises.registry import EXERCISES
from .grading.notebooks import check_name, python_of, quiz_lessons, recognise, shipped_lessons, source_of

__all__ = ["student_edition", "run_hidden_cell", "cell_key", "reference_lines", "is_stub"]

_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def cell_key(source: str) -> str:
    """The key of a collapsed cell: the start of the SHA-256 of its source."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def reference_lines(name: str) -> list[str]:
    """The telling lines of exercise ``name``'s reference: its body without docstring, comments and
    imports, lines of at least 14 characters, stripped."""
    source = textwrap.dedent(_reference_source(EXERCISES[name].reference))
    try:
        function = next(n for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    except (SyntaxError, StopIteration):
        return []
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    lines = source.splitlines()
    found = []
    for statement in body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            continue
        for line in lines[statement.lineno - 1:statement.end_lineno]:
            code = line.split("#")[0].strip()
            if len(code) >= 14:
                found.append(code)
    return found


# ---------------------------------------------------------------------------- exercise cells
def _function(tree, name: str):
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    named = [f for f in functions if f.name == name]
    return (named or functions or [None])[-1]


def is_stub(source: str, name: str) -> bool:
    """The ``%%check`` cell's function only raises ``NotImplementedError`` (after its docstring)."""
    python = python_of("\n".join(source.split("\n")[1:]))
    try:
        tree = ast.parse(python or "")
    except SyntaxError:
        return False
    function = _function(tree, EXERCISES[name].function_name if name in EXERCISES else name)
    if function is None or len(tree.body) != 1:
        return False
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise):
        return False
    raised = body[0].exc
    raised = raised.func if isinstance(raised, ast.Call) else raised
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def _stub(source: str, name: str) -> str:
    """A stub for exercise ``name``: the cell's ``def`` line and docstring, or the reference's."""
    exercise = EXERCISES.get(name)
    function_name = exercise.function_name if exercise else name
    python = python_of("\n".join(source.split("\n")[1:])) or ""
    try:
        function = _function(ast.parse(python), function_name)
    except SyntaxError:
        function = None
    if function is not None:
        arguments, doc = ast.unparse(function.args), ast.get_docstring(function, clean=False)
    else:
        reference = _reference_source(exercise.reference) if exercise else f"def {name}():\n    pass\n"
        function = _function(ast.parse(textwrap.dedent(reference)), function_name)
        arguments, doc = ast.unparse(function.args), None
    doc = doc or (exercise.title if exercise else "Your code.")
    quoted = '"""' + doc.replace('"""', "'''") + '"""'
    return (f"%%check {name}\ndef {function_name}({arguments}):\n" + textwrap.indent(quoted, "    ") +
            '\n    raise NotImplementedError("your turn")')


# ---------------------------------------------------------------------------- cells
def _clear(cell: dict) -> None:
    cell["outputs"] = []
    cell["execution_count"] = None
    cell.get("metadata", {}).pop("execution", None)


def _hidden(cell: dict) -> bool:
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def _hidden_replacement(cell: dict, lesson: str, source: str) -> dict:
    new = copy.deepcopy(cell)
    new["source"] = ("# The lesson's own code for this step is not in the student edition (it would answer an\n"
                     "# exercise); it runs here from the installed mfteach. The full lesson shows it.\n"
                     "import mfteach.student\n"
                     f'mfteach.student.run_hidden_cell("{lesson}", "{cell_key(source)}")')
    metadata = new.setdefault("metadata", {})
    jupyter = metadata.get("jupyter", {})
    jupyter.pop("source_hidden", None)
    if not jupyter:
        metadata.pop("jupyter", None)
    _clear(new)
    return new


def _kind_hint(question) -> str:
    if question.kind == "choice":
        return f'a letter, "A" to "{LETTERS[len(question.choices) - 1]}"'
    if question.kind == "number":
        return "a number"
    return f"an expression in {', '.join(question.variables)}, in quotes"


def _answer_cells(quiz_argument: str, used_ids: set) -> list[dict]:
    questions = questions_of(quiz_argument)
    if not questions:
        return []
    lines = ["import mfteach as mt"]
    for j, q in enumerate(questions, start=1):  # (the ";" keeps the cell from also showing True/False)
        lines += ["", f"# question {j}: {_kind_hint(q)}", f'mt.exercises.answer("{q.name}", None);']
    markdown = ("**Your answers, to hand in.** The quiz above checks your answers as you go, but what you click "
                "there is not saved in the notebook. Replace each `None` below with your answer and run the cell: "
                'a choice\'s letter in quotes (`"B"`), a number (`0.25`), or an expression in quotes '
                '(`"(m + n) * k"`). Each line prints the same feedback as the quiz; your instructor\'s grader '
                "reads these lines.")
    cells = [{"cell_type": "markdown", "metadata": {}, "source": markdown},
             {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "\n".join(lines)}]
    for cell, base in zip(cells, ("mfteach-answers-note", "mfteach-answers")):
        key, j = base, 1
        while key in used_ids:
            j += 1
            key = f"{base}-{j}"
        used_ids.add(key)
        cell["id"] = key
    return cells


def _output_text(output: dict) -> str:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    else:
        data = output.get("data", {})
        text = [data.get("text/plain", ""), data.get("text/html", ""), data.get("text/markdown", "")]
        text = ["".join(t) if isinstance(t, list) else str(t) for t in text]
    return "".join(text) if isinstance(text, list) else str(text)


def _shows_reference(cell: dict, lines: list[str]) -> bool:
    """A stored output prints reference lines (a ``solution()`` printout), or the cell asks for one."""
    source = source_of(cell)
    if "solution(" in source:
        return True
    text = "".join(_output_text(o) for o in cell.get("outputs", []))
    return any(line in text for line in lines)


def _prune_widget_state(nb: dict) -> None:
    """Keep the saved state of the widgets still shown by an output (and what they refer to)."""
    widgets = nb.get("metadata", {}).get("widgets", {})
    state = widgets.get(_WIDGET_STATE, {}).get("state")
    if not isinstance(state, dict):
        return
    todo = [o.get("data", {}).get(_WIDGET_VIEW, {}).get("model_id") for c in nb["cells"] for o in c.get("outputs", [])]
    keep = set()
    while todo:
        model = todo.pop()
        if model in keep or model not in state:
            continue
        keep.add(model)
        text = json.dumps(state[model])
        start = 0
        while (start := text.find("IPY_MODEL_", start)) >= 0:
            end = text.find('"', start)
            todo.append(text[start + len("IPY_MODEL_"):end])
            start = end
    widgets[_WIDGET_STATE]["state"] = {k: v for k, v in state.items() if k in keep}
    if not keep:
        nb["metadata"].pop("widgets", None)


# ---------------------------------------------------------------------------- the edition
def student_edition(nb: dict) -> dict:
    """The student edition of lesson notebook ``nb`` (a new dict; ``nb`` is not changed).

    Raises ``ValueError`` if ``nb`` is not an mfteach lesson.
    """
    found = recognise(nb)
    if found.lesson is None:
        raise ValueError(f"not a lesson notebook: {found.reason}")
    lesson = found.lesson
    out = copy.deepcopy(nb)
    lines = sorted({line for name, e in EXERCISES.items() for line in reference_lines(name)})
    used_ids = {c.get("id") for c in out["cells"] if c.get("id")}
    cells = []
    for cell in out["cells"]:
        if cell.get("cell_type") != "code":
            cells.append(cell)
            continue
        source = source_of(cell)
        name = check_name(source)
        if name is not None:
            if not is_stub(source, name):
                cell["source"] = _stub(source, name)
            _clear(cell)
        elif _hidden(cell):
            cell = _hidden_replacement(cell, lesson, source)
        elif quiz_lessons({"cells": [cell]}):
            _clear(cell)
            cells.append(cell)
            for argument in quiz_lessons({"cells": [cell]}):
                cells.extend(_answer_cells(argument, used_ids))
            continue
        elif _shows_reference(cell, lines):
            _clear(cell)
        cells.append(cell)
    out["cells"] = cells
    _prune_widget_state(out)
    out.setdefault("metadata", {})["mfteach"] = {"edition": "student", "lesson": lesson}
    return out


# ---------------------------------------------------------------------------- in the learner's kernel
def _hidden_source(lesson: str, key: str) -> str:
    shipped = shipped_lessons()
    order = ([shipped[lesson]] if lesson in shipped else []) + [p for s, p in shipped.items() if s != lesson]
    for path in order:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "code" and cell_key(source_of(cell)) == key:
                return source_of(cell)
    raise LookupError(f"the installed mfteach has no cell {key} of lesson {lesson}: this student edition was made "
                      "by another version of mfteach. Make it again: python -m mfteach lessons DEST --student")


def run_hidden_cell(lesson: str, key: str) -> None:
    """Run the shipped lesson's collapsed cell ``key`` here, as if it stood in the notebook."""
    source = _hidden_source(lesson, key)
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:  # plain Python: run it in the caller's namespace
        exec(compile(source, f"<{lesson}: hidden cell {key}>", "exec"), sys._getframe(1).f_globals)
        return
    result = shell.run_cell(source, store_history=False)
    result.raise_error()
