"""The fixed test sets: seeds no training config uses, paired conditions, the photo split."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from nightowl.training.evaluation import testset
from nightowl.training.evaluation.testset import (
    PHOTO_SEED,
    SPLITS,
    TEST_SEED,
    VALIDATION_SEEDS,
    check_split,
    darken,
    make_scene,
    split_scene,
    validation_scene,
)
from nightowl.training.fit.config import DataConfig
from nightowl.training.synth import photos
from nightowl.training.synth.scenes import SceneConfig

ROOT = Path(__file__).resolve().parents[3]


def test_test_seeds_are_used_by_no_training_config():
    used = {DataConfig().train_seed, DataConfig().val_seed}
    for path in (ROOT / "training" / "configs").glob("*.toml"):
        data = tomllib.loads(path.read_text()).get("data", {})
        used |= {data.get("train_seed"), data.get("val_seed")}
    assert {split.seed for split in SPLITS.values()} == {TEST_SEED, PHOTO_SEED}
    assert not used & {TEST_SEED, PHOTO_SEED}


def test_the_synthetic_split_is_the_default_scene_of_the_test_seed():
    assert SPLITS["synthetic"].scene == SceneConfig() and SPLITS["synthetic"].seed == TEST_SEED
    photo = SPLITS["photo"].scene
    assert photo.photo_split == "test" and photo.photo_backgrounds == 1.0


def test_conditions_share_the_scene_and_differ_in_noise():
    scene = make_scene(0)
    eq6, extended, sensor = (darken(scene, n, 20) for n in ("eq6", "extended", "sensor"))
    assert eq6.shape == extended.shape == sensor.shape == scene.sequence.clean.shape
    assert np.array_equal(darken(make_scene(0), "eq6", 20), eq6)  # reproducible
    assert np.array_equal(darken(make_scene(0), "sensor", 20), sensor)
    assert not np.array_equal(eq6, extended) and not np.array_equal(eq6, sensor)
    assert darken(scene, "eq6", 30).mean() < eq6.mean()  # darker at larger S
    assert darken(scene, "sensor", 30).mean() < sensor.mean()
    assert scene.sensor.model == "sensor"  # one camera per scene, its S replaced


def test_the_photo_split_has_its_own_seed_and_photographs():
    scene = split_scene("photo", 0)
    assert (scene.split, scene.seed) == ("photo", PHOTO_SEED)
    synthetic = split_scene("synthetic", 0)
    assert not np.array_equal(scene.sequence.clean, synthetic.sequence.clean)
    assert not np.array_equal(darken(scene, "eq6", 20), darken(synthetic, "eq6", 20))


def test_a_missing_photo_package_is_named_before_a_run(monkeypatch):
    check_split("synthetic")
    with pytest.raises(ValueError, match="synthetic, photo"):
        check_split("streets")

    def missing(split, share=photos.SHARE):
        raise photos.PhotosUnavailableError(f"no photographs: {photos.INSTALL}")

    monkeypatch.setattr(testset.photos, "photos_of", missing)
    check_split("synthetic")  # needs no photograph
    with pytest.raises(photos.PhotosUnavailableError, match="apt-get install"):
        check_split("photo")


def test_the_mono_split_is_the_synthetic_scenes_seen_grey():
    grey, colour = split_scene("mono", 0), split_scene("synthetic", 0)
    assert (grey.split, grey.seed) == ("mono", TEST_SEED) and SPLITS["mono"].mono
    assert grey.plates == colour.plates  # paired: the same scene, another camera
    clean = grey.sequence.clean
    assert np.array_equal(clean[..., 0], clean[..., 1]) and np.array_equal(clean[..., 0],
                                                                           clean[..., 2])
    for noise in testset.NOISE_MODELS:
        low = darken(grey, noise, 25)
        assert np.array_equal(low[..., 0], low[..., 2]), noise  # a grey camera's frames
        assert np.array_equal(darken(split_scene("mono", 0), noise, 25), low)  # reproducible
        assert abs(float(low.mean()) - float(clean.mean()) / 25) < 1.0, noise


def test_validation_twins_use_seeds_of_their_own_and_see_mono_grey():
    assert not set(VALIDATION_SEEDS.values()) & {TEST_SEED, PHOTO_SEED}
    twin, test = validation_scene("synthetic", 0), split_scene("synthetic", 0)
    assert twin.seed == VALIDATION_SEEDS["synthetic"] and test.seed == TEST_SEED
    assert not np.array_equal(twin.sequence.clean, test.sequence.clean)
    grey = validation_scene("mono", 0).sequence.clean
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
