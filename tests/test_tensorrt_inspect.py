import json

import pytest

from utils.errors import WorkbookError
from utils.tensorrt.inspect import engine_io_tensors, format_layer_table, layers_from_inspector_json

# The shape of IEngineInspector's JSON at ProfilingVerbosity.DETAILED, as TensorRT 10 prints it ("Bindings") and
# as 11.x prints it ("I/O Tensors").
LAYER = {
    "Name": "/conv_stem/Conv + /bn1/act/Clip", "LayerType": "CaskConvolution",
    "Inputs": [{"Name": "input", "Format/Datatype": "Row major linear FP32"}],
    "Outputs": [{"Name": "/bn1/act/Clip_output_0", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}],
    "TacticName": "sm80_xmma_fprop_implicit_gemm_f16f16", "TacticValue": "0x1234",
}


@pytest.mark.parametrize("io_key", ["Bindings", "I/O Tensors"])
def test_detailed_layers_and_io_tensors_in_both_formats(io_key):
    text = json.dumps({"Layers": [LAYER, {**LAYER, "Name": "reformat", "LayerType": "Reformat", "TacticName": ""}],
                       io_key: ["input", "logits"]})
    rows = layers_from_inspector_json(text)
    assert [r.layer_type for r in rows] == ["CaskConvolution", "Reformat"]
    assert rows[0].precision == "Channel major FP16 format where channel % 8 == 0"
    assert rows[0].tactic == "sm80_xmma_fprop_implicit_gemm_f16f16"
    assert engine_io_tensors(text) == ["input", "logits"]
    table = format_layer_table(rows, limit=1)
    assert "CaskConvolution" in table and "1 more layers" in table


def test_layer_names_only_verbosity():
    rows = layers_from_inspector_json(json.dumps({"Layers": ["a", "b"], "Bindings": []}))
    assert [r.name for r in rows] == ["a", "b"] and rows[0].layer_type == ""


def test_not_json_is_a_one_line_error():
    with pytest.raises(WorkbookError, match="did not return JSON"):
        layers_from_inspector_json("Layer(CaskConvolution): conv")
