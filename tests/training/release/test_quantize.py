"""int8 quantisation options: checked on entry, and described as the manifest records them."""

from __future__ import annotations

import pytest

from nightowl.training.release.quantize import Int8Options


def test_int8_options_are_checked():
    with pytest.raises(ValueError, match="calibration must be one of minmax"):
        Int8Options(calibration="kl")
    with pytest.raises(ValueError, match="format must be one of qdq, qoperator"):
        Int8Options(format="int8")
    with pytest.raises(ValueError, match=r"percentile must be in \(50, 100\]"):
        Int8Options(percentile=50)


def test_int8_options_record_names_format_weights_activations_and_calibration():
    assert Int8Options().record() == {"format": "QDQ", "weights": "int8, per channel",
                                      "activations": "uint8, per tensor",
                                      "calibration": "percentile 99.99"}
    assert Int8Options("qoperator", "minmax", per_channel=False).record() == {
        "format": "QOperator", "weights": "int8, per tensor",
        "activations": "uint8, per tensor", "calibration": "minmax"}


def _two_convs(path) -> None:
    """A 3 -> 4 -> 3 channel graph of two 3x3 convolutions, named first and last."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)
               for name, shape in (("w1", (4, 3, 3, 3)), ("w2", (3, 4, 3, 3)))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h"], name="first", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["h", "w2"], ["y"], name="last", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(
        nodes, "two_convs", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                           [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 16, 16])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_keep_float_leaves_the_named_nodes_unquantised(tmp_path):
    import numpy as np
    import onnx

    from nightowl.training.release.quantize import quantize_int8, run_cpu

    source = tmp_path / "two.onnx"
    _two_convs(source)
    calibration = np.random.default_rng(1).random((4, 3, 16, 16), dtype=np.float32)

    def weight_producers(path):
        graph = onnx.load(str(path)).graph
        producer = {out: node.op_type for node in graph.node for out in node.output}
        return {node.name: producer.get(node.input[1], "initializer")
                for node in graph.node if node.op_type == "Conv"}

    every, mixed = tmp_path / "every.onnx", tmp_path / "mixed.onnx"
    quantize_int8(source, every, calibration)
    quantize_int8(source, mixed, calibration, keep_float=["last"])
    assert weight_producers(every) == {"first": "DequantizeLinear", "last": "DequantizeLinear"}
    assert weight_producers(mixed) == {"first": "DequantizeLinear", "last": "initializer"}
    expected = run_cpu(source, calibration)
    for path in (every, mixed):  # both still compute the graph
        assert np.abs(run_cpu(path, calibration) - expected).max() < 0.1 * np.abs(expected).max()
