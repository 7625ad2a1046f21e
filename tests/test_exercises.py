"""Every lesson's exercises and questions, against the lessons as stored.

For every registered exercise: its lesson asks for it, its reference passes, each of its
diagnostics is a real mistake that is recognised by name, the stored stub fails as "not written
yet" without counting an attempt, its hints nudge without giving the code away, and no visible
cell of the lesson shows the reference. For every question: the right answer is accepted and
every registered wrong answer gets its own feedback. Every lesson has at least two exercises
and two questions.
"""

import ast
import inspect
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mfteach as mt
import mfteach.exercises as ex

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
LESSON_NAMES = sorted(p.stem for p in LESSONS.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


def _cells(lesson):
    return json.loads((LESSONS / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _hidden(cell):
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def _key_lines(fn):
    """The reference's lines of code (comments dropped) long enough to be telling."""
    source = textwrap.dedent(inspect.getsource(fn))
    func = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the docstring
    lines = source.splitlines()
    return [line.split("#")[0].strip() for statement in body
            for line in lines[statement.lineno - 1:statement.end_lineno] if len(line.split("#")[0].strip()) >= 14]


# ---------------------------------------------------------------------------- lessons
def test_the_lessons_are_there():
    assert len(LESSON_NAMES) == 18


@pytest.mark.parametrize("lesson", LESSON_NAMES)
def test_every_lesson_has_two_exercises_and_two_questions(lesson):
    exercises = [name for name, e in ex.EXERCISES.items() if e.lesson == lesson]
    questions = [name for name, q in ex.QUESTIONS.items() if q.lesson == lesson]
    assert len(exercises) >= 2, exercises
    assert len(questions) >= 2, questions
    frame = ex.progress()
    mine = frame[frame["lesson"] == lesson]
    assert (mine["kind"] == "code").sum() == len(exercises) and (mine["kind"] == "question").sum() == len(questions)


def test_every_exercise_and_question_belongs_to_a_lesson():
    lessons = set(LESSON_NAMES)
    assert {e.lesson for e in ex.EXERCISES.values()} <= lessons
    assert {q.lesson for q in ex.QUESTIONS.values()} <= lessons


@pytest.mark.parametrize("lesson", LESSON_NAMES)
def test_the_stored_lesson_uses_no_hint_and_shows_its_quiz(lesson):
    code = [_source(c) for c in _cells(lesson) if c["cell_type"] == "code"]
    for source in code:  # Run All must not use up hints or record answers
        assert not re.search(r"\b(hint|solution|answer|reset_progress)\(", source), source
    assert any(f'quiz("{lesson}")' in source for source in code)


@pytest.mark.parametrize("lesson", LESSON_NAMES)
def test_no_visible_cell_shows_a_reference_solution(lesson):
    visible = [(i, _source(c)) for i, c in enumerate(_cells(lesson)) if c["cell_type"] == "code" and not _hidden(c)]
    for name, exercise in ex.EXERCISES.items():
        lines = _key_lines(exercise.reference)
        if exercise.lesson != lesson or len(lines) < 1:
            continue
        for i, source in visible:
            shown = [line for line in lines if line in source]
            assert len(shown) < max(1, (len(lines) + 1) // 2) or (len(lines) == 1 and not shown), \
                f"cell {i} shows the reference of {name}: {shown}"


# ---------------------------------------------------------------------------- exercises
@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_registered_with_its_lesson_hints_and_diagnostics(name):
    exercise = ex.EXERCISES[name]
    assert exercise.function_name == name
    assert len(exercise.hints) >= 3 and len(exercise.diagnostics) >= 2
    assert 0 < exercise.time_limit <= 20
    assert f"%%check {name}" in (LESSONS / f"{exercise.lesson}.ipynb").read_text()  # the lesson asks for it


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_cases_are_deterministic(name):
    first, second = ex.EXERCISES[name].cases(), ex.EXERCISES[name].cases()
    assert len(first) == len(second) >= 2
    for a, b in zip(first, second, strict=True):
        for x, y in zip(ex.feedback.split_case(a)[0], ex.feedback.split_case(b)[0], strict=True):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y)
            elif isinstance(x, (int, float, str, tuple)):
                assert x == y


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_reference_passes(name, capsys):
    exercise = ex.EXERCISES[name]
    assert ex.check(name, exercise.reference) is True
    assert capsys.readouterr().out == f"✅ {name}: correct on {len(exercise.cases())} test cases.\n"


@pytest.mark.parametrize(
    "name, j", [(name, j) for name, exercise in ex.EXERCISES.items() for j in range(len(exercise.diagnostics))])
def test_every_diagnostic_is_wrong_and_recognised(name, j, capsys):
    """A learner who makes exactly that mistake fails and reads that message (also a mistake that crashes)."""
    diagnostic = ex.EXERCISES[name].diagnostics[j]
    with np.errstate(all="ignore"):
        assert ex.check(name, diagnostic.wrong) is False
    assert "💡 " + diagnostic.message in capsys.readouterr().out


@pytest.mark.parametrize("name", [name for name, exercise in ex.EXERCISES.items() if len(exercise.diagnostics) > 1])
def test_the_diagnostics_of_an_exercise_give_distinct_answers(name):
    """Two diagnostics that return the same results on every case could not be told apart: the
    learner would read one message for two different mistakes. (Crashing mistakes are recognised
    by their error instead and are left out here.)"""
    from mfteach.exercises.compare import same

    exercise = ex.EXERCISES[name]
    cases = exercise.cases()
    answers = []
    for diagnostic in exercise.diagnostics:
        try:
            with np.errstate(all="ignore"):
                results = [diagnostic.wrong(*case) for case in cases]
        except Exception:  # noqa: BLE001 - recognised by its exception, not by its results
            continue
        for other in answers:
            assert not all(same(a, b, exercise.rtol, exercise.atol) for a, b in zip(results, other)), diagnostic.message
        answers.append(results)


def _stub(name):
    exercise = ex.EXERCISES[name]
    cell = next(_source(c) for c in _cells(exercise.lesson)
                if c["cell_type"] == "code" and _source(c).startswith(f"%%check {name}\n"))
    namespace = {"np": np, "mt": mt}
    exec(cell.split("\n", 1)[1], namespace)
    return namespace[exercise.function_name]


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_the_stored_stub_fails_as_not_written_and_counts_no_attempt(name, capsys):
    assert ex.check(name, _stub(name)) is False
    assert "not written yet" in capsys.readouterr().out
    frame = ex.progress().set_index("exercise")
    assert frame.loc[name, "attempts"] == 0


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_hints_nudge_without_giving_the_code(name):
    lines = _key_lines(ex.EXERCISES[name].reference)
    for text in ex.EXERCISES[name].hints:
        squeezed = text.replace(" ", "")
        assert not [line for line in lines if line.replace(" ", "") in squeezed], text


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_hints_in_order_then_the_reference_as_the_solution(name, capsys):
    exercise = ex.EXERCISES[name]
    for j, text in enumerate(exercise.hints):
        ex.hint(name)
        assert capsys.readouterr().out.startswith(f"💡 Hint {j + 1} of {len(exercise.hints)} for {name}: {text}\n")
    ex.solution(name)
    out = capsys.readouterr().out
    assert f"def {name}{inspect.signature(exercise.reference)}:" in out and "@register" not in out
    row = ex.progress().set_index("exercise").loc[name]
    assert row["hints_used"] == len(exercise.hints) and row["attempts"] == 0


# ---------------------------------------------------------------------------- questions
@pytest.mark.parametrize("name", list(ex.QUESTIONS))
def test_every_question_accepts_its_answer_and_explains_each_wrong_one(name, capsys):
    question = ex.QUESTIONS[name]
    for wrong, message in question.feedback.items():
        assert ex.answer(name, wrong) is False
        out = capsys.readouterr().out
        assert message in out and question.explanation not in out
    if question.kind == "choice":
        assert set(question.feedback) == set(range(len(question.choices))) - {question.answer}
    assert ex.answer(name, question.answer) is True
    assert question.explanation in capsys.readouterr().out
    row = ex.progress().set_index("exercise").loc[name]
    assert row["kind"] == "question" and row["passed"] and row["attempts"] == len(question.feedback) + 1


@pytest.mark.parametrize("lesson", LESSON_NAMES)
def test_the_quiz_shows_every_question_of_the_lesson_and_records_nothing(lesson):
    box = ex.quiz(lesson)
    names = [c for child in box.children[1:] for c in child._dom_classes if c.startswith("mfteach-q-")]
    assert names == [f"mfteach-q-{q.name}" for q in ex.QUESTIONS.values() if q.lesson == lesson]
    assert ex.progress()["attempts"].sum() == 0


def test_the_readme_lists_every_lessons_exercises_and_questions():
    readme = (LESSONS.parent / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d\d) \| (\d+: [^|]+) \| \d+ \|", readme, flags=re.M))
    counts = dict(re.findall(r"^\| (\d\d) \| \d+: [^|]+ \| (\d+) \|", readme, flags=re.M))
    for lesson in LESSON_NAMES:
        number = lesson[:2]
        names = [n for n, e in ex.EXERCISES.items() if e.lesson == lesson]
        assert rows[number] == f"{len(names)}: " + ", ".join(f"`{n}`" for n in names)
        assert int(counts[number]) == sum(q.lesson == lesson for q in ex.QUESTIONS.values())
