import numpy as np
import onnx

from utils.compare.stats import max_abs_difference
from utils.onnx.export import io_summary
from utils.runtimes.onnxruntime import create_session


def onnxruntime_logits(onnx_path, batch):
    return create_session(onnx_path).run(None, {"input": batch})[0]


def test_fp16_model_keeps_fp32_inputs_and_outputs(lite0_fp16_onnx, lite0_onnx, sample_batch):
    model = onnx.load(str(lite0_fp16_onnx))
    summary = io_summary(model)
    assert summary["inputs"][0][1] == "FLOAT" and summary["outputs"][0][1] == "FLOAT"
    weight_types = {init.data_type for init in model.graph.initializer if len(init.dims) == 4}
    assert weight_types == {onnx.TensorProto.FLOAT16}
    assert lite0_fp16_onnx.stat().st_size < 0.6 * lite0_onnx.stat().st_size
    half = onnxruntime_logits(lite0_fp16_onnx, sample_batch)
    full = onnxruntime_logits(lite0_onnx, sample_batch)
    assert half.dtype == np.float32
    assert np.array_equal(half.argmax(1), full.argmax(1))
    assert 1e-4 < max_abs_difference(half, full) < 0.1  # FP16 drifts, but only a little
