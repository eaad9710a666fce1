"""What a camera's background memory would hold for a training sample, simulated.

The server keeps, per camera, the mean of the dark frames where nothing moved
(``service/frames/background.py``) and a confidence per pixel, N / (N + T) after N frames
(0 while young, changed, moving, or near a changed pixel). A network that takes the memory as
extra input (``EnhancerConfig.memory``) is trained on this view of it, drawn per sample:

- the generator's clean static scene (``Sequence.background``: no vehicles) under the sample's
  own camera, with the noise of an N-frame mean, N log-uniform in FRAMES:
  - a camera with a codec or a Bayer mosaic: the mean of min(N, ``real_frames``) real dark
    frames of the scene, shot as one clip. Their deterministic loss of texture (the codec's
    quantisation, the demosaic's interpolation) is what the server's mean of real frames
    keeps; a view drawn from fewer frames would shrink it away with the noise. Beyond
    ``real_frames`` the view keeps that many frames' noise: a little noisier than the server's
    memory, never cleaner;
  - any other camera: each level's mean through ``degrade``, read off a ramp (this keeps the
    clipping of noise at 0 and the camera's colour gains, which the server's mean holds too),
    plus T real dark frames' difference from it shrunk by sqrt(T / N);
- confidence N / (N + T), 0 on and within ``margin`` px of any frame's moving objects (the
  server's tests find them changed), and on a stale region of the memory (a vehicle that has
  left or one that stays, which the server finds changed until the candidate joins);
- light the memory has not followed yet (a small gain on it), and now and then a memory of a
  slightly different view kept at full confidence (a scene change the server missed), so the
  network learns to check the memory against the frames;
- no memory at all (zeros, confidence 0) in ``absent`` of the samples: a camera's first
  frames, or a request without one, are served as by a network without memory.

Why real frames under a codec or a mosaic: with the ramp's view there, the server's mean of
real frames sat 0.4-0.6 levels RMS from the simulated memory at S = 25 under the sensor model
with JPEG (0.15-0.2, the noise alone, under Eq. 6), and a network trained on it trusted such
a memory too much (bench/README.md, "Background memory").
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import cv2
import numpy as np

from nightowl.service.frames.background import MemoryConfig
from nightowl.training.synth.degrade import NoiseParams, degrade

_SERVED = MemoryConfig()  # the server's memory, whose defaults the view follows
RAMP_ROWS = 64  # rows of the ramp each level's expected dark value is averaged over (x T)


@dataclass(frozen=True)
class MemoryViewConfig:
    absent: float = 0.2  # samples without memory (confidence 0 everywhere)
    frames: tuple[int, int] = (5, 512)  # N, frames in the memory's mean, drawn log-uniform
    window: int = _SERVED.window  # T: confidence N / (N + T), as the server's memory
    max_frames: int = _SERVED.max_frames  # the server's mean stops growing here
    margin: int = _SERVED.margin  # px around moving objects without confidence
    stale: float = 0.3  # samples with a stale region (confidence 0 there)
    drift: float = 0.03  # light change the memory has not followed, up to this (half the samples)
    wrong: float = 0.05  # samples whose memory is of a shifted view, at full confidence
    real_frames: int = 16  # codec or mosaic: the memory is the mean of up to this many frames

    def __post_init__(self) -> None:
        if not 1 <= self.frames[0] <= self.frames[1]:
            raise ValueError(f"frames must be 1 <= low <= high, got {self.frames}")
        if self.real_frames < 1:
            raise ValueError(f"real_frames must be >= 1, got {self.real_frames}")
        for name in ("absent", "stale", "wrong"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def expected_levels(params: NoiseParams, frames: int, rng: np.random.Generator) -> np.ndarray:
    """(256, 3) float32: the mean dark level of each clean level (0-255) per channel under
    ``params``, averaged over a ramp of ``frames`` x RAMP_ROWS dark pixels per level and
    smoothed over neighbouring levels (the curve is smooth; the average is not)."""
    ramp = np.broadcast_to(np.arange(256, dtype=np.uint8)[None, None, :, None],
                           (frames, RAMP_ROWS, 256, 3)).copy()
    means = degrade(ramp, params, rng).astype(np.float32).mean(axis=(0, 1))  # (256, 3)
    kernel = np.float32([1, 2, 3, 2, 1]) / 9
    padded = np.pad(means, ((2, 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(3)], axis=1)


def lossy(params: NoiseParams) -> bool:
    """Whether ``params``' camera loses texture deterministically (a codec or a mosaic), so that
    the mean of its frames is not the mean of its levels."""
    return bool(params.jpeg_quality or params.h264_crf or params.demosaic)


def memory_view(background: np.ndarray, masks: np.ndarray, params: NoiseParams,
                config: MemoryViewConfig, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """The memory (H, W, 3) float32 in 8-bit levels of the dark frame and its confidence (H, W)
    float32 in [0, 1) for a sample with clean static scene ``background`` (H, W, 3) uint8,
    moving-object ``masks`` (T, H, W) bool and camera ``params``."""
    height, width = background.shape[:2]
    none = (np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32))
    if rng.random() < config.absent:
        return none
    frames = masks.shape[0]
    low, high = config.frames
    n = round(math.exp(rng.uniform(math.log(low), math.log(high))))
    n_mean = min(n, config.max_frames)  # an exponential average beyond: its noise stays
    if lossy(params):
        real = min(n_mean, config.real_frames)
        clip = np.repeat(background[None], real, axis=0)
        memory = degrade(clip, params, rng).astype(np.float32).mean(axis=0)
    else:
        levels = expected_levels(params, frames, copy.deepcopy(rng))
        expected = np.take_along_axis(levels, background.reshape(-1, 3).astype(np.intp),
                                      axis=0).reshape(height, width, 3)
        dark = degrade(np.repeat(background[None], frames, axis=0), params, rng)
        memory = expected + (dark.astype(np.float32).mean(axis=0) - expected) * np.float32(
            math.sqrt(frames / n_mean))
    confidence = np.full((height, width), n / (n + config.window), np.float32)
    if rng.random() < 0.5:
        memory *= np.float32(1 + rng.uniform(-config.drift, config.drift))
    if rng.random() < config.wrong:
        dy, dx = rng.integers(-12, 13, 2)
        memory = np.roll(memory, (int(dy), int(dx)), axis=(0, 1))
    elif rng.random() < config.stale:
        h, w = (int(rng.uniform(0.15, 0.45) * side) for side in (height, width))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        region = memory[y:y + h, x:x + w]
        region[:] = np.roll(region, (h // 2, w // 3), axis=(0, 1)) * np.float32(
            rng.uniform(0.5, 1.5))
        confidence[max(0, y - config.margin):y + h + config.margin,
                   max(0, x - config.margin):x + w + config.margin] = 0
    moving = masks.any(axis=0).astype(np.uint8)
    if config.margin > 0:
        side = 2 * config.margin + 1
        moving = cv2.dilate(moving, np.ones((side, side), np.uint8))
    confidence[moving > 0] = 0
    return np.maximum(memory, 0).astype(np.float32), confidence
