"""The timing cache: kernel timings a build measured, reused by the next build on the same TensorRT and GPU.

TensorRT checks a cache against the device it was made on (`set_timing_cache(..., ignore_mismatch=False)`
returns False on a mismatch) but a cache from another TensorRT version may just fail to deserialize. The
workbook keeps a small JSON note beside each cache file (`<cache>.json`: TensorRT flavour and version, GPU
name and compute capability) and starts a new cache, with a printed message, whenever the note does not
match, the bytes do not deserialize, or TensorRT refuses the cache. A stale cache never fails a build. Builds that
run at once merge their timings into the file (`save`), so none is lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.errors import WorkbookError
from utils.files import exclusive_lock, write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    from utils.gpu import GpuInfo
    from utils.tensorrt.api import TensorRT

NOTE_SUFFIX = ".json"
LOCK_SUFFIX = ".lock"


def cache_identity(trt: TensorRT, gpu: GpuInfo | None) -> dict[str, str | None]:
    return {"tensorrt_flavour": trt.flavour, "tensorrt_version": trt.version,
            "gpu_name": gpu.name if gpu else None, "compute_capability": gpu.compute_capability if gpu else None}


def note_path(cache_path: Path) -> Path:
    return Path(f"{cache_path}{NOTE_SUFFIX}")


def usable_cache_bytes(cache_path: Path, identity: dict[str, str | None]) -> tuple[bytes, str | None]:
    """(bytes to start from, why a new cache was started instead or None)."""
    if not cache_path.is_file():
        return b"", None
    try:
        recorded = json.loads(note_path(cache_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return b"", f"timing cache {cache_path.name} has no readable note of the TensorRT and GPU that made it"
    if recorded != identity:
        made_by = f"{recorded.get('tensorrt_flavour')} {recorded.get('tensorrt_version')} on {recorded.get('gpu_name') or 'no GPU'}"
        return b"", f"timing cache {cache_path.name} was made by {made_by}"
    return cache_path.read_bytes(), None


def attach(trt: TensorRT, config: Any, cache_path: Path, identity: dict[str, str | None]) -> Any:
    """Create the config's timing cache from `cache_path` (or a new one) and set it; returns the cache object."""
    data, reason = usable_cache_bytes(cache_path, identity)
    cache = config.create_timing_cache(data) if data else None
    if data and cache is None:
        reason = f"timing cache {cache_path.name} could not be read by {trt.display_name}"
    if cache is not None and not config.set_timing_cache(cache, ignore_mismatch=False):
        reason, cache = f"{trt.display_name} refused timing cache {cache_path.name} (made for another device)", None
    if cache is None:
        cache = config.create_timing_cache(b"")
        if not config.set_timing_cache(cache, ignore_mismatch=False):
            raise WorkbookError(f"{trt.display_name} refused a new, empty timing cache; build without --timing-cache")
    if reason:
        print(f"{reason}; starting a new one (the build measures its kernels again)")
    return cache


def save(config: Any, cache_path: Path, identity: dict[str, str | None]) -> None:
    """Write the config's (updated) timing cache and its note, each atomically, merged with what is on disk now.

    Builds of different engines run at once (each engine has its own lock) and share one cache file: each read it
    when it started, so writing only its own cache would drop the timings another build saved meanwhile. Under the
    cache's own lock, the file on disk is read again and combined into this build's cache
    (`ITimingCache.combine`, which keeps entries already present), then written."""
    cache = config.get_timing_cache()
    if cache is None:
        return
    with exclusive_lock(Path(f"{cache_path}{LOCK_SUFFIX}")):
        on_disk, _ = usable_cache_bytes(cache_path, identity)
        saved_meanwhile = config.create_timing_cache(on_disk) if on_disk else None
        if saved_meanwhile is not None and not cache.combine(saved_meanwhile, False):
            print(f"timing cache {cache_path.name} on disk could not be merged into this build's; keeping this build's")
        write_bytes_atomic(cache_path, bytes(cache.serialize()))
        write_text_atomic(note_path(cache_path), json.dumps(identity, indent=2) + "\n")
