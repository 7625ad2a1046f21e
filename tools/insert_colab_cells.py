"""Insert or refresh the Colab link and the Colab set-up cell at the top of every lesson.

    python tools/insert_colab_cells.py [--check | --print-links] [NOTEBOOK ...]

Both cells come from ``mfteach/colab.py`` (one repository path for Binder and Colab). They go
right after the lesson's title cell (a markdown cell starting with "# "), or first when there is
none: a markdown cell with the "Open in Colab" and Binder badges, then the set-up code cell.
They are found again by their cell tags, so running this twice changes nothing; a cell whose
text changed loses its stored output (re-run the lesson afterwards: outside Colab the set-up
cell prints nothing). ``--check`` changes nothing and exits 1 when a lesson is not up to date.
It also refreshes the Binder badge in README.md; ``--print-links`` prints each lesson's Colab badge
for the README's lesson table (which this tool does not edit).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mfteach import colab  # noqa: E402


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    """nbformat's on-disk form of a cell's source: a list of lines, each but the last ending in \\n."""
    return text.splitlines(keepends=True)


def link_cell(notebook: str) -> dict:
    return {"cell_type": "markdown", "id": colab.LINK_CELL_TAG,
            "metadata": {"tags": [colab.LINK_CELL_TAG]}, "source": _lines(colab.link_markdown(notebook))}


def setup_cell() -> dict:
    return {"cell_type": "code", "execution_count": None, "id": colab.SETUP_CELL_TAG,
            "metadata": {"tags": [colab.SETUP_CELL_TAG]}, "outputs": [], "source": _lines(colab.SETUP_CELL)}


def _tagged(cell: dict, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def refreshed(nb: dict, notebook: str) -> dict:
    """``nb`` with exactly one up-to-date link cell and one set-up cell after its title."""
    cells = nb["cells"]
    old_link = next((c for c in cells if _tagged(c, colab.LINK_CELL_TAG)), None)
    old_setup = next((c for c in cells if _tagged(c, colab.SETUP_CELL_TAG)), None)
    rest = [c for c in cells if not (_tagged(c, colab.LINK_CELL_TAG) or _tagged(c, colab.SETUP_CELL_TAG))]
    link, setup = link_cell(notebook), setup_cell()
    if old_link is not None and _source(old_link) == colab.link_markdown(notebook):
        link = old_link
    if old_setup is not None and _source(old_setup) == colab.SETUP_CELL:
        setup = old_setup  # keeps its (empty) output and execution count
    at = 1 if rest and rest[0]["cell_type"] == "markdown" and _source(rest[0]).startswith("# ") else 0
    out = dict(nb)
    out["cells"] = rest[:at] + [link, setup] + rest[at:]
    if (out.get("nbformat"), out.get("nbformat_minor", 0)) < (4, 5):  # cell ids need nbformat 4.5
        for cell in out["cells"]:
            cell.pop("id", None)
    return out


def dumps(nb: dict) -> str:
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # as nbformat writes


def refresh_readme(text: str) -> str:
    """README.md with its Binder badge pointing at ``colab.REPOSITORY``."""
    return re.sub(r"\[!\[Binder\]\([^)]*\)\]\(https://mybinder\.org/v2/gh/[^)]*\)", colab.binder_badge(), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every lessons/NN_*.ipynb")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if something is out of date")
    parser.add_argument("--print-links", action="store_true",
                        help="change nothing; print each lesson's Colab badge (markdown) for the README's lesson table")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
    if args.print_links:
        for path in paths:
            print(f"{path.name}: {colab.colab_badge(path.name)}")
        return 0
    stale = []
    for path in [*paths, ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        new = refresh_readme(text) if path.suffix == ".md" else dumps(refreshed(json.loads(text), path.name))
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    verb = "out of date" if args.check else "updated"
    for path in stale:
        print(f"{verb}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"{len(paths)} lessons checked, {len(stale)} file(s) {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
