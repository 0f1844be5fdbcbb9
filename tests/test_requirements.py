"""The requirements files name releases that exist, and never pin TensorRT itself.

A pin to a release that does not exist (requirements-gpu.txt once said onnxruntime-gpu==1.32.0; the newest is
1.31.1) fails only on the machine of the person who follows it. Every exact pin, including those in commented
`pip install name==version` instructions, is looked up on the configured package index with pip itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-gpu.txt")
# The platform the pinned set is tested on (requirements.txt's header); pins whose markers exclude this machine
# are looked up for it.
TARGET_PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--only-binary=:all:")
INSTALL_COMMAND = re.compile(r"\bpip3?\s+install\s+([^&|;#]*)")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503)
    version: str
    source: str  # "file:line"
    markers_apply_here: bool = True


def _pin(text: str, source: str) -> Pin | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    exact = [s for s in requirement.specifier if s.operator in ("==", "===") and not s.version.endswith(".*")]
    if not exact:
        return None
    applies = requirement.marker is None or requirement.marker.evaluate(default_environment())  # type: ignore[arg-type]
    return Pin(canonicalize_name(requirement.name), exact[0].version, source, applies)


def exact_pins(lines: Iterable[str], filename: str = "<text>") -> list[Pin]:
    """Every `name==version` in requirement lines, and in comments of the form `pip install name==version`."""
    pins = []
    for number, line in enumerate(lines, 1):
        source = f"{filename}:{number}"
        requirement, _, comment = line.partition("#")
        requirement = requirement.strip()
        if requirement and not requirement.startswith("-"):
            pin = _pin(requirement, source)
            if pin:
                pins.append(pin)
        for command in INSTALL_COMMAND.findall(comment if requirement else line):
            for word in command.split():
                pin = _pin(word.strip("\"'"), source) if "==" in word else None
                if pin:
                    pins.append(pin)
    return pins


def missing_releases(pins: Sequence[Pin], available: Mapping[str, Sequence[str] | None]) -> list[str]:
    """The pins whose version is not among `available[name]` (None: the index knows no such package)."""
    problems = []
    for pin in pins:
        versions = available.get(pin.name)
        if not versions:
            problems.append(f"{pin.source}: {pin.name}=={pin.version}: the index has no package {pin.name}")
            continue
        if not any(_same_version(pin.version, v) for v in versions):
            problems.append(f"{pin.source}: {pin.name}=={pin.version} does not exist; the newest releases are "
                            f"{', '.join(list(versions)[:5])}")
    return problems


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def is_tensorrt_package(name: str) -> bool:
    """NVIDIA's own TensorRT packages (tensorrt, tensorrt-cu12, tensorrt-cu13-libs, ...), not TensorRT-RTX or stubs."""
    name = canonicalize_name(name)
    return name == "tensorrt" or (name.startswith("tensorrt-") and not name.startswith("tensorrt-rtx")
                                  and name != "tensorrt-stubs")


def _file_pins() -> list[Pin]:
    return [pin for filename in REQUIREMENT_FILES
            for pin in exact_pins((ROOT / filename).read_text().splitlines(), filename)]


# --- looking releases up with pip ----------------------------------------------------------------------------------


# What pip prints when it cannot reach an index (a refused or timed-out connection, DNS, proxy, TLS).
NETWORK_TROUBLE = re.compile(r"connection broken by|Could not fetch URL|Failed to establish|Max retries exceeded|timed out|"
                             r"Temporary failure in name resolution|Name or service not known|ProxyError|SSLError|"
                             r"not a trusted or secure host", re.IGNORECASE)


def index_versions(name: str, *options: str) -> tuple[list[str], str | None]:
    """The releases pip sees for `name` on the configured index (pip.conf, PIP_INDEX_URL, ...), and the line in
    which pip said it could not reach an index, if it did."""
    command = [sys.executable, "-m", "pip", "index", "versions", "--json", "--pre", "--ignore-requires-python",
               "--disable-pip-version-check", "--retries", "2", "--timeout", "30", *options, name]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    trouble = next((line.strip() for line in completed.stderr.splitlines() if NETWORK_TROUBLE.search(line)), None)
    if completed.returncode != 0 or not completed.stdout.strip():
        return [], trouble
    return list(json.loads(completed.stdout)["versions"]), trouble


def _lookup(pin: Pin) -> tuple[str, list[str], str | None]:
    versions, trouble = index_versions(pin.name) if pin.markers_apply_here else ([], None)
    if not any(_same_version(pin.version, v) for v in versions):
        # Not for this machine (a Linux-only wheel looked up on macOS, say): ask for the platform the pins are for.
        more, more_trouble = index_versions(pin.name, *TARGET_PLATFORM)
        versions, trouble = sorted({*versions, *more}, key=_sort_key, reverse=True), trouble or more_trouble
    return pin.name, versions, trouble


def _sort_key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def test_every_exact_pin_names_a_release_on_the_index():
    pins = _file_pins()
    assert len(pins) > 20, pins  # the parser found the pins (requirements.txt alone pins over twenty packages)
    looked_up: dict[str, list[str]] = {}
    troubles: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, versions, trouble in pool.map(_lookup, pins):
            looked_up[name] = sorted({*looked_up.get(name, []), *versions}, key=_sort_key, reverse=True)
            if trouble:
                troubles[name] = trouble
    problems = missing_releases(pins, looked_up)
    # A release not found while pip could not reach the index (a local mirror may answer alone) proves nothing.
    unreachable = [f"{pin.name}: {troubles[pin.name]}" for pin in pins if pin.name in troubles
                   and missing_releases([pin], looked_up)]
    if unreachable:
        pytest.skip(f"the package index cannot be reached ({unreachable[0]}); check `pip config list` and the network")
    assert not problems, "\n".join(problems)


# --- the rules, checked without the network ------------------------------------------------------------------------


def test_a_made_up_pin_is_reported():
    lines = ["# Optional: ONNX Runtime on the GPU:",
             "#     pip uninstall -y onnxruntime && pip install onnxruntime-gpu==1.32.0",
             "numpy==2.4.6  # tested",
             "tensorrt>=8.6,<12 ; platform_system == \"Linux\""]
    pins = exact_pins(lines, "requirements-gpu.txt")
    assert [(p.name, p.version, p.source) for p in pins] == [("onnxruntime-gpu", "1.32.0", "requirements-gpu.txt:2"),
                                                              ("numpy", "2.4.6", "requirements-gpu.txt:3")]
    available = {"onnxruntime-gpu": ["1.31.1", "1.31.0", "1.30.0"], "numpy": ["2.4.6", "2.4.5"]}
    problems = missing_releases(pins, available)
    assert problems == ["requirements-gpu.txt:2: onnxruntime-gpu==1.32.0 does not exist; the newest releases are "
                        "1.31.1, 1.31.0, 1.30.0"]
    assert missing_releases(pins, {"numpy": ["2.4.6.0"]}) == [
        "requirements-gpu.txt:2: onnxruntime-gpu==1.32.0: the index has no package onnxruntime-gpu"]


def test_pins_are_parsed_with_extras_markers_and_odd_spelling():
    lines = ["Pillow == 13.0.0", "tensorrt_rtx_cu13_libs==1.7.1.116 ; platform_system == 'Nonesuch'",
             "torch>=2.0", "torch==2.*", "-r requirements.txt", "-e .", "uvicorn[standard]==0.30.0",
             "# pip install 'foo==1.0' \"bar==2.0\" baz"]
    pins = exact_pins(lines)
    assert [(p.name, p.version, p.markers_apply_here) for p in pins] == [
        ("pillow", "13.0.0", True), ("tensorrt-rtx-cu13-libs", "1.7.1.116", False), ("uvicorn", "0.30.0", True),
        ("foo", "1.0", True), ("bar", "2.0", True)]


def test_tensorrt_packages_are_recognised():
    assert all(map(is_tensorrt_package, ["tensorrt", "TensorRT", "tensorrt-cu12", "tensorrt_cu13", "tensorrt-cu12-libs",
                                         "tensorrt-cu13-bindings", "tensorrt-libs"]))
    assert not any(map(is_tensorrt_package, ["tensorrt-rtx-cu13-libs", "tensorrt-rtx-cu13-bindings", "tensorrt-stubs",
                                             "onnx-tensorrt", "torch-tensorrt"]))


def test_tensorrt_itself_is_never_pinned_exactly():
    """The right TensorRT depends on the driver and CUDA of each machine: the files give a range."""
    pinned = [f"{p.source}: {p.name}=={p.version}" for p in _file_pins() if is_tensorrt_package(p.name)]
    assert not pinned, f"TensorRT must be named by range (tensorrt>=8.6,<12), not pinned: {pinned}"
    gpu = [Requirement(line.partition("#")[0]) for line in (ROOT / "requirements-gpu.txt").read_text().splitlines()
           if line.partition("#")[0].strip()]
    tensorrt = [r for r in gpu if is_tensorrt_package(r.name)]
    assert [(r.name, str(r.specifier)) for r in tensorrt] == [("tensorrt", "<12,>=8.6")]


def test_pyproject_gpu_extra_matches_requirements_gpu():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml with tomllib")
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["gpu"]
    from_extra = {canonicalize_name(r.name): r for r in map(Requirement, extra)}
    from_file = {canonicalize_name(r.name): r for r in (Requirement(line.partition("#")[0]) for line in
                 (ROOT / "requirements-gpu.txt").read_text().splitlines() if line.partition("#")[0].strip())}
    assert sorted(from_extra) == sorted(from_file)
    for name, required in from_file.items():
        declared = from_extra[name]
        assert str(declared.marker) == str(required.marker), name
        exact = any(s.operator == "==" for s in required.specifier)
        # Ranges are the same; pins stay in the requirements file (the extra names the package, as `dependencies` does).
        assert str(declared.specifier) == ("" if exact else str(required.specifier)), (name, declared, required)


def test_environment_yml_installs_the_requirements_files():
    text = (ROOT / "environment.yml").read_text()
    installed = re.findall(r"^\s*-\s+-r\s+(\S+)\s*$", text, flags=re.MULTILINE)
    assert installed == ["requirements.txt", "requirements-dev.txt"], installed
    assert all((ROOT / name).is_file() for name in installed)
    assert "pip install -r requirements-gpu.txt" in text  # GPU machines are told where TensorRT comes from
