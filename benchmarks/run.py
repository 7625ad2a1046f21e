"""Run the benchmarks and write benchmarks/RESULTS.md.

    python benchmarks/run.py                 # the quick set: every bench_*.py without FULL_ONLY = True
    python benchmarks/run.py --full          # every bench_*.py, the long explanation validations too
    python benchmarks/run.py bench_data      # only some topics (FULL_ONLY or not); the others keep their
                                             # last figures
    python benchmarks/run.py --report-only   # the same runs, but exit 0 even when a target is missed

Each ``bench_<topic>.py`` defines ``run() -> list[Row]`` and, when it draws plots into
``benchmarks/results/``, lists their file names in ``FIGURES``. A module whose figures take long to
measure (the Figure-2 and Table-2 validations of the explanations) sets ``FULL_ONLY = True`` at
module level: it runs with ``--full`` (``make bench-full``) or when named, never in the quick set
(``make bench``). Its rows, figures, the machine and the run that measured them (quick / full /
named topics, date, git commit) are kept in ``benchmarks/results/<topic>.json``; RESULTS.md is
rebuilt from all of those files, so every figure states where, when and by which run it was
measured.

Exit status: 0 when every target of the topics run now is met; 1 when a target is missed
(``--report-only``: 0 all the same); 2 when a topic raised (its previous figures are kept, the
other topics still run).
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import importlib
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import machine  # noqa: E402

RUN_NAMES = {"quick": "quick set (`make bench`)", "full": "full set (`make bench-full`)",
             "topics": "topics named on the command line"}


def _format(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"


def _table(rows: list[dict]) -> list[str]:
    lines = ["| benchmark | value | target | met | how |", "|---|---|---|---|---|"]
    for row in rows:
        met = "" if row["passed"] is None else ("yes" if row["passed"] else "**no**")
        lines.append(f"| {row['name']} | {_format(row['value'], row['unit'])} | {row['target']} | {met} | {row['detail']} |")
    return lines


def is_full_only(path: Path) -> bool:
    """True when the module at ``path`` sets ``FULL_ONLY = True`` at top level (read, not imported)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FULL_ONLY" for t in node.targets):
            return isinstance(node.value, ast.Constant) and node.value.value is True
    return False


def select_topics(full: bool) -> list[str]:
    """The module names of the quick set, or of every topic with ``full``."""
    paths = sorted(HERE.glob("bench_*.py"))
    return [p.stem for p in paths if full or not is_full_only(p)]


def _commit() -> str | None:
    """The checked-out commit (short hash), with "+ uncommitted changes" when the tree is dirty;
    None outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _provenance(record: dict) -> str:
    run = record.get("run")
    if not run:
        return "Run: not recorded (measured before runs were recorded)."
    commit = f", commit {run['commit']}" if run.get("commit") else ""
    return (f"Run: {RUN_NAMES.get(run['mode'], run['mode'])} started {run['started']}{commit}; "
            f"this topic took {run['seconds']:.0f} s.")


def write_results(results_dir: Path, out: Path) -> None:
    lines = ["# Benchmark results", "",
             "Written by `python benchmarks/run.py`; every figure is measured, never typed in. Times are medians "
             "of repeated runs on the machine named under each topic. Ratios to a peer or a floor are measured "
             "in the same run as what they compare.", "",
             "`make bench` runs the quick set (every speed and widget figure and the accuracy table; under 10 "
             "minutes on the 2-core machine below); `make bench-full` also runs the long explanation validations "
             "(the modules marked `FULL_ONLY = True`: FIA's Figure 2 and Table 2, FIA-NCF). Each topic keeps the "
             "figures of the last run that measured it, and says which run that was.", ""]
    for path in sorted(results_dir.glob("*.json")):
        record = json.loads(path.read_text())
        m = record["machine"]
        module_path = HERE / f"bench_{record['topic']}.py"
        only_full = module_path.exists() and is_full_only(module_path)
        lines += [f"## {record['topic']}" + (" (full set only: `make bench-full`)" if only_full else ""), "",
                  f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
                  f"numpy {m['numpy']}, scipy {m['scipy']}, pandas {m['pandas']}. {_provenance(record)}", ""]
        lines += _table(record["rows"]) + [""]
        lines += [f"![{name}](results/{name})" for name in record.get("figures", [])]
        lines += [""] if record.get("figures") else []
    out.write_text("\n".join(lines))


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the benchmarks and rebuild benchmarks/RESULTS.md.")
    parser.add_argument("topics", nargs="*", help="bench_<topic> modules to run (default: the quick set)")
    parser.add_argument("--full", action="store_true", help="run every topic, FULL_ONLY ones included")
    parser.add_argument("--report-only", action="store_true", help="exit 0 even when a target is missed")
    args = parser.parse_args(argv)
    if args.full and args.topics:
        parser.error("give either --full or topic names, not both")
    known = {p.stem for p in HERE.glob("bench_*.py")}
    names = [t if t.startswith("bench_") else f"bench_{t}" for t in args.topics]
    unknown = [t for t in names if t not in known]
    if unknown:
        parser.error(f"no such benchmark module: {', '.join(unknown)} (have: {', '.join(sorted(known))})")
    args.topics = names
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    mode = "topics" if args.topics else ("full" if args.full else "quick")
    topics = args.topics or select_topics(args.full)
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = _commit()
    failed, crashed, durations = [], [], {}
    run_start = time.perf_counter()
    for module_name in topics:
        topic = module_name.removeprefix("bench_")
        print(f"== {topic}", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
            rows = [row.as_dict() for row in module.run()]
        except Exception:  # one broken topic must not lose the others; its last figures stay
            traceback.print_exc()
            crashed.append(topic)
            continue
        durations[topic] = time.perf_counter() - start
        for line in _table(rows):
            print(line)
        print(f"({durations[topic]:.0f} s)", flush=True)
        failed += [f"{topic}: {row['name']}" for row in rows if row["passed"] is False]
        record = {"topic": topic, "machine": machine(), "rows": rows, "figures": list(getattr(module, "FIGURES", [])),
                  "run": {"mode": mode, "started": started, "commit": commit, "seconds": durations[topic]}}
        (results_dir / f"{topic}.json").write_text(json.dumps(record, indent=1))
    write_results(results_dir, HERE / "RESULTS.md")
    print(f"wrote {HERE / 'RESULTS.md'}; {len(durations)} topic(s) in {time.perf_counter() - run_start:.0f} s "
          f"({', '.join(f'{t} {s:.0f} s' for t, s in durations.items())})")
    if crashed:
        print("topics that raised (previous figures kept):\n  " + "\n  ".join(crashed))
    if failed:
        print("targets missed:\n  " + "\n  ".join(failed))
    if crashed:
        return 2
    if failed and not args.report_only:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
