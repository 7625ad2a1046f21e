"""The wheel: it carries every lesson and nothing that is not ours (no MovieLens), and a fresh venv
with only that wheel installed (no clone on sys.path) copies the lessons out with
``mfteach lessons DEST`` and runs one of them headless.

Slow: builds the sdist and the wheel from it (as pip does from an sdist) and makes a venv with uv.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mfteach import course

ROOT = Path(__file__).resolve().parents[1]
MOVIELENS_HINTS = ("ml-100k", "ml-1m", "ml-latest", "u.data", "u.item", "ratings.dat", "movies.csv", ".zip")


def _run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("needs uv (pip install uv)")
    out = tmp_path_factory.mktemp("dist")
    _run([uv, "build", "--quiet", "--out-dir", str(out), str(ROOT)], timeout=600)
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return uv, wheel, sdist


@pytest.mark.slow
def test_the_wheel_has_every_lesson_and_no_data(built):
    _, wheel, sdist = built
    names = zipfile.ZipFile(wheel).namelist()
    lessons = sorted(n for n in names if n.startswith("mfteach/lessons/"))
    assert lessons == sorted(f"mfteach/lessons/{p.name}" for p in course.lesson_paths())
    with zipfile.ZipFile(wheel) as z:
        for path in course.lesson_paths():
            assert z.read(f"mfteach/lessons/{path.name}") == path.read_bytes()
    assert not [n for n in names if any(h in n.lower() for h in MOVIELENS_HINTS)]
    assert all(n.startswith(("mfteach/", "mfteach-")) for n in names), names
    # every package under mfteach/ is in it (setup.py finds them anew at each build)
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "mfteach").rglob("__init__.py")}
    assert packages <= {n.rsplit("/", 1)[0] for n in names}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mfteach = mfteach.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    import tarfile

    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert not [n for n in members if any(h in n.lower() for h in MOVIELENS_HINTS)]


@pytest.mark.slow
def test_a_venv_with_only_the_wheel_copies_and_runs_a_lesson(built, tmp_path):
    uv, wheel, _ = built
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(UV_COMPILE_BYTECODE="1", HOME=str(tmp_path / "home"), MFTEACH_HOME=str(tmp_path / "mfteach-home"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jc"), JUPYTER_DATA_DIR=str(tmp_path / "jd"),
               IPYTHONDIR=str(tmp_path / "ipy"), MPLCONFIGDIR=str(tmp_path / "mpl"), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("MPLBACKEND", None)
    outside = tmp_path / "elsewhere"  # not the clone: nothing of the repository on sys.path
    outside.mkdir()
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=outside, env=env, timeout=300)
    _run([uv, "pip", "install", "--quiet", "--python", str(python), str(wheel), "ipykernel", "nbclient"],
         cwd=outside, env=env, timeout=600)

    where = _run([str(python), "-c", "import mfteach, mfteach.course as c; print(mfteach.__file__); "
                  "print(c.lessons_dir())"], cwd=outside, env=env, timeout=120).stdout.split()
    assert str(ROOT) not in where[0] and "site-packages" in where[0], where
    assert where[1].endswith(os.path.join("site-packages", "mfteach", "lessons"))

    dest = tmp_path / "course"
    _run([str(venv / "bin" / "mfteach"), "lessons", str(dest)], cwd=outside, env=env, timeout=120)
    assert sorted(p.name for p in dest.glob("*.ipynb")) == [p.name for p in course.lesson_paths()]
    clean = tmp_path / "clean"
    _run([str(python), "-m", "mfteach", "lessons", str(clean), "--clean"], cwd=outside, env=env, timeout=120)

    lesson = clean / course.lesson_paths()[0].name
    code = ("import nbformat, sys\nfrom nbclient import NotebookClient\n"
            f"nb = nbformat.read({str(lesson)!r}, as_version=4)\n"
            f"NotebookClient(nb, timeout=600, kernel_name='python3', resources={{'metadata': {{'path': {str(clean)!r}}}}}).execute()\n"
            "errors = [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']\n"
            "print('errors', len(errors))\n")
    done = _run([str(python), "-c", code], cwd=outside, env=env, timeout=900)
    assert "errors 0" in done.stdout
    if os.environ.get("MFTEACH_DATA"):
        assert not list(Path(env["HOME"]).rglob("u.data")), "MovieLens was downloaded although MFTEACH_DATA is set"
    assert json.loads(lesson.read_text(encoding="utf-8"))["cells"]  # the lesson copy is intact
