"""The registry: every checked exercise (``Exercise``) and every question (``Question``).

Lesson modules (``lesson00.py`` ...) register their items on import::

    @register(lesson="04_gradient_descent", title="...", cases=_my_cases, hints=["...", "...", "..."],
              diagnostics=[Diagnostic(_wrong_fn, "what this mistake is and how to fix it")])
    def my_function(R, U, V):
        ...                                  # the reference, written as the lesson writes it

    register_question(name="...", lesson="04_gradient_descent", prompt="...", kind="choice",
                      choices=["...", "...", "..."], answer=1,
                      feedback={0: "why 0 is wrong", 2: "why 2 is wrong"}, explanation="...")

This module holds data only; checking lives in ``check.py`` and ``questions.py``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Diagnostic", "Exercise", "EXERCISES", "register", "Question", "QUESTIONS", "register_question",
           "QUESTION_KINDS"]


@dataclass(frozen=True)
class Diagnostic:
    """A recognisable mistake: ``wrong`` computes the wrong answer from the test inputs.

    ``check`` prints ``message`` when the learner's results equal ``wrong(*case)`` on every
    test case, or when the learner's function raised and ``wrong`` raises the same exception
    (same type and message) on the same test case: a mistake that crashes is recognised too.
    """

    wrong: Callable[..., Any]
    message: str


@dataclass
class Exercise:
    """One checked coding exercise.

    Parameters
    ----------
    name : str
        What the learner types: ``%%check name`` or ``check("name", fn)``.
    title : str
        One line saying what to write (the task, not the formula).
    reference : callable
        The reference implementation; its source is what ``solution(name)`` prints.
    make_cases : callable
        ``make_cases(rng) -> list`` of test cases drawn from ``rng``, a
        ``np.random.default_rng(seed)``. A case is a tuple of positional arguments or a dict of
        keyword arguments. The first case is the small one shown when a result is wrong.
    hints : list of str
        Progressively more specific nudges; ``hint(name)`` prints the next one.
    lesson : str
        The lesson notebook (without ``.ipynb``) the exercise belongs to.
    function_name : str
        The name the learner's function should have (``%%check`` looks for it).
    diagnostics : list of Diagnostic
        Typical mistakes and what to say about them.
    time_limit : float
        Seconds each call of the learner's function may take.
    rtol, atol : float
        Tolerances of the comparison with the reference (``np.allclose``).
    seed : int
        Seed of the generator passed to ``make_cases``.
    """

    name: str
    title: str
    reference: Callable[..., Any]
    make_cases: Callable[[np.random.Generator], list]
    hints: list[str] = field(default_factory=list)
    lesson: str = ""
    function_name: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    time_limit: float = 5.0
    rtol: float = 1e-6
    atol: float = 1e-8
    seed: int = 0
    kind = "code"

    def __post_init__(self):
        if not self.function_name:
            self.function_name = self.reference.__name__
        self.diagnostics = [d if isinstance(d, Diagnostic) else Diagnostic(*d) for d in self.diagnostics]

    def cases(self) -> list:
        """The test cases, always the same ones (fixed seed)."""
        return list(self.make_cases(np.random.default_rng(self.seed)))


#: name -> Exercise, in the order the lessons define them.
EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise | None = None, /, **options):
    """Add an exercise to the registry.

    Either ``register(Exercise(...))``, or as a decorator on the reference function::

        @register(lesson="00_recommenders_as_matrices", title="...", cases=make_cases,
                  hints=["...", "..."], diagnostics=[Diagnostic(wrong_fn, "message")])
        def density(R):
            ...

    The decorator's keywords are the fields of :class:`Exercise` (``cases`` is short for
    ``make_cases``; ``name`` defaults to the function's name). A name registered again
    replaces the earlier exercise. The decorated function is returned unchanged.
    """
    if exercise is not None:
        if not isinstance(exercise, Exercise):
            raise TypeError(f"register() takes an Exercise or keyword options, got {exercise!r}")
        _check_free(exercise.name, EXERCISES)
        EXERCISES[exercise.name] = exercise
        return exercise
    fields = {("make_cases" if key == "cases" else key): value for key, value in options.items()}

    def decorate(reference):
        name = fields.get("name") or reference.__name__
        _check_free(name, EXERCISES)
        EXERCISES[name] = Exercise(**{**fields, "name": name, "reference": reference})
        return reference

    return decorate


# ============================================================================ questions
QUESTION_KINDS = ("choice", "number", "expression")

#: the names an expression answer may use besides its variables
EXPRESSION_FUNCTIONS = {"sqrt": np.sqrt, "log": np.log, "exp": np.exp, "abs": np.abs}


@dataclass
class Question:
    """One check-your-understanding question, answered in the notebook.

    Parameters
    ----------
    name : str
        Unique name; ``answer(name, value)`` and ``ask(name)`` use it.
    lesson : str
        The lesson notebook (without ``.ipynb``).
    prompt : str
        The question. May use ``$...$`` for math (the widget renders it).
    answer : int, float or str
        ``kind="choice"``: the index of the right choice. ``"number"``: the value.
        ``"expression"``: the right expression in ``variables``, e.g. ``"(m + n) * k"``.
    kind : {"choice", "number", "expression"}
    choices : list of str
        The options of a multiple-choice question.
    feedback : dict
        Wrong answer -> what is wrong with it. ``"choice"``: every wrong index needs one.
        ``"number"``: keys are typical wrong values (matched with the tolerance).
        ``"expression"``: keys are typical wrong expressions (matched by value).
    explanation : str
        Why the right answer is right; shown after a correct answer or on request.
    default_feedback : str
        For a wrong number or expression that is none of ``feedback``'s keys.
    tolerance : float or None
        ``"number"``: accepted absolute error (default: relative 1e-3).
    variables : tuple of str
        ``"expression"``: the symbols the learner may use.
    """

    name: str
    lesson: str
    prompt: str
    answer: Any
    kind: str = "choice"
    choices: list[str] = field(default_factory=list)
    feedback: dict = field(default_factory=dict)
    explanation: str = ""
    default_feedback: str = ""
    tolerance: float | None = None
    variables: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in QUESTION_KINDS:
            raise ValueError(f"question {self.name!r}: kind must be one of {QUESTION_KINDS}, got {self.kind!r}")
        if not self.explanation:
            raise ValueError(f"question {self.name!r}: give an explanation of the right answer")
        if self.kind == "choice":
            n = len(self.choices)
            if n < 2 or not isinstance(self.answer, int) or not 0 <= self.answer < n:
                raise ValueError(f"question {self.name!r}: a choice question needs >= 2 choices and the "
                                 f"index of the right one as answer, got answer={self.answer!r} of {n}")
            missing = [j for j in range(n) if j != self.answer and not self.feedback.get(j)]
            if missing:
                raise ValueError(f"question {self.name!r}: every wrong choice needs feedback; missing {missing}")
        elif self.kind == "number":
            self.answer = float(self.answer)
            self.feedback = {float(k): v for k, v in self.feedback.items()}
        else:
            self.variables = tuple(self.variables)
            if not self.variables:
                raise ValueError(f"question {self.name!r}: an expression question needs its variables")
            for text in [self.answer, *self.feedback]:
                ast.parse(str(text), mode="eval")  # a SyntaxError here is the author's typo


#: name -> Question, in the order the lessons define them.
QUESTIONS: dict[str, Question] = {}


def register_question(question: Question | None = None, /, **options) -> Question:
    """Add a question to the registry: ``register_question(Question(...))`` or with its fields."""
    if question is None:
        question = Question(**options)
    elif not isinstance(question, Question):
        raise TypeError(f"register_question() takes a Question or keyword options, got {question!r}")
    _check_free(question.name, QUESTIONS)
    QUESTIONS[question.name] = question
    return question


def _check_free(name: str, own: dict) -> None:
    """Exercises and questions share one namespace (progress() lists both by name)."""
    other = QUESTIONS if own is EXERCISES else EXERCISES
    if name in other:
        raise ValueError(f"{name!r} is already registered as {'a question' if other is QUESTIONS else 'an exercise'}")
