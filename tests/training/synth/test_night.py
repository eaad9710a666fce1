"""Relighting a photograph for night: auto-exposed, lit unevenly, colours kept plausible."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.training.synth import night, photos


def test_relit_scenes_are_auto_exposed_to_the_meter():
    meters = []
    for index in range(12):
        rng = np.random.default_rng([7, index])
        scene = night.relight(photos.random_crop(rng, "train", 128, 96), rng)
        assert scene.shape == (96, 128, 3) and scene.dtype == np.float32
        meters.append(night.AE_TARGET / night.exposure_factor(scene))
    # on the target, or a little under it where the scaling clipped bright channels
    assert all(0.85 * night.AE_TARGET <= m <= night.AE_TARGET * 1.001 for m in meters)
    assert np.median(meters) == pytest.approx(night.AE_TARGET, rel=0.03)


def test_auto_exposure_hits_the_target_when_nothing_clips():
    ramp = np.linspace(0.0, 0.05, 64, dtype=np.float32)  # a dim gradient: nothing clips
    image = np.repeat(ramp[None, :, None], 64, axis=0).repeat(3, axis=2)
    exposed = night.auto_expose(image)
    assert night.AE_TARGET / night.exposure_factor(exposed) == pytest.approx(night.AE_TARGET,
                                                                             rel=1e-3)


def test_lamps_light_the_scene_unevenly():
    photo = np.full((96, 128, 3), 0.5, np.float32)  # a flat grey wall
    scene = night.relight(photo, np.random.default_rng(3))
    luma = night.luminance(scene)
    assert luma.max() > 1.5 * np.percentile(luma, 10)


def test_srgb_round_trip():
    values = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.allclose(night.to_srgb(night.to_linear(values)), values, atol=1e-5)
