"""Host memory of a benchmark run: how far the resident set rose while a runtime was timed.

`host_peak_delta_mib` in a benchmark row is how far the resident set (RSS, which counts native allocations that
tracemalloc cannot see) rose above its level before warm-up. Device memory is the runtime's own business
(`Runtime.device_memory_bytes`).
"""

from __future__ import annotations

import sys


def rss_bytes() -> int:
    """The resident set now (psutil), or the lifetime maximum where psutil is missing."""
    try:
        import psutil
    except ImportError:
        return maxrss_bytes()
    return int(psutil.Process().memory_info().rss)


def maxrss_bytes() -> int:
    """`getrusage`'s lifetime maximum resident set of this process, in bytes."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux 4.0+: `echo 5 > /proc/self/clear_refs`)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_since_reset() -> int | None:
    """The kernel's high-water mark (VmHWM), or None where /proc does not have it."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class HostPeak:
    """How far the resident set rose above its level at `start()`, native allocations included.

    Linux: the kernel's high-water mark, reset at `start()`. Elsewhere: `getrusage`'s lifetime maximum, which
    sees the rise only when this run set a new record for the process (otherwise the current RSS is used).
    """

    def start(self) -> None:
        # The baseline is the high-water mark the kernel starts from at the reset, not an RSS read before it: memory
        # another thread frees between the two reads would otherwise hide that much of the rise.
        baseline = peak_rss_since_reset() if reset_peak_rss() else None
        self.reset = baseline is not None
        self.before = baseline if baseline is not None else rss_bytes()
        self.maxrss_before = maxrss_bytes()

    def stop(self) -> int:
        """Bytes the resident set rose above its level at `start()`, at its highest; never negative."""
        peak = peak_rss_since_reset() if self.reset else None
        if peak is None:
            maxrss = maxrss_bytes()
            peak = maxrss if maxrss > self.maxrss_before else rss_bytes()
        return max(0, peak - self.before)


def mib(nbytes: int | None) -> float | None:
    """Bytes as MiB rounded to 1 KiB-ish precision (3 decimals), None stays None."""
    return None if nbytes is None else round(nbytes / 2**20, 3)


__all__ = ["HostPeak", "maxrss_bytes", "mib", "peak_rss_since_reset", "reset_peak_rss", "rss_bytes"]
