"""The grader's helpers INSIDE the grading kernel (imported there as ``__mfteach_grading__``).

The grader's own process never runs learner code: it sends these calls to a fresh kernel
(nbclient) and reads back one JSON result per call, published as display data of type
``application/vnd.mfteach.grade+json``.

``grade_exercise(name, source)`` grades one learner cell the way the ``%%check`` magic checks it,
with one difference: the grade is about the function the exercise asks for, so a cell whose
top-level code raises or does not finish (a test call on lesson data the grader does not load,
an endless loop) still has its definitions graded, and the note says what was skipped.

1. The whole cell runs first in a forked child under the exercise's time limit (as ``%%check``
   does); only if it finishes cleanly does it run in the kernel. Otherwise only its imports,
   ``def`` and ``class`` statements run in the kernel.
2. The function is the one named as the exercise asks, else the last one the cell defines (the
   magic's rule).
3. ``check(name, fn)`` runs it on the exercise's test cases in the sandbox (hard time limit per
   call); its printed feedback gives the verdict: passed, the headline of what is wrong, and the
   typical mistakes recognised (the registered Diagnostics whose message it printed).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re

from ..exercises.checker import check_safely
from ..exercises.registry import EXERCISES
from ..exercises.sandbox import run_cases

__all__ = ["grade_exercise", "run_setup", "first_sentence", "MIME"]

MIME = "application/vnd.mfteach.grade+json"
_HEADLINES = ("❌", "✏️", "⚠️", "⏹", "❓")


def _publish(result: dict) -> None:
    from IPython.display import publish_display_data

    publish_display_data({MIME: result, "text/plain": repr(result)})


def _shell():
    from IPython import get_ipython

    return get_ipython()


def run_setup(code: str) -> None:
    """Run the shipped lesson's set-up statements one by one; a failing one is reported, not fatal
    (one that needs the lesson's data, a ``NameError`` here, is skipped silently)."""
    shell = _shell()
    namespace = shell.user_ns
    failures = []
    tree = ast.parse(code)
    for node in tree.body:
        try:
            exec(compile(ast.Module([node], type_ignores=[]), "<lesson set-up>", "exec"), namespace)
        except NameError:  # it uses the lesson's data, which the grader does not load: not needed
            continue
        except BaseException as exc:  # noqa: BLE001 - reported to the grader
            failures.append(f"{ast.unparse(node).splitlines()[0][:80]}: {type(exc).__name__}: {exc}")
    _publish({"failures": failures})


def first_sentence(text: str, limit: int = 120) -> str:
    """The first sentence of ``text`` (at most ``limit`` characters): a short label for a message."""
    text = " ".join(text.split())
    ends = [m.start() + 1 for m in re.finditer(r"[.?!] ", text)
            if not re.search(r"\b(e\.g|i\.e|vs|cf)\.$", text[:m.start() + 1])]
    if ends and ends[0] <= limit:
        return text[:ends[0]]
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _headline(printed: str, name: str) -> str:
    for line in printed.splitlines():
        stripped = line.strip()
        if stripped.startswith(_HEADLINES):
            text = stripped.split(" ", 1)[1] if " " in stripped else stripped
            prefix = f"{name}: "
            text = text[len(prefix):] if text.startswith(prefix) else text
            if text.startswith("not written yet"):
                return "not written yet (the stub is unchanged)"
            return first_sentence(text, 200)
    return printed.strip().splitlines()[0][:200] if printed.strip() else "failed"


def _definitions(tree: ast.Module) -> ast.Module:
    kept = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef,
                                                   ast.AsyncFunctionDef, ast.ClassDef))]
    return ast.Module(kept, type_ignores=[])


def _defined_functions(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _outcome_text(outcome) -> str:
    if outcome.status == "timeout":
        return "did not finish"
    error = outcome.error
    return f"raised {outcome.error_type or type(error).__name__}: {str(error).strip()[:120]}"


def grade_exercise(name: str, source: str) -> None:
    """Grade the learner's cell ``source`` for exercise ``name``; publishes the result."""
    result = {"item": name, "passed": False, "mistakes": [], "error": "", "note": ""}
    try:
        _grade(name, source, result)
    except BaseException as exc:  # noqa: BLE001 - the grader must get a row, whatever happens
        result["passed"] = False
        result["error"] = f"the grader failed on this cell ({type(exc).__name__}: {exc})"
    _publish(result)


def _grade(name: str, source: str, result: dict) -> None:
    shell = _shell()
    exercise = EXERCISES[name]
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%check"):
        lines[0] = "# " + lines[0].lstrip()  # line numbers stay the notebook's
    cell = "\n".join(lines)
    try:
        python = shell.transform_cell(cell)
        tree = ast.parse(python)
        filename = shell.compile.cache(python)
        code = compile(tree, filename, "exec")
    except SyntaxError as exc:
        result["error"] = f"the cell has a syntax error in line {exc.lineno}: {exc.msg}"
        return
    namespace = shell.user_ns
    limit = exercise.time_limit

    def run_body():
        shell.display_pub.publish = lambda *args, **kwargs: None  # the child shows nothing
        exec(code, namespace)

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        outcome = run_cases(run_body, [()], limit, cell=(filename, 0))[0]
        problem = None if outcome.status == "ok" else _outcome_text(outcome)
        if problem is None:
            try:
                exec(code, namespace)
            except BaseException as exc:  # noqa: BLE001
                problem = f"raised {type(exc).__name__}: {str(exc).strip()[:120]}"
        if problem is not None:
            where = f" within {limit:g} s" if outcome.status == "timeout" else ""
            result["note"] = (f"the cell's top-level code {problem}{where}; only its imports and definitions "
                              "were run")
            try:
                exec(compile(_definitions(tree), filename, "exec"), namespace)
            except BaseException as exc:  # noqa: BLE001
                result["error"] = f"the cell's definitions raised {type(exc).__name__}: {str(exc).strip()[:120]}"
                return
    defined = [n for n in _defined_functions(tree) if callable(namespace.get(n))]
    if not defined:
        result["error"] = f"the cell defines no function (the exercise asks for `{exercise.function_name}`)"
        return
    fn_name = exercise.function_name if exercise.function_name in defined else defined[-1]
    if fn_name != exercise.function_name:
        result["note"] = (result["note"] + "; " if result["note"] else "") + \
            f"checked `{fn_name}`, the last function the cell defines"
    fn = namespace[fn_name]
    printed = io.StringIO()
    code_object = getattr(fn, "__code__", None)
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        passed = check_safely(name, fn, cell=(code_object.co_filename, 0) if code_object is not None else None)
    text = printed.getvalue()
    result["passed"] = bool(passed)
    if not passed:
        result["error"] = _headline(text, name)
        seen = []
        for diagnostic in exercise.diagnostics:
            label = first_sentence(diagnostic.message)
            if diagnostic.message in text and label not in seen:
                seen.append(label)
        result["mistakes"] = seen
