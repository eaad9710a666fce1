"""A camera's background memory, simulated for a training crop: what the server's running
estimate (``service/frames/background.py``) would hold after N frames, wrong where it would be.

The generator knows the clean static scene (``Sequence.background``): the simulated memory is
the mean of min(N, ``max_average``) frames of it darkened by the sample's own camera (its noise
model, gain, codec), for N drawn log-uniformly in 1..``max_frames``, under a light that has
drifted a little since, and its confidence N / (N + T) where nothing moves (0 on the vehicles of
the T frames, as the flow and the memory's tests make it, and 0 while N <= T). Some crops get a
memory that is wrong in a patch (a car that parked since, or the road a car left: other content
of the scene) or everywhere (just after a scene change), trusted on a share of those pixels as a
running estimate fails to notice some of them, so that the network learns to fall back on the 4
frames where the memory disagrees with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from nightowl.training.synth.degrade import degrade
from nightowl.training.synth.samples import Sample


@dataclass(frozen=True)
class MemorySimulation:
    """How often and how a training crop gets a simulated memory."""

    probability: float = 0.0  # crops with a memory mixed into their input (0: none, as before)
    max_frames: int = 256  # N is drawn log-uniformly in 1..max_frames
    max_average: int = 24  # frames actually darkened and averaged (older ones add little)
    window: int = 4  # T: confidence N / (N + T), 0 while N <= T
    drift: float = 0.04  # the light changed by up to this fraction since the memory learnt it
    wrong_probability: float = 0.25  # crops whose memory is wrong in a patch (parked / left)
    cut_probability: float = 0.05  # crops whose memory is of another scene
    missed: float = 0.3  # share of wrong pixels the memory still trusts

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1 or self.max_frames < 1 or self.max_average < 1:
            raise ValueError(f"probability must be in [0, 1], max_frames and max_average >= 1, "
                             f"got {self.probability}, {self.max_frames}, {self.max_average}")


def simulate(sample: Sample, window: tuple[slice, slice], config: MemorySimulation,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """(background (h, w, 3) float32 in dark levels, confidence (h, w) float32) of the crop
    ``window`` of ``sample``, or None when this crop gets no memory."""
    if rng.random() >= config.probability:
        return None
    n = int(np.exp(rng.uniform(0, np.log(config.max_frames))))
    if n <= config.window:
        return None
    seq = sample.sequence
    static = seq.background[window]
    frames = np.repeat(static[None], min(n, config.max_average), axis=0)
    background = degrade(frames, sample.noise, rng).astype(np.float32).mean(axis=0)
    background *= np.float32(1 + rng.uniform(-config.drift, config.drift))
    confidence = np.full(static.shape[:2], n / (n + config.window), np.float32)
    moving = cv2.dilate(seq.masks[:, window[0], window[1]].any(axis=0).astype(np.uint8),
                        np.ones((5, 5), np.uint8)) > 0
    confidence[moving] = 0
    wrong = _wrong(background, rng, config)
    if wrong is not None:
        confidence[wrong & (rng.random(wrong.shape) >= config.missed)] = 0
    return background, confidence


def _wrong(background: np.ndarray, rng: np.random.Generator,
           config: MemorySimulation) -> np.ndarray | None:
    """Make part of ``background`` (in place) show something that is not there any more;
    returns where, or None."""
    height, width = background.shape[:2]
    draw = rng.random()
    if draw < config.cut_probability:  # another scene: the crop mirrored and turned over
        background[:] = background[::-1, ::-1].copy()
        return np.ones((height, width), bool)
    if draw >= config.cut_probability + config.wrong_probability:
        return None
    h = int(rng.uniform(0.2, 0.6) * height)
    w = int(rng.uniform(0.2, 0.6) * width)
    y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    sy, sx = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    patch = background[sy:sy + h, sx:sx + w][::-1].copy()  # other content of the scene
    background[y:y + h, x:x + w] = patch * np.float32(rng.uniform(0.5, 1.5))
    wrong = np.zeros((height, width), bool)
    wrong[y:y + h, x:x + w] = True
    return wrong
