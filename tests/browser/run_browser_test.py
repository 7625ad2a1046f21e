#!/usr/bin/env python3
"""Open every lesson in JupyterLab in headless Chromium, run it, and check it like a learner would.

For each ``lessons/*.ipynb`` (sorted) the test opens the notebook in a private JupyterLab
server, runs all cells from the Run menu, waits for the kernel to finish and then checks:

* every non-empty code cell was executed and no cell produced an error output;
* widgets rendered (at least one widget when the code uses ipywidgets, mfteach.widgets,
  display( or interact) and "Error displaying widget" appears nowhere;
* the first slider (else the first dropdown) moved with the keyboard changes an output
  within 5 s; the latency from the key press to the visible change (time stamps taken in the
  page: the keydown, the MutationObserver that sees the output change, the next animation
  frame) is reported and written to benchmarks/results/browser.json (target <= 250 ms), which
  ``benchmarks/run.py`` folds into benchmarks/RESULTS.md;
* the lesson's first quiz question, answered by keyboard first wrong and then right, shows the
  wrong answer's own feedback and then the explanation;
* where the lesson has them: the FIA explorer's retrain button, pressed by keyboard, names the
  rating it removed; typing an option's label into a long list's type-ahead box and pressing
  Enter moves the list and changes the explorer's output.

A screenshot per lesson goes to tests/browser/screenshots/<lesson>.png, plus
<lesson>-failure.png when the lesson fails. Exit code 0 only when every lesson passes.

Usage: .venv/bin/python tests/browser/run_browser_test.py [--lessons DIR] [--timeout SECONDS] [--results FILE]
Needs /usr/bin/chromium (tests/browser/ensure_chromium.sh installs it); never runs
``playwright install``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from browser_common import (OverallTimeout, free_port, keep_log_and_clean_up, launch_chromium, log, stop_process_group,
                            time_limits)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_LESSONS = REPO / "lessons"
DEFAULT_SCREENSHOTS = HERE / "screenshots"
VENV_BIN = Path(sys.executable).parent  # run with .venv/bin/python: jupyter sits beside it

VIEWPORT = {"width": 1400, "height": 1000}
MAX_SCREENSHOT_HEIGHT = 16000  # Chromium struggles with taller captures

SERVER_UP_TIMEOUT = 60.0
OPEN_TIMEOUT = 60.0          # notebook rendered and kernel idle
WIDGETS_SETTLE = 1.5         # widget count unchanged this long = rendering finished
WIDGETS_MAX_WAIT = 10.0
SAVE_TIMEOUT = 15.0
CONTROL_TIMEOUT = 5.0        # key press -> output change
LATENCY_TARGET_MS = 250.0    # key press -> visible change of the first control's output (issue 20)
DEFAULT_RESULTS = REPO / "benchmarks" / "results" / "browser.json"
KERNEL_SHUTDOWN_TIMEOUT = 10.0

USES_WIDGETS = re.compile(r"ipywidgets|mfteach\.widgets|\bdisplay\(|\binteract")


class LessonFailure(Exception):
    pass


# --------------------------------------------------------------------------- server

def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    token: str
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, timeout: float = 10.0):
        """JSON REST call with the token; returns (status, parsed body or None)."""
        sep = "&" if "?" in path else "?"
        url = f"{self.base}{path}{sep}token={self.token}"
        req = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read()
                return r.status, (json.loads(body) if body else None)
        except urllib.error.HTTPError as e:
            return e.code, None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"


def prepare_tmp(tmp: Path, lessons_src: Path) -> dict:
    """Copy the lessons, write private Lab settings, and build the server's environment."""
    lessons = tmp / "lessons"
    shutil.copytree(lessons_src, lessons, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    settings = tmp / "user-settings"
    # No "get notified about Jupyter news?" toast over the screenshots.
    write_json(settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
               {"fetchNews": "false", "checkForUpdates": False})
    # JupyterLab 4 virtualizes long notebooks ("full"): off-screen cells are not in the DOM.
    write_json(settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings",
               {"windowingMode": "none"})
    (tmp / "workspaces").mkdir()
    home = tmp / "home"
    home.mkdir()

    env = dict(os.environ)
    # The private HOME would hide the learner's download cache (~/.cache/mfteach): keep the
    # data home that the lessons would use outside this test unless MFTEACH_DATA is set.
    env.setdefault("MFTEACH_DATA", str(Path.home() / ".cache" / "mfteach"))
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),   # the venv's share/jupyter stays first
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(home / ".ipython"),
        MPLCONFIGDIR=str(home / ".matplotlib"),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("MPLBACKEND", None)  # Agg in the kernel would stop figures from being shown
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_TOKEN", None)
    return {"lessons": lessons, "settings": settings, "workspaces": tmp / "workspaces", "env": env}


def start_server(tmp: Path, prep: dict) -> Server:
    jupyter = VENV_BIN / "jupyter"
    if not jupyter.exists():
        raise SystemExit(f"error: {jupyter} not found; run this script with the venv's python (.venv/bin/python)")
    port, token = free_port(), secrets.token_hex(24)
    cmd = [
        str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={prep['lessons']}",
        f"--LabApp.user_settings_dir={prep['settings']}",
        f"--LabApp.workspaces_dir={prep['workspaces']}",
        "--ServerApp.port_retries=0",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = tmp / "jupyter-server.log"
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, env=prep["env"], cwd=prep["lessons"], stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(proc, port, token, log_path)


def wait_server_up(server: Server) -> float:
    t0 = time.monotonic()
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {server.proc.returncode} during start-up:\n"
                               + server.log_tail())
        try:
            status, body = server.api("GET", "/api/status", timeout=2)
            if status == 200 and body is not None:
                return time.monotonic() - t0
        except (OSError, ValueError):
            pass  # refused / reset / half-written answer while starting: keep polling
        if time.monotonic() - t0 > SERVER_UP_TIMEOUT:
            raise RuntimeError(f"jupyter lab did not answer /api/status within {SERVER_UP_TIMEOUT:.0f} s:\n"
                               + server.log_tail())
        time.sleep(0.25)


def stop_server(server: Server) -> None:
    """SIGTERM the server's process group (it shuts its kernels down), SIGKILL after 10 s."""
    if server.proc.poll() is None:
        try:  # best effort: shut remaining kernels down through the API first
            status, kernels = server.api("GET", "/api/kernels", timeout=3)
            for k in kernels or []:
                server.api("DELETE", f"/api/kernels/{k['id']}", timeout=5)
        except Exception:
            pass
    stop_process_group(server.proc)


# --------------------------------------------------------------------------- page helpers

# Small JS helpers, evaluated in the page. `panel` is the open notebook panel.
JS_STATE = """() => {
  const panel = document.querySelector('#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)')
             || document.querySelector('.jp-NotebookPanel');
  if (!panel) return null;
  const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-Cell'));
  const code = cells.filter(c => c.classList.contains('jp-CodeCell'));
  const prompts = code.map(c => {
    const p = c.querySelector('.jp-InputArea .jp-InputPrompt');
    return p ? p.textContent.trim() : null;
  });
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const roots = Array.from(panel.querySelectorAll('.jupyter-widgets'))
      .filter(e => !e.parentElement || !e.parentElement.closest('.jupyter-widgets'));
  const dialog = document.querySelector('.jp-Dialog');
  const tab = document.querySelector('.lm-TabBar-tab.jp-mod-current');
  return {
    cells: cells.length,
    // a collapsed cell ("Open after you have tried") shows a placeholder instead of its input
    rendered: cells.filter(c => c.querySelector('.jp-InputArea, .jp-InputPlaceholder, .jp-Placeholder')).length,
    prompts,
    codeIndex: code.map(c => cells.indexOf(c) + 1),  // 1-based position in the notebook
    kernel: ind ? ind.getAttribute('data-status') : null,
    widgets: roots.length,
    widgetErrors: (document.body.innerText.match(/Error displaying widget[^\\n]*/g) || []).slice(0, 5),
    tracebacks: Array.from(panel.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(e => e.textContent).filter(t => /^-{20,}\\s*$/m.test(t) && /Error|Exception|Traceback/.test(t))
        .map(t => t.trim().split('\\n').slice(-1)[0].slice(0, 200)),
    dialog: dialog ? dialog.innerText.replace(/\\s+/g, ' ').slice(0, 300) : null,
    dirty: tab ? tab.classList.contains('jp-mod-dirty') : null,
  };
}"""

# Installs a watcher for the control `el`: remembers the first keydown time and the first
# time its output changes. Target = nearest following .widget-output (same cell preferred),
# backed up by the control's cell output area with the control widgets themselves removed.
JS_WATCH = """(el) => {
  const FOLLOWING = Node.DOCUMENT_POSITION_FOLLOWING;
  const panel = el.closest('.jp-NotebookPanel');
  const cell = el.closest('.jp-Cell');
  const outs = Array.from(panel.querySelectorAll('.widget-output'));
  const after = outs.filter(o => el.compareDocumentPosition(o) & FOLLOWING);
  const target = after.find(o => cell && cell.contains(o)) || after[0] || null;
  const area = cell ? cell.querySelector('.jp-Cell-outputWrapper') : null;
  const CONTROLS = '.widget-slider, .widget-dropdown, .widget-readout, .widget-select, .widget-toggle-buttons, .widget-radio, .mfteach-type-ahead';
  const snapTarget = () => target ? target.innerHTML : '';
  const items = () => target ? target.querySelectorAll('.jp-OutputArea-child').length : 0;
  const snapArea = () => {
    if (!area) return '';
    const c = area.cloneNode(true);
    c.querySelectorAll(CONTROLS).forEach(e => e.remove());
    // a callback disables its controls while it runs (widgets/_common.py guarded): not an output change
    c.querySelectorAll('[disabled]').forEach(e => e.removeAttribute('disabled'));
    c.querySelectorAll('.mod-disabled').forEach(e => e.classList.remove('mod-disabled'));
    return c.innerHTML;
  };
  const st = {changedAt: null, paintedAt: null, targetAt: null, targetPaintedAt: null, via: null,
              target: target ? (target.closest('.jp-Cell') === cell ? 'widget-output in the same cell'
                                                                      : 'next widget-output (later cell)')
                             : 'cell output area'};
  const base = {t: snapTarget(), a: snapArea()};
  st.itemsBefore = items();
  window.__mfteachItems = items;
  // only mutations inside the watched output or the cell's output area are compared (a
  // snapshot of an output holding a large PNG costs time the page would otherwise spend drawing)
  const watched = [target, area].filter(e => e);
  // the change is on screen once the next frame is painted
  const painted = (key) => requestAnimationFrame(() => setTimeout(() => { st[key] = performance.now(); }, 0));
  const check = (records) => {
    if (records && !records.some(r => watched.some(w => w.contains(r.target)))) return;
    if (target && st.targetAt === null && snapTarget() !== base.t) {
      st.targetAt = performance.now();  // the output itself changed (the latency reported)
      painted('targetPaintedAt');
    }
    if (st.changedAt === null) {
      if (st.targetAt !== null) { st.changedAt = st.targetAt; st.via = 'widget-output'; }
      else if (snapArea() !== base.a) { st.changedAt = performance.now(); st.via = 'cell output area'; }
      if (st.changedAt !== null) painted('paintedAt');
    }
    // keep watching for the output itself after a change elsewhere in the cell (a label, a button)
    if (st.targetAt !== null || (!target && st.changedAt !== null)) mo.disconnect();
  };
  const mo = new MutationObserver(check);
  mo.observe(panel, {subtree: true, childList: true, characterData: true, attributes: true});
  st.keys = [];
  document.addEventListener('keydown', (e) => { if (st.changedAt === null) st.keys.push([e.key, performance.now()]); },
                            {capture: true});
  window.__mfteachWatch = st;
  return st.target;
}"""


# Before Run All: note when any prompt turns into [*]: (even briefly, for very fast notebooks),
# so stale execution counts stored in the file are never mistaken for a finished run.
JS_ARM_RUN = """() => {
  const panel = document.querySelector('.jp-NotebookPanel');
  window.__mfteachRunSeen = false;
  const seen = () => Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
                          .some(p => p.textContent.trim() === '[*]:');
  const mo = new MutationObserver(() => {
    if (seen()) { window.__mfteachRunSeen = true; mo.disconnect(); }
  });
  mo.observe(panel, {subtree: true, childList: true, characterData: true});
}"""


# Before the failure screenshot: scroll the first traceback or widget error into view.
JS_SHOW_FIRST_PROBLEM = r"""() => {
  const outs = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output'));
  const bad = outs.find(e => e.textContent.includes('Error displaying widget'))
      || outs.find(e => e.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'
                        && /Error|Traceback/.test(e.textContent) && /^-{20,}|^\s*Cell In\[/m.test(e.textContent));
  if (bad) bad.scrollIntoView({block: 'center'});
}"""


def notebook_state(page) -> dict:
    st = page.evaluate(JS_STATE)
    if st is None:
        raise LessonFailure("no notebook panel in the page")
    return st


def fail_on_dialog(st: dict, when: str) -> None:
    if st.get("dialog"):
        raise LessonFailure(f"a JupyterLab dialog is open {when}: {st['dialog']!r}")


def session_for(server: Server, name: str) -> dict | None:
    try:
        status, sessions = server.api("GET", "/api/sessions", timeout=5)
    except (OSError, ValueError):
        return None  # seen: HTTP 500 while a kernel starts; poll again
    if status != 200:
        return None
    for s in sessions or []:
        if s.get("path") == name or s.get("path", "").endswith("/" + name):
            return s
    return None


def wait_until(pred, timeout: float, what: str, interval: float = 0.2):
    t0 = time.monotonic()
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() - t0 > timeout:
            raise LessonFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


JS_SCROLLER = "() => document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
# Height of the notebook's content inside its scroller, up to the last cell (scrollHeight also
# counts the "scroll past end" padding, which grows with the viewport).
JS_CONTENT_HEIGHT = """sc => {
  const cells = sc.querySelectorAll('.jp-Cell');
  if (!cells.length) return sc.scrollHeight;
  const last = cells[cells.length - 1].getBoundingClientRect().bottom;
  return Math.min(sc.scrollHeight, Math.ceil(last - sc.getBoundingClientRect().top + sc.scrollTop + 40));
}"""


def take_notebook_screenshot(page, path: Path) -> None:
    """The whole notebook, from the top. It scrolls inside the page, so the viewport is grown to
    the notebook's height; a notebook taller than MAX_SCREENSHOT_HEIGHT is captured in slices of
    its scroll area and stitched (Pillow, which matplotlib brings along)."""
    sc = page.evaluate_handle(JS_SCROLLER)
    if sc.evaluate("sc => !sc"):
        page.screenshot(path=str(path), full_page=True)
        return
    sc.evaluate("sc => { sc.scrollTop = 0; }")
    extra = max(0, sc.evaluate(JS_CONTENT_HEIGHT) - sc.evaluate("sc => sc.clientHeight"))
    need = VIEWPORT["height"] + extra
    try:
        if extra:
            page.set_viewport_size({"width": VIEWPORT["width"], "height": int(min(need, MAX_SCREENSHOT_HEIGHT))})
            page.wait_for_timeout(600)
            sc.evaluate("sc => { sc.scrollTop = 0; }")
        try:
            from PIL import Image
        except ImportError:
            Image = None
        if need <= MAX_SCREENSHOT_HEIGHT or Image is None:
            page.screenshot(path=str(path), full_page=True)
            return
        import io
        first = Image.open(io.BytesIO(page.screenshot()))
        box = sc.evaluate("sc => { const r = sc.getBoundingClientRect();"
                          " return {x: r.x, y: r.y, width: r.width, height: r.height}; }")
        bottom = int(round(box["y"] + box["height"]))
        total = sc.evaluate(JS_CONTENT_HEIGHT)
        slices, seen = [], int(box["height"])
        while seen < total:
            actual = sc.evaluate(f"sc => {{ sc.scrollTop = {seen}; return sc.scrollTop; }}")
            page.wait_for_timeout(250)
            clip = Image.open(io.BytesIO(page.screenshot(clip=box)))
            skip = max(0, seen - int(actual))
            if skip >= clip.height:
                break
            keep = min(clip.height, total - int(actual))  # stop at the end of the content
            if keep <= skip:
                break
            slices.append(clip.crop((0, skip, clip.width, keep)))
            seen = int(actual) + int(box["height"])
        x0 = int(round(box["x"]))
        height = bottom + sum(t.height for t in slices) + (first.height - bottom)
        out = Image.new("RGB", (first.width, height), "white")
        out.paste(first.crop((0, 0, first.width, bottom)), (0, 0))
        frame = first.crop((0, bottom - 1, first.width, bottom))  # sidebar and borders, one row
        y = bottom
        for t in slices:
            out.paste(frame.resize((first.width, t.height)), (0, y))
            out.paste(t, (x0, y))
            y += t.height
        out.paste(first.crop((0, bottom, first.width, first.height)), (0, y))  # status bar
        out.save(path)
    finally:
        page.set_viewport_size(VIEWPORT)
        sc.evaluate("sc => { sc.scrollTop = 0; }")


# --------------------------------------------------------------------------- one lesson

@dataclass
class Result:
    name: str
    ok: bool = False
    cells: int = 0
    code_cells: int = 0
    widgets: int = 0
    control: str = ""
    answer_s: float | None = None     # key press -> output changed in the DOM
    visible_s: float | None = None    # key press -> the next frame painted after that change
    control_keys: str = ""
    control_target: str = ""
    question: str = ""
    timings: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def line(self) -> str:
        t = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        warn = "".join(f"\n       WARNING: {w}" for w in self.warnings)
        if self.ok:
            seen = "" if self.visible_s is None else f" (visible after {1e3 * self.visible_s:.0f} ms)"
            return (f"PASS {self.name}: {self.cells} cells, {self.widgets} widgets, "
                    f"{self.control} changed output in {self.answer_s:.2f} s{seen}, {self.question}  [{t}]{warn}")
        head = f"FAIL {self.name}: " + "; ".join(self.problems[:1])
        rest = "".join(f"\n       - {p}" for p in self.problems[1:])
        return head + rest + (f"\n       [{t}]" if t else "") + warn


def read_notebook(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def source_of(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def model_problems(nb: dict) -> list[str]:
    """Errors and unexecuted cells in the notebook as saved by JupyterLab after the run."""
    problems = []
    not_run = []
    for i, cell in enumerate(nb.get("cells", []), 1):
        if cell.get("cell_type") != "code":
            continue
        first = next((l for l in source_of(cell).splitlines() if l.strip()), "")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"cell {i} ({first[:60]!r}) raised {out.get('ename')}: {out.get('evalue')}"[:300])
        if source_of(cell).strip() and cell.get("execution_count") is None:
            not_run.append(i)
    if not_run:
        problems.append(f"code cells not executed: {not_run[:20]}")
    return problems


QUESTION_TIMEOUT = 5.0  # Check pressed -> feedback shown


def _wrong_and_right(question) -> tuple:
    """A registered wrong answer (the first with its own feedback) and the right one, as typed or chosen."""
    if question.kind == "choice":
        return next(iter(question.feedback)), question.answer
    wrong = next(iter(question.feedback), None)
    if wrong is None:
        wrong = question.answer + 1 if question.kind == "number" else "0"
    return (f"{wrong:g}" if isinstance(wrong, float) else wrong,
            f"{question.answer:.12g}" if question.kind == "number" else question.answer)


def answer_a_question(page, res: Result) -> list[str]:
    """Answer the lesson's first quiz question in the page, first wrong, then right, by keyboard.

    A choice is picked by focusing its letter button and pressing Space; a number or expression is
    typed into the text box; the Check button is focused and pressed with Enter. After each, the
    feedback must show within QUESTION_TIMEOUT: a cross and the wrong answer's own message, then
    a tick and the explanation.
    """
    from mfteach.exercises import QUESTIONS

    box = page.locator(".jp-NotebookPanel .mfteach-question").first
    if page.locator(".jp-NotebookPanel .mfteach-question").count() == 0:
        return ["no quiz question (.mfteach-question) rendered in this lesson"]
    box.scroll_into_view_if_needed()
    classes = box.get_attribute("class") or ""
    name = next((c[len("mfteach-q-"):] for c in classes.split() if c.startswith("mfteach-q-")), None)
    question = QUESTIONS.get(name)
    if question is None:
        return [f"the first question's widget names no registered question (classes {classes!r})"]
    wrong, right = _wrong_and_right(question)
    feedback = box.locator(".mfteach-question-feedback")
    for value, mark in [(wrong, "❌"), (right, "✅")]:
        if question.kind == "choice":
            letter = box.locator(".mfteach-question-input button").nth(int(value))
            letter.focus()
            page.keyboard.press("Space")
        else:
            text = box.locator(".mfteach-question-input input")
            text.focus()
            page.keyboard.press("Control+a")
            page.keyboard.type(str(value))
        box.locator(".mfteach-question-check").focus()
        page.keyboard.press("Enter")
        t0 = time.monotonic()
        shown = ""
        while time.monotonic() - t0 < QUESTION_TIMEOUT:
            shown = feedback.inner_text()
            if shown.startswith(mark):
                break
            time.sleep(0.05)
        if not shown.startswith(mark):
            return [f"question {name}: answering {value!r} showed {shown[:80]!r}, not {mark} feedback, "
                    f"within {QUESTION_TIMEOUT:.0f} s"]
        expected = question.feedback[wrong if question.kind == "choice" else next(iter(question.feedback))] \
            if mark == "❌" and question.feedback else question.explanation
        words = [w for w in re.sub(r"\$[^$]*\$|`[^`]*`", " ", expected).split() if w.isalpha()][:4]
        if not all(w in shown for w in words):
            return [f"question {name}: the feedback for {value!r} reads {shown[:100]!r}, expected {' '.join(words)!r}..."]
    res.question = f"question {name} answered wrong then right"
    return []


FIA_VERIFY_TIMEOUT = 30.0  # retraining without one rating: well under a second on the lesson's data


def press_fia_verify(page, res: Result) -> list[str]:
    """In a lesson with the FIA explorer: press its retrain button by keyboard and check that the
    result names the rating it removed ("Removed your rating of <title>" or "Removed user N's ...")."""
    button = page.locator(".jp-NotebookPanel .mfteach-fia-verify")
    if button.count() == 0:
        return []
    button.first.scroll_into_view_if_needed()
    button.first.focus()
    page.keyboard.press("Enter")
    result = page.locator(".jp-NotebookPanel .mfteach-fia-result").first
    t0 = time.monotonic()
    text = ""
    while time.monotonic() - t0 < FIA_VERIFY_TIMEOUT:
        text = result.inner_text()
        if text.startswith("Removed"):
            break
        time.sleep(0.1)
    if not re.match(r"Removed (your|user \d+'s) rating of .+ \(\d(\.5)? stars?\)\.", text):
        return [f"the FIA explorer's retrain button showed {text[:120]!r}, not the rating it removed"]
    res.question += f"; FIA retrain answered in {time.monotonic() - t0:.1f} s"
    return []


def type_into_a_long_list(page, res: Result) -> list[str]:
    """In a lesson whose explorer has a long list (a type-ahead box beside its dropdown): type another
    option's full label into the box, press Enter, and check that the dropdown follows and the
    explorer's output changes within CONTROL_TIMEOUT."""
    boxes = page.locator(".jp-NotebookPanel .mfteach-type-ahead")
    if boxes.count() == 0:
        return []
    box = boxes.first
    box.scroll_into_view_if_needed()
    options = box.evaluate("el => Array.from(el.querySelectorAll('datalist option')).map(o => o.value)")
    current = box.evaluate("el => { const s = el.parentElement.querySelector('select');"
                           " return s ? s.options[s.selectedIndex].text : null; }")
    current = (current or "").replace("\xa0", " ")
    choice = next((o for o in options[1:] if o != current), None)
    if choice is None:
        return [f"the type-ahead box offers no other option than {current!r} ({len(options)} options)"]
    field = box.locator("input")
    field.evaluate(JS_WATCH)
    field.focus()
    t0 = time.monotonic()
    page.keyboard.type(choice)
    page.keyboard.press("Enter")
    while time.monotonic() - t0 < CONTROL_TIMEOUT + 2:
        w = page.evaluate("() => window.__mfteachWatch")
        if w and w["changedAt"] is not None:
            break
        time.sleep(0.05)
    else:
        return [f"typing {choice!r} + Enter into the type-ahead box did not change the explorer's output"]
    # The output may change a moment before the kernel's new dropdown value reaches the page.
    while True:
        shown = box.evaluate("el => { const s = el.parentElement.querySelector('select');"
                             " return s ? s.options[s.selectedIndex].text : null; }")
        shown = (shown or "").replace("\xa0", " ")  # ipywidgets writes option labels with no-break spaces
        if shown == choice or time.monotonic() - t0 > CONTROL_TIMEOUT + 2:
            break
        time.sleep(0.05)
    if shown != choice:
        return [f"after typing {choice!r} + Enter the dropdown shows {shown!r}"]
    res.question += f"; typed {choice!r} into the long list"
    return []


def run_lesson(context, server: Server, lessons_dir: Path, name: str, shots: Path,
               run_timeout: float) -> Result:
    stem = name[:-len(".ipynb")]
    res = Result(stem)
    for old in (shots / f"{stem}.png", shots / f"{stem}-failure.png"):
        old.unlink(missing_ok=True)
    nb_file = read_notebook(lessons_dir / name)
    cells = nb_file.get("cells", [])
    code_src = [source_of(c) for c in cells if c.get("cell_type") == "code"]
    res.cells, res.code_cells = len(cells), len(code_src)
    expect_widgets = any(USES_WIDGETS.search(s) for s in code_src)
    n_nonempty = sum(1 for s in code_src if s.strip())

    t_lesson = time.monotonic()
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(f"pageerror: {e}"))
    kernel_id = None
    try:
        # A workspace of its own per lesson, reset: Lab must not reopen earlier lessons.
        ws = "mfteach-" + re.sub(r"[^A-Za-z0-9_-]", "-", stem)
        url = (f"{server.base}/lab/workspaces/{ws}/tree/{urllib.parse.quote(name)}"
               f"?reset&token={server.token}")
        t0 = time.monotonic()
        page.goto(url, wait_until="domcontentloaded", timeout=OPEN_TIMEOUT * 1000)
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=OPEN_TIMEOUT * 1000)

        def rendered():
            st = notebook_state(page)
            fail_on_dialog(st, "while opening the notebook")
            return st if st["rendered"] >= len(cells) else None
        wait_until(rendered, OPEN_TIMEOUT, f"all {len(cells)} cells to render "
                   "(windowingMode 'none' not applied?)")
        res.timings["open"] = time.monotonic() - t0

        t1 = time.monotonic()

        def kernel_idle():
            st = notebook_state(page)
            fail_on_dialog(st, "while the kernel starts")
            sess = session_for(server, name)
            if st["kernel"] == "idle" and sess and sess["kernel"].get("execution_state") == "idle":
                return sess
            return None
        sess = wait_until(kernel_idle, OPEN_TIMEOUT, "the kernel to start and be idle", 0.25)
        kernel_id = sess["kernel"]["id"]
        res.timings["kernel idle"] = time.monotonic() - t1

        # Run all cells the way a learner does: Run menu -> Run All Cells.
        page.evaluate(JS_ARM_RUN)
        t2 = time.monotonic()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        def started():
            return n_nonempty == 0 or page.evaluate("() => window.__mfteachRunSeen === true")
        wait_until(started, 10, "Run All Cells to queue the cells ([*] prompts)", 0.05)

        done_since = [None]

        def finished():
            st = notebook_state(page)
            fail_on_dialog(st, "during Run All")
            idle = st["kernel"] == "idle" and not any(p == "[*]:" for p in st["prompts"])
            if not idle:
                done_since[0] = None
                return None
            done_since[0] = done_since[0] or time.monotonic()
            return st if time.monotonic() - done_since[0] >= 0.5 else None
        try:
            wait_until(finished, run_timeout, "Run All Cells to finish", 0.25)
        except LessonFailure:
            st = notebook_state(page)
            busy = [i for i, p in zip(st["codeIndex"], st["prompts"]) if p == "[*]:"]
            raise LessonFailure(f"Run All Cells did not finish within {run_timeout:.0f} s "
                                f"(code cells still queued or running: {busy[:10]})")
        res.timings["run-all"] = time.monotonic() - t2 - 0.5

        # Widgets render asynchronously after their cell finishes: wait for the count to settle.
        t3 = time.monotonic()
        last, since = None, time.monotonic()
        while time.monotonic() - t3 < WIDGETS_MAX_WAIT:
            st = notebook_state(page)
            if st["widgetErrors"]:
                break
            if st["widgets"] != last:
                last, since = st["widgets"], time.monotonic()
            elif time.monotonic() - since >= WIDGETS_SETTLE and (st["widgets"] > 0 or not expect_widgets):
                break
            time.sleep(0.2)
        res.widgets = st["widgets"]

        # Save, then read the notebook model back: error outputs are only reliably told apart
        # from stderr (warnings, progress bars) in the saved JSON.
        _, before = server.api("GET", f"/api/contents/{urllib.parse.quote(name)}?content=0")
        before_mod = (before or {}).get("last_modified")
        page.keyboard.press("Control+s")  # docmanager:save is bound on <body>
        saved = None
        t_save = time.monotonic()
        while time.monotonic() - t_save < SAVE_TIMEOUT:
            st_now = notebook_state(page)
            fail_on_dialog(st_now, "after saving")
            _, meta = server.api("GET", f"/api/contents/{urllib.parse.quote(name)}?content=0")
            if not st_now["dirty"] and meta and meta.get("last_modified") != before_mod:
                saved = read_notebook(lessons_dir / name)
                break
            time.sleep(0.25)
        if saved is None and not notebook_state(page)["dirty"]:
            saved = read_notebook(lessons_dir / name)  # already saved (autosave) before Ctrl+S

        problems = []
        if saved is not None:
            problems += model_problems(saved)
        else:
            problems.append("could not save the notebook to read its outputs (Ctrl+S had no effect)")
        # The DOM view as well: traceback-looking stderr outputs, unexecuted prompts.
        if saved is None:
            problems += [f"error output: {t}" for t in st["tracebacks"]]
            not_run = [i for i, p, s in zip(st["codeIndex"], st["prompts"], code_src)
                       if s.strip() and not re.fullmatch(r"\[\d+\]:", p or "")]
            if not_run:
                problems.append(f"code cells without an execution count: {not_run[:20]}")
        if st["widgetErrors"]:
            problems.append(f"widget failed to display: {st['widgetErrors'][0]!r}")
        if expect_widgets and st["widgets"] == 0:
            problems.append("the code uses widgets/display( but no .jupyter-widgets rendered")

        # Move the first slider (else the first dropdown) with the keyboard.
        slider = page.locator(".jp-NotebookPanel .widget-slider .noUi-handle")
        select = page.locator(".jp-NotebookPanel .widget-dropdown select")
        if slider.count() > 0:
            ctl, res.control = slider.first, "slider"
            now, top = ctl.get_attribute("aria-valuenow"), ctl.get_attribute("aria-valuemax")
            try:
                at_max = float(now) >= float(top)
            except (TypeError, ValueError):
                at_max = False
            keys = ["ArrowLeft" if at_max else "ArrowRight"]
        elif select.count() > 0:
            ctl, res.control = select.first, "dropdown"
            at_end = ctl.evaluate("s => s.selectedIndex >= s.options.length - 1")
            # A collapsed Dropdown loses ArrowUp/Down (and letters) to the notebook's command-mode
            # shortcuts in JupyterLab 4 (jupyter-widgets/ipywidgets#3912): open the list with
            # Alt+ArrowDown, move in it, commit with Enter.
            keys = ["Alt+ArrowDown", "ArrowUp" if at_end else "ArrowDown", "Enter"]
        else:
            ctl = None
            problems.append("no slider (.widget-slider .noUi-handle) and no dropdown "
                            "(.widget-dropdown select) to move in this lesson")
        if ctl is not None:
            ctl.scroll_into_view_if_needed()
            target = ctl.evaluate(JS_WATCH)
            ctl.focus()
            presses = 0
            t_first = time.monotonic()
            changed = None
            while time.monotonic() - t_first < CONTROL_TIMEOUT:
                if presses < 3 and time.monotonic() - t_first >= presses * 1.5:
                    if presses:
                        ctl.focus()
                    for k in keys:
                        page.keyboard.press(k)
                    presses += 1
                w = page.evaluate("() => window.__mfteachWatch")
                if w and w["changedAt"] is not None:
                    changed = w
                    break
                time.sleep(0.05)
            if changed is None:
                problems.append(f"moving the first {res.control} with {'+'.join(keys)} ({presses}x) did not "
                                f"change its output ({target}) within {CONTROL_TIMEOUT:.0f} s")
            else:
                page.wait_for_timeout(300)  # let a new figure finish painting before the screenshot
                grown = page.evaluate("() => [window.__mfteachWatch.itemsBefore, window.__mfteachItems()]")
                if grown[0] >= 1 and grown[1] > grown[0]:
                    res.warnings.append(
                        f"the {res.control}'s output grew from {grown[0]} to {grown[1]} items instead of "
                        "being replaced (clear_output(wait=True) + append_display_data accumulates in a "
                        "kernel; use out.outputs = () or `with out: clear_output(wait=True); display(...)`)")
                # From the first key press that commits a new value (slider arrow, dropdown Enter).
                commit = keys[-1].split("+")[-1]
                at = next((t for k, t in changed["keys"] if k == commit), None)
                if at is None:
                    at = changed["keys"][0][1] if changed["keys"] else changed["changedAt"]
                # The latency: to the change of the output itself when the control has one (a label or
                # a button of the same cell may change first), else to the first change in the cell.
                via, changed_at, painted_key = changed["via"], changed["changedAt"], "paintedAt"
                t_wait = time.monotonic()
                while via != "widget-output" and not target.startswith("cell output area") \
                        and time.monotonic() - t_wait < CONTROL_TIMEOUT:
                    target_at = page.evaluate("() => window.__mfteachWatch.targetAt")
                    if target_at is not None:
                        via, changed_at, painted_key = "widget-output", target_at, "targetPaintedAt"
                        break
                    page.wait_for_timeout(25)
                res.answer_s = (changed_at - at) / 1000.0
                res.control_keys, res.control_target = "+".join(keys), f"{target}, via {via}"
                for _ in range(40):  # the paint time stamp follows within a frame or two
                    painted = page.evaluate(f"() => window.__mfteachWatch.{painted_key}")
                    if painted is not None:
                        res.visible_s = (painted - at) / 1000.0
                        break
                    page.wait_for_timeout(25)

        problems += answer_a_question(page, res)
        problems += press_fia_verify(page, res)
        problems += type_into_a_long_list(page, res)
        take_notebook_screenshot(page, shots / f"{stem}.png")
        if problems:
            raise LessonFailure("\n".join(problems))
        res.ok = True
    except LessonFailure as e:
        res.problems = str(e).splitlines()
    except Exception as e:  # playwright timeouts and the like
        res.problems = [f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"]
    finally:
        if not res.ok:
            if console_errors:
                res.problems.append(f"browser console errors ({len(console_errors)}), first: "
                                    f"{console_errors[0][:200]!r}")
            try:
                page.evaluate(JS_SHOW_FIRST_PROBLEM)
                page.wait_for_timeout(200)
                page.screenshot(path=str(shots / f"{stem}-failure.png"))
            except Exception:
                pass
        try:
            page.close()  # run_before_unload=False: no "unsaved changes" prompt
        except Exception:
            pass
        # Shut the lesson's kernel down through the REST API.
        sess = session_for(server, name) if kernel_id is None else None
        kernel_id = kernel_id or (sess and sess["kernel"]["id"])
        if kernel_id:
            try:
                server.api("DELETE", f"/api/kernels/{kernel_id}", timeout=10)
                t_k = time.monotonic()
                while time.monotonic() - t_k < KERNEL_SHUTDOWN_TIMEOUT:
                    status, _ = server.api("GET", f"/api/kernels/{kernel_id}", timeout=5)
                    if status == 404:
                        break
                    time.sleep(0.2)
            except Exception as e:
                log(f"  warning: could not shut kernel {kernel_id} down: {e}")
    res.timings["lesson total"] = time.monotonic() - t_lesson
    return res


# --------------------------------------------------------------------------- latency results

def write_latencies(results: list[Result], path: Path, lessons_src: Path, started: str, seconds: float) -> None:
    """``path`` (benchmarks/results/browser.json by default): one row per lesson whose first
    control was measured, in the format ``benchmarks/run.py`` reads (topic, machine, rows with
    name/value/unit/target/passed/detail), then benchmarks/RESULTS.md rebuilt from every topic's
    file when ``path`` sits in the repository's results folder."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from harness import machine

    rows = []
    for r in results:
        if r.answer_s is None:
            continue
        visible = r.visible_s if r.visible_s is not None else r.answer_s
        rows.append({
            "topic": "browser", "name": f"{r.name}: first {r.control}, key press to visible change",
            "value": 1e3 * visible, "unit": "ms", "target": f"<= {LATENCY_TARGET_MS:g} ms",
            "passed": bool(1e3 * visible <= LATENCY_TARGET_MS),
            "detail": (f"JupyterLab in headless Chromium; {r.control_keys} on the focused {r.control}; "
                       f"{r.control_target}; output changed in the DOM after {1e3 * r.answer_s:.0f} ms, painted "
                       f"in the next frame; one key press"),
            "extra": {"dom_change_ms": 1e3 * r.answer_s},
        })
    try:
        from run import _commit

        commit = _commit()
    except Exception:
        commit = None
    record = {"topic": "browser", "machine": machine(), "rows": rows, "figures": [], "lessons": str(lessons_src),
              "run": {"mode": f"browser test (`make browser-test`) of {len(results)} lesson(s) in {lessons_src.name}/",
                      "started": started, "commit": commit, "seconds": seconds}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    log(f"Latencies of {len(rows)} lesson(s) written to {path}")
    for row in rows:
        log(f"  {row['value']:7.0f} ms  {'ok  ' if row['passed'] else 'SLOW'}  {row['name']}")
    if path.resolve().parent == (REPO / "benchmarks" / "results").resolve():
        try:
            from run import write_results

            write_results(path.parent, REPO / "benchmarks" / "RESULTS.md")
        except Exception as e:  # RESULTS.md is a convenience; the JSON is the record
            log(f"  warning: could not rebuild benchmarks/RESULTS.md: {e}")


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lessons", type=Path, default=DEFAULT_LESSONS,
                    help="folder of notebooks to test (default: the repo's lessons/)")
    ap.add_argument("--screenshots", type=Path, default=DEFAULT_SCREENSHOTS,
                    help="where <lesson>.png and <lesson>-failure.png go (default: %(default)s)")
    ap.add_argument("--chromium", default="/usr/bin/chromium", help="browser binary (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=600, help="overall time limit in s (default: %(default)s)")
    ap.add_argument("--run-timeout", type=float, default=180,
                    help="time limit for Run All Cells per lesson in s (default: %(default)s)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temporary server folder")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                    help="where the key-press latencies go, as a benchmarks/run.py topic (default: %(default)s)")
    ap.add_argument("--no-results", action="store_true", help="write no latency file")
    args = ap.parse_args(argv)

    lessons_src = args.lessons.resolve()
    names = sorted(p.name for p in lessons_src.glob("*.ipynb")) if lessons_src.is_dir() else []
    if not names:
        log(f"error: no *.ipynb in {lessons_src}")
        log("0 passed, 1 failed")
        return 1
    if not Path(args.chromium).exists():
        log(f"error: {args.chromium} not found; run: bash tests/browser/ensure_chromium.sh")
        log(f"0 passed, {len(names)} failed")
        return 1
    args.screenshots.mkdir(parents=True, exist_ok=True)

    server: Server | None = None
    results: list[Result] = []
    tmp = Path(tempfile.mkdtemp(prefix="mfteach-browser-"))
    t_start = time.monotonic()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    time_limits(args.timeout, lambda: None if server is None else server.proc)

    exit_code = 1
    try:
        prep = prepare_tmp(tmp, lessons_src)
        log(f"Lessons: {len(names)} in {lessons_src} (served from a copy in {tmp})")
        server = start_server(tmp, prep)
        up = wait_server_up(server)
        log(f"JupyterLab up on port {server.port} in {up:.1f} s")

        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            t_b = time.monotonic()
            browser = launch_chromium(pw, args.chromium, tmp / "browser-home")  # crash reports etc. stay in tmp
            log(f"Chromium {browser.version} started in {time.monotonic() - t_b:.1f} s")

            # One context for all lessons (JupyterLab's bundles stay cached), a page per lesson.
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(30_000)
            try:
                for name in names:
                    log(f"-- {name}")
                    res = run_lesson(context, server, prep["lessons"], name, args.screenshots,
                                     args.run_timeout)
                    results.append(res)
                    log(res.line())
            finally:
                try:
                    browser.close()
                except Exception:
                    pass
        exit_code = 0 if results and all(r.ok for r in results) and len(results) == len(names) else 1
    except OverallTimeout:
        log(f"error: overall time-out of {args.timeout:.0f} s reached")
    except KeyboardInterrupt:
        log("interrupted")
        exit_code = 130
    except SystemExit as e:
        if isinstance(e.code, int) and e.code >= 128:
            log("terminated")
            exit_code = e.code
        else:
            log(str(e.code))
    except Exception as e:
        log(f"error: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        if server is not None:
            stop_server(server)
        keep_log_and_clean_up(None if server is None else server.log_path, args.screenshots / "jupyter-server.log",
                              tmp, args.keep_tmp)

    if results and not args.no_results:
        try:
            write_latencies(results, args.results, lessons_src, started, time.monotonic() - t_start)
        except Exception as e:
            log(f"warning: could not write the latencies to {args.results}: {type(e).__name__}: {e}")
    for name in names[len(results):]:
        log(f"FAIL {name[:-len('.ipynb')]}: not run (aborted)")
    passed = sum(r.ok for r in results)
    failed = len(names) - passed
    log(f"Total {time.monotonic() - t_start:.1f} s; screenshots in {args.screenshots}")
    log(f"{passed} passed, {failed} failed")
    if exit_code == 0 and failed:
        exit_code = 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
