"""Browser tests: JupyterLab and the HTML edition in a real Chromium, through Playwright.

They take minutes (every notebook runs in full), so `pytest tests` leaves this folder out; it runs when named:

    pytest tests/browser          (make browser-test)

or with WORKBOOK_BROWSER_TESTS=1. Without Playwright, or without a Chromium, each test skips saying how to get it;
with WORKBOOK_BROWSER_REQUIRED=1 (for CI, where a skip would hide a missing browser) it fails with that reason instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.browser.lab_driver import JupyterLab, find_chromium

BROWSER_DIR = Path(__file__).resolve().parent
ROOT = BROWSER_DIR.parent.parent
SCREENSHOT_DIR_NAME = "browser"
# The environment the run started with, before the unit tests' autouse fixture points WORKBOOK_BUILD_DIR at a
# temporary folder: the notebooks run as `make run` runs them, on the project's build/ folder.
STARTING_ENVIRONMENT = dict(os.environ)


def _named_on_command_line(config: pytest.Config) -> bool:
    if os.environ.get("WORKBOOK_BROWSER_TESTS") == "1":
        return True
    for argument in config.args:
        path = (Path(config.invocation_params.dir) / argument.split("::")[0]).resolve()
        if path == BROWSER_DIR or BROWSER_DIR in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if BROWSER_DIR in collection_path.parents and not _named_on_command_line(config):
        return True
    return None


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    if _named_on_command_line(config):
        return []
    return ["tests/browser (JupyterLab in Chromium, minutes) not collected: run `make browser-test` or pytest tests/browser"]


def notebook_environment() -> dict[str, str]:
    """What `make` exports to the notebooks: the build folder, a headless matplotlib, unbuffered output."""
    env = dict(STARTING_ENVIRONMENT)
    env.setdefault("WORKBOOK_BUILD_DIR", str(ROOT / "build"))
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def build_dir() -> Path:
    return Path(notebook_environment()["WORKBOOK_BUILD_DIR"])


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("WORKBOOK_BROWSER_REQUIRED") == "1":
        pytest.fail(f"WORKBOOK_BROWSER_REQUIRED=1: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ModuleNotFoundError:
        _unavailable("Playwright is not installed: pip install -r requirements-dev.txt")
    path, reason = find_chromium()
    if path is None:
        _unavailable(reason)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student versions of notebooks/ (each solution replaced by its hint, as `make student` writes them), for
    JupyterLab to serve: what a learner opens first, and outputs saved in the browser never reach git. nbval runs the
    instructor versions (`make notebooks-test`), so each lesson is executed twice in `make test`, not three times."""
    from utils.exercises.student import make_student

    directory = tmp_path_factory.mktemp("served")
    make_student(ROOT / "notebooks", directory)
    return directory


@pytest.fixture(scope="session")
def lab(chromium_path: str, served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab from the project's environment on `served_dir` (the Chromium check comes first: no browser, no server)."""
    server = JupyterLab(served_dir, tmp_path_factory.mktemp("jupyterlab"), notebook_environment()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    directory = build_dir() / SCREENSHOT_DIR_NAME
    directory.mkdir(parents=True, exist_ok=True)
    return directory
