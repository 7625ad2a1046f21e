"""The Colab set-up cell, the "Open in Colab" links and tools/insert_colab_cells.py.

The set-up cell runs in a real IPython shell: outside Colab it shows nothing and runs nothing;
with a fake ``google.colab`` module it installs mfteach from the repository's archive (only when
mfteach is not importable) and downloads MovieLens 100K, and the commands are recorded instead of
run. Every lesson and the README table carry the link (the tool inserts and refreshes them).
"""

import copy
import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import pytest

from mfteach import colab, course

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import insert_colab_cells as tool  # noqa: E402



@pytest.fixture
def ipython(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(config=config)
    calls = []
    monkeypatch.setattr(shell, "run_line_magic", lambda name, line, *a, **k: calls.append(("%" + name, line)))
    monkeypatch.setattr(shell, "system", lambda cmd: calls.append(("!", cmd)))
    shell.recorded = calls
    try:
        yield shell
    finally:
        InteractiveShell.clear_instance()


@pytest.fixture
def downloads(monkeypatch):
    """Record ``mfteach.data.main`` calls instead of downloading."""
    import mfteach.data

    calls = []
    monkeypatch.setattr(mfteach.data, "main", lambda argv=None: calls.append(argv) or 0)
    return calls


@pytest.fixture
def in_colab(monkeypatch):
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)


@pytest.fixture
def mfteach_not_installed(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "mfteach" else real(name, *a, **k))


def test_outside_colab_the_cell_does_nothing_visible(ipython, downloads, capsys):
    assert "google.colab" not in sys.modules
    result = ipython.run_cell(colab.SETUP_CELL)
    assert result.success and result.result is None
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert ipython.recorded == [] and downloads == []


def test_in_colab_it_installs_from_the_repository_and_downloads_movielens(ipython, downloads, in_colab,
                                                                          mfteach_not_installed, capsys):
    result = ipython.run_cell(colab.SETUP_CELL)
    assert result.success, result.error_in_exec
    url = f"https://github.com/{colab.REPOSITORY}/archive/refs/heads/{colab.BRANCH}.zip"
    assert ipython.recorded == [("%pip", f"install --quiet {url}")]
    assert downloads == [["download", "100k"]]
    assert result.result is None  # nothing echoed after the download's own progress bar and message


def test_in_colab_with_mfteach_installed_it_only_makes_sure_of_the_data(ipython, downloads, in_colab):
    assert ipython.run_cell(colab.SETUP_CELL).success
    assert ipython.recorded == []
    assert downloads == [["download", "100k"]]


def test_the_repository_path_is_in_every_link():
    name = "00_recommenders_as_matrices.ipynb"
    assert colab.colab_url(name) == \
        f"https://colab.research.google.com/github/{colab.REPOSITORY}/blob/{colab.BRANCH}/lessons/{name}"
    assert colab.binder_url() == f"https://mybinder.org/v2/gh/{colab.REPOSITORY}/HEAD?urlpath=lab/tree/lessons"
    assert colab.REPOSITORY in colab.SETUP_CELL
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", colab.REPOSITORY)
    other = colab.setup_cell("someone/fork", "dev")
    assert "https://github.com/someone/fork/archive/refs/heads/dev.zip" in other


def test_the_readme_binder_badge_uses_the_same_repository_path():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert colab.binder_badge() in readme
    assert tool.refresh_readme(readme) == readme


# ---------------------------------------------------------------------------- the insertion tool
def _lesson(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _md(text):
    return {"cell_type": "markdown", "id": "t", "metadata": {}, "source": text}


def _code(text):
    return {"cell_type": "code", "execution_count": 1, "id": "c", "metadata": {}, "outputs": [], "source": text}


def test_the_tool_puts_link_and_cell_after_the_title_and_is_idempotent():
    nb = _lesson([_md("# 03 · A lesson\n\nintro"), _code("import mfteach as mt")])
    once = tool.refreshed(nb, "03_a.ipynb")
    kinds = [(c["cell_type"], "".join(c["source"])) for c in once["cells"]]
    assert kinds[0] == ("markdown", "# 03 · A lesson\n\nintro")
    assert kinds[1] == ("markdown", colab.link_markdown("03_a.ipynb"))
    assert kinds[2] == ("code", colab.SETUP_CELL)
    assert kinds[3] == ("code", "import mfteach as mt")
    assert colab.colab_url("03_a.ipynb") in kinds[1][1]
    twice = tool.refreshed(copy.deepcopy(once), "03_a.ipynb")
    assert tool.dumps(twice) == tool.dumps(once)
    assert nb["cells"][0]["source"] == "# 03 · A lesson\n\nintro" and len(nb["cells"]) == 2  # input untouched


def test_the_tool_refreshes_a_stale_cell_and_keeps_an_up_to_date_one():
    nb = tool.refreshed(_lesson([_md("# T"), _code("x = 1")]), "05_x.ipynb")
    setup = nb["cells"][2]
    setup["execution_count"], setup["outputs"] = 2, []
    assert tool.refreshed(nb, "05_x.ipynb")["cells"][2]["execution_count"] == 2  # unchanged: kept as it ran
    setup["source"] = ["# an older version\n", "pass"]
    setup["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "old"}]
    fresh = tool.refreshed(nb, "05_x.ipynb")
    assert [c.get("id") for c in fresh["cells"]].count(colab.SETUP_CELL_TAG) == 1
    new_setup = fresh["cells"][2]
    assert "".join(new_setup["source"]) == colab.SETUP_CELL
    assert new_setup["outputs"] == [] and new_setup["execution_count"] is None


def test_the_tool_puts_them_first_when_there_is_no_title():
    nb = tool.refreshed(_lesson([_code("x = 1")]), "07_y.ipynb")
    assert [c.get("id") for c in nb["cells"][:2]] == [colab.LINK_CELL_TAG, colab.SETUP_CELL_TAG]


def test_the_tool_leaves_a_real_lesson_loadable_by_nbformat(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    source = course.lesson_paths()[0]
    target = tmp_path / source.name
    target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    assert tool.main([str(target)]) == 0
    assert tool.main([str(target), "--check"]) == 0  # idempotent: nothing left to do
    nb = nbformat.read(target, as_version=4)
    nbformat.validate(nb)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source == colab.SETUP_CELL


# ---------------------------------------------------------------------------- the lessons themselves
def test_every_lesson_has_the_link_and_the_canonical_first_code_cell_with_empty_output():
    problems = []
    for path in course.lesson_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        first = code[0] if code else {}
        if "".join(first.get("source", "")) != colab.SETUP_CELL:
            problems.append(f"{path.name}: the first code cell is not colab.SETUP_CELL")
        elif first.get("outputs") != [] or first.get("execution_count") is None:
            problems.append(f"{path.name}: the set-up cell should have run with no output")
        links = [c for c in nb["cells"] if colab.LINK_CELL_TAG in c.get("metadata", {}).get("tags", [])]
        if len(links) != 1 or "".join(links[0]["source"]) != colab.link_markdown(path.name):
            problems.append(f"{path.name}: no up-to-date Open-in-Colab link cell")
    assert problems == []


def test_the_readme_lesson_table_links_every_lesson_to_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in course.lesson_paths() if colab.colab_url(p.name) not in readme]
    assert missing == []
