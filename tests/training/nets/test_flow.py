"""The flow network: its output layout and convention, its independence from exposure, and
the end-point error it is trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nightowl.service.frames.alignment import warp
from nightowl.training.fit.examples import CropConfig, FlowExamples, crop_origin, crop_rng
from nightowl.training.nets.flow import FlowConfig, FlowNet, end_point_error
from nightowl.training.synth.samples import SampleConfig, make_sample

SMALL = FlowConfig(width=4, coarse_radius=2, fine_radius=1)


def test_output_is_one_backward_flow_per_older_frame_at_any_size():
    net = FlowNet(SMALL).eval()
    for height, width in ((32, 48), (37, 51)):
        flows = net(torch.rand(2, 12, height, width))
        assert flows.shape == (2, 3, height, width, 2)


def test_flow_does_not_depend_on_the_frames_exposure():
    """Frame T's level is normalised inside: a frame twice as bright gets the same flow, so
    a wrong gain estimate cannot move the alignment."""
    net = FlowNet(SMALL).eval()
    frames = torch.rand(1, 12, 32, 32) * 0.05
    with torch.no_grad():
        assert torch.allclose(net(frames), net(frames * 2), atol=1e-5)


def test_end_point_error_is_euclidean_and_weighted():
    truth = torch.zeros(1, 1, 2, 2, 2)
    flow = torch.zeros(1, 1, 2, 2, 2)
    flow[0, 0, 0, 0] = torch.tensor([3.0, 4.0])  # 5 px off at one of four pixels
    assert float(end_point_error(flow, truth)) == pytest.approx(5 / 4, abs=1e-3)
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert float(end_point_error(flow, truth, weight)) == pytest.approx(5.0, abs=1e-3)


@pytest.fixture(scope="module")
def sample():
    return make_sample(SampleConfig(), 3, 0)


def test_flow_examples_hold_the_exact_flow_even_mirrored(sample):
    """Each crop's flow warps its clean frames onto clean frame T where a vehicle's opaque
    body is (the flow's meaning), mirrored crops included (dx negated)."""
    crop = CropConfig(size=96, per_sample=4)
    examples = FlowExamples(crop=crop).many(sample)
    assert len(examples) == 4
    seq = sample.sequence
    mirrored = 0
    for k, example in enumerate(examples):
        assert example["inputs"].shape == (12, 96, 96)
        assert example["flow"].shape == (3, 96, 96, 2)
        assert example["moving"].shape == (1, 96, 96)
        x, y = crop_origin(sample, crop, crop_rng(sample, k))
        window = sample.low[:, y:y + 96, x:x + 96]
        frames = np.rint(example["inputs"].reshape(4, 3, 96, 96).transpose(0, 2, 3, 1) * 255)
        flipped = not np.array_equal(window, frames)
        assert np.array_equal(window[:, :, ::-1] if flipped else window, frames)
        mirrored += flipped
        truth = seq.flows[:-1, y:y + 96, x:x + 96]
        flow = example["flow"]
        if flipped:
            flow = flow[:, :, ::-1] * np.float32([-1, 1])
        np.testing.assert_allclose(flow, truth, atol=1e-6)
    assert 0 < mirrored < 4 or len(examples) < 4  # both kinds appear among these crops
    # and the flow means what alignment means: it warps frame 0 onto frame T
    opaque = seq.opaque[-1] & (np.linalg.norm(seq.flows[0], axis=-1) > 1)
    aligned = warp(seq.clean[0], seq.flows[0])
    error = np.abs(aligned.astype(np.int16) - seq.clean[-1].astype(np.int16)).mean(axis=2)
    assert opaque.any() and np.median(error[opaque]) < 6
