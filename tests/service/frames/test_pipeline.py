"""The pipeline without engines: which model a window goes to, the aligned input it gets, the
gain behind its scale, and the output brought back to the frames' depth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nightowl.service.frames.alignment import align_to_last
from nightowl.service.frames.exposure import Gain
from nightowl.service.frames.layout import CONFIDENCE_SCALE, MEMORY_SCALE, network_input
from nightowl.service.frames.pipeline import Pipeline
from tests.serving import sequence


@pytest.fixture(scope="module")
def window() -> np.ndarray:
    """Four dark generator frames (64x64, Eq. 6), oldest first."""
    return sequence(3, 0, (64, 64))


def test_a_full_window_is_aligned_onto_its_newest_frame(window):
    prepared = Pipeline().prepare(window)
    assert prepared.model == "multi" and prepared.frames_used == 4
    assert np.array_equal(prepared.input, network_input(align_to_last(window)[0]))
    assert prepared.gain == Gain(None, "unused")  # a model without a reference_gain


@pytest.mark.parametrize(("policy", "count", "model", "channels"), [
    ("auto", 1, "single", 3), ("auto", 2, "multi", 12), ("repeat", 1, "multi", 12),
    ("single", 3, "single", 3)])
def test_fewer_frames_follow_the_policy(window, policy, count, model, channels):
    prepared = Pipeline(few_frames=policy).prepare(window[-count:])
    assert (prepared.model, prepared.input.shape[0], prepared.frames_used) == (
        model, channels, 1 if model == "single" else count)


def test_a_repeated_window_puts_copies_of_its_oldest_frame_in_front(window):
    prepared = Pipeline(few_frames="repeat").prepare(window[-2:])
    planes = prepared.input.reshape(4, 3, *window.shape[1:3])
    assert np.array_equal(planes[0], planes[1]) and np.array_equal(planes[1], planes[2])


def test_a_told_gain_scales_an_exposure_normalised_input(window):
    told = Gain(20.0, "request")
    plain = Pipeline().prepare(window, told)
    scaled = Pipeline(multi_reference_gain=25.0).prepare(window, told)
    assert scaled.gain == told and plain.gain == Gain(20.0, "unused")
    assert np.allclose(scaled.input, plain.input * 20 / 25, atol=1e-6)


def test_windows_of_the_wrong_length_are_refused(window):
    with pytest.raises(ValueError, match="1 to 4 frames"):
        Pipeline().prepare(np.concatenate([window, window[:1]]))


def test_finish_rounds_and_clips_to_the_frames_depth():
    output = np.array([-0.5, 0.5, 2.0], np.float32).reshape(3, 1, 1)
    assert Pipeline.finish(output, np.uint8).ravel().tolist() == [0, 128, 255]
    assert Pipeline.finish(output, np.uint16).dtype == np.uint16


def test_a_memory_network_gets_the_recalled_memory_after_its_frames():
    from nightowl.service.frames.background import BackgroundMemory
    from nightowl.service.frames.memory_blend import FINE
    from nightowl.training.synth.degrade import eq6

    rng = np.random.default_rng(0)  # a static scene, each frame with its own noise
    scene = np.repeat(rng.integers(30, 220, (1, 64, 64, 3)).astype(np.uint8), 12, axis=0)
    frames = list(eq6(scene, 30.0, 2.0, rng))
    pipeline = Pipeline(multi_reference_gain=25.0, memory_input=True)
    told = Gain(30.0, "request")
    memory = BackgroundMemory()
    first = pipeline.prepare(np.stack(frames[:4]), told, None, True)
    assert first.input.shape == (16, 64, 64) and not first.input[12:].any()  # nothing yet
    prepared = first
    for t in range(4, 12):
        window = np.stack(frames[t - 3:t + 1])
        prepared = pipeline.remember(pipeline.prepare(window, told, None, True), memory,
                                     frames[t])
    recall = prepared.recall
    assert recall is not None and recall.confidence.any()
    planes = prepared.input[12:]
    scale = np.float32(30.0 / 25.0 / 255)  # 8-bit levels at the frame's gain, as its frames
    assert np.allclose(planes[:3], (recall.index + 0.5) / FINE * scale * MEMORY_SCALE)
    assert np.allclose(planes[3], recall.confidence * CONFIDENCE_SCALE)
    frames_only = replace(pipeline, memory_input=False).prepare(window, told)
    assert np.array_equal(prepared.input[:12], frames_only.input)
    output = np.full((3, 64, 64), 0.5, np.float32)  # its answer is not leant again
    assert pipeline.blend(output, prepared, memory.calibration) is output
