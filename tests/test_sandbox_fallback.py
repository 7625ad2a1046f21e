"""Where there is no fork and no SIGALRM (Windows laptops, JupyterLite/Pyodide kernels).

Simulated here by taking ``os.fork``, ``signal.SIGALRM`` and ``signal.setitimer`` away (Windows:
threads remain, so the watchdog thread sends the time-out) and, for Pyodide, also reporting
``sys.platform == "emscripten"`` (no threads: the trace function). The checker still checks, a
loop is still stopped, and the package imports without them.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mfteach.exercises as ex
from mfteach.exercises import sandbox

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


@pytest.fixture
def windows(monkeypatch):
    """No os.fork, no SIGALRM, no setitimer; threads as usual."""
    monkeypatch.delenv("MFTEACH_SANDBOX", raising=False)
    for module, name in [(os, "fork"), (signal, "SIGALRM"), (signal, "setitimer"), (signal, "SIGUSR1")]:
        if hasattr(module, name):
            monkeypatch.delattr(module, name)


@pytest.fixture
def pyodide(windows, monkeypatch):
    """As above and no threads (sys.platform is "emscripten" in Pyodide)."""
    monkeypatch.setattr(sys, "platform", "emscripten")


def _endless(R):
    while True:
        pass


def _endless_catching_exception(R):
    while True:
        try:
            time.sleep(0.001)
        except Exception:  # noqa: BLE001 - a learner's loop that swallows errors
            pass


def _wrong(R):
    return 0.5


@pytest.mark.parametrize("platform, kind", [("windows", "watchdog"), ("pyodide", "trace")])
def test_the_checker_works_without_fork_and_alarm(platform, kind, request, capsys):
    request.getfixturevalue(platform)
    assert not sandbox.can_fork()
    assert sandbox.time_limit_kind() == kind
    assert ex.check("density", ex.EXERCISES["density"].reference) is True
    assert ex.check("density", _wrong) is False
    out = capsys.readouterr().out
    assert "✅ density" in out and "❌ density" in out


@pytest.mark.parametrize("platform", ["windows", "pyodide"])
@pytest.mark.parametrize("learner", [_endless, _endless_catching_exception], ids=["endless", "except-Exception"])
def test_an_endless_loop_is_stopped(platform, learner, request, capsys):
    request.getfixturevalue(platform)
    threads_before = threading.active_count()
    trace_before = sys.gettrace()
    started = time.monotonic()
    assert ex.check("density", learner, time_limit=0.5) is False
    assert time.monotonic() - started < 2.0
    assert "stopped after 0.5 s: does your loop end?" in capsys.readouterr().out
    time.sleep(0.6)  # nothing fires later into the checking process ...
    assert ex.check("density", ex.EXERCISES["density"].reference) is True
    assert sys.gettrace() is trace_before  # ... a coverage or debugger trace function is given back
    deadline = time.monotonic() + 2
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == threads_before  # no watchdog thread left behind


@pytest.mark.skipif(sys.version_info < (3, 11), reason="CPython 3.10 raises the time-out inside the `try` every "
                    "time, so a bare `except:` swallows each one (documented in mfteach.exercises.sandbox)")
def test_windows_the_watchdog_stops_a_bare_except_loop(windows, capsys):
    """The watchdog raises again every 0.5 s, like the alarm: a bare ``except:`` that catches one
    does not hold it when the next lands outside the ``try`` (here: at the loop's jump back)."""
    def density(R):
        total = 0
        while True:
            try:
                total += 1
            except:  # noqa: E722 - exactly what a learner writes
                pass

    started = time.monotonic()
    assert ex.check("density", density, time_limit=0.3) is False
    assert time.monotonic() - started < 2.5
    assert "stopped after 0.3 s" in capsys.readouterr().out


def test_windows_a_check_from_another_thread_is_limited_too(windows, capsys):
    results = []
    worker = threading.Thread(target=lambda: results.append(ex.check("density", _endless, time_limit=0.3)))
    worker.start()
    worker.join(5)
    assert results == [False]
    assert "stopped after 0.3 s" in capsys.readouterr().out


def test_the_forced_kinds_can_be_tried_on_linux(monkeypatch):
    for forced in ("inprocess", "alarm", "watchdog", "trace"):
        monkeypatch.setenv("MFTEACH_SANDBOX", forced)
        assert not sandbox.can_fork()
        expected = {"inprocess": "alarm", "alarm": "alarm"}.get(forced, forced)
        if not hasattr(signal, "setitimer"):
            expected = "watchdog" if forced != "trace" else "trace"
        assert sandbox.time_limit_kind() == expected


@pytest.mark.parametrize("platform", ["windows", "pyodide"])
def test_the_check_magic_works(platform, request, shell, capsys):
    request.getfixturevalue(platform)
    shell.run_cell_magic("check", "density", "import numpy as np\n"
                         "def density(R):\n    return float(np.mean(~np.isnan(R)))\n")
    assert "✅ density" in capsys.readouterr().out


_PRELUDE = """
import os, signal
for module, name in [(os, "fork"), (signal, "SIGALRM"), (signal, "setitimer"), (signal, "SIGUSR1")]:
    if hasattr(module, name):
        delattr(module, name)
"""


def test_the_package_imports_without_fork_and_alarm(tmp_path):
    code = _PRELUDE + """
import mfteach as mt, mfteach.exercises, mfteach.widgets, mfteach.explain, mfteach.plots
from mfteach.exercises import sandbox
print(sandbox.time_limit_kind())
print(mt.exercises.check("density", mt.exercises.EXERCISES["density"].reference))
"""
    env = {**os.environ, "MFTEACH_HOME": str(tmp_path), "MPLBACKEND": "Agg"}
    env.pop("MFTEACH_SANDBOX", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "watchdog" and lines[-1] == "True", done.stdout
