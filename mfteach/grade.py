"""``python -m mfteach grade SUBMISSIONS... [--out grades.csv] [--timeout S] [--jobs N]``.

Grades a folder of learners' lesson notebooks (one file per student, any file name) with the
lessons' own checker, each notebook in a fresh Jupyter kernel that runs only the lesson's set-up
as shipped and the learner's exercise cells (never cells a learner added), each piece under a time
limit. Writes one CSV row per student x item and a per-student table, prints a summary.

How it works (details in ``mfteach.grading``):

- The lesson is recognised from the notebook's content (its ``%%check`` names, its ``quiz(...)``
  call, its answer lines), not its file name.
- Exercises: the learner's ``%%check NAME`` cell (the last one, if there are several) is graded by
  ``mt.exercises.check`` in the kernel, on the exercise's own test cases, in the forked sandbox.
- Questions: the ``mt.exercises.answer("question", value)`` lines of the student edition (quiz
  widget clicks are not saved in the notebook file).
- Deterministic: notebooks are graded in sorted order and every column but ``seconds`` (wall
  time, last column) is the same on every run.
- Exit status: 0 when every notebook was graded, 1 when some could not be (their rows say why),
  2 for a usage error.

Not a security sandbox: the kernel runs as you, with its folders in a temporary directory; the
checker's time limits stop loops, not malicious code. Grade untrusted submissions as an
unprivileged user or in a container.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main", "find_notebooks", "read_roster"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mfteach grade",
        description="Grade learners' lesson notebooks: one fresh kernel per notebook, the lessons' own checker.")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSIONS",
                        help="notebooks, or folders searched for *.ipynb (one file per student)")
    parser.add_argument("--out", default="grades.csv", type=Path,
                        help="the per-item CSV (default grades.csv); the per-student table goes beside it "
                             "as <name>_students.csv")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="seconds allowed for each piece: the lesson's set-up, or one exercise with its "
                             "check (default 60; each call of a learner's function also has the exercise's "
                             "own limit, 5 s for most)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="notebooks graded at the same time, each in its own process and kernel (default 1)")
    parser.add_argument("--roster", type=Path, metavar="CSV",
                        help="a CSV with columns file,student mapping file names to students "
                             "(default: the student is the file name without .ipynb)")
    parser.add_argument("--lesson", metavar="NAME",
                        help="the assigned lesson, by name or number (06_alternating_least_squares or 06): "
                             "notebooks of another lesson get a row saying so instead of grades")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def find_notebooks(arguments) -> list[Path]:
    """Every notebook named or found (recursively, hidden folders skipped) in the arguments, sorted."""
    found = set()
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            for notebook in path.rglob("*.ipynb"):
                if not any(part.startswith(".") for part in notebook.relative_to(path).parts):
                    found.add(notebook)
        else:
            found.add(path)  # a missing or broken file gets a row saying so
    return sorted(found, key=lambda p: str(p))


def read_roster(path: Path) -> dict[str, str]:
    """file (as given, its name, or its name without extension) -> student, from a CSV with a header."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        file_key = fields.get("file") or fields.get("notebook") or fields.get("filename")
        student_key = fields.get("student") or fields.get("name") or fields.get("id")
        if not file_key or not student_key:
            raise ValueError(f"{path}: the roster needs a header with the columns file and student, "
                             f"got {reader.fieldnames}")
        roster = {}
        for line in reader:
            file, student = (line.get(file_key) or "").strip(), (line.get(student_key) or "").strip()
            if file and student:
                roster[file] = student
        return roster


def _student(path: Path, roster: dict[str, str]) -> str:
    for key in (str(path), path.name, path.stem):
        if key in roster:
            return roster[key]
    return path.stem


def _progress(iterable, total: int, quiet: bool):
    if quiet:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc="grading", unit="notebook", file=sys.stderr)


def _grade_all(tasks, jobs: int, quiet: bool) -> list[list[dict]]:
    from .grading.runner import grade_notebook, row

    results: list[list[dict] | None] = [None] * len(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        for j, task in enumerate(_progress(tasks, len(tasks), quiet)):
            results[j] = grade_notebook(task)
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: the workers start clean (no forked event loops, threads or zmq state of this process)
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(grade_notebook, task): j for j, task in enumerate(tasks)}
        try:
            for future in _progress(as_completed(futures), len(futures), quiet):
                j = futures[future]
                try:
                    results[j] = future.result()
                except Exception as exc:  # a worker process that died (BrokenProcessPool): a row, not a crash
                    results[j] = [row(tasks[j], error=f"the grading process failed ({type(exc).__name__}: {exc})")]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results


def main(argv: list[str] | None = None) -> int:
    """The ``grade`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0:
        print("mfteach grade: --jobs must be >= 1 and --timeout > 0", file=sys.stderr)
        return 2
    missing = [name for name in ("nbclient", "ipykernel") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"mfteach grade needs {' and '.join(missing)}: pip install {' '.join(missing)}", file=sys.stderr)
        return 2
    from .grading.report import summary, ungradable, write_items, write_students
    from .grading.runner import Task

    try:
        roster = read_roster(args.roster) if args.roster else {}
    except (OSError, ValueError) as exc:
        print(f"mfteach grade: cannot use the roster: {exc}", file=sys.stderr)
        return 2
    if args.lesson:
        from .grading.notebooks import shipped_lessons

        known = list(shipped_lessons())
        matches = [name for name in known if name == args.lesson] or \
            [name for name in known if name.split("_")[0] == args.lesson]
        if len(matches) != 1:
            print(f"mfteach grade: --lesson {args.lesson} is none of the lessons: {', '.join(known)}", file=sys.stderr)
            return 2
        args.lesson = matches[0]
    notebooks = find_notebooks(args.submissions)
    if not notebooks:
        print("mfteach grade: no notebooks found in " + " ".join(args.submissions), file=sys.stderr)
        return 2
    started = time.monotonic()
    temp_root = tempfile.mkdtemp(prefix="mfteach-grade-")
    try:
        tasks = sorted((Task(str(path), _student(path, roster), timeout=args.timeout, lesson=args.lesson,
                             temp_root=temp_root) for path in notebooks), key=lambda t: (t.student, t.path))
        results = _grade_all(tasks, args.jobs, args.quiet)
    except KeyboardInterrupt:
        print("\nmfteach grade: interrupted; nothing written.", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(temp_root, ignore_errors=True)
    rows = [r for notebook_rows in results for r in notebook_rows]
    students_path = args.out.with_name(args.out.stem + "_students.csv")
    write_items(rows, args.out)
    count = write_students(rows, students_path)
    print(summary(rows, notebooks=len(tasks), seconds=time.monotonic() - started, jobs=args.jobs))
    print(f"\nWrote {args.out} ({len(rows)} rows: one per notebook and item) and {students_path} "
          f"({count} student{'s' * (count != 1)}).")
    return 1 if ungradable(rows) else 0


if __name__ == "__main__":  # python -m mfteach.grade
    sys.exit(main())
