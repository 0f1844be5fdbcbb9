import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from utils.calibration import calibration_inputs
from utils.errors import WorkbookError
from utils.images import SAMPLE_IMAGES, load_batch
from utils.models import get_model_spec
from utils.onnx.quantize import qdq_summary, quantize_int8
from utils.runtimes.onnxruntime import create_session

# 32 of the workbook's calibration samples: enough to keep all four photos' classes, fast enough for a unit test
# (the full 256 take ~17 s with max and ~30 s with entropy here).
CALIBRATION_COUNT = 32


@pytest.fixture(scope="module")
def calibration():
    return calibration_inputs("efficientnet_lite0", count=CALIBRATION_COUNT)


@pytest.fixture(scope="module")
def four_photos(sample_dir):
    return load_batch([sample_dir / f"{name}.jpg" for name in SAMPLE_IMAGES],
                      get_model_spec("efficientnet_lite0").preprocessing)


@pytest.fixture(scope="module", params=["max", "entropy"])
def quantized(request, lite0_onnx, calibration, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"int8-{request.param}")
    # Every node ModelOpt would quantize: what the default leaves out is tested on its own, below.
    return request.param, quantize_int8(lite0_onnx, folder / "lite0_int8.onnx", calibration, method=request.param,
                                        exclude_nodes=())


def logits(path, batch):
    return create_session(path).run(None, {"input": batch})[0]


def test_output_has_symmetric_qdq_pairs(quantized, lite0_onnx):
    _, path = quantized
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    summary = qdq_summary(model)
    assert summary.qdq_pairs >= 50 and summary.nonzero_zero_points == 0
    assert 40 <= summary.quantized_nodes < summary.total_nodes  # convolutions quantized, the rest not
    initializers = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    zero_points = [initializers[n.input[2]] for n in model.graph.node
                   if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2]
    assert zero_points and all(zp.dtype == np.int8 and not zp.any() for zp in zero_points)
    assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in onnx.load(str(lite0_onnx)).graph.node)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no scratch or temporary files left


def test_int8_keeps_the_four_photos_classes_on_onnxruntime_cpu(quantized, lite0_onnx, four_photos):
    method, path = quantized
    int8, fp32 = logits(path, four_photos), logits(lite0_onnx, four_photos)
    assert int8.dtype == np.float32 and int8.shape == fp32.shape
    assert list(int8.argmax(1)) == list(fp32.argmax(1)), method
    difference = float(np.abs(int8 - fp32).max())
    assert 1e-3 < difference < 3.0, (method, difference)  # INT8 moves the logits, but not far


def test_an_already_quantized_model_is_refused(quantized, calibration, tmp_path):
    _, path = quantized
    with pytest.raises(WorkbookError, match="is already quantized"):
        quantize_int8(path, tmp_path / "twice.onnx", calibration)
    assert not (tmp_path / "twice.onnx").exists()


@pytest.mark.parametrize(("options", "message"), [
    ({"method": "percentile"}, "unknown calibration method 'percentile'; choose one of: max, entropy"),
    ({"high_precision": "bf16"}, "unknown high precision 'bf16'; choose one of: fp32, fp16"),
])
def test_unknown_options_are_refused(lite0_onnx, calibration, tmp_path, options, message):
    with pytest.raises(WorkbookError, match=message):
        quantize_int8(lite0_onnx, tmp_path / "q.onnx", calibration[:2], **options)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("data", "message"), [
    (np.zeros((4, 3, 128, 128), np.float32), r"shape \[4, 3, 128, 128\]; .* needs \[N, 3, 224, 224\]"),
    (np.zeros((3, 224, 224), np.float32), r"shape \[3, 224, 224\]"),
    (np.zeros((0, 3, 224, 224), np.float32), r"shape \[0, 3, 224, 224\]"),
    (np.zeros((2, 3, 224, 224), np.uint8), "finite floating-point values"),
    ({"images": np.zeros((2, 3, 224, 224), np.float32)}, r"calibration data names \['images'\], but .* has inputs \['input'\]"),
])
def test_calibration_that_does_not_fit_is_refused(lite0_onnx, tmp_path, data, message):
    with pytest.raises(WorkbookError, match=message):
        quantize_int8(lite0_onnx, tmp_path / "q.onnx", data)
    assert not list(tmp_path.iterdir())


def test_modelopt_failures_are_one_quiet_line_and_leave_nothing(lite0_onnx, calibration, tmp_path, monkeypatch, capfd):
    import modelopt.onnx.quantization as modelopt_quantization
    from modelopt.onnx.logging_config import logger

    def failing_quantize(**kwargs):
        print("chatter on stdout")
        logger.error("an error ModelOpt logs")
        os.write(2, b"native library noise\n")
        raise RuntimeError("calibration exploded\nwith a traceback-like second line")

    monkeypatch.setattr(modelopt_quantization, "quantize", failing_quantize)
    with pytest.raises(WorkbookError) as caught:
        quantize_int8(lite0_onnx, tmp_path / "q.onnx", calibration[:2])
    assert str(caught.value).endswith("failed (RuntimeError: calibration exploded)")
    assert capfd.readouterr() == ("", "")
    assert not list(tmp_path.iterdir())


def test_fp16_high_precision_is_the_deployment_form(lite0_onnx, calibration, tmp_path):
    path = quantize_int8(lite0_onnx, tmp_path / "int8_fp16.onnx", calibration[:8], high_precision="fp16", exclude_nodes=())
    model = onnx.load(str(path))
    summary = qdq_summary(model)
    assert summary.qdq_pairs >= 50 and summary.nonzero_zero_points == 0
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)
    inputs = {value.name: value.type.tensor_type.elem_type for value in model.graph.input}
    assert inputs == {"input": onnx.TensorProto.FLOAT}  # callers still pass FP32


DW0 = "/blocks/blocks.0/blocks.0.0/conv_dw/Conv"


def test_by_default_the_node_that_dominates_the_error_stays_unquantized(lite0_onnx, calibration, tmp_path):
    from utils.onnx.qdq import quantized_nodes

    default = quantized_nodes(onnx.load(str(quantize_int8(lite0_onnx, tmp_path / "default.onnx", calibration))))
    everything = quantized_nodes(onnx.load(str(quantize_int8(lite0_onnx, tmp_path / "all.onnx", calibration,
                                                             exclude_nodes=()))))
    assert DW0 not in default and everything == default | {DW0}  # measured by int8_profile (test_onnx_sensitivity)


def test_an_unknown_node_to_exclude_is_refused(lite0_onnx, calibration, tmp_path):
    with pytest.raises(WorkbookError, match="has no node named 'conv_dw'; give node names as the ONNX file has them"):
        quantize_int8(lite0_onnx, tmp_path / "q.onnx", calibration[:2], exclude_nodes=["conv_dw"])
    assert not list(tmp_path.iterdir())
