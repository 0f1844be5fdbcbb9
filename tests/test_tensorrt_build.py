"""Real engine builds with TensorRT-RTX, which builds ahead of time without a GPU (it cannot run them here).

Tests that need no TensorRT (batch parsing, missing files, unreadable sidecars) run everywhere.
"""

from __future__ import annotations

import json
import shutil

import pytest

from utils.artifacts import build_engine_file
from utils.errors import WorkbookError
from utils.gpu import current_gpu
from utils.tensorrt import build as engine_build
from utils.tensorrt.api import load_tensorrt, tensorrt_or_none
from utils.tensorrt.engine_file import EngineRecord, check_engine_file

trt = tensorrt_or_none()
needs_cpu_build = pytest.mark.skipif(trt is None or not trt.is_rtx or current_gpu() is not None,
                                     reason="builds ahead of time with TensorRT-RTX on a machine without a GPU "
                                            "(pip install -r requirements.txt; a GPU machine builds with the full TensorRT)")


def build_engine(onnx_path, engine_path, **options):
    """The workbook's build: the FP16 twin and the timing cache named by utils.artifacts."""
    return build_engine_file(onnx_path, engine_path, precision=options.pop("precision", "fp32"), **options)


def rewrite_sidecar_request(engine, **changes):
    """Edit the recorded build request, as if the engine had been built by another TensorRT or on another GPU."""
    sidecar = EngineRecord.path_for(engine)
    record = json.loads(sidecar.read_text())
    record["request"].update(changes)
    sidecar.write_text(json.dumps(record))


@pytest.fixture()
def onnx_copy(tmp_path, lite0_onnx):
    return shutil.copy(lite0_onnx, tmp_path / "lite0.onnx")


@needs_cpu_build
@pytest.mark.parametrize("model", ["lite0_onnx", "resnet50_onnx"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_builds_real_engines_with_a_dynamic_profile(request, tmp_path, model, precision):
    onnx_path = request.getfixturevalue(model)
    engine_path = tmp_path / f"{model}_{precision}.engine"
    record, built = build_engine(onnx_path, engine_path, precision=precision, batch=(1, 4, 16), workspace_mib=512)
    assert built
    data = engine_path.read_bytes()
    assert len(data) == record.engine_bytes > 1_000_000
    assert data[:4] == b"vtrt"  # TensorRT-RTX's engine magic
    assert record.inputs == {"input": {"min": [1, 3, 224, 224], "opt": [4, 3, 224, 224], "max": [16, 3, 224, 224]}}
    sidecar = json.loads(EngineRecord.path_for(engine_path).read_text())
    assert sidecar["request"]["precision"] == precision
    assert sidecar["request"]["tensorrt_flavour"] == "tensorrt_rtx"
    assert sidecar["request"]["tensorrt_version"] == load_tensorrt().version
    assert sidecar["request"]["gpu_name"] is None  # built ahead of time
    assert sidecar["request"]["compute_capability"] == ",".join(engine_build.RTX_AHEAD_OF_TIME_TARGETS)
    if precision == "fp16":
        assert sidecar["built_onnx_file"].endswith("_fp16.onnx")
    assert sidecar["request"]["tf32"] is False  # TF32 is off unless asked for, as in Polygraphy


@needs_cpu_build
def test_fp16_engine_is_about_half_the_fp32_engine(tmp_path, onnx_copy):
    fp32, _ = build_engine(onnx_copy, tmp_path / "a.engine", precision="fp32")
    fp16, _ = build_engine(onnx_copy, tmp_path / "b.engine", precision="fp16")
    assert 0.4 < fp16.engine_bytes / fp32.engine_bytes < 0.65


@needs_cpu_build
def test_cache_rebuilds_exactly_when_an_input_of_the_key_changes(tmp_path, onnx_copy, monkeypatch):
    engine = tmp_path / "lite0.engine"
    settings = {"precision": "fp32", "batch": (1, 8, 32), "workspace_mib": 1024}
    assert build_engine(onnx_copy, engine, **settings)[1] is True
    assert build_engine(onnx_copy, engine, **settings)[1] is False  # same inputs: reused
    assert build_engine(onnx_copy, engine, **{**settings, "batch": (1, 8, 64)})[1] is True
    assert build_engine(onnx_copy, engine, **{**settings, "batch": (1, 8, 64)})[1] is False
    assert build_engine(onnx_copy, engine, **{**settings, "precision": "fp16"})[1] is True
    assert build_engine(onnx_copy, engine, **{**settings, "workspace_mib": 2048})[1] is True
    assert build_engine(onnx_copy, engine, **{**settings, "workspace_mib": 2048})[1] is False

    import onnx

    model = onnx.load(str(onnx_copy))
    model.producer_version = "changed"
    onnx.save(model, str(onnx_copy))  # same graph, different file: the hash changes
    assert build_engine(onnx_copy, engine, **{**settings, "workspace_mib": 2048})[1] is True

    rewrite_sidecar_request(engine, tensorrt_version="10.13.0.35")
    assert build_engine(onnx_copy, engine, **{**settings, "workspace_mib": 2048})[1] is True

    rewrite_sidecar_request(engine, gpu_name="NVIDIA GeForce RTX 4090")
    assert build_engine(onnx_copy, engine, **{**settings, "workspace_mib": 2048})[1] is True
    assert build_engine(onnx_copy, engine, **{**settings, "workspace_mib": 2048}, force=True)[1] is True


@needs_cpu_build
def test_truncated_engine_is_refused_before_tensorrt_sees_it(tmp_path, onnx_copy):
    engine = tmp_path / "lite0.engine"
    build_engine(onnx_copy, engine)
    data = engine.read_bytes()
    engine.write_bytes(data[: len(data) // 3])
    with pytest.raises(WorkbookError, match="truncated or replaced") as info:
        check_engine_file(engine)
    assert "\n" not in str(info.value)
    assert build_engine(onnx_copy, engine)[1] is True  # and the cache rebuilds it


@needs_cpu_build
def test_engine_from_another_tensorrt_version_is_refused(tmp_path, onnx_copy):
    engine = tmp_path / "lite0.engine"
    build_engine(onnx_copy, engine)
    rewrite_sidecar_request(engine, tensorrt_flavour="tensorrt", tensorrt_version="10.13.0.35")
    with pytest.raises(WorkbookError, match="built with tensorrt 10.13.0.35 but TensorRT-RTX .* is installed; .* rebuild"):
        check_engine_file(engine)


def test_missing_engine_and_unreadable_sidecar(tmp_path):
    with pytest.raises(WorkbookError, match="does not exist"):
        check_engine_file(tmp_path / "none.engine")
    with pytest.raises(WorkbookError, match="is a directory; give an engine file"):
        check_engine_file(tmp_path)
    (tmp_path / "x.engine").write_bytes(b"vtrt")
    (tmp_path / "x.engine.json").write_text("{")
    with pytest.raises(WorkbookError, match="sidecar .* unreadable"):
        check_engine_file(tmp_path / "x.engine")


@needs_cpu_build
def test_corrupt_onnx_is_refused_before_the_parser(tmp_path):
    # TensorRT-RTX's parser accepts random bytes as an empty network; the workbook must not.
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x13\x37" * 4000)
    with pytest.raises(WorkbookError, match="not a valid ONNX model"):
        build_engine(bad, tmp_path / "bad.engine")
    assert not (tmp_path / "bad.engine").exists()


@needs_cpu_build
def test_parser_rejection_names_the_node(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("NoSuchOp", ["x"], ["y"], name="mystery", domain="com.example")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    onnx.save(model, str(tmp_path / "custom.onnx"))
    with pytest.raises(WorkbookError, match="parser rejected custom.onnx at node 0 'mystery' \\(NoSuchOp\\)") as info:
        build_engine(tmp_path / "custom.onnx", tmp_path / "custom.engine")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "custom.engine").exists()


@needs_cpu_build
@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning")
def test_fixed_batch_onnx_needs_a_matching_profile(tmp_path, lite0_model):
    """A fixed-batch export, made as a learner would with the exporter the workbook uses (TorchScript)."""
    import torch

    fixed = tmp_path / "fixed.onnx"
    torch.onnx.export(lite0_model, (torch.zeros(2, 3, 224, 224),), str(fixed), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["logits"])
    with pytest.raises(WorkbookError, match="fixed batch of 2; export with a dynamic batch axis"):
        build_engine(fixed, tmp_path / "fixed.engine", batch=(1, 8, 32))
    record, built = build_engine(fixed, tmp_path / "fixed.engine", batch=(2, 2, 2))
    assert built and record.inputs["input"]["max"][0] == 2


def test_batch_parsing():
    assert engine_build.parse_batch("1,8,32") == (1, 8, 32)
    for text in ("1,8", "a,b,c", "0,1,2", "4,2,8"):
        with pytest.raises(WorkbookError):
            engine_build.parse_batch(text)


@needs_cpu_build
def test_build_cli_writes_engine_and_reuses_it(tmp_path, onnx_copy, capsys):
    from utils.cli import main

    engine = tmp_path / "cli.engine"
    assert main(["build", str(onnx_copy), "--out", str(engine), "--precision", "fp16", "--batch", "1,4,8"]) == 0
    first = capsys.readouterr().out
    assert "built in" in first and "ahead-of-time build" in first
    assert engine.is_file() and EngineRecord.path_for(engine).is_file()
    assert main(["build", str(onnx_copy), "--out", str(engine), "--precision", "fp16", "--batch", "1,4,8"]) == 0
    assert "reused from the cache" in capsys.readouterr().out
    assert main(["inspect", str(engine)]) == 0
    inspected = capsys.readouterr().out
    assert '"precision": "fp16"' in inspected and "no layer table" in inspected


@needs_cpu_build
def test_cli_refuses_truncated_and_foreign_engines_in_one_line(tmp_path, onnx_copy):
    import subprocess
    import sys

    engine = tmp_path / "lite0.engine"
    build_engine(onnx_copy, engine)

    def inspect_cli():
        return subprocess.run([sys.executable, "-m", "utils", "inspect", str(engine)], capture_output=True, text=True, timeout=300)

    rewrite_sidecar_request(engine, tensorrt_version="10.13.0.35")
    completed = inspect_cli()
    assert completed.returncode == 2 and completed.stderr.count("\n") == 1
    assert "was built with tensorrt_rtx 10.13.0.35" in completed.stderr

    engine.write_bytes(engine.read_bytes()[:4096])
    completed = inspect_cli()
    assert completed.returncode == 2 and completed.stderr.count("\n") == 1
    assert "truncated or replaced" in completed.stderr


def _tiny_onnx(path, nodes, initializers=()):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])], initializer=list(initializers))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _unbuildable_onnx(path):
    """Parses, but cannot be built: at the profile's batch 2, 8 values cannot be reshaped into rows of 3."""
    import numpy as np
    from onnx import helper, numpy_helper

    shape = numpy_helper.from_array(np.array([-1, 3], np.int64), "shape")
    return _tiny_onnx(path, [helper.make_node("Reshape", ["x", "shape"], ["y"])], [shape])


@needs_cpu_build
def test_a_failed_build_names_tensorrts_error_in_one_line_every_time(tmp_path):
    # TensorRT keeps the first logger it is given: a logger per build would hear nothing on the second build.
    onnx_path = _unbuildable_onnx(tmp_path / "reshape.onnx")
    for attempt in range(2):
        with pytest.raises(WorkbookError, match="could not build reshape.onnx: .*Reshape dimension of -1 has no solution") as info:
            build_engine(onnx_path, tmp_path / "reshape.engine", batch=(1, 2, 4))
        assert "\n" not in str(info.value), attempt
    assert not (tmp_path / "reshape.engine").exists() and not EngineRecord.path_for(tmp_path / "reshape.engine").exists()


@needs_cpu_build
def test_parser_failure_without_a_recorded_error_is_still_one_line(tmp_path, monkeypatch):
    """A TensorRT that returns False from parse_from_file but records no parser error (seen with empty graphs)."""
    onnx_path = _unbuildable_onnx(tmp_path / "m.onnx")
    real_parser = load_tensorrt().module.OnnxParser

    class SilentFailingParser:  # a stand-in for this one TensorRT call, not for TensorRT
        num_errors = 0

        def __init__(self, network, logger):
            self.inner = real_parser(network, logger)

        def parse_from_file(self, path):
            return False

    monkeypatch.setattr(load_tensorrt().module, "OnnxParser", SilentFailingParser)
    with pytest.raises(WorkbookError, match="parser rejected m.onnx: TensorRT logged no error; re-export") as info:
        build_engine(onnx_path, tmp_path / "m.engine", batch=(1, 2, 4))
    assert "\n" not in str(info.value)


@needs_cpu_build
def test_tf32_is_an_explicit_recorded_choice(tmp_path, onnx_copy):
    engine = tmp_path / "lite0.engine"
    record, built = build_engine(onnx_copy, engine)
    assert built and record.request["tf32"] is False
    record, built = build_engine(onnx_copy, engine, tf32=True)
    assert built and record.request["tf32"] is True  # a different engine: rebuilt, and the sidecar says so
    assert build_engine(onnx_copy, engine, tf32=True)[1] is False
    fp16, _ = build_engine(onnx_copy, tmp_path / "half.engine", precision="fp16", tf32=True)
    assert fp16.request["tf32"] is False  # TF32 concerns FP32 layers only


def test_the_builder_config_says_what_the_request_says():
    if trt is None:
        pytest.skip("needs TensorRT or TensorRT-RTX to create a builder config (pip install -r requirements.txt)")
    from utils.tensorrt.logger import shared_logger

    config = trt.module.Builder(shared_logger(trt).trt_logger).create_builder_config()
    assert config.get_flag(trt.module.BuilderFlag.TF32)  # TensorRT's own default is on
    request = dict(onnx_sha256="0", precision="fp32", batch=(1, 1, 1), workspace_mib=1, tensorrt_flavour=trt.flavour,
                   tensorrt_version=trt.version, gpu_name=None, compute_capability=None)
    engine_build._set_math_mode(trt, config, engine_build.BuildRequest(tf32=False, **request))
    assert not config.get_flag(trt.module.BuilderFlag.TF32)
    engine_build._set_math_mode(trt, config, engine_build.BuildRequest(tf32=True, **request))
    assert config.get_flag(trt.module.BuilderFlag.TF32)


@needs_cpu_build
def test_an_engine_replaced_by_another_of_the_same_size_is_refused(tmp_path, onnx_copy):
    engine = tmp_path / "lite0.engine"
    build_engine(onnx_copy, engine)
    data = bytearray(engine.read_bytes())
    data[-100] ^= 0xFF  # same length, other bytes: a different build's engine beside this build's sidecar
    engine.write_bytes(bytes(data))
    with pytest.raises(WorkbookError, match="truncated or replaced"):
        check_engine_file(engine)
    assert build_engine(onnx_copy, engine)[1] is True  # and the cache does not reuse it


BUILD_IN_A_SUBPROCESS = """
import sys
from utils.artifacts import build_engine_file
record, built = build_engine_file(sys.argv[1], sys.argv[2], precision="fp32")
print("built" if built else "reused", record.engine_sha256)
"""


@needs_cpu_build
def test_two_processes_building_the_same_engine_leave_a_matching_pair(tmp_path, onnx_copy):
    import subprocess
    import sys

    from utils.files import sha256_of_file

    engine = tmp_path / "shared" / "lite0.engine"
    command = [sys.executable, "-c", BUILD_IN_A_SUBPROCESS, str(onnx_copy), str(engine)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [process.communicate(timeout=600) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in results]
    actions = sorted(out.split()[0] for out, _ in results)
    assert actions == ["built", "reused"]  # the second waited for the first and found its engine
    recorded = EngineRecord.load(engine)
    assert recorded is not None and recorded.engine_sha256 == sha256_of_file(engine)
    assert {out.split()[1] for out, _ in results} == {recorded.engine_sha256}
    check_engine_file(engine)


@needs_cpu_build
def test_an_engine_without_a_sidecar_is_checked_by_its_header(tmp_path, onnx_copy):
    from utils.tensorrt.engine_file import header_check

    engine = tmp_path / "lite0.engine"
    build_engine(onnx_copy, engine)
    EngineRecord.path_for(engine).unlink()
    # TensorRT-RTX reads the header, but needs a GPU to say whether this one can run it: the note says so.
    assert check_engine_file(engine) is None
    note = header_check(engine, load_tensorrt())
    assert note.startswith("no sidecar; its header could not be checked here") and "\n" not in note

    foreign = tmp_path / "foreign.engine"
    foreign.write_bytes(b"ftrt" + bytes(range(256)) * 64)
    with pytest.raises(WorkbookError, match="foreign.engine cannot load with TensorRT-RTX .*malformed engine.*; rebuild") as info:
        check_engine_file(foreign)
    assert "\n" not in str(info.value)


def test_tensorrt_without_a_header_check_says_loading_is_the_only_check(tmp_path):
    from types import ModuleType, SimpleNamespace

    from utils.tensorrt.api import TensorRT
    from utils.tensorrt.engine_file import header_check

    class Runtime:  # TensorRT 8.6 to 11.x: no get_engine_validity
        def __init__(self, logger):
            pass

    class ILogger:
        Severity = SimpleNamespace(INTERNAL_ERROR=0, ERROR=1, WARNING=2, INFO=3, VERBOSE=4)

        def __init__(self):
            pass

    module = ModuleType("tensorrt")
    module.Runtime, module.ILogger = Runtime, ILogger
    old = TensorRT(module=module, flavour="tensorrt", version="10.13.0.35", import_name="tensorrt")
    (tmp_path / "a.engine").write_bytes(b"\0" * 128)
    assert "TensorRT 10.13.0.35 cannot check an engine's header: only loading it will tell" in header_check(tmp_path / "a.engine", old)


def _qdq_conv_onnx(path):
    """A small explicitly quantized network as ModelOpt writes them: symmetric INT8 Q/DQ (zero point 0) on the
    activation and the weights of a convolution, FP32 elsewhere, dynamic batch."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    initializers = [
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array(np.array(0.05, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "x_zero"),
        numpy_helper.from_array((np.abs(weights).max(axis=(1, 2, 3)) / 127).astype(np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(8, np.int8), "w_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zero"], ["xd"]),
        helper.make_node("QuantizeLinear", ["w", "w_scale", "w_zero"], ["wq"], axis=0),
        helper.make_node("DequantizeLinear", ["wq", "w_scale", "w_zero"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8, 32, 32])], initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    return path


@needs_cpu_build
def test_int8_engines_are_built_from_qdq_models(tmp_path, onnx_copy):
    model = _qdq_conv_onnx(tmp_path / "qdq.onnx")
    record, built = build_engine(model, tmp_path / "qdq.engine", precision="int8", batch=(1, 2, 4))
    assert built and record.request["precision"] == "int8" and record.engine_bytes > 0
    assert check_engine_file(tmp_path / "qdq.engine") is not None
    with pytest.raises(WorkbookError, match="lite0.onnx has no QuantizeLinear nodes; .*python -m utils quantize") as info:
        build_engine(onnx_copy, tmp_path / "plain.engine", precision="int8")
    assert "\n" not in str(info.value) and not (tmp_path / "plain.engine").exists()


@needs_cpu_build
def test_the_workbooks_int8_engine_is_built_from_the_fp16_deployment_form():
    import onnx

    from utils import artifacts
    from utils.onnx.quantize import qdq_summary

    engine = artifacts.engine("efficientnet_lite0", "int8")
    record = check_engine_file(engine)
    assert record is not None and record.request["precision"] == "int8"
    assert record.onnx_file.endswith("_int8_fp16.onnx")
    deployed = onnx.load(record.onnx_file)
    assert qdq_summary(deployed).qdq_pairs > 50
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in deployed.graph.initializer)  # FP16 elsewhere
    fp32 = check_engine_file(artifacts.engine("efficientnet_lite0", "fp32"))
    assert record.engine_bytes < 0.8 * fp32.engine_bytes


@pytest.mark.skipif(trt is None, reason="needs TensorRT or TensorRT-RTX (pip install -r requirements.txt)")
def test_a_refused_optimization_profile_is_a_one_line_error():
    """`add_optimization_profile` returns the profile's index, or -1 when TensorRT finds it invalid; a build that went
    on would fail later with "Network has dynamic or shape inputs, but no optimization profile has been defined"."""
    from utils.tensorrt.logger import shared_logger

    builder = trt.module.Builder(shared_logger(trt).trt_logger)
    network = builder.create_network(trt.network_flags())
    network.add_input("input", trt.module.float32, (-1, 3, 8, 8))
    config = builder.create_builder_config()

    class RefusingConfig:
        def add_optimization_profile(self, profile):
            return -1

    assert engine_build._add_profile(trt, builder, network, config, (1, 2, 4))["input"]["max"] == [4, 3, 8, 8]
    with pytest.raises(WorkbookError, match=r"TensorRT refused the optimization profile .*'max': \[4, 3, 8, 8\].*MIN <= OPT <= MAX"):
        engine_build._add_profile(trt, builder, network, RefusingConfig(), (1, 2, 4))


# TensorRT 11.2's refusal, word for word from NVIDIA/TensorRT #4838 (TensorRT 11.2.1.2, an RTX 4090): a strongly typed
# FP16 grouped convolution has no kernel, and the build fails.
NO_FP16_KERNEL_MESSAGES = (
    "No low-precision conv kernel available for this strongly-typed Conv/ConvTranspose. Consider keeping "
    "Conv/ConvTranspose and Q/DQ ops in FP32 (e.g. via modelopt.onnx.autocast.convert_to_f16 with "
    "op_block_list=['Conv','ConvTranspose','QuantizeLinear','DequantizeLinear']). Failing node: {node}",
    "IBuilder::buildSerializedNetworkToStream: Error Code 10: Internal Error (Could not find any implementation for "
    "node {node}. In computeCosts at /_src/optimizer/common/tactic/optimizer.cpp:4211)",
)


def refusing_fp16_grouped_convolutions(real):
    """A double of TensorRT 11.2 over TensorRT-RTX's real module: its Builder logs #4838's messages for the first
    grouped convolution that reads FP16, and returns None, as 11.2 does; anything else is built for real."""

    class Builder:
        def __init__(self, logger):
            self._builder, self._logger = real.Builder(logger), logger

        def __getattr__(self, name):
            return getattr(self._builder, name)

        def build_serialized_network(self, network, config):
            for index in range(network.num_layers):
                layer = network.get_layer(index)
                if layer.type == real.LayerType.CONVOLUTION and layer.get_input(0).dtype == real.DataType.HALF:
                    layer.__class__ = real.IConvolutionLayer
                    if layer.num_groups > 1:
                        for message in NO_FP16_KERNEL_MESSAGES:
                            self._logger.log(real.ILogger.Severity.ERROR, message.format(node=layer.name))
                        return None
            return self._builder.build_serialized_network(network, config)

    class Module:
        def __getattr__(self, name):
            return Builder if name == "Builder" else getattr(real, name)

    return Module()


@needs_cpu_build
def test_an_fp16_build_tensorrt_refuses_is_made_again_with_the_named_nodes_in_fp32(tmp_path, onnx_copy, monkeypatch, capsys):
    from dataclasses import replace

    import onnx

    from utils.tensorrt import api

    real = load_tensorrt()
    double = replace(real, module=refusing_fp16_grouped_convolutions(real.module))
    monkeypatch.setattr(api, "load_tensorrt", lambda: double)
    record, built = build_engine(onnx_copy, tmp_path / "fp16.engine", precision="fp16", batch=(1, 2, 4))
    assert built and (tmp_path / "fp16.engine").stat().st_size == record.engine_bytes
    grouped = engine_build.grouped_convolutions(onnx.load(str(onnx_copy)))
    assert len(grouped) == 16  # EfficientNet-Lite0's depthwise convolutions
    first, second = grouped[:2]
    assert record.kept_in_fp32[:2] == [first, second] and sorted(record.kept_in_fp32) == sorted(grouped)
    said = capsys.readouterr().out
    assert f"has no FP16 kernel for {first} (a strongly typed grouped convolution, NVIDIA/TensorRT #4838): building " \
           f"again with 1 node kept in FP32 ({first})" in said
    assert f"has no FP16 kernel for {second}" in said and "building again with 16 nodes kept in FP32" in said
    from utils.onnx.precision import stored_recipe
    assert stored_recipe(record.built_onnx_file).endswith(f"kept in FP32: {', '.join(sorted(grouped))}")


def test_only_tensorrts_fp16_kernel_message_names_nodes_to_keep():
    logged = [message.format(node="node_223_Conv") for message in NO_FP16_KERNEL_MESSAGES]
    assert engine_build.nodes_without_fp16_kernel(logged) == ("node_223_Conv",)
    assert engine_build.nodes_without_fp16_kernel(logged[1:]) == ()  # "no implementation" alone has other causes
    assert engine_build.nodes_without_fp16_kernel(["Network has dynamic or shape inputs"]) == ()
