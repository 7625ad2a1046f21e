"""mfteach.exercises.registry: registering exercises (and questions)."""


import numpy as np
import pytest

import mfteach.exercises as ex


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


@pytest.fixture
def scratch_registry():
    """Whatever a test registers is gone afterwards."""
    saved = dict(ex.EXERCISES), dict(ex.QUESTIONS)
    yield
    for registry, before in zip((ex.EXERCISES, ex.QUESTIONS), saved):
        registry.clear()
        registry.update(before)


# ---------------------------------------------------------------------------- register
def test_register_as_decorator_with_diagnostics_and_hints(scratch_registry, capsys):

    @ex.register(lesson="99_test", title="sum of the first n integers",
                 cases=lambda rng: [(3,)] + [(int(n),) for n in rng.integers(1, 50, size=4)],
                 hints=["first", "second"],
                 diagnostics=[ex.Diagnostic(lambda n: sum(range(n)), "off by one: range(n) stops at n - 1")])
    def triangle(n):
        return sum(range(n + 1))

    assert triangle(3) == 6  # the decorator returns the function unchanged
    exercise = ex.EXERCISES["triangle"]
    assert exercise.function_name == "triangle" and exercise.lesson == "99_test"
    assert ex.check("triangle", lambda n: n * (n + 1) // 2) is True
    capsys.readouterr()
    assert ex.check("triangle", lambda n: sum(range(n))) is False
    out = capsys.readouterr().out
    assert "💡 off by one: range(n) stops at n - 1" in out
    assert "n = 3" in out


def test_register_an_exercise_object_and_tuple_results(scratch_registry, capsys):
    def split(x):
        return x.min(), x.max()

    exercise = ex.Exercise(name="split", title="t", reference=split,
                           make_cases=lambda rng: [{"x": rng.normal(size=5)}])  # a case may be kwargs
    assert ex.register(exercise) is exercise
    assert ex.EXERCISES["split"] is exercise
    assert ex.check("split", lambda x: (x.min(), x.max())) is True
    capsys.readouterr()
    assert ex.check("split", lambda x: (x.min(), x.min())) is False
    assert "part 2" in capsys.readouterr().out
    assert ex.check("split", lambda x: x.min()) is False
    assert "a tuple of 2 values" in capsys.readouterr().out


def test_learner_cannot_spoil_the_test_inputs():
    def density(R):
        R[np.isnan(R)] = 0.0  # mutates its input ...
        return 0.5

    ex.check("density", density)
    # ... but every call gets a fresh copy, so the reference still passes afterwards
    assert ex.check("density", ex.EXERCISES["density"].reference) is True


def test_names_are_shared_between_exercises_and_questions(scratch_registry):
    name = next(iter(ex.EXERCISES))
    with pytest.raises(ValueError, match="already registered as an exercise"):
        ex.register_question(name=name, lesson="99_test", prompt="p", choices=["a", "b"], answer=0,
                             feedback={1: "no"}, explanation="e")


@pytest.mark.parametrize("options, problem", [
    (dict(kind="choice", choices=["a", "b", "c"], answer=0, feedback={1: "no"}), "every wrong choice needs feedback"),
    (dict(kind="choice", choices=["a", "b"], answer=2, feedback={0: "x", 1: "y"}), "index of the right one"),
    (dict(kind="essay", answer="x"), "kind must be one of"),
    (dict(kind="expression", answer="m * n"), "needs its variables"),
    (dict(kind="choice", choices=["a", "b"], answer=0, feedback={1: "no"}, explanation=""), "explanation"),
])
def test_a_malformed_question_is_refused_with_the_reason(scratch_registry, options, problem):
    fields = {"name": "q_bad", "lesson": "99_test", "prompt": "p", "explanation": "e", **options}
    with pytest.raises(ValueError, match=problem):
        ex.register_question(**fields)
    assert "q_bad" not in ex.QUESTIONS
