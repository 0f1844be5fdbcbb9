"""The timing cache is keyed by TensorRT version and GPU, and a cache that does not fit never fails a build.

TensorRT-RTX has no timing cache (its calls are no-ops), and the full TensorRT cannot be installed here, so the
builder config below is a test double that records what the workbook asks of it. It stands in for
`IBuilderConfig`'s three timing-cache calls only, with the documented return values (None for bytes it cannot
read is an assumption: NVIDIA documents no return value for that case, so both None and an exception-free
empty cache are handled).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from utils.errors import WorkbookError
from utils.gpu import GpuInfo
from utils.tensorrt import timing_cache
from utils.tensorrt.api import TensorRT

H100 = GpuInfo(name="NVIDIA H100 80GB HBM3", compute_capability="9.0", memory_gib=79.1)
L4 = GpuInfo(name="NVIDIA L4", compute_capability="8.9", memory_gib=22.0)
TRT10 = TensorRT(module=None, flavour="tensorrt", version="10.13.0.35", import_name="tensorrt")
TRT11 = TensorRT(module=None, flavour="tensorrt", version="11.1.0.2", import_name="tensorrt")


class RecordingConfig:
    """Accepts caches whose bytes start with b"ok" and were made for `device`; refuses others like TensorRT does."""

    def __init__(self, device: str = "H100", readable: bool = True) -> None:
        self.device, self.readable, self.set_calls = device, readable, []
        self.current = None

    def create_timing_cache(self, data: bytes):
        if data and (not self.readable or not data.startswith(b"ok")):
            return None
        return SimpleNamespace(data=data or b"ok:" + self.device.encode(), serialize=lambda: b"ok:" + self.device.encode() + b":updated")

    def set_timing_cache(self, cache, ignore_mismatch: bool) -> bool:
        self.set_calls.append((cache.data, ignore_mismatch))
        if cache.data != b"ok:" + self.device.encode() and cache.data.startswith(b"ok:"):
            return False  # made for another device
        self.current = cache
        return True

    def get_timing_cache(self):
        return self.current


def test_the_identity_names_tensorrt_and_gpu():
    assert timing_cache.cache_identity(TRT10, H100) == {
        "tensorrt_flavour": "tensorrt", "tensorrt_version": "10.13.0.35", "gpu_name": "NVIDIA H100 80GB HBM3",
        "compute_capability": "9.0"}


def test_the_workbook_names_one_cache_per_tensorrt_and_gpu(tmp_path, monkeypatch):
    from utils import artifacts

    monkeypatch.setenv(artifacts.BUILD_DIR_ENV_VAR, str(tmp_path))
    names = {artifacts.timing_cache_path(trt, gpu).name for trt in (TRT10, TRT11) for gpu in (H100, L4)}
    assert len(names) == 4
    assert artifacts.timing_cache_path(TRT10, H100).name == "timing-tensorrt-10.13.0.35-sm90-nvidia-h100-80gb-hbm3.cache"


def test_a_new_cache_is_saved_with_its_note_and_reused(tmp_path, capsys):
    path = tmp_path / "t.cache"
    identity = timing_cache.cache_identity(TRT10, H100)
    config = RecordingConfig()
    timing_cache.attach(TRT10, config, path, identity)
    timing_cache.save(config, path, identity)
    assert path.read_bytes() == b"ok:H100:updated"
    assert json.loads(timing_cache.note_path(path).read_text()) == identity
    assert capsys.readouterr().out == ""  # nothing to report on a first build

    again = RecordingConfig()
    path.write_bytes(b"ok:H100")
    timing_cache.attach(TRT10, again, path, identity)
    assert again.set_calls == [(b"ok:H100", False)]  # loaded, strict check on
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("other", [timing_cache.cache_identity(TRT11, H100), timing_cache.cache_identity(TRT10, L4)])
def test_a_cache_from_another_tensorrt_or_gpu_is_replaced_with_a_message(tmp_path, capsys, other):
    path = tmp_path / "t.cache"
    path.write_bytes(b"ok:H100")
    timing_cache.note_path(path).write_text(json.dumps(other))
    config = RecordingConfig()
    timing_cache.attach(TRT10, config, path, timing_cache.cache_identity(TRT10, H100))
    assert config.set_calls == [(b"ok:H100", False)] and config.current.data == b"ok:H100"  # the new, empty one
    message = capsys.readouterr().out
    assert "timing cache t.cache was made by tensorrt" in message and "starting a new one" in message


def test_unreadable_or_refused_caches_and_missing_notes_start_a_new_cache(tmp_path, capsys):
    identity = timing_cache.cache_identity(TRT10, H100)
    path = tmp_path / "t.cache"
    path.write_bytes(b"ok:H100")
    timing_cache.attach(TRT10, RecordingConfig(), path, identity)
    assert "has no readable note" in capsys.readouterr().out

    timing_cache.note_path(path).write_text(json.dumps(identity))
    path.write_bytes(b"garbage")
    timing_cache.attach(TRT10, RecordingConfig(), path, identity)
    assert "could not be read by TensorRT 10.13.0.35" in capsys.readouterr().out

    path.write_bytes(b"ok:L4")  # the note says H100, the bytes were made elsewhere: TensorRT's own check refuses it
    config = RecordingConfig()
    timing_cache.attach(TRT10, config, path, identity)
    assert "refused timing cache t.cache" in capsys.readouterr().out
    assert config.set_calls == [(b"ok:L4", False), (b"ok:H100", False)]


def test_a_tensorrt_that_refuses_even_an_empty_cache_is_a_one_line_error(tmp_path):
    class Refusing(RecordingConfig):
        def set_timing_cache(self, cache, ignore_mismatch):
            return False

    with pytest.raises(WorkbookError, match="refused a new, empty timing cache; build without --timing-cache"):
        timing_cache.attach(TRT10, Refusing(), tmp_path / "t.cache", timing_cache.cache_identity(TRT10, H100))


class EntriesCache:
    """An ITimingCache double holding named timing entries: `serialize`, and `combine` adding the entries it lacks."""

    def __init__(self, entries: set[str]) -> None:
        self.entries = set(entries)

    def serialize(self) -> bytes:
        return b"ok:H100:" + json.dumps(sorted(self.entries)).encode()

    def combine(self, other: EntriesCache, ignore_mismatch: bool) -> bool:
        self.entries |= other.entries
        return True


class EntriesConfig(RecordingConfig):
    def create_timing_cache(self, data: bytes):
        return EntriesCache(set(json.loads(data[len(b"ok:H100:"):])) if data else set())

    def set_timing_cache(self, cache, ignore_mismatch: bool) -> bool:
        self.current = cache
        return True


def test_two_builds_at_once_keep_both_builds_timings(tmp_path):
    """Two engines built at the same time from one shared cache: both read it before either saved. Each build then
    measures its own kernels; the file must end with both sets of timings, whichever saves last."""
    import threading

    path = tmp_path / "t.cache"
    identity = timing_cache.cache_identity(TRT10, H100)
    started = threading.Barrier(2)

    def build(kernel: str) -> None:
        config = EntriesConfig()
        timing_cache.attach(TRT10, config, path, identity)
        started.wait()  # both have read the (empty) cache
        config.current.entries.add(kernel)
        timing_cache.save(config, path, identity)

    threads = [threading.Thread(target=build, args=(kernel,)) for kernel in ("conv-tactic-of-lite0", "gemm-tactic-of-resnet50")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = EntriesConfig().create_timing_cache(path.read_bytes())
    assert saved.entries == {"conv-tactic-of-lite0", "gemm-tactic-of-resnet50"}
    assert json.loads(timing_cache.note_path(path).read_text()) == identity
