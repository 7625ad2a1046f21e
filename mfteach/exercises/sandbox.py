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

Where there is no ``os.fork`` (Windows, Pyodide) the function runs in-process under SIGALRM
(main thread only; where there is no SIGALRM either, without a limit). That alarm interrupts
Python code, is re-armed every 0.5 s against a learner's ``except``, but cannot stop a single
long C call; the inputs are deep-copied first so the learner cannot spoil them.

``MFTEACH_SANDBOX=inprocess`` forces the in-process runner (for debugging with breakpoints).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from .feedback import learner_line, learner_line_of_frame, split_case

__all__ = ["Outcome", "run_cases", "split_case", "can_fork"]

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


def can_fork() -> bool:
    return hasattr(os, "fork") and os.environ.get("MFTEACH_SANDBOX", "") != "inprocess"


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
            value = call_with_alarm(fn, args, kwargs, time_limit)
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


def call_with_alarm(fn, args, kwargs, seconds: float | None):
    """``fn(*args, **kwargs)``, stopped by SIGALRM after ``seconds`` (main thread only).

    The previous SIGALRM handler and any timer already running (pytest-timeout uses one) are
    restored afterwards, even if the alarm goes off during the clean-up itself.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    if not seconds or seconds <= 0 or not main_thread or not hasattr(signal, "setitimer"):
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
