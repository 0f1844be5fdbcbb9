import numpy as np
import onnx

from tests.onnx_io import io_summary
from utils.compare.stats import max_abs_difference
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


def overflowing_model(path):
    """input [N, 1, 4, 4] -> x * 1e5 -> Relu -> x * 1e-5: the middle values overflow FP16 (max 65504) for |x| > 0.66."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["input", "big"], ["scaled"], name="scale_up"),
         helper.make_node("Relu", ["scaled"], ["relu"], name="relu"),
         helper.make_node("Mul", ["relu", "small"], ["logits"], name="scale_down")],
        "overflow",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 4, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, 4, 4])],
        [helper.make_tensor("big", TensorProto.FLOAT, [], [1e5]), helper.make_tensor("small", TensorProto.FLOAT, [], [1e-5])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def fp16_node_outputs(path):
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    types = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.value_info, *model.graph.output]}
    return {node.name: types.get(node.output[0]) == onnx.TensorProto.FLOAT16 for node in model.graph.node
            if node.name in ("scale_up", "relu", "scale_down")}


def test_autocast_keeps_overflowing_nodes_in_fp32(tmp_path, capfd):
    from utils.onnx.precision import convert_to_fp16

    source = overflowing_model(tmp_path / "overflow.onnx")
    half = convert_to_fp16(source, tmp_path / "overflow_fp16.onnx")
    assert capfd.readouterr() == ("", "")  # ModelOpt's log stays out of the learner's console
    assert fp16_node_outputs(half) == {"scale_up": False, "relu": False, "scale_down": False}  # values above 512
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(2, 1, 4, 4)
    result = onnxruntime_logits(half, x)
    assert np.all(np.isfinite(result)) and np.allclose(result, np.maximum(x, 0), atol=1e-3)
    # With small reference inputs nothing overflows, so the same nodes become FP16: the inputs given are the ones used.
    small = convert_to_fp16(source, tmp_path / "small_fp16.onnx", reference_inputs=x * 1e-3)
    assert fp16_node_outputs(small)["relu"]


def test_a_missing_source_is_one_line(tmp_path):
    import pytest

    from utils.errors import WorkbookError
    from utils.onnx.precision import convert_to_fp16

    with pytest.raises(WorkbookError, match="does not exist"):
        convert_to_fp16(tmp_path / "missing.onnx", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
