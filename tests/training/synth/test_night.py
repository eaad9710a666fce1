"""Relighting a photograph for night: auto-exposed, lit unevenly, colours kept plausible."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.training.synth import night, photos


def test_relit_scenes_are_auto_exposed_to_the_meter():
    for index in range(6):
        rng = np.random.default_rng([7, index])
        scene = night.relight(photos.random_crop(rng, "train", 128, 96), rng)
        meter = night.AE_TARGET / night.exposure_factor(scene)
        assert scene.shape == (96, 128, 3) and scene.dtype == np.float32
        # a little under the target where the scaling clips a bright channel
        assert meter == pytest.approx(night.AE_TARGET, rel=0.06)


def test_lamps_light_the_scene_unevenly():
    photo = np.full((96, 128, 3), 0.5, np.float32)  # a flat grey wall
    scene = night.relight(photo, np.random.default_rng(3))
    luma = night.luminance(scene)
    assert luma.max() > 1.5 * np.percentile(luma, 10)


def test_srgb_round_trip():
    values = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.allclose(night.to_srgb(night.to_linear(values)), values, atol=1e-5)
