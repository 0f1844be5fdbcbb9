"""The engine inspector's JSON, as TensorRT 8.6/10.x and 11.x print it.

Fixtures follow NVIDIA's documented formats:
* 8.6/10.x: a layer from NVIDIA/TensorRT tools/experimental/trt-engine-explorer/examples/pytorch/resnet/A100/fp16/
  resnet.onnx.engine.graph.json (IEngineInspector output shipped with trex; unchanged at tags v8.6.1 and v10.16),
  with "Bindings" as a list of names.
* 11.x: "I/O Tensors" objects exactly as in NVIDIA's migration guide, "Migrating from TensorRT 10.x to 11.x:
  IEngineInspector" (docs.nvidia.com/deeplearning/tensorrt/11.0.0/api/migration/tensorrt-10x-to-11x-IEngineInspector.html).
  For a layer's tensors the guide says the Format/Datatype field was split; NVIDIA's TensorRT cookbook
  (trt-samples-for-hackathon-cn, cookbook/tensorrt_cookbook/utils_engine.py) reads the split form as separate
  "Format" and "Datatype" keys and the guide's I/O objects spell it "DataType": both spellings are accepted.
"""

import json

import pytest

from utils.errors import WorkbookError
from utils.tensorrt.inspect import engine_io_tensors, format_layer_table, layers_from_inspector_json

TRT10_LAYER = {
    "Name": "Conv_0 + Relu_1", "LayerType": "CaskConvolution",
    "Inputs": [{"Name": "input.1", "Location": "Device", "Dimensions": [32, 3, 224, 224],
                "Format/Datatype": "Channel major FP16 format where channel % 4 == 0"}],
    "Outputs": [{"Name": "191", "Location": "Device", "Dimensions": [32, 64, 112, 112],
                 "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}],
    "ParameterType": "Convolution",
    "TacticName": "trt_turing_cutlass_image_network_first_layer_hmma_fprop_f16f16f32_nhwc_nhwc_k64r7s7c4_stride2x2",
    "TacticValue": "0xe2222883a6602489",
}
TRT10_REFORMAT = {
    "Name": "Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1", "LayerType": "Reformat",
    "Inputs": [{"Name": "input.1", "Location": "Device", "Dimensions": [32, 3, 224, 224], "Format/Datatype": "Row major linear FP32"}],
    "Outputs": [{"Name": "Reformatted Input Tensor 0 to Conv_0 + Relu_1", "Location": "Device",
                 "Dimensions": [32, 3, 224, 224], "Format/Datatype": "Channel major FP16 format where channel % 4 == 0"}],
    "ParameterType": "Reformat", "Origin": "REFORMAT", "TacticValue": "0x0000000000000000",
}
TRT10_DOCUMENT = {"Layers": [TRT10_REFORMAT, TRT10_LAYER], "Bindings": ["input.1", "191"]}


def _split(tensor, data_type_key):
    split = {k: v for k, v in tensor.items() if k != "Format/Datatype"}
    split["Format"], split[data_type_key] = "Channel major format where channel % 8 == 0", "Half"
    return split


TRT11_DOCUMENT = {
    "Layers": [{**TRT10_LAYER, "Outputs": [_split(TRT10_LAYER["Outputs"][0], "Datatype")]}],
    "I/O Tensors": [
        {"Name": "input_0", "IOMode": "Input", "DataType": "Float", "Dimensions": [1, 3, 224, 224], "Location": "Device",
         "IsShapeInferenceIO": False,
         "ProfileInfo": [{"MinShape": [1, 3, 224, 224], "OptShape": [1, 3, 224, 224], "MaxShape": [1, 3, 224, 224],
                          "Format": "Row major linear FP32 format (kLINEAR)"}]},
        {"Name": "output_0", "IOMode": "Output", "DataType": "Float", "Dimensions": [1, 1000], "Location": "Device",
         "IsShapeInferenceIO": False},
    ],
}


def test_tensorrt_10_layers_and_bindings():
    text = json.dumps(TRT10_DOCUMENT)
    rows = layers_from_inspector_json(text)
    assert [r.layer_type for r in rows] == ["Reformat", "CaskConvolution"]
    assert rows[1].precision == "Channel major FP16 format where channel % 8 == 0"
    assert rows[1].tactic.startswith("trt_turing_cutlass_image_network_first_layer")
    assert rows[0].tactic == "0x0000000000000000"  # no TacticName: the value is shown
    assert engine_io_tensors(text) == ["input.1", "191"]


@pytest.mark.parametrize("data_type_key", ["Datatype", "DataType"])
def test_tensorrt_11_io_tensor_objects_and_split_format_fields(data_type_key):
    document = json.loads(json.dumps(TRT11_DOCUMENT))
    document["Layers"][0]["Outputs"] = [_split(TRT10_LAYER["Outputs"][0], data_type_key)]
    text = json.dumps(document)
    (row,) = layers_from_inspector_json(text)
    assert row.precision == "Channel major format where channel % 8 == 0 Half"
    assert engine_io_tensors(text) == ["input_0", "output_0"]


def test_layer_names_only_verbosity_and_the_table():
    rows = layers_from_inspector_json(json.dumps({"Layers": ["a", "b"], "Bindings": []}))
    assert [r.name for r in rows] == ["a", "b"] and rows[0].layer_type == ""
    table = format_layer_table(layers_from_inspector_json(json.dumps(TRT10_DOCUMENT)), limit=1)
    assert "Reformat" in table and "1 more layers" in table and "CaskConvolution" not in table


@pytest.mark.parametrize("text", ["Layer(CaskConvolution): conv", "[1, 2]"])
def test_not_an_inspector_document_is_a_one_line_error(text):
    with pytest.raises(WorkbookError, match="engine inspector") as info:
        layers_from_inspector_json(text)
    assert "\n" not in str(info.value)


def test_inspect_needs_the_engine_loaded_but_not_pycuda(monkeypatch):
    from utils import environment
    from utils.gpu import GpuInfo

    monkeypatch.setattr("utils.gpu.current_gpu", lambda: GpuInfo("NVIDIA L4", "8.9", 22.0))
    monkeypatch.setattr(environment, "pycuda_installed", lambda: False)
    from utils.tensorrt.api import tensorrt_or_none

    if tensorrt_or_none() is None:
        assert environment.engine_load_unavailable().startswith("no TensorRT is installed")
        return
    assert environment.engine_load_unavailable() is None  # the inspector can load it
    assert environment.engine_execution_unavailable() == "pycuda is not installed (pip install -r requirements-gpu.txt)"
