"""mfteach.exercises.sandbox: the hard time limit on the learner's code.

Forked (the default where os.fork exists): the limit holds against an endless loop, a bare
``except:`` around it, one long C call (a catastrophic regular expression) and sys.exit, within
1 s of the limit, and the process that checks lives on. In-process (MFTEACH_SANDBOX=inprocess,
the fallback without fork): SIGALRM stops Python loops and gives an outer timer back.
"""

import re
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mfteach.exercises as ex
from mfteach.exercises import sandbox

HERE = Path(__file__).name


@pytest.fixture(autouse=True)
def isolated(exercise_state):
    return exercise_state


@pytest.fixture
def in_process(monkeypatch):
    monkeypatch.setenv("MFTEACH_SANDBOX", "inprocess")


def _infinite(R):
    while True:
        pass


def _infinite_with_bare_except(R):
    while True:
        try:
            time.sleep(0.01)
        except:  # noqa: E722 - exactly what a learner writes
            pass


def _catastrophic_regex(R):
    return float(bool(re.match(r"(a+)+$", "a" * 34 + "b")))  # minutes of backtracking in one C call


@pytest.mark.skipif(not sandbox.can_fork(), reason="needs os.fork")
@pytest.mark.parametrize("learner", [_infinite, _infinite_with_bare_except, _catastrophic_regex],
                         ids=["endless-loop", "bare-except", "catastrophic-regex"])
def test_the_forked_time_limit_holds_within_a_second(learner, capsys):
    started = time.monotonic()
    assert ex.check("density", learner, time_limit=1.0) is False
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.0
    assert "stopped after 1 s: does your loop end?" in capsys.readouterr().out
    # the checking process lives on and checks again
    assert ex.check("density", ex.EXERCISES["density"].reference) is True


@pytest.mark.skipif(not sandbox.can_fork(), reason="needs os.fork")
def test_a_stopped_loop_says_where_it_was_busy(capsys, line_of):
    ex.check("density", _infinite, time_limit=0.5)
    lineno, source = line_of(_infinite, "while True")
    out = capsys.readouterr().out
    assert f"It was busy at line {lineno} of {HERE}: {source}" in out or f"line {lineno + 1} of {HERE}" in out


@pytest.mark.skipif(not sandbox.can_fork(), reason="needs os.fork")
def test_exit_and_a_dying_process_are_reported_not_fatal(capsys):
    import os
    import sys

    assert ex.check("density", lambda R: sys.exit(3)) is False
    assert "SystemExit" in capsys.readouterr().out
    assert ex.check("density", lambda R: os._exit(0)) is False
    assert "the process running your function ended" in capsys.readouterr().out


@pytest.mark.skipif(not sandbox.can_fork(), reason="needs os.fork")
def test_the_learner_cannot_change_the_checking_process():
    import numpy

    def density(R):
        numpy.seterr(all="raise")
        ex.EXERCISES.clear()
        return 0.5

    before = np.geterr()
    ex.check("density", density)
    assert np.geterr() == before and "density" in ex.EXERCISES


@pytest.mark.skipif(not sandbox.can_fork(), reason="needs os.fork")
def test_prints_come_back_and_results_that_cannot_come_back_are_explained(capsys):
    def density(R):
        print("known:", int(np.sum(~np.isnan(R))))
        return np.mean(~np.isnan(R))

    assert ex.check("density", density) is True
    assert "known: 13" in capsys.readouterr().out
    assert ex.check("density", lambda R: (x for x in R)) is False
    assert "not a result the checker can compare" in capsys.readouterr().out


@pytest.mark.skipif(not sandbox.can_fork(), reason="needs os.fork")
def test_a_check_from_another_thread_is_limited_too(capsys):
    verdict = []
    thread = threading.Thread(target=lambda: verdict.append(ex.check("density", _infinite, time_limit=0.3)))
    thread.start()
    thread.join(10)
    assert verdict == [False]


def test_large_results_come_back_whole():
    big = np.arange(2_000_000, dtype=float)
    [outcome] = sandbox.run_cases(lambda: big * 2, [()], time_limit=10)
    assert outcome.status == "ok"
    np.testing.assert_array_equal(outcome.value, big * 2)


# ---------------------------------------------------------------------------- in-process fallback
def test_in_process_loop_is_stopped_and_the_alarm_restored(in_process, capsys):
    handler_before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    assert ex.check("density", _infinite, time_limit=0.5) is False
    assert time.monotonic() - started < 1.5
    assert "stopped after 0.5 s: does your loop end?" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGALRM) == handler_before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.7)  # no alarm left behind
    assert ex.check("density", ex.EXERCISES["density"].reference) is True


@pytest.mark.skipif(sys.version_info < (3, 11), reason="CPython 3.10 checks for signals at no instruction of "
                    "`while True: try: pass ...` (no fork: documented in mfteach.exercises.sandbox)")
def test_in_process_loop_that_catches_exceptions_is_stopped_too(in_process, capsys):
    def density(R):
        while True:
            try:
                pass
            except Exception:
                pass

    assert ex.check("density", density, time_limit=0.3) is False
    assert "stopped after 0.3 s" in capsys.readouterr().out


def test_in_process_an_outer_timer_is_given_back(in_process):
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert ex.check("density", _infinite, time_limit=0.3) is False
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < remaining <= 30.0
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_in_process_the_learner_cannot_spoil_the_test_inputs(in_process):
    def density(R):
        R[np.isnan(R)] = 0.0  # mutates its input ...
        return 0.5

    ex.check("density", density)
    assert ex.check("density", ex.EXERCISES["density"].reference) is True  # ... a copy


def test_time_limit_of_a_registered_exercise(monkeypatch, capsys):
    monkeypatch.setitem(ex.EXERCISES, "quick", ex.Exercise(
        name="quick", title="t", reference=lambda R: 1.0, make_cases=lambda rng: [(np.zeros(2),)],
        time_limit=0.2))
    started = time.monotonic()
    assert ex.check("quick", _infinite) is False
    assert time.monotonic() - started < 1.2
    assert "stopped after 0.2 s" in capsys.readouterr().out
