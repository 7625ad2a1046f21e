"""The grader's parts that need no kernel: reading submissions, recognising the lesson, the answer
lines, the grading plan, the CSVs and the summary, the command line's arguments."""

import csv
import json

import pytest

import mfteach.exercises as ex
from mfteach import grade
from mfteach.grading import answers, notebooks, plan, report
from mfteach.grading.runner import COLUMNS, Task, grade_notebook

import grade_fixtures as fx

LESSONS = fx.lessons()


def _code(source):
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def _nb(*sources):
    return {"cells": [_code(s) for s in sources], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


# ---------------------------------------------------------------------------- reading
@pytest.mark.parametrize("case", ["malformed", "empty", "zero_bytes", "foreign"])
def test_an_ungradable_file_gets_one_row_saying_why(case, tmp_path):
    path, lesson, expected = fx.write(tmp_path, case, case)
    rows = grade_notebook(Task(str(path), "someone"))
    assert fx.check_rows(rows, path, lesson, expected) == []
    assert rows[0]["student"] == "someone" and rows[0]["passed"] is False


def test_a_missing_file_and_a_binary_file_get_a_row(tmp_path):
    (tmp_path / "binary.ipynb").write_bytes(b"\xff\xfe\x00\x81")
    for name, words in [("missing.ipynb", "cannot read"), ("binary.ipynb", "not UTF-8")]:
        rows = grade_notebook(Task(str(tmp_path / name), "x"))
        assert len(rows) == 1 and rows[0]["kind"] == "notebook" and words in rows[0]["error"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_shipped_lesson_and_its_student_edition_are_recognised(lesson):
    assert notebooks.recognise(fx.shipped(lesson)).lesson == lesson
    assert notebooks.recognise(fx.student(lesson)).lesson == lesson


def test_the_lesson_comes_from_the_content_not_the_file_name():
    first, second = LESSONS[0], LESSONS[1]
    name = next(n for n, e in ex.EXERCISES.items() if e.lesson == second)
    nb = _nb(f"%%check {name}\ndef f(): pass", f'mt.exercises.quiz("{second}")')
    assert notebooks.recognise(nb).lesson == second
    # a tie between two lessons is not guessed
    other = next(n for n, e in ex.EXERCISES.items() if e.lesson == first)
    tie = _nb(f"%%check {name}\n", f"%%check {other}\n")
    found = notebooks.recognise(tie)
    assert found.lesson is None and "cannot tell" in found.reason


def test_exercise_cells_the_last_check_cell_wins_and_a_plain_def_counts():
    name, other = [n for n, e in ex.EXERCISES.items() if e.lesson == LESSONS[0]][:2]
    function = ex.EXERCISES[other].function_name
    nb = _nb(f"%%check {name}\n# first try", "print(1)", f"%%check {name}\n# second try",
             f"def {function}(x):\n    return x")
    cells = notebooks.exercise_cells(nb, [name, other])
    assert cells[name] == (2, f"%%check {name}\n# second try")
    assert cells[other][0] == 3


def test_answer_lines_are_read_without_running_anything():
    nb = _nb('mt.exercises.answer("q_a", "B")\nanswer("q_b", 0.25);  # comment\nmt.exercises.answer("q_c", None)',
             'x = 1\nmt.exercises.answer("q_a", "C")',  # the last line of a question wins
             'answer("q_d", open("/etc/passwd").read())',  # not a literal: not evaluated
             'answer("q_e", -3)\nthis line is not python')  # an unparsable cell is read line by line
    found = notebooks.answer_lines(nb)
    assert {k: v.value for k, v in found.items() if v.readable} == {
        "q_a": "C", "q_b": 0.25, "q_c": None, "q_e": -3}
    assert found["q_d"].readable is False and found["q_a"].cell == 1


def test_questions_are_judged_by_the_quiz_judge():
    lesson = LESSONS[0]
    names = notebooks.lesson_items(lesson)[1]
    right, wrong, missing = names[0], names[1], names[2] if len(names) > 2 else None
    value, label = fx.wrong_answer(wrong)
    nb = _nb(f"mt.exercises.answer({right!r}, {fx.right_answer(right)!r})",
             f"mt.exercises.answer({wrong!r}, {value!r})")
    results = {r["item"]: r for r in answers.grade_answers(nb, names)}
    assert results[right]["passed"] is True and results[right]["error"] == ""
    assert results[wrong]["passed"] is False and results[wrong]["mistake"] == label
    if missing:
        assert "no answer line" in results[missing]["error"]


# ---------------------------------------------------------------------------- the plan
@pytest.mark.parametrize("lesson", LESSONS)
def test_the_plan_runs_definitions_only_and_has_every_exercise_in_lesson_order(lesson):
    shipped = fx.shipped(lesson)
    steps = plan.grading_plan(shipped, lesson)
    exercises = notebooks.lesson_items(lesson)[0]
    assert sorted(s.name for s in steps if s.kind == "exercise") == sorted(exercises)
    order = [notebooks.check_name(src) for _, src in notebooks.code_cells(shipped)]
    assert [s.name for s in steps if s.kind == "exercise"] == [n for n in order if n in exercises]
    assert steps[0].kind == "setup" and "import mfteach" in steps[0].code
    for step in steps:
        if step.kind == "setup":
            for line in step.code.splitlines():
                assert not line.startswith(("for ", "while ", "print(", "plt.", "display(")), line
                assert "load_movielens(" not in line or line.startswith((" ", "def ", "lambda")), line


def test_setup_code_keeps_definitions_and_drops_the_rest():
    source = ("%load_ext mfteach\n%matplotlib inline\nimport numpy as np\nfrom math import pi\n"
              "R = mt.toy('lecture_R')\nreg = 0.1\nf = mt.exercises.density\nsq = lambda x: x * x\n"
              "K, REG = 10, 10.0\n@decorator\ndef g(x):\n    return x\nclass A:\n    pass\n"
              "for i in range(3):\n    print(i)\nmodel.fit(R)\nwhile True:\n    pass\n")
    code = plan.setup_code(source)
    assert "load_ext" in code and "matplotlib" not in code
    for kept in ["import numpy as np", "from math import pi", "reg = 0.1", "f = mt.exercises.density",
                 "sq = lambda x: x * x", "@decorator", "def g(x):", "class A:"]:
        assert kept in code, kept
    for dropped in ["mt.toy", "for i", "print", "model.fit", "while"]:
        assert dropped not in code, dropped
    assert plan.setup_code("%%time\nimport numpy") == ""


# ---------------------------------------------------------------------------- reports
def _rows():
    t1, t2, t3 = Task("a/ann.ipynb", "ann"), Task("a/bob.ipynb", "bob"), Task("a/bad.ipynb", "bad")
    from mfteach.grading.runner import row
    return [row(t1, "03_x", "f", "code", True, seconds=0.5),
            row(t1, "03_x", "g", "code", False, "forgot lambda", "wrong values"),
            row(t1, "03_x", "q1", "question", True),
            row(t2, "03_x", "f", "code", False, "forgot lambda | used all of V", "wrong values", seconds=1.25),
            row(t2, "03_x", "g", "code", False, "forgot lambda", "x"), row(t2, "03_x", "q1", "question", False),
            row(t3, error="not a notebook: invalid JSON")]


def test_the_csvs_have_one_row_per_item_and_one_per_student(tmp_path):
    rows = _rows()
    report.write_items(rows, tmp_path / "g.csv")
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == COLUMNS and COLUMNS[-1] == "seconds" and len(read) == 7
    assert read[0]["seconds"] == "0.50" and read[2]["seconds"] == ""
    assert report.write_students(rows, tmp_path / "s.csv") == 3
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == ["student", "03_x (of 3)", "passed", "items"]
    assert table[1:] == [["ann", "2", "2", "3"], ["bob", "0", "0", "3"], ["bad", "", "0", "0"]]
    assert [r["file"] for r in report.ungradable(rows)] == ["a/bad.ipynb"]


def test_the_summary_gives_passes_per_item_and_the_common_mistakes():
    text = report.summary(_rows(), notebooks=3, seconds=75.2, jobs=2)
    assert text.startswith("Graded 3 notebooks in 1 min 15 s with 2 jobs: 2 graded, 1 could not be graded.")
    assert "03_x: 2 notebooks" in text
    lines = text.splitlines()
    assert [line.split()[:5] for line in lines if line.startswith("  ") and "passed" in line] == [
        ["f", "code", "1", "of", "2"], ["g", "code", "0", "of", "2"], ["q1", "question", "1", "of", "2"]]
    mistakes = text.split("Most common recognised mistakes (what the class got wrong):\n")[1].split("\n\n")[0]
    assert [line.split(None, 3) for line in mistakes.splitlines()] == [
        ["2", "x", "g", "forgot lambda"], ["1", "x", "f", "forgot lambda"], ["1", "x", "f", "used all of V"]]
    assert "a/bad.ipynb: not a notebook: invalid JSON" in text


# ---------------------------------------------------------------------------- command line
def test_find_notebooks_sorted_recursive_without_checkpoints(tmp_path):
    for name in ["b/x.ipynb", "a.ipynb", ".ipynb_checkpoints/a-checkpoint.ipynb", "b/notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = grade.find_notebooks([tmp_path, tmp_path / "a.ipynb", tmp_path / "gone.ipynb"])
    assert found == sorted({tmp_path / "a.ipynb", tmp_path / "b" / "x.ipynb", tmp_path / "gone.ipynb"}, key=str)


def test_the_roster_maps_files_to_students(tmp_path):
    (tmp_path / "r.csv").write_text("File,Student\nsub1.ipynb,Ann Lee\nsub2,Bob\n", encoding="utf-8")
    roster = grade.read_roster(tmp_path / "r.csv")
    from pathlib import Path
    assert grade._student(Path("x/sub1.ipynb"), roster) == "Ann Lee"
    assert grade._student(Path("x/sub2.ipynb"), roster) == "Bob"
    assert grade._student(Path("x/carl.ipynb"), roster) == "carl"
    (tmp_path / "bad.csv").write_text("who,what\n", encoding="utf-8")
    with pytest.raises(ValueError, match="file and student"):
        grade.read_roster(tmp_path / "bad.csv")


def test_usage_errors_exit_2(tmp_path, capsys):
    assert grade.main([str(tmp_path), "--jobs", "0"]) == 2
    assert grade.main([str(tmp_path), "--lesson", "no_such_lesson"]) == 2
    assert "is none of the lessons" in capsys.readouterr().err
    (tmp_path / "sub").mkdir()
    assert grade.main([str(tmp_path / "sub")]) == 2
    assert "no notebooks found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        grade.main(["--help"])
    assert stop.value.code == 0
    assert "--timeout" in capsys.readouterr().out


def test_notebooks_that_need_no_kernel_are_graded_without_one(tmp_path, capsys):
    """Malformed, empty and foreign files and a notebook of another lesson than --lesson: rows, exit 1."""
    subs = tmp_path / "subs"
    written = [fx.write(subs, case, case) for case in ["malformed", "empty", "foreign"]]
    lesson, other = LESSONS[0], LESSONS[1]
    nb = fx.student(other)
    (subs / f"{lesson}.ipynb").write_text(json.dumps(nb), encoding="utf-8")  # named as the assigned lesson
    out = tmp_path / "out" / "grades.csv"
    assert grade.main([str(subs), "--out", str(out), "--lesson", lesson.split("_")[0], "--quiet"]) == 1
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for path, _, error in written:
        assert fx.check_rows(rows, path, None, error) == []
    wrong = [r for r in rows if r["file"].endswith(f"{lesson}.ipynb")]
    assert len(wrong) == 1 and wrong[0]["lesson"] == other and f"not of {lesson}" in wrong[0]["error"]
    printed = capsys.readouterr().out
    assert "Graded 4 notebooks" in printed and "4 could not be graded" in printed
    assert (tmp_path / "out" / "grades_students.csv").exists()
