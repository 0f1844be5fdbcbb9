"""Copy `tensorrt-stubs` from the folder pip installed it into, to build/stubs, repairing the lines that are not valid stubs.

The stubs are never installed into the project's environment: their bare `tensorrt/` folder imports as an empty
namespace package, which makes `import tensorrt` succeed everywhere and breaks every library that probes for
TensorRT (NVIDIA ModelOpt fails with "module 'tensorrt' has no attribute 'Logger'"). `make typecheck` installs
them on their own instead, and only mypy reads them (MYPYPATH=build/stubs):

    pip install --no-deps --target build/stubs-src tensorrt-stubs==10.13.0.35.1
    python scripts/prepare_tensorrt_stubs.py --source build/stubs-src build/stubs

tensorrt-stubs 10.13 ships .pyi files without a py.typed marker, with parameters named `in` and one
non-default parameter after defaults. mypy refuses such stubs, so mypy is pointed at this repaired copy.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from pathlib import Path

# The one place the stubs' version is named; the Makefile's TRT_STUBS_VERSION must match (tests/test_typecheck.py checks).
STUBS_VERSION = "10.13.0.35.1"
STUBS_REQUIREMENT = f"tensorrt-stubs=={STUBS_VERSION}"
DEFAULT_SOURCE = "build/stubs-src"
DEFAULT_DESTINATION = "build/stubs"
PACKAGES = ("tensorrt", "tensorrt_bindings")

REPAIRS = [
    (re.compile(r"\bin: "), "in_: "),
    (re.compile(r"power: Weights = None, channel_axis: int\)"), "power: Weights = None, channel_axis: int = ...)"),
]


def install_command(source: str | Path) -> str:
    return f"pip install --no-deps --target {source} {STUBS_REQUIREMENT}"


def prepare(source: str | Path, destination: str | Path) -> Path:
    """Repaired copies of the stubs under `source` (a `pip install --target` folder) in `destination`."""
    source_dir, destination_dir = Path(source), Path(destination)
    missing = [package for package in PACKAGES if not sorted((source_dir / package).glob("*.pyi"))]
    if missing:
        raise FileNotFoundError(f"no tensorrt-stubs in {source_dir} (no .pyi files under {', '.join(f'{m}/' for m in missing)}); "
                                f"install them there with: {install_command(source_dir)}")
    for package in PACKAGES:
        target = destination_dir / package
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for stub in sorted((source_dir / package).glob("*.pyi")):
            text = stub.read_text(encoding="utf-8")
            for pattern, replacement in REPAIRS:
                text = pattern.sub(replacement, text)
            ast.parse(text, filename=str(stub))  # fail loudly if a new stubs release breaks differently
            (target / stub.name).write_text(text, encoding="utf-8")
    return destination_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", nargs="?", default=DEFAULT_DESTINATION, help=f"folder for mypy (default: {DEFAULT_DESTINATION})")
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help=f"folder tensorrt-stubs was installed into with pip --target (default: {DEFAULT_SOURCE})")
    args = parser.parse_args(argv)
    try:
        destination = prepare(args.source, args.destination)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"repaired TensorRT stubs from {args.source} in {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
