"""Low-light degradation: the paper's Eq. 6 and an extended, physically based camera model.

Eq. 6 (the default):  I_low = Q(I / S + N), with N ~ Gaussian(0, sigma) per pixel and channel,
and Q rounding to the nearest 8-bit level (values clipped to [0, 255]). S is drawn per sequence
from S_VALUES (service/frames/exposure.py, {20, 22, 25, 28, 30}); every frame of a sequence
shares S but gets its own noise.

Extended model, in the order a camera applies it (all levels are 8-bit levels of the dark image):
1. exposure motion blur: the renderer averages sub-frames while the shutter is open
   (``exposure`` = open fraction of the frame interval; 0 means a sharp frame);
2. illuminant/sensor colour shift: channel c is multiplied by ``channel_gain[c]``;
3. shot noise: ``Poisson(signal * electrons_per_level) / electrons_per_level``;
4. read noise: Gaussian with std ``read_noise``;
5. Q: rounding to 8 bits;
6. JPEG compression at ``jpeg_quality`` (0 = none).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np

from nightowl.service.frames.exposure import S_VALUES

NoiseModel = Literal["eq6", "extended"]


@dataclass(frozen=True)
class NoiseConfig:
    """Ranges from which each sequence's degradation is drawn."""

    model: NoiseModel = "eq6"
    s_values: tuple[float, ...] = S_VALUES  # darkening factor S, drawn uniformly
    sigma: float = 2.0  # eq6: std of N, in 8-bit levels of the dark image
    electrons_per_level: tuple[float, float] = (2.0, 8.0)  # extended: fewer = more shot noise
    read_noise: tuple[float, float] = (0.8, 2.5)  # extended: std, 8-bit levels
    channel_gain: tuple[float, float] = (0.75, 1.25)  # extended: per-channel gain range
    motion_blur_probability: float = 0.5  # extended: sequences shot with exposure blur
    exposure: tuple[float, float] = (0.3, 0.9)  # extended: shutter-open fraction when blurred
    jpeg_probability: float = 0.5  # extended: sequences JPEG-compressed
    jpeg_quality: tuple[int, int] = (35, 90)  # extended: JPEG quality range

    def __post_init__(self) -> None:
        if self.model not in ("eq6", "extended"):
            raise ValueError(f"noise model must be 'eq6' or 'extended', got {self.model!r}")
        if not self.s_values or min(self.s_values) <= 1:
            raise ValueError(f"S values must be > 1, got {self.s_values}")
        if self.sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma}")


@dataclass(frozen=True)
class NoiseParams:
    """The degradation actually applied to one sequence (written to its JSON)."""

    model: NoiseModel
    s: float
    sigma: float = 0.0
    electrons_per_level: float = 0.0
    read_noise: float = 0.0
    channel_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: float = 0.0
    jpeg_quality: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def draw_noise(config: NoiseConfig, rng: np.random.Generator) -> NoiseParams:
    """Draw one sequence's degradation parameters."""
    s = float(config.s_values[int(rng.integers(len(config.s_values)))])
    if config.model == "eq6":
        return NoiseParams(model="eq6", s=s, sigma=config.sigma)
    exposure = (float(rng.uniform(*config.exposure))
                if rng.random() < config.motion_blur_probability else 0.0)
    quality = (int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
               if rng.random() < config.jpeg_probability else 0)
    gain = rng.uniform(*config.channel_gain, size=3)
    return NoiseParams(model="extended", s=s,
                       electrons_per_level=float(rng.uniform(*config.electrons_per_level)),
                       read_noise=float(rng.uniform(*config.read_noise)),
                       channel_gain=(float(gain[0]), float(gain[1]), float(gain[2])),
                       exposure=exposure, jpeg_quality=quality)


def degrade(frames: np.ndarray, params: NoiseParams, rng: np.random.Generator) -> np.ndarray:
    """Dark, noisy uint8 frames from clean uint8 RGB frames of any leading shape (..., 3)."""
    if params.model == "eq6":
        return eq6(frames, params.s, params.sigma, rng)
    return extended(frames, params, rng)


def eq6(frames: np.ndarray, s: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The paper's Eq. 6: ``Q(I / S + N)`` with Gaussian ``N`` of std ``sigma`` (8-bit levels)."""
    _check_frames(frames)
    signal = frames.astype(np.float32) * np.float32(1.0 / s)
    signal += _gaussian(frames.shape, sigma, rng)
    return _quantise(signal)


def extended(frames: np.ndarray, params: NoiseParams,
             rng: np.random.Generator) -> np.ndarray:
    """Shot + read noise with a colour shift and optional JPEG (see the module docstring).

    Motion blur is not applied here: pass frames rendered with ``exposure`` (``Sequence.blurred``).
    """
    _check_frames(frames)
    gain = np.asarray(params.channel_gain, np.float32) / np.float32(params.s)
    signal = frames.astype(np.float32) * gain
    k = params.electrons_per_level
    signal = rng.poisson(signal * k).astype(np.float32) / np.float32(k)
    signal += _gaussian(frames.shape, params.read_noise, rng)
    low = _quantise(signal)
    if params.jpeg_quality:
        low = _jpeg(low, params.jpeg_quality)
    return low


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB frames of shape (..., H, W, 3), got "
                         f"{frames.dtype} {frames.shape}")


def _gaussian(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise from OpenCV's generator (4x faster than numpy's), seeded from ``rng``."""
    noise = np.empty((int(np.prod(shape[:-1])), shape[-1]), np.float32)
    if sigma == 0:
        noise[:] = 0
    else:
        cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
        cv2.randn(noise, 0.0, float(sigma))
    return noise.reshape(shape)


def _quantise(signal: np.ndarray) -> np.ndarray:
    np.rint(signal, out=signal)
    np.clip(signal, 0, 255, out=signal)
    return signal.astype(np.uint8)


def _jpeg(frames: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(frames)
    flat_in, flat_out = frames.reshape(-1, *frames.shape[-3:]), out.reshape(-1, *frames.shape[-3:])
    for src, dst in zip(flat_in, flat_out, strict=True):
        ok, data = cv2.imencode(".jpg", src[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        dst[:] = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return out
