"""The alignment's warp as an ONNX graph matches cv2.remap, alone and fused with the enhancer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nightowl.service.frames.alignment import align_to_last, warp
from nightowl.training.release.warp_graph import (
    align_then_enhance,
    flows_input,
    warp_graph,
    warp_then_enhance,
)
from nightowl.training.synth.samples import SampleConfig, make_sample
from tests.flow_graphs import SHIFTS, shift_flow_graph

MODELS = Path(__file__).resolve().parents[3] / "models"


def session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def chw(frames: np.ndarray) -> np.ndarray:
    count, height, width, _ = frames.shape
    return (frames.transpose(0, 3, 1, 2).reshape(1, 3 * count, height, width) / 255.0
            ).astype(np.float32)


@pytest.fixture(scope="module")
def aligned_sample():
    sample = make_sample(SampleConfig(), 11, 3)
    aligned, flows = align_to_last(sample.low)
    assert np.abs(flows).max() > 1  # something moves, or the test proves nothing
    return sample, aligned, flows


def test_onnx_warp_matches_cv2_remap_on_generator_flows(aligned_sample):
    sample, aligned, flows = aligned_sample
    (out,) = session(warp_graph()).run(None, {"frames": chw(sample.low),
                                              "flows": flows_input(flows)})
    gap = np.abs(out - chw(aligned)) * 255
    assert gap.max() <= 1.0 + 1e-4  # cv2.remap's 1/32 px weights can flip a rounding
    assert (gap > 0.5).mean() < 1e-3


def test_onnx_warp_shifts_by_whole_pixels_and_replicates_the_border():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 20, 30, 3), dtype=np.uint8)
    flows = np.zeros((4, 20, 30, 2), np.float32)
    flows[0, ..., 0] = 3.0  # frame 0 sampled 3 px to the right
    flows[1, ..., 1] = -2.0  # frame 1 sampled 2 px up
    (out,) = session(warp_graph(round_to_8bit=False)).run(
        None, {"frames": chw(frames), "flows": flows_input(flows)})
    expected = chw(np.stack([warp(frames[t], flows[t]) for t in range(4)]))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out[0, 0:3, :, -1], out[0, 0:3, :, -4], atol=1e-6)


def test_warp_then_enhance_is_one_call_equal_to_align_then_enhance(aligned_sample):
    sample, aligned, flows = aligned_sample
    fused = session(warp_then_enhance(MODELS / "mim_l1_cr.onnx"))
    assert [i.name for i in fused.get_inputs()] == ["frames", "flows"]
    (together,) = fused.run(None, {"frames": chw(sample.low), "flows": flows_input(flows)})
    enhancer = ort.InferenceSession(str(MODELS / "mim_l1_cr.onnx"),
                                    providers=["CPUExecutionProvider"])
    (apart,) = enhancer.run(None, {"frames": chw(aligned)})
    difference = np.abs(together - apart)
    assert difference.max() < 2e-2 and difference.mean() < 1e-4


def test_align_then_enhance_is_one_call_equal_to_flow_warp_enhance(tmp_path):
    """Flow network + warp + enhancer in one graph gives what the three steps give apart."""
    flow = tmp_path / "flow.onnx"
    flow.write_bytes(shift_flow_graph().SerializeToString())
    fused = session(align_then_enhance(flow, MODELS / "mim_l1_cr.onnx"))
    assert [i.name for i in fused.get_inputs()] == ["frames"]
    assert [o.name for o in fused.get_outputs()] == ["enhanced"]
    low = make_sample(SampleConfig(), 11, 4).low
    (together,) = fused.run(None, {"frames": chw(low)})
    flows = np.zeros((4, *low.shape[1:3], 2), np.float32)
    flows[:3] = SHIFTS[:, None, None]
    (aligned,) = session(warp_graph()).run(None, {"frames": chw(low),
                                                  "flows": flows_input(flows)})
    enhancer = ort.InferenceSession(str(MODELS / "mim_l1_cr.onnx"),
                                    providers=["CPUExecutionProvider"])
    (apart,) = enhancer.run(None, {"frames": aligned})
    assert together.shape == (1, 3, *low.shape[1:3])
    np.testing.assert_allclose(together, apart, atol=1e-5)
    # and the shift really reached the warp: with no flow the answer differs
    (unwarped,) = enhancer.run(None, {"frames": chw(low)})
    assert np.abs(together - unwarped).mean() > 1e-3
