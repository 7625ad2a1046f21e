"""mfteach.exercises.records: the progress file and progress()."""

import json
import warnings

import pytest

import mfteach.exercises as ex


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


# ---------------------------------------------------------------------------- progress
def test_progress_records_attempts_and_passes(isolated, capsys):
    ex.check("regularized_loss", lambda R, U, V, reg: 0.0)
    ex.check("regularized_loss", ex.EXERCISES["regularized_loss"].reference)
    frame = ex.progress()
    assert list(frame.columns) == ["exercise", "lesson", "kind", "passed", "attempts", "hints_used"]
    assert sorted(frame["exercise"]) == sorted([*ex.EXERCISES, *ex.QUESTIONS])
    assert list(frame["lesson"]) == sorted(frame["lesson"])  # lesson by lesson, code before questions
    for _, rows in frame.groupby("lesson"):
        kinds = list(rows["kind"])
        assert kinds == sorted(kinds) and set(kinds) == {"code", "question"}
    row = frame.set_index("exercise").loc["regularized_loss"]
    assert row["attempts"] == 2 and bool(row["passed"]) is True
    assert row["lesson"] == "00_recommenders_as_matrices"
    other = frame.set_index("exercise").loc["density"]
    assert other["attempts"] == 0 and bool(other["passed"]) is False
    assert frame["passed"].dtype == bool
    path = isolated / "progress.json"
    assert path.is_file()
    stored = json.loads(path.read_text())["exercises"]["regularized_loss"]
    assert stored["attempts"] == 2 and stored["passed"] is True
    assert [p.name for p in isolated.iterdir()] == ["progress.json"]  # no temporary files left
    assert "1 of" in capsys.readouterr().out


def test_a_pass_stays_a_pass(isolated):
    ex.check("density", ex.EXERCISES["density"].reference)
    ex.check("density", lambda R: 0.0)
    row = ex.progress().set_index("exercise").loc["density"]
    assert row["attempts"] == 2 and bool(row["passed"]) is True


def test_unknown_names_are_not_recorded(isolated):
    ex.check("nope", print)
    assert not (isolated / "progress.json").exists()


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", '{"exercises": {"density": 3}}', ""])
def test_corrupt_progress_file_does_not_break_check(isolated, garbage, capsys):
    isolated.mkdir()
    (isolated / "progress.json").write_text(garbage)
    with pytest.warns(RuntimeWarning, match="corrupt"):
        assert ex.check("density", ex.EXERCISES["density"].reference) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert ex.check("density", ex.EXERCISES["density"].reference) is True
    assert "✅ density" in capsys.readouterr().out
    assert json.loads((isolated / "progress.json").read_text())["exercises"]["density"]["attempts"] >= 1


def test_unwritable_progress_home_does_not_break_check(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MFTEACH_HOME", str(blocker / "home"))
    with pytest.warns(RuntimeWarning, match="cannot"):
        assert ex.check("density", ex.EXERCISES["density"].reference) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ex.check("density", lambda R: 0.0) is False
        frame = ex.progress()  # this session's record is still there
    row = frame.set_index("exercise").loc["density"]
    assert row["attempts"] == 2 and bool(row["passed"]) is True


def test_default_progress_path(monkeypatch, tmp_path):
    monkeypatch.delenv("MFTEACH_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ex.progress_path() == tmp_path / ".mfteach" / "progress.json"


def test_reset_progress_starts_over(isolated, capsys):
    ex.check("density", lambda R: 0.0)
    ex.hint("density")
    ex.reset_progress()
    assert not (isolated / "progress.json").exists()
    frame = ex.progress().set_index("exercise")
    assert frame.loc["density", "attempts"] == 0 and frame.loc["density", "hints_used"] == 0


def test_questions_are_recorded_like_exercises(isolated):
    name, question = next((n, q) for n, q in ex.QUESTIONS.items() if q.kind == "choice")
    ex.answer(name, next(iter(question.feedback)))
    ex.answer(name, question.answer)
    row = ex.progress().set_index("exercise").loc[name]
    assert row["kind"] == "question" and row["attempts"] == 2 and bool(row["passed"])
