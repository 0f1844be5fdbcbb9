"""utils.environment: what this machine can do, each answer printable."""

import pytest

from utils import environment


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 fma avx512f avx512_vnni", "AVX-512 VNNI"),
    ("fpu sse2 avx2 avx_vnni", "AVX-VNNI"),
    ("fpu sse2 avx2 fma avx512f", "AVX2 without VNNI (fused u8s8 kernels would saturate)"),
    ("fpu sse2 avx", "no AVX2"),
    ("", "unknown"),
])
def test_the_cpus_int8_instructions(flags, expected):
    assert environment.cpu_int8_instructions(flags) == expected


def test_describe_names_this_cpus_int8_instructions():
    facts = environment.describe()
    assert facts["cpu int8"] == environment.cpu_int8_instructions()
    assert all(isinstance(value, str) and value for value in facts.values())


def test_the_teaching_guide_names_the_compute_capabilities_tensorrt_rtx_runs_on():
    """One source of truth: the list TensorRT-RTX's own error message prints, in utils.environment."""
    import re
    from pathlib import Path

    guide = " ".join((Path(__file__).parents[1] / "docs" / "teaching.md").read_text(encoding="utf-8").split())
    listed = re.search(r"TensorRT-RTX engines run only on the compute capabilities its own error message lists, ([\d., ]+)", guide)
    assert listed, "docs/teaching.md no longer says which GPUs run TensorRT-RTX engines"
    assert tuple(re.findall(r"\d+\.\d+", listed.group(1))) == environment.RTX_RUNNABLE_COMPUTE_CAPABILITIES


def test_engines_run_with_either_cuda_binding(monkeypatch):
    """cuda-python alone is enough to run engines (no CUDA toolkit to build pycuda); neither is a one-line reason."""
    monkeypatch.setattr(environment, "engine_load_unavailable", lambda: None)
    monkeypatch.setattr("utils.tensorrt.cuda_binding.installed_bindings", lambda: ["cuda-python"])
    monkeypatch.delenv("WORKBOOK_CUDA_BINDING", raising=False)
    assert environment.engine_execution_unavailable() is None
    monkeypatch.setattr("utils.tensorrt.cuda_binding.installed_bindings", lambda: [])
    reason = environment.engine_execution_unavailable()
    assert reason.startswith("neither CUDA binding is installed") and "\n" not in reason
