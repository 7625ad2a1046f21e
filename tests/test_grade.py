"""``python -m mfteach grade`` end to end, on submissions the tests build from the shipped lessons.

Each test writes fixture notebooks (``grade_fixtures``: correct, stubs, typical mistakes, an endless
loop, a cell that raises, a notebook of another lesson, malformed JSON, an empty notebook, a
foreign notebook), runs the grader with fresh kernels, and compares every row with what the
fixture expects. The 30-notebook run over every lesson is marked ``slow``; the default run grades
a smaller class.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mfteach import grade
from mfteach.grading.notebooks import check_name, lesson_items, source_of
from mfteach.grading.runner import COLUMNS

import grade_fixtures as fx

LESSONS = fx.lessons()
ROOT = Path(__file__).resolve().parents[1]


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _without_seconds(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [line[:-1] for line in csv.reader(f)]  # seconds is the last column


def _grade(folder: Path, out: Path, *options) -> tuple[int, list[dict], float]:
    started = time.monotonic()
    status = grade.main([str(folder), "--out", str(out), "--quiet", *options])
    return status, _read(out), time.monotonic() - started


def _assert_expected(rows, written):
    problems = [p for path, lesson, expected in written for p in fx.check_rows(rows, path, lesson, expected)]
    assert problems == [], "\n".join(problems)


def _class(folder: Path, plan) -> list:
    """Write the submissions of ``plan``: (file stem, case, lesson of the content, lesson named in the file)."""
    written = []
    for stem, case, lesson in plan:
        written.append(fx.write(folder, stem, case, lesson))
    return written


def _small_plan():
    a, b = _short_lessons()
    return [(f"ann_{a}", "correct", a), (f"bob_{b}", "mistakes", b), (f"cy_{a}", "loop", a),
            (f"dee_{b}", "raises", b), (f"eve_{b}", "stubs", b),
            (f"fay_{a}", "other", b),  # lesson b's content under lesson a's name: graded as b
            ("gus", "malformed", None), ("hal", "empty", None), ("ivy", "foreign", None)]


def _short_lessons():
    """Two lessons whose exercises have the shortest time limits (the loop fixture waits for them)."""
    import mfteach.exercises as ex

    def cost(lesson):
        names = [n for n, e in ex.EXERCISES.items() if e.lesson == lesson]
        return (sum(ex.EXERCISES[n].time_limit for n in names[:2]), len(names), lesson)

    return sorted(LESSONS, key=cost)[:2]


def test_grade_a_small_class(tmp_path, capsys):
    """Every failure mode in one run with --jobs 2: each item right, one row per failure, exit 1 (some
    notebooks are not gradable), the per-student table and the summary."""
    written = _class(tmp_path / "subs", _small_plan())
    status, rows, seconds = _grade(tmp_path / "subs", tmp_path / "grades.csv", "--jobs", "2")
    printed = capsys.readouterr().out
    print(printed, f"\n{len(written)} notebooks graded in {seconds:.1f} s")
    assert status == 1
    _assert_expected(rows, written)
    assert list(rows[0]) == COLUMNS
    assert [r["student"] for r in rows] == sorted(r["student"] for r in rows)  # sorted by student
    assert "Graded 9 notebooks" in printed and "6 graded, 3 could not be graded" in printed
    assert "Most common recognised mistakes" in printed
    with open(tmp_path / "grades_students.csv", newline="", encoding="utf-8") as f:
        students = [line[0] for line in csv.reader(f)][1:]
    assert students == sorted(stem for stem, _, _ in _small_plan())


def test_the_same_submissions_give_the_same_csv(tmp_path):
    """Deterministic: every column but seconds (the last) is the same on a second run, also with
    another number of jobs."""
    a = _short_lessons()[0]
    _class(tmp_path / "subs", [("p1", "mistakes", a), ("p2", "malformed", None), ("p3", "foreign", None)])
    _grade(tmp_path / "subs", tmp_path / "one.csv", "--jobs", "2")
    _grade(tmp_path / "subs", tmp_path / "two.csv", "--jobs", "1")
    assert _without_seconds(tmp_path / "one.csv") == _without_seconds(tmp_path / "two.csv")
    assert (tmp_path / "one_students.csv").read_bytes() == (tmp_path / "two_students.csv").read_bytes()


def test_a_hang_or_a_crash_the_sandbox_cannot_stop_costs_one_item_and_a_fresh_kernel(tmp_path):
    """A class body that loops forever and one that ends the process both run in the kernel itself
    (the definitions of a cell whose top level failed): the grader's own limit (--timeout) stops the
    first, the second kills the kernel; each costs its item, a fresh kernel grades the rest, and a
    notebook row says so."""
    lesson = next(name for name in LESSONS if len(lesson_items(name)[0]) >= 3)
    path, _, expected = fx.write(tmp_path / "subs", "hanger", "correct", lesson)
    nb = json.loads(path.read_text(encoding="utf-8"))
    order = [check_name(source_of(c)) for c in nb["cells"] if c["cell_type"] == "code"]
    first, second = [n for n in order if n in expected][:2]
    for cell in nb["cells"]:
        name = check_name(source_of(cell)) if cell["cell_type"] == "code" else None
        if name == first:
            cell["source"] = f"%%check {first}\nclass Stuck:\n    while True:\n        pass\n"
        elif name == second:
            cell["source"] = f"%%check {second}\nimport os\nclass Gone:\n    os._exit(3)\n"
    path.write_text(json.dumps(nb), encoding="utf-8")
    expected[first] = {"passed": False, "mistake": "", "error": "stopped after 8 s (the grader's limit", "note": ""}
    expected[second] = {"passed": False, "mistake": "", "error": "the kernel died", "note": ""}
    status, rows, _ = _grade(tmp_path / "subs", tmp_path / "grades.csv", "--timeout", "8")
    assert status == 0
    _assert_expected(rows, [(path, lesson, expected)])
    notes = [r["error"] for r in rows if r["kind"] == "notebook"]
    assert len(notes) == 1 and f"the kernel was replaced after {first}" in notes[0] \
        and f"the kernel was replaced after {second}" in notes[0]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.rglob("*"))} if folder.exists() else {}


def test_grading_writes_nothing_outside_its_output_and_temp_folders(tmp_path):
    """A grade run (a subprocess with its own HOME, TMPDIR and working folder) leaves its HOME, its
    TMPDIR, its working folder and the submissions as they were, and writes only the two CSVs,
    although a learner cell writes files into its working folder, its home and its temp folder.
    With strace available, every file any of its processes creates or opens for writing is listed
    and must lie inside its temp or output folder."""
    lesson = _short_lessons()[0]
    subs, out, home, tmp, cwd = (tmp_path / name for name in ("subs", "out", "home", "tmp", "cwd"))
    for folder in (home, tmp, cwd):
        folder.mkdir()
    path, _, expected = fx.write(subs, "writer", "correct", lesson)
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = lesson_items(lesson)[0][0]
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and check_name(source_of(cell)) == first:
            cell["source"] = source_of(cell) + (
                "\nimport os, tempfile\nopen('learner-wrote-this.txt', 'w').write('x')\n"
                "open(os.path.expanduser('~/learner-home.txt'), 'w').write('x')\n"
                "tempfile.mkstemp(prefix='learner-')\n")
    path.write_text(json.dumps(nb), encoding="utf-8")
    before = {"subs": _tree(subs), "lessons": sorted(p.name for p in (ROOT / "lessons").iterdir())}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "MPL"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "mfteach", "grade", str(subs), "--out", str(out / "grades.csv"), "--quiet"]
    log = tmp_path / "strace.log"
    traced = shutil.which("strace") is not None
    if traced:
        command = ["strace", "-f", "-qq", "-y", "-o", str(log), "-e",
                   "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir"] + command
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _read(out / "grades.csv")
    _assert_expected(rows, [(path, lesson, expected)])
    assert _tree(home) == {} and _tree(tmp) == {} and _tree(cwd) == {}
    assert _tree(subs) == before["subs"]
    assert sorted(os.listdir(out)) == ["grades.csv", "grades_students.csv"]
    assert sorted(p.name for p in (ROOT / "lessons").iterdir()) == before["lessons"]
    if traced:
        written = _written_paths(log.read_text(errors="replace"))
        allowed = (str(tmp_path), "/dev/", "/proc/")
        outside = sorted(p for p in written if not p.startswith(allowed))
        assert outside == [], outside


def _written_paths(log: str) -> set[str]:
    """Paths a ``strace -f -y`` log shows created, opened for writing, renamed or removed (successful
    calls); ``-y`` names the folder of a relative path (``AT_FDCWD</folder>``) and the file an open returned."""
    import re

    paths = set()
    calls = r"open|openat|creat|mkdir|mkdirat|rename|renameat|renameat2|unlink|unlinkat|rmdir"
    for line in log.splitlines():
        match = re.search(rf"\b({calls})\((.*)\)\s+=\s+(\d+)(<([^>]*)>)?", line)
        if not match:
            continue
        call, arguments, _, _, opened = match.groups()
        if call in ("open", "openat"):
            if not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", arguments):
                continue
            if opened:
                paths.add(opened)
                continue
        for piece in re.finditer(r'(?:AT_FDCWD|\d+)<([^>]*)>, "((?:[^"\\]|\\.)*)"|"((?:[^"\\]|\\.)*)"', arguments):
            base, relative, plain = piece.groups()
            if base is not None:
                paths.add(relative if relative.startswith("/") else os.path.join(base, relative))
            elif plain.startswith("/"):
                paths.add(plain)
            else:
                paths.add("(relative, folder unknown) " + plain)
    return paths


@pytest.mark.slow
def test_grade_thirty_submissions_from_every_lesson(tmp_path, capsys):
    """The must-show: 30 fixture submissions built from every lesson, mixing every case, --jobs 2:
    correct pass/fail for every item, one row per failure mode, no crash; prints the wall time."""
    lessons = LESSONS
    plan = []
    for j, lesson in enumerate(lessons):  # every lesson once, the kernel cases in turn
        case = fx.KERNEL_CASES[j % len(fx.KERNEL_CASES)]
        content = lessons[(j + 1) % len(lessons)] if case == "other" else lesson
        plan.append((f"s{j:02d}_{lesson}", case, content))
    for j, case in enumerate(fx.NO_KERNEL_CASES):
        plan.append((f"t{j:02d}_{case}", case, None))
    j = 0
    while len(plan) < 30:  # the rest: more of the kernel cases on other lessons
        lesson = lessons[(7 * j + 3) % len(lessons)]
        case = fx.KERNEL_CASES[(j + 2) % len(fx.KERNEL_CASES)]
        content = lessons[(7 * j + 4) % len(lessons)] if case == "other" else lesson
        plan.append((f"u{j:02d}_{lesson}", case, content))
        j += 1
    written = _class(tmp_path / "subs", plan)
    status, rows, seconds = _grade(tmp_path / "subs", tmp_path / "grades.csv", "--jobs", "2")
    printed = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n{printed}\n30 notebooks from {len(lessons)} lessons graded with --jobs 2 in {seconds:.1f} s")
    assert status == 1  # the malformed, empty and foreign files
    _assert_expected(rows, written)
    assert len({r["file"] for r in rows}) == 30
