"""The engine inspector's JSON, as TensorRT 8.6/10.x and 11.x print it, and the engine report made from it.

Fixtures follow NVIDIA's documented formats:
* 8.6/10.x: a layer from NVIDIA/TensorRT tools/experimental/trt-engine-explorer/examples/pytorch/resnet/A100/fp16/
  resnet.onnx.engine.graph.json (IEngineInspector output shipped with trex; unchanged at tags v8.6.1 and v10.16),
  with "Bindings" as a list of names.
* 11.x: "I/O Tensors" objects exactly as in NVIDIA's migration guide, "Migrating from TensorRT 10.x to 11.x:
  IEngineInspector" (docs.nvidia.com/deeplearning/tensorrt/11.0.0/api/migration/tensorrt-10x-to-11x-IEngineInspector.html).
  For a layer's tensors the guide says the Format/Datatype field was split; NVIDIA's TensorRT cookbook
  (trt-samples-for-hackathon-cn, cookbook/tensorrt_cookbook/utils_engine.py) reads the split form as separate
  "Format" and "Datatype" keys and the guide's I/O objects spell it "DataType": both spellings are accepted.

The report's fixtures, in tests/fixtures/ (Apache-2.0, NVIDIA):
* cookbook_mnist_fp32_trtexec_10.16.json: byte for byte NVIDIA/trt-samples-for-hackathon-cn tag trt-10.16 (commit
  353a4d733c9b), cookbook/07-Tool/trtexec/model-trained-exportLayerInfo.log: what `trtexec --onnx=model-trained.onnx
  --profilingVerbosity=detailed --exportLayerInfo=...` (that folder's main.sh, step 04; TensorRT 10.16.1) wrote. An
  FP32 engine, with "Metadata" joined by \x1e (Cask layers) and \x1f (Myelin layers).
* cookbook_mnist_fp16_inspector_10.16.json: the same ONNX model built with the FP16 flag and DETAILED verbosity, two
  optimization profiles: cookbook/04-Feature/EngineInspector/log-main.py.log of the same tag, which prints
  `get_engine_information(LayerInformationFormat.ONELINE)`. The JSON form of that call is commented out in that
  folder's main.py, so the 26 layer lines were transcribed into the JSON form, same keys, order and values; the
  transcription reproduces model-trained-exportLayerInfo.log exactly from the ONELINE dump of that same trtexec
  run (cookbook/07-Tool/trtexec/result-04.log), apart from two tactics the two runs timed differently.
* trex_resnet18_a100_{fp32,fp16,qat}_excerpt.graph.json: the first 5, 7 and 7 layers (with "Bindings") of NVIDIA/TensorRT
  tag v10.16, tools/experimental/trt-engine-explorer/examples/pytorch/resnet/A100/{fp32/resnet.onnx.engine.graph.json,
  fp16/resnet.onnx.engine.graph.json, qat/resnet-qat.onnx.engine.graph.json} (trex's examples, added in commit 7a07608d
  for trex v0.1.1): engines from before TensorRT 8.6, without "Metadata", one of them INT8 with Q/DQ.
"""

import json
from pathlib import Path

import pytest

from utils.errors import WorkbookError
from utils.tensorrt.engine_report import (
    checked_layers,
    diff_reports,
    engine_report,
    format_diff,
    format_layers_not_in,
    format_precision_summary,
    format_report_table,
    layers_not_in,
    onnx_nodes_of,
    precision_figure,
    precision_of,
    save_precision_figure,
)
from utils.tensorrt.inspect import (
    engine_io_tensors,
    inspector_json_of,
    read_inspector_json,
)

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
    layers = engine_report(text).layers
    assert [layer.layer_type for layer in layers] == ["Reformat", "CaskConvolution"]
    assert layers[1].outputs[0].format == "Channel major FP16 format where channel % 8 == 0"
    assert layers[1].tactic.startswith("trt_turing_cutlass_image_network_first_layer")
    assert layers[0].tactic == "0x0000000000000000"  # no TacticName: the value is shown
    assert engine_io_tensors(text) == ["input.1", "191"]


@pytest.mark.parametrize("data_type_key", ["Datatype", "DataType"])
def test_tensorrt_11_io_tensor_objects_and_split_format_fields(data_type_key):
    document = json.loads(json.dumps(TRT11_DOCUMENT))
    document["Layers"][0]["Outputs"] = [_split(TRT10_LAYER["Outputs"][0], data_type_key)]
    text = json.dumps(document)
    (layer,) = engine_report(text).layers
    assert (layer.outputs[0].format, layer.outputs[0].precision) == ("Channel major format where channel % 8 == 0", "FP16")
    assert engine_io_tensors(text) == ["input_0", "output_0"]


def test_layer_names_only_verbosity_and_the_table():
    layers = engine_report(json.dumps({"Layers": ["a", "b"], "Bindings": []})).layers
    assert [layer.name for layer in layers] == ["a", "b"] and layers[0].layer_type == ""
    table = format_report_table(engine_report(json.dumps(TRT10_DOCUMENT)), limit=1)
    assert "Reformat" in table and "1 more layers" in table and "CaskConvolution" not in table


@pytest.mark.parametrize("text", ["Layer(CaskConvolution): conv", "[1, 2]"])
def test_not_an_inspector_document_is_a_one_line_error(text):
    with pytest.raises(WorkbookError, match="engine inspector") as info:
        engine_report(text)
    assert "\n" not in str(info.value)


def test_inspect_needs_the_engine_loaded_but_no_cuda_binding(monkeypatch):
    from utils import environment
    from utils.gpu import GpuInfo

    monkeypatch.setattr("utils.gpu.current_gpu", lambda: GpuInfo("NVIDIA L4", "8.9", 22.0))
    monkeypatch.setattr("utils.tensorrt.cuda_binding.installed_bindings", lambda: [])  # neither pycuda nor cuda-python
    from utils.tensorrt.api import tensorrt_or_none

    if tensorrt_or_none() is None:
        assert environment.engine_load_unavailable().startswith("no TensorRT is installed")
        return
    assert environment.engine_load_unavailable() is None  # the inspector can load it
    assert environment.engine_execution_unavailable().startswith("neither CUDA binding is installed: pip install -r requirements-gpu.txt (cuda-python")


# --- the engine report ---------------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
MNIST_FP32 = FIXTURES / "cookbook_mnist_fp32_trtexec_10.16.json"
MNIST_FP16 = FIXTURES / "cookbook_mnist_fp16_inspector_10.16.json"
RESNET = {precision: FIXTURES / f"trex_resnet18_a100_{precision}_excerpt.graph.json" for precision in ("fp32", "fp16", "qat")}


def _report(path, document=None):
    return engine_report(json.dumps(document) if document is not None else path.read_text(encoding="utf-8"), path.name)


def _layer(report, name):
    (layer,) = [layer for layer in report.layers if layer.name == name]
    return layer


def test_the_fused_onnx_nodes_come_from_metadata_with_either_separator():
    raw = json.loads(MNIST_FP32.read_text())["Layers"]
    assert "\x1e" in raw[0]["Metadata"] and "\x1f" in raw[4]["Metadata"] and raw[8]["Metadata"] == ""
    report = _report(MNIST_FP32)
    assert report.detailed and report.io_tensors == ("x", "y", "z")
    assert [layer.onnx_nodes for layer in report.layers] == [
        ("node_conv2d", "node_relu"), ("node_max_pool2d",), ("node_conv2d_1", "node_relu_1"), ("node_max_pool2d_1",),
        ("node_linear", "node_relu_2"), ("node_linear_1",), ("node_linear_1", "node_softmax"),
        ("node_softmax", "node_argmax"),
        (),  # the INT32 -> INT64 cast TensorRT added for the output z: empty Metadata, no ONNX node
    ]
    assert not any(layer.nodes_from_name for layer in report.layers)
    argmax = report.layers[7]
    assert (argmax.precision, [t.precision for t in argmax.outputs]) == ("FP32", ["FP32", "INT32"])
    assert argmax.tactic == "__myl_DivMulMaxr_0xeed0d44e25801453f72eeb03693cc519"


@pytest.mark.parametrize("metadata, nodes", [
    ("[ONNX Layer: /conv1/Conv]\x1f[ONNX Layer: /relu/Relu]", ("/conv1/Conv", "/relu/Relu")),
    ("[ONNX Layer: a]\x1e[ONNX Layer: b]\x1e[ONNX Layer: a]", ("a", "b")),
    # onnx-tensorrt's processMetadata: "[ONNX Layer: <name> | property ...]", e.g. the local function stack
    ("[ONNX Layer: /blocks.0/attn/MatMul | /blocks.0/attn (Attention)]", ("/blocks.0/attn/MatMul",)),
    ("set by the network API", ("set by the network API",)),
    ("", ()),
])
def test_onnx_nodes_of_metadata(metadata, nodes):
    assert onnx_nodes_of(metadata) == nodes


@pytest.mark.parametrize("text, precision", [
    # the 8.x/10.x format texts trex knows (trex/activations.py, _regionFormatDict), and the short data types
    ("Row major linear FP32", "FP32"), ("Channel major FP16 format where channel % 8 == 0", "FP16"),
    ("Thirty-two wide channel vectorized row major Int8 format", "INT8"), ("Row major linear BFloat16 format", "BF16"),
    ("Row major linear FP8 format", "FP8"), ("Channel major INT8 format where channel % 16 == 0", "INT8"),
    ("Row major linear Int64 format", "INT64"), ("Row major linear BOOL", "BOOL"), ("Half", "FP16"), ("Float", "FP32"),
    ("Int32", "INT32"), ("Row major linear FP32 format (kLINEAR)", "FP32"), ("Unknown format", ""), ("", ""),
])
def test_precision_of_format_texts(text, precision):
    assert precision_of(text) == precision


def test_layers_without_metadata_take_their_onnx_nodes_from_the_name():
    fp16 = _report(RESNET["fp16"])
    assert [(layer.kind, layer.onnx_nodes) for layer in fp16.layers] == [
        ("reformat", ()), ("compute", ("Conv_0", "Relu_1")), ("compute", ("MaxPool_2",)), ("compute", ("Conv_3", "Relu_4")),
        ("reformat", ()), ("reformat", ()),  # "Reformatting CopyNode"s of LayerType NoOp are reformats too
        ("compute", ("Conv_5", "Add_6", "Relu_7")),
    ]
    assert fp16.layers[4].layer_type == "NoOp" and all(layer.nodes_from_name for layer in fp16.layers if layer.onnx_nodes)
    assert "ONNX nodes read from the layer names" in format_precision_summary(fp16)


def test_an_fp32_layer_on_a_tf32_kernel_is_shown_as_tf32():
    fp32 = _report(RESNET["fp32"])
    conv_0, conv_3 = _layer(fp32, "Conv_0 + Relu_1"), _layer(fp32, "Conv_3 + Relu_4")
    assert "tf32" not in conv_0.tactic.lower() and conv_0.precision == "FP32"
    assert "_tf32" in conv_3.tactic and conv_3.precision == "TF32" and conv_3.output_precision == "FP32"


def test_int8_layers_and_qdq_reformats():
    qat = _report(RESNET["qat"])
    quantize = _layer(qat, "QuantizeLinear_2")
    assert (quantize.layer_type, quantize.kind, quantize.onnx_nodes) == ("Reformat", "q/dq", ("QuantizeLinear_2",))
    residual = qat.layers[6]  # INT8 convolution, FP16 residual input and output
    assert [t.precision for t in residual.inputs] == ["INT8", "FP16"] and residual.output_precision == "FP16"
    assert residual.precision == "INT8"
    assert [layer.name for layer in layers_not_in(qat, "int8")] == ["MaxPool_12"]  # its input is linear FP32


def test_a_layer_reading_the_fp32_input_of_an_fp16_model_computes_in_fp16():
    """A layer's precision is the narrowest it reads or writes. Real JSON (trex's FP16 ResNet, TensorRT 8.x): the
    first layer reformats the FP32 network input into FP16, and a Q/DQ layer quantizes FP32 into INT8; reading only the
    first input, as trex does, calls both FP32."""
    fp16, qat = _report(RESNET["fp16"]), _report(RESNET["qat"])
    reformat = fp16.layers[0]
    assert (reformat.inputs[0].name, reformat.inputs[0].precision, reformat.output_precision) == ("input.1", "FP32", "FP16")
    assert reformat.precision == "FP16"
    assert _layer(qat, "QuantizeLinear_2").precision == "INT8"


# Constructed, not printed by TensorRT: no public inspector JSON has a Myelin region that starts at the FP32 input of an
# FP16 model, the shape AutoCast's models (FP32 inputs, a Cast, FP16 layers) give. Its fields are those of the real
# Myelin layers above (10.16 short data types); the second layer is the pattern of NVIDIA/TensorRT #4397's log
# (TensorRT 10.10): a region reading only integer tensors and writing FP16.
FOREIGN_NODES = {"Layers": [
    {"Name": "{ForeignNode[/Cast.../blocks/blocks.0/blocks.0.0/conv_dw/Conv]}", "LayerType": "Myelin",
     "Inputs": [{"Name": "input", "Format/Datatype": "Float"}],
     "Outputs": [{"Name": "/blocks/blocks.0/blocks.0.0/bn1/act/Clip_output_0", "Format/Datatype": "Half"}],
     "Metadata": "[ONNX Layer: /Cast]\x1f[ONNX Layer: /blocks/blocks.0/blocks.0.0/conv_dw/Conv]", "TacticValue": "0x0"},
    {"Name": "{ForeignNode[/embeddings/Gather.../embeddings/Add]}", "LayerType": "Myelin",
     "Inputs": [{"Name": "ids", "Format/Datatype": "Int32"}, {"Name": "mask", "Format/Datatype": "Bool"}],
     "Outputs": [{"Name": "/embeddings/Add_output_0", "Format/Datatype": "Half"}],
     "Metadata": "[ONNX Layer: /embeddings/Gather]", "TacticValue": "0x0"},
], "Bindings": ["input", "ids", "mask"]}


def test_myelin_regions_are_judged_by_what_they_compute():
    report = _report(Path("foreign_nodes.json"), FOREIGN_NODES)
    assert [layer.precision for layer in report.layers] == ["FP16", "FP16"]
    assert len(checked_layers(report)) == 2 and layers_not_in(report, "FP16") == []


def test_the_fp16_check_names_the_layers_that_stayed_fp32():
    fp16 = _report(MNIST_FP16)
    missed = layers_not_in(fp16, "FP16")
    # TensorRT kept the 1-channel first convolution and its pooling in FP32 (f32 kernels), in both profiles
    assert [layer.name for layer in missed] == ["node_conv2d + node_relu", "node_max_pool2d",
                                                "node_conv2d + node_relu [profile 1]", "node_max_pool2d [profile 1]"]
    assert {layer.precision for layer in missed} == {"FP32"}
    checked = {layer.name for layer in checked_layers(fp16)}
    assert "__myl_CastReshCast_myl5_6" not in checked  # INT32 -> INT64 index cast: no FP16 to run in
    assert not {"Reformatting CopyNode for Input Tensor 0 to node_conv2d_1 + node_relu_1", "__mye260_0_myl5_0"} & checked
    assert "none ran in FP16" not in format_layers_not_in(fp16, "fp16")


def test_the_fp16_check_catches_an_engine_built_in_fp32():
    fp32 = _report(MNIST_FP32)
    assert layers_not_in(fp32, "fp16") == checked_layers(fp32) and len(checked_layers(fp32)) == 8
    text = format_layers_not_in(fp32, "fp16")
    assert text.startswith("8 of 8 compute layers of cookbook_mnist_fp32_trtexec_10.16.json did not run in FP16")
    assert "none ran in FP16" in text and "strongly typed" in text
    assert layers_not_in(_report(RESNET["fp16"]), "FP16") == []


def test_diff_matches_layers_by_onnx_node_not_by_name():
    fp32, fp16 = _report(MNIST_FP32), _report(MNIST_FP16)
    assert _layer(fp32, "node_linear_myl4_0").onnx_nodes == _layer(fp16, "node_linear_myl5_2").onnx_nodes  # renamed
    diff = diff_reports(fp32, fp16)
    assert {c.node: (c.first, c.second) for c in diff.changed} == {node: (("FP32",), ("FP16",)) for node in (
        "node_conv2d_1", "node_relu_1", "node_max_pool2d_1", "node_linear", "node_relu_2", "node_linear_1",
        "node_softmax", "node_argmax")}
    assert diff.unchanged == ("node_conv2d", "node_relu", "node_max_pool2d")  # FP32 in the FP16 engine too
    assert (diff.only_in_first, diff.only_in_second) == ((), ("node_view",))  # the reshape Myelin kept as a kernel
    assert diff.summary() == ("11 ONNX nodes in both engines: 8 changed precision (FP32 -> FP16: 8), 3 unchanged; "
                              "0 only in cookbook_mnist_fp32_trtexec_10.16.json, "
                              "1 only in cookbook_mnist_fp16_inspector_10.16.json")
    same = diff_reports(fp16, fp16)
    assert same.changed == () and same.only_in_first == same.only_in_second == ()
    text = format_diff(diff)
    assert "only in cookbook_mnist_fp16_inspector_10.16.json (1): node_view" in text
    assert text.count("FP32 -> FP16") == 9  # the eight nodes and the summary


def test_diff_of_engines_without_metadata():
    diff = diff_reports(_report(RESNET["fp32"]), _report(RESNET["fp16"]))
    assert {c.node: c.second for c in diff.changed} == {node: ("FP16",) for node in (
        "Conv_0", "Relu_1", "MaxPool_2", "Conv_3", "Relu_4", "Conv_5", "Add_6", "Relu_7")}
    assert {c.node: c.first for c in diff.changed}["Conv_3"] == ("TF32",)
    assert diff.unchanged == diff.only_in_first == diff.only_in_second == ()


TRT11_DATA_TYPES = {"FP32": "Float", "Float": "Float", "FP16": "Half", "Half": "Half", "Int32": "Int32", "Int64": "Int64"}


def _as_tensorrt_11(document, data_type_key):
    """A 10.x document in the 11.x form: "I/O Tensors" objects as the migration guide shows them, and each tensor's
    Format/Datatype split into its layout (where the text has one) and its data type."""
    def split(tensor):
        words = tensor.pop("Format/Datatype").split(" ")
        (type_word,) = [word for word in words if word in TRT11_DATA_TYPES]
        tensor[data_type_key] = TRT11_DATA_TYPES[type_word]
        if len(words) > 1:
            tensor["Format"] = " ".join(word for word in words if word != type_word)
        return tensor

    for layer in document["Layers"]:
        layer["Inputs"] = [split(t) for t in layer["Inputs"]]
        layer["Outputs"] = [split(t) for t in layer["Outputs"]]
    document["I/O Tensors"] = [{"Name": name, "IOMode": "Input" if name == "x" else "Output", "DataType": "Float",
                                "Location": "Device", "IsShapeInferenceIO": False} for name in document.pop("Bindings")]
    return document


@pytest.mark.parametrize("data_type_key", ["Datatype", "DataType"])
def test_the_tensorrt_11_form_gives_the_same_report(data_type_key):
    document = _as_tensorrt_11(json.loads(MNIST_FP16.read_text()), data_type_key)
    assert "Format/Datatype" not in json.dumps(document) and "Bindings" not in document
    old, new = _report(MNIST_FP16), _report(MNIST_FP16, document)

    def seen(layer):
        return (layer.name, layer.kind, layer.precision, layer.onnx_nodes, [t.precision for t in layer.inputs + layer.outputs])

    assert [seen(layer) for layer in new.layers] == [seen(layer) for layer in old.layers]
    assert new.io_tensors == ("x", "y", "z")
    assert new.layers[3].outputs[0].format == "Channel major format where channel % 8 == 0"
    assert diff_reports(_report(MNIST_FP32), new) == diff_reports(_report(MNIST_FP32), old)
    assert [layer.index for layer in layers_not_in(new, "fp16")] == [layer.index for layer in layers_not_in(old, "fp16")]


def test_a_names_only_engine_gets_a_note_and_no_precision_answers():
    report = engine_report(json.dumps({"Layers": ["Conv_0 + Relu_1", "MaxPool_2"], "Bindings": ["input", "logits"]}), "names")
    assert not report.detailed and "only layer names" in format_precision_summary(report)
    for attempt in (lambda: diff_reports(report, _report(MNIST_FP32)), lambda: layers_not_in(report, "fp16")):
        with pytest.raises(WorkbookError, match="ProfilingVerbosity.DETAILED") as info:
            attempt()
        assert "\n" not in str(info.value)


def test_the_report_table_shows_reformats_precisions_and_fused_nodes():
    table = format_report_table(_report(MNIST_FP16))
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert len(rows) == 26
    assert "reformat" in rows["2"] and rows["2"].rstrip().endswith("-") and "FP32" in rows["2"] and "FP16" in rows["2"]
    assert rows["7"].rstrip().endswith("node_linear, node_relu_2") and " FP16 " in rows["7"]
    assert "FP16/INT32" in rows["10"]  # the argmax kernel writes the values (FP16) and the indices (INT32)


def test_the_precision_picture(tmp_path):
    report = _report(MNIST_FP16)
    figure = precision_figure(report)
    (ax,) = figure.axes
    assert [label.get_text() for label in ax.get_yticklabels()] == ["FP32", "FP16", "INT32", "none"]
    assert sum(len(collection.get_offsets()) for collection in ax.collections) == len(report.layers)
    path = save_precision_figure(report, tmp_path / "precision.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    fp32_rows = [label.get_text() for label in precision_figure(_report(MNIST_FP32)).axes[0].get_yticklabels()]
    assert fp32_rows == ["FP32", "INT32"]
    with pytest.raises(WorkbookError, match=r"\.png"):
        save_precision_figure(report, tmp_path / "precision.svg")


@pytest.mark.parametrize("content, message", [
    (b'{"Layers": [', "is not JSON"),
    (b'{"layers": []}', 'no "Layers" list'),
    (b"Layer(CaskConvolution): conv", "neither an engine nor the engine inspector's JSON"),
    (b"", "neither an engine nor the engine inspector's JSON"),
])
def test_files_that_are_not_inspector_json_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "layers.json"
    path.write_bytes(content)
    with pytest.raises(WorkbookError, match=message) as info:
        inspector_json_of(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_reading_inspector_json_files(tmp_path):
    assert inspector_json_of(MNIST_FP32) == read_inspector_json(MNIST_FP32) == MNIST_FP32.read_text(encoding="utf-8")
    for path, message in ((tmp_path / "missing.json", "does not exist"), (tmp_path, "is a directory")):
        with pytest.raises(WorkbookError, match=message):
            read_inspector_json(path)
    binary = tmp_path / "model.engine"
    binary.write_bytes(b"ftrt\x00\x00\xff\xfe")
    with pytest.raises(WorkbookError, match="not text"):
        read_inspector_json(binary)
