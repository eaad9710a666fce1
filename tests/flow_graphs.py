"""A hand-made flow model for the tests: a small ONNX graph that answers a known flow, so that
what the service and the release do with a flow network's answer is tested without a trained
one."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from nightowl.training.release.warp_graph import IR_VERSION, OPSET

SHIFTS = np.array([[3.0, -1.0], [2.0, 0.5], [1.0, 0.0]], np.float32)  # (dx, dy) of frames 0-2


def shift_flow_graph() -> onnx.ModelProto:
    """frames (B, 12, H, W) -> flows (B, 3, H, W, 2) equal to SHIFTS[t] everywhere."""
    nodes = [
        helper.make_node("Slice", ["frames", "start", "end", "axis"], ["six"]),
        helper.make_node("Mul", ["six", "zero"], ["zeros"]),  # (B, 6, H, W) of 0, B/H/W kept
        helper.make_node("Shape", ["frames"], ["shape"]),
        helper.make_node("Slice", ["shape", "start", "one", "axis0"], ["batch"]),
        helper.make_node("Slice", ["shape", "two", "four", "axis0"], ["size"]),
        helper.make_node("Concat", ["batch", "three_two", "size"], ["five_d"], axis=0),
        helper.make_node("Reshape", ["zeros", "five_d"], ["grid"]),  # (B, 3, 2, H, W)
        helper.make_node("Add", ["grid", "shifts"], ["shifted"]),
        helper.make_node("Transpose", ["shifted"], ["flows"], perm=[0, 1, 3, 4, 2]),
    ]
    ints = {"start": [0], "end": [6], "axis": [1], "axis0": [0], "one": [1], "two": [2],
            "four": [4], "three_two": [3, 2]}
    inits = [helper.make_tensor(k, TensorProto.INT64, [len(v)], v) for k, v in ints.items()]
    inits += [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
              helper.make_tensor("shifts", TensorProto.FLOAT, [1, 3, 2, 1, 1],
                                 SHIFTS.ravel().tolist())]
    graph = helper.make_graph(
        nodes, "shift_flow",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT,
                                       ["batch", 12, "height", "width"])],
        [helper.make_tensor_value_info("flows", TensorProto.FLOAT,
                                       ["batch", 3, "height", "width", 2])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    return model
