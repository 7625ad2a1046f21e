"""The student edition (``mfteach.student.student_edition``): stubs only, no stored outputs in exercise
and question cells, no reference solution's source anywhere, an answer line per question, and it
still runs top to bottom (nbclient; every lesson in the ``slow`` run, the quickest one by default)."""

import copy
import json
import os

import pytest

import mfteach.exercises as ex
from mfteach import student
from mfteach.exercises.questions import questions_of
from mfteach.grading.notebooks import answer_lines, check_name, quiz_lessons, source_of

import grade_fixtures as fx

LESSONS = fx.lessons()


def _hidden(cell):
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def _mine(lesson):
    return [n for n, e in ex.EXERCISES.items() if e.lesson == lesson]


def _taught_before_asked(shipped, lesson):
    """Reference lines the shipped lesson itself shows in a visible cell above the exercise (the
    lesson teaches them before it asks): the edition keeps the lesson's visible cells, so these
    are allowed; ``test_exercises`` limits how much of a reference a visible cell may show."""
    allowed = {}
    for name in _mine(lesson):
        lines = student.reference_lines(name)
        for cell in shipped["cells"]:
            source = source_of(cell)
            if check_name(source) == name:
                break
            if cell["cell_type"] == "code" and not _hidden(cell):
                allowed.setdefault(name, set()).update(line for line in lines if line in source)
    return allowed


def _everything(nb) -> str:
    """All the text of a notebook: sources, outputs and metadata."""
    return json.dumps(nb, ensure_ascii=False).replace("\\n", "\n").replace('\\"', '"')


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_edition_has_stubs_no_answers_and_no_reference_source(lesson):
    shipped = fx.shipped(lesson)
    before = copy.deepcopy(shipped)
    edition = student.student_edition(shipped)
    assert shipped == before  # the shipped lesson is not changed
    assert edition["metadata"]["mfteach"] == {"edition": "student", "lesson": lesson}
    cells = edition["cells"]
    checks = [c for c in cells if c["cell_type"] == "code" and check_name(source_of(c))]
    assert sorted(check_name(source_of(c)) for c in checks) == sorted(_mine(lesson))
    for cell in checks:
        assert student.is_stub(source_of(cell), check_name(source_of(cell))), source_of(cell)
        assert cell["outputs"] == [] and cell["execution_count"] is None
    assert not any(_hidden(c) for c in cells)
    quiz = [c for c in cells if c["cell_type"] == "code" and quiz_lessons({"cells": [c]})]
    assert len(quiz) == 1 and quiz[0]["outputs"] == []
    # one answer line per question, none answered
    answers = answer_lines(edition)
    assert list(answers) == [q.name for q in questions_of(quiz_lessons({"cells": quiz})[0])]
    assert all(a.readable and a.value is None for a in answers.values())
    answer_cell = cells[cells.index(quiz[0]) + 2]
    assert answer_cell["outputs"] == [] and "mt.exercises.answer(" in source_of(answer_cell)
    # no line of this lesson's references anywhere (sources, outputs, metadata), except what the
    # lesson itself shows before asking
    text = _everything(edition)
    allowed = _taught_before_asked(shipped, lesson)
    for name in _mine(lesson):
        shown = [line for line in student.reference_lines(name) if line in text and line not in allowed.get(name, ())]
        assert shown == [], f"{name}: {shown}"
    # ids stay unique (nbformat 4.5)
    ids = [c.get("id") for c in cells if c.get("id")]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_collapsed_cell_is_replaced_by_a_call_that_finds_it(lesson):
    shipped = fx.shipped(lesson)
    hidden = [source_of(c) for c in shipped["cells"] if c["cell_type"] == "code" and _hidden(c)]
    calls = [source_of(c) for c in student.student_edition(shipped)["cells"] if "run_hidden_cell(" in source_of(c)]
    assert len(calls) == len(hidden)
    for source, call in zip(hidden, calls):
        assert f'run_hidden_cell("{lesson}", "{student.cell_key(source)}")' in call
        assert student._hidden_source(lesson, student.cell_key(source)) == source
    with pytest.raises(LookupError, match="another version of mfteach"):
        student._hidden_source(lesson, "0" * 16)


def test_a_solved_notebook_gets_its_stubs_back():
    """The edition of an instructor's solved copy: stubs with the cell's def line and docstring."""
    lesson = LESSONS[0]
    solved, _ = fx.correct(lesson)
    edition = student.student_edition(solved)
    text = _everything(edition)
    for name in _mine(lesson):
        cell = next(source_of(c) for c in edition["cells"] if check_name(source_of(c)) == name)
        assert student.is_stub(cell, name) and f"def {ex.EXERCISES[name].function_name}(" in cell
        assert not [line for line in student.reference_lines(name) if line in text]


def test_outputs_showing_a_reference_are_removed():
    lesson = LESSONS[0]
    nb = fx.shipped(lesson)
    name = _mine(lesson)[0]
    printout = "Reference solution\n" + "\n".join(student.reference_lines(name))
    nb["cells"].insert(3, {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": "x = 1",
                           "outputs": [{"output_type": "stream", "name": "stdout", "text": printout}]})
    edition = student.student_edition(nb)
    assert edition["cells"][3]["outputs"] == [] and edition["cells"][3]["source"] == "x = 1"


def test_a_notebook_that_is_no_lesson_is_refused():
    with pytest.raises(ValueError, match="not a lesson"):
        student.student_edition({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


# ---------------------------------------------------------------------------- running it
def _stored_seconds(lesson) -> float:
    """How long the shipped lesson's stored run took (cell timings), inf when it has none."""
    from datetime import datetime

    total = 0.0
    for cell in fx.shipped(lesson)["cells"]:
        timing = cell.get("metadata", {}).get("execution", {})
        try:
            start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        total += (end - start).total_seconds()
    return total or float("inf")


def _run(nb, folder):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.reads(json.dumps(nb), as_version=4)
    env_keep = os.environ.get("MPLBACKEND")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    assert os.environ.get("MPLBACKEND") == env_keep
    return notebook


def _answered(edition, lesson):
    """The edition with every answer line filled with the right answer."""
    nb = copy.deepcopy(edition)
    for cell in nb["cells"]:
        source = source_of(cell)
        for name in answer_lines({"cells": [cell]}):
            source = source.replace(f'answer("{name}", None)', f'answer("{name}", {fx.right_answer(name)!r})')
        cell["source"] = source
    return nb


def test_the_quickest_lesson_runs_top_to_bottom_and_takes_answers(tmp_path):
    lesson = min(LESSONS, key=lambda name: (_stored_seconds(name), name))
    edition = _answered(student.student_edition(fx.shipped(lesson)), lesson)
    ran = _run(edition, tmp_path)
    answers = next(c for c in ran.cells if c.cell_type == "code" and "answer(" in c.source and "import" in c.source)
    printed = "".join(o.get("text", "") for o in answers.outputs)
    for name in answer_lines(edition):
        assert f"✅ {name}: Right." in printed
    stubs = [c for c in ran.cells if c.cell_type == "code" and check_name(c.source)]
    assert all("not written yet" in "".join(o.get("text", "") for o in c.outputs) for c in stubs)


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_runs_top_to_bottom(lesson, tmp_path):
    ran = _run(student.student_edition(fx.shipped(lesson)), tmp_path)
    errors = [o for c in ran.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
