"""Where the workbook writes what it makes: `build/` at the project root unless $WORKBOOK_BUILD_DIR says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

BUILD_DIR_ENV_VAR = "WORKBOOK_BUILD_DIR"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def build_dir() -> Path:
    directory = Path(os.environ.get(BUILD_DIR_ENV_VAR) or PROJECT_ROOT / "build")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def artifact_path(*parts: str) -> Path:
    """A path under the build folder, with its parent folder created."""
    path = build_dir().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
