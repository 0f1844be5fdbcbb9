"""utils.benchmark.memory: the host's resident-set high-water mark during a run."""

from __future__ import annotations

import numpy as np

from utils.benchmark.memory import HostPeak, mib


def test_host_peak_sees_native_memory_that_is_already_freed() -> None:
    peak = HostPeak()
    peak.start()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched, then freed before stop()
    del block
    assert peak.stop() >= 48 * 2**20
    quiet = HostPeak()
    quiet.start()
    assert quiet.stop() < 16 * 2**20  # nothing allocated: no rise to speak of


def test_mib_rounds_and_keeps_none() -> None:
    assert mib(None) is None
    assert mib(3 * 2**20 + 2**19) == 3.5
    assert mib(1) == 0.0
