"""The learner's progress: attempts, passes and hints per exercise and question.

Kept in ``$MFTEACH_HOME/progress.json`` (default ``~/.mfteach/progress.json``), written
atomically. Every update (read, change, write) holds an exclusive lock on the folder
(``fcntl.flock``), so two kernels checking at the same time do not lose each
other's attempts. A missing, unreadable or corrupt file never breaks a check: the session then
keeps its record in memory and warns once; while the file cannot be written, ``progress()``
shows that session copy. Malformed entries are dropped one by one (with a warning naming them);
the valid ones are kept. ``reset_progress()`` (or deleting the file) starts over.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; updates are still atomic, just not serialized
    fcntl = None

import pandas as pd

from .registry import EXERCISES, QUESTIONS

__all__ = ["progress", "progress_path", "reset_progress", "record", "record_hint", "record_solution", "entry"]

_state = {"warned": False}  # also "session_only": True while the file cannot be written
_SESSION_PROGRESS: dict[str, dict] = {}  # what this session recorded, in case the file cannot be used
LOCK_TIMEOUT = 10.0  # seconds to wait for another kernel's update before going ahead without the lock


def progress_path() -> Path:
    """``$MFTEACH_HOME/progress.json`` (default ``~/.mfteach/progress.json``)."""
    home = os.environ.get("MFTEACH_HOME") or os.path.join(os.path.expanduser("~"), ".mfteach")
    return Path(home) / "progress.json"


def _warn_once(message: str, session_only: bool = True) -> None:
    if not _state["warned"]:
        _state["warned"] = True
        suffix = " Progress is kept for this session only." if session_only else ""
        warnings.warn(message + suffix, RuntimeWarning, stacklevel=4)


def _session_copy() -> dict[str, dict]:
    return copy.deepcopy(_SESSION_PROGRESS)


def _valid_entry(value) -> dict:
    """One stored entry, normalized; ValueError / TypeError when it is not one."""
    if not isinstance(value, dict):
        raise TypeError(f"an entry must be an object, got {type(value).__name__}")
    entry = dict(value)
    for key in ("attempts", "hints"):
        number = entry.get(key, 0)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number != int(number) or number < 0:
            raise ValueError(f"{key} must be a count, got {number!r}")
        entry[key] = int(number)
    passed = entry.get("passed", False)
    if not isinstance(passed, bool):
        raise TypeError(f"passed must be true or false, got {passed!r}")
    return entry


def _read_progress(path: Path) -> dict[str, dict]:
    """The stored record, name -> {"attempts", "passed", "hints", ...}.

    {} when the file does not exist, unless this session could not write it (then the session
    copy, which holds what was recorded). When the file is unreadable or not a progress file at
    all: the session copy, with one warning. Malformed entries are left out one by one, with a
    warning naming them; the others are kept."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _session_copy() if _state.get("session_only") else {}
    except OSError as exc:
        _warn_once(f"mfteach cannot read {path} ({exc}).")
        return _session_copy()
    try:
        data = json.loads(text)
        entries = data["exercises"]
        if not isinstance(entries, dict):
            raise TypeError("'exercises' is not an object")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        _warn_once(f"mfteach's progress file {path} is corrupt ({type(exc).__name__}: {exc}); "
                   "it will be replaced.")
        return _session_copy()
    kept, dropped = {}, []
    for name, value in entries.items():  # one malformed entry must not take the others with it
        try:
            kept[str(name)] = _valid_entry(value)
        except (ValueError, TypeError, OverflowError) as exc:
            dropped.append(f"{name!r} ({exc})")
    if dropped:
        _warn_once(f"mfteach's progress file {path} is corrupt: left out the malformed entr"
                   f"{'y' if len(dropped) == 1 else 'ies'} {', '.join(dropped)}; the other {len(kept)} are kept.",
                   session_only=False)
    if _state.get("session_only"):  # the file is stale: what this session recorded wins
        kept.update(_session_copy())
    return kept


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock around a read-modify-write of ``path``: ``fcntl.flock`` on its folder
    (the file itself is replaced on every write, the folder stays; no lock file is left behind).
    Waits at most ``LOCK_TIMEOUT`` seconds for another kernel, then goes ahead; a no-op where
    locks are unavailable (no fcntl, a folder that cannot be created or opened)."""
    fd = None
    if fcntl is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            fd = None
    if fd is None:
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break  # a stuck kernel: record without the lock rather than hang the check
                time.sleep(0.005)
            except OSError:
                break  # the file system does not support locks
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_progress(path: Path, entries: dict[str, dict]) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "exercises": entries}, f, indent=1, sort_keys=True, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _update(name: str, change) -> dict:
    """Apply ``change(entry)`` to the stored entry of ``name`` and save; never raises."""
    try:
        path = progress_path()
        with _locked(path):  # read, change and write as one step: other kernels wait
            entries = _read_progress(path)
            item = entries.setdefault(name, {"attempts": 0, "passed": False, "hints": 0})
            change(item)
            _SESSION_PROGRESS.clear()
            _SESSION_PROGRESS.update(copy.deepcopy(entries))
            try:
                _write_progress(path, entries)
                _state["session_only"] = False
            except OSError as exc:
                _state["session_only"] = True  # progress() must show the session copy from now on
                _warn_once(f"mfteach cannot write {path} ({exc}).")
        return item
    except Exception as exc:  # progress is a convenience; it must never break check()
        _warn_once(f"mfteach could not record progress ({type(exc).__name__}: {exc}).")
        return {"attempts": 0, "passed": False, "hints": 0}


def record(name: str, passed: bool) -> None:
    """Count one attempt at ``name`` (and a pass)."""
    def change(item):
        item["attempts"] = int(item.get("attempts", 0)) + 1
        item["passed"] = bool(item.get("passed", False)) or passed
        item["last_attempt"] = _dt.datetime.now().isoformat(timespec="seconds")
    _update(name, change)


def record_hint(name: str) -> int:
    """Count one more hint seen for ``name``; returns how many hints were seen before this one."""
    seen = {}

    def change(item):
        seen["before"] = int(item.get("hints", 0))
        item["hints"] = seen["before"] + 1
    _update(name, change)
    return seen.get("before", 0)


def record_solution(name: str) -> None:
    _update(name, lambda item: item.__setitem__("solution_seen", True))


def entry(name: str) -> dict:
    """The stored record of ``name`` ({} when there is none)."""
    try:
        return dict(_read_progress(progress_path()).get(name, {}))
    except Exception:
        return dict(_SESSION_PROGRESS.get(name, {}))


def reset_progress() -> None:
    """Forget every attempt, pass and hint (deletes the progress file)."""
    _SESSION_PROGRESS.clear()
    _state["session_only"] = False
    try:
        progress_path().unlink()
    except FileNotFoundError:
        pass
    print(f"Progress reset ({progress_path()} removed).")


def progress() -> pd.DataFrame:
    """Every exercise and question: ``exercise``, ``lesson``, ``kind`` ("code" or "question"),
    ``passed``, ``attempts`` and ``hints_used``, lesson by lesson.

    Prints a one-line summary; the returned frame is what a notebook cell displays.
    """
    try:
        entries = _read_progress(progress_path())
    except Exception:
        entries = dict(_SESSION_PROGRESS)
    items = [(name, ex.lesson, "code") for name, ex in EXERCISES.items()]
    items += [(name, q.lesson, "question") for name, q in QUESTIONS.items()]
    order = {lesson: j for j, lesson in enumerate(dict.fromkeys(sorted(lesson for _, lesson, _ in items)))}
    items.sort(key=lambda item: (order[item[1]], item[2] != "code"))
    rows = [{"exercise": name, "lesson": lesson, "kind": kind,
             "passed": bool(entries.get(name, {}).get("passed", False)),
             "attempts": int(entries.get(name, {}).get("attempts", 0)),
             "hints_used": int(entries.get(name, {}).get("hints", 0))}
            for name, lesson, kind in items]
    frame = pd.DataFrame(rows, columns=["exercise", "lesson", "kind", "passed", "attempts", "hints_used"])
    frame = frame.astype({"passed": bool, "attempts": "int64", "hints_used": "int64"})
    code, questions = frame[frame["kind"] == "code"], frame[frame["kind"] == "question"]
    print(f"{int(code['passed'].sum())} of {len(code)} exercises and {int(questions['passed'].sum())} of "
          f"{len(questions)} questions passed; {int(frame['hints_used'].sum())} hints used.")
    return frame
