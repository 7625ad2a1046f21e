"""mfteach.exercises.questions: judging answers, answer(), and the question widgets."""

import pytest

import mfteach.exercises as ex
from mfteach.exercises.questions import judge, parse_expression
from mfteach.exercises.registry import Question


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


CHOICE = Question(name="q_test_choice", lesson="99_test", prompt="Which?", choices=["a", "b", "c"], answer=1,
                  feedback={0: "a is the transpose", 2: "c forgets lambda"}, explanation="b is the ridge solution")
NUMBER = Question(name="q_test_number", lesson="99_test", kind="number", prompt="How many?", answer=0.25,
                  feedback={0.5: "you counted twice", 4: "that is the inverse"}, default_feedback="count again",
                  explanation="1 of 4")
EXPRESSION = Question(name="q_test_expression", lesson="99_test", kind="expression", prompt="Parameters?",
                      answer="(m + n) * k", variables=("m", "n", "k"),
                      feedback={"m * n": "that is the whole matrix", "m * n * k": "k multiplies a sum"},
                      explanation="one k-vector per user and per item")


@pytest.fixture
def registered(monkeypatch):
    for question in (CHOICE, NUMBER, EXPRESSION):
        monkeypatch.setitem(ex.QUESTIONS, question.name, question)


def test_choice_verdicts_name_the_mistake():
    assert judge(CHOICE, 1).correct and "b is the ridge solution" in judge(CHOICE, 1).message
    assert judge(CHOICE, 0).message == "Not this one. a is the transpose"
    assert judge(CHOICE, "c").message == "Not this one. c forgets lambda"  # the choice's letter ...
    assert judge(CHOICE, "b").correct and judge(CHOICE, "B").correct  # ... in either case
    assert not judge(CHOICE, 7).counted and not judge(CHOICE, None).counted


@pytest.mark.parametrize("value, correct, phrase", [
    ("0.25", True, "1 of 4"), ("1/4", True, "1 of 4"), (0.2501, True, "1 of 4"), ("2**-2", True, "1 of 4"),
    ("0.5", False, "counted twice"), ("4", False, "inverse"), ("0.3", False, "count again"),
])
def test_number_verdicts(value, correct, phrase):
    verdict = judge(NUMBER, value)
    assert verdict.correct is correct and phrase in verdict.message and verdict.counted


@pytest.mark.parametrize("value, correct, phrase", [
    ("(m+n)*k", True, "one k-vector"), ("k*m + n*k", True, "one k-vector"), ("k(m+n)".replace("(", "*("), True, ""),
    ("m n", None, "cannot read"), ("m*n", False, "whole matrix"), ("k*n*m", False, "k multiplies"),
    ("m + n + k", False, "other values"), ("m^2", False, "other values"), ("x * k", None, "unknown name 'x'"),
])
def test_expression_verdicts(value, correct, phrase):
    verdict = judge(EXPRESSION, value)
    if correct is None:
        assert not verdict.counted and phrase in verdict.message
    else:
        assert verdict.correct is correct and phrase in verdict.message


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "m.__class__", "[m for m in n]",
                                  "open('x')", "lambda: 1", "m if n else k", "True"])
def test_expressions_are_only_arithmetic(text):
    with pytest.raises(ValueError):
        parse_expression(text, ("m", "n", "k"))


def test_answer_prints_records_and_returns(registered, capsys):
    assert ex.answer("q_test_choice", 2) is False
    assert capsys.readouterr().out == "❌ q_test_choice: Not this one. c forgets lambda\n"
    assert ex.answer("q_test_choice", 1) is True
    assert "✅ q_test_choice: Right. b is the ridge solution" in capsys.readouterr().out
    assert ex.answer("q_test_number", "") is False  # empty: not an attempt
    frame = ex.progress().set_index("exercise")
    assert frame.loc["q_test_choice", "attempts"] == 2 and frame.loc["q_test_choice", "passed"]
    assert frame.loc["q_test_number", "attempts"] == 0


def test_unknown_question(capsys):
    assert ex.answer("q_nope", 1) is False
    assert "unknown question 'q_nope'" in capsys.readouterr().out


def test_the_widget_checks_explains_and_records_only_on_check(registered):
    import ipywidgets as widgets

    box = ex.ask("q_test_choice", 3)
    assert "mfteach-question" in box._dom_classes and "mfteach-q-q_test_choice" in box._dom_classes
    assert isinstance(box.control, widgets.ToggleButtons) and box.control.value is None
    assert [label for label, _ in box.control.options] == ["A", "B", "C"]
    assert box.children[0].value.startswith("<b>Question 3. </b>Which?")
    assert "<b>B.</b> b" in box.children[1].value  # the choices, typeset, each with its letter
    assert ex.progress().set_index("exercise").loc["q_test_choice", "attempts"] == 0
    explain = box.children[3].children[1]
    assert explain.disabled                  # the explanation gives the answer away: not before an answer
    box.on_explain(None)
    assert "opens after your first answer" in box.feedback.value and "ridge solution" not in box.feedback.value
    box.on_check(None)  # nothing chosen yet
    assert "No answer yet" in box.feedback.value and explain.disabled
    box.control.value = 0
    box.on_check(None)
    assert not explain.disabled              # a wrong answer opens it too
    assert ex.ask("q_test_choice").children[3].children[1].disabled is False   # and it stays open
    assert box.feedback.value.startswith("❌") and "a is the transpose" in box.feedback.value
    box.control.value = 1
    box.on_check(None)
    assert box.feedback.value.startswith("✅") and "ridge solution" in box.feedback.value
    box.on_explain(None)
    assert "Explanation" in box.feedback.value
    assert ex.progress().set_index("exercise").loc["q_test_choice", "attempts"] == 2


def test_the_text_widget_and_the_buttons_are_keyboard_controls(registered):
    import ipywidgets as widgets

    box = ex.ask("q_test_expression")
    assert isinstance(box.control, widgets.Text)
    box.control.value = "k*(n+m)"
    box.on_check(None)
    assert box.feedback.value.startswith("✅")
    buttons = box.children[2].children
    assert [b.description for b in buttons] == ["Check", "Show explanation"]
    assert all(isinstance(b, widgets.Button) for b in buttons)


def test_quiz_by_lesson_number(registered):
    box = ex.quiz("99")
    assert [c for child in box.children[1:] for c in child._dom_classes if c.startswith("mfteach-q-")] == \
        ["mfteach-q-q_test_choice", "mfteach-q-q_test_number", "mfteach-q-q_test_expression"]


def test_quiz_of_a_lesson_without_questions(capsys):
    assert ex.quiz("77_none") is None
    assert "no questions for lesson '77_none'" in capsys.readouterr().out


def test_prompts_keep_math_and_render_markdown_emphasis():
    from mfteach.exercises.questions import _html

    assert _html("User A rated *Fargo* 5, **not** `U @ V`") == \
        "User A rated <i>Fargo</i> 5, <b>not</b> <code>U @ V</code>"
    assert _html("$a*b*c$ and <x>") == "$a*b*c$ and &lt;x&gt;"  # math untouched, HTML escaped
