"""One fresh ipykernel per notebook, driven by nbclient, with a time limit per piece of work.

The kernel runs the grader's own Python (``sys.executable``, so the same mfteach), in a private
working folder, with ``HOME``, ``MFTEACH_HOME``, ``IPYTHONDIR``, ``TMPDIR`` and Jupyter's folders
pointed inside that folder: whatever the graded code writes lands there and is removed with it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["KernelSession", "kernel_environment"]


def kernel_environment(workdir: Path, shared: Path) -> dict[str, str]:
    """The kernel's environment: private folders under ``workdir``; matplotlib's cache in
    ``shared`` (one per grading run, so its font list is built once)."""
    env = dict(os.environ)
    folders = {"HOME": workdir / "home", "MFTEACH_HOME": workdir / "mfteach-home", "IPYTHONDIR": workdir / "ipython",
               "TMPDIR": workdir / "tmp", "JUPYTER_CONFIG_DIR": workdir / "jupyter-config",
               "JUPYTER_DATA_DIR": workdir / "jupyter-data", "JUPYTER_RUNTIME_DIR": workdir / "jupyter-runtime",
               "MPLCONFIGDIR": shared / "matplotlib"}
    for variable, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        env[variable] = str(folder)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("MFTEACH_SANDBOX", None)  # learner code always runs in the forked sandbox when grading
    env.pop("PYTHONSTARTUP", None)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")  # several kernels share the cores; the checks are small
    return env


class KernelSession:
    """A kernel for one notebook: ``start()``, ``run(code, timeout)`` any number of times, ``stop()``."""

    def __init__(self, workdir: Path, env: dict[str, str], startup_timeout: float = 120):
        self.workdir = Path(workdir)
        self.env = env
        self.startup_timeout = startup_timeout
        self.client = None
        self._starts = 0

    @property
    def starts(self) -> int:
        """How many kernels this session has started."""
        return self._starts

    def start(self) -> None:
        from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient
        from nbformat.v4 import new_notebook

        class ThisPython(KernelSpecManager):
            """The grader's own interpreter, whatever kernels the user has installed."""

            def get_kernel_spec(self, kernel_name):
                return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                  display_name="mfteach grading", language="python")

        self._starts += 1
        cwd = self.workdir / "cwd"
        cwd.mkdir(parents=True, exist_ok=True)
        manager = AsyncKernelManager(kernel_name="mfteach-grading", kernel_spec_manager=ThisPython(),
                                     connection_file=str(self.workdir / f"kernel-{self._starts}.json"))
        self.client = NotebookClient(new_notebook(), km=manager, kernel_name="mfteach-grading", allow_errors=True,
                                     startup_timeout=int(self.startup_timeout), record_timing=False,
                                     shutdown_kernel="immediate",
                                     resources={"metadata": {"path": str(cwd)}})
        log = self.workdir / f"kernel-{self._starts}.log"
        try:
            with open(log, "wb") as stream:  # the kernel's own chatter stays out of the grader's terminal
                self.client.start_new_kernel(env=self.env, cwd=str(cwd), stdout=stream, stderr=stream)
            self.client.start_new_kernel_client()
        except BaseException as exc:
            self.stop()
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            if tail and isinstance(exc, Exception):
                raise RuntimeError(f"{exc} (kernel said: {' / '.join(tail)})") from exc
            raise

    def run(self, code: str, timeout: float) -> tuple[list, str | None]:
        """Run ``code`` as one cell: (its outputs, None) or (outputs so far, "timeout" | "dead" | "error: ...")."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(code)
        self.client.nb.cells = [cell]
        self.client.timeout = max(1, int(round(timeout)))
        try:
            self.client.execute_cell(cell, 0, store_history=False)
        except CellTimeoutError:
            return list(cell.get("outputs", [])), "timeout"
        except DeadKernelError:
            return list(cell.get("outputs", [])), "dead"
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if errors:
            return list(cell.outputs), f"error: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        return list(cell.outputs), None

    def stop(self) -> None:
        client, self.client = self.client, None
        if client is None or client.km is None:
            return
        try:
            client._cleanup_kernel()
        except Exception:  # a kernel that is already gone
            try:
                client.km.cleanup_resources()
            except Exception:
                pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
