"""The ``%%check NAME`` cell magic (``%load_ext mfteach`` registers it).

The cell runs as the notebook numbers it (line 1 is the ``%%check`` line), so IPython's
traceback and the checker name the same line. Where the platform forks, the cell body first
runs in a forked child under the exercise's time limit: a loop in the cell itself (not in the
function) is stopped there and never reaches the kernel; otherwise the cell then runs in the
kernel as usual and the function it defines is checked.
"""

from __future__ import annotations

import inspect

from .checker import check_safely, unknown
from .registry import EXERCISES
from .sandbox import can_fork, run_cases

__all__ = ["load_ipython_extension"]


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


def _body_finishes(ipython, label: str, source: str, limit: float) -> bool:
    """Run the cell body in a forked child first; False (and say so) if it does not finish in time."""
    try:
        transformed = ipython.transform_cell(source)
        filename = ipython.compile.cache(transformed)
        code = compile(transformed, filename, "exec")
    except Exception:  # a syntax error: the real run reports it
        return True
    namespace = ipython.user_ns

    def run_body():
        ipython.display_pub.publish = lambda *args, **kwargs: None  # the child shows nothing
        exec(code, namespace)

    outcome = run_cases(run_body, [()], limit, cell=(filename, 0))[0]
    if outcome.status != "timeout":
        return True
    where = f" It was busy at {outcome.location}." if outcome.location else ""
    print(f"❌ {label}: the cell itself did not finish within {limit:g} s, so it was stopped and not run "
          f"in your notebook: is there an endless loop outside your function?{where} Nothing was checked.")
    return False


def _check_cell(ipython, name: str, cell: str) -> None:
    if not name:
        print(f"Usage: %%check NAME on the first line of a cell that defines the function. "
              f"Known exercises: {', '.join(EXERCISES)}")
    label = name or "%%check"
    exercise = EXERCISES.get(name)
    # a comment in place of the %%check line: line numbers count as in the notebook
    source = f"# %%check {name}\n{cell}"
    if exercise is not None and can_fork() and not _body_finishes(ipython, label, source, exercise.time_limit):
        return
    result = ipython.run_cell(source)
    if result.error_before_exec is not None:
        lineno = getattr(result.error_before_exec, "lineno", None)
        where = f" in line {lineno}" if isinstance(lineno, int) else ""
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
    if exercise is None:
        unknown(name)
        return
    defined = _functions_defined(ipython, cell)
    namespace = ipython.user_ns
    candidates = [n for n in defined if callable(namespace.get(n))]
    signature = f"def {exercise.function_name}{inspect.signature(exercise.reference)}:"
    if not candidates:
        earlier = (f" (The `{exercise.function_name}` from an earlier cell is not checked: put %%check on "
                   "the cell that defines it.)" if callable(namespace.get(exercise.function_name)) else "")
        print(f"❌ {name}: this cell defines no function, so nothing was checked. Write `{signature}` in "
              f"this cell and return the result.{earlier}")
        return
    if exercise.function_name in candidates:
        fn_name = exercise.function_name
    else:
        fn_name = candidates[-1]
        print(f"(checking `{fn_name}`, the last function this cell defines; "
              f"the exercise calls it `{exercise.function_name}`)")
    fn = namespace[fn_name]
    code = getattr(fn, "__code__", None)
    check_safely(name, fn, cell=(code.co_filename, 0) if code is not None else None)


def _functions_defined(ipython, cell: str) -> list[str]:
    """Names the cell binds to a function at top level (``def`` or ``name = lambda``), in order."""
    import ast

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
