"""The ``mfteach`` command (also ``python -m mfteach``).

    mfteach lessons DEST [--clean] [--student] [--force]   copy the lessons into the folder DEST
    mfteach grade SUBMISSIONS... --out grades.csv          grade learners' notebooks (mfteach.grade)
    python -m mfteach.data download 100k                   prefetch MovieLens (unchanged)

``lessons`` copies the lessons shipped with the installed package (or, in a clone, the
repository's ``lessons/``). ``--clean`` writes them without stored outputs and widget state;
``--student`` writes the student edition (``mfteach.student.student_edition``). A notebook that
already exists in DEST is kept (a learner's work is never overwritten) unless ``--force``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

__all__ = ["main", "clean_notebook", "copy_lessons"]


def clean_notebook(nb: dict) -> dict:
    """``nb`` without stored outputs, execution counts, execution timings and widget state."""
    nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def _dumps(nb: dict) -> str:
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # as nbformat writes


def copy_lessons(dest: Path, clean: bool = False, student: bool = False, force: bool = False,
                 out=sys.stdout) -> tuple[list[Path], list[Path]]:
    """Write every lesson into ``dest`` (created if needed). Returns (written, kept): the paths
    written and those left alone because they already existed (``force`` overwrites them)."""
    from .course import lesson_paths

    transform = None
    if student:
        from .student import student_edition  # issue 17's module

        transform = student_edition
    dest.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for source in lesson_paths():
        target = dest / source.name
        if target.exists() and not force:
            kept.append(target)
            continue
        if transform is None and not clean:
            text = source.read_text(encoding="utf-8")
        else:
            nb = json.loads(source.read_text(encoding="utf-8"))
            if transform is not None:
                nb = transform(nb)
            if clean:
                nb = clean_notebook(nb)
            text = _dumps(nb)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    return written, kept


def _lessons(args) -> int:
    dest = Path(args.dest).expanduser()
    if dest.exists() and not dest.is_dir():
        print(f"mfteach lessons: {dest} exists and is not a folder", file=sys.stderr)
        return 2
    try:
        written, kept = copy_lessons(dest, clean=args.clean, student=args.student, force=args.force)
    except FileNotFoundError as error:
        print(f"mfteach lessons: {error}", file=sys.stderr)
        return 1
    edition = "the student edition of " if args.student else ""
    how = " without outputs" if args.clean else ""
    if written:
        print(f"Wrote {edition}{len(written)} lesson(s){how} to {dest.resolve()}")
    else:
        print(f"Wrote nothing to {dest.resolve()}")
    if kept:
        print(f"Kept {len(kept)} that were already there (your own copies; --force overwrites them): "
              + ", ".join(p.name for p in kept))
    print(f"Open them with:  jupyter lab {dest}")
    return 0


def _grade(argv: list[str]) -> int:
    from .grade import main as grade_main  # issue 17's module

    return grade_main(argv)


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="mfteach", description="mfteach: lessons on matrix-factorization "
                                     "recommenders. Data: python -m mfteach.data download 100k")
    parser.add_argument("--version", action="version", version=f"mfteach {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    lessons = sub.add_parser("lessons", help="copy the lessons into a folder, for a learner or a course",
                             description="Copy the lessons shipped with mfteach into the folder DEST.")
    lessons.add_argument("dest", metavar="DEST", help="folder to write the notebooks into (created if needed)")
    lessons.add_argument("--clean", action="store_true", help="without stored outputs and widget state")
    lessons.add_argument("--student", action="store_true", help="the student edition (mfteach.student)")
    lessons.add_argument("--force", action="store_true", help="overwrite notebooks already in DEST")
    sub.add_parser("grade", help="grade learners' notebooks (mfteach grade --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "grade":  # everything after "grade" is the grader's own command line
        return _grade(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "lessons":
        return _lessons(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
