"""The alignment's warp as an ONNX graph, and the enhancer with that warp (and, optionally, the
flow network) in front of it.

``align_to_last`` (service/frames/alignment.py) estimates flow with DIS and warps with cv2.remap on
the CPU. The warp is the part an ONNX graph can hold (GridSample, bilinear, border = replicate,
pixel centres on the corners), so that on a GPU host the warp and the enhancement run as one
engine call and only the flows cross from the CPU; ``align_then_enhance`` puts the flow network
in front as well, so that nothing but the frames crosses. This module builds those graphs with
the onnx helpers (train extra); ``bench/bench_alignment.py --onnx-warp`` measures the warp
against cv2.remap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper

OPSET = 18  # the shipped models' opset (GridSample-16)
IR_VERSION = 10  # the shipped models' IR version: the onnx package writes its newest (14 for
#   onnx 1.23), which the images' onnxruntime (1.31, IR 13 at most) refuses to load


def warp_graph(frames: int = 4, round_to_8bit: bool = True) -> onnx.ModelProto:
    """frames (B, 3T, H, W) float in [0, 1], oldest first, and flows (B, T-1, H, W, 2) float32
    (backward flow in px, as align_to_last returns flows[:T-1]) -> aligned (B, 3T, H, W): frame
    t sampled at x + flows[t](x), the last frame as it is. With ``round_to_8bit`` the warped
    frames are rounded to 1/255 as cv2.remap on uint8 frames is."""
    nodes, inits = [], []

    # every internal name starts with "warp/", so the graph merges into any enhancer
    def const(name: str, value) -> str:
        name = f"warp/{name}"
        inits.append(helper.make_tensor(name, TensorProto.FLOAT if isinstance(value, float)
                                        else TensorProto.INT64, [], [value]))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        output = output if output == "aligned" else f"warp/{output}"
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def ints(name: str, values: list[int]) -> str:
        name = f"warp/{name}"
        inits.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
        return name

    zero, one, two_f, one_f = const("zero", 0), const("one", 1), const("two", 2.0), \
        const("one_f", 1.0)
    shape = node("Shape", ["frames"], "shape")
    size = {}
    for axis, label in ((2, "h"), (3, "w")):
        count = node("Gather", [shape, const(f"axis{axis}", axis)], f"{label}_count", axis=0)
        line = node("Cast", [node("Range", [zero, count, one], f"{label}_range")],
                    f"{label}_line", to=TensorProto.FLOAT)
        last = node("Sub", [node("Cast", [count], f"{label}_float", to=TensorProto.FLOAT),
                            one_f], f"{label}_last")
        scale = node("Div", [two_f, node("Max", [last, one_f], f"{label}_span")],
                     f"{label}_scale")
        size[label] = (line, scale)
    nodes.append(helper.make_node("Split", ["flows"], ["warp/flow_x5", "warp/flow_y5"], axis=4,
                                  num_outputs=2, name="warp/split_flow"))
    last_axis, minus1 = ints("last_axis", [4]), ints("minus1", [-1])
    fx = node("Squeeze", ["warp/flow_x5", last_axis], "flow_x")
    fy = node("Squeeze", ["warp/flow_y5", last_axis], "flow_y")
    y_column = node("Unsqueeze", [size["h"][0], minus1], "h_column")
    # normalised sample positions: -1 .. 1 over pixel centres 0 .. n-1 (align_corners=1)
    gx = node("Sub", [node("Mul", [node("Add", [fx, size["w"][0]], "px"), size["w"][1]],
                           "gx_scaled"), one_f], "gx")
    gy = node("Sub", [node("Mul", [node("Add", [fy, y_column], "py"), size["h"][1]],
                           "gy_scaled"), one_f], "gy")
    grid = node("Concat", [node("Unsqueeze", [gx, minus1], "gx1"),
                           node("Unsqueeze", [gy, minus1], "gy1")], "grid", axis=-1)
    parts = []
    for t in range(frames):
        frame = node("Slice", ["frames", ints(f"start{t}", [3 * t]), ints(f"end{t}", [3 * t + 3]),
                               ints(f"axis1_{t}", [1])], f"frame{t}")
        if t == frames - 1:
            parts.append(frame)
            continue
        grid_t = node("Gather", [grid, const(f"t{t}", t)], f"grid{t}", axis=1)
        warped = node("GridSample", [frame, grid_t], f"warped{t}", mode="bilinear",
                      padding_mode="border", align_corners=1)
        if round_to_8bit:
            k = const(f"k{t}", 255.0)
            level = node("Round", [node("Mul", [warped, k], f"x255_{t}")], f"round{t}")
            warped = node("Div", [level, k], f"warped8_{t}")
        parts.append(warped)
    node("Concat", parts, "aligned", axis=1)
    graph = helper.make_graph(
        nodes, "warp_to_last",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT,
                                       ["batch", 3 * frames, "height", "width"]),
         helper.make_tensor_value_info("flows", TensorProto.FLOAT,
                                       ["batch", frames - 1, "height", "width", 2])],
        [helper.make_tensor_value_info("aligned", TensorProto.FLOAT,
                                       ["batch", 3 * frames, "height", "width"])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    return model


def warp_then_enhance(enhancer: Path, frames: int = 4) -> onnx.ModelProto:
    """The MIM enhancer with :func:`warp_graph` in front: inputs ``frames`` (unaligned) and
    ``flows``, output ``enhanced``; one engine call for align (warp) + enhance."""
    model = onnx.load(str(enhancer))
    warp = warp_graph(frames)
    warp.ir_version = model.ir_version
    # the enhancer's input "frames" is fed by "aligned"; the warp's "frames" takes its place
    fused = compose.merge_models(warp, model, io_map=[("aligned", "frames")])
    onnx.checker.check_model(fused, full_check=True)
    return fused


def align_then_enhance(flow: Path, enhancer: Path, frames: int = 4) -> onnx.ModelProto:
    """The flow network, the warp and the MIM enhancer as one graph: input ``frames``
    (unaligned, scaled as the enhancer takes them; the flow network normalises their level
    itself), output ``enhanced``. On a GPU the whole align-then-enhance is then one engine
    call, the frames never back in host memory between the steps."""
    fused = warp_then_enhance(enhancer, frames)
    net = compose.add_prefix(onnx.load(str(flow)), "flow/", rename_inputs=False,
                             rename_outputs=False)
    # the frames go on to the warp too: an identity output carries them across the merge
    net.graph.node.append(helper.make_node("Identity", ["frames"], ["flow/frames_out"],
                                           name="flow/frames_out"))
    net.graph.output.append(helper.make_tensor_value_info(
        "flow/frames_out", TensorProto.FLOAT, ["batch", 3 * frames, "height", "width"]))
    net.ir_version = fused.ir_version
    model = compose.merge_models(net, fused, io_map=[("flows", "flows"),
                                                     ("flow/frames_out", "frames")])
    onnx.checker.check_model(model, full_check=True)
    return model


def flows_input(flows: np.ndarray) -> np.ndarray:
    """align_to_last's flows (T, H, W, 2) -> the graph's ``flows`` (1, T-1, H, W, 2)."""
    return np.ascontiguousarray(flows[None, :-1], np.float32)
