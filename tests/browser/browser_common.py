"""What the two browser tests share (run_browser_test.py: the lessons in JupyterLab;
run_app_test.py: the explanation app in Voila): Chromium's flags and launch, a free port, the
time limits, and stopping a server's process group. The scripts run as
``python tests/browser/run_*.py``, so this folder is on ``sys.path`` and they import it as
``browser_common`` (not ``harness``: that is the benchmarks' module, which
``run_browser_test.write_latencies`` imports)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


class OverallTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that an `except Exception` does not eat it."""


def log(msg: str = "") -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_limits(timeout: float, server_process) -> None:
    """Arm the soft limit (SIGALRM raises ``OverallTimeout`` after ``timeout`` s; SIGTERM raises
    SystemExit(143); SIGINT raises KeyboardInterrupt even if started ignored) and, as a last
    resort if the soft one cannot unwind (a hung browser call), a watchdog thread that kills the
    process group of ``server_process()`` (a callable: the server may not exist yet) and exits
    with 124 a minute later. ``signal.alarm(0)`` disarms the soft limit."""

    def on_alarm(signum, frame):
        raise OverallTimeout()

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    def watchdog():
        time.sleep(timeout + 60)
        log(f"error: hard time-out ({timeout + 60:.0f} s); killing the server and exiting")
        proc = server_process()
        if proc is not None:
            try:
                os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
            except Exception:
                pass
        os._exit(124)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=watchdog, daemon=True).start()
    signal.alarm(int(timeout))


def stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group of ``proc`` (a server started with ``start_new_session``: it
    shuts its kernels down), SIGKILL after 10 s, then SIGKILL whatever is left of the group."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            if pgid is not None:
                os.killpg(pgid, sig)
            else:
                proc.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    if pgid is not None:  # leftovers of the group (not kernels started in sessions of their own)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def launch_chromium(pw, executable: str, home: Path):
    """Headless Chromium with ``CHROMIUM_ARGS``, its HOME and caches in ``home`` (created)."""
    home.mkdir(parents=True, exist_ok=True)
    return pw.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
             "XDG_CACHE_HOME": str(home / ".cache")})


def keep_log_and_clean_up(server_log: Path | None, saved_log: Path, tmp: Path, keep_tmp: bool) -> None:
    """After the server has stopped: copy its log (None: no server was started) next to the
    screenshots, then remove the temporary folder (or say where it was kept)."""
    if server_log is not None:
        try:
            shutil.copy(server_log, saved_log)
        except OSError:
            pass
    if keep_tmp:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
