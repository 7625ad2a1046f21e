"""mfteach.exercises.magic: the %%check cell magic."""

import signal
import time

import numpy as np
import pytest

import mfteach.exercises as ex


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


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


def test_magic_says_so_when_the_cell_defines_no_function(shell, capsys):
    shell.run_cell("import numpy as np\ndef density(R):\n    return np.mean(~np.isnan(R))\n")
    capsys.readouterr()
    shell.run_cell_magic("check", "density", "# checked above\n")
    out = capsys.readouterr().out
    assert "this cell defines no function, so nothing was checked" in out
    assert "The `density` from an earlier cell is not checked" in out
    assert "✅" not in out


def test_magic_without_a_function(shell, capsys):
    shell.run_cell_magic("check", "regularized_loss", "x = 1\n")
    assert "this cell defines no function, so nothing was checked. Write `def regularized_loss(R, U, V, reg):`" \
        in capsys.readouterr().out


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


def test_magic_syntax_error_lines_agree_with_the_traceback(shell, capsys):
    shell.run_cell_magic("check", "density", "import numpy as np\ndef density(R)\n    return 1\n")
    out = _plain(capsys.readouterr().out)
    assert "line 3" in out.split("❌")[0]  # IPython's traceback: line 3 of the cell as the notebook numbers it
    assert "❌ density: the cell has a syntax error in line 3" in out


def test_magic_runtime_error_in_the_cell_body_names_the_notebook_line(shell, capsys):
    shell.run_cell_magic("check", "density", "x = 1\ny = 1 / 0\n")
    out = _plain(capsys.readouterr().out)
    # IPython 8+: "Cell In[1], line 3"; IPython 7 (Colab): the arrow "----> 3" on the notebook's line 3
    assert ("line 3" in out or "----> 3 y = 1 / 0" in out) and "ZeroDivisionError" in out


@pytest.mark.skipif(not ex.sandbox.can_fork(), reason="needs os.fork")
def test_magic_stops_an_endless_loop_in_the_cell_body(shell, capsys, extra_exercise):
    extra_exercise(ex.Exercise(name="quick", title="t", reference=lambda R: 1.0,
                               make_cases=lambda rng: [(np.zeros(2),), (np.ones(2),)], time_limit=1.0))
    started = time.monotonic()
    shell.run_cell_magic("check", "quick", "def quick(R):\n    return 1.0\n\nwhile True:\n    pass\nafter = 1\n")
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert 1.0 <= elapsed < 2.0
    assert "the cell itself did not finish within 1 s" in out
    assert "It was busy at line 5 of your cell" in out
    assert "after" not in shell.user_ns  # the loop never ran in the kernel
    shell.run_cell("z = 40 + 2")
    assert shell.user_ns["z"] == 42


def test_magic_on_an_untouched_stub_says_not_written_and_records_nothing(shell, capsys):
    shell.run_cell_magic("check", "density", 'def density(R):\n    """The fraction of known entries."""\n'
                                             '    raise NotImplementedError("your turn")\n')
    assert "✏️ density: not written yet" in capsys.readouterr().out
    assert ex.progress().set_index("exercise").loc["density", "attempts"] == 0


def _plain(text: str) -> str:
    """``text`` without the terminal colour codes of IPython's tracebacks (IPython 7 puts them
    between "line" and the number)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
