import os
import stat

import pytest

from utils.errors import WorkbookError
from utils.files import atomic_path, sha256_of_file, write_bytes_atomic


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half-writ")
            raise RuntimeError("exporter crashed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_keep_identical_leaves_a_file_with_the_same_bytes_and_its_time(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"same")
    os.utime(target, (1_000_000, 1_000_000))
    with atomic_path(target, keep_identical=True) as tmp:
        tmp.write_bytes(b"same")
    assert target.stat().st_mtime == 1_000_000 and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    with atomic_path(target, keep_identical=True) as tmp:
        tmp.write_bytes(b"other")
    assert target.read_bytes() == b"other" and target.stat().st_mtime > 1_000_000
    with atomic_path(target) as tmp:  # without it, the same bytes are written again
        tmp.write_bytes(b"other")
    assert target.stat().st_mtime > 1_000_000


def test_atomic_write_creates_parents_and_uses_umask_mode(tmp_path):
    path = write_bytes_atomic(tmp_path / "a" / "b" / "engine.engine", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_unwritable_destination_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(WorkbookError, match=f"^cannot create output folder {blocker}: .*; choose a writable path$") as info:
        write_bytes_atomic(blocker / "out.onnx", b"x")
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_atomic_path_cleans_up_after_an_interrupt(tmp_path):
    """Ctrl-C (a BaseException, not an Exception) half-way through a write leaves neither a file nor a temporary."""
    target = tmp_path / "engine.engine"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half an engine")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_readers_never_see_a_partial_file(tmp_path):
    """Until the block ends the destination keeps its old content; the new bytes appear all at once."""
    target = tmp_path / "results.json"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new, complete")
        assert target.read_text() == "old"
        assert tmp.parent == target.parent  # same folder, so os.replace is atomic
    assert target.read_text() == "new, complete"


def test_sha256_of_file_matches_hashlib(tmp_path):
    import hashlib

    data = os.urandom(3 << 20)
    path = write_bytes_atomic(tmp_path / "blob", data)
    assert sha256_of_file(path) == hashlib.sha256(data).hexdigest()
