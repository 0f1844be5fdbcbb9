"""Copy the installed `tensorrt-stubs` into build/stubs, repairing the few lines that are not valid Python.

tensorrt-stubs 10.13 ships .pyi files without a py.typed marker, with parameters named `in` and one
non-default parameter after defaults. mypy refuses such stubs, so `make typecheck` points mypy at this copy.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from importlib.util import find_spec
from pathlib import Path

REPAIRS = [
    (re.compile(r"\bin: "), "in_: "),
    (re.compile(r"power: Weights = None, channel_axis: int\)"), "power: Weights = None, channel_axis: int = ...)"),
]


def main(destination: str) -> int:
    destination_dir = Path(destination)
    spec = find_spec("tensorrt_bindings")
    if spec is None or not spec.submodule_search_locations:
        print("tensorrt-stubs is not installed: pip install --no-deps tensorrt-stubs", file=sys.stderr)
        return 2
    site = Path(next(iter(spec.submodule_search_locations))).parent
    for package in ("tensorrt", "tensorrt_bindings"):
        target = destination_dir / package
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for stub in sorted((site / package).glob("*.pyi")):
            text = stub.read_text(encoding="utf-8")
            for pattern, replacement in REPAIRS:
                text = pattern.sub(replacement, text)
            ast.parse(text, filename=str(stub))  # fail loudly if a new stubs release breaks differently
            (target / stub.name).write_text(text, encoding="utf-8")
    print(f"repaired TensorRT stubs in {destination_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/stubs"))
