"""Training samples: a rendered sequence plus its low-light version, reproducible by seed.

Sample ``index`` of data set ``seed`` is a pure function of the two numbers (and the config):
the same pair gives the same bytes on every run, in any order, in any worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nightowl.training.synth.degrade import NoiseConfig, NoiseParams, degrade, draw_noise
from nightowl.training.synth.infrared import infrared_sequence
from nightowl.training.synth.scenes import SceneConfig, Sequence, render_sequence


@dataclass(frozen=True)
class SampleConfig:
    scene: SceneConfig = field(default_factory=SceneConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)


@dataclass
class Sample:
    """One training/test example: T clean frames, their dark versions, and all labels."""

    sequence: Sequence
    low: np.ndarray  # (T, H, W, 3) uint8, the dark noisy input
    noise: NoiseParams
    seed: int
    index: int


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for sample ``index`` of data set ``seed``."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    return np.random.default_rng([seed, index])


def make_sample(config: SampleConfig, seed: int, index: int) -> Sample:
    """Render and degrade sample ``index`` of data set ``seed`` (seen grey, as a monochrome IR
    camera sees it, when its camera is drawn mono)."""
    rng = sample_rng(seed, index)
    params = draw_noise(config.noise, rng)
    sequence = render_sequence(config.scene, rng, exposure=params.exposure)
    if params.mono:
        sequence = infrared_sequence(sequence)
    source = sequence.blurred if sequence.blurred is not None else sequence.clean
    low = degrade(source, params, rng)
    return Sample(sequence=sequence, low=low, noise=params, seed=seed, index=index)
