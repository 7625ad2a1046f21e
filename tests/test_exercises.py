"""mfteach.exercises: check's verdicts and diagnoses, hints, solutions, progress, %%check."""

import inspect
import json
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.data import toy


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


@pytest.fixture
def extra_exercise(monkeypatch):
    """Register a throw-away exercise (removed again after the test)."""

    def add(exercise):
        monkeypatch.setitem(ex.EXERCISES, exercise.name, exercise)
        return exercise

    return add


def _line_of(fn, text):
    """(line number, stripped source) of the line of ``fn`` that contains ``text``."""
    lines, start = inspect.getsourcelines(fn)
    for offset, line in enumerate(lines):
        if text in line:
            return start + offset, line.strip()
    raise AssertionError(f"{text!r} not in {fn.__name__}")


# ---------------------------------------------------------------------------- the references
LESSONS = Path(__file__).resolve().parents[1] / "lessons"
# every exercise: its lesson, and how many typical mistakes it must recognise at least
REGISTRY = {
    "predict_ratings": ("00_recommenders_as_matrices", 1),  # the one natural slip: V U^T
    "regularized_loss": ("00_recommenders_as_matrices", 5), "density": ("00_recommenders_as_matrices", 4),
    "propagate_rank1": ("01_rank1_completion", 3), "full_gradient": ("02_gradient_descent", 5),
    "user_update": ("03_alternating_least_squares", 5), "predict_biased": ("04_svd_biases_embeddings", 5), "weighted_user_update": ("05_implicit_feedback", 6),
    "influence_matrix_of_user": ("06_influence_and_impact", 6), "infl_of_user_rating": ("07_fast_influence_analysis", 6),
    "rating_hessian": ("08_fia_for_neural_cf", 8),
}


def test_every_lessons_exercise_is_registered():
    assert set(ex.EXERCISES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_with_its_lesson_hints_and_diagnostics(name):
    exercise = ex.EXERCISES[name]
    lesson, min_diagnostics = REGISTRY[name]
    assert exercise.lesson == lesson and exercise.function_name == name
    assert len(exercise.hints) >= 3 and len(exercise.diagnostics) >= min_diagnostics
    assert exercise.time_limit == 5.0
    assert f"%%check {name}" in (LESSONS / f"{lesson}.ipynb").read_text()  # the lesson asks for it


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_cases_are_deterministic(name):
    cases = ex.EXERCISES[name].cases
    for a, b in zip(cases(), cases(), strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", list(ex.EXERCISES))
def test_reference_passes(name, capsys):
    exercise = ex.EXERCISES[name]
    assert ex.check(name, exercise.reference) is True
    out = capsys.readouterr().out
    assert out == f"✅ {name}: correct on {len(exercise.cases())} test cases.\n"


def test_predict_ratings_starts_with_the_lecture_example():
    U, V = ex.EXERCISES["predict_ratings"].cases()[0]
    np.testing.assert_array_equal(U, toy("lecture_U"))
    np.testing.assert_array_equal(V.T, toy("lecture_Vt"))


def test_predict_ratings_reproduces_the_lecture_numbers():
    R_hat = ex.EXERCISES["predict_ratings"].reference(toy("lecture_U"), toy("lecture_Vt").T)
    # the slides: first row 1, 2.3, 1.9, 2.3, 1.9, 3.2 and r_hat_{3,4} = 1.6
    np.testing.assert_allclose(R_hat[0], [1, 2.3, 1.9, 2.3, 1.9, 3.2])
    assert R_hat[2, 3] == pytest.approx(1.6)


def test_regularized_loss_is_the_slides_objective_written_out():
    rng = np.random.default_rng(3)
    R = rng.integers(1, 6, size=(4, 5)).astype(float)
    R[rng.random((4, 5)) < 0.4] = np.nan
    U, V, reg = rng.normal(size=(4, 2)), rng.normal(size=(5, 2)), 0.7
    expected = sum((R[u, i] - U[u] @ V[i]) ** 2 for u in range(4) for i in range(5) if not np.isnan(R[u, i]))
    expected += reg * (sum(U[u] @ U[u] for u in range(4)) + sum(V[i] @ V[i] for i in range(5)))
    assert ex.regularized_loss(R, U, V, reg) == pytest.approx(expected, rel=1e-12)


def test_density_of_the_lecture_matrix():
    assert ex.density(toy("lecture_R")) == pytest.approx(13 / 24)


# ---------------------------------------------------------------------------- diagnoses
def test_transposed_predictions(capsys):
    assert ex.check("predict_ratings", lambda U, V: V @ U.T) is False
    out = capsys.readouterr().out
    assert "❌ predict_ratings" in out
    assert "transpose of the expected one" in out
    assert "(6, 4) instead of (4, 6)" in out
    assert "Need a nudge? mt.exercises.hint('predict_ratings')" in out


def test_transposed_square_result_is_recognised():
    A = np.arange(9.0).reshape(3, 3)
    mismatch = ex._compare(A.T, A, 1e-6, 1e-8)
    assert mismatch.kind == "transpose"
    assert "transpose" in mismatch.text


def test_broadcasting_error_names_the_line_and_explains(capsys):
    def predict_ratings(U, V):
        return U * V

    assert ex.check("predict_ratings", predict_ratings) is False
    out = capsys.readouterr().out
    assert "ValueError" in out and "could not be broadcast" in out
    lineno, source = _line_of(predict_ratings, "return U * V")
    assert f"line {lineno} of test_exercises.py: {source}" in out
    assert "`@`" in out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2), "regularization"),
        (lambda R, U, V, reg: np.mean((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * (np.sum(U**2) + np.sum(V**2)),
         "|Ω|"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T) ** 2) + reg * (np.sum(U**2) + np.sum(V**2)), "NaN"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * np.sum(U**2), "Only U"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * np.sum(V**2), "Only V"),
        (lambda R, U, V, reg: np.sum((np.nan_to_num(R) - U @ V.T) ** 2) + reg * (np.sum(U**2) + np.sum(V**2)),
         "ratings of 0"),
        (lambda R, U, V, reg: np.sum((R - U @ V.T)[~np.isnan(R)] ** 2) + reg * np.sum(U**2) + np.sum(V**2),
         "parentheses"),
    ],
    ids=["no-reg", "mean", "nan", "only-U", "only-V", "zeros", "precedence"],
)
def test_regularized_loss_mistakes(wrong, phrase, capsys):
    assert ex.check("regularized_loss", wrong) is False
    out = capsys.readouterr().out
    assert "💡" in out and phrase in out
    assert out.count("💡") == 1


@pytest.mark.parametrize(
    "name, j",
    [(name, j) for name, exercise in ex.EXERCISES.items() for j in range(len(exercise.diagnostics))],
)
def test_every_diagnostic_is_wrong_and_recognised(name, j, capsys):
    """A learner who makes exactly that mistake fails and reads that message (first match wins).
    Covers every registered exercise, so each lesson's exercises are tested here too."""
    diagnostic = ex.EXERCISES[name].diagnostics[j]
    with np.errstate(all="ignore"):
        assert ex.check(name, diagnostic.wrong) is False
    out = capsys.readouterr().out
    assert "💡 " + diagnostic.message in out


def test_nan_loss_says_nan_in_the_headline(capsys):
    ex.check("regularized_loss", lambda R, U, V, reg: np.sum((R - U @ V.T) ** 2))
    out = capsys.readouterr().out
    assert "your result is NaN" in out
    assert "np.isnan" in out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda R: np.mean(np.isnan(R)), "UNKNOWN"),
        (lambda R: np.count_nonzero(R) / R.size, "NaN as non-zero"),
        (lambda R: np.count_nonzero(~np.isnan(R)) / (R.size - 1), "Off by one"),
        (lambda R: np.count_nonzero(~np.isnan(R)), "|Ω|"),
    ],
    ids=["unknown-fraction", "count-nonzero", "off-by-one", "count"],
)
def test_density_mistakes(wrong, phrase, capsys):
    assert ex.check("density", wrong) is False
    assert phrase in capsys.readouterr().out


def test_wrong_values_are_shown_side_by_side(capsys):
    def predict_ratings(U, V):
        R_hat = U @ V.T
        R_hat[0, 1] += 0.5
        return R_hat

    assert ex.check("predict_ratings", predict_ratings) is False
    out = capsys.readouterr().out
    assert "wrong values" in out
    assert "Test case 1 of 6 (the small one)" in out
    assert "U =" in out and "V =" in out
    header = next(line for line in out.splitlines() if "your result" in line)
    assert "expected" in header  # one line: the two arrays next to each other
    assert "[[1.  2.8 1.9 2.3 1.9 3.2]" in out and "[[1.  2.3 1.9 2.3 1.9 3.2]" in out  # 3 decimals, compact
    assert "1 of 24 entries differ; max |difference| = 0.5 at index (0, 1); first difference at index (0, 1)" in out


def test_a_mistake_only_in_bigger_cases_shows_the_failing_case(capsys):
    def density(R):
        return np.count_nonzero(~np.isnan(R)) / R.size if R.shape != (10, 20) else 0.5

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    assert "Test case 3 of 6 (the small case 1 is right, this one is not)" in out


def test_tiny_differences_are_shown_with_enough_decimals(capsys):
    ex.check("density", lambda R: np.count_nonzero(~np.isnan(R)) / R.size + 1e-5)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "your result" in line)
    values = out.splitlines()[out.splitlines().index(row) + 1].split()
    assert len(values) == 2 and values[0] != values[1]  # the difference is visible ...
    assert float(values[0]) - float(values[1]) == pytest.approx(1e-5, rel=0.1)  # ... and right
    assert "difference: 1e-05" in out


def test_infinite_result_suggests_a_division_by_zero(capsys):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert ex.check("density", lambda R: np.count_nonzero(~np.isnan(R)) / np.int64(0)) is False
    assert "your result is infinite (a division by zero?)" in capsys.readouterr().out


def test_none_returned(capsys):
    def density(R):
        np.count_nonzero(~np.isnan(R)) / R.size

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    assert "returned None — did you forget `return`?" in out


def test_wrong_type_and_wrong_shape(capsys):
    assert ex.check("density", lambda R: "half") is False
    assert "returned a str ('half'), but the result should be a single number" in capsys.readouterr().out
    assert ex.check("predict_ratings", lambda U, V: U @ U.T) is False
    assert "has shape (4, 4), but the expected shape is (4, 6)" in capsys.readouterr().out
    assert ex.check("density", lambda R: np.array([[0.5]])) is False
    assert "should be a single number" in capsys.readouterr().out


def test_array_likes_are_accepted():
    assert ex.check("predict_ratings", lambda U, V: (U @ V.T).tolist()) is True
    assert ex.check("density", lambda R: np.float32(np.count_nonzero(~np.isnan(R)) / R.size)) is True


def test_exception_names_type_message_and_line(capsys):
    def density(R):
        known = 0
        return len(R) / known

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    lineno, source = _line_of(density, "/ known")
    assert "your function raised ZeroDivisionError: division by zero" in out
    assert f"line {lineno} of test_exercises.py: {source}" in out
    assert "Test case 1 of 6: R of shape (4, 6)." in out


def test_exception_in_a_helper_points_at_the_deepest_learner_line(capsys):
    def helper(R):
        return R[R.shape[0]]  # off by one

    def density(R):
        return helper(R)

    assert ex.check("density", density) is False
    out = capsys.readouterr().out
    lineno, source = _line_of(helper, "R[R.shape[0]]")
    assert f"line {lineno} of test_exercises.py: {source}" in out
    assert "IndexError" in out and "off by one" in out


def test_wrong_signature_says_how_the_checker_calls(capsys):
    assert ex.check("regularized_loss", lambda R, U, V: 0.0) is False
    out = capsys.readouterr().out
    assert "TypeError" in out
    assert "regularized_loss(R, U, V, reg)" in out


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError])
def test_check_never_raises(exc, capsys):
    def density(R):
        raise exc()

    assert ex.check("density", density) is False
    assert "density" in capsys.readouterr().out


def test_not_a_function(capsys):
    assert ex.check("density", 0.5) is False
    assert "expected a function, got a float (0.5)" in capsys.readouterr().out


def test_unknown_exercise(capsys):
    assert ex.check("predict_rating", lambda U, V: U @ V.T) is False
    out = capsys.readouterr().out
    assert "unknown exercise 'predict_rating'" in out
    for name in ("predict_ratings", "regularized_loss", "density"):
        assert name in out
    assert ex.check(None, print) is False


def test_a_broken_reference_is_reported_not_raised(extra_exercise, capsys):
    def broken(x):
        raise RuntimeError("bug in the reference")

    extra_exercise(ex.Exercise(name="broken", title="t", reference=broken, make_cases=lambda rng: [(1,)]))
    assert ex.check("broken", lambda x: x) is False
    assert "the checker itself failed" in capsys.readouterr().out


# ---------------------------------------------------------------------------- time limit
def _infinite(R):
    while True:
        pass


def test_infinite_loop_is_stopped_and_the_process_lives_on(capsys):
    handler_before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    assert ex.check("density", _infinite, time_limit=0.5) is False
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert elapsed < 0.5 + 1.0
    assert "stopped after 0.5 s: does your loop end?" in out
    lineno, source = _line_of(_infinite, "while True")
    assert f"line {lineno} of test_exercises.py: {source}" in out or f"line {lineno + 1}" in out
    assert signal.getsignal(signal.SIGALRM) == handler_before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.7)  # no alarm left behind
    assert ex.check("density", ex.EXERCISES["density"].reference) is True


def test_a_loop_that_catches_exceptions_is_stopped_too(capsys):
    def density(R):
        while True:
            try:
                pass
            except Exception:
                pass

    assert ex.check("density", density, time_limit=0.3) is False
    assert "stopped after 0.3 s" in capsys.readouterr().out


def test_time_limit_of_a_registered_exercise(extra_exercise, capsys):
    extra_exercise(ex.Exercise(name="quick", title="t", reference=lambda R: 1.0,
                               make_cases=lambda rng: [(np.zeros(2),)], time_limit=0.2))
    started = time.monotonic()
    assert ex.check("quick", _infinite) is False
    assert time.monotonic() - started < 1.2
    assert "stopped after 0.2 s" in capsys.readouterr().out


def test_an_outer_timer_is_given_back(capsys):
    fired = []

    def outer(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert ex.check("density", _infinite, time_limit=0.3) is False
        assert signal.getsignal(signal.SIGALRM) is outer
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < remaining <= 30.0
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_no_time_limit_outside_the_main_thread(capsys):
    import threading

    verdict = []
    thread = threading.Thread(target=lambda: verdict.append(ex.check("density", ex.EXERCISES["density"].reference)))
    thread.start()
    thread.join(10)
    assert verdict == [True]


# ---------------------------------------------------------------------------- register
def test_register_as_decorator_with_diagnostics_and_hints(monkeypatch, capsys):
    monkeypatch.setattr(ex, "EXERCISES", dict(ex.EXERCISES))  # the decorator writes to the registry

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


def test_register_an_exercise_object_and_tuple_results(monkeypatch, capsys):
    def split(x):
        return x.min(), x.max()

    monkeypatch.setattr(ex, "EXERCISES", dict(ex.EXERCISES))
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


# ---------------------------------------------------------------------------- hints, solutions
def test_hint_cycles(capsys):
    hints = ex.EXERCISES["regularized_loss"].hints
    for _ in range(len(hints) + 1):
        ex.hint("regularized_loss")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("💡")]
    assert len(lines) == len(hints) + 1
    for j, line in enumerate(lines):
        assert line == f"💡 Hint {j % len(hints) + 1} of {len(hints)} for regularized_loss: {hints[j % len(hints)]}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_exercise_gives_its_hints_in_order_and_its_reference_as_the_solution(name, capsys):
    exercise = ex.EXERCISES[name]
    for j, text in enumerate(exercise.hints):
        ex.hint(name)
        assert capsys.readouterr().out.startswith(f"💡 Hint {j + 1} of {len(exercise.hints)} for {name}: {text}\n")
    ex.solution(name)
    out = capsys.readouterr().out
    assert f"def {name}{inspect.signature(exercise.reference)}:" in out and "@register" not in out


def test_hints_are_counted_per_exercise(capsys):
    ex.hint("density")
    ex.hint("density")
    ex.hint("predict_ratings")
    out = capsys.readouterr().out
    assert "Hint 2 of 3 for density" in out and "Hint 1 of 3 for predict_ratings" in out


def test_solution_prints_the_reference_source(capsys):
    ex.solution("predict_ratings")
    out = capsys.readouterr().out
    assert out.startswith("Reference solution for predict_ratings")
    assert "def predict_ratings(U, V):" in out
    assert "return U @ V.T" in out
    assert "@register" not in out and "Diagnostic" not in out
    ex.solution("regularized_loss")
    assert "known = ~np.isnan(R)" in capsys.readouterr().out


def test_hint_and_solution_of_unknown_names(capsys):
    ex.hint("nope")
    ex.solution("nope")
    out = capsys.readouterr().out
    assert out.count("unknown exercise 'nope'") == 2 and "predict_ratings" in out


# ---------------------------------------------------------------------------- progress
def test_progress_records_attempts_and_passes(isolated, capsys):
    ex.check("regularized_loss", lambda R, U, V, reg: 0.0)
    ex.check("regularized_loss", ex.EXERCISES["regularized_loss"].reference)
    frame = ex.progress()
    assert list(frame.columns) == ["exercise", "lesson", "passed", "attempts"]
    assert list(frame["exercise"]) == list(ex.EXERCISES)
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


# ---------------------------------------------------------------------------- %%check
def test_magic_passes_and_defines_the_function(shell, capsys):
    shell.run_cell_magic("check", "predict_ratings",
                         "import numpy as np\ndef predict_ratings(U, V):\n    return U @ V.T\n")
    assert "✅ predict_ratings: correct on 6 test cases." in capsys.readouterr().out
    assert callable(shell.user_ns["predict_ratings"])
    np.testing.assert_allclose(shell.user_ns["predict_ratings"](np.eye(2), np.ones((3, 2))), np.ones((2, 3)))


def test_magic_prints_the_diagnosis(shell, capsys):
    shell.run_cell_magic("check", "predict_ratings", "def predict_ratings(U, V):\n    return V @ U.T\n")
    out = capsys.readouterr().out
    assert "❌ predict_ratings" in out and "transpose" in out


def test_magic_syntax_error_is_friendly(shell, capsys):
    shell.run_cell_magic("check", "density", "def density(R)\n    return 1\n")
    out = capsys.readouterr().out
    assert "SyntaxError" in out  # IPython's own report of the cell
    assert "❌ density: the cell has a syntax error in line 2" in out
    assert "nothing was checked" in out


def test_magic_cell_that_raises(shell, capsys):
    shell.run_cell_magic("check", "density", "undefined_name\n")
    out = capsys.readouterr().out
    assert "running the cell raised NameError" in out


def test_magic_reports_lines_as_the_notebook_numbers_them(shell, capsys):
    # in the notebook, line 1 is "%%check density"
    shell.run_cell_magic("check", "density", "import numpy as np\ndef density(R):\n    k = 0\n    return 1 / k\n")
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out
    assert "line 5 of your cell: return 1 / k" in out


def test_magic_finds_a_function_with_another_name(shell, capsys):
    shell.run_cell("def density(R):\n    return 0.0\n")  # a stale definition in the namespace
    capsys.readouterr()
    shell.run_cell_magic("check", "density",
                         "import numpy as np\ndef known_fraction(R):\n    return np.mean(~np.isnan(R))\n")
    out = capsys.readouterr().out
    assert "checking `known_fraction`" in out
    assert "✅ density" in out


def test_magic_uses_an_earlier_definition_when_the_cell_defines_none(shell, capsys):
    shell.run_cell("import numpy as np\ndef density(R):\n    return np.mean(~np.isnan(R))\n")
    shell.run_cell_magic("check", "density", "# checked above\n")
    assert "✅ density" in capsys.readouterr().out


def test_magic_without_a_function(shell, capsys):
    shell.run_cell_magic("check", "regularized_loss", "x = 1\n")
    assert "this cell defines no function. Write `def regularized_loss(R, U, V, reg):`" in capsys.readouterr().out


def test_magic_unknown_or_missing_name(shell, capsys):
    shell.run_cell_magic("check", "nope", "def f(x):\n    return x\n")
    out = capsys.readouterr().out
    assert "unknown exercise 'nope'" in out and "predict_ratings" in out
    assert callable(shell.user_ns["f"])
    shell.run_cell_magic("check", "", "y = 2\n")
    assert "Usage: %%check NAME" in capsys.readouterr().out
    assert shell.user_ns["y"] == 2


def test_magic_stops_an_infinite_loop(shell, capsys, extra_exercise):
    extra_exercise(ex.Exercise(name="quick", title="t", reference=lambda R: 1.0,
                               make_cases=lambda rng: [(np.zeros(2),)], time_limit=0.3))
    handler_before = signal.getsignal(signal.SIGALRM)
    shell.run_cell_magic("check", "quick", "def quick(R):\n    while True:\n        pass\n")
    out = capsys.readouterr().out
    assert "stopped after 0.3 s: does your loop end?" in out
    assert signal.getsignal(signal.SIGALRM) == handler_before
    shell.run_cell("z = 40 + 2")
    assert shell.user_ns["z"] == 42


def test_lazy_attribute_in_a_fresh_interpreter():
    import subprocess
    import sys

    code = "import mfteach as mt; print(mt.exercises.check.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "check", done.stderr[-500:]


def test_returning_none_gets_the_return_hint_not_an_unrelated_diagnostic(capsys):
    def regularized_loss(R, U, V, reg):
        total = 0.0  # forgot to return it

    assert ex.check("regularized_loss", regularized_loss) is False
    out = capsys.readouterr().out
    assert "return" in out
    assert "NaN" not in out  # None must not be mistaken for the NaN-propagating mistake
