"""The ``mfteach`` command: ``lessons DEST [--clean] [--student] [--force]`` and ``grade ...``;
``mfteach.course.lesson_paths()``; ``python -m mfteach.data`` still answers."""

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from mfteach import course
from mfteach.__main__ import clean_notebook, main

ROOT = Path(__file__).resolve().parents[1]


def test_lesson_paths_in_a_clone_are_the_repository_lessons():
    paths = course.lesson_paths()
    assert paths, "no lessons found"
    assert paths == sorted(paths)
    assert {p.parent for p in paths} == {ROOT / "lessons"}
    assert all(p.suffix == ".ipynb" and p.name[:2].isdigit() and p.name[2] == "_" for p in paths)
    assert set(paths) == set((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def test_lesson_paths_prefers_the_copy_inside_an_installed_package(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "mfteach"
    (package / "lessons").mkdir(parents=True)
    for name in ("01_b.ipynb", "00_a.ipynb"):
        (package / "lessons" / name).write_text("{}")
    (package / "lessons" / "__init__.py").write_text("")
    monkeypatch.setattr(course, "_PACKAGE", package)
    assert [p.name for p in course.lesson_paths()] == ["00_a.ipynb", "01_b.ipynb"]


def test_no_lessons_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(course, "_PACKAGE", tmp_path / "mfteach")
    with pytest.raises(FileNotFoundError, match="no lessons found"):
        course.lesson_paths()


def test_lessons_copies_every_lesson_as_it_is(tmp_path, capsys):
    dest = tmp_path / "course"
    assert main(["lessons", str(dest)]) == 0
    sources = course.lesson_paths()
    assert sorted(p.name for p in dest.iterdir()) == [p.name for p in sources]
    for source in sources:
        assert (dest / source.name).read_bytes() == source.read_bytes()
    out = capsys.readouterr().out
    assert f"Wrote {len(sources)} lesson(s) to {dest.resolve()}" in out and "jupyter lab" in out


def test_clean_drops_outputs_counts_and_widget_state(tmp_path):
    dest = tmp_path / "clean"
    assert main(["lessons", str(dest), "--clean"]) == 0
    for source in course.lesson_paths():
        original = json.loads(source.read_text(encoding="utf-8"))
        nb = json.loads((dest / source.name).read_text(encoding="utf-8"))
        assert [c["source"] for c in nb["cells"]] == [c["source"] for c in original["cells"]]
        assert "widgets" not in nb["metadata"]
        for cell in nb["cells"]:
            assert "execution" not in cell.get("metadata", {})
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
        assert (dest / source.name).stat().st_size < source.stat().st_size


def test_clean_notebook_leaves_its_argument_alone():
    nb = {"metadata": {"widgets": {"x": 1}}, "nbformat": 4, "nbformat_minor": 5,
          "cells": [{"cell_type": "code", "execution_count": 3, "metadata": {"execution": {}}, "outputs": [{"a": 1}],
                     "source": "1"}]}
    before = json.dumps(nb, sort_keys=True)
    cleaned = clean_notebook(nb)
    assert json.dumps(nb, sort_keys=True) == before
    assert cleaned["cells"][0]["outputs"] == [] and cleaned["metadata"] == {}


def test_a_learners_copy_is_kept_unless_forced(tmp_path, capsys):
    dest = tmp_path / "mine"
    first = course.lesson_paths()[0].name
    dest.mkdir()
    (dest / first).write_text("my work")
    assert main(["lessons", str(dest)]) == 0
    assert (dest / first).read_text() == "my work"
    assert f"Kept 1 that were already there" in capsys.readouterr().out
    assert main(["lessons", str(dest), "--force"]) == 0
    assert (dest / first).read_bytes() == course.lesson_paths()[0].read_bytes()
    assert not list(dest.glob(".*.tmp"))


def test_dest_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["lessons", str(target)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_student_calls_the_student_edition_on_each_notebook(tmp_path, monkeypatch):
    """With a stand-in for mfteach.student (issue 17's module): each notebook passes through it,
    and --clean then strips what it returns."""
    seen = []

    def student_edition(nb: dict) -> dict:
        seen.append(nb["cells"][0]["source"])
        nb = dict(nb)
        nb["metadata"] = {**nb["metadata"], "mfteach_student": True}
        return nb

    monkeypatch.setitem(sys.modules, "mfteach.student", types.SimpleNamespace(student_edition=student_edition))
    dest = tmp_path / "students"
    assert main(["lessons", str(dest), "--student", "--clean"]) == 0
    assert len(seen) == len(course.lesson_paths())
    for path in dest.iterdir():
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["metadata"].get("mfteach_student") is True
        assert all(c.get("outputs", []) == [] for c in nb["cells"])


def test_student_with_the_real_module(tmp_path):
    pytest.importorskip("mfteach.student", reason="mfteach.student (issue 17) is not there yet")
    dest = tmp_path / "students"
    assert main(["lessons", str(dest), "--student"]) == 0
    assert sorted(p.name for p in dest.iterdir()) == [p.name for p in course.lesson_paths()]


def test_grade_is_handed_everything_after_it(monkeypatch):
    calls = []

    def grade_main(argv=None):
        calls.append(argv)
        return 3

    monkeypatch.setitem(sys.modules, "mfteach.grade", types.SimpleNamespace(main=grade_main))
    assert main(["grade", "a.ipynb", "b.ipynb", "--out", "grades.csv", "--help"]) == 3
    assert calls == [["a.ipynb", "b.ipynb", "--out", "grades.csv", "--help"]]


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "lessons" in out and "grade" in out


def test_python_dash_m_mfteach_and_mfteach_data_answer():
    for module in ("mfteach", "mfteach.data"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                              cwd=ROOT)
        assert done.returncode == 0, done.stderr[-1000:]
        assert "download" in done.stdout
    version = subprocess.run([sys.executable, "-m", "mfteach", "--version"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    assert version.stdout.startswith("mfteach ")
