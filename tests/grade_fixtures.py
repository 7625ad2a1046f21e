"""Submissions for the grading tests, built from the shipped lessons at test time (no stored solutions).

Each builder returns ``(notebook dict, expected)`` where ``expected`` maps item name -> what the
grader must say: ``{"passed": bool, "mistake": label or "", "error": substring or "", "note": substring or ""}``.
Submissions start from the student edition (it has the answer lines) unless said otherwise.

- ``correct``: every exercise cell holds the registered reference's source (via inspect), every
  answer line the right answer;
- ``stubs``: the student edition as handed out;
- ``mistakes``: every exercise cell calls its first registered Diagnostic's wrong implementation,
  every answer line a wrong answer that has its own feedback;
- ``loop``: correct, plus an endless loop at the top level of the first exercise cell (its function is
  still graded), an endless loop inside the second exercise's function (fails: time limit), and an
  added cell that loops forever (never run);
- ``raises``: correct, plus a first exercise cell that raises at the top level before its ``def``
  (still graded), a second exercise whose function raises (fails), and an added cell that raises
  and would delete files (never run);
- ``other``: a correct notebook of one lesson saved under another lesson's file name;
- ``malformed``, ``empty``, ``zero_bytes``, ``foreign``: notebooks that cannot be graded.
"""

from __future__ import annotations

import copy
import inspect
import json

import mfteach.exercises as ex
from mfteach.exercises.hints import source_of
from mfteach.exercises.questions import LETTERS
from mfteach.grading.kernel import first_sentence
from mfteach.grading.notebooks import check_name, lesson_items, shipped_lessons, source_of as cell_source
from mfteach.student import student_edition

KERNEL_CASES = ["correct", "stubs", "mistakes", "loop", "raises", "other"]
NO_KERNEL_CASES = ["malformed", "empty", "zero_bytes", "foreign"]


def lessons() -> list[str]:
    """Shipped lessons whose name is a registered lesson (the grader recognises them)."""
    registered = {e.lesson for e in ex.EXERCISES.values()}
    return [lesson for lesson in shipped_lessons() if lesson in registered]


def shipped(lesson: str) -> dict:
    return json.loads(shipped_lessons()[lesson].read_text(encoding="utf-8"))


def student(lesson: str) -> dict:
    return student_edition(shipped(lesson))


def _signature(name: str) -> str:
    reference = ex.EXERCISES[name].reference
    return f"def {ex.EXERCISES[name].function_name}{inspect.signature(reference)}:"


def correct_cell(name: str) -> str:
    """The reference's own source in the cell, with its module's helpers in scope."""
    module = ex.EXERCISES[name].reference.__module__
    return (f"%%check {name}\n"
            f"globals().update({{k: v for k, v in vars(__import__({module!r}, fromlist=['_'])).items() "
            f"if not k.startswith('__')}})\n"
            f"{source_of(ex.EXERCISES[name].reference).rstrip()}\n")


def mistake_cell(name: str, j: int = 0) -> str:
    function = ex.EXERCISES[name].function_name
    return (f"%%check {name}\n"
            f"import mfteach as mt\n"
            f"_wrong = mt.exercises.EXERCISES[{name!r}].diagnostics[{j}].wrong\n\n"
            f"def {function}(*args, **kwargs):\n"
            f"    return _wrong(*args, **kwargs)\n")


def _set_cell(nb: dict, name: str, source: str) -> None:
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and check_name(cell_source(cell)) == name:
            cell["source"] = source
            return
    raise AssertionError(f"no %%check {name} cell")


def _add_cell(nb: dict, source: str, where: int = 1) -> None:
    nb["cells"].insert(where, {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                               "source": source, "id": f"added-{len(nb['cells'])}"})


def right_answer(name: str):
    q = ex.QUESTIONS[name]
    return LETTERS[q.answer] if q.kind == "choice" else (q.answer if q.kind == "number" else str(q.answer))


def wrong_answer(name: str):
    """A wrong answer, and the label of its feedback ("" when it has none of its own)."""
    q = ex.QUESTIONS[name]
    if q.feedback:
        key, message = next(iter(q.feedback.items()))
        value = LETTERS[key] if q.kind == "choice" else (float(key) if q.kind == "number" else str(key))
        return value, first_sentence(message)
    return (q.answer + 1000.0, "") if q.kind == "number" else ("0", "")


def _answer(nb: dict, name: str, value) -> None:
    old = f'mt.exercises.answer("{name}", None)'
    for cell in nb["cells"]:
        source = cell_source(cell)
        if old in source:
            cell["source"] = source.replace(old, f'mt.exercises.answer("{name}", {value!r})')
            return
    raise AssertionError(f"no answer line for {name}")


def _expect(passed, mistake="", error="", note=""):
    return {"passed": passed, "mistake": mistake, "error": error, "note": note}


def correct(lesson: str):
    nb = student(lesson)
    exercises, questions = lesson_items(lesson)
    for name in exercises:
        _set_cell(nb, name, correct_cell(name))
    for name in questions:
        _answer(nb, name, right_answer(name))
    return nb, {name: _expect(True) for name in exercises + questions}


def stubs(lesson: str):
    exercises, questions = lesson_items(lesson)
    expected = {name: _expect(False, error="not written yet") for name in exercises}
    expected.update({name: _expect(False, error="no answer yet") for name in questions})
    return student(lesson), expected


def mistakes(lesson: str):
    nb = student(lesson)
    exercises, questions = lesson_items(lesson)
    expected = {}
    for name in exercises:
        _set_cell(nb, name, mistake_cell(name))
        expected[name] = _expect(False, mistake=first_sentence(ex.EXERCISES[name].diagnostics[0].message))
    for name in questions:
        value, label = wrong_answer(name)
        _answer(nb, name, value)
        expected[name] = _expect(False, mistake=label, error="wrong answer")
    return nb, expected


def loop(lesson: str):
    nb, expected = correct(lesson)
    exercises, _ = lesson_items(lesson)
    first, second = exercises[0], exercises[1]
    _set_cell(nb, first, correct_cell(first) + "\nwhile True:  # a test left running at the top level\n    pass\n")
    expected[first] = _expect(True, note="did not finish")
    _set_cell(nb, second, f"%%check {second}\n{_signature(second)}\n    while True:\n        pass\n")
    expected[second] = _expect(False, error="stopped after")
    _add_cell(nb, "while True:  # a cell the learner added\n    pass\n")
    return nb, expected


def raises(lesson: str):
    nb, expected = correct(lesson)
    exercises, _ = lesson_items(lesson)
    first, second = exercises[0], exercises[1]
    body = correct_cell(first).split("\n", 1)[1]
    _set_cell(nb, first, f"%%check {first}\nraise RuntimeError('a leftover at the top')\n{body}")
    expected[first] = _expect(True, note="raised RuntimeError")
    _set_cell(nb, second, f"%%check {second}\n{_signature(second)}\n    return 1 / 0\n")
    expected[second] = _expect(False, error="ZeroDivisionError")
    _add_cell(nb, "import shutil, os\nshutil.rmtree(os.path.expanduser('~/never-created-by-mfteach-tests'))\n"
                  "raise ValueError('an added cell')\n")
    return nb, expected


def other(lesson: str):
    """A correct notebook of ``lesson`` (to be saved under another lesson's name)."""
    return correct(lesson)


def malformed():
    return '{"cells": [{"cell_type": "code", "source": "x = ', "invalid JSON"


def empty():
    return json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), "no cells"


def zero_bytes():
    return "", "the file is empty"


def foreign():
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": "print('hello')", "id": "a"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb), "not an mfteach lesson"


BUILDERS = {"correct": correct, "stubs": stubs, "mistakes": mistakes, "loop": loop, "raises": raises,
            "other": other}
TEXT_BUILDERS = {"malformed": malformed, "empty": empty, "zero_bytes": zero_bytes, "foreign": foreign}


def write(folder, file_stem: str, case: str, lesson: str | None = None):
    """Write one submission; returns (path, lesson or None, expected per item, or the expected error)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_stem}.ipynb"
    if case in TEXT_BUILDERS:
        text, error = TEXT_BUILDERS[case]()
        path.write_text(text, encoding="utf-8")
        return path, None, error
    nb, expected = BUILDERS[case](lesson)
    path.write_text(json.dumps(copy.deepcopy(nb), indent=1, ensure_ascii=False), encoding="utf-8")
    return path, lesson, expected


def check_rows(rows: list[dict], path, lesson, expected) -> list[str]:
    """What in ``rows`` (the grader's rows of this notebook) differs from ``expected``; [] when all is right."""
    mine = [r for r in rows if r["file"] == str(path)]
    problems = []
    if lesson is None:
        if len(mine) != 1 or mine[0]["kind"] != "notebook" or expected not in mine[0]["error"]:
            problems.append(f"{path.name}: expected one notebook row saying {expected!r}, got {mine}")
        return problems
    items = {r["item"]: r for r in mine if r["kind"] != "notebook"}
    if set(items) != set(expected):
        problems.append(f"{path.name}: items {sorted(items)} != {sorted(expected)}")
    for name, want in expected.items():
        got = items.get(name)
        if got is None:
            continue
        passed = got["passed"] in (True, "True")
        if passed != want["passed"] or got["lesson"] != lesson \
                or (want["mistake"] and want["mistake"] not in got["mistake"].split(" | ")) \
                or (not want["mistake"] and got["mistake"]) \
                or want["error"] not in got["error"] or want["note"] not in got["note"] \
                or (want["passed"] and got["error"]):
            problems.append(f"{path.name} {name}: expected {want}, got passed={got['passed']} "
                            f"mistake={got['mistake']!r} error={got['error']!r} note={got['note']!r}")
    return problems
