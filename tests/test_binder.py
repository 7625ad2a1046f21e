"""The Binder (repo2docker) configuration in binder/: the environment it describes runs lesson 00.

repo2docker copies the repository into the image and then, from the repository root, runs
``pip install --no-cache-dir -r binder/requirements.txt`` (``-e .`` in that file therefore means
the repository root), ``binder/postBuild`` once at build time, and ``binder/start`` at every
launch. A real build needs Docker, which tests do not have, so:

* ``test_binder_environment_runs_lesson_00`` rebuilds the Python side of that recipe in a fresh
  venv, from a copy of the repository, and executes lesson 00 headless through ``binder/start``;
* ``test_repo2docker_lint`` lets repo2docker itself parse binder/ (``--no-build``) and checks the
  Dockerfile it would build.

Both install packages (uv when it is on PATH: seconds; pip otherwise: about a minute) and are
marked slow. Subprocesses get a temporary HOME and Jupyter paths; the only thing written
outside the temporary folders is uv's download cache (pip runs with ``--no-cache-dir``, as in
repo2docker). Set ``MFTEACH_BINDER_INSTALLER=pip`` to install with pip even when uv exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
LESSON_00 = Path("lessons") / "00_recommenders_as_matrices.ipynb"

# Copied into the fake image: what a clone would hold (never the dev venv or build leftovers).
_NOT_IN_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".hypothesis",
    ".ipynb_checkpoints", "build", "dist", "screenshots", "node_modules",
)
# Inherited variables that could make a subprocess use another Python or another Jupyter.
# PYTHONDONTWRITEBYTECODE goes too: the fresh venv then compiles only what is imported, once
# (uv's --compile-bytecode compiles all of JupyterLab: measured 28 s for this test instead of 16 s).
_LEAKY = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "CONDA_PREFIX",
          "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH",
          "JUPYTER_RUNTIME_DIR", "JUPYTER_PLATFORM_DIRS", "IPYTHONDIR", "MPLCONFIGDIR", "MPLBACKEND",
          "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "PYTHONDONTWRITEBYTECODE")


# ------------------------------------------------------------------------------------ helpers
def _use_uv() -> bool:
    return shutil.which("uv") is not None and os.environ.get("MFTEACH_BINDER_INSTALLER", "uv") != "pip"


def _isolated_env(root: Path, venv: Path | None = None) -> dict[str, str]:
    """os.environ without anything pointing at another Python or Jupyter, with HOME and every
    Jupyter/IPython/matplotlib folder under ``root``, and ``venv``'s bin first on PATH.
    MFTEACH_DATA and MFTEACH_HOME pass through."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    home = root / "home"
    jupyter_path = root / "jupyter-path"  # empty: no kernelspec from outside the venv
    for folder in (home, jupyter_path):
        folder.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        JUPYTER_PATH=str(jupyter_path),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / ".local" / "share" / "jupyter" / "runtime"),
        IPYTHONDIR=str(home / ".ipython"),
        MPLCONFIGDIR=str(home / ".config" / "matplotlib"),
    )
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    return env


def _run(cmd, *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{' '.join(result.args)}\n"
                    f"--- stdout (tail)\n{result.stdout[-4000:]}\n--- stderr (tail)\n{result.stderr[-4000:]}")
    return result


def _make_venv(venv: Path, root: Path) -> Path:
    """A fresh venv on the Python running pytest; returns its python."""
    env = _isolated_env(root)
    if _use_uv():
        _check(_run(["uv", "venv", "--quiet", "--python", sys.executable, venv], cwd=root, env=env, timeout=120),
               "uv venv")
    else:
        _check(_run([sys.executable, "-m", "venv", venv], cwd=root, env=env, timeout=300), "python -m venv")
    return venv / "bin" / "python"


def _install(python: Path, args: list[str], *, cwd: Path, root: Path) -> None:
    """``pip install ARGS`` into the venv of ``python``, from ``cwd`` (uv's cache is kept: it is
    what makes this take seconds; pip gets --no-cache-dir, as repo2docker gives it)."""
    env = _isolated_env(root)
    if _use_uv():
        # HOME is temporary: point uv at its usual cache explicitly (honours UV_CACHE_DIR).
        env["UV_CACHE_DIR"] = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True,
                                             check=True).stdout.strip()
        cmd = ["uv", "pip", "install", "--python", python, *args]
    else:
        cmd = [python, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", *args]
    _check(_run(cmd, cwd=cwd, env=env, timeout=900), "installing " + " ".join(args))


def _copy_of_repo(dest: Path) -> Path:
    """The repository as repo2docker's ``COPY src/ ${REPO_DIR}/`` sees it: the working tree
    (committed plus new files) without the dev venv, git data and build leftovers."""
    shutil.copytree(REPO, dest, ignore=_NOT_IN_CLONE, symlinks=True)
    return dest


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# What the kernel that runs the lessons reports about itself (last line of stdout is JSON).
_PROBE = """\
import json, os, sys
import ipywidgets, mfteach
slider = ipywidgets.IntSlider(value=3, min=0, max=10, description="k")
display(slider)
print(json.dumps({
    "prefix": sys.prefix,
    "executable": sys.executable,
    "mfteach": mfteach.__file__,
    "ipywidgets": ipywidgets.__version__,
    "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                            "MKL_NUM_THREADS", "MFTEACH_DATA", "HOME")},
}))
"""


def _errors(notebook: dict) -> list[str]:
    """Error outputs, except in cells tagged ``raises-exception`` (those are expected)."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
    return found


def _stdout(cell: dict) -> str:
    return "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                   for o in cell["outputs"] if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.fixture
def scratch(tmp_path):
    """tmp_path, deleted afterwards (a venv is 700 MB; pytest would keep the last three runs)."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture(scope="session")
def repo2docker(tmp_path_factory):
    """``jupyter-repo2docker`` installed in its own venv, once per session."""
    root = tmp_path_factory.mktemp("repo2docker")
    python = _make_venv(root / "venv", root)
    _install(python, ["jupyter-repo2docker"], cwd=root, root=root)
    yield root / "venv" / "bin" / "jupyter-repo2docker"
    shutil.rmtree(root, ignore_errors=True)


# -------------------------------------------------------------------------------------- tests
def test_binder_files():
    """binder/ holds what the Binder launch relies on (fast; the slow tests below run it)."""
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"

    lines = [ln.split("#", 1)[0].strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    assert lines == ["jupyterlab>=4,<5", "ipywidgets>=8,<9", "jupyterlab_widgets>=3,<4", "-e ."]

    for script in ("start", "postBuild"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        assert path.read_text().startswith("#!/bin/bash\n"), f"binder/{script} needs a bash shebang"
    assert "set -e" in (BINDER / "postBuild").read_text().splitlines()[1]
    start_lines = [ln.strip() for ln in (BINDER / "start").read_text().splitlines() if ln.strip()]
    assert start_lines[-1] == 'exec "$@"'

    # The start script's defaults, with MFTEACH_DATA unset (as on Binder) and passed through.
    env = {k: v for k, v in os.environ.items() if k not in ("MFTEACH_DATA", "OMP_NUM_THREADS")}
    env["HOME"] = "/nonexistent-home"
    shown = subprocess.run([BINDER / "start", "env"], env=env, capture_output=True, text=True, check=True).stdout
    assert "OMP_NUM_THREADS=1\n" in shown and "OPENBLAS_NUM_THREADS=1\n" in shown and "MKL_NUM_THREADS=1\n" in shown
    assert "MFTEACH_DATA=/nonexistent-home/.cache/mfteach\n" in shown
    env["MFTEACH_DATA"] = "/some/data"
    shown = subprocess.run([BINDER / "start", "env"], env=env, capture_output=True, text=True, check=True).stdout
    assert "MFTEACH_DATA=/some/data\n" in shown


@pytest.mark.slow
def test_binder_environment_runs_lesson_00(scratch):
    """A fresh venv with exactly binder/requirements.txt, installed like repo2docker does it
    (from the root of a copy of the repo), runs lesson 00 through binder/start."""
    lesson = REPO / LESSON_00
    if not lesson.is_file():
        pytest.fail(f"{LESSON_00} is missing: the Binder link opens lessons/ and starts with it")

    repo = _copy_of_repo(scratch / "repo")
    python = _make_venv(scratch / "venv", scratch)
    venv = python.parent.parent
    # repo2docker: WORKDIR ${REPO_DIR}; pip install --no-cache-dir -r "binder/requirements.txt".
    # Both pip and uv read "-e ." relative to the working directory, not to the file.
    _install(python, ["-r", "binder/requirements.txt"], cwd=repo, root=scratch)

    env = _isolated_env(scratch, venv)
    # repo2docker then runs ./binder/postBuild (as the user, from the repo root, venv on PATH).
    # With MFTEACH_DATA holding ml-100k the prefetch is a local check, not a download.
    built = _check(_run(["./binder/postBuild"], cwd=repo, env=env, timeout=300), "binder/postBuild")
    if os.path.isfile(os.path.join(os.environ.get("MFTEACH_DATA", ""), "ml-100k", "u.data")):
        assert "MovieLens 100k is ready in" in built.stdout, built.stdout + built.stderr

    check = ("import mfteach, ipywidgets, jupyterlab, jupyterlab_widgets, nbconvert, ipykernel, json; "
             "assert ipywidgets.__version__.startswith('8'), ipywidgets.__version__; "
             "assert jupyterlab.__version__.startswith('4'), jupyterlab.__version__; "
             "assert jupyterlab_widgets.__version__.startswith('3'), jupyterlab_widgets.__version__; "
             "print(json.dumps([mfteach.__file__, jupyterlab.__version__, ipywidgets.__version__]))")
    shown = _check(_run([python, "-c", check], cwd=scratch, env=env, timeout=120), "importing in the Binder venv")
    mfteach_file, lab_version, widgets_version = json.loads(shown.stdout.strip().splitlines()[-1])
    # "-e ." resolved to the repository root the install ran from (the copy), not elsewhere.
    assert Path(mfteach_file).resolve().is_relative_to(repo.resolve()), mfteach_file

    # Execute the probe and lesson 00 inside the copy (the kernel's working directory is the
    # notebook's folder, as in JupyterLab), with the venv's jupyter, wrapped in binder/start.
    probe = repo / "lessons" / "_binder_probe.ipynb"
    probe.write_text(json.dumps(_notebook([_PROBE])))
    out = scratch / "executed"
    result = _run(
        [repo / "binder" / "start", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.kernel_name=python3", "--ExecutePreprocessor.timeout=600",
         "--output-dir", out, probe, repo / LESSON_00],
        cwd=repo, env=env, timeout=900)
    _check(result, f"jupyter nbconvert --execute {LESSON_00} in the Binder venv")

    # The kernel was the venv's python, under the start script's environment.
    probed = json.loads((out / probe.name).read_text())
    assert _errors(probed) == []
    facts = json.loads(_stdout(probed["cells"][0]).strip().splitlines()[-1])
    assert Path(facts["prefix"]).resolve() == venv.resolve(), facts
    assert Path(facts["executable"]).parent == venv / "bin", facts
    assert Path(facts["mfteach"]).resolve().is_relative_to(repo.resolve()), facts
    assert facts["ipywidgets"] == widgets_version
    assert facts["env"]["OMP_NUM_THREADS"] == facts["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert facts["env"]["MKL_NUM_THREADS"] == "1"
    assert facts["env"]["HOME"] == env["HOME"]
    expected_data = os.environ.get("MFTEACH_DATA") or str(Path(env["HOME"]) / ".cache" / "mfteach")
    assert facts["env"]["MFTEACH_DATA"] == expected_data
    mimes = {m for o in probed["cells"][0]["outputs"] for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes, mimes

    executed = json.loads((out / lesson.name).read_text())
    assert _errors(executed) == [], f"{LESSON_00} raised in the Binder environment " \
                                    f"(JupyterLab {lab_version}, ipywidgets {widgets_version})"
    code = [c for c in executed["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert code and all(c["execution_count"] is not None for c in code), "not every code cell ran"


@pytest.mark.slow
def test_repo2docker_lint(repo2docker, scratch):
    """repo2docker parses binder/ and would build: Python 3.11, the requirements installed
    after the repo is copied (so "-e ." sees it), postBuild run, start script as entrypoint."""
    result = _run([repo2docker, "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan", REPO],
                  cwd=scratch, env=_isolated_env(scratch), timeout=300)
    _check(result, "jupyter-repo2docker --no-build")
    dockerfile, log = result.stdout, result.stderr

    # runtime.txt -> the Python 3.11 base environment.
    assert "Building conda environment for python=3.11" in log, log
    # binder/ wins over the root: requirements installed with the kernel's pip, from the repo
    # root, and only after the whole repo is copied in ("-e ." needs it).
    install = re.search(r'^RUN \$\{KERNEL_PYTHON_PREFIX\}/bin/pip install --no-cache-dir -r "binder/requirements\.txt"$',
                        dockerfile, re.M)
    assert install, dockerfile
    copy_repo = dockerfile.find("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    assert 0 <= dockerfile.find("WORKDIR ${REPO_DIR}") < copy_repo < install.start(), dockerfile
    assert "environment.yml" not in dockerfile and "setup.py" not in dockerfile
    # postBuild runs once at build time (after the install), start at every launch.
    post = dockerfile.find("RUN ./binder/postBuild")
    assert install.start() < dockerfile.find("RUN chmod +x binder/postBuild") < post, dockerfile
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile, dockerfile
    assert 'RUN chmod +x "${REPO_DIR}/binder/start"' in dockerfile, dockerfile

    # The Python 3.11 base image already has JupyterLab 4 / ipywidgets 8 / jupyterlab_widgets 3:
    # the pins in requirements.txt agree with it, so pip keeps the base's front end.
    lock_dir = _run([repo2docker.parent / "python", "-c",
                     "import os, repo2docker.buildpacks.conda as c; print(os.path.dirname(c.__file__))"],
                    cwd=scratch, env=_isolated_env(scratch), timeout=60).stdout.strip()
    lock = (Path(lock_dir) / "environment.py-3.11-linux-64.lock").read_text()
    for package, major in (("jupyterlab", "4"), ("ipywidgets", "8"), ("jupyterlab_widgets", "3")):
        assert re.search(rf"/{package}-{major}\.[0-9.]+-[^/]*\.conda", lock), f"{package} {major}.x not in the base"
