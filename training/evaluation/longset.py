"""The long test splits: hundreds of frames per camera, for the background memory.

Two splits, as the short ones (``testset.py``): *long*, rendered night streets (``SceneConfig()``),
seed :data:`LONG_SEED`; *long-photo*, relit photographs of the "test" split with
photo-textured vehicles, seed :data:`LONG_PHOTO_SEED`. Neither seed is used by any training or
validation config. Each sequence (``synth/long_scenes.py``) has traffic driving through now and
then, a light that drifts, and a car that parks and later leaves. Each (noise model, S)
condition darkens the same clean sequence; the extended and sensor cameras are drawn once per
sequence and only their S is replaced, as in the short splits. The extended model's exposure
blur is left out (vehicles are composed at whole frames only).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.evaluation.testset import NOISE_MODELS, TestSplit
from nightowl.training.synth import photos
from nightowl.training.synth.degrade import NoiseConfig, NoiseParams, degrade, draw_noise
from nightowl.training.synth.long_scenes import LongConfig, LongSequence, render_long
from nightowl.training.synth.scenes import SceneConfig

LONG_SEED = 626_262  # data set seed of the long synthetic split; never trained or validated on
LONG_PHOTO_SEED = 727_272  # the long photo split's
LONG_SPLITS: dict[str, TestSplit] = {
    "long": TestSplit("long", LONG_SEED, SceneConfig()),
    "long-photo": TestSplit("long-photo", LONG_PHOTO_SEED,
                            SceneConfig(photo_backgrounds=1.0, textured_vehicles=0.5,
                                        photo_split="test")),
}


def check_long_split(name: str) -> None:
    """Raise before a run: an unknown name, or missing photographs (naming the install)."""
    if name not in LONG_SPLITS:
        raise ValueError(f"long test split must be one of {', '.join(LONG_SPLITS)}, got "
                         f"{name!r}")
    scene = LONG_SPLITS[name].scene
    if scene.uses_photos:
        photos.photos_of(scene.photo_split)


def long_scene(split: str, index: int, frames: int) -> tuple[LongSequence, NoiseParams,
                                                             NoiseParams]:
    """Sequence ``index`` of a long split (``frames`` long; the same bytes on every run) and
    its extended and sensor cameras."""
    chosen = LONG_SPLITS[split]
    rng = np.random.default_rng([chosen.seed, index])
    extended = replace(draw_noise(NoiseConfig(model="extended"), rng), exposure=0.0)
    sequence = render_long(LongConfig(frames=frames, scene=chosen.scene), rng)
    sensor = draw_noise(NoiseConfig(model="sensor"), rng)
    return sequence, extended, sensor


def darken_long(split: str, index: int, sequence: LongSequence, cameras: tuple[NoiseParams,
                NoiseParams], noise: str, s: float) -> np.ndarray:
    """(F, H, W, 3) uint8 dark frames of a long sequence under ``noise`` at S."""
    if noise not in NOISE_MODELS or s not in S_VALUES:
        raise ValueError(f"noise must be one of {NOISE_MODELS} and S one of {S_VALUES}, got "
                         f"{noise!r} and {s}")
    rng = np.random.default_rng([LONG_SPLITS[split].seed, index, NOISE_MODELS.index(noise),
                                 int(s * 10)])
    if noise == "eq6":
        params = NoiseParams(model="eq6", s=float(s), sigma=NoiseConfig().sigma)
    else:
        params = replace(cameras[0] if noise == "extended" else cameras[1], s=float(s))
    return degrade(sequence.clean, params, rng)
