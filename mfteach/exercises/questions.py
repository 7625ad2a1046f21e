"""Check-your-understanding questions: multiple choice, a number, or a short expression.

``judge(question, value)`` is the pure part: it returns a :class:`Verdict` with the specific
feedback for that answer (every wrong choice has its own; typical wrong numbers and expressions
are recognised by value). ``answer(name, value)`` prints it and records the attempt;
``ask(name)`` and ``quiz(lesson)`` show questions as widgets (the choices typeset with their
math and one letter button each, or a text box; a Check button; an explanation on request),
keyboard-operable and needing no server.

Expressions are read with a small whitelist of Python syntax (numbers, the question's
variables, + - * / ** and ^, parentheses, sqrt log exp abs) and compared with the right answer
by value at fixed random points, so ``k*(m+n)`` and ``m*k + n*k`` are both right.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass

import numpy as np

from . import records
from .registry import EXPRESSION_FUNCTIONS, QUESTIONS, Question

__all__ = ["Verdict", "judge", "answer", "ask", "quiz", "parse_expression", "questions_of"]


LETTERS = "ABCDEFGHIJ"  # a choice question's options are shown as A, B, C, ...


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str
    counted: bool = True  # False for an empty or unreadable answer: not an attempt


# ---------------------------------------------------------------------------- reading answers
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.UAdd, ast.USub)


def parse_expression(text: str, variables=()) -> ast.Expression:
    """The answer as a checked syntax tree; ``ValueError`` with a readable reason otherwise."""
    source = str(text).strip().replace("^", "**").replace("×", "*").replace("·", "*").replace("−", "-")
    if not source:
        raise ValueError("the answer is empty")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot read {text!r} as a formula (write products with *, e.g. 2*k)") from None
    allowed = set(variables) | set(EXPRESSION_FUNCTIONS)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load, *_OPERATORS)):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            continue
        if isinstance(node, ast.Name):
            if node.id not in allowed:
                names = ", ".join(variables) if variables else "no letters, only numbers"
                raise ValueError(f"unknown name {node.id!r} (you may use {names})")
            continue
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in EXPRESSION_FUNCTIONS
                and len(node.args) == 1 and not node.keywords):
            continue
        raise ValueError(f"{text!r} uses something other than numbers, {', '.join(variables) or 'operators'} "
                         "and + - * / ** ( ) sqrt log exp abs")
    return tree


def _evaluate(tree: ast.Expression, values: dict[str, np.ndarray]) -> np.ndarray:
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return np.float64(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand) if isinstance(node.op, ast.USub) else ev(node.operand)
        if isinstance(node, ast.Call):
            return EXPRESSION_FUNCTIONS[node.func.id](ev(node.args[0]))
        left, right = ev(node.left), ev(node.right)
        op = node.op
        return (left + right if isinstance(op, ast.Add) else left - right if isinstance(op, ast.Sub)
                else left * right if isinstance(op, ast.Mult) else left / right if isinstance(op, ast.Div)
                else np.power(left, right))

    with np.errstate(all="ignore"):
        return np.asarray(ev(tree), dtype=float) * np.ones(len(next(iter(values.values()), [0])))


def _points(variables) -> dict[str, np.ndarray]:
    """Fixed evaluation points: integers 2..12 and non-integers, the same every time."""
    rng = np.random.default_rng(12345)
    count = 8
    return {v: np.concatenate([rng.integers(2, 13, size=count // 2), rng.uniform(1.5, 9.5, size=count // 2)])
            .astype(float) for v in variables}


def _same_expression(a: ast.Expression, b: ast.Expression, variables) -> bool:
    points = _points(variables) if variables else {"_": np.zeros(1)}
    x, y = _evaluate(a, points), _evaluate(b, points)
    ok = np.isfinite(y)
    return bool(ok.any() and np.all(np.isfinite(x[ok])) and np.allclose(x[ok], y[ok], rtol=1e-9, atol=1e-12))


def _number(text) -> float:
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return float(text)
    value = _evaluate(parse_expression(text), {"_": np.zeros(1)})[0]
    if not np.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return float(value)


def _close(x: float, target: float, tolerance: float | None) -> bool:
    if tolerance is None:
        return bool(np.isclose(x, target, rtol=1e-3, atol=1e-9))
    return abs(x - target) <= tolerance


# ---------------------------------------------------------------------------- judging
def judge(question: Question, value) -> Verdict:
    """The verdict on ``value`` as an answer to ``question`` (pure: records nothing)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        hint = "choose one of the options" if question.kind == "choice" else "type your answer"
        return Verdict(False, f"No answer yet: {hint}, then check.", counted=False)
    if question.kind == "choice":
        index = value
        if isinstance(value, str):  # a choice's letter ("B") or its whole text
            letter = value.strip().upper()
            matches = [j for j, c in enumerate(question.choices) if c == value or letter == LETTERS[j]]
            index = matches[0] if matches else value
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < len(question.choices):
            return Verdict(False, f"Answer with a choice's letter, A to {LETTERS[len(question.choices) - 1]} "
                                  f"(or its index, 0 to {len(question.choices) - 1}).",
                           counted=False)
        if index == question.answer:
            return Verdict(True, "Right. " + question.explanation)
        return Verdict(False, "Not this one. " + question.feedback[int(index)])
    try:
        if question.kind == "number":
            x = _number(value)
        else:
            tree = parse_expression(value, question.variables)
    except ValueError as exc:
        return Verdict(False, f"Cannot read your answer: {exc}.", counted=False)
    if question.kind == "number":
        if _close(x, question.answer, question.tolerance):
            return Verdict(True, "Right. " + question.explanation)
        for wrong, message in question.feedback.items():
            if _close(x, wrong, question.tolerance):
                return Verdict(False, "Not quite. " + message)
        return Verdict(False, "Not quite. " + (question.default_feedback or f"{x:g} is not it; try again."))
    if _same_expression(tree, parse_expression(question.answer, question.variables), question.variables):
        return Verdict(True, "Right. " + question.explanation)
    for wrong, message in question.feedback.items():
        if _same_expression(tree, parse_expression(wrong, question.variables), question.variables):
            return Verdict(False, "Not quite. " + message)
    return Verdict(False, "Not quite. " + (question.default_feedback or "That expression has other values; try again."))


def _question(name) -> Question | None:
    question = QUESTIONS.get(name) if isinstance(name, str) else None
    if question is None:
        print(f"❓ unknown question {name!r}. Known questions: {', '.join(QUESTIONS) or '(none)'}")
    return question


def _mark(verdict: Verdict) -> str:
    return "✅" if verdict.correct else ("✏️" if not verdict.counted else "❌")


def answer(name: str, value) -> bool:
    """Answer question ``name`` with ``value`` (a choice's index, a number, or an expression):
    prints the feedback, records the attempt, returns whether it is right."""
    question = _question(name)
    if question is None:
        return False
    verdict = judge(question, value)
    if verdict.counted:
        records.record(name, passed=verdict.correct)
    print(f"{_mark(verdict)} {name}: {verdict.message}")
    return verdict.correct


def questions_of(lesson: str) -> list[Question]:
    """The questions of a lesson, by its notebook name or its number ("03")."""
    return [q for q in QUESTIONS.values() if q.lesson == lesson or q.lesson.split("_")[0] == str(lesson)]


# ---------------------------------------------------------------------------- widgets
_EMPHASIS = [(re.compile(r"\*\*(.+?)\*\*"), r"<b>\1</b>"), (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<i>\1</i>")]


def _html(text: str) -> str:
    """Escape for HTML; keep $...$ for MathJax; `code` as <code>, **bold** and *italic* outside math."""
    pieces = re.split(r"(\$[^$]+\$)", text)
    out = []
    for j, piece in enumerate(pieces):
        if j % 2:  # math, typeset by MathJax
            out.append(html.escape(piece, quote=False))
            continue
        parts = html.escape(piece, quote=False).split("`")
        for k, part in enumerate(parts):
            if k % 2:
                out.append(f"<code>{part}</code>")
            else:
                for pattern, replacement in _EMPHASIS:
                    part = pattern.sub(replacement, part)
                out.append(part)
    return "".join(out)


EXPLAIN_LOCKED = "The explanation opens after your first answer: choose or type one and press Check"


def ask(name: str, number: int | None = None):
    """A widget for question ``name``: the prompt, the choices or a text box, Check and
    Show-explanation buttons, and the feedback. Displaying it records nothing; Check does. The
    explanation, which gives the answer away, opens after the first checked answer (in this
    session or an earlier one)."""
    import ipywidgets as widgets

    question = _question(name)
    if question is None:
        return None
    label = f"Question {number}. " if number else ""
    prompt = widgets.HTMLMath(f"<b>{label}</b>{_html(question.prompt)}", layout=widgets.Layout(width="100%"))
    listing = None
    if question.kind == "choice":  # the choices typeset with their math; a letter button picks one
        listing = widgets.HTMLMath("".join(f"<div style='margin:2px 0'><b>{LETTERS[j]}.</b> {_html(c)}</div>"
                                           for j, c in enumerate(question.choices)),
                                   layout=widgets.Layout(width="100%"))
        control = widgets.ToggleButtons(options=[(LETTERS[j], j) for j in range(len(question.choices))],
                                        value=None, tooltips=[f"choice {LETTERS[j]}" for j in range(len(question.choices))],
                                        style=widgets.ToggleButtonsStyle(button_width="3em"))
    else:
        what = "a number (e.g. 0.25 or 1/4)" if question.kind == "number" else \
            f"an expression in {', '.join(question.variables)}"
        # continuous_update=False: the box sends its text when it loses focus (Tab or a click on Check),
        # so Check never judges a value a keystroke behind (seen with ipywidgets 8's throttled updates)
        control = widgets.Text(placeholder=f"type {what}", continuous_update=False, layout=widgets.Layout(width="60%"))
    check_button = widgets.Button(description="Check", button_style="primary", tooltip="check your answer")
    # the explanation gives the answer away: it opens after a first answer (now or in an earlier session)
    explain_button = widgets.Button(description="Show explanation", tooltip=EXPLAIN_LOCKED, disabled=True)

    def unlock():
        explain_button.disabled, explain_button.tooltip = False, "show why the right answer is right"

    if int(records.entry(name).get("attempts", 0)) > 0:
        unlock()
    result = widgets.HTMLMath("")
    for widget, css in [(control, "mfteach-question-input"), (check_button, "mfteach-question-check"),
                        (explain_button, "mfteach-question-explain"), (result, "mfteach-question-feedback")]:
        widget.add_class(css)

    def on_check(_):
        verdict = judge(question, control.value)
        if verdict.counted:
            records.record(name, passed=verdict.correct)
            unlock()
        result.value = f"{_mark(verdict)} {_html(verdict.message)}"

    def on_explain(_):
        if explain_button.disabled:
            result.value = f"🔒 {EXPLAIN_LOCKED}."
            return
        result.value = f"💡 <b>Explanation.</b> {_html(question.explanation)}"

    check_button.on_click(on_check)
    explain_button.on_click(on_explain)
    box = widgets.VBox([prompt, *([listing] if listing else []), control,
                        widgets.HBox([check_button, explain_button]), result],
                       layout=widgets.Layout(border="1px solid #ccc", padding="4px 8px", margin="6px 0"))
    box.add_class("mfteach-question")
    box.add_class(f"mfteach-q-{name}")
    box.on_check, box.on_explain, box.control, box.feedback = on_check, on_explain, control, result
    return box


def quiz(lesson: str):
    """All questions of ``lesson`` (its notebook name, or its number such as "03") as one widget."""
    import ipywidgets as widgets

    found = questions_of(lesson)
    if not found:
        print(f"❓ no questions for lesson {lesson!r}.")
        return None
    intro = widgets.HTML(f"<b>{len(found)} questions.</b> Choose or type an answer and press <i>Check</i> "
                         "(Tab moves between the letters, the text boxes and the buttons; Enter or Space presses "
                         "the one in focus). After your first answer, <i>Show explanation</i> gives the reasoning.")
    box = widgets.VBox([intro, *(ask(q.name, j + 1) for j, q in enumerate(found))])
    box.add_class("mfteach-quiz")
    return box
