"""mfteach.exercises.hints: hint() and solution(), counted in progress()."""

import pytest

import mfteach.exercises as ex


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


def _hint_lines(out):
    return [line for line in out.splitlines() if line.startswith("💡")]


def test_hints_come_in_order_then_say_they_are_done(capsys):
    hints = ex.EXERCISES["regularized_loss"].hints
    for _ in range(len(hints) + 2):
        ex.hint("regularized_loss")
    lines = _hint_lines(capsys.readouterr().out)
    for j, line in enumerate(lines[:len(hints)]):
        assert line == f"💡 Hint {j + 1} of {len(hints)} for regularized_loss: {hints[j]}"
    for line in lines[len(hints):]:  # never silently back to hint 1
        assert line == f"💡 regularized_loss: that was all {len(hints)} hints. The last one again: {hints[-1]}"
    assert ex.progress().set_index("exercise").loc["regularized_loss", "hints_used"] == len(hints)


def test_the_last_hint_points_to_the_solution(capsys):
    hints = ex.EXERCISES["density"].hints
    for _ in hints:
        ex.hint("density")
    assert "(That was the last hint; mt.exercises.solution('density') shows the reference.)" in capsys.readouterr().out


def test_hints_are_counted_per_exercise_and_survive_a_restart(capsys, monkeypatch):
    ex.hint("density")
    ex.hint("density")
    ex.hint("predict_ratings")
    out = capsys.readouterr().out
    assert "Hint 2 of" in out and "Hint 1 of" in out and "for predict_ratings" in out
    monkeypatch.setattr(ex.records, "_SESSION_PROGRESS", {})  # a new kernel reads the file
    ex.hint("density")
    assert "Hint 3 of" in capsys.readouterr().out


def test_a_seen_hint_can_be_read_again(capsys):
    hints = ex.EXERCISES["density"].hints
    ex.hint("density")
    ex.hint("density")
    capsys.readouterr()
    ex.hint("density", 1)
    assert capsys.readouterr().out == f"💡 Hint 1 of {len(hints)} for density: {hints[0]}\n"
    ex.hint("density", 3)  # not seen yet: no peeking ahead
    assert "you have seen 2 of" in capsys.readouterr().out
    assert ex.progress().set_index("exercise").loc["density", "hints_used"] == 2


def test_solution_prints_the_reference_source_and_is_noted(capsys, isolated):
    ex.solution("predict_ratings")
    out = capsys.readouterr().out
    assert out.startswith("Reference solution for predict_ratings")
    assert "def predict_ratings(U, V):" in out
    assert "@register" not in out and "Diagnostic" not in out
    assert ex.records.entry("predict_ratings")["solution_seen"] is True


def test_hint_and_solution_of_unknown_names(capsys):
    ex.hint("nope")
    ex.solution("nope")
    out = capsys.readouterr().out
    assert out.count("unknown exercise 'nope'") == 2 and "predict_ratings" in out


def test_hint_for_a_question_says_where_its_help_is(capsys):
    name = next(iter(ex.QUESTIONS))
    ex.hint(name)
    assert "is a question, not a coding exercise" in capsys.readouterr().out
