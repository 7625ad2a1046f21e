"""What a grading kernel runs for one lesson: the lesson's set-up as shipped, and the exercise cells.

The set-up comes from the SHIPPED lesson (the package's copy), never from the submission: of every
code cell that is not an exercise or the quiz, the top-level statements that only define things:

- ``import`` and ``from ... import``, and the ``%load_ext`` line magic;
- ``def`` and ``class`` (helpers the learner may call, and the lesson's reference cells);
- assignments of a constant, a lambda, or a name or attribute (``full_gradient =
  mt.exercises.lesson02.full_gradient``, the lesson's "continue with the reference" lines).

Calls, loops, data loading, training and plots are left out: they take the lesson's 5-50 s and
the checks do not need them (every exercise is checked on its own test cases). The steps keep the
lesson's order, so each learner cell runs where it stands in the lesson: after the definitions
above it, before the reference cells below it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..exercises.registry import EXERCISES
from .notebooks import check_name, code_cells, python_of

__all__ = ["Step", "grading_plan", "setup_code"]

_KEPT_MAGICS = {"load_ext"}


@dataclass(frozen=True)
class Step:
    kind: str  # "setup" (code from the shipped lesson) or "exercise" (the learner's cell for ``name``)
    name: str = ""
    code: str = ""
    cell: int = -1  # index of the shipped lesson's cell


def _static(node) -> bool:
    """A value that costs nothing to compute: a constant, a name, an attribute chain, a lambda, or a
    tuple/list/set/dict of those."""
    if isinstance(node, (ast.Constant, ast.Name, ast.Lambda)):
        return True
    if isinstance(node, ast.Attribute):
        return _static(node.value)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_static(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _static(k) for k in node.keys) and all(_static(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.BinOp):
        return isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant)
    return False


def _kept_magic(node) -> bool:
    """``get_ipython().run_line_magic("load_ext", ...)``, as IPython rewrites ``%load_ext ...``."""
    call = node.value if isinstance(node, ast.Expr) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run_line_magic"
            and bool(call.args) and isinstance(call.args[0], ast.Constant) and call.args[0].value in _KEPT_MAGICS)


def _kept(node) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, (ast.Name, ast.Attribute, ast.Tuple)) for t in node.targets) and _static(node.value)
    if isinstance(node, ast.AnnAssign):
        return node.value is not None and _static(node.value)
    return _kept_magic(node)


def setup_code(source: str) -> str:
    """The definitions of one shipped code cell, as Python ("" when it has none)."""
    if source.lstrip().startswith("%%"):  # a cell magic (%%check, %%time, ...): not set-up
        return ""
    python = python_of(source)
    if python is None:
        return ""
    try:
        tree = ast.parse(python)
    except (SyntaxError, ValueError):
        return ""
    kept = [node for node in tree.body if _kept(node)]
    return "\n".join(ast.unparse(node) for node in kept)


def _is_quiz(source: str) -> bool:
    return "quiz(" in source and not setup_code(source)


def grading_plan(shipped: dict, lesson: str) -> list[Step]:
    """The steps for ``lesson`` from its shipped notebook: set-up code and exercise slots, in order.

    Every exercise registered for the lesson gets a slot, where the shipped lesson has its
    ``%%check`` cell (at the end if the lesson has none).
    """
    exercises = [name for name, e in EXERCISES.items() if e.lesson == lesson]
    steps: list[Step] = []
    placed = set()
    for index, source in code_cells(shipped):
        name = check_name(source)
        if name is not None:
            if name in exercises and name not in placed:
                steps.append(Step("exercise", name=name, cell=index))
                placed.add(name)
            continue
        if _is_quiz(source):
            continue
        code = setup_code(source)
        if not code.strip():
            continue
        if steps and steps[-1].kind == "setup":  # one round trip for consecutive set-up cells
            steps[-1] = Step("setup", code=steps[-1].code + "\n" + code, cell=steps[-1].cell)
        else:
            steps.append(Step("setup", code=code, cell=index))
    steps.extend(Step("exercise", name=name) for name in exercises if name not in placed)
    return steps
