"""The time limit inside a real Jupyter kernel (nbclient): the kernel survives every runaway.

Each runaway cell must stop within 1 s of the exercise's 1 s limit, print the checker's
verdict, and leave the kernel answering the next cell.
"""

import datetime as dt

import nbformat
import pytest
from nbclient import NotebookClient

from mfteach.exercises import sandbox

pytestmark = pytest.mark.skipif(not sandbox.can_fork(), reason="the hard limit needs os.fork")

SETUP = '''import re
import mfteach as mt
%load_ext mfteach
mt.exercises.register(mt.exercises.Exercise(name="runaway", title="t", reference=lambda x: 1.0,
                                            make_cases=lambda rng: [(0,), (1,)], time_limit=1.0))'''
RUNAWAYS = {
    "endless loop": "%%check runaway\ndef runaway(x):\n    while True:\n        pass",
    "bare except": "%%check runaway\ndef runaway(x):\n    while True:\n        try:\n            pass\n"
                   "        except:\n            pass",
    "catastrophic regex": '%%check runaway\ndef runaway(x):\n    return float(bool(re.match(r"(a+)+$", "a" * 30 + "b")))',
    "loop in the cell body": "%%check runaway\ndef runaway(x):\n    return 1.0\n\nwhile True:\n    pass",
}


def _seconds(cell):
    timing = cell.metadata["execution"]
    start, end = (dt.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def test_runaway_code_is_stopped_in_a_kernel_that_lives_on():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in RUNAWAYS.values()]
    nb.cells.append(nbformat.v4.new_code_cell("print('alive', 6 * 7)"))
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    for (what, _), cell in zip(RUNAWAYS.items(), nb.cells[1:-1]):
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert ("stopped after 1 s" in text or "did not finish within 1 s" in text), (what, text)
        assert 1.0 <= _seconds(cell) < 2.0, (what, _seconds(cell))
    assert nb.cells[-1].outputs[0]["text"] == "alive 42\n"
