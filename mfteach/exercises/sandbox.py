"""Running the learner's code under a hard time limit.

Where the platform forks (Linux, macOS: every JupyterHub, Binder and Colab kernel), the learner's
function runs in a forked child process. The child sees the test inputs as they are in the
kernel (copy-on-write), runs the cases one after another and sends each result back through a
pipe as a pickle, together with what it printed. The parent waits for each case at most
``time_limit`` seconds; past that it asks the child where it is busy (SIGUSR1, answered between
two Python bytecodes) and then kills it (SIGKILL). So the limit holds against anything: a bare
``except:`` around an endless loop, one long C call such as a catastrophic regular expression,
``sys.exit``, or code that damages the interpreter. Nothing the learner's code does (changing a
global, an input array, numpy's settings) reaches the kernel, and the kernel always survives.

Where there is no ``os.fork`` (Windows laptops, JupyterLite/Pyodide kernels) the function runs
in-process, its inputs deep-copied first so the learner cannot spoil them, and the limit is
degraded to the best the platform offers:

- SIGALRM (Unix main thread, ``MFTEACH_SANDBOX=inprocess``): the alarm interrupts Python code and
  is re-armed every 0.5 s, so a learner's ``except`` that catches one is passed by a later one that
  lands outside the ``try`` (not when the loop spends all its time inside it, say around
  ``time.sleep``, and never on Python 3.10, which checks for signals only where the time-out lands
  inside the ``try``); it cannot stop one long C call.
- no SIGALRM, threads (Windows, or a check from another thread): a watchdog thread raises the same
  exception in the checking thread (``PyThreadState_SetAsyncExc``), again every 0.5 s: the same
  reach as the alarm.
- no SIGALRM, no threads (Pyodide): a trace function checks the clock at every line of Python
  code and raises once the time is up. It stops endless and slow loops (Python code runs a few
  times slower while traced), but only once: Python drops a trace function that raised, so a
  loop whose bare ``except:`` catches that one runs on, and one long C call is not stopped either.
  There the kernel's Interrupt button helps.

``time_limit_kind()`` names the one in force. ``MFTEACH_SANDBOX=inprocess`` forces the in-process
runner (for debugging with breakpoints); ``MFTEACH_SANDBOX=watchdog`` or ``trace`` forces that
fallback too (to try on Linux what a Windows or Pyodide learner gets).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import pickle
import signal
import struct
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from .feedback import learner_line, learner_line_of_frame, split_case

__all__ = ["Outcome", "run_cases", "split_case", "can_fork", "time_limit_kind"]

_HEADER = struct.Struct("!Q")


@dataclass
class Outcome:
    """What one call of the learner's function did.

    status: "ok" (``value`` is the result), "raised" (``error`` is the exception, ``location``
    the learner's line), "timeout" (``location`` where it was busy, when known) or "unsendable"
    (the result could not be sent back from the child: ``error`` says why).
    """

    status: str
    value: Any = None
    error: BaseException | None = None
    error_type: str = ""
    location: str | None = None
    printed: str = ""


_IN_PROCESS = ("inprocess", "alarm", "watchdog", "trace")  # values of MFTEACH_SANDBOX


def can_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("MFTEACH_SANDBOX", "") not in _IN_PROCESS


def _has_alarm() -> bool:
    return hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")


def _has_threads() -> bool:
    """Threads can be started and an exception can be sent to another thread (CPython, not Pyodide)."""
    if sys.platform in ("emscripten", "wasi"):
        return False
    try:
        import ctypes

        return hasattr(ctypes, "pythonapi") and hasattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc")
    except Exception:  # no ctypes
        return False


def time_limit_kind() -> str:
    """How the time limit on the learner's code is enforced here: "fork" (hard: anything is
    stopped), "alarm" or "watchdog" (Python code is stopped, one long C call is not) or "trace"
    (ordinary Python loops are stopped; see the module docstring)."""
    forced = os.environ.get("MFTEACH_SANDBOX", "")
    if can_fork():
        return "fork"
    if forced == "trace":
        return "trace"
    if forced != "watchdog" and _has_alarm() and threading.current_thread() is threading.main_thread():
        return "alarm"
    if _has_threads():
        return "watchdog"
    return "trace"


def run_cases(fn: Callable, cases: list, time_limit: float | None,
              cell: tuple[str, int] | None = None) -> list[Outcome]:
    """Call ``fn`` on each case in turn; stop at the first that raises or runs out of time.

    Returns one :class:`Outcome` per case that was run (fewer than ``len(cases)`` when one
    failed). ``cell`` = (code file of a ``%%check`` cell, line offset) for line numbers.
    """
    if can_fork():
        return _run_forked(fn, cases, time_limit, cell)
    return _run_in_process(fn, cases, time_limit, cell)


# ---------------------------------------------------------------------------- forked child
def _send(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _portable_error(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError with its text."""
    try:
        clean = copy.copy(exc).with_traceback(None)
        clean.__context__ = clean.__cause__ = None
        pickle.loads(pickle.dumps(clean))
        return clean
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _child(fn, cases, cell, fd: int) -> None:
    """Runs in the forked child: never returns (os._exit)."""
    buffer = io.StringIO()
    sys.stdout = sys.stderr = buffer  # the kernel's streams belong to the parent

    def busy_where(signum, frame):  # the parent's "time is up": say where we are, then leave
        try:
            _send(fd, ("timeout", learner_line_of_frame(frame, fn, cell), buffer.getvalue()))
        finally:
            os._exit(0)

    signal.signal(signal.SIGUSR1, busy_where)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C / "interrupt kernel" ends the child at once
    try:
        for case in cases:
            buffer.seek(0)
            buffer.truncate()
            args, kwargs = split_case(case)
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - anything the learner raises is reported
                _send(fd, ("raised", _portable_error(exc), type(exc).__name__,
                           learner_line(exc.__traceback__, fn, cell), buffer.getvalue()))
                break
            try:
                _send(fd, ("ok", value, buffer.getvalue()))
            except Exception as exc:  # a lambda, a generator, an open file...
                _send(fd, ("unsendable", f"{type(value).__name__} ({type(exc).__name__}: {exc})",
                           buffer.getvalue()))
                break
    except BaseException:
        pass
    finally:
        os._exit(0)


def _read_message(fd: int, deadline: float | None, buffer: bytearray):
    """The next message from the child, None if the deadline passed or the child is gone."""
    import select  # only where the platform forks

    while True:
        if len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if len(buffer) >= _HEADER.size + size:
                data = bytes(buffer[_HEADER.size:_HEADER.size + size])
                del buffer[:_HEADER.size + size]
                try:
                    return pickle.loads(data)
                except Exception as exc:  # e.g. an instance of a class that exists only in the child
                    return ("unsendable", f"a value that cannot be rebuilt here ({type(exc).__name__}: {exc})", "")
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return "eof"
        buffer.extend(chunk)


def _outcome(message) -> Outcome:
    kind = message[0]
    if kind == "ok":
        return Outcome("ok", value=message[1], printed=message[2])
    if kind == "raised":
        return Outcome("raised", error=message[1], error_type=message[2], location=message[3], printed=message[4])
    if kind == "timeout":
        return Outcome("timeout", location=message[1], printed=message[2])
    return Outcome("unsendable", error=TypeError(message[1]), printed=message[2])


def _run_forked(fn, cases, time_limit, cell) -> list[Outcome]:
    read_fd, write_fd = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "fork() in a multi-threaded process"
        pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(fn, cases, cell, write_fd)
    os.close(write_fd)
    outcomes: list[Outcome] = []
    buffer = bytearray()
    try:
        for _ in cases:
            deadline = None if not time_limit or time_limit <= 0 else time.monotonic() + time_limit
            message = _read_message(read_fd, deadline, buffer)
            if message is None:  # time is up: ask where it is busy, give it a moment, then kill
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGUSR1)
                message = _read_message(read_fd, time.monotonic() + 0.25, buffer)
                if not isinstance(message, tuple) or message[0] != "timeout":
                    message = ("timeout", None, "")
            elif message == "eof":  # the child died without a word (os._exit, a crash in C code)
                outcomes.append(Outcome("raised", error=SystemExit("the process running your function ended"),
                                        error_type="SystemExit"))
                break
            outcome = _outcome(message)
            outcomes.append(outcome)
            if outcome.status != "ok":
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(read_fd)
    return outcomes


# ---------------------------------------------------------------------------- in-process fallback
class TimeLimitExceeded(BaseException):
    """Raised by the SIGALRM handler inside the learner's code (BaseException: a bare
    ``except Exception`` in the learner's loop does not swallow it)."""


def _run_in_process(fn, cases, time_limit, cell) -> list[Outcome]:
    outcomes = []
    for case in cases:
        args, kwargs = split_case(copy.deepcopy(case))
        try:
            value = call_with_time_limit(fn, args, kwargs, time_limit)
        except TimeLimitExceeded as exc:
            outcomes.append(Outcome("timeout", location=learner_line(exc.__traceback__, fn, cell)))
            break
        except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcomes.append(Outcome("raised", error=exc, error_type=type(exc).__name__,
                                    location=learner_line(exc.__traceback__, fn, cell)))
            break
        outcomes.append(Outcome("ok", value=value))
    return outcomes


def call_with_time_limit(fn, args, kwargs, seconds: float | None):
    """``fn(*args, **kwargs)`` in this process, stopped after ``seconds`` by the alarm, the
    watchdog or the trace function, whichever ``time_limit_kind()`` allows (none if ``seconds``
    is None or <= 0)."""
    if not seconds or seconds <= 0:
        return fn(*args, **kwargs)
    kind = time_limit_kind()
    if kind == "fork":  # a caller asked for the in-process runner directly
        kind = "alarm" if _has_alarm() and threading.current_thread() is threading.main_thread() else \
            "watchdog" if _has_threads() else "trace"
    if kind == "alarm":
        return call_with_alarm(fn, args, kwargs, seconds)
    if kind == "watchdog":
        return call_with_watchdog(fn, args, kwargs, seconds)
    return call_with_trace(fn, args, kwargs, seconds)


def call_with_alarm(fn, args, kwargs, seconds: float | None):
    """``fn(*args, **kwargs)``, stopped by SIGALRM after ``seconds`` (main thread only).

    The previous SIGALRM handler and any timer already running (pytest-timeout uses one) are
    restored afterwards, even if the alarm goes off during the clean-up itself.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    if not seconds or seconds <= 0 or not main_thread or not _has_alarm():
        return fn(*args, **kwargs)

    def _on_alarm(signum, frame):
        raise TimeLimitExceeded(seconds)

    previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    # fire after `seconds`, then every 0.5 s in case the learner's code catches the first one
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        return fn(*args, **kwargs)
    finally:
        while True:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)
                if previous_delay > 0:  # give an outer timer back what is left of it
                    remaining = max(previous_delay - (time.monotonic() - started), 1e-3)
                    signal.setitimer(signal.ITIMER_REAL, remaining, previous_interval)
                break
            except TimeLimitExceeded:  # the alarm went off between two clean-up steps
                continue


def _send_exception(thread_id: int, exc_type) -> None:
    """Raise ``exc_type`` in thread ``thread_id`` at its next bytecode boundary."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


def call_with_watchdog(fn, args, kwargs, seconds: float):
    """``fn(*args, **kwargs)``; a watchdog thread raises ``TimeLimitExceeded`` in this thread after
    ``seconds`` and again every 0.5 s (a learner's ``except`` does not stop it). For platforms
    without SIGALRM (Windows) and checks run off the main thread. Like the alarm, it cannot stop
    one long C call.

    A time-out sent just as ``fn`` returns is waited for here (each one counts itself when it is
    raised), never cancelled: cancelling a pending one (``PyThreadState_SetAsyncExc(id, NULL)``)
    hangs CPython 3.11 the next time a trace function is set."""
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "sent": 0, "raised": 0}
    stop = threading.Event()

    class _TimeUp(TimeLimitExceeded):
        def __init__(self, *args):
            state["raised"] += 1
            super().__init__(seconds)

    _TimeUp.__name__ = _TimeUp.__qualname__ = "TimeLimitExceeded"

    def watchdog():
        if stop.wait(seconds):
            return
        while True:
            with lock:
                if state["done"]:
                    return
                state["sent"] += 1
                _send_exception(target, _TimeUp)
            if stop.wait(0.5):
                return

    thread = threading.Thread(target=watchdog, name="mfteach-time-limit", daemon=True)
    thread.start()
    try:
        return fn(*args, **kwargs)
    finally:
        while True:
            try:
                with lock:
                    state["done"] = True
                stop.set()
                give_up = time.monotonic() + 1.0
                while state["raised"] < state["sent"] and time.monotonic() < give_up:
                    time.sleep(0.001)  # a time-out sent but not raised yet arrives here
                break
            except TimeLimitExceeded:
                continue
        thread.join()


def call_with_trace(fn, args, kwargs, seconds: float):
    """``fn(*args, **kwargs)`` under a trace function that raises ``TimeLimitExceeded`` at the
    first line of Python code run after ``seconds`` (Pyodide: no fork, no SIGALRM, no threads).

    Python unsets a trace function that raised, so this stops the learner's code once: a loop
    whose ``except`` catches that exception runs on. Any trace function already set (a debugger,
    coverage) is put back afterwards."""
    deadline = time.monotonic() + seconds

    def on_line(frame, event, arg):
        if time.monotonic() > deadline:
            raise TimeLimitExceeded(seconds)
        return on_line

    previous = sys.gettrace()
    sys.settrace(on_line)
    try:
        return fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
