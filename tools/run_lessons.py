"""Execute every lesson headless in THIS Python, without comparing outputs (the CI version legs).

    python tools/run_lessons.py [-j N] [--timeout S] [NOTEBOOK ...]

Each notebook (default: every ``lessons/NN_*.ipynb``) is copied to a temporary folder and run top
to bottom by nbclient in a fresh kernel of the running interpreter; cells tagged
``raises-exception`` may raise, any other error fails the run. ``-j 2`` runs two kernels at once.
Jupyter, IPython, matplotlib and exercise progress write into a temporary home; BLAS runs one
thread per kernel, as on Binder. Prints one line per lesson with its time; exit status 1 if any
lesson failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _private_env(home: Path) -> None:
    for name, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib"), ("MFTEACH_HOME", "mfteach")]:
        os.environ[name] = str(home / sub)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    os.environ.pop("MPLBACKEND", None)  # the kernel keeps its inline backend
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel 6's debugger: no frozen-modules warning


def run_one(path: str, timeout: int) -> tuple[str, float, str | None]:
    """(name, seconds, None) when the lesson ran through, else (name, seconds, error text)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = Path(path)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mfteach-run-") as tmp:
        work = Path(tmp) / "lessons"
        work.mkdir()
        _private_env(Path(tmp))
        target = work / source.name
        shutil.copyfile(source, target)
        nb = nbformat.read(target, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # IPython's colours
            return source.name, time.monotonic() - started, text[-3000:]
        except Exception as exc:  # a dead kernel, a timeout
            return source.name, time.monotonic() - started, f"{type(exc).__name__}: {exc}"
    return source.name, time.monotonic() - started, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: every lessons/NN_*.ipynb")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="kernels at once (default 1)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [str(p) for p in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))]
    if not notebooks:
        print("run_lessons: no lesson found", file=sys.stderr)
        return 1
    started = time.monotonic()
    failed = []
    context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no forked threads
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        futures = [pool.submit(run_one, nb, args.timeout) for nb in notebooks]
        for future, nb in zip(futures, notebooks):
            try:
                name, seconds, error = future.result()
            except Exception as exc:  # e.g. the notebook is gone
                name, seconds, error = Path(nb).name, 0.0, f"{type(exc).__name__}: {exc}"
            print(f"{'ok  ' if error is None else 'FAIL'} {seconds:6.1f} s  {name}", flush=True)
            if error is not None:
                failed.append(name)
                print(error, flush=True)
    print(f"run_lessons: {time.monotonic() - started:.0f} s with Python {sys.version.split()[0]}", flush=True)
    print(f"lessons: {len(notebooks) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
