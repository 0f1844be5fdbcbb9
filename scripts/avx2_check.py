"""A notebook's printed numbers on this CPU and on an emulated AVX2-only CPU (qemu-user), line by line.

    python scripts/avx2_check.py notebooks/06_quantization.ipynb --skip 20 --prepare-int8 15 [--out build/avx2] [--cpu Haswell-v4]

The workbook promises the same INT8 numbers on every CPU (ONNX Runtime's fused integer kernels saturate on CPUs
without VNNI, so its sessions keep Q/DQ as written: utils/onnx/sessions.py). The unit tests check that promise on
one quantized convolution (tests/test_onnx_sessions.py); this runs a whole notebook's code cells as a script, once
natively and once under `qemu-x86_64 -cpu Haswell-v4` (AVX2, no AVX-512, no VNNI), each in a build folder of its
own, and lists every printed line that differs. Magics and `%%skip_unless` cells are left out (no GPU either way),
and so are the cells named by --skip (a cell that only times the CPU need not be emulated).

Both build folders start with this machine's calibration photos and FP32 ONNX export (image decoding and export
are not the arithmetic in question, and emulated they take most of an hour); everything after, from FP32 logits to
calibration, quantization and every evaluation, is computed on each CPU. Emulation is slow: notebook 06 takes about
3 minutes natively and, emulated, over four hours one cell after another, most of them in the three calibrations on
256 samples (the INT8 profile, the default INT8 model in its two forms). `--prepare-int8 CELL` makes those three in
processes of their own while the notebook's first sections run (the profile, then both models side by side) and
holds code cell CELL, the notebook's first use of them, until they are made: each run still computes every number
on its own CPU, and the calibrations no longer wait for each other and for the notebook's first sections. Even so,
on a 2-core machine an emulated run had done code cells 0-6 of 33 after 86 minutes (2026-12-08, the profile still
being made beside it): expect well over three hours. Exit status 0 when every printed line is the same, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDED = ("calibration", "samples")  # folders of the build dir both runs start with, besides the FP32 export

_CHILD = """
import json, os, sys, time
os.environ.setdefault("MPLBACKEND", "Agg")
cells, skip = json.load(open(sys.argv[1])), {int(n) for n in sys.argv[2].split(",") if n}
wait_cell, ready = int(os.environ.get("AVX2_WAIT_CELL", "-1")), os.environ.get("AVX2_READY", "")
namespace = {"display": lambda *args, **kwargs: None, "__name__": "__main__"}
for number, source in enumerate(cells):
    if number == wait_cell:
        while not os.path.exists(ready):
            time.sleep(5)
        print(open(ready).read().strip(), flush=True)
    if number in skip or source.startswith("%%"):
        continue
    source = "\\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    print(f"----- cell {number}", flush=True)
    try:
        exec(compile(source, f"<cell {number}>", "exec"), namespace)
    except Exception as error:
        print(f"cell {number} raised {type(error).__name__}: {error}", flush=True)
"""


def code_cells(notebook: Path) -> list[str]:
    return ["".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]


TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - ")  # a library log line's time: not compared


def printed_lines(text: str) -> list[str]:
    """What the cells printed, without QEMU's warnings, progress bars and log timestamps (which differ by nature)."""
    return [TIMESTAMP.sub("", line) for line in text.splitlines()
            if line.strip() and not line.startswith("qemu-x86_64: warning") and "it/s]" not in line and "s/it]" not in line]


def differences(native: list[str], emulated: list[str]) -> list[tuple[str, str]]:
    """Pairs of lines that differ, in order; a missing line on either side pairs with ''."""
    width = max(len(native), len(emulated))
    padded = [(native + [""] * width)[:width], (emulated + [""] * width)[:width]]
    return [(a, b) for a, b in zip(*padded) if a != b]


def seed_build_dir(source: Path, target: Path, onnx_file: str) -> None:
    if target.exists():
        shutil.rmtree(target)
    (target / "onnx").mkdir(parents=True)
    for folder in SEEDED:
        if (source / folder).is_dir():
            shutil.copytree(source / folder, target / folder)
    shutil.copy2(source / "onnx" / onnx_file, target / "onnx" / onnx_file)


# What --prepare-int8 makes beside the notebook: the workbook's INT8 profile, then its two INT8 models side by side.
INT8_STAGES = (["artifacts.int8_profile(MODEL)"],
               ["artifacts.onnx_model(MODEL, 'int8')", "artifacts.onnx_model(MODEL, 'int8-fp16')"])
_PREPARE = "from utils import artifacts\nfrom utils.models import selected_model_name\nMODEL = selected_model_name(None)\n"


def _environment(build: Path) -> dict[str, str]:
    return {**os.environ, "WORKBOOK_BUILD_DIR": str(build), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def prepare(build: Path, prefix: list[str], log: Path, ready: Path, stages=INT8_STAGES) -> threading.Thread:
    """Run `stages` in `build` on the same CPU as the notebook, meanwhile: each stage's calls side by side, a process
    each, one stage after the other; then write `ready` (what the waiting notebook prints: the same line in both
    runs unless a call failed). Emulated, the 256-sample calibrations of notebook 06 take most of an hour each; made
    beside the notebook's first sections, and two at a time, they no longer add up."""
    def work() -> None:
        failed = []
        with log.open("w") as out:
            for stage in stages:
                processes = [subprocess.Popen([*prefix, sys.executable, "-c", _PREPARE + call], stdout=out,
                                              stderr=subprocess.STDOUT, cwd=ROOT, env=_environment(build))
                             for call in stage]
                failed += [call for call, process in zip(stage, processes) if process.wait() != 0]
        ready.write_text(f"prepared beside the notebook: {'; '.join(failed) + ' failed' if failed else 'all made'}\n")

    ready.unlink(missing_ok=True)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def run(cells_json: Path, skip: str, build: Path, prefix: list[str], log: Path, wait: tuple[int, Path] | None = None) -> list[str]:
    """The notebook's printed lines; with `wait` (cell, file), the cell starts once the file exists (`prepare`)."""
    env = _environment(build)
    if wait is not None:
        env.update(AVX2_WAIT_CELL=str(wait[0]), AVX2_READY=str(wait[1]))
    with log.open("w") as out:
        subprocess.run([*prefix, sys.executable, "-c", _CHILD, str(cells_json), skip], stdout=out,
                       stderr=subprocess.STDOUT, cwd=ROOT, env=env, check=False)
    return printed_lines(log.read_text(errors="replace"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--skip", default="", help="comma-separated code-cell numbers (0-based) to leave out")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "avx2", help="logs and the two build folders")
    parser.add_argument("--cpu", default="Haswell-v4", help="the CPU QEMU emulates (default: %(default)s)")
    parser.add_argument("--native-only", action="store_true", help="one native run, to see what would be compared")
    parser.add_argument("--prepare-int8", type=int, metavar="CELL",
                        help="make the INT8 profile and models meanwhile, in processes of their own; code cell CELL waits")
    args = parser.parse_args(argv)
    if not args.native_only and not shutil.which("qemu-x86_64"):
        print("error: qemu-x86_64 is not installed (apt-get install qemu-user)", file=sys.stderr)
        return 2
    from utils import artifacts
    from utils.models import selected_model_name

    fp32 = artifacts.onnx_model(selected_model_name(None))  # this machine's export, and its calibration set below
    artifacts.calibration_set(selected_model_name(None))
    args.out.mkdir(parents=True, exist_ok=True)
    cells_json = args.out / "cells.json"
    cells_json.write_text(json.dumps(code_cells(args.notebook)))
    runs = {"native": [], "emulated": ["qemu-x86_64", "-cpu", args.cpu]}
    printed = {}
    for name, prefix in runs.items():
        if args.native_only and prefix:
            continue
        build = args.out / f"build-{name}"
        seed_build_dir(artifacts.build_dir(), build, fp32.name)
        started = time.perf_counter()
        wait, helper = None, None
        if args.prepare_int8 is not None:
            wait = (args.prepare_int8, args.out / f"{name}.ready")
            helper = prepare(build, prefix, args.out / f"{name}-prepare.log", wait[1])
        printed[name] = run(cells_json, args.skip, build, prefix, args.out / f"{name}.log", wait)
        if helper is not None:
            helper.join()
        print(f"{name}: {len(printed[name])} lines in {time.perf_counter() - started:.0f} s ({args.out / f'{name}.log'})")
    if args.native_only:
        print("\n".join(printed["native"]))
        return 0
    differing = differences(printed["native"], printed["emulated"])
    for native, emulated in differing:
        print(f"- native:   {native}\n  emulated: {emulated}")
    print(f"{len(differing)} of {len(printed['native'])} printed lines differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
