"""The fixed test set: clean sequences rendered once, degraded at every S by both noise models.

Paired design: sequence i is one scene, and each (noise model, S) condition darkens that same
scene, so differences between conditions are not differences between scenes. The seed is
:data:`TEST_SEED`, a data set seed that no training or validation config uses (they use 1-99
and 900_001-900_099; ``tests/training/evaluation/test_testset.py`` checks the shipped configs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.synth.degrade import NoiseConfig, NoiseParams, degrade, draw_noise
from nightowl.training.synth.scenes import PlateLabel, SceneConfig, Sequence, render_sequence

TEST_SEED = 424_242  # data set seed of the test set; never used to train or validate
NOISE_MODELS: tuple[str, ...] = ("eq6", "extended")


@dataclass
class EvalScene:
    """One clean test sequence and the camera it is shot with under the extended model."""

    index: int
    sequence: Sequence
    extended: NoiseParams  # the extended model's draw (its S is replaced per condition)

    @property
    def plates(self) -> list[PlateLabel]:
        """The plates that are scored: every character visible on frame T."""
        return [p for p in self.sequence.plates if p.readable and p.labels]


def make_scene(index: int, scene: SceneConfig | None = None, seed: int = TEST_SEED
               ) -> EvalScene:
    """Render test sequence ``index`` (the same bytes on every run)."""
    rng = np.random.default_rng([seed, index])
    extended = draw_noise(NoiseConfig(model="extended"), rng)
    sequence = render_sequence(scene or SceneConfig(), rng, exposure=extended.exposure)
    return EvalScene(index=index, sequence=sequence, extended=extended)


def darken(scene: EvalScene, noise: str, s: float, seed: int = TEST_SEED) -> np.ndarray:
    """(T, H, W, 3) uint8 dark frames of ``scene`` under ``noise`` ("eq6" or "extended") at S."""
    if noise not in NOISE_MODELS or s not in S_VALUES:
        raise ValueError(f"noise must be one of {NOISE_MODELS} and S one of {S_VALUES}, got "
                         f"{noise!r} and {s}")
    rng = np.random.default_rng([seed, scene.index, NOISE_MODELS.index(noise), int(s * 10)])
    seq = scene.sequence
    if noise == "eq6":
        params = NoiseParams(model="eq6", s=float(s), sigma=NoiseConfig().sigma)
        return degrade(seq.clean, params, rng)
    source = seq.blurred if seq.blurred is not None else seq.clean
    return degrade(source, replace(scene.extended, s=float(s)), rng)
