"""The one PSNR, SSIM and colour error: known values, masks, and per-item PSNR."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.service.frames.quality import colour_error, psnr, psnr_each, ssim


def test_psnr_of_a_known_error():
    target = np.zeros((8, 8, 3), np.float32)
    assert psnr(target + 0.1, target) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert psnr(target, target) == pytest.approx(100.0)  # capped at an MSE of 1e-10


def test_psnr_over_a_mask_counts_only_its_pixels():
    target = np.zeros((4, 4, 3), np.float32)
    output = target.copy()
    output[0, 0] = 1.0  # one wrong pixel, outside the mask
    mask = np.zeros((4, 4), bool)
    mask[2:, 2:] = True
    assert psnr(output, target, mask) == pytest.approx(100.0)
    assert psnr(output, target, np.zeros((4, 4), bool)) is None
    assert psnr(output, target) < 20


def test_psnr_each_scores_every_item_alone():
    reference = np.zeros((3, 2, 4, 4), np.float32)
    output = reference + np.array([0.1, 0.01, 0.0], np.float32)[:, None, None, None]
    assert np.allclose(psnr_each(output, reference), [20.0, 40.0, 100.0], atol=1e-3)


def test_ssim_is_one_on_equal_images_and_falls_with_noise():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32, 3)).astype(np.float32)
    noisy = np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1).astype(np.float32)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(noisy, image) < 0.9


def test_colour_error_measures_block_means_in_8_bit_levels():
    target = np.full((32, 48, 3), 0.5, np.float32)
    shifted = target.copy()
    shifted[..., 0] += 30 / 255  # red 30 levels brighter: 10 levels averaged over channels
    assert colour_error(shifted, target) == pytest.approx(10.0, abs=1e-3)
    assert colour_error(target, target) == 0.0
    rng = np.random.default_rng(0)
    checker = target + np.where(rng.random(target.shape) < 0.5, 0.1, -0.1).astype(np.float32)
    assert colour_error(checker, target) < 2.0  # noise that averages out within blocks
    assert colour_error(checker, target, block=1) == pytest.approx(25.5, abs=1e-3)
    with pytest.raises(ValueError, match="at least 16"):
        colour_error(target[:8], target[:8])
