"""Atomic file writing: a reader never sees a half-written `.onnx`, `.engine`, results file or figure."""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from utils.errors import WorkbookError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def ensure_writable_dir(directory: Path) -> None:
    """Create `directory` (and parents) or fail with a one-line error naming it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbookError(f"cannot create output folder {directory}: {exc.strerror}; choose a writable path") from None
    if not os.access(directory, os.W_OK):
        raise WorkbookError(f"output folder {directory} is not writable; choose a writable path")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str], *, keep_identical: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; rename it over `destination` only if the block succeeds.

    The temporary file lives in the same folder, so the final `os.replace` is atomic on POSIX and Windows.
    `keep_identical`: a file already there with the same bytes stays as it was, its modification time too, so the
    files made from it (whose freshness is judged by time) stay current.
    """
    destination = Path(destination)
    ensure_writable_dir(destination.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    os.chmod(tmp_path, 0o666 & ~_current_umask())  # mkstemp creates 0600; give the final file the usual mode
    try:
        yield tmp_path
        if not (keep_identical and destination.is_file() and filecmp.cmp(tmp_path, destination, shallow=False)):
            os.replace(tmp_path, destination)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(destination: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def write_text_atomic(destination: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(destination)


def sha256_of_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_figure(figure: Figure, destination: str | os.PathLike[str], dpi: int = 110) -> Path:
    """A matplotlib figure as a PNG file, written atomically."""
    with atomic_path(destination) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return Path(destination)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` (created if missing) for the block; other processes that
    ask for the same lock wait. POSIX only (fcntl); elsewhere the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; builds there are not shared
        yield
        return
    ensure_writable_dir(lock_path.parent)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
