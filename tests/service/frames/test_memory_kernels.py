"""The memory's compiled passes against what they compute, written out in numpy: the recall's
levels, the moving pixels, the block means, the blend; and their per-thread planes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nightowl.service.frames import memory_kernels as kernels
from nightowl.service.frames.background import BackgroundMemory, MemoryConfig
from nightowl.service.frames.memory_blend import (
    FINE,
    FINE_TOP,
    LevelCalibration,
    Recall,
    blend,
)
from nightowl.training.synth.degrade import eq6
from nightowl.training.synth.long_scenes import LongConfig, render_long
from nightowl.training.synth.scenes import SceneConfig

S = 20.0


@pytest.fixture(scope="module")
def street():
    """Traffic over a street (vehicles as the moving pixels), dark under Eq. 6."""
    seq = render_long(LongConfig(frames=60, scene=SceneConfig(width=96, height=80)),
                      np.random.default_rng([41, 0]))
    return eq6(seq.clean, S, 2.0, np.random.default_rng(1)), seq.masks


def remembered(frames, masks, config: MemoryConfig | None = None) -> BackgroundMemory:
    memory = BackgroundMemory(config or MemoryConfig())
    for frame, moving in zip(frames, masks, strict=True):
        memory.update(frame, moving)
    return memory


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_recall_holds_the_memory_it_was_taken_from(street, dtype):
    frames, masks = street
    if dtype == np.uint16:
        frames = frames.astype(np.uint16) * 257
    memory = remembered(frames, masks)
    recall = memory.recall(S)
    assert recall is not None and recall.confidence.any()
    unit = np.iinfo(dtype).max / 255
    expected = Recall.of(memory.mean, unit, memory.confidence, S)
    gap = np.abs(recall.index.astype(np.int32) - expected.index)
    assert gap.max() <= 1  # (float rounding at a truncation) and nearly always none
    assert (gap > 0).mean() < 1e-3
    assert np.array_equal(recall.confidence, expected.confidence)
    assert recall.index.max() <= FINE_TOP
    before = recall.index.copy()
    memory.update(frames[0], masks[0])  # a later frame does not change a recall taken
    assert np.array_equal(recall.index, before)


def test_moving_pixels_is_any_flow_longer_than_the_threshold():
    flows = np.random.default_rng(2).normal(0, 0.2, (3, 40, 50, 2)).astype(np.float32)
    squared = np.float32(0.25 * 0.25)
    expected = np.any(flows[..., 0] ** 2 + flows[..., 1] ** 2 > squared, axis=0)
    got = kernels.moving_pixels(flows, squared)
    assert 0.05 < expected.mean() < 0.95
    assert np.array_equal(got, expected)


def test_block_grey_is_the_block_mean_of_the_channel_mean():
    image = np.random.default_rng(3).integers(0, 255, (37, 45, 3)).astype(np.uint8)
    got = kernels.block_grey(image, 3)
    grey = image[:32, :40].astype(np.float64).mean(axis=2)
    expected = grey.reshape(4, 8, 5, 8).mean(axis=(1, 3))
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_the_blend_is_the_confidence_weighted_mix_towards_the_calibrated_memory():
    rng = np.random.default_rng(4)
    height, width = 24, 32
    index = rng.integers(2 * FINE, 8 * FINE, (3, height, width)).astype(np.uint16)
    confidence = rng.uniform(0, 0.99, (height, width)).astype(np.float32)
    confidence[:, :4] = 0
    output = rng.uniform(0, 0.9, (3, height, width)).astype(np.float32)
    calibration = LevelCalibration()
    calibration.counts[:, 8:32] = 100.0  # levels 2 to 8 learnt, each 0.25 levels dark
    calibration.sums[:, 8:32] = 100.0 * 0.25
    recall = Recall(index, confidence, S)
    tables = calibration.targets(S / 255)
    got = blend(output, recall, calibration)
    target = np.stack([tables[c][index[c]] for c in range(3)])
    known = ~np.isnan(target).any(axis=0)
    weight = confidence * known
    expected = output + (np.nan_to_num(target) - output) * weight
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.array_equal(got[:, :, :4], output[:, :, :4])  # not trusted: the output exactly
    # and the calibration took this frame's offsets, on every 4th row and 2nd column it trusts
    taught = np.zeros((height, width), bool)
    taught[::4, ::2] = confidence[::4, ::2] > 0.5
    learnt = calibration.counts.sum(axis=1) - 0.98 * 100.0 * 24
    np.testing.assert_allclose(learnt, taught.sum(), rtol=1e-9)
    level = (index[:, taught] + 0.5) / FINE
    offsets = output[:, taught] * 255 / S - level
    np.testing.assert_allclose(calibration.sums.sum(axis=1) - 0.98 * 100.0 * 24 * 0.25,
                               offsets.sum(axis=1), rtol=1e-4)


@pytest.mark.parametrize("config", [MemoryConfig(margin=0), MemoryConfig(crowd=1.0)])
def test_without_margin_or_crowd_the_memory_still_learns_and_trusts(street, config):
    frames, masks = street
    memory = remembered(frames, masks, config)
    default = remembered(frames, masks)
    assert memory.confidence.any()
    assert memory.confidence.mean() >= default.confidence.mean()  # fewer rules: more trust


def test_cameras_on_several_threads_answer_as_on_one(street):
    frames, masks = street
    small = [f[:64, :80].copy() for f in frames]
    small_masks = [m[:64, :80].copy() for m in masks]
    alone = [remembered(frames, masks), remembered(small, small_masks)]
    together: list[BackgroundMemory | None] = [None, None]

    def serve(slot: int, fs, ms) -> None:
        together[slot] = remembered(fs, ms)

    threads = [threading.Thread(target=serve, args=(0, frames, masks)),
               threading.Thread(target=serve, args=(1, small, small_masks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for one, other in zip(alone, together, strict=True):
        assert np.array_equal(one.mean, other.mean)
        assert np.array_equal(one.confidence, other.confidence)


def test_cameras_interleaved_on_one_thread_answer_as_alone(street):
    frames, masks = street
    flipped = [f[:, ::-1].copy() for f in frames]
    flipped_masks = [m[:, ::-1].copy() for m in masks]
    alone = [remembered(frames, masks), remembered(flipped, flipped_masks)]
    first, second = BackgroundMemory(), BackgroundMemory()  # (the same size: the same planes)
    for t in range(len(frames)):
        first.update(frames[t], masks[t])
        second.update(flipped[t], flipped_masks[t])
    for one, other in zip(alone, (first, second), strict=True):
        assert np.array_equal(one.mean, other.mean)
        assert np.array_equal(one.confidence, other.confidence)
