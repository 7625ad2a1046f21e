"""Grading the questions from a notebook FILE.

The quiz widgets keep the learner's choice in the browser, not in the saved notebook, so the
grader reads answer lines instead: ``mt.exercises.answer("question", value)``, one per question,
which the student edition puts after the quiz (the learner replaces ``None`` and runs the cell;
running it gives the same feedback as the widget). The value is read from the file with
``ast.literal_eval`` (a letter such as "B", a number, a quoted expression; nothing is executed)
and judged by ``mt.exercises.judge``, the quiz's own judge. The last line of a question counts.
"""

from __future__ import annotations

from ..exercises.questions import judge
from ..exercises.registry import QUESTIONS
from .kernel import first_sentence
from .notebooks import answer_lines

__all__ = ["grade_answers"]

_NO_LINE = ("no answer line (answers clicked in the quiz widget are not saved in the notebook; the student "
            "edition has one mt.exercises.answer line per question)")


def grade_answers(nb: dict, names: list[str]) -> list[dict]:
    """One result per question: item, passed, mistake (the feedback of a recognised wrong answer), error, note."""
    answers = answer_lines(nb)
    results = []
    for name in names:
        question = QUESTIONS[name]
        found = answers.get(name)
        result = {"item": name, "passed": False, "mistake": "", "error": "", "note": ""}
        if found is None:
            result["error"] = _NO_LINE
        elif not found.readable:
            result["error"] = (f"the answer `{found.text[:60]}` is not a plain value; write a letter, a number or "
                               "an expression in quotes")
        else:
            verdict = judge(question, found.value)
            result["passed"] = verdict.correct
            if not verdict.counted:
                result["error"] = "no answer yet" if found.value is None else first_sentence(verdict.message, 160)
            elif not verdict.correct:
                result["error"] = f"wrong answer {found.text[:60]}"
                recognised = [m for m in question.feedback.values() if verdict.message.endswith(m)]
                if recognised:
                    result["mistake"] = first_sentence(recognised[0])
        results.append(result)
    return results
