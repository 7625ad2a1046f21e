"""What the instructor reads: the per-item CSV, the per-student CSV, and the printed summary."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from .runner import COLUMNS

__all__ = ["write_items", "student_table", "write_students", "summary", "ungradable"]


def write_items(rows: list[dict], path: Path) -> None:
    """One row per student x item, in the order given (the grader sorts notebooks by student and file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _notebooks(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        grouped.setdefault((r["student"], r["file"]), []).append(r)
    return grouped


def ungradable(rows: list[dict]) -> list[dict]:
    """The rows of notebooks that have no graded item (unreadable, unrecognised, another lesson...)."""
    return [items[0] for items in _notebooks(rows).values() if all(r["kind"] == "notebook" for r in items)]


def student_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """(header, rows): per student, the items passed in each lesson and in total.

    A student with several notebooks of one lesson counts the best of them.
    """
    items_per_lesson: dict[str, int] = {}
    best: dict[str, dict[str, int]] = defaultdict(dict)
    students = []
    for (student, _), items in _notebooks(rows).items():
        if student not in students:
            students.append(student)
        graded = [r for r in items if r["kind"] != "notebook"]
        if not graded:
            continue
        lesson = graded[0]["lesson"]
        items_per_lesson[lesson] = len(graded)
        passed = sum(bool(r["passed"]) for r in graded)
        best[student][lesson] = max(passed, best[student].get(lesson, 0))
    lessons = sorted(items_per_lesson)
    header = ["student"] + [f"{lesson} (of {items_per_lesson[lesson]})" for lesson in lessons] + ["passed", "items"]
    table = []
    for student in students:
        mine = best.get(student, {})
        table.append([student] + [mine.get(lesson, "") for lesson in lessons] +
                     [sum(mine.values()), sum(items_per_lesson[lesson] for lesson in mine)])
    return header, table


def write_students(rows: list[dict], path: Path) -> int:
    header, table = student_table(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(table)
    return len(table)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def summary(rows: list[dict], *, notebooks: int, seconds: float, jobs: int, top: int = 8) -> str:
    """The closing report: notebooks, passes per item, the most common recognised mistakes."""
    bad = ungradable(rows)
    lines = [f"Graded {notebooks} notebook{'s' * (notebooks != 1)} in {_duration(seconds)} with {jobs} "
             f"job{'s' * (jobs != 1)}: {notebooks - len(bad)} graded, {len(bad)} could not be graded."]
    per_item: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(dict)
    notebooks_of: Counter = Counter()
    for (_, _), items in _notebooks(rows).items():
        graded = [r for r in items if r["kind"] != "notebook"]
        if graded:
            notebooks_of[graded[0]["lesson"]] += 1
        for r in graded:
            count = per_item[r["lesson"]].setdefault((r["item"], r["kind"]), [0, 0])
            count[0] += bool(r["passed"])
            count[1] += 1
    for lesson in sorted(per_item):
        n = notebooks_of[lesson]
        lines += ["", f"{lesson}: {n} notebook{'s' * (n != 1)}"]
        width = max(len(item) for item, _ in per_item[lesson])
        for (item, kind), (passed, total) in per_item[lesson].items():
            bar = "#" * round(10 * passed / total) if total else ""
            lines.append(f"  {item:<{width}}  {kind:<8}  {passed:>3} of {total:<3} passed  {bar}")
    mistakes: Counter = Counter()
    for r in rows:
        for label in filter(None, r["mistake"].split(" | ")):
            mistakes[(r["item"], label)] += 1
    if mistakes:
        lines += ["", "Most common recognised mistakes (what the class got wrong):"]
        ranked = sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        width = max(len(item) for (item, _), _ in ranked)
        for (item, label), count in ranked:
            shown = label if len(label) <= 90 else label[:89].rstrip() + "…"
            lines.append(f"  {count:>3} x {item:<{width}}  {shown}")
    problems = [r for r in rows if r["kind"] == "notebook"]
    if problems:
        lines += ["", "Notebooks with a problem:"]
        for r in problems:
            lines.append(f"  {r['file']}: {r['error']}")
    return "\n".join(lines)
