"""Grey frames as a monochrome IR camera sees them: equal channels, IR-like contrast."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.training.synth.infrared import infrared, infrared_sequence
from nightowl.training.synth.scenes import SceneConfig, render_sequence


def patch(rgb: tuple[int, int, int], size: int = 64) -> np.ndarray:
    return np.tile(np.asarray(rgb, np.uint8), (size, size, 1))


def test_frames_come_out_grey_on_three_equal_channels():
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    grey = infrared(frames)
    assert grey.shape == frames.shape and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1],
                                                                          grey[..., 2])


def test_contrast_is_not_the_visible_luma():
    centre = (38, 32)  # (y, x) of the beam's brightest point in a 64 x 64 patch
    foliage, blue = infrared(patch((40, 140, 40))), infrared(patch((40, 40, 140)))
    # the same visible luma would make blue much darker than green foliage; IR widens the gap
    # beyond the luma's: foliage is light, blue carries little near-infrared
    luma_ratio = (0.587 * 140 + 0.299 * 40 + 0.114 * 40) / (0.114 * 140 + 0.886 * 40)
    assert foliage[centre][0] / blue[centre][0] > luma_ratio


def test_the_illuminator_lights_the_centre_more_than_the_corners():
    grey = infrared(patch((200, 200, 200)))
    assert grey[38, 32, 0] > grey[0, 0, 0] + 40 and grey[0, 0, 0] > 0


def test_a_sequence_keeps_its_labels():
    sequence = render_sequence(SceneConfig(), np.random.default_rng(3))
    grey = infrared_sequence(sequence)
    assert grey.plates == sequence.plates and np.array_equal(grey.masks, sequence.masks)
    assert grey.clean.shape == sequence.clean.shape
    assert np.array_equal(grey.background[..., 0], grey.background[..., 2])


def test_refuses_frames_that_are_not_8_bit_rgb():
    with pytest.raises(ValueError, match="uint8 RGB"):
        infrared(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        infrared(np.zeros((8, 8, 3), np.float32))
