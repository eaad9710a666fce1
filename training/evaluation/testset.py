"""The fixed test sets: clean sequences rendered once, degraded at every S by every noise model.

Three splits. *synthetic*: the generator's rendered night streets (``SceneConfig()``), data set
seed :data:`TEST_SEED`. *photo*: relit photographs as static scenes, photo-textured vehicles and
moving photo patches, all from the photographs' "test" split (``training/synth/photos.py``,
split by file hash, so never trained on), seed :data:`PHOTO_SEED`. *mono*: the synthetic
scenes again (sequence i of one is sequence i of the other), seen by a monochrome camera under
an IR illuminator (``training/synth/infrared.py``) with each noise model's mono twin
(``degrade.monochrome``): grey frames on three equal channels, paired with the colour split so
that the two read rates differ only by the camera. No test seed is used by any training or
validation config (they use 1-99 and 900_001-900_099;
``tests/training/evaluation/test_testset.py`` checks the shipped configs).

Paired design: sequence i of a split is one scene, and each (noise model, S) condition darkens
that same scene, so differences between conditions are not differences between scenes. The
extended and sensor cameras are drawn once per scene; each condition replaces only their S.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.synth import photos
from nightowl.training.synth.degrade import (
    NoiseConfig,
    NoiseParams,
    degrade,
    draw_noise,
    monochrome,
)
from nightowl.training.synth.infrared import infrared_sequence
from nightowl.training.synth.scenes import PlateLabel, SceneConfig, Sequence, render_sequence

TEST_SEED = 424_242  # data set seed of the synthetic split; never used to train or validate
PHOTO_SEED = 525_252  # data set seed of the photo split; never used to train or validate
NOISE_MODELS: tuple[str, ...] = ("eq6", "extended", "sensor")


@dataclass(frozen=True)
class TestSplit:
    """A test split: its data set seed and the generator's scene settings."""

    name: str
    seed: int
    scene: SceneConfig
    mono: bool = False  # seen by a monochrome IR camera (grey frames, mono noise)


SPLITS: dict[str, TestSplit] = {
    "synthetic": TestSplit("synthetic", TEST_SEED, SceneConfig()),
    "photo": TestSplit("photo", PHOTO_SEED, SceneConfig(photo_backgrounds=1.0,
                                                        textured_vehicles=0.5,
                                                        photo_patches=(1, 3),
                                                        photo_split="test")),
    "mono": TestSplit("mono", TEST_SEED, SceneConfig(), mono=True),
}


@dataclass
class EvalScene:
    """One clean test sequence and the cameras it is shot with under the drawn noise models."""

    index: int
    sequence: Sequence
    extended: NoiseParams  # the extended model's draw (its S is replaced per condition)
    sensor: NoiseParams  # the sensor model's draw (likewise)
    seed: int = TEST_SEED  # the split's data set seed, which also seeds the noise
    split: str = "synthetic"

    @property
    def plates(self) -> list[PlateLabel]:
        """The plates that are scored: every character visible on frame T."""
        return [p for p in self.sequence.plates if p.readable and p.labels]


def check_split(name: str) -> None:
    """Raise before a run what rendering the split would raise late: an unknown name, or
    ``photos.PhotosUnavailableError`` (naming the install command) when its photographs are
    missing."""
    if name not in SPLITS:
        raise ValueError(f"test split must be one of {', '.join(SPLITS)}, got {name!r}")
    scene = SPLITS[name].scene
    if scene.uses_photos:
        photos.photos_of(scene.photo_split)


def make_scene(index: int, scene: SceneConfig | None = None, seed: int = TEST_SEED,
               split: str = "synthetic") -> EvalScene:
    """Render test sequence ``index`` (the same bytes on every run). The sensor camera is drawn
    after the sequence, so the scene and the extended draw are those of the seed alone."""
    rng = np.random.default_rng([seed, index])
    extended = draw_noise(NoiseConfig(model="extended"), rng)
    sequence = render_sequence(scene or SceneConfig(), rng, exposure=extended.exposure)
    sensor = draw_noise(NoiseConfig(model="sensor"), rng)
    return EvalScene(index=index, sequence=sequence, extended=extended, sensor=sensor,
                     seed=seed, split=split)


def split_scene(split: str, index: int) -> EvalScene:
    """Sequence ``index`` of the named test split."""
    chosen = SPLITS[split]
    scene = make_scene(index, chosen.scene, chosen.seed, split)
    if chosen.mono:
        scene.sequence = infrared_sequence(scene.sequence)
    return scene


# validation twins of the test splits: their scene settings with validation photographs and seeds
# of their own (neither a test seed nor a training config's), for choosing between runs without
# looking at the test set
VALIDATION_SEEDS = {"synthetic": 900_778, "photo": 900_777, "mono": 900_778}


def validation_scene(split: str, index: int) -> EvalScene:
    """Sequence ``index`` of the named test split's validation twin."""
    chosen = SPLITS[split]
    config = chosen.scene
    if config.uses_photos:
        config = replace(config, photo_split="val")
    scene = make_scene(index, config, VALIDATION_SEEDS[split], split)
    if chosen.mono:  # the synthetic twin's scenes, seen grey as the test split is
        scene.sequence = infrared_sequence(scene.sequence)
    return scene


def darken(scene: EvalScene, noise: str, s: float) -> np.ndarray:
    """(T, H, W, 3) uint8 dark frames of ``scene`` under ``noise`` (one of NOISE_MODELS) at S."""
    if noise not in NOISE_MODELS or s not in S_VALUES:
        raise ValueError(f"noise must be one of {NOISE_MODELS} and S one of {S_VALUES}, got "
                         f"{noise!r} and {s}")
    rng = np.random.default_rng([scene.seed, scene.index, NOISE_MODELS.index(noise),
                                 int(s * 10)])
    seq = scene.sequence
    mono = SPLITS[scene.split].mono if scene.split in SPLITS else False
    camera = monochrome if mono else (lambda params: params)
    if noise == "eq6":
        params = NoiseParams(model="eq6", s=float(s), sigma=NoiseConfig().sigma)
        return degrade(seq.clean, camera(params), rng)
    if noise == "sensor":
        return degrade(seq.clean, camera(replace(scene.sensor, s=float(s))), rng)
    source = seq.blurred if seq.blurred is not None else seq.clean
    return degrade(source, camera(replace(scene.extended, s=float(s))), rng)
