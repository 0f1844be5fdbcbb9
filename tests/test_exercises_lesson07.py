"""The self-checks of lesson 07: the right answer passes, and each kind of mistake gets its own message."""

from __future__ import annotations

import math
import re

import pytest

from utils.exercises import NotYetRight, check

# Shaped like the INT8 outlier network's table: conv1 has the largest absolute error (its outlier channel is huge)
# and an infinite dB drop (its input is exact), conv2 adds the noise, relu2 inherits it, fc has the lowest SQNR
# although it adds almost nothing.
TABLE = [
    {"layer": "conv1", "input_sqnr_db": math.inf, "output_sqnr_db": 41.6, "max_abs_error": 36.7},
    {"layer": "relu1", "input_sqnr_db": 41.6, "output_sqnr_db": 42.2, "max_abs_error": 36.7},
    {"layer": "conv2", "input_sqnr_db": 42.2, "output_sqnr_db": 3.3, "max_abs_error": 3.18},
    {"layer": "relu2", "input_sqnr_db": 3.3, "output_sqnr_db": 3.0, "max_abs_error": 3.18},
    {"layer": "fc", "input_sqnr_db": 3.0, "output_sqnr_db": 2.9, "max_abs_error": 0.3},
]


def added_noise(row):
    after, before = 10 ** (-row["output_sqnr_db"] / 10), 10 ** (-row["input_sqnr_db"] / 10)
    return after - before


def test_07_1_the_layer_that_adds_the_most_noise_passes(capsys):
    best = max(TABLE, key=added_noise)["layer"]
    check("07.1", best, table=TABLE)
    assert "conv2" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "message"), [
    ("conv1", "largest absolute error"),
    ("fc", "lowest SQNR"),
    ("relu2", "another layer adds more"),
    ("conv9", "not a layer of the table"),
    (2, "one layer's name"),
])
def test_07_1_each_mistake_gets_its_message(answer, message):
    with pytest.raises(NotYetRight, match=message):
        check("07.1", answer, table=TABLE)


def test_07_1_the_largest_absolute_error_from_an_exact_input_also_explains_the_infinite_drop():
    with pytest.raises(NotYetRight, match="infinite for any layer"):
        check("07.1", "conv1", table=TABLE)


def test_07_1_an_infinite_drop_without_the_largest_error_gets_its_own_message():
    table = [dict(TABLE[0], max_abs_error=0.1), *TABLE[1:]]
    with pytest.raises(NotYetRight, match=r"drop from an exact input \(inf dB\) is infinite"):
        check("07.1", "conv1", table=table)


def test_07_1_a_large_finite_drop_that_adds_little_noise_is_explained_as_logarithmic():
    table = [{"layer": "early", "input_sqnr_db": 80.0, "output_sqnr_db": 40.0, "max_abs_error": 0.1},
             {"layer": "late", "input_sqnr_db": 20.0, "output_sqnr_db": 15.0, "max_abs_error": 0.2},
             {"layer": "head", "input_sqnr_db": 15.0, "output_sqnr_db": 14.9, "max_abs_error": 0.3}]
    check("07.1", "late", table=table)
    with pytest.raises(NotYetRight, match="dB are logarithmic"):
        check("07.1", "early", table=table)


def profile():
    """Shares 0.5, 0.2, 0.1, 0.1, 0.1 of a model at 15 dB: keeping the first k leaves 1 - (sum of their shares)."""
    from utils.onnx.sensitivity import NodeSensitivity, SensitivityProfile

    rows = [NodeSensitivity(f"n{i}", "Conv", sqnr, share)
            for i, (sqnr, share) in enumerate(((18.0, 0.5), (22.0, 0.2), (25.0, 0.1), (25.5, 0.1), (26.0, 0.1)))]
    return SensitivityProfile(rows, 15.0, 8, 7)


def test_07_2_the_fewest_nodes_the_prediction_needs_passes(capsys):
    # 15 dB - 10 log10(left): 0 kept 15.0, 1 kept 18.0, 2 kept 20.2, 3 kept 22.0
    check("07.2", 2, profile=profile(), target_db=20.0)
    assert "2 nodes: predicted 20.2 dB" in capsys.readouterr().out
    check("07.2", 0, profile=profile(), target_db=15.0)


@pytest.mark.parametrize(("answer", "message"), [
    (3, "3 nodes meet 20 dB, but so do 2"),
    (1, "with 1 nodes kept the prediction is 18.0 dB, still below 20 dB"),
    (5, "with 5 nodes kept the profile predicts inf dB"),
    ("2", "give a number of nodes, an int, not a str"),
    (2.0, "give a number of nodes, an int, not a float"),
])
def test_07_2_each_mistake_gets_its_message(answer, message):
    with pytest.raises(NotYetRight, match=message):
        check("07.2", answer, profile=profile(), target_db=20.0)


def test_07_2_counting_the_nodes_below_the_target_alone_is_explained():
    with pytest.raises(NotYetRight, match="each cost the logits more than 25.2 dB when quantized alone"):
        check("07.2", 3, profile=profile(), target_db=25.2)  # needs 5 (predicted inf); 3 nodes alone are below 25.2


PEAKS = {"big.out": 2.1e5, "scaled": 210.0, "relu5": 3.2, "wide": 600.0, "edge.rounds": 65510.0,
         "edge.uint16": 65530.0, "edge.negative": -7.0e4}


def fp16_infinite(value):
    import numpy as np

    with np.errstate(over="ignore"):
        return bool(np.isinf(np.float16(value)))


def test_07_3_the_values_that_become_inf_in_fp16_pass(capsys):
    answer = [name for name, value in PEAKS.items() if fp16_infinite(value)]
    assert len(answer) == 3  # the fixture holds both sides of every edge below
    check("07.3", answer, peaks=PEAKS)
    assert "3 of 7 overflow" in capsys.readouterr().out


@pytest.mark.parametrize(("answer", "message"), [
    (["big.out", "edge.uint16"], "about magnitude"),
    (["big.out", "edge.uint16", "edge.negative", "edge.rounds"], "round down to 65504"),
    (["big.out", "edge.uint16", "edge.negative", "wide"], "AutoCast's safety margin"),
    (["big.out", "edge.negative"], "largest uint16"),
    (["big.out"], "these overflow too"),
    (["big.out", "nothing"], "not a name"),
    ("big.out", "a list"),
])
def test_07_3_each_mistake_gets_its_message(answer, message):
    with pytest.raises(NotYetRight, match=message):
        check("07.3", answer, peaks=PEAKS)


# 07.4: one tensor of the FP16 overflow network stored in FP16, edited with onnx-graphsurgeon as the lesson does
# (the added Cast nodes unnamed, as gs.Node leaves them).
def _edit(net_path, tensor, *, back=True, rename_back=None):
    import numpy as np
    import onnx
    import onnx_graphsurgeon as gs

    graph = gs.import_onnx(onnx.load(str(net_path)))
    writer = next(node for node in graph.nodes if node.outputs[0].name == tensor)
    stored = writer.outputs[0]
    computed = gs.Variable(f"{tensor}__fp32", dtype=np.float32)
    half = gs.Variable(f"{tensor}__fp16", dtype=np.float16)
    writer.outputs = [computed]
    graph.nodes.append(gs.Node("Cast", inputs=[computed], outputs=[half], attrs={"to": onnx.TensorProto.FLOAT16}))
    if back:
        target = gs.Variable(rename_back, dtype=np.float32) if rename_back else stored
        graph.nodes.append(gs.Node("Cast", inputs=[half], outputs=[target], attrs={"to": onnx.TensorProto.FLOAT}))
    graph.toposort()
    return graph


@pytest.fixture(scope="module")
def overflow(tmp_path_factory):
    import onnx

    from utils.onnx import fragile

    path = fragile.fp16_overflow_net(tmp_path_factory.mktemp("07_4") / "net.onnx")
    return path, onnx.load(str(path)), fragile.samples(4)


def test_07_4_the_scaled_tensor_fits_fp16(overflow, capsys):
    import onnx_graphsurgeon as gs

    path, net, samples = overflow
    check("07.4", gs.export_onnx(_edit(path, "scaled")), net=net, tensor="scaled", inputs=samples)
    assert "the logits stay finite" in capsys.readouterr().out


def test_07_4_the_big_tensor_overflows(overflow, capsys):
    import onnx_graphsurgeon as gs

    path, net, samples = overflow
    check("07.4", gs.export_onnx(_edit(path, "big.out")), net=net, tensor="big.out", inputs=samples)
    assert "overflows" in capsys.readouterr().out


def test_07_4_mistakes(overflow):
    import onnx_graphsurgeon as gs

    path, net, samples = overflow
    context = dict(net=net, tensor="scaled", inputs=samples)
    for answer, message in (
        (_edit(path, "scaled"), "gs.export_onnx(graph)"),
        ("model", "an onnx.ModelProto"),
        (gs.export_onnx(_edit(path, "scaled", back=False)), "1 Cast to FLOAT16 and 0 back to FLOAT"),
        (gs.export_onnx(_edit(path, "big.out")), "the casts end in 'big.out'"),
    ):
        with pytest.raises(NotYetRight, match=re.escape(message)):
            check("07.4", answer, **context)
