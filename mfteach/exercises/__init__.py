"""Checked exercises and questions: ``check``, ``hint``, ``solution``, ``answer``, ``quiz``,
``progress`` and the ``%%check`` magic.

In a lesson::

    %load_ext mfteach

    %%check predict_ratings
    def predict_ratings(U, V):
        ...                       # the learner's code

or, without the magic, ``mt.exercises.check("predict_ratings", predict_ratings)``; at the end
of a lesson, ``mt.exercises.quiz("06_alternating_least_squares")`` shows its questions.

The package, one idea per module:

- ``registry``: :class:`Exercise`, :class:`Diagnostic`, :class:`Question`, ``register``,
  ``register_question`` and the registries ``EXERCISES`` and ``QUESTIONS``;
- ``sandbox``: runs the learner's function in a forked child under a hard time limit;
- ``compare``: what differs between the learner's result and the reference;
- ``feedback``: the reports the learner reads, and the learner's line in a traceback;
- ``checker``: ``check(name, fn)``;
- ``hints``: ``hint`` and ``solution``;
- ``questions``: ``judge``, ``answer``, ``ask`` and ``quiz``;
- ``records``: the progress file, ``progress()`` and ``reset_progress()``;
- ``magic``: the ``%%check`` cell magic;
- ``lesson00`` ... ``lesson17``: each lesson's exercises and questions, registered on import.

The reference functions are reachable here by their exercise names
(``mt.exercises.predict_ratings``). Notation (ARCHITECTURE.md, "Notation"): R is m x n with users in rows
and NaN for unknown entries, U (m x k) and V (n x k) are the user and item factors,
R_hat = U V^T, lambda is ``reg``.
"""

from __future__ import annotations

from .checker import check
from .hints import hint, solution
from .magic import load_ipython_extension
from .records import progress, progress_path, reset_progress
from .questions import answer, ask, judge, quiz
from .registry import EXERCISES, QUESTIONS, Diagnostic, Exercise, Question, register, register_question

# Each lesson module registers its exercises and questions on import.
from . import (  # noqa: E402,F401
    lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08,
    lesson09, lesson10, lesson11, lesson12, lesson13, lesson14, lesson15, lesson16, lesson17,
)

__all__ = [
    "Exercise", "Diagnostic", "Question", "EXERCISES", "QUESTIONS", "register", "register_question",
    "check", "hint", "solution", "answer", "ask", "judge", "quiz",
    "progress", "progress_path", "reset_progress", "load_ipython_extension",
]


def __getattr__(name):
    """``mt.exercises.<exercise name>`` is that exercise's reference function."""
    exercise = EXERCISES.get(name)
    if exercise is None:
        raise AttributeError(f"module 'mfteach.exercises' has no attribute {name!r}")
    return exercise.reference


def __dir__():
    return sorted(set(globals()) | set(EXERCISES))
