"""The simulated background memory: the static scene under the sample's own camera, as clean
as N frames make it, trusted as the server trusts it."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.training.synth.degrade import NoiseConfig, NoiseParams, degrade, draw_noise
from nightowl.training.synth.memory_view import (
    MemoryViewConfig,
    expected_levels,
    lossy,
    memory_view,
)

SHAPE = (64, 96)


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A textured static scene (H, W, 3) uint8 and moving masks (4, H, W): a vehicle in the
    middle of frame T only."""
    rng = np.random.default_rng(0)
    background = rng.integers(20, 230, (*SHAPE, 3)).astype(np.uint8)
    masks = np.zeros((4, *SHAPE), bool)
    masks[-1, 20:40, 30:60] = True
    return background, masks


EQ6 = NoiseParams(model="eq6", s=25.0, sigma=2.0)
ALWAYS = MemoryViewConfig(absent=0.0, stale=0.0, wrong=0.0, drift=0.0)


def test_a_camera_without_memory_gets_zeros():
    background, masks = scene()
    memory, confidence = memory_view(background, masks, EQ6, MemoryViewConfig(absent=1.0),
                                     np.random.default_rng(1))
    assert memory.shape == (*SHAPE, 3) and not memory.any() and not confidence.any()


def test_an_old_memory_is_the_mean_of_many_dark_frames_of_the_scene():
    background, masks = scene()
    config = MemoryViewConfig(absent=0.0, stale=0.0, wrong=0.0, drift=0.0, frames=(256, 256))
    memory, confidence = memory_view(background, masks, EQ6, config, np.random.default_rng(2))
    many = degrade(np.repeat(background[None], 256, axis=0), EQ6,
                   np.random.default_rng(3)).astype(np.float32).mean(axis=0)
    four = degrade(np.repeat(background[None], 4, axis=0), EQ6,
                   np.random.default_rng(4)).astype(np.float32).mean(axis=0)
    error, error_of_four = np.abs(memory - many).mean(), np.abs(four - many).mean()
    assert error < 0.25 * error_of_four  # as clean as 256 frames, not as noisy as 4
    assert abs(float((memory - many).mean())) < 0.05  # no bias
    # trusted as the server trusts N frames: N / (N + 4), none on and near what moves
    assert confidence[0, 0] == pytest.approx(256 / 260)
    assert not confidence[16:44, 26:64].any() and confidence[50:, :].all()


def test_the_expected_levels_keep_the_clipping_of_noise_at_zero():
    levels = expected_levels(EQ6, 4, np.random.default_rng(5))
    assert levels.shape == (256, 3)
    assert 0.6 < levels[0].mean() < 1.1  # E[max(0, round(N(0, 2)))] is about 0.85, not 0
    assert levels[250].mean() == pytest.approx(250 / 25, abs=0.15)


@pytest.mark.parametrize("model", ["extended", "sensor"])
def test_every_camera_model_gives_a_memory_as_bright_as_its_frames(model):
    background, masks = scene()
    params = draw_noise(NoiseConfig(model, s_values=(25,)), np.random.default_rng(6))
    memory, _ = memory_view(background, masks, params, ALWAYS, np.random.default_rng(7))
    frames = degrade(np.repeat(background[None], 4, axis=0), params,
                     np.random.default_rng(8)).astype(np.float32)
    assert memory.mean() == pytest.approx(frames.mean(), rel=0.05)


def test_under_a_codec_the_memory_keeps_what_the_codec_does_to_the_mean():
    # JPEG at quality 40 loses texture the same way in every frame: the mean of real frames
    # keeps that loss, and so must the view (the mean of its own real frames), where each
    # level's expected value (the ramp) would be the scene without it
    background, masks = scene()
    params = NoiseParams(model="extended", s=25.0, electrons_per_level=4.0, read_noise=1.5,
                         jpeg_quality=40)
    assert lossy(params) and not lossy(EQ6)
    config = MemoryViewConfig(absent=0.0, stale=0.0, wrong=0.0, drift=0.0, frames=(128, 128))
    memory, confidence = memory_view(background, masks, params, config,
                                     np.random.default_rng(10))
    many = degrade(np.repeat(background[None], 128, axis=0), params,
                   np.random.default_rng(11)).astype(np.float32).mean(axis=0)
    levels = expected_levels(params, 4, np.random.default_rng(12))
    ramp = np.take_along_axis(levels, background.reshape(-1, 3).astype(np.intp),
                              axis=0).reshape(many.shape)
    rms = float(np.sqrt(np.mean((memory - many) ** 2)))
    assert rms < 0.5 * float(np.sqrt(np.mean((ramp - many) ** 2)))
    assert confidence[0, 0] == pytest.approx(128 / 132)  # trusted for N, whatever it was drawn from


def test_a_stale_region_is_not_trusted_and_young_memories_are_trusted_less():
    background, masks = scene()
    stale = MemoryViewConfig(absent=0.0, stale=1.0, wrong=0.0, frames=(8, 8))
    _, confidence = memory_view(background, np.zeros_like(masks), EQ6, stale,
                                np.random.default_rng(9))
    assert 0 < (confidence == 0).mean() < 0.5
    assert confidence.max() == pytest.approx(8 / 12)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="frames"):
        MemoryViewConfig(frames=(10, 5))
    with pytest.raises(ValueError, match="absent"):
        MemoryViewConfig(absent=1.5)
    with pytest.raises(ValueError, match="real_frames"):
        MemoryViewConfig(real_frames=0)
