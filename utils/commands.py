"""External commands (polygraphy, trtexec, nsys) found the way a shell finds them, or through their Python entry point.

A command is looked up on PATH first (`shutil.which`), as a shell would run it. A Python tool installed where PATH does
not reach (`pip install --user`, `--target`, a conda layout) still has its console-script entry point, which runs it
with this interpreter. Kept here because neither shutil nor importlib does both and says what to install.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys

from utils.errors import WorkbookError

# What to install where a command is missing.
INSTALL_HINTS = {
    "polygraphy": "pip install polygraphy (requirements.txt)",
    "trtexec": "it ships with TensorRT's tar and deb packages, in TensorRT's bin/ folder (the pip wheels do not have it); "
               "add that folder to PATH",
    "tensorrt_rtx": "it ships with TensorRT-RTX's zip and tar packages, in its bin/ folder (the pip wheels do not have it); "
                    "add that folder to PATH",
    "nsys": "install NVIDIA Nsight Systems (developer.nvidia.com/nsight-systems) and add its bin/ folder to PATH",
}


def _entry_point(name: str) -> list[str] | None:
    """`python -c` running the console script `name` of an installed package, or None."""
    found = importlib.metadata.entry_points(group="console_scripts", name=name)
    for entry in found:
        module, attribute = entry.module, entry.attr or "main"
        return [sys.executable, "-c", f"import sys, {module}; sys.exit({module}.{attribute}())"]
    return None


def command_unavailable(name: str) -> str | None:
    """Why `name` cannot be run here, in one line that says what to install, or None."""
    if shutil.which(name) or _entry_point(name):
        return None
    return f"the {name} command is not on PATH; {INSTALL_HINTS.get(name, f'install {name} and add it to PATH')}"


def find_command(name: str) -> list[str]:
    """The argument list that runs `name`: its path on PATH, else its Python entry point; a one-line error if neither."""
    path = shutil.which(name)
    if path:
        return [path]
    entry = _entry_point(name)
    if entry:
        return entry
    raise WorkbookError(str(command_unavailable(name)))
