"""Grade one notebook: recognise its lesson, run the set-up and the learner's exercise cells in a
fresh kernel, read its answer lines; one row per item (or one row saying why it could not be graded).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .answers import grade_answers
from .kernel import MIME
from .notebooks import NotebookError, exercise_cells, lesson_items, read_notebook, recognise, shipped_lessons
from .plan import Step, grading_plan
from .session import KernelSession, kernel_environment

__all__ = ["Task", "grade_notebook", "COLUMNS", "row"]

#: the per-item CSV's columns; every one but ``seconds`` is the same on every run
COLUMNS = ["student", "file", "lesson", "item", "kind", "passed", "mistake", "error", "note", "seconds"]

_HELPER = "import mfteach.grading.kernel as __mfteach_grading__"
_MAX_STARTS = 4  # a notebook whose kernel must be replaced more often than this gets no more chances


@dataclass(frozen=True)
class Task:
    """One notebook to grade, and how."""

    path: str
    student: str
    timeout: float = 60.0  # seconds per piece: one set-up block, or one exercise (its cell and its check)
    lesson: str | None = None  # only this lesson is expected (others get a row saying so)
    temp_root: str | None = None  # the run's temporary folder (made if None)


def row(task: Task, lesson="", item="", kind="notebook", passed=False, mistake="", error="", note="",
        seconds="") -> dict:
    return {"student": task.student, "file": task.path, "lesson": lesson, "item": item, "kind": kind,
            "passed": bool(passed), "mistake": mistake, "error": error, "note": note,
            "seconds": seconds if seconds == "" else f"{seconds:.2f}"}


@lru_cache(maxsize=64)
def _shipped(lesson: str) -> dict | None:
    path = shipped_lessons().get(lesson)
    return None if path is None else json.loads(path.read_text(encoding="utf-8"))


def grade_notebook(task: Task) -> list[dict]:
    """The rows of one notebook. Never raises: a failure of the grader itself is a row too."""
    try:
        return _grade(task)
    except Exception as exc:  # noqa: BLE001 - one broken notebook must not stop the others
        return [row(task, error=f"the grader failed on this notebook ({type(exc).__name__}: {exc}); "
                                "this is a bug in mfteach")]


def _grade(task: Task) -> list[dict]:
    try:
        nb = read_notebook(task.path)
    except NotebookError as exc:
        return [row(task, error=str(exc))]
    found = recognise(nb)
    if found.lesson is None:
        return [row(task, error=found.reason)]
    lesson = found.lesson
    if task.lesson and lesson != task.lesson:
        return [row(task, lesson=lesson, error=f"a notebook of lesson {lesson}, not of {task.lesson}: not graded")]
    shipped = _shipped(lesson)
    if shipped is None:
        return [row(task, lesson=lesson, error=f"lesson {lesson} is not among the lessons this mfteach ships")]
    _, questions = lesson_items(lesson)
    steps = grading_plan(shipped, lesson)
    exercises = [step.name for step in steps if step.kind == "exercise"]  # in the lesson's order
    cells = exercise_cells(nb, exercises)
    results, problems = _grade_code(task, steps, {n: s for n, (_, s) in cells.items()})
    rows = []
    for name in exercises:
        result = results[name]
        rows.append(row(task, lesson, name, "code", result.get("passed", False), " | ".join(result.get("mistakes", [])),
                        result.get("error", ""), result.get("note", ""), result.get("seconds", "")))
    rows.extend(row(task, lesson, r["item"], "question", r["passed"], r["mistake"], r["error"], r["note"])
                for r in grade_answers(nb, questions))
    if problems:
        rows.append(row(task, lesson, error="; ".join(problems)))
    return rows


def _result_of(outputs) -> dict | None:
    for output in outputs:
        data = output.get("data", {}) if output.get("output_type") == "display_data" else {}
        if MIME in data:
            value = data[MIME]
            return json.loads(value) if isinstance(value, str) else dict(value)
    return None


def _grade_code(task: Task, steps: list[Step], sources: dict[str, str]) -> tuple[dict[str, dict], list[str]]:
    """{exercise name: result} and the notebook's problems (set-up failures, kernel restarts)."""
    results: dict[str, dict] = {}
    problems: list[str] = []
    todo = [s for s in steps if s.kind == "exercise"]
    for step in todo:
        if step.name not in sources:
            results[step.name] = {"error": "no %%check cell for this exercise in the notebook"}
    if all(step.name in results for step in todo):
        return results, problems

    own_root = task.temp_root is None
    root = Path(tempfile.mkdtemp(prefix="mfteach-grade-")) if own_root else Path(task.temp_root)
    workdir = Path(tempfile.mkdtemp(prefix="notebook-", dir=root))
    session = KernelSession(workdir, kernel_environment(workdir, root))
    done: list[Step] = []

    def fresh_kernel() -> str | None:
        """Start a kernel and redo the set-up run so far; None, or why it failed."""
        session.stop()
        if session.starts >= _MAX_STARTS:
            return "the kernel had to be replaced too often"
        try:
            session.start()
        except Exception as exc:  # noqa: BLE001
            return f"the grading kernel did not start ({type(exc).__name__}: {exc})"
        for code in [_HELPER] + [f"__mfteach_grading__.run_setup({s.code!r})" for s in done]:
            _, problem = session.run(code, task.timeout)
            if problem:
                return f"the lesson's set-up failed in a fresh kernel ({problem})"
        return None

    try:
        broken = fresh_kernel()
        for step in steps:
            if broken:
                if step.kind == "exercise" and step.name not in results:
                    results[step.name] = {"error": f"not graded: {broken}"}
                continue
            if step.kind == "setup":
                outputs, problem = session.run(f"__mfteach_grading__.run_setup({step.code!r})", task.timeout)
                report = _result_of(outputs) or {}
                problems.extend(f"set-up: {f}" for f in report.get("failures", []))
                if problem in ("timeout", "dead"):  # not repeated in the fresh kernel
                    what = "timed out" if problem == "timeout" else "killed the kernel"
                    problems.append(f"set-up: the lesson's set-up {what}")
                    broken = fresh_kernel()
                else:
                    done.append(step)
                continue
            if step.name in results:
                continue
            started = time.monotonic()
            outputs, problem = session.run(
                f"__mfteach_grading__.grade_exercise({step.name!r}, {sources[step.name]!r})", task.timeout)
            seconds = time.monotonic() - started
            result = _result_of(outputs)
            if problem == "timeout":
                result = {"error": f"stopped after {task.timeout:g} s (the grader's limit per exercise)"}
            elif problem == "dead":
                result = {"error": "the kernel died while this exercise was graded"}
            elif result is None:
                result = {"error": f"no result from the grading kernel ({problem or 'no output'})"}
            result["seconds"] = seconds
            results[step.name] = result
            if problem in ("timeout", "dead"):
                broken = fresh_kernel()
                if not broken:
                    problems.append(f"the kernel was replaced after {step.name}; later exercises ran without "
                                    "the learner's earlier cells")
    finally:
        session.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if own_root:
            shutil.rmtree(root, ignore_errors=True)
    for step in todo:
        results.setdefault(step.name, {"error": "not graded"})
    return results, problems
