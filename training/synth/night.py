"""Relighting a daylight photograph as the static scene of a fixed camera at night.

In linear light (sRGB decoded), the photograph's albedo is lit by a dim ambient light plus 1-3
street lamps (each a warm or cool pool of light), falls off in exposure towards one edge, is
vignetted by the lens, and sometimes carries a headlight's glare; then it is encoded back to
sRGB. Last, the frame is exposed as an auto-exposure camera would expose it: scaled so that the
AE_PERCENTILE-th percentile of its 4x4 block-mean luminance sits at AE_TARGET of full scale.
That exposure is the truth a dark frame is S times darker than, which is what makes S readable
from a frame of a real scene (``nightowl.service.frames.exposure``). The generator meters
again once the vehicles are in the frame (``scenes.render_sequence``), as a camera meters what
it sees.
"""

from __future__ import annotations

import numpy as np

# the auto-exposure meter (AE_PERCENTILE of block luminance at AE_TARGET of full scale) is the
# service's, whose gain estimate reads frames exposed so
from nightowl.service.frames.exposure import AE_PERCENTILE, AE_TARGET, BLOCK, LUMA

# lamp colours in linear RGB (relative): low-pressure sodium, high-pressure sodium, warm LED,
# cool LED, metal halide
LAMP_COLOURS = np.array([[1.0, 0.55, 0.12], [1.0, 0.72, 0.42], [1.0, 0.86, 0.68],
                         [0.82, 0.9, 1.0], [0.95, 0.97, 1.0]], np.float32)


def to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4
                    ).astype(np.float32)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def relight(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32 sRGB daylight photo in [0, 1] -> the same scene at night, exposed by
    :func:`auto_expose`, float32 sRGB in [0, 1]."""
    height, width = photo.shape[:2]
    albedo = to_linear(photo)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = np.zeros((height, width, 3), np.float32)
    ambient = LAMP_COLOURS[int(rng.integers(len(LAMP_COLOURS)))] * rng.uniform(0.05, 0.35)
    light += ambient
    diagonal = float(np.hypot(width, height))
    for _ in range(int(rng.integers(1, 4))):
        colour = LAMP_COLOURS[int(rng.integers(len(LAMP_COLOURS)))]
        cx, cy = rng.uniform(-0.2, 1.2) * width, rng.uniform(-0.2, 1.0) * height
        radius = rng.uniform(0.15, 0.6) * diagonal
        pool = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2))
        light += pool[..., None] * colour * rng.uniform(0.5, 1.5)
    # exposure fall-off towards one edge (a scene lit from one side, the far end of a street)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle))
    light *= np.exp(rng.uniform(0, 1.6) * ramp)[..., None]
    # lens vignetting: cos^4 of the field angle
    focal = rng.uniform(0.8, 1.6) * diagonal / 2
    r2 = ((xs - width / 2) ** 2 + (ys - height / 2) ** 2) / focal**2
    light *= (1.0 / (1.0 + r2) ** 2)[..., None]
    lit = albedo * light
    if rng.random() < 0.3:
        lit += _glare(rng, xs, ys, diagonal)
    return auto_expose(to_srgb(lit / max(float(np.percentile(lit, 99.5)), 1e-6) * 0.9))


def _glare(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray,
           diagonal: float) -> np.ndarray:
    """A headlight's glare: a saturating core with a soft halo, additive in linear light."""
    height, width = xs.shape
    cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.3, 0.95) * height
    core = rng.uniform(0.004, 0.015) * diagonal
    d2 = (xs - cx) ** 2 + (ys - cy) ** 2
    halo = 2.0 * np.exp(-d2 / (2 * core**2)) + 0.25 * np.exp(-d2 / (2 * (6 * core) ** 2))
    colour = np.array([1.0, 0.97, 0.9], np.float32)
    return halo[..., None].astype(np.float32) * colour * rng.uniform(0.3, 1.0)


def luminance(image: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (...) Rec. 709 luma of the encoded values."""
    return image @ LUMA


def exposure_factor(image: np.ndarray) -> float:
    """The factor that brings a float RGB frame's meter to AE_TARGET. The meter is block
    metering, as cameras do it: the AE_PERCENTILE-th percentile of the luminance of its
    BLOCK x BLOCK block means (values clipped to full scale, as a sensor clips)."""
    height, width = image.shape[0] // BLOCK * BLOCK, image.shape[1] // BLOCK * BLOCK
    clipped = np.clip(image[:height, :width], 0, 1)
    blocks = clipped.reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK, 3).mean(axis=(1, 3))
    meter = float(np.percentile(blocks @ LUMA, AE_PERCENTILE))
    return AE_TARGET / max(meter, 1e-4)


def auto_expose(image: np.ndarray) -> np.ndarray:
    """Scale a float RGB frame so that its meter (:func:`exposure_factor`) reads AE_TARGET."""
    return np.clip(image * np.float32(exposure_factor(image)), 0, 1).astype(np.float32)

