"""The repository stands on its own: no file cites a document that is not in it (the design
notes a contributor needs are in ARCHITECTURE.md), and every document it cites is there."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\b(DESIGN|TOOLCHAIN|STYLE|DEVELOPERS)\.md\b|shared/sources")


def tracked_text_files():
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist): every file
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    for name in names:
        path = ROOT / name
        if path.suffix in {".py", ".ipynb", ".md", ".cfg", ".toml", ".txt", ".sh", ".yml", ".yaml"} or path.name in {
                "Makefile", "run", "version-leg"}:
            if path.is_file():
                yield path


def test_no_file_cites_a_document_outside_the_repository():
    found = []
    for path in tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line) and path.name != "test_repository.py":
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "cites a document outside the repository:\n" + "\n".join(found)


def test_the_architecture_page_is_there_and_names_every_subpackage():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    for package in ("explain/", "widgets/", "exercises/"):
        assert package in text
    for section in ("## Layers", "## Notation", "## Contracts", "## Where to add"):
        assert section in text
