"""Drive JupyterLab in a real Chromium through Playwright: start a server, open a notebook, run every cell through the
menus, and read back what the page shows.

What was checked against JupyterLab 4.6's real DOM (and why the checks read what they read):

* An error output (a traceback) is drawn exactly like a stream on stderr: the same `jp-RenderedText
  jp-OutputArea-output` element with `data-mime-type="application/vnd.jupyter.stderr"` (JupyterLab converts the
  error to that MIME type before rendering; there is no `application/vnd.jupyter.error` in the page). The DOM alone
  cannot tell a warning from a traceback, so errors are read from the notebook model that renders that DOM
  (`window.jupyterapp`, exposed by `--LabApp.expose_app_in_browser`): outputs whose `output_type` is "error".
* A code cell's execution count is its `.jp-InputArea-prompt` text: `[ ]:` never run, `[*]:` queued or running,
  `[7]:` done. After an error, Run All Cells stops and the cells below go back to `[ ]:`.
* A tqdm.auto bar in a notebook is an ipywidgets HBox: `.jupyter-widgets.widget-hprogress` (ipywidgets 8 has no
  `.widget-progress` class) inside the output area, with the text parts in `.widget-html`.
* The kernel state is the model's `sessionContext.session.kernel.status` (the toolbar shows the same as
  `.jp-Notebook-ExecutionIndicator[data-status]`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_VARIABLE = "WORKBOOK_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SERVER_START_TIMEOUT_S = 120
KERNEL_START_TIMEOUT_S = 180
PROGRESS_WIDGET = ".jp-OutputArea-output .jupyter-widgets.widget-hprogress"
SCREENSHOT_MAX_HEIGHT = 16000  # Chromium draws one screenshot up to 16384 px high

# JupyterLab's user settings for the test server: no news pop-up over the notebook, every cell attached to the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def find_chromium() -> tuple[str | None, str]:
    """(path to a Chromium, "") or (None, the reason there is none and how to get one)."""
    named = os.environ.get(CHROMIUM_VARIABLE)
    if named:
        if Path(named).is_file() and os.access(named, os.X_OK):
            return named, ""
        return None, f"{CHROMIUM_VARIABLE}={named} is not an executable file; point it at a Chromium or Chrome binary"
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found, ""
    return None, (f"no Chromium found ({', '.join(CHROMIUM_NAMES)} not on PATH): install one (apt-get install chromium) "
                  f"or set {CHROMIUM_VARIABLE}=/path/to/chrome")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on 127.0.0.1 serving `root_dir`, with a random token; settings and workspaces in `state_dir`."""

    def __init__(self, root_dir: Path, state_dir: Path, env: dict[str, str], python: str = sys.executable):
        self.root_dir, self.state_dir, self.env, self.python = root_dir, state_dir, env, python
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.log_path = state_dir / "jupyterlab.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        """The page that opens `notebook` alone (`reset` forgets tabs restored from an earlier page)."""
        return f"{self.base_url}/lab/tree/{notebook}?reset&token={self.token}"

    def start(self) -> JupyterLab:
        settings_dir = self.state_dir / "user-settings"
        for relative, values in LAB_SETTINGS.items():
            path = settings_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        command = [self.python, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                   f"--ServerApp.token={self.token}", "--ServerApp.ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root_dir}",
                   f"--LabApp.user_settings_dir={settings_dir}", f"--LabApp.workspaces_dir={self.state_dir / 'workspaces'}",
                   "--LabApp.expose_app_in_browser=True"]
        env = {**self.env, "JUPYTER_RUNTIME_DIR": str(self.state_dir / "runtime")}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root_dir)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.base_url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every session and its kernel (each notebook gets a fresh kernel and frees its memory)."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --- one notebook in the page ------------------------------------------------------------------------------------

# Everything about the open notebook the checks need, read in the page: the kernel's state from the session, each
# cell's prompt from the DOM, its error outputs from the model that DOM is drawn from, and the widgets shown.
_STATE_SCRIPT = """
({path, widget}) => {
  const app = window.jupyterapp;
  if (!app) return null;
  const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  if (!panel || !panel.content || !panel.content.model) return null;
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const cells = panel.content.widgets.map((cell, index) => {
    const model = cell.model;
    const code = model.type === 'code';
    const outputs = code ? model.outputs.toJSON() : [];
    const prompt = cell.node.querySelector('.jp-InputArea-prompt');
    const area = cell.node.querySelector('.jp-OutputArea');
    return {
      index, type: model.type, source: model.sharedModel.getSource(),
      prompt: code && prompt ? prompt.textContent.trim() : '',
      errors: outputs.filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`),
      shown: area ? area.textContent : '',
      widgets: cell.node.querySelectorAll(widget).length,
    };
  });
  return {kernel: kernel ? kernel.status : 'none', cells};
}
"""


@dataclass(frozen=True)
class Cell:
    index: int
    type: str
    source: str
    prompt: str  # "[ ]:", "[*]:", "[3]:"
    errors: tuple[str, ...]  # "ZeroDivisionError: division by zero"
    shown: str  # the text of its output area
    widgets: int  # progress-bar widgets in its outputs

    @property
    def runs(self) -> bool:
        return self.type == "code" and bool(self.source.strip())  # JupyterLab does not execute an empty cell

    @property
    def executed(self) -> bool:
        return self.prompt.startswith("[") and self.prompt.strip("[]: ").isdigit()

    @property
    def pending(self) -> bool:
        return "*" in self.prompt

    def describe(self) -> str:
        first = next((line for line in self.source.splitlines() if line.strip()), "")
        return f"cell {self.index} ({first[:70]!r})"


@dataclass
class NotebookRun:
    name: str
    kernel: str
    cells: list[Cell] = field(default_factory=list)
    seconds: float = 0.0
    tolerated: frozenset[int] = frozenset()  # cells whose error Run All goes past (tagged raises-exception)

    @property
    def finished(self) -> bool:
        """The kernel is idle, nothing is queued, and every cell ran or Run All stopped at an error (an error in a
        tolerated cell does not stop it: the cells after it still run)."""
        code = [cell for cell in self.cells if cell.runs]
        return (self.kernel == "idle" and not any(cell.pending for cell in code)
                and (all(cell.executed for cell in code)
                     or any(cell.errors for cell in code if cell.index not in self.tolerated)))

    def errors(self) -> list[str]:
        """One line per error output: "cell 4 ('1/0'): ZeroDivisionError: division by zero"."""
        return [f"{cell.describe()}: {error}" for cell in self.cells for error in cell.errors]

    def not_executed(self) -> list[str]:
        return [cell.describe() for cell in self.cells if cell.runs and not cell.executed]

    def progress_widgets(self) -> int:
        return sum(cell.widgets for cell in self.cells)


def read_state(page: Any, name: str, tolerated: frozenset[int] = frozenset()) -> NotebookRun | None:
    state = page.evaluate(_STATE_SCRIPT, {"path": name, "widget": PROGRESS_WIDGET})
    if state is None:
        return None
    return NotebookRun(name, state["kernel"], [Cell(c["index"], c["type"], c["source"], c["prompt"], tuple(c["errors"]),
                                                    c["shown"], c["widgets"]) for c in state["cells"]], tolerated=tolerated)


def wait_for(page: Any, name: str, condition: Any, timeout_s: float, what: str,
             tolerated: frozenset[int] = frozenset()) -> NotebookRun:
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = read_state(page, name, tolerated)
        if state is not None:
            if state.kernel == "dead":
                raise AssertionError(f"{name}: the kernel died; {what}")
            if condition(state):
                return state
        page.wait_for_timeout(1000)
    last = f"kernel {state.kernel}, prompts {[c.prompt for c in state.cells if c.runs]}" if state else "notebook not open"
    raise AssertionError(f"{name}: {what} within {timeout_s:.0f} s ({last})")


def open_notebook(page: Any, lab: JupyterLab, name: str) -> NotebookRun:
    """Open `name` and wait until its kernel is idle."""
    page.goto(lab.url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=KERNEL_START_TIMEOUT_S * 1000)
    return wait_for(page, name, lambda s: s.kernel == "idle", KERNEL_START_TIMEOUT_S, "the kernel did not become idle")


def run_all_cells(page: Any, lab: JupyterLab, name: str, timeout_s: float,
                  tolerated: frozenset[int] = frozenset()) -> NotebookRun:
    """Open `name`, run it with the menu Run > Run All Cells, and wait until it is finished (`NotebookRun.finished`);
    `tolerated`: the cells tagged raises-exception, whose errors Run All goes past."""
    started = time.monotonic()
    opened = open_notebook(page, lab, name)
    already = [cell.describe() for cell in opened.cells if cell.executed]
    assert not already, f"{name} was saved with execution counts ({already[:3]}); clear its outputs first"
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # the notebook takes the whole width
    page.locator("#jp-MainMenu").get_by_role("menuitem", name="Run", exact=True).click()
    page.locator('.lm-Menu li[data-command="runmenu:run-all"]').click()
    run = wait_for(page, name, lambda s: s.finished, timeout_s, "Run All Cells did not finish", tolerated)
    run.seconds = time.monotonic() - started
    return run


def screenshot(page: Any, path: Path) -> Path:
    """The notebook as tall as its cells (the page grown to up to SCREENSHOT_MAX_HEIGHT px), showing its last cell."""
    # The scroller's own height includes JupyterLab's "scroll past end" blank space; the cells' container does not.
    height = page.evaluate("""() => {
      const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
      const inner = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-inner');
      return outer && inner ? outer.getBoundingClientRect().top + inner.offsetHeight : 0;
    }""")
    width = page.viewport_size["width"] if page.viewport_size else 1400
    page.set_viewport_size({"width": width, "height": int(max(800, min(SCREENSHOT_MAX_HEIGHT, height + 120)))})
    page.wait_for_timeout(500)  # JupyterLab lays the panel out again for the new size
    page.evaluate("""() => {
      const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Cell');
      if (cells.length) cells[cells.length - 1].scrollIntoView({block: 'end'});
    }""")
    page.wait_for_timeout(300)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path
