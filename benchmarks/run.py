"""Run the benchmarks and write benchmarks/RESULTS.md.

    python benchmarks/run.py               # every benchmarks/bench_*.py
    python benchmarks/run.py bench_data    # only some topics; the others keep their last figures

Each ``bench_<topic>.py`` defines ``run() -> list[Row]`` and, when it draws plots into
``benchmarks/results/``, lists their file names in ``FIGURES``. Its rows, figures and the machine
they were measured on are kept in ``benchmarks/results/<topic>.json``; RESULTS.md is rebuilt from
all of those files, so every figure states where and when it was measured.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import machine  # noqa: E402


def _format(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"


def _table(rows: list[dict]) -> list[str]:
    lines = ["| benchmark | value | target | met | how |", "|---|---|---|---|---|"]
    for row in rows:
        met = "" if row["passed"] is None else ("yes" if row["passed"] else "**no**")
        lines.append(f"| {row['name']} | {_format(row['value'], row['unit'])} | {row['target']} | {met} | {row['detail']} |")
    return lines


def write_results(results_dir: Path, out: Path) -> None:
    lines = ["# Benchmark results", "",
             "Written by `make bench` (`python benchmarks/run.py`); every figure is measured, never typed in.",
             "Times are medians of repeated runs on the machine named under each topic.", ""]
    for path in sorted(results_dir.glob("*.json")):
        record = json.loads(path.read_text())
        m = record["machine"]
        lines += [f"## {record['topic']}", "",
                  f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
                  f"numpy {m['numpy']}, scipy {m['scipy']}, pandas {m['pandas']}.", ""]
        lines += _table(record["rows"]) + [""]
        lines += [f"![{name}](results/{name})" for name in record.get("figures", [])]
        lines += [""] if record.get("figures") else []
    out.write_text("\n".join(lines))


def main(argv: list[str]) -> int:
    topics = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    failed = []
    for module_name in topics:
        module = importlib.import_module(module_name)
        topic = module_name.removeprefix("bench_")
        print(f"== {topic}", flush=True)
        rows = [row.as_dict() for row in module.run()]
        for line in _table(rows):
            print(line)
        failed += [f"{topic}: {row['name']}" for row in rows if row["passed"] is False]
        record = {"topic": topic, "machine": machine(), "rows": rows, "figures": list(getattr(module, "FIGURES", []))}
        (results_dir / f"{topic}.json").write_text(json.dumps(record, indent=1))
    write_results(results_dir, HERE / "RESULTS.md")
    print(f"wrote {HERE / 'RESULTS.md'}")
    if failed:
        print("targets missed:\n  " + "\n  ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
